/* The REST API's routes and handlers (api.h). */
#include "provisioning/api.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <jansson.h>
#include <postgresql/libpq-fe.h>

#include "db.h"
#include "log.h"
#include "provisioning/features.h"
#include "provisioning/import.h"
#include "provisioning/session.h"
#include "provisioning/tokens.h"
#include "provisioning/validate.h"
#include "sip/digest.h"

/* ---- one PostgreSQL session per request thread ----------------------------
 * MHD's pool threads live as long as the server; each connects on its first
 * request and the key's destructor closes the session when MHD joins the
 * thread. A broken session is reset on the next request. */

static const char *db_conninfo;
/* Between api_begin and api_commit / api_rollback on this thread. */
static __thread bool in_tx;
static pthread_key_t db_key;
static pthread_once_t db_once = PTHREAD_ONCE_INIT;

static void db_close(void *conn)
{
	PQfinish(conn);
}

static void db_key_init(void)
{
	pthread_key_create(&db_key, db_close);
}

void api_init(const char *conninfo)
{
	db_conninfo = conninfo;
	pthread_once(&db_once, db_key_init);
}

static PGconn *db(struct http_resp *resp)
{
	PGconn *c = pthread_getspecific(db_key);
	if (in_tx && (!c || PQstatus(c) != CONNECTION_OK || !PQconsumeInput(c) ||
		      (PQtransactionStatus(c) != PQTRANS_INTRANS &&
		       PQtransactionStatus(c) != PQTRANS_INERROR))) {
		/* a reset would leave the transaction behind, silently */
		http_log(LOG_WARNING, "database session lost inside a transaction");
		http_fail(resp, 503, "Database unavailable", "the database session was lost; nothing "
			  "was written, try again");
		return NULL;
	}
	/* An idle session learns of a server restart only when it reads:
	 * PQconsumeInput sees the closed socket now, so this request gets a
	 * fresh session rather than a 503. */
	if (c && PQstatus(c) == CONNECTION_OK && !PQconsumeInput(c))
		http_log(LOG_INFO, "database session lost while idle: %s", PQerrorMessage(c));
	if (c && PQstatus(c) != CONNECTION_OK) {
		PQreset(c);
		if (PQstatus(c) != CONNECTION_OK) {
			http_log(LOG_WARNING, "database: %s", PQerrorMessage(c));
			http_fail(resp, 503, "Database unavailable", "try again later");
			return NULL;
		}
	}
	if (!c) {
		char err[512];
		c = db_connect(db_conninfo, err, sizeof(err));
		if (!c) {
			http_log(LOG_WARNING, "database: %s", err);
			http_fail(resp, 503, "Database unavailable", "try again later");
			return NULL;
		}
		pthread_setspecific(db_key, c);
	}
	return c;
}

/* Runs sql with n text parameters (NULL: SQL NULL). Returns the result, or
 * NULL with the error turned into a problem in resp: the unique and
 * foreign-key constraints become 409 or 422 with PostgreSQL's detail
 * ("Key (name)=(example.com) already exists."). */
static PGresult *query(struct http_resp *resp, const char *sql, int n, const char *const *params)
{
	PGconn *c = db(resp);
	if (!c)
		return NULL;
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (PQstatus(c) != CONNECTION_OK && !in_tx) {
		/* The session died (a server restart, a failover): once more on a
		 * fresh one. A statement that reached a dying server did not
		 * commit, unless the reply alone was lost; every statement here
		 * then fails harmlessly (unique name: 409, If-Match: 412, gone:
		 * 404) or is idempotent (the password's UPDATE); at worst its
		 * audit_log row is written twice. */
		PQclear(r);
		PQreset(c);
		r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	}
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	if (!state || PQstatus(c) != CONNECTION_OK) {
		http_log(LOG_WARNING, "database: %s", PQerrorMessage(c));
		http_fail(resp, 503, "Database unavailable", "try again later");
	} else if (strcmp(state, "23505") == 0) {
		http_fail(resp, 409, "Conflict", "%s", detail ? detail : "already exists");
	} else if (strcmp(state, "23503") == 0 && detail && strstr(detail, "still referenced")) {
		http_fail(resp, 409, "Conflict", "still in use: %s", detail);
	} else if (strcmp(state, "23503") == 0) {
		http_fail(resp, 422, "Invalid field", "%s", detail ? detail : msg);
	} else if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0) {
		http_fail(resp, 422, "Invalid field", "%s", msg ? msg : "refused by the database");
	} else {
		http_log(LOG_WARNING, "database: %s: %s", state, msg ? msg : "?");
		http_fail(resp, 500, "Internal error", "the database refused the request");
	}
	PQclear(r);
	return NULL;
}

struct pg_result *api_query(struct http_resp *resp, const char *sql, const struct api_params *ps)
{
	return query(resp, sql, ps->n, ps->v);
}

int api_begin(struct http_resp *resp)
{
	PGresult *r = query(resp, "BEGIN", 0, NULL);
	if (!r)
		return -1;
	PQclear(r);
	in_tx = true;
	return 0;
}

int api_commit(struct http_resp *resp)
{
	PGresult *r = query(resp, "COMMIT", 0, NULL);
	if (r && PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		/* a failed transaction's COMMIT says ROLLBACK */
		http_fail(resp, 409, "Conflict", "the change was rolled back; try again");
		PQclear(r);
		r = NULL;
	}
	in_tx = false;
	if (!r) {
		api_rollback();
		return -1;
	}
	PQclear(r);
	return 0;
}

void api_rollback(void)
{
	in_tx = false;
	PGconn *c = pthread_getspecific(db_key);
	if (c && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
}

PGresult *api_change(struct api_call *c, const char *resource, const char *stmt,
		     struct api_params *ps, const char *summary)
{
	/* a data-modifying WITH runs whole in the statement's transaction,
	 * referenced or not: no change without its row, nor a row without
	 * its change (none when stmt changed nothing) */
	int acct = c->who.account_id ? api_param_num(ps, c->who.account_id) : api_param(ps, NULL);
	int actor = api_param(ps, c->who.login);
	int method = api_param(ps, c->req->method);
	int path = api_param(ps, c->req->path);
	int res = api_param(ps, resource);
	int sum = api_param(ps, summary ? summary : "{}");
	size_t cap = strlen(stmt) + 512;
	char *sql = malloc(cap);
	if (!sql) {
		http_fail(c->resp, 500, "Internal error", "out of memory");
		return NULL;
	}
	snprintf(sql, cap,
		 "WITH changed AS (%s), audit AS (INSERT INTO audit_log (account_id, actor, method, "
		 "path, resource, resource_id, summary) SELECT $%d::bigint, $%d, $%d, $%d, $%d, id, "
		 "$%d::jsonb FROM changed) SELECT * FROM changed",
		 stmt, acct, actor, method, path, res, sum);
	PGresult *r = query(c->resp, sql, ps->n, ps->v);
	free(sql);
	return r;
}

char *api_summary(const struct body_spec *spec, const void *in)
{
	json_t *o = json_object();
	unsigned has = *(const unsigned *)in;
	for (const struct field_spec *f = spec->fields; o && f->name; f++) {
		if (!(has & f->bit) || !f->bit || (f->flags & FIELD_SECRET))
			continue;
		const char *at = (const char *)in + f->off;
		json_t *v = f->type == FIELD_OBJECT   ? json_incref(*(json_t *const *)at)
			    : f->type == FIELD_STRING ? json_string(at)
			    : f->type == FIELD_BOOL ? json_boolean(*(const bool *)at)
			    : f->type == FIELD_INT  ? json_integer(*(const int *)at)
						    : json_integer(*(const int64_t *)at);
		json_object_set_new(o, f->name, v);
	}
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

/* ---- helpers ---------------------------------------------------------------- */

/* The ETag of a row: its id and updated_at in microseconds (the schema's
 * vocal_touch trigger moves updated_at on every change). */
#define ETAG_SQL API_ETAG_SQL

static void set_etag(struct http_resp *resp, const char *tag)
{
	snprintf(resp->etag, sizeof(resp->etag), "\"%s\"", tag);
}

/* If-Match for PATCH and DELETE: 428 when absent. tag gets what the
 * statements compare with ETAG_SQL: "*", or the listed tags without their
 * quotes, comma-separated (RFC 9110 13.1.1: any may match). Tags that
 * cannot be ours (weak ones: the comparison is strong; other characters)
 * are left out, so a header of only those matches no row: 412. */
int api_if_match(const struct http_req *req, struct http_resp *resp, char *tag, size_t cap)
{
	const char *h = http_header(req, "If-Match");
	if (!h) {
		http_fail(resp, 428, "Precondition required",
			  "send If-Match with the ETag of a GET, so that changes do not overwrite each other");
		return -1;
	}
	size_t o = 0;
	tag[0] = 0;
	while (*h) {
		while (*h == ' ' || *h == ',' || *h == '\t')
			h++;
		if (*h == '*') {
			snprintf(tag, cap, "*");
			return 0;
		}
		const char *start = h;
		while (*h && *h != ',')
			h++;
		const char *end = h;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		size_t n = (size_t)(end - start);
		if (n < 3 || start[0] != '"' || end[-1] != '"' ||
		    strspn(start + 1, "0123456789.") != n - 2 || o + n + 1 >= cap)
			continue;
		o += (size_t)snprintf(tag + o, cap - o, "%s%.*s", o ? "," : "", (int)(n - 2), start + 1);
	}
	if (!tag[0])
		snprintf(tag, cap, "-");
	return 0;
}

/* After an UPDATE/DELETE ... WHERE id AND etag matched nothing: 404 or 412. */
void api_missing_or_stale(struct http_resp *resp, const char *table, const char *noun,
			  const char *id)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE id = $1", table);
	PGresult *r = query(resp, sql, 1, (const char *[]){id});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		http_fail(resp, 404, "Not found", "no %s with id %s", noun, id);
	else
		http_fail(resp, 412, "Precondition failed", "the %s changed since that ETag; GET it again",
			  noun);
	PQclear(r);
}

/* A query parameter that must be a positive integer (or absent). */
static int query_id(const struct http_req *req, struct http_resp *resp, const char *name,
		    long long min, long long max, char *out, size_t cap)
{
	const char *v = http_query(req, name);
	out[0] = 0;
	if (!v)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || errno || n < min || n > max || v[0] == '+' || v[0] == ' ') {
		http_fail(resp, 400, "Invalid query parameter", "%s: must be an integer from %lld to %lld",
			  name, min, max);
		return -1;
	}
	snprintf(out, cap, "%lld", n);
	return 1;
}

/* The list shape: {"items": [...], "next": last id or null}. The query
 * returns one row: json array, number of rows, last id. */
static void list_reply(struct http_resp *resp, PGresult *r, long long limit)
{
	const char *items = PQgetvalue(r, 0, 0);
	long long n = atoll(PQgetvalue(r, 0, 1));
	size_t cap = strlen(items) + 64;
	char *body = malloc(cap);
	if (!body) {
		http_fail(resp, 500, "Internal error", "out of memory");
		return;
	}
	if (n == limit)
		snprintf(body, cap, "{\"items\":%s,\"next\":%s}", items, PQgetvalue(r, 0, 2));
	else
		snprintf(body, cap, "{\"items\":%s,\"next\":null}", items);
	free(resp->body);
	resp->body = body;
	resp->status = 200;
	resp->type = "application/json";
}

/* The one-row answer of a statement that RETURNING (json, etag). */
void api_row_reply(struct http_resp *resp, PGresult *r, int status, const char *what,
		   const char *id)
{
	if (PQntuples(r) == 0) {
		http_fail(resp, 404, "Not found", "no %s with id %s", what, id);
		return;
	}
	http_json(resp, status, PQgetvalue(r, 0, 0));
	set_etag(resp, PQgetvalue(r, 0, 1));
}

static int paging(const struct http_req *req, struct http_resp *resp, char *limit, char *after)
{
	if (query_id(req, resp, "limit", 1, 1000, limit, 24) < 0 ||
	    query_id(req, resp, "after", 0, INT64_MAX, after, 24) < 0)
		return -1;
	if (!limit[0])
		strcpy(limit, "100");
	if (!after[0])
		strcpy(after, "0");
	return 0;
}


/* GET of one resource: 304 without a body when If-None-Match names its
 * current ETag (or is *), so a client polling for changes moves no data. */
static void not_modified(const struct http_req *req, struct http_resp *resp)
{
	const char *h = http_header(req, "If-None-Match");
	if (resp->status != 200 || !h || !resp->etag[0])
		return;
	/* weak comparison (RFC 9110 13.1.2): W/ prefixes do not matter */
	for (const char *t = h; (t = strstr(t, resp->etag)); t++) {
		char after = t[strlen(resp->etag)];
		if (after == 0 || after == ',' || after == ' ' || after == '\t')
			goto match;
	}
	if (strcmp(h, "*") != 0)
		return;
match:
	free(resp->body);
	resp->body = NULL;
	resp->status = 304;
}


/* The q of a subscriber search. */
static bool valid_search(const char *s)
{
	return strlen(s) <= 64;
}

/* ---- resources: one descriptor each, one set of handlers for all ----------------- */

int api_param(struct api_params *ps, const char *v)
{
	ps->v[ps->n] = v;
	return ++ps->n;
}

int api_param_num(struct api_params *ps, long long v)
{
	snprintf(ps->num[ps->n], sizeof(ps->num[0]), "%lld", v);
	return api_param(ps, ps->num[ps->n]);
}

/* A body member's value as a parameter; an absent FIELD_PARENT_DEFAULT id
 * is NULL. */
static int param_field(struct api_params *ps, const struct field_spec *f, const void *in)
{
	const char *at = (const char *)in + f->off;
	switch (f->type) {
	case FIELD_BOOL:
		return api_param(ps, *(const bool *)at ? "t" : "f");
	case FIELD_INT:
		return api_param_num(ps, *(const int *)at);
	case FIELD_ID:
		if (!*(const int64_t *)at)
			return api_param(ps, NULL);
		return api_param_num(ps, (long long)*(const int64_t *)at);
	case FIELD_OBJECT:
		/* no generic handler writes one (feature.c does its own) */
		return api_param(ps, NULL);
	case FIELD_STRING:
		break;
	}
	return api_param(ps, at);
}

static const char *sql_cast(const struct field_spec *f)
{
	switch (f->type) {
	case FIELD_BOOL: return "::boolean";
	case FIELD_INT: return "::integer";
	case FIELD_ID: return "::bigint";
	case FIELD_OBJECT: return "::jsonb";
	case FIELD_STRING: break;
	}
	return "";
}

/* Appends to a statement being built; the text is static (the descriptors'
 * names and SQL), never a request's, which only ever travels as a
 * parameter. */
struct sql {
	char text[4096];
	size_t len;
};

static void sql_add(struct sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql_add(struct sql *q, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (q->len < sizeof(q->text))
		q->len += (size_t)vsnprintf(q->text + q->len, sizeof(q->text) - q->len, fmt, ap);
	va_end(ap);
}

/* cond with every "$?" as parameter k. */
static void sql_cond(struct sql *q, const char *cond, int k)
{
	for (const char *c = cond; *c; c++) {
		if (c[0] == '$' && c[1] == '?') {
			sql_add(q, "$%d", k);
			c++;
		} else {
			sql_add(q, "%c", *c);
		}
	}
}

static bool body_stored(const struct field_spec *f)
{
	return !(f->flags & FIELD_PATH);
}

/* The path's first id names the parent of a row under it. */
static void list_rows(struct api_call *c)
{
	const struct api_resource *res = c->route->res;
	char limit[24], after[24];
	if (paging(c->req, c->resp, limit, after) < 0)
		return;
	struct api_params ps = {0};
	api_param(&ps, after);
	api_param(&ps, limit);
	struct sql q = {.len = 0};
	sql_add(&q, "SELECT coalesce(json_agg(j ORDER BY id), '[]')::text, count(*), max(id)");
	if (res->parent)
		sql_add(&q, ", EXISTS (SELECT 1 FROM %s WHERE id = $3)", res->parent);
	sql_add(&q, " FROM (SELECT id, %s AS j FROM %s WHERE id > $1", res->json, res->table);
	if (res->parent) {
		api_param_num(&ps, c->id[0]);
		sql_add(&q, " AND %s = $3", res->fk);
	}
	for (const struct list_filter *f = res->filters; f && f->param; f++) {
		const char *v = http_query(c->req, f->param);
		int k;
		if (f->kind == FILTER_ID) {
			if (query_id(c->req, c->resp, f->param, 1, INT64_MAX, ps.num[ps.n], sizeof(ps.num[0])) < 0)
				return;
			k = api_param(&ps, ps.num[ps.n][0] ? ps.num[ps.n] : NULL);
		} else if (v && f->valid && !f->valid(v)) {
			http_fail(c->resp, 400, "Invalid query parameter", "%s: %s", f->param, f->invalid);
			return;
		} else {
			k = api_param(&ps, v && *v ? v : NULL);
		}
		sql_add(&q, " AND ($%d::%s IS NULL OR ", k, f->kind == FILTER_ID ? "bigint" : "text");
		sql_cond(&q, f->cond, k);
		sql_add(&q, ")");
	}
	sql_add(&q, " ORDER BY id LIMIT $2) x");
	PGresult *r = query(c->resp, q.text, ps.n, ps.v);
	if (!r)
		return;
	if (res->parent && strcmp(PQgetvalue(r, 0, 3), "t") != 0)
		http_fail(c->resp, 404, "Not found", "no %s with id %lld", res->parent_noun, c->id[0]);
	else
		list_reply(c->resp, r, atoll(limit));
	PQclear(r);
}

static void get_row(struct api_call *c)
{
	const struct api_resource *res = c->route->res;
	struct api_params ps = {0};
	struct sql q = {.len = 0};
	api_param_num(&ps, c->id[0]);
	sql_add(&q, "SELECT %s::text, " ETAG_SQL " FROM %s WHERE id = $1", res->json, res->table);
	PGresult *r = query(c->resp, q.text, ps.n, ps.v);
	if (!r)
		return;
	api_row_reply(c->resp, r, 200, res->noun, ps.v[0]);
	not_modified(c->req, c->resp);
	PQclear(r);
}

/* The body by the resource's spec into in, or a problem; in is as large
 * as any *_in struct. */
union body_in {
	struct domain_in domain;
	struct subscriber_in subscriber;
	struct alias_in alias;
	struct did_in did;
	struct server_group_in group;
	struct server_in server;
	struct dial_plan_in plan;
	struct dial_entry_in entry;
};

static int parse_body(struct api_call *c, bool create, union body_in *in)
{
	struct problem p;
	if (body_parse(c->route->res->body, c->req->body, c->req->len, create, in, &p) < 0) {
		http_problem(c->resp, &p);
		return -1;
	}
	return 0;
}

/* INSERT of every member (defaults included); under a parent, INSERT ...
 * SELECT from the parent's row, so a missing parent is no row: 404. */
static void create_row(struct api_call *c)
{
	const struct api_resource *res = c->route->res;
	union body_in in;
	if (parse_body(c, true, &in) < 0)
		return;
	struct api_params ps = {0};
	struct sql q = {.len = 0};
	sql_add(&q, "INSERT INTO %s (", res->table);
	if (res->parent) {
		api_param_num(&ps, c->id[0]);
		sql_add(&q, "%s", res->fk);
	}
	for (const struct field_spec *f = res->body->fields; f->name; f++)
		if (body_stored(f))
			sql_add(&q, "%s%s", q.text[q.len - 1] == '(' ? "" : ", ", f->name);
	sql_add(&q, res->parent ? ") SELECT id" : ") VALUES (");
	for (const struct field_spec *f = res->body->fields; f->name; f++) {
		if (!body_stored(f))
			continue;
		int k = param_field(&ps, f, &in);
		const char *sep = ps.n == 1 ? "" : ", ";
		if (f->flags & FIELD_PARENT_DEFAULT)
			sql_add(&q, "%scoalesce($%d%s, %s)", sep, k, sql_cast(f), f->name);
		else
			sql_add(&q, "%s$%d%s", sep, k, sql_cast(f));
	}
	if (res->parent)
		sql_add(&q, " FROM %s WHERE id = $1", res->parent);
	else
		sql_add(&q, ")");
	sql_add(&q, " RETURNING %s::text AS j, " ETAG_SQL " AS etag, id", res->json);
	char *summary = api_summary(res->body, &in);
	PGresult *r = api_change(c, res->table, q.text, &ps, summary);
	free(summary);
	if (!r)
		return;
	if (PQntuples(r) == 0) {
		http_fail(c->resp, 404, "Not found", "no %s with id %lld", res->parent_noun, c->id[0]);
	} else {
		api_row_reply(c->resp, r, 201, res->noun, "");
		/* the Location: res->self, "{id}" being the parent's */
		const char *brace = strstr(res->self, "{id}");
		if (brace)
			snprintf(c->resp->location, sizeof(c->resp->location), "%.*s%lld%s%s",
				 (int)(brace - res->self), res->self, c->id[0], brace + 4,
				 PQgetvalue(r, 0, 2));
		else
			snprintf(c->resp->location, sizeof(c->resp->location), "%s%s", res->self,
				 PQgetvalue(r, 0, 2));
	}
	PQclear(r);
}

/* UPDATE of the members given (coalesce keeps the others), if the row's
 * ETag is one If-Match names. */
static void patch_row(struct api_call *c)
{
	const struct api_resource *res = c->route->res;
	union body_in in;
	char tag[512];
	if (api_if_match(c->req, c->resp, tag, sizeof(tag)) < 0 || parse_body(c, false, &in) < 0)
		return;
	if (c->who.role == ROLE_SUBSCRIBER && (in.domain.has & ~c->route->own_fields)) {
		/* the route's own_fields: what the carrier leaves to subscribers */
		char list[128] = "";
		size_t o = 0;
		for (const struct field_spec *f = res->body->fields; f->name; f++)
			if ((f->bit & c->route->own_fields) && o < sizeof(list))
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", f->name);
		http_fail(c->resp, 403, "Forbidden", "a subscriber may change only %s",
			  o ? list : "nothing here");
		return;
	}
	struct api_params ps = {0};
	struct sql q = {.len = 0};
	api_param_num(&ps, c->id[0]);
	sql_add(&q, "UPDATE %s SET ", res->table);
	for (const struct field_spec *f = res->body->fields; f->name; f++) {
		if (f->flags & (FIELD_PATH | FIELD_FIXED))
			continue;
		bool given = in.domain.has & f->bit;
		int k = given ? param_field(&ps, f, &in) : api_param(&ps, NULL);
		if (given && (f->flags & FIELD_NULLABLE)) /* null given: set to NULL */
			sql_add(&q, "%s%s = $%d%s", k == 2 ? "" : ", ", f->name, k, sql_cast(f));
		else
			sql_add(&q, "%s%s = coalesce($%d%s, %s)", k == 2 ? "" : ", ", f->name, k,
				sql_cast(f), f->name);
	}
	int t = api_param(&ps, tag);
	sql_add(&q,
		" WHERE id = $1 AND ($%d = '*' OR " ETAG_SQL " = ANY(string_to_array($%d, ','))) "
		"RETURNING %s::text AS j, " ETAG_SQL " AS etag, id",
		t, t, res->json);
	char *summary = api_summary(res->body, &in);
	PGresult *r = api_change(c, res->table, q.text, &ps, summary);
	free(summary);
	if (!r)
		return;
	if (PQntuples(r) == 0)
		api_missing_or_stale(c->resp, res->table, res->noun, ps.v[0]);
	else
		api_row_reply(c->resp, r, 200, res->noun, ps.v[0]);
	PQclear(r);
}

static void delete_row(struct api_call *c)
{
	const struct api_resource *res = c->route->res;
	char tag[512];
	if (api_if_match(c->req, c->resp, tag, sizeof(tag)) < 0)
		return;
	struct api_params ps = {0};
	struct sql q = {.len = 0};
	api_param_num(&ps, c->id[0]);
	api_param(&ps, tag);
	sql_add(&q,
		"DELETE FROM %s WHERE id = $1 AND ($2 = '*' OR " ETAG_SQL
		" = ANY(string_to_array($2, ','))) RETURNING id",
		res->table);
	PGresult *r = api_change(c, res->table, q.text, &ps, NULL);
	if (!r)
		return;
	if (PQntuples(r) == 0)
		api_missing_or_stale(c->resp, res->table, res->noun, ps.v[0]);
	else
		c->resp->status = 204;
	PQclear(r);
}

/* Deletes one row of a parent (/subscribers/{id}/aliases/{alias_id}): 404
 * when either is missing or the row is another parent's. These rows cannot
 * be changed through the API (aliases, DIDs) or are the registrar's
 * (bindings, which a REGISTER refreshes at any time), so no If-Match. */
static void remove_row(struct api_call *c)
{
	const struct api_resource *res = c->route->res;
	struct api_params ps = {0};
	struct sql q = {.len = 0};
	api_param_num(&ps, c->id[0]);
	api_param_num(&ps, c->id[1]);
	sql_add(&q, "DELETE FROM %s WHERE id = $2 AND %s = $1 RETURNING id", res->table, res->fk);
	PGresult *r = api_change(c, res->table, q.text, &ps, NULL);
	if (!r)
		return;
	if (PQntuples(r) == 0)
		http_fail(c->resp, 404, "Not found", "%s %s has no %s with id %s", res->parent_noun,
			  ps.v[0], res->noun, ps.v[1]);
	else
		c->resp->status = 204;
	PQclear(r);
}

/* ---- the resources ------------------------------------------------------------- */

static const struct api_resource domains = {
	.table = "domains",
	.noun = "domain",
	.json = "json_build_object('id', id, 'name', name, 'realm', realm, 'enabled', enabled, "
		"'feature_group_id', feature_group_id, 'created_at', created_at, 'updated_at', updated_at)",
	.body = &body_domain,
	.self = "/api/v1/domains/",
};

/* HA1s are a password's equivalent: never shown, only whether one is set.
 * The search (q) is LIKE '%q%' on the lower-case columns, which the
 * trigram indexes of 005_search.sql serve, with q's '\', '%' and '_'
 * escaped: matched as typed, no wildcard for a client to escape. */
#define SEARCH_LIKE(col)                                                                       \
	"lower(" col ") LIKE '%' || replace(replace(replace(lower($?), '\\', '\\\\'), '%', "     \
	"'\\%'), '_', '\\_') || '%' ESCAPE '\\'"
static const struct api_resource subscribers = {
	.table = "subscribers",
	.noun = "subscriber",
	.json = "json_build_object('id', id, 'domain_id', domain_id, 'user_part', user_part, "
		"'display_name', display_name, 'auth_kind', auth_kind, 'enabled', enabled, "
		"'has_password', ha1_md5 IS NOT NULL, 'created_at', created_at, "
		"'updated_at', updated_at)",
	.body = &body_subscriber,
	.self = "/api/v1/subscribers/",
	.filters = (const struct list_filter[]){
		{"domain", FILTER_ID, "domain_id = $?", NULL, NULL},
		{"q", FILTER_TEXT,
		 SEARCH_LIKE("user_part") " OR " SEARCH_LIKE("display_name"),
		 valid_search, "at most 64 bytes"},
		{0},
	},
};

/* Another user part in a hosted domain (the subscriber's own unless
 * domain_id says otherwise). */
static const struct api_resource aliases = {
	.table = "aliases",
	.noun = "alias",
	.json = "json_build_object('id', id, 'subscriber_id', subscriber_id, 'domain_id', domain_id, "
		"'user_part', user_part, 'created_at', created_at)",
	.body = &body_alias,
	.self = "/api/v1/subscribers/{id}/aliases/",
	.parent = "subscribers",
	.fk = "subscriber_id",
	.parent_noun = "subscriber",
};

static const struct api_resource dids = {
	.table = "dids",
	.noun = "DID",
	.json = "json_build_object('id', id, 'subscriber_id', subscriber_id, 'number', number, "
		"'created_at', created_at)",
	.body = &body_did,
	.self = "/api/v1/subscribers/{id}/dids/",
	.parent = "subscribers",
	.fk = "subscriber_id",
	.parent_noun = "subscriber",
};

/* The registrar's bindings of a subscriber, read-only: redirectd writes
 * them. Removing one is deleting the row; the schema's trigger tells every
 * redirectd on channel vocal_bindings, and each drops it from memory. */
#define BINDING_JSON_MEMBERS                                                                   \
	"'id', id, 'contact', contact, 'q', q, 'expires_at', expires_at, "                        \
	"'user_agent', user_agent, 'received', received, 'path', path, "                           \
	"'instance_id', instance_id, 'reg_id', reg_id, 'updated_at', updated_at"

static const struct api_resource bindings = {
	.table = "location_bindings",
	.noun = "registration",
	.json = "json_build_object(" BINDING_JSON_MEMBERS ")",
	.parent = "subscribers",
	.fk = "subscriber_id",
	.parent_noun = "subscriber",
};

/* Every live binding, for the carrier's registrations page: the same rows
 * with their subscriber and AOR (one index lookup each, a page at most). */
static const struct api_resource all_bindings = {
	.table = "location_bindings",
	.noun = "registration",
	.json = "json_build_object(" BINDING_JSON_MEMBERS ", 'subscriber_id', subscriber_id, 'aor', "
		"(SELECT s.user_part || '@' || d.name FROM subscribers s JOIN domains d ON d.id = s.domain_id "
		"WHERE s.id = subscriber_id))",
	.filters = (const struct list_filter[]){
		{"subscriber", FILTER_ID, "subscriber_id = $?", NULL, NULL},
		{"domain", FILTER_ID, "subscriber_id IN (SELECT id FROM subscribers WHERE domain_id = $?)",
		 NULL, NULL},
		{0},
	},
};

/* A group that servers or subscribers (marshal_group_id) refer to cannot
 * be deleted: 409. */
static const struct api_resource server_groups = {
	.table = "server_groups",
	.noun = "server group",
	.json = "json_build_object('id', id, 'name', name, 'kind', kind, 'description', description, "
		"'on_failure', on_failure, 'created_at', created_at, 'updated_at', updated_at)",
	.body = &body_server_group,
	.self = "/api/v1/server-groups/",
	.filters = (const struct list_filter[]){
		{"kind", FILTER_TEXT, "kind = $?", valid_server_kind, "not a server kind"},
		{0},
	},
};

static const struct api_resource servers = {
	.table = "servers",
	.noun = "server",
	.json = "json_build_object('id', id, 'group_id', group_id, 'host', host, 'port', port, "
		"'transport', transport, 'priority', priority, 'weight', weight, 'enabled', enabled, "
		"'created_at', created_at, 'updated_at', updated_at)",
	.body = &body_server,
	.self = "/api/v1/servers/",
	.parent = "server_groups",
	.fk = "group_id",
	.parent_noun = "server group",
};

/* Its entries go with it (ON DELETE CASCADE). */
static const struct api_resource dial_plans = {
	.table = "dial_plans",
	.noun = "dial plan",
	.json = "json_build_object('id', id, 'name', name, 'description', description, "
		"'created_at', created_at, 'updated_at', updated_at)",
	.body = &body_dial_plan,
	.self = "/api/v1/dial-plans/",
};

static const struct api_resource dial_entries = {
	.table = "dial_plan_entries",
	.noun = "dial plan entry",
	.json = "json_build_object('id', id, 'dial_plan_id', dial_plan_id, 'position', position, "
		"'pattern', pattern, 'contact_template', contact_template, "
		"'created_at', created_at, 'updated_at', updated_at)",
	.body = &body_dial_entry,
	.self = "/api/v1/dial-plan-entries/",
	.parent = "dial_plans",
	.fk = "dial_plan_id",
	.parent_noun = "dial plan",
};

/* Stores the three HA1s (MD5, SHA-256, SHA-512/256; RFC 8760) of the
 * password for the subscriber's user and its domain's realm, never the
 * password. One statement reads user and realm and writes the digests, so
 * a concurrent change of the realm cannot leave digests of the old one. */
static void subscriber_password(struct api_call *c)
{
	const struct http_req *req = c->req;
	struct http_resp *resp = c->resp;
	long long id = c->id[0];
	struct password_in in;
	struct problem p;
	char ids[24];
	if (api_parse_password(req->body, req->len, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = NULL;
	for (int attempt = 0; attempt < 3; attempt++) {
		r = query(resp,
			  "SELECT s.user_part, d.realm FROM subscribers s JOIN domains d ON d.id = s.domain_id "
			  "WHERE s.id = $1",
			  1, (const char *[]){ids});
		if (!r)
			break;
		if (PQntuples(r) == 0) {
			http_fail(resp, 404, "Not found", "no subscriber with id %s", ids);
			break;
		}
		char user[128], realm[256], md5[DIGEST_HEX_MAX], s256[DIGEST_HEX_MAX],
			s512[DIGEST_HEX_MAX];
		snprintf(user, sizeof(user), "%s", PQgetvalue(r, 0, 0));
		snprintf(realm, sizeof(realm), "%s", PQgetvalue(r, 0, 1));
		PQclear(r);
		r = NULL;
		if (digest_ha1(DIGEST_ALG_MD5, user, realm, in.password, md5) < 0 ||
		    digest_ha1(DIGEST_ALG_SHA256, user, realm, in.password, s256) < 0 ||
		    digest_ha1(DIGEST_ALG_SHA512_256, user, realm, in.password, s512) < 0) {
			http_fail(resp, 500, "Internal error", "cannot compute the digests");
			break;
		}
		/* written only if user and realm are still the ones hashed */
		struct api_params ps = API_PARAMS(ids, user, realm, md5, s256, s512);
		r = api_change(c, "subscribers",
			       "UPDATE subscribers s SET ha1_md5 = $4, ha1_sha256 = $5, ha1_sha512_256 = $6 "
			       "FROM domains d WHERE s.id = $1 AND d.id = s.domain_id AND s.user_part = $2 "
			       "AND d.realm = $3 RETURNING s.id::text || '.' || "
			       "(extract(epoch FROM s.updated_at) * 1000000)::bigint::text AS etag, s.id",
			       &ps, "{\"password\":\"set\"}");
		if (!r)
			break;
		if (PQntuples(r) == 1) {
			resp->status = 204;
			set_etag(resp, PQgetvalue(r, 0, 0));
			break;
		}
		PQclear(r);
		r = NULL; /* the realm changed in between: hash again */
	}
	if (r)
		PQclear(r);
	else if (resp->status == 500 && !resp->body)
		http_fail(resp, 409, "Conflict", "the domain's realm kept changing; try again");
	explicit_bzero(&in, sizeof(in));
}


/* ---- the document and the table -------------------------------------------------- */

static void openapi(struct api_call *c)
{
	http_json(c->resp, 200, api_openapi_json);
}

/* What the carrier's dashboard shows: exact counts (a few tens of
 * milliseconds with 1,000,000 subscribers, each by an index-only scan
 * where one exists), so the GUI never pages through lists to count. */
static void stats(struct api_call *c)
{
	static const char sql[] =
		"SELECT json_build_object("
		"'subscribers', (SELECT json_build_object('total', count(*), "
		"'enabled', count(*) FILTER (WHERE enabled)) FROM subscribers), "
		"'registrations', (SELECT json_build_object('bindings', count(*), "
		"'subscribers', count(DISTINCT subscriber_id)) FROM location_bindings "
		"WHERE expires_at > now()), "
		"'domains', (SELECT count(*) FROM domains), "
		"'server_groups', (SELECT count(*) FROM server_groups), "
		"'servers', (SELECT count(*) FROM servers), "
		"'dial_plans', (SELECT count(*) FROM dial_plans), "
		"'accounts', (SELECT count(*) FROM accounts))::text";
	struct api_params ps = {0};
	PGresult *r = api_query(c->resp, sql, &ps);
	if (!r)
		return;
	http_json(c->resp, 200, PQgetvalue(r, 0, 0));
	PQclear(r);
}

#define CRUD(path, res)                                                                        \
	{"GET", path, OP_LIST, &res, NULL, ACCESS_ADMIN, 0, NULL}, {"POST", path, OP_CREATE, &res, NULL, ACCESS_ADMIN, 0, NULL},             \
	{"GET", path "/{id}", OP_GET, &res, NULL, ACCESS_ADMIN, 0, NULL}, {"PATCH", path "/{id}", OP_PATCH, &res, NULL, ACCESS_ADMIN, 0, NULL}, \
	{"DELETE", path "/{id}", OP_DELETE, &res, NULL, ACCESS_ADMIN, 0, NULL}

/* The access column (auth.h) is the whole policy: administrators and the
 * token everywhere (ACCESS_ADMIN, the default); a subscriber's session
 * only on ACCESS_OWN rows of their own subscriber (another's id: 404),
 * the PATCH limited to own_fields, and on its own session. */
const struct api_route api_routes[] = {
	{"GET", "/api/v1/openapi.json", OP_CUSTOM, NULL, openapi, ACCESS_ANY, 0, NULL},
	{"POST", "/api/v1/session", OP_CUSTOM, NULL, session_login, ACCESS_LOGIN, 0, NULL},
	{"GET", "/api/v1/session", OP_CUSTOM, NULL, session_get, ACCESS_SESSION, 0, NULL},
	{"DELETE", "/api/v1/session", OP_CUSTOM, NULL, session_logout, ACCESS_PUBLIC, 0, NULL},
	{"PUT", "/api/v1/session/password", OP_CUSTOM, NULL, session_password, ACCESS_SESSION, 0, NULL},
	{"GET", "/api/v1/accounts", OP_LIST, &api_accounts, NULL, ACCESS_ADMIN, 0, NULL},
	{"POST", "/api/v1/accounts", OP_CUSTOM, NULL, account_create, ACCESS_ADMIN, 0, NULL},
	{"GET", "/api/v1/accounts/{id}", OP_GET, &api_accounts, NULL, ACCESS_ADMIN, 0, NULL},
	{"PATCH", "/api/v1/accounts/{id}", OP_PATCH, &api_accounts, NULL, ACCESS_ADMIN, 0, NULL},
	{"DELETE", "/api/v1/accounts/{id}", OP_DELETE, &api_accounts, NULL, ACCESS_ADMIN, 0, NULL},
	{"PUT", "/api/v1/accounts/{id}/password", OP_CUSTOM, NULL, account_password, ACCESS_ADMIN, 0, NULL},
	{"GET", "/api/v1/audit", OP_LIST, &api_audit, NULL, ACCESS_ADMIN, 0, NULL},
	{"GET", "/api/v1/tokens", OP_LIST, &api_tokens, NULL, ACCESS_ADMIN, 0, NULL},
	{"POST", "/api/v1/tokens", OP_CUSTOM, NULL, token_create, ACCESS_ADMIN, 0, NULL},
	{"GET", "/api/v1/tokens/{id}", OP_GET, &api_tokens, NULL, ACCESS_ADMIN, 0, NULL},
	{"PATCH", "/api/v1/tokens/{id}", OP_PATCH, &api_tokens, NULL, ACCESS_ADMIN, 0, NULL},
	{"DELETE", "/api/v1/tokens/{id}", OP_DELETE, &api_tokens, NULL, ACCESS_ADMIN, 0, NULL},
	{"GET", "/api/v1/stats", OP_CUSTOM, NULL, stats, ACCESS_ADMIN, 0, NULL},
	{"GET", "/api/v1/registrations", OP_LIST, &all_bindings, NULL, ACCESS_ADMIN, 0, NULL},
	CRUD("/api/v1/domains", domains),
	{"GET", "/api/v1/subscribers", OP_LIST, &subscribers, NULL, ACCESS_ADMIN, 0, NULL},
	{"POST", "/api/v1/subscribers", OP_CREATE, &subscribers, NULL, ACCESS_ADMIN, 0, NULL},
	{"POST", "/api/v1/subscribers/import", OP_CUSTOM, NULL, subscribers_import, ACCESS_ADMIN, 0,
	 "text/csv"},
	{"GET", "/api/v1/subscribers/{id}", OP_GET, &subscribers, NULL, ACCESS_OWN, 0, NULL},
	{"PATCH", "/api/v1/subscribers/{id}", OP_PATCH, &subscribers, NULL, ACCESS_OWN, IN_DISPLAY, NULL},
	{"DELETE", "/api/v1/subscribers/{id}", OP_DELETE, &subscribers, NULL, ACCESS_ADMIN, 0, NULL},
	{"PUT", "/api/v1/subscribers/{id}/password", OP_CUSTOM, NULL, subscriber_password, ACCESS_OWN, 0, NULL},
	{"GET", "/api/v1/subscribers/{id}/aliases", OP_LIST, &aliases, NULL, ACCESS_OWN, 0, NULL},
	{"POST", "/api/v1/subscribers/{id}/aliases", OP_CREATE, &aliases, NULL, ACCESS_ADMIN, 0, NULL},
	{"DELETE", "/api/v1/subscribers/{id}/aliases/{alias_id}", OP_REMOVE, &aliases, NULL, ACCESS_ADMIN, 0, NULL},
	{"GET", "/api/v1/subscribers/{id}/dids", OP_LIST, &dids, NULL, ACCESS_OWN, 0, NULL},
	{"POST", "/api/v1/subscribers/{id}/dids", OP_CREATE, &dids, NULL, ACCESS_ADMIN, 0, NULL},
	{"DELETE", "/api/v1/subscribers/{id}/dids/{did_id}", OP_REMOVE, &dids, NULL, ACCESS_ADMIN, 0, NULL},
	{"GET", "/api/v1/subscribers/{id}/registrations", OP_LIST, &bindings, NULL, ACCESS_OWN, 0, NULL},
	{"DELETE", "/api/v1/subscribers/{id}/registrations/{binding_id}", OP_REMOVE, &bindings, NULL,
	 ACCESS_OWN, 0, NULL},
	/* features: the carrier subscribes and deletes; the subscriber reads its
	 * own, and of one the carrier offers and did not lock changes only
	 * user_enabled and settings (features.c) */
	{"GET", "/api/v1/feature-kinds", OP_CUSTOM, NULL, feature_kinds_list, ACCESS_ANY, 0, NULL},
	{"GET", "/api/v1/subscribers/{id}/features", OP_CUSTOM, NULL, features_list, ACCESS_OWN, 0, NULL},
	{"GET", "/api/v1/subscribers/{id}/features/{feature}", OP_CUSTOM, NULL, feature_get, ACCESS_OWN, 0, NULL},
	{"PUT", "/api/v1/subscribers/{id}/features/{feature}", OP_CUSTOM, NULL, feature_put, ACCESS_OWN,
	 IN_USER_ENABLED | IN_SETTINGS, NULL},
	{"DELETE", "/api/v1/subscribers/{id}/features/{feature}", OP_CUSTOM, NULL, feature_delete,
	 ACCESS_OWN_ADMIN, 0, NULL},
	{"GET", "/api/v1/subscribers/{id}/features/{feature}/script", OP_CUSTOM, NULL, feature_script,
	 ACCESS_OWN, 0, NULL},
	CRUD("/api/v1/server-groups", server_groups),
	{"GET", "/api/v1/server-groups/{id}/servers", OP_LIST, &servers, NULL, ACCESS_ADMIN, 0, NULL},
	{"POST", "/api/v1/server-groups/{id}/servers", OP_CREATE, &servers, NULL, ACCESS_ADMIN, 0, NULL},
	{"GET", "/api/v1/servers/{id}", OP_GET, &servers, NULL, ACCESS_ADMIN, 0, NULL},
	{"PATCH", "/api/v1/servers/{id}", OP_PATCH, &servers, NULL, ACCESS_ADMIN, 0, NULL},
	{"DELETE", "/api/v1/servers/{id}", OP_DELETE, &servers, NULL, ACCESS_ADMIN, 0, NULL},
	CRUD("/api/v1/dial-plans", dial_plans),
	{"GET", "/api/v1/dial-plans/{id}/entries", OP_LIST, &dial_entries, NULL, ACCESS_ADMIN, 0, NULL},
	{"POST", "/api/v1/dial-plans/{id}/entries", OP_CREATE, &dial_entries, NULL, ACCESS_ADMIN, 0, NULL},
	{"GET", "/api/v1/dial-plan-entries/{id}", OP_GET, &dial_entries, NULL, ACCESS_ADMIN, 0, NULL},
	{"PATCH", "/api/v1/dial-plan-entries/{id}", OP_PATCH, &dial_entries, NULL, ACCESS_ADMIN, 0, NULL},
	{"DELETE", "/api/v1/dial-plan-entries/{id}", OP_DELETE, &dial_entries, NULL, ACCESS_ADMIN, 0, NULL},
	{0},
};

static void (*const op_handlers[])(struct api_call *) = {
	[OP_LIST] = list_rows,   [OP_GET] = get_row,       [OP_CREATE] = create_row,
	[OP_PATCH] = patch_row,  [OP_DELETE] = delete_row, [OP_REMOVE] = remove_row,
};

/* Does path match pattern? Each integer placeholder ({id}, {alias_id}: at
 * most two) takes a positive decimal that fits, stored in ids[] in order;
 * a name placeholder ({feature}: at most one) takes 1 to API_NAME_MAX of
 * a-z, 0-9 and '_', copied to name. */
static bool match(const char *pattern, const char *path, long long ids[2], char *name)
{
	int nid = 0;
	while (*pattern) {
		const char *close;
		if (*pattern == '{' && (close = strchr(pattern, '}'))) {
			if (close - pattern >= 3 && close[-2] == 'i' && close[-1] == 'd') {
				long long n = 0;
				if (nid >= 2 || *path < '1' || *path > '9')
					return false;
				for (; *path >= '0' && *path <= '9'; path++) {
					if (n > (INT64_MAX - 9) / 10)
						return false;
					n = n * 10 + (*path - '0');
				}
				ids[nid++] = n;
			} else {
				size_t n = strspn(path, "abcdefghijklmnopqrstuvwxyz0123456789_");
				if (n == 0 || n > API_NAME_MAX)
					return false;
				memcpy(name, path, n);
				name[n] = 0;
				path += n;
			}
			pattern = close + 1;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return *path == 0;
}

/* Content-Type: type (application/json...), with parameters or not. */
static bool body_of_type(const struct http_req *req, const char *type)
{
	const char *t = http_header(req, "Content-Type");
	size_t n = strlen(type);
	if (!t || strncasecmp(t, type, n) != 0)
		return false;
	t += n;
	while (*t == ' ')
		t++;
	return *t == 0 || *t == ';';
}

/* Whoever passed the authentication (c->who) against a state-changing
 * request that a browser may have been tricked into: a session's request
 * must come from provd's own origin and carry its CSRF token. The bearer
 * token is no browser's. Returns 0, or -1 with 403 in resp. */
static int forged(const struct api_call *c)
{
	if (c->req->bearer || !api_method_changes(c->req->method))
		return 0;
	const char *origin = http_header(c->req, "Origin");
	if (!origin_ok(origin, http_header(c->req, "Host"), session_origin())) {
		http_log(LOG_WARNING, "%s %s from %s: Origin %.100s is not provd's: refused",
			 c->req->method, c->req->path, c->req->peer_text, origin);
		http_fail(c->resp, 403, "Forbidden", "Origin %.100s is not this server's", origin);
		return -1;
	}
	if (c->who.cookie && !csrf_token_ok(c->who.csrf, http_header(c->req, "X-CSRF-Token"))) {
		http_log(LOG_WARNING, "%s %s from %s (%s): CSRF token missing or wrong: refused",
			 c->req->method, c->req->path, c->req->peer_text, c->who.login);
		http_fail(c->resp, 403, "CSRF token missing or wrong",
			  "send X-CSRF-Token with the csrf_token of the session");
		return -1;
	}
	return 0;
}

/* The route's access column applied: 0, or -1 with the answer in resp. */
static int authorized(struct api_call *c)
{
	switch (api_authorize(c->route->access, &c->who, c->id[0])) {
	case 0:
		return 0;
	case 401:
		http_fail(c->resp, 401, "Unauthorized",
			  "send Authorization: Bearer followed by the API token, or log in "
			  "(POST /api/v1/session)");
		return -1;
	case 404:
		/* as if it did not exist: a subscriber learns no other ids */
		http_fail(c->resp, 404, "Not found", "no subscriber with id %lld", c->id[0]);
		return -1;
	default:
		http_fail(c->resp, 403, "Forbidden", "%s may not %s %s", c->who.login, c->req->method,
			  c->route->pattern);
		return -1;
	}
}

void api_handle(const struct http_req *req, struct http_resp *resp)
{
	char allow[64] = "";
	/* HEAD is a GET whose body libmicrohttpd leaves out */
	const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
	struct api_call c = {.req = req, .resp = resp};
	if (session_authenticate(&c) < 0)
		return;
	for (const struct api_route *r = api_routes; r->method; r++) {
		long long ids[2] = {0, 0};
		char name[API_NAME_MAX + 1] = "";
		if (!match(r->pattern, req->path, ids, name))
			continue;
		if (strcmp(r->method, method) == 0) {
			c.route = r;
			c.id[0] = ids[0];
			c.id[1] = ids[1];
			memcpy(c.name, name, sizeof(c.name));
			/* a login is nobody's until it succeeds, whatever cookie
			 * the browser still holds */
			if (r->access == ACCESS_LOGIN)
				memset(&c.who, 0, sizeof(c.who));
			if (forged(&c) < 0 || authorized(&c) < 0)
				return;
			const char *media = r->media ? r->media : "application/json";
			if (strcmp(r->method, "GET") && strcmp(r->method, "DELETE") &&
			    !body_of_type(req, media)) {
				http_fail(resp, 415, "Unsupported media type",
					  "send the body as Content-Type: %s", media);
				return;
			}
			if (r->op == OP_CUSTOM)
				r->fn(&c);
			else
				op_handlers[r->op](&c);
			if (resp->status == 500 && !resp->body)
				http_fail(resp, 500, "Internal error", "no answer");
			return;
		}
		size_t o = strlen(allow);
		snprintf(allow + o, sizeof(allow) - o, "%s%s", o ? ", " : "", r->method);
	}
	if (c.who.role == ROLE_NONE) {
		/* nothing about the API to the unauthenticated, not even its paths */
		http_fail(resp, 401, "Unauthorized",
			  "send Authorization: Bearer followed by the API token, or log in "
			  "(POST /api/v1/session)");
	} else if (allow[0]) {
		http_fail(resp, 405, "Method not allowed", "%s is not allowed here; use %s", req->method,
			  allow);
		snprintf(resp->allow, sizeof(resp->allow), "%s", allow);
	} else {
		http_fail(resp, 404, "Not found", "no such resource");
	}
}
