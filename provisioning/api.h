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

struct api_route {
	const char *method;
	const char *pattern;          /* "/api/v1/domains/{id}": {id} is a positive integer */
	void (*fn)(const struct http_req *req, struct http_resp *resp, long long id);
	/* instead of fn, for patterns with a second parameter
	 * ("/api/v1/subscribers/{id}/aliases/{alias_id}"): both ids in order */
	void (*fn2)(const struct http_req *req, struct http_resp *resp, long long id, long long id2);
};

extern const struct api_route api_routes[];

/* Sets the conninfo the request threads connect with (kept, not copied). */
void api_init(const char *conninfo);

/* The http_handler: routes req, 404 or 405 when nothing matches. */
void api_handle(const struct http_req *req, struct http_resp *resp);

/* The OpenAPI document (provisioning/openapi.json, built in). */
extern const char api_openapi_json[];

#endif
