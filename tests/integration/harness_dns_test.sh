#!/usr/bin/env bash
# Self-test of tests/harness/dns.sh with the shared zone test-zone.conf:
# NAPTR, SRV, A, AAAA, CNAME and negative answers, over UDP and TCP.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../harness/dns.sh
. "$HERE/../harness/dns.sh"

harness_init
dns_start "$HARNESS_LIB_DIR/test-zone.conf"

assert_eq "$$" "$(ps -o ppid= -p "$DNS_PID" | tr -d ' ')" "dnsmasq is a direct child of the test shell"
listen="$(ss -Hlnu "sport = :$DNS_PORT"; ss -Hlnt "sport = :$DNS_PORT")"
assert_contains "$listen" "127.0.0.1:$DNS_PORT" "listening on 127.0.0.1:$DNS_PORT"
[[ "$listen" != *"*:$DNS_PORT"* && "$listen" != *"[::"* ]] || fail "listening beyond 127.0.0.1: $listen"

# Sorted answers, so dnsmasq's record order does not matter.
q() { dig @127.0.0.1 -p "$DNS_PORT" +time=2 +tries=1 "$@" | sort; }
rcode() { dig @127.0.0.1 -p "$DNS_PORT" +time=2 +tries=1 "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }

for transport in udp tcp; do
    t=+notcp
    [[ "$transport" == udp ]] || t=+tcp

    assert_eq '100 50 "s" "SIP+D2U" "" _sip._udp.example.test.
50 50 "s" "SIPS+D2T" "" _sips._tcp.example.test.
90 50 "s" "SIP+D2T" "" _sip._tcp.example.test.' "$(q $t +short NAPTR example.test)" "$transport: NAPTR example.test"

    assert_eq '10 40 5062 b.example.test.
10 60 5060 a.example.test.
20 0 5064 c.example.test.' "$(q $t +short SRV _sip._udp.example.test)" "$transport: SRV _sip._udp, both priorities"

    assert_eq '10 0 5060 a.example.test.
20 0 5064 c.example.test.' "$(q $t +short SRV _sip._tcp.example.test)" "$transport: SRV _sip._tcp"
    assert_eq '10 0 5061 a.example.test.' "$(q $t +short SRV _sips._tcp.example.test)" "$transport: SRV _sips._tcp"

    assert_eq 127.0.0.2 "$(q $t +short A a.example.test)" "$transport: A a.example.test"
    assert_eq ::1 "$(q $t +short AAAA a.example.test)" "$transport: AAAA a.example.test"
    assert_eq "127.0.0.5
127.0.0.6" "$(q $t +short A aonly.example.test)" "$transport: two A records, no SRV (fallback name)"
    assert_eq "" "$(q $t +short AAAA aonly.example.test)" "$transport: A-only name has no AAAA"
    assert_eq "" "$(q $t +short SRV _sip._udp.aonly.example.test)" "$transport: A-only name has no SRV"
    assert_eq "" "$(q $t +short A v6only.example.test)" "$transport: AAAA-only name has no A"
    assert_eq ::1 "$(q $t +short AAAA v6only.example.test)" "$transport: AAAA-only name"
    assert_eq "127.0.0.2
a.example.test." "$(q $t +short A sip.example.test)" "$transport: CNAME followed"
    assert_eq '"vocal test zone"' "$(q $t +short TXT example.test)" "$transport: TXT"

    assert_eq NXDOMAIN "$(rcode $t A nosuchhost.example.test)" "$transport: unknown name is NXDOMAIN"
    assert_eq "" "$(q $t +short A nosuchhost.example.test)" "$transport: unknown name has no answer"
    assert_eq NOERROR "$(rcode $t AAAA aonly.example.test)" "$transport: known name, missing type is NODATA"
    assert_eq REFUSED "$(rcode $t A www.example.org)" "$transport: outside the zone is refused, never forwarded"
done

assert_contains "$(cat "$DNS_LOG")" "query[NAPTR] example.test from 127.0.0.1" "queries are logged to \$DNS_LOG"

# dns_stop: stops now, is idempotent, and the port is released.
pid="$DNS_PID"
dns_stop
dns_stop
if harness_pid_alive "$pid"; then fail "dnsmasq $pid still running after dns_stop"; fi
[[ -z "$(ss -Hlnu "sport = :$DNS_PORT")" ]] || fail "port $DNS_PORT still bound after dns_stop"
ok "dns_stop stops dnsmasq and is idempotent"

# Cleanup on exit, in a child test process.
# shellcheck disable=SC2016 # expanded by the child shell
child_script='
set -euo pipefail
. "$1"
harness_init
dns_start "$HARNESS_LIB_DIR/test-zone.conf"
echo "$HARNESS_DIR $DNS_PID"
'
# Run to completion first (a process substitution would race its cleanup).
KEEP_TMP=0 bash -c "$child_script" child "$HERE/../harness/dns.sh" >"$HARNESS_DIR/child.info" ||
    fail "child test failed (rc $?)"
read -r child_dir child_pid <"$HARNESS_DIR/child.info"
[[ -n "$child_pid" ]] || fail "child test did not start dnsmasq"
if harness_pid_alive "$child_pid"; then fail "child's dnsmasq $child_pid outlived the child"; fi
[[ ! -e "$child_dir" ]] || fail "$child_dir left behind"
ok "dnsmasq and temp dir gone after the test ends"
