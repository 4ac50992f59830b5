/*
 * The proxy core (RFC 3261 section 16) on a fake network: the test plays
 * the upstream UAC and the downstream UASs by feeding messages to the proxy
 * and reading what it sends, with a fake clock for Timer C.
 */
#include "unit/testutil.h"

#include "ev.h"
#include "sip/proxy.h"

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
	struct out out[128];
	int n;
	/* what the route hook does */
	const char *targets[4];
	unsigned groups[4];
	unsigned reply_status;
	int routed;
	unsigned final_status;
};

static int hook_send(void *ctx, const struct sip_peer *to, const char *buf, size_t len)
{
	struct env *e = ctx;
	assert_true(e->n < 128);
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
	if (e->reply_status) {
		sip_proxy_reply(pc, e->reply_status, NULL, NULL);
		return;
	}
	for (int i = 0; i < 4 && e->targets[i]; i++)
		assert_int_equal(sip_proxy_add_target(pc, e->targets[i], strlen(e->targets[i]), e->groups[i]), 0);
	sip_proxy_start(pc);
}

static void hook_final(void *ctx, struct sip_proxy_ctx *pc, unsigned status)
{
	(void)pc;
	((struct env *)ctx)->final_status = status;
}

static struct env *env_new(bool recurse)
{
	struct env *e = calloc(1, sizeof(*e));
	now_ms = 5000000;
	e->loop = ev_loop_new();
	ev_set_clock(e->loop, fake_clock, NULL);
	struct sip_proxy_opts o = {
		.host = "192.0.2.100", .port = {5060, 5060, 5061}, .record_route = true,
		.recurse_3xx = recurse, .supported = "100rel,timer",
	};
	struct sip_proxy_hooks h = {.ctx = e, .send = hook_send, .route = hook_route, .final = hook_final};
	e->proxy = sip_proxy_new(e->loop, &o, &h);
	return e;
}

static void env_free(struct env *e)
{
	sip_proxy_free(e->proxy);
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
	char msg[4096];
	snprintf(msg, sizeof(msg),
		 "SIP/2.0 %u %s\n%s"
		 "From: <sip:alice@example.com>;tag=a1\n"
		 "To: <sip:bob@example.com>;tag=%s\n"
		 "Call-ID: call1@" UAC_IP "\n"
		 "%.*s\n"
		 "%s"
		 "Content-Length: 0\n\n",
		 status, reason, vias, ip, (int)strcspn(cseq, "\r"), cseq, extra ? extra : "");
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

int main(void)
{
	(void)uac;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_and_headers),
		cmocka_unit_test(test_fork_first_2xx_wins),
		cmocka_unit_test(test_cancel_waits_for_provisional),
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
	};
	return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
