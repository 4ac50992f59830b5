/* Dial-plan patterns too costly for glibc's regcomp (common/regex_guard.h). */
#include "unit/testutil.h"

#include "regex_guard.h"

static void test_cheap_patterns_pass(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$", /* the demo's North American numbers */
		"^00([1-9][0-9]{6,14})$", "[+*?]+", "a\\++", "(ab)*c?", "x{999}", "[[:digit:]]{3}-[0-9]{4}",
		"", "a{", "a{x}",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (regex_too_costly(ok[i]))
			fail_msg("refused: %s (%s)", ok[i], regex_too_costly(ok[i]));
}

static void test_costly_patterns_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"a++", "a*{2}", "a?*", "(a|b)+*", "W+++++++++++++++++++++(a|b", "a{2}{3}",
		"(a{10}){10}(b{20})", "x{1001}", "a{0,1001}",
		/* found by fuzz_api_json: a bound strtol saturates */
		"?{{15555555555555555555555555555555555555555555555555555555550,{e",
		"a{5,99999999999999999999999999}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!regex_too_costly(bad[i]))
			fail_msg("accepted: %s", bad[i]);
	assert_string_equal(regex_too_costly("a++"), "a repetition of a repetition");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cheap_patterns_pass),
		cmocka_unit_test(test_costly_patterns_refused),
	};
	return cmocka_run_group_tests_name("regex_guard", tests, NULL, NULL);
}
