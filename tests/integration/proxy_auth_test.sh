#!/usr/bin/env bash
# Digest authentication in the proxy (testproxy --auth-realm, on
# common/sip/digest) with SIPp as the client, over UDP on loopback:
#
#   - a call: INVITE, 407, ACK, INVITE with Proxy-Authorization, 200, ACK,
#     BYE. In-dialog requests (the ACK and BYE, routed by their Route set)
#     are not challenged: the proxy's routing, where authentication sits,
#     never sees them, and the dialog was authorized by its INVITE;
#   - a REGISTER through the proxy to a registrar behind it: 407, then 200;
#   - a wrong password and an unknown user: 407 again (not stale);
#   - an expired nonce (--nonce-lifetime 2): 407 with stale=true, and the
#     retry with the fresh nonce completes the call;
#   - a replay: the Proxy-Authorization of an answered INVITE, taken from
#     what the callee received (the proxy forwards it) and sent again in a
#     new INVITE with the same nonce and nc: 403;
#   - forged nonce: 407; malformed credentials: 400;
#   - the challenges: one Proxy-Authenticate per algorithm, strongest first.
#
# SIPp 3.6.1 answers MD5 only and gives up when the first challenge is
# anything else, so the proxies SIPp talks to offer MD5 alone
# (--auth-algs md5); sipsak, when installed, is a second MD5 client. No
# client in Debian 12 that a test can drive answers SHA-256 or SHA-512-256
# (sipsak 0.9.8 and baresip 1.0/libre 1.1 know MD5 only; linphone 5.1 has
# SHA-256 but no headless way to run on a loopback-only setup), so those are
# covered by the RFC 7616 vectors in tests/unit/test_digest.c; here only
# their challenges are checked.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/sipp.sh
. tests/harness/sipp.sh
# shellcheck source=tests/harness/testproxy.sh
. tests/harness/testproxy.sh
harness_init

SCEN=tests/integration/sipp
SIPP_TIMEOUT=15s
REALM=vocal.test
H=127.0.0.1

# the Proxy-Authenticate lines of the responses a caller received, in order
challenges() {
    awk '/message received/ {rx = 1; next} /message sent/ {rx = 0} rx && /^Proxy-Authenticate:/' \
        "$(sipp_msg "$1")" | tr -d '\r'
}

PPORT=$(harness_free_port udp) # the proxy for SIPp: MD5 only
SPORT=$(harness_free_port udp) # the proxy with a 2 s nonce lifetime
APORT=$(harness_free_port udp) # the proxy with every algorithm
UAS=$(harness_free_port udp)
REG=$(harness_free_port udp)
users=(--auth-realm "$REALM" --user caller:secret --user "other:pass word")
testproxy_start md5 "udp:$H:$PPORT" --t1 100 "${users[@]}" --auth-algs md5 \
    --target "alice=sip:alice@$H:$UAS" --target "registrar=sip:registrar@$H:$REG" \
    --reply gone=486

# (a) an authenticated call; the ACK and BYE are not challenged
call=$(sipp_template $SCEN/uac_auth_call.xml.in USER=caller PASSWORD=secret)
sipp_bg call-uas $SCEN/uas_answer.xml "$H:$UAS"
sipp_run call-uac "$call" "$H:$PPORT" alice
sipp_wait call-uas
ch=$(challenges call-uac)
assert_eq 1 "$(grep -c . <<<"$ch")" "407 carries one challenge (MD5 only)"
assert_contains "$ch" "Proxy-Authenticate: Digest realm=\"$REALM\", nonce=\"" "challenge for realm $REALM"
assert_contains "$ch" 'algorithm=MD5, qop="auth"' "challenge offers MD5 with qop=auth"
pa=$(grep -m1 '^Proxy-Authorization:' "$(sipp_msg call-uas)" | tr -d '\r')
assert_contains "$pa" 'username="caller"' "the callee got the INVITE with the caller's credentials"
assert_contains "$(grep -A20 '^BYE ' "$(sipp_msg call-uas)")" "CSeq: 3 BYE" "the BYE reached the callee"
ok "(a) INVITE, 407, ACK, INVITE with credentials, 200, ACK, BYE (in-dialog: not challenged)"

# a REGISTER, forwarded to the registrar once authenticated
reg=$(sipp_template $SCEN/uac_auth_register.xml.in USER=caller PASSWORD=secret)
sipp_bg reg-uas $SCEN/uas_register_ok.xml "$H:$REG"
sipp_run reg-uac "$reg" "$H:$PPORT" registrar
sipp_wait reg-uas
ok "REGISTER, 407, REGISTER with credentials, 200 from the registrar behind the proxy"

# (b) a wrong password and an unknown user: a fresh challenge, not stale
for who in caller:wrong nobody:secret; do
    set -- "${who%%:*}" "${who#*:}"
    retry=$(sipp_template $SCEN/uac_auth_retry.xml.in "USER=$1" "PASSWORD=$2" STATUS=407)
    sipp_run "bad-$1" "$retry" "$H:$PPORT" alice
    ch=$(challenges "bad-$1")
    assert_eq 2 "$(grep -c . <<<"$ch")" "$1/$2: challenged twice"
    [[ $ch != *stale=true* ]] || fail "$1/$2: the second challenge must not be stale"
    ok "(b) $1 with password '$2': 407 again, stale=false"
done

# (d) replay: the credentials the callee saw in (a), again in a new INVITE
# (same nonce, same nc=00000001)
assert_contains "$pa" "nc=00000001" "captured credentials use nc=00000001"
replay=$(sipp_template $SCEN/uac_auth_given.xml.in "AUTH=$pa" STATUS=403)
sipp_run replay "$replay" "$H:$PPORT" alice
ok "(d) replayed Proxy-Authorization (same nonce and nc) refused with 403"

# forged and malformed credentials: the captured nonce with its MAC's last
# bytes changed
nonce=$(grep -o '[ ,]nonce="[^"]*"' <<<"$pa" | cut -d'"' -f2)
fake=${nonce%????}AAAA
[ "$fake" != "$nonce" ] || fake=${nonce%????}BBBB
forged=${pa/\"$nonce\"/\"$fake\"}
[ "$forged" != "$pa" ] || fail "could not forge the nonce"
given=$(sipp_template $SCEN/uac_auth_given.xml.in "AUTH=$forged" STATUS=407)
sipp_run forged "$given" "$H:$PPORT" alice
ok "credentials with a nonce that is not ours: 407"
bad="Proxy-Authorization: Digest username=\"caller\", realm=\"$REALM\", nonce=\"x\", uri=\"sip:127.0.0.1\", response=\"not-hex\""
given=$(sipp_template $SCEN/uac_auth_given.xml.in "AUTH=$bad" STATUS=400)
sipp_run malformed "$given" "$H:$PPORT" alice
ok "malformed credentials: 400"

# another client: sipsak (MD5 only too) puts the Request-URI into the
# digest uri, where SIPp puts its target address; the proxy answers 486
# itself once the OPTIONS is authenticated
extra_ok=0
if command -v sipsak >/dev/null; then
    sipsak -vvv -s "sip:gone@$H:$PPORT" -u caller -a secret >"$HARNESS_DIR/sipsak.out" 2>&1 || true
    out=$(tr -d '\r' <"$HARNESS_DIR/sipsak.out")
    assert_contains "$out" "SIP/2.0 407 Proxy Authentication Required" "sipsak: challenged"
    assert_contains "$out" "uri=\"sip:gone@$H:" "sipsak: digest uri is the Request-URI"
    assert_contains "$out" "SIP/2.0 486 Busy Here" "sipsak: authenticated, routed (486 from the routing)"
    extra_ok=1
else
    ok "# SKIP sipsak is not installed"
fi
testproxy_stop md5
assert_contains "$(<"$(testproxy_log md5)")" \
    "auth ok=$((2 + extra_ok)) challenged=$((7 + extra_ok)) stale=0 bad-response=1 unknown-user=1 bad-nonce=1 replay=1 malformed=1 errors=0" \
    "md5 proxy counters"

# (c) stale nonce: a lifetime of 2 s; the nonce is at least 3 s old when used,
# and the fresh one is good for at least 2 s
testproxy_start stale "udp:$H:$SPORT" --t1 100 "${users[@]}" --auth-algs md5 --nonce-lifetime 2 \
    --target "alice=sip:alice@$H:$UAS"
stale=$(sipp_template $SCEN/uac_auth_stale.xml.in USER=caller PASSWORD=secret WAIT=3100)
sipp_bg stale-uas $SCEN/uas_answer.xml "$H:$UAS"
sipp_run stale-uac "$stale" "$H:$SPORT" alice
sipp_wait stale-uas
ch=$(challenges stale-uac)
assert_eq 2 "$(grep -c . <<<"$ch")" "stale: challenged twice"
assert_contains "$(sed -n 2p <<<"$ch")" "stale=true" "the second challenge says stale=true"
testproxy_stop stale
assert_contains "$(<"$(testproxy_log stale)")" "auth ok=1 challenged=2 stale=1 bad-response=0" \
    "stale proxy counters"
ok "(c) expired nonce: 407 stale=true, then the call with the fresh nonce completes"

# the challenges of a proxy offering every algorithm: one header each,
# strongest first (RFC 8760), each with its own nonce
testproxy_start all "udp:$H:$APORT" --t1 100 "${users[@]}" --auth-algs md5,sha-256,sha-512-256 \
    --target "alice=sip:alice@$H:$UAS"
expect407=$(sipp_template $SCEN/uac_expect.xml.in STATUS=407 MAXFWD=70)
sipp_run all-algs "$expect407" "$H:$APORT" alice
ch=$(challenges all-algs)
assert_eq "SHA-512-256 SHA-256 MD5" "$(grep -o 'algorithm=[A-Z0-9-]*' <<<"$ch" | cut -d= -f2 | paste -sd' ')" \
    "three challenges, strongest first"
assert_eq 3 "$(grep -o 'nonce="[^"]*"' <<<"$ch" | sort -u | wc -l)" "a nonce per challenge"
testproxy_stop all
ok "testproxies exited cleanly"
