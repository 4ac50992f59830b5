# shellcheck shell=bash
# The platform for end-to-end tests: a private PostgreSQL with the schema
# and test data, redirectd, a user-agent marshal and a gateway marshal, all
# on loopback with free ports.
#
#   . tests/harness/platform.sh
#   harness_init
#   platform_start                  # exports the ports and users below
#   sipp_run ... "127.0.0.1:$UA_PORT"
#   platform_stop_daemon redirect   # SIGTERM, checks the exit status
#   platform_start_daemon redirect  # again, same config and ports
#
# Data: domain vocal.test (realm vocal.test); subscribers 1000-1009 with
# password "pw<user>" (digest), 1010 with authentication none, 1011 with an
# IP access list of 127.0.0.1/32; alias "alice" -> 1001; DID +15550001000
# -> 1000; dial plan "default": +1NXXNXXXXXX or 1NXXNXXXXXX or NXXNXXXXXX
# -> sip:+1...@gateway marshal; a marshal_ua group with the UA marshal and
# a marshal_gateway group with the gateway marshal.
#
# Exports: REDIRECT_PORT, UA_PORT (udp+tcp), GW_PORT (udp), GATEWAY_PORT
# (where the gateway marshal sends calls to numbers: a test's SIPp), the
# daemons' logs in $HARNESS_DIR/platform/NAME.log (shown when a test fails
# through platform_show_logs), configs in $HARNESS_DIR/platform/NAME.conf.
# PLATFORM_DIGEST_ALGS (default md5: SIPp and baresip answer nothing else),
# PLATFORM_TIMER_C (the marshals' timer_c, default 20s) and
# PLATFORM_EXTRA_<NAME> (extra config lines) tune the configs.
#
# With PLATFORM_FEATURES=1 the feature server runs too: featured on
# FEATURE_PORT (udp), a server group "features" (kind feature, on_failure
# $PLATFORM_FEATURE_ON_FAILURE, default fail) with it as member, and the
# feature-hop secret shared with redirectd in FEATURE_SECRET (64 hex
# digits); FEATURE_GROUP_ID is the group's id. PLATFORM_FEATURED_TRUST
# adds featured trusted_peers (a test that plays a platform server);
# PLATFORM_FEATURED_LOG_LEVEL is its log_level (default debug; a benchmark
# wants info, what a carrier runs).
# PLATFORM_FEATURE_LISTEN_EXTRA adds addresses featured listens on too
# (one featured serving several groups, one address in each).
# PLATFORM_FEATURES=2 runs a second featured (daemon name feature2, on
# FEATURE2_PORT, its log platform_log feature2) in the same group, after
# the first (priority 10 against 0: redirectd's 302 lists it second).

# shellcheck source=SCRIPTDIR/postgres.sh
. "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"
# shellcheck source=SCRIPTDIR/sipp.sh
. "$(dirname "${BASH_SOURCE[0]}")/sipp.sh"

if [[ -n "${_HARNESS_PLATFORM_LOADED:-}" ]]; then
    return 0
fi
_HARNESS_PLATFORM_LOADED=1

PLATFORM_ROOT=$(cd "$HARNESS_LIB_DIR/../.." && pwd)
PLATFORM_BIN=${PLATFORM_BIN:-$PLATFORM_ROOT/bin}
declare -gA _PLATFORM_PIDS=()
_PLATFORM_CLEANUP_REGISTERED=""

_platform_ha1() { # ALG USER REALM PASSWORD
    printf '%s:%s:%s' "$2" "$3" "$4" | openssl dgst "-$1" -r | cut -d' ' -f1
}

platform_sql() {
    "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 "$VOCAL_DB_URI" "$@"
}

_platform_seed() {
    local sql="$HARNESS_DIR/platform/seed.sql" u
    {
        echo "INSERT INTO domains (name, realm) VALUES ('vocal.test', 'vocal.test');"
        echo "INSERT INTO server_groups (name, kind) VALUES ('ua', 'marshal_ua'), ('gw', 'marshal_gateway'), ('redirect', 'redirect');"
        echo "INSERT INTO servers (group_id, host, port) SELECT id, '127.0.0.1', $UA_PORT FROM server_groups WHERE name = 'ua';"
        echo "INSERT INTO servers (group_id, host, port) SELECT id, '127.0.0.1', $GW_PORT FROM server_groups WHERE name = 'gw';"
        echo "INSERT INTO servers (group_id, host, port) SELECT id, '127.0.0.1', $REDIRECT_PORT FROM server_groups WHERE name = 'redirect';"
        if [[ -n "${FEATURE_PORT:-}" ]]; then
            echo "INSERT INTO server_groups (name, kind, on_failure) VALUES ('features', 'feature', '${PLATFORM_FEATURE_ON_FAILURE:-fail}');"
            echo "INSERT INTO servers (group_id, host, port) SELECT id, '127.0.0.1', $FEATURE_PORT FROM server_groups WHERE name = 'features';"
        fi
        if [[ -n "${FEATURE2_PORT:-}" ]]; then
            echo "INSERT INTO servers (group_id, host, port, priority) SELECT id, '127.0.0.1', $FEATURE2_PORT, 10 FROM server_groups WHERE name = 'features';"
        fi
        for u in 1000 1001 1002 1003 1004 1005 1006 1007 1008 1009; do
            echo "INSERT INTO subscribers (domain_id, user_part, display_name, ha1_md5, ha1_sha256, ha1_sha512_256, marshal_group_id)
                  SELECT d.id, '$u', 'Test $u', '$(_platform_ha1 md5 "$u" vocal.test "pw$u")',
                         '$(_platform_ha1 sha256 "$u" vocal.test "pw$u")', '$(_platform_ha1 sha512-256 "$u" vocal.test "pw$u")', g.id
                  FROM domains d, server_groups g WHERE d.name = 'vocal.test' AND g.name = 'ua';"
        done
        echo "INSERT INTO subscribers (domain_id, user_part, auth_kind) SELECT id, '1010', 'none' FROM domains WHERE name = 'vocal.test';"
        echo "INSERT INTO subscribers (domain_id, user_part, auth_kind) SELECT id, '1011', 'ip' FROM domains WHERE name = 'vocal.test';"
        echo "INSERT INTO subscriber_acl (subscriber_id, network) SELECT id, '127.0.0.1/32' FROM subscribers WHERE user_part = '1011';"
        echo "INSERT INTO aliases (subscriber_id, domain_id, user_part) SELECT s.id, s.domain_id, 'alice' FROM subscribers s WHERE s.user_part = '1001';"
        echo "INSERT INTO dids (subscriber_id, number) SELECT id, '+15550001000' FROM subscribers WHERE user_part = '1000';"
        echo "INSERT INTO dial_plans (name) VALUES ('default');"
        echo "INSERT INTO dial_plan_entries (dial_plan_id, position, pattern, contact_template)
              SELECT id, 10, '^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})\$', 'sip:+1\\1@127.0.0.1:$GW_PORT' FROM dial_plans WHERE name = 'default';"
    } >"$sql"
    platform_sql -f "$sql" >/dev/null
}

_platform_write_configs() {
    local d="$HARNESS_DIR/platform" algs="${PLATFORM_DIGEST_ALGS:-md5}"
    cat >"$d/redirect.conf" <<EOF
listen = 127.0.0.1:$REDIRECT_PORT
instance = redirect-a
registrar.min_expires = 10
sweep_interval = 5s
startup_grace = 5s
${FEATURE_SECRET:+features.secret = $FEATURE_SECRET}
${PLATFORM_EXTRA_REDIRECT:-}
[db]
conninfo = "$VOCAL_DB_URI"
EOF
    local name fport
    for name in feature feature2; do
        fport=${FEATURE_PORT:-}
        [[ $name == feature ]] || fport=${FEATURE2_PORT:-}
        [[ -n "$fport" ]] || continue
        cat >"$d/$name.conf" <<EOF
listen = 127.0.0.1:$fport ${PLATFORM_FEATURE_LISTEN_EXTRA:-}
redirect = 127.0.0.1:$REDIRECT_PORT
features.secret = $FEATURE_SECRET
features.voicemail = "${PLATFORM_VOICEMAIL:-}"
trusted_peers = ${PLATFORM_FEATURED_TRUST:-}
timer_c = ${PLATFORM_TIMER_C:-20s}
log_level = ${PLATFORM_FEATURED_LOG_LEVEL:-debug}
${PLATFORM_EXTRA_FEATURE:-}
[db]
conninfo = "$VOCAL_DB_URI"
EOF
    done
    cat >"$d/ua.conf" <<EOF
kind = ua
listen = 127.0.0.1:$UA_PORT
redirect = 127.0.0.1:$REDIRECT_PORT
trusted_peers = 127.0.0.1:$GW_PORT
auth.algorithms = $algs
timer_c = ${PLATFORM_TIMER_C:-20s}
${PLATFORM_EXTRA_UA:-}
[db]
conninfo = "$VOCAL_DB_URI"
EOF
    cat >"$d/gw.conf" <<EOF
kind = gateway
listen = 127.0.0.1:$GW_PORT
transports = udp
redirect = 127.0.0.1:$REDIRECT_PORT
trusted_peers = 127.0.0.1:$UA_PORT
gateway = 127.0.0.1:$GATEWAY_PORT
auth.algorithms = $algs
timer_c = ${PLATFORM_TIMER_C:-20s}
${PLATFORM_EXTRA_GW:-}
[db]
conninfo = "$VOCAL_DB_URI"
EOF
}

# platform_start_daemon NAME (redirect, ua, gw, feature or feature2):
# start it and wait until it answers OPTIONS.
platform_start_daemon() {
    local name=$1 bin port
    case "$name" in
    redirect) bin=redirectd port=$REDIRECT_PORT ;;
    ua) bin=marshald port=$UA_PORT ;;
    gw) bin=marshald port=$GW_PORT ;;
    feature) bin=featured port=$FEATURE_PORT ;;
    feature2) bin=featured port=$FEATURE2_PORT ;;
    *) echo "platform_start_daemon: unknown $name" >&2; return 2 ;;
    esac
    local log="$HARNESS_DIR/platform/$name.log"
    "$PLATFORM_BIN/$bin" -f "$HARNESS_DIR/platform/$name.conf" >>"$log" 2>&1 &
    _PLATFORM_PIDS[$name]=$!
    harness_wait_for "$name to answer OPTIONS" 15 _platform_answers "$name" "$port" || {
        platform_show_logs
        return 1
    }
}

_platform_answers() {
    harness_pid_alive "${_PLATFORM_PIDS[$1]}" || { echo "$1 exited" >&2; return 1; }
    sipsak -s "sip:127.0.0.1:$2" -H 127.0.0.1 >/dev/null 2>&1
}

# platform_stop_daemon NAME [SIGNAL]: stop it; with TERM (default) its exit
# status must be 0.
platform_stop_daemon() {
    local name=$1 sig=${2:-TERM} pid=${_PLATFORM_PIDS[$1]:-} rc=0
    [[ -n "$pid" ]] || return 0
    kill -s "$sig" "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    _PLATFORM_PIDS[$name]=""
    if [[ "$sig" == TERM && $rc != 0 ]]; then
        echo "platform: $name exited with status $rc" >&2
        platform_show_logs
        return 1
    fi
}

platform_log() { echo "$HARNESS_DIR/platform/$1.log"; }

# platform_register NAME USER CONTACT_PORT [SIPP_ARGS...]: a SIPp named NAME
# registers USER (password pw<USER>) through the UA marshal for 300 s with
# the contact 127.0.0.1:CONTACT_PORT (a callee SIPp's), and must get 200.
platform_register() {
    local name=$1 user=$2 port=$3 scen
    shift 3
    scen=$(sipp_template "$PLATFORM_ROOT/tests/integration/sipp/platform/register.xml.in" USER="$user" \
        PASSWORD="pw$user" CONTACT="127.0.0.1:$port" EXPIRES=300 EXPECT=200)
    sipp_run "$name" "$scen" "127.0.0.1:$UA_PORT" x "$@"
}

platform_show_logs() {
    local f
    for f in "$HARNESS_DIR"/platform/*.log; do
        [[ -e "$f" ]] || continue
        echo "--- $f (last 40 lines)" >&2
        tail -n 40 "$f" | sed 's/^/#   /' >&2
    done
}

_platform_stop_all() {
    local n
    for n in "${!_PLATFORM_PIDS[@]}"; do
        [[ -n "${_PLATFORM_PIDS[$n]}" ]] && harness_kill_pid "${_PLATFORM_PIDS[$n]}" TERM
    done
    return 0
}

platform_start() {
    _harness_ensure_init
    mkdir -p "$HARNESS_DIR/platform"
    [[ -x "$PLATFORM_BIN/redirectd" && -x "$PLATFORM_BIN/marshald" && -x "$PLATFORM_BIN/featured" && -x "$PLATFORM_ROOT/bin/vocal-migrate" ]] ||
        make --no-print-directory -s -C "$PLATFORM_ROOT" all >&2 || return 1
    if [[ -z "$_PLATFORM_CLEANUP_REGISTERED" ]]; then
        harness_on_exit _platform_stop_all
        _PLATFORM_CLEANUP_REGISTERED=1
    fi
    pg_start || return 1
    "$PLATFORM_ROOT/bin/vocal-migrate" -d "$VOCAL_DB_URI" -s "$PLATFORM_ROOT/provisioning/sql" >/dev/null || return 1
    REDIRECT_PORT=$(harness_free_port both)
    UA_PORT=$(harness_free_port both)
    GW_PORT=$(harness_free_port udp)
    GATEWAY_PORT=$(harness_free_port udp)
    export REDIRECT_PORT UA_PORT GW_PORT GATEWAY_PORT
    if [[ "${PLATFORM_FEATURES:-}" == 1 || "${PLATFORM_FEATURES:-}" == 2 ]]; then
        FEATURE_PORT=$(harness_free_port udp)
        FEATURE_SECRET=$(openssl rand -hex 32)
        export FEATURE_PORT FEATURE_SECRET
    fi
    if [[ "${PLATFORM_FEATURES:-}" == 2 ]]; then
        FEATURE2_PORT=$(harness_free_port udp)
        export FEATURE2_PORT
    fi
    _platform_seed || return 1
    if [[ -n "${FEATURE_PORT:-}" ]]; then
        FEATURE_GROUP_ID=$(platform_sql -c "SELECT id FROM server_groups WHERE name = 'features'")
        export FEATURE_GROUP_ID
    fi
    _platform_write_configs
    platform_start_daemon redirect && platform_start_daemon ua && platform_start_daemon gw || return 1
    if [[ -n "${FEATURE_PORT:-}" ]]; then
        platform_start_daemon feature || return 1
    fi
    if [[ -n "${FEATURE2_PORT:-}" ]]; then
        platform_start_daemon feature2 || return 1
    fi
}

# --- helpers for the end-to-end tests (with sipp.sh) ---

# platform_received NAME: the messages SIPp NAME received, CRs removed.
platform_received() {
    awk '/ message received/ {rx = 1; next} / message sent/ {rx = 0} rx' "$HARNESS_DIR/sipp/$1.msg" | tr -d '\r'
}

# platform_statuses NAME: the status codes of the responses SIPp NAME
# received, in order, on one line ("401 200").
platform_statuses() {
    platform_received "$1" | awk '/^SIP\/2.0 [0-9][0-9][0-9]/ {printf "%s%s", sep, $2; sep = " "}'
    echo
}

# platform_responses NAME: "STATUS METHOD" (from the CSeq) of each response
# SIPp NAME received, one a line.
platform_responses() {
    platform_received "$1" | awk '/^SIP\/2.0 [0-9][0-9][0-9]/ {st = $2} /^CSeq:/ && st {print st, $3; st = ""}'
}

# platform_bindings USER: USER@vocal.test's rows in location_bindings, one
# a line: contact|expires|cseq|path|received, by contact.
platform_bindings() {
    platform_sql -c "SELECT b.contact, b.expires, b.cseq, array_to_string(b.path, ','), coalesce(b.received, '')
        FROM location_bindings b JOIN subscribers s ON s.id = b.subscriber_id
        WHERE s.user_part = '$1' ORDER BY b.contact"
}
