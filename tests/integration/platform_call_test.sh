#!/usr/bin/env bash
# Calls end to end: SIPp phones registered through the UA marshal (each
# callee with its own address as Contact) call each other with digest
# auth; the marshal asks redirectd, follows its 302 and record-routes.
#
#   - 1000 -> 1001: 407, 180, 200, ACK, BYE from the caller; the same with
#     the BYE from the callee; CANCEL while it rings (487); 486 relayed;
#     nobody answers (timer C, 3 s here: the callee gets a CANCEL, the
#     caller its 487); forking to two devices (the first 200 wins, the other
#     is cancelled); re-INVITE, INFO and OPTIONS inside the dialog;
#   - names and numbers: the alias alice; the DID +15550001000 from the
#     PSTN gateway (a SIPp at $GATEWAY_PORT) through the gateway marshal to
#     1000's phone; 1000 dialling +12125550100 (the dial plan: through the
#     gateway marshal to the SIPp at $GATEWAY_PORT);
#   - refusals: an unregistered subscriber (480), an unknown user (404), a
#     preloaded Route from a phone (403), a request with a To tag that did
#     not come through the marshal (403).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/platform.sh
. tests/harness/platform.sh
# shellcheck source=tests/harness/sipp.sh
. tests/harness/sipp.sh
harness_init
SIPP_TIMEOUT=15s
PLATFORM_TIMER_C=3s
P=tests/integration/sipp/platform
S=tests/integration/sipp
H=127.0.0.1
SEND=build/tests/proxy/sipsend
[[ -x $SEND ]] || make --no-print-directory -s $SEND
platform_start


# call NAME TEMPLATE CALLEE [KEY=VALUE...]: 1000 calls CALLEE
call() {
    local name=$1 tmpl=$2 callee=$3 scen
    shift 3
    scen=$(sipp_template "$tmpl" USER=1000 PASSWORD=pw1000 CALLEE="$callee" "$@")
    sipp_run "$name" "$scen" "$H:$UA_PORT" x
}

# received NAME METHOD: how many METHOD requests SIPp NAME received
received() {
    platform_received "$1" | grep -c "^$2 " || true
}

B1=$(harness_free_port udp)    # 1001's phone
A0=$(harness_free_port udp)    # 1000's phone (called from the PSTN)
B4=$(harness_free_port udp)    # 1004's phone (busy)
B6=$(harness_free_port udp)    # 1006's phone (never answers)
F1=$(harness_free_port udp)    # 1003's two phones
F2=$(harness_free_port udp)
platform_register reg-1001 1001 "$B1"
platform_register reg-1000 1000 "$A0"
platform_register reg-1004 1004 "$B4"
platform_register reg-1006 1006 "$B6"
platform_register reg-1003a 1003 "$F1"
platform_register reg-1003b 1003 "$F2"
ok "phones registered: 1000, 1001, 1003 (twice), 1004, 1006"

# --- a call, the caller hangs up ---
sipp_bg callee-1 $S/uas_answer.xml "$H:$B1"
call caller-1 $P/call.xml.in 1001
sipp_wait callee-1
assert_eq "407 100 180 200 200" "$(platform_statuses caller-1)" \
    "1000 -> 1001: 407, then 100, 180, 200; the BYE's 200"
assert_contains "$(platform_received callee-1 | grep '^Record-Route:' | head -1)" "<sip:$H:$UA_PORT;lr" \
    "1000 -> 1001: the marshal record-routes"
assert_eq "1 1" "$(received callee-1 ACK) $(received callee-1 BYE)" "1000 -> 1001: ACK and BYE reached the callee"
[[ -z "$(platform_received callee-1 | grep -i '^Proxy-Authorization:' || true)" ]] ||
    fail "the callee must not see the caller's credentials"
ok "1000 -> 1001: the marshal took the credentials out"

# --- the callee hangs up ---
sipp_bg callee-2 $S/uas_answer_bye.xml "$H:$B1"
call caller-2 $P/call_callee_bye.xml.in 1001
sipp_wait callee-2
assert_eq "1" "$(received caller-2 BYE)" "callee hangs up: its BYE reached the caller through the marshal"
assert_eq "200" "$(platform_statuses callee-2 | awk '{print $NF}')" "callee hangs up: its BYE got 200"

# --- CANCEL while ringing ---
sipp_bg callee-3 $P/uas_ring_cancel.xml "$H:$B1"
call caller-3 $P/call_cancel.xml.in 1001
sipp_wait callee-3
assert_contains "$(platform_statuses caller-3)" "180 200 487" "CANCEL while ringing: 200 for the CANCEL, 487 for the INVITE"
assert_eq "1" "$(received callee-3 CANCEL)" "CANCEL while ringing: the callee got the CANCEL"

# --- busy ---
busy=$(sipp_template $S/uas_reject.xml.in STATUS=486 "REASON=Busy Here")
sipp_bg callee-4 "$busy" "$H:$B4"
call caller-4 $P/call_expect.xml.in 1004 STATUS=486
sipp_wait callee-4
assert_eq "486" "$(platform_statuses caller-4 | awk '{print $NF}')" "1004 busy: 486 relayed to the caller"

# --- nobody answers: timer C ---
sipp_bg callee-6 $P/uas_ring_cancel.xml "$H:$B6"
t0=$SECONDS
call caller-6 $P/call_expect.xml.in 1006 STATUS=487
sipp_wait callee-6
assert_eq "1" "$(received callee-6 CANCEL)" "no answer: after timer C the marshal cancelled the ringing phone"
assert_eq "487" "$(platform_statuses caller-6 | awk '{print $NF}')" \
    "no answer: the phone's 487 is relayed to the caller (RFC 3261 16.8, 16.7)"
((SECONDS - t0 >= 3)) || fail "no answer: the call ended before timer C (3 s)"
ok "no answer: it took timer C ($((SECONDS - t0)) s)"

# --- forking to two devices ---
sipp_bg fork-a $S/uas_answer.xml "$H:$F1"
sipp_bg fork-b $P/uas_ring_cancel.xml "$H:$F2"
call caller-f $P/call.xml.in 1003
sipp_wait fork-a
sipp_wait fork-b
assert_eq "1 1" "$(received fork-a INVITE) $(received fork-b INVITE)" "forking: both phones of 1003 rang"
assert_eq "1" "$(received fork-b CANCEL)" "forking: the first 200 won, the other phone got CANCEL"
assert_eq "1" "$(platform_responses caller-f | grep -c '^200 INVITE$')" "forking: the caller got one 200 for its INVITE"
assert_eq "1" "$(received fork-a BYE)" "forking: the BYE went to the phone that answered"

# --- re-INVITE, INFO, OPTIONS in the dialog ---
sipp_bg callee-d $P/uas_in_dialog.xml "$H:$B1"
call caller-d $P/call_in_dialog.xml.in 1001
sipp_wait callee-d
assert_eq "2 2 1 1 1" "$(for m in INVITE ACK INFO OPTIONS BYE; do received callee-d $m; done | paste -sd' ')" \
    "in dialog: the re-INVITE and its ACK, INFO, OPTIONS and BYE reached the callee"
assert_eq "200 INVITE
200 INVITE
200 INFO
200 OPTIONS
200 BYE" "$(platform_responses caller-d | grep '^200 ')" "in dialog: 200 for the INVITE, re-INVITE, INFO, OPTIONS and BYE"

# --- an alias ---
sipp_bg callee-alice $S/uas_answer.xml "$H:$B1"
call caller-alice $P/call.xml.in alice
sipp_wait callee-alice
assert_eq "1" "$(platform_responses caller-alice | grep -c '^200 INVITE$')" "alice (alias of 1001): answered by 1001's phone"
assert_contains "$(platform_received callee-alice | grep -m1 '^INVITE ')" "INVITE sip:1001@$H:$B1 " \
    "alice: the INVITE reached 1001's registered contact"

# --- a DID from the PSTN: gateway -> gateway marshal -> UA marshal -> 1000 ---
sipp_bg callee-did $S/uas_answer.xml "$H:$A0"
sipp_bg pstn-out $S/uac_call.xml "$H:$GATEWAY_PORT" -s +15550001000 "$H:$GW_PORT"
sipp_wait pstn-out
sipp_wait callee-did
assert_eq "1" "$(platform_responses pstn-out | grep -c '^200 INVITE$')" "DID +15550001000 from the gateway: answered by 1000's phone"
rr=$(platform_received callee-did | grep '^Record-Route:' | head -2 | paste -sd' ')
assert_contains "$rr" ":$UA_PORT;lr" "DID: the UA marshal is in the path"
assert_contains "$rr" ":$GW_PORT;lr" "DID: the gateway marshal is in the path"

# --- a number of the dial plan: 1000 -> UA marshal -> gateway marshal -> PSTN ---
sipp_bg pstn-in $S/uas_answer.xml "$H:$GATEWAY_PORT"
call caller-dp $P/call.xml.in +12125550100
sipp_wait pstn-in
assert_eq "1" "$(platform_responses caller-dp | grep -c '^200 INVITE$')" "+12125550100 (dial plan): answered by the gateway"
assert_contains "$(platform_received pstn-in | grep -m1 '^INVITE ')" "INVITE sip:+12125550100@$H:$GATEWAY_PORT" \
    "+12125550100: the gateway got the number"

# --- refusals ---
call caller-480 $P/call_expect.xml.in 1005 STATUS=480
assert_eq "407 480" "$(platform_statuses caller-480 | sed 's/ 100//')" "1005 (not registered): 480"
call caller-404 $P/call_expect.xml.in nobody STATUS=404
assert_eq "407 404" "$(platform_statuses caller-404 | sed 's/ 100//')" "nobody@vocal.test (unknown user): 404"

# raw REQUEST-LINE EXTRA-HEADERS: a request from a phone at $H, CRLF ends
raw() {
    local f
    f=$(mktemp "$HARNESS_DIR/raw.XXXXXX")
    printf '%s\r\nVia: SIP/2.0/UDP %s:9;branch=z9hG4bK-raw-%s\r\nFrom: <sip:1000@vocal.test>;tag=r%s\r\nCall-ID: raw-%s@vocal-tests\r\nMax-Forwards: 70\r\n%sContent-Length: 0\r\n\r\n' \
        "$1" "$H" "$RANDOM$RANDOM" "$RANDOM" "$RANDOM$RANDOM" "$2" >"$f"
    echo "$f"
}
m=$(raw "INVITE sip:1001@vocal.test SIP/2.0" $'To: <sip:1001@vocal.test>\r\nCSeq: 1 INVITE\r\nRoute: <sip:'"$H:$REDIRECT_PORT"$';lr>\r\nContact: <sip:1000@127.0.0.1:9>\r\n')
assert_eq "SIP/2.0 403 Preloaded Route Denied" "$("$SEND" --rport --first "$H" "$UA_PORT" "$m" | grep -v '^SIP/2.0 1')" \
    "a preloaded Route from a phone: 403"
m=$(raw "BYE sip:1001@$H:$B1 SIP/2.0" $'To: <sip:1001@vocal.test>;tag=not-ours\r\nCSeq: 2 BYE\r\n')
assert_eq "SIP/2.0 403 Not Routed Through Us" "$("$SEND" --rport --first "$H" "$UA_PORT" "$m")" \
    "a BYE with a To tag that did not come through the marshal: 403"
