/*
 * Asynchronous PostgreSQL for daemons on the event loop: one libpq
 * connection in non-blocking pipeline mode, prepared statements, LISTEN,
 * and reconnection on its own.
 *
 * A SIP daemon must never wait for the database: a REGISTER written
 * through to PostgreSQL, a cache reloading a row, run here without
 * blocking the loop. Queries are pipelined (libpq 14+ pipeline mode, each
 * query followed by its own sync point, so one failing query does not
 * abort the next), their results come back through callbacks in the order
 * the queries were queued.
 *
 * Connection life: pgq_new starts connecting at once (PQconnectStart);
 * when connected it prepares every declared statement, LISTENs on every
 * channel, then calls the up hook (caches reload there: notifications
 * were possibly missed while down) and runs queued queries. When the
 * connection breaks (or a connect attempt fails) the down hook is called
 * with the reason, every query in flight or queued fails (its callback
 * gets res NULL and the reason), and pgq retries with exponential backoff
 * between retry_min_ms and retry_max_ms. pgq never holds work across a
 * connection loss, so the caller decides what to retry (redirectd keeps
 * its dirty bindings, a cache reloads in the up hook).
 *
 * pgq_exec while disconnected fails at once (returns -1); the queue is
 * bounded by max_queued (queries queued or in flight), beyond which
 * pgq_exec returns -1 too: backpressure the caller turns into "serve from
 * memory" rather than a growing queue.
 */
#ifndef VOCAL_PGQ_H
#define VOCAL_PGQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <postgresql/libpq-fe.h>

struct ev_loop;
struct pgq;

struct pgq_opts {
	const char *conninfo;          /* anything libpq takes (see db.h) */
	const char *const *listen;     /* channels to LISTEN on, NULL-terminated; may be NULL */
	uint32_t retry_min_ms;         /* 0 = 100 */
	uint32_t retry_max_ms;         /* 0 = 5000 */
	size_t max_queued;             /* queued + in flight; 0 = 65536 */
	uint32_t connect_timeout_ms;   /* a connect attempt that takes longer fails; 0 = 5000 */
};

struct pgq_hooks {
	void *ctx;
	/* Connected, statements prepared, channels listened to. */
	void (*up)(void *ctx);
	/* Connection lost or a connect attempt failed (called once per
	 * loss, not per retry); why is one line. */
	void (*down)(void *ctx, const char *why);
	/* A notification on a channel we LISTEN on. */
	void (*notify)(void *ctx, const char *channel, const char *payload);
};

/*
 * The result of one query: res is the PGresult on success (status
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK; owned by pgq, valid during the
 * call only), or NULL with err set (the server's error message, or "not
 * connected", "connection lost", "shutting down").
 */
typedef void (*pgq_result_fn)(void *arg, const PGresult *res, const char *err);

struct pgq *pgq_new(struct ev_loop *loop, const struct pgq_opts *opts, const struct pgq_hooks *hooks);
/* Closes the connection; queued queries fail with "shutting down" (their
 * callbacks run inside pgq_free). Not to be called from inside one of
 * pgq's own callbacks or hooks. */
void pgq_free(struct pgq *q);

/*
 * Declares a prepared statement, prepared on every connection before any
 * query runs (now, if already connected). Call before or after
 * pgq_new's connection is up; names are unique per pgq. Returns 0, or -1
 * (no memory, duplicate name).
 */
int pgq_prepare(struct pgq *q, const char *name, const char *sql, int nparams);

/*
 * Queues an execution of a prepared statement with text parameters
 * (values[i] NULL is SQL NULL; copied, so they may be reused at once).
 * cb (may be NULL: errors are logged) is called later from the loop, never
 * from inside pgq_exec. Returns 0, or -1 when not connected or the queue is
 * full (cb is not called).
 */
int pgq_exec(struct pgq *q, const char *name, int nparams, const char *const *values,
	     pgq_result_fn cb, void *arg);

bool pgq_connected(const struct pgq *q);

struct pgq_stats {
	uint64_t queries, failed, notifications, connects, disconnects;
	size_t queued;  /* queued + in flight now */
};
void pgq_get_stats(const struct pgq *q, struct pgq_stats *out);

#endif
