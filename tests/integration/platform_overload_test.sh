#!/usr/bin/env bash
# Overload and drain at the marshal: with max_calls = 1, a call ringing
# without an answer takes the only place, and the next new request gets a
# stateless 503 with Retry-After (no transaction spent on it) while the
# ringing call goes on; once Timer C ends it, new calls are admitted
# again. On SIGTERM the marshal drains: a new request gets 503, the call
# in progress is still answered, and the daemon exits 0 once it is.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/platform.sh
. tests/harness/platform.sh
harness_init
SIPP_TIMEOUT=20s
PLATFORM_TIMER_C=3s
PLATFORM_EXTRA_UA="max_calls = 1
retry_after = 7s"
H=127.0.0.1
SEND=build/tests/proxy/sipsend
[[ -x $SEND ]] || make --no-print-directory -s $SEND
platform_start

# invite FILE CALLER CALLEE: an INVITE from CALLER (1010: no authentication)
invite() {
    {
        printf '%s\r\n' "INVITE sip:$3@vocal.test SIP/2.0" \
            "Via: SIP/2.0/UDP $H:9;branch=z9hG4bK-ovl-$RANDOM$RANDOM;rport" \
            "From: <sip:$2@vocal.test>;tag=t$RANDOM" "To: <sip:$3@vocal.test>" \
            "Call-ID: ovl-$RANDOM$RANDOM@vocal-tests" "CSeq: 1 INVITE" "Max-Forwards: 70" \
            "Contact: <sip:$2@$H:9>" "Content-Length: 0"
        printf '\r\n'
    } >"$HARNESS_DIR/$1"
    echo "$HARNESS_DIR/$1"
}

# 1001 rings and never answers (the marshal's Timer C cancels it)
B=$(harness_free_port udp)
sipp_bg ringer tests/integration/sipp/platform/uas_ring_cancel.xml "$H:$B"
platform_register reg-1001 1001 "$B"

first=$("$SEND" --rport --wait 2000 $H "$UA_PORT" "$(invite first 1010 1001)")
assert_contains "$first" "SIP/2.0 180" "the first call rings"
second=$("$SEND" --rport --print --first --wait 1000 $H "$UA_PORT" "$(invite second 1010 1001)")
assert_contains "$second" "SIP/2.0 503" "while it rings, a new call gets 503 (max_calls = 1)"
assert_contains "$second" "Retry-After: 7" "with the configured Retry-After"
sipp_wait ringer
ok "the ringing call went on and ended by Timer C (CANCEL to the callee)"
sleep 0.5 # the 487 reaches the marshal just after the callee has seen the CANCEL
third=$("$SEND" --rport --wait 800 $H "$UA_PORT" "$(invite third 1010 1005)")
assert_contains "$third" "SIP/2.0 480" "once it ended, new calls are admitted again (1005: 480, not registered)"

# drain: a call rings, SIGTERM, a new request gets 503, the marshal exits
# 0 once the ringing call is over (Timer C)
sipp_bg ringer2 tests/integration/sipp/platform/uas_ring_cancel.xml "$H:$B"
ring=$("$SEND" --rport --wait 2000 $H "$UA_PORT" "$(invite ring 1010 1001)")
assert_contains "$ring" "SIP/2.0 180" "a call rings"
kill -TERM "${_PLATFORM_PIDS[ua]}"
harness_wait_for "the drain to start" 5 grep -q "draining" "$(platform_log ua)"
late=$("$SEND" --rport --print --first --wait 1000 $H "$UA_PORT" "$(invite late 1010 1001)")
assert_contains "$late" "SIP/2.0 503" "draining: a new call gets 503"
harness_pid_alive "${_PLATFORM_PIDS[ua]}" || fail "the marshal quit with a call in progress"
ok "draining: the marshal waits for the call in progress"
sipp_wait ringer2
platform_stop_daemon ua
ok "the marshal exited 0 once the call in progress was over"
