# shellcheck shell=bash
# provd for integration tests, on the harness PostgreSQL:
#
#   . tests/harness/provd.sh
#   provd_setup 'login.address_failures = 1000'   # harness, PostgreSQL, $CONF
#   provd_start "$CONF" "$HARNESS_DIR/provd.log"  # PROVD_PID, BASE
#   app_sql -c 'SELECT 1'
#
# provd_setup builds bin/provd when missing (PROVD names another, e.g. the
# ASan build), starts the private PostgreSQL and writes $CONF: a free port
# ($PORT), the migrations, the database and the SHA-256 of a fresh bearer
# token ($TOKEN), then the extra lines given.

# shellcheck source=SCRIPTDIR/postgres.sh
. "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"

_PROVD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROVD="${PROVD:-$_PROVD_ROOT/bin/provd}"

app_sql() { "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 "$VOCAL_DB_URI" "$@"; }

provd_setup() {
    [[ -x "$PROVD" ]] || make --no-print-directory -s -C "$_PROVD_ROOT" bin/provd >&2 || fail "cannot build bin/provd"
    command -v curl >/dev/null || fail "curl missing (make deps)"
    command -v jq >/dev/null || fail "jq missing (make deps)"
    harness_init
    pg_start
    PSQL="$PG_BINDIR/psql"
    PORT=$(harness_free_port tcp)
    TOKEN="test-token-$RANDOM$RANDOM"
    CONF="$HARNESS_DIR/provd.conf"
    {
        echo "listen = 127.0.0.1:$PORT"
        echo "migrations = \"$_PROVD_ROOT/provisioning/sql\""
        echo "db.conninfo = \"$VOCAL_DB_URI\""
        echo "api.token_sha256 = $(printf '%s' "$TOKEN" | sha256sum | cut -c1-64)"
        local line
        for line in "$@"; do echo "$line"; done
    } >"$CONF"
}

# provd_start CONF LOG: provd -d in the background until the test ends;
# waits until it answers on CONF's listen address.
provd_start() {
    local port
    port="$(sed -n 's/^listen = 127.0.0.1://p' "$1")"
    "$PROVD" -d -f "$1" >"$2" 2>&1 &
    PROVD_PID=$!
    harness_on_exit harness_kill_pid "$PROVD_PID"
    BASE="http://127.0.0.1:$port"
    harness_wait_for "provd on $port" 10 curl -s -o /dev/null "$BASE/api/v1/openapi.json" ||
        { cat "$2" >&2; fail "provd did not start"; }
}
