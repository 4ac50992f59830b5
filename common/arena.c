#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
	struct arena_block *next;
	size_t size;
	_Alignas(16) char data[];
};

#define ARENA_BLOCK_SIZE 8192

void arena_init(struct arena *a, size_t limit)
{
	a->cur = a->inline_buf;
	a->end = a->inline_buf + sizeof(a->inline_buf);
	a->blocks = NULL;
	a->limit = limit;
	a->used = 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
	if (size > SIZE_MAX / 2)
		return NULL; /* rounding up would wrap */
	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	if ((size_t)(a->end - a->cur) < size) {
		size_t bsize = size > ARENA_BLOCK_SIZE ? size : ARENA_BLOCK_SIZE;
		if (a->limit && a->used + bsize > a->limit)
			return NULL;
		struct arena_block *b = malloc(sizeof(*b) + bsize);
		if (!b)
			return NULL;
		b->next = a->blocks;
		b->size = bsize;
		a->blocks = b;
		a->used += bsize;
		a->cur = b->data;
		a->end = b->data + bsize;
	}
	void *p = a->cur;
	a->cur += size;
	memset(p, 0, size);
	return p;
}

char *arena_memdup(struct arena *a, const void *p, size_t len)
{
	if (len == SIZE_MAX)
		return NULL;
	char *d = arena_alloc(a, len + 1);
	if (d && len)
		memcpy(d, p, len);
	return d;
}

void arena_free(struct arena *a)
{
	struct arena_block *b = a->blocks;
	while (b) {
		struct arena_block *n = b->next;
		free(b);
		b = n;
	}
	arena_init(a, a->limit);
}
