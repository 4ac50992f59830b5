/*
 * bench_txn: time per operation of the transaction layer, in process, with
 * a transport that only counts what it would send.
 *
 *   bench_txn [--iterations N] [--runs R] [--only NAME] [--list]
 *
 * Operations:
 *   txn/server_new       a new OPTIONS arrives (parse, check, match, create
 *                        the server transaction), the TU answers 200, the
 *                        transaction ends (TCP: Timer J is zero)
 *   txn/server_retrans   a retransmitted OPTIONS is matched to its
 *                        transaction and the 200 is sent again
 *   txn/client_new       a new OPTIONS client transaction is created and
 *                        sent, its 200 arrives and is matched, it ends
 *   txn/invite_server    a new INVITE: 100 Trying at once, 180, 200
 *                        (Accepted), the ACK is passed up, Timer L ends it
 *
 * The same contract as bench_parse (tests/bench/run.sh reads it): a header
 * line, then "name input_bytes iterations ns/op" rows; the work is fixed
 * by N and R, and --iterations 0 measures the setup alone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "ev.h"
#include "sip/txn.h"

static uint64_t fake_ms;
static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_ms;
}

static size_t sent, acks;
static int hook_send(void *ctx, const struct sip_peer *to, const char *buf, size_t len)
{
	(void)ctx;
	(void)to;
	(void)buf;
	sent += len;
	return 0;
}

static unsigned reply_status = 200;
static void hook_request(void *ctx, struct sip_txn *st, struct sip_msg *req)
{
	(void)ctx;
	(void)req;
	if (sip_txn_is_invite(st))
		sip_txn_reply(st, 180, NULL, NULL);
	sip_txn_reply(st, reply_status, NULL, NULL);
}

static void hook_ack(void *ctx, struct sip_msg *ack, const struct sip_peer *from)
{
	(void)ctx;
	(void)ack;
	(void)from;
	acks++;
}

#define OPTIONS_TEXT                                                                     \
	"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"                                 \
	"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK%08zx;rport\r\n"        \
	"Max-Forwards: 70\r\n"                                                           \
	"To: <sip:bob@biloxi.example.com>\r\n"                                           \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"                 \
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"                           \
	"CSeq: 63104 OPTIONS\r\n"                                                        \
	"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"                              \
	"Accept: application/sdp\r\n"                                                    \
	"Content-Length: 0\r\n\r\n"

#define INVITE_TEXT                                                                      \
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"                                  \
	"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK%08zx;rport\r\n"        \
	"Max-Forwards: 70\r\n"                                                           \
	"To: <sip:bob@biloxi.example.com>\r\n"                                           \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"                 \
	"Call-ID: b84b4c76e66710@pc33.atlanta.example.com\r\n"                           \
	"CSeq: 314159 INVITE\r\n"                                                        \
	"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"                              \
	"Content-Length: 0\r\n\r\n"

#define ACK_TEXT                                                                         \
	"ACK sip:bob@192.0.2.4 SIP/2.0\r\n"                                              \
	"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK%08zx;rport\r\n"        \
	"Max-Forwards: 70\r\n"                                                           \
	"To: <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"                               \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"                 \
	"Call-ID: b84b4c76e66710@pc33.atlanta.example.com\r\n"                           \
	"CSeq: 314159 ACK\r\n"                                                           \
	"Content-Length: 0\r\n\r\n"

#define RESPONSE_TEXT                                                                    \
	"SIP/2.0 200 OK\r\n"                                                             \
	"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK%08zx;rport=5060\r\n"   \
	"To: <sip:bob@biloxi.example.com>;tag=93810874\r\n"                              \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"                 \
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"                           \
	"CSeq: 63104 OPTIONS\r\n"                                                        \
	"Contact: <sip:bob@192.0.2.4>\r\n"                                               \
	"Content-Length: 0\r\n\r\n"

enum op_kind { OP_SERVER_NEW, OP_SERVER_RETRANS, OP_CLIENT_NEW, OP_INVITE_SERVER };

struct op {
	char name[32];
	enum op_kind kind;
	size_t bytes;
};

static struct ev_loop *loop;
static struct sip_txn_layer *layer;
static struct sip_peer peer;

/* Writes a message template with a branch number into buf; its length. */
#define with_branch(buf, cap, fmt, branch) ((size_t)snprintf(buf, cap, fmt, (size_t)(branch)))

static size_t counter = 1;

static void run_once(const void *arg, size_t iterations)
{
	const struct op *op = arg;
	char req[1024], resp[1024], ack[1024];
	switch (op->kind) {
	case OP_SERVER_NEW:
		for (size_t i = 0; i < iterations; i++) {
			size_t n = with_branch(req, sizeof(req), OPTIONS_TEXT, counter++);
			sip_txn_input(layer, req, n, &peer);
			ev_run_timers(loop); /* Timer J = 0 over TCP: the transaction ends */
		}
		break;
	case OP_SERVER_RETRANS: {
		size_t n = with_branch(req, sizeof(req), OPTIONS_TEXT, 0xfffffff0);
		for (size_t i = 0; i < iterations; i++)
			sip_txn_input(layer, req, n, &peer);
		break;
	}
	case OP_CLIENT_NEW:
		for (size_t i = 0; i < iterations; i++) {
			size_t b = counter++;
			size_t n = with_branch(req, sizeof(req), OPTIONS_TEXT, b);
			sip_txn_request(layer, req, n, &peer, NULL);
			size_t m = with_branch(resp, sizeof(resp), RESPONSE_TEXT, b);
			sip_txn_input(layer, resp, m, &peer);
			ev_run_timers(loop); /* Timer K = 0 over TCP */
		}
		break;
	case OP_INVITE_SERVER:
		for (size_t i = 0; i < iterations; i++) {
			size_t b = counter++;
			size_t n = with_branch(req, sizeof(req), INVITE_TEXT, b);
			sip_txn_input(layer, req, n, &peer);
			size_t m = with_branch(ack, sizeof(ack), ACK_TEXT, b);
			sip_txn_input(layer, ack, m, &peer);
			fake_ms += 64 * 500; /* Timer L */
			ev_run_timers(loop);
		}
		break;
	}
}

int main(int argc, char **argv)
{
	struct bench_opts o = bench_parse_args(argc, argv, "bench_txn");

	loop = ev_loop_new();
	ev_set_clock(loop, fake_clock, NULL);
	struct sip_txn_hooks hooks = {.send = hook_send, .request = hook_request, .ack = hook_ack};
	layer = sip_txn_layer_new(loop, NULL, &hooks);
	sip_peer_from_numeric(&peer, SIP_TP_TCP, "192.0.2.1", 9, 5060);
	/* the transaction the retransmission benchmark matches against */
	char req[1024];
	size_t n = with_branch(req, sizeof(req), OPTIONS_TEXT, 0xfffffff0);
	sip_txn_input(layer, req, n, &peer);

	const struct op ops[] = {
		{"txn/server_new", OP_SERVER_NEW, n},
		{"txn/server_retrans", OP_SERVER_RETRANS, n},
		{"txn/client_new", OP_CLIENT_NEW, n},
		{"txn/invite_server", OP_INVITE_SERVER, n},
	};
	size_t n_ops = sizeof(ops) / sizeof(ops[0]);
	const char *names[sizeof(ops) / sizeof(ops[0])];
	for (size_t i = 0; i < n_ops; i++)
		names[i] = ops[i].name;
	int rc = bench_list("bench_txn", names, n_ops, &o);
	if (rc >= 0)
		return rc;
	bench_header();
	for (size_t i = 0; i < n_ops; i++) {
		if (!bench_selected(ops[i].name, o.only))
			continue;
		bench_row(ops[i].name, ops[i].bytes, o.iterations, bench_best_ns(&o, run_once, &ops[i]));
	}
	struct sip_txn_stats st;
	sip_txn_get_stats(layer, &st);
	if (st.rejected)
		fprintf(stderr, "bench_txn: %llu messages rejected: the benchmark is broken\n",
			(unsigned long long)st.rejected);
	sip_txn_layer_free(layer);
	ev_loop_free(loop);
	return st.rejected ? 1 : 0;
}
