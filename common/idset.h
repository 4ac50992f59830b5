/*
 * A set of row ids waiting for one batched query: ids added any number of
 * times are kept once, in the order first added, and taken out all at
 * once. The store and featured coalesce change notifications with it, so
 * that a bulk import's 100,000 NOTIFYs become 100 queries rather than
 * 100,000.
 */
#ifndef VOCAL_IDSET_H
#define VOCAL_IDSET_H

#include <stddef.h>
#include <stdint.h>

struct idset {
	int64_t *ids;		/* the members, in order first added */
	size_t n, cap;
	size_t *slots;		/* open addressing: index + 1 into ids, 0 free */
	size_t nslots;		/* power of two, or 0 */
};

/* Adds id. Returns 1 when added, 0 when already there,
 * -1 on no memory (the set is unchanged). */
int idset_add(struct idset *set, int64_t id);

/* Hands the members over (the caller frees the array, *n its length;
 * NULL with 0 when empty) and leaves the set empty. */
int64_t *idset_take(struct idset *set, size_t *n);

/* Empties the set and frees its memory. */
void idset_clear(struct idset *set);

/* Formats ids[0..n) as a PostgreSQL array literal ("{1,2,3}") for an
 * ANY($1::bigint[]) parameter. Returns a malloc'd string, NULL on no
 * memory. */
char *idset_pg_array(const int64_t *ids, size_t n);

#endif
