/*
 * PostgreSQL connection and schema migrations (see db.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "db.h"
#include "text.h"

/* A migration file bigger than this is a mistake (a dump, not a schema). */
#define DB_MIGRATION_MAX (16 * 1024 * 1024)

struct migration {
	int version;
	char *file;             /* "001_core.sql" */
	char sha256[65];        /* lower-case hex */
	char *sql;
};

struct applied {
	int version;
	char *file;
	char *sha256;
	char *applied_at;
};

struct plan {
	struct migration *files;
	size_t nfiles;
	struct applied *done;
	size_t ndone;
};

/* libpq's messages end in a newline and may span lines: make them one line. */
static void copy_one_line(char *dst, size_t dstlen, const char *src)
{
	size_t n = 0;
	bool space = false;

	if (dstlen == 0)
		return;
	for (; src && *src && n + 1 < dstlen; src++) {
		if (*src == '\n' || *src == '\t' || *src == '\r') {
			space = true;
			continue;
		}
		if (space && n > 0 && n + 2 < dstlen)
			dst[n++] = ' ';
		space = false;
		dst[n++] = *src;
	}
	dst[n] = '\0';
}

PGconn *db_connect(const char *conninfo, char *err, size_t errlen)
{
	/* expand_dbname: conninfo is parsed as a whole connection string, and
	 * the fallback application name still applies unless it sets one. */
	const char *keys[] = { "dbname", "fallback_application_name", NULL };
	const char *vals[] = { conninfo, program_invocation_short_name, NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	char msg[512];

	if (conn == NULL) {
		errbuf_printf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		copy_one_line(msg, sizeof msg, PQerrorMessage(conn));
		errbuf_printf(err, errlen, "cannot connect to the database: %s", msg);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* ---- the directory ---------------------------------------------------- */

/* NNN_name.sql: returns the version, 0 when the name is not of that form. */
static int migration_version(const char *name)
{
	const char *p = name;
	long v = 0;

	while (isdigit((unsigned char)*p) && v <= 99999999)
		v = v * 10 + (*p++ - '0');
	if (p == name || p - name > 9 || *p++ != '_' || v <= 0)
		return 0;
	const char *start = p;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == '-')
		p++;
	if (p == start || strcmp(p, ".sql") != 0)
		return 0;
	return (int)v;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int read_file(const char *path, char **out, size_t *lenp, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		errbuf_printf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				errbuf_printf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > DB_MIGRATION_MAX) {
			errbuf_printf(err, errlen, "%s: larger than %d bytes", path, DB_MIGRATION_MAX);
			goto fail;
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		errbuf_printf(err, errlen, "%s: read error", path);
		goto fail;
	}
	fclose(f);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		errbuf_printf(err, errlen, "%s: contains a NUL byte", path);
		free(buf);
		return -1;
	}
	*out = buf;
	*lenp = len;
	return 0;
fail:
	fclose(f);
	free(buf);
	return -1;
}

static int sha256_hex(const char *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int cmp_migration(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;
	return (x->version > y->version) - (x->version < y->version);
}

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		free(p->files[i].file);
		free(p->files[i].sql);
	}
	for (size_t i = 0; i < p->ndone; i++) {
		free(p->done[i].file);
		free(p->done[i].sha256);
		free(p->done[i].applied_at);
	}
	free(p->files);
	free(p->done);
	memset(p, 0, sizeof *p);
}

static int load_dir(struct plan *p, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;
	char path[4096];

	if (d == NULL) {
		errbuf_printf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!ends_with(de->d_name, ".sql"))
			continue;
		int v = migration_version(de->d_name);
		if (v == 0) {
			errbuf_printf(err, errlen, "%s/%s: not a migration name (NNN_name.sql, "
				"NNN a positive number, name of letters, digits, '_' and '-')",
				dir, de->d_name);
			goto fail;
		}
		if (p->nfiles == cap) {
			cap = cap ? cap * 2 : 16;
			struct migration *nf = realloc(p->files, cap * sizeof *nf);
			if (nf == NULL) {
				errbuf_printf(err, errlen, "out of memory");
				goto fail;
			}
			p->files = nf;
		}
		struct migration *m = &p->files[p->nfiles];
		memset(m, 0, sizeof *m);
		m->version = v;
		m->file = strdup(de->d_name);
		if (m->file == NULL) {
			errbuf_printf(err, errlen, "out of memory");
			goto fail;
		}
		p->nfiles++;
		size_t len;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path) {
			errbuf_printf(err, errlen, "%s/%s: path too long", dir, de->d_name);
			goto fail;
		}
		if (read_file(path, &m->sql, &len, err, errlen) < 0)
			goto fail;
		if (sha256_hex(m->sql, len, m->sha256) < 0) {
			errbuf_printf(err, errlen, "%s: SHA-256 failed", path);
			goto fail;
		}
	}
	closedir(d);
	d = NULL;
	if (p->nfiles > 0)
		qsort(p->files, p->nfiles, sizeof *p->files, cmp_migration);
	for (size_t i = 1; i < p->nfiles; i++) {
		if (p->files[i].version == p->files[i - 1].version) {
			errbuf_printf(err, errlen, "%s: %s and %s have the same number %d",
				dir, p->files[i - 1].file, p->files[i].file, p->files[i].version);
			return -1;
		}
	}
	return 0;
fail:
	if (d)
		closedir(d);
	return -1;
}

/* ---- the database ---------------------------------------------------- */

/* Formats the error of a failed result as one line, with the line of the
 * migration file it points at when the server says where. */
static void result_error(char *err, size_t errlen, const char *what,
	const PGresult *res, const PGconn *conn, const char *sql)
{
	char msg[512];
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;

	if (primary)
		snprintf(msg, sizeof msg, "%s%s%s", primary, detail ? " (" : "", detail ? detail : "");
	else
		copy_one_line(msg, sizeof msg, PQerrorMessage(conn));
	if (primary && detail)
		strncat(msg, ")", sizeof msg - strlen(msg) - 1);

	if (sql && pos) {
		/* The position counts characters from 1; the files are ASCII in
		 * practice, and a multibyte character only shifts the column. */
		long chars = strtol(pos, NULL, 10), line = 1;
		for (const char *s = sql; *s && chars > 1; s++) {
			if ((*s & 0xc0) != 0x80)
				chars--;
			if (*s == '\n')
				line++;
		}
		errbuf_printf(err, errlen, "%s: line %ld: %s", what, line, msg);
	} else {
		errbuf_printf(err, errlen, "%s: %s", what, msg);
	}
}

/* Runs a statement without results; 0 or -1 with err set. */
static int exec_cmd(PGconn *conn, const char *sql, int nparams, const char *const *params,
	char *err, size_t errlen)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		result_error(err, errlen, sql, res, conn, NULL);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/* 1 when schema_migrations exists, 0 when not, -1 on error. */
static int have_table(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(conn,
		"SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL, NULL, NULL, NULL, 0);
	int rc = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	else
		result_error(err, errlen, "schema_migrations", res, conn, NULL);
	PQclear(res);
	return rc;
}

static int load_applied(PGconn *conn, struct plan *p, char *err, size_t errlen)
{
	int have = have_table(conn, err, errlen);
	if (have <= 0)
		return have;
	PGresult *res = PQexecParams(conn,
		"SELECT version, name, sha256, to_char(applied_at, 'YYYY-MM-DD HH24:MI:SSOF') "
		"FROM schema_migrations ORDER BY version", 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		result_error(err, errlen, "reading schema_migrations", res, conn, NULL);
		PQclear(res);
		return -1;
	}
	int n = PQntuples(res);
	p->done = calloc(n > 0 ? (size_t)n : 1, sizeof *p->done);
	if (p->done == NULL) {
		PQclear(res);
		errbuf_printf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct applied *a = &p->done[i];
		a->version = atoi(PQgetvalue(res, i, 0));
		a->file = strdup(PQgetvalue(res, i, 1));
		a->sha256 = strdup(PQgetvalue(res, i, 2));
		a->applied_at = strdup(PQgetvalue(res, i, 3));
		p->ndone++;
		if (!a->file || !a->sha256 || !a->applied_at) {
			PQclear(res);
			errbuf_printf(err, errlen, "out of memory");
			return -1;
		}
	}
	PQclear(res);
	return 0;
}

static struct migration *find_file(const struct plan *p, int version)
{
	for (size_t i = 0; i < p->nfiles; i++)
		if (p->files[i].version == version)
			return &p->files[i];
	return NULL;
}

static const struct applied *find_applied(const struct plan *p, int version)
{
	for (size_t i = 0; i < p->ndone; i++)
		if (p->done[i].version == version)
			return &p->done[i];
	return NULL;
}

/*
 * Compares the directory with what was applied. Writes a status line per
 * migration to out when not NULL; the first problem goes to err. Returns
 * the number of problems; *pending gets the number of files to apply.
 */
static int plan_check(const struct plan *p, const char *dir, FILE *out, int *pending,
	char *err, size_t errlen)
{
	int problems = 0, npending = 0, newest = 0;
	char line[512];

	for (size_t i = 0; i < p->ndone; i++) {
		const struct applied *a = &p->done[i];
		const struct migration *m = find_file(p, a->version);
		if (a->version > newest)
			newest = a->version;
		if (m == NULL)
			snprintf(line, sizeof line, "%s was applied (version %d) but is missing from %s",
				a->file, a->version, dir);
		else if (strcmp(m->file, a->file) != 0)
			snprintf(line, sizeof line, "%s was applied as %s (version %d): an applied "
				"file is never renamed", m->file, a->file, a->version);
		else if (strcmp(m->sha256, a->sha256) != 0)
			snprintf(line, sizeof line, "%s changed after it was applied (sha256 %.12s..., "
				"applied %.12s...): never edit an applied migration, add a new file",
				a->file, m->sha256, a->sha256);
		else {
			if (out)
				fprintf(out, "%-32s applied %s\n", a->file, a->applied_at);
			continue;
		}
		if (out)
			fprintf(out, "%-32s ERROR: %s\n", a->file, line);
		if (problems++ == 0)
			errbuf_printf(err, errlen, "%s", line);
	}
	for (size_t i = 0; i < p->nfiles; i++) {
		const struct migration *m = &p->files[i];
		if (find_applied(p, m->version))
			continue;
		if (m->version < newest) {
			snprintf(line, sizeof line, "%s is numbered below the newest applied migration "
				"(%d): number new files above it", m->file, newest);
			if (out)
				fprintf(out, "%-32s ERROR: %s\n", m->file, line);
			if (problems++ == 0)
				errbuf_printf(err, errlen, "%s", line);
			continue;
		}
		npending++;
		if (out)
			fprintf(out, "%-32s pending\n", m->file);
	}
	if (pending)
		*pending = npending;
	return problems;
}

int db_migrate_status(PGconn *conn, const char *dir, FILE *out, int *pending,
	char *err, size_t errlen)
{
	struct plan p = { 0 };
	int rc = -1;

	if (load_dir(&p, dir, err, errlen) == 0 && load_applied(conn, &p, err, errlen) == 0)
		rc = plan_check(&p, dir, out, pending, err, errlen);
	plan_free(&p);
	return rc;
}

int db_schema_version(PGconn *conn, char *err, size_t errlen)
{
	int have = have_table(conn, err, errlen);
	if (have <= 0)
		return have;
	PGresult *res = PQexecParams(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations",
		0, NULL, NULL, NULL, NULL, 0);
	int v = -1;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atoi(PQgetvalue(res, 0, 0));
	else
		result_error(err, errlen, "reading schema_migrations", res, conn, NULL);
	PQclear(res);
	return v;
}

/* Applies one migration and records it, in one transaction. */
static int apply_one(PGconn *conn, const struct migration *m, char *err, size_t errlen)
{
	char version[16];
	const char *params[3] = { version, m->file, m->sha256 };
	PGresult *res;
	ExecStatusType st;

	snprintf(version, sizeof version, "%d", m->version);
	if (exec_cmd(conn, "BEGIN", 0, NULL, err, errlen) < 0)
		return -1;
	/* The simple query protocol: a file is many statements. */
	res = PQexec(conn, m->sql);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		result_error(err, errlen, m->file, res, conn, m->sql);
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		errbuf_printf(err, errlen, "%s: ended the migration's transaction itself "
			"(no BEGIN/COMMIT/ROLLBACK in migration files)", m->file);
		goto rollback;
	}
	if (exec_cmd(conn, "INSERT INTO schema_migrations (version, name, sha256) "
		"VALUES ($1::integer, $2, $3)", 3, params, err, errlen) < 0)
		goto rollback;
	if (exec_cmd(conn, "COMMIT", 0, NULL, err, errlen) < 0)
		goto rollback;
	return 0;
rollback:
	res = PQexec(conn, "ROLLBACK");
	PQclear(res);
	return -1;
}

int db_migrate(PGconn *conn, const char *dir, FILE *log, char *err, size_t errlen)
{
	struct plan p = { 0 };
	char key[32];
	const char *params[1] = { key };
	int applied = -1, pending = 0;
	bool locked = false;

	if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
		errbuf_printf(err, errlen, "db_migrate: the connection is inside a transaction");
		return -1;
	}
	/* Read the directory first: a bad file is reported without touching
	 * the database. */
	if (load_dir(&p, dir, err, errlen) < 0)
		goto out;

	snprintf(key, sizeof key, "%lld", (long long)DB_MIGRATE_LOCK_KEY);
	/* A session lock, held across the per-file transactions: a second
	 * migrator waits here, then finds everything applied. */
	if (exec_cmd(conn, "SELECT pg_advisory_lock($1::bigint)", 1, params, err, errlen) < 0)
		goto out;
	locked = true;
	/* Created only when missing (under the lock, so no race), rather than
	 * with IF NOT EXISTS, whose notice libpq would print. */
	int have = have_table(conn, err, errlen);
	if (have < 0)
		goto out;
	if (!have && exec_cmd(conn, "CREATE TABLE schema_migrations ("
		"version integer PRIMARY KEY CHECK (version > 0), "
		"name text NOT NULL, "
		"sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'), "
		"applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL, err, errlen) < 0)
		goto out;
	if (load_applied(conn, &p, err, errlen) < 0)
		goto out;
	int problems = plan_check(&p, dir, NULL, &pending, err, errlen);
	if (problems > 0) {
		if (problems > 1 && err) {
			size_t n = strlen(err);
			if (n + 1 < errlen)
				snprintf(err + n, errlen - n, " (and %d more problems)", problems - 1);
		}
		goto out;
	}
	applied = 0;
	for (size_t i = 0; i < p.nfiles; i++) {
		const struct migration *m = &p.files[i];
		if (find_applied(&p, m->version))
			continue;
		if (apply_one(conn, m, err, errlen) < 0) {
			applied = -1;
			goto out;
		}
		applied++;
		if (log)
			fprintf(log, "applied %s\n", m->file);
	}
out:
	if (locked) {
		PGresult *res = PQexecParams(conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL,
			params, NULL, NULL, 0);
		PQclear(res);
	}
	plan_free(&p);
	return applied;
}
