#!/usr/bin/env bash
# CPL's <mail> in the real platform (RFC 3880 section 7.1): featured's
# mail.command is a script that stores each message it is given, and
# subscribers have raw CPL scripts that mail. Like platform_feature_test.sh,
# the test plays the platform server handing featured a call (a Request-URI
# signed with the platform's secret), and featured goes on through
# redirectd to SIPp phones.
#
#   - a mail, then ringing the subscriber: exactly one message, with the
#     URL's To and Subject and the call's Call-ID, and the call completes;
#   - a log and a mail before an attempt that ends busy, then a second mail
#     and a forward: each mail once (not again when featured runs the
#     script again with the busy outcome), the second saying what
#     happened (attempt 1 busy), the default subject naming the caller;
#   - a URL with a header field that is not allowed (bcc): not sent,
#     logged, and the call goes on;
#   - rate limit: mail.max_per_subscriber (4) mails in a minute, the next
#     dropped (logged), the calls unharmed;
#   - SIGHUP: a relative mail.command refused (the old one still sends), an
#     empty one turns mail off (logged as not sent).
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
[[ -x $HOP ]] || make --no-print-directory -s $HOP

# The mail command: featured runs it without a shell and with a minimal
# environment, so the directory is written into it.
MAILDIR=$HARNESS_DIR/mail
mkdir -p "$MAILDIR"
cat >"$HARNESS_DIR/sendmail.sh" <<EOF
#!/bin/bash
cat > "$MAILDIR/mail.\$\$.\$RANDOM"
EOF
chmod 755 "$HARNESS_DIR/sendmail.sh"
PLATFORM_EXTRA_FEATURE="mail.command = \"$HARNESS_DIR/sendmail.sh -t -i\"
mail.from = cpl@vocal.test
mail.max_per_subscriber = 4
mail.max_per_minute = 100"
platform_start
G=$FEATURE_GROUP_ID

cpl() { echo "{\"script\": \"<?xml version=\\\"1.0\\\"?><cpl xmlns=\\\"urn:ietf:params:xml:ns:cpl\\\"><incoming>$1</incoming></cpl>\"}"; }

n=0
CID=
# fcall NAME SCENARIO FROM TO [KEY=VALUE...]: FROM calls TO, handed to
# featured for TO's called side; the Call-ID is left in CID
fcall() {
    local name=$1 tmpl=$2 from=$3 to=$4 v scen
    shift 4
    n=$((n + 1))
    CID="mail-$n-$$@test"
    v=$($HOP "$FEATURE_SECRET" t 0 "$G" 0 "$CID" "$to" vocal.test)
    scen=$(sipp_template "$tmpl" "RURI=sip:$to@vocal.test:$FEATURE_PORT;maddr=$H;vocal-hop=$v" \
        "FROMHDR=<sip:$from@vocal.test>" "TO=$to" "$@")
    sipp_run "$name" "$scen" "$H:$FEATURE_PORT" x -cid_str "$CID"
}
# mails_for CALL-ID: the messages stored for that call
mails_for() { grep -l -F "Call-ID:     $1" "$MAILDIR"/mail.* 2>/dev/null || true; }
# wait_mails CALL-ID N: N messages for the call (the command runs apart)
wait_mails() {
    harness_wait_for "$2 mail(s) for $1" 5 bash -c "[[ \$(grep -l -F 'Call-ID:     $1' '$MAILDIR'/mail.* 2>/dev/null | wc -l) -ge $2 ]]" || true
    sleep 0.3 # and no more
}
flog() { cat "$(platform_log feature)"; }

P1=$(harness_free_port udp)
P2=$(harness_free_port udp)
platform_register reg-1001 1001 "$P1"
platform_register reg-1002 1002 "$P2"
ok "phones registered: 1001, 1002"

# --- a mail, then ringing the subscriber ---------------------------------------
feature 1001 cpl "$(cpl '<mail url=\"mailto:owner@example.com?subject=Call%20for%201001\"><lookup source=\"registration\"><success><proxy/></success></lookup></mail>')"
settle
sipp_bg p1-a $S/uas_answer.xml "$H:$P1"
fcall c-a $F/invite_answer.xml.in 1000 1001
sipp_wait p1-a
assert_eq "1 1" "$(received p1-a ACK) $(received p1-a BYE)" "mail then ringing: the call completes at 1001's phone"
wait_mails "$CID" 1
m=$(mails_for "$CID")
assert_eq "1" "$(echo "$m" | grep -c .)" "mail then ringing: exactly one message for the call"
msg=$(tr -d '\r' <"$m")
assert_contains "$msg" $'\nTo: owner@example.com\n' "the message goes to the URL's address"
assert_contains "$msg" $'\nSubject: Call for 1001\n' "the message has the URL's subject"
assert_contains "$msg" "From: cpl@vocal.test" "the message is from mail.from"
assert_contains "$msg" "Auto-Submitted: auto-generated" "the message is marked auto-generated (RFC 3834)"
assert_contains "$msg" "Caller:      sip:1000@vocal.test" "the message names the caller"
assert_contains "$msg" "Request-URI: sip:1001@vocal.test" "the message names the destination (no vocal-hop)"
[[ $msg != *vocal-hop* ]] || fail "the signed vocal-hop value leaked into the mail"

# --- once per call across replays; what the script did --------------------------
SCRIPT='<log name=\"calls\" comment=\"in\"><mail url=\"mailto:owner@example.com\"><lookup source=\"registration\"><success><proxy><busy><mail url=\"mailto:busy@example.com?subject=Busy\"><location url=\"sip:1002@vocal.test\"><proxy/></location></mail></busy></proxy></success></lookup></mail></log>'
feature 1001 cpl "$(cpl "$SCRIPT")"
settle
busy=$(sipp_template $S/uas_reject.xml.in STATUS=486 "REASON=Busy Here")
sipp_bg p1-b "$busy" "$H:$P1"
sipp_bg p2-b $S/uas_answer.xml "$H:$P2"
fcall c-b $F/invite_answer.xml.in 1000 1001
sipp_wait p1-b
sipp_wait p2-b
ok "busy, then forwarded: 1002 answered"
wait_mails "$CID" 2
m=$(mails_for "$CID")
# shellcheck disable=SC2086 # one file name a line, no blanks
to_owner=$(grep -l -F "To: owner@example.com" $m /dev/null || true)
# shellcheck disable=SC2086
to_busy=$(grep -l -F "To: busy@example.com" $m /dev/null || true)
assert_eq "1 1" "$(echo "$to_owner" | grep -c .) $(echo "$to_busy" | grep -c .)" \
    "a mail before the attempt and one after: one message each, none repeated on the replay"
first=$to_owner
second=$to_busy
assert_contains "$(tr -d '\r' <"$first")" "Subject: [CPL] Call from sip:1000@vocal.test" \
    "no subject in the URL nor the call: [CPL] and the caller"
assert_contains "$(tr -d '\r' <"$first")" "Script:      no attempt yet" "the first mail: before any attempt"
assert_contains "$(tr -d '\r' <"$second")" "Script:      attempt 1 busy" "the second mail says the attempt was busy"
assert_eq "1" "$(grep -c "\[$CID\] cpl log calls: in" "$(platform_log feature)")" "the log node is logged once too"

# --- a URL with a header field that is not allowed ------------------------------------
feature 1001 cpl "$(cpl '<mail url=\"mailto:owner@example.com?bcc=spy@example.com\"><lookup source=\"registration\"><success><proxy/></success></lookup></mail>')"
settle
sipp_bg p1-c $S/uas_answer.xml "$H:$P1"
fcall c-c $F/invite_answer.xml.in 1000 1001
sipp_wait p1-c
ok "a refused mail URL: the call still reaches 1001's phone"
sleep 0.5
assert_eq "" "$(mails_for "$CID")" "a refused mail URL: nothing sent"
assert_contains "$(flog)" "[$CID] subscriber" "the refusal is logged with the Call-ID"
assert_contains "$(flog | grep -F "[$CID]")" "cpl mail not sent: header field bcc is not allowed" \
    "the refusal says why"

# --- rate limit per subscriber ------------------------------------------------------
# The limits count per minute of featured's monotonic clock: keep the calls
# inside one (they take a few seconds).
while (( $(cut -d. -f1 /proc/uptime) % 60 > 45 )); do sleep 1; done
feature 1002 cpl "$(cpl '<mail url=\"mailto:r@example.com?subject=Rate\"><reject status=\"busy\" reason=\"Mailed\"/></mail>')"
settle
cids=()
for i in 1 2 3 4 5; do
    fcall c-r$i $F/invite_expect.xml.in 1000 1002 STATUS=486
    cids+=("$CID")
done
ok "five calls to 1002 rejected by its script (486), each after a mail node"
sleep 1
sent=0
for c in "${cids[@]}"; do
    [[ -z $(mails_for "$c") ]] || sent=$((sent + 1))
done
assert_eq "4" "$sent" "mail.max_per_subscriber = 4: four of the five calls mailed"
assert_contains "$(flog | grep -F "[${cids[4]}]")" "cpl mail dropped: mail.max_per_subscriber" \
    "the fifth mail was dropped, logged with its Call-ID"

# --- SIGHUP: a mail command that is no absolute executable is refused (the
# old one stays); an empty one turns mail off --------------------------------------
CONF=$HARNESS_DIR/platform/feature.conf
feature 1001 cpl "$(cpl '<mail url=\"mailto:owner@example.com?subject=Reload\"><reject status=\"busy\"/></mail>')"
sed -i 's|^mail.command = .*|mail.command = "sendmail -t -i"|' "$CONF"
kill -HUP "${_PLATFORM_PIDS[feature]}"
harness_wait_for "featured to refuse the reload" 5 bash -c "grep -q 'reload of .* refused' '$(platform_log feature)'" ||
    fail "featured accepted a relative mail.command"
assert_contains "$(flog)" "mail.command: sendmail is not an executable given by its absolute path" \
    "SIGHUP with a relative mail.command: refused, saying why"
fcall c-h1 $F/invite_expect.xml.in 1000 1001 STATUS=486
wait_mails "$CID" 1
assert_eq "1" "$(mails_for "$CID" | grep -c .)" "after the refused reload the old mail.command still sends"
sed -i 's|^mail.command = .*|mail.command = ""|' "$CONF"
kill -HUP "${_PLATFORM_PIDS[feature]}"
harness_wait_for "featured to reload" 5 bash -c "[[ \$(grep -c 'reloaded ' '$(platform_log feature)') -ge 1 ]]" ||
    fail "featured did not reload"
fcall c-h2 $F/invite_expect.xml.in 1000 1001 STATUS=486
sleep 0.5
assert_eq "" "$(mails_for "$CID")" "mail.command emptied by SIGHUP: nothing sent"
assert_contains "$(flog | grep -F "[$CID]")" "cpl mail to owner@example.com not sent: mail.command is empty" \
    "mail off: the mail action is logged as not sent"

platform_stop_daemon feature
assert_contains "$(flog | tail -n 3)" "mail-dropped=1" "featured's stats count the dropped mail"
assert_contains "$(flog | tail -n 3)" "mail-refused=1" "and the refused URL"
assert_contains "$(flog | tail -n 3)" "mail-off=1" "and the mail not sent while mail was off"
ok "featured stopped cleanly"
