/*
 * REGISTER processing against RFC 3261 10.3, RFC 3327 and RFC 5626, on
 * real messages and a fake clock; and the 302 Contact lines.
 */
#include "unit/testutil.h"

#include "redirect/registrar.h"

static int64_t now_s;
static int64_t fake_unix(void *arg)
{
	(void)arg;
	return now_s;
}

struct env {
	struct location *loc;
	struct registrar_config cfg;
	int added, updated, removed, expired;
	char extra[REGISTRAR_EXTRA_SIZE];
	struct registrar_result res;
};

static void on_changed(void *ctx, int64_t id, const struct binding *b, enum location_op op)
{
	struct env *e = ctx;
	(void)id;
	(void)b;
	e->added += op == LOCATION_ADDED;
	e->updated += op == LOCATION_UPDATED;
	e->removed += op == LOCATION_REMOVED;
	e->expired += op == LOCATION_EXPIRED;
}

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	now_s = 1800000000; /* Fri, 15 Jan 2027 08:00:00 GMT */
	struct location_opts o = {.now = fake_unix, .hooks = {.ctx = e, .changed = on_changed}};
	e->loc = location_new(&o);
	registrar_config_default(&e->cfg);
	return e;
}

static void env_free(struct env *e)
{
	location_free(e->loc);
	free(e);
}

/* Sends a REGISTER for AOR 42 made of headers (between the fixed ones and
 * the end), with Call-ID and CSeq given. Returns the status. */
static unsigned reg(struct env *e, const char *call_id, unsigned cseq, const char *headers)
{
	char text[8192];
	snprintf(text, sizeof(text),
		 "REGISTER sip:example.com SIP/2.0\n"
		 "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\n"
		 "Max-Forwards: 70\n"
		 "To: Bob <sip:bob@example.com>\n"
		 "From: Bob <sip:bob@example.com>;tag=456248\n"
		 "Call-ID: %s\n"
		 "CSeq: %u REGISTER\n"
		 "%s"
		 "Content-Length: 0\n\n",
		 call_id, cseq, headers);
	size_t len;
	char *buf = crlf(text, &len);
	struct sip_msg m;
	struct sip_error err = {0};
	assert_int_equal(sip_msg_parse(&m, buf, len, NULL, &err), 0);
	assert_int_equal(sip_msg_check(&m, &err), 0);
	unsigned st = registrar_register(e->loc, &e->cfg, 42, &m, SIP_STR_LIT("udp:192.0.2.10:5060"),
					 e->extra, sizeof(e->extra), &e->res);
	assert_int_equal(st, e->res.status);
	sip_msg_free(&m);
	free(buf);
	return st;
}

static const struct binding *nth(struct env *e, int n)
{
	const struct binding *b = location_lookup(e->loc, 42);
	while (b && n--)
		b = b->next;
	return b;
}

#define assert_has(hay, needle)                                                          \
	do {                                                                             \
		if (!strstr((hay), (needle)))                                           \
			fail_msg("\"%s\" not in:\n%s", (needle), (hay));                 \
	} while (0)
#define assert_lacks(hay, needle)                                                        \
	do {                                                                             \
		if (strstr((hay), (needle)))                                            \
			fail_msg("\"%s\" unexpectedly in:\n%s", (needle), (hay));        \
	} while (0)

static void test_add_refresh_fetch(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(reg(e, "c1@h", 1,
			     "Contact: <sip:bob@192.0.2.10:5060>\nExpires: 1800\n"
			     "User-Agent: Phone/1.0\n"),
			 200);
	assert_int_equal(e->added, 1);
	assert_string_equal(e->extra, "Date: Fri, 15 Jan 2027 08:00:00 GMT\r\n"
				      "Contact: <sip:bob@192.0.2.10:5060>;expires=1800\r\n");
	const struct binding *b = nth(e, 0);
	assert_string_equal(binding_cstr(b, BINDING_CONTACT), "sip:bob@192.0.2.10:5060");
	assert_string_equal(binding_cstr(b, BINDING_CALL_ID), "c1@h");
	assert_string_equal(binding_cstr(b, BINDING_USER_AGENT), "Phone/1.0");
	assert_string_equal(binding_cstr(b, BINDING_RECEIVED), "udp:192.0.2.10:5060");
	assert_int_equal(b->cseq, 1);
	assert_int_equal(b->expires, 1800);
	assert_int_equal(b->expires_at, now_s + 1800);

	/* a refresh: the same URI by 19.1.4 (host case, default-less port) */
	now_s += 100;
	assert_int_equal(reg(e, "c1@h", 2, "Contact: <sip:bob@192.0.2.10:5060>;expires=600\n"), 200);
	assert_int_equal(e->updated, 1);
	assert_int_equal(location_count(e->loc, 42), 1);
	assert_has(e->extra, "Contact: <sip:bob@192.0.2.10:5060>;expires=600\r\n");
	assert_int_equal(e->res.changes, 1);

	/* a fetch: no Contact, nothing changes, the list comes back with what remains */
	now_s += 100;
	assert_int_equal(reg(e, "other@h", 1, ""), 200);
	assert_has(e->extra, "Contact: <sip:bob@192.0.2.10:5060>;expires=500\r\n");
	assert_int_equal(e->added + e->updated + e->removed, 2);
	env_free(e);
}

static void test_default_and_param_over_header(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->cfg.default_expires = 1234;
	assert_int_equal(reg(e, "c1@h", 1, "Contact: <sip:a@192.0.2.1>\n"), 200);
	assert_int_equal(nth(e, 0)->expires, 1234);
	/* the per-contact param beats the header; the header beats the default */
	assert_int_equal(reg(e, "c1@h", 2,
			     "Contact: <sip:b@192.0.2.1>;expires=300, <sip:c@192.0.2.1>\n"
			     "Expires: 900\n"),
			 200);
	assert_has(e->extra, "<sip:b@192.0.2.1>;expires=300\r\n");
	assert_has(e->extra, "<sip:c@192.0.2.1>;expires=900\r\n");
	assert_has(e->extra, "<sip:a@192.0.2.1>;expires=1234\r\n");
	/* a malformed expires reads as the default (RFC 3261 20.19) */
	assert_int_equal(reg(e, "c1@h", 3, "Contact: <sip:d@192.0.2.1>;expires=soon\n"), 200);
	assert_has(e->extra, "<sip:d@192.0.2.1>;expires=1234\r\n");
	env_free(e);
}

static void test_remove_one_and_all(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(reg(e, "c1@h", 1, "Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.1>\n"), 200);
	assert_int_equal(location_count(e->loc, 42), 2);
	assert_int_equal(reg(e, "c1@h", 2, "Contact: <sip:a@192.0.2.1>;expires=0\n"), 200);
	assert_int_equal(e->removed, 1);
	assert_lacks(e->extra, "sip:a@");
	assert_has(e->extra, "<sip:b@192.0.2.1>");
	/* removing what is not there is not an error */
	assert_int_equal(reg(e, "c1@h", 3, "Contact: <sip:zz@192.0.2.1>\nExpires: 0\n"), 200);
	assert_int_equal(e->removed, 1);

	assert_int_equal(reg(e, "c1@h", 4, "Contact: <sip:c@192.0.2.1>\n"), 200);
	assert_int_equal(reg(e, "c1@h", 5, "Contact: *\nExpires: 0\n"), 200);
	assert_null(location_lookup(e->loc, 42));
	assert_int_equal(e->removed, 3);
	assert_string_equal(e->extra, "Date: Fri, 15 Jan 2027 08:00:00 GMT\r\n");
	env_free(e);
}

static void test_star_rules(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(reg(e, "c1@h", 1, "Contact: <sip:a@192.0.2.1>\n"), 200);
	/* * needs Expires: 0 ... */
	assert_int_equal(reg(e, "c1@h", 2, "Contact: *\nExpires: 60\n"), 400);
	assert_int_equal(reg(e, "c1@h", 3, "Contact: *\n"), 400);
	/* ... and must be alone, also across Contact headers */
	assert_int_equal(reg(e, "c1@h", 4, "Contact: *\nContact: <sip:b@192.0.2.1>\nExpires: 0\n"),
			 400);
	assert_int_equal(location_count(e->loc, 42), 1);
	/* * with a stale CSeq of the same Call-ID fails whole */
	assert_int_equal(reg(e, "c1@h", 1, "Contact: *\nExpires: 0\n"), 500);
	assert_int_equal(location_count(e->loc, 42), 1);
	/* another Call-ID may remove it */
	assert_int_equal(reg(e, "c2@h", 1, "Contact: *\nExpires: 0\n"), 200);
	assert_int_equal(location_count(e->loc, 42), 0);
	env_free(e);
}

static void test_423_and_clamp(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->cfg.min_expires = 120;
	e->cfg.max_expires = 7200;
	assert_int_equal(reg(e, "c1@h", 1,
			     "Contact: <sip:a@192.0.2.1>;expires=3600, <sip:b@192.0.2.1>;expires=30\n"),
			 423);
	assert_string_equal(e->extra, "Min-Expires: 120\r\n");
	assert_null(location_lookup(e->loc, 42)); /* nothing applied */
	assert_int_equal(e->added, 0);
	/* over the maximum: granted the maximum */
	assert_int_equal(reg(e, "c1@h", 2, "Contact: <sip:a@192.0.2.1>\nExpires: 86400\n"), 200);
	assert_has(e->extra, ";expires=7200\r\n");
	assert_int_equal(nth(e, 0)->expires, 7200);
	/* RFC 3261 10.3 step 7: 423 only below an hour too */
	e->cfg.min_expires = 5000;
	assert_int_equal(reg(e, "c1@h", 3, "Contact: <sip:a@192.0.2.1>;expires=4000\n"), 200);
	env_free(e);
}

static void test_q_ordering_and_invalid_q(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(reg(e, "c1@h", 1,
			     "Contact: <sip:low@192.0.2.1>;q=0.1, <sip:high@192.0.2.1>;q=1.0\n"
			     "Contact: <sip:mid@192.0.2.1>;q=0.5\n"),
			 200);
	assert_string_equal(binding_cstr(nth(e, 0), BINDING_CONTACT), "sip:high@192.0.2.1");
	assert_string_equal(binding_cstr(nth(e, 1), BINDING_CONTACT), "sip:mid@192.0.2.1");
	assert_string_equal(binding_cstr(nth(e, 2), BINDING_CONTACT), "sip:low@192.0.2.1");
	const char *high = strstr(e->extra, "sip:high"), *mid = strstr(e->extra, "sip:mid");
	assert_true(high && mid && high < mid);
	assert_has(e->extra, "<sip:mid@192.0.2.1>;expires=3600;q=0.5\r\n");
	assert_has(e->extra, "<sip:low@192.0.2.1>;expires=3600;q=0.1\r\n");
	assert_has(e->extra, "<sip:high@192.0.2.1>;expires=3600\r\n");

	const char *bad[] = {"1.5", "2", "0.1234", "abc", "-1", ".5", "1.001"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char h[128];
		snprintf(h, sizeof(h), "Contact: <sip:new@192.0.2.1>, <sip:x@192.0.2.1>;q=%s\n", bad[i]);
		assert_int_equal(reg(e, "c1@h", 10 + (unsigned)i, h), 400);
	}
	assert_int_equal(location_count(e->loc, 42), 3); /* sip:new was not added */
	char qb[8];
	assert_string_equal(registrar_format_q(0, qb), "0");
	assert_string_equal(registrar_format_q(125, qb), "0.125");
	assert_string_equal(registrar_format_q(500, qb), "0.5");
	assert_string_equal(registrar_format_q(1000, qb), "1");
	env_free(e);
}

static void test_call_id_cseq_ordering(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(reg(e, "c1@h", 10, "Contact: <sip:a@192.0.2.1>\n"), 200);
	/* same Call-ID, CSeq not higher: fails (RFC 3261 10.3 step 7) */
	assert_int_equal(reg(e, "c1@h", 10, "Contact: <sip:a@192.0.2.1>;expires=0\n"), 500);
	assert_int_equal(reg(e, "c1@h", 9, "Contact: <sip:a@192.0.2.1>\n"), 500);
	assert_int_equal(location_count(e->loc, 42), 1);
	assert_int_equal(e->updated + e->removed, 0);
	/* the whole request fails, also the contact that was fine */
	assert_int_equal(reg(e, "c1@h", 9, "Contact: <sip:b@192.0.2.1>, <sip:a@192.0.2.1>\n"), 500);
	assert_int_equal(location_count(e->loc, 42), 1);
	/* higher CSeq updates */
	assert_int_equal(reg(e, "c1@h", 11, "Contact: <sip:a@192.0.2.1>\n"), 200);
	assert_int_equal(nth(e, 0)->cseq, 11);
	/* another Call-ID updates whatever its CSeq */
	assert_int_equal(reg(e, "c2@h", 1, "Contact: <sip:a@192.0.2.1>\n"), 200);
	assert_string_equal(binding_cstr(nth(e, 0), BINDING_CALL_ID), "c2@h");
	assert_int_equal(nth(e, 0)->cseq, 1);
	assert_int_equal(e->updated, 2);
	env_free(e);
}

static void test_instance_reg_id(void **state)
{
	(void)state;
	struct env *e = env_new();
	const char *inst = ";+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"";
	char h[512];
	snprintf(h, sizeof(h), "Supported: path, outbound\nContact: <sip:line1@192.0.2.1:5060;ob>%s;reg-id=1\n",
		 inst);
	assert_int_equal(reg(e, "c1@h", 1, h), 200);
	assert_has(e->extra, "Require: outbound\r\n");
	assert_has(e->extra, "Contact: <sip:line1@192.0.2.1:5060;ob>;expires=3600;+sip.instance="
			     "\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1\r\n");
	/* a new flow (another reg-id) adds */
	snprintf(h, sizeof(h), "Contact: <sip:line1@192.0.2.2:5060;ob>%s;reg-id=2\n", inst);
	assert_int_equal(reg(e, "c2@h", 1, h), 200);
	assert_int_equal(location_count(e->loc, 42), 2);
	/* the same flow from a new address replaces the binding (RFC 5626 6) */
	snprintf(h, sizeof(h), "Contact: <sip:line1@198.51.100.7:6000;ob>%s;reg-id=1\n", inst);
	assert_int_equal(reg(e, "c3@h", 1, h), 200);
	assert_int_equal(location_count(e->loc, 42), 2);
	assert_int_equal(e->updated, 1);
	assert_lacks(e->extra, "192.0.2.1:5060");
	const struct binding *b = nth(e, 0);
	assert_string_equal(binding_cstr(b, BINDING_CONTACT), "sip:line1@198.51.100.7:6000;ob");
	assert_string_equal(binding_cstr(b, BINDING_INSTANCE),
			    "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>");
	assert_int_equal(b->reg_id, 1);
	/* reg-id without +sip.instance is ignored: keyed by the URI */
	assert_int_equal(reg(e, "c4@h", 1, "Contact: <sip:plain@192.0.2.9>;reg-id=1\n"), 200);
	assert_int_equal(location_count(e->loc, 42), 3);
	assert_int_equal(nth(e, 0)->reg_id, 0);
	/* a bad reg-id */
	snprintf(h, sizeof(h), "Contact: <sip:x@192.0.2.1>%s;reg-id=0\n", inst);
	assert_int_equal(reg(e, "c5@h", 1, h), 400);
	env_free(e);
}

static void test_path_stored_and_echoed(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(reg(e, "c1@h", 1,
			     "Path: <sip:p1.example.com;lr>\n"
			     "Path: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\n"
			     "Supported: path\n"
			     "Contact: <sip:a@192.0.2.1>\n"),
			 200);
	assert_string_equal(binding_cstr(nth(e, 0), BINDING_PATH),
			    "<sip:p1.example.com;lr>,<sip:p2.example.com;lr>,<sip:p3.example.com;lr>");
	assert_has(e->extra, "Path: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>,"
			     "<sip:p3.example.com;lr>\r\n");
	/* without Supported: path the Path is stored but not echoed (RFC 3327 5.3) */
	assert_int_equal(reg(e, "c1@h", 2, "Path: <sip:p9.example.com;lr>\nContact: <sip:a@192.0.2.1>\n"),
			 200);
	assert_string_equal(binding_cstr(nth(e, 0), BINDING_PATH), "<sip:p9.example.com;lr>");
	assert_lacks(e->extra, "Path:");
	env_free(e);
}

static void test_max_contacts(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->cfg.max_contacts = 2;
	assert_int_equal(reg(e, "c1@h", 1, "Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.1>\n"), 200);
	assert_int_equal(reg(e, "c2@h", 1, "Contact: <sip:c@192.0.2.1>\n"), 403);
	assert_string_equal(e->res.reason, "Too Many Contacts");
	assert_int_equal(location_count(e->loc, 42), 2);
	/* replacing one by another in the same request fits */
	assert_int_equal(reg(e, "c1@h", 2, "Contact: <sip:a@192.0.2.1>;expires=0, <sip:c@192.0.2.1>\n"),
			 200);
	assert_int_equal(location_count(e->loc, 42), 2);
	/* refreshes pass even when the limit was lowered below the count */
	e->cfg.max_contacts = 1;
	assert_int_equal(reg(e, "c1@h", 3, "Contact: <sip:b@192.0.2.1>\n"), 200);
	env_free(e);
}

static void test_require(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(reg(e, "c1@h", 1, "Require: foo, path\nRequire: bar\nContact: <sip:a@192.0.2.1>\n"),
			 420);
	assert_string_equal(e->extra, "Unsupported: foo, bar\r\n");
	assert_null(location_lookup(e->loc, 42));
	assert_int_equal(reg(e, "c1@h", 2, "Require: path, outbound\nContact: <sip:a@192.0.2.1>\n"),
			 200);
	env_free(e);
}

static void test_bad_contacts(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(reg(e, "c1@h", 1, "Contact: <sip:a@192.0.2.1\n"), 400);
	char h[LOCATION_MAX_CONTACT + 64];
	memset(h, 'a', sizeof(h));
	memcpy(h, "Contact: <sip:", 14);
	snprintf(h + LOCATION_MAX_CONTACT + 20, 40, "@192.0.2.1>\n");
	assert_int_equal(reg(e, "c1@h", 2, h), 400);
	assert_null(location_lookup(e->loc, 42));
	/* the same URI twice in one request: the last value wins */
	assert_int_equal(reg(e, "c1@h", 3,
			     "Contact: <sip:a@192.0.2.1>;expires=100, <sip:a@192.0.2.1>;expires=200\n"),
			 200);
	assert_int_equal(location_count(e->loc, 42), 1);
	assert_int_equal(nth(e, 0)->expires, 200);
	env_free(e);
}

static void test_due_bindings_swept_first(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(reg(e, "c1@h", 1, "Contact: <sip:a@192.0.2.1>;expires=60\n"), 200);
	now_s += 60;
	assert_int_equal(reg(e, "c2@h", 1, ""), 200);
	assert_int_equal(e->expired, 1);
	assert_lacks(e->extra, "Contact:");
	env_free(e);
}

static void test_extra_overflow(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->cfg.max_contacts = 0;
	char h[4096] = "Contact: ";
	for (int i = 0; i < 20; i++) {
		char c[128];
		snprintf(c, sizeof(c), "%s<sip:user%02d-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@192.0.2.1>",
			 i ? ", " : "", i);
		strcat(h, c);
	}
	strcat(h, "\n");
	assert_int_equal(reg(e, "c1@h", 1, h), 200);
	size_t full = e->res.extra_needed;
	assert_int_equal(e->res.extra_len, full);

	/* a small buffer: whole lines only, and the size that was needed */
	char text[8192];
	snprintf(text, sizeof(text),
		 "REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKx\n"
		 "To: <sip:bob@example.com>\nFrom: <sip:bob@example.com>;tag=1\nCall-ID: q@h\n"
		 "CSeq: 1 REGISTER\nContent-Length: 0\n\n");
	size_t len;
	char *buf = crlf(text, &len);
	struct sip_msg m;
	assert_int_equal(sip_msg_parse(&m, buf, len, NULL, NULL), 0);
	char small[300];
	struct registrar_result r;
	assert_int_equal(registrar_register(e->loc, &e->cfg, 42, &m, SIP_STR_NULL, small,
					    sizeof(small), &r),
			 200);
	assert_int_equal(r.extra_needed, full);
	assert_true(r.extra_len < sizeof(small));
	assert_int_equal(strlen(small), r.extra_len);
	assert_true(r.extra_len >= 2 && memcmp(small + r.extra_len - 2, "\r\n", 2) == 0);
	/* rendered again into a buffer of the size it asked for */
	char *big = malloc(full + 1);
	size_t got;
	assert_int_equal(registrar_reply_lines(e->loc, 42, &m, big, full + 1, &got), full);
	assert_int_equal(got, full);
	free(big);
	sip_msg_free(&m);
	free(buf);
	env_free(e);
}

/* The router's rewrite: bindings with a Path go to its first hop. */
static sip_str to_first_hop(void *ctx, const struct binding *b, char *buf, size_t cap)
{
	(void)ctx;
	sip_str p = binding_str(b, BINDING_PATH);
	if (!p.len)
		return binding_str(b, BINDING_CONTACT);
	const char *lt = memchr(p.s, '<', p.len), *gt = memchr(p.s, '>', p.len);
	if (!lt || !gt || (size_t)(gt - lt - 1) >= cap)
		return SIP_STR_NULL;
	memcpy(buf, lt + 1, (size_t)(gt - lt - 1));
	return sip_str_make(buf, (size_t)(gt - lt - 1));
}

static void test_302_contacts(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(reg(e, "c1@h", 1, "Contact: <sip:a@192.0.2.1>;q=0.5\n"), 200);
	assert_int_equal(reg(e, "c2@h", 1,
			     "Path: <sip:edge1.example.com;lr>, <sip:core.example.com;lr>\n"
			     "Contact: <sip:b@10.0.0.1>;q=0.9\n"),
			 200);
	char out[512];
	size_t len;
	unsigned n;
	size_t need = registrar_contacts_302(e->loc, 42, NULL, NULL, out, sizeof(out), &len, &n);
	assert_string_equal(out, "Contact: <sip:b@10.0.0.1>;q=0.9\r\n"
				 "Contact: <sip:a@192.0.2.1>;q=0.5\r\n");
	assert_int_equal(need, len);
	assert_int_equal(n, 2);
	registrar_contacts_302(e->loc, 42, to_first_hop, NULL, out, sizeof(out), &len, &n);
	assert_string_equal(out, "Contact: <sip:edge1.example.com;lr>;q=0.9\r\n"
				 "Contact: <sip:a@192.0.2.1>;q=0.5\r\n");
	/* too small for both: the lower q is left out, whole */
	char small[48];
	need = registrar_contacts_302(e->loc, 42, NULL, NULL, small, sizeof(small), &len, &n);
	assert_string_equal(small, "Contact: <sip:b@10.0.0.1>;q=0.9\r\n");
	assert_int_equal(n, 1);
	assert_true(need > len);
	/* nothing registered: nothing written */
	registrar_contacts_302(e->loc, 43, NULL, NULL, out, sizeof(out), &len, &n);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_refresh_fetch),
		cmocka_unit_test(test_default_and_param_over_header),
		cmocka_unit_test(test_remove_one_and_all),
		cmocka_unit_test(test_star_rules),
		cmocka_unit_test(test_423_and_clamp),
		cmocka_unit_test(test_q_ordering_and_invalid_q),
		cmocka_unit_test(test_call_id_cseq_ordering),
		cmocka_unit_test(test_instance_reg_id),
		cmocka_unit_test(test_path_stored_and_echoed),
		cmocka_unit_test(test_max_contacts),
		cmocka_unit_test(test_require),
		cmocka_unit_test(test_bad_contacts),
		cmocka_unit_test(test_due_bindings_swept_first),
		cmocka_unit_test(test_extra_overflow),
		cmocka_unit_test(test_302_contacts),
	};
	return cmocka_run_group_tests_name("registrar", tests, NULL, NULL);
}
