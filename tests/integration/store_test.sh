#!/usr/bin/env bash
# pgq (asynchronous PostgreSQL, common/pgq.c) and the provisioning cache
# (common/store.c) against the harness PostgreSQL, through store_driver
# on a real event loop. pgq: connect, prepared queries, pipelined order,
# a failing query that does not break the next, the queue bound, LISTEN
# with an identifier that needs quoting, the connect timeout, "not
# connected" while the server is down, queries in flight failing with
# "connection lost", reconnection with the up and down hooks. store: the
# full load, lookups by AOR, alias, DID and id, IP access lists, HA1s,
# changes made in psql reaching the cache through NOTIFY, dial plans,
# server groups and trusted addresses, feature hops and on_failure,
# serving from the cache while the database is down, and a full reload on
# reconnection that picks up what changed meanwhile.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=SCRIPTDIR/../harness/postgres.sh
. "$HERE/../harness/postgres.sh"

if [[ -n "${STORE_DRIVER:-}" ]]; then
    DRIVER="$STORE_DRIVER"
else
    target="${BUILD:-build}/tests/integration/store_driver"
    DRIVER="$target"
    [[ "$DRIVER" == /* ]] || DRIVER="$ROOT/$DRIVER"
    make --no-print-directory -s -C "$ROOT" "$target" >&2 || fail "cannot build $target"
fi
[[ -x "$DRIVER" ]] || fail "no driver at $DRIVER"
MIGRATE="${VOCAL_MIGRATE:-$ROOT/bin/vocal-migrate}"
[[ -x "$MIGRATE" ]] || make --no-print-directory -s -C "$ROOT" bin/vocal-migrate >&2 || fail "cannot build bin/vocal-migrate"

harness_init
pg_start
PSQL="$PG_BINDIR/psql"
"$MIGRATE" -d "$VOCAL_DB_URI" -s "$ROOT/provisioning/sql" >/dev/null || fail "migration failed"
sql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$VOCAL_DB_URI" "$@"; }

# ---- the driver -----------------------------------------------------------
# drv_start NAME [OPTIONS]: a driver reading commands from a fifo (fd 3).
# drv VERB... sends one command and waits for its answer, which lands in
# OUT. Whatever starts a long-lived process meanwhile must close fd 3 for
# it (pg_restart 3>&-), or the driver never sees the end of its input.
DRV_PID="" SEQ=0 OUT=""
drv_start() {
    local dir="$HARNESS_DIR/drv$1"
    shift
    mkdir -p "$dir"
    mkfifo "$dir/in"
    DRV_OUT="$dir/out"
    : >"$DRV_OUT"
    PGAPPNAME=store_driver "$DRIVER" "$@" "$VOCAL_DB_URI" <"$dir/in" >"$DRV_OUT" 2>"$dir/err" &
    DRV_PID=$!
    DRV_ERR="$dir/err"
    harness_on_exit harness_kill_pid "$DRV_PID"
    exec 3>"$dir/in"
}
drv_stop() {
    exec 3>&-
    local rc=0
    harness_wait_for "the driver to exit at the end of its input" 10 \
        bash -c "! kill -0 $DRV_PID 2>/dev/null || [[ \$(cut -d' ' -f3 /proc/$DRV_PID/stat) == Z ]]" ||
        return 1
    wait "$DRV_PID" || rc=$?
    DRV_PID=""
    return $rc
}
drv_send() {
    SEQ=$((SEQ + 1))
    echo "$SEQ $*" >&3
}
drv_answer() {
    harness_wait_for "driver command $SEQ" "${DRV_TIMEOUT:-20}" grep -qx "end $SEQ" "$DRV_OUT" ||
        { cat "$DRV_ERR" >&2; fail "driver did not answer command $SEQ"; }
    OUT="$(sed -n "/^begin $SEQ\$/,/^end $SEQ\$/p" "$DRV_OUT" | sed '1d;$d' | grep -v '^#' || true)"
    [[ -n "${DRV_QUIET:-}" ]] || sed -n "/^begin $SEQ\$/,/^end $SEQ\$/p" "$DRV_OUT" | grep '^#' || true
}
drv() {
    drv_send "$@"
    drv_answer
}
# drv_until DESC TIMEOUT EXPECTED VERB...: repeats the command until its
# answer is EXPECTED (a glob), or fails.
drv_until() {
    local desc="$1" timeout="$2" want="$3" deadline
    shift 3
    deadline=$(($(_harness_now_usec) + $(_harness_usec "$timeout")))
    while true; do
        DRV_QUIET=1 drv "$@"
        # shellcheck disable=SC2053
        if [[ "$OUT" == $want ]]; then
            ok "$desc"
            return 0
        fi
        if (($(_harness_now_usec) >= deadline)); then
            echo "#   last answer: $OUT" >&2
            fail "$desc (timed out)"
        fi
        sleep 0.05
    done
}

# ==== pgq ====================================================================
drv_start pgq -n -m 1000
drv_until "pgq connects, prepares and listens (up hook once)" 10 "connected=1 ups=1 downs=0 *" state
drv echo hello
assert_eq "result hello" "$OUT" "a prepared statement runs with a text parameter"
drv echo
assert_eq "result " "$OUT" "an empty parameter is not NULL"
drv echo -null
assert_eq "result NULL" "$OUT" "a NULL parameter is SQL NULL"
drv failing
assert_eq "result before
error division by zero
result after" "$OUT" "a failing query between two good ones: only it fails (each has its own sync)"
drv pipeline 1000
assert_eq "pipelined 1000 failed 0 disorder 0" "$OUT" "1000 pipelined queries answered, each with its own value, in order"
drv pipeline 1001
assert_contains "$OUT" "refused at 1000" "the 1001st query is refused by the queue bound (-m 1000)"
drv flood
assert_eq "accepted 1000 queued 1000
completed 1000 failed 0" "$OUT" "backpressure: pgq_exec accepts max_queued queries, all of which complete"
drv echo again
assert_eq "result again" "$OUT" "the queue accepts again once it has drained"

sql -c "NOTIFY \"test \"\"chan\"\"\", 'hi there'"
harness_wait_for "notification" 5 grep -qx "notify hi there" "$DRV_OUT" || fail "notification not delivered"
ok "a notification on a channel whose name needs quoting arrives (PQescapeIdentifier)"

drv conntimeout
assert_contains "$OUT" "down connect timeout after" "a server that never answers: the connect attempt times out (300 ms)"
ms="${OUT##* after }"; ms="${ms%% ms}"
((ms >= 280 && ms < 2000)) || fail "connect timeout took $ms ms"
ok "the connect timeout fired after $ms ms"

# Queries in flight when the backend goes: the running one gets the
# server's FATAL, the one behind it "connection lost".
drv_send sleep 30
harness_wait_for "the sleeping query" 5 bash -c "[[ \$('$PSQL' -X -At -c \"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND pid <> pg_backend_pid()\") == 1 ]]" ||
    fail "the query did not start"
sql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'store_driver'" >/dev/null
drv_answer
assert_eq "error terminating connection due to administrator command
error connection lost" "$OUT" "queries in flight when the connection breaks: the server's error, then \"connection lost\""
drv_until "the down hook ran once and pgq reconnected (up hook again)" 10 "connected=1 ups=2 downs=1 *" state

pg_stop
drv_until "server stopped: pgq reports down" 10 "connected=0 ups=2 downs=2 *" state
drv echo x
assert_eq "refused" "$OUT" "pgq_exec while the server is down fails at once"
pg_restart 3>&-
drv_until "server back: pgq reconnects by itself (backoff, up hook)" 15 "connected=1 ups=3 downs=2 *" state
drv state
assert_eq "connected=1 ups=3 downs=2 ready=0 changes=0" "$OUT" "one down hook per loss, however many connect attempts failed"
drv echo back
assert_eq "result back" "$OUT" "statements are prepared again on the new connection"
drv_send exitnow
drv_stop || fail "driver exited with an error"
assert_eq "error shutting down
error shutting down
error shutting down" "$(sed -n "/^begin $SEQ\$/,/^end $SEQ\$/p" "$DRV_OUT" | sed '1d;$d')" \
    "pgq_free fails the queries still queued with \"shutting down\", calling their callbacks"
if grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$DRV_ERR"; then
    cat "$DRV_ERR" >&2
    fail "sanitizer report"
fi
ok "pgq driver exits cleanly"

# ==== store ==================================================================
sql <<'SQL'
INSERT INTO domains (name, realm) VALUES ('example.test', 'example.test'), ('other.test', 'Other Realm');
INSERT INTO server_groups (name, kind) VALUES ('ua-marshals', 'marshal_ua'), ('gateways', 'marshal_gateway'),
    ('empty', 'redirect');
INSERT INTO servers (group_id, host, port, transport, priority, weight) VALUES
    (1, '192.0.2.10', 5060, 'udp', 10, 1), (1, '192.0.2.11', 5070, 'udp', 10, 5),
    (1, '2001:db8::11', 5060, 'udp', 5, 1), (1, '192.0.2.12', 5060, 'udp', 1, 1),
    (2, 'gw.example.test', 5060, 'udp', 0, 1), (2, '198.51.100.7', 5060, 'tcp', 0, 1);
UPDATE servers SET enabled = false WHERE host = '192.0.2.12';
INSERT INTO subscribers (domain_id, user_part, display_name, auth_kind, ha1_md5, ha1_sha256, marshal_group_id) VALUES
    (1, 'alice', 'Alice', 'digest', md5('alice:example.test:secret'),
     encode(sha256('alice:example.test:secret'), 'hex'), 1),
    (1, 'bob', 'Bob', 'ip', NULL, NULL, NULL),
    (1, '%2Bcarol', '', 'digest', NULL, NULL, NULL),
    (1, 'd%61ve', '', 'none', NULL, NULL, NULL),
    (2, 'alice', 'Other Alice', 'digest', NULL, NULL, 2);
INSERT INTO subscriber_acl (subscriber_id, network) VALUES (2, '192.0.2.0/24'), (2, '2001:db8:1::/48'),
    (2, '203.0.113.5/32');
INSERT INTO aliases (subscriber_id, domain_id, user_part) VALUES (1, 1, 'al'), (1, 2, 'ally');
INSERT INTO dids (subscriber_id, number) VALUES (1, '+4930123456');
INSERT INTO dial_plans (name) VALUES ('pstn'), ('internal');
INSERT INTO dial_plan_entries (dial_plan_id, position, pattern, contact_template) VALUES
    (1, 10, '\+?49([0-9]+)', 'sip:0\1@gw.example.test;user=phone'),
    (1, 20, '00([0-9]{2})([0-9]+)', 'sip:+\1\2@gw.example.test;cc=\1'),
    (1, 5, '[0-9]{3}', 'sip:\0@pbx.example.test'),
    (1, 7, '(?:12)34', 'sip:never@x'),
    (2, 1, '(1)(2)?3', 'sip:a\\b\2@x');
SQL
ALICE=1 BOB=2 ALICE2=5

drv_start store
drv_until "the store is ready after its full load" 10 "connected=1 ups=1 downs=0 ready=1 *" state
drv sstats
assert_eq "domains=2 subscribers=5 aliases=2 dids=1 servers=6 groups=3 entries=4 full_loads=1 row_reloads=0 notifications=0 bad=0" \
    "$OUT" "full load: every table counted (the pattern regcomp refuses is skipped)"
grep -q "entry at position 7 skipped" "$DRV_ERR" || fail "the skipped pattern is not logged"
ok "the skipped pattern is logged"

drv aor alice example.test
assert_eq "sub $ALICE alice domain=1 auth=2 enabled=1 display=Alice acl=0 group=1" "$OUT" "lookup by AOR"
drv aor alice EXAMPLE.Test
assert_eq "sub $ALICE alice domain=1 auth=2 enabled=1 display=Alice acl=0 group=1" "$OUT" "the domain is compared without case"
drv aor Alice example.test
assert_eq "none" "$OUT" "the user part is compared with case"
drv aor alice other.test
assert_eq "sub $ALICE2 alice domain=2 auth=2 enabled=1 display=Other Alice acl=0 group=2" "$OUT" "the same user in another domain is another subscriber"
drv aor al example.test
assert_contains "$OUT" "sub $ALICE alice domain=1" "lookup by alias"
drv aor ally other.test
assert_contains "$OUT" "sub $ALICE alice domain=1" "an alias in another domain"
drv aor al other.test
assert_eq "none" "$OUT" "an alias belongs to its domain"
drv aor dave example.test
assert_contains "$OUT" "d%61ve" "an escaped unreserved character equals the character"
drv aor %64ave example.test
assert_contains "$OUT" "d%61ve" "... either way round"
drv aor %2bcarol example.test
assert_contains "$OUT" "%2Bcarol" "escapes compare without case of their hex digits"
drv aor +carol example.test
assert_eq "none" "$OUT" "an escaped reserved character is not the character"
drv aor alice nosuch.test
assert_eq "none" "$OUT" "an unknown domain finds nobody"
drv did +4930123456
assert_contains "$OUT" "sub $ALICE alice" "lookup by DID"
drv did 4930123456
assert_contains "$OUT" "sub $ALICE alice" "lookup by DID without its '+'"
drv did +49301234
assert_eq "none" "$OUT" "a DID's prefix is not the DID"
drv id $BOB
assert_eq "sub $BOB bob domain=1 auth=1 enabled=1 display=Bob acl=3 group=0" "$OUT" "lookup by id"
drv domain Other.TEST
assert_eq "domain 2 other.test realm=Other Realm enabled=1" "$OUT" "domain by name"

for a in "192.0.2.77 allow" "192.0.3.1 deny" "::ffff:192.0.2.77 allow" "2001:db8:1:2::5 allow" \
    "2001:db8:2::1 deny" "203.0.113.5 allow" "203.0.113.6 deny" "::ffff:203.0.113.5 allow" "::192.0.2.77 deny"; do
    drv acl $BOB "${a% *}"
    assert_eq "${a#* }" "$OUT" "ACL: ${a% *} ${a#* }ed"
done
drv acl $ALICE 192.0.2.77
assert_eq "deny" "$OUT" "an empty ACL allows nothing"

drv ha1 $ALICE MD5
assert_eq "$(sql -c "SELECT md5('alice:example.test:secret')")" "$OUT" "HA1 for MD5"
drv ha1 $ALICE MD5-sess
assert_eq "$(sql -c "SELECT md5('alice:example.test:secret')")" "$OUT" "HA1 for MD5-sess is MD5's"
drv ha1 $ALICE SHA-256
assert_eq "$(sql -c "SELECT encode(sha256('alice:example.test:secret'), 'hex')")" "$OUT" "HA1 for SHA-256"
drv ha1 $ALICE SHA-512-256
assert_eq "unset" "$OUT" "no HA1 for SHA-512-256"

drv route pstn +49301234
assert_eq "route sip:0301234@gw.example.test;user=phone" "$OUT" "dial plan: a group into the template"
drv route pstn 4930
assert_eq "route sip:030@gw.example.test;user=phone" "$OUT" "dial plan: optional '+'"
drv route pstn 123
assert_eq "route sip:123@pbx.example.test" "$OUT" "dial plan: lowest position first, \\0 is the whole match"
drv route pstn 0044207
assert_eq "route sip:+44207@gw.example.test;cc=44" "$OUT" "dial plan: two groups, one used twice"
drv route pstn x49123
assert_eq "route 0" "$OUT" "dial plan: the pattern must match the whole subject (start)"
drv route pstn 1234
assert_eq "route 0" "$OUT" "dial plan: the whole subject (end), and the skipped entry is not used"
drv route internal 13
assert_eq 'route sip:a\b@x' "$OUT" "dial plan: a group that did not match is empty; \\\\ is a backslash"
drv route nosuch 123
assert_eq "route 0" "$OUT" "dial plan: unknown plan"

drv group ua-marshals
assert_eq "group 1 ua-marshals marshal_ua servers=3
server 2001:db8::11 5060 udp 5 1
server 192.0.2.11 5070 udp 10 5
server 192.0.2.10 5060 udp 10 1" "$OUT" "a group's enabled servers by priority, then weight"
drv group empty
assert_eq "group 3 empty redirect servers=0" "$OUT" "a group without servers"
for a in "192.0.2.10 5060 trusted" "192.0.2.10 0 trusted" "192.0.2.10 5070 untrusted" \
    "::ffff:192.0.2.11 5070 trusted" "2001:db8::11 5060 trusted" "192.0.2.12 5060 untrusted" \
    "198.51.100.7 0 trusted" "203.0.113.1 0 untrusted"; do
    read -r addr port want <<<"$a"
    drv trusted "$addr" "$port"
    assert_eq "$want" "$OUT" "server address $addr port $port: $want"
done

# ---- changes through NOTIFY ----
sql -c "INSERT INTO subscribers (domain_id, user_part, display_name) VALUES (1, 'erin', 'Erin')"
ERIN="$(sql -c "SELECT id FROM subscribers WHERE user_part = 'erin'")"
drv_until "INSERT of a subscriber reaches the cache" 3 "sub $ERIN erin *display=Erin*" aor erin example.test
t0=$(_harness_now_usec)
sql -c "UPDATE subscribers SET display_name = 'Erin E', auth_kind = 'ip' WHERE id = $ERIN"
drv_until "UPDATE of a subscriber reaches the cache" 3 "sub $ERIN erin *auth=1*display=Erin E*" aor erin example.test
echo "# UPDATE in psql to the change in the cache: $((($(_harness_now_usec) - t0) / 1000)) ms (psql's start and the polling included)"
sql -c "UPDATE subscribers SET user_part = 'erin2' WHERE id = $ERIN"
drv_until "a renamed subscriber is found by its new name" 3 "sub $ERIN erin2 *" aor erin2 example.test
drv aor erin example.test
assert_eq "none" "$OUT" "... and not by its old one"
sql -c "DELETE FROM subscribers WHERE id = $ERIN"
drv_until "DELETE of a subscriber reaches the cache" 3 "none" id "$ERIN"
sql -c "INSERT INTO aliases (subscriber_id, domain_id, user_part) VALUES ($ALICE, 1, 'ali2')" -c "DELETE FROM aliases WHERE user_part = 'al'"
drv_until "a new alias reaches the cache" 3 "sub $ALICE *" aor ali2 example.test
drv_until "a deleted alias is gone" 3 "none" aor al example.test
sql -c "UPDATE dids SET number = '+4940999' WHERE number = '+4930123456'"
drv_until "a changed DID: the new number" 3 "sub $ALICE *" did +4940999
drv did +4930123456
assert_eq "none" "$OUT" "a changed DID: the old number is gone"
sql -c "INSERT INTO subscriber_acl (subscriber_id, network) VALUES ($BOB, '10.0.0.0/8')"
drv_until "an ACL change reaches the cache" 3 "allow" acl $BOB 10.1.2.3
sql -c "UPDATE domains SET realm = 'New Realm' WHERE name = 'other.test'"
drv_until "a domain change reaches the cache" 3 "domain 2 other.test realm=New Realm enabled=1" domain other.test
sql -c "INSERT INTO servers (group_id, host, port) VALUES (3, '192.0.2.99', 5080)"
drv_until "a new server is trusted" 3 "trusted" trusted 192.0.2.99 5080
drv_until "... and in its group" 3 "group 3 empty redirect servers=1*" group empty
sql -c "INSERT INTO dial_plan_entries (dial_plan_id, position, pattern, contact_template) VALUES (1, 1, '1234', 'sip:new@x')"
drv_until "a new dial-plan entry routes" 3 "route sip:new@x" route pstn 1234
sql -c "DELETE FROM dial_plans WHERE name = 'internal'"
drv_until "a deleted dial plan routes nothing" 3 "route 0" route internal 13
sql -c "INSERT INTO location_bindings (subscriber_id, contact, expires, expires_at, call_id, cseq)
    VALUES ($ALICE, 'sip:alice@192.0.2.1', 60, now() + interval '60 s', 'c1@x', 1)"
BINDING="$(sql -c "SELECT id FROM location_bindings")"
harness_wait_for "the other hook" 3 grep -qx "other location_bindings INSERT $BINDING $ALICE" "$DRV_OUT" ||
    fail "location_bindings notification not passed to the other hook"
ok "a notification for a table the store does not keep goes to the other hook, parsed"
sql -c "NOTIFY vocal_changes, 'not json'" -c "NOTIFY vocal_changes, '{\"table\" : \"subscribers\"}'" \
    -c "NOTIFY vocal_changes, '{\"table\" : \"aliases\", \"op\" : \"INSERT\", \"id\" : 3}'"
drv_until "malformed notifications are counted, not acted on" 3 "*bad=3" sstats
drv aor alice example.test
assert_contains "$OUT" "sub $ALICE alice" "... and the cache is intact"

# ---- feature hops (003_features) ----
# Groups: feat-a (skip when down), feat-b; alice: call_return (both, a),
# call_blocking (calling, a: merged with the one before), cpl (both, b),
# caller_id_blocking (calling, a), call_screening (called, b),
# forward_all (called, b: merged), voicemail inactive (user off);
# frank's call_blocking switched off by the carrier.
sql <<'SQL'
INSERT INTO server_groups (name, kind, on_failure) VALUES ('feat-a', 'feature', 'skip'), ('feat-b', 'feature', 'fail');
SQL
FA="$(sql -c "SELECT id FROM server_groups WHERE name = 'feat-a'")"
FB="$(sql -c "SELECT id FROM server_groups WHERE name = 'feat-b'")"
drv_until "a new group's on_failure reaches the cache (skip)" 3 "skip" onfail feat-a
drv onfail feat-b
assert_eq "fail" "$OUT" "on_failure fail"
drv onfail ua-marshals
assert_eq "fail" "$OUT" "on_failure defaults to fail"
drv hops alice example.test
assert_eq "calling=- called=-" "$OUT" "a subscriber without features has no hops (and NULL lists)"
sql <<SQL
INSERT INTO subscriber_features (subscriber_id, feature, user_enabled, group_id) VALUES
    ($ALICE, 'call_return', true, $FA), ($ALICE, 'call_blocking', true, $FA), ($ALICE, 'cpl', true, $FB),
    ($ALICE, 'caller_id_blocking', true, $FA), ($ALICE, 'call_screening', true, $FB),
    ($ALICE, 'forward_all', true, $FB), ($ALICE, 'voicemail', false, $FA);
SQL
drv_until "features through NOTIFY: hops in position order, equal neighbours merged, inactive left out" 3 \
    "calling=$FA,$FB,$FA called=$FA,$FB" hops alice example.test
t0=$(_harness_now_usec)
sql -c "UPDATE subscriber_features SET admin_enabled = false WHERE subscriber_id = $ALICE AND feature = 'cpl'"
drv_until "a feature the carrier switches off leaves the hops (its neighbours merge)" 1 \
    "calling=$FA called=$FA,$FB" hops alice example.test
echo "# UPDATE subscriber_features to the change in the cache: $((($(_harness_now_usec) - t0) / 1000)) ms"
sql -c "UPDATE subscriber_features SET user_enabled = true WHERE subscriber_id = $ALICE AND feature = 'voicemail'"
drv_until "a feature the subscriber switches on joins the hops" 3 \
    "calling=$FA called=$FA,$FB,$FA" hops alice example.test
sql -c "DELETE FROM subscriber_features WHERE subscriber_id = $ALICE"
drv_until "deleting the features empties the hops" 3 "calling=- called=-" hops alice example.test
sql -c "UPDATE server_groups SET on_failure = 'fail' WHERE id = $FA"
drv_until "an on_failure change reaches the cache" 3 "fail" onfail feat-a
sql -c "INSERT INTO subscriber_features (subscriber_id, feature, user_enabled, group_id) VALUES ($ALICE, 'call_screening', true, $FB)"
drv_until "one called feature" 3 "calling=- called=$FB" hops alice example.test

# ---- database down: serve from the cache; a full reload on reconnection ----
pg_stop
drv_until "database down: the store's pgq is down" 10 "connected=0 *ready=1*" state
drv aor alice example.test
assert_contains "$OUT" "sub $ALICE alice" "database down: lookups are served from the cache"
drv route pstn +49301234
assert_eq "route sip:0301234@gw.example.test;user=phone" "$OUT" "database down: dial plans too"
pg_restart 3>&-
drv_until "database back: a second full load" 15 "*full_loads=2 *" sstats

# Changes while the store is disconnected (its role may not log in, the
# server runs): notifications are lost, the full reload must catch them.
"$PSQL" -X -q -c "ALTER ROLE vocal NOLOGIN" >/dev/null
"$PSQL" -X -q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'store_driver'" >/dev/null
drv_until "store disconnected" 10 "connected=0 *" state
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d vocal <<'SQL'
INSERT INTO subscribers (domain_id, user_part, display_name) VALUES (1, 'frank', 'Frank');
UPDATE subscribers SET display_name = 'Alice Changed' WHERE user_part = 'alice' AND domain_id = 1;
DELETE FROM subscribers WHERE user_part = 'bob';
SQL
drv aor frank example.test
assert_eq "none" "$OUT" "changes made while disconnected are not seen yet"
sql_admin_login() { "$PSQL" -X -q -c "ALTER ROLE vocal LOGIN" >/dev/null; }
sql_admin_login
drv_until "reconnected: a full reload picks up the new subscriber" 15 "sub * frank *" aor frank example.test
drv aor alice example.test
assert_contains "$OUT" "display=Alice Changed" "... the changed one"
drv hops alice example.test
assert_eq "calling=- called=$FB" "$OUT" "... with its feature hops (the full load's query)"
drv id $BOB
assert_eq "none" "$OUT" "... and drops the deleted one"
drv sstats
assert_contains "$OUT" "full_loads=3" "three full loads in all"
drv_stop || fail "driver exited with an error"
if grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$DRV_ERR"; then
    cat "$DRV_ERR" >&2
    fail "sanitizer report"
fi
ok "store driver exits cleanly"

# ---- scale: a full load of many subscribers (a measurement) ----
N="${STORE_SCALE_N:-100000}"
sql -c "INSERT INTO subscribers (domain_id, user_part, display_name, ha1_md5)
    SELECT 1, 'user' || i, 'User ' || i, md5('user' || i) FROM generate_series(1, $N) i" \
    -c "INSERT INTO dids (subscriber_id, number) SELECT id, '+1555' || lpad(id::text, 7, '0')
        FROM subscribers WHERE user_part LIKE 'user%' AND id % 4 = 0"
t0=$(_harness_now_usec)
drv_start scale -m 200000
DRV_TIMEOUT=120 drv_until "a full load of $N more subscribers" 120 "connected=1 *ready=1*" state
t1=$(_harness_now_usec)
echo "# full load of $((N + 4)) subscribers (connect included): $(((t1 - t0) / 1000)) ms"
drv sstats
drv aor "user$N" example.test
assert_contains "$OUT" "user$N" "the last generated subscriber is found"
DRV_TIMEOUT=120 drv pipeline 100000
assert_eq "pipelined 100000 failed 0 disorder 0" "$OUT" "100000 queries pipelined at once, in order"
drv_stop || fail "driver exited with an error"
