/*
 * guard: the defence against password guessing and scanners, of the edge
 * proxy (SIP digest) and of provd (web logins).
 *
 * It counts failed authentications per source address and per user
 * (user@domain) in a window, and bans an address or a user for a while
 * when its count reaches a limit. The marshal asks guard_addr_banned for
 * every datagram before parsing it and drops silently what a banned
 * address sends; it answers 403 (not a new challenge) to a banned user.
 *
 * Memory is fixed at guard_new: each table (addresses, users) has a
 * capacity, and when it is full the entry that failed least recently makes
 * room (LRU). Bans live in the same table but on their own list, capped at
 * half of it, so a flood of one-failure sources (spoofed UDP) evicts only
 * counts, never a ban. Every operation is O(1) on average; buckets are
 * chosen by SipHash with a random key, so an attacker who picks source
 * addresses or user names cannot pile them into one chain.
 *
 * Addresses: IPv4, and IPv6 counted per prefix (default /64, since one
 * subscriber line owns a whole /64 and can rotate through it); an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address. Ports
 * never matter. Addresses in the allowlist (the platform's own servers,
 * trusted networks) are never counted nor banned.
 *
 * A success does not reset an address's count: an attacker who owns one
 * valid account could otherwise clear it between guesses. It resets the
 * user's count unless the configuration says otherwise.
 *
 * Time is the caller's monotonic clock in milliseconds (ev_now), so tests
 * drive it. Not thread-safe: one guard per event loop.
 */
#ifndef VOCAL_GUARD_H
#define VOCAL_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sip/str.h"

/* Bytes of "user@domain" a user entry keeps; longer names are counted
 * under their first GUARD_USER_MAX bytes. */
#define GUARD_USER_MAX 128

enum guard_window {
	/* Count = failures in the current window plus those of the previous
	 * one weighted by how much of it still overlaps the last window_ms
	 * (two counters, no timestamps per failure). No burst of twice the
	 * limit across a window edge, unlike a fixed window. */
	GUARD_WINDOW_SLIDING = 0,
	/* Count = failures since the window opened (at the first failure);
	 * it starts again from zero window_ms later. */
	GUARD_WINDOW_FIXED,
};

struct guard_config {
	enum guard_window window;
	uint32_t window_ms;      /* 0 = 60000 */
	unsigned addr_limit;     /* failures per address that start a ban; 0 = never */
	unsigned user_limit;     /* failures per user that start a ban; 0 = never */
	uint32_t addr_ban_ms;    /* 0 = 300000 */
	uint32_t user_ban_ms;    /* 0 = 300000 */
	uint32_t addr_capacity;  /* entries; 0 = 65536; at least 2 */
	uint32_t user_capacity;  /* entries; 0 = 65536; at least 2 */
	unsigned v6_prefix;      /* bits of an IPv6 address that count; 0 = 64; 1..128 */
	bool success_keeps_user; /* a success leaves the user's count alone */
};

/* The defaults: sliding 60 s window, 10 failures per address, 5 per user,
 * bans of 300 s, 65536 entries per table, IPv6 per /64. */
void guard_config_defaults(struct guard_config *cfg);

enum guard_kind {
	GUARD_ADDR = 1,
	GUARD_USER = 2,
};

/* A ban that has just started, for the caller's log line and trap. */
struct guard_ban {
	enum guard_kind kind;
	const char *who;       /* "192.0.2.7", "2001:db8:1:2::/64" or "alice@example.com" */
	unsigned failures;     /* the count that reached the limit */
	uint64_t until_ms;     /* when it ends, on the caller's clock */
};

typedef void (*guard_ban_fn)(void *arg, const struct guard_ban *ban);

struct guard_stats {
	uint64_t failures;       /* guard_auth_failed calls */
	uint64_t addr_bans;      /* address bans started */
	uint64_t user_bans;      /* user bans started */
	uint64_t drops;          /* guard_addr_banned answers "banned" (datagrams dropped) */
	uint64_t user_rejects;   /* guard_user_banned answers "banned" (403s) */
	uint64_t evictions;      /* live counts pushed out by a full table */
	uint64_t ban_evictions;  /* bans ended early by the ban cap */
	size_t addr_entries;     /* entries in use (counting and banned) */
	size_t user_entries;
	size_t addr_banned;      /* bans in the tables, some maybe past their end until
	                            guard_expire or a lookup removes them */
	size_t user_banned;
};

struct guard;

/* Creates a guard with its tables at full size (cfg NULL: the defaults),
 * and the default scanner list. Returns NULL with err set on a bad
 * configuration or no memory. */
struct guard *guard_new(const struct guard_config *cfg, char *err, size_t errlen);
void guard_free(struct guard *g);

/* Called for every ban that starts, inside guard_auth_failed. */
void guard_set_ban_cb(struct guard *g, guard_ban_fn fn, void *arg);

/* Adds a network that is never counted nor banned: "10.0.0.0/8",
 * "2001:db8::/32", or a single address. Host bits past the prefix are
 * ignored. Returns 0, or -1 with err set. */
int guard_allow(struct guard *g, const char *cidr, char *err, size_t errlen);
/* True when sa is in the allowlist. */
bool guard_allowed(const struct guard *g, const struct sockaddr *sa);

/* The per-datagram check: true when sa is banned now (counted in drops).
 * One hash lookup, none while no address is banned. Other families than
 * AF_INET/AF_INET6 are never banned. */
bool guard_addr_banned(struct guard *g, const struct sockaddr *sa, uint64_t now_ms);

/* True when user@domain is banned now (counted in user_rejects): answer
 * 403. The domain is compared case-insensitively, the user exactly. */
bool guard_user_banned(struct guard *g, sip_str user, sip_str domain, uint64_t now_ms);

/* Records a failed authentication from src (NULL: unknown) for user@domain
 * (an empty user: none). Returns the bans it started, GUARD_ADDR |
 * GUARD_USER bits, 0 for none; the ban callback has run for each. A
 * banned address or user is not counted again (its ban does not grow). */
unsigned guard_auth_failed(struct guard *g, const struct sockaddr *src, sip_str user,
			   sip_str domain, uint64_t now_ms);

/* Records a successful authentication: clears the user's count (unless
 * success_keeps_user), never the address's, and never ends a ban. */
void guard_auth_ok(struct guard *g, const struct sockaddr *src, sip_str user, sip_str domain,
		   uint64_t now_ms);

/* Ends a ban (or a count) early, for an operator. Returns 0, -1 if none. */
int guard_unban_addr(struct guard *g, const struct sockaddr *sa);
int guard_unban_user(struct guard *g, sip_str user, sip_str domain);

/* Frees ended bans and counts that have fallen out of the window, oldest
 * first; call it now and then (e.g. every second) so that the stats show
 * live entries. Lookups expire what they meet anyway. Returns how many. */
size_t guard_expire(struct guard *g, uint64_t now_ms);

/* Replaces the scanner user-agent list: case-insensitive substrings, copied.
 * n = 0 empties it. Returns 0, -1 on no memory (the old list stays). */
int guard_set_scanners(struct guard *g, const char *const *subs, size_t n);
/* True when the User-Agent contains one of the scanner substrings. */
bool guard_is_scanner(const struct guard *g, sip_str user_agent);
/* The default list: NULL-terminated. */
extern const char *const guard_default_scanners[];

void guard_get_stats(const struct guard *g, struct guard_stats *out);

#endif
