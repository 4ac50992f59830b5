/*
 * Small text helpers every module needs and no library gives us in the
 * form we want: ASCII-only case folding (locale-independent, as protocols
 * require), hex digits, and error text written into a caller's buffer.
 */
#ifndef VOCAL_TEXT_H
#define VOCAL_TEXT_H

#include <stddef.h>

/* The value of a hex digit, or -1. */
static inline int hex_digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ASCII lower case; other bytes unchanged. */
static inline int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Formats into err[errlen] when err is not NULL: how library calls report
 * why they failed without printing. */
void errbuf_printf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
