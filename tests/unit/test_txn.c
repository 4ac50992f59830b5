/*
 * The transaction layer against RFC 3261 section 17 (and RFC 6026), on a
 * fake clock and a fake transport that records what was sent.
 */
#include "unit/testutil.h"

#include <arpa/inet.h>

#include "ev.h"
#include "sip/build.h"
#include "sip/txn.h"

static uint64_t now_ms;
static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return now_ms;
}

struct sent {
	char buf[4096];
	size_t len;
	uint64_t at;
	struct sip_peer to;
};

struct env {
	struct ev_loop *loop;
	struct sip_txn_layer *layer;
	struct sent sent[64];
	int nsent;
	int requests, acks, responses, strays, rejected;
	unsigned last_status;
	struct sip_txn *last_server;
	int terminated;
	enum sip_txn_end last_end;
	int fail_send;
};

static int hook_send(void *ctx, const struct sip_peer *to, const char *buf, size_t len)
{
	struct env *e = ctx;
	if (e->fail_send)
		return -1;
	if (e->nsent < 64) {
		struct sent *s = &e->sent[e->nsent];
		s->len = len < sizeof(s->buf) ? len : sizeof(s->buf);
		memcpy(s->buf, buf, s->len);
		s->at = now_ms;
		s->to = *to;
	}
	e->nsent++;
	return 0;
}

static void hook_request(void *ctx, struct sip_txn *st, struct sip_msg *req)
{
	struct env *e = ctx;
	(void)req;
	e->requests++;
	e->last_server = st;
}

static void hook_ack(void *ctx, struct sip_msg *ack, const struct sip_peer *from)
{
	(void)ack;
	(void)from;
	((struct env *)ctx)->acks++;
}

static void hook_response(void *ctx, struct sip_txn *ct, struct sip_msg *resp)
{
	struct env *e = ctx;
	(void)ct;
	e->responses++;
	e->last_status = resp->status;
}

static void hook_stray(void *ctx, struct sip_msg *resp, const struct sip_peer *from)
{
	(void)resp;
	(void)from;
	((struct env *)ctx)->strays++;
}

static void hook_terminated(void *ctx, struct sip_txn *t, enum sip_txn_end why)
{
	struct env *e = ctx;
	if (t == e->last_server)
		e->last_server = NULL;
	e->terminated++;
	e->last_end = why;
}

static void hook_rejected(void *ctx, const struct sip_error *err, const struct sip_peer *from)
{
	(void)err;
	(void)from;
	((struct env *)ctx)->rejected++;
}

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	now_ms = 1000000;
	e->loop = ev_loop_new();
	ev_set_clock(e->loop, fake_clock, NULL);
	struct sip_txn_hooks hooks = {
		.ctx = e, .send = hook_send, .request = hook_request, .ack = hook_ack,
		.response = hook_response, .stray_response = hook_stray,
		.terminated = hook_terminated, .rejected = hook_rejected,
	};
	e->layer = sip_txn_layer_new(e->loop, NULL, &hooks);
	return e;
}

static void env_free(struct env *e)
{
	sip_txn_layer_free(e->layer);
	ev_loop_free(e->loop);
	free(e);
}

/* Moves the fake clock forward in 10 ms steps, running timers. */
static void advance(struct env *e, uint64_t ms)
{
	for (uint64_t step = 0; step < ms; step += 10) {
		now_ms += 10;
		ev_run_timers(e->loop);
	}
}

static struct sip_peer peer(enum sip_transport t, const char *ip, uint16_t port)
{
	struct sip_peer p;
	assert_int_equal(sip_peer_from_numeric(&p, t, ip, strlen(ip), port), 0);
	return p;
}

static void input(struct env *e, const char *text, const struct sip_peer *from)
{
	size_t len;
	char *m = crlf(text, &len);
	sip_txn_input(e->layer, m, len, from);
	free(m); /* the layer must not keep pointers into the input */
}

static struct sip_txn *request(struct env *e, const char *text, const struct sip_peer *to)
{
	size_t len;
	char *m = crlf(text, &len);
	struct sip_txn *t = sip_txn_request(e->layer, m, len, to, NULL);
	free(m);
	return t;
}

static void respond(struct sip_txn *st, unsigned status)
{
	assert_int_equal(sip_txn_reply(st, status, NULL, NULL), 0);
}

static bool sent_starts(const struct sent *s, const char *prefix)
{
	return s->len >= strlen(prefix) && memcmp(s->buf, prefix, strlen(prefix)) == 0;
}

#define OPTIONS_REQ                                                                     \
	"OPTIONS sip:bob@example.com SIP/2.0\n"                                         \
	"Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKopt1\n"                          \
	"Max-Forwards: 70\n"                                                            \
	"From: <sip:alice@example.com>;tag=a1\n"                                        \
	"To: <sip:bob@example.com>\n"                                                   \
	"Call-ID: opt1@192.0.2.1\n"                                                     \
	"CSeq: 1 OPTIONS\n"                                                             \
	"Content-Length: 0\n\n"

#define INVITE_REQ                                                                      \
	"INVITE sip:bob@example.com SIP/2.0\n"                                          \
	"Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKinv1;rport\n"                    \
	"Max-Forwards: 70\n"                                                            \
	"Route: <sip:proxy.example.com;lr>\n"                                           \
	"From: <sip:alice@example.com>;tag=a1\n"                                        \
	"To: <sip:bob@example.com>\n"                                                   \
	"Call-ID: inv1@192.0.2.1\n"                                                     \
	"CSeq: 7 INVITE\n"                                                              \
	"Content-Length: 0\n\n"

static const char *response_to(const char *req_text, unsigned status, const char *method, int cseq,
			       const char *branch)
{
	static char buf[1024];
	(void)req_text;
	snprintf(buf, sizeof(buf),
		 "SIP/2.0 %u %s\n"
		 "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=%s\n"
		 "From: <sip:alice@example.com>;tag=a1\n"
		 "To: <sip:bob@example.com>;tag=b9\n"
		 "Call-ID: x@192.0.2.1\n"
		 "CSeq: %d %s\n"
		 "Content-Length: 0\n\n",
		 status, sip_reason_phrase(status), branch, cseq, method);
	return buf;
}

/* ---- client transactions ------------------------------------------------ */

static void test_client_non_invite_timer_e_f(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer to = peer(SIP_TP_UDP, "127.0.0.1", 5060);
	assert_non_null(request(e, OPTIONS_REQ, &to));
	assert_int_equal(e->nsent, 1);
	advance(e, 32000 - 10);
	/* E: 500, 1000, 2000, then 4000 (T2) each: at 0.5 1.5 3.5 7.5 11.5 ... 31.5 s */
	assert_int_equal(e->nsent, 11);
	assert_int_equal(e->sent[1].at - e->sent[0].at, 500);
	assert_int_equal(e->sent[2].at - e->sent[1].at, 1000);
	assert_int_equal(e->sent[3].at - e->sent[2].at, 2000);
	assert_int_equal(e->sent[4].at - e->sent[3].at, 4000);
	assert_int_equal(e->sent[5].at - e->sent[4].at, 4000);
	assert_int_equal(e->terminated, 0);
	advance(e, 20); /* F = 64*T1 */
	assert_int_equal(e->terminated, 1);
	assert_int_equal(e->last_end, SIP_TXN_END_TIMEOUT);
	env_free(e);
}

static void test_client_non_invite_proceeding_uses_t2(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer to = peer(SIP_TP_UDP, "127.0.0.1", 5060);
	request(e, OPTIONS_REQ, &to);
	advance(e, 100);
	input(e, response_to(NULL, 100, "OPTIONS", 1, "z9hG4bKopt1"), &to);
	assert_int_equal(e->responses, 1);
	int before = e->nsent;
	advance(e, 400); /* the pending E fires at 0.5 s, then at T2 */
	assert_int_equal(e->nsent, before + 1);
	advance(e, 3990);
	assert_int_equal(e->nsent, before + 1);
	advance(e, 20);
	assert_int_equal(e->nsent, before + 2);
	input(e, response_to(NULL, 200, "OPTIONS", 1, "z9hG4bKopt1"), &to);
	assert_int_equal(e->last_status, 200);
	/* a retransmitted final is absorbed; K (T4) ends the transaction */
	input(e, response_to(NULL, 200, "OPTIONS", 1, "z9hG4bKopt1"), &to);
	assert_int_equal(e->responses, 2);
	advance(e, 5000);
	assert_int_equal(e->terminated, 1);
	assert_int_equal(e->last_end, SIP_TXN_END_NORMAL);
	env_free(e);
}

static void test_client_invite_timer_a_b(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer to = peer(SIP_TP_UDP, "127.0.0.1", 5060);
	request(e, INVITE_REQ, &to);
	advance(e, 31990);
	/* A: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s */
	assert_int_equal(e->nsent, 7);
	assert_int_equal(e->sent[6].at - e->sent[5].at, 16000);
	advance(e, 20);
	assert_int_equal(e->terminated, 1);
	assert_int_equal(e->last_end, SIP_TXN_END_TIMEOUT);
	env_free(e);
}

static void test_client_invite_non2xx_ack(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer to = peer(SIP_TP_UDP, "127.0.0.1", 5060);
	request(e, INVITE_REQ, &to);
	input(e, response_to(NULL, 180, "INVITE", 7, "z9hG4bKinv1"), &to);
	advance(e, 60000); /* no Timer A or B once Proceeding */
	assert_int_equal(e->nsent, 1);
	assert_int_equal(e->terminated, 0);
	input(e, response_to(NULL, 486, "INVITE", 7, "z9hG4bKinv1"), &to);
	assert_int_equal(e->last_status, 486);
	assert_int_equal(e->nsent, 2);
	struct sent *ack = &e->sent[1];
	assert_true(sent_starts(ack, "ACK sip:bob@example.com SIP/2.0\r\n"));
	/* same branch, the response's To tag, the INVITE's Route, CSeq ACK */
	assert_non_null(memmem(ack->buf, ack->len, "branch=z9hG4bKinv1", 18));
	assert_non_null(memmem(ack->buf, ack->len, "tag=b9", 6));
	assert_non_null(memmem(ack->buf, ack->len, "Route: <sip:proxy.example.com;lr>", 33));
	assert_non_null(memmem(ack->buf, ack->len, "CSeq: 7 ACK", 11));
	struct sip_msg m;
	assert_int_equal(sip_msg_parse(&m, ack->buf, ack->len, NULL, NULL), 0);
	assert_int_equal(sip_msg_check(&m, NULL), 0);
	sip_msg_free(&m);
	/* the 486 again: ACK again, TU not told twice */
	input(e, response_to(NULL, 486, "INVITE", 7, "z9hG4bKinv1"), &to);
	assert_int_equal(e->nsent, 3);
	assert_int_equal(e->responses, 2);
	advance(e, 32010); /* Timer D */
	assert_int_equal(e->terminated, 1);
	assert_int_equal(e->last_end, SIP_TXN_END_NORMAL);
	env_free(e);
}

/* RFC 3261 9.1: a UAS that never answers a CANCEL does not keep the INVITE
 * client transaction (and the proxy's branch) forever: 64*T1 after the
 * CANCEL it ends as a timeout. Before the CANCEL, Proceeding has no limit. */
static void test_client_invite_cancel_unanswered(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer to = peer(SIP_TP_UDP, "127.0.0.1", 5060);
	struct sip_txn *t = request(e, INVITE_REQ, &to);
	input(e, response_to(NULL, 180, "INVITE", 7, "z9hG4bKinv1"), &to);
	advance(e, 60000);
	assert_int_equal(e->terminated, 0);
	sip_txn_cancel_sent(t);
	input(e, response_to(NULL, 183, "INVITE", 7, "z9hG4bKinv1"), &to); /* keeps the limit */
	advance(e, 31990);
	assert_int_equal(e->terminated, 0);
	advance(e, 20);
	assert_int_equal(e->terminated, 1);
	assert_int_equal(e->last_end, SIP_TXN_END_TIMEOUT);
	env_free(e);

	/* cancelled while Calling: the limit counts from the CANCEL, and a
	 * provisional arriving afterwards does not lift it; the 487 ends it
	 * normally */
	e = env_new();
	t = request(e, INVITE_REQ, &to);
	advance(e, 10000);
	sip_txn_cancel_sent(t);
	input(e, response_to(NULL, 180, "INVITE", 7, "z9hG4bKinv1"), &to);
	advance(e, 30000);
	assert_int_equal(e->terminated, 0);
	input(e, response_to(NULL, 487, "INVITE", 7, "z9hG4bKinv1"), &to);
	assert_int_equal(e->last_status, 487);
	advance(e, 32010); /* Timer D */
	assert_int_equal(e->terminated, 1);
	assert_int_equal(e->last_end, SIP_TXN_END_NORMAL);
	env_free(e);
}

static void test_client_invite_2xx_accepted(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer to = peer(SIP_TP_UDP, "127.0.0.1", 5060);
	request(e, INVITE_REQ, &to);
	input(e, response_to(NULL, 200, "INVITE", 7, "z9hG4bKinv1"), &to);
	assert_int_equal(e->nsent, 1); /* the TU acknowledges a 2xx, not the transaction */
	/* RFC 6026: retransmitted 2xx (and other forks' 2xx) reach the TU */
	input(e, response_to(NULL, 200, "INVITE", 7, "z9hG4bKinv1"), &to);
	assert_int_equal(e->responses, 2);
	input(e, response_to(NULL, 486, "INVITE", 7, "z9hG4bKinv1"), &to);
	assert_int_equal(e->responses, 2);
	advance(e, 32010); /* Timer M */
	assert_int_equal(e->terminated, 1);
	env_free(e);
}

static void test_client_reliable_no_retransmissions(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer to = peer(SIP_TP_TCP, "127.0.0.1", 5060);
	request(e, OPTIONS_REQ, &to);
	advance(e, 31990);
	assert_int_equal(e->nsent, 1);
	advance(e, 20); /* F still guards against a silent peer */
	assert_int_equal(e->terminated, 1);
	assert_int_equal(e->last_end, SIP_TXN_END_TIMEOUT);
	env_free(e);
}

static void test_client_transport_error(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer to = peer(SIP_TP_UDP, "127.0.0.1", 5060);
	e->fail_send = 1;
	assert_non_null(request(e, OPTIONS_REQ, &to));
	advance(e, 10);
	assert_int_equal(e->terminated, 1);
	assert_int_equal(e->last_end, SIP_TXN_END_TRANSPORT);
	env_free(e);
}

static void test_transport_failure_ends_waiting_clients(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer to = peer(SIP_TP_TLS, "127.0.0.1", 5061);
	struct sip_peer other = peer(SIP_TP_TLS, "127.0.0.1", 5062);
	request(e, OPTIONS_REQ, &to);
	request(e, INVITE_REQ, &other);
	sip_txn_transport_failed(e->layer, &to);
	advance(e, 10);
	/* the one to the lost peer ends at once, not at Timer F */
	assert_int_equal(e->terminated, 1);
	assert_int_equal(e->last_end, SIP_TXN_END_TRANSPORT);
	/* one that has rung is left to its timers */
	input(e, response_to(NULL, 180, "INVITE", 7, "z9hG4bKinv1"), &other);
	sip_txn_transport_failed(e->layer, &other);
	advance(e, 10);
	assert_int_equal(e->terminated, 1);
	env_free(e);
}

static void test_stray_response(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer to = peer(SIP_TP_UDP, "127.0.0.1", 5060);
	input(e, response_to(NULL, 200, "INVITE", 7, "z9hG4bKnobody"), &to);
	assert_int_equal(e->strays, 1);
	/* same branch, other method: not the same transaction (17.1.3) */
	request(e, OPTIONS_REQ, &to);
	input(e, response_to(NULL, 200, "INFO", 1, "z9hG4bKopt1"), &to);
	assert_int_equal(e->strays, 2);
	env_free(e);
}

/* ---- server transactions ------------------------------------------------ */

static void test_server_non_invite(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer from = peer(SIP_TP_UDP, "192.0.2.1", 40000);
	input(e, OPTIONS_REQ, &from);
	assert_int_equal(e->requests, 1);
	struct sip_txn *st = e->last_server;
	assert_non_null(st);
	input(e, OPTIONS_REQ, &from); /* retransmission in Trying: absorbed */
	assert_int_equal(e->requests, 1);
	assert_int_equal(e->nsent, 0);
	respond(st, 200);
	assert_int_equal(e->nsent, 1);
	/* no rport: the response goes to the source address, sent-by port */
	assert_int_equal(sip_peer_port(&e->sent[0].to), 5070);
	input(e, OPTIONS_REQ, &from); /* retransmission in Completed: 200 again */
	assert_int_equal(e->nsent, 2);
	assert_memory_equal(e->sent[0].buf, e->sent[1].buf, e->sent[0].len);
	advance(e, 32010); /* Timer J */
	assert_int_equal(e->terminated, 1);
	input(e, OPTIONS_REQ, &from); /* a late copy is a new request now */
	assert_int_equal(e->requests, 2);
	env_free(e);
}

static void test_server_invite_100_and_non2xx(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer from = peer(SIP_TP_UDP, "192.0.2.1", 40000);
	input(e, INVITE_REQ, &from);
	struct sip_txn *st = e->last_server;
	assert_non_null(st);
	advance(e, 190);
	assert_int_equal(e->nsent, 0);
	advance(e, 20); /* 200 ms without the TU: 100 Trying */
	assert_int_equal(e->nsent, 1);
	assert_true(sent_starts(&e->sent[0], "SIP/2.0 100 Trying\r\n"));
	/* rport: responses go to the source port */
	assert_int_equal(sip_peer_port(&e->sent[0].to), 40000);
	input(e, INVITE_REQ, &from); /* retransmission: the 100 again */
	assert_int_equal(e->nsent, 2);
	respond(st, 486);
	assert_int_equal(e->nsent, 3);
	advance(e, 500 + 1000 + 2000 - 10); /* Timer G: 0.5, 1.5, 3.5 s */
	assert_int_equal(e->nsent, 5);
	advance(e, 10);
	assert_int_equal(e->nsent, 6);
	assert_true(sent_starts(&e->sent[5], "SIP/2.0 486 Busy Here\r\n"));
	/* the ACK confirms: no more retransmissions, gone after T4 (Timer I) */
	input(e,
	      "ACK sip:bob@example.com SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKinv1;rport\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.com>;tag=a1\n"
	      "To: <sip:bob@example.com>;tag=x\n"
	      "Call-ID: inv1@192.0.2.1\n"
	      "CSeq: 7 ACK\n"
	      "Content-Length: 0\n\n",
	      &from);
	assert_int_equal(e->acks, 0); /* absorbed by the transaction */
	assert_int_equal(sip_txn_state(st), SIP_TXN_CONFIRMED);
	advance(e, 4990);
	assert_int_equal(e->nsent, 6);
	assert_int_equal(e->terminated, 0);
	advance(e, 20);
	assert_int_equal(e->terminated, 1);
	env_free(e);
}

static void test_server_invite_timer_h(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer from = peer(SIP_TP_UDP, "192.0.2.1", 40000);
	input(e, INVITE_REQ, &from);
	respond(e->last_server, 404);
	advance(e, 32010); /* no ACK ever */
	assert_int_equal(e->terminated, 1);
	assert_int_equal(e->last_end, SIP_TXN_END_TIMEOUT);
	/* G retransmitted at 0.5 1.5 3.5 7.5 11.5 ... 31.5: 10 times */
	assert_int_equal(e->nsent, 11);
	env_free(e);
}

static void test_server_invite_2xx_accepted(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer from = peer(SIP_TP_UDP, "192.0.2.1", 40000);
	input(e, INVITE_REQ, &from);
	struct sip_txn *st = e->last_server;
	respond(st, 180);
	respond(st, 200);
	assert_int_equal(sip_txn_state(st), SIP_TXN_ACCEPTED);
	int n = e->nsent;
	input(e, INVITE_REQ, &from); /* absorbed: the TU retransmits its 2xx itself */
	assert_int_equal(e->nsent, n);
	assert_int_equal(e->requests, 1);
	/* a 2xx retransmission from the TU passes; anything else does not */
	struct sent ok200 = e->sent[e->nsent - 1];
	assert_true(sent_starts(&ok200, "SIP/2.0 200 OK"));
	assert_int_equal(sip_txn_respond(st, ok200.buf, ok200.len), 0);
	assert_int_equal(sip_txn_reply(st, 486, NULL, NULL), -1);
	/* the ACK for the 2xx goes to the TU */
	input(e,
	      "ACK sip:bob@192.0.2.9 SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKinv1;rport\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.com>;tag=a1\n"
	      "To: <sip:bob@example.com>;tag=x\n"
	      "Call-ID: inv1@192.0.2.1\n"
	      "CSeq: 7 ACK\n"
	      "Content-Length: 0\n\n",
	      &from);
	assert_int_equal(e->acks, 1);
	advance(e, 32010); /* Timer L */
	assert_int_equal(e->terminated, 1);
	env_free(e);
}

static void test_cancel_matches_invite(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer from = peer(SIP_TP_UDP, "192.0.2.1", 40000);
	input(e, INVITE_REQ, &from);
	struct sip_txn *inv = e->last_server;
	input(e,
	      "CANCEL sip:bob@example.com SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKinv1;rport\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.com>;tag=a1\n"
	      "To: <sip:bob@example.com>\n"
	      "Call-ID: inv1@192.0.2.1\n"
	      "CSeq: 7 CANCEL\n"
	      "Content-Length: 0\n\n",
	      &from);
	assert_int_equal(e->requests, 2);
	struct sip_txn *cancel = e->last_server;
	assert_ptr_not_equal(cancel, inv);
	assert_ptr_equal(sip_txn_cancelled(e->layer, cancel), inv);
	env_free(e);
}

#define INVITE_2543                                                                     \
	"INVITE sip:bob@example.com SIP/2.0\n"                                          \
	"Via: SIP/2.0/UDP 192.0.2.1:5070\n"                                             \
	"From: <sip:alice@example.com>\n"                                               \
	"To: <sip:bob@example.com>\n"                                                   \
	"Call-ID: old@192.0.2.1\n"                                                      \
	"CSeq: 3 INVITE\n"                                                              \
	"Content-Length: 0\n\n"

static void test_rfc2543_matching(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer from = peer(SIP_TP_UDP, "192.0.2.1", 5070);
	input(e, INVITE_2543, &from);
	input(e, INVITE_2543, &from);
	assert_int_equal(e->requests, 1); /* the retransmission matched without a branch */
	struct sip_txn *st = e->last_server;
	respond(st, 404);
	/* the To tag we sent, read back from the 404 */
	const struct sent *r = &e->sent[e->nsent - 1];
	const char *tag = memmem(r->buf, r->len, ";tag=", 5);
	assert_non_null(tag);
	char ack[512];
	snprintf(ack, sizeof(ack),
		 "ACK sip:bob@example.com SIP/2.0\n"
		 "Via: SIP/2.0/UDP 192.0.2.1:5070\n"
		 "From: <sip:alice@example.com>\n"
		 "To: <sip:bob@example.com>;tag=%.16s\n"
		 "Call-ID: old@192.0.2.1\n"
		 "CSeq: 3 ACK\n"
		 "Content-Length: 0\n\n",
		 tag + 5);
	input(e, ack, &from);
	assert_int_equal(sip_txn_state(st), SIP_TXN_CONFIRMED);
	env_free(e);
}

/* ---- bad input ---------------------------------------------------------- */

static void test_bad_requests_answered(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct sip_peer from = peer(SIP_TP_UDP, "192.0.2.1", 40000);
	input(e,
	      "INVITE sip:bob@example.com SIP/7.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKv7;rport\n"
	      "From: <sip:alice@example.com>;tag=a1\n"
	      "To: <sip:bob@example.com>\n"
	      "Call-ID: v7@192.0.2.1\n"
	      "CSeq: 1 INVITE\n"
	      "Content-Length: 0\n\n",
	      &from);
	assert_int_equal(e->nsent, 1);
	assert_true(sent_starts(&e->sent[0], "SIP/2.0 505 "));
	input(e,
	      "OPTIONS sip:bob@example.com SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKnocallid;rport\n"
	      "From: <sip:alice@example.com>;tag=a1\n"
	      "To: <sip:bob@example.com>\n"
	      "CSeq: 1 OPTIONS\n"
	      "Content-Length: 0\n\n",
	      &from);
	assert_int_equal(e->nsent, 2);
	assert_true(sent_starts(&e->sent[1], "SIP/2.0 400 missing Call-ID header\r\n"));
	/* a bad ACK is never answered; a bad response is dropped */
	input(e, "ACK sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP x;;\nCSeq: 1 ACK\n\n", &from);
	input(e, "SIP/2.0 999999 Nope\nVia: SIP/2.0/UDP 192.0.2.1\n\n", &from);
	assert_int_equal(e->nsent, 2);
	assert_int_equal(e->requests, 0);
	assert_int_equal(e->rejected, 4);
	env_free(e);
}

static void test_branch_generation(void **state)
{
	(void)state;
	char a[32], b[32];
	assert_int_equal(sip_txn_new_branch(a, sizeof(a)), 29);
	sip_txn_new_branch(b, sizeof(b));
	assert_memory_equal(a, "z9hG4bK", 7);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_non_invite_timer_e_f),
		cmocka_unit_test(test_client_non_invite_proceeding_uses_t2),
		cmocka_unit_test(test_client_invite_timer_a_b),
		cmocka_unit_test(test_client_invite_non2xx_ack),
		cmocka_unit_test(test_client_invite_cancel_unanswered),
		cmocka_unit_test(test_client_invite_2xx_accepted),
		cmocka_unit_test(test_client_reliable_no_retransmissions),
		cmocka_unit_test(test_client_transport_error),
		cmocka_unit_test(test_transport_failure_ends_waiting_clients),
		cmocka_unit_test(test_stray_response),
		cmocka_unit_test(test_server_non_invite),
		cmocka_unit_test(test_server_invite_100_and_non2xx),
		cmocka_unit_test(test_server_invite_timer_h),
		cmocka_unit_test(test_server_invite_2xx_accepted),
		cmocka_unit_test(test_cancel_matches_invite),
		cmocka_unit_test(test_rfc2543_matching),
		cmocka_unit_test(test_bad_requests_answered),
		cmocka_unit_test(test_branch_generation),
	};
	return cmocka_run_group_tests_name("txn", tests, NULL, NULL);
}
