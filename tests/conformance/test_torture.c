/*
 * RFC 4475 and RFC 5118 torture messages at the parser level: every message
 * of both INDEX.tsv files has an entry here saying what the parser must
 * make of it, and for the ones that parse, what the layers above must be
 * able to read from it to answer as the RFC says.
 */
#include "unit/testutil.h"

#include "sip/msg.h"
#include "sip/multipart.h"

#define DIR4475 "tests/conformance/rfc4475/"
#define DIR5118 "tests/conformance/rfc5118/"

struct parsed {
	char *buf;
	size_t len;
	struct sip_msg m;
	struct sip_error err;
	int rc;
};

/* Parses a fixture as a datagram with the strict check sipcheck does:
 * sip_msg_parse, sip_msg_check, sip_msg_parse_all. */
static void parse_fixture(struct parsed *p, const char *path, const char *append)
{
	p->buf = read_file(path, &p->len);
	if (!p->buf)
		fail_msg("cannot read %s (run from the repository root)", path);
	if (append) {
		size_t n = strlen(append);
		p->buf = realloc(p->buf, p->len + n);
		memcpy(p->buf + p->len, append, n);
		p->len += n;
	}
	memset(&p->err, 0, sizeof(p->err));
	p->err.base = p->buf;
	p->rc = sip_msg_parse(&p->m, p->buf, p->len, NULL, &p->err);
	if (p->rc == 0)
		p->rc = sip_msg_check(&p->m, &p->err);
	if (p->rc == 0)
		p->rc = sip_msg_parse_all(&p->m, &p->err);
}

static void release(struct parsed *p)
{
	sip_msg_free(&p->m);
	free(p->buf);
}

static long unescaped(sip_str s, char *out, size_t cap)
{
	long n = sip_unescape(s, out, cap);
	assert_true(n >= 0);
	return n;
}

static unsigned count_headers(struct sip_msg *m, enum sip_hdr_type t)
{
	unsigned n = 0;
	for (struct sip_hdr *h = m->first[t]; h; h = h->next_same)
		n++;
	return n;
}

static unsigned count_values(struct sip_msg *m, enum sip_hdr_type t)
{
	unsigned n = 0;
	for (struct sip_hdr *h = m->first[t]; h; h = h->next_same)
		for (struct sip_addr *a = h->v.addr; a; a = a->next)
			n++;
	return n;
}

/* ---- what the layers above read from the valid messages ----------------- */

static void check_wsinv(struct sip_msg *m)
{
	assert_int_equal(m->method_id, SIP_METHOD_INVITE);
	assert_int_equal(sip_msg_max_forwards(m, NULL), 68);
	const struct sip_cseq *cs = sip_msg_cseq(m, NULL);
	assert_int_equal(cs->seq, 9);
	assert_str(cs->method, "INVITE");
	assert_str(sip_msg_to(m, NULL)->tag, "1918181833n");
	assert_str(sip_msg_from(m, NULL)->tag, "98asjd8");
	assert_str(sip_msg_from(m, NULL)->display, "J Rosenberg \\\\\\\"");
	/* three via-parms over two Via headers, in order */
	struct sip_via *v = sip_msg_via(m, NULL);
	assert_str(v->host, "192.0.2.2");
	unsigned n = 0;
	for (struct sip_hdr *h = m->first[SIP_HDR_VIA]; h; h = h->next_same)
		for (struct sip_via *x = h->v.via; x; x = x->next)
			n++;
	assert_int_equal(n, 3);
	struct sip_addr *c = m->first[SIP_HDR_CONTACT]->v.addr;
	assert_str(c->display, "Quoted string \\\"\\\"");
	assert_str(sip_param_find(c->params, "q")->value, "0.33");
	assert_str(sip_param_find(c->params, "newparam")->value, "newvalue");
	/* unknown headers are kept, folded value and all, for forwarding */
	struct sip_hdr *nf = NULL;
	for (unsigned i = 0; i < m->hdr_count; i++)
		if (sip_str_eq(m->hdrs[i].name, SIP_STR_LIT("NewFangledHeader")))
			nf = &m->hdrs[i];
	assert_non_null(nf);
	assert_str(nf->value, "newfangled value\r\n continued newfangled value");
	assert_true(m->first[SIP_HDR_ROUTE]->v.addr->uri.lr);
	assert_int_equal(m->body.len, 150);
}

static void check_intmeth(struct sip_msg *m)
{
	assert_int_equal(m->method_id, SIP_METHOD_OTHER);
	assert_str(m->method, "!interesting-Method0123456789_*+`.%indeed'~");
	assert_str(sip_msg_cseq(m, NULL)->method, "!interesting-Method0123456789_*+`.%indeed'~");
	assert_str(m->ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
	/* NUL, BEL and DEL survive inside the quoted display name */
	sip_str dn = sip_msg_to(m, NULL)->display;
	assert_int_equal(dn.len, 20);
	assert_non_null(memchr(dn.s, 0, dn.len));
	assert_str(sip_msg_from(m, NULL)->tag, "_token~1'+`*%!-.");
}

static void check_esc01(struct sip_msg *m)
{
	char buf[64];
	long n = unescaped(m->ruri.user, buf, sizeof(buf));
	assert_int_equal(n, 21);
	assert_memory_equal(buf, "sips:user@example.com", 21);
	n = unescaped(sip_msg_to(m, NULL)->uri.user, buf, sizeof(buf));
	assert_memory_equal(buf, "user", 4);
	struct sip_uri *c = &m->first[SIP_HDR_CONTACT]->v.addr->uri;
	/* %6C%72 is the parameter lr; n%61me is name; its value unescapes once */
	assert_true(sip_uri_param(c, "lr", NULL));
	sip_str v;
	assert_true(sip_uri_param(c, "name", &v));
	n = unescaped(v, buf, sizeof(buf));
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "value%41", 8);
	/* ...so it is not equal to valueA (no recursive unescaping) */
	struct sip_uri other;
	const char *txt = "sip:caller@host5.example.net;lr;name=valueA";
	assert_int_equal(sip_uri_parse(&other, txt, strlen(txt), NULL), 0);
	assert_false(sip_uri_equal(c, &other));
	txt = "sip:caller@host5.example.net;lr;name=value%2541";
	assert_int_equal(sip_uri_parse(&other, txt, strlen(txt), NULL), 0);
	assert_true(sip_uri_equal(c, &other));
}

static void check_escnull(struct sip_msg *m)
{
	char buf[32];
	long n = unescaped(sip_msg_to(m, NULL)->uri.user, buf, sizeof(buf));
	assert_int_equal(n, 11); /* "null-\0-null": not truncated at the NUL */
	assert_memory_equal(buf, "null-\0-null", 11);
	struct sip_hdr *c1 = m->first[SIP_HDR_CONTACT], *c2 = c1->next_same;
	assert_non_null(c2);
	assert_false(sip_uri_equal(&c1->v.addr->uri, &c2->v.addr->uri));
}

static void check_esc02(struct sip_msg *m)
{
	assert_int_equal(m->method_id, SIP_METHOD_OTHER); /* not REGISTER */
	assert_int_equal(count_headers(m, SIP_HDR_CONTACT), 2);
	assert_str(sip_msg_from(m, NULL)->display, "%Z%45");
}

static void check_lwsdisp(struct sip_msg *m)
{
	assert_str(sip_msg_from(m, NULL)->display, "caller");
	assert_true(sip_msg_from(m, NULL)->angle);
}

static void check_longreq(struct sip_msg *m)
{
	assert_true(sip_msg_from(m, NULL)->tag.len > 100);
	assert_true(sip_msg_to(m, NULL)->display.len > 100);
	assert_true(m->len > 3000);
	unsigned n = 0;
	for (struct sip_hdr *h = m->first[SIP_HDR_VIA]; h; h = h->next_same)
		for (struct sip_via *x = h->v.via; x; x = x->next)
			n++;
	assert_true(n >= 10);
}

static void check_dblreq(struct sip_msg *m)
{
	/* the REGISTER only: the INVITE-looking trailing octets are not part of it */
	assert_int_equal(m->method_id, SIP_METHOD_REGISTER);
	assert_int_equal(m->body.len, 0);
	char out[2048];
	size_t n = sip_msg_serialize(m, out, sizeof(out));
	assert_int_equal(n, m->len);
	assert_null(memmem(out, n, "INVITE", 6));
}

static void check_semiuri(struct sip_msg *m)
{
	assert_str(m->ruri.user, "user;par=u%40example.net");
	assert_str(m->ruri.host, "example.com");
	assert_int_equal(m->ruri.params.len, 0);
}

static void check_transports(struct sip_msg *m)
{
	static const char *const want[] = {"UDP", "SCTP", "TLS", "UNKNOWN", "TCP"};
	unsigned i = 0;
	for (struct sip_hdr *h = m->first[SIP_HDR_VIA]; h; h = h->next_same, i++) {
		assert_true(i < 5);
		assert_str(h->v.via->transport, want[i]);
	}
	assert_int_equal(i, 5);
}

static void check_mpart01(struct sip_msg *m)
{
	struct sip_list_item *ct = m->first[SIP_HDR_CONTENT_TYPE]->v.list;
	assert_str(ct->type, "multipart");
	const struct sip_param *b = sip_param_find(ct->params, "boundary");
	assert_non_null(b);
	struct sip_part *parts = NULL;
	assert_int_equal(sip_multipart_parse(m->body, b->value, &m->arena, &parts, NULL), 2);
	assert_str(parts->content_type, "text/plain");
	assert_str(parts->body, "Hello");
	assert_str(parts->next->content_type, "application/octet-stream");
	/* the binary part holds NUL and bare LF bytes and is framed intact */
	assert_non_null(memchr(parts->next->body.s, 0, parts->next->body.len));
	assert_int_equal(m->body.len, 553);
}

static void check_unreason(struct sip_msg *m)
{
	assert_false(m->is_request);
	assert_int_equal(m->status, 200);
	assert_true(m->reason.len > 20);
}

static void check_noreason(struct sip_msg *m)
{
	assert_int_equal(m->status, 100);
	assert_int_equal(m->reason.len, 0);
}

static void check_badbranch(struct sip_msg *m)
{
	/* the transaction layer must fall back to RFC 2543 matching */
	struct sip_via *v = sip_msg_via(m, NULL);
	assert_str(v->branch, "z9hG4bK");
	assert_false(sip_via_branch_is_rfc3261(v));
}

static void check_unkscm(struct sip_msg *m)
{
	assert_int_equal(m->ruri.scheme, SIP_URI_OTHER); /* answer 416 */
	assert_str(m->ruri.scheme_name, "nobodyKnowsThisScheme");
}

static void check_novelsc(struct sip_msg *m)
{
	assert_int_equal(m->ruri.scheme, SIP_URI_OTHER); /* answer 416 */
	assert_str(m->ruri.scheme_name, "soap.beep");
}

static void check_unksm2(struct sip_msg *m)
{
	/* a proxy routes on the sip R-URI; a registrar refuses (To not sip/sips) */
	assert_int_equal(m->ruri.scheme, SIP_URI_SIP);
	assert_int_equal(sip_msg_to(m, NULL)->uri.scheme, SIP_URI_OTHER);
}

static void check_bext01(struct sip_msg *m)
{
	struct sip_list_item *r = m->first[SIP_HDR_REQUIRE]->v.list;
	assert_str(r->value, "nothingSupportsThis");
	assert_str(r->next->value, "nothingSupportsThisEither");
	struct sip_list_item *pr = m->first[SIP_HDR_PROXY_REQUIRE]->v.list;
	assert_str(pr->value, "noProxiesSupportThis");
	assert_str(pr->next->value, "norDoAnyProxiesSupportThis");
	assert_null(pr->next->next);
}

static void check_invut(struct sip_msg *m)
{
	struct sip_list_item *ct = m->first[SIP_HDR_CONTENT_TYPE]->v.list;
	assert_str(ct->value, "application/unknownformat"); /* a UAS answers 415 */
}

static void check_regaut01(struct sip_msg *m)
{
	struct sip_auth *au = m->first[SIP_HDR_AUTHORIZATION]->v.auth;
	assert_false(au->digest);
	assert_str(au->scheme, "NoOneKnowsThisScheme");
	assert_str(au->params->name, "opaque-data");
}

static void check_bcast(struct sip_msg *m)
{
	struct sip_hdr *second = m->first[SIP_HDR_VIA]->next_same;
	assert_non_null(second);
	assert_str(second->v.via->host, "255.255.255.255"); /* a proxy must not send there */
}

static void check_zeromf(struct sip_msg *m)
{
	assert_int_equal(sip_msg_max_forwards(m, NULL), 0); /* a proxy answers 483 */
}

static void check_cparam01(struct sip_msg *m)
{
	struct sip_addr *c = m->first[SIP_HDR_CONTACT]->v.addr;
	assert_false(c->angle);
	assert_int_equal(c->uri.params.len, 0);
	assert_non_null(sip_param_find(c->params, "unknownparam")); /* a contact-param */
}

static void check_cparam02(struct sip_msg *m)
{
	struct sip_addr *c = m->first[SIP_HDR_CONTACT]->v.addr;
	assert_true(c->angle);
	assert_true(sip_uri_param(&c->uri, "unknownparam", NULL)); /* a url-param */
	assert_null(c->params);
}

static void check_regescrt(struct sip_msg *m)
{
	struct sip_addr *c = m->first[SIP_HDR_CONTACT]->v.addr;
	assert_str(c->uri.headers, "Route=%3Csip:sip.example.com%3E");
}

static void check_sdp01(struct sip_msg *m)
{
	struct sip_list_item *acc = m->first[SIP_HDR_ACCEPT]->v.list;
	assert_str(acc->value, "text/nobodyKnowsThis");
	assert_null(acc->next); /* no application/sdp: a UAS answers 406 */
}

static void check_inv2543(struct sip_msg *m)
{
	struct sip_via *v = sip_msg_via(m, NULL);
	assert_false(sip_str_present(v->branch));
	assert_false(sip_str_present(sip_msg_from(m, NULL)->tag));
	assert_int_equal(sip_msg_max_forwards(m, NULL), -1);
	assert_false(m->has_content_length);
	assert_int_equal(m->body.len, 105); /* the rest of the datagram */
}

static void check_ipv6_good(struct sip_msg *m)
{
	assert_true(m->ruri.host_is_ipv6);
	assert_str(m->ruri.host, "[2001:db8::10]");
	assert_true(sip_msg_via(m, NULL)->host.s[0] == '[');
}

static void check_port_ambiguous(struct sip_msg *m)
{
	assert_str(m->ruri.host, "[2001:db8::10:5070]");
	assert_false(m->ruri.has_port);
}

static void check_port_unambiguous(struct sip_msg *m)
{
	assert_str(m->ruri.host, "[2001:db8::10]");
	assert_true(m->ruri.has_port);
	assert_int_equal(m->ruri.port, 5070);
}

static void check_received_delim(struct sip_msg *m)
{
	assert_str(sip_msg_via(m, NULL)->received, "[2001:db8::9:255]");
}

static void check_received_nodelim(struct sip_msg *m)
{
	assert_str(sip_msg_via(m, NULL)->received, "2001:db8::9:255");
}

static void check_ipv6_in_sdp(struct sip_msg *m)
{
	assert_int_equal(m->body.len, 251);
	assert_non_null(memmem(m->body.s, m->body.len, "c=IN IP6 2001:db8::20", 21));
}

static void check_mult_ip_header(struct sip_msg *m)
{
	unsigned n = 0;
	struct sip_via *top = sip_msg_via(m, NULL);
	assert_int_equal(top->port, 6050);
	for (struct sip_hdr *h = m->first[SIP_HDR_VIA]; h; h = h->next_same)
		for (struct sip_via *x = h->v.via; x; x = x->next)
			n++;
	assert_int_equal(n, 3);
}

static void check_three_colons(struct sip_msg *m)
{
	assert_str(m->ruri.host, "[2001:db8:::192.0.2.1]");
}

static void check_v4mapped(struct sip_msg *m)
{
	struct sip_via *v = sip_msg_via(m, NULL);
	assert_str(v->host, "[::ffff:192.0.2.10]");
	assert_int_equal(v->port, 19823);
	assert_int_equal(count_values(m, SIP_HDR_CONTACT), 1);
}

/* ---- the table ---------------------------------------------------------- */

struct expectation {
	const char *dir;
	const char *name;
	enum sip_fault fault;          /* SIP_FAULT_NONE: must parse */
	const char *fault_at;          /* text at which the fault is reported */
	void (*check)(struct sip_msg *m);
	long stream;                   /* framing over TCP: 1 = whole message, 0 = waits, -1 = refused */
};

#define OK(d, n, fn) {d, n, SIP_FAULT_NONE, NULL, fn, 1}
#define BAD(d, n, f, at) {d, n, f, at, NULL, 1}

static const struct expectation table[] = {
	OK(DIR4475, "wsinv", check_wsinv),
	OK(DIR4475, "intmeth", check_intmeth),
	OK(DIR4475, "esc01", check_esc01),
	OK(DIR4475, "escnull", check_escnull),
	OK(DIR4475, "esc02", check_esc02),
	OK(DIR4475, "lwsdisp", check_lwsdisp),
	OK(DIR4475, "longreq", check_longreq),
	OK(DIR4475, "dblreq", check_dblreq),
	OK(DIR4475, "semiuri", check_semiuri),
	OK(DIR4475, "transports", check_transports),
	OK(DIR4475, "mpart01", check_mpart01),
	OK(DIR4475, "unreason", check_unreason),
	OK(DIR4475, "noreason", check_noreason),
	BAD(DIR4475, "badinv01", SIP_FAULT_HEADER_VALUE, ";,;,,\r\n"),
	{DIR4475, "clerr", SIP_FAULT_BODY_TRUNCATED, NULL, NULL, 0},
	{DIR4475, "ncl", SIP_FAULT_CONTENT_LENGTH, "-999", NULL, -1},
	BAD(DIR4475, "scalar02", SIP_FAULT_HEADER_VALUE, "36893488147419103232"),
	BAD(DIR4475, "scalarlg", SIP_FAULT_HEADER_VALUE, "9292394834772304023312"),
	BAD(DIR4475, "quotbal", SIP_FAULT_HEADER_VALUE, "\"Mr. J. User"),
	BAD(DIR4475, "ltgtruri", SIP_FAULT_REQUEST_URI, "<sip:user@example.com>"),
	BAD(DIR4475, "lwsruri", SIP_FAULT_REQUEST_URI, " lr SIP/2.0"),
	BAD(DIR4475, "lwsstart", SIP_FAULT_START_LINE, " sip:user@example.com  SIP/2.0"),
	BAD(DIR4475, "trws", SIP_FAULT_START_LINE, "  \r\n"),
	BAD(DIR4475, "escruri", SIP_FAULT_REQUEST_URI, "?Route="),
	BAD(DIR4475, "baddate", SIP_FAULT_HEADER_VALUE, "EST"),
	BAD(DIR4475, "regbadct", SIP_FAULT_HEADER_VALUE, "sip:user@example.com?Route"),
	BAD(DIR4475, "badaspec", SIP_FAULT_HEADER_VALUE, " sip:t.watson@example.org >"),
	/* as archived, baddn's header section never ends; see test_baddn */
	{DIR4475, "baddn", SIP_FAULT_HEADERS_UNTERMINATED, NULL, NULL, 0},
	BAD(DIR4475, "badvers", SIP_FAULT_VERSION, "SIP/7.0"),
	BAD(DIR4475, "mismatch01", SIP_FAULT_CSEQ_METHOD, "INVITE\r\n"),
	BAD(DIR4475, "mismatch02", SIP_FAULT_CSEQ_METHOD, "INVITE\r\n"),
	BAD(DIR4475, "bigcode", SIP_FAULT_STATUS_CODE, "4294967301"),
	OK(DIR4475, "badbranch", check_badbranch),
	BAD(DIR4475, "insuf", SIP_FAULT_MISSING_HEADER, NULL),
	OK(DIR4475, "unkscm", check_unkscm),
	OK(DIR4475, "novelsc", check_novelsc),
	OK(DIR4475, "unksm2", check_unksm2),
	OK(DIR4475, "bext01", check_bext01),
	OK(DIR4475, "invut", check_invut),
	OK(DIR4475, "regaut01", check_regaut01),
	BAD(DIR4475, "multi01", SIP_FAULT_DUPLICATE_HEADER, "CSeq: 59"),
	{DIR4475, "mcl01", SIP_FAULT_CONTENT_LENGTH, "Content-Length: 5", NULL, -1},
	OK(DIR4475, "bcast", check_bcast),
	OK(DIR4475, "zeromf", check_zeromf),
	OK(DIR4475, "cparam01", check_cparam01),
	OK(DIR4475, "cparam02", check_cparam02),
	OK(DIR4475, "regescrt", check_regescrt),
	OK(DIR4475, "sdp01", check_sdp01),
	{DIR4475, "inv2543", SIP_FAULT_NONE, NULL, check_inv2543, -1},

	OK(DIR5118, "ipv6-good", check_ipv6_good),
	BAD(DIR5118, "ipv6-bad", SIP_FAULT_REQUEST_URI, "db8::10 SIP/2.0"),
	OK(DIR5118, "port-ambiguous", check_port_ambiguous),
	OK(DIR5118, "port-unambiguous", check_port_unambiguous),
	OK(DIR5118, "via-received-param-with-delim", check_received_delim),
	OK(DIR5118, "via-received-param-no-delim", check_received_nodelim),
	OK(DIR5118, "ipv6-in-sdp", check_ipv6_in_sdp),
	OK(DIR5118, "mult-ip-in-header", check_mult_ip_header),
	OK(DIR5118, "mult-ip-in-sdp", NULL),
	OK(DIR5118, "ipv4-mapped-ipv6", check_v4mapped),
	OK(DIR5118, "ipv6-bug-abnf-3-colons", check_three_colons),
	OK(DIR5118, "ipv6-correct-abnf-2-colons", NULL),
};

#define N_TABLE (sizeof(table) / sizeof(table[0]))

static void run_expectation(const struct expectation *e)
{
	char path[256];
	snprintf(path, sizeof(path), "%s%s.dat", e->dir, e->name);
	struct parsed p;
	parse_fixture(&p, path, NULL);
	if (e->fault == SIP_FAULT_NONE) {
		if (p.rc != 0)
			fail_msg("%s: expected to parse, got %s at %zu: %s", e->name,
				 sip_fault_name(p.err.fault), p.err.offset, p.err.detail);
		if (e->check)
			e->check(&p.m);
	} else {
		if (p.rc == 0 || p.err.fault != e->fault)
			fail_msg("%s: expected fault %s, got %s (%s)", e->name, sip_fault_name(e->fault),
				 p.rc == 0 ? "success" : sip_fault_name(p.err.fault), p.err.detail);
		assert_true(p.err.detail[0] != 0);
		if (e->fault_at) {
			const char *at = memmem(p.buf, p.len, e->fault_at, strlen(e->fault_at));
			assert_non_null(at);
			if ((size_t)(at - p.buf) != p.err.offset)
				fail_msg("%s: fault reported at byte %zu, expected %zu (\"%s\")", e->name,
					 p.err.offset, (size_t)(at - p.buf), e->fault_at);
		}
	}

	/* The same bytes over a stream transport: the framer finds the message,
	 * waits for a body that is not there yet, or refuses the stream. */
	size_t skip = 0;
	struct sip_error ferr = {0};
	long framed = sip_frame_stream(p.buf, p.len, 0, &skip, &ferr);
	if (e->stream == 1) {
		if (framed <= 0)
			fail_msg("%s: stream framing failed: %s", e->name, ferr.detail);
		if (p.rc == 0)
			assert_int_equal((size_t)framed, p.m.len);
	} else if (e->stream == 0) {
		assert_int_equal(framed, 0);
	} else {
		assert_int_equal(framed, -1);
	}
	release(&p);
}

static void test_each_message(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_TABLE; i++) {
		print_message("  %s\n", table[i].name);
		run_expectation(&table[i]);
	}
}

/* Every message the INDEX files list has an entry above, with a fault
 * exactly where the INDEX calls the message invalid. */
static void check_index(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%sINDEX.tsv", dir);
	size_t len;
	char *idx = read_file(path, &len);
	assert_non_null(idx);
	idx = realloc(idx, len + 1);
	idx[len] = 0;
	unsigned rows = 0;
	char *save = NULL;
	strtok_r(idx, "\n", &save); /* column names */
	for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f = NULL, *name = strtok_r(line, "\t", &f);
		strtok_r(NULL, "\t", &f);
		char *cls = strtok_r(NULL, "\t", &f);
		const struct expectation *e = NULL;
		for (size_t i = 0; i < N_TABLE; i++)
			if (!strcmp(table[i].name, name) && !strcmp(table[i].dir, dir))
				e = &table[i];
		if (!e)
			fail_msg("%s%s has no expectation in test_torture.c", dir, name);
		if (!strcmp(cls, "valid") || !strcmp(cls, "invalid-but-accept"))
			assert_int_equal(e->fault, SIP_FAULT_NONE);
		else if (!strcmp(cls, "invalid"))
			assert_int_not_equal(e->fault, SIP_FAULT_NONE);
		rows++;
	}
	assert_true(rows >= 12);
	free(idx);
}

static void test_index_rfc4475(void **state)
{
	(void)state;
	check_index(DIR4475);
}

static void test_index_rfc5118(void **state)
{
	(void)state;
	check_index(DIR5118);
}

/* baddn with its header section closed reaches the display-name rule. */
static void test_baddn(void **state)
{
	(void)state;
	struct parsed p;
	parse_fixture(&p, DIR4475 "baddn.dat", "\r\n");
	assert_int_equal(p.rc, -1);
	assert_int_equal(p.err.fault, SIP_FAULT_HEADER_VALUE);
	const char *at = memmem(p.buf, p.len, ", Alexander", 11);
	assert_int_equal(p.err.offset, (size_t)(at - p.buf));
	release(&p);
}

/* A proxy ignores Date: baddate passes the checks every element makes and
 * fails only the strict parse of every header. */
static void test_baddate_ignored_unless_asked(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_file(DIR4475 "baddate.dat", &len);
	struct sip_msg m;
	struct sip_error err = {.base = buf};
	assert_int_equal(sip_msg_parse(&m, buf, len, NULL, &err), 0);
	assert_int_equal(sip_msg_check(&m, &err), 0);
	assert_int_equal(sip_hdr_parse(&m, m.first[SIP_HDR_DATE], &err), -1);
	sip_msg_free(&m);
	free(buf);
}

/* clerr over UDP is refused; over TCP the framer waits for the rest. */
static void test_clerr_stream_waits(void **state)
{
	(void)state;
	size_t len, skip;
	char *buf = read_file(DIR4475 "clerr.dat", &len);
	assert_int_equal(sip_frame_stream(buf, len, 0, &skip, NULL), 0);
	free(buf);
}

/* Every message that parses serializes back to the same bytes, and its
 * serialization parses again. */
static void test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_TABLE; i++) {
		if (table[i].fault != SIP_FAULT_NONE)
			continue;
		char path[256];
		snprintf(path, sizeof(path), "%s%s.dat", table[i].dir, table[i].name);
		struct parsed p;
		parse_fixture(&p, path, NULL);
		assert_int_equal(p.rc, 0);
		size_t need = sip_msg_serialize(&p.m, NULL, 0);
		char *out = malloc(need + 1);
		assert_int_equal(sip_msg_serialize(&p.m, out, need), need);
		if (p.m.has_content_length) {
			assert_int_equal(need, p.m.len);
			assert_memory_equal(out, p.m.buf, need);
		}
		struct sip_msg again;
		struct sip_error err = {.base = out};
		if (sip_msg_parse(&again, out, need, NULL, &err) != 0)
			fail_msg("%s: serialization does not parse: %s", table[i].name, err.detail);
		/* a datagram body without Content-Length gets one (inv2543) */
		unsigned added = !p.m.has_content_length && p.m.body.len;
		assert_int_equal(again.hdr_count, p.m.hdr_count + added);
		assert_int_equal(again.body.len, p.m.body.len);
		sip_msg_free(&again);
		free(out);
		release(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_message),
		cmocka_unit_test(test_index_rfc4475),
		cmocka_unit_test(test_index_rfc5118),
		cmocka_unit_test(test_baddn),
		cmocka_unit_test(test_baddate_ignored_unless_asked),
		cmocka_unit_test(test_clerr_stream_waits),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests_name("rfc4475+rfc5118 torture", tests, NULL, NULL);
}
