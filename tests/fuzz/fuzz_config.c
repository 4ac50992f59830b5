/*
 * libFuzzer target: configuration files (config_load_buffer, config_print,
 * config_free; common/config.h), against a table with every type, a list of
 * each kind, bounds and a section.
 *
 * The whole input is one file. Properties (__builtin_trap when broken):
 *
 *  - a failed load leaves nothing allocated (LeakSanitizer) and the table's
 *    members zero, and its message is one line naming the file;
 *  - a successful load prints (-v) to text that loads again and prints the
 *    same text: the normalised form is a fixed point;
 *  - config_free releases everything (LeakSanitizer), and twice is harmless.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


struct fconf {
	char *name;
	char *opt;
	long long count;
	long long any;
	bool flag;
	uint64_t timeout;
	uint64_t interval;
	struct config_addr listen;
	int kind;
	struct config_list words;
	struct config_list addrs;
	struct config_list nums;
	struct config_list waits;
	struct config_list kinds;
	char *db_info;
	long long db_pool_max;
};

static const char *const kinds[] = {"user-agent", "gateway", "internetwork", "conference", NULL};

#define F struct fconf
static const struct config_key keys[] = {
	{.name = "name", CONFIG_STRING_AT(F, name), .desc = "required string"},
	{.name = "opt", CONFIG_STRING_AT(F, opt), .def = "\"a \\\"b\\\"\"", .desc = "string"},
	{.name = "count", CONFIG_INT_AT(F, count), .def = "4", .min = -10, .max = 1000},
	{.name = "any", CONFIG_INT_AT(F, any), .def = "0"},
	{.name = "flag", CONFIG_BOOL_AT(F, flag), .def = "off"},
	{.name = "timeout", CONFIG_DURATION_AT(F, timeout), .def = "32s", .min = 1, .max = 86400000},
	{.name = "interval", CONFIG_DURATION_AT(F, interval), .def = "250ms"},
	{.name = "listen", CONFIG_ADDR_AT(F, listen), .def = "[::]:5060"},
	{.name = "kind", CONFIG_ENUM_AT(F, kind), .def = "gateway", .names = kinds},
	{.name = "words", CONFIG_LIST_AT(F, words, CONFIG_STRING), .def = "a \"b c\""},
	{.name = "addrs", CONFIG_LIST_AT(F, addrs, CONFIG_ADDR), .def = ""},
	{.name = "nums", CONFIG_LIST_AT(F, nums, CONFIG_INT), .def = "1 2", .min = 0, .max = 9},
	{.name = "waits", CONFIG_LIST_AT(F, waits, CONFIG_DURATION), .def = "1s"},
	{.name = "kinds", CONFIG_LIST_AT(F, kinds, CONFIG_ENUM), .def = "", .names = kinds},
	{.name = "db.info", CONFIG_STRING_AT(F, db_info), .def = "\"\""},
	{.name = "db.pool.max", CONFIG_INT_AT(F, db_pool_max), .def = "8", .min = 1, .max = 64},
	{0},
};
#undef F

static char *print(const struct fconf *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	CHECK(f);
	CHECK(config_print(keys, c, f) == 0);
	fclose(f);
	return buf;
}

static bool zero(const struct fconf *c)
{
	struct fconf z;
	memset(&z, 0, sizeof(z));
	/* every member is in the table, so the whole struct is zero (fields
	 * compared one by one: padding may hold anything) */
	return !c->name && !c->opt && !c->count && !c->any && !c->flag && !c->timeout &&
	       !c->interval && !memcmp(&c->listen, &z.listen, sizeof(z.listen)) && !c->kind &&
	       !c->words.n && !c->words.v && !c->addrs.n && !c->addrs.v && !c->nums.n &&
	       !c->nums.v && !c->waits.n && !c->waits.v && !c->kinds.n && !c->kinds.v &&
	       !c->db_info && !c->db_pool_max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fconf c, again;
	char err[512];

	memset(&c, 0x5a, sizeof(c)); /* the loader must not need a zeroed struct */
	if (config_load_buffer(keys, &c, (const char *)data, size, "fuzz", err, sizeof(err)) != 0) {
		CHECK(zero(&c));
		CHECK(!strncmp(err, "fuzz", 4));
		CHECK(!strchr(err, '\n'));
		return 0;
	}
	size_t len1, len2;
	char *text1 = print(&c, &len1);
	CHECK(config_load_buffer(keys, &again, text1, len1, "again", err, sizeof(err)) == 0);
	char *text2 = print(&again, &len2);
	CHECK(len1 == len2 && !memcmp(text1, text2, len1));
	free(text1);
	free(text2);
	config_free(keys, &again);
	config_free(keys, &c);
	CHECK(zero(&c));
	config_free(keys, &c);
	return 0;
}
