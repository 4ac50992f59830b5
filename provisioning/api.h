/*
 * The REST API under /api/v1: one static table of routes (method, path
 * pattern, handler), walked for every request, so adding a route is adding
 * a row (and its entry in openapi.json, which a unit test holds to the
 * table). Handlers run on an HTTP thread and use that thread's own
 * PostgreSQL session; every statement is parameterized.
 */
#ifndef VOCAL_PROVISIONING_API_H
#define VOCAL_PROVISIONING_API_H

#include "provisioning/auth.h"
#include "provisioning/http.h"
#include "provisioning/validate.h"

/* What an operation works on: one table of rows, each with an id and an
 * updated_at (the ETag), answered as the JSON that json builds; the body
 * (validate.h) names the columns a POST and a PATCH write. */
struct list_filter {
	const char *param;            /* the query parameter */
	enum { FILTER_ID, FILTER_TEXT } kind;
	const char *cond;             /* SQL, "$?" standing for the parameter */
	bool (*valid)(const char *v); /* FILTER_TEXT: else 400 with invalid */
	const char *invalid;
};

struct api_resource {
	const char *table;
	const char *noun;             /* "dial plan entry": 404 and 412 details */
	const char *json;             /* SQL: json_build_object over the row */
	const struct body_spec *body; /* NULL: rows the API does not write */
	const char *self;             /* Location of a new row: this, then its id; "{id}": the parent's */
	/* rows under a parent, which the path's first id names */
	const char *parent, *fk, *parent_noun;
	const struct list_filter *filters; /* of a list; ends with {0} */
};

/* Generic operations on a resource, or a handler of its own. */
enum api_op {
	OP_CUSTOM,                    /* fn */
	OP_LIST,                      /* keyset-paged, under the parent when there is one */
	OP_GET,
	OP_CREATE,                    /* 201, Location */
	OP_PATCH,                     /* If-Match */
	OP_DELETE,                    /* If-Match */
	OP_REMOVE,                    /* a parent's row, /parent/{id}/rows/{row_id}; no If-Match */
};

struct api_route;

/* One request being answered. */
struct api_call {
	const struct http_req *req;
	struct http_resp *resp;
	const struct api_route *route;
	long long id[2];              /* the path's {id}s, in order (0: none) */
	struct api_principal who;     /* who asks (api_handle authenticated them) */
};

/* A route: what it does and who may (the policy lives here, in one
 * column, and nowhere else: api_handle applies it before any handler). */
struct api_route {
	const char *method;
	const char *pattern;          /* "/api/v1/domains/{id}": {id} is a positive integer */
	enum api_op op;
	const struct api_resource *res;
	void (*fn)(struct api_call *c); /* OP_CUSTOM */
	enum api_access access;       /* ACCESS_ADMIN unless said otherwise */
	unsigned own_fields;          /* OP_PATCH by a subscriber: the IN_* members they may set */
};

extern const struct api_route api_routes[];

/* Sets the conninfo the request threads connect with (kept, not copied). */
void api_init(const char *conninfo);

/* The http_handler: routes req, 404 or 405 when nothing matches. */
void api_handle(const struct http_req *req, struct http_resp *resp);

/* ---- for the handlers of session.c ------------------------------------------- */

struct pg_result;

/* A statement's parameters: text values (NULL: SQL NULL) and room for the
 * numbers among them. */
struct api_params {
	int n;
	const char *v[24];
	char num[24][24];
};

/* The parameters v... in order: struct api_params ps = API_PARAMS(a, b); */
#define API_PARAMS(...)                                                                        \
	{.n = sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *), .v = {__VA_ARGS__}}

/* Adds a parameter; returns its number ($n). */
int api_param(struct api_params *ps, const char *v);
int api_param_num(struct api_params *ps, long long v);

/* Runs sql on this thread's session. Returns the result (PQclear it), or
 * NULL with a problem in resp (409 duplicate, 422, 503...). */
struct pg_result *api_query(struct http_resp *resp, const char *sql, const struct api_params *ps);

/* api_query of stmt (a change RETURNING the changed row's id as "id",
 * among other columns) and its audit_log row in the same statement, hence
 * the same transaction: the row names c's principal, method and path,
 * resource (a table name), the id, and summary (JSON text without
 * secrets; NULL: {}). The result has stmt's columns. */
struct pg_result *api_change(struct api_call *c, const char *resource, const char *stmt,
			     struct api_params *ps, const char *summary);

/* The members of in that a body gave (IN_* in its has), as JSON text
 * (malloc'd), FIELD_SECRET ones left out. */
char *api_summary(const struct body_spec *spec, const void *in);

/* The one-row answer (json, etag) of a statement: 404 naming what and id
 * when there is no row. */
void api_row_reply(struct http_resp *resp, struct pg_result *r, int status, const char *what,
		   const char *id);

/* If-Match for PATCH and DELETE into tag (see api.c); -1 with 428 in resp. */
int api_if_match(const struct http_req *req, struct http_resp *resp, char *tag, size_t cap);

/* After a change WHERE id AND ETag matched no row: 404 or 412. */
void api_missing_or_stale(struct http_resp *resp, const char *table, const char *noun,
			  const char *id);

/* The ETag condition of a statement: "($n = '*' OR ETAG = ANY(...))". */
#define API_ETAG_SQL "(id::text || '.' || (extract(epoch FROM updated_at) * 1000000)::bigint::text)"

/* The OpenAPI document (provisioning/openapi.json, built in). */
extern const char api_openapi_json[];

#endif
