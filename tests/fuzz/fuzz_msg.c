/*
 * libFuzzer target: whole SIP messages (common/sip/msg.h).
 *
 * Every input is parsed as a datagram and as a stream message, then a proxy's
 * day is replayed on it: accessors, sip_msg_check, sip_msg_parse_all, edits,
 * sip_msg_serialize and a second parse of what was serialized. Properties
 * (a broken one calls __builtin_trap so libFuzzer records the input):
 *
 *  - stream and datagram parsing agree: a stream parse succeeds exactly when
 *    the datagram parse succeeds and found a Content-Length, with the same
 *    message length; sip_frame_stream frames the same length;
 *  - serializing without edits reproduces the message bytes (octets after
 *    Content-Length, like dblreq's, are not part of the message, so they
 *    are not expected back; a message without Content-Length gets one);
 *  - sip_msg_serialize never writes past cap and returns the same length
 *    whatever cap it is given;
 *  - a message that parsed and passed sip_msg_check still parses and passes
 *    after a proxy's edits (Request-URI rewritten, Via inserted on top,
 *    first Route removed, Max-Forwards decremented, body replaced), and
 *    parse_all still succeeds when it did before; the edits show up where
 *    they should; sip_msg_reset_edits gives back the unedited bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/msg.h"
#include "sip/multipart.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const char new_via[] = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfuzz.1;rport";
static const char new_ruri[] = "sip:bob@192.0.2.4:5060;transport=udp";
static const char new_body[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n";

/* Serializes m into an exactly sized heap buffer (so ASan sees any write
 * past it), after a first call with a buffer one byte too small. */
static char *serialize(const struct sip_msg *m, size_t *len)
{
	size_t need = sip_msg_serialize(m, NULL, 0);
	CHECK(need > 0);
	char *small = malloc(need - 1 ? need - 1 : 1);
	CHECK(small);
	CHECK(sip_msg_serialize(m, small, need - 1) == need);
	free(small);
	char *out = malloc(need);
	CHECK(out);
	CHECK(sip_msg_serialize(m, out, need) == need);
	*len = need;
	return out;
}

/* An unedited message serializes to its own bytes, except that a missing
 * Content-Length is added at the end of the header section. */
static void same_bytes(const struct sip_msg *m, const char *out, size_t len)
{
	if (m->has_content_length) {
		CHECK(len == m->len && memcmp(out, m->buf, len) == 0);
		return;
	}
	char cl[48];
	int n = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", m->body.len);
	size_t head = m->hdr_end - 2; /* up to the empty line */
	CHECK(len == m->len + (size_t)n);
	CHECK(memcmp(out, m->buf, head) == 0);
	CHECK(memcmp(out + head, cl, (size_t)n) == 0);
	CHECK(memcmp(out + head + n, m->buf + head, m->len - head) == 0);
}

/* What a proxy reads before routing; results are only exercised. */
static void read_like_a_proxy(struct sip_msg *m)
{
	struct sip_error err = {0};
	const struct sip_via *via = sip_msg_via(m, &err);
	if (via)
		(void)sip_via_branch_is_rfc3261(via);
	const struct sip_addr *from = sip_msg_from(m, NULL);
	if (from)
		CHECK(!sip_str_present(from->tag) || from->tag.len > 0);
	(void)sip_msg_to(m, NULL);
	(void)sip_msg_cseq(m, NULL);
	sip_str cid = sip_msg_call_id(m);
	CHECK(!cid.s || (cid.s >= m->buf && cid.s + cid.len <= m->buf + m->len));
	int mf = sip_msg_max_forwards(m, NULL);
	CHECK(mf >= -2 && mf <= 255);
	/* a second call answers from the cache, and the same */
	CHECK(sip_msg_max_forwards(m, NULL) == mf);
}

/* A request whose start line is bad still has its headers split, so that
 * it can be answered (400, 505) through its Vias: read what that takes. */
static void answer_bad_request(struct sip_msg *m)
{
	if (!m->hdrs)
		return;
	(void)sip_msg_via(m, NULL);
	(void)sip_msg_from(m, NULL);
	(void)sip_msg_to(m, NULL);
	(void)sip_msg_cseq(m, NULL);
	(void)sip_msg_call_id(m);
}

/* Splits a multipart body when Content-Type says so. */
static void split_multipart(struct sip_msg *m)
{
	struct sip_hdr *ct = m->first[SIP_HDR_CONTENT_TYPE];
	if (!ct || sip_hdr_parse(m, ct, NULL) < 0 || !ct->v.list)
		return;
	const struct sip_list_item *it = ct->v.list;
	if (!sip_str_caseeq_lit(it->type, "multipart"))
		return;
	const struct sip_param *b = sip_param_find(it->params, "boundary");
	if (!b || !sip_str_present(b->value))
		return;
	struct sip_part *parts = NULL;
	int n = sip_multipart_parse(m->body, b->value, &m->arena, &parts, NULL);
	for (const struct sip_part *p = parts; p; p = p->next)
		n--;
	CHECK(n <= 0);
}

/* The edits a proxy makes when it forwards a request. Returns whether the
 * first Route was removed. */
static bool edit_like_a_proxy(struct sip_msg *m)
{
	if (m->is_request) {
		/* retarget: same method, new Request-URI */
		char line[128];
		int n = snprintf(line, sizeof(line), "%.*s %s SIP/2.0",
				 (int)(m->method.len > 64 ? 64 : m->method.len), m->method.s, new_ruri);
		if (m->method.len <= 64)
			CHECK(sip_msg_set_start_line(m, line, (size_t)n) == 0);
	}
	CHECK(sip_msg_insert_header(m, m->hdr_count ? &m->hdrs[0] : NULL, new_via,
				    sizeof(new_via) - 1) == 0);
	bool removed = false;
	if (m->first[SIP_HDR_ROUTE]) {
		sip_msg_remove_header(m->first[SIP_HDR_ROUTE]);
		removed = true;
	}
	int mf = sip_msg_max_forwards(m, NULL);
	if (mf > 0) {
		char line[40];
		int n = snprintf(line, sizeof(line), "Max-Forwards: %d", mf - 1);
		CHECK(sip_msg_replace_header(m, m->first[SIP_HDR_MAX_FORWARDS], line, (size_t)n) == 0);
	}
	CHECK(sip_msg_set_body(m, new_body, sizeof(new_body) - 1) == 0);
	return removed;
}

/* The serialized, edited message must parse (as a datagram, and as a
 * stream message: it always has Content-Length) and pass the same checks. */
static void reparse(const char *out, size_t len, const struct sip_msg *orig, bool stream,
		    bool all_ok, bool route_removed)
{
	/* the edits may push a message just under the limit over it */
	struct sip_parse_opts opts = {
		.stream = stream,
		.max_size = len > SIP_DEFAULT_MAX_MESSAGE ? len : 0,
	};
	struct sip_msg *m = malloc(sizeof(*m));
	CHECK(m);
	struct sip_error err = {0};
	CHECK(sip_msg_parse(m, out, len, &opts, &err) == 0);
	CHECK(m->len == len);
	/* + the Via, - the Route, + a Content-Length where there was none */
	CHECK(m->hdr_count == orig->hdr_count + 1 - route_removed + !orig->has_content_length);
	CHECK(m->body.len == sizeof(new_body) - 1 && memcmp(m->body.s, new_body, m->body.len) == 0);
	CHECK(sip_msg_check(m, &err) == 0);
	const struct sip_via *via = sip_msg_via(m, NULL);
	CHECK(via && sip_str_caseeq_lit(via->host, "192.0.2.1"));
	CHECK(sip_str_eq(sip_msg_call_id(m), sip_msg_call_id(orig)));
	CHECK(m->is_request == orig->is_request);
	if (m->is_request && orig->method.len <= 64)
		CHECK(sip_str_eq(m->method, orig->method) && sip_str_caseeq_lit(m->ruri.host, "192.0.2.4"));
	if (all_ok)
		CHECK(sip_msg_parse_all(m, &err) == 0);
	sip_msg_free(m);
	free(m);
}

/* Stream framing and stream parsing must agree with the datagram parse. */
static void compare_stream(const char *buf, size_t size, const struct sip_msg *dg, bool dg_ok)
{
	struct sip_parse_opts opts = {.stream = true};
	struct sip_msg *m = malloc(sizeof(*m));
	CHECK(m);
	struct sip_error err = {0};
	int r = sip_msg_parse(m, buf, size, &opts, &err);
	CHECK(r == 0 || err.fault != SIP_FAULT_NONE);
	if (r == 0) {
		CHECK(dg_ok && dg->has_content_length);
		CHECK(m->len == dg->len && m->hdr_count == dg->hdr_count);
		size_t skip = 0;
		long fr = sip_frame_stream(buf, size, 0, &skip, NULL);
		CHECK(fr == (long)m->len);
		CHECK(buf + skip == m->buf);
	} else if (dg_ok) {
		CHECK(!dg->has_content_length);
	}
	sip_msg_free(m);
	free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exactly sized copy, so that reading past the end is caught */
	char *buf = malloc(size ? size : 1);
	CHECK(buf);
	if (size)
		memcpy(buf, data, size);

	/* struct sip_msg holds its first arena block: keep it off the stack */
	struct sip_msg *m = malloc(sizeof(*m));
	CHECK(m);
	struct sip_error err = {0};
	int r = sip_msg_parse(m, buf, size, NULL, &err);
	CHECK(r == 0 || err.fault != SIP_FAULT_NONE);
	CHECK(r < 0 || (m->len <= size && m->buf >= buf && m->buf + m->len <= buf + size));
	compare_stream(buf, size, m, r == 0);
	if (r < 0) {
		answer_bad_request(m);
		goto out;
	}

	/* every header slice lies in the header section, value inside line */
	for (unsigned i = 0; i < m->hdr_count; i++) {
		const struct sip_hdr *h = &m->hdrs[i];
		CHECK(h->line.s >= m->buf + m->start_line.len + 2 &&
		      h->line.s + h->line.len + 2 <= m->buf + m->hdr_end);
		CHECK(h->name.s == h->line.s && h->name.len > 0);
		CHECK(h->value.s >= h->line.s && h->value.s + h->value.len <= h->line.s + h->line.len);
		CHECK((unsigned)h->type < SIP_HDR_COUNT && m->first[h->type] != NULL);
	}
	read_like_a_proxy(m);
	struct sip_error cerr = {0}, aerr = {0};
	bool check_ok = sip_msg_check(m, &cerr) == 0;
	bool all_ok = sip_msg_parse_all(m, &aerr) == 0;
	CHECK(check_ok || cerr.fault != SIP_FAULT_NONE);
	CHECK(all_ok || aerr.fault != SIP_FAULT_NONE);
	split_multipart(m);

	/* no edits: the message's own bytes come back */
	size_t len;
	char *out = serialize(m, &len);
	same_bytes(m, out, len);
	free(out);

	bool route_removed = edit_like_a_proxy(m);
	out = serialize(m, &len);
	if (check_ok) {
		reparse(out, len, m, false, all_ok, route_removed);
		reparse(out, len, m, true, all_ok, route_removed);
	}
	free(out);

	/* forgetting the edits gives the message back as it came */
	sip_msg_reset_edits(m);
	out = serialize(m, &len);
	same_bytes(m, out, len);
	free(out);
out:
	sip_msg_free(m);
	free(m);
	free(buf);
	return 0;
}
