#!/usr/bin/env bash
# Runs the libFuzzer targets built by the Makefile (build/fuzz/fuzz_*).
#
#   run.sh check BIN...  for each target: replay its committed corpus and its
#                        regressions (tests/fuzz/regressions/NAME/) once, then
#                        fuzz for FUZZ_CHECK_SECONDS (default 15) from a scratch
#                        copy of the corpus in build/fuzz/work/NAME; the
#                        committed corpus is never written to.
#   run.sh long BIN...   fuzz each target for FUZZ_SECONDS (default 300) from
#                        the committed corpus plus build/fuzz/work/NAME, where
#                        new inputs are kept between runs.
#
# Targets run FUZZ_JOBS at a time (default: the number of CPUs). Each gets a
# line "ok - fuzz NAME" or "not ok - fuzz NAME"; crash inputs are written to
# build/fuzz/artifacts/ and their path is printed; logs are in
# build/fuzz/logs/. Ends with "fuzz: N passed, N failed", non-zero on failure.
set -euo pipefail

usage() {
	echo "usage: $0 check|long BIN..." >&2
	exit 2
}
[ $# -ge 2 ] || usage
mode=$1
shift
case $mode in check | long) ;; *) usage ;; esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bins=()
for b in "$@"; do
	if [ ! -x "$b" ]; then
		echo "fuzz: $b is not an executable (build it with: make $b)" >&2
		exit 2
	fi
	bins+=("$(cd "$(dirname "$b")" && pwd)/$(basename "$b")")
done
cd "$root"

check_secs=${FUZZ_CHECK_SECONDS:-15}
long_secs=${FUZZ_SECONDS:-300}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
dict=tests/fuzz/sip.dict
work_root=build/fuzz/work
artifacts=build/fuzz/artifacts
logs=build/fuzz/logs
mkdir -p "$work_root" "$artifacts" "$logs"

# Sanitizer reports must stop the run and show where; keep a caller's choice.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

flags=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "-dict=$dict")

# build/fuzz/fuzz_msg is target "msg": corpus/msg, regressions/msg, work/msg.
target_name() {
	local n
	n=$(basename "$1")
	echo "${n#fuzz_}"
}

# Prints a libFuzzer final statistic (stat::NAME) from a log, or "?".
stat() {
	local v
	v=$(sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$2" | tail -n 1)
	echo "${v:-?}"
}

# Runs each input file of the given directories alone; prints one line per
# input that fails, with the first line of the report.
replay_failures() {
	local bin=$1 name=$2 f why
	shift 2
	while IFS= read -r f; do
		if ! why=$("$bin" -artifact_prefix="$artifacts/$name-replay-" "$f" 2>&1); then
			why=$(echo "$why" | grep -m 1 -E 'property failed|runtime error|ERROR: ' || true)
			echo "      $f: ${why:-failed}"
		fi
	done < <(find "$@" -type f | sort)
}

# Runs one target; writes its result line(s) to $logs/NAME.result. Always
# returns 0: the result file says how it went.
run_target() {
	local bin=$1 name
	name=$(target_name "$bin")
	local corpus=tests/fuzz/corpus/$name regress=tests/fuzz/regressions/$name
	local work=$work_root/$name log=$logs/$name.log result=$logs/$name.result
	local start=$SECONDS status=ok detail=""
	: >"$log"
	rm -f "$logs/$name.replay"
	if [ ! -d "$corpus" ]; then
		echo "not ok - fuzz $name (no corpus at $corpus)" >"$result"
		return 0
	fi
	local -a prefix=("-artifact_prefix=$artifacts/$name-")

	if [ "$mode" = check ]; then
		# 1. replay: every committed input, and every past crash, once
		local -a dirs=("$corpus")
		[ -d "$regress" ] && dirs+=("$regress")
		local n
		n=$(find "${dirs[@]}" -type f | wc -l)
		echo "== replay ${dirs[*]}" >>"$log"
		if ! "$bin" -runs=0 "${flags[@]}" "${prefix[@]}" "${dirs[@]}" >>"$log" 2>&1; then
			status="not ok"
			detail="replay of $n inputs failed"
			# libFuzzer stops at the first failure: name every failing input
			replay_failures "$bin" "$name" "${dirs[@]}" >"$logs/$name.replay"
		else
			detail="replayed $n"
			# 2. fuzz briefly from a scratch copy of the corpus
			rm -rf "$work"
			mkdir -p "$work"
			cp -R "$corpus"/. "$work"/
			echo "== fuzz ${check_secs}s in $work" >>"$log"
			if ! "$bin" -max_total_time="$check_secs" "${flags[@]}" "${prefix[@]}" "$work" \
				>>"$log" 2>&1; then
				status="not ok"
			fi
			detail+=", fuzzed ${check_secs}s: $(stat number_of_executed_units "$log") runs,"
			detail+=" $(stat average_exec_per_sec "$log") exec/s,"
			detail+=" $(stat new_units_added "$log") new"
		fi
	else
		# new inputs go to the first directory: the work dir, not the corpus
		mkdir -p "$work"
		echo "== fuzz ${long_secs}s in $work + $corpus" >>"$log"
		if ! "$bin" -max_total_time="$long_secs" "${flags[@]}" "${prefix[@]}" "$work" "$corpus" \
			>>"$log" 2>&1; then
			status="not ok"
		fi
		detail="fuzzed ${long_secs}s: $(stat number_of_executed_units "$log") runs,"
		detail+=" $(stat average_exec_per_sec "$log") exec/s,"
		detail+=" $(stat new_units_added "$log") new, $(find "$work" -type f | wc -l) in $work"
	fi

	{
		echo "$status - fuzz $name ($detail, $((SECONDS - start))s)"
		if [ -s "$logs/$name.replay" ]; then
			echo "    failing inputs (reproduce: $bin FILE):"
			cat "$logs/$name.replay"
			echo "    log: $log"
		elif [ "$status" != ok ]; then
			local art
			art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
			if [ -n "$art" ]; then
				echo "    crash input: $art"
				echo "    reproduce:   $bin $art"
				echo "    keep it:     mkdir -p $regress && cp $art $regress/"
			fi
			echo "    log: $log (last lines below)"
			grep -v '^#[0-9]' "$log" | tail -n 40 | sed 's/^/    | /'
		fi
	} >"$result"
	return 0
}

if [ "$mode" = check ]; then
	echo "fuzz: check: replay, then ${check_secs}s each, $jobs at a time"
else
	echo "fuzz: long: ${long_secs}s each, $jobs at a time"
fi

# Each target runs in its own process group (job control), so that an
# interrupt can stop the fuzzers and not leave them running.
set -m
declare -A running=() # pid (= process group) -> target name
stop_all() {
	trap - INT TERM
	echo "fuzz: interrupted; stopping the running targets" >&2
	local pid
	for pid in "${!running[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	wait || true
	exit 130
}
trap stop_all INT TERM
passed=0
failed=0
report() {
	local name=$1
	cat "$logs/$name.result"
	if grep -q '^ok ' "$logs/$name.result"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
}
wait_one() {
	local pid
	wait -n -p pid || true
	report "${running[$pid]}"
	unset "running[$pid]"
}
for bin in "${bins[@]}"; do
	while [ ${#running[@]} -ge "$jobs" ]; do
		wait_one
	done
	run_target "$bin" &
	running[$!]=$(target_name "$bin")
done
while [ ${#running[@]} -gt 0 ]; do
	wait_one
done

if [ "$mode" = long ]; then
	echo "fuzz: new inputs are in $work_root/NAME. To keep the ones that add coverage, merge"
	echo "      them into the committed corpus (it only copies what is new), e.g.:"
	echo "        build/fuzz/fuzz_msg -merge=1 -dict=$dict tests/fuzz/corpus/msg $work_root/msg"
	echo "      then review and commit tests/fuzz/corpus/. Copy a crash input into"
	echo "      tests/fuzz/regressions/NAME/ so that every check replays it."
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
