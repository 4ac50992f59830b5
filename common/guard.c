#include "guard.h"

#include "cidr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

const char *const guard_default_scanners[] = {
	"friendly-scanner", "sipvicious", "sipcli", "sip-scan", "VaxSIPUserAgent",
	"iWar", "sundayddr", "SIPBomber", "pplsip", "smap", NULL,
};

#define NIL UINT32_MAX
#define MAX_CAPACITY (UINT32_C(1) << 30)

enum { E_FREE, E_COUNTING, E_BANNED };

/* One slot of a table. Slots sit in one slab with a stride that leaves
 * room for the table's longest key, so a table never allocates after
 * guard_new. */
struct entry {
	uint32_t hnext;      /* hash chain; the free list for free slots */
	uint32_t prev, next; /* its list: counts by last failure, bans by start */
	uint32_t hash;
	uint32_t cur, old;   /* failures in the current window and the previous one */
	uint64_t start;      /* the current window opened */
	uint64_t last;       /* last failure */
	uint64_t until;      /* the ban ends */
	uint8_t state;
	uint8_t keylen;
	unsigned char key[];
};

/* Most recent at the head, least recent at the tail. */
struct list {
	uint32_t head, tail, n;
};

struct table {
	enum guard_kind kind;
	unsigned char *slab;
	size_t stride;
	uint32_t cap, used;  /* used: slots handed out so far (the slab is never walked) */
	uint32_t free;
	uint32_t *bucket;
	uint32_t mask;
	uint32_t ban_cap;    /* bans take at most half of the slots */
	unsigned limit;
	uint32_t ban_ms;
	struct list counts, bans;
};

struct guard {
	struct guard_config cfg;
	uint64_t sipkey[2];
	struct table addr, user;
	struct cidr *allow;
	size_t nallow;
	char **scan;
	size_t *scanlen;
	size_t nscan;
	guard_ban_fn ban_fn;
	void *ban_arg;
	struct guard_stats st;
};

/* ---- SipHash-1-3: bucket choice an attacker cannot predict ------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                  \
	do {                                                                      \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);         \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                            \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                            \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);         \
	} while (0)

static uint64_t siphash13(const uint64_t k[2], const unsigned char *in, size_t len)
{
	uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ k[0];
	uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ k[1];
	uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ k[0];
	uint64_t v3 = UINT64_C(0x7465646279746573) ^ k[1];
	uint64_t b = (uint64_t)len << 56;
	size_t whole = len & ~(size_t)7;
	for (size_t i = 0; i < whole; i += 8) {
		uint64_t m = 0;
		for (int j = 0; j < 8; j++)
			m |= (uint64_t)in[i + j] << (8 * j);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < (len & 7); j++)
		b |= (uint64_t)in[whole + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- tables -------------------------------------------------------------- */

static inline struct entry *ent(const struct table *t, uint32_t i)
{
	return (struct entry *)(void *)(t->slab + (size_t)i * t->stride);
}

static void list_unlink(struct table *t, struct list *l, uint32_t i)
{
	struct entry *e = ent(t, i);
	if (e->prev != NIL)
		ent(t, e->prev)->next = e->next;
	else
		l->head = e->next;
	if (e->next != NIL)
		ent(t, e->next)->prev = e->prev;
	else
		l->tail = e->prev;
	l->n--;
}

static void list_push(struct table *t, struct list *l, uint32_t i)
{
	struct entry *e = ent(t, i);
	e->prev = NIL;
	e->next = l->head;
	if (l->head != NIL)
		ent(t, l->head)->prev = i;
	else
		l->tail = i;
	l->head = i;
	l->n++;
}

static struct list *list_of(struct table *t, const struct entry *e)
{
	return e->state == E_BANNED ? &t->bans : &t->counts;
}

static int table_init(struct table *t, enum guard_kind kind, uint32_t cap, size_t keymax,
		      unsigned limit, uint32_t ban_ms)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->cap = cap;
	t->stride = (offsetof(struct entry, key) + keymax + 7) & ~(size_t)7;
	t->free = NIL;
	t->ban_cap = cap / 2;
	t->limit = limit;
	t->ban_ms = ban_ms;
	t->counts = t->bans = (struct list){NIL, NIL, 0};
	uint32_t nb = 1;
	while (nb < cap)
		nb <<= 1;
	t->mask = nb - 1;
	/* calloc: pages of the slab are touched only as slots are used */
	t->slab = calloc(cap, t->stride);
	t->bucket = malloc((size_t)nb * sizeof(*t->bucket));
	if (!t->slab || !t->bucket)
		return -1;
	memset(t->bucket, 0xff, (size_t)nb * sizeof(*t->bucket));
	return 0;
}

static void table_free(struct table *t)
{
	free(t->slab);
	free(t->bucket);
}

static uint32_t lookup(const struct table *t, const unsigned char *key, size_t len, uint32_t h)
{
	for (uint32_t i = t->bucket[h & t->mask]; i != NIL;) {
		const struct entry *e = ent(t, i);
		if (e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0)
			return i;
		i = e->hnext;
	}
	return NIL;
}

static void release(struct table *t, uint32_t i)
{
	struct entry *e = ent(t, i);
	uint32_t *link = &t->bucket[e->hash & t->mask];
	while (*link != i)
		link = &ent(t, *link)->hnext;
	*link = e->hnext;
	list_unlink(t, list_of(t, e), i);
	e->state = E_FREE;
	e->hnext = t->free;
	t->free = i;
}

/* A count with no failure left in its window. Counts sit in their list by
 * last failure, so the stale ones gather at the tail. */
static bool stale(const struct guard *g, const struct entry *e, uint64_t now)
{
	uint64_t span = g->cfg.window == GUARD_WINDOW_SLIDING ? 2 * (uint64_t)g->cfg.window_ms
							      : g->cfg.window_ms;
	return now >= e->last && now - e->last >= span;
}

/* A free slot: from the free list, the unused end of the slab, or the
 * least recently failing count (a ban only when no count is left, which
 * the ban cap makes impossible but for tiny tables). */
static uint32_t alloc_slot(struct guard *g, struct table *t, uint64_t now)
{
	if (t->free == NIL && t->used < t->cap)
		return t->used++;
	if (t->free == NIL) {
		if (t->counts.n) {
			if (!stale(g, ent(t, t->counts.tail), now))
				g->st.evictions++;
			release(t, t->counts.tail);
		} else {
			g->st.ban_evictions++;
			release(t, t->bans.tail);
		}
	}
	uint32_t i = t->free;
	t->free = ent(t, i)->hnext;
	return i;
}

static uint32_t insert(struct guard *g, struct table *t, const unsigned char *key, size_t len,
		       uint32_t h, uint64_t now)
{
	uint32_t i = alloc_slot(g, t, now);
	struct entry *e = ent(t, i);
	e->state = E_COUNTING;
	e->hash = h;
	e->keylen = (uint8_t)len;
	memcpy(e->key, key, len);
	e->cur = e->old = 0;
	e->start = e->last = now;
	e->until = 0;
	e->hnext = t->bucket[h & t->mask];
	t->bucket[h & t->mask] = i;
	list_push(t, &t->counts, i);
	return i;
}

/* Moves the window of a count up to now. */
static void roll(const struct guard *g, struct entry *e, uint64_t now)
{
	uint64_t w = g->cfg.window_ms;
	if (now < e->start || now - e->start < w)
		return;
	if (g->cfg.window == GUARD_WINDOW_SLIDING && now - e->start < 2 * w) {
		e->old = e->cur;
		e->start += w;
	} else {
		e->old = 0;
		e->start = now;
	}
	e->cur = 0;
}

static unsigned estimate(const struct guard *g, const struct entry *e, uint64_t now)
{
	if (g->cfg.window != GUARD_WINDOW_SLIDING || !e->old)
		return e->cur;
	uint64_t w = g->cfg.window_ms;
	uint64_t el = now > e->start ? now - e->start : 0;
	uint64_t overlap = w - el;
	return e->cur + (unsigned)((uint64_t)e->old * overlap / w);
}

/* ---- keys ---------------------------------------------------------------- */

/* The 16 bytes of an IP address, IPv4 as IPv4-mapped IPv6 so that both
 * spellings of one address are one key. False for other families. */
static bool ip_bytes(const struct sockaddr *sa, unsigned char out[16])
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &s->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(out, s->sin6_addr.s6_addr, 16);
		return true;
	}
	return false;
}

static bool is_mapped(const unsigned char a[16])
{
	static const unsigned char pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a, pfx, 12) == 0;
}

static void mask_bits(unsigned char a[16], unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		if (bits >= 8)
			bits -= 8;
		else {
			a[i] &= (unsigned char)(0xff00u >> bits);
			bits = 0;
		}
	}
}

/* The address key: IPv4 exact, IPv6 cut to the configured prefix. */
static bool addr_key(const struct guard *g, const struct sockaddr *sa, unsigned char key[16])
{
	if (!ip_bytes(sa, key))
		return false;
	if (!is_mapped(key))
		mask_bits(key, g->cfg.v6_prefix);
	return true;
}

static void addr_text(const struct guard *g, const unsigned char key[16], char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (is_mapped(key)) {
		inet_ntop(AF_INET, key + 12, host, sizeof(host));
		snprintf(out, cap, "%s", host);
	} else {
		inet_ntop(AF_INET6, key, host, sizeof(host));
		if (g->cfg.v6_prefix < 128)
			snprintf(out, cap, "%s/%u", host, g->cfg.v6_prefix);
		else
			snprintf(out, cap, "%s", host);
	}
}

/* "user@domain", the domain in lower case (RFC 3261 19.1.4: the user part
 * is case-sensitive, the host is not). Returns the length, 0 for no user. */
static size_t user_key(sip_str user, sip_str domain, unsigned char key[GUARD_USER_MAX])
{
	size_t n = 0;
	if (!user.len)
		return 0;
	for (size_t i = 0; i < user.len && n < GUARD_USER_MAX; i++)
		key[n++] = (unsigned char)user.s[i];
	if (n < GUARD_USER_MAX)
		key[n++] = '@';
	for (size_t i = 0; i < domain.len && n < GUARD_USER_MAX; i++)
		key[n++] = (unsigned char)tolower((unsigned char)domain.s[i]);
	return n;
}

static uint32_t hash_key(const struct guard *g, const unsigned char *key, size_t len)
{
	return (uint32_t)siphash13(g->sipkey, key, len);
}

/* ---- counting and banning ----------------------------------------------- */

static void start_ban(struct guard *g, struct table *t, uint32_t i, unsigned count, uint64_t now)
{
	struct entry *e = ent(t, i);
	if (t->bans.n >= t->ban_cap) {
		g->st.ban_evictions++;
		release(t, t->bans.tail);
	}
	list_unlink(t, &t->counts, i);
	e->state = E_BANNED;
	e->until = now + t->ban_ms;
	list_push(t, &t->bans, i);
	if (t->kind == GUARD_ADDR)
		g->st.addr_bans++;
	else
		g->st.user_bans++;
	if (g->ban_fn) {
		char who[GUARD_USER_MAX + INET6_ADDRSTRLEN + 8];
		if (t->kind == GUARD_ADDR)
			addr_text(g, e->key, who, sizeof(who));
		else
			snprintf(who, sizeof(who), "%.*s", (int)e->keylen, (const char *)e->key);
		struct guard_ban b = {t->kind, who, count, e->until};
		g->ban_fn(g->ban_arg, &b);
	}
}

/* One failure for key in t; true when it started a ban. */
static bool count_failure(struct guard *g, struct table *t, const unsigned char *key, size_t len,
			  uint64_t now)
{
	if (!t->limit)
		return false;
	uint32_t h = hash_key(g, key, len);
	uint32_t i = lookup(t, key, len, h);
	if (i != NIL) {
		struct entry *e = ent(t, i);
		if (e->state == E_BANNED) {
			if (now < e->until)
				return false;
			release(t, i);
			i = NIL;
		}
	}
	if (i == NIL) {
		i = insert(g, t, key, len, h, now);
	} else {
		roll(g, ent(t, i), now);
		list_unlink(t, &t->counts, i);
		list_push(t, &t->counts, i);
	}
	struct entry *e = ent(t, i);
	e->cur++;
	e->last = now;
	unsigned n = estimate(g, e, now);
	if (n < t->limit)
		return false;
	start_ban(g, t, i, n, now);
	return true;
}

/* True when key is banned now; an ended ban is freed on the way. */
static bool banned(struct table *t, const unsigned char *key, size_t len, uint32_t h,
		   uint64_t now)
{
	uint32_t i = lookup(t, key, len, h);
	if (i == NIL || ent(t, i)->state != E_BANNED)
		return false;
	if (now < ent(t, i)->until)
		return true;
	release(t, i);
	return false;
}

/* ---- API ------------------------------------------------------------------ */

void guard_config_defaults(struct guard_config *cfg)
{
	*cfg = (struct guard_config){
		.window = GUARD_WINDOW_SLIDING,
		.window_ms = 60000,
		.addr_limit = 10,
		.user_limit = 5,
		.addr_ban_ms = 300000,
		.user_ban_ms = 300000,
		.addr_capacity = 65536,
		.user_capacity = 65536,
		.v6_prefix = 64,
	};
}

struct guard *guard_new(const struct guard_config *cfg, char *err, size_t errlen)
{
	struct guard_config c;
	if (cfg)
		c = *cfg;
	else
		guard_config_defaults(&c);
	if (!c.window_ms)
		c.window_ms = 60000;
	if (!c.addr_ban_ms)
		c.addr_ban_ms = 300000;
	if (!c.user_ban_ms)
		c.user_ban_ms = 300000;
	if (!c.addr_capacity)
		c.addr_capacity = 65536;
	if (!c.user_capacity)
		c.user_capacity = 65536;
	if (!c.v6_prefix)
		c.v6_prefix = 64;
	if (c.window != GUARD_WINDOW_SLIDING && c.window != GUARD_WINDOW_FIXED) {
		snprintf(err, errlen, "guard: unknown window kind %d", (int)c.window);
		return NULL;
	}
	if (c.addr_capacity < 2 || c.user_capacity < 2 || c.addr_capacity > MAX_CAPACITY ||
	    c.user_capacity > MAX_CAPACITY) {
		snprintf(err, errlen, "guard: capacity must be 2..%u", (unsigned)MAX_CAPACITY);
		return NULL;
	}
	if (c.v6_prefix > 128) {
		snprintf(err, errlen, "guard: IPv6 prefix %u is longer than 128", c.v6_prefix);
		return NULL;
	}
	struct guard *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "guard: out of memory");
		return NULL;
	}
	g->cfg = c;
	/* Without entropy (very early boot) a clock-based key still differs per
	 * start; it only has to be unknown to a remote sender. */
	if (getrandom(g->sipkey, sizeof(g->sipkey), GRND_NONBLOCK) != (ssize_t)sizeof(g->sipkey)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		g->sipkey[0] = (uint64_t)ts.tv_nsec * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)ts.tv_sec;
		g->sipkey[1] = (uint64_t)(uintptr_t)g ^ ((uint64_t)getpid() << 32);
	}
	if (table_init(&g->addr, GUARD_ADDR, c.addr_capacity, 16, c.addr_limit, c.addr_ban_ms) ||
	    table_init(&g->user, GUARD_USER, c.user_capacity, GUARD_USER_MAX, c.user_limit,
		       c.user_ban_ms)) {
		snprintf(err, errlen, "guard: out of memory for %u + %u entries", c.addr_capacity,
			 c.user_capacity);
		guard_free(g);
		return NULL;
	}
	size_t n = 0;
	while (guard_default_scanners[n])
		n++;
	if (guard_set_scanners(g, guard_default_scanners, n)) {
		snprintf(err, errlen, "guard: out of memory");
		guard_free(g);
		return NULL;
	}
	return g;
}

static void scanners_free(char **scan, size_t *len, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(scan[i]);
	free(scan);
	free(len);
}

void guard_free(struct guard *g)
{
	if (!g)
		return;
	table_free(&g->addr);
	table_free(&g->user);
	free(g->allow);
	scanners_free(g->scan, g->scanlen, g->nscan);
	free(g);
}

void guard_set_ban_cb(struct guard *g, guard_ban_fn fn, void *arg)
{
	g->ban_fn = fn;
	g->ban_arg = arg;
}

int guard_allow(struct guard *g, const char *text, char *err, size_t errlen)
{
	struct cidr n;
	if (cidr_parse(text, &n, err, errlen) < 0)
		return -1;
	struct cidr *v = realloc(g->allow, (g->nallow + 1) * sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "guard: out of memory");
		return -1;
	}
	g->allow = v;
	g->allow[g->nallow++] = n;
	return 0;
}

bool guard_allowed(const struct guard *g, const struct sockaddr *sa)
{
	return cidr_list_match(g->allow, g->nallow, sa);
}

bool guard_addr_banned(struct guard *g, const struct sockaddr *sa, uint64_t now_ms)
{
	unsigned char key[16];
	/* the common case, no ban at all, costs one load */
	if (!g->addr.bans.n || !addr_key(g, sa, key))
		return false;
	if (!banned(&g->addr, key, 16, hash_key(g, key, 16), now_ms))
		return false;
	g->st.drops++;
	return true;
}

bool guard_user_banned(struct guard *g, sip_str user, sip_str domain, uint64_t now_ms)
{
	unsigned char key[GUARD_USER_MAX];
	size_t len;
	if (!g->user.bans.n || !(len = user_key(user, domain, key)))
		return false;
	if (!banned(&g->user, key, len, hash_key(g, key, len), now_ms))
		return false;
	g->st.user_rejects++;
	return true;
}

unsigned guard_auth_failed(struct guard *g, const struct sockaddr *src, sip_str user,
			   sip_str domain, uint64_t now_ms)
{
	unsigned started = 0;
	unsigned char a[16], u[GUARD_USER_MAX];
	size_t ulen;
	g->st.failures++;
	if (ip_bytes(src, a) && !guard_allowed(g, src) && addr_key(g, src, a) &&
	    count_failure(g, &g->addr, a, 16, now_ms))
		started |= GUARD_ADDR;
	/* Users are counted whatever the source: a guess relayed by a trusted
	 * server is still a guess at that user's password. */
	if ((ulen = user_key(user, domain, u)) && count_failure(g, &g->user, u, ulen, now_ms))
		started |= GUARD_USER;
	return started;
}

void guard_auth_ok(struct guard *g, const struct sockaddr *src, sip_str user, sip_str domain,
		   uint64_t now_ms)
{
	/* src is not used on purpose: see "A success does not reset" above. */
	(void)src;
	(void)now_ms;
	unsigned char u[GUARD_USER_MAX];
	size_t ulen;
	if (g->cfg.success_keeps_user || !(ulen = user_key(user, domain, u)))
		return;
	uint32_t i = lookup(&g->user, u, ulen, hash_key(g, u, ulen));
	if (i != NIL && ent(&g->user, i)->state == E_COUNTING)
		release(&g->user, i);
}

int guard_unban_addr(struct guard *g, const struct sockaddr *sa)
{
	unsigned char key[16];
	if (!addr_key(g, sa, key))
		return -1;
	uint32_t i = lookup(&g->addr, key, 16, hash_key(g, key, 16));
	if (i == NIL)
		return -1;
	release(&g->addr, i);
	return 0;
}

int guard_unban_user(struct guard *g, sip_str user, sip_str domain)
{
	unsigned char key[GUARD_USER_MAX];
	size_t len = user_key(user, domain, key);
	uint32_t i = len ? lookup(&g->user, key, len, hash_key(g, key, len)) : NIL;
	if (i == NIL)
		return -1;
	release(&g->user, i);
	return 0;
}

static size_t table_expire(struct guard *g, struct table *t, uint64_t now)
{
	size_t n = 0;
	/* bans all last ban_ms, so the oldest start ends first */
	while (t->bans.tail != NIL && now >= ent(t, t->bans.tail)->until) {
		release(t, t->bans.tail);
		n++;
	}
	while (t->counts.tail != NIL && stale(g, ent(t, t->counts.tail), now)) {
		release(t, t->counts.tail);
		n++;
	}
	return n;
}

size_t guard_expire(struct guard *g, uint64_t now_ms)
{
	return table_expire(g, &g->addr, now_ms) + table_expire(g, &g->user, now_ms);
}

int guard_set_scanners(struct guard *g, const char *const *subs, size_t n)
{
	char **scan = calloc(n ? n : 1, sizeof(*scan));
	size_t *len = calloc(n ? n : 1, sizeof(*len));
	size_t k = 0;
	if (!scan || !len)
		goto fail;
	for (; k < n; k++) {
		if (!(scan[k] = strdup(subs[k])))
			goto fail;
		len[k] = strlen(scan[k]);
	}
	scanners_free(g->scan, g->scanlen, g->nscan);
	g->scan = scan;
	g->scanlen = len;
	g->nscan = n;
	return 0;
fail:
	scanners_free(scan, len, k);
	return -1;
}

static bool contains_nocase(sip_str hay, const char *needle, size_t n)
{
	if (!n || n > hay.len)
		return n == 0;
	for (size_t i = 0; i + n <= hay.len; i++)
		if (strncasecmp(hay.s + i, needle, n) == 0)
			return true;
	return false;
}

bool guard_is_scanner(const struct guard *g, sip_str user_agent)
{
	for (size_t i = 0; i < g->nscan; i++)
		if (g->scanlen[i] && contains_nocase(user_agent, g->scan[i], g->scanlen[i]))
			return true;
	return false;
}

void guard_get_stats(const struct guard *g, struct guard_stats *out)
{
	*out = g->st;
	out->addr_entries = g->addr.counts.n + g->addr.bans.n;
	out->user_entries = g->user.counts.n + g->user.bans.n;
	out->addr_banned = g->addr.bans.n;
	out->user_banned = g->user.bans.n;
}
