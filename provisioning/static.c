/* provd's static files: the web GUI (static.h). */
#include "provisioning/static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

/* Set once by static_init before the request threads start, read-only
 * after: no lock. */
static char root_dir[PATH_MAX];
static bool hsts;

void static_hsts(bool on)
{
	hsts = on;
}

#define CSP                                                                                        \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

void static_security_headers(struct MHD_Response *m)
{
	MHD_add_response_header(m, "Content-Security-Policy", CSP);
	MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(m, "Referrer-Policy", "no-referrer");
	/* over HTTPS only (RFC 6797 8.1: a browser ignores it over HTTP): a
	 * year of HTTPS-only for this host, so that a later http:// link or
	 * typed address is not a downgrade */
	if (hsts)
		MHD_add_response_header(m, "Strict-Transport-Security", "max-age=31536000");
}

/* dir is a directory we can read: its real path into out. */
static int real_dir(const char *dir, char *out, char *err, size_t errlen)
{
	char real[PATH_MAX];
	struct stat st;
	if (!realpath(dir, real) || stat(real, &st) < 0) {
		snprintf(err, errlen, "web.root %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "web.root %s: not a directory", dir);
		return -1;
	}
	if (access(real, R_OK | X_OK) < 0) {
		snprintf(err, errlen, "web.root %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(out, PATH_MAX, "%s", real);
	return 0;
}

int static_init(const char *root, char *err, size_t errlen)
{
	root_dir[0] = 0;
	if (root && root[0])
		return real_dir(root, root_dir, err, errlen);
	/* next to the program: a source tree's bin/provd, or an installed
	 * PREFIX/bin/provd with PREFIX/share/vocal/web */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return 1;
	*slash = 0;
	static const char *const near[] = {"/../web", "/../share/vocal/web"};
	for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
		char dir[PATH_MAX + 32], index[PATH_MAX + 48];
		snprintf(dir, sizeof(dir), "%s%s", exe, near[i]);
		snprintf(index, sizeof(index), "%s/index.html", dir);
		if (access(index, R_OK) == 0 && real_dir(dir, root_dir, err, errlen) == 0)
			return 0;
	}
	return 1;
}

const char *static_root(void)
{
	return root_dir;
}

bool static_owns(const char *path)
{
	return !(strncmp(path, "/api", 4) == 0 && (path[4] == 0 || path[4] == '/'));
}

/*
 * Only what a GUI file is named: segments of letters, digits, '-', '_'
 * and '.', none starting with '.' (no "..", no dot files), no empty
 * segment but a final one ("dir/" means its index.html). libmicrohttpd
 * has decoded %XX already, so "%2e%2e" arrives as ".." and is refused
 * here; a '%' left over (double encoding) is refused as well.
 */
static bool name_ok(const char *path)
{
	if (path[0] != '/' || strlen(path) > 512)
		return false;
	for (const char *s = path + 1; *s;) {
		if (*s == '.' || *s == '/')
			return false;
		for (; *s && *s != '/'; s++) {
			char c = *s;
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      c == '-' || c == '_' || c == '.'))
				return false;
		}
		if (*s == '/')
			s++;
	}
	return true;
}

static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{"html", "text/html; charset=utf-8"},
	{"css", "text/css; charset=utf-8"},
	{"js", "text/javascript; charset=utf-8"},
	{"mjs", "text/javascript; charset=utf-8"},
	{"json", "application/json"},
	{"webmanifest", "application/manifest+json"},
	{"svg", "image/svg+xml"},
	{"png", "image/png"},
	{"ico", "image/x-icon"},
	{"woff2", "font/woff2"},
	{"txt", "text/plain; charset=utf-8"},
};

static const char *content_type(const char *file)
{
	const char *dot = strrchr(file, '.');
	const char *slash = strrchr(file, '/');
	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

static struct MHD_Response *text(unsigned code, const char *msg, unsigned *status)
{
	struct MHD_Response *m =
		MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
	if (!m)
		return NULL;
	MHD_add_response_header(m, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(m, "Cache-Control", "no-store");
	static_security_headers(m);
	*status = code;
	return m;
}

/* Does the If-None-Match list name etag (or is it "*")? Weak comparison:
 * a W/ prefix does not matter. */
static bool etag_listed(const char *list, const char *etag)
{
	if (strcmp(list, "*") == 0)
		return true;
	size_t n = strlen(etag);
	for (const char *t = list; (t = strstr(t, etag)); t++) {
		char after = t[n];
		if (after == 0 || after == ',' || after == ' ' || after == '\t')
			return true;
	}
	return false;
}

struct MHD_Response *static_response(struct MHD_Connection *conn, const char *method,
				     const char *path, unsigned *status)
{
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		struct MHD_Response *m = text(405, "405 method not allowed: use GET\n", status);
		if (m)
			MHD_add_response_header(m, "Allow", "GET, HEAD");
		return m;
	}
	static const char nf[] = "404 not found\n";
	if (!root_dir[0] || !name_ok(path))
		return text(404, nf, status);
	char file[PATH_MAX], real[PATH_MAX];
	size_t plen = strlen(path);
	if (snprintf(file, sizeof(file), "%s%s%s", root_dir, path,
		     path[plen - 1] == '/' ? "index.html" : "") >= (int)sizeof(file))
		return text(404, nf, status);
	/* a symbolic link may point anywhere: what it resolves to must still
	 * be under the root */
	size_t rlen = strlen(root_dir);
	if (!realpath(file, real) || strncmp(real, root_dir, rlen) != 0 ||
	    (real[rlen] != '/' && strcmp(root_dir, "/") != 0))
		return text(404, nf, status);
	int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return text(404, nf, status);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return text(404, nf, status);
	}
	char etag[64], modified[64];
	snprintf(etag, sizeof(etag), "\"%llx-%llx%09ld\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
	struct tm tm;
	gmtime_r(&st.st_mtim.tv_sec, &tm);
	strftime(modified, sizeof(modified), "%a, %d %b %Y %H:%M:%S GMT", &tm);

	const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
	const char *ims = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-Modified-Since");
	bool fresh = inm ? etag_listed(inm, etag) : (ims && strcmp(ims, modified) == 0);
	struct MHD_Response *m;
	if (fresh) {
		close(fd);
		m = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		*status = 304;
	} else {
		/* libmicrohttpd closes fd when the response is destroyed */
		m = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
		if (!m)
			close(fd);
		else
			MHD_add_response_header(m, "Content-Type", content_type(file));
		*status = 200;
	}
	if (!m)
		return NULL;
	MHD_add_response_header(m, "ETag", etag);
	MHD_add_response_header(m, "Last-Modified", modified);
	/* no build step, so no hashed names: revalidate every time */
	MHD_add_response_header(m, "Cache-Control", "no-cache");
	static_security_headers(m);
	return m;
}
