/*
 * libFuzzer target: digest verification (common/sip/digest.h) of
 * Authorization values parsed by sip_auth_parse.
 *
 * The input is one credentials value. Random bytes never carry a valid
 * nonce or response, so two placeholders let the corpus reach the deep
 * paths: "@NONCE@" becomes a fresh nonce of ours for the algorithm the
 * credentials name, and "@RESPONSE@" the response a client with the right
 * password would send (computed from the parsed uri, nc, cnonce, qop). The
 * value is then verified twice against the stored HA1 of alice@vocal.test,
 * with a fresh context (tiny replay table) per input. Properties
 * (__builtin_trap when broken):
 *
 *  - no crash, no sanitizer report; results are in range and "why" is a
 *    terminated sentence (empty exactly on DIGEST_OK);
 *  - the same credentials never verify twice (nc replay, one use without
 *    qop);
 *  - a challenge for the parsed realm, when it is printable ASCII, fits the
 *    room digest.h promises and parses back as Digest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/auth.h"
#include "sip/digest.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define REALM "vocal.test"
#define NOW ((int64_t)1700000000)
#define SECRET "a fixed secret for fuzzing only"
#define PASSWORD "s3cr3t"

static sip_str lit(const char *s) { return sip_str_make(s, strlen(s)); }

/* Replaces every pat in in[0..*len) by rep; returns a malloc'd buffer. */
static char *subst(const char *in, size_t *len, const char *pat, const char *rep)
{
	size_t pl = strlen(pat), rl = strlen(rep), n = *len, count = 0;
	for (size_t i = 0; i + pl <= n; i++)
		if (memcmp(in + i, pat, pl) == 0)
			count++, i += pl - 1;
	char *out = malloc(n + count * rl + 1);
	CHECK(out);
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		if (i + pl <= n && memcmp(in + i, pat, pl) == 0) {
			memcpy(out + o, rep, rl);
			o += rl;
			i += pl;
		} else {
			out[o++] = in[i++];
		}
	}
	*len = o;
	return out;
}

static int parse(const char *buf, size_t len, struct arena *a, struct sip_auth *au)
{
	memset(au, 0, sizeof(*au));
	arena_free(a);
	struct sip_error err = {.base = buf};
	return sip_auth_parse(sip_str_make(buf, len), a, au, "Authorization", &err);
}

static bool printable(sip_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if ((unsigned char)s.s[i] < 0x20 || (unsigned char)s.s[i] > 0x7e)
			return false;
	return true;
}

static void check_challenge(struct digest_ctx *ctx, sip_str realm)
{
	/* the room digest.h promises is enough */
	size_t cap = DIGEST_ALG_COUNT * (DIGEST_CHALLENGE_ROOM + 2 * realm.len);
	char *out = malloc(cap);
	CHECK(out);
	int n = digest_challenge(ctx, realm, true, (1u << DIGEST_ALG_COUNT) - 1, NOW, out, cap);
	if (!printable(realm) || realm.len > 255) {
		free(out);
		return;
	}
	CHECK(n == DIGEST_ALG_COUNT);
	struct arena *a = malloc(sizeof(*a));
	CHECK(a);
	arena_init(a, 0);
	const char *v = out;
	for (int i = 0; i < n; i++, v += strlen(v) + 1) {
		struct sip_auth au;
		CHECK(parse(v, strlen(v), a, &au) == 0);
		CHECK(au.digest && sip_str_present(au.realm) && au.nonce.len == 52);
		CHECK(sip_str_caseeq_lit(au.stale, "true"));
	}
	arena_free(a);
	free(a);
	free(out);
}

static enum digest_result verify(struct digest_ctx *ctx, const struct sip_auth *au,
				 const char *ha1)
{
	char why[160];
	memset(why, 'x', sizeof(why));
	enum digest_result r = digest_verify(ctx, au, lit("REGISTER"), lit(REALM), ha1, NOW + 1,
					     why, sizeof(why));
	CHECK(r >= DIGEST_OK && r <= DIGEST_ERROR);
	CHECK(memchr(why, 0, sizeof(why)) != NULL);
	CHECK((r == DIGEST_OK) == (why[0] == 0));
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	struct digest_config cfg = {
		.lifetime = 300,
		.replay_slots = 4,
		.secret = SECRET,
		.secret_len = sizeof(SECRET) - 1,
	};
	struct digest_ctx *ctx = digest_ctx_new(&cfg, NULL, 0);
	CHECK(ctx);
	struct arena *a = malloc(sizeof(*a));
	CHECK(a);
	arena_init(a, 0);

	size_t len = size;
	char *buf = malloc(size ? size : 1);
	CHECK(buf);
	if (size)
		memcpy(buf, data, size);
	struct sip_auth au;
	if (parse(buf, len, a, &au) < 0)
		goto out;
	check_challenge(ctx, au.realm);

	/* a nonce of ours for the algorithm the credentials name */
	enum digest_alg alg = DIGEST_ALG_MD5;
	(void)digest_alg_parse(au.algorithm, &alg);
	char ch[512], nonce[64] = "";
	unsigned one = DIGEST_ALG_BIT(alg);
	if (digest_challenge(ctx, lit(REALM), false, one, NOW, ch, sizeof(ch)) == 1) {
		const char *p = strstr(ch, "nonce=\"");
		CHECK(p);
		memcpy(nonce, p + 7, 52);
		nonce[52] = 0;
	}
	char *next = subst(buf, &len, "@NONCE@", nonce);
	free(buf);
	buf = next;
	if (parse(buf, len, a, &au) < 0)
		goto out;

	static char ha1[DIGEST_ALG_COUNT][DIGEST_HEX_MAX];
	for (int i = 0; i < DIGEST_ALG_COUNT && !ha1[i][0]; i++)
		CHECK(digest_ha1((enum digest_alg)i, "alice", REALM, PASSWORD, ha1[i]) == 0);
	const char *stored = ha1[digest_alg_base(alg)];

	/* the response of a client that knows the password */
	if (sip_str_eq(au.response, lit("@RESPONSE@"))) {
		struct digest_input in = {
			.alg = alg,
			.method = lit("REGISTER"),
			.uri = au.uri,
			.nonce = au.nonce,
			.nc = au.nc,
			.cnonce = au.cnonce,
			.qop = sip_str_present(au.qop) ? au.qop : SIP_STR_NULL,
		};
		char resp[DIGEST_HEX_MAX];
		if (digest_response(&in, stored, resp) == 0) {
			next = subst(buf, &len, "@RESPONSE@", resp);
			free(buf);
			buf = next;
			if (parse(buf, len, a, &au) < 0)
				goto out;
		}
	}

	enum digest_result r1 = verify(ctx, &au, stored);
	enum digest_result r2 = verify(ctx, &au, stored);
	CHECK(!(r1 == DIGEST_OK && r2 == DIGEST_OK));
	/* and with a stored HA1 of the wrong kind */
	(void)verify(ctx, &au,
		     ha1[digest_alg_hex_len(alg) == 32 ? DIGEST_ALG_SHA256 : DIGEST_ALG_MD5]);
out:
	arena_free(a);
	free(a);
	free(buf);
	digest_ctx_free(ctx);
	return 0;
}
