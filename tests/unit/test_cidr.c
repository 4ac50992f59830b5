/* IP networks in CIDR notation (common/cidr.h). */
#include "unit/testutil.h"

#include <arpa/inet.h>

#include "cidr.h"

static struct sockaddr_storage addr(const char *ip)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1)
		v4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1)
		v6->sin6_family = AF_INET6;
	else
		fail_msg("bad test address %s", ip);
	return ss;
}

static bool in(const char *net, const char *ip)
{
	struct cidr c;
	char err[128];
	assert_int_equal(cidr_parse(net, &c, err, sizeof(err)), 0);
	struct sockaddr_storage ss = addr(ip);
	return cidr_match(&c, (struct sockaddr *)&ss);
}

static void test_match(void **state)
{
	(void)state;
	assert_true(in("10.0.0.0/8", "10.200.1.1"));
	assert_false(in("10.0.0.0/8", "11.0.0.1"));
	assert_true(in("192.0.2.7", "192.0.2.7"));
	assert_false(in("192.0.2.7", "192.0.2.8"));
	assert_true(in("192.0.2.0/25", "192.0.2.127"));
	assert_false(in("192.0.2.0/25", "192.0.2.128"));
	assert_true(in("192.0.2.77/24", "192.0.2.1")); /* host bits ignored */
	assert_true(in("0.0.0.0/0", "203.0.113.9"));
	assert_true(in("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(in("2001:db8::/32", "2001:db9::1"));
	assert_true(in("::1/128", "::1"));
	/* an IPv4-mapped IPv6 source is the IPv4 address */
	assert_true(in("127.0.0.0/8", "::ffff:127.0.0.1"));
	assert_true(in("::ffff:0:0/96", "127.0.0.1")); /* every mapped address: all of IPv4 */
	assert_false(in("10.0.0.0/8", "::1"));
	assert_false(in("192.0.2.0/24", "::192.0.2.9")); /* IPv4-compatible is not mapped */
	assert_true(in("10.0.0.0/9", "10.127.255.255"));
	assert_false(in("10.0.0.0/9", "10.128.0.0"));
	/* an IPv4-mapped network (as PostgreSQL may print one) is the IPv4 one */
	struct cidr c;
	char err[128];
	assert_int_equal(cidr_parse("::ffff:192.0.2.0/120", &c, err, sizeof(err)), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 24);
	assert_true(in("::ffff:192.0.2.0/120", "192.0.2.7"));
	assert_true(in("::ffff:192.0.2.0/120", "::ffff:192.0.2.7"));
	assert_false(in("2001:db8::/32", "10.0.0.1"));
}

static void test_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/8x",
					  "2001:db8::/129", "example.com", "10.0.0.0/-1", "1.2.3.4.5",
					  "10.0.0.0//8"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cidr c;
		char err[128] = "";
		assert_int_equal(cidr_parse(bad[i], &c, err, sizeof(err)), -1);
		assert_true(err[0] != 0);
	}
	struct sockaddr_storage none = {0};
	struct cidr c;
	char err[128];
	assert_int_equal(cidr_parse("0.0.0.0/0", &c, err, sizeof(err)), 0);
	assert_false(cidr_match(&c, (struct sockaddr *)&none)); /* AF_UNSPEC */
	assert_false(cidr_list_match(&c, 0, (struct sockaddr *)&none));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
