#include "redirect/router.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "redirect/location.h"
#include "redirect/registrar.h"
#include "sip/addr.h"
#include "sip/build.h"
#include "sip/uri.h"
#include "sip/via.h"
#include "store.h"

struct ask {
	const struct sip_via *asker;   /* top Via: who asks */
	const struct store_subscriber *sub;
	const struct store_domain *dom;
	const char *hop;               /* vocal-hop value for maddr contacts, or NULL */
};

/* The first URI of a Path string ("<sip:a;lr>,<sip:b;lr>"). */
static bool first_path_uri(const struct binding *b, struct sip_uri *u)
{
	sip_str path = binding_str(b, BINDING_PATH);
	const char *lt = memchr(path.s, '<', path.len);
	if (!lt)
		return false;
	const char *gt = memchr(lt, '>', (size_t)(path.s + path.len - lt));
	return gt && sip_uri_parse(u, lt + 1, (size_t)(gt - lt - 1), NULL) == 0;
}

static bool via_is_hop(const struct sip_via *v, const struct sip_uri *hop)
{
	uint16_t vp = v->has_port ? v->port : 5060, hp = hop->has_port ? hop->port : 5060;
	return vp == hp && sip_str_caseeq(v->host, hop->host);
}

static sip_str target(void *ctx, const struct binding *b, char *buf, size_t cap)
{
	const struct ask *a = ctx;
	struct sip_uri hop;
	if (!b->len[BINDING_PATH] || !first_path_uri(b, &hop) || (a->asker && via_is_hop(a->asker, &hop)))
		return binding_str(b, BINDING_CONTACT);
	/* through the subscriber's own marshal, which asks again */
	int n = snprintf(buf, cap, "sip:%s@%s:%u;maddr=%.*s%s%.*s%s%s", a->sub->user, a->dom->name,
			 hop.has_port ? hop.port : 5060, (int)hop.host.len, hop.host.s,
			 hop.transport.len ? ";transport=" : "", (int)hop.transport.len, hop.transport.s,
			 a->hop ? ";" FEATURE_HOP_PARAM "=" : "", a->hop ? a->hop : "");
	return n > 0 && (size_t)n < cap ? sip_str_make(buf, (size_t)n) : SIP_STR_NULL;
}

static void answer(struct route_answer *out, unsigned status, const char *reason)
{
	out->status = status;
	out->reason = reason;
}

/* A number: digits with an optional leading '+' (visual separators are
 * the dialler's business). */
static bool is_number(sip_str user)
{
	size_t i = user.len && user.s[0] == '+';
	if (i == user.len)
		return false;
	for (; i < user.len; i++)
		if (user.s[i] < '0' || user.s[i] > '9')
			return false;
	return true;
}

/* The subscriber the Request-URI names: by user part or alias in one of
 * our (enabled) domains, else by DID. *dom gets the Request-URI's domain
 * when it is ours. */
static const struct store_subscriber *target_of(const struct router *r, const struct sip_uri *ruri,
						const struct store_domain **dom)
{
	const struct store_subscriber *sub = NULL;
	*dom = store_domain_by_name(r->store, ruri->host);
	if (*dom && (*dom)->enabled)
		sub = store_subscriber_by_aor(r->store, ruri->user, ruri->host);
	if (!sub && is_number(ruri->user))
		sub = store_subscriber_by_did(r->store, ruri->user);
	return sub;
}

/* ---- feature hops --------------------------------------------------------------- */

/* "Feature Group NAME Unavailable", the name as a reason phrase may carry
 * it: visible ASCII, no more than fits. */
static void reason_group_unavailable(struct route_answer *out, const char *name)
{
	char safe[48];
	size_t n = 0;
	for (const char *c = name; *c && n + 1 < sizeof safe; c++)
		safe[n++] = *c > 0x20 && *c < 0x7f ? *c : '_';
	safe[n] = '\0';
	snprintf(out->reason_buf, sizeof out->reason_buf, "Feature Group %s Unavailable", safe);
	answer(out, 503, out->reason_buf);
}

enum hop_result { HOP_ENTERED, HOP_SKIPPED, HOP_FAILED };

/* Sends the call to hop h (group h->group_id): a 302 with a Contact per
 * enabled server, and one that skips the hop if the group allows it. */
static enum hop_result enter_hop(const struct router *r, struct sip_msg *req,
				 const struct feature_hop *h, char *extra, size_t cap,
				 struct route_answer *out)
{
	const struct sip_uri *ru = &req->ruri;
	sip_str call_id = sip_msg_call_id(req);
	const struct store_group *g = store_group_by_id(r->store, h->group_id);
	const struct store_server *sv[ROUTER_MAX_HOP_SERVERS];
	size_t n = g ? store_group_servers(r->store, g->id, sv, ROUTER_MAX_HOP_SERVERS - 1) : 0;
	bool skip = g && g->on_failure == STORE_ON_FAILURE_SKIP;
	char value[FEATURE_HOP_MAX];
	const char *name = g ? g->name : "(deleted)";

	if (n == 0 || !r->has_key) {
		if (skip) {
			log_call(LOG_INFO, call_id, "feature group %s: %s, hop skipped", name,
				 n ? "no features.secret" : "no server");
			return HOP_SKIPPED;
		}
		log_call(LOG_WARNING, call_id, "feature group %s: %s, call refused (on_failure fail)", name,
			 n ? "no features.secret" : "no server");
		if (!r->has_key)
			answer(out, 503, "Feature Routing Not Configured");
		else
			reason_group_unavailable(out, name);
		return HOP_FAILED;
	}
	if (feature_hop_format(h, r->hop_key, call_id, ru->user, ru->host, value, sizeof value) < 0) {
		answer(out, 500, "Feature Hop Not Formatted");
		return HOP_FAILED;
	}
	/* q: 1, 0.9, 0.8... in the group's order (tried one after another),
	 * the skip last; more than ten share the range. */
	size_t total = n + skip, step = total <= 10 ? 100 : 1000 / total;
	const char *scheme = ru->scheme == SIP_URI_SIPS ? "sips" : "sip";
	struct sip_out o = {extra, cap, 0};
	char qb[8];
	for (size_t i = 0; i < total; i++) {
		const char *q = registrar_format_q((uint16_t)(1000 - i * step), qb);
		sip_out_printf(&o, "Contact: <%s:", scheme);
		sip_out_str(&o, ru->user);
		sip_out_put(&o, "@", 1);
		sip_out_str(&o, ru->host);
		if (i < n) {
			bool v6 = strchr(sv[i]->host, ':') != NULL;
			sip_out_printf(&o, ":%u;maddr=%s%s%s", sv[i]->port, v6 ? "[" : "", sv[i]->host,
				       v6 ? "]" : "");
			if (strcmp(sv[i]->transport, "udp") != 0)
				sip_out_printf(&o, ";transport=%s", sv[i]->transport);
		}
		sip_out_printf(&o, ";" FEATURE_HOP_PARAM "=%s>;q=%s\r\n", value, q);
	}
	if (o.len >= cap) {
		extra[0] = '\0';
		answer(out, 500, "Contacts Too Long");
		return HOP_FAILED;
	}
	extra[o.len] = '\0';
	out->contacts = (unsigned)total;
	answer(out, 302, NULL);
	log_call(LOG_DEBUG, call_id, "feature hop %s: group %s, %zu server(s)%s", value, name, n,
		 skip ? " and a skip" : "");
	return HOP_ENTERED;
}

/* Where the call goes when its features are done, for the terminating
 * answer: the forwards so far and, when the call has feature hops, a
 * vocal-hop value bound to target's AOR saying its last called hop is
 * done (for the serving marshal's second question). */
struct feature_done {
	bool has_hops;
	uint32_t forwards;
};

/*
 * Feature routing of an INVITE outside a dialog. Returns true when it
 * answered (a hop, or a refusal); false when the call is to terminate,
 * with *done filled.
 */
static bool route_features(const struct router *r, struct sip_msg *req, char *extra, size_t cap,
			   struct route_answer *out, struct feature_done *done)
{
	const struct sip_uri *ru = &req->ruri;
	sip_str call_id = sip_msg_call_id(req), value;
	struct feature_hop h = {0};
	bool have = sip_uri_param(ru, FEATURE_HOP_PARAM, &value);

	*done = (struct feature_done){0};
	if (have) {
		if (!r->has_key ||
		    feature_hop_parse(value, r->hop_key, call_id, ru->user, ru->host, &h) < 0) {
			/* a phone skipping its call blocking, another call's or
			 * another target's value, or a secret featured does not
			 * share with us */
			log_call(LOG_WARNING, call_id, "403 Bad Feature Hop: %s=%.*s for %.*s@%.*s",
				 FEATURE_HOP_PARAM, (int)(value.len > 80 ? 80 : value.len), value.s,
				 (int)(ru->user.len > 80 ? 80 : ru->user.len), ru->user.s,
				 (int)(ru->host.len > 80 ? 80 : ru->host.len), ru->host.s);
			answer(out, 403, "Bad Feature Hop");
			return true;
		}
		if (h.forwards > r->max_forwards) {
			log_call(LOG_WARNING, call_id, "482: %" PRIu32 " forwards (at most %" PRIu32 ")",
				 h.forwards, r->max_forwards);
			answer(out, 482, "Too Many Forwards");
			return true;
		}
		done->has_hops = true;
		done->forwards = h.forwards;
	}

	/* the caller: the From URI's subscriber (none for a call from the
	 * gateway, or one hidden by caller-ID blocking) */
	const struct store_subscriber *caller = NULL;
	struct sip_addr *from = sip_msg_from(req, NULL);
	if (from && (from->uri.scheme == SIP_URI_SIP || from->uri.scheme == SIP_URI_SIPS) &&
	    from->uri.user.len)
		caller = store_subscriber_by_aor(r->store, from->uri.user, from->uri.host);
	const struct store_domain *dom;
	const struct store_subscriber *callee = target_of(r, ru, &dom);
	if (callee && !callee->enabled)
		callee = NULL;	/* answered 480 when the call terminates */
	size_t ncalling = caller ? caller->ncalling_hops : 0;
	size_t ncalled = callee ? callee->ncalled_hops : 0;
	done->has_hops = done->has_hops || ncalling || ncalled;

	/* the next hop: calling hops first (the caller's count may have
	 * shrunk since: clamped by the loop), then called hops */
	bool calling = true;
	uint64_t i = 0;
	if (have) {
		switch (h.phase) {
		case FEATURE_HOP_CALLING:
			i = (uint64_t)h.index + 1;
			break;
		case FEATURE_HOP_CALLED:
			calling = false;
			i = (uint64_t)h.index + 1;
			break;
		default: /* retargeted: the calling side is done */
			calling = false;
			break;
		}
	}
	for (;;) {
		if (calling && i >= ncalling) {
			calling = false;
			i = 0;
		}
		if (!calling && i >= ncalled)
			return false;
		struct feature_hop next = {
			.phase = calling ? FEATURE_HOP_CALLING : FEATURE_HOP_CALLED,
			.index = (uint32_t)i,
			.group_id = calling ? caller->calling_hops[i] : callee->called_hops[i],
			.forwards = h.forwards,
		};
		switch (enter_hop(r, req, &next, extra, cap, out)) {
		case HOP_SKIPPED:
			i++;
			continue;
		default:
			return true;
		}
	}
}

/* ---- the answer ------------------------------------------------------------------ */

void router_route(const struct router *r, struct sip_msg *req, char *extra, size_t cap,
		  struct route_answer *out)
{
	*out = (struct route_answer){0};
	extra[0] = 0;
	const struct sip_uri *ruri = &req->ruri;
	if (ruri->scheme != SIP_URI_SIP && ruri->scheme != SIP_URI_SIPS) {
		answer(out, 416, NULL);
		return;
	}
	if (!ruri->user.len) {
		/* addressed to us: a keep-alive or a monitor */
		if (req->method_id == SIP_METHOD_OPTIONS) {
			snprintf(extra, cap, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER\r\n");
			answer(out, 200, NULL);
		} else {
			answer(out, 404, "No User In Request-URI");
		}
		return;
	}
	/* A new call runs its features first: the caller's calling hops
	 * even when the target is no subscriber (call blocking must see
	 * numbers for the gateway; a call-return code is nobody's name). */
	struct sip_addr *to = sip_msg_to(req, NULL);
	struct feature_done done = {0};
	if (req->method_id == SIP_METHOD_INVITE && !(to && sip_str_present(to->tag)) &&
	    route_features(r, req, extra, cap, out, &done))
		return;

	const struct store_domain *dom;
	const struct store_subscriber *sub = target_of(r, ruri, &dom);
	if (!sub) {
		/* a name in our domain that nobody has: unknown. A number in
		 * our domain that is no subscriber's DID is dialled the way a
		 * phone dials (sip:+12125550100@vocal.test): the dial plan. */
		if (dom && !is_number(ruri->user)) {
			answer(out, 404, NULL);
			return;
		}
		/* not ours: the dial plan (e.g. numbers to the gateway marshal) */
		char contact[1100];
		long n = store_dial_plan_route(r->store, r->dial_plan, ruri->user, contact, sizeof(contact));
		if (n <= 0) {
			answer(out, 404, n < 0 ? "Dial Plan Contact Too Long" : "No Route");
			return;
		}
		snprintf(extra, cap, "Contact: <%s>\r\n", contact);
		out->contacts = 1;
		answer(out, 302, NULL);
		return;
	}
	if (!sub->enabled) {
		answer(out, 480, "Subscriber Disabled");
		return;
	}
	dom = store_domain_by_id(r->store, sub->domain_id);
	if (!dom) {
		answer(out, 500, "Subscriber Without Domain");
		return;
	}
	struct ask a = {sip_msg_via(req, NULL), sub, dom, NULL};
	/* Features done: the serving marshal, if it is another server that
	 * asks, must not start them again when it asks in turn. */
	char value[FEATURE_HOP_MAX];
	if (done.has_hops && r->has_key) {
		struct feature_hop last = {
			.phase = FEATURE_HOP_CALLED,
			.index = sub->ncalled_hops ? (uint32_t)sub->ncalled_hops - 1 : 0,
			.group_id = sub->ncalled_hops ? sub->called_hops[sub->ncalled_hops - 1] : 0,
			.forwards = done.forwards,
		};
		sip_str user = sip_str_make(sub->user, strlen(sub->user));
		sip_str host = sip_str_make(dom->name, strlen(dom->name));
		if (feature_hop_format(&last, r->hop_key, sip_msg_call_id(req), user, host, value,
				       sizeof value) > 0)
			a.hop = value;
	}
	size_t len;
	unsigned count = 0;
	registrar_contacts_302(r->loc, sub->id, target, &a, extra, cap, &len, &count);
	if (!count) {
		extra[0] = 0;
		answer(out, 480, "Not Registered");
		return;
	}
	out->contacts = count;
	answer(out, 302, NULL);
}
