/*
 * Via (RFC 3261 20.42, RFC 3581 rport, RFC 5118 IPv6 received).
 */
#ifndef VOCAL_SIP_VIA_H
#define VOCAL_SIP_VIA_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "sip/error.h"
#include "sip/scan.h"
#include "sip/str.h"

#define SIP_BRANCH_COOKIE "z9hG4bK"

struct sip_via {
	sip_str text;       /* this via-parm as it appeared */
	sip_str protocol;   /* "SIP" */
	sip_str version;    /* "2.0" */
	sip_str transport;  /* "UDP", "TCP", "TLS", "SCTP", "WS", or unknown */
	sip_str host;       /* IPv6 keeps its brackets */
	uint16_t port;
	bool has_port;
	sip_str branch;     /* present or not (sip_str_present) */
	sip_str received;   /* brackets, if sent, kept (RFC 5118 4.5) */
	sip_str maddr;
	uint8_t ttl;
	bool has_ttl;
	bool rport;         /* rport present, with or without value */
	uint16_t rport_value;
	struct sip_param *params; /* all parameters in order */
	struct sip_via *next;     /* next via-parm of the same header line (the next Via
	                             header is the header's next_same) */
};

/* Parses one Via header value (possibly several comma-separated via-parms)
 * and appends them to *list. */
int sip_via_parse(sip_str value, struct arena *a, struct sip_via **list, struct sip_error *err);

/* True when the branch starts with the RFC 3261 magic cookie and has more
 * after it: the transaction layer may then match on it (RFC 3261 17.2.3);
 * otherwise it falls back to RFC 2543 matching (RFC 4475 badbranch). */
bool sip_via_branch_is_rfc3261(const struct sip_via *via);

#endif
