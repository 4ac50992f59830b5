#include "sip/via.h"

static int bad(struct sip_error *err, const char *at, const char *why)
{
	return sip_fail(err, SIP_FAULT_HEADER_VALUE, at, "Via: %s", why);
}

/* received = IPv4address / IPv6address, and RFC 5118 asks us to accept an
 * IPv6reference too; checked loosely as an address-shaped token. */
static bool plausible_address(sip_str v)
{
	if (v.len == 0 || v.len > 64)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		char c = v.s[i];
		if (!cc_is((unsigned char)c, CC_HEX) && c != '.' && c != ':' && c != '[' && c != ']')
			return false;
	}
	return true;
}

static int via_params(struct scan *sc, struct arena *a, struct sip_via *via, struct sip_error *err)
{
	while (scan_sep(sc, ';')) {
		struct sip_param *prm = arena_alloc(a, sizeof(*prm));
		if (!prm)
			return sip_fail(err, SIP_FAULT_NO_MEMORY, sc->p, "Via: out of memory");
		if (!scan_token(sc, &prm->name))
			return bad(err, sc->p, "empty or malformed parameter");
		if (scan_sep(sc, '=')) {
			bool ok;
			if (scan_peek(sc) == '[') {
				ok = scan_ipv6_ref(sc, &prm->value);
			} else if (scan_peek(sc) == '"') {
				ok = scan_quoted(sc, &prm->value);
				prm->quoted = true;
			} else {
				/* IPv6 received without brackets holds colons, and
				 * may start with them ("::1") */
				const char *s = sc->p;
				ok = scan_span(sc, CC_TOKEN, &prm->value) || scan_peek(sc) == ':';
				while (ok && scan_peek(sc) == ':') {
					sip_str more;
					sc->p++;
					scan_span(sc, CC_TOKEN, &more);
					prm->value = sip_str_make(s, (size_t)(sc->p - s));
				}
			}
			if (!ok)
				return sip_fail(err, SIP_FAULT_HEADER_VALUE, sc->p,
						"Via: parameter '%.*s' has a malformed value",
						(int)prm->name.len, prm->name.s);
		}
		prm->next = via->params;
		via->params = prm;

		sip_str n = prm->name, v = prm->value;
		if (sip_str_caseeq_lit(n, "branch")) {
			if (!sip_str_present(v))
				return bad(err, n.s, "branch without a value");
			via->branch = v;
		} else if (sip_str_caseeq_lit(n, "received")) {
			if (!plausible_address(v))
				return bad(err, v.s ? v.s : n.s, "received is not an IP address");
			via->received = v;
		} else if (sip_str_caseeq_lit(n, "maddr")) {
			via->maddr = v;
		} else if (sip_str_caseeq_lit(n, "ttl")) {
			if (!sip_str_present(v))
				return bad(err, n.s, "ttl must be 0-255");
			struct scan t = scan_of(v);
			uint64_t ttl;
			if (!scan_uint(&t, 255, &ttl) || !scan_eof(&t))
				return bad(err, v.s ? v.s : n.s, "ttl must be 0-255");
			via->ttl = (uint8_t)ttl;
			via->has_ttl = true;
		} else if (sip_str_caseeq_lit(n, "rport")) {
			via->rport = true;
			if (sip_str_present(v)) {
				struct scan t = scan_of(v);
				uint64_t port;
				if (!scan_uint(&t, 65535, &port) || !scan_eof(&t))
					return bad(err, v.s, "rport must be a port number");
				via->rport_value = (uint16_t)port;
			}
		}
	}
	/* params were prepended for speed; restore wire order */
	struct sip_param *rev = NULL;
	while (via->params) {
		struct sip_param *n = via->params->next;
		via->params->next = rev;
		rev = via->params;
		via->params = n;
	}
	via->params = rev;
	return 0;
}

int sip_via_parse(sip_str value, struct arena *a, struct sip_via **list, struct sip_error *err)
{
	struct sip_via **tail = list;
	while (*tail)
		tail = &(*tail)->next;
	struct scan sc = scan_of(value);
	scan_sws(&sc);
	do {
		struct sip_via *via = arena_alloc(a, sizeof(*via));
		if (!via)
			return sip_fail(err, SIP_FAULT_NO_MEMORY, sc.p, "Via: out of memory");
		const char *start = sc.p;
		if (!scan_token(&sc, &via->protocol) || !scan_sep(&sc, '/') ||
		    !scan_token(&sc, &via->version) || !scan_sep(&sc, '/') ||
		    !scan_token(&sc, &via->transport))
			return bad(err, sc.p, "expected sent-protocol SIP/2.0/transport");
		if (!scan_sws(&sc))
			return bad(err, sc.p, "expected whitespace before sent-by");
		if (!scan_host(&sc, &via->host))
			return bad(err, sc.p, "missing or malformed sent-by host");
		if (scan_sep(&sc, ':')) {
			uint64_t port;
			if (!scan_uint(&sc, 65535, &port))
				return bad(err, sc.p, "malformed sent-by port");
			via->port = (uint16_t)port;
			via->has_port = true;
		}
		if (via_params(&sc, a, via, err) < 0)
			return -1;
		via->text = sip_str_make(start, (size_t)(sc.p - start));
		*tail = via;
		tail = &via->next;
	} while (scan_sep(&sc, ','));
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, "unexpected character");
	return 0;
}

bool sip_via_branch_is_rfc3261(const struct sip_via *via)
{
	size_t n = sizeof(SIP_BRANCH_COOKIE) - 1;
	return via->branch.len > n && memcmp(via->branch.s, SIP_BRANCH_COOKIE, n) == 0;
}
