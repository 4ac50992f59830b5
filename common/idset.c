/* A deduplicated set of ids for batched queries (see idset.h). */
#include "idset.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static size_t slot_of(int64_t id, size_t mask)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 17) & mask;
}

static int grow(struct idset *set)
{
	size_t nslots = set->nslots ? set->nslots * 2 : 64;
	size_t *slots = calloc(nslots, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < set->n; i++) {
		size_t k = slot_of(set->ids[i], nslots - 1);
		while (slots[k])
			k = (k + 1) & (nslots - 1);
		slots[k] = i + 1;
	}
	free(set->slots);
	set->slots = slots;
	set->nslots = nslots;
	return 0;
}

int idset_add(struct idset *set, int64_t id)
{
	/* kept at most half full, so probes stay short */
	if ((set->n + 1) * 2 > set->nslots && grow(set) < 0)
		return -1;
	size_t mask = set->nslots - 1, k = slot_of(id, mask);
	for (; set->slots[k]; k = (k + 1) & mask)
		if (set->ids[set->slots[k] - 1] == id)
			return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		int64_t *ids = realloc(set->ids, cap * sizeof *ids);
		if (!ids)
			return -1;
		set->ids = ids;
		set->cap = cap;
	}
	set->ids[set->n] = id;
	set->slots[k] = ++set->n;
	return 1;
}

int64_t *idset_take(struct idset *set, size_t *n)
{
	int64_t *ids = set->ids;
	*n = set->n;
	free(set->slots);
	*set = (struct idset){0};
	if (*n == 0) {
		free(ids);
		return NULL;
	}
	return ids;
}

void idset_clear(struct idset *set)
{
	free(set->ids);
	free(set->slots);
	*set = (struct idset){0};
}

char *idset_pg_array(const int64_t *ids, size_t n)
{
	/* 20 digits and a sign per id, its comma, the braces and the NUL */
	char *out = malloc(n * 22 + 3), *p = out;
	if (!out)
		return NULL;
	*p++ = '{';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%" PRId64, i ? "," : "", ids[i]);
	*p++ = '}';
	*p = '\0';
	return out;
}
