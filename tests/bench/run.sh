#!/usr/bin/env bash
# Runs benchmark programs and prints, for each, one table: operation | input
# bytes | ns/op | instructions/op. The table of build/tests/bench/bench_NAME
# is also written to build/bench/NAME.txt (bench_parse: parse.txt).
#
#   run.sh BIN...     (make bench: build/tests/bench/bench_parse)
#
# A benchmark program takes --iterations N, --runs R, --only NAME and
# --list; it prints a header line, then one row per operation: "name
# input_bytes iterations ns/op"; its work is fixed by N and R, and
# --iterations 0 does the setup alone.
#
# ns/op comes from a normal run (best of 5 runs; it depends on the machine
# and its load). instructions/op comes from callgrind, which is repeatable:
# each operation runs BENCH_CG_ITERATIONS times (default 1200) under
# callgrind, and the same run with --iterations 0 (start-up, setup, output)
# is subtracted before dividing.
set -euo pipefail
shopt -s inherit_errexit

if [ $# -lt 1 ]; then
	echo "usage: $0 BENCH_BINARY..." >&2
	exit 2
fi
for bin in "$@"; do
	if [ ! -x "$bin" ]; then
		echo "bench: $bin is not an executable (build it with: make $bin)" >&2
		exit 2
	fi
done
if ! command -v valgrind >/dev/null; then
	echo "bench: valgrind is needed for instruction counts (make deps installs it)" >&2
	exit 1
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out_dir=$root/build/bench
cg_iterations=${BENCH_CG_ITERATIONS:-1200}
mkdir -p "$out_dir"

# Instructions executed by BIN for one operation and an iteration count.
instructions() {
	local bin=$1 op=$2 iterations=$3 log n
	log=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$bin" --only "$op" --iterations "$iterations" --runs 1 2>&1 >/dev/null) || {
		echo "bench: callgrind run of $bin --only $op failed:" >&2
		echo "$log" | tail -n 20 >&2
		return 1
	}
	n=$(echo "$log" | sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p')
	if [ -z "$n" ]; then
		echo "bench: no 'Collected' total in callgrind's output for $op" >&2
		return 1
	fi
	echo "$n"
}

for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#bench_}
	out=$out_dir/$name.txt

	echo "bench: timing $bin (best of 5 runs)"
	timing=$("$bin")
	echo "bench: counting instructions with callgrind ($cg_iterations iterations per operation)"
	table=$(
		printf '%-26s | %11s | %9s | %15s\n' operation "input bytes" ns/op instructions/op
		printf '%s\n' "---------------------------+-------------+-----------+----------------"
		# rows of the timing run: name input_bytes iterations ns/op
		echo "$timing" | tail -n +2 | while read -r op bytes _ ns; do
			base=$(instructions "$bin" "$op" 0)
			full=$(instructions "$bin" "$op" "$cg_iterations")
			per_op=$(awk -v f="$full" -v b="$base" -v n="$cg_iterations" \
				'BEGIN { printf "%.1f", (f - b) / n }')
			printf '%-26s | %11s | %9s | %15s\n' "$op" "$bytes" "$ns" "$per_op"
		done
	)

	{
		echo "# $name benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), $(nproc) CPUs"
		echo "# ns/op: best of 5 runs of $(echo "$timing" | awk 'NR == 2 { print $3 }') iterations;"
		echo "# instructions/op: callgrind, $cg_iterations iterations minus a 0-iteration baseline"
		echo "$table"
	} >"$out"
	echo "$table"
	echo "bench: table written to ${out#"$root"/}"
done
