/*
 * libFuzzer target: URIs (sip_uri_parse, sip_uri_equal, common/sip/uri.h).
 *
 * The whole input is one URI; the input cut at its first LF is two URIs
 * to compare (corpus files "sip:a@b\nsip:A@B" are RFC 3261 19.1.4 pairs).
 * Properties (__builtin_trap when broken):
 *
 *  - a parsed URI equals itself and a copy of itself parsed from another
 *    buffer (RFC 3261 19.1.4 comparison is an equivalence);
 *  - the same URI with its host in upper case parses and is equal (hosts
 *    compare case-insensitively);
 *  - equality is symmetric;
 *  - every slice of a parsed URI lies inside the text; unescaping never
 *    writes past the buffer it is given.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/uri.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void inside(sip_str s, const char *buf, size_t len)
{
	CHECK(!s.s || (s.s >= buf && s.s + s.len <= buf + len));
}

/* Exactly sized heap copy, so that any read past the text is caught. */
static char *dup_exact(const char *s, size_t len)
{
	char *d = malloc(len ? len : 1);
	CHECK(d);
	if (len)
		memcpy(d, s, len);
	return d;
}

static void unescape(sip_str s)
{
	if (!s.len)
		return;
	char *out = malloc(s.len);
	CHECK(out);
	long n = sip_unescape(s, out, s.len);
	CHECK(n <= (long)s.len);
	if (n > 0) /* one byte too little room must fail cleanly */
		CHECK(sip_unescape(s, out, (size_t)n - 1) == -1);
	free(out);
}

/* Exercises the accessors of a parsed URI and checks its slices. */
static void walk(const struct sip_uri *u, const char *buf, size_t len)
{
	const sip_str *parts[] = {&u->raw, &u->scheme_name, &u->user, &u->password, &u->host,
				  &u->params, &u->headers, &u->opaque, &u->transport,
				  &u->user_param, &u->method, &u->maddr, &u->ttl};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		inside(*parts[i], buf, len);
	sip_str cur = u->params, name, value;
	while (sip_uri_param_next(&cur, &name, &value)) {
		inside(name, buf, len);
		inside(value, buf, len);
	}
	(void)sip_uri_param(u, "lr", NULL);
	(void)sip_uri_param(u, "transport", &value);
	unescape(u->user);
	unescape(u->host);
	(void)sip_uri_scheme_name(u->scheme);
}

/* Upper-cases the host in a copy of the text: still the same URI. */
static void host_case(const struct sip_uri *u, const char *text, size_t len)
{
	if ((u->scheme != SIP_URI_SIP && u->scheme != SIP_URI_SIPS) || !u->host.len)
		return;
	char *up = dup_exact(text, len);
	size_t off = (size_t)(u->host.s - text);
	for (size_t i = 0; i < u->host.len; i++)
		if (up[off + i] >= 'a' && up[off + i] <= 'z')
			up[off + i] = (char)(up[off + i] - 32);
	struct sip_uri v;
	CHECK(sip_uri_parse(&v, up, len, NULL) == 0);
	CHECK(sip_uri_equal(u, &v) && sip_uri_equal(&v, u));
	free(up);
}

static void one(const char *text, size_t len)
{
	char *buf = dup_exact(text, len);
	struct sip_uri u;
	struct sip_error err = {0};
	int r = sip_uri_parse(&u, buf, len, &err);
	CHECK(r == 0 || err.fault == SIP_FAULT_HEADER_VALUE);
	if (r == 0) {
		walk(&u, buf, len);
		CHECK(sip_uri_equal(&u, &u));
		char *again = dup_exact(text, len);
		struct sip_uri u2;
		CHECK(sip_uri_parse(&u2, again, len, NULL) == 0);
		CHECK(sip_uri_equal(&u, &u2) && sip_uri_equal(&u2, &u));
		free(again);
		host_case(&u, buf, len);
	}
	free(buf);
}

static void pair(const char *a, size_t alen, const char *b, size_t blen)
{
	char *x = dup_exact(a, alen), *y = dup_exact(b, blen);
	struct sip_uri ua, ub;
	if (sip_uri_parse(&ua, x, alen, NULL) == 0 && sip_uri_parse(&ub, y, blen, NULL) == 0)
		CHECK(sip_uri_equal(&ua, &ub) == sip_uri_equal(&ub, &ua));
	free(x);
	free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	one(s, size);
	const char *lf = size ? memchr(s, '\n', size) : NULL;
	if (lf) {
		size_t alen = (size_t)(lf - s);
		one(s, alen);
		one(lf + 1, size - alen - 1);
		pair(s, alen, lf + 1, size - alen - 1);
	}
	return 0;
}
