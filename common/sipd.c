#include "sipd.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "log.h"
#include "pgq.h"
#include "sip/proxy.h"
#include "sip/transport.h"
#include "sip/txn.h"
#include "store.h"

int sipd_listen(struct sip_tp *tp, const struct config_list *addrs, unsigned tp_mask,
		uint16_t port[SIP_TP_COUNT], char *host, size_t hostcap, char *err, size_t errlen)
{
	if (!addrs->n) {
		snprintf(err, errlen, "no listen address");
		return -1;
	}
	for (size_t i = 0; i < addrs->n; i++) {
		const struct config_addr *a = &addrs->v[i].addr;
		if (a->family == AF_UNSPEC) {
			snprintf(err, errlen, "listen %s: a numeric address is needed", a->host);
			return -1;
		}
		char hp[300];
		bool v6 = a->family == AF_INET6;
		snprintf(hp, sizeof(hp), "%s%s%s:%u", v6 ? "[" : "", a->host, v6 ? "]" : "", a->port);
		for (int t = 0; t < SIP_TP_COUNT; t++) {
			if (!(tp_mask & (1u << t)))
				continue;
			char why[256];
			int l = sip_tp_listen(tp, (enum sip_transport)t, hp, why, sizeof(why));
			if (l < 0) {
				snprintf(err, errlen, "listen %s %s: %s", sip_transport_name((enum sip_transport)t),
					 hp, why);
				return -1;
			}
			port[t] = sip_tp_local_port(tp, l);
		}
		if (i == 0 && !host[0])
			snprintf(host, hostcap, "%s%s%s", v6 ? "[" : "", a->host, v6 ? "]" : "");
	}
	return 0;
}

static void db_up(void *ctx)
{
	struct sipd_db *db = ctx;
	log_info("database connected");
	store_pgq_up(db->store);
	if (db->up)
		db->up(db->ctx);
}

static void db_down(void *ctx, const char *why)
{
	(void)ctx;
	log_warnx("database unavailable (%s): serving from memory, reconnecting", why);
}

static void db_notify(void *ctx, const char *channel, const char *payload)
{
	struct sipd_db *db = ctx;
	store_pgq_notify(db->store, channel, payload);
}

int sipd_db_open(struct sipd_db *db, struct ev_loop *loop, const char *conninfo, bool bindings,
		 const struct store_hooks *hooks)
{
	static const char *const changes[] = {"vocal_changes", NULL};
	static const char *const with_bindings[] = {"vocal_changes", "vocal_bindings", NULL};
	struct pgq_opts o = {.conninfo = conninfo, .listen = bindings ? with_bindings : changes};
	struct pgq_hooks h = {.ctx = db, .up = db_up, .down = db_down, .notify = db_notify};
	db->q = pgq_new(loop, &o, &h);
	if (!db->q)
		return -1;
	db->store = store_new(loop, db->q, hooks);
	if (!db->store) {
		pgq_free(db->q);
		db->q = NULL;
		return -1;
	}
	return 0;
}

void sipd_db_close(struct sipd_db *db)
{
	/* the queue first: its failing callbacks may still use the store */
	pgq_free(db->q);
	store_free(db->store);
	db->q = NULL;
	db->store = NULL;
}

struct drain {
	struct ev_timer timer;
	bool (*busy)(void *ctx);
	void *ctx;
	uint64_t deadline;
};

static void drain_tick(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct drain *d = arg;
	if (!d->busy(d->ctx) || ev_now(loop) >= d->deadline) {
		ev_break(loop);
		free(d);
		return;
	}
	ev_timer_start(loop, t, 100);
}

void sipd_drain(struct ev_loop *loop, bool (*busy)(void *ctx), void *ctx, uint64_t max_ms)
{
	struct drain *d = calloc(1, sizeof(*d));
	if (!d) {
		ev_break(loop);
		return;
	}
	d->busy = busy;
	d->ctx = ctx;
	d->deadline = ev_now(loop) + max_ms;
	ev_timer_init(&d->timer, drain_tick, d);
	ev_timer_start(loop, &d->timer, 0);
}

void sipd_proxy_transport_failed(void *proxy, const struct sip_peer *peer)
{
	sip_txn_transport_failed(sip_proxy_txn_layer(proxy), peer);
}

static bool proxy_busy(void *proxy)
{
	struct sip_proxy_stats ps;
	sip_proxy_get_stats(proxy, &ps);
	return ps.unanswered > 0;
}

void sipd_proxy_drain(struct ev_loop *loop, struct sip_proxy *proxy)
{
	log_info("draining: %s", "new requests get 503; waiting for those in progress (at most 32 s)");
	sipd_drain(loop, proxy_busy, proxy, 32000);
}

static struct ev_timer trim_timer;

static void trim(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)arg;
	malloc_trim(0);
	ev_timer_start(loop, t, 30000);
}

void sipd_trim_start(struct ev_loop *loop)
{
	ev_timer_init(&trim_timer, trim, NULL);
	ev_timer_start(loop, &trim_timer, 30000);
}
