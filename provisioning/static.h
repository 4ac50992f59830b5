/*
 * provd's static files: the web GUI (web/) served from one directory, for
 * every GET or HEAD whose path is not under /api. No directory listings,
 * nothing outside the directory (".." and dot files refused before the file
 * system is asked, symbolic links followed only while they stay inside),
 * regular files only, a Content-Type from a fixed table, validators (ETag,
 * Last-Modified, Cache-Control: no-cache) so a browser revalidates instead
 * of keeping a stale page. The security headers (static_security_headers)
 * go on every response provd sends, the API's too.
 */
#ifndef VOCAL_PROVISIONING_STATIC_H
#define VOCAL_PROVISIONING_STATIC_H

#include <stdbool.h>
#include <stddef.h>

struct MHD_Connection;
struct MHD_Response;

/*
 * Chooses the directory to serve, once, before the HTTP threads start.
 * root: a directory; "" looks for the GUI next to the program: EXE/../web
 * (bin/provd in a source tree), then EXE/../share/vocal/web (make install).
 * Returns 0 (the directory in static_root()), 1 when root is "" and neither
 * place exists (nothing is served: every static path is a 404), or -1 with
 * the reason in err (root set but not a readable directory).
 */
int static_init(const char *root, char *err, size_t errlen);

/* The directory served (its real path), or "" when none. */
const char *static_root(void);

/* Is path one of ours: anything not "/api" or under "/api/"? */
bool static_owns(const char *path);

/*
 * The answer to method path (a path static_owns, as libmicrohttpd passes
 * it: percent-decoded, without the query). *status gets the HTTP status.
 * Returns a response with the security headers on, for the caller to queue
 * and destroy; NULL when out of memory.
 */
struct MHD_Response *static_response(struct MHD_Connection *conn, const char *method,
				     const char *path, unsigned *status);

/* Adds Content-Security-Policy, X-Content-Type-Options and Referrer-Policy,
 * and Strict-Transport-Security when static_hsts(true) was called. */
void static_security_headers(struct MHD_Response *m);

/* Before the HTTP threads start: provd serves HTTPS, so every response
 * says Strict-Transport-Security: max-age=31536000 (one year). */
void static_hsts(bool on);

#endif
