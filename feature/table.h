/*
 * featured's memory of who has which features (feature/table.c): the
 * active subscriptions (admin_enabled and user_enabled) of every
 * subscriber, as loaded from subscriber_features, and a bounded LRU cache
 * of the scripts compiled from them.
 *
 * The table is compact, since a server holds every subscriber of its
 * groups (the goal: under 1 kB per subscriber with a million provisioned):
 * one open-addressing slot per subscriber and one allocation holding its
 * rows (kind as a byte, sides, group, settings text). Scripts are compiled
 * only when a call needs them and the cache keeps at most a configured
 * number; a subscriber's rows changing invalidates its compiled scripts.
 */
#ifndef VOCAL_FEATURE_TABLE_H
#define VOCAL_FEATURE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEATURE_SIDE_CALLING 1u
#define FEATURE_SIDE_CALLED 2u

/* One active subscription. Strings point into the table: valid until the
 * subscriber's rows change (copy what must outlive the event-loop turn). */
struct feature_row {
	const char *kind;      /* "forward_all", "cpl", ... */
	unsigned sides;        /* FEATURE_SIDE_* bits */
	int64_t group_id;
	const char *settings;  /* JSON text */
	size_t settings_len;
	bool locked;           /* the carrier locked it: runs before a raw cpl script */
};

struct feature_table;

struct feature_table *feature_table_new(void);
void feature_table_free(struct feature_table *t);

/* Replaces the rows of subscriber id (n 0: forgets it). Rows keep their
 * order (the order of feature_kinds.position). sides parses from
 * "calling", "called" or "both". Returns 0, or -1 (no memory, more than
 * 255 kinds; the old rows stay). */
int feature_table_set(struct feature_table *t, int64_t id, const struct feature_row *rows, unsigned n);
unsigned feature_sides(const char *side);

/* The rows of subscriber id that run on side (one FEATURE_SIDE_* bit) in
 * group_id (0: any group), up to cap; returns how many were written. */
unsigned feature_table_get(const struct feature_table *t, int64_t id, unsigned side, int64_t group_id,
			   struct feature_row *out, unsigned cap);
/* A counter bumped each time id's rows change (0: never loaded). */
uint32_t feature_table_version(const struct feature_table *t, int64_t id);

/* A full load: begin, set every subscriber's rows, end. Subscribers not
 * set since begin are forgotten at end (their features went away while we
 * were not listening). */
void feature_table_load_begin(struct feature_table *t);
void feature_table_load_end(struct feature_table *t);

struct feature_table_stats {
	size_t subscribers, rows, bytes; /* bytes: heap held, slots included */
};
void feature_table_get_stats(const struct feature_table *t, struct feature_table_stats *out);

/* ---- compiled scripts ---------------------------------------------------- */

struct cpl_script;
struct interned;

/* What one hop of one subscriber runs: a script (NULL: none) and the
 * native features. Shared by the calls running it (refcounted). */
struct feature_compiled {
	struct cpl_script *script;
	struct interned *shared; /* script shared by text (intern.h): released, not freed */
	/* The carrier-locked features' script that runs before script when
	 * script is the subscriber's own cpl (cpl_run_gated); NULL: none. */
	struct cpl_script *locked;
	struct interned *locked_shared;
	bool caller_id_blocking, call_return;
	char *error;           /* the script did not compile: why (script NULL) */
	/* private */
	int64_t sub_id, group_id;
	unsigned side;
	uint32_t version;
	unsigned refs;
	bool cached;
	struct feature_compiled *lru_prev, *lru_next, *hnext;
};

struct feature_cache;

struct feature_cache *feature_cache_new(size_t max_entries);
void feature_cache_free(struct feature_cache *c);
void feature_cache_resize(struct feature_cache *c, size_t max_entries);
/* Forgets every entry (those calls hold stay until released). */
void feature_cache_clear(struct feature_cache *c);
/* The cached entry for (sub_id, side, group_id) at version, with a
 * reference taken; NULL when absent or stale. */
struct feature_compiled *feature_cache_get(struct feature_cache *c, int64_t sub_id, unsigned side,
					   int64_t group_id, uint32_t version);
/* Puts e (allocated by the caller with calloc, its script and error
 * malloc'd) in the cache, taking a reference for the caller too; the least
 * recently used entries beyond the size leave the cache (freed once no
 * call holds them). */
void feature_cache_put(struct feature_cache *c, struct feature_compiled *e, int64_t sub_id,
		       unsigned side, int64_t group_id, uint32_t version);
/* Drops a reference. */
void feature_compiled_release(struct feature_cache *c, struct feature_compiled *e);
/* Forgets every compiled script of sub_id. */
void feature_cache_invalidate(struct feature_cache *c, int64_t sub_id);

struct feature_cache_stats {
	size_t entries;
	uint64_t hits, misses, evictions;
};
void feature_cache_get_stats(const struct feature_cache *c, struct feature_cache_stats *out);

#endif
