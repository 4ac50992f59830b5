/*
 * provd's authentication and authorization rules without a server or a
 * database (provisioning/auth.c, the route table's access column, the
 * web-login bodies of validate.c, the login throttle's configuration of
 * common/guard.c): who may use which route, the session cookie and CSRF
 * token checks, the Origin check, the password policy, the throttle's
 * sliding window per address (/64) and per unknown login.
 */
#include "unit/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "guard.h"
#include "provisioning/api.h"
#include "provisioning/auth.h"
#include "provisioning/session.h"
#include "provisioning/validate.h"

static const struct api_principal nobody = {.role = ROLE_NONE};
static const struct api_principal token = {.role = ROLE_TOKEN, .login = "token"};
static const struct api_principal admin = {.role = ROLE_ADMIN, .cookie = true, .account_id = 1,
					   .login = "admin"};
static const struct api_principal alice = {.role = ROLE_SUBSCRIBER, .cookie = true,
					   .account_id = 2, .subscriber_id = 7, .login = "alice"};

static void test_authorize(void **state)
{
	(void)state;
	/* administrators only, the default */
	assert_int_equal(api_authorize(ACCESS_ADMIN, &nobody, 0), 401);
	assert_int_equal(api_authorize(ACCESS_ADMIN, &token, 0), 0);
	assert_int_equal(api_authorize(ACCESS_ADMIN, &admin, 0), 0);
	assert_int_equal(api_authorize(ACCESS_ADMIN, &alice, 0), 403);
	assert_int_equal(api_authorize(ACCESS_ADMIN, &alice, 7), 403);
	/* a subscriber's own rows; another's id is 404, not 403 */
	assert_int_equal(api_authorize(ACCESS_OWN, &nobody, 7), 401);
	assert_int_equal(api_authorize(ACCESS_OWN, &alice, 7), 0);
	assert_int_equal(api_authorize(ACCESS_OWN, &alice, 8), 404);
	assert_int_equal(api_authorize(ACCESS_OWN, &alice, 0), 404);
	assert_int_equal(api_authorize(ACCESS_OWN, &admin, 8), 0);
	assert_int_equal(api_authorize(ACCESS_OWN, &token, 8), 0);
	/* a session's own account: the token has none */
	assert_int_equal(api_authorize(ACCESS_SESSION, &alice, 0), 0);
	assert_int_equal(api_authorize(ACCESS_SESSION, &admin, 0), 0);
	assert_int_equal(api_authorize(ACCESS_SESSION, &token, 0), 401);
	assert_int_equal(api_authorize(ACCESS_SESSION, &nobody, 0), 401);
	assert_int_equal(api_authorize(ACCESS_ANY, &alice, 0), 0);
	assert_int_equal(api_authorize(ACCESS_ANY, &nobody, 0), 401);
	assert_int_equal(api_authorize(ACCESS_PUBLIC, &nobody, 0), 0);
	assert_int_equal(api_authorize(ACCESS_LOGIN, &nobody, 0), 0);
}

/* The route table's policy, row by row: what a subscriber's session may
 * reach is exactly this list (a new route is for administrators unless it
 * says otherwise, and widening one shows here). */
static void test_route_policy(void **state)
{
	(void)state;
	static const struct {
		const char *method, *pattern;
		enum api_access access;
		unsigned own_fields;
	} open[] = {
		{"GET", "/api/v1/openapi.json", ACCESS_ANY, 0},
		{"POST", "/api/v1/session", ACCESS_LOGIN, 0},
		{"GET", "/api/v1/session", ACCESS_SESSION, 0},
		{"DELETE", "/api/v1/session", ACCESS_PUBLIC, 0},
		{"PUT", "/api/v1/session/password", ACCESS_SESSION, 0},
		{"GET", "/api/v1/subscribers/{id}", ACCESS_OWN, 0},
		{"PATCH", "/api/v1/subscribers/{id}", ACCESS_OWN, IN_DISPLAY},
		{"PUT", "/api/v1/subscribers/{id}/password", ACCESS_OWN, 0},
		{"GET", "/api/v1/subscribers/{id}/aliases", ACCESS_OWN, 0},
		{"GET", "/api/v1/subscribers/{id}/dids", ACCESS_OWN, 0},
		{"GET", "/api/v1/subscribers/{id}/registrations", ACCESS_OWN, 0},
		{"DELETE", "/api/v1/subscribers/{id}/registrations/{binding_id}", ACCESS_OWN, 0},
	};
	size_t found = 0, routes = 0;
	for (const struct api_route *r = api_routes; r->method; r++, routes++) {
		size_t i = 0;
		while (i < sizeof(open) / sizeof(open[0]) &&
		       (strcmp(open[i].method, r->method) || strcmp(open[i].pattern, r->pattern)))
			i++;
		if (i == sizeof(open) / sizeof(open[0])) {
			if (r->access != ACCESS_ADMIN || r->own_fields)
				fail_msg("%s %s is open to more than administrators", r->method, r->pattern);
			assert_int_equal(api_authorize(r->access, &alice, alice.subscriber_id), 403);
			continue;
		}
		found++;
		if (r->access != open[i].access || r->own_fields != open[i].own_fields)
			fail_msg("%s %s: access %d, own_fields %#x", r->method, r->pattern, r->access,
				 r->own_fields);
		/* ACCESS_OWN routes all name a subscriber by their first id */
		if (r->access == ACCESS_OWN)
			assert_true(strncmp(r->pattern, "/api/v1/subscribers/{id}", 24) == 0);
	}
	assert_int_equal(found, sizeof(open) / sizeof(open[0]));
	assert_true(routes > found);
}

static void test_cookie(void **state)
{
	(void)state;
	char id[SESSION_ID_HEX + 1];
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char h[256];
	snprintf(h, sizeof(h), "vocal_session=%s", hex);
	assert_int_equal(cookie_session_id(h, id), 0);
	assert_string_equal(id, hex);
	snprintf(h, sizeof(h), "theme=dark; vocal_session=%s; lang=de", hex);
	assert_int_equal(cookie_session_id(h, id), 0);
	assert_string_equal(id, hex);
	snprintf(h, sizeof(h), "theme=dark;vocal_session=%s ", hex);
	assert_int_equal(cookie_session_id(h, id), 0);
	assert_int_equal(cookie_session_id(NULL, id), -1);
	assert_int_equal(cookie_session_id("", id), -1);
	assert_int_equal(cookie_session_id("vocal_session=", id), -1);
	assert_int_equal(cookie_session_id("vocal_session=abc", id), -1);
	/* upper case, one digit too many or too few, another cookie's name */
	snprintf(h, sizeof(h), "vocal_session=%.63sA", hex);
	assert_int_equal(cookie_session_id(h, id), -1);
	snprintf(h, sizeof(h), "vocal_session=%s0", hex);
	assert_int_equal(cookie_session_id(h, id), -1);
	snprintf(h, sizeof(h), "vocal_session=%.63s", hex);
	assert_int_equal(cookie_session_id(h, id), -1);
	snprintf(h, sizeof(h), "xvocal_session=%s", hex);
	assert_int_equal(cookie_session_id(h, id), -1);
	snprintf(h, sizeof(h), "vocal_session_old=%s", hex);
	assert_int_equal(cookie_session_id(h, id), -1);

	char set[256];
	session_cookie(set, sizeof(set), hex, false);
	snprintf(h, sizeof(h), "vocal_session=%s; Path=/; HttpOnly; SameSite=Strict", hex);
	assert_string_equal(set, h);
	session_cookie(set, sizeof(set), hex, true);
	assert_non_null(strstr(set, "; SameSite=Strict; Secure"));
	session_cookie(set, sizeof(set), NULL, false);
	assert_string_equal(set, "vocal_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}

static void test_csrf_origin(void **state)
{
	(void)state;
	const char *t = "aa11bb22cc33dd44ee55ff6600778899aa11bb22cc33dd44ee55ff6600778899";
	assert_true(csrf_token_ok(t, t));
	assert_false(csrf_token_ok(t, NULL));
	assert_false(csrf_token_ok(t, ""));
	assert_false(csrf_token_ok(t, "aa11"));
	assert_false(csrf_token_ok(t, "ba11bb22cc33dd44ee55ff6600778899aa11bb22cc33dd44ee55ff6600778899"));
	assert_false(csrf_token_ok(t, "aa11bb22cc33dd44ee55ff6600778899aa11bb22cc33dd44ee55ff66007788990"));
	assert_false(csrf_token_ok("", ""));

	assert_true(api_method_changes("POST"));
	assert_true(api_method_changes("PUT"));
	assert_true(api_method_changes("PATCH"));
	assert_true(api_method_changes("DELETE"));
	assert_false(api_method_changes("GET"));
	assert_false(api_method_changes("HEAD"));

	assert_true(origin_ok(NULL, "provd:8080", ""));
	assert_true(origin_ok("http://provd:8080", "provd:8080", ""));
	assert_true(origin_ok("https://PROVD:8080", "provd:8080", ""));
	assert_false(origin_ok("http://provd:8081", "provd:8080", ""));
	assert_false(origin_ok("http://evil.example", "provd:8080", ""));
	assert_false(origin_ok("http://provd:8080.evil.example", "provd:8080", ""));
	assert_false(origin_ok("null", "provd:8080", ""));
	assert_false(origin_ok("http://provd:8080", NULL, ""));
	assert_false(origin_ok("provd:8080", "provd:8080", ""));
	/* configured: that origin only, whatever Host says */
	assert_true(origin_ok("https://gui.example.net", "10.0.0.1:8080", "https://gui.example.net"));
	assert_false(origin_ok("http://10.0.0.1:8080", "10.0.0.1:8080", "https://gui.example.net"));
}

#define PARSE(spec, text, out, p) body_parse(&(spec), text, strlen(text), true, out, p)

static void test_login_bodies(void **state)
{
	(void)state;
	struct problem p;
	struct login_in l;
	assert_int_equal(PARSE(body_login, "{\"login\":\"Admin\",\"password\":\"x\"}", &l, &p), 0);
	assert_string_equal(l.login, "Admin");
	assert_int_equal(PARSE(body_login, "{\"login\":\"a\"}", &l, &p), -1);
	assert_string_equal(p.detail, "password: required");
	assert_int_equal(PARSE(body_login, "{\"login\":\"a\",\"password\":\"x\",\"otp\":1}", &l, &p), -1);
	assert_int_equal(p.status, 422);

	struct account_in a;
	assert_int_equal(PARSE(body_account,
			       "{\"login\":\"alice@example.com\",\"password\":\"0123456789\",\"role\":\"subscriber\",\"subscriber_id\":3}",
			       &a, &p), 0);
	assert_int_equal(a.subscriber_id, 3);
	assert_true(a.enabled);
	assert_int_equal(PARSE(body_account, "{\"login\":\"x\",\"password\":\"012345678\",\"role\":\"admin\"}", &a, &p), -1);
	assert_non_null(strstr(p.detail, "at least 10 characters"));
	/* ten characters of UTF-8, more than ten bytes */
	assert_int_equal(PARSE(body_account, "{\"login\":\"x\",\"password\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\",\"role\":\"admin\"}", &a, &p), 0);
	assert_int_equal(PARSE(body_account, "{\"login\":\"x\",\"password\":\"0123456789\",\"role\":\"subscriber\"}", &a, &p), -1);
	assert_non_null(strstr(p.detail, "subscriber_id"));
	assert_int_equal(PARSE(body_account, "{\"login\":\"x\",\"password\":\"0123456789\",\"role\":\"admin\",\"subscriber_id\":1}", &a, &p), -1);
	assert_int_equal(PARSE(body_account, "{\"login\":\"-x\",\"password\":\"0123456789\",\"role\":\"admin\"}", &a, &p), -1);
	assert_non_null(strstr(p.detail, "login:"));
	assert_int_equal(body_parse(&body_account, "{\"password\":\"0123456789\"}", 25, false, &a, &p), -1);
	assert_non_null(strstr(p.detail, "password: set it with PUT"));
	assert_int_equal(body_parse(&body_account, "{\"enabled\":false}", 17, false, &a, &p), 0);
	assert_int_equal(a.has, IN_ENABLED);

	char big[1100];
	memset(big, 'x', sizeof(big));
	assert_non_null(web_password_policy("short"));
	big[1024] = 0;
	assert_null(web_password_policy(big));
	big[1025] = 0;
	big[1024] = 'x';
	assert_non_null(web_password_policy(big));
	assert_true(valid_login("a"));
	assert_true(valid_login("A.b_c+d@e-f"));
	assert_false(valid_login(""));
	assert_false(valid_login("_a"));
	assert_false(valid_login("a b"));
	assert_false(valid_login("a\xc3\xa9"));

	struct own_password_in o;
	assert_int_equal(PARSE(body_own_password, "{\"current_password\":\"a\",\"new_password\":\"0123456789\"}", &o, &p), 0);
	assert_int_equal(PARSE(body_own_password, "{\"current_password\":\"a\",\"new_password\":\"012\"}", &o, &p), -1);
	assert_non_null(strstr(p.detail, "new_password: at least"));
	/* the summary of a change never holds a secret */
	char *sum = api_summary(&body_account, &a);
	assert_string_equal(sum, "{\"enabled\":false}");
	free(sum);
	assert_int_equal(PARSE(body_account, "{\"login\":\"bob\",\"password\":\"0123456789\",\"role\":\"admin\"}", &a, &p), 0);
	sum = api_summary(&body_account, &a);
	assert_null(strstr(sum, "0123456789"));
	assert_non_null(strstr(sum, "\"login\":\"bob\""));
	free(sum);
}

static struct sockaddr_in6 v6(const char *text)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, text, &sa.sin6_addr);
	return sa;
}

/* The throttle as provd configures it: a sliding window per address
 * (IPv6 per /64) and per unknown login, bounded tables. */
static void test_throttle(void **state)
{
	(void)state;
	struct session_conf c = {.address_failures = 3, .address_window_ms = 60000,
				 .address_block_ms = 120000, .account_failures = 2,
				 .account_window_ms = 900000, .lock_ms = 30000};
	struct guard_config gc;
	session_guard_config(&c, &gc);
	assert_int_equal(gc.window, GUARD_WINDOW_SLIDING);
	assert_int_equal(gc.addr_limit, 3);
	assert_int_equal(gc.user_limit, 2);
	assert_int_equal(gc.v6_prefix, 64);
	assert_true(gc.addr_capacity > 0 && gc.addr_capacity <= 16384);
	char err[128];
	struct guard *g = guard_new(&gc, err, sizeof(err));
	assert_non_null(g);
	struct sockaddr_in6 a1 = v6("2001:db8:1:2::1"), a2 = v6("2001:db8:1:2:ffff::9"),
			    other = v6("2001:db8:1:3::1");
	sip_str none = {"", 0};
	uint64_t t = 1000000;
	/* two failures, one of them from another address of the same /64 */
	guard_auth_failed(g, (struct sockaddr *)&a1, none, none, t);
	guard_auth_failed(g, (struct sockaddr *)&a2, none, none, t + 1000);
	assert_false(guard_addr_banned(g, (struct sockaddr *)&a1, t + 2000));
	/* the window slides: the first failure has all but left it a
	 * window later, so a third then blocks nothing */
	guard_auth_failed(g, (struct sockaddr *)&a1, none, none, t + 119000);
	assert_false(guard_addr_banned(g, (struct sockaddr *)&a2, t + 119001));
	/* three within one window block the whole /64, not the next one */
	guard_auth_failed(g, (struct sockaddr *)&a2, none, none, t + 200000);
	guard_auth_failed(g, (struct sockaddr *)&a1, none, none, t + 201000);
	assert_false(guard_addr_banned(g, (struct sockaddr *)&a2, t + 201500));
	guard_auth_failed(g, (struct sockaddr *)&a2, none, none, t + 202000);
	assert_true(guard_addr_banned(g, (struct sockaddr *)&a1, t + 202001));
	assert_false(guard_addr_banned(g, (struct sockaddr *)&other, t + 202001));
	/* for address_block, then free again */
	assert_true(guard_addr_banned(g, (struct sockaddr *)&a1, t + 202000 + 119000));
	assert_false(guard_addr_banned(g, (struct sockaddr *)&a1, t + 202000 + 121000));
	/* an unknown login: account_failures block it for lock_ms */
	sip_str ghost = {"ghost", 5};
	guard_auth_failed(g, (struct sockaddr *)&other, ghost, none, t);
	assert_false(guard_user_banned(g, ghost, none, t + 1));
	guard_auth_failed(g, (struct sockaddr *)&other, ghost, none, t + 2);
	assert_true(guard_user_banned(g, ghost, none, t + 3));
	assert_false(guard_user_banned(g, ghost, none, t + 2 + 30001));
	guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authorize),
		cmocka_unit_test(test_route_policy),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_csrf_origin),
		cmocka_unit_test(test_login_bodies),
		cmocka_unit_test(test_throttle),
	};
	return cmocka_run_group_tests_name("provd_auth", tests, NULL, NULL);
}
