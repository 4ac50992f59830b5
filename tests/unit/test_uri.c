/*
 * Unit tests for common/sip/uri.[ch]: SIP/SIPS/tel URIs parsed into parts,
 * other schemes kept opaque, URI comparison by RFC 3261 19.1.4 (and RFC 3966
 * section 4 for tel), unescaping, and refusal of malformed URIs with the
 * offset of the offending byte.
 */
#include "testutil.h"

#include "sip/uri.h"

/* Parses a literal from an exact-size heap copy; err.base is the copy. */
static int parse(const char *lit, struct sip_uri *u, struct sip_error *err)
{
	size_t n = strlen(lit);
	const char *c = tu_copy(lit, n);
	memset(err, 0, sizeof(*err));
	err->base = c;
	return sip_uri_parse(u, c, n, err);
}

static void parse_ok(const char *lit, struct sip_uri *u)
{
	struct sip_error err;
	if (parse(lit, u, &err) != 0)
		fail_msg("\"%s\" refused: %s at %zu", lit, err.detail, err.offset);
	assert_int_equal(err.fault, SIP_FAULT_NONE);
}

/* ---- parsing ----------------------------------------------------------- */

static void test_sip_uri_all_parts(void **state)
{
	(void)state;
	struct sip_uri u;
	parse_ok("sip:alice:secretword@atlanta.com:5061;transport=tcp;lr;maddr=239.255.255.1"
		 ";ttl=15;user=phone;method=INVITE;x-custom=1?subject=project%20x&priority=urgent",
		 &u);
	assert_int_equal(u.scheme, SIP_URI_SIP);
	assert_str(u.scheme_name, "sip");
	assert_str(u.user, "alice");
	assert_str(u.password, "secretword");
	assert_str(u.host, "atlanta.com");
	assert_false(u.host_is_ipv6);
	assert_true(u.has_port);
	assert_int_equal(u.port, 5061);
	assert_str(u.transport, "tcp");
	assert_true(u.lr);
	assert_str(u.maddr, "239.255.255.1");
	assert_str(u.ttl, "15");
	assert_str(u.user_param, "phone");
	assert_str(u.method, "INVITE");
	assert_str(u.params, ";transport=tcp;lr;maddr=239.255.255.1;ttl=15;user=phone;method=INVITE;x-custom=1");
	assert_str(u.headers, "subject=project%20x&priority=urgent");
	assert_int_equal(u.raw.len, strlen("sip:alice:secretword@atlanta.com:5061;transport=tcp;lr;"
					   "maddr=239.255.255.1;ttl=15;user=phone;method=INVITE;"
					   "x-custom=1?subject=project%20x&priority=urgent"));
	assert_string_equal(sip_uri_scheme_name(u.scheme), "sip");
}

static void test_sip_uri_minimal_forms(void **state)
{
	(void)state;
	struct sip_uri u;
	parse_ok("sip:atlanta.com", &u);
	assert_false(sip_str_present(u.user));
	assert_false(sip_str_present(u.password));
	assert_str(u.host, "atlanta.com");
	assert_false(u.has_port);
	assert_int_equal(u.params.len, 0);
	assert_int_equal(u.headers.len, 0);
	assert_false(u.lr);
	assert_false(sip_str_present(u.transport));

	parse_ok("sips:bob@biloxi.com", &u);
	assert_int_equal(u.scheme, SIP_URI_SIPS);
	assert_string_equal(sip_uri_scheme_name(u.scheme), "sips");

	/* scheme names are case-insensitive */
	parse_ok("SIP:ALICE@AtLanTa.CoM", &u);
	assert_int_equal(u.scheme, SIP_URI_SIP);
	assert_str(u.scheme_name, "SIP");
	assert_str(u.user, "ALICE");
	parse_ok("SiPs:a@b", &u);
	assert_int_equal(u.scheme, SIP_URI_SIPS);

	/* an empty password is allowed by the grammar */
	parse_ok("sip:alice:@atlanta.com", &u);
	assert_true(sip_str_present(u.password));
	assert_int_equal(u.password.len, 0);

	/* port 0 and 65535 are ports */
	parse_ok("sip:a@h:65535", &u);
	assert_int_equal(u.port, 65535);
	parse_ok("sip:a@h:0", &u);
	assert_true(u.has_port);
	assert_int_equal(u.port, 0);

	parse_ok("sip:192.0.2.4:5060", &u);
	assert_str(u.host, "192.0.2.4");
	assert_int_equal(u.port, 5060);
}

static void test_sip_uri_user_part(void **state)
{
	(void)state;
	struct sip_uri u;
	/* RFC 4475 semiuri: ';' belongs to the user part before '@' */
	parse_ok("sip:user;par=u%40example.net@example.com", &u);
	assert_str(u.user, "user;par=u%40example.net");
	assert_str(u.host, "example.com");
	assert_int_equal(u.params.len, 0);

	/* telephone-subscriber in the user part, escapes left escaped */
	parse_ok("sip:+1-212-555-1212:1234@gateway.com;user=phone", &u);
	assert_str(u.user, "+1-212-555-1212");
	assert_str(u.password, "1234");
	assert_str(u.user_param, "phone");

	/* RFC 4475 escnull: %00 is a valid escape, not a terminator */
	parse_ok("sip:null-%00-null@example.com", &u);
	assert_str(u.user, "null-%00-null");

	/* all user-unreserved and mark characters */
	parse_ok("sip:a-_.!~*'()&=+$,;?/b@h", &u);
	assert_str(u.user, "a-_.!~*'()&=+$,;?/b");
}

static void test_sip_uri_ipv6(void **state)
{
	(void)state;
	struct sip_uri u;
	parse_ok("sip:[2001:db8::10]:5070", &u);
	assert_str(u.host, "[2001:db8::10]");
	assert_true(u.host_is_ipv6);
	assert_true(u.has_port);
	assert_int_equal(u.port, 5070);

	/* RFC 5118 4.3: the last group is part of the address, there is no port */
	parse_ok("sip:[2001:db8::10:5070]", &u);
	assert_str(u.host, "[2001:db8::10:5070]");
	assert_false(u.has_port);
	parse_ok("sip:user@[2001:db8::10:5070];transport=udp", &u);
	assert_false(u.has_port);
	assert_str(u.transport, "udp");

	/* RFC 5118 4.10: the three-colon form must be tolerated */
	parse_ok("sip:user@[2001:db8:::192.0.2.1]", &u);
	assert_true(u.host_is_ipv6);
	/* RFC 5118 4.9: IPv4-mapped */
	parse_ok("sip:[::ffff:192.0.2.10]", &u);
	assert_true(u.host_is_ipv6);
}

static void test_tel_uri(void **state)
{
	(void)state;
	struct sip_uri u;
	parse_ok("tel:+1-201-555-0123", &u);
	assert_int_equal(u.scheme, SIP_URI_TEL);
	assert_str(u.user, "+1-201-555-0123");
	assert_string_equal(sip_uri_scheme_name(u.scheme), "tel");

	parse_ok("tel:7042;phone-context=example.com", &u);
	assert_str(u.user, "7042");
	assert_str(u.params, ";phone-context=example.com");
	sip_str v;
	assert_true(sip_uri_param(&u, "phone-context", &v));
	assert_str(v, "example.com");

	parse_ok("tel:863-1234;phone-context=+1-914-555", &u);
	assert_str(u.user, "863-1234");
	parse_ok("TEL:+1(201)555.0123;ext=22", &u);
	assert_int_equal(u.scheme, SIP_URI_TEL);
	assert_str(u.user, "+1(201)555.0123");
}

static void test_other_schemes_opaque(void **state)
{
	(void)state;
	static const struct {
		const char *uri, *scheme, *opaque;
	} cases[] = {
		{"mailto:watson@bell-telephone.com", "mailto", "watson@bell-telephone.com"},
		{"urn:service:sos", "urn", "service:sos"},
		{"http://www.example.com/a/b?c=d&e=f", "http", "//www.example.com/a/b?c=d&e=f"},
		{"soap.beep://192.0.2.103:3002", "soap.beep", "//192.0.2.103:3002"}, /* RFC 4475 novelsc */
		{"im:user@example.com", "im", "user@example.com"},
		{"h323:user@example.com", "h323", "user@example.com"},
		{"x-new+scheme-1:a%20b", "x-new+scheme-1", "a%20b"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sip_uri u;
		parse_ok(cases[i].uri, &u);
		assert_int_equal(u.scheme, SIP_URI_OTHER);
		assert_str(u.scheme_name, cases[i].scheme);
		assert_str(u.opaque, cases[i].opaque);
		assert_string_equal(sip_uri_scheme_name(u.scheme), "other");
		/* no parameters to find in an opaque URI */
		assert_false(sip_uri_param(&u, "transport", NULL));
	}
}

static void test_params_access(void **state)
{
	(void)state;
	struct sip_uri u;
	parse_ok("sip:a@h;lr;Transport=TCP;x=1;%79=2", &u);
	sip_str v = SIP_STR_LIT("unchanged");
	assert_true(sip_uri_param(&u, "lr", &v));
	assert_false(sip_str_present(v));
	assert_true(sip_uri_param(&u, "transport", &v));
	assert_str(v, "TCP");
	assert_str(u.transport, "TCP");
	assert_true(sip_uri_param(&u, "X", &v));
	assert_str(v, "1");
	assert_true(sip_uri_param(&u, "y", &v)); /* names compared unescaped */
	assert_str(v, "2");
	assert_true(sip_uri_param(&u, "lr", NULL));
	assert_false(sip_uri_param(&u, "maddr", &v));
	assert_false(sip_uri_param(&u, "l", &v));

	/* iteration in order */
	sip_str cur = u.params, n, val;
	static const char *const names[] = {"lr", "Transport", "x", "%79"};
	size_t k = 0;
	while (sip_uri_param_next(&cur, &n, &val)) {
		assert_true(k < 4);
		assert_str(n, names[k]);
		k++;
	}
	assert_int_equal(k, 4);
	cur = SIP_STR_LIT("");
	assert_false(sip_uri_param_next(&cur, &n, &val));
}

static void test_unescape(void **state)
{
	(void)state;
	char out[32];
	static const struct {
		const char *in;
		long len;
		const char *out;
	} cases[] = {
		{"%61lice", 5, "alice"},
		{"al%69ce", 5, "alice"},
		{"%41%42%43", 3, "ABC"},
		{"%6c%6C", 2, "ll"},
		{"no-escape", 9, "no-escape"},
		{"", 0, ""},
		{"%25", 1, "%"},
		{"%2561", 3, "%61"}, /* one level only (RFC 4475 esc01) */
		{"%", -1, NULL},
		{"%4", -1, NULL},
		{"a%4", -1, NULL},
		{"%G1", -1, NULL},
		{"%1G", -1, NULL},
		{"ab%", -1, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].in);
		sip_str in = sip_str_make(tu_copy(cases[i].in, n), n);
		long r = sip_unescape(in, out, sizeof(out));
		if (r != cases[i].len)
			fail_msg("case %zu (%s): got %ld", i, cases[i].in, r);
		if (r >= 0)
			assert_memory_equal(out, cases[i].out, (size_t)r);
	}
	/* %00 decodes to a NUL octet */
	sip_str nul = SIP_STR_LIT("a%00b");
	assert_int_equal(sip_unescape(nul, out, sizeof(out)), 3);
	assert_memory_equal(out, "a\0b", 3);
	/* output capacity is honoured */
	sip_str in = SIP_STR_LIT("abcdef");
	assert_int_equal(sip_unescape(in, out, 5), -1);
	assert_int_equal(sip_unescape(in, out, 6), 6);
	assert_int_equal(sip_unescape(SIP_STR_LIT("%61%62"), out, 2), 2);
}

/* ---- malformed URIs ---------------------------------------------------- */

static void test_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *uri;
		const char *at; /* the offending text; "" = the end of the URI */
	} cases[] = {
		/* empty or missing host */
		{"sip:", ""},
		{"sip:alice@", ""},
		{"sip:@atlanta.com", "@atlanta"},
		{"sip:alice@:5060", ":5060"},
		{"sips:alice@;transport=tcp", ";transport"},
		{"sip:alice@-atlanta.com", "-atlanta"},
		{"sip:alice@[2001:db8::1", "[2001"},
		{"sip:alice@[]", "[]"},
		/* ports */
		{"sip:alice@atlanta.com:65536", "65536"},
		{"sip:alice@atlanta.com:99999999999999999999", "9999"},
		{"sip:alice@atlanta.com:", ""},
		{"sip:alice@atlanta.com:-1", "-1"},
		{"sip:alice@atlanta.com:50x60", "x60"},
		{"sip:alice@atlanta.com:5060:x", ":x"},
		{"sip:[2001:db8::1]:", ""},
		/* escapes */
		{"sip:%G1@atlanta.com", "%G1"},
		{"sip:al%4@atlanta.com", "%4@"},
		{"sip:alice:pa%zzss@atlanta.com", "%zz"},
		{"sip:alice@atlan%G1ta.com", "%G1"},
		{"sip:alice@atlanta.com;transport=%G1", "%G1"},
		{"sip:alice@atlanta.com;%G1=tcp", "%G1"},
		{"sip:alice@atlanta.com?subject=%G1", "%G1"},
		{"sip:alice@atlanta.com%", "%"},
		{"tel:+1-201%G1", "%G1"},
		{"mailto:alice%G1@example.com", "%G1"},
		/* scheme */
		{"", ""},
		{"alice@atlanta.com", "@atlanta"},
		{"atlanta.com", ""},
		{":alice@atlanta.com", ":alice"},
		{"1sip:alice@atlanta.com", "1sip"},
		{"si p:alice@atlanta.com", " p:"},
		{"<sip:alice@atlanta.com>", "<sip"},
		/* spaces */
		{"sip:alice @atlanta.com", " @"},
		{"sip:alice@atlanta .com", " .com"},
		{"sip:alice@atlanta.com ", " "},
		{"sip: alice@atlanta.com", " alice"},
		{"sip:alice@atlanta.com; transport=tcp", " transport"},
		{"tel:+1 201 555 0123", " 201"},
		{"mailto:alice @example.com", " @"},
		/* parameters and headers */
		{"sip:alice@atlanta.com;", ""},
		{"sip:alice@atlanta.com;;lr", ";lr"},
		{"sip:alice@atlanta.com;transport=", ""},
		{"sip:alice@atlanta.com;=tcp", "=tcp"},
		{"sip:alice@atlanta.com?", ""},
		{"sip:alice@atlanta.com?subject", ""},
		{"sip:alice@atlanta.com?=x", "=x"},
		{"sip:alice@atlanta.com?a=b&", ""},
		{"sip:alice@atlanta.com?a=b;c", ";c"},
		/* structure */
		{"sip:a@b@c", "@c"},
		{"sip:alice@atlanta.com>", ">"},
		{"sip:alice@atlanta.com,bob@biloxi.com", ",bob"},
		{"tel:", ""},
		{"tel:;phone-context=x", ";phone"},
		{"tel:+1@h", "@h"},
		{"mailto:", ""},
		{"mailto:a\"b", "\"b"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sip_uri u;
		struct sip_error err;
		const char *uri = cases[i].uri;
		if (parse(uri, &u, &err) != -1)
			fail_msg("case %zu: \"%s\" accepted", i, uri);
		size_t want = cases[i].at[0] ? off_of(uri, cases[i].at) : strlen(uri);
		if (err.fault != SIP_FAULT_HEADER_VALUE || err.offset != want)
			fail_msg("case %zu: \"%s\": expected offset %zu, got %s at %zu (%s)", i, uri,
				 want, sip_fault_name(err.fault), err.offset, err.detail);
		assert_true(strncmp(err.detail, "URI: ", 5) == 0);
	}
}

static void test_malformed_without_err(void **state)
{
	(void)state;
	struct sip_uri u;
	assert_int_equal(sip_uri_parse(&u, "sip:", 4, NULL), -1);
	assert_int_equal(sip_uri_parse(&u, "sip:a@b", 7, NULL), 0);
	/* a length shorter than the text: only the slice counts */
	assert_int_equal(sip_uri_parse(&u, "sip:a@b:5060", 7, NULL), 0);
	assert_false(u.has_port);
}

/* ---- comparison -------------------------------------------------------- */

static bool uri_eq(const char *x, const char *y)
{
	struct sip_uri a, b;
	parse_ok(x, &a);
	parse_ok(y, &b);
	bool ab = sip_uri_equal(&a, &b), ba = sip_uri_equal(&b, &a);
	if (ab != ba)
		fail_msg("comparison not symmetric: %s / %s", x, y);
	if (!sip_uri_equal(&a, &a) || !sip_uri_equal(&b, &b))
		fail_msg("comparison not reflexive: %s / %s", x, y);
	return ab;
}

/* RFC 3261 19.1.4: "The URIs within each of the following sets are
 * equivalent" (each set compared pairwise). */
static const char *const rfc_equal_sets[][4] = {
	{"sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp", NULL},
	{"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5",
	 "sip:carol@chicago.com;security=on", NULL},
	{"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
	 "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com", NULL},
	{"sip:alice@atlanta.com?subject=project%20x&priority=urgent",
	 "sip:alice@atlanta.com?priority=urgent&subject=project%20x", NULL},
};

static void test_rfc3261_equal_examples(void **state)
{
	(void)state;
	for (size_t s = 0; s < sizeof(rfc_equal_sets) / sizeof(rfc_equal_sets[0]); s++)
		for (size_t i = 0; rfc_equal_sets[s][i]; i++)
			for (size_t j = i + 1; rfc_equal_sets[s][j]; j++)
				if (!uri_eq(rfc_equal_sets[s][i], rfc_equal_sets[s][j]))
					fail_msg("should be equal: %s / %s", rfc_equal_sets[s][i],
						 rfc_equal_sets[s][j]);
}

/* "The URIs within each of the following sets are not equivalent", and the
 * note that equality is not transitive. */
static const char *const rfc_unequal_pairs[][2] = {
	{"SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"},
	{"sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"},
	{"sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"},
	{"sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"},
};

static void test_rfc3261_unequal_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc_unequal_pairs) / sizeof(rfc_unequal_pairs[0]); i++)
		if (uri_eq(rfc_unequal_pairs[i][0], rfc_unequal_pairs[i][1]))
			fail_msg("should differ: %s / %s", rfc_unequal_pairs[i][0],
				 rfc_unequal_pairs[i][1]);
	/* equality is not transitive */
	assert_true(uri_eq("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
	assert_true(uri_eq("sip:carol@chicago.com", "sip:carol@chicago.com;security=off"));
}

static const struct {
	const char *a, *b;
	bool equal;
	const char *why;
} more_pairs[] = {
	/* schemes */
	{"sip:alice@atlanta.com", "sips:alice@atlanta.com", false, "SIP and SIPS never equivalent"},
	{"SIP:alice@atlanta.com", "sip:alice@atlanta.com", true, "scheme is case-insensitive"},
	{"sip:+1234@h;user=phone", "tel:+1234", false, "different schemes"},
	/* userinfo: case-sensitive, compared unescaped */
	{"sip:alice@atlanta.com", "sip:Alice@atlanta.com", false, "user is case-sensitive"},
	{"sip:%61lice@atlanta.com", "sip:alice@atlanta.com", true, "%61 is a"},
	{"sip:%41lice@atlanta.com", "sip:alice@atlanta.com", false, "%41 is A, not a"},
	{"sip:a%6Cice@h", "sip:a%6cice@h", true, "hex digits of an escape in any case"},
	{"sip:atlanta.com", "sip:alice@atlanta.com", false, "user omitted vs present"},
	{"sip:alice@h", "sip:alice:pw@h", false, "password omitted vs present"},
	{"sip:alice:PW@h", "sip:alice:pw@h", false, "password is case-sensitive"},
	{"sip:alice:p%77@h", "sip:alice:pw@h", true, "password compared unescaped"},
	{"sip:+1-212-555-1212@h;user=phone", "sip:+12125551212@h;user=phone", false,
	 "telephone-subscriber user parts compare as strings"},
	/* RFC 3261 19.1.6: tel URLs and SIP URIs formed from them */
	{"sip:+358-555-1234567;postd=pp22@foo.com;user=phone",
	 "sip:+358-555-1234567;POSTD=PP22@foo.com;user=phone", false, "19.1.6: userinfo case"},
	{"sip:+358-555-1234567;postd=pp22;isub=1411@foo.com;user=phone",
	 "sip:+358-555-1234567;isub=1411;postd=pp22@foo.com;user=phone", false,
	 "19.1.6: userinfo order"},
	{"tel:+358-555-1234567;postd=pp22", "tel:+358-555-1234567;POSTD=PP22", true,
	 "19.1.6: tel is case-insensitive"},
	{"tel:+358-555-1234567;postd=pp22;isub=1411", "tel:+358-555-1234567;isub=1411;postd=pp22",
	 true, "19.1.6: tel parameter order"},
	/* host: case-insensitive, no DNS */
	{"sip:alice@ATLANTA.com", "sip:alice@atlanta.COM", true, "host is case-insensitive"},
	{"sip:alice@atlanta.com", "sip:alice@atlanta.com.", false, "host names differ"},
	{"sip:alice@192.0.2.1", "sip:alice@192.0.2.01", false, "address texts differ"},
	/* IPv6: compared as addresses */
	{"sip:[::1]", "sip:[0:0::1]", true, "same IPv6 address"},
	{"sip:alice@[2001:db8::1]:5060", "sip:alice@[2001:DB8:0:0:0:0:0:1]:5060", true,
	 "same IPv6 address"},
	{"sip:[::1]", "sip:[::2]", false, "different IPv6 addresses"},
	{"sip:[2001:db8::10:5070]", "sip:[2001:db8::10]:5070", false,
	 "RFC 5118 4.3/4.4: address+port vs longer address"},
	{"sip:[::ffff:192.0.2.1]", "sip:192.0.2.1", false, "IPv4-mapped is not IPv4"},
	/* ports: an absent port is not 5060 */
	{"sip:alice@h", "sip:alice@h:5060", false, "port omitted vs 5060"},
	{"sips:alice@h", "sips:alice@h:5061", false, "port omitted vs 5061"},
	{"sip:alice@h:5060", "sip:alice@h:5061", false, "different ports"},
	{"sip:alice@h:05060", "sip:alice@h:5060", true, "same port number"},
	/* transport, user, ttl, method, maddr: in one only never matches */
	{"sip:alice@h;transport=udp", "sip:alice@h", false, "transport only in one"},
	{"sip:alice@h;transport=UDP", "sip:alice@h;TRANSPORT=udp", true, "transport case"},
	{"sip:alice@h;transport=tcp", "sip:alice@h;transport=udp", false, "transports differ"},
	{"sip:alice@h;user=ip", "sip:alice@h", false, "user param only in one (even default)"},
	{"sip:alice@h;user=phone", "sip:alice@h;user=ip", false, "user params differ"},
	{"sip:alice@h;ttl=1", "sip:alice@h", false, "ttl only in one"},
	{"sip:alice@h;ttl=1", "sip:alice@h;ttl=2", false, "ttls differ"},
	{"sip:alice@h;method=INVITE", "sip:alice@h", false, "method only in one"},
	{"sip:alice@h;method=INVITE", "sip:alice@h;method=BYE", false, "methods differ"},
	{"sip:alice@h;maddr=239.255.255.1", "sip:alice@h", false, "maddr only in one"},
	{"sip:alice@h;maddr=239.255.255.1", "sip:alice@h;maddr=239.255.255.2", false, "maddrs differ"},
	{"sip:alice@h;maddr=Example.COM", "sip:alice@h;MADDR=example.com", true, "maddr case"},
	{"sip:alice@h;transport=tcp;ttl=15;maddr=m;user=ip;method=BYE",
	 "sip:alice@h;method=BYE;user=ip;maddr=m;ttl=15;transport=tcp", true, "order not significant"},
	{"sip:alice@h;%74ransport=tcp", "sip:alice@h;transport=tcp", true, "escaped param name"},
	/* other parameters: compared only when in both */
	{"sip:alice@h;lr", "sip:alice@h", true, "lr only in one is ignored"},
	{"sip:alice@h;foo=1", "sip:alice@h;bar=2", true, "disjoint unknown params ignored"},
	{"sip:alice@h;foo=1;bar=2", "sip:alice@h;bar=2;foo=1", true, "unknown params in any order"},
	{"sip:alice@h;foo=1", "sip:alice@h;foo=2", false, "unknown param in both must match"},
	{"sip:alice@h;foo=ABC", "sip:alice@h;FOO=abc", true, "param values are case-insensitive"},
	{"sip:alice@h;foo", "sip:alice@h;foo=1", false, "valueless vs valued"},
	/* headers: every header in each must be in the other */
	{"sip:a@h?subject=x", "sip:a@h?subject=x&priority=urgent", false, "extra header"},
	{"sip:a@h?subject=x", "sip:a@h", false, "header only in one"},
	{"sip:a@h?subject=x", "sip:a@h?subject=y", false, "header values differ"},
	{"sip:a@h?Subject=x", "sip:a@h?subject=x", true, "header names are case-insensitive"},
	{"sip:a@h?subject=%78", "sip:a@h?subject=x", true, "header values compared unescaped"},
	/* tel (RFC 3966 section 4) */
	{"tel:+1-201-555-0123", "tel:+12015550123", true, "visual separators ignored"},
	{"tel:+1.201.555.0123", "tel:+1(201)555-0123", true, "visual separators ignored"},
	{"tel:+1-201-555-0123", "tel:+1-201-555-0124", false, "different numbers"},
	{"tel:+12015550123", "tel:12015550123", false, "global vs local number"},
	{"tel:7042;phone-context=example.com", "tel:7042;phone-context=EXAMPLE.com", true,
	 "domain name case-insensitive"},
	{"tel:7042;phone-context=example.com", "tel:7042", false, "parameter only in one"},
	{"tel:7042;phone-context=a.com", "tel:7042;phone-context=b.com", false, "contexts differ"},
	{"tel:+1234;ext=1;isub=2", "tel:+1234;isub=2;ext=1", true, "parameter order"},
	/* other schemes: kept opaque */
	{"mailto:alice@example.com", "MAILTO:alice@example.com", true, "scheme case-insensitive"},
	{"mailto:alice@example.com", "mailto:bob@example.com", false, "opaque parts differ"},
	{"urn:service:sos", "urn:service:sos", true, "identical"},
	{"urn:service:sos", "http:service:sos", false, "schemes differ"},
};

static void test_comparison_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(more_pairs) / sizeof(more_pairs[0]); i++)
		if (uri_eq(more_pairs[i].a, more_pairs[i].b) != more_pairs[i].equal)
			fail_msg("%s / %s should be %s (%s)", more_pairs[i].a, more_pairs[i].b,
				 more_pairs[i].equal ? "equal" : "different", more_pairs[i].why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sip_uri_all_parts),
		cmocka_unit_test(test_sip_uri_minimal_forms),
		cmocka_unit_test(test_sip_uri_user_part),
		cmocka_unit_test(test_sip_uri_ipv6),
		cmocka_unit_test(test_tel_uri),
		cmocka_unit_test(test_other_schemes_opaque),
		cmocka_unit_test(test_params_access),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_without_err),
		cmocka_unit_test(test_rfc3261_equal_examples),
		cmocka_unit_test(test_rfc3261_unequal_examples),
		cmocka_unit_test(test_comparison_rules),
	};
	return cmocka_run_group_tests(tests, NULL, tu_free_all);
}
