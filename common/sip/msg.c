#include "sip/msg.h"

#include "sip/build.h"

#include <stdio.h>

static const char *const method_names[] = {
	[SIP_METHOD_OTHER] = "",          [SIP_METHOD_INVITE] = "INVITE",
	[SIP_METHOD_ACK] = "ACK",         [SIP_METHOD_BYE] = "BYE",
	[SIP_METHOD_CANCEL] = "CANCEL",   [SIP_METHOD_REGISTER] = "REGISTER",
	[SIP_METHOD_OPTIONS] = "OPTIONS", [SIP_METHOD_INFO] = "INFO",
	[SIP_METHOD_PRACK] = "PRACK",     [SIP_METHOD_UPDATE] = "UPDATE",
	[SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE", [SIP_METHOD_NOTIFY] = "NOTIFY",
	[SIP_METHOD_REFER] = "REFER",     [SIP_METHOD_MESSAGE] = "MESSAGE",
	[SIP_METHOD_PUBLISH] = "PUBLISH",
};

enum sip_method sip_method_lookup(sip_str name)
{
	for (size_t i = 1; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		size_t n = strlen(method_names[i]);
		if (name.len == n && memcmp(name.s, method_names[i], n) == 0)
			return (enum sip_method)i;
	}
	return SIP_METHOD_OTHER;
}

const char *sip_method_name(enum sip_method m)
{
	return (unsigned)m < sizeof(method_names) / sizeof(method_names[0]) ? method_names[m] : "";
}

/* ---- lines -------------------------------------------------------------- */

/* Finds the CRLF ending the line at p. Returns its position or NULL. A bare
 * LF is reported through *bare_lf (RFC 3261 demands CRLF). */
static const char *line_end(const char *p, const char *end, const char **bare_lf)
{
	const char *q = p;
	while (q < end) {
		const char *lf = memchr(q, '\n', (size_t)(end - q));
		if (!lf)
			return NULL;
		if (lf > p && lf[-1] == '\r')
			return lf - 1;
		*bare_lf = lf;
		return NULL;
	}
	return NULL;
}

/* Finds the end of a header field starting at p: the CRLF that is not
 * followed by SP/HTAB (those are folds). Returns the CRLF or NULL. */
static const char *field_end(const char *p, const char *end, const char **bare_lf)
{
	for (;;) {
		const char *e = line_end(p, end, bare_lf);
		if (!e)
			return NULL;
		if (end - e >= 3 && (e[2] == ' ' || e[2] == '\t')) {
			p = e + 2;
			continue;
		}
		if (end - e < 3)
			return e; /* CRLF at the very end: the caller sees no empty line */
		return e;
	}
}

struct field {
	sip_str name, value, line;
	const char *next;  /* start of the following line */
};

/* Splits "name SWS : SWS value" of one header field at p. Returns 1 for a
 * field, 0 for the empty line ending the headers, -1 on a fault. */
static int next_field(const char *p, const char *end, struct field *f, struct sip_error *err)
{
	const char *bare = NULL;
	if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
		f->next = p + 2;
		return 0;
	}
	const char *e = field_end(p, end, &bare);
	if (!e) {
		if (bare)
			return sip_fail(err, SIP_FAULT_HEADER_LINE, bare, "line ends in LF without CR");
		return sip_fail(err, SIP_FAULT_HEADERS_UNTERMINATED, p,
				"header section has no empty line at its end");
	}
	struct scan sc = {p, e};
	if (!scan_token(&sc, &f->name))
		return sip_fail(err, SIP_FAULT_HEADER_LINE, p,
				p < e && (*p == ' ' || *p == '\t') ? "header line starts with whitespace"
								   : "header line has no valid name");
	if (!scan_sep(&sc, ':'))
		return sip_fail(err, SIP_FAULT_HEADER_LINE, sc.p, "header '%.*s' has no colon",
				(int)(f->name.len > 40 ? 40 : f->name.len), f->name.s);
	const char *v = sc.p, *ve = e;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	f->value = sip_str_make(v, (size_t)(ve - v));
	f->line = sip_str_make(p, (size_t)(e - p));
	f->next = e + 2;
	return 1;
}

/* ---- start line --------------------------------------------------------- */

/* "SIP/" 1*DIGIT "." 1*DIGIT; returns 1 for 2.0, 0 for another version,
 * -1 when it is not a version at all. */
static int parse_version(sip_str v)
{
	if (v.len < 7 || strncasecmp(v.s, "SIP/", 4) != 0)
		return -1;
	struct scan sc = {v.s + 4, v.s + v.len};
	uint64_t major, minor;
	if (!scan_uint(&sc, 1000, &major) || scan_peek(&sc) != '.')
		return -1;
	sc.p++;
	if (!scan_uint(&sc, 1000, &minor) || !scan_eof(&sc))
		return -1;
	return major == 2 && minor == 0;
}

static int parse_status_line(struct sip_msg *m, sip_str line, struct sip_error *err)
{
	const char *sp = memchr(line.s, ' ', line.len);
	if (!sp)
		return sip_fail(err, SIP_FAULT_START_LINE, line.s + line.len, "status line has no status code");
	int ver = parse_version(sip_str_make(line.s, (size_t)(sp - line.s)));
	if (ver < 0)
		return sip_fail(err, SIP_FAULT_START_LINE, line.s, "malformed SIP version");
	if (ver == 0)
		return sip_fail(err, SIP_FAULT_VERSION, line.s, "unsupported SIP version %.*s",
				(int)(sp - line.s), line.s);
	const char *c = sp + 1, *end = line.s + line.len;
	unsigned code = 0;
	int digits = 0;
	while (c < end && *c >= '0' && *c <= '9' && digits < 4) {
		code = code * 10 + (unsigned)(*c - '0');
		c++;
		digits++;
	}
	if (digits != 3 || (c < end && *c != ' ') || (c == end))
		return sip_fail(err, SIP_FAULT_STATUS_CODE, sp + 1,
				"status code must be three digits followed by SP");
	if (code < 100 || code > 699)
		return sip_fail(err, SIP_FAULT_STATUS_CODE, sp + 1, "status code %u out of range", code);
	m->status = code;
	const char *r = c + 1;
	for (const char *q = r; q < end; q++) {
		unsigned char ch = (unsigned char)*q;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return sip_fail(err, SIP_FAULT_REASON_PHRASE, q,
					"control character in reason phrase");
	}
	m->reason = sip_str_make(r, (size_t)(end - r));
	return 0;
}

static int parse_request_line(struct sip_msg *m, sip_str line, struct sip_error *err)
{
	const char *end = line.s + line.len;
	struct scan sc = {line.s, end};
	if (!scan_token(&sc, &m->method))
		return sip_fail(err, SIP_FAULT_METHOD, line.s, "method is not a token");
	if (scan_peek(&sc) != ' ') {
		/* anything but HTAB or the line end here is a character that a
		 * method (a token) cannot hold, as in "INV@ITE" */
		if (!scan_eof(&sc) && *sc.p != '\t')
			return sip_fail(err, SIP_FAULT_METHOD, sc.p, "method is not a token");
		return sip_fail(err, SIP_FAULT_START_LINE, sc.p, "expected one SP after the method");
	}
	sc.p++;
	if (scan_peek(&sc) == ' ' || scan_peek(&sc) == '\t')
		return sip_fail(err, SIP_FAULT_START_LINE, sc.p,
				"request line elements separated by more than one SP");
	const char *last_sp = NULL;
	for (const char *q = end; q > sc.p; q--)
		if (q[-1] == ' ') {
			last_sp = q - 1;
			break;
		}
	if (!last_sp)
		return sip_fail(err, SIP_FAULT_START_LINE, end, "request line has no SIP version");
	if (last_sp == end - 1) {
		while (last_sp > sc.p && last_sp[-1] == ' ')
			last_sp--;
		return sip_fail(err, SIP_FAULT_START_LINE, last_sp, "whitespace at the end of the request line");
	}
	sip_str version = sip_str_make(last_sp + 1, (size_t)(end - last_sp - 1));
	int ver = parse_version(version);
	if (ver < 0)
		return sip_fail(err, SIP_FAULT_START_LINE, version.s, "malformed SIP version");
	if (ver == 0)
		return sip_fail(err, SIP_FAULT_VERSION, version.s, "unsupported SIP version %.*s",
				(int)version.len, version.s);
	m->ruri_text = sip_str_make(sc.p, (size_t)(last_sp - sc.p));
	if (m->ruri_text.len && m->ruri_text.s[m->ruri_text.len - 1] == ' ')
		return sip_fail(err, SIP_FAULT_START_LINE, last_sp,
				"request line elements separated by more than one SP");
	for (size_t i = 0; i < m->ruri_text.len; i++)
		if (m->ruri_text.s[i] == ' ' || m->ruri_text.s[i] == '\t')
			return sip_fail(err, SIP_FAULT_REQUEST_URI, m->ruri_text.s + i,
					"whitespace inside the Request-URI");
	struct sip_error uerr = {.base = err ? err->base : NULL};
	if (sip_uri_parse(&m->ruri, m->ruri_text.s, m->ruri_text.len, &uerr) < 0)
		return sip_fail(err, SIP_FAULT_REQUEST_URI, m->ruri_text.s + uerr.offset -
				(err && err->base ? (size_t)(m->ruri_text.s - err->base) : 0),
				"Request-URI: %s", uerr.detail + (strncmp(uerr.detail, "URI: ", 5) ? 0 : 5));
	if (m->ruri.headers.len)
		return sip_fail(err, SIP_FAULT_REQUEST_URI, m->ruri.headers.s - 1,
				"Request-URI must not carry headers ('?')");
	m->method_id = sip_method_lookup(m->method);
	return 0;
}

/* ---- the message -------------------------------------------------------- */

static unsigned count_lines(const char *p, const char *end)
{
	unsigned n = 0;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

int sip_msg_parse(struct sip_msg *m, const char *buf, size_t len,
		  const struct sip_parse_opts *opts, struct sip_error *err)
{
	size_t max = opts && opts->max_size ? opts->max_size : SIP_DEFAULT_MAX_MESSAGE;
	size_t alimit = opts && opts->arena_limit ? opts->arena_limit : 16 * max;
	bool stream = opts && opts->stream;
	memset(m, 0, offsetof(struct sip_msg, arena));
	arena_init(&m->arena, alimit);
	if (err && !err->base)
		err->base = buf;

	if (len > max)
		return sip_fail(err, SIP_FAULT_TOO_LARGE, buf + max,
				"message of %zu bytes exceeds the limit of %zu", len, max);
	const char *end = buf + len, *p = buf;
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2; /* CRLFs before the start line are ignored (RFC 3261 7.5) */
	m->buf = p;

	const char *bare = NULL, *sl_end = line_end(p, end, &bare);
	if (!sl_end)
		return sip_fail(err, bare ? SIP_FAULT_START_LINE : SIP_FAULT_HEADERS_UNTERMINATED,
				bare ? bare : end, bare ? "start line ends in LF without CR"
							: "no complete start line");
	m->start_line = sip_str_make(p, (size_t)(sl_end - p));
	if (m->start_line.len == 0)
		return sip_fail(err, SIP_FAULT_START_LINE, p, "empty start line");
	m->is_request = !(m->start_line.len >= 4 && strncasecmp(p, "SIP/", 4) == 0);
	/* A bad start line is recorded but the headers are still split, so
	 * that the caller can answer the request (400, 505) through its Vias. */
	struct sip_error line_err = {.base = err ? err->base : buf};
	bool bad_line = (m->is_request ? parse_request_line(m, m->start_line, &line_err)
				       : parse_status_line(m, m->start_line, &line_err)) < 0;
	if (bad_line && err)
		*err = line_err;

	/* Size the header array by the number of lines, so it never moves. */
	const char *h = sl_end + 2;
	const char *blank = NULL;
	for (const char *q = h - 2; q + 3 < end; q++) {
		q = memchr(q, '\r', (size_t)(end - q));
		if (!q || q + 3 >= end)
			break;
		if (q[1] == '\n' && q[2] == '\r' && q[3] == '\n') {
			blank = q + 2;
			break;
		}
	}
	unsigned cap = count_lines(h, blank ? blank : end) + 1;
	m->hdrs = arena_alloc(&m->arena, cap * sizeof(*m->hdrs));
	if (!m->hdrs)
		return sip_fail(err, SIP_FAULT_NO_MEMORY, h, "too many header lines");

	struct field f;
	int r;
	while ((r = next_field(h, end, &f, err)) == 1) {
		if (m->hdr_count >= cap)
			return sip_fail(err, SIP_FAULT_HEADER_LINE, h, "header count mismatch");
		struct sip_hdr *hd = &m->hdrs[m->hdr_count++];
		hd->name = f.name;
		hd->value = f.value;
		hd->line = f.line;
		hd->type = sip_hdr_lookup(f.name.s, f.name.len);
		if (m->last[hd->type])
			m->last[hd->type]->next_same = hd;
		else
			m->first[hd->type] = hd;
		m->last[hd->type] = hd;
		if (hd->type == SIP_HDR_CONTENT_LENGTH) {
			if (m->has_content_length)
				return sip_fail(err, SIP_FAULT_CONTENT_LENGTH, f.name.s,
						"more than one Content-Length");
			struct sip_error cerr = {.base = err ? err->base : NULL};
			uint32_t cl;
			if (sip_parse_uint_value(f.value, UINT32_MAX, false, "Content-Length", &cl,
						 &cerr) < 0)
				return sip_fail(err, SIP_FAULT_CONTENT_LENGTH, f.value.s,
						"Content-Length is not a non-negative number");
			hd->v.uint = cl;
			hd->state = 1;
			m->has_content_length = true;
			m->content_length = cl;
		}
		h = f.next;
	}
	if (r < 0 || bad_line)
		return -1;
	h = f.next;
	m->hdr_end = (size_t)(h - m->buf);

	size_t avail = (size_t)(end - h);
	if (m->has_content_length) {
		if (m->content_length > avail)
			return sip_fail(err, SIP_FAULT_BODY_TRUNCATED, end,
					"Content-Length %u but only %zu body bytes", m->content_length,
					avail);
		m->body = sip_str_make(h, m->content_length);
	} else if (stream) {
		return sip_fail(err, SIP_FAULT_MISSING_HEADER, h,
				"Content-Length is mandatory on stream transports");
	} else {
		m->body = sip_str_make(h, avail);
	}
	m->len = m->hdr_end + m->body.len;
	return 0;
}

void sip_msg_free(struct sip_msg *m)
{
	arena_free(&m->arena);
	m->hdrs = NULL;
	m->hdr_count = 0;
}

long sip_frame_stream(const char *buf, size_t len, size_t max_size, size_t *skip,
		      struct sip_error *err)
{
	if (!max_size)
		max_size = SIP_DEFAULT_MAX_MESSAGE;
	if (err && !err->base)
		err->base = buf;
	const char *p = buf, *end = buf + len;
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	if (end - p == 1 && *p == '\r')
		end = p; /* half a keep-alive: wait */
	*skip = (size_t)(p - buf);
	const char *limit = (size_t)(end - p) > max_size ? p + max_size : end;

	/* Find the start line's end, then walk header fields to the blank line. */
	const char *bare = NULL, *sl = line_end(p, limit, &bare);
	if (bare)
		return sip_fail(err, SIP_FAULT_START_LINE, bare, "start line ends in LF without CR");
	if (!sl)
		goto need_more;
	const char *h = sl + 2;
	bool have_cl = false;
	uint32_t cl = 0;
	for (;;) {
		/* A field whose CRLF ends the data may go on in a folded line
		 * that has not arrived yet ("Content-Length:" CRLF SP "10", or
		 * "Subject" CRLF SP ": x"): judge it only once more data came. */
		bool blank = limit - h >= 2 && h[0] == '\r' && h[1] == '\n';
		const char *b2 = NULL, *fe = blank ? NULL : field_end(h, limit, &b2);
		if (fe && fe + 2 >= limit)
			goto need_more;
		struct field f;
		struct sip_error ferr = {.base = buf};
		int r = next_field(h, limit, &f, &ferr);
		if (r == 0) {
			h = f.next;
			break;
		}
		if (r < 0) {
			if (ferr.fault == SIP_FAULT_HEADERS_UNTERMINATED)
				goto need_more;
			return sip_fail(err, ferr.fault, buf + ferr.offset, "%s", ferr.detail);
		}
		if (sip_hdr_lookup(f.name.s, f.name.len) == SIP_HDR_CONTENT_LENGTH) {
			uint32_t v;
			struct sip_error cerr = {0};
			if (have_cl)
				return sip_fail(err, SIP_FAULT_CONTENT_LENGTH, f.name.s,
						"more than one Content-Length");
			if (sip_parse_uint_value(f.value, UINT32_MAX, false, "Content-Length", &v, &cerr) < 0)
				return sip_fail(err, SIP_FAULT_CONTENT_LENGTH, f.value.s,
						"Content-Length is not a non-negative number");
			have_cl = true;
			cl = v;
		}
		h = f.next;
	}
	if (!have_cl)
		return sip_fail(err, SIP_FAULT_MISSING_HEADER, h,
				"Content-Length is mandatory on stream transports");
	size_t total = (size_t)(h - p) + cl;
	if (total > max_size)
		return sip_fail(err, SIP_FAULT_TOO_LARGE, p,
				"message of %zu bytes exceeds the limit of %zu", total, max_size);
	if ((size_t)(end - p) < total)
		return 0;
	return (long)total;

need_more:
	if ((size_t)(end - p) >= max_size)
		return sip_fail(err, SIP_FAULT_TOO_LARGE, p,
				"header section exceeds the limit of %zu bytes", max_size);
	return 0;
}

/* ---- lazy header values ------------------------------------------------- */

static int check_text(struct sip_hdr *h, struct sip_error *err)
{
	/* TEXT-UTF8 and friends: no control characters but HTAB and folds */
	for (size_t i = 0; i < h->value.len; i++) {
		unsigned char c = (unsigned char)h->value.s[i];
		if (c == '\r' && i + 2 < h->value.len && h->value.s[i + 1] == '\n') {
			i += 1;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return sip_fail(err, SIP_FAULT_HEADER_VALUE, h->value.s + i,
					"%.*s: control character in value",
					(int)(h->name.len > 40 ? 40 : h->name.len), h->name.s);
	}
	return 0;
}

int sip_hdr_parse(struct sip_msg *m, struct sip_hdr *h, struct sip_error *err)
{
	if (h->state == 1)
		return 0;
	if (h->state == -1 && !err)
		return -1;
	const struct sip_hdr_info *info = &sip_hdr_info[h->type];
	const char *what = info->name;
	struct arena *a = &m->arena;
	int r = 0;
	switch (info->kind) {
	case SIP_KIND_OPAQUE:
		r = check_text(h, err);
		break;
	case SIP_KIND_VIA:
		r = sip_via_parse(h->value, a, &h->v.via, err);
		break;
	case SIP_KIND_ADDR:
	case SIP_KIND_ADDR_LIST:
		r = sip_addr_parse(h->value, a, &h->v.addr, info->kind == SIP_KIND_ADDR_LIST,
				   h->type == SIP_HDR_CONTACT, what, err);
		break;
	case SIP_KIND_CSEQ:
		r = sip_parse_cseq(h->value, &h->v.cseq, err);
		break;
	case SIP_KIND_UINT:
		/* delta-seconds beyond 2^32-1 read as 2^32-1; other numbers are strict */
		r = sip_parse_uint_value(h->value, info->max,
					 h->type == SIP_HDR_EXPIRES || h->type == SIP_HDR_MIN_EXPIRES,
					 what, &h->v.uint, err);
		break;
	case SIP_KIND_CALL_ID:
		r = sip_parse_call_id(h->value, err);
		break;
	case SIP_KIND_DATE:
		r = sip_parse_date(h->value, &h->v.date, err);
		break;
	case SIP_KIND_TOKEN_LIST:
		r = sip_parse_token_list(h->value, a, &h->v.list, what, err);
		break;
	case SIP_KIND_MEDIA:
	case SIP_KIND_MEDIA_LIST:
		r = sip_parse_media(h->value, a, &h->v.list, info->kind == SIP_KIND_MEDIA_LIST, what, err);
		break;
	case SIP_KIND_CREDENTIALS:
	case SIP_KIND_CHALLENGE:
		h->v.auth = arena_alloc(a, sizeof(*h->v.auth));
		r = h->v.auth ? sip_auth_parse(h->value, a, h->v.auth, what, err)
			      : sip_fail(err, SIP_FAULT_NO_MEMORY, h->value.s, "out of memory");
		break;
	case SIP_KIND_WARNING:
		r = sip_parse_warning(h->value, a, &h->v.warning, err);
		break;
	case SIP_KIND_RETRY_AFTER:
		h->v.retry = arena_alloc(a, sizeof(*h->v.retry));
		r = h->v.retry ? sip_parse_retry_after(h->value, a, h->v.retry, err)
			       : sip_fail(err, SIP_FAULT_NO_MEMORY, h->value.s, "out of memory");
		break;
	}
	h->state = r < 0 ? -1 : 1;
	return r;
}

int sip_msg_parse_all(struct sip_msg *m, struct sip_error *err)
{
	for (unsigned i = 0; i < m->hdr_count; i++)
		if (sip_hdr_parse(m, &m->hdrs[i], err) < 0)
			return -1;
	return 0;
}

static struct sip_hdr *parsed_first(struct sip_msg *m, enum sip_hdr_type t, struct sip_error *err)
{
	struct sip_hdr *h = m->first[t];
	if (!h || sip_hdr_parse(m, h, err) < 0)
		return NULL;
	return h;
}

struct sip_via *sip_msg_via(struct sip_msg *m, struct sip_error *err)
{
	struct sip_hdr *h = parsed_first(m, SIP_HDR_VIA, err);
	return h ? h->v.via : NULL;
}

struct sip_addr *sip_msg_from(struct sip_msg *m, struct sip_error *err)
{
	struct sip_hdr *h = parsed_first(m, SIP_HDR_FROM, err);
	return h ? h->v.addr : NULL;
}

struct sip_addr *sip_msg_to(struct sip_msg *m, struct sip_error *err)
{
	struct sip_hdr *h = parsed_first(m, SIP_HDR_TO, err);
	return h ? h->v.addr : NULL;
}

const struct sip_cseq *sip_msg_cseq(struct sip_msg *m, struct sip_error *err)
{
	struct sip_hdr *h = parsed_first(m, SIP_HDR_CSEQ, err);
	return h ? &h->v.cseq : NULL;
}

sip_str sip_msg_call_id(const struct sip_msg *m)
{
	const struct sip_hdr *h = m->first[SIP_HDR_CALL_ID];
	return h ? h->value : SIP_STR_NULL;
}

int sip_msg_max_forwards(struct sip_msg *m, struct sip_error *err)
{
	struct sip_hdr *h = m->first[SIP_HDR_MAX_FORWARDS];
	if (!h)
		return -1;
	if (sip_hdr_parse(m, h, err) < 0)
		return -2;
	return (int)h->v.uint;
}

int sip_msg_check(struct sip_msg *m, struct sip_error *err)
{
	static const enum sip_hdr_type mandatory[] = {SIP_HDR_VIA, SIP_HDR_FROM, SIP_HDR_TO,
						      SIP_HDR_CALL_ID, SIP_HDR_CSEQ};
	const char *at = m->buf + m->hdr_end;
	for (size_t i = 0; i < sizeof(mandatory) / sizeof(mandatory[0]); i++) {
		enum sip_hdr_type t = mandatory[i];
		if (!m->first[t])
			return sip_fail(err, SIP_FAULT_MISSING_HEADER, at, "missing %s header",
					sip_hdr_info[t].name);
	}
	for (unsigned i = 0; i < m->hdr_count; i++) {
		const struct sip_hdr *h = &m->hdrs[i];
		if (sip_hdr_info[h->type].single && m->first[h->type] != h)
			return sip_fail(err, SIP_FAULT_DUPLICATE_HEADER, h->name.s,
					"%s appears more than once", sip_hdr_info[h->type].name);
	}
	for (size_t i = 0; i < sizeof(mandatory) / sizeof(mandatory[0]); i++)
		for (struct sip_hdr *h = m->first[mandatory[i]]; h; h = h->next_same)
			if (sip_hdr_parse(m, h, err) < 0)
				return -1;
	if (m->first[SIP_HDR_MAX_FORWARDS] && sip_msg_max_forwards(m, err) < 0)
		return -1;
	if (m->is_request) {
		const struct sip_cseq *cs = &m->first[SIP_HDR_CSEQ]->v.cseq;
		if (!sip_str_eq(cs->method, m->method))
			return sip_fail(err, SIP_FAULT_CSEQ_METHOD, cs->method.s,
					"CSeq method %.*s differs from request method %.*s",
					(int)(cs->method.len > 32 ? 32 : cs->method.len), cs->method.s,
					(int)(m->method.len > 32 ? 32 : m->method.len), m->method.s);
	}
	return 0;
}

/* ---- edits and serialization ------------------------------------------- */

struct sip_insert {
	unsigned before;   /* header index it goes before; hdr_count = at the end */
	sip_str line;
	struct sip_insert *next;
};

static sip_str arena_str(struct sip_msg *m, const char *s, size_t len)
{
	char *d = arena_memdup(&m->arena, s, len);
	return d ? sip_str_make(d, len) : SIP_STR_NULL;
}

int sip_msg_insert_header(struct sip_msg *m, const struct sip_hdr *before, const char *line,
			  size_t len)
{
	struct sip_insert *ins = arena_alloc(&m->arena, sizeof(*ins));
	if (!ins)
		return -1;
	ins->line = arena_str(m, line, len);
	if (!ins->line.s)
		return -1;
	ins->before = before ? (unsigned)(before - m->hdrs) : m->hdr_count;
	/* keep insertion order among inserts at the same place */
	struct sip_insert **t = &m->inserts;
	while (*t && (*t)->before <= ins->before)
		t = &(*t)->next;
	ins->next = *t;
	*t = ins;
	return 0;
}

int sip_msg_replace_header(struct sip_msg *m, struct sip_hdr *h, const char *line, size_t len)
{
	h->replace = arena_str(m, line, len);
	return h->replace.s ? 0 : -1;
}

void sip_msg_remove_header(struct sip_hdr *h) { h->removed = true; }

int sip_msg_set_start_line(struct sip_msg *m, const char *line, size_t len)
{
	m->new_start_line = arena_str(m, line, len);
	return m->new_start_line.s ? 0 : -1;
}

int sip_msg_set_body(struct sip_msg *m, const char *body, size_t len)
{
	m->new_body = arena_str(m, body, len);
	m->body_replaced = true;
	return m->new_body.s ? 0 : -1;
}

void sip_msg_reset_edits(struct sip_msg *m)
{
	for (unsigned i = 0; i < m->hdr_count; i++) {
		m->hdrs[i].removed = false;
		m->hdrs[i].replace = SIP_STR_NULL;
	}
	m->inserts = NULL;
	m->new_start_line = SIP_STR_NULL;
	m->body_replaced = false;
	m->new_body = SIP_STR_NULL;
}

static void put_line(struct sip_out *o, sip_str s)
{
	sip_out_str(o, s);
	sip_out_put(o, "\r\n", 2);
}

size_t sip_msg_serialize(const struct sip_msg *m, char *out, size_t cap)
{
	struct sip_out o = {out, cap, 0};
	sip_str body = m->body_replaced ? m->new_body : m->body;
	put_line(&o, m->new_start_line.s ? m->new_start_line : m->start_line);
	const struct sip_insert *ins = m->inserts;
	bool wrote_cl = false;
	for (unsigned i = 0; i <= m->hdr_count; i++) {
		for (; ins && ins->before == i; ins = ins->next)
			put_line(&o, ins->line);
		if (i == m->hdr_count)
			break;
		const struct sip_hdr *h = &m->hdrs[i];
		if (h->removed)
			continue;
		if (h->type == SIP_HDR_CONTENT_LENGTH && m->body_replaced) {
			sip_out_printf(&o, "Content-Length: %zu\r\n", body.len);
			wrote_cl = true;
			continue;
		}
		put_line(&o, h->replace.s ? h->replace : h->line);
		wrote_cl |= h->type == SIP_HDR_CONTENT_LENGTH;
	}
	/* always: mandatory on streams, and what we send may go over one */
	if (!wrote_cl)
		sip_out_printf(&o, "Content-Length: %zu\r\n", body.len);
	sip_out_put(&o, "\r\n", 2);
	sip_out_str(&o, body);
	return o.len;
}
