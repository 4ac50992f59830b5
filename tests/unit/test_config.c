/*
 * Config files: golden pairs in tests/unit/config/ (NAME.conf with either
 * NAME.out, the expected -v output, or NAME.err, the expected error), the
 * C values behind them, reload semantics, table checks and limits.
 *
 * VOCAL_UPDATE_GOLDEN=1 rewrites the .out/.err files from what the code
 * does now (then read the diff before committing it).
 */
#include "unit/testutil.h"

#include <dirent.h>
#include <limits.h>
#include <sys/socket.h>

#include "config.h"

#define GOLDEN_DIR "tests/unit/config/"

struct tconf {
	char *ident;
	char *realm;
	long long workers;
	long long offset;
	bool tls;
	uint64_t timer_b;
	uint64_t idle;
	struct config_addr listen;
	int mode;
	struct config_list acl;
	struct config_list peers;
	struct config_list ports;
	char *db_conninfo;
	long long db_pool_size;
	int unrelated; /* not in the table: config must not touch it */
};

static const char *const modes[] = {"proxy", "redirect", "registrar", NULL};

#define T struct tconf
static const struct config_key keys[] = {
	{.name = "ident", CONFIG_STRING_AT(T, ident), .def = "\"vocal\"",
	 .desc = "name in log lines"},
	{.name = "realm", CONFIG_STRING_AT(T, realm), .desc = "digest realm (required)"},
	{.name = "workers", CONFIG_INT_AT(T, workers), .def = "4", .min = 1, .max = 64,
	 .desc = "worker count"},
	{.name = "offset", CONFIG_INT_AT(T, offset), .def = "-5", .desc = "an unbounded integer"},
	{.name = "tls", CONFIG_BOOL_AT(T, tls), .def = "no", .desc = "enable TLS"},
	{.name = "timer-b", CONFIG_DURATION_AT(T, timer_b), .def = "32s", .min = 100,
	 .max = 600000, .desc = "INVITE transaction timeout"},
	{.name = "idle", CONFIG_DURATION_AT(T, idle), .def = "1m30s",
	 .desc = "an unbounded duration"},
	{.name = "listen", CONFIG_ADDR_AT(T, listen), .def = "127.0.0.1:5060",
	 .desc = "SIP address"},
	{.name = "mode", CONFIG_ENUM_AT(T, mode), .def = "proxy", .names = modes,
	 .desc = "what to be"},
	{.name = "acl", CONFIG_LIST_AT(T, acl, CONFIG_STRING), .def = "",
	 .desc = "allowed networks"},
	{.name = "peers", CONFIG_LIST_AT(T, peers, CONFIG_ADDR), .def = "[::1]:5070 localhost:5080",
	 .desc = "peer servers"},
	{.name = "ports", CONFIG_LIST_AT(T, ports, CONFIG_INT), .def = "5060", .min = 1,
	 .max = 65535, .desc = "a bounded integer list"},
	{.name = "db.conninfo", CONFIG_STRING_AT(T, db_conninfo), .def = "\"dbname=vocal\"",
	 .desc = "libpq connection string"},
	{.name = "db.pool.size", CONFIG_INT_AT(T, db_pool_size), .def = "4", .min = 1,
	 .max = 100, .desc = "connections"},
	{0},
};
#undef T

static char *print_to_string(const struct tconf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(config_print(keys, c, f), 0);
	fclose(f);
	return buf;
}

static int load_str(struct tconf *c, const char *text, char *err, size_t errlen)
{
	return config_load_buffer(keys, c, text, strlen(text), "test.conf", err, errlen);
}

/* True when every member the table owns is all zero bytes (the struct's
 * padding may hold anything). */
static bool table_members_zero(const struct tconf *c)
{
	for (const struct config_key *k = keys; k->name; k++) {
		size_t size = 0;
		switch (k->type) {
		case CONFIG_STRING: size = sizeof(char *); break;
		case CONFIG_INT: size = sizeof(long long); break;
		case CONFIG_BOOL: size = sizeof(bool); break;
		case CONFIG_DURATION: size = sizeof(uint64_t); break;
		case CONFIG_ADDR: size = sizeof(struct config_addr); break;
		case CONFIG_ENUM: size = sizeof(int); break;
		case CONFIG_LIST: size = sizeof(struct config_list); break;
		}
		const unsigned char *m = (const unsigned char *)c + k->offset;
		for (size_t i = 0; i < size; i++)
			if (m[i])
				return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A whole file as a C string, or NULL when it cannot be read. */
static char *read_text(const char *path)
{
	size_t len;
	char *raw = read_file(path, &len);
	if (!raw)
		return NULL;
	char *s = malloc(len + 1);
	assert_non_null(s);
	memcpy(s, raw, len);
	s[len] = '\0';
	free(raw);
	return s;
}

static void write_golden(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* One golden case; returns false (after printing why) on a mismatch. */
static bool golden_case(const char *base, bool update)
{
	char conf[PATH_MAX], out[PATH_MAX], errp[PATH_MAX], err[512];
	snprintf(conf, sizeof(conf), GOLDEN_DIR "%s.conf", base);
	snprintf(out, sizeof(out), GOLDEN_DIR "%s.out", base);
	snprintf(errp, sizeof(errp), GOLDEN_DIR "%s.err", base);
	char *want_out = read_text(out);
	char *want_err = read_text(errp);
	bool ok = true;

	struct tconf c;
	memset(&c, 0xa5, sizeof(c)); /* config_load must not need a zeroed struct */
	c.unrelated = 7;
	int rc = config_load(keys, &c, conf, err, sizeof(err));
	assert_int_equal(c.unrelated, 7);
	if (rc == 0) {
		char *got = print_to_string(&c);
		if (update) {
			write_golden(out, got);
			remove(errp);
		} else if (!want_out || strcmp(got, want_out) != 0) {
			printf("# %s: -v output differs from %s:\n%s", base, out, got);
			ok = false;
		}
		/* what -v prints must read back to the same configuration */
		struct tconf again;
		char err2[512];
		if (config_load_buffer(keys, &again, got, strlen(got), "again", err2,
				       sizeof(err2)) != 0) {
			printf("# %s: -v output does not parse: %s\n", base, err2);
			ok = false;
		} else {
			char *got2 = print_to_string(&again);
			if (strcmp(got, got2) != 0) {
				printf("# %s: -v output is not stable\n", base);
				ok = false;
			}
			free(got2);
			config_free(keys, &again);
		}
		free(got);
		config_free(keys, &c);
		assert_true(table_members_zero(&c));
	} else {
		assert_true(table_members_zero(&c));
		strcat(err, "\n");
		if (update) {
			write_golden(errp, err);
			remove(out);
		} else if (!want_err || strcmp(err, want_err) != 0) {
			printf("# %s: expected error %s, got: %s", base,
			       want_err ? want_err : "(no .err file)\n", err);
			ok = false;
		}
	}
	if (!update && want_out && want_err) {
		printf("# %s: has both .out and .err\n", base);
		ok = false;
	}
	free(want_out);
	free(want_err);
	return ok;
}

static void test_golden(void **state)
{
	(void)state;
	bool update = getenv("VOCAL_UPDATE_GOLDEN") != NULL;
	DIR *d = opendir(GOLDEN_DIR);
	if (!d)
		fail_msg("cannot open " GOLDEN_DIR " (run from the repository root)");
	char *names[256];
	size_t n = 0, nout = 0, nerr = 0, failed = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 256) {
		size_t l = strlen(e->d_name);
		if (l > 5 && ends_with(e->d_name, ".conf"))
			names[n++] = strndup(e->d_name, l - 5);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (!golden_case(names[i], update))
			failed++;
		nout += !strncmp(names[i], "ok-", 3);
		nerr += !strncmp(names[i], "err-", 4);
		free(names[i]);
	}
	printf("# %zu golden files: %zu valid, %zu with errors, %zu failed\n", n, nout, nerr,
	       failed);
	assert_true(nout >= 5 && nerr >= 20);
	assert_int_equal(failed, 0);
}

static void test_values(void **state)
{
	(void)state;
	struct tconf c;
	char err[256];
	const char *text = "realm = \"a b\"\n"
			   "workers = 64\n"
			   "offset = -9223372036854775808\n"
			   "tls = on\n"
			   "timer-b = 1m500ms\n"
			   "idle = 2d\n"
			   "listen = [2001:DB8:0:0::1]:0\n"
			   "mode = registrar\n"
			   "acl = 10.0.0.0/8 \"\" \"x y\"\n"
			   "acl = z\n"
			   "peers = Example.COM:5061\n"
			   "[db]\n"
			   "pool.size = 100\n";
	assert_int_equal(load_str(&c, text, err, sizeof(err)), 0);
	assert_string_equal(c.ident, "vocal");
	assert_string_equal(c.realm, "a b");
	assert_int_equal(c.workers, 64);
	assert_true(c.offset == LLONG_MIN);
	assert_true(c.tls);
	assert_int_equal(c.timer_b, 60500);
	assert_int_equal(c.idle, 2ull * 86400000);
	assert_string_equal(c.listen.host, "2001:db8::1");
	assert_int_equal(c.listen.port, 0);
	assert_int_equal(c.listen.family, AF_INET6);
	assert_int_equal(c.mode, 2);
	assert_int_equal(c.acl.n, 4);
	assert_string_equal(c.acl.v[0].str, "10.0.0.0/8");
	assert_string_equal(c.acl.v[1].str, "");
	assert_string_equal(c.acl.v[2].str, "x y");
	assert_string_equal(c.acl.v[3].str, "z");
	assert_int_equal(c.peers.n, 1);
	assert_string_equal(c.peers.v[0].addr.host, "example.com");
	assert_int_equal(c.peers.v[0].addr.family, AF_UNSPEC);
	assert_int_equal(c.peers.v[0].addr.port, 5061);
	assert_int_equal(c.ports.n, 1);
	assert_int_equal(c.ports.v[0].num, 5060);
	assert_string_equal(c.db_conninfo, "dbname=vocal");
	assert_int_equal(c.db_pool_size, 100);
	config_free(keys, &c);
	config_free(keys, &c); /* twice is harmless */

	/* defaults, and CRLF line ends */
	assert_int_equal(load_str(&c, "realm = r\r\n\r\n# c\r\n", err, sizeof(err)), 0);
	assert_string_equal(c.realm, "r");
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.offset, -5);
	assert_false(c.tls);
	assert_int_equal(c.timer_b, 32000);
	assert_int_equal(c.idle, 90000);
	assert_string_equal(c.listen.host, "127.0.0.1");
	assert_int_equal(c.listen.port, 5060);
	assert_int_equal(c.listen.family, AF_INET);
	assert_int_equal(c.mode, 0);
	assert_int_equal(c.acl.n, 0);
	assert_int_equal(c.peers.n, 2);
	assert_string_equal(c.peers.v[0].addr.host, "::1");
	assert_int_equal(c.peers.v[1].addr.port, 5080);
	config_free(keys, &c);

	/* "key =" empties a list whose default is not empty */
	assert_int_equal(load_str(&c, "realm = r\npeers =\n", err, sizeof(err)), 0);
	assert_int_equal(c.peers.n, 0);
	config_free(keys, &c);

	/* a file without a final newline */
	assert_int_equal(load_str(&c, "realm = r", err, sizeof(err)), 0);
	config_free(keys, &c);
}

/* SIGHUP's contract: parse into a fresh struct, swap only when valid. */
static void test_reload_keeps_old(void **state)
{
	(void)state;
	struct tconf *cur = calloc(1, sizeof(*cur)), *fresh = calloc(1, sizeof(*fresh));
	char err[256];
	assert_int_equal(load_str(cur, "realm = old\nacl = a b\nworkers = 8\n", err, sizeof(err)),
			 0);
	char *before = print_to_string(cur);

	/* the new file fails on its last line, after strings and a list were
	 * allocated: all of it is released (ASan/LSan check), nothing of the
	 * current one is touched */
	const char *bad = "realm = new\nacl = c d e\nident = \"x\"\nworkers = 65\n";
	assert_int_equal(load_str(fresh, bad, err, sizeof(err)), -1);
	assert_string_equal(err, "test.conf:4: workers: 65 is out of range 1..64");
	assert_true(table_members_zero(fresh));
	char *after = print_to_string(cur);
	assert_string_equal(before, after);
	assert_string_equal(cur->realm, "old");
	free(after);

	/* a good new file: swap, free the old */
	assert_int_equal(load_str(fresh, "realm = new\n", err, sizeof(err)), 0);
	struct tconf *old = cur;
	cur = fresh;
	config_free(keys, old);
	free(old);
	assert_string_equal(cur->realm, "new");
	assert_int_equal(cur->workers, 4);

	config_free(keys, cur);
	free(cur);
	free(before);
}

static void test_file_errors(void **state)
{
	(void)state;
	struct tconf c;
	char err[256];
	assert_int_equal(config_load(keys, &c, "/nonexistent/x.conf", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/x.conf: No such file or directory");
	assert_int_equal(config_load(keys, &c, "/", err, sizeof(err)), -1);
	assert_string_equal(err, "/: Is a directory");

	/* too large */
	size_t big = CONFIG_FILE_MAX + 1;
	char *buf = malloc(big);
	memset(buf, '\n', big);
	assert_int_equal(config_load_buffer(keys, &c, buf, big, "big", err, sizeof(err)), -1);
	assert_string_equal(err, "big: larger than 1048576 bytes");

	/* too many list items: 4500 items on 3 lines */
	size_t n = (size_t)sprintf(buf, "realm = r\n");
	for (int line = 0; line < 3; line++) {
		n += (size_t)sprintf(buf + n, "acl =");
		for (int i = 0; i < 1500; i++)
			n += (size_t)sprintf(buf + n, " a");
		buf[n++] = '\n';
	}
	assert_int_equal(config_load_buffer(keys, &c, buf, n, "t", err, sizeof(err)), -1);
	assert_string_equal(err, "t:4: acl: more than 4096 items");
	assert_true(table_members_zero(&c));

	/* a line at the limit is fine, one byte more is not */
	n = (size_t)sprintf(buf, "realm = r\n#");
	memset(buf + n, 'x', CONFIG_LINE_MAX - 1);
	n += CONFIG_LINE_MAX - 1;
	assert_int_equal(config_load_buffer(keys, &c, buf, n, "t", err, sizeof(err)), 0);
	config_free(keys, &c);
	buf[n++] = 'x';
	assert_int_equal(config_load_buffer(keys, &c, buf, n, "t", err, sizeof(err)), -1);
	assert_string_equal(err, "t:2: line longer than 4096 bytes");

	/* a NUL byte */
	assert_int_equal(config_load_buffer(keys, &c, "realm = a\0b\n", 12, "t", err, sizeof(err)),
			 -1);
	assert_string_equal(err, "t:1: control character 0x00");
	free(buf);

	/* a small error buffer is filled, not overrun */
	char tiny[8];
	assert_int_equal(load_str(&c, "nope = 1\n", tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "test.co");
	assert_int_equal(load_str(&c, "nope = 1\n", NULL, 0), -1);
}

static void test_check(void **state)
{
	(void)state;
	struct tconf c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(config_check(keys, &c, GOLDEN_DIR "ok-minimal.conf", f), 0);
	assert_int_equal(config_check(keys, &c, GOLDEN_DIR "err-int-range.conf", f), -1);
	fclose(f);
	assert_string_equal(buf, "configuration OK\n" GOLDEN_DIR
			    "err-int-range.conf:6: workers: 100 is out of range 1..64\n");
	assert_true(table_members_zero(&c));
	free(buf);
}

struct one {
	long long n;
	uint64_t d;
	int e;
	char *s;
};

static void expect_table_error(const struct config_key *t, const char *want)
{
	char err[256] = "";
	assert_int_equal(config_table_check(t, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

static void test_table_check(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(config_table_check(keys, err, sizeof(err)), 0);

#define O struct one
	const struct config_key dup[] = {
		{.name = "a", CONFIG_INT_AT(O, n), .def = "1"},
		{.name = "a", CONFIG_INT_AT(O, n), .def = "1"},
		{0},
	};
	expect_table_error(dup, "config table: key 'a' twice");
	const struct config_key badname[] = {{.name = "A.b", CONFIG_INT_AT(O, n), .def = "1"}, {0}};
	expect_table_error(badname, "config table: bad key name 'A.b'");
	const struct config_key baddef[] = {
		{.name = "a", CONFIG_INT_AT(O, n), .def = "1", .min = 2, .max = 3}, {0}};
	expect_table_error(baddef, "config table: a: default: 1 is out of range 2..3");
	const struct config_key emptydef[] = {{.name = "s", CONFIG_STRING_AT(O, s), .def = ""},
					      {0}};
	expect_table_error(emptydef, "config table: s: default: needs a value");
	const struct config_key range[] = {
		{.name = "a", CONFIG_INT_AT(O, n), .def = "1", .min = 3, .max = 2}, {0}};
	expect_table_error(range, "config table: a: bad range");
	const struct config_key nonames[] = {{.name = "e", CONFIG_ENUM_AT(O, e), .def = "x"}, {0}};
	expect_table_error(nonames, "config table: e: names[] is for enums, and an enum needs names");
	static const char *const badnames[] = {"a b", NULL};
	const struct config_key enumword[] = {
		{.name = "e", CONFIG_ENUM_AT(O, e), .def = "x", .names = badnames}, {0}};
	expect_table_error(enumword, "config table: e: enum name 'a b' is not a bare word");
	const struct config_key desc[] = {
		{.name = "a", CONFIG_INT_AT(O, n), .def = "1", .desc = "two\nlines"}, {0}};
	expect_table_error(desc, "config table: a: the description must be one line");
	const struct config_key nested[] = {
		{.name = "l", .type = CONFIG_LIST, .elem = CONFIG_LIST, .def = ""}, {0}};
	expect_table_error(nested, "config table: l: bad type");
#undef O
	/* a broken table makes every load fail, with the reason */
	struct one o;
	assert_int_equal(config_load_buffer(dup, &o, "", 0, "x", err, sizeof(err)), -1);
	assert_string_equal(err, "config table: key 'a' twice");
}

/* Cheap random-bytes smoke test; the fuzz target does the real work. */
static void test_garbage(void **state)
{
	(void)state;
	static const char alphabet[] = "ab=[]\"\\# \t\n\r.:0159xmsd-";
	unsigned seed = 12345;
	char buf[256], err[256];
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = (seed = seed * 1103515245 + 12345) % sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			buf[i] = (seed >> 16) % 8 == 0 ? (char)(seed >> 8)
						       : alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		struct tconf c;
		if (config_load_buffer(keys, &c, buf, n, "g", err, sizeof(err)) == 0)
			config_free(keys, &c);
		else
			assert_true(table_members_zero(&c));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_reload_keeps_old),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_table_check),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
