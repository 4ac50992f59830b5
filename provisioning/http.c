/* provd's HTTP front on libmicrohttpd (http.h). */
#include "provisioning/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <syslog.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "log.h"
#include "provisioning/static.h"
#include "provisioning/validate.h"

struct http_server {
	struct MHD_Daemon *mhd;
	http_handler handler;
	unsigned flags, threads;      /* MHD_start_daemon's, for http_renew */
	bool tls;
	struct MHD_Daemon *retiring;  /* the pool before http_renew, finishing */
	int retiring_fd;              /* its quiesced socket, ours to close; -1: none */
	bool has_token;
	uint8_t token[SHA256_DIGEST_LENGTH];
};

static int (*token_lookup_fn)(const char *sha256_hex, char *name, size_t cap);

void http_token_lookup(int (*lookup)(const char *sha256_hex, char *name, size_t cap))
{
	token_lookup_fn = lookup;
}

/* The one path with a larger body limit (http_body_limit). */
static const char *large_path;
static size_t large_max;

void http_body_limit(const char *path, size_t max)
{
	large_path = path;
	large_max = max;
}

/* One request while its body arrives. */
struct pending {
	char *body;
	size_t len, cap;
	size_t max;       /* API_BODY_MAX, or large_max for large_path */
	bool too_big;
	bool bearer;      /* checked on the headers, before any body is kept */
	bool auth_unavailable;
	char token_name[65];
	bool keep_body;   /* the token, a cookie, or a login: else no body is kept */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void http_log(int level, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;
	if (level > log_getlevel())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	if (level <= LOG_WARNING)
		log_warnx("%s", msg);
	else if (level == LOG_INFO)
		log_info("%s", msg);
	else
		log_debug("%s", msg);
	pthread_mutex_unlock(&log_lock);
}

const char *http_header(const struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

void http_json(struct http_resp *resp, int status, const char *json)
{
	free(resp->body);
	resp->status = status;
	resp->body = strdup(json);
	resp->type = "application/json";
}

void http_problem(struct http_resp *resp, const struct problem *p)
{
	/* type: a URN made of the title ("Invalid field" is
	 * urn:vocal:problem:invalid-field), stable for clients to test */
	char type[96] = "urn:vocal:problem:";
	size_t o = strlen(type);
	for (const char *c = p->title; *c && o + 1 < sizeof(type); c++)
		type[o++] = *c == ' ' ? '-' : (*c >= 'A' && *c <= 'Z') ? (char)(*c + 32) : *c;
	type[o] = 0;
	json_t *doc = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", p->title, "status",
				p->status, "detail", p->detail);
	free(resp->body);
	resp->body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	resp->status = p->status;
	resp->type = "application/problem+json";
	resp->etag[0] = 0;
	resp->location[0] = 0;
}

void http_fail(struct http_resp *resp, int status, const char *title, const char *fmt, ...)
{
	struct problem p = {.status = status};
	snprintf(p.title, sizeof(p.title), "%s", title);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p.detail, sizeof(p.detail), fmt, ap);
	va_end(ap);
	http_problem(resp, &p);
}

/* Authorization: Bearer TOKEN: 1 when TOKEN is the configured token or a
 * named one (name: "" or its name), 0 when absent or wrong, -1 when the
 * database cannot say. */
static int token_ok(const struct http_server *s, const char *auth, char *name, size_t cap)
{
	name[0] = 0;
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return 0;
	const char *tok = auth + 7;
	while (*tok == ' ')
		tok++;
	uint8_t h[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)tok, strlen(tok), h);
	/* equal-length digests compared in constant time: the time taken
	 * says nothing about how much of a guess was right */
	if (s->has_token && CRYPTO_memcmp(h, s->token, sizeof(h)) == 0)
		return 1;
	if (!token_lookup_fn)
		return 0;
	/* the database finds the row by the digest's index: a guess learns
	 * nothing from the time either, 256 random bits being unguessable */
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	return token_lookup_fn(hex, name, cap);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct http_resp *r)
{
	size_t len = r->body ? strlen(r->body) : 0;
	struct MHD_Response *m = MHD_create_response_from_buffer(len, r->body, MHD_RESPMEM_MUST_FREE);
	if (!m) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	if (len)
		MHD_add_response_header(m, "Content-Type", r->type ? r->type : "application/json");
	MHD_add_response_header(m, "Cache-Control", "no-store");
	static_security_headers(m);
	if (r->etag[0])
		MHD_add_response_header(m, "ETag", r->etag);
	if (r->location[0])
		MHD_add_response_header(m, "Location", r->location);
	if (r->allow[0])
		MHD_add_response_header(m, "Allow", r->allow);
	if (r->set_cookie[0])
		MHD_add_response_header(m, "Set-Cookie", r->set_cookie);
	if (r->retry_after) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%u", r->retry_after);
		MHD_add_response_header(m, "Retry-After", ra);
	}
	if (r->status == 401)
		MHD_add_response_header(m, "WWW-Authenticate", "Bearer realm=\"vocal\"");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, m);
	MHD_destroy_response(m);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct pending *p = *con_cls;
	(void)version;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return MHD_NO;
		*con_cls = p;
		struct http_req hdrs = {.conn = conn};
		int t = token_ok(s, http_header(&hdrs, "Authorization"), p->token_name,
				 sizeof(p->token_name));
		p->bearer = t == 1;
		p->auth_unavailable = t < 0;
		p->keep_body = p->bearer || http_header(&hdrs, "Cookie") ||
			       strcmp(url, "/api/v1/session") == 0;
		p->max = large_path && strcmp(url, large_path) == 0 ? large_max : API_BODY_MAX;
		return MHD_YES;
	}
	if (*upload_size) {
		/* keep reading a body that is too big (or from nobody), so
		 * the 413 (401) is an answer and not a reset connection, but
		 * keep none of it */
		if (p->keep_body && !p->too_big && p->len + *upload_size <= p->max) {
			if (p->len + *upload_size + 1 > p->cap) {
				/* doubling: a 64 MB import arrives in many small pieces */
				size_t cap = p->cap ? p->cap : 4096;
				while (cap < p->len + *upload_size + 1)
					cap *= 2;
				char *b = realloc(p->body, cap);
				if (!b)
					return MHD_NO;
				p->body = b;
				p->cap = cap;
			}
			memcpy(p->body + p->len, upload, *upload_size);
			p->len += *upload_size;
			p->body[p->len] = 0;
		} else {
			p->too_big = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (static_owns(url)) {
		/* the GUI's files: no token, no body */
		unsigned code;
		struct MHD_Response *m = static_response(conn, method, url, &code);
		if (!m)
			return MHD_NO;
		enum MHD_Result ret = MHD_queue_response(conn, code, m);
		MHD_destroy_response(m);
		http_log(LOG_DEBUG, "%s %s %u", method, url, code);
		return ret;
	}
	struct http_req req = {.method = method, .path = url, .body = p->body ? p->body : "",
			       .len = p->len, .conn = conn, .bearer = p->bearer,
			       .token_name = p->token_name, .auth_unavailable = p->auth_unavailable};
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		req.peer = ci->client_addr;
		if (req.peer->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)req.peer)->sin_addr,
				  req.peer_text, sizeof(req.peer_text));
		else if (req.peer->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)req.peer)->sin6_addr,
				  req.peer_text, sizeof(req.peer_text));
	}
	struct http_resp resp = {.status = 500};
	if (!p->keep_body && p->too_big)
		http_fail(&resp, 401, "Unauthorized",
			  "send Authorization: Bearer followed by the API token, or log in");
	else if (p->too_big)
		http_fail(&resp, 413, "Request body too large", "at most %zu bytes are accepted", p->max);
	else
		s->handler(&req, &resp);
	http_log(LOG_DEBUG, "%s %s %d", method, url, resp.status);
	return send_resp(conn, &resp);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
		    enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)conn;
	(void)why;
	struct pending *p = *con_cls;
	if (p) {
		free(p->body);
		free(p);
		*con_cls = NULL;
	}
}

/* libmicrohttpd's own messages (a TLS handshake that failed, GnuTLS
 * refusing a certificate) go to provd's log like every other line, so
 * that they reach syslog under -D too (MHD_OPTION_EXTERNAL_LOGGER). */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[LOG_LINE_MAX];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	http_log(LOG_WARNING, "libmicrohttpd: %s", msg);
}

bool http_tls_supported(void)
{
	return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

/* One libmicrohttpd daemon for s: on addr, or (addr NULL) on the listening
 * socket fd, which it then owns. */
static struct MHD_Daemon *start_mhd(struct http_server *s, const struct sockaddr_storage *addr,
				    int fd, const struct http_tls *tls)
{
	/* MHD_USE_ITC: MHD_quiesce_daemon needs it with a thread pool, to
	 * take the listening socket away from the pool's threads (http_renew) */
	unsigned flags = s->flags | MHD_USE_ITC;
	struct MHD_OptionItem o[8];
	size_t n = 0;
	if (addr)
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)addr};
	else
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
	if (tls) {
		/* the _MEM_ options: provd reads the files itself (tls.c checks
		 * them and zeroes the key's copy after), and GnuTLS copies them
		 * as the daemon starts */
		flags |= MHD_USE_TLS;
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)tls->cert};
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)tls->key};
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
						 (void *)tls->priorities};
	}
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	/* the logger first: libmicrohttpd says so, for the messages about
	 * the options after it */
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
				mhd_log, NULL, MHD_OPTION_ARRAY, o,
				MHD_OPTION_THREAD_POOL_SIZE, s->threads, MHD_OPTION_NOTIFY_COMPLETED,
				on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
				MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_END);
}

struct http_server *http_start(const struct config_addr *listen, unsigned threads,
			       const uint8_t *token_sha256, const struct http_tls *tls,
			       http_handler handler, uint16_t *port, char *err, size_t errlen)
{
	struct sockaddr_storage ss = {0};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (inet_pton(AF_INET, listen->host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(listen->port);
	} else if (inet_pton(AF_INET6, listen->host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(listen->port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "listen: %s is not a numeric address", listen->host);
		return NULL;
	}
	if (tls && !http_tls_supported()) {
		snprintf(err, errlen, "tls.cert: this libmicrohttpd was built without TLS (GnuTLS)");
		return NULL;
	}
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->handler = handler;
	s->flags = flags;
	s->threads = threads;
	s->tls = tls != NULL;
	s->retiring_fd = -1;
	if (token_sha256) {
		s->has_token = true;
		memcpy(s->token, token_sha256, sizeof(s->token));
	}
	s->mhd = start_mhd(s, &ss, -1, tls);
	if (!s->mhd) {
		snprintf(err, errlen, "cannot listen on %s:%u (address in use or not ours?%s)",
			 listen->host, listen->port,
			 tls ? " or GnuTLS refused tls.cert or tls.key: see above" : "");
		free(s);
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : listen->port;
	return s;
}

int http_renew(struct http_server *s, const struct http_tls *tls, char *err, size_t errlen)
{
	if (!s->tls) {
		snprintf(err, errlen, "provd serves plain HTTP: turning TLS on needs a restart");
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	/* the new pool gets its own descriptor of the same socket: while both
	 * pools run, either accepts; a connection is never refused */
	int fd = info ? fcntl(info->listen_fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (fd < 0) {
		snprintf(err, errlen, "the listening socket: %s", info ? strerror(errno) : "unknown");
		return -1;
	}
	struct MHD_Daemon *fresh = start_mhd(s, NULL, fd, tls);
	if (!fresh) {
		close(fd);
		snprintf(err, errlen, "libmicrohttpd refused the new certificate or key (see above)");
		return -1;
	}
	/* a pool still retiring from the renewal before goes now */
	http_retire(s, true);
	struct MHD_Daemon *old = s->mhd;
	s->mhd = fresh;
	/* the old pool stops accepting but keeps its connections until they
	 * end (http_retire): stopping it now would close them, answers not
	 * yet sent included. Its descriptor of the socket is ours to close
	 * after it stops (MHD_quiesce_daemon's contract). */
	MHD_socket q = MHD_quiesce_daemon(old);
	s->retiring = old;
	s->retiring_fd = q == MHD_INVALID_SOCKET ? -1 : q;
	return 0;
}

bool http_retire(struct http_server *s, bool force)
{
	if (!s->retiring)
		return false;
	if (!force) {
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(s->retiring, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (info && info->num_connections > 0)
			return true;
	}
	MHD_stop_daemon(s->retiring);
	if (s->retiring_fd >= 0)
		close(s->retiring_fd);
	s->retiring = NULL;
	s->retiring_fd = -1;
	return false;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	http_retire(s, true);
	MHD_stop_daemon(s->mhd);
	free(s);
}
