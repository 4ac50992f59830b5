/*
 * The pure parts of the provisioning cache (common/store_internal.h):
 * notification payloads, user-part normalisation, IP networks,
 * dial-plan templates and feature hops; and a store loaded from rows
 * without a database (store_load_results): hops, on_failure, memory per
 * subscriber; change notifications coalesced into batched reloads (queries
 * run by a fake, store_set_exec). The database side is in tests/integration/store_test.sh.
 */
#include "unit/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "store_internal.h"
#include "unit/store_rows.h"

/* ---- notification payloads ---------------------------------------------- */

static void test_change_trigger_forms(void **state)
{
	struct store_change c;
	(void)state;

	assert_int_equal(0, store_parse_change(
				    "{\"table\" : \"subscribers\", \"op\" : \"UPDATE\", \"id\" : 42, "
				    "\"domain_id\" : 1}",
				    &c));
	assert_string_equal("subscribers", c.table);
	assert_string_equal("UPDATE", c.op);
	assert_int_equal(42, c.id);
	assert_string_equal("domain_id", c.owner);
	assert_int_equal(1, c.owner_id);

	assert_int_equal(0, store_parse_change("{\"table\" : \"domains\", \"op\" : \"DELETE\", \"id\" : 7}", &c));
	assert_string_equal("domains", c.table);
	assert_string_equal("DELETE", c.op);
	assert_int_equal(7, c.id);
	assert_string_equal("", c.owner);
	assert_int_equal(0, c.owner_id);

	/* Compact, reordered, with white space of every kind and a null owner. */
	assert_int_equal(0, store_parse_change(" {\"id\":9223372036854775807,\"op\":\"INSERT\",\n\t"
					       "\"subscriber_id\":null,\"table\":\"aliases\"} ",
					       &c));
	assert_int_equal(INT64_MAX, c.id);
	assert_string_equal("subscriber_id", c.owner);
	assert_int_equal(0, c.owner_id);
	assert_string_equal("aliases", c.table);

	/* Escapes, and members we do not know (skipped). */
	assert_int_equal(0, store_parse_change("{\"table\" : \"loc\\u0061tion\\/x\", \"op\" : \"INSERT\", "
					       "\"id\" : -3, \"extra\" : \"a\\\"b\", \"flag\" : true, "
					       "\"n\" : 0}",
					       &c));
	assert_string_equal("location/x", c.table);
	assert_int_equal(-3, c.id);
}

static void test_change_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"{}",
		"[]",
		"{\"table\" : \"x\", \"op\" : \"INSERT\"}",			/* no id */
		"{\"table\" : \"x\", \"id\" : 1}",					/* no op */
		"{\"op\" : \"INSERT\", \"id\" : 1}",					/* no table */
		"{\"table\" : \"\", \"op\" : \"INSERT\", \"id\" : 1}",		/* empty table */
		"{\"table\" : \"x\", \"op\" : \"TRUNCATE\", \"id\" : 1}",		/* unknown op */
		"{\"table\" : \"x\", \"op\" : \"insert\", \"id\" : 1}",		/* ops are upper case */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : \"1\"}",		/* id a string */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1.5}",		/* not an integer */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1e3}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 01}",		/* leading zero */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 9223372036854775808}", /* overflow */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 99999999999999999999999}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : -}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1",		/* unterminated */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1} x",		/* trailing bytes */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1,}",		/* trailing comma */
		"{\"table\" : \"x\" \"op\" : \"INSERT\", \"id\" : 1}",		/* no comma */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"o\" : {}}",	/* nested */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"o\" : [1]}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"a_id\" : 2, \"b_id\" : 3}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"a_id\" : \"2\"}",
		"{\"table\" : \"x\\q\", \"op\" : \"INSERT\", \"id\" : 1}",		/* bad escape */
		"{\"table\" : \"x\\u00e9\", \"op\" : \"INSERT\", \"id\" : 1}",	/* non-ASCII \u */
		"{\"table\" : \"x\\u0000\", \"op\" : \"INSERT\", \"id\" : 1}",
		"{\"table\" : \"x\\u12\", \"op\" : \"INSERT\", \"id\" : 1}",
		"{\"table\" : \"x\ty\", \"op\" : \"INSERT\", \"id\" : 1}",		/* raw control character */
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"t\" : tru}",
		("{\"table\" : \"an overly long table name that is longer than sixty-three bytes, "
		 "which PostgreSQL never sends\", \"op\" : \"INSERT\", \"id\" : 1}"),
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"x\" : \"unterminated}",
		"{\"table\" : \"x\", \"op\" : \"INSERT\", \"id\" : 1, \"x\" : \"\\",
	};
	struct store_change c;
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (store_parse_change(bad[i], &c) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
	assert_int_equal(-1, store_parse_change(NULL, &c));
}

/* Every prefix of a valid payload is refused, and nothing reads past the
 * end (ASan, with exact-size copies). */
static void test_change_truncated(void **state)
{
	const char *full = "{\"table\" : \"location_bindings\", \"op\" : \"INSERT\", \"id\" : 7, "
			   "\"subscriber_id\" : 42}";
	struct store_change c;
	(void)state;

	for (size_t n = 0; n < strlen(full); n++) {
		char *p = malloc(n + 1);
		memcpy(p, full, n);
		p[n] = '\0';
		assert_int_equal(-1, store_parse_change(p, &c));
		free(p);
	}
	assert_int_equal(0, store_parse_change(full, &c));
	assert_int_equal(42, c.owner_id);
}

/* ---- user parts ------------------------------------------------------------- */

static const char *norm(const char *user)
{
	static char out[64];
	if (store_user_normalize(sip_str_make(user, strlen(user)), out, sizeof out) < 0)
		return "(error)";
	return out;
}

static void test_user_normalize(void **state)
{
	(void)state;
	assert_string_equal("alice", norm("alice"));
	assert_string_equal("Alice", norm("Alice"));		/* case is kept */
	assert_string_equal("dave", norm("d%61ve"));		/* unreserved: decoded */
	assert_string_equal("a-_.!~*'()", norm("a%2d%5F%2E%21%7e%2A%27%28%29"));
	assert_string_equal("%2Bcarol", norm("%2bcarol"));	/* reserved: kept, hex upper */
	assert_string_equal("%40%3A", norm("%40%3a"));
	assert_string_equal("x%", norm("x%"));			/* not an escape: as is */
	assert_string_equal("x%4", norm("x%4"));
	assert_string_equal("%zz", norm("%zz"));
	assert_string_equal("", norm(""));

	char small[4];
	assert_int_equal(3, store_user_normalize(SIP_STR_LIT("%61bc"), small, sizeof small));
	assert_string_equal("abc", small);
	assert_int_equal(-1, store_user_normalize(SIP_STR_LIT("abcd"), small, sizeof small));
	assert_int_equal(-1, store_user_normalize(SIP_STR_LIT("a%2B"), small, sizeof small));
	assert_int_equal(-1, store_user_normalize(sip_str_make("a\0b", 3), small, sizeof small));
}

/* ---- dial-plan templates ------------------------------------------------------ */

/* Matches pattern against subject (whole) and expands tmpl. */
static const char *expand(const char *pattern, const char *subject, const char *tmpl, size_t cap)
{
	static char out[256];
	regex_t re;
	regmatch_t m[10];
	assert_int_equal(0, regcomp(&re, pattern, REG_EXTENDED));
	assert_int_equal(0, regexec(&re, subject, 10, m, 0));
	long n = store_template_expand(tmpl, subject, m, 10, out, cap);
	regfree(&re);
	if (n < 0)
		return "(too small)";
	assert_int_equal(strlen(out), (size_t)n);
	return out;
}

static void test_template(void **state)
{
	(void)state;
	assert_string_equal("sip:0301234@gw;user=phone",
			    expand("^\\+?49([0-9]+)$", "+49301234", "sip:0\\1@gw;user=phone", 256));
	assert_string_equal("sip:+4930@gw;cc=49",
			    expand("^00([0-9]{2})([0-9]+)$", "004930", "sip:+\\1\\2@gw;cc=\\1", 256));
	assert_string_equal("sip:123@pbx", expand("^[0-9]{3}$", "123", "sip:\\0@pbx", 256));
	/* A group that took no part, a group beyond the pattern's: empty. */
	assert_string_equal("sip:a@x", expand("^(a)(b)?$", "a", "sip:\\1\\2\\9@x", 256));
	/* "\\" is one backslash; a backslash before anything else stays. */
	assert_string_equal("sip:a\\1@x", expand("^(a)$", "a", "sip:\\1\\\\1@x", 256));
	assert_string_equal("sip:\\x@y\\", expand("^(a)$", "a", "sip:\\x@y\\", 256));
	/* Exactly fits, one byte short. */
	assert_string_equal("sip:abc", expand("^(abc)$", "abc", "sip:\\1", 8));
	assert_string_equal("(too small)", expand("^(abc)$", "abc", "sip:\\1", 7));
	assert_string_equal("(too small)", expand("^(abc)$", "abc", "sip:\\1", 0));
}

/* ---- feature hops ---- */

static const char *hops(const char *features, size_t cap)
{
	static char out[512];
	int64_t c[32], t[32];
	size_t nc = 99, nt = 99;
	if (store_parse_hops(features, c, &nc, t, &nt, cap) < 0)
		return "(too small)";
	size_t n = (size_t)snprintf(out, sizeof out, "c");
	for (size_t i = 0; i < nc; i++)
		n += (size_t)snprintf(out + n, sizeof out - n, " %lld", (long long)c[i]);
	n += (size_t)snprintf(out + n, sizeof out - n, " t");
	for (size_t i = 0; i < nt; i++)
		n += (size_t)snprintf(out + n, sizeof out - n, " %lld", (long long)t[i]);
	/* counting alone gives the same counts */
	size_t kc = 99, kt = 99;
	assert_int_equal(0, store_parse_hops(features, NULL, &kc, NULL, &kt, 0));
	assert_int_equal(nc, kc);
	assert_int_equal(nt, kt);
	return out;
}

static void test_hops_parse(void **state)
{
	(void)state;
	assert_string_equal("c t", hops("", 8));
	assert_string_equal("c t", hops(NULL, 8));
	/* sides: calling, called, both on either */
	assert_string_equal("c 7 t", hops("calling:7", 8));
	assert_string_equal("c t 8", hops("called:8", 8));
	assert_string_equal("c 9 t 9", hops("both:9", 8));
	/* order kept; consecutive equal groups merged, per side */
	assert_string_equal("c 1 2 1 t 1 2 3", hops("both:1 calling:1 both:2 calling:1 called:3 called:3", 8));
	/* a called feature between two calling ones of one group does not
	 * split the calling hop */
	assert_string_equal("c 5 t 6", hops("calling:5 called:6 calling:5", 8));
	assert_string_equal("c 1 2 t 2", hops("calling:1 both:2 called:2", 8));
	/* blanks, malformed words skipped */
	assert_string_equal("c 4 t", hops("  calling:4   nonsense:5 calling: calling:x1 calling:-3 calling:0 "
					  "callingx:6 call:7 both:12345678901234567890 ",
					  8));
	/* cap: exactly fits, one short */
	assert_string_equal("c 1 2 t", hops("calling:1 calling:2", 2));
	assert_string_equal("(too small)", hops("calling:1 calling:2 calling:3", 2));
	assert_string_equal("(too small)", hops("called:1 called:2 called:3", 2));
	assert_string_equal("c 1 t", hops("calling:1 calling:1 calling:1", 1));
}

static struct test_rows *rows_state(void **state)
{
	return *state;
}

static int rows_setup(void **state)
{
	*state = calloc(1, sizeof(struct test_rows));
	return *state ? 0 : -1;
}

static int rows_teardown(void **state)
{
	rows_free(*state);
	free(*state);
	return 0;
}

static void test_hops_loaded(void **state)
{
	struct test_rows *t = rows_state(state);
	rows_domain(t, 1, "example.com");
	rows_subscriber(t, 10, 1, "plain", "");
	rows_subscriber(t, 11, 1, "feat", "both:7 calling:7 calling:8 called:9 both:7");
	rows_subscriber_full(t, 12, 1, "many", "1:m1 1:m2", "+15550001 15550002", "called:9", true);
	rows_group(t, 7, "feat-a", "feature", "skip");
	rows_server(t, 70, "192.0.2.7", 5080, "udp", 1, true);
	rows_group(t, 8, "feat-b", "feature", "fail");
	rows_group(t, 9, "ua", "marshal_ua", "fail");
	struct store *s = rows_store(t);

	const struct store_subscriber *p = store_subscriber_by_aor(s, SIP_STR_LIT("plain"), SIP_STR_LIT("example.com"));
	assert_non_null(p);
	assert_null(p->calling_hops);
	assert_null(p->called_hops);
	assert_int_equal(0, p->ncalling_hops);
	assert_int_equal(0, p->ncalled_hops);

	const struct store_subscriber *f = store_subscriber_by_aor(s, SIP_STR_LIT("feat"), SIP_STR_LIT("example.com"));
	assert_non_null(f);
	assert_int_equal(3, f->ncalling_hops);
	assert_int_equal(7, f->calling_hops[0]);
	assert_int_equal(8, f->calling_hops[1]);
	assert_int_equal(7, f->calling_hops[2]);
	assert_int_equal(3, f->ncalled_hops);
	assert_int_equal(7, f->called_hops[0]);
	assert_int_equal(9, f->called_hops[1]);
	assert_int_equal(7, f->called_hops[2]);

	/* keys find their subscriber back (by index), hops beside them */
	const struct store_subscriber *m = store_subscriber_by_aor(s, SIP_STR_LIT("m2"), SIP_STR_LIT("example.com"));
	assert_non_null(m);
	assert_int_equal(12, m->id);
	assert_ptr_equal(m, store_subscriber_by_did(s, SIP_STR_LIT("+15550002")));
	assert_ptr_equal(m, store_subscriber_by_did(s, SIP_STR_LIT("15550001")));
	assert_ptr_equal(m, store_subscriber_by_aor(s, SIP_STR_LIT("many"), SIP_STR_LIT("example.com")));
	assert_null(m->calling_hops);
	assert_int_equal(1, m->ncalled_hops);
	assert_int_equal(9, m->called_hops[0]);
	assert_string_equal("many", m->user);

	assert_int_equal(STORE_ON_FAILURE_SKIP, store_group_by_name(s, "feat-a")->on_failure);
	assert_int_equal(STORE_ON_FAILURE_FAIL, store_group_by_name(s, "feat-b")->on_failure);
	assert_string_equal("feature", store_group_by_id(s, 7)->kind);
	const struct store_server *sv[4];
	assert_int_equal(1, store_group_servers(s, 7, sv, 4));
	assert_int_equal(0, store_group_servers(s, 8, sv, 4));
}

/* Heap held by the store with the rows of t loaded. */
static size_t store_bytes(struct test_rows *t)
{
	struct store_stats st;
	rows_store(t);
	store_get_stats(t->store, &st);
	return st.bytes;
}

/*
 * Memory per subscriber. The store holds a million subscribers, most with
 * one key and no features: such a record must not grow for the feature
 * hops (it cost 256 bytes of record and 48 of key before them, LP64), and
 * a subscriber with hops pays 8 bytes per hop and nothing else. Measured as
 * the store counts it (store_get_stats), between loads that differ by one
 * subscriber and stay below the hash tables' first resize.
 */
static void test_memory_per_subscriber(void **state)
{
	struct test_rows *t = rows_state(state);
	rows_domain(t, 1, "example.com");
	rows_subscriber(t, 1, 1, "u0001", "");
	rows_subscriber(t, 2, 1, "u0002", "");
	size_t two = store_bytes(t);
	rows_subscriber(t, 3, 1, "u0003", "");
	size_t plain = store_bytes(t) - two;
	rows_clear(t);
	rows_domain(t, 1, "example.com");
	rows_subscriber(t, 1, 1, "u0001", "");
	rows_subscriber(t, 2, 1, "u0002", "");
	rows_subscriber(t, 3, 1, "u0003", "calling:5 calling:6 called:7 both:8");
	size_t featured = store_bytes(t) - two;
	/* strings: user, display name, key: "u0003\0" "\0" "u0003\0"; the
	 * aggregated alias and DID texts: "\0" "\0" */
	size_t strings = 6 + 1 + 6 + 1 + 1;
	print_message("# store: %zu bytes per subscriber without features (record, key, strings), "
		      "%zu with 3 calling and 2 called hops\n", plain, featured);
	if (sizeof(void *) == 8)
		assert_int_equal(256 + 48 + strings, plain);
	assert_int_equal(plain + 5 * sizeof(int64_t), featured);
}


/* ---- batched subscriber reloads ------------------------------------------- */

/* The queries a store ran, answered later by the test. */
struct fake_db {
	struct {
		char stmt[64], param[256];
		pgq_result_fn cb;
		void *arg;
		bool answered;
	} call[16];
	int ncalls;
	bool refuse;
};

static int fake_exec(void *ctx, const char *stmt, int nparams, const char *const *values,
		     pgq_result_fn cb, void *arg)
{
	struct fake_db *db = ctx;
	if (db->refuse || db->ncalls == 16)
		return -1;
	snprintf(db->call[db->ncalls].stmt, sizeof db->call[0].stmt, "%s", stmt);
	snprintf(db->call[db->ncalls].param, sizeof db->call[0].param, "%s",
		 nparams > 0 ? values[0] : "");
	db->call[db->ncalls].cb = cb;
	db->call[db->ncalls].arg = arg;
	db->call[db->ncalls].answered = false;
	db->ncalls++;
	return 0;
}

static void fake_answer(struct fake_db *db, int i, const PGresult *r)
{
	assert_false(db->call[i].answered);
	db->call[i].answered = true;
	db->call[i].cb(db->call[i].arg, r, NULL);
}

struct batch_fixture {
	struct test_rows rows;
	struct fake_db db;
	uint64_t now;
	int changed_subs, changed_all, changed_full;
	int64_t changed_ids[16];
};

static uint64_t fixture_clock(void *arg)
{
	return ((struct batch_fixture *)arg)->now;
}

static void fixture_changed(void *ctx, const char *table, int64_t id)
{
	struct batch_fixture *x = ctx;
	if (!table)
		x->changed_full++;
	else if (strcmp(table, "subscribers") == 0 && id == 0)
		x->changed_all++;
	else if (strcmp(table, "subscribers") == 0 && x->changed_subs < 16)
		x->changed_ids[x->changed_subs++] = id;
}

/* A store with subscribers 1..3 (alice, bob, carol) loaded, its queries
 * going to x->db, batch_max and pending_max as given. */
static struct store *batch_store(struct batch_fixture *x, size_t batch_max, size_t pending_max)
{
	struct test_rows *t = &x->rows;
	rows_domain(t, 1, "example.com");
	rows_subscriber(t, 1, 1, "alice", "");
	rows_subscriber(t, 2, 1, "bob", "");
	rows_subscriber(t, 3, 1, "carol", "");
	t->loop = ev_loop_new();
	assert_non_null(t->loop);
	ev_set_clock(t->loop, fixture_clock, x);
	ev_update_now(t->loop);
	t->store = store_new(t->loop, NULL, &(struct store_hooks){.ctx = x, .changed = fixture_changed});
	assert_non_null(t->store);
	store_set_exec(t->store, fake_exec, &x->db, batch_max, pending_max);
	rows_store(t);
	rows_clear(t);
	x->changed_full = 0;
	return t->store;
}

static void batch_notify(struct store *s, const char *table, const char *op, long id, long owner)
{
	char payload[200];
	if (owner)
		snprintf(payload, sizeof payload,
			 "{\"table\":\"%s\",\"op\":\"%s\",\"id\":%ld,\"subscriber_id\":%ld}", table, op,
			 id, owner);
	else
		snprintf(payload, sizeof payload, "{\"table\":\"%s\",\"op\":\"%s\",\"id\":%ld}", table,
			 op, id);
	store_pgq_notify(s, "vocal_changes", payload);
}

/* Lets the flush timer fire. */
static void batch_wait(struct batch_fixture *x)
{
	x->now += 10;
	ev_run_timers(x->rows.loop);
}

static int batch_setup(void **state)
{
	*state = calloc(1, sizeof(struct batch_fixture));
	return *state ? 0 : -1;
}

static int batch_teardown(void **state)
{
	struct batch_fixture *x = *state;
	/* queries never answered: as the pgq does when freed */
	for (int i = 0; i < x->db.ncalls; i++)
		if (!x->db.call[i].answered)
			fake_answer(&x->db, i, NULL);
	rows_free(&x->rows);
	free(x);
	return 0;
}

/*
 * Seven notifications (the same subscriber three times, owned rows naming
 * their subscriber, an insert and a delete) make one query for the three
 * distinct subscribers, and its result is applied: rows found replace or
 * add their subscriber, ids not found are deleted, the changed hook runs
 * once per subscriber.
 */
static void test_batch_coalesced(void **state)
{
	struct batch_fixture *x = *state;
	struct store *s = batch_store(x, 0, 0);

	batch_notify(s, "subscribers", "UPDATE", 2, 0);
	batch_notify(s, "subscribers", "UPDATE", 2, 0);
	batch_notify(s, "aliases", "INSERT", 70, 2);
	batch_notify(s, "subscribers", "INSERT", 4, 0);
	batch_notify(s, "dids", "INSERT", 80, 4);
	batch_notify(s, "subscribers", "DELETE", 3, 0);
	batch_notify(s, "subscriber_features", "UPDATE", 90, 2);
	/* nothing before the timer: more may come */
	assert_int_equal(0, x->db.ncalls);
	batch_wait(x);
	assert_int_equal(1, x->db.ncalls);
	assert_string_equal("store_subscriber_batch", x->db.call[0].stmt);
	assert_string_equal("{2,3,4}", x->db.call[0].param);
	/* the timer does not run again with nothing pending */
	batch_wait(x);
	assert_int_equal(1, x->db.ncalls);

	/* the database's answer: 2 with an alias, 4 new with a DID, 3 gone */
	struct test_rows r = {0};
	rows_subscriber_full(&r, 2, 1, "bob", "1:robert", "", "called:9", true);
	rows_subscriber_full(&r, 4, 1, "dave", "", "+15550004", "", true);
	fake_answer(&x->db, 0, r.subscribers);
	rows_clear(&r);

	const struct store_subscriber *bob =
		store_subscriber_by_aor(s, SIP_STR_LIT("robert"), SIP_STR_LIT("example.com"));
	assert_non_null(bob);
	assert_int_equal(2, bob->id);
	assert_int_equal(1, bob->ncalled_hops);
	const struct store_subscriber *dave = store_subscriber_by_did(s, SIP_STR_LIT("15550004"));
	assert_non_null(dave);
	assert_string_equal("dave", dave->user);
	assert_null(store_subscriber_by_id(s, 3));
	assert_null(store_subscriber_by_aor(s, SIP_STR_LIT("carol"), SIP_STR_LIT("example.com")));
	assert_non_null(store_subscriber_by_id(s, 1));

	assert_int_equal(3, x->changed_subs);
	assert_int_equal(2, x->changed_ids[0]);
	assert_int_equal(3, x->changed_ids[1]);
	assert_int_equal(4, x->changed_ids[2]);
	struct store_stats st;
	store_get_stats(s, &st);
	assert_int_equal(7, st.notifications);
	assert_int_equal(3, st.row_reloads);
	assert_int_equal(1, st.batches);
	assert_int_equal(0, st.batch_overflows);
	assert_int_equal(3, st.pending_max);
	assert_int_equal(3, st.subscribers);

	/* a change during the flight of a batch makes a batch of its own */
	batch_notify(s, "subscribers", "UPDATE", 1, 0);
	batch_wait(x);
	assert_int_equal(2, x->db.ncalls);
	assert_string_equal("{1}", x->db.call[1].param);
}

/* Many subscribers: one query per batch_max of them, ids ascending, at
 * most STORE_BATCH_INFLIGHT in flight (the next when one is answered). */
static void test_batch_split(void **state)
{
	struct batch_fixture *x = *state;
	struct store *s = batch_store(x, 2, 0);
	for (long id = 5; id >= 1; id--)
		batch_notify(s, "subscribers", "UPDATE", id, 0);
	batch_notify(s, "subscriber_acl", "INSERT", 9, 5);
	batch_wait(x);
	assert_int_equal(2, STORE_BATCH_INFLIGHT);
	assert_int_equal(2, x->db.ncalls);
	assert_string_equal("{1,2}", x->db.call[0].param);
	assert_string_equal("{3,4}", x->db.call[1].param);
	/* empty answers: every one of them is gone */
	PGresult *empty = rows_new(14);
	fake_answer(&x->db, 0, empty);
	assert_int_equal(3, x->db.ncalls);
	assert_string_equal("{5}", x->db.call[2].param);
	fake_answer(&x->db, 1, empty);
	fake_answer(&x->db, 2, empty);
	PQclear(empty);
	assert_int_equal(3, x->db.ncalls);
	struct store_stats st;
	store_get_stats(s, &st);
	assert_int_equal(0, st.subscribers);
	assert_int_equal(5, st.row_reloads);
	assert_int_equal(3, st.batches);
	assert_int_equal(5, x->changed_subs);
}

/*
 * Beyond pending_max subscribers waiting, the set is dropped and the
 * store loads everything again (and says so to the changed hook), with no
 * batch query at all.
 */
static void test_batch_overflow(void **state)
{
	struct batch_fixture *x = *state;
	struct store *s = batch_store(x, 0, 3);
	batch_notify(s, "subscribers", "UPDATE", 1, 0);
	batch_notify(s, "subscribers", "UPDATE", 2, 0);
	batch_notify(s, "subscribers", "UPDATE", 3, 0);
	batch_notify(s, "subscribers", "UPDATE", 3, 0); /* the same again: still 3 */
	assert_int_equal(0, x->db.ncalls);
	batch_notify(s, "subscribers", "INSERT", 4, 0);
	assert_int_equal(4, x->db.ncalls);
	assert_string_equal("store_domains", x->db.call[0].stmt);
	assert_string_equal("store_subscribers", x->db.call[1].stmt);
	assert_string_equal("store_servers", x->db.call[2].stmt);
	assert_string_equal("store_plans", x->db.call[3].stmt);
	assert_int_equal(1, x->changed_all);
	batch_wait(x);
	assert_int_equal(4, x->db.ncalls);

	/* the full load's answer replaces everything */
	struct test_rows r = {0};
	rows_domain(&r, 1, "example.com");
	rows_subscriber(&r, 4, 1, "dave", "");
	fake_answer(&x->db, 0, r.domains);
	fake_answer(&x->db, 1, r.subscribers);
	fake_answer(&x->db, 2, NULL);
	fake_answer(&x->db, 3, NULL);
	rows_clear(&r);
	assert_int_equal(1, x->changed_full);
	assert_non_null(store_subscriber_by_aor(s, SIP_STR_LIT("dave"), SIP_STR_LIT("example.com")));
	assert_null(store_subscriber_by_id(s, 1));
	struct store_stats st;
	store_get_stats(s, &st);
	assert_int_equal(1, st.batch_overflows);
	assert_int_equal(0, st.batches);
	assert_int_equal(2, st.full_loads);

	/* afterwards, batching again */
	batch_notify(s, "subscribers", "UPDATE", 4, 0);
	batch_wait(x);
	assert_int_equal(5, x->db.ncalls);
	assert_string_equal("{4}", x->db.call[4].param);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_change_trigger_forms),
		cmocka_unit_test(test_change_refused),
		cmocka_unit_test(test_change_truncated),
		cmocka_unit_test(test_user_normalize),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_hops_parse),
		cmocka_unit_test_setup_teardown(test_hops_loaded, rows_setup, rows_teardown),
		cmocka_unit_test_setup_teardown(test_memory_per_subscriber, rows_setup, rows_teardown),
		cmocka_unit_test_setup_teardown(test_batch_coalesced, batch_setup, batch_teardown),
		cmocka_unit_test_setup_teardown(test_batch_split, batch_setup, batch_teardown),
		cmocka_unit_test_setup_teardown(test_batch_overflow, batch_setup, batch_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
