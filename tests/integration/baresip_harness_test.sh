#!/usr/bin/env bash
# tests/harness/baresip.sh with real baresip 1.0 softphones and testproxy
# (digest authentication, realm vocal.test), over UDP and over TCP:
#
#   - alice registers through the proxy: REGISTER, 407, REGISTER with MD5
#     credentials, forwarded to a SIPp registrar stub behind the proxy
#     (testproxy routes a Request-URI without a user by its host), 200;
#   - alice calls bob through the proxy (INVITE, 407, INVITE with
#     credentials); bob answers by himself; both see the call established;
#     alice hangs up; both see it closed;
#   - which digest algorithms baresip answers: a proxy offering SHA-256
#     and MD5 (testproxy's default, strongest first) and a registrar
#     offering MD5 first then SHA-256 (a SIPp stub); baresip gives up on
#     both, so MD5 must be offered alone (see the top of baresip.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/sipp.sh
. tests/harness/sipp.sh
# shellcheck source=tests/harness/testproxy.sh
. tests/harness/testproxy.sh
# shellcheck source=tests/harness/baresip.sh
. tests/harness/baresip.sh
harness_init

SCEN=tests/integration/sipp
SIPP_TIMEOUT=15s
REALM=vocal.test
H=127.0.0.1
users=(--auth-realm "$REALM" --user alice:secret --user bob:pw --user carol:c4rol)

# lines of NAME's SIP trace that start a request it sent to PORT, e.g.
# "REGISTER sip:vocal.test SIP/2.0"; baresip -s prints "TP SRC -> DST" then
# the message.
sent_to() {
    awk -v dst="$H:$2" '$3 == "->" {to = $4; next} to == dst && /^[A-Z]+ sip:/ {print; to = ""}' \
        "$(baresip_log "$1")" | tr -d '\r'
}

# one registration and one call over TRANSPORT
register_and_call() {
    local tp=$1 proxy reg bob_uri t0 pa
    t0=$(_harness_now_usec)
    proxy=$(harness_free_port both)
    reg=$(harness_free_port udp)
    # bob first: the proxy's route to him needs his port; he does not register
    baresip_start "bob-$tp" bob pw "$REALM" "$H:$proxy" "$tp" auto-answer regint=0
    bob_uri="sip:bob@$H:$(baresip_sip_port "bob-$tp")"
    [[ "$tp" == udp ]] || bob_uri+=";transport=$tp"
    testproxy_start "proxy-$tp" "udp:$H:$proxy,tcp:$H:$proxy" --t1 100 "${users[@]}" \
        --auth-algs md5 --target "$REALM=sip:registrar@$H:$reg" --target "bob=$bob_uri"
    sipp_bg "registrar-$tp" $SCEN/uas_register_ok.xml "$H:$reg"

    baresip_start "alice-$tp" alice secret "$REALM" "$H:$proxy" "$tp" regint=60
    baresip_wait_event "alice-$tp" REGISTER_OK
    sipp_wait "registrar-$tp"
    assert_eq 2 "$(sent_to "alice-$tp" "$proxy" | grep -cE '^REGISTER sip:vocal.test(;transport=tcp)? SIP/2.0$')" \
        "$tp: alice sent REGISTER twice (before and after the 407)"
    pa=$(grep -m1 '^Proxy-Authorization:' "$(baresip_log "alice-$tp")" | tr -d '\r')
    assert_contains "$pa" 'username="alice", realm="vocal.test"' "$tp: alice answered the 407"
    assert_contains "$pa" 'qop=auth, nc=00000001' "$tp: with qop=auth"
    # no algorithm parameter: MD5 (RFC 2617 3.2.2)
    [[ "$pa" != *algorithm=* ]] || fail "$tp: alice named an algorithm: $pa"
    grep -q "^${tp^^} $H:[0-9]* -> $H:$proxy" "$(baresip_log "alice-$tp")" ||
        fail "$tp: alice did not use $tp to the proxy"
    ok "$tp: alice registered through the proxy (407, MD5, 200 from the registrar)"

    baresip_cmd "alice-$tp" dial "sip:bob@$REALM" >/dev/null || fail "$tp: alice cannot dial"
    baresip_wait_event "bob-$tp" CALL_ESTABLISHED
    baresip_wait_event "alice-$tp" CALL_ESTABLISHED
    assert_eq 2 "$(sent_to "alice-$tp" "$proxy" | grep -cE "^INVITE sip:bob@${REALM}[; ]")" \
        "$tp: alice sent INVITE twice (before and after the 407)"
    ok "$tp: alice called bob through the proxy, bob answered, both see the call established"
    assert_contains "$(baresip_cmd "alice-$tp" listcalls)" "sip:bob@$REALM" \
        "$tp: alice lists the call"

    baresip_cmd "alice-$tp" hangup >/dev/null || fail "$tp: alice cannot hang up"
    baresip_wait_event "alice-$tp" CALL_CLOSED
    baresip_wait_event "bob-$tp" CALL_CLOSED
    ok "$tp: alice hung up, both see the call closed"

    baresip_stop "alice-$tp"
    baresip_stop "bob-$tp"
    testproxy_stop "proxy-$tp"
    echo "# $tp: $((($(_harness_now_usec) - t0) / 1000)) ms"
}

register_and_call udp
register_and_call tcp

# A proxy offering SHA-256 then MD5: baresip gives up on the call at once.
proxy=$(harness_free_port both)
testproxy_start both "udp:$H:$proxy" --t1 100 "${users[@]}" --target "bob=sip:bob@$H:9"
baresip_start carol carol c4rol "$REALM" "$H:$proxy" regint=0
baresip_cmd carol dial "sip:bob@$REALM" >/dev/null || fail "carol cannot dial"
baresip_wait_event carol CALL_CLOSED
ch=$(grep '^Proxy-Authenticate:' "$(baresip_log carol)" | tr -d '\r')
assert_contains "$(head -n1 <<<"$ch")" 'algorithm=SHA-256' "the proxy offered SHA-256 first"
assert_contains "$(tail -n1 <<<"$ch")" 'algorithm=MD5' "and MD5 second"
assert_eq 1 "$(sent_to carol "$proxy" | grep -c '^INVITE ')" \
    "baresip 1.0 does not retry an INVITE challenged with SHA-256 and MD5"
assert_contains "$(grep -m1 'session closed' "$(baresip_log carol)")" 'Function not implemented' \
    "it closes the call with ENOSYS"
baresip_stop carol

# A registrar offering MD5 first, then SHA-256: baresip still gives up.
reg=$(harness_free_port udp)
sipp_bg order $SCEN/uas_register_md5_sha256.xml "$H:$reg"
baresip_start dave dave pw "$REALM" "$H:$reg" regint=60
baresip_wait_event dave REGISTER_FAIL
assert_contains "$(grep -m1 '"REGISTER_FAIL"' "$(baresip_ctrl_log dave)")" \
    '"param":"Function not implemented"' "the registration fails with ENOSYS"
sipp_wait order
assert_eq 1 "$(sent_to dave "$reg" | grep -c '^REGISTER ')" \
    "baresip 1.0 does not answer an MD5 challenge followed by a SHA-256 one"
baresip_stop dave
