#include "sip/multipart.h"

#include "sip/hdr.h"

/* Finds "--boundary" at the start of a line at or after p. */
static const char *find_delimiter(const char *p, const char *end, sip_str boundary, bool at_start)
{
	const char *bol = p;
	while (p < end) {
		if ((p == bol && at_start) || (p - bol >= 2 && p[-2] == '\r' && p[-1] == '\n')) {
			if ((size_t)(end - p) >= boundary.len + 2 && p[0] == '-' && p[1] == '-' &&
			    memcmp(p + 2, boundary.s, boundary.len) == 0)
				return p;
		}
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		if (!lf)
			return NULL;
		p = lf + 1;
	}
	return NULL;
}

static sip_str part_content_type(sip_str headers)
{
	const char *p = headers.s, *end = headers.s + headers.len;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		const char *le = e ? e : end;
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (colon) {
			const char *n = colon;
			while (n > p && (n[-1] == ' ' || n[-1] == '\t'))
				n--;
			if (sip_hdr_lookup(p, (size_t)(n - p)) == SIP_HDR_CONTENT_TYPE) {
				const char *v = colon + 1, *ve = le;
				while (v < ve && (*v == ' ' || *v == '\t'))
					v++;
				while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
					ve--;
				return sip_str_make(v, (size_t)(ve - v));
			}
		}
		p = le + 1;
	}
	return sip_str_make(headers.s, 0);
}

int sip_multipart_parse(sip_str body, sip_str boundary, struct arena *a, struct sip_part **parts,
			struct sip_error *err)
{
	if (boundary.len == 0 || boundary.len > 70)
		return sip_fail(err, SIP_FAULT_BODY, body.s, "multipart boundary missing or too long");
	const char *end = body.s + body.len;
	const char *d = find_delimiter(body.s, end, boundary, true);
	if (!d)
		return sip_fail(err, SIP_FAULT_BODY, body.s, "multipart body without its first boundary");
	struct sip_part **tail = parts;
	int n = 0;
	for (;;) {
		const char *after = d + 2 + boundary.len;
		if (end - after >= 2 && after[0] == '-' && after[1] == '-')
			return n; /* close-delimiter; the epilogue is ignored */
		/* the rest of the delimiter line (transport padding) ends in CRLF */
		const char *lf = memchr(after, '\n', (size_t)(end - after));
		if (!lf)
			return sip_fail(err, SIP_FAULT_BODY, after, "multipart delimiter line not ended");
		const char *ps = lf + 1;
		const char *next = find_delimiter(ps, end, boundary, false);
		if (!next)
			return sip_fail(err, SIP_FAULT_BODY, ps, "multipart part without a closing boundary");
		const char *pe = next - 2; /* the CRLF before the delimiter belongs to it */
		struct sip_part *part = arena_alloc(a, sizeof(*part));
		if (!part)
			return sip_fail(err, SIP_FAULT_NO_MEMORY, ps, "out of memory");
		const char *hb = ps;
		if (pe - ps >= 2 && ps[0] == '\r' && ps[1] == '\n') {
			part->headers = sip_str_make(ps, 0);
			part->body = sip_str_make(ps + 2, (size_t)(pe - ps - 2));
		} else {
			const char *blank = NULL;
			for (const char *q = hb; q + 3 < pe; q++)
				if (q[0] == '\r' && q[1] == '\n' && q[2] == '\r' && q[3] == '\n') {
					blank = q;
					break;
				}
			if (!blank)
				return sip_fail(err, SIP_FAULT_BODY, ps, "multipart part headers not ended");
			part->headers = sip_str_make(ps, (size_t)(blank - ps));
			part->body = sip_str_make(blank + 4, (size_t)(pe - blank - 4));
		}
		part->content_type = part_content_type(part->headers);
		*tail = part;
		tail = &part->next;
		n++;
		d = next;
	}
}
