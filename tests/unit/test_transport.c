/*
 * The transports over real sockets on loopback: UDP (IPv4, IPv6, batches,
 * oversize), TCP framing, keep-alives, connection reuse, limits and
 * timeouts, TLS with certificate checks. The loop runs on the real clock and
 * every wait is bounded, so that a bug fails a test instead of hanging it.
 */
#include "unit/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "sip/transport.h"

#define TLS_DIR "tests/unit/tls/"
#define WAIT_MS 1500 /* upper bound of any wait; the happy path takes a few ms */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until cond holds or ms pass. */
#define RUN_UNTIL(loop, cond, ms)                                  \
	do {                                                       \
		uint64_t end_ = mono_ms() + (ms);                  \
		while (!(cond) && mono_ms() < end_)                \
			ev_run_once((loop), 5);                    \
	} while (0)

static void run_for(struct ev_loop *loop, int ms)
{
	uint64_t end = mono_ms() + (uint64_t)ms;
	while (mono_ms() < end)
		ev_run_once(loop, 5);
}

static const struct sip_tp_opts tls_server_opts = {
	.tls_cert = TLS_DIR "server.pem",
	.tls_key = TLS_DIR "server.key",
};

static const struct sip_tp_opts tls_client_opts = {
	.tls_ca = TLS_DIR "ca.pem",
	.verify_servers = true,
};

/* One sip_tp and what it received. */
struct side {
	struct sip_tp *tp;
	int n;                    /* messages received */
	char last[20480];
	size_t last_len;
	struct sip_peer from;     /* of the last message */
	long seq_sum;             /* of the CSeq numbers received */
	bool echo;                /* answer each message to its sender */
	int echo_failures;
	int errors;               /* error hook calls */
	struct sip_peer err_peer;
};

struct env {
	struct ev_loop *loop;
	struct ev_loop *loop2;    /* for b, when b must be able to stall */
	struct side a, b;
	int raw[8];
	int nraw;
};

static size_t build(char *out, size_t cap, const char *start, int seq, size_t body)
{
	int n = snprintf(out, cap,
			 "%s\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-%d\r\n"
			 "From: <sip:a@vocal.test>;tag=1\r\nTo: <sip:b@vocal.test>\r\n"
			 "Call-ID: %d@vocal.test\r\nCSeq: %d OPTIONS\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 start, seq, seq, seq, body);
	assert_true(n > 0 && (size_t)n + body <= cap);
	memset(out + n, 'x', body);
	return (size_t)n + body;
}

static size_t request(char *out, size_t cap, int seq, size_t body)
{
	return build(out, cap, "OPTIONS sip:b@vocal.test SIP/2.0", seq, body);
}

static void on_rx(void *ctx, const char *buf, size_t len, const struct sip_peer *from)
{
	struct side *s = ctx;
	s->n++;
	s->last_len = len < sizeof(s->last) ? len : sizeof(s->last);
	memcpy(s->last, buf, s->last_len);
	s->from = *from;
	const char *cs = memmem(buf, len, "CSeq: ", 6);
	if (cs)
		s->seq_sum += strtol(cs + 6, NULL, 10);
	if (s->echo) {
		char out[512];
		int seq = cs ? (int)strtol(cs + 6, NULL, 10) : 0;
		size_t n = build(out, sizeof(out), "SIP/2.0 200 OK", seq, 0);
		if (sip_tp_send(s->tp, from, out, n) < 0)
			s->echo_failures++;
	}
}

static void on_error(void *ctx, const struct sip_peer *peer)
{
	struct side *s = ctx;
	s->errors++;
	s->err_peer = *peer;
}

static void side_open_on(struct ev_loop *loop, struct side *s, const struct sip_tp_opts *o)
{
	char err[256] = "";
	struct sip_tp_opts none = {0};
	s->tp = sip_tp_new(loop, o ? o : &none, on_rx, s, err, sizeof(err));
	if (!s->tp)
		fail_msg("sip_tp_new: %s", err);
	sip_tp_on_error(s->tp, on_error, s);
}

static void side_open(struct env *e, struct side *s, const struct sip_tp_opts *o)
{
	side_open_on(e->loop, s, o);
}

static int listen_on(struct side *s, enum sip_transport t, const char *hostport)
{
	char err[256] = "";
	int l = sip_tp_listen(s->tp, t, hostport, err, sizeof(err));
	if (l < 0)
		fail_msg("listen %s: %s", hostport, err);
	assert_int_not_equal(sip_tp_local_port(s->tp, l), 0);
	return l;
}

/* The peer that reaches a listener of s. */
static struct sip_peer peer_of(struct side *s, int listener)
{
	struct sip_peer p = *sip_tp_listener_addr(s->tp, listener);
	p.conn_id = 0;
	return p;
}

static struct sip_tp_stats stats(struct side *s)
{
	struct sip_tp_stats st;
	sip_tp_get_stats(s->tp, &st);
	return st;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->loop = ev_loop_new();
	assert_non_null(e->loop);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	for (int i = 0; i < e->nraw; i++)
		if (e->raw[i] >= 0)
			close(e->raw[i]);
	sip_tp_free(e->a.tp);
	sip_tp_free(e->b.tp);
	ev_loop_free(e->loop);
	if (e->loop2)
		ev_loop_free(e->loop2);
	free(e);
	return 0;
}

/* A plain socket connected to a listener of s, non-blocking afterwards. */
static int raw_connect(struct env *e, struct side *s, int listener)
{
	const struct sip_peer *p = sip_tp_listener_addr(s->tp, listener);
	int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)&p->addr, p->addrlen), 0);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	assert_true(e->nraw < 8);
	e->raw[e->nraw++] = fd;
	return fd;
}

static void raw_send(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Runs the loop until fd has bytes or is closed: returns what recv says
 * (0 at the end of the stream; -1 with errno EAGAIN when nothing came). */
static ssize_t raw_wait(struct env *e, int fd, char *buf, size_t cap, int ms)
{
	ssize_t n = -1;
	uint64_t end = mono_ms() + (uint64_t)ms;
	do {
		ev_run_once(e->loop, 5);
		n = recv(fd, buf, cap, MSG_DONTWAIT);
	} while (n < 0 && errno == EAGAIN && mono_ms() < end);
	return n;
}

/* Whether the transport closed fd (end of stream or reset). */
static bool raw_closed(struct env *e, int fd, int ms)
{
	char buf[256];
	ssize_t n = raw_wait(e, fd, buf, sizeof(buf), ms);
	return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE));
}

/* A TCP socket bound to a free loopback port, listening with backlog
 * (or, backlog < 0, closed again: a port nobody listens on); to gets its
 * address. */
static void loopback_port(struct env *e, int backlog, struct sip_peer *to)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
	if (backlog < 0) {
		close(s);
	} else {
		assert_int_equal(listen(s, backlog), 0);
		e->raw[e->nraw++] = s;
	}
	uint16_t port = ntohs(sin.sin_port);
	assert_int_equal(sip_peer_from_numeric(to, SIP_TP_TCP, "127.0.0.1", 9, port), 0);
}

/* ---- UDP -------------------------------------------------------------- */

static void udp_echo(void **state, const char *host)
{
	struct env *e = *state;
	char hp[64], msg[1024];
	snprintf(hp, sizeof(hp), "%s:0", host);
	side_open(e, &e->a, NULL);
	side_open(e, &e->b, NULL);
	int la = listen_on(&e->a, SIP_TP_UDP, hp);
	int lb = listen_on(&e->b, SIP_TP_UDP, hp);
	e->b.echo = true;
	struct sip_peer to = peer_of(&e->b, lb);
	size_t n = request(msg, sizeof(msg), 7, 10);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->a.n == 1, WAIT_MS);
	assert_int_equal(e->b.n, 1);
	assert_int_equal(e->b.last_len, n);
	assert_memory_equal(e->b.last, msg, n);
	/* the request came from a's listening port, the answer from b's */
	assert_int_equal(sip_peer_port(&e->b.from), sip_tp_local_port(e->a.tp, la));
	assert_int_equal(e->b.from.transport, SIP_TP_UDP);
	assert_int_equal(e->b.from.conn_id, sip_tp_listener_addr(e->b.tp, lb)->conn_id);
	assert_int_equal(e->a.n, 1);
	assert_int_equal(sip_peer_port(&e->a.from), sip_tp_local_port(e->b.tp, lb));
	assert_non_null(memmem(e->a.last, e->a.last_len, "SIP/2.0 200 OK", 14));
	assert_int_equal(stats(&e->a).tx_messages, 1);
	assert_int_equal(stats(&e->b).rx_messages, 1);
}

static void test_udp_echo_v4(void **state) { udp_echo(state, "127.0.0.1"); }
static void test_udp_echo_v6(void **state) { udp_echo(state, "[::1]"); }

static void test_udp_reply_from_arrival_listener(void **state)
{
	struct env *e = *state;
	char msg[1024];
	side_open(e, &e->a, NULL);
	side_open(e, &e->b, NULL);
	int a1 = listen_on(&e->a, SIP_TP_UDP, "127.0.0.1:0");
	int a2 = listen_on(&e->a, SIP_TP_UDP, "127.0.0.1:0");
	listen_on(&e->b, SIP_TP_UDP, "127.0.0.1:0");
	e->a.echo = true;
	size_t n = request(msg, sizeof(msg), 1, 0);
	for (int i = 0; i < 2; i++) {
		int l = i ? a1 : a2; /* the second listener first: not the default */
		struct sip_peer to = peer_of(&e->a, l);
		assert_int_equal(sip_tp_send(e->b.tp, &to, msg, n), 0);
		RUN_UNTIL(e->loop, e->b.n == i + 1, WAIT_MS);
		assert_int_equal(e->b.n, i + 1);
		assert_int_equal(e->a.from.conn_id, sip_tp_listener_addr(e->a.tp, l)->conn_id);
		assert_int_equal(sip_peer_port(&e->b.from), sip_tp_local_port(e->a.tp, l));
	}
	assert_true(sip_tp_listener_addr(e->a.tp, a1)->conn_id !=
		    sip_tp_listener_addr(e->a.tp, a2)->conn_id);
}

static void test_udp_burst_batched(void **state)
{
	struct env *e = *state;
	char msg[1024];
	side_open(e, &e->a, NULL);
	side_open(e, &e->b, NULL);
	listen_on(&e->a, SIP_TP_UDP, "127.0.0.1:0");
	int lb = listen_on(&e->b, SIP_TP_UDP, "127.0.0.1:0");
	struct sip_peer to = peer_of(&e->b, lb);
	long want = 0;
	for (int i = 1; i <= 200; i++) {
		size_t n = request(msg, sizeof(msg), i, 100);
		assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
		want += i;
	}
	int callbacks = 0;
	uint64_t end = mono_ms() + WAIT_MS;
	while (e->b.n < 200 && mono_ms() < end)
		callbacks += ev_run_once(e->loop, 5);
	assert_int_equal(e->b.n, 200);
	assert_int_equal(e->b.seq_sum, want);
	/* 32 datagrams per recvmmsg, several batches per wake-up */
	assert_true(callbacks <= 10);
	assert_int_equal(stats(&e->b).rx_dropped_oversize, 0);
}

static void test_udp_oversize_dropped(void **state)
{
	struct env *e = *state;
	char msg[2048];
	struct sip_tp_opts small = {.max_message = 1000};
	side_open(e, &e->a, NULL);
	side_open(e, &e->b, &small);
	listen_on(&e->a, SIP_TP_UDP, "127.0.0.1:0");
	int lb = listen_on(&e->b, SIP_TP_UDP, "127.0.0.1:0");
	struct sip_peer to = peer_of(&e->b, lb);
	size_t big = request(msg, sizeof(msg), 1, 1500);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, big), 0);
	size_t body = 1000 - request(msg, sizeof(msg), 2, 0), exact;
	while ((exact = request(msg, sizeof(msg), 2, body)) > 1000)
		body -= exact - 1000; /* exactly max_message, whatever Content-Length's digits */
	assert_int_equal(exact, 1000);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, exact), 0);
	assert_int_equal(sip_tp_send(e->a.tp, &to, "\r\n\r\n", 4), 0); /* keep-alive: ignored */
	RUN_UNTIL(e->loop, e->b.n == 1, WAIT_MS);
	run_for(e->loop, 20);
	assert_int_equal(e->b.n, 1);
	assert_int_equal(e->b.last_len, 1000);
	assert_int_equal(stats(&e->b).rx_dropped_oversize, 1);
}

/* ---- TCP -------------------------------------------------------------- */

/* b listens on TCP; returns the listener. */
static int tcp_server(struct env *e, const struct sip_tp_opts *o)
{
	side_open(e, &e->b, o);
	return listen_on(&e->b, SIP_TP_TCP, "127.0.0.1:0");
}

static void test_tcp_round_trip_same_connection(void **state)
{
	struct env *e = *state;
	char msg[1024];
	int lb = tcp_server(e, NULL);
	side_open(e, &e->a, NULL); /* no listener: an answer can only come back on the connection */
	e->b.echo = true;
	struct sip_peer to = peer_of(&e->b, lb);
	size_t n = request(msg, sizeof(msg), 1, 5);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->a.n == 1, WAIT_MS);
	assert_int_equal(e->b.n, 1);
	assert_memory_equal(e->b.last, msg, n);
	assert_int_equal(e->b.from.transport, SIP_TP_TCP);
	assert_true(e->b.from.conn_id != 0);
	assert_int_equal(e->b.echo_failures, 0);
	assert_int_equal(e->a.n, 1);
	assert_true(e->a.from.conn_id != 0);
	assert_int_equal(sip_peer_port(&e->a.from), sip_tp_local_port(e->b.tp, lb));
	/* the second request reuses a's connection, and so does b's answer */
	n = request(msg, sizeof(msg), 2, 0);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->a.n == 2, WAIT_MS);
	assert_int_equal(e->a.n, 2);
	struct sip_tp_stats sa = stats(&e->a), sb = stats(&e->b);
	assert_int_equal(sa.conns_open, 1);
	assert_int_equal(sb.conns_open, 1);
	assert_int_equal(sb.conns_accepted, 1);
	assert_int_equal(sb.tx_messages, 2);
	assert_int_equal(sa.rx_messages, 2);
	/* conn_ids are never reused: a new connection gets a new one */
	uint64_t first = e->b.from.conn_id;
	sip_tp_free(e->a.tp);
	e->a.tp = NULL;
	side_open(e, &e->a, NULL);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->a.n == 3, WAIT_MS);
	assert_int_equal(e->a.n, 3);
	assert_true(e->b.from.conn_id != first);
	RUN_UNTIL(e->loop, stats(&e->b).conns_open == 1, WAIT_MS);
	assert_int_equal(stats(&e->b).conns_open, 1); /* the old one noticed its end */
}

static void test_tcp_two_messages_one_write(void **state)
{
	struct env *e = *state;
	char two[2048];
	int lb = tcp_server(e, NULL);
	size_t n = request(two, sizeof(two), 1, 3);
	n += request(two + n, sizeof(two) - n, 2, 0);
	int fd = raw_connect(e, &e->b, lb);
	raw_send(fd, two, n);
	RUN_UNTIL(e->loop, e->b.n == 2, WAIT_MS);
	assert_int_equal(e->b.n, 2);
	assert_int_equal(e->b.seq_sum, 3);
	assert_int_equal(stats(&e->b).rx_bytes, n);
}

static void test_tcp_byte_by_byte(void **state)
{
	struct env *e = *state;
	char msg[4096];
	int lb = tcp_server(e, NULL);
	/* over FRAME_ALWAYS, so the header-end search and the length hint
	 * both run; then a second message split in two */
	size_t n = request(msg, sizeof(msg), 1, 1200);
	int fd = raw_connect(e, &e->b, lb);
	for (size_t i = 0; i < n; i++) {
		raw_send(fd, msg + i, 1);
		RUN_UNTIL(e->loop, stats(&e->b).rx_bytes == i + 1, WAIT_MS);
		assert_int_equal(stats(&e->b).rx_bytes, i + 1);
		assert_int_equal(e->b.n, i + 1 == n);
	}
	assert_int_equal(e->b.last_len, n);
	assert_memory_equal(e->b.last, msg, n);
	n = request(msg, sizeof(msg), 2, 2000);
	raw_send(fd, msg, 1500);
	run_for(e->loop, 10);
	assert_int_equal(e->b.n, 1);
	raw_send(fd, msg + 1500, n - 1500);
	RUN_UNTIL(e->loop, e->b.n == 2, WAIT_MS);
	assert_int_equal(e->b.n, 2);
	assert_int_equal(e->b.last_len, n);
	assert_memory_equal(e->b.last, msg, n);
	/* a header section longer than FRAME_ALWAYS, in 7-byte pieces, with a
	 * third message right behind the second */
	char pad[2100];
	memset(pad, 'p', sizeof(pad));
	int h = snprintf(msg, sizeof(msg), "MESSAGE sip:b@vocal.test SIP/2.0\r\nX-Pad: %.*s\r\n"
			 "CSeq: 3 MESSAGE\r\nContent-Length: 300\r\n\r\n", (int)sizeof(pad), pad);
	memset(msg + h, 'b', 300);
	n = (size_t)h + 300;
	size_t both = n + request(msg + n, sizeof(msg) - n, 4, 0);
	uint64_t before = stats(&e->b).rx_bytes;
	for (size_t i = 0; i < both; i += 7) {
		size_t k = both - i < 7 ? both - i : 7;
		raw_send(fd, msg + i, k);
		RUN_UNTIL(e->loop, stats(&e->b).rx_bytes == before + i + k, WAIT_MS);
		assert_int_equal(e->b.n, 2 + (i + k >= n) + (i + k == both));
	}
	assert_int_equal(e->b.n, 4);
	assert_int_equal(e->b.seq_sum, 1 + 2 + 3 + 4);
	assert_int_equal(stats(&e->b).rx_framing_errors, 0);
}

static void test_tcp_keepalive_ping_pong(void **state)
{
	struct env *e = *state;
	char msg[1024], buf[64];
	int lb = tcp_server(e, NULL);
	int fd = raw_connect(e, &e->b, lb);
	raw_send(fd, "\r\n\r\n", 4); /* RFC 5626 ping */
	ssize_t got = raw_wait(e, fd, buf, sizeof(buf), WAIT_MS);
	assert_int_equal(got, 2);
	assert_memory_equal(buf, "\r\n", 2);
	/* a single CRLF (RFC 3261 keep-alive) before a message: skipped, no pong */
	size_t n = request(msg, sizeof(msg), 1, 0);
	raw_send(fd, "\r\n", 2);
	raw_send(fd, msg, n);
	RUN_UNTIL(e->loop, e->b.n == 1, WAIT_MS);
	assert_int_equal(e->b.n, 1);
	assert_int_equal(e->b.last_len, n);
	raw_send(fd, "\r\n", 2);
	got = raw_wait(e, fd, buf, sizeof(buf), 50);
	assert_true(got < 0 && errno == EAGAIN);
	/* a ping split across two segments is still one ping */
	raw_send(fd, "\r\n", 2);
	got = raw_wait(e, fd, buf, sizeof(buf), WAIT_MS);
	assert_int_equal(got, 2);
	assert_int_equal(stats(&e->b).conns_open, 1);
	assert_int_equal(stats(&e->b).rx_framing_errors, 0);
}

static void test_tcp_framing_errors_close(void **state)
{
	struct env *e = *state;
	struct sip_tp_opts o = {.max_message = 2000};
	int lb = tcp_server(e, &o);
#define RL "OPTIONS sip:b@vocal.test SIP/2.0\r\n"
	static const char *const bad[] = {
		RL "Call-ID: 1@x\r\n\r\n",                  /* no Content-Length */
		RL "Content-Length: -1\r\n\r\n",            /* negative */
		RL "Content-Length: 0\r\nl: 0\r\n\r\n",     /* two */
		RL "Content-Length: 5000\r\n\r\n",          /* over max_message */
	};
#undef RL
	char msg[1024];
	size_t good = request(msg, sizeof(msg), 1, 0);
	for (size_t i = 0; i < 4; i++) {
		int fd = raw_connect(e, &e->b, lb);
		raw_send(fd, msg, good); /* a good message first: the fault comes later */
		raw_send(fd, bad[i], strlen(bad[i]));
		assert_true(raw_closed(e, fd, WAIT_MS));
		assert_int_equal(stats(&e->b).rx_framing_errors, i + 1);
		assert_int_equal(e->b.n, (int)i + 1);
	}
	/* a long header section without Content-Length, in pieces */
	char slow[1500];
	int h = snprintf(slow, sizeof(slow), "OPTIONS sip:b@vocal.test SIP/2.0\r\nX-Pad: ");
	memset(slow + h, 'p', sizeof(slow) - (size_t)h - 4);
	memcpy(slow + sizeof(slow) - 4, "\r\n\r\n", 4);
	int fd = raw_connect(e, &e->b, lb);
	for (size_t i = 0; i < sizeof(slow); i += 500) {
		raw_send(fd, slow + i, 500);
		run_for(e->loop, 5);
	}
	assert_true(raw_closed(e, fd, WAIT_MS));
	assert_int_equal(stats(&e->b).rx_framing_errors, 5);
	/* headers that never end: closed when they reach max_message */
	fd = raw_connect(e, &e->b, lb);
	char junk[512];
	memset(junk, 'A', sizeof(junk));
	for (int i = 0; i < 4; i++) {
		raw_send(fd, junk, sizeof(junk));
		run_for(e->loop, 5);
	}
	assert_true(raw_closed(e, fd, WAIT_MS));
	assert_int_equal(stats(&e->b).rx_framing_errors, 6);
	assert_int_equal(stats(&e->b).conns_open, 0);
}

static void test_tcp_per_ip_limit(void **state)
{
	struct env *e = *state;
	struct sip_tp_opts o = {.max_conns_per_ip = 2};
	int lb = tcp_server(e, &o);
	int fd1 = raw_connect(e, &e->b, lb);
	int fd2 = raw_connect(e, &e->b, lb);
	RUN_UNTIL(e->loop, stats(&e->b).conns_accepted == 2, WAIT_MS);
	int fd3 = raw_connect(e, &e->b, lb);
	assert_true(raw_closed(e, fd3, WAIT_MS));
	struct sip_tp_stats st = stats(&e->b);
	assert_int_equal(st.conns_accepted, 2);
	assert_int_equal(st.conns_refused_limit, 1);
	assert_int_equal(st.conns_open, 2);
	char msg[512];
	size_t n = request(msg, sizeof(msg), 1, 0);
	raw_send(fd1, msg, n);
	raw_send(fd2, msg, n);
	RUN_UNTIL(e->loop, e->b.n == 2, WAIT_MS);
	assert_int_equal(e->b.n, 2);
	/* a slot freed is a slot again */
	close(fd1);
	e->raw[0] = -1;
	RUN_UNTIL(e->loop, stats(&e->b).conns_open == 1, WAIT_MS);
	int fd4 = raw_connect(e, &e->b, lb);
	raw_send(fd4, msg, n);
	RUN_UNTIL(e->loop, e->b.n == 3, WAIT_MS);
	assert_int_equal(e->b.n, 3);
	assert_int_equal(stats(&e->b).conns_refused_limit, 1);
}

static void test_tcp_total_limit(void **state)
{
	struct env *e = *state;
	struct sip_tp_opts o = {.max_conns = 2};
	int lb = tcp_server(e, &o);
	raw_connect(e, &e->b, lb);
	raw_connect(e, &e->b, lb);
	RUN_UNTIL(e->loop, stats(&e->b).conns_accepted == 2, WAIT_MS);
	int fd3 = raw_connect(e, &e->b, lb);
	assert_true(raw_closed(e, fd3, WAIT_MS));
	assert_int_equal(stats(&e->b).conns_refused_limit, 1);
	assert_int_equal(stats(&e->b).conns_open, 2);
	/* outgoing connections count too: b cannot open a third */
	char msg[512];
	size_t n = request(msg, sizeof(msg), 1, 0);
	struct sip_peer to = peer_of(&e->b, lb);
	assert_int_equal(sip_tp_send(e->b.tp, &to, msg, n), -1);
	assert_int_equal(stats(&e->b).send_errors, 1);
}

static void test_tcp_idle_timeout(void **state)
{
	struct env *e = *state;
	struct sip_tp_opts o = {.idle_timeout_ms = 150};
	int lb = tcp_server(e, &o);
	int fd = raw_connect(e, &e->b, lb);
	char msg[512];
	size_t n = request(msg, sizeof(msg), 1, 0);
	/* traffic keeps it open past the timeout... */
	for (int i = 0; i < 4; i++) {
		raw_send(fd, msg, n);
		run_for(e->loop, 60);
	}
	assert_int_equal(e->b.n, 4);
	assert_int_equal(stats(&e->b).conns_open, 1);
	/* ...silence closes it */
	uint64_t t0 = mono_ms();
	assert_true(raw_closed(e, fd, WAIT_MS));
	uint64_t took = mono_ms() - t0;
	assert_true(took >= 50 && took < 1000);
	assert_int_equal(stats(&e->b).conns_closed_idle, 1);
	assert_int_equal(stats(&e->b).conns_open, 0);
}

static void test_tcp_partial_timeout(void **state)
{
	struct env *e = *state;
	struct sip_tp_opts o = {.partial_timeout_ms = 150, .idle_timeout_ms = 5000};
	int lb = tcp_server(e, &o);
	char msg[2048];
	size_t n = request(msg, sizeof(msg), 1, 100);
	/* a peer that trickles a byte now and then is still slow */
	int fd = raw_connect(e, &e->b, lb);
	raw_send(fd, msg, n / 2);
	uint64_t t0 = mono_ms();
	for (int i = 0; i < 5 && mono_ms() - t0 < 100; i++) {
		raw_send(fd, msg + n / 2 + (size_t)i, 1);
		run_for(e->loop, 15);
	}
	assert_true(raw_closed(e, fd, WAIT_MS));
	uint64_t took = mono_ms() - t0;
	assert_true(took >= 100 && took < 1000);
	struct sip_tp_stats st = stats(&e->b);
	assert_int_equal(st.conns_closed_slow, 1);
	assert_int_equal(st.conns_closed_idle, 0);
	assert_int_equal(e->b.n, 0);
	/* a silent connection that started nothing is left to the idle timer */
	fd = raw_connect(e, &e->b, lb);
	run_for(e->loop, 250);
	assert_int_equal(stats(&e->b).conns_open, 1);
}

static void test_tcp_connect_refused_reported(void **state)
{
	struct env *e = *state;
	side_open(e, &e->a, NULL);
	struct sip_peer to;
	loopback_port(e, -1, &to);
	char msg[512];
	size_t n = request(msg, sizeof(msg), 1, 0);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0); /* queued until connected */
	assert_int_equal(e->a.errors, 0);                        /* never from inside send */
	RUN_UNTIL(e->loop, e->a.errors == 1, WAIT_MS);
	assert_int_equal(e->a.errors, 1);
	assert_true(sip_peer_equal(&e->a.err_peer, &to));
	assert_int_equal(stats(&e->a).conns_open, 0);
	assert_true(stats(&e->a).send_errors >= 1);
}

static void test_tcp_connect_timeout_reported(void **state)
{
	struct env *e = *state;
	struct sip_tp_opts o = {.partial_timeout_ms = 150};
	side_open(e, &e->a, &o);
	/* a listener whose accept queue is full: the kernel drops further
	 * SYNs, so a connect stays pending */
	struct sip_peer to;
	loopback_port(e, 0, &to);
	for (int i = 0; i < 2; i++) {
		int f = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		connect(f, (const struct sockaddr *)&to.addr, to.addrlen);
		e->raw[e->nraw++] = f;
	}
	char msg[512];
	size_t n = request(msg, sizeof(msg), 1, 0);
	uint64_t t0 = mono_ms();
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->a.errors == 1, WAIT_MS);
	assert_int_equal(e->a.errors, 1);
	assert_true(mono_ms() - t0 >= 100);
	assert_int_equal(stats(&e->a).conns_open, 0);
}

static void test_tcp_peer_not_reading_is_cut(void **state)
{
	struct env *e = *state;
	struct sip_tp_opts o = {.max_queued = 64 * 1024};
	side_open(e, &e->a, &o);
	/* a listener nobody accepts from: the kernel completes the
	 * connection, nobody ever reads it */
	struct sip_peer to;
	loopback_port(e, 4, &to);
	static char msg[16384];
	size_t n = request(msg, sizeof(msg), 1, 16000);
	int i, r = 0;
	for (i = 0; i < 4000 && r == 0; i++) {
		r = sip_tp_send(e->a.tp, &to, msg, n);
		ev_run_once(e->loop, 0);
	}
	assert_int_equal(r, -1);
	RUN_UNTIL(e->loop, e->a.errors == 1, WAIT_MS);
	assert_int_equal(e->a.errors, 1);
	assert_int_equal(stats(&e->a).conns_open, 0);
}

/* Runs both loops until cond holds or ms pass. */
#define RUN_BOTH_UNTIL(e, cond, ms)                                \
	do {                                                       \
		uint64_t end_ = mono_ms() + (ms);                  \
		while (!(cond) && mono_ms() < end_) {              \
			ev_run_once((e)->loop, 1);                 \
			ev_run_once((e)->loop2, 1);                \
		}                                                  \
	} while (0)

/* b on a loop of its own stops reading while a sends megabytes: a's queue
 * takes what the kernel does not, writes partially as b drains, and every
 * byte arrives in order. */
static void backpressure(void **state, enum sip_transport t)
{
	struct env *e = *state;
	e->loop2 = ev_loop_new();
	assert_non_null(e->loop2);
	struct sip_tp_opts so = t == SIP_TP_TLS ? tls_server_opts : (struct sip_tp_opts){0};
	struct sip_tp_opts co = t == SIP_TP_TLS ? tls_client_opts : (struct sip_tp_opts){0};
	co.max_queued = 32u << 20;
	side_open_on(e->loop2, &e->b, &so);
	int lb = listen_on(&e->b, t, "127.0.0.1:0");
	side_open(e, &e->a, &co);
	struct sip_peer to = peer_of(&e->b, lb);
	static char msg[20000];
	size_t n = request(msg, sizeof(msg), 1, 100);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_BOTH_UNTIL(e, e->b.n == 1, WAIT_MS);
	assert_int_equal(e->b.n, 1);
	long want = 1;
	for (int i = 2; i <= 400; i++) {
		n = request(msg, sizeof(msg), i, 16000 + (size_t)i);
		assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
		want += i;
		ev_run_once(e->loop, 0); /* a writes what it can; b sleeps */
	}
	RUN_BOTH_UNTIL(e, e->b.n == 400, 3 * WAIT_MS);
	assert_int_equal(e->b.n, 400);
	assert_int_equal(e->b.seq_sum, want);
	assert_int_equal(e->b.last_len, n);
	assert_memory_equal(e->b.last, msg, n);
	struct sip_tp_stats sa = stats(&e->a), sb = stats(&e->b);
	assert_int_equal(sa.conns_open, 1);
	assert_int_equal(sa.send_errors, 0);
	assert_int_equal(sb.rx_framing_errors, 0);
	assert_int_equal(sa.tx_bytes, sb.rx_bytes);
	assert_int_equal(e->a.errors, 0);
}

/* ---- TLS -------------------------------------------------------------- */

static void test_tcp_backpressure(void **state) { backpressure(state, SIP_TP_TCP); }
static void test_tls_backpressure(void **state) { backpressure(state, SIP_TP_TLS); }

static int tls_server(struct env *e, const struct sip_tp_opts *o)
{
	side_open(e, &e->b, o ? o : &tls_server_opts);
	return listen_on(&e->b, SIP_TP_TLS, "127.0.0.1:0");
}

static void test_tls_round_trip_verified(void **state)
{
	struct env *e = *state;
	char msg[4096];
	int lb = tls_server(e, NULL);
	side_open(e, &e->a, &tls_client_opts);
	e->b.echo = true;
	struct sip_peer to = peer_of(&e->b, lb);
	size_t n = request(msg, sizeof(msg), 1, 3000);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->a.n == 1, WAIT_MS);
	assert_int_equal(e->b.n, 1);
	assert_int_equal(e->b.last_len, n);
	assert_memory_equal(e->b.last, msg, n);
	assert_int_equal(e->b.from.transport, SIP_TP_TLS);
	assert_int_equal(e->a.n, 1);
	assert_int_equal(e->a.from.transport, SIP_TP_TLS);
	/* again, on the same connection */
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->a.n == 2, WAIT_MS);
	assert_int_equal(e->a.n, 2);
	struct sip_tp_stats sa = stats(&e->a), sb = stats(&e->b);
	assert_int_equal(sa.conns_open, 1);
	assert_int_equal(sb.conns_accepted, 1);
	assert_int_equal(sa.tls_handshake_failures + sb.tls_handshake_failures, 0);
	assert_int_equal(e->a.errors, 0);
}

static void test_tls_ipv6(void **state)
{
	struct env *e = *state;
	char msg[512];
	side_open(e, &e->b, &tls_server_opts);
	int lb = listen_on(&e->b, SIP_TP_TLS, "[::1]:0");
	side_open(e, &e->a, &tls_client_opts); /* the certificate names ::1 too */
	struct sip_peer to = peer_of(&e->b, lb);
	size_t n = request(msg, sizeof(msg), 1, 0);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->b.n == 1, WAIT_MS);
	assert_int_equal(e->b.n, 1);
	assert_int_equal(e->b.from.addr.ss_family, AF_INET6);
	assert_int_equal(e->a.errors, 0);
}

static void test_tls_wrong_ca_fails(void **state)
{
	struct env *e = *state;
	char msg[512];
	int lb = tls_server(e, NULL);
	struct sip_tp_opts o = {.tls_ca = TLS_DIR "other-ca.pem", .verify_servers = true};
	side_open(e, &e->a, &o);
	struct sip_peer to = peer_of(&e->b, lb);
	size_t n = request(msg, sizeof(msg), 1, 0);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->a.errors == 1 && stats(&e->b).conns_open == 0, WAIT_MS);
	assert_int_equal(e->a.errors, 1);
	assert_true(sip_peer_equal(&e->a.err_peer, &to));
	assert_int_equal(stats(&e->a).tls_handshake_failures, 1);
	assert_int_equal(stats(&e->a).conns_open, 0);
	assert_int_equal(stats(&e->b).conns_open, 0);
	assert_int_equal(e->b.n, 0);
}

static void test_tls_server_name(void **state)
{
	struct env *e = *state;
	char msg[512];
	int lb = tls_server(e, NULL);
	side_open(e, &e->a, &tls_client_opts);
	struct sip_peer to = peer_of(&e->b, lb);
	size_t n = request(msg, sizeof(msg), 1, 0);
	/* the certificate names localhost: a connection for that name works */
	assert_int_equal(sip_tp_send_named(e->a.tp, &to, "localhost", msg, n), 0);
	RUN_UNTIL(e->loop, e->b.n == 1, WAIT_MS);
	assert_int_equal(e->b.n, 1);
	/* a different name needs its own connection, and fails */
	assert_int_equal(sip_tp_send_named(e->a.tp, &to, "sip.example.com", msg, n), 0);
	RUN_UNTIL(e->loop, e->a.errors == 1, WAIT_MS);
	assert_int_equal(e->a.errors, 1);
	assert_int_equal(stats(&e->a).tls_handshake_failures, 1);
	/* the good one is still there and reused, named or not */
	assert_int_equal(sip_tp_send_named(e->a.tp, &to, "LOCALHOST", msg, n), 0);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->b.n == 3, WAIT_MS);
	assert_int_equal(e->b.n, 3);
	assert_int_equal(stats(&e->b).conns_accepted, 2);
	assert_int_equal(stats(&e->a).conns_open, 1);
}

static void test_tls_garbage_closes_only_that_connection(void **state)
{
	struct env *e = *state;
	char msg[512];
	int lb = tls_server(e, NULL);
	side_open(e, &e->a, &tls_client_opts);
	struct sip_peer to = peer_of(&e->b, lb);
	size_t n = request(msg, sizeof(msg), 1, 0);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->b.n == 1, WAIT_MS);
	assert_int_equal(e->b.n, 1);
	/* plain SIP, then random bytes, to the TLS port */
	int fd = raw_connect(e, &e->b, lb);
	raw_send(fd, msg, n);
	assert_true(raw_closed(e, fd, WAIT_MS));
	fd = raw_connect(e, &e->b, lb);
	unsigned char junk[3000];
	unsigned x = 12345;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
	junk[0] = 0x16; /* looks like a handshake record, to get further in */
	raw_send(fd, junk, sizeof(junk));
	assert_true(raw_closed(e, fd, WAIT_MS));
	assert_int_equal(stats(&e->b).tls_handshake_failures, 2);
	assert_int_equal(e->b.n, 1);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->b.n == 2, WAIT_MS);
	assert_int_equal(e->b.n, 2);
	assert_int_equal(stats(&e->b).conns_open, 1);
	assert_int_equal(e->a.errors, 0);
}

static void test_tls_handshake_timeout(void **state)
{
	struct env *e = *state;
	struct sip_tp_opts o = tls_server_opts;
	o.partial_timeout_ms = 150;
	int lb = tls_server(e, &o);
	int fd = raw_connect(e, &e->b, lb);
	static const unsigned char hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
	raw_send(fd, hello_start, sizeof(hello_start)); /* a ClientHello that never ends */
	uint64_t t0 = mono_ms();
	assert_true(raw_closed(e, fd, WAIT_MS));
	assert_true(mono_ms() - t0 >= 100);
	assert_int_equal(stats(&e->b).conns_closed_slow, 1);
	assert_int_equal(stats(&e->b).conns_open, 0);
}

static void test_tls_client_certificate_required(void **state)
{
	struct env *e = *state;
	char msg[512];
	struct sip_tp_opts so = tls_server_opts;
	so.tls_ca = TLS_DIR "ca.pem";
	so.verify_clients = true;
	int lb = tls_server(e, &so);
	struct sip_peer to = peer_of(&e->b, lb);
	size_t n = request(msg, sizeof(msg), 1, 0);
	/* no client certificate: the server refuses */
	side_open(e, &e->a, &tls_client_opts);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, stats(&e->b).tls_handshake_failures == 1 && stats(&e->a).conns_open == 0,
		  WAIT_MS);
	assert_int_equal(stats(&e->b).tls_handshake_failures, 1);
	assert_int_equal(stats(&e->a).conns_open, 0);
	assert_int_equal(e->b.n, 0);
	/* with one the CA signed: accepted */
	sip_tp_free(e->a.tp);
	e->a.tp = NULL;
	struct sip_tp_opts co = tls_client_opts;
	co.tls_cert = TLS_DIR "server.pem";
	co.tls_key = TLS_DIR "server.key";
	side_open(e, &e->a, &co);
	assert_int_equal(sip_tp_send(e->a.tp, &to, msg, n), 0);
	RUN_UNTIL(e->loop, e->b.n == 1, WAIT_MS);
	assert_int_equal(e->b.n, 1);
}

/* IPv6 sockets are IPv6-only (so that "[::]" and "*" can share a port):
 * they refuse an IPv4-mapped address. The tests stay off the wildcards. */
static void test_v6_only(void **state)
{
	struct env *e = *state;
	char err[256];
	side_open(e, &e->a, NULL);
	assert_int_equal(sip_tp_listen(e->a.tp, SIP_TP_TCP, "[::ffff:127.0.0.1]:0", err, sizeof(err)),
			 -1);
	assert_int_equal(sip_tp_listen(e->a.tp, SIP_TP_UDP, "[::ffff:127.0.0.1]:0", err, sizeof(err)),
			 -1);
	listen_on(&e->a, SIP_TP_TCP, "[::1]:0");
}

static void test_options_and_errors(void **state)
{
	struct env *e = *state;
	char err[256];
	struct ev_loop *loop = e->loop;
	struct sip_tp_opts o = {.tls_cert = TLS_DIR "missing.pem", .tls_key = TLS_DIR "server.key"};
	assert_null(sip_tp_new(loop, &o, on_rx, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "missing.pem"));
	o = (struct sip_tp_opts){.tls_cert = TLS_DIR "server.pem", .tls_key = TLS_DIR "ca.pem"};
	assert_null(sip_tp_new(loop, &o, on_rx, NULL, err, sizeof(err)));
	side_open(e, &e->a, NULL);
	static const char *const bad[] = {"127.0.0.1", "::1:5060", "[::1]5060", "host:5060",
					  "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:5x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sip_tp_listen(e->a.tp, SIP_TP_UDP, bad[i], err, sizeof(err)), -1);
	assert_int_equal(sip_tp_listen(e->a.tp, SIP_TP_TLS, "127.0.0.1:0", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tls_cert"));
	assert_null(sip_tp_listener_addr(e->a.tp, 0));
	/* no UDP listener of the family: cannot send */
	struct sip_peer to;
	assert_int_equal(sip_peer_from_numeric(&to, SIP_TP_UDP, "::1", 3, 5060), 0);
	assert_int_equal(sip_tp_send(e->a.tp, &to, "x", 1), -1);
	int l = listen_on(&e->a, SIP_TP_UDP, "127.0.0.1:0");
	assert_int_equal(sip_tp_listener_addr(e->a.tp, l)->addr.ss_family, AF_INET);
	assert_int_equal(sip_tp_send(e->a.tp, &to, "x", 1), -1);
	assert_int_equal(stats(&e->a).send_errors, 2);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_udp_echo_v4),
		T(test_udp_echo_v6),
		T(test_udp_reply_from_arrival_listener),
		T(test_udp_burst_batched),
		T(test_udp_oversize_dropped),
		T(test_tcp_round_trip_same_connection),
		T(test_tcp_two_messages_one_write),
		T(test_tcp_byte_by_byte),
		T(test_tcp_keepalive_ping_pong),
		T(test_tcp_framing_errors_close),
		T(test_tcp_per_ip_limit),
		T(test_tcp_total_limit),
		T(test_tcp_idle_timeout),
		T(test_tcp_partial_timeout),
		T(test_tcp_connect_refused_reported),
		T(test_tcp_connect_timeout_reported),
		T(test_tcp_peer_not_reading_is_cut),
		T(test_tcp_backpressure),
		T(test_tls_round_trip_verified),
		T(test_tls_backpressure),
		T(test_tls_ipv6),
		T(test_tls_wrong_ca_fails),
		T(test_tls_server_name),
		T(test_tls_garbage_closes_only_that_connection),
		T(test_tls_handshake_timeout),
		T(test_tls_client_certificate_required),
		T(test_v6_only),
		T(test_options_and_errors),
	};
	return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}
