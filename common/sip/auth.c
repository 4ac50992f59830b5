#include "sip/auth.h"

static int bad(struct sip_error *err, const char *at, const char *what, const char *why)
{
	return sip_fail(err, SIP_FAULT_HEADER_VALUE, at, "%s: %s", what, why);
}

static void pick_digest_param(struct sip_auth *au, const struct sip_param *p)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
#define F(n) {#n, offsetof(struct sip_auth, n)}
		F(username), F(realm), F(nonce), F(uri), F(response), F(algorithm),
		F(cnonce), F(opaque), F(qop), F(nc), F(stale), F(domain), F(userhash),
#undef F
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (sip_str_caseeq_lit(p->name, fields[i].name)) {
			*(sip_str *)((char *)au + fields[i].off) = p->value;
			return;
		}
	}
}

int sip_auth_parse(sip_str value, struct arena *a, struct sip_auth *out, const char *what,
		   struct sip_error *err)
{
	struct scan sc = scan_of(value);
	scan_sws(&sc);
	if (!scan_token(&sc, &out->scheme))
		return bad(err, sc.p, what, "missing authentication scheme");
	out->digest = sip_str_caseeq_lit(out->scheme, "Digest");
	if (!scan_sws(&sc)) {
		if (scan_eof(&sc))
			return 0; /* a scheme alone: nothing more to pick out */
		return bad(err, sc.p, what, "expected whitespace after the scheme");
	}
	struct sip_param **tail = &out->params;
	do {
		struct sip_param *p = arena_alloc(a, sizeof(*p));
		if (!p)
			return sip_fail(err, SIP_FAULT_NO_MEMORY, sc.p, "%s: out of memory", what);
		if (!scan_token(&sc, &p->name) || !scan_sep(&sc, '='))
			return bad(err, sc.p, what, "expected name=value");
		if (scan_peek(&sc) == '"') {
			if (!scan_quoted(&sc, &p->value))
				return bad(err, sc.p, what, "unterminated quoted value");
			p->quoted = true;
		} else if (!scan_token(&sc, &p->value)) {
			return bad(err, sc.p, what, "empty value");
		}
		if (out->digest)
			pick_digest_param(out, p);
		*tail = p;
		tail = &p->next;
	} while (scan_sep(&sc, ','));
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, what, "unexpected character");
	return 0;
}
