/*
 * Asynchronous PostgreSQL on the event loop (see pgq.h).
 *
 * One list of work, in order: entries waiting to be sent (pending) and
 * entries sent whose results have not all arrived (inflight). Besides the
 * caller's queries, the list carries pgq's own work: PREPAREs and LISTENs
 * on every new connection, which must run before any query. Each entry is
 * followed on the wire by its own sync point, so its results come back as
 * result(s), NULL, PGRES_PIPELINE_SYNC, and an error ends at its sync
 * rather than aborting the entries behind it.
 *
 * pgq_exec never touches the socket: it appends and arms a zero-delay
 * timer that sends everything pending at once. That batches a burst of
 * queries into few writes and keeps callbacks out of pgq_exec, since any
 * write may find the connection broken. Every callback runs from an I/O or
 * timer callback of the loop (or from pgq_free).
 *
 * pgq_free must not be called from one of pgq's own callbacks or hooks:
 * the code that called the callback would go on using the freed pgq.
 */
#include "pgq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "log.h"

#define DEF_RETRY_MIN_MS       100
#define DEF_RETRY_MAX_MS       5000
#define DEF_MAX_QUEUED	       65536
#define DEF_CONNECT_TIMEOUT_MS 5000

enum pgq_state {
	PGQ_DOWN,	/* waiting for the retry timer */
	PGQ_CONNECTING, /* PQconnectPoll in progress */
	PGQ_SETUP,	/* connected, preparing and listening */
	PGQ_UP,
	PGQ_CLOSING,	/* inside pgq_free */
};

enum entry_kind { ENTRY_QUERY, ENTRY_PREPARE, ENTRY_LISTEN };

/* Where an inflight entry is in its result sequence. */
enum entry_phase { PHASE_RESULT, PHASE_SYNC };

struct stmt {
	struct stmt *next;
	char *name, *sql;
	int nparams;
};

struct entry {
	struct entry *next;
	enum entry_kind kind;
	enum entry_phase phase;
	bool done;		/* callback ran (an extra result is ignored) */
	bool setup;		/* part of a new connection's setup */
	const char *name;	/* statement or channel (points into this entry or a stmt) */
	const char *sql;	/* ENTRY_PREPARE, ENTRY_LISTEN */
	int nparams;
	const char **values;	/* ENTRY_QUERY: copies, in this entry's allocation */
	pgq_result_fn cb;
	void *arg;
};

struct entry_list {
	struct entry *head, *tail;
};

struct pgq {
	struct ev_loop *loop;
	struct pgq_hooks hooks;
	char *conninfo;
	char **listen;		/* NULL-terminated copies */
	uint32_t retry_min_ms, retry_max_ms, connect_timeout_ms;
	size_t max_queued;

	enum pgq_state state;
	PGconn *conn;
	int fd;			/* watched, or -1 */
	unsigned io_events;
	uint64_t backoff_ms;	/* next retry delay */
	bool down_reported;	/* the down hook ran for the current outage */
	size_t setup_left;	/* setup entries still inflight */

	struct stmt *stmts, *stmts_tail;
	struct entry_list pending, inflight;
	size_t nqueued;		/* caller queries pending + inflight */

	struct ev_timer retry_timer, connect_timer, send_timer;
	/* queries: accepted by pgq_exec; failed: answered with an error;
	 * connects: times up; disconnects: outages (down hook calls). */
	struct pgq_stats stats;
};

static void start_connect(struct pgq *q);
static void conn_lost(struct pgq *q, const char *why);

/* ---- small helpers ------------------------------------------------------- */

static char *dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

/* libpq's messages end in a newline and may span lines: make them one line. */
static void one_line(char *dst, size_t cap, const char *src)
{
	size_t n = 0;
	bool space = false;

	if (cap == 0)
		return;
	for (; src && *src && n + 1 < cap; src++) {
		if (*src == '\n' || *src == '\r' || *src == '\t') {
			space = true;
			continue;
		}
		if (space && n > 0 && n + 2 < cap)
			dst[n++] = ' ';
		space = false;
		dst[n++] = *src;
	}
	dst[n] = '\0';
}

static void list_push(struct entry_list *l, struct entry *e)
{
	e->next = NULL;
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
}

static struct entry *list_pop(struct entry_list *l)
{
	struct entry *e = l->head;
	if (e) {
		l->head = e->next;
		if (!l->head)
			l->tail = NULL;
		e->next = NULL;
	}
	return e;
}

static void set_io(struct pgq *q, unsigned events)
{
	if (q->fd >= 0 && q->io_events != events) {
		if (ev_io_modify(q->loop, q->fd, events) == 0)
			q->io_events = events;
	}
}

static void kick_send(struct pgq *q)
{
	if (!ev_timer_active(&q->send_timer))
		ev_timer_start(q->loop, &q->send_timer, 0);
}

/* Runs e's callback (once) with a result or an error, and counts it. */
static void entry_complete(struct pgq *q, struct entry *e, const PGresult *res, const char *err)
{
	if (e->done)
		return;
	e->done = true;
	switch (e->kind) {
	case ENTRY_QUERY:
		if (err)
			q->stats.failed++;
		if (e->cb)
			e->cb(e->arg, res, err);
		else if (err)
			log_warnx("pgq: %s: %s", e->name, err);
		break;
	case ENTRY_PREPARE:
		/* The statement stays declared: its queries fail with the
		 * server's "does not exist" until the SQL is fixed. */
		if (err)
			log_warnx("pgq: cannot prepare %s: %s", e->name, err);
		break;
	case ENTRY_LISTEN:
		if (err)
			log_warnx("pgq: cannot listen on %s: %s", e->name, err);
		break;
	}
}

static void entry_free(struct pgq *q, struct entry *e)
{
	if (e->kind == ENTRY_QUERY)
		q->nqueued--;
	free(e);
}

/* ---- the wire --------------------------------------------------------------- */

/* Sends every pending entry, each with its sync point. Returns -1 when the
 * connection failed (the caller calls conn_lost). */
static int send_pending(struct pgq *q)
{
	struct entry *e;

	while ((e = q->pending.head) != NULL) {
		int ok;
		switch (e->kind) {
		case ENTRY_QUERY:
			ok = PQsendQueryPrepared(q->conn, e->name, e->nparams, e->values, NULL,
						 NULL, 0);
			break;
		case ENTRY_PREPARE:
			ok = PQsendPrepare(q->conn, e->name, e->sql, e->nparams, NULL);
			break;
		default:
			ok = PQsendQueryParams(q->conn, e->sql, 0, NULL, NULL, NULL, NULL, 0);
			break;
		}
		if (!ok || !PQpipelineSync(q->conn))
			return -1;
		list_pop(&q->pending);
		e->phase = PHASE_RESULT;
		list_push(&q->inflight, e);
	}
	int r = PQflush(q->conn);
	if (r < 0)
		return -1;
	/* While output waits, the server may be waiting for us to read:
	 * watch both. */
	set_io(q, r > 0 ? EV_READ | EV_WRITE : EV_READ);
	return 0;
}

static void became_up(struct pgq *q)
{
	q->state = PGQ_UP;
	q->backoff_ms = q->retry_min_ms;
	q->down_reported = false;
	q->stats.connects++;
	log_info("pgq: connected to %s", PQhost(q->conn) ? PQhost(q->conn) : "(socket)");
	if (q->hooks.up)
		q->hooks.up(q->hooks.ctx);
}

/* Reads the results that are complete, in order. Returns -1 on a broken
 * connection. */
static int read_results(struct pgq *q)
{
	while (q->conn && q->inflight.head && !PQisBusy(q->conn)) {
		struct entry *e = q->inflight.head;
		PGresult *res = PQgetResult(q->conn);

		if (e->phase == PHASE_SYNC) {
			/* Not expected (the sync is queued behind the
			 * NULL); wait for input rather than spin. */
			if (res == NULL)
				break;
			ExecStatusType st = PQresultStatus(res);
			PQclear(res);
			if (st != PGRES_PIPELINE_SYNC) {
				log_warnx("pgq: unexpected %s where a sync was due",
					  PQresStatus(st));
				return -1;
			}
			list_pop(&q->inflight);
			bool setup = e->setup;
			entry_free(q, e);
			if (setup && --q->setup_left == 0 && q->state == PGQ_SETUP)
				became_up(q);
			continue;
		}
		if (res == NULL) {
			/* End of this entry's results. */
			if (!e->done)
				entry_complete(q, e, NULL, "no result");
			e->phase = PHASE_SYNC;
			continue;
		}
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			entry_complete(q, e, res, NULL);
		} else if (st == PGRES_PIPELINE_SYNC) {
			/* A sync where a result was due: the entry was
			 * answered with nothing at all. */
			PQclear(res);
			log_warnx("pgq: sync without a result for %s", e->name);
			return -1;
		} else {
			const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
			char err[512];
			one_line(err, sizeof err, m ? m : PQresultErrorMessage(res));
			entry_complete(q, e, NULL, err[0] ? err : PQresStatus(st));
		}
		PQclear(res);
	}
	return q->conn && PQstatus(q->conn) == CONNECTION_BAD ? -1 : 0;
}

static void deliver_notifies(struct pgq *q)
{
	PGnotify *n;

	while (q->conn && (n = PQnotifies(q->conn)) != NULL) {
		q->stats.notifications++;
		if (q->hooks.notify)
			q->hooks.notify(q->hooks.ctx, n->relname, n->extra);
		PQfreemem(n);
	}
}

static void lost_with_conn_error(struct pgq *q)
{
	char why[512];
	one_line(why, sizeof why, PQerrorMessage(q->conn));
	conn_lost(q, why[0] ? why : "connection lost");
}

static void on_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct pgq *q = arg;
	(void)loop;
	(void)fd;

	if (events & EV_WRITE) {
		int r = PQflush(q->conn);
		if (r < 0) {
			lost_with_conn_error(q);
			return;
		}
		set_io(q, r > 0 ? EV_READ | EV_WRITE : EV_READ);
	}
	/* An error or hang-up shows as readable too: PQconsumeInput finds it. */
	if (events & EV_READ) {
		if (!PQconsumeInput(q->conn)) {
			lost_with_conn_error(q);
			return;
		}
		if (read_results(q) < 0) {
			lost_with_conn_error(q);
			return;
		}
		deliver_notifies(q);
		/* Callbacks may have queued more; the send timer sends it. */
	}
}

static void on_send_timer(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct pgq *q = arg;
	(void)loop;
	(void)t;

	if ((q->state == PGQ_UP || q->state == PGQ_SETUP) && q->pending.head &&
	    send_pending(q) < 0)
		lost_with_conn_error(q);
}

/* ---- connecting -------------------------------------------------------------- */

static void watch_fd(struct pgq *q, unsigned events, ev_io_cb cb)
{
	/* libpq may close and open a socket (another host, another address)
	 * under the same number: register afresh each time. */
	if (q->fd >= 0)
		ev_io_remove(q->loop, q->fd);
	q->fd = PQsocket(q->conn);
	q->io_events = events;
	if (q->fd >= 0 && ev_io_add(q->loop, q->fd, events, cb, q) < 0) {
		log_warn("pgq: cannot watch the database socket");
		q->fd = -1;
	}
}

static int queue_setup(struct pgq *q)
{
	q->setup_left = 0;
	for (struct stmt *s = q->stmts; s; s = s->next) {
		struct entry *e = calloc(1, sizeof *e);
		if (!e)
			return -1;
		*e = (struct entry){.kind = ENTRY_PREPARE, .setup = true, .name = s->name,
				    .sql = s->sql, .nparams = s->nparams};
		list_push(&q->pending, e);
		q->setup_left++;
	}
	for (char **ch = q->listen; ch && *ch; ch++) {
		char *id = PQescapeIdentifier(q->conn, *ch, strlen(*ch));
		if (!id)
			return -1;
		size_t n = strlen(id) + sizeof "LISTEN ";
		struct entry *e = calloc(1, sizeof *e + n);
		if (!e) {
			PQfreemem(id);
			return -1;
		}
		char *sql = (char *)(e + 1);
		snprintf(sql, n, "LISTEN %s", id);
		PQfreemem(id);
		*e = (struct entry){.kind = ENTRY_LISTEN, .setup = true, .name = *ch, .sql = sql};
		list_push(&q->pending, e);
		q->setup_left++;
	}
	return 0;
}

/* Server notices (and the FATAL of a shutdown) go to our log rather than
 * libpq's default, stderr. */
static void on_notice(void *arg, const char *message)
{
	char line[512];
	(void)arg;
	one_line(line, sizeof line, message);
	log_info("pgq: server: %s", line);
}

static void connected(struct pgq *q)
{
	ev_timer_stop(q->loop, &q->connect_timer);
	if (PQsetnonblocking(q->conn, 1) != 0 || !PQenterPipelineMode(q->conn)) {
		lost_with_conn_error(q);
		return;
	}
	watch_fd(q, EV_READ, on_io);
	q->state = PGQ_SETUP;
	/* Setup entries go before anything else: nothing of the caller's can
	 * be pending now (pgq_exec refuses while not up). */
	if (queue_setup(q) < 0) {
		conn_lost(q, "out of memory");
		return;
	}
	if (q->setup_left == 0) {
		became_up(q);
		kick_send(q);
		return;
	}
	if (send_pending(q) < 0)
		lost_with_conn_error(q);
}

static void on_connect_io(struct ev_loop *loop, int fd, unsigned events, void *arg);

static void connect_step(struct pgq *q)
{
	PostgresPollingStatusType st = PQconnectPoll(q->conn);

	switch (st) {
	case PGRES_POLLING_OK:
		connected(q);
		break;
	case PGRES_POLLING_READING:
		watch_fd(q, EV_READ, on_connect_io);
		break;
	case PGRES_POLLING_WRITING:
		watch_fd(q, EV_WRITE, on_connect_io);
		break;
	default:
		lost_with_conn_error(q);
		break;
	}
}

static void on_connect_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	connect_step(arg);
}

static void on_connect_timeout(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	conn_lost(arg, "connect timeout");
}

static void on_retry(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	start_connect(arg);
}

static void start_connect(struct pgq *q)
{
	/* expand_dbname: conninfo is a whole connection string, as in
	 * db_connect. */
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {q->conninfo, program_invocation_short_name, NULL};

	q->state = PGQ_CONNECTING;
	q->fd = -1;
	q->conn = PQconnectStartParams(keys, vals, 1);
	if (!q->conn) {
		conn_lost(q, "out of memory");
		return;
	}
	if (PQstatus(q->conn) == CONNECTION_BAD) {
		lost_with_conn_error(q);
		return;
	}
	PQsetNoticeProcessor(q->conn, on_notice, q);
	ev_timer_start(q->loop, &q->connect_timer, q->connect_timeout_ms);
	/* libpq's first step is writing (connect() in progress). */
	watch_fd(q, EV_WRITE, on_connect_io);
}

/*
 * Ends the connection or the connect attempt: reports the outage (once),
 * fails every entry, and arms the retry. Runs from loop callbacks only.
 */
static void conn_lost(struct pgq *q, const char *why)
{
	bool was_up = q->state == PGQ_UP || q->state == PGQ_SETUP;
	char reason[512];

	/* why may point into the connection's buffer: copy before PQfinish. */
	one_line(reason, sizeof reason, why);
	ev_timer_stop(q->loop, &q->connect_timer);
	ev_timer_stop(q->loop, &q->send_timer);
	if (q->fd >= 0)
		ev_io_remove(q->loop, q->fd);
	q->fd = -1;
	if (q->conn)
		PQfinish(q->conn);
	q->conn = NULL;
	q->state = PGQ_DOWN;
	q->setup_left = 0;

	/* Detach the work first: callbacks below see an empty, down pgq. */
	struct entry *inflight = q->inflight.head, *pending = q->pending.head;
	q->inflight = q->pending = (struct entry_list){0};

	if (was_up)
		log_warnx("pgq: connection lost: %s", reason);
	else
		log_debug("pgq: connect failed: %s", reason);
	ev_timer_start(q->loop, &q->retry_timer, q->backoff_ms);
	q->backoff_ms = q->backoff_ms * 2 > q->retry_max_ms ? q->retry_max_ms : q->backoff_ms * 2;
	if (!q->down_reported) {
		q->down_reported = true;
		q->stats.disconnects++;
		if (!was_up)
			log_warnx("pgq: cannot connect: %s", reason);
		if (q->hooks.down)
			q->hooks.down(q->hooks.ctx, reason);
	}
	for (struct entry *lists[2] = {inflight, pending}, **l = lists; l < lists + 2; l++) {
		struct entry *e = *l, *next;
		for (; e; e = next) {
			next = e->next;
			entry_complete(q, e, NULL, "connection lost");
			entry_free(q, e);
		}
	}
}

/* ---- the interface ---------------------------------------------------------- */

struct pgq *pgq_new(struct ev_loop *loop, const struct pgq_opts *opts, const struct pgq_hooks *hooks)
{
	struct pgq *q = calloc(1, sizeof *q);
	size_t n = 0;

	if (!q)
		return NULL;
	q->loop = loop;
	if (hooks)
		q->hooks = *hooks;
	q->fd = -1;
	q->retry_min_ms = opts->retry_min_ms ? opts->retry_min_ms : DEF_RETRY_MIN_MS;
	q->retry_max_ms = opts->retry_max_ms ? opts->retry_max_ms : DEF_RETRY_MAX_MS;
	if (q->retry_max_ms < q->retry_min_ms)
		q->retry_max_ms = q->retry_min_ms;
	q->max_queued = opts->max_queued ? opts->max_queued : DEF_MAX_QUEUED;
	q->connect_timeout_ms =
		opts->connect_timeout_ms ? opts->connect_timeout_ms : DEF_CONNECT_TIMEOUT_MS;
	q->backoff_ms = q->retry_min_ms;
	ev_timer_init(&q->retry_timer, on_retry, q);
	ev_timer_init(&q->connect_timer, on_connect_timeout, q);
	ev_timer_init(&q->send_timer, on_send_timer, q);

	q->conninfo = dupstr(opts->conninfo ? opts->conninfo : "");
	for (const char *const *ch = opts->listen; ch && *ch; ch++)
		n++;
	q->listen = calloc(n + 1, sizeof *q->listen);
	if (!q->conninfo || !q->listen)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (!(q->listen[i] = dupstr(opts->listen[i])))
			goto fail;
	/* Connect from the loop, so that a failure reaches the down hook
	 * after the caller has finished setting up (the hook's ctx may not
	 * exist yet). */
	q->state = PGQ_DOWN;
	ev_timer_start(loop, &q->retry_timer, 0);
	return q;
fail:
	pgq_free(q);
	return NULL;
}

void pgq_free(struct pgq *q)
{
	if (!q)
		return;
	q->state = PGQ_CLOSING;
	ev_timer_stop(q->loop, &q->retry_timer);
	ev_timer_stop(q->loop, &q->connect_timer);
	ev_timer_stop(q->loop, &q->send_timer);
	if (q->fd >= 0)
		ev_io_remove(q->loop, q->fd);
	if (q->conn)
		PQfinish(q->conn);
	q->conn = NULL;
	struct entry *e;
	while ((e = list_pop(&q->inflight)) || (e = list_pop(&q->pending))) {
		entry_complete(q, e, NULL, "shutting down");
		entry_free(q, e);
	}
	for (struct stmt *s = q->stmts, *next; s; s = next) {
		next = s->next;
		free(s);
	}
	for (char **ch = q->listen; ch && *ch; ch++)
		free(*ch);
	free(q->listen);
	free(q->conninfo);
	free(q);
}

int pgq_prepare(struct pgq *q, const char *name, const char *sql, int nparams)
{
	for (struct stmt *s = q->stmts; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return -1;
	size_t nl = strlen(name) + 1, sl = strlen(sql) + 1;
	struct stmt *s = malloc(sizeof *s + nl + sl);
	if (!s)
		return -1;
	s->next = NULL;
	s->name = (char *)(s + 1);
	s->sql = s->name + nl;
	memcpy(s->name, name, nl);
	memcpy(s->sql, sql, sl);
	s->nparams = nparams;

	/* Prepared on the current connection too, ahead of any query that
	 * is queued after this call. */
	if (q->state == PGQ_UP || q->state == PGQ_SETUP) {
		struct entry *e = calloc(1, sizeof *e);
		if (!e) {
			free(s);
			return -1;
		}
		*e = (struct entry){.kind = ENTRY_PREPARE, .name = s->name, .sql = s->sql,
				    .nparams = nparams};
		list_push(&q->pending, e);
		kick_send(q);
	}
	if (q->stmts_tail)
		q->stmts_tail->next = s;
	else
		q->stmts = s;
	q->stmts_tail = s;
	return 0;
}

int pgq_exec(struct pgq *q, const char *name, int nparams, const char *const *values,
	     pgq_result_fn cb, void *arg)
{
	if (q->state != PGQ_UP || q->nqueued >= q->max_queued || nparams < 0)
		return -1;

	/* One allocation: the entry, the value pointers, the name and the
	 * values. */
	size_t nl = strlen(name) + 1, size = sizeof(struct entry) + (size_t)nparams * sizeof(char *) + nl;
	for (int i = 0; i < nparams; i++)
		if (values[i])
			size += strlen(values[i]) + 1;
	struct entry *e = malloc(size);
	if (!e)
		return -1;
	*e = (struct entry){.kind = ENTRY_QUERY, .nparams = nparams, .cb = cb, .arg = arg};
	e->values = (const char **)(e + 1);
	char *p = (char *)(e->values + nparams);
	memcpy(p, name, nl);
	e->name = p;
	p += nl;
	for (int i = 0; i < nparams; i++) {
		if (!values[i]) {
			e->values[i] = NULL;
			continue;
		}
		size_t vl = strlen(values[i]) + 1;
		memcpy(p, values[i], vl);
		e->values[i] = p;
		p += vl;
	}
	list_push(&q->pending, e);
	q->nqueued++;
	q->stats.queries++;
	kick_send(q);
	return 0;
}

bool pgq_connected(const struct pgq *q)
{
	return q->state == PGQ_UP;
}

void pgq_get_stats(const struct pgq *q, struct pgq_stats *out)
{
	*out = q->stats;
	out->queued = q->nqueued;
}
