/*
 * The redirect server's answer to every request but REGISTER: where the
 * request goes next, as a 302 with Contacts, or why it cannot go (404,
 * 480). Stateless per call: everything it needs is in the request, the
 * store (subscribers, aliases, DIDs, dial plan) and the location service.
 *
 * Which marshal serves a subscriber is in each binding's Path (the marshal
 * that forwarded the REGISTER put itself there). When that marshal is the
 * one asking (its Via is on top), the answer is the binding's own contact;
 * when another server asks (a gateway marshal, another UA marshal), the
 * answer points at the serving marshal with maddr (RFC 3261 19.1.1), so
 * that the call enters through it and it asks again.
 */
#ifndef VOCAL_REDIRECT_ROUTER_H
#define VOCAL_REDIRECT_ROUTER_H

#include <stddef.h>

#include "sip/msg.h"

struct store;
struct location;

struct router {
	struct store *store;
	struct location *loc;
	const char *dial_plan;
};

struct route_answer {
	unsigned status;
	const char *reason;   /* NULL: the standard phrase */
	unsigned contacts;    /* Contacts in a 302 */
};

/* Decides the answer to req. extra gets the header lines to send with it
 * (Contacts of a 302, Allow of an OPTIONS 200), NUL-terminated. */
void router_route(const struct router *r, struct sip_msg *req, char *extra, size_t cap,
		  struct route_answer *out);

#endif
