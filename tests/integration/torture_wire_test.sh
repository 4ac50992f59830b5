#!/usr/bin/env bash
# Every RFC 4475 and RFC 5118 torture message, sent over UDP and over TCP to
# a testproxy, gets the handling INDEX.tsv names: 400 for the malformed
# ones (505 for the unknown version), 416 for unknown schemes, 420 for an
# unsupported Proxy-Require, 483 for Max-Forwards 0, normal processing for
# the valid ones (the proxy's routing answers 404 for these unknown users),
# silence for broken or stray responses, and over TCP a closed connection
# where the stream cannot be framed. And the proxy is still running after
# all of them.
#
# RFC 4475 reuses branch values across messages, so each message gets a
# fresh proxy (one for UDP, one for TCP) instead of being taken for a
# retransmission of the message before. Over UDP, ";rport" is added to the
# first Via so that answers come back to the sender's port whatever the
# message's sent-by says.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
harness_init

PROXY=${TESTPROXY:-build/tests/proxy/testproxy}
SEND=build/tests/proxy/sipsend
[ -x "$PROXY" ] && [ -x "$SEND" ] || fail "testproxy/sipsend not built (make integration builds them)"

# name  expected-over-UDP  expected-over-TCP
# (a status code, "none": no answer within the wait, "closed": the proxy
# closed the connection without an answer). mpart01 is routed to
# 127.0.0.1:5080 over UDP, where nobody listens (408 after Timer F), or
# which the TCP-only proxy cannot reach (503); via-received-param-with-delim
# is in-dialog to [2001:db8::10], which the test proxy refuses to send to
# (503): tests keep their traffic on loopback.
expect=$(cat <<'TABLE'
wsinv 404 404
intmeth 404 404
esc01 404 404
escnull 404 404
esc02 404 404
lwsdisp 404 404
longreq 404 404
dblreq 404 404
semiuri 404 404
transports 404 404
mpart01 408 503
unreason none none
noreason none none
badinv01 400 400
clerr 400 none
ncl 400 closed
scalar02 400 400
scalarlg none none
quotbal 400 400
ltgtruri 400 400
lwsruri 400 400
lwsstart 400 400
trws 400 400
escruri 400 400
baddate 404 404
regbadct 404 404
badaspec 400 400
baddn 400 none
badvers 505 505
mismatch01 400 400
mismatch02 400 400
bigcode none none
badbranch 404 404
insuf 400 400
unkscm 416 416
novelsc 416 416
unksm2 404 404
bext01 420 420
invut 404 404
regaut01 404 404
multi01 400 400
mcl01 400 closed
bcast none none
zeromf 483 483
cparam01 404 404
cparam02 404 404
regescrt 404 404
sdp01 404 404
inv2543 404 closed
ipv6-good 404 404
ipv6-bad 400 400
port-ambiguous 404 404
port-unambiguous 404 404
via-received-param-with-delim 503 503
via-received-param-no-delim 404 404
ipv6-in-sdp 404 404
mult-ip-in-header 404 404
mult-ip-in-sdp 404 404
ipv4-mapped-ipv6 404 404
ipv6-bug-abnf-3-colons 404 404
ipv6-correct-abnf-2-colons 404 404
TABLE
)

# Every message of both INDEX files is in the table.
for idx in tests/conformance/rfc4475/INDEX.tsv tests/conformance/rfc5118/INDEX.tsv; do
    while IFS=$'\t' read -r name _; do
        [ "$name" = name ] && continue
        grep -q "^$name " <<<"$expect" || fail "$name has no expected wire handling"
    done <"$idx"
done

start_proxy() { # start_proxy PROTO PORT: a fresh proxy; pid in proxy_pid
    local out=$HARNESS_DIR/proxy.$1.out
    : >"$out"
    # short timers: a request forwarded into the void times out in ~1 s
    "$PROXY" --t1 20 --host 127.0.0.1 -l "$1:127.0.0.1:$2" >"$out" 2>>"$HARNESS_DIR/proxy.log" &
    proxy_pid=$!
    harness_wait_for "testproxy ready" 5 grep -q '^ready' "$out" || fail "testproxy did not start"
}
stop_proxy() { # the proxy must still be alive, and exit cleanly
    kill -0 "$1" 2>/dev/null || fail "testproxy died on $2"
    kill -TERM "$1"
    wait "$1" || fail "testproxy exited with an error after $2"
}

outcome() { # outcome SIPSEND-OUTPUT: the status code of the first final answer, none or closed
    local first
    first=$(grep -m1 -E '^SIP/2.0 [2-6]' <<<"$1" | cut -d' ' -f2 || true)
    if [ -n "$first" ]; then
        echo "$first"
    elif grep -q '^closed' <<<"$1"; then
        echo closed
    else
        echo none
    fi
}

UPORT=$(harness_free_port udp)
TPORT=$(harness_free_port tcp)
failures=0
while read -r name want_udp want_tcp; do
    file=tests/conformance/rfc4475/$name.dat
    [ -f "$file" ] || file=tests/conformance/rfc5118/$name.dat
    start_proxy udp "$UPORT"
    upid=$proxy_pid
    start_proxy tcp "$TPORT"
    tpid=$proxy_pid
    # both at once: the "none" cases wait out the full time
    "$SEND" --rport --first --wait 2500 127.0.0.1 "$UPORT" "$file" >"$HARNESS_DIR/udp.out" &
    usend=$!
    "$SEND" --tcp --first --wait 2500 127.0.0.1 "$TPORT" "$file" >"$HARNESS_DIR/tcp.out" &
    wait $usend $!
    got_udp=$(outcome "$(cat "$HARNESS_DIR/udp.out")")
    got_tcp=$(outcome "$(cat "$HARNESS_DIR/tcp.out")")
    stop_proxy "$upid" "$name over UDP"
    stop_proxy "$tpid" "$name over TCP"
    if [ "$got_udp" = "$want_udp" ] && [ "$got_tcp" = "$want_tcp" ]; then
        ok "$name: UDP $got_udp, TCP $got_tcp"
    else
        echo "not ok - $name: UDP $got_udp (want $want_udp), TCP $got_tcp (want $want_tcp)" >&2
        failures=$((failures + 1))
    fi
done <<<"$expect"
[ "$failures" -eq 0 ] || fail "$failures torture messages handled wrongly over the wire"
