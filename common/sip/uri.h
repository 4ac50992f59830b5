/*
 * URIs: sip, sips and tel parsed into their parts; any other scheme kept as
 * an absoluteURI (scheme + opaque part) so that a request carrying one can
 * be answered 416 rather than 400. Zero-copy: every part is a slice of the
 * parsed text and nothing is allocated.
 */
#ifndef VOCAL_SIP_URI_H
#define VOCAL_SIP_URI_H

#include <stdbool.h>
#include <stdint.h>

#include "sip/error.h"
#include "sip/str.h"

enum sip_uri_scheme {
	SIP_URI_OTHER = 0, /* any other absoluteURI */
	SIP_URI_SIP,
	SIP_URI_SIPS,
	SIP_URI_TEL,
};

struct sip_uri {
	enum sip_uri_scheme scheme;
	sip_str raw;      /* the whole URI */
	sip_str scheme_name;
	sip_str user;     /* sip/sips: user part, still escaped; tel: the number */
	sip_str password;
	sip_str host;     /* IPv6 references keep their brackets */
	uint16_t port;
	bool has_port;
	bool host_is_ipv6;
	sip_str params;   /* ";a=b;c" including the leading ';', or empty */
	sip_str headers;  /* "a=b&c=d" after '?', or empty */
	sip_str opaque;   /* other schemes: everything after "scheme:" */
	/* Well-known parameters, found while parsing (values escaped). */
	sip_str transport, user_param, method, maddr, ttl;
	bool lr;
};

/* Parses text as a URI. Returns 0, or -1 with err set (fault
 * SIP_FAULT_HEADER_VALUE; the caller may re-label it). */
int sip_uri_parse(struct sip_uri *uri, const char *text, size_t len, struct sip_error *err);

/* Compares two URIs by RFC 3261 section 19.1.4: schemes must be equal;
 * userinfo case-sensitive and host case-insensitive after unescaping; ports
 * equal (absent is not 5060); transport/user/ttl/method/maddr must match if
 * present in either; other parameters must match where both have them;
 * headers must all match. Other schemes compare byte for byte. */
bool sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b);

/* Iterates over ";name=value" parameters of a params slice: call with
 * *cursor zeroed; returns false at the end. */
bool sip_uri_param_next(sip_str *cursor, sip_str *name, sip_str *value);

/* Finds a URI parameter by name (case-insensitive); returns whether found. */
bool sip_uri_param(const struct sip_uri *uri, const char *name, sip_str *value);

/* Unescapes %HH sequences of in into out (capacity cap); returns the output
 * length or -1 when out is too small or an escape is malformed. */
long sip_unescape(sip_str in, char *out, size_t cap);

const char *sip_uri_scheme_name(enum sip_uri_scheme s);

#endif
