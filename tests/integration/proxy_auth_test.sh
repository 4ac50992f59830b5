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
. tests/harness/lib.sh
harness_init

PROXY=${TESTPROXY:-build/tests/proxy/testproxy}
SCEN=tests/integration/sipp
[ -x "$PROXY" ] || fail "$PROXY is not built (make integration builds it)"
command -v sipp >/dev/null || fail "sipp (Debian sip-tester) is not installed"
TOP=$PWD
REALM=vocal.test

# SIPp writes its logs into the current directory; keep them in ours.
LOGS=$HARNESS_DIR/logs
mkdir -p "$LOGS"

declare -A proxy_pids=()
start_proxy() { # start_proxy NAME PORT ARGS...
    local name=$1 port=$2
    shift 2
    "$PROXY" --host 127.0.0.1 -l "udp:127.0.0.1:$port" --t1 100 "$@" \
        >"$HARNESS_DIR/$name.out" 2>>"$LOGS/$name.log" &
    proxy_pids[$name]=$!
    harness_wait_for "testproxy $name ready" 5 grep -qs '^ready' "$HARNESS_DIR/$name.out" ||
        fail "testproxy $name did not start: $(tail -5 "$LOGS/$name.log")"
}
stop_proxy() { # stop_proxy NAME: SIGTERM; it must exit 0
    local name=$1 pid=${proxy_pids[$1]:-}
    [ -n "$pid" ] || return 0
    proxy_pids[$name]=""
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || fail "testproxy $name exited with an error (see $LOGS/$name.log)"
}
stop_all() {
    local name
    for name in "${!proxy_pids[@]}"; do
        [ -z "${proxy_pids[$name]}" ] || harness_kill_pid "${proxy_pids[$name]}"
    done
}
harness_on_exit stop_all

template() { # template FILE.in KEY=VALUE...: writes the filled file, prints its path
    local in=$1 out
    shift
    out=$HARNESS_DIR/$(basename "$in" .in).$RANDOM.xml
    cp "$in" "$out"
    local kv
    for kv in "$@"; do
        sed -i "s|@${kv%%=*}@|${kv#*=}|g" "$out"
    done
    sed -i -e '/^[[:space:]]*@[A-Z_]*@[[:space:]]*$/d' -e 's|@[A-Z_]*@||g' "$out"
    echo "$out"
}
abspath() { case $1 in /*) echo "$1" ;; *) echo "$TOP/$1" ;; esac; }

# sipp_bg NAME SCENARIO PORT: a callee in the background
declare -A bg_pids=()
sipp_bg() {
    local name=$1 scen=$2 port=$3
    (cd "$LOGS" && exec sipp -sf "$(abspath "$scen")" -i 127.0.0.1 -p "$port" -m 1 -nostdin \
        -timeout 15s -timeout_error -trace_err -trace_msg -message_file "$LOGS/$name.msg" \
        >"$LOGS/$name.out" 2>&1) &
    bg_pids[$name]=$!
}
# sipp_run NAME SCENARIO TARGETPORT SERVICE: a caller in the foreground
sipp_run() {
    local name=$1 scen=$2 target=$3 service=$4 port
    port=$(harness_free_port udp)
    if ! (cd "$LOGS" && exec sipp -sf "$(abspath "$scen")" -i 127.0.0.1 -p "$port" -s "$service" \
        -m 1 -nostdin -timeout 15s -timeout_error -trace_err -trace_msg -trace_logs \
        -message_file "$LOGS/$name.msg" -log_file "$LOGS/$name.actions" \
        "127.0.0.1:$target" >"$LOGS/$name.out" 2>&1); then
        show_logs "$name"
        fail "$name: the caller's scenario failed"
    fi
}
wait_bg() {
    local name=$1
    if ! wait "${bg_pids[$name]}"; then
        show_logs "$name"
        fail "$name: the callee's scenario failed"
    fi
}
show_logs() {
    local f
    for f in "$LOGS"/*_errors.log "$LOGS/$1.out" "$LOGS/$1.msg" "$LOGS"/*.log; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -40 "$f" >&2; }
    done
}
# the Proxy-Authenticate lines of the responses a caller received, in order
challenges() {
    awk '/message received/ {rx = 1; next} /message sent/ {rx = 0} rx && /^Proxy-Authenticate:/' \
        "$LOGS/$1.msg" | tr -d '\r'
}

PPORT=$(harness_free_port udp) # the proxy for SIPp: MD5 only
SPORT=$(harness_free_port udp) # the proxy with a 2 s nonce lifetime
APORT=$(harness_free_port udp) # the proxy with every algorithm
UAS=$(harness_free_port udp)
REG=$(harness_free_port udp)
users=(--auth-realm "$REALM" --user caller:secret --user "other:pass word")
start_proxy md5 "$PPORT" "${users[@]}" --auth-algs md5 \
    --target "alice=sip:alice@127.0.0.1:$UAS" --target "registrar=sip:registrar@127.0.0.1:$REG" \
    --reply gone=486

# (a) an authenticated call; the ACK and BYE are not challenged
call=$(template $SCEN/uac_auth_call.xml.in USER=caller PASSWORD=secret)
sipp_bg call-uas $SCEN/uas_answer.xml "$UAS"
sipp_run call-uac "$call" "$PPORT" alice
wait_bg call-uas
ch=$(challenges call-uac)
assert_eq 1 "$(grep -c . <<<"$ch")" "407 carries one challenge (MD5 only)"
assert_contains "$ch" "Proxy-Authenticate: Digest realm=\"$REALM\", nonce=\"" "challenge for realm $REALM"
assert_contains "$ch" 'algorithm=MD5, qop="auth"' "challenge offers MD5 with qop=auth"
pa=$(grep -m1 '^Proxy-Authorization:' "$LOGS/call-uas.msg" | tr -d '\r')
assert_contains "$pa" 'username="caller"' "the callee got the INVITE with the caller's credentials"
assert_contains "$(grep -A20 '^BYE ' "$LOGS/call-uas.msg")" "CSeq: 3 BYE" "the BYE reached the callee"
ok "(a) INVITE, 407, ACK, INVITE with credentials, 200, ACK, BYE (in-dialog: not challenged)"

# a REGISTER, forwarded to the registrar once authenticated
reg=$(template $SCEN/uac_auth_register.xml.in USER=caller PASSWORD=secret)
sipp_bg reg-uas $SCEN/uas_register_ok.xml "$REG"
sipp_run reg-uac "$reg" "$PPORT" registrar
wait_bg reg-uas
ok "REGISTER, 407, REGISTER with credentials, 200 from the registrar behind the proxy"

# (b) a wrong password and an unknown user: a fresh challenge, not stale
for who in caller:wrong nobody:secret; do
    set -- "${who%%:*}" "${who#*:}"
    retry=$(template $SCEN/uac_auth_retry.xml.in "USER=$1" "PASSWORD=$2" STATUS=407)
    sipp_run "bad-$1" "$retry" "$PPORT" alice
    ch=$(challenges "bad-$1")
    assert_eq 2 "$(grep -c . <<<"$ch")" "$1/$2: challenged twice"
    [[ $ch != *stale=true* ]] || fail "$1/$2: the second challenge must not be stale"
    ok "(b) $1 with password '$2': 407 again, stale=false"
done

# (d) replay: the credentials the callee saw in (a), again in a new INVITE
# (same nonce, same nc=00000001)
assert_contains "$pa" "nc=00000001" "captured credentials use nc=00000001"
replay=$(template $SCEN/uac_auth_given.xml.in "AUTH=$pa" STATUS=403)
sipp_run replay "$replay" "$PPORT" alice
ok "(d) replayed Proxy-Authorization (same nonce and nc) refused with 403"

# forged and malformed credentials: the captured nonce with its MAC's last
# bytes changed
nonce=$(grep -o '[ ,]nonce="[^"]*"' <<<"$pa" | cut -d'"' -f2)
fake=${nonce%????}AAAA
[ "$fake" != "$nonce" ] || fake=${nonce%????}BBBB
forged=${pa/\"$nonce\"/\"$fake\"}
[ "$forged" != "$pa" ] || fail "could not forge the nonce"
given=$(template $SCEN/uac_auth_given.xml.in "AUTH=$forged" STATUS=407)
sipp_run forged "$given" "$PPORT" alice
ok "credentials with a nonce that is not ours: 407"
bad="Proxy-Authorization: Digest username=\"caller\", realm=\"$REALM\", nonce=\"x\", uri=\"sip:127.0.0.1\", response=\"not-hex\""
given=$(template $SCEN/uac_auth_given.xml.in "AUTH=$bad" STATUS=400)
sipp_run malformed "$given" "$PPORT" alice
ok "malformed credentials: 400"

# another client: sipsak (MD5 only too) puts the Request-URI into the
# digest uri, where SIPp puts its target address; the proxy answers 486
# itself once the OPTIONS is authenticated
extra_ok=0
if command -v sipsak >/dev/null; then
    sipsak -vvv -s "sip:gone@127.0.0.1:$PPORT" -u caller -a secret >"$LOGS/sipsak.out" 2>&1 || true
    out=$(tr -d '\r' <"$LOGS/sipsak.out")
    assert_contains "$out" "SIP/2.0 407 Proxy Authentication Required" "sipsak: challenged"
    assert_contains "$out" "uri=\"sip:gone@127.0.0.1:" "sipsak: digest uri is the Request-URI"
    assert_contains "$out" "SIP/2.0 486 Busy Here" "sipsak: authenticated, routed (486 from the routing)"
    extra_ok=1
else
    ok "# SKIP sipsak is not installed"
fi
stop_proxy md5
assert_contains "$(cat "$LOGS/md5.log")" \
    "auth ok=$((2 + extra_ok)) challenged=$((7 + extra_ok)) stale=0 bad-response=1 unknown-user=1 bad-nonce=1 replay=1 malformed=1 errors=0" \
    "md5 proxy counters"

# (c) stale nonce: a lifetime of 2 s; the nonce is at least 3 s old when used,
# and the fresh one is good for at least 2 s
start_proxy stale "$SPORT" "${users[@]}" --auth-algs md5 --nonce-lifetime 2 \
    --target "alice=sip:alice@127.0.0.1:$UAS"
stale=$(template $SCEN/uac_auth_stale.xml.in USER=caller PASSWORD=secret WAIT=3100)
sipp_bg stale-uas $SCEN/uas_answer.xml "$UAS"
sipp_run stale-uac "$stale" "$SPORT" alice
wait_bg stale-uas
ch=$(challenges stale-uac)
assert_eq 2 "$(grep -c . <<<"$ch")" "stale: challenged twice"
assert_contains "$(sed -n 2p <<<"$ch")" "stale=true" "the second challenge says stale=true"
stop_proxy stale
assert_contains "$(cat "$LOGS/stale.log")" "auth ok=1 challenged=2 stale=1 bad-response=0" \
    "stale proxy counters"
ok "(c) expired nonce: 407 stale=true, then the call with the fresh nonce completes"

# the challenges of a proxy offering every algorithm: one header each,
# strongest first (RFC 8760), each with its own nonce
start_proxy all "$APORT" "${users[@]}" --auth-algs md5,sha-256,sha-512-256 \
    --target "alice=sip:alice@127.0.0.1:$UAS"
expect407=$(template $SCEN/uac_expect.xml.in STATUS=407 MAXFWD=70)
sipp_run all-algs "$expect407" "$APORT" alice
ch=$(challenges all-algs)
assert_eq "SHA-512-256 SHA-256 MD5" "$(grep -o 'algorithm=[A-Z0-9-]*' <<<"$ch" | cut -d= -f2 | paste -sd' ')" \
    "three challenges, strongest first"
assert_eq 3 "$(grep -o 'nonce="[^"]*"' <<<"$ch" | sort -u | wc -l)" "a nonce per challenge"
stop_proxy all
ok "testproxies exited cleanly"
