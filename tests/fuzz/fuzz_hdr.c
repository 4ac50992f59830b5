/*
 * libFuzzer target: the small header parsers of common/sip/hdr.h.
 *
 * The first input byte picks the parser, the rest is the header value.
 * Letters name them (c CSeq, m Max-Forwards, e Expires, i Call-ID, d Date,
 * t token list, M media type, a Accept media list, w Warning, r
 * Retry-After, n header-name lookup); any other byte picks one by its
 * value. List parsers run twice: with an arena that may grow and with one
 * that may not. Properties (__builtin_trap when broken):
 *
 *  - a failure names a fault; running out of memory is NO_MEMORY, never
 *    another fault, never ignored;
 *  - numbers stay within their maximum; clamping only changes what would
 *    otherwise be too large;
 *  - a name lookup finds a header only by its long or compact name;
 *  - every slice lies inside the value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/hdr.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const char selectors[] = "cmeidtMawrn";

static void inside(sip_str s, sip_str in)
{
	CHECK(!s.s || (s.s >= in.s && s.s + s.len <= in.s + in.len));
}

static void params_inside(const struct sip_param *p, sip_str in)
{
	for (; p; p = p->next) {
		inside(p->name, in);
		inside(p->value, in);
	}
}

/* A parser that allocates: runs it with a free and with a capped arena. */
static void with_arenas(sip_str v, char sel)
{
	struct arena *a = malloc(sizeof(*a));
	CHECK(a);
	int first = 0;
	struct sip_error first_err = {0};
	for (int capped = 0; capped < 2; capped++) {
		arena_init(a, capped ? 1 : 0);
		struct sip_error err = {.base = v.s};
		struct sip_list_item *items = NULL;
		struct sip_warning *warn = NULL;
		struct sip_retry_after ra;
		memset(&ra, 0, sizeof(ra));
		int r;
		switch (sel) {
		case 't':
			r = sip_parse_token_list(v, a, &items, "Supported", &err);
			break;
		case 'M':
			r = sip_parse_media(v, a, &items, false, "Content-Type", &err);
			break;
		case 'a':
			r = sip_parse_media(v, a, &items, true, "Accept", &err);
			break;
		case 'w':
			r = sip_parse_warning(v, a, &warn, &err);
			break;
		default:
			r = sip_parse_retry_after(v, a, &ra, &err);
			break;
		}
		CHECK(r == 0 || err.fault != SIP_FAULT_NONE);
		if (r == 0 && !capped) {
			for (const struct sip_list_item *it = items; it; it = it->next) {
				inside(it->value, v);
				inside(it->type, v);
				inside(it->subtype, v);
				params_inside(it->params, v);
				CHECK(it->value.len > 0);
				if (sel != 't')
					CHECK(it->type.len > 0 && it->subtype.len > 0);
			}
			for (const struct sip_warning *w = warn; w; w = w->next) {
				CHECK(w->code <= 999);
				inside(w->agent, v);
				inside(w->text, v);
			}
			inside(ra.comment, v);
			params_inside(ra.params, v);
		}
		if (!capped) {
			first = r;
			first_err = err;
		} else if (r == 0) {
			CHECK(first == 0);
		} else if (err.fault != SIP_FAULT_NO_MEMORY) {
			CHECK(first < 0 && err.fault == first_err.fault &&
			      err.offset == first_err.offset);
		}
		arena_free(a);
	}
	free(a);
}

static void uints(sip_str v, uint32_t max)
{
	uint32_t strict = 0, clamped = 0;
	int rs = sip_parse_uint_value(v, max, false, "Max-Forwards", &strict, NULL);
	int rc = sip_parse_uint_value(v, max, true, "Expires", &clamped, NULL);
	CHECK(rs < 0 || strict <= max);
	CHECK(rc < 0 || clamped <= max);
	if (rs == 0)
		CHECK(rc == 0 && clamped == strict);
	else if (rc == 0)
		CHECK(clamped == max);
}

static void lookup(sip_str v)
{
	enum sip_hdr_type t = sip_hdr_lookup(v.s, v.len);
	CHECK((unsigned)t < SIP_HDR_COUNT);
	if (t == SIP_HDR_OTHER)
		return;
	const struct sip_hdr_info *info = &sip_hdr_info[t];
	if (v.len == 1)
		CHECK(info->compact && (v.s[0] | 0x20) == info->compact);
	else
		CHECK(sip_str_caseeq_lit(v, info->name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *pick = data[0] ? strchr(selectors, data[0]) : NULL;
	char sel = pick ? *pick : selectors[data[0] % (sizeof(selectors) - 1)];
	/* an exactly sized copy, so that reading past the value is caught */
	size_t len = size - 1;
	char *buf = malloc(len ? len : 1);
	CHECK(buf);
	if (len)
		memcpy(buf, data + 1, len);
	sip_str v = sip_str_make(buf, len);

	switch (sel) {
	case 'c': {
		struct sip_cseq cs;
		memset(&cs, 0, sizeof(cs));
		struct sip_error err = {.base = buf};
		if (sip_parse_cseq(v, &cs, &err) == 0) {
			inside(cs.method, v);
			CHECK(cs.method.len > 0);
		} else {
			CHECK(err.fault == SIP_FAULT_HEADER_VALUE);
		}
		break;
	}
	case 'm':
		uints(v, 255);
		break;
	case 'e':
		uints(v, UINT32_MAX);
		break;
	case 'i': {
		struct sip_error err = {0};
		CHECK(sip_parse_call_id(v, &err) == 0 || err.fault == SIP_FAULT_HEADER_VALUE);
		break;
	}
	case 'd': {
		int64_t t = 0;
		struct sip_error err = {0};
		if (sip_parse_date(v, &t, &err) == 0) /* years 0000-9999 */
			CHECK(t >= -62167219200 - 86400 * 62 && t <= 253402300799 + 86400 * 62);
		else
			CHECK(err.fault == SIP_FAULT_HEADER_VALUE);
		break;
	}
	case 'n':
		lookup(v);
		break;
	default:
		with_arenas(v, sel);
		break;
	}
	free(buf);
	return 0;
}
