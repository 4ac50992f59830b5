/*
 * Server-side HTTP Digest authentication for SIP (RFC 3261 22, RFC 2617,
 * RFC 7616, RFC 8760): challenges, verification of credentials, stateless
 * signed nonces and nonce-count replay protection. The marshal uses it with
 * Proxy-Authorization, the registrar with Authorization.
 *
 * Supported: MD5, SHA-256 and SHA-512-256, each also as "-sess";
 * qop=auth; and, for plain MD5 only, the RFC 2069 form without qop that
 * SIPp and old phones still send (a policy of the context). Not supported:
 * qop=auth-int (no body hashing), userhash=true and username* (RFC 7616
 * 3.4.4): credentials using them are DIGEST_MALFORMED, and challenges never
 * offer them.
 *
 * The module never sees a password. The caller stores HA1 =
 * H(username ":" realm ":" password) per (username, realm, hash) and hands
 * the one for the credentials' algorithm to digest_verify (one stored value
 * serves an algorithm and its "-sess" form: see digest_alg_base).
 * digest_ha1() computes HA1 for provisioning and tests only.
 *
 * Nonces are stateless: 39 bytes, base64url without padding (52 characters):
 *
 *	byte  0      format version (1)
 *	byte  1      key id: derived from the signing secret, picks it
 *	byte  2      algorithm the nonce was issued for (enum digest_alg)
 *	bytes 3-10   issue time, seconds since the epoch, big-endian
 *	bytes 11-22  random (RAND_bytes), so two nonces of one second differ
 *	bytes 23-38  HMAC-SHA256(secret, bytes 0-22 || realm), first 16 bytes
 *
 * so a nonce proves by itself that we issued it, for which realm and
 * algorithm, and when (hence no opaque parameter: there is no state to
 * carry). It is not bound to the client's address: phones
 * behind NAT and mobile phones change address within a nonce's lifetime,
 * and binding adds nothing the MAC and the nonce-count table do not give.
 * Several daemons configured with the same secret accept each other's
 * nonces; replay state is per context, though, so a response captured on
 * the way to one daemon can be replayed once to a sibling within the
 * nonce's lifetime. Give each daemon its own secret when that matters.
 *
 * Replay policy: a nonce is remembered only once a response computed with
 * it verified (so unauthenticated traffic cannot fill the table), keyed by
 * its MAC, in a fixed-size hash table with LRU eviction (O(1), bounded
 * memory, size set by digest_config.replay_slots). With qop the nonce-count
 * must grow with every use of a nonce: a repeated or lower nc is
 * DIGEST_REPLAY. Without qop (RFC 2069, MD5 only) the default is one use per
 * nonce (DIGEST_NOQOP_ONCE); Kamailio-style reuse within the lifetime and
 * refusal are the other policies. When the table is full the least recently
 * used nonce is forgotten; to stay safe, any nonce issued no later than a
 * forgotten still-live one is then answered DIGEST_STALE on first sight (the
 * client simply retries with a fresh nonce). Size the table at least at
 * (nonces first used per second) x (lifetime) to avoid that; a slot costs
 * 40 bytes plus up to 8 for its hash bucket (65536 slots: about 3 MB).
 *
 * Thread-compatible: a context holds OpenSSL hash state and the replay
 * table and must be used by one thread at a time; there is no hidden global
 * state besides OpenSSL's. One context per daemon (under the caller's lock,
 * if it has threads) keeps replay protection whole.
 */
#ifndef VOCAL_SIP_DIGEST_H
#define VOCAL_SIP_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/auth.h"
#include "sip/error.h"
#include "sip/hdr.h"
#include "sip/str.h"

struct sip_msg;
struct sip_hdr;

/* Order is the wire order of challenges: values must stay below 8 (mask)
 * and fit the nonce's algorithm byte. */
enum digest_alg {
	DIGEST_ALG_MD5 = 0,
	DIGEST_ALG_MD5_SESS,
	DIGEST_ALG_SHA256,
	DIGEST_ALG_SHA256_SESS,
	DIGEST_ALG_SHA512_256,
	DIGEST_ALG_SHA512_256_SESS,
	DIGEST_ALG_COUNT
};

#define DIGEST_ALG_BIT(alg) (1u << (alg))
/* What the marshal offers by default: SHA-256 first, then MD5 for the many
 * SIP clients that know nothing else (RFC 8760 2.4: a client answers the
 * first challenge it supports). SIPp 3.6.1 breaks that rule: it answers the
 * first challenge only and gives up on anything but MD5 ("authentication
 * must use MD5 or AKAv1-MD5"), so offer DIGEST_ALG_BIT(DIGEST_ALG_MD5) alone
 * to SIPp and clients like it. */
#define DIGEST_ALGS_DEFAULT (DIGEST_ALG_BIT(DIGEST_ALG_SHA256) | DIGEST_ALG_BIT(DIGEST_ALG_MD5))

/* Hex digest buffer size: 64 hex digits (SHA-256, SHA-512-256) and a NUL. */
#define DIGEST_HEX_MAX 65

/* Room digest_challenge needs: per challenge, this plus twice the realm. */
#define DIGEST_CHALLENGE_ROOM 160

enum digest_noqop {
	DIGEST_NOQOP_ONCE = 0, /* without qop a nonce verifies once (default) */
	DIGEST_NOQOP_REFUSE,   /* qop is required: no RFC 2069 responses */
	DIGEST_NOQOP_REUSE,    /* reuse within the lifetime (Kamailio's default) */
};

struct digest_config {
	unsigned lifetime;          /* nonce lifetime in seconds; 0: 300 */
	unsigned replay_slots;      /* nonces remembered for nc; 0: 65536 */
	enum digest_noqop noqop;    /* policy for credentials without qop */
	const void *secret;         /* signing secret, >= 16 bytes; NULL: random */
	size_t secret_len;
};

enum digest_result {
	DIGEST_OK = 0,
	DIGEST_STALE,        /* authentic nonce, correct response, but too old
			      * (or forgotten): challenge again with stale=true */
	DIGEST_BAD_RESPONSE, /* wrong password (or method, uri...): 401/407 or 403 */
	DIGEST_BAD_NONCE,    /* not a nonce of ours (forged, altered, other realm,
			      * secret gone, issued over 30 s in the future):
			      * challenge again, stale=false */
	DIGEST_REPLAY,       /* correct response, but this nc was seen before:
			      * challenge again with stale=true */
	DIGEST_MALFORMED,    /* not Digest, a parameter missing, unknown or
			      * mismatched algorithm, other realm, bad nc, qop
			      * unsupported or missing against the policy: 400,
			      * or a fresh challenge to let the client retry
			      * with what we offer */
	DIGEST_ERROR,        /* our side: unusable stored HA1, OpenSSL failure: 500 */
};

/* Stable short name of a result, e.g. "bad-nonce", for log lines. */
const char *digest_result_name(enum digest_result r);

/* The algorithm named by an "algorithm" parameter; absent (not present)
 * means MD5 (RFC 7616 3.3). Case-insensitive. Returns 0, or -1 when the
 * name is unknown. */
int digest_alg_parse(sip_str name, enum digest_alg *out);

/* Wire name, e.g. "SHA-512-256-sess". */
const char *digest_alg_name(enum digest_alg alg);

/* The algorithm whose HA1 the caller stores for alg: MD5 for MD5-sess and
 * so on (the session key is derived from it). */
enum digest_alg digest_alg_base(enum digest_alg alg);

/* Hex digits of a hash of alg: 32 or 64. */
size_t digest_alg_hex_len(enum digest_alg alg);

/* Creates a context. cfg may be NULL for the defaults. NULL on failure, with
 * a sentence in why (short secret, OpenSSL without SHA-256 or HMAC, no
 * memory). A hash OpenSSL lacks (MD5 in FIPS mode) is left out of
 * challenges and its credentials verify as DIGEST_ERROR. */
struct digest_ctx *digest_ctx_new(const struct digest_config *cfg, char *why, size_t whylen);

void digest_ctx_free(struct digest_ctx *ctx);

/* Replaces the signing secret (NULL: a random one) at time now. Nonces
 * signed with the previous secret and issued before now stay valid for one
 * lifetime; after that they are DIGEST_BAD_NONCE. Returns 0, or -1 when the
 * secret is shorter than 16 bytes or OpenSSL fails (the old secret stays). */
int digest_rotate_secret(struct digest_ctx *ctx, const void *secret, size_t len, int64_t now);

/*
 * Writes one challenge value (for WWW-Authenticate or Proxy-Authenticate)
 * per algorithm in algs (DIGEST_ALG_BIT mask; hashes OpenSSL lacks are left
 * out), strongest first as RFC 8760 asks, each with its own nonce:
 *
 *	Digest realm="r", nonce="...", algorithm=SHA-256, qop="auth"[, stale=true]
 *
 * The values are packed into out one after another, each ended by a NUL
 * byte, so the caller writes one header per value. now is Unix time in
 * seconds. Returns the number of values (>= 1), or -1 when algs selects
 * nothing usable, the realm is longer than 255 bytes or holds control
 * characters, out is too small (DIGEST_CHALLENGE_ROOM plus twice the realm
 * per value suffices) or the random generator fails.
 */
int digest_challenge(struct digest_ctx *ctx, sip_str realm, bool stale, unsigned algs,
		     int64_t now, char *out, size_t cap);

/*
 * Verifies Digest credentials (a parsed Authorization or Proxy-Authorization
 * value) for a request with this method, for realm expected_realm (as
 * configured, without quotes), against the stored HA1 of the credentials'
 * base algorithm (ha1_hex, NUL-terminated hex, any case; see
 * digest_alg_base). now is Unix time in seconds.
 *
 * The response is checked with the uri parameter the client sent, which is
 * not compared with the Request-URI: SIPp sends "sip:<remote_ip>:<port>"
 * there, and a proxy cannot know what a client used for the Request-URI
 * before a rewrite anyway. Quoted values are unescaped before hashing.
 * The response is compared in constant time.
 *
 * Checks, in order: shape (MALFORMED), nonce authenticity (BAD_NONCE),
 * nonce algorithm equal to the credentials' (MALFORMED), response
 * (BAD_RESPONSE), age (STALE), nonce-count (REPLAY, or STALE when the nonce
 * was forgotten). So STALE and REPLAY are only ever answered to a client
 * that knows the password. On DIGEST_OK the nonce-count is recorded, so
 * call this once per server transaction: a retransmission carries the same
 * nc and would be a REPLAY. ACK and CANCEL are never challenged (RFC 3261
 * 22.1); what to do with their credentials is the caller's choice.
 * why (may be NULL) gets a sentence for the log on any result but OK.
 */
enum digest_result digest_verify(struct digest_ctx *ctx, const struct sip_auth *cred,
				 sip_str method, sip_str expected_realm, const char *ha1_hex,
				 int64_t now, char *why, size_t whylen);

/*
 * The credentials meant for realm in a request: the first Authorization
 * (type SIP_HDR_AUTHORIZATION, registrar) or Proxy-Authorization
 * (SIP_HDR_PROXY_AUTHORIZATION, proxy) header whose scheme is Digest and
 * whose realm equals realm. A request may carry credentials for several
 * realms (RFC 3261 22.3); headers that do not parse are skipped, with the
 * first fault left in err (may be NULL). Returns the header (its parsed
 * value is h->v.auth; a proxy may remove it before forwarding), or NULL.
 */
struct sip_hdr *digest_find_credentials(struct sip_msg *m, enum sip_hdr_type type,
					sip_str realm, struct sip_error *err);

/* HA1 = H(user ":" realm ":" password) as lowercase hex into out, for
 * provisioning and tests: daemons only ever handle stored HA1 values. For a
 * "-sess" algorithm this is the stored value of its base algorithm.
 * Returns 0, or -1 when OpenSSL lacks the hash. */
int digest_ha1(enum digest_alg alg, const char *user, const char *realm, const char *password,
	       char out[DIGEST_HEX_MAX]);

/* What a response is computed from; values as the client would hash them
 * (unquoted, unescaped). qop empty (len 0) means the RFC 2069 form. */
struct digest_input {
	enum digest_alg alg;
	sip_str method, uri, nonce, nc, cnonce, qop;
};

/* The response a client sends for in with the given HA1 (hex of the base
 * algorithm), as lowercase hex into out: what a client (or a test) needs.
 * Returns 0, or -1 when the HA1 is not hex of the right length or OpenSSL
 * lacks the hash. */
int digest_response(const struct digest_input *in, const char *ha1_hex, char out[DIGEST_HEX_MAX]);

#endif
