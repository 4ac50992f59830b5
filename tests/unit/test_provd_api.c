/*
 * provd's API without a server or a database: the route table and
 * provisioning/openapi.json describe the same operations (both ways), and
 * the request-body validation (provisioning/validate.c) accepts and refuses
 * what the API promises, naming the field.
 */
#include "unit/testutil.h"

#include <jansson.h>

#include "feature/settings.h"
#include "provisioning/api.h"
#include "provisioning/validate.h"

static json_t *load_doc(const char *text, size_t len)
{
	json_error_t e;
	json_t *doc = json_loadb(text, len, 0, &e);
	if (!doc)
		fail_msg("openapi.json: line %d: %s", e.line, e.text);
	return doc;
}

static void lower(const char *in, char *out, size_t cap)
{
	size_t i = 0;
	for (; in[i] && i + 1 < cap; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
	out[i] = 0;
}

/* Every route is an operation of the document, and every operation a
 * route; the served document is the file in the repository. */
static void test_routes_match_openapi(void **state)
{
	(void)state;
	size_t len;
	char *file = read_file("provisioning/openapi.json", &len);
	assert_non_null(file);
	/* read_file does not NUL-terminate */
	assert_int_equal(strlen(api_openapi_json), len);
	assert_memory_equal(file, api_openapi_json, len);
	json_t *doc = load_doc(file, len);
	free(file);
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	json_t *paths = json_object_get(doc, "paths");
	assert_non_null(paths);

	size_t routes = 0;
	for (const struct api_route *r = api_routes; r->method; r++, routes++) {
		char m[16];
		lower(r->method, m, sizeof(m));
		json_t *op = json_object_get(json_object_get(paths, r->pattern), m);
		if (!json_is_object(op))
			fail_msg("%s %s is served but not in openapi.json", r->method, r->pattern);
	}
	size_t ops = 0;
	const char *path, *method;
	json_t *item, *op;
	json_object_foreach(paths, path, item) {
		json_object_foreach(item, method, op) {
			if (strcmp(method, "parameters") == 0)
				continue;
			ops++;
			bool found = false;
			for (const struct api_route *r = api_routes; r->method && !found; r++) {
				char m[16];
				lower(r->method, m, sizeof(m));
				found = strcmp(m, method) == 0 && strcmp(r->pattern, path) == 0;
			}
			if (!found)
				fail_msg("%s %s is in openapi.json but not served", method, path);
		}
	}
	assert_int_equal(ops, routes);
	json_decref(doc);
}

#define PARSE_OK(fn, text, create, out)                                                        \
	do {                                                                                   \
		struct problem p_ = {0};                                                       \
		if (fn(text, strlen(text), create, out, &p_) != 0)                             \
			fail_msg("%s: refused: %d %s", text, p_.status, p_.detail);            \
	} while (0)

static void expect_problem(int rc, const struct problem *p, int status, const char *detail)
{
	assert_int_equal(rc, -1);
	assert_int_equal(p->status, status);
	if (!strstr(p->detail, detail))
		fail_msg("detail '%s' lacks '%s'", p->detail, detail);
}

static void test_domain_bodies(void **state)
{
	(void)state;
	struct domain_in d;
	struct problem p;
	PARSE_OK(api_parse_domain, "{\"name\":\"example.com\"}", true, &d);
	assert_string_equal(d.realm, "example.com");
	assert_true(d.enabled);
	PARSE_OK(api_parse_domain, "{\"name\":\"a-b.example\",\"realm\":\"R x\",\"enabled\":false}", true, &d);
	assert_string_equal(d.realm, "R x");
	assert_false(d.enabled);
	PARSE_OK(api_parse_domain, "{\"enabled\":true}", false, &d);
	assert_int_equal(d.has, IN_ENABLED);

	const char *t;
	t = "{\"name\":";
	expect_problem(api_parse_domain(t, strlen(t), true, &d, &p), &p, 400, "line 1");
	t = "[1]";
	expect_problem(api_parse_domain(t, strlen(t), true, &d, &p), &p, 400, "JSON object");
	t = "{\"name\":null}";
	expect_problem(api_parse_domain(t, strlen(t), true, &d, &p), &p, 422, "name: must be a string");
	t = "{\"name\":\"-a.example\"}";
	expect_problem(api_parse_domain(t, strlen(t), true, &d, &p), &p, 422, "name:");
	t = "{\"name\":\"a..example\"}";
	expect_problem(api_parse_domain(t, strlen(t), true, &d, &p), &p, 422, "name:");
	t = "{\"name\":\"a.example\",\"realm\":\" x\"}";
	expect_problem(api_parse_domain(t, strlen(t), true, &d, &p), &p, 422, "realm:");
	t = "{\"name\":\"a.example\",\"name\":\"b.example\"}";
	expect_problem(api_parse_domain(t, strlen(t), true, &d, &p), &p, 400, "duplicate");
	t = "{\"name\":\"a.example\"}";
	expect_problem(api_parse_domain(t, strlen(t), false, &d, &p), &p, 422, "name: cannot change");
	t = "{}";
	expect_problem(api_parse_domain(t, strlen(t), false, &d, &p), &p, 422, "at least one");
	expect_problem(api_parse_domain(t, strlen(t), true, &d, &p), &p, 422, "name: required");
	/* a label of 64 characters */
	t = "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\"}";
	expect_problem(api_parse_domain(t, strlen(t), true, &d, &p), &p, 422, "name:");
	char big[API_BODY_MAX + 20];
	memset(big, ' ', sizeof(big));
	expect_problem(api_parse_domain(big, sizeof(big), true, &d, &p), &p, 413, "at most");
}

static void test_subscriber_bodies(void **state)
{
	(void)state;
	struct subscriber_in s;
	struct problem p;
	PARSE_OK(api_parse_subscriber, "{\"domain_id\":3,\"user_part\":\"al%41ce.+1\"}", true, &s);
	assert_int_equal(s.domain_id, 3);
	assert_string_equal(s.auth_kind, "digest");
	PARSE_OK(api_parse_subscriber, "{\"display_name\":\"Zoë\",\"auth_kind\":\"ip\"}", false, &s);
	assert_int_equal(s.has, IN_DISPLAY | IN_AUTH_KIND);

	const char *t;
	t = "{\"domain_id\":0,\"user_part\":\"a\"}";
	expect_problem(api_parse_subscriber(t, strlen(t), true, &s, &p), &p, 422, "domain_id:");
	t = "{\"domain_id\":1.5,\"user_part\":\"a\"}";
	expect_problem(api_parse_subscriber(t, strlen(t), true, &s, &p), &p, 422, "domain_id:");
	t = "{\"domain_id\":1,\"user_part\":\"a%4\"}";
	expect_problem(api_parse_subscriber(t, strlen(t), true, &s, &p), &p, 422, "user_part:");
	t = "{\"domain_id\":1,\"user_part\":\"a@b\"}";
	expect_problem(api_parse_subscriber(t, strlen(t), true, &s, &p), &p, 422, "user_part:");
	t = "{\"domain_id\":1,\"user_part\":\"a\",\"display_name\":\"a\\nb\"}";
	expect_problem(api_parse_subscriber(t, strlen(t), true, &s, &p), &p, 422, "control");
	t = "{\"domain_id\":1,\"user_part\":\"a\",\"auth_kind\":7}";
	expect_problem(api_parse_subscriber(t, strlen(t), true, &s, &p), &p, 422, "auth_kind:");
	t = "{\"domain_id\":2}";
	expect_problem(api_parse_subscriber(t, strlen(t), false, &s, &p), &p, 422, "domain_id: cannot change");
	t = "{\"ha1_md5\":\"00\"}";
	expect_problem(api_parse_subscriber(t, strlen(t), false, &s, &p), &p, 422, "ha1_md5: not a field");

	struct password_in pw;
	t = "{\"password\":\"pw\"}";
	assert_int_equal(api_parse_password(t, strlen(t), &pw, &p), 0);
	assert_string_equal(pw.password, "pw");
	t = "{}";
	expect_problem(api_parse_password(t, strlen(t), &pw, &p), &p, 422, "password: required");
	t = "{\"password\":\"\"}";
	expect_problem(api_parse_password(t, strlen(t), &pw, &p), &p, 422, "must not be empty");
}

static void test_alias_did_bodies(void **state)
{
	(void)state;
	struct alias_in a;
	struct did_in n;
	struct problem p;
	const char *t;
	t = "{\"user_part\":\"al%41.x\"}";
	assert_int_equal(api_parse_alias(t, strlen(t), &a, &p), 0);
	assert_int_equal(a.domain_id, 0);
	t = "{\"user_part\":\"b\",\"domain_id\":4}";
	assert_int_equal(api_parse_alias(t, strlen(t), &a, &p), 0);
	assert_int_equal(a.domain_id, 4);
	t = "{\"domain_id\":4}";
	expect_problem(api_parse_alias(t, strlen(t), &a, &p), &p, 422, "user_part: required");
	t = "{\"user_part\":\"a@b\"}";
	expect_problem(api_parse_alias(t, strlen(t), &a, &p), &p, 422, "user_part:");
	t = "{\"user_part\":\"a\",\"domain_id\":-1}";
	expect_problem(api_parse_alias(t, strlen(t), &a, &p), &p, 422, "domain_id:");
	t = "{\"user_part\":\"a\",\"subscriber_id\":1}";
	expect_problem(api_parse_alias(t, strlen(t), &a, &p), &p, 422, "subscriber_id: not a field");

	t = "{\"number\":\"+12\"}";
	assert_int_equal(api_parse_did(t, strlen(t), &n, &p), 0);
	t = "{\"number\":\"+123456789012345\"}";
	assert_int_equal(api_parse_did(t, strlen(t), &n, &p), 0);
	assert_string_equal(n.number, "+123456789012345");
	t = "{\"number\":\"+1234567890123456\"}";
	expect_problem(api_parse_did(t, strlen(t), &n, &p), &p, 422, "number:");
	t = "{\"number\":\"+1\"}";
	expect_problem(api_parse_did(t, strlen(t), &n, &p), &p, 422, "number:");
	t = "{\"number\":\"+01\"}";
	expect_problem(api_parse_did(t, strlen(t), &n, &p), &p, 422, "number:");
	t = "{\"number\":\"12345\"}";
	expect_problem(api_parse_did(t, strlen(t), &n, &p), &p, 422, "number:");
	t = "{}";
	expect_problem(api_parse_did(t, strlen(t), &n, &p), &p, 422, "number: required");
	assert_true(valid_e164("+4930123"));
	assert_false(valid_e164("+49 30"));
}

static void test_server_bodies(void **state)
{
	(void)state;
	struct server_group_in g;
	struct server_in v;
	struct problem p;
	PARSE_OK(api_parse_server_group, "{\"name\":\"Edge_1.a-b\",\"kind\":\"marshal_gateway\"}", true, &g);
	assert_string_equal(g.description, "");
	PARSE_OK(api_parse_server_group, "{\"description\":\"Zoë\"}", false, &g);
	assert_int_equal(g.has, IN_DESCRIPTION);
	const char *t;
	/* a NUL cannot smuggle a valid prefix through: the parser refuses it */
	t = "{\"name\":\"a\",\"kind\":\"redirect\\u0000x\"}";
	expect_problem(api_parse_server_group(t, strlen(t), true, &g, &p), &p, 400, "NUL");
	t = "{\"name\":\"a\",\"kind\":\"redirectx\"}";
	expect_problem(api_parse_server_group(t, strlen(t), true, &g, &p), &p, 422, "kind:");
	t = "{\"name\":\"a b\",\"kind\":\"cdr\"}";
	expect_problem(api_parse_server_group(t, strlen(t), true, &g, &p), &p, 422, "name:");
	t = "{\"kind\":\"cdr\"}";
	expect_problem(api_parse_server_group(t, strlen(t), false, &g, &p), &p, 422, "kind: cannot change");
	t = "{\"name\":\"a\"}";
	expect_problem(api_parse_server_group(t, strlen(t), true, &g, &p), &p, 422, "kind: required");

	PARSE_OK(api_parse_server, "{\"host\":\"10.0.0.1\"}", true, &v);
	assert_int_equal(v.port, 5060);
	assert_int_equal(v.weight, 1);
	assert_string_equal(v.transport, "udp");
	assert_true(v.enabled);
	PARSE_OK(api_parse_server, "{\"host\":\"::1\",\"port\":65535,\"transport\":\"wss\",\"priority\":0,\"weight\":0}", true, &v);
	PARSE_OK(api_parse_server, "{\"weight\":7}", false, &v);
	assert_int_equal(v.has, IN_WEIGHT);
	t = "{\"host\":\"a.example.\"}";
	expect_problem(api_parse_server(t, strlen(t), true, &v, &p), &p, 422, "host:");
	t = "{\"host\":\"a_b\"}";
	expect_problem(api_parse_server(t, strlen(t), true, &v, &p), &p, 422, "host:");
	t = "{\"host\":\"a\",\"port\":65536}";
	expect_problem(api_parse_server(t, strlen(t), true, &v, &p), &p, 422, "port:");
	t = "{\"host\":\"a\",\"port\":5060.5}";
	expect_problem(api_parse_server(t, strlen(t), true, &v, &p), &p, 422, "port:");
	t = "{\"host\":\"a\",\"transport\":\"UDP\"}";
	expect_problem(api_parse_server(t, strlen(t), true, &v, &p), &p, 422, "transport:");
	t = "{}";
	expect_problem(api_parse_server(t, strlen(t), false, &v, &p), &p, 422, "at least one");
	expect_problem(api_parse_server(t, strlen(t), true, &v, &p), &p, 422, "host: required");
}

static void test_dial_plan_bodies(void **state)
{
	(void)state;
	struct dial_plan_in d;
	struct dial_entry_in e;
	struct problem p;
	PARSE_OK(api_parse_dial_plan, "{\"name\":\"intl\"}", true, &d);
	PARSE_OK(api_parse_dial_plan, "{\"description\":\"x\"}", false, &d);
	assert_int_equal(d.has, IN_DESCRIPTION);
	const char *t;
	t = "{}";
	expect_problem(api_parse_dial_plan(t, strlen(t), false, &d, &p), &p, 422, "at least one");
	expect_problem(api_parse_dial_plan(t, strlen(t), true, &d, &p), &p, 422, "name: required");

	PARSE_OK(api_parse_dial_entry,
		 "{\"position\":0,\"pattern\":\"^\\\\+?([0-9]{3,})$\",\"contact_template\":\"sips:\\\\1@x\"}",
		 true, &e);
	assert_string_equal(e.pattern, "^\\+?([0-9]{3,})$");
	assert_string_equal(e.contact_template, "sips:\\1@x");
	PARSE_OK(api_parse_dial_entry, "{\"pattern\":\"a|b\"}", false, &e);
	assert_int_equal(e.has, IN_PATTERN);
	t = "{\"pattern\":\"(a\"}";
	expect_problem(api_parse_dial_entry(t, strlen(t), false, &e, &p), &p, 422,
		       "pattern: not a POSIX extended regular expression: ");
	t = "{\"pattern\":\"[z-a]\"}";
	expect_problem(api_parse_dial_entry(t, strlen(t), false, &e, &p), &p, 422, "pattern: not a POSIX");
	/* what fuzz_api_json found: stacked repetitions exhaust glibc's regcomp */
	t = "{\"pattern\":\"W++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++(a|b\"}";
	expect_problem(api_parse_dial_entry(t, strlen(t), false, &e, &p), &p, 422, "too costly");
	t = "{\"pattern\":\"a*{2}\"}";
	expect_problem(api_parse_dial_entry(t, strlen(t), false, &e, &p), &p, 422, "repetition of a repetition");
	t = "{\"pattern\":\"((a{1,100}){1,100})\"}";
	expect_problem(api_parse_dial_entry(t, strlen(t), false, &e, &p), &p, 422, "past 1000");
	PARSE_OK(api_parse_dial_entry, "{\"pattern\":\"^\\\\+([0-9]{1,3})([0-9]{4,14})[*+?{]$\"}", false, &e);
	PARSE_OK(api_parse_dial_entry, "{\"pattern\":\"^[[:digit:]]+\\\\*$\"}", false, &e);
	t = "{\"contact_template\":\"tel:\"}";
	expect_problem(api_parse_dial_entry(t, strlen(t), false, &e, &p), &p, 422, "contact_template:");
	t = "{\"contact_template\":\"sip:a\\tb\"}";
	expect_problem(api_parse_dial_entry(t, strlen(t), false, &e, &p), &p, 422, "contact_template:");
	t = "{\"position\":2147483648}";
	expect_problem(api_parse_dial_entry(t, strlen(t), false, &e, &p), &p, 422, "position:");
	t = "{\"position\":1,\"pattern\":\"a\"}";
	expect_problem(api_parse_dial_entry(t, strlen(t), true, &e, &p), &p, 422, "contact_template: required");
	assert_true(valid_contact_template("tel:+4930"));
	assert_false(valid_contact_template("sipx:a"));
}

static void test_feature_bodies(void **state)
{
	(void)state;
	struct feature_in f;
	struct feature_settings *set;
	struct problem p;
	const char *t = "{\"user_enabled\":true,\"group_id\":4,\"settings\":{\"target\":\"4000\"}}";
	assert_int_equal(api_parse_feature(t, strlen(t), FEATURE_FORWARD_ALL, &f, &set, &p), 0);
	assert_int_equal(f.has, IN_USER_ENABLED | IN_GROUP_ID | IN_SETTINGS);
	assert_non_null(set);
	assert_string_equal(set->u.forward.target.text, "4000");
	char *sum = api_summary(&body_feature, &f);
	assert_non_null(strstr(sum, "\"settings\":{\"target\":\"4000\"}"));
	free(sum);
	feature_settings_free(set);
	body_release(&body_feature, &f);
	assert_null(f.settings);
	t = "{\"locked\":true}";
	assert_int_equal(api_parse_feature(t, strlen(t), FEATURE_CALL_BLOCKING, &f, &set, &p), 0);
	assert_null(set);
	assert_true(f.admin_enabled);
	assert_false(f.user_enabled);
	t = "{\"settings\":{\"ring_time\":1,\"target\":\"4000\"}}";
	expect_problem(api_parse_feature(t, strlen(t), FEATURE_FORWARD_NO_ANSWER, &f, &set, &p), &p, 422,
		       "forward_no_answer.ring_time");
	assert_null(set);
	t = "{\"settings\":\"x\"}";
	expect_problem(api_parse_feature(t, strlen(t), FEATURE_FORWARD_ALL, &f, &set, &p), &p, 422,
		       "settings: must be a JSON object");
	/* an object stored before a later member fails is released (ASan) */
	t = "{\"settings\":{},\"group_id\":0}";
	expect_problem(api_parse_feature(t, strlen(t), FEATURE_CALL_RETURN, &f, &set, &p), &p, 422, "group_id:");
	t = "{\"settings\":{\"script\":\"<cpl/>\"}}";
	expect_problem(api_parse_feature(t, strlen(t), FEATURE_CPL, &f, &set, &p), &p, 422, "cpl.script");
	t = "{\"feature\":\"cpl\"}";
	expect_problem(api_parse_feature(t, strlen(t), FEATURE_CPL, &f, &set, &p), &p, 422, "given by the path");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_match_openapi),
		cmocka_unit_test(test_domain_bodies),
		cmocka_unit_test(test_subscriber_bodies),
		cmocka_unit_test(test_alias_did_bodies),
		cmocka_unit_test(test_server_bodies),
		cmocka_unit_test(test_dial_plan_bodies),
		cmocka_unit_test(test_feature_bodies),
	};
	return cmocka_run_group_tests_name("provd_api", tests, NULL, NULL);
}
