/*
 * featured: the feature server (ARCHITECTURE.md, "The call path"). A
 * proxy on the common proxy core that redirectd sends INVITEs to with a
 * signed vocal-hop parameter (feature_hop.h) naming the hop: the calling
 * side of the caller or the called side of the target, and the feature
 * group. featured runs that subscriber's features of that side and group
 * (one CPL script, generated from the settings or uploaded, the
 * carrier-locked features running before an uploaded one; plus the
 * native caller-ID blocking and call return) and continues the call
 * through redirectd. It does not record-route: no feature needs the
 * dialog.
 *
 * Modules: table (the subscriptions in memory and the compiled-script
 * cache), load (PostgreSQL: loading, NOTIFY, last callers), script (a
 * hop's rows to a compiled script), call (the proxy core's hooks: a call
 * run by CPL replay across asynchronous attempts), target, privacy, mail
 * (CPL <mail>: the mailto URL, the message, the mail command); conf
 * and setup; main.c wires them to sockets, the database and signals.
 */
#ifndef VOCAL_FEATURE_FEATURED_H
#define VOCAL_FEATURE_FEATURED_H

#include <stdbool.h>
#include <stdint.h>

#include "feature/conf.h"
#include "feature/cpl.h"
#include "feature/mail.h"
#include "feature/table.h"
#include "ev.h"
#include "feature_hop.h"
#include "idset.h"
#include "sip/peer.h"
#include "sip/proxy.h"

struct store;
struct pgq;
struct script_intern;

struct featured_stats {
	uint64_t calls, refused_untrusted, refused_hop, overload_503, scripts_compiled,
		script_errors, run_errors, attempts, rejected, redirected, forwarded, anonymized,
		callers_recorded, call_returns;
	struct mailer_stats mail; /* CPL <mail>: sent, failed, dropped (limits), refused, off */
};

struct featured {
	const struct featured_conf *conf;
	struct ev_loop *loop;
	struct sip_proxy *proxy;
	struct store *store;
	struct pgq *q;
	struct feature_table *table;
	struct feature_cache *cache;
	struct script_intern *intern; /* compiled scripts shared by text */
	struct mailer *mailer;        /* CPL <mail> */
	uint64_t mail_seq;            /* Message-IDs */
	uint32_t limits_gen;          /* bumped when the script limits change */
	uint8_t key[FEATURE_HOP_KEY_LEN];
	struct cpl_limits limits;
	char host[256];
	uint16_t port[SIP_TP_COUNT];
	char redirect_uri[300];
	bool force_redirect;   /* the next target added goes to redirectd */
	bool draining;
	/* the full load in progress */
	bool loading;
	uint64_t load_gen;
	/* subscribers whose features wait for their batched reload (load.c) */
	struct idset feat_pending;
	struct ev_timer feat_flush;
	uint64_t feat_reloads, feat_batches, feat_run;
	unsigned feat_inflight;
	struct featured_stats stats;
};

/* setup.c: applies a configuration (at start and on SIGHUP): the secret,
 * the redirect server, the cache size, the script limits, mail, the log level.
 * Returns 0, or -1 after logging why. */
int featured_configure(struct featured *f, const struct featured_conf *c);
void featured_unconfigure(struct featured *f);

/* load.c: declares the statements on f->q (call before the connection is
 * up); featured_db_up reloads every subscription; featured_db_changed (the
 * store's changed hook) reloads a subscriber's when the store reloaded
 * the subscriber (its subscriber_features rows changed: a NOTIFY), batched:
 * the subscribers changed within a few milliseconds are fetched with one
 * query per 1,000. */
int featured_db_prepare(struct featured *f);
void featured_db_up(void *ctx);
void featured_db_changed(void *ctx, const char *table, int64_t id);
/* Drops the subscribers waiting for their reload (at exit). */
void featured_db_close(struct featured *f);
/* Records caller as sub_id's last caller (not waited for). */
void featured_db_record_caller(struct featured *f, int64_t sub_id, const char *caller);
/* Asks for sub_id's last caller: cb(arg, caller or NULL, err) later. */
int featured_db_last_caller(struct featured *f, int64_t sub_id,
			    void (*cb)(void *arg, const char *caller, const char *err), void *arg);

/* script.c: the compiled form of sub_id's features of side in group_id,
 * from the cache or compiled now (a reference: release with
 * feature_compiled_release). NULL: no features there (or no memory). */
struct feature_compiled *featured_compiled(struct featured *f, int64_t sub_id, const char *user,
					   const char *domain, unsigned side, int64_t group_id,
					   sip_str call_id);

/* call.c: the proxy core's hooks (ctx: the struct featured). */
void featured_route(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *req);
const char *featured_outbound(void *ctx, struct sip_proxy_ctx *pc, const struct sip_uri *target);
unsigned featured_admit(void *ctx, struct sip_msg *req, const struct sip_peer *from, char *extra,
			size_t cap);
void featured_final(void *ctx, struct sip_proxy_ctx *pc, unsigned status);
/* A 3xx featured recurses on: failover only for redirectd's answers
 * that send the call into a feature hop (feature_hop_redirect). */
enum sip_proxy_recursion featured_recursion(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *resp);
/* An attempt of pc ended without a 2xx: the outcome goes to the script,
 * run again. Returns true when featured took over (a new attempt or its
 * own answer), false to let the proxy answer with the best response. */
bool featured_failed(void *ctx, struct sip_proxy_ctx *pc, unsigned status, const struct sip_msg *best);

#endif
