/*
 * libFuzzer target: multipart bodies (sip_multipart_parse,
 * common/sip/multipart.h).
 *
 * Input: the first line is the boundary (a CR before its LF is dropped),
 * the rest is the body. Properties (__builtin_trap when broken):
 *
 *  - the count returned is the length of the part list;
 *  - parts lie inside the body, in order, without overlapping;
 *  - each part's Content-Type lies inside its headers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/multipart.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void inside(sip_str s, const char *buf, size_t len)
{
	CHECK(!s.s || (s.s >= buf && s.s + s.len <= buf + len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *lf = size ? memchr(s, '\n', size) : NULL;
	if (!lf)
		return 0;
	size_t blen = (size_t)(lf - s);
	if (blen && s[blen - 1] == '\r')
		blen--;
	size_t off = (size_t)(lf + 1 - s), len = size - off;
	/* exactly sized copies, so that reads past either are caught */
	char *boundary = malloc(blen ? blen : 1), *body = malloc(len ? len : 1);
	CHECK(boundary && body);
	if (blen)
		memcpy(boundary, s, blen);
	if (len)
		memcpy(body, s + off, len);

	struct arena *a = malloc(sizeof(*a));
	CHECK(a);
	arena_init(a, 0);
	struct sip_part *parts = NULL;
	struct sip_error err = {.base = body};
	int n = sip_multipart_parse(sip_str_make(body, len), sip_str_make(boundary, blen), a, &parts,
				    &err);
	CHECK(n >= 0 || err.fault != SIP_FAULT_NONE);
	if (n >= 0) {
		const char *prev_end = body;
		for (const struct sip_part *p = parts; p; p = p->next) {
			inside(p->headers, body, len);
			inside(p->body, body, len);
			inside(p->content_type, p->headers.s, p->headers.len);
			CHECK(p->headers.s >= prev_end && p->body.s >= p->headers.s + p->headers.len);
			prev_end = p->body.s + p->body.len;
			n--;
		}
		CHECK(n == 0);
	}
	arena_free(a);
	free(a);
	free(boundary);
	free(body);
	return 0;
}
