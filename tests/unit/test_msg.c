/*
 * Unit tests for common/sip/msg.[ch] and error.[ch]: parsing whole messages
 * (RFC 3261 section 7): start lines, header splitting with folding and
 * compact forms, Content-Length for datagrams and streams (18.3), the
 * element checks (8.2, 16.3), accessors, lazy header parsing, and faults
 * with their names, status codes and byte offsets.
 */
#include "testutil.h"

#include "sip/msg.h"

struct msgt {
	struct sip_msg m;
	struct sip_error err;
	const char *buf;  /* exact-size copy handed to the parser */
	const char *text; /* the same bytes NUL-terminated, for off_of */
	size_t len;
	int rc;
};

/* Parses text written with "\n" line ends (turned into CRLF). */
static void parse_opts(struct msgt *t, const char *lines, const struct sip_parse_opts *o)
{
	size_t n;
	char *c = crlf(lines, &n);
	t->text = tu_copy(c, n + 1);
	t->buf = tu_copy(c, n);
	free(c);
	t->len = n;
	memset(&t->err, 0, sizeof(t->err));
	t->rc = sip_msg_parse(&t->m, t->buf, n, o, &t->err);
}

static void parse(struct msgt *t, const char *lines, bool stream)
{
	struct sip_parse_opts o = {.stream = stream};
	parse_opts(t, lines, &o);
}

/* Parses raw bytes (no CRLF conversion). */
static void parse_raw(struct msgt *t, const char *bytes, size_t n, bool stream)
{
	t->text = tu_copy(bytes, n + 1);
	t->buf = tu_copy(bytes, n);
	t->len = n;
	memset(&t->err, 0, sizeof(t->err));
	struct sip_parse_opts o = {.stream = stream};
	t->rc = sip_msg_parse(&t->m, t->buf, n, &o, &t->err);
}

static void expect_ok(struct msgt *t)
{
	if (t->rc != 0)
		fail_msg("parse failed: %s at %zu (%s)", sip_fault_name(t->err.fault), t->err.offset,
			 t->err.detail);
	assert_int_equal(t->err.fault, SIP_FAULT_NONE);
}

#define HDRS                                                          \
	"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\n" \
	"Max-Forwards: 70\n"                                          \
	"To: Bob <sip:bob@biloxi.com>\n"                              \
	"From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"        \
	"Call-ID: a84b4c76e66710@pc33.atlanta.com\n"                  \
	"CSeq: 314159 INVITE\n"                                       \
	"Contact: <sip:alice@pc33.atlanta.com>\n"

#define INVITE_LINE "INVITE sip:bob@biloxi.com SIP/2.0\n"

/* ---- start lines --------------------------------------------------------- */

static void test_request_basic(void **state)
{
	(void)state;
	struct msgt t;
	parse(&t, INVITE_LINE HDRS "Content-Type: application/sdp\n"
				   "Content-Length: 4\n"
				   "\n"
				   "abcd",
	      false);
	expect_ok(&t);
	struct sip_msg *m = &t.m;
	assert_true(m->is_request);
	assert_str(m->method, "INVITE");
	assert_int_equal(m->method_id, SIP_METHOD_INVITE);
	assert_str(m->ruri_text, "sip:bob@biloxi.com");
	assert_int_equal(m->ruri.scheme, SIP_URI_SIP);
	assert_str(m->ruri.user, "bob");
	assert_str(m->start_line, "INVITE sip:bob@biloxi.com SIP/2.0");
	assert_int_equal(m->hdr_count, 9);
	assert_ptr_equal(m->buf, t.buf);
	/* headers in wire order, values trimmed */
	assert_str(m->hdrs[0].name, "Via");
	assert_int_equal(m->hdrs[0].type, SIP_HDR_VIA);
	assert_str(m->hdrs[0].value, "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds");
	assert_str(m->hdrs[0].line, "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds");
	assert_str(m->hdrs[2].name, "To");
	assert_ptr_equal(m->first[SIP_HDR_TO], &m->hdrs[2]);
	assert_ptr_equal(m->last[SIP_HDR_TO], &m->hdrs[2]);
	assert_null(m->first[SIP_HDR_ROUTE]);
	assert_true(m->has_content_length);
	assert_int_equal(m->content_length, 4);
	assert_str(m->body, "abcd");
	assert_int_equal(m->hdr_end, t.len - 4);
	assert_int_equal(m->len, t.len);
	sip_msg_free(m);
}

static void test_leading_crlfs_ignored(void **state)
{
	(void)state;
	struct msgt t;
	/* RFC 3261 7.5: CRLFs before the start line are skipped */
	parse(&t, "\n\n" INVITE_LINE HDRS "Content-Length: 0\n\n", false);
	expect_ok(&t);
	assert_ptr_equal(t.m.buf, t.buf + 4);
	assert_int_equal(t.m.len, t.len - 4);
	assert_str(t.m.method, "INVITE");
	sip_msg_free(&t.m);

	/* offsets still count from the start of the caller's buffer */
	parse(&t, "\n\nINVITE  sip:bob@biloxi.com SIP/2.0\n" HDRS "\n", false);
	assert_int_equal(t.rc, -1);
	assert_fault(t.err, SIP_FAULT_START_LINE, 4 + 7);
	sip_msg_free(&t.m);
}

static void test_responses(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		unsigned status;
		const char *reason;
	} cases[] = {
		{"SIP/2.0 180 Ringing", 180, "Ringing"},
		{"SIP/2.0 200 OK", 200, "OK"},
		{"SIP/2.0 100 ", 100, ""},                              /* RFC 4475 noreason */
		{"SIP/2.0 699 Whatever you like", 699, "Whatever you like"},
		{"SIP/2.0 200 = 2**3 * 5**2 \xd0\xbd\xd0\xbe", 200, "= 2**3 * 5**2 \xd0\xbd\xd0\xbe"},
		{"SIP/2.0 486 Busy\tHere", 486, "Busy\tHere"},
		{"sip/2.0 200 OK", 200, "OK"},                          /* version case-insensitive */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "%s\n" HDRS "Content-Length: 0\n\n", cases[i].line);
		struct msgt t;
		parse(&t, text, true);
		expect_ok(&t);
		assert_false(t.m.is_request);
		assert_int_equal(t.m.status, cases[i].status);
		assert_str(t.m.reason, cases[i].reason);
		assert_int_equal(t.m.method.len, 0);
		sip_msg_free(&t.m);
	}
}

static void test_methods(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum sip_method id;
	} cases[] = {
		{"INVITE", SIP_METHOD_INVITE},       {"ACK", SIP_METHOD_ACK},
		{"BYE", SIP_METHOD_BYE},             {"CANCEL", SIP_METHOD_CANCEL},
		{"REGISTER", SIP_METHOD_REGISTER},   {"OPTIONS", SIP_METHOD_OPTIONS},
		{"INFO", SIP_METHOD_INFO},           {"PRACK", SIP_METHOD_PRACK},
		{"UPDATE", SIP_METHOD_UPDATE},       {"SUBSCRIBE", SIP_METHOD_SUBSCRIBE},
		{"NOTIFY", SIP_METHOD_NOTIFY},       {"REFER", SIP_METHOD_REFER},
		{"MESSAGE", SIP_METHOD_MESSAGE},     {"PUBLISH", SIP_METHOD_PUBLISH},
		/* methods are case-sensitive (RFC 3261 7.1) */
		{"invite", SIP_METHOD_OTHER},        {"Invite", SIP_METHOD_OTHER},
		{"INVITES", SIP_METHOD_OTHER},       {"INVIT", SIP_METHOD_OTHER},
		{"RE%47IST%45R", SIP_METHOD_OTHER},  /* RFC 4475 esc02: no unescaping */
		{"NEWMETHOD", SIP_METHOD_OTHER},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].name);
		sip_str s = sip_str_make(tu_copy(cases[i].name, n), n);
		if (sip_method_lookup(s) != cases[i].id)
			fail_msg("%s: wrong method id", cases[i].name);
		if (cases[i].id != SIP_METHOD_OTHER)
			assert_string_equal(sip_method_name(cases[i].id), cases[i].name);
	}
	assert_string_equal(sip_method_name(SIP_METHOD_OTHER), "");
	assert_string_equal(sip_method_name((enum sip_method)1000), "");

	/* an unknown method parses; the request line keeps it */
	struct msgt t;
	parse(&t, "NEWMETHOD sip:bob@biloxi.com SIP/2.0\n" HDRS "\n", false);
	expect_ok(&t);
	assert_int_equal(t.m.method_id, SIP_METHOD_OTHER);
	assert_str(t.m.method, "NEWMETHOD");
	sip_msg_free(&t.m);
}

static void test_request_uri_kinds(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		enum sip_uri_scheme scheme;
	} cases[] = {
		{"OPTIONS sips:bob@biloxi.com SIP/2.0", SIP_URI_SIPS},
		{"OPTIONS tel:+1-201-555-0123 SIP/2.0", SIP_URI_TEL},
		{"OPTIONS sip:[2001:db8::10:5070] SIP/2.0", SIP_URI_SIP},
		{"OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0", SIP_URI_OTHER}, /* RFC 4475 novelsc: 416 later */
		{"OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0", SIP_URI_OTHER},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "%s\n" HDRS "\n", cases[i].line);
		struct msgt t;
		parse(&t, text, false);
		expect_ok(&t);
		assert_int_equal(t.m.ruri.scheme, cases[i].scheme);
		sip_msg_free(&t.m);
	}
}

static void test_start_line_faults(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		enum sip_fault fault;
		const char *at; /* offending text in the line; "" = the line's end */
		size_t plus;    /* added to at's offset */
	} cases[] = {
		/* RFC 4475 lwsstart, trws: extra SP */
		{"INVITE  sip:bob@biloxi.com SIP/2.0", SIP_FAULT_START_LINE, " sip:", 0},
		{"INVITE sip:bob@biloxi.com  SIP/2.0", SIP_FAULT_START_LINE, " SIP/", 0},
		{"INVITE sip:bob@biloxi.com SIP/2.0 ", SIP_FAULT_START_LINE, "0 ", 1},
		{"INVITE sip:bob@biloxi.com SIP/2.0  ", SIP_FAULT_START_LINE, "  ", 0},
		{"INVITE\tsip:bob@biloxi.com SIP/2.0", SIP_FAULT_START_LINE, "\t", 0},
		{"INVITE sip:bob@biloxi.com", SIP_FAULT_START_LINE, "", 0},
		{"INVITE", SIP_FAULT_START_LINE, "", 0},
		/* method */
		{"INV@ITE sip:bob@biloxi.com SIP/2.0", SIP_FAULT_METHOD, "@", 0},
		{"INVITE: sip:bob@biloxi.com SIP/2.0", SIP_FAULT_METHOD, ":", 0},
		{" INVITE sip:bob@biloxi.com SIP/2.0", SIP_FAULT_METHOD, " INVITE", 0},
		{"<INVITE> sip:bob@biloxi.com SIP/2.0", SIP_FAULT_METHOD, "<", 0},
		/* version: 505 for an unsupported one, 400 for a malformed one */
		{"INVITE sip:bob@biloxi.com SIP/7.0", SIP_FAULT_VERSION, "SIP/7.0", 0},  /* RFC 4475 badvers */
		{"INVITE sip:bob@biloxi.com SIP/2.1", SIP_FAULT_VERSION, "SIP/2.1", 0},
		{"INVITE sip:bob@biloxi.com SIP/20.0", SIP_FAULT_VERSION, "SIP/20.0", 0},
		{"INVITE sip:bob@biloxi.com SIP/2.0x", SIP_FAULT_START_LINE, "SIP/2.0x", 0},
		{"INVITE sip:bob@biloxi.com SIP/2", SIP_FAULT_START_LINE, "SIP/2", 0},
		{"INVITE sip:bob@biloxi.com HTTP/1.1", SIP_FAULT_START_LINE, "HTTP", 0},
		{"INVITE sip:bob@biloxi.com SIP/.0", SIP_FAULT_START_LINE, "SIP/.0", 0},
		/* Request-URI */
		{"INVITE sip:bob@biloxi.com:99999 SIP/2.0", SIP_FAULT_REQUEST_URI, "99999", 0},
		{"INVITE sip:bob @biloxi.com SIP/2.0", SIP_FAULT_REQUEST_URI, " @", 0},   /* RFC 4475 lwsruri */
		{"INVITE <sip:bob@biloxi.com> SIP/2.0", SIP_FAULT_REQUEST_URI, "<sip", 0}, /* RFC 4475 ltgtruri */
		{"INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0", SIP_FAULT_REQUEST_URI,
		 "?Route", 0},                                                              /* RFC 4475 escruri */
		{"INVITE bob@biloxi.com SIP/2.0", SIP_FAULT_REQUEST_URI, "@biloxi", 0},
		{"INVITE sip:%G1@biloxi.com SIP/2.0", SIP_FAULT_REQUEST_URI, "%G1", 0},
		{"INVITE sip: SIP/2.0", SIP_FAULT_REQUEST_URI, " SIP/", 0},
		/* status lines */
		{"SIP/2.0 2000 OK", SIP_FAULT_STATUS_CODE, "2000", 0},
		{"SIP/2.0 20 OK", SIP_FAULT_STATUS_CODE, "20 ", 0},
		{"SIP/2.0 2x0 OK", SIP_FAULT_STATUS_CODE, "2x0", 0},
		{"SIP/2.0 099 Early", SIP_FAULT_STATUS_CODE, "099", 0},
		{"SIP/2.0 700 Beyond", SIP_FAULT_STATUS_CODE, "700", 0},
		{"SIP/2.0 4294967301 better not break the receiver", SIP_FAULT_STATUS_CODE, "4294967301", 0},
		{"SIP/2.0 200", SIP_FAULT_STATUS_CODE, "200", 0},      /* the SP before the reason is required */
		{"SIP/2.0  200 OK", SIP_FAULT_STATUS_CODE, " 200", 0},
		{"SIP/2.0 200 O\x01K", SIP_FAULT_REASON_PHRASE, "\x01", 0},
		{"SIP/2.0 200 OK\x7f", SIP_FAULT_REASON_PHRASE, "\x7f", 0},
		{"SIP/2.0 200 O\rK", SIP_FAULT_REASON_PHRASE, "\r", 0},
		{"SIP/7.0 200 OK", SIP_FAULT_VERSION, "SIP/7.0", 0},
		{"SIP/2.0", SIP_FAULT_START_LINE, "", 0},
		{"SIP/2.0x 200 OK", SIP_FAULT_START_LINE, "SIP/2.0x", 0},
		{"SIP/ 200 OK", SIP_FAULT_START_LINE, "SIP/", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *line = cases[i].line;
		char text[512];
		snprintf(text, sizeof(text), "%s\n" HDRS "Content-Length: 0\n\n", line);
		struct msgt t;
		parse(&t, text, false);
		size_t want = (cases[i].at[0] ? off_of(line, cases[i].at) : strlen(line)) + cases[i].plus;
		if (t.rc != -1)
			fail_msg("case %zu \"%s\" accepted", i, line);
		if (t.err.fault != cases[i].fault || t.err.offset != want)
			fail_msg("case %zu \"%s\": expected %s at %zu, got %s at %zu (%s)", i, line,
				 sip_fault_name(cases[i].fault), want, sip_fault_name(t.err.fault),
				 t.err.offset, t.err.detail);
		sip_msg_free(&t.m);
	}
}

static void test_bad_start_line_keeps_headers(void **state)
{
	(void)state;
	/* a request with an unsupported version can still be answered 505
	 * through its Via */
	struct msgt t;
	parse(&t, "INVITE sip:bob@biloxi.com SIP/7.0\n" HDRS "Content-Length: 0\n\n", false);
	assert_int_equal(t.rc, -1);
	assert_int_equal(t.err.fault, SIP_FAULT_VERSION);
	assert_int_equal(sip_fault_status(t.err.fault), 505);
	assert_true(t.m.is_request);
	struct sip_error e2 = {.base = t.buf};
	struct sip_via *v = sip_msg_via(&t.m, &e2);
	assert_non_null(v);
	assert_str(v->branch, "z9hG4bK776asdhds");
	assert_non_null(t.m.first[SIP_HDR_CALL_ID]);
	sip_msg_free(&t.m);
}

static void test_line_end_faults(void **state)
{
	(void)state;
	struct msgt t;
	/* nothing but CRLFs, or no line end at all */
	parse_raw(&t, "\r\n\r\n", 4, false);
	assert_int_equal(t.rc, -1);
	assert_fault(t.err, SIP_FAULT_HEADERS_UNTERMINATED, 4);
	sip_msg_free(&t.m);
	parse_raw(&t, "INVITE sip:bob@biloxi.com SIP/2.0", 33, false);
	assert_fault(t.err, SIP_FAULT_HEADERS_UNTERMINATED, 33);
	sip_msg_free(&t.m);
	parse_raw(&t, "", 0, false);
	assert_int_equal(t.rc, -1);
	assert_fault(t.err, SIP_FAULT_HEADERS_UNTERMINATED, 0);
	sip_msg_free(&t.m);

	/* bare LF ends the start line */
	static const char lf_start[] = "INVITE sip:bob@biloxi.com SIP/2.0\nVia: SIP/2.0/UDP h\r\n\r\n";
	parse_raw(&t, lf_start, sizeof(lf_start) - 1, false);
	assert_fault(t.err, SIP_FAULT_START_LINE, 33);
	sip_msg_free(&t.m);

	/* bare LF ends a header line */
	static const char lf_hdr[] = "INVITE sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP h\n"
				     "To: <sip:bob@biloxi.com>\r\n\r\n";
	parse_raw(&t, lf_hdr, sizeof(lf_hdr) - 1, false);
	assert_fault(t.err, SIP_FAULT_HEADER_LINE, off_of(lf_hdr, "\nTo:"));
	sip_msg_free(&t.m);
}

/* ---- header splitting ---------------------------------------------------- */

static void test_folding(void **state)
{
	(void)state;
	struct msgt t;
	parse(&t, INVITE_LINE
		  "Via: SIP/2.0/UDP\n"
		  "    pc33.atlanta.com;branch=z9hG4bK776asdhds\n"
		  "Subject: I know you're there,\n"
		  " pick up the phone\n"
		  "\tand talk to me!\n"
		  "To:\n"
		  " Bob <sip:bob@biloxi.com>\n"
		  "From: Alice <sip:alice@atlanta.com>\n"
		  "  ;tag=1928301774\n"
		  "NewFangledHeader:   newfangled value\n"
		  " continued newfangled value\n"
		  "Call-ID: a84b4c76e66710\n"
		  "CSeq: 314159\n"
		  " INVITE\n"
		  "Contact: <sip:a@h>,\n"
		  " <sip:b@h>\n"
		  "Content-Length: 0\n"
		  "\n",
	      false);
	expect_ok(&t);
	struct sip_msg *m = &t.m;
	assert_int_equal(m->hdr_count, 9);
	struct sip_hdr *s = m->first[SIP_HDR_SUBJECT];
	assert_str(s->value, "I know you're there,\r\n pick up the phone\r\n\tand talk to me!");
	assert_str(s->line, "Subject: I know you're there,\r\n pick up the phone\r\n\tand talk to me!");
	struct sip_error err = {.base = t.buf};
	assert_int_equal(sip_hdr_parse(m, s, &err), 0); /* folds are not control characters */
	assert_str(m->first[SIP_HDR_TO]->value, "Bob <sip:bob@biloxi.com>");
	assert_str(m->hdrs[4].name, "NewFangledHeader");
	assert_int_equal(m->hdrs[4].type, SIP_HDR_OTHER);
	assert_str(m->hdrs[4].value, "newfangled value\r\n continued newfangled value");

	assert_int_equal(sip_msg_check(m, &err), 0);
	struct sip_via *v = sip_msg_via(m, &err);
	assert_str(v->host, "pc33.atlanta.com");
	assert_str(sip_msg_from(m, &err)->tag, "1928301774");
	assert_str(sip_msg_cseq(m, &err)->method, "INVITE");
	assert_int_equal(sip_hdr_parse(m, m->first[SIP_HDR_CONTACT], &err), 0);
	assert_str(m->first[SIP_HDR_CONTACT]->v.addr->next->uri.user, "b");
	sip_msg_free(m);
}

static void test_header_name_forms(void **state)
{
	(void)state;
	struct msgt t;
	parse(&t, INVITE_LINE
		  "v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK1\n"
		  "VIA: SIP/2.0/UDP pc34.atlanta.com;branch=z9hG4bK2\n"
		  "t: <sip:bob@biloxi.com>\n"
		  "f: <sip:alice@atlanta.com>;tag=1\n"
		  "i: a84b4c76e66710\n"
		  "cseq: 1 INVITE\n"
		  "m: <sip:alice@pc33.atlanta.com>\n"
		  "k: 100rel\n"
		  "s: hello\n"
		  "e: gzip\n"
		  "Subject  :  spaced\n"
		  "Subject\t:tabbed\n"
		  "Subject:\n"
		  "Subject:   \n"
		  "X-Custom: kept\n"
		  "c: text/plain\n"
		  "l: 4\n"
		  "\n"
		  "abcd",
	      false);
	expect_ok(&t);
	struct sip_msg *m = &t.m;
	assert_int_equal(m->hdrs[0].type, SIP_HDR_VIA);
	assert_str(m->hdrs[0].name, "v");
	assert_ptr_equal(m->first[SIP_HDR_VIA], &m->hdrs[0]);
	assert_ptr_equal(m->first[SIP_HDR_VIA]->next_same, &m->hdrs[1]);
	assert_ptr_equal(m->last[SIP_HDR_VIA], &m->hdrs[1]);
	assert_null(m->hdrs[1].next_same);
	assert_int_equal(m->hdrs[2].type, SIP_HDR_TO);
	assert_int_equal(m->hdrs[3].type, SIP_HDR_FROM);
	assert_int_equal(m->hdrs[4].type, SIP_HDR_CALL_ID);
	assert_int_equal(m->hdrs[5].type, SIP_HDR_CSEQ);
	assert_int_equal(m->hdrs[6].type, SIP_HDR_CONTACT);
	assert_int_equal(m->hdrs[7].type, SIP_HDR_SUPPORTED);
	assert_int_equal(m->hdrs[8].type, SIP_HDR_SUBJECT);
	assert_int_equal(m->hdrs[9].type, SIP_HDR_CONTENT_ENCODING);
	/* whitespace before the colon (HCOLON), empty values */
	assert_str(m->hdrs[10].name, "Subject");
	assert_str(m->hdrs[10].value, "spaced");
	assert_str(m->hdrs[11].value, "tabbed");
	assert_true(sip_str_present(m->hdrs[12].value));
	assert_int_equal(m->hdrs[12].value.len, 0);
	assert_int_equal(m->hdrs[13].value.len, 0);
	assert_str(m->hdrs[13].line, "Subject:   ");
	/* the Subject chain runs through all five */
	unsigned n = 0;
	for (struct sip_hdr *h = m->first[SIP_HDR_SUBJECT]; h; h = h->next_same)
		n++;
	assert_int_equal(n, 5);
	assert_int_equal(m->hdrs[14].type, SIP_HDR_OTHER);
	assert_ptr_equal(m->first[SIP_HDR_OTHER], &m->hdrs[14]);
	assert_int_equal(m->hdrs[15].type, SIP_HDR_CONTENT_TYPE);
	assert_int_equal(m->hdrs[16].type, SIP_HDR_CONTENT_LENGTH);
	assert_int_equal(m->content_length, 4);
	assert_str(m->body, "abcd");
	struct sip_error err = {.base = t.buf};
	assert_int_equal(sip_msg_check(m, &err), 0);
	assert_int_equal(sip_msg_parse_all(m, &err), 0);
	assert_str(sip_msg_call_id(m), "a84b4c76e66710");
	sip_msg_free(m);
}

static void test_header_line_faults(void **state)
{
	(void)state;
	static const struct {
		const char *line;  /* one header line inserted after the start line */
		enum sip_fault fault;
		const char *at;    /* offending text within the line */
	} cases[] = {
		{" Via: SIP/2.0/UDP h", SIP_FAULT_HEADER_LINE, " Via"},
		{"\tSubject: x", SIP_FAULT_HEADER_LINE, "\tSubject"},
		{": no name", SIP_FAULT_HEADER_LINE, ": no"},
		{"NoColonHere value", SIP_FAULT_HEADER_LINE, " value"},
		{"NoColonAtAll", SIP_FAULT_HEADER_LINE, ""},
		{"Bad Header: x", SIP_FAULT_HEADER_LINE, " Header"},
		{"X-Name\x01: x", SIP_FAULT_HEADER_LINE, "\x01"},
		{"X(Paren): x", SIP_FAULT_HEADER_LINE, "(Paren"},
		{"Subject; x: y", SIP_FAULT_HEADER_LINE, "; x"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), INVITE_LINE "%s\n" HDRS "\n", cases[i].line);
		struct msgt t;
		parse(&t, text, false);
		size_t base = strlen(INVITE_LINE) + 1; /* the CR added before the LF */
		size_t want = base + (cases[i].at[0] ? off_of(cases[i].line, cases[i].at)
						     : strlen(cases[i].line));
		if (t.rc != -1)
			fail_msg("case %zu accepted", i);
		if (t.err.fault != cases[i].fault || t.err.offset != want)
			fail_msg("case %zu \"%s\": expected %s at %zu, got %s at %zu (%s)", i,
				 cases[i].line, sip_fault_name(cases[i].fault), want,
				 sip_fault_name(t.err.fault), t.err.offset, t.err.detail);
		sip_msg_free(&t.m);
	}

	/* no empty line after the headers */
	struct msgt t;
	parse(&t, INVITE_LINE HDRS, false);
	assert_fault(t.err, SIP_FAULT_HEADERS_UNTERMINATED, t.len);
	sip_msg_free(&t.m);
	/* the last header line has no line end: that line is unterminated */
	parse(&t, INVITE_LINE HDRS "Subject: cut", false);
	assert_fault(t.err, SIP_FAULT_HEADERS_UNTERMINATED, off_of(t.text, "Subject: cut"));
	sip_msg_free(&t.m);
	/* a request without any header line is split fine (checked later) */
	parse(&t, INVITE_LINE "\n", false);
	expect_ok(&t);
	assert_int_equal(t.m.hdr_count, 0);
	struct sip_error err = {.base = t.buf};
	assert_int_equal(sip_msg_check(&t.m, &err), -1);
	assert_int_equal(err.fault, SIP_FAULT_MISSING_HEADER);
	sip_msg_free(&t.m);
}

/* ---- Content-Length -------------------------------------------------------- */

static void test_content_length_datagram(void **state)
{
	(void)state;
	struct msgt t;
	/* exact */
	parse(&t, INVITE_LINE HDRS "Content-Length:   0004  \n\nabcd", false);
	expect_ok(&t);
	assert_int_equal(t.m.content_length, 4);
	assert_str(t.m.body, "abcd");
	sip_msg_free(&t.m);

	/* RFC 3261 18.3 / RFC 4475 dblreq: octets beyond Content-Length are
	 * not part of the message */
	parse(&t, INVITE_LINE HDRS "Content-Length: 2\n\nabcdINVITE sip:x@y SIP/2.0\n", false);
	expect_ok(&t);
	assert_str(t.m.body, "ab");
	assert_int_equal(t.m.len, t.m.hdr_end + 2);
	assert_true(t.m.len < t.len);
	sip_msg_free(&t.m);

	/* RFC 4475 inv2543: no Content-Length on UDP: the body is the rest */
	parse(&t, INVITE_LINE HDRS "\nv=0\nrest", false);
	expect_ok(&t);
	assert_false(t.m.has_content_length);
	assert_str(t.m.body, "v=0\r\nrest");
	assert_int_equal(t.m.len, t.len);
	sip_msg_free(&t.m);

	/* a body containing an empty line is still one body */
	parse(&t, INVITE_LINE HDRS "Content-Length: 8\n\nab\n\ncd", false);
	expect_ok(&t);
	assert_str(t.m.body, "ab\r\n\r\ncd");
	sip_msg_free(&t.m);

	/* no body */
	parse(&t, INVITE_LINE HDRS "l: 0\n\n", false);
	expect_ok(&t);
	assert_true(t.m.has_content_length);
	assert_int_equal(t.m.body.len, 0);
	sip_msg_free(&t.m);

	/* RFC 4475 clerr: larger than the datagram */
	parse(&t, INVITE_LINE HDRS "Content-Length: 9999\n\nabcd", false);
	assert_int_equal(t.rc, -1);
	assert_fault(t.err, SIP_FAULT_BODY_TRUNCATED, t.len);
	sip_msg_free(&t.m);
}

static void test_content_length_stream(void **state)
{
	(void)state;
	struct msgt t;
	parse(&t, INVITE_LINE HDRS "Content-Length: 4\n\nabcd", true);
	expect_ok(&t);
	assert_str(t.m.body, "abcd");
	sip_msg_free(&t.m);

	/* mandatory on streams (RFC 3261 18.3, 20.14) */
	parse(&t, INVITE_LINE HDRS "\nabcd", true);
	assert_int_equal(t.rc, -1);
	assert_fault(t.err, SIP_FAULT_MISSING_HEADER, t.len - 4);
	sip_msg_free(&t.m);
	parse(&t, INVITE_LINE HDRS "\n", true);
	assert_fault(t.err, SIP_FAULT_MISSING_HEADER, t.len);
	sip_msg_free(&t.m);
}

static void test_content_length_faults(void **state)
{
	(void)state;
	static const struct {
		const char *hdrs;
		const char *at; /* the offending text in the whole message */
	} cases[] = {
		{"Content-Length: -999\n", "-999"},                   /* RFC 4475 ncl */
		{"Content-Length: abc\n", "abc"},
		{"Content-Length: 4294967296\n", "4294967296"},
		{"Content-Length: 36893488147419103232\n", "36893488147419103232"},
		{"Content-Length:\n", "\r\n\r\n"},
		{"Content-Length: 13\nl: 5\n", "l: 5"},                /* RFC 4475 mcl01 */
		{"Content-Length: 4\nContent-Length: 4\n", "Content-Length: 4\r\n\r\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text), INVITE_LINE HDRS "%s\nabcd", cases[i].hdrs);
		for (int stream = 0; stream < 2; stream++) {
			struct msgt t;
			parse(&t, text, stream);
			if (t.rc != -1)
				fail_msg("case %zu accepted", i);
			size_t want = off_of(t.text, cases[i].at);
			if (t.err.fault != SIP_FAULT_CONTENT_LENGTH || t.err.offset != want)
				fail_msg("case %zu: expected bad-content-length at %zu, got %s at %zu (%s)",
					 i, want, sip_fault_name(t.err.fault), t.err.offset, t.err.detail);
			sip_msg_free(&t.m);
		}
	}
}

static void test_size_limit(void **state)
{
	(void)state;
	struct msgt t;
	const char *text = INVITE_LINE HDRS "Content-Length: 0\n\n";
	size_t n;
	free(crlf(text, &n));
	struct sip_parse_opts o = {.max_size = n};
	parse_opts(&t, text, &o);
	expect_ok(&t);
	sip_msg_free(&t.m);
	o.max_size = n - 1;
	parse_opts(&t, text, &o);
	assert_int_equal(t.rc, -1);
	assert_fault(t.err, SIP_FAULT_TOO_LARGE, n - 1);
	assert_int_equal(sip_fault_status(t.err.fault), 513);
	sip_msg_free(&t.m);

	/* default limit: 65535 */
	size_t big = SIP_DEFAULT_MAX_MESSAGE + 1;
	char *b = malloc(big + 1);
	size_t k = (size_t)snprintf(b, big, INVITE_LINE HDRS "Subject: ");
	memset(b + k, 'x', big - k);
	memcpy(b + big - 4, "\n\n\n\n", 4);
	b[big] = 0;
	/* this one is raw bytes: turn the few LFs into CRLF by hand is not
	 * needed, the size check comes first */
	parse_raw(&t, b, big, false);
	assert_fault(t.err, SIP_FAULT_TOO_LARGE, SIP_DEFAULT_MAX_MESSAGE);
	sip_msg_free(&t.m);
	free(b);
}

static void test_arena_limit(void **state)
{
	(void)state;
	/* 300 header lines do not fit the inline arena; with no overflow
	 * allowed the parser reports no-memory (500), not a crash */
	size_t cap = 300 * 40 + 1024, k = 0;
	char *text = malloc(cap);
	k += (size_t)snprintf(text + k, cap - k, INVITE_LINE);
	for (int i = 0; i < 300; i++)
		k += (size_t)snprintf(text + k, cap - k, "X-H%d: %d\n", i, i);
	k += (size_t)snprintf(text + k, cap - k, "\n");
	struct msgt t;
	struct sip_parse_opts o = {.arena_limit = 1};
	parse_opts(&t, text, &o);
	assert_int_equal(t.rc, -1);
	assert_fault(t.err, SIP_FAULT_NO_MEMORY, strlen(INVITE_LINE) + 1);
	assert_int_equal(sip_fault_status(t.err.fault), 500);
	sip_msg_free(&t.m);
	/* with the default limit it parses */
	parse(&t, text, false);
	expect_ok(&t);
	assert_int_equal(t.m.hdr_count, 300);
	sip_msg_free(&t.m);
	free(text);
}

/* ---- sip_msg_check --------------------------------------------------------- */

static void test_check_ok(void **state)
{
	(void)state;
	struct msgt t;
	struct sip_error err;
	parse(&t, INVITE_LINE HDRS "Content-Length: 0\n\n", false);
	expect_ok(&t);
	err = (struct sip_error){.base = t.buf};
	assert_int_equal(sip_msg_check(&t.m, &err), 0);
	assert_int_equal(err.fault, SIP_FAULT_NONE);
	sip_msg_free(&t.m);

	/* RFC 4475 inv2543: no Max-Forwards, no branch, no tag */
	parse(&t, "INVITE sip:UserB@biloxi.com SIP/2.0\n"
		  "Via: SIP/2.0/UDP iftgw.biloxi.com\n"
		  "Via: SIP/2.0/UDP iftmg.biloxi.com\n"
		  "Via: SIP/2.0/UDP iftsg.biloxi.com\n"
		  "To: sip:+13125555555@biloxi.com;user=phone\n"
		  "From: sip:+17325555555@biloxi.com;user=phone\n"
		  "Call-ID: 1@10.0.0.1\n"
		  "CSeq: 1 INVITE\n"
		  "\n",
	      false);
	expect_ok(&t);
	err = (struct sip_error){.base = t.buf};
	assert_int_equal(sip_msg_check(&t.m, &err), 0);
	assert_int_equal(sip_msg_max_forwards(&t.m, &err), -1);
	assert_false(sip_via_branch_is_rfc3261(sip_msg_via(&t.m, &err)));
	sip_msg_free(&t.m);

	/* RFC 4475 zeromf: Max-Forwards 0 is well-formed */
	parse(&t, "OPTIONS sip:user@example.com SIP/2.0\n"
		  "To: sip:user@example.com\n"
		  "From: sip:caller@example.net;tag=3ghsd41\n"
		  "Call-ID: zeromf.rt2gtr8i@example.net\n"
		  "CSeq: 39202 OPTIONS\n"
		  "Max-Forwards: 0\n"
		  "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2395\n"
		  "Content-Length: 0\n\n",
	      false);
	err = (struct sip_error){.base = t.buf};
	assert_int_equal(sip_msg_check(&t.m, &err), 0);
	assert_int_equal(sip_msg_max_forwards(&t.m, &err), 0);
	sip_msg_free(&t.m);

	/* responses: the CSeq method is not compared with anything */
	parse(&t, "SIP/2.0 200 OK\n" HDRS "Content-Length: 0\n\n", false);
	err = (struct sip_error){.base = t.buf};
	assert_int_equal(sip_msg_check(&t.m, &err), 0);
	sip_msg_free(&t.m);

	/* several Via, Contact, Route are fine */
	parse(&t, INVITE_LINE HDRS "Via: SIP/2.0/UDP h2;branch=z9hG4bK2\nContact: <sip:b@h>\n"
				   "Route: <sip:p1@h;lr>\nRoute: <sip:p2@h;lr>\n\n",
	      false);
	err = (struct sip_error){.base = t.buf};
	assert_int_equal(sip_msg_check(&t.m, &err), 0);
	sip_msg_free(&t.m);
}

static void test_check_missing(void **state)
{
	(void)state;
	static const struct {
		const char *hdrs;
		const char *name;
	} cases[] = {
		{"To: <sip:b@h>\nFrom: <sip:a@h>;tag=1\nCall-ID: c\nCSeq: 1 INVITE\n", "Via"},
		{"Via: SIP/2.0/UDP h\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 INVITE\n", "From"},
		{"Via: SIP/2.0/UDP h\nFrom: <sip:a@h>;tag=1\nCall-ID: c\nCSeq: 1 INVITE\n", "To"},
		{"Via: SIP/2.0/UDP h\nTo: <sip:b@h>\nFrom: <sip:a@h>;tag=1\nCSeq: 1 INVITE\n", "Call-ID"},
		{"Via: SIP/2.0/UDP h\nTo: <sip:b@h>\nFrom: <sip:a@h>;tag=1\nCall-ID: c\n", "CSeq"},
		/* RFC 4475 insuf: no Call-ID, From, To */
		{"Via: SIP/2.0/UDP h\nCSeq: 1 INVITE\nMax-Forwards: 70\n", "From"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), INVITE_LINE "%s\n", cases[i].hdrs);
		struct msgt t;
		parse(&t, text, false);
		expect_ok(&t); /* parsing does not check presence */
		struct sip_error err = {.base = t.buf};
		assert_int_equal(sip_msg_check(&t.m, &err), -1);
		/* no offending byte: the fault points at the end of the headers */
		assert_fault(err, SIP_FAULT_MISSING_HEADER, t.m.hdr_end);
		if (!strstr(err.detail, cases[i].name))
			fail_msg("case %zu: detail \"%s\" does not name %s", i, err.detail, cases[i].name);
		sip_msg_free(&t.m);
	}
}

static void test_check_duplicates(void **state)
{
	(void)state;
	static const struct {
		const char *extra; /* appended after HDRS */
		const char *at;    /* the second occurrence */
	} cases[] = {
		{"From: <sip:x@h>;tag=2\n", "From: <sip:x"},
		{"f: <sip:x@h>;tag=2\n", "f: <sip:x"},
		{"To: <sip:x@h>\n", "To: <sip:x"},
		{"i: other-call-id\n", "i: other"},
		{"Call-ID: other-call-id\n", "Call-ID: other"},
		{"CSeq: 314160 INVITE\n", "CSeq: 314160"},
		{"Max-Forwards: 69\n", "Max-Forwards: 69"},
		{"Content-Type: text/plain\nc: text/html\n", "c: text/html"},
		{"Expires: 60\nExpires: 30\n", "Expires: 30"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text), INVITE_LINE HDRS "%s\n", cases[i].extra);
		struct msgt t;
		parse(&t, text, false);
		expect_ok(&t);
		struct sip_error err = {.base = t.buf};
		assert_int_equal(sip_msg_check(&t.m, &err), -1);
		assert_fault(err, SIP_FAULT_DUPLICATE_HEADER, off_of(t.text, cases[i].at));
		sip_msg_free(&t.m);
	}

	/* RFC 4475 multi01 */
	struct msgt t;
	parse(&t, "INVITE sip:user@company.com SIP/2.0\n"
		  "Contact: <sip:caller@host25.example.net>\n"
		  "Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\n"
		  "Max-Forwards: 70\n"
		  "CSeq: 5 INVITE\n"
		  "Call-ID: multi01.98asdh@192.0.2.1\n"
		  "CSeq: 59 INVITE\n"
		  "Call-ID: multi01.98asdh@192.0.2.2\n"
		  "From: sip:caller@example.com;tag=3413415\n"
		  "To: sip:user@example.com\n"
		  "To: sip:other@example.net\n"
		  "From: sip:caller@example.net;tag=2923420123\n"
		  "Content-Type: application/sdp\n"
		  "l: 0\n"
		  "Max-Forwards: 80\n"
		  "\n",
	      false);
	struct sip_error err = {.base = t.buf};
	assert_int_equal(sip_msg_check(&t.m, &err), -1);
	assert_int_equal(err.fault, SIP_FAULT_DUPLICATE_HEADER);
	sip_msg_free(&t.m);
}

static void test_check_cseq_method(void **state)
{
	(void)state;
	static const struct {
		const char *line, *cseq;
		bool ok;
	} cases[] = {
		{"INVITE sip:bob@biloxi.com SIP/2.0", "1 INVITE", true},
		{"ACK sip:bob@biloxi.com SIP/2.0", "1 ACK", true},
		{"INVITE sip:bob@biloxi.com SIP/2.0", "1 BYE", false},      /* RFC 4475 mismatch01 */
		{"INVITE sip:bob@biloxi.com SIP/2.0", "1 invite", false},   /* case-sensitive */
		{"NEWMETHOD sip:bob@biloxi.com SIP/2.0", "1 INVITE", false}, /* RFC 4475 mismatch02 */
		{"NEWMETHOD sip:bob@biloxi.com SIP/2.0", "1 NEWMETHOD", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text),
			 "%s\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: <sip:b@h>\nFrom: <sip:a@h>;tag=1\n"
			 "Call-ID: c\nCSeq: %s\n\n",
			 cases[i].line, cases[i].cseq);
		struct msgt t;
		parse(&t, text, false);
		expect_ok(&t);
		struct sip_error err = {.base = t.buf};
		int r = sip_msg_check(&t.m, &err);
		if ((r == 0) != cases[i].ok)
			fail_msg("case %zu: expected %s", i, cases[i].ok ? "success" : "failure");
		if (!cases[i].ok)
			assert_fault(err, SIP_FAULT_CSEQ_METHOD, off_of(t.text, cases[i].cseq) + 2);
		sip_msg_free(&t.m);
	}
}

static void test_check_bad_values(void **state)
{
	(void)state;
	static const struct {
		const char *find, *replace; /* a line of HDRS and its malformed form */
		const char *at;             /* offending text in the message */
	} cases[] = {
		{"To: Bob <sip:bob@biloxi.com>", "To: \"Bob <sip:bob@biloxi.com>", "\"Bob"},
		{"To: Bob <sip:bob@biloxi.com>", "To: Bob <sip:bob@biloxi.com:99999>", "99999"},
		{"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
		 "Via: SIP/2.0/UDP pc33.atlanta.com;;branch=z9hG4bK776asdhds", ";branch"},
		{"CSeq: 314159 INVITE", "CSeq: 36893488147419103232 INVITE", "36893488147419103232"},
		{"Call-ID: a84b4c76e66710@pc33.atlanta.com", "Call-ID: a84b4c76e66710@", "@\r\n"},
		{"Max-Forwards: 70", "Max-Forwards: 300", "300"},           /* RFC 4475 scalar02 */
		{"Max-Forwards: 70", "Max-Forwards: seventy", "seventy"},
		{"From: Alice <sip:alice@atlanta.com>;tag=1928301774",
		 "From: Alice <sip:alice@atlanta.com>;tag=\"1928301774\"", "tag="},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		const char *hdrs = INVITE_LINE HDRS "Content-Length: 0\n\n";
		const char *p = strstr(hdrs, cases[i].find);
		assert_non_null(p);
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(p - hdrs), hdrs, cases[i].replace,
			 p + strlen(cases[i].find));
		struct msgt t;
		parse(&t, text, false);
		expect_ok(&t);
		struct sip_error err = {.base = t.buf};
		assert_int_equal(sip_msg_check(&t.m, &err), -1);
		size_t want = off_of(t.text, cases[i].at);
		if (strcmp(cases[i].at, "@\r\n") == 0)
			want += 1; /* the empty word after '@' */
		if (err.fault != SIP_FAULT_HEADER_VALUE || err.offset != want)
			fail_msg("case %zu: expected bad-header-value at %zu, got %s at %zu (%s)", i, want,
				 sip_fault_name(err.fault), err.offset, err.detail);
		sip_msg_free(&t.m);
	}
}

/* ---- accessors and laziness -------------------------------------------------- */

static void test_accessors(void **state)
{
	(void)state;
	struct msgt t;
	parse(&t, INVITE_LINE
		  "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1, SIP/2.0/TCP p2.example.com;branch=z9hG4bK2\n"
		  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK3\n"
		  "Max-Forwards: 69\n"
		  "To: Bob <sip:bob@biloxi.com>\n"
		  "From: \"Alice\" <sip:alice@atlanta.com>;tag=1928301774\n"
		  "i: AbC-Case-Sensitive@Host\n"
		  "CSeq: 314159 INVITE\n"
		  "\n",
	      false);
	expect_ok(&t);
	struct sip_msg *m = &t.m;
	struct sip_error err = {.base = t.buf};
	struct sip_via *v = sip_msg_via(m, &err);
	assert_non_null(v);
	assert_str(v->host, "p1.example.com");
	assert_str(v->next->host, "p2.example.com");
	assert_ptr_equal(sip_msg_via(m, &err), v); /* cached */
	assert_int_equal(m->first[SIP_HDR_VIA]->state, 1);
	assert_int_equal(m->first[SIP_HDR_VIA]->next_same->state, 0); /* not asked for */
	struct sip_addr *from = sip_msg_from(m, &err);
	assert_str(from->display, "Alice");
	assert_str(from->tag, "1928301774");
	struct sip_addr *to = sip_msg_to(m, &err);
	assert_str(to->uri.user, "bob");
	assert_false(sip_str_present(to->tag));
	const struct sip_cseq *cs = sip_msg_cseq(m, &err);
	assert_int_equal(cs->seq, 314159);
	assert_str(cs->method, "INVITE");
	assert_str(sip_msg_call_id(m), "AbC-Case-Sensitive@Host");
	assert_int_equal(sip_msg_max_forwards(m, &err), 69);
	assert_int_equal(err.fault, SIP_FAULT_NONE);
	sip_msg_free(m);

	/* absent headers: NULL / -1, no fault */
	parse(&t, "SIP/2.0 200 OK\nContent-Length: 0\n\n", false);
	expect_ok(&t);
	err = (struct sip_error){.base = t.buf};
	assert_null(sip_msg_via(&t.m, &err));
	assert_null(sip_msg_from(&t.m, &err));
	assert_null(sip_msg_to(&t.m, &err));
	assert_null(sip_msg_cseq(&t.m, &err));
	assert_false(sip_str_present(sip_msg_call_id(&t.m)));
	assert_int_equal(sip_msg_max_forwards(&t.m, &err), -1);
	assert_int_equal(err.fault, SIP_FAULT_NONE);
	sip_msg_free(&t.m);

	/* malformed: NULL / -2 with the fault */
	parse(&t, INVITE_LINE "From: \"Alice <sip:alice@atlanta.com>\nMax-Forwards: 256\n\n", false);
	expect_ok(&t);
	err = (struct sip_error){.base = t.buf};
	assert_null(sip_msg_from(&t.m, &err));
	assert_fault(err, SIP_FAULT_HEADER_VALUE, off_of(t.text, "\"Alice"));
	assert_null(sip_msg_from(&t.m, NULL)); /* cached failure */
	err = (struct sip_error){.base = t.buf};
	assert_int_equal(sip_msg_max_forwards(&t.m, &err), -2);
	assert_fault(err, SIP_FAULT_HEADER_VALUE, off_of(t.text, "256"));
	sip_msg_free(&t.m);
}

static void test_laziness(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		const char *at;
	} bad[] = {
		{"Contact: <sip:a@h", "<sip:a@h"},
		{"Date: Sat, 13 Nov 2010 23:29:00 EST", "EST"},           /* RFC 4475 baddate */
		{"Subject: a\x01z", "\x01z"},
		{"Warning: bogus", "bogus"},
		{"Content-Type: text", "\r\nExpires"},
		{"Expires: soon", "soon"},
		{"Require: foo bar", "bar"},
		{"Accept: application", "\r\nAuthorization"},
		{"Authorization: Digest realm", "\r\nRetry-After"},
		{"Retry-After: (x)", "(x)"},
		{"Route: <sip:a@h> junk", "junk"},
		{"X-Custom: a\x7fz", "\x7fz"},
	};
	char text[4096];
	size_t k = (size_t)snprintf(text, sizeof(text), INVITE_LINE HDRS);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		k += (size_t)snprintf(text + k, sizeof(text) - k, "%s\n", bad[i].line);
	snprintf(text + k, sizeof(text) - k, "Content-Length: 0\n\n");

	struct msgt t;
	parse(&t, text, false);
	expect_ok(&t); /* nobody asked for those headers yet */
	struct sip_error err = {.base = t.buf};
	assert_int_equal(sip_msg_check(&t.m, &err), 0);
	/* the strict check reports the first malformed header */
	err = (struct sip_error){.base = t.buf};
	assert_int_equal(sip_msg_parse_all(&t.m, &err), -1);
	assert_fault(err, SIP_FAULT_HEADER_VALUE, off_of(t.text, bad[0].at));
	/* each one, asked for alone, fails at its offending byte */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sip_hdr *h = &t.m.hdrs[7 + i]; /* after the 7 lines of HDRS */
		err = (struct sip_error){.base = t.buf};
		if (sip_hdr_parse(&t.m, h, &err) != -1)
			fail_msg("\"%s\" accepted", bad[i].line);
		/* "\r\n...": the value ended where more was required */
		size_t want = off_of(t.text, bad[i].at);
		if (err.fault != SIP_FAULT_HEADER_VALUE || err.offset != want)
			fail_msg("\"%s\": expected offset %zu, got %s at %zu (%s)", bad[i].line, want,
				 sip_fault_name(err.fault), err.offset, err.detail);
		assert_int_equal(h->state, -1);
		assert_int_equal(sip_hdr_parse(&t.m, h, NULL), -1);
	}
	/* good headers parse and are cached */
	struct sip_hdr *h = t.m.first[SIP_HDR_CONTENT_LENGTH];
	assert_int_equal(h->state, 1); /* parsed while splitting */
	assert_int_equal(sip_hdr_parse(&t.m, h, NULL), 0);
	assert_int_equal(h->v.uint, 0);
	sip_msg_free(&t.m);
}

static void test_opaque_text(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		size_t len;
		bool ok;
	} cases[] = {
		{"plain text", 10, true},
		{"tab\tinside", 10, true},
		{"UTF-8 \xc3\xa9\xe2\x82\xac", 11, true},
		{"folded\r\n line", 13, true},
		{"nul\0inside", 10, false},
		{"bell\x07", 5, false},
		{"del\x7f", 4, false},
		{"cr\rinside", 9, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		size_t k = (size_t)snprintf(text, sizeof(text), "OPTIONS sip:b@h SIP/2.0\r\nSubject: ");
		memcpy(text + k, cases[i].value, cases[i].len);
		k += cases[i].len;
		memcpy(text + k, "\r\n\r\n", 4);
		k += 4;
		struct msgt t;
		parse_raw(&t, text, k, false);
		expect_ok(&t);
		struct sip_error err = {.base = t.buf};
		int r = sip_hdr_parse(&t.m, t.m.first[SIP_HDR_SUBJECT], &err);
		if ((r == 0) != cases[i].ok)
			fail_msg("case %zu: expected %s", i, cases[i].ok ? "success" : "failure");
		if (!cases[i].ok) {
			size_t at = 0;
			for (size_t j = 0; j < cases[i].len; j++) {
				unsigned char c = (unsigned char)cases[i].value[j];
				if ((c < 0x20 && c != '\t') || c == 0x7f) {
					at = j;
					break;
				}
			}
			assert_fault(err, SIP_FAULT_HEADER_VALUE, strlen("OPTIONS sip:b@h SIP/2.0\r\nSubject: ") + at);
		}
		sip_msg_free(&t.m);
	}
}

/* ---- errors ---------------------------------------------------------------- */

static void test_fault_names_and_status(void **state)
{
	(void)state;
	static const struct {
		enum sip_fault f;
		const char *name;
		int status;
	} cases[] = {
		{SIP_FAULT_NONE, "none", 200},
		{SIP_FAULT_TOO_LARGE, "too-large", 513},
		{SIP_FAULT_START_LINE, "bad-start-line", 400},
		{SIP_FAULT_METHOD, "bad-method", 400},
		{SIP_FAULT_REQUEST_URI, "bad-request-uri", 400},
		{SIP_FAULT_VERSION, "unsupported-version", 505},
		{SIP_FAULT_STATUS_CODE, "bad-status-code", 400},
		{SIP_FAULT_REASON_PHRASE, "bad-reason-phrase", 400},
		{SIP_FAULT_HEADER_LINE, "bad-header-line", 400},
		{SIP_FAULT_HEADERS_UNTERMINATED, "headers-unterminated", 400},
		{SIP_FAULT_HEADER_VALUE, "bad-header-value", 400},
		{SIP_FAULT_DUPLICATE_HEADER, "duplicate-header", 400},
		{SIP_FAULT_MISSING_HEADER, "missing-header", 400},
		{SIP_FAULT_CONTENT_LENGTH, "bad-content-length", 400},
		{SIP_FAULT_BODY_TRUNCATED, "body-truncated", 400},
		{SIP_FAULT_CSEQ_METHOD, "cseq-method-mismatch", 400},
		{SIP_FAULT_NO_MEMORY, "no-memory", 500},
		{SIP_FAULT_BODY, "bad-body", 400},
	};
	assert_int_equal(sizeof(cases) / sizeof(cases[0]), SIP_FAULT_COUNT);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_string_equal(sip_fault_name(cases[i].f), cases[i].name);
		assert_int_equal(sip_fault_status(cases[i].f), cases[i].status);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(cases[j].name, cases[i].name);
	}
	assert_string_equal(sip_fault_name(SIP_FAULT_COUNT), "unknown");
	assert_string_equal(sip_fault_name((enum sip_fault)-1), "unknown");
}

static void test_sip_fail(void **state)
{
	(void)state;
	const char buf[] = "0123456789";
	struct sip_error err = {.base = buf};
	assert_int_equal(sip_fail(&err, SIP_FAULT_HEADER_VALUE, buf + 4, "first %d", 1), -1);
	assert_int_equal(err.fault, SIP_FAULT_HEADER_VALUE);
	assert_int_equal(err.offset, 4);
	assert_string_equal(err.detail, "first 1");
	/* the first fault wins */
	assert_int_equal(sip_fail(&err, SIP_FAULT_TOO_LARGE, buf + 7, "second"), -1);
	assert_int_equal(err.fault, SIP_FAULT_HEADER_VALUE);
	assert_int_equal(err.offset, 4);
	assert_string_equal(err.detail, "first 1");
	/* no record, no base, a position before the base */
	assert_int_equal(sip_fail(NULL, SIP_FAULT_BODY, buf, "x"), -1);
	struct sip_error nb = {0};
	sip_fail(&nb, SIP_FAULT_BODY, buf + 3, "x");
	assert_int_equal(nb.offset, 0);
	struct sip_error before = {.base = buf + 5};
	sip_fail(&before, SIP_FAULT_BODY, buf + 2, "x");
	assert_int_equal(before.offset, 0);
	/* the sentence is cut to the record, NUL-terminated */
	char longer[400];
	memset(longer, 'y', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	struct sip_error cut = {.base = buf};
	sip_fail(&cut, SIP_FAULT_BODY, buf, "%s", longer);
	assert_int_equal(strlen(cut.detail), sizeof(cut.detail) - 1);
}

static void test_error_base_preset(void **state)
{
	(void)state;
	/* a caller that parses a message in the middle of its receive buffer
	 * gets offsets from the start of that buffer */
	size_t n;
	char *c = crlf("garbage..INVITE  sip:bob@biloxi.com SIP/2.0\n" HDRS "\n", &n);
	const char *buf = tu_copy(c, n);
	free(c);
	struct sip_msg m;
	struct sip_error err = {.base = buf};
	assert_int_equal(sip_msg_parse(&m, buf + 9, n - 9, NULL, &err), -1);
	assert_fault(err, SIP_FAULT_START_LINE, 9 + 7);
	sip_msg_free(&m);
	/* and without an error record at all */
	assert_int_equal(sip_msg_parse(&m, buf + 9, n - 9, NULL, NULL), -1);
	sip_msg_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_basic),
		cmocka_unit_test(test_leading_crlfs_ignored),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_request_uri_kinds),
		cmocka_unit_test(test_start_line_faults),
		cmocka_unit_test(test_bad_start_line_keeps_headers),
		cmocka_unit_test(test_line_end_faults),
		cmocka_unit_test(test_folding),
		cmocka_unit_test(test_header_name_forms),
		cmocka_unit_test(test_header_line_faults),
		cmocka_unit_test(test_content_length_datagram),
		cmocka_unit_test(test_content_length_stream),
		cmocka_unit_test(test_content_length_faults),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_arena_limit),
		cmocka_unit_test(test_check_ok),
		cmocka_unit_test(test_check_missing),
		cmocka_unit_test(test_check_duplicates),
		cmocka_unit_test(test_check_cseq_method),
		cmocka_unit_test(test_check_bad_values),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_laziness),
		cmocka_unit_test(test_opaque_text),
		cmocka_unit_test(test_fault_names_and_status),
		cmocka_unit_test(test_sip_fail),
		cmocka_unit_test(test_error_base_preset),
	};
	return cmocka_run_group_tests(tests, NULL, tu_free_all);
}
