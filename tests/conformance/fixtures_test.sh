#!/usr/bin/env bash
# The torture messages are byte-exact fixtures: a checkout that rewrote a
# line ending or a NUL would make the conformance tests meaningless.
set -euo pipefail
cd "$(dirname "$0")"
for dir in rfc4475 rfc5118; do
    (cd "$dir" && sha256sum --quiet -c SHA256SUMS)
    echo "ok - $dir fixtures match SHA256SUMS"
done
