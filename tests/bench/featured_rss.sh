#!/usr/bin/env bash
# featured's resident memory with N subscribers (default 1,000,000) in a
# private PostgreSQL: first with no features (what the provisioning cache,
# shared by every SIP daemon, costs), then with every subscriber's features
# provisioned in the mix of bench_featured_mem (60% voicemail, 20%
# screening + forward on no answer, 10% forward all, 10% call blocking +
# caller-ID blocking). Issue 6's goal: under 1 kB per subscriber.
#
#   bash tests/bench/featured_rss.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/postgres.sh
harness_init
N=${1:-1000000}
make --no-print-directory -s bin/featured bin/vocal-migrate
pg_start
bin/vocal-migrate -d "$VOCAL_DB_URI" -s provisioning/sql >/dev/null
admin() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$_PG_SOCKDIR" -p "$PGPORT" -U postgres -d vocal "$@"; }
PORT=$(harness_free_port udp)
t0=$SECONDS
admin <<SQL
SET session_replication_role = replica; -- no NOTIFY per row for the bulk load
INSERT INTO domains (name, realm) VALUES ('vocal.test', 'vocal.test');
INSERT INTO server_groups (name, kind) VALUES ('features', 'feature');
INSERT INTO servers (group_id, host, port) SELECT id, '127.0.0.1', $PORT FROM server_groups;
INSERT INTO subscribers (domain_id, user_part, display_name, ha1_md5, ha1_sha256, ha1_sha512_256)
    SELECT d.id, (1000000 + i)::text, 'Subscriber ' || i, md5(i::text),
           encode(sha256(i::text::bytea), 'hex'), encode(sha256(('x' || i)::bytea), 'hex')
    FROM generate_series(1, $N) i, domains d;
SQL
echo "== $N subscribers inserted in $((SECONDS - t0)) s"
cat >"$HARNESS_DIR/featured.conf" <<CONF
listen = 127.0.0.1:$PORT
features.secret = $(openssl rand -hex 32)
[db]
conninfo = "$VOCAL_DB_URI"
CONF
LOG=$HARNESS_DIR/featured.log
measure() { # LABEL PATTERN COUNT
    : >"$LOG"
    bin/featured -f "$HARNESS_DIR/featured.conf" >>"$LOG" 2>&1 &
    local pid=$! t=$SECONDS
    harness_wait_for "featured: $1" 600 bash -c "[[ \$(grep -c '$2' '$LOG') -ge $3 ]]" || {
        cat "$LOG" >&2
        exit 1
    }
    sleep 35 # sipd_trim_start gives freed heap back every 30 s
    local rss
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    echo "$1: loaded in $((SECONDS - t)) s, RSS $rss kB = $((rss * 1024 / N)) bytes per subscriber"
    grep -h "features loaded\|store: loaded" "$LOG" | sed 's/^/    /'
    kill -TERM "$pid"
    wait "$pid" || true
    RSS=$rss
}
measure "no features" "store: loaded" 1
base=$RSS
t0=$SECONDS
admin <<SQL
SET session_replication_role = replica;
INSERT INTO subscriber_features (subscriber_id, feature, user_enabled, group_id, settings)
    SELECT s.id, f.feature, true, g.id, f.settings::jsonb
    FROM subscribers s, server_groups g, LATERAL (VALUES
        ('voicemail', '{"on_busy": true, "on_no_answer": true}', s.id % 10 < 6),
        ('call_screening', '{"callers": ["anonymous", "sip:spam@example.com", "+15550000000"]}', s.id % 10 IN (6, 7)),
        ('forward_no_answer', '{"target": "sip:vm@voicemail.vocal.test", "ring_time": 25}', s.id % 10 IN (6, 7)),
        ('forward_all', '{"target": "+1212555' || lpad((s.id % 10000)::text, 4, '0') || '"}', s.id % 10 = 8),
        ('call_blocking', '{"prefixes": ["1900", "1976", "011"]}', s.id % 10 = 9),
        ('caller_id_blocking', '{}', s.id % 10 = 9)) f(feature, settings, used)
    WHERE f.used;
SQL
echo "== features inserted in $((SECONDS - t0)) s"
measure "with features" "features loaded" 1
echo "features alone: $(((RSS - base) * 1024 / N)) bytes per subscriber"
