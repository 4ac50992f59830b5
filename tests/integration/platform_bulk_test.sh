#!/usr/bin/env bash
# A bulk import while the platform runs: provd (on the platform's
# PostgreSQL) imports BULK_ROWS (default 20,000) subscribers in one
# transaction, whose commit sends one NOTIFY per row to redirectd, both
# marshals and featured. Their stores must coalesce them into batched
# reloads (common/store.c: one query per 1,000 subscribers, not one per
# NOTIFY, which filled the pgq queue and starved redirectd's registration
# write-through), and featured its feature reloads (feature/load.c):
#
#   - the subscriber from the end of the file registers through the UA
#     marshal with its imported password within a few seconds (the marshal
#     authenticates it, redirectd accepts it);
#   - every daemon's log shows all BULK_ROWS subscribers reloaded in at
#     most BULK_ROWS/1000 + 20 queries (the batches' log lines);
#   - registrations made during and right after the import are written
#     through (rows in location_bindings) without waiting 1 s behind the
#     reloads (redirect/persist.c then answers from memory), nothing
#     refused.
#
# Prints the time from the import's answer (its commit) until the last
# daemon has every row (the daemons' "every changed subscriber reloaded"
# log lines). BULK_BEFORE=1 skips the batch-count checks (to
# time binaries without batching, PLATFORM_BIN=...).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/platform.sh
. tests/harness/platform.sh
# shellcheck source=tests/harness/provd.sh
. tests/harness/provd.sh
harness_init
SIPP_TIMEOUT=10s
ROWS=${BULK_ROWS:-20000}
PLATFORM_FEATURES=1 platform_start

# provd on the platform's PostgreSQL (provd_setup would start another)
command -v curl >/dev/null || fail "curl missing (make deps)"
[[ -x "$PROVD" ]] || make --no-print-directory -s bin/provd >&2
TOKEN="test-token-$RANDOM$RANDOM"
CONF="$HARNESS_DIR/provd.conf"
cat >"$CONF" <<CONF
listen = 127.0.0.1:$(harness_free_port tcp)
migrations = "$PWD/provisioning/sql"
db.conninfo = "$VOCAL_DB_URI"
api.token_sha256 = $(printf '%s' "$TOKEN" | sha256sum | cut -c1-64)
CONF
provd_start "$CONF" "$HARNESS_DIR/provd.log"

F="$HARNESS_DIR/bulk.csv"
{
    printf 'user_part,domain,display_name,password,auth_kind\r\n'
    seq 700000 $((700000 + ROWS - 1)) | awk '{printf "%s,vocal.test,Bulk %s,pw%s,digest\r\n", $1, $1, $1}'
} >"$F"
LAST=$((700000 + ROWS - 1))
CALLEE=$(harness_free_port udp)

# sum_log FILE FIELD: the sum of N (FIELD 1) or M (FIELD 2) over the
# lines "N changed subscribers, reloading in M queries" of FILE
sum_log() {
    sed -n 's/.*store: \([0-9]*\) changed subscribers, reloading in \([0-9]*\) queries.*/\1 \2/p' "$1" |
        awk -v f="$2" '{s += $f} END {print s + 0}'
}
# done_sum FILE PREFIX: the subscribers of the lines "PREFIX: every changed
# subscriber reloaded (N)" (logged when a daemon's batches are all answered)
done_sum() {
    sed -n "s/.*$2: every changed subscriber reloaded (\([0-9]*\)).*/\1/p" "$1" | awk '{s += $1} END {print s + 0}'
}
# done_ms FILE PREFIX: when the last such line was logged, in ms since T0
done_ms() {
    local t
    t=$(grep "$2: every changed subscriber reloaded" "$1" | tail -1 | cut -d' ' -f1)
    echo $((($(date -d "$t" +%s%N) - T0) / 1000000))
}
all_reloaded() {
    local n
    for n in redirect ua gw feature; do
        (($(done_sum "$(platform_log "$n")" store) >= ROWS)) || return 1
    done
    (($(done_sum "$(platform_log feature)" features) >= ROWS))
}

curl -s -o "$HARNESS_DIR/import.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: text/csv' --data-binary "@$F" "$BASE/api/v1/subscribers/import" \
    >"$HARNESS_DIR/import.code" &
IMPORT=$!
platform_register during 1002 "$CALLEE"
wait "$IMPORT"
T0=$(date +%s%N)
assert_eq 200 "$(cat "$HARNESS_DIR/import.code")" "import of $ROWS subscribers: 200"
assert_eq "$ROWS" "$(jq -r .created "$HARNESS_DIR/import.json")" "every row created"
# right after the commit, while the daemons reload: written through
platform_register after 1003 "$CALLEE"
T_REG=$(date +%s%N)

if [[ -z "${BULK_BEFORE:-}" ]]; then
    harness_wait_for "every daemon reloaded $ROWS subscribers" 30 all_reloaded ||
        { platform_show_logs; fail "not every daemon reloaded the import"; }
    last=0
    for n in redirect ua gw feature; do
        ms=$(done_ms "$(platform_log "$n")" store)
        echo "# $n: every imported subscriber applied $ms ms after the commit"
        ((ms > last)) && last=$ms
    done
    ms=$(done_ms "$(platform_log feature)" features)
    echo "# feature: every imported subscriber's features applied $ms ms after the commit"
    ((ms > last)) && last=$ms
    echo "# the last daemon had every row $last ms after the commit"
fi
# A 401 fails sipp_run (the subshell) and the next attempt comes 2 s
# later: the marshal bans a user after 10 failures.
register_last() {
    (platform_register "last-$RANDOM" "$LAST" "$CALLEE") >/dev/null 2>&1 || { sleep 2; return 1; }
}
harness_wait_for "$LAST registers" 30 register_last ||
    { platform_show_logs; fail "the last imported subscriber cannot register"; }
T_LAST=$(date +%s%N)
ok "the last imported subscriber ($LAST) registers with its imported password"
echo "# $ROWS rows: register right after the commit took $(((T_REG - T0) / 1000000)) ms;" \
    "the last row registered $(((T_LAST - T0) / 1000000)) ms after the commit"

assert_eq "1" "$(platform_sql -c "SELECT count(*) FROM location_bindings b JOIN subscribers s ON s.id = b.subscriber_id WHERE s.user_part = '1002'")" \
    "the registration during the import is written through"
assert_eq "1" "$(platform_sql -c "SELECT count(*) FROM location_bindings b JOIN subscribers s ON s.id = b.subscriber_id WHERE s.user_part = '1003'")" \
    "the registration right after the commit is written through"

if [[ -n "${BULK_BEFORE:-}" ]]; then
    sleep 5 # let the per-row reloads finish before counting what was refused
    for n in redirect ua gw feature; do
        log=$(platform_log "$n")
        t=$(grep "store: loaded" "$log" | tail -1 | cut -d' ' -f1)
        echo "# $n: $(grep -c "cannot reload" "$log" || true) reloads refused," \
            "$(grep -c "store: loaded" "$log" || true) full loads, the last" \
            "$((($(date -d "$t" +%s%N) - T0) / 1000000)) ms after the commit;" \
            "$(grep -c "did not answer" "$log" || true) writes answered from memory"
    done
else
    for n in redirect ua gw feature; do
        log=$(platform_log "$n")
        subs=$(sum_log "$log" 1)
        queries=$(sum_log "$log" 2)
        echo "# $n: $subs subscribers reloaded in $queries queries"
        assert_eq "$ROWS" "$subs" "$n: every imported subscriber reloaded once"
        ((queries <= ROWS / 1000 + 20)) || fail "$n: $queries queries for $ROWS subscribers"
        ok "$n: $queries batched queries, not $ROWS"
        if grep -q "cannot reload\|full reload instead\|refused" "$log"; then
            platform_show_logs
            fail "$n refused work during the import"
        fi
        ok "$n: nothing refused"
    done
    # persist.c waits 1 s for a write before answering from memory: the
    # reloads must not hold redirectd's writes that long
    if grep -q "did not answer" "$(platform_log redirect)"; then
        platform_show_logs
        fail "redirectd's write-through waited behind the reloads"
    fi
    ok "redirectd's write-through never waited 1 s behind the reloads"
    fl=$(platform_log feature)
    assert_contains "$(cat "$fl")" "features: " "featured batches its feature reloads"
    fsubs=$(sed -n 's/.*features: \([0-9]*\) changed subscribers.*/\1/p' "$fl" | awk '{s += $1} END {print s + 0}')
    assert_eq "$ROWS" "$fsubs" "featured: every imported subscriber's features reloaded"
fi
