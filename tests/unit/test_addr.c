/*
 * Unit tests for common/sip/addr.[ch]: name-addr and addr-spec values with
 * header parameters (From, To, Contact, Route...), RFC 3261 20.10 and the
 * Contact grammar of section 25, with RFC 4475 cases where they apply.
 */
#include "testutil.h"

#include "sip/addr.h"

struct fixture {
	struct arena a;
	struct sip_error err;
	struct sip_addr *list;
	const char *text;
};

static int parse(struct fixture *f, const char *lit, bool list, bool star, const char *what)
{
	size_t n = strlen(lit);
	f->text = tu_copy(lit, n);
	f->list = NULL;
	memset(&f->err, 0, sizeof(f->err));
	f->err.base = f->text;
	return sip_addr_parse(sip_str_make(f->text, n), &f->a, &f->list, list, star, what, &f->err);
}

static struct sip_addr *one(struct fixture *f, const char *lit)
{
	if (parse(f, lit, false, false, "From") != 0)
		fail_msg("\"%s\" refused: %s at %zu", lit, f->err.detail, f->err.offset);
	assert_non_null(f->list);
	assert_null(f->list->next);
	return f->list;
}

static struct sip_addr *contacts(struct fixture *f, const char *lit)
{
	if (parse(f, lit, true, true, "Contact") != 0)
		fail_msg("\"%s\" refused: %s at %zu", lit, f->err.detail, f->err.offset);
	assert_non_null(f->list);
	return f->list;
}

static unsigned count(const struct sip_addr *a)
{
	unsigned n = 0;
	for (; a; a = a->next)
		n++;
	return n;
}

/* each test gets a fresh fixture with an empty arena */
ARENA_FIXTURE_HOOKS(struct fixture, a)

/* ---- name-addr ---------------------------------------------------------- */

static void test_quoted_display(void **state)
{
	struct fixture *f = *state;
	struct sip_addr *ad = one(f, "\"Bob \\\"the\\\" Builder\" <sip:bob@biloxi.com>;tag=a6c85cf");
	assert_true(ad->display_quoted);
	assert_str(ad->display, "Bob \\\"the\\\" Builder"); /* escapes kept */
	assert_true(ad->angle);
	assert_false(ad->star);
	assert_int_equal(ad->uri.scheme, SIP_URI_SIP);
	assert_str(ad->uri.user, "bob");
	assert_str(ad->uri.host, "biloxi.com");
	assert_str(ad->tag, "a6c85cf");
	assert_str(ad->text, "\"Bob \\\"the\\\" Builder\" <sip:bob@biloxi.com>;tag=a6c85cf");

	/* empty, UTF-8, and with characters a token display name cannot hold */
	ad = one(f, "\"\" <sip:a@h>");
	assert_true(ad->display_quoted);
	assert_true(sip_str_present(ad->display));
	assert_int_equal(ad->display.len, 0);
	ad = one(f, "\"Ren\xc3\xa9 <Caf\xc3\xa9>, @home\" <sip:rene@example.fr>");
	assert_str(ad->display, "Ren\xc3\xa9 <Caf\xc3\xa9>, @home");
	assert_str(ad->uri.user, "rene");
	/* a backslash-escaped backslash before the closing quote */
	ad = one(f, "\"C:\\\\\" <sip:c@h>");
	assert_str(ad->display, "C:\\\\");
}

static void test_token_display(void **state)
{
	struct fixture *f = *state;
	struct sip_addr *ad = one(f, "Bob Smith <sip:bob@biloxi.com>");
	assert_false(ad->display_quoted);
	assert_str(ad->display, "Bob Smith");
	assert_true(ad->angle);
	assert_false(sip_str_present(ad->tag));

	ad = one(f, "Mr.\tJ.  User\r\n <sip:j.user@example.com>");
	assert_str(ad->display, "Mr.\tJ.  User");
	assert_str(ad->uri.user, "j.user");

	/* no display name at all */
	ad = one(f, "<sip:alice@atlanta.com>");
	assert_false(sip_str_present(ad->display));
	assert_true(ad->angle);
}

static void test_no_lws_before_laquot(void **state)
{
	struct fixture *f = *state;
	/* quoted-string SWS "<": no whitespace needed */
	struct sip_addr *ad = one(f, "\"caller\"<sip:caller@example.com>;tag=323");
	assert_str(ad->display, "caller");
	assert_str(ad->uri.user, "caller");
	assert_str(ad->tag, "323");
	/* RFC 4475 lwsdisp: token display without LWS before '<' is accepted */
	ad = one(f, "caller<sip:caller@example.com>;tag=323");
	assert_false(ad->display_quoted);
	assert_str(ad->display, "caller");
	assert_str(ad->uri.host, "example.com");
}

static void test_uri_params_vs_header_params(void **state)
{
	struct fixture *f = *state;
	/* in <>, ';' up to '>' belongs to the URI */
	struct sip_addr *ad = one(f, "<sip:alice@atlanta.com;transport=tcp;lr>;tag=x;Foo=Bar");
	assert_str(ad->uri.transport, "tcp");
	assert_true(ad->uri.lr);
	assert_str(ad->tag, "x");
	assert_non_null(sip_param_find(ad->params, "foo"));
	assert_null(sip_param_find(ad->params, "transport"));

	/* addr-spec: every ';' starts a header parameter (RFC 3261 20.10) */
	ad = one(f, "sip:alice@atlanta.com;tag=1928301774");
	assert_false(ad->angle);
	assert_false(sip_str_present(ad->display));
	assert_str(ad->uri.host, "atlanta.com");
	assert_int_equal(ad->uri.params.len, 0);
	assert_str(ad->tag, "1928301774");
	ad = one(f, "sip:alice@atlanta.com;transport=tcp");
	assert_false(sip_str_present(ad->uri.transport));
	assert_non_null(sip_param_find(ad->params, "transport"));

	/* the parameter name is case-insensitive; LWS around ';' and '=' */
	ad = one(f, "<sip:a@h> ; TAG = abc");
	assert_str(ad->tag, "abc");
	ad = one(f, "sip:a@h ;tag=abc");
	assert_str(ad->tag, "abc");

	/* RFC 4475 cparam01/cparam02 */
	ad = one(f, "<sip:user@example.com>;unknownparam");
	assert_non_null(sip_param_find(ad->params, "unknownparam"));
	assert_false(sip_uri_param(&ad->uri, "unknownparam", NULL));
	ad = one(f, "<sip:user@example.com;unknownparam>");
	assert_null(sip_param_find(ad->params, "unknownparam"));
	assert_true(sip_uri_param(&ad->uri, "unknownparam", NULL));
}

static void test_uri_kinds(void **state)
{
	struct fixture *f = *state;
	struct sip_addr *ad = one(f, "<tel:+1-201-555-0123>");
	assert_int_equal(ad->uri.scheme, SIP_URI_TEL);
	ad = one(f, "<sips:[2001:db8::10]:5061>;tag=v6");
	assert_int_equal(ad->uri.scheme, SIP_URI_SIPS);
	assert_str(ad->uri.host, "[2001:db8::10]");
	assert_int_equal(ad->uri.port, 5061);
	/* RFC 4475 unksm2: unknown schemes in header fields parse */
	ad = one(f, "<http://www.example.com/index.html>");
	assert_int_equal(ad->uri.scheme, SIP_URI_OTHER);
	assert_str(ad->uri.scheme_name, "http");
	/* '?' is fine inside <> */
	ad = one(f, "<sip:alice@atlanta.com?subject=project%20x&priority=urgent>");
	assert_str(ad->uri.headers, "subject=project%20x&priority=urgent");
}

/* ---- lists and Contact ------------------------------------------------- */

static void test_contact_list_q_expires(void **state)
{
	struct fixture *f = *state;
	/* RFC 3261 20.10's example */
	struct sip_addr *ad = contacts(
		f, "\"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600,\r\n"
		   " \"Mr. Watson\" <mailto:watson@bell-telephone.com> ;q=0.1");
	assert_int_equal(count(ad), 2);
	assert_str(ad->display, "Mr. Watson");
	const struct sip_param *q = sip_param_find(ad->params, "q");
	assert_non_null(q);
	assert_str(q->value, "0.7");
	const struct sip_param *e = sip_param_find(ad->params, "EXPIRES");
	assert_non_null(e);
	assert_str(e->value, "3600");
	assert_str(ad->text, "\"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600");
	ad = ad->next;
	assert_int_equal(ad->uri.scheme, SIP_URI_OTHER);
	assert_str(sip_param_find(ad->params, "q")->value, "0.1");
	assert_null(sip_param_find(ad->params, "expires"));

	/* a comma inside a quoted display name is not a separator */
	ad = contacts(f, "\"Bell, Alexander\" <sip:a.g.bell@bell-tel.com>, <sip:b@h>,sip:c@h;q=1");
	assert_int_equal(count(ad), 3);
	assert_str(ad->display, "Bell, Alexander");
	assert_str(ad->next->uri.user, "b");
	assert_str(ad->next->next->uri.user, "c");
	assert_false(ad->next->next->angle);
	assert_str(sip_param_find(ad->next->next->params, "q")->value, "1");

	/* a second call appends to the list */
	size_t n = strlen("<sip:d@h>");
	const char *t = tu_copy("<sip:d@h>", n);
	assert_int_equal(sip_addr_parse(sip_str_make(t, n), &f->a, &f->list, true, true, "Contact", NULL), 0);
	assert_int_equal(count(f->list), 4);
}

static void test_contact_star(void **state)
{
	struct fixture *f = *state;
	struct sip_addr *ad = contacts(f, "*");
	assert_true(ad->star);
	assert_null(ad->next);
	assert_false(ad->angle);
	ad = contacts(f, "  *  ");
	assert_true(ad->star);

	/* STAR stands alone: not with other contacts, before or after */
	static const struct {
		const char *value;
		size_t at; /* the second value, whichever of the two is the star */
	} bad_cases[] = {
		{"*, <sip:alice@atlanta.com>", 3},
		{"<sip:alice@atlanta.com>, *", 25},
		{"<sip:a@h>,sip:b@h, *", 19},
		{"*,*", 2},
	};
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const char *v = bad_cases[i].value;
		if (parse(f, v, true, true, "Contact") != -1)
			fail_msg("\"%s\" accepted", v);
		assert_fault(f->err, SIP_FAULT_HEADER_VALUE, bad_cases[i].at);
	}

	/* a star is no address where the header does not admit one */
	assert_int_equal(parse(f, "*", false, false, "To"), -1);
	assert_fault(f->err, SIP_FAULT_HEADER_VALUE, 0);
	assert_int_equal(parse(f, "*", true, false, "Route"), -1);
	assert_fault(f->err, SIP_FAULT_HEADER_VALUE, 0);
}

static void test_single_value_only(void **state)
{
	struct fixture *f = *state;
	const char *v = "<sip:a@h>, <sip:b@h>";
	assert_int_equal(parse(f, v, false, false, "To"), -1);
	assert_fault(f->err, SIP_FAULT_HEADER_VALUE, off_of(v, ","));
	assert_true(strstr(f->err.detail, "To") != NULL);
}

/* ---- faults ----------------------------------------------------------- */

static void test_faults(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *value;
		const char *at; /* the offending text; "" = the end */
	} cases[] = {
		{"", ""},
		{"   ", ""},
		/* '?' in an addr-spec: the URI must be in <> (RFC 4475 regbadct);
		 * the fault points at the URI that lacks them */
		{"sip:alice@atlanta.com?subject=x", "sip:alice"},
		{"sip:user@example.com?Route=%3Csip:example.com%3E", "sip:user"},
		/* whitespace inside <> (RFC 4475 badaspec) */
		{"< sip:alice@atlanta.com>", " sip"},
		{"<sip:alice@atlanta.com >", " >"},
		{"<\tsip:alice@atlanta.com>", "\tsip"},
		{"<sip:alice @atlanta.com>", " @"},
		{"\"Watson, Thomas\" < sip:t.watson@example.org >", " sip:"},
		{"<>", ">"},
		{"<sip:alice@atlanta.com", "<sip"},
		{"Bob <sip:bob@biloxi.com", "<sip"},
		/* unterminated quotes (RFC 4475 quotbal) */
		{"\"Bob <sip:bob@biloxi.com>", "\"Bob"},
		{"\"Bob\\\" <sip:bob@biloxi.com>", "\"Bob"},
		{"\"", "\""},
		/* quoted display name must be followed by <addr-spec> */
		{"\"Bob\" sip:bob@biloxi.com", "sip:"},
		{"\"Bob\"", ""},
		/* display names that need quotes (RFC 4475 baddn) */
		{"Bell, Alexander <sip:a.g.bell@bell-tel.com>", ", Alex"},
		{"Joe@Home <sip:joe@h>", "@Home"},
		{"Bob (the builder) <sip:bob@h>", "(the"},
		/* text after an addr-spec */
		{"sip:alice@atlanta.com junk", "junk"},
		{"sip:alice@atlanta.com <sip:x@h>", "<sip:x"},
		{"<sip:a@h> junk", "junk"},
		/* URI faults inside, at the URI's offending byte */
		{"<sip:alice@atlanta.com:65536>", "65536"},
		{"Alice <sip:%G1@atlanta.com>", "%G1"},
		{"sip:alice@atlanta.com:5o60;tag=1", "o60"},
		{"<alice@atlanta.com>", "@atlanta"},
		{"<sip:>", ">"},
		/* header parameters */
		{"<sip:a@h>;", ""},
		{"<sip:a@h>;;tag=1", ";tag"},
		{"<sip:a@h>;tag=", ""},
		{"<sip:a@h>;tag", "tag"},
		{"<sip:a@h>;tag=\"abc\"", "tag"},
		{"<sip:a@h>;q=\"0.5", "\"0.5"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *v = cases[i].value;
		if (parse(f, v, false, false, "From") != -1)
			fail_msg("case %zu: \"%s\" accepted", i, v);
		size_t want = cases[i].at[0] ? off_of(v, cases[i].at) : strlen(v);
		if (f->err.fault != SIP_FAULT_HEADER_VALUE || f->err.offset != want)
			fail_msg("case %zu: \"%s\": expected offset %zu, got %s at %zu (%s)", i, v, want,
				 sip_fault_name(f->err.fault), f->err.offset, f->err.detail);
		/* the sentence names the header, also for URI faults */
		if (strncmp(f->err.detail, "From: ", 6) != 0)
			fail_msg("case %zu: detail \"%s\" does not name the header", i, f->err.detail);
	}
}

static void test_list_faults(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *value;
		const char *at;
	} cases[] = {
		{"<sip:a@h>,", ""},
		{"<sip:a@h>,,<sip:b@h>", ",<sip:b"},
		{"<sip:a@h>, \"Bob <sip:b@h>", "\"Bob"},
		{"<sip:a@h> <sip:b@h>", "<sip:b"},
		{"<sip:a@h>;q=0.5 ;", ""},
		{"<sip:a@h>, sip:user@example.com?Route=%3Csip:example.com%3E", "sip:user"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *v = cases[i].value;
		if (parse(f, v, true, true, "Contact") != -1)
			fail_msg("case %zu: \"%s\" accepted", i, v);
		size_t want = cases[i].at[0] ? off_of(v, cases[i].at) : strlen(v);
		if (f->err.fault != SIP_FAULT_HEADER_VALUE || f->err.offset != want)
			fail_msg("case %zu: \"%s\": expected offset %zu, got %s at %zu (%s)", i, v, want,
				 sip_fault_name(f->err.fault), f->err.offset, f->err.detail);
	}
}

static void test_no_err_record(void **state)
{
	struct fixture *f = *state;
	struct sip_addr *list = NULL;
	assert_int_equal(sip_addr_parse(SIP_STR_LIT("<sip:a@h:99999>"), &f->a, &list, false, false,
					"To", NULL), -1);
	list = NULL;
	assert_int_equal(sip_addr_parse(SIP_STR_LIT("\"x"), &f->a, &list, false, false, "To", NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_quoted_display, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_display, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_lws_before_laquot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uri_params_vs_header_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uri_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contact_list_q_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contact_star, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_value_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_err_record, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, tu_free_all);
}
