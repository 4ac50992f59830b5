/*
 * Unit tests for common/sip/scan.[ch], the lexer of RFC 3261 section 25:
 * character classes, SWS with line folding, separators, tokens, quoted
 * strings, numbers, generic parameters, hosts and IPv6 references.
 */
#include "testutil.h"

#include "sip/scan.h"

/* An exact-size heap copy as a scanner, so ASan sees any over-read. */
static struct scan S(const char *lit)
{
	size_t n = strlen(lit);
	const char *c = tu_copy(lit, n);
	return (struct scan){c, c + n};
}

static size_t at(const struct scan *sc, const char *start) { return (size_t)(sc->p - start); }

/* ---- character classes (RFC 3261 25.1) --------------------------------- */

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define MARK "-_.!~*'()"

static const struct {
	const char *name;
	unsigned cls;
	const char *members; /* every byte of the class, nothing else */
} classes[] = {
	{"alphanum", CC_ALNUM, ALNUM},
	{"DIGIT", CC_DIGIT, "0123456789"},
	{"HEXDIG", CC_HEX, "0123456789abcdefABCDEF"},
	/* token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
	{"token", CC_TOKEN, ALNUM "-.!%*_+`'~"},
	/* unreserved = alphanum / mark */
	{"unreserved", CC_UNRES, ALNUM MARK},
	/* user = 1*( unreserved / escaped / user-unreserved ), "%" for escapes */
	{"user", CC_USER, ALNUM MARK "&=+$,;?/" "%"},
	/* password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ) */
	{"password", CC_PASSWD, ALNUM MARK "&=+$," "%"},
	/* paramchar = param-unreserved / unreserved / escaped */
	{"paramchar", CC_PARAM, ALNUM MARK "[]/:&+$" "%"},
	/* hname/hvalue = hnv-unreserved / unreserved / escaped */
	{"hnv", CC_HNV, ALNUM MARK "[]/?:+$" "%"},
	/* word (Call-ID) */
	{"word", CC_WORD, ALNUM "-.!%*_+`'~()<>:\\\"/[]?{}"},
	/* uric = reserved / unreserved / escaped */
	{"uric", CC_URIC, ALNUM MARK ";/?:@&=+$," "%"},
};

static void test_char_classes(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(classes) / sizeof(classes[0]); k++) {
		for (int c = 0; c < 256; c++) {
			bool want = c != 0 && strchr(classes[k].members, c) != NULL;
			if (cc_is((unsigned char)c, classes[k].cls) != want)
				fail_msg("class %s: byte 0x%02x ('%c') should %sbe a member",
					 classes[k].name, c, c >= 0x20 && c < 0x7f ? c : '?',
					 want ? "" : "not ");
		}
	}
}

static void test_host_class(void **state)
{
	(void)state;
	/* host names and IPv4 addresses: alphanum, '-' and '.' at least */
	for (const char *p = ALNUM "-."; *p; p++)
		assert_true(cc_is((unsigned char)*p, CC_HOST));
	for (const char *p = ":;@[]/?, \t\"<>"; *p; p++)
		assert_false(cc_is((unsigned char)*p, CC_HOST));
}

/* ---- SWS, separators --------------------------------------------------- */

static void test_sws(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		bool skipped;
		size_t stop; /* where p stops */
	} cases[] = {
		{"", false, 0},
		{"x", false, 0},
		{" x", true, 1},
		{" \t \tx", true, 4},
		{"\r\n x", true, 3},       /* a fold */
		{"\r\n\tx", true, 3},
		{"  \r\n  \r\n\tx", true, 9}, /* several folds */
		{"\r\nx", false, 0},        /* a line end that is not a fold */
		{" \r\nx", true, 1},
		{"\r\n", false, 0},
		{"\r\n ", true, 3},
		{"\r", false, 0},
		{"\n x", false, 0},         /* bare LF is no fold */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scan sc = S(cases[i].in);
		const char *s = sc.p;
		if (scan_sws(&sc) != cases[i].skipped || at(&sc, s) != cases[i].stop)
			fail_msg("case %zu: skipped/stop wrong (stop %zu)", i, at(&sc, s));
	}
}

static void test_sep(void **state)
{
	(void)state;
	struct scan sc = S("  ;  x");
	const char *s = sc.p;
	assert_true(scan_sep(&sc, ';'));
	assert_int_equal(at(&sc, s), 5);

	sc = S("\r\n = \r\n\tv");
	s = sc.p;
	assert_true(scan_sep(&sc, '='));
	assert_int_equal(at(&sc, s), 8);

	sc = S("  x");
	s = sc.p;
	assert_false(scan_sep(&sc, ';'));
	assert_ptr_equal(sc.p, s); /* unmoved, not even past the spaces */

	sc = S(";");
	assert_true(scan_sep(&sc, ';'));
	assert_true(scan_eof(&sc));
	assert_int_equal(scan_peek(&sc), -1);
}

static void test_span_and_token(void **state)
{
	(void)state;
	struct scan sc = S("INVITE sip");
	sip_str t;
	assert_true(scan_token(&sc, &t));
	assert_str(t, "INVITE");
	assert_int_equal(scan_peek(&sc), ' ');
	assert_false(scan_token(&sc, &t)); /* p unmoved */
	assert_int_equal(scan_peek(&sc), ' ');

	sc = S("a.b-c!d%e*f_g+h`i'j~k(l");
	assert_true(scan_token(&sc, &t));
	assert_str(t, "a.b-c!d%e*f_g+h`i'j~k");

	sc = S("");
	assert_false(scan_token(&sc, &t));
	sc = S("12a");
	assert_true(scan_span(&sc, CC_DIGIT, NULL)); /* out may be NULL */
	assert_int_equal(scan_peek(&sc), 'a');
}

/* ---- quoted strings ---------------------------------------------------- */

static void test_quoted(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t len;   /* input length (strings may hold NUL) */
		bool ok;
		const char *inner; /* between the quotes, escapes kept */
		size_t end;   /* where p stops on success */
	} cases[] = {
		{"\"abc\" x", 7, true, "abc", 5},
		{"\"\"", 2, true, "", 2},
		{"\"a\\\"b\"", 6, true, "a\\\"b", 6},      /* escaped quote */
		{"\"a\\\\\"", 5, true, "a\\\\", 5},        /* escaped backslash */
		{"\"a\\\\\"b\"", 7, true, "a\\\\", 5},     /* ...which does not escape the quote */
		{"\"a\tb\"", 5, true, "a\tb", 5},
		{"\"a\r\n b\"", 7, true, "a\r\n b", 7},    /* folded line inside the quotes */
		{"\"caf\xc3\xa9\"", 7, true, "caf\xc3\xa9", 7}, /* UTF8-NONASCII */
		{"\"a\\\x01\"", 5, true, "a\\\x01", 5},    /* quoted-pair may escape a CTL */
		{"\"abc", 4, false, NULL, 0},             /* unterminated */
		{"\"abc\\\"", 6, false, NULL, 0},         /* the only quote is escaped */
		{"\"a\\", 3, false, NULL, 0},
		{"\"a\r\nb\"", 6, false, NULL, 0},        /* line end that is not a fold */
		{"\"a\rb\"", 5, false, NULL, 0},          /* bare CR */
		{"\"a\nb\"", 5, false, NULL, 0},          /* bare LF */
		{"\"a\x01" "b\"", 5, false, NULL, 0},     /* CTL */
		{"\"a\x7f" "b\"", 5, false, NULL, 0},     /* DEL */
		{"\"a\\\r\"", 5, false, NULL, 0},         /* quoted-pair excludes CR */
		{"\"a\\\n\"", 5, false, NULL, 0},         /* ... and LF */
		{"\"a\\\xc3\xa9\"", 6, false, NULL, 0},   /* ... and octets above 0x7f */
		{"abc", 3, false, NULL, 0},               /* not a quoted string */
		{"", 0, false, NULL, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *c = tu_copy(cases[i].in, cases[i].len);
		struct scan sc = {c, c + cases[i].len};
		sip_str inner = SIP_STR_NULL;
		bool ok = scan_quoted(&sc, &inner);
		if (ok != cases[i].ok)
			fail_msg("case %zu: expected %s", i, cases[i].ok ? "success" : "failure");
		if (ok) {
			assert_str(inner, cases[i].inner);
			assert_int_equal(at(&sc, c), cases[i].end);
		} else {
			assert_ptr_equal(sc.p, c); /* p unmoved */
		}
	}
}

/* ---- numbers ----------------------------------------------------------- */

static void test_uint(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		uint64_t max;
		bool ok;
		uint64_t val;
		size_t end;
	} cases[] = {
		{"0", 10, true, 0, 1},
		{"007", 10, true, 7, 3},                /* leading zeros */
		{"10", 10, true, 10, 2},
		{"11", 10, false, 0, 0},
		{"12ab", 100, true, 12, 2},
		{"", 100, false, 0, 0},
		{"x1", 100, false, 0, 0},
		{"-1", 100, false, 0, 0},
		{"4294967295", 4294967295u, true, 4294967295u, 10},
		{"4294967296", 4294967295u, false, 0, 0},
		{"00000000000000000000000001", 1, true, 1, 26},
		{"18446744073709551615", UINT64_MAX, true, UINT64_MAX, 20},
		{"18446744073709551616", UINT64_MAX, false, 0, 0}, /* 2^64 must not wrap */
		{"99999999999999999999", UINT64_MAX, false, 0, 0},
		{"36893488147419103232", UINT64_MAX, false, 0, 0},  /* 2^65 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scan sc = S(cases[i].in);
		const char *s = sc.p;
		uint64_t v = 12345;
		bool ok = scan_uint(&sc, cases[i].max, &v);
		if (ok != cases[i].ok)
			fail_msg("case %zu (%s): expected %s", i, cases[i].in,
				 cases[i].ok ? "success" : "failure");
		if (ok) {
			assert_true(v == cases[i].val);
			assert_int_equal(at(&sc, s), cases[i].end);
		} else {
			assert_ptr_equal(sc.p, s);
		}
	}
}

/* ---- generic parameters ------------------------------------------------ */

static void test_params(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	struct sip_error err = {0};
	struct scan sc = S(";a=b ; C = \"x y\";flag;ip=[2001:db8::1];h=host.example.com , next");
	const char *s = sc.p;
	err.base = s;
	struct sip_param *list = NULL;
	assert_int_equal(scan_params(&sc, &a, &list, "Test", &err), 0);
	assert_int_equal(err.fault, SIP_FAULT_NONE);
	assert_int_equal(scan_peek(&sc), ' '); /* stops before the comma */

	const struct sip_param *p = list;
	assert_non_null(p);
	assert_str(p->name, "a");
	assert_str(p->value, "b");
	assert_false(p->quoted);
	p = p->next;
	assert_str(p->name, "C");
	assert_str(p->value, "x y");
	assert_true(p->quoted);
	p = p->next;
	assert_str(p->name, "flag");
	assert_false(sip_str_present(p->value));
	p = p->next;
	assert_str(p->value, "[2001:db8::1]");
	p = p->next;
	assert_str(p->value, "host.example.com");
	assert_null(p->next);

	/* names match case-insensitively */
	assert_ptr_equal(sip_param_find(list, "c"), list->next);
	assert_ptr_equal(sip_param_find(list, "FLAG"), list->next->next);
	assert_null(sip_param_find(list, "missing"));
	assert_null(sip_param_find(NULL, "a"));

	/* a second call appends */
	sc = S(";z=1");
	assert_int_equal(scan_params(&sc, &a, &list, "Test", NULL), 0);
	assert_non_null(sip_param_find(list, "z"));
	assert_ptr_equal(sip_param_find(list, "a"), list);

	/* nothing to do: no ';' */
	sc = S("x");
	struct sip_param *none = NULL;
	assert_int_equal(scan_params(&sc, &a, &none, "Test", NULL), 0);
	assert_null(none);
	arena_free(&a);
}

static void test_params_faults(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *at; /* the offending text; "" = end */
	} cases[] = {
		{";", ""},
		{";;a=b", ";a=b"},
		{"; =b", "=b"},
		{";a=", ""},
		{";a= ;b", ";b"},
		{";a=\"x", "\"x"},
		{";a=[zz::1]", "[zz"},
		{";a=[::1", "[::1"},
		{";a=<b>", "<b>"},
		{";a@b=c", "@b"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct arena a;
		arena_init(&a, 0);
		struct scan sc = S(cases[i].in);
		struct sip_error err = {.base = sc.p};
		struct sip_param *list = NULL;
		int r = scan_params(&sc, &a, &list, "Test", &err);
		size_t want = cases[i].at[0] ? off_of(cases[i].in, cases[i].at) : strlen(cases[i].in);
		if (cases[i].at[0] == '@') {
			/* "a" parses as a valueless parameter; '@' is left for the caller */
			assert_int_equal(r, 0);
			assert_int_equal(at(&sc, err.base), want);
		} else {
			if (r != -1)
				fail_msg("case %zu (%s): accepted", i, cases[i].in);
			assert_fault(err, SIP_FAULT_HEADER_VALUE, want);
			assert_true(strstr(err.detail, "Test") != NULL);
		}
		arena_free(&a);
	}
}

static void test_params_no_memory(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 1);
	char text[3 * 600 + 1];
	for (int i = 0; i < 600; i++)
		memcpy(text + 3 * i, ";a1", 3);
	text[3 * 600] = 0;
	struct scan sc = S(text);
	struct sip_error err = {.base = sc.p};
	struct sip_param *list = NULL;
	assert_int_equal(scan_params(&sc, &a, &list, "Test", &err), -1);
	assert_int_equal(err.fault, SIP_FAULT_NO_MEMORY);
	arena_free(&a);
}

/* ---- hosts ------------------------------------------------------------- */

static void test_ipv6_ref(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		bool ok;
		const char *out;
	} cases[] = {
		{"[::1]", true, "[::1]"},
		{"[2001:db8::10:5070]", true, "[2001:db8::10:5070]"},   /* RFC 5118 4.3: no port */
		{"[2001:db8::10]:5070", true, "[2001:db8::10]"},
		{"[::ffff:192.0.2.1]", true, "[::ffff:192.0.2.1]"},     /* RFC 5118 4.9 */
		{"[2001:db8:::192.0.2.1]", true, "[2001:db8:::192.0.2.1]"}, /* RFC 5118 4.10 */
		{"[2001:DB8::A]", true, "[2001:DB8::A]"},
		{"[1:2]", false, NULL},
		{"[]", false, NULL},
		{"[::1", false, NULL},
		{"[::g]", false, NULL},
		{"[:: 1]", false, NULL},
		{"::1", false, NULL},
		{"[1:2:3:4:5:6:7:8:1:2:3:4:5:6:7:8:1:2:3:4:5:6:7:8:1:2:3:4:5:6:7:8:1:2:3]", false, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scan sc = S(cases[i].in);
		const char *s = sc.p;
		sip_str out = SIP_STR_NULL;
		bool ok = scan_ipv6_ref(&sc, &out);
		if (ok != cases[i].ok)
			fail_msg("case %zu (%s): expected %s", i, cases[i].in, cases[i].ok ? "success" : "failure");
		if (ok) {
			assert_str(out, cases[i].out);
			assert_int_equal(at(&sc, s), strlen(cases[i].out));
		} else {
			assert_ptr_equal(sc.p, s);
		}
	}
}

static void test_host(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		bool ok;
		const char *out;
	} cases[] = {
		{"example.com", true, "example.com"},
		{"atlanta.com:5060", true, "atlanta.com"},
		{"192.0.2.1;x", true, "192.0.2.1"},
		{"a-b.example.com", true, "a-b.example.com"},
		{"EXAMPLE.COM.", true, "EXAMPLE.COM."},
		{"[2001:db8::1]:5060", true, "[2001:db8::1]"},
		{"-atlanta.com", false, NULL},
		{"atlanta-", false, NULL},
		{"", false, NULL},
		{":5060", false, NULL},
		{"[bad]", false, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scan sc = S(cases[i].in);
		const char *s = sc.p;
		sip_str out = SIP_STR_NULL;
		bool ok = scan_host(&sc, &out);
		if (ok != cases[i].ok)
			fail_msg("case %zu (%s): expected %s", i, cases[i].in, cases[i].ok ? "success" : "failure");
		if (ok)
			assert_str(out, cases[i].out);
		else
			assert_ptr_equal(sc.p, s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_char_classes),
		cmocka_unit_test(test_host_class),
		cmocka_unit_test(test_sws),
		cmocka_unit_test(test_sep),
		cmocka_unit_test(test_span_and_token),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_params_faults),
		cmocka_unit_test(test_params_no_memory),
		cmocka_unit_test(test_ipv6_ref),
		cmocka_unit_test(test_host),
	};
	return cmocka_run_group_tests(tests, NULL, tu_free_all);
}
