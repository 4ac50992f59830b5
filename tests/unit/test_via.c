/*
 * Unit tests for common/sip/via.[ch]: Via header values (RFC 3261 20.42 and
 * the via-parm grammar of section 25), rport (RFC 3581), received with IPv6
 * (RFC 5118 4.5), and the RFC 3261 branch cookie (17.2.3, RFC 4475 3.2.1).
 */
#include "testutil.h"

#include "sip/msg.h"
#include "sip/via.h"

struct fixture {
	struct arena a;
	struct sip_error err;
	struct sip_via *list;
	const char *text; /* exact-size copy of the value */
};

static int parse(struct fixture *f, const char *lit)
{
	size_t n = strlen(lit);
	f->text = tu_copy(lit, n);
	memset(&f->err, 0, sizeof(f->err));
	f->err.base = f->text;
	return sip_via_parse(sip_str_make(f->text, n), &f->a, &f->list, &f->err);
}

static struct sip_via *parse_ok(struct fixture *f, const char *lit)
{
	f->list = NULL;
	if (parse(f, lit) != 0)
		fail_msg("\"%s\" refused: %s at %zu", lit, f->err.detail, f->err.offset);
	assert_non_null(f->list);
	return f->list;
}

/* each test gets a fresh fixture with an empty arena */
ARENA_FIXTURE_HOOKS(struct fixture, a)

static unsigned count(const struct sip_via *v)
{
	unsigned n = 0;
	for (; v; v = v->next)
		n++;
	return n;
}

static void test_basic(void **state)
{
	struct fixture *f = *state;
	struct sip_via *v = parse_ok(f, "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds");
	assert_int_equal(count(v), 1);
	assert_str(v->protocol, "SIP");
	assert_str(v->version, "2.0");
	assert_str(v->transport, "UDP");
	assert_str(v->host, "pc33.atlanta.com");
	assert_false(v->has_port);
	assert_str(v->branch, "z9hG4bK776asdhds");
	assert_false(sip_str_present(v->received));
	assert_false(sip_str_present(v->maddr));
	assert_false(v->rport);
	assert_false(v->has_ttl);
	assert_str(v->text, "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds");
	assert_non_null(v->params);
	assert_str(v->params->name, "branch");
	assert_null(v->params->next);
	assert_true(sip_via_branch_is_rfc3261(v));
}

static void test_port_and_ipv6_sent_by(void **state)
{
	struct fixture *f = *state;
	struct sip_via *v = parse_ok(f, "SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74b76");
	assert_str(v->transport, "TCP");
	assert_true(v->has_port);
	assert_int_equal(v->port, 5060);

	v = parse_ok(f, "SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3");
	assert_str(v->host, "[2001:db8::9:1]");
	assert_int_equal(v->port, 5070);

	/* RFC 5118 4.3: inside the brackets there is no port */
	v = parse_ok(f, "SIP/2.0/UDP [2001:db8::9:5070];branch=z9hG4bKas3");
	assert_str(v->host, "[2001:db8::9:5070]");
	assert_false(v->has_port);

	v = parse_ok(f, "SIP/2.0/UDP 192.0.2.1:65535");
	assert_str(v->host, "192.0.2.1");
	assert_int_equal(v->port, 65535);
	assert_false(sip_str_present(v->branch));
	assert_false(sip_via_branch_is_rfc3261(v));
}

static void test_multiple_via_parms(void **state)
{
	struct fixture *f = *state;
	struct sip_via *v = parse_ok(
		f, "SIP/2.0/UDP first.example.com:4000;ttl=16;maddr=224.2.0.1;branch=z9hG4bKa7c6a8dlze.1, "
		   "SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKxyz ,SIP/2.0/SCTP third.example.com");
	assert_int_equal(count(v), 3);
	assert_str(v->host, "first.example.com");
	assert_int_equal(v->port, 4000);
	assert_true(v->has_ttl);
	assert_int_equal(v->ttl, 16);
	assert_str(v->maddr, "224.2.0.1");
	assert_str(v->branch, "z9hG4bKa7c6a8dlze.1");
	assert_str(v->text, "SIP/2.0/UDP first.example.com:4000;ttl=16;maddr=224.2.0.1;branch=z9hG4bKa7c6a8dlze.1");
	/* params in wire order */
	assert_str(v->params->name, "ttl");
	assert_str(v->params->next->name, "maddr");
	assert_str(v->params->next->next->name, "branch");
	v = v->next;
	assert_str(v->transport, "TCP");
	assert_str(v->host, "[2001:db8::1]");
	assert_str(v->branch, "z9hG4bKxyz");
	assert_str(v->text, "SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKxyz");
	v = v->next;
	assert_str(v->transport, "SCTP");
	assert_str(v->host, "third.example.com");
	assert_null(v->next);

	/* a second header's via-parms are appended to the same list */
	size_t n = strlen("SIP/2.0/TLS fourth.example.com;branch=z9hG4bK4");
	const char *t = tu_copy("SIP/2.0/TLS fourth.example.com;branch=z9hG4bK4", n);
	assert_int_equal(sip_via_parse(sip_str_make(t, n), &f->a, &f->list, NULL), 0);
	assert_int_equal(count(f->list), 4);
	assert_str(f->list->next->next->next->transport, "TLS");
}

static void test_lws(void **state)
{
	struct fixture *f = *state;
	/* SLASH, SEMI, EQUAL and COMMA all allow SWS around them; folding too */
	struct sip_via *v = parse_ok(f, "SIP / 2.0 / UDP host.example.com ; branch = z9hG4bK1 ;\r\n rport");
	assert_str(v->protocol, "SIP");
	assert_str(v->version, "2.0");
	assert_str(v->transport, "UDP");
	assert_str(v->host, "host.example.com");
	assert_str(v->branch, "z9hG4bK1");
	assert_true(v->rport);

	v = parse_ok(f, "  SIP/2.0/UDP\r\n\thost.example.com:5060 ,\r\n SIP/2.0/UDP other.example.com  ");
	assert_int_equal(count(v), 2);
	assert_int_equal(v->port, 5060);
	assert_str(v->next->host, "other.example.com");

	/* sent-by port after SWS ':' SWS (COLON) */
	v = parse_ok(f, "SIP/2.0/UDP host.example.com : 5062");
	assert_int_equal(v->port, 5062);
}

static void test_unknown_transport_and_params(void **state)
{
	struct fixture *f = *state;
	/* RFC 4475 transports: unknown transports are accepted */
	struct sip_via *v = parse_ok(f, "SIP/2.0/NEWFANGLEDTRANSPORT t.example.com;branch=z9hG4bKx;"
					"custom=Value;flag;q=\"quoted ; value\"");
	assert_str(v->transport, "NEWFANGLEDTRANSPORT");
	const struct sip_param *p = sip_param_find(v->params, "CUSTOM");
	assert_non_null(p);
	assert_str(p->value, "Value");
	p = sip_param_find(v->params, "flag");
	assert_non_null(p);
	assert_false(sip_str_present(p->value));
	p = sip_param_find(v->params, "q");
	assert_true(p->quoted);
	assert_str(p->value, "quoted ; value");
}

static void test_rport(void **state)
{
	struct fixture *f = *state;
	struct sip_via *v = parse_ok(f, "SIP/2.0/UDP h;rport;branch=z9hG4bK1");
	assert_true(v->rport);
	assert_int_equal(v->rport_value, 0);
	const struct sip_param *p = sip_param_find(v->params, "rport");
	assert_false(sip_str_present(p->value));

	v = parse_ok(f, "SIP/2.0/UDP h;received=192.0.2.1;rport=5061;branch=z9hG4bK1");
	assert_true(v->rport);
	assert_int_equal(v->rport_value, 5061);
	assert_str(v->received, "192.0.2.1");

	v = parse_ok(f, "SIP/2.0/UDP h;RPORT=65535");
	assert_true(v->rport);
	assert_int_equal(v->rport_value, 65535);
}

static void test_received(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *value;
		const char *received;
	} cases[] = {
		{"SIP/2.0/UDP h;received=192.0.2.101", "192.0.2.101"},
		/* RFC 5118 4.5: with and without the brackets */
		{"SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
		 "[2001:db8::9:255]"},
		{"SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3-111",
		 "2001:db8::9:255"},
		{"SIP/2.0/UDP h;received=2001:DB8:0:0:0:0:0:1", "2001:DB8:0:0:0:0:0:1"},
		{"SIP/2.0/UDP h;received=::ffff:192.0.2.1;rport", "::ffff:192.0.2.1"},
		{"SIP/2.0/UDP h;received=::1", "::1"},
		{"SIP/2.0/UDP h;received=[::1]", "[::1]"},
		{"SIP/2.0/UDP h;Received=10.0.0.1", "10.0.0.1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sip_via *v = parse_ok(f, cases[i].value);
		assert_str(v->received, cases[i].received);
	}
}

static void test_branch_cookie(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *value;
		bool rfc3261;
	} cases[] = {
		{"SIP/2.0/UDP h;branch=z9hG4bK776asdhds", true},
		{"SIP/2.0/UDP h;branch=z9hG4bK1", true},
		{"SIP/2.0/UDP h;branch=z9hG4bK", false},   /* RFC 4475 badbranch: cookie alone */
		{"SIP/2.0/UDP h;branch=z9hG4b", false},
		{"SIP/2.0/UDP h;branch=776asdhds", false}, /* RFC 2543 peer */
		{"SIP/2.0/UDP h;branch=xz9hG4bK776", false},
		{"SIP/2.0/UDP h", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sip_via *v = parse_ok(f, cases[i].value);
		if (sip_via_branch_is_rfc3261(v) != cases[i].rfc3261)
			fail_msg("%s: expected %s", cases[i].value, cases[i].rfc3261 ? "RFC 3261" : "not RFC 3261");
	}
	/* the parameter name is case-insensitive; its value is kept as sent */
	struct sip_via *v = parse_ok(f, "SIP/2.0/UDP h;BRANCH=z9hG4bKAbC");
	assert_str(v->branch, "z9hG4bKAbC");
}

static void test_ttl_and_maddr(void **state)
{
	struct fixture *f = *state;
	struct sip_via *v = parse_ok(f, "SIP/2.0/UDP h;ttl=0;maddr=239.255.255.1");
	assert_true(v->has_ttl);
	assert_int_equal(v->ttl, 0);
	assert_str(v->maddr, "239.255.255.1");
	v = parse_ok(f, "SIP/2.0/UDP h;ttl=255;maddr=[2001:db8::5]");
	assert_int_equal(v->ttl, 255);
	assert_str(v->maddr, "[2001:db8::5]");
}

static void test_faults(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *value;
		const char *at; /* the offending text; "" = the end */
	} cases[] = {
		{"", ""},
		{"   ", ""},
		{"/2.0/UDP h", "/2.0"},
		{"SIP/2.0 host.example.com", " host"},        /* missing transport */
		{"SIP/2.0/ host.example.com", ""},          /* "host.example.com" is the transport */
		{"SIP host.example.com", " host"},
		{"SIP/2.0/UDP", ""},                           /* missing sent-by */
		{"SIP/2.0/UDP ", ""},
		{"SIP/2.0/UDP;branch=z9hG4bK1", ";branch"},
		{"SIP/2.0/UDP -host", "-host"},
		{"SIP/2.0/UDP [2001:db8::1", "[2001"},
		{"SIP/2.0/UDP h:", ""},
		{"SIP/2.0/UDP h:65536", "65536"},
		{"SIP/2.0/UDP h:port", "port"},
		{"SIP/2.0/UDP h;", ""},                       /* empty parameter */
		{"SIP/2.0/UDP h;;branch=z9hG4bK1", ";branch"},
		{"SIP/2.0/UDP h; ;branch=z9hG4bK1", ";branch"},
		{"SIP/2.0/UDP h;branch=", ""},
		{"SIP/2.0/UDP h;branch=;rport", ";rport"},
		{"SIP/2.0/UDP h;branch", "branch"},           /* branch needs a value */
		{"SIP/2.0/UDP h;branch=\"z9hG4bK1", "\"z9hG4bK1"},
		{"SIP/2.0/UDP h;received=", ""},
		{"SIP/2.0/UDP h;received=atlanta.com", "atlanta.com"},
		{"SIP/2.0/UDP h;received", "received"},
		{"SIP/2.0/UDP h;received=[2001:db8::1", "[2001"},
		{"SIP/2.0/UDP h;ttl=256", "256"},
		{"SIP/2.0/UDP h;ttl=-1", "-1"},
		{"SIP/2.0/UDP h;ttl=1a", "1a"},
		{"SIP/2.0/UDP h;rport=65536", "65536"},
		{"SIP/2.0/UDP h;rport=abc", "abc"},
		{"SIP/2.0/UDP h;rport=", ""},
		{"SIP/2.0/UDP h;branch=z9hG4bK1 junk", "junk"},
		{"SIP/2.0/UDP h,", ""},                        /* empty via-parm after a comma */
		{"SIP/2.0/UDP h,,SIP/2.0/UDP i", ",SIP"},
		{"SIP/2.0/UDP h;@=x", "@=x"},
		/* RFC 4475 badinv01: extraneous separators */
		{"SIP/2.0/UDP 192.0.2.15;;,;,,", ";,;,,"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *val = cases[i].value;
		f->list = NULL;
		if (parse(f, val) != -1)
			fail_msg("case %zu: \"%s\" accepted", i, val);
		size_t want = cases[i].at[0] ? off_of(val, cases[i].at) : strlen(val);
		if (f->err.fault != SIP_FAULT_HEADER_VALUE || f->err.offset != want)
			fail_msg("case %zu: \"%s\": expected offset %zu, got %s at %zu (%s)", i, val, want,
				 sip_fault_name(f->err.fault), f->err.offset, f->err.detail);
		assert_true(strncmp(f->err.detail, "Via: ", 5) == 0);
	}
}

static void test_no_memory(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 1);
	char text[40 * 200];
	size_t n = 0;
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%sSIP/2.0/UDP h%d;rport", i ? "," : "", i);
	const char *c = tu_copy(text, n);
	struct sip_error err = {.base = c};
	struct sip_via *list = NULL;
	assert_int_equal(sip_via_parse(sip_str_make(c, n), &a, &list, &err), -1);
	assert_int_equal(err.fault, SIP_FAULT_NO_MEMORY);
	arena_free(&a);
}

/* In a message: the compact form v, and several Via header fields. */
static void test_compact_form_in_message(void **state)
{
	(void)state;
	size_t n;
	char *c = crlf("SIP/2.0 200 OK\n"
		       "v: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1;received=192.0.2.1, "
		       "SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\n"
		       "Via: SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK3;rport=5066\n"
		       "V: SIP/2.0/TLS [2001:db8::1];branch=z9hG4bK4\n"
		       "Content-Length: 0\n"
		       "\n",
		       &n);
	const char *buf = tu_copy(c, n);
	free(c);
	struct sip_msg m;
	struct sip_error err = {.base = buf};
	assert_int_equal(sip_msg_parse(&m, buf, n, NULL, &err), 0);
	struct sip_via *v = sip_msg_via(&m, &err);
	assert_non_null(v);
	assert_str(v->host, "p1.example.com");
	assert_str(v->received, "192.0.2.1");
	assert_str(v->next->host, "p2.example.com");
	assert_null(v->next->next);
	/* the other Via header fields, in order, through the type chain */
	struct sip_hdr *h = m.first[SIP_HDR_VIA]->next_same;
	assert_str(h->name, "Via");
	assert_int_equal(sip_hdr_parse(&m, h, &err), 0);
	assert_int_equal(h->v.via->rport_value, 5066);
	h = h->next_same;
	assert_str(h->name, "V");
	assert_int_equal(sip_hdr_parse(&m, h, &err), 0);
	assert_str(h->v.via->transport, "TLS");
	assert_null(h->next_same);
	sip_msg_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_and_ipv6_sent_by, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiple_via_parms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lws, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_transport_and_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rport, setup, teardown),
		cmocka_unit_test_setup_teardown(test_received, setup, teardown),
		cmocka_unit_test_setup_teardown(test_branch_cookie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_and_maddr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
		cmocka_unit_test(test_no_memory),
		cmocka_unit_test(test_compact_form_in_message),
	};
	return cmocka_run_group_tests(tests, NULL, tu_free_all);
}
