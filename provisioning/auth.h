/*
 * Who may do what in provd's API: the pure half of authentication and
 * authorization (no database, no I/O), so that unit tests cover it whole.
 * The route table (api.c) gives every route an access column; api_handle
 * asks api_authorize once per request, and no handler decides on its own.
 * session.c does the database half (sessions, accounts, logins).
 */
#ifndef VOCAL_PROVISIONING_AUTH_H
#define VOCAL_PROVISIONING_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define SESSION_COOKIE "vocal_session"
#define SESSION_ID_HEX 64      /* 256 random bits, hex */
#define CSRF_TOKEN_HEX 64

enum api_role {
	ROLE_NONE = 0,         /* no credentials, or none that hold */
	ROLE_TOKEN,            /* the bearer token (scripts): acts as an administrator */
	ROLE_ADMIN,            /* a carrier administrator's session */
	ROLE_SUBSCRIBER,       /* a subscriber's session */
};

/* The one asking, as api_handle found out. */
struct api_principal {
	enum api_role role;
	bool cookie;                   /* by the session cookie (CSRF rules apply) */
	long long account_id;          /* 0 for the token */
	long long subscriber_id;       /* ROLE_SUBSCRIBER */
	char login[72];                /* "token" for the configured token, "token:NAME" for a named one */
	char csrf[CSRF_TOKEN_HEX + 1]; /* the session's CSRF token */
	char session[65];              /* the session's id_sha256 (hex) */
};

/* A route's access column. The zero value is the safe default. */
enum api_access {
	ACCESS_ADMIN = 0,      /* administrators and the token only */
	ACCESS_PUBLIC,         /* anyone (logging out) */
	ACCESS_LOGIN,          /* anyone, and a session cookie sent along is ignored
	                          (logging in: no CSRF token yet) */
	ACCESS_ANY,            /* anyone authenticated (the OpenAPI document) */
	ACCESS_SESSION,        /* a web session, whoever's (its own account) */
	ACCESS_OWN,            /* an administrator, or the subscriber whom the path's
	                          first id names: another subscriber's id is 404, as
	                          if it did not exist, so ids do not leak */
	ACCESS_OWN_ADMIN,      /* an administrator; the subscriber whom the path's
	                          first id names is refused (403: the row is theirs
	                          but the carrier's to change), another subscriber's
	                          id is 404 as for ACCESS_OWN */
};

/* 0 when who may use a route of that access with path_id (the path's
 * first id, 0 when none); else the status to answer: 401 (not
 * authenticated), 403 (not allowed), 404 (another subscriber's). */
int api_authorize(enum api_access access, const struct api_principal *who, long long path_id);

/* true when a state-changing request (POST, PUT, PATCH, DELETE) must show
 * it is not forged: cookie sessions do, the bearer token does not. */
bool api_method_changes(const char *method);

/* The session id in a Cookie header ("a=b; vocal_session=HEX; c=d") into
 * out (SESSION_ID_HEX + 1 bytes). Returns 0, or -1 when absent or not 64
 * lower-case hex digits. */
int cookie_session_id(const char *cookie, char *out);

/* The X-CSRF-Token check: given equals expected, compared in constant
 * time (a timing difference would tell a guesser how much is right).
 * NULL or empty given: false. */
bool csrf_token_ok(const char *expected, const char *given);

/* A browser's Origin header against provd's own origin: true when origin
 * is absent (not a browser, or a same-origin GET), or equals configured
 * when one is set ("https://provd.example.net"), else equals http:// or
 * https:// followed by the Host header (case-insensitive). "null" (a
 * sandboxed or privacy-stripped origin) is never provd's. */
bool origin_ok(const char *origin, const char *host, const char *configured);

/* The Set-Cookie value for a new session (id: SESSION_ID_HEX hex) or, id
 * NULL, for clearing it; secure adds Secure (provd behind TLS). */
void session_cookie(char *out, size_t cap, const char *id, bool secure);

#endif
