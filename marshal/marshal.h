/*
 * The marshal: the platform's edge proxy (ARCHITECTURE.md). Phones (kind
 * ua) or a PSTN gateway (kind gateway) talk to it; it authenticates them,
 * refuses what did not come through it, asks the redirect server where
 * every new request goes (forwarding REGISTER to it, following its 302
 * for the rest), and record-routes so that it stays in every dialog.
 *
 * This module is the policy on top of the proxy core (sip/proxy.h): the
 * core's route, outbound, admit and recursion hooks. main.c wires it to transports,
 * the database and signals.
 */
#ifndef VOCAL_MARSHAL_H
#define VOCAL_MARSHAL_H

#include <stdbool.h>
#include <stdint.h>

#include "marshal/conf.h"
#include "sip/digest.h"
#include "sip/peer.h"
#include "sip/proxy.h"

struct store;
struct store_domain;
struct store_subscriber;
struct guard;

struct marshal_stats {
	uint64_t registers, calls, auth_ok, auth_challenged, auth_failed, refused_untrusted,
		refused_preloaded_route, refused_no_dialog, overload_503, scanners_dropped,
		banned_dropped, user_banned_403;
};

struct marshal {
	const struct marshal_conf *conf;
	struct ev_loop *loop;
	struct sip_proxy *proxy;
	struct store *store;
	struct guard *guard;
	struct digest_ctx *digest;
	unsigned algs;                  /* DIGEST_ALG_BIT mask offered */
	char host[256];                 /* advertised host (Via, Record-Route, Path) */
	uint16_t port[SIP_TP_COUNT];
	char redirect_uri[300];         /* "sip:host:port" of the redirect server */
	struct sip_peer redirect_peer;
	struct sip_peer gateway_peer;
	bool force_redirect;            /* the next target added goes to redirectd */
	bool draining;                  /* SIGTERM: new requests get 503 */
	struct marshal_stats stats;
};

/* Applies a configuration (at start and on SIGHUP): digest algorithms
 * and nonce settings, the guard's limits, the redirect server and
 * gateway addresses. m->host and m->port must be set. Returns 0, or -1
 * after logging why (the previous configuration stays). */
int marshal_configure(struct marshal *m, const struct marshal_conf *c);
void marshal_unconfigure(struct marshal *m);

/* The proxy core's hooks (ctx: the struct marshal). */
void marshal_route(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *req);
const char *marshal_outbound(void *ctx, struct sip_proxy_ctx *pc, const struct sip_uri *target);
unsigned marshal_admit(void *ctx, struct sip_msg *req, const struct sip_peer *from, char *extra,
		       size_t cap);
enum sip_proxy_recursion marshal_recursion(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *resp);

/* Whether a received datagram or stream message should reach the proxy at
 * all: false for banned addresses (checked before parsing). */
bool marshal_accept_source(struct marshal *m, const struct sip_peer *from);

/* A platform server we trust without authentication: the redirect server,
 * the configured trusted peers, the servers table, and for the gateway
 * kind its gateway. */
bool marshal_trusted(struct marshal *m, const struct sip_peer *from);

/*
 * Authenticates a request from a subscriber (auth.c): digest (401 with
 * WWW-Authenticate for REGISTER, 407 with Proxy-Authenticate otherwise),
 * IP access list, or nothing, by the subscriber's setting; sub NULL is an
 * unknown user of a hosted domain (challenged like anyone, never
 * accepted). Returns true when the request may go on (its credentials for
 * our realm are removed); otherwise it has been answered.
 */
bool marshal_authenticate(struct marshal *m, struct sip_proxy_ctx *pc, struct sip_msg *req,
			  const struct store_subscriber *sub, const struct store_domain *dom);

#endif
