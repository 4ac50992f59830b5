/*
 * testproxy: a stateful proxy built on the common proxy core, with a routing
 * table from the command line, for the integration tests (SIPp scenarios,
 * torture messages over the wire, TLS between two instances).
 *
 *   testproxy --host 127.0.0.1 -l udp:127.0.0.1:0 -l tcp:127.0.0.1:0
 *             [-l tls:127.0.0.1:0 --cert F --key F --ca F]
 *             [--target USER=URI[,URI...][|URI...]]...   ',' forks in parallel,
 *                                                     '|' starts the next group
 *             [--reply USER=CODE]... [--recurse] [--no-record-route]
 *             [--auth-realm REALM --user NAME:PASSWORD...
 *              [--auth-algs md5,sha-256,sha-512-256] [--nonce-lifetime S]]
 *
 * A Request-URI without a user (a REGISTER to sip:DOMAIN, as phones send
 * it) is routed by its host instead: --target DOMAIN=URI names the
 * registrar. Requests for a user in neither table get 404. It only ever sends to
 * loopback addresses: a torture message routed elsewhere gets 503 instead
 * (tests send nothing off the machine). --t1 MS shortens the transaction
 * timers. Prints "ready udp=P tcp=P tls=P" when listening; SIGTERM or
 * SIGINT stops it (and prints its counters).
 *
 * --dns HOST:PORT locates next hops by name with RFC 3263 through that DNS
 * server (short timeouts, no hosts file), so the proxy fails over between
 * the addresses it finds.
 *
 * With --auth-realm every request the routing sees (everything outside a
 * dialog but ACK and CANCEL) needs Proxy-Authorization for that realm:
 * 407 with one Proxy-Authenticate per algorithm (default SHA-256 and MD5;
 * offer md5 alone to SIPp), stale=true for an expired nonce, a fresh 407
 * for a wrong password or an unknown user, 403 for replayed credentials,
 * 400 for malformed ones. In-dialog requests follow their Route set without
 * the routing and are not challenged: their INVITE was. Only HA1 values
 * are kept; the passwords are wiped from the command line at start-up.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ev.h"
#include "log.h"
#include "sip/digest.h"
#include "sip/proxy.h"
#include "sip/resolve.h"
#include "sip/transport.h"

struct route {
	char user[64];
	const char *targets; /* NULL when reply is set */
	unsigned reply;
};

static struct route routes[64];
static int nroutes;
static struct sip_tp *tp;
static struct sip_proxy *proxy;

static bool loopback(const struct sip_peer *p)
{
	if (p->addr.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&p->addr)->sin_addr.s_addr) >> 24) == 127;
	if (p->addr.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&p->addr)->sin6_addr);
	return false;
}

static int send_hook(void *ctx, const struct sip_peer *to, const char *buf, size_t len)
{
	(void)ctx;
	if (!loopback(to)) {
		char a[64];
		log_debug("not sending to %s: tests stay on loopback", sip_peer_format(to, a, sizeof(a)));
		return -1;
	}
	return sip_tp_send(tp, to, buf, len);
}

static void recv_hook(void *ctx, const char *buf, size_t len, const struct sip_peer *from)
{
	(void)ctx;
	sip_proxy_input(proxy, buf, len, from);
}

static const struct route *find_route(sip_str user)
{
	for (int i = 0; i < nroutes; i++)
		if (sip_str_eq(user, sip_str_make(routes[i].user, strlen(routes[i].user))))
			return &routes[i];
	return NULL;
}

/* ---- digest authentication (--auth-realm) ---- */

struct auth_user {
	const char *name;
	char *password;                             /* in argv until auth_setup wipes it */
	char ha1[DIGEST_ALG_COUNT][DIGEST_HEX_MAX]; /* indexed by base algorithm */
};

static struct {
	const char *realm;
	unsigned algs;
	struct digest_config cfg;
	struct digest_ctx *ctx;
	struct auth_user users[16];
	int nusers;
	unsigned long long ok, challenged, stale, bad_response, unknown_user, bad_nonce, replay,
		malformed, errors;
} auth = {.algs = DIGEST_ALGS_DEFAULT};

static int auth_add_user(char *spec)
{
	char *colon = strchr(spec, ':');
	if (!colon || colon == spec || auth.nusers == 16)
		return -1;
	*colon = 0;
	auth.users[auth.nusers].name = spec;
	auth.users[auth.nusers++].password = colon + 1;
	return 0;
}

static int auth_parse_algs(const char *spec)
{
	auth.algs = 0;
	while (*spec) {
		size_t n = strcspn(spec, ",");
		enum digest_alg alg;
		if (digest_alg_parse(sip_str_make(spec, n), &alg) < 0)
			return -1;
		auth.algs |= DIGEST_ALG_BIT(alg);
		spec += n + (spec[n] == ',');
	}
	return auth.algs ? 0 : -1;
}

/* Computes every user's HA1 for each base algorithm (whatever is offered,
 * so that credentials for an algorithm we did not offer fail on their nonce,
 * not on a missing HA1) and wipes the passwords. */
static void auth_setup(void)
{
	if (!auth.realm) {
		if (auth.nusers)
			fatalx("--user needs --auth-realm");
		return;
	}
	char why[256];
	auth.ctx = digest_ctx_new(&auth.cfg, why, sizeof(why));
	if (!auth.ctx)
		fatalx("digest: %s", why);
	static const enum digest_alg bases[] = {DIGEST_ALG_MD5, DIGEST_ALG_SHA256,
						DIGEST_ALG_SHA512_256};
	for (int i = 0; i < auth.nusers; i++) {
		struct auth_user *u = &auth.users[i];
		for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++)
			if (digest_ha1(bases[b], u->name, auth.realm, u->password, u->ha1[bases[b]]) < 0)
				u->ha1[bases[b]][0] = 0; /* OpenSSL lacks it: DIGEST_ERROR */
		explicit_bzero(u->password, strlen(u->password));
		u->password = NULL;
	}
}

/* Answers 407 with one Proxy-Authenticate per algorithm offered. */
static void auth_challenge(struct sip_proxy_ctx *pc, bool stale)
{
	char values[8192], extra[8192];
	int n = digest_challenge(auth.ctx, sip_str_make(auth.realm, strlen(auth.realm)), stale,
				 auth.algs, time(NULL), values, sizeof(values));
	if (n < 0) {
		auth.errors++;
		sip_proxy_reply(pc, 500, NULL, NULL);
		return;
	}
	size_t len = 0;
	const char *v = values;
	for (int i = 0; i < n && len < sizeof(extra); i++, v += strlen(v) + 1)
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "Proxy-Authenticate: %s\r\n", v);
	auth.challenged++;
	sip_proxy_reply(pc, 407, NULL, extra);
}

/* True when req may be routed; otherwise it has been answered. */
static bool auth_check(struct sip_proxy_ctx *pc, struct sip_msg *req)
{
	if (!auth.ctx || req->method_id == SIP_METHOD_ACK || req->method_id == SIP_METHOD_CANCEL)
		return true;
	sip_str realm = sip_str_make(auth.realm, strlen(auth.realm));
	sip_str callid = sip_msg_call_id(req);
	struct sip_hdr *h = digest_find_credentials(req, SIP_HDR_PROXY_AUTHORIZATION, realm, NULL);
	if (!h) {
		auth_challenge(pc, false);
		return false;
	}
	const struct sip_auth *cred = h->v.auth;
	const struct auth_user *u = NULL;
	for (int i = 0; i < auth.nusers && !u; i++)
		if (sip_str_eq(cred->username, sip_str_make(auth.users[i].name, strlen(auth.users[i].name))))
			u = &auth.users[i];
	if (!u) {
		/* answered like a wrong password: no hint which users exist */
		auth.unknown_user++;
		log_info("%.*s: %.*s: unknown user %.*s, challenged again", (int)callid.len, callid.s,
			 (int)req->method.len, req->method.s, (int)cred->username.len, cred->username.s);
		auth_challenge(pc, false);
		return false;
	}
	enum digest_alg alg = DIGEST_ALG_MD5;
	(void)digest_alg_parse(cred->algorithm, &alg); /* unknown: digest_verify says so */
	char why[256];
	enum digest_result r = digest_verify(auth.ctx, cred, req->method, realm,
					     u->ha1[digest_alg_base(alg)], time(NULL), why, sizeof(why));
	if (r == DIGEST_OK) {
		auth.ok++;
		return true;
	}
	log_info("%.*s: %.*s from %s: %s (%s)", (int)callid.len, callid.s, (int)req->method.len,
		 req->method.s, u->name, digest_result_name(r), why);
	switch (r) {
	case DIGEST_STALE: auth.stale++; auth_challenge(pc, true); break;
	case DIGEST_BAD_RESPONSE: auth.bad_response++; auth_challenge(pc, false); break;
	case DIGEST_BAD_NONCE: auth.bad_nonce++; auth_challenge(pc, false); break;
	case DIGEST_REPLAY: auth.replay++; sip_proxy_reply(pc, 403, NULL, NULL); break;
	case DIGEST_MALFORMED: auth.malformed++; sip_proxy_reply(pc, 400, NULL, NULL); break;
	default: auth.errors++; sip_proxy_reply(pc, 500, NULL, NULL); break;
	}
	return false;
}

static void route_hook(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *req)
{
	(void)ctx;
	if (!auth_check(pc, req))
		return;
	const struct route *r = find_route(req->ruri.user.len ? req->ruri.user : req->ruri.host);
	if (!r) {
		sip_proxy_reply(pc, 404, NULL, NULL);
		return;
	}
	if (r->reply) {
		sip_proxy_reply(pc, r->reply, NULL, NULL);
		return;
	}
	unsigned group = 0;
	const char *s = r->targets;
	while (*s) {
		size_t n = strcspn(s, ",|");
		if (sip_proxy_add_target(pc, s, n, group) < 0)
			log_warnx("bad target %.*s", (int)n, s);
		s += n;
		if (*s == '|')
			group++;
		if (*s)
			s++;
	}
	sip_proxy_start(pc);
}

/* A connection that failed after we queued a request on it: its
 * transactions end now, so the proxy can fail over without Timer B. */
static void on_transport_error(void *ctx, const struct sip_peer *peer)
{
	(void)ctx;
	sip_txn_transport_failed(sip_proxy_txn_layer(proxy), peer);
}

static void on_stop(struct ev_loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	ev_break(loop);
}

static int add_route(const char *spec, bool reply)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(routes[0].user) || nroutes >= 64)
		return -1;
	struct route *r = &routes[nroutes++];
	memcpy(r->user, spec, (size_t)(eq - spec));
	if (reply) {
		r->reply = (unsigned)atoi(eq + 1);
		return r->reply >= 300 && r->reply <= 699 ? 0 : -1;
	}
	r->targets = eq + 1;
	return 0;
}

/* long-only options */
enum { OPT_AUTH_REALM = 1000, OPT_USER, OPT_AUTH_ALGS, OPT_NONCE_LIFETIME };

/* --dns: the server next hops by name are looked up at */
enum { OPT_DNS = 1100 };
static const char *dns_server;
static struct sip_resolver *resolver;

static void dns_setup(struct ev_loop *loop, struct sip_proxy_opts *po)
{
	if (!dns_server)
		return;
	struct sip_resolver_opts ro = {.servers = dns_server, .timeout_ms = 300, .tries = 2, .hosts_file = ""};
	for (int t = 0; t < SIP_TP_COUNT; t++)
		if (po->port[t])
			ro.transports |= SIP_TP_BIT(t);
	char err[256];
	if (sip_resolver_opts_check(&ro, err, sizeof(err)) < 0)
		fatalx("--dns %s: %s", dns_server, err);
	resolver = sip_resolver_new(loop, &ro);
	if (!resolver)
		fatalx("--dns %s: out of memory", dns_server);
	po->resolver = resolver;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'H'},  {"listen", required_argument, NULL, 'l'},
		{"target", required_argument, NULL, 't'}, {"reply", required_argument, NULL, 'r'},
		{"recurse", no_argument, NULL, 'R'},      {"no-record-route", no_argument, NULL, 'N'},
		{"cert", required_argument, NULL, 'c'},   {"key", required_argument, NULL, 'k'},
		{"ca", required_argument, NULL, 'a'},     {"verbose", no_argument, NULL, 'v'},
		{"t1", required_argument, NULL, 'T'},
		{"dns", required_argument, NULL, OPT_DNS},
		{"auth-realm", required_argument, NULL, OPT_AUTH_REALM},
		{"user", required_argument, NULL, OPT_USER},
		{"auth-algs", required_argument, NULL, OPT_AUTH_ALGS},
		{"nonce-lifetime", required_argument, NULL, OPT_NONCE_LIFETIME},
		{NULL, 0, NULL, 0},
	};
	const char *listen[8];
	int nlisten = 0;
	struct sip_proxy_opts po = {.host = "127.0.0.1", .record_route = true, .supported = "100rel,timer"};
	struct sip_tp_opts to = {0};
	int c;
	log_init("testproxy", LOG_TO_STDERR, LOG_INFO);
	while ((c = getopt_long(argc, argv, "H:l:t:r:Rvc:k:a:NT:", opts, NULL)) != -1) {
		switch (c) {
		case 'H': po.host = optarg; break;
		case 'l':
			if (nlisten == 8)
				fatalx("too many listeners");
			listen[nlisten++] = optarg;
			break;
		case 't':
			if (add_route(optarg, false) < 0)
				fatalx("bad --target %s", optarg);
			break;
		case 'r':
			if (add_route(optarg, true) < 0)
				fatalx("bad --reply %s", optarg);
			break;
		case 'R': po.recurse_3xx = true; break;
		case 'N': po.record_route = false; break;
		case 'c': to.tls_cert = optarg; break;
		case 'k': to.tls_key = optarg; break;
		case 'a': to.tls_ca = optarg; to.verify_servers = true; break;
		case 'v': log_setlevel(LOG_DEBUG); break;
		case 'T':
			po.timers.t1 = (uint32_t)atoi(optarg);
			po.timers.t2 = 8 * po.timers.t1;
			po.timers.t4 = 10 * po.timers.t1;
			break;
		case OPT_AUTH_REALM: auth.realm = optarg; break;
		case OPT_USER:
			if (auth_add_user(optarg) < 0)
				fatalx("bad --user (NAME:PASSWORD, at most 16)");
			break;
		case OPT_AUTH_ALGS:
			if (auth_parse_algs(optarg) < 0)
				fatalx("bad --auth-algs %s", optarg);
			break;
		case OPT_NONCE_LIFETIME: auth.cfg.lifetime = (unsigned)atoi(optarg); break;
		case OPT_DNS: dns_server = optarg; break;
		default:
			fprintf(stderr, "usage: testproxy --host H -l proto:host:port... [--target U=URI...]\n");
			return 2;
		}
	}
	auth_setup();
	signal(SIGPIPE, SIG_IGN);
	struct ev_loop *loop = ev_loop_new();
	char err[256];
	tp = sip_tp_new(loop, &to, recv_hook, NULL, err, sizeof(err));
	if (!tp)
		fatalx("transport: %s", err);
	int idx[8];
	for (int i = 0; i < nlisten; i++) {
		enum sip_transport t;
		if (!strncmp(listen[i], "udp:", 4))
			t = SIP_TP_UDP;
		else if (!strncmp(listen[i], "tcp:", 4))
			t = SIP_TP_TCP;
		else if (!strncmp(listen[i], "tls:", 4))
			t = SIP_TP_TLS;
		else
			fatalx("listener %s: want udp:, tcp: or tls:", listen[i]);
		idx[i] = sip_tp_listen(tp, t, listen[i] + 4, err, sizeof(err));
		if (idx[i] < 0)
			fatalx("listen %s: %s", listen[i], err);
		po.port[t] = sip_tp_local_port(tp, idx[i]);
	}
	dns_setup(loop, &po);
	struct sip_proxy_hooks ph = {.send = send_hook, .route = route_hook};
	proxy = sip_proxy_new(loop, &po, &ph);
	if (!proxy)
		fatalx("proxy: out of memory");
	sip_tp_on_error(tp, on_transport_error, NULL);
	ev_signal_add(loop, SIGTERM, on_stop, NULL);
	ev_signal_add(loop, SIGINT, on_stop, NULL);
	printf("ready udp=%u tcp=%u tls=%u\n", po.port[SIP_TP_UDP], po.port[SIP_TP_TCP], po.port[SIP_TP_TLS]);
	fflush(stdout);
	ev_run(loop);

	struct sip_proxy_stats ps;
	sip_proxy_get_stats(proxy, &ps);
	struct sip_txn_stats ts;
	sip_txn_get_stats(sip_proxy_txn_layer(proxy), &ts);
	log_info("requests=%llu forwarded=%llu local=%llu loops=%llu hops=%llu cancels=%llu "
		 "rejected=%llu retransmissions-absorbed=%llu",
		 (unsigned long long)ps.requests, (unsigned long long)ps.forwarded,
		 (unsigned long long)ps.answered_locally, (unsigned long long)ps.loops,
		 (unsigned long long)ps.too_many_hops, (unsigned long long)ps.cancels,
		 (unsigned long long)ts.rejected, (unsigned long long)ts.retransmissions_absorbed);
	log_info("contexts=%zu transactions=%zu (still alive at exit)", ps.contexts, ts.active);
	struct sip_tp_stats tps;
	sip_tp_get_stats(tp, &tps);
	log_info("conns-accepted=%llu tls-handshake-failures=%llu send-errors=%llu",
		 (unsigned long long)tps.conns_accepted, (unsigned long long)tps.tls_handshake_failures,
		 (unsigned long long)tps.send_errors);
	if (auth.ctx)
		log_info("auth ok=%llu challenged=%llu stale=%llu bad-response=%llu unknown-user=%llu "
			 "bad-nonce=%llu replay=%llu malformed=%llu errors=%llu",
			 auth.ok, auth.challenged, auth.stale, auth.bad_response, auth.unknown_user,
			 auth.bad_nonce, auth.replay, auth.malformed, auth.errors);
	digest_ctx_free(auth.ctx);
	if (resolver)
		log_info("failovers=%llu dns-failures=%llu", (unsigned long long)ps.failovers,
			 (unsigned long long)ps.dns_failures);
	sip_proxy_free(proxy);
	sip_resolver_free(resolver);
	sip_tp_free(tp);
	ev_loop_free(loop);
	return 0;
}
