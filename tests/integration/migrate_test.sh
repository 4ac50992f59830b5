#!/usr/bin/env bash
# Schema migrations (common/db.c, bin/vocal-migrate) and the first schema
# (provisioning/sql/001_core.sql) against the harness PostgreSQL: apply
# once, then nothing; an edited or missing applied file is refused and
# changes nothing; two runs at once apply once; the schema's constraints
# refuse bad rows; a change sends a NOTIFY on vocal_changes.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=SCRIPTDIR/../harness/postgres.sh
. "$HERE/../harness/postgres.sh"

MIGRATE="${VOCAL_MIGRATE:-$ROOT/bin/vocal-migrate}"
[[ -x "$MIGRATE" ]] || make --no-print-directory -s -C "$ROOT" bin/vocal-migrate >&2 || fail "cannot build bin/vocal-migrate"
SQLDIR="$ROOT/provisioning/sql"

harness_init
pg_start
PSQL="$PG_BINDIR/psql"
app_sql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$VOCAL_DB_URI" "$@"; }

# migrate ARGS...: output (stdout and stderr) in OUT, exit status in RC.
migrate() {
    RC=0
    OUT="$("$MIGRATE" -d "$VOCAL_DB_URI" "$@" 2>&1)" || RC=$?
}
schema_dump() { app_sql -c "SELECT version, name, sha256 FROM schema_migrations ORDER BY version" \
    -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"; }

# --- usage ---
migrate --bogus
assert_eq 2 "$RC" "unknown option: exit 2"
migrate -s "$HARNESS_DIR/nonexistent"
assert_eq 1 "$RC" "missing SQL dir: exit 1"
assert_contains "$OUT" "nonexistent: No such file or directory" "missing SQL dir: says why"
RC=0; OUT="$("$MIGRATE" -d "postgresql://vocal:vocal@127.0.0.1:1/vocal" -s "$SQLDIR" 2>&1)" || RC=$?
assert_eq 1 "$RC" "unreachable database: exit 1"
assert_contains "$OUT" "cannot connect to the database" "unreachable database: says why"

# --- first run applies 001, second applies nothing ---
migrate -s "$SQLDIR" --status
assert_contains "$OUT" "001_core.sql" "status before: lists 001_core.sql"
assert_contains "$OUT" "pending" "status before: 001_core.sql pending"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" "status changes nothing"
# every file of provisioning/sql is applied; the newest number is the version
# (numbers may have gaps while migrations land from parallel branches)
COUNT=$(find "$SQLDIR" -name '[0-9]*.sql' | wc -l)
LATEST=$(find "$SQLDIR" -name '[0-9]*.sql' -printf '%f\n' | sed 's/_.*//' | sort -n | tail -1 | sed 's/^0*//')
t0=$(date +%s%N)
migrate -s "$SQLDIR"
t1=$(date +%s%N)
assert_eq 0 "$RC" "first run: exit 0"
assert_contains "$OUT" "applied 001_core.sql" "first run applies 001_core.sql"
assert_contains "$OUT" "schema version $LATEST ($COUNT applied now)" "first run: schema version $LATEST"
echo "# first run took $(( (t1 - t0) / 1000000 )) ms"
assert_eq "1|001_core.sql|$(sha256sum "$SQLDIR/001_core.sql" | cut -c1-64)" \
    "$(app_sql -c "SELECT version, name, sha256 FROM schema_migrations WHERE version = 1")" "schema_migrations records version, name, SHA-256"
migrate -s "$SQLDIR"
assert_eq 0 "$RC" "second run: exit 0"
assert_eq "schema version $LATEST (0 applied now)" "$OUT" "second run applies nothing"
migrate -s "$SQLDIR" --status
assert_eq 0 "$RC" "status after: exit 0"
assert_contains "$OUT" "applied 20" "status after: 001 applied with its time"
assert_contains "$OUT" "schema version $LATEST (0 pending)" "status after: nothing pending"

# --- refusals: nothing is applied and the database is unchanged ---
# On a database of its own holding 001 alone, so that a "002" here is next.
"$PSQL" -X -q -c "CREATE DATABASE refusals OWNER vocal"
main_uri=$VOCAL_DB_URI
VOCAL_DB_URI="postgresql://vocal:vocal@127.0.0.1:$PGPORT/refusals"
work="$HARNESS_DIR/sql"
mkdir -p "$work"
cp "$SQLDIR/001_core.sql" "$work/"
migrate -s "$work"
assert_eq 0 "$RC" "refusals database: 001 applied"
before="$(schema_dump)"
echo "CREATE TABLE should_not_exist (id int);" >"$work/002_next.sql"
echo "-- an edit" >>"$work/001_core.sql"
migrate -s "$work"
assert_eq 1 "$RC" "edited applied file: exit 1"
assert_contains "$OUT" "001_core.sql changed after it was applied" "edited applied file: clear error"
assert_contains "$OUT" "never edit an applied migration, add a new file" "edited applied file: says what to do"
assert_eq "$before" "$(schema_dump)" "edited applied file: nothing applied, not even 002"
migrate -s "$work" --status
assert_eq 1 "$RC" "status with an edited file: exit 1"
assert_contains "$OUT" "ERROR: 001_core.sql changed" "status shows the edited file"

rm "$work/001_core.sql"
migrate -s "$work"
assert_eq 1 "$RC" "missing applied file: exit 1"
assert_contains "$OUT" "001_core.sql was applied (version 1) but is missing from $work" "missing applied file: clear error"
assert_eq "$before" "$(schema_dump)" "missing applied file: nothing applied"

cp "$SQLDIR/001_core.sql" "$work/"
mv "$work/002_next.sql" "$work/2-next.sql"
migrate -s "$work"
assert_eq 1 "$RC" "badly named file: exit 1"
assert_contains "$OUT" "2-next.sql: not a migration name" "badly named file: clear error"
rm "$work/2-next.sql"

# A failing migration rolls back whole, with the file and line of the error.
printf 'CREATE TABLE half_done (id int);\nSELECT 1;\nCREATE TABLE broken (id nosuchtype);\n' >"$work/002_bad.sql"
migrate -s "$work"
assert_eq 1 "$RC" "failing migration: exit 1"
assert_contains "$OUT" '002_bad.sql: line 3: type "nosuchtype" does not exist' "failing migration: file, line and reason"
assert_eq "$before" "$(schema_dump)" "failing migration: rolled back whole (no half_done table, no row)"
printf 'CREATE TABLE t2 (id int);\nCOMMIT;\n' >"$work/002_bad.sql"
migrate -s "$work"
assert_eq 1 "$RC" "migration with its own COMMIT: refused"
assert_contains "$OUT" "no BEGIN/COMMIT/ROLLBACK in migration files" "own COMMIT: says why"
rm "$work/002_bad.sql"

VOCAL_DB_URI=$main_uri

# --- two runs at once on a fresh database: both succeed, one applies ---
app_sql -c "CREATE DATABASE race" 2>/dev/null || "$PSQL" -X -q -c "CREATE DATABASE race OWNER vocal"
race_uri="postgresql://vocal:vocal@127.0.0.1:$PGPORT/race"
# A slow extra migration makes the window wide: the second waits on the lock.
cp "$SQLDIR/001_core.sql" "$work/"
echo "SELECT pg_sleep(0.5);" >"$work/002_slow.sql"
"$MIGRATE" -d "$race_uri" -s "$work" >"$HARNESS_DIR/race1.out" 2>&1 & p1=$!
"$MIGRATE" -d "$race_uri" -s "$work" >"$HARNESS_DIR/race2.out" 2>&1 & p2=$!
rc1=0; wait "$p1" || rc1=$?
rc2=0; wait "$p2" || rc2=$?
assert_eq "0 0" "$rc1 $rc2" "two concurrent runs both succeed"
assert_eq 2 "$(cat "$HARNESS_DIR/race1.out" "$HARNESS_DIR/race2.out" | grep -c '^applied ')" \
    "two concurrent runs: each file applied once in all"
assert_contains "$(cat "$HARNESS_DIR/race1.out" "$HARNESS_DIR/race2.out")" "schema version 2 (0 applied now)" \
    "two concurrent runs: the second found nothing to do"
assert_eq "1,2" "$("$PSQL" -X -At "$race_uri" -c "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations")" \
    "two concurrent runs: versions 1 and 2 recorded once"

# --- the schema's constraints ---
# refused DESC SQL: the statement must fail with a constraint error.
refused() {
    local desc="$1" sql="$2" out rc=0
    out="$(app_sql -c "$sql" 2>&1)" || rc=$?
    if [[ $rc == 0 ]]; then fail "$desc: accepted"; fi
    if [[ "$out" != *violates* && "$out" != *"invalid regular expression"* ]]; then
        fail "$desc: failed for another reason: $out"
    fi
    ok "$desc"
}
app_sql -c "INSERT INTO domains (name, realm) VALUES ('example.test', 'example.test')"
app_sql -c "INSERT INTO server_groups (name, kind) VALUES ('ua-marshals', 'marshal_ua')"
app_sql -c "INSERT INTO subscribers (domain_id, user_part, auth_kind, ha1_md5, ha1_sha256, marshal_group_id)
    VALUES (1, 'alice', 'digest', md5('alice:example.test:secret'),
            encode(sha256('alice:example.test:secret'), 'hex'), 1)"
ok "a valid domain, marshal group and digest subscriber are accepted"
refused "upper-case domain refused" "INSERT INTO domains (name, realm) VALUES ('Example.COM', 'x')"
refused "domain with an empty label refused" "INSERT INTO domains (name, realm) VALUES ('a..b', 'x')"
refused "user part with a blank refused" "INSERT INTO subscribers (domain_id, user_part) VALUES (1, 'bad user')"
refused "user part with a '@' refused" "INSERT INTO subscribers (domain_id, user_part) VALUES (1, 'a@b')"
refused "duplicate AOR refused" "INSERT INTO subscribers (domain_id, user_part) VALUES (1, 'alice')"
refused "MD5 HA1 of the wrong length refused" "INSERT INTO subscribers (domain_id, user_part, ha1_md5) VALUES (1, 'bob', repeat('a', 31))"
refused "SHA-256 HA1 of the wrong length refused" "INSERT INTO subscribers (domain_id, user_part, ha1_sha256) VALUES (1, 'bob', md5('x'))"
refused "upper-case HA1 refused" "INSERT INTO subscribers (domain_id, user_part, ha1_md5) VALUES (1, 'bob', upper(md5('x')))"
refused "unknown auth kind refused" "INSERT INTO subscribers (domain_id, user_part, auth_kind) VALUES (1, 'bob', 'password')"
app_sql -c "INSERT INTO subscribers (domain_id, user_part, auth_kind) VALUES (1, '%2Bbob.o''hara', 'ip')"
bob="$(app_sql -c "SELECT id FROM subscribers WHERE user_part = '%2Bbob.o''hara'")"
app_sql -c "INSERT INTO subscriber_acl (subscriber_id, network) VALUES ($bob, '192.0.2.0/24')"
assert_eq "$bob" "$(app_sql -c "SELECT subscriber_id FROM subscriber_acl WHERE network >>= '192.0.2.77'")" \
    "escaped user part accepted; IP access list finds the subscriber by address"
refused "DID not in E.164 refused" "INSERT INTO dids (subscriber_id, number) VALUES (1, '0049301234')"
app_sql -c "INSERT INTO dids (subscriber_id, number) VALUES (1, '+493012345')"
refused "duplicate DID refused" "INSERT INTO dids (subscriber_id, number) VALUES ($bob, '+493012345')"
app_sql -c "INSERT INTO aliases (subscriber_id, domain_id, user_part) VALUES (1, 1, 'al')"
refused "duplicate alias refused" "INSERT INTO aliases (subscriber_id, domain_id, user_part) VALUES ($bob, 1, 'al')"

app_sql -c "INSERT INTO dial_plans (name) VALUES ('pstn')"
app_sql -c "INSERT INTO dial_plan_entries (dial_plan_id, position, pattern, contact_template)
    VALUES (1, 10, '^\+?49([0-9]+)\$', 'sip:0\1@gw.example.test;user=phone')"
ok "a valid dial-plan entry is accepted"
refused "bad dial-plan regular expression refused at insert" \
    "INSERT INTO dial_plan_entries (dial_plan_id, position, pattern, contact_template) VALUES (1, 20, '^(unclosed', 'sip:x@gw')"
refused "dial-plan template that is not a SIP/tel URI refused" \
    "INSERT INTO dial_plan_entries (dial_plan_id, position, pattern, contact_template) VALUES (1, 20, '^1', 'http://x')"
refused "two dial-plan entries at one position refused" \
    "INSERT INTO dial_plan_entries (dial_plan_id, position, pattern, contact_template) VALUES (1, 10, '^1', 'sip:x@gw')"

binding="INSERT INTO location_bindings (subscriber_id, contact, q, expires, expires_at, call_id, cseq, path, instance_id, reg_id)"
app_sql -c "$binding VALUES (1, 'sip:alice@192.0.2.1:5060', 0.5, 3600, now() + interval '3600 s', 'c1@x', 1,
    ARRAY['<sip:edge.example.test;lr>'], '<urn:uuid:00000000-0000-1000-8000-000a95a0e128>', 1)"
app_sql -c "$binding VALUES (1, 'sip:alice@192.0.2.1:5060', 1, 3600, now() + interval '3600 s', 'c1@x', 1,
    '{}', '<urn:uuid:00000000-0000-1000-8000-000a95a0e128>', 2)"
app_sql -c "$binding VALUES (1, 'sip:alice@192.0.2.9', 1, 60, now() + interval '60 s', 'c2@x', 7, '{}', NULL, NULL)"
ok "bindings with Path, +sip.instance and reg-id accepted (two RFC 5626 flows may share a Contact)"
refused "duplicate AOR binding (same Contact) refused" \
    "$binding VALUES (1, 'sip:alice@192.0.2.9', 1, 60, now() + interval '60 s', 'c3@x', 1, '{}', NULL, NULL)"
refused "duplicate RFC 5626 flow (instance, reg-id) refused" \
    "$binding VALUES (1, 'sip:alice@192.0.2.2', 1, 60, now() + interval '60 s', 'c3@x', 1, '{}', '<urn:uuid:00000000-0000-1000-8000-000a95a0e128>', 1)"
refused "q above 1 refused" "$binding VALUES (1, 'sip:alice@192.0.2.3', 1.5, 60, now(), 'c', 1, '{}', NULL, NULL)"
refused "negative q refused" "$binding VALUES (1, 'sip:alice@192.0.2.3', -0.1, 60, now(), 'c', 1, '{}', NULL, NULL)"
refused "expires 0 refused" "$binding VALUES (1, 'sip:alice@192.0.2.3', 1, 0, now(), 'c', 1, '{}', NULL, NULL)"
refused "reg-id without +sip.instance refused" "$binding VALUES (1, 'sip:alice@192.0.2.3', 1, 60, now(), 'c', 1, '{}', NULL, 1)"
refused "CSeq of 2**31 refused" "$binding VALUES (1, 'sip:alice@192.0.2.3', 1, 60, now(), 'c', 2147483648, '{}', NULL, NULL)"
refused "deleting a domain with subscribers refused" "DELETE FROM domains WHERE id = 1"
plan="$(app_sql -c "EXPLAIN SELECT id FROM location_bindings WHERE expires_at <= now()" -c "SET enable_seqscan = off" \
    -c "EXPLAIN SELECT id FROM location_bindings WHERE expires_at <= now()")"
assert_contains "$plan" "location_bindings_expires_idx" "the expiry sweep can use its index"

# --- NOTIFY on vocal_changes ---
out="$(app_sql -c "LISTEN vocal_changes" \
    -c "INSERT INTO subscribers (domain_id, user_part) VALUES (1, 'carol')" -c "SELECT 1")"
carol="$(app_sql -c "SELECT id FROM subscribers WHERE user_part = 'carol'")"
assert_contains "$out" "notification \"vocal_changes\" with payload \"{\"table\" : \"subscribers\", \"op\" : \"INSERT\", \"id\" : $carol, \"domain_id\" : 1}\"" \
    "inserting a subscriber notifies vocal_changes with table, op and id"
# Across sessions: the listener is fed through a fifo (as in harness_postgres_test.sh).
mkfifo "$HARNESS_DIR/listener.in"
PGAPPNAME=migrate-listener "$PSQL" -X -At -v ON_ERROR_STOP=1 "$VOCAL_DB_URI" \
    <"$HARNESS_DIR/listener.in" >"$HARNESS_DIR/listener.out" 2>&1 &
listener=$!
harness_on_exit harness_kill_pid "$listener"
exec 3>"$HARNESS_DIR/listener.in"
echo "LISTEN vocal_changes; LISTEN vocal_bindings;" >&3
listening() {
    [[ "$("$PSQL" -X -At -c "SELECT count(*) FROM pg_stat_activity
        WHERE application_name = 'migrate-listener' AND state = 'idle' AND query ILIKE '%LISTEN%'")" == 1 ]]
}
harness_wait_for "listener session" 10 listening
gone="$(app_sql -c "SELECT id FROM location_bindings WHERE call_id = 'c2@x'")"
app_sql -c "UPDATE subscribers SET display_name = 'Carol' WHERE user_part = 'carol'" \
    -c "DELETE FROM location_bindings WHERE call_id = 'c2@x'" \
    -c "UPDATE dial_plan_entries SET position = 5"
echo "SELECT 'after';" >&3
exec 3>&-
wait "$listener"
got="$(cat "$HARNESS_DIR/listener.out")"
assert_contains "$got" "{\"table\" : \"subscribers\", \"op\" : \"UPDATE\", \"id\" : $carol, \"domain_id\" : 1}" "another session sees the subscriber update"
assert_contains "$got" "{\"table\" : \"location_bindings\", \"op\" : \"DELETE\", \"id\" : $gone, \"subscriber_id\" : 1, \"origin\" : \"\"}" "another session sees the binding removal with its AOR's subscriber and who made it (002_location_sync)"
assert_contains "$got" '{"table" : "dial_plan_entries", "op" : "UPDATE", "id" : 1, "dial_plan_id" : 1}' "another session sees the dial-plan change"
assert_eq t "$(app_sql -c "SELECT updated_at > created_at FROM subscribers WHERE user_part = 'carol'")" "an update moves updated_at"
