#include "sip/uri.h"

#include "text.h"

#include <arpa/inet.h>

#include "sip/scan.h"


/* Matches 1*( cls / escaped ), checking every '%' starts a valid escape. */
static bool span_escaped(struct scan *sc, unsigned cls, sip_str *out)
{
	const char *s = sc->p, *q = sc->p;
	while (q < sc->end) {
		unsigned char c = (unsigned char)*q;
		if (c == '%') {
			if (sc->end - q < 3 || hex_digit_value(q[1]) < 0 || hex_digit_value(q[2]) < 0)
				break;
			q += 3;
		} else if (cc_is(c, cls)) {
			q++;
		} else {
			break;
		}
	}
	if (q == s)
		return false;
	sc->p = q;
	*out = sip_str_make(s, (size_t)(q - s));
	return true;
}

const char *sip_uri_scheme_name(enum sip_uri_scheme s)
{
	switch (s) {
	case SIP_URI_SIP:
		return "sip";
	case SIP_URI_SIPS:
		return "sips";
	case SIP_URI_TEL:
		return "tel";
	default:
		return "other";
	}
}

static int bad(struct sip_error *err, const char *at, const char *what)
{
	return sip_fail(err, SIP_FAULT_HEADER_VALUE, at, "URI: %s", what);
}

/* ;pname[=pvalue] ... for sip/sips (paramchar) and tel (same class here). */
static int parse_uri_params(struct scan *sc, struct sip_uri *uri, struct sip_error *err)
{
	const char *start = sc->p;
	while (scan_peek(sc) == ';') {
		sc->p++;
		sip_str name, value = SIP_STR_NULL;
		if (!span_escaped(sc, CC_PARAM, &name))
			return bad(err, sc->p, "empty or malformed parameter");
		if (scan_peek(sc) == '=') {
			sc->p++;
			if (!span_escaped(sc, CC_PARAM, &value))
				return bad(err, sc->p, "empty parameter value");
		}
		if (sip_str_caseeq_lit(name, "transport"))
			uri->transport = value;
		else if (sip_str_caseeq_lit(name, "user"))
			uri->user_param = value;
		else if (sip_str_caseeq_lit(name, "method"))
			uri->method = value;
		else if (sip_str_caseeq_lit(name, "maddr"))
			uri->maddr = value;
		else if (sip_str_caseeq_lit(name, "ttl"))
			uri->ttl = value;
		else if (sip_str_caseeq_lit(name, "lr"))
			uri->lr = true;
	}
	uri->params = sip_str_make(start, (size_t)(sc->p - start));
	return 0;
}

static int parse_uri_headers(struct scan *sc, struct sip_uri *uri, struct sip_error *err)
{
	if (scan_peek(sc) != '?')
		return 0;
	sc->p++;
	const char *start = sc->p;
	for (;;) {
		sip_str name, value;
		if (!span_escaped(sc, CC_HNV, &name))
			return bad(err, sc->p, "malformed header name");
		if (scan_peek(sc) != '=')
			return bad(err, sc->p, "header without '='");
		sc->p++;
		span_escaped(sc, CC_HNV, &value); /* hvalue may be empty */
		if (scan_peek(sc) != '&')
			break;
		sc->p++;
	}
	uri->headers = sip_str_make(start, (size_t)(sc->p - start));
	return 0;
}

static int parse_sip_uri(struct scan *sc, struct sip_uri *uri, struct sip_error *err)
{
	/* '@' may appear once at most in a SIP URI, and only ends userinfo. */
	const char *at = memchr(sc->p, '@', (size_t)(sc->end - sc->p));
	if (at) {
		struct scan us = {sc->p, at};
		if (!span_escaped(&us, CC_USER, &uri->user))
			return bad(err, us.p, "empty or malformed user part");
		if (scan_peek(&us) == ':') {
			us.p++;
			if (!span_escaped(&us, CC_PASSWD, &uri->password))
				uri->password = sip_str_make(us.p, 0);
		}
		if (us.p != at)
			return bad(err, us.p, "invalid character in user part");
		sc->p = at + 1;
	}
	if (!scan_host(sc, &uri->host))
		return bad(err, sc->p, "missing or malformed host");
	uri->host_is_ipv6 = uri->host.s[0] == '[';
	if (scan_peek(sc) == ':') {
		sc->p++;
		uint64_t port;
		if (!scan_uint(sc, 65535, &port))
			return bad(err, sc->p, "malformed port");
		uri->port = (uint16_t)port;
		uri->has_port = true;
	}
	if (parse_uri_params(sc, uri, err) < 0 || parse_uri_headers(sc, uri, err) < 0)
		return -1;
	if (!scan_eof(sc))
		return bad(err, sc->p, "unexpected character");
	return 0;
}

static int parse_tel_uri(struct scan *sc, struct sip_uri *uri, struct sip_error *err)
{
	if (!span_escaped(sc, CC_TELSUB | CC_HEX, &uri->user))
		return bad(err, sc->p, "missing telephone number");
	if (parse_uri_params(sc, uri, err) < 0)
		return -1;
	if (!scan_eof(sc))
		return bad(err, sc->p, "unexpected character");
	return 0;
}

int sip_uri_parse(struct sip_uri *uri, const char *text, size_t len, struct sip_error *err)
{
	memset(uri, 0, sizeof(*uri));
	uri->raw = sip_str_make(text, len);
	struct scan sc = {text, text + len};
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	const char *q = text;
	if (q >= sc.end || !((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z'))
		return bad(err, q, "missing scheme");
	while (q < sc.end && (cc_is((unsigned char)*q, CC_ALNUM) || *q == '+' || *q == '-' || *q == '.'))
		q++;
	if (q >= sc.end || *q != ':')
		return bad(err, q, "missing ':' after scheme");
	uri->scheme_name = sip_str_make(text, (size_t)(q - text));
	sc.p = q + 1;
	uri->opaque = sip_str_make(sc.p, (size_t)(sc.end - sc.p));
	if (sip_str_caseeq_lit(uri->scheme_name, "sip")) {
		uri->scheme = SIP_URI_SIP;
		return parse_sip_uri(&sc, uri, err);
	}
	if (sip_str_caseeq_lit(uri->scheme_name, "sips")) {
		uri->scheme = SIP_URI_SIPS;
		return parse_sip_uri(&sc, uri, err);
	}
	if (sip_str_caseeq_lit(uri->scheme_name, "tel")) {
		uri->scheme = SIP_URI_TEL;
		return parse_tel_uri(&sc, uri, err);
	}
	uri->scheme = SIP_URI_OTHER;
	sip_str rest;
	if (!span_escaped(&sc, CC_URIC | CC_UNRES, &rest) || !scan_eof(&sc))
		return bad(err, sc.p, "malformed absolute URI");
	return 0;
}

long sip_unescape(sip_str in, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < in.len; i++) {
		int c = (unsigned char)in.s[i];
		if (c == '%') {
			if (i + 2 >= in.len)
				return -1;
			int h = hex_digit_value(in.s[i + 1]), l = hex_digit_value(in.s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		}
		if (o >= cap)
			return -1;
		out[o++] = (char)c;
	}
	return (long)o;
}

/* Reads the next octet of an escaped slice, decoding %HH. */
static int next_octet(sip_str s, size_t *i)
{
	if (*i >= s.len)
		return -1;
	int c = (unsigned char)s.s[*i];
	if (c == '%' && *i + 2 < s.len) {
		int h = hex_digit_value(s.s[*i + 1]), l = hex_digit_value(s.s[*i + 2]);
		if (h >= 0 && l >= 0) {
			*i += 3;
			return h * 16 + l;
		}
	}
	(*i)++;
	return c;
}


/* Equality of two escaped slices after unescaping. */
static bool escaped_eq(sip_str a, sip_str b, bool nocase)
{
	size_t i = 0, j = 0;
	for (;;) {
		int x = next_octet(a, &i), y = next_octet(b, &j);
		if (x < 0 || y < 0)
			return x == y;
		if (nocase) {
			x = ascii_lower(x);
			y = ascii_lower(y);
		}
		if (x != y)
			return false;
	}
}

bool sip_uri_param_next(sip_str *cursor, sip_str *name, sip_str *value)
{
	if (!cursor->len)
		return false; /* also keeps NULL + 0 (absent params) out of the arithmetic */
	const char *p = cursor->s, *end = cursor->s + cursor->len;
	while (p < end && *p == ';')
		p++;
	if (p >= end)
		return false;
	const char *n = p;
	while (p < end && *p != ';' && *p != '=')
		p++;
	*name = sip_str_make(n, (size_t)(p - n));
	*value = SIP_STR_NULL;
	if (p < end && *p == '=') {
		const char *v = ++p;
		while (p < end && *p != ';')
			p++;
		*value = sip_str_make(v, (size_t)(p - v));
	}
	*cursor = sip_str_make(p, (size_t)(end - p));
	return true;
}

/* Finds a parameter in a params slice comparing unescaped names. */
static bool params_find(sip_str params, sip_str want, sip_str *value)
{
	sip_str cur = params, n, v;
	while (sip_uri_param_next(&cur, &n, &v)) {
		if (escaped_eq(n, want, true)) {
			*value = v;
			return true;
		}
	}
	return false;
}

bool sip_uri_param(const struct sip_uri *uri, const char *name, sip_str *value)
{
	sip_str v;
	if (!params_find(uri->params, sip_str_make(name, strlen(name)), &v))
		return false;
	if (value)
		*value = v;
	return true;
}

static bool host_eq(sip_str a, sip_str b)
{
	if (a.len > 2 && b.len > 2 && a.s[0] == '[' && b.s[0] == '[' && a.len < 64 && b.len < 64) {
		char x[64], y[64];
		unsigned char bx[16], by[16];
		memcpy(x, a.s + 1, a.len - 2);
		x[a.len - 2] = 0;
		memcpy(y, b.s + 1, b.len - 2);
		y[b.len - 2] = 0;
		if (inet_pton(AF_INET6, x, bx) == 1 && inet_pton(AF_INET6, y, by) == 1)
			return memcmp(bx, by, 16) == 0;
	}
	return escaped_eq(a, b, true);
}

static bool param_sets_eq(sip_str pa, sip_str pb)
{
	static const char *const strict[] = {"transport", "user", "ttl", "method", "maddr"};
	for (size_t k = 0; k < sizeof(strict) / sizeof(strict[0]); k++) {
		sip_str want = sip_str_make(strict[k], strlen(strict[k])), va, vb;
		bool ina = params_find(pa, want, &va), inb = params_find(pb, want, &vb);
		if (ina != inb || (ina && !escaped_eq(va, vb, true)))
			return false;
	}
	/* any other parameter present in both must match; a repeated name
	 * counts by its first occurrence in each URI, so that the comparison
	 * stays reflexive and symmetric */
	sip_str cur = pa, n, v, first, w;
	while (sip_uri_param_next(&cur, &n, &v))
		if (params_find(pa, n, &first) && params_find(pb, n, &w) &&
		    !escaped_eq(first, w, true))
			return false;
	return true;
}

/* Headers: every one in a is in b with the same value, and vice versa. */
static bool headers_subset(sip_str a, sip_str b)
{
	/* absent headers are NULL slices: no arithmetic on them */
	if (!a.len)
		return true;
	if (!b.len)
		return false;
	const char *p = a.s, *end = a.s + a.len;
	while (p < end) {
		const char *h = p;
		while (p < end && *p != '&')
			p++;
		sip_str item = sip_str_make(h, (size_t)(p - h));
		const char *eq = memchr(item.s, '=', item.len);
		sip_str name = sip_str_make(item.s, eq ? (size_t)(eq - item.s) : item.len);
		sip_str val = eq ? sip_str_make(eq + 1, (size_t)(item.s + item.len - eq - 1)) : SIP_STR_NULL;
		bool found = false;
		const char *r = b.s, *rend = b.s + b.len;
		while (r < rend && !found) {
			const char *g = r;
			while (r < rend && *r != '&')
				r++;
			sip_str other = sip_str_make(g, (size_t)(r - g));
			const char *oeq = memchr(other.s, '=', other.len);
			sip_str oname = sip_str_make(other.s, oeq ? (size_t)(oeq - other.s) : other.len);
			sip_str oval = oeq ? sip_str_make(oeq + 1, (size_t)(other.s + other.len - oeq - 1)) : SIP_STR_NULL;
			found = escaped_eq(name, oname, true) && escaped_eq(val, oval, false);
			if (r < rend)
				r++;
		}
		if (!found)
			return false;
		if (p < end)
			p++;
	}
	return true;
}

static bool tel_number_eq(sip_str a, sip_str b)
{
	size_t i = 0, j = 0;
	for (;;) {
		while (i < a.len && strchr("-.()", a.s[i]))
			i++;
		while (j < b.len && strchr("-.()", b.s[j]))
			j++;
		if (i >= a.len || j >= b.len)
			return i >= a.len && j >= b.len;
		if (ascii_lower((unsigned char)a.s[i]) != ascii_lower((unsigned char)b.s[j]))
			return false;
		i++;
		j++;
	}
}

static bool tel_params_eq(sip_str pa, sip_str pb)
{
	sip_str cur = pa, n, v, first, w;
	while (sip_uri_param_next(&cur, &n, &v))
		if (!params_find(pa, n, &first) || !params_find(pb, n, &w) ||
		    !escaped_eq(first, w, true))
			return false;
	cur = pb;
	while (sip_uri_param_next(&cur, &n, &v))
		if (!params_find(pa, n, &w))
			return false;
	return true;
}

bool sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b)
{
	if (a->scheme != b->scheme)
		return false;
	switch (a->scheme) {
	case SIP_URI_SIP:
	case SIP_URI_SIPS:
		return escaped_eq(a->user, b->user, false) &&
		       escaped_eq(a->password, b->password, false) &&
		       sip_str_present(a->password) == sip_str_present(b->password) &&
		       host_eq(a->host, b->host) && a->has_port == b->has_port &&
		       a->port == b->port && param_sets_eq(a->params, b->params) &&
		       headers_subset(a->headers, b->headers) &&
		       headers_subset(b->headers, a->headers);
	case SIP_URI_TEL:
		return tel_number_eq(a->user, b->user) && tel_params_eq(a->params, b->params);
	default:
		return sip_str_caseeq(a->scheme_name, b->scheme_name) && sip_str_eq(a->opaque, b->opaque);
	}
}
