/*
 * featured: the feature server. A thin main over feature/ (see
 * featured.h): configuration, sockets, the database link, signals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "ev.h"
#include "feature/featured.h"
#include "log.h"
#include "pgq.h"
#include "sip/transport.h"
#include "sipd.h"
#include "store.h"

static struct daemon d = {
	.name = "featured",
	.default_conf = "/etc/vocal/featured.conf",
	.table = featured_keys,
	.conf_size = sizeof(struct featured_conf),
};

static struct featured f;
static struct sip_tp *tp;
static struct sipd_db db;

static void on_message(void *ctx, const char *buf, size_t len, const struct sip_peer *from)
{
	(void)ctx;
	sip_proxy_input(f.proxy, buf, len, from);
}

static int send_hook(void *ctx, const struct sip_peer *to, const char *buf, size_t len)
{
	(void)ctx;
	return sip_tp_send(tp, to, buf, len);
}

static void drain(void *arg)
{
	(void)arg;
	f.draining = true;
	sipd_proxy_drain(d.loop, f.proxy);
}

static int reload(void *new_conf, const void *old_conf, void *arg)
{
	(void)arg;
	const struct featured_conf *n = new_conf, *o = old_conf;
	if (n->listen.n != o->listen.n || n->transports.n != o->transports.n ||
	    strcmp(n->advertise, o->advertise) != 0 || strcmp(n->db_conninfo, o->db_conninfo) != 0) {
		log_warnx("reload: listen, transports, advertise and db.conninfo need a restart");
		return -1;
	}
	return featured_configure(&f, n);
}

int main(int argc, char **argv)
{
	switch (daemon_start(&d, argc, argv)) {
	case -1: return 1;
	case 1: return 0;
	}
	const struct featured_conf *c = d.conf;
	struct ev_loop *loop = ev_loop_new();
	char err[512];
	if (!loop)
		fatalx("out of memory");
	d.loop = loop;
	f.loop = loop;
	if (featured_configure(&f, c) < 0)
		fatalx("configuration not usable (see above)");
	tp = sip_tp_new(loop, &(struct sip_tp_opts){0}, on_message, NULL, err, sizeof(err));
	if (!tp)
		fatalx("transport: %s", err);
	unsigned mask = 0;
	for (size_t i = 0; i < c->transports.n; i++)
		mask |= 1u << (c->transports.v[i].idx == FEATURED_TP_TCP ? SIP_TP_TCP : SIP_TP_UDP);
	snprintf(f.host, sizeof(f.host), "%s", c->advertise);
	if (sipd_listen(tp, &c->listen, mask, f.port, f.host, sizeof(f.host), err, sizeof(err)) < 0)
		fatalx("%s", err);
	struct store_hooks sh = {.ctx = &f, .changed = featured_db_changed};
	db.up = featured_db_up;
	db.ctx = &f;
	if (sipd_db_open(&db, loop, c->db_conninfo, false, &sh) < 0)
		fatalx("out of memory");
	f.store = db.store;
	f.q = db.q;
	if (featured_db_prepare(&f) < 0)
		fatalx("out of memory");

	struct sip_proxy_opts po = {
		.host = f.host, .record_route = false, .recurse_3xx = true,
		.timer_c_ms = (uint32_t)c->timer_c, .supported = "100rel,timer,replaces",
		.server_name = c->server_name,
	};
	memcpy(po.port, f.port, sizeof(po.port));
	struct sip_proxy_hooks ph = {
		.ctx = &f, .send = send_hook, .route = featured_route, .outbound = featured_outbound,
		.admit = featured_admit, .final = featured_final, .failed = featured_failed,
		.recursion = featured_recursion,
	};
	f.proxy = sip_proxy_new(loop, &po, &ph);
	if (!f.proxy)
		fatalx("out of memory");
	sip_tp_on_error(tp, sipd_proxy_transport_failed, f.proxy);
	sipd_trim_start(loop);
	daemon_signals(&d, loop, &(struct daemon_hooks){.reload = reload, .drain = drain});
	log_info("feature server on %s udp=%u tcp=%u, redirect server %s", f.host, f.port[SIP_TP_UDP],
		 f.port[SIP_TP_TCP], f.redirect_uri);
	daemon_ready();
	ev_run(loop);

	const struct featured_stats *s = &f.stats;
	log_info("calls=%llu attempts=%llu forwarded=%llu rejected=%llu redirected=%llu anonymized=%llu "
		 "call-returns=%llu bad-hop=%llu untrusted=%llu overload-503=%llu scripts=%llu "
		 "script-errors=%llu run-errors=%llu mail-sent=%llu mail-failed=%llu mail-dropped=%llu "
		 "mail-refused=%llu mail-off=%llu",
		 (unsigned long long)s->calls, (unsigned long long)s->attempts,
		 (unsigned long long)s->forwarded, (unsigned long long)s->rejected,
		 (unsigned long long)s->redirected, (unsigned long long)s->anonymized,
		 (unsigned long long)s->call_returns, (unsigned long long)s->refused_hop,
		 (unsigned long long)s->refused_untrusted, (unsigned long long)s->overload_503,
		 (unsigned long long)s->scripts_compiled, (unsigned long long)s->script_errors,
		 (unsigned long long)s->run_errors, (unsigned long long)s->mail.sent,
		 (unsigned long long)s->mail.failed, (unsigned long long)s->mail.dropped,
		 (unsigned long long)s->mail.refused, (unsigned long long)s->mail.off);
	sip_proxy_free(f.proxy);
	featured_db_close(&f);
	sipd_db_close(&db);
	featured_unconfigure(&f);
	sip_tp_free(tp);
	ev_loop_free(loop);
	daemon_free(&d);
	return 0;
}
