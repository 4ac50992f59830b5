#include "redirect/persist.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "log.h"
#include "pgq.h"

/* A set of subscriber ids (open addressing; 0 is never an id). */
struct idset {
	int64_t *v;
	size_t cap, n;
};

static size_t id_hash(int64_t id, size_t cap)
{
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static bool idset_has(const struct idset *s, int64_t id)
{
	if (!s->n)
		return false;
	for (size_t i = id_hash(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (s->v[i] == id)
			return true;
		if (!s->v[i])
			return false;
	}
}

static int idset_add(struct idset *s, int64_t id)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		int64_t *v = calloc(cap, sizeof(*v));
		if (!v)
			return -1;
		struct idset n = {v, cap, 0};
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i])
				idset_add(&n, s->v[i]);
		free(s->v);
		*s = n;
	}
	size_t i = id_hash(id, s->cap);
	while (s->v[i] && s->v[i] != id)
		i = (i + 1) & (s->cap - 1);
	if (!s->v[i]) {
		s->v[i] = id;
		s->n++;
	}
	return 0;
}

static void idset_clear(struct idset *s)
{
	free(s->v);
	*s = (struct idset){0};
}

/* The writes of one REGISTER. Its reply waits for them, but not for
 * ever: a database that hangs (rather than refusing) must not hold
 * registrations, so after BATCH_WAIT_MS the reply goes and the AOR is
 * written again when the connection is next up. */
#define BATCH_WAIT_MS 1000

struct batch {
	struct persist *p;
	unsigned pending;
	bool open;
	void (*done)(void *arg);  /* NULL once called */
	void *arg;
	int64_t subscriber_id;
	struct ev_timer timer;
};

/* One write in flight: which AOR to mark dirty if it fails, and the batch
 * its REGISTER waits on. */
struct write {
	struct persist *p;
	struct batch *batch;
	int64_t subscriber_id;
};

struct persist {
	struct ev_loop *loop;
	struct pgq *q;
	struct location *loc;
	char origin[300];
	struct batch *batch;       /* between persist_begin and persist_end */
	struct idset dirty;
	bool loaded;
	struct ev_timer tick;
	uint64_t sweep_ms, next_sweep;
	struct persist_stats st;
};

#define COLUMNS "subscriber_id, contact, (q * 1000)::int, expires, " \
	"extract(epoch FROM expires_at)::bigint, call_id, cseq, array_to_string(path, ','), " \
	"coalesce(instance_id, ''), coalesce(reg_id, 0), coalesce(received, ''), coalesce(user_agent, '')"

/* $8 is the Path values joined by ','; split back between '>' and '<'. */
#define VALUES "($1::bigint, $2, $3::int / 1000.0, $4::int, to_timestamp($5::bigint), $6, $7::bigint, " \
	"CASE WHEN $8 = '' THEN '{}'::text[] ELSE regexp_split_to_array($8, '(?<=>),(?=<)') END, " \
	"nullif($9, ''), nullif($10::int, 0), nullif($11, ''), nullif($12, ''))"

#define SET_ALL "q = EXCLUDED.q, expires = EXCLUDED.expires, expires_at = EXCLUDED.expires_at, " \
	"call_id = EXCLUDED.call_id, cseq = EXCLUDED.cseq, path = EXCLUDED.path, " \
	"received = EXCLUDED.received, user_agent = EXCLUDED.user_agent"

static const struct {
	const char *name, *sql;
	int nparams;
} statements[] = {
	{"loc_upsert_contact",
	 "INSERT INTO location_bindings (subscriber_id, contact, q, expires, expires_at, call_id, cseq, "
	 "path, instance_id, reg_id, received, user_agent) VALUES " VALUES
	 " ON CONFLICT (subscriber_id, contact) WHERE reg_id IS NULL DO UPDATE SET "
	 SET_ALL ", instance_id = EXCLUDED.instance_id", 12},
	{"loc_upsert_flow",
	 "INSERT INTO location_bindings (subscriber_id, contact, q, expires, expires_at, call_id, cseq, "
	 "path, instance_id, reg_id, received, user_agent) VALUES " VALUES
	 " ON CONFLICT (subscriber_id, instance_id, reg_id) WHERE reg_id IS NOT NULL DO UPDATE SET "
	 SET_ALL ", contact = EXCLUDED.contact", 12},
	{"loc_delete_contact",
	 "DELETE FROM location_bindings WHERE subscriber_id = $1::bigint AND contact = $2 AND reg_id IS NULL", 2},
	{"loc_delete_flow",
	 "DELETE FROM location_bindings WHERE subscriber_id = $1::bigint AND instance_id = $2 "
	 "AND reg_id = $3::int", 3},
	{"loc_clear_aor", "DELETE FROM location_bindings WHERE subscriber_id = $1::bigint", 1},
	{"loc_load_all",
	 "SELECT " COLUMNS " FROM location_bindings WHERE expires_at > now() "
	 "ORDER BY subscriber_id, q DESC, updated_at DESC", 0},
	{"loc_load_aor",
	 "SELECT " COLUMNS " FROM location_bindings WHERE subscriber_id = $1::bigint AND expires_at > now() "
	 "ORDER BY q DESC, updated_at DESC", 1},
	{"loc_sweep", "DELETE FROM location_bindings WHERE expires_at <= now() - interval '10 seconds'", 0},
};

static void mark_dirty(struct persist *p, int64_t id)
{
	if (idset_add(&p->dirty, id) < 0)
		log_warnx("bindings of subscriber %" PRId64 " not marked for writing: out of memory", id);
}

static void batch_settle(struct batch *b)
{
	if (b->pending || b->open)
		return;
	ev_timer_stop(b->p->loop, &b->timer);
	if (b->done)
		b->done(b->arg);
	free(b);
}

static void batch_late(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct batch *b = arg;
	(void)loop;
	(void)t;
	log_warnx("bindings of subscriber %" PRId64 ": the database did not answer in %u ms; "
		  "answered from memory, written again later", b->subscriber_id, BATCH_WAIT_MS);
	b->p->st.write_errors++;
	mark_dirty(b->p, b->subscriber_id);
	void (*done)(void *) = b->done;
	b->done = NULL;
	if (done)
		done(b->arg);
}

static void write_done(void *arg, const PGresult *res, const char *err)
{
	struct write *w = arg;
	struct persist *p = w->p;
	if (!res) {
		p->st.write_errors++;
		log_debug("binding write for subscriber %" PRId64 " failed (%s): kept for later",
			  w->subscriber_id, err);
		mark_dirty(p, w->subscriber_id);
	}
	if (w->batch) {
		w->batch->pending--;
		batch_settle(w->batch);
	}
	free(w);
}

/* Queues a write for an AOR; on refusal (no connection, queue full) the
 * AOR becomes dirty. */
static void queue_write(struct persist *p, int64_t id, const char *stmt, int n, const char *const *v)
{
	struct write *w = malloc(sizeof(*w));
	if (!w) {
		mark_dirty(p, id);
		return;
	}
	*w = (struct write){p, p->batch, id};
	if (pgq_exec(p->q, stmt, n, v, write_done, w) < 0) {
		free(w);
		mark_dirty(p, id);
		return;
	}
	p->st.writes++;
	if (w->batch) {
		w->batch->pending++;
		w->batch->subscriber_id = id;
	}
}

static void write_binding(struct persist *p, int64_t id, const struct binding *b)
{
	char sid[24], q[8], expires[16], at[24], cseq[16], reg_id[16];
	snprintf(sid, sizeof(sid), "%" PRId64, id);
	snprintf(q, sizeof(q), "%u", b->q);
	snprintf(expires, sizeof(expires), "%u", b->expires);
	snprintf(at, sizeof(at), "%" PRId64, b->expires_at);
	snprintf(cseq, sizeof(cseq), "%u", b->cseq);
	snprintf(reg_id, sizeof(reg_id), "%u", b->reg_id);
	const char *v[12] = {sid, binding_cstr(b, BINDING_CONTACT), q, expires, at,
			     binding_cstr(b, BINDING_CALL_ID), cseq, binding_cstr(b, BINDING_PATH),
			     binding_cstr(b, BINDING_INSTANCE), reg_id, binding_cstr(b, BINDING_RECEIVED),
			     binding_cstr(b, BINDING_USER_AGENT)};
	bool flow = b->reg_id && b->len[BINDING_INSTANCE];
	queue_write(p, id, flow ? "loc_upsert_flow" : "loc_upsert_contact", 12, v);
}

void persist_changed(void *ctx, int64_t subscriber_id, const struct binding *b, enum location_op op)
{
	struct persist *p = ctx;
	if (idset_has(&p->dirty, subscriber_id))
		return; /* written whole when the database is back */
	if (op == LOCATION_ADDED || op == LOCATION_UPDATED) {
		write_binding(p, subscriber_id, b);
		return;
	}
	char sid[24], reg_id[16];
	snprintf(sid, sizeof(sid), "%" PRId64, subscriber_id);
	snprintf(reg_id, sizeof(reg_id), "%u", b->reg_id);
	if (b->reg_id && b->len[BINDING_INSTANCE]) {
		const char *v[3] = {sid, binding_cstr(b, BINDING_INSTANCE), reg_id};
		queue_write(p, subscriber_id, "loc_delete_flow", 3, v);
	} else {
		const char *v[2] = {sid, binding_cstr(b, BINDING_CONTACT)};
		queue_write(p, subscriber_id, "loc_delete_contact", 2, v);
	}
}

void persist_begin(struct persist *p)
{
	p->batch = calloc(1, sizeof(*p->batch));
	if (p->batch) {
		p->batch->p = p;
		p->batch->open = true;
		ev_timer_init(&p->batch->timer, batch_late, p->batch);
	}
}

void persist_end(struct persist *p, void (*done)(void *arg), void *arg)
{
	struct batch *b = p->batch;
	p->batch = NULL;
	if (!b) {
		done(arg);
		return;
	}
	b->open = false;
	b->done = done;
	b->arg = arg;
	if (b->pending)
		ev_timer_start(p->loop, &b->timer, BATCH_WAIT_MS);
	batch_settle(b);
}

/* ---- loading ------------------------------------------------------------- */

static struct binding_info row_info(const PGresult *res, int r)
{
	struct binding_info in = {0};
#define COL(c) sip_str_make(PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c))
	in.contact = COL(1);
	in.q = (uint16_t)atoi(PQgetvalue(res, r, 2));
	in.expires = (uint32_t)strtoul(PQgetvalue(res, r, 3), NULL, 10);
	in.expires_at = strtoll(PQgetvalue(res, r, 4), NULL, 10);
	in.call_id = COL(5);
	in.cseq = (uint32_t)strtoul(PQgetvalue(res, r, 6), NULL, 10);
	in.path = COL(7);
	in.instance = COL(8);
	in.reg_id = (uint32_t)strtoul(PQgetvalue(res, r, 9), NULL, 10);
	in.received = COL(10);
	in.user_agent = COL(11);
#undef COL
	return in;
}

/* Replaces the AOR of rows [from, to) of res. */
static void replace_rows(struct persist *p, int64_t id, const PGresult *res, int from, int to)
{
	size_t n = (size_t)(to - from);
	struct binding_info *v = n ? calloc(n, sizeof(*v)) : NULL;
	if (n && !v) {
		log_warnx("reloading subscriber %" PRId64 "'s bindings: out of memory", id);
		return;
	}
	for (int r = from; r < to; r++)
		v[r - from] = row_info(res, r);
	if (location_replace(p->loc, id, v, n) < 0)
		log_warnx("reloading subscriber %" PRId64 "'s bindings failed", id);
	free(v);
}

static void aor_loaded(void *arg, const PGresult *res, const char *err)
{
	struct write *w = arg;
	struct persist *p = w->p;
	if (res && !idset_has(&p->dirty, w->subscriber_id)) {
		p->st.aor_reloads++;
		replace_rows(p, w->subscriber_id, res, 0, PQntuples(res));
	} else if (!res) {
		log_debug("reloading subscriber %" PRId64 ": %s (the next connection reloads all)",
			  w->subscriber_id, err);
	}
	free(w);
}

struct absent {
	struct idset *seen;
	struct idset gone;
};

static void collect_absent(void *ctx, int64_t id, const struct binding *first)
{
	struct absent *a = ctx;
	(void)first;
	if (!idset_has(a->seen, id))
		idset_add(&a->gone, id);
}

static void all_loaded(void *arg, const PGresult *res, const char *err)
{
	struct persist *p = arg;
	if (!res) {
		log_warnx("loading the bindings failed: %s", err);
		return;
	}
	struct idset seen = {0};
	int n = PQntuples(res);
	for (int r = 0; r < n;) {
		int64_t id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		int end = r + 1;
		while (end < n && strtoll(PQgetvalue(res, end, 0), NULL, 10) == id)
			end++;
		idset_add(&seen, id);
		if (!idset_has(&p->dirty, id))
			replace_rows(p, id, res, r, end);
		r = end;
	}
	/* AORs we hold that the database no longer has: removed elsewhere */
	struct absent a = {&seen, {0}};
	location_foreach(p->loc, collect_absent, &a);
	for (size_t i = 0; i < a.gone.cap; i++)
		if (a.gone.v[i] && !idset_has(&p->dirty, a.gone.v[i]))
			location_replace(p->loc, a.gone.v[i], NULL, 0);
	idset_clear(&a.gone);
	idset_clear(&seen);
	p->loaded = true;
	p->st.full_loads++;
	struct location_stats ls;
	location_get_stats(p->loc, &ls);
	log_info("bindings loaded: %zu bindings of %zu subscribers", ls.bindings, ls.aors);
}

/* Writes every dirty AOR whole (its rows deleted, its bindings inserted),
 * in pipeline order before anything queued after. */
static void flush_dirty(struct persist *p)
{
	struct idset dirty = p->dirty;
	p->dirty = (struct idset){0};
	if (dirty.n)
		log_info("writing the bindings of %zu subscribers kept in memory only", dirty.n);
	for (size_t i = 0; i < dirty.cap; i++) {
		int64_t id = dirty.v[i];
		if (!id)
			continue;
		p->st.resyncs++;
		char sid[24];
		snprintf(sid, sizeof(sid), "%" PRId64, id);
		const char *v[1] = {sid};
		queue_write(p, id, "loc_clear_aor", 1, v);
		for (const struct binding *b = location_lookup(p->loc, id); b; b = b->next)
			write_binding(p, id, b);
	}
	idset_clear(&dirty);
}

void persist_up(struct persist *p)
{
	flush_dirty(p);
	if (pgq_exec(p->q, "loc_load_all", 0, NULL, all_loaded, p) < 0)
		log_warnx("cannot queue the bindings load");
}

void persist_notify(struct persist *p, const char *op, int64_t subscriber_id, const char *payload)
{
	(void)op;
	char want[400];
	snprintf(want, sizeof(want), "\"origin\" : \"%s\"", p->origin);
	if (strstr(payload, want)) {
		p->st.notifications_own++;
		return;
	}
	if (subscriber_id <= 0 || idset_has(&p->dirty, subscriber_id))
		return;
	struct write *w = malloc(sizeof(*w));
	if (!w)
		return;
	*w = (struct write){p, NULL, subscriber_id};
	char sid[24];
	snprintf(sid, sizeof(sid), "%" PRId64, subscriber_id);
	const char *v[1] = {sid};
	if (pgq_exec(p->q, "loc_load_aor", 1, v, aor_loaded, w) < 0)
		free(w);
}

/* Every second: AORs left dirty by a slow or failing write (the
 * connection stayed up) are written again; now and then, rows that
 * expired with nobody to delete them (an instance stopped) go. */
static void tick(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct persist *p = arg;
	if (pgq_connected(p->q)) {
		if (p->dirty.n)
			flush_dirty(p);
		if (ev_now(loop) >= p->next_sweep) {
			pgq_exec(p->q, "loc_sweep", 0, NULL, NULL, NULL);
			p->next_sweep = ev_now(loop) + p->sweep_ms;
		}
	}
	ev_timer_start(loop, t, 1000);
}

struct persist *persist_new(struct ev_loop *loop, struct pgq *q, struct location *loc,
			    const char *origin, uint64_t sweep_ms)
{
	struct persist *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->loop = loop;
	p->q = q;
	p->loc = loc;
	p->sweep_ms = sweep_ms ? sweep_ms : 60000;
	snprintf(p->origin, sizeof(p->origin), "%s", origin);
	for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++)
		if (pgq_prepare(q, statements[i].name, statements[i].sql, statements[i].nparams) < 0) {
			free(p);
			return NULL;
		}
	p->next_sweep = ev_now(loop) + p->sweep_ms;
	ev_timer_init(&p->tick, tick, p);
	ev_timer_start(loop, &p->tick, 1000);
	return p;
}

void persist_free(struct persist *p)
{
	if (!p)
		return;
	ev_timer_stop(p->loop, &p->tick);
	idset_clear(&p->dirty);
	free(p->batch);
	free(p);
}

bool persist_loaded(const struct persist *p) { return p->loaded; }

void persist_get_stats(const struct persist *p, struct persist_stats *out)
{
	*out = p->st;
	out->dirty = p->dirty.n;
}
