/*
 * marshald: the edge proxy. A thin main over marshal/ (see marshal.h):
 * configuration, sockets, the database link, signals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "ev.h"
#include "log.h"
#include "guard.h"
#include "marshal/marshal.h"
#include "sip/transport.h"
#include "sipd.h"
#include "store.h"

static struct daemon d = {
	.name = "marshald",
	.default_conf = "/etc/vocal/marshald.conf",
	.table = marshal_keys,
	.conf_size = sizeof(struct marshal_conf),
};

static struct marshal m;
static struct sip_tp *tp;
static struct sipd_db db;

static void on_message(void *ctx, const char *buf, size_t len, const struct sip_peer *from)
{
	(void)ctx;
	if (marshal_accept_source(&m, from))
		sip_proxy_input(m.proxy, buf, len, from);
}

static int send_hook(void *ctx, const struct sip_peer *to, const char *buf, size_t len)
{
	(void)ctx;
	return sip_tp_send(tp, to, buf, len);
}

static void drain(void *arg)
{
	(void)arg;
	m.draining = true;
	sipd_proxy_drain(d.loop, m.proxy);
}

static int reload(void *new_conf, const void *old_conf, void *arg)
{
	(void)arg;
	const struct marshal_conf *n = new_conf, *o = old_conf;
	if (n->kind != o->kind || n->listen.n != o->listen.n || n->transports.n != o->transports.n ||
	    strcmp(n->advertise, o->advertise) != 0 || strcmp(n->db_conninfo, o->db_conninfo) != 0) {
		log_warnx("reload: kind, listen, transports, advertise and db.conninfo need a restart");
		return -1;
	}
	if (marshal_configure(&m, n) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	switch (daemon_start(&d, argc, argv)) {
	case -1: return 1;
	case 1: return 0;
	}
	const struct marshal_conf *c = d.conf;
	struct ev_loop *loop = ev_loop_new();
	char err[512];
	if (!loop)
		fatalx("out of memory");
	d.loop = loop;
	m.loop = loop;
	tp = sip_tp_new(loop, &(struct sip_tp_opts){0}, on_message, NULL, err, sizeof(err));
	if (!tp)
		fatalx("transport: %s", err);
	unsigned mask = 0;
	for (size_t i = 0; i < c->transports.n; i++)
		mask |= 1u << (c->transports.v[i].idx == MARSHAL_TP_TCP ? SIP_TP_TCP : SIP_TP_UDP);
	snprintf(m.host, sizeof(m.host), "%s", c->advertise);
	if (sipd_listen(tp, &c->listen, mask, m.port, m.host, sizeof(m.host), err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (marshal_configure(&m, c) < 0)
		fatalx("configuration not usable (see above)");
	if (sipd_db_open(&db, loop, c->db_conninfo, false, NULL) < 0)
		fatalx("out of memory");
	m.store = db.store;

	struct sip_proxy_opts po = {
		.host = m.host, .record_route = true, .recurse_3xx = true, .route_all = true,
		.timer_c_ms = (uint32_t)c->timer_c, .supported = "path,outbound,100rel,timer,replaces",
		.server_name = c->server_name,
	};
	memcpy(po.port, m.port, sizeof(po.port));
	struct sip_proxy_hooks ph = {
		.ctx = &m, .send = send_hook, .route = marshal_route, .outbound = marshal_outbound,
		.admit = marshal_admit, .recursion = marshal_recursion,
	};
	m.proxy = sip_proxy_new(loop, &po, &ph);
	if (!m.proxy)
		fatalx("out of memory");
	sip_tp_on_error(tp, sipd_proxy_transport_failed, m.proxy);
	sipd_trim_start(loop);
	daemon_signals(&d, loop, &(struct daemon_hooks){.reload = reload, .drain = drain});
	log_info("%s marshal on %s udp=%u tcp=%u, redirect server %s", c->kind == MARSHAL_UA ? "ua" : "gateway",
		 m.host, m.port[SIP_TP_UDP], m.port[SIP_TP_TCP], m.redirect_uri);
	daemon_ready();
	ev_run(loop);

	const struct marshal_stats *s = &m.stats;
	log_info("registers=%llu calls=%llu auth-ok=%llu challenged=%llu auth-failed=%llu "
		 "scanners=%llu banned-drops=%llu overload-503=%llu",
		 (unsigned long long)s->registers, (unsigned long long)s->calls,
		 (unsigned long long)s->auth_ok, (unsigned long long)s->auth_challenged,
		 (unsigned long long)s->auth_failed, (unsigned long long)s->scanners_dropped,
		 (unsigned long long)s->banned_dropped, (unsigned long long)s->overload_503);
	sip_proxy_free(m.proxy);
	sipd_db_close(&db);
	marshal_unconfigure(&m);
	sip_tp_free(tp);
	ev_loop_free(loop);
	daemon_free(&d);
	return 0;
}
