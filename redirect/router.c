#include "redirect/router.h"

#include <stdio.h>
#include <string.h>

#include "redirect/location.h"
#include "redirect/registrar.h"
#include "sip/addr.h"
#include "sip/uri.h"
#include "sip/via.h"
#include "store.h"

struct ask {
	const struct sip_via *asker;   /* top Via: who asks */
	const struct store_subscriber *sub;
	const struct store_domain *dom;
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
	int n = snprintf(buf, cap, "sip:%s@%s:%u;maddr=%.*s%s%.*s", a->sub->user, a->dom->name,
			 hop.has_port ? hop.port : 5060, (int)hop.host.len, hop.host.s,
			 hop.transport.len ? ";transport=" : "", (int)hop.transport.len, hop.transport.s);
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
	const struct store_domain *dom = store_domain_by_name(r->store, ruri->host);
	const struct store_subscriber *sub = NULL;
	if (dom && dom->enabled)
		sub = store_subscriber_by_aor(r->store, ruri->user, ruri->host);
	if (!sub && is_number(ruri->user))
		sub = store_subscriber_by_did(r->store, ruri->user);
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
	struct ask a = {sip_msg_via(req, NULL), sub, dom};
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
