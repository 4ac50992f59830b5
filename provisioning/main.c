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
#include "provisioning/tokens.h"

static struct daemon d = {
	.name = "provd",
	.default_conf = "/etc/vocal/provd.conf",
	.table = provd_keys,
	.conf_size = sizeof(struct provd_conf),
};

static int reload(void *new_conf, const void *old_conf, void *arg)
{
	(void)new_conf;
	(void)old_conf;
	(void)arg;
	/* every key is read once at start */
	log_warnx("reload: provd's settings need a restart");
	return -1;
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
	api_init(c->db_conninfo);
	struct session_conf sc = {
		.idle_ms = c->session_idle,
		.lifetime_ms = c->session_lifetime,
		.cookie_secure = c->cookie_secure,
		.origin = c->origin,
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
	struct http_server *http = http_start(&c->listen, (unsigned)c->threads,
					      has_token ? token : NULL, api_handle, &port, err, sizeof(err));
	if (!http)
		fatalx("%s", err);
	log_info("provisioning API on %s:%u (schema: %d migration%s applied now)", c->listen.host, port,
		 n, n == 1 ? "" : "s");
	if (static_root()[0])
		log_info("web GUI at http://%s:%u/ from %s", c->listen.host, port, static_root());
	daemon_ready();
	ev_run(d.loop);

	http_stop(http); /* waits for the requests in flight */
	session_shutdown();
	ev_loop_free(d.loop);
	daemon_free(&d);
	return 0;
}
