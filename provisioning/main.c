/*
 * provd: the provisioning server (ARCHITECTURE.md). Owns the schema (applies
 * provisioning/sql/ at start, or refuses to start and says why) and serves
 * the JSON REST API under /api/v1 from libmicrohttpd's thread pool; the
 * event loop here only handles signals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <postgresql/libpq-fe.h>

#include "daemon.h"
#include "db.h"
#include "ev.h"
#include "log.h"
#include "provisioning/api.h"
#include "provisioning/conf.h"
#include "provisioning/http.h"
#include "provisioning/static.h"
#include "provisioning/session.h"
#include "provisioning/tls.h"
#include "provisioning/tokens.h"

static int check(const void *conf, char *err, size_t errlen);

static struct daemon d = {
	.name = "provd",
	.default_conf = "/etc/vocal/provd.conf",
	.table = provd_keys,
	.conf_size = sizeof(struct provd_conf),
	.check = check,
};

static struct http_server *http;
static bool tls_on;

/* After a certificate renewal, the old thread pool finishes its
 * connections: checked every RETIRE_POLL_MS, stopped at RETIRE_MAX_MS
 * whatever is left (a keep-alive connection kept busy would keep it
 * forever; the client then reconnects and gets the new certificate). */
#define RETIRE_POLL_MS 250
#define RETIRE_MAX_MS 30000
static struct ev_timer retire_timer;
static uint64_t retire_waited;

static void on_retire(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)arg;
	retire_waited += RETIRE_POLL_MS;
	if (http_retire(http, retire_waited >= RETIRE_MAX_MS))
		ev_timer_start(loop, t, RETIRE_POLL_MS);
}

/* tls.cert and tls.key of c into *f (tls.h): 0 when both are empty (plain
 * HTTP), 1 when loaded (a certificate expiring soon is logged), -1 with
 * the reason in err. */
static int tls_load(const struct provd_conf *c, struct tls_files *f, char *err, size_t errlen)
{
	if (!c->tls_cert[0] && !c->tls_key[0])
		return 0;
	if (!c->tls_cert[0] || !c->tls_key[0]) {
		snprintf(err, errlen, "tls.cert and tls.key go together: set both for HTTPS, "
				      "or neither for plain HTTP");
		return -1;
	}
	if (!http_tls_supported()) {
		snprintf(err, errlen, "tls.cert: this libmicrohttpd was built without TLS (GnuTLS); "
				      "HTTPS cannot be served");
		return -1;
	}
	int rc = tls_files_load(c->tls_cert, c->tls_key, f, err, errlen);
	if (rc < 0)
		return -1;
	if (rc > 0)
		log_warnx("%s", err);
	return 1;
}

/* provd -n: the syntax (daemon.c), then the certificate and key. */
static int check(const void *conf, char *err, size_t errlen)
{
	struct tls_files f;
	int rc = tls_load(conf, &f, err, errlen);
	if (rc > 0)
		tls_files_free(&f);
	return rc < 0 ? -1 : 0;
}

/* The keys other than tls.* whose values differ between a and b, into
 * out ("threads, listen"); "" when none. Compares what -v prints, so
 * every type of key is compared the same way. */
static void changed_keys(const void *a, const void *b, char *out, size_t cap)
{
	char *ta = NULL, *tb = NULL;
	size_t la = 0, lb = 0;
	FILE *fa = open_memstream(&ta, &la), *fb = open_memstream(&tb, &lb);
	out[0] = 0;
	if (fa) {
		config_print(provd_keys, a, fa);
		fclose(fa);
	}
	if (fb) {
		config_print(provd_keys, b, fb);
		fclose(fb);
	}
	char *sa = NULL, *sb = NULL;
	char *pa = ta ? strtok_r(ta, "\n", &sa) : NULL, *pb = tb ? strtok_r(tb, "\n", &sb) : NULL;
	for (; pa || pb; pa = strtok_r(NULL, "\n", &sa), pb = strtok_r(NULL, "\n", &sb)) {
		if (!pa || !pb) {
			snprintf(out, cap, "the keys");
			break;
		}
		if (pa[0] == '#' || strncmp(pa, "tls.", 4) == 0 || strcmp(pa, pb) == 0)
			continue;
		size_t n = strcspn(pa, " =");
		size_t o = strlen(out);
		snprintf(out + o, cap - o, "%s%.*s", o ? ", " : "", (int)n, pa);
	}
	free(ta);
	free(tb);
}

/*
 * SIGHUP: the certificate and key are read again (a renewed certificate at
 * the same paths, or new paths) and served from the next connection on,
 * without a restart (http_renew). Every other key is read once at start: a
 * change to one is logged as needing a restart, and the running
 * configuration stays.
 */
static int reload(void *new_conf, const void *old_conf, void *arg)
{
	(void)arg;
	const struct provd_conf *n = new_conf;
	char err[512];
	if ((n->tls_cert[0] || n->tls_key[0]) != tls_on) {
		log_warnx("reload: turning TLS %s needs a restart", tls_on ? "off" : "on");
		return -1;
	}
	if (tls_on) {
		struct tls_files f;
		if (tls_load(n, &f, err, sizeof(err)) < 0) {
			log_warnx("reload: %s; still serving the certificate loaded before", err);
			return -1;
		}
		struct http_tls t = {f.cert, f.key, tls_priorities(n->tls_min_version)};
		int rc = http_renew(http, &t, err, sizeof(err));
		if (rc == 0) {
			log_info("TLS: now serving %s (serial %s, expires %s)", f.subject, f.serial,
				 f.not_after);
			retire_waited = 0;
			ev_timer_start(d.loop, &retire_timer, RETIRE_POLL_MS);
		}
		tls_files_free(&f);
		if (rc < 0) {
			log_warnx("reload: %s; still serving the certificate loaded before", err);
			return -1;
		}
	}
	char changed[512];
	changed_keys(old_conf, new_conf, changed, sizeof(changed));
	if (changed[0]) {
		log_warnx("reload: %s changed: provd needs a restart for %s (SIGHUP reloads "
			  "only tls.*)", changed, strchr(changed, ',') ? "them" : "it");
		return -1;
	}
	return 0;
}

static void drain(void *arg)
{
	(void)arg;
	log_info("stopping");
	ev_break(d.loop);
}

/* "" -> 0 (no token); 64 hex digits -> 1 with the bytes; else -1. */
static int parse_token(const char *hex, uint8_t out[32])
{
	if (!hex[0])
		return 0;
	if (strlen(hex) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]))
			return -1;
		out[i] = (uint8_t)v;
	}
	return 1;
}

/* provd's own options, taken out of argv before the common ones:
 * --create-admin LOGIN, or --create-login LOGIN --subscriber ID. */
static const char *create_login;
static long long create_subscriber;

static int own_options(int *argc, char **argv)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		bool admin = strcmp(argv[i], "--create-admin") == 0;
		if (admin || strcmp(argv[i], "--create-login") == 0) {
			if (i + 1 >= *argc)
				return -1;
			create_login = argv[++i];
			create_subscriber = admin ? 0 : -1;
		} else if (strcmp(argv[i], "--subscriber") == 0) {
			char *end;
			if (i + 1 >= *argc || (create_subscriber = strtoll(argv[++i], &end, 10)) <= 0 || *end)
				return -1;
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	*argc = out;
	return create_login && create_subscriber < 0 ? -1 : 0;
}

/* --create-admin / --create-login: the password is the first line of
 * standard input (so that it shows in no process list). */
static int create_account(PGconn *conn)
{
	char *line = NULL, err[512];
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (n <= 0) {
		fprintf(stderr, "provd: give the password on standard input\n");
		free(line);
		return 1;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	int rc = account_upsert(conn, create_login, create_subscriber, line, err, sizeof(err));
	explicit_bzero(line, cap);
	free(line);
	if (rc < 0) {
		fprintf(stderr, "provd: account %s: %s\n", create_login, err);
		return 1;
	}
	printf("account %s: password set\n", create_login);
	return 0;
}

int main(int argc, char **argv)
{
	if (own_options(&argc, argv) < 0) {
		fprintf(stderr, "usage: provd [-dDnv] [-f file] [-p pidfile] "
				"[--create-admin LOGIN | --create-login LOGIN --subscriber ID]\n");
		return 1;
	}
	switch (daemon_start(&d, argc, argv)) {
	case -1: return 1;
	case 1: return 0;
	}
	const struct provd_conf *c = d.conf;
	char err[512];
	uint8_t token[32];
	int has_token = parse_token(c->api_token_sha256, token);
	if (has_token < 0)
		fatalx("api.token_sha256: must be 64 hex digits (sha256sum of the token)");
	if (!has_token)
		log_info("api.token_sha256 is empty: scripts use the named tokens of /api/v1/tokens");

	int web = static_init(c->web_root, err, sizeof(err));
	if (web < 0)
		fatalx("%s", err);
	if (web > 0)
		log_warnx("web.root: no web/ found next to the program; the GUI is not served");

	/* before the database: a bad certificate or key is said at once */
	struct tls_files tf;
	int tls = create_login ? 0 : tls_load(c, &tf, err, sizeof(err));
	if (tls < 0)
		fatalx("%s", err);
	tls_on = tls > 0;
	static_hsts(tls_on);

	PGconn *conn = db_connect(c->db_conninfo, err, sizeof(err));
	if (!conn)
		fatalx("database: %s", err);
	/* "applied NNN_x.sql" lines go to the log like every other line */
	char *applied = NULL;
	size_t alen = 0;
	FILE *mlog = open_memstream(&applied, &alen);
	int n = db_migrate(conn, c->migrations, mlog, err, sizeof(err));
	if (n >= 0 && create_login) {
		int rc = create_account(conn);
		PQfinish(conn);
		if (mlog)
			fclose(mlog);
		free(applied);
		daemon_free(&d);
		return rc;
	}
	PQfinish(conn);
	if (mlog) {
		fclose(mlog);
		for (char *line = strtok(applied, "\n"); line; line = strtok(NULL, "\n"))
			log_info("schema: %s", line);
		free(applied);
	}
	if (n < 0)
		fatalx("schema migrations from %s: %s", c->migrations, err);

	d.loop = ev_loop_new();
	if (!d.loop)
		fatalx("out of memory");
	/* before the HTTP threads start: they inherit the blocked signals, so
	 * SIGTERM reaches the loop's signalfd and not a pool thread */
	daemon_signals(&d, d.loop, &(struct daemon_hooks){.reload = reload, .drain = drain});
	ev_timer_init(&retire_timer, on_retire, NULL);
	/* kept for the process: a SIGHUP that changes only tls.* frees c */
	char *conninfo = strdup(c->db_conninfo), *origin = strdup(c->origin);
	if (!conninfo || !origin)
		fatalx("out of memory");
	api_init(conninfo);
	struct session_conf sc = {
		.idle_ms = c->session_idle,
		.lifetime_ms = c->session_lifetime,
		/* over HTTPS the cookie is Secure whatever the setting: a browser
		 * then never sends it in clear */
		.cookie_secure = c->cookie_secure || tls_on,
		.origin = origin,
		.address_failures = (unsigned)c->address_failures,
		.address_window_ms = c->address_window,
		.address_block_ms = c->address_block,
		.account_failures = (unsigned)c->account_failures,
		.account_window_ms = c->account_window,
		.lock_ms = c->lock_time,
	};
	if (session_init(&sc, err, sizeof(err)) < 0)
		fatalx("sessions: %s", err);
	http_body_limit("/api/v1/subscribers/import", (size_t)c->import_max_bytes);
	http_token_lookup(token_lookup);
	uint16_t port;
	struct http_tls ht = {tf.cert, tf.key, tls_priorities(c->tls_min_version)};
	http = http_start(&c->listen, (unsigned)c->threads, has_token ? token : NULL,
			  tls_on ? &ht : NULL, api_handle, &port, err, sizeof(err));
	char served[512] = "";
	if (tls_on) {
		snprintf(served, sizeof(served), "%s (serial %s, expires %s)", tf.subject, tf.serial,
			 tf.not_after);
		tls_files_free(&tf); /* libmicrohttpd has its copy; ours is zeroed */
	}
	if (!http)
		fatalx("%s", err);
	/* an IPv6 address in brackets, as in a URL */
	const char *scheme = tls_on ? "https" : "http";
	bool v6 = strchr(c->listen.host, ':') != NULL;
	char where[96];
	snprintf(where, sizeof(where), "%s://%s%s%s:%u", scheme, v6 ? "[" : "", c->listen.host,
		 v6 ? "]" : "", port);
	log_info("provisioning API on %s/api/v1 (schema: %d migration%s applied now)", where, n,
		 n == 1 ? "" : "s");
	if (tls_on)
		log_info("TLS: serving %s, TLS %s and later only", served,
			 c->tls_min_version == TLS_MIN_1_3 ? "1.3" : "1.2");
	if (static_root()[0])
		log_info("web GUI at %s/ from %s", where, static_root());
	daemon_ready();
	ev_run(d.loop);

	http_stop(http); /* waits for the requests in flight */
	session_shutdown();
	free(conninfo);
	free(origin);
	ev_loop_free(d.loop);
	daemon_free(&d);
	return 0;
}
