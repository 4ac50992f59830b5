#!/usr/bin/env bash
# One featured serving two feature groups: it listens on two addresses,
# each a server of its own group ("features" and "features-b"). A
# subscriber's features run in the group their subscription names, and a
# call whose caller and callee have features in different groups passes
# through the same featured twice, once per hop, all through the marshal
# and redirectd.
#
#   - 1001's call screening is in group features-b: 1004 calling 1001 gets
#     486 from it (so featured answered on features-b's address, the only
#     server of that group), 1001's phone never sees the call;
#   - 1000's call blocking is in group features: 1000 calling a blocked
#     number gets 603;
#   - 1000 calling 1001: the calling hop (features) and the called hop
#     (features-b) both run in featured, and 1001's phone answers;
#   - the group features-b has no other server: with featured's second
#     address not in it (the server disabled), redirectd refuses 1001's
#     calls (on_failure fail), while features still serves 1000's hop.
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
PLATFORM_FEATURES=1
FB=$(harness_free_port udp) # featured's address in group features-b
PLATFORM_FEATURE_LISTEN_EXTRA="127.0.0.1:$FB"
platform_start
GA=$FEATURE_GROUP_ID
H=127.0.0.1
S=tests/integration/sipp
P=tests/integration/sipp/platform

GB=$(platform_sql -c "INSERT INTO server_groups (name, kind, on_failure) VALUES ('features-b', 'feature', 'fail') RETURNING id")
platform_sql -c "INSERT INTO servers (group_id, host, port) VALUES ($GB, '127.0.0.1', $FB)" >/dev/null
[[ $GA =~ ^[0-9]+$ && $GB =~ ^[0-9]+$ && $GA != "$GB" ]] || fail "groups: $GA $GB"
ok "two feature groups, featured a server of each (ports $FEATURE_PORT and $FB)"


P1=$(harness_free_port udp) # 1001's phone
platform_register reg-1001 1001 "$P1"

pcall() { # NAME TEMPLATE CALLER CALLEE CALL-ID [KEY=VALUE...]: through the UA marshal
    local name=$1 tmpl=$2 caller=$3 callee=$4 cid=$5 scen
    shift 5
    scen=$(sipp_template "$tmpl" "USER=$caller" "PASSWORD=pw$caller" "CALLEE=$callee" "$@")
    sipp_run "$name" "$scen" "$H:$UA_PORT" x -cid_str "$cid"
}
phone() { SIPP_TIMEOUT=$3s sipp_bg "$1" "$2" "$H:$P1" -m 3; }
hops_of() { grep -F "$1" "$(platform_log feature)" | grep -c "side of subscriber" || true; }

feature 1001 call_screening '{"callers": ["sip:1004@vocal.test"], "action": "busy"}' "$GB"
feature 1000 call_blocking '{"prefixes": ["1900"]}' "$GA"
settle

# --- the called hop in group features-b ------------------------------------------
cid="grp-screen-$$@test"
phone screen-p1 $S/uas_answer.xml 3
pcall screen-call $P/call_expect.xml.in 1004 1001 "$cid" STATUS=486
assert_eq 486 "$(last_status screen-call)" "1001's screening in group features-b: 1004 gets 486"
sipp_finish screen-p1
assert_eq 0 "$(invites screen-p1)" "...and 1001's phone never sees the call"
assert_contains "$(grep -F "$cid" "$(platform_log feature)")" "called side of subscriber" \
    "featured ran 1001's called side"
assert_contains "$(grep -F "$cid" "$(platform_log feature)")" "(group $GB)" "...as a hop of group features-b"

# --- the calling hop in group features ---------------------------------------------
cid="grp-block-$$@test"
pcall block-call $P/call_expect.xml.in 1000 19005551212 "$cid" STATUS=603
assert_eq 603 "$(last_status block-call)" "1000's call blocking in group features: 603"

# --- both hops, one featured -------------------------------------------------------
cid="grp-both-$$@test"
phone both-p1 $S/uas_answer.xml 5
pcall both-call $P/call.xml.in 1000 1001 "$cid"
sipp_finish both-p1
assert_eq 1 "$(invites both-p1)" "1000 calls 1001 through both groups' hops: 1001's phone answers, one INVITE"
assert_eq 2 "$(hops_of "$cid")" "featured ran both hops of the call"
assert_contains "$(grep -F "$cid" "$(platform_log feature)")" "calling side of subscriber" "...the calling one"
assert_contains "$(grep -F "$cid" "$(platform_log feature)" | grep "calling side")" "(group $GA)" "...in group features"
assert_contains "$(grep -F "$cid" "$(platform_log feature)" | grep "called side")" "(group $GB)" "...and the called one in group features-b"

# --- features-b without its server: 1001's calls fail, features still serves --------
platform_sql -c "UPDATE servers SET enabled = false WHERE group_id = $GB" >/dev/null
settle
cid="grp-down-$$@test"
phone down-p1 $S/uas_answer.xml 3
pcall down-call $P/call_expect.xml.in 1004 1001 "$cid" STATUS=500
assert_eq 500 "$(last_status down-call)" "features-b without a server (on_failure fail): 1001's call fails cleanly"
sipp_finish down-p1
assert_eq 0 "$(invites down-p1)" "...and 1001's phone sees nothing"
cid="grp-block2-$$@test"
pcall block2-call $P/call_expect.xml.in 1000 19005551212 "$cid" STATUS=603
assert_eq 603 "$(last_status block2-call)" "group features still serves 1000's calling hop"
