#!/usr/bin/env bash
# TLS between two proxies on the proxy core (tests/proxy/testproxy.c):
#
#   SIPp caller --UDP--> proxy A --TLS--> proxy B --UDP--> SIPp callee
#
# A routes the user to B's TLS listener (sip:...;transport=tls, and sips:)
# and verifies B's certificate against tests/unit/tls/ca.pem; B listens
# with tests/unit/tls/server.pem. Each proxy changes transport, so each
# puts two Record-Route entries (RFC 5658), and the in-dialog ACK and BYE
# must cross both proxies along them: the caller's BYE over A's existing
# connection to B, the callee's BYE over a new connection from B to A's
# TLS listener (B verifies A's certificate too).
#
# Negative: A trusting tests/unit/tls/other-ca.pem refuses B's certificate;
# the caller gets an error final response (no hang, no crash) and B never
# sees a request.
#
# Over 127.0.0.1 and over ::1 (the certificate names both).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/sipp.sh
. tests/harness/sipp.sh
# shellcheck source=tests/harness/testproxy.sh
. tests/harness/testproxy.sh
harness_init

SCEN=tests/integration/sipp
TLS=tests/unit/tls
SIPP_TIMEOUT=15s

# Short transaction timers: the negative case ends by Timer B (64*T1) when
# nothing tells the transaction that the TLS connection failed.
T1=50

# the start line of each message in a SIPp trace (sent and received), in order
received() { grep -E '^(SIP/2.0 [0-9]+|[A-Z]+ [^ ]+ SIP/2.0)' "$(sipp_msg "$1")" || true; }

for host in 127.0.0.1 "[::1]"; do
    if [[ $host == "[::1]" ]]; then v=v6; else v=v4; fi
    A_UDP=$(harness_free_port udp)
    A_TLS=$(harness_free_port tcp)
    B_UDP=$(harness_free_port udp)
    B_TLS=$(harness_free_port tcp)
    UAS=$(harness_free_port udp)
    # both proxies listen on TLS (A's sips: Record-Route entry is where the
    # callee's requests come back) and verify the servers they connect to
    tls_opts=(--cert "$TLS/server.pem" --key "$TLS/server.key" --ca "$TLS/ca.pem")

    testproxy_start "$v-A" "udp:$host:$A_UDP,tls:$host:$A_TLS" --t1 $T1 "${tls_opts[@]}" \
        --target "alice=sip:alice@$host:$B_TLS;transport=tls" \
        --target "bob=sips:bob@$host:$B_TLS"
    testproxy_start "$v-B" "udp:$host:$B_UDP,tls:$host:$B_TLS" --t1 $T1 "${tls_opts[@]}" \
        --target "alice=sip:alice@$host:$UAS" --target "bob=sip:bob@$host:$UAS"

    # the caller hangs up: ACK and BYE go A -> B over A's connection
    sipp_bg "$v-call-uas" $SCEN/uas_answer.xml "$host:$UAS"
    sipp_run "$v-call-uac" $SCEN/uac_call.xml "$host:$A_UDP" alice
    sipp_wait "$v-call-uas"
    # what the callee saw came through both proxies, A's leg over TLS, with
    # two Record-Route entries from each
    msg=$(<"$(sipp_msg "$v-call-uas")")
    assert_contains "$msg" "Via: SIP/2.0/TLS $host:$A_TLS;branch=" \
        "$v: the INVITE crossed A -> B over TLS"
    assert_contains "$msg" "Record-Route: <sip:$host:$B_UDP;lr>" "$v: B recorded its UDP side"
    rr=$(grep -m1 -A3 '^Record-Route:' "$(sipp_msg "$v-call-uas")" | grep '^Record-Route:' | tr -d '\r' |
        sed 's/^Record-Route: //' | paste -sd' ')
    assert_eq "<sip:$host:$B_UDP;lr> <sips:$host:$B_TLS;lr> <sips:$host:$A_TLS;lr> <sip:$host:$A_UDP;lr>" \
        "$rr" "$v: double Record-Route at each transport change, outbound side first"
    assert_eq "$(printf '%s\n' 'INVITE' 'ACK' 'BYE')" \
        "$(received "$v-call-uas" | awk '{print $1}' | grep -v '^SIP' | uniq)" \
        "$v: the callee got INVITE, ACK, BYE"
    ok "$v: call over TLS between two proxies, the caller hangs up"

    # the callee hangs up: its BYE goes B -> A over a new TLS connection
    sipp_bg "$v-bye-uas" $SCEN/uas_answer_bye.xml "$host:$UAS"
    sipp_run "$v-bye-uac" $SCEN/uac_call_callee_bye.xml "$host:$A_UDP" alice
    sipp_wait "$v-bye-uas"
    ok "$v: call over TLS between two proxies, the callee hangs up"

    # a sips: target
    sipp_bg "$v-sips-uas" $SCEN/uas_answer.xml "$host:$UAS"
    sipp_run "$v-sips-uac" $SCEN/uac_call.xml "$host:$A_UDP" bob
    sipp_wait "$v-sips-uas"
    assert_contains "$(<"$(sipp_msg "$v-sips-uas")")" "Via: SIP/2.0/TLS $host:$A_TLS;branch=" \
        "$v: sips: target reached over TLS"
    ok "$v: call to a sips: target"
    testproxy_stop "$v-A"
    testproxy_stop "$v-B"
    failures=$(cat "$(testproxy_log "$v-A")" "$(testproxy_log "$v-B")" |
        grep -o "tls-handshake-failures=[0-9]*" | cut -d= -f2 | awk "{s += \$1} END {print s + 0}")
    assert_eq 0 "$failures" "$v: no TLS handshake failed"
    # one connection each way: A's to B for the caller's requests, B's to A
    # for the callee's BYE
    assert_contains "$(<"$(testproxy_log "$v-A")")" "conns-accepted=1 " "$v: A accepted B's connection"
    assert_contains "$(<"$(testproxy_log "$v-B")")" "conns-accepted=1 " "$v: B accepted A's connection"

    # A trusts another CA: B's certificate is refused, the call fails cleanly.
    # The failed connection ends the INVITE client transaction at once
    # (sip_txn_transport_failed), so the answer is a 503 well before Timer B
    # (64*T1); uac_expect_error.xml takes 408, 480, 500, 503 or 504, so the
    # 408 of Timer B would pass too.
    testproxy_start "$v-A-wrong-ca" "udp:$host:$A_UDP,tls:$host:$A_TLS" --t1 $T1 \
        --cert "$TLS/server.pem" --key "$TLS/server.key" --ca "$TLS/other-ca.pem" \
        --target "alice=sip:alice@$host:$B_TLS;transport=tls"
    testproxy_start "$v-B2" "udp:$host:$B_UDP,tls:$host:$B_TLS" --t1 $T1 "${tls_opts[@]}" \
        --target "alice=sip:alice@$host:$UAS"
    start=$(_harness_now_usec)
    sipp_run "$v-badca-uac" $SCEN/uac_expect_error.xml "$host:$A_UDP" alice
    ms=$((($(_harness_now_usec) - start) / 1000))
    status=$(received "$v-badca-uac" | grep -m1 -E '^SIP/2.0 [2-6][0-9][0-9]' | awk '{print $2}')
    ok "$v: wrong CA: the caller got $status after $ms ms"
    testproxy_stop "$v-A-wrong-ca"
    testproxy_stop "$v-B2"
    assert_contains "$(<"$(testproxy_log "$v-A-wrong-ca")")" "tls-handshake-failures=1" \
        "$v: wrong CA: A refused B's certificate"
    assert_contains "$(<"$(testproxy_log "$v-B2")")" "requests=0 " "$v: wrong CA: B got no request"
done
ok "testproxies exited cleanly"
