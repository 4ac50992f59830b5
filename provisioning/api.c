/* The REST API's routes and handlers (api.h). */
#include "provisioning/api.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <postgresql/libpq-fe.h>

#include "db.h"
#include "log.h"
#include "provisioning/validate.h"
#include "sip/digest.h"

/* ---- one PostgreSQL session per request thread ----------------------------
 * MHD's pool threads live as long as the server; each connects on its first
 * request and the key's destructor closes the session when MHD joins the
 * thread. A broken session is reset on the next request. */

static const char *db_conninfo;
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
	if (PQstatus(c) != CONNECTION_OK) {
		/* The session died (a server restart, a failover): once more on a
		 * fresh one. A statement that reached a dying server did not
		 * commit, unless the reply alone was lost; every statement here
		 * then fails harmlessly (unique name: 409, If-Match: 412, gone:
		 * 404) or is idempotent (the password's UPDATE). */
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

/* ---- helpers ---------------------------------------------------------------- */

/* The ETag of a row: its id and updated_at in microseconds (the schema's
 * vocal_touch trigger moves updated_at on every change). */
#define ETAG_SQL "(id::text || '.' || (extract(epoch FROM updated_at) * 1000000)::bigint::text)"

static void set_etag(struct http_resp *resp, const char *tag)
{
	snprintf(resp->etag, sizeof(resp->etag), "\"%s\"", tag);
}

/* If-Match for PATCH and DELETE: 428 when absent. tag gets what the
 * statements compare with ETAG_SQL: "*", or the listed tags without their
 * quotes, comma-separated (RFC 9110 13.1.1: any may match). Tags that
 * cannot be ours (weak ones: the comparison is strong; other characters)
 * are left out, so a header of only those matches no row: 412. */
static int if_match(const struct http_req *req, struct http_resp *resp, char *tag, size_t cap)
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
static void missing_or_stale(struct http_resp *resp, const char *table, const char *noun,
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
static void row_reply(struct http_resp *resp, PGresult *r, int status, const char *what,
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

/* ---- domains ------------------------------------------------------------------ */

#define DOMAIN_JSON                                                                            \
	"json_build_object('id', id, 'name', name, 'realm', realm, 'enabled', enabled, "       \
	"'created_at', created_at, 'updated_at', updated_at)"

static void domains_list(const struct http_req *req, struct http_resp *resp, long long unused)
{
	char limit[24], after[24];
	if (paging(req, resp, limit, after) < 0)
		return;
	PGresult *r = query(resp,
			    "SELECT coalesce(json_agg(j ORDER BY id), '[]')::text, count(*), max(id) FROM "
			    "(SELECT id, " DOMAIN_JSON " AS j FROM domains WHERE id > $1 "
			    "ORDER BY id LIMIT $2) x",
			    2, (const char *[]){after, limit});
	if (!r)
		return;
	list_reply(resp, r, atoll(limit));
	PQclear(r);
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

static void domain_get(const struct http_req *req, struct http_resp *resp, long long id)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp, "SELECT " DOMAIN_JSON "::text, " ETAG_SQL " FROM domains WHERE id = $1",
			    1, (const char *[]){ids});
	if (!r)
		return;
	row_reply(resp, r, 200, "domain", ids);
	not_modified(req, resp);
	PQclear(r);
}

static void domain_create(const struct http_req *req, struct http_resp *resp, long long unused)
{
	struct domain_in in;
	struct problem p;
	if (api_parse_domain(req->body, req->len, true, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	PGresult *r = query(resp,
			    "INSERT INTO domains (name, realm, enabled) VALUES ($1, $2, $3) "
			    "RETURNING " DOMAIN_JSON "::text, " ETAG_SQL ", id",
			    3, (const char *[]){in.name, in.realm, in.enabled ? "t" : "f"});
	if (!r)
		return;
	row_reply(resp, r, 201, "domain", "");
	snprintf(resp->location, sizeof(resp->location), "/api/v1/domains/%s", PQgetvalue(r, 0, 2));
	PQclear(r);
}

static void domain_patch(const struct http_req *req, struct http_resp *resp, long long id)
{
	struct domain_in in;
	struct problem p;
	char tag[512], ids[24];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	if (api_parse_domain(req->body, req->len, false, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(
		resp,
		"UPDATE domains SET realm = coalesce($2, realm), enabled = coalesce($3::boolean, enabled) "
		"WHERE id = $1 AND ($4 = '*' OR " ETAG_SQL " = ANY(string_to_array($4, ','))) RETURNING " DOMAIN_JSON "::text, " ETAG_SQL,
		4,
		(const char *[]){ids, in.has & IN_REALM ? in.realm : NULL,
				 in.has & IN_ENABLED ? (in.enabled ? "t" : "f") : NULL, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "domains", "domain", ids);
	else
		row_reply(resp, r, 200, "domain", ids);
	PQclear(r);
}

static void domain_delete(const struct http_req *req, struct http_resp *resp, long long id)
{
	char tag[512], ids[24];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp,
			    "DELETE FROM domains WHERE id = $1 AND ($2 = '*' OR " ETAG_SQL
			    " = ANY(string_to_array($2, ','))) RETURNING id",
			    2, (const char *[]){ids, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "domains", "domain", ids);
	else
		resp->status = 204;
	PQclear(r);
}

/* ---- subscribers ---------------------------------------------------------------- */

/* HA1s are a password's equivalent: never shown, only whether one is set. */
#define SUBSCRIBER_JSON                                                                        \
	"json_build_object('id', id, 'domain_id', domain_id, 'user_part', user_part, "         \
	"'display_name', display_name, 'auth_kind', auth_kind, 'enabled', enabled, "           \
	"'has_password', ha1_md5 IS NOT NULL, 'created_at', created_at, 'updated_at', updated_at)"

static void subscribers_list(const struct http_req *req, struct http_resp *resp, long long unused)
{
	char limit[24], after[24], domain[24];
	if (paging(req, resp, limit, after) < 0 ||
	    query_id(req, resp, "domain", 1, INT64_MAX, domain, sizeof(domain)) < 0)
		return;
	const char *q = http_query(req, "q");
	if (q && strlen(q) > 64) {
		http_fail(resp, 400, "Invalid query parameter", "q: at most 64 bytes");
		return;
	}
	/* strpos, not LIKE: the search text is matched as typed, with no
	 * wildcards for a client to escape */
	PGresult *r = query(
		resp,
		"SELECT coalesce(json_agg(j ORDER BY id), '[]')::text, count(*), max(id) FROM "
		"(SELECT id, " SUBSCRIBER_JSON " AS j FROM subscribers WHERE id > $1 "
		"AND ($3::bigint IS NULL OR domain_id = $3) AND ($4::text IS NULL OR "
		"strpos(lower(user_part), lower($4)) > 0 OR strpos(lower(display_name), lower($4)) > 0) "
		"ORDER BY id LIMIT $2) x",
		4, (const char *[]){after, limit, domain[0] ? domain : NULL, q && *q ? q : NULL});
	if (!r)
		return;
	list_reply(resp, r, atoll(limit));
	PQclear(r);
}

static void subscriber_get(const struct http_req *req, struct http_resp *resp, long long id)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp,
			    "SELECT " SUBSCRIBER_JSON "::text, " ETAG_SQL " FROM subscribers WHERE id = $1",
			    1, (const char *[]){ids});
	if (!r)
		return;
	row_reply(resp, r, 200, "subscriber", ids);
	not_modified(req, resp);
	PQclear(r);
}

static void subscriber_create(const struct http_req *req, struct http_resp *resp, long long unused)
{
	struct subscriber_in in;
	struct problem p;
	if (api_parse_subscriber(req->body, req->len, true, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	char dom[24];
	snprintf(dom, sizeof(dom), "%lld", (long long)in.domain_id);
	PGresult *r = query(resp,
			    "INSERT INTO subscribers (domain_id, user_part, display_name, auth_kind, enabled) "
			    "VALUES ($1, $2, $3, $4, $5) RETURNING " SUBSCRIBER_JSON "::text, " ETAG_SQL ", id",
			    5,
			    (const char *[]){dom, in.user_part, in.display_name, in.auth_kind,
					     in.enabled ? "t" : "f"});
	if (!r)
		return;
	row_reply(resp, r, 201, "subscriber", "");
	snprintf(resp->location, sizeof(resp->location), "/api/v1/subscribers/%s", PQgetvalue(r, 0, 2));
	PQclear(r);
}

static void subscriber_patch(const struct http_req *req, struct http_resp *resp, long long id)
{
	struct subscriber_in in;
	struct problem p;
	char tag[512], ids[24];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	if (api_parse_subscriber(req->body, req->len, false, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(
		resp,
		"UPDATE subscribers SET display_name = coalesce($2, display_name), "
		"auth_kind = coalesce($3, auth_kind), enabled = coalesce($4::boolean, enabled) "
		"WHERE id = $1 AND ($5 = '*' OR " ETAG_SQL " = ANY(string_to_array($5, ','))) RETURNING " SUBSCRIBER_JSON "::text, " ETAG_SQL,
		5,
		(const char *[]){ids, in.has & IN_DISPLAY ? in.display_name : NULL,
				 in.has & IN_AUTH_KIND ? in.auth_kind : NULL,
				 in.has & IN_ENABLED ? (in.enabled ? "t" : "f") : NULL, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "subscribers", "subscriber", ids);
	else
		row_reply(resp, r, 200, "subscriber", ids);
	PQclear(r);
}

static void subscriber_delete(const struct http_req *req, struct http_resp *resp, long long id)
{
	char tag[512], ids[24];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp,
			    "DELETE FROM subscribers WHERE id = $1 AND ($2 = '*' OR " ETAG_SQL
			    " = ANY(string_to_array($2, ','))) RETURNING id",
			    2, (const char *[]){ids, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "subscribers", "subscriber", ids);
	else
		resp->status = 204;
	PQclear(r);
}

/* Stores the three HA1s (MD5, SHA-256, SHA-512/256; RFC 8760) of the
 * password for the subscriber's user and its domain's realm, never the
 * password. One statement reads user and realm and writes the digests, so
 * a concurrent change of the realm cannot leave digests of the old one. */
static void subscriber_password(const struct http_req *req, struct http_resp *resp, long long id)
{
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
		r = query(resp,
			  "UPDATE subscribers s SET ha1_md5 = $4, ha1_sha256 = $5, ha1_sha512_256 = $6 "
			  "FROM domains d WHERE s.id = $1 AND d.id = s.domain_id AND s.user_part = $2 "
			  "AND d.realm = $3 RETURNING s.id::text || '.' || "
			  "(extract(epoch FROM s.updated_at) * 1000000)::bigint::text",
			  6, (const char *[]){ids, user, realm, md5, s256, s512});
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

/* ---- rows that belong to a subscriber: aliases, DIDs, registrations ------------- */

/* A page of the rows of a parent (a subscriber's, a group's). sql takes
 * $1 after, $2 limit, $3 the parent and returns the list_reply row plus
 * whether the parent exists: a missing parent is 404, not an empty list. */
static void owned_list(const struct http_req *req, struct http_resp *resp, long long sid,
		       const char *sql, const char *parent)
{
	char limit[24], after[24], sids[24];
	if (paging(req, resp, limit, after) < 0)
		return;
	snprintf(sids, sizeof(sids), "%lld", sid);
	PGresult *r = query(resp, sql, 3, (const char *[]){after, limit, sids});
	if (!r)
		return;
	if (strcmp(PQgetvalue(r, 0, 3), "t") != 0)
		http_fail(resp, 404, "Not found", "no %s with id %s", parent, sids);
	else
		list_reply(resp, r, atoll(limit));
	PQclear(r);
}

#define OWNED_LIST_SQL(json, table, fk, parent)                                                \
	"SELECT coalesce(json_agg(j ORDER BY id), '[]')::text, count(*), max(id), "            \
	"EXISTS (SELECT 1 FROM " parent " WHERE id = $3) FROM "                                \
	"(SELECT id, " json " AS j FROM " table " WHERE " fk " = $3 AND id > $1 "              \
	"ORDER BY id LIMIT $2) x"
#define CHILD_LIST_SQL(json, table) OWNED_LIST_SQL(json, table, "subscriber_id", "subscribers")
#define child_list(req, resp, sid, sql) owned_list(req, resp, sid, sql, "subscriber")

/* Deletes one row of a subscriber: 404 when either is missing or the row
 * belongs to another subscriber. These rows cannot be changed through the
 * API (aliases, DIDs) or are the registrar's (bindings, which a REGISTER
 * refreshes at any time), so DELETE takes no If-Match. */
static void child_delete(struct http_resp *resp, const char *table, const char *what,
			 long long sid, long long id)
{
	char sids[24], ids[24], sql[128];
	snprintf(sids, sizeof(sids), "%lld", sid);
	snprintf(ids, sizeof(ids), "%lld", id);
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = $2 AND subscriber_id = $1 RETURNING id",
		 table);
	PGresult *r = query(resp, sql, 2, (const char *[]){sids, ids});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		http_fail(resp, 404, "Not found", "subscriber %s has no %s with id %s", sids, what, ids);
	else
		resp->status = 204;
	PQclear(r);
}

/* The 201 of a create under /subscribers/{id}/NAME: 404 when the INSERT ...
 * SELECT found no subscriber. */
static void child_created(struct http_resp *resp, PGresult *r, long long sid, const char *name)
{
	if (PQntuples(r) == 0) {
		http_fail(resp, 404, "Not found", "no subscriber with id %lld", sid);
		return;
	}
	row_reply(resp, r, 201, name, "");
	snprintf(resp->location, sizeof(resp->location), "/api/v1/subscribers/%lld/%s/%s", sid, name,
		 PQgetvalue(r, 0, 2));
}

#define ALIAS_JSON                                                                             \
	"json_build_object('id', id, 'subscriber_id', subscriber_id, 'domain_id', domain_id, " \
	"'user_part', user_part, 'created_at', created_at)"

static void aliases_list(const struct http_req *req, struct http_resp *resp, long long sid)
{
	child_list(req, resp, sid, CHILD_LIST_SQL(ALIAS_JSON, "aliases"));
}

static void alias_create(const struct http_req *req, struct http_resp *resp, long long sid)
{
	struct alias_in in;
	struct problem p;
	if (api_parse_alias(req->body, req->len, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	char sids[24], dom[24];
	snprintf(sids, sizeof(sids), "%lld", sid);
	snprintf(dom, sizeof(dom), "%lld", (long long)in.domain_id);
	/* the domain defaults to the subscriber's own */
	PGresult *r = query(resp,
			    "INSERT INTO aliases (subscriber_id, domain_id, user_part) "
			    "SELECT id, coalesce($2::bigint, domain_id), $3 FROM subscribers WHERE id = $1 "
			    "RETURNING " ALIAS_JSON "::text, " ETAG_SQL ", id",
			    3, (const char *[]){sids, in.domain_id ? dom : NULL, in.user_part});
	if (!r)
		return;
	child_created(resp, r, sid, "aliases");
	PQclear(r);
}

static void alias_delete(const struct http_req *req, struct http_resp *resp, long long sid,
			 long long id)
{
	child_delete(resp, "aliases", "alias", sid, id);
}

#define DID_JSON                                                                               \
	"json_build_object('id', id, 'subscriber_id', subscriber_id, 'number', number, "       \
	"'created_at', created_at)"

static void dids_list(const struct http_req *req, struct http_resp *resp, long long sid)
{
	child_list(req, resp, sid, CHILD_LIST_SQL(DID_JSON, "dids"));
}

static void did_create(const struct http_req *req, struct http_resp *resp, long long sid)
{
	struct did_in in;
	struct problem p;
	if (api_parse_did(req->body, req->len, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	char sids[24];
	snprintf(sids, sizeof(sids), "%lld", sid);
	PGresult *r = query(resp,
			    "INSERT INTO dids (subscriber_id, number) SELECT id, $2 FROM subscribers "
			    "WHERE id = $1 RETURNING " DID_JSON "::text, " ETAG_SQL ", id",
			    2, (const char *[]){sids, in.number});
	if (!r)
		return;
	child_created(resp, r, sid, "dids");
	PQclear(r);
}

static void did_delete(const struct http_req *req, struct http_resp *resp, long long sid,
		       long long id)
{
	child_delete(resp, "dids", "DID", sid, id);
}

/* The registrar's bindings of a subscriber, read-only: redirectd writes
 * them. Removing one is deleting the row; the schema's trigger tells every
 * redirectd on channel vocal_bindings, and each drops it from memory. */
#define BINDING_JSON                                                                           \
	"json_build_object('id', id, 'contact', contact, 'q', q, 'expires_at', expires_at, "   \
	"'user_agent', user_agent, 'received', received, 'path', path, "                       \
	"'instance_id', instance_id, 'reg_id', reg_id, 'updated_at', updated_at)"

static void registrations_list(const struct http_req *req, struct http_resp *resp, long long sid)
{
	child_list(req, resp, sid, CHILD_LIST_SQL(BINDING_JSON, "location_bindings"));
}

static void registration_delete(const struct http_req *req, struct http_resp *resp, long long sid,
				long long id)
{
	child_delete(resp, "location_bindings", "registration", sid, id);
}

/* ---- server groups and servers ------------------------------------------------------ */

#define GROUP_JSON                                                                             \
	"json_build_object('id', id, 'name', name, 'kind', kind, 'description', description, " \
	"'created_at', created_at, 'updated_at', updated_at)"

static void groups_list(const struct http_req *req, struct http_resp *resp, long long unused)
{
	char limit[24], after[24];
	if (paging(req, resp, limit, after) < 0)
		return;
	const char *kind = http_query(req, "kind");
	if (kind && !valid_server_kind(kind)) {
		http_fail(resp, 400, "Invalid query parameter", "kind: not a server kind");
		return;
	}
	PGresult *r = query(resp,
			    "SELECT coalesce(json_agg(j ORDER BY id), '[]')::text, count(*), max(id) FROM "
			    "(SELECT id, " GROUP_JSON " AS j FROM server_groups WHERE id > $1 "
			    "AND ($3::text IS NULL OR kind = $3) ORDER BY id LIMIT $2) x",
			    3, (const char *[]){after, limit, kind});
	if (!r)
		return;
	list_reply(resp, r, atoll(limit));
	PQclear(r);
}

static void group_get(const struct http_req *req, struct http_resp *resp, long long id)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp, "SELECT " GROUP_JSON "::text, " ETAG_SQL " FROM server_groups WHERE id = $1",
			    1, (const char *[]){ids});
	if (!r)
		return;
	row_reply(resp, r, 200, "server group", ids);
	not_modified(req, resp);
	PQclear(r);
}

static void group_create(const struct http_req *req, struct http_resp *resp, long long unused)
{
	struct server_group_in in;
	struct problem p;
	if (api_parse_server_group(req->body, req->len, true, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	PGresult *r = query(resp,
			    "INSERT INTO server_groups (name, kind, description) VALUES ($1, $2, $3) "
			    "RETURNING " GROUP_JSON "::text, " ETAG_SQL ", id",
			    3, (const char *[]){in.name, in.kind, in.description});
	if (!r)
		return;
	row_reply(resp, r, 201, "server group", "");
	snprintf(resp->location, sizeof(resp->location), "/api/v1/server-groups/%s", PQgetvalue(r, 0, 2));
	PQclear(r);
}

static void group_patch(const struct http_req *req, struct http_resp *resp, long long id)
{
	struct server_group_in in;
	struct problem p;
	char tag[512], ids[24];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	if (api_parse_server_group(req->body, req->len, false, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(
		resp,
		"UPDATE server_groups SET name = coalesce($2, name), description = coalesce($3, description) "
		"WHERE id = $1 AND ($4 = '*' OR " ETAG_SQL " = ANY(string_to_array($4, ','))) RETURNING " GROUP_JSON "::text, " ETAG_SQL,
		4,
		(const char *[]){ids, in.has & IN_NAME ? in.name : NULL,
				 in.has & IN_DESCRIPTION ? in.description : NULL, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "server_groups", "server group", ids);
	else
		row_reply(resp, r, 200, "server group", ids);
	PQclear(r);
}

/* 409 while servers or subscribers (marshal_group_id) refer to it. */
static void group_delete(const struct http_req *req, struct http_resp *resp, long long id)
{
	char tag[512], ids[24];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp,
			    "DELETE FROM server_groups WHERE id = $1 AND ($2 = '*' OR " ETAG_SQL
			    " = ANY(string_to_array($2, ','))) RETURNING id",
			    2, (const char *[]){ids, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "server_groups", "server group", ids);
	else
		resp->status = 204;
	PQclear(r);
}

#define SERVER_JSON                                                                            \
	"json_build_object('id', id, 'group_id', group_id, 'host', host, 'port', port, "       \
	"'transport', transport, 'priority', priority, 'weight', weight, 'enabled', enabled, " \
	"'created_at', created_at, 'updated_at', updated_at)"

static void servers_list(const struct http_req *req, struct http_resp *resp, long long gid)
{
	owned_list(req, resp, gid, OWNED_LIST_SQL(SERVER_JSON, "servers", "group_id", "server_groups"),
		   "server group");
}

static void server_create(const struct http_req *req, struct http_resp *resp, long long gid)
{
	struct server_in in;
	struct problem p;
	if (api_parse_server(req->body, req->len, true, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	char gids[24], port[12], prio[12], weight[12];
	snprintf(gids, sizeof(gids), "%lld", gid);
	snprintf(port, sizeof(port), "%d", in.port);
	snprintf(prio, sizeof(prio), "%d", in.priority);
	snprintf(weight, sizeof(weight), "%d", in.weight);
	PGresult *r = query(resp,
			    "INSERT INTO servers (group_id, host, port, transport, priority, weight, enabled) "
			    "SELECT id, $2, $3, $4, $5, $6, $7 FROM server_groups WHERE id = $1 "
			    "RETURNING " SERVER_JSON "::text, " ETAG_SQL ", id",
			    7,
			    (const char *[]){gids, in.host, port, in.transport, prio, weight,
					     in.enabled ? "t" : "f"});
	if (!r)
		return;
	if (PQntuples(r) == 0) {
		http_fail(resp, 404, "Not found", "no server group with id %s", gids);
	} else {
		row_reply(resp, r, 201, "server", "");
		snprintf(resp->location, sizeof(resp->location), "/api/v1/servers/%s", PQgetvalue(r, 0, 2));
	}
	PQclear(r);
}

static void server_get(const struct http_req *req, struct http_resp *resp, long long id)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp, "SELECT " SERVER_JSON "::text, " ETAG_SQL " FROM servers WHERE id = $1",
			    1, (const char *[]){ids});
	if (!r)
		return;
	row_reply(resp, r, 200, "server", ids);
	not_modified(req, resp);
	PQclear(r);
}

static void server_patch(const struct http_req *req, struct http_resp *resp, long long id)
{
	struct server_in in;
	struct problem p;
	char tag[512], ids[24], port[12], prio[12], weight[12];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	if (api_parse_server(req->body, req->len, false, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	snprintf(ids, sizeof(ids), "%lld", id);
	snprintf(port, sizeof(port), "%d", in.port);
	snprintf(prio, sizeof(prio), "%d", in.priority);
	snprintf(weight, sizeof(weight), "%d", in.weight);
	PGresult *r = query(
		resp,
		"UPDATE servers SET host = coalesce($2, host), port = coalesce($3::integer, port), "
		"transport = coalesce($4, transport), priority = coalesce($5::integer, priority), "
		"weight = coalesce($6::integer, weight), enabled = coalesce($7::boolean, enabled) "
		"WHERE id = $1 AND ($8 = '*' OR " ETAG_SQL " = ANY(string_to_array($8, ','))) RETURNING " SERVER_JSON "::text, " ETAG_SQL,
		8,
		(const char *[]){ids, in.has & IN_HOST ? in.host : NULL, in.has & IN_PORT ? port : NULL,
				 in.has & IN_TRANSPORT ? in.transport : NULL,
				 in.has & IN_PRIORITY ? prio : NULL, in.has & IN_WEIGHT ? weight : NULL,
				 in.has & IN_ENABLED ? (in.enabled ? "t" : "f") : NULL, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "servers", "server", ids);
	else
		row_reply(resp, r, 200, "server", ids);
	PQclear(r);
}

static void server_delete(const struct http_req *req, struct http_resp *resp, long long id)
{
	char tag[512], ids[24];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp,
			    "DELETE FROM servers WHERE id = $1 AND ($2 = '*' OR " ETAG_SQL
			    " = ANY(string_to_array($2, ','))) RETURNING id",
			    2, (const char *[]){ids, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "servers", "server", ids);
	else
		resp->status = 204;
	PQclear(r);
}

/* ---- dial plans and their entries ----------------------------------------------------- */

#define PLAN_JSON                                                                              \
	"json_build_object('id', id, 'name', name, 'description', description, "               \
	"'created_at', created_at, 'updated_at', updated_at)"

static void plans_list(const struct http_req *req, struct http_resp *resp, long long unused)
{
	char limit[24], after[24];
	if (paging(req, resp, limit, after) < 0)
		return;
	PGresult *r = query(resp,
			    "SELECT coalesce(json_agg(j ORDER BY id), '[]')::text, count(*), max(id) FROM "
			    "(SELECT id, " PLAN_JSON " AS j FROM dial_plans WHERE id > $1 "
			    "ORDER BY id LIMIT $2) x",
			    2, (const char *[]){after, limit});
	if (!r)
		return;
	list_reply(resp, r, atoll(limit));
	PQclear(r);
}

static void plan_get(const struct http_req *req, struct http_resp *resp, long long id)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp, "SELECT " PLAN_JSON "::text, " ETAG_SQL " FROM dial_plans WHERE id = $1",
			    1, (const char *[]){ids});
	if (!r)
		return;
	row_reply(resp, r, 200, "dial plan", ids);
	not_modified(req, resp);
	PQclear(r);
}

static void plan_create(const struct http_req *req, struct http_resp *resp, long long unused)
{
	struct dial_plan_in in;
	struct problem p;
	if (api_parse_dial_plan(req->body, req->len, true, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	PGresult *r = query(resp,
			    "INSERT INTO dial_plans (name, description) VALUES ($1, $2) "
			    "RETURNING " PLAN_JSON "::text, " ETAG_SQL ", id",
			    2, (const char *[]){in.name, in.description});
	if (!r)
		return;
	row_reply(resp, r, 201, "dial plan", "");
	snprintf(resp->location, sizeof(resp->location), "/api/v1/dial-plans/%s", PQgetvalue(r, 0, 2));
	PQclear(r);
}

static void plan_patch(const struct http_req *req, struct http_resp *resp, long long id)
{
	struct dial_plan_in in;
	struct problem p;
	char tag[512], ids[24];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	if (api_parse_dial_plan(req->body, req->len, false, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(
		resp,
		"UPDATE dial_plans SET name = coalesce($2, name), description = coalesce($3, description) "
		"WHERE id = $1 AND ($4 = '*' OR " ETAG_SQL " = ANY(string_to_array($4, ','))) RETURNING " PLAN_JSON "::text, " ETAG_SQL,
		4,
		(const char *[]){ids, in.has & IN_NAME ? in.name : NULL,
				 in.has & IN_DESCRIPTION ? in.description : NULL, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "dial_plans", "dial plan", ids);
	else
		row_reply(resp, r, 200, "dial plan", ids);
	PQclear(r);
}

/* Its entries go with it (ON DELETE CASCADE). */
static void plan_delete(const struct http_req *req, struct http_resp *resp, long long id)
{
	char tag[512], ids[24];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp,
			    "DELETE FROM dial_plans WHERE id = $1 AND ($2 = '*' OR " ETAG_SQL
			    " = ANY(string_to_array($2, ','))) RETURNING id",
			    2, (const char *[]){ids, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "dial_plans", "dial plan", ids);
	else
		resp->status = 204;
	PQclear(r);
}

#define ENTRY_JSON                                                                             \
	"json_build_object('id', id, 'dial_plan_id', dial_plan_id, 'position', position, "     \
	"'pattern', pattern, 'contact_template', contact_template, "                           \
	"'created_at', created_at, 'updated_at', updated_at)"

static void entries_list(const struct http_req *req, struct http_resp *resp, long long pid)
{
	owned_list(req, resp, pid,
		   OWNED_LIST_SQL(ENTRY_JSON, "dial_plan_entries", "dial_plan_id", "dial_plans"),
		   "dial plan");
}

static void entry_create(const struct http_req *req, struct http_resp *resp, long long pid)
{
	struct dial_entry_in in;
	struct problem p;
	if (api_parse_dial_entry(req->body, req->len, true, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	char pids[24], pos[12];
	snprintf(pids, sizeof(pids), "%lld", pid);
	snprintf(pos, sizeof(pos), "%d", in.position);
	PGresult *r = query(resp,
			    "INSERT INTO dial_plan_entries (dial_plan_id, position, pattern, contact_template) "
			    "SELECT id, $2, $3, $4 FROM dial_plans WHERE id = $1 "
			    "RETURNING " ENTRY_JSON "::text, " ETAG_SQL ", id",
			    4, (const char *[]){pids, pos, in.pattern, in.contact_template});
	if (!r)
		return;
	if (PQntuples(r) == 0) {
		http_fail(resp, 404, "Not found", "no dial plan with id %s", pids);
	} else {
		row_reply(resp, r, 201, "dial plan entry", "");
		snprintf(resp->location, sizeof(resp->location), "/api/v1/dial-plan-entries/%s",
			 PQgetvalue(r, 0, 2));
	}
	PQclear(r);
}

static void entry_get(const struct http_req *req, struct http_resp *resp, long long id)
{
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp,
			    "SELECT " ENTRY_JSON "::text, " ETAG_SQL " FROM dial_plan_entries WHERE id = $1",
			    1, (const char *[]){ids});
	if (!r)
		return;
	row_reply(resp, r, 200, "dial plan entry", ids);
	not_modified(req, resp);
	PQclear(r);
}

static void entry_patch(const struct http_req *req, struct http_resp *resp, long long id)
{
	struct dial_entry_in in;
	struct problem p;
	char tag[512], ids[24], pos[12];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	if (api_parse_dial_entry(req->body, req->len, false, &in, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	snprintf(ids, sizeof(ids), "%lld", id);
	snprintf(pos, sizeof(pos), "%d", in.position);
	PGresult *r = query(
		resp,
		"UPDATE dial_plan_entries SET position = coalesce($2::integer, position), "
		"pattern = coalesce($3, pattern), contact_template = coalesce($4, contact_template) "
		"WHERE id = $1 AND ($5 = '*' OR " ETAG_SQL " = ANY(string_to_array($5, ','))) RETURNING " ENTRY_JSON "::text, " ETAG_SQL,
		5,
		(const char *[]){ids, in.has & IN_POSITION ? pos : NULL,
				 in.has & IN_PATTERN ? in.pattern : NULL,
				 in.has & IN_TEMPLATE ? in.contact_template : NULL, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "dial_plan_entries", "dial plan entry", ids);
	else
		row_reply(resp, r, 200, "dial plan entry", ids);
	PQclear(r);
}

static void entry_delete(const struct http_req *req, struct http_resp *resp, long long id)
{
	char tag[512], ids[24];
	if (if_match(req, resp, tag, sizeof(tag)) < 0)
		return;
	snprintf(ids, sizeof(ids), "%lld", id);
	PGresult *r = query(resp,
			    "DELETE FROM dial_plan_entries WHERE id = $1 AND ($2 = '*' OR " ETAG_SQL
			    " = ANY(string_to_array($2, ','))) RETURNING id",
			    2, (const char *[]){ids, tag});
	if (!r)
		return;
	if (PQntuples(r) == 0)
		missing_or_stale(resp, "dial_plan_entries", "dial plan entry", ids);
	else
		resp->status = 204;
	PQclear(r);
}

/* ---- the document and the table -------------------------------------------------- */

static void openapi(const struct http_req *req, struct http_resp *resp, long long unused)
{
	http_json(resp, 200, api_openapi_json);
}

const struct api_route api_routes[] = {
	{"GET", "/api/v1/openapi.json", openapi, NULL},
	{"GET", "/api/v1/domains", domains_list, NULL},
	{"POST", "/api/v1/domains", domain_create, NULL},
	{"GET", "/api/v1/domains/{id}", domain_get, NULL},
	{"PATCH", "/api/v1/domains/{id}", domain_patch, NULL},
	{"DELETE", "/api/v1/domains/{id}", domain_delete, NULL},
	{"GET", "/api/v1/subscribers", subscribers_list, NULL},
	{"POST", "/api/v1/subscribers", subscriber_create, NULL},
	{"GET", "/api/v1/subscribers/{id}", subscriber_get, NULL},
	{"PATCH", "/api/v1/subscribers/{id}", subscriber_patch, NULL},
	{"DELETE", "/api/v1/subscribers/{id}", subscriber_delete, NULL},
	{"PUT", "/api/v1/subscribers/{id}/password", subscriber_password, NULL},
	{"GET", "/api/v1/subscribers/{id}/aliases", aliases_list, NULL},
	{"POST", "/api/v1/subscribers/{id}/aliases", alias_create, NULL},
	{"DELETE", "/api/v1/subscribers/{id}/aliases/{alias_id}", NULL, alias_delete},
	{"GET", "/api/v1/subscribers/{id}/dids", dids_list, NULL},
	{"POST", "/api/v1/subscribers/{id}/dids", did_create, NULL},
	{"DELETE", "/api/v1/subscribers/{id}/dids/{did_id}", NULL, did_delete},
	{"GET", "/api/v1/subscribers/{id}/registrations", registrations_list, NULL},
	{"DELETE", "/api/v1/subscribers/{id}/registrations/{binding_id}", NULL, registration_delete},
	{"GET", "/api/v1/server-groups", groups_list, NULL},
	{"POST", "/api/v1/server-groups", group_create, NULL},
	{"GET", "/api/v1/server-groups/{id}", group_get, NULL},
	{"PATCH", "/api/v1/server-groups/{id}", group_patch, NULL},
	{"DELETE", "/api/v1/server-groups/{id}", group_delete, NULL},
	{"GET", "/api/v1/server-groups/{id}/servers", servers_list, NULL},
	{"POST", "/api/v1/server-groups/{id}/servers", server_create, NULL},
	{"GET", "/api/v1/servers/{id}", server_get, NULL},
	{"PATCH", "/api/v1/servers/{id}", server_patch, NULL},
	{"DELETE", "/api/v1/servers/{id}", server_delete, NULL},
	{"GET", "/api/v1/dial-plans", plans_list, NULL},
	{"POST", "/api/v1/dial-plans", plan_create, NULL},
	{"GET", "/api/v1/dial-plans/{id}", plan_get, NULL},
	{"PATCH", "/api/v1/dial-plans/{id}", plan_patch, NULL},
	{"DELETE", "/api/v1/dial-plans/{id}", plan_delete, NULL},
	{"GET", "/api/v1/dial-plans/{id}/entries", entries_list, NULL},
	{"POST", "/api/v1/dial-plans/{id}/entries", entry_create, NULL},
	{"GET", "/api/v1/dial-plan-entries/{id}", entry_get, NULL},
	{"PATCH", "/api/v1/dial-plan-entries/{id}", entry_patch, NULL},
	{"DELETE", "/api/v1/dial-plan-entries/{id}", entry_delete, NULL},
	{0},
};

/* Does path match pattern? Each {name} (at most two) takes a positive
 * decimal that fits, stored in ids[] in order. */
static bool match(const char *pattern, const char *path, long long ids[2])
{
	int nid = 0;
	while (*pattern) {
		const char *close;
		if (*pattern == '{' && (close = strchr(pattern, '}')) && nid < 2) {
			long long n = 0;
			if (*path < '1' || *path > '9')
				return false;
			for (; *path >= '0' && *path <= '9'; path++) {
				if (n > (INT64_MAX - 9) / 10)
					return false;
				n = n * 10 + (*path - '0');
			}
			ids[nid++] = n;
			pattern = close + 1;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return *path == 0;
}

/* Content-Type: application/json, with parameters or not. */
static bool json_body(const struct http_req *req)
{
	const char *t = http_header(req, "Content-Type");
	if (!t || strncasecmp(t, "application/json", 16) != 0)
		return false;
	t += 16;
	while (*t == ' ')
		t++;
	return *t == 0 || *t == ';';
}

void api_handle(const struct http_req *req, struct http_resp *resp)
{
	char allow[64] = "";
	/* HEAD is a GET whose body libmicrohttpd leaves out */
	const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
	for (const struct api_route *r = api_routes; r->method; r++) {
		long long ids[2] = {0, 0};
		if (!match(r->pattern, req->path, ids))
			continue;
		if (strcmp(r->method, method) == 0) {
			if (strcmp(r->method, "GET") && strcmp(r->method, "DELETE") && !json_body(req)) {
				http_fail(resp, 415, "Unsupported media type",
					  "send the body as Content-Type: application/json");
				return;
			}
			if (r->fn2)
				r->fn2(req, resp, ids[0], ids[1]);
			else
				r->fn(req, resp, ids[0]);
			if (resp->status == 500 && !resp->body)
				http_fail(resp, 500, "Internal error", "no answer");
			return;
		}
		size_t o = strlen(allow);
		snprintf(allow + o, sizeof(allow) - o, "%s%s", o ? ", " : "", r->method);
	}
	if (allow[0]) {
		http_fail(resp, 405, "Method not allowed", "%s is not allowed here; use %s", req->method,
			  allow);
		snprintf(resp->allow, sizeof(resp->allow), "%s", allow);
	} else {
		http_fail(resp, 404, "Not found", "no such resource");
	}
}
