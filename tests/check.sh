#!/usr/bin/env bash
# The whole test suite, as `make check` runs it: every tier in turn, each
# printing "ok"/"not ok" lines and a "SUITE: N passed, N failed" line. A
# failing tier does not stop the others; the run ends with the totals and
# exits non-zero if anything failed.
#
# Tiers: build (gcc -Werror, and clang), unit + conformance, the same under
# ASan+UBSan, command-line, integration (real PostgreSQL, DNS servers and
# SIP user agents on loopback), the proxy tests again against an ASan build,
# fuzz corpus replay + a short fuzzing run.
set -uo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
jobs=$(nproc 2>/dev/null || echo 2)
total_pass=0
total_fail=0
failed_tiers=()

tier() { # tier NAME MAKE-ARGS...
    local name=$1
    shift
    local log
    log=$(mktemp)
    local start=$SECONDS
    echo "== $name"
    $MAKE --no-print-directory "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    # add up the suite summaries the tier printed
    local p f
    p=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$log" | awk '{s+=$2} END {print s+0}')
    f=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$log" | awk '{s+=$4} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # the tier broke before its tests could report (e.g. a build error)
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    [ "$rc" -eq 0 ] || failed_tiers+=("$name")
    echo "== $name: done in $((SECONDS - start))s (exit $rc)"
    rm -f "$log"
}

# the benchmark programs too, so that they cannot rot unnoticed
tier build -j"$jobs" all build/tests/bench/bench_parse build/tests/bench/bench_txn \
    build/tests/bench/bench_digest build/tests/bench/bench_featured_mem
tier build-clang -j"$jobs" clang-build
tier unit -j"$jobs" unit
tier unit-asan -j"$jobs" unit-asan
tier cli cli
tier integration integration
tier integration-asan integration-asan
tier fuzz -j"$jobs" fuzz-check

echo
if [ ${#failed_tiers[@]} -gt 0 ]; then
    echo "failed tiers: ${failed_tiers[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ ${#failed_tiers[@]} -eq 0 ]
