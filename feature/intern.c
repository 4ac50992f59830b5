/* Compiled scripts shared by their text (see intern.h). */
#include "feature/intern.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct interned {
	struct script_intern *si;   /* NULL once the table is gone */
	struct interned *next;      /* bucket chain */
	uint64_t hash;
	uint32_t gen;
	unsigned refs;
	size_t len;
	struct cpl_script *script;
	char text[];                /* the XML, to compare */
};

struct script_intern {
	struct interned **buckets;
	size_t nbuckets, count;
	struct script_intern_stats st;
};

static uint64_t fnv1a(const char *s, size_t len, uint32_t gen)
{
	uint64_t h = 0xcbf29ce484222325ull ^ gen;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

struct script_intern *script_intern_new(void)
{
	struct script_intern *si = calloc(1, sizeof(*si));
	if (!si)
		return NULL;
	si->nbuckets = 256;
	si->buckets = calloc(si->nbuckets, sizeof(*si->buckets));
	if (!si->buckets) {
		free(si);
		return NULL;
	}
	return si;
}

void script_intern_free(struct script_intern *si)
{
	if (!si)
		return;
	for (size_t i = 0; i < si->nbuckets; i++)
		for (struct interned *e = si->buckets[i]; e; e = e->next)
			e->si = NULL;
	free(si->buckets);
	free(si);
}

static void grow(struct script_intern *si)
{
	size_t n = si->nbuckets * 2;
	struct interned **b = calloc(n, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < si->nbuckets; i++)
		for (struct interned *e = si->buckets[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(si->buckets);
	si->buckets = b;
	si->nbuckets = n;
}

struct interned *script_intern_get(struct script_intern *si, const char *xml, size_t len,
				   const struct cpl_limits *lim, uint32_t gen, struct cpl_script **out,
				   char *err, size_t errlen)
{
	uint64_t h = fnv1a(xml, len, gen);
	for (struct interned *e = si->buckets[h & (si->nbuckets - 1)]; e; e = e->next)
		if (e->hash == h && e->gen == gen && e->len == len && !memcmp(e->text, xml, len)) {
			e->refs++;
			si->st.shared++;
			*out = e->script;
			return e;
		}
	struct cpl_script *s = cpl_compile(xml, len, lim, err, errlen);
	if (!s)
		return NULL;
	struct interned *e = malloc(sizeof(*e) + len);
	if (!e) {
		cpl_free(s);
		if (errlen)
			strncpy(err, "out of memory", errlen - 1), err[errlen - 1] = 0;
		return NULL;
	}
	*e = (struct interned){.si = si, .hash = h, .gen = gen, .refs = 1, .len = len, .script = s};
	memcpy(e->text, xml, len);
	if (si->count + 1 > si->nbuckets)
		grow(si);
	e->next = si->buckets[h & (si->nbuckets - 1)];
	si->buckets[h & (si->nbuckets - 1)] = e;
	si->count++;
	si->st.compiled++;
	*out = s;
	return e;
}

void script_intern_put(struct interned *e)
{
	if (!e || --e->refs)
		return;
	struct script_intern *si = e->si;
	if (si) {
		struct interned **pp = &si->buckets[e->hash & (si->nbuckets - 1)];
		while (*pp && *pp != e)
			pp = &(*pp)->next;
		if (*pp)
			*pp = e->next;
		si->count--;
	}
	cpl_free(e->script);
	free(e);
}

void script_intern_get_stats(const struct script_intern *si, struct script_intern_stats *out)
{
	*out = si->st;
	out->scripts = si->count;
}
