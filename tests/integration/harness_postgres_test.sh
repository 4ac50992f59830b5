#!/usr/bin/env bash
# Self-test of tests/harness/postgres.sh: private cluster starts (as root
# too), is reachable over TCP and the socket, LISTEN/NOTIFY works, data
# survives pg_restart, and nothing of the cluster outlives the test.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../harness/postgres.sh
. "$HERE/../harness/postgres.sh"

harness_init
pg_start

PSQL="$PG_BINDIR/psql"
# The application's view: TCP with the vocal role's password.
app_sql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$VOCAL_DB_URI" "$@"; }
# Admin view: unix socket as postgres, from the exported PG* variables.
admin_sql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# Every process of the cluster: the postmaster and its children.
cluster_pids() { echo "$PG_PID" "$(pgrep -P "$PG_PID" | tr '\n' ' ')"; }
none_alive() {
    local p
    for p in "$@"; do
        if harness_pid_alive "$p"; then return 1; fi
    done
}

# --- startup and environment ---
[[ -d "$PG_DATA" && -S "$PGHOST/.s.PGSQL.$PGPORT" ]] || fail "socket $PGHOST/.s.PGSQL.$PGPORT missing"
assert_eq "postgresql://vocal:vocal@127.0.0.1:$PGPORT/vocal" "$VOCAL_DB_URI" "VOCAL_DB_URI exported"
assert_eq "postgres vocal" "$PGUSER $PGDATABASE" "PGUSER/PGDATABASE exported"
assert_eq "$$" "$(ps -o ppid= -p "$PG_PID" | tr -d ' ')" "postmaster is a direct child of the test shell"
listen="$(ss -Htln "sport = :$PGPORT")"
assert_contains "$listen" "127.0.0.1:$PGPORT" "listening on 127.0.0.1 only"
[[ "$listen" != *"*:$PGPORT"* && "$listen" != *"[::]:$PGPORT"* ]] || fail "listening beyond loopback: $listen"

if [[ "$(id -u)" == 0 ]]; then
    assert_eq postgres "$(ps -o user= -p "$PG_PID" | tr -d ' ')" "as root: server runs as user postgres"
else
    ok "# SKIP not root, server runs as $(id -un)"
fi

assert_eq "vocal" "$(admin_sql -c "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'vocal'")" \
    "database vocal is owned by role vocal"
assert_eq "off|off|off" "$(admin_sql -c "SELECT current_setting('fsync'), current_setting('full_page_writes'), current_setting('synchronous_commit')")" \
    "durability settings off for speed"

# --- the application role over TCP ---
app_sql -c "CREATE TABLE calls (id serial PRIMARY KEY, caller text NOT NULL)"
app_sql -c "INSERT INTO calls (caller) VALUES ('sip:alice@example.test'), ('sip:bob@example.test')"
assert_eq "sip:alice@example.test,sip:bob@example.test" \
    "$(app_sql -c "SELECT string_agg(caller, ',' ORDER BY id) FROM calls")" "vocal creates/inserts/selects over TCP"
assert_eq "vocal|127.0.0.1" "$(app_sql -c "SELECT current_user, inet_client_addr()")" "session really is vocal over TCP"

# --- LISTEN/NOTIFY, same session ---
out="$(app_sql -c "LISTEN harness_ch" -c "NOTIFY harness_ch, 'same-session'")"
assert_contains "$out" 'notification "harness_ch" with payload "same-session"' "LISTEN/NOTIFY within one session"

# --- LISTEN/NOTIFY, two sessions: the listener is fed through a fifo so we
# decide when it runs its next command (psql prints notifications then). ---
mkfifo "$HARNESS_DIR/listener.in"
PGAPPNAME=harness-listener "$PSQL" -X -At -v ON_ERROR_STOP=1 "$VOCAL_DB_URI" \
    <"$HARNESS_DIR/listener.in" >"$HARNESS_DIR/listener.out" 2>&1 &
listener=$!
harness_on_exit harness_kill_pid "$listener"
exec 3>"$HARNESS_DIR/listener.in"
echo "LISTEN harness_ch2;" >&3
listening() {
    [[ "$(admin_sql -c "SELECT count(*) FROM pg_stat_activity
        WHERE application_name = 'harness-listener' AND state = 'idle' AND query ILIKE 'LISTEN%'")" == 1 ]]
}
harness_wait_for "listener session" 10 listening
app_sql -c "NOTIFY harness_ch2, 'cross-session'"
echo "SELECT 'after';" >&3
exec 3>&-
wait "$listener"
assert_contains "$(cat "$HARNESS_DIR/listener.out")" \
    'notification "harness_ch2" with payload "cross-session"' "LISTEN/NOTIFY across sessions"

# --- restart: same port, new postmaster, data kept ---
old_pids="$(cluster_pids)"
old_port="$PGPORT"
pg_restart
# shellcheck disable=SC2086 # word splitting of the pid list is intended
none_alive $old_pids || fail "processes of the old postmaster survived pg_restart: $old_pids"
assert_eq "$old_port" "$PGPORT" "pg_restart keeps the port"
assert_eq 2 "$(app_sql -c "SELECT count(*) FROM calls")" "data survives pg_restart"

# An explicit stop: clients must see the database gone until it is back.
pg_stop
pg_stop
if app_sql -c "SELECT 1" >/dev/null 2>&1; then fail "server still answers after pg_stop"; fi
ok "pg_stop stops the server and is idempotent"
pg_restart
assert_eq 2 "$(app_sql -c "SELECT count(*) FROM calls")" "pg_restart after pg_stop brings it back"

# --- cleanup on exit, in a child test process (also checks password auth
# and that a TERM to the test tears everything down) ---
# shellcheck disable=SC2016 # expanded by the child shell
child_script='
set -euo pipefail
. "$1"
harness_init
PG_HOST_AUTH=scram-sha-256 pg_start
"$PG_BINDIR/psql" -X -At "$VOCAL_DB_URI" -c "SELECT 1" >/dev/null
bad="${VOCAL_DB_URI/vocal:vocal@/vocal:wrong@}"
if "$PG_BINDIR/psql" -X -At "$bad" -c "SELECT 1" >/dev/null 2>&1; then exit 3; fi
echo "$HARNESS_DIR $PG_PID $(pgrep -P "$PG_PID" | tr "\n" " ")"
if [[ "$2" == wait ]]; then sleep 60 & harness_on_exit harness_kill_pid $!; wait; fi
'
for mode in exit term; do
    info_file="$HARNESS_DIR/child-$mode.info"
    if [[ "$mode" == exit ]]; then
        KEEP_TMP=0 bash -c "$child_script" child "$HERE/../harness/postgres.sh" "$mode" >"$info_file" ||
            fail "child test failed (rc $?)"
    else
        KEEP_TMP=0 bash -c "$child_script" child "$HERE/../harness/postgres.sh" wait >"$info_file" &
        child=$!
        harness_wait_for "child cluster" 30 test -s "$info_file"
        kill -TERM "$child"
        rc=0
        wait "$child" || rc=$?
        assert_eq 143 "$rc" "child killed by TERM exits 143"
    fi
    read -r child_dir child_pids <"$info_file"
    # shellcheck disable=SC2086
    none_alive $child_pids || fail "$mode: cluster processes left: $child_pids"
    [[ ! -e "$child_dir" ]] || fail "$mode: $child_dir left behind"
    if pgrep -f -- "-D $child_dir/pgdata" >/dev/null; then fail "$mode: postmaster of $child_dir still running"; fi
    ok "$mode: cluster and temp dir gone after the test ends; TCP password checked with PG_HOST_AUTH"
done
