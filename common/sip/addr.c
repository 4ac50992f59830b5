#include "sip/addr.h"

#include <stdio.h>

static int bad(struct sip_error *err, const char *at, const char *what, const char *why)
{
	return sip_fail(err, SIP_FAULT_HEADER_VALUE, at, "%s: %s", what, why);
}

static int parse_uri_in(struct sip_addr *ad, const char *s, const char *e, const char *what,
			struct sip_error *err)
{
	if (sip_uri_parse(&ad->uri, s, (size_t)(e - s), err) < 0) {
		if (!err)
			return -1;
		/* prefix the header name to the URI parser's sentence */
		char why[sizeof(err->detail)];
		memcpy(why, err->detail, sizeof(why));
		snprintf(err->detail, sizeof(err->detail), "%.30s: %.120s", what, why);
		return -1;
	}
	return 0;
}

static int parse_one(struct scan *sc, struct arena *a, struct sip_addr *ad, bool allow_star,
		     const char *what, struct sip_error *err)
{
	const char *start = sc->p;
	int c = scan_peek(sc);
	if (c == '*' && allow_star) {
		struct scan t = *sc;
		t.p++;
		scan_sws(&t);
		if (scan_eof(&t) || *t.p == ',' || *t.p == ';') {
			ad->star = true;
			sc->p++;
			goto params;
		}
	}
	if (c == '"') {
		if (!scan_quoted(sc, &ad->display))
			return bad(err, sc->p, what, "unterminated quoted display name");
		ad->display_quoted = true;
		scan_sws(sc);
		if (scan_peek(sc) != '<')
			return bad(err, sc->p, what, "expected '<' after the display name");
	} else if (c != '<') {
		/* Either *(token LWS) '<' or a bare addr-spec: look ahead. */
		struct scan t = *sc;
		const char *dn_end = NULL;
		while (scan_token(&t, NULL)) {
			dn_end = t.p;
			scan_sws(&t);
		}
		if (dn_end && scan_peek(&t) == '<') {
			ad->display = sip_str_make(sc->p, (size_t)(dn_end - sc->p));
			sc->p = t.p;
		} else if (scan_peek(&t) != ':' && memchr(t.p, '<', (size_t)(t.end - t.p))) {
			return bad(err, t.p, what, "display name holds a character that needs quotes");
		}
	}
	if (scan_peek(sc) == '<') {
		ad->angle = true;
		const char *u = ++sc->p;
		while (sc->p < sc->end && *sc->p != '>')
			sc->p++;
		if (sc->p >= sc->end)
			return bad(err, u - 1, what, "'<' without '>'");
		if (sc->p == u || *u == ' ' || *u == '\t')
			return bad(err, u, what, "whitespace or nothing inside <>");
		if (sc->p[-1] == ' ' || sc->p[-1] == '\t')
			return bad(err, sc->p - 1, what, "whitespace inside <>");
		if (parse_uri_in(ad, u, sc->p, what, err) < 0)
			return -1;
		sc->p++;
	} else {
		/* addr-spec: the URI runs to whitespace, ';' or ','. */
		const char *u = sc->p;
		while (sc->p < sc->end && *sc->p != ';' && *sc->p != ',' && *sc->p != ' ' &&
		       *sc->p != '\t' && *sc->p != '\r')
			sc->p++;
		if (sc->p == u)
			return bad(err, u, what, "missing URI");
		if (memchr(u, '?', (size_t)(sc->p - u)))
			return bad(err, u, what, "a URI with '?' must be enclosed in <>");
		if (parse_uri_in(ad, u, sc->p, what, err) < 0)
			return -1;
		scan_sws(sc);
		if (!scan_eof(sc) && *sc->p != ';' && *sc->p != ',')
			return bad(err, sc->p, what, "unexpected text after the URI (missing <>?)");
	}
params:
	if (scan_params(sc, a, &ad->params, what, err) < 0)
		return -1;
	const struct sip_param *tag = sip_param_find(ad->params, "tag");
	if (tag) {
		if (!sip_str_present(tag->value) || tag->quoted)
			return bad(err, tag->name.s, what, "tag must be a token");
		ad->tag = tag->value;
	}
	ad->text = sip_str_make(start, (size_t)(sc->p - start));
	return 0;
}

int sip_addr_parse(sip_str value, struct arena *a, struct sip_addr **out, bool list,
		   bool allow_star, const char *what, struct sip_error *err)
{
	struct sip_addr **tail = out;
	while (*tail)
		tail = &(*tail)->next;
	struct sip_addr *first = NULL;
	struct scan sc = scan_of(value);
	scan_sws(&sc);
	do {
		struct sip_addr *ad = arena_alloc(a, sizeof(*ad));
		if (!ad)
			return sip_fail(err, SIP_FAULT_NO_MEMORY, sc.p, "%s: out of memory", what);
		if (parse_one(&sc, a, ad, allow_star, what, err) < 0)
			return -1;
		/* Contact: STAR / (contact-param *(COMMA contact-param)) */
		if (first && (ad->star || first->star))
			return bad(err, ad->text.s, what, "'*' must be the only Contact value");
		if (!first)
			first = ad;
		*tail = ad;
		tail = &ad->next;
	} while (list && scan_sep(&sc, ','));
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, what, list ? "unexpected character" : "only one address allowed");
	return 0;
}
