#!/usr/bin/env bash
# The feature server (featured) in the real platform: PostgreSQL with the
# test data, redirectd, the marshals and featured. This test plays the
# platform server that hands featured a call (redirectd's 302 in the full
# path): it sends featured INVITEs whose Request-URI carries a vocal-hop
# value signed with the platform's secret (hop_driver), as redirectd's 302
# would have it; featured runs the subscriber's features and goes on
# through redirectd and the callee's marshal to SIPp phones.
#
#   - refusals: no vocal-hop, a bad MAC, a hop for another Call-ID, phase
#     r (403); a request from an address that is no platform server (403);
#     OPTIONS to featured (200);
#   - no features: the call goes on to the callee's phone;
#   - called side: raw CPL screening (603), forward all, forward on busy
#     (the phone answers 486, the call goes to the target), forward on no
#     answer (the phone rings, featured CANCELs after ring_time, the
#     target answers), voicemail on no answer, a chain (screening then
#     forward on no answer to voicemail), time of day, a raw CPL script
#     with a timeout and a noanswer output;
#   - carrier-locked features beside a raw CPL script: locked call blocking
#     refuses the premium number, other calls follow the raw script (and
#     unlocked, the raw script replaces the blocking); locked screening
#     refuses the listed caller, others follow the raw script;
#   - calling side: call blocking (prefix, 603), caller-ID blocking (the
#     callee sees an anonymous From and Privacy: id), call return (the
#     called side remembered the caller; *69 reaches it; nobody to return
#     gives 404);
#   - a change of settings reaches featured by NOTIFY.
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
PLATFORM_FEATURED_TRUST=127.0.0.1:0
S=tests/integration/sipp
F=tests/integration/sipp/feature
H=127.0.0.1
HOP=build/tests/integration/hop_driver
SEND=build/tests/proxy/sipsend
[[ -x $HOP && -x $SEND ]] || make --no-print-directory -s $HOP $SEND
platform_start
G=$FEATURE_GROUP_ID

# locked USER KIND: the carrier locks USER's subscription to KIND
locked() {
    platform_sql -c "UPDATE subscriber_features SET locked = true WHERE feature = '$2'
        AND subscriber_id = (SELECT id FROM subscribers WHERE user_part = '$1')" >/dev/null
}

n=0
# ruri PHASE CALLEE CALLID [GROUP]: a Request-URI signed for featured
ruri() {
    local v
    v=$($HOP "$FEATURE_SECRET" "$1" 0 "${4:-$G}" 0 "$3" "$2" vocal.test)
    echo "sip:$2@vocal.test:$FEATURE_PORT;maddr=$H;vocal-hop=$v"
}

# fcall NAME SCENARIO PHASE FROM TO [KEY=VALUE...]: FROM calls TO, handed
# to featured for PHASE's hop
fcall() {
    local name=$1 tmpl=$2 phase=$3 from=$4 to=$5 cid scen
    shift 5
    n=$((n + 1))
    cid="feature-$n-$$@test"
    scen=$(sipp_template "$tmpl" "RURI=$(ruri "$phase" "$to" "$cid")" "FROMHDR=<sip:$from@vocal.test>" \
        "TO=$to" "$@")
    sipp_run "$name" "$scen" "$H:$FEATURE_PORT" x -cid_str "$cid"
}

flog() { cat "$(platform_log feature)"; }

P1=$(harness_free_port udp) # 1001's phone
P2=$(harness_free_port udp) # 1002's phone
P0=$(harness_free_port udp) # 1000's phone
P4=$(harness_free_port udp) # 1004's phone
VM=$(harness_free_port udp) # the voicemail server
platform_register reg-1001 1001 "$P1"
platform_register reg-1002 1002 "$P2"
platform_register reg-1000 1000 "$P0"
platform_register reg-1004 1004 "$P4"
ok "phones registered: 1000, 1001, 1002, 1004"

# --- refusals ---------------------------------------------------------------
expect_status() { # NAME RURI STATUS MSG
    local scen
    scen=$(sipp_template $F/invite_expect.xml.in "RURI=$2" "FROMHDR=<sip:1000@vocal.test>" TO=1001 \
        "STATUS=$3")
    sipp_run "$1" "$scen" "$H:$FEATURE_PORT" x -cid_str "refused-$1-$$@test"
    assert_eq "$3" "$(last_status "$1")" "$4"
}
expect_status no-hop "sip:1001@vocal.test:$FEATURE_PORT;maddr=$H" 403 "no vocal-hop: 403"
v=$($HOP "$FEATURE_SECRET" t 0 "$G" 0 "another-call@test" 1001 vocal.test)
expect_status other-call "sip:1001@vocal.test:$FEATURE_PORT;maddr=$H;vocal-hop=$v" 403 \
    "a vocal-hop signed for another Call-ID: 403"
v=$($HOP "$FEATURE_SECRET" t 0 "$G" 0 "refused-bad-mac-$$@test" 1001 vocal.test)
last=${v: -1}
[[ $last == 0 ]] && flip=1 || flip=0
expect_status bad-mac "sip:1001@vocal.test:$FEATURE_PORT;maddr=$H;vocal-hop=${v%?}$flip" 403 "a bad MAC: 403"
v=$($HOP "$FEATURE_SECRET" t 0 "$G" 0 "refused-other-user-$$@test" 1002 vocal.test)
expect_status other-user "sip:1001@vocal.test:$FEATURE_PORT;maddr=$H;vocal-hop=$v" 403 \
    "a vocal-hop signed for another target: 403"
v=$($HOP "$FEATURE_SECRET" r 0 0 1 "refused-phase-r-$$@test" 1001 vocal.test)
expect_status phase-r "sip:1001@vocal.test:$FEATURE_PORT;maddr=$H;vocal-hop=$v" 403 \
    "phase r is redirectd's, not featured's: 403"
assert_contains "$(flog)" "without a valid vocal-hop" "featured logs the refusals"
sipsak -s "sip:$H:$FEATURE_PORT" -H $H >/dev/null 2>&1 || fail "OPTIONS to featured: no 200"
ok "OPTIONS to featured: 200"

# --- no features: straight on to the callee ----------------------------------
sipp_bg p1-plain $S/uas_answer.xml "$H:$P1"
fcall c-plain $F/invite_answer.xml.in t 1000 1001
sipp_wait p1-plain
assert_eq "1 1" "$(received p1-plain ACK) $(received p1-plain BYE)" \
    "no features: the call goes on through redirectd to 1001's phone (ACK and BYE reach it)"
assert_contains "$(platform_received p1-plain | grep -m1 '^INVITE ')" "INVITE sip:1001@" \
    "no features: the phone gets the call for 1001"

# --- raw CPL: screening ------------------------------------------------------
CPL_SCREEN='<?xml version=\"1.0\"?><cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming><address-switch field=\"origin\" subfield=\"user\"><address is=\"1000\"><reject status=\"reject\" reason=\"Screened\"/></address></address-switch></incoming></cpl>'
feature 1001 cpl "{\"script\": \"$CPL_SCREEN\"}"
settle
fcall c-screen $F/invite_expect.xml.in t 1000 1001 STATUS=603
assert_eq "603" "$(last_status c-screen)" "raw CPL screening: 1000 calling 1001 gets 603"
assert_contains "$(platform_received c-screen | grep '^SIP/2.0 603')" "Screened" "the reject's reason is the reason phrase"
sipp_bg p1-ok $S/uas_answer.xml "$H:$P1"
fcall c-screen-other $F/invite_answer.xml.in t 1004 1001
sipp_wait p1-ok
ok "raw CPL screening: another caller (1004) gets through"
nofeatures 1001

# --- forward all ---------------------------------------------------------------
feature 1001 forward_all '{"target": "1002"}'
settle
sipp_bg p2-fa $S/uas_answer.xml "$H:$P2"
fcall c-fa $F/invite_answer.xml.in t 1000 1001
sipp_wait p2-fa
assert_contains "$(platform_received p2-fa | grep -m1 '^INVITE ')" "INVITE sip:1002@" \
    "forward all: the call for 1001 reaches 1002's phone"
nofeatures 1001

# --- forward on busy -----------------------------------------------------------
feature 1001 forward_busy '{"target": "1002"}'
settle
busy=$(sipp_template $S/uas_reject.xml.in STATUS=486 "REASON=Busy Here")
sipp_bg p1-busy "$busy" "$H:$P1"
sipp_bg p2-fb $S/uas_answer.xml "$H:$P2"
fcall c-fb $F/invite_answer.xml.in t 1000 1001
sipp_wait p1-busy
sipp_wait p2-fb
ok "forward on busy: 1001's phone answered 486, the call went to 1002, which answered"
nofeatures 1001

# --- forward on no answer ------------------------------------------------------
feature 1001 forward_no_answer '{"target": "1002", "ring_time": 5}'
settle
sipp_bg p1-na $F/uas_ring_cancel.xml "$H:$P1"
sipp_bg p2-na $S/uas_answer.xml "$H:$P2"
t0=$SECONDS
fcall c-na $F/invite_answer.xml.in t 1000 1001
sipp_wait p1-na
sipp_wait p2-na
assert_eq "1" "$(received p1-na CANCEL)" "forward on no answer: 1001's ringing phone was cancelled"
((SECONDS - t0 >= 5)) || fail "forward on no answer: the forward came before ring_time (5 s)"
ok "forward on no answer: after ring_time the call went to 1002 ($((SECONDS - t0)) s)"
nofeatures 1001

# --- voicemail on no answer, and the chain screening + no answer to voicemail ---
feature 1001 voicemail "{\"uri\": \"sip:vm@$H:$VM\", \"on_no_answer\": true, \"on_busy\": true, \"ring_time\": 5}"
feature 1001 call_screening '{"callers": ["sip:1004@vocal.test"], "action": "reject"}'
settle
sipp_bg p1-vm $F/uas_ring_cancel.xml "$H:$P1"
sipp_bg vm-1 $S/uas_answer.xml "$H:$VM"
fcall c-vm $F/invite_answer.xml.in t 1000 1001
sipp_wait p1-vm
sipp_wait vm-1
assert_contains "$(platform_received vm-1 | grep -m1 '^INVITE ')" "INVITE sip:vm@$H:$VM" \
    "chain: 1000 is not screened, 1001 does not answer, voicemail answers"
fcall c-chain-screened $F/invite_expect.xml.in t 1004 1001 STATUS=603
assert_eq "603" "$(last_status c-chain-screened)" "chain: the screened caller 1004 gets 603 before anything rings"
nofeatures 1001

# --- time of day ------------------------------------------------------------------
feature 1001 time_of_day '{"tzid": "UTC", "periods": [{"days": ["MO","TU","WE","TH","FR","SA","SU"], "start": "00:00", "end": "24:00"}], "when": "inside", "target": "1002"}'
settle
sipp_bg p2-tod $S/uas_answer.xml "$H:$P2"
fcall c-tod $F/invite_answer.xml.in t 1000 1001
sipp_wait p2-tod
ok "time of day: inside the period (all week, all day) the call goes to 1002"
nofeatures 1001

# --- raw CPL with a proxy timeout and a noanswer output -------------------------------
CPL_NA='<?xml version=\"1.0\"?><cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming><lookup source=\"registration\"><success><proxy timeout=\"2\"><noanswer><location url=\"sip:1002@vocal.test\"><proxy/></location></noanswer></proxy></success></lookup></incoming></cpl>'
feature 1001 cpl "{\"script\": \"$CPL_NA\"}"
settle
sipp_bg p1-cpl $F/uas_ring_cancel.xml "$H:$P1"
sipp_bg p2-cpl $S/uas_answer.xml "$H:$P2"
fcall c-cpl $F/invite_answer.xml.in t 1000 1001
sipp_wait p1-cpl
sipp_wait p2-cpl
ok "raw CPL: proxy timeout=2, noanswer -> proxy to 1002, which answered"
nofeatures 1001

# --- a redirect: the Contact is marked as a forward (signed for its target) ---
CPL_REDIR='<?xml version=\"1.0\"?><cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming><location url=\"sip:1002@vocal.test\"><redirect/></location></incoming></cpl>'
feature 1001 cpl "{\"script\": \"$CPL_REDIR\"}"
settle
fcall c-redir $F/invite_expect.xml.in t 1000 1001 STATUS=302
assert_contains "$(platform_received c-redir | grep -m1 -i '^Contact:')" "<sip:1002@vocal.test;vocal-hop=r.0.0.1." \
    "raw CPL redirect: 302 whose Contact is 1002 marked as a retarget"
nofeatures 1001

# --- the database down: featured serves from what it loaded ---
feature 1001 forward_all '{"target": "1002"}'
settle
pg_stop
sipp_bg p2-dbdown $S/uas_answer.xml "$H:$P2"
fcall c-dbdown $F/invite_answer.xml.in t 1000 1001
sipp_wait p2-dbdown
ok "database down: 1001's forward all still runs (from memory)"
_pg_launch_and_wait || fail "PostgreSQL did not come back"
harness_wait_for "featured to reload after the database came back" 20 \
    bash -c "[[ \$(grep -c 'features loaded' '$(platform_log feature)') -ge 2 ]]" ||
    fail "featured did not reload its features after reconnecting"
ok "database back: featured reconnected and loaded every subscription again"
nofeatures 1001

# --- calling side: call blocking ---------------------------------------------------
feature 1000 call_blocking '{"prefixes": ["1900"], "reason": "Premium Rate Blocked"}'
settle
fcall c-block $F/invite_expect.xml.in c 1000 19005551212 STATUS=603
assert_eq "603" "$(last_status c-block)" "call blocking: 1000 dialling 19005551212 gets 603"
nofeatures 1000

# --- calling side: carrier-locked call blocking beside a raw CPL script ------------
# The raw script proxies every outgoing call to 1002; the carrier's blocking
# runs first, so the premium number is refused and anything else follows
# the raw script.
CPL_ALL='<?xml version=\"1.0\"?><cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><outgoing><location url=\"sip:1002@vocal.test\" clear=\"yes\"><proxy/></location></outgoing></cpl>'
feature 1000 call_blocking '{"prefixes": ["1900"], "reason": "Premium Rate Blocked"}'
locked 1000 call_blocking
feature 1000 cpl "{\"script\": \"$CPL_ALL\"}"
settle
fcall c-lock-block $F/invite_expect.xml.in c 1000 19005551212 STATUS=603
assert_eq "603" "$(last_status c-lock-block)" "locked call blocking beside a raw script: 1000 dialling 19005551212 gets 603"
assert_contains "$(platform_received c-lock-block | grep '^SIP/2.0 603')" "Premium Rate Blocked" \
    "locked call blocking beside a raw script: the carrier's reason"
sipp_bg p2-lock-raw $S/uas_answer.xml "$H:$P2"
fcall c-lock-raw $F/invite_answer.xml.in c 1000 1001
sipp_wait p2-lock-raw
assert_contains "$(platform_received p2-lock-raw | grep -m1 '^INVITE ')" "INVITE sip:1002@" \
    "locked call blocking beside a raw script: a call to 1001 follows the raw script to 1002's phone"
# the same blocking unlocked is the subscriber's own: the raw script replaces it
platform_sql -c "UPDATE subscriber_features SET locked = false WHERE feature = 'call_blocking'" >/dev/null
settle
sipp_bg p2-unlocked $S/uas_answer.xml "$H:$P2"
fcall c-unlocked $F/invite_answer.xml.in c 1000 19005551212
sipp_wait p2-unlocked
ok "unlocked call blocking beside a raw script: the raw script decides, 19005551212 goes to 1002"
nofeatures 1000

# --- called side: carrier-locked screening beside a raw CPL script ---------------
CPL_FWD='<?xml version=\"1.0\"?><cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming><location url=\"sip:1002@vocal.test\"><proxy/></location></incoming></cpl>'
feature 1001 call_screening '{"callers": ["sip:1004@vocal.test"], "action": "reject"}'
locked 1001 call_screening
feature 1001 cpl "{\"script\": \"$CPL_FWD\"}"
settle
fcall c-lock-screen $F/invite_expect.xml.in t 1004 1001 STATUS=603
assert_eq "603" "$(last_status c-lock-screen)" "locked screening beside a raw script: 1004 calling 1001 gets 603"
sipp_bg p2-lock-fwd $S/uas_answer.xml "$H:$P2"
fcall c-lock-fwd $F/invite_answer.xml.in t 1000 1001
sipp_wait p2-lock-fwd
ok "locked screening beside a raw script: 1000's call follows the raw script to 1002"
nofeatures 1001

# --- calling side: caller-ID blocking --------------------------------------------
feature 1000 caller_id_blocking '{}'
settle
sipp_bg p1-anon $S/uas_answer.xml "$H:$P1"
fcall c-anon $F/invite_answer.xml.in c 1000 1001
sipp_wait p1-anon
from=$(platform_received p1-anon | grep -m1 -i '^From:')
assert_contains "$from" '"Anonymous" <sip:anonymous@anonymous.invalid>' "caller-ID blocking: the callee sees an anonymous From"
assert_contains "$from" "tag=" "caller-ID blocking: the From keeps its tag"
assert_contains "$(platform_received p1-anon | grep -m1 -i '^Privacy:')" "id" "caller-ID blocking: Privacy: id"
nofeatures 1000

# --- call return --------------------------------------------------------------------
feature 1004 call_return '{}'
settle
scen=$(sipp_template $F/invite_expect.xml.in "RURI=$(ruri c '*69' "cr-none-$$@test")" \
    "FROMHDR=<sip:1004@vocal.test>" "TO=*69" STATUS=404)
sipp_run c-cr-none "$scen" "$H:$FEATURE_PORT" x -cid_str "cr-none-$$@test"
assert_contains "$(platform_received c-cr-none | grep '^SIP/2.0 404')" "No Caller To Return" \
    "call return: nobody called 1004 yet: 404 No Caller To Return"
sipp_bg p4-cr $S/uas_answer.xml "$H:$P4"
fcall c-cr-in $F/invite_answer.xml.in t 1000 1004
sipp_wait p4-cr
harness_wait_for "last caller of 1004 recorded" 5 bash -c \
    "[[ \$($PG_BINDIR/psql -X -At '$VOCAL_DB_URI' -c \"SELECT caller FROM last_callers l JOIN subscribers s ON s.id = l.subscriber_id WHERE s.user_part = '1004'\") == sip:1000@vocal.test ]]" ||
    fail "call return: 1000 not recorded as 1004's last caller"
ok "call return: the called side recorded 1000 as 1004's last caller"
sipp_bg p0-cr $S/uas_answer.xml "$H:$P0"
scen=$(sipp_template $F/invite_answer.xml.in "RURI=$(ruri c '*69' "cr-back-$$@test")" \
    "FROMHDR=<sip:1004@vocal.test>" "TO=*69")
sipp_run c-cr-back "$scen" "$H:$FEATURE_PORT" x -cid_str "cr-back-$$@test"
sipp_wait p0-cr
ok "call return: 1004 dials *69 and reaches 1000's phone"
nofeatures 1004

# --- the whole path: phone -> marshal -> redirectd -> featured -> ... -> phone ---
P=tests/integration/sipp/platform
# pcall NAME TEMPLATE CALLER CALLEE [KEY=VALUE...]: CALLER's phone calls CALLEE through the UA marshal
pcall() {
    local name=$1 tmpl=$2 caller=$3 callee=$4 scen
    shift 4
    scen=$(sipp_template "$tmpl" "USER=$caller" "PASSWORD=pw$caller" "CALLEE=$callee" "$@")
    sipp_run "$name" "$scen" "$H:$UA_PORT" x
}
feature 1001 call_screening '{"callers": ["sip:1004@vocal.test"], "action": "reject"}'
feature 1001 forward_busy '{"target": "1002"}'
settle
pcall e2e-screened $P/call_expect.xml.in 1004 1001 STATUS=603
assert_eq "603" "$(last_status e2e-screened)" "end to end: redirectd sends 1004's call to 1001's feature hop, screening answers 603"
busy=$(sipp_template $S/uas_reject.xml.in STATUS=486 "REASON=Busy Here")
sipp_bg e2e-p1 "$busy" "$H:$P1"
sipp_bg e2e-p2 $S/uas_answer.xml "$H:$P2"
pcall e2e-busy $P/call.xml.in 1000 1001
sipp_wait e2e-p1
sipp_wait e2e-p2
assert_contains "$(platform_received e2e-p2 | grep -m1 '^INVITE ')" "INVITE sip:1002@" \
    "end to end: 1000 -> 1001 busy -> forwarded by featured -> redirectd -> 1002's phone answers"
feature 1000 caller_id_blocking '{}'
settle
sipp_bg e2e-anon $S/uas_answer.xml "$H:$P4"
pcall e2e-anon-call $P/call.xml.in 1000 1004
sipp_wait e2e-anon
assert_contains "$(platform_received e2e-anon | grep -m1 -i '^From:')" "anonymous@anonymous.invalid" \
    "end to end: 1000's calling hop hides its identity from 1004"
nofeatures 1000

# --- the log names every call --------------------------------------------------
assert_contains "$(flog)" "feature-" "featured's log lines carry the Call-ID"
platform_stop_daemon feature
ok "featured stopped cleanly (SIGTERM, exit 0)"

# --- featured stopped: the group's on_failure decides -------------------------------
# As heartbeatd would do for a server that stopped: disabled, so redirectd
# knows at once. skip: the call goes on without 1001's features (no
# screening); fail: the caller gets a clean error.
platform_sql -c "UPDATE servers SET enabled = false WHERE port = $FEATURE_PORT" >/dev/null
platform_sql -c "UPDATE server_groups SET on_failure = 'skip' WHERE name = 'features'" >/dev/null
settle
sipp_bg skip-p1 $S/uas_answer.xml "$H:$P1"
pcall skip-call $P/call.xml.in 1004 1001
sipp_wait skip-p1
ok "featured down, group on_failure skip: 1004's call to 1001 completes without screening"
platform_sql -c "UPDATE server_groups SET on_failure = 'fail' WHERE name = 'features'" >/dev/null
settle
# redirectd answers 503 naming the group; the marshal relays a 503 as 500
# (RFC 3261 16.7: a 503 would mean the marshal itself is unavailable)
pcall fail-call $P/call_expect.xml.in 1004 1001 STATUS=500
assert_eq "500" "$(last_status fail-call)" "featured down, group on_failure fail: the caller gets a clean 500"
assert_contains "$(cat "$(platform_log redirect)")" "feature group features: no server, call refused (on_failure fail)" \
    "featured down, group on_failure fail: redirectd refused the call, naming the group"
# the server still listed but not answering: the marshal gives up on it
# after its transaction timeout and takes redirectd's skip Contact
platform_sql -c "UPDATE servers SET enabled = true WHERE port = $FEATURE_PORT" >/dev/null
platform_sql -c "UPDATE server_groups SET on_failure = 'skip' WHERE name = 'features'" >/dev/null
settle
SIPP_TIMEOUT=60s sipp_bg skip2-p1 $S/uas_answer.xml "$H:$P1"
SIPP_TIMEOUT=60s pcall skip2-call $P/call.xml.in 1004 1001
sipp_wait skip2-p1
ok "featured stopped but listed, on_failure skip: the call completes after the marshal's timeout"
