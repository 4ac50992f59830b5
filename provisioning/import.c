/* POST /api/v1/subscribers/import (import.h): the database half. */
#include "provisioning/import.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <postgresql/libpq-fe.h>

#include "sip/digest.h"

/* A row that passed the checks of its cells. */
struct good {
	struct import_row r;
	unsigned record;
	unsigned dom;                 /* index into the import's domains */
	bool refused;                 /* by a later check (domain, duplicate) */
};

struct dom {
	const char *name;
	long long id;                 /* 0: no such domain */
	char realm[130];
};

/* A map of (a, b) string pairs to indexes, open addressing; keys point
 * into the CSV's store. */
struct pairmap {
	struct slot {
		const char *a, *b;
		size_t v;
	} *slots;
	size_t cap;
};

static uint64_t pair_hash(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ull;
	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ull;
	return h;
}

/* The value of (a, b), or inserts v and returns SIZE_MAX. */
static size_t pair_get_or_put(struct pairmap *m, const char *a, const char *b, size_t v)
{
	size_t i = pair_hash(a, b) & (m->cap - 1);
	while (m->slots[i].a) {
		if (!strcmp(m->slots[i].a, a) && !strcmp(m->slots[i].b, b))
			return m->slots[i].v;
		i = (i + 1) & (m->cap - 1);
	}
	m->slots[i] = (struct slot){a, b, v};
	return SIZE_MAX;
}

static int pair_init(struct pairmap *m, size_t n)
{
	m->cap = 16;
	while (m->cap < n * 2 + 2)
		m->cap <<= 1;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	return m->slots ? 0 : -1;
}

struct import {
	struct import_header h;
	bool header;
	struct problem p;             /* a fault of the whole file */
	bool failed;
	unsigned rows;                /* data records */
	struct good *good;
	size_t ngood, gcap;
	/* Errors come in row order within each check (the cells, the
	 * domains, duplicates in the file, in the table), so the first
	 * IMPORT_ERRORS_MAX by row are among the first IMPORT_ERRORS_MAX of
	 * each check: only those are kept (bounded memory for a 64 MiB file
	 * of bad rows), every one is counted. */
	struct import_error *errs;
	size_t nerr, ecap;
	size_t kept;                  /* of the current check */
	size_t total;                 /* errors, kept or not */
	unsigned bad;                 /* rows with an error */
	bool oom;
};

static struct import_error *more_errors(struct import *im, size_t k)
{
	if (im->kept >= IMPORT_ERRORS_MAX)
		return NULL;
	if (im->nerr + k > im->ecap) {
		size_t cap = im->ecap ? im->ecap * 2 : 64;
		while (cap < im->nerr + k)
			cap *= 2;
		struct import_error *e = realloc(im->errs, cap * sizeof(*e));
		if (!e)
			return NULL;
		im->errs = e;
		im->ecap = cap;
	}
	return im->errs + im->nerr;
}

static int on_record(void *arg, unsigned record, char **fields, unsigned n)
{
	struct import *im = arg;
	if (!im->header) {
		im->header = true;
		if (import_header(fields, n, &im->h, &im->p) < 0) {
			im->failed = true;
			return -1;
		}
		return 0;
	}
	im->rows++;
	struct import_error spare[COL_N + 1];
	struct import_error *e = more_errors(im, COL_N + 1);
	if (!e && im->kept < IMPORT_ERRORS_MAX) {
		im->oom = true;
		return -1;
	}
	struct import_row row;
	unsigned k = import_row_check(&im->h, record, fields, n, &row, e ? e : spare);
	if (k) {
		im->total += k;
		im->bad++;
		if (e) {
			im->nerr += k;
			im->kept += k;
		}
		return 0;
	}
	if (im->ngood == im->gcap) {
		size_t cap = im->gcap ? im->gcap * 2 : 256;
		struct good *g = realloc(im->good, cap * sizeof(*g));
		if (!g) {
			im->oom = true;
			return -1;
		}
		im->good = g;
		im->gcap = cap;
	}
	im->good[im->ngood++] = (struct good){.r = row, .record = record};
	return 0;
}

static void refuse(struct import *im, struct good *g, const char *field, const char *detail)
{
	g->refused = true;
	im->total++;
	im->bad++;
	struct import_error *e = more_errors(im, 1);
	if (!e) {
		im->oom |= im->kept < IMPORT_ERRORS_MAX;
		return;
	}
	e->row = g->record;
	e->field = field;
	snprintf(e->detail, sizeof(e->detail), "%s", detail);
	im->nerr++;
	im->kept++;
}

/* ---- PostgreSQL array literals ---------------------------------------------------- */

struct buf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *t = realloc(b->s, cap);
		if (!t) {
			b->oom = true;
			return;
		}
		b->s = t;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

/* Appends one element (NULL: SQL NULL) of an array literal {...}. */
static void put_elem(struct buf *b, const char *v)
{
	put(b, b->len ? "," : "{", 1);
	if (!v) {
		put(b, "NULL", 4);
		return;
	}
	put(b, "\"", 1);
	for (const char *c = v; *c; c++) {
		size_t n = strcspn(c, "\"\\");
		put(b, c, n);
		c += n;
		if (!*c)
			break;
		put(b, "\\", 1);
		put(b, c, 1);
	}
	put(b, "\"", 1);
}

static void put_end(struct buf *b)
{
	put(b, b->len ? "}" : "{}", b->len ? 1 : 2);
}

static void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = 0;
}

/* ---- the handler ------------------------------------------------------------------------ */

static int by_row(const void *x, const void *y)
{
	const struct import_error *a = x, *b = y;
	if (a->row != b->row)
		return a->row < b->row ? -1 : 1;
	return strcmp(a->field, b->field);
}

static json_t *errors_json(const struct import *im)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < im->nerr && i < IMPORT_ERRORS_MAX; i++)
		json_array_append_new(a, json_pack("{s:i, s:s, s:s}", "row", (json_int_t)im->errs[i].row,
						   "field", im->errs[i].field, "detail",
						   im->errs[i].detail));
	return a;
}

static void answer(struct http_resp *resp, int status, json_t *doc, const char *type)
{
	free(resp->body);
	resp->body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!resp->body) {
		http_fail(resp, 500, "Internal error", "out of memory");
		return;
	}
	resp->status = status;
	resp->type = type;
}

/* Resolves the rows' domains (one query) into doms; rows of no domain are
 * refused. Returns 0, or -1 with resp set. */
static int resolve_domains(struct api_call *c, struct import *im, struct dom **doms_out,
			   size_t *ndoms)
{
	struct pairmap m;
	struct dom *doms = NULL;
	size_t n = 0;
	struct buf names = {0};
	int rc = -1;
	if (pair_init(&m, im->ngood) < 0 || !(doms = calloc(im->ngood + 1, sizeof(*doms))))
		goto oom;
	for (size_t i = 0; i < im->ngood; i++) {
		struct good *g = &im->good[i];
		size_t v = pair_get_or_put(&m, g->r.domain, "", n);
		if (v == SIZE_MAX) {
			doms[n].name = g->r.domain;
			put_elem(&names, g->r.domain);
			v = n++;
		}
		g->dom = (unsigned)v;
	}
	put_end(&names);
	if (names.oom)
		goto oom;
	struct api_params ps = API_PARAMS(names.s);
	PGresult *r = api_query(c->resp, "SELECT name, id, realm FROM domains WHERE name = ANY($1::text[])", &ps);
	if (!r)
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		size_t v = pair_get_or_put(&m, PQgetvalue(r, i, 0), "", SIZE_MAX);
		if (v == SIZE_MAX || v >= n)
			continue;
		doms[v].id = atoll(PQgetvalue(r, i, 1));
		snprintf(doms[v].realm, sizeof(doms[v].realm), "%s", PQgetvalue(r, i, 2));
	}
	PQclear(r);
	im->kept = 0;
	for (size_t i = 0; i < im->ngood; i++) {
		if (doms[im->good[i].dom].id)
			continue;
		char why[160];
		snprintf(why, sizeof(why), "no hosted domain %.100s", im->good[i].r.domain);
		refuse(im, &im->good[i], "domain", why);
	}
	rc = 0;
	goto out;
oom:
	http_fail(c->resp, 500, "Internal error", "out of memory");
out:
	free(m.slots);
	free(names.s);
	if (rc < 0)
		free(doms);
	else
		*doms_out = doms, *ndoms = n;
	return rc;
}

/* Refuses the later of two rows with the same user in the same domain,
 * and the rows whose user the domain has already (one query). */
static int find_duplicates(struct api_call *c, struct import *im, const struct dom *doms)
{
	struct pairmap m;
	struct buf ids = {0}, users = {0};
	int rc = -1;
	if (pair_init(&m, im->ngood) < 0)
		goto oom;
	im->kept = 0;
	for (size_t i = 0; i < im->ngood; i++) {
		struct good *g = &im->good[i];
		if (g->refused)
			continue;
		size_t v = pair_get_or_put(&m, g->r.domain, g->r.user_part, i);
		if (v != SIZE_MAX) {
			char why[64];
			snprintf(why, sizeof(why), "the same user and domain as row %u", im->good[v].record);
			refuse(im, g, "user_part", why);
		}
	}
	/* the table: the ordinal (1-based, among the rows sent) of each taken one */
	size_t *sent = malloc((im->ngood + 1) * sizeof(*sent));
	size_t ns = 0;
	if (!sent)
		goto oom;
	for (size_t i = 0; i < im->ngood; i++) {
		if (im->good[i].refused)
			continue;
		char id[24];
		snprintf(id, sizeof(id), "%lld", doms[im->good[i].dom].id);
		put_elem(&ids, id);
		put_elem(&users, im->good[i].r.user_part);
		sent[ns++] = i;
	}
	put_end(&ids);
	put_end(&users);
	if (ids.oom || users.oom) {
		free(sent);
		goto oom;
	}
	struct api_params ps = API_PARAMS(ids.s, users.s);
	PGresult *r = api_query(c->resp,
				"SELECT u.i FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(d, p, i) "
				"JOIN subscribers s ON s.domain_id = u.d AND s.user_part = u.p ORDER BY u.i",
				&ps);
	if (r) {
		im->kept = 0;
		for (int i = 0; i < PQntuples(r); i++) {
			long long k = atoll(PQgetvalue(r, i, 0));
			if (k >= 1 && (size_t)k <= ns)
				refuse(im, &im->good[sent[k - 1]], "user_part", "already exists in that domain");
		}
		PQclear(r);
		rc = 0;
	}
	free(sent);
	goto out;
oom:
	http_fail(c->resp, 500, "Internal error", "out of memory");
out:
	free(m.slots);
	free(ids.s);
	free(users.s);
	return rc;
}

/* Writes the rows not refused in batches, and the audit entry, in one
 * transaction. Returns the rows written, or -1 with resp set. */
static long long write_rows(struct api_call *c, struct import *im, const struct dom *doms)
{
	struct buf col[7] = {{0}};
	long long written = 0;
	PGresult *r;
	if (api_begin(c->resp) < 0)
		return -1;
	size_t i = 0;
	while (i < im->ngood) {
		unsigned batch = 0;
		for (int k = 0; k < 7; k++)
			buf_reset(&col[k]);
		for (; i < im->ngood && batch < IMPORT_BATCH; i++) {
			const struct good *g = &im->good[i];
			if (g->refused)
				continue;
			const struct dom *d = &doms[g->dom];
			char id[24], md5[DIGEST_HEX_MAX], s256[DIGEST_HEX_MAX], s512[DIGEST_HEX_MAX];
			snprintf(id, sizeof(id), "%lld", d->id);
			bool pw = g->r.password != NULL;
			if (pw && (digest_ha1(DIGEST_ALG_MD5, g->r.user_part, d->realm, g->r.password, md5) < 0 ||
				   digest_ha1(DIGEST_ALG_SHA256, g->r.user_part, d->realm, g->r.password, s256) < 0 ||
				   digest_ha1(DIGEST_ALG_SHA512_256, g->r.user_part, d->realm, g->r.password,
					      s512) < 0)) {
				http_fail(c->resp, 500, "Internal error", "cannot compute the digests");
				goto fail;
			}
			put_elem(&col[0], id);
			put_elem(&col[1], g->r.user_part);
			put_elem(&col[2], g->r.display_name);
			put_elem(&col[3], g->r.auth_kind);
			put_elem(&col[4], pw ? md5 : NULL);
			put_elem(&col[5], pw ? s256 : NULL);
			put_elem(&col[6], pw ? s512 : NULL);
			explicit_bzero(md5, sizeof(md5));
			explicit_bzero(s256, sizeof(s256));
			explicit_bzero(s512, sizeof(s512));
			batch++;
		}
		if (!batch)
			break;
		for (int k = 0; k < 7; k++) {
			put_end(&col[k]);
			if (col[k].oom) {
				http_fail(c->resp, 500, "Internal error", "out of memory");
				goto fail;
			}
		}
		struct api_params ps = API_PARAMS(col[0].s, col[1].s, col[2].s, col[3].s, col[4].s,
						  col[5].s, col[6].s);
		r = api_query(c->resp,
			      "INSERT INTO subscribers (domain_id, user_part, display_name, auth_kind, "
			      "ha1_md5, ha1_sha256, ha1_sha512_256) SELECT * FROM unnest($1::bigint[], "
			      "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])",
			      &ps);
		if (!r)
			goto fail;
		written += atoll(PQcmdTuples(r));
		PQclear(r);
	}
	char summary[160];
	snprintf(summary, sizeof(summary), "{\"import\": {\"rows\": %u, \"created\": %lld, \"refused\": %u}}",
		 im->rows, written, im->rows - (unsigned)written);
	struct api_params ap = {0};
	if (c->who.account_id)
		api_param_num(&ap, c->who.account_id);
	else
		api_param(&ap, NULL);
	api_param(&ap, c->who.role == ROLE_TOKEN ? "token" : c->who.login);
	api_param(&ap, c->req->method);
	api_param(&ap, c->req->path);
	api_param(&ap, summary);
	r = api_query(c->resp,
		      "INSERT INTO audit_log (account_id, actor, method, path, resource, resource_id, summary) "
		      "VALUES ($1::bigint, $2, $3, $4, 'subscribers', NULL, $5::jsonb)",
		      &ap);
	if (!r)
		goto fail;
	PQclear(r);
	if (api_commit(c->resp) < 0)
		goto fail_done;
	for (int k = 0; k < 7; k++)
		free(col[k].s);
	return written;
fail:
	api_rollback();
fail_done:
	for (int k = 0; k < 7; k++)
		free(col[k].s);
	return -1;
}

void subscribers_import(struct api_call *c)
{
	struct http_resp *resp = c->resp;
	const char *partial_q = http_query(c->req, "partial");
	if (partial_q && strcmp(partial_q, "true") && strcmp(partial_q, "false")) {
		http_fail(resp, 400, "Invalid query parameter", "partial: must be true or false");
		return;
	}
	bool partial = partial_q && !strcmp(partial_q, "true");
	struct import im = {0};
	struct dom *doms = NULL;
	size_t ndoms = 0;
	char *store = NULL, err[160];
	if (csv_parse(c->req->body, c->req->len, on_record, &im, &store, err, sizeof(err)) < 0) {
		if (im.failed)
			http_problem(resp, &im.p);
		else if (im.oom)
			http_fail(resp, 500, "Internal error", "out of memory");
		else
			http_fail(resp, 400, "Malformed CSV", "%s", err);
		goto out;
	}
	if (!im.header) {
		http_fail(resp, 400, "Malformed CSV",
			  "no header row: give user_part,domain[,display_name][,password][,auth_kind]");
		goto out;
	}
	if (im.ngood && (resolve_domains(c, &im, &doms, &ndoms) < 0 ||
			 find_duplicates(c, &im, doms) < 0))
		goto out;
	if (im.oom) {
		http_fail(resp, 500, "Internal error", "out of memory");
		goto out;
	}
	qsort(im.errs, im.nerr, sizeof(*im.errs), by_row);
	unsigned bad = im.bad;
	if (im.total && !partial) {
		char detail[256];
		snprintf(detail, sizeof(detail),
			 "%zu error%s in %u of %u rows; nothing was written (?partial=true writes the "
			 "good rows)%s",
			 im.total, im.total == 1 ? "" : "s", bad, im.rows,
			 im.total > IMPORT_ERRORS_MAX ? "; errors lists the first 1000" : "");
		json_t *doc = json_pack("{s:s, s:s, s:i, s:s, s:o}", "type",
					"urn:vocal:problem:invalid-rows", "title", "Invalid rows", "status",
					422, "detail", detail, "errors", errors_json(&im));
		answer(resp, 422, doc, "application/problem+json");
		goto out;
	}
	long long written = 0;
	if (im.rows > bad) {
		written = write_rows(c, &im, doms);
		if (written < 0)
			goto out;
	}
	json_t *doc = json_pack("{s:i, s:I, s:i, s:o}", "rows", (int)im.rows, "created",
				(json_int_t)written, "refused", (int)bad, "errors", errors_json(&im));
	answer(resp, 200, doc, "application/json");
out:
	free(doms);
	if (store)
		explicit_bzero(store, c->req->len + 2); /* passwords */
	free(store);
	free(im.good);
	free(im.errs);
	(void)ndoms;
}
