/*
 * What every SIP daemon's main() does the same way: listening on the
 * configured addresses, the database link (pgq) with the provisioning
 * cache (store) on it, and a graceful drain on SIGTERM.
 */
#ifndef VOCAL_SIPD_H
#define VOCAL_SIPD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "sip/peer.h"

struct ev_loop;
struct pgq;
struct sip_tp;
struct store;
struct store_hooks;

/*
 * Listens on every address of addrs (config_addr items, numeric hosts) on
 * every transport whose bit (1 << enum sip_transport) is in tp_mask. The
 * ports bound go into port[] (the last listener of each transport wins;
 * daemons listen on one port per transport), and the first address's host
 * into host (for Via and Record-Route) unless host is already set.
 * Returns 0, or -1 with err set.
 */
int sipd_listen(struct sip_tp *tp, const struct config_list *addrs, unsigned tp_mask,
		uint16_t port[SIP_TP_COUNT], char *host, size_t hostcap, char *err, size_t errlen);

struct sipd_db {
	struct pgq *q;
	struct store *store;
	/* Called after the store's own reaction, when the connection comes
	 * up (again); may be NULL. */
	void (*up)(void *ctx);
	void *ctx;
};

/* Connects (in the background) to conninfo and loads the store over it,
 * listening on vocal_changes and, with bindings, on vocal_bindings too
 * (registrations: redirectd). Returns 0, or -1 (no memory). */
int sipd_db_open(struct sipd_db *db, struct ev_loop *loop, const char *conninfo, bool bindings,
		 const struct store_hooks *hooks);
void sipd_db_close(struct sipd_db *db);

/*
 * Graceful stop: calls busy(ctx) every 100 ms and breaks the loop once it
 * returns false, or after max_ms at the latest.
 */
void sipd_drain(struct ev_loop *loop, bool (*busy)(void *ctx), void *ctx, uint64_t max_ms);

/* For a daemon on the proxy core (marshald, featured). */
struct sip_proxy;

/* The transport's error hook (sip_tp_on_error) with ctx the proxy: the
 * transactions waiting on that peer fail at once. */
void sipd_proxy_transport_failed(void *proxy, const struct sip_peer *peer);

/* SIGTERM's drain: the daemon already answers new requests 503 (its admit
 * hook, once it set its draining flag); this ends the loop when the proxy
 * has no request left unanswered, after 32 s at the latest. */
void sipd_proxy_drain(struct ev_loop *loop, struct sip_proxy *proxy);

/*
 * Every 30 s gives the heap freed since (a registration storm's
 * transaction tails, a reload's old copy) back to the kernel with
 * malloc_trim: glibc keeps freed memory otherwise, and resident memory is
 * what operators watch and size machines by.
 */
void sipd_trim_start(struct ev_loop *loop);

#endif
