#include "sip/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/build.h"
#include "sip/resolve.h"

#define MAX_OUT 65536
#define BRANCH_PREFIX "z9hG4bKvp" /* ours: cookie + "vp" + loop hash + "." + counter */

/* A branch waits for its group, may wait for DNS (B_RESOLVING), runs one
 * attempt (a client transaction to one address) after another, and ends. */
enum branch_state { B_WAITING, B_RESOLVING, B_RUNNING, B_DONE };

struct branch {
	struct sip_proxy_ctx *pc;
	char *uri;
	size_t urilen;
	char *hop;              /* outbound proxy for this target, or NULL */
	unsigned group;
	enum branch_state state;
	struct sip_txn *ct;     /* the current attempt */
	struct sip_resolve_req *dns; /* while B_RESOLVING */
	/* The next hop's addresses in the order to try (RFC 3263), when the
	 * resolver found them; NULL for a numeric hop: nothing to fail over to. */
	struct sip_targets *targets;
	struct sip_peer peer;   /* where the current attempt went */
	unsigned status;        /* final status, 408 for a timeout, 503 for a transport error */
	bool provisional;       /* the current attempt had a 1xx */
	bool early;             /* an INVITE 1xx other than 100 came: the caller
				   may have heard it ring, so no failover */
	bool cancel_wanted;     /* cancel once a provisional arrives (RFC 3261 9.1) */
	bool cancelled;
	bool redirected;        /* a 3xx whose Contacts we tried ourselves */
	bool failover_only;     /* redirected, SIP_PROXY_RECURSE_FAILOVER: its
				   next q group only when the previous failed */
	bool heard;             /* a final response came from the server */
	bool superseded;        /* a failed server a later q group replaced: its
				   outcome is not the answer */
	bool absorbed;          /* its attempt ended without it (the timeout): only
				   a 2xx of it still counts, everything else is dropped */
	unsigned attempt;       /* the attempt (sip_proxy_start) it belongs to */
	struct branch *parent;  /* the redirected branch whose 3xx named it */
	uint16_t q;             /* that Contact's q in thousandths (1000 without) */
	char *resp;             /* the final non-2xx response, for aggregation */
	size_t resp_len;
	struct ev_timer timer_c;
};

struct sip_proxy_ctx {
	struct sip_proxy *p;
	struct sip_txn *st;        /* server transaction; NULL once it ended */
	char *buf;                 /* our copy of the request, pre-processed */
	size_t len;
	struct sip_msg *req;       /* our copy; dropped once nothing can need it */
	struct sip_peer src;
	char loop_hash[17];
	struct branch **br;        /* allocated as targets come: most requests have one */
	unsigned nbr, cap;
	unsigned group;            /* group being tried */
	unsigned live_txns;        /* client transactions not yet terminated */
	unsigned resolving;        /* branches waiting for DNS */
	bool answered;             /* a final response went upstream */
	bool got_2xx, got_6xx;
	bool cancelled;            /* a CANCEL arrived */
	bool started;
	bool routed_to_us;         /* a Route entry naming us was removed */
	/* Attempts: each sip_proxy_start begins one with the targets added
	 * since the previous; the failed hook may begin another. */
	unsigned attempt;          /* attempts begun */
	bool in_attempt;           /* the current one has not ended */
	bool owed;                 /* the daemon owes sip_proxy_start or _reply
				      (route hook, or failed hook that took over):
				      the context stays until it pays */
	bool timed_out;            /* the last attempt ended by its timeout */
	unsigned timeout_ms;       /* for the next attempt */
	signed char recurse_next;  /* for the next attempt: -1 opts.recurse_3xx, 0 no, 1 yes */
	bool recurse;              /* the current attempt recurses on 3xx */
	struct ev_timer attempt_timer;
	struct branch *best;       /* the ended attempt's best branch (failed hook) */
	void *user;
	struct sip_proxy_ctx *prev, *next; /* every context, for shutdown */
};

struct sip_proxy {
	struct ev_loop *loop;
	struct sip_proxy_opts o;
	struct sip_proxy_hooks h;
	struct sip_txn_layer *txn;
	char host[256];
	char supported[256];
	uint64_t branch_counter;
	struct sip_proxy_ctx *contexts;
	struct ack_hold *acks;
	struct sip_proxy_stats stats;
};

/* An ACK for a 2xx whose next hop needs DNS, held until the answer: the
 * ACK with Max-Forwards done, without our Via (that depends on the
 * transport). */
struct ack_hold {
	struct sip_proxy *p;
	struct sip_resolve_req *dns;
	char *buf;
	size_t len;
	char hash[17];
	struct ack_hold *prev, *next;
};

/* ---- helpers ------------------------------------------------------------- */

static uint64_t fnv64(uint64_t h, sip_str s)
{
	for (size_t i = 0; i < s.len; i++)
		h = (h ^ (unsigned char)s.s[i]) * 1099511628211ull;
	return (h ^ 0x1f) * 1099511628211ull;
}

/* The loop-detection hash (RFC 3261 16.6 step 8, 16.3 step 4): the fields
 * that stay the same when a request comes back to us unchanged. The top Via
 * is left out on purpose: it always differs on the way back. */
static void compute_loop_hash(struct sip_msg *m, char out[17])
{
	uint64_t h = 1469598103934665603ull;
	struct sip_addr *from = sip_msg_from(m, NULL), *to = sip_msg_to(m, NULL);
	const struct sip_cseq *cs = sip_msg_cseq(m, NULL);
	char num[12];
	int n = snprintf(num, sizeof(num), "%u", cs ? cs->seq : 0);
	h = fnv64(h, m->ruri_text);
	h = fnv64(h, from ? from->tag : SIP_STR_NULL);
	h = fnv64(h, to ? to->tag : SIP_STR_NULL);
	h = fnv64(h, sip_msg_call_id(m));
	h = fnv64(h, sip_str_make(num, (size_t)n));
	for (struct sip_hdr *x = m->first[SIP_HDR_PROXY_REQUIRE]; x; x = x->next_same)
		h = fnv64(h, x->value);
	for (struct sip_hdr *x = m->first[SIP_HDR_PROXY_AUTHORIZATION]; x; x = x->next_same)
		h = fnv64(h, x->value);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static uint16_t default_port(const struct sip_uri *u, enum sip_transport t)
{
	return (u->scheme == SIP_URI_SIPS || t == SIP_TP_TLS) ? 5061 : 5060;
}

/* Is this URI one of our own addresses (for Route and strict routing)? */
static bool uri_is_us(struct sip_proxy *p, const struct sip_uri *u)
{
	if (u->scheme != SIP_URI_SIP && u->scheme != SIP_URI_SIPS)
		return false;
	if (!sip_str_caseeq_lit(u->host, p->host))
		return false;
	for (int t = 0; t < SIP_TP_COUNT; t++) {
		if (!p->o.port[t])
			continue;
		uint16_t want = u->has_port ? u->port : default_port(u, (enum sip_transport)t);
		if (want == p->o.port[t])
			return true;
	}
	return false;
}

static bool via_is_us(struct sip_proxy *p, const struct sip_via *v)
{
	if (!sip_str_caseeq_lit(v->host, p->host))
		return false;
	int t = sip_transport_from_name(v->transport.s, v->transport.len);
	if (t < 0)
		return false;
	uint16_t port = v->has_port ? v->port : (t == SIP_TP_TLS ? 5061 : 5060);
	return p->o.port[t] == port;
}

static enum sip_transport uri_transport(const struct sip_uri *u)
{
	if (u->scheme == SIP_URI_SIPS)
		return SIP_TP_TLS;
	if (u->transport.len) {
		int t = sip_transport_from_name(u->transport.s, u->transport.len);
		if (t >= 0)
			return (enum sip_transport)t;
	}
	return SIP_TP_UDP;
}

/* The next hop for a URI when it is known at once: a numeric host (or
 * maddr), or what the daemon's synchronous hook says when there is no
 * resolver. -1: ask the resolver, if any. */
static int next_hop_peer(struct sip_proxy *p, const struct sip_uri *u, struct sip_peer *to)
{
	enum sip_transport t = uri_transport(u);
	sip_str host = u->maddr.len ? u->maddr : u->host;
	uint16_t port = u->has_port ? u->port : default_port(u, t);
	if (sip_peer_from_numeric(to, t, host.s, host.len, port) == 0)
		return 0;
	if (p->h.resolve && !p->o.resolver)
		return p->h.resolve(p->h.ctx, u, to);
	return -1;
}

/* ---- context life -------------------------------------------------------- */

static void ctx_free(struct sip_proxy_ctx *pc)
{
	struct sip_proxy *p = pc->p;
	ev_timer_stop(p->loop, &pc->attempt_timer);
	for (unsigned i = 0; i < pc->nbr; i++) {
		struct branch *b = pc->br[i];
		ev_timer_stop(p->loop, &b->timer_c);
		if (b->ct && b->state == B_RUNNING)
			sip_txn_detach(b->ct);
		sip_resolve_cancel(b->dns);
		sip_targets_free(b->targets);
		free(b->uri);
		free(b->hop);
		free(b->resp);
		free(b);
	}
	if (pc->st)
		sip_txn_set_user(pc->st, NULL);
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		p->contexts = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
	free(pc->br);
	if (pc->req)
		sip_msg_free(pc->req);
	free(pc->req);
	free(pc->buf);
	p->stats.contexts--;
	if (!pc->answered)
		p->stats.unanswered--;
	free(pc);
}

/* Once answered with no branch left to start or finish, a context only
 * relays late 2xx retransmissions until its transactions end (up to 32 s):
 * it gives back the request copy and the stored responses meanwhile. */
static void ctx_shrink(struct sip_proxy_ctx *pc)
{
	if (!pc->answered || !pc->req)
		return;
	for (unsigned i = 0; i < pc->nbr; i++)
		if (pc->br[i]->state != B_DONE)
			return;
	for (unsigned i = 0; i < pc->nbr; i++) {
		free(pc->br[i]->resp);
		pc->br[i]->resp = NULL;
	}
	sip_msg_free(pc->req);
	free(pc->req);
	pc->req = NULL;
	free(pc->buf);
	pc->buf = NULL;
}

/* Frees the context once nothing can refer to it any more. */
static void ctx_maybe_free(struct sip_proxy_ctx *pc)
{
	if (pc->st || pc->live_txns || pc->resolving || pc->owed) {
		ctx_shrink(pc);
		return;
	}
	ctx_free(pc);
}

/* ---- responses upstream -------------------------------------------------- */

static void send_upstream(struct sip_proxy_ctx *pc, const char *buf, size_t len, unsigned status)
{
	struct sip_proxy *p = pc->p;
	if (status >= 200 && !pc->answered) {
		pc->answered = true;
		p->stats.unanswered--;
		if (p->h.final)
			p->h.final(p->h.ctx, pc, status);
	}
	if (pc->st)
		sip_txn_respond(pc->st, buf, len);
}

/* Answers req (the request as received, or our copy of it) ourselves. */
static void reply_to(struct sip_proxy_ctx *pc, struct sip_msg *req, unsigned status,
		     const char *reason, const char *extra)
{
	struct sip_proxy *p = pc->p;
	if ((pc->answered && status >= 200) || !req)
		return;
	p->stats.answered_locally++;
	char tag[24];
	snprintf(tag, sizeof(tag), "vp%llx", (unsigned long long)++p->branch_counter);
	char *out = malloc(MAX_OUT);
	if (!out)
		return;
	size_t len = sip_build_response(req, status, reason, sip_str_make(tag, strlen(tag)), extra,
					SIP_STR_NULL, out, MAX_OUT);
	if (len <= MAX_OUT)
		send_upstream(pc, out, len, status);
	free(out);
}

/* An answer of the proxy's own making (not the daemon's). */
static void answer_local(struct sip_proxy_ctx *pc, unsigned status)
{
	reply_to(pc, pc->req, status, NULL, NULL);
}

void sip_proxy_reply(struct sip_proxy_ctx *pc, unsigned status, const char *reason, const char *extra)
{
	if (status >= 200)
		pc->owed = false;
	reply_to(pc, pc->req, status, reason, extra);
	/* an answer given late, after the server transaction ended (a CANCEL
	 * was answered meanwhile), is the last use of the context */
	if (!pc->st)
		ctx_maybe_free(pc);
}

/* Removes the first via-parm of a message: the whole top Via header, or
 * its first value when the header holds several. Returns -1 without one. */
static int pop_top_via(struct sip_msg *m)
{
	struct sip_hdr *via = m->first[SIP_HDR_VIA];
	if (!via || sip_hdr_parse(m, via, NULL) < 0 || !via->v.via)
		return -1;
	struct sip_via *v = via->v.via;
	if (!v->next) {
		sip_msg_remove_header(via);
		return 0;
	}
	/* keep the rest of the line: "Via: " + everything from the second value */
	const char *rest = v->next->text.s;
	size_t restlen = (size_t)(via->value.s + via->value.len - rest);
	char *line = malloc(restlen + 6);
	if (!line)
		return -1;
	memcpy(line, "Via: ", 5);
	memcpy(line + 5, rest, restlen);
	int r = sip_msg_replace_header(m, via, line, restlen + 5);
	free(line);
	return r;
}

/* Sends resp (a downstream response) upstream without our Via. */
static void relay_response(struct sip_proxy_ctx *pc, struct sip_msg *resp)
{
	struct sip_hdr *top = resp->first[SIP_HDR_VIA];
	bool last = top && sip_hdr_parse(resp, top, NULL) == 0 && top->v.via && !top->v.via->next &&
		    !top->next_same;
	if (pop_top_via(resp) < 0)
		return;
	unsigned status = resp->status;
	if (last) {
		/* no Via left: it was meant for us and must not be forwarded
		 * (16.7 step 3); a downstream that lost the caller's Vias
		 * still gets its final answer across, as ours */
		if (status >= 200 && pc->req)
			reply_to(pc, pc->req, status == 503 ? 500 : status, NULL, NULL);
		return;
	}
	if (status == 503) {
		/* a 503 from downstream must not make upstream think that we are
		 * unavailable (RFC 3261 16.7 step 6) */
		static const char sl[] = "SIP/2.0 500 Server Internal Error";
		sip_msg_set_start_line(resp, sl, sizeof(sl) - 1);
		status = 500;
	}
	char *out = malloc(MAX_OUT);
	if (!out)
		return;
	size_t len = sip_msg_serialize(resp, out, MAX_OUT);
	if (len <= MAX_OUT)
		send_upstream(pc, out, len, status);
	free(out);
}

/* ---- branches ------------------------------------------------------------ */

static void check_done(struct sip_proxy_ctx *pc);

static void send_cancel(struct branch *b)
{
	struct sip_proxy *p = b->pc->p;
	if (b->cancelled || !b->ct)
		return;
	b->cancelled = true;
	char out[8192];
	size_t len = sip_build_cancel(sip_txn_request_msg(b->ct), out, sizeof(out));
	if (len <= sizeof(out))
		sip_txn_request(p->txn, out, len, sip_txn_peer(b->ct), NULL);
	sip_txn_cancel_sent(b->ct);
}

/* Cancels a running INVITE branch: now if it has had a provisional
 * response, else as soon as it gets one (RFC 3261 9.1). */
static void cancel_branch(struct branch *b)
{
	if (b->state != B_RUNNING || !b->ct || !sip_txn_is_invite(b->ct))
		return;
	if (b->provisional)
		send_cancel(b);
	else
		b->cancel_wanted = true;
}

static void stop_resolving(struct branch *b)
{
	if (!b->dns)
		return;
	sip_resolve_cancel(b->dns);
	b->dns = NULL;
	b->pc->resolving--;
}

static void cancel_others(struct sip_proxy_ctx *pc, struct branch *except)
{
	for (unsigned i = 0; i < pc->nbr; i++) {
		struct branch *b = pc->br[i];
		if (b == except)
			continue;
		if (b->state == B_RUNNING) {
			cancel_branch(b);
		} else if (b->state == B_RESOLVING) {
			/* nothing was sent yet: nothing to CANCEL downstream */
			stop_resolving(b);
			b->state = B_DONE, b->status = 487;
		} else if (b->state == B_WAITING) {
			b->state = B_DONE, b->status = 487;
		}
	}
}

static void branch_fail(struct branch *b, unsigned status)
{
	b->state = B_DONE;
	b->status = status;
	ev_timer_stop(b->pc->p->loop, &b->timer_c);
}

/* Lets go of the current attempt's client transaction: it finishes its
 * retransmission duties (the ACK for a non-2xx) without us. */
static void drop_attempt(struct branch *b)
{
	if (!b->ct)
		return;
	sip_txn_set_user(b->ct, NULL);
	sip_txn_detach(b->ct);
	b->ct = NULL;
	b->pc->live_txns--;
}

/* Tells the resolver that the current attempt's address failed, so that
 * lists made meanwhile put it last; ms 0: the resolver's default. */
static void mark_failed(struct branch *b, uint32_t ms)
{
	struct sip_proxy *p = b->pc->p;
	if (b->targets && p->o.resolver)
		sip_resolver_mark_failed(p->o.resolver, &b->peer, ms);
}

/* Whether a branch whose attempt failed in the RFC 3263 4.3 sense (no
 * response at all, or a 503) may try its next address: not once the
 * caller may have heard an INVITE ring, and not when nobody wants the
 * answer any more (cancelled, answered, won or lost by another branch). */
static bool may_fail_over(const struct branch *b)
{
	const struct sip_proxy_ctx *pc = b->pc;
	return b->targets && b->targets->next < b->targets->count && !b->early &&
	       !b->cancel_wanted && !b->cancelled && !b->absorbed && pc->st && !pc->answered && !pc->cancelled &&
	       !pc->got_2xx && !pc->got_6xx;
}

static unsigned send_attempt(struct sip_proxy_ctx *pc, struct branch *b, const struct sip_peer *to);

/* Sends the branch's request to the next address of its list that takes
 * it. Returns true when an attempt runs; false when the list is used up
 * (*status then holds the last local failure, if there was one). */
static bool try_next_target(struct branch *b, unsigned *status)
{
	const struct sip_target *t;
	while (b->targets && (t = sip_targets_next(b->targets)) != NULL) {
		unsigned st = send_attempt(b->pc, b, &t->peer);
		if (!st)
			return true;
		*status = st;
	}
	return false;
}

/* The current attempt ended without any final response (Timer B/F, a
 * transport error, Timer C): its client transaction is gone. Without any
 * response at all the address counts as failed and the branch moves on to
 * the next one; otherwise the branch fails with status (487 when the
 * caller had cancelled it: that is what was asked for). */
static void attempt_lost(struct branch *b, unsigned status)
{
	struct sip_proxy_ctx *pc = b->pc;
	if (!b->provisional) {
		mark_failed(b, 0);
		if (may_fail_over(b) && try_next_target(b, &status)) {
			pc->p->stats.failovers++;
			return;
		}
	}
	if (b->cancel_wanted || b->cancelled)
		status = 487;
	branch_fail(b, status);
	check_done(pc);
}

static void on_timer_c(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct branch *b = arg;
	struct sip_proxy_ctx *pc = b->pc;
	(void)loop;
	(void)t;
	pc->p->stats.timer_c_fired++;
	if (b->state != B_RUNNING)
		return;
	if (b->provisional) {
		/* the UAS is ringing for too long: cancel; its 487 ends the branch */
		send_cancel(b);
		return;
	}
	/* no provisional at all: this attempt is dead (RFC 3261 16.8) */
	drop_attempt(b);
	attempt_lost(b, 408);
	ctx_maybe_free(pc);
}

/* Writes our Via line for a new branch into out. */
static int our_via(struct sip_proxy *p, struct sip_proxy_ctx *pc, enum sip_transport t, char *out,
		   size_t cap)
{
	uint16_t port = p->o.port[t] ? p->o.port[t] : p->o.port[SIP_TP_UDP];
	return snprintf(out, cap, "Via: SIP/2.0/%s %s:%u;branch=" BRANCH_PREFIX "%s.%llx",
			sip_transport_name(t), p->host, port, pc->loop_hash,
			(unsigned long long)++p->branch_counter);
}

static int rr_line(struct sip_proxy *p, enum sip_transport t, char *out, size_t cap)
{
	uint16_t port = p->o.port[t] ? p->o.port[t] : p->o.port[SIP_TP_UDP];
	if (t == SIP_TP_UDP)
		return snprintf(out, cap, "Record-Route: <sip:%s:%u;lr>", p->host, port);
	if (t == SIP_TP_TLS)
		return snprintf(out, cap, "Record-Route: <sips:%s:%u;lr>", p->host, port);
	return snprintf(out, cap, "Record-Route: <sip:%s:%u;transport=tcp;lr>", p->host, port);
}

/* The first Route value of a message, parsed, and its header. */
static struct sip_addr *top_route(struct sip_msg *m, struct sip_hdr **hdr)
{
	struct sip_hdr *h = m->first[SIP_HDR_ROUTE];
	*hdr = h;
	if (!h || sip_hdr_parse(m, h, NULL) < 0)
		return NULL;
	return h->v.addr;
}

/* Rewrites a list header (Route) to hold only the values from a on. */
static int keep_values_from(struct sip_msg *m, struct sip_hdr *h, const struct sip_addr *a)
{
	const char *rest = a->text.s;
	size_t restlen = (size_t)(h->value.s + h->value.len - rest);
	char *line = malloc(h->name.len + restlen + 3);
	if (!line)
		return -1;
	memcpy(line, h->name.s, h->name.len);
	memcpy(line + h->name.len, ": ", 2);
	memcpy(line + h->name.len + 2, rest, restlen);
	int r = sip_msg_replace_header(m, h, line, h->name.len + 2 + restlen);
	free(line);
	return r;
}

/* Drops the first value of a list header: the whole line when it is the
 * only one. */
static int pop_first_value(struct sip_msg *m, struct sip_hdr *h)
{
	if (!h->v.addr->next) {
		sip_msg_remove_header(h);
		return 0;
	}
	return keep_values_from(m, h, h->v.addr->next);
}

/* Sends the branch's request to one address in a new client transaction,
 * with our Via (a fresh branch id) and Record-Route for that transport: the
 * first attempt, and each failover. Returns 0, or the status the attempt
 * fails with locally. */
static unsigned send_attempt(struct sip_proxy_ctx *pc, struct branch *b, const struct sip_peer *to)
{
	struct sip_proxy *p = pc->p;
	struct sip_msg *m = pc->req;
	sip_msg_reset_edits(m);
	char line[1024];
	int n = snprintf(line, sizeof(line), "%.*s %.*s SIP/2.0", (int)m->method.len, m->method.s,
			 (int)b->urilen, b->uri);
	struct sip_hdr *rh;
	struct sip_addr *route = top_route(m, &rh);
	if (route && !route->uri.lr) {
		/* strict-routing next hop (RFC 3261 16.6 step 6): it gets the
		 * route as Request-URI, the target goes to the end of Route */
		n = snprintf(line, sizeof(line), "%.*s %.*s SIP/2.0", (int)m->method.len, m->method.s,
			     (int)route->uri.raw.len, route->uri.raw.s);
		pop_first_value(m, rh);
		char tail[1100];
		int k = snprintf(tail, sizeof(tail), "Route: <%.*s>", (int)b->urilen, b->uri);
		struct sip_hdr *after = m->last[SIP_HDR_ROUTE] + 1;
		sip_msg_insert_header(m, after < m->hdrs + m->hdr_count ? after : NULL, tail, (size_t)k);
	}
	if (n <= 0 || (size_t)n >= sizeof(line) ||
	    sip_msg_set_start_line(m, line, (size_t)n) < 0)
		return 414;
	/* Max-Forwards: decrement, or add one (16.6 step 3) */
	int mf = sip_msg_max_forwards(m, NULL);
	if (mf >= 0) {
		n = snprintf(line, sizeof(line), "Max-Forwards: %d", mf - 1);
		sip_msg_replace_header(m, m->first[SIP_HDR_MAX_FORWARDS], line, (size_t)n);
	} else {
		sip_msg_insert_header(m, &m->hdrs[0], "Max-Forwards: 70", 16);
	}
	/* our Via on top; Record-Route: one entry, or two when the transport
	 * changes so each side gets the address it can reach (RFC 5658) */
	n = our_via(p, pc, to->transport, line, sizeof(line));
	sip_msg_insert_header(m, &m->hdrs[0], line, (size_t)n);
	struct sip_addr *to_hdr = sip_msg_to(m, NULL);
	bool initial = to_hdr && !sip_str_present(to_hdr->tag);
	if (p->o.record_route && initial && m->method_id != SIP_METHOD_REGISTER) {
		struct sip_hdr *rr_at = m->first[SIP_HDR_RECORD_ROUTE] ? m->first[SIP_HDR_RECORD_ROUTE] : &m->hdrs[0];
		n = rr_line(p, to->transport, line, sizeof(line));
		sip_msg_insert_header(m, rr_at, line, (size_t)n);
		if (to->transport != pc->src.transport) {
			n = rr_line(p, pc->src.transport, line, sizeof(line));
			sip_msg_insert_header(m, rr_at, line, (size_t)n);
		}
	}
	char *out = malloc(MAX_OUT);
	if (!out)
		return 500;
	size_t len = sip_msg_serialize(m, out, MAX_OUT);
	b->ct = len <= MAX_OUT ? sip_txn_request(p->txn, out, len, to, b) : NULL;
	free(out);
	if (!b->ct)
		return len > MAX_OUT ? 513 : 500;
	b->peer = *to;
	b->provisional = false;
	b->cancelled = false;
	pc->live_txns++;
	p->stats.forwarded++;
	/* Timer C runs per attempt (initialised with the branch) */
	if (sip_txn_is_invite(b->ct))
		ev_timer_start(p->loop, &b->timer_c, p->o.timer_c_ms);
	else
		ev_timer_stop(p->loop, &b->timer_c);
	return 0;
}

/* The resolver's answer for a branch's next hop: the first attempt. */
static void on_resolved(void *arg, struct sip_targets *targets, enum sip_resolve_status status,
			const char *err)
{
	struct branch *b = arg;
	struct sip_proxy_ctx *pc = b->pc;
	(void)err;
	b->dns = NULL;
	pc->resolving--;
	b->state = B_RUNNING;
	b->targets = targets;
	if (status != SIP_RESOLVE_OK) {
		/* no such name: 404; DNS itself failing is our trouble: 503 */
		pc->p->stats.dns_failures++;
		bool none = status == SIP_RESOLVE_NXDOMAIN || status == SIP_RESOLVE_NODATA ||
			    status == SIP_RESOLVE_BADURI;
		branch_fail(b, none ? 404 : 503);
	} else {
		unsigned fail = 500;
		if (!try_next_target(b, &fail))
			branch_fail(b, fail);
	}
	check_done(pc);
	ctx_maybe_free(pc);
}

static void start_branch(struct sip_proxy_ctx *pc, struct branch *b)
{
	struct sip_proxy *p = pc->p;
	struct sip_uri target;
	b->state = B_RUNNING;
	if (sip_uri_parse(&target, b->uri, b->urilen, NULL) < 0) {
		branch_fail(b, 400);
		return;
	}
	/* the next hop: the top Route (loose or strict), else the outbound
	 * proxy the daemon chose for the target, else the target */
	sip_msg_reset_edits(pc->req);
	struct sip_hdr *rh;
	struct sip_addr *route = top_route(pc->req, &rh);
	struct sip_uri outbound;
	const struct sip_uri *hop = route ? &route->uri : &target;
	if (!route && b->hop) {
		if (sip_uri_parse(&outbound, b->hop, strlen(b->hop), NULL) < 0) {
			branch_fail(b, 500);
			return;
		}
		hop = &outbound;
	}
	struct sip_peer to;
	if (next_hop_peer(p, hop, &to) == 0) {
		unsigned st = send_attempt(pc, b, &to);
		if (st)
			branch_fail(b, st);
		return;
	}
	if (sip_str_caseeq_lit(hop->host, "") || !p->o.resolver) {
		branch_fail(b, sip_str_caseeq_lit(hop->host, "") ? 400 : 404);
		return;
	}
	/* the answer comes from the loop, never from inside sip_resolve */
	b->dns = sip_resolve(p->o.resolver, hop, on_resolved, b);
	if (!b->dns) {
		branch_fail(b, 500);
		return;
	}
	b->state = B_RESOLVING;
	pc->resolving++;
}

/* A target the daemon added for the current attempt (not one from a 3xx),
 * still waiting for its group. */
static bool waiting_top(const struct sip_proxy_ctx *pc, const struct branch *b)
{
	return b->state == B_WAITING && !b->parent && b->attempt == pc->attempt;
}

/* Starts every waiting target of the lowest waiting group of the current
 * attempt. Returns how many. */
static unsigned start_next_group(struct sip_proxy_ctx *pc)
{
	unsigned lowest = 0, started = 0;
	bool any = false;
	for (unsigned i = 0; i < pc->nbr; i++)
		if (waiting_top(pc, pc->br[i]) && (!any || pc->br[i]->group < lowest))
			lowest = pc->br[i]->group, any = true;
	if (!any)
		return 0;
	pc->group = lowest;
	for (unsigned i = 0; i < pc->nbr; i++)
		if (waiting_top(pc, pc->br[i]) && pc->br[i]->group == lowest) {
			start_branch(pc, pc->br[i]);
			started++;
		}
	return started;
}

/* Whether a is one of b's ancestors (b came from a's 3xx, or from a
 * 3xx of a target that did...). */
static bool descends_from(const struct branch *b, const struct branch *a)
{
	for (const struct branch *x = b->parent; x; x = x->parent)
		if (x == a)
			return true;
	return false;
}

/* Whether a branch's server failed, for failover-only recursion: it
 * sent no final response (the proxy made one up: a timeout, a transport
 * error, a next hop not located) or a 503 of its own, and never rang (an
 * INVITE provisional other than 100: it was alive). A branch that
 * redirected and whose Contacts were tried was answered. */
static bool server_failed(const struct branch *b)
{
	return !b->redirected && !b->early && (!b->heard || b->status == 503);
}

/* A failover-only redirect r whose tried Contacts have all ended: true
 * when every one of them failed as a server, and they are superseded by
 * the next group; otherwise one of them answered, and r's untried
 * Contacts are dropped (never started, never counted). */
static bool failover_next(struct sip_proxy_ctx *pc, struct branch *r)
{
	bool failed = true;
	for (unsigned j = 0; j < pc->nbr && failed; j++) {
		struct branch *x = pc->br[j];
		if (x->parent == r && x->state == B_DONE && !x->superseded)
			failed = server_failed(x);
	}
	for (unsigned j = 0; j < pc->nbr; j++) {
		struct branch *x = pc->br[j];
		if (x->parent != r)
			continue;
		if (failed && x->state == B_DONE)
			x->superseded = true;
		else if (!failed && x->state == B_WAITING)
			x->state = B_DONE, x->status = 487, x->superseded = true;
	}
	return failed;
}

/* Sequential forking of 3xx Contacts by q (RFC 3261 16.6 / 8.1.3.4): the
 * Contacts of one redirect run in groups of equal q, highest first, each
 * group once everything its predecessor led to (its own redirects'
 * Contacts included) has ended. A redirect is independent of its
 * siblings: its next group does not wait for other branches. Deeper
 * redirects go first, so a group's own Contacts finish before the next
 * group of its parent starts. */
static void advance_redirects(struct sip_proxy_ctx *pc)
{
	bool progress = true;
	while (progress) {
		progress = false;
		for (unsigned i = 0; i < pc->nbr; i++) {
			struct branch *r = pc->br[i];
			if (!r->redirected || r->attempt != pc->attempt || r->absorbed)
				continue;
			int top = -1;
			bool busy = false;
			for (unsigned j = 0; j < pc->nbr && !busy; j++) {
				struct branch *x = pc->br[j];
				if (!descends_from(x, r))
					continue;
				if (x->parent == r && x->state == B_WAITING)
					top = x->q > top ? x->q : top;
				else if (x->state != B_DONE)
					busy = true;
			}
			if (busy || top < 0)
				continue;
			if (r->failover_only && !failover_next(pc, r))
				continue;
			for (unsigned j = 0; j < pc->nbr; j++) {
				struct branch *x = pc->br[j];
				if (x->parent == r && x->state == B_WAITING && x->q == top)
					start_branch(pc, x);
			}
			progress = true;
		}
	}
}

/* The response to send upstream when every branch has failed (16.7 step
 * 6): a 6xx if any, else the lowest class, 3xx before 4xx before 5xx. */
static struct branch *best_branch(struct sip_proxy_ctx *pc)
{
	struct branch *best = NULL;
	for (unsigned i = 0; i < pc->nbr; i++) {
		struct branch *b = pc->br[i];
		if (b->state != B_DONE || b->status < 300 || b->redirected ||
		    b->attempt != pc->attempt || b->absorbed || b->superseded)
			continue;
		if (!best) {
			best = b;
			continue;
		}
		if (best->status >= 600)
			break;
		if (b->status >= 600 || b->status / 100 < best->status / 100 ||
		    (b->status / 100 == best->status / 100 && b->resp && !best->resp))
			best = b;
	}
	return best;
}

/* Sends the best final response, with every challenge of every 401/407
 * gathered into it (16.7 step 7), so that the UAC can answer all of them. */
static void answer_with_best(struct sip_proxy_ctx *pc)
{
	struct branch *best = best_branch(pc);
	if (!best) {
		answer_local(pc, 480);
		return;
	}
	if (!best->resp) {
		answer_local(pc, best->status);
		return;
	}
	struct sip_msg r;
	if (sip_msg_parse(&r, best->resp, best->resp_len, NULL, NULL) < 0) {
		sip_msg_free(&r);
		answer_local(pc, best->status);
		return;
	}
	if (best->status == 401 || best->status == 407) {
		for (unsigned i = 0; i < pc->nbr; i++) {
			struct branch *o = pc->br[i];
			if (o == best || !o->resp || (o->status != 401 && o->status != 407) ||
			    o->attempt != pc->attempt || o->absorbed || o->superseded)
				continue;
			struct sip_msg om;
			if (sip_msg_parse(&om, o->resp, o->resp_len, NULL, NULL) == 0) {
				static const enum sip_hdr_type kinds[] = {SIP_HDR_WWW_AUTHENTICATE,
									  SIP_HDR_PROXY_AUTHENTICATE};
				for (size_t k = 0; k < 2; k++)
					for (struct sip_hdr *h = om.first[kinds[k]]; h; h = h->next_same)
						sip_msg_insert_header(&r, NULL, h->line.s, h->line.len);
			}
			sip_msg_free(&om);
		}
	}
	relay_response(pc, &r);
	sip_msg_free(&r);
}

/* The current attempt ended without a 2xx (timed_out: by its timeout,
 * its branches being cancelled and absorbed). The failed hook may take
 * over; otherwise the best response goes upstream. */
static void attempt_ended(struct sip_proxy_ctx *pc, bool timed_out)
{
	struct sip_proxy *p = pc->p;
	pc->in_attempt = false;
	pc->timed_out = timed_out;
	ev_timer_stop(p->loop, &pc->attempt_timer);
	struct branch *best = timed_out ? NULL : best_branch(pc);
	pc->best = best;
	if (p->h.failed && pc->st && !pc->cancelled && !pc->answered) {
		unsigned status = timed_out ? 408 : best ? best->status : 480;
		/* the hook gets a copy: what it calls may free the branch's */
		struct sip_msg m;
		char *copy = best && best->resp ? malloc(best->resp_len) : NULL;
		bool parsed = false;
		if (copy) {
			memcpy(copy, best->resp, best->resp_len);
			parsed = sip_msg_parse(&m, copy, best->resp_len, NULL, NULL) == 0;
			if (!parsed)
				sip_msg_free(&m);
		}
		pc->owed = true;
		bool took = p->h.failed(p->h.ctx, pc, status, parsed ? &m : NULL);
		if (parsed)
			sip_msg_free(&m);
		free(copy);
		if (took)
			return;
		pc->owed = false;
		if (pc->in_attempt || pc->answered)
			return; /* it started or answered all the same */
	}
	if (timed_out)
		answer_local(pc, 408);
	else
		answer_with_best(pc);
}

static bool branch_live(const struct branch *b)
{
	return b->state == B_RUNNING || b->state == B_RESOLVING;
}

static void check_done(struct sip_proxy_ctx *pc)
{
	if (!pc->in_attempt || pc->got_2xx || pc->answered)
		return;
	bool go_on = !pc->got_6xx && !pc->cancelled;
	if (go_on)
		advance_redirects(pc);
	for (unsigned i = 0; i < pc->nbr; i++)
		if (pc->br[i]->attempt == pc->attempt && !pc->br[i]->absorbed && branch_live(pc->br[i]))
			return;
	if (go_on && start_next_group(pc) > 0) {
		check_done(pc); /* every branch of the group may have failed at once */
		return;
	}
	attempt_ended(pc, false);
}

/* The attempt's timeout (sip_proxy_set_timeout): no 2xx in time. Its
 * branches are cancelled (INVITE: once they have had a provisional, RFC
 * 3261 9.1) and absorbed: their 487s are not waited for. */
static void on_attempt_timeout(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct sip_proxy_ctx *pc = arg;
	(void)loop;
	(void)t;
	if (!pc->in_attempt || pc->got_2xx || pc->answered || pc->cancelled)
		return;
	pc->p->stats.attempt_timeouts++;
	for (unsigned i = 0; i < pc->nbr; i++) {
		struct branch *b = pc->br[i];
		if (b->attempt != pc->attempt)
			continue;
		if (b->state == B_RUNNING) {
			b->absorbed = true;
			cancel_branch(b);
		} else if (b->state == B_RESOLVING) {
			stop_resolving(b);
			b->state = B_DONE, b->status = 487;
		} else if (b->state == B_WAITING) {
			b->state = B_DONE, b->status = 487;
		}
	}
	attempt_ended(pc, true);
	ctx_maybe_free(pc);
}

/* A Contact's q in thousandths (RFC 3261 20.10); 1000 without one, or
 * with one that is not a qvalue. */
static uint16_t contact_q(const struct sip_addr *a)
{
	const struct sip_param *pq = sip_param_find(a->params, "q");
	if (!pq || !pq->value.len || (pq->value.s[0] != '0' && pq->value.s[0] != '1'))
		return 1000;
	sip_str v = pq->value;
	unsigned q = (unsigned)(v.s[0] - '0') * 1000, scale = 100;
	if (v.len > 1 && (v.s[1] != '.' || v.len > 5))
		return 1000;
	for (size_t i = 2; i < v.len; i++, scale /= 10) {
		if (v.s[i] < '0' || v.s[i] > '9')
			return 1000;
		q += (unsigned)(v.s[i] - '0') * scale;
	}
	return q > 1000 ? 1000 : (uint16_t)q;
}

#define MAX_CONTACTS 64

/* The Contacts of a message that are URIs (not "*"), highest q first,
 * in their order among equal q. Returns how many (at most cap). */
static unsigned contacts_by_q(struct sip_msg *m, const struct sip_addr **out, unsigned cap)
{
	unsigned n = 0;
	for (struct sip_hdr *h = m->first[SIP_HDR_CONTACT]; h && n < cap; h = h->next_same) {
		if (sip_hdr_parse(m, h, NULL) < 0)
			continue;
		for (struct sip_addr *a = h->v.addr; a && n < cap; a = a->next) {
			if (a->star)
				continue;
			/* insertion sort, stable: after every entry of q >= this one */
			uint16_t q = contact_q(a);
			unsigned at = n;
			while (at > 0 && contact_q(out[at - 1]) < q) {
				out[at] = out[at - 1];
				at--;
			}
			out[at] = a;
			n++;
		}
	}
	return n;
}

/* Adds the Contacts of a 3xx as new targets (16.7 step 4), children of b,
 * highest q first so that max_branches cuts the least wanted; the next
 * check_done starts them, by q (advance_redirects). */
static bool recurse_redirect(struct sip_proxy_ctx *pc, struct branch *b, struct sip_msg *resp)
{
	const struct sip_addr *c[MAX_CONTACTS];
	unsigned n = contacts_by_q(resp, c, MAX_CONTACTS);
	bool added = false;
	for (unsigned k = 0; k < n; k++) {
		const struct sip_addr *a = c[k];
		if (a->uri.scheme != SIP_URI_SIP && a->uri.scheme != SIP_URI_SIPS)
			continue;
		bool seen = false;
		for (unsigned i = 0; i < pc->nbr && !seen; i++)
			seen = pc->br[i]->urilen == a->uri.raw.len &&
			       memcmp(pc->br[i]->uri, a->uri.raw.s, a->uri.raw.len) == 0;
		if (seen || sip_proxy_add_target(pc, a->uri.raw.s, a->uri.raw.len, b->group) < 0)
			continue;
		struct branch *nb = pc->br[pc->nbr - 1];
		nb->parent = b;
		nb->q = contact_q(a);
		added = true;
	}
	return added;
}

/* ---- transaction layer hooks --------------------------------------------- */

/* How long a 503's Retry-After asks us to leave its sender alone; 0 for
 * the resolver's default. */
static uint32_t retry_after_ms(struct sip_msg *resp)
{
	struct sip_hdr *h = resp->first[SIP_HDR_RETRY_AFTER];
	if (!h || sip_hdr_parse(resp, h, NULL) < 0 || !h->v.retry)
		return 0;
	uint32_t s = h->v.retry->seconds;
	return s > 86400 ? 86400u * 1000u : s * 1000u;
}

static void hook_response(void *ctx, struct sip_txn *ct, struct sip_msg *resp)
{
	struct branch *b = sip_txn_user(ct);
	(void)ctx;
	if (!b)
		return; /* a CANCEL's own response */
	struct sip_proxy_ctx *pc = b->pc;
	struct sip_proxy *p = pc->p;
	unsigned code = resp->status;
	if (code < 200) {
		b->provisional = true;
		if (code > 100 && sip_txn_is_invite(ct))
			b->early = true;
		if (b->cancel_wanted)
			send_cancel(b);
		if (code == 100)
			return;
		if (ev_timer_active(&b->timer_c))
			ev_timer_start(p->loop, &b->timer_c, p->o.timer_c_ms);
		/* an absorbed branch's ringing belongs to an attempt that is over */
		if (!pc->answered && !b->absorbed)
			relay_response(pc, resp);
		return;
	}
	if (code < 300) {
		/* every 2xx goes up, retransmissions and other forks' too, and
		 * those of earlier attempts' branches (the call is answered) */
		ev_timer_stop(p->loop, &b->timer_c);
		b->state = B_DONE;
		b->status = code;
		relay_response(pc, resp);
		if (!pc->got_2xx) {
			pc->got_2xx = true;
			ev_timer_stop(p->loop, &pc->attempt_timer);
			if (sip_txn_is_invite(ct))
				cancel_others(pc, b);
		}
		ctx_shrink(pc);
		return;
	}
	if (b->state == B_DONE)
		return;
	if (b->absorbed) {
		/* the 487 of a branch the timeout cancelled: nobody waits for it */
		branch_fail(b, code);
		ctx_shrink(pc);
		return;
	}
	if (code == 503) {
		/* the address is overloaded or down for a while (RFC 3263 4.3): on
		 * to the next, with a new transaction; the caller never sees it */
		mark_failed(b, retry_after_ms(resp));
		if (may_fail_over(b)) {
			drop_attempt(b);
			unsigned fail = 503;
			if (try_next_target(b, &fail)) {
				p->stats.failovers++;
				return;
			}
			branch_fail(b, fail);
			check_done(pc);
			return;
		}
	}
	branch_fail(b, code);
	b->heard = true;
	b->resp = malloc(resp->len);
	if (b->resp) {
		memcpy(b->resp, resp->buf, resp->len);
		b->resp_len = resp->len;
	}
	if (code >= 600 && sip_txn_is_invite(ct)) {
		pc->got_6xx = true;
		cancel_others(pc, b);
	} else if (code < 400 && pc->recurse && !pc->cancelled && !pc->got_2xx &&
		   pc->in_attempt && b->attempt == pc->attempt) {
		b->failover_only = p->h.recursion &&
				   p->h.recursion(p->h.ctx, pc, resp) == SIP_PROXY_RECURSE_FAILOVER;
		b->redirected = recurse_redirect(pc, b, resp);
	}
	check_done(pc);
	ctx_shrink(pc);
}

static void hook_terminated(void *ctx, struct sip_txn *t, enum sip_txn_end why)
{
	(void)ctx;
	if (sip_txn_is_server(t)) {
		struct sip_proxy_ctx *pc = sip_txn_user(t);
		if (!pc)
			return;
		pc->st = NULL;
		if (!pc->answered)
			cancel_others(pc, NULL); /* nobody left to answer to */
		ctx_maybe_free(pc);
		return;
	}
	struct branch *b = sip_txn_user(t);
	if (!b)
		return;
	struct sip_proxy_ctx *pc = b->pc;
	b->ct = NULL;
	pc->live_txns--;
	if (b->state == B_RUNNING) {
		if (why == SIP_TXN_END_NORMAL) {
			branch_fail(b, 503);
			check_done(pc);
		} else {
			attempt_lost(b, why == SIP_TXN_END_TIMEOUT ? 408 : 503);
		}
	}
	ctx_maybe_free(pc);
}

static void handle_cancel(struct sip_proxy *p, struct sip_txn *st)
{
	struct sip_txn *inv = sip_txn_cancelled(p->txn, st);
	struct sip_proxy_ctx *pc = inv ? sip_txn_user(inv) : NULL;
	if (!pc) {
		sip_txn_reply(st, 481, NULL, NULL);
		return;
	}
	p->stats.cancels++;
	sip_txn_reply(st, 200, NULL, NULL);
	if (pc->cancelled || pc->answered)
		return;
	pc->cancelled = true;
	ev_timer_stop(p->loop, &pc->attempt_timer);
	cancel_others(pc, NULL);
	/* nothing of the current attempt runs (routing still pending, or the
	 * daemon deciding what follows a failed attempt, whose absorbed
	 * branches do not count): answer ourselves; otherwise the branches'
	 * 487s end the attempt, and check_done answers */
	bool running = false;
	for (unsigned i = 0; i < pc->nbr && pc->in_attempt; i++)
		running |= pc->br[i]->state == B_RUNNING && pc->br[i]->attempt == pc->attempt &&
			   !pc->br[i]->absorbed;
	if (!running)
		answer_local(pc, 487);
}

/* The top Via with received and rport filled in (RFC 3261 18.2.1, RFC
 * 3581), so responses find their way back through NATs. */
static void stamp_top_via(struct sip_msg *m, const struct sip_peer *src)
{
	struct sip_hdr *h = m->first[SIP_HDR_VIA];
	struct sip_via *v = h ? h->v.via : NULL;
	if (!v)
		return;
	char ip[64];
	sip_peer_format(src, ip, sizeof(ip));
	char *colon = strrchr(ip, ':');
	if (colon)
		*colon = 0;
	const char *ip_bare = ip;
	char unbr[64];
	if (ip[0] == '[') { /* received carries IPv6 without brackets (RFC 5118) */
		snprintf(unbr, sizeof(unbr), "%.*s", (int)strlen(ip) - 2, ip + 1);
		ip_bare = unbr;
	}
	bool need_received = !sip_str_caseeq_lit(v->host, ip) && !sip_str_caseeq_lit(v->host, ip_bare);
	bool need_rport = v->rport && !v->rport_value;
	if (!need_received && !need_rport)
		return;
	const struct sip_param *rp = NULL;
	for (const struct sip_param *q = v->params; q; q = q->next)
		if (sip_str_caseeq_lit(q->name, "rport"))
			rp = q;
	char line[2048];
	struct sip_out o = {line, sizeof(line), 0};
	sip_out_put(&o, "Via: ", 5);
	if (need_rport && rp) {
		const char *split = rp->name.s + rp->name.len;
		sip_out_put(&o, v->text.s, (size_t)(split - v->text.s));
		sip_out_printf(&o, "=%u", sip_peer_port(src));
		sip_out_put(&o, split, (size_t)(v->text.s + v->text.len - split));
	} else {
		sip_out_str(&o, v->text);
	}
	if (need_received || need_rport)
		sip_out_printf(&o, ";received=%s", ip_bare);
	if (v->next) {
		const char *rest = v->text.s + v->text.len;
		sip_out_put(&o, rest, (size_t)(h->value.s + h->value.len - rest));
	}
	if (o.len <= sizeof(line))
		sip_msg_replace_header(m, h, line, o.len);
}

/* Route pre-processing (16.4): undo a strict router's rewrite, and drop
 * the Route entries that name us. */
/* A Request-URI whose maddr names us (16.4): maddr, port and transport
 * go, and the request is routed as if they had never been there (the
 * redirect server sends a call to a subscriber's own marshal this way). */
static void strip_our_maddr(struct sip_proxy *p, struct sip_msg *m)
{
	const struct sip_uri *u = &m->ruri;
	if (!u->maddr.len || !sip_str_caseeq_lit(u->maddr, p->host))
		return;
	enum sip_transport t = uri_transport(u);
	if (p->o.port[t] != (u->has_port ? u->port : default_port(u, t)))
		return;
	char line[2048];
	struct sip_out o = {line, sizeof(line), 0};
	sip_out_printf(&o, "%.*s %.*s:", (int)m->method.len, m->method.s, (int)u->scheme_name.len,
		       u->scheme_name.s);
	if (u->user.len)
		sip_out_printf(&o, "%.*s@", (int)u->user.len, u->user.s);
	sip_out_str(&o, u->host);
	sip_str cur = u->params, name, value;
	while (sip_uri_param_next(&cur, &name, &value)) {
		if (sip_str_caseeq_lit(name, "maddr") || sip_str_caseeq_lit(name, "transport"))
			continue;
		sip_out_printf(&o, ";%.*s", (int)name.len, name.s);
		if (value.s)
			sip_out_printf(&o, "=%.*s", (int)value.len, value.s);
	}
	sip_out_put(&o, " SIP/2.0", 8);
	if (o.len <= sizeof(line))
		sip_msg_set_start_line(m, line, o.len);
}

static bool preprocess_routes(struct sip_proxy *p, struct sip_msg *m)
{
	bool ours = false;
	if (uri_is_us(p, &m->ruri) && m->last[SIP_HDR_ROUTE]) {
		struct sip_hdr *last = m->last[SIP_HDR_ROUTE];
		if (sip_hdr_parse(m, last, NULL) == 0 && last->v.addr) {
			struct sip_addr *a = last->v.addr;
			while (a->next)
				a = a->next;
			char line[2048];
			int n = snprintf(line, sizeof(line), "%.*s %.*s SIP/2.0", (int)m->method.len,
					 m->method.s, (int)a->uri.raw.len, a->uri.raw.s);
			if (n > 0 && (size_t)n < sizeof(line) && !last->v.addr->next) {
				sip_msg_set_start_line(m, line, (size_t)n);
				sip_msg_remove_header(last);
				ours = true;
			}
		}
	}
	/* every leading entry that is us goes: with double Record-Route (a
	 * transport change) there are two in a row */
	for (struct sip_hdr *h = m->first[SIP_HDR_ROUTE]; h; h = h->next_same) {
		if (h->removed || sip_hdr_parse(m, h, NULL) < 0)
			break;
		struct sip_addr *a = h->v.addr;
		while (a && uri_is_us(p, &a->uri))
			a = a->next;
		ours |= a != h->v.addr;
		if (!a) {
			sip_msg_remove_header(h);
			continue;
		}
		if (a != h->v.addr)
			keep_values_from(m, h, a);
		break;
	}
	return ours;
}

static bool unsupported_proxy_require(struct sip_proxy *p, struct sip_msg *m, char *out, size_t cap)
{
	struct sip_out o = {out, cap - 1, 0};
	for (struct sip_hdr *h = m->first[SIP_HDR_PROXY_REQUIRE]; h; h = h->next_same) {
		if (sip_hdr_parse(m, h, NULL) < 0)
			continue;
		for (struct sip_list_item *it = h->v.list; it; it = it->next) {
			bool ok = false;
			const char *s = p->supported;
			while (*s && !ok) {
				const char *e = strchr(s, ',');
				size_t n = e ? (size_t)(e - s) : strlen(s);
				ok = sip_str_caseeq(it->value, sip_str_make(s, n));
				s += n + (e ? 1 : 0);
			}
			if (!ok) {
				sip_out_put(&o, o.len ? ", " : "Unsupported: ", o.len ? 2 : 13);
				sip_out_str(&o, it->value);
			}
		}
	}
	if (!o.len || o.len + 2 > o.cap)
		return o.len > 0;
	sip_out_put(&o, "\r\n", 2);
	out[o.len] = 0;
	return true;
}

static bool is_loop(struct sip_proxy *p, struct sip_msg *m, const char *hash)
{
	size_t pl = sizeof(BRANCH_PREFIX) - 1;
	for (struct sip_hdr *h = m->first[SIP_HDR_VIA]; h; h = h->next_same) {
		if (sip_hdr_parse(m, h, NULL) < 0)
			continue;
		for (struct sip_via *v = h->v.via; v; v = v->next)
			if (via_is_us(p, v) && v->branch.len > pl + 16 &&
			    memcmp(v->branch.s, BRANCH_PREFIX, pl) == 0 &&
			    memcmp(v->branch.s + pl, hash, 16) == 0)
				return true;
	}
	return false;
}

static void hook_request(void *ctx, struct sip_txn *st, struct sip_msg *req)
{
	struct sip_proxy *p = ctx;
	p->stats.requests++;
	if (req->method_id == SIP_METHOD_CANCEL) {
		handle_cancel(p, st);
		return;
	}
	struct sip_proxy_ctx *pc = calloc(1, sizeof(*pc));
	if (!pc) {
		sip_txn_reply(st, 500, NULL, NULL);
		return;
	}
	p->stats.contexts++;
	p->stats.unanswered++;
	pc->p = p;
	pc->st = st;
	ev_timer_init(&pc->attempt_timer, on_attempt_timeout, pc);
	pc->recurse_next = -1;
	pc->src = *sip_txn_peer(st);
	sip_txn_set_user(st, pc);
	compute_loop_hash(req, pc->loop_hash);

	pc->next = p->contexts;
	if (p->contexts)
		p->contexts->prev = pc;
	p->contexts = pc;

	/* validation (16.3), on the request as received */
	char extra[512];
	unsigned status = 0;
	if (req->ruri.scheme == SIP_URI_OTHER)
		status = 416;
	else if (sip_msg_max_forwards(req, NULL) == 0)
		status = 483, p->stats.too_many_hops++;
	else if (is_loop(p, req, pc->loop_hash))
		status = 482, p->stats.loops++;
	else if (unsupported_proxy_require(p, req, extra, sizeof(extra)))
		status = 420;
	if (status) {
		reply_to(pc, req, status, NULL, status == 420 ? extra : NULL);
		ctx_maybe_free(pc);
		return;
	}

	/* our own copy, with received/rport and Route pre-processing applied */
	stamp_top_via(req, &pc->src);
	pc->routed_to_us = preprocess_routes(p, req);
	strip_our_maddr(p, req);
	size_t need = sip_msg_serialize(req, NULL, 0);
	pc->buf = malloc(need);
	if (pc->buf)
		pc->len = sip_msg_serialize(req, pc->buf, need);
	sip_msg_reset_edits(req);
	pc->req = pc->buf ? malloc(sizeof(*pc->req)) : NULL;
	if (!pc->req || sip_msg_parse(pc->req, pc->buf, pc->len, NULL, NULL) < 0 ||
	    sip_msg_check(pc->req, NULL) < 0) {
		reply_to(pc, req, 500, NULL, NULL);
		ctx_maybe_free(pc);
		return;
	}

	struct sip_msg *m = pc->req;
	struct sip_addr *to = sip_msg_to(m, NULL);
	bool in_dialog = to && sip_str_present(to->tag);
	bool routed = m->first[SIP_HDR_ROUTE] || (in_dialog && !uri_is_us(p, &m->ruri));
	if (!p->h.route || (routed && !p->o.route_all)) {
		sip_proxy_forward(pc);
		return;
	}
	pc->owed = true;
	p->h.route(p->h.ctx, pc, m);
	/* answered by the hook itself (a challenge, a refusal): the request
	 * copy goes now, not when the transaction ends 32 s later */
	if (pc->answered)
		ctx_maybe_free(pc);
}

/* Sends an ACK (Max-Forwards done) to its next hop with our Via on top,
 * whose branch depends only on the ACK (16.11: the same ACK always gets the
 * same one). */
static void send_ack(struct sip_proxy *p, struct sip_msg *ack, const char *hash,
		     const struct sip_peer *to)
{
	char line[256];
	uint16_t port = p->o.port[to->transport] ? p->o.port[to->transport] : p->o.port[SIP_TP_UDP];
	int n = snprintf(line, sizeof(line), "Via: SIP/2.0/%s %s:%u;branch=" BRANCH_PREFIX "%s.ack",
			 sip_transport_name(to->transport), p->host, port, hash);
	sip_msg_insert_header(ack, &ack->hdrs[0], line, (size_t)n);
	char *out = malloc(MAX_OUT);
	size_t len = out ? sip_msg_serialize(ack, out, MAX_OUT) : MAX_OUT + 1;
	if (len <= MAX_OUT && p->h.send(p->h.ctx, to, out, len) == 0)
		p->stats.acks_forwarded++;
	free(out);
}

static void ack_hold_free(struct ack_hold *h)
{
	struct sip_proxy *p = h->p;
	if (h->prev)
		h->prev->next = h->next;
	else
		p->acks = h->next;
	if (h->next)
		h->next->prev = h->prev;
	sip_resolve_cancel(h->dns);
	free(h->buf);
	free(h);
}

/* A held ACK's next hop is located: it goes to the first address (an ACK
 * has no transaction, so nothing tells us to try another). */
static void on_ack_resolved(void *arg, struct sip_targets *targets, enum sip_resolve_status status,
			    const char *err)
{
	struct ack_hold *h = arg;
	(void)err;
	h->dns = NULL;
	const struct sip_target *t = status == SIP_RESOLVE_OK ? sip_targets_next(targets) : NULL;
	struct sip_msg m;
	if (t && sip_msg_parse(&m, h->buf, h->len, NULL, NULL) == 0)
		send_ack(h->p, &m, h->hash, &t->peer);
	if (t)
		sip_msg_free(&m);
	if (status != SIP_RESOLVE_OK)
		h->p->stats.dns_failures++;
	sip_targets_free(targets);
	ack_hold_free(h);
}

/* Keeps a copy of ack until the resolver has located hop. */
static void hold_ack(struct sip_proxy *p, struct sip_msg *ack, const struct sip_uri *hop,
		     const char *hash)
{
	struct ack_hold *h = calloc(1, sizeof(*h));
	size_t need = sip_msg_serialize(ack, NULL, 0);
	if (!h || !(h->buf = malloc(need))) {
		free(h);
		return;
	}
	h->p = p;
	h->len = sip_msg_serialize(ack, h->buf, need);
	memcpy(h->hash, hash, sizeof(h->hash));
	h->next = p->acks;
	if (p->acks)
		p->acks->prev = h;
	p->acks = h;
	h->dns = sip_resolve(p->o.resolver, hop, on_ack_resolved, h);
	if (!h->dns)
		ack_hold_free(h);
}

/* An ACK for a 2xx (or a stray one) is forwarded statelessly along its
 * Route (16.11 rules for the branch: the same ACK always gets the same). */
static void hook_ack(void *ctx, struct sip_msg *ack, const struct sip_peer *from)
{
	struct sip_proxy *p = ctx;
	(void)from;
	preprocess_routes(p, ack);
	struct sip_hdr *rh;
	struct sip_addr *route = top_route(ack, &rh);
	while (route && rh && rh->removed)
		route = (rh = rh->next_same) && sip_hdr_parse(ack, rh, NULL) == 0 ? rh->v.addr : NULL;
	const struct sip_uri *hop = route ? &route->uri : &ack->ruri;
	if (!route && uri_is_us(p, &ack->ruri))
		goto done; /* for us: nothing to forward */
	int mf = sip_msg_max_forwards(ack, NULL);
	if (mf == 0)
		goto done;
	struct sip_peer to;
	bool known = next_hop_peer(p, hop, &to) == 0;
	if (!known && (!p->o.resolver || sip_str_caseeq_lit(hop->host, "")))
		goto done;
	if (mf > 0) {
		char line[64];
		int n = snprintf(line, sizeof(line), "Max-Forwards: %d", mf - 1);
		sip_msg_replace_header(ack, ack->first[SIP_HDR_MAX_FORWARDS], line, (size_t)n);
	}
	char hash[17];
	compute_loop_hash(ack, hash);
	if (known)
		send_ack(p, ack, hash, &to);
	else
		hold_ack(p, ack, hop, hash);
done:
	sip_msg_reset_edits(ack);
}

/* A 2xx that matches no transaction any more (its INVITE client
 * transaction has ended) still belongs upstream (16.7, RFC 6026). */
static void hook_stray(void *ctx, struct sip_msg *resp, const struct sip_peer *from)
{
	struct sip_proxy *p = ctx;
	(void)from;
	if (resp->status < 200 || resp->status >= 300)
		return;
	struct sip_hdr *h = resp->first[SIP_HDR_VIA];
	if (!h || sip_hdr_parse(resp, h, NULL) < 0 || !via_is_us(p, h->v.via))
		return;
	struct sip_via *next = h->v.via->next;
	if (!next && h->next_same && sip_hdr_parse(resp, h->next_same, NULL) == 0)
		next = h->next_same->v.via;
	if (!next)
		return;
	int t = sip_transport_from_name(next->transport.s, next->transport.len);
	sip_str host = next->received.len ? next->received : next->host;
	uint16_t port = next->rport_value ? next->rport_value : next->has_port ? next->port : 5060;
	struct sip_peer to;
	if (t < 0 || sip_peer_from_numeric(&to, (enum sip_transport)t, host.s, host.len, port) < 0)
		return;
	if (pop_top_via(resp) < 0)
		return;
	char *out = malloc(MAX_OUT);
	size_t len = out ? sip_msg_serialize(resp, out, MAX_OUT) : MAX_OUT + 1;
	if (len <= MAX_OUT && p->h.send(p->h.ctx, &to, out, len) == 0)
		p->stats.stray_2xx_forwarded++;
	free(out);
}

static int hook_send(void *ctx, const struct sip_peer *to, const char *buf, size_t len)
{
	struct sip_proxy *p = ctx;
	return p->h.send(p->h.ctx, to, buf, len);
}

static unsigned hook_admit(void *ctx, struct sip_msg *req, const struct sip_peer *from, char *extra,
			   size_t cap)
{
	struct sip_proxy *p = ctx;
	return p->h.admit(p->h.ctx, req, from, extra, cap);
}

/* ---- public -------------------------------------------------------------- */

struct sip_proxy *sip_proxy_new(struct ev_loop *loop, const struct sip_proxy_opts *opts,
				const struct sip_proxy_hooks *hooks)
{
	struct sip_proxy *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->loop = loop;
	p->o = *opts;
	p->h = *hooks;
	snprintf(p->host, sizeof(p->host), "%s", opts->host ? opts->host : "127.0.0.1");
	snprintf(p->supported, sizeof(p->supported), "%s", opts->supported ? opts->supported : "");
	p->o.supported = p->supported;
	if (!p->o.timer_c_ms)
		p->o.timer_c_ms = 180000;
	if (!p->o.max_branches)
		p->o.max_branches = 16;
	struct sip_txn_hooks th = {
		.ctx = p, .send = hook_send, .request = hook_request, .ack = hook_ack,
		.response = hook_response, .stray_response = hook_stray, .terminated = hook_terminated,
		.admit = hooks->admit ? hook_admit : NULL,
	};
	/* a proxy sends 100 Trying for an INVITE at once (16.2) */
	struct sip_txn_timers timers = opts->timers;
	timers.trying_100 = 0;
	p->txn = sip_txn_layer_new(loop, &timers, &th);
	if (!p->txn) {
		free(p);
		return NULL;
	}
	return p;
}

void sip_proxy_free(struct sip_proxy *p)
{
	if (!p)
		return;
	/* contexts first: freeing them detaches their transactions and
	 * drops their pending DNS */
	while (p->contexts) {
		p->contexts->st = NULL;
		ctx_free(p->contexts);
	}
	while (p->acks)
		ack_hold_free(p->acks);
	sip_txn_layer_free(p->txn);
	free(p);
}

void sip_proxy_input(struct sip_proxy *p, const char *buf, size_t len, const struct sip_peer *from)
{
	sip_txn_input(p->txn, buf, len, from);
}

int sip_proxy_add_target(struct sip_proxy_ctx *pc, const char *uri, size_t len, unsigned group)
{
	if (pc->nbr >= pc->p->o.max_branches || len == 0)
		return -1;
	struct sip_uri u;
	if (sip_uri_parse(&u, uri, len, NULL) < 0)
		return -1;
	if (pc->nbr == pc->cap) {
		unsigned cap = pc->cap ? pc->cap * 2 : 2;
		if (cap > pc->p->o.max_branches)
			cap = pc->p->o.max_branches;
		struct branch **v = realloc(pc->br, cap * sizeof(*v));
		if (!v)
			return -1;
		pc->br = v;
		pc->cap = cap;
	}
	struct branch *b = calloc(1, sizeof(*b));
	if (!b || !(b->uri = malloc(len + 1))) {
		free(b);
		return -1;
	}
	memcpy(b->uri, uri, len);
	b->uri[len] = 0;
	b->urilen = len;
	b->group = group;
	b->pc = pc;
	b->hop = NULL;
	const char *hop = pc->p->h.outbound ? pc->p->h.outbound(pc->p->h.ctx, pc, &u) : NULL;
	if (hop && !(b->hop = strdup(hop))) {
		free(b->uri);
		free(b);
		return -1;
	}
	b->state = B_WAITING;
	b->q = 1000;
	/* during an attempt (3xx recursion) a target joins it; otherwise it
	 * is for the attempt the next sip_proxy_start begins */
	b->attempt = pc->in_attempt ? pc->attempt : pc->attempt + 1;
	ev_timer_init(&b->timer_c, on_timer_c, b);
	pc->br[pc->nbr++] = b;
	return 0;
}

void sip_proxy_start(struct sip_proxy_ctx *pc)
{
	struct sip_proxy *p = pc->p;
	pc->started = true;
	pc->owed = false;
	if (pc->in_attempt)
		return; /* one is running: the targets join it as they come */
	unsigned timeout = pc->timeout_ms;
	pc->timeout_ms = 0;
	if (pc->cancelled || pc->answered) {
		pc->recurse_next = -1;
		/* too late (a CANCEL, a late 2xx): the targets never go out */
		for (unsigned i = 0; i < pc->nbr; i++)
			if (pc->br[i]->state == B_WAITING)
				pc->br[i]->state = B_DONE, pc->br[i]->status = 487;
		ctx_maybe_free(pc);
		return;
	}
	pc->attempt++;
	pc->in_attempt = true;
	pc->got_6xx = false;
	pc->timed_out = false;
	pc->best = NULL;
	pc->recurse = pc->recurse_next < 0 ? p->o.recurse_3xx : pc->recurse_next > 0;
	pc->recurse_next = -1;
	if (pc->attempt > 1)
		p->stats.reattempts++;
	if (timeout)
		ev_timer_start(p->loop, &pc->attempt_timer, timeout);
	if (!start_next_group(pc)) {
		pc->in_attempt = false;
		ev_timer_stop(p->loop, &pc->attempt_timer);
		answer_local(pc, 480);
	} else {
		check_done(pc);
	}
	ctx_maybe_free(pc);
}

void sip_proxy_set_timeout(struct sip_proxy_ctx *pc, unsigned ms) { pc->timeout_ms = ms; }
void sip_proxy_set_recurse(struct sip_proxy_ctx *pc, bool recurse) { pc->recurse_next = recurse; }
bool sip_proxy_timed_out(const struct sip_proxy_ctx *pc) { return pc->timed_out; }
bool sip_proxy_answered(const struct sip_proxy_ctx *pc) { return pc->answered; }

unsigned sip_proxy_best_contacts(const struct sip_proxy_ctx *pc, const char **out, unsigned cap,
				 char *buf, size_t bufcap)
{
	const struct branch *b = pc->best;
	if (!b || !b->resp || b->status < 300 || b->status >= 400 || b->redirected || !cap)
		return 0;
	struct sip_msg m;
	if (sip_msg_parse(&m, b->resp, b->resp_len, NULL, NULL) < 0) {
		sip_msg_free(&m);
		return 0;
	}
	const struct sip_addr *c[MAX_CONTACTS];
	unsigned n = contacts_by_q(&m, c, MAX_CONTACTS), got = 0;
	size_t used = 0;
	for (unsigned k = 0; k < n && got < cap; k++) {
		sip_str u = c[k]->uri.raw;
		if (used + u.len + 1 > bufcap)
			break;
		memcpy(buf + used, u.s, u.len);
		buf[used + u.len] = 0;
		out[got++] = buf + used;
		used += u.len + 1;
	}
	sip_msg_free(&m);
	return got;
}

int sip_proxy_commit_edits(struct sip_proxy_ctx *pc)
{
	if (!pc->req || pc->started)
		return -1;
	size_t need = sip_msg_serialize(pc->req, NULL, 0);
	char *buf = malloc(need);
	struct sip_msg *m = malloc(sizeof(*m));
	if (!buf || !m) {
		free(buf);
		free(m);
		return -1;
	}
	size_t len = sip_msg_serialize(pc->req, buf, need);
	if (sip_msg_parse(m, buf, len, NULL, NULL) < 0 || sip_msg_check(m, NULL) < 0) {
		sip_msg_free(m);
		free(m);
		free(buf);
		sip_msg_reset_edits(pc->req);
		return -1;
	}
	sip_msg_free(pc->req);
	free(pc->req);
	free(pc->buf);
	pc->req = m;
	pc->buf = buf;
	pc->len = len;
	return 0;
}

void sip_proxy_forward(struct sip_proxy_ctx *pc)
{
	if (pc->req)
		sip_proxy_add_target(pc, pc->req->ruri_text.s, pc->req->ruri_text.len, 0);
	sip_proxy_start(pc);
}

bool sip_proxy_routed_to_us(const struct sip_proxy_ctx *pc) { return pc->routed_to_us; }
struct sip_msg *sip_proxy_request(struct sip_proxy_ctx *pc) { return pc->req; }
const struct sip_peer *sip_proxy_source(struct sip_proxy_ctx *pc) { return &pc->src; }
void sip_proxy_set_user(struct sip_proxy_ctx *pc, void *user) { pc->user = user; }
void *sip_proxy_user(struct sip_proxy_ctx *pc) { return pc->user; }
struct sip_txn_layer *sip_proxy_txn_layer(struct sip_proxy *p) { return p->txn; }
void sip_proxy_get_stats(const struct sip_proxy *p, struct sip_proxy_stats *out) { *out = p->stats; }
