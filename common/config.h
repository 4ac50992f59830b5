/*
 * Configuration files for every daemon, nginx- and bgpd-style: a daemon
 * declares one static table of keys (name, type, where the value goes in its
 * config struct, default, description) and this module reads, checks and
 * prints files against it. Adding a setting is adding a row.
 *
 * Syntax (one setting per line):
 *
 *   # a comment; '#' outside quotes starts a comment anywhere on a line
 *   listen = [::1]:5060            # key = value
 *   realm = "example.com"          # quotes: \" \\ \n \r \t \xHH
 *   timer_b = 32s                  # durations: 500ms 32s 2m 1h 1d, 1m30s
 *   acl = 10.0.0.0/8 192.0.2.1     # a list takes several items per line,
 *   acl = 198.51.100.7             #   and repeated lines add to it
 *   [db]                           # a section: the keys below are db.*
 *   conninfo = "host=/run/postgresql dbname=vocal"
 *
 * - Keys are lower-case words of [a-z0-9_-] joined by dots, each word
 *   starting with a letter; a key not in the table is an error.
 * - Sections are optional. "[db]" means that, until the next section line,
 *   a key "x" stands for "db.x" (and "pool.size" for "db.pool.size"). As in
 *   TOML there is no way back to the top level, so top-level keys come
 *   first. A section that no key of the table starts with is an error.
 *   config_print writes full dotted names and no sections.
 * - A value is one or more items separated by blanks: a bare word (any
 *   bytes but blanks, control characters, '"' and '#') or a quoted string.
 *   A scalar key takes exactly one item, so a string with a blank or a '#'
 *   in it must be quoted (any type may be quoted: port = "5060" is fine).
 * - A scalar key may appear once. A list key may appear any number of
 *   times, each line adding its items in order; "key =" with no item adds
 *   nothing but still counts as setting the list, which is how a file
 *   empties a list whose default is not empty.
 * - Keys not in the file get their default; a key with no default
 *   (def == NULL) must be in the file.
 * - Lines end in LF (CRLF is accepted); a line is at most CONFIG_LINE_MAX
 *   bytes, a file at most CONFIG_FILE_MAX; NUL and other control bytes
 *   (tab aside) are errors.
 *
 * Types and the C type of the struct member each fills:
 *   CONFIG_STRING    char *            heap copy, NUL-terminated
 *   CONFIG_INT       long long         decimal, in [min, max]
 *   CONFIG_BOOL      bool              yes/no, true/false, on/off
 *   CONFIG_DURATION  uint64_t          milliseconds, in [min, max]
 *   CONFIG_ADDR      struct config_addr  host:port, [IPv6]:port
 *   CONFIG_ENUM      int               index into names[]
 *   CONFIG_LIST      struct config_list  items of type .elem
 * Use the CONFIG_*_AT macros in a table row: they set type and offset
 * together and fail to compile when the member has the wrong C type.
 *
 * Errors are one line "file:line: message" (or "file: message" for a
 * missing key) in the caller's buffer; nothing is printed. Parsing any
 * byte sequence is safe (the fuzz target fuzz_config checks it), and what
 * config_print writes parses back to the same values.
 */
#ifndef VOCAL_CONFIG_H
#define VOCAL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_LINE_MAX 4096            /* bytes per line, line end excluded */
#define CONFIG_FILE_MAX (1024 * 1024)   /* bytes per file */
#define CONFIG_LIST_MAX 4096            /* items per list */
#define CONFIG_KEY_MAX 128              /* bytes of a full (dotted) key name */
#define CONFIG_HOST_MAX 253             /* bytes of a host name */

enum config_type {
	CONFIG_STRING = 1,
	CONFIG_INT,
	CONFIG_BOOL,
	CONFIG_DURATION,
	CONFIG_ADDR,
	CONFIG_ENUM,
	CONFIG_LIST,
};

/* A transport address. host is a DNS name (lower-cased), an IPv4 literal
 * or an IPv6 literal without brackets, in canonical form; family says
 * which (AF_INET, AF_INET6, or AF_UNSPEC for a name to resolve). Port 0
 * lets the kernel choose, for tests. */
struct config_addr {
	char host[CONFIG_HOST_MAX + 1];
	uint16_t port;
	int family;
};

/* One list item; the member matching the list's .elem is set. */
union config_value {
	char *str;
	long long num;
	bool flag;
	uint64_t ms;
	struct config_addr addr;
	int idx;
};

struct config_list {
	size_t n;
	union config_value *v;   /* heap; v[i].str of a string list too */
};

/* One row of a daemon's table; the table ends with a row whose name is
 * NULL. min/max bound an INT, or a DURATION in milliseconds, or the items
 * of such a list; both 0 means unbounded. names (ENUM, or a list of ENUM)
 * is a NULL-terminated array of bare words. def is written in the file's
 * syntax ("5s", "[::]:5060", "\"a b\"", "a b" for a two-item list), so
 * defaults are checked and normalised like any value. desc is one line;
 * config_print writes it as a comment above the key. */
struct config_key {
	const char *name;
	enum config_type type;
	enum config_type elem;        /* CONFIG_LIST: the type of the items */
	size_t offset;                /* of the member in the config struct */
	const char *def;              /* NULL: the key is required */
	long long min, max;
	const char *const *names;
	const char *desc;
};

/* offsetof(st, member), failing to compile unless member has type T. */
#define CONFIG_OFFSET(st, member, T) _Generic(((st *)0)->member, T: offsetof(st, member))

#define CONFIG_STRING_AT(st, m) .type = CONFIG_STRING, .offset = CONFIG_OFFSET(st, m, char *)
#define CONFIG_INT_AT(st, m) .type = CONFIG_INT, .offset = CONFIG_OFFSET(st, m, long long)
#define CONFIG_BOOL_AT(st, m) .type = CONFIG_BOOL, .offset = CONFIG_OFFSET(st, m, bool)
#define CONFIG_DURATION_AT(st, m) \
	.type = CONFIG_DURATION, .offset = CONFIG_OFFSET(st, m, uint64_t)
#define CONFIG_ADDR_AT(st, m) \
	.type = CONFIG_ADDR, .offset = CONFIG_OFFSET(st, m, struct config_addr)
#define CONFIG_ENUM_AT(st, m) .type = CONFIG_ENUM, .offset = CONFIG_OFFSET(st, m, int)
#define CONFIG_LIST_AT(st, m, elemtype) \
	.type = CONFIG_LIST, .elem = (elemtype), .offset = CONFIG_OFFSET(st, m, struct config_list)

/*
 * Reads the file at path into conf against table. conf must hold nothing
 * to free in the table's members (a zeroed struct: for a reload, parse into
 * a fresh one and swap only when this returns 0). Every key of the table is
 * set, from the file or its default.
 *
 * Returns 0; or -1 with "path:line: message" in err, in which case the
 * table's members of conf are zero again (nothing allocated is left).
 * The caller releases a loaded conf with config_free.
 */
int config_load(const struct config_key *table, void *conf, const char *path, char *err,
		size_t errlen);

/* Like config_load, from len bytes at buf (any bytes; no NUL needed);
 * name stands for the path in messages. */
int config_load_buffer(const struct config_key *table, void *conf, const char *buf, size_t len,
		       const char *name, char *err, size_t errlen);

/* Frees the strings and lists of conf and zeroes the table's members;
 * safe on a zeroed or already freed conf. */
void config_free(const struct config_key *table, void *conf);

/*
 * Writes every key of the table in table order, defaults included, one
 * "key = value" line each (a list: one line per item, "key =" when empty),
 * each after a "# description" line: the normalised configuration that -v
 * prints, which reads back to the same values. Returns 0, or -1 on a
 * write error.
 */
int config_print(const struct config_key *table, const void *conf, FILE *out);

/*
 * The -n check: loads path into conf (scratch space, freed again) and
 * writes "configuration OK" or the error to out, one line. Returns 0 when
 * the file is valid, else -1 (the daemon exits 1).
 */
int config_check(const struct config_key *table, void *conf, const char *path, FILE *out);

/* Checks a table itself: key names valid and unique, types and ranges
 * consistent, every default parses. 0, or -1 with the fault in err. For
 * each daemon's unit tests; config_load runs it too. */
int config_table_check(const struct config_key *table, char *err, size_t errlen);

/* The name of an ENUM value, or "?" when idx is out of range. */
const char *config_enum_name(const struct config_key *key, int idx);

#endif
