/*
 * PostgreSQL access shared by every daemon and tool: connecting, and the
 * schema migrations that provd owns in provisioning/sql/.
 *
 * Migrations are files NNN_name.sql (NNN a positive decimal number, name of
 * [A-Za-z0-9_-]) in one directory. db_migrate applies those not applied yet,
 * lowest number first, each in its own transaction together with its row in
 * schema_migrations(version, name, sha256, applied_at), so a file is either
 * applied whole and recorded, or not at all. Before applying anything it
 * checks every applied file against the directory and refuses when one
 * changed (SHA-256 differs), disappeared, was renamed, or when a new file is
 * numbered below the newest applied one: an applied migration is never
 * edited, a change is a new file. A session-level advisory lock makes
 * concurrent runs (two daemons starting at once) take turns; the second
 * finds nothing left to do.
 *
 * Files must not contain transaction control (BEGIN/COMMIT) or statements
 * that cannot run in a transaction (CREATE INDEX CONCURRENTLY, VACUUM).
 *
 * Errors are one line in the caller's buffer; nothing is printed except to
 * the log stream a caller passes in. (Notices a migration file raises go to
 * the connection's notice processor, which by default prints on stderr.)
 */
#ifndef VOCAL_DB_H
#define VOCAL_DB_H

#include <stddef.h>
#include <stdio.h>

#include <postgresql/libpq-fe.h>

/* The advisory lock key migrations hold ("vocalmig" in ASCII). */
#define DB_MIGRATE_LOCK_KEY 0x766f63616c6d6967LL

/*
 * Opens a connection. conninfo is anything libpq takes: a URI
 * ("postgresql://vocal:vocal@127.0.0.1:5432/vocal"), key=value pairs, or a
 * multi-host string with target_session_attrs=read-write for failover.
 * Returns the connection (the caller PQfinish()es it), or NULL with the
 * reason in err.
 */
PGconn *db_connect(const char *conninfo, char *err, size_t errlen);

/*
 * Applies the pending migrations of dir, as described above. log, when not
 * NULL, gets one line per file applied ("applied 001_core.sql"). conn must
 * not be inside a transaction. Returns the number of files applied (0: the schema was
 * up to date), or -1 with the reason in err; on -1 every file applied
 * before the failing one stays applied, the failing one is rolled back,
 * and nothing at all is applied when the directory does not match the
 * database.
 */
int db_migrate(PGconn *conn, const char *dir, FILE *log, char *err, size_t errlen);

/*
 * Writes one line per migration, applied or in dir, to out (when not NULL):
 *   "001_core.sql   applied 2026-11-25 14:50:01+00", "002_x.sql   pending",
 *   "003_y.sql   ERROR: ... changed after it was applied ..."
 * and changes nothing in the database. Returns the number of problems found (changed, missing,
 * misnumbered files), 0 when the directory can be applied; -1 with err
 * set when the database or the directory could not be read. *pending, when
 * not NULL, gets the number of files waiting to be applied.
 */
int db_migrate_status(PGconn *conn, const char *dir, FILE *out, int *pending,
	char *err, size_t errlen);

/*
 * The highest applied migration's version, 0 for an empty database (no
 * schema_migrations table or no row), -1 with err set on error.
 */
int db_schema_version(PGconn *conn, char *err, size_t errlen);

#endif
