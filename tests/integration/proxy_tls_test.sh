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
. tests/harness/lib.sh
harness_init

PROXY=${TESTPROXY:-build/tests/proxy/testproxy}
SCEN=tests/integration/sipp
TLS=tests/unit/tls
[ -x "$PROXY" ] || fail "$PROXY is not built (make integration builds it)"
command -v sipp >/dev/null || fail "sipp (Debian sip-tester) is not installed"
TOP=$PWD

# SIPp writes its logs into the current directory; keep them in ours.
LOGS=$HARNESS_DIR/logs
mkdir -p "$LOGS"

# Short transaction timers: the negative case ends by Timer B (64*T1) when
# nothing tells the transaction that the TLS connection failed.
T1=50

declare -A proxy_pids=()
start_proxy() { # start_proxy NAME ARGS...
    local name=$1
    shift
    "$PROXY" --t1 $T1 "$@" >"$HARNESS_DIR/$name.out" 2>>"$LOGS/$name.log" &
    proxy_pids[$name]=$!
    harness_wait_for "testproxy $name ready" 5 grep -qs '^ready' "$HARNESS_DIR/$name.out" ||
        fail "testproxy $name did not start: $(tail -5 "$LOGS/$name.log")"
}
stop_proxy() { # stop_proxy NAME: SIGTERM; it must exit 0
    local name=$1 pid=${proxy_pids[$1]:-}
    [ -n "$pid" ] || return 0
    proxy_pids[$name]=""
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || fail "testproxy $name exited with an error (see $LOGS/$name.log)"
}
stop_all() {
    local name
    for name in "${!proxy_pids[@]}"; do
        [ -z "${proxy_pids[$name]}" ] || harness_kill_pid "${proxy_pids[$name]}"
    done
}
harness_on_exit stop_all

abspath() { case $1 in /*) echo "$1" ;; *) echo "$TOP/$1" ;; esac; }

# sipp_bg NAME SCENARIO IP PORT [ARGS...]: a callee in the background
declare -A bg_pids=()
sipp_bg() {
    local name=$1 scen=$2 ip=$3 port=$4
    shift 4
    (cd "$LOGS" && exec sipp -sf "$(abspath "$scen")" -i "$ip" -p "$port" -m 1 -nostdin \
        -timeout 15s -timeout_error -trace_err -trace_msg -message_file "$LOGS/$name.msg" \
        "$@" >"$LOGS/$name.out" 2>&1) &
    bg_pids[$name]=$!
}
# sipp_run NAME SCENARIO IP TARGETPORT SERVICE [ARGS...]: a caller in the foreground
sipp_run() {
    local name=$1 scen=$2 ip=$3 target=$4 service=$5 port
    shift 5
    port=$(harness_free_port udp)
    local dest=$ip
    [[ $ip == *:* ]] && dest="[$ip]"
    if ! (cd "$LOGS" && exec sipp -sf "$(abspath "$scen")" -i "$ip" -p "$port" -s "$service" \
        -m 1 -nostdin -timeout 15s -timeout_error -trace_err -trace_msg \
        -message_file "$LOGS/$name.msg" "$@" "$dest:$target" >"$LOGS/$name.out" 2>&1); then
        show_logs "$name"
        fail "$name: the caller's scenario failed"
    fi
}
wait_bg() { # wait_bg NAME: the background callee must finish its scenario
    local name=$1
    if ! wait "${bg_pids[$name]}"; then
        show_logs "$name"
        fail "$name: the callee's scenario failed"
    fi
}
show_logs() {
    local f
    for f in "$LOGS"/*_errors.log "$LOGS/$1.out" "$LOGS"/*.log; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -30 "$f" >&2; }
    done
}
# the start line of each message in a SIPp trace (sent and received), in order
received() { grep -E '^(SIP/2.0 [0-9]+|[A-Z]+ [^ ]+ SIP/2.0)' "$LOGS/$1.msg" || true; }

for ip in 127.0.0.1 ::1; do
    if [[ $ip == *:* ]]; then host="[$ip]"; v=v6; else host=$ip; v=v4; fi
    A_UDP=$(harness_free_port udp)
    A_TLS=$(harness_free_port tcp)
    B_UDP=$(harness_free_port udp)
    B_TLS=$(harness_free_port tcp)
    UAS=$(harness_free_port udp)
    # both proxies listen on TLS (A's sips: Record-Route entry is where the
    # callee's requests come back) and verify the servers they connect to
    tls_opts=(--cert "$TLS/server.pem" --key "$TLS/server.key" --ca "$TLS/ca.pem")

    start_proxy "$v-A" --host "$host" -l "udp:$host:$A_UDP" -l "tls:$host:$A_TLS" "${tls_opts[@]}" \
        --target "alice=sip:alice@$host:$B_TLS;transport=tls" \
        --target "bob=sips:bob@$host:$B_TLS"
    start_proxy "$v-B" --host "$host" -l "udp:$host:$B_UDP" -l "tls:$host:$B_TLS" "${tls_opts[@]}" \
        --target "alice=sip:alice@$host:$UAS" --target "bob=sip:bob@$host:$UAS"

    # the caller hangs up: ACK and BYE go A -> B over A's connection
    sipp_bg "$v-call-uas" $SCEN/uas_answer.xml "$ip" "$UAS"
    sipp_run "$v-call-uac" $SCEN/uac_call.xml "$ip" "$A_UDP" alice
    wait_bg "$v-call-uas"
    # what the callee saw came through both proxies, A's leg over TLS, with
    # two Record-Route entries from each
    msg=$(cat "$LOGS/$v-call-uas.msg")
    assert_contains "$msg" "Via: SIP/2.0/TLS $host:$A_TLS;branch=" \
        "$v: the INVITE crossed A -> B over TLS"
    assert_contains "$msg" "Record-Route: <sip:$host:$B_UDP;lr>" "$v: B recorded its UDP side"
    rr=$(grep -m1 -A3 '^Record-Route:' "$LOGS/$v-call-uas.msg" | grep '^Record-Route:' | tr -d '\r' |
        sed 's/^Record-Route: //' | paste -sd' ')
    assert_eq "<sip:$host:$B_UDP;lr> <sips:$host:$B_TLS;lr> <sips:$host:$A_TLS;lr> <sip:$host:$A_UDP;lr>" \
        "$rr" "$v: double Record-Route at each transport change, outbound side first"
    assert_eq "$(printf '%s\n' 'INVITE' 'ACK' 'BYE')" \
        "$(received "$v-call-uas" | awk '{print $1}' | grep -v '^SIP' | uniq)" \
        "$v: the callee got INVITE, ACK, BYE"
    ok "$v: call over TLS between two proxies, the caller hangs up"

    # the callee hangs up: its BYE goes B -> A over a new TLS connection
    sipp_bg "$v-bye-uas" $SCEN/uas_answer_bye.xml "$ip" "$UAS"
    sipp_run "$v-bye-uac" $SCEN/uac_call_callee_bye.xml "$ip" "$A_UDP" alice
    wait_bg "$v-bye-uas"
    ok "$v: call over TLS between two proxies, the callee hangs up"

    # a sips: target
    sipp_bg "$v-sips-uas" $SCEN/uas_answer.xml "$ip" "$UAS"
    sipp_run "$v-sips-uac" $SCEN/uac_call.xml "$ip" "$A_UDP" bob
    wait_bg "$v-sips-uas"
    assert_contains "$(cat "$LOGS/$v-sips-uas.msg")" "Via: SIP/2.0/TLS $host:$A_TLS;branch=" \
        "$v: sips: target reached over TLS"
    ok "$v: call to a sips: target"
    stop_proxy "$v-A"
    stop_proxy "$v-B"
    failures=$(cat "$LOGS/$v-A.log" "$LOGS/$v-B.log" | grep -o "tls-handshake-failures=[0-9]*" | cut -d= -f2 | awk "{s += \$1} END {print s + 0}")
    assert_eq 0 "$failures" "$v: no TLS handshake failed"
    # one connection each way: A's to B for the caller's requests, B's to A
    # for the callee's BYE
    assert_contains "$(cat "$LOGS/$v-A.log")" "conns-accepted=1 " "$v: A accepted B's connection"
    assert_contains "$(cat "$LOGS/$v-B.log")" "conns-accepted=1 " "$v: B accepted A's connection"

    # A trusts another CA: B's certificate is refused, the call fails cleanly.
    # Nothing passes the failed connection (sip_tp_on_error) to the INVITE
    # client transaction yet, so today the answer is a 408 after Timer B
    # (64*T1); uac_expect_error.xml also takes the 503 that a transport error
    # path would give at once.
    start_proxy "$v-A-wrong-ca" --host "$host" -l "udp:$host:$A_UDP" -l "tls:$host:$A_TLS" \
        --cert "$TLS/server.pem" --key "$TLS/server.key" --ca "$TLS/other-ca.pem" \
        --target "alice=sip:alice@$host:$B_TLS;transport=tls"
    start_proxy "$v-B2" --host "$host" -l "udp:$host:$B_UDP" -l "tls:$host:$B_TLS" "${tls_opts[@]}" \
        --target "alice=sip:alice@$host:$UAS"
    start=$(_harness_now_usec)
    sipp_run "$v-badca-uac" $SCEN/uac_expect_error.xml "$ip" "$A_UDP" alice
    ms=$((($(_harness_now_usec) - start) / 1000))
    status=$(received "$v-badca-uac" | grep -m1 -E '^SIP/2.0 [2-6][0-9][0-9]' | awk '{print $2}')
    ok "$v: wrong CA: the caller got $status after $ms ms"
    stop_proxy "$v-A-wrong-ca"
    stop_proxy "$v-B2"
    assert_contains "$(cat "$LOGS/$v-A-wrong-ca.log")" "tls-handshake-failures=1" \
        "$v: wrong CA: A refused B's certificate"
    assert_contains "$(cat "$LOGS/$v-B2.log")" "requests=0 " "$v: wrong CA: B got no request"
done
ok "testproxies exited cleanly"
