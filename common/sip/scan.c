#include "sip/scan.h"

#define A (CC_ALNUM | CC_TOKEN | CC_UNRES | CC_USER | CC_PASSWD | CC_PARAM | CC_HNV | CC_HOST | CC_WORD | CC_URIC)
#define D (A | CC_DIGIT | CC_HEX | CC_TELSUB)
#define H (A | CC_HEX | CC_TELSUB)
/* mark = - _ . ! ~ * ' ( ) */
#define MARK (CC_UNRES | CC_USER | CC_PASSWD | CC_PARAM | CC_HNV | CC_URIC)

const uint16_t sip_cc[256] = {
	['0'] = D, ['1'] = D, ['2'] = D, ['3'] = D, ['4'] = D,
	['5'] = D, ['6'] = D, ['7'] = D, ['8'] = D, ['9'] = D,
	['a'] = H, ['b'] = H, ['c'] = H, ['d'] = H, ['e'] = H, ['f'] = H,
	['A'] = H, ['B'] = H, ['C'] = H, ['D'] = H, ['E'] = H, ['F'] = H,
	['g'] = A, ['h'] = A, ['i'] = A, ['j'] = A, ['k'] = A, ['l'] = A, ['m'] = A,
	['n'] = A, ['o'] = A, ['p'] = A, ['q'] = A, ['r'] = A, ['s'] = A, ['t'] = A,
	['u'] = A, ['v'] = A, ['w'] = A, ['x'] = A, ['y'] = A, ['z'] = A,
	['G'] = A, ['H'] = A, ['I'] = A, ['J'] = A, ['K'] = A, ['L'] = A, ['M'] = A,
	['N'] = A, ['O'] = A, ['P'] = A, ['Q'] = A, ['R'] = A, ['S'] = A, ['T'] = A,
	['U'] = A, ['V'] = A, ['W'] = A, ['X'] = A, ['Y'] = A, ['Z'] = A,
	['-'] = MARK | CC_TOKEN | CC_HOST | CC_WORD | CC_TELSUB,
	['_'] = MARK | CC_TOKEN | CC_HOST | CC_WORD,
	['.'] = MARK | CC_TOKEN | CC_HOST | CC_WORD | CC_TELSUB,
	['!'] = MARK | CC_TOKEN | CC_WORD,
	['~'] = MARK | CC_TOKEN | CC_WORD,
	['*'] = MARK | CC_TOKEN | CC_WORD | CC_TELSUB,
	['\''] = MARK | CC_TOKEN | CC_WORD,
	['('] = MARK | CC_WORD | CC_TELSUB,
	[')'] = MARK | CC_WORD | CC_TELSUB,
	['%'] = CC_TOKEN | CC_WORD | CC_USER | CC_PASSWD | CC_PARAM | CC_HNV | CC_URIC,
	['+'] = CC_TOKEN | CC_WORD | CC_USER | CC_PASSWD | CC_PARAM | CC_HNV | CC_URIC | CC_TELSUB,
	['`'] = CC_TOKEN | CC_WORD,
	['&'] = CC_USER | CC_PASSWD | CC_PARAM | CC_URIC,
	['='] = CC_USER | CC_PASSWD | CC_URIC,
	['$'] = CC_USER | CC_PASSWD | CC_PARAM | CC_HNV | CC_URIC,
	[','] = CC_USER | CC_PASSWD | CC_URIC,
	[';'] = CC_USER | CC_URIC,
	['?'] = CC_USER | CC_HNV | CC_WORD | CC_URIC,
	['/'] = CC_USER | CC_PARAM | CC_HNV | CC_WORD | CC_URIC,
	[':'] = CC_PARAM | CC_HNV | CC_WORD | CC_URIC,
	['['] = CC_PARAM | CC_HNV | CC_WORD,
	[']'] = CC_PARAM | CC_HNV | CC_WORD,
	['@'] = CC_URIC,
	['<'] = CC_WORD, ['>'] = CC_WORD, ['"'] = CC_WORD, ['\\'] = CC_WORD,
	['{'] = CC_WORD, ['}'] = CC_WORD,
	['#'] = CC_TELSUB,
};

bool scan_sws(struct scan *sc)
{
	const char *start = sc->p;
	for (;;) {
		while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t'))
			sc->p++;
		/* A line break inside a header value is always a fold: the
		 * header splitter ends a value at a break not followed by WSP. */
		if (sc->end - sc->p >= 3 && sc->p[0] == '\r' && sc->p[1] == '\n' &&
		    (sc->p[2] == ' ' || sc->p[2] == '\t')) {
			sc->p += 3;
			continue;
		}
		break;
	}
	return sc->p != start;
}

bool scan_sep(struct scan *sc, char c)
{
	const char *save = sc->p;
	scan_sws(sc);
	if (sc->p < sc->end && *sc->p == c) {
		sc->p++;
		scan_sws(sc);
		return true;
	}
	sc->p = save;
	return false;
}

bool scan_span(struct scan *sc, unsigned cls, sip_str *out)
{
	const char *s = sc->p;
	while (sc->p < sc->end && cc_is((unsigned char)*sc->p, cls))
		sc->p++;
	if (sc->p == s)
		return false;
	if (out)
		*out = sip_str_make(s, (size_t)(sc->p - s));
	return true;
}

bool scan_quoted(struct scan *sc, sip_str *out)
{
	if (sc->p >= sc->end || *sc->p != '"')
		return false;
	const char *q = sc->p + 1;
	while (q < sc->end) {
		unsigned char c = (unsigned char)*q;
		if (c == '"') {
			if (out)
				*out = sip_str_make(sc->p + 1, (size_t)(q - sc->p - 1));
			sc->p = q + 1;
			return true;
		}
		if (c == '\\') {
			/* quoted-pair: any octet but CR and LF may be escaped */
			if (q + 1 >= sc->end || q[1] == '\r' || q[1] == '\n' ||
			    (unsigned char)q[1] > 0x7f)
				return false;
			q += 2;
			continue;
		}
		if (c == '\r') {
			/* only a fold may break a quoted string's line */
			if (sc->end - q >= 3 && q[1] == '\n' && (q[2] == ' ' || q[2] == '\t')) {
				q += 3;
				continue;
			}
			return false;
		}
		if (c < 0x20 && c != '\t')
			return false;
		if (c == 0x7f)
			return false;
		q++;
	}
	return false;
}

bool scan_uint(struct scan *sc, uint64_t max, uint64_t *out)
{
	const char *q = sc->p;
	uint64_t v = 0;
	while (q < sc->end && *q >= '0' && *q <= '9') {
		uint64_t d = (uint64_t)(*q - '0');
		/* checked before multiplying: with max near 2^64, v * 10 would wrap */
		if (d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
		q++;
	}
	if (q == sc->p)
		return false;
	sc->p = q;
	*out = v;
	return true;
}

bool scan_ipv6_ref(struct scan *sc, sip_str *out)
{
	if (sc->p >= sc->end || *sc->p != '[')
		return false;
	const char *q = sc->p + 1;
	int colons = 0, chars = 0;
	while (q < sc->end && *q != ']') {
		unsigned char c = (unsigned char)*q;
		if (c == ':')
			colons++;
		else if (!cc_is(c, CC_HEX) && c != '.')
			return false;
		if (++chars > 64)
			return false;
		q++;
	}
	if (q >= sc->end || colons < 2)
		return false;
	*out = sip_str_make(sc->p, (size_t)(q + 1 - sc->p));
	sc->p = q + 1;
	return true;
}

bool scan_host(struct scan *sc, sip_str *out)
{
	if (scan_peek(sc) == '[')
		return scan_ipv6_ref(sc, out);
	const char *s = sc->p;
	if (!scan_span(sc, CC_HOST, out))
		return false;
	/* a host name neither starts nor ends with '-' */
	if (*s == '-' || sc->p[-1] == '-') {
		sc->p = s;
		return false;
	}
	return true;
}

int scan_params(struct scan *sc, struct arena *a, struct sip_param **list,
		const char *what, struct sip_error *err)
{
	struct sip_param **tail = list;
	while (*tail)
		tail = &(*tail)->next;
	while (scan_sep(sc, ';')) {
		struct sip_param *prm = arena_alloc(a, sizeof(*prm));
		if (!prm)
			return sip_fail(err, SIP_FAULT_NO_MEMORY, sc->p, "%s: out of memory", what);
		if (!scan_token(sc, &prm->name))
			return sip_fail(err, SIP_FAULT_HEADER_VALUE, sc->p,
					"%s: empty or malformed parameter", what);
		if (scan_sep(sc, '=')) {
			if (scan_peek(sc) == '"') {
				if (!scan_quoted(sc, &prm->value))
					return sip_fail(err, SIP_FAULT_HEADER_VALUE, sc->p,
							"%s: unterminated quoted parameter value", what);
				prm->quoted = true;
			} else if (scan_peek(sc) == '[') {
				if (!scan_ipv6_ref(sc, &prm->value))
					return sip_fail(err, SIP_FAULT_HEADER_VALUE, sc->p,
							"%s: bad IPv6 reference in parameter", what);
			} else if (!scan_token(sc, &prm->value)) {
				return sip_fail(err, SIP_FAULT_HEADER_VALUE, sc->p,
						"%s: parameter '%.*s' has an empty value", what,
						(int)prm->name.len, prm->name.s);
			}
		}
		*tail = prm;
		tail = &prm->next;
	}
	return 0;
}

const struct sip_param *sip_param_find(const struct sip_param *list, const char *name)
{
	for (; list; list = list->next)
		if (sip_str_caseeq_lit(list->name, name))
			return list;
	return NULL;
}
