# shellcheck shell=bash
# SIPp user agents for integration tests: callees in the background, callers
# in the foreground, scenarios filled in from templates.
#
#   . tests/harness/sipp.sh
#   harness_init
#   busy=$(sipp_template tests/integration/sipp/uas_reject.xml.in STATUS=486 "REASON=Busy Here")
#   sipp_bg callee "$busy" "127.0.0.1:$CALLEE_PORT" [-t t1]
#   sipp_run caller tests/integration/sipp/uac_call.xml "127.0.0.1:$PROXY_PORT" alice [-t t1]
#   sipp_wait callee
#   grep -q '^SIP/2.0 486' "$(sipp_msg caller)"
#
# Addresses are HOST:PORT, an IPv6 host in brackets ([::1]:5060). Every
# SIPp plays its scenario once (-m 1) with a global timeout that counts as a
# failure ($SIPP_TIMEOUT, default 20s), with $HARNESS_DIR/sipp as its
# working directory (SIPp writes files there) and these files for NAME
# (a NAME is used once per test):
#
#   NAME.out      its stdout and stderr
#   NAME.msg      every message sent and received (sipp_msg NAME: the path)
#   NAME.errors   unexpected messages
#   NAME.actions  the scenario's <log> actions
#
# A caller or callee whose scenario fails shows its files (and the
# testproxies' logs when testproxy.sh is loaded) on stderr and fails the
# test. Callees still running when the test exits are stopped.

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ -n "${_HARNESS_SIPP_LOADED:-}" ]]; then
    return 0
fi
_HARNESS_SIPP_LOADED=1

# Not inherited: exported values would belong to a parent test's callees.
declare -gA _SIPP_BG_PIDS=()
declare -gA _SIPP_NAMES=() # every NAME used so far
_SIPP_CLEANUP_REGISTERED=""

# sipp_template FILE.in KEY=VALUE...: fill @KEY@ placeholders into a copy of
# FILE.in in $HARNESS_DIR and print the copy's path. A line that holds only
# an unfilled placeholder is deleted (an empty line would end the SIP
# headers), other unfilled placeholders become empty. Call it in $(...).
sipp_template() {
    if [[ $# -lt 1 ]]; then
        echo "usage: sipp_template FILE.in KEY=VALUE..." >&2
        return 2
    fi
    local in=$1 out text kv key
    shift
    if [[ -z "${HARNESS_DIR:-}" || ! -d "$HARNESS_DIR" ]]; then
        echo "sipp_template: call harness_init first" >&2
        return 1
    fi
    if [[ ! -r "$in" ]]; then
        echo "sipp_template: cannot read $in" >&2
        return 1
    fi
    text=$(<"$in")
    for kv in "$@"; do
        key=${kv%%=*}
        if [[ "$kv" != *=* || ! "$key" =~ ^[A-Z_]+$ ]]; then
            echo "sipp_template: '$kv' is not KEY=VALUE with KEY in [A-Z_]" >&2
            return 2
        fi
        if [[ "$text" != *"@$key@"* ]]; then
            echo "sipp_template: $in has no @$key@" >&2
            return 1
        fi
        # Quoted replacement: taken literally (no & or \ expansion).
        text=${text//"@$key@"/"${kv#*=}"}
    done
    out=$(mktemp --suffix=.xml "$HARNESS_DIR/$(basename "$in" .in).XXXXXX") || return 1
    printf '%s\n' "$text" |
        sed -e '/^[[:space:]]*@[A-Z_]*@[[:space:]]*$/d' -e 's|@[A-Z_]*@||g' >"$out" || return 1
    echo "$out"
}

# sipp_msg NAME: the path of NAME's message trace.
sipp_msg() {
    echo "$HARNESS_DIR/sipp/$1.msg"
}

# sipp_bg NAME SCENARIO HOST:PORT [SIPP_ARGS...]: a callee listening on
# HOST:PORT, in the background; sipp_wait NAME collects it.
sipp_bg() {
    if [[ $# -lt 3 ]]; then
        echo "usage: sipp_bg NAME SCENARIO HOST:PORT [SIPP_ARGS...]" >&2
        return 2
    fi
    local name=$1 scen=$2 addr=$3 host port
    shift 3
    _sipp_prepare "$name" || return 1
    scen=$(_sipp_scenario "$scen") || fail "$name: no scenario $2"
    _sipp_split "$addr" || fail "$name: '$addr' is not HOST:PORT"
    # In the background, a subshell that becomes SIPp: $! is SIPp's pid.
    _sipp_exec "$name" "$scen" -i "$host" -p "$port" "$@" &
    _SIPP_BG_PIDS[$name]=$!
}

# sipp_run NAME SCENARIO HOST:PORT SERVICE [SIPP_ARGS...]: a caller, in the
# foreground, sending to HOST:PORT for user SERVICE (-s) from a free port
# of the same host. Fails the test if its scenario fails.
sipp_run() {
    if [[ $# -lt 4 ]]; then
        echo "usage: sipp_run NAME SCENARIO HOST:PORT SERVICE [SIPP_ARGS...]" >&2
        return 2
    fi
    local name=$1 scen=$2 target=$3 service=$4 host port
    shift 4
    _sipp_prepare "$name" || return 1
    scen=$(_sipp_scenario "$scen") || fail "$name: no scenario $2"
    _sipp_split "$target" || fail "$name: '$target' is not HOST:PORT"
    port=$(harness_free_port both) || fail "$name: no free port"
    if ! (_sipp_exec "$name" "$scen" -i "$host" -p "$port" -s "$service" "$@" "$target"); then
        sipp_show_logs "$name"
        fail "$name: the caller's scenario failed"
    fi
}

# sipp_wait NAME: the callee NAME must finish its scenario successfully.
sipp_wait() {
    local name=$1 pid
    pid=${_SIPP_BG_PIDS[$name]:-}
    [[ -n "$pid" ]] || fail "sipp_wait: no callee $name is running"
    unset "_SIPP_BG_PIDS[$name]"
    if ! wait "$pid"; then
        sipp_show_logs "$name"
        fail "$name: the callee's scenario failed"
    fi
}

# sipp_finish NAME: waits for the callee NAME whatever its outcome: one
# that counts what reaches it (-m N for more calls than should come) and
# ends by its timeout ($SIPP_TIMEOUT when it started). Read its messages
# afterwards (sipp_msg NAME).
sipp_finish() {
    local name=$1 pid
    pid=${_SIPP_BG_PIDS[$name]:-}
    [[ -n "$pid" ]] || fail "sipp_finish: no callee $name is running"
    unset "_SIPP_BG_PIDS[$name]"
    wait "$pid" || true
}

# sipp_stop_all: stop the callees nobody waited for (registered for exit).
sipp_stop_all() {
    local name
    for name in "${!_SIPP_BG_PIDS[@]}"; do
        harness_kill_pid "${_SIPP_BG_PIDS[$name]}" TERM
    done
    _SIPP_BG_PIDS=()
}

# sipp_show_logs NAME: on stderr, NAME's files, the unexpected messages any
# other SIPp saw, and the testproxies' logs.
sipp_show_logs() {
    local name=$1 dir=$HARNESS_DIR/sipp f
    for f in "$dir/$name.errors" "$dir/$name.out" "$dir/$name.msg" "$dir/$name.actions"; do
        _sipp_show_file "$f" 40
    done
    for f in "$dir"/*.errors; do
        [[ "$f" == "$dir/$name.errors" ]] || _sipp_show_file "$f" 20
    done
    if declare -F testproxy_show_logs >/dev/null; then
        testproxy_show_logs
    fi
    return 0
}

# --- internals ---

# _sipp_show_file FILE LINES: the end of FILE, if not empty, on stderr.
_sipp_show_file() {
    [[ -s "$1" ]] || return 0
    echo "--- $1" >&2
    tail -n "$2" "$1" >&2
    # SIPp's files may not end in a newline.
    [[ -z "$(tail -c 1 "$1")" ]] || echo >&2
}

_sipp_prepare() {
    local name=$1
    _harness_ensure_init
    command -v sipp >/dev/null || fail "sipp (Debian sip-tester) is not installed"
    mkdir -p "$HARNESS_DIR/sipp"
    if [[ -z "$_SIPP_CLEANUP_REGISTERED" ]]; then
        harness_on_exit sipp_stop_all
        _SIPP_CLEANUP_REGISTERED=1
    fi
    [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || fail "SIPp name '$name': use [A-Za-z0-9._-]"
    [[ -z "${_SIPP_NAMES[$name]:-}" ]] || fail "SIPp name '$name' used twice"
    _SIPP_NAMES[$name]=1
}

# Absolute, since SIPp runs in its own directory.
_sipp_scenario() {
    local scen=$1
    [[ "$scen" == /* ]] || scen=$PWD/$scen
    [[ -r "$scen" ]] || return 1
    echo "$scen"
}

# HOST:PORT or [IPV6]:PORT into the caller's local variables host and port.
_sipp_split() {
    if [[ "$1" =~ ^\[([0-9A-Fa-f:.]+)\]:([0-9]+)$ || "$1" =~ ^([A-Za-z0-9._-]+):([0-9]+)$ ]]; then
        host=${BASH_REMATCH[1]}
        port=${BASH_REMATCH[2]}
        return 0
    fi
    return 1
}

# _sipp_exec NAME SCENARIO SIPP_ARGS...: becomes SIPp, so call it in a
# subshell: ( ... ) or &.
_sipp_exec() {
    local name=$1 scen=$2 dir=$HARNESS_DIR/sipp
    shift 2
    cd "$dir" || exit 1
    exec sipp -sf "$scen" -m 1 -nostdin \
        -timeout "${SIPP_TIMEOUT:-20s}" -timeout_error \
        -trace_err -error_file "$dir/$name.errors" \
        -trace_msg -message_file "$dir/$name.msg" \
        -trace_logs -log_file "$dir/$name.actions" \
        "$@" </dev/null >"$dir/$name.out" 2>&1
}
