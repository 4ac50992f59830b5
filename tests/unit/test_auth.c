/*
 * Unit tests for common/sip/auth.[ch]: Authorization/Proxy-Authorization
 * credentials and WWW-Authenticate/Proxy-Authenticate challenges (RFC 3261
 * 20.7, 20.27, 20.28, 20.44, 22.4; RFC 2617; RFC 7616 for SHA-256 and
 * userhash), and unknown schemes kept with their parameters (RFC 4475
 * regaut01).
 */
#include "testutil.h"

#include "sip/auth.h"

struct fixture {
	struct arena a;
	struct sip_auth au;
	struct sip_error err;
	const char *text;
};

static int parse(struct fixture *f, const char *lit, const char *what)
{
	size_t n = strlen(lit);
	f->text = tu_copy(lit, n);
	memset(&f->au, 0, sizeof(f->au));
	memset(&f->err, 0, sizeof(f->err));
	f->err.base = f->text;
	return sip_auth_parse(sip_str_make(f->text, n), &f->a, &f->au, what, &f->err);
}

static struct sip_auth *parse_ok(struct fixture *f, const char *lit)
{
	if (parse(f, lit, "Authorization") != 0)
		fail_msg("\"%s\" refused: %s at %zu", lit, f->err.detail, f->err.offset);
	return &f->au;
}

/* each test gets a fresh fixture with an empty arena */
ARENA_FIXTURE_HOOKS(struct fixture, a)

static unsigned count(const struct sip_param *p)
{
	unsigned n = 0;
	for (; p; p = p->next)
		n++;
	return n;
}

static void test_credentials_all_params(void **state)
{
	struct fixture *f = *state;
	struct sip_auth *au = parse_ok(
		f, "Digest username=\"bob\", realm=\"biloxi.com\", "
		   "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:bob@biloxi.com\", "
		   "qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
		   "response=\"6629fae49393a05397450978507c4ef1\", "
		   "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", algorithm=SHA-256, userhash=false");
	assert_true(au->digest);
	assert_str(au->scheme, "Digest");
	assert_str(au->username, "bob");
	assert_str(au->realm, "biloxi.com");
	assert_str(au->nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
	assert_str(au->uri, "sip:bob@biloxi.com");
	assert_str(au->qop, "auth");
	assert_str(au->nc, "00000001");
	assert_str(au->cnonce, "0a4f113b");
	assert_str(au->response, "6629fae49393a05397450978507c4ef1");
	assert_str(au->opaque, "5ccc069c403ebaf9f0171e9517f40e41");
	assert_str(au->algorithm, "SHA-256");
	assert_str(au->userhash, "false");
	assert_false(sip_str_present(au->stale));
	assert_false(sip_str_present(au->domain));
	assert_int_equal(count(au->params), 11);

	/* quoted and unquoted are recorded on each parameter, in order */
	const struct sip_param *p = au->params;
	assert_str(p->name, "username");
	assert_true(p->quoted);
	p = sip_param_find(au->params, "qop");
	assert_false(p->quoted);
	p = sip_param_find(au->params, "algorithm");
	assert_false(p->quoted);
	p = sip_param_find(au->params, "cnonce");
	assert_true(p->quoted);
}

static void test_credentials_forms(void **state)
{
	struct fixture *f = *state;
	/* the scheme is case-insensitive (RFC 2617 1.2) */
	struct sip_auth *au = parse_ok(f, "digest username=\"alice\",realm=\"atlanta.com\"");
	assert_true(au->digest);
	assert_str(au->username, "alice");

	/* RFC 3261 25: LWS around EQUAL and COMMA, and folding */
	au = parse_ok(f, "  Digest   username = \"alice\" ,\r\n realm=\"atlanta.com\"\t,\r\n\tnc=00000002  ");
	assert_str(au->username, "alice");
	assert_str(au->realm, "atlanta.com");
	assert_str(au->nc, "00000002");

	/* a quoted-pair stays escaped; empty quoted values are present */
	au = parse_ok(f, "Digest username=\"Mr. \\\"X\\\"\", realm=\"\", opaque=\"\"");
	assert_str(au->username, "Mr. \\\"X\\\"");
	assert_true(sip_str_present(au->realm));
	assert_int_equal(au->realm.len, 0);
	assert_true(sip_str_present(au->opaque));

	/* parameter names are case-insensitive; unknown ones are kept */
	au = parse_ok(f, "Digest USERNAME=\"a\", Realm=\"r\", auth-param=x, other=\"y\"");
	assert_str(au->username, "a");
	assert_str(au->realm, "r");
	assert_int_equal(count(au->params), 4);
	assert_str(sip_param_find(au->params, "auth-param")->value, "x");
	assert_str(sip_param_find(au->params, "other")->value, "y");

	/* RFC 7616 userhash and a SHA-512-256 session algorithm */
	au = parse_ok(f, "Digest username=\"488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec\", "
			 "userhash=true, algorithm=SHA-512-256-sess, qop=auth-int");
	assert_str(au->userhash, "true");
	assert_str(au->algorithm, "SHA-512-256-sess");
	assert_str(au->qop, "auth-int");
}

static void test_challenge(void **state)
{
	struct fixture *f = *state;
	/* RFC 3261 20.44 style, with stale and several qop values */
	if (parse(f, "Digest realm=\"atlanta.com\", domain=\"sip:ss1.carrier.com sip:ss2.carrier.com\", "
		     "qop=\"auth,auth-int\", nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\", "
		     "stale=TRUE, algorithm=MD5", "WWW-Authenticate") != 0)
		fail_msg("refused: %s", f->err.detail);
	struct sip_auth *au = &f->au;
	assert_true(au->digest);
	assert_str(au->realm, "atlanta.com");
	assert_str(au->domain, "sip:ss1.carrier.com sip:ss2.carrier.com");
	assert_str(au->qop, "auth,auth-int");
	assert_true(sip_param_find(au->params, "qop")->quoted);
	assert_str(au->nonce, "f84f1cec41e6cbe5aea9c8e88d359");
	assert_true(sip_str_present(au->opaque));
	assert_int_equal(au->opaque.len, 0);
	assert_str(au->stale, "TRUE");
	assert_str(au->algorithm, "MD5");
	assert_false(sip_str_present(au->username));

	au = parse_ok(f, "Digest realm=\"biloxi.com\", qop=\"auth\", nonce=\"abc\", stale=true");
	assert_str(au->stale, "true");
}

static void test_unknown_scheme_kept(void **state)
{
	struct fixture *f = *state;
	/* RFC 4475 regaut01 */
	struct sip_auth *au = parse_ok(f, "NoOneKnowsThisScheme opaque-data=here");
	assert_false(au->digest);
	assert_str(au->scheme, "NoOneKnowsThisScheme");
	assert_int_equal(count(au->params), 1);
	assert_str(au->params->name, "opaque-data");
	assert_str(au->params->value, "here");
	/* digest fields are not picked out of other schemes */
	assert_false(sip_str_present(au->opaque));

	au = parse_ok(f, "NewAuth realm=\"example.com\", username=\"u\", flag=1");
	assert_false(au->digest);
	assert_false(sip_str_present(au->username));
	assert_false(sip_str_present(au->realm));
	assert_int_equal(count(au->params), 3);
	assert_str(au->params->next->value, "u");
	assert_true(au->params->next->quoted);

	/* "Digestx" is not Digest */
	au = parse_ok(f, "Digestx realm=\"r\"");
	assert_false(au->digest);
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
		{"\"Digest\" realm=\"r\"", "\"Digest"},
		{"Digest,realm=\"r\"", ",realm"},
		{"Digest realm", ""},
		{"Digest realm \"r\"", " \"r\""},             /* where EQUAL should be */
		{"Digest realm=", ""},
		{"Digest realm=,nonce=\"n\"", ",nonce"},
		{"Digest realm=\"atlanta.com", "\"atlanta"},
		{"Digest realm=\"r\", nonce=\"n", "\"n"},
		{"Digest realm=\"r\" nonce=\"n\"", "nonce"},
		{"Digest realm=\"r\",, nonce=\"n\"", ", nonce"},
		{"Digest realm=\"r\",", ""},
		{"Digest =\"r\"", "=\"r\""},
		{"Digest realm=r x", "x"},
		{"Digest realm=\"r\"junk", "junk"},
		{"Digest realm=<r>", "<r>"},
		{"Digest realm=\"r\"; nonce=\"n\"", "; nonce"},
		{"NewAuth x", ""},
		{"NewAuth x=", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *v = cases[i].value;
		if (parse(f, v, "Proxy-Authorization") != -1)
			fail_msg("case %zu: \"%s\" accepted", i, v);
		size_t want = cases[i].at[0] ? off_of(v, cases[i].at) : strlen(v);
		if (f->err.fault != SIP_FAULT_HEADER_VALUE || f->err.offset != want)
			fail_msg("case %zu: \"%s\": expected offset %zu, got %s at %zu (%s)", i, v, want,
				 sip_fault_name(f->err.fault), f->err.offset, f->err.detail);
		assert_true(strncmp(f->err.detail, "Proxy-Authorization: ", 21) == 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_credentials_all_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credentials_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_scheme_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, tu_free_all);
}
