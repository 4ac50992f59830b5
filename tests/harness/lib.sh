# shellcheck shell=bash
# Common helpers for integration tests. Source it, then call harness_init once:
#
#   . "$(dirname "$0")/../harness/lib.sh"
#   harness_init
#
# Every service helper (postgres.sh, dns.sh) registers its own cleanup through
# harness_on_exit, so a test only has to exit (normally, by `fail`, by set -e,
# or by Ctrl-C) for everything to be torn down.

# Guard against being sourced twice (postgres.sh and dns.sh both source us).
if [[ -n "${_HARNESS_LIB_LOADED:-}" ]]; then
    return 0
fi
_HARNESS_LIB_LOADED=1

# Directory of the harness files (test-zone.conf lives here).
export HARNESS_LIB_DIR
HARNESS_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Cleanup commands, stored %q-quoted so arguments survive the later eval.
_HARNESS_CLEANUPS=()
# PID of the shell that owns the cleanups; subshells must not run them.
_HARNESS_OWNER=""
_HARNESS_CLEANED=""

# Create the private temp dir and install the exit trap.
harness_init() {
    if [[ -n "$_HARNESS_OWNER" ]]; then
        # Second call in the same script: keep the existing dir and trap.
        return 0
    fi
    HARNESS_DIR="$(mktemp -d /tmp/vocal-test.XXXXXX)" || return 1
    # 711: other users (postgres) may traverse to their subdirs but not list.
    chmod 711 "$HARNESS_DIR"
    export HARNESS_DIR
    _HARNESS_OWNER="$BASHPID"
    trap '_harness_cleanup' EXIT
    # Turn signals into exits with the conventional status; exit runs the
    # EXIT trap, which is a no-op by then.
    trap 'HARNESS_EXIT_STATUS=130; _harness_cleanup; exit 130' INT
    trap 'HARNESS_EXIT_STATUS=143; _harness_cleanup; exit 143' TERM
}

# For service helpers: init on first use. Checks our own state, not the
# exported HARNESS_DIR, which a child test inherits from its parent.
_harness_ensure_init() {
    [[ -n "$_HARNESS_OWNER" ]] || harness_init
}

# Register a cleanup command; cleanups run in reverse registration order.
harness_on_exit() {
    if [[ $# -eq 0 ]]; then
        echo "harness_on_exit: missing command" >&2
        return 2
    fi
    local quoted
    printf -v quoted '%q ' "$@"
    _HARNESS_CLEANUPS+=("$quoted")
}

_harness_cleanup() {
    # The test's exit status, for cleanups that show logs only on failure
    # (the EXIT trap runs this first, so $? is still the script's).
    local status=$?
    [[ -n "${HARNESS_EXIT_STATUS:-}" ]] || HARNESS_EXIT_STATUS=$status
    # Only the shell that called harness_init cleans up, and only once.
    [[ "$BASHPID" == "$_HARNESS_OWNER" ]] || return 0
    [[ -z "$_HARNESS_CLEANED" ]] || return 0
    _HARNESS_CLEANED=1
    # A failing cleanup must not stop the others from running.
    set +e
    local i
    for ((i = ${#_HARNESS_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${_HARNESS_CLEANUPS[i]}" || echo "harness: cleanup failed: ${_HARNESS_CLEANUPS[i]}" >&2
    done
    if [[ -n "${HARNESS_DIR:-}" && -d "$HARNESS_DIR" ]]; then
        if [[ "${KEEP_TMP:-0}" == 1 ]]; then
            echo "harness: keeping $HARNESS_DIR" >&2
        else
            rm -rf -- "$HARNESS_DIR"
        fi
    fi
}

_harness_port_in_use() {
    local proto="$1" port="$2" flags
    case "$proto" in
        tcp) flags=-Htan ;;
        udp) flags=-Huan ;;
        *) return 2 ;;
    esac
    [[ -n "$(ss "$flags" "sport = :$port" 2>/dev/null)" ]]
}

# The ports harness_free_port hands out: from 10000 up to just below the
# kernel's ephemeral range. A port inside that range can be taken by any
# outgoing connection (psql, curl, a daemon's database session) between
# the pick and the daemon's bind; below it only an explicit bind takes one.
_harness_port_range() {
    local low=32768
    [[ -r /proc/sys/net/ipv4/ip_local_port_range ]] && read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    ((low > 12000)) || low=32768 # an unusual range: the default's bound
    echo "10000 $((low - 1))"
}

# Print a port that is free right now on loopback. PROTO is tcp (default),
# udp, or both (free for tcp and udp, e.g. DNS). Still racy by nature: the
# caller should bind it soon, and retry with another port if binding fails.
harness_free_port() {
    local proto="${1:-tcp}" port attempt lo hi
    case "$proto" in tcp | udp | both) ;; *)
        echo "harness_free_port: unknown protocol '$proto'" >&2
        return 2
        ;;
    esac
    read -r lo hi < <(_harness_port_range)
    for ((attempt = 0; attempt < 200; attempt++)); do
        # RANDOM is only 15 bits; combine two for the range.
        port=$(((RANDOM << 15 | RANDOM) % (hi - lo + 1) + lo))
        # Never hand out the same port twice in one test, even to a service
        # not started yet. Kept in a file: callers use $(...), a subshell.
        if [[ -n "${HARNESS_DIR:-}" && -f "$HARNESS_DIR/.ports" ]] &&
            grep -qx "[a-z]*:$port" "$HARNESS_DIR/.ports"; then
            continue
        fi
        if [[ "$proto" != udp ]] && _harness_port_in_use tcp "$port"; then
            continue
        fi
        if [[ "$proto" != tcp ]] && _harness_port_in_use udp "$port"; then
            continue
        fi
        [[ -z "${HARNESS_DIR:-}" ]] || echo "$proto:$port" >>"$HARNESS_DIR/.ports"
        echo "$port"
        return 0
    done
    echo "harness_free_port: no free $proto port found" >&2
    return 1
}

# "1.5" -> 1500000 (microseconds), pure bash so there is no fork per poll.
_harness_usec() {
    local s="$1" int frac
    int="${s%%.*}"
    frac=""
    [[ "$s" == *.* ]] && frac="${s#*.}"
    frac="${frac}000000"
    frac="${frac:0:6}"
    echo $((10#${int:-0} * 1000000 + 10#$frac))
}

_harness_now_usec() {
    local t="$EPOCHREALTIME"
    echo $((10#${t%.*} * 1000000 + 10#${t#*.}))
}

# Poll CMD every 0.1 s until it succeeds; fail after TIMEOUT_S seconds.
harness_wait_for() {
    if [[ $# -lt 3 ]]; then
        echo "usage: harness_wait_for DESC TIMEOUT_S CMD..." >&2
        return 2
    fi
    local desc="$1" timeout="$2" deadline
    shift 2
    deadline=$(($(_harness_now_usec) + $(_harness_usec "$timeout")))
    while true; do
        if "$@"; then
            return 0
        fi
        if (($(_harness_now_usec) >= deadline)); then
            echo "harness: timed out waiting for $desc" >&2
            return 1
        fi
        sleep 0.1
    done
}

# True while PID exists and is not a zombie (a dead child we have not reaped
# still answers kill -0, so look at its state too).
harness_pid_alive() {
    local pid="$1" stat
    kill -0 "$pid" 2>/dev/null || return 1
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    # Field 3 follows the ")" that closes the command name.
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

# Stop PID: SIG (default TERM), up to 5 s grace, then KILL; reap if ours.
harness_kill_pid() {
    local pid="$1" sig="${2:-TERM}" i
    [[ -n "$pid" ]] || return 0
    if harness_pid_alive "$pid"; then
        kill -s "$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            harness_pid_alive "$pid" || break
            sleep 0.1
        done
        if harness_pid_alive "$pid"; then
            echo "harness: pid $pid ignored SIG$sig for 5 s, sending SIGKILL" >&2
            kill -s KILL "$pid" 2>/dev/null || true
        fi
    fi
    # Reap it if it is our child; fails harmlessly (127) if it is not.
    wait "$pid" 2>/dev/null || true
}

# --- TAP-style assertions: success prints "ok - MSG", failure exits 1. ---

ok() {
    echo "ok - $*"
}

fail() {
    echo "not ok - $*" >&2
    exit 1
}

assert_eq() {
    local expected="$1" actual="$2" msg="$3"
    if [[ "$expected" == "$actual" ]]; then
        ok "$msg"
        return 0
    fi
    {
        echo "not ok - $msg"
        echo "#   expected: '$expected'"
        echo "#   actual:   '$actual'"
    } >&2
    exit 1
}

assert_contains() {
    local haystack="$1" needle="$2" msg="$3"
    if [[ "$haystack" == *"$needle"* ]]; then
        ok "$msg"
        return 0
    fi
    {
        echo "not ok - $msg"
        echo "#   expected to find: '$needle'"
        echo "#   in:"
        printf '%s\n' "$haystack" | sed 's/^/#     /'
    } >&2
    exit 1
}
