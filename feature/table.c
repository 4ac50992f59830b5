/* The feature table and the compiled-script cache (see table.h). */
#include "feature/table.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "feature/cpl.h"
#include "feature/intern.h"

/* A subscriber's rows in one allocation: the header, then per row the
 * kind index (1 byte), sides with the locked bit (1 byte), group (8
 * bytes, unaligned), settings length (4 bytes) and the settings with a
 * NUL. */
struct sub_rows {
	int64_t id;
	uint32_t version;
	uint16_t n;
	uint8_t loaded;     /* set since the current full load began */
	uint8_t pad;
	unsigned char data[];
};

#define ROW_HEAD 14
#define ROW_LOCKED 0x80 /* in the sides byte */

struct feature_table {
	struct sub_rows **slots;  /* open addressing, linear probing; NULL empty */
	size_t cap, count;
	size_t rows, bytes;
	char *kinds[256];         /* interned kind names */
	unsigned nkinds;
	uint8_t loading;
	/* versions survive forgetting, so that a cached script of rows that
	 * went and came back is not taken for current */
	uint32_t version_clock;
};

static size_t hash_id(int64_t id)
{
	uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ull;
	return (size_t)(x ^ (x >> 29));
}

struct feature_table *feature_table_new(void)
{
	struct feature_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cap = 1024;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->version_clock = 1;
	return t;
}

void feature_table_free(struct feature_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i]);
	for (unsigned i = 0; i < t->nkinds; i++)
		free(t->kinds[i]);
	free(t->slots);
	free(t);
}

static size_t find_slot(const struct feature_table *t, int64_t id)
{
	size_t i = hash_id(id) & (t->cap - 1);
	while (t->slots[i] && t->slots[i]->id != id)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static int grow(struct feature_table *t)
{
	size_t cap = t->cap * 2;
	struct sub_rows **v = calloc(cap, sizeof(*v));
	if (!v)
		return -1;
	struct sub_rows **old = t->slots;
	size_t ocap = t->cap;
	t->slots = v;
	t->cap = cap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i])
			t->slots[find_slot(t, old[i]->id)] = old[i];
	free(old);
	return 0;
}

/* Removes the entry at slot i, moving later members of its probe run back
 * (no tombstones). */
static void remove_at(struct feature_table *t, size_t i)
{
	struct sub_rows *r = t->slots[i];
	t->rows -= r->n;
	t->bytes -= malloc_usable_size(r);
	free(r);
	t->slots[i] = NULL;
	t->count--;
	size_t j = i;
	for (;;) {
		j = (j + 1) & (t->cap - 1);
		if (!t->slots[j])
			break;
		size_t k = hash_id(t->slots[j]->id) & (t->cap - 1);
		/* move j to i if k is cyclically outside (i, j] */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
}

static int kind_index(struct feature_table *t, const char *kind)
{
	for (unsigned i = 0; i < t->nkinds; i++)
		if (!strcmp(t->kinds[i], kind))
			return (int)i;
	if (t->nkinds >= 256)
		return -1;
	char *k = strdup(kind);
	if (!k)
		return -1;
	t->kinds[t->nkinds] = k;
	return (int)t->nkinds++;
}

unsigned feature_sides(const char *side)
{
	if (!side)
		return 0;
	if (!strcmp(side, "calling"))
		return FEATURE_SIDE_CALLING;
	if (!strcmp(side, "called"))
		return FEATURE_SIDE_CALLED;
	if (!strcmp(side, "both"))
		return FEATURE_SIDE_CALLING | FEATURE_SIDE_CALLED;
	return 0;
}

int feature_table_set(struct feature_table *t, int64_t id, const struct feature_row *rows, unsigned n)
{
	if (n > UINT16_MAX)
		return -1;
	size_t i = find_slot(t, id);
	if (n == 0) {
		if (t->slots[i])
			remove_at(t, i);
		return 0;
	}
	size_t size = sizeof(struct sub_rows);
	for (unsigned k = 0; k < n; k++)
		size += ROW_HEAD + rows[k].settings_len + 1;
	struct sub_rows *r = malloc(size);
	if (!r)
		return -1;
	r->id = id;
	r->n = (uint16_t)n;
	r->loaded = t->loading;
	r->pad = 0;
	r->version = ++t->version_clock;
	unsigned char *p = r->data;
	for (unsigned k = 0; k < n; k++) {
		int ki = kind_index(t, rows[k].kind ? rows[k].kind : "");
		uint32_t len = (uint32_t)rows[k].settings_len;
		if (ki < 0) {
			free(r);
			return -1;
		}
		p[0] = (uint8_t)ki;
		p[1] = (uint8_t)((rows[k].sides & (FEATURE_SIDE_CALLING | FEATURE_SIDE_CALLED)) |
				 (rows[k].locked ? ROW_LOCKED : 0));
		memcpy(p + 2, &rows[k].group_id, 8);
		memcpy(p + 10, &len, 4);
		if (len)
			memcpy(p + ROW_HEAD, rows[k].settings, len);
		p[ROW_HEAD + len] = 0;
		p += ROW_HEAD + len + 1;
	}
	if (t->slots[i]) {
		t->rows -= t->slots[i]->n;
		t->bytes -= malloc_usable_size(t->slots[i]);
		free(t->slots[i]);
		t->count--;
	} else if ((t->count + 1) * 4 > t->cap * 3) {
		if (grow(t) < 0) {
			free(r);
			return -1;
		}
		i = find_slot(t, id);
	}
	t->slots[i] = r;
	t->count++;
	t->rows += n;
	t->bytes += malloc_usable_size(r);
	return 0;
}

unsigned feature_table_get(const struct feature_table *t, int64_t id, unsigned side, int64_t group_id,
			   struct feature_row *out, unsigned cap)
{
	const struct sub_rows *r = t->slots[find_slot(t, id)];
	if (!r)
		return 0;
	unsigned got = 0;
	const unsigned char *p = r->data;
	for (unsigned k = 0; k < r->n; k++) {
		uint32_t len;
		int64_t g;
		memcpy(&g, p + 2, 8);
		memcpy(&len, p + 10, 4);
		if ((p[1] & side) && (!group_id || g == group_id) && got < cap)
			out[got++] = (struct feature_row){
				.kind = t->kinds[p[0]], .sides = p[1] & (unsigned)~ROW_LOCKED, .group_id = g,
				.settings = (const char *)p + ROW_HEAD, .settings_len = len,
				.locked = (p[1] & ROW_LOCKED) != 0,
			};
		p += ROW_HEAD + len + 1;
	}
	return got;
}

uint32_t feature_table_version(const struct feature_table *t, int64_t id)
{
	const struct sub_rows *r = t->slots[find_slot(t, id)];
	return r ? r->version : 0;
}

void feature_table_load_begin(struct feature_table *t)
{
	t->loading = t->loading == 1 ? 2 : 1;
}

void feature_table_load_end(struct feature_table *t)
{
	for (size_t i = 0; i < t->cap;) {
		if (t->slots[i] && t->slots[i]->loaded != t->loading) {
			remove_at(t, i); /* something may have moved into i */
			continue;
		}
		i++;
	}
}

void feature_table_get_stats(const struct feature_table *t, struct feature_table_stats *out)
{
	out->subscribers = t->count;
	out->rows = t->rows;
	out->bytes = t->bytes + t->cap * sizeof(*t->slots) + sizeof(*t);
}

/* ---- the compiled-script cache ----------------------------------------- */

struct feature_cache {
	struct feature_compiled **buckets; /* chained by subscriber */
	size_t nbuckets;
	size_t max, count;
	struct feature_compiled *head, *tail; /* most recently used first */
	struct feature_cache_stats st;
};

struct feature_cache *feature_cache_new(size_t max_entries)
{
	struct feature_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->nbuckets = 1024;
	while (c->nbuckets < max_entries && c->nbuckets < (1u << 24))
		c->nbuckets <<= 1;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->max = max_entries ? max_entries : 1;
	return c;
}

static void entry_free(struct feature_compiled *e)
{
	if (e->shared)
		script_intern_put(e->shared);
	else
		cpl_free(e->script);
	if (e->locked_shared)
		script_intern_put(e->locked_shared);
	else
		cpl_free(e->locked);
	free(e->error);
	free(e);
}

static void lru_unlink(struct feature_cache *c, struct feature_compiled *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_front(struct feature_cache *c, struct feature_compiled *e)
{
	e->lru_next = c->head;
	e->lru_prev = NULL;
	if (c->head)
		c->head->lru_prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

/* Takes e out of the cache; it is freed now or when its last call ends. */
static void detach(struct feature_cache *c, struct feature_compiled *e)
{
	struct feature_compiled **pp = &c->buckets[hash_id(e->sub_id) & (c->nbuckets - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(c, e);
	e->cached = false;
	c->count--;
	if (--e->refs == 0)
		entry_free(e);
}

void feature_cache_free(struct feature_cache *c)
{
	if (!c)
		return;
	while (c->head)
		detach(c, c->head);
	free(c->buckets);
	free(c);
}

static void trim(struct feature_cache *c)
{
	while (c->count > c->max && c->tail) {
		c->st.evictions++;
		detach(c, c->tail);
	}
}

void feature_cache_clear(struct feature_cache *c)
{
	while (c->head)
		detach(c, c->head);
}

void feature_cache_resize(struct feature_cache *c, size_t max_entries)
{
	c->max = max_entries ? max_entries : 1;
	trim(c);
}

struct feature_compiled *feature_cache_get(struct feature_cache *c, int64_t sub_id, unsigned side,
					   int64_t group_id, uint32_t version)
{
	for (struct feature_compiled *e = c->buckets[hash_id(sub_id) & (c->nbuckets - 1)]; e; e = e->hnext)
		if (e->sub_id == sub_id && e->side == side && e->group_id == group_id) {
			if (e->version != version) {
				detach(c, e);
				break;
			}
			lru_unlink(c, e);
			lru_front(c, e);
			e->refs++;
			c->st.hits++;
			return e;
		}
	c->st.misses++;
	return NULL;
}

void feature_cache_put(struct feature_cache *c, struct feature_compiled *e, int64_t sub_id,
		       unsigned side, int64_t group_id, uint32_t version)
{
	e->sub_id = sub_id;
	e->side = side;
	e->group_id = group_id;
	e->version = version;
	e->refs = 2; /* the cache's and the caller's */
	e->cached = true;
	struct feature_compiled **b = &c->buckets[hash_id(sub_id) & (c->nbuckets - 1)];
	e->hnext = *b;
	*b = e;
	lru_front(c, e);
	c->count++;
	trim(c);
}

void feature_compiled_release(struct feature_cache *c, struct feature_compiled *e)
{
	(void)c;
	if (e && --e->refs == 0)
		entry_free(e);
}

void feature_cache_invalidate(struct feature_cache *c, int64_t sub_id)
{
	struct feature_compiled *e = c->buckets[hash_id(sub_id) & (c->nbuckets - 1)];
	while (e) {
		struct feature_compiled *next = e->hnext;
		if (e->sub_id == sub_id)
			detach(c, e);
		e = next;
	}
}

void feature_cache_get_stats(const struct feature_cache *c, struct feature_cache_stats *out)
{
	*out = c->st;
	out->entries = c->count;
}
