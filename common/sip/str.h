/*
 * sip_str: a slice of bytes that lives in someone else's buffer.
 *
 * The SIP parser never copies: every parsed field is a sip_str pointing into
 * the receive buffer, so a field is valid for as long as that buffer is.
 * Slices are not NUL-terminated and may contain NUL bytes (RFC 4475 intmeth).
 */
#ifndef VOCAL_SIP_STR_H
#define VOCAL_SIP_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct {
	const char *s;
	size_t len;
} sip_str;

#define SIP_STR_NULL ((sip_str){NULL, 0})
/* A sip_str over a string literal. */
#define SIP_STR_LIT(lit) ((sip_str){(lit), sizeof(lit) - 1})

static inline sip_str sip_str_make(const char *s, size_t len)
{
	return (sip_str){s, len};
}

static inline bool sip_str_empty(sip_str a) { return a.len == 0; }

/* True when a was set by a parser (even to an empty value). */
static inline bool sip_str_present(sip_str a) { return a.s != NULL; }

static inline bool sip_str_eq(sip_str a, sip_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}

static inline bool sip_str_caseeq(sip_str a, sip_str b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.s, b.s, a.len) == 0);
}

/* Case-insensitive comparison with a NUL-terminated ASCII literal. */
static inline bool sip_str_caseeq_lit(sip_str a, const char *lit)
{
	size_t n = strlen(lit);
	return a.len == n && strncasecmp(a.s, lit, n) == 0;
}

#endif
