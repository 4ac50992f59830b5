/*
 * Address headers: From, To, Contact, Route, Record-Route, Path, Reply-To,
 * Refer-To, P-Asserted-Identity. Each value is a name-addr
 * ([display-name] <URI>) or an addr-spec (a bare URI), followed by header
 * parameters. In the bare form, ';' starts header parameters, so a URI
 * holding ';', ',' or '?' must be in angle brackets (RFC 3261 20.10).
 */
#ifndef VOCAL_SIP_ADDR_H
#define VOCAL_SIP_ADDR_H

#include <stdbool.h>

#include "arena.h"
#include "sip/error.h"
#include "sip/scan.h"
#include "sip/uri.h"

struct sip_addr {
	sip_str text;        /* the whole value of this entry */
	sip_str display;     /* display name: unquoted token run, or the inside of the quotes */
	bool display_quoted;
	bool angle;          /* the URI was in <> */
	bool star;           /* Contact: * */
	struct sip_uri uri;
	struct sip_param *params; /* header parameters (tag, q, expires, ...) */
	sip_str tag;         /* From/To tag, when present */
	struct sip_addr *next;
};

/* Parses one header value. With list, a comma-separated list is accepted
 * and appended to *out; otherwise exactly one entry. allow_star admits the
 * Contact wildcard. what names the header in errors. */
int sip_addr_parse(sip_str value, struct arena *a, struct sip_addr **out, bool list,
		   bool allow_star, const char *what, struct sip_error *err);

#endif
