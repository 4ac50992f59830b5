/*
 * The provisioning data a SIP daemon reads, held in memory: domains,
 * subscribers (with their HA1s, IP access lists, aliases and DIDs),
 * servers and server groups, and dial plans. marshald authenticates from
 * it, redirectd routes from it.
 *
 * Loaded from PostgreSQL (through pgq, never blocking the loop) when the
 * connection comes up, and kept current by the NOTIFYs the schema's
 * triggers send on channel vocal_changes (provisioning/sql/001_core.sql):
 * a notification names the table and row, and only that row (or the
 * subscriber or dial plan it belongs to) is fetched again. Subscribers
 * (their own rows and the aliases, DIDs, ACLs and features they own) are
 * coalesced: a changed subscriber's id joins a deduplicated pending set,
 * and 2 ms after the first one the set is fetched with one query per
 * 1,000 ids (ANY($1::bigint[])), two such queries in flight at a time, so
 * a bulk import's 100,000 NOTIFYs cost about 100 queries, not 100,000
 * that would fill the pgq queue the daemon's own work shares (redirectd's
 * write-through waits behind two batches at most); ids not found are
 * deleted, and the changed hook is called once per subscriber. "store:
 * every changed subscriber reloaded (N)" is logged when the batches are
 * all answered. Beyond 100,000 waiting subscribers
 * the set is dropped and everything is loaded again (cheaper then).
 * Domains, servers and dial plans (rare changes) are fetched per row.
 * After a connection loss everything is loaded again, since notifications
 * were missed. While the database is down the last copy keeps serving.
 *
 * Lookups are O(1) hash lookups (dial plans: a walk of the plan's
 * entries). Pointers returned stay valid until control returns to the
 * event loop (a reload may replace any entry); copy what must live longer.
 */
#ifndef VOCAL_STORE_H
#define VOCAL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cidr.h"
#include "sip/digest.h"
#include "sip/str.h"

struct ev_loop;
struct pgq;
struct store;

enum store_auth { STORE_AUTH_NONE = 0, STORE_AUTH_IP, STORE_AUTH_DIGEST };

struct store_domain {
	int64_t id;
	char *name;     /* lower case */
	char *realm;
	bool enabled;
};

struct store_subscriber {
	int64_t id, domain_id;
	int64_t marshal_group_id; /* 0: none */
	char *user;               /* user part, as stored (escaped form) */
	char *display_name;
	enum store_auth auth;
	bool enabled;
	/* Stored HA1 (lower-case hex, NUL-terminated) per base algorithm
	 * (DIGEST_ALG_MD5, DIGEST_ALG_SHA256, DIGEST_ALG_SHA512_256), empty
	 * string when not set. */
	char ha1_md5[33], ha1_sha256[65], ha1_sha512_256[65];
	struct cidr *acl;         /* IP access list */
	/* Feature hops: the server groups (ids) that run the subscriber's
	 * active features (admin_enabled and user_enabled) for its outgoing
	 * calls (calling: features of side calling or both) and its incoming
	 * calls (called: side called or both), in feature_kinds position
	 * order, consecutive equal groups merged into one hop. NULL with a
	 * count of 0 when there are none (most subscribers: nothing is
	 * allocated for them). */
	const int64_t *calling_hops, *called_hops;
	uint16_t nacl;
	uint16_t ncalling_hops, ncalled_hops;
};

struct store_server {
	int64_t id, group_id;
	char *host;               /* name or IP literal, IPv6 without brackets */
	uint16_t port;
	char transport[8];        /* "udp", "tcp", "tls"... */
	uint16_t priority, weight;
	bool enabled;
};

/* What a feature hop does when its group has no server to take the call
 * (server_groups.on_failure): fail the call, or go on without the hop. */
enum store_on_failure { STORE_ON_FAILURE_FAIL = 0, STORE_ON_FAILURE_SKIP };

struct store_group {
	int64_t id;
	char *name;
	char kind[24];            /* "marshal_ua", "marshal_gateway", "redirect", "feature"... */
	enum store_on_failure on_failure;
};

struct store_hooks {
	void *ctx;
	/* Called after a complete (re)load and after each change applied;
	 * table is "subscribers", "domains", ... or NULL after a full load;
	 * "subscribers" with id 0 when too many subscribers changed at once
	 * to name them (a full load follows). May be NULL. */
	void (*changed)(void *ctx, const char *table, int64_t id);
	/* A notification for a table the store does not keep (e.g.
	 * location_bindings, for redirectd), with its parsed fields: op is
	 * "INSERT", "UPDATE" or "DELETE", owner_id the owning row's id (0 when
	 * absent), payload the whole JSON text. May be NULL. */
	void (*other)(void *ctx, const char *table, const char *op, int64_t id, int64_t owner_id,
		      const char *payload);
};

/*
 * Creates the store on a pgq whose opts LISTEN on "vocal_changes" and
 * whose hooks forward to store_pgq_up / store_pgq_notify (the daemon owns
 * the pgq, since it may run queries of its own on it). Declares the
 * store's prepared statements on q. NULL on no memory.
 */
struct store *store_new(struct ev_loop *loop, struct pgq *q, const struct store_hooks *hooks);
void store_free(struct store *s);

/* To be called from the pgq's up and notify hooks. */
void store_pgq_up(struct store *s);
void store_pgq_notify(struct store *s, const char *channel, const char *payload);

/* True once a full load has completed (the daemon may wait for it before
 * serving, or serve with 503 until then). */
bool store_ready(const struct store *s);

const struct store_domain *store_domain_by_name(const struct store *s, sip_str name);
const struct store_domain *store_domain_by_id(const struct store *s, int64_t id);

/* The subscriber whose user part or alias is user (escaped form, compared
 * case-sensitively as RFC 3261 19.1.4 asks; escapes of unreserved characters
 * are normalised) in the domain named domain; NULL when none. */
const struct store_subscriber *store_subscriber_by_aor(const struct store *s, sip_str user,
						       sip_str domain);
const struct store_subscriber *store_subscriber_by_id(const struct store *s, int64_t id);
/* The subscriber a DID reaches: number with or without its leading '+'. */
const struct store_subscriber *store_subscriber_by_did(const struct store *s, sip_str number);

/* The subscriber's stored HA1 for a base algorithm, or NULL when not set. */
const char *store_subscriber_ha1(const struct store_subscriber *sub, enum digest_alg base);

/* True when addr (AF_INET or AF_INET6 sockaddr; IPv4-mapped IPv6 counts as
 * IPv4) is inside one of the subscriber's networks. */
bool store_acl_allows(const struct store_subscriber *sub, const struct sockaddr *addr);

const struct store_group *store_group_by_name(const struct store *s, const char *name);
const struct store_group *store_group_by_id(const struct store *s, int64_t id);
/* The enabled servers of a group in priority order (then weight, larger
 * first); returns how many were written to out (at most cap). */
size_t store_group_servers(const struct store *s, int64_t group_id,
			   const struct store_server **out, size_t cap);
/* True when addr is the address of an enabled server (any port when port
 * is 0): a platform peer the marshal and redirectd trust. */
bool store_is_server_addr(const struct store *s, const struct sockaddr *addr, uint16_t port);

/*
 * Routes a number or user part with the dial plan named plan: the first
 * entry (lowest position) whose pattern (POSIX extended regular
 * expression, matched against the whole of subject) matches gives the
 * contact: its template with \0-\9 replaced by the match's groups. Returns
 * the contact's length (written NUL-terminated to out), 0 when no entry
 * matches or the plan does not exist, -1 when out is too small.
 */
long store_dial_plan_route(const struct store *s, const char *plan, sip_str subject, char *out,
			   size_t cap);

struct store_stats {
	size_t domains, subscribers, aliases, dids, servers, groups, dial_plan_entries;
	uint64_t full_loads, notifications, bad_notifications;
	/* Subscribers reloaded (one per id, however many notifications named
	 * it while it waited), in how many batched queries, and how often
	 * too many waited at once and a full load replaced them. */
	uint64_t row_reloads, batches, batch_overflows;
	size_t pending_max;  /* most subscribers waiting at once */
	size_t bytes;  /* approximate heap held */
};
void store_get_stats(const struct store *s, struct store_stats *out);

#endif
