/*
 * Unit tests for the edit and serialize half of common/sip/msg.[ch]: a
 * message written back without edits is byte-identical to what was parsed
 * (a proxy must not reformat what it does not touch, RFC 3261 16.6); header
 * inserts at the top, middle and end, replacements, removals, a new start
 * line, and a new body with Content-Length rewritten; every output parses
 * again as a stream message.
 */
#include "testutil.h"

#include "sip/msg.h"

struct fixture {
	struct sip_msg m;
	const char *buf;
	size_t len;
	char out[8192];
	size_t out_len;
};

static void parse_text(struct fixture *f, const char *lines, bool stream)
{
	size_t n;
	char *c = crlf(lines, &n);
	f->buf = tu_copy(c, n);
	f->len = n;
	free(c);
	struct sip_error err = {0};
	struct sip_parse_opts o = {.stream = stream};
	if (sip_msg_parse(&f->m, f->buf, n, &o, &err) != 0)
		fail_msg("parse failed: %s at %zu", err.detail, err.offset);
}

static void serialize(struct fixture *f)
{
	f->out_len = sip_msg_serialize(&f->m, f->out, sizeof(f->out));
	assert_true(f->out_len <= sizeof(f->out));
	/* asking for the size alone gives the same answer */
	assert_int_equal(sip_msg_serialize(&f->m, NULL, 0), f->out_len);
}

/* The output must equal the lines given (with "\n" as CRLF). */
static void expect_out(struct fixture *f, const char *lines)
{
	size_t n;
	char *want = crlf(lines, &n);
	if (f->out_len != n || memcmp(f->out, want, n) != 0)
		fail_msg("serialized:\n%.*s\nexpected:\n%s", (int)f->out_len, f->out, want);
	free(want);
}

/* The output parses again as a stream message and passes the checks. */
static void reparse(struct fixture *f, struct sip_msg *m)
{
	const char *c = tu_copy(f->out, f->out_len);
	struct sip_error err = {.base = c};
	struct sip_parse_opts o = {.stream = true};
	if (sip_msg_parse(m, c, f->out_len, &o, &err) != 0 || sip_msg_check(m, &err) != 0 ||
	    sip_msg_parse_all(m, &err) != 0)
		fail_msg("output does not parse: %s at %zu\n%.*s", err.detail, err.offset,
			 (int)f->out_len, f->out);
	assert_int_equal(m->len, f->out_len);
}

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct fixture));
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	sip_msg_free(&f->m);
	free(f);
	return 0;
}

#define INVITE                                                        \
	"INVITE sip:bob@biloxi.com SIP/2.0\n"                         \
	"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\n" \
	"Max-Forwards: 70\n"                                          \
	"To: Bob <sip:bob@biloxi.com>\n"                              \
	"From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"        \
	"Call-ID: a84b4c76e66710@pc33.atlanta.com\n"                  \
	"CSeq: 314159 INVITE\n"                                       \
	"Contact: <sip:alice@pc33.atlanta.com>\n"                     \
	"Content-Type: application/sdp\n"                             \
	"Content-Length: 4\n"                                         \
	"\n"                                                          \
	"abcd"

/* ---- no edits ------------------------------------------------------------- */

static void test_roundtrip_identical(void **state)
{
	(void)state;
	static const char *const msgs[] = {
		INVITE,
		/* folding, odd spacing, compact and unknown headers, UTF-8 */
		"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\n"
		"TO :\n"
		" sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\n"
		"from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\n"
		"  ;\n"
		"  tag = 98asjd8\n"
		"MaX-fOrWaRdS: 0068\n"
		"Call-ID: wsinv.ndaksdj@192.0.2.1\n"
		"Content-Length   : 10\n"
		"cseq: 0009\n"
		"  INVITE\n"
		"Via  : SIP  /   2.0\n"
		" /UDP\n"
		"    192.0.2.2;branch=390skdjuw\n"
		"s :\n"
		"NewFangledHeader:   newfangled value\n"
		" continued newfangled value\n"
		"UnknownHeaderWithUnusualValue: ;;,,;;,;\n"
		"Content-Type: application/sdp\n"
		"Route:\n"
		" <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\n"
		"v:  SIP  / 2.0  / TCP     spindle.example.com   ;\n"
		"  branch  =   z9hG4bK9ikj8  ,\n"
		" SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n"
		" z9hG4bK30239\n"
		"m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\n"
		"      newvalue ;\n"
		"  secondparam ; q = 0.33\n"
		"Subject: caf\xc3\xa9 \xe2\x82\xac   \n"
		"\n"
		"v=0\n"
		"s=-\n",
		/* a response, an empty reason phrase */
		"SIP/2.0 100 \n"
		"Via: SIP/2.0/TCP h;branch=z9hG4bK1\n"
		"To: <sip:b@h>\n"
		"From: <sip:a@h>;tag=1\n"
		"Call-ID: c\n"
		"CSeq: 1 INVITE\n"
		"l: 0\n"
		"\n",
		/* a body with empty lines and CRLFs at its end */
		"MESSAGE sip:b@h SIP/2.0\n"
		"Via: SIP/2.0/TCP h;branch=z9hG4bK1\n"
		"To: <sip:b@h>\n"
		"From: <sip:a@h>;tag=1\n"
		"Call-ID: c\n"
		"CSeq: 1 MESSAGE\n"
		"Content-Length: 12\n"
		"\n"
		"ab\n\ncd\n\n",
	};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct fixture f = {0};
		parse_text(&f, msgs[i], true);
		serialize(&f);
		if (f.out_len != f.len || memcmp(f.out, f.buf, f.len) != 0)
			fail_msg("message %zu changed:\n%.*s", i, (int)f.out_len, f.out);
		sip_msg_free(&f.m);
	}
}

static void test_framing_extras_dropped(void **state)
{
	struct fixture *f = *state;
	/* leading CRLFs and octets beyond Content-Length are not the message */
	parse_text(f, "\n\n" INVITE "TRAILING GARBAGE", false);
	serialize(f);
	expect_out(f, INVITE);
	assert_int_equal(f->out_len, f->m.len);
}

static void test_small_buffer(void **state)
{
	struct fixture *f = *state;
	parse_text(f, INVITE, true);
	size_t need = sip_msg_serialize(&f->m, NULL, 0);
	assert_int_equal(need, f->len);
	char small[64];
	memset(small, 0x5a, sizeof(small));
	/* too small: the size needed is returned, nothing is written past cap */
	assert_int_equal(sip_msg_serialize(&f->m, small, 32), need);
	for (size_t i = 32; i < sizeof(small); i++)
		assert_int_equal((unsigned char)small[i], 0x5a);
	/* exactly enough */
	char *exact = malloc(need);
	assert_int_equal(sip_msg_serialize(&f->m, exact, need), need);
	assert_memory_equal(exact, f->buf, need);
	free(exact);
}

/* ---- header edits ---------------------------------------------------------- */

static void insert(struct sip_msg *m, const struct sip_hdr *before, const char *line)
{
	assert_int_equal(sip_msg_insert_header(m, before, line, strlen(line)), 0);
}

static void test_insert_top_middle_end(void **state)
{
	struct fixture *f = *state;
	parse_text(f, INVITE, true);
	struct sip_msg *m = &f->m;
	/* given out of order on purpose */
	insert(m, NULL, "X-End: 1");
	insert(m, m->first[SIP_HDR_TO], "Record-Route: <sip:p1.example.com;lr>");
	insert(m, &m->hdrs[0], "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1");
	insert(m, NULL, "X-End: 2");                         /* after X-End: 1 */
	insert(m, m->first[SIP_HDR_TO], "Record-Route: <sip:p2.example.com;lr>");
	serialize(f);
	expect_out(f, "INVITE sip:bob@biloxi.com SIP/2.0\n"
		      "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1\n"
		      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\n"
		      "Max-Forwards: 70\n"
		      "Record-Route: <sip:p1.example.com;lr>\n"
		      "Record-Route: <sip:p2.example.com;lr>\n"
		      "To: Bob <sip:bob@biloxi.com>\n"
		      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"
		      "Call-ID: a84b4c76e66710@pc33.atlanta.com\n"
		      "CSeq: 314159 INVITE\n"
		      "Contact: <sip:alice@pc33.atlanta.com>\n"
		      "Content-Type: application/sdp\n"
		      "Content-Length: 4\n"
		      "X-End: 1\n"
		      "X-End: 2\n"
		      "\n"
		      "abcd");
	struct sip_msg r;
	reparse(f, &r);
	struct sip_error err = {0};
	assert_str(sip_msg_via(&r, &err)->host, "p1.example.com");
	assert_str(r.first[SIP_HDR_RECORD_ROUTE]->v.addr->uri.host, "p1.example.com");
	assert_str(r.body, "abcd");
	sip_msg_free(&r);
}

static void test_replace_and_remove(void **state)
{
	struct fixture *f = *state;
	parse_text(f, "SIP/2.0 200 OK\n"
		      "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1\n"
		      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\n"
		      "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\n"
		      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"
		      "Call-ID: a84b4c76e66710@pc33.atlanta.com\n"
		      "Subject: folded\n"
		      " over two lines\n"
		      "CSeq: 314159 INVITE\n"
		      "Content-Length: 0\n"
		      "\n",
		      true);
	struct sip_msg *m = &f->m;
	/* a proxy removes its own Via from a response */
	sip_msg_remove_header(m->first[SIP_HDR_VIA]);
	const char *subj = "Subject: one line";
	assert_int_equal(sip_msg_replace_header(m, m->first[SIP_HDR_SUBJECT], subj, strlen(subj)), 0);
	serialize(f);
	expect_out(f, "SIP/2.0 200 OK\n"
		      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\n"
		      "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\n"
		      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"
		      "Call-ID: a84b4c76e66710@pc33.atlanta.com\n"
		      "Subject: one line\n"
		      "CSeq: 314159 INVITE\n"
		      "Content-Length: 0\n"
		      "\n");
	struct sip_msg r;
	reparse(f, &r);
	struct sip_error err = {0};
	assert_str(sip_msg_via(&r, &err)->host, "pc33.atlanta.com");
	assert_null(r.first[SIP_HDR_VIA]->next_same);
	sip_msg_free(&r);

	/* replacing a removed header does not bring it back */
	const char *via = "Via: SIP/2.0/UDP x";
	assert_int_equal(sip_msg_replace_header(m, m->first[SIP_HDR_VIA], via, strlen(via)), 0);
	serialize(f);
	assert_null(memmem(f->out, f->out_len, "UDP x", 5));
}

static void test_proxy_forwarding(void **state)
{
	struct fixture *f = *state;
	parse_text(f, INVITE, true);
	struct sip_msg *m = &f->m;
	/* RFC 3261 16.6: new Request-URI, Max-Forwards decremented, Record-Route
	 * and Via added */
	const char *sl = "INVITE sip:bob@192.0.2.4 SIP/2.0";
	assert_int_equal(sip_msg_set_start_line(m, sl, strlen(sl)), 0);
	const char *mf = "Max-Forwards: 69";
	assert_int_equal(sip_msg_replace_header(m, m->first[SIP_HDR_MAX_FORWARDS], mf, strlen(mf)), 0);
	insert(m, m->first[SIP_HDR_VIA], "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bKa1");
	insert(m, m->first[SIP_HDR_TO], "Record-Route: <sip:proxy.example.com;lr>");
	serialize(f);
	expect_out(f, "INVITE sip:bob@192.0.2.4 SIP/2.0\n"
		      "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bKa1\n"
		      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\n"
		      "Max-Forwards: 69\n"
		      "Record-Route: <sip:proxy.example.com;lr>\n"
		      "To: Bob <sip:bob@biloxi.com>\n"
		      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"
		      "Call-ID: a84b4c76e66710@pc33.atlanta.com\n"
		      "CSeq: 314159 INVITE\n"
		      "Contact: <sip:alice@pc33.atlanta.com>\n"
		      "Content-Type: application/sdp\n"
		      "Content-Length: 4\n"
		      "\n"
		      "abcd");
	struct sip_msg r;
	reparse(f, &r);
	struct sip_error err = {0};
	assert_int_equal(sip_msg_max_forwards(&r, &err), 69);
	assert_str(r.ruri.host, "192.0.2.4");
	sip_msg_free(&r);

	/* the parsed message itself is untouched by the edits */
	assert_str(m->start_line, "INVITE sip:bob@biloxi.com SIP/2.0");
	assert_int_equal(sip_msg_max_forwards(m, &err), 70);
}

static void test_new_start_line(void **state)
{
	struct fixture *f = *state;
	parse_text(f, INVITE, true);
	/* a response built from the request's headers */
	const char *sl = "SIP/2.0 180 Ringing";
	assert_int_equal(sip_msg_set_start_line(&f->m, sl, strlen(sl)), 0);
	assert_int_equal(sip_msg_set_body(&f->m, "", 0), 0);
	serialize(f);
	struct sip_msg r;
	reparse(f, &r);
	assert_false(r.is_request);
	assert_int_equal(r.status, 180);
	assert_str(r.reason, "Ringing");
	assert_int_equal(r.body.len, 0);
	sip_msg_free(&r);
}

static void test_edits_copy_their_text(void **state)
{
	struct fixture *f = *state;
	parse_text(f, INVITE, true);
	char line[64], sl[64], body[16];
	strcpy(line, "X-Copied: yes");
	strcpy(sl, "OPTIONS sip:bob@biloxi.com SIP/2.0");
	strcpy(body, "wxyz");
	assert_int_equal(sip_msg_insert_header(&f->m, NULL, line, strlen(line)), 0);
	assert_int_equal(sip_msg_set_start_line(&f->m, sl, strlen(sl)), 0);
	assert_int_equal(sip_msg_set_body(&f->m, body, 4), 0);
	memset(line, '!', sizeof(line) - 1);
	memset(sl, '!', sizeof(sl) - 1);
	memset(body, '!', sizeof(body) - 1);
	serialize(f);
	assert_non_null(memmem(f->out, f->out_len, "X-Copied: yes\r\n", 15));
	assert_int_equal(memcmp(f->out, "OPTIONS sip:bob@biloxi.com SIP/2.0\r\n", 36), 0);
	assert_int_equal(memcmp(f->out + f->out_len - 4, "wxyz", 4), 0);
}

/* ---- bodies ------------------------------------------------------------ */

static void test_new_body_rewrites_content_length(void **state)
{
	struct fixture *f = *state;
	parse_text(f, INVITE, true);
	const char *sdp = "v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.com\r\ns=-\r\n";
	assert_int_equal(sip_msg_set_body(&f->m, sdp, strlen(sdp)), 0);
	serialize(f);
	char want[2048];
	snprintf(want, sizeof(want),
		 "INVITE sip:bob@biloxi.com SIP/2.0\n"
		 "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\n"
		 "Max-Forwards: 70\n"
		 "To: Bob <sip:bob@biloxi.com>\n"
		 "From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"
		 "Call-ID: a84b4c76e66710@pc33.atlanta.com\n"
		 "CSeq: 314159 INVITE\n"
		 "Contact: <sip:alice@pc33.atlanta.com>\n"
		 "Content-Type: application/sdp\n"
		 "Content-Length: %zu\n"
		 "\n"
		 "v=0\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.com\ns=-\n",
		 strlen(sdp));
	expect_out(f, want);
	struct sip_msg r;
	reparse(f, &r);
	assert_str(r.body, sdp);
	sip_msg_free(&r);
}

static void test_new_body_compact_and_position(void **state)
{
	struct fixture *f = *state;
	parse_text(f, "MESSAGE sip:b@h SIP/2.0\n"
		      "Via: SIP/2.0/TCP h;branch=z9hG4bK1\n"
		      "l: 4\n"
		      "To: <sip:b@h>\n"
		      "From: <sip:a@h>;tag=1\n"
		      "Call-ID: c\n"
		      "CSeq: 1 MESSAGE\n"
		      "\n"
		      "abcd",
		      true);
	assert_int_equal(sip_msg_set_body(&f->m, "hello, world", 12), 0);
	serialize(f);
	/* rewritten where it was */
	expect_out(f, "MESSAGE sip:b@h SIP/2.0\n"
		      "Via: SIP/2.0/TCP h;branch=z9hG4bK1\n"
		      "Content-Length: 12\n"
		      "To: <sip:b@h>\n"
		      "From: <sip:a@h>;tag=1\n"
		      "Call-ID: c\n"
		      "CSeq: 1 MESSAGE\n"
		      "\n"
		      "hello, world");

	/* an empty body: Content-Length 0 and nothing after the empty line */
	assert_int_equal(sip_msg_set_body(&f->m, "", 0), 0);
	serialize(f);
	struct sip_msg r;
	reparse(f, &r);
	assert_int_equal(r.content_length, 0);
	assert_int_equal(r.body.len, 0);
	assert_int_equal(memcmp(f->out + f->out_len - 4, "\r\n\r\n", 4), 0);
	sip_msg_free(&r);

	/* Content-Length removed by the caller: a correct one is added */
	sip_msg_remove_header(f->m.first[SIP_HDR_CONTENT_LENGTH]);
	assert_int_equal(sip_msg_set_body(&f->m, "xyz", 3), 0);
	serialize(f);
	reparse(f, &r);
	assert_str(r.body, "xyz");
	assert_int_equal(r.content_length, 3);
	sip_msg_free(&r);
}

static void test_new_body_where_there_was_none(void **state)
{
	struct fixture *f = *state;
	/* a datagram without Content-Length and without a body */
	parse_text(f, "MESSAGE sip:b@h SIP/2.0\n"
		      "Via: SIP/2.0/UDP h;branch=z9hG4bK1\n"
		      "To: <sip:b@h>\n"
		      "From: <sip:a@h>;tag=1\n"
		      "Call-ID: c\n"
		      "CSeq: 1 MESSAGE\n"
		      "\n",
		      false);
	insert(&f->m, NULL, "Content-Type: text/plain");
	assert_int_equal(sip_msg_set_body(&f->m, "hi", 2), 0);
	serialize(f);
	expect_out(f, "MESSAGE sip:b@h SIP/2.0\n"
		      "Via: SIP/2.0/UDP h;branch=z9hG4bK1\n"
		      "To: <sip:b@h>\n"
		      "From: <sip:a@h>;tag=1\n"
		      "Call-ID: c\n"
		      "CSeq: 1 MESSAGE\n"
		      "Content-Type: text/plain\n"
		      "Content-Length: 2\n"
		      "\n"
		      "hi");
	struct sip_msg r;
	reparse(f, &r);
	assert_str(r.body, "hi");
	sip_msg_free(&r);
}

static void test_datagram_body_gets_content_length(void **state)
{
	struct fixture *f = *state;
	/* RFC 4475 inv2543 style: body without Content-Length on UDP. Written
	 * out, it carries a Content-Length so that it can go on over a stream
	 * (RFC 3261 18.3 makes it mandatory there). */
	parse_text(f, "MESSAGE sip:b@h SIP/2.0\n"
		      "Via: SIP/2.0/UDP h;branch=z9hG4bK1\n"
		      "To: <sip:b@h>\n"
		      "From: <sip:a@h>;tag=1\n"
		      "Call-ID: c\n"
		      "CSeq: 1 MESSAGE\n"
		      "\n"
		      "body\n",
		      false);
	serialize(f);
	struct sip_msg r;
	reparse(f, &r);
	assert_int_equal(r.content_length, 6);
	assert_str(r.body, "body\r\n");
	sip_msg_free(&r);
}

static void test_reset_edits(void **state)
{
	struct fixture *f = *state;
	parse_text(f, INVITE, true);
	insert(&f->m, &f->m.hdrs[0], "Via: SIP/2.0/UDP p1;branch=z9hG4bK1");
	sip_msg_remove_header(f->m.first[SIP_HDR_CONTACT]);
	assert_int_equal(sip_msg_set_body(&f->m, "x", 1), 0);
	assert_int_equal(sip_msg_set_start_line(&f->m, "OPTIONS sip:x SIP/2.0", 21), 0);
	sip_msg_reset_edits(&f->m);
	serialize(f);
	assert_int_equal(f->out_len, f->len);
	assert_memory_equal(f->out, f->buf, f->len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_identical),
		cmocka_unit_test_setup_teardown(test_framing_extras_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_top_middle_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_forwarding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_start_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edits_copy_their_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_body_rewrites_content_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_body_compact_and_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_body_where_there_was_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datagram_body_gets_content_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_edits, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, tu_free_all);
}
