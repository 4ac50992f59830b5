#!/usr/bin/env bash
# Feature routing in redirectd (issue 6) against the real PostgreSQL: the
# platform's redirectd (with a features.secret) gets INVITEs from a platform
# address (a feature server's part, played by sipsend) and its 302s are
# read Contact by Contact.
#
#   - 1000 has a calling feature (group fa: two servers, on_failure skip),
#     1001 a called one (fb: one server, fail): the start, c.0 done, t.0
#     done, the serving marshal's Contact with its "features done" value,
#     and the marshal asking again with it (the phone's contact);
#   - a value forged, another call's, a retarget minted as featured does
#     (r, forwards 1) and one forward too many (482);
#   - a call from 1000 to *69 (no subscriber) reaches the calling hop; from
#     1002 (no features) it is 404;
#   - an UPDATE of subscriber_features changes the routing within a second
#     (NOTIFY); servers disabled: a fail group answers 503 naming it, a skip
#     group is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/platform.sh
. tests/harness/platform.sh
harness_init
SECRET=$(openssl rand -hex 32)
PLATFORM_EXTRA_REDIRECT="features.secret = $SECRET"
SEND=build/tests/proxy/sipsend
[[ -x $SEND ]] || make --no-print-directory -s $SEND
platform_start
H=127.0.0.1
F1=$(harness_free_port udp) F2=$(harness_free_port udp) F3=$(harness_free_port udp)

platform_sql <<SQL
INSERT INTO server_groups (name, kind, on_failure) VALUES ('fa', 'feature', 'skip'), ('fb', 'feature', 'fail');
INSERT INTO servers (group_id, host, port, transport, priority)
    SELECT id, '127.0.0.2', $F2, 'tcp', 20 FROM server_groups WHERE name = 'fa';
INSERT INTO servers (group_id, host, port, transport, priority)
    SELECT id, '127.0.0.1', $F1, 'udp', 10 FROM server_groups WHERE name = 'fa';
INSERT INTO servers (group_id, host, port) SELECT id, '127.0.0.3', $F3 FROM server_groups WHERE name = 'fb';
INSERT INTO subscriber_features (subscriber_id, feature, user_enabled, group_id)
    SELECT s.id, 'call_blocking', true, g.id FROM subscribers s, server_groups g
    WHERE s.user_part = '1000' AND g.name = 'fa';
INSERT INTO subscriber_features (subscriber_id, feature, user_enabled, group_id)
    SELECT s.id, 'call_screening', true, g.id FROM subscribers s, server_groups g
    WHERE s.user_part = '1001' AND g.name = 'fb';
SQL
FA=$(platform_sql -c "SELECT id FROM server_groups WHERE name = 'fa'")
FB=$(platform_sql -c "SELECT id FROM server_groups WHERE name = 'fb'")

# invite RURI FROM CALL-ID [VIA-PORT]: an INVITE to redirectd from a
# platform address (Via 127.0.0.1:VIA-PORT, default 9: a feature server);
# RESP gets the response (CR removed), CONTACTS its Contact lines.
invite() {
    local f
    f=$(mktemp "$HARNESS_DIR/inv.XXXXXX")
    printf 'INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%s;branch=z9hG4bK-%s\r\nMax-Forwards: 70\r\nTo: <sip:x@vocal.test>\r\nFrom: <%s>;tag=f%s\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\nContact: <sip:a@%s:9>\r\nContent-Length: 0\r\n\r\n' \
        "$1" "$H" "${4:-9}" "$RANDOM$RANDOM" "$2" "$RANDOM" "$3" "$H" >"$f"
    RESP=$("$SEND" --rport --print --first "$H" "$REDIRECT_PORT" "$f" | tr -d '\r')
    CONTACTS=$(grep '^Contact:' <<<"$RESP" || true)
}
status() { head -1 <<<"$RESP"; }
# hop_of N: the vocal-hop value of Contact line N
hop_of() { sed -n "${1}p" <<<"$CONTACTS" | sed 's/.*vocal-hop=\([^>;]*\).*/\1/'; }
# mac VALUE CALL-ID USER HOST: the MAC featured puts after VALUE
# (common/feature_hop.c: HMAC-SHA-256 of the length-prefixed value,
# Call-ID and user, then the host in lower case; 16 hex digits)
mac() {
    perl -MDigest::SHA=hmac_sha256_hex -e 'my ($v, $c, $u, $h, $k) = @ARGV;
        my $m = join("", map { pack("N", length $_) . $_ } ($v, $c, $u)) . lc $h;
        print substr(hmac_sha256_hex($m, pack("H*", $k)), 0, 16)' "$1" "$2" "$3" "$4" "$SECRET"
}

# ---- the calling hop, the called hop, the terminating marshal ----
C=call-a@test
invite "sip:1001@vocal.test" "sip:1000@vocal.test" "$C"
assert_eq "SIP/2.0 302 Moved Temporarily" "$(status)" "1000 -> 1001: 302"
V=$(hop_of 1)
[[ $V =~ ^c\.0\.$FA\.0\.[0-9a-f]{16}$ ]] || fail "first hop value: $V"
assert_eq "Contact: <sip:1001@vocal.test:$F1;maddr=127.0.0.1;vocal-hop=$V>;q=1
Contact: <sip:1001@vocal.test:$F2;maddr=127.0.0.2;transport=tcp;vocal-hop=$V>;q=0.9
Contact: <sip:1001@vocal.test;vocal-hop=$V>;q=0.8" "$CONTACTS" \
    "no parameter: 1000's calling hop (fa): its servers by priority, q 1 and 0.9, then the skip (q 0.8)"
assert_eq "$(mac "${V%.*}" "$C" 1001 vocal.test)" "${V##*.}" "the value's MAC is HMAC-SHA-256 of value, Call-ID, user and host with features.secret"

invite "sip:1001@vocal.test;vocal-hop=$V" "sip:1000@vocal.test" "$C"
V2=$(hop_of 1)
assert_eq "Contact: <sip:1001@vocal.test:$F3;maddr=127.0.0.3;vocal-hop=t.0.$FB.0.$(mac "t.0.$FB.0" "$C" 1001 vocal.test)>;q=1" \
    "$CONTACTS" "c.0 done: 1001's called hop (fb, on_failure fail: no skip Contact)"

invite "sip:1001@vocal.test;vocal-hop=$V2" "sip:1000@vocal.test" "$C"
assert_eq "SIP/2.0 480 Not Registered" "$(status)" "t.0 done, 1001 not registered: 480"
B1=$(harness_free_port udp)
platform_register reg-1001 1001 "$B1"
invite "sip:1001@vocal.test;vocal-hop=$V2" "sip:1000@vocal.test" "$C"
assert_eq "Contact: <sip:1001@vocal.test:$UA_PORT;maddr=127.0.0.1;vocal-hop=$V2>;q=1" "$CONTACTS" \
    "t.0 done: 1001's marshal, with the value that says the features are done"
invite "sip:1001@vocal.test;vocal-hop=$V2" "sip:1000@vocal.test" "$C" "$UA_PORT"
assert_eq "Contact: <sip:1001@127.0.0.1:$B1>;q=1" "$CONTACTS" "... with which the marshal asks again: 1001's phone"
invite "sip:1001@vocal.test" "sip:1002@vocal.test" "$C"
assert_eq "Contact: <sip:1001@vocal.test:$F3;maddr=127.0.0.3;vocal-hop=t.0.$FB.0.$(mac "t.0.$FB.0" "$C" 1001 vocal.test)>;q=1" \
    "$CONTACTS" "1002 (no calling features) -> 1001: straight to 1001's called hop"

# ---- values that are not ours, retargets, max forwards ----
FORGED="c.0.$FA.0.0123456789abcdef"
invite "sip:1001@vocal.test;vocal-hop=$FORGED" "sip:1000@vocal.test" "$C"
assert_eq "SIP/2.0 403 Bad Feature Hop" "$(status)" "a forged value (skipping 1000's call blocking): 403"
grep -q "\[$C\].*Bad Feature Hop.*$FORGED" "$(platform_log redirect)" || fail "the forged value is not logged with its Call-ID"
ok "the forged value is logged with the call's Call-ID"
invite "sip:1001@vocal.test;vocal-hop=$V" "sip:1000@vocal.test" "another-call@test"
assert_eq "SIP/2.0 403 Bad Feature Hop" "$(status)" "another call's value: 403"
R="r.0.0.1"
invite "sip:1001@vocal.test;vocal-hop=$R.$(mac $R "$C" 1001 vocal.test)" "sip:1000@vocal.test" "$C"
assert_eq "Contact: <sip:1001@vocal.test:$F3;maddr=127.0.0.3;vocal-hop=t.0.$FB.1.$(mac "t.0.$FB.1" "$C" 1001 vocal.test)>;q=1" \
    "$CONTACTS" "retargeted by a feature (r, one forward): the new target's called hop, the forward carried"
R="r.0.0.6"
invite "sip:1001@vocal.test;vocal-hop=$R.$(mac $R "$C" 1001 vocal.test)" "sip:1000@vocal.test" "$C"
assert_eq "SIP/2.0 482 Too Many Forwards" "$(status)" "six forwards (features.max_forwards 5): 482"

# ---- destinations that are no subscriber ----
invite "sip:*69@vocal.test" "sip:1000@vocal.test" "$C"
assert_eq "Contact: <sip:*69@vocal.test:$F1;maddr=127.0.0.1;vocal-hop=c.0.$FA.0.$(mac "c.0.$FA.0" "$C" '*69' vocal.test)>;q=1" \
    "$(head -1 <<<"$CONTACTS")" "1000 dials *69 (no subscriber): the calling hop first, not 404"
invite "sip:*69@vocal.test" "sip:1002@vocal.test" "$C"
assert_eq "SIP/2.0 404 Not Found" "$(status)" "1002 (no features) dials *69: 404"
invite "sip:+12125550100@vocal.test" "sip:1000@vocal.test" "$C"
assert_contains "$(head -1 <<<"$CONTACTS")" "maddr=127.0.0.1;vocal-hop=c.0.$FA.0." "1000 dials a number for the gateway: the calling hop first"
V=$(hop_of 1)
invite "sip:+12125550100@vocal.test;vocal-hop=$V" "sip:1000@vocal.test" "$C"
assert_eq "Contact: <sip:+12125550100@127.0.0.1:$GW_PORT>" "$CONTACTS" "... then the dial plan"

# ---- changes through NOTIFY ----
t0=$(_harness_now_usec)
platform_sql -c "UPDATE subscriber_features SET user_enabled = false WHERE feature = 'call_blocking'"
deadline=$((t0 + 1000000))
while :; do
    invite "sip:1001@vocal.test" "sip:1000@vocal.test" "$C"
    [[ "$(hop_of 1)" == t.0.$FB.* ]] && break
    (($(_harness_now_usec) < deadline)) || fail "1000's calling feature switched off: still routed through it after 1 s"
    sleep 0.02
done
ok "1000's calling feature switched off (UPDATE subscriber_features): routing changed in $((($(_harness_now_usec) - t0) / 1000)) ms"
platform_sql -c "UPDATE subscriber_features SET user_enabled = true WHERE feature = 'call_blocking'"
t0=$(_harness_now_usec)
while :; do
    invite "sip:1001@vocal.test" "sip:1000@vocal.test" "$C"
    [[ "$(hop_of 1)" == c.0.$FA.* ]] && break
    (($(_harness_now_usec) < t0 + 1000000)) || fail "1000's calling feature switched on: not routed through it after 1 s"
    sleep 0.02
done
ok "... and on again: through fa again in $((($(_harness_now_usec) - t0) / 1000)) ms"

platform_sql -c "UPDATE servers SET enabled = false WHERE group_id IN ($FA, $FB)"
t0=$(_harness_now_usec)
while :; do
    invite "sip:1001@vocal.test" "sip:1000@vocal.test" "$C"
    [[ "$(status)" == "SIP/2.0 503"* ]] && break
    (($(_harness_now_usec) < t0 + 3000000)) || fail "servers disabled: still $(status)"
    sleep 0.05
done
assert_eq "SIP/2.0 503 Feature Group fb Unavailable" "$(status)" \
    "every server disabled: fa (skip) is skipped, fb (fail) answers 503 naming it"
