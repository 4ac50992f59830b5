/*
 * The proxy core (RFC 3261 section 16) on a fake network: the test plays
 * the upstream UAC and the downstream UASs by feeding messages to the proxy
 * and reading what it sends, with a fake clock for Timer C.
 *
 * Next hops by name (RFC 3263 failover) use a real resolver whose cache is
 * loaded with hand-made DNS answers, so no DNS traffic ever leaves it.
 */
#include "unit/testutil.h"
#include "unit/dnsmsg.h"

#include <arpa/inet.h>

#include "ev.h"
#include "sip/proxy.h"
#include "sip/resolve.h"

static uint64_t now_ms;
static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return now_ms;
}

struct out {
	char buf[8192];
	size_t len;
	struct sip_peer to;
	bool taken;
};

struct env {
	struct ev_loop *loop;
	struct sip_proxy *proxy;
	struct sip_resolver *resolver;
	struct out out[256];
	int n;
	const char *fail_ip; /* sends to addresses starting so fail (transport error) */
	/* what the route hook does */
	const char *targets[4];
	unsigned groups[4];
	unsigned reply_status;
	bool edit;          /* the route hook removes Proxy-Authorization, adds a header */
	int routed;
	char ruri[256];     /* the Request-URI the route hook saw */
	unsigned final_status;
	int finals;         /* final hook calls */
	unsigned route_timeout; /* the route hook's sip_proxy_set_timeout, ms */
	bool route_norecurse;   /* the route hook's sip_proxy_set_recurse(false) */
	/* the failed hook: what it saw at each call, and what it does */
	struct fstep {
		enum { F_DECLINE, F_RESTART, F_REPLY, F_DEFER } act;
		const char *targets[4];
		unsigned groups[4];
		unsigned timeout;
		unsigned reply;
	} steps[8];
	int nfailed;
	unsigned fstatus[8];
	unsigned fbest[8];  /* the best message's status, 0 for none */
	bool ftimed[8];
	int add_rc[8];
	struct sip_proxy_ctx *deferred;
	char contacts[4][128];
	unsigned ncontacts;
	int recursions;     /* recursion hook calls */
};

static int hook_send(void *ctx, const struct sip_peer *to, const char *buf, size_t len)
{
	struct env *e = ctx;
	if (e->fail_ip) {
		char a[64];
		sip_peer_format(to, a, sizeof(a));
		if (strncmp(a, e->fail_ip, strlen(e->fail_ip)) == 0)
			return -1;
	}
	assert_true(e->n < 256);
	struct out *o = &e->out[e->n++];
	assert_true(len < sizeof(o->buf));
	memcpy(o->buf, buf, len);
	o->buf[len] = 0;
	o->len = len;
	o->to = *to;
	return 0;
}

static void hook_route(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *req)
{
	struct env *e = ctx;
	(void)req;
	e->routed++;
	snprintf(e->ruri, sizeof(e->ruri), "%.*s", (int)req->ruri_text.len, req->ruri_text.s);
	if (e->edit) {
		struct sip_hdr *pa = req->first[SIP_HDR_PROXY_AUTHORIZATION];
		if (pa)
			sip_msg_remove_header(pa);
		sip_msg_insert_header(req, &req->hdrs[1], "X-Edited: yes", 13);
		assert_int_equal(sip_proxy_commit_edits(pc), 0);
	}
	if (e->reply_status) {
		sip_proxy_reply(pc, e->reply_status, NULL, NULL);
		return;
	}
	for (int i = 0; i < 4 && e->targets[i]; i++)
		assert_int_equal(sip_proxy_add_target(pc, e->targets[i], strlen(e->targets[i]), e->groups[i]), 0);
	if (e->route_timeout)
		sip_proxy_set_timeout(pc, e->route_timeout);
	if (e->route_norecurse)
		sip_proxy_set_recurse(pc, false);
	sip_proxy_start(pc);
}

static void hook_final(void *ctx, struct sip_proxy_ctx *pc, unsigned status)
{
	(void)pc;
	((struct env *)ctx)->final_status = status;
	((struct env *)ctx)->finals++;
}

/* A CPL-like daemon: looks at how the attempt ended, then does what
 * steps[n] says (decline: the proxy answers; restart with new targets;
 * answer itself; or decide later, keeping pc in e->deferred). */
static bool hook_failed(void *ctx, struct sip_proxy_ctx *pc, unsigned status, const struct sip_msg *best)
{
	struct env *e = ctx;
	int k = e->nfailed++;
	assert_true(k < 8);
	e->fstatus[k] = status;
	e->fbest[k] = best ? best->status : 0;
	e->ftimed[k] = sip_proxy_timed_out(pc);
	const char *u[4];
	char buf[300];
	e->ncontacts = sip_proxy_best_contacts(pc, u, 4, buf, sizeof(buf));
	for (unsigned i = 0; i < e->ncontacts; i++)
		snprintf(e->contacts[i], sizeof(e->contacts[i]), "%s", u[i]);
	const struct fstep *st = &e->steps[k];
	switch (st->act) {
	case F_DECLINE:
		return false;
	case F_DEFER:
		e->deferred = pc;
		return true;
	case F_REPLY:
		sip_proxy_reply(pc, st->reply, NULL, NULL);
		return true;
	case F_RESTART:
		e->add_rc[k] = 0;
		for (int i = 0; i < 4 && st->targets[i]; i++)
			if (sip_proxy_add_target(pc, st->targets[i], strlen(st->targets[i]), st->groups[i]) < 0)
				e->add_rc[k] = -1;
		if (st->timeout)
			sip_proxy_set_timeout(pc, st->timeout);
		sip_proxy_start(pc);
		return true;
	}
	return false;
}

/* Hosted domain example.com goes to its "redirect server" 192.0.2.50:5070. */
static const char *hook_outbound(void *ctx, struct sip_proxy_ctx *pc, const struct sip_uri *target)
{
	(void)ctx;
	(void)pc;
	return sip_str_caseeq_lit(target->host, "example.com") ? "sip:192.0.2.50:5070" : NULL;
}

/* Scanners are dropped; a request with "X-Load: high" gets a 503. */
static unsigned hook_admit(void *ctx, struct sip_msg *req, const struct sip_peer *from, char *extra,
			   size_t cap)
{
	(void)ctx;
	(void)from;
	for (struct sip_hdr *h = req->hdrs; h < req->hdrs + req->hdr_count; h++) {
		if (sip_str_caseeq_lit(h->name, "User-Agent") && sip_str_caseeq_lit(h->value, "friendly-scanner"))
			return SIP_TXN_DROP;
		if (sip_str_caseeq_lit(h->name, "X-Load")) {
			snprintf(extra, cap, "Retry-After: 5\r\n");
			return 503;
		}
	}
	return 0;
}

/* ---- DNS answers, built by hand (unit/dnsmsg.h), for the resolver's cache */

static void cache(struct env *e, const struct dnsmsg *m)
{
	char err[200];
	if (sip_resolver_cache_answer(e->resolver, m->b, m->len, err, sizeof(err)) < 0)
		fail_msg("cache_answer: %s", err);
}

/* fo.test: SRV _sip._udp priority 10 a.fo.test (192.0.2.20), priority 20
 * b.fo.test (192.0.2.21), both port 5060; nx.test does not exist. */
static void load_zone(struct env *e)
{
	struct dnsmsg m, rd;
	dns_begin(&m, "_sip._udp.fo.test", T_SRV_, 0);
	static const struct {
		unsigned prio;
		const char *host, *ip;
	} srv[] = {{20, "b.fo.test", "192.0.2.21"}, {10, "a.fo.test", "192.0.2.20"}};
	for (size_t i = 0; i < 2; i++) {
		rd.len = 0;
		put16(&rd, srv[i].prio);
		put16(&rd, 0);
		put16(&rd, 5060);
		put_name(&rd, srv[i].host);
		dns_rr(&m, 0, "_sip._udp.fo.test", T_SRV_, 3600, &rd);
	}
	cache(e, &m);
	for (size_t i = 0; i < 2; i++) {
		dns_begin(&m, srv[i].host, T_A_, 0);
		rd.len = 4;
		assert_int_equal(inet_pton(AF_INET, srv[i].ip, rd.b), 1);
		dns_rr(&m, 0, srv[i].host, T_A_, 3600, &rd);
		cache(e, &m);
	}
	static const struct {
		const char *name;
		unsigned type;
	} nx[] = {{"_sip._udp.nx.test", T_SRV_}, {"nx.test", T_A_}};
	for (size_t i = 0; i < 2; i++) {
		dns_begin(&m, nx[i].name, nx[i].type, 3);
		rd.len = 0;
		put_name(&rd, "ns.test");
		put_name(&rd, "hostmaster.test");
		put32(&rd, 1);
		put32(&rd, 3600);
		put32(&rd, 600);
		put32(&rd, 86400);
		put32(&rd, 60);
		dns_rr(&m, 1, "test", T_SOA_, 3600, &rd);
		cache(e, &m);
	}
}

/* The synchronous hook: hook.test is 192.0.2.30:5060, nothing else is. */
static int hook_resolve(void *ctx, const struct sip_uri *next_hop, struct sip_peer *to)
{
	(void)ctx;
	if (!sip_str_caseeq_lit(next_hop->host, "hook.test"))
		return -1;
	return sip_peer_from_numeric(to, SIP_TP_UDP, "192.0.2.30", 10, 5060);
}

enum env_dns { ENV_NUMERIC, ENV_RESOLVER, ENV_HOOK };

static struct env *env_new_with(bool recurse, enum env_dns dns)
{
	struct env *e = calloc(1, sizeof(*e));
	now_ms = 5000000;
	e->loop = ev_loop_new();
	ev_set_clock(e->loop, fake_clock, NULL);
	if (dns == ENV_RESOLVER) {
		/* The server is never asked: every answer is in the cache. */
		struct sip_resolver_opts ro = {
			.servers = "127.0.0.1:9", .hosts_file = "", .seed = 42,
			.family = SIP_RESOLVE_V4_ONLY, .timeout_ms = 100, .tries = 1,
		};
		e->resolver = sip_resolver_new(e->loop, &ro);
		assert_non_null(e->resolver);
		load_zone(e);
	}
	struct sip_proxy_opts o = {
		.host = "192.0.2.100", .port = {5060, 5060, 5061}, .record_route = true,
		.recurse_3xx = recurse, .supported = "100rel,timer", .resolver = e->resolver,
	};
	struct sip_proxy_hooks h = {.ctx = e, .send = hook_send, .route = hook_route, .final = hook_final};
	if (dns == ENV_HOOK)
		h.resolve = hook_resolve;
	e->proxy = sip_proxy_new(e->loop, &o, &h);
	return e;
}

static struct env *env_new(bool recurse)
{
	return env_new_with(recurse, ENV_NUMERIC);
}

static void env_free(struct env *e)
{
	sip_proxy_free(e->proxy);
	if (e->resolver) {
		struct sip_resolver_stats st;
		sip_resolver_get_stats(e->resolver, &st);
		assert_int_equal(st.queries, 0); /* the cache answered everything */
		sip_resolver_free(e->resolver);
	}
	ev_loop_free(e->loop);
	free(e);
}

static void run(struct env *e, uint64_t ms)
{
	for (uint64_t t = 0; t <= ms; t += 10) {
		ev_run_timers(e->loop);
		now_ms += 10;
	}
}

static struct sip_peer peer(const char *ip, uint16_t port)
{
	struct sip_peer p;
	sip_peer_from_numeric(&p, SIP_TP_UDP, ip, strlen(ip), port);
	return p;
}

static void feed(struct env *e, const char *text, struct sip_peer from)
{
	size_t len;
	char *m = crlf(text, &len);
	sip_proxy_input(e->proxy, m, len, &from);
	free(m);
}

/* The next message sent to ip:port that starts with prefix; fails if none. */
static struct out *sent_to(struct env *e, const char *ip, uint16_t port, const char *prefix)
{
	struct sip_peer want = peer(ip, port);
	for (int i = 0; i < e->n; i++) {
		struct out *o = &e->out[i];
		if (!o->taken && sip_peer_equal(&o->to, &want) &&
		    strncmp(o->buf, prefix, strlen(prefix)) == 0) {
			o->taken = true;
			return o;
		}
	}
	fail_msg("nothing starting with \"%s\" sent to %s:%u", prefix, ip, port);
	return NULL;
}

static bool nothing_more_to(struct env *e, const char *ip, uint16_t port, const char *prefix)
{
	struct sip_peer want = peer(ip, port);
	for (int i = 0; i < e->n; i++)
		if (!e->out[i].taken && sip_peer_equal(&e->out[i].to, &want) &&
		    strncmp(e->out[i].buf, prefix, strlen(prefix)) == 0)
			return false;
	return true;
}

/* The branch of the top Via of a message we sent. */
static void top_branch(const struct out *o, char *branch, size_t cap)
{
	const char *b = strstr(o->buf, "branch=");
	assert_non_null(b);
	b += 7;
	size_t n = strcspn(b, ";,\r");
	assert_true(n < cap);
	memcpy(branch, b, n);
	branch[n] = 0;
}

static const struct sip_peer uac = {0};
#define UAC_IP "192.0.2.1"
#define UAC_PORT 5070

#define INVITE(ruri, extra)                                                     \
	"INVITE " ruri " SIP/2.0\n"                                             \
	"Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKuac1;rport\n"           \
	"Max-Forwards: 70\n"                                                    \
	"From: <sip:alice@example.com>;tag=a1\n"                                \
	"To: <sip:bob@example.com>\n"                                           \
	"Call-ID: call1@" UAC_IP "\n"                                           \
	"CSeq: 1 INVITE\n"                                                      \
	"Contact: <sip:alice@" UAC_IP ":5070>\n" extra                          \
	"Content-Length: 0\n\n"

/* A response from a UAS to the request we forwarded (our Via on top). */
static void respond_from(struct env *e, const struct out *req, unsigned status, const char *reason,
			 const char *ip, uint16_t port, const char *extra)
{
	char branch[128];
	top_branch(req, branch, sizeof(branch));
	/* copy every Via line of the forwarded request */
	char vias[2048] = "";
	for (const char *l = req->buf; (l = strstr(l, "\r\nVia: ")) != NULL; l += 2) {
		size_t n = strcspn(l + 2, "\r");
		strncat(vias, l + 2, n);
		strcat(vias, "\n");
	}
	const char *cseq = strstr(req->buf, "CSeq: ");
	const char *callid = strstr(req->buf, "Call-ID: ");
	char msg[4096];
	snprintf(msg, sizeof(msg),
		 "SIP/2.0 %u %s\n%s"
		 "From: <sip:alice@example.com>;tag=a1\n"
		 "To: <sip:bob@example.com>;tag=%s\n"
		 "%.*s\n"
		 "%.*s\n"
		 "%s"
		 "Content-Length: 0\n\n",
		 status, reason, vias, ip, (int)strcspn(callid, "\r"), callid,
		 (int)strcspn(cseq, "\r"), cseq, extra ? extra : "");
	feed(e, msg, peer(ip, port));
}

static void test_forward_and_headers(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20:5060";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 40001));
	run(e, 0);
	struct out *trying = sent_to(e, UAC_IP, 40001, "SIP/2.0 100 Trying");
	(void)trying;
	struct out *fwd = sent_to(e, "192.0.2.20", 5060, "INVITE sip:bob@192.0.2.20:5060 SIP/2.0\r\n");
	/* our Via on top with a loop-detection branch, then the UAC's Via
	 * with rport and received filled in (RFC 3581) */
	assert_non_null(strstr(fwd->buf, "\r\nVia: SIP/2.0/UDP 192.0.2.100:5060;branch=z9hG4bKvp"));
	assert_non_null(strstr(fwd->buf, "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKuac1;rport=40001;received=" UAC_IP));
	assert_non_null(strstr(fwd->buf, "Max-Forwards: 69\r\n"));
	assert_non_null(strstr(fwd->buf, "Record-Route: <sip:192.0.2.100:5060;lr>\r\n"));
	struct sip_msg m;
	assert_int_equal(sip_msg_parse(&m, fwd->buf, fwd->len, NULL, NULL), 0);
	assert_int_equal(sip_msg_check(&m, NULL), 0);
	sip_msg_free(&m);
	respond_from(e, fwd, 180, "Ringing", "192.0.2.20", 5060, NULL);
	struct out *ring = sent_to(e, UAC_IP, 40001, "SIP/2.0 180 Ringing");
	/* our Via is gone; the UAC's is first */
	assert_null(strstr(ring->buf, "192.0.2.100"));
	respond_from(e, fwd, 200, "OK", "192.0.2.20", 5060, NULL);
	sent_to(e, UAC_IP, 40001, "SIP/2.0 200 OK");
	assert_int_equal(e->final_status, 200);
	env_free(e);
}

static void test_fork_first_2xx_wins(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->targets[1] = "sip:bob@192.0.2.21";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	struct out *b = sent_to(e, "192.0.2.21", 5060, "INVITE ");
	char ba[128], bb[128];
	top_branch(a, ba, sizeof(ba));
	top_branch(b, bb, sizeof(bb));
	assert_string_not_equal(ba, bb);
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	respond_from(e, b, 200, "OK", "192.0.2.21", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	/* the ringing branch is cancelled with its own branch id */
	struct out *cancel = sent_to(e, "192.0.2.20", 5060, "CANCEL sip:bob@192.0.2.20 SIP/2.0");
	assert_non_null(strstr(cancel->buf, ba));
	assert_non_null(strstr(cancel->buf, "CSeq: 1 CANCEL"));
	respond_from(e, a, 487, "Request Terminated", "192.0.2.20", 5060, NULL);
	/* the 487 is acknowledged downstream and not passed upstream */
	sent_to(e, "192.0.2.20", 5060, "ACK ");
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 487"));
	env_free(e);
}

static void test_cancel_waits_for_provisional(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->targets[1] = "sip:bob@192.0.2.21";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	struct out *b = sent_to(e, "192.0.2.21", 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	/* the UAC gives up */
	feed(e,
	     "CANCEL sip:bob@example.com SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKuac1;rport\n"
	     "Max-Forwards: 70\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>\n"
	     "Call-ID: call1@" UAC_IP "\n"
	     "CSeq: 1 CANCEL\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	sent_to(e, "192.0.2.20", 5060, "CANCEL ");
	/* no provisional from b yet: no CANCEL to it (RFC 3261 9.1) ... */
	assert_true(nothing_more_to(e, "192.0.2.21", 5060, "CANCEL "));
	/* ... until it rings */
	respond_from(e, b, 183, "Session Progress", "192.0.2.21", 5060, NULL);
	sent_to(e, "192.0.2.21", 5060, "CANCEL ");
	respond_from(e, a, 487, "Request Terminated", "192.0.2.20", 5060, NULL);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 487"));
	respond_from(e, b, 487, "Request Terminated", "192.0.2.21", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	env_free(e);
}

#define CANCEL_REQ                                                              \
	"CANCEL sip:bob@example.com SIP/2.0\n"                                  \
	"Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKuac1;rport\n"           \
	"Max-Forwards: 70\n"                                                    \
	"From: <sip:alice@example.com>;tag=a1\n"                                \
	"To: <sip:bob@example.com>\n"                                           \
	"Call-ID: call1@" UAC_IP "\n"                                           \
	"CSeq: 1 CANCEL\n"                                                      \
	"Content-Length: 0\n\n"

/* The races of CANCEL with answers (RFC 3261 9.2, 16.10). */
static void test_cancel_races(void **state)
{
	(void)state;
	/* the callee answers 200 although our CANCEL is on its way: the 200
	 * still goes up (the caller will ACK and BYE it) */
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	feed(e, CANCEL_REQ, peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	sent_to(e, "192.0.2.20", 5060, "CANCEL ");
	respond_from(e, a, 200, "OK", "192.0.2.20", 5060, NULL);
	struct out *ok = sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_non_null(strstr(ok->buf, "CSeq: 1 INVITE"));
	env_free(e);

	/* the CANCEL arrives after the call was answered: 200 for the CANCEL,
	 * and nothing is cancelled downstream */
	e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 200, "OK", "192.0.2.20", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	feed(e, CANCEL_REQ, peer(UAC_IP, 5070));
	struct out *c = sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_non_null(strstr(c->buf, "CSeq: 1 CANCEL"));
	assert_true(nothing_more_to(e, "192.0.2.20", 5060, "CANCEL "));
	env_free(e);

	/* a CANCEL for a transaction we never saw: 481 */
	e = env_new(false);
	feed(e, CANCEL_REQ, peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 481");
	env_free(e);
}

static void test_best_response_and_6xx(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->targets[1] = "sip:bob@192.0.2.21";
	e->targets[2] = "sip:bob@192.0.2.22";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	struct out *b = sent_to(e, "192.0.2.21", 5060, "INVITE ");
	struct out *c = sent_to(e, "192.0.2.22", 5060, "INVITE ");
	respond_from(e, a, 503, "Service Unavailable", "192.0.2.20", 5060, NULL);
	respond_from(e, b, 486, "Busy Here", "192.0.2.21", 5060, NULL);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
	respond_from(e, c, 180, "Ringing", "192.0.2.22", 5060, NULL);
	respond_from(e, c, 603, "Decline", "192.0.2.22", 5060, NULL);
	/* a 6xx beats the 486 */
	sent_to(e, UAC_IP, 5070, "SIP/2.0 603 Decline");
	env_free(e);

	e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->targets[1] = "sip:bob@192.0.2.21";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	b = sent_to(e, "192.0.2.21", 5060, "INVITE ");
	respond_from(e, a, 503, "Service Unavailable", "192.0.2.20", 5060, NULL);
	respond_from(e, b, 500, "Oops", "192.0.2.21", 5060, NULL);
	/* 5xx only: one of them, and never a 503 upstream (16.7 step 6) */
	struct out *fin = sent_to(e, UAC_IP, 5070, "SIP/2.0 50");
	assert_null(strstr(fin->buf, "503"));
	env_free(e);
}

static void test_auth_challenges_aggregated(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->targets[1] = "sip:bob@192.0.2.21";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	struct out *b = sent_to(e, "192.0.2.21", 5060, "INVITE ");
	respond_from(e, a, 407, "Proxy Authentication Required", "192.0.2.20", 5060,
		     "Proxy-Authenticate: Digest realm=\"one\", nonce=\"n1\"\n");
	respond_from(e, b, 401, "Unauthorized", "192.0.2.21", 5060,
		     "WWW-Authenticate: Digest realm=\"two\", nonce=\"n2\"\n");
	struct out *fin = sent_to(e, UAC_IP, 5070, "SIP/2.0 40");
	assert_non_null(strstr(fin->buf, "realm=\"one\""));
	assert_non_null(strstr(fin->buf, "realm=\"two\""));
	env_free(e);
}

static void test_sequential_groups(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->groups[0] = 0;
	e->targets[1] = "sip:voicemail@192.0.2.30";
	e->groups[1] = 1;
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	assert_true(nothing_more_to(e, "192.0.2.30", 5060, "INVITE "));
	respond_from(e, a, 486, "Busy Here", "192.0.2.20", 5060, NULL);
	struct out *vm = sent_to(e, "192.0.2.30", 5060, "INVITE sip:voicemail@192.0.2.30 SIP/2.0");
	respond_from(e, vm, 200, "OK", "192.0.2.30", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	env_free(e);
}

static void test_redirect_recursion(void **state)
{
	(void)state;
	struct env *e = env_new(true);
	e->targets[0] = "sip:bob@192.0.2.40";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060,
		     "Contact: <sip:bob@192.0.2.41:5062>, <sip:bob@192.0.2.40>\n");
	sent_to(e, "192.0.2.40", 5060, "ACK ");
	/* the new contact is tried; the one already tried is not tried again */
	struct out *n = sent_to(e, "192.0.2.41", 5062, "INVITE sip:bob@192.0.2.41:5062 SIP/2.0");
	assert_true(nothing_more_to(e, "192.0.2.40", 5060, "INVITE "));
	respond_from(e, n, 404, "Not Found", "192.0.2.41", 5062, NULL);
	/* the 302 is not the answer once its contacts were tried */
	sent_to(e, UAC_IP, 5070, "SIP/2.0 404");
	env_free(e);
}

static void test_validation_answers(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	feed(e,
	     "OPTIONS sip:bob@example.com SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKmf0\n"
	     "Max-Forwards: 0\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>\n"
	     "Call-ID: mf0@x\n"
	     "CSeq: 1 OPTIONS\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 483 Too Many Hops");
	feed(e,
	     "OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKscheme\n"
	     "Max-Forwards: 70\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>\n"
	     "Call-ID: scheme@x\n"
	     "CSeq: 1 OPTIONS\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 416 Unsupported URI Scheme");
	feed(e,
	     "OPTIONS sip:bob@example.com SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKpr\n"
	     "Max-Forwards: 70\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>\n"
	     "Call-ID: pr@x\n"
	     "CSeq: 1 OPTIONS\n"
	     "Proxy-Require: timer, noProxiesSupportThis\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	struct out *r = sent_to(e, UAC_IP, 5070, "SIP/2.0 420 Bad Extension");
	assert_non_null(strstr(r->buf, "Unsupported: noProxiesSupportThis\r\n"));
	assert_int_equal(e->routed, 0);
	env_free(e);
}

static void test_loop_and_spiral(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.100:5060"; /* ourselves: it comes back */
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *fwd = sent_to(e, "192.0.2.100", 5060, "INVITE sip:bob@192.0.2.100:5060");
	/* it arrives again with a different Request-URI: a spiral, forwarded */
	e->targets[0] = "sip:bob@192.0.2.20";
	struct sip_peer self = peer("192.0.2.100", 5060);
	sip_proxy_input(e->proxy, fwd->buf, fwd->len, &self);
	sent_to(e, "192.0.2.20", 5060, "INVITE sip:bob@192.0.2.20 SIP/2.0");
	env_free(e);

	/* the same request coming back unchanged is a loop: 482 */
	e = env_new(false);
	e->targets[0] = "sip:carol@192.0.2.100";
	feed(e, INVITE("sip:carol@192.0.2.100", ""), peer(UAC_IP, 5070));
	fwd = sent_to(e, "192.0.2.100", 5060, "INVITE sip:carol@192.0.2.100 SIP/2.0");
	sip_proxy_input(e->proxy, fwd->buf, fwd->len, &self);
	sent_to(e, "192.0.2.100", 5060, "SIP/2.0 482 Loop Detected");
	env_free(e);
}

static void test_loose_and_strict_routes(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	/* in-dialog BYE with a Route through us to the next proxy */
	feed(e,
	     "BYE sip:bob@192.0.2.20:5060 SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKbye1\n"
	     "Max-Forwards: 70\n"
	     "Route: <sip:192.0.2.100:5060;lr>, <sip:192.0.2.50;lr>\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>;tag=b1\n"
	     "Call-ID: call1@" UAC_IP "\n"
	     "CSeq: 2 BYE\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	struct out *f = sent_to(e, "192.0.2.50", 5060, "BYE sip:bob@192.0.2.20:5060 SIP/2.0");
	assert_non_null(strstr(f->buf, "\r\nRoute: <sip:192.0.2.50;lr>\r\n"));
	assert_null(strstr(f->buf, "\r\nRoute: <sip:192.0.2.100"));
	assert_null(strstr(f->buf, "Record-Route")); /* in-dialog: the route set is fixed */
	assert_int_equal(e->routed, 0);
	/* double Record-Route from a transport change: both our entries go */
	feed(e,
	     "BYE sip:bob@192.0.2.20:5060 SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKbye1b\n"
	     "Max-Forwards: 70\n"
	     "Route: <sip:192.0.2.100:5060;lr>, <sips:192.0.2.100:5061;lr>, <sip:192.0.2.50;lr>\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>;tag=b1\n"
	     "Call-ID: call1@" UAC_IP "\n"
	     "CSeq: 5 BYE\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	f = sent_to(e, "192.0.2.50", 5060, "BYE sip:bob@192.0.2.20:5060 SIP/2.0");
	assert_non_null(strstr(f->buf, "\r\nRoute: <sip:192.0.2.50;lr>\r\n"));
	/* the next hop is a strict router: it gets the Request-URI */
	feed(e,
	     "BYE sip:bob@192.0.2.20:5060 SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKbye2\n"
	     "Max-Forwards: 70\n"
	     "Route: <sip:192.0.2.100:5060;lr>\n"
	     "Route: <sip:192.0.2.60>\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>;tag=b1\n"
	     "Call-ID: call1@" UAC_IP "\n"
	     "CSeq: 3 BYE\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	f = sent_to(e, "192.0.2.60", 5060, "BYE sip:192.0.2.60 SIP/2.0");
	assert_non_null(strstr(f->buf, "\r\nRoute: <sip:bob@192.0.2.20:5060>\r\n"));
	/* a strict router before us put our address in the Request-URI */
	feed(e,
	     "BYE sip:192.0.2.100:5060 SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKbye3\n"
	     "Max-Forwards: 70\n"
	     "Route: <sip:bob@192.0.2.20:5060>\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>;tag=b1\n"
	     "Call-ID: call1@" UAC_IP "\n"
	     "CSeq: 4 BYE\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	sent_to(e, "192.0.2.20", 5060, "BYE sip:bob@192.0.2.20:5060 SIP/2.0");
	env_free(e);
}

static void test_ack_for_2xx_forwarded(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	feed(e,
	     "ACK sip:bob@192.0.2.20:5060 SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKack1\n"
	     "Max-Forwards: 70\n"
	     "Route: <sip:192.0.2.100:5060;lr>\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>;tag=b1\n"
	     "Call-ID: call1@" UAC_IP "\n"
	     "CSeq: 1 ACK\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "ACK sip:bob@192.0.2.20:5060 SIP/2.0");
	assert_non_null(strstr(a->buf, "Max-Forwards: 69"));
	assert_null(strstr(a->buf, "Route:"));
	char b1[128];
	top_branch(a, b1, sizeof(b1));
	/* a retransmitted ACK gets the same branch (stateless, 16.11) */
	feed(e,
	     "ACK sip:bob@192.0.2.20:5060 SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKack1\n"
	     "Max-Forwards: 70\n"
	     "Route: <sip:192.0.2.100:5060;lr>\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>;tag=b1\n"
	     "Call-ID: call1@" UAC_IP "\n"
	     "CSeq: 1 ACK\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	a = sent_to(e, "192.0.2.20", 5060, "ACK ");
	char b2[128];
	top_branch(a, b2, sizeof(b2));
	assert_string_equal(b1, b2);
	env_free(e);
}

static void test_timer_c_cancels(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	run(e, 170000);
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL); /* resets Timer C */
	run(e, 170000);
	assert_true(nothing_more_to(e, "192.0.2.20", 5060, "CANCEL "));
	run(e, 20000);
	sent_to(e, "192.0.2.20", 5060, "CANCEL ");
	respond_from(e, a, 487, "Request Terminated", "192.0.2.20", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	env_free(e);
}

static void test_route_hook_can_answer(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->reply_status = 404;
	feed(e, INVITE("sip:nobody@example.com", ""), peer(UAC_IP, 5070));
	struct out *r = sent_to(e, UAC_IP, 5070, "SIP/2.0 404 Not Found");
	assert_non_null(strstr(r->buf, "To: <sip:bob@example.com>;tag="));
	assert_int_equal(e->final_status, 404);
	env_free(e);
}


/* ---- RFC 3263 next hops and failover ------------------------------------ */

#define FO_URI "sip:bob@fo.test;transport=udp"
#define FO_A "192.0.2.20" /* priority 10 */
#define FO_B "192.0.2.21" /* priority 20 */

#define CANCEL_CALL1                                                            \
	"CANCEL sip:bob@example.com SIP/2.0\n"                                  \
	"Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKuac1;rport\n"           \
	"Max-Forwards: 70\n"                                                    \
	"From: <sip:alice@example.com>;tag=a1\n"                                \
	"To: <sip:bob@example.com>\n"                                           \
	"Call-ID: call1@" UAC_IP "\n"                                           \
	"CSeq: 1 CANCEL\n"                                                      \
	"Content-Length: 0\n\n"

/* Another call than INVITE()'s: its own Call-ID and branch. */
#define INVITE_CALL(ruri, n)                                                    \
	"INVITE " ruri " SIP/2.0\n"                                             \
	"Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKuac" n ";rport\n"       \
	"Max-Forwards: 70\n"                                                    \
	"From: <sip:alice@example.com>;tag=a" n "\n"                            \
	"To: <sip:bob@example.com>\n"                                           \
	"Call-ID: call" n "@" UAC_IP "\n"                                       \
	"CSeq: 1 INVITE\n"                                                      \
	"Content-Length: 0\n\n"

static struct env *fo_env(void)
{
	struct env *e = env_new_with(false, ENV_RESOLVER);
	e->targets[0] = FO_URI;
	return e;
}

static bool is_failed(struct env *e, const char *ip)
{
	struct sip_peer p = peer(ip, 5060);
	return sip_resolver_is_failed(e->resolver, &p);
}

static void test_failover_on_503(void **state)
{
	(void)state;
	struct env *e = fo_env();
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	/* nothing goes out before the resolver answers (from the loop) */
	assert_true(nothing_more_to(e, FO_A, 5060, "INVITE "));
	run(e, 0);
	struct out *a = sent_to(e, FO_A, 5060, "INVITE " FO_URI " SIP/2.0\r\n");
	assert_true(nothing_more_to(e, FO_B, 5060, "INVITE "));
	respond_from(e, a, 503, "Service Unavailable", FO_A, 5060, "Retry-After: 5\n");
	/* the 503 is acknowledged; the same request goes to the next address
	 * in a new transaction, and the caller hears nothing of it */
	sent_to(e, FO_A, 5060, "ACK ");
	struct out *b = sent_to(e, FO_B, 5060, "INVITE " FO_URI " SIP/2.0\r\n");
	char ba[128], bb[128];
	top_branch(a, ba, sizeof(ba));
	top_branch(b, bb, sizeof(bb));
	assert_string_not_equal(ba, bb);
	assert_non_null(strstr(b->buf, "Max-Forwards: 69\r\n"));
	assert_non_null(strstr(b->buf, "Record-Route: <sip:192.0.2.100:5060;lr>\r\n"));
	assert_null(strstr(b->buf, ba));
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 5"));
	respond_from(e, b, 180, "Ringing", FO_B, 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
	respond_from(e, b, 200, "OK", FO_B, 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_int_equal(e->final_status, 200);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 5"));
	/* the 503's sender is left alone for its Retry-After */
	assert_true(is_failed(e, FO_A));
	assert_false(is_failed(e, FO_B));
	struct sip_proxy_stats ps;
	sip_proxy_get_stats(e->proxy, &ps);
	assert_int_equal(ps.failovers, 1);
	assert_int_equal(ps.forwarded, 2);
	/* while it is marked, a new call tries the other address first */
	feed(e, INVITE_CALL("sip:bob@example.com", "2"), peer(UAC_IP, 5070));
	run(e, 0);
	sent_to(e, FO_B, 5060, "INVITE ");
	assert_true(nothing_more_to(e, FO_A, 5060, "INVITE "));
	run(e, 5000);
	assert_false(is_failed(e, FO_A));
	env_free(e);
}

static void test_failover_on_transport_error(void **state)
{
	(void)state;
	struct env *e = fo_env();
	e->fail_ip = FO_A ":";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	/* the failed send is reported from the loop; the next address follows */
	struct out *b = sent_to(e, FO_B, 5060, "INVITE " FO_URI " SIP/2.0\r\n");
	assert_true(is_failed(e, FO_A));
	respond_from(e, b, 200, "OK", FO_B, 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	env_free(e);
}

static void test_failover_on_timeout(void **state)
{
	(void)state;
	struct env *e = fo_env();
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	sent_to(e, FO_A, 5060, "INVITE ");
	run(e, 31000); /* Timer A retransmits; Timer B (64*T1) not yet */
	sent_to(e, FO_A, 5060, "INVITE "); /* a retransmission */
	assert_true(nothing_more_to(e, FO_B, 5060, "INVITE "));
	run(e, 1500);
	struct out *b = sent_to(e, FO_B, 5060, "INVITE ");
	assert_true(is_failed(e, FO_A));
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 408"));
	respond_from(e, b, 180, "Ringing", FO_B, 5060, NULL);
	respond_from(e, b, 200, "OK", FO_B, 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	env_free(e);

	/* a non-INVITE the same way (Timer F) */
	e = fo_env();
	feed(e,
	     "OPTIONS sip:bob@example.com SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKopt1\n"
	     "Max-Forwards: 70\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>\n"
	     "Call-ID: opt1@x\n"
	     "CSeq: 1 OPTIONS\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	run(e, 0);
	sent_to(e, FO_A, 5060, "OPTIONS ");
	run(e, 32500);
	b = sent_to(e, FO_B, 5060, "OPTIONS ");
	respond_from(e, b, 200, "OK", FO_B, 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	env_free(e);
}

static void test_no_failover_after_provisional(void **state)
{
	(void)state;
	struct env *e = fo_env();
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	struct out *a = sent_to(e, FO_A, 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", FO_A, 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
	/* the caller heard it ring: a 503 now is the answer (as 500, 16.7) */
	respond_from(e, a, 503, "Service Unavailable", FO_A, 5060, NULL);
	assert_true(nothing_more_to(e, FO_B, 5060, "INVITE "));
	struct out *fin = sent_to(e, UAC_IP, 5070, "SIP/2.0 500");
	assert_null(strstr(fin->buf, "503"));
	assert_true(is_failed(e, FO_A)); /* still a 503 from that address */
	env_free(e);

	/* a 100 Trying is hop-by-hop and never reached the caller: a 503
	 * after it still fails over */
	e = fo_env();
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	a = sent_to(e, FO_A, 5060, "INVITE ");
	respond_from(e, a, 100, "Trying", FO_A, 5060, NULL);
	respond_from(e, a, 503, "Service Unavailable", FO_A, 5060, NULL);
	struct out *b = sent_to(e, FO_B, 5060, "INVITE ");
	respond_from(e, b, 200, "OK", FO_B, 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	env_free(e);
}

static void test_failover_list_exhausted(void **state)
{
	(void)state;
	/* every address 503: the last one's answer, as 500 */
	struct env *e = fo_env();
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	struct out *a = sent_to(e, FO_A, 5060, "INVITE ");
	respond_from(e, a, 503, "Service Unavailable", FO_A, 5060, NULL);
	struct out *b = sent_to(e, FO_B, 5060, "INVITE ");
	respond_from(e, b, 503, "Service Unavailable", FO_B, 5060, NULL);
	struct out *fin = sent_to(e, UAC_IP, 5070, "SIP/2.0 500");
	assert_null(strstr(fin->buf, "503"));
	assert_true(nothing_more_to(e, FO_A, 5060, "INVITE "));
	env_free(e);

	/* every address silent: 408 */
	e = fo_env();
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	sent_to(e, FO_A, 5060, "INVITE ");
	run(e, 32500);
	sent_to(e, FO_B, 5060, "INVITE ");
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 408"));
	run(e, 32500);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 408");
	assert_int_equal(e->final_status, 408);
	env_free(e);

	/* no address can be sent to: 503 from us */
	e = fo_env();
	e->fail_ip = "192.0.2.2"; /* both */
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 503");
	assert_true(is_failed(e, FO_A));
	assert_true(is_failed(e, FO_B));
	env_free(e);

	/* a name that does not exist: 404 */
	e = env_new_with(false, ENV_RESOLVER);
	e->targets[0] = "sip:bob@nx.test;transport=udp";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 404");
	struct sip_proxy_stats ps;
	sip_proxy_get_stats(e->proxy, &ps);
	assert_int_equal(ps.dns_failures, 1);
	assert_int_equal(ps.forwarded, 0);
	env_free(e);
}

static void test_cancel_during_failover(void **state)
{
	(void)state;
	struct env *e = fo_env();
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	struct out *a = sent_to(e, FO_A, 5060, "INVITE ");
	respond_from(e, a, 503, "Service Unavailable", FO_A, 5060, NULL);
	struct out *b = sent_to(e, FO_B, 5060, "INVITE ");
	char bb[128];
	top_branch(b, bb, sizeof(bb));
	/* the caller gives up while the second address has said nothing */
	feed(e, CANCEL_CALL1, peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_true(nothing_more_to(e, FO_B, 5060, "CANCEL "));
	/* the CANCEL goes to the attempt that is current, once it rings */
	respond_from(e, b, 180, "Ringing", FO_B, 5060, NULL);
	struct out *c = sent_to(e, FO_B, 5060, "CANCEL " FO_URI " SIP/2.0");
	assert_non_null(strstr(c->buf, bb));
	assert_true(nothing_more_to(e, FO_A, 5060, "CANCEL "));
	respond_from(e, b, 487, "Request Terminated", FO_B, 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	env_free(e);

	/* cancelled before the first address answered: no failover after
	 * its timeout, and the caller gets the 487 it asked for */
	e = fo_env();
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	sent_to(e, FO_A, 5060, "INVITE ");
	feed(e, CANCEL_CALL1, peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	run(e, 32500);
	assert_true(nothing_more_to(e, FO_B, 5060, "INVITE "));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	env_free(e);

	/* cancelled while the name is being resolved: nothing goes out */
	e = fo_env();
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	feed(e, CANCEL_CALL1, peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	run(e, 1000);
	assert_true(nothing_more_to(e, FO_A, 5060, "INVITE "));
	assert_true(nothing_more_to(e, FO_B, 5060, "INVITE "));
	env_free(e);

	/* the proxy goes away while a name is being resolved */
	e = fo_env();
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	env_free(e);
}

static void test_resolved_hops(void **state)
{
	(void)state;
	/* a Route by name is located too, and keeps the target as R-URI */
	struct env *e = fo_env();
	feed(e,
	     "BYE sip:bob@192.0.2.40:5060 SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKbyefo\n"
	     "Max-Forwards: 70\n"
	     "Route: <sip:192.0.2.100:5060;lr>, <sip:fo.test;transport=udp;lr>\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>;tag=b1\n"
	     "Call-ID: call1@" UAC_IP "\n"
	     "CSeq: 2 BYE\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	run(e, 0);
	struct out *bye = sent_to(e, FO_A, 5060, "BYE sip:bob@192.0.2.40:5060 SIP/2.0");
	respond_from(e, bye, 503, "Service Unavailable", FO_A, 5060, NULL);
	bye = sent_to(e, FO_B, 5060, "BYE sip:bob@192.0.2.40:5060 SIP/2.0");
	respond_from(e, bye, 200, "OK", FO_B, 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	/* an ACK for a 2xx to a name: held until located, then sent */
	feed(e,
	     "ACK " FO_URI " SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKackfo\n"
	     "Max-Forwards: 70\n"
	     "Route: <sip:192.0.2.100:5060;lr>\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>;tag=b1\n"
	     "Call-ID: call1@" UAC_IP "\n"
	     "CSeq: 1 ACK\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	run(e, 0);
	/* b.fo.test comes first now: a.fo.test is marked failed */
	struct out *ack = sent_to(e, FO_B, 5060, "ACK " FO_URI " SIP/2.0");
	assert_non_null(strstr(ack->buf, "Max-Forwards: 69\r\n"));
	assert_non_null(strstr(ack->buf, "\r\nVia: SIP/2.0/UDP 192.0.2.100:5060;branch=z9hG4bKvp"));
	env_free(e);

	/* the synchronous hook still works without a resolver */
	e = env_new_with(false, ENV_HOOK);
	e->targets[0] = "sip:bob@hook.test";
	e->targets[1] = "sip:bob@nohook.test";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *h = sent_to(e, "192.0.2.30", 5060, "INVITE sip:bob@hook.test SIP/2.0");
	respond_from(e, h, 486, "Busy Here", "192.0.2.30", 5060, NULL);
	/* the name the hook does not know failed with 404 on the spot */
	sent_to(e, UAC_IP, 5070, "SIP/2.0 486");
	env_free(e);
}

/* The daemon's policy hooks: an outbound proxy per target (3xx recursion
 * included), admission control before any transaction, and header edits
 * made by the route hook that every branch forwards. */
static void test_outbound_admit_and_edits(void **state)
{
	(void)state;
	struct env *e = env_new(true);
	sip_proxy_free(e->proxy);
	struct sip_proxy_opts o = {.host = "192.0.2.100", .port = {5060, 5060, 5061}, .record_route = true,
				   .recurse_3xx = true};
	struct sip_proxy_hooks h = {.ctx = e, .send = hook_send, .route = hook_route,
				    .final = hook_final, .outbound = hook_outbound, .admit = hook_admit};
	e->proxy = sip_proxy_new(e->loop, &o, &h);
	e->edit = true;
	e->targets[0] = "sip:bob@example.com";
	feed(e, INVITE("sip:bob@example.com", "Proxy-Authorization: Digest username=\"alice\"\n"),
	     peer(UAC_IP, 5070));
	/* the Request-URI stays; the request goes to the outbound proxy */
	struct out *r = sent_to(e, "192.0.2.50", 5070, "INVITE sip:bob@example.com SIP/2.0");
	assert_null(strstr(r->buf, "Proxy-Authorization"));
	assert_non_null(strstr(r->buf, "\r\nX-Edited: yes\r\n"));
	/* its 302 names a contact in the hosted domain (asked again through
	 * the outbound proxy) and a device (sent to directly) */
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.50", 5070,
		     "Contact: <sip:carol@example.com>, <sip:bob@192.0.2.41:5062>\n");
	sent_to(e, "192.0.2.50", 5070, "ACK ");
	struct out *c = sent_to(e, "192.0.2.50", 5070, "INVITE sip:carol@example.com SIP/2.0");
	assert_non_null(strstr(c->buf, "\r\nX-Edited: yes\r\n"));
	struct out *d = sent_to(e, "192.0.2.41", 5062, "INVITE sip:bob@192.0.2.41:5062 SIP/2.0");
	respond_from(e, c, 404, "Not Found", "192.0.2.50", 5070, NULL);
	respond_from(e, d, 486, "Busy Here", "192.0.2.41", 5062, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 4"); /* 404 or 486: both 4xx (16.7 step 6) */
	assert_int_equal(e->routed, 1);

	/* a scanner gets nothing at all, and no transaction */
	int before = e->n;
	feed(e, "OPTIONS sip:bob@example.com SIP/2.0\n"
		"Via: SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bKscan1\n"
		"Max-Forwards: 70\nFrom: <sip:100@1.2.3.4>;tag=s\nTo: <sip:100@1.2.3.4>\n"
		"Call-ID: scan1\nCSeq: 1 OPTIONS\nUser-Agent: friendly-scanner\nContent-Length: 0\n\n",
	     peer("198.51.100.9", 5060));
	assert_int_equal(e->n, before);
	/* overload: a stateless 503 with the hook's Retry-After */
	feed(e, "OPTIONS sip:bob@example.com SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKload1\n"
		"Max-Forwards: 70\nFrom: <sip:alice@example.com>;tag=l\nTo: <sip:bob@example.com>\n"
		"Call-ID: load1\nCSeq: 1 OPTIONS\nX-Load: high\nContent-Length: 0\n\n",
	     peer(UAC_IP, 5070));
	struct out *busy = sent_to(e, UAC_IP, 5070, "SIP/2.0 503");
	assert_non_null(strstr(busy->buf, "\r\nRetry-After: 5\r\n"));
	assert_int_equal(e->routed, 1);
	struct sip_txn_stats ts;
	sip_txn_get_stats(sip_proxy_txn_layer(e->proxy), &ts);
	assert_int_equal(ts.refused, 2);
	env_free(e);
}

/* A maddr naming us is stripped with port and transport (16.4); one
 * naming another server stays. */
static void test_maddr_of_ours_stripped(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->reply_status = 404;
	feed(e, INVITE("sip:bob@example.com:5060;maddr=192.0.2.100;transport=udp;user=phone", ""),
	     peer(UAC_IP, 5070));
	assert_string_equal(e->ruri, "sip:bob@example.com;user=phone");
	feed(e, "INVITE sip:bob@example.com;maddr=192.0.2.99 SIP/2.0\n"
		"Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKuac2\nMax-Forwards: 70\n"
		"From: <sip:alice@example.com>;tag=a2\nTo: <sip:bob@example.com>\n"
		"Call-ID: call2\nCSeq: 1 INVITE\nContent-Length: 0\n\n", peer(UAC_IP, 5070));
	assert_string_equal(e->ruri, "sip:bob@example.com;maddr=192.0.2.99");
	env_free(e);
}

/* A response whose only Via is ours was meant for us (16.7 step 3): it
 * is not forwarded as it is (with no Via at all); a final one is answered
 * upstream by us, a provisional one dropped. */
static void test_response_without_caller_via(void **state)
{
	(void)state;
	struct env *e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *fwd = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	char branch[128], msg[2048];
	top_branch(fwd, branch, sizeof(branch));
	static const char *const codes[] = {"180 Ringing", "486 Busy Here"};
	for (int i = 0; i < 2; i++) {
		snprintf(msg, sizeof(msg),
			 "SIP/2.0 %s\nVia: SIP/2.0/UDP 192.0.2.100:5060;branch=%s\n"
			 "From: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b\n"
			 "Call-ID: call1@" UAC_IP "\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
			 codes[i], branch);
		feed(e, msg, peer("192.0.2.20", 5060));
	}
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 180"));
	struct out *busy = sent_to(e, UAC_IP, 5070, "SIP/2.0 486");
	assert_non_null(strstr(busy->buf, "branch=z9hG4bKuac1"));
	env_free(e);
}

/* ---- attempts: the failed hook, the per-attempt timeout ------------------ */

/* A proxy whose daemon has a failed hook (and max_branches, 0 = 16). */
static struct env *env_hooked_with(bool recurse, unsigned max_branches, enum env_dns dns)
{
	struct env *e = env_new_with(recurse, dns);
	sip_proxy_free(e->proxy);
	struct sip_proxy_opts o = {.host = "192.0.2.100", .port = {5060, 5060, 5061}, .record_route = true,
				   .recurse_3xx = recurse, .max_branches = max_branches,
				   .resolver = e->resolver};
	struct sip_proxy_hooks h = {.ctx = e, .send = hook_send, .route = hook_route,
				    .final = hook_final, .failed = hook_failed};
	e->proxy = sip_proxy_new(e->loop, &o, &h);
	return e;
}

static struct env *env_hooked(bool recurse, unsigned max_branches)
{
	return env_hooked_with(recurse, max_branches, ENV_NUMERIC);
}

static size_t live_contexts(struct env *e)
{
	struct sip_proxy_stats ps;
	sip_proxy_get_stats(e->proxy, &ps);
	return ps.contexts;
}

/* The UAC acknowledges a non-2xx final response of call 1. */
static void uac_ack(struct env *e)
{
	feed(e,
	     "ACK sip:bob@example.com SIP/2.0\n"
	     "Via: SIP/2.0/UDP " UAC_IP ":5070;branch=z9hG4bKuac1;rport\n"
	     "Max-Forwards: 70\n"
	     "From: <sip:alice@example.com>;tag=a1\n"
	     "To: <sip:bob@example.com>;tag=x\n"
	     "Call-ID: call1@" UAC_IP "\n"
	     "CSeq: 1 ACK\n"
	     "Content-Length: 0\n\n",
	     peer(UAC_IP, 5070));
}

/* Busy, then a new attempt elsewhere (CPL busy output): the caller heard
 * the first ringing, which does not stop the second attempt, and never
 * hears the 486. */
static void test_failed_hook_restarts(void **state)
{
	(void)state;
	struct env *e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->steps[0] = (struct fstep){.act = F_RESTART, .targets = {"sip:vm@192.0.2.30"}};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
	assert_int_equal(e->nfailed, 0);
	respond_from(e, a, 486, "Busy Here", "192.0.2.20", 5060, NULL);
	sent_to(e, "192.0.2.20", 5060, "ACK ");
	assert_int_equal(e->nfailed, 1);
	assert_int_equal(e->fstatus[0], 486);
	assert_int_equal(e->fbest[0], 486);
	assert_false(e->ftimed[0]);
	assert_int_equal(e->ncontacts, 0);
	struct out *vm = sent_to(e, "192.0.2.30", 5060, "INVITE sip:vm@192.0.2.30 SIP/2.0");
	/* a new branch: its own Via branch, the same request otherwise */
	char ba[128], bv[128];
	top_branch(a, ba, sizeof(ba));
	top_branch(vm, bv, sizeof(bv));
	assert_string_not_equal(ba, bv);
	assert_non_null(strstr(vm->buf, "Max-Forwards: 69\r\n"));
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 486"));
	respond_from(e, vm, 180, "Ringing", "192.0.2.30", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
	respond_from(e, vm, 200, "OK", "192.0.2.30", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_int_equal(e->final_status, 200);
	assert_int_equal(e->finals, 1);
	assert_int_equal(e->nfailed, 1);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
	struct sip_proxy_stats ps;
	sip_proxy_get_stats(e->proxy, &ps);
	assert_int_equal(ps.reattempts, 1);
	assert_int_equal(ps.unanswered, 0);
	env_free(e);
}

static void test_failed_hook_declines_or_replies(void **state)
{
	(void)state;
	/* declined: the best response goes up as without the hook */
	struct env *e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->targets[1] = "sip:bob@192.0.2.21";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	struct out *b = sent_to(e, "192.0.2.21", 5060, "INVITE ");
	respond_from(e, a, 486, "Busy Here", "192.0.2.20", 5060, NULL);
	assert_int_equal(e->nfailed, 0); /* b still runs */
	respond_from(e, b, 503, "Service Unavailable", "192.0.2.21", 5060, NULL);
	assert_int_equal(e->nfailed, 1);
	assert_int_equal(e->fstatus[0], 486); /* 4xx before 5xx */
	sent_to(e, UAC_IP, 5070, "SIP/2.0 486 Busy Here");
	assert_int_equal(e->finals, 1);
	env_free(e);

	/* the daemon answers itself: its 486 and nothing else goes up */
	e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->steps[0] = (struct fstep){.act = F_REPLY, .reply = 486};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 404, "Not Found", "192.0.2.20", 5060, NULL);
	assert_int_equal(e->fstatus[0], 404);
	struct out *r = sent_to(e, UAC_IP, 5070, "SIP/2.0 486 Busy Here");
	assert_non_null(strstr(r->buf, "CSeq: 1 INVITE"));
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 404"));
	assert_int_equal(e->final_status, 486);
	assert_int_equal(e->finals, 1);
	uac_ack(e);
	run(e, 40000);
	assert_int_equal(live_contexts(e), 0);
	env_free(e);

	/* the daemon answers later */
	e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->steps[0] = (struct fstep){.act = F_DEFER};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 480, "Temporarily Unavailable", "192.0.2.20", 5060, NULL);
	run(e, 40000); /* the downstream transaction is long gone */
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
	assert_int_equal(live_contexts(e), 1);
	assert_false(sip_proxy_answered(e->deferred));
	sip_proxy_reply(e->deferred, 603, "Decline", NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 603 Decline");
	uac_ack(e);
	run(e, 40000);
	assert_int_equal(live_contexts(e), 0);
	env_free(e);
}

/* Three attempts in a row, the second decided later; the third's best
 * response is the answer, not an earlier attempt's. */
static void test_three_attempts(void **state)
{
	(void)state;
	struct env *e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->steps[0] = (struct fstep){.act = F_RESTART, .targets = {"sip:bob@192.0.2.21", "sip:bob@192.0.2.22"}};
	e->steps[1] = (struct fstep){.act = F_DEFER};
	e->steps[2] = (struct fstep){.act = F_DECLINE};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 486, "Busy Here", "192.0.2.20", 5060, NULL);
	struct out *b = sent_to(e, "192.0.2.21", 5060, "INVITE ");
	struct out *c = sent_to(e, "192.0.2.22", 5060, "INVITE ");
	respond_from(e, b, 404, "Not Found", "192.0.2.21", 5060, NULL);
	assert_int_equal(e->nfailed, 1);
	respond_from(e, c, 410, "Gone", "192.0.2.22", 5060, NULL);
	assert_int_equal(e->nfailed, 2);
	assert_int_equal(e->fstatus[1] / 100, 4);
	/* the second attempt's branches only: not the first one's 486 */
	assert_true(e->fstatus[1] == 404 || e->fstatus[1] == 410);
	run(e, 1000);
	const char *d = "sip:bob@192.0.2.23";
	assert_int_equal(sip_proxy_add_target(e->deferred, d, strlen(d), 0), 0);
	sip_proxy_start(e->deferred);
	struct out *dd = sent_to(e, "192.0.2.23", 5060, "INVITE sip:bob@192.0.2.23 SIP/2.0");
	respond_from(e, dd, 503, "Service Unavailable", "192.0.2.23", 5060, NULL);
	assert_int_equal(e->nfailed, 3);
	assert_int_equal(e->fstatus[2], 503);
	/* declined: the third attempt's best, as 500 (16.7 step 6) */
	sent_to(e, UAC_IP, 5070, "SIP/2.0 500");
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
	assert_int_equal(e->finals, 1);
	struct sip_proxy_stats ps;
	sip_proxy_get_stats(e->proxy, &ps);
	assert_int_equal(ps.reattempts, 2);
	uac_ack(e);
	run(e, 40000);
	assert_int_equal(live_contexts(e), 0);
	env_free(e);
}

/* A 6xx ends the attempt (the others CANCELled, 16.7 step 5), and the
 * hook hears it; a new attempt after it forks as usual. */
static void test_6xx_ends_attempt(void **state)
{
	(void)state;
	struct env *e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->targets[1] = "sip:bob@192.0.2.21";
	e->steps[0] = (struct fstep){.act = F_RESTART, .targets = {"sip:vm@192.0.2.30", "sip:vm@192.0.2.31"},
				     .groups = {0, 1}};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	struct out *b = sent_to(e, "192.0.2.21", 5060, "INVITE ");
	respond_from(e, b, 180, "Ringing", "192.0.2.21", 5060, NULL);
	respond_from(e, a, 603, "Decline", "192.0.2.20", 5060, NULL);
	sent_to(e, "192.0.2.21", 5060, "CANCEL ");
	assert_int_equal(e->nfailed, 0);
	respond_from(e, b, 487, "Request Terminated", "192.0.2.21", 5060, NULL);
	assert_int_equal(e->nfailed, 1);
	assert_int_equal(e->fstatus[0], 603);
	assert_int_equal(e->fbest[0], 603);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 6"));
	struct out *v = sent_to(e, "192.0.2.30", 5060, "INVITE ");
	assert_true(nothing_more_to(e, "192.0.2.31", 5060, "INVITE "));
	respond_from(e, v, 486, "Busy Here", "192.0.2.30", 5060, NULL);
	/* no 6xx in this attempt: its next group goes */
	struct out *w = sent_to(e, "192.0.2.31", 5060, "INVITE ");
	respond_from(e, w, 200, "OK", "192.0.2.31", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_int_equal(e->nfailed, 1);
	env_free(e);

	/* declined after a 6xx: the 6xx goes up */
	e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 600, "Busy Everywhere", "192.0.2.20", 5060, NULL);
	assert_int_equal(e->fstatus[0], 600);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 600 Busy Everywhere");
	env_free(e);
}

/* CPL's <proxy timeout="20">: no answer in 20 s, the ringing branch is
 * CANCELled and the attempt ends with 408 at once (noanswer); a new one
 * goes to voicemail without waiting for the 487, which is absorbed. */
static void test_attempt_timeout(void **state)
{
	(void)state;
	struct env *e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->targets[1] = "sip:bob@192.0.2.21";
	e->route_timeout = 20000;
	e->steps[0] = (struct fstep){.act = F_RESTART, .targets = {"sip:vm@192.0.2.30"}};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	struct out *b = sent_to(e, "192.0.2.21", 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
	respond_from(e, b, 100, "Trying", "192.0.2.21", 5060, NULL);
	run(e, 19800);
	assert_int_equal(e->nfailed, 0);
	assert_true(nothing_more_to(e, "192.0.2.20", 5060, "CANCEL "));
	run(e, 400);
	/* the ringing branch is CANCELled; the one that only said 100 too
	 * (a provisional, RFC 3261 9.1) */
	sent_to(e, "192.0.2.20", 5060, "CANCEL ");
	sent_to(e, "192.0.2.21", 5060, "CANCEL ");
	assert_int_equal(e->nfailed, 1);
	assert_int_equal(e->fstatus[0], 408);
	assert_int_equal(e->fbest[0], 0);
	assert_true(e->ftimed[0]);
	struct out *vm = sent_to(e, "192.0.2.30", 5060, "INVITE sip:vm@192.0.2.30 SIP/2.0");
	/* the cancelled branches' answers are absorbed */
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 180"));
	respond_from(e, a, 487, "Request Terminated", "192.0.2.20", 5060, NULL);
	sent_to(e, "192.0.2.20", 5060, "ACK ");
	respond_from(e, b, 487, "Request Terminated", "192.0.2.21", 5060, NULL);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
	assert_int_equal(e->nfailed, 1);
	/* the new attempt has no timeout of its own: it rings on */
	respond_from(e, vm, 180, "Ringing", "192.0.2.30", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
	run(e, 30000);
	assert_true(nothing_more_to(e, "192.0.2.30", 5060, "CANCEL "));
	respond_from(e, vm, 200, "OK", "192.0.2.30", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	struct sip_proxy_stats ps;
	sip_proxy_get_stats(e->proxy, &ps);
	assert_int_equal(ps.attempt_timeouts, 1);
	env_free(e);

	/* a branch without any provisional is CANCELled once it has one;
	 * without a hook the caller gets the 408 at the timeout */
	e = env_new(false);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->route_timeout = 5000;
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	run(e, 5200);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 408");
	assert_int_equal(e->final_status, 408);
	assert_true(nothing_more_to(e, "192.0.2.20", 5060, "CANCEL "));
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 180"));
	sent_to(e, "192.0.2.20", 5060, "CANCEL ");
	respond_from(e, a, 487, "Request Terminated", "192.0.2.20", 5060, NULL);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 487"));
	uac_ack(e);
	run(e, 40000);
	assert_int_equal(live_contexts(e), 0);
	env_free(e);

	/* a 2xx in time: the timeout never fires */
	e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->route_timeout = 5000;
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 200, "OK", "192.0.2.20", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	run(e, 10000);
	assert_int_equal(e->nfailed, 0);
	assert_true(nothing_more_to(e, "192.0.2.20", 5060, "CANCEL "));
	env_free(e);
}

/* The timed-out branch answers 200 before its 487: the call is answered
 * (the 200 goes up), whatever the daemon does next. */
static void test_timeout_2xx_race(void **state)
{
	(void)state;
	/* the daemon had already begun a new attempt: it is CANCELled */
	struct env *e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->route_timeout = 20000;
	e->steps[0] = (struct fstep){.act = F_RESTART, .targets = {"sip:vm@192.0.2.30"}};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	run(e, 20200);
	sent_to(e, "192.0.2.20", 5060, "CANCEL ");
	struct out *vm = sent_to(e, "192.0.2.30", 5060, "INVITE ");
	respond_from(e, vm, 180, "Ringing", "192.0.2.30", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
	sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
	respond_from(e, a, 200, "OK", "192.0.2.20", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_int_equal(e->final_status, 200);
	sent_to(e, "192.0.2.30", 5060, "CANCEL ");
	respond_from(e, vm, 487, "Request Terminated", "192.0.2.30", 5060, NULL);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
	assert_int_equal(e->nfailed, 1);
	assert_int_equal(e->finals, 1);
	env_free(e);

	/* the daemon was still deciding: its later attempt never goes out */
	e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->route_timeout = 20000;
	e->steps[0] = (struct fstep){.act = F_DEFER};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 183, "Session Progress", "192.0.2.20", 5060, NULL);
	run(e, 20200);
	sent_to(e, "192.0.2.20", 5060, "CANCEL ");
	assert_int_equal(e->nfailed, 1);
	respond_from(e, a, 200, "OK", "192.0.2.20", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_true(sip_proxy_answered(e->deferred));
	run(e, 40000);
	assert_int_equal(live_contexts(e), 1); /* kept for the daemon */
	const char *v = "sip:vm@192.0.2.30";
	sip_proxy_add_target(e->deferred, v, strlen(v), 0);
	sip_proxy_start(e->deferred);
	assert_true(nothing_more_to(e, "192.0.2.30", 5060, "INVITE "));
	assert_int_equal(live_contexts(e), 0);
	assert_int_equal(e->finals, 1);
	env_free(e);
}

/* A CANCEL while the daemon decides what follows a failed attempt: 487 at
 * once, and the daemon's later start or answer does nothing. */
static void test_cancel_while_deciding(void **state)
{
	(void)state;
	for (int later = 0; later < 2; later++) {
		struct env *e = env_hooked(false, 0);
		e->targets[0] = "sip:bob@192.0.2.20";
		e->steps[0] = (struct fstep){.act = F_DEFER};
		feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
		struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
		respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
		sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
		respond_from(e, a, 486, "Busy Here", "192.0.2.20", 5060, NULL);
		assert_int_equal(e->nfailed, 1);
		assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
		feed(e, CANCEL_REQ, peer(UAC_IP, 5070));
		struct out *ok = sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
		assert_non_null(strstr(ok->buf, "CSeq: 1 CANCEL"));
		sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
		assert_int_equal(e->final_status, 487);
		assert_true(sip_proxy_answered(e->deferred));
		uac_ack(e);
		run(e, 40000); /* the server transaction ends meanwhile */
		assert_int_equal(live_contexts(e), 1);
		if (later) {
			sip_proxy_reply(e->deferred, 486, NULL, NULL);
		} else {
			const char *v = "sip:vm@192.0.2.30";
			sip_proxy_add_target(e->deferred, v, strlen(v), 0);
			sip_proxy_set_timeout(e->deferred, 1000);
			sip_proxy_start(e->deferred);
		}
		run(e, 2000);
		assert_true(nothing_more_to(e, "192.0.2.30", 5060, "INVITE "));
		assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
		assert_int_equal(live_contexts(e), 0);
		assert_int_equal(e->finals, 1);
		assert_int_equal(e->nfailed, 1);
		env_free(e);
	}

	/* a CANCEL during an attempt: no hook, 487 */
	struct env *e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->steps[0] = (struct fstep){.act = F_RESTART, .targets = {"sip:vm@192.0.2.30"}};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	feed(e, CANCEL_REQ, peer(UAC_IP, 5070));
	sent_to(e, "192.0.2.20", 5060, "CANCEL ");
	respond_from(e, a, 487, "Request Terminated", "192.0.2.20", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	assert_int_equal(e->nfailed, 0);
	assert_true(nothing_more_to(e, "192.0.2.30", 5060, "INVITE "));
	env_free(e);
}

/* A CANCEL from upstream while the timeout's own CANCELs are under way. */
static void test_cancel_during_timeout_cancels(void **state)
{
	(void)state;
	/* the daemon is deciding: 487 at once, the old branch's 487 absorbed */
	struct env *e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->route_timeout = 3000;
	e->steps[0] = (struct fstep){.act = F_DEFER};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	run(e, 3200);
	sent_to(e, "192.0.2.20", 5060, "CANCEL ");
	assert_true(e->ftimed[0]);
	feed(e, CANCEL_REQ, peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	assert_true(nothing_more_to(e, "192.0.2.20", 5060, "CANCEL ")); /* one is enough */
	respond_from(e, a, 487, "Request Terminated", "192.0.2.20", 5060, NULL);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 487"));
	sip_proxy_start(e->deferred); /* harmless, no targets even */
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
	uac_ack(e);
	run(e, 40000);
	assert_int_equal(live_contexts(e), 0);
	env_free(e);

	/* the new attempt had begun: it is CANCELled (once it rings) and its
	 * 487 is the answer; the timed-out branch's 487 is absorbed */
	e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->route_timeout = 3000;
	e->steps[0] = (struct fstep){.act = F_RESTART, .targets = {"sip:vm@192.0.2.30"}, .timeout = 3000};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", "192.0.2.20", 5060, NULL);
	run(e, 3200);
	sent_to(e, "192.0.2.20", 5060, "CANCEL ");
	struct out *vm = sent_to(e, "192.0.2.30", 5060, "INVITE ");
	feed(e, CANCEL_REQ, peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_true(nothing_more_to(e, "192.0.2.30", 5060, "CANCEL "));
	respond_from(e, a, 487, "Request Terminated", "192.0.2.20", 5060, NULL);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 487"));
	run(e, 5000); /* the second attempt's timeout does not fire after the CANCEL */
	assert_int_equal(e->nfailed, 1);
	respond_from(e, vm, 180, "Ringing", "192.0.2.30", 5060, NULL);
	sent_to(e, "192.0.2.30", 5060, "CANCEL ");
	respond_from(e, vm, 487, "Request Terminated", "192.0.2.30", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	assert_int_equal(e->nfailed, 1);
	assert_int_equal(e->finals, 1);
	env_free(e);

	/* the new attempt's target is still being located: nothing of it
	 * runs, so the 487 goes at once (the timed-out branch, still
	 * waiting for its own 487, does not count) */
	e = env_hooked_with(false, 0, ENV_RESOLVER);
	e->targets[0] = "sip:bob@192.0.2.30";
	e->route_timeout = 3000;
	e->steps[0] = (struct fstep){.act = F_DEFER};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	run(e, 0);
	a = sent_to(e, "192.0.2.30", 5060, "INVITE ");
	respond_from(e, a, 180, "Ringing", "192.0.2.30", 5060, NULL);
	run(e, 3200);
	sent_to(e, "192.0.2.30", 5060, "CANCEL ");
	assert_int_equal(e->nfailed, 1);
	assert_int_equal(sip_proxy_add_target(e->deferred, FO_URI, strlen(FO_URI), 0), 0);
	sip_proxy_start(e->deferred); /* located from the loop, later */
	assert_true(nothing_more_to(e, FO_A, 5060, "INVITE "));
	feed(e, CANCEL_REQ, peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	run(e, 100);
	assert_true(nothing_more_to(e, FO_A, 5060, "INVITE "));
	respond_from(e, a, 487, "Request Terminated", "192.0.2.30", 5060, NULL);
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 487"));
	uac_ack(e);
	run(e, 40000);
	assert_int_equal(live_contexts(e), 0);
	env_free(e);
}

/* max_branches counts the request's targets across attempts. */
static void test_max_branches_across_attempts(void **state)
{
	(void)state;
	struct env *e = env_hooked(true, 3);
	e->targets[0] = "sip:bob@192.0.2.20";
	e->steps[0] = (struct fstep){.act = F_RESTART, .targets = {"sip:bob@192.0.2.21"}};
	e->steps[1] = (struct fstep){.act = F_RESTART, .targets = {"sip:bob@192.0.2.22", "sip:bob@192.0.2.23"}};
	e->steps[2] = (struct fstep){.act = F_RESTART, .targets = {"sip:bob@192.0.2.24"}};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *a = sent_to(e, "192.0.2.20", 5060, "INVITE ");
	respond_from(e, a, 486, "Busy Here", "192.0.2.20", 5060, NULL);
	assert_int_equal(e->add_rc[0], 0);
	struct out *b = sent_to(e, "192.0.2.21", 5060, "INVITE ");
	/* a 302 whose Contacts would pass the limit: the first fits */
	respond_from(e, b, 302, "Moved", "192.0.2.21", 5060,
		     "Contact: <sip:bob@192.0.2.41>, <sip:bob@192.0.2.42>\n");
	struct out *c = sent_to(e, "192.0.2.41", 5060, "INVITE ");
	assert_true(nothing_more_to(e, "192.0.2.42", 5060, "INVITE "));
	respond_from(e, c, 404, "Not Found", "192.0.2.41", 5060, NULL);
	/* third attempt: three targets so far, none left */
	assert_int_equal(e->nfailed, 2);
	assert_int_equal(e->fstatus[1], 404);
	assert_int_equal(e->add_rc[1], -1);
	assert_true(nothing_more_to(e, "192.0.2.22", 5060, "INVITE "));
	/* a start without targets: 480 */
	sent_to(e, UAC_IP, 5070, "SIP/2.0 480");
	assert_int_equal(e->nfailed, 2);
	env_free(e);
}

#define Q_CONTACTS                                                              \
	"Contact: <sip:a@192.0.2.41>;q=0.5, <sip:b@192.0.2.42>;q=1.0\n"         \
	"Contact: <sip:c@192.0.2.43>, <sip:d@192.0.2.44>;q=0.1\n"

/* 3xx Contacts tried by q: equal q in parallel, the highest first (no q
 * is 1.0), the next group when the previous ended without 2xx or 6xx. */
static void test_q_ordered_recursion(void **state)
{
	(void)state;
	struct env *e = env_new(true);
	e->targets[0] = "sip:bob@192.0.2.40";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060, Q_CONTACTS);
	struct out *b = sent_to(e, "192.0.2.42", 5060, "INVITE sip:b@192.0.2.42 SIP/2.0");
	struct out *c = sent_to(e, "192.0.2.43", 5060, "INVITE sip:c@192.0.2.43 SIP/2.0");
	assert_true(nothing_more_to(e, "192.0.2.41", 5060, "INVITE "));
	assert_true(nothing_more_to(e, "192.0.2.44", 5060, "INVITE "));
	respond_from(e, b, 486, "Busy Here", "192.0.2.42", 5060, NULL);
	assert_true(nothing_more_to(e, "192.0.2.41", 5060, "INVITE "));
	respond_from(e, c, 180, "Ringing", "192.0.2.43", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
	respond_from(e, c, 480, "Temporarily Unavailable", "192.0.2.43", 5060, NULL);
	struct out *a = sent_to(e, "192.0.2.41", 5060, "INVITE sip:a@192.0.2.41 SIP/2.0");
	assert_true(nothing_more_to(e, "192.0.2.44", 5060, "INVITE "));
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
	respond_from(e, a, 404, "Not Found", "192.0.2.41", 5060, NULL);
	struct out *d = sent_to(e, "192.0.2.44", 5060, "INVITE sip:d@192.0.2.44 SIP/2.0");
	respond_from(e, d, 200, "OK", "192.0.2.44", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 4"));
	env_free(e);

	/* every group fails: the best of all of them */
	e = env_new(true);
	e->targets[0] = "sip:bob@192.0.2.40";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060,
		     "Contact: <sip:a@192.0.2.41>;q=0.2, <sip:b@192.0.2.42>;q=0.9\n");
	b = sent_to(e, "192.0.2.42", 5060, "INVITE ");
	respond_from(e, b, 503, "Service Unavailable", "192.0.2.42", 5060, NULL);
	a = sent_to(e, "192.0.2.41", 5060, "INVITE ");
	respond_from(e, a, 486, "Busy Here", "192.0.2.41", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 486");
	env_free(e);
}

/* A 2xx or a 6xx in a group: the lower groups are never tried. */
static void test_q_recursion_stops(void **state)
{
	(void)state;
	for (int six = 0; six < 2; six++) {
		struct env *e = env_new(true);
		e->targets[0] = "sip:bob@192.0.2.40";
		feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
		struct out *r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
		respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060, Q_CONTACTS);
		struct out *b = sent_to(e, "192.0.2.42", 5060, "INVITE ");
		struct out *c = sent_to(e, "192.0.2.43", 5060, "INVITE ");
		respond_from(e, c, 180, "Ringing", "192.0.2.43", 5060, NULL);
		if (six)
			respond_from(e, b, 603, "Decline", "192.0.2.42", 5060, NULL);
		else
			respond_from(e, b, 200, "OK", "192.0.2.42", 5060, NULL);
		if (!six)
			sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
		sent_to(e, "192.0.2.43", 5060, "CANCEL ");
		respond_from(e, c, 487, "Request Terminated", "192.0.2.43", 5060, NULL);
		if (six)
			sent_to(e, UAC_IP, 5070, "SIP/2.0 603 Decline");
		run(e, 1000);
		assert_true(nothing_more_to(e, "192.0.2.41", 5060, "INVITE "));
		assert_true(nothing_more_to(e, "192.0.2.44", 5060, "INVITE "));
		assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 487"));
		env_free(e);
	}
}

/* A redirect's next q group waits for its own Contacts only (not for a
 * sibling branch still ringing), and a Contact that redirects again has
 * its own Contacts tried before its parent's next group. */
static void test_q_recursion_nested_and_siblings(void **state)
{
	(void)state;
	struct env *e = env_new(true);
	e->targets[0] = "sip:bob@192.0.2.40";
	e->targets[1] = "sip:bob@192.0.2.50";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	struct out *x = sent_to(e, "192.0.2.50", 5060, "INVITE ");
	respond_from(e, x, 180, "Ringing", "192.0.2.50", 5060, NULL);
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060,
		     "Contact: <sip:b@192.0.2.42>;q=1, <sip:a@192.0.2.41>;q=0.5\n");
	struct out *b = sent_to(e, "192.0.2.42", 5060, "INVITE ");
	assert_true(nothing_more_to(e, "192.0.2.41", 5060, "INVITE "));
	/* b redirects again: its Contacts by q, before a */
	respond_from(e, b, 301, "Moved Permanently", "192.0.2.42", 5060,
		     "Contact: <sip:f@192.0.2.46>;q=0.3, <sip:g@192.0.2.47>;q=0.7\n");
	struct out *g = sent_to(e, "192.0.2.47", 5060, "INVITE ");
	assert_true(nothing_more_to(e, "192.0.2.46", 5060, "INVITE "));
	assert_true(nothing_more_to(e, "192.0.2.41", 5060, "INVITE "));
	respond_from(e, g, 486, "Busy Here", "192.0.2.47", 5060, NULL);
	struct out *f = sent_to(e, "192.0.2.46", 5060, "INVITE ");
	assert_true(nothing_more_to(e, "192.0.2.41", 5060, "INVITE "));
	respond_from(e, f, 480, "Temporarily Unavailable", "192.0.2.46", 5060, NULL);
	/* x still rings: a's turn all the same */
	struct out *a = sent_to(e, "192.0.2.41", 5060, "INVITE ");
	respond_from(e, a, 200, "OK", "192.0.2.41", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	sent_to(e, "192.0.2.50", 5060, "CANCEL ");
	env_free(e);

	/* with sequential targets of the daemon's: a redirect's lower q
	 * groups come before the daemon's next group */
	e = env_new(true);
	e->targets[0] = "sip:bob@192.0.2.40";
	e->targets[1] = "sip:vm@192.0.2.30";
	e->groups[1] = 1;
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060,
		     "Contact: <sip:b@192.0.2.42>;q=0.8, <sip:a@192.0.2.41>;q=0.4\n");
	b = sent_to(e, "192.0.2.42", 5060, "INVITE ");
	respond_from(e, b, 486, "Busy Here", "192.0.2.42", 5060, NULL);
	a = sent_to(e, "192.0.2.41", 5060, "INVITE ");
	assert_true(nothing_more_to(e, "192.0.2.30", 5060, "INVITE "));
	respond_from(e, a, 486, "Busy Here", "192.0.2.41", 5060, NULL);
	struct out *vm = sent_to(e, "192.0.2.30", 5060, "INVITE ");
	respond_from(e, vm, 200, "OK", "192.0.2.30", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	env_free(e);
}

/* A 3xx the proxy does not recurse on: its Contacts for the daemon
 * (CPL's redirection output), highest q first. */
static void test_best_contacts(void **state)
{
	(void)state;
	struct env *e = env_hooked(false, 0);
	e->targets[0] = "sip:bob@192.0.2.40";
	e->steps[0] = (struct fstep){.act = F_RESTART, .targets = {"sip:b@192.0.2.42"}};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060, Q_CONTACTS);
	assert_int_equal(e->fstatus[0], 302);
	assert_int_equal(e->fbest[0], 302);
	assert_int_equal(e->ncontacts, 4);
	assert_string_equal(e->contacts[0], "sip:b@192.0.2.42");
	assert_string_equal(e->contacts[1], "sip:c@192.0.2.43");
	assert_string_equal(e->contacts[2], "sip:a@192.0.2.41");
	assert_string_equal(e->contacts[3], "sip:d@192.0.2.44");
	struct out *b = sent_to(e, "192.0.2.42", 5060, "INVITE ");
	respond_from(e, b, 486, "Busy Here", "192.0.2.42", 5060, NULL);
	/* not a 3xx this time: none */
	assert_int_equal(e->nfailed, 2);
	assert_int_equal(e->ncontacts, 0);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 486");
	env_free(e);

	/* recursion on, but every Contact was tried already: the 3xx is the
	 * best response and its Contacts are given; the buffer bounds them */
	e = env_hooked(true, 0);
	e->targets[0] = "sip:bob@192.0.2.40";
	e->steps[0] = (struct fstep){.act = F_DEFER};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060,
		     "Contact: <sip:bob@192.0.2.40>\n");
	assert_int_equal(e->fstatus[0], 302);
	assert_int_equal(e->ncontacts, 1);
	assert_string_equal(e->contacts[0], "sip:bob@192.0.2.40");
	const char *u[4];
	char small[20];
	assert_int_equal(sip_proxy_best_contacts(e->deferred, u, 4, small, sizeof(small)), 1);
	assert_int_equal(sip_proxy_best_contacts(e->deferred, u, 4, small, 18), 0);
	assert_int_equal(sip_proxy_best_contacts(e->deferred, u, 0, small, sizeof(small)), 0);
	sip_proxy_reply(e->deferred, 302, NULL, "Contact: <sip:bob@192.0.2.40>\r\n");
	sent_to(e, UAC_IP, 5070, "SIP/2.0 302");
	env_free(e);

	/* a proxy that recurses, told not to for one attempt (CPL
	 * recurse="no"); the next attempt recurses again */
	e = env_hooked(true, 0);
	e->targets[0] = "sip:bob@192.0.2.40";
	e->route_norecurse = true;
	e->steps[0] = (struct fstep){.act = F_RESTART, .targets = {"sip:c@192.0.2.43"}};
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060, Q_CONTACTS);
	assert_true(nothing_more_to(e, "192.0.2.42", 5060, "INVITE "));
	assert_int_equal(e->nfailed, 1);
	assert_int_equal(e->ncontacts, 4);
	struct out *c = sent_to(e, "192.0.2.43", 5060, "INVITE ");
	respond_from(e, c, 302, "Moved Temporarily", "192.0.2.43", 5060, "Contact: <sip:e@192.0.2.45>\n");
	struct out *x = sent_to(e, "192.0.2.45", 5060, "INVITE ");
	respond_from(e, x, 200, "OK", "192.0.2.45", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	assert_int_equal(e->nfailed, 1);
	env_free(e);
}


/* ---- failover-only recursion (alternative servers for one job) ---------- */

/* The recursion hook of a platform daemon: a 3xx whose Contacts carry a
 * "hop" parameter names alternative servers (redirectd's feature hops):
 * failover only; any other, RFC 3261's q order. */
static enum sip_proxy_recursion hook_recursion(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *resp)
{
	struct env *e = ctx;
	(void)pc;
	e->recursions++;
	for (struct sip_hdr *h = resp->first[SIP_HDR_CONTACT]; h; h = h->next_same) {
		if (sip_hdr_parse(resp, h, NULL) < 0)
			continue;
		for (struct sip_addr *a = h->v.addr; a; a = a->next) {
			sip_str v;
			if (!a->star && sip_uri_param(&a->uri, "hop", &v))
				return SIP_PROXY_RECURSE_FAILOVER;
		}
	}
	return SIP_PROXY_RECURSE_BY_Q;
}

static struct env *env_failover(bool failed_hook)
{
	struct env *e = env_new(true);
	sip_proxy_free(e->proxy);
	struct sip_proxy_opts o = {.host = "192.0.2.100", .port = {5060, 5060, 5061}, .record_route = true,
				   .recurse_3xx = true};
	struct sip_proxy_hooks h = {.ctx = e, .send = hook_send, .route = hook_route, .final = hook_final,
				    .recursion = hook_recursion};
	if (failed_hook)
		h.failed = hook_failed;
	e->proxy = sip_proxy_new(e->loop, &o, &h);
	return e;
}

/* redirectd's answer for a feature hop: two servers, then the skip */
#define HOP_CONTACTS                                                            \
	"Contact: <sip:bob@example.com:5080;maddr=192.0.2.61;hop=1>;q=1\n"      \
	"Contact: <sip:bob@example.com:5080;maddr=192.0.2.62;hop=1>;q=0.9\n"    \
	"Contact: <sip:bob@192.0.2.40;hop=1>;q=0.8\n"

/* The call to the redirect server (192.0.2.40), answered with
 * HOP_CONTACTS: returns the INVITE the first server (192.0.2.61) got. */
static struct out *hop_call(struct env *e)
{
	e->targets[0] = "sip:bob@192.0.2.40";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *r = sent_to(e, "192.0.2.40", 5060, "INVITE sip:bob@192.0.2.40 ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060, HOP_CONTACTS);
	assert_int_equal(e->recursions, 1);
	struct out *f1 = sent_to(e, "192.0.2.61", 5080, "INVITE sip:bob@example.com:5080;maddr=192.0.2.61;hop=1 ");
	assert_true(nothing_more_to(e, "192.0.2.62", 5080, "INVITE "));
	return f1;
}

static bool nothing_after_first_server(struct env *e)
{
	return nothing_more_to(e, "192.0.2.62", 5080, "INVITE ") &&
	       nothing_more_to(e, "192.0.2.40", 5060, "INVITE ");
}

/* A server that answers (a feature's verdict, a callee's refusal relayed,
 * its own error other than 503, a 3xx it led to) answers the call: the
 * other servers and the skip are never tried. */
static void test_failover_recursion_answer_ends(void **state)
{
	(void)state;
	static const struct {
		unsigned status;
		const char *reason;
		bool ring;
	} answers[] = {{486, "Busy Here", false}, {403, "Screened", false}, {486, "Busy Here", true},
		       {500, "Server Internal Error", false}, {480, "Temporarily Unavailable", true},
		       {404, "Not Found", false}};
	for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
		struct env *e = env_failover(false);
		struct out *f1 = hop_call(e);
		if (answers[i].ring) {
			respond_from(e, f1, 180, "Ringing", "192.0.2.61", 5080, NULL);
			sent_to(e, UAC_IP, 5070, "SIP/2.0 180 Ringing");
		}
		respond_from(e, f1, answers[i].status, answers[i].reason, "192.0.2.61", 5080, NULL);
		char want[64];
		snprintf(want, sizeof want, "SIP/2.0 %u %s", answers[i].status, answers[i].reason);
		sent_to(e, UAC_IP, 5070, want);
		assert_int_equal(e->final_status, answers[i].status);
		run(e, 40000);
		assert_true(nothing_after_first_server(e));
		assert_int_equal(e->finals, 1);
		env_free(e);
	}

	/* the server's own 3xx, recursed on: its Contact's answer is the
	 * call's, and that 3xx (no hop parameter) forks by q as usual */
	struct env *e = env_failover(false);
	struct out *f1 = hop_call(e);
	respond_from(e, f1, 302, "Moved Temporarily", "192.0.2.61", 5080,
		     "Contact: <sip:carol@192.0.2.71>;q=1, <sip:dave@192.0.2.72>;q=0.5\n");
	assert_int_equal(e->recursions, 2);
	struct out *c = sent_to(e, "192.0.2.71", 5060, "INVITE sip:carol@192.0.2.71 ");
	respond_from(e, c, 500, "Server Internal Error", "192.0.2.71", 5060, NULL);
	struct out *d = sent_to(e, "192.0.2.72", 5060, "INVITE sip:dave@192.0.2.72 ");
	respond_from(e, d, 404, "Not Found", "192.0.2.72", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 404 Not Found");
	assert_true(nothing_after_first_server(e));
	env_free(e);

	/* a 6xx ends it as it ends any forking */
	e = env_failover(false);
	f1 = hop_call(e);
	respond_from(e, f1, 603, "Decline", "192.0.2.61", 5080, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 603 Decline");
	assert_true(nothing_after_first_server(e));
	env_free(e);

	/* the same Contacts without the hop parameter: RFC 3261's q order,
	 * a 486 leads to the next group */
	e = env_failover(false);
	e->targets[0] = "sip:bob@192.0.2.40";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060,
		     "Contact: <sip:bob@192.0.2.61:5080>;q=1, <sip:bob@192.0.2.62:5080>;q=0.9\n");
	f1 = sent_to(e, "192.0.2.61", 5080, "INVITE ");
	respond_from(e, f1, 486, "Busy Here", "192.0.2.61", 5080, NULL);
	struct out *f2 = sent_to(e, "192.0.2.62", 5080, "INVITE ");
	respond_from(e, f2, 480, "Temporarily Unavailable", "192.0.2.62", 5080, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 486"); /* the first 4xx of both */
	env_free(e);
}

/* A server that failed (no response: Timer B, a transport error; or a
 * 503 of its own, after a 100 Trying too) gives way to the next group;
 * the answer of the one that takes the call is the caller's, not the
 * failed servers' 408 or 503. */
static void test_failover_recursion_server_failures(void **state)
{
	(void)state;
	/* the first server silent (Timer B), the second overloaded, the skip
	 * answers 486: 486 upstream, not the 408 */
	struct env *e = env_failover(false);
	struct out *f1 = hop_call(e);
	run(e, 31000);
	assert_true(nothing_after_first_server(e));
	run(e, 1500);
	struct out *f2 = sent_to(e, "192.0.2.62", 5080, "INVITE sip:bob@example.com:5080;maddr=192.0.2.62;hop=1 ");
	assert_true(nothing_more_to(e, "192.0.2.40", 5060, "INVITE "));
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 408"));
	respond_from(e, f2, 100, "Trying", "192.0.2.62", 5080, NULL);
	respond_from(e, f2, 503, "Service Unavailable", "192.0.2.62", 5080, "Retry-After: 5\n");
	struct out *skip = sent_to(e, "192.0.2.40", 5060, "INVITE sip:bob@192.0.2.40;hop=1 ");
	respond_from(e, skip, 486, "Busy Here", "192.0.2.40", 5060, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 486 Busy Here");
	assert_int_equal(e->finals, 1);
	(void)f1;
	env_free(e);

	/* a transport error: the next server at once; its 500 (a relayed
	 * 503, say) is the answer, not the first one's local 503 */
	e = env_failover(false);
	e->fail_ip = "192.0.2.61";
	e->targets[0] = "sip:bob@192.0.2.40";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	struct out *r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060, HOP_CONTACTS);
	run(e, 0);
	f2 = sent_to(e, "192.0.2.62", 5080, "INVITE ");
	respond_from(e, f2, 500, "Server Internal Error", "192.0.2.62", 5080, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 500 Server Internal Error");
	assert_true(nothing_more_to(e, "192.0.2.40", 5060, "INVITE "));
	env_free(e);

	/* every server fails and there is no skip: the last one's outcome,
	 * a 503 relayed as 500 (16.7 step 6) */
	e = env_failover(false);
	e->targets[0] = "sip:bob@192.0.2.40";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060,
		     "Contact: <sip:bob@example.com:5080;maddr=192.0.2.61;hop=1>;q=1\n"
		     "Contact: <sip:bob@example.com:5080;maddr=192.0.2.62;hop=1>;q=0.9\n");
	f1 = sent_to(e, "192.0.2.61", 5080, "INVITE ");
	run(e, 32500);
	f2 = sent_to(e, "192.0.2.62", 5080, "INVITE ");
	respond_from(e, f2, 503, "Service Unavailable", "192.0.2.62", 5080, NULL);
	struct out *fin = sent_to(e, UAC_IP, 5070, "SIP/2.0 500");
	assert_null(strstr(fin->buf, "503"));
	env_free(e);

	/* ... and the other way round: the last one silent, 408 */
	e = env_failover(false);
	e->targets[0] = "sip:bob@192.0.2.40";
	feed(e, INVITE("sip:bob@example.com", ""), peer(UAC_IP, 5070));
	r = sent_to(e, "192.0.2.40", 5060, "INVITE ");
	respond_from(e, r, 302, "Moved Temporarily", "192.0.2.40", 5060,
		     "Contact: <sip:bob@example.com:5080;maddr=192.0.2.61;hop=1>;q=1\n"
		     "Contact: <sip:bob@example.com:5080;maddr=192.0.2.62;hop=1>;q=0.9\n");
	f1 = sent_to(e, "192.0.2.61", 5080, "INVITE ");
	respond_from(e, f1, 503, "Service Unavailable", "192.0.2.61", 5080, NULL);
	f2 = sent_to(e, "192.0.2.62", 5080, "INVITE ");
	run(e, 32500);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 408");
	assert_true(nothing_more_to(e, UAC_IP, 5070, "SIP/2.0 500"));
	env_free(e);
}

/* A server that rang is alive: its Timer C (CANCEL, 487) or a 503 after
 * the ringing is the call's outcome, not a reason to try the next. */
static void test_failover_recursion_after_ringing(void **state)
{
	(void)state;
	struct env *e = env_failover(false);
	struct out *f1 = hop_call(e);
	respond_from(e, f1, 183, "Session Progress", "192.0.2.61", 5080, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 183");
	run(e, 181000); /* Timer C */
	sent_to(e, "192.0.2.61", 5080, "CANCEL ");
	respond_from(e, f1, 487, "Request Terminated", "192.0.2.61", 5080, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	assert_true(nothing_after_first_server(e));
	env_free(e);

	e = env_failover(false);
	f1 = hop_call(e);
	respond_from(e, f1, 180, "Ringing", "192.0.2.61", 5080, NULL);
	respond_from(e, f1, 503, "Service Unavailable", "192.0.2.61", 5080, NULL);
	struct out *fin = sent_to(e, UAC_IP, 5070, "SIP/2.0 500");
	assert_null(strstr(fin->buf, "503"));
	assert_true(nothing_after_first_server(e));
	env_free(e);

	/* Timer C after a 100 Trying only: the server still answered the
	 * CANCEL, so it was alive; the 487 is the answer */
	e = env_failover(false);
	f1 = hop_call(e);
	respond_from(e, f1, 100, "Trying", "192.0.2.61", 5080, NULL);
	run(e, 181000);
	sent_to(e, "192.0.2.61", 5080, "CANCEL ");
	respond_from(e, f1, 487, "Request Terminated", "192.0.2.61", 5080, NULL);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	assert_true(nothing_after_first_server(e));
	env_free(e);

	/* the caller's CANCEL while the first server is silent: nothing more
	 * is tried */
	e = env_failover(false);
	f1 = hop_call(e);
	feed(e, CANCEL_REQ, peer(UAC_IP, 5070));
	sent_to(e, UAC_IP, 5070, "SIP/2.0 200 OK");
	run(e, 33000);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 487");
	assert_true(nothing_after_first_server(e));
	env_free(e);
}

/* featured's case: the failed hook sees the server's answer (status and
 * message), not a failed server's, and nothing else was tried. */
static void test_failover_recursion_failed_hook(void **state)
{
	(void)state;
	struct env *e = env_failover(true);
	e->steps[0] = (struct fstep){.act = F_DECLINE};
	struct out *f1 = hop_call(e);
	respond_from(e, f1, 486, "Busy Here", "192.0.2.61", 5080, NULL);
	assert_int_equal(e->nfailed, 1);
	assert_int_equal(e->fstatus[0], 486);
	assert_int_equal(e->fbest[0], 486);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 486");
	assert_true(nothing_after_first_server(e));
	env_free(e);

	/* the first server silent, the second overloaded, the skip answers
	 * 480: the hook gets 480, as received */
	e = env_failover(true);
	e->steps[0] = (struct fstep){.act = F_DECLINE};
	f1 = hop_call(e);
	run(e, 32500);
	struct out *f2 = sent_to(e, "192.0.2.62", 5080, "INVITE ");
	assert_int_equal(e->nfailed, 0);
	respond_from(e, f2, 503, "Service Unavailable", "192.0.2.62", 5080, NULL);
	struct out *skip = sent_to(e, "192.0.2.40", 5060, "INVITE sip:bob@192.0.2.40;hop=1 ");
	assert_int_equal(e->nfailed, 0);
	respond_from(e, skip, 480, "Temporarily Unavailable", "192.0.2.40", 5060, NULL);
	assert_int_equal(e->nfailed, 1);
	assert_int_equal(e->fstatus[0], 480);
	assert_int_equal(e->fbest[0], 480);
	sent_to(e, UAC_IP, 5070, "SIP/2.0 480");
	env_free(e);
}

int main(void)
{
	(void)uac;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_and_headers),
		cmocka_unit_test(test_fork_first_2xx_wins),
		cmocka_unit_test(test_cancel_waits_for_provisional),
		cmocka_unit_test(test_cancel_races),
		cmocka_unit_test(test_best_response_and_6xx),
		cmocka_unit_test(test_auth_challenges_aggregated),
		cmocka_unit_test(test_sequential_groups),
		cmocka_unit_test(test_redirect_recursion),
		cmocka_unit_test(test_validation_answers),
		cmocka_unit_test(test_loop_and_spiral),
		cmocka_unit_test(test_loose_and_strict_routes),
		cmocka_unit_test(test_ack_for_2xx_forwarded),
		cmocka_unit_test(test_timer_c_cancels),
		cmocka_unit_test(test_route_hook_can_answer),
		cmocka_unit_test(test_failover_on_503),
		cmocka_unit_test(test_failover_on_transport_error),
		cmocka_unit_test(test_failover_on_timeout),
		cmocka_unit_test(test_no_failover_after_provisional),
		cmocka_unit_test(test_failover_list_exhausted),
		cmocka_unit_test(test_cancel_during_failover),
		cmocka_unit_test(test_resolved_hops),
		cmocka_unit_test(test_outbound_admit_and_edits),
		cmocka_unit_test(test_maddr_of_ours_stripped),
		cmocka_unit_test(test_response_without_caller_via),
		cmocka_unit_test(test_failed_hook_restarts),
		cmocka_unit_test(test_failed_hook_declines_or_replies),
		cmocka_unit_test(test_three_attempts),
		cmocka_unit_test(test_6xx_ends_attempt),
		cmocka_unit_test(test_attempt_timeout),
		cmocka_unit_test(test_timeout_2xx_race),
		cmocka_unit_test(test_cancel_while_deciding),
		cmocka_unit_test(test_cancel_during_timeout_cancels),
		cmocka_unit_test(test_max_branches_across_attempts),
		cmocka_unit_test(test_q_ordered_recursion),
		cmocka_unit_test(test_q_recursion_stops),
		cmocka_unit_test(test_q_recursion_nested_and_siblings),
		cmocka_unit_test(test_best_contacts),
		cmocka_unit_test(test_failover_recursion_answer_ends),
		cmocka_unit_test(test_failover_recursion_server_failures),
		cmocka_unit_test(test_failover_recursion_after_ringing),
		cmocka_unit_test(test_failover_recursion_failed_hook),
	};
	return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
