/*
 * featured and PostgreSQL (see featured.h): every active subscription
 * loaded into the table when the connection comes up, page by page
 * (ranges of subscriber ids, one page after the other so that a million
 * subscribers never make one huge result); a subscriber's rows loaded
 * again when the store reloaded it (a NOTIFY named it), gathered for
 * BATCH_DELAY_MS and fetched with one query per BATCH_IDS subscribers (a
 * bulk import changes 100,000 at once); the last callers of call return. Nothing here blocks the loop: while the
 * database is down the table keeps what was loaded.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature/featured.h"
#include "idset.h"
#include "log.h"
#include "pgq.h"

/* A page: the active rows of the subscriber ids [lo, lo + PAGE_IDS), lo
 * being the first id at or after $1 with an active row (so gaps in the
 * ids cost nothing). Ranges rather than "the next N subscribers" keep the
 * plan an index range scan even as a generic prepared plan; a DISTINCT
 * ... LIMIT page scanned the whole table each time (7 minutes for
 * 1,000,000 subscribers). The last column is lo, for the next page. */
#define PAGE_IDS "4096"
#define ROW_COLUMNS "f.subscriber_id, f.feature, k.side, f.group_id, f.settings::text, f.locked"
#define ACTIVE "f.admin_enabled AND f.user_enabled"
#define BATCH_IDS 1000		/* subscribers per "feat_subs" query */
#define BATCH_DELAY_MS 2	/* changed subscribers gather this long */
#define PENDING_MAX 100000	/* beyond this many waiting, everything again */

static const struct {
	const char *name, *sql;
	int nparams;
} statements[] = {
	{"feat_page",
	 "WITH s AS (SELECT min(subscriber_id) AS lo FROM subscriber_features "
	 "WHERE subscriber_id >= $1::bigint AND admin_enabled AND user_enabled) "
	 "SELECT " ROW_COLUMNS ", s.lo FROM s JOIN subscriber_features f "
	 "ON f.subscriber_id >= s.lo AND f.subscriber_id < s.lo + " PAGE_IDS " "
	 "JOIN feature_kinds k ON k.name = f.feature WHERE " ACTIVE " "
	 "ORDER BY f.subscriber_id, k.position",
	 1},
	{"feat_subs",
	 "SELECT " ROW_COLUMNS " FROM subscriber_features f JOIN feature_kinds k ON k.name = f.feature "
	 "WHERE " ACTIVE " AND f.subscriber_id = ANY($1::bigint[]) ORDER BY f.subscriber_id, k.position",
	 1},
	{"feat_lc_get", "SELECT caller FROM last_callers WHERE subscriber_id = $1", 1},
	{"feat_lc_put",
	 "INSERT INTO last_callers (subscriber_id, caller) VALUES ($1, $2) ON CONFLICT (subscriber_id) "
	 "DO UPDATE SET caller = EXCLUDED.caller, called_at = now()",
	 2},
};

int featured_db_prepare(struct featured *f)
{
	for (size_t i = 0; i < sizeof statements / sizeof statements[0]; i++)
		if (pgq_prepare(f->q, statements[i].name, statements[i].sql, statements[i].nparams) < 0)
			return -1;
	return 0;
}

#define MAX_ROWS 64

/* Puts the rows res[from..to) (one subscriber's) into the table. */
static void apply_rows(struct featured *f, const PGresult *res, int from, int to, int64_t id)
{
	struct feature_row rows[MAX_ROWS];
	unsigned n = 0;
	for (int i = from; i < to && n < MAX_ROWS; i++) {
		rows[n] = (struct feature_row){
			.kind = PQgetvalue(res, i, 1),
			.sides = feature_sides(PQgetvalue(res, i, 2)),
			.group_id = strtoll(PQgetvalue(res, i, 3), NULL, 10),
			.settings = PQgetvalue(res, i, 4),
			.settings_len = (size_t)PQgetlength(res, i, 4),
			.locked = PQgetvalue(res, i, 5)[0] == 't',
		};
		n++;
	}
	if (feature_table_set(f->table, id, rows, n) < 0)
		log_warnx("features of subscriber %" PRId64 ": no memory, the old ones stay", id);
	feature_cache_invalidate(f->cache, id);
}

/* Applies a result of rows ordered by subscriber; returns the last id. */
static int64_t apply_result(struct featured *f, const PGresult *res)
{
	int n = PQntuples(res), start = 0;
	int64_t last = 0;
	for (int i = 1; i <= n; i++) {
		int64_t id = strtoll(PQgetvalue(res, start, 0), NULL, 10);
		if (i == n || strtoll(PQgetvalue(res, i, 0), NULL, 10) != id) {
			apply_rows(f, res, start, i, id);
			last = id;
			start = i;
		}
	}
	return last;
}

struct page {
	struct featured *f;
	uint64_t gen;
};

static void load_page(struct featured *f, int64_t after);

static void on_page(void *arg, const PGresult *res, const char *err)
{
	struct page *pg = arg;
	struct featured *f = pg->f;
	bool current = f->loading && pg->gen == f->load_gen;
	free(pg);
	if (!current)
		return;
	if (!res) {
		/* the connection went: the up hook starts over */
		log_warnx("loading features: %s", err);
		f->loading = false;
		return;
	}
	if (PQntuples(res) == 0) {
		feature_table_load_end(f->table);
		f->loading = false;
		struct feature_table_stats st;
		feature_table_get_stats(f->table, &st);
		log_info("features loaded: %zu subscribers, %zu active features, %zu kB", st.subscribers,
			 st.rows, st.bytes / 1024);
		return;
	}
	apply_result(f, res);
	load_page(f, strtoll(PQgetvalue(res, 0, 6), NULL, 10) + strtoll(PAGE_IDS, NULL, 10));
}

static void load_page(struct featured *f, int64_t from)
{
	char id[24];
	snprintf(id, sizeof(id), "%" PRId64, from);
	const char *values[] = {id};
	struct page *pg = malloc(sizeof(*pg));
	if (pg)
		*pg = (struct page){f, f->load_gen};
	if (!pg || pgq_exec(f->q, "feat_page", 1, values, on_page, pg) < 0) {
		free(pg);
		f->loading = false;
		log_warnx("loading features: cannot queue the query (retried when the connection is back)");
	}
}

void featured_db_up(void *ctx)
{
	struct featured *f = ctx;
	/* the full load covers the subscribers waiting for a batch */
	if (f->feat_flush.cb)
		ev_timer_stop(f->loop, &f->feat_flush);
	idset_clear(&f->feat_pending);
	/* notifications may have been missed: everything again */
	f->load_gen++;
	f->loading = true;
	feature_table_load_begin(f->table);
	load_page(f, 1);
}

struct sub_batch {
	struct featured *f;
	size_t n;
	int64_t ids[];		/* ascending, as the result's rows */
};

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void on_subs(void *arg, const PGresult *res, const char *err)
{
	struct sub_batch *b = arg;
	struct featured *f = b->f;
	f->feat_inflight--;
	if (!res) {
		log_warnx("features of %zu subscribers: %s", b->n, err);
		free(b);
		return;
	}
	/* Rows and ids both ascend: a subscriber without rows has no active
	 * feature left. */
	int rows = PQntuples(res), row = 0;
	for (size_t i = 0; i < b->n; i++) {
		int64_t id = b->ids[i];
		while (row < rows && strtoll(PQgetvalue(res, row, 0), NULL, 10) < id)
			row++;
		int from = row;
		while (row < rows && strtoll(PQgetvalue(res, row, 0), NULL, 10) == id)
			row++;
		if (row > from) {
			apply_rows(f, res, from, row, id);
		} else {
			feature_table_set(f->table, id, NULL, 0);
			feature_cache_invalidate(f->cache, id);
		}
	}
	f->feat_reloads += b->n;
	f->feat_batches++;
	f->feat_run += b->n;
	log_debug("features of %zu subscribers reloaded: %d active", b->n, rows);
	free(b);
	if (f->feat_inflight == 0) {
		/* idle again: the end of an import's reloads, timed by tests */
		if (f->feat_run > 1)
			log_info("features: every changed subscriber reloaded (%" PRIu64 ")", f->feat_run);
		f->feat_run = 0;
	}
}

static void on_flush(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct featured *f = arg;
	size_t n;
	int64_t *ids = idset_take(&f->feat_pending, &n);
	(void)loop;
	(void)t;
	if (!ids)
		return;
	qsort(ids, n, sizeof(*ids), cmp_id);
	size_t queries = 0;
	for (size_t at = 0; at < n; at += BATCH_IDS) {
		size_t k = n - at < BATCH_IDS ? n - at : BATCH_IDS;
		struct sub_batch *b = malloc(sizeof(*b) + k * sizeof(b->ids[0]));
		char *arr = idset_pg_array(ids + at, k);
		const char *values[] = {arr};
		if (b && arr) {
			b->f = f;
			b->n = k;
			memcpy(b->ids, ids + at, k * sizeof(b->ids[0]));
			if (pgq_exec(f->q, "feat_subs", 1, values, on_subs, b) == 0) {
				free(arr);
				queries++;
				f->feat_inflight++;
				continue;
			}
		}
		free(arr);
		free(b);
		log_warnx("features of %zu subscribers: cannot reload now", n - at);
		break;
	}
	if (n > 1)
		log_info("features: %zu changed subscribers, reloading in %zu queries", n, queries);
	free(ids);
}

void featured_db_changed(void *ctx, const char *table, int64_t id)
{
	struct featured *f = ctx;
	/* The store reloads a subscriber when its subscriber_features rows
	 * change (a NOTIFY), and tells us: its features are loaded again
	 * too. A full load (table NULL) comes with the connection, where
	 * featured_db_up reloads everything; id 0 says too many subscribers
	 * changed at once to name them: everything again too. */
	if (!table || strcmp(table, "subscribers") != 0 || id < 0)
		return;
	if (id == 0) {
		idset_clear(&f->feat_pending);
		featured_db_up(f);
		return;
	}
	/* forget the compiled scripts now; the rows follow */
	feature_cache_invalidate(f->cache, id);
	if (!f->feat_flush.cb)
		ev_timer_init(&f->feat_flush, on_flush, f);
	int added = idset_add(&f->feat_pending, id);
	if (added < 0 || f->feat_pending.n > PENDING_MAX) {
		log_warnx("features: more than %d subscribers changed at once; loading everything",
			  PENDING_MAX);
		ev_timer_stop(f->loop, &f->feat_flush);
		idset_clear(&f->feat_pending);
		featured_db_up(f);
		return;
	}
	if (!ev_timer_active(&f->feat_flush))
		ev_timer_start(f->loop, &f->feat_flush, BATCH_DELAY_MS);
}

void featured_db_close(struct featured *f)
{
	if (f->feat_flush.cb)
		ev_timer_stop(f->loop, &f->feat_flush);
	idset_clear(&f->feat_pending);
}

void featured_db_record_caller(struct featured *f, int64_t sub_id, const char *caller)
{
	char sid[24];
	snprintf(sid, sizeof(sid), "%" PRId64, sub_id);
	const char *values[] = {sid, caller};
	if (pgq_exec(f->q, "feat_lc_put", 2, values, NULL, NULL) == 0)
		f->stats.callers_recorded++;
	else
		log_debug("last caller of subscriber %s not recorded: database not available", sid);
}

struct lc_ask {
	void (*cb)(void *arg, const char *caller, const char *err);
	void *arg;
};

static void on_last_caller(void *arg, const PGresult *res, const char *err)
{
	struct lc_ask *a = arg;
	if (!res)
		a->cb(a->arg, NULL, err);
	else
		a->cb(a->arg, PQntuples(res) ? PQgetvalue(res, 0, 0) : NULL, NULL);
	free(a);
}

int featured_db_last_caller(struct featured *f, int64_t sub_id,
			    void (*cb)(void *arg, const char *caller, const char *err), void *arg)
{
	char sid[24];
	snprintf(sid, sizeof(sid), "%" PRId64, sub_id);
	const char *values[] = {sid};
	struct lc_ask *a = malloc(sizeof(*a));
	if (!a)
		return -1;
	*a = (struct lc_ask){cb, arg};
	if (pgq_exec(f->q, "feat_lc_get", 1, values, on_last_caller, a) < 0) {
		free(a);
		return -1;
	}
	return 0;
}
