#include "sip/digest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "sip/msg.h"

#define DEFAULT_LIFETIME 300u
#define DEFAULT_SLOTS 65536u
#define MIN_SECRET 16
#define MAX_REALM 255
/* Daemons sharing a secret may disagree on the time by this much. */
#define FUTURE_SKEW 30

#define NONCE_VERSION 1
#define NONCE_HEAD 23 /* version, key id, algorithm, time, random */
#define NONCE_MAC 16
#define NONCE_BYTES (NONCE_HEAD + NONCE_MAC)
#define NONCE_CHARS (NONCE_BYTES / 3 * 4) /* 39 bytes: no padding */
#define NONCE_RANDOM 12

#define NIL UINT32_MAX
/* nc of a nonce spent by a response without qop: no nc is above it */
#define NC_SPENT UINT32_MAX

enum { HASH_MD5, HASH_SHA256, HASH_SHA512_256, HASH_COUNT };

static const struct {
	const char *name;   /* OpenSSL's */
	size_t hex;
} hashes[HASH_COUNT] = {
	[HASH_MD5] = {"MD5", 32},
	[HASH_SHA256] = {"SHA2-256", 64},
	[HASH_SHA512_256] = {"SHA512-256", 64},
};

static const struct {
	const char *name;   /* on the wire (RFC 7616 3.3, RFC 8760 2) */
	int hash;
	bool sess;
} algs[DIGEST_ALG_COUNT] = {
	[DIGEST_ALG_MD5] = {"MD5", HASH_MD5, false},
	[DIGEST_ALG_MD5_SESS] = {"MD5-sess", HASH_MD5, true},
	[DIGEST_ALG_SHA256] = {"SHA-256", HASH_SHA256, false},
	[DIGEST_ALG_SHA256_SESS] = {"SHA-256-sess", HASH_SHA256, true},
	[DIGEST_ALG_SHA512_256] = {"SHA-512-256", HASH_SHA512_256, false},
	[DIGEST_ALG_SHA512_256_SESS] = {"SHA-512-256-sess", HASH_SHA512_256, true},
};

/* RFC 8760 2: challenges go out most preferred first. */
static const enum digest_alg strongest_first[DIGEST_ALG_COUNT] = {
	DIGEST_ALG_SHA512_256, DIGEST_ALG_SHA512_256_SESS, DIGEST_ALG_SHA256,
	DIGEST_ALG_SHA256_SESS, DIGEST_ALG_MD5, DIGEST_ALG_MD5_SESS,
};

/* One remembered nonce. Slots live in one array; chains and the LRU list
 * link them by index, so the table is two allocations whatever its load. */
struct nc_slot {
	uint8_t key[NONCE_MAC]; /* the nonce's MAC: unique and unforgeable */
	int64_t issued;
	uint32_t nc;
	uint32_t chain;         /* next slot in the same bucket */
	uint32_t newer, older;  /* LRU list */
};

struct nc_table {
	struct nc_slot *slot;
	uint32_t *bucket;
	uint32_t mask;          /* buckets - 1 */
	uint32_t cap, used;
	uint32_t newest, oldest;
	/* Latest issue time of a still-live nonce we had to forget: a nonce
	 * issued no later than this, not in the table, may have been used. */
	int64_t floor;
};

struct secret {
	EVP_MAC_CTX *mac;       /* HMAC-SHA256 keyed with the secret */
	uint8_t id;             /* derived from the secret (see key_id) */
};

struct digest_ctx {
	unsigned lifetime;
	enum digest_noqop noqop;
	EVP_MD *md[HASH_COUNT]; /* fetched once: NULL when OpenSSL lacks it */
	EVP_MD_CTX *mdctx;
	EVP_MAC *hmac;
	struct secret cur, prev; /* prev.mac NULL when there is none */
	int64_t rotated_at;
	struct nc_table nc;
};

const char *digest_result_name(enum digest_result r)
{
	switch (r) {
	case DIGEST_OK: return "ok";
	case DIGEST_STALE: return "stale";
	case DIGEST_BAD_RESPONSE: return "bad-response";
	case DIGEST_BAD_NONCE: return "bad-nonce";
	case DIGEST_REPLAY: return "replay";
	case DIGEST_MALFORMED: return "malformed";
	case DIGEST_ERROR: return "error";
	}
	return "unknown";
}

int digest_alg_parse(sip_str name, enum digest_alg *out)
{
	if (!sip_str_present(name)) {
		*out = DIGEST_ALG_MD5;
		return 0;
	}
	for (int a = 0; a < DIGEST_ALG_COUNT; a++) {
		if (sip_str_caseeq_lit(name, algs[a].name)) {
			*out = (enum digest_alg)a;
			return 0;
		}
	}
	return -1;
}

const char *digest_alg_name(enum digest_alg alg)
{
	return (unsigned)alg < DIGEST_ALG_COUNT ? algs[alg].name : "unknown";
}

enum digest_alg digest_alg_base(enum digest_alg alg)
{
	return algs[alg].sess ? (enum digest_alg)(alg - 1) : alg;
}

size_t digest_alg_hex_len(enum digest_alg alg)
{
	return hashes[algs[alg].hash].hex;
}

static enum digest_result say(char *why, size_t len, enum digest_result r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum digest_result say(char *why, size_t len, enum digest_result r, const char *fmt, ...)
{
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
		/* client bytes go to a log line: no line breaks or escapes */
		for (char *p = why; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return r;
}

/* For "%.*s" of a client's value in a log sentence: at most 64 bytes. */
#define SHOW(v) (int)((v).len > 64 ? 64 : (v).len), ((v).s ? (v).s : "")

/* ---- encodings ---------------------------------------------------------- */

static void to_hex(const unsigned char *bin, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * n] = 0;
}

/* Copies hex of exactly want digits, lowercased, into out; false when it is
 * not that. */
static bool hex_lower(sip_str in, size_t want, char *out)
{
	if (in.len != want)
		return false;
	for (size_t i = 0; i < want; i++) {
		unsigned char c = (unsigned char)in.s[i];
		if (!cc_is(c, CC_HEX))
			return false;
		out[i] = (char)(c >= 'A' && c <= 'F' ? c + ('a' - 'A') : c);
	}
	out[want] = 0;
	return true;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* n a multiple of 3: no padding to think about. */
static void b64url_encode(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = b64url[v >> 18];
		*out++ = b64url[(v >> 12) & 63];
		*out++ = b64url[(v >> 6) & 63];
		*out++ = b64url[v & 63];
	}
}

static bool b64url_decode(sip_str in, uint8_t *out, size_t n)
{
	if (in.len != n / 3 * 4)
		return false;
	for (size_t i = 0, o = 0; i < in.len; i += 4, o += 3) {
		uint32_t v = 0;
		for (int k = 0; k < 4; k++) {
			int d = b64url_value((unsigned char)in.s[i + (size_t)k]);
			if (d < 0)
				return false;
			v = v << 6 | (uint32_t)d;
		}
		out[o] = (uint8_t)(v >> 16);
		out[o + 1] = (uint8_t)(v >> 8);
		out[o + 2] = (uint8_t)v;
	}
	return true;
}

/* ---- hashing ------------------------------------------------------------ */

/* Feeds s to the hash, with quoted-pairs undone when unq: the parser keeps
 * escapes and RFC 7616 hashes the unquoted value. */
static bool update(EVP_MD_CTX *c, sip_str s, bool unq)
{
	if (!unq || !memchr(s.s ? s.s : "", '\\', s.len))
		return s.len == 0 || EVP_DigestUpdate(c, s.s, s.len);
	size_t run = 0;
	for (size_t i = 0; i < s.len; i++) {
		if (s.s[i] != '\\' || i + 1 == s.len)
			continue;
		if (!EVP_DigestUpdate(c, s.s + run, i - run))
			return false;
		run = ++i; /* the escaped character starts the next run */
	}
	return EVP_DigestUpdate(c, s.s + run, s.len - run);
}

/* H(p0 ":" p1 ":" ...) as lowercase hex. */
static bool hash_hex(EVP_MD_CTX *c, const EVP_MD *md, const sip_str *parts, size_t n, bool unq,
		     char *out)
{
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!EVP_DigestInit_ex2(c, md, NULL))
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((i && !EVP_DigestUpdate(c, ":", 1)) || !update(c, parts[i], unq))
			return false;
	}
	if (!EVP_DigestFinal_ex(c, bin, &len))
		return false;
	to_hex(bin, len, out);
	return true;
}

/* RFC 7616 3.4.1-3.4.3 (and RFC 2069 without qop); ha1 is lowercase hex of
 * the base algorithm. */
static bool compute_response(EVP_MD_CTX *c, const EVP_MD *md, const struct digest_input *in,
			     const char *ha1, bool unq, char out[DIGEST_HEX_MAX])
{
	size_t hex = digest_alg_hex_len(in->alg);
	char sess[DIGEST_HEX_MAX], ha2[DIGEST_HEX_MAX];
	sip_str a1 = sip_str_make(ha1, hex);
	if (algs[in->alg].sess) {
		/* HA1 of the session: H(H(user:realm:password):nonce:cnonce) */
		const sip_str p[] = {a1, in->nonce, in->cnonce};
		if (!hash_hex(c, md, p, 3, unq, sess))
			return false;
		a1 = sip_str_make(sess, hex);
	}
	const sip_str p2[] = {in->method, in->uri};
	if (!hash_hex(c, md, p2, 2, unq, ha2))
		return false;
	sip_str h2 = sip_str_make(ha2, hex);
	if (in->qop.len == 0) {
		const sip_str p[] = {a1, in->nonce, h2};
		return hash_hex(c, md, p, 3, unq, out);
	}
	const sip_str p[] = {a1, in->nonce, in->nc, in->cnonce, in->qop, h2};
	return hash_hex(c, md, p, 6, unq, out);
}

int digest_ha1(enum digest_alg alg, const char *user, const char *realm, const char *password,
	       char out[DIGEST_HEX_MAX])
{
	if ((unsigned)alg >= DIGEST_ALG_COUNT)
		return -1;
	EVP_MD *md = EVP_MD_fetch(NULL, hashes[algs[alg].hash].name, NULL);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	const sip_str p[] = {sip_str_make(user, strlen(user)), sip_str_make(realm, strlen(realm)),
			     sip_str_make(password, strlen(password))};
	bool ok = md && c && hash_hex(c, md, p, 3, false, out);
	EVP_MD_CTX_free(c);
	EVP_MD_free(md);
	return ok ? 0 : -1;
}

int digest_response(const struct digest_input *in, const char *ha1_hex, char out[DIGEST_HEX_MAX])
{
	char ha1[DIGEST_HEX_MAX];
	if ((unsigned)in->alg >= DIGEST_ALG_COUNT || !ha1_hex ||
	    !hex_lower(sip_str_make(ha1_hex, strlen(ha1_hex)), digest_alg_hex_len(in->alg), ha1))
		return -1;
	EVP_MD *md = EVP_MD_fetch(NULL, hashes[algs[in->alg].hash].name, NULL);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	bool ok = md && c && compute_response(c, md, in, ha1, false, out);
	EVP_MD_CTX_free(c);
	EVP_MD_free(md);
	return ok ? 0 : -1;
}

/* ---- context and secrets ------------------------------------------------ */

/* The nonce names its secret by a byte derived from the secret itself, not
 * by a counter, so daemons configured with the same secrets agree whatever
 * order they rotated in. Two secrets may share an id (1 in 256): then both
 * are tried. */
static bool key_id(EVP_MAC_CTX *m, uint8_t *id)
{
	static const char label[] = "vocal digest key id";
	unsigned char full[32];
	size_t len = 0;
	if (!EVP_MAC_init(m, NULL, 0, NULL) ||
	    !EVP_MAC_update(m, (const unsigned char *)label, sizeof(label) - 1) ||
	    !EVP_MAC_final(m, full, &len, sizeof(full)))
		return false;
	*id = full[0];
	return true;
}

static EVP_MAC_CTX *keyed_hmac(EVP_MAC *hmac, const void *secret, size_t len, uint8_t *id)
{
	unsigned char rnd[32];
	if (!secret) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return NULL;
		secret = rnd;
		len = sizeof(rnd);
	}
	EVP_MAC_CTX *m = EVP_MAC_CTX_new(hmac);
	char digest[] = "SHA2-256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	if (m && (!EVP_MAC_init(m, secret, len, params) || !key_id(m, id))) {
		EVP_MAC_CTX_free(m);
		m = NULL;
	}
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return m;
}

static int nc_init(struct nc_table *t, unsigned slots)
{
	uint32_t buckets = 1;
	while (buckets < slots && buckets < (1u << 31))
		buckets <<= 1;
	t->slot = calloc(slots, sizeof(*t->slot));
	t->bucket = malloc(buckets * sizeof(*t->bucket));
	if (!t->slot || !t->bucket)
		return -1;
	memset(t->bucket, 0xff, buckets * sizeof(*t->bucket)); /* all NIL */
	t->mask = buckets - 1;
	t->cap = slots;
	t->used = 0;
	t->newest = t->oldest = NIL;
	t->floor = INT64_MIN;
	return 0;
}

struct digest_ctx *digest_ctx_new(const struct digest_config *cfg, char *why, size_t whylen)
{
	static const struct digest_config defaults;
	if (!cfg)
		cfg = &defaults;
	if (cfg->secret && cfg->secret_len < MIN_SECRET) {
		say(why, whylen, DIGEST_ERROR, "digest secret shorter than %d bytes", MIN_SECRET);
		return NULL;
	}
	if ((unsigned)cfg->noqop > DIGEST_NOQOP_REUSE) {
		say(why, whylen, DIGEST_ERROR, "unknown policy for credentials without qop");
		return NULL;
	}
	struct digest_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		say(why, whylen, DIGEST_ERROR, "out of memory");
		return NULL;
	}
	ctx->lifetime = cfg->lifetime ? cfg->lifetime : DEFAULT_LIFETIME;
	ctx->noqop = cfg->noqop;
	for (int h = 0; h < HASH_COUNT; h++)
		ctx->md[h] = EVP_MD_fetch(NULL, hashes[h].name, NULL);
	ctx->mdctx = EVP_MD_CTX_new();
	ctx->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!ctx->md[HASH_SHA256] || !ctx->mdctx || !ctx->hmac) {
		say(why, whylen, DIGEST_ERROR, "OpenSSL offers no SHA-256 or HMAC");
		goto fail;
	}
	ctx->cur.mac = keyed_hmac(ctx->hmac, cfg->secret, cfg->secret_len, &ctx->cur.id);
	if (!ctx->cur.mac) {
		say(why, whylen, DIGEST_ERROR, "cannot key HMAC-SHA256 with the digest secret");
		goto fail;
	}
	if (nc_init(&ctx->nc, cfg->replay_slots ? cfg->replay_slots : DEFAULT_SLOTS) < 0) {
		say(why, whylen, DIGEST_ERROR, "out of memory for the nonce-count table");
		goto fail;
	}
	return ctx;
fail:
	digest_ctx_free(ctx);
	return NULL;
}

void digest_ctx_free(struct digest_ctx *ctx)
{
	if (!ctx)
		return;
	for (int h = 0; h < HASH_COUNT; h++)
		EVP_MD_free(ctx->md[h]);
	EVP_MD_CTX_free(ctx->mdctx);
	EVP_MAC_CTX_free(ctx->cur.mac);
	EVP_MAC_CTX_free(ctx->prev.mac);
	EVP_MAC_free(ctx->hmac);
	free(ctx->nc.slot);
	free(ctx->nc.bucket);
	free(ctx);
}

int digest_rotate_secret(struct digest_ctx *ctx, const void *secret, size_t len, int64_t now)
{
	if (secret && len < MIN_SECRET)
		return -1;
	uint8_t id;
	EVP_MAC_CTX *m = keyed_hmac(ctx->hmac, secret, len, &id);
	if (!m)
		return -1;
	EVP_MAC_CTX_free(ctx->prev.mac);
	ctx->prev = ctx->cur;
	ctx->cur.mac = m;
	ctx->cur.id = id;
	ctx->rotated_at = now;
	return 0;
}

/* ---- nonces ------------------------------------------------------------- */

static bool nonce_mac(EVP_MAC_CTX *m, const uint8_t *head, sip_str realm, uint8_t out[NONCE_MAC])
{
	unsigned char full[32];
	size_t len = 0;
	/* A NULL key re-initialises HMAC with the key it already has. */
	const unsigned char *r = (const unsigned char *)realm.s;
	bool ok = EVP_MAC_init(m, NULL, 0, NULL) && EVP_MAC_update(m, head, NONCE_HEAD) &&
		  (realm.len == 0 || EVP_MAC_update(m, r, realm.len)) &&
		  EVP_MAC_final(m, full, &len, sizeof(full)) && len == sizeof(full);
	memcpy(out, full, NONCE_MAC);
	return ok;
}

static void put_time(uint8_t *p, int64_t t)
{
	uint64_t u = (uint64_t)t;
	for (int i = 7; i >= 0; i--, u >>= 8)
		p[i] = (uint8_t)u;
}

static int64_t get_time(const uint8_t *p)
{
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u = u << 8 | p[i];
	return (int64_t)u;
}

/* Realms go into quoted-strings: no control characters; quotes and
 * backslashes are escaped. Returns the escaped length, or -1. */
static long escape_realm(sip_str realm, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < realm.len; i++) {
		unsigned char c = (unsigned char)realm.s[i];
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (o + 2 > cap)
			return -1;
		if (c == '"' || c == '\\')
			out[o++] = '\\';
		out[o++] = (char)c;
	}
	return (long)o;
}

int digest_challenge(struct digest_ctx *ctx, sip_str realm, bool stale, unsigned algs_mask,
		     int64_t now, char *out, size_t cap)
{
	char qrealm[2 * MAX_REALM];
	long qlen = realm.len <= MAX_REALM ? escape_realm(realm, qrealm, sizeof(qrealm)) : -1;
	if (qlen < 0)
		return -1;
	uint8_t rnd[NONCE_RANDOM * DIGEST_ALG_COUNT];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	size_t o = 0;
	int count = 0;
	for (int i = 0; i < DIGEST_ALG_COUNT; i++) {
		enum digest_alg alg = strongest_first[i];
		if (!(algs_mask & DIGEST_ALG_BIT(alg)) || !ctx->md[algs[alg].hash])
			continue;
		uint8_t nonce[NONCE_BYTES];
		char text[NONCE_CHARS + 1];
		nonce[0] = NONCE_VERSION;
		nonce[1] = ctx->cur.id;
		nonce[2] = (uint8_t)alg;
		put_time(nonce + 3, now);
		memcpy(nonce + 11, rnd + NONCE_RANDOM * (size_t)count, NONCE_RANDOM);
		if (!nonce_mac(ctx->cur.mac, nonce, realm, nonce + NONCE_HEAD))
			return -1;
		b64url_encode(nonce, NONCE_BYTES, text);
		text[NONCE_CHARS] = 0;
		if (o >= cap)
			return -1;
		const char *tail = stale ? ", stale=true" : "";
		int n = snprintf(out + o, cap - o,
				 "Digest realm=\"%.*s\", nonce=\"%s\", "
				 "algorithm=%s, qop=\"auth\"%s",
				 (int)qlen, qrealm, text, algs[alg].name, tail);
		if (n < 0 || (size_t)n + 1 > cap - o)
			return -1;
		o += (size_t)n + 1; /* keep the NUL: it ends this value */
		count++;
	}
	return count ? count : -1;
}

/* ---- the nonce-count table ---------------------------------------------- */

static uint32_t nc_bucket(const struct nc_table *t, const uint8_t *key)
{
	/* the key is HMAC output: any four bytes of it are uniform */
	uint32_t h;
	memcpy(&h, key, sizeof(h));
	return h & t->mask;
}

static uint32_t nc_find(const struct nc_table *t, const uint8_t *key)
{
	for (uint32_t i = t->bucket[nc_bucket(t, key)]; i != NIL; i = t->slot[i].chain)
		if (memcmp(t->slot[i].key, key, NONCE_MAC) == 0)
			return i;
	return NIL;
}

static void lru_unlink(struct nc_table *t, uint32_t i)
{
	struct nc_slot *s = &t->slot[i];
	if (s->newer != NIL)
		t->slot[s->newer].older = s->older;
	else
		t->newest = s->older;
	if (s->older != NIL)
		t->slot[s->older].newer = s->newer;
	else
		t->oldest = s->newer;
}

static void lru_push(struct nc_table *t, uint32_t i)
{
	struct nc_slot *s = &t->slot[i];
	s->newer = NIL;
	s->older = t->newest;
	if (t->newest != NIL)
		t->slot[t->newest].newer = i;
	t->newest = i;
	if (t->oldest == NIL)
		t->oldest = i;
}

static void nc_touch(struct nc_table *t, uint32_t i)
{
	if (t->newest != i) {
		lru_unlink(t, i);
		lru_push(t, i);
	}
}

/* Takes the least recently used slot; forgetting a nonce that is still
 * live raises the floor (see digest.h). */
static uint32_t nc_evict(struct nc_table *t, int64_t now, unsigned lifetime)
{
	uint32_t i = t->oldest;
	struct nc_slot *s = &t->slot[i];
	if (now - s->issued <= (int64_t)lifetime && s->issued > t->floor)
		t->floor = s->issued;
	uint32_t *link = &t->bucket[nc_bucket(t, s->key)];
	while (*link != i)
		link = &t->slot[*link].chain;
	*link = s->chain;
	lru_unlink(t, i);
	return i;
}

static void nc_insert(struct nc_table *t, const uint8_t *key, int64_t issued, uint32_t nc,
		      int64_t now, unsigned lifetime)
{
	uint32_t i = t->used < t->cap ? t->used++ : nc_evict(t, now, lifetime);
	struct nc_slot *s = &t->slot[i];
	memcpy(s->key, key, NONCE_MAC);
	s->issued = issued;
	s->nc = nc;
	uint32_t b = nc_bucket(t, key);
	s->chain = t->bucket[b];
	t->bucket[b] = i;
	lru_push(t, i);
}

/* ---- verification ------------------------------------------------------- */

/* Unescaped quoted value esc equals plain. */
static bool unq_eq(sip_str esc, sip_str plain)
{
	size_t j = 0;
	for (size_t i = 0; i < esc.len; i++, j++) {
		if (esc.s[i] == '\\' && i + 1 < esc.len)
			i++;
		if (j >= plain.len || esc.s[i] != plain.s[j])
			return false;
	}
	return j == plain.len;
}

static bool parse_nc(sip_str s, uint32_t *out)
{
	/* nonce-count = 8LHEX (RFC 7616 3.4) */
	uint32_t v = 0;
	if (s.len != 8)
		return false;
	for (size_t i = 0; i < 8; i++) {
		unsigned char c = (unsigned char)s.s[i];
		if (!cc_is(c, CC_HEX))
			return false;
		v = v << 4 | (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	*out = v;
	return true;
}

enum digest_result digest_verify(struct digest_ctx *ctx, const struct sip_auth *cred,
				 sip_str method, sip_str expected_realm, const char *ha1_hex,
				 int64_t now, char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = 0;
	if (!cred->digest)
		return say(why, whylen, DIGEST_MALFORMED, "scheme %.*s is not Digest",
			   SHOW(cred->scheme));
	static const struct {
		const char *name;
		size_t off;
	} required[] = {
#define F(n) {#n, offsetof(struct sip_auth, n)}
		F(username), F(realm), F(nonce), F(uri), F(response),
#undef F
	};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!sip_str_present(*(const sip_str *)((const char *)cred + required[i].off)))
			return say(why, whylen, DIGEST_MALFORMED, "credentials without %s",
				   required[i].name);

	enum digest_alg alg;
	if (digest_alg_parse(cred->algorithm, &alg) < 0)
		return say(why, whylen, DIGEST_MALFORMED, "unknown algorithm %.*s",
			   SHOW(cred->algorithm));
	const EVP_MD *md = ctx->md[algs[alg].hash];
	if (!md)
		return say(why, whylen, DIGEST_ERROR, "OpenSSL offers no %s", algs[alg].name);
	if (!unq_eq(cred->realm, expected_realm))
		return say(why, whylen, DIGEST_MALFORMED, "realm \"%.*s\" is not \"%.*s\"",
			   SHOW(cred->realm), SHOW(expected_realm));
	if (sip_str_present(cred->userhash) && !sip_str_caseeq_lit(cred->userhash, "false"))
		return say(why, whylen, DIGEST_MALFORMED, "userhash is not supported");

	bool qop = sip_str_present(cred->qop);
	uint32_t nc = 0;
	if (qop) {
		if (!sip_str_caseeq_lit(cred->qop, "auth"))
			return say(why, whylen, DIGEST_MALFORMED,
				   "qop %.*s is not supported (only auth)", SHOW(cred->qop));
		if (!sip_str_present(cred->cnonce) || !sip_str_present(cred->nc))
			return say(why, whylen, DIGEST_MALFORMED, "qop=auth without %s",
				   sip_str_present(cred->nc) ? "cnonce" : "nc");
		if (!parse_nc(cred->nc, &nc))
			return say(why, whylen, DIGEST_MALFORMED, "nc %.*s is not 8 hex digits",
				   SHOW(cred->nc));
		if (nc == 0)
			return say(why, whylen, DIGEST_MALFORMED,
				   "nc 00000000: counting starts at 1");
	} else {
		/* RFC 2617 3.2.2: no cnonce or nc without qop */
		if (sip_str_present(cred->cnonce) || sip_str_present(cred->nc))
			return say(why, whylen, DIGEST_MALFORMED, "%s without qop",
				   sip_str_present(cred->nc) ? "nc" : "cnonce");
		/* RFC 2069: only plain MD5 predates qop; -sess needs a cnonce */
		if (alg != DIGEST_ALG_MD5)
			return say(why, whylen, DIGEST_MALFORMED, "%s credentials without qop",
				   algs[alg].name);
		if (ctx->noqop == DIGEST_NOQOP_REFUSE)
			return say(why, whylen, DIGEST_MALFORMED,
				   "credentials without qop (RFC 2069) are refused");
	}
	size_t hex = digest_alg_hex_len(alg);
	char response[DIGEST_HEX_MAX], ha1[DIGEST_HEX_MAX];
	if (!hex_lower(cred->response, hex, response))
		return say(why, whylen, DIGEST_MALFORMED, "response is not %zu hex digits", hex);
	if (!ha1_hex || !hex_lower(sip_str_make(ha1_hex, strlen(ha1_hex)), hex, ha1))
		return say(why, whylen, DIGEST_ERROR, "stored HA1 is not %zu hex digits for %s",
			   hex, algs[alg].name);

	/* Is the nonce ours? base64url has no characters to escape. */
	uint8_t nonce[NONCE_BYTES], mac[NONCE_MAC];
	if (!b64url_decode(cred->nonce, nonce, NONCE_BYTES) || nonce[0] != NONCE_VERSION)
		return say(why, whylen, DIGEST_BAD_NONCE, "nonce %.*s is not one of ours",
			   SHOW(cred->nonce));
	int64_t issued = get_time(nonce + 3);
	/* The previous secret signs only nonces issued before the rotation,
	 * and only for one lifetime after it. */
	EVP_MAC_CTX *keys[2];
	int nkeys = 0;
	if (nonce[1] == ctx->cur.id)
		keys[nkeys++] = ctx->cur.mac;
	if (ctx->prev.mac && nonce[1] == ctx->prev.id && issued <= ctx->rotated_at &&
	    now - ctx->rotated_at <= (int64_t)ctx->lifetime)
		keys[nkeys++] = ctx->prev.mac;
	if (!nkeys)
		return say(why, whylen, DIGEST_BAD_NONCE, "nonce signed with an unknown secret");
	bool authentic = false;
	for (int k = 0; k < nkeys && !authentic; k++) {
		if (!nonce_mac(keys[k], nonce, expected_realm, mac))
			return say(why, whylen, DIGEST_ERROR, "HMAC failed");
		authentic = CRYPTO_memcmp(mac, nonce + NONCE_HEAD, NONCE_MAC) == 0;
	}
	if (!authentic)
		return say(why, whylen, DIGEST_BAD_NONCE, "nonce signature does not verify");
	if (issued > now + FUTURE_SKEW)
		return say(why, whylen, DIGEST_BAD_NONCE, "nonce issued %lld s in the future",
			   (long long)(issued - now));
	if (nonce[2] != alg)
		return say(why, whylen, DIGEST_MALFORMED, "nonce issued for %s, credentials use %s",
			   digest_alg_name((enum digest_alg)nonce[2]), algs[alg].name);

	struct digest_input in = {
		.alg = alg,
		.method = method,
		.uri = cred->uri,
		.nonce = cred->nonce,
		.nc = cred->nc,
		.cnonce = cred->cnonce,
		.qop = qop ? cred->qop : SIP_STR_NULL,
	};
	char expect[DIGEST_HEX_MAX];
	if (!compute_response(ctx->mdctx, md, &in, ha1, true, expect))
		return say(why, whylen, DIGEST_ERROR, "%s hash failed", algs[alg].name);
	if (CRYPTO_memcmp(expect, response, hex) != 0)
		return say(why, whylen, DIGEST_BAD_RESPONSE, "wrong response for user %.*s",
			   SHOW(cred->username));

	if (now - issued > (int64_t)ctx->lifetime)
		return say(why, whylen, DIGEST_STALE, "nonce expired %lld s ago",
			   (long long)(now - issued - ctx->lifetime));
	if (!qop && ctx->noqop == DIGEST_NOQOP_REUSE)
		return DIGEST_OK;
	struct nc_table *t = &ctx->nc;
	uint32_t i = nc_find(t, nonce + NONCE_HEAD);
	if (i != NIL) {
		if (!qop || t->slot[i].nc == NC_SPENT)
			return say(why, whylen, DIGEST_REPLAY,
				   "nonce already used%s", qop ? " without qop" : "");
		if (nc <= t->slot[i].nc)
			return say(why, whylen, DIGEST_REPLAY,
				   "nc %08x is not above %08x, already used with this nonce", nc,
				   t->slot[i].nc);
		t->slot[i].nc = nc;
		nc_touch(t, i);
		return DIGEST_OK;
	}
	if (issued <= t->floor)
		return say(why, whylen, DIGEST_STALE,
			   "nonce may have been used and forgotten (nonce-count table full)");
	nc_insert(t, nonce + NONCE_HEAD, issued, qop ? nc : NC_SPENT, now, ctx->lifetime);
	return DIGEST_OK;
}

/* ---- finding credentials ------------------------------------------------ */

struct sip_hdr *digest_find_credentials(struct sip_msg *m, enum sip_hdr_type type,
					sip_str realm, struct sip_error *err)
{
	if (type != SIP_HDR_AUTHORIZATION && type != SIP_HDR_PROXY_AUTHORIZATION)
		return NULL;
	for (struct sip_hdr *h = m->first[type]; h; h = h->next_same) {
		if (h->removed || sip_hdr_parse(m, h, err) < 0)
			continue;
		const struct sip_auth *au = h->v.auth;
		if (au->digest && sip_str_present(au->realm) && unq_eq(au->realm, realm))
			return h;
	}
	return NULL;
}
