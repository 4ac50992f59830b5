/*
 * store_driver: pgq (asynchronous PostgreSQL) and store (provisioning
 * cache) on a real event loop, driven line by line from store_test.sh.
 *
 *   store_driver [-m MAX_QUEUED] [-r RETRY_MAX_MS] CONNINFO
 *
 * Reads commands "ID VERB ARGS..." from stdin, one at a time, and answers
 * each with
 *
 *   begin ID
 *   ...lines...
 *   end ID
 *
 * while the loop keeps running between commands (so notifications and
 * reconnections happen as they would in a daemon). Verbs that wait for
 * the database (echo, pipeline, failing, flood, conntimeout) answer when
 * their queries have. The test polls state and lookups itself, so the
 * driver never sleeps. Exits at the end of stdin, or at once on exitnow
 * (with queries still queued).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"
#include "pgq.h"
#include "store.h"

#define TEST_CHANNEL "test \"chan\""

struct drv {
	struct ev_loop *loop;
	struct pgq *q;
	struct store *s;
	int ups, downs, changes;
	char why[512];

	char in[65536];
	size_t inlen;
	bool eof;
	char id[32];
	bool busy;

	/* echo, pipeline, failing, flood */
	long expect, got, failed, disorder;
	uint64_t t0;

	/* conntimeout */
	struct pgq *q2;
	int lsock;
};

static struct drv D;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void next_command(void);

static void finish(void)
{
	out("end %s", D.id);
	D.busy = false;
	next_command();
}

/* ---- pgq hooks ------------------------------------------------------------ */

static void on_up(void *ctx)
{
	D.ups++;
	if (D.s)
		store_pgq_up(D.s);
}

static void on_down(void *ctx, const char *why)
{
	D.downs++;
	snprintf(D.why, sizeof D.why, "%s", why);
}

static void on_notify(void *ctx, const char *channel, const char *payload)
{
	if (strcmp(channel, TEST_CHANNEL) == 0)
		out("notify %s", payload);
	else if (D.s)
		store_pgq_notify(D.s, channel, payload);
}

static void on_changed(void *ctx, const char *table, int64_t id)
{
	D.changes++;
}

static void on_other(void *ctx, const char *table, const char *op, int64_t id, int64_t owner,
		     const char *payload)
{
	out("other %s %s %" PRId64 " %" PRId64, table, op, id, owner);
}

/* ---- query verbs ------------------------------------------------------------ */

static void on_echo(void *arg, const PGresult *res, const char *err)
{
	if (err)
		out("error %s", err);
	else if (PQgetisnull(res, 0, 0))
		out("result NULL");
	else
		out("result %s", PQgetvalue(res, 0, 0));
	if (--D.expect == 0)
		finish();
}

static void on_pipelined(void *arg, const PGresult *res, const char *err)
{
	long want = (long)(intptr_t)arg;
	if (err) {
		D.failed++;
	} else if (atol(PQgetvalue(res, 0, 0)) != want || want != D.got) {
		D.disorder++;
	}
	D.got++;
	if (D.got == D.expect) {
		uint64_t us = now_us() - D.t0;
		out("pipelined %ld failed %ld disorder %ld", D.got, D.failed, D.disorder);
		out("# %ld queries in %.1f ms: %.0f queries/s", D.got, us / 1000.0,
		    us ? D.got * 1e6 / (double)us : 0.0);
		finish();
	}
}

static void on_flood(void *arg, const PGresult *res, const char *err)
{
	if (err)
		D.failed++;
	if (++D.got == D.expect) {
		out("completed %ld failed %ld", D.got, D.failed);
		finish();
	}
}

/* pgq_free may not run inside pgq's own hook: the hook sets a flag that a
 * timer polls. */
static struct ev_timer q2_timer;
static bool q2_seen;

static void q2_down(void *ctx, const char *why)
{
	out("down %s after %.0f ms", why, (now_us() - D.t0) / 1000.0);
	q2_seen = true;
}

static void q2_poll(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	if (!q2_seen) {
		ev_timer_start(loop, t, 10);
		return;
	}
	pgq_free(D.q2);
	D.q2 = NULL;
	close(D.lsock);
	finish();
}

/* A second pgq against a listener that never accepts: the TCP handshake
 * completes in the backlog, the server's greeting never comes, and only
 * pgq's own connect timeout ends the attempt. */
static void cmd_conntimeout(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sin;
	D.lsock = socket(AF_INET, SOCK_STREAM, 0);
	if (D.lsock < 0 || bind(D.lsock, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    listen(D.lsock, 4) < 0 || getsockname(D.lsock, (struct sockaddr *)&sin, &sl) < 0) {
		out("error socket: %s", strerror(errno));
		finish();
		return;
	}
	char conninfo[128];
	snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%u dbname=x user=x sslmode=disable",
		 ntohs(sin.sin_port));
	struct pgq_opts o = {.conninfo = conninfo, .connect_timeout_ms = 300, .retry_min_ms = 10000};
	struct pgq_hooks h = {.down = q2_down};
	q2_seen = false;
	D.t0 = now_us();
	D.q2 = pgq_new(D.loop, &o, &h);
	ev_timer_init(&q2_timer, q2_poll, NULL);
	ev_timer_start(D.loop, &q2_timer, 10);
}

/* ---- store verbs --------------------------------------------------------------- */

static void print_sub(const struct store_subscriber *sub)
{
	if (!sub) {
		out("none");
		return;
	}
	out("sub %" PRId64 " %s domain=%" PRId64 " auth=%d enabled=%d display=%s acl=%zu group=%" PRId64,
	    sub->id, sub->user, sub->domain_id, (int)sub->auth, sub->enabled, sub->display_name,
	    (size_t)sub->nacl, sub->marshal_group_id);
}

/* "calling=12,13 called=14", "-" for an empty side; the pointers must be
 * NULL exactly when a side is empty (nothing allocated for none). */
static void print_hops(const struct store_subscriber *sub)
{
	char c[512] = "", t[512] = "";
	size_t n = 0;
	if (!sub) {
		out("none");
		return;
	}
	for (size_t i = 0; i < sub->ncalling_hops; i++)
		n += (size_t)snprintf(c + n, sizeof c - n, "%s%" PRId64, i ? "," : "", sub->calling_hops[i]);
	n = 0;
	for (size_t i = 0; i < sub->ncalled_hops; i++)
		n += (size_t)snprintf(t + n, sizeof t - n, "%s%" PRId64, i ? "," : "", sub->called_hops[i]);
	if ((sub->calling_hops == NULL) != (sub->ncalling_hops == 0) ||
	    (sub->called_hops == NULL) != (sub->ncalled_hops == 0)) {
		out("error pointer and count disagree");
		return;
	}
	out("calling=%s called=%s", c[0] ? c : "-", t[0] ? t : "-");
}

static bool parse_addr(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

static void store_verb(char **argv, int argc)
{
	const char *v = argv[0];
	if (!D.s) {
		out("error no store");
	} else if (strcmp(v, "aor") == 0 && argc == 3) {
		print_sub(store_subscriber_by_aor(D.s, sip_str_make(argv[1], strlen(argv[1])),
						  sip_str_make(argv[2], strlen(argv[2]))));
	} else if (strcmp(v, "hops") == 0 && argc == 3) {
		print_hops(store_subscriber_by_aor(D.s, sip_str_make(argv[1], strlen(argv[1])),
						   sip_str_make(argv[2], strlen(argv[2]))));
	} else if (strcmp(v, "onfail") == 0 && argc == 2) {
		const struct store_group *g = store_group_by_name(D.s, argv[1]);
		out("%s", !g ? "none" : g->on_failure == STORE_ON_FAILURE_SKIP ? "skip" : "fail");
	} else if (strcmp(v, "did") == 0 && argc == 2) {
		print_sub(store_subscriber_by_did(D.s, sip_str_make(argv[1], strlen(argv[1]))));
	} else if (strcmp(v, "id") == 0 && argc == 2) {
		print_sub(store_subscriber_by_id(D.s, strtoll(argv[1], NULL, 10)));
	} else if (strcmp(v, "domain") == 0 && argc == 2) {
		const struct store_domain *d =
			store_domain_by_name(D.s, sip_str_make(argv[1], strlen(argv[1])));
		if (d)
			out("domain %" PRId64 " %s realm=%s enabled=%d", d->id, d->name, d->realm,
			    d->enabled);
		else
			out("none");
	} else if (strcmp(v, "acl") == 0 && argc == 3) {
		struct sockaddr_storage ss;
		const struct store_subscriber *sub =
			store_subscriber_by_id(D.s, strtoll(argv[1], NULL, 10));
		if (!sub || !parse_addr(argv[2], &ss))
			out("error");
		else
			out("%s", store_acl_allows(sub, (struct sockaddr *)&ss) ? "allow" : "deny");
	} else if (strcmp(v, "ha1") == 0 && argc == 3) {
		const struct store_subscriber *sub =
			store_subscriber_by_id(D.s, strtoll(argv[1], NULL, 10));
		enum digest_alg alg;
		if (!sub || digest_alg_parse(sip_str_make(argv[2], strlen(argv[2])), &alg) < 0) {
			out("error");
		} else {
			const char *h = store_subscriber_ha1(sub, digest_alg_base(alg));
			out("%s", h ? h : "unset");
		}
	} else if (strcmp(v, "route") == 0 && argc == 3) {
		char buf[256];
		long n = store_dial_plan_route(D.s, argv[1], sip_str_make(argv[2], strlen(argv[2])),
					       buf, sizeof buf);
		if (n > 0)
			out("route %s", buf);
		else
			out("route %ld", n);
	} else if (strcmp(v, "group") == 0 && argc == 2) {
		const struct store_group *g = store_group_by_name(D.s, argv[1]);
		if (!g) {
			out("none");
			return;
		}
		const struct store_server *sv[16];
		size_t n = store_group_servers(D.s, g->id, sv, 16);
		out("group %" PRId64 " %s %s servers=%zu", g->id, g->name, g->kind, n);
		for (size_t i = 0; i < n; i++)
			out("server %s %u %s %u %u", sv[i]->host, sv[i]->port, sv[i]->transport,
			    sv[i]->priority, sv[i]->weight);
	} else if (strcmp(v, "trusted") == 0 && argc == 3) {
		struct sockaddr_storage ss;
		if (!parse_addr(argv[1], &ss))
			out("error");
		else
			out("%s", store_is_server_addr(D.s, (struct sockaddr *)&ss,
						       (uint16_t)atoi(argv[2])) ? "trusted" : "untrusted");
	} else if (strcmp(v, "sstats") == 0) {
		struct store_stats st;
		store_get_stats(D.s, &st);
		out("domains=%zu subscribers=%zu aliases=%zu dids=%zu servers=%zu groups=%zu "
		    "entries=%zu full_loads=%" PRIu64 " row_reloads=%" PRIu64 " notifications=%" PRIu64
		    " bad=%" PRIu64,
		    st.domains, st.subscribers, st.aliases, st.dids, st.servers, st.groups,
		    st.dial_plan_entries, st.full_loads, st.row_reloads, st.notifications,
		    st.bad_notifications);
		out("# bytes=%zu per_subscriber=%.0f", st.bytes,
		    st.subscribers ? (double)st.bytes / st.subscribers : 0.0);
	} else {
		out("error unknown verb %s", v);
	}
}

/* ---- commands ------------------------------------------------------------------- */

static void run_command(char *line)
{
	char *argv[16];
	int argc = 0;
	for (char *save = NULL, *t = strtok_r(line, " ", &save); t && argc < 16;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	if (argc < 2)
		return;
	snprintf(D.id, sizeof D.id, "%s", argv[0]);
	out("begin %s", D.id);
	D.busy = true;
	char **a = argv + 1;
	argc--;
	const char *v = a[0];

	if (strcmp(v, "state") == 0) {
		struct pgq_stats st;
		pgq_get_stats(D.q, &st);
		out("connected=%d ups=%d downs=%d ready=%d changes=%d", pgq_connected(D.q), D.ups,
		    D.downs, D.s ? store_ready(D.s) : 0, D.changes);
		out("# why=%s", D.why);
		out("# queries=%" PRIu64 " failed=%" PRIu64 " notifications=%" PRIu64
		    " connects=%" PRIu64 " disconnects=%" PRIu64 " queued=%zu",
		    st.queries, st.failed, st.notifications, st.connects, st.disconnects, st.queued);
	} else if (strcmp(v, "echo") == 0 && argc <= 2) {
		/* No argument: the empty string; "-null": SQL NULL. */
		const char *p[1] = {argc == 1 ? "" : strcmp(a[1], "-null") == 0 ? NULL : a[1]};
		D.expect = 1;
		if (pgq_exec(D.q, "drv_echo", 1, p, on_echo, NULL) == 0)
			return;
		out("refused");
	} else if (strcmp(v, "sleep") == 0 && argc == 2) {
		/* A query still running when the test breaks the connection,
		 * and one behind it. */
		const char *p[1] = {a[1]}, *x[1] = {"after"};
		D.expect = 2;
		if (pgq_exec(D.q, "drv_sleep", 1, p, on_echo, NULL) == 0 &&
		    pgq_exec(D.q, "drv_echo", 1, x, on_echo, NULL) == 0)
			return;
		out("refused");
	} else if (strcmp(v, "exitnow") == 0) {
		/* Leave the loop with queries queued: pgq_free fails them. */
		const char *x[1] = {"late"};
		D.expect = 0;
		for (int i = 0; i < 3; i++)
			D.expect += pgq_exec(D.q, "drv_echo", 1, x, on_echo, NULL) == 0;
		ev_break(D.loop);
		return;
	} else if (strcmp(v, "failing") == 0) {
		/* A failing query between two good ones: each has its sync
		 * point, so the error stays with its own query. */
		const char *zero[1] = {"0"}, *x[1] = {"before"}, *y[1] = {"after"};
		D.expect = 3;
		if (pgq_exec(D.q, "drv_echo", 1, x, on_echo, NULL) == 0 &&
		    pgq_exec(D.q, "drv_div", 1, zero, on_echo, NULL) == 0 &&
		    pgq_exec(D.q, "drv_echo", 1, y, on_echo, NULL) == 0)
			return;
		out("refused");
	} else if (strcmp(v, "pipeline") == 0 && argc == 2) {
		D.expect = atol(a[1]);
		D.got = D.failed = D.disorder = 0;
		D.t0 = now_us();
		for (long i = 0; i < D.expect; i++) {
			char num[24];
			snprintf(num, sizeof num, "%ld", i);
			const char *p[1] = {num};
			if (pgq_exec(D.q, "drv_echo", 1, p, on_pipelined, (void *)(intptr_t)i) < 0) {
				out("refused at %ld", i);
				D.expect = i;
				break;
			}
		}
		if (D.expect > 0)
			return;
	} else if (strcmp(v, "flood") == 0) {
		/* Queue until refused: the bound is max_queued. */
		const char *p[1] = {"x"};
		D.expect = D.got = D.failed = 0;
		while (D.expect < 10000000 &&
		       pgq_exec(D.q, "drv_echo", 1, p, on_flood, NULL) == 0)
			D.expect++;
		struct pgq_stats st;
		pgq_get_stats(D.q, &st);
		out("accepted %ld queued %zu", D.expect, st.queued);
		if (D.expect > 0)
			return;
	} else if (strcmp(v, "conntimeout") == 0) {
		cmd_conntimeout();
		return;
	} else {
		store_verb(a, argc);
	}
	finish();
}

static void next_command(void)
{
	while (!D.busy) {
		char *nl = memchr(D.in, '\n', D.inlen);
		if (!nl) {
			if (D.eof)
				ev_break(D.loop);
			return;
		}
		*nl = '\0';
		char line[sizeof D.in];
		size_t n = (size_t)(nl - D.in);
		memcpy(line, D.in, n + 1);
		memmove(D.in, nl + 1, D.inlen - n - 1);
		D.inlen -= n + 1;
		run_command(line);
	}
}

static void on_stdin(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	ssize_t n = read(fd, D.in + D.inlen, sizeof D.in - 1 - D.inlen);
	if (n <= 0) {
		D.eof = true;
		ev_io_remove(loop, fd);
	} else {
		D.inlen += (size_t)n;
	}
	next_command();
}

int main(int argc, char **argv)
{
	struct pgq_opts o = {.retry_min_ms = 50, .retry_max_ms = 400, .connect_timeout_ms = 3000};
	bool with_store = true;
	int c;

	while ((c = getopt(argc, argv, "m:r:n")) != -1) {
		switch (c) {
		case 'm':
			o.max_queued = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o.retry_max_ms = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			with_store = false;
			break;
		default:
			fprintf(stderr, "usage: store_driver [-m MAX_QUEUED] [-r RETRY_MAX_MS] [-n] CONNINFO\n");
			return 1;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: store_driver [-m MAX_QUEUED] [-r RETRY_MAX_MS] [-n] CONNINFO\n");
		return 1;
	}
	log_init("store_driver", LOG_TO_STDERR, getenv("DRIVER_DEBUG") ? LOG_DEBUG : LOG_INFO);
	static const char *const channels[] = {"vocal_changes", "vocal_bindings", TEST_CHANNEL, NULL};
	o.conninfo = argv[optind];
	o.listen = channels;
	struct pgq_hooks h = {.up = on_up, .down = on_down, .notify = on_notify};

	D.loop = ev_loop_new();
	D.q = pgq_new(D.loop, &o, &h);
	if (!D.loop || !D.q)
		return 1;
	if (pgq_prepare(D.q, "drv_echo", "SELECT $1::text", 1) < 0 ||
	    pgq_prepare(D.q, "drv_div", "SELECT (1 / $1::int)::text", 1) < 0 ||
	    pgq_prepare(D.q, "drv_sleep", "SELECT 'slept ' || pg_sleep($1::float8)::text", 1) < 0 ||
	    pgq_prepare(D.q, "drv_echo", "SELECT 2", 0) == 0) {
		fprintf(stderr, "store_driver: pgq_prepare\n");
		return 1;
	}
	if (with_store) {
		struct store_hooks sh = {.changed = on_changed, .other = on_other};
		D.s = store_new(D.loop, D.q, &sh);
		if (!D.s)
			return 1;
	}
	ev_io_add(D.loop, 0, EV_READ, on_stdin, NULL);
	ev_run(D.loop);
	/* pgq first: queries still queued run their callbacks (into the
	 * store) inside pgq_free. */
	pgq_free(D.q);
	store_free(D.s);
	ev_loop_free(D.loop);
	return 0;
}
