/*
 * Bulk import of subscribers from CSV (POST /api/v1/subscribers/import):
 * the pure half (RFC 4180 parsing, the header's columns, one row checked
 * with the same field table as POST /subscribers), which the fuzz target
 * tests/fuzz/fuzz_csv.c calls, and the handler (import.c), which resolves
 * domains, finds duplicates in the file and in the table, and writes the
 * good rows with multi-row INSERTs (unnest of arrays, IMPORT_BATCH rows a
 * statement) in one transaction with one audit entry.
 */
#ifndef VOCAL_PROVISIONING_IMPORT_H
#define VOCAL_PROVISIONING_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "provisioning/api.h"
#include "provisioning/validate.h"

#define IMPORT_BATCH 1000        /* rows per INSERT */
#define IMPORT_ERRORS_MAX 1000   /* errors an answer lists (all are counted) */
#define IMPORT_FIELDS_MAX 64     /* fields of a record */

/*
 * Splits len bytes of RFC 4180 text into records: fields separated by
 * commas, records by CRLF or LF (a last record without one counts);
 * a field in double quotes may hold commas, line breaks and "" for a
 * quote. Calls fn(arg, record, fields, n) for each record (record 1 is
 * the first, the header; a record's number is its first line's), fields
 * NUL-terminated, in *store (the caller frees it after 0; the pointers
 * stay valid until then); a record that is one empty field (an empty line)
 * is skipped, but counted. fn returns 0 to go on, -1 to stop (csv_parse
 * then returns -1 with err untouched). Returns 0, or -1 with "record N:
 * why" in err (a quote inside an unquoted field, text after a closing
 * quote, an unterminated quote, a NUL byte, more than IMPORT_FIELDS_MAX
 * fields).
 */
int csv_parse(const char *text, size_t len,
	      int (*fn)(void *arg, unsigned record, char **fields, unsigned n), void *arg,
	      char **store, char *err, size_t errlen);

/* The columns of an import; user_part and domain are required. */
enum import_col { COL_USER_PART, COL_DOMAIN, COL_DISPLAY_NAME, COL_PASSWORD, COL_AUTH_KIND, COL_N };

struct import_header {
	int col[COL_N];           /* the field index of each column, -1 when absent */
	unsigned n;               /* fields of the header */
};

/* The header record into h. Returns 0, or -1 with p (400: an unknown,
 * duplicate or missing column, naming it). */
int import_header(char **fields, unsigned n, struct import_header *h, struct problem *p);

/* One fault of a row: the column and why (no cell's text: a password
 * must not come back in an answer or a log). */
struct import_error {
	unsigned row;
	const char *field;        /* static */
	char detail[160];
};

/* A checked row: pointers into the record's fields; password NULL when
 * the cell is empty (no password), display_name "" and auth_kind "digest"
 * when absent. */
struct import_row {
	const char *user_part, *domain, *display_name, *password, *auth_kind;
};

/* Checks a record of row (its record number) against the header, every
 * column by body_subscriber's field table (user_part, display_name,
 * auth_kind), domain as a domain name, password non-empty when given.
 * Returns the number of faults written to errs (at most COL_N + 1; 0: row
 * is filled). */
unsigned import_row_check(const struct import_header *h, unsigned record, char **fields,
			  unsigned n, struct import_row *row, struct import_error *errs);

/* The handler. */
void subscribers_import(struct api_call *c);

#endif
