/*
 * The REST API under /api/v1: one static table of routes (method, path
 * pattern, handler), walked for every request, so adding a route is adding
 * a row (and its entry in openapi.json, which a unit test holds to the
 * table). Handlers run on an HTTP thread and use that thread's own
 * PostgreSQL session; every statement is parameterized.
 */
#ifndef VOCAL_PROVISIONING_API_H
#define VOCAL_PROVISIONING_API_H

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
};

struct api_route {
	const char *method;
	const char *pattern;          /* "/api/v1/domains/{id}": {id} is a positive integer */
	enum api_op op;
	const struct api_resource *res;
	void (*fn)(struct api_call *c); /* OP_CUSTOM */
};

extern const struct api_route api_routes[];

/* Sets the conninfo the request threads connect with (kept, not copied). */
void api_init(const char *conninfo);

/* The http_handler: routes req, 404 or 405 when nothing matches. */
void api_handle(const struct http_req *req, struct http_resp *resp);

/* The OpenAPI document (provisioning/openapi.json, built in). */
extern const char api_openapi_json[];

#endif
