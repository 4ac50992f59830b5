#include "sip/txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "sip/build.h"

#define MAX_KEY 1024

struct sip_txn {
	struct sip_txn_layer *layer;
	struct sip_txn *hnext;            /* hash chain */
	struct sip_txn *prev, *next;      /* every transaction, for freeing */
	char *key;
	size_t keylen;
	unsigned hash;

	bool server, invite, rfc2543, detached, reported_end;
	bool cancel_sent;                 /* the TU CANCELled this INVITE: 64*T1 to answer */
	bool in_request_hook;             /* the TU holds t->req right now */
	enum sip_txn_state state;
	enum sip_txn_end end;
	unsigned status;                  /* last response status sent/received */

	/* The request, kept only while it can still be needed (retransmitting
	 * it, building the ACK or a response): a transaction that has its
	 * final response lives on for up to 32 s on its key and last response
	 * alone, so that thousands of calls a second do not hold kilobytes
	 * each (see release_request). */
	char *req_buf;
	size_t req_len;
	struct sip_msg *req;
	char *resp_buf;                   /* server: last response sent */
	size_t resp_len;
	char *ack_buf;                    /* INVITE client: ACK for a non-2xx */
	size_t ack_len;
	sip_str to_tag;                   /* server INVITE: our To tag (RFC 2543 ACK match) */
	char to_tag_buf[64];

	struct sip_peer peer;             /* server: where responses go; client: destination */
	struct ev_timer retx;             /* A, E, G, and the INVITE server's 100 Trying */
	struct ev_timer life;             /* B, F, H, then D, K, J, I, L, M */
	uint32_t interval;
	void *user;
};

struct sip_txn_layer {
	struct ev_loop *loop;
	struct sip_txn_timers t;
	struct sip_txn_hooks hooks;
	struct sip_txn **buckets;
	size_t nbuckets, count;
	struct sip_txn *all;
	struct sip_txn_stats stats;
};

/* ---- keys and the table ------------------------------------------------- */

static unsigned hash_key(const char *k, size_t n)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 16777619u;
	return h;
}

struct keybuf {
	char b[MAX_KEY];
	size_t n;
	bool overflow;
};

static void key_put(struct keybuf *k, sip_str s)
{
	if (k->n + s.len + 1 > sizeof(k->b)) {
		k->overflow = true;
		return;
	}
	if (s.len)
		memcpy(k->b + k->n, s.s, s.len);
	k->n += s.len;
	k->b[k->n++] = '\x1f'; /* a separator no token or URI contains */
}

/* Server key (RFC 3261 17.2.3): branch, sent-by and method, where ACK
 * matches INVITE; without a 3261 branch, the RFC 2543 fields. */
static bool server_key(struct sip_msg *m, sip_str method, struct keybuf *k, bool *rfc2543)
{
	struct sip_via *v = sip_msg_via(m, NULL);
	const struct sip_cseq *cs = sip_msg_cseq(m, NULL);
	if (!v || !cs)
		return false;
	if (sip_str_eq(method, SIP_STR_LIT("ACK")))
		method = SIP_STR_LIT("INVITE");
	k->n = 0;
	k->overflow = false;
	*rfc2543 = !sip_via_branch_is_rfc3261(v);
	if (!*rfc2543) {
		char port[8];
		int pn = snprintf(port, sizeof(port), "%u", v->has_port ? v->port : 0);
		key_put(k, SIP_STR_LIT("S"));
		key_put(k, v->branch);
		key_put(k, v->host);
		key_put(k, sip_str_make(port, (size_t)pn));
		key_put(k, method);
	} else {
		struct sip_addr *from = sip_msg_from(m, NULL);
		char num[12];
		int nn = snprintf(num, sizeof(num), "%u", cs->seq);
		key_put(k, SIP_STR_LIT("S2543"));
		key_put(k, m->ruri_text);
		key_put(k, from ? from->tag : SIP_STR_NULL);
		key_put(k, sip_msg_call_id(m));
		key_put(k, sip_str_make(num, (size_t)nn));
		key_put(k, method);
		key_put(k, v->text);
	}
	return !k->overflow;
}

/* Client key (RFC 3261 17.1.3): branch of the top Via and CSeq method. */
static bool client_key(struct sip_msg *m, struct keybuf *k)
{
	struct sip_via *v = sip_msg_via(m, NULL);
	const struct sip_cseq *cs = sip_msg_cseq(m, NULL);
	if (!v || !cs || !sip_str_present(v->branch))
		return false;
	sip_str method = cs->method;
	if (sip_str_eq(method, SIP_STR_LIT("ACK")))
		method = SIP_STR_LIT("INVITE");
	k->n = 0;
	k->overflow = false;
	key_put(k, SIP_STR_LIT("C"));
	key_put(k, v->branch);
	key_put(k, method);
	return !k->overflow;
}

static struct sip_txn *table_find(struct sip_txn_layer *l, const struct keybuf *k)
{
	unsigned h = hash_key(k->b, k->n);
	for (struct sip_txn *t = l->buckets[h & (l->nbuckets - 1)]; t; t = t->hnext)
		if (t->hash == h && t->keylen == k->n && memcmp(t->key, k->b, k->n) == 0)
			return t;
	return NULL;
}

static void table_grow(struct sip_txn_layer *l)
{
	size_t n = l->nbuckets * 2;
	struct sip_txn **b = calloc(n, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < l->nbuckets; i++) {
		struct sip_txn *t = l->buckets[i];
		while (t) {
			struct sip_txn *next = t->hnext;
			t->hnext = b[t->hash & (n - 1)];
			b[t->hash & (n - 1)] = t;
			t = next;
		}
	}
	free(l->buckets);
	l->buckets = b;
	l->nbuckets = n;
}

static void table_insert(struct sip_txn_layer *l, struct sip_txn *t)
{
	if (l->count >= l->nbuckets)
		table_grow(l);
	struct sip_txn **b = &l->buckets[t->hash & (l->nbuckets - 1)];
	t->hnext = *b;
	*b = t;
	l->count++;
}

static void table_remove(struct sip_txn_layer *l, struct sip_txn *t)
{
	struct sip_txn **p = &l->buckets[t->hash & (l->nbuckets - 1)];
	while (*p && *p != t)
		p = &(*p)->hnext;
	if (*p) {
		*p = t->hnext;
		l->count--;
	}
}

/* ---- life cycle ---------------------------------------------------------- */

static void on_retx(struct ev_loop *loop, struct ev_timer *timer, void *arg);
static void on_life(struct ev_loop *loop, struct ev_timer *timer, void *arg);

static struct sip_txn *txn_new(struct sip_txn_layer *l, const char *buf, size_t len,
			       const struct keybuf *k, bool server, bool stream)
{
	struct sip_txn *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->req_buf = malloc(len ? len : 1);
	t->key = malloc(k->n);
	t->req = malloc(sizeof(*t->req));
	if (!t->req_buf || !t->key || !t->req)
		goto fail;
	memcpy(t->req_buf, buf, len);
	t->req_len = len;
	struct sip_parse_opts opts = {.stream = stream};
	/* the bytes parsed once already; this cannot fail but for memory */
	if (sip_msg_parse(t->req, t->req_buf, len, &opts, NULL) < 0 ||
	    sip_msg_check(t->req, NULL) < 0)
		goto fail_msg;
	memcpy(t->key, k->b, k->n);
	t->keylen = k->n;
	t->hash = hash_key(k->b, k->n);
	t->layer = l;
	t->server = server;
	t->invite = t->req->method_id == SIP_METHOD_INVITE;
	ev_timer_init(&t->retx, on_retx, t);
	ev_timer_init(&t->life, on_life, t);
	table_insert(l, t);
	t->next = l->all;
	if (l->all)
		l->all->prev = t;
	l->all = t;
	l->stats.active++;
	return t;
fail_msg:
	sip_msg_free(t->req);
fail:
	free(t->req);
	free(t->req_buf);
	free(t->key);
	free(t);
	return NULL;
}

/* Drops the request once the transaction cannot need it any more: a final
 * response was received (client) or sent (server; a TU that retransmits
 * its 2xx passes the bytes to sip_txn_respond). */
static void release_request(struct sip_txn *t)
{
	if (t->req) {
		sip_msg_free(t->req);
		free(t->req);
		t->req = NULL;
	}
	free(t->req_buf);
	t->req_buf = NULL;
	t->req_len = 0;
}

static void txn_free(struct sip_txn *t)
{
	struct sip_txn_layer *l = t->layer;
	ev_timer_stop(l->loop, &t->retx);
	ev_timer_stop(l->loop, &t->life);
	if (t->prev)
		t->prev->next = t->next;
	else
		l->all = t->next;
	if (t->next)
		t->next->prev = t->prev;
	l->stats.active--;
	release_request(t);
	free(t->resp_buf);
	free(t->ack_buf);
	free(t->key);
	free(t);
}

/* Terminates now: out of the table at once (so nothing matches it any
 * more), the TU told, memory freed. Only called from timer callbacks and
 * paths that do not touch t afterwards. */
static void txn_terminate(struct sip_txn *t, enum sip_txn_end why)
{
	struct sip_txn_layer *l = t->layer;
	t->state = SIP_TXN_TERMINATED;
	table_remove(l, t);
	if (why == SIP_TXN_END_TIMEOUT)
		l->stats.timeouts++;
	if (!t->detached && l->hooks.terminated)
		l->hooks.terminated(l->hooks.ctx, t, why);
	txn_free(t);
}

/* Terminates from a context that may still use t: on the next loop pass. */
static void txn_terminate_soon(struct sip_txn *t, enum sip_txn_end why)
{
	t->end = why;
	t->state = SIP_TXN_TERMINATED;
	ev_timer_stop(t->layer->loop, &t->retx);
	ev_timer_start(t->layer->loop, &t->life, 0);
}

static int txn_send(struct sip_txn *t, const char *buf, size_t len)
{
	struct sip_txn_layer *l = t->layer;
	return l->hooks.send(l->hooks.ctx, &t->peer, buf, len);
}

static bool reliable(const struct sip_txn *t) { return sip_transport_reliable(t->peer.transport); }

/* ---- timers -------------------------------------------------------------- */

static void on_retx(struct ev_loop *loop, struct ev_timer *timer, void *arg)
{
	struct sip_txn *t = arg;
	struct sip_txn_layer *l = t->layer;
	(void)timer;
	if (t->server && t->invite && t->state == SIP_TXN_PROCEEDING && !t->resp_buf) {
		/* the TU has said nothing for 200 ms: 100 Trying (17.2.1) */
		sip_txn_reply(t, 100, NULL, NULL);
		return;
	}
	const char *buf = t->server ? t->resp_buf : t->req_buf;
	size_t len = t->server ? t->resp_len : t->req_len;
	if (!buf)
		return;
	l->stats.retransmissions_sent++;
	if (txn_send(t, buf, len) < 0) {
		txn_terminate(t, SIP_TXN_END_TRANSPORT);
		return;
	}
	/* Timer A doubles without bound; E and G stop doubling at T2, and E
	 * runs at T2 once a provisional response came (17.1.2.2). */
	if (t->invite && !t->server)
		t->interval *= 2;
	else if (t->state == SIP_TXN_PROCEEDING)
		t->interval = l->t.t2;
	else
		t->interval = t->interval * 2 < l->t.t2 ? t->interval * 2 : l->t.t2;
	ev_timer_start(loop, &t->retx, t->interval);
}

static void on_life(struct ev_loop *loop, struct ev_timer *timer, void *arg)
{
	struct sip_txn *t = arg;
	(void)loop;
	(void)timer;
	switch (t->state) {
	case SIP_TXN_CALLING:    /* Timer B */
	case SIP_TXN_TRYING:     /* Timer F (client); server Trying has no timer */
	case SIP_TXN_PROCEEDING: /* Timer F in Proceeding */
		txn_terminate(t, SIP_TXN_END_TIMEOUT);
		break;
	case SIP_TXN_COMPLETED:
		/* Timer H (server INVITE, no ACK) is a timeout; D, K, J are not */
		txn_terminate(t, t->server && t->invite ? SIP_TXN_END_TIMEOUT : SIP_TXN_END_NORMAL);
		break;
	case SIP_TXN_TERMINATED:
		txn_terminate(t, t->end);
		break;
	default: /* Accepted (L, M), Confirmed (I) */
		txn_terminate(t, SIP_TXN_END_NORMAL);
		break;
	}
}

/* ---- the layer ----------------------------------------------------------- */

struct sip_txn_layer *sip_txn_layer_new(struct ev_loop *loop, const struct sip_txn_timers *timers,
					const struct sip_txn_hooks *hooks)
{
	struct sip_txn_layer *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->loop = loop;
	l->hooks = *hooks;
	l->t = (struct sip_txn_timers){500, 4000, 5000, 200};
	if (timers) {
		if (timers->t1)
			l->t.t1 = timers->t1;
		if (timers->t2)
			l->t.t2 = timers->t2;
		if (timers->t4)
			l->t.t4 = timers->t4;
		l->t.trying_100 = timers->trying_100;
	}
	l->nbuckets = 1024;
	l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
	if (!l->buckets) {
		free(l);
		return NULL;
	}
	return l;
}

void sip_txn_layer_free(struct sip_txn_layer *l)
{
	if (!l)
		return;
	while (l->all)
		txn_free(l->all);
	free(l->buckets);
	free(l);
}

void sip_txn_get_stats(const struct sip_txn_layer *l, struct sip_txn_stats *out) { *out = l->stats; }

/* Where responses to a request go (RFC 3261 18.2.2, RFC 3581): back over the
 * connection it came on; over UDP to the source address, and to the source
 * port only when the client asked with rport, else to the sent-by port. */
static void response_peer(struct sip_msg *req, const struct sip_peer *from, struct sip_peer *out)
{
	*out = *from;
	if (sip_transport_reliable(from->transport))
		return;
	struct sip_via *v = sip_msg_via(req, NULL);
	if (!v || v->rport)
		return;
	sip_peer_set_port(out, v->has_port ? v->port : 5060);
}

/* A request that cannot be processed gets its error statelessly, when it
 * has enough headers to route a response; ACKs never get one. */
/* Answers a request without a transaction (a retransmission gets the same
 * answer again, computed afresh). */
static void reply_stateless(struct sip_txn_layer *l, struct sip_msg *m, unsigned status,
			    const char *reason, const char *extra, const struct sip_peer *from)
{
	char out[4096];
	size_t len = sip_build_response(m, status, reason, SIP_STR_NULL, extra, SIP_STR_NULL, out,
					sizeof(out));
	if (len > sizeof(out))
		return;
	struct sip_peer to;
	response_peer(m, from, &to);
	l->hooks.send(l->hooks.ctx, &to, out, len);
}

static void reject_request(struct sip_txn_layer *l, struct sip_msg *m, const struct sip_error *err,
			   const struct sip_peer *from)
{
	l->stats.rejected++;
	if (l->hooks.rejected)
		l->hooks.rejected(l->hooks.ctx, err, from);
	if (!m->is_request || !m->hdrs || !m->first[SIP_HDR_VIA] ||
	    sip_str_eq(m->method, SIP_STR_LIT("ACK")))
		return;
	char reason[sizeof(err->detail)];
	size_t n = 0;
	for (const char *c = err->detail; *c && n + 1 < sizeof(reason); c++)
		reason[n++] = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
	reason[n] = 0;
	reply_stateless(l, m, (unsigned)sip_fault_status(err->fault), reason, NULL, from);
}

static void server_retransmission(struct sip_txn *t, struct sip_msg *m, const struct sip_peer *from)
{
	struct sip_txn_layer *l = t->layer;
	bool ack = sip_str_eq(m->method, SIP_STR_LIT("ACK"));
	if (ack) {
		if (!t->invite)
			return;
		if (t->rfc2543) {
			/* RFC 2543 ACK matching also needs our To tag (17.2.3) */
			struct sip_addr *to = sip_msg_to(m, NULL);
			if (!to || !sip_str_eq(to->tag, t->to_tag)) {
				if (l->hooks.ack)
					l->hooks.ack(l->hooks.ctx, m, from);
				return;
			}
		}
		if (t->state == SIP_TXN_COMPLETED) {
			t->state = SIP_TXN_CONFIRMED;
			ev_timer_stop(l->loop, &t->retx);
			ev_timer_start(l->loop, &t->life, reliable(t) ? 0 : l->t.t4); /* Timer I */
		} else if (t->state == SIP_TXN_ACCEPTED) {
			/* the ACK for a 2xx belongs to the TU (RFC 6026) */
			if (l->hooks.ack)
				l->hooks.ack(l->hooks.ctx, m, from);
		} else {
			l->stats.retransmissions_absorbed++;
		}
		return;
	}
	l->stats.retransmissions_absorbed++;
	/* resend the last response in Proceeding and Completed (17.2.1, 17.2.2) */
	if ((t->state == SIP_TXN_PROCEEDING || t->state == SIP_TXN_COMPLETED) && t->resp_buf)
		txn_send(t, t->resp_buf, t->resp_len);
}

static void input_request(struct sip_txn_layer *l, const char *buf, size_t len, struct sip_msg *m,
			  const struct sip_peer *from)
{
	struct keybuf k;
	bool rfc2543;
	if (!server_key(m, m->method, &k, &rfc2543))
		return;
	struct sip_txn *t = table_find(l, &k);
	if (t && t->state != SIP_TXN_TERMINATED) {
		server_retransmission(t, m, from);
		return;
	}
	if (m->method_id == SIP_METHOD_ACK) {
		if (l->hooks.ack)
			l->hooks.ack(l->hooks.ctx, m, from);
		return;
	}
	if (l->hooks.admit) {
		char extra[512];
		extra[0] = 0;
		unsigned verdict = l->hooks.admit(l->hooks.ctx, m, from, extra, sizeof(extra));
		if (verdict) {
			l->stats.refused++;
			if (verdict >= 300 && verdict <= 699)
				reply_stateless(l, m, verdict, NULL, extra[0] ? extra : NULL, from);
			return;
		}
	}
	t = txn_new(l, buf, len, &k, true, sip_transport_reliable(from->transport));
	if (!t)
		return;
	l->stats.server_created++;
	t->rfc2543 = rfc2543;
	response_peer(t->req, from, &t->peer);
	t->peer.conn_id = from->conn_id;
	if (t->invite) {
		t->state = SIP_TXN_PROCEEDING;
		/* Timer for the automatic 100 Trying */
		ev_timer_start(l->loop, &t->retx, l->t.trying_100);
	} else {
		t->state = SIP_TXN_TRYING;
	}
	if (l->hooks.request) {
		t->in_request_hook = true;
		l->hooks.request(l->hooks.ctx, t, t->req);
		t->in_request_hook = false;
		if (t->state == SIP_TXN_COMPLETED || t->state == SIP_TXN_ACCEPTED)
			release_request(t); /* answered finally from inside the hook */
	}
}

static void input_response(struct sip_txn_layer *l, struct sip_msg *m, const struct sip_peer *from)
{
	struct keybuf k;
	struct sip_txn *t = client_key(m, &k) ? table_find(l, &k) : NULL;
	if (!t || t->server || t->state == SIP_TXN_TERMINATED) {
		l->stats.stray_responses++;
		if (l->hooks.stray_response)
			l->hooks.stray_response(l->hooks.ctx, m, from);
		return;
	}
	unsigned code = m->status;
	bool pass = false;
	switch (t->state) {
	case SIP_TXN_CALLING:
	case SIP_TXN_TRYING:
	case SIP_TXN_PROCEEDING:
		pass = true;
		t->status = code;
		if (code < 200) {
			if (t->invite)
				ev_timer_stop(l->loop, &t->retx); /* no more Timer A */
			if (t->invite && !t->cancel_sent)
				ev_timer_stop(l->loop, &t->life); /* Timer B only in Calling */
			t->state = SIP_TXN_PROCEEDING;
		} else if (t->invite && code < 300) {
			ev_timer_stop(l->loop, &t->retx);
			t->state = SIP_TXN_ACCEPTED;
			ev_timer_start(l->loop, &t->life, 64 * l->t.t1); /* Timer M */
		} else if (t->invite) {
			ev_timer_stop(l->loop, &t->retx);
			t->state = SIP_TXN_COMPLETED;
			size_t need = sip_build_ack(t->req, m, NULL, 0);
			t->ack_buf = malloc(need);
			if (t->ack_buf) {
				t->ack_len = sip_build_ack(t->req, m, t->ack_buf, need);
				txn_send(t, t->ack_buf, t->ack_len);
			}
			ev_timer_start(l->loop, &t->life, reliable(t) ? 0 : 32000); /* Timer D */
		} else {
			ev_timer_stop(l->loop, &t->retx);
			t->state = SIP_TXN_COMPLETED;
			ev_timer_start(l->loop, &t->life, reliable(t) ? 0 : l->t.t4); /* Timer K */
		}
		break;
	case SIP_TXN_ACCEPTED:
		/* 2xx retransmissions and other forks' 2xx go up (RFC 6026) */
		pass = code >= 200 && code < 300;
		if (!pass)
			l->stats.retransmissions_absorbed++;
		break;
	case SIP_TXN_COMPLETED:
		l->stats.retransmissions_absorbed++;
		if (t->invite && code >= 300 && t->ack_buf)
			txn_send(t, t->ack_buf, t->ack_len);
		break;
	default:
		break;
	}
	if (pass && !t->detached && l->hooks.response)
		l->hooks.response(l->hooks.ctx, t, m);
	/* final: nothing will be retransmitted or built from the request */
	if (t->state == SIP_TXN_COMPLETED || t->state == SIP_TXN_ACCEPTED)
		release_request(t);
}

void sip_txn_input(struct sip_txn_layer *l, const char *buf, size_t len, const struct sip_peer *from)
{
	struct sip_msg m;
	struct sip_error err = {.base = buf};
	struct sip_parse_opts opts = {.stream = sip_transport_reliable(from->transport)};
	int rc = sip_msg_parse(&m, buf, len, &opts, &err);
	if (rc == 0)
		rc = sip_msg_check(&m, &err);
	if (rc < 0) {
		if (m.is_request)
			reject_request(l, &m, &err, from);
		else if (l->hooks.rejected)
			l->hooks.rejected(l->hooks.ctx, &err, from); /* bad responses are dropped */
		sip_msg_free(&m);
		return;
	}
	if (m.is_request)
		input_request(l, m.buf, m.len, &m, from);
	else
		input_response(l, &m, from);
	sip_msg_free(&m);
}

/* ---- server side: responding --------------------------------------------- */

static void remember_to_tag(struct sip_txn *t, const char *buf, size_t len)
{
	struct sip_msg r;
	if (sip_msg_parse(&r, buf, len, NULL, NULL) == 0) {
		struct sip_addr *to = sip_msg_to(&r, NULL);
		if (to && to->tag.len && to->tag.len <= sizeof(t->to_tag_buf)) {
			memcpy(t->to_tag_buf, to->tag.s, to->tag.len);
			t->to_tag = sip_str_make(t->to_tag_buf, to->tag.len);
		}
	}
	sip_msg_free(&r);
}

int sip_txn_respond(struct sip_txn *st, const char *buf, size_t len)
{
	struct sip_txn_layer *l = st->layer;
	if (!st->server || st->state == SIP_TXN_TERMINATED || st->state == SIP_TXN_CONFIRMED)
		return -1;
	if (st->state == SIP_TXN_COMPLETED)
		return -1; /* a final response was sent already */
	unsigned code = 0;
	if (len >= 12 && memcmp(buf, "SIP/2.0 ", 8) == 0)
		code = (unsigned)(buf[8] - '0') * 100 + (unsigned)(buf[9] - '0') * 10 + (unsigned)(buf[10] - '0');
	if (code < 100 || code > 699)
		return -1;
	if (st->state == SIP_TXN_ACCEPTED) {
		/* only 2xx retransmissions from the TU pass in Accepted */
		if (code < 200 || code >= 300)
			return -1;
		return txn_send(st, buf, len);
	}
	char *copy = malloc(len);
	if (!copy)
		return -1;
	memcpy(copy, buf, len);
	free(st->resp_buf);
	st->resp_buf = copy;
	st->resp_len = len;
	st->status = code;
	if (st->invite && st->rfc2543)
		remember_to_tag(st, buf, len);
	ev_timer_stop(l->loop, &st->retx); /* the 100 Trying timer, if pending */
	if (txn_send(st, buf, len) < 0) {
		txn_terminate_soon(st, SIP_TXN_END_TRANSPORT);
		return -1;
	}
	if (code < 200) {
		st->state = SIP_TXN_PROCEEDING;
	} else if (st->invite && code < 300) {
		st->state = SIP_TXN_ACCEPTED;
		ev_timer_start(l->loop, &st->life, 64 * l->t.t1); /* Timer L */
	} else if (st->invite) {
		st->state = SIP_TXN_COMPLETED;
		if (!reliable(st)) {
			st->interval = l->t.t1;
			ev_timer_start(l->loop, &st->retx, st->interval); /* Timer G */
		}
		ev_timer_start(l->loop, &st->life, 64 * l->t.t1); /* Timer H */
	} else {
		st->state = SIP_TXN_COMPLETED;
		ev_timer_start(l->loop, &st->life, reliable(st) ? 0 : 64 * l->t.t1); /* Timer J */
	}
	if ((st->state == SIP_TXN_COMPLETED || st->state == SIP_TXN_ACCEPTED) &&
	    !st->in_request_hook)
		release_request(st);
	return 0;
}

int sip_txn_reply(struct sip_txn *st, unsigned status, const char *reason, const char *extra)
{
	char tag[24];
	int n = snprintf(tag, sizeof(tag), "%08x%08x", (unsigned)random(), (unsigned)random());
	char out[8192];
	if (!st->req)
		return -1; /* a final response went out already */
	size_t len = sip_build_response(st->req, status, reason, sip_str_make(tag, (size_t)n), extra,
					SIP_STR_NULL, out, sizeof(out));
	if (len > sizeof(out))
		return -1;
	return sip_txn_respond(st, out, len);
}

/* ---- client side --------------------------------------------------------- */

struct sip_txn *sip_txn_request(struct sip_txn_layer *l, const char *buf, size_t len,
				const struct sip_peer *to, void *user)
{
	struct sip_msg m;
	int rc = sip_msg_parse(&m, buf, len, NULL, NULL);
	if (rc == 0)
		rc = sip_msg_check(&m, NULL);
	struct keybuf k;
	bool ok = rc == 0 && m.is_request && m.method_id != SIP_METHOD_ACK && client_key(&m, &k) &&
		  !table_find(l, &k);
	sip_msg_free(&m);
	if (!ok)
		return NULL;
	struct sip_txn *t = txn_new(l, buf, len, &k, false, false);
	if (!t)
		return NULL;
	l->stats.client_created++;
	t->peer = *to;
	t->user = user;
	t->state = t->invite ? SIP_TXN_CALLING : SIP_TXN_TRYING;
	if (txn_send(t, buf, len) < 0) {
		txn_terminate_soon(t, SIP_TXN_END_TRANSPORT);
		return t;
	}
	if (!reliable(t)) {
		t->interval = l->t.t1;
		ev_timer_start(l->loop, &t->retx, t->interval); /* Timer A or E */
	}
	ev_timer_start(l->loop, &t->life, 64 * l->t.t1); /* Timer B or F */
	return t;
}

void sip_txn_transport_failed(struct sip_txn_layer *l, const struct sip_peer *peer)
{
	for (struct sip_txn *t = l->all; t; t = t->next) {
		if (t->server || t->state == SIP_TXN_TERMINATED || !sip_peer_equal(&t->peer, peer))
			continue;
		/* only those that heard nothing yet: one with a provisional
		 * response may still get its final over a new connection */
		if (t->state == SIP_TXN_CALLING || t->state == SIP_TXN_TRYING)
			txn_terminate_soon(t, SIP_TXN_END_TRANSPORT);
	}
}

struct sip_txn *sip_txn_cancelled(struct sip_txn_layer *l, struct sip_txn *cancel)
{
	struct keybuf k;
	bool rfc2543;
	if (!cancel->req || !server_key(cancel->req, SIP_STR_LIT("INVITE"), &k, &rfc2543))
		return NULL;
	struct sip_txn *t = table_find(l, &k);
	return t && t->server && t->invite ? t : NULL;
}

void sip_txn_detach(struct sip_txn *t) { t->detached = true; }
struct sip_msg *sip_txn_request_msg(struct sip_txn *t) { return t->req; }
const struct sip_peer *sip_txn_peer(const struct sip_txn *t) { return &t->peer; }
enum sip_txn_state sip_txn_state(const struct sip_txn *t) { return t->state; }
bool sip_txn_is_server(const struct sip_txn *t) { return t->server; }
bool sip_txn_is_invite(const struct sip_txn *t) { return t->invite; }
unsigned sip_txn_status(const struct sip_txn *t) { return t->status; }
void *sip_txn_user(const struct sip_txn *t) { return t->user; }
void sip_txn_set_user(struct sip_txn *t, void *user) { t->user = user; }

const char *sip_txn_state_name(enum sip_txn_state s)
{
	static const char *const names[] = {"Calling",  "Trying",    "Proceeding", "Completed",
					    "Accepted", "Confirmed", "Terminated"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

void sip_txn_cancel_sent(struct sip_txn *t)
{
	if (t->server || !t->invite || t->cancel_sent ||
	    (t->state != SIP_TXN_CALLING && t->state != SIP_TXN_PROCEEDING))
		return;
	t->cancel_sent = true;
	ev_timer_start(t->layer->loop, &t->life, 64 * t->layer->t.t1);
}

size_t sip_txn_new_branch(char *out, size_t cap)
{
	static const char alphabet[] =
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.";
	unsigned char rnd[22];
	if (cap < 30)
		return 0;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)random();
	memcpy(out, SIP_BRANCH_COOKIE, 7);
	for (size_t i = 0; i < sizeof(rnd); i++)
		out[7 + i] = alphabet[rnd[i] & 63];
	out[29] = 0;
	return 29;
}
