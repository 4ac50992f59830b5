# shellcheck shell=bash
# Named testproxy instances (tests/proxy/testproxy.c) for integration tests.
#
#   . tests/harness/testproxy.sh
#   harness_init
#   testproxy_start edge "udp:127.0.0.1:$P,tcp:127.0.0.1:$P" --t1 50 \
#       --target "alice=sip:alice@127.0.0.1:$A"
#   ...
#   testproxy_stop edge        # SIGTERM; fails the test unless it exits 0
#   grep -q 'requests=1 ' "$(testproxy_log edge)"
#
# The binary is $TESTPROXY (default: build/tests/proxy/testproxy of this
# repository). Each instance runs as a direct child of the test with its
# stdout (the "ready" line) in $HARNESS_DIR/testproxy/NAME.out and its
# stderr, which ends with its counters when it stops, appended to
# testproxy_log NAME ($HARNESS_DIR/testproxy/NAME.log). Instances still
# running when the test exits are stopped without a check: stop each one
# with testproxy_stop to have its exit status checked.

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ -n "${_HARNESS_TESTPROXY_LOADED:-}" ]]; then
    return 0
fi
_HARNESS_TESTPROXY_LOADED=1

TESTPROXY=${TESTPROXY:-$(cd "$HARNESS_LIB_DIR/../.." && pwd)/build/tests/proxy/testproxy}

# NAME -> pid while running, "" once stopped; not inherited from a parent.
declare -gA _TESTPROXY_PIDS=()
_TESTPROXY_NAMES=() # in start order, for the logs
_TESTPROXY_CLEANUP_REGISTERED=""

# testproxy_start NAME LISTEN[,LISTEN...] [TESTPROXY_ARGS...]: start testproxy
# NAME listening on each LISTEN (PROTO:HOST:PORT, PROTO udp, tcp or tls, an
# IPv6 HOST in brackets) with --host the first LISTEN's HOST, and wait for
# it to be ready. A stopped NAME may be started again (its log goes on).
testproxy_start() {
    if [[ $# -lt 2 ]]; then
        echo "usage: testproxy_start NAME LISTEN[,LISTEN...] [TESTPROXY_ARGS...]" >&2
        return 2
    fi
    local name=$1 listen=$2 host="" l dir
    local -a ls args=()
    shift 2
    _harness_ensure_init
    [[ -x "$TESTPROXY" ]] || fail "$TESTPROXY is not built (make integration builds it)"
    [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || fail "testproxy name '$name': use [A-Za-z0-9._-]"
    [[ -z "${_TESTPROXY_PIDS[$name]:-}" ]] || fail "testproxy $name is already running"
    IFS=, read -ra ls <<<"$listen"
    for l in "${ls[@]}"; do
        [[ "$l" =~ ^(udp|tcp|tls):([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):[0-9]+$ ]] ||
            fail "testproxy $name: listener '$l' is not PROTO:HOST:PORT"
        [[ -n "$host" ]] || host=${BASH_REMATCH[2]}
        args+=(-l "$l")
    done
    [[ -n "$host" ]] || fail "testproxy $name: no listener"

    dir=$HARNESS_DIR/testproxy
    mkdir -p "$dir"
    if [[ -z "$_TESTPROXY_CLEANUP_REGISTERED" ]]; then
        harness_on_exit testproxy_stop_all
        _TESTPROXY_CLEANUP_REGISTERED=1
    fi
    [[ -n "${_TESTPROXY_PIDS[$name]+set}" ]] || _TESTPROXY_NAMES+=("$name")
    "$TESTPROXY" --host "$host" "${args[@]}" "$@" \
        </dev/null >"$dir/$name.out" 2>>"$dir/$name.log" &
    _TESTPROXY_PIDS[$name]=$!
    harness_wait_for "testproxy $name ready" 5 _testproxy_ready_or_dead "$name" || true
    if ! grep -qs '^ready' "$dir/$name.out"; then
        local pid=${_TESTPROXY_PIDS[$name]} rc=0 why
        _TESTPROXY_PIDS[$name]=""
        if harness_pid_alive "$pid"; then
            harness_kill_pid "$pid" TERM
            why="no ready line within 5 s"
        else
            wait "$pid" 2>/dev/null || rc=$?
            why="it exited with status $rc"
        fi
        testproxy_show_logs "$name"
        fail "testproxy $name did not start: $why"
    fi
}

# testproxy_stop NAME: SIGTERM, then NAME must exit 0 within 10 s; fails the
# test otherwise. Stopping a stopped NAME does nothing.
testproxy_stop() {
    local name=$1 pid rc=0
    [[ -n "${_TESTPROXY_PIDS[$name]+set}" ]] || fail "testproxy_stop: no testproxy $name was started"
    pid=${_TESTPROXY_PIDS[$name]}
    [[ -n "$pid" ]] || return 0
    _TESTPROXY_PIDS[$name]=""
    kill -TERM "$pid" 2>/dev/null || true
    if ! harness_wait_for "testproxy $name to exit" 10 _testproxy_exited "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        testproxy_show_logs "$name"
        fail "testproxy $name did not exit on SIGTERM"
    fi
    wait "$pid" 2>/dev/null || rc=$?
    if ((rc != 0)); then
        testproxy_show_logs "$name"
        fail "testproxy $name exited with status $rc"
    fi
}

# testproxy_stop_all: stop every running testproxy, unchecked (registered
# for exit, where the test has already passed or failed).
testproxy_stop_all() {
    local name
    for name in "${!_TESTPROXY_PIDS[@]}"; do
        if [[ -n "${_TESTPROXY_PIDS[$name]}" ]]; then
            harness_kill_pid "${_TESTPROXY_PIDS[$name]}" TERM
            _TESTPROXY_PIDS[$name]=""
        fi
    done
}

# testproxy_log NAME: the path of NAME's log (stderr, counters at exit).
testproxy_log() {
    echo "$HARNESS_DIR/testproxy/$1.log"
}

# testproxy_show_logs [NAME...]: on stderr, the end of the logs of NAME...
# (default: every testproxy started).
testproxy_show_logs() {
    local name f
    [[ $# -gt 0 ]] || set -- "${_TESTPROXY_NAMES[@]}"
    for name in "$@"; do
        f=$(testproxy_log "$name")
        if [[ -s "$f" ]]; then
            echo "--- testproxy $name: $f" >&2
            tail -n 20 "$f" >&2
        fi
    done
    return 0
}

# --- internals ---

_testproxy_ready_or_dead() {
    grep -qs '^ready' "$HARNESS_DIR/testproxy/$1.out" ||
        ! harness_pid_alive "${_TESTPROXY_PIDS[$1]}"
}

_testproxy_exited() {
    ! harness_pid_alive "$1"
}
