#!/usr/bin/env bash
# `make run`: the all-in-one platform on loopback, from a fresh Debian 12
# machine. Installs what is missing, builds, starts the private PostgreSQL
# cluster under var/, applies the schema, seeds the demo and the web
# logins (a carrier administrator, one per demo subscriber), makes the
# feature-hop key once (var/feature-secret, for redirectd and featured),
# and (re)starts provd and the SIP daemons: redirectd, featured and the
# user-agent and gateway marshals.
# Running it twice is harmless: a running cluster is left as it is, the
# daemons are restarted on the new build, configs in var/etc are kept.
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
demo_seed_routing
daemon_conf_write
web_accounts_seed
daemons_start
echo
echo "vocal is running on this machine (all-in-one, loopback only):"
echo "  PostgreSQL ${PG_VERSION_STR} on 127.0.0.1:${VOCAL_PG_PORT}, database vocal, data in ${VOCAL_PG_DATA}"
echo "    ${SCHEMA_LINE}, migrations in provisioning/sql (bin/vocal-migrate --status)"
echo "    connect: psql 'postgresql://vocal:vocal@127.0.0.1:${VOCAL_PG_PORT}/vocal'"
echo "  provd (provisioning)  JSON API http://127.0.0.1:${VOCAL_PROVD_PORT}/api/v1 (OpenAPI: .../openapi.json),"
echo "    bearer token in $VOCAL_VAR/api-token:  curl -H \"Authorization: Bearer \$(cat $VOCAL_VAR/api-token)\" http://127.0.0.1:${VOCAL_PROVD_PORT}/api/v1/subscribers"
echo "  web GUI  http://127.0.0.1:${VOCAL_PROVD_PORT}/  (served by provd from web/)"
web_accounts_print
echo "  redirectd (registrar, location, routing)  sip:${VOCAL_SIP_HOST}:${VOCAL_REDIRECT_PORT}"
echo "    feature hops signed with the key in $VOCAL_VAR/feature-secret (features.secret; featured uses the same)"
echo "  featured (subscribers' features: CPL, forwarding, screening, voicemail...)  sip:${VOCAL_SIP_HOST}:${VOCAL_FEATURE_PORT} (udp)"
echo "    voicemail of the demo: ${VOCAL_VOICEMAIL} (register a phone as 1003 to play it)"
echo "  marshald, user agents (phones register and call here)  sip:${VOCAL_SIP_HOST}:${VOCAL_UA_PORT} (udp, tcp)"
echo "  marshald, PSTN gateway ${VOCAL_GATEWAY}  sip:${VOCAL_SIP_HOST}:${VOCAL_GW_PORT} (udp)"
echo "    configs in $VOCAL_VAR/etc, logs in $VOCAL_VAR/log, pid files in $VOCAL_VAR/run"
demo_print
demo_print_features
echo "    register with user name = the number, domain vocal.test, outbound proxy ${VOCAL_SIP_HOST}:${VOCAL_UA_PORT};"
echo "    call each other by number; +1NXXNXXXXXX goes to the gateway; +15550001000 from it reaches 1000"
echo "  tools: bin/sipcheck FILE...   (parse captured SIP messages), bin/vocal-migrate --status"
echo
echo "Not yet built: cdrd and heartbeatd."
echo "Stop with: make stop"
