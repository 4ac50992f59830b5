#include "location.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <time.h>

#include "ev.h"

/* The timer never sleeps longer than this, so that a step of the wall
 * clock (expiry is in unix seconds, the loop's timers are monotonic) is
 * noticed soon. */
#define MAX_SLEEP_MS 60000
#define MIN_TABLE    16

/* One AOR: no allocation of its own, just its id and its list. */
struct slot {
	int64_t id;
	struct binding *head; /* NULL: the slot is free */
};

struct location {
	struct location_opts o;
	struct slot *slots;
	size_t cap, count;     /* cap is a power of two */
	unsigned bits;
	struct binding **heap; /* min-heap by expires_at */
	size_t heap_n, heap_cap;
	struct ev_timer timer;
	size_t binding_bytes;
	struct location_stats st;
};

static int64_t system_now(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

int64_t location_now(const struct location *loc) { return loc->o.now(loc->o.now_arg); }

/* ---- the table of AORs: linear probing, backward-shift deletion --------- */

static size_t home(const struct location *loc, int64_t id)
{
	return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> (64 - loc->bits));
}

static struct slot *slot_find(const struct location *loc, int64_t id)
{
	size_t mask = loc->cap - 1;
	for (size_t i = home(loc, id);; i = (i + 1) & mask) {
		if (!loc->slots[i].head)
			return NULL;
		if (loc->slots[i].id == id)
			return &loc->slots[i];
	}
}

/* Claims a free slot for id; the caller made room (location_reserve). */
static struct slot *slot_claim(struct location *loc, int64_t id)
{
	size_t mask = loc->cap - 1, i = home(loc, id);
	while (loc->slots[i].head)
		i = (i + 1) & mask;
	loc->slots[i].id = id;
	loc->count++;
	return &loc->slots[i];
}

static void slot_release(struct location *loc, struct slot *s)
{
	size_t mask = loc->cap - 1, i = (size_t)(s - loc->slots), j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!loc->slots[j].head)
			break;
		size_t k = home(loc, loc->slots[j].id);
		/* an entry whose home lies cyclically in (i, j] stays put */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		loc->slots[i] = loc->slots[j];
		i = j;
	}
	loc->slots[i].head = NULL;
	loc->slots[i].id = 0;
	loc->count--;
}

static int table_resize(struct location *loc, size_t cap)
{
	struct slot *old = loc->slots;
	size_t oldcap = loc->cap;
	struct slot *n = calloc(cap, sizeof(*n));
	if (!n)
		return -1;
	loc->slots = n;
	loc->cap = cap;
	loc->bits = 0;
	while (((size_t)1 << loc->bits) < cap)
		loc->bits++;
	loc->count = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].head)
			slot_claim(loc, old[i].id)->head = old[i].head;
	free(old);
	return 0;
}

/* ---- the expiry heap ------------------------------------------------------ */

static void heap_set(struct location *loc, size_t i, struct binding *b)
{
	loc->heap[i] = b;
	b->heap_index = (uint32_t)i;
}

static void heap_up(struct location *loc, size_t i)
{
	struct binding *b = loc->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (loc->heap[parent]->expires_at <= b->expires_at)
			break;
		heap_set(loc, i, loc->heap[parent]);
		i = parent;
	}
	heap_set(loc, i, b);
}

static void heap_down(struct location *loc, size_t i)
{
	struct binding *b = loc->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= loc->heap_n)
			break;
		if (c + 1 < loc->heap_n && loc->heap[c + 1]->expires_at < loc->heap[c]->expires_at)
			c++;
		if (b->expires_at <= loc->heap[c]->expires_at)
			break;
		heap_set(loc, i, loc->heap[c]);
		i = c;
	}
	heap_set(loc, i, b);
}

/* The caller reserved the room. */
static void heap_push(struct location *loc, struct binding *b)
{
	heap_set(loc, loc->heap_n++, b);
	heap_up(loc, loc->heap_n - 1);
}

static void heap_fix(struct location *loc, size_t i)
{
	struct binding *b = loc->heap[i];
	heap_up(loc, i);
	heap_down(loc, b->heap_index);
}

static void heap_remove(struct location *loc, const struct binding *b)
{
	size_t i = b->heap_index;
	struct binding *last = loc->heap[--loc->heap_n];
	if (i == loc->heap_n)
		return;
	heap_set(loc, i, last);
	heap_fix(loc, i);
}

/* ---- the timer -------------------------------------------------------------- */

static void on_timer(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	location_expire(arg);
}

static void rearm(struct location *loc)
{
	if (!loc->o.loop)
		return;
	if (!loc->heap_n) {
		ev_timer_stop(loc->o.loop, &loc->timer);
		return;
	}
	int64_t wait = loc->heap[0]->expires_at - location_now(loc);
	uint64_t ms = wait <= 0 ? 0 : (uint64_t)wait * 1000;
	ev_timer_start(loc->o.loop, &loc->timer, ms < MAX_SLEEP_MS ? ms : MAX_SLEEP_MS);
}

/* ---- the bindings' pool ---------------------------------------------------------- */

/* Bindings live in pages of their own, carved into 32-byte size classes:
 * with plain malloc they shared pages with the REGISTER transactions,
 * and once a registration storm's transactions were freed those pages
 * stayed resident for the few bindings among them (100,000 bindings held
 * 100 MB instead of 31). Process-wide, as bindings are made before they
 * know their location service; chunks are kept for the next bindings. */
#define POOL_GRAIN 32
#define POOL_MAX 2048          /* larger bindings (long Paths) come from malloc */
#define POOL_CHUNK (64 * 1024)

struct pool_item {
	struct pool_item *next;
};

static struct {
	struct pool_item *free[POOL_MAX / POOL_GRAIN + 1];
	struct pool_item *chunks; /* every chunk, first word linking them */
} pool;

static size_t binding_size(const struct binding *b)
{
	size_t size = offsetof(struct binding, text);
	for (int i = 0; i < BINDING_NFIELDS; i++)
		size += b->len[i] + 1u;
	return size;
}

/* The memory a binding takes: its size class, or what malloc gave. */
static size_t binding_footprint(const struct binding *b)
{
	size_t size = binding_size(b);
	return size > POOL_MAX ? malloc_usable_size((void *)b)
			       : (size + POOL_GRAIN - 1) / POOL_GRAIN * POOL_GRAIN;
}

static void *binding_alloc(size_t size)
{
	if (size > POOL_MAX)
		return malloc(size);
	size_t c = (size + POOL_GRAIN - 1) / POOL_GRAIN, item = c * POOL_GRAIN;
	if (!pool.free[c]) {
		char *chunk = malloc(POOL_CHUNK);
		if (!chunk)
			return NULL;
		((struct pool_item *)(void *)chunk)->next = pool.chunks;
		pool.chunks = (struct pool_item *)(void *)chunk;
		/* the first item slot holds the chunk link */
		for (size_t off = item; off + item <= POOL_CHUNK; off += item) {
			struct pool_item *it = (struct pool_item *)(void *)(chunk + off);
			it->next = pool.free[c];
			pool.free[c] = it;
		}
	}
	struct pool_item *it = pool.free[c];
	pool.free[c] = it->next;
	return it;
}

/* ---- bindings ----------------------------------------------------------------- */

struct location *location_new(const struct location_opts *opts)
{
	struct location *loc = calloc(1, sizeof(*loc));
	if (!loc)
		return NULL;
	if (opts)
		loc->o = *opts;
	if (!loc->o.now)
		loc->o.now = system_now;
	if (table_resize(loc, MIN_TABLE) < 0) {
		free(loc);
		return NULL;
	}
	ev_timer_init(&loc->timer, on_timer, loc);
	return loc;
}

void location_free(struct location *loc)
{
	if (!loc)
		return;
	if (loc->o.loop)
		ev_timer_stop(loc->o.loop, &loc->timer);
	for (size_t i = 0; i < loc->cap; i++) {
		struct binding *b = loc->slots[i].head;
		while (b) {
			struct binding *next = b->next;
			location_binding_free(b);
			b = next;
		}
	}
	free(loc->slots);
	free(loc->heap);
	free(loc);
}

const struct binding *location_lookup(const struct location *loc, int64_t subscriber_id)
{
	const struct slot *s = slot_find(loc, subscriber_id);
	return s ? s->head : NULL;
}

size_t location_count(const struct location *loc, int64_t subscriber_id)
{
	size_t n = 0;
	for (const struct binding *b = location_lookup(loc, subscriber_id); b; b = b->next)
		n++;
	return n;
}

int location_reserve(struct location *loc, size_t n)
{
	/* load factor at most 3/4, counting the AOR that may be added */
	if ((loc->count + 1) * 4 > loc->cap * 3 && table_resize(loc, loc->cap * 2) < 0)
		return -1;
	if (loc->heap_n + n > loc->heap_cap) {
		size_t cap = loc->heap_cap ? loc->heap_cap : 64;
		while (cap < loc->heap_n + n)
			cap *= 2;
		struct binding **h = realloc(loc->heap, cap * sizeof(*h));
		if (!h)
			return -1;
		loc->heap = h;
		loc->heap_cap = cap;
	}
	return 0;
}

struct binding *location_binding_new(const struct binding_info *in)
{
	const sip_str f[BINDING_NFIELDS] = {
		[BINDING_CONTACT] = in->contact,   [BINDING_CALL_ID] = in->call_id,
		[BINDING_PATH] = in->path,         [BINDING_INSTANCE] = in->instance,
		[BINDING_RECEIVED] = in->received, [BINDING_USER_AGENT] = in->user_agent,
	};
	static const size_t max[BINDING_NFIELDS] = {
		[BINDING_CONTACT] = LOCATION_MAX_CONTACT,  [BINDING_CALL_ID] = LOCATION_MAX_CALL_ID,
		[BINDING_PATH] = LOCATION_MAX_PATH,        [BINDING_INSTANCE] = LOCATION_MAX_TEXT,
		[BINDING_RECEIVED] = LOCATION_MAX_TEXT,    [BINDING_USER_AGENT] = LOCATION_MAX_TEXT,
	};
	size_t size = offsetof(struct binding, text);
	for (int i = 0; i < BINDING_NFIELDS; i++) {
		if (f[i].len > max[i]) {
			errno = EINVAL;
			return NULL;
		}
		size += f[i].len + 1;
	}
	if (!in->contact.len || in->q > 1000 || in->cseq > LOCATION_MAX_CSEQ) {
		errno = EINVAL;
		return NULL;
	}
	struct binding *b = binding_alloc(size);
	if (!b)
		return NULL;
	b->next = NULL;
	b->subscriber_id = 0;
	b->expires_at = in->expires_at;
	b->expires = in->expires;
	b->cseq = in->cseq;
	b->reg_id = in->reg_id;
	b->heap_index = 0;
	b->q = in->q;
	char *p = b->text;
	for (int i = 0; i < BINDING_NFIELDS; i++) {
		b->len[i] = (uint16_t)f[i].len;
		if (f[i].len)
			memcpy(p, f[i].s, f[i].len);
		p[f[i].len] = 0;
		p += f[i].len + 1;
	}
	return b;
}

void location_binding_free(struct binding *b)
{
	if (!b)
		return;
	size_t size = binding_size(b);
	if (size > POOL_MAX) {
		free(b);
		return;
	}
	struct pool_item *it = (struct pool_item *)(void *)b;
	size_t c = (size + POOL_GRAIN - 1) / POOL_GRAIN;
	it->next = pool.free[c];
	pool.free[c] = it;
}

/* Links b into a list by q: before the bindings of equal q when newest
 * (the registrar's order: most recently updated first), else after them. */
static void list_insert(struct binding **head, struct binding *b, bool newest)
{
	struct binding **p = head;
	while (*p && (newest ? (*p)->q > b->q : (*p)->q >= b->q))
		p = &(*p)->next;
	b->next = *p;
	*p = b;
}

static void list_unlink(struct binding **head, const struct binding *b)
{
	struct binding **p = head;
	while (*p && *p != b)
		p = &(*p)->next;
	if (*p)
		*p = b->next;
}

static void account(struct location *loc, const struct binding *b, bool add)
{
	size_t n = binding_footprint(b);
	if (add) {
		loc->binding_bytes += n;
		loc->st.bindings++;
	} else {
		loc->binding_bytes -= n;
		loc->st.bindings--;
	}
}

static void notify(struct location *loc, int64_t id, const struct binding *b, enum location_op op)
{
	if (loc->o.hooks.changed)
		loc->o.hooks.changed(loc->o.hooks.ctx, id, b, op);
}

/* Links b into the AOR (slot s, or a new one), without a hook. */
static void link_binding(struct location *loc, struct slot *s, int64_t id, struct binding *b,
			 const struct binding *old, bool newest)
{
	struct binding *head = s ? s->head : NULL;
	b->subscriber_id = id;
	if (old) {
		list_unlink(&head, old);
		/* the new binding takes the old one's place in the heap */
		heap_set(loc, old->heap_index, b);
		heap_fix(loc, b->heap_index);
		account(loc, old, false);
		location_binding_free((struct binding *)old);
	} else {
		heap_push(loc, b);
	}
	list_insert(&head, b, newest);
	account(loc, b, true);
	if (!s)
		s = slot_claim(loc, id);
	s->head = head;
}

void location_put(struct location *loc, int64_t id, const struct binding *old, struct binding *b)
{
	link_binding(loc, slot_find(loc, id), id, b, old, true);
	if (old)
		loc->st.updated++;
	else
		loc->st.added++;
	notify(loc, id, b, old ? LOCATION_UPDATED : LOCATION_ADDED);
	rearm(loc);
}

/* Unlinks b from its AOR and the heap, without freeing it. */
static void unlink_binding(struct location *loc, struct slot *s, const struct binding *b)
{
	list_unlink(&s->head, b);
	if (!s->head)
		slot_release(loc, s);
	heap_remove(loc, b);
	account(loc, b, false);
}

void location_remove(struct location *loc, int64_t id, const struct binding *b)
{
	struct slot *s = slot_find(loc, id);
	if (!s)
		return;
	unlink_binding(loc, s, b);
	loc->st.removed++;
	notify(loc, id, b, LOCATION_REMOVED);
	location_binding_free((struct binding *)b);
	rearm(loc);
}

void location_remove_all(struct location *loc, int64_t id)
{
	struct slot *s;
	while ((s = slot_find(loc, id)) != NULL) {
		struct binding *b = s->head;
		unlink_binding(loc, s, b);
		loc->st.removed++;
		notify(loc, id, b, LOCATION_REMOVED);
		location_binding_free(b);
	}
	rearm(loc);
}

size_t location_expire(struct location *loc)
{
	int64_t now = location_now(loc);
	size_t n = 0;
	while (loc->heap_n && loc->heap[0]->expires_at <= now) {
		struct binding *b = loc->heap[0];
		struct slot *s = slot_find(loc, b->subscriber_id);
		unlink_binding(loc, s, b);
		loc->st.expired++;
		notify(loc, b->subscriber_id, b, LOCATION_EXPIRED);
		location_binding_free(b);
		n++;
	}
	rearm(loc);
	return n;
}

/* ---- changes from the database -------------------------------------------- */

int location_replace(struct location *loc, int64_t id, const struct binding_info *v, size_t n)
{
	int64_t now = location_now(loc);
	struct binding *list = NULL;
	size_t count = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].expires_at <= now)
			continue;
		struct binding *b = location_binding_new(&v[i]);
		if (!b)
			goto fail;
		b->subscriber_id = id;
		list_insert(&list, b, false);
		count++;
	}
	if (location_reserve(loc, count) < 0)
		goto fail;
	struct slot *s;
	while ((s = slot_find(loc, id)) != NULL) {
		struct binding *b = s->head;
		unlink_binding(loc, s, b);
		location_binding_free(b);
	}
	if (list) {
		for (struct binding *b = list; b; b = b->next) {
			heap_push(loc, b);
			account(loc, b, true);
		}
		slot_claim(loc, id)->head = list;
	}
	loc->st.replaced++;
	rearm(loc);
	return 0;
fail:
	while (list) {
		struct binding *next = list->next;
		location_binding_free(list);
		list = next;
	}
	return -1;
}

static bool same_key(const struct binding *b, const struct binding_info *in)
{
	if (b->reg_id && in->reg_id)
		return b->reg_id == in->reg_id &&
		       sip_str_caseeq(binding_str(b, BINDING_INSTANCE), in->instance);
	return !b->reg_id && !in->reg_id && sip_str_eq(binding_str(b, BINDING_CONTACT), in->contact);
}

int location_insert_loaded(struct location *loc, int64_t id, const struct binding_info *in)
{
	if (in->expires_at <= location_now(loc))
		return 0;
	struct binding *b = location_binding_new(in);
	if (!b || location_reserve(loc, 1) < 0) {
		location_binding_free(b);
		return -1;
	}
	struct slot *s = slot_find(loc, id);
	const struct binding *old = NULL;
	for (const struct binding *o = s ? s->head : NULL; o && !old; o = o->next)
		if (same_key(o, in))
			old = o;
	link_binding(loc, s, id, b, old, false);
	rearm(loc);
	return 0;
}

/* ---- reading everything ---------------------------------------------------- */

void location_foreach(const struct location *loc,
		      void (*fn)(void *ctx, int64_t subscriber_id, const struct binding *first),
		      void *ctx)
{
	for (size_t i = 0; i < loc->cap; i++)
		if (loc->slots[i].head)
			fn(ctx, loc->slots[i].id, loc->slots[i].head);
}

void location_get_stats(const struct location *loc, struct location_stats *out)
{
	*out = loc->st;
	out->aors = loc->count;
	out->binding_bytes = loc->binding_bytes;
	out->bytes = loc->binding_bytes + loc->cap * sizeof(*loc->slots) +
		     loc->heap_cap * sizeof(*loc->heap) + sizeof(*loc);
}
