/* marshal_configure: a configuration turned into the marshal's working parts. */
#include <stdio.h>
#include <string.h>

#include "ev.h"
#include "log.h"
#include "guard.h"
#include "marshal/marshal.h"

/* conf.c's algorithm names, in this order */
static const enum digest_alg conf_algs[] = {DIGEST_ALG_MD5, DIGEST_ALG_SHA256, DIGEST_ALG_SHA512_256};

static int addr_peer(const struct config_addr *a, struct sip_peer *p, const char *what)
{
	if (sip_peer_from_numeric(p, SIP_TP_UDP, a->host, strlen(a->host), a->port) == 0)
		return 0;
	log_warnx("%s %s: a numeric address is needed", what, a->host);
	return -1;
}

static void on_ban(void *arg, const struct guard_ban *ban)
{
	struct marshal *m = arg;
	uint64_t now = ev_now(m->loop);
	log_warnx("banned %s %s for %llu s after %u failed authentications",
		  ban->kind == GUARD_ADDR ? "address" : "user", ban->who,
		  (unsigned long long)((ban->until_ms > now ? ban->until_ms - now : 0) / 1000), ban->failures);
}

/* A reload keeps the nonces and the failure counts and bans when their
 * settings did not change: clients are not challenged again for nothing,
 * and an attacker cannot wait for a reload to start over. */
static bool same_digest(const struct marshal_conf *a, const struct marshal_conf *b)
{
	return a->nonce_lifetime == b->nonce_lifetime && strcmp(a->nonce_secret, b->nonce_secret) == 0;
}

static bool same_guard(const struct marshal_conf *a, const struct marshal_conf *b)
{
	if (a->failure_window != b->failure_window || a->ban_time != b->ban_time ||
	    a->max_failures_per_address != b->max_failures_per_address ||
	    a->max_failures_per_user != b->max_failures_per_user ||
	    a->guard_entries != b->guard_entries || a->never_ban.n != b->never_ban.n)
		return false;
	for (size_t i = 0; i < a->never_ban.n; i++)
		if (strcmp(a->never_ban.v[i].str, b->never_ban.v[i].str) != 0)
			return false;
	return true;
}

static struct digest_ctx *new_digest(const struct marshal_conf *c)
{
	size_t secret_len = strlen(c->nonce_secret);
	if (secret_len && secret_len < 16) {
		log_warnx("auth.nonce_secret: at least 16 bytes, or empty for a random one");
		return NULL;
	}
	struct digest_config dc = {
		.lifetime = (unsigned)(c->nonce_lifetime / 1000),
		.noqop = DIGEST_NOQOP_ONCE,
		.secret = secret_len ? c->nonce_secret : NULL,
		.secret_len = secret_len,
	};
	char why[256];
	struct digest_ctx *digest = digest_ctx_new(&dc, why, sizeof(why));
	if (!digest)
		log_warnx("digest: %s", why);
	return digest;
}

static struct guard *new_guard(struct marshal *m, const struct marshal_conf *c)
{
	struct guard_config gc;
	guard_config_defaults(&gc);
	gc.window_ms = (uint32_t)c->failure_window;
	gc.addr_limit = (unsigned)c->max_failures_per_address;
	gc.user_limit = (unsigned)c->max_failures_per_user;
	gc.addr_ban_ms = gc.user_ban_ms = (uint32_t)c->ban_time;
	gc.addr_capacity = gc.user_capacity = (uint32_t)c->guard_entries;
	char why[256];
	struct guard *guard = guard_new(&gc, why, sizeof(why));
	for (size_t i = 0; guard && i < c->never_ban.n; i++)
		if (guard_allow(guard, c->never_ban.v[i].str, why, sizeof(why)) < 0) {
			guard_free(guard);
			guard = NULL;
		}
	if (!guard) {
		log_warnx("auth: %s", why);
		return NULL;
	}
	guard_set_ban_cb(guard, on_ban, m);
	return guard;
}

int marshal_configure(struct marshal *m, const struct marshal_conf *c)
{
	struct sip_peer redirect, gateway = {0};
	if (addr_peer(&c->redirect, &redirect, "redirect") < 0 ||
	    (c->kind == MARSHAL_GATEWAY && addr_peer(&c->gateway, &gateway, "gateway") < 0))
		return -1;
	unsigned algs = 0;
	for (size_t i = 0; i < c->auth_algorithms.n; i++)
		algs |= DIGEST_ALG_BIT(conf_algs[c->auth_algorithms.v[i].idx]);
	if (!algs) {
		log_warnx("auth.algorithms: at least one is needed");
		return -1;
	}
	bool keep_digest = m->conf && m->digest && same_digest(m->conf, c);
	bool keep_guard = m->conf && m->guard && same_guard(m->conf, c);
	struct digest_ctx *digest = keep_digest ? m->digest : new_digest(c);
	struct guard *guard = keep_guard ? m->guard : new_guard(m, c);
	const char *scanners[CONFIG_LIST_MAX];
	for (size_t i = 0; i < c->scanner_user_agents.n; i++)
		scanners[i] = c->scanner_user_agents.v[i].str;
	if (!digest || !guard || guard_set_scanners(guard, scanners, c->scanner_user_agents.n) < 0) {
		if (!keep_digest)
			digest_ctx_free(digest);
		if (!keep_guard)
			guard_free(guard);
		log_warnx("auth: configuration not applied");
		return -1;
	}
	if (m->conf && !keep_guard)
		log_info("reload: failed-authentication counts and bans start over (their settings changed)");
	if (!keep_digest)
		digest_ctx_free(m->digest);
	if (!keep_guard)
		guard_free(m->guard);
	m->conf = c;
	m->digest = digest;
	m->guard = guard;
	m->algs = algs;
	m->redirect_peer = redirect;
	m->gateway_peer = gateway;
	bool v6 = strchr(c->redirect.host, ':') != NULL;
	snprintf(m->redirect_uri, sizeof(m->redirect_uri), "sip:%s%s%s:%u", v6 ? "[" : "", c->redirect.host,
		 v6 ? "]" : "", c->redirect.port);
	return 0;
}

void marshal_unconfigure(struct marshal *m)
{
	digest_ctx_free(m->digest);
	guard_free(m->guard);
	m->digest = NULL;
	m->guard = NULL;
}
