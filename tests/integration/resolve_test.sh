#!/usr/bin/env bash
# RFC 3263 server location (common/sip/resolve.c) against the harness DNS:
# dnsmasq serving test-zone.conf. Through resolve_driver: NAPTR -> SRV ->
# A/AAAA, transport choice, the fallbacks (SRV only, A only, AAAA only,
# CNAME), NXDOMAIN, what skips DNS (an explicit port skips NAPTR/SRV, a
# numeric host skips everything: checked in dnsmasq's query log), the cache,
# failover order, and DNS servers that refuse or never answer.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=SCRIPTDIR/../harness/dns.sh
. "$HERE/../harness/dns.sh"

# The driver is built by the Makefile's pattern rule for tests/*.c.
if [[ -n "${RESOLVE_DRIVER:-}" ]]; then
    DRIVER="$RESOLVE_DRIVER"
else
    target="${BUILD:-build}/tests/integration/resolve_driver"
    DRIVER="$target"
    [[ "$DRIVER" == /* ]] || DRIVER="$ROOT/$DRIVER"
    make --no-print-directory -s -C "$ROOT" "$target" >&2 || fail "cannot build $target"
fi
[[ -x "$DRIVER" ]] || fail "no driver at $DRIVER"

harness_init
dns_start "$HARNESS_LIB_DIR/test-zone.conf"

# resolve [driver options] URI...: the driver's output in OUT, its status in
# RC (run in this shell, not in $(...), so that both survive).
OUT="" RC=0
resolve() {
    RC=0
    "$DRIVER" -s "127.0.0.1:$DNS_PORT" -T 1000 -r 2 "$@" >"$HARNESS_DIR/resolve.out" 2>&1 || RC=$?
    OUT="$(cat "$HARNESS_DIR/resolve.out")"
}

# Number of queries dnsmasq logged for TYPE NAME.
queries() {
    grep -c "query\[$1\] $2 from" "$DNS_LOG" || true
}
log_lines() {
    wc -l <"$DNS_LOG"
}
# dnsmasq writes its log as it answers; allow it a moment before counting.
wait_queries() {
    local type="$1" name="$2" want="$3"
    harness_wait_for "$want $type queries for $name" 2 \
        bash -c '[[ "$(grep -c "query\[$1\] $2 from" "$3" || true)" == "$4" ]]' _ \
        "$type" "$name" "$DNS_LOG" "$want" || true
    assert_eq "$want" "$(queries "$type" "$name")" "$type $name asked $want time(s)"
}

# --- the full chain ---------------------------------------------------------
resolve sip:example.test
out="$OUT"
assert_eq 0 "$RC" "sip:example.test resolves"
# NAPTR order: SIPS+D2T (50), SIP+D2T (90), SIP+D2U (100); per SRV target its
# A then its AAAA; the UDP priority-10 pair in weighted random order.
assert_eq "tls 127.0.0.2:5061 a.example.test 10 0
tls [::1]:5061 a.example.test 10 0
tcp 127.0.0.2:5060 a.example.test 10 0
tcp [::1]:5060 a.example.test 10 0
tcp 127.0.0.4:5064 c.example.test 20 0" "$(head -n 5 <<<"$out")" "NAPTR -> SRV -> A/AAAA: TLS, then TCP by SRV priority"
assert_eq "udp 127.0.0.2:5060 a.example.test 10 60
udp 127.0.0.3:5062 b.example.test 10 40
udp [::1]:5060 a.example.test 10 60" "$(sed -n 6,8p <<<"$out" | sort)" "then UDP: both priority-10 targets"
assert_eq "udp 127.0.0.4:5064 c.example.test 20 0" "$(sed -n '9,$p' <<<"$out")" "then the priority-20 UDP target, last"
assert_eq 1 "$(queries NAPTR example.test)" "one NAPTR query"
assert_eq 1 "$(queries SRV _sips._tcp.example.test)" "SRV of the SIPS+D2T replacement"
assert_eq 1 "$(queries AAAA c.example.test)" "A/AAAA of every SRV target"

resolve -t udp,tcp sip:example.test
out="$OUT"
assert_eq "tcp 127.0.0.2:5060 a.example.test 10 0
tcp [::1]:5060 a.example.test 10 0
tcp 127.0.0.4:5064 c.example.test 20 0" "$(head -n 3 <<<"$out")" "without TLS: SIP+D2T first"
assert_eq "udp" "$(sed -n '4,$p' <<<"$out" | cut -d' ' -f1 | sort -u)" "then SIP+D2U"
assert_eq 1 "$(queries SRV _sips._tcp.example.test)" "without TLS: the SIPS SRV is not asked"

# Failover order: over many seeds, the two priority-10 UDP targets always
# come before the priority-20 one, and both get to be first.
a_first=0 b_first=0
for seed in $(seq 1 30); do
    resolve -t udp -f v4 -S "$seed" sip:example.test
out="$OUT"
    assert_eq 3 "$(wc -l <<<"$out")" "seed $seed: three UDP targets" >/dev/null
    [[ "$(tail -n 1 <<<"$out")" == "udp 127.0.0.4:5064 c.example.test 20 0" ]] ||
        fail "seed $seed: priority 20 not last: $out"
    case "$(head -n 1 <<<"$out")" in
    "udp 127.0.0.2:5060 a.example.test 10 60") a_first=$((a_first + 1)) ;;
    "udp 127.0.0.3:5062 b.example.test 10 40") b_first=$((b_first + 1)) ;;
    *) fail "seed $seed: unexpected first target: $out" ;;
    esac
done
((a_first > 0 && b_first > 0)) || fail "weighted choice never varied (a first $a_first, b first $b_first)"
ok "failover order: priority 10 (a $a_first, b $b_first times first) always before priority 20"

resolve sips:example.test
out="$OUT"
assert_eq "tls 127.0.0.2:5061 a.example.test 10 0
tls [::1]:5061 a.example.test 10 0" "$out" "sips: only SIPS+D2T, TLS targets"

resolve -t udp,tcp sips:example.test
out="$OUT"
assert_eq 2 "$RC" "sips without TLS enabled fails"
assert_contains "$out" "error bad-uri: TLS is needed" "sips without TLS: says why"

# --- fallbacks ---------------------------------------------------------------
resolve sip:srvonly.example.test
out="$OUT"
assert_eq "tcp 127.0.0.3:5070 b.example.test 10 0" "$out" "no NAPTR: SRV of each transport (TCP only here)"
for srv in _sips._tcp _sip._tcp _sip._udp; do
    assert_eq 1 "$(queries SRV "$srv.srvonly.example.test")" "no NAPTR: asked SRV $srv"
done

resolve sip:aonly.example.test
out="$OUT"
assert_eq "udp 127.0.0.5:5060 aonly.example.test 0 0
udp 127.0.0.6:5060 aonly.example.test 0 0" "$(sort <<<"$out")" "no NAPTR, no SRV: A records, UDP port 5060"

resolve sips:aonly.example.test
out="$OUT"
assert_eq "tls 127.0.0.5:5061 aonly.example.test 0 0
tls 127.0.0.6:5061 aonly.example.test 0 0" "$(sort <<<"$out")" "sips with A records only: TLS port 5061"

resolve sip:v6only.example.test
out="$OUT"
assert_eq "udp [::1]:5060 v6only.example.test 0 0" "$out" "AAAA only"
resolve -f v4 sip:v6only.example.test
out="$OUT"
assert_eq "error nodata: A v6only.example.test: no records" "$out" "AAAA only, IPv4 only wanted: no records"

resolve sip:sip.example.test
out="$OUT"
assert_eq "udp 127.0.0.2:5060 sip.example.test 0 0
udp [::1]:5060 sip.example.test 0 0" "$out" "CNAME followed"
resolve sip:proxy.example.test:5080
out="$OUT"
assert_eq "udp 127.0.0.5:5080 proxy.example.test 0 0
udp 127.0.0.6:5080 proxy.example.test 0 0" "$(sort <<<"$out")" "CNAME to a name with two A records"

resolve sip:nosuch.example.test
out="$OUT"
assert_eq 2 "$RC" "NXDOMAIN fails"
assert_eq "error nxdomain: A/AAAA nosuch.example.test: no such name" "$out" "NXDOMAIN error text"

resolve sip:www.example.org
out="$OUT"
assert_eq 2 "$RC" "a name the server refuses fails"
assert_contains "$out" "error timeout: NAPTR www.example.org" "refused: no usable server"

# --- what skips DNS -------------------------------------------------------------
naptr_before="$(queries NAPTR example.test)"
resolve sip:a.example.test:5999
out="$OUT"
assert_eq "udp 127.0.0.2:5999 a.example.test 0 0
udp [::1]:5999 a.example.test 0 0" "$out" "explicit port: A/AAAA of the host"
assert_eq 0 "$(queries NAPTR a.example.test)" "explicit port: no NAPTR"
assert_eq 0 "$(queries SRV _sip._udp.a.example.test)" "explicit port: no SRV"
resolve "sip:a.example.test:5998;transport=tcp"
out="$OUT"
assert_eq "tcp 127.0.0.2:5998 a.example.test 0 0
tcp [::1]:5998 a.example.test 0 0" "$out" "explicit port and transport"
resolve sip:example.test:5070
out="$OUT"
assert_eq "error nodata: A/AAAA example.test: no records" "$out" "explicit port on a NAPTR-only name: no address"
assert_eq "$naptr_before" "$(queries NAPTR example.test)" "explicit port: NAPTR not asked even where it exists"

resolve "sip:example.test;transport=tcp"
out="$OUT"
assert_eq "tcp 127.0.0.2:5060 a.example.test 10 0
tcp [::1]:5060 a.example.test 10 0
tcp 127.0.0.4:5064 c.example.test 20 0" "$out" "transport=tcp: SRV _sip._tcp"
assert_eq "$naptr_before" "$(queries NAPTR example.test)" "transport given: NAPTR skipped"

lines_before="$(log_lines)"
resolve sip:127.0.0.1:5099 'sips:[::1]' 'sip:192.0.2.1;transport=tcp' 'sip:a.example.test;maddr=127.0.0.9'
out="$OUT"
assert_eq "udp 127.0.0.1:5099 127.0.0.1 0 0
--
tls [::1]:5061 ::1 0 0
--
tcp 192.0.2.1:5060 192.0.2.1 0 0
--
udp 127.0.0.9:5060 127.0.0.9 0 0" "$out" "numeric hosts (and maddr) are the target"
sleep 0.2
assert_eq "$lines_before" "$(log_lines)" "numeric hosts: no DNS query at all"

resolve 'sip:nosuch.example.test;maddr=aonly.example.test'
out="$OUT"
assert_eq "udp 127.0.0.5:5060 aonly.example.test 0 0
udp 127.0.0.6:5060 aonly.example.test 0 0" "$(sort <<<"$out")" "maddr replaces the host"

# --- the cache -------------------------------------------------------------------
resolve -n 2 -v sip:cached.example.test
out="$OUT"
assert_eq "udp 127.0.0.7:5060 cached.example.test 0 0
--
udp 127.0.0.7:5060 cached.example.test 0 0
stats queries=6 hits=6 misses=6" "$out" "second resolution served from the cache"
wait_queries A cached.example.test 1
wait_queries NAPTR cached.example.test 1
wait_queries SRV _sip._udp.cached.example.test 1

# TTL 0 is not kept; the NODATA/NXDOMAIN answers around it are (briefly).
a_before="$(queries A aonly.example.test)"
naptr_before="$(queries NAPTR aonly.example.test)"
resolve -n 2 sip:aonly.example.test
wait_queries A aonly.example.test $((a_before + 2))
assert_eq $((naptr_before + 1)) "$(queries NAPTR aonly.example.test)" "negative NAPTR answer cached (one query for two resolutions)"

# --- DNS servers that do not help ---------------------------------------------------
dead="$(harness_free_port both)"
start=$EPOCHREALTIME
RC=0
out="$("$DRIVER" -s "127.0.0.1:$dead" -T 300 -r 2 sip:example.test 2>&1)" || RC=$?
took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
assert_eq 2 "$RC" "nothing listening: fails"
assert_contains "$out" "error timeout: NAPTR example.test" "nothing listening: a timeout error"
((took < 2000)) || fail "nothing listening: took ${took} ms"
ok "nothing listening: answered in ${took} ms"

# A server that takes the packets and never answers: dnsmasq stopped.
_resume_dns() { kill -CONT "$DNS_PID" 2>/dev/null || true; }
harness_on_exit _resume_dns
kill -STOP "$DNS_PID"
start=$EPOCHREALTIME
RC=0
out="$("$DRIVER" -s "127.0.0.1:$DNS_PORT" -T 300 -r 2 sip:example.test 2>&1)" || RC=$?
took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
_resume_dns
assert_eq 2 "$RC" "silent server: fails"
assert_eq "error timeout: NAPTR example.test: no answer from the DNS server" "$out" "silent server: timeout error"
# 300 ms, then 600 ms (c-ares doubles the timeout for the second round).
((took >= 800 && took < 3000)) || fail "silent server: took ${took} ms, expected about 900"
ok "silent server: timed out after ${took} ms, as configured"
