/*
 * Bindings in PostgreSQL: the location service's write-through, its load
 * at start-up, and the sync between redirectd instances.
 *
 * Write-through: every change the registrar makes is written at once
 * (pipelined on the pgq connection), and the REGISTER's 200 waits for the
 * writes of its batch, so a registration that was answered is in the
 * database. While the database is down (or a write fails, or takes over a
 * second), changes stay in memory: the AOR is marked dirty, the REGISTER
 * is answered from memory, and dirty AORs are written whole (rows deleted,
 * bindings inserted) every second while connected. When the connection
 * comes back, every AOR is also reloaded, since the other instances'
 * notifications were missed meanwhile. The dirty set is bounded only by
 * the number of AORs, which memory holds anyway.
 *
 * Sync: each instance names itself (vocal.origin, 002_location_sync.sql);
 * a notification from another origin reloads that AOR from the database.
 */
#ifndef VOCAL_REDIRECT_PERSIST_H
#define VOCAL_REDIRECT_PERSIST_H

#include <stdbool.h>
#include <stdint.h>

#include "redirect/location.h"

struct ev_loop;
struct pgq;
struct persist;

/* Declares the statements on q. origin: this instance's name. */
struct persist *persist_new(struct ev_loop *loop, struct pgq *q, struct location *loc,
			    const char *origin, uint64_t sweep_ms);
void persist_free(struct persist *p);

/* The location service's changed hook (ctx: the persist). */
void persist_changed(void *ctx, int64_t subscriber_id, const struct binding *b, enum location_op op);

/* Groups the writes of one REGISTER: begin, registrar_register (whose
 * changes call persist_changed), end. done(arg) runs once every write of
 * the batch has finished (failed writes leave their AOR dirty); at once,
 * from inside persist_end, when there was nothing to wait for. */
void persist_begin(struct persist *p);
void persist_end(struct persist *p, void (*done)(void *arg), void *arg);

/* The pgq's up hook: writes dirty AORs, then reloads everything. */
void persist_up(struct persist *p);
/* A location_bindings notification (store's other hook). */
void persist_notify(struct persist *p, const char *op, int64_t subscriber_id, const char *payload);

/* True once bindings were loaded from the database at least once. */
bool persist_loaded(const struct persist *p);

struct persist_stats {
	uint64_t writes, write_errors, aor_reloads, full_loads, notifications_own, resyncs;
	size_t dirty;
};
void persist_get_stats(const struct persist *p, struct persist_stats *out);

#endif
