/*
 * libFuzzer target: provd's request-body validation (api_parse_domain,
 * api_parse_subscriber, api_parse_password, api_parse_alias, api_parse_did,
 * api_parse_server_group, api_parse_server, api_parse_dial_plan,
 * api_parse_dial_entry, api_parse_feature with its settings; and the web-login bodies of body_login,
 * body_account, body_web_password, body_own_password, body_api_token; provisioning/validate.h),
 * the code that sees untrusted JSON first (a login's body comes from
 * anyone, before any authentication).
 *
 * Input: 1 selector byte (low 2 bits: 0 domain, 1 subscriber, 2 password,
 * 3 one of the later bodies, chosen by bits 3-5: 0 alias, 1 DID, 2 server
 * group, 3 server, 4 dial plan, 5 and 6 dial plan entry, 7 a feature
 * subscription (api_parse_feature: the next byte modulo the number of
 * kinds is the feature kind, whose settings feature/settings.c validates,
 * a raw cpl script being compiled); with bit 7 set,
 * a web-login body instead, by bits 3-5: 0 login, 1 account, 2 an
 * account's password, 3 and 5-7 one's own password change, 4 an API
 * token; bit 2: a create
 * rather than a patch), then the body. Properties
 * (__builtin_trap when broken):
 *
 *  - the result is 0, or -1 with a problem of status 400, 413 or 422, a
 *    title and a one-line detail;
 *  - an accepted body holds only valid values: NUL-terminated strings
 *    that pass the field checks, and at least the required members;
 *  - an accepted feature subscription has parsed settings of its kind
 *    exactly when the body has a settings member, a group_id > 0 when
 *    it has one, and a summary that is a JSON object;
 *  - an accepted web password meets the policy (10 characters, 1024
 *    bytes), an accepted account's role and subscriber_id agree, and the
 *    summary of an accepted body (what the audit log keeps) has no
 *    password member;
 *  - nothing leaks (LeakSanitizer), whatever the bytes.
 */
#include <regex.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "feature/settings.h"
#include "provisioning/api.h"
#include "provisioning/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_problem(int rc, const struct problem *p)
{
	if (rc == 0)
		return;
	CHECK(rc == -1);
	CHECK(p->status == 400 || p->status == 413 || p->status == 422);
	CHECK(p->title[0]);
	CHECK(memchr(p->title, 0, sizeof(p->title)));
	CHECK(memchr(p->detail, 0, sizeof(p->detail)));
}

/* The summary of an accepted body (what the audit log keeps) names no
 * secret member; a secret's text may still appear inside another member
 * (a login that happens to contain the password). */
static void check_summary(const struct body_spec *spec, const void *in)
{
	char *sum = api_summary(spec, in);
	CHECK(sum);
	json_t *o = json_loads(sum, 0, NULL);
	CHECK(json_is_object(o));
	for (const struct field_spec *f = spec->fields; f->name; f++)
		if (f->flags & FIELD_SECRET)
			CHECK(!json_object_get(o, f->name));
	json_decref(o);
	free(sum);
}

static void web_bodies(unsigned which, bool create, const char *text, size_t len, struct problem *p)
{
	int rc;
	switch (which) {
	case 0: {
		struct login_in l;
		rc = body_parse(&body_login, text, len, true, &l, p);
		check_problem(rc, p);
		if (rc == 0)
			CHECK((l.has & (IN_LOGIN | IN_PASSWORD)) == (IN_LOGIN | IN_PASSWORD) &&
			      memchr(l.login, 0, sizeof(l.login)) && memchr(l.password, 0, sizeof(l.password)));
		break;
	}
	case 1: {
		struct account_in a;
		rc = body_parse(&body_account, text, len, create, &a, p);
		check_problem(rc, p);
		if (rc == 0 && create) {
			CHECK(valid_login(a.login) && !web_password_policy(a.password));
			CHECK(!strcmp(a.role, "admin") ? a.subscriber_id == 0 :
			      !strcmp(a.role, "subscriber") && a.subscriber_id > 0);
			check_summary(&body_account, &a);
		} else if (rc == 0) {
			CHECK(a.has == IN_ENABLED);
		}
		break;
	}
	case 2: {
		struct web_password_in w;
		rc = body_parse(&body_web_password, text, len, true, &w, p);
		check_problem(rc, p);
		if (rc == 0)
			CHECK(!web_password_policy(w.password));
		break;
	}
	case 4: {
		struct api_token_in t;
		rc = body_parse(&body_api_token, text, len, create, &t, p);
		check_problem(rc, p);
		if (rc == 0 && create) {
			CHECK(valid_login(t.name) && t.valid_days >= 0 && t.valid_days <= 3650);
			check_summary(&body_api_token, &t);
		} else if (rc == 0) {
			CHECK(t.has == IN_ENABLED);
		}
		break;
	}
	default: {
		struct own_password_in o;
		rc = body_parse(&body_own_password, text, len, true, &o, p);
		check_problem(rc, p);
		if (rc == 0) {
			CHECK(!web_password_policy(o.new_password));
			check_summary(&body_own_password, &o);
		}
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned sel = data[0];
	bool create = sel & 4;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	struct problem p;
	memset(&p, 0, sizeof(p));
	switch (sel & 3) {
	case 0: {
		struct domain_in d;
		int rc = api_parse_domain(text, len, create, &d, &p);
		check_problem(rc, &p);
		if (rc == 0) {
			if (create)
				CHECK((d.has & IN_NAME) && valid_domain_name(d.name));
			if (d.has & IN_REALM)
				CHECK(valid_realm(d.realm));
			CHECK(d.has);
		}
		break;
	}
	case 1: {
		struct subscriber_in s;
		int rc = api_parse_subscriber(text, len, create, &s, &p);
		check_problem(rc, &p);
		if (rc == 0) {
			if (create)
				CHECK(s.domain_id > 0 && valid_user_part(s.user_part));
			CHECK(memchr(s.display_name, 0, sizeof(s.display_name)));
			CHECK(!strcmp(s.auth_kind, "none") || !strcmp(s.auth_kind, "ip") ||
			      !strcmp(s.auth_kind, "digest"));
			CHECK(s.has);
		}
		break;
	}
	case 3:
		if (sel & 0x80) {
			web_bodies((sel >> 3) & 7, create, text, len, &p);
			break;
		}
		switch ((sel >> 3) & 7) {
		case 0: {
			struct alias_in a;
			int rc = api_parse_alias(text, len, &a, &p);
			check_problem(rc, &p);
			if (rc == 0)
				CHECK(a.domain_id >= 0 && valid_user_part(a.user_part));
			break;
		}
		case 2: {
			struct server_group_in g;
			int rc = api_parse_server_group(text, len, create, &g, &p);
			check_problem(rc, &p);
			if (rc == 0) {
				if (create)
					CHECK((g.has & IN_NAME) && (g.has & IN_KIND) &&
					      valid_server_kind(g.kind));
				if (g.has & IN_NAME)
					CHECK(valid_group_name(g.name));
				CHECK(!(g.has & IN_KIND) || create);
				CHECK(memchr(g.description, 0, sizeof(g.description)));
				CHECK(g.has);
			}
			break;
		}
		case 1: {
			struct did_in n;
			int rc = api_parse_did(text, len, &n, &p);
			check_problem(rc, &p);
			if (rc == 0)
				CHECK(valid_e164(n.number));
			break;
		}
		case 4: {
			struct dial_plan_in d;
			int rc = api_parse_dial_plan(text, len, create, &d, &p);
			check_problem(rc, &p);
			if (rc == 0) {
				if (create)
					CHECK(d.has & IN_NAME);
				if (d.has & IN_NAME)
					CHECK(valid_group_name(d.name));
				CHECK(memchr(d.description, 0, sizeof(d.description)));
				CHECK(d.has);
			}
			break;
		}
		case 7: {
			if (len < 1)
				break;
			int kind = (int)((unsigned char)text[0] % FEATURE_KINDS);
			struct feature_in f;
			struct feature_settings *set = NULL;
			int rc = api_parse_feature(text + 1, len - 1, kind, &f, &set, &p);
			check_problem(rc, &p);
			if (rc == 0) {
				CHECK(!!set == !!(f.has & IN_SETTINGS) && !!f.settings == !!set);
				CHECK(!set || (int)set->kind == kind);
				CHECK(!(f.has & IN_GROUP_ID) || f.group_id > 0);
				check_summary(&body_feature, &f);
				feature_settings_free(set);
				body_release(&body_feature, &f);
			} else {
				CHECK(!set);
			}
			break;
		}
		case 5:
		case 6: {
			struct dial_entry_in e;
			int rc = api_parse_dial_entry(text, len, create, &e, &p);
			check_problem(rc, &p);
			if (rc == 0) {
				if (create)
					CHECK((e.has & (IN_POSITION | IN_PATTERN | IN_TEMPLATE)) ==
					      (IN_POSITION | IN_PATTERN | IN_TEMPLATE));
				CHECK(e.position >= 0);
				if (e.has & IN_PATTERN) {
					regex_t re;
					CHECK(e.pattern[0] && regcomp(&re, e.pattern, REG_EXTENDED) == 0);
					regfree(&re);
				}
				if (e.has & IN_TEMPLATE)
					CHECK(valid_contact_template(e.contact_template));
				CHECK(e.has);
			}
			break;
		}
		case 3: {
			struct server_in v;
			int rc = api_parse_server(text, len, create, &v, &p);
			check_problem(rc, &p);
			if (rc == 0) {
				if (create)
					CHECK(v.has & IN_HOST);
				if (create || (v.has & IN_HOST))
					CHECK(valid_host(v.host));
				CHECK(v.port >= 1 && v.port <= 65535 && v.priority >= 0 &&
				      v.priority <= 65535 && v.weight >= 0 && v.weight <= 65535);
				CHECK(valid_transport(v.transport));
				CHECK(v.has);
			}
			break;
		}
		}
		break;
	default: {
		struct password_in pw;
		int rc = api_parse_password(text, len, &pw, &p);
		check_problem(rc, &p);
		if (rc == 0)
			CHECK(pw.password[0] && memchr(pw.password, 0, sizeof(pw.password)));
		break;
	}
	}
	return 0;
}
