# shellcheck shell=bash
# Test DNS server (dnsmasq) serving records from a zone spec file.
#
#   . tests/harness/dns.sh
#   harness_init
#   dns_start "$HARNESS_LIB_DIR/test-zone.conf"   # exports DNS_PORT, DNS_PID
#   dig @127.0.0.1 -p "$DNS_PORT" +short NAPTR example.test
#
# The zone spec holds dnsmasq config lines (host-record=, srv-host=,
# naptr-record=, txt-record=, cname=, local=/domain/). Nothing is forwarded
# anywhere: names outside the spec's local=/.../ domains get REFUSED.

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Sourcing twice must not forget a running server.
if [[ -n "${_HARNESS_DNS_LOADED:-}" ]]; then
    return 0
fi
_HARNESS_DNS_LOADED=1

# Not inherited: an exported value belongs to a parent test's server.
DNS_PID=""
_DNS_CLEANUP_REGISTERED=""

_dns_find_dnsmasq() {
    local d
    for d in "$(command -v dnsmasq 2>/dev/null)" /usr/sbin/dnsmasq /sbin/dnsmasq; do
        if [[ -n "$d" && -x "$d" ]]; then
            echo "$d"
            return 0
        fi
    done
    echo "dns_start: dnsmasq not found (apt-get install dnsmasq-base)" >&2
    return 1
}

_dns_fail() {
    echo "dns: $*" >&2
    local f
    for f in "${DNS_LOG:-}" "${_DNS_STDERR:-}"; do
        if [[ -s "$f" ]]; then
            echo "dns: last lines of $f:" >&2
            tail -n 20 "$f" | sed 's/^/#   /' >&2
        fi
    done
    return 1
}

# Any reply at all (even NXDOMAIN/REFUSED) means it is serving; dig exits 9
# when nothing answers.
_dns_ready_or_dead() {
    ! harness_pid_alive "$DNS_PID" ||
        dig @127.0.0.1 -p "$DNS_PORT" +time=1 +tries=1 +short ready.invalid A >/dev/null 2>&1
}

dns_start() {
    local zone="${1:-}"
    if [[ -z "$zone" || ! -r "$zone" ]]; then
        echo "usage: dns_start ZONE_SPEC_FILE (got '${zone}')" >&2
        return 2
    fi
    if [[ -n "$DNS_PID" ]] && harness_pid_alive "$DNS_PID"; then
        echo "dns_start: already running (pid $DNS_PID)" >&2
        return 1
    fi
    _harness_ensure_init
    local dnsmasq
    dnsmasq="$(_dns_find_dnsmasq)" || return 1
    # Absolute, so dnsmasq's error messages name the file unambiguously.
    zone="$(cd "$(dirname "$zone")" && pwd)/$(basename "$zone")"
    DNS_LOG="$HARNESS_DIR/dnsmasq.log"
    _DNS_STDERR="$HARNESS_DIR/dnsmasq.stderr"
    export DNS_LOG

    if [[ -z "$_DNS_CLEANUP_REGISTERED" ]]; then
        harness_on_exit dns_stop
        _DNS_CLEANUP_REGISTERED=1
    fi

    local -a user_args=()
    # As root dnsmasq would switch to "nobody", which cannot write our log.
    [[ "$(id -u)" != 0 ]] || user_args=(--user=root)

    local attempt
    for attempt in 1 2 3 4 5; do
        # dnsmasq serves UDP and TCP on the same port: need both free.
        DNS_PORT="$(harness_free_port both)" || return 1
        : >"$_DNS_STDERR"
        # --conf-file also stops it reading /etc/dnsmasq.conf; --pid-file=
        # (empty) writes no pid file; -k keeps it our direct child.
        "$dnsmasq" --keep-in-foreground --no-resolv --no-hosts --no-poll \
            --listen-address=127.0.0.1 --bind-interfaces --port="$DNS_PORT" \
            "${user_args[@]}" --pid-file= \
            --log-queries --log-facility="$DNS_LOG" \
            --conf-file="$zone" </dev/null >>"$_DNS_STDERR" 2>&1 &
        DNS_PID=$!
        export DNS_PORT DNS_PID
        if ! harness_wait_for "dnsmasq on port $DNS_PORT" 10 _dns_ready_or_dead; then
            _dns_fail "dnsmasq did not answer"
            return 1
        fi
        harness_pid_alive "$DNS_PID" && return 0
        wait "$DNS_PID" 2>/dev/null || true
        DNS_PID=""
        grep -qi 'address already in use' "$_DNS_STDERR" || break
        echo "dns_start: port $DNS_PORT taken, retrying ($attempt)" >&2
    done
    _dns_fail "dnsmasq exited"
    return 1
}

# Stop dnsmasq; safe to call when it is not running.
dns_stop() {
    [[ -n "${DNS_PID:-}" ]] || return 0
    harness_kill_pid "$DNS_PID" TERM
    DNS_PID=""
    export DNS_PID
}
