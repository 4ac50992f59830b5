/*
 * The stateful proxy core (RFC 3261 section 16), shared by marshald and
 * featured: request validation, Max-Forwards, loop and spiral detection,
 * Route pre-processing (loose routing, and strict-route compatibility),
 * Record-Route, forking (parallel and sequential) with response
 * aggregation, CANCEL propagation, 100 Trying, Timer C, and stateless
 * forwarding of ACKs for 2xx and of stray 2xx responses.
 *
 * The proxy sits on the transaction layer and owns it: the daemon creates
 * the proxy with a send hook (its transports) and feeds received messages
 * to sip_proxy_input(). Policy stays in the daemon: for every new request
 * that is not routed by a Route header the route hook decides the targets
 * (or answers).
 *
 * Next hops (the top Route, else the target) with a numeric host go out at
 * once. Others are located with RFC 3263 (resolve.h) when the daemon hands
 * the proxy a resolver: the branch waits for DNS, then tries the addresses
 * in order. An attempt that gets no response at all (Timer B/F, a transport
 * error) or a 503 marks its address failed in the resolver (for Retry-After
 * seconds when given) and the branch goes on to the next address with a new
 * client transaction (RFC 3263 4.3), unless the caller already heard a
 * provisional response for that INVITE branch, or the request was cancelled
 * or answered meanwhile. Only when no address is left does the branch fail
 * (408 timeout, 503 transport, or the last 503, relayed as 500).
 *
 * Attempts. sip_proxy_start begins an attempt with the targets added since
 * the previous one; it ends with a 2xx (the call is answered), or once
 * every branch has its final response (3xx recursion included) or a 6xx
 * ended it, or by its timeout (sip_proxy_set_timeout: pending branches are
 * CANCELled and their 487s absorbed, not waited for). An attempt that ends
 * without a 2xx goes to the failed hook, which may begin another attempt
 * (a CPL proxy node's busy / noanswer / redirection / failure outputs
 * leading to another proxy node) or answer; a late 2xx of an earlier
 * attempt's branch is still relayed upstream (and cancels the rest), and a
 * CANCEL from upstream at any moment ends the request with 487. The
 * targets of the whole request, every attempt and recursion included,
 * number at most opts.max_branches.
 *
 * 3xx recursion (opts.recurse_3xx) forks sequentially by q (RFC 3261 16.6,
 * 8.1.3.4): the Contacts of one redirect run in groups of equal q, highest
 * first (no q counts as 1.0), each group in parallel, the next one only
 * when everything the previous led to ended without a 2xx or 6xx. The
 * recursion hook may choose failover only for a redirect instead
 * (SIP_PROXY_RECURSE_FAILOVER): its Contacts are alternative servers for
 * one job (the platform's feature servers), so the next group is tried
 * only when the servers of the previous ones failed (no final response
 * heard and no ringing, or a 503 of their own); any other answer of
 * theirs is the answer, and the failed servers' outcomes then no longer
 * compete for the best response (as with RFC 3263 failover).
 *
 * A context the daemon owes an answer (the route hook's, or the failed
 * hook's when it took over) stays valid until it calls sip_proxy_start()
 * or sip_proxy_reply(), even when a CANCEL or a late 2xx answered the
 * request meanwhile: those calls are then harmless, and must still come.
 */
#ifndef VOCAL_SIP_PROXY_H
#define VOCAL_SIP_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"
#include "sip/msg.h"
#include "sip/peer.h"
#include "sip/txn.h"

struct sip_proxy;
struct sip_proxy_ctx; /* one request being proxied (a response context) */
struct sip_resolver;

/* How the q groups of one 3xx's Contacts follow each other (the
 * recursion hook's choice). */
enum sip_proxy_recursion {
	/* RFC 3261 16.6: the next group once everything the previous one
	 * led to ended without a 2xx or 6xx */
	SIP_PROXY_RECURSE_BY_Q = 0,
	/* The Contacts are alternative servers for the same job: the next
	 * group only when every branch of the groups tried so far failed as
	 * a server, that is ended without a final response from it (Timer
	 * B/C before any provisional, a transport error, a next hop that
	 * could not be located: the proxy's own 408, 503, 404...) or with a
	 * 503 of its own, and without having sent an INVITE provisional
	 * other than 100 (a server that rang is alive: its later timeout or
	 * 487 is the call's). Any other final response (a 4xx, a 5xx other
	 * than 503, a 6xx, a 3xx recursed on) ends the redirect: its lower
	 * groups are never tried. A failed group's outcomes no longer count
	 * for the best response once the next group starts; when the last
	 * group fails too, its own best (16.7 step 6, 503 relayed as 500)
	 * is the redirect's answer. */
	SIP_PROXY_RECURSE_FAILOVER,
};

struct sip_proxy_opts {
	/* This proxy's address as it goes into Via and Record-Route, per
	 * transport: host (name or numeric, IPv6 in brackets) and port. */
	const char *host;
	uint16_t port[SIP_TP_COUNT];
	bool record_route;          /* stay in the dialog */
	uint32_t timer_c_ms;        /* > 3 minutes by RFC 3261 16.6; 0 = 180000 */
	unsigned max_branches;      /* targets per request, 3xx recursion included; 0 = 16 */
	bool recurse_3xx;           /* try 3xx Contacts ourselves */
	/* The route hook sees every request, also those a Route header or a
	 * dialog already routes (an edge proxy refuses preloaded routes and
	 * in-dialog requests that did not come through it); it calls
	 * sip_proxy_forward() for the default. false: only requests for us
	 * to route. */
	bool route_all;
	const char *supported;      /* option tags we support, comma-separated, for Proxy-Require */
	const char *server_name;    /* for generated responses' Server header; NULL = none */
	struct sip_txn_timers timers;
	/* RFC 3263 server location for next hops that are not numeric, and
	 * the place failed addresses are marked; runs on the proxy's loop and
	 * must outlive the proxy. NULL: numeric hosts and the resolve hook
	 * only, and no failover. */
	struct sip_resolver *resolver;
};

struct sip_proxy_hooks {
	void *ctx;
	int (*send)(void *ctx, const struct sip_peer *to, const char *buf, size_t len);
	/*
	 * A request for us to route (not in-dialog, or in-dialog without a
	 * Route to follow), after validation. The daemon calls
	 * sip_proxy_add_target() one or more times and then
	 * sip_proxy_start(), or sip_proxy_reply() — now or later (after an
	 * asynchronous lookup); the ctx stays valid until it answers.
	 * NULL: every such request is forwarded to its Request-URI.
	 */
	void (*route)(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *req);
	/* Turns a next-hop URI into a peer at once (one address, no
	 * failover); used only without opts.resolver. NULL: numeric hosts
	 * only. Returns 0 and fills *to, or -1 (the branch fails with 404). */
	int (*resolve)(void *ctx, const struct sip_uri *next_hop, struct sip_peer *to);
	/* The final response the proxy sends upstream for a request (for
	 * accounting); may be NULL. */
	void (*final)(void *ctx, struct sip_proxy_ctx *pc, unsigned status);
	/* The outbound proxy for a target (RFC 3261 16.6 step 7): the URI
	 * (text, copied at once) of the next hop a request for target goes to
	 * when no Route header names one, keeping target as Request-URI; NULL
	 * sends it to the target's own host. Asked for every target, 3xx
	 * recursion included: the marshal sends hosted domains to redirectd.
	 * May be NULL. */
	const char *(*outbound)(void *ctx, struct sip_proxy_ctx *pc, const struct sip_uri *target);
	/* Admission control before a transaction exists: see the admit hook
	 * of sip_txn_hooks (txn.h). May be NULL. */
	unsigned (*admit)(void *ctx, struct sip_msg *req, const struct sip_peer *from, char *extra,
			  size_t cap);
	/*
	 * The request's current attempt ended without a 2xx: every branch
	 * has its final response (or a 6xx ended the attempt, the others
	 * CANCELled), after the proxy's own 3xx recursion. status is the
	 * best response's (16.7 step 6 choice, as received: a 503 is not yet
	 * turned into 500; 408 when the attempt timed out, see
	 * sip_proxy_set_timeout; 480 when no branch had a response), best
	 * its message (NULL when generated locally), valid during the call
	 * only. Called for every method; not once a CANCEL came, nor when
	 * nobody is left to answer (the server transaction ended).
	 * Return true to take over: the daemon then calls
	 * sip_proxy_add_target() + sip_proxy_start() again (a new attempt:
	 * new branches, the old ones are kept only for late 2xx relaying) or
	 * sip_proxy_reply(), now or later; the context stays valid until it
	 * does. false: the proxy sends the best response upstream as it
	 * does today (408 after a timeout). May be NULL.
	 */
	bool (*failed)(void *ctx, struct sip_proxy_ctx *pc, unsigned status, const struct sip_msg *best);
	/* A 3xx the proxy is about to recurse on (opts.recurse_3xx or
	 * sip_proxy_set_recurse): how its Contacts' q groups follow each
	 * other (see enum sip_proxy_recursion). resp is valid during the
	 * call only; the hook must not start, reply or add targets. NULL:
	 * SIP_PROXY_RECURSE_BY_Q for every 3xx. */
	enum sip_proxy_recursion (*recursion)(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *resp);
};

struct sip_proxy *sip_proxy_new(struct ev_loop *loop, const struct sip_proxy_opts *opts,
				const struct sip_proxy_hooks *hooks);
void sip_proxy_free(struct sip_proxy *p);

/* One received message from a transport. */
void sip_proxy_input(struct sip_proxy *p, const char *buf, size_t len, const struct sip_peer *from);

/*
 * Adds a target URI (text) for the request's next attempt. Targets of the
 * same group are tried in parallel; groups are tried in order, lowest
 * first, the next when the previous ended without a 2xx or 6xx
 * (sequential forking, q-values). Returns 0 or -1 (bad URI, too many:
 * opts.max_branches counts every target of the request, all attempts and
 * 3xx recursion included).
 */
int sip_proxy_add_target(struct sip_proxy_ctx *pc, const char *uri, size_t len, unsigned group);
/* Begins an attempt: forwarding to the targets added since the previous
 * one. With none, the request is answered 480. After a CANCEL or once
 * answered (a late 2xx), it does nothing but let the context go; while an
 * attempt runs, nothing at all. */
void sip_proxy_start(struct sip_proxy_ctx *pc);
/* The next attempt's timeout, called before sip_proxy_start (each attempt
 * that wants one sets it again): when no 2xx has come ms after the start,
 * every pending branch of the attempt is CANCELled (INVITE: once it has
 * had a provisional, RFC 3261 9.1; until then it waits for one or ends by
 * its timers) and the attempt ends at once with status 408 for the failed
 * hook, sip_proxy_timed_out() true; the CANCELled branches' 487s are
 * absorbed, a 2xx of theirs still goes upstream. 0 = no timeout. This is
 * CPL's <proxy timeout="20"> (RFC 3880 6.1, noanswer). */
void sip_proxy_set_timeout(struct sip_proxy_ctx *pc, unsigned ms);
/* Whether the next attempt recurses on 3xx itself, called before
 * sip_proxy_start (for that attempt only; others follow
 * opts.recurse_3xx): CPL's <proxy recurse="no">, whose redirection output
 * then gets the Contacts from sip_proxy_best_contacts. */
void sip_proxy_set_recurse(struct sip_proxy_ctx *pc, bool recurse);
/* Whether the last attempt that ended did so by its timeout. */
bool sip_proxy_timed_out(const struct sip_proxy_ctx *pc);
/* The Contacts of the last ended attempt's best response when it was a
 * 3xx the proxy did not recurse on (or nothing): copies up to cap URIs'
 * text, highest q first, into buf (each NUL-terminated, out[i] pointing
 * into buf; stops at the first that does not fit in bufcap). Returns how
 * many. Meant for the failed hook; empty once a new attempt begins. */
unsigned sip_proxy_best_contacts(const struct sip_proxy_ctx *pc, const char **out, unsigned cap,
				 char *buf, size_t bufcap);
/* Whether a final response went upstream (a CANCEL was answered 487, a
 * late 2xx relayed...): a daemon deciding asynchronously may stop, but
 * still calls sip_proxy_start() or sip_proxy_reply() to let the context
 * go. */
bool sip_proxy_answered(const struct sip_proxy_ctx *pc);
/* What the proxy does without a route hook: forwards to the Request-URI
 * (the next hop being the top Route, if any). */
void sip_proxy_forward(struct sip_proxy_ctx *pc);
/* Whether Route pre-processing removed an entry naming us (16.4): the
 * request follows a route we recorded (or a strict router's rewrite). */
bool sip_proxy_routed_to_us(const struct sip_proxy_ctx *pc);
/* Answers the request ourselves (no targets, or after a failed attempt);
 * extra: header lines each ending in CRLF, or NULL. Harmless once the
 * request was answered (a CANCEL's 487): only lets the context go. */
void sip_proxy_reply(struct sip_proxy_ctx *pc, unsigned status, const char *reason, const char *extra);

/*
 * Makes the header edits the route hook applied to sip_proxy_request(pc)
 * (sip_msg_insert_header, sip_msg_remove_header...: a Path added, spent
 * credentials removed) part of the request every branch forwards. Call
 * before sip_proxy_start; pointers into the old request are stale after
 * it. Returns 0, or -1 (no memory, or the edits do not re-parse: they are
 * dropped and the request stays as it was).
 */
int sip_proxy_commit_edits(struct sip_proxy_ctx *pc);

struct sip_msg *sip_proxy_request(struct sip_proxy_ctx *pc);
const struct sip_peer *sip_proxy_source(struct sip_proxy_ctx *pc);
void sip_proxy_set_user(struct sip_proxy_ctx *pc, void *user);
void *sip_proxy_user(struct sip_proxy_ctx *pc);

struct sip_txn_layer *sip_proxy_txn_layer(struct sip_proxy *p);

struct sip_proxy_stats {
	uint64_t requests, forwarded, answered_locally, loops, too_many_hops, cancels,
		acks_forwarded, stray_2xx_forwarded, timer_c_fired,
		failovers,     /* attempts sent to a branch's next address */
		dns_failures,  /* next hops the resolver could not locate */
		attempt_timeouts, /* attempts ended by sip_proxy_set_timeout's timeout */
		reattempts;    /* attempts after a request's first (the failed hook) */
	size_t contexts;    /* live, answered ones included (they relay late 2xx) */
	size_t unanswered;  /* requests still waiting for their final response */
};
void sip_proxy_get_stats(const struct sip_proxy *p, struct sip_proxy_stats *out);

#endif
