#!/usr/bin/env bash
# Real softphones through the platform: two baresip 1.0 user agents register
# as 1000 and 1001 through the user-agent marshal (digest MD5, the HA1s in
# PostgreSQL, the bindings written by redirectd), then 1000 calls 1001 by
# number: marshal -> redirectd (302 with 1001's contact) -> marshal -> 1001,
# who answers by himself; both see the call established; then the callee
# hangs up and both see it closed. Once over UDP for both, once with the
# callee on TCP (the marshal bridges the transports and record-routes
# twice).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/platform.sh
. tests/harness/platform.sh
# shellcheck source=tests/harness/baresip.sh
. tests/harness/baresip.sh
harness_init
platform_start

H=127.0.0.1
bindings() { platform_sql -c "SELECT count(*) FROM location_bindings b JOIN subscribers s ON s.id = b.subscriber_id WHERE s.user_part = '$1'"; }

call_over() {
    local tp=$1 a="a-$1" b="b-$1"
    baresip_start "$b" 1001 pw1001 vocal.test "$H:$UA_PORT" "$tp" auto-answer regint=60
    baresip_start "$a" 1000 pw1000 vocal.test "$H:$UA_PORT" udp regint=60
    baresip_wait_event "$b" REGISTER_OK
    baresip_wait_event "$a" REGISTER_OK
    assert_eq 1 "$(bindings 1001)" "$tp: 1001's binding is in the database"
    assert_contains "$(platform_sql -c "SELECT path[1] FROM location_bindings b JOIN subscribers s ON s.id = b.subscriber_id WHERE s.user_part = '1001'")" \
        "$H:$UA_PORT" "$tp: with the marshal's Path"

    baresip_cmd "$a" dial "sip:1001@vocal.test" >/dev/null || fail "$tp: 1000 cannot dial"
    baresip_wait_event "$b" CALL_ESTABLISHED
    baresip_wait_event "$a" CALL_ESTABLISHED
    ok "$tp: 1000 called 1001 through marshal, redirect and marshal; both see the call established"

    baresip_cmd "$b" hangup >/dev/null || fail "$tp: 1001 cannot hang up"
    baresip_wait_event "$b" CALL_CLOSED
    baresip_wait_event "$a" CALL_CLOSED
    ok "$tp: the callee hung up (BYE along the recorded route), both see the call closed"
    baresip_stop "$a"
    baresip_stop "$b"
}

call_over udp
call_over tcp
platform_stop_daemon ua
platform_stop_daemon redirect
platform_stop_daemon gw
ok "the daemons stopped cleanly"
