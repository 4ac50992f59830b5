#!/usr/bin/env bash
# Every feature end to end (issue 6): SIPp phones register and call through
# the UA marshal with digest authentication, so each call goes phone ->
# marshal -> redirectd -> featured hop(s) -> redirectd -> marshal -> phone,
# the way a subscriber's call goes (platform_feature_test.sh hands featured
# its calls directly instead). Features are subscriber_features rows, as
# provd writes them. For each case: the caller's final status, which phones
# got the INVITE and how often (by branch: a retransmission is not another
# INVITE), CANCEL where a ringing phone is given up, and featured's log
# naming the call's hops.
#
#   - forward all (1002 answers, 1001's phone sees nothing); forward on
#     busy (1001's phone answers 486, 1002 answers); forward on no answer
#     (1001 rings, is cancelled after ring_time, 1002 answers);
#   - voicemail on busy (features.voicemail, the default URI) and on no
#     answer (the subscriber's own URI): the voicemail server answers;
#   - call screening: the listed caller gets 603 / 486 / voicemail, 1001's
#     phone nothing; an unlisted caller rings through;
#   - call blocking: the blocked prefix gets 603 with the reason, another
#     call goes through; caller-ID blocking (anonymous From, Privacy: id);
#   - call return: *69 with nobody to return (404), then the last caller
#     reached through the marshal;
#   - time of day: a period around now (from date, across midnight when
#     now is near it) goes to 1002; "outside" the same period rings 1001;
#   - a raw CPL script (proxy timeout 2 s, noanswer to 1002);
#   - chains: screening then forward on no answer to voicemail; the
#     caller's call blocking and the callee's forward all in one call (a
#     calling and a called hop).
#
# PLATFORM_FEATURE_OFF=KIND runs the test with KIND's subscriptions switched off by the
# user (user_enabled false): the cases of that feature must fail, which
# shows that they test it.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/platform.sh
. tests/harness/platform.sh
# shellcheck source=tests/harness/sipp.sh
. tests/harness/sipp.sh
# shellcheck source=tests/harness/features.sh
. tests/harness/features.sh
# shellcheck source=tests/harness/provd.sh
. tests/harness/provd.sh
harness_init
SIPP_TIMEOUT=20s
H=127.0.0.1
S=tests/integration/sipp
P=tests/integration/sipp/platform
VM=$(harness_free_port udp) # the voicemail server
PLATFORM_FEATURES=1
PLATFORM_VOICEMAIL="sip:vm@$H:$VM"
platform_start
G=$FEATURE_GROUP_ID
T0=$SECONDS
# provd on the platform's database: forward all is provisioned through
# its API, as a carrier's scripts would (the rest by SQL, which is faster)
CONF=$HARNESS_DIR/provd.conf
TOKEN="test-token-$RANDOM$RANDOM"
cat >"$CONF" <<EOF
listen = 127.0.0.1:$(harness_free_port tcp)
migrations = "$PWD/provisioning/sql"
db.conninfo = "$VOCAL_DB_URI"
api.token_sha256 = $(printf '%s' "$TOKEN" | sha256sum | cut -c1-64)
EOF
provd_start "$CONF" "$HARNESS_DIR/provd.log"


P0=$(harness_free_port udp) # 1000's phone
P1=$(harness_free_port udp) # 1001's phone
P2=$(harness_free_port udp) # 1002's phone
P4=$(harness_free_port udp) # 1004's phone
platform_register reg-1000 1000 "$P0"
platform_register reg-1001 1001 "$P1"
platform_register reg-1002 1002 "$P2"
platform_register reg-1004 1004 "$P4"
ok "phones registered through the marshal: 1000, 1001, 1002, 1004"

n=0
# pcall NAME TEMPLATE CALLER CALLEE [KEY=VALUE...]: CALLER's phone calls
# CALLEE through the UA marshal (407, then digest); the Call-ID is $cid
pcall() {
    local name=$1 tmpl=$2 caller=$3 callee=$4 scen
    shift 4
    scen=$(sipp_template "$tmpl" "USER=$caller" "PASSWORD=pw$caller" "CALLEE=$callee" "$@")
    sipp_run "$name" "$scen" "$H:$UA_PORT" x -cid_str "$cid"
}
# newcall TAG: a fresh Call-ID in $cid
newcall() { n=$((n + 1)); cid="e2e-$n-$1-$$@test"; }
# phone NAME PORT SCENARIO SECONDS: the phone at PORT plays SCENARIO for
# every INVITE that comes (up to three calls) until SECONDS are up;
# sipp_finish NAME waits for it
phone() { SIPP_TIMEOUT=$4s sipp_bg "$1" "$3" "$H:$2" -m 3; }
# idle NAME PORT SECONDS: a phone that answers whatever comes, to count it
idle() { phone "$1" "$2" $S/uas_answer.xml "$3"; }
# voicemail NAME SECONDS: the voicemail server, answering (it sends the
# BYE's 200 back along the BYE's Via: the BYE comes from the marshal, not
# from featured, which sent the INVITE)
voicemail() { phone "$1" "$VM" tests/integration/sipp/feature/uas_voicemail.xml "$2"; }
first_invite() { platform_received "$1" | grep -m1 '^INVITE ' || true; }
# flog_call: featured's log lines about the call $cid
flog_call() { grep -F "$cid" "$(platform_log feature)" || true; }
hops() { flog_call | grep -c "side of subscriber" || true; }

busy=$(sipp_template $S/uas_reject.xml.in STATUS=486 "REASON=Busy Here")
ring=$P/uas_ring_cancel_hop.xml

# --- forward all (through provd's API) -------------------------------------------
S1001=$(platform_sql -c "SELECT id FROM subscribers WHERE user_part = '1001'")
on=true
[[ "${PLATFORM_FEATURE_OFF:-}" != forward_all ]] || on=false
api PUT "/api/v1/subscribers/$S1001/features/forward_all" \
    "{\"group_id\": $G, \"user_enabled\": $on, \"settings\": {\"target\": \"1002\"}}"
assert_eq 201 "$CODE" "forward all: provd creates 1001's subscription (PUT, 201)"
settle
newcall fa
idle fa-p1 "$P1" 3
idle fa-p2 "$P2" 3
pcall fa-call $P/call.xml.in 1000 1001
sipp_finish fa-p1
sipp_finish fa-p2
assert_eq "0 1" "$(invites fa-p1) $(invites fa-p2)" \
    "forward all: 1000 -> 1001 reaches 1002's phone once, 1001's phone sees nothing"
assert_contains "$(first_invite fa-p2)" "INVITE sip:1002@" "forward all: 1002's phone gets the call for 1002"
assert_eq "1 1" "$(received fa-p2 ACK) $(received fa-p2 BYE)" "forward all: the ACK and the BYE reach 1002"
assert_contains "$(flog_call)" "called side of subscriber" "forward all: featured ran 1001's called hop of the call"
api DELETE "/api/v1/subscribers/$S1001/features/forward_all" "" "If-Match: *"
assert_eq 204 "$CODE" "forward all: provd deletes the subscription (DELETE, 204)"

# --- forward on busy -------------------------------------------------------------
feature 1001 forward_busy '{"target": "1002"}'
settle
newcall fb
phone fb-p1 "$P1" "$busy" 3
idle fb-p2 "$P2" 3
pcall fb-call $P/call.xml.in 1000 1001
sipp_finish fb-p1
sipp_finish fb-p2
assert_eq "1 1" "$(invites fb-p1) $(invites fb-p2)" \
    "forward on busy: 1001's phone answers 486 (one INVITE), 1002's phone answers (one INVITE)"
assert_eq "1" "$(received fb-p1 ACK)" "forward on busy: 1001's 486 is acknowledged"
assert_eq "200" "$(last_status fb-call)" "forward on busy: the caller gets 200"
nofeatures 1001

# --- forward on no answer ----------------------------------------------------------
feature 1001 forward_no_answer '{"target": "1002", "ring_time": 5}'
settle
newcall fna
phone fna-p1 "$P1" "$ring" 8
idle fna-p2 "$P2" 8
t=$SECONDS
pcall fna-call $P/call.xml.in 1000 1001
el=$((SECONDS - t))
sipp_finish fna-p1
sipp_finish fna-p2
assert_eq "1 1 1" "$(invites fna-p1) $(received fna-p1 CANCEL) $(invites fna-p2)" \
    "forward on no answer: 1001 rings once and is cancelled, 1002 gets one INVITE"
((el >= 5)) || fail "forward on no answer: the call was answered after $el s, before ring_time (5 s)"
ok "forward on no answer: 1002 answered after ring_time (the call took $el s)"
assert_contains "$(flog_call)" "(timeout)" "forward on no answer: featured logs the attempt ended by its timeout"
nofeatures 1001

# --- voicemail on busy (features.voicemail) and on no answer (own URI) ----------------
feature 1001 voicemail '{"on_busy": true, "on_no_answer": false}'
settle
newcall vmb
phone vmb-p1 "$P1" "$busy" 3
voicemail vmb-vm 3
pcall vmb-call $P/call.xml.in 1000 1001
sipp_finish vmb-p1
sipp_finish vmb-vm
assert_eq "1 1" "$(invites vmb-p1) $(invites vmb-vm)" "voicemail on busy: 1001 answers 486, the voicemail server answers"
assert_contains "$(first_invite vmb-vm)" "INVITE $PLATFORM_VOICEMAIL" \
    "voicemail on busy: the call goes to featured's voicemail URI (features.voicemail)"
VM2="sip:vm-1001@$H:$VM"
feature 1001 voicemail "{\"uri\": \"$VM2\", \"on_busy\": false, \"on_no_answer\": true, \"ring_time\": 5}"
settle
newcall vmn
phone vmn-p1 "$P1" "$ring" 8
voicemail vmn-vm 8
pcall vmn-call $P/call.xml.in 1000 1001
sipp_finish vmn-p1
sipp_finish vmn-vm
assert_eq "1 1 1" "$(invites vmn-p1) $(received vmn-p1 CANCEL) $(invites vmn-vm)" \
    "voicemail on no answer: 1001 rings and is cancelled, the voicemail server answers"
assert_contains "$(first_invite vmn-vm)" "INVITE $VM2" "voicemail on no answer: to the subscriber's own voicemail URI"
nofeatures 1001

# --- call screening: reject, busy, voicemail; an unlisted caller -------------------------
for action in reject:603 busy:486; do
    feature 1001 call_screening "{\"callers\": [\"sip:1004@vocal.test\"], \"action\": \"${action%:*}\"}"
    settle
    newcall "scr-${action%:*}"
    idle "scr-${action%:*}-p1" "$P1" 2
    pcall "scr-${action%:*}-call" $P/call_expect.xml.in 1004 1001 "STATUS=${action#*:}"
    sipp_finish "scr-${action%:*}-p1"
    assert_eq "${action#*:} 0" "$(last_status "scr-${action%:*}-call") $(invites "scr-${action%:*}-p1")" \
        "call screening (${action%:*}): 1004 gets ${action#*:}, 1001's phone sees nothing"
done
feature 1001 call_screening '{"callers": ["sip:1004@vocal.test"], "action": "voicemail"}'
settle
newcall scr-vm
idle scr-vm-p1 "$P1" 3
voicemail scr-vm-vm 3
pcall scr-vm-call $P/call.xml.in 1004 1001
sipp_finish scr-vm-p1
sipp_finish scr-vm-vm
assert_eq "0 1" "$(invites scr-vm-p1) $(invites scr-vm-vm)" \
    "call screening (voicemail): 1004 reaches the voicemail server, 1001's phone sees nothing"
newcall scr-other
idle scr-other-p1 "$P1" 3
pcall scr-other-call $P/call.xml.in 1000 1001
sipp_finish scr-other-p1
assert_eq "1" "$(invites scr-other-p1)" "call screening: an unlisted caller (1000) rings 1001's phone, once"
nofeatures 1001

# --- call blocking (calling side) --------------------------------------------------------
feature 1000 call_blocking '{"prefixes": ["1900"], "reason": "Premium Rate Blocked"}'
settle
newcall blk
pcall blk-call $P/call_expect.xml.in 1000 19005551212 STATUS=603
assert_contains "$(platform_received blk-call | grep '^SIP/2.0 ')" "SIP/2.0 603 Premium Rate Blocked" \
    "call blocking: 1000 dialling 19005551212 gets 603 with the reason"
assert_contains "$(flog_call)" "calling side of subscriber" "call blocking: featured ran 1000's calling hop"
newcall blk-ok
idle blk-ok-p1 "$P1" 3
pcall blk-ok-call $P/call.xml.in 1000 1001
sipp_finish blk-ok-p1
assert_eq "1" "$(invites blk-ok-p1)" "call blocking: 1000's call to 1001 (no blocked prefix) goes through"
nofeatures 1000

# --- caller-ID blocking ------------------------------------------------------------------
feature 1000 caller_id_blocking '{}'
settle
newcall anon
idle anon-p4 "$P4" 3
pcall anon-call $P/call.xml.in 1000 1004
sipp_finish anon-p4
assert_eq "1" "$(invites anon-p4)" "caller-ID blocking: the call reaches 1004"
from=$(platform_received anon-p4 | grep -m1 -i '^From:' || true)
assert_contains "$from" '"Anonymous" <sip:anonymous@anonymous.invalid>' "caller-ID blocking: 1004 sees an anonymous From"
[[ "$from" != *1000* ]] || fail "caller-ID blocking: the From still names 1000: $from"
assert_contains "$(platform_received anon-p4 | grep -m1 -i '^Privacy:' || true)" "id" "caller-ID blocking: Privacy: id"
nofeatures 1000

# --- call return -----------------------------------------------------------------------
feature 1004 call_return '{}'
settle
newcall cr-none
pcall cr-none-call $P/call_expect.xml.in 1004 '*69' STATUS=404
assert_contains "$(platform_received cr-none-call | grep '^SIP/2.0 404')" "No Caller To Return" \
    "call return: nobody called 1004 yet: *69 gets 404 No Caller To Return"
newcall cr-in
idle cr-in-p4 "$P4" 3
pcall cr-in-call $P/call.xml.in 1000 1004
sipp_finish cr-in-p4
assert_eq "1" "$(invites cr-in-p4)" "call return: 1000 calls 1004"
harness_wait_for "1000 recorded as 1004's last caller" 5 bash -c \
    "[[ \$('$PG_BINDIR/psql' -X -At '$VOCAL_DB_URI' -c \"SELECT caller FROM last_callers l JOIN subscribers s ON s.id = l.subscriber_id WHERE s.user_part = '1004'\") == sip:1000@vocal.test ]]" ||
    fail "call return: 1000 not recorded as 1004's last caller"
newcall cr-back
idle cr-back-p0 "$P0" 3
pcall cr-back-call $P/call.xml.in 1004 '*69'
sipp_finish cr-back-p0
assert_eq "1" "$(invites cr-back-p0)" "call return: 1004 dials *69 through the marshal and reaches 1000's phone"
assert_contains "$(first_invite cr-back-p0)" "INVITE sip:1000@" "call return: the phone gets a call for 1000"
nofeatures 1004

# --- time of day ---------------------------------------------------------------------------
# A period from 2 minutes before now to 5 minutes after, named by the day it
# starts on: near midnight it crosses it (end before start), which the
# settings allow.
now=$(date -u +%s)
day=$(LC_ALL=C date -u -d "@$((now - 120))" +%a | tr '[:lower:]' '[:upper:]' | cut -c1-2)
start=$(date -u -d "@$((now - 120))" +%H:%M)
end=$(date -u -d "@$((now + 300))" +%H:%M)
period="{\"days\": [\"$day\"], \"start\": \"$start\", \"end\": \"$end\"}"
feature 1001 time_of_day "{\"tzid\": \"UTC\", \"periods\": [$period], \"when\": \"inside\", \"target\": \"1002\"}"
settle
newcall tod
idle tod-p1 "$P1" 3
idle tod-p2 "$P2" 3
pcall tod-call $P/call.xml.in 1000 1001
sipp_finish tod-p1
sipp_finish tod-p2
assert_eq "0 1" "$(invites tod-p1) $(invites tod-p2)" \
    "time of day: inside $day $start-$end (UTC) the call goes to 1002, 1001's phone sees nothing"
feature 1001 time_of_day "{\"tzid\": \"UTC\", \"periods\": [$period], \"when\": \"outside\", \"target\": \"1002\"}"
settle
newcall tod-out
idle tod-out-p1 "$P1" 3
idle tod-out-p2 "$P2" 3
pcall tod-out-call $P/call.xml.in 1000 1001
sipp_finish tod-out-p1
sipp_finish tod-out-p2
assert_eq "1 0" "$(invites tod-out-p1) $(invites tod-out-p2)" \
    "time of day: \"outside\" the same period the call rings 1001, not 1002"
nofeatures 1001

# --- a raw CPL script ------------------------------------------------------------------------
CPL_NA='<?xml version=\"1.0\"?><cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming><lookup source=\"registration\"><success><proxy timeout=\"2\"><noanswer><location url=\"sip:1002@vocal.test\"><proxy/></location></noanswer></proxy></success></lookup></incoming></cpl>'
feature 1001 cpl "{\"script\": \"$CPL_NA\"}"
settle
newcall cpl
phone cpl-p1 "$P1" "$ring" 5
idle cpl-p2 "$P2" 5
t=$SECONDS
pcall cpl-call $P/call.xml.in 1000 1001
el=$((SECONDS - t))
sipp_finish cpl-p1
sipp_finish cpl-p2
assert_eq "1 1 1" "$(invites cpl-p1) $(received cpl-p1 CANCEL) $(invites cpl-p2)" \
    "raw CPL (proxy timeout 2, noanswer to 1002): 1001 rings and is cancelled, 1002 answers"
((el >= 2)) || fail "raw CPL: 1002 answered after $el s, before the script's timeout (2 s)"
assert_contains "$(flog_call)" "called side of subscriber" "raw CPL: featured ran the call"
nofeatures 1001

# --- chain: screening, then forward on no answer to voicemail ------------------------------
feature 1001 call_screening '{"callers": ["sip:1004@vocal.test"], "action": "reject"}'
feature 1001 forward_no_answer "{\"target\": \"$PLATFORM_VOICEMAIL\", \"ring_time\": 5}"
settle
newcall chain-scr
idle chain-scr-p1 "$P1" 2
pcall chain-scr-call $P/call_expect.xml.in 1004 1001 STATUS=603
sipp_finish chain-scr-p1
assert_eq "603 0" "$(last_status chain-scr-call) $(invites chain-scr-p1)" \
    "chain: the screened caller 1004 gets 603 before anything rings"
newcall chain-na
phone chain-na-p1 "$P1" "$ring" 8
voicemail chain-na-vm 8
pcall chain-na-call $P/call.xml.in 1000 1001
sipp_finish chain-na-p1
sipp_finish chain-na-vm
assert_eq "1 1 1" "$(invites chain-na-p1) $(received chain-na-p1 CANCEL) $(invites chain-na-vm)" \
    "chain: 1000 is not screened, 1001 rings, is cancelled after ring_time, voicemail answers"
nofeatures 1001

# --- chain: the caller's call blocking and the callee's forward all in one call ---------------
feature 1000 call_blocking '{"prefixes": ["1900"]}'
feature 1001 forward_all '{"target": "1002"}'
settle
newcall chain-hops
idle chain-hops-p1 "$P1" 3
idle chain-hops-p2 "$P2" 3
pcall chain-hops-call $P/call.xml.in 1000 1001
sipp_finish chain-hops-p1
sipp_finish chain-hops-p2
assert_eq "0 1" "$(invites chain-hops-p1) $(invites chain-hops-p2)" \
    "chain: 1000's calling hop lets the call go, 1001's called hop forwards it to 1002's phone"
assert_contains "$(flog_call)" "calling side of subscriber" "chain: featured ran 1000's calling hop"
assert_contains "$(flog_call)" "called side of subscriber" "chain: ...and 1001's called hop of the same call"
newcall chain-hops-blk
pcall chain-hops-blk-call $P/call_expect.xml.in 1000 19005551212 STATUS=603
assert_eq "603" "$(last_status chain-hops-blk-call)" "chain: the blocked number is still refused beside the callee's forward"
nofeatures 1000 1001

ok "every feature end to end in $((SECONDS - T0)) s after the platform started"
