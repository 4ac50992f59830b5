/*
 * libFuzzer target: address headers (sip_addr_parse, common/sip/addr.h).
 *
 * The input is one header value, parsed as From/To (exactly one
 * name-addr or addr-spec) and as Contact (a comma list, '*' allowed), each
 * also with an arena that may not grow. Properties (__builtin_trap when
 * broken):
 *
 *  - a failure names a fault; running out of memory is NO_MEMORY, never
 *    another fault, never ignored;
 *  - what parses as one address parses as a list of exactly that one;
 *  - every entry of a list is, on its own, a valid single value, and its
 *    URI text parses again on its own;
 *  - every slice lies inside the value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/addr.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void inside(sip_str s, const char *buf, size_t len)
{
	CHECK(!s.s || (s.s >= buf && s.s + s.len <= buf + len));
}

static unsigned walk(const struct sip_addr *list, const char *buf, size_t len)
{
	unsigned n = 0;
	for (const struct sip_addr *ad = list; ad; ad = ad->next, n++) {
		inside(ad->text, buf, len);
		inside(ad->display, buf, len);
		inside(ad->tag, buf, len);
		for (const struct sip_param *p = ad->params; p; p = p->next) {
			inside(p->name, buf, len);
			inside(p->value, buf, len);
		}
		if (ad->star)
			continue;
		inside(ad->uri.raw, buf, len);
		struct sip_uri u;
		CHECK(sip_uri_parse(&u, ad->uri.raw.s, ad->uri.raw.len, NULL) == 0);
		/* an entry cut out of the list is a value of its own */
		struct arena *a = malloc(sizeof(*a));
		CHECK(a);
		arena_init(a, 0);
		struct sip_addr *alone = NULL;
		CHECK(sip_addr_parse(ad->text, a, &alone, false, true, "Contact", NULL) == 0);
		CHECK(alone && !alone->next && alone->uri.raw.s == ad->uri.raw.s);
		arena_free(a);
		free(a);
	}
	return n;
}

/* Parses value with a free and with a capped arena; returns the number of
 * entries, or -1 when the value does not parse. */
static int parse(sip_str value, bool list, const char *what)
{
	struct arena *a = malloc(sizeof(*a));
	CHECK(a);
	arena_init(a, 0);
	struct sip_addr *out = NULL;
	struct sip_error err = {.base = value.s};
	int r = sip_addr_parse(value, a, &out, list, list, what, &err);
	CHECK(r == 0 || err.fault != SIP_FAULT_NONE);
	int n = r == 0 ? (int)walk(out, value.s, value.len) : -1;
	CHECK(r < 0 || n >= 1);
	CHECK(list || r < 0 || n == 1);
	const char *raw = r == 0 && !out->star ? out->uri.raw.s : NULL;
	arena_free(a);

	arena_init(a, 1);
	struct sip_addr *capped = NULL;
	struct sip_error cerr = {.base = value.s};
	int rc = sip_addr_parse(value, a, &capped, list, list, what, &cerr);
	if (rc == 0)
		CHECK(r == 0 && capped && (capped->star || capped->uri.raw.s == raw));
	else if (cerr.fault != SIP_FAULT_NO_MEMORY)
		CHECK(r < 0 && cerr.fault == err.fault && cerr.offset == err.offset);
	arena_free(a);
	free(a);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	CHECK(buf);
	if (size)
		memcpy(buf, data, size);
	sip_str value = sip_str_make(buf, size);
	int single = parse(value, false, "From");
	int list = parse(value, true, "Contact");
	if (single >= 0)
		CHECK(list == 1);
	free(buf);
	return 0;
}
