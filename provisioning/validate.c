/* Request-body validation of the provisioning API (validate.h). */
#include "provisioning/validate.h"

#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "feature/settings.h"
#include "regex_guard.h"

int problem_set(struct problem *p, int status, const char *title, const char *fmt, ...)
{
	va_list ap;
	p->status = status;
	snprintf(p->title, sizeof(p->title), "%s", title);
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
	return -1;
}

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 1035 labels, lower case, as the domains.name CHECK. */
bool valid_domain_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	const char *label = s;
	for (const char *c = s;; c++) {
		if (*c == '.' || *c == 0) {
			size_t l = (size_t)(c - label);
			if (l == 0 || l > 63 || !is_alnum_lower(label[0]) || !is_alnum_lower(c[-1]))
				return false;
			if (*c == 0)
				return true;
			label = c + 1;
		} else if (!is_alnum_lower(*c) && *c != '-') {
			return false;
		}
	}
}

/* Printable ASCII without '"' and '\\' (it goes into a quoted-string),
 * no blank at either end, 1 to 128 bytes. */
bool valid_realm(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (const char *c = s; *c; c++)
		if (*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\')
			return false;
	return true;
}

/* RFC 3261 user: unreserved, user-unreserved, escaped; 1 to 64 bytes. */
bool valid_user_part(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("_.!~*'()&=+$,;?/-", c))
			continue;
		if (c == '%' && s[i + 1] && s[i + 2] &&
		    strchr("0123456789abcdefABCDEF", s[i + 1]) && strchr("0123456789abcdefABCDEF", s[i + 2])) {
			i += 2;
			continue;
		}
		return false;
	}
	return true;
}

/* E.164 with its '+', as the dids.number CHECK: ^\+[1-9][0-9]{1,14}$ */
bool valid_e164(const char *s)
{
	size_t n = strlen(s);
	if (n < 3 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	return strspn(s + 1, "0123456789") == n - 1;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool valid_group_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || !is_alnum(s[0]))
		return false;
	for (const char *c = s + 1; *c; c++)
		if (!is_alnum(*c) && !strchr("_.-", *c))
			return false;
	return true;
}

static const char *const server_kinds[] = {"marshal_ua", "marshal_gateway", "redirect", "feature",
					   "cdr", "provisioning", "heartbeat", "voicemail", NULL};
static const char *const transports[] = {"udp", "tcp", "tls", "sctp", "ws", "wss", NULL};

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

bool valid_server_kind(const char *s)
{
	return one_of(s, server_kinds);
}

bool valid_transport(const char *s)
{
	return one_of(s, transports);
}

/* The servers.host CHECK: at most 253 bytes and either
 * ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ or ^[0-9A-Fa-f:.]+$ */
bool valid_host(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	if (strspn(s, "0123456789abcdefABCDEF:.") == n)
		return true;
	if (!is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (const char *c = s; *c; c++)
		if (!is_alnum(*c) && *c != '.' && *c != '-')
			return false;
	return true;
}

/* Counts UTF-8 characters (jansson has checked the encoding). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The body as a JSON object, or a 400 problem. */
static json_t *load_object(const char *text, size_t len, struct problem *p)
{
	json_error_t e;
	if (len > API_BODY_MAX) {
		problem_set(p, 413, "Request body too large", "the body is %zu bytes, at most %d are accepted",
			    len, API_BODY_MAX);
		return NULL;
	}
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!root) {
		problem_set(p, 400, "Malformed JSON", "line %d, column %d: %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		problem_set(p, 400, "Malformed request", "the body must be a JSON object");
		return NULL;
	}
	return root;
}

bool valid_contact_template(const char *s)
{
	size_t skip = strncmp(s, "sip:", 4) == 0 ? 4 : strncmp(s, "sips:", 5) == 0 ? 5
		    : strncmp(s, "tel:", 4) == 0 ? 4 : 0;
	if (!skip || !s[skip] || utf8_chars(s) > 1024)
		return false;
	for (const unsigned char *c = (const unsigned char *)s + skip; *c; c++)
		if (*c <= 0x20 || *c == 0x7f)
			return false;
	return true;
}


/* ---- the one body parser ------------------------------------------------------ */

/* A member's value into out, by its spec. */
static int field_get(const struct field_spec *f, json_t *v, void *out, struct problem *p)
{
	char *at = (char *)out + f->off;
	char buf[160];
	const char *why;
	switch (f->type) {
	case FIELD_BOOL:
		if (!json_is_boolean(v))
			return problem_set(p, 422, "Invalid field", "%s: must be true or false", f->name);
		*(bool *)at = json_is_true(v);
		return 0;
	case FIELD_INT:
		if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max)
			return problem_set(p, 422, "Invalid field", "%s: must be an integer from %lld to %lld",
					   f->name, f->min, f->max);
		*(int *)at = (int)json_integer_value(v);
		return 0;
	case FIELD_ID:
		if ((f->flags & FIELD_NULLABLE) && json_is_null(v)) {
			*(int64_t *)at = 0;
			return 0;
		}
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			return problem_set(p, 422, "Invalid field", "%s: must be a positive integer", f->name);
		*(int64_t *)at = json_integer_value(v);
		return 0;
	case FIELD_OBJECT:
		if (!json_is_object(v))
			return problem_set(p, 422, "Invalid field", "%s: must be a JSON object", f->name);
		*(json_t **)at = json_incref(v);
		return 0;
	case FIELD_STRING:
		break;
	}
	size_t n = json_is_string(v) ? json_string_length(v) : 0;
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	if (!s || memchr(s, 0, n) || n > f->size - 1) {
		/* a member that is one of a list says so, whatever the fault */
		if (f->flags & FIELD_ENUM)
			return problem_set(p, 422, "Invalid field", "%s: %s", f->name, f->check("", buf, sizeof(buf)));
		if (!s)
			return problem_set(p, 422, "Invalid field", "%s: must be a string", f->name);
		if (memchr(s, 0, n))
			return problem_set(p, 422, "Invalid field", "%s: must not contain NUL", f->name);
		return problem_set(p, 422, "Invalid field", "%s: too long (at most %zu bytes)", f->name,
				   f->size - 1);
	}
	memcpy(at, s, n);
	at[n] = 0;
	if (f->check && (why = f->check(at, buf, sizeof(buf))))
		return problem_set(p, 422, "Invalid field", "%s: %s", f->name, why);
	return 0;
}

int body_parse(const struct body_spec *spec, const char *text, size_t len, bool create, void *out,
	       struct problem *p)
{
	memset(out, 0, spec->size);
	unsigned *has = out;
	for (const struct field_spec *f = spec->fields; f->name; f++) {
		char *at = (char *)out + f->off;
		if (f->type == FIELD_STRING && f->sdef)
			snprintf(at, f->size, "%s", f->sdef);
		else if (f->type == FIELD_INT)
			*(int *)at = (int)f->idef;
		else if (f->type == FIELD_BOOL)
			*(bool *)at = f->idef != 0;
	}
	json_t *root = load_object(text, len, p);
	if (!root)
		return -1;
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(root, key, v) {
		const struct field_spec *f = spec->fields;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name)
			rc = problem_set(p, 422, "Unknown field", "%.200s: %s", key, spec->unknown);
		else if ((f->flags & FIELD_PATH) || (!create && (f->flags & FIELD_FIXED)))
			rc = problem_set(p, 422, "Read-only field", "%s: %s", f->name, f->why);
		else
			rc = field_get(f, v, out, p);
		if (rc < 0)
			break;
		*has |= f->bit;
	}
	json_decref(root);
	if (rc < 0)
		goto fail;
	if (create)
		for (const struct field_spec *f = spec->fields; f->name; f++)
			if ((f->flags & FIELD_REQUIRED) && !(*has & f->bit)) {
				problem_set(p, 422, "Missing field", "%s: required", f->name);
				goto fail;
			}
	if (spec->finish && spec->finish(out, create, p) < 0)
		goto fail;
	if (!create && !*has) {
		char list[160] = "";
		size_t o = 0;
		for (const struct field_spec *f = spec->fields; f->name; f++)
			if (!(f->flags & (FIELD_FIXED | FIELD_PATH)) && o < sizeof(list))
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", f->name);
		problem_set(p, 422, "Nothing to change", "give at least one of %s", list);
		goto fail;
	}
	return 0;
fail:
	body_release(spec, out);
	return -1;
}

int body_field_text(const struct body_spec *spec, const char *name, const char *text, void *out,
		    struct problem *p)
{
	const struct field_spec *f = spec->fields;
	while (f->name && strcmp(f->name, name) != 0)
		f++;
	if (!f->name)
		return problem_set(p, 422, "Unknown field", "%.64s: %s", name, spec->unknown);
	json_t *v = json_string(text);
	if (!v)
		return problem_set(p, 422, "Invalid field", "%s: must be UTF-8 text", f->name);
	int rc = field_get(f, v, out, p);
	json_decref(v);
	if (rc == 0)
		*(unsigned *)out |= f->bit;
	return rc;
}

void body_release(const struct body_spec *spec, void *out)
{
	for (const struct field_spec *f = spec->fields; f->name; f++) {
		if (f->type != FIELD_OBJECT)
			continue;
		json_t **o = (json_t **)((char *)out + f->off);
		json_decref(*o);
		*o = NULL;
	}
}

/* ---- the checks of string members --------------------------------------------- */

#define STRING_CHECK(fn, valid, message)                                                       \
	static const char *fn(const char *s, char *buf, size_t cap)                            \
	{                                                                                      \
		(void)buf;                                                                     \
		(void)cap;                                                                     \
		return valid(s) ? NULL : message;                                              \
	}

static bool valid_auth_kind(const char *s)
{
	return !strcmp(s, "none") || !strcmp(s, "ip") || !strcmp(s, "digest");
}

static bool valid_on_failure(const char *s)
{
	return !strcmp(s, "fail") || !strcmp(s, "skip");
}

static bool non_empty(const char *s)
{
	return s[0] != 0;
}

static bool chars_1024(const char *s)
{
	return utf8_chars(s) <= 1024;
}

STRING_CHECK(check_domain_name, valid_domain_name,
	     "must be a lower-case DNS name (labels of a-z, 0-9 and '-')")
STRING_CHECK(check_realm, valid_realm,
	     "1 to 128 printable ASCII characters, no '\"' or '\\', no blank at either end")
STRING_CHECK(check_user_part, valid_user_part, "1 to 64 characters of an RFC 3261 user part")
STRING_CHECK(check_auth_kind, valid_auth_kind, "must be one of none, ip, digest")
STRING_CHECK(check_password, non_empty, "must not be empty")
STRING_CHECK(check_e164, valid_e164, "an E.164 number: '+', a digit 1-9, 1 to 14 more digits")
STRING_CHECK(check_name, valid_group_name,
	     "1 to 63 of A-Z, a-z, 0-9, '_', '.', '-', starting with a letter or digit")
STRING_CHECK(check_kind, valid_server_kind,
	     "must be one of marshal_ua, marshal_gateway, redirect, feature, cdr, provisioning, "
	     "heartbeat, voicemail")
STRING_CHECK(check_description, chars_1024, "too long (at most 1024 characters)")
STRING_CHECK(check_on_failure, valid_on_failure, "must be one of fail, skip")
STRING_CHECK(check_host, valid_host, "a host name or an IP address (IPv6 without brackets)")
STRING_CHECK(check_transport, valid_transport, "must be one of udp, tcp, tls, sctp, ws, wss")
STRING_CHECK(check_template, valid_contact_template,
	     "a sip:, sips: or tel: URI of at most 1024 characters, without blanks or control "
	     "characters")

static const char *check_display_name(const char *s, char *buf, size_t cap)
{
	(void)buf;
	(void)cap;
	if (utf8_chars(s) > 128)
		return "too long (at most 128 characters)";
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "must not contain control characters";
	return NULL;
}

/* The router's engine must accept it, and glibc's regcomp must not need
 * gigabytes for it first (regex_guard.h). */
static const char *check_pattern(const char *s, char *buf, size_t cap)
{
	if (!s[0] || utf8_chars(s) > 1024)
		return "1 to 1024 characters";
	const char *why = regex_too_costly(s);
	if (why) {
		snprintf(buf, cap, "too costly to compile: %s", why);
		return buf;
	}
	regex_t re;
	int e = regcomp(&re, s, REG_EXTENDED);
	if (e) {
		char msg[128];
		regerror(e, &re, msg, sizeof(msg));
		snprintf(buf, cap, "not a POSIX extended regular expression: %s", msg);
		return buf;
	}
	regfree(&re);
	return NULL;
}

/* ---- the bodies ------------------------------------------------------------------ */

#define STR(T, m) .type = FIELD_STRING, .off = offsetof(T, m), .size = sizeof(((T *)0)->m)
#define BOOL(T, m, d) .type = FIELD_BOOL, .off = offsetof(T, m), .idef = (d)
#define INT(T, m, lo, hi, d) .type = FIELD_INT, .off = offsetof(T, m), .min = (lo), .max = (hi), .idef = (d)
#define ID(T, m) .type = FIELD_ID, .off = offsetof(T, m)

/* A domain's realm defaults to its name (when the name can be a realm). */
static int domain_finish(void *out, bool create, struct problem *p)
{
	struct domain_in *d = out;
	if (!create || (d->has & IN_REALM))
		return 0;
	if (!valid_realm(d->name))
		return problem_set(p, 422, "Invalid field", "realm: required");
	memcpy(d->realm, d->name, sizeof(d->realm) - 1);
	d->has |= IN_REALM;
	return 0;
}

#define T struct domain_in
static const struct field_spec domain_fields[] = {
	{"name", STR(T, name), .flags = FIELD_REQUIRED | FIELD_FIXED, .bit = IN_NAME,
	 .check = check_domain_name, .why = "cannot change; create a new domain instead"},
	{"realm", STR(T, realm), .bit = IN_REALM, .check = check_realm},
	{"enabled", BOOL(T, enabled, 1), .bit = IN_ENABLED},
	/* a group of kind feature: the schema's trigger (007) says so otherwise */
	{"feature_group_id", ID(T, feature_group_id), .flags = FIELD_NULLABLE, .bit = IN_GROUP_ID},
	{0},
};
#undef T
const struct body_spec body_domain = {"not a field of a domain", sizeof(struct domain_in),
				      domain_fields, true, domain_finish};

/* domain_id and user_part cannot change: the HA1s are computed over them */
#define T struct subscriber_in
static const struct field_spec subscriber_fields[] = {
	{"domain_id", ID(T, domain_id), .flags = FIELD_REQUIRED | FIELD_FIXED, .bit = IN_DOMAIN_ID,
	 .why = "cannot change (the stored digests depend on it)"},
	{"user_part", STR(T, user_part), .flags = FIELD_REQUIRED | FIELD_FIXED, .bit = IN_USER,
	 .check = check_user_part, .why = "cannot change (the stored digests depend on it)"},
	{"display_name", STR(T, display_name), .bit = IN_DISPLAY, .check = check_display_name},
	{"auth_kind", STR(T, auth_kind), .flags = FIELD_ENUM, .bit = IN_AUTH_KIND,
	 .check = check_auth_kind, .sdef = "digest"},
	{"enabled", BOOL(T, enabled, 1), .bit = IN_ENABLED},
	{0},
};
#undef T
const struct body_spec body_subscriber = {"not a field of a subscriber",
					  sizeof(struct subscriber_in), subscriber_fields, true, NULL};

static const struct field_spec password_fields[] = {
	{"password", STR(struct password_in, password), .flags = FIELD_REQUIRED | FIELD_SECRET,
	 .bit = IN_PASSWORD, .check = check_password},
	{0},
};
const struct body_spec body_password = {"only password is accepted", sizeof(struct password_in),
					password_fields, false, NULL};

static const struct field_spec alias_fields[] = {
	{"domain_id", ID(struct alias_in, domain_id), .flags = FIELD_PARENT_DEFAULT,
	 .bit = IN_DOMAIN_ID},
	{"user_part", STR(struct alias_in, user_part), .flags = FIELD_REQUIRED, .bit = IN_USER,
	 .check = check_user_part},
	{0},
};
const struct body_spec body_alias = {"not a field of an alias", sizeof(struct alias_in),
				     alias_fields, false, NULL};

static const struct field_spec did_fields[] = {
	{"number", STR(struct did_in, number), .flags = FIELD_REQUIRED, .bit = IN_NUMBER,
	 .check = check_e164},
	{0},
};
const struct body_spec body_did = {"not a field of a DID", sizeof(struct did_in), did_fields,
				   false, NULL};

#define T struct server_group_in
static const struct field_spec server_group_fields[] = {
	{"name", STR(T, name), .flags = FIELD_REQUIRED, .bit = IN_NAME, .check = check_name},
	{"kind", STR(T, kind), .flags = FIELD_REQUIRED | FIELD_FIXED | FIELD_ENUM, .bit = IN_KIND,
	 .check = check_kind, .why = "cannot change; create a new group instead"},
	{"description", STR(T, description), .bit = IN_DESCRIPTION, .check = check_description},
	{"on_failure", STR(T, on_failure), .flags = FIELD_ENUM, .bit = IN_ON_FAILURE,
	 .check = check_on_failure, .sdef = "fail"},
	{0},
};
#undef T
const struct body_spec body_server_group = {"not a field of a server group",
					    sizeof(struct server_group_in), server_group_fields,
					    true, NULL};

#define T struct server_in
static const struct field_spec server_fields[] = {
	{"group_id", .type = FIELD_ID, .flags = FIELD_PATH,
	 .why = "given by the path; a server cannot move to another group"},
	{"host", STR(T, host), .flags = FIELD_REQUIRED, .bit = IN_HOST, .check = check_host},
	{"port", INT(T, port, 1, 65535, 5060), .bit = IN_PORT},
	{"transport", STR(T, transport), .flags = FIELD_ENUM, .bit = IN_TRANSPORT,
	 .check = check_transport, .sdef = "udp"},
	{"priority", INT(T, priority, 0, 65535, 0), .bit = IN_PRIORITY},
	{"weight", INT(T, weight, 0, 65535, 1), .bit = IN_WEIGHT},
	{"enabled", BOOL(T, enabled, 1), .bit = IN_ENABLED},
	{0},
};
#undef T
const struct body_spec body_server = {"not a field of a server", sizeof(struct server_in),
				      server_fields, true, NULL};

#define T struct dial_plan_in
static const struct field_spec dial_plan_fields[] = {
	{"name", STR(T, name), .flags = FIELD_REQUIRED, .bit = IN_NAME, .check = check_name},
	{"description", STR(T, description), .bit = IN_DESCRIPTION, .check = check_description},
	{0},
};
#undef T
const struct body_spec body_dial_plan = {"not a field of a dial plan", sizeof(struct dial_plan_in),
					 dial_plan_fields, true, NULL};

#define T struct dial_entry_in
static const struct field_spec dial_entry_fields[] = {
	{"dial_plan_id", .type = FIELD_ID, .flags = FIELD_PATH,
	 .why = "given by the path; an entry cannot move to another plan"},
	{"position", INT(T, position, 0, 2147483647, 0), .flags = FIELD_REQUIRED, .bit = IN_POSITION},
	{"pattern", STR(T, pattern), .flags = FIELD_REQUIRED, .bit = IN_PATTERN, .check = check_pattern},
	{"contact_template", STR(T, contact_template), .flags = FIELD_REQUIRED, .bit = IN_TEMPLATE,
	 .check = check_template},
	{0},
};
#undef T
const struct body_spec body_dial_entry = {"not a field of a dial plan entry",
					  sizeof(struct dial_entry_in), dial_entry_fields, true, NULL};

/* ---- feature subscriptions ------------------------------------------------------- */

#define T struct feature_in
static const struct field_spec feature_fields[] = {
	{"admin_enabled", BOOL(T, admin_enabled, 1), .bit = IN_ADMIN_ENABLED},
	{"user_enabled", BOOL(T, user_enabled, 0), .bit = IN_USER_ENABLED},
	{"locked", BOOL(T, locked, 0), .bit = IN_LOCKED},
	{"group_id", ID(T, group_id), .bit = IN_GROUP_ID},
	{"settings", .type = FIELD_OBJECT, .off = offsetof(T, settings), .bit = IN_SETTINGS},
	{"subscriber_id", .type = FIELD_ID, .flags = FIELD_PATH, .why = "given by the path"},
	{"feature", .type = FIELD_STRING, .flags = FIELD_PATH, .why = "given by the path"},
	{0},
};
#undef T
const struct body_spec body_feature = {"not a field of a feature subscription",
				       sizeof(struct feature_in), feature_fields, false, NULL};

int api_parse_feature(const char *text, size_t len, int kind, struct feature_in *out,
		      struct feature_settings **settings, struct problem *p)
{
	*settings = NULL;
	if (body_parse(&body_feature, text, len, true, out, p) < 0)
		return -1;
	if (!out->settings)
		return 0;
	char err[sizeof(p->detail)];
	*settings = feature_settings_from_json((enum feature_kind)kind, out->settings, err, sizeof(err));
	if (!*settings) {
		body_release(&body_feature, out);
		return problem_set(p, 422, "Invalid settings", "%s", err);
	}
	return 0;
}

/* ---- web logins ------------------------------------------------------------------ */

bool valid_login(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || !is_alnum(s[0]))
		return false;
	for (const char *c = s; *c; c++)
		if (!is_alnum(*c) && !strchr("_.@+-", *c))
			return false;
	return true;
}

const char *web_password_policy(const char *s)
{
	if (utf8_chars(s) < 10)
		return "at least 10 characters";
	return strlen(s) > 1024 ? "at most 1024 bytes" : NULL;
}

static bool valid_role(const char *s)
{
	return !strcmp(s, "admin") || !strcmp(s, "subscriber");
}

static const char *check_web_password(const char *s, char *buf, size_t cap)
{
	(void)buf;
	(void)cap;
	return web_password_policy(s);
}

STRING_CHECK(check_login, valid_login,
	     "1 to 64 of A-Z, a-z, 0-9, '_', '.', '@', '+', '-', starting with a letter or digit")
STRING_CHECK(check_role, valid_role, "must be one of admin, subscriber")

#define T struct login_in
static const struct field_spec login_fields[] = {
	{"login", STR(T, login), .flags = FIELD_REQUIRED, .bit = IN_LOGIN},
	{"password", STR(T, password), .flags = FIELD_REQUIRED | FIELD_SECRET, .bit = IN_PASSWORD},
	{0},
};
#undef T
const struct body_spec body_login = {"only login and password are accepted",
				     sizeof(struct login_in), login_fields, false, NULL};

/* A subscriber's login names its subscriber; an administrator's none. */
static int account_finish(void *out, bool create, struct problem *p)
{
	struct account_in *a = out;
	if (!create)
		return 0;
	if (!strcmp(a->role, "subscriber") && !a->subscriber_id)
		return problem_set(p, 422, "Missing field", "subscriber_id: required for role subscriber");
	if (!strcmp(a->role, "admin") && a->subscriber_id)
		return problem_set(p, 422, "Invalid field", "subscriber_id: only for role subscriber");
	return 0;
}

#define T struct account_in
static const struct field_spec account_fields[] = {
	{"login", STR(T, login), .flags = FIELD_REQUIRED | FIELD_FIXED, .bit = IN_LOGIN,
	 .check = check_login, .why = "cannot change; create a new account instead"},
	{"password", STR(T, password), .flags = FIELD_REQUIRED | FIELD_FIXED | FIELD_SECRET,
	 .bit = IN_PASSWORD, .check = check_web_password,
	 .why = "set it with PUT /api/v1/accounts/{id}/password"},
	{"role", STR(T, role), .flags = FIELD_REQUIRED | FIELD_FIXED | FIELD_ENUM, .bit = IN_ROLE,
	 .check = check_role, .why = "cannot change; create a new account instead"},
	{"subscriber_id", ID(T, subscriber_id), .flags = FIELD_FIXED, .bit = IN_SUBSCRIBER_ID,
	 .why = "cannot change; create a new account instead"},
	{"enabled", BOOL(T, enabled, 1), .bit = IN_ENABLED},
	{0},
};
#undef T
const struct body_spec body_account = {"not a field of an account", sizeof(struct account_in),
				       account_fields, true, account_finish};

#define T struct api_token_in
static const struct field_spec api_token_fields[] = {
	{"name", STR(T, name), .flags = FIELD_REQUIRED | FIELD_FIXED, .bit = IN_NAME,
	 .check = check_login, .why = "cannot change; make a new token instead"},
	{"valid_days", INT(T, valid_days, 1, 3650, 0), .flags = FIELD_FIXED, .bit = IN_VALID_DAYS,
	 .why = "cannot change; make a new token instead"},
	{"enabled", BOOL(T, enabled, 1), .bit = IN_ENABLED},
	{0},
};
#undef T
const struct body_spec body_api_token = {"not a field of an API token (the token itself is made by provd)",
					 sizeof(struct api_token_in), api_token_fields, true, NULL};

static const struct field_spec web_password_fields[] = {
	{"password", STR(struct web_password_in, password), .flags = FIELD_REQUIRED | FIELD_SECRET,
	 .bit = IN_PASSWORD, .check = check_web_password},
	{0},
};
const struct body_spec body_web_password = {"only password is accepted",
					    sizeof(struct web_password_in), web_password_fields,
					    false, NULL};

#define T struct own_password_in
static const struct field_spec own_password_fields[] = {
	{"current_password", STR(T, current_password), .flags = FIELD_REQUIRED | FIELD_SECRET,
	 .bit = IN_CURRENT_PASSWORD},
	{"new_password", STR(T, new_password), .flags = FIELD_REQUIRED | FIELD_SECRET,
	 .bit = IN_NEW_PASSWORD, .check = check_web_password},
	{0},
};
#undef T
const struct body_spec body_own_password = {"only current_password and new_password are accepted",
					    sizeof(struct own_password_in), own_password_fields,
					    false, NULL};

/* ---- the named parsers (validate.h) --------------------------------------------- */

#define PARSER(fn, T, spec)                                                                    \
	int fn(const char *text, size_t len, bool create, T *out, struct problem *p)         \
	{                                                                                      \
		return body_parse(&spec, text, len, create, out, p);                           \
	}
#define CREATE_PARSER(fn, T, spec)                                                             \
	int fn(const char *text, size_t len, T *out, struct problem *p)                      \
	{                                                                                      \
		return body_parse(&spec, text, len, true, out, p);                             \
	}

PARSER(api_parse_domain, struct domain_in, body_domain)
PARSER(api_parse_subscriber, struct subscriber_in, body_subscriber)
PARSER(api_parse_server_group, struct server_group_in, body_server_group)
PARSER(api_parse_server, struct server_in, body_server)
PARSER(api_parse_dial_plan, struct dial_plan_in, body_dial_plan)
PARSER(api_parse_dial_entry, struct dial_entry_in, body_dial_entry)
CREATE_PARSER(api_parse_password, struct password_in, body_password)
CREATE_PARSER(api_parse_alias, struct alias_in, body_alias)
CREATE_PARSER(api_parse_did, struct did_in, body_did)
