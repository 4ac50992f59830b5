/*
 * Server location (RFC 3263): turns a sip or sips URI into the ordered list
 * of (transport, address, port) targets to try: NAPTR, then SRV, then
 * A/AAAA, with c-ares doing the DNS on our event loop.
 *
 * The whole list is handed over at once, so the transaction layer can fail
 * over to the next target on a timeout or a 503 without asking again. DNS
 * answers are cached by their TTL (clamped; NXDOMAIN and NODATA briefly
 * too) in bounded memory, so a cached name costs no DNS traffic. A target
 * that failed can be blacklisted for a while; later lists put it last.
 * Every time comes from the loop (ev_now), so tests drive cache and
 * blacklist expiry with a fake clock.
 *
 * Nothing here prints; failures come back as a status and a sentence.
 */
#ifndef VOCAL_SIP_RESOLVE_H
#define VOCAL_SIP_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "sip/peer.h"
#include "sip/uri.h"

struct sip_resolver;
struct sip_resolve_req;

/* Bit of a transport in sip_resolver_opts.transports. */
#define SIP_TP_BIT(t) (1u << (t))
#define SIP_TP_ALL    (SIP_TP_BIT(SIP_TP_UDP) | SIP_TP_BIT(SIP_TP_TCP) | SIP_TP_BIT(SIP_TP_TLS))

/* A list never holds more targets than this; a transaction would not get
 * through more before its own timer ran out. */
#define SIP_RESOLVE_MAX_TARGETS 64

enum sip_resolve_family {
	SIP_RESOLVE_PREFER_V4 = 0, /* A and AAAA; a host's IPv4 addresses first */
	SIP_RESOLVE_PREFER_V6,	   /* A and AAAA; a host's IPv6 addresses first */
	SIP_RESOLVE_V4_ONLY,	   /* A only */
	SIP_RESOLVE_V6_ONLY,	   /* AAAA only */
};

/* Zeroed fields take the default named after them. */
struct sip_resolver_opts {
	/* DNS servers, "127.0.0.1:5353,[::1]:53" (c-ares CSV syntax);
	 * NULL: the ones in /etc/resolv.conf. */
	const char *servers;
	uint32_t timeout_ms;   /* first try of a query (2000); c-ares doubles
				  it on each later round over the servers */
	uint32_t tries;	       /* rounds over the servers (2) */
	size_t cache_entries;  /* answers (name + type) kept (4096) */
	uint32_t min_ttl;      /* seconds; positive answers are kept at least
				  this long (0: a TTL of 0 is not cached) */
	uint32_t max_ttl;      /* seconds; and at most this long (86400) */
	uint32_t negative_ttl; /* seconds NXDOMAIN/NODATA answers are kept,
				  at most; less when their SOA says so (10) */
	uint32_t blacklist_ms; /* default for sip_resolver_mark_failed (30000) */
	unsigned transports;   /* SIP_TP_BIT()s the caller can use (SIP_TP_ALL) */
	enum sip_resolve_family family;
	uint64_t seed; /* weighted SRV choice; 0: seeded at random */
	/* Names answered locally before any DNS, read when the resolver
	 * starts and on sip_resolver_flush; a name found there skips NAPTR and
	 * SRV. NULL: /etc/hosts; "": none. */
	const char *hosts_file;
};

enum sip_resolve_status {
	SIP_RESOLVE_OK = 0,
	SIP_RESOLVE_NXDOMAIN, /* the name does not exist */
	SIP_RESOLVE_NODATA,   /* the name exists but has no usable record */
	SIP_RESOLVE_TIMEOUT,  /* no DNS server answered, none was reachable,
				 or every one refused (c-ares 1.18 cannot
				 tell those two apart) */
	SIP_RESOLVE_SERVFAIL, /* SERVFAIL, NOTIMP or FORMERR */
	SIP_RESOLVE_BADURI,   /* not a sip/sips URI, a bad host, a transport
				 the caller does not support */
	SIP_RESOLVE_ERROR,    /* no memory, a malformed answer */
};

/* Stable short name, e.g. "nxdomain". */
const char *sip_resolve_status_name(enum sip_resolve_status s);

/* One place to send a request to. */
struct sip_target {
	struct sip_peer peer;	   /* transport, address and port (conn_id 0) */
	uint16_t priority, weight; /* from the SRV record; 0 without SRV */
	bool srv;		   /* found through SRV */
	bool blacklisted;	   /* marked failed when the list was made */
	char name[256];		   /* the host the address is for: an SRV
				      target, the URI's host, or the literal */
};

/* The ordered targets of one resolution. The owner walks them with
 * sip_targets_next; v[] may also be read directly. */
struct sip_targets {
	size_t count;
	size_t next;	  /* index sip_targets_next returns next */
	char domain[256]; /* the URI's host (maddr if present), which a
			     TLS certificate must name (RFC 5922) */
	struct sip_target v[];
};

/* Returns the next target to try, or NULL when every one has been tried. */
const struct sip_target *sip_targets_next(struct sip_targets *t);
void sip_targets_free(struct sip_targets *t);

/* Writes "udp 127.0.0.2:5060" or "tls [::1]:5061" into out; returns out. */
char *sip_target_format(const struct sip_target *t, char *out, size_t cap);

/* Called once per sip_resolve, from the loop, never from inside
 * sip_resolve. On SIP_RESOLVE_OK, targets holds at least one target and
 * belongs to the callee (sip_targets_free); otherwise targets is NULL and
 * err says what failed, e.g. "A/AAAA nosuch.example.test: no such name".
 * err is valid during the call only. */
typedef void (*sip_resolve_cb)(void *arg, struct sip_targets *targets,
			       enum sip_resolve_status status, const char *err);

/* Returns a resolver that runs its DNS on loop (which must outlive it), or
 * NULL when opts are unusable (sip_resolver_opts_check says why) or memory
 * ran out. opts may be NULL for all defaults; its strings are copied. */
struct sip_resolver *sip_resolver_new(struct ev_loop *loop, const struct sip_resolver_opts *opts);
/* Checks opts as sip_resolver_new would; returns 0, or -1 with a sentence
 * in err (for configuration checks). */
int sip_resolver_opts_check(const struct sip_resolver_opts *opts, char *err, size_t errlen);
/* Frees the resolver; resolutions still running are dropped without their
 * callbacks. Not from inside a sip_resolve_cb. */
void sip_resolver_free(struct sip_resolver *r);

/* Resolves uri (RFC 3263 section 4):
 *  - a numeric host: that address, no DNS;
 *  - a port in the URI: A/AAAA of the host;
 *  - a transport parameter: SRV of that transport, else A/AAAA;
 *  - otherwise NAPTR (services the caller supports; only SIPS for a sips
 *    URI; by order, then preference), the SRV of each chosen replacement,
 *    or without NAPTR the SRV of _sips._tcp, _sip._tcp, _sip._udp in that
 *    order; SRV records by priority with RFC 2782 weighted random choice
 *    within a priority; then A/AAAA of every SRV target; without any SRV,
 *    A/AAAA of the host with port 5060 (5061 for TLS).
 * maddr replaces the host; a sips URI only ever yields TLS targets, and
 * transport=tcp on a sips URI means TLS. The transport when nothing names
 * one is UDP (TLS for sips), or TCP when the caller lacks UDP.
 * uri is read during the call only. Returns a handle valid until the
 * callback has run or sip_resolve_cancel; NULL only when out of memory
 * (then cb is never called). */
struct sip_resolve_req *sip_resolve(struct sip_resolver *r, const struct sip_uri *uri,
				    sip_resolve_cb cb, void *arg);
/* Stops a resolution: its callback will not run. Answers already asked for
 * still land in the cache. req must not have seen its callback yet. */
void sip_resolve_cancel(struct sip_resolve_req *req);

/* For tools and tests: resolves uri by running the loop (ev_run_once)
 * until the answer is in. Returns the status; *out gets the targets on
 * SIP_RESOLVE_OK (caller frees), NULL otherwise, with err filled. */
enum sip_resolve_status sip_resolve_sync(struct sip_resolver *r, const struct sip_uri *uri,
					 struct sip_targets **out, char *err, size_t errlen);

/* Marks a peer (transport, address, port) as failed for ms milliseconds
 * (0: opts.blacklist_ms), e.g. after a timeout or a 503 (its Retry-After
 * may give ms). Lists made while it lasts put the peer after every other
 * target, still in the list for when nothing else answers. */
void sip_resolver_mark_failed(struct sip_resolver *r, const struct sip_peer *peer, uint32_t ms);
/* True while peer is marked failed. */
bool sip_resolver_is_failed(struct sip_resolver *r, const struct sip_peer *peer);

/* Forgets every cached answer and every failed mark, and reads the hosts
 * file again (e.g. on SIGHUP). */
void sip_resolver_flush(struct sip_resolver *r);

/* Puts a DNS answer (a whole response message, as from a server) into the
 * cache as if it had just arrived, under the name and type of its question;
 * its TTLs count from now. For tests and for tools that preload answers.
 * Returns 0, or -1 with a sentence in err (malformed, or a type other than
 * NAPTR, SRV, A, AAAA, or an answer that would not be cached). */
int sip_resolver_cache_answer(struct sip_resolver *r, const unsigned char *msg, size_t len,
			      char *err, size_t errlen);

struct sip_resolver_stats {
	uint64_t queries;    /* DNS queries sent */
	uint64_t cache_hits; /* answers served from the cache */
	uint64_t cache_misses;
	uint64_t evictions; /* entries dropped for room, not for age */
	uint64_t joined;    /* lookups that joined one already in flight */
	size_t cache_entries;
	size_t blacklisted; /* failed marks still in force */
	size_t pending;	    /* resolutions not yet called back */
};
void sip_resolver_get_stats(struct sip_resolver *r, struct sip_resolver_stats *out);

/* ---- the pure steps, exposed for tests and tools ------------------------ */

/* What sip_resolve will do for a URI, before any DNS. */
enum sip_resolve_step {
	SIP_STEP_NUMERIC, /* host is an IP literal: transport and port known */
	SIP_STEP_ADDR,	  /* port given: A/AAAA of host, transport known */
	SIP_STEP_SRV,	  /* transport given: SRV for it, then A/AAAA */
	SIP_STEP_NAPTR,	  /* neither: NAPTR, SRV, then A/AAAA */
};

struct sip_resolve_plan {
	enum sip_resolve_step step;
	char host[256]; /* maddr or host: lower case, no
			   brackets, no trailing dot */
	bool sips;
	enum sip_transport transport; /* NUMERIC, ADDR, SRV */
	uint16_t port;		      /* NUMERIC, ADDR */
};

/* Fills plan for uri given the transports (SIP_TP_BIT mask, 0: all) the
 * caller supports. Returns 0, or -1 with a sentence in err. */
int sip_resolve_plan(const struct sip_uri *uri, unsigned transports, struct sip_resolve_plan *plan,
		     char *err, size_t errlen);

struct sip_naptr {
	uint16_t order, preference;
	char flags[8];
	char service[32];
	bool regexp; /* carries a regexp (SIP uses none) */
	char replacement[256];
	enum sip_transport transport; /* set by sip_naptr_select */
};

/* Keeps the records a client may use (RFC 3263 4.1): flag "s", no regexp,
 * service SIP+D2U, SIP+D2T or SIPS+D2T whose transport is in transports
 * (0: all), only SIPS+D2T when sips; sorts them by order, then preference
 * (stable) into v[0..n'), sets their transport, and returns n'. */
size_t sip_naptr_select(struct sip_naptr *v, size_t n, bool sips, unsigned transports);

struct sip_srv {
	uint16_t priority, weight, port;
	char target[256];
};

/* Orders SRV records for trying (RFC 2782): ascending priority; within a
 * priority, repeated weighted random choice, weight-0 records having a
 * small chance (a uniform one when every weight left is 0). rng is the
 * state of the random sequence (any value; advanced). */
void sip_srv_order(struct sip_srv *v, size_t n, uint64_t *rng);

#endif
