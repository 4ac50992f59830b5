/*
 * bench_parse: time per operation of the SIP parser on typical traffic.
 *
 *   bench_parse [--iterations N] [--runs R] [--only NAME] [--list]
 *
 * Operations, each on an INVITE as a softphone sends it, an authenticated
 * REGISTER and a 200 OK to INVITE (after two proxies):
 *   parse/MSG            sip_msg_parse and what a proxy reads to route: top
 *                        Via, From tag, To, CSeq, Call-ID, Max-Forwards, Route
 *   parse+check+all/MSG  the same, then sip_msg_check and sip_msg_parse_all
 *   parse+serialize/MSG  parse/MSG, then insert a Via, decrement Max-Forwards
 *                        (replace) and sip_msg_serialize
 * and on a set of URIs:
 *   uri_parse            sip_uri_parse, averaged over the set
 *   uri_equal            sip_uri_equal over RFC 3261 19.1.4 pairs (parsed once)
 *
 * Input bytes: the message size; for URIs the average length (uri_equal:
 * of the two URIs together).
 *
 * Each operation runs N iterations (default 20000) R times (default 5) and
 * the best run gives ns/op (CLOCK_MONOTONIC). The work done is fixed by N
 * and R alone, and all setup happens whatever --only says, so running with
 * --iterations 0 measures the setup: tests/bench/run.sh subtracts it from a
 * callgrind count to get instructions per operation. --only takes an
 * operation name or the part before '/' ("parse" runs the three parse/MSG).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "sip/msg.h"

#define CRLF "\r\n"

/* ~250 bytes of SDP, as a softphone offers audio */
#define SDP_OFFER                                                                        \
	"v=0" CRLF "o=Zoiper 0 1185403 IN IP4 192.168.1.23" CRLF "s=Zoiper" CRLF          \
	"c=IN IP4 192.168.1.23" CRLF "t=0 0" CRLF "m=audio 8000 RTP/AVP 0 8 101" CRLF    \
	"a=rtpmap:0 PCMU/8000" CRLF "a=rtpmap:8 PCMA/8000" CRLF                           \
	"a=rtpmap:101 telephone-event/8000" CRLF "a=fmtp:101 0-16" CRLF "a=sendrecv" CRLF

#define SDP_ANSWER                                                                       \
	"v=0" CRLF "o=bob 2890844527 2890844527 IN IP4 192.0.2.4" CRLF "s=-" CRLF         \
	"c=IN IP4 192.0.2.4" CRLF "t=0 0" CRLF "m=audio 3456 RTP/AVP 0 101" CRLF          \
	"a=rtpmap:0 PCMU/8000" CRLF "a=rtpmap:101 telephone-event/8000" CRLF               \
	"a=sendrecv" CRLF

/* Each head ends in "Content-Length: "; the length and body follow at start-up. */
static const char invite_head[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0" CRLF
	"Via: SIP/2.0/UDP 192.168.1.23:5060;rport;branch=z9hG4bK-524287-1---3ba8d2e1c9f0a7b5" CRLF
	"Max-Forwards: 70" CRLF
	"Route: <sip:proxy.atlanta.example.com;lr>" CRLF
	"Contact: <sip:alice@192.168.1.23:5060;transport=udp>" CRLF
	"To: <sip:bob@biloxi.example.com>" CRLF
	"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl" CRLF
	"Call-ID: 3848276298220188511@192.168.1.23" CRLF
	"CSeq: 1 INVITE" CRLF
	"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO, UPDATE" CRLF
	"Supported: replaces, norefersub, timer" CRLF
	"User-Agent: Zoiper v2.10.19.6" CRLF
	"Content-Type: application/sdp" CRLF
	"Content-Length: ";

static const char register_head[] =
	"REGISTER sip:atlanta.example.com SIP/2.0" CRLF
	"Via: SIP/2.0/UDP 192.168.1.23:5060;rport;branch=z9hG4bK-d8754z-1f2e3d4c5b6a7980" CRLF
	"Max-Forwards: 70" CRLF
	"Contact: <sip:alice@192.168.1.23:5060;transport=udp>;+sip.instance=\"<urn:uuid:4c1e2d3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f>\";reg-id=1;expires=3600" CRLF
	"To: <sip:alice@atlanta.example.com>" CRLF
	"From: <sip:alice@atlanta.example.com>;tag=4a7b9c1d" CRLF
	"Call-ID: 843817637684230@998sdasdh09" CRLF
	"CSeq: 2 REGISTER" CRLF
	"Expires: 3600" CRLF
	"Authorization: Digest username=\"alice\", realm=\"atlanta.example.com\", "
	"nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", uri=\"sip:atlanta.example.com\", "
	"response=\"dfe56131d1958046689d83306477ecc0\", algorithm=MD5, cnonce=\"0a4f113b\", "
	"qop=auth, nc=00000001, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"" CRLF
	"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO, UPDATE" CRLF
	"User-Agent: Zoiper v2.10.19.6" CRLF
	"Content-Length: ";

static const char ok_head[] =
	"SIP/2.0 200 OK" CRLF
	"Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;received=192.0.2.10" CRLF
	"Via: SIP/2.0/UDP 192.168.1.23:5060;rport=5060;received=203.0.113.7;branch=z9hG4bK-524287-1---3ba8d2e1c9f0a7b5" CRLF
	"Record-Route: <sip:proxy.atlanta.example.com;lr>" CRLF
	"To: <sip:bob@biloxi.example.com>;tag=314159" CRLF
	"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl" CRLF
	"Call-ID: 3848276298220188511@192.168.1.23" CRLF
	"CSeq: 1 INVITE" CRLF
	"Contact: <sip:bob@192.0.2.4:5060>" CRLF
	"Content-Type: application/sdp" CRLF
	"Content-Length: ";

struct message {
	const char *name;
	const char *head;
	const char *body;
	char *buf; /* built at start-up */
	size_t len;
};

static struct message messages[] = {
	{"invite", invite_head, SDP_OFFER, NULL, 0},
	{"register", register_head, "", NULL, 0},
	{"200ok", ok_head, SDP_ANSWER, NULL, 0},
};

/* A URI mix as a proxy meets them: Request-URIs, Contacts, Routes, tel. */
static const char *const uris[] = {
	"sip:bob@biloxi.example.com",
	"sip:alice@192.168.1.23:5060;transport=udp",
	"sip:proxy.atlanta.example.com;lr",
	"sips:alice@atlanta.example.com;transport=tls",
	"sip:+12125551212@gateway.example.com;user=phone",
	"tel:+1-212-555-1212",
	"sip:[2001:db8::10]:5070;maddr=[2001:db8::20];lr",
	"sip:alice:secretword@atlanta.com;transport=tcp",
	"sips:alice@atlanta.com?subject=project%20x&priority=urgent",
	"sip:%61lice@atlanta.com;transport=TCP",
	"sip:user@edge.example.net:5061;transport=tcp;lr;ob",
	"sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
};
#define N_URIS (sizeof(uris) / sizeof(uris[0]))

/* RFC 3261 19.1.4: equivalent pairs, then pairs that differ. */
static const char *const pairs[][2] = {
	{"sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"},
	{"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"},
	{"sip:carol@chicago.com;security=on", "sip:carol@chicago.com;newparam=5"},
	{"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
	 "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"},
	{"sip:alice@atlanta.com?subject=project%20x&priority=urgent",
	 "sip:alice@atlanta.com?priority=urgent&subject=project%20x"},
	{"sip:bob@biloxi.example.com", "sip:bob@biloxi.example.com"},
	{"SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"},
	{"sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"},
	{"sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"},
	{"sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"},
};
#define N_PAIRS (sizeof(pairs) / sizeof(pairs[0]))
static struct sip_uri pair_uris[N_PAIRS][2];

static const char new_via[] =
	"Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1";

/* One parsed message, reused (it holds its first arena block: keep it off
 * the stack); out receives serialized messages. */
static struct sip_msg msg;
static char out[8192];
/* Results go here so that the compiler cannot drop the work. */
static volatile uintptr_t sink;

static void fail(const char *what, const struct sip_error *err)
{
	fprintf(stderr, "bench_parse: %s: %s\n", what, err ? err->detail : "failed");
	exit(1);
}

/* (a) parse, and read what a proxy needs to route the message. */
static void parse_for_proxy(const struct message *mm)
{
	struct sip_error err = {0};
	if (sip_msg_parse(&msg, mm->buf, mm->len, NULL, &err) < 0)
		fail(mm->name, &err);
	const struct sip_via *via = sip_msg_via(&msg, &err);
	const struct sip_addr *from = sip_msg_from(&msg, &err);
	const struct sip_addr *to = sip_msg_to(&msg, &err);
	const struct sip_cseq *cseq = sip_msg_cseq(&msg, &err);
	sip_str call_id = sip_msg_call_id(&msg);
	int mf = sip_msg_max_forwards(&msg, &err);
	if (!via || !from || !to || !cseq || !call_id.len || mf == -2)
		fail(mm->name, &err);
	uintptr_t acc = (uintptr_t)via->branch.len + from->tag.len + to->uri.host.len + cseq->seq +
			(uintptr_t)mf;
	struct sip_hdr *route = msg.first[SIP_HDR_ROUTE];
	if (route) {
		if (sip_hdr_parse(&msg, route, &err) < 0)
			fail(mm->name, &err);
		acc += route->v.addr->uri.lr;
	}
	sink = acc;
}

static void op_parse(const struct message *mm)
{
	parse_for_proxy(mm);
	sip_msg_free(&msg);
}

static void op_check_all(const struct message *mm)
{
	struct sip_error err = {0};
	parse_for_proxy(mm);
	if (sip_msg_check(&msg, &err) < 0 || sip_msg_parse_all(&msg, &err) < 0)
		fail(mm->name, &err);
	sip_msg_free(&msg);
}

static void op_serialize(const struct message *mm)
{
	parse_for_proxy(mm);
	if (sip_msg_insert_header(&msg, &msg.hdrs[0], new_via, sizeof(new_via) - 1) < 0)
		fail(mm->name, NULL);
	struct sip_hdr *mfh = msg.first[SIP_HDR_MAX_FORWARDS];
	if (mfh) {
		char line[32];
		int n = snprintf(line, sizeof(line), "Max-Forwards: %u", mfh->v.uint - 1);
		if (sip_msg_replace_header(&msg, mfh, line, (size_t)n) < 0)
			fail(mm->name, NULL);
	}
	size_t n = sip_msg_serialize(&msg, out, sizeof(out));
	if (n > sizeof(out))
		fail(mm->name, NULL);
	sink = (uintptr_t)n + (uintptr_t)out[n - 1];
	sip_msg_free(&msg);
}

static void op_uri_parse(size_t i)
{
	const char *u = uris[i % N_URIS];
	struct sip_uri uri;
	struct sip_error err = {0};
	if (sip_uri_parse(&uri, u, strlen(u), &err) < 0)
		fail(u, &err);
	sink = uri.host.len;
}

static void op_uri_equal(size_t i)
{
	const struct sip_uri *p = pair_uris[i % N_PAIRS];
	sink = sip_uri_equal(&p[0], &p[1]);
}

enum op_kind { OP_PARSE, OP_CHECK_ALL, OP_SERIALIZE, OP_URI_PARSE, OP_URI_EQUAL };

struct op {
	char name[48];
	enum op_kind kind;
	const struct message *mm;
	size_t bytes; /* input size, averaged for URIs */
};

static void run_once(const void *arg, size_t iterations)
{
	const struct op *o = arg;
	for (size_t i = 0; i < iterations; i++) {
		switch (o->kind) {
		case OP_PARSE:
			op_parse(o->mm);
			break;
		case OP_CHECK_ALL:
			op_check_all(o->mm);
			break;
		case OP_SERIALIZE:
			op_serialize(o->mm);
			break;
		case OP_URI_PARSE:
			op_uri_parse(i);
			break;
		case OP_URI_EQUAL:
			op_uri_equal(i);
			break;
		}
	}
}

/* Builds the messages (Content-Length filled in) and parses the URI pairs. */
static void setup(void)
{
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
		struct message *mm = &messages[i];
		size_t blen = strlen(mm->body);
		size_t cap = strlen(mm->head) + 32 + blen;
		mm->buf = malloc(cap);
		if (!mm->buf)
			fail("out of memory", NULL);
		int n = snprintf(mm->buf, cap, "%s%zu" CRLF CRLF "%s", mm->head, blen, mm->body);
		mm->len = (size_t)n;
	}
	for (size_t i = 0; i < N_PAIRS; i++)
		for (int k = 0; k < 2; k++) {
			struct sip_error err = {0};
			if (sip_uri_parse(&pair_uris[i][k], pairs[i][k], strlen(pairs[i][k]), &err) < 0)
				fail(pairs[i][k], &err);
		}
}

static size_t build_ops(struct op *ops)
{
	static const struct {
		const char *prefix;
		enum op_kind kind;
	} kinds[] = {{"parse", OP_PARSE},
		     {"parse+check+all", OP_CHECK_ALL},
		     {"parse+serialize", OP_SERIALIZE}};
	size_t n = 0;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
			struct op *o = &ops[n++];
			snprintf(o->name, sizeof(o->name), "%s/%s", kinds[k].prefix, messages[i].name);
			o->kind = kinds[k].kind;
			o->mm = &messages[i];
			o->bytes = messages[i].len;
		}
	size_t total = 0;
	for (size_t i = 0; i < N_URIS; i++)
		total += strlen(uris[i]);
	ops[n++] = (struct op){"uri_parse", OP_URI_PARSE, NULL, (total + N_URIS / 2) / N_URIS};
	total = 0;
	for (size_t i = 0; i < N_PAIRS; i++)
		total += strlen(pairs[i][0]) + strlen(pairs[i][1]);
	ops[n++] = (struct op){"uri_equal", OP_URI_EQUAL, NULL, (total + N_PAIRS / 2) / N_PAIRS};
	return n;
}

int main(int argc, char **argv)
{
	struct bench_opts o = bench_parse_args(argc, argv, "bench_parse");
	setup();
	struct op ops[16];
	size_t n_ops = build_ops(ops);
	const char *names[16];
	for (size_t i = 0; i < n_ops; i++)
		names[i] = ops[i].name;
	int rc = bench_list("bench_parse", names, n_ops, &o);
	if (rc >= 0)
		return rc;

	bench_header();
	for (size_t i = 0; i < n_ops; i++) {
		if (!bench_selected(ops[i].name, o.only))
			continue;
		bench_row(ops[i].name, ops[i].bytes, o.iterations, bench_best_ns(&o, run_once, &ops[i]));
	}
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++)
		free(messages[i].buf);
	return 0;
}
