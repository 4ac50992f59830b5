/*
 * The location service (RFC 3261 10.3): every AOR's current bindings, in
 * memory, for the registrar to change and the router to read.
 *
 * An AOR is a subscriber id. Its bindings form a list ordered by q
 * (highest first), then most recently updated first, which is the order a
 * 302 lists them in. The table of AORs is open-addressed (one 16-byte slot
 * per AOR, no allocation per AOR) and grows; a binding is one allocation
 * holding all its strings.
 *
 * Expiry: one min-heap of bindings by expires_at and one ev_timer for the
 * earliest of them, rather than an ev_timer per binding: a timer would cost
 * 32 bytes per binding and put 100,000 entries in the loop's heap beside the
 * transactions' timers; the heap costs 12 bytes per binding. Expiry is in
 * unix seconds from the injected clock; the timer is re-armed at most a
 * minute ahead, so a step of the wall clock is noticed within a minute.
 *
 * Hooks: changed() runs after every change the registrar makes and for
 * every binding that expires, so that the daemon writes it to the
 * database. Changes that came from the database (location_replace,
 * location_insert_loaded) do not call it. A hook must not change the
 * location service.
 */
#ifndef VOCAL_REDIRECT_LOCATION_H
#define VOCAL_REDIRECT_LOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/str.h"

struct ev_loop;
struct location;

/* Largest values the database accepts (provisioning/sql/001_core.sql). */
#define LOCATION_MAX_CONTACT 2048
#define LOCATION_MAX_CALL_ID 256
#define LOCATION_MAX_TEXT    256  /* instance, received, user agent */
#define LOCATION_MAX_PATH    4096
#define LOCATION_MAX_CSEQ    2147483647u
#define LOCATION_Q_DEFAULT   1000 /* q in thousandths */

enum binding_field {
	BINDING_CONTACT,    /* the Contact URI, without the header's parameters */
	BINDING_CALL_ID,
	BINDING_PATH,       /* Path values in order, joined by ',' ("<a>,<b>"), or "" */
	BINDING_INSTANCE,   /* +sip.instance without its quotes ("<urn:uuid:...>"), or "" */
	BINDING_RECEIVED,   /* where the REGISTER came from ("udp:192.0.2.1:5060"), or "" */
	BINDING_USER_AGENT, /* or "" */
	BINDING_NFIELDS
};

/* A binding. Read-only outside location.c; its strings are NUL-terminated,
 * one after the other in text[], read with binding_str/binding_cstr. */
struct binding {
	struct binding *next;    /* next binding of the same AOR */
	int64_t subscriber_id;
	int64_t expires_at;      /* unix seconds */
	uint32_t expires;        /* seconds granted by the last registration */
	uint32_t cseq;
	uint32_t reg_id;         /* RFC 5626 reg-id, 0 when none */
	uint32_t heap_index;     /* position in the expiry heap (internal) */
	uint16_t q;              /* 0..1000 */
	uint16_t len[BINDING_NFIELDS];
	char text[];
};

static inline const char *binding_cstr(const struct binding *b, enum binding_field f)
{
	const char *p = b->text;
	for (int i = 0; i < (int)f; i++)
		p += b->len[i] + 1;
	return p;
}

static inline sip_str binding_str(const struct binding *b, enum binding_field f)
{
	return sip_str_make(binding_cstr(b, f), b->len[f]);
}

/* The values of a binding to store, as slices that need not outlive the
 * call. A flow (RFC 5626) has both instance and reg_id; its key is
 * (instance, reg_id) rather than the contact. */
struct binding_info {
	sip_str contact, call_id, path, instance, received, user_agent;
	uint32_t cseq;
	uint32_t reg_id;
	uint16_t q;
	uint32_t expires;
	int64_t expires_at;
};

enum location_op { LOCATION_ADDED, LOCATION_UPDATED, LOCATION_REMOVED, LOCATION_EXPIRED };

struct location_hooks {
	void *ctx;
	/* b is the binding as it now is (ADDED, UPDATED) or as it was
	 * (REMOVED, EXPIRED; freed after the call). May be NULL. */
	void (*changed)(void *ctx, int64_t subscriber_id, const struct binding *b,
			enum location_op op);
};

struct location_opts {
	struct ev_loop *loop;   /* for the expiry timer; NULL: call location_expire yourself */
	int64_t (*now)(void *arg); /* unix seconds; NULL: time(NULL) */
	void *now_arg;
	struct location_hooks hooks;
};

/* Returns a new, empty location service, or NULL on no memory. */
struct location *location_new(const struct location_opts *opts);
/* Frees everything without calling the hooks. */
void location_free(struct location *loc);

/* The clock the service runs on (unix seconds). */
int64_t location_now(const struct location *loc);

/* The AOR's first binding (follow ->next), or NULL. Valid until the next
 * change; bindings already due but not yet swept may be in the list. */
const struct binding *location_lookup(const struct location *loc, int64_t subscriber_id);

/* Number of bindings of one AOR. */
size_t location_count(const struct location *loc, int64_t subscriber_id);

/* ---- changes by the registrar (they call the changed hook) -------------- */

/* Makes sure that one more AOR and n more bindings fit without allocating,
 * so that a registration can be applied whole or not at all. 0 or -1. */
int location_reserve(struct location *loc, size_t n);

/* Allocates an unlinked binding from info (one allocation). NULL on no
 * memory or when a field is longer than its LOCATION_MAX_*. */
struct binding *location_binding_new(const struct binding_info *info);
/* Frees a binding that was never given to location_put. */
void location_binding_free(struct binding *b);

/* Puts b into the AOR's list in its q place, before the bindings of equal
 * q, replacing old (a binding of that AOR, or NULL to add). Takes b, frees
 * old. Calls changed(UPDATED) when old was given, else changed(ADDED).
 * Cannot fail after location_reserve(loc, 1) for this binding. */
void location_put(struct location *loc, int64_t subscriber_id, const struct binding *old,
		  struct binding *b);

/* Removes and frees one binding of the AOR; calls changed(REMOVED). */
void location_remove(struct location *loc, int64_t subscriber_id, const struct binding *b);

/* Removes every binding of the AOR, calling changed(REMOVED) for each. */
void location_remove_all(struct location *loc, int64_t subscriber_id);

/* Removes every binding due at location_now, calling changed(EXPIRED) for
 * each; returns how many. The timer calls this; the registrar too, before
 * it looks at an AOR. */
size_t location_expire(struct location *loc);

/* ---- changes from the database (no hook) --------------------------------- */

/* Replaces the AOR's whole set with v[0..n) (another instance changed it).
 * Bindings already expired are left out. Give v ordered as the list should
 * be (ORDER BY q DESC, updated_at DESC); equal q keeps the given order.
 * n = 0 removes the AOR. Applies whole or not at all: 0, or -1 on no
 * memory or an over-long field. */
int location_replace(struct location *loc, int64_t subscriber_id, const struct binding_info *v,
		     size_t n);

/* Adds one binding at start-up, after those of equal q (so rows loaded
 * ORDER BY subscriber_id, q DESC, updated_at DESC keep their order). A
 * binding with the same key (contact text, or instance and reg_id) is
 * replaced. An expired one is ignored (returns 0). 0 or -1. */
int location_insert_loaded(struct location *loc, int64_t subscriber_id,
			   const struct binding_info *info);

/* ---- reading everything -------------------------------------------------- */

/* Calls fn for every AOR with its first binding (re-writing the database
 * after an outage). fn must not change the location service. */
void location_foreach(const struct location *loc,
		      void (*fn)(void *ctx, int64_t subscriber_id, const struct binding *first),
		      void *ctx);

struct location_stats {
	size_t aors, bindings;
	size_t bytes;            /* heap held: bindings (malloc_usable_size), table, expiry heap */
	size_t binding_bytes;    /* the bindings' part of it */
	uint64_t added, updated, removed, expired, replaced; /* counters since creation */
};
void location_get_stats(const struct location *loc, struct location_stats *out);

#endif
