/*
 * Unit tests for common/sip/multipart.[ch]: splitting a multipart body by
 * its boundary (RFC 2046 5.1.1): preamble and epilogue ignored, the CRLF
 * before a delimiter belongs to the delimiter, transport padding, parts
 * with and without headers, binary parts (RFC 4475 mpart01), and the
 * faults for missing delimiters.
 */
#include "testutil.h"

#include "sip/msg.h"
#include "sip/multipart.h"

struct fixture {
	struct arena a;
	struct sip_part *parts;
	struct sip_error err;
	const char *body;
};

static int split(struct fixture *f, const char *body, size_t len, const char *boundary)
{
	f->body = tu_copy(body, len);
	f->parts = NULL;
	memset(&f->err, 0, sizeof(f->err));
	f->err.base = f->body;
	size_t bl = strlen(boundary);
	sip_str b = sip_str_make(tu_copy(boundary, bl), bl);
	return sip_multipart_parse(sip_str_make(f->body, len), b, &f->a, &f->parts, &f->err);
}

/* each test gets a fresh fixture with an empty arena */
ARENA_FIXTURE_HOOKS(struct fixture, a)

static void test_two_parts_with_preamble_and_epilogue(void **state)
{
	struct fixture *f = *state;
	size_t n;
	char *body = crlf("This is the preamble. It is to be ignored.\n"
			  "--simple boundary\n"
			  "\n"
			  "This is implicitly typed plain US-ASCII text.\n"
			  "It does NOT end with a linebreak.\n"
			  "--simple boundary\n"
			  "Content-type: text/plain; charset=us-ascii\n"
			  "\n"
			  "This is explicitly typed plain US-ASCII text.\n"
			  "It DOES end with a linebreak.\n"
			  "\n"
			  "--simple boundary--\n"
			  "This is the epilogue. It is also to be ignored.\n",
			  &n);
	int r = split(f, body, n, "simple boundary");
	free(body);
	assert_int_equal(r, 2);
	struct sip_part *p = f->parts;
	assert_int_equal(p->headers.len, 0);
	assert_int_equal(p->content_type.len, 0);
	assert_str(p->body, "This is implicitly typed plain US-ASCII text.\r\n"
			    "It does NOT end with a linebreak.");
	p = p->next;
	assert_str(p->headers, "Content-type: text/plain; charset=us-ascii");
	assert_str(p->content_type, "text/plain; charset=us-ascii");
	assert_str(p->body, "This is explicitly typed plain US-ASCII text.\r\n"
			    "It DOES end with a linebreak.\r\n");
	assert_null(p->next);
}

static void test_sip_style_body(void **state)
{
	struct fixture *f = *state;
	size_t n;
	char *body = crlf("--boundary1\n"
			  "Content-Type: application/sdp\n"
			  "Content-Disposition: session\n"
			  "\n"
			  "v=0\n"
			  "o=- 1 1 IN IP4 192.0.2.1\n"
			  "\n"
			  "--boundary1  \t\n"            /* transport padding */
			  "c: application/isup;version=itu-t92+\n"
			  "CONTENT-DISPOSITION: signal\n"
			  "\n"
			  "ISUP\n"
			  "--boundary1--",
			  &n);
	int r = split(f, body, n, "boundary1");
	free(body);
	assert_int_equal(r, 2);
	struct sip_part *p = f->parts;
	assert_str(p->content_type, "application/sdp");
	assert_str(p->headers, "Content-Type: application/sdp\r\nContent-Disposition: session");
	assert_str(p->body, "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n");
	p = p->next;
	/* the compact form of Content-Type counts */
	assert_str(p->content_type, "application/isup;version=itu-t92+");
	assert_str(p->body, "ISUP");
}

static void test_binary_part(void **state)
{
	struct fixture *f = *state;
	/* RFC 4475 mpart01: NUL, bare LF and CR bytes in a part body */
	static const char body[] = "--unique-boundary-1\r\n"
				   "Content-Type: application/octet-stream\r\n"
				   "\r\n"
				   "\x00\x01\n\x02\r\x03--unique\n--unique-boundary-1x\r\n"
				   "\r\n"
				   "--unique-boundary-1--\r\n";
	int r = split(f, body, sizeof(body) - 1, "unique-boundary-1");
	assert_int_equal(r, 1);
	static const char want[] = "\x00\x01\n\x02\r\x03--unique\n--unique-boundary-1x\r\n";
	assert_int_equal(f->parts->body.len, sizeof(want) - 1);
	assert_memory_equal(f->parts->body.s, want, sizeof(want) - 1);
}

static void test_delimiter_only_at_line_start(void **state)
{
	struct fixture *f = *state;
	size_t n;
	char *body = crlf("--b\n"
			  "\n"
			  "text with --b inside and x--b\n"
			  "--b--\n",
			  &n);
	int r = split(f, body, n, "b");
	free(body);
	assert_int_equal(r, 1);
	assert_str(f->parts->body, "text with --b inside and x--b");
}

static void test_parts_are_slices(void **state)
{
	struct fixture *f = *state;
	static const char body[] = "--x\r\n\r\none\r\n--x\r\n\r\ntwo\r\n--x\r\n\r\n\r\n--x--";
	int r = split(f, body, sizeof(body) - 1, "x");
	assert_int_equal(r, 3);
	struct sip_part *p = f->parts;
	assert_true(p->body.s >= f->body && p->body.s < f->body + sizeof(body));
	assert_str(p->body, "one");
	assert_str(p->next->body, "two");
	assert_int_equal(p->next->next->body.len, 0); /* an empty part */
}

static void test_faults(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *body, *boundary;
		const char *at; /* offending text in body; "" = the end; NULL = start */
	} cases[] = {
		/* boundary parameter missing or longer than 70 (RFC 2046 5.1.1) */
		{"--\r\n\r\nx\r\n----", "", NULL},
		{"--b\r\n\r\nx\r\n--b--", "0123456789012345678901234567890123456789012345678901234567890123456789X", NULL},
		/* no first delimiter */
		{"just text\r\n", "b", NULL},
		{"", "b", NULL},
		{"x--b\r\n", "b", NULL},
		/* a part that never ends */
		{"--b\r\n\r\nno closing delimiter\r\n", "b", "\r\nno"},
		{"--b\r\nContent-Type: text/plain\r\n\r\nhello", "b", "Content-Type"},
		/* headers without their empty line */
		{"--b\r\nContent-Type: text/plain\r\nhello\r\n--b--", "b", "Content-Type"},
		/* delimiter line not ended */
		{"--b", "b", ""},
		{"--b\r\n\r\nx\r\n--b", "b", ""},
		{"--b  ", "b", "  "},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *b = cases[i].body;
		int r = split(f, b, strlen(b), cases[i].boundary);
		if (r != -1)
			fail_msg("case %zu accepted (%d parts)", i, r);
		size_t want = !cases[i].at ? 0 : cases[i].at[0] ? off_of(b, cases[i].at) : strlen(b);
		assert_fault(f->err, SIP_FAULT_BODY, want);
	}
}

/* A multipart SIP message: the boundary comes from the Content-Type. */
static void test_from_message(void **state)
{
	(void)state;
	size_t n;
	char *text = crlf("MESSAGE sip:bob@biloxi.com SIP/2.0\n"
			  "Via: SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK776asdhds\n"
			  "To: <sip:bob@biloxi.com>\n"
			  "From: <sip:alice@atlanta.com>;tag=1928301774\n"
			  "Call-ID: a84b4c76e66710\n"
			  "CSeq: 1 MESSAGE\n"
			  "Content-Type: multipart/mixed ; boundary=\"my boundary\"\n"
			  "Content-Length: 109\n"
			  "\n"
			  "--my boundary\n"
			  "Content-Type: text/plain\n"
			  "\n"
			  "hello\n"
			  "--my boundary\n"
			  "c: text/html\n"
			  "\n"
			  "<b>hi</b>\n"
			  "--my boundary--\n",
			  &n);
	const char *buf = tu_copy(text, n);
	free(text);
	struct sip_msg m;
	struct sip_error err = {0};
	struct sip_parse_opts o = {.stream = true};
	assert_int_equal(sip_msg_parse(&m, buf, n, &o, &err), 0);
	assert_int_equal(m.body.len, 109);
	struct sip_hdr *ct = m.first[SIP_HDR_CONTENT_TYPE];
	assert_non_null(ct);
	assert_int_equal(sip_hdr_parse(&m, ct, &err), 0);
	assert_str(ct->v.list->value, "multipart/mixed");
	const struct sip_param *bp = sip_param_find(ct->v.list->params, "boundary");
	assert_non_null(bp);
	assert_str(bp->value, "my boundary");
	struct sip_part *parts = NULL;
	assert_int_equal(sip_multipart_parse(m.body, bp->value, &m.arena, &parts, &err), 2);
	assert_str(parts->content_type, "text/plain");
	assert_str(parts->body, "hello");
	assert_str(parts->next->content_type, "text/html");
	assert_str(parts->next->body, "<b>hi</b>");
	sip_msg_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_parts_with_preamble_and_epilogue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sip_style_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delimiter_only_at_line_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parts_are_slices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
		cmocka_unit_test(test_from_message),
	};
	return cmocka_run_group_tests(tests, NULL, tu_free_all);
}
