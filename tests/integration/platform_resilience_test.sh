#!/usr/bin/env bash
# The platform when things go wrong, end to end with SIPp and raw messages:
#
#   - redirectd restarted: the bindings come back from PostgreSQL and a
#     call to a phone registered before the restart completes;
#   - PostgreSQL stopped: a registered phone can still be called (the
#     marshal authenticates and redirectd routes from memory), a new
#     REGISTER still gets 200, and once the database is back the binding
#     made meanwhile is written to location_bindings;
#   - two redirectd instances on one database: a REGISTER through the
#     marshal (redirect-a) is routed by redirect-b within 500 ms (NOTIFY);
#   - malformed messages to the marshal and to redirectd get 400, nothing
#     crashes, and both still serve afterwards;
#   - a scanner's User-Agent (friendly-scanner) gets no answer at all;
#   - failed authentications (3 allowed here): an address that failed 3
#     times (127.0.0.2) gets no answer any more while 127.0.0.1 is served,
#     and a user that failed 3 times (from 3 addresses) gets 403.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/platform.sh
. tests/harness/platform.sh
# shellcheck source=tests/harness/sipp.sh
. tests/harness/sipp.sh
harness_init
SIPP_TIMEOUT=15s
PLATFORM_EXTRA_UA="auth.max_failures_per_address = 3
auth.max_failures_per_user = 3"
P=tests/integration/sipp/platform
S=tests/integration/sipp
H=127.0.0.1
SEND=build/tests/proxy/sipsend
[[ -x $SEND ]] || make --no-print-directory -s $SEND
platform_start


# call NAME CALLEE CALLEE_PORT: 1000 calls CALLEE, whose phone (a SIPp at
# CALLEE_PORT) answers; both scenarios must complete.
call() {
    local scen
    scen=$(sipp_template $P/call.xml.in USER=1000 PASSWORD=pw1000 CALLEE="$2")
    sipp_bg "$1-callee" $S/uas_answer.xml "$H:$3"
    sipp_run "$1" "$scen" "$H:$UA_PORT" x
    sipp_wait "$1-callee"
    assert_eq "1" "$(platform_responses "$1" | grep -c '^200 INVITE$')" "$4"
}

# raw FILE REQUEST-LINE HEADERS...: write a request (Via sent-by $VIA, by
# default an unused port of ours) to FILE and print FILE.
raw() {
    local f=$HARNESS_DIR/$1 line=$2
    shift 2
    {
        printf '%s\r\n' "$line" "Via: SIP/2.0/UDP ${VIA:-$H:9};branch=z9hG4bK-raw-$RANDOM$RANDOM" \
            "Call-ID: raw-$RANDOM$RANDOM@vocal-tests" "Max-Forwards: 70" "$@" "Content-Length: 0"
        printf '\r\n'
    } >"$f"
    echo "$f"
}

alive() {
    harness_pid_alive "${_PLATFORM_PIDS[$1]}" || fail "$1 is not running"
    sipsak -s "sip:$H:$2" -H $H >/dev/null 2>&1 || fail "$1 does not answer OPTIONS"
}

B1=$(harness_free_port udp)
platform_register reg-1001 1001 "$B1"

# --- redirectd restarted ---
platform_stop_daemon redirect
platform_start_daemon redirect
assert_eq 1 "$(grep -c 'bindings loaded: 1 bindings of 1 subscribers' "$(platform_log redirect)")" \
    "redirectd restarted: the binding of 1001 loaded from the database"
call after-restart 1001 "$B1" "redirectd restarted: 1000 -> 1001 (registered before) completes"

# --- PostgreSQL stopped ---
pg_stop
call db-down 1001 "$B1" "database down: 1000 -> 1001 completes from memory"
B2=$(harness_free_port udp)
platform_register reg-db-down 1002 "$B2"
assert_eq "401 200" "$(platform_statuses reg-db-down)" "database down: a new REGISTER of 1002 gets 200"
pg_restart
t0=$SECONDS
has_binding() { [[ "$(platform_bindings 1002 2>/dev/null | cut -d'|' -f1)" == "sip:1002@$H:$B2" ]]; }
harness_wait_for "1002's binding in the database" 15 has_binding ||
    fail "database back: 1002's binding made while it was down never reached location_bindings"
ok "database back: the binding made while it was down is in location_bindings ($((SECONDS - t0)) s)"
assert_contains "$(<"$(platform_log redirect)")" "kept in memory only" \
    "database back: redirectd logs the catch-up"
call db-back 1002 "$B2" "database back: 1000 -> 1002 (registered while it was down) completes"

# --- two redirectd instances on one database ---
RB=$(harness_free_port both)
sed -e "s/^listen = .*/listen = $H:$RB/" -e "s/^instance = .*/instance = redirect-b/" \
    "$HARNESS_DIR/platform/redirect.conf" >"$HARNESS_DIR/platform/redirect-b.conf"
"$PLATFORM_BIN/redirectd" -f "$HARNESS_DIR/platform/redirect-b.conf" >>"$HARNESS_DIR/platform/redirect-b.log" 2>&1 &
RB_PID=$!
harness_on_exit harness_kill_pid "$RB_PID" TERM
harness_wait_for "redirect-b to answer OPTIONS" 15 sipsak -s "sip:$H:$RB" -H $H >/dev/null 2>&1 ||
    fail "redirect-b did not start"
# asked as the marshal would (its sent-by): the 302 names the phone itself
ask_b() {
    local f
    f=$(VIA=$H:$UA_PORT raw ask-b "INVITE sip:1003@vocal.test SIP/2.0" "From: <sip:1000@vocal.test>;tag=b$RANDOM" \
        "To: <sip:1003@vocal.test>" "CSeq: 1 INVITE")
    "$SEND" --rport --first --print --wait 300 $H "$RB" "$f"
}
assert_contains "$(ask_b)" "SIP/2.0 480" "redirect-b: 1003 is not registered yet (480)"
B3=$(harness_free_port udp)
platform_register reg-1003 1003 "$B3"
start=$(_harness_now_usec)
while :; do
    ans=$(ask_b)
    [[ "$ans" != *"SIP/2.0 302"* ]] || break
    (($(_harness_now_usec) - start < 500000)) || break
    sleep 0.02
done
ms=$((($(_harness_now_usec) - start) / 1000))
assert_contains "$ans" "SIP/2.0 302" "redirect-b routes 1003, registered through redirect-a, after ${ms} ms"
assert_contains "$(grep -i '^Contact:' <<<"$ans")" "sip:1003@$H:$B3" "redirect-b: the 302 names 1003's new contact"
((ms <= 500)) || fail "redirect-b took $ms ms"
assert_contains "$(platform_sql -c "SELECT count(*) FROM location_bindings WHERE contact = 'sip:1003@$H:$B3'")" 1 \
    "one row for the binding, written once"

# --- malformed messages ---
for fx in badinv01 insuf mismatch01 scalar02 ltgtruri multi01; do
    f=tests/conformance/rfc4475/$fx.dat
    for d in ua:$UA_PORT redirect:$REDIRECT_PORT; do
        got=$("$SEND" --rport --first --wait 500 $H "${d#*:}" "$f" | head -1)
        assert_eq "SIP/2.0 400" "${got:0:11}" "RFC 4475 $fx to ${d%%:*}: 400"
    done
done
head -c 2000 /dev/urandom >"$HARNESS_DIR/garbage"
printf 'INVITE sip:1001@vocal.test SIP/2.0\r\nVia: SIP/2.0/UDP\r\n\r\n' >"$HARNESS_DIR/cut"
for d in ua:$UA_PORT redirect:$REDIRECT_PORT gw:$GW_PORT; do
    "$SEND" --wait 200 $H "${d#*:}" "$HARNESS_DIR/garbage" >/dev/null
    "$SEND" --wait 200 $H "${d#*:}" "$HARNESS_DIR/cut" >/dev/null
done
alive ua "$UA_PORT"
alive redirect "$REDIRECT_PORT"
alive gw "$GW_PORT"
ok "after malformed input and garbage the marshals and redirectd still run and answer OPTIONS"
call after-garbage 1001 "$B1" "after malformed input: 1000 -> 1001 completes"

# --- a scanner ---
f=$(raw scanner "OPTIONS sip:1001@vocal.test SIP/2.0" "From: <sip:100@vocal.test>;tag=s1" "To: <sip:100@vocal.test>" \
    "CSeq: 1 OPTIONS" "User-Agent: friendly-scanner")
assert_eq "none" "$("$SEND" --rport --wait 1000 $H "$UA_PORT" "$f")" "User-Agent friendly-scanner (OPTIONS): no answer at all"
f=$(raw scanner-reg "REGISTER sip:vocal.test SIP/2.0" "From: <sip:1001@vocal.test>;tag=s2" "To: <sip:1001@vocal.test>" \
    "CSeq: 1 REGISTER" "Contact: <sip:1001@$H:9>" "User-Agent: friendly-scanner")
assert_eq "none" "$("$SEND" --rport --wait 1000 $H "$UA_PORT" "$f")" "User-Agent friendly-scanner (REGISTER): no answer at all"

# --- failed authentications ---
# an address: 3 wrong passwords from 127.0.0.2, each for another user
for u in 1005 1006 1007; do
    scen=$(sipp_template $P/register_auth.xml.in USER=$u DOMAIN=vocal.test PASSWORD=wrong EXPECT=401 CSEQ=1 CSEQ_AUTH=2 \
        HEADERS="Contact: <sip:$u@127.0.0.2:9>")
    sipp_run "fail-$u" "$scen" "$H:$UA_PORT" x -i 127.0.0.2
done
f=$(raw banned "OPTIONS sip:$H:$UA_PORT SIP/2.0" "From: <sip:1005@vocal.test>;tag=b1" "To: <sip:1005@vocal.test>" "CSeq: 1 OPTIONS")
assert_eq "none" "$("$SEND" --from 127.0.0.2 --rport --wait 1000 $H "$UA_PORT" "$f")" \
    "127.0.0.2 after 3 failed authentications: no answer any more"
assert_contains "$("$SEND" --rport --first --wait 1000 $H "$UA_PORT" "$f")" "SIP/2.0 200" \
    "127.0.0.1 is still served"
# a user: 3 wrong passwords for 1009, from 3 addresses (none banned)
for a in 3 4 5; do
    scen=$(sipp_template $P/register_auth.xml.in USER=1009 DOMAIN=vocal.test PASSWORD=wrong EXPECT=401 CSEQ=1 CSEQ_AUTH=2 \
        HEADERS="Contact: <sip:1009@127.0.0.$a:9>")
    sipp_run "fail-1009-$a" "$scen" "$H:$UA_PORT" x -i 127.0.0.$a
done
scen=$(sipp_template $P/register_once.xml.in USER=1009 DOMAIN=vocal.test CONTACT="$H:9" EXPIRES=60 EXPECT=403)
sipp_run user-banned "$scen" "$H:$UA_PORT" x
assert_contains "$(platform_received user-banned | grep '^SIP/2.0')" "403 Too Many Failed Authentications" \
    "1009 after 3 failed authentications: 403, even from a clean address"
platform_register other-user 1008 "$(harness_free_port udp)"
ok "another user from 127.0.0.1 still registers"
# a reload that leaves the limits alone keeps the bans (no fresh start
# for an attacker who waits for one)
kill -HUP "${_PLATFORM_PIDS[ua]}"
harness_wait_for "the reload" 5 grep -q "reloaded " "$(platform_log ua)"
assert_eq "none" "$("$SEND" --from 127.0.0.2 --rport --wait 1000 $H "$UA_PORT" "$f")" \
    "after SIGHUP: 127.0.0.2 is still banned"

platform_stop_daemon ua
assert_contains "$(grep 'scanners=' "$(platform_log ua)" | tail -1)" "scanners=2 banned-drops=2" \
    "the marshal counted 2 scanner requests and 2 banned drops"
