/*
 * The marshal's guard: failure counts per address and per user, bans and
 * their end, windows, IPv6 prefixes and IPv4-mapped addresses, the
 * allowlist, bounded tables under a flood of spoofed sources, scanners.
 */
#include "unit/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include "guard.h"

struct ban_log {
	int n;
	enum guard_kind kind;
	char who[256];
	unsigned failures;
	uint64_t until;
};

static void on_ban(void *arg, const struct guard_ban *b)
{
	struct ban_log *l = arg;
	l->n++;
	l->kind = b->kind;
	snprintf(l->who, sizeof(l->who), "%s", b->who);
	l->failures = b->failures;
	l->until = b->until_ms;
}

/* A socket address from "1.2.3.4" or "2001:db8::1" (any port). */
static const struct sockaddr *sa(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
	}
	return (const struct sockaddr *)ss;
}

#define S(lit) SIP_STR_LIT(lit)
#define NOUSER SIP_STR_NULL

static struct guard *new_guard(struct guard_config *c)
{
	char err[128] = "";
	struct guard *g = guard_new(c, err, sizeof(err));
	if (!g)
		fail_msg("guard_new: %s", err);
	return g;
}

static struct guard_config defaults(void)
{
	struct guard_config c;
	guard_config_defaults(&c);
	return c;
}

static void addr_limit_bans_the_address(void **state)
{
	(void)state;
	struct guard *g = new_guard(NULL);
	struct ban_log log = {0};
	guard_set_ban_cb(g, on_ban, &log);
	struct sockaddr_storage a, b;
	uint64_t t = 1000;
	for (int i = 0; i < 9; i++) {
		/* each failure from another port: ports do not matter */
		assert_int_equal(guard_auth_failed(g, sa(&a, "192.0.2.7", (uint16_t)(5060 + i)),
						   NOUSER, NOUSER, t),
				 0);
		t += 100;
	}
	assert_false(guard_addr_banned(g, sa(&a, "192.0.2.7", 5060), t));
	assert_int_equal(log.n, 0);
	assert_int_equal(guard_auth_failed(g, sa(&a, "192.0.2.7", 9999), NOUSER, NOUSER, t),
			 GUARD_ADDR);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.kind, GUARD_ADDR);
	assert_string_equal(log.who, "192.0.2.7");
	assert_int_equal(log.failures, 10);
	assert_int_equal(log.until, t + 300000);
	assert_true(guard_addr_banned(g, sa(&a, "192.0.2.7", 1), t + 1));
	assert_false(guard_addr_banned(g, sa(&b, "192.0.2.8", 5060), t + 1));
	/* a banned address is not counted again: no second ban, no longer ban */
	assert_int_equal(guard_auth_failed(g, sa(&a, "192.0.2.7", 1), NOUSER, NOUSER, t + 2), 0);
	assert_int_equal(log.n, 1);

	struct guard_stats st;
	guard_get_stats(g, &st);
	assert_int_equal(st.addr_bans, 1);
	assert_int_equal(st.user_bans, 0);
	assert_int_equal(st.drops, 1);
	assert_int_equal(st.failures, 11);
	assert_int_equal(st.addr_entries, 1);
	assert_int_equal(st.addr_banned, 1);
	guard_free(g);
}

static void user_limit_bans_the_user(void **state)
{
	(void)state;
	struct guard *g = new_guard(NULL);
	struct ban_log log = {0};
	guard_set_ban_cb(g, on_ban, &log);
	struct sockaddr_storage a;
	char ip[32];
	unsigned r = 0;
	/* five guesses from five addresses: no address ban, a user ban */
	for (int i = 0; i < 5; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		r = guard_auth_failed(g, sa(&a, ip, 5060), S("alice"), S("Example.COM"), 5000);
		assert_int_equal(r, i == 4 ? GUARD_USER : 0);
	}
	assert_int_equal(log.n, 1);
	assert_int_equal(log.kind, GUARD_USER);
	assert_string_equal(log.who, "alice@example.com");
	assert_int_equal(log.failures, 5);
	/* the domain compares without case, the user with */
	assert_true(guard_user_banned(g, S("alice"), S("example.com"), 5001));
	assert_true(guard_user_banned(g, S("alice"), S("EXAMPLE.com"), 5001));
	assert_false(guard_user_banned(g, S("Alice"), S("example.com"), 5001));
	assert_false(guard_user_banned(g, S("alice"), S("example.org"), 5001));
	assert_false(guard_addr_banned(g, sa(&a, "198.51.100.1", 5060), 5001));
	/* ends after user_ban_ms, and the count starts over */
	assert_true(guard_user_banned(g, S("alice"), S("example.com"), 5000 + 300000 - 1));
	assert_false(guard_user_banned(g, S("alice"), S("example.com"), 5000 + 300000));
	for (int i = 0; i < 4; i++)
		assert_int_equal(guard_auth_failed(g, NULL, S("alice"), S("example.com"), 305001), 0);
	assert_int_equal(guard_auth_failed(g, NULL, S("alice"), S("example.com"), 305001),
			 GUARD_USER);

	struct guard_stats st;
	guard_get_stats(g, &st);
	assert_int_equal(st.user_bans, 2);
	assert_int_equal(st.user_rejects, 3);
	guard_free(g);
}

static void both_bans_at_once(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	c.addr_limit = 3;
	c.user_limit = 3;
	struct guard *g = new_guard(&c);
	struct sockaddr_storage a;
	sa(&a, "203.0.113.9", 5060);
	guard_auth_failed(g, (struct sockaddr *)&a, S("bob"), S("x"), 0);
	guard_auth_failed(g, (struct sockaddr *)&a, S("bob"), S("x"), 0);
	assert_int_equal(guard_auth_failed(g, (struct sockaddr *)&a, S("bob"), S("x"), 0),
			 GUARD_ADDR | GUARD_USER);
	guard_free(g);
}

static void fixed_window_starts_over(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	c.window = GUARD_WINDOW_FIXED;
	struct guard *g = new_guard(&c);
	struct sockaddr_storage a;
	sa(&a, "192.0.2.1", 5060);
	const struct sockaddr *s = (struct sockaddr *)&a;
	/* the window opens at the first failure (t = 10 s) */
	for (int i = 0; i < 9; i++)
		assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 10000 + 6000 * (uint64_t)i), 0);
	/* t = 70 s: the window of 60 s is over, nine more are allowed */
	for (int i = 0; i < 9; i++)
		assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 70000 + (uint64_t)i), 0);
	assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 129999), GUARD_ADDR);
	guard_free(g);
}

static void sliding_window_carries_the_previous_one(void **state)
{
	(void)state;
	struct guard *g = new_guard(NULL);
	struct sockaddr_storage a, b;
	const struct sockaddr *s = sa(&a, "192.0.2.1", 5060);
	for (int i = 0; i < 9; i++)
		assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 0), 0);
	/* t = 61 s: the nine still weigh 9 * 59/60 -> 8; two more reach 10 */
	assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 61000), 0);
	assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 61000), GUARD_ADDR);

	/* the same nine, then nothing for two windows: they weigh nothing */
	const struct sockaddr *s2 = sa(&b, "192.0.2.2", 5060);
	for (int i = 0; i < 9; i++)
		assert_int_equal(guard_auth_failed(g, s2, NOUSER, NOUSER, 0), 0);
	for (int i = 0; i < 9; i++)
		assert_int_equal(guard_auth_failed(g, s2, NOUSER, NOUSER, 120000), 0);
	assert_int_equal(guard_auth_failed(g, s2, NOUSER, NOUSER, 120000), GUARD_ADDR);
	guard_free(g);
}

static void ban_ends_and_counting_starts_over(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	c.addr_limit = 2;
	c.addr_ban_ms = 1000;
	struct guard *g = new_guard(&c);
	struct sockaddr_storage a;
	const struct sockaddr *s = sa(&a, "192.0.2.1", 5060);
	guard_auth_failed(g, s, NOUSER, NOUSER, 100);
	assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 100), GUARD_ADDR);
	assert_true(guard_addr_banned(g, s, 1099));
	assert_false(guard_addr_banned(g, s, 1100));
	/* the ended ban is gone: one failure is one, not a new ban */
	assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 1200), 0);
	assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 1200), GUARD_ADDR);
	guard_free(g);
}

static void ipv6_per_prefix_and_mapped_ipv4(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	c.addr_limit = 2;
	struct guard *g = new_guard(&c);
	struct ban_log log = {0};
	guard_set_ban_cb(g, on_ban, &log);
	struct sockaddr_storage a, b;
	/* two addresses of one /64 are one source by default */
	guard_auth_failed(g, sa(&a, "2001:db8:1:2::1", 5060), NOUSER, NOUSER, 0);
	assert_int_equal(guard_auth_failed(g, sa(&b, "2001:db8:1:2:aaaa::9", 5060), NOUSER,
					   NOUSER, 0),
			 GUARD_ADDR);
	assert_string_equal(log.who, "2001:db8:1:2::/64");
	assert_true(guard_addr_banned(g, sa(&a, "2001:db8:1:2:ffff:ffff:ffff:ffff", 1), 1));
	assert_false(guard_addr_banned(g, sa(&a, "2001:db8:1:3::1", 1), 1));

	/* an IPv4-mapped IPv6 address is its IPv4 address */
	guard_auth_failed(g, sa(&a, "192.0.2.44", 5060), NOUSER, NOUSER, 0);
	assert_int_equal(guard_auth_failed(g, sa(&b, "::ffff:192.0.2.44", 5060), NOUSER, NOUSER, 0),
			 GUARD_ADDR);
	assert_string_equal(log.who, "192.0.2.44");
	assert_true(guard_addr_banned(g, sa(&a, "192.0.2.44", 1), 1));
	assert_true(guard_addr_banned(g, sa(&a, "::ffff:192.0.2.44", 1), 1));
	/* ... and the /64 rule does not apply to it */
	assert_false(guard_addr_banned(g, sa(&a, "192.0.2.45", 1), 1));
	guard_free(g);

	/* with /128, every address counts alone */
	c.v6_prefix = 128;
	g = new_guard(&c);
	guard_set_ban_cb(g, on_ban, &log);
	guard_auth_failed(g, sa(&a, "2001:db8::1", 5060), NOUSER, NOUSER, 0);
	assert_int_equal(guard_auth_failed(g, sa(&b, "2001:db8::2", 5060), NOUSER, NOUSER, 0), 0);
	assert_int_equal(guard_auth_failed(g, sa(&b, "2001:db8::2", 5060), NOUSER, NOUSER, 0),
			 GUARD_ADDR);
	assert_string_equal(log.who, "2001:db8::2");
	assert_false(guard_addr_banned(g, sa(&a, "2001:db8::1", 1), 1));
	guard_free(g);
}

static void allowlist_is_never_banned(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	c.addr_limit = 1;
	struct guard *g = new_guard(&c);
	char err[128];
	assert_int_equal(guard_allow(g, "10.0.0.0/8", err, sizeof(err)), 0);
	assert_int_equal(guard_allow(g, "192.0.2.1", err, sizeof(err)), 0);
	assert_int_equal(guard_allow(g, "2001:db8:ffff::/48", err, sizeof(err)), 0);
	assert_int_equal(guard_allow(g, "172.16.1.1/12", err, sizeof(err)), 0); /* host bits ignored */
	assert_int_equal(guard_allow(g, "10.0.0.0/33", err, sizeof(err)), -1);
	assert_int_equal(guard_allow(g, "::/129", err, sizeof(err)), -1);
	assert_int_equal(guard_allow(g, "example.com", err, sizeof(err)), -1);
	assert_int_equal(guard_allow(g, "10.0.0.0/", err, sizeof(err)), -1);

	struct sockaddr_storage a;
	const char *ok[] = {"10.1.2.3", "::ffff:10.9.9.9", "192.0.2.1", "2001:db8:ffff:1::5",
			    "172.31.255.255"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_true(guard_allowed(g, sa(&a, ok[i], 1)));
		for (int k = 0; k < 5; k++)
			assert_int_equal(guard_auth_failed(g, sa(&a, ok[i], 1), NOUSER, NOUSER, 0), 0);
		assert_false(guard_addr_banned(g, sa(&a, ok[i], 1), 0));
	}
	const char *no[] = {"11.0.0.1", "192.0.2.2", "2001:db8:fffe::1", "172.32.0.1"};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		assert_false(guard_allowed(g, sa(&a, no[i], 1)));
		assert_int_equal(guard_auth_failed(g, sa(&a, no[i], 1), NOUSER, NOUSER, 0),
				 GUARD_ADDR);
	}
	/* a user is still counted when the guesses come through a trusted host */
	c.addr_limit = 10;
	c.user_limit = 2;
	guard_free(g);
	g = new_guard(&c);
	assert_int_equal(guard_allow(g, "10.0.0.0/8", err, sizeof(err)), 0);
	guard_auth_failed(g, sa(&a, "10.0.0.1", 1), S("carol"), S("x"), 0);
	assert_int_equal(guard_auth_failed(g, sa(&a, "10.0.0.1", 1), S("carol"), S("x"), 0),
			 GUARD_USER);
	guard_free(g);
}

static void success_keeps_the_address_count(void **state)
{
	(void)state;
	struct guard *g = new_guard(NULL);
	struct sockaddr_storage a;
	const struct sockaddr *s = sa(&a, "192.0.2.50", 5060);
	/* an attacker with one valid account: guesses for many users, and a
	 * success with its own account between them */
	char user[16];
	for (int i = 0; i < 9; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		assert_int_equal(guard_auth_failed(g, s, sip_str_make(user, strlen(user)), S("x"),
						   (uint64_t)i),
				 0);
		guard_auth_ok(g, s, S("mine"), S("x"), (uint64_t)i);
	}
	assert_int_equal(guard_auth_failed(g, s, S("u9"), S("x"), 10), GUARD_ADDR);
	guard_free(g);
}

static void success_resets_the_user_count(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	struct guard *g = new_guard(&c);
	for (int i = 0; i < 4; i++)
		assert_int_equal(guard_auth_failed(g, NULL, S("dave"), S("x"), 0), 0);
	guard_auth_ok(g, NULL, S("dave"), S("x"), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(guard_auth_failed(g, NULL, S("dave"), S("x"), 0), 0);
	assert_int_equal(guard_auth_failed(g, NULL, S("dave"), S("x"), 0), GUARD_USER);
	/* a success does not end a ban */
	guard_auth_ok(g, NULL, S("dave"), S("x"), 0);
	assert_true(guard_user_banned(g, S("dave"), S("x"), 1));
	guard_free(g);

	c.success_keeps_user = true;
	g = new_guard(&c);
	for (int i = 0; i < 4; i++)
		assert_int_equal(guard_auth_failed(g, NULL, S("dave"), S("x"), 0), 0);
	guard_auth_ok(g, NULL, S("dave"), S("x"), 0);
	assert_int_equal(guard_auth_failed(g, NULL, S("dave"), S("x"), 0), GUARD_USER);
	guard_free(g);
}

static void zero_limits_disable(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	c.addr_limit = 0;
	c.user_limit = 0;
	struct guard *g = new_guard(&c);
	struct sockaddr_storage a;
	for (int i = 0; i < 100; i++)
		assert_int_equal(guard_auth_failed(g, sa(&a, "192.0.2.1", 1), S("e"), S("x"), 0), 0);
	struct guard_stats st;
	guard_get_stats(g, &st);
	assert_int_equal(st.addr_entries + st.user_entries, 0);
	assert_int_equal(st.failures, 100);
	guard_free(g);
}

static void expire_frees_ended_entries(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	c.addr_limit = 2;
	c.addr_ban_ms = 5000;
	c.window_ms = 1000;
	struct guard *g = new_guard(&c);
	struct sockaddr_storage a;
	guard_auth_failed(g, sa(&a, "192.0.2.1", 1), S("f"), S("x"), 0);
	guard_auth_failed(g, sa(&a, "192.0.2.1", 1), NOUSER, NOUSER, 0); /* banned */
	guard_auth_failed(g, sa(&a, "192.0.2.2", 1), NOUSER, NOUSER, 100);
	struct guard_stats st;
	guard_get_stats(g, &st);
	assert_int_equal(st.addr_entries, 2);
	assert_int_equal(st.user_entries, 1);
	/* sliding: a count weighs something for two windows */
	assert_int_equal(guard_expire(g, 1999), 0);
	assert_int_equal(guard_expire(g, 2000), 1); /* the user f */
	assert_int_equal(guard_expire(g, 2100), 1); /* 192.0.2.2 */
	assert_int_equal(guard_expire(g, 4999), 0);
	assert_int_equal(guard_expire(g, 5000), 1); /* the ban */
	guard_get_stats(g, &st);
	assert_int_equal(st.addr_entries + st.user_entries, 0);
	guard_free(g);
}

static void unban_for_the_operator(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	c.addr_limit = 1;
	c.user_limit = 1;
	struct guard *g = new_guard(&c);
	struct sockaddr_storage a;
	guard_auth_failed(g, sa(&a, "192.0.2.1", 1), S("g"), S("x"), 0);
	assert_true(guard_addr_banned(g, sa(&a, "192.0.2.1", 1), 0));
	assert_true(guard_user_banned(g, S("g"), S("X"), 0));
	assert_int_equal(guard_unban_addr(g, sa(&a, "192.0.2.1", 1)), 0);
	assert_int_equal(guard_unban_user(g, S("g"), S("x")), 0);
	assert_int_equal(guard_unban_user(g, S("g"), S("x")), -1);
	assert_false(guard_addr_banned(g, sa(&a, "192.0.2.1", 1), 0));
	assert_false(guard_user_banned(g, S("g"), S("X"), 0));
	guard_free(g);
}

/* Bans take at most half a table; the oldest gives way. */
static void bans_are_capped(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	c.addr_limit = 1;
	c.addr_capacity = 8;
	struct guard *g = new_guard(&c);
	struct sockaddr_storage a;
	char ip[32];
	for (int i = 0; i < 6; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		assert_int_equal(guard_auth_failed(g, sa(&a, ip, 1), NOUSER, NOUSER, (uint64_t)i),
				 GUARD_ADDR);
	}
	for (int i = 0; i < 6; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		assert_int_equal(guard_addr_banned(g, sa(&a, ip, 1), 10), i >= 2);
	}
	struct guard_stats st;
	guard_get_stats(g, &st);
	assert_int_equal(st.ban_evictions, 2);
	assert_int_equal(st.addr_banned, 4);
	guard_free(g);
}

static uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * 4;
}

/* A million spoofed sources, one failure each, against 65536 entries: the
 * table stays full and no bigger, the bans made before it survive, and
 * real counting goes on afterwards. */
static void flood_of_distinct_sources_stays_bounded(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	struct guard *g = new_guard(&c);
	struct sockaddr_storage a, b;
	const struct sockaddr *attacker = sa(&a, "203.0.113.66", 5060);
	for (int i = 0; i < 10; i++)
		guard_auth_failed(g, attacker, NOUSER, NOUSER, 0);
	assert_true(guard_addr_banned(g, attacker, 1));

	long rss0 = rss_kb();
	uint64_t t0 = clock_ns();
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(5060)};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	s6.sin6_addr.s6_addr[0] = 0x20;
	s6.sin6_addr.s6_addr[1] = 0x01;
	const uint32_t n = 1000000;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t now = 1 + i / 1000; /* a million in 1000 ms */
		if (i & 1) {
			s4.sin_addr.s_addr = htonl(0x0a000000u + i); /* distinct, never 203.0.113.66 */
			guard_auth_failed(g, (struct sockaddr *)&s4, NOUSER, NOUSER, now);
		} else {
			memcpy(s6.sin6_addr.s6_addr + 4, &i, sizeof(i)); /* a distinct /64 each */
			guard_auth_failed(g, (struct sockaddr *)&s6, NOUSER, NOUSER, now);
		}
		/* the per-datagram check runs on the flood too */
		guard_addr_banned(g, (struct sockaddr *)&s4, now);
	}
	uint64_t ns = clock_ns() - t0;
	long rss1 = rss_kb();

	struct guard_stats st;
	guard_get_stats(g, &st);
	print_message("flood: %u failures + checks in %.0f ms (%.0f ns each), %zu entries, "
		      "%llu evictions, rss %+ld kB\n",
		      n, ns / 1e6, (double)ns / n, st.addr_entries,
		      (unsigned long long)st.evictions, rss1 - rss0);
	assert_int_equal(st.addr_entries, 65536);
	assert_int_equal(st.evictions, n - (65536 - 1));
	assert_int_equal(st.addr_bans, 1);
	assert_true(guard_addr_banned(g, attacker, 1001));
	/* bounded: the whole slab of 65536 small entries, nothing per source */
	assert_true(rss1 - rss0 < 32 * 1024);

	/* counting still works after the flood */
	const struct sockaddr *s = sa(&b, "198.51.100.200", 1);
	for (int i = 0; i < 9; i++)
		assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 1001), 0);
	assert_int_equal(guard_auth_failed(g, s, NOUSER, NOUSER, 1001), GUARD_ADDR);
	guard_free(g);
}

static void user_names_flood_too(void **state)
{
	(void)state;
	struct guard_config c = defaults();
	c.user_capacity = 1024;
	struct guard *g = new_guard(&c);
	char user[300];
	/* names past GUARD_USER_MAX are cut, never overflow */
	memset(user, 'z', sizeof(user));
	for (int i = 0; i < 20000; i++) {
		int k = snprintf(user, 32, "u%d", i);
		user[k] = 'z';
		guard_auth_failed(g, NULL, sip_str_make(user, sizeof(user)), S("x"), 0);
	}
	struct guard_stats st;
	guard_get_stats(g, &st);
	assert_int_equal(st.user_entries, 1024);
	guard_free(g);
}

static void scanners(void **state)
{
	(void)state;
	struct guard *g = new_guard(NULL);
	const char *yes[] = {"friendly-scanner", "FRIENDLY-SCANNER", "sipvicious 0.3.4",
			     "Something (SIPVicious)", "sipcli/v1.8", "VaxSIPUserAgent/3.1",
			     "iWar", "sundayddr", "SIPBomber", "pplsip", "smap 0.6.0",
			     "sip-scan"};
	const char *no[] = {"sipsak 0.9.8.1", "Linphone/5.2", "Asterisk PBX 20", "baresip v1.0.0",
			    "", "Zoiper rv2.10", "Yealink SIP-T46S"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!guard_is_scanner(g, sip_str_make(yes[i], strlen(yes[i]))))
			fail_msg("\"%s\" is a scanner", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (guard_is_scanner(g, sip_str_make(no[i], strlen(no[i]))))
			fail_msg("\"%s\" is not a scanner", no[i]);
	assert_false(guard_is_scanner(g, SIP_STR_NULL));
	/* a slice, not a C string: the match must not read past it */
	assert_false(guard_is_scanner(g, sip_str_make("sipviciousXX", 9)));

	const char *mine[] = {"EvilScan"};
	assert_int_equal(guard_set_scanners(g, mine, 1), 0);
	assert_true(guard_is_scanner(g, S("x evilscan y")));
	assert_false(guard_is_scanner(g, S("friendly-scanner")));
	assert_int_equal(guard_set_scanners(g, NULL, 0), 0);
	assert_false(guard_is_scanner(g, S("EvilScan")));
	guard_free(g);
}

static void bad_configuration(void **state)
{
	(void)state;
	char err[128];
	struct guard_config c = defaults();
	c.addr_capacity = 1;
	assert_null(guard_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "capacity"));
	c = defaults();
	c.v6_prefix = 129;
	assert_null(guard_new(&c, err, sizeof(err)));
	c = defaults();
	c.window = (enum guard_window)7;
	assert_null(guard_new(&c, err, sizeof(err)));
	/* zeros take the defaults; no limits means nothing is counted */
	memset(&c, 0, sizeof(c));
	struct guard *g = new_guard(&c);
	guard_free(g);
	guard_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addr_limit_bans_the_address),
		cmocka_unit_test(user_limit_bans_the_user),
		cmocka_unit_test(both_bans_at_once),
		cmocka_unit_test(fixed_window_starts_over),
		cmocka_unit_test(sliding_window_carries_the_previous_one),
		cmocka_unit_test(ban_ends_and_counting_starts_over),
		cmocka_unit_test(ipv6_per_prefix_and_mapped_ipv4),
		cmocka_unit_test(allowlist_is_never_banned),
		cmocka_unit_test(success_keeps_the_address_count),
		cmocka_unit_test(success_resets_the_user_count),
		cmocka_unit_test(zero_limits_disable),
		cmocka_unit_test(expire_frees_ended_entries),
		cmocka_unit_test(unban_for_the_operator),
		cmocka_unit_test(bans_are_capped),
		cmocka_unit_test(flood_of_distinct_sources_stays_bounded),
		cmocka_unit_test(user_names_flood_too),
		cmocka_unit_test(scanners),
		cmocka_unit_test(bad_configuration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
