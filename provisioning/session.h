/*
 * Web accounts and their sessions: logging in and out, the session
 * cookie, login throttling and lockout, the accounts API and the audit
 * log's resource. The database half of auth.h.
 *
 * A session id is 256 bits from libsodium's CSPRNG, given to the browser
 * in the vocal_session cookie (HttpOnly, SameSite=Strict, Secure when
 * configured) and kept in the sessions table only as its SHA-256, so a
 * copy of the table opens no session; several provd share the table, and
 * a restart logs nobody out. A session ends when unused for
 * session.idle_timeout, or session.lifetime after its login.
 *
 * Throttling, two layers: in memory (common/guard.c, bounded), failures
 * per client address (IPv6 per /64) in a sliding window block that
 * address for a while (429), and failures of a login that is no account
 * block that login the same way; in the database, an account's failures
 * within login.account_window lock it (locked_until, 429), for
 * login.lock_time doubled at each lockout, at most a day, shared by every
 * provd. A wrong password and an unknown login look the same (401, and an
 * Argon2id verification of a dummy hash, so about the same time). Every
 * failure is logged with the address.
 */
#ifndef VOCAL_PROVISIONING_SESSION_H
#define VOCAL_PROVISIONING_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "provisioning/api.h"

struct pg_conn;
struct guard_config;

struct session_conf {
	uint64_t idle_ms, lifetime_ms;
	bool cookie_secure;
	const char *origin;               /* kept, not copied; "" for none */
	unsigned address_failures;
	uint64_t address_window_ms, address_block_ms;
	unsigned account_failures;
	uint64_t account_window_ms, lock_ms;
};

/* Before the HTTP threads start: libsodium, the dummy hash, the throttle
 * tables. Returns 0, or -1 with err set. */
int session_init(const struct session_conf *conf, char *err, size_t errlen);
void session_shutdown(void);

/* The in-memory throttle's configuration from c (pure): a sliding window
 * of c->address_window_ms, c->address_failures per address (IPv6 per /64)
 * blocking for c->address_block_ms, c->account_failures per unknown login
 * blocking for c->lock_ms; 16384 entries per table (bounded memory). */
void session_guard_config(const struct session_conf *c, struct guard_config *g);

/* session.origin ("" when not set). */
const char *session_origin(void);

/* Fills c->who: the token, the account of a live session cookie (and
 * keeps the session alive), or nobody. Returns 0, or -1 with a 503 in
 * c->resp when the database cannot say. */
int session_authenticate(struct api_call *c);

/* Handlers of the routes (api.c's table says who may call them). */
void session_login(struct api_call *c);     /* POST /session */
void session_get(struct api_call *c);       /* GET /session */
void session_logout(struct api_call *c);    /* DELETE /session */
void session_password(struct api_call *c);  /* PUT /session/password */
void account_create(struct api_call *c);    /* POST /accounts */
void account_password(struct api_call *c);  /* PUT /accounts/{id}/password */

/* GET/PATCH/DELETE /accounts/{id}, GET /accounts; GET /audit. */
extern const struct api_resource api_accounts, api_audit;

/* provd --create-admin / --create-login: creates the account, or sets the
 * password of the one with that login (and enables and unlocks it).
 * subscriber_id 0: an administrator. Returns 0, or -1 with err set. */
int account_upsert(struct pg_conn *conn, const char *login, long long subscriber_id,
		   const char *password, char *err, size_t errlen);

#endif
