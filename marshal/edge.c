/*
 * The marshal's routing policy on the proxy core (see marshal.h).
 *
 * Every request passes through marshal_route (the core runs with
 * route_all): in-dialog requests must follow a Route we recorded, a
 * preloaded Route from outside is refused (no relaying through us), and
 * every new request from a phone is authenticated and then sent to the
 * redirect server with its Request-URI unchanged (an outbound proxy, RFC
 * 3261 16.6 step 7): REGISTER is answered there, anything else gets a 302
 * whose Contacts the core then tries (3xx recursion), devices directly and
 * names through the redirect server again; a 302 into a feature hop (its
 * feature servers, then maybe the hop's skip) for failover only.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ev.h"
#include "feature_hop.h"
#include "log.h"
#include "guard.h"
#include "marshal/marshal.h"
#include "sip/build.h"
#include "store.h"

static bool host_is_numeric(sip_str host)
{
	struct sip_peer p;
	return host.len && sip_peer_from_numeric(&p, SIP_TP_UDP, host.s, host.len, 5060) == 0;
}

static bool same_addr(const struct sip_peer *a, const struct sip_peer *b, bool any_port)
{
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->addr, *y = (const void *)&b->addr;
		return x->sin_addr.s_addr == y->sin_addr.s_addr && (any_port || x->sin_port == y->sin_port);
	}
	if (a->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)&a->addr, *y = (const void *)&b->addr;
		return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 &&
		       (any_port || x->sin6_port == y->sin6_port);
	}
	return false;
}

bool marshal_trusted(struct marshal *m, const struct sip_peer *from)
{
	/* Trust is by address and port: on a shared host (the all-in-one
	 * platform, where phones are on loopback too) the address alone says
	 * nothing. Streams come from ephemeral ports, so platform servers
	 * talk to each other over UDP. */
	if (same_addr(from, &m->redirect_peer, false))
		return true;
	if (m->conf->kind == MARSHAL_GATEWAY && same_addr(from, &m->gateway_peer, false))
		return true;
	for (size_t i = 0; i < m->conf->trusted_peers.n; i++) {
		const struct config_addr *a = &m->conf->trusted_peers.v[i].addr;
		struct sip_peer p;
		if (sip_peer_from_numeric(&p, from->transport, a->host, strlen(a->host), a->port) == 0 &&
		    same_addr(from, &p, a->port == 0))
			return true;
	}
	return from->transport == SIP_TP_UDP &&
	       store_is_server_addr(m->store, (const struct sockaddr *)&from->addr, sip_peer_port(from));
}

bool marshal_accept_source(struct marshal *m, const struct sip_peer *from)
{
	if (!guard_addr_banned(m->guard, (const struct sockaddr *)&from->addr, ev_now(m->loop)))
		return true;
	m->stats.banned_dropped++;
	return false;
}

static sip_str header_value(struct sip_msg *req, enum sip_hdr_type t)
{
	struct sip_hdr *h = req->first[t];
	return h ? h->value : SIP_STR_NULL;
}

unsigned marshal_admit(void *ctx, struct sip_msg *req, const struct sip_peer *from, char *extra,
		       size_t cap)
{
	struct marshal *m = ctx;
	sip_str ua = header_value(req, SIP_HDR_USER_AGENT);
	if (ua.len && guard_is_scanner(m->guard, ua)) {
		m->stats.scanners_dropped++;
		return SIP_TXN_DROP;
	}
	/* Overload: refuse new work, but never what ends or changes work in
	 * progress (CANCEL, in-dialog requests such as BYE). */
	struct sip_proxy_stats ps;
	sip_proxy_get_stats(m->proxy, &ps);
	if ((m->draining || ps.unanswered >= (size_t)m->conf->max_calls) &&
	    req->method_id != SIP_METHOD_CANCEL) {
		struct sip_addr *to = sip_msg_to(req, NULL);
		if (!to || !sip_str_present(to->tag)) {
			m->stats.overload_503++;
			snprintf(extra, cap, "Retry-After: %llu\r\n",
				 (unsigned long long)(m->conf->retry_after / 1000));
			return 503;
		}
	}
	(void)from;
	return 0;
}

const char *marshal_outbound(void *ctx, struct sip_proxy_ctx *pc, const struct sip_uri *target)
{
	struct marshal *m = ctx;
	(void)pc;
	if (m->force_redirect)
		return m->redirect_uri;
	/* a call between feature hops without an maddr (redirectd's "skip
	 * this hop" Contact) continues at the redirect server, whatever its
	 * host: a DID from the gateway has an address there */
	sip_str hop;
	if (!target->maddr.len && sip_uri_param(target, FEATURE_HOP_PARAM, &hop))
		return m->redirect_uri;
	/* a device or a server by address: straight there; a name (a
	 * hosted domain, a foreign one): the redirect server knows */
	if (host_is_numeric(target->maddr.len ? target->maddr : target->host))
		return NULL;
	return m->redirect_uri;
}

/* redirectd's 302 into a feature hop lists the hop's feature servers by
 * q, then maybe its skip: alternatives for one job. The next is tried
 * only when one failed (silent, unreachable, 503); a feature's verdict or
 * a callee's answer relayed by one is the call's, or the callee would
 * ring again through the next server, or without its features through
 * the skip. */
enum sip_proxy_recursion marshal_recursion(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *resp)
{
	struct marshal *m = ctx;
	(void)pc;
	return feature_hop_redirect(m->store, resp) ? SIP_PROXY_RECURSE_FAILOVER : SIP_PROXY_RECURSE_BY_Q;
}

/* Adds target as the only target, to be sent to the redirect server, and
 * starts. */
static void ask_redirect(struct marshal *m, struct sip_proxy_ctx *pc, const char *uri, size_t len)
{
	m->force_redirect = true;
	int rc = sip_proxy_add_target(pc, uri, len, 0);
	m->force_redirect = false;
	if (rc < 0) {
		sip_proxy_reply(pc, 400, "Bad Request-URI", NULL);
		return;
	}
	sip_proxy_start(pc);
}

static bool uri_is_us(struct marshal *m, const struct sip_uri *u)
{
	if (!sip_str_caseeq_lit(u->host, m->host))
		return false;
	for (int t = 0; t < SIP_TP_COUNT; t++)
		if (m->port[t] && (u->has_port ? u->port : 5060) == m->port[t])
			return true;
	return false;
}

/* Path (RFC 3327) so that the registrar knows which marshal serves the
 * binding, over the transport the phone used. */
static bool add_path(struct marshal *m, struct sip_proxy_ctx *pc, struct sip_msg *req)
{
	enum sip_transport t = sip_proxy_source(pc)->transport;
	char line[400];
	int n = snprintf(line, sizeof(line), "Path: <sip:%s:%u%s;lr>", m->host, m->port[t],
			 t == SIP_TP_TCP ? ";transport=tcp" : t == SIP_TP_TLS ? ";transport=tls" : "");
	struct sip_hdr *before = req->first[SIP_HDR_PATH] ? req->first[SIP_HDR_PATH] : &req->hdrs[1];
	return sip_msg_insert_header(req, before, line, (size_t)n) == 0 && sip_proxy_commit_edits(pc) == 0;
}

static void route_gateway(struct marshal *m, struct sip_proxy_ctx *pc, struct sip_msg *req,
			  const struct sip_peer *src)
{
	if (same_addr(src, &m->gateway_peer, false)) {
		/* from the PSTN: the redirect server maps the number (a DID) */
		m->stats.calls++;
		ask_redirect(m, pc, req->ruri_text.s, req->ruri_text.len);
		return;
	}
	if (!marshal_trusted(m, src)) {
		m->stats.refused_untrusted++;
		sip_proxy_reply(pc, 403, "Gateway Use Not Allowed", NULL);
		return;
	}
	/* towards the PSTN: the number, at the gateway */
	char uri[400];
	const struct config_addr *g = &m->conf->gateway;
	bool v6 = strchr(g->host, ':') != NULL;
	int n = snprintf(uri, sizeof(uri), "sip:%.*s@%s%s%s:%u;user=phone", (int)req->ruri.user.len,
			 req->ruri.user.s, v6 ? "[" : "", g->host, v6 ? "]" : "", g->port);
	m->stats.calls++;
	if (n <= 0 || (size_t)n >= sizeof(uri) || sip_proxy_add_target(pc, uri, (size_t)n, 0) < 0) {
		sip_proxy_reply(pc, 484, NULL, NULL);
		return;
	}
	sip_proxy_start(pc);
}

static void route_phone(struct marshal *m, struct sip_proxy_ctx *pc, struct sip_msg *req)
{
	bool reg = req->method_id == SIP_METHOD_REGISTER;
	/* whose request: the AOR registered, else the caller */
	struct sip_addr *id = reg ? sip_msg_to(req, NULL) : sip_msg_from(req, NULL);
	if (!id || (id->uri.scheme != SIP_URI_SIP && id->uri.scheme != SIP_URI_SIPS)) {
		sip_proxy_reply(pc, 400, reg ? "Bad To" : "Bad From", NULL);
		return;
	}
	const struct store_domain *dom = store_domain_by_name(m->store, id->uri.host);
	if (!dom || !dom->enabled) {
		m->stats.refused_untrusted++;
		sip_proxy_reply(pc, 403, "Domain Not Served Here", NULL);
		return;
	}
	const struct store_subscriber *sub = store_subscriber_by_aor(m->store, id->uri.user, id->uri.host);
	if (sub && sub->domain_id != dom->id)
		sub = NULL;
	if (!marshal_authenticate(m, pc, req, sub, dom))
		return;
	req = sip_proxy_request(pc); /* credentials removed: a new copy */
	if (reg) {
		m->stats.registers++;
		if (!add_path(m, pc, req)) {
			sip_proxy_reply(pc, 500, NULL, NULL);
			return;
		}
		req = sip_proxy_request(pc);
		ask_redirect(m, pc, req->ruri_text.s, req->ruri_text.len);
		return;
	}
	m->stats.calls += req->method_id == SIP_METHOD_INVITE;
	const struct sip_uri *r = &req->ruri;
	if (r->scheme == SIP_URI_TEL || uri_is_us(m, r)) {
		/* dialled at our address, or a tel: URI: the number or user
		 * in the caller's domain */
		char uri[400];
		int n = snprintf(uri, sizeof(uri), "sip:%.*s@%s%s", (int)r->user.len, r->user.s, dom->name,
				 r->scheme == SIP_URI_TEL ? ";user=phone" : "");
		if (n > 0 && (size_t)n < sizeof(uri))
			ask_redirect(m, pc, uri, (size_t)n);
		else
			sip_proxy_reply(pc, 414, NULL, NULL);
		return;
	}
	ask_redirect(m, pc, req->ruri_text.s, req->ruri_text.len);
}

void marshal_route(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *req)
{
	struct marshal *m = ctx;
	const struct sip_peer *src = sip_proxy_source(pc);
	bool trusted = marshal_trusted(m, src);
	struct sip_addr *to = sip_msg_to(req, NULL);
	bool in_dialog = to && sip_str_present(to->tag);

	if (in_dialog) {
		/* inside a dialog we record-routed: follow its route. One
		 * that did not come through us is not ours to relay. */
		if (sip_proxy_routed_to_us(pc) || trusted) {
			sip_proxy_forward(pc);
			return;
		}
		m->stats.refused_no_dialog++;
		sip_proxy_reply(pc, 403, "Not Routed Through Us", NULL);
		return;
	}
	if (req->first[SIP_HDR_ROUTE]) {
		if (trusted) {
			sip_proxy_forward(pc);
			return;
		}
		m->stats.refused_preloaded_route++;
		sip_proxy_reply(pc, 403, "Preloaded Route Denied", NULL);
		return;
	}
	/* OPTIONS for us (a keep-alive, a monitor): we are alive */
	if (req->method_id == SIP_METHOD_OPTIONS && (!req->ruri.user.len || uri_is_us(m, &req->ruri))) {
		sip_proxy_reply(pc, 200, NULL, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, "
					  "PRACK, UPDATE, MESSAGE, SUBSCRIBE, NOTIFY, REFER\r\n");
		return;
	}
	if (m->conf->kind == MARSHAL_GATEWAY) {
		route_gateway(m, pc, req, src);
		return;
	}
	if (trusted) {
		/* another platform server hands us a call: a device's
		 * contact goes straight there, a name to the redirect server */
		sip_proxy_forward(pc);
		return;
	}
	route_phone(m, pc, req);
}
