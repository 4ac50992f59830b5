/* Named API tokens (tokens.h). */
#include "provisioning/tokens.h"

#include <postgresql/libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provisioning/validate.h"

#define TOKEN_JSON                                                                             \
	"json_build_object('id', id, 'name', name, 'created_by', created_by, "                 \
	"'created_by_login', created_by_login, 'expires_at', expires_at, 'last_used_at', "     \
	"last_used_at, 'enabled', enabled, 'created_at', created_at, 'updated_at', updated_at)"

/* A PATCH may change enabled only (the others are FIELD_FIXED). */
const struct api_resource api_tokens = {
	.table = "api_tokens",
	.noun = "API token",
	.json = TOKEN_JSON,
	.body = &body_api_token,
	.self = "/api/v1/tokens/",
};

void token_create(struct api_call *c)
{
	struct api_token_in in;
	struct problem p;
	if (body_parse(&body_api_token, c->req->body, c->req->len, true, &in, &p) < 0) {
		http_problem(c->resp, &p);
		return;
	}
	unsigned char raw[32], digest[crypto_hash_sha256_BYTES];
	char token[sizeof(API_TOKEN_PREFIX) + 64], hash[65], days[12];
	randombytes_buf(raw, sizeof(raw));
	memcpy(token, API_TOKEN_PREFIX, sizeof(API_TOKEN_PREFIX) - 1);
	sodium_bin2hex(token + sizeof(API_TOKEN_PREFIX) - 1, 65, raw, sizeof(raw));
	crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
	sodium_bin2hex(hash, sizeof(hash), digest, sizeof(digest));
	snprintf(days, sizeof(days), "%d", in.valid_days);

	struct api_params ps = {0};
	api_param(&ps, in.name);
	api_param(&ps, hash);
	api_param(&ps, c->who.account_id ? NULL : c->who.login); /* $3: the token that asks */
	if (c->who.account_id)
		api_param_num(&ps, c->who.account_id);
	else
		api_param(&ps, NULL);
	api_param(&ps, in.valid_days ? days : NULL);
	api_param(&ps, in.enabled ? "t" : "f");
	char *summary = api_summary(&body_api_token, &in);
	/* the creator's login from accounts (a session) or the token's name */
	PGresult *r = api_change(
		c, "api_tokens",
		"INSERT INTO api_tokens (name, token_sha256, created_by, created_by_login, expires_at, enabled) "
		"VALUES ($1, $2, $4::bigint, coalesce((SELECT login FROM accounts WHERE id = $4::bigint), $3), "
		"now() + make_interval(days => $5::int), $6::boolean) "
		"RETURNING " TOKEN_JSON "::text AS j, " API_ETAG_SQL " AS etag, id",
		&ps, summary);
	free(summary);
	sodium_memzero(raw, sizeof(raw));
	if (r) {
		/* the one answer that holds the token: the row plus "token" */
		const char *row = PQgetvalue(r, 0, 0);
		size_t n = strlen(row);
		char *body = malloc(n + sizeof(token) + 16);
		if (!body) {
			http_fail(c->resp, 503, "Out of memory", "try again");
		} else {
			snprintf(body, n + sizeof(token) + 16, "%.*s, \"token\": \"%s\"}", (int)(n - 1), row, token);
			http_json(c->resp, 201, body);
			sodium_memzero(body, n + sizeof(token) + 16);
			free(body);
			snprintf(c->resp->etag, sizeof(c->resp->etag), "\"%s\"", PQgetvalue(r, 0, 1));
			snprintf(c->resp->location, sizeof(c->resp->location), "/api/v1/tokens/%s",
				 PQgetvalue(r, 0, 2));
		}
		PQclear(r);
	}
	sodium_memzero(token, sizeof(token));
}

int token_lookup(const char *sha256_hex, char *name, size_t cap)
{
	struct http_resp resp = {0};
	struct api_params ps = API_PARAMS(sha256_hex);
	/* last_used_at moves at most once a minute: most requests only read */
	PGresult *r = api_query(
		&resp,
		"WITH t AS (SELECT id, name, last_used_at FROM api_tokens WHERE token_sha256 = $1 "
		"AND enabled AND (expires_at IS NULL OR expires_at > now())), "
		"u AS (UPDATE api_tokens a SET last_used_at = now() FROM t WHERE a.id = t.id AND "
		"(t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')) "
		"SELECT name FROM t",
		&ps);
	free(resp.body);
	if (!r)
		return -1;
	int found = PQntuples(r) == 1;
	if (found)
		snprintf(name, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return found;
}
