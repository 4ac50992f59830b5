#!/usr/bin/env bash
# `make run`: the all-in-one platform on loopback, from a fresh Debian 12
# machine. Installs what is missing, builds, and starts what exists so far:
# today that is the private PostgreSQL cluster under var/ that the daemons
# will share. The SIP daemons, provisioning server and web GUI arrive with
# their issues; this script will start them and print their addresses.
# Running it twice is harmless: a running cluster is left as it is.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. deploy/lib.sh

bash deploy/install-deps.sh
make --no-print-directory -j"$(nproc)" all >/dev/null

pg_cluster_start
# The schema: provisioning/sql/ migrations not applied yet (none on a
# second run). vocal-migrate's last line is "schema version N (...)".
migrate_out=$(bin/vocal-migrate -d "postgresql://vocal:vocal@127.0.0.1:${VOCAL_PG_PORT}/vocal" \
	-s provisioning/sql 2>&1) || die "schema migration failed: ${migrate_out}"
SCHEMA_LINE=${migrate_out##*$'\n'}
demo_seed
echo
echo "vocal is running on this machine (all-in-one, loopback only):"
echo "  PostgreSQL ${PG_VERSION_STR} on 127.0.0.1:${VOCAL_PG_PORT}, database vocal, data in ${VOCAL_PG_DATA}"
echo "    ${SCHEMA_LINE}, migrations in provisioning/sql (bin/vocal-migrate --status)"
echo "    connect: psql 'postgresql://vocal:vocal@127.0.0.1:${VOCAL_PG_PORT}/vocal'"
demo_print
echo "    (they can register once redirectd and marshald exist; the database holds only HA1s)"
echo "  tools: bin/sipcheck FILE...   (parse captured SIP messages), bin/vocal-migrate --status"
echo
echo "Not yet built: the SIP daemons (marshald, redirectd, featured), provd and its web GUI,"
echo "cdrd and heartbeatd. Until they exist there is no GUI address, and the demo subscribers"
echo "have nothing to register with."
echo "Stop with: make stop"
