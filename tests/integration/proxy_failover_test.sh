#!/usr/bin/env bash
# RFC 3263 server location and failover in the proxy core, with real DNS
# and real user agents: a dnsmasq serving a zone written here (its ports are
# picked at run time), a testproxy that locates next hops by name through it
# (--dns) with short transaction timers (--t1 50: Timer B is 3.2 s), and
# SIPp callers and callees, all on 127.0.0.1.
#
#  a. NAPTR -> SRV -> A to a callee: the call completes.
#  b. SRV priority 10 is a port where nothing listens: after Timer B the
#     proxy tries priority 20, which answers; the call completes.
#  c. priority 10 answers 503: the proxy tries priority 20 with a new
#     transaction; the call completes and the caller never sees the 503.
#  d. priority 10 silent, priority 20 answers 503: the caller gets an error
#     final response (500: a proxy does not relay 503, RFC 3261 16.7).
#  e. a name that does not exist: 404, at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
. tests/harness/dns.sh
harness_init

PROXY=${TESTPROXY:-build/tests/proxy/testproxy}
SCEN=tests/integration/sipp
[ -x "$PROXY" ] || fail "$PROXY is not built (make integration builds it)"
command -v sipp >/dev/null || fail "sipp (Debian sip-tester) is not installed"

LOGS=$HARNESS_DIR/logs
mkdir -p "$LOGS"
TOP=$PWD
abspath() { case $1 in /*) echo "$1" ;; *) echo "$TOP/$1" ;; esac; }

# ---- the zone: every SIP address is 127.0.0.1, on ports picked now ------
PPORT=$(harness_free_port udp)  # the proxy
A=$(harness_free_port udp)      # a: the callee
B_DEAD=$(harness_free_port udp) # b: nothing listens here
B=$(harness_free_port udp)      # b: the callee
C_503=$(harness_free_port udp)  # c: answers 503
C=$(harness_free_port udp)      # c: the callee
D_DEAD=$(harness_free_port udp) # d: nothing listens here
D_503=$(harness_free_port udp)  # d: answers 503

ZONE=$HARNESS_DIR/fail-zone.conf
cat >"$ZONE" <<EOF
local=/fail.test/
host-record=host.fail.test,127.0.0.1
# a: the whole chain (the proxy listens on UDP only: SIP+D2U)
naptr-record=a.fail.test,10,50,s,SIP+D2U,,_sip._udp.a.fail.test
srv-host=_sip._udp.a.fail.test,host.fail.test,$A,10,0
# b, c, d: no NAPTR; SRV by priority
srv-host=_sip._udp.b.fail.test,host.fail.test,$B_DEAD,10,0
srv-host=_sip._udp.b.fail.test,host.fail.test,$B,20,0
srv-host=_sip._udp.c.fail.test,host.fail.test,$C_503,10,0
srv-host=_sip._udp.c.fail.test,host.fail.test,$C,20,0
srv-host=_sip._udp.d.fail.test,host.fail.test,$D_DEAD,10,0
srv-host=_sip._udp.d.fail.test,host.fail.test,$D_503,20,0
EOF
dns_start "$ZONE"

# ---- the proxy ----------------------------------------------------------
proxy_pid=""
stop_proxy() {
    if [ -n "$proxy_pid" ]; then
        kill -TERM "$proxy_pid" 2>/dev/null || true
        wait "$proxy_pid" 2>/dev/null || fail "testproxy exited with an error (see $LOGS/proxy.log)"
        proxy_pid=""
    fi
}
harness_on_exit stop_proxy
"$PROXY" --host 127.0.0.1 -l "udp:127.0.0.1:$PPORT" --t1 50 --dns "127.0.0.1:$DNS_PORT" \
    --target "fo_a=sip:alice@a.fail.test" \
    --target "fo_b=sip:bob@b.fail.test" \
    --target "fo_c=sip:carol@c.fail.test" \
    --target "fo_d=sip:dave@d.fail.test" \
    --target "fo_e=sip:eve@nosuch.fail.test" \
    >"$HARNESS_DIR/proxy.out" 2>>"$LOGS/proxy.log" &
proxy_pid=$!
harness_wait_for "testproxy ready" 5 grep -q '^ready' "$HARNESS_DIR/proxy.out" ||
    fail "testproxy did not start: $(tail -5 "$LOGS/proxy.log")"

# ---- SIPp, as in proxy_sipp_test.sh -------------------------------------
template() { # template FILE.in KEY=VALUE...: writes the filled file, prints its path
    local in=$1 out
    shift
    out=$HARNESS_DIR/$(basename "$in" .in).$RANDOM.xml
    cp "$in" "$out"
    local kv
    for kv in "$@"; do
        sed -i "s|@${kv%%=*}@|${kv#*=}|g" "$out"
    done
    sed -i -e '/^[[:space:]]*@[A-Z_]*@[[:space:]]*$/d' -e 's|@[A-Z_]*@||g' "$out"
    echo "$out"
}

declare -A bg_pids=()
sipp_bg() { # sipp_bg NAME SCENARIO PORT [ARGS...]: a callee in the background
    local name=$1 scen=$2 port=$3
    shift 3
    (cd "$LOGS" && exec sipp -sf "$(abspath "$scen")" -i 127.0.0.1 -p "$port" -m 1 -nostdin \
        -timeout 20s -timeout_error -trace_err -trace_msg -message_file "$LOGS/$name.msg" \
        "$@" >"$LOGS/$name.out" 2>&1) &
    bg_pids[$name]=$!
}
sipp_run() { # sipp_run NAME SCENARIO SERVICE [ARGS...]: a caller in the foreground
    local name=$1 scen=$2 service=$3
    shift 3
    local port
    port=$(harness_free_port udp)
    if ! (cd "$LOGS" && exec sipp -sf "$(abspath "$scen")" -i 127.0.0.1 -p "$port" -s "$service" \
        -m 1 -nostdin -timeout 20s -timeout_error -trace_err -trace_msg \
        -message_file "$LOGS/$name.msg" "$@" "127.0.0.1:$PPORT" >"$LOGS/$name.out" 2>&1); then
        show_logs "$name"
        fail "$name: the caller's scenario failed"
    fi
}
wait_bg() { # wait_bg NAME: the background callee must finish its scenario
    if ! wait "${bg_pids[$1]}"; then
        show_logs "$1"
        fail "$1: the callee's scenario failed"
    fi
}
stop_bg() { # stop_bg: callees still running (after a failure) go too
    local name
    for name in "${!bg_pids[@]}"; do
        harness_kill_pid "${bg_pids[$name]}" TERM
    done
}
harness_on_exit stop_bg
show_logs() {
    local f
    for f in "$LOGS"/*"$1"*_errors.log "$LOGS/$1.out" "$LOGS/$1.msg"; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -40 "$f" >&2; }
    done
    echo "--- proxy log" >&2
    tail -20 "$LOGS/proxy.log" >&2
}
# elapsed_ms START_USEC: milliseconds since START_USEC
elapsed_ms() { echo $((($(_harness_now_usec) - $1) / 1000)); }
# The caller saw no 5xx at all (the messages it received, SIPp's trace).
no_5xx_seen() {
    ! grep -Eq '^SIP/2\.0 5[0-9][0-9] ' "$LOGS/$1.msg"
}

reject503=$(template $SCEN/uas_reject.xml.in STATUS=503 "REASON=Service Unavailable" \
    "EXTRA=Retry-After: 10")

# a. NAPTR -> SRV -> A
t0=$(_harness_now_usec)
sipp_bg a-uas $SCEN/uas_answer.xml "$A"
sipp_run a-uac $SCEN/uac_call.xml fo_a
wait_bg a-uas
ok "a: NAPTR -> SRV -> A to the callee, the call completes ($(elapsed_ms "$t0") ms)"

# b. priority 10 silent (Timer B, 64*T1 = 3.2 s), priority 20 answers
t0=$(_harness_now_usec)
sipp_bg b-uas $SCEN/uas_answer.xml "$B"
sipp_run b-uac $SCEN/uac_call.xml fo_b
wait_bg b-uas
ms=$(elapsed_ms "$t0")
((ms < 8000)) || fail "b: the failover took $ms ms"
ok "b: priority 10 timed out, priority 20 took the call ($ms ms)"

# c. priority 10 answers 503, priority 20 answers: no 503 reaches the caller
t0=$(_harness_now_usec)
sipp_bg c-503 "$reject503" "$C_503"
sipp_bg c-uas $SCEN/uas_answer.xml "$C"
sipp_run c-uac $SCEN/uac_call.xml fo_c
wait_bg c-503
wait_bg c-uas
no_5xx_seen c-uac || { show_logs c-uac; fail "c: the caller saw a 5xx"; }
ok "c: 503 from priority 10, priority 20 took the call, the caller saw no 503 ($(elapsed_ms "$t0") ms)"

# d. priority 10 silent, priority 20 answers 503: an error, not a hang
t0=$(_harness_now_usec)
sipp_bg d-503 "$reject503" "$D_503"
expect500=$(template $SCEN/uac_expect.xml.in STATUS=500 MAXFWD=70)
sipp_run d-uac "$expect500" fo_d
wait_bg d-503
ms=$(elapsed_ms "$t0")
((ms < 8000)) || fail "d: the answer took $ms ms"
ok "d: every address failed, the caller got 500 ($ms ms)"

# e. no such name
t0=$(_harness_now_usec)
expect404=$(template $SCEN/uac_expect.xml.in STATUS=404 MAXFWD=70)
sipp_run e-uac "$expect404" fo_e
ok "e: a name that does not exist: 404 ($(elapsed_ms "$t0") ms)"

stop_proxy
grep -q 'failovers=3 ' "$LOGS/proxy.log" ||
    fail "the proxy counted other failovers: $(grep failovers= "$LOGS/proxy.log")"
ok "testproxy exited cleanly after 3 failovers"
