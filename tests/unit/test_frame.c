/*
 * Unit tests for sip_frame_stream (common/sip/msg.c): framing SIP messages
 * on a stream transport (RFC 3261 18.3): Content-Length is mandatory and
 * decides where a message ends; CRLF keep-alives between messages (RFC 5626
 * 3.5.1, RFC 3261 7.5) are skipped; partial data asks for more; a message
 * over the size limit is refused before it is buffered whole.
 */
#include "testutil.h"

#include "sip/msg.h"

/* A message written with "\n" line ends, as CRLF text (tu_copy'd). */
static const char *msg(const char *lines, size_t *len)
{
	char *c = crlf(lines, len);
	const char *t = tu_copy(c, *len + 1);
	free(c);
	return t;
}

/* Frames an exact-size heap copy of buf[0..len). */
static long frame(const char *buf, size_t len, size_t max, size_t *skip, struct sip_error *err)
{
	const char *c = tu_copy(buf, len);
	memset(err, 0, sizeof(*err));
	err->base = c;
	*skip = 12345;
	return sip_frame_stream(c, len, max, skip, err);
}

#define INVITE_4                                                          \
	"INVITE sip:bob@biloxi.com SIP/2.0\n"                             \
	"Via: SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK776asdhds\n"     \
	"Max-Forwards: 70\n"                                              \
	"To: Bob <sip:bob@biloxi.com>\n"                                  \
	"From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"            \
	"Call-ID: a84b4c76e66710@pc33.atlanta.com\n"                      \
	"CSeq: 314159 INVITE\n"                                           \
	"Content-Length: 4\n"                                             \
	"\n"                                                              \
	"abcd"

#define OK_0                                                              \
	"SIP/2.0 200 OK\n"                                                \
	"Via: SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK776asdhds\n"     \
	"To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\n"                      \
	"From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"            \
	"Call-ID: a84b4c76e66710@pc33.atlanta.com\n"                      \
	"CSeq: 314159 INVITE\n"                                           \
	"l: 0\n"                                                          \
	"\n"

static void test_complete_message(void **state)
{
	(void)state;
	size_t n, skip;
	struct sip_error err;
	const char *m = msg(INVITE_4, &n);
	assert_int_equal(frame(m, n, 0, &skip, &err), (long)n);
	assert_int_equal(skip, 0);
	assert_int_equal(err.fault, SIP_FAULT_NONE);

	m = msg(OK_0, &n);
	assert_int_equal(frame(m, n, 0, &skip, &err), (long)n);
	/* no error record is fine */
	assert_int_equal(sip_frame_stream(m, n, 0, &skip, NULL), (long)n);
}

static void test_keep_alives(void **state)
{
	(void)state;
	static const struct {
		const char *data;
		size_t skip;
	} alone[] = {
		{"", 0},
		{"\r", 0},          /* half a CRLF: wait, consume nothing */
		{"\r\n", 2},        /* RFC 5626 pong */
		{"\r\n\r\n", 4},    /* RFC 5626 ping */
		{"\r\n\r\n\r", 4},
		{"\r\n\r\n\r\n\r\n\r\n", 10},
	};
	for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++) {
		size_t skip;
		struct sip_error err;
		long r = frame(alone[i].data, strlen(alone[i].data), 0, &skip, &err);
		if (r != 0 || skip != alone[i].skip || err.fault != SIP_FAULT_NONE)
			fail_msg("case %zu: got %ld, skip %zu, %s", i, r, skip, sip_fault_name(err.fault));
	}

	/* keep-alives before a message are skipped, and counted */
	size_t n, skip;
	struct sip_error err;
	const char *m = msg("\n\n\n" INVITE_4, &n);
	assert_int_equal(frame(m, n, 0, &skip, &err), (long)n - 6);
	assert_int_equal(skip, 6);
}

/* Feeds every prefix of a stream: nothing is framed, and nothing is a fault,
 * until the last byte of the message has arrived. */
static void feed_bytewise(const char *lines, size_t want_skip)
{
	size_t n, skip;
	struct sip_error err;
	const char *m = msg(lines, &n);
	for (size_t i = 0; i < n; i++) {
		long r = frame(m, i, 0, &skip, &err);
		if (r != 0 || err.fault != SIP_FAULT_NONE)
			fail_msg("prefix of %zu/%zu bytes: got %ld (%s: %s)", i, n, r,
				 sip_fault_name(err.fault), err.detail);
		assert_true(skip <= i && skip <= want_skip);
	}
	assert_int_equal(frame(m, n, 0, &skip, &err), (long)(n - want_skip));
	assert_int_equal(skip, want_skip);
}

static void test_partial_data_byte_by_byte(void **state)
{
	(void)state;
	feed_bytewise(INVITE_4, 0);
	feed_bytewise(OK_0, 0);
	feed_bytewise("\n\n" INVITE_4, 4);
	/* folded headers, a folded Content-Length, an empty line in the body */
	feed_bytewise("MESSAGE sip:bob@biloxi.com SIP/2.0\n"
		      "Via: SIP/2.0/TCP\n pc33.atlanta.com;branch=z9hG4bK1\n"
		      "Subject: one\n two\n"
		      "Content-Length:\n 10\n"
		      "\n"
		      "ab\n\ncd\n",
		      0);
}

static void test_waits_for_the_whole_body(void **state)
{
	(void)state;
	/* RFC 4475 clerr on TCP: Content-Length larger than what arrived */
	size_t n, skip;
	struct sip_error err;
	const char *m = msg("INVITE sip:bob@biloxi.com SIP/2.0\n"
			    "Via: SIP/2.0/TCP h;branch=z9hG4bK1\n"
			    "Content-Length: 9999\n"
			    "\n"
			    "v=0\n",
			    &n);
	assert_int_equal(frame(m, n, 0, &skip, &err), 0);
	assert_int_equal(err.fault, SIP_FAULT_NONE);
}

static void test_pipelined(void **state)
{
	(void)state;
	/* bodies that hold empty lines and text that looks like a request */
	size_t n;
	const char *s = msg("OPTIONS sip:a@h SIP/2.0\n"
			    "Via: SIP/2.0/TCP h;branch=z9hG4bK1\n"
			    "Content-Length: 26\n"
			    "\n"
			    "INVITE sip:x@y SIP/2.0\n\n"
			    "\n\n"
			    "MESSAGE sip:b@h SIP/2.0\n"
			    "Via: SIP/2.0/TCP h;branch=z9hG4bK2\n"
			    "l: 10\n"
			    "\n"
			    "ab\n\ncd\n"
			    "BYE sip:c@h SIP/2.0\n"
			    "Via: SIP/2.0/TCP h;branch=z9hG4bK3\n"
			    "Content-Length: 0\n"
			    "\n"
			    "\n\n",
			    &n);
	const char *buf = tu_copy(s, n);
	static const struct {
		const char *method, *body;
		size_t skip;
	} want[] = {
		{"OPTIONS", "INVITE sip:x@y SIP/2.0\r\n\r\n", 0},
		{"MESSAGE", "ab\r\n\r\ncd\r\n", 4},
		{"BYE", "", 0},
	};
	size_t off = 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t skip;
		struct sip_error err = {.base = buf};
		long r = sip_frame_stream(buf + off, n - off, 0, &skip, &err);
		if (r <= 0)
			fail_msg("message %zu: got %ld (%s)", i, r, err.detail);
		assert_int_equal(skip, want[i].skip);
		struct sip_msg m;
		struct sip_parse_opts o = {.stream = true};
		assert_int_equal(sip_msg_parse(&m, buf + off + skip, (size_t)r, &o, &err), 0);
		assert_str(m.method, want[i].method);
		assert_str(m.body, want[i].body);
		assert_int_equal(m.len, (size_t)r);
		sip_msg_free(&m);
		off += skip + (size_t)r;
	}
	/* what is left is a keep-alive */
	size_t skip;
	assert_int_equal(sip_frame_stream(buf + off, n - off, 0, &skip, NULL), 0);
	assert_int_equal(skip, 4);
	assert_int_equal(off + skip, n);

	/* a second message still arriving does not disturb the first */
	size_t k;
	const char *two = msg(INVITE_4 "INVITE sip:bob@biloxi.com SIP/2.0\nVia: SIP/2.0/TCP h\nContent-Le", &k);
	size_t first;
	free(crlf(INVITE_4, &first));
	struct sip_error err;
	assert_int_equal(frame(two, k, 0, &skip, &err), (long)first);
	assert_int_equal(frame(two + first, k - first, 0, &skip, &err), 0);
	assert_int_equal(err.fault, SIP_FAULT_NONE);
}

static void test_faults(void **state)
{
	(void)state;
	static const struct {
		const char *lines;
		enum sip_fault fault;
		const char *at; /* offending text; "" = the end */
	} cases[] = {
		/* Content-Length is mandatory on streams: known once the headers end */
		{"OPTIONS sip:a@h SIP/2.0\nVia: SIP/2.0/TCP h\n\nbody", SIP_FAULT_MISSING_HEADER, "body"},
		{"OPTIONS sip:a@h SIP/2.0\nVia: SIP/2.0/TCP h\n\n", SIP_FAULT_MISSING_HEADER, ""},
		{"OPTIONS sip:a@h SIP/2.0\n\n", SIP_FAULT_MISSING_HEADER, ""},
		/* RFC 4475 mcl01: duplicate, in either form */
		{"OPTIONS sip:a@h SIP/2.0\nContent-Length: 13\nl: 5\n\n", SIP_FAULT_CONTENT_LENGTH, "l: 5"},
		{"OPTIONS sip:a@h SIP/2.0\nl: 0\nContent-Length: 0\n\n", SIP_FAULT_CONTENT_LENGTH, "Content-Length"},
		/* RFC 4475 ncl: negative */
		{"OPTIONS sip:a@h SIP/2.0\nContent-Length: -999\n\n", SIP_FAULT_CONTENT_LENGTH, "-999"},
		{"OPTIONS sip:a@h SIP/2.0\nl: -1\n\n", SIP_FAULT_CONTENT_LENGTH, "-1"},
		{"OPTIONS sip:a@h SIP/2.0\nContent-Length: x12\n\n", SIP_FAULT_CONTENT_LENGTH, "x12"},
		{"OPTIONS sip:a@h SIP/2.0\nContent-Length: 4294967296\n\n", SIP_FAULT_CONTENT_LENGTH, "4294967296"},
		/* header lines that are not header lines */
		{"OPTIONS sip:a@h SIP/2.0\n Via: SIP/2.0/TCP h\nl: 0\n\n", SIP_FAULT_HEADER_LINE, " Via"},
		{"OPTIONS sip:a@h SIP/2.0\nVia SIP/2.0/TCP h\nl: 0\n\n", SIP_FAULT_HEADER_LINE, " SIP/2.0/TCP"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n, skip;
		struct sip_error err;
		const char *m = msg(cases[i].lines, &n);
		long r = frame(m, n, 0, &skip, &err);
		size_t want = cases[i].at[0] ? off_of(m, cases[i].at) : n;
		if (r != -1 || err.fault != cases[i].fault || err.offset != want)
			fail_msg("case %zu: expected %s at %zu, got %ld, %s at %zu (%s)", i,
				 sip_fault_name(cases[i].fault), want, r, sip_fault_name(err.fault),
				 err.offset, err.detail);
	}

	/* bare LF line ends */
	static const char lf_start[] = "OPTIONS sip:a@h SIP/2.0\nContent-Length: 0\r\n\r\n";
	size_t skip;
	struct sip_error err;
	assert_int_equal(frame(lf_start, sizeof(lf_start) - 1, 0, &skip, &err), -1);
	assert_fault(err, SIP_FAULT_START_LINE, 23);
	static const char lf_hdr[] = "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/TCP h\nContent-Length: 0\r\n\r\n";
	assert_int_equal(frame(lf_hdr, sizeof(lf_hdr) - 1, 0, &skip, &err), -1);
	assert_fault(err, SIP_FAULT_HEADER_LINE, off_of(lf_hdr, "\nContent"));

	/* offsets count from the caller's buffer, keep-alives included */
	size_t n;
	const char *m = msg("\n\nOPTIONS sip:a@h SIP/2.0\nl: -1\n\n", &n);
	assert_int_equal(frame(m, n, 0, &skip, &err), -1);
	assert_int_equal(skip, 4);
	assert_fault(err, SIP_FAULT_CONTENT_LENGTH, off_of(m, "-1"));
}

static void test_size_limit(void **state)
{
	(void)state;
	size_t n, skip;
	struct sip_error err;
	const char *m = msg(INVITE_4, &n);
	/* exactly at the limit, and one byte over */
	assert_int_equal(frame(m, n, n, &skip, &err), (long)n);
	assert_int_equal(frame(m, n, n - 1, &skip, &err), -1);
	assert_fault(err, SIP_FAULT_TOO_LARGE, 0);
	/* refused as soon as Content-Length tells, before the body arrives */
	size_t hdr_len = n - 4;
	assert_int_equal(frame(m, hdr_len, n - 1, &skip, &err), -1);
	assert_fault(err, SIP_FAULT_TOO_LARGE, 0);
	/* keep-alives do not count towards the size */
	const char *k = msg("\n\n\n\n\n" INVITE_4, &n);
	assert_int_equal(frame(k, n, n - 10, &skip, &err), (long)(n - 10));
	assert_int_equal(skip, 10);
	assert_int_equal(frame(k, n, n - 11, &skip, &err), -1);
	assert_fault(err, SIP_FAULT_TOO_LARGE, 10);

	/* a header section that never ends is refused at the limit, not buffered */
	char big[400];
	size_t b = (size_t)snprintf(big, sizeof(big), "OPTIONS sip:a@h SIP/2.0\r\nSubject: ");
	memset(big + b, 'x', sizeof(big) - b);
	assert_int_equal(frame(big, 199, 200, &skip, &err), 0);
	assert_int_equal(err.fault, SIP_FAULT_NONE);
	assert_int_equal(frame(big, 200, 200, &skip, &err), -1);
	assert_fault(err, SIP_FAULT_TOO_LARGE, 0);
	assert_int_equal(frame(big, sizeof(big), 200, &skip, &err), -1);
	assert_fault(err, SIP_FAULT_TOO_LARGE, 0);
	/* a start line that never ends, too */
	memset(big, 'A', sizeof(big));
	assert_int_equal(frame(big, sizeof(big), 200, &skip, &err), -1);
	assert_fault(err, SIP_FAULT_TOO_LARGE, 0);

	/* the default limit is SIP_DEFAULT_MAX_MESSAGE */
	m = msg("MESSAGE sip:a@h SIP/2.0\nContent-Length: 70000\n\n", &n);
	assert_int_equal(frame(m, n, 0, &skip, &err), -1);
	assert_fault(err, SIP_FAULT_TOO_LARGE, 0);
	m = msg("MESSAGE sip:a@h SIP/2.0\nContent-Length: 65000\n\n", &n);
	assert_int_equal(frame(m, n, 0, &skip, &err), 0); /* fits: wait for the body */
	/* and a Content-Length near 2^32 must not wrap the size check */
	m = msg("MESSAGE sip:a@h SIP/2.0\nContent-Length: 4294967295\n\n", &n);
	assert_int_equal(frame(m, n, 0, &skip, &err), -1);
	assert_fault(err, SIP_FAULT_TOO_LARGE, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete_message),
		cmocka_unit_test(test_keep_alives),
		cmocka_unit_test(test_partial_data_byte_by_byte),
		cmocka_unit_test(test_waits_for_the_whole_body),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_size_limit),
	};
	return cmocka_run_group_tests(tests, NULL, tu_free_all);
}
