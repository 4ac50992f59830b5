/*
 * A bump allocator for objects that all die together (one SIP message and
 * everything parsed out of it). The first block lives inside the arena
 * itself, so parsing a typical message makes no call to malloc.
 */
#ifndef VOCAL_ARENA_H
#define VOCAL_ARENA_H

#include <stddef.h>

#define ARENA_INLINE_SIZE 3072

struct arena_block;

struct arena {
	char *cur;
	char *end;
	struct arena_block *blocks; /* malloc'd overflow blocks, newest first */
	size_t limit;               /* bytes of overflow the arena may take; 0 = none */
	size_t used;                /* overflow bytes taken so far */
	_Alignas(16) char inline_buf[ARENA_INLINE_SIZE];
};

/* Prepares an arena; limit caps its malloc'd memory (0 means no cap). */
void arena_init(struct arena *a, size_t limit);

/* Returns zeroed memory aligned to 16 bytes, or NULL when the cap is hit or
 * malloc fails. Memory is freed only by arena_reset/arena_free. */
void *arena_alloc(struct arena *a, size_t size);

/* Copies len bytes into the arena; NULL on failure. */
char *arena_memdup(struct arena *a, const void *p, size_t len);

/* Frees every overflow block and makes the arena empty again. */
void arena_free(struct arena *a);

#endif
