/*
 * libFuzzer target: the CSV of provd's bulk import (provisioning/csv.c:
 * csv_parse, import_header, import_row_check), which an administrator's
 * upload of up to 64 MiB feeds. Input: the file. Properties
 * (__builtin_trap when broken):
 *
 *  - csv_parse returns 0 or -1; on -1 a one-line message "record N: ...";
 *  - records come in increasing order, with 1 to IMPORT_FIELDS_MAX
 *    NUL-terminated fields that fit in the input;
 *  - the first record either is a header with user_part and domain, or
 *    is refused with a 400 problem;
 *  - a row import_row_check accepts holds a valid user part, a domain
 *    name, an auth_kind of none/ip/digest, and a display name the field
 *    table accepts; a refused one has 1 to COL_N + 1 errors, each naming
 *    its row and a NUL-terminated detail;
 *  - nothing leaks (LeakSanitizer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provisioning/import.h"
#include "provisioning/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
	size_t size;
	unsigned last;
	bool header;
	struct import_header h;
};

static int on_record(void *arg, unsigned record, char **fields, unsigned n)
{
	struct state *st = arg;
	CHECK(record > st->last);
	st->last = record;
	CHECK(n >= 1 && n <= IMPORT_FIELDS_MAX);
	for (unsigned i = 0; i < n; i++)
		CHECK(strlen(fields[i]) <= st->size);
	if (!st->header) {
		struct problem p;
		st->header = true;
		if (import_header(fields, n, &st->h, &p) < 0) {
			CHECK(p.status == 400 && memchr(p.detail, 0, sizeof(p.detail)));
			return -1;
		}
		CHECK(st->h.col[COL_USER_PART] >= 0 && st->h.col[COL_DOMAIN] >= 0);
		return 0;
	}
	struct import_row row;
	struct import_error errs[COL_N + 1];
	unsigned k = import_row_check(&st->h, record, fields, n, &row, errs);
	CHECK(k <= COL_N + 1);
	if (k == 0) {
		CHECK(valid_user_part(row.user_part) && valid_domain_name(row.domain));
		CHECK(!strcmp(row.auth_kind, "none") || !strcmp(row.auth_kind, "ip") ||
		      !strcmp(row.auth_kind, "digest"));
		struct subscriber_in s;
		struct problem p;
		memset(&s, 0, sizeof(s));
		CHECK(body_field_text(&body_subscriber, "display_name", row.display_name, &s, &p) == 0);
		CHECK(!row.password || (row.password[0] && strlen(row.password) <= 1024));
	}
	for (unsigned i = 0; i < k; i++)
		CHECK(errs[i].row == record && errs[i].field && memchr(errs[i].detail, 0, sizeof(errs[i].detail)));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = {.size = size};
	char err[160], *store = NULL;
	int rc = csv_parse((const char *)data, size, on_record, &st, &store, err, sizeof(err));
	CHECK(rc == 0 || rc == -1);
	CHECK(rc == 0 || !store);
	free(store);
	return 0;
}
