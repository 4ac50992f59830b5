#!/usr/bin/env bash
# provd's benchmark (issue 5): requests per second and CPU per request for
# a subscriber read and a subscriber create (wrk on loopback, the bearer
# token), the time of a bulk import of 100,000 subscribers with passwords
# (POST /subscribers/import, one CSV), and the server time of subscriber
# list pages with 1,000,000 subscribers in the table (first page, a page
# deep in the table by its keyset cursor, searches).
#
#   provd_bench.sh        (make bench; figures in build/bench/provd.txt)
#
# CPU is summed over provd and every PostgreSQL process (/proc utime +
# stime) across each run, divided by the requests wrk completed: on this
# 2-core machine wrk shares the CPUs, so read the CPU per request more
# than the rates. A benchmark, never a test: nothing here fails on a figure.
# Knobs: DURATION (s per wrk run, 10), CONNS (wrk connections, 8),
# N_LIST (subscribers for the list pages, 1000000), N_IMPORT (rows of the
# bulk import, 100000).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
. "$ROOT/tests/harness/postgres.sh"

: "${DURATION:=10}"
: "${CONNS:=8}"
: "${N_LIST:=1000000}"
: "${N_IMPORT:=100000}"
PROVD="$ROOT/bin/provd"
OUT="$ROOT/build/bench/provd.txt"
for c in wrk curl jq; do command -v "$c" >/dev/null || { echo "provd_bench: $c missing (make deps)" >&2; exit 1; }; done
[[ -x "$PROVD" ]] || make --no-print-directory -s -C "$ROOT" bin/provd

harness_init
PG_SERVER_ARGS="-c fsync=on -c shared_buffers=128MB -c max_connections=200" pg_start
PSQL="$PG_BINDIR/psql"
app_sql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$VOCAL_DB_URI" "$@"; }

PORT=$(harness_free_port tcp)
TOKEN="bench-$RANDOM$RANDOM$RANDOM"
cat >"$HARNESS_DIR/provd.conf" <<CONF
listen = 127.0.0.1:$PORT
migrations = "$ROOT/provisioning/sql"
db.conninfo = "$VOCAL_DB_URI"
api.token_sha256 = $(printf '%s' "$TOKEN" | sha256sum | cut -c1-64)
CONF
"$PROVD" -f "$HARNESS_DIR/provd.conf" >"$HARNESS_DIR/provd.log" 2>&1 &
PROVD_PID=$!
harness_on_exit harness_kill_pid "$PROVD_PID"
BASE="http://127.0.0.1:$PORT"
harness_wait_for "provd" 10 curl -s -o /dev/null "$BASE/api/v1/openapi.json" || { cat "$HARNESS_DIR/provd.log" >&2; exit 1; }

api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
DOMAIN_ID=$(api -X POST --data '{"name":"bench.test","realm":"bench.test"}' "$BASE/api/v1/domains" | jq -r .id)

# CPU ticks of provd and every PostgreSQL process (the postmaster's children)
cpu_ticks() {
    local pids p t=0
    pids="$PROVD_PID $PG_PID $(ps -o pid= --ppid "$PG_PID" | tr '\n' ' ')"
    for p in $pids; do
        [[ -r /proc/$p/stat ]] || continue
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)

# wrk_run NAME LUA: requests/s and CPU microseconds per request
declare -A RATE CPU_US
wrk_run() {
    local name="$1" lua="$2" t0 t1 out reqs rate
    t0=$(cpu_ticks)
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$lua" "$BASE" 2>&1) || { echo "$out" >&2; exit 1; }
    t1=$(cpu_ticks)
    echo "$out" >"$HARNESS_DIR/wrk-$name.txt"
    cp "$HARNESS_DIR/wrk-$name.txt" "$ROOT/build/bench/provd-wrk-$name.txt"
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    rate=$(awk '/^Requests\/sec/ { printf "%d", $2 }' <<<"$out")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "provd_bench: $name: $(grep Non-2xx <<<"$out")" >&2
    fi
    RATE[$name]=$rate
    CPU_US[$name]=$(( (t1 - t0) * 1000000 / HZ / (reqs > 0 ? reqs : 1) ))
}
mkdir -p "$ROOT/build/bench"

# ---- reads: 10,000 subscribers, random ids ----
app_sql -c "INSERT INTO subscribers (domain_id, user_part, display_name)
    SELECT $DOMAIN_ID, 'r' || g, 'Reader ' || g FROM generate_series(1, 10000) g"
read -r LO HI <<<"$(app_sql -F' ' -c "SELECT min(id), max(id) FROM subscribers")"
cat >"$HARNESS_DIR/read.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/v1/subscribers/" .. math.random($LO, $HI))
end
LUA
wrk_run read "$HARNESS_DIR/read.lua"

# ---- creates: unique user parts per wrk thread and request ----
cat >"$HARNESS_DIR/create.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/json"
counter = 0
setup = function(thread) thread:set("tag", tostring(math.random(1, 1e9))) end
request = function()
  counter = counter + 1
  return wrk.format("POST", "/api/v1/subscribers", nil,
    '{"domain_id":$DOMAIN_ID,"user_part":"c' .. tag .. '-' .. counter .. '","display_name":"Bench"}')
end
LUA
wrk_run create "$HARNESS_DIR/create.lua"
CREATED=$(app_sql -c "SELECT count(*) FROM subscribers WHERE user_part LIKE 'c%'")

# ---- bulk import: one CSV of N_IMPORT subscribers with passwords (HA1s) ----
awk -v n="$N_IMPORT" 'BEGIN { print "user_part,domain,display_name,password";
    for (i = 1; i <= n; i++) printf "i%d,bench.test,Imported %d,pw-%d-secret\n", i, i, i }' >"$HARNESS_DIR/import.csv"
IMPORT_BYTES=$(stat -c %s "$HARNESS_DIR/import.csv")
t0=$(date +%s.%N)
IMPORT_OUT=$(curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' \
    --data-binary "@$HARNESS_DIR/import.csv" "$BASE/api/v1/subscribers/import")
IMPORT_S=$(echo "$(date +%s.%N) - $t0" | bc)
IMPORTED=$(jq -r .created <<<"$IMPORT_OUT")
[[ "$IMPORTED" == "$N_IMPORT" ]] || echo "provd_bench: import: $IMPORT_OUT" >&2
IMPORT_RATE=$(echo "$IMPORTED / $IMPORT_S" | bc)

# ---- list pages with N_LIST subscribers ----
t0=$(date +%s.%N)
app_sql -c "INSERT INTO subscribers (domain_id, user_part, display_name)
    SELECT $DOMAIN_ID, 'l' || g, 'Lister ' || g FROM generate_series(1, $N_LIST) g"
app_sql -c "ANALYZE subscribers"
FILL_S=$(echo "$(date +%s.%N) - $t0" | bc)
TOTAL=$(app_sql -c "SELECT count(*) FROM subscribers")
DEEP=$(app_sql -c "SELECT id FROM subscribers ORDER BY id OFFSET $((TOTAL * 9 / 10)) LIMIT 1")

# page_ms QUERY: the median over 21 requests of curl's time to the first
# byte (the server's time plus a loopback round trip), in ms
page_ms() {
    local i
    for i in $(seq 21); do
        curl -s -o /dev/null -w '%{time_starttransfer}\n' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/subscribers?$1"
    done | sort -n | sed -n 11p | awk '{ printf "%.1f", $1 * 1000 }'
}
FIRST=$(page_ms "limit=100")
DEEP_MS=$(page_ms "limit=100&after=$DEEP")
SEARCH_HIT=$(page_ms "limit=100&q=lister%20999")
SEARCH_RARE=$(page_ms "limit=100&q=l999999")
SEARCH_NONE=$(page_ms "limit=100&q=nobody-has-this")

{
    printf '# provd benchmark, %s, %s CPUs shared with wrk; provd %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(git -C "$ROOT" rev-parse --short HEAD)"
    printf '# wrk -t2 -c%s -d%ss, bearer token; CPU = provd + PostgreSQL (fsync on) per request\n' "$CONNS" "$DURATION"
    printf '%-46s | %8s | %12s\n' "operation" "req/s" "CPU us/req"
    printf '%-46s | %8s | %12s\n' "GET /subscribers/{id} (10,000 rows)" "${RATE[read]}" "${CPU_US[read]}"
    printf '%-46s | %8s | %12s\n' "POST /subscribers (a commit each)" "${RATE[create]}" "${CPU_US[create]}"
    printf '# %s subscribers created in %ss\n' "$CREATED" "$DURATION"
    printf '%-46s | %8.2f s  | %8s rows/s\n' "bulk import, $IMPORTED rows with passwords" "$IMPORT_S" "$IMPORT_RATE"
    printf '# one CSV of %s bytes, POST /subscribers/import (HA1s computed, INSERTs of 1000 rows, one transaction)\n' "$IMPORT_BYTES"
    printf '# list pages, %s subscribers in the table (filled in %.1f s by SQL); median of 21 requests, time to first byte\n' "$TOTAL" "$FILL_S"
    printf '%-46s | %8s ms\n' "first page (limit=100)" "$FIRST"
    printf '%-46s | %8s ms\n' "a page 90 % deep (keyset after=)" "$DEEP_MS"
    printf '%-46s | %8s ms\n' "search, many matches (q=lister 999)" "$SEARCH_HIT"
    printf '%-46s | %8s ms\n' "search, one match near the end (q=l999999)" "$SEARCH_RARE"
    printf '%-46s | %8s ms\n' "search, no match (q=nobody-has-this)" "$SEARCH_NONE"
} | tee "$OUT"
