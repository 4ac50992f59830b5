/*
 * SIP transports (RFC 3261 section 18) on the event loop.
 *
 * Memory: UDP datagrams land in one batch of buffers shared by every UDP
 * listener; stream bytes land in one scratch buffer shared by every
 * connection, so a connection owns a read buffer only while it holds part of
 * a message (at most max_message) and a write buffer only while the kernel
 * will not take its bytes (at most max_queued). What an attacker can make us
 * hold is therefore bounded by max_conns * (max_message + max_queued), plus
 * OpenSSL's record buffers, which it releases while a connection is idle.
 *
 * TLS runs over a socket BIO of our own (send with MSG_NOSIGNAL, so a peer
 * that resets cannot kill the process with SIGPIPE). Handshakes, reads and
 * writes are non-blocking; SSL_ERROR_WANT_READ/WANT_WRITE decide which
 * events the connection waits for.
 *
 * A connection is closed (fd, SSL, timers, tables) at once but its memory
 * is freed only when no callback on the stack still uses it (busy), so the
 * receive callback may send, and a send may cut the very connection it is
 * reading from. The error hook runs from a zero-delay timer, never from
 * inside sip_tp_send.
 */
#include "sip/transport.h"

#include "text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sip/msg.h"

#define UDP_BATCH 32                /* datagrams per recvmmsg */
#define UDP_ROUNDS 4                /* recvmmsg calls per wake-up */
#define UDP_RCVBUF (4 << 20)
#define READ_BUDGET (256 << 10)     /* stream bytes per wake-up, for fairness */
#define SCRATCH_MIN (64 << 10)
#define RBUF_MIN 4096
#define WBUF_MIN 4096
#define FRAME_ALWAYS 1024           /* partial messages shorter are re-framed on every read */
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100         /* out of descriptors: stop accepting this long */
#define LISTEN_BACKLOG 1024
#define MAX_NAME 255

/* TLS 1.2 suites: forward secret and AEAD only (TLS 1.3 has nothing else). */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

enum conn_state { CONN_CONNECTING, CONN_HANDSHAKE, CONN_OPEN };

enum close_why {
	CLOSE_PEER,     /* end of stream, reset, I/O error */
	CLOSE_CONNECT,  /* outgoing connect failed or timed out */
	CLOSE_TLS,      /* handshake failed */
	CLOSE_FRAMING,  /* unframeable or oversized message */
	CLOSE_IDLE,
	CLOSE_SLOW,     /* message or handshake not finished in time */
	CLOSE_QUEUE,    /* peer does not read */
	CLOSE_FREE,     /* sip_tp_free */
};

struct listener {
	struct sip_tp *tp;
	int fd;
	bool paused;
	struct sip_peer addr;       /* bound address; UDP: conn_id names the listener */
	struct ev_timer resume;
};

struct ip_slot {
	struct ip_slot *next;
	sa_family_t family;
	unsigned char addr[16];
	unsigned count;
};

struct conn {
	struct sip_tp *tp;
	struct conn *prev, *next;   /* every open connection */
	struct conn *id_next, *addr_next;
	struct sip_peer peer;       /* remote end, with conn_id */
	char *name;                 /* outgoing TLS: the server name verified */
	int fd;
	enum conn_state state;
	bool inbound, dead;
	bool hs_want_write;         /* handshake waits for EV_WRITE */
	bool read_wants_write;      /* SSL_read needs the socket writable */
	bool write_wants_read;      /* SSL_write needs the socket readable */
	unsigned busy;
	unsigned crlfs;             /* CRLFs since the last message: two are a ping */
	SSL *ssl;

	char *rbuf;                 /* part of a message, when one is pending */
	size_t rlen, rcap;
	size_t need;                /* its full length once the headers told; 0 unknown */
	size_t scan;                /* where the search for the header end resumes */

	char *wbuf;                 /* bytes the kernel did not take yet */
	size_t woff, wlen, wcap;

	uint64_t last_io;
	struct ev_timer idle, partial;
};

struct pending {
	struct pending *next;
	struct sip_peer peer;
};

struct sip_tp {
	struct ev_loop *loop;
	struct sip_tp_opts o;
	sip_tp_recv_fn recv;
	void *ctx;
	void (*on_error)(void *ctx, const struct sip_peer *peer);
	void *error_ctx;

	struct listener **listeners;
	int nlisteners;

	struct conn *conns;
	struct conn **by_id, **by_addr;
	struct ip_slot **by_ip;
	size_t mask;
	uint64_t next_id;           /* connection and listener ids; never reused */

	char *scratch;              /* stream reads, shared: see the top */
	size_t scratch_cap;

	struct mmsghdr *mm;         /* UDP batch, shared by every UDP listener */
	struct iovec *iov;
	struct sockaddr_storage *names;
	char *dgram;
	size_t dgram_cap;

	SSL_CTX *server_ctx, *client_ctx;
	BIO_METHOD *bio_method;

	struct pending *pending, **pending_tail;
	struct ev_timer notify;
	struct sip_tp_stats stats;
};

static void conn_close(struct conn *c, enum close_why why);
static int conn_flush(struct conn *c);
static void conn_read(struct conn *c);


static socklen_t sockaddr_len(sa_family_t family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static const unsigned char *addr_bytes(const struct sockaddr_storage *ss, size_t *n)
{
	if (ss->ss_family == AF_INET6) {
		*n = 16;
		return ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
	}
	*n = 4;
	return (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
}

static unsigned fnv(unsigned h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static size_t ip_hash(const struct sip_tp *tp, const struct sockaddr_storage *ss)
{
	size_t n;
	const unsigned char *a = addr_bytes(ss, &n);
	return fnv(2166136261u, a, n) & tp->mask;
}

static size_t peer_hash(const struct sip_tp *tp, const struct sip_peer *p)
{
	size_t n;
	const unsigned char *a = addr_bytes(&p->addr, &n);
	uint16_t port = sip_peer_port(p);
	unsigned char t = (unsigned char)p->transport;
	unsigned h = fnv(2166136261u, a, n);
	h = fnv(h, &port, sizeof(port));
	return fnv(h, &t, 1) & tp->mask;
}

/* ---- tables: connections by id and by address, counts by IP ------------- */

static struct conn *conn_by_id(const struct sip_tp *tp, uint64_t id)
{
	for (struct conn *c = tp->by_id[id & tp->mask]; c; c = c->id_next)
		if (c->peer.conn_id == id)
			return c;
	return NULL;
}

static struct conn *conn_by_peer(const struct sip_tp *tp, const struct sip_peer *to,
				 const char *name)
{
	for (struct conn *c = tp->by_addr[peer_hash(tp, to)]; c; c = c->addr_next)
		if (sip_peer_equal(&c->peer, to) &&
		    (!name || (c->name && strcasecmp(c->name, name) == 0)))
			return c;
	return NULL;
}

static struct ip_slot **ip_link(struct sip_tp *tp, const struct sockaddr_storage *ss)
{
	size_t n;
	const unsigned char *a = addr_bytes(ss, &n);
	struct ip_slot **p = &tp->by_ip[ip_hash(tp, ss)];
	while (*p && ((*p)->family != ss->ss_family || memcmp((*p)->addr, a, n) != 0))
		p = &(*p)->next;
	return p;
}

static struct ip_slot *ip_get(struct sip_tp *tp, const struct sockaddr_storage *ss)
{
	struct ip_slot **p = ip_link(tp, ss);
	if (!*p) {
		size_t n;
		const unsigned char *a = addr_bytes(ss, &n);
		struct ip_slot *s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		s->family = ss->ss_family;
		memcpy(s->addr, a, n);
		*p = s;
	}
	(*p)->count++;
	return *p;
}

static void ip_put(struct sip_tp *tp, const struct sockaddr_storage *ss)
{
	struct ip_slot **p = ip_link(tp, ss);
	struct ip_slot *s = *p;
	if (s && --s->count == 0) {
		*p = s->next;
		free(s);
	}
}

static void conn_link(struct conn *c)
{
	struct sip_tp *tp = c->tp;
	struct conn **b = &tp->by_id[c->peer.conn_id & tp->mask];
	c->id_next = *b;
	*b = c;
	b = &tp->by_addr[peer_hash(tp, &c->peer)];
	c->addr_next = *b;
	*b = c;
	c->next = tp->conns;
	if (tp->conns)
		tp->conns->prev = c;
	tp->conns = c;
}

static void conn_unlink(struct conn *c)
{
	struct sip_tp *tp = c->tp;
	struct conn **p = &tp->by_id[c->peer.conn_id & tp->mask];
	while (*p && *p != c)
		p = &(*p)->id_next;
	if (*p)
		*p = c->id_next;
	p = &tp->by_addr[peer_hash(tp, &c->peer)];
	while (*p && *p != c)
		p = &(*p)->addr_next;
	if (*p)
		*p = c->addr_next;
	if (c->prev)
		c->prev->next = c->next;
	else
		tp->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* ---- TLS ------------------------------------------------------------------ */

/* Our socket BIO: OpenSSL's writes with write(2), which raises SIGPIPE on a
 * connection the peer has reset. The fd is the BIO's data. */
static int bio_write(BIO *b, const char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = send(fd, buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = recv(fd, buf, (size_t)len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	if (n == 0)
		BIO_set_flags(b, BIO_FLAGS_IN_EOF); /* so OpenSSL calls it an unexpected EOF */
	return (int)n;
}

static int bio_puts(BIO *b, const char *s) { return bio_write(b, s, (int)strlen(s)); }

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	(void)ptr;
	if (cmd == BIO_CTRL_EOF)
		return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
	return cmd == BIO_CTRL_FLUSH; /* nothing is buffered here */
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int tls_fail(char *err, size_t errlen, const char *what, const char *file)
{
	char e[256] = "unknown error";
	unsigned long code = ERR_peek_last_error();
	if (code)
		ERR_error_string_n(code, e, sizeof(e));
	ERR_clear_error();
	errbuf_printf(err, errlen, "TLS: %s%s%s: %s", what, file ? " " : "", file ? file : "", e);
	return -1;
}

static SSL_CTX *tls_ctx_new(const struct sip_tp_opts *o, bool server, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		tls_fail(err, errlen, "cannot create a context", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Compression leaks secrets (CRIME); renegotiation and session
	 * resumption are state an attacker can make us keep. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	/* Writes come from our queue, which may move (realloc) between tries. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		tls_fail(err, errlen, "cipher list", NULL);
		goto fail;
	}
	if (o->tls_cert && o->tls_key) {
		if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1) {
			tls_fail(err, errlen, "certificate", o->tls_cert);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1) {
			tls_fail(err, errlen, "key", o->tls_key);
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			tls_fail(err, errlen, "key does not match the certificate", o->tls_key);
			goto fail;
		}
	}
	bool verify = server ? o->verify_clients : o->verify_servers;
	if (verify) {
		int ok = o->tls_ca ? SSL_CTX_load_verify_locations(ctx, o->tls_ca, NULL)
				   : SSL_CTX_set_default_verify_paths(ctx);
		if (ok != 1) {
			tls_fail(err, errlen, "CA", o->tls_ca ? o->tls_ca : "(system default)");
			goto fail;
		}
		SSL_CTX_set_verify(
		    ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	if (server)
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"vocal", 5);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* A name that is an IP literal ("192.0.2.1", "::1", "[::1]"), into bytes. */
static size_t ip_literal(const char *name, unsigned char out[16])
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(name);
	if (n >= 2 && name[0] == '[' && name[n - 1] == ']') {
		name++;
		n -= 2;
	}
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, name, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, buf, out) == 1)
		return 16;
	return 0;
}

static SSL *tls_new(struct sip_tp *tp, struct conn *c)
{
	SSL *ssl = SSL_new(c->inbound ? tp->server_ctx : tp->client_ctx);
	BIO *bio = BIO_new(tp->bio_method);
	if (!ssl || !bio)
		goto fail;
	BIO_set_data(bio, (void *)(intptr_t)c->fd);
	SSL_set_bio(ssl, bio, bio);
	bio = NULL;
	if (c->inbound) {
		SSL_set_accept_state(ssl);
		return ssl;
	}
	SSL_set_connect_state(ssl);
	unsigned char ip[16];
	size_t iplen = c->name ? ip_literal(c->name, ip) : 0;
	if (c->name && !iplen && SSL_set_tlsext_host_name(ssl, c->name) != 1)
		goto fail;
	if (tp->o.verify_servers) {
		/* Without a name all we know is the address we connect to. */
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		int ok;
		if (c->name && !iplen) {
			X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			ok = X509_VERIFY_PARAM_set1_host(vp, c->name, 0);
		} else if (iplen) {
			ok = X509_VERIFY_PARAM_set1_ip(vp, ip, iplen);
		} else {
			const unsigned char *a = addr_bytes(&c->peer.addr, &iplen);
			ok = X509_VERIFY_PARAM_set1_ip(vp, a, iplen);
		}
		if (ok != 1)
			goto fail;
	}
	return ssl;
fail:
	BIO_free(bio);
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

/* ---- the error hook, from the loop ----------------------------------------- */

static void on_notify(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	struct sip_tp *tp = arg;
	struct pending *p = tp->pending;
	tp->pending = NULL;
	tp->pending_tail = &tp->pending;
	while (p) {
		struct pending *next = p->next;
		if (tp->on_error)
			tp->on_error(tp->error_ctx, &p->peer);
		free(p);
		p = next;
	}
}

static void notify(struct sip_tp *tp, const struct sip_peer *peer)
{
	if (!tp->on_error)
		return;
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->peer = *peer;
	*tp->pending_tail = p;
	tp->pending_tail = &p->next;
	if (!ev_timer_active(&tp->notify))
		ev_timer_start(tp->loop, &tp->notify, 0);
}

/* ---- connections ----------------------------------------------------------- */

static void conn_update_events(struct conn *c)
{
	unsigned ev;
	if (c->state == CONN_CONNECTING)
		ev = EV_WRITE;
	else if (c->state == CONN_HANDSHAKE)
		ev = c->hs_want_write ? EV_WRITE : EV_READ;
	else
		ev = EV_READ | (((c->woff < c->wlen && !c->write_wants_read) || c->read_wants_write)
					? EV_WRITE
					: 0);
	ev_io_modify(c->tp->loop, c->fd, ev);
}

static void conn_destroy(struct conn *c)
{
	free(c->rbuf);
	free(c->wbuf);
	free(c->name);
	free(c);
}

static void conn_release(struct conn *c)
{
	if (--c->busy == 0 && c->dead)
		conn_destroy(c);
}

static void conn_close(struct conn *c, enum close_why why)
{
	if (c->dead)
		return;
	struct sip_tp *tp = c->tp;
	c->dead = true;
	switch (why) {
	case CLOSE_IDLE:
		tp->stats.conns_closed_idle++;
		break;
	case CLOSE_SLOW:
		tp->stats.conns_closed_slow++;
		break;
	case CLOSE_FRAMING:
		tp->stats.rx_framing_errors++;
		break;
	case CLOSE_TLS:
		tp->stats.tls_handshake_failures++;
		break;
	default:
		break;
	}
	if (c->woff < c->wlen && why != CLOSE_FREE) {
		tp->stats.send_errors++;
		notify(tp, &c->peer);
	}
	if (c->ssl) {
		/* A polite close_notify when we are the ones ending a working
		 * session; best effort, it must not block. */
		if (c->state == CONN_OPEN && why != CLOSE_PEER)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	ev_io_remove(tp->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	ev_timer_stop(tp->loop, &c->idle);
	ev_timer_stop(tp->loop, &c->partial);
	conn_unlink(c);
	ip_put(tp, &c->peer.addr);
	tp->stats.conns_open--;
	if (!c->busy)
		conn_destroy(c);
}

static void on_idle(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct conn *c = arg;
	/* The clock is lazy: I/O only stamps last_io, the timer checks it. */
	uint64_t due = c->last_io + c->tp->o.idle_timeout_ms, now = ev_now(loop);
	if (now < due)
		ev_timer_start(loop, t, due - now);
	else
		conn_close(c, CLOSE_IDLE);
}

static void on_partial(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	struct conn *c = arg;
	conn_close(c, c->state == CONN_CONNECTING ? CLOSE_CONNECT : CLOSE_SLOW);
}

static void on_conn_io(struct ev_loop *loop, int fd, unsigned events, void *arg);

/* Takes fd. Returns the connection, or NULL (fd closed). */
static struct conn *conn_new(struct sip_tp *tp, int fd, enum sip_transport t,
			     const struct sockaddr_storage *ss, bool inbound, const char *name)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->tp = tp;
	c->fd = fd;
	c->inbound = inbound;
	c->peer.transport = t;
	memcpy(&c->peer.addr, ss, sockaddr_len(ss->ss_family));
	c->peer.addrlen = sockaddr_len(ss->ss_family);
	if (name && !(c->name = strdup(name)))
		goto fail;
	if (t == SIP_TP_TLS && !(c->ssl = tls_new(tp, c)))
		goto fail;
	c->state = inbound ? (c->ssl ? CONN_HANDSHAKE : CONN_OPEN) : CONN_CONNECTING;
	unsigned ev = c->state == CONN_CONNECTING ? EV_WRITE : EV_READ;
	if (ev_io_add(tp->loop, fd, ev, on_conn_io, c) < 0)
		goto fail;
	if (!ip_get(tp, ss)) {
		ev_io_remove(tp->loop, fd);
		goto fail;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* SIP is request/response */
	c->peer.conn_id = ++tp->next_id;
	conn_link(c);
	tp->stats.conns_open++;
	c->last_io = ev_now(tp->loop);
	ev_timer_init(&c->idle, on_idle, c);
	ev_timer_init(&c->partial, on_partial, c);
	ev_timer_start(tp->loop, &c->idle, tp->o.idle_timeout_ms);
	if (c->state != CONN_OPEN)
		ev_timer_start(tp->loop, &c->partial, tp->o.partial_timeout_ms);
	return c;
fail:
	if (c) {
		SSL_free(c->ssl);
		free(c->name);
		free(c);
	}
	close(fd);
	return NULL;
}

static void wrote(struct conn *c, size_t n)
{
	c->tp->stats.tx_bytes += n;
	c->last_io = ev_now(c->tp->loop);
}

/* Returns the bytes written, 0 when the socket (or TLS) would block, -1
 * when the connection is broken. */
static ssize_t conn_send_raw(struct conn *c, const char *buf, size_t len)
{
	if (!c->ssl) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	}
	ERR_clear_error();
	int n = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (n > 0) {
		c->write_wants_read = false;
		return n;
	}
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_WANT_READ:
		c->write_wants_read = true;
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* Returns bytes read, 0 when nothing is there now, -1 at the end of the
 * stream or on an error. */
static ssize_t conn_recv_raw(struct conn *c, char *buf, size_t room)
{
	if (!c->ssl) {
		ssize_t n = recv(c->fd, buf, room, MSG_DONTWAIT);
		if (n > 0)
			return n;
		if (n == 0)
			return -1;
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	}
	ERR_clear_error();
	int n = SSL_read(c->ssl, buf, room > INT_MAX ? INT_MAX : (int)room);
	if (n > 0)
		return n;
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->read_wants_write = true;
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

static int queue_append(struct conn *c, const char *buf, size_t len)
{
	size_t pending = c->wlen - c->woff, max = c->tp->o.max_queued;
	if (pending > max || len > max - pending)
		return -1;
	if (c->wcap - c->wlen < len && c->woff) {
		memmove(c->wbuf, c->wbuf + c->woff, pending);
		c->woff = 0;
		c->wlen = pending;
	}
	if (c->wcap - c->wlen < len) {
		size_t cap = c->wcap ? c->wcap * 2 : WBUF_MIN;
		if (cap > max)
			cap = max;
		if (cap < c->wlen + len)
			cap = c->wlen + len;
		char *n = realloc(c->wbuf, cap);
		if (!n)
			return -1;
		c->wbuf = n;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, buf, len);
	c->wlen += len;
	return 0;
}

/* Writes what the socket takes now and queues the rest. Returns 0, or -1
 * when the connection broke or its queue would pass max_queued (both close
 * it). */
static int conn_write(struct conn *c, const char *buf, size_t len)
{
	size_t done = 0;
	if (c->state == CONN_OPEN && c->woff == c->wlen) {
		while (done < len) {
			ssize_t n = conn_send_raw(c, buf + done, len - done);
			if (n < 0) {
				conn_close(c, CLOSE_PEER);
				return -1;
			}
			if (n == 0)
				break;
			wrote(c, (size_t)n);
			done += (size_t)n;
		}
	}
	if (done < len && queue_append(c, buf + done, len - done) < 0) {
		conn_close(c, CLOSE_QUEUE);
		return -1;
	}
	conn_update_events(c);
	return 0;
}

static int conn_flush(struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = conn_send_raw(c, c->wbuf + c->woff, c->wlen - c->woff);
		if (n < 0) {
			conn_close(c, CLOSE_PEER);
			return -1;
		}
		if (n == 0)
			break;
		wrote(c, (size_t)n);
		c->woff += (size_t)n;
	}
	if (c->woff == c->wlen) {
		free(c->wbuf);
		c->wbuf = NULL;
		c->woff = c->wlen = c->wcap = 0;
	}
	conn_update_events(c);
	return 0;
}

static void conn_opened(struct conn *c)
{
	c->state = CONN_OPEN;
	ev_timer_stop(c->tp->loop, &c->partial);
	c->last_io = ev_now(c->tp->loop);
	if (conn_flush(c) < 0)
		return;
	/* The peer's first bytes may have come with the handshake's last. */
	if (c->ssl && SSL_has_pending(c->ssl))
		conn_read(c);
}

static void conn_handshake(struct conn *c)
{
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		conn_opened(c);
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->hs_want_write = false;
		conn_update_events(c);
		break;
	case SSL_ERROR_WANT_WRITE:
		c->hs_want_write = true;
		conn_update_events(c);
		break;
	default:
		conn_close(c, CLOSE_TLS);
		break;
	}
}

static void conn_connected(struct conn *c)
{
	int e = 0;
	socklen_t el = sizeof(e);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		e = errno;
	if (e) {
		conn_close(c, CLOSE_CONNECT);
		return;
	}
	/* A stale event (the fd number was another connection's earlier in
	 * this batch) must not pass for the connect's end. */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (c->ssl) {
		c->state = CONN_HANDSHAKE;
		conn_handshake(c);
	} else {
		conn_opened(c);
	}
}

/* The partial-message clock runs from a message's first byte to its last;
 * a message completed with the next one begun starts it again. */
static void partial_update(struct conn *c, bool completed)
{
	struct sip_tp *tp = c->tp;
	if (!c->rlen)
		ev_timer_stop(tp->loop, &c->partial);
	else if (completed || !ev_timer_active(&c->partial))
		ev_timer_start(tp->loop, &c->partial, tp->o.partial_timeout_ms);
}

/* Frames and delivers the messages in buf; returns the bytes used (the rest
 * is the start of a message), or -1 when the connection was closed, by a
 * fault or from the callback. *completed tells whether a message was. */
static long conn_input(struct conn *c, const char *buf, size_t len, bool *completed)
{
	struct sip_tp *tp = c->tp;
	size_t off = 0;
	*completed = false;
	while (off < len) {
		size_t skip = 0;
		long n = sip_frame_stream(buf + off, len - off, tp->o.max_message, &skip, NULL);
		off += skip;
		if (skip && c->inbound) {
			/* RFC 5626 section 4.4.1: a server answers each
			 * double-CRLF ping with a single-CRLF pong. Clients do
			 * not, so two of us can never ping-pong forever. */
			c->crlfs += (unsigned)(skip / 2);
			for (; c->crlfs >= 2; c->crlfs -= 2)
				if (conn_write(c, "\r\n", 2) < 0)
					return -1;
		}
		if (n < 0) {
			conn_close(c, CLOSE_FRAMING);
			return -1;
		}
		if (n == 0)
			break;
		c->crlfs = 0;
		*completed = true;
		tp->stats.rx_messages++;
		tp->recv(tp->ctx, buf + off, (size_t)n, &c->peer);
		if (c->dead)
			return -1;
		off += (size_t)n;
	}
	return (long)off;
}

/*
 * Whether the bytes buffered for a partial message are worth framing again.
 * Re-framing scans the headers every time, so a peer sending a large
 * message a few bytes per segment would cost us its length squared. Instead
 * we look only at new bytes for the end of the header section, then learn
 * the message's length once and wait for that many bytes.
 */
static bool frame_due(struct conn *c)
{
	struct sip_tp *tp = c->tp;
	size_t max = tp->o.max_message;
	if (c->rlen < FRAME_ALWAYS || c->rlen >= max)
		return true; /* small, or full: the framer must consume or fault */
	if (c->need)
		return c->rlen >= c->need;
	size_t start = 0;
	while (start + 1 < c->rlen && c->rbuf[start] == '\r' && c->rbuf[start + 1] == '\n')
		start += 2;
	size_t from = c->scan > start ? c->scan : start;
	const char *e = memmem(c->rbuf + from, c->rlen - from, "\r\n\r\n", 4);
	if (!e) {
		c->scan = c->rlen - 3;
		return c->rlen - start >= max; /* the framer calls that too large */
	}
	/* The framer reads only the header section, so the headers followed
	 * by max_message - hdr zeros frame as the real message would, and tell
	 * its length. */
	size_t hdr = (size_t)(e + 4 - (c->rbuf + start)), skip = 0;
	memcpy(tp->scratch, c->rbuf + start, hdr);
	memset(tp->scratch + hdr, 0, max - hdr);
	long total = sip_frame_stream(tp->scratch, max, max, &skip, NULL);
	if (total <= 0 || skip)
		return true; /* a fault: let the real framing report it */
	c->need = start + (size_t)total;
	return c->rlen >= c->need;
}

static int rbuf_reserve(struct conn *c)
{
	size_t max = c->tp->o.max_message;
	if (c->rcap - c->rlen >= RBUF_MIN || c->rcap >= max)
		return 0;
	size_t cap = c->rcap * 2;
	if (cap < c->rlen + RBUF_MIN)
		cap = c->rlen + RBUF_MIN;
	if (cap > max)
		cap = max;
	char *n = realloc(c->rbuf, cap);
	if (!n)
		return -1;
	c->rbuf = n;
	c->rcap = cap;
	return 0;
}

/* n new bytes at the end of the connection's buffer. */
static int input_buffered(struct conn *c, size_t n)
{
	bool completed = false;
	c->rlen += n;
	if (frame_due(c)) {
		long used = conn_input(c, c->rbuf, c->rlen, &completed);
		if (used < 0)
			return -1;
		if (used) {
			c->rlen -= (size_t)used;
			memmove(c->rbuf, c->rbuf + used, c->rlen);
			c->need = c->scan = 0;
		}
		if (!c->rlen) {
			free(c->rbuf);
			c->rbuf = NULL;
			c->rcap = 0;
		}
	}
	partial_update(c, completed);
	return 0;
}

/* n new bytes in the shared scratch buffer; keeps what is left over. */
static int input_scratch(struct conn *c, size_t n)
{
	struct sip_tp *tp = c->tp;
	bool completed;
	long used = conn_input(c, tp->scratch, n, &completed);
	if (used < 0)
		return -1;
	size_t rest = n - (size_t)used;
	if (rest) {
		size_t cap = rest + RBUF_MIN;
		if (cap > tp->o.max_message)
			cap = tp->o.max_message; /* rest < max_message, or framing faulted */
		if (!(c->rbuf = malloc(cap))) {
			conn_close(c, CLOSE_PEER);
			return -1;
		}
		memcpy(c->rbuf, tp->scratch + used, rest);
		c->rlen = rest;
		c->rcap = cap;
		c->need = c->scan = 0;
	}
	partial_update(c, completed);
	return 0;
}

static void conn_read(struct conn *c)
{
	struct sip_tp *tp = c->tp;
	size_t budget = READ_BUDGET;
	c->read_wants_write = false;
	for (;;) {
		bool buffered = c->rlen > 0;
		char *dst = tp->scratch;
		size_t room = tp->scratch_cap;
		if (buffered) {
			if (rbuf_reserve(c) < 0) {
				conn_close(c, CLOSE_PEER);
				return;
			}
			dst = c->rbuf + c->rlen;
			room = c->rcap - c->rlen;
		}
		ssize_t n = conn_recv_raw(c, dst, room);
		if (n < 0) {
			conn_close(c, CLOSE_PEER);
			return;
		}
		if (n == 0)
			break;
		c->last_io = ev_now(tp->loop);
		tp->stats.rx_bytes += (uint64_t)n;
		if ((buffered ? input_buffered(c, (size_t)n) : input_scratch(c, (size_t)n)) < 0)
			return;
		budget = (size_t)n < budget ? budget - (size_t)n : 0;
		/* Level-triggered epoll calls again for bytes left in the
		 * socket, but not for bytes OpenSSL already holds. */
		if (!budget && !(c->ssl && SSL_has_pending(c->ssl)))
			break;
	}
	conn_update_events(c);
}

static void on_conn_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)fd;
	struct conn *c = arg;
	c->busy++;
	if (c->state == CONN_CONNECTING) {
		conn_connected(c);
	} else if (c->state == CONN_HANDSHAKE) {
		conn_handshake(c);
	} else {
		if ((events & EV_WRITE) && c->read_wants_write)
			conn_read(c);
		if (!c->dead && (events & EV_WRITE))
			conn_flush(c);
		if (!c->dead && (events & EV_READ)) {
			conn_read(c);
			if (!c->dead && c->write_wants_read)
				conn_flush(c);
		}
	}
	conn_release(c);
}

static struct conn *conn_connect(struct sip_tp *tp, const struct sip_peer *to, const char *name)
{
	sa_family_t family = to->addr.ss_family;
	if (tp->stats.conns_open >= tp->o.max_conns)
		return NULL;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (const struct sockaddr *)&to->addr, sockaddr_len(family)) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return NULL;
	}
	/* Even a connect that finished at once goes through EV_WRITE and
	 * conn_connected, so there is one path to the open state. */
	return conn_new(tp, fd, to->transport, &to->addr, false,
			to->transport == SIP_TP_TLS ? name : NULL);
}

/* ---- listeners ---------------------------------------------------------- */

static void on_accept(struct ev_loop *loop, int fd, unsigned events, void *arg);

static void on_resume(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)t;
	struct listener *l = arg;
	if (ev_io_add(loop, l->fd, EV_READ, on_accept, l) == 0)
		l->paused = false;
	else
		ev_timer_start(loop, &l->resume, ACCEPT_PAUSE_MS);
}

static void on_accept(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)events;
	struct listener *l = arg;
	struct sip_tp *tp = l->tp;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The pending connection stays readable: without a
				 * pause this would spin until a descriptor frees. */
				ev_io_remove(loop, fd);
				l->paused = true;
				ev_timer_start(loop, &l->resume, ACCEPT_PAUSE_MS);
			}
			return;
		}
		struct ip_slot *ip = *ip_link(tp, &ss);
		if (tp->stats.conns_open >= tp->o.max_conns ||
		    (ip && ip->count >= tp->o.max_conns_per_ip)) {
			/* A reset rather than a FIN: no TIME_WAIT for a
			 * connection we never wanted. */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(cfd);
			tp->stats.conns_refused_limit++;
			continue;
		}
		if (conn_new(tp, cfd, l->addr.transport, &ss, true, NULL))
			tp->stats.conns_accepted++;
	}
}

/* Finishes a UDP receive batch: one callback per datagram. */
static void udp_deliver(struct listener *l, int n)
{
	struct sip_tp *tp = l->tp;
	for (int i = 0; i < n; i++) {
		size_t len = tp->mm[i].msg_len;
		const char *buf = tp->dgram + (size_t)i * tp->dgram_cap;
		tp->stats.rx_bytes += len;
		if (len > tp->o.max_message || (tp->mm[i].msg_hdr.msg_flags & MSG_TRUNC)) {
			tp->stats.rx_dropped_oversize++;
			continue;
		}
		size_t k = 0;
		while (k < len && (buf[k] == '\r' || buf[k] == '\n'))
			k++;
		if (k == len)
			continue; /* empty, or a CRLF keep-alive */
		struct sip_peer from = {.transport = SIP_TP_UDP, .conn_id = l->addr.conn_id};
		socklen_t nl = tp->mm[i].msg_hdr.msg_namelen;
		memcpy(&from.addr, &tp->names[i], nl < sizeof(from.addr) ? nl : sizeof(from.addr));
		from.addrlen = nl;
		tp->stats.rx_messages++;
		tp->recv(tp->ctx, buf, len, &from);
	}
}

static void on_udp(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)events;
	struct listener *l = arg;
	struct sip_tp *tp = l->tp;
	for (int round = 0; round < UDP_ROUNDS; round++) {
		for (int i = 0; i < UDP_BATCH; i++) {
			tp->mm[i].msg_hdr.msg_namelen = sizeof(tp->names[i]);
			tp->mm[i].msg_hdr.msg_flags = 0;
		}
		int n = recvmmsg(fd, tp->mm, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		udp_deliver(l, n);
		if (n < UDP_BATCH)
			return;
	}
}

static int udp_batch_alloc(struct sip_tp *tp)
{
	if (tp->dgram)
		return 0;
	/* One byte more than we accept, to tell an oversized datagram. */
	size_t max = tp->o.max_message < 65535 ? tp->o.max_message : 65535;
	tp->dgram_cap = max + 1;
	tp->mm = calloc(UDP_BATCH, sizeof(*tp->mm));
	tp->iov = calloc(UDP_BATCH, sizeof(*tp->iov));
	tp->names = calloc(UDP_BATCH, sizeof(*tp->names));
	tp->dgram = malloc(UDP_BATCH * tp->dgram_cap);
	if (!tp->mm || !tp->iov || !tp->names || !tp->dgram) {
		free(tp->mm);
		free(tp->iov);
		free(tp->names);
		free(tp->dgram);
		tp->mm = NULL;
		tp->iov = NULL;
		tp->names = NULL;
		tp->dgram = NULL;
		return -1;
	}
	for (int i = 0; i < UDP_BATCH; i++) {
		tp->iov[i] = (struct iovec){tp->dgram + (size_t)i * tp->dgram_cap, tp->dgram_cap};
		tp->mm[i].msg_hdr.msg_iov = &tp->iov[i];
		tp->mm[i].msg_hdr.msg_iovlen = 1;
		tp->mm[i].msg_hdr.msg_name = &tp->names[i];
	}
	return 0;
}

static int parse_hostport(const char *hp, enum sip_transport t, struct sip_peer *out)
{
	const char *host = hp, *colon;
	if (hp[0] == '[') {
		const char *rb = strchr(hp, ']');
		if (!rb || rb[1] != ':')
			return -1;
		colon = rb + 1;
	} else {
		colon = strchr(hp, ':');
		if (!colon || strchr(colon + 1, ':'))
			return -1; /* an IPv6 address needs brackets */
	}
	size_t hostlen = (size_t)(colon - host);
	const char *p = colon + 1;
	unsigned long port = 0;
	if (!*p || strlen(p) > 5)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port > 65535)
		return -1;
	if (hostlen == 1 && host[0] == '*') {
		host = "0.0.0.0";
		hostlen = 7;
	}
	return sip_peer_from_numeric(out, t, host, hostlen, (uint16_t)port);
}

int sip_tp_listen(struct sip_tp *tp, enum sip_transport t, const char *hostport, char *err,
		  size_t errlen)
{
	struct sip_peer addr;
	if ((unsigned)t >= SIP_TP_COUNT) {
		errbuf_printf(err, errlen, "unknown transport");
		return -1;
	}
	if (!hostport || parse_hostport(hostport, t, &addr) < 0) {
		errbuf_printf(err, errlen,
			"%s: expected host:port, [v6]:port or *:port with a numeric host",
			hostport ? hostport : "(null)");
		return -1;
	}
	if (t == SIP_TP_TLS && !tp->server_ctx) {
		errbuf_printf(err, errlen, "a TLS listener needs tls_cert and tls_key");
		return -1;
	}
	if (t == SIP_TP_UDP && udp_batch_alloc(tp) < 0) {
		errbuf_printf(err, errlen, "out of memory");
		return -1;
	}
	struct listener **ls = realloc(tp->listeners, (size_t)(tp->nlisteners + 1) * sizeof(*ls));
	if (!ls) {
		errbuf_printf(err, errlen, "out of memory");
		return -1;
	}
	tp->listeners = ls;
	struct listener *l = calloc(1, sizeof(*l));
	if (!l) {
		errbuf_printf(err, errlen, "out of memory");
		return -1;
	}
	l->tp = tp;
	sa_family_t family = addr.addr.ss_family;
	l->fd = socket(
	    family, (t == SIP_TP_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		goto fail;
	int one = 1;
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6 &&
	    setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (t == SIP_TP_UDP) {
		/* A burst of requests must not overflow the socket while we
		 * are busy; FORCE works with CAP_NET_ADMIN, the plain one is
		 * capped by net.core.rmem_max. */
		int sz = UDP_RCVBUF;
		if (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
			setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	if (bind(l->fd, (const struct sockaddr *)&addr.addr, addr.addrlen) < 0)
		goto fail;
	if (t != SIP_TP_UDP && listen(l->fd, LISTEN_BACKLOG) < 0)
		goto fail;
	socklen_t sl = sizeof(addr.addr);
	if (getsockname(l->fd, (struct sockaddr *)&addr.addr, &sl) < 0)
		goto fail;
	addr.addrlen = sl;
	l->addr = addr;
	l->addr.conn_id = t == SIP_TP_UDP ? ++tp->next_id : 0;
	ev_timer_init(&l->resume, on_resume, l);
	if (ev_io_add(tp->loop, l->fd, EV_READ, t == SIP_TP_UDP ? on_udp : on_accept, l) < 0)
		goto fail;
	tp->listeners[tp->nlisteners] = l;
	return tp->nlisteners++;
fail:
	errbuf_printf(err, errlen, "%s %s: %s", sip_transport_name(t), hostport, strerror(errno));
	if (l->fd >= 0)
		close(l->fd);
	free(l);
	return -1;
}

uint16_t sip_tp_local_port(const struct sip_tp *tp, int listener)
{
	const struct sip_peer *p = sip_tp_listener_addr(tp, listener);
	return p ? sip_peer_port(p) : 0;
}

const struct sip_peer *sip_tp_listener_addr(const struct sip_tp *tp, int listener)
{
	if (!tp || listener < 0 || listener >= tp->nlisteners)
		return NULL;
	return &tp->listeners[listener]->addr;
}

/* ---- sending --------------------------------------------------------------- */

/* Returns 0 when sent, 1 when the socket had no room (a loss, as on the
 * network), -1 when it cannot be sent. */
static int udp_send(struct sip_tp *tp, const struct sip_peer *to, const char *buf, size_t len)
{
	struct listener *l = NULL;
	for (int i = 0; i < tp->nlisteners; i++) {
		struct listener *x = tp->listeners[i];
		if (x->addr.transport != SIP_TP_UDP || x->addr.addr.ss_family != to->addr.ss_family)
			continue;
		if (!l)
			l = x;
		if (to->conn_id && x->addr.conn_id == to->conn_id) {
			l = x;
			break;
		}
	}
	if (!l)
		return -1;
	ssize_t n = sendto(l->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)&to->addr, sockaddr_len(to->addr.ss_family));
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? 1 : -1;
	tp->stats.tx_bytes += (size_t)n;
	return 0;
}

static int stream_send(struct sip_tp *tp, const struct sip_peer *to, const char *name,
		       const char *buf, size_t len)
{
	struct conn *c = NULL;
	if (to->conn_id && (c = conn_by_id(tp, to->conn_id)) && c->peer.transport != to->transport)
		c = NULL;
	if (!c)
		c = conn_by_peer(tp, to, to->transport == SIP_TP_TLS ? name : NULL);
	if (!c) {
		if (len > tp->o.max_queued)
			return -1;
		if (!(c = conn_connect(tp, to, name)))
			return -1;
	}
	return conn_write(c, buf, len);
}

int sip_tp_send_named(struct sip_tp *tp, const struct sip_peer *to, const char *name,
		      const char *buf, size_t len)
{
	int r = -1;
	if (to && buf && len && (to->addr.ss_family == AF_INET || to->addr.ss_family == AF_INET6) &&
	    (!name || (*name && strlen(name) <= MAX_NAME))) {
		if (to->transport == SIP_TP_UDP)
			r = udp_send(tp, to, buf, len);
		else if (to->transport == SIP_TP_TCP || to->transport == SIP_TP_TLS)
			r = stream_send(tp, to, name, buf, len);
	}
	if (r == 0)
		tp->stats.tx_messages++;
	else
		tp->stats.send_errors++;
	return r < 0 ? -1 : 0;
}

int sip_tp_send(struct sip_tp *tp, const struct sip_peer *to, const char *buf, size_t len)
{
	return sip_tp_send_named(tp, to, NULL, buf, len);
}

void sip_tp_on_error(struct sip_tp *tp, void (*fn)(void *ctx, const struct sip_peer *peer),
		     void *ctx)
{
	tp->on_error = fn;
	tp->error_ctx = ctx;
}

void sip_tp_get_stats(const struct sip_tp *tp, struct sip_tp_stats *out) { *out = tp->stats; }

/* ---- life cycle ------------------------------------------------------------ */

struct sip_tp *sip_tp_new(struct ev_loop *loop, const struct sip_tp_opts *opts, sip_tp_recv_fn recv,
			  void *ctx, char *err, size_t errlen)
{
	if (!loop || !recv) {
		errbuf_printf(err, errlen, "a loop and a receive callback are required");
		return NULL;
	}
	struct sip_tp *tp = calloc(1, sizeof(*tp));
	if (!tp) {
		errbuf_printf(err, errlen, "out of memory");
		return NULL;
	}
	tp->loop = loop;
	tp->recv = recv;
	tp->ctx = ctx;
	if (opts)
		tp->o = *opts;
	struct sip_tp_opts *o = &tp->o;
	if (!o->max_message)
		o->max_message = SIP_DEFAULT_MAX_MESSAGE;
	if (!o->idle_timeout_ms)
		o->idle_timeout_ms = 300000;
	if (!o->partial_timeout_ms)
		o->partial_timeout_ms = 10000;
	if (!o->max_conns)
		o->max_conns = 4096;
	if (!o->max_conns_per_ip)
		o->max_conns_per_ip = 64;
	if (!o->max_queued)
		o->max_queued = 1 << 20;
	tp->pending_tail = &tp->pending;
	ev_timer_init(&tp->notify, on_notify, tp);

	size_t nb = 64;
	while (nb < o->max_conns && nb < 65536)
		nb *= 2;
	tp->mask = nb - 1;
	tp->by_id = calloc(nb, sizeof(*tp->by_id));
	tp->by_addr = calloc(nb, sizeof(*tp->by_addr));
	tp->by_ip = calloc(nb, sizeof(*tp->by_ip));
	tp->scratch_cap = o->max_message > SCRATCH_MIN ? o->max_message : SCRATCH_MIN;
	tp->scratch = malloc(tp->scratch_cap);
	tp->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sip_tp socket");
	if (!tp->by_id || !tp->by_addr || !tp->by_ip || !tp->scratch || !tp->bio_method) {
		errbuf_printf(err, errlen, "out of memory");
		goto fail;
	}
	BIO_meth_set_write(tp->bio_method, bio_write);
	BIO_meth_set_read(tp->bio_method, bio_read);
	BIO_meth_set_puts(tp->bio_method, bio_puts);
	BIO_meth_set_ctrl(tp->bio_method, bio_ctrl);
	BIO_meth_set_create(tp->bio_method, bio_create);

	if (!o->tls_cert != !o->tls_key) {
		errbuf_printf(err, errlen, "TLS: tls_cert and tls_key go together");
		goto fail;
	}
	if (o->tls_cert && !(tp->server_ctx = tls_ctx_new(o, true, err, errlen)))
		goto fail;
	if (!(tp->client_ctx = tls_ctx_new(o, false, err, errlen)))
		goto fail;
	/* The caller's strings need not outlive this call. */
	o->tls_cert = o->tls_key = o->tls_ca = NULL;
	return tp;
fail:
	sip_tp_free(tp);
	return NULL;
}

void sip_tp_free(struct sip_tp *tp)
{
	if (!tp)
		return;
	while (tp->conns)
		conn_close(tp->conns, CLOSE_FREE);
	for (int i = 0; i < tp->nlisteners; i++) {
		struct listener *l = tp->listeners[i];
		ev_timer_stop(tp->loop, &l->resume);
		if (!l->paused)
			ev_io_remove(tp->loop, l->fd);
		close(l->fd);
		free(l);
	}
	free(tp->listeners);
	ev_timer_stop(tp->loop, &tp->notify);
	while (tp->pending) {
		struct pending *next = tp->pending->next;
		free(tp->pending);
		tp->pending = next;
	}
	SSL_CTX_free(tp->server_ctx);
	SSL_CTX_free(tp->client_ctx);
	BIO_meth_free(tp->bio_method);
	free(tp->by_id);
	free(tp->by_addr);
	free(tp->by_ip);
	free(tp->scratch);
	free(tp->mm);
	free(tp->iov);
	free(tp->names);
	free(tp->dgram);
	free(tp);
}
