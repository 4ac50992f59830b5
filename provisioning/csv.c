/* CSV of a bulk import: parsing and the checks of a row (import.h). */
#include "provisioning/import.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int csv_parse(const char *text, size_t len,
	      int (*fn)(void *arg, unsigned record, char **fields, unsigned n), void *arg,
	      char **store, char *err, size_t errlen)
{
	*store = NULL;
	/* unescaped fields, each NUL-terminated, never longer than the text
	 * they come from plus one terminator each: len + 2 is enough */
	char *buf = malloc(len + 2);
	char *fields[IMPORT_FIELDS_MAX];
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	unsigned record = 1, n = 0, lines = 0;
	size_t i = 0, o = 0;
	int rc = 0;
	if (memchr(text, 0, len)) {
		const char *z = memchr(text, 0, len);
		for (const char *c = text; c < z; c++)
			record += *c == '\n';
		snprintf(err, errlen, "record %u: a NUL byte", record);
		free(buf);
		return -1;
	}
	while (i < len) {
		/* one field */
		if (n == IMPORT_FIELDS_MAX) {
			snprintf(err, errlen, "record %u: more than %d fields", record, IMPORT_FIELDS_MAX);
			rc = -1;
			break;
		}
		fields[n++] = buf + o;
		if (text[i] == '"') {
			i++;
			for (;;) {
				if (i >= len) {
					snprintf(err, errlen, "record %u: a quoted field does not end", record);
					rc = -1;
					goto out;
				}
				if (text[i] == '"') {
					if (i + 1 < len && text[i + 1] == '"') {
						buf[o++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				lines += text[i] == '\n';
				buf[o++] = text[i++];
			}
			if (i < len && text[i] != ',' && text[i] != '\n' &&
			    !(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') &&
			    !(text[i] == '\r' && i + 1 == len)) {
				snprintf(err, errlen, "record %u: text after a closing quote", record);
				rc = -1;
				break;
			}
		} else {
			while (i < len && text[i] != ',' && text[i] != '\n' &&
			       !(text[i] == '\r' && (i + 1 == len || text[i + 1] == '\n'))) {
				if (text[i] == '"') {
					snprintf(err, errlen, "record %u: a quote inside an unquoted field",
						 record);
					rc = -1;
					goto out;
				}
				buf[o++] = text[i++];
			}
		}
		buf[o++] = 0;
		if (i < len && text[i] == ',') {
			i++;
			if (i < len)
				continue;
			/* "a," at the very end: a last, empty field */
			if (n == IMPORT_FIELDS_MAX) {
				snprintf(err, errlen, "record %u: more than %d fields", record,
					 IMPORT_FIELDS_MAX);
				rc = -1;
				break;
			}
			fields[n++] = buf + o;
			buf[o++] = 0;
		}
		/* the record ends: CRLF, LF, or the end of the text */
		if (i < len && text[i] == '\r')
			i++;
		if (i < len && text[i] == '\n')
			i++;
		bool empty = n == 1 && fields[0][0] == 0;
		if (!empty && fn(arg, record, fields, n) < 0) {
			rc = -1;
			break;
		}
		record += 1 + lines;
		n = 0;
		lines = 0;
	}
out:
	if (rc < 0)
		free(buf);
	else
		*store = buf;
	return rc;
}

static const char *const col_names[COL_N] = {
	[COL_USER_PART] = "user_part", [COL_DOMAIN] = "domain", [COL_DISPLAY_NAME] = "display_name",
	[COL_PASSWORD] = "password", [COL_AUTH_KIND] = "auth_kind",
};

int import_header(char **fields, unsigned n, struct import_header *h, struct problem *p)
{
	for (int c = 0; c < COL_N; c++)
		h->col[c] = -1;
	h->n = n;
	for (unsigned i = 0; i < n; i++) {
		int c = 0;
		while (c < COL_N && strcmp(fields[i], col_names[c]) != 0)
			c++;
		if (c == COL_N)
			return problem_set(p, 400, "Unknown column",
					   "column %u of the header (%.64s) is none of user_part, domain, "
					   "display_name, password, auth_kind",
					   i + 1, fields[i]);
		if (h->col[c] >= 0)
			return problem_set(p, 400, "Duplicate column", "the header names %s twice",
					   col_names[c]);
		h->col[c] = (int)i;
	}
	for (int c = COL_USER_PART; c <= COL_DOMAIN; c++)
		if (h->col[c] < 0)
			return problem_set(p, 400, "Missing column", "the header has no %s column",
					   col_names[c]);
	return 0;
}

/* The fault of p ("name: why") as an error of row. */
static void row_error(struct import_error *e, unsigned row, const char *field,
		      const struct problem *p)
{
	const char *why = p->detail;
	size_t fl = strlen(field);
	if (strncmp(why, field, fl) == 0 && why[fl] == ':' && why[fl + 1] == ' ')
		why += fl + 2;
	e->row = row;
	e->field = field;
	snprintf(e->detail, sizeof(e->detail), "%.159s", why);
}

unsigned import_row_check(const struct import_header *h, unsigned record, char **fields,
			  unsigned n, struct import_row *row, struct import_error *errs)
{
	unsigned k = 0;
	struct problem p;
	if (n != h->n) {
		errs[0].row = record;
		errs[0].field = "";
		snprintf(errs[0].detail, sizeof(errs[0].detail), "%u fields, the header has %u", n, h->n);
		return 1;
	}
	const char *cell[COL_N];
	for (int c = 0; c < COL_N; c++)
		cell[c] = h->col[c] >= 0 ? fields[h->col[c]] : NULL;
	/* the members of POST /subscribers, by its field table */
	struct subscriber_in s;
	memset(&s, 0, sizeof(s));
	static const int by_table[] = {COL_USER_PART, COL_DISPLAY_NAME, COL_AUTH_KIND};
	for (size_t i = 0; i < sizeof(by_table) / sizeof(by_table[0]); i++) {
		int c = by_table[i];
		if (!cell[c] || (c == COL_AUTH_KIND && !cell[c][0]))
			continue;
		if (body_field_text(&body_subscriber, col_names[c], cell[c], &s, &p) < 0)
			row_error(&errs[k++], record, col_names[c], &p);
	}
	if (!valid_domain_name(cell[COL_DOMAIN])) {
		errs[k].row = record;
		errs[k].field = "domain";
		snprintf(errs[k].detail, sizeof(errs[k].detail), "must be a hosted domain's name");
		k++;
	}
	if (cell[COL_PASSWORD] && strlen(cell[COL_PASSWORD]) > 1024) {
		errs[k].row = record;
		errs[k].field = "password";
		snprintf(errs[k].detail, sizeof(errs[k].detail), "too long (at most 1024 bytes)");
		k++;
	}
	if (k)
		return k;
	row->user_part = cell[COL_USER_PART];
	row->domain = cell[COL_DOMAIN];
	row->display_name = cell[COL_DISPLAY_NAME] ? cell[COL_DISPLAY_NAME] : "";
	row->password = cell[COL_PASSWORD] && cell[COL_PASSWORD][0] ? cell[COL_PASSWORD] : NULL;
	row->auth_kind = cell[COL_AUTH_KIND] && cell[COL_AUTH_KIND][0] ? cell[COL_AUTH_KIND] : "digest";
	return 0;
}
