/*
 * The location service: ordering, the AOR table, expiry on a fake clock,
 * the changed hook, loads and replacements from the database (no hook),
 * and the memory a binding costs.
 */
#include "unit/testutil.h"

#include <malloc.h>

#include "ev.h"
#include "redirect/location.h"

static int64_t now_s;
static uint64_t now_ms;

static int64_t fake_unix(void *arg)
{
	(void)arg;
	return now_s;
}

static uint64_t fake_mono(void *arg)
{
	(void)arg;
	return now_ms;
}

/* Moves both clocks: the wall clock the bindings expire on and the loop's. */
static void advance(int64_t seconds)
{
	now_s += seconds;
	now_ms += (uint64_t)seconds * 1000;
}

struct call {
	int64_t id;
	enum location_op op;
	char contact[128];
};

struct env {
	struct ev_loop *loop;
	struct location *loc;
	struct call calls[64];
	int ncalls;
};

static void on_changed(void *ctx, int64_t id, const struct binding *b, enum location_op op)
{
	struct env *e = ctx;
	if (e->ncalls < 64) {
		struct call *c = &e->calls[e->ncalls];
		c->id = id;
		c->op = op;
		snprintf(c->contact, sizeof(c->contact), "%s", binding_cstr(b, BINDING_CONTACT));
	}
	e->ncalls++;
}

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	now_s = 1800000000;
	now_ms = 5000000;
	e->loop = ev_loop_new();
	ev_set_clock(e->loop, fake_mono, NULL);
	struct location_opts o = {
		.loop = e->loop, .now = fake_unix,
		.hooks = {.ctx = e, .changed = on_changed},
	};
	e->loc = location_new(&o);
	assert_non_null(e->loc);
	return e;
}

static void env_free(struct env *e)
{
	location_free(e->loc);
	ev_loop_free(e->loop);
	free(e);
}

static struct binding_info info(const char *contact, uint16_t q, uint32_t expires)
{
	return (struct binding_info){
		.contact = sip_str_make(contact, strlen(contact)),
		.call_id = SIP_STR_LIT("call-1@example.com"),
		.path = SIP_STR_LIT("<sip:edge.example.com;lr>"),
		.received = SIP_STR_LIT("udp:192.0.2.1:5060"),
		.user_agent = SIP_STR_LIT("Phone/1.0"),
		.cseq = 1, .q = q, .expires = expires, .expires_at = now_s + expires,
	};
}

/* Adds (or replaces old with) a binding through the registrar's path. */
static void put(struct env *e, int64_t id, const struct binding *old, struct binding_info bi)
{
	assert_int_equal(location_reserve(e->loc, 1), 0);
	struct binding *b = location_binding_new(&bi);
	assert_non_null(b);
	location_put(e->loc, id, old, b);
}

static const struct binding *nth(struct env *e, int64_t id, int n)
{
	const struct binding *b = location_lookup(e->loc, id);
	while (b && n--)
		b = b->next;
	return b;
}

static void test_binding_strings(void **state)
{
	(void)state;
	struct binding_info bi = info("sip:alice@192.0.2.1:5060", 500, 3600);
	bi.instance = SIP_STR_LIT("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
	bi.reg_id = 2;
	bi.cseq = 77;
	struct binding *b = location_binding_new(&bi);
	assert_non_null(b);
	assert_string_equal(binding_cstr(b, BINDING_CONTACT), "sip:alice@192.0.2.1:5060");
	assert_string_equal(binding_cstr(b, BINDING_CALL_ID), "call-1@example.com");
	assert_string_equal(binding_cstr(b, BINDING_PATH), "<sip:edge.example.com;lr>");
	assert_str(binding_str(b, BINDING_INSTANCE),
		   "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
	assert_string_equal(binding_cstr(b, BINDING_RECEIVED), "udp:192.0.2.1:5060");
	assert_string_equal(binding_cstr(b, BINDING_USER_AGENT), "Phone/1.0");
	assert_int_equal(b->q, 500);
	assert_int_equal(b->reg_id, 2);
	assert_int_equal(b->cseq, 77);
	location_binding_free(b);

	/* over-long fields, q and CSeq out of range are refused */
	char big[LOCATION_MAX_CONTACT + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "sip:", 4);
	assert_null(location_binding_new(&(struct binding_info){.contact = sip_str_make(big, strlen(big))}));
	bi = info("sip:a@b", 1001, 60);
	assert_null(location_binding_new(&bi));
	bi = info("sip:a@b", 1000, 60);
	bi.cseq = 0x80000000u;
	assert_null(location_binding_new(&bi));
	bi = info("", 1000, 60);
	assert_null(location_binding_new(&bi));
}

static void test_order_q_then_newest(void **state)
{
	(void)state;
	struct env *e = env_new();
	put(e, 42, NULL, info("sip:a@h", 500, 3600));
	put(e, 42, NULL, info("sip:b@h", 1000, 3600));
	put(e, 42, NULL, info("sip:c@h", 500, 3600));
	put(e, 42, NULL, info("sip:d@h", 0, 3600));
	/* q descending, the most recently updated first among equals */
	assert_string_equal(binding_cstr(nth(e, 42, 0), BINDING_CONTACT), "sip:b@h");
	assert_string_equal(binding_cstr(nth(e, 42, 1), BINDING_CONTACT), "sip:c@h");
	assert_string_equal(binding_cstr(nth(e, 42, 2), BINDING_CONTACT), "sip:a@h");
	assert_string_equal(binding_cstr(nth(e, 42, 3), BINDING_CONTACT), "sip:d@h");
	assert_int_equal(location_count(e->loc, 42), 4);

	/* refreshing a moves it ahead of c */
	put(e, 42, nth(e, 42, 2), info("sip:a@h", 500, 3600));
	assert_string_equal(binding_cstr(nth(e, 42, 1), BINDING_CONTACT), "sip:a@h");
	assert_string_equal(binding_cstr(nth(e, 42, 2), BINDING_CONTACT), "sip:c@h");
	assert_int_equal(location_count(e->loc, 42), 4);
	assert_int_equal(e->ncalls, 5);
	assert_int_equal(e->calls[4].op, LOCATION_UPDATED);
	assert_int_equal(e->calls[0].op, LOCATION_ADDED);
	assert_int_equal(e->calls[0].id, 42);
	env_free(e);
}

static void test_remove_and_hooks(void **state)
{
	(void)state;
	struct env *e = env_new();
	put(e, 7, NULL, info("sip:a@h", 1000, 3600));
	put(e, 7, NULL, info("sip:b@h", 1000, 3600));
	put(e, 8, NULL, info("sip:c@h", 1000, 3600));
	location_remove(e->loc, 7, nth(e, 7, 0)); /* b, the newest */
	assert_int_equal(e->calls[3].op, LOCATION_REMOVED);
	assert_string_equal(e->calls[3].contact, "sip:b@h");
	assert_int_equal(location_count(e->loc, 7), 1);
	location_remove_all(e->loc, 7);
	assert_null(location_lookup(e->loc, 7));
	assert_int_equal(e->calls[4].op, LOCATION_REMOVED);
	assert_int_equal(location_count(e->loc, 8), 1);
	struct location_stats st;
	location_get_stats(e->loc, &st);
	assert_int_equal(st.aors, 1);
	assert_int_equal(st.bindings, 1);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.removed, 2);
	env_free(e);
}

static void test_expiry_by_timer(void **state)
{
	(void)state;
	struct env *e = env_new();
	put(e, 1, NULL, info("sip:short@h", 1000, 60));
	put(e, 1, NULL, info("sip:long@h", 1000, 600));
	put(e, 2, NULL, info("sip:mid@h", 1000, 300));
	assert_int_equal(ev_timer_count(e->loop), 1); /* one timer, not one per binding */

	advance(59);
	ev_run_timers(e->loop);
	assert_int_equal(e->ncalls, 3);
	advance(1);
	assert_true(ev_run_timers(e->loop) >= 1);
	assert_int_equal(e->ncalls, 4);
	assert_int_equal(e->calls[3].op, LOCATION_EXPIRED);
	assert_string_equal(e->calls[3].contact, "sip:short@h");
	assert_int_equal(location_count(e->loc, 1), 1);

	/* a refresh pushes the expiry back */
	put(e, 2, location_lookup(e->loc, 2), info("sip:mid@h", 1000, 3600));
	for (int i = 0; i < 12; i++) {
		advance(60);
		ev_run_timers(e->loop);
	}
	/* long went at 600 s, mid lives on */
	assert_null(location_lookup(e->loc, 1));
	assert_non_null(location_lookup(e->loc, 2));
	assert_int_equal(e->calls[e->ncalls - 1].op, LOCATION_EXPIRED);
	assert_string_equal(e->calls[e->ncalls - 1].contact, "sip:long@h");

	advance(3600);
	for (int i = 0; i < 3; i++)
		ev_run_timers(e->loop);
	assert_null(location_lookup(e->loc, 2));
	assert_int_equal(ev_timer_count(e->loop), 0);
	struct location_stats st;
	location_get_stats(e->loc, &st);
	assert_int_equal(st.expired, 3);
	assert_int_equal(st.bindings, 0);
	assert_int_equal(st.aors, 0);
	env_free(e);
}

static void test_expire_without_loop(void **state)
{
	(void)state;
	now_s = 1000;
	struct location_opts o = {.now = fake_unix};
	struct location *loc = location_new(&o);
	struct binding_info bi = info("sip:a@h", 1000, 10);
	assert_int_equal(location_reserve(loc, 1), 0);
	location_put(loc, 5, NULL, location_binding_new(&bi));
	assert_int_equal(location_expire(loc), 0);
	now_s += 10;
	assert_int_equal(location_expire(loc), 1);
	assert_null(location_lookup(loc, 5));
	location_free(loc);
}

static void test_replace_from_database(void **state)
{
	(void)state;
	struct env *e = env_new();
	put(e, 9, NULL, info("sip:old@h", 1000, 3600));
	int calls = e->ncalls;
	struct binding_info v[3] = {
		info("sip:x@h", 1000, 3600), info("sip:y@h", 1000, 600),
		info("sip:z@h", 200, 100),
	};
	v[2].expires_at = now_s - 1; /* already expired: left out */
	assert_int_equal(location_replace(e->loc, 9, v, 3), 0);
	assert_int_equal(e->ncalls, calls); /* no hook: must not be written back */
	assert_int_equal(location_count(e->loc, 9), 2);
	/* equal q keeps the database's order */
	assert_string_equal(binding_cstr(nth(e, 9, 0), BINDING_CONTACT), "sip:x@h");
	assert_string_equal(binding_cstr(nth(e, 9, 1), BINDING_CONTACT), "sip:y@h");

	/* their expiry still runs, and does call the hook */
	advance(600);
	ev_run_timers(e->loop);
	assert_int_equal(e->ncalls, calls + 1);
	assert_int_equal(e->calls[calls].op, LOCATION_EXPIRED);

	assert_int_equal(location_replace(e->loc, 9, NULL, 0), 0);
	assert_null(location_lookup(e->loc, 9));
	assert_int_equal(e->ncalls, calls + 1);

	/* all or nothing: an over-long field leaves the set as it was */
	put(e, 9, NULL, info("sip:keep@h", 1000, 3600));
	struct binding_info bad[2] = {info("sip:x@h", 1000, 3600), info("sip:y@h", 1000, 3600)};
	bad[1].call_id = sip_str_make((const char *)bad, LOCATION_MAX_CALL_ID + 1);
	assert_int_equal(location_replace(e->loc, 9, bad, 2), -1);
	assert_string_equal(binding_cstr(nth(e, 9, 0), BINDING_CONTACT), "sip:keep@h");
	assert_int_equal(location_count(e->loc, 9), 1);
	env_free(e);
}

static void test_insert_loaded(void **state)
{
	(void)state;
	struct env *e = env_new();
	assert_int_equal(location_insert_loaded(e->loc, 3, &(struct binding_info){0}), 0); /* expired */
	struct binding_info a = info("sip:a@h", 1000, 3600), b = info("sip:b@h", 1000, 3600);
	assert_int_equal(location_insert_loaded(e->loc, 3, &a), 0);
	assert_int_equal(location_insert_loaded(e->loc, 3, &b), 0);
	/* loaded in the database's order: equal q keeps it */
	assert_string_equal(binding_cstr(nth(e, 3, 0), BINDING_CONTACT), "sip:a@h");
	/* the same key again replaces */
	a.cseq = 9;
	assert_int_equal(location_insert_loaded(e->loc, 3, &a), 0);
	assert_int_equal(location_count(e->loc, 3), 2);
	/* flows are keyed by instance and reg-id */
	struct binding_info f1 = info("sip:f1@h", 1000, 3600), f2 = info("sip:f2@h", 1000, 3600);
	f1.instance = f2.instance = SIP_STR_LIT("<urn:uuid:1>");
	f1.reg_id = f2.reg_id = 1;
	assert_int_equal(location_insert_loaded(e->loc, 3, &f1), 0);
	assert_int_equal(location_insert_loaded(e->loc, 3, &f2), 0);
	assert_int_equal(location_count(e->loc, 3), 3);
	assert_int_equal(e->ncalls, 0);
	env_free(e);
}

struct walk {
	int aors;
	size_t bindings;
};

static void walk_fn(void *ctx, int64_t id, const struct binding *first)
{
	struct walk *w = ctx;
	(void)id;
	w->aors++;
	for (; first; first = first->next)
		w->bindings++;
}

static void test_table_growth_and_foreach(void **state)
{
	(void)state;
	struct env *e = env_new();
	char c[64];
	for (int64_t id = 1; id <= 5000; id++) {
		snprintf(c, sizeof(c), "sip:u%lld@h", (long long)id);
		put(e, id * 7919, NULL, info(c, 1000, 60 + (uint32_t)(id % 500)));
	}
	for (int64_t id = 1; id <= 5000; id += 2)
		location_remove_all(e->loc, id * 7919);
	for (int64_t id = 2; id <= 5000; id += 2) {
		snprintf(c, sizeof(c), "sip:u%lld@h", (long long)id);
		const struct binding *b = location_lookup(e->loc, id * 7919);
		assert_non_null(b);
		assert_string_equal(binding_cstr(b, BINDING_CONTACT), c);
	}
	struct walk w = {0};
	location_foreach(e->loc, walk_fn, &w);
	assert_int_equal(w.aors, 2500);
	assert_int_equal(w.bindings, 2500);
	/* the heap stays consistent through all of it: everything expires */
	e->ncalls = 0;
	advance(600);
	for (int i = 0; i < 3; i++)
		ev_run_timers(e->loop);
	assert_int_equal(e->ncalls, 2500);
	struct location_stats st;
	location_get_stats(e->loc, &st);
	assert_int_equal(st.bindings, 0);
	assert_int_equal(st.aors, 0);
	env_free(e);
}

/* 100,000 AORs with one typical binding each: what the heap grows by. */
static void test_memory_per_binding(void **state)
{
	(void)state;
	enum { N = 100000 };
	now_s = 1800000000;
	struct location_opts o = {.now = fake_unix};
	struct mallinfo2 before = mallinfo2();
	struct location *loc = location_new(&o);
	char contact[128], call_id[128];
	for (int i = 0; i < N; i++) {
		/* a 60-byte contact, a 40-byte Call-ID, one Path, a 30-byte UA */
		snprintf(contact, sizeof(contact), "sip:user%06d@203.0.113.77:5060;transport=udp;ob;xyzw=%05d",
			 i, i % 100000);
		snprintf(call_id, sizeof(call_id), "a84b4c76e6671%08d-1234567@%010d", i, i);
		struct binding_info bi = {
			.contact = sip_str_make(contact, strlen(contact)),
			.call_id = sip_str_make(call_id, strlen(call_id)),
			.path = SIP_STR_LIT("<sip:marshal1.example.com:5060;lr;ob>"),
			.received = SIP_STR_LIT("udp:203.0.113.77:5060"),
			.user_agent = SIP_STR_LIT("Yealink SIP-T46S 66.86.0.15 x"),
			.cseq = 1, .q = 1000, .expires = 3600, .expires_at = now_s + 3600,
		};
		assert_int_equal(strlen(contact), 60);
		assert_int_equal(strlen(call_id), 40);
		assert_int_equal(location_reserve(loc, 1), 0);
		location_put(loc, 1000 + i, NULL, location_binding_new(&bi));
	}
	struct mallinfo2 after = mallinfo2();
	struct location_stats st;
	location_get_stats(loc, &st);
	size_t heap = after.uordblks + after.hblkhd - before.uordblks - before.hblkhd;
	print_message("location: %d bindings: %zu bytes per binding by mallinfo2 (%zu by "
		      "stats, %zu in the binding itself)\n",
		      N, heap / N, st.bytes / N, st.binding_bytes / N);
	assert_int_equal(st.bindings, N);
	assert_true(heap / N < 400);
	location_free(loc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_strings),
		cmocka_unit_test(test_order_q_then_newest),
		cmocka_unit_test(test_remove_and_hooks),
		cmocka_unit_test(test_expiry_by_timer),
		cmocka_unit_test(test_expire_without_loop),
		cmocka_unit_test(test_replace_from_database),
		cmocka_unit_test(test_insert_loaded),
		cmocka_unit_test(test_table_growth_and_foreach),
		cmocka_unit_test(test_memory_per_binding),
	};
	return cmocka_run_group_tests_name("location", tests, NULL, NULL);
}
