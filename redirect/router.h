/*
 * The redirect server's answer to every request but REGISTER: where the
 * request goes next, as a 302 with Contacts, or why it cannot go (403,
 * 404, 480, 482, 503). Stateless per call: everything it needs is in the
 * request, the store (subscribers, their feature hops, aliases, DIDs,
 * groups and servers, dial plan) and the location service.
 *
 * Feature routing (ARCHITECTURE.md, "The call path"): an INVITE outside a
 * dialog goes first through the caller's calling-feature hops (the From
 * URI's subscriber), then through the target's called-feature hops (the
 * Request-URI's subscriber), then to the target's contacts. Where the call
 * already is travels in the Request-URI's vocal-hop parameter
 * (common/feature_hop.h), signed with the secret redirectd and featured
 * share: no parameter, the start; "c.i", calling hop i is done; "t.i",
 * called hop i is done; "r", a feature retargeted the call (the new
 * target's called hops are next). A hop is a 302 to every enabled server
 * of its group, q decreasing in the group's order, each Contact the
 * Request-URI's user and host with the server as maddr and the vocal-hop
 * value of the hop entered; featured sends the call back with the value
 * unchanged, which says that hop is done. A group whose on_failure is
 * 'skip' gets a last Contact without maddr that comes back here with the
 * same value, so the call goes on without the hop when no server answers.
 *
 * Which marshal serves a subscriber is in each binding's Path (the marshal
 * that forwarded the REGISTER put itself there). When that marshal is the
 * one asking (its Via is on top), the answer is the binding's own contact;
 * when another server asks (a gateway marshal, another UA marshal, a
 * feature server), the answer points at the serving marshal with maddr
 * (RFC 3261 19.1.1), so that the call enters through it and it asks again;
 * for a call with feature hops that Contact carries a vocal-hop value
 * saying the last called hop is done, so that the second question does not
 * start the features again.
 */
#ifndef VOCAL_REDIRECT_ROUTER_H
#define VOCAL_REDIRECT_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feature_hop.h"
#include "sip/msg.h"

struct store;
struct location;

struct router {
	struct store *store;
	struct location *loc;
	const char *dial_plan;
	/* features.secret: without it (has_key false) no hop value can be
	 * made or checked: a call that needs a hop of an on_failure 'fail'
	 * group gets 503, a 'skip' group is skipped, and any vocal-hop
	 * parameter gets 403. */
	bool has_key;
	uint8_t hop_key[FEATURE_HOP_KEY_LEN];
	uint32_t max_forwards;   /* retargets a call may take (more: 482) */
};

/* Most Contacts of one feature hop (the group's servers, then the skip). */
#define ROUTER_MAX_HOP_SERVERS 16

struct route_answer {
	unsigned status;
	const char *reason;   /* NULL: the standard phrase */
	unsigned contacts;    /* Contacts in a 302 */
	char reason_buf[96];  /* where reason points when it names a group */
};

/* Decides the answer to req. extra gets the header lines to send with it
 * (Contacts of a 302, Allow of an OPTIONS 200), NUL-terminated. */
void router_route(const struct router *r, struct sip_msg *req, char *extra, size_t cap,
		  struct route_answer *out);

#endif
