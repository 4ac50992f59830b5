/*
 * Where featured sends a call (feature/target.c) and how an attempt's
 * final status reads to a CPL script. Pure functions, no state.
 *
 * Going on to the next hop: the same Request-URI with the same vocal-hop
 * value (feature_hop.h) and without the maddr that named us; redirectd
 * sees the hop done and answers with the next one. Forwarding to a new
 * target T: T as Request-URI (a bare user or number in the subscriber's
 * domain) with vocal-hop=r.0.0.<forwards + 1>, signed for T's user and
 * host: redirectd runs T's called-side features next.
 */
#ifndef VOCAL_FEATURE_TARGET_H
#define VOCAL_FEATURE_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feature/cpl.h"
#include "feature_hop.h"
#include "sip/str.h"
#include "sip/uri.h"

/* Writes ruri without its maddr and transport parameters (the vocal-hop
 * and every other parameter kept), NUL-terminated. Returns the length, or
 * -1 when it does not fit or ruri is not sip/sips. */
int feature_target_continue(const struct sip_uri *ruri, char *out, size_t cap);

/* Whether a location of a script means "the call's own destination" (go
 * on to the next hop): a sip/sips/tel URI whose user and host equal the
 * Request-URI's (tel: and a bare user compare the user only). */
bool feature_target_is_self(const char *url, const struct sip_uri *ruri);

/*
 * Writes the Request-URI for forwarding to t: "sip:..." / "sips:..." as
 * given (a vocal-hop or maddr in it dropped), "tel:N" or a bare user or
 * number as sip:USER@domain (tel: with ;user=phone), then
 * ";vocal-hop=r.0.0.<forwards>" signed with key for call_id and the new
 * URI's user and host. Returns the length (NUL-terminated), or -1 (t not
 * usable, no room, forwards 0).
 */
int feature_target_forward(const char *t, sip_str domain, const uint8_t key[FEATURE_HOP_KEY_LEN],
			   sip_str call_id, uint32_t forwards, char *out, size_t cap);

/* How an attempt's final status reads to a script: 2xx answered, 486 and
 * 600 busy, 408 and 480 (or our proxy timeout) no answer, 3xx
 * redirection, anything else failure. */
enum cpl_proxy_status feature_outcome(unsigned status, bool timed_out);

#endif
