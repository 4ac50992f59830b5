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

#endif
