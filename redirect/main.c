/*
 * redirectd: registrar, location service and router (ARCHITECTURE.md).
 * A user agent server on the transaction layer: REGISTER is answered by
 * the registrar (written through to PostgreSQL), everything else by the
 * router with a 302, 404 or 480. It never proxies, and keeps no state per
 * call.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidr.h"
#include "feature_hop.h"
#include "daemon.h"
#include "ev.h"
#include "log.h"
#include "pgq.h"
#include "redirect/conf.h"
#include "redirect/location.h"
#include "redirect/persist.h"
#include "redirect/registrar.h"
#include "redirect/router.h"
#include "sip/build.h"
#include "sip/transport.h"
#include "sip/txn.h"
#include "sipd.h"
#include "store.h"

static struct daemon d = {
	.name = "redirectd",
	.default_conf = "/etc/vocal/redirectd.conf",
	.table = redirect_keys,
	.conf_size = sizeof(struct redirect_conf),
};

static struct {
	const struct redirect_conf *conf;
	struct ev_loop *loop;
	struct sip_tp *tp;
	struct sip_txn_layer *txn;
	struct sipd_db db;
	struct location *loc;
	struct persist *persist;
	struct router router;
	struct registrar_config reg;
	struct cidr *clients;
	size_t nclients;
	uint64_t started;
	bool draining;
	unsigned pending_replies;        /* REGISTERs waiting for their writes */
	uint64_t registers, routed, refused;
} r;

static void on_message(void *ctx, const char *buf, size_t len, const struct sip_peer *from)
{
	(void)ctx;
	sip_txn_input(r.txn, buf, len, from);
}

static int send_hook(void *ctx, const struct sip_peer *to, const char *buf, size_t len)
{
	(void)ctx;
	return sip_tp_send(r.tp, to, buf, len);
}

static unsigned admit(void *ctx, struct sip_msg *req, const struct sip_peer *from, char *extra,
		      size_t cap)
{
	(void)ctx;
	(void)req;
	if (!cidr_list_match(r.clients, r.nclients, (const struct sockaddr *)&from->addr)) {
		r.refused++;
		return 403;
	}
	bool loading = !persist_loaded(r.persist) || !store_ready(r.db.store);
	if (r.draining || (loading && ev_now(r.loop) - r.started < r.conf->startup_grace)) {
		snprintf(extra, cap, "Retry-After: 1\r\n");
		return 503;
	}
	return 0;
}

/* The second via-parm of the request: the next one in the first Via
 * header, else the first of the next Via header (a via-parm's next stays
 * within its own header line, and proxies add their own line). */
static struct sip_via *second_via(struct sip_msg *req)
{
	struct sip_hdr *h = req->first[SIP_HDR_VIA];
	if (!h || sip_hdr_parse(req, h, NULL) < 0 || !h->v.via)
		return NULL;
	if (h->v.via->next)
		return h->v.via->next;
	for (h = h->next_same; h; h = h->next_same)
		if (sip_hdr_parse(req, h, NULL) == 0 && h->v.via)
			return h->v.via;
	return NULL;
}

/* Where the REGISTER came from, as the marshal saw it: its second Via,
 * with received and rport filled in by the marshal (RFC 3581). */
static void received_of(struct sip_msg *req, char *out, size_t cap)
{
	struct sip_via *v = second_via(req);
	out[0] = 0;
	if (!v)
		return;
	sip_str host = v->received.len ? v->received : v->host;
	unsigned port = v->rport_value ? v->rport_value : v->has_port ? v->port : 5060;
	snprintf(out, cap, "%.*s:%.*s:%u", (int)v->transport.len, v->transport.s, (int)host.len, host.s,
		 port);
	for (char *c = out; *c && *c != ':'; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
}

struct pending_reply {
	struct sip_txn *st;
	unsigned status;
	const char *reason;
	char extra[REGISTRAR_EXTRA_SIZE];
};

static void reply_when_written(void *arg)
{
	struct pending_reply *pr = arg;
	r.pending_replies--;
	sip_txn_reply(pr->st, pr->status, pr->reason, pr->extra);
	free(pr);
}

static void do_register(struct sip_txn *st, struct sip_msg *req)
{
	r.registers++;
	struct sip_addr *to = sip_msg_to(req, NULL);
	const struct store_domain *dom = to ? store_domain_by_name(r.db.store, to->uri.host) : NULL;
	if (!dom || !dom->enabled) {
		sip_txn_reply(st, 404, "Domain Not Served Here", NULL);
		return;
	}
	const struct store_subscriber *sub = store_subscriber_by_aor(r.db.store, to->uri.user, to->uri.host);
	if (!sub || sub->domain_id != dom->id) {
		sip_txn_reply(st, 404, NULL, NULL);
		return;
	}
	struct pending_reply *pr = malloc(sizeof(*pr));
	if (!pr) {
		sip_txn_reply(st, 500, NULL, NULL);
		return;
	}
	char received[300];
	received_of(req, received, sizeof(received));
	struct registrar_result res;
	persist_begin(r.persist);
	registrar_register(r.loc, &r.reg, sub->id, req, sip_str_make(received, strlen(received)),
			   pr->extra, sizeof(pr->extra), &res);
	if (res.status >= 300)
		log_call(LOG_INFO, sip_msg_call_id(req), "REGISTER %s@%s: %u %s", sub->user, dom->name,
			 res.status, res.detail);
	r.pending_replies++;
	pr->st = st;
	pr->status = res.status;
	pr->reason = res.reason;
	/* the 200 goes out once the change is in the database (or known
	 * not to be: then it is kept for later and answered now) */
	persist_end(r.persist, reply_when_written, pr);
}

static void on_request(void *ctx, struct sip_txn *st, struct sip_msg *req)
{
	(void)ctx;
	if (req->method_id == SIP_METHOD_CANCEL) {
		/* every INVITE was answered at once: nothing left to cancel */
		sip_txn_reply(st, sip_txn_cancelled(r.txn, st) ? 200 : 481, NULL, NULL);
		return;
	}
	if (req->method_id == SIP_METHOD_REGISTER) {
		do_register(st, req);
		return;
	}
	r.routed++;
	char extra[8192];
	struct route_answer a;
	router_route(&r.router, req, extra, sizeof(extra), &a);
	sip_txn_reply(st, a.status, a.reason, extra[0] ? extra : NULL);
}

static void on_ack(void *ctx, struct sip_msg *ack, const struct sip_peer *from)
{
	(void)ctx;
	(void)ack;
	(void)from; /* we never send a 2xx to an INVITE: nothing to do */
}

static void on_response(void *ctx, struct sip_txn *ct, struct sip_msg *resp)
{
	(void)ctx;
	(void)ct;
	(void)resp;
}

static void on_terminated(void *ctx, struct sip_txn *t, enum sip_txn_end why)
{
	(void)ctx;
	(void)t;
	(void)why;
}

static void on_store_other(void *ctx, const char *table, const char *op, int64_t id, int64_t owner_id,
			   const char *payload)
{
	(void)ctx;
	(void)id;
	if (strcmp(table, "location_bindings") == 0)
		persist_notify(r.persist, op, owner_id, payload);
}

static void on_db_up(void *ctx)
{
	(void)ctx;
	persist_up(r.persist);
}

/* The location service exists before the persist that writes it. */
static void on_location_changed(void *ctx, int64_t id, const struct binding *b, enum location_op op)
{
	(void)ctx;
	persist_changed(r.persist, id, b, op);
}

static bool busy(void *ctx)
{
	(void)ctx;
	return r.pending_replies > 0;
}

static void drain(void *arg)
{
	(void)arg;
	r.draining = true;
	log_info("draining");
	sipd_drain(r.loop, busy, NULL, 5000);
}

static int apply(const struct redirect_conf *c)
{
	struct cidr *clients = calloc(c->clients.n ? c->clients.n : 1, sizeof(*clients));
	if (!clients)
		return -1;
	for (size_t i = 0; i < c->clients.n; i++) {
		char err[200];
		if (cidr_parse(c->clients.v[i].str, &clients[i], err, sizeof(err)) < 0) {
			log_warnx("clients: %s", err);
			free(clients);
			return -1;
		}
	}
	uint8_t key[FEATURE_HOP_KEY_LEN];
	bool has_key = c->features_secret[0] != '\0';
	if (has_key && feature_hop_key_parse(c->features_secret, key) < 0) {
		log_warnx("features.secret: not 64 hex digits");
		free(clients);
		return -1;
	}
	if (c->min_expires > c->max_expires || c->default_expires > c->max_expires) {
		log_warnx("registrar: min_expires and default_expires must not exceed max_expires");
		free(clients);
		return -1;
	}
	free(r.clients);
	r.clients = clients;
	r.nclients = c->clients.n;
	r.reg = (struct registrar_config){
		.min_expires = (uint32_t)c->min_expires, .max_expires = (uint32_t)c->max_expires,
		.default_expires = (uint32_t)c->default_expires, .max_contacts = (unsigned)c->max_contacts,
	};
	r.router.dial_plan = c->dial_plan;
	if (!has_key)
		log_warnx("features.secret is not set: calls that need a feature hop of a group whose "
			  "on_failure is 'fail' get 503");
	r.router.has_key = has_key;
	if (has_key)
		memcpy(r.router.hop_key, key, sizeof key);
	r.router.max_forwards = (uint32_t)c->features_max_forwards;
	r.conf = c;
	return 0;
}

static int reload(void *new_conf, const void *old_conf, void *arg)
{
	(void)arg;
	const struct redirect_conf *n = new_conf, *o = old_conf;
	if (n->listen.n != o->listen.n || strcmp(n->db_conninfo, o->db_conninfo) != 0 ||
	    strcmp(n->instance, o->instance) != 0) {
		log_warnx("reload: listen, instance and db.conninfo need a restart");
		return -1;
	}
	return apply(n);
}

int main(int argc, char **argv)
{
	switch (daemon_start(&d, argc, argv)) {
	case -1: return 1;
	case 1: return 0;
	}
	const struct redirect_conf *c = d.conf;
	char err[512];
	r.loop = d.loop = ev_loop_new();
	if (!r.loop)
		fatalx("out of memory");
	if (apply(c) < 0)
		fatalx("configuration not usable (see above)");
	r.tp = sip_tp_new(r.loop, &(struct sip_tp_opts){0}, on_message, NULL, err, sizeof(err));
	if (!r.tp)
		fatalx("transport: %s", err);
	unsigned mask = 0;
	for (size_t i = 0; i < c->transports.n; i++)
		mask |= 1u << (c->transports.v[i].idx == REDIRECT_TP_TCP ? SIP_TP_TCP : SIP_TP_UDP);
	char host[256];
	uint16_t port[SIP_TP_COUNT] = {0};
	snprintf(host, sizeof(host), "%s", c->advertise);
	if (sipd_listen(r.tp, &c->listen, mask, port, host, sizeof(host), err, sizeof(err)) < 0)
		fatalx("%s", err);

	/* our name in the bindings' notifications (002_location_sync.sql) */
	char origin[300];
	snprintf(origin, sizeof(origin), "%.100s", c->instance);
	if (!origin[0])
		snprintf(origin, sizeof(origin), "%s:%u", host, port[SIP_TP_UDP] ? port[SIP_TP_UDP] : port[SIP_TP_TCP]);
	for (char *o = origin; *o; o++)
		if (*o == ' ' || *o == '\\' || *o == '"' || *o < 0x21 || *o > 0x7e)
			*o = '_';
	/* Bindings are soft state: phones refresh them, memory holds them.
	 * Waiting for a WAL flush per REGISTER caps the rate at the disk's
	 * flush rate, so by default the session does not (it still commits
	 * in order, and a crash loses at most the last few hundred ms). */
	char pgoptions[380];
	snprintf(pgoptions, sizeof(pgoptions), "-c vocal.origin=%s%s", origin,
		 c->db_synchronous_commit ? "" : " -c synchronous_commit=off");
	setenv("PGOPTIONS", pgoptions, 1);

	struct store_hooks sh = {.other = on_store_other};
	r.db.up = on_db_up;
	if (sipd_db_open(&r.db, r.loop, c->db_conninfo, true, &sh) < 0)
		fatalx("out of memory");
	struct location_opts lo = {.loop = r.loop, .hooks = {.changed = on_location_changed}};
	r.loc = location_new(&lo);
	if (!r.loc)
		fatalx("out of memory");
	r.persist = persist_new(r.loop, r.db.q, r.loc, origin, c->sweep_interval);
	if (!r.persist)
		fatalx("out of memory");
	r.router.store = r.db.store;
	r.router.loc = r.loc;

	struct sip_txn_hooks th = {
		.send = send_hook, .request = on_request, .ack = on_ack, .response = on_response,
		.terminated = on_terminated, .admit = admit,
	};
	r.txn = sip_txn_layer_new(r.loop, &(struct sip_txn_timers){0}, &th);
	if (!r.txn)
		fatalx("out of memory");
	r.started = ev_now(r.loop);
	sipd_trim_start(r.loop);
	daemon_signals(&d, r.loop, &(struct daemon_hooks){.reload = reload, .drain = drain});
	log_info("redirect server %s on %s udp=%u tcp=%u", origin, host, port[SIP_TP_UDP], port[SIP_TP_TCP]);
	daemon_ready();
	ev_run(r.loop);

	struct location_stats ls;
	location_get_stats(r.loc, &ls);
	struct persist_stats ps;
	persist_get_stats(r.persist, &ps);
	log_info("registers=%llu routed=%llu refused=%llu bindings=%zu writes=%llu write-errors=%llu dirty=%zu",
		 (unsigned long long)r.registers, (unsigned long long)r.routed,
		 (unsigned long long)r.refused, ls.bindings, (unsigned long long)ps.writes,
		 (unsigned long long)ps.write_errors, ps.dirty);
	sipd_db_close(&r.db); /* pending replies go out from its callbacks */
	sip_txn_layer_free(r.txn);
	persist_free(r.persist);
	location_free(r.loc);
	sip_tp_free(r.tp);
	free(r.clients);
	ev_loop_free(r.loop);
	daemon_free(&d);
	return 0;
}
