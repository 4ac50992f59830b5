/*
 * provd's HTTP front: libmicrohttpd in its own thread pool. Each request
 * runs start to end on one pool thread (the handlers are synchronous and
 * hold that thread's database session), so the daemon's event loop only
 * does signals. This module reads the body, checks the bearer token and
 * turns a struct http_resp into the HTTP answer; api.c does the rest.
 */
#ifndef VOCAL_PROVISIONING_HTTP_H
#define VOCAL_PROVISIONING_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct MHD_Connection;
struct problem;
struct sockaddr;

struct http_req {
	const char *method;           /* "GET" ... */
	const char *path;             /* without the query */
	const char *body;             /* NUL-terminated; "" when none */
	size_t len;
	struct MHD_Connection *conn;  /* for http_header, http_query */
	bool bearer;                  /* Authorization: Bearer with a right token */
	const char *token_name;       /* which: "" the configured one, else a named one's */
	bool auth_unavailable;        /* a bearer token the database could not check (503) */
	const struct sockaddr *peer;  /* the client's address (NULL: unknown) */
	char peer_text[64];           /* the same for logs */
};

struct http_resp {
	int status;
	char *body;                   /* heap, owned by the response; NULL: empty */
	const char *type;             /* Content-Type */
	char etag[64];                /* with the quotes; "" for none */
	char location[128];
	char allow[64];               /* for a 405 */
	char set_cookie[256];         /* Set-Cookie; "" for none */
	unsigned retry_after;         /* seconds, for a 429 or 503; 0: no header */
};

/* A request header or query parameter; NULL when absent. */
const char *http_header(const struct http_req *r, const char *name);
const char *http_query(const struct http_req *r, const char *name);

/* Sets resp to a JSON body (copied) and status. */
void http_json(struct http_resp *resp, int status, const char *json);
/* Sets resp to an application/problem+json document (RFC 9457). */
void http_problem(struct http_resp *resp, const struct problem *p);
/* The same from parts. */
void http_fail(struct http_resp *resp, int status, const char *title, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Logging from request threads (common/log.c is written for one thread
 * per daemon): formats, then logs under a lock. level: LOG_WARNING,
 * LOG_INFO or LOG_DEBUG. */
void http_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef void (*http_handler)(const struct http_req *req, struct http_resp *resp);

struct http_server;

/* HTTPS: PEM texts (NUL-terminated) and GnuTLS's priority string. The
 * texts are copied by libmicrohttpd as it starts: the caller may zero and
 * free them as soon as http_start or http_renew returns. */
struct http_tls {
	const char *cert;
	const char *key;
	const char *priorities;
};

/* Can this libmicrohttpd serve HTTPS (built with GnuTLS)? */
bool http_tls_supported(void);

/*
 * Starts threads request threads serving listen (a numeric address; port
 * 0: the kernel chooses), over TLS only when tls is not NULL (a plain
 * HTTP request to that port then fails its handshake: nothing is served
 * in clear). token_sha256: 32 bytes that SHA-256 of the
 * configured bearer token equals, or NULL: none (named tokens still work
 * through http_token_lookup). Every
 * request goes to handler, which decides who may do what (api.c); a body
 * is kept only for a request with the token, a Cookie header, or to
 * /api/v1/session (a login), else answered 401 unread. Returns the
 * server, or NULL with the reason in err. *port gets the bound port.
 */
struct http_server *http_start(const struct config_addr *listen, unsigned threads,
			       const uint8_t *token_sha256, const struct http_tls *tls,
			       http_handler handler, uint16_t *port, char *err, size_t errlen);

/*
 * A new certificate and key for a server started with TLS (SIGHUP): starts
 * a second thread pool with them on the same listening socket, and the old
 * pool takes no new connection (MHD_quiesce_daemon) but keeps serving the
 * ones it has until http_retire stops it; so no connection is refused or
 * cut on the way. A pool still retiring from a renewal before is stopped
 * first. Returns 0; or -1 with the reason in err, the old certificate
 * still being served.
 */
int http_renew(struct http_server *s, const struct http_tls *tls, char *err, size_t errlen);

/* Stops the pool that http_renew retired once it has no connection left,
 * or at once when force. Returns true while it is still there (call again
 * later), false when there is none. */
bool http_retire(struct http_server *s, bool force);

/* Before http_start: bearer tokens other than the configured one are
 * asked of lookup (with the token's SHA-256 in lower-case hex): 1 and the
 * token's name in name, 0 not a token, -1 cannot say now. It runs as the
 * headers arrive, before any body is kept. */
void http_token_lookup(int (*lookup)(const char *sha256_hex, char *name, size_t cap));

/* Before http_start: requests to path (exact) may send bodies of up to
 * max bytes instead of API_BODY_MAX (the bulk import). path is kept. */
void http_body_limit(const char *path, size_t max);

/* Stops accepting, waits for the requests in flight, frees everything
 * (a retiring pool too). */
void http_stop(struct http_server *s);

#endif
