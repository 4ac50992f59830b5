#!/usr/bin/env bash
# CPU cost of proxying a call through the proxy core on loopback: a SIPp
# caller and callee around build/tests/proxy/testproxy over UDP, a fixed
# number of calls at a fixed rate (INVITE, 180, 200, ACK, BYE, 200 with
# Record-Route), and the proxy's user+system CPU time read from /proc
# before and after. Prints CPU microseconds per call and per transaction
# (2 per call: INVITE and BYE; the ACK for the 2xx is stateless) and the
# proxy's resident memory. A benchmark, never a test: the numbers depend on
# the machine.
#
#   proxy_load.sh [CALLS [RATE]]     defaults 6000 calls at 600/s
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
harness_init

calls=${1:-6000}
rate=${2:-600}
PROXY=build/tests/proxy/testproxy
[ -x "$PROXY" ] || { echo "proxy_load: build $PROXY first (make $PROXY)" >&2; exit 2; }

uas_port=$(harness_free_port udp)
proxy_port=$(harness_free_port udp)
uac_port=$(harness_free_port udp)
scen=$HARNESS_DIR/uac.xml
sed 's|@HOLD_MS@|0|' tests/bench/sipp/uac_call.xml.in >"$scen"

"$PROXY" --host 127.0.0.1 -l "udp:127.0.0.1:$proxy_port" \
    --target "bench=sip:bench@127.0.0.1:$uas_port" >"$HARNESS_DIR/proxy.out" 2>"$HARNESS_DIR/proxy.log" &
proxy_pid=$!
harness_on_exit harness_kill_pid "$proxy_pid"
harness_wait_for "testproxy" 5 grep -q '^ready' "$HARNESS_DIR/proxy.out"

(cd "$HARNESS_DIR" && exec sipp -sf "$OLDPWD/tests/bench/sipp/uas_answer.xml" -i 127.0.0.1 \
    -p "$uas_port" -nostdin >/dev/null 2>&1) &
harness_on_exit harness_kill_pid $!

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

before=$(cpu_ticks "$proxy_pid")
start=$(date +%s.%N)
(cd "$HARNESS_DIR" && sipp -sf "$scen" -i 127.0.0.1 -p "$uac_port" -s bench -m "$calls" \
    -r "$rate" -l $((rate * 4)) -nostdin -timeout 120s "127.0.0.1:$proxy_port" \
    -trace_stat -stf stat.csv >"$HARNESS_DIR/uac.out" 2>&1) || true
end=$(date +%s.%N)
after=$(cpu_ticks "$proxy_pid")
rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$proxy_pid/status")

ok_calls=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i }
    END { print $c + 0 }' "$HARNESS_DIR/stat.csv" 2>/dev/null || echo 0)
failed=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "FailedCall(C)") c = i }
    END { print $c + 0 }' "$HARNESS_DIR/stat.csv" 2>/dev/null || echo 0)
awk -v b="$before" -v a="$after" -v hz="$hz" -v n="$ok_calls" -v f="$failed" -v s="$start" -v e="$end" \
    -v rss="$rss_kb" -v rate="$rate" 'BEGIN {
    cpu = (a - b) / hz
    printf "proxy load: %d calls ok, %d failed, offered %d/s, %.1f s wall\n", n, f, rate, e - s
    if (n > 0) {
        printf "proxy CPU: %.2f s in all = %.0f us per call, %.0f us per transaction\n",
            cpu, cpu * 1e6 / n, cpu * 1e6 / (2 * n)
    }
    printf "proxy resident memory after the run: %.1f MiB\n", rss / 1024
}'
[ "$failed" -eq 0 ] || echo "proxy load: some calls failed; see a run with KEEP_TMP=1" >&2
