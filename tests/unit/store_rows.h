/*
 * A store loaded without a database, for unit tests: rows in the columns
 * of the store's own queries (common/store.c) built as libpq results
 * (PQmakeEmptyPGresult, PQsetvalue) and handed to store_load_results.
 *
 *   struct test_rows t = {0};
 *   rows_domain(&t, 1, "example.com");
 *   rows_subscriber(&t, 10, 1, "alice", "", "calling:7 called:8");
 *   rows_group(&t, 7, "feat", "feature", "skip");
 *   rows_server(&t, 7, 70, "192.0.2.7", 5080, "udp", 1);
 *   struct store *s = rows_store(&t);   (loop and store freed by rows_free)
 */
#ifndef VOCAL_TEST_STORE_ROWS_H
#define VOCAL_TEST_STORE_ROWS_H

#include <stdio.h>
#include <string.h>

#include "ev.h"
#include "store.h"
#include "store_internal.h"

struct test_rows {
	PGresult *domains, *subscribers, *servers, *plans;
	struct ev_loop *loop;
	struct store *store;
};

static inline PGresult *rows_new(int ncols)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc att[16];
	char names[16][4];
	if (ncols < 0 || ncols > 16)
		abort();
	for (int i = 0; i < ncols; i++) {
		names[i][0] = 'c';
		names[i][1] = (char)('a' + i);
		names[i][2] = '\0';
		att[i] = (PGresAttDesc){.name = names[i], .format = 0, .typid = 25, .typlen = -1,
					.atttypmod = -1};
	}
	if (!r || !PQsetResultAttrs(r, ncols, att))
		abort();
	return r;
}

/* Appends a row of ncols values (NULL: SQL NULL). */
static inline void rows_add(PGresult **r, int ncols, const char *const *v)
{
	if (!*r)
		*r = rows_new(ncols);
	int row = PQntuples(*r);
	for (int i = 0; i < ncols; i++)
		if (!PQsetvalue(*r, row, i, (char *)(v[i] ? v[i] : NULL), v[i] ? (int)strlen(v[i]) : -1))
			abort();
}

static inline void rows_domain(struct test_rows *t, long id, const char *name)
{
	char ids[24];
	snprintf(ids, sizeof ids, "%ld", id);
	rows_add(&t->domains, 4, (const char *const[]){ids, name, name, "t"});
}

/* A digest subscriber, enabled, with aliases ("domain_id:user ..."), DIDs
 * and features ("side:group ..."). */
static inline void rows_subscriber_full(struct test_rows *t, long id, long domain_id,
					const char *user, const char *aliases, const char *dids,
					const char *features, bool enabled)
{
	char ids[24], dom[24];
	snprintf(ids, sizeof ids, "%ld", id);
	snprintf(dom, sizeof dom, "%ld", domain_id);
	rows_add(&t->subscribers, 14,
		 (const char *const[]){ids, dom, user, "", "digest", "", "", "", "0",
				       enabled ? "t" : "f", "", aliases, dids, features});
}

static inline void rows_subscriber(struct test_rows *t, long id, long domain_id, const char *user,
				   const char *features)
{
	rows_subscriber_full(t, id, domain_id, user, "", "", features, true);
}

/* A group without servers so far (rows_server adds them right after). */
static inline void rows_group(struct test_rows *t, long id, const char *name, const char *kind,
			      const char *on_failure)
{
	char ids[24];
	snprintf(ids, sizeof ids, "%ld", id);
	rows_add(&t->servers, 11,
		 (const char *const[]){ids, name, kind, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
				       on_failure});
}

/* A server of the group added last (its group row is reused for the
 * first server). */
static inline void rows_server(struct test_rows *t, long server_id, const char *host, int port,
			       const char *transport, int priority, bool enabled)
{
	PGresult *r = t->servers;
	int last = PQntuples(r) - 1;
	char sid[24], sport[12], prio[12];
	snprintf(sid, sizeof sid, "%ld", server_id);
	snprintf(sport, sizeof sport, "%d", port);
	snprintf(prio, sizeof prio, "%d", priority);
	const char *v[11] = {PQgetvalue(r, last, 0), PQgetvalue(r, last, 1), PQgetvalue(r, last, 2),
			     sid, host, sport, transport, prio, "1", enabled ? "t" : "f",
			     PQgetvalue(r, last, 10)};
	char copy[3][128];
	for (int i = 0; i < 3; i++) {
		snprintf(copy[i], sizeof copy[i], "%s", v[i]);
		v[i] = copy[i];
	}
	char onf[16];
	snprintf(onf, sizeof onf, "%s", v[10]);
	v[10] = onf;
	if (PQgetisnull(r, last, 3)) {
		/* the group's own row still has no server: fill it */
		for (int i = 3; i < 10; i++)
			if (!PQsetvalue(r, last, i, (char *)v[i], (int)strlen(v[i])))
				abort();
		return;
	}
	rows_add(&t->servers, 11, v);
}

/* A dial plan entry (plan rows must come together, by plan id). */
static inline void rows_plan(struct test_rows *t, long plan_id, const char *name, int position,
			     const char *pattern, const char *tmpl)
{
	char ids[24], pos[12];
	snprintf(ids, sizeof ids, "%ld", plan_id);
	snprintf(pos, sizeof pos, "%d", position);
	rows_add(&t->plans, 5, (const char *const[]){ids, name, pos, pattern, tmpl});
}

/* Loads what was added into a new store (or the existing one again). */
static inline struct store *rows_store(struct test_rows *t)
{
	if (!t->store) {
		t->loop = ev_loop_new();
		t->store = store_new(t->loop, NULL, NULL);
		if (!t->loop || !t->store)
			abort();
	}
	if (store_load_results(t->store, t->domains, t->subscribers, t->servers, t->plans) < 0)
		abort();
	return t->store;
}

/* Drops the rows (the store keeps what it loaded). */
static inline void rows_clear(struct test_rows *t)
{
	PQclear(t->domains);
	PQclear(t->subscribers);
	PQclear(t->servers);
	PQclear(t->plans);
	t->domains = t->subscribers = t->servers = t->plans = NULL;
}

static inline void rows_free(struct test_rows *t)
{
	rows_clear(t);
	store_free(t->store);
	if (t->loop)
		ev_loop_free(t->loop);
	t->store = NULL;
	t->loop = NULL;
}

#endif
