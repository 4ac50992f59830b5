/*
 * The pure parts of the provisioning cache (common/store_internal.h):
 * notification payloads, user-part normalisation, IP networks and
 * dial-plan templates. The database side is in
 * tests/integration/store_test.sh.
 */
#include "unit/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "store_internal.h"

/* ---- notification payloads ---------------------------------------------- */

static void test_change_trigger_forms(void **state)
{
	struct store_change c;
	(void)state;

	assert_int_equal(0, store_parse_change(
				    "{\"table\" : \"subscribers\", \"op\" : \"UPDATE\", \"id\" : 42, "
				    "\"domain_id\" : 1}",
				    &c));
	assert_string_equal("subscribers", c.table);
	assert_string_equal("UPDATE", c.op);
	assert_int_equal(42, c.id);
	assert_string_equal("domain_id", c.owner);
	assert_int_equal(1, c.owner_id);

	assert_int_equal(0, store_parse_change("{\"table\" : \"domains\", \"op\" : \"DELETE\", \"id\" : 7}", &c));
	assert_string_equal("domains", c.table);
	assert_string_equal("DELETE", c.op);
	assert_int_equal(7, c.id);
	assert_string_equal("", c.owner);
	assert_int_equal(0, c.owner_id);

	/* Compact, reordered, with white space of every kind and a null owner. */
	assert_int_equal(0, store_parse_change(" {\"id\":9223372036854775807,\"op\":\"INSERT\",\n\t"
					       "\"subscriber_id\":null,\"table\":\"aliases\"} ",
					       &c));
	assert_int_equal(INT64_MAX, c.id);
	assert_string_equal("subscriber_id", c.owner);
	assert_int_equal(0, c.owner_id);
	assert_string_equal("aliases", c.table);

	/* Escapes, and members we do not know (skipped). */
	assert_int_equal(0, store_parse_change("{\"table\" : \"loc\\u0061tion\\/x\", \"op\" : \"INSERT\", "
					       "\"id\" : -3, \"extra\" : \"a\\\"b\", \"flag\" : true, "
					       "\"n\" : 0}",
					       &c));
	assert_string_equal("location/x", c.table);
	assert_int_equal(-3, c.id);
}

static void test_change_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"{}",
		"[]",
		"{\"table\" : \"x\", \"op\" : \"INSERT\"}",			/* no id */
		"{\"table\" : \"x\", \"id\" : 1}",					/* no op */
		"{\"op\" : \"INSERT\", \"id\" : 1}",					/* no table */
		"{\"table\" : \"\", \"op\" : \"INSERT\", \"id\" : 1}",		/* empty table */
		"{\"table\" : \"x\", \"op\" : \"TRUNCATE\", \"id\" : 1}",		/* unknown op */
		"{\"table\" : \"x\", \"op\" : \"insert\", \"id\" : 1}",		/* ops are upper case */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : \"1\"}",		/* id a string */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1.5}",		/* not an integer */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1e3}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 01}",		/* leading zero */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 9223372036854775808}", /* overflow */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 99999999999999999999999}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : -}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1",		/* unterminated */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1} x",		/* trailing bytes */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1,}",		/* trailing comma */
		"{\"table\" : \"x\" \"op\" : \"INSERT\", \"id\" : 1}",		/* no comma */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"o\" : {}}",	/* nested */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"o\" : [1]}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"a_id\" : 2, \"b_id\" : 3}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"a_id\" : \"2\"}",
		"{\"table\" : \"x\\q\", \"op\" : \"INSERT\", \"id\" : 1}",		/* bad escape */
		"{\"table\" : \"x\\u00e9\", \"op\" : \"INSERT\", \"id\" : 1}",	/* non-ASCII \u */
		"{\"table\" : \"x\\u0000\", \"op\" : \"INSERT\", \"id\" : 1}",
		"{\"table\" : \"x\\u12\", \"op\" : \"INSERT\", \"id\" : 1}",
		"{\"table\" : \"x\ty\", \"op\" : \"INSERT\", \"id\" : 1}",		/* raw control character */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"t\" : tru}",
		("{\"table\" : \"an overly long table name that is longer than sixty-three bytes, "
		 "which PostgreSQL never sends\", \"op\" : \"INSERT\", \"id\" : 1}"),
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"x\" : \"unterminated}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"x\" : \"\\",
	};
	struct store_change c;
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (store_parse_change(bad[i], &c) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
	assert_int_equal(-1, store_parse_change(NULL, &c));
}

/* Every prefix of a valid payload is refused, and nothing reads past the
 * end (ASan, with exact-size copies). */
static void test_change_truncated(void **state)
{
	const char *full = "{\"table\" : \"location_bindings\", \"op\" : \"INSERT\", \"id\" : 7, "
			   "\"subscriber_id\" : 42}";
	struct store_change c;
	(void)state;

	for (size_t n = 0; n < strlen(full); n++) {
		char *p = malloc(n + 1);
		memcpy(p, full, n);
		p[n] = '\0';
		assert_int_equal(-1, store_parse_change(p, &c));
		free(p);
	}
	assert_int_equal(0, store_parse_change(full, &c));
	assert_int_equal(42, c.owner_id);
}

/* ---- user parts ------------------------------------------------------------- */

static const char *norm(const char *user)
{
	static char out[64];
	if (store_user_normalize(sip_str_make(user, strlen(user)), out, sizeof out) < 0)
		return "(error)";
	return out;
}

static void test_user_normalize(void **state)
{
	(void)state;
	assert_string_equal("alice", norm("alice"));
	assert_string_equal("Alice", norm("Alice"));		/* case is kept */
	assert_string_equal("dave", norm("d%61ve"));		/* unreserved: decoded */
	assert_string_equal("a-_.!~*'()", norm("a%2d%5F%2E%21%7e%2A%27%28%29"));
	assert_string_equal("%2Bcarol", norm("%2bcarol"));	/* reserved: kept, hex upper */
	assert_string_equal("%40%3A", norm("%40%3a"));
	assert_string_equal("x%", norm("x%"));			/* not an escape: as is */
	assert_string_equal("x%4", norm("x%4"));
	assert_string_equal("%zz", norm("%zz"));
	assert_string_equal("", norm(""));

	char small[4];
	assert_int_equal(3, store_user_normalize(SIP_STR_LIT("%61bc"), small, sizeof small));
	assert_string_equal("abc", small);
	assert_int_equal(-1, store_user_normalize(SIP_STR_LIT("abcd"), small, sizeof small));
	assert_int_equal(-1, store_user_normalize(SIP_STR_LIT("a%2B"), small, sizeof small));
	assert_int_equal(-1, store_user_normalize(sip_str_make("a\0b", 3), small, sizeof small));
}

/* ---- dial-plan templates ------------------------------------------------------ */

/* Matches pattern against subject (whole) and expands tmpl. */
static const char *expand(const char *pattern, const char *subject, const char *tmpl, size_t cap)
{
	static char out[256];
	regex_t re;
	regmatch_t m[10];
	assert_int_equal(0, regcomp(&re, pattern, REG_EXTENDED));
	assert_int_equal(0, regexec(&re, subject, 10, m, 0));
	long n = store_template_expand(tmpl, subject, m, 10, out, cap);
	regfree(&re);
	if (n < 0)
		return "(too small)";
	assert_int_equal(strlen(out), (size_t)n);
	return out;
}

static void test_template(void **state)
{
	(void)state;
	assert_string_equal("sip:0301234@gw;user=phone",
			    expand("^\\+?49([0-9]+)$", "+49301234", "sip:0\\1@gw;user=phone", 256));
	assert_string_equal("sip:+4930@gw;cc=49",
			    expand("^00([0-9]{2})([0-9]+)$", "004930", "sip:+\\1\\2@gw;cc=\\1", 256));
	assert_string_equal("sip:123@pbx", expand("^[0-9]{3}$", "123", "sip:\\0@pbx", 256));
	/* A group that took no part, a group beyond the pattern's: empty. */
	assert_string_equal("sip:a@x", expand("^(a)(b)?$", "a", "sip:\\1\\2\\9@x", 256));
	/* "\\" is one backslash; a backslash before anything else stays. */
	assert_string_equal("sip:a\\1@x", expand("^(a)$", "a", "sip:\\1\\\\1@x", 256));
	assert_string_equal("sip:\\x@y\\", expand("^(a)$", "a", "sip:\\x@y\\", 256));
	/* Exactly fits, one byte short. */
	assert_string_equal("sip:abc", expand("^(abc)$", "abc", "sip:\\1", 8));
	assert_string_equal("(too small)", expand("^(abc)$", "abc", "sip:\\1", 7));
	assert_string_equal("(too small)", expand("^(abc)$", "abc", "sip:\\1", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_change_trigger_forms),
		cmocka_unit_test(test_change_refused),
		cmocka_unit_test(test_change_truncated),
		cmocka_unit_test(test_user_normalize),
		cmocka_unit_test(test_template),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
