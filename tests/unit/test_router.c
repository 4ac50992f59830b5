/*
 * redirectd's router (redirect/router.c) on a store loaded from rows
 * (tests/unit/store_rows.h) and a location service with registrations:
 * feature routing (every transition of the vocal-hop parameter, forged and
 * foreign values, max forwards, skip and fail groups, a caller whose hops
 * shrink, calls to non-subscribers with calling hops, q values and the
 * Contacts' text) and the terminating answers it falls back to.
 */
#include "unit/testutil.h"

#include "feature_hop.h"
#include "redirect/location.h"
#include "redirect/registrar.h"
#include "redirect/router.h"
#include "unit/store_rows.h"

#define DOMAIN 1
#define ALICE 100 /* calling: feat-a (skip), feat-b (fail); called: feat-b */
#define BOB 101   /* called: feat-b, feat-a; alias robert, DID +15550002 */
#define CAROL 102 /* no features; registered through the UA marshal */
#define DAVE 103  /* calling: feat-empty (fail, no server) */
#define ERIN 104  /* calling: feat-gone (skip, only a disabled server), feat-a */
#define FRANK 105 /* disabled; called: feat-b */
#define GINA 106  /* calling: feat-big (11 servers) */

static int64_t now_s = 1800000000;
static int64_t fake_unix(void *arg)
{
	(void)arg;
	return now_s;
}

struct env {
	struct test_rows rows;
	struct location *loc;
	struct router router;
	char extra[8192];
	struct route_answer a;
};

static const char *const SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/* Registers contact for subscriber id through the UA marshal (Path). */
static void registration(struct env *e, int64_t id, const char *user, const char *contact)
{
	char text[1024];
	snprintf(text, sizeof text,
		 "REGISTER sip:vocal.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-reg-%s\n"
		 "Via: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bK-phone\n"
		 "Max-Forwards: 70\n"
		 "To: <sip:%s@vocal.test>\n"
		 "From: <sip:%s@vocal.test>;tag=1\n"
		 "Call-ID: reg-%s\n"
		 "CSeq: 1 REGISTER\n"
		 "Path: <sip:127.0.0.1:5060;lr>\n"
		 "Contact: <%s>\n"
		 "Content-Length: 0\n\n",
		 user, user, user, user, contact);
	size_t len;
	char *buf = crlf(text, &len);
	struct sip_msg m;
	struct sip_error err = {0};
	assert_int_equal(sip_msg_parse(&m, buf, len, NULL, &err), 0);
	assert_int_equal(sip_msg_check(&m, &err), 0);
	struct registrar_config cfg;
	registrar_config_default(&cfg);
	struct registrar_result res;
	assert_int_equal(registrar_register(e->loc, &cfg, id, &m, SIP_STR_LIT("udp:192.0.2.99:5060"), e->extra,
					    sizeof e->extra, &res),
			 200);
	sip_msg_free(&m);
	free(buf);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof *e);
	struct test_rows *t = &e->rows;
	rows_domain(t, DOMAIN, "vocal.test");
	rows_subscriber(t, ALICE, DOMAIN, "alice", "calling:7 both:8");
	rows_subscriber_full(t, BOB, DOMAIN, "bob", "1:robert", "+15550002", "called:8 called:7", true);
	rows_subscriber(t, CAROL, DOMAIN, "carol", "");
	rows_subscriber(t, DAVE, DOMAIN, "dave", "calling:9");
	rows_subscriber(t, ERIN, DOMAIN, "erin", "calling:10 calling:7");
	rows_subscriber_full(t, FRANK, DOMAIN, "frank", "", "", "called:8", false);
	rows_subscriber(t, GINA, DOMAIN, "gina", "calling:11");
	rows_group(t, 1, "ua", "marshal_ua", "fail");
	rows_server(t, 1, "127.0.0.1", 5060, "udp", 0, true);
	rows_group(t, 7, "feat-a", "feature", "skip");
	rows_server(t, 71, "192.0.2.8", 5081, "tcp", 2, true);
	rows_server(t, 70, "192.0.2.7", 5080, "udp", 1, true);
	rows_server(t, 72, "192.0.2.9", 5082, "udp", 0, false);
	rows_group(t, 8, "feat-b", "feature", "fail");
	rows_server(t, 80, "2001:db8::8", 5090, "udp", 0, true);
	rows_group(t, 9, "feat-empty", "feature", "fail");
	rows_group(t, 10, "feat-gone", "feature", "skip");
	rows_server(t, 100, "192.0.2.10", 5100, "udp", 0, false);
	rows_group(t, 11, "feat-big", "feature", "fail");
	for (int i = 0; i < 11; i++) {
		char host[32];
		snprintf(host, sizeof host, "192.0.2.%d", 110 + i);
		rows_server(t, 110 + i, host, 5110, "udp", i, true);
	}
	rows_plan(t, 1, "default", 10, "\\+?1?([2-9][0-9]{9})", "sip:+1\\1@gw.vocal.test");
	rows_store(t);

	struct location_opts lo = {.now = fake_unix};
	e->loc = location_new(&lo);
	registration(e, CAROL, "carol", "sip:carol@192.0.2.99:5062");
	registration(e, BOB, "bob", "sip:bob@192.0.2.98:5062");
	registration(e, FRANK, "frank", "sip:frank@192.0.2.97:5062");

	e->router = (struct router){.store = t->store, .loc = e->loc, .dial_plan = "default",
				    .has_key = true, .max_forwards = 5};
	assert_int_equal(feature_hop_key_parse(SECRET, e->router.hop_key), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	location_free(e->loc);
	rows_free(&e->rows);
	free(e);
	return 0;
}

/* Routes a request; asker is the top Via's host:port (a feature server by
 * default). Returns the status; e->extra has the header lines. */
static unsigned route_req(struct env *e, const char *method, const char *ruri, const char *from,
			  const char *call_id, const char *to_tag, const char *asker)
{
	char text[2048];
	snprintf(text, sizeof text,
		 "%s %s SIP/2.0\n"
		 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-r1\n"
		 "Via: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bK-phone\n"
		 "Max-Forwards: 70\n"
		 "To: <sip:x@vocal.test>%s%s\n"
		 "From: <%s>;tag=f1\n"
		 "Call-ID: %s\n"
		 "CSeq: 1 %s\n"
		 "Content-Length: 0\n\n",
		 method, ruri, asker ? asker : "192.0.2.50:5080", to_tag ? ";tag=" : "",
		 to_tag ? to_tag : "", from, call_id, method);
	size_t len;
	char *buf = crlf(text, &len);
	struct sip_msg m;
	struct sip_error err = {0};
	assert_int_equal(sip_msg_parse(&m, buf, len, NULL, &err), 0);
	assert_int_equal(sip_msg_check(&m, &err), 0);
	router_route(&e->router, &m, e->extra, sizeof e->extra, &e->a);
	sip_msg_free(&m);
	free(buf);
	return e->a.status;
}

static unsigned invite(struct env *e, const char *ruri, const char *from, const char *call_id)
{
	return route_req(e, "INVITE", ruri, from, call_id, NULL, NULL);
}

/* The vocal-hop value for phase.index.group.forwards bound to call_id and
 * user@host, as featured or redirectd would make it. */
static const char *hop(char phase, unsigned index, long group, unsigned forwards,
		       const char *call_id, const char *user, const char *host)
{
	static char v[4][FEATURE_HOP_MAX];
	static int k;
	uint8_t key[FEATURE_HOP_KEY_LEN];
	assert_int_equal(feature_hop_key_parse(SECRET, key), 0);
	struct feature_hop h = {(enum feature_hop_phase)phase, index, group, forwards};
	char *out = v[k++ % 4];
	assert_true(feature_hop_format(&h, key, sip_str_make(call_id, strlen(call_id)),
				       sip_str_make(user, strlen(user)), sip_str_make(host, strlen(host)),
				       out, FEATURE_HOP_MAX) > 0);
	return out;
}

/* A Request-URI user@vocal.test with a vocal-hop value. */
static const char *ruri_hop(const char *user, const char *value)
{
	static char u[2][256];
	static int k;
	char *out = u[k++ % 2];
	snprintf(out, 256, "sip:%s@vocal.test;vocal-hop=%s", user, value);
	return out;
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

/* The contacts of the calling hops' groups, as text. */
static void expect_feat_a(struct env *e, const char *user, const char *value)
{
	char want[1024];
	snprintf(want, sizeof want,
		 "Contact: <sip:%s@vocal.test:5080;maddr=192.0.2.7;vocal-hop=%s>;q=1\r\n"
		 "Contact: <sip:%s@vocal.test:5081;maddr=192.0.2.8;transport=tcp;vocal-hop=%s>;q=0.9\r\n"
		 "Contact: <sip:%s@vocal.test;vocal-hop=%s>;q=0.8\r\n",
		 user, value, user, value, user, value);
	assert_string_equal(want, e->extra);
	assert_int_equal(3, e->a.contacts);
}

static void expect_feat_b(struct env *e, const char *user, const char *value)
{
	char want[512];
	snprintf(want, sizeof want, "Contact: <sip:%s@vocal.test:5090;maddr=[2001:db8::8];vocal-hop=%s>;q=1\r\n",
		 user, value);
	assert_string_equal(want, e->extra);
	assert_int_equal(1, e->a.contacts);
}

/* ---- subscribers without features --------------------------------------------- */

static void test_no_features(void **state)
{
	struct env *e = *state;
	/* carol calls carol's phone from elsewhere: straight to her marshal,
	 * no vocal-hop (nothing to remember) */
	assert_int_equal(302, invite(e, "sip:carol@vocal.test", "sip:carol@vocal.test", "n1"));
	assert_string_equal("Contact: <sip:carol@vocal.test:5060;maddr=127.0.0.1>;q=1\r\n", e->extra);
	/* asked by her own marshal: her phone */
	assert_int_equal(302, route_req(e, "INVITE", "sip:carol@vocal.test", "sip:carol@vocal.test", "n1", NULL,
					"127.0.0.1:5060"));
	assert_string_equal("Contact: <sip:carol@192.0.2.99:5062>;q=1\r\n", e->extra);
	/* a number for the gateway, unknown names */
	assert_int_equal(302, invite(e, "sip:+12125550100@vocal.test", "sip:carol@vocal.test", "n2"));
	assert_string_equal("Contact: <sip:+12125550100@gw.vocal.test>\r\n", e->extra);
	assert_int_equal(404, invite(e, "sip:nobody@vocal.test", "sip:carol@vocal.test", "n3"));
	assert_int_equal(404, invite(e, "sip:*69@vocal.test", "sip:carol@vocal.test", "n3"));
}

/* ---- the calling side --------------------------------------------------------- */

static void test_calling_hops(void **state)
{
	struct env *e = *state;
	const char *cid = "call-1@x";
	/* no parameter: the caller's first calling hop, feat-a, in server
	 * priority order (the disabled one left out), then the skip */
	assert_int_equal(302, invite(e, "sip:carol@vocal.test", "sip:alice@vocal.test", cid));
	expect_feat_a(e, "carol", hop('c', 0, 7, 0, cid, "carol", "vocal.test"));
	/* c.0 done: calling hop 1, feat-b (fail: no skip Contact; IPv6 maddr) */
	assert_int_equal(302, invite(e, ruri_hop("carol", hop('c', 0, 7, 0, cid, "carol", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	expect_feat_b(e, "carol", hop('c', 1, 8, 0, cid, "carol", "vocal.test"));
	/* c.1 done: carol has no called hops: her marshal, with the value
	 * that says the features are done (bound to her AOR) */
	assert_int_equal(302, invite(e, ruri_hop("carol", hop('c', 1, 8, 0, cid, "carol", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	char want[256];
	snprintf(want, sizeof want, "Contact: <sip:carol@vocal.test:5060;maddr=127.0.0.1;vocal-hop=%s>;q=1\r\n",
		 hop('t', 0, 0, 0, cid, "carol", "vocal.test"));
	assert_string_equal(want, e->extra);
	/* ... with which her marshal asks again: her phone */
	assert_int_equal(302, route_req(e, "INVITE", ruri_hop("carol", hop('t', 0, 0, 0, cid, "carol", "vocal.test")),
					"sip:alice@vocal.test", cid, NULL, "127.0.0.1:5060"));
	assert_string_equal("Contact: <sip:carol@192.0.2.99:5062>;q=1\r\n", e->extra);
	/* the group id in the value is informative: the index counts */
	assert_int_equal(302, invite(e, ruri_hop("carol", hop('c', 0, 99, 0, cid, "carol", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	expect_feat_b(e, "carol", hop('c', 1, 8, 0, cid, "carol", "vocal.test"));
}

/* A caller whose hops shrank between two hops (caller-ID blocking made
 * From anonymous, or a feature was switched off): clamped, not failed. */
static void test_caller_shrinks(void **state)
{
	struct env *e = *state;
	const char *cid = "call-2@x";
	assert_int_equal(302, invite(e, ruri_hop("bob", hop('c', 0, 7, 0, cid, "bob", "vocal.test")),
				     "sip:anonymous@anonymous.invalid", cid));
	expect_feat_b(e, "bob", hop('t', 0, 8, 0, cid, "bob", "vocal.test"));
	assert_int_equal(302, invite(e, ruri_hop("bob", hop('c', 7, 7, 0, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	expect_feat_b(e, "bob", hop('t', 0, 8, 0, cid, "bob", "vocal.test"));
	/* carol as the caller now: no calling hops, no called hops */
	assert_int_equal(302, invite(e, ruri_hop("carol", hop('c', 0, 7, 0, cid, "carol", "vocal.test")),
				     "sip:carol@vocal.test", cid));
	assert_has(e->extra, "maddr=127.0.0.1;vocal-hop=t.0.0.0.");
}

/* ---- the called side ---------------------------------------------------------- */

static void test_called_hops(void **state)
{
	struct env *e = *state;
	const char *cid = "call-3@x";
	/* alice -> bob: alice's calling hops first */
	assert_int_equal(302, invite(e, "sip:bob@vocal.test", "sip:alice@vocal.test", cid));
	expect_feat_a(e, "bob", hop('c', 0, 7, 0, cid, "bob", "vocal.test"));
	/* calling done: bob's called hop 0 (feat-b) */
	assert_int_equal(302, invite(e, ruri_hop("bob", hop('c', 1, 8, 0, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	expect_feat_b(e, "bob", hop('t', 0, 8, 0, cid, "bob", "vocal.test"));
	/* t.0 done: called hop 1 (feat-a) */
	assert_int_equal(302, invite(e, ruri_hop("bob", hop('t', 0, 8, 0, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	expect_feat_a(e, "bob", hop('t', 1, 7, 0, cid, "bob", "vocal.test"));
	/* t.1 done: bob's marshal, then his phone */
	assert_int_equal(302, invite(e, ruri_hop("bob", hop('t', 1, 7, 0, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	char want[256];
	snprintf(want, sizeof want, "Contact: <sip:bob@vocal.test:5060;maddr=127.0.0.1;vocal-hop=%s>;q=1\r\n",
		 hop('t', 1, 7, 0, cid, "bob", "vocal.test"));
	assert_string_equal(want, e->extra);
	assert_int_equal(302, route_req(e, "INVITE", ruri_hop("bob", hop('t', 1, 7, 0, cid, "bob", "vocal.test")),
					"sip:alice@vocal.test", cid, NULL, "127.0.0.1:5060"));
	assert_string_equal("Contact: <sip:bob@192.0.2.98:5062>;q=1\r\n", e->extra);
	/* a caller without calling hops (carol, or the gateway): straight to
	 * the called hops */
	assert_int_equal(302, invite(e, "sip:bob@vocal.test", "sip:carol@vocal.test", cid));
	expect_feat_b(e, "bob", hop('t', 0, 8, 0, cid, "bob", "vocal.test"));
	assert_int_equal(302, invite(e, "sip:bob@vocal.test", "sip:+12125550100@gw.vocal.test", cid));
	expect_feat_b(e, "bob", hop('t', 0, 8, 0, cid, "bob", "vocal.test"));
	/* by alias and by DID: the Request-URI's user and host as received,
	 * which the value is bound to; the marshal's Contact names the
	 * subscriber (and its value is bound to that) */
	assert_int_equal(302, invite(e, "sip:robert@vocal.test", "sip:carol@vocal.test", cid));
	expect_feat_b(e, "robert", hop('t', 0, 8, 0, cid, "robert", "vocal.test"));
	assert_int_equal(302, invite(e, "sip:+15550002@127.0.0.1:5065", "sip:+12125550100@gw.vocal.test", cid));
	snprintf(want, sizeof want, "Contact: <sip:+15550002@127.0.0.1:5090;maddr=[2001:db8::8];vocal-hop=%s>;q=1\r\n",
		 hop('t', 0, 8, 0, cid, "+15550002", "127.0.0.1"));
	assert_string_equal(want, e->extra);
	assert_int_equal(403, invite(e, "sip:+15550002@127.0.0.1:5065;vocal-hop=x", "sip:+1@gw", cid));
	char ruri[256];
	snprintf(ruri, sizeof ruri, "sip:+15550002@127.0.0.1;vocal-hop=%s", hop('t', 1, 7, 0, cid, "+15550002", "127.0.0.1"));
	assert_int_equal(302, invite(e, ruri, "sip:+12125550100@gw.vocal.test", cid));
	snprintf(want, sizeof want, "Contact: <sip:bob@vocal.test:5060;maddr=127.0.0.1;vocal-hop=%s>;q=1\r\n",
		 hop('t', 1, 7, 0, cid, "bob", "vocal.test"));
	assert_string_equal(want, e->extra);
	/* a disabled subscriber's features do not run: 480 */
	assert_int_equal(480, invite(e, "sip:frank@vocal.test", "sip:carol@vocal.test", cid));
}

/* ---- retargeting ---------------------------------------------------------------- */

static void test_retargeted(void **state)
{
	struct env *e = *state;
	const char *cid = "call-4@x";
	/* carol's call forwarded by a feature to bob (one forward): bob's
	 * called hops, the forwards carried along; the calling side is done
	 * even for a caller who has calling hops */
	assert_int_equal(302, invite(e, ruri_hop("bob", hop('r', 0, 0, 1, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	expect_feat_b(e, "bob", hop('t', 0, 8, 1, cid, "bob", "vocal.test"));
	assert_int_equal(302, invite(e, ruri_hop("bob", hop('t', 1, 7, 1, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_has(e->extra, hop('t', 1, 7, 1, cid, "bob", "vocal.test"));
	/* retargeted to carol (no called hops): her contacts */
	assert_int_equal(302, invite(e, ruri_hop("carol", hop('r', 0, 0, 2, cid, "carol", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_has(e->extra, "sip:carol@vocal.test:5060;maddr=127.0.0.1;vocal-hop=t.0.0.2.");
	/* retargeted to a number: the dial plan */
	assert_int_equal(302, invite(e, ruri_hop("+12125550100", hop('r', 0, 0, 1, cid, "+12125550100", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_string_equal("Contact: <sip:+12125550100@gw.vocal.test>\r\n", e->extra);
	/* max forwards: 5 is still fine, 6 is a loop */
	assert_int_equal(302, invite(e, ruri_hop("bob", hop('r', 0, 0, 5, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_int_equal(482, invite(e, ruri_hop("bob", hop('r', 0, 0, 6, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_int_equal(482, invite(e, ruri_hop("bob", hop('t', 0, 8, 6, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	e->router.max_forwards = 0;
	assert_int_equal(482, invite(e, ruri_hop("bob", hop('r', 0, 0, 1, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_int_equal(302, invite(e, "sip:bob@vocal.test", "sip:alice@vocal.test", cid));
}

/* ---- values that are not ours --------------------------------------------------- */

static void test_forged(void **state)
{
	struct env *e = *state;
	const char *cid = "call-5@x";
	char v[FEATURE_HOP_MAX + 8];
	/* a phone that skips alice's calling hops: any MAC but the right one */
	snprintf(v, sizeof v, "%s", hop('c', 1, 8, 0, cid, "bob", "vocal.test"));
	v[strlen(v) - 1] = v[strlen(v) - 1] == '0' ? '1' : '0';
	assert_int_equal(403, invite(e, ruri_hop("bob", v), "sip:alice@vocal.test", cid));
	assert_string_equal("Bad Feature Hop", e->a.reason);
	assert_string_equal("", e->extra);
	/* another call's value, another target's, a made-up one, none at all */
	assert_int_equal(403, invite(e, ruri_hop("bob", hop('c', 1, 8, 0, "other-call", "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_int_equal(403, invite(e, ruri_hop("bob", hop('c', 1, 8, 0, cid, "carol", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_int_equal(403, invite(e, ruri_hop("bob", hop('c', 1, 8, 0, cid, "bob", "other.test")),
				     "sip:alice@vocal.test", cid));
	assert_int_equal(403, invite(e, ruri_hop("bob", "t.9.8.0"), "sip:alice@vocal.test", cid));
	assert_int_equal(403, invite(e, "sip:bob@vocal.test;vocal-hop", "sip:alice@vocal.test", cid));
	/* the host folds: the value still holds */
	char ruri[256];
	snprintf(ruri, sizeof ruri, "sip:bob@VOCAL.Test;vocal-hop=%s", hop('t', 0, 8, 0, cid, "bob", "vocal.test"));
	assert_int_equal(302, invite(e, ruri, "sip:alice@vocal.test", cid));
	assert_has(e->extra, "<sip:bob@VOCAL.Test:5080;maddr=192.0.2.7;vocal-hop=t.1.7.0.");
	/* another secret (a featured not configured like us) */
	uint8_t saved[FEATURE_HOP_KEY_LEN];
	memcpy(saved, e->router.hop_key, sizeof saved);
	e->router.hop_key[0] ^= 1;
	assert_int_equal(403, invite(e, ruri_hop("bob", hop('t', 0, 8, 0, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	memcpy(e->router.hop_key, saved, sizeof saved);
	/* other methods and requests inside a dialog route as before: the
	 * parameter is not looked at */
	assert_int_equal(302, route_req(e, "MESSAGE", ruri_hop("carol", "forged"), "sip:alice@vocal.test", cid,
					NULL, NULL));
	assert_string_equal("Contact: <sip:carol@vocal.test:5060;maddr=127.0.0.1>;q=1\r\n", e->extra);
	assert_int_equal(302, route_req(e, "INVITE", ruri_hop("carol", "forged"), "sip:alice@vocal.test", cid,
					"totag", NULL));
	assert_string_equal("Contact: <sip:carol@vocal.test:5060;maddr=127.0.0.1>;q=1\r\n", e->extra);
	assert_int_equal(302, route_req(e, "OPTIONS", "sip:bob@vocal.test", "sip:alice@vocal.test", cid, NULL, NULL));
	assert_lacks(e->extra, "vocal-hop");
}

/* ---- destinations that are not subscribers ----------------------------------- */

static void test_non_subscriber_target(void **state)
{
	struct env *e = *state;
	const char *cid = "call-6@x";
	/* call-return code: no subscriber, but the calling hops come first */
	assert_int_equal(302, invite(e, "sip:*69@vocal.test", "sip:alice@vocal.test", cid));
	expect_feat_a(e, "*69", hop('c', 0, 7, 0, cid, "*69", "vocal.test"));
	assert_int_equal(302, invite(e, ruri_hop("*69", hop('c', 0, 7, 0, cid, "*69", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	expect_feat_b(e, "*69", hop('c', 1, 8, 0, cid, "*69", "vocal.test"));
	assert_int_equal(404, invite(e, ruri_hop("*69", hop('c', 1, 8, 0, cid, "*69", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	/* a number for the gateway: call blocking sees it first */
	assert_int_equal(302, invite(e, "sip:+12125550100@vocal.test", "sip:alice@vocal.test", cid));
	expect_feat_a(e, "+12125550100", hop('c', 0, 7, 0, cid, "+12125550100", "vocal.test"));
	assert_int_equal(302, invite(e, ruri_hop("+12125550100", hop('c', 1, 8, 0, cid, "+12125550100", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_string_equal("Contact: <sip:+12125550100@gw.vocal.test>\r\n", e->extra);
	/* a foreign domain too */
	assert_int_equal(302, invite(e, "sip:someone@example.org", "sip:alice@vocal.test", cid));
	char line[256];
	snprintf(line, sizeof line, "Contact: <sip:someone@example.org:5080;maddr=192.0.2.7;vocal-hop=%s>;q=1\r\n",
		 hop('c', 0, 7, 0, cid, "someone", "example.org"));
	assert_true(strncmp(e->extra, line, strlen(line)) == 0);
}

/* ---- groups without servers -------------------------------------------------- */

static void test_skip_and_fail(void **state)
{
	struct env *e = *state;
	const char *cid = "call-7@x";
	/* fail group with no server: 503 naming it */
	assert_int_equal(503, invite(e, "sip:carol@vocal.test", "sip:dave@vocal.test", cid));
	assert_string_equal("Feature Group feat-empty Unavailable", e->a.reason);
	assert_string_equal("", e->extra);
	/* skip group whose only server is disabled: skipped now, the next
	 * hop is calling hop 1 */
	assert_int_equal(302, invite(e, "sip:carol@vocal.test", "sip:erin@vocal.test", cid));
	expect_feat_a(e, "carol", hop('c', 1, 7, 0, cid, "carol", "vocal.test"));
	/* no secret: skip groups are skipped, fail groups refuse; values
	 * cannot be checked */
	e->router.has_key = false;
	assert_int_equal(302, invite(e, "sip:carol@vocal.test", "sip:erin@vocal.test", cid));
	assert_string_equal("Contact: <sip:carol@vocal.test:5060;maddr=127.0.0.1>;q=1\r\n", e->extra);
	assert_int_equal(503, invite(e, "sip:carol@vocal.test", "sip:alice@vocal.test", cid));
	assert_string_equal("Feature Routing Not Configured", e->a.reason);
	assert_int_equal(403, invite(e, ruri_hop("carol", hop('c', 1, 8, 0, cid, "carol", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_int_equal(302, invite(e, "sip:carol@vocal.test", "sip:carol@vocal.test", cid));
	e->router.has_key = true;
}

/* ---- q values ------------------------------------------------------------------ */

static void test_q_values(void **state)
{
	struct env *e = *state;
	const char *cid = "call-8@x";
	/* eleven servers: q shares 1..0.1 (step 0.09), strictly decreasing */
	assert_int_equal(302, invite(e, "sip:carol@vocal.test", "sip:gina@vocal.test", cid));
	assert_int_equal(11, e->a.contacts);
	const char *v = hop('c', 0, 11, 0, cid, "carol", "vocal.test");
	char line[256];
	snprintf(line, sizeof line, "Contact: <sip:carol@vocal.test:5110;maddr=192.0.2.110;vocal-hop=%s>;q=1\r\n", v);
	assert_true(strncmp(e->extra, line, strlen(line)) == 0);
	snprintf(line, sizeof line, "maddr=192.0.2.111;vocal-hop=%s>;q=0.91\r\n", v);
	assert_has(e->extra, line);
	snprintf(line, sizeof line, "maddr=192.0.2.120;vocal-hop=%s>;q=0.1\r\n", v);
	assert_has(e->extra, line);
}

/* ---- what the marshal and featured make of the 302s ------------------------------- */

/* feature_hop_redirect (common/feature_hop.h) on the last answer: a 302
 * built from e->extra as redirectd sends it. */
static bool hop_redirect(struct env *e)
{
	char text[9000];
	snprintf(text, sizeof text,
		 "SIP/2.0 302 Moved Temporarily\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.50:5080;branch=z9hG4bK-r1\r\n"
		 "To: <sip:x@vocal.test>;tag=t1\r\n"
		 "From: <sip:alice@vocal.test>;tag=f1\r\n"
		 "Call-ID: hr@x\r\n"
		 "CSeq: 1 INVITE\r\n"
		 "%s"
		 "Content-Length: 0\r\n\r\n",
		 e->extra);
	struct sip_msg m;
	assert_int_equal(sip_msg_parse(&m, text, strlen(text), NULL, NULL), 0);
	bool r = feature_hop_redirect(e->rows.store, &m);
	sip_msg_free(&m);
	return r;
}

/* The 302s into a feature hop (its servers: alternatives, tried for
 * failover only) and the others (the callee's marshal and phones, the
 * dial plan, a feature's redirect: q order as usual). */
static void test_hop_redirects_recognised(void **state)
{
	struct env *e = *state;
	const char *cid = "call-hr@x";
	/* feat-a (skip): servers and the skip */
	assert_int_equal(302, invite(e, "sip:bob@vocal.test", "sip:alice@vocal.test", cid));
	assert_true(hop_redirect(e));
	/* feat-b (fail): one server, IPv6, no skip */
	assert_int_equal(302, invite(e, ruri_hop("bob", hop('c', 1, 8, 0, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_true(hop_redirect(e));
	/* feat-big: eleven servers */
	assert_int_equal(302, invite(e, "sip:carol@vocal.test", "sip:gina@vocal.test", cid));
	assert_true(hop_redirect(e));
	/* features done: bob's marshal, whose value names his last called
	 * group (feat-a, which has servers: the marshal is none of them) */
	assert_int_equal(302, invite(e, ruri_hop("bob", hop('t', 1, 7, 0, cid, "bob", "vocal.test")),
				     "sip:alice@vocal.test", cid));
	assert_has(e->extra, "maddr=127.0.0.1;vocal-hop=t.1.7.0.");
	assert_false(hop_redirect(e));
	/* ... and his phone */
	assert_int_equal(302, route_req(e, "INVITE", ruri_hop("bob", hop('t', 1, 7, 0, cid, "bob", "vocal.test")),
					"sip:alice@vocal.test", cid, NULL, "127.0.0.1:5060"));
	assert_false(hop_redirect(e));
	/* no features at all; the dial plan */
	assert_int_equal(302, invite(e, "sip:carol@vocal.test", "sip:carol@vocal.test", cid));
	assert_false(hop_redirect(e));
	assert_int_equal(302, invite(e, "sip:+12125550100@vocal.test", "sip:carol@vocal.test", cid));
	assert_false(hop_redirect(e));
	/* a feature's redirect (featured's Contacts: retargets, phase r, no
	 * maddr), a value that is not one, a server of another group */
	snprintf(e->extra, sizeof e->extra, "Contact: <sip:carol@vocal.test;vocal-hop=%s>\r\n",
		 hop('r', 0, 0, 1, cid, "carol", "vocal.test"));
	assert_false(hop_redirect(e));
	snprintf(e->extra, sizeof e->extra, "Contact: <sip:carol@vocal.test;vocal-hop=t.x.7.0>\r\n");
	assert_false(hop_redirect(e));
	snprintf(e->extra, sizeof e->extra,
		 "Contact: <sip:carol@vocal.test:5080;maddr=192.0.2.7;vocal-hop=%s>\r\n",
		 hop('t', 0, 8, 0, cid, "carol", "vocal.test"));
	assert_false(hop_redirect(e));
	/* the skip alone says it too (a server dropped from the store since) */
	snprintf(e->extra, sizeof e->extra, "Contact: <sip:carol@vocal.test;vocal-hop=%s>;q=0.8\r\n",
		 hop('c', 0, 7, 0, cid, "carol", "vocal.test"));
	assert_true(hop_redirect(e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_calling_hops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caller_shrinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_called_hops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retargeted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_subscriber_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_and_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_q_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hop_redirects_recognised, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
