#include "sip/hdr.h"

#include <ctype.h>

#define U32MAX 4294967295u

const struct sip_hdr_info sip_hdr_info[SIP_HDR_COUNT] = {
	[SIP_HDR_OTHER] = {"", 0, SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_ACCEPT] = {"Accept", 0, SIP_KIND_MEDIA_LIST, false, 0},
	[SIP_HDR_ACCEPT_ENCODING] = {"Accept-Encoding", 0, SIP_KIND_TOKEN_LIST, false, 0},
	[SIP_HDR_ACCEPT_LANGUAGE] = {"Accept-Language", 0, SIP_KIND_TOKEN_LIST, false, 0},
	[SIP_HDR_ALERT_INFO] = {"Alert-Info", 0, SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_ALLOW] = {"Allow", 0, SIP_KIND_TOKEN_LIST, false, 0},
	[SIP_HDR_ALLOW_EVENTS] = {"Allow-Events", 'u', SIP_KIND_TOKEN_LIST, false, 0},
	[SIP_HDR_AUTHENTICATION_INFO] = {"Authentication-Info", 0, SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_AUTHORIZATION] = {"Authorization", 0, SIP_KIND_CREDENTIALS, false, 0},
	[SIP_HDR_CALL_ID] = {"Call-ID", 'i', SIP_KIND_CALL_ID, true, 0},
	[SIP_HDR_CALL_INFO] = {"Call-Info", 0, SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_CONTACT] = {"Contact", 'm', SIP_KIND_ADDR_LIST, false, 0},
	[SIP_HDR_CONTENT_DISPOSITION] = {"Content-Disposition", 0, SIP_KIND_TOKEN_LIST, true, 0},
	[SIP_HDR_CONTENT_ENCODING] = {"Content-Encoding", 'e', SIP_KIND_TOKEN_LIST, false, 0},
	[SIP_HDR_CONTENT_LANGUAGE] = {"Content-Language", 0, SIP_KIND_TOKEN_LIST, false, 0},
	[SIP_HDR_CONTENT_LENGTH] = {"Content-Length", 'l', SIP_KIND_UINT, true, U32MAX},
	[SIP_HDR_CONTENT_TYPE] = {"Content-Type", 'c', SIP_KIND_MEDIA, true, 0},
	[SIP_HDR_CSEQ] = {"CSeq", 0, SIP_KIND_CSEQ, true, 0},
	[SIP_HDR_DATE] = {"Date", 0, SIP_KIND_DATE, true, 0},
	[SIP_HDR_ERROR_INFO] = {"Error-Info", 0, SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_EVENT] = {"Event", 'o', SIP_KIND_TOKEN_LIST, true, 0},
	[SIP_HDR_EXPIRES] = {"Expires", 0, SIP_KIND_UINT, true, U32MAX},
	[SIP_HDR_FROM] = {"From", 'f', SIP_KIND_ADDR, true, 0},
	[SIP_HDR_IN_REPLY_TO] = {"In-Reply-To", 0, SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_MAX_FORWARDS] = {"Max-Forwards", 0, SIP_KIND_UINT, true, 255},
	[SIP_HDR_MIME_VERSION] = {"MIME-Version", 0, SIP_KIND_OPAQUE, true, 0},
	[SIP_HDR_MIN_EXPIRES] = {"Min-Expires", 0, SIP_KIND_UINT, true, U32MAX},
	[SIP_HDR_ORGANIZATION] = {"Organization", 0, SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_PATH] = {"Path", 0, SIP_KIND_ADDR_LIST, false, 0},
	[SIP_HDR_PRIORITY] = {"Priority", 0, SIP_KIND_OPAQUE, true, 0},
	[SIP_HDR_PRIVACY] = {"Privacy", 0, SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_PROXY_AUTHENTICATE] = {"Proxy-Authenticate", 0, SIP_KIND_CHALLENGE, false, 0},
	[SIP_HDR_PROXY_AUTHORIZATION] = {"Proxy-Authorization", 0, SIP_KIND_CREDENTIALS, false, 0},
	[SIP_HDR_PROXY_REQUIRE] = {"Proxy-Require", 0, SIP_KIND_TOKEN_LIST, false, 0},
	[SIP_HDR_P_ASSERTED_IDENTITY] = {"P-Asserted-Identity", 0, SIP_KIND_ADDR_LIST, false, 0},
	[SIP_HDR_RACK] = {"RAck", 0, SIP_KIND_OPAQUE, true, 0},
	[SIP_HDR_RECORD_ROUTE] = {"Record-Route", 0, SIP_KIND_ADDR_LIST, false, 0},
	[SIP_HDR_REFER_TO] = {"Refer-To", 'r', SIP_KIND_ADDR, true, 0},
	[SIP_HDR_REFERRED_BY] = {"Referred-By", 'b', SIP_KIND_ADDR, true, 0},
	[SIP_HDR_REPLY_TO] = {"Reply-To", 0, SIP_KIND_ADDR, true, 0},
	[SIP_HDR_REQUIRE] = {"Require", 0, SIP_KIND_TOKEN_LIST, false, 0},
	[SIP_HDR_RETRY_AFTER] = {"Retry-After", 0, SIP_KIND_RETRY_AFTER, true, 0},
	[SIP_HDR_ROUTE] = {"Route", 0, SIP_KIND_ADDR_LIST, false, 0},
	[SIP_HDR_RSEQ] = {"RSeq", 0, SIP_KIND_UINT, true, U32MAX},
	[SIP_HDR_SERVER] = {"Server", 0, SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_SESSION_EXPIRES] = {"Session-Expires", 'x', SIP_KIND_OPAQUE, true, 0},
	[SIP_HDR_SUBJECT] = {"Subject", 's', SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_SUBSCRIPTION_STATE] = {"Subscription-State", 0, SIP_KIND_TOKEN_LIST, true, 0},
	[SIP_HDR_SUPPORTED] = {"Supported", 'k', SIP_KIND_TOKEN_LIST, false, 0},
	[SIP_HDR_TIMESTAMP] = {"Timestamp", 0, SIP_KIND_OPAQUE, true, 0},
	[SIP_HDR_TO] = {"To", 't', SIP_KIND_ADDR, true, 0},
	[SIP_HDR_UNSUPPORTED] = {"Unsupported", 0, SIP_KIND_TOKEN_LIST, false, 0},
	[SIP_HDR_USER_AGENT] = {"User-Agent", 0, SIP_KIND_OPAQUE, false, 0},
	[SIP_HDR_VIA] = {"Via", 'v', SIP_KIND_VIA, false, 0},
	[SIP_HDR_WARNING] = {"Warning", 0, SIP_KIND_WARNING, false, 0},
	[SIP_HDR_WWW_AUTHENTICATE] = {"WWW-Authenticate", 0, SIP_KIND_CHALLENGE, false, 0},
};

/* Name lookup: an open-addressing table over a case-folded hash, filled
 * once at start-up, so a lookup is one hash and usually one compare. */
#define NAME_SLOTS 256
static uint8_t name_slot[NAME_SLOTS];   /* header type + 1, 0 = empty */
static uint8_t compact_type[128];       /* compact letter -> header type */

static unsigned name_hash(const char *s, size_t len)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned)((unsigned char)s[i] | 0x20)) * 16777619u;
	return h;
}

__attribute__((constructor)) static void build_name_table(void)
{
	for (int t = 1; t < SIP_HDR_COUNT; t++) {
		const char *n = sip_hdr_info[t].name;
		unsigned i = name_hash(n, strlen(n)) % NAME_SLOTS;
		while (name_slot[i])
			i = (i + 1) % NAME_SLOTS;
		name_slot[i] = (uint8_t)(t + 1);
		char c = sip_hdr_info[t].compact;
		if (c) {
			compact_type[(unsigned char)c] = (uint8_t)t;
			compact_type[(unsigned char)toupper((unsigned char)c)] = (uint8_t)t;
		}
	}
}

enum sip_hdr_type sip_hdr_lookup(const char *name, size_t len)
{
	if (len == 1)
		return (unsigned char)name[0] < 128 ? (enum sip_hdr_type)compact_type[(unsigned char)name[0]]
						    : SIP_HDR_OTHER;
	unsigned i = name_hash(name, len) % NAME_SLOTS;
	while (name_slot[i]) {
		const char *n = sip_hdr_info[name_slot[i] - 1].name;
		if (strlen(n) == len && strncasecmp(n, name, len) == 0)
			return (enum sip_hdr_type)(name_slot[i] - 1);
		i = (i + 1) % NAME_SLOTS;
	}
	return SIP_HDR_OTHER;
}

static int bad(struct sip_error *err, const char *at, const char *what, const char *why)
{
	return sip_fail(err, SIP_FAULT_HEADER_VALUE, at, "%s: %s", what, why);
}

int sip_parse_cseq(sip_str v, struct sip_cseq *out, struct sip_error *err)
{
	struct scan sc = scan_of(v);
	uint64_t seq;
	scan_sws(&sc);
	if (!scan_uint(&sc, U32MAX, &seq))
		return bad(err, sc.p, "CSeq", "sequence number missing or larger than 2^32-1");
	if (!scan_sws(&sc) || !scan_token(&sc, &out->method))
		return bad(err, sc.p, "CSeq", "missing method");
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, "CSeq", "unexpected text after the method");
	out->seq = (uint32_t)seq;
	return 0;
}

int sip_parse_uint_value(sip_str v, uint32_t max, bool clamp, const char *what,
			 uint32_t *out, struct sip_error *err)
{
	if (!v.s) /* a parameter without a value (";expires") */
		return sip_fail(err, SIP_FAULT_HEADER_VALUE, NULL, "%s: no value", what);
	struct scan sc = scan_of(v);
	scan_sws(&sc);
	const char *digits = sc.p;
	uint64_t val = 0;
	bool any = false, over = false;
	while (!scan_eof(&sc) && *sc.p >= '0' && *sc.p <= '9') {
		if (!over) {
			val = val * 10 + (uint64_t)(*sc.p - '0');
			over = val > max;
		}
		any = true;
		sc.p++;
	}
	if (!any)
		return bad(err, digits, what, "not a number");
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, what, "unexpected text after the number");
	if (over) {
		if (!clamp)
			return sip_fail(err, SIP_FAULT_HEADER_VALUE, digits, "%s: value larger than %u",
					what, max);
		val = max;
	}
	*out = (uint32_t)val;
	return 0;
}

int sip_parse_call_id(sip_str v, struct sip_error *err)
{
	/* callid = word [ "@" word ] */
	struct scan sc = scan_of(v);
	scan_sws(&sc);
	if (!scan_span(&sc, CC_WORD, NULL))
		return bad(err, sc.p, "Call-ID", "empty or malformed");
	if (scan_peek(&sc) == '@') {
		sc.p++;
		if (!scan_span(&sc, CC_WORD, NULL))
			return bad(err, sc.p, "Call-ID", "empty host part after '@'");
	}
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, "Call-ID", "invalid character");
	return 0;
}

static bool fixed_digits(struct scan *sc, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (scan_eof(sc) || *sc->p < '0' || *sc->p > '9')
			return false;
		v = v * 10 + (*sc->p++ - '0');
	}
	*out = v;
	return true;
}

static bool literal(struct scan *sc, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(sc->end - sc->p) < n || strncmp(sc->p, lit, n) != 0)
		return false;
	sc->p += n;
	return true;
}

static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int sip_parse_date(sip_str v, int64_t *out, struct sip_error *err)
{
	static const char *const wkdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct scan sc = scan_of(v);
	scan_sws(&sc);
	bool ok = false;
	for (int i = 0; i < 7 && !ok; i++)
		ok = literal(&sc, wkdays[i]);
	if (!ok || !literal(&sc, ", "))
		return bad(err, sc.p, "Date", "expected a weekday and ', '");
	int day, mon = -1, year, hh, mm, ss;
	const char *dp = sc.p;
	if (!fixed_digits(&sc, 2, &day) || !literal(&sc, " "))
		return bad(err, sc.p, "Date", "expected a two-digit day");
	for (int i = 0; i < 12 && mon < 0; i++)
		if (literal(&sc, months[i]))
			mon = i + 1;
	if (mon < 0 || !literal(&sc, " ") || !fixed_digits(&sc, 4, &year) || !literal(&sc, " "))
		return bad(err, sc.p, "Date", "expected month and four-digit year");
	const char *tp = sc.p;
	if (!fixed_digits(&sc, 2, &hh) || !literal(&sc, ":") || !fixed_digits(&sc, 2, &mm) ||
	    !literal(&sc, ":") || !fixed_digits(&sc, 2, &ss) || !literal(&sc, " "))
		return bad(err, sc.p, "Date", "expected hh:mm:ss");
	if (!literal(&sc, "GMT"))
		return bad(err, sc.p, "Date", "time zone must be GMT");
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, "Date", "unexpected text after GMT");
	/* point at the field that is out of range */
	if (day < 1 || day > 31)
		return bad(err, dp, "Date", "day out of range");
	if (hh > 23 || mm > 59 || ss > 60)
		return bad(err, tp + (hh > 23 ? 0 : mm > 59 ? 3 : 6), "Date", "time out of range");
	*out = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
	return 0;
}

int sip_parse_token_list(sip_str v, struct arena *a, struct sip_list_item **out,
			 const char *what, struct sip_error *err)
{
	struct scan sc = scan_of(v);
	struct sip_list_item **tail = out;
	scan_sws(&sc);
	if (scan_eof(&sc))
		return 0; /* Allow:, Supported: and friends may be empty */
	do {
		struct sip_list_item *it = arena_alloc(a, sizeof(*it));
		if (!it)
			return sip_fail(err, SIP_FAULT_NO_MEMORY, sc.p, "%s: out of memory", what);
		if (!scan_token(&sc, &it->value))
			return bad(err, sc.p, what, "expected a token");
		if (scan_params(&sc, a, &it->params, what, err) < 0)
			return -1;
		*tail = it;
		tail = &it->next;
	} while (scan_sep(&sc, ','));
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, what, "unexpected character in list");
	return 0;
}

int sip_parse_media(sip_str v, struct arena *a, struct sip_list_item **out, bool list,
		    const char *what, struct sip_error *err)
{
	struct scan sc = scan_of(v);
	struct sip_list_item **tail = out;
	scan_sws(&sc);
	if (scan_eof(&sc) && list)
		return 0; /* an empty Accept means: no body is acceptable */
	do {
		struct sip_list_item *it = arena_alloc(a, sizeof(*it));
		if (!it)
			return sip_fail(err, SIP_FAULT_NO_MEMORY, sc.p, "%s: out of memory", what);
		const char *s = sc.p;
		if (!scan_token(&sc, &it->type) || !scan_sep(&sc, '/') || !scan_token(&sc, &it->subtype))
			return bad(err, sc.p, what, "expected type/subtype");
		it->value = sip_str_make(s, (size_t)(sc.p - s));
		if (scan_params(&sc, a, &it->params, what, err) < 0)
			return -1;
		*tail = it;
		tail = &it->next;
	} while (list && scan_sep(&sc, ','));
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, what, "unexpected character");
	return 0;
}

int sip_parse_warning(sip_str v, struct arena *a, struct sip_warning **out, struct sip_error *err)
{
	struct scan sc = scan_of(v);
	struct sip_warning **tail = out;
	scan_sws(&sc);
	do {
		struct sip_warning *w = arena_alloc(a, sizeof(*w));
		if (!w)
			return sip_fail(err, SIP_FAULT_NO_MEMORY, sc.p, "Warning: out of memory");
		int code;
		if (!fixed_digits(&sc, 3, &code) || (scan_peek(&sc) >= '0' && scan_peek(&sc) <= '9'))
			return bad(err, sc.p, "Warning", "warn-code must be three digits");
		w->code = (unsigned)code;
		if (!literal(&sc, " "))
			return bad(err, sc.p, "Warning", "expected SP after the code");
		/* warn-agent = hostport / pseudonym */
		const char *ag = sc.p;
		while (!scan_eof(&sc) && *sc.p != ' ' && *sc.p != '"')
			sc.p++;
		if (sc.p == ag || !literal(&sc, " "))
			return bad(err, sc.p, "Warning", "expected a warn-agent");
		w->agent = sip_str_make(ag, (size_t)(sc.p - 1 - ag));
		if (!scan_quoted(&sc, &w->text))
			return bad(err, sc.p, "Warning", "warn-text must be a quoted string");
		*tail = w;
		tail = &w->next;
	} while (scan_sep(&sc, ','));
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, "Warning", "unexpected character");
	return 0;
}

int sip_parse_retry_after(sip_str v, struct arena *a, struct sip_retry_after *out,
			  struct sip_error *err)
{
	struct scan sc = scan_of(v);
	uint64_t secs;
	scan_sws(&sc);
	if (!scan_uint(&sc, U32MAX, &secs))
		return bad(err, sc.p, "Retry-After", "delta-seconds missing or larger than 2^32-1");
	out->seconds = (uint32_t)secs;
	scan_sws(&sc);
	if (scan_peek(&sc) == '(') {
		/* comment, with nesting */
		const char *s = sc.p;
		int depth = 0;
		do {
			if (*sc.p == '\\' && sc.p + 1 < sc.end)
				sc.p++;
			else if (*sc.p == '(')
				depth++;
			else if (*sc.p == ')')
				depth--;
			sc.p++;
		} while (depth > 0 && !scan_eof(&sc));
		if (depth)
			return bad(err, s, "Retry-After", "unterminated comment");
		out->comment = sip_str_make(s, (size_t)(sc.p - s));
	}
	if (scan_params(&sc, a, &out->params, "Retry-After", err) < 0)
		return -1;
	scan_sws(&sc);
	if (!scan_eof(&sc))
		return bad(err, sc.p, "Retry-After", "unexpected character");
	return 0;
}
