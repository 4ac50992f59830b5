/*
 * Named API tokens for scripts (POST /api/v1/tokens): each acts as an
 * administrator, as the configured token (api.token_sha256) does, but has
 * its own name (the audit log's actor is "token:NAME"), an optional expiry,
 * and is revoked by disabling or deleting its row, which every provd sees
 * on the next request. Only the token's SHA-256 is stored; the token
 * ("vocal_" and 64 hex digits: 256 random bits) is shown once, in the
 * answer to its creation.
 */
#ifndef VOCAL_PROVISIONING_TOKENS_H
#define VOCAL_PROVISIONING_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "provisioning/api.h"

#define API_TOKEN_PREFIX "vocal_"

/* POST /tokens: 201 with the token, once. */
void token_create(struct api_call *c);

/* GET /tokens, GET/PATCH/DELETE /tokens/{id}: never the hash. */
extern const struct api_resource api_tokens;

/* The http_token_lookup hook (http.h): 1 when sha256_hex (64 lower-case
 * hex digits) is an enabled, unexpired token's (its name into name), 0
 * when not, -1 when the database cannot say. Runs on the request's
 * thread, on that thread's database session. */
int token_lookup(const char *sha256_hex, char *name, size_t cap);

#endif
