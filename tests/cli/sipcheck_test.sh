#!/usr/bin/env bash
# bin/sipcheck as an operator uses it: structure of valid messages, fault and
# byte offset of invalid ones, exit codes 0 / 1 / 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
harness_init

sipcheck=bin/sipcheck
T4475=tests/conformance/rfc4475
T5118=tests/conformance/rfc5118
[ -x "$sipcheck" ] || fail "$sipcheck is not built (run make)"

run() { # run CMD... ; sets out and rc
    set +e
    out=$("$@" 2>&1)
    rc=$?
    set -e
}

run $sipcheck $T4475/wsinv.dat
assert_eq 0 "$rc" "valid message exits 0"
assert_contains "$out" "wsinv.dat: valid (request, 1001 bytes)" "valid summary line"
assert_contains "$out" "request method=INVITE (known)" "start line printed"
assert_contains "$out" "header v (Via):" "compact header name shown with its long form"
assert_contains "$out" "via SIP/2.0/TCP host=spindle.example.com branch=z9hG4bK9ikj8 (rfc3261)" "Via parsed"
assert_contains "$out" "header MaX-fOrWaRdS (Max-Forwards): 68" "number parsed"
assert_contains "$out" "body 150 bytes type=application/sdp" "body length and type"

run $sipcheck $T4475/trws.dat
assert_eq 1 "$rc" "invalid message exits 1"
assert_contains "$out" "invalid: bad-start-line at byte 45: whitespace at the end of the request line (answer 400)" "fault, offset and answer"

run $sipcheck $T4475/badvers.dat
assert_contains "$out" "(answer 505)" "unsupported version answers 505"

run $sipcheck -q $T4475/wsinv.dat $T4475/ncl.dat
assert_eq 1 "$rc" "any invalid file makes the exit status 1"
assert_contains "$out" "ncl.dat: invalid: bad-content-length" "second file reported"

run $sipcheck -q $T4475/dblreq.dat
assert_contains "$out" "450 trailing bytes ignored" "trailing datagram octets reported"

run $sipcheck -q --stream $T4475/inv2543.dat
assert_eq 1 "$rc" "stream mode requires Content-Length"
assert_contains "$out" "missing-header" "stream mode fault"

run $sipcheck -q --max-size 500 $T4475/wsinv.dat
assert_eq 1 "$rc" "size limit enforced"
assert_contains "$out" "too-large" "size fault named"
assert_contains "$out" "(answer 513)" "too large answers 513"

run $sipcheck $T4475/mpart01.dat
assert_contains "$out" "parts=2" "multipart body split"

run $sipcheck
assert_eq 2 "$rc" "no arguments is a usage error"
run $sipcheck --bogus $T4475/wsinv.dat
assert_eq 2 "$rc" "unknown option is a usage error"
run $sipcheck "$HARNESS_DIR/does-not-exist.sip"
assert_eq 2 "$rc" "unreadable file exits 2"
run $sipcheck --max-size 0 $T4475/wsinv.dat
assert_eq 2 "$rc" "bad option value exits 2"

# Every message the INDEX files call valid passes; every invalid one fails.
for idx in $T4475/INDEX.tsv $T5118/INDEX.tsv; do
    dir=$(dirname "$idx")
    while IFS=$'\t' read -r name _ cls _; do
        [ "$name" = name ] && continue
        run $sipcheck -q "$dir/$name.dat"
        case "$cls" in
        valid | invalid-but-accept) [ "$rc" = 0 ] || fail "$name ($cls) should be valid: $out" ;;
        invalid) [ "$rc" = 1 ] || fail "$name ($cls) should be invalid: $out" ;;
        esac
    done <"$idx"
done
ok "every INDEX message classified as the RFC says"

# Garbage never crashes it: random bytes give exit 1 with a fault, not a signal.
for i in $(seq 1 50); do
    head -c $((RANDOM % 3000)) /dev/urandom >"$HARNESS_DIR/rand.sip"
    run $sipcheck -q "$HARNESS_DIR/rand.sip"
    [ "$rc" -le 1 ] || fail "random input $i: exit $rc: $out"
done
ok "random input handled"
