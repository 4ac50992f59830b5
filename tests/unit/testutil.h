/*
 * Helpers shared by the cmocka unit tests: build a message from text with
 * CRLF line ends, and parse it with a fresh error record.
 */
#ifndef VOCAL_TESTUTIL_H
#define VOCAL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Returns a malloc'd copy of text with every "\n" turned into "\r\n", so that
 * tests can write messages as readable C strings. *len gets the length. */
static inline char *crlf(const char *text, size_t *len)
{
	size_t n = strlen(text), lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += text[i] == '\n';
	char *out = malloc(n + lines + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (text[i] == '\n')
			out[o++] = '\r';
		out[o++] = text[i];
	}
	out[o] = 0;
	*len = o;
	return out;
}

/* Reads a whole file into a malloc'd buffer; NULL when it cannot. */
static inline char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	*len = 0;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n > 0 ? (size_t)n : 0;
	return buf;
}

/* A sip_str compared with a C string, for assertions. */
#define assert_str(slice, lit)                                                        \
	do {                                                                          \
		sip_str s_ = (slice);                                                 \
		if (s_.len != strlen(lit) || (s_.len && memcmp(s_.s, lit, s_.len)))   \
			fail_msg("expected \"%s\", got \"%.*s\"", lit, (int)s_.len,   \
				 s_.s ? s_.s : "");                                   \
	} while (0)


/* ---- helpers for the parser unit tests -------------------------------- */

/* Offset of the first occurrence of needle in hay; fails the test if none. */
static inline size_t off_of(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);
	if (!p)
		fail_msg("\"%s\" not found in \"%s\"", needle, hay);
	return p ? (size_t)(p - hay) : 0;
}

/* Exact-size heap copy with no NUL after it, so that AddressSanitizer
 * reports a parser reading past the end of its input. Copies live until
 * tu_free_all(), which fits cmocka's group teardown signature. */
struct tu_pool {
	void **v;
	size_t n, cap;
};

static inline struct tu_pool *tu_pool(void)
{
	static struct tu_pool pool;
	return &pool;
}

static inline char *tu_copy(const char *s, size_t len)
{
	if (len >= ((size_t)1 << 40)) {
		fail_msg("tu_copy: length %zu makes no sense", len);
		return NULL;
	}
	struct tu_pool *p = tu_pool();
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->v = realloc(p->v, p->cap * sizeof(*p->v));
		assert_non_null(p->v);
	}
	char *d = malloc(len ? len : 1);
	assert_non_null(d);
	if (len)
		memcpy(d, s, len);
	p->v[p->n++] = d;
	return d;
}

static inline int tu_free_all(void **state)
{
	(void)state;
	struct tu_pool *p = tu_pool();
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
	return 0;
}

/* Asserts a parser fault (a struct sip_error) by kind and byte offset. */
#define assert_fault(err, kind, off)                                                  \
	do {                                                                          \
		const struct sip_error *e_ = &(err);                                  \
		size_t o_ = (size_t)(off);                                            \
		if (e_->fault != (kind) || e_->offset != o_)                          \
			fail_msg("expected %s at %zu, got %s at %zu (%s)",            \
				 sip_fault_name(kind), o_, sip_fault_name(e_->fault), \
				 e_->offset, e_->detail);                             \
	} while (0)

/* cmocka setup and teardown for a test file's fixture type T that holds
 * an arena in member A: a zeroed T with an empty arena per test, freed
 * with everything allocated from it. */
#define ARENA_FIXTURE_HOOKS(T, A)                                                      \
	static int setup(void **state)                                                 \
	{                                                                              \
		T *f_ = calloc(1, sizeof(*f_));                                        \
		if (!f_)                                                               \
			return -1;                                                     \
		arena_init(&f_->A, 0);                                                 \
		*state = f_;                                                           \
		return 0;                                                              \
	}                                                                              \
	static int teardown(void **state)                                              \
	{                                                                              \
		T *f_ = *state;                                                        \
		arena_free(&f_->A);                                                    \
		free(f_);                                                              \
		return 0;                                                              \
	}

#endif
