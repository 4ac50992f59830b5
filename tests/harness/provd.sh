# shellcheck shell=bash
# provd for integration tests, on the harness PostgreSQL:
#
#   . tests/harness/provd.sh
#   provd_setup 'login.address_failures = 1000'   # harness, PostgreSQL, $CONF
#   provd_start "$CONF" "$HARNESS_DIR/provd.log"  # PROVD_PID, BASE
#   app_sql -c 'SELECT 1'
#   api POST /api/v1/domains '{"name": "x.example"}'; jf .id  # with $TOKEN
#   provd_req alice GET /api/v1/session     # with the cookies of jar "alice"
#   expect_problem 404 "what is checked" "part of the detail"
#   provd_listen listener                   # a LISTEN on vocal_changes
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

# provd_req JAR METHOD PATH [BODY [HEADER...]]: a request to $BASE with the
# cookies of JAR ("-": the bearer token $TOKEN instead, "": neither); BODY
# is sent as JSON. Sets CODE, BODY, HDRS (without CRs) and TIME (seconds).
provd_req() {
    local jar="$1" method="$2" path="$3" body="${4-}" out h
    shift 4 2>/dev/null || shift $#
    local -a args=(-s -X "$method" -o "$HARNESS_DIR/body" -D "$HARNESS_DIR/hdrs" -w '%{http_code} %{time_total}')
    [[ -z "${PROVD_CA:-}" || "$BASE" != https:* ]] || args+=(--cacert "$PROVD_CA")
    if [[ "$jar" == - ]]; then
        args+=(-H "Authorization: Bearer $TOKEN")
    elif [[ -n "$jar" ]]; then
        args+=(-b "$HARNESS_DIR/$jar.jar" -c "$HARNESS_DIR/$jar.jar")
    fi
    [[ -z "$body" ]] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
    for h in "$@"; do args+=(-H "$h"); done
    : >"$HARNESS_DIR/body"
    out="$(curl "${args[@]}" "$BASE$path")"
    CODE="${out%% *}"
    TIME="${out##* }"
    BODY="$(cat "$HARNESS_DIR/body")"
    HDRS="$(tr -d '\r' <"$HARNESS_DIR/hdrs")"
}
# api METHOD PATH [BODY [HEADER...]]: provd_req with the bearer token.
api() { provd_req - "$@"; }
# header NAME: the last response's header NAME; jf FILTER: jq of its body.
header() { sed -n "s/^$1: //Ip" <<<"$HDRS" | head -1; }
jf() { jq -r "$1" <<<"$BODY"; }
# expect_problem STATUS MSG [DETAIL-PART]: the last response is a problem
# document (RFC 9457) with that status, and its detail says DETAIL-PART.
expect_problem() {
    assert_eq "$1" "$CODE" "$2: status $1"
    assert_eq "application/problem+json" "$(header Content-Type)" "$2: application/problem+json"
    assert_eq "$1" "$(jf .status)" "$2: problem status"
    [[ "$(jf '.type != null and .title != null and .detail != null')" == true ]] || fail "$2: type, title, detail: $BODY"
    [[ -z "${3-}" ]] || assert_contains "$(jf .detail)" "$3" "$2: detail says '$3'"
}

# provd_listen NAME: a psql session (application_name NAME) LISTENing on
# vocal_changes, what it hears in $HARNESS_DIR/NAME.out; returns once the
# LISTEN is in place. provd_listen_end: the session ends after whatever it
# has been told (psql prints notifications as its next statement runs),
# so NAME.out is complete. One at a time.
provd_listen() {
    local name="$1"
    mkfifo "$HARNESS_DIR/$name.in"
    PGAPPNAME="$name" "$PG_BINDIR/psql" -X -At -v ON_ERROR_STOP=1 "$VOCAL_DB_URI" \
        <"$HARNESS_DIR/$name.in" >"$HARNESS_DIR/$name.out" 2>&1 &
    _PROVD_LISTENER=$!
    harness_on_exit harness_kill_pid "$_PROVD_LISTENER"
    # kept open (fd 9) so that psql does not see the end of its input
    exec 9>"$HARNESS_DIR/$name.in"
    echo "LISTEN vocal_changes;" >&9
    _provd_listening() {
        [[ "$(app_sql -c "SELECT count(*) FROM pg_stat_activity
            WHERE application_name = '$1' AND state = 'idle' AND query ILIKE '%LISTEN%'")" == 1 ]]
    }
    harness_wait_for "listener session $name" 10 _provd_listening "$name"
}
provd_listen_end() {
    echo "SELECT 'after';" >&9
    exec 9>&-
    wait "$_PROVD_LISTENER" || true
}
