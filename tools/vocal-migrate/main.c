/*
 * vocal-migrate: bring the PostgreSQL schema up to date with the migration
 * files in provisioning/sql/ (see common/db.h for the rules), or show where
 * it stands.
 *
 *   vocal-migrate [-d CONNINFO] [-s SQLDIR] [--status]
 *
 * CONNINFO defaults to $VOCAL_DB_URI, then
 * postgresql://vocal:vocal@127.0.0.1:5432/vocal; SQLDIR to
 * ./provisioning/sql. The last line printed is "schema version N (...)".
 *
 * Exit status: 0 up to date (--status: nothing wrong), 1 database or
 * migration error (--status: a changed, missing or misnumbered file),
 * 2 usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"

#define DEFAULT_CONNINFO "postgresql://vocal:vocal@127.0.0.1:5432/vocal"
#define DEFAULT_SQLDIR "provisioning/sql"

static void usage(FILE *f)
{
	fprintf(f, "usage: vocal-migrate [-d CONNINFO] [-s SQLDIR] [--status]\n"
		"  -d CONNINFO  libpq connection string or URI (default: $VOCAL_DB_URI,\n"
		"               else " DEFAULT_CONNINFO ")\n"
		"  -s SQLDIR    directory of NNN_name.sql migrations (default: " DEFAULT_SQLDIR ")\n"
		"  --status     show applied and pending migrations, change nothing\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "status", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conninfo = getenv("VOCAL_DB_URI");
	const char *dir = DEFAULT_SQLDIR;
	int status_only = 0, c, rc = 1;
	char err[1024];

	if (conninfo == NULL || *conninfo == '\0')
		conninfo = DEFAULT_CONNINFO;
	while ((c = getopt_long(argc, argv, "d:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			conninfo = optarg;
			break;
		case 's':
			dir = optarg;
			break;
		case 'S':
			status_only = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	PGconn *conn = db_connect(conninfo, err, sizeof err);
	if (conn == NULL) {
		fprintf(stderr, "vocal-migrate: %s\n", err);
		return 1;
	}
	if (status_only) {
		int pending = 0;
		int problems = db_migrate_status(conn, dir, stdout, &pending, err, sizeof err);
		int version = problems < 0 ? -1 : db_schema_version(conn, err, sizeof err);
		if (problems < 0 || version < 0) {
			fprintf(stderr, "vocal-migrate: %s\n", err);
		} else if (problems > 0) {
			fprintf(stderr, "vocal-migrate: %s\n", err);
			printf("schema version %d (%d pending, %d problem%s)\n", version, pending,
				problems, problems == 1 ? "" : "s");
		} else {
			printf("schema version %d (%d pending)\n", version, pending);
			rc = 0;
		}
	} else {
		int n = db_migrate(conn, dir, stdout, err, sizeof err);
		char verr[256];
		int version = db_schema_version(conn, verr, sizeof verr);
		if (n < 0) {
			fprintf(stderr, "vocal-migrate: %s\n", err);
			if (version >= 0)
				fprintf(stderr, "vocal-migrate: schema version %d\n", version);
		} else if (version < 0) {
			fprintf(stderr, "vocal-migrate: %s\n", verr);
		} else {
			printf("schema version %d (%d applied now)\n", version, n);
			rc = 0;
		}
	}
	PQfinish(conn);
	return rc;
}
