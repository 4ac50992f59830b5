/*
 * featured's pure modules: the feature table (rows per subscriber, sides
 * and groups, versions, a full load forgetting what went), the compiled-
 * script LRU (hits, staleness, eviction while a call holds an entry,
 * invalidation), targets (going on, forwarding with a signed r-phase
 * value that feature_hop_parse accepts for the new target only), the
 * outcome of an attempt as a script reads it, and caller privacy (the
 * anonymised From keeps its tag, Privacy: id).
 */
#include "unit/testutil.h"

#include "feature/cpl.h"
#include "feature/intern.h"
#include "feature/privacy.h"
#include "feature/table.h"
#include "feature/target.h"
#include "sip/addr.h"
#include "sip/msg.h"

/* ---- the feature table --------------------------------------------------- */

static void table_rows(void **state)
{
	struct feature_table *t = feature_table_new();
	assert_non_null(t);
	struct feature_row rows[] = {
		{"call_screening", FEATURE_SIDE_CALLED, 7, "{\"callers\": []}", 15, false},
		{"call_blocking", FEATURE_SIDE_CALLING, 7, "{}", 2, false},
		{"cpl", FEATURE_SIDE_CALLING | FEATURE_SIDE_CALLED, 9, "{\"script\": \"x\"}", 15, false},
	};
	assert_int_equal(feature_table_set(t, 42, rows, 3), 0);
	struct feature_row out[8];
	assert_int_equal(feature_table_get(t, 42, FEATURE_SIDE_CALLED, 7, out, 8), 1);
	assert_string_equal(out[0].kind, "call_screening");
	assert_int_equal(out[0].settings_len, 15);
	assert_memory_equal(out[0].settings, "{\"callers\": []}", 16); /* NUL-terminated */
	assert_int_equal(feature_table_get(t, 42, FEATURE_SIDE_CALLING, 7, out, 8), 1);
	assert_string_equal(out[0].kind, "call_blocking");
	assert_int_equal(feature_table_get(t, 42, FEATURE_SIDE_CALLED, 0, out, 8), 2);
	assert_string_equal(out[1].kind, "cpl");
	assert_int_equal(out[1].group_id, 9);
	assert_int_equal(feature_table_get(t, 42, FEATURE_SIDE_CALLED, 8, out, 8), 0);
	assert_int_equal(feature_table_get(t, 43, FEATURE_SIDE_CALLED, 0, out, 8), 0);
	assert_int_equal(feature_table_version(t, 43), 0);
	uint32_t v = feature_table_version(t, 42);
	assert_true(v > 0);
	/* replaced: a new version */
	assert_int_equal(feature_table_set(t, 42, rows, 1), 0);
	assert_true(feature_table_version(t, 42) != v);
	assert_int_equal(feature_table_get(t, 42, FEATURE_SIDE_CALLING, 0, out, 8), 0);
	/* forgotten */
	assert_int_equal(feature_table_set(t, 42, NULL, 0), 0);
	assert_int_equal(feature_table_version(t, 42), 0);
	assert_int_equal(feature_sides("both"), FEATURE_SIDE_CALLING | FEATURE_SIDE_CALLED);
	assert_int_equal(feature_sides("calling"), FEATURE_SIDE_CALLING);
	assert_int_equal(feature_sides("nonsense"), 0);
	feature_table_free(t);
}

/* The carrier's lock travels with a row (a bit of its sides byte: no
 * memory per subscriber), and changes nothing else of it. */
static void table_locked(void **state)
{
	struct feature_table *t = feature_table_new();
	struct feature_row rows[] = {
		{"call_blocking", FEATURE_SIDE_CALLING, 7, "{\"prefixes\": [\"1900\"]}", 23, true},
		{"cpl", FEATURE_SIDE_CALLING | FEATURE_SIDE_CALLED, 7, "{}", 2, false},
		{"call_screening", FEATURE_SIDE_CALLED, 7, "{}", 2, true},
	};
	struct feature_table_stats before, after;
	assert_int_equal(feature_table_set(t, 5, rows, 3), 0);
	feature_table_get_stats(t, &before);
	struct feature_row out[4];
	assert_int_equal(feature_table_get(t, 5, FEATURE_SIDE_CALLING, 0, out, 4), 2);
	assert_string_equal(out[0].kind, "call_blocking");
	assert_true(out[0].locked);
	assert_int_equal(out[0].sides, FEATURE_SIDE_CALLING);
	assert_int_equal(out[0].group_id, 7);
	assert_false(out[1].locked);
	assert_int_equal(out[1].sides, FEATURE_SIDE_CALLING | FEATURE_SIDE_CALLED);
	assert_int_equal(feature_table_get(t, 5, FEATURE_SIDE_CALLED, 0, out, 4), 2);
	assert_false(out[0].locked);
	assert_string_equal(out[1].kind, "call_screening");
	assert_true(out[1].locked);
	/* the same rows unlocked take the same memory */
	for (int i = 0; i < 3; i++)
		rows[i].locked = false;
	assert_int_equal(feature_table_set(t, 5, rows, 3), 0);
	feature_table_get_stats(t, &after);
	assert_int_equal(after.bytes, before.bytes);
	assert_int_equal(feature_table_get(t, 5, FEATURE_SIDE_CALLING, 0, out, 4), 2);
	assert_false(out[0].locked);
	feature_table_free(t);
}

static void table_many_and_full_load(void **state)
{
	struct feature_table *t = feature_table_new();
	struct feature_row r = {"forward_all", FEATURE_SIDE_CALLED, 3, "{\"target\": \"1002\"}", 18, false};
	/* growth and removal with linear probing: every id stays findable */
	for (int64_t id = 1; id <= 20000; id++)
		assert_int_equal(feature_table_set(t, id * 7919, &r, 1), 0);
	for (int64_t id = 1; id <= 20000; id += 2)
		assert_int_equal(feature_table_set(t, id * 7919, NULL, 0), 0);
	struct feature_row out[2];
	for (int64_t id = 1; id <= 20000; id++)
		assert_int_equal(feature_table_get(t, id * 7919, FEATURE_SIDE_CALLED, 0, out, 2), id % 2 == 0);
	struct feature_table_stats st;
	feature_table_get_stats(t, &st);
	assert_int_equal(st.subscribers, 10000);
	assert_int_equal(st.rows, 10000);
	/* well under 1 kB per subscriber for a small feature */
	assert_true(st.bytes / st.subscribers < 128);
	/* a full load that sees only some of them forgets the rest */
	feature_table_load_begin(t);
	for (int64_t id = 2; id <= 200; id += 2)
		feature_table_set(t, id * 7919, &r, 1);
	feature_table_load_end(t);
	feature_table_get_stats(t, &st);
	assert_int_equal(st.subscribers, 100);
	for (int64_t id = 2; id <= 20000; id += 2)
		assert_int_equal(feature_table_get(t, id * 7919, FEATURE_SIDE_CALLED, 0, out, 2), id <= 200);
	feature_table_free(t);
}

/* ---- the compiled-script cache ----------------------------------------- */

static struct feature_compiled *compiled(void)
{
	struct feature_compiled *e = calloc(1, sizeof(*e));
	char err[200];
	const char *xml = "<?xml version=\"1.0\"?><cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming>"
			  "<reject status=\"busy\"/></incoming></cpl>";
	e->script = cpl_compile(xml, strlen(xml), NULL, err, sizeof(err));
	assert_non_null(e->script);
	return e;
}

static void cache_lru(void **state)
{
	struct feature_cache *c = feature_cache_new(2);
	assert_null(feature_cache_get(c, 1, FEATURE_SIDE_CALLED, 5, 1));
	struct feature_compiled *a = compiled(), *b = compiled(), *d = compiled();
	feature_cache_put(c, a, 1, FEATURE_SIDE_CALLED, 5, 1);
	feature_compiled_release(c, a);
	feature_cache_put(c, b, 2, FEATURE_SIDE_CALLED, 5, 1);
	feature_compiled_release(c, b);
	/* a hit, with a reference the call holds */
	struct feature_compiled *held = feature_cache_get(c, 1, FEATURE_SIDE_CALLED, 5, 1);
	assert_ptr_equal(held, a);
	/* other side, group or version: no */
	assert_null(feature_cache_get(c, 1, FEATURE_SIDE_CALLING, 5, 1));
	assert_null(feature_cache_get(c, 2, FEATURE_SIDE_CALLED, 6, 1));
	/* a third entry evicts the least recently used (2) */
	feature_cache_put(c, d, 3, FEATURE_SIDE_CALLED, 5, 1);
	feature_compiled_release(c, d);
	assert_null(feature_cache_get(c, 2, FEATURE_SIDE_CALLED, 5, 1));
	assert_non_null(feature_cache_get(c, 3, FEATURE_SIDE_CALLED, 5, 1));
	feature_compiled_release(c, d);
	/* invalidated while a call holds it: the call's copy stays usable */
	feature_cache_invalidate(c, 1);
	assert_null(feature_cache_get(c, 1, FEATURE_SIDE_CALLED, 5, 1));
	assert_non_null(held->script);
	assert_false(held->cached);
	feature_compiled_release(c, held); /* freed now (ASan: no leak, no double free) */
	/* a stale version is dropped */
	assert_null(feature_cache_get(c, 3, FEATURE_SIDE_CALLED, 5, 2));
	struct feature_cache_stats st;
	feature_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.hits, 2);
	feature_cache_free(c);
}

static void intern_shares(void **state)
{
	struct script_intern *si = script_intern_new();
	const char *a = "<?xml version=\"1.0\"?><cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming>"
			"<reject status=\"busy\"/></incoming></cpl>";
	char b[256], err[200];
	snprintf(b, sizeof(b), "%s", a);
	struct cpl_script *s1, *s2, *s3;
	struct interned *e1 = script_intern_get(si, a, strlen(a), NULL, 0, &s1, err, sizeof(err));
	struct interned *e2 = script_intern_get(si, b, strlen(b), NULL, 0, &s2, err, sizeof(err));
	assert_non_null(e1);
	assert_ptr_equal(e1, e2); /* the same text: compiled once */
	assert_ptr_equal(s1, s2);
	/* other limits (generation): compiled again */
	struct interned *e3 = script_intern_get(si, a, strlen(a), NULL, 1, &s3, err, sizeof(err));
	assert_ptr_not_equal(e3, e1);
	/* a bad script: the error, nothing kept */
	struct cpl_script *bad = NULL;
	assert_null(script_intern_get(si, "<cpl", 4, NULL, 0, &bad, err, sizeof(err)));
	assert_non_null(strstr(err, "XML"));
	struct script_intern_stats st;
	script_intern_get_stats(si, &st);
	assert_int_equal(st.scripts, 2);
	assert_int_equal(st.shared, 1);
	assert_int_equal(st.compiled, 2);
	script_intern_put(e1);
	script_intern_put(e3);
	script_intern_get_stats(si, &st);
	assert_int_equal(st.scripts, 1);
	/* the table may go before the last reference (ASan: no use after free) */
	script_intern_free(si);
	assert_non_null(s2);
	script_intern_put(e2);
}

/* ---- targets -------------------------------------------------------------- */

static const uint8_t key[FEATURE_HOP_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static struct sip_uri uri(const char *text)
{
	struct sip_uri u;
	assert_int_equal(sip_uri_parse(&u, text, strlen(text), NULL), 0);
	return u;
}

static void target_continue(void **state)
{
	char out[256];
	struct sip_uri u = uri("sip:1001@vocal.test:5080;maddr=10.0.0.7;transport=udp;vocal-hop=t.0.3.0.abcd;x=1");
	assert_true(feature_target_continue(&u, out, sizeof(out)) > 0);
	/* the port goes with the maddr: it was the feature server's */
	assert_string_equal(out, "sip:1001@vocal.test;vocal-hop=t.0.3.0.abcd;x=1");
	u = uri("tel:+15551234");
	assert_int_equal(feature_target_continue(&u, out, sizeof(out)), -1);
	u = uri("sip:1001@vocal.test;vocal-hop=t.0.3.0.abcd");
	assert_int_equal(feature_target_continue(&u, out, 10), -1);
}

static void target_self(void **state)
{
	struct sip_uri r = uri("sip:1001@Vocal.Test;vocal-hop=t.0.3.0.abcd");
	assert_true(feature_target_is_self("sip:1001@vocal.test", &r));
	assert_true(feature_target_is_self("sip:1001@vocal.test;vocal-hop=t.0.3.0.abcd", &r));
	assert_true(feature_target_is_self("1001", &r));
	assert_true(feature_target_is_self("1001@VOCAL.test", &r));
	assert_false(feature_target_is_self("sip:1002@vocal.test", &r));
	assert_false(feature_target_is_self("sip:1001@other.test", &r));
	assert_false(feature_target_is_self("1002", &r));
	assert_false(feature_target_is_self("", &r));
	assert_false(feature_target_is_self("http://x", &r));
}

/* Checks that out carries a vocal-hop that parses, for call_id and the
 * URI's own user and host only, as retargeted with forwards. */
static void assert_signed(const char *out, sip_str call_id, uint32_t forwards)
{
	struct sip_uri u = uri(out);
	sip_str v;
	assert_true(sip_uri_param(&u, FEATURE_HOP_PARAM, &v));
	struct feature_hop h;
	assert_int_equal(feature_hop_parse(v, key, call_id, u.user, u.host, &h), 0);
	assert_int_equal(h.phase, FEATURE_HOP_RETARGETED);
	assert_int_equal(h.forwards, forwards);
	assert_int_equal(h.group_id, 0);
	assert_int_equal(feature_hop_parse(v, key, call_id, SIP_STR_LIT("someone"), u.host, &h), -1);
	assert_int_equal(feature_hop_parse(v, key, SIP_STR_LIT("other-call"), u.user, u.host, &h), -1);
}

static void target_forward(void **state)
{
	char out[512];
	sip_str cid = SIP_STR_LIT("abc@host"), dom = SIP_STR_LIT("vocal.test");
	assert_true(feature_target_forward("1002", dom, key, cid, 1, out, sizeof(out)) > 0);
	assert_int_equal(strncmp(out, "sip:1002@vocal.test;vocal-hop=r.0.0.1.", 38), 0);
	assert_signed(out, cid, 1);
	assert_true(feature_target_forward("sip:vm@10.0.0.9:5090;vocal-hop=c.0.1.0.dead;maddr=1.2.3.4", dom, key,
					   cid, 2, out, sizeof(out)) > 0);
	assert_int_equal(strncmp(out, "sip:vm@10.0.0.9:5090;vocal-hop=r.0.0.2.", 39), 0);
	assert_null(strstr(out, "maddr"));
	assert_null(strstr(out, "dead"));
	assert_signed(out, cid, 2);
	assert_true(feature_target_forward("tel:+15551234;phone-context=x", dom, key, cid, 1, out, sizeof(out)) > 0);
	assert_int_equal(strncmp(out, "sip:+15551234@vocal.test;user=phone;vocal-hop=", 46), 0);
	assert_signed(out, cid, 1);
	assert_true(feature_target_forward("alice@example.org", dom, key, cid, 3, out, sizeof(out)) > 0);
	assert_int_equal(strncmp(out, "sip:alice@example.org;vocal-hop=r.0.0.3.", 40), 0);
	/* unusable */
	assert_int_equal(feature_target_forward("", dom, key, cid, 1, out, sizeof(out)), -1);
	assert_int_equal(feature_target_forward("1002", dom, key, cid, 0, out, sizeof(out)), -1);
	assert_int_equal(feature_target_forward("http://example.org/", dom, key, cid, 1, out, sizeof(out)), -1);
	assert_int_equal(feature_target_forward("sip:example.org", dom, key, cid, 1, out, sizeof(out)), -1);
	assert_int_equal(feature_target_forward("1002", dom, key, cid, 1, out, 20), -1);
}

static void outcome_mapping(void **state)
{
	assert_int_equal(feature_outcome(200, false), CPL_PROXY_ANSWERED);
	assert_int_equal(feature_outcome(486, false), CPL_PROXY_BUSY);
	assert_int_equal(feature_outcome(600, false), CPL_PROXY_BUSY);
	assert_int_equal(feature_outcome(408, false), CPL_PROXY_NOANSWER);
	assert_int_equal(feature_outcome(480, false), CPL_PROXY_NOANSWER);
	assert_int_equal(feature_outcome(487, true), CPL_PROXY_NOANSWER); /* our timeout */
	assert_int_equal(feature_outcome(302, false), CPL_PROXY_REDIRECTION);
	assert_int_equal(feature_outcome(404, false), CPL_PROXY_FAILURE);
	assert_int_equal(feature_outcome(503, false), CPL_PROXY_FAILURE);
	assert_int_equal(feature_outcome(603, false), CPL_PROXY_FAILURE);
}

/* ---- privacy ------------------------------------------------------------------ */

static char *serialize(struct sip_msg *m)
{
	size_t need = sip_msg_serialize(m, NULL, 0);
	char *out = malloc(need + 1);
	sip_msg_serialize(m, out, need);
	out[need] = 0;
	return out;
}

#define INVITE_HEAD                                                                                \
	"INVITE sip:1001@vocal.test SIP/2.0\n"                                                     \
	"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\n"                                              \
	"From: \"Alice Smith\" <sip:1000@vocal.test>;tag=a1b2\n"                                   \
	"To: <sip:1001@vocal.test>\n"                                                              \
	"Call-ID: c1@x\n"                                                                          \
	"CSeq: 1 INVITE\n"                                                                         \
	"Max-Forwards: 70\n"

static void anonymize(void **state)
{
	size_t len;
	char *text = crlf(INVITE_HEAD "Content-Length: 0\n\n", &len);
	struct sip_msg m;
	assert_int_equal(sip_msg_parse(&m, text, len, NULL, NULL), 0);
	assert_false(feature_caller_private(&m));
	assert_int_equal(feature_anonymize(&m), 0);
	char *out = serialize(&m);
	assert_non_null(strstr(out, "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=a1b2\r\n"));
	assert_non_null(strstr(out, "Privacy: id\r\n"));
	assert_null(strstr(out, "Alice"));
	assert_null(strstr(out, "1000@"));
	struct sip_msg m2;
	assert_int_equal(sip_msg_parse(&m2, out, strlen(out), NULL, NULL), 0);
	assert_int_equal(sip_msg_check(&m2, NULL), 0);
	assert_true(feature_caller_private(&m2));
	sip_msg_free(&m2);
	free(out);
	sip_msg_free(&m);
	free(text);

	/* an existing Privacy keeps what it asked besides, and gains id */
	text = crlf(INVITE_HEAD "Privacy: header; user\nContent-Length: 0\n\n", &len);
	assert_int_equal(sip_msg_parse(&m, text, len, NULL, NULL), 0);
	assert_true(feature_caller_private(&m));
	assert_int_equal(feature_anonymize(&m), 0);
	out = serialize(&m);
	assert_non_null(strstr(out, "Privacy: id;header;user\r\n"));
	free(out);
	sip_msg_free(&m);
	free(text);

	text = crlf(INVITE_HEAD "Privacy: none\nContent-Length: 0\n\n", &len);
	assert_int_equal(sip_msg_parse(&m, text, len, NULL, NULL), 0);
	assert_false(feature_caller_private(&m));
	sip_msg_free(&m);
	free(text);
}

static void caller_private(void **state)
{
	static const char *const froms[] = {
		"From: <sip:anonymous@vocal.test>;tag=1\n",
		"From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=1\n",
		"From: <sip:x@Anonymous.Invalid>;tag=1\n",
	};
	for (size_t i = 0; i < 3; i++) {
		char buf[512];
		snprintf(buf, sizeof(buf),
			 "INVITE sip:1001@vocal.test SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n%s"
			 "To: <sip:1001@vocal.test>\nCall-ID: c\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
			 froms[i]);
		size_t len;
		char *text = crlf(buf, &len);
		struct sip_msg m;
		assert_int_equal(sip_msg_parse(&m, text, len, NULL, NULL), 0);
		assert_true(feature_caller_private(&m));
		sip_msg_free(&m);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_rows),
		cmocka_unit_test(table_locked),
		cmocka_unit_test(table_many_and_full_load),
		cmocka_unit_test(cache_lru),
		cmocka_unit_test(intern_shares),
		cmocka_unit_test(target_continue),
		cmocka_unit_test(target_self),
		cmocka_unit_test(target_forward),
		cmocka_unit_test(outcome_mapping),
		cmocka_unit_test(anonymize),
		cmocka_unit_test(caller_private),
	};
	return cmocka_run_group_tests_name("featured", tests, NULL, NULL);
}
