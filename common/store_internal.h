/*
 * The pure parts of the store (store.c), exposed for its unit tests:
 * parsing a change notification, normalising a user part, IP networks,
 * and dial-plan templates. Nothing here touches the database or the loop.
 */
#ifndef VOCAL_STORE_INTERNAL_H
#define VOCAL_STORE_INTERNAL_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <postgresql/libpq-fe.h>

#include "pgq.h"
#include "sip/str.h"
#include "store.h"

/* One notification of the schema's triggers, e.g.
 * {"table" : "aliases", "op" : "DELETE", "id" : 7, "subscriber_id" : 42}. */
struct store_change {
	char table[64];
	char op[8];		/* "INSERT", "UPDATE" or "DELETE" */
	int64_t id;
	char owner[64];		/* name of the owning row's key ("subscriber_id"), or "" */
	int64_t owner_id;	/* 0 when absent or null */
};

/*
 * Parses a notification payload: one flat JSON object whose members table
 * and op are strings, id an integer, and at most one other member named
 * *_id an integer or null (the owner); other members are ignored if they are
 * strings, numbers, true, false or null. Returns 0, or -1 when the text is
 * not such an object (nested values, bad escapes, numbers out of range,
 * missing table/op/id, an op other than the three, trailing bytes).
 */
int store_parse_change(const char *payload, struct store_change *out);

/*
 * Writes user (a SIP user part, escaped form) in the form lookups compare:
 * %HH escapes of unreserved characters (RFC 3261 25.1: alphanumerics and
 * -_.!~*'()) decoded, other escapes with upper-case hex digits; case is
 * otherwise kept. Returns the length written (NUL-terminated), or -1 when
 * out is too small or the text holds a NUL byte.
 */
long store_user_normalize(sip_str user, char *out, size_t cap);

/*
 * Expands a dial-plan contact template: "\0".."\9" become the text of
 * match[n] of subject (empty when that group did not take part), "\\"
 * becomes one backslash, and any other backslash is copied as it is.
 * match has nmatch entries. Returns the length written (NUL-terminated),
 * or -1 when out is too small.
 */
long store_template_expand(const char *tmpl, const char *subject, const regmatch_t *match,
			   size_t nmatch, char *out, size_t cap);

/*
 * Reads a subscriber's active features as the subscriber queries aggregate
 * them: blank-separated words "side:group_id" in feature_kinds position
 * order, side "calling", "called" or "both". The calling hops are the
 * groups of the calling and both words, the called hops those of the
 * called and both words, each list with consecutive equal groups merged
 * into one hop. Words of any other form are skipped. Writes up to cap
 * groups to calling and to called (either may be NULL: only counted) and
 * the counts to *ncalling and *ncalled. Returns 0, or -1 when a list does
 * not fit cap.
 */
int store_parse_hops(const char *features, int64_t *calling, size_t *ncalling, int64_t *called,
		     size_t *ncalled, size_t cap);

/*
 * For tests: a store with no database (store_new with q NULL) takes a full
 * load from these results, in the columns of the store's own queries
 * (store.c: store_domains, store_subscribers, store_servers, store_plans;
 * any may be NULL for none), as if they had come from PostgreSQL. Returns
 * 0, or -1 when the load failed (the previous snapshot stays).
 */
int store_load_results(struct store *s, const PGresult *domains, const PGresult *subscribers,
		       const PGresult *servers, const PGresult *plans);

/*
 * Batched subscriber reloads. STORE_BATCH_MAX ids go in one query;
 * beyond STORE_PENDING_MAX changed subscribers waiting at once the store
 * drops them and loads everything again (cheaper then).
 */
#define STORE_BATCH_MAX 1000
#define STORE_PENDING_MAX 100000
/* Batches in flight at once: the next goes when one is answered, so the
 * daemon's own queries (redirectd's write-through) queue behind at most
 * these, not behind a whole import's. */
#define STORE_BATCH_INFLIGHT 2

/* How the store runs a query: pgq_exec's contract (ctx is the pgq). */
typedef int (*store_exec_fn)(void *ctx, const char *stmt, int nparams, const char *const *values,
			     pgq_result_fn cb, void *arg);

/*
 * For tests: runs the store's queries through fn (NULL: pgq_exec on the
 * store's pgq) with batch_max ids per batch and pending_max waiting at
 * most (0: the defaults above).
 */
void store_set_exec(struct store *s, store_exec_fn fn, void *ctx, size_t batch_max,
		    size_t pending_max);

/*
 * Applies the result of a "store_subscriber_batch" query for ids[0..n)
 * (ascending, as are the rows): links the rows found, deletes the ids not
 * found, calls the changed hook per id. Returns 0, or -1 when a row could
 * not be linked (out of memory; the others are applied).
 */
int store_apply_batch(struct store *s, const int64_t *ids, size_t n, const PGresult *r);

#endif
