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
#
# HTTPS: provd_tls_certs makes a test CA and certificates in
# $HARNESS_DIR/tls; a CONF with tls.cert makes provd_start use
# https://127.0.0.1:PORT as $BASE and trust that CA ($PROVD_CA; curl
# --cacert "$PROVD_CA").

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

# provd_tls_certs: a CA ($PROVD_CA, key ca.key) and provd_tls_cert_for's
# certificates in $PROVD_TLS (= $HARNESS_DIR/tls).
provd_tls_certs() {
    command -v openssl >/dev/null || fail "openssl missing (make deps)"
    PROVD_TLS="$HARNESS_DIR/tls"
    mkdir -p "$PROVD_TLS"
    PROVD_CA="$PROVD_TLS/ca.pem"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=vocal test CA" -keyout "$PROVD_TLS/ca.key" -out "$PROVD_CA" 2>/dev/null ||
        fail "openssl: cannot make the test CA"
}

# provd_tls_cert_for NAME SERIAL DAYS: $PROVD_TLS/NAME.pem and NAME.key
# (mode 600), subject CN=NAME, for IP:127.0.0.1, signed by the test CA,
# valid for DAYS days (-1: expired yesterday).
provd_tls_cert_for() {
    local name="$1" serial="$2" days="$3" dir="$PROVD_TLS"
    (umask 077 && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null) || fail "openssl: key $name"
    printf 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n' >"$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$PROVD_CA" -CAkey "$dir/ca.key" \
        -set_serial "$serial" -days "$days" -extfile "$dir/$name.ext" -out "$dir/$name.pem" \
        2>/dev/null || fail "openssl: certificate $name"
}

# provd_start CONF LOG: provd -d in the background until the test ends;
# waits until it answers on CONF's listen address.
provd_start() {
    local port
    local -a ca=()
    port="$(sed -n 's/^listen = 127.0.0.1://p' "$1")"
    "$PROVD" -d -f "$1" >"$2" 2>&1 &
    PROVD_PID=$!
    harness_on_exit harness_kill_pid "$PROVD_PID"
    BASE="http://127.0.0.1:$port"
    if grep -q '^tls.cert = "..*"' "$1"; then
        BASE="https://127.0.0.1:$port"
        ca=(--cacert "${PROVD_CA:?provd_tls_certs first}")
    fi
    harness_wait_for "provd on $port" 10 curl -s "${ca[@]}" -o /dev/null "$BASE/api/v1/openapi.json" ||
        { cat "$2" >&2; fail "provd did not start"; }
}
