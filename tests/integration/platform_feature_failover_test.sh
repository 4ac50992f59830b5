#!/usr/bin/env bash
# Feature servers as alternatives: a feature group of two featured servers
# (on_failure skip, then fail). redirectd's 302 into the hop lists both (q 1
# and 0.9) and the skip (q 0.8); the marshal, and featured for the hops after
# its own, try the next only when a server failed (no answer, or its own
# 503), never after one answered: otherwise a feature's verdict or the
# callee's answer would run again on the second server (the callee rings
# twice) or through the skip (the callee rings without its features).
#
#   (a) 1001's call screening answers 1004 busy: 1004 gets 486, 1001's
#       phone never sees an INVITE, the second featured never sees the call;
#   (b) 1001's phone answers 486 (no forward on busy): the caller gets 486
#       once, the phone got exactly one INVITE; the same when the caller has
#       a calling feature (featured, running the calling hop, recurses on
#       redirectd's 302 into 1001's called hop);
#   (c) the first featured stopped: after the marshal's timer C (3 s here)
#       the second runs the features (screening still refuses 1004; 1000
#       gets through, one INVITE);
#   (d) both stopped: skip, the call reaches 1001 without the features;
#       fail, the caller gets a failure (408) and the phone nothing; both
#       disabled (as heartbeatd would do), redirectd refuses with 503 naming
#       the group (the marshal relays it as 500, RFC 3261 16.7).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/platform.sh
. tests/harness/platform.sh
# shellcheck source=tests/harness/sipp.sh
. tests/harness/sipp.sh
# shellcheck source=tests/harness/features.sh
. tests/harness/features.sh
harness_init
SIPP_TIMEOUT=20s
PLATFORM_FEATURES=2
PLATFORM_FEATURE_ON_FAILURE=skip
# A silent featured is given up at timer C (no provisional at all), not
# after Timer B's 32 s; the phones answer at once, so nothing else waits.
PLATFORM_TIMER_C=3s
platform_start
G=$FEATURE_GROUP_ID
H=127.0.0.1
S=tests/integration/sipp
P=tests/integration/sipp/platform


P1=$(harness_free_port udp) # 1001's phone
platform_register reg-1001 1001 "$P1"

# pcall NAME TEMPLATE CALLER CALLEE CALL-ID [KEY=VALUE...]: CALLER's phone
# calls CALLEE through the UA marshal
pcall() {
    local name=$1 tmpl=$2 caller=$3 callee=$4 cid=$5 scen
    shift 5
    scen=$(sipp_template "$tmpl" "USER=$caller" "PASSWORD=pw$caller" "CALLEE=$callee" "$@")
    sipp_run "$name" "$scen" "$H:$UA_PORT" x -cid_str "$cid"
}
# phone NAME SCENARIO SECONDS: 1001's phone, answering every INVITE that
# comes (up to three calls) until its time is up; after sipp_finish NAME,
# invites NAME counts them (by their top Via's branch: a retransmission is
# not another INVITE)
phone() { SIPP_TIMEOUT=$3s sipp_bg "$1" "$2" "$H:$P1" -m 3; }
# finals NAME STATUS: how many STATUS responses the caller NAME got
finals() { platform_statuses "$1" | tr ' ' '\n' | grep -cx "$2" || true; }
seen_by() { grep -c -F "$2" "$(platform_log "$1")" || true; } # DAEMON CALL-ID: log lines

busy=$(sipp_template $S/uas_reject.xml.in STATUS=486 "REASON=Busy Here")

# --- (a) a feature's verdict ------------------------------------------------------
feature 1001 call_screening '{"callers": ["sip:1004@vocal.test"], "action": "busy"}'
settle
cid="fo-a-$$@test"
phone a-p1 $S/uas_answer.xml 3
pcall a-call $P/call_expect.xml.in 1004 1001 "$cid" STATUS=486
assert_eq 1 "$(finals a-call 486)" "(a) screening answers busy: 1004 gets 486, once"
sipp_finish a-p1
assert_eq 0 "$(invites a-p1)" "(a) 1001's phone never sees the screened call (no skip taken)"
[[ $(seen_by feature "$cid") -gt 0 ]] || fail "(a) the first featured did not run the call"
assert_eq 0 "$(seen_by feature2 "$cid")" "(a) the second featured never sees the call"

# --- (b) the callee's answer, relayed by featured ---------------------------------
cid="fo-b-$$@test"
phone b-p1 "$busy" 3
pcall b-call $P/call_expect.xml.in 1000 1001 "$cid" STATUS=486
assert_eq 1 "$(finals b-call 486)" "(b) 1001 busy, no forward on busy: the caller gets 486, once"
sipp_finish b-p1
assert_eq 1 "$(invites b-p1)" "(b) 1001's phone got exactly one INVITE"
assert_eq 0 "$(seen_by feature2 "$cid")" "(b) the second featured never sees the call"
# the caller has a calling feature: featured runs that hop and recurses on
# redirectd's 302 into 1001's called hop itself
feature 1000 call_blocking '{"prefixes": ["1900"]}'
settle
cid="fo-b2-$$@test"
phone b2-p1 "$busy" 3
pcall b2-call $P/call_expect.xml.in 1000 1001 "$cid" STATUS=486
assert_eq 1 "$(finals b2-call 486)" "(b) through 1000's calling hop: the caller gets 486, once"
sipp_finish b2-p1
assert_eq 1 "$(invites b2-p1)" "(b) through 1000's calling hop: 1001's phone got exactly one INVITE"
assert_eq 0 "$(seen_by feature2 "$cid")" "(b) through 1000's calling hop: the second featured never sees the call"
nofeatures 1000
settle

# --- (c) the first featured stopped -------------------------------------------------
platform_stop_daemon feature
cid="fo-c-$$@test"
phone c-p1 $S/uas_answer.xml 8
pcall c-call $P/call_expect.xml.in 1004 1001 "$cid" STATUS=486
sipp_finish c-p1
assert_eq 0 "$(invites c-p1)" "(c) first featured stopped: the second screens 1004 (486), 1001's phone sees nothing"
[[ $(seen_by feature2 "$cid") -gt 0 ]] || fail "(c) the second featured did not run the call"
ok "(c) the second featured ran 1001's features"
cid="fo-c2-$$@test"
phone c2-p1 $S/uas_answer.xml 8
pcall c2-call $P/call.xml.in 1000 1001 "$cid"
sipp_finish c2-p1
assert_eq 1 "$(invites c2-p1)" "(c) first featured stopped: 1000's call reaches 1001's phone through the second, once"

# --- (d) both stopped ----------------------------------------------------------------
platform_stop_daemon feature2
cid="fo-d-$$@test"
phone d-p1 $S/uas_answer.xml 12
pcall d-call $P/call.xml.in 1004 1001 "$cid"
sipp_finish d-p1
assert_eq 1 "$(invites d-p1)" "(d) both stopped, on_failure skip: the call reaches 1001 without the features, once"
platform_sql -c "UPDATE server_groups SET on_failure = 'fail' WHERE id = $G" >/dev/null
settle
cid="fo-d2-$$@test"
phone d2-p1 $S/uas_answer.xml 12
pcall d2-call $P/call_expect.xml.in 1004 1001 "$cid" STATUS=408
sipp_finish d2-p1
assert_eq 0 "$(invites d2-p1)" "(d) both stopped, on_failure fail: the caller gets 408, 1001's phone nothing"
platform_sql -c "UPDATE servers SET enabled = false WHERE group_id = $G" >/dev/null
settle
pcall d3-call $P/call_expect.xml.in 1004 1001 "fo-d3-$$@test" STATUS=500
assert_contains "$(cat "$(platform_log redirect)")" "feature group features: no server, call refused (on_failure fail)" \
    "(d) both disabled, on_failure fail: redirectd refuses with 503 naming the group (500 at the caller)"
