/* The feature-hop parameter (common/feature_hop.h): where a call is on its
 * way through feature servers, signed. */
#include "unit/testutil.h"

#include "feature_hop.h"

static uint8_t key[FEATURE_HOP_KEY_LEN];

static int setup(void **state)
{
	(void)state;
	return feature_hop_key_parse("000102030405060708090a0b0c0d0e0f"
				     "101112131415161718191A1B1C1D1E1F", key);
}

#define S(lit) sip_str_make(lit, sizeof(lit) - 1)

static int fmt(const struct feature_hop *h, const char *call_id, const char *user,
	       const char *host, char *out, size_t cap)
{
	return feature_hop_format(h, key, sip_str_make(call_id, strlen(call_id)),
				  sip_str_make(user, strlen(user)), sip_str_make(host, strlen(host)),
				  out, cap);
}

static int parse(const char *v, const char *call_id, const char *user, const char *host,
		 struct feature_hop *h)
{
	return feature_hop_parse(sip_str_make(v, strlen(v)), key,
				 sip_str_make(call_id, strlen(call_id)),
				 sip_str_make(user, strlen(user)), sip_str_make(host, strlen(host)), h);
}

static void test_round_trip(void **state)
{
	(void)state;
	const struct feature_hop cases[] = {
		{FEATURE_HOP_CALLING, 0, 5, 0},
		{FEATURE_HOP_CALLED, 3, 12, 2},
		{FEATURE_HOP_RETARGETED, 0, 0, 1},
		{FEATURE_HOP_CALLED, UINT32_MAX, INT64_MAX, UINT32_MAX},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char v[FEATURE_HOP_MAX];
		int n = fmt(&cases[i], "abc@host", "bob", "Example.COM", v, sizeof v);
		assert_true(n > 0);
		assert_int_equal((size_t)n, strlen(v));
		struct feature_hop h = {0};
		/* the host folds, as host names do */
		assert_int_equal(parse(v, "abc@host", "bob", "example.com", &h), 0);
		assert_int_equal(h.phase, cases[i].phase);
		assert_int_equal(h.index, cases[i].index);
		assert_int_equal(h.group_id, cases[i].group_id);
		assert_int_equal(h.forwards, cases[i].forwards);
		/* without the secret (a routing hint): the same fields, and a
		 * value whose MAC is wrong reads the same */
		struct feature_hop p = {0};
		assert_int_equal(feature_hop_peek(sip_str_make(v, strlen(v)), &p), 0);
		assert_true(p.phase == h.phase && p.index == h.index && p.group_id == h.group_id &&
			    p.forwards == h.forwards);
		v[n - 1] = v[n - 1] == '0' ? '1' : '0';
		assert_int_equal(feature_hop_peek(sip_str_make(v, strlen(v)), &p), 0);
		assert_int_equal(parse(v, "abc@host", "bob", "example.com", &h), -1);
	}
	struct feature_hop p;
	assert_int_equal(feature_hop_peek(S("t.x.12.2.0123456789abcdef"), &p), -1);
	assert_int_equal(feature_hop_peek(S("t.3.12.2"), &p), -1);
	assert_int_equal(feature_hop_peek(S("q.3.12.2.0123456789abcdef"), &p), -1);
	char v[FEATURE_HOP_MAX];
	assert_int_equal(fmt(&cases[1], "abc@host", "bob", "example.com", v, sizeof v),
			 (int)strlen("t.3.12.2.") + 16);
	assert_memory_equal(v, "t.3.12.2.", 9);
}

/* The MAC binds the value to the call and the target. */
static void test_binding(void **state)
{
	(void)state;
	struct feature_hop h0 = {FEATURE_HOP_CALLING, 1, 7, 0}, h = {0};
	char v[FEATURE_HOP_MAX];
	assert_true(fmt(&h0, "call-1", "alice", "example.com", v, sizeof v) > 0);
	assert_int_equal(parse(v, "call-1", "alice", "example.com", &h), 0);
	assert_int_equal(parse(v, "call-2", "alice", "example.com", &h), -1);
	assert_int_equal(parse(v, "call-1", "Alice", "example.com", &h), -1); /* users do not fold */
	assert_int_equal(parse(v, "call-1", "alice", "example.org", &h), -1);
	/* the parts are length-prefixed: moving a character across does not help */
	assert_true(fmt(&h0, "ab", "c", "h", v, sizeof v) > 0);
	assert_int_equal(parse(v, "a", "bc", "h", &h), -1);

	/* a phone that edits the value (to skip call blocking) is found out */
	assert_true(fmt(&h0, "call-1", "alice", "example.com", v, sizeof v) > 0);
	char forged[FEATURE_HOP_MAX];
	strcpy(forged, v);
	forged[2] = '9';
	assert_int_equal(parse(forged, "call-1", "alice", "example.com", &h), -1);
	strcpy(forged, v);
	forged[strlen(forged) - 1] ^= 1;
	assert_int_equal(parse(forged, "call-1", "alice", "example.com", &h), -1);
	/* with another key */
	uint8_t other[FEATURE_HOP_KEY_LEN] = {1};
	h = (struct feature_hop){0};
	assert_int_equal(feature_hop_parse(sip_str_make(v, strlen(v)), other, S("call-1"), S("alice"),
					   S("example.com"), &h),
			 -1);
	assert_int_equal(h.phase, 0); /* untouched on failure */
}

static void test_malformed(void **state)
{
	(void)state;
	struct feature_hop h = {0};
	const char *bad[] = {
		"", "c", "c.0.5.0", "c.0.5.0.", "x.0.5.0.0123456789abcdef", "c.00.5.0.0123456789abcdef",
		"c.-1.5.0.0123456789abcdef", "c.0.5.0.0123456789abcde", "c.0.5.0.0123456789abcdefa",
		"c.0..0.0123456789abcdef", "c.4294967296.5.0.0123456789abcdef",
		"c.0.9223372036854775808.0.0123456789abcdef", "c0.5.0.0123456789abcdef",
		"c.0.5.0.1.0123456789abcdef", "c.0.5.0;0123456789abcdef",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(parse(bad[i], "x", "u", "h", &h), -1);
	assert_int_equal(feature_hop_parse(SIP_STR_NULL, key, S("x"), S("u"), S("h"), &h), -1);

	uint8_t k[FEATURE_HOP_KEY_LEN];
	assert_int_equal(feature_hop_key_parse("00", k), -1);
	assert_int_equal(feature_hop_key_parse(NULL, k), -1);
	assert_int_equal(feature_hop_key_parse("zz0102030405060708090a0b0c0d0e0f"
					       "101112131415161718191a1b1c1d1e1f", k),
			 -1);

	/* too small a buffer */
	char v[20];
	struct feature_hop h0 = {FEATURE_HOP_CALLED, 0, 1, 0};
	assert_int_equal(fmt(&h0, "x", "u", "h", v, sizeof v), -1);
	h0.phase = 'z';
	char w[FEATURE_HOP_MAX];
	assert_int_equal(fmt(&h0, "x", "u", "h", w, sizeof w), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_binding),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
