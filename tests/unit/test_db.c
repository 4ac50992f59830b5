/*
 * Unit tests for common/db.[ch] that need no server: connection failures
 * come back as NULL with one line of reason in the caller's buffer (however
 * small), never printed. The migrations themselves are tested against a
 * real PostgreSQL in tests/integration/migrate_test.sh.
 */
#include "testutil.h"

#include "db.h"

static void test_connect_refused(void **state)
{
	(void)state;
	char err[512] = "";
	/* Port 1 on loopback: nothing listens there. */
	PGconn *c = db_connect("postgresql://vocal:vocal@127.0.0.1:1/vocal?connect_timeout=2",
		err, sizeof err);
	assert_null(c);
	assert_non_null(strstr(err, "cannot connect to the database"));
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\t'));
}

static void test_connect_bad_conninfo(void **state)
{
	(void)state;
	char err[512] = "";
	assert_null(db_connect("host=127.0.0.1 nosuchkeyword=1", err, sizeof err));
	assert_non_null(strstr(err, "nosuchkeyword"));
}

static void test_connect_small_buffer(void **state)
{
	(void)state;
	char err[8];
	memset(err, 'x', sizeof err);
	assert_null(db_connect("host=127.0.0.1 port=1", err, sizeof err));
	assert_int_equal(strlen(err), sizeof err - 1);
	/* And no buffer at all is allowed. */
	assert_null(db_connect("host=127.0.0.1 port=1", NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_connect_bad_conninfo),
		cmocka_unit_test(test_connect_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
