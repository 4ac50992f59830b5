#!/usr/bin/env bash
# Runs a list of test programs (cmocka binaries or *_test.sh scripts) as one
# suite: each gets a line "ok - NAME" or "not ok - NAME" with its output on
# failure, and the suite ends with "SUITE: N passed, N failed".
# Exit status: non-zero when any test failed.
set -u
suite=$1
shift
passed=0
failed=0
failed_names=()
for t in "$@"; do
  name=${t#./}
  log=$(mktemp)
  start=$(date +%s)
  if [ "${t##*.}" = sh ]; then
    bash "$t" >"$log" 2>&1
  else
    "$t" >"$log" 2>&1
  fi
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    echo "ok - $suite $name (${secs}s)"
    [ -n "${VERBOSE:-}" ] && sed 's/^/    /' "$log"
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "not ok - $suite $name (exit $rc, ${secs}s)"
    sed 's/^/    /' "$log" | tail -n 80
  fi
  rm -f "$log"
done
echo "$suite: $passed passed, $failed failed"
[ $failed -eq 0 ]
