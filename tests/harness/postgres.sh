# shellcheck shell=bash
# Private, throw-away PostgreSQL 15 cluster for integration tests.
#
#   . tests/harness/postgres.sh
#   harness_init
#   pg_start            # exports PGHOST PGPORT PGUSER PGDATABASE PG_PID ...
#   "$PG_BINDIR/psql" -c 'select 1'
#   pg_restart          # same data, same port, new postmaster
#
# One cluster per test script. Data, socket and log live in HARNESS_DIR and
# vanish with it. Set PG_HOST_AUTH=scram-sha-256 before pg_start to make TCP
# logins check passwords (vocal/vocal; superuser postgres/postgres). Default:
# trust everywhere, as the tests only ever talk to 127.0.0.1.
# PG_SERVER_ARGS replaces the server options (default: no fsync, for speed);
# a benchmark that compares against a server with PostgreSQL's defaults sets
# the same options that one uses.

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Sourcing twice must not forget a running server.
if [[ -n "${_HARNESS_PG_LOADED:-}" ]]; then
    return 0
fi
_HARNESS_PG_LOADED=1

# Not inherited: an exported value belongs to a parent test's server.
PG_PID=""
_PG_CLEANUP_REGISTERED=""

# Find the server binaries: Debian's versioned dir, then pg_config, then PATH.
_pg_find_bindir() {
    local d
    for d in /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null)"; do
        if [[ -n "$d" && -x "$d/postgres" && -x "$d/initdb" ]]; then
            echo "$d"
            return 0
        fi
    done
    d="$(command -v postgres 2>/dev/null)" || d=""
    if [[ -n "$d" ]]; then
        dirname "$d"
        return 0
    fi
    echo "pg_start: no PostgreSQL server binaries found" >&2
    return 1
}

# Print why we failed plus the end of the server log, then return 1.
_pg_fail() {
    echo "pg: $*" >&2
    if [[ -s "${PG_LOG:-}" ]]; then
        echo "pg: last lines of $PG_LOG:" >&2
        tail -n 30 "$PG_LOG" | sed 's/^/#   /' >&2
    fi
    return 1
}

# PostgreSQL refuses to run as root, so as root everything runs as postgres.
_pg_as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Start the postmaster as a direct child of this shell, so we can wait for
# it and reap it (pg_ctl would leave an orphan that nobody reaps here).
_pg_launch() {
    local -a runas=()
    if [[ "$(id -u)" == 0 ]]; then
        runas=(setpriv --reuid=postgres --regid=postgres --init-groups)
    fi
    # cd /: our cwd may not be readable by postgres. exec: $! is the postmaster.
    (cd / && exec "${runas[@]}" "$PG_BINDIR/postgres" -D "$PG_DATA" \
        -k "$_PG_SOCKDIR" -p "$PGPORT" -h 127.0.0.1 \
        ${PG_SERVER_ARGS:--c fsync=off -c full_page_writes=off -c synchronous_commit=off} \
        </dev/null >>"$PG_LOG" 2>&1) &
    PG_PID=$!
    export PG_PID
}

_pg_ready_or_dead() {
    ! harness_pid_alive "$PG_PID" ||
        "$PG_BINDIR/pg_isready" -q -h "$_PG_SOCKDIR" -p "$PGPORT" -U postgres -d postgres
}

# Launch and wait until it accepts connections. Returns 1 if it died, 2 if
# it died because the port was taken (the caller may retry with another).
_pg_launch_and_wait() {
    local log_before
    log_before=$(stat -c %s "$PG_LOG" 2>/dev/null || echo 0)
    _pg_launch
    harness_wait_for "postgres on port $PGPORT" 30 _pg_ready_or_dead || return 1
    if ! harness_pid_alive "$PG_PID"; then
        wait "$PG_PID" 2>/dev/null || true
        PG_PID=""
        if tail -c +"$((log_before + 1))" "$PG_LOG" | grep -q 'Address already in use'; then
            return 2
        fi
        return 1
    fi
    return 0
}

_pg_psql_admin() {
    "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$_PG_SOCKDIR" -p "$PGPORT" \
        -U postgres -d postgres "$@"
}

pg_start() {
    if [[ -n "$PG_PID" ]] && harness_pid_alive "$PG_PID"; then
        echo "pg_start: already running (pid $PG_PID)" >&2
        return 1
    fi
    _harness_ensure_init
    if [[ -e "$HARNESS_DIR/pgdata/PG_VERSION" ]]; then
        echo "pg_start: cluster already created in this test; use pg_restart" >&2
        return 1
    fi
    PG_BINDIR="$(_pg_find_bindir)" || return 1
    PG_DATA="$HARNESS_DIR/pgdata"
    PG_LOG="$HARNESS_DIR/postgres.log"
    _PG_SOCKDIR="$HARNESS_DIR/pgsock"
    export PG_BINDIR PG_DATA PG_LOG

    mkdir -p "$PG_DATA" "$_PG_SOCKDIR" || return 1
    chmod 700 "$PG_DATA"
    : >"$PG_LOG"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres:postgres "$PG_DATA" "$_PG_SOCKDIR" || return 1
    fi

    local -a initdb_args=(-D "$PG_DATA" --auth=trust -U postgres
        --encoding=UTF8 --locale=C --no-sync --no-instructions)
    if [[ -n "${PG_HOST_AUTH:-}" && "$PG_HOST_AUTH" != trust ]]; then
        # initdb insists on a superuser password once any method needs one.
        local pwfile="$_PG_SOCKDIR/pwfile"
        echo postgres >"$pwfile"
        [[ "$(id -u)" != 0 ]] || chown postgres "$pwfile"
        initdb_args+=(--auth-host="$PG_HOST_AUTH" --pwfile="$pwfile")
    fi
    if ! (cd / && _pg_as_owner "$PG_BINDIR/initdb" "${initdb_args[@]}") >>"$PG_LOG" 2>&1; then
        _pg_fail "initdb failed"
        return 1
    fi
    rm -f "$_PG_SOCKDIR/pwfile"

    if [[ -z "$_PG_CLEANUP_REGISTERED" ]]; then
        harness_on_exit pg_stop
        _PG_CLEANUP_REGISTERED=1
    fi

    # Free ports can be stolen between check and bind (parallel tests): retry.
    local attempt rc=1
    for attempt in 1 2 3 4 5; do
        PGPORT="$(harness_free_port tcp)" || return 1
        rc=0
        _pg_launch_and_wait || rc=$?
        [[ $rc == 2 ]] || break
        echo "pg_start: port $PGPORT taken, retrying ($attempt)" >&2
    done
    if [[ $rc != 0 ]]; then
        _pg_fail "server did not start"
        return 1
    fi

    if ! _pg_psql_admin -c "CREATE ROLE vocal LOGIN PASSWORD 'vocal'" \
        -c "CREATE DATABASE vocal OWNER vocal" >>"$PG_LOG" 2>&1; then
        _pg_fail "could not create role/database vocal"
        return 1
    fi

    export PGHOST="$_PG_SOCKDIR" PGPORT PGUSER=postgres PGDATABASE=vocal
    export VOCAL_DB_URI="postgresql://vocal:vocal@127.0.0.1:$PGPORT/vocal"
}

# Fast shutdown (SIGINT), SIGKILL after 5 s. Safe to call when not running.
pg_stop() {
    [[ -n "${PG_PID:-}" ]] || return 0
    local pid="$PG_PID" children c
    # If we have to SIGKILL the postmaster, its backends must go too.
    children="$(pgrep -P "$pid" 2>/dev/null || true)"
    harness_kill_pid "$pid" INT
    for c in $children; do
        if harness_pid_alive "$c" && [[ "$(cat "/proc/$c/comm" 2>/dev/null)" == postgres ]]; then
            kill -s KILL "$c" 2>/dev/null || true
        fi
    done
    PG_PID=""
    export PG_PID
}

# Stop and start the same cluster on the same port ("database went away").
pg_restart() {
    if [[ -z "${PG_DATA:-}" || -z "${PGPORT:-}" ]]; then
        echo "pg_restart: pg_start was not called" >&2
        return 1
    fi
    pg_stop
    if ! _pg_launch_and_wait; then
        _pg_fail "server did not restart on port $PGPORT"
        return 1
    fi
}
