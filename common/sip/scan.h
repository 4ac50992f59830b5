/*
 * Lexical building blocks of RFC 3261 section 25: character classes, linear
 * white space (with line folding), tokens, quoted strings and parameters.
 *
 * A scanner walks a slice [p, end). Functions that match something advance
 * p and return true; on no match they leave p where it was.
 */
#ifndef VOCAL_SIP_SCAN_H
#define VOCAL_SIP_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "sip/error.h"
#include "sip/str.h"

enum {
	CC_ALNUM = 1 << 0,
	CC_TOKEN = 1 << 1,   /* token: alphanum - . ! % * _ + ` ' ~ */
	CC_UNRES = 1 << 2,   /* unreserved: alphanum mark */
	CC_USER = 1 << 3,    /* user: unreserved & = + $ , ; ? / (and %) */
	CC_PASSWD = 1 << 4,  /* password: unreserved & = + $ , (and %) */
	CC_PARAM = 1 << 5,   /* paramchar: unreserved [ ] / : & + $ (and %) */
	CC_HNV = 1 << 6,     /* hname/hvalue: unreserved [ ] / ? : + $ (and %) */
	CC_HOST = 1 << 7,    /* hostname and IP characters: alnum - . _ */
	CC_WORD = 1 << 8,    /* word (Call-ID) */
	CC_URIC = 1 << 9,    /* uric of absoluteURI, plus % */
	CC_DIGIT = 1 << 10,
	CC_HEX = 1 << 11,
	CC_TELSUB = 1 << 12, /* tel: number characters */
};

extern const uint16_t sip_cc[256];

static inline bool cc_is(unsigned char c, unsigned cls) { return (sip_cc[c] & cls) != 0; }

struct scan {
	const char *p;
	const char *end;
};

static inline struct scan scan_of(sip_str s) { return (struct scan){s.s, s.s + s.len}; }
static inline bool scan_eof(const struct scan *sc) { return sc->p >= sc->end; }
static inline int scan_peek(const struct scan *sc)
{
	return sc->p < sc->end ? (unsigned char)*sc->p : -1;
}

/* Skips SWS: spaces, tabs and folded line breaks (CRLF followed by SP/HTAB).
 * Returns true when it skipped anything. */
bool scan_sws(struct scan *sc);

/* Matches SWS c SWS (the separators SEMI, COMMA, EQUAL, SLASH, COLON...). */
bool scan_sep(struct scan *sc, char c);

/* Matches 1*cls characters into *out. */
bool scan_span(struct scan *sc, unsigned cls, sip_str *out);

/* Matches a token (RFC 3261 token). */
static inline bool scan_token(struct scan *sc, sip_str *out) { return scan_span(sc, CC_TOKEN, out); }

/* Matches a quoted-string; *out is what is between the quotes, with any
 * quoted-pairs left escaped. Returns false (p unmoved) when unterminated. */
bool scan_quoted(struct scan *sc, sip_str *out);

/* Matches 1*DIGIT as an unsigned value no larger than max (leading zeros
 * allowed). Returns false, p unmoved, on no digits or overflow. */
bool scan_uint(struct scan *sc, uint64_t max, uint64_t *out);

/* A header or URI parameter: name [= value]. */
struct sip_param {
	sip_str name;
	sip_str value;     /* empty and not present when there was no '=' */
	bool quoted;       /* value was a quoted-string (value excludes quotes) */
	struct sip_param *next;
};

/* Parses *( SEMI generic-param ) up to a comma or the end of the slice.
 * generic-param = token [ EQUAL gen-value ]; gen-value = token / host /
 * quoted-string. what names the header for the error message. */
int scan_params(struct scan *sc, struct arena *a, struct sip_param **list,
		const char *what, struct sip_error *err);

/* The first parameter named name (case-insensitive), or NULL. */
const struct sip_param *sip_param_find(const struct sip_param *list, const char *name);

/* Matches an IPv6 reference "[...]" loosely (hex digits, colons, dots),
 * accepting RFC 5118 4.10's three-colon form. *out includes the brackets. */
bool scan_ipv6_ref(struct scan *sc, sip_str *out);

/* Matches a host: IPv6 reference, IPv4 address or host name. */
bool scan_host(struct scan *sc, sip_str *out);

#endif
