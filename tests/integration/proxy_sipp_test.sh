#!/usr/bin/env bash
# The proxy core with real user agents: SIPp callers and callees around a
# testproxy (tests/proxy/testproxy.c) on loopback, over UDP and over TCP.
# Forking (first 2xx wins, the other branch is cancelled), CANCEL, 6xx,
# 3xx recursion, spirals, loops and Max-Forwards 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
harness_init

PROXY=build/tests/proxy/testproxy
SCEN=tests/integration/sipp
[ -x "$PROXY" ] || fail "$PROXY is not built (make integration builds it)"
command -v sipp >/dev/null || fail "sipp (Debian sip-tester) is not installed"

# SIPp writes its logs into the current directory; keep them in ours.
LOGS=$HARNESS_DIR/logs
mkdir -p "$LOGS"

proxy_pid=""
PPORT=$(harness_free_port both) # the proxy's UDP and TCP port
start_proxy() { # start_proxy ARGS...
    stop_proxy
    "$PROXY" --host 127.0.0.1 -l "udp:127.0.0.1:$PPORT" -l "tcp:127.0.0.1:$PPORT" "$@" \
        >"$HARNESS_DIR/proxy.out" 2>>"$LOGS/proxy.log" &
    proxy_pid=$!
    harness_wait_for "testproxy ready" 5 grep -q '^ready' "$HARNESS_DIR/proxy.out" ||
        fail "testproxy did not start: $(tail -5 "$LOGS/proxy.log")"
}
stop_proxy() {
    if [ -n "$proxy_pid" ]; then
        kill -TERM "$proxy_pid" 2>/dev/null || true
        wait "$proxy_pid" 2>/dev/null || fail "testproxy exited with an error (see $LOGS/proxy.log)"
        proxy_pid=""
    fi
}
harness_on_exit stop_proxy

template() { # template FILE.in KEY=VALUE...: writes the filled file, prints its path
    local in=$1 out
    shift
    out=$HARNESS_DIR/$(basename "$in" .in).$RANDOM.xml
    cp "$in" "$out"
    local kv
    for kv in "$@"; do
        sed -i "s|@${kv%%=*}@|${kv#*=}|g" "$out"
    done
    # a placeholder left alone on its line goes with the line: an empty
    # line would end the headers
    sed -i -e '/^[[:space:]]*@[A-Z_]*@[[:space:]]*$/d' -e 's|@[A-Z_]*@||g' "$out"
    echo "$out"
}

abspath() { case $1 in /*) echo "$1" ;; *) echo "$TOP/$1" ;; esac; }
TOP=$PWD

# sipp_bg NAME SCENARIO PORT [ARGS...]: a callee in the background; its pid in last_bg
declare -A bg_pids=()
sipp_bg() {
    local name=$1 scen=$2 port=$3
    shift 3
    (cd "$LOGS" && exec sipp -sf "$(abspath "$scen")" -i 127.0.0.1 -p "$port" -m 1 -nostdin \
        -timeout 20s -timeout_error -trace_err -trace_msg "$@" >"$LOGS/$name.out" 2>&1) &
    bg_pids[$name]=$!
}
# sipp_run NAME SCENARIO TARGETPORT SERVICE [ARGS...]: a caller in the foreground
sipp_run() {
    local name=$1 scen=$2 target=$3 service=$4
    shift 4
    local port
    port=$(harness_free_port udp)
    if ! (cd "$LOGS" && exec sipp -sf "$(abspath "$scen")" -i 127.0.0.1 -p "$port" -s "$service" \
        -m 1 -nostdin -timeout 20s -timeout_error -trace_err -trace_msg "$@" \
        "127.0.0.1:$target" >"$LOGS/$name.out" 2>&1); then
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
    for f in "$LOGS"/*"$1"*_errors.log "$LOGS/$1.out"; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -40 "$f" >&2; }
    done
    echo "--- proxy log" >&2
    tail -20 "$LOGS/proxy.log" >&2
}

for transport in ${TRANSPORTS:-udp tcp}; do
    if [ $transport = udp ]; then T=u1; else T=t1; fi
    A=$(harness_free_port both)
    B=$(harness_free_port both)
    C=$(harness_free_port both)
    tp=""
    [ $transport = tcp ] && tp=";transport=tcp"
    start_proxy --recurse \
        --target "alice=sip:alice@127.0.0.1:$A$tp" \
        --target "fork=sip:fork@127.0.0.1:$A$tp,sip:fork@127.0.0.1:$B$tp" \
        --target "seq=sip:seq@127.0.0.1:$A$tp|sip:seq@127.0.0.1:$B$tp" \
        --target "redir=sip:redir@127.0.0.1:$C$tp" \
        --target "loop=sip:loop@127.0.0.1:$PPORT$tp" \
        --target "spiral=sip:spiral2@127.0.0.1:$PPORT$tp" \
        --target "spiral2=sip:alice@127.0.0.1:$A$tp" \
        --reply "gone=410"

    # a plain call: INVITE/180/200/ACK/BYE along the Record-Route
    sipp_bg "$transport-call-uas" $SCEN/uas_answer.xml "$A" -t $T
    sipp_run "$transport-call-uac" $SCEN/uac_call.xml "$PPORT" alice -t $T
    wait_bg "$transport-call-uas"
    ok "$transport: call through the proxy"

    # forking: A answers, B rings and is cancelled
    sipp_bg "$transport-fork-a" $SCEN/uas_answer.xml "$A" -t $T
    sipp_bg "$transport-fork-b" $SCEN/uas_ring_cancel.xml "$B" -t $T
    sipp_run "$transport-fork-uac" $SCEN/uac_call.xml "$PPORT" fork -t $T
    wait_bg "$transport-fork-a"
    wait_bg "$transport-fork-b"
    ok "$transport: fork to two callees, first 2xx wins, the other is cancelled"

    # the caller cancels while it rings
    sipp_bg "$transport-cancel-uas" $SCEN/uas_ring_cancel.xml "$A" -t $T
    sipp_run "$transport-cancel-uac" $SCEN/uac_cancel.xml "$PPORT" alice -t $T
    wait_bg "$transport-cancel-uas"
    ok "$transport: CANCEL from the caller reaches the callee, 487 comes back"

    # a 6xx from one branch ends the call and cancels the other
    decline=$(template $SCEN/uas_reject.xml.in STATUS=603 REASON=Decline)
    sipp_bg "$transport-6xx-a" "$decline" "$A" -t $T
    sipp_bg "$transport-6xx-b" $SCEN/uas_ring_cancel.xml "$B" -t $T
    expect603=$(template $SCEN/uac_expect.xml.in STATUS=603 MAXFWD=70)
    sipp_run "$transport-6xx-uac" "$expect603" "$PPORT" fork -t $T
    wait_bg "$transport-6xx-a"
    wait_bg "$transport-6xx-b"
    ok "$transport: 603 from one branch, the other branch cancelled"

    # sequential: A is busy, then B answers
    busy=$(template $SCEN/uas_reject.xml.in STATUS=486 "REASON=Busy Here")
    sipp_bg "$transport-seq-a" "$busy" "$A" -t $T
    sipp_bg "$transport-seq-b" $SCEN/uas_answer.xml "$B" -t $T
    sipp_run "$transport-seq-uac" $SCEN/uac_call.xml "$PPORT" seq -t $T
    wait_bg "$transport-seq-a"
    wait_bg "$transport-seq-b"
    ok "$transport: sequential fork after 486"

    # 3xx recursion: C redirects to A
    redirect=$(template $SCEN/uas_reject.xml.in STATUS=302 "REASON=Moved Temporarily" \
        "EXTRA=Contact: <sip:alice@127.0.0.1:$A$tp>")
    sipp_bg "$transport-3xx-c" "$redirect" "$C" -t $T
    sipp_bg "$transport-3xx-a" $SCEN/uas_answer.xml "$A" -t $T
    sipp_run "$transport-3xx-uac" $SCEN/uac_call.xml "$PPORT" redir -t $T
    wait_bg "$transport-3xx-c"
    wait_bg "$transport-3xx-a"
    ok "$transport: 302 followed by the proxy"

    # a spiral (back to the proxy with another Request-URI) completes
    sipp_bg "$transport-spiral-a" $SCEN/uas_answer.xml "$A" -t $T
    sipp_run "$transport-spiral-uac" $SCEN/uac_call.xml "$PPORT" spiral -t $T
    wait_bg "$transport-spiral-a"
    ok "$transport: spiral through the proxy twice"

    # a loop (back unchanged) is detected: 482
    expect482=$(template $SCEN/uac_expect.xml.in STATUS=482 MAXFWD=70)
    sipp_run "$transport-loop-uac" "$expect482" "$PPORT" loop -t $T
    ok "$transport: loop detected (482)"

    # Max-Forwards 0: 483, nothing forwarded
    expect483=$(template $SCEN/uac_expect.xml.in STATUS=483 MAXFWD=0)
    sipp_run "$transport-mf0-uac" "$expect483" "$PPORT" alice -t $T
    ok "$transport: Max-Forwards 0 answered 483"

    # the routing policy answers itself
    expect410=$(template $SCEN/uac_expect.xml.in STATUS=410 MAXFWD=70)
    sipp_run "$transport-410-uac" "$expect410" "$PPORT" gone -t $T
    ok "$transport: local answer from the routing hook"
done
stop_proxy
ok "testproxy exited cleanly"
