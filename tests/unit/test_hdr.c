/*
 * Unit tests for common/sip/hdr.[ch]: the header name table with compact
 * forms (RFC 3261 7.3.3, 20) and the small header value parsers: CSeq,
 * numbers (Max-Forwards, Expires, Content-Length), Call-ID, Date
 * (rfc1123-date in GMT), token lists, media types, Warning, Retry-After.
 */
#include "testutil.h"

#include <ctype.h>

#include "sip/hdr.h"

/* An exact-size heap copy as a slice, so ASan sees any over-read. */
static sip_str S(const char *lit)
{
	size_t n = strlen(lit);
	return sip_str_make(tu_copy(lit, n), n);
}

static enum sip_hdr_type lookup(const char *name)
{
	sip_str s = S(name);
	return sip_hdr_lookup(s.s, s.len);
}

/* ---- names ------------------------------------------------------------- */

static void test_long_names_any_case(void **state)
{
	(void)state;
	for (int t = 1; t < SIP_HDR_COUNT; t++) {
		const char *n = sip_hdr_info[t].name;
		char upper[64], lower[64];
		size_t len = strlen(n);
		assert_true(len > 1 && len < sizeof(upper));
		for (size_t i = 0; i <= len; i++) {
			upper[i] = (char)toupper((unsigned char)n[i]);
			lower[i] = (char)tolower((unsigned char)n[i]);
		}
		if (lookup(n) != (enum sip_hdr_type)t || lookup(upper) != (enum sip_hdr_type)t ||
		    lookup(lower) != (enum sip_hdr_type)t)
			fail_msg("header %s not found in every case", n);
	}
	assert_int_equal(lookup("cAlL-iD"), SIP_HDR_CALL_ID);
	assert_int_equal(lookup("WWW-AUTHENTICATE"), SIP_HDR_WWW_AUTHENTICATE);
}

static void test_compact_forms(void **state)
{
	(void)state;
	/* RFC 3261 7.3.3 / 20, RFC 3265 (o, u), RFC 3515 (r), RFC 3892 (b),
	 * RFC 4028 (x) */
	static const struct {
		char c;
		enum sip_hdr_type t;
	} cases[] = {
		{'c', SIP_HDR_CONTENT_TYPE},     {'e', SIP_HDR_CONTENT_ENCODING},
		{'f', SIP_HDR_FROM},             {'i', SIP_HDR_CALL_ID},
		{'k', SIP_HDR_SUPPORTED},        {'l', SIP_HDR_CONTENT_LENGTH},
		{'m', SIP_HDR_CONTACT},          {'s', SIP_HDR_SUBJECT},
		{'t', SIP_HDR_TO},               {'v', SIP_HDR_VIA},
		{'o', SIP_HDR_EVENT},            {'u', SIP_HDR_ALLOW_EVENTS},
		{'r', SIP_HDR_REFER_TO},         {'b', SIP_HDR_REFERRED_BY},
		{'x', SIP_HDR_SESSION_EXPIRES},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char lo[2] = {cases[i].c, 0}, up[2] = {(char)toupper(cases[i].c), 0};
		if (lookup(lo) != cases[i].t || lookup(up) != cases[i].t)
			fail_msg("compact form %c not recognised", cases[i].c);
		assert_int_equal(sip_hdr_info[cases[i].t].compact, cases[i].c);
	}
}

static void test_unknown_names(void **state)
{
	(void)state;
	static const char *const names[] = {
		"X-Custom", "NewFangledHeader", "Vi", "Viaa", "Call-I", "CallID", "Call_ID",
		"From-", "Contacts", "z", "Z", "q", "1", "-", "Content-Lengt", "P-Asserted-Identityx",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (lookup(names[i]) != SIP_HDR_OTHER)
			fail_msg("%s should be unknown", names[i]);
	/* a non-ASCII one-letter name */
	const char *c = tu_copy("\xe9", 1);
	assert_int_equal(sip_hdr_lookup(c, 1), SIP_HDR_OTHER);
	/* only the given length counts */
	assert_int_equal(sip_hdr_lookup("Viaduct", 3), SIP_HDR_VIA);
	assert_int_equal(sip_hdr_lookup("tx", 1), SIP_HDR_TO);
}

static void test_single_valued(void **state)
{
	(void)state;
	/* RFC 3261 7.3.1: headers whose grammar is not a comma list */
	static const enum sip_hdr_type single[] = {
		SIP_HDR_CALL_ID, SIP_HDR_CSEQ, SIP_HDR_FROM, SIP_HDR_TO, SIP_HDR_MAX_FORWARDS,
		SIP_HDR_CONTENT_LENGTH, SIP_HDR_CONTENT_TYPE, SIP_HDR_EXPIRES, SIP_HDR_DATE,
		SIP_HDR_MIN_EXPIRES, SIP_HDR_RETRY_AFTER, SIP_HDR_REPLY_TO, SIP_HDR_TIMESTAMP,
	};
	static const enum sip_hdr_type multi[] = {
		SIP_HDR_VIA, SIP_HDR_CONTACT, SIP_HDR_ROUTE, SIP_HDR_RECORD_ROUTE, SIP_HDR_ALLOW,
		SIP_HDR_SUPPORTED, SIP_HDR_REQUIRE, SIP_HDR_PROXY_REQUIRE, SIP_HDR_UNSUPPORTED,
		SIP_HDR_AUTHORIZATION, SIP_HDR_PROXY_AUTHORIZATION, SIP_HDR_WWW_AUTHENTICATE,
		SIP_HDR_PROXY_AUTHENTICATE, SIP_HDR_WARNING, SIP_HDR_ACCEPT, SIP_HDR_OTHER,
	};
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
		if (!sip_hdr_info[single[i]].single)
			fail_msg("%s should be single-valued", sip_hdr_info[single[i]].name);
	for (size_t i = 0; i < sizeof(multi) / sizeof(multi[0]); i++)
		if (sip_hdr_info[multi[i]].single)
			fail_msg("%s may appear more than once", sip_hdr_info[multi[i]].name);
	/* RFC 3261 20.22: Max-Forwards is 0-255 */
	assert_int_equal(sip_hdr_info[SIP_HDR_MAX_FORWARDS].max, 255);
}

/* ---- CSeq ------------------------------------------------------------- */

static void test_cseq(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		uint32_t seq;
		const char *method;
	} ok[] = {
		{"4711 INVITE", 4711, "INVITE"},
		{"  1   ACK  ", 1, "ACK"},
		{"0009 REGISTER", 9, "REGISTER"},          /* RFC 4475 wsinv: leading zeros */
		{"0 OPTIONS", 0, "OPTIONS"},
		{"4294967295 BYE", 4294967295u, "BYE"},     /* 32-bit unsigned */
		{"1\r\n INVITE", 1, "INVITE"},              /* folded */
		{"1 invite", 1, "invite"},                  /* methods keep their case */
		{"1 NEWMETHOD", 1, "NEWMETHOD"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct sip_cseq cs = {0};
		struct sip_error err = {0};
		if (sip_parse_cseq(S(ok[i].in), &cs, &err) != 0)
			fail_msg("\"%s\" refused: %s", ok[i].in, err.detail);
		assert_int_equal(cs.seq, ok[i].seq);
		assert_str(cs.method, ok[i].method);
	}
	static const struct {
		const char *in, *at;
	} bad[] = {
		{"", ""},
		{"INVITE", "INVITE"},
		{"4294967296 INVITE", "4294967296"},       /* RFC 4475 scalar02 */
		{"36893488147419103232 INVITE", "3689"},
		{"-1 INVITE", "-1"},
		{"4711", ""},
		{"4711 ", ""},
		{"4711INVITE", "INVITE"},
		{"4711 INV@ITE", "@ITE"},
		{"4711 INVITE BYE", "BYE"},
		{"4711 INVITE;x", ";x"},
		{"47 11 INVITE", "INVITE"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sip_str v = S(bad[i].in);
		struct sip_cseq cs;
		struct sip_error err = {.base = v.s};
		if (sip_parse_cseq(v, &cs, &err) != -1)
			fail_msg("\"%s\" accepted", bad[i].in);
		size_t want = bad[i].at[0] ? off_of(bad[i].in, bad[i].at) : strlen(bad[i].in);
		assert_fault(err, SIP_FAULT_HEADER_VALUE, want);
	}
}

/* ---- numbers ---------------------------------------------------------- */

static void test_uint_values(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		uint32_t max;
		bool clamp;
		int ok;        /* 1 accepted, 0 refused */
		uint32_t val;
		const char *at;
	} cases[] = {
		{"70", 255, false, 1, 70, NULL},
		{"0", 255, false, 1, 0, NULL},
		{"255", 255, false, 1, 255, NULL},
		{"  070 ", 255, false, 1, 70, NULL},
		{"256", 255, false, 0, 0, "256"},                   /* Max-Forwards 0-255 */
		{"4294967295", 4294967295u, false, 1, 4294967295u, NULL},
		{"4294967296", 4294967295u, false, 0, 0, "4294967296"}, /* Content-Length */
		/* RFC 3261 20.19/25: delta-seconds above 2^32-1 may read as 2^32-1 */
		{"4294967296", 4294967295u, true, 1, 4294967295u, NULL},
		{"99999999999999999999999", 4294967295u, true, 1, 4294967295u, NULL},
		{"", 255, false, 0, 0, ""},
		{"  ", 255, false, 0, 0, ""},
		{"-1", 4294967295u, false, 0, 0, "-1"},
		{"+1", 4294967295u, false, 0, 0, "+1"},
		{"abc", 255, false, 0, 0, "abc"},
		{"7 0", 255, false, 0, 0, "0"},
		{"70abc", 255, false, 0, 0, "abc"},
		{"1.5", 4294967295u, true, 0, 0, ".5"},
		{"0x10", 255, false, 0, 0, "x10"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sip_str v = S(cases[i].in);
		struct sip_error err = {.base = v.s};
		uint32_t out = 12345;
		int r = sip_parse_uint_value(v, cases[i].max, cases[i].clamp, "Expires", &out, &err);
		if ((r == 0) != (cases[i].ok == 1))
			fail_msg("case %zu \"%s\": expected %s (%s)", i, cases[i].in,
				 cases[i].ok ? "success" : "failure", err.detail);
		if (r == 0) {
			assert_int_equal(out, cases[i].val);
		} else {
			size_t want = cases[i].at[0] ? off_of(cases[i].in, cases[i].at) : strlen(cases[i].in);
			assert_fault(err, SIP_FAULT_HEADER_VALUE, want);
			assert_true(strncmp(err.detail, "Expires: ", 9) == 0);
		}
	}
}

/* ---- Call-ID ---------------------------------------------------------- */

static void test_call_id(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com",
		"a84b4c76e66710@pc33.atlanta.com",
		"abc",
		"  abc@def  ",
		"0ha0isndaksdj@10.0.0.1",
		"<{[(all-word-chars)]}>:\\\"/?%*_+`'~!.-@[2001:db8::1]",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (sip_parse_call_id(S(ok[i]), NULL) != 0)
			fail_msg("\"%s\" refused", ok[i]);
	static const struct {
		const char *in, *at;
	} bad[] = {
		{"", ""},
		{"@host", "@host"},
		{"abc@", ""},
		{"a b", "b"},
		{"a@b@c", "@c"},
		{"a;b", ";b"},
		{"a,b", ",b"},
		{"a=b", "=b"},
		{"a@b c", "c"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sip_str v = S(bad[i].in);
		struct sip_error err = {.base = v.s};
		if (sip_parse_call_id(v, &err) != -1)
			fail_msg("\"%s\" accepted", bad[i].in);
		size_t want = bad[i].at[0] ? off_of(bad[i].in, bad[i].at) : strlen(bad[i].in);
		assert_fault(err, SIP_FAULT_HEADER_VALUE, want);
	}
}

/* ---- Date ------------------------------------------------------------- */

static void test_date(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t t;
	} ok[] = {
		{"Sat, 13 Nov 2010 23:29:00 GMT", 1289690940},
		{"Thu, 01 Jan 1970 00:00:00 GMT", 0},
		{"Tue, 29 Feb 2000 12:00:00 GMT", 951825600},
		{"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799},
		{"Wed, 01 Jan 1800 00:00:00 GMT", -5364662400},
		{"  Sat, 13 Nov 2010 23:29:00 GMT  ", 1289690940},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t t = 0;
		struct sip_error err = {0};
		if (sip_parse_date(S(ok[i].in), &t, &err) != 0)
			fail_msg("\"%s\" refused: %s", ok[i].in, err.detail);
		if (t != ok[i].t)
			fail_msg("\"%s\": got %lld", ok[i].in, (long long)t);
	}
	static const struct {
		const char *in;
		size_t at;
	} bad[] = {
		{"Sat, 13 Nov 2010 23:29:00 EST", 26},  /* RFC 4475 baddate: only GMT */
		{"Sat, 13 Nov 2010 23:29:00 gmt", 26},  /* case-sensitive (RFC 3261 20.17) */
		{"Sat, 13 Nov 2010 23:29:00", 25},
		{"Sat, 13 Nov 2010 23:29:00 GMT+1", 29},
		{"13 Nov 2010 23:29:00 GMT", 0},
		{"sat, 13 Nov 2010 23:29:00 GMT", 0},
		{"Saturday, 13 Nov 2010 23:29:00 GMT", 3},
		{"Sat,13 Nov 2010 23:29:00 GMT", 3},
		{"Sat, 3 Nov 2010 23:29:00 GMT", 6},
		{"Sat, 13 November 2010 23:29:00 GMT", 11},
		{"Sat, 13 nov 2010 23:29:00 GMT", 8},
		{"Sat, 13 Nov 10 23:29:00 GMT", 14},
		{"Sat, 13 Nov 2010 23:29 GMT", 22},
		{"Sat, 13 Nov 2010 2:29:00 GMT", 18},
		/* out of range: at the field */
		{"Sat, 00 Nov 2010 23:29:00 GMT", 5},
		{"Sat, 32 Nov 2010 23:29:00 GMT", 5},
		{"Sat, 13 Nov 2010 24:00:00 GMT", 17},
		{"Sat, 13 Nov 2010 23:60:00 GMT", 20},
		{"Sat, 13 Nov 2010 23:29:61 GMT", 23},
		{"", 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sip_str v = S(bad[i].in);
		struct sip_error err = {.base = v.s};
		int64_t t;
		if (sip_parse_date(v, &t, &err) != -1)
			fail_msg("\"%s\" accepted", bad[i].in);
		if (err.fault != SIP_FAULT_HEADER_VALUE || err.offset != bad[i].at)
			fail_msg("\"%s\": expected offset %zu, got %zu (%s)", bad[i].in, bad[i].at,
				 err.offset, err.detail);
	}
	/* a leap second is a valid time */
	int64_t t;
	assert_int_equal(sip_parse_date(S("Sat, 31 Dec 2016 23:59:60 GMT"), &t, NULL), 0);
}

/* ---- token lists ------------------------------------------------------ */

static void test_token_list(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	struct sip_list_item *l = NULL;
	assert_int_equal(sip_parse_token_list(S("100rel, timer ,\r\n replaces;x=1 ; y"), &a, &l,
					      "Supported", NULL), 0);
	assert_str(l->value, "100rel");
	assert_str(l->next->value, "timer");
	assert_str(l->next->next->value, "replaces");
	assert_non_null(sip_param_find(l->next->next->params, "x"));
	assert_non_null(sip_param_find(l->next->next->params, "Y"));
	assert_null(l->next->next->next);

	/* Allow, Supported... may be empty */
	l = NULL;
	assert_int_equal(sip_parse_token_list(S(""), &a, &l, "Supported", NULL), 0);
	assert_null(l);
	assert_int_equal(sip_parse_token_list(S("   "), &a, &l, "Allow", NULL), 0);
	assert_null(l);
	/* Content-Disposition and Event are token lists too */
	assert_int_equal(sip_parse_token_list(S("session;handling=required"), &a, &l,
					      "Content-Disposition", NULL), 0);
	assert_str(sip_param_find(l->params, "handling")->value, "required");

	static const struct {
		const char *in, *at;
	} bad[] = {
		{"100rel,,timer", ",timer"},
		{"100rel,", ""},
		{",100rel", ",100rel"},
		{"100rel timer", "timer"},
		{"100rel;", ""},
		{"100rel;=x", "=x"},
		{"INVITE, ACK, <BYE>", "<BYE>"},
		{"foo/bar", "/bar"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sip_str v = S(bad[i].in);
		struct sip_error err = {.base = v.s};
		l = NULL;
		if (sip_parse_token_list(v, &a, &l, "Require", &err) != -1)
			fail_msg("\"%s\" accepted", bad[i].in);
		size_t want = bad[i].at[0] ? off_of(bad[i].in, bad[i].at) : strlen(bad[i].in);
		assert_fault(err, SIP_FAULT_HEADER_VALUE, want);
		assert_true(strncmp(err.detail, "Require: ", 9) == 0);
	}
	arena_free(&a);
}

/* ---- media types ------------------------------------------------------ */

static void test_media(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	struct sip_list_item *l = NULL;
	assert_int_equal(sip_parse_media(S("application/sdp"), &a, &l, false, "Content-Type", NULL), 0);
	assert_str(l->type, "application");
	assert_str(l->subtype, "sdp");
	assert_str(l->value, "application/sdp");
	assert_null(l->params);

	l = NULL;
	assert_int_equal(sip_parse_media(S("multipart/mixed;boundary=unique-boundary-1"), &a, &l,
					 false, "Content-Type", NULL), 0);
	assert_str(l->subtype, "mixed");
	assert_str(sip_param_find(l->params, "BOUNDARY")->value, "unique-boundary-1");

	/* SLASH = SWS "/" SWS; quoted parameter values */
	l = NULL;
	assert_int_equal(sip_parse_media(S("text / plain ; charset=\"UTF-8\""), &a, &l, false,
					 "Content-Type", NULL), 0);
	assert_str(l->type, "text");
	assert_str(l->subtype, "plain");
	assert_str(l->value, "text / plain");
	assert_true(sip_param_find(l->params, "charset")->quoted);

	/* Accept: a list, possibly empty (no body acceptable) */
	l = NULL;
	assert_int_equal(sip_parse_media(S("application/sdp, application/pidf+xml;q=0.5 , */*;q=0.1"),
					 &a, &l, true, "Accept", NULL), 0);
	assert_str(l->next->value, "application/pidf+xml");
	assert_str(sip_param_find(l->next->params, "q")->value, "0.5");
	assert_str(l->next->next->value, "*/*");
	l = NULL;
	assert_int_equal(sip_parse_media(S(""), &a, &l, true, "Accept", NULL), 0);
	assert_null(l);

	static const struct {
		const char *in, *at;
		bool list;
	} bad[] = {
		{"", "", false},                        /* Content-Type must not be empty */
		{"application", "", false},
		{"application/", "", false},
		{"/sdp", "/sdp", false},
		{"application/sdp, text/plain", ", text", false},
		{"application/sdp text/plain", "text/", false},
		{"application/sdp;", "", false},
		{"application/sdp;charset=", "", false},
		{"application/sdp,", "", true},
		{"application/sdp,,text/plain", ",text", true},
		{"application/sd@p", "@p", false},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sip_str v = S(bad[i].in);
		struct sip_error err = {.base = v.s};
		l = NULL;
		if (sip_parse_media(v, &a, &l, bad[i].list, "Content-Type", &err) != -1)
			fail_msg("\"%s\" accepted", bad[i].in);
		size_t want = bad[i].at[0] ? off_of(bad[i].in, bad[i].at) : strlen(bad[i].in);
		assert_fault(err, SIP_FAULT_HEADER_VALUE, want);
	}
	arena_free(&a);
}

/* ---- Warning ---------------------------------------------------------- */

static void test_warning(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	struct sip_warning *w = NULL;
	assert_int_equal(sip_parse_warning(S("307 isi.edu \"Session parameter 'foo' not understood\""),
					   &a, &w, NULL), 0);
	assert_int_equal(w->code, 307);
	assert_str(w->agent, "isi.edu");
	assert_str(w->text, "Session parameter 'foo' not understood");
	assert_null(w->next);

	w = NULL;
	assert_int_equal(sip_parse_warning(S("301 isi.edu \"Incompatible network address type 'E.164'\", "
					     "399 192.0.2.1:5060 \"Port \\\"x\\\"\",370 [2001:db8::1] \"\""),
					   &a, &w, NULL), 0);
	assert_int_equal(w->code, 301);
	assert_int_equal(w->next->code, 399);
	assert_str(w->next->agent, "192.0.2.1:5060");
	assert_str(w->next->text, "Port \\\"x\\\"");
	assert_str(w->next->next->agent, "[2001:db8::1]");
	assert_int_equal(w->next->next->text.len, 0);

	static const struct {
		const char *in;
		size_t at;
	} bad[] = {
		{"37 devnull \"x\"", 2},
		{"3700 devnull \"x\"", 3},
		{"abc devnull \"x\"", 0},
		{"370devnull \"x\"", 3},
		{"370  devnull \"x\"", 4},
		{"370 devnull", 11},
		{"370 devnull x", 12},
		{"370 devnull \"x", 12},
		{"370 devnull \"x\" junk", 16},
		{"370 devnull \"x\",", 16},
		{"", 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sip_str v = S(bad[i].in);
		struct sip_error err = {.base = v.s};
		w = NULL;
		if (sip_parse_warning(v, &a, &w, &err) != -1)
			fail_msg("\"%s\" accepted", bad[i].in);
		if (err.fault != SIP_FAULT_HEADER_VALUE || err.offset != bad[i].at)
			fail_msg("\"%s\": expected offset %zu, got %zu (%s)", bad[i].in, bad[i].at,
				 err.offset, err.detail);
	}
	arena_free(&a);
}

/* ---- Retry-After ------------------------------------------------------ */

static void test_retry_after(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	struct sip_retry_after ra;

	memset(&ra, 0, sizeof(ra));
	assert_int_equal(sip_parse_retry_after(S("18000;duration=3600"), &a, &ra, NULL), 0);
	assert_int_equal(ra.seconds, 18000);
	assert_int_equal(ra.comment.len, 0);
	assert_str(sip_param_find(ra.params, "duration")->value, "3600");

	memset(&ra, 0, sizeof(ra));
	assert_int_equal(sip_parse_retry_after(S("120 (I'm in a meeting)"), &a, &ra, NULL), 0);
	assert_int_equal(ra.seconds, 120);
	assert_str(ra.comment, "(I'm in a meeting)");
	assert_null(ra.params);

	memset(&ra, 0, sizeof(ra));
	assert_int_equal(sip_parse_retry_after(S("120 (a (nested) \\) comment) ;duration=60"), &a, &ra,
					       NULL), 0);
	assert_str(ra.comment, "(a (nested) \\) comment)");
	assert_non_null(sip_param_find(ra.params, "duration"));

	memset(&ra, 0, sizeof(ra));
	assert_int_equal(sip_parse_retry_after(S("0"), &a, &ra, NULL), 0);
	assert_int_equal(ra.seconds, 0);

	static const struct {
		const char *in, *at;
	} bad[] = {
		{"", ""},
		{"abc", "abc"},
		{"-5", "-5"},
		{"4294967296", "4294967296"},
		{"120 (unterminated", "(unterminated"},
		{"120 (a (b) c", "(a"},
		{"120 junk", "junk"},
		{"120 (c) junk", "junk"},
		{"120;", ""},
		{"120;duration=", ""},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sip_str v = S(bad[i].in);
		struct sip_error err = {.base = v.s};
		memset(&ra, 0, sizeof(ra));
		if (sip_parse_retry_after(v, &a, &ra, &err) != -1)
			fail_msg("\"%s\" accepted", bad[i].in);
		size_t want = bad[i].at[0] ? off_of(bad[i].in, bad[i].at) : strlen(bad[i].in);
		assert_fault(err, SIP_FAULT_HEADER_VALUE, want);
	}
	arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_names_any_case),
		cmocka_unit_test(test_compact_forms),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_single_valued),
		cmocka_unit_test(test_cseq),
		cmocka_unit_test(test_uint_values),
		cmocka_unit_test(test_call_id),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_token_list),
		cmocka_unit_test(test_media),
		cmocka_unit_test(test_warning),
		cmocka_unit_test(test_retry_after),
	};
	return cmocka_run_group_tests(tests, NULL, tu_free_all);
}
