/*
 * The deduplicated id set of batched reloads (common/idset.h): order of
 * first addition, duplicates kept once across the table's growth, taking
 * empties it, and the PostgreSQL array literal.
 */
#include "unit/testutil.h"

#include "idset.h"

static void test_dedup_order(void **state)
{
	(void)state;
	struct idset set = {0};
	assert_int_equal(1, idset_add(&set, 42));
	assert_int_equal(1, idset_add(&set, 7));
	assert_int_equal(0, idset_add(&set, 42));
	assert_int_equal(1, idset_add(&set, -3));
	assert_int_equal(1, idset_add(&set, 0));
	assert_int_equal(0, idset_add(&set, 7));
	size_t n;
	int64_t *ids = idset_take(&set, &n);
	assert_int_equal(4, n);
	assert_int_equal(42, ids[0]);
	assert_int_equal(7, ids[1]);
	assert_int_equal(-3, ids[2]);
	assert_int_equal(0, ids[3]);
	free(ids);
	/* taking empties the set, which works again */
	assert_null(idset_take(&set, &n));
	assert_int_equal(0, n);
	assert_int_equal(1, idset_add(&set, 42));
	idset_clear(&set);
	assert_int_equal(0, set.n);
}

/* 100,000 ids, each added three times around the table's resizes. */
static void test_growth(void **state)
{
	(void)state;
	struct idset set = {0};
	for (int64_t id = 1; id <= 100000; id++) {
		assert_int_equal(1, idset_add(&set, id * 1000));
		assert_int_equal(0, idset_add(&set, id * 1000));
		if (id > 1)
			assert_int_equal(0, idset_add(&set, (id - 1) * 1000));
	}
	size_t n;
	int64_t *ids = idset_take(&set, &n);
	assert_int_equal(100000, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal((int64_t)(i + 1) * 1000, ids[i]);
	free(ids);
}

static void test_pg_array(void **state)
{
	(void)state;
	const int64_t ids[] = {1, -2, INT64_MAX, INT64_MIN};
	char *a = idset_pg_array(ids, 4);
	assert_string_equal("{1,-2,9223372036854775807,-9223372036854775808}", a);
	free(a);
	a = idset_pg_array(ids, 0);
	assert_string_equal("{}", a);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dedup_order),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_pg_array),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
