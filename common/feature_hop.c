#include "feature_hop.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "sip/addr.h"
#include "sip/msg.h"
#include "sip/uri.h"
#include "store.h"

#define MAC_HEX 16

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int feature_hop_key_parse(const char *hex, uint8_t key[FEATURE_HOP_KEY_LEN])
{
	if (!hex || strlen(hex) != 2 * FEATURE_HOP_KEY_LEN)
		return -1;
	for (size_t i = 0; i < FEATURE_HOP_KEY_LEN; i++) {
		int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* The MAC of "value|call-id|user|host" (host folded), as 16 hex digits.
 * Each part is length-prefixed so that no two inputs share a message. */
static int mac_hex(const uint8_t key[FEATURE_HOP_KEY_LEN], sip_str value, sip_str call_id,
		   sip_str user, sip_str host, char out[MAC_HEX + 1])
{
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
			       OSSL_PARAM_construct_end()};
	int ok = ctx && EVP_MAC_init(ctx, key, FEATURE_HOP_KEY_LEN, params);
	const sip_str parts[] = {value, call_id, user};
	for (size_t i = 0; ok && i < sizeof parts / sizeof parts[0]; i++) {
		uint32_t n = (uint32_t)parts[i].len;
		uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
		ok = EVP_MAC_update(ctx, len, sizeof len) &&
		     (!n || EVP_MAC_update(ctx, (const unsigned char *)parts[i].s, n));
	}
	for (size_t i = 0; ok && i < host.len; i++) {
		unsigned char c = (unsigned char)tolower((unsigned char)host.s[i]);
		ok = EVP_MAC_update(ctx, &c, 1);
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t mdlen = 0;
	ok = ok && EVP_MAC_final(ctx, md, &mdlen, sizeof md) && mdlen >= MAC_HEX / 2;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	if (!ok)
		return -1;
	for (size_t i = 0; i < MAC_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static bool phase_ok(int c)
{
	return c == FEATURE_HOP_CALLING || c == FEATURE_HOP_CALLED || c == FEATURE_HOP_RETARGETED;
}

int feature_hop_format(const struct feature_hop *h, const uint8_t key[FEATURE_HOP_KEY_LEN],
		       sip_str call_id, sip_str user, sip_str host, char *out, size_t cap)
{
	if (!phase_ok(h->phase) || h->group_id < 0)
		return -1;
	char body[FEATURE_HOP_MAX];
	int n = snprintf(body, sizeof body, "%c.%" PRIu32 ".%" PRId64 ".%" PRIu32, (char)h->phase,
			 h->index, h->group_id, h->forwards);
	char mac[MAC_HEX + 1];
	if (n < 0 || (size_t)n >= sizeof body ||
	    mac_hex(key, sip_str_make(body, (size_t)n), call_id, user, host, mac) < 0)
		return -1;
	int len = snprintf(out, cap, "%s.%s", body, mac);
	return len > 0 && (size_t)len < cap ? len : -1;
}

/* A decimal number of at most max, no sign, no leading zero but "0". */
static bool number(const char **p, const char *end, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	while (s < end && *s >= '0' && *s <= '9') {
		if (s > *p && **p == '0')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
		s++;
	}
	if (s == *p)
		return false;
	*p = s;
	*out = v;
	return true;
}

/* The fields of a value (phase.index.group.forwards) into *h; *mac_dot
 * gets the dot before its MAC. Returns 0 or -1. */
static int fields(sip_str value, struct feature_hop *h, const char **mac_dot)
{
	if (!value.s || value.len < 2 + MAC_HEX || value.len >= FEATURE_HOP_MAX)
		return -1;
	const char *p = value.s, *end = value.s + value.len - MAC_HEX - 1;
	if (*end != '.' || !phase_ok(p[0]) || p[1] != '.')
		return -1;
	uint64_t index, group, forwards;
	p += 2;
	if (!number(&p, end, UINT32_MAX, &index) || p == end || *p++ != '.' ||
	    !number(&p, end, INT64_MAX, &group) || p == end || *p++ != '.' ||
	    !number(&p, end, UINT32_MAX, &forwards) || p != end)
		return -1;
	*h = (struct feature_hop){.phase = (enum feature_hop_phase)value.s[0], .index = (uint32_t)index,
				  .group_id = (int64_t)group, .forwards = (uint32_t)forwards};
	*mac_dot = end;
	return 0;
}

int feature_hop_parse(sip_str value, const uint8_t key[FEATURE_HOP_KEY_LEN], sip_str call_id,
		      sip_str user, sip_str host, struct feature_hop *h)
{
	struct feature_hop v;
	const char *end;
	char mac[MAC_HEX + 1];
	if (fields(value, &v, &end) < 0 ||
	    mac_hex(key, sip_str_make(value.s, (size_t)(end - value.s)), call_id, user, host, mac) < 0)
		return -1;
	/* hex digits compare as written: ours are lower case */
	if (CRYPTO_memcmp(mac, end + 1, MAC_HEX) != 0)
		return -1;
	*h = v;
	return 0;
}

int feature_hop_peek(sip_str value, struct feature_hop *h)
{
	const char *end;
	return fields(value, h, &end);
}

/* Whether u (a Contact with maddr) names one of the group's servers. */
static bool names_group_server(const struct store *s, int64_t group_id, const struct sip_uri *u)
{
	const struct store_server *sv[64];
	size_t n = store_group_servers(s, group_id, sv, sizeof sv / sizeof sv[0]);
	sip_str host = u->maddr;
	if (host.len > 2 && host.s[0] == '[' && host.s[host.len - 1] == ']')
		host = sip_str_make(host.s + 1, host.len - 2); /* stored without brackets */
	uint16_t port = u->has_port ? u->port : 5060;
	for (size_t i = 0; i < n; i++)
		if (sv[i]->port == port && sip_str_caseeq_lit(host, sv[i]->host))
			return true;
	return false;
}

bool feature_hop_redirect(const struct store *s, struct sip_msg *resp)
{
	for (struct sip_hdr *c = resp->first[SIP_HDR_CONTACT]; c; c = c->next_same) {
		if (sip_hdr_parse(resp, c, NULL) < 0)
			continue;
		for (const struct sip_addr *a = c->v.addr; a; a = a->next) {
			sip_str value;
			struct feature_hop h;
			if (a->star || !sip_uri_param(&a->uri, FEATURE_HOP_PARAM, &value) ||
			    feature_hop_peek(value, &h) < 0 || h.phase == FEATURE_HOP_RETARGETED)
				continue;
			if (!a->uri.maddr.len || names_group_server(s, h.group_id, &a->uri))
				return true;
		}
	}
	return false;
}
