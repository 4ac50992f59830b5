#!/usr/bin/env bash
# The proxy core with real user agents: SIPp callers and callees around a
# testproxy (tests/proxy/testproxy.c) on loopback, over UDP and over TCP.
# Forking (first 2xx wins, the other branch is cancelled), CANCEL, 6xx,
# 3xx recursion, spirals, loops and Max-Forwards 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/sipp.sh
. tests/harness/sipp.sh
# shellcheck source=tests/harness/testproxy.sh
. tests/harness/testproxy.sh
harness_init

SCEN=tests/integration/sipp
H=127.0.0.1
PPORT=$(harness_free_port both) # the proxy's UDP and TCP port

for transport in ${TRANSPORTS:-udp tcp}; do
    if [[ $transport == udp ]]; then T=u1; else T=t1; fi
    A=$(harness_free_port both)
    B=$(harness_free_port both)
    C=$(harness_free_port both)
    tp=""
    [[ $transport == tcp ]] && tp=";transport=tcp"
    testproxy_start "$transport" "udp:$H:$PPORT,tcp:$H:$PPORT" --recurse \
        --target "alice=sip:alice@$H:$A$tp" \
        --target "fork=sip:fork@$H:$A$tp,sip:fork@$H:$B$tp" \
        --target "seq=sip:seq@$H:$A$tp|sip:seq@$H:$B$tp" \
        --target "redir=sip:redir@$H:$C$tp" \
        --target "loop=sip:loop@$H:$PPORT$tp" \
        --target "spiral=sip:spiral2@$H:$PPORT$tp" \
        --target "spiral2=sip:alice@$H:$A$tp" \
        --reply "gone=410"

    # a plain call: INVITE/180/200/ACK/BYE along the Record-Route
    sipp_bg "$transport-call-uas" $SCEN/uas_answer.xml "$H:$A" -t $T
    sipp_run "$transport-call-uac" $SCEN/uac_call.xml "$H:$PPORT" alice -t $T
    sipp_wait "$transport-call-uas"
    ok "$transport: call through the proxy"

    # forking: A answers, B rings and is cancelled
    sipp_bg "$transport-fork-a" $SCEN/uas_answer.xml "$H:$A" -t $T
    sipp_bg "$transport-fork-b" $SCEN/uas_ring_cancel.xml "$H:$B" -t $T
    sipp_run "$transport-fork-uac" $SCEN/uac_call.xml "$H:$PPORT" fork -t $T
    sipp_wait "$transport-fork-a"
    sipp_wait "$transport-fork-b"
    ok "$transport: fork to two callees, first 2xx wins, the other is cancelled"

    # the caller cancels while it rings
    sipp_bg "$transport-cancel-uas" $SCEN/uas_ring_cancel.xml "$H:$A" -t $T
    sipp_run "$transport-cancel-uac" $SCEN/uac_cancel.xml "$H:$PPORT" alice -t $T
    sipp_wait "$transport-cancel-uas"
    ok "$transport: CANCEL from the caller reaches the callee, 487 comes back"

    # a 6xx from one branch ends the call and cancels the other
    decline=$(sipp_template $SCEN/uas_reject.xml.in STATUS=603 REASON=Decline)
    sipp_bg "$transport-6xx-a" "$decline" "$H:$A" -t $T
    sipp_bg "$transport-6xx-b" $SCEN/uas_ring_cancel.xml "$H:$B" -t $T
    expect603=$(sipp_template $SCEN/uac_expect.xml.in STATUS=603 MAXFWD=70)
    sipp_run "$transport-6xx-uac" "$expect603" "$H:$PPORT" fork -t $T
    sipp_wait "$transport-6xx-a"
    sipp_wait "$transport-6xx-b"
    ok "$transport: 603 from one branch, the other branch cancelled"

    # sequential: A is busy, then B answers
    busy=$(sipp_template $SCEN/uas_reject.xml.in STATUS=486 "REASON=Busy Here")
    sipp_bg "$transport-seq-a" "$busy" "$H:$A" -t $T
    sipp_bg "$transport-seq-b" $SCEN/uas_answer.xml "$H:$B" -t $T
    sipp_run "$transport-seq-uac" $SCEN/uac_call.xml "$H:$PPORT" seq -t $T
    sipp_wait "$transport-seq-a"
    sipp_wait "$transport-seq-b"
    ok "$transport: sequential fork after 486"

    # 3xx recursion: C redirects to A
    redirect=$(sipp_template $SCEN/uas_reject.xml.in STATUS=302 "REASON=Moved Temporarily" \
        "EXTRA=Contact: <sip:alice@$H:$A$tp>")
    sipp_bg "$transport-3xx-c" "$redirect" "$H:$C" -t $T
    sipp_bg "$transport-3xx-a" $SCEN/uas_answer.xml "$H:$A" -t $T
    sipp_run "$transport-3xx-uac" $SCEN/uac_call.xml "$H:$PPORT" redir -t $T
    sipp_wait "$transport-3xx-c"
    sipp_wait "$transport-3xx-a"
    ok "$transport: 302 followed by the proxy"

    # a spiral (back to the proxy with another Request-URI) completes
    sipp_bg "$transport-spiral-a" $SCEN/uas_answer.xml "$H:$A" -t $T
    sipp_run "$transport-spiral-uac" $SCEN/uac_call.xml "$H:$PPORT" spiral -t $T
    sipp_wait "$transport-spiral-a"
    ok "$transport: spiral through the proxy twice"

    # a loop (back unchanged) is detected: 482
    expect482=$(sipp_template $SCEN/uac_expect.xml.in STATUS=482 MAXFWD=70)
    sipp_run "$transport-loop-uac" "$expect482" "$H:$PPORT" loop -t $T
    ok "$transport: loop detected (482)"

    # Max-Forwards 0: 483, nothing forwarded
    expect483=$(sipp_template $SCEN/uac_expect.xml.in STATUS=483 MAXFWD=0)
    sipp_run "$transport-mf0-uac" "$expect483" "$H:$PPORT" alice -t $T
    ok "$transport: Max-Forwards 0 answered 483"

    # the routing policy answers itself
    expect410=$(sipp_template $SCEN/uac_expect.xml.in STATUS=410 MAXFWD=70)
    sipp_run "$transport-410-uac" "$expect410" "$H:$PPORT" gone -t $T
    ok "$transport: local answer from the routing hook"

    testproxy_stop "$transport"
done
ok "testproxy exited cleanly"
