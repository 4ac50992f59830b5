/*
 * Where a call is on its way through feature servers, carried in the call
 * itself so that redirectd keeps no per-call state (VOCAL read its Via
 * stack for this).
 *
 * redirectd routes an INVITE through hops: the caller's calling-feature
 * groups, then the callee's called-feature groups, then the callee's
 * contacts. When it sends a call to a feature hop, the Contact of its 302
 * carries a Request-URI parameter naming that hop:
 *
 *     sip:bob@example.com;maddr=10.0.0.7;vocal-hop=t.0.12.0.5f0c0b6e9a4d21c3
 *
 * phase.index.group.forwards.mac: the called phase's first hop, run by
 * group 12, no retargeting so far. featured runs the hop's features and
 * sends the call on to redirectd with the parameter unchanged, which
 * tells redirectd that hop is done. When a feature sends the call to
 * another address (forwarding), featured marks the new Request-URI with
 * phase 'r' (retargeted: the calling side is done, the new target's
 * called side is next) and one more forward.
 *
 * The MAC (HMAC-SHA-256, first 64 bits, with a secret redirectd and
 * featured share) covers the value, the Call-ID and the Request-URI's
 * user and host, so a phone can neither skip a hop (call blocking runs
 * in one) nor carry a value over to another call or target.
 */
#ifndef VOCAL_FEATURE_HOP_H
#define VOCAL_FEATURE_HOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/str.h"

#define FEATURE_HOP_PARAM "vocal-hop"
#define FEATURE_HOP_KEY_LEN 32
/* "r.4294967295.9223372036854775807.4294967295." + 16 + NUL, rounded */
#define FEATURE_HOP_MAX 64

enum feature_hop_phase {
	FEATURE_HOP_CALLING = 'c',    /* the caller's calling-feature hop index */
	FEATURE_HOP_CALLED = 't',     /* the target's called-feature hop index */
	FEATURE_HOP_RETARGETED = 'r', /* sent to a new target: its called hops are next */
};

struct feature_hop {
	enum feature_hop_phase phase;
	uint32_t index;    /* hop within the phase (0 for 'r') */
	int64_t group_id;  /* group running the hop (0 for 'r') */
	uint32_t forwards; /* retargets so far */
};

/* Parses a hex secret of 64 digits (FEATURE_HOP_KEY_LEN bytes). Returns 0
 * or -1. */
int feature_hop_key_parse(const char *hex, uint8_t key[FEATURE_HOP_KEY_LEN]);

/* Writes the parameter value for h, bound to call_id and the Request-URI's
 * user and host (compared case-insensitively: host names fold). Returns its
 * length, or -1 when cap is too small. */
int feature_hop_format(const struct feature_hop *h, const uint8_t key[FEATURE_HOP_KEY_LEN],
		       sip_str call_id, sip_str user, sip_str host, char *out, size_t cap);

/* Reads a parameter value. Returns 0 and fills *h when it is well formed
 * and its MAC matches call_id, user and host; -1 otherwise (*h untouched). */
int feature_hop_parse(sip_str value, const uint8_t key[FEATURE_HOP_KEY_LEN], sip_str call_id,
		      sip_str user, sip_str host, struct feature_hop *h);

/* Reads a value's fields without checking its MAC (where there is no
 * secret): a routing hint, never a reason to trust anything. Returns 0
 * and fills *h when it is well formed, -1 otherwise. */
int feature_hop_peek(sip_str value, struct feature_hop *h);

struct sip_msg;
struct store;

/*
 * Whether a 3xx (redirectd's) sends the call into a feature hop: one of
 * its Contacts is a server of the group its vocal-hop value names (by
 * maddr and port, as enter_hop in redirect/router.c writes it), or is the
 * hop's skip (a calling or called value without maddr). Its Contacts are
 * then alternative servers for one job: the marshal and featured recurse
 * on it with failover only (sip/proxy.h, SIP_PROXY_RECURSE_FAILOVER), so
 * that a feature's answer or a callee's, relayed by the feature server,
 * is the call's, and neither the next server nor the skip runs it again.
 * Not a feature hop: the callee's marshal or contacts (their value says
 * the features are done), a feature's redirect (phase r), anything
 * without the parameter.
 */
bool feature_hop_redirect(const struct store *s, struct sip_msg *resp);

#endif
