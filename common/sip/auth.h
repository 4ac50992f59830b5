/*
 * Authentication headers: Authorization and Proxy-Authorization
 * (credentials), WWW-Authenticate and Proxy-Authenticate (challenges).
 * Digest parameters are picked out; other schemes keep their parameters so
 * that a proxy forwards them unchanged (RFC 4475 regaut01).
 */
#ifndef VOCAL_SIP_AUTH_H
#define VOCAL_SIP_AUTH_H

#include <stdbool.h>

#include "arena.h"
#include "sip/error.h"
#include "sip/scan.h"

struct sip_auth {
	sip_str scheme;          /* "Digest", or another scheme */
	bool digest;
	struct sip_param *params;
	/* Digest parameters (quotes removed, escapes kept); absent ones are
	 * not present (sip_str_present). */
	sip_str username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc,
		stale, domain, userhash;
};

/* Parses one credentials or challenge value: scheme LWS param *(, param). */
int sip_auth_parse(sip_str value, struct arena *a, struct sip_auth *out, const char *what,
		   struct sip_error *err);

#endif
