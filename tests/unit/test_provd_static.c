/* provd's static files (provisioning/static.c): which paths are the GUI's,
 * and the choice of web.root. What is served and what is refused (".."
 * encoded or not, dot files, symbolic links out of the root) runs against
 * a real provd in tests/integration/web_gui_test.sh. */
#include "unit/testutil.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provisioning/static.h"

static void test_owns(void **state)
{
	(void)state;
	assert_true(static_owns("/"));
	assert_true(static_owns("/index.html"));
	assert_true(static_owns("/js/app.js"));
	assert_true(static_owns("/apis"));
	assert_true(static_owns("/apix/v1"));
	assert_true(static_owns("/API/v1/domains"));  /* paths are case-sensitive */
	assert_false(static_owns("/api"));
	assert_false(static_owns("/api/"));
	assert_false(static_owns("/api/v1/domains"));
	assert_false(static_owns("/api/v2"));
}

static void test_root(void **state)
{
	(void)state;
	char err[512], dir[] = "/tmp/vocal-static-XXXXXX", real[PATH_MAX], file[64];
	assert_non_null(mkdtemp(dir));
	assert_non_null(realpath(dir, real));
	assert_int_equal(static_init(dir, err, sizeof(err)), 0);
	assert_string_equal(static_root(), real);

	/* a trailing slash or a ".." in the setting: the same real path */
	char alt[sizeof(dir) + 32];
	snprintf(alt, sizeof(alt), "%s/../%s/", dir, strrchr(dir, '/') + 1);
	assert_int_equal(static_init(alt, err, sizeof(err)), 0);
	assert_string_equal(static_root(), real);

	snprintf(file, sizeof(file), "%s/f", dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(static_init(file, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a directory"));
	assert_string_equal(static_root(), "");

	assert_int_equal(static_init("/nonexistent/vocal-web", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "web.root /nonexistent/vocal-web"));
	assert_string_equal(static_root(), "");

	/* empty: next to the program, or nothing (1) */
	int rc = static_init("", err, sizeof(err));
	assert_true(rc == 0 || rc == 1);
	assert_true(rc == 0 ? static_root()[0] == '/' : static_root()[0] == 0);

	unlink(file);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owns),
		cmocka_unit_test(test_root),
	};
	return cmocka_run_group_tests_name("provd_static", tests, NULL, NULL);
}
