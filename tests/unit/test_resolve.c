/*
 * Server location (RFC 3263) without a real DNS server: the pure steps
 * (plan, NAPTR filtering, SRV weighted order), then whole resolutions
 * against answers put in the cache, and against a small fake DNS server on
 * 127.0.0.1 that runs on the same loop, with a clock the tests move.
 */
#include "unit/testutil.h"
#include "unit/dnsmsg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "sip/resolve.h"

/* ---- helpers ------------------------------------------------------------- */

static struct sip_uri uri_of(const char *text)
{
	struct sip_uri u;
	struct sip_error err = {0};
	if (sip_uri_parse(&u, text, strlen(text), &err) < 0)
		fail_msg("cannot parse %s: %s", text, err.detail);
	return u;
}

/* The loop's clock: frozen, moved only by advance(), so that expiry is
 * tested to the millisecond. Tests that need a real timeout (c-ares keeps
 * its own time) let it follow the monotonic clock instead. */
static uint64_t clock_offset, clock_base;
static bool clock_live;

static uint64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t test_clock(void *arg)
{
	(void)arg;
	return (clock_live ? real_ms() : clock_base) + clock_offset;
}

static struct ev_loop *test_loop_with(bool live)
{
	struct ev_loop *loop = ev_loop_new();
	assert_non_null(loop);
	clock_offset = 0;
	clock_base = real_ms();
	clock_live = live;
	ev_set_clock(loop, test_clock, NULL);
	return loop;
}

static struct ev_loop *test_loop(void)
{
	return test_loop_with(false);
}

static void advance(struct ev_loop *loop, uint64_t ms)
{
	clock_offset += ms;
	ev_update_now(loop);
}

/* ---- a fake DNS server on the test's loop --------------------------------- */

struct fake_dns {
	int fd;
	uint16_t port;
	char servers[64];
	bool silent; /* swallow every query */
	int queries;
	char last[300]; /* "TYPE name" of the last query */
	struct dnsmsg canned[48];
	size_t ncanned;
};

static size_t question_end(const unsigned char *m, size_t len)
{
	size_t o = 12;
	while (o < len && m[o])
		o += m[o] + 1u;
	return o + 5 <= len ? o + 5 : 0;
}

static void fake_on_read(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)events;
	struct fake_dns *f = arg;
	unsigned char q[1500];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	ssize_t n;
	while ((n = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) > 0) {
		size_t qe = question_end(q, (size_t)n);
		if (!qe)
			continue;
		f->queries++;
		/* "TYPE name" for assertions. */
		char name[256] = "";
		size_t o = 12, w = 0;
		while (q[o] && w + q[o] + 1 < sizeof(name)) {
			if (w)
				name[w++] = '.';
			memcpy(name + w, q + o + 1, q[o]);
			w += q[o];
			o += q[o] + 1u;
		}
		name[w] = 0;
		unsigned type = (unsigned)(q[qe - 4] << 8 | q[qe - 3]);
		snprintf(f->last, sizeof(f->last), "%u %s", type, name);
		if (f->silent)
			continue;
		struct dnsmsg reply = {.len = 0};
		for (size_t i = 0; i < f->ncanned; i++) {
			const struct dnsmsg *c = &f->canned[i];
			if (question_end(c->b, c->len) == qe &&
			    memcmp(c->b + 12, q + 12, qe - 12) == 0) {
				reply = *c;
				break;
			}
		}
		if (!reply.len) { /* unknown: NXDOMAIN without SOA */
			memcpy(reply.b, q, qe);
			reply.len = qe;
			reply.b[2] = 0x85;
			reply.b[3] = 0x83;
			memset(reply.b + 6, 0, 6);
		}
		reply.b[0] = q[0];
		reply.b[1] = q[1];
		sendto(fd, reply.b, reply.len, 0, (struct sockaddr *)&from, fl);
	}
}

static void fake_start(struct fake_dns *f, struct ev_loop *loop)
{
	memset(f, 0, sizeof(*f));
	f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sa, &sl), 0);
	f->port = ntohs(sa.sin_port);
	snprintf(f->servers, sizeof(f->servers), "127.0.0.1:%u", f->port);
	assert_int_equal(ev_io_add(loop, f->fd, EV_READ, fake_on_read, f), 0);
}

static void fake_stop(struct fake_dns *f, struct ev_loop *loop)
{
	ev_io_remove(loop, f->fd);
	close(f->fd);
}

static struct dnsmsg *fake_add(struct fake_dns *f)
{
	assert_true(f->ncanned < sizeof(f->canned) / sizeof(f->canned[0]));
	return &f->canned[f->ncanned++];
}

/* ---- the example.test zone of tests/harness/test-zone.conf ----------------- */

/* Builds the zone's answers (with the given TTL) and hands each to put. */
static void example_zone(uint32_t ttl, void (*put)(void *ctx, const struct dnsmsg *m), void *ctx)
{
	struct dnsmsg m, rd;
	dns_begin(&m, "example.test", T_NAPTR_, 0);
	/* Records in reverse order of preference, as dnsmasq sends them. */
	rd = rd_naptr(100, 50, "s", "SIP+D2U", "_sip._udp.example.test");
	dns_rr(&m, 0, "example.test", T_NAPTR_, ttl, &rd);
	rd = rd_naptr(90, 50, "s", "SIP+D2T", "_sip._tcp.example.test");
	dns_rr(&m, 0, "example.test", T_NAPTR_, ttl, &rd);
	rd = rd_naptr(50, 50, "s", "SIPS+D2T", "_sips._tcp.example.test");
	dns_rr(&m, 0, "example.test", T_NAPTR_, ttl, &rd);
	put(ctx, &m);

	dns_begin(&m, "_sip._udp.example.test", T_SRV_, 0);
	rd = rd_srv(20, 0, 5064, "c.example.test");
	dns_rr(&m, 0, "_sip._udp.example.test", T_SRV_, ttl, &rd);
	rd = rd_srv(10, 40, 5062, "b.example.test");
	dns_rr(&m, 0, "_sip._udp.example.test", T_SRV_, ttl, &rd);
	rd = rd_srv(10, 60, 5060, "a.example.test");
	dns_rr(&m, 0, "_sip._udp.example.test", T_SRV_, ttl, &rd);
	put(ctx, &m);

	dns_begin(&m, "_sip._tcp.example.test", T_SRV_, 0);
	rd = rd_srv(20, 0, 5064, "c.example.test");
	dns_rr(&m, 0, "_sip._tcp.example.test", T_SRV_, ttl, &rd);
	rd = rd_srv(10, 0, 5060, "a.example.test");
	dns_rr(&m, 0, "_sip._tcp.example.test", T_SRV_, ttl, &rd);
	put(ctx, &m);

	dns_begin(&m, "_sips._tcp.example.test", T_SRV_, 0);
	rd = rd_srv(10, 0, 5061, "a.example.test");
	dns_rr(&m, 0, "_sips._tcp.example.test", T_SRV_, ttl, &rd);
	put(ctx, &m);

	static const char *const hosts[3][3] = {
	    {"a.example.test", "127.0.0.2", "::1"},
	    {"b.example.test", "127.0.0.3", NULL},
	    {"c.example.test", "127.0.0.4", NULL},
	};
	for (int i = 0; i < 3; i++) {
		dns_begin(&m, hosts[i][0], T_A_, 0);
		rd = rd_a(hosts[i][1]);
		dns_rr(&m, 0, hosts[i][0], T_A_, ttl, &rd);
		put(ctx, &m);
		dns_begin(&m, hosts[i][0], T_AAAA_, 0);
		if (hosts[i][2]) {
			rd = rd_aaaa(hosts[i][2]);
			dns_rr(&m, 0, hosts[i][0], T_AAAA_, ttl, &rd);
		} else { /* NODATA, with the SOA that says for how long */
			rd = rd_soa(ttl);
			dns_rr(&m, 1, "example.test", T_SOA_, ttl, &rd);
		}
		put(ctx, &m);
	}
}

static void put_cache(void *ctx, const struct dnsmsg *m)
{
	char err[200];
	if (sip_resolver_cache_answer(ctx, m->b, m->len, err, sizeof(err)) < 0)
		fail_msg("cache_answer: %s", err);
}

static void put_fake(void *ctx, const struct dnsmsg *m)
{
	*fake_add(ctx) = *m;
}

static struct sip_resolver *test_resolver(struct ev_loop *loop, const struct fake_dns *f,
					  struct sip_resolver_opts *o)
{
	struct sip_resolver_opts def = {0};
	if (!o)
		o = &def;
	o->servers = f->servers; /* never the host's resolv.conf */
	if (!o->hosts_file)
		o->hosts_file = "";
	if (!o->seed)
		o->seed = 42;
	if (!o->timeout_ms)
		o->timeout_ms = 200;
	if (!o->tries)
		o->tries = 1;
	char err[200];
	if (sip_resolver_opts_check(o, err, sizeof(err)) < 0)
		fail_msg("opts: %s", err);
	struct sip_resolver *r = sip_resolver_new(loop, o);
	assert_non_null(r);
	return r;
}

/* Resolves text and renders the result, one "tp addr:port" per line, or
 * "error STATUS". */
static void resolve_text(struct sip_resolver *r, const char *text, char *out, size_t cap)
{
	struct sip_uri u = uri_of(text);
	struct sip_targets *t;
	char err[320];
	enum sip_resolve_status st = sip_resolve_sync(r, &u, &t, err, sizeof(err));
	out[0] = 0;
	if (st != SIP_RESOLVE_OK) {
		assert_null(t);
		assert_true(err[0] != 0);
		snprintf(out, cap, "error %s", sip_resolve_status_name(st));
		return;
	}
	assert_non_null(t);
	assert_true(t->count > 0);
	size_t o = 0;
	const struct sip_target *x;
	while ((x = sip_targets_next(t))) {
		char buf[100];
		o += (size_t)snprintf(out + o, cap - o, "%s%s\n",
				      sip_target_format(x, buf, sizeof(buf)),
				      x->blacklisted ? " (failed)" : "");
		assert_true(o < cap);
	}
	sip_targets_free(t);
}

static uint64_t queries(struct sip_resolver *r)
{
	struct sip_resolver_stats s;
	sip_resolver_get_stats(r, &s);
	return s.queries;
}

/* ---- the plan ------------------------------------------------------------- */

static void plan_ok(const char *text, unsigned transports, enum sip_resolve_step step,
		    const char *host, enum sip_transport tp, unsigned port)
{
	struct sip_uri u = uri_of(text);
	struct sip_resolve_plan p;
	char err[128];
	if (sip_resolve_plan(&u, transports, &p, err, sizeof(err)) < 0)
		fail_msg("%s: %s", text, err);
	assert_int_equal(p.step, step);
	assert_string_equal(p.host, host);
	assert_int_equal(p.transport, tp);
	if (port)
		assert_int_equal(p.port, port);
}

static void plan_fails(const char *text, unsigned transports)
{
	struct sip_uri u = uri_of(text);
	struct sip_resolve_plan p;
	char err[128] = "";
	assert_int_equal(sip_resolve_plan(&u, transports, &p, err, sizeof(err)), -1);
	assert_true(err[0] != 0);
}

static void test_plan_numeric(void **state)
{
	(void)state;
	plan_ok("sip:192.0.2.1", 0, SIP_STEP_NUMERIC, "192.0.2.1", SIP_TP_UDP, 5060);
	plan_ok("sip:alice@192.0.2.1:5070", 0, SIP_STEP_NUMERIC, "192.0.2.1", SIP_TP_UDP, 5070);
	plan_ok("sips:[2001:db8::1]", 0, SIP_STEP_NUMERIC, "2001:db8::1", SIP_TP_TLS, 5061);
	plan_ok("sip:[::1]:5999;transport=tcp", 0, SIP_STEP_NUMERIC, "::1", SIP_TP_TCP, 5999);
	plan_ok("sip:192.0.2.1;transport=TLS", 0, SIP_STEP_NUMERIC, "192.0.2.1", SIP_TP_TLS, 5061);
	/* Without UDP, a plain sip URI goes over TCP. */
	plan_ok("sip:192.0.2.1", SIP_TP_BIT(SIP_TP_TCP), SIP_STEP_NUMERIC, "192.0.2.1", SIP_TP_TCP,
		5060);
}

static void test_plan_names(void **state)
{
	(void)state;
	plan_ok("sip:Example.TEST", 0, SIP_STEP_NAPTR, "example.test", SIP_TP_UDP, 0);
	plan_ok("sips:example.test", 0, SIP_STEP_NAPTR, "example.test", SIP_TP_TLS, 0);
	plan_ok("sip:bob@example.test.:5070", 0, SIP_STEP_ADDR, "example.test", SIP_TP_UDP, 5070);
	plan_ok("sips:example.test:5071", 0, SIP_STEP_ADDR, "example.test", SIP_TP_TLS, 5071);
	plan_ok("sip:example.test;transport=TCP", 0, SIP_STEP_SRV, "example.test", SIP_TP_TCP, 0);
	plan_ok("sip:example.test;transport=tls", 0, SIP_STEP_SRV, "example.test", SIP_TP_TLS, 0);
	/* sips over "TCP" is TLS (RFC 3261 26.2.2). */
	plan_ok("sips:example.test;transport=tcp", 0, SIP_STEP_SRV, "example.test", SIP_TP_TLS, 0);
	plan_ok("sip:example.test:5080;transport=tcp", 0, SIP_STEP_ADDR, "example.test", SIP_TP_TCP,
		5080);
}

static void test_plan_maddr(void **state)
{
	(void)state;
	plan_ok("sip:example.test;maddr=192.0.2.7", 0, SIP_STEP_NUMERIC, "192.0.2.7", SIP_TP_UDP,
		5060);
	plan_ok("sip:192.0.2.1;maddr=Proxy.Example.Test", 0, SIP_STEP_NAPTR, "proxy.example.test",
		SIP_TP_UDP, 0);
	plan_ok("sip:example.test:5090;maddr=proxy.example.test;transport=tcp", 0, SIP_STEP_ADDR,
		"proxy.example.test", SIP_TP_TCP, 5090);
	plan_ok("sip:example.test;maddr=2001:db8::5", 0, SIP_STEP_NUMERIC, "2001:db8::5",
		SIP_TP_UDP, 5060);
}

static void test_plan_errors(void **state)
{
	(void)state;
	plan_fails("tel:+15551234567", 0);
	plan_fails("sips:example.test;transport=udp", 0);
	plan_fails("sip:example.test;transport=sctp", 0);
	plan_fails("sip:example.test;transport=tcp", SIP_TP_BIT(SIP_TP_UDP));
	plan_fails("sips:example.test", SIP_TP_BIT(SIP_TP_UDP) | SIP_TP_BIT(SIP_TP_TCP));
	plan_fails("sip:example.test:0", 0);
	plan_fails("sip:example.test;maddr=a%2Cb", 0);
}

/* ---- NAPTR ---------------------------------------------------------------- */

static void test_naptr_select(void **state)
{
	(void)state;
	struct sip_naptr v[] = {
	    {100, 50, "s", "SIP+D2U", false, "_sip._udp.example.test", 0},
	    {10, 10, "u", "E2U+sip", false, "!^.*$!sip:x@y!", 0}, /* ENUM, not ours */
	    {90, 50, "s", "SIP+D2T", false, "_sip._tcp.example.test", 0},
	    {5, 10, "s", "SIP+D2S", false, "_sip._sctp.example.test", 0}, /* no SCTP here */
	    {20, 10, "", "SIP+D2U", false, "_sip._udp.x.test", 0},	  /* no "s" flag */
	    {30, 10, "s", "SIP+D2U", true, "_sip._udp.y.test", 0},	  /* regexp */
	    {50, 50, "s", "SIPS+D2T", false, "_sips._tcp.example.test", 0},
	    {90, 40, "S", "sip+d2t", false, "_sip._tcp.backup.test", 0}, /* case */
	};
	struct sip_naptr w[8];
	memcpy(w, v, sizeof(v));
	size_t n = sip_naptr_select(w, 8, false, 0);
	assert_int_equal(n, 4);
	assert_string_equal(w[0].replacement, "_sips._tcp.example.test");
	assert_int_equal(w[0].transport, SIP_TP_TLS);
	/* Same order: preference decides. */
	assert_string_equal(w[1].replacement, "_sip._tcp.backup.test");
	assert_int_equal(w[1].transport, SIP_TP_TCP);
	assert_string_equal(w[2].replacement, "_sip._tcp.example.test");
	assert_string_equal(w[3].replacement, "_sip._udp.example.test");
	assert_int_equal(w[3].transport, SIP_TP_UDP);

	/* sips: only SIPS services. */
	memcpy(w, v, sizeof(v));
	n = sip_naptr_select(w, 8, true, 0);
	assert_int_equal(n, 1);
	assert_string_equal(w[0].replacement, "_sips._tcp.example.test");

	/* What the caller cannot do is dropped. */
	memcpy(w, v, sizeof(v));
	n = sip_naptr_select(w, 8, false, SIP_TP_BIT(SIP_TP_UDP));
	assert_int_equal(n, 1);
	assert_int_equal(w[0].transport, SIP_TP_UDP);
	memcpy(w, v, sizeof(v));
	n = sip_naptr_select(w, 8, true, SIP_TP_BIT(SIP_TP_UDP) | SIP_TP_BIT(SIP_TP_TCP));
	assert_int_equal(n, 0);
}

/* ---- SRV ------------------------------------------------------------------ */

static void test_srv_priority_order(void **state)
{
	(void)state;
	uint64_t rng = 7, pick = 99;
	for (int round = 0; round < 2000; round++) {
		struct sip_srv v[12];
		size_t n = 1 + (size_t)(round % 12);
		unsigned sum_before = 0, sum_after = 0;
		for (size_t i = 0; i < n; i++) {
			pick = pick * 6364136223846793005ull + 1442695040888963407ull;
			v[i] = (struct sip_srv){(uint16_t)(pick >> 60),
						(uint16_t)(pick >> 40 & 0xff), (uint16_t)i, ""};
			if ((pick >> 33 & 3) == 0)
				v[i].weight = 0;
			sum_before += v[i].port * 1000u + v[i].priority;
		}
		sip_srv_order(v, n, &rng);
		for (size_t i = 0; i < n; i++) {
			if (i)
				assert_true(v[i - 1].priority <= v[i].priority);
			sum_after += v[i].port * 1000u + v[i].priority;
		}
		assert_int_equal(sum_before, sum_after); /* a permutation */
	}
}

static void test_srv_weight_distribution(void **state)
{
	(void)state;
	uint64_t rng = 12345;
	int a_first = 0;
	const int draws = 20000;
	for (int i = 0; i < draws; i++) {
		/* c first in the input: priority must still put it last. */
		struct sip_srv v[3] = {
		    {20, 0, 5064, "c"},
		    {10, 40, 5062, "b"},
		    {10, 60, 5060, "a"},
		};
		sip_srv_order(v, 3, &rng);
		assert_string_equal(v[2].target, "c");
		assert_int_equal(v[0].priority, 10);
		assert_int_equal(v[1].priority, 10);
		a_first += strcmp(v[0].target, "a") == 0;
	}
	/* 60/100 expected; 3 standard deviations are about 1%. */
	assert_in_range(a_first, draws * 57 / 100, draws * 63 / 100);
}

static void test_srv_weight_zero(void **state)
{
	(void)state;
	uint64_t rng = 99;
	int zero_first = 0;
	const int draws = 20000;
	for (int i = 0; i < draws; i++) {
		struct sip_srv v[2] = {{1, 100, 1, "heavy"}, {1, 0, 2, "zero"}};
		sip_srv_order(v, 2, &rng);
		zero_first += strcmp(v[0].target, "zero") == 0;
	}
	/* RFC 2782: a small chance, 1 in (sum + 1) = 1/101, about 198. */
	assert_in_range(zero_first, 100, 320);

	/* Every weight 0: a fair draw. */
	int first[3] = {0};
	for (int i = 0; i < 9000; i++) {
		struct sip_srv v[3] = {{1, 0, 0, "p"}, {1, 0, 1, "q"}, {1, 0, 2, "r"}};
		sip_srv_order(v, 3, &rng);
		first[v[0].port]++;
	}
	for (int k = 0; k < 3; k++)
		assert_in_range(first[k], 2700, 3300);
}

static void test_srv_seed_repeats(void **state)
{
	(void)state;
	char seen[2][64];
	for (int pass = 0; pass < 2; pass++) {
		uint64_t rng = 2024;
		size_t o = 0;
		for (int i = 0; i < 10; i++) {
			struct sip_srv v[3] = {{1, 10, 1, "x"}, {1, 10, 2, "y"}, {1, 10, 3, "z"}};
			sip_srv_order(v, 3, &rng);
			seen[pass][o++] = v[0].target[0];
		}
		seen[pass][o] = 0;
	}
	assert_string_equal(seen[0], seen[1]);
}

/* ---- whole resolutions ------------------------------------------------------ */

static void test_numeric_targets(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	struct sip_resolver *r = test_resolver(loop, &f, NULL);
	char out[512];

	resolve_text(r, "sip:192.0.2.1", out, sizeof(out));
	assert_string_equal(out, "udp 192.0.2.1:5060\n");
	resolve_text(r, "sips:[2001:db8::1]:5071", out, sizeof(out));
	assert_string_equal(out, "tls [2001:db8::1]:5071\n");
	resolve_text(r, "sip:[::1];transport=tcp", out, sizeof(out));
	assert_string_equal(out, "tcp [::1]:5060\n");
	resolve_text(r, "sip:proxy.example.test;maddr=127.0.0.9", out, sizeof(out));
	assert_string_equal(out, "udp 127.0.0.9:5060\n");

	struct sip_uri u = uri_of("sip:[2001:db8::1]:5999");
	struct sip_targets *t;
	assert_int_equal(sip_resolve_sync(r, &u, &t, out, sizeof(out)), SIP_RESOLVE_OK);
	assert_int_equal(t->count, 1);
	assert_string_equal(t->domain, "2001:db8::1");
	assert_string_equal(t->v[0].name, "2001:db8::1");
	assert_false(t->v[0].srv);
	assert_int_equal(t->v[0].peer.addr.ss_family, AF_INET6);
	assert_non_null(sip_targets_next(t));
	assert_null(sip_targets_next(t));
	sip_targets_free(t);

	assert_int_equal(queries(r), 0);
	assert_int_equal(f.queries, 0);
	sip_resolver_free(r);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

struct seen {
	int calls;
	enum sip_resolve_status status;
	char err[320];
	size_t count;
};

static void on_result(void *arg, struct sip_targets *t, enum sip_resolve_status st, const char *err)
{
	struct seen *s = arg;
	s->calls++;
	s->status = st;
	snprintf(s->err, sizeof(s->err), "%s", err);
	s->count = t ? t->count : 0;
	sip_targets_free(t);
}

static void test_callback_never_inside(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	struct sip_resolver *r = test_resolver(loop, &f, NULL);
	struct seen a = {0}, b = {0};
	struct sip_uri ua = uri_of("tel:+15551234567"), ub = uri_of("sip:192.0.2.1");
	assert_non_null(sip_resolve(r, &ua, on_result, &a));
	assert_non_null(sip_resolve(r, &ub, on_result, &b));
	assert_int_equal(a.calls + b.calls, 0);
	while (a.calls + b.calls < 2)
		ev_run_once(loop, 100);
	assert_int_equal(a.status, SIP_RESOLVE_BADURI);
	assert_non_null(strstr(a.err, "sip and sips"));
	assert_int_equal(b.status, SIP_RESOLVE_OK);
	assert_int_equal(b.count, 1);
	sip_resolver_free(r);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static const char example_udp_tail[] = "udp 127.0.0.4:5064\n";

static void test_cache_serves_without_dns(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	struct sip_resolver_opts o = {.negative_ttl = 3600};
	struct sip_resolver *r = test_resolver(loop, &f, &o);
	example_zone(60, put_cache, r);
	char out[1024];

	resolve_text(r, "sip:example.test", out, sizeof(out));
	/* NAPTR order: SIPS over TCP, SIP over TCP, SIP over UDP; within a
	 * host IPv4 first; the priority-10 UDP pair in weighted order. */
	const char *head = "tls 127.0.0.2:5061\ntls [::1]:5061\n"
			   "tcp 127.0.0.2:5060\ntcp [::1]:5060\ntcp 127.0.0.4:5064\n";
	assert_memory_equal(out, head, strlen(head));
	const char *udp = out + strlen(head);
	bool a_first =
	    strncmp(udp, "udp 127.0.0.2:5060\nudp [::1]:5060\nudp 127.0.0.3:5062\n", 53) == 0;
	bool b_first =
	    strncmp(udp, "udp 127.0.0.3:5062\nudp 127.0.0.2:5060\nudp [::1]:5060\n", 53) == 0;
	assert_true(a_first || b_first);
	assert_string_equal(udp + 53, example_udp_tail);

	resolve_text(r, "sips:example.test", out, sizeof(out));
	assert_string_equal(out, "tls 127.0.0.2:5061\ntls [::1]:5061\n");
	resolve_text(r, "sip:example.test;transport=tcp", out, sizeof(out));
	assert_string_equal(out, "tcp 127.0.0.2:5060\ntcp [::1]:5060\ntcp 127.0.0.4:5064\n");
	resolve_text(r, "sip:c.example.test:5999", out, sizeof(out));
	assert_string_equal(out, "udp 127.0.0.4:5999\n");

	struct sip_resolver_stats s;
	sip_resolver_get_stats(r, &s);
	assert_int_equal(s.queries, 0);
	assert_int_equal(f.queries, 0);
	assert_true(s.cache_hits >= 10);
	assert_int_equal(s.cache_entries, 10);
	sip_resolver_free(r);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static void test_cache_expiry(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	example_zone(60, put_fake, &f);
	struct sip_resolver_opts o = {.negative_ttl = 3600, .transports = SIP_TP_BIT(SIP_TP_TLS)};
	struct sip_resolver *r = test_resolver(loop, &f, &o);
	char out[1024];

	/* First time: from the fake server (NAPTR, SRV, A, AAAA). */
	resolve_text(r, "sips:example.test", out, sizeof(out));
	assert_string_equal(out, "tls 127.0.0.2:5061\ntls [::1]:5061\n");
	assert_int_equal(f.queries, 4);
	assert_int_equal(queries(r), 4);

	/* Within the TTL: no traffic. */
	advance(loop, 59000);
	resolve_text(r, "sips:example.test", out, sizeof(out));
	assert_string_equal(out, "tls 127.0.0.2:5061\ntls [::1]:5061\n");
	assert_int_equal(f.queries, 4);

	/* Past it: asked again, then cached again. */
	advance(loop, 1001);
	resolve_text(r, "sips:example.test", out, sizeof(out));
	assert_string_equal(out, "tls 127.0.0.2:5061\ntls [::1]:5061\n");
	assert_int_equal(f.queries, 8);
	resolve_text(r, "sips:example.test", out, sizeof(out));
	assert_int_equal(f.queries, 8);

	sip_resolver_free(r);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static void test_negative_cache(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	struct sip_resolver_opts o = {.negative_ttl = 5};
	struct sip_resolver *r = test_resolver(loop, &f, &o);
	char out[256];

	/* NAPTR, three SRV, A, AAAA: all NXDOMAIN. */
	resolve_text(r, "sip:nosuch.example.test", out, sizeof(out));
	assert_string_equal(out, "error nxdomain");
	assert_int_equal(f.queries, 6);
	resolve_text(r, "sip:nosuch.example.test", out, sizeof(out));
	assert_string_equal(out, "error nxdomain");
	assert_int_equal(f.queries, 6);
	advance(loop, 5001);
	resolve_text(r, "sip:nosuch.example.test", out, sizeof(out));
	assert_int_equal(f.queries, 12);

	/* An SOA shorter than the cap wins (RFC 2308). */
	struct dnsmsg m, rd;
	dns_begin(&m, "gone.example.test", T_A_, 3);
	rd = rd_soa(1);
	dns_rr(&m, 1, "example.test", T_SOA_, 300, &rd);
	o.family = SIP_RESOLVE_V4_ONLY;
	sip_resolver_free(r);
	r = test_resolver(loop, &f, &o);
	put_cache(r, &m);
	resolve_text(r, "sip:gone.example.test:5060", out, sizeof(out));
	assert_string_equal(out, "error nxdomain");
	assert_int_equal(f.queries, 12);
	advance(loop, 1001);
	resolve_text(r, "sip:gone.example.test:5060", out, sizeof(out));
	assert_int_equal(f.queries, 13);

	sip_resolver_free(r);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static void test_ttl_clamp(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	struct dnsmsg m, rd;
	dns_begin(&m, "zero.example.test", T_A_, 0);
	rd = rd_a("192.0.2.20");
	dns_rr(&m, 0, "zero.example.test", T_A_, 0, &rd);

	/* TTL 0 is not cached... */
	struct sip_resolver_opts o = {.family = SIP_RESOLVE_V4_ONLY};
	struct sip_resolver *r = test_resolver(loop, &f, &o);
	char err[200];
	assert_int_equal(sip_resolver_cache_answer(r, m.b, m.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "TTL 0"));
	sip_resolver_free(r);

	/* ...unless min_ttl says to keep it. */
	o = (struct sip_resolver_opts){.family = SIP_RESOLVE_V4_ONLY, .min_ttl = 30};
	r = test_resolver(loop, &f, &o);
	put_cache(r, &m);
	char out[256];
	advance(loop, 29000);
	resolve_text(r, "sip:zero.example.test:5060", out, sizeof(out));
	assert_string_equal(out, "udp 192.0.2.20:5060\n");
	assert_int_equal(f.queries, 0);
	advance(loop, 1001);
	resolve_text(r, "sip:zero.example.test:5060", out, sizeof(out));
	assert_string_equal(out, "error nxdomain");
	assert_int_equal(f.queries, 1);
	sip_resolver_free(r);

	/* max_ttl caps a long one. */
	o = (struct sip_resolver_opts){.family = SIP_RESOLVE_V4_ONLY, .max_ttl = 10};
	r = test_resolver(loop, &f, &o);
	dns_begin(&m, "long.example.test", T_A_, 0);
	dns_rr(&m, 0, "long.example.test", T_A_, 86400, &rd);
	put_cache(r, &m);
	advance(loop, 10001);
	resolve_text(r, "sip:long.example.test:5060", out, sizeof(out));
	assert_string_equal(out, "error nxdomain");
	assert_int_equal(f.queries, 2);

	sip_resolver_free(r);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static void put_a(struct sip_resolver *r, const char *name, const char *ip)
{
	struct dnsmsg m, rd = rd_a(ip);
	dns_begin(&m, name, T_A_, 0);
	dns_rr(&m, 0, name, T_A_, 300, &rd);
	put_cache(r, &m);
}

static void test_cache_eviction(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	struct sip_resolver_opts o = {.family = SIP_RESOLVE_V4_ONLY, .cache_entries = 2};
	struct sip_resolver *r = test_resolver(loop, &f, &o);
	char out[256];
	put_a(r, "h1.test", "192.0.2.1");
	put_a(r, "h2.test", "192.0.2.2");
	resolve_text(r, "sip:h1.test:5060", out, sizeof(out)); /* h1 used: h2 is oldest */
	put_a(r, "h3.test", "192.0.2.3");

	struct sip_resolver_stats s;
	sip_resolver_get_stats(r, &s);
	assert_int_equal(s.cache_entries, 2);
	assert_int_equal(s.evictions, 1);
	resolve_text(r, "sip:h1.test:5060", out, sizeof(out));
	assert_string_equal(out, "udp 192.0.2.1:5060\n");
	resolve_text(r, "sip:h3.test:5060", out, sizeof(out));
	assert_string_equal(out, "udp 192.0.2.3:5060\n");
	assert_int_equal(f.queries, 0);
	resolve_text(r, "sip:h2.test:5060", out, sizeof(out));
	assert_string_equal(out, "error nxdomain");
	assert_int_equal(f.queries, 1);

	sip_resolver_flush(r);
	sip_resolver_get_stats(r, &s);
	assert_int_equal(s.cache_entries, 0);
	sip_resolver_free(r);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static void test_blacklist_expiry(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	struct sip_resolver_opts o = {.negative_ttl = 3600, .blacklist_ms = 2000};
	struct sip_resolver *r = test_resolver(loop, &f, &o);
	example_zone(3600, put_cache, r);
	char out[512];
	const char *normal = "tcp 127.0.0.2:5060\ntcp [::1]:5060\ntcp 127.0.0.4:5064\n";

	struct sip_uri u = uri_of("sip:example.test;transport=tcp");
	struct sip_targets *t;
	assert_int_equal(sip_resolve_sync(r, &u, &t, out, sizeof(out)), SIP_RESOLVE_OK);
	const struct sip_target *first = sip_targets_next(t);
	assert_false(first->blacklisted);
	/* The transaction timed out on it: next time it goes last. */
	sip_resolver_mark_failed(r, &first->peer, 5000);
	assert_true(sip_resolver_is_failed(r, &first->peer));
	struct sip_peer failed = first->peer;
	sip_targets_free(t);

	resolve_text(r, "sip:example.test;transport=tcp", out, sizeof(out));
	assert_string_equal(out,
			    "tcp [::1]:5060\ntcp 127.0.0.4:5064\ntcp 127.0.0.2:5060 (failed)\n");
	/* Another transport at the same address is another target. */
	resolve_text(r, "sips:example.test", out, sizeof(out));
	assert_string_equal(out, "tls 127.0.0.2:5061\ntls [::1]:5061\n");

	advance(loop, 4999);
	assert_true(sip_resolver_is_failed(r, &failed));
	advance(loop, 2);
	assert_false(sip_resolver_is_failed(r, &failed));
	resolve_text(r, "sip:example.test;transport=tcp", out, sizeof(out));
	assert_string_equal(out, normal);

	/* ms 0: the configured time. Everything failed: all still listed. */
	struct sip_peer all[3];
	assert_int_equal(sip_peer_from_numeric(&all[0], SIP_TP_TCP, "127.0.0.2", 9, 5060), 0);
	assert_int_equal(sip_peer_from_numeric(&all[1], SIP_TP_TCP, "::1", 3, 5060), 0);
	assert_int_equal(sip_peer_from_numeric(&all[2], SIP_TP_TCP, "127.0.0.4", 9, 5064), 0);
	for (int i = 0; i < 3; i++)
		sip_resolver_mark_failed(r, &all[i], 0);
	resolve_text(r, "sip:example.test;transport=tcp", out, sizeof(out));
	assert_string_equal(out, "tcp 127.0.0.2:5060 (failed)\ntcp [::1]:5060 (failed)\n"
				 "tcp 127.0.0.4:5064 (failed)\n");
	struct sip_resolver_stats s;
	sip_resolver_get_stats(r, &s);
	assert_int_equal(s.blacklisted, 3);
	advance(loop, 2001);
	resolve_text(r, "sip:example.test;transport=tcp", out, sizeof(out));
	assert_string_equal(out, normal);
	sip_resolver_get_stats(r, &s);
	assert_int_equal(s.blacklisted, 0);
	assert_int_equal(f.queries, 0);

	sip_resolver_free(r);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static void test_cancel(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop_with(true);
	struct fake_dns f;
	fake_start(&f, loop);
	f.silent = true;
	struct sip_resolver_opts o = {.timeout_ms = 100};
	struct sip_resolver *r = test_resolver(loop, &f, &o);
	struct seen a = {0}, b = {0}, c = {0};
	struct sip_uri slow = uri_of("sip:slow.example.test"), num = uri_of("sip:192.0.2.1");

	struct sip_resolve_req *qa = sip_resolve(r, &slow, on_result, &a);
	struct sip_resolve_req *qb = sip_resolve(r, &num, on_result, &b);
	/* A third one for the same name joins the query in flight. */
	assert_non_null(sip_resolve(r, &slow, on_result, &c));
	assert_non_null(qa);
	assert_non_null(qb);
	for (int i = 0; i < 3 && f.queries == 0; i++)
		ev_run_once(loop, 50);
	assert_int_equal(f.queries, 1);
	struct sip_resolver_stats s;
	sip_resolver_get_stats(r, &s);
	assert_int_equal(s.joined, 1);
	assert_int_equal(b.calls, 1); /* numeric: delivered on the first turn */
	sip_resolve_cancel(qa);
	sip_resolver_get_stats(r, &s);
	assert_int_equal(s.pending, 1);

	/* The other one still gets its timeout; the cancelled one nothing. */
	while (c.calls == 0)
		ev_run_once(loop, 100);
	assert_int_equal(c.status, SIP_RESOLVE_TIMEOUT);
	assert_non_null(strstr(c.err, "NAPTR slow.example.test"));
	for (int i = 0; i < 3; i++)
		ev_run_once(loop, 10);
	assert_int_equal(a.calls, 0);

	/* Cancelled before its (immediate) delivery. */
	struct seen d = {0};
	sip_resolve_cancel(sip_resolve(r, &num, on_result, &d));
	ev_run_once(loop, 10);
	assert_int_equal(d.calls, 0);

	/* Freed with one in flight: no callback, no leak (ASan). */
	struct seen e = {0};
	assert_non_null(sip_resolve(r, &slow, on_result, &e));
	ev_run_once(loop, 10);
	sip_resolver_free(r);
	assert_int_equal(e.calls, 0);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static void test_timeout(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop_with(true);
	struct fake_dns f;
	fake_start(&f, loop);
	f.silent = true;
	struct sip_resolver_opts o = {.timeout_ms = 100, .tries = 2};
	struct sip_resolver *r = test_resolver(loop, &f, &o);
	char out[256];
	uint64_t t0 = real_ms();
	resolve_text(r, "sip:example.test", out, sizeof(out));
	uint64_t took = real_ms() - t0;
	assert_string_equal(out, "error timeout");
	/* 100 ms, then 200 ms for the second round; the NAPTR failure ends
	 * it, not three more phases of waiting. */
	assert_in_range(took, 250, 1500);
	assert_int_equal(f.queries, 2);
	sip_resolver_free(r);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static void test_fallbacks(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	struct dnsmsg *m, rd;
	/* A name with an A record only: no NAPTR, no SRV (NXDOMAIN from the
	 * fake server), so port 5060 over UDP. */
	m = fake_add(&f);
	dns_begin(m, "aonly.example.test", T_A_, 0);
	rd = rd_a("127.0.0.5");
	dns_rr(m, 0, "aonly.example.test", T_A_, 0, &rd);
	rd = rd_a("127.0.0.6");
	dns_rr(m, 0, "aonly.example.test", T_A_, 0, &rd);
	/* A CNAME followed within the answer. */
	m = fake_add(&f);
	dns_begin(m, "sip.example.test", T_A_, 0);
	rd = rd_name("a.example.test");
	dns_rr(m, 0, "sip.example.test", T_CNAME_, 0, &rd);
	rd = rd_a("127.0.0.2");
	dns_rr(m, 0, "a.example.test", T_A_, 0, &rd);
	/* SRV for TCP only, target with AAAA only. */
	m = fake_add(&f);
	dns_begin(m, "_sip._tcp.srvonly.example.test", T_SRV_, 0);
	rd = rd_srv(10, 0, 5070, "v6.example.test");
	dns_rr(m, 0, "_sip._tcp.srvonly.example.test", T_SRV_, 0, &rd);
	m = fake_add(&f);
	dns_begin(m, "v6.example.test", T_AAAA_, 0);
	rd = rd_aaaa("::1");
	dns_rr(m, 0, "v6.example.test", T_AAAA_, 0, &rd);
	/* SRV saying "no service here". */
	m = fake_add(&f);
	dns_begin(m, "_sip._udp.none.example.test", T_SRV_, 0);
	rd = rd_srv(0, 0, 0, "");
	dns_rr(m, 0, "_sip._udp.none.example.test", T_SRV_, 0, &rd);

	struct sip_resolver_opts o = {.transports =
					  SIP_TP_BIT(SIP_TP_UDP) | SIP_TP_BIT(SIP_TP_TCP)};
	struct sip_resolver *r = test_resolver(loop, &f, &o);
	char out[256];
	resolve_text(r, "sip:aonly.example.test", out, sizeof(out));
	assert_string_equal(out, "udp 127.0.0.5:5060\nudp 127.0.0.6:5060\n");
	resolve_text(r, "sip:sip.example.test;transport=tcp", out, sizeof(out));
	assert_string_equal(out, "tcp 127.0.0.2:5060\n");
	resolve_text(r, "sip:srvonly.example.test", out, sizeof(out));
	assert_string_equal(out, "tcp [::1]:5070\n");
	resolve_text(r, "sip:none.example.test", out, sizeof(out));
	assert_string_equal(out, "error nodata");
	sip_resolver_free(r);

	/* IPv6 preferred, and only. */
	o.family = SIP_RESOLVE_PREFER_V6;
	r = test_resolver(loop, &f, &o);
	example_zone(60, put_cache, r);
	resolve_text(r, "sip:a.example.test:5060", out, sizeof(out));
	assert_string_equal(out, "udp [::1]:5060\nudp 127.0.0.2:5060\n");
	sip_resolver_free(r);
	o.family = SIP_RESOLVE_V6_ONLY;
	r = test_resolver(loop, &f, &o);
	resolve_text(r, "sip:aonly.example.test:5060", out, sizeof(out));
	assert_string_equal(out, "error nxdomain");
	sip_resolver_free(r);

	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static void test_hosts_file(void **state)
{
	(void)state;
	char path[] = "/tmp/vocal-hosts.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "# pinned\n192.0.2.50\tPinned.Example.Test pinned\n"
			    "2001:db8::50 pinned.example.test\n127.0.0.1 localhost\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);

	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	struct sip_resolver_opts o = {.hosts_file = path};
	struct sip_resolver *r = test_resolver(loop, &f, &o);
	char out[256];
	resolve_text(r, "sip:pinned.example.test", out, sizeof(out));
	assert_string_equal(out, "udp 192.0.2.50:5060\nudp [2001:db8::50]:5060\n");
	resolve_text(r, "sips:localhost", out, sizeof(out));
	assert_string_equal(out, "tls 127.0.0.1:5061\n");
	assert_int_equal(f.queries, 0);
	sip_resolver_free(r);
	unlink(path);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

static void test_opts_check(void **state)
{
	(void)state;
	char err[200];
	struct sip_resolver_opts o = {.servers = "127.0.0.1:5353,[::1]:53", .hosts_file = ""};
	assert_int_equal(sip_resolver_opts_check(&o, err, sizeof(err)), 0);
	o.servers = "not an address";
	assert_int_equal(sip_resolver_opts_check(&o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an address"));
	o = (struct sip_resolver_opts){.min_ttl = 100, .max_ttl = 10, .servers = "127.0.0.1:1"};
	assert_int_equal(sip_resolver_opts_check(&o, err, sizeof(err)), -1);
	o = (struct sip_resolver_opts){.transports = 0x40, .servers = "127.0.0.1:1"};
	assert_int_equal(sip_resolver_opts_check(&o, err, sizeof(err)), -1);
	struct ev_loop *loop = test_loop();
	o.servers = "bogus";
	o.transports = 0;
	assert_null(sip_resolver_new(loop, &o));
	ev_loop_free(loop);
	assert_string_equal(sip_resolve_status_name(SIP_RESOLVE_NXDOMAIN), "nxdomain");
}

static void test_cache_answer_rejects(void **state)
{
	(void)state;
	struct ev_loop *loop = test_loop();
	struct fake_dns f;
	fake_start(&f, loop);
	struct sip_resolver *r = test_resolver(loop, &f, NULL);
	char err[200];
	unsigned char junk[5] = {1, 2, 3, 4, 5};
	assert_int_equal(sip_resolver_cache_answer(r, junk, sizeof(junk), err, sizeof(err)), -1);
	struct dnsmsg m, rd = rd_a("192.0.2.1");
	dns_begin(&m, "x.test", 16 /* TXT */, 0);
	dns_rr(&m, 0, "x.test", 16, 60, &rd);
	assert_int_equal(sip_resolver_cache_answer(r, m.b, m.len, err, sizeof(err)), -1);
	/* Truncated inside a record. */
	dns_begin(&m, "x.test", T_A_, 0);
	dns_rr(&m, 0, "x.test", T_A_, 60, &rd);
	assert_int_equal(sip_resolver_cache_answer(r, m.b, m.len - 3, err, sizeof(err)), -1);
	assert_int_equal(sip_resolver_cache_answer(r, m.b, m.len, err, sizeof(err)), 0);
	sip_resolver_free(r);
	fake_stop(&f, loop);
	ev_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_numeric),
	    cmocka_unit_test(test_plan_names),
	    cmocka_unit_test(test_plan_maddr),
	    cmocka_unit_test(test_plan_errors),
	    cmocka_unit_test(test_naptr_select),
	    cmocka_unit_test(test_srv_priority_order),
	    cmocka_unit_test(test_srv_weight_distribution),
	    cmocka_unit_test(test_srv_weight_zero),
	    cmocka_unit_test(test_srv_seed_repeats),
	    cmocka_unit_test(test_numeric_targets),
	    cmocka_unit_test(test_callback_never_inside),
	    cmocka_unit_test(test_cache_serves_without_dns),
	    cmocka_unit_test(test_cache_expiry),
	    cmocka_unit_test(test_negative_cache),
	    cmocka_unit_test(test_ttl_clamp),
	    cmocka_unit_test(test_cache_eviction),
	    cmocka_unit_test(test_blacklist_expiry),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_fallbacks),
	    cmocka_unit_test(test_hosts_file),
	    cmocka_unit_test(test_opts_check),
	    cmocka_unit_test(test_cache_answer_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
