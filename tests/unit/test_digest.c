/*
 * Unit tests for common/sip/digest.[ch]: server-side digest authentication.
 *
 * Expected hashes come from the RFCs, not from the code under test:
 *  - RFC 2617 3.5: Mufasa / "Circle Of Life" / testrealm@host.com, MD5,
 *    response 6629fae49393a05397450978507c4ef1.
 *  - RFC 7616 3.9.1: Mufasa / "Circle of Life" / http-auth@example.org, MD5
 *    response 8ca523f5e9506fed4657c9700eebdbec and SHA-256 response
 *    753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1.
 * Each was recomputed independently with the openssl command line, and the
 * values the RFCs do not print (SHA-512-256, the -sess forms, RFC 2069
 * without qop) were computed the same way only:
 *
 *   h() { printf '%s' "$2" | openssl dgst -"$1" -r | cut -d' ' -f1; }
 *   HA1=$(h sha512-256 "Mufasa:http-auth@example.org:Circle of Life")
 *   HA2=$(h sha512-256 "GET:/dir/index.html")
 *   h sha512-256 "$HA1:$NONCE:00000001:$CNONCE:auth:$HA2"
 *   # -sess: S=$(h md5 "$HA1:$NONCE:$CNONCE"), then S takes HA1's place
 *   # RFC 2069: h md5 "$HA1:$NONCE:$HA2"
 *
 * Then the server side: challenges, signed nonces (tampering, expiry,
 * secret rotation), nonce-count replay protection and its bounded table,
 * the checks that make credentials malformed, finding the credentials of a
 * realm in a request, and an interop run with SIPp when it is installed.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "sip/digest.h"
#include "sip/msg.h"

extern char **environ;

#define T0 ((int64_t)1700000000)
#define REALM "vocal.test"
#define USER "alice"
#define PASSWORD "s3cr3t"

/* ---- helpers ------------------------------------------------------------ */

static sip_str S(const char *s) { return sip_str_make(s, strlen(s)); }

static const char *ha1_of(enum digest_alg alg, const char *user, const char *realm,
			  const char *password)
{
	static char ring[8][DIGEST_HEX_MAX];
	static int next;
	char *out = ring[next++ % 8];
	assert_int_equal(digest_ha1(alg, user, realm, password, out), 0);
	return out;
}

static struct digest_ctx *new_ctx(unsigned lifetime, unsigned slots, enum digest_noqop noqop,
				  const char *secret)
{
	struct digest_config cfg = {
		.lifetime = lifetime,
		.replay_slots = slots,
		.noqop = noqop,
		.secret = secret,
		.secret_len = secret ? strlen(secret) : 0,
	};
	char why[128] = "";
	struct digest_ctx *ctx = digest_ctx_new(&cfg, why, sizeof(why));
	if (!ctx)
		fail_msg("digest_ctx_new: %s", why);
	return ctx;
}

/* The nonce of a challenge for one algorithm, copied into out. */
static void get_nonce(struct digest_ctx *ctx, const char *realm, enum digest_alg alg,
		      int64_t now, char *out, size_t cap)
{
	char buf[1024];
	assert_int_equal(digest_challenge(ctx, S(realm), false, DIGEST_ALG_BIT(alg), now, buf,
					  sizeof(buf)), 1);
	const char *p = strstr(buf, "nonce=\"");
	assert_non_null(p);
	p += 7;
	const char *q = strchr(p, '"');
	assert_non_null(q);
	assert_true((size_t)(q - p) < cap);
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = 0;
}

/*
 * What a client does: the parameters it sends and the password it hashes
 * with. NULL fields are left out of the credentials; nc NULL means no qop
 * (RFC 2069). alg_text overrides the algorithm parameter ("" leaves it out).
 */
struct login {
	enum digest_alg alg;
	const char *alg_text;
	const char *scheme;
	const char *user, *realm, *password;
	const char *method, *uri, *nonce, *nc, *cnonce, *qop;
	const char *response; /* overrides the computed one */
	const char *extra;    /* appended verbatim, e.g. ", userhash=true" */
	const char *hash_realm; /* realm the client hashes with, when not realm */
};

static struct login login_for(enum digest_alg alg, const char *nonce)
{
	return (struct login){
		.alg = alg,
		.user = USER,
		.realm = REALM,
		.password = PASSWORD,
		.method = "REGISTER",
		.uri = "sip:" REALM,
		.nonce = nonce,
		.nc = "00000001",
		.cnonce = "0a4f113b",
		.qop = "auth",
	};
}

static void add(char *buf, size_t cap, const char *name, const char *value, bool quote)
{
	if (!value)
		return;
	size_t n = strlen(buf);
	snprintf(buf + n, cap - n, "%s%s=%s%s%s", n > 7 ? ", " : "", name, quote ? "\"" : "", value,
		 quote ? "\"" : "");
}

/* Credentials text as a client would send it. */
static void credentials(const struct login *l, char *buf, size_t cap)
{
	char response[DIGEST_HEX_MAX];
	if (l->response) {
		snprintf(response, sizeof(response), "%s", l->response);
	} else {
		const char *hr = l->hash_realm ? l->hash_realm : l->realm;
		struct digest_input in = {
			.alg = l->alg,
			.method = S(l->method),
			.uri = l->uri ? S(l->uri) : SIP_STR_NULL,
			.nonce = l->nonce ? S(l->nonce) : SIP_STR_NULL,
			.nc = l->nc ? S(l->nc) : SIP_STR_NULL,
			.cnonce = l->cnonce ? S(l->cnonce) : SIP_STR_NULL,
			.qop = l->nc && l->qop ? S(l->qop) : SIP_STR_NULL,
		};
		const char *ha1 = ha1_of(digest_alg_base(l->alg), l->user ? l->user : "",
					 hr ? hr : "", l->password);
		assert_int_equal(digest_response(&in, ha1, response), 0);
	}
	snprintf(buf, cap, "%s ", l->scheme ? l->scheme : "Digest");
	add(buf, cap, "username", l->user, true);
	add(buf, cap, "realm", l->realm, true);
	add(buf, cap, "nonce", l->nonce, true);
	add(buf, cap, "uri", l->uri, true);
	add(buf, cap, "response", response, true);
	if (!l->alg_text)
		add(buf, cap, "algorithm", digest_alg_name(l->alg), false);
	else if (*l->alg_text)
		add(buf, cap, "algorithm", l->alg_text, false);
	if (l->nc) {
		add(buf, cap, "qop", l->qop, false);
		add(buf, cap, "nc", l->nc, false);
		add(buf, cap, "cnonce", l->cnonce, true);
	}
	if (l->extra) {
		size_t n = strlen(buf);
		snprintf(buf + n, cap - n, "%s", l->extra);
	}
}

static char last_why[256];

/* Parses text as credentials and verifies them as the server. */
static enum digest_result verify_text(struct digest_ctx *ctx, const char *text,
				      const char *method, const char *stored_ha1, int64_t now)
{
	static struct arena a;
	struct sip_auth au;
	struct sip_error err = {.base = text};
	memset(&au, 0, sizeof(au));
	arena_init(&a, 0);
	if (sip_auth_parse(S(text), &a, &au, "Authorization", &err) < 0)
		fail_msg("test credentials do not parse: %s: %s", text, err.detail);
	last_why[0] = 0;
	enum digest_result r = digest_verify(ctx, &au, S(method), S(REALM), stored_ha1, now,
					     last_why, sizeof(last_why));
	arena_free(&a);
	if (r == DIGEST_OK)
		assert_string_equal(last_why, "");
	else
		assert_true(last_why[0] != 0);
	return r;
}

/* A client login verified against the stored HA1 of alice's password. */
static enum digest_result attempt(struct digest_ctx *ctx, const struct login *l, int64_t now)
{
	char text[2048];
	credentials(l, text, sizeof(text));
	return verify_text(ctx, text, "REGISTER",
			   ha1_of(digest_alg_base(l->alg), USER, REALM, PASSWORD), now);
}

#define assert_result(expr, want)                                                          \
	do {                                                                               \
		enum digest_result got_ = (expr);                                          \
		if (got_ != (want))                                                        \
			fail_msg("expected %s, got %s (%s)", digest_result_name(want),     \
				 digest_result_name(got_), last_why);                      \
	} while (0)

/* ---- hashes against the RFCs -------------------------------------------- */

static void check_response(enum digest_alg alg, const char *user, const char *realm,
			   const char *password, const char *method, const char *uri,
			   const char *nonce, const char *nc, const char *cnonce,
			   const char *ha1_want, const char *want)
{
	char ha1[DIGEST_HEX_MAX], out[DIGEST_HEX_MAX];
	assert_int_equal(digest_ha1(alg, user, realm, password, ha1), 0);
	if (ha1_want)
		assert_string_equal(ha1, ha1_want);
	struct digest_input in = {
		.alg = alg,
		.method = S(method),
		.uri = S(uri),
		.nonce = S(nonce),
		.nc = nc ? S(nc) : SIP_STR_NULL,
		.cnonce = cnonce ? S(cnonce) : SIP_STR_NULL,
		.qop = nc ? S("auth") : SIP_STR_NULL,
	};
	assert_int_equal(digest_response(&in, ha1, out), 0);
	assert_string_equal(out, want);
}

#define RFC2617_NONCE "dcd98b7102dd2f0e8b11d0f600bfb0c093"
#define RFC7616_NONCE "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define RFC7616_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

static void test_rfc2617_example(void **state)
{
	(void)state;
	check_response(DIGEST_ALG_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
		       "/dir/index.html", RFC2617_NONCE, "00000001", "0a4f113b",
		       "939e7578ed9e3c518a452acee763bce9", "6629fae49393a05397450978507c4ef1");
}

static void test_rfc7616_examples(void **state)
{
	(void)state;
	check_response(DIGEST_ALG_MD5, "Mufasa", "http-auth@example.org", "Circle of Life", "GET",
		       "/dir/index.html", RFC7616_NONCE, "00000001", RFC7616_CNONCE, NULL,
		       "8ca523f5e9506fed4657c9700eebdbec");
	check_response(DIGEST_ALG_SHA256, "Mufasa", "http-auth@example.org", "Circle of Life",
		       "GET", "/dir/index.html", RFC7616_NONCE, "00000001", RFC7616_CNONCE, NULL,
		       "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
	/* the same inputs with SHA-512-256 (RFC 8760), from openssl only */
	check_response(DIGEST_ALG_SHA512_256, "Mufasa", "http-auth@example.org", "Circle of Life",
		       "GET", "/dir/index.html", RFC7616_NONCE, "00000001", RFC7616_CNONCE,
		       "fb174f5c3c7802721517cae13b98e2b8dae2e0118cb705d94ee29946319204ce",
		       "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0");
}

static void test_sess_and_rfc2069_vectors(void **state)
{
	(void)state;
	/* RFC 2617's example inputs as MD5-sess, and without qop (RFC 2069) */
	check_response(DIGEST_ALG_MD5_SESS, "Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
		       "/dir/index.html", RFC2617_NONCE, "00000001", "0a4f113b",
		       "939e7578ed9e3c518a452acee763bce9", "8e3825c57e897f5a0dec6c2d4e5059d0");
	check_response(DIGEST_ALG_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
		       "/dir/index.html", RFC2617_NONCE, NULL, NULL, NULL,
		       "670fd8c2df070c60b045671b8b24ff02");
	/* a SIP REGISTER with the -sess forms of the SHA-2 hashes */
	check_response(DIGEST_ALG_SHA256_SESS, "alice", "vocal.test", "s3cr3t", "REGISTER",
		       "sip:vocal.test", "abcNONCE", "0000002a", "xyz",
		       "f1a9f90bb34e074e93b33234e10b8feed07b93a597348d213e835940318a7d31",
		       "c0eab2eed3b38768aeef6a9192ac74ecb832e786a222f1382b84da59a5561f11");
	check_response(DIGEST_ALG_SHA512_256_SESS, "alice", "vocal.test", "s3cr3t", "REGISTER",
		       "sip:vocal.test", "abcNONCE", "0000002a", "xyz",
		       "bbd14ed270ae6b9e0724f962783d3ee6b5a0fb900f050f4d9ea71f1c67a290e5",
		       "a26b87df9a24e1cd0aa59a45b8a97788d4cc7a30c9c8a5ad6f9198711890e567");
}

static void test_response_rejects_bad_ha1(void **state)
{
	(void)state;
	char out[DIGEST_HEX_MAX];
	struct digest_input in = {.alg = DIGEST_ALG_SHA256, .method = S("GET"), .uri = S("/")};
	/* an MD5 HA1 for SHA-256, and a non-hex one */
	assert_int_equal(digest_response(&in, "939e7578ed9e3c518a452acee763bce9", out), -1);
	in.alg = DIGEST_ALG_MD5;
	assert_int_equal(digest_response(&in, "939e7578ed9e3c518a452acee763bcez", out), -1);
	/* upper-case hex is the same HA1 */
	assert_int_equal(digest_response(&in, "939E7578ED9E3C518A452ACEE763BCE9", out), 0);
}

static void test_algorithm_names(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum digest_alg alg;
		enum digest_alg base;
		size_t hex;
	} cases[] = {
		{"MD5", DIGEST_ALG_MD5, DIGEST_ALG_MD5, 32},
		{"md5-SESS", DIGEST_ALG_MD5_SESS, DIGEST_ALG_MD5, 32},
		{"SHA-256", DIGEST_ALG_SHA256, DIGEST_ALG_SHA256, 64},
		{"sha-256-sess", DIGEST_ALG_SHA256_SESS, DIGEST_ALG_SHA256, 64},
		{"SHA-512-256", DIGEST_ALG_SHA512_256, DIGEST_ALG_SHA512_256, 64},
		{"SHA-512-256-sess", DIGEST_ALG_SHA512_256_SESS, DIGEST_ALG_SHA512_256, 64},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum digest_alg a = DIGEST_ALG_COUNT;
		assert_int_equal(digest_alg_parse(S(cases[i].name), &a), 0);
		assert_int_equal(a, cases[i].alg);
		assert_int_equal(digest_alg_base(a), cases[i].base);
		assert_int_equal(digest_alg_hex_len(a), cases[i].hex);
	}
	enum digest_alg a = DIGEST_ALG_COUNT;
	assert_int_equal(digest_alg_parse(SIP_STR_NULL, &a), 0); /* absent: MD5 */
	assert_int_equal(a, DIGEST_ALG_MD5);
	assert_int_equal(digest_alg_parse(S("SHA-1"), &a), -1);
	assert_int_equal(digest_alg_parse(S("SHA-256x"), &a), -1);
	assert_int_equal(digest_alg_parse(S(""), &a), -1);
	assert_string_equal(digest_alg_name(DIGEST_ALG_SHA512_256_SESS), "SHA-512-256-sess");
	assert_string_equal(digest_result_name(DIGEST_BAD_NONCE), "bad-nonce");
	assert_string_equal(digest_result_name(DIGEST_STALE), "stale");
}

/* ---- challenges --------------------------------------------------------- */

static void test_challenge_contents(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	char buf[4096];
	unsigned all = (1u << DIGEST_ALG_COUNT) - 1;
	int n = digest_challenge(ctx, S(REALM), false, all, T0, buf, sizeof(buf));
	assert_int_equal(n, 6);
	static const char *const order[] = {"SHA-512-256", "SHA-512-256-sess", "SHA-256",
					    "SHA-256-sess", "MD5", "MD5-sess"};
	char nonces[6][64];
	const char *v = buf;
	for (int i = 0; i < n; i++, v += strlen(v) + 1) {
		struct arena a;
		arena_init(&a, 0);
		struct sip_auth au;
		memset(&au, 0, sizeof(au));
		struct sip_error err = {.base = v};
		assert_int_equal(sip_auth_parse(S(v), &a, &au, "WWW-Authenticate", &err), 0);
		assert_true(au.digest);
		assert_str(au.realm, REALM);
		assert_str(au.algorithm, order[i]);
		assert_str(au.qop, "auth");
		assert_false(sip_str_present(au.stale));
		assert_int_equal(au.nonce.len, 52);
		/* realm, nonce and qop quoted; algorithm a token (RFC 7616 3.3) */
		assert_non_null(strstr(v, "realm=\"" REALM "\""));
		assert_non_null(strstr(v, "nonce=\""));
		assert_non_null(strstr(v, "qop=\"auth\""));
		assert_null(strstr(v, "algorithm=\""));
		assert_true(strncmp(v, "Digest ", 7) == 0);
		assert_null(strpbrk(v, "\r\n"));
		memcpy(nonces[i], au.nonce.s, au.nonce.len);
		nonces[i][au.nonce.len] = 0;
		for (int j = 0; j < i; j++)
			assert_string_not_equal(nonces[i], nonces[j]);
		arena_free(&a);
	}

	/* stale=true when asked; the default set is SHA-256 then MD5 */
	n = digest_challenge(ctx, S(REALM), true, DIGEST_ALGS_DEFAULT, T0, buf, sizeof(buf));
	assert_int_equal(n, 2);
	assert_non_null(strstr(buf, "algorithm=SHA-256, qop=\"auth\", stale=true"));
	v = buf + strlen(buf) + 1;
	assert_non_null(strstr(v, "algorithm=MD5, qop=\"auth\", stale=true"));

	/* nothing to offer, or no room: -1 */
	assert_int_equal(digest_challenge(ctx, S(REALM), false, 0, T0, buf, sizeof(buf)), -1);
	assert_int_equal(digest_challenge(ctx, S(REALM), false, DIGEST_ALGS_DEFAULT, T0, buf, 150),
			 -1);
	size_t room = DIGEST_CHALLENGE_ROOM + 2 * strlen(REALM);
	assert_int_equal(digest_challenge(ctx, S(REALM), true, all, T0, buf, 6 * room), 6);
	/* a realm that would break the header */
	assert_int_equal(digest_challenge(ctx, S("a\r\nb"), false, all, T0, buf, sizeof(buf)), -1);
	digest_ctx_free(ctx);
}

static void test_challenge_realm_escaping(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	const char *realm = "odd \"realm\" \\ here";
	char buf[1024];
	assert_int_equal(digest_challenge(ctx, S(realm), false, DIGEST_ALG_BIT(DIGEST_ALG_MD5), T0,
					  buf, sizeof(buf)), 1);
	assert_non_null(strstr(buf, "realm=\"odd \\\"realm\\\" \\\\ here\""));
	/* a client echoes the escaped realm and hashes the unescaped one */
	char nonce[64];
	get_nonce(ctx, realm, DIGEST_ALG_MD5, T0, nonce, sizeof(nonce));
	struct login l = login_for(DIGEST_ALG_MD5, nonce);
	l.realm = "odd \\\"realm\\\" \\\\ here";
	l.hash_realm = realm;
	char text[1024];
	credentials(&l, text, sizeof(text));
	struct arena a;
	arena_init(&a, 0);
	struct sip_auth au;
	memset(&au, 0, sizeof(au));
	assert_int_equal(sip_auth_parse(S(text), &a, &au, "Authorization", NULL), 0);
	char why[128];
	assert_int_equal(digest_verify(ctx, &au, S("REGISTER"), S(realm),
				       ha1_of(DIGEST_ALG_MD5, USER, realm, PASSWORD), T0, why,
				       sizeof(why)),
			 DIGEST_OK);
	arena_free(&a);
	digest_ctx_free(ctx);
}

/* ---- verification ------------------------------------------------------- */

static void test_verify_every_algorithm(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	for (int alg = 0; alg < DIGEST_ALG_COUNT; alg++) {
		char nonce[64];
		get_nonce(ctx, REALM, (enum digest_alg)alg, T0, nonce, sizeof(nonce));
		struct login l = login_for((enum digest_alg)alg, nonce);
		assert_result(attempt(ctx, &l, T0 + 1), DIGEST_OK);
		l.password = "wrong";
		l.nc = "00000002";
		assert_result(attempt(ctx, &l, T0 + 1), DIGEST_BAD_RESPONSE);
	}
	digest_ctx_free(ctx);
}

static void test_foreign_nonce(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	struct login l = login_for(DIGEST_ALG_SHA256, RFC7616_NONCE);
	assert_result(attempt(ctx, &l, T0), DIGEST_BAD_NONCE);
	digest_ctx_free(ctx);
}

static char b64_other(char c)
{
	return c == 'A' ? 'B' : 'A';
}

static void test_nonce_tampering(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	char nonce[64], bad[80];
	get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0, nonce, sizeof(nonce));
	size_t n = strlen(nonce);
	assert_int_equal(n, 52);
	/* every character carries six bits of the signed bytes: changing any
	 * one (and computing a correct response over the result) is refused */
	for (size_t i = 0; i < n; i++) {
		memcpy(bad, nonce, n + 1);
		bad[i] = b64_other(bad[i]);
		struct login l = login_for(DIGEST_ALG_SHA256, bad);
		enum digest_result r = attempt(ctx, &l, T0);
		if (r != DIGEST_BAD_NONCE)
			fail_msg("byte %zu changed: %s", i, digest_result_name(r));
		/* a flipped bit in the low bits too */
		memcpy(bad, nonce, n + 1);
		bad[i] = bad[i] == '_' ? '-' : bad[i] == '-' ? '_' : (char)(bad[i] ^ 1);
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
			   bad[i]))
			assert_result(attempt(ctx, &l, T0), DIGEST_BAD_NONCE);
	}
	/* shorter, longer, a character outside base64url */
	for (int i = 0; i < 5; i++) {
		switch (i) {
		case 0: snprintf(bad, sizeof(bad), "%.51s", nonce); break;
		case 1: snprintf(bad, sizeof(bad), "%sA", nonce); break;
		case 2: snprintf(bad, sizeof(bad), "%s====", nonce); break;
		case 3: snprintf(bad, sizeof(bad), "+%.51s", nonce); break;
		default: snprintf(bad, sizeof(bad), "%.51s/", nonce); break;
		}
		struct login l = login_for(DIGEST_ALG_SHA256, bad);
		assert_result(attempt(ctx, &l, T0), DIGEST_BAD_NONCE);
	}
	/* the untouched nonce still works */
	struct login l = login_for(DIGEST_ALG_SHA256, nonce);
	assert_result(attempt(ctx, &l, T0), DIGEST_OK);
	digest_ctx_free(ctx);
}

static void test_expiry_is_stale(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(300, 0, DIGEST_NOQOP_ONCE, NULL);
	char nonce[64];
	get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0, nonce, sizeof(nonce));
	struct login l = login_for(DIGEST_ALG_SHA256, nonce);
	assert_result(attempt(ctx, &l, T0 + 300), DIGEST_OK); /* last second of life */
	l.nc = "00000002";
	assert_result(attempt(ctx, &l, T0 + 301), DIGEST_STALE);
	assert_non_null(strstr(last_why, "expired"));
	/* stale only for a client that knows the password */
	l.password = "guess";
	assert_result(attempt(ctx, &l, T0 + 301), DIGEST_BAD_RESPONSE);
	/* a nonce from the future is not ours to trust */
	get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0 + 3600, nonce, sizeof(nonce));
	l = login_for(DIGEST_ALG_SHA256, nonce);
	assert_result(attempt(ctx, &l, T0), DIGEST_BAD_NONCE);
	digest_ctx_free(ctx);
}

static void test_secret_rotation(void **state)
{
	(void)state;
	const char *a = "first secret of the platform!";
	const char *b = "second secret of the platform";
	struct digest_ctx *ctx = new_ctx(300, 0, DIGEST_NOQOP_ONCE, a);
	char old[64], fresh[64];
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, old, sizeof(old));
	assert_int_equal(digest_rotate_secret(ctx, b, strlen(b), T0 + 10), 0);
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0 + 10, fresh, sizeof(fresh));

	/* the previous secret still verifies its nonces, and the new one too */
	struct login l = login_for(DIGEST_ALG_MD5, old);
	assert_result(attempt(ctx, &l, T0 + 20), DIGEST_OK);
	l = login_for(DIGEST_ALG_MD5, fresh);
	assert_result(attempt(ctx, &l, T0 + 20), DIGEST_OK);

	/* a daemon sharing the secret accepts our nonces; another does not */
	struct digest_ctx *peer = new_ctx(300, 0, DIGEST_NOQOP_ONCE, b);
	struct digest_ctx *other = new_ctx(300, 0, DIGEST_NOQOP_ONCE, NULL);
	assert_result(attempt(peer, &l, T0 + 20), DIGEST_OK);
	assert_result(attempt(other, &l, T0 + 20), DIGEST_BAD_NONCE);

	/* the old secret cannot sign "new" nonces: only those issued before the
	 * rotation are accepted with it */
	struct digest_ctx *leak = new_ctx(300, 0, DIGEST_NOQOP_ONCE, a);
	char forged[64];
	get_nonce(leak, REALM, DIGEST_ALG_MD5, T0 + 15, forged, sizeof(forged));
	l = login_for(DIGEST_ALG_MD5, forged);
	assert_result(attempt(ctx, &l, T0 + 20), DIGEST_BAD_NONCE);

	/* one lifetime after the rotation the previous secret is retired */
	l = login_for(DIGEST_ALG_MD5, old);
	l.nc = "00000002";
	assert_result(attempt(ctx, &l, T0 + 10 + 301), DIGEST_BAD_NONCE);
	/* while nonces of the current one merely expire */
	l = login_for(DIGEST_ALG_MD5, fresh);
	l.nc = "00000002";
	assert_result(attempt(ctx, &l, T0 + 10 + 301), DIGEST_STALE);

	/* two rotations: the first secret is gone at once */
	char n2[64];
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0 + 400, n2, sizeof(n2));
	assert_int_equal(digest_rotate_secret(ctx, NULL, 0, T0 + 401), 0);
	assert_int_equal(digest_rotate_secret(ctx, NULL, 0, T0 + 402), 0);
	l = login_for(DIGEST_ALG_MD5, n2);
	assert_result(attempt(ctx, &l, T0 + 403), DIGEST_BAD_NONCE);

	/* short secrets are refused */
	assert_int_equal(digest_rotate_secret(ctx, "short", 5, T0 + 404), -1);
	struct digest_config cfg = {.secret = "short", .secret_len = 5};
	char why[128] = "";
	assert_null(digest_ctx_new(&cfg, why, sizeof(why)));
	assert_non_null(strstr(why, "secret"));

	digest_ctx_free(leak);
	digest_ctx_free(other);
	digest_ctx_free(peer);
	digest_ctx_free(ctx);
}

static void test_ctx_config(void **state)
{
	(void)state;
	char why[128] = "";
	/* NULL: the defaults (300 s, random secret) */
	struct digest_ctx *ctx = digest_ctx_new(NULL, why, sizeof(why));
	assert_non_null(ctx);
	char nonce[64];
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, nonce, sizeof(nonce));
	struct login l = login_for(DIGEST_ALG_MD5, nonce);
	assert_result(attempt(ctx, &l, T0 + 300), DIGEST_OK);
	l.nc = "00000002";
	assert_result(attempt(ctx, &l, T0 + 301), DIGEST_STALE);
	digest_ctx_free(ctx);
	digest_ctx_free(NULL);
	struct digest_config cfg = {.noqop = (enum digest_noqop)7};
	assert_null(digest_ctx_new(&cfg, why, sizeof(why)));
	assert_non_null(strstr(why, "qop"));
}

static void test_nonce_count(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	char nonce[64];
	get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0, nonce, sizeof(nonce));
	struct login l = login_for(DIGEST_ALG_SHA256, nonce);
	static const struct {
		const char *nc;
		enum digest_result want;
	} steps[] = {
	    {"00000001", DIGEST_OK},	 {"00000001", DIGEST_REPLAY}, {"00000002", DIGEST_OK},
	    {"00000005", DIGEST_OK},	 {"00000003", DIGEST_REPLAY}, {"00000005", DIGEST_REPLAY},
	    {"0000000A", DIGEST_OK},	 {"0000000a", DIGEST_REPLAY}, {"0000000b", DIGEST_OK},
	    {"00000001", DIGEST_REPLAY},
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		l.nc = steps[i].nc;
		enum digest_result r = attempt(ctx, &l, T0 + 1);
		if (r != steps[i].want)
			fail_msg("step %zu nc %s: expected %s, got %s (%s)", i, steps[i].nc,
				 digest_result_name(steps[i].want), digest_result_name(r),
				 last_why);
	}
	/* a replayed nc with a new cnonce is still a replay */
	l.nc = "0000000b";
	l.cnonce = "another";
	assert_result(attempt(ctx, &l, T0 + 1), DIGEST_REPLAY);
	/* and a wrong response never touches the count */
	l.nc = "00000010";
	l.password = "wrong";
	assert_result(attempt(ctx, &l, T0 + 1), DIGEST_BAD_RESPONSE);
	l.password = PASSWORD;
	assert_result(attempt(ctx, &l, T0 + 1), DIGEST_OK);
	digest_ctx_free(ctx);
}

static void test_nc_format(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	char nonce[64];
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, nonce, sizeof(nonce));
	static const char *const bad[] = {"0000001", "000000001", "0000000g", "00000000",
					  "-0000001", "1", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct login l = login_for(DIGEST_ALG_MD5, nonce);
		l.nc = bad[i];
		if (!*bad[i]) {
			/* nc="" (quoted, empty) */
			l.nc = NULL;
			l.extra = ", qop=auth, nc=\"\", cnonce=\"x\"";
		}
		enum digest_result r = attempt(ctx, &l, T0);
		if (r != DIGEST_MALFORMED)
			fail_msg("nc \"%s\": %s", bad[i], digest_result_name(r));
	}
	digest_ctx_free(ctx);
}

static void test_without_qop(void **state)
{
	(void)state;
	char nonce[64];
	/* one use per nonce (the default) */
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, nonce, sizeof(nonce));
	struct login l = login_for(DIGEST_ALG_MD5, nonce);
	l.nc = NULL;
	assert_result(attempt(ctx, &l, T0), DIGEST_OK);
	assert_result(attempt(ctx, &l, T0 + 1), DIGEST_REPLAY);
	/* nor with qop afterwards */
	l = login_for(DIGEST_ALG_MD5, nonce);
	assert_result(attempt(ctx, &l, T0 + 1), DIGEST_REPLAY);
	/* and a nonce used with qop cannot be reused without */
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, nonce, sizeof(nonce));
	l = login_for(DIGEST_ALG_MD5, nonce);
	assert_result(attempt(ctx, &l, T0), DIGEST_OK);
	l.nc = NULL;
	assert_result(attempt(ctx, &l, T0), DIGEST_REPLAY);
	/* RFC 2069 predates everything but MD5 */
	for (int alg = 1; alg < DIGEST_ALG_COUNT; alg++) {
		get_nonce(ctx, REALM, (enum digest_alg)alg, T0, nonce, sizeof(nonce));
		l = login_for((enum digest_alg)alg, nonce);
		l.nc = NULL;
		assert_result(attempt(ctx, &l, T0), DIGEST_MALFORMED);
	}
	digest_ctx_free(ctx);

	/* reuse within the lifetime (Kamailio's default) */
	ctx = new_ctx(0, 0, DIGEST_NOQOP_REUSE, NULL);
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, nonce, sizeof(nonce));
	l = login_for(DIGEST_ALG_MD5, nonce);
	l.nc = NULL;
	assert_result(attempt(ctx, &l, T0), DIGEST_OK);
	assert_result(attempt(ctx, &l, T0 + 1), DIGEST_OK);
	assert_result(attempt(ctx, &l, T0 + 301), DIGEST_STALE);
	digest_ctx_free(ctx);

	/* refused altogether */
	ctx = new_ctx(0, 0, DIGEST_NOQOP_REFUSE, NULL);
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, nonce, sizeof(nonce));
	l = login_for(DIGEST_ALG_MD5, nonce);
	l.nc = NULL;
	assert_result(attempt(ctx, &l, T0), DIGEST_MALFORMED);
	l = login_for(DIGEST_ALG_MD5, nonce);
	assert_result(attempt(ctx, &l, T0), DIGEST_OK);
	digest_ctx_free(ctx);
}

static void test_realm_and_method(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	char nonce[64], theirs[64];
	get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0, nonce, sizeof(nonce));

	/* credentials for another realm (hashed correctly for it) */
	struct login l = login_for(DIGEST_ALG_SHA256, nonce);
	l.realm = "other.test";
	assert_result(attempt(ctx, &l, T0), DIGEST_MALFORMED);
	assert_non_null(strstr(last_why, "realm"));
	/* realms are compared exactly */
	l.realm = "VOCAL.test";
	assert_result(attempt(ctx, &l, T0), DIGEST_MALFORMED);

	/* our realm, but the nonce was issued for another realm of ours */
	get_nonce(ctx, "other.test", DIGEST_ALG_SHA256, T0, theirs, sizeof(theirs));
	l = login_for(DIGEST_ALG_SHA256, theirs);
	assert_result(attempt(ctx, &l, T0), DIGEST_BAD_NONCE);

	/* the response was computed for INVITE; the request is a REGISTER */
	l = login_for(DIGEST_ALG_SHA256, nonce);
	l.method = "INVITE";
	assert_result(attempt(ctx, &l, T0), DIGEST_BAD_RESPONSE);
	/* methods are case-sensitive (RFC 3261 7.1) */
	l.method = "register";
	assert_result(attempt(ctx, &l, T0), DIGEST_BAD_RESPONSE);
	/* another user's password, and the right one */
	l = login_for(DIGEST_ALG_SHA256, nonce);
	l.user = "bob";
	assert_result(attempt(ctx, &l, T0), DIGEST_BAD_RESPONSE);
	l = login_for(DIGEST_ALG_SHA256, nonce);
	assert_result(attempt(ctx, &l, T0), DIGEST_OK);
	digest_ctx_free(ctx);
}

static void test_missing_and_unsupported(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	char nonce[64];
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, nonce, sizeof(nonce));
	const struct login base = login_for(DIGEST_ALG_MD5, nonce);
	struct login cases[16];
	int n = 0;
	cases[n] = base, cases[n++].user = NULL;
	cases[n] = base, cases[n++].realm = NULL;
	cases[n] = base, cases[n++].uri = NULL;
	cases[n] = base, cases[n++].cnonce = NULL;
	cases[n] = base, cases[n++].qop = NULL; /* nc and cnonce without qop */
	cases[n] = base, cases[n++].qop = "auth-int";
	cases[n] = base, cases[n++].qop = "bogus";
	cases[n] = base, cases[n++].alg_text = "SHA-1";
	cases[n] = base, cases[n++].scheme = "Basic";
	cases[n] = base, cases[n++].response = "6629fae49393a05397450978507c4e"; /* 30 digits */
	cases[n] = base, cases[n++].response = "6629fae49393a05397450978507c4efz";
	cases[n] = base, cases[n++].extra = ", userhash=true";
	for (int i = 0; i < n; i++) {
		enum digest_result r = attempt(ctx, &cases[i], T0);
		if (r != DIGEST_MALFORMED)
			fail_msg("case %d: expected malformed, got %s (%s)", i,
				 digest_result_name(r), last_why);
	}
	/* no nonce, no response */
	const char *texts[] = {
		"Digest username=\"alice\", realm=\"vocal.test\", uri=\"sip:vocal.test\", "
		"response=\"6629fae49393a05397450978507c4ef1\"",
		"Digest username=\"alice\", realm=\"vocal.test\", uri=\"sip:vocal.test\", "
		"nonce=\"abc\"",
	};
	for (size_t i = 0; i < 2; i++)
		assert_result(verify_text(ctx, texts[i], "REGISTER",
					  ha1_of(DIGEST_ALG_MD5, USER, REALM, PASSWORD), T0),
			      DIGEST_MALFORMED);
	/* userhash=false is the same as no userhash */
	struct login l = base;
	l.extra = ", userhash=false";
	assert_result(attempt(ctx, &l, T0), DIGEST_OK);
	digest_ctx_free(ctx);
}

/* why goes into log lines: client bytes cannot break them */
static void test_why_is_one_line(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	const char *text = "Digest username=\"alice\", realm=\"evil\r\n forged: line\", "
			   "nonce=\"x\", uri=\"sip:vocal.test\", response=\"00\"";
	assert_result(verify_text(ctx, text, "REGISTER",
				  ha1_of(DIGEST_ALG_MD5, USER, REALM, PASSWORD), T0),
		      DIGEST_MALFORMED);
	assert_non_null(strstr(last_why, "evil"));
	assert_null(strpbrk(last_why, "\r\n"));
	digest_ctx_free(ctx);
}

static void test_algorithm_mismatch(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	char nonce[64];
	get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0, nonce, sizeof(nonce));
	/* a SHA-256 nonce answered with MD5 (correctly hashed for MD5) */
	struct login l = login_for(DIGEST_ALG_MD5, nonce);
	assert_result(attempt(ctx, &l, T0), DIGEST_MALFORMED);
	assert_non_null(strstr(last_why, "SHA-256"));
	/* no algorithm parameter means MD5 */
	l.alg_text = "";
	assert_result(attempt(ctx, &l, T0), DIGEST_MALFORMED);
	/* SHA-256-sess is not SHA-256 either */
	l = login_for(DIGEST_ALG_SHA256_SESS, nonce);
	assert_result(attempt(ctx, &l, T0), DIGEST_MALFORMED);
	/* an MD5 nonce without algorithm parameter is fine, case does not matter */
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, nonce, sizeof(nonce));
	l = login_for(DIGEST_ALG_MD5, nonce);
	l.alg_text = "";
	assert_result(attempt(ctx, &l, T0), DIGEST_OK);
	l.alg_text = "md5";
	l.nc = "00000002";
	assert_result(attempt(ctx, &l, T0), DIGEST_OK);
	digest_ctx_free(ctx);
}

static void test_stored_ha1_and_hex_case(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	char nonce[64], text[1024], upper[DIGEST_HEX_MAX];
	get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0, nonce, sizeof(nonce));
	struct login l = login_for(DIGEST_ALG_SHA256, nonce);
	credentials(&l, text, sizeof(text));
	/* an MD5 HA1 handed in for SHA-256 credentials, garbage, none */
	assert_result(verify_text(ctx, text, "REGISTER",
				  ha1_of(DIGEST_ALG_MD5, USER, REALM, PASSWORD), T0),
		      DIGEST_ERROR);
	assert_result(verify_text(ctx, text, "REGISTER", "xyz", T0), DIGEST_ERROR);
	assert_result(verify_text(ctx, text, "REGISTER", NULL, T0), DIGEST_ERROR);
	/* an upper-case stored HA1 is the same value */
	const char *ha1 = ha1_of(DIGEST_ALG_SHA256, USER, REALM, PASSWORD);
	for (size_t i = 0; i <= strlen(ha1); i++)
		upper[i] = (char)(ha1[i] >= 'a' && ha1[i] <= 'f' ? ha1[i] - 32 : ha1[i]);
	assert_result(verify_text(ctx, text, "REGISTER", upper, T0), DIGEST_OK);
	/* an upper-case response from a sloppy client too */
	char *r = strstr(text, "response=\"");
	assert_non_null(r);
	for (r += 10; *r != '"'; r++)
		if (*r >= 'a' && *r <= 'f')
			*r = (char)(*r - 32);
	/* REPLAY, not BAD_RESPONSE: the response verified, the nc was used */
	assert_result(verify_text(ctx, text, "REGISTER", ha1, T0), DIGEST_REPLAY);
	digest_ctx_free(ctx);
}

/* The replay table is bounded: with two slots, a third nonce evicts the
 * least recently used; that nonce is then "stale", never accepted again. */
static void test_replay_table_eviction(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(300, 2, DIGEST_NOQOP_ONCE, NULL);
	char a[64], b[64], c[64], d[64];
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, a, sizeof(a));
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, b, sizeof(b));
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0 + 1, c, sizeof(c));
	struct login la = login_for(DIGEST_ALG_MD5, a), lb = login_for(DIGEST_ALG_MD5, b),
		     lc = login_for(DIGEST_ALG_MD5, c);
	assert_result(attempt(ctx, &la, T0 + 2), DIGEST_OK);
	assert_result(attempt(ctx, &lb, T0 + 2), DIGEST_OK);
	la.nc = "00000002";
	assert_result(attempt(ctx, &la, T0 + 2), DIGEST_OK); /* a is now the newest */
	assert_result(attempt(ctx, &lc, T0 + 2), DIGEST_OK); /* evicts b */
	la.nc = "00000003";
	assert_result(attempt(ctx, &la, T0 + 2), DIGEST_OK);
	la.nc = "00000003";
	assert_result(attempt(ctx, &la, T0 + 2), DIGEST_REPLAY); /* a is still tracked */
	/* b was forgotten: even its replay of nc 1 is not accepted */
	assert_result(attempt(ctx, &lb, T0 + 3), DIGEST_STALE);
	lb.nc = "00000002";
	assert_result(attempt(ctx, &lb, T0 + 3), DIGEST_STALE);
	/* a nonce issued after the forgotten one is trusted on first use */
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0 + 4, d, sizeof(d));
	struct login ld = login_for(DIGEST_ALG_MD5, d);
	assert_result(attempt(ctx, &ld, T0 + 4), DIGEST_OK);
	assert_result(attempt(ctx, &ld, T0 + 4), DIGEST_REPLAY);
	digest_ctx_free(ctx);
}

/* LRU order with a middle entry touched, and a table of one slot. */
static void test_replay_table_lru(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(300, 3, DIGEST_NOQOP_ONCE, NULL);
	char n[5][64];
	struct login l[5];
	for (int i = 0; i < 5; i++) {
		get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0 + (i < 3 ? 0 : i - 2), n[i],
			  sizeof(n[i]));
		l[i] = login_for(DIGEST_ALG_SHA256, n[i]);
	}
	for (int i = 0; i < 3; i++)
		assert_result(attempt(ctx, &l[i], T0 + 5), DIGEST_OK); /* newest first: c b a */
	l[1].nc = "00000002";
	assert_result(attempt(ctx, &l[1], T0 + 5), DIGEST_OK);    /* b c a */
	assert_result(attempt(ctx, &l[3], T0 + 5), DIGEST_OK);    /* d b c, a forgotten */
	assert_result(attempt(ctx, &l[0], T0 + 5), DIGEST_STALE);
	l[1].nc = "00000003";
	assert_result(attempt(ctx, &l[1], T0 + 5), DIGEST_OK);    /* b d c */
	l[2].nc = "00000002";
	assert_result(attempt(ctx, &l[2], T0 + 5), DIGEST_OK);    /* c b d */
	assert_result(attempt(ctx, &l[4], T0 + 5), DIGEST_OK);    /* e c b, d forgotten */
	l[3].nc = "00000002";
	assert_result(attempt(ctx, &l[3], T0 + 5), DIGEST_STALE);
	assert_result(attempt(ctx, &l[1], T0 + 5), DIGEST_REPLAY); /* b still tracked: nc 3 */
	l[1].nc = "00000004";
	assert_result(attempt(ctx, &l[1], T0 + 5), DIGEST_OK);
	digest_ctx_free(ctx);

	ctx = new_ctx(300, 1, DIGEST_NOQOP_ONCE, NULL);
	get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0, n[0], sizeof(n[0]));
	get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0 + 1, n[1], sizeof(n[1]));
	l[0] = login_for(DIGEST_ALG_SHA256, n[0]);
	l[1] = login_for(DIGEST_ALG_SHA256, n[1]);
	assert_result(attempt(ctx, &l[0], T0 + 1), DIGEST_OK);
	assert_result(attempt(ctx, &l[1], T0 + 1), DIGEST_OK);
	assert_result(attempt(ctx, &l[1], T0 + 1), DIGEST_REPLAY);
	l[0].nc = "00000002";
	assert_result(attempt(ctx, &l[0], T0 + 1), DIGEST_STALE);
	digest_ctx_free(ctx);
}

/* Quoted values are hashed unescaped (RFC 7616 3.4: unq()): on the wire
 * cnonce="a\"b\\c" and uri="sip:we\\ird@vocal.test", hashed as a"b\c and
 * sip:we\ird@vocal.test. */
static void test_quoted_pairs_unescaped(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	const char *ha1 = ha1_of(DIGEST_ALG_SHA256, USER, REALM, PASSWORD);
	char nonce[64], text[1024];
	for (int hashed_escaped = 0; hashed_escaped < 2; hashed_escaped++) {
		get_nonce(ctx, REALM, DIGEST_ALG_SHA256, T0, nonce, sizeof(nonce));
		struct digest_input in = {
			.alg = DIGEST_ALG_SHA256,
			.method = S("REGISTER"),
			.uri = S(hashed_escaped ? "sip:we\\\\ird@vocal.test"
						: "sip:we\\ird@vocal.test"),
			.nonce = S(nonce),
			.nc = S("00000001"),
			.cnonce = S(hashed_escaped ? "a\\\"b\\\\c" : "a\"b\\c"),
			.qop = S("auth"),
		};
		char response[DIGEST_HEX_MAX];
		assert_int_equal(digest_response(&in, ha1, response), 0);
		snprintf(text, sizeof(text),
			 "Digest username=\"alice\", realm=\"vocal.test\", nonce=\"%s\", "
			 "uri=\"sip:we\\\\ird@vocal.test\", response=\"%s\", algorithm=SHA-256, "
			 "qop=auth, nc=00000001, cnonce=\"a\\\"b\\\\c\"",
			 nonce, response);
		/* only the client that hashed the unescaped values gets in */
		assert_result(verify_text(ctx, text, "REGISTER", ha1, T0),
			      hashed_escaped ? DIGEST_BAD_RESPONSE : DIGEST_OK);
	}
	digest_ctx_free(ctx);
}

/* Many nonces through a small table: memory stays bounded, the newest
 * nonces stay tracked, and nothing is ever accepted twice. */
static void test_replay_table_churn(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(300, 64, DIGEST_NOQOP_ONCE, NULL);
	char nonce[64];
	for (int i = 0; i < 1000; i++) {
		int64_t t = T0 + i; /* one nonce per second, used at once */
		get_nonce(ctx, REALM, DIGEST_ALG_MD5, t, nonce, sizeof(nonce));
		struct login l = login_for(DIGEST_ALG_MD5, nonce);
		assert_result(attempt(ctx, &l, t), DIGEST_OK);
		assert_result(attempt(ctx, &l, t), DIGEST_REPLAY);
	}
	digest_ctx_free(ctx);
}

/* ---- finding credentials in a request ----------------------------------- */

static void test_find_credentials(void **state)
{
	(void)state;
	size_t len;
	char *text = crlf("INVITE sip:bob@vocal.test SIP/2.0\n"
			  "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\n"
			  "Max-Forwards: 70\n"
			  "To: <sip:bob@vocal.test>\n"
			  "From: <sip:alice@vocal.test>;tag=1928301774\n"
			  "Call-ID: a84b4c76e66710@pc33.atlanta.com\n"
			  "CSeq: 314159 INVITE\n"
			  "Proxy-Authorization: Other realm=\"vocal.test\", user=\"alice\"\n"
			  "Proxy-Authorization: Digest username=\"alice\", realm=\"upstream.net\", "
			  "nonce=\"x\", uri=\"sip:bob@vocal.test\", response=\"00\"\n"
			  "Proxy-Authorization: Digest username=\"alice\", realm=\"vocal.test\", "
			  "nonce=\"y\", uri=\"sip:192.0.2.9:5060\", response=\"01\"\n"
			  "Proxy-Authorization: Digest realm=\"broken.test\" username=\"x\"\n"
			  "Authorization: Digest username=\"alice\", realm=\"registrar.test\", "
			  "nonce=\"z\", uri=\"sip:vocal.test\", response=\"02\"\n"
			  "Content-Length: 0\n\n",
			  &len);
	struct sip_msg m;
	struct sip_error err = {.base = text};
	assert_int_equal(sip_msg_parse(&m, text, len, NULL, &err), 0);

	struct sip_hdr *h = digest_find_credentials(&m, SIP_HDR_PROXY_AUTHORIZATION,
						    S("vocal.test"), NULL);
	assert_non_null(h);
	assert_str(h->v.auth->nonce, "y");
	h = digest_find_credentials(&m, SIP_HDR_PROXY_AUTHORIZATION, S("upstream.net"), NULL);
	assert_non_null(h);
	assert_str(h->v.auth->nonce, "x");
	/* Authorization and Proxy-Authorization are kept apart */
	assert_null(digest_find_credentials(&m, SIP_HDR_PROXY_AUTHORIZATION, S("registrar.test"),
					    NULL));
	h = digest_find_credentials(&m, SIP_HDR_AUTHORIZATION, S("registrar.test"), NULL);
	assert_non_null(h);
	assert_str(h->v.auth->nonce, "z");
	/* the malformed header is skipped and reported */
	struct sip_error ferr = {.base = text};
	assert_null(digest_find_credentials(&m, SIP_HDR_PROXY_AUTHORIZATION, S("broken.test"),
					    &ferr));
	assert_int_equal(ferr.fault, SIP_FAULT_HEADER_VALUE);
	assert_null(digest_find_credentials(&m, SIP_HDR_WWW_AUTHENTICATE, S("vocal.test"), NULL));
	/* once removed (a proxy consumed its own credentials), not found again */
	h = digest_find_credentials(&m, SIP_HDR_PROXY_AUTHORIZATION, S("vocal.test"), NULL);
	sip_msg_remove_header(h);
	assert_null(
	    digest_find_credentials(&m, SIP_HDR_PROXY_AUTHORIZATION, S("vocal.test"), NULL));
	sip_msg_free(&m);
	free(text);
}

/* The SIPp quirk (peer/kamailio/README.md): the digest uri is
 * sip:<remote_ip>:<remote_port>, not the Request-URI; it must verify. */
static void test_sipp_digest_uri(void **state)
{
	(void)state;
	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	char nonce[64], value[1024], msgtext[2048];
	get_nonce(ctx, REALM, DIGEST_ALG_MD5, T0, nonce, sizeof(nonce));
	struct login l = login_for(DIGEST_ALG_MD5, nonce);
	l.method = "INVITE";
	l.uri = "sip:127.0.0.1:5060";
	credentials(&l, value, sizeof(value));
	snprintf(msgtext, sizeof(msgtext),
		 "INVITE sip:bob@vocal.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\n"
		 "Max-Forwards: 70\n"
		 "To: <sip:bob@vocal.test>\n"
		 "From: <sip:alice@vocal.test>;tag=1\n"
		 "Call-ID: 1-sipp@127.0.0.1\n"
		 "CSeq: 2 INVITE\n"
		 "Proxy-Authorization: %s\n"
		 "Content-Length: 0\n\n",
		 value);
	size_t len;
	char *text = crlf(msgtext, &len);
	struct sip_msg m;
	struct sip_error err = {.base = text};
	assert_int_equal(sip_msg_parse(&m, text, len, NULL, &err), 0);
	struct sip_hdr *h =
	    digest_find_credentials(&m, SIP_HDR_PROXY_AUTHORIZATION, S(REALM), NULL);
	assert_non_null(h);
	char why[128] = "";
	assert_int_equal(digest_verify(ctx, h->v.auth, m.method, S(REALM),
				       ha1_of(DIGEST_ALG_MD5, USER, REALM, PASSWORD), T0, why,
				       sizeof(why)),
			 DIGEST_OK);
	sip_msg_free(&m);
	free(text);
	digest_ctx_free(ctx);
}

/* ---- interop with SIPp -------------------------------------------------- */

/*
 * SIPp (sip-tester 3.6.1) registers against a tiny UDP registrar in this
 * process: 401 with our challenge, then its [authentication] answer is
 * found, verified and answered 200 (or 403). SIPp computes MD5 only, with
 * qop=auth when offered and the RFC 2069 form when not.
 */
static const char sipp_scenario[] =
	"<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n"
	"<scenario name=\"digest\">\n"
	" <send retrans=\"500\"><![CDATA[\n"
	"REGISTER sip:vocal.test SIP/2.0\n"
	"Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
	"From: <sip:alice@vocal.test>;tag=[call_number]\n"
	"To: <sip:alice@vocal.test>\n"
	"Call-ID: [call_id]\n"
	"CSeq: 1 REGISTER\n"
	"Contact: <sip:alice@[local_ip]:[local_port]>\n"
	"Max-Forwards: 70\n"
	"Expires: 60\n"
	"Content-Length: 0\n"
	"\n"
	" ]]></send>\n"
	" <recv response=\"401\" auth=\"true\"/>\n"
	" <send retrans=\"500\"><![CDATA[\n"
	"REGISTER sip:vocal.test SIP/2.0\n"
	"Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
	"From: <sip:alice@vocal.test>;tag=[call_number]\n"
	"To: <sip:alice@vocal.test>\n"
	"Call-ID: [call_id]\n"
	"CSeq: 2 REGISTER\n"
	"Contact: <sip:alice@[local_ip]:[local_port]>\n"
	"[authentication username=alice password=s3cr3t]\n"
	"Max-Forwards: 70\n"
	"Expires: 60\n"
	"Content-Length: 0\n"
	"\n"
	" ]]></send>\n"
	" <recv response=\"200\"/>\n"
	"</scenario>\n";

static bool have_sipp(void)
{
	return system("command -v sipp >/dev/null 2>&1") == 0;
}

static int udp_socket(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Answers req with code, copying the headers RFC 3261 8.2.6 asks for. */
static void reply(int fd, const struct sockaddr_in *to, struct sip_msg *m, int code,
		  const char *reason, const char *challenges, int nchallenges)
{
	char out[4096];
	size_t o = (size_t)snprintf(out, sizeof(out), "SIP/2.0 %d %s\r\n", code, reason);
	static const enum sip_hdr_type copy[] = {SIP_HDR_VIA, SIP_HDR_FROM, SIP_HDR_TO,
						 SIP_HDR_CALL_ID, SIP_HDR_CSEQ};
	for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++)
		for (struct sip_hdr *h = m->first[copy[i]]; h; h = h->next_same)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s%s\r\n",
					      (int)h->line.len, h->line.s,
					      copy[i] == SIP_HDR_TO ? ";tag=reg1" : "");
	for (int i = 0; i < nchallenges; i++, challenges += strlen(challenges) + 1)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "WWW-Authenticate: %s\r\n",
				      challenges);
	o += (size_t)snprintf(out + o, sizeof(out) - o, "Content-Length: 0\r\n\r\n");
	assert_true(o < sizeof(out));
	assert_int_equal(sendto(fd, out, o, 0, (const struct sockaddr *)to, sizeof(*to)),
			 (ssize_t)o);
}

/* Runs one SIPp registration. strip_qop removes qop from the challenge so
 * that SIPp answers in the RFC 2069 form. Returns SIPp's exit status and
 * the verification result of its credentials. */
static int sipp_register(unsigned algs, bool strip_qop, enum digest_result *result,
			 char *why, size_t whylen)
{
	char dir[] = "/tmp/test_digest.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char xml[64], sport[16], lport[16], log[80];
	snprintf(xml, sizeof(xml), "%s/uac.xml", dir);
	snprintf(log, sizeof(log), "%s/sipp.log", dir);
	FILE *f = fopen(xml, "w");
	assert_non_null(f);
	fputs(sipp_scenario, f);
	fclose(f);

	uint16_t port, cport;
	int fd = udp_socket(&port);
	int probe = udp_socket(&cport); /* a free port for SIPp */
	close(probe);
	char target[32];
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	snprintf(sport, sizeof(sport), "%u", cport);
	snprintf(lport, sizeof(lport), "%u", port);
	char *argv[] = {"sipp", target, "-sf", xml, "-m", "1", "-i", "127.0.0.1", "-p", sport,
			"-nostdin", "-timeout", "10s", "-timeout_error", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	pid_t pid;
	assert_int_equal(posix_spawnp(&pid, "sipp", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);

	struct digest_ctx *ctx = new_ctx(0, 0, DIGEST_NOQOP_ONCE, NULL);
	const char *ha1 = ha1_of(DIGEST_ALG_MD5, USER, REALM, PASSWORD);
	*result = DIGEST_ERROR;
	snprintf(why, whylen, "no credentials received");
	bool done = false;
	for (int rounds = 0; rounds < 10 && !done; rounds++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			break;
		char buf[4096];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		assert_true(n > 0);
		struct sip_msg m;
		struct sip_error err = {.base = buf};
		if (sip_msg_parse(&m, buf, (size_t)n, NULL, &err) < 0 || !m.is_request) {
			sip_msg_free(&m);
			continue;
		}
		struct sip_hdr *h =
		    digest_find_credentials(&m, SIP_HDR_AUTHORIZATION, S(REALM), NULL);
		if (!h) {
			char ch[2048];
			int nc = digest_challenge(ctx, S(REALM), false, algs, T0, ch, sizeof(ch));
			assert_true(nc > 0);
			if (strip_qop) {
				/* copy the values over, leaving out ', qop="auth"' */
				char packed[2048];
				size_t o = 0;
				const char *q = ch;
				for (int i = 0; i < nc; i++, q += strlen(q) + 1) {
					const char *cut = strstr(q, ", qop=\"auth\"");
					size_t pre = cut ? (size_t)(cut - q) : strlen(q);
					memcpy(packed + o, q, pre);
					o += pre;
					if (cut) {
						memcpy(packed + o, cut + 12, strlen(cut + 12));
						o += strlen(cut + 12);
					}
					packed[o++] = 0;
				}
				memcpy(ch, packed, o);
			}
			reply(fd, &from, &m, 401, "Unauthorized", ch, nc);
		} else {
			*result = digest_verify(ctx, h->v.auth, m.method, S(REALM), ha1, T0 + 1,
						why, whylen);
			if (*result == DIGEST_OK)
				reply(fd, &from, &m, 200, "OK", NULL, 0);
			else
				reply(fd, &from, &m, 403, "Forbidden", NULL, 0);
			done = true;
		}
		sip_msg_free(&m);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) < 0)
		status = -1;
	close(fd);
	digest_ctx_free(ctx);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		size_t ll;
		char *text = read_file(log, &ll);
		print_message("sipp log:\n%.*s\n", (int)(ll > 4000 ? 4000 : ll), text ? text : "");
		free(text);
	}
	unlink(xml);
	unlink(log);
	rmdir(dir);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_sipp_interop(void **state)
{
	(void)state;
	if (!have_sipp())
		skip();
	enum digest_result r;
	char why[256];
	/* MD5 with qop=auth */
	int rc = sipp_register(DIGEST_ALG_BIT(DIGEST_ALG_MD5), false, &r, why, sizeof(why));
	if (r != DIGEST_OK)
		fail_msg("MD5 qop=auth: %s: %s", digest_result_name(r), why);
	assert_int_equal(rc, 0);
	/* the RFC 2069 form, when the challenge carries no qop */
	rc = sipp_register(DIGEST_ALG_BIT(DIGEST_ALG_MD5), true, &r, why, sizeof(why));
	if (r != DIGEST_OK)
		fail_msg("MD5 without qop: %s: %s", digest_result_name(r), why);
	assert_int_equal(rc, 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2617_example),
		cmocka_unit_test(test_rfc7616_examples),
		cmocka_unit_test(test_sess_and_rfc2069_vectors),
		cmocka_unit_test(test_response_rejects_bad_ha1),
		cmocka_unit_test(test_algorithm_names),
		cmocka_unit_test(test_challenge_contents),
		cmocka_unit_test(test_challenge_realm_escaping),
		cmocka_unit_test(test_verify_every_algorithm),
		cmocka_unit_test(test_foreign_nonce),
		cmocka_unit_test(test_nonce_tampering),
		cmocka_unit_test(test_expiry_is_stale),
		cmocka_unit_test(test_secret_rotation),
		cmocka_unit_test(test_ctx_config),
		cmocka_unit_test(test_nonce_count),
		cmocka_unit_test(test_nc_format),
		cmocka_unit_test(test_without_qop),
		cmocka_unit_test(test_realm_and_method),
		cmocka_unit_test(test_missing_and_unsupported),
		cmocka_unit_test(test_why_is_one_line),
		cmocka_unit_test(test_algorithm_mismatch),
		cmocka_unit_test(test_stored_ha1_and_hex_case),
		cmocka_unit_test(test_replay_table_eviction),
		cmocka_unit_test(test_replay_table_lru),
		cmocka_unit_test(test_replay_table_churn),
		cmocka_unit_test(test_quoted_pairs_unescaped),
		cmocka_unit_test(test_find_credentials),
		cmocka_unit_test(test_sipp_digest_uri),
		cmocka_unit_test(test_sipp_interop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
