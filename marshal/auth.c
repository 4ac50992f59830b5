/*
 * Authentication of subscribers at the edge, by the subscriber's setting
 * in the store: digest (RFC 3261 22 with RFC 8760 algorithms, HA1 only),
 * an IP access list, or none.
 *
 * Wrong passwords and unknown users are answered alike (a fresh challenge)
 * so that nobody learns which users exist; both count as failures for the
 * guard, which bans an address or refuses a user after too many.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ev.h"
#include "log.h"
#include "guard.h"
#include "marshal/marshal.h"
#include "store.h"

static void challenge(struct marshal *m, struct sip_proxy_ctx *pc, struct sip_msg *req,
		      const struct store_domain *dom, bool stale)
{
	bool reg = req->method_id == SIP_METHOD_REGISTER;
	char values[4096], extra[4096];
	int n = digest_challenge(m->digest, sip_str_make(dom->realm, strlen(dom->realm)), stale,
				 m->algs, time(NULL), values, sizeof(values));
	if (n < 0) {
		sip_proxy_reply(pc, 500, NULL, NULL);
		return;
	}
	size_t len = 0;
	const char *v = values;
	for (int i = 0; i < n && len < sizeof(extra); i++, v += strlen(v) + 1)
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "%s: %s\r\n",
					reg ? "WWW-Authenticate" : "Proxy-Authenticate", v);
	m->stats.auth_challenged++;
	sip_proxy_reply(pc, reg ? 401 : 407, NULL, extra);
}

static void failed(struct marshal *m, struct sip_msg *req, const struct sip_peer *src, sip_str user,
		   const struct store_domain *dom, const char *what)
{
	char a[64];
	sip_str callid = sip_msg_call_id(req);
	m->stats.auth_failed++;
	log_call(LOG_NOTICE, callid, "%.*s from %s: %.*s@%s: %s", (int)req->method.len, req->method.s,
		 sip_peer_format(src, a, sizeof(a)), (int)user.len, user.s, dom->name, what);
	guard_auth_failed(m->guard, (const struct sockaddr *)&src->addr, user,
			  sip_str_make(dom->name, strlen(dom->name)), ev_now(m->loop));
}

bool marshal_authenticate(struct marshal *m, struct sip_proxy_ctx *pc, struct sip_msg *req,
			  const struct store_subscriber *sub, const struct store_domain *dom)
{
	const struct sip_peer *src = sip_proxy_source(pc);
	sip_str domain = sip_str_make(dom->name, strlen(dom->name));
	if (sub && guard_user_banned(m->guard, sip_str_make(sub->user, strlen(sub->user)), domain,
				     ev_now(m->loop))) {
		m->stats.user_banned_403++;
		sip_proxy_reply(pc, 403, "Too Many Failed Authentications", NULL);
		return false;
	}
	if (sub && !sub->enabled) {
		sip_proxy_reply(pc, 403, "Subscriber Disabled", NULL);
		return false;
	}
	if (sub && sub->auth == STORE_AUTH_NONE)
		return true;
	if (sub && sub->auth == STORE_AUTH_IP) {
		if (store_acl_allows(sub, (const struct sockaddr *)&src->addr))
			return true;
		failed(m, req, src, sip_str_make(sub->user, strlen(sub->user)), dom,
		       "source address not in the access list");
		sip_proxy_reply(pc, 403, "Address Not Allowed", NULL);
		return false;
	}

	bool reg = req->method_id == SIP_METHOD_REGISTER;
	sip_str realm = sip_str_make(dom->realm, strlen(dom->realm));
	struct sip_hdr *h = digest_find_credentials(
		req, reg ? SIP_HDR_AUTHORIZATION : SIP_HDR_PROXY_AUTHORIZATION, realm, NULL);
	if (!h) {
		challenge(m, pc, req, dom, false);
		return false;
	}
	const struct sip_auth *cred = h->v.auth;
	if (!sub || !sip_str_eq(cred->username, sip_str_make(sub->user, strlen(sub->user)))) {
		failed(m, req, src, cred->username, dom,
		       sub ? "credentials of another user" : "unknown user");
		challenge(m, pc, req, dom, false);
		return false;
	}
	enum digest_alg alg = DIGEST_ALG_MD5;
	(void)digest_alg_parse(cred->algorithm, &alg); /* unknown: digest_verify says so */
	const char *ha1 = store_subscriber_ha1(sub, digest_alg_base(alg));
	char why[256] = "";
	enum digest_result r = ha1 ? digest_verify(m->digest, cred, req->method, realm, ha1, time(NULL),
						   why, sizeof(why))
				   : DIGEST_BAD_RESPONSE;
	switch (r) {
	case DIGEST_OK:
		m->stats.auth_ok++;
		guard_auth_ok(m->guard, (const struct sockaddr *)&src->addr, cred->username, domain,
			      ev_now(m->loop));
		/* spent: the next hops have no use for them, and a spiral
		 * back to us would look like a replay */
		sip_msg_remove_header(h);
		if (sip_proxy_commit_edits(pc) < 0) {
			sip_proxy_reply(pc, 500, NULL, NULL);
			return false;
		}
		return true;
	case DIGEST_STALE:
	case DIGEST_REPLAY:
		challenge(m, pc, req, dom, true);
		return false;
	case DIGEST_BAD_NONCE:
		challenge(m, pc, req, dom, false);
		return false;
	case DIGEST_BAD_RESPONSE:
		failed(m, req, src, cred->username, dom, ha1 ? "wrong password" : "no password set");
		challenge(m, pc, req, dom, false);
		return false;
	case DIGEST_MALFORMED:
		failed(m, req, src, cred->username, dom, why);
		sip_proxy_reply(pc, 400, "Malformed Credentials", NULL);
		return false;
	default:
		log_warnx("digest verification: %s", why);
		sip_proxy_reply(pc, 500, NULL, NULL);
		return false;
	}
}
