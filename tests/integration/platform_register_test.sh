#!/usr/bin/env bash
# Registration end to end: SIPp phones register through the UA marshal
# (digest auth) with redirectd behind it, which writes the bindings to
# PostgreSQL before it answers. Each check reads what SIPp received and
# the rows of location_bindings:
#
#   - register (200, a row with the contact, the marshal's Path and where
#     the REGISTER came from), refresh (same Call-ID, higher CSeq), fetch
#     (no Contact: the 200 lists the binding);
#   - two devices of one subscriber (two rows), unregister one contact
#     (Expires 0), unregister all (Contact: *);
#   - wrong password (a second 401, never 200), unknown user (401 twice,
#     like a wrong password, and no row), unknown domain (403), too short
#     an expiry (423 with Min-Expires 10);
#   - a subscriber without authentication (1010) and one authenticated by
#     its address (1011, 127.0.0.1/32): 200 at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/platform.sh
. tests/harness/platform.sh
# shellcheck source=tests/harness/sipp.sh
. tests/harness/sipp.sh
harness_init
SIPP_TIMEOUT=10s
P=tests/integration/sipp/platform
H=127.0.0.1
platform_start

# reg NAME USER PASSWORD EXPECT [HEADERS]: a REGISTER with digest auth
# through the UA marshal; $CALLID and $CSEQ (first of two) when set.
reg() {
    local name=$1 user=$2 pw=$3 expect=$4 cseq=${CSEQ:-1} scen
    local args=(USER="$user" DOMAIN=vocal.test PASSWORD="$pw" EXPECT="$expect"
        CSEQ="$cseq" CSEQ_AUTH=$((cseq + 1)))
    [[ -z "${5:-}" ]] || args+=(HEADERS="$5")
    scen=$(sipp_template $P/register_auth.xml.in "${args[@]}")
    sipp_run "$name" "$scen" "$H:$UA_PORT" x -cid_str "${CALLID:-$name-%u-%p@%s}"
}

# reg_once NAME USER DOMAIN CONTACT EXPIRES EXPECT: a REGISTER answered
# without a challenge.
reg_once() {
    local scen
    scen=$(sipp_template $P/register_once.xml.in USER="$2" DOMAIN="$3" CONTACT="$4" EXPIRES="$5" EXPECT="$6")
    sipp_run "$1" "$scen" "$H:$UA_PORT" x
}

# the port SIPp NAME sent from (its first Via)
sent_from_port() {
    grep -m1 -o "^Via: SIP/2.0/UDP $H:[0-9]*" "$(sipp_msg "$1")" | sed 's/.*://'
}

# contacts: ports nobody listens on; registration does not call them
C1=$(harness_free_port udp)
C2=$(harness_free_port udp)
C3=$(harness_free_port udp)

# --- register, refresh, fetch ---
REG_CALLID=reg-1001-$RANDOM@vocal-tests
CALLID=$REG_CALLID reg register 1001 pw1001 200 "Contact: <sip:1001@$H:$C1>
Expires: 60"
assert_eq "401 200" "$(platform_statuses register)" "register: 401, then 200 with credentials"
assert_contains "$(platform_received register | grep -i '^Contact:')" "<sip:1001@$H:$C1>;expires=60" \
    "register: the 200 lists the contact with expires=60"
row=$(platform_bindings 1001)
assert_eq "sip:1001@$H:$C1|60|2|<sip:$H:$UA_PORT;lr>|udp:$H:$(sent_from_port register)" "$row" \
    "register: location_bindings has the contact, expiry, CSeq, the marshal's Path and where it came from"
id1=$(platform_sql -c "SELECT b.id FROM location_bindings b JOIN subscribers s ON s.id = b.subscriber_id WHERE s.user_part = '1001'")

CALLID=$REG_CALLID CSEQ=3 reg refresh 1001 pw1001 200 "Contact: <sip:1001@$H:$C1>
Expires: 120"
assert_eq "401 200" "$(platform_statuses refresh)" "refresh: same Call-ID, CSeq 3 and 4: 200"
assert_eq "sip:1001@$H:$C1|120|4" "$(platform_bindings 1001 | cut -d'|' -f1-3)" \
    "refresh: one row, expiry 120 and CSeq 4"
assert_eq "$id1" "$(platform_sql -c "SELECT b.id FROM location_bindings b JOIN subscribers s ON s.id = b.subscriber_id WHERE s.user_part = '1001'")" \
    "refresh: the same row was updated (id $id1)"

reg fetch 1001 pw1001 200
assert_eq "401 200" "$(platform_statuses fetch)" "fetch (no Contact): 200"
contacts=$(platform_received fetch | grep -i '^Contact:')
assert_contains "$contacts" "<sip:1001@$H:$C1>;expires=" "fetch: the 200 lists the binding"
assert_eq "1" "$(platform_bindings 1001 | wc -l)" "fetch: changed nothing"

# --- two devices; unregister one; unregister all ---
reg dev-a 1002 pw1002 200 "Contact: <sip:1002@$H:$C2>
Expires: 60"
reg dev-b 1002 pw1002 200 "Contact: <sip:1002@$H:$C3>
Expires: 60"
assert_eq "$(printf 'sip:1002@%s\n' "$H:$C2" "$H:$C3" | sort)" "$(platform_bindings 1002 | cut -d'|' -f1)" \
    "two devices of 1002: two bindings"
assert_eq 2 "$(platform_received dev-b | grep -ci '^Contact:.*sip:1002@')" \
    "two devices: the second 200 lists both contacts"

reg unreg-one 1002 pw1002 200 "Contact: <sip:1002@$H:$C2>
Expires: 0"
assert_eq "sip:1002@$H:$C3" "$(platform_bindings 1002 | cut -d'|' -f1)" \
    "unregister one contact (Expires 0): the other binding stays"

reg unreg-all 1002 pw1002 200 "Contact: *
Expires: 0"
assert_eq "" "$(platform_bindings 1002)" "unregister all (Contact: *, Expires 0): no binding left"
assert_eq "" "$(platform_received unreg-all | grep -i '^Contact:' || true)" \
    "unregister all: the 200 lists no contact"

# --- refusals ---
reg wrong-pw 1003 not-the-password 401 "Contact: <sip:1003@$H:$C1>
Expires: 60"
assert_eq "401 401" "$(platform_statuses wrong-pw)" "wrong password: a second 401, never 200"
assert_eq "" "$(platform_bindings 1003)" "wrong password: no binding"

reg unknown-user 7777 pw7777 401 "Contact: <sip:7777@$H:$C1>
Expires: 60"
assert_eq "401 401" "$(platform_statuses unknown-user)" \
    "unknown user: 401 then 401 again, as for a wrong password"
assert_eq 0 "$(platform_sql -c "SELECT count(*) FROM location_bindings WHERE contact LIKE 'sip:7777@%'")" \
    "unknown user: no binding"
assert_contains "$(grep -F "$(grep -m1 -o '^Call-ID: .*' "$(sipp_msg unknown-user)" | tr -d '\r' | cut -d' ' -f2)" \
    "$(platform_log ua)")" "7777@vocal.test: unknown user" "unknown user: the marshal logs the failure with the Call-ID"

reg_once unknown-domain 1004 elsewhere.test "$H:$C1" 60 403
assert_eq "403" "$(platform_statuses unknown-domain)" "unknown domain: 403 at once"

reg too-short 1004 pw1004 423 "Contact: <sip:1004@$H:$C1>
Expires: 5"
assert_contains "$(platform_received too-short | grep -i '^Min-Expires:')" "Min-Expires: 10" \
    "expiry 5 s: 423 with Min-Expires: 10"
assert_eq "" "$(platform_bindings 1004)" "expiry too short: no binding"

# --- subscribers without digest ---
reg_once auth-none 1010 vocal.test "$H:$C1" 60 200
assert_eq "200" "$(platform_statuses auth-none)" "1010 (authentication none): 200 at once, no challenge"
assert_eq "sip:1010@$H:$C1" "$(platform_bindings 1010 | cut -d'|' -f1)" "1010: binding stored"

reg_once auth-ip 1011 vocal.test "$H:$C2" 60 200
assert_eq "200" "$(platform_statuses auth-ip)" "1011 (IP access list 127.0.0.1/32) from 127.0.0.1: 200, no challenge"
assert_eq "sip:1011@$H:$C2" "$(platform_bindings 1011 | cut -d'|' -f1)" "1011: binding stored"
