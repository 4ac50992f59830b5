#!/usr/bin/env bash
# Installs the Debian 12 packages that the platform and its tests need.
# Idempotent and quick when everything is already there: it asks dpkg first
# and runs apt-get only for what is missing.
set -euo pipefail

packages=(
  # build
  make gcc clang libclang-rt-14-dev pkg-config
  # libraries the platform links
  libpq-dev libssl-dev libxml2-dev libmicrohttpd-dev libjansson-dev libsnmp-dev
  libradcli-dev protobuf-c-compiler libprotobuf-c-dev libc-ares-dev libsodium-dev
  # tests, benchmarks and the real services they start
  libcmocka-dev valgrind postgresql dnsmasq-base bind9-dnsutils sip-tester sipsak
  baresip-core
  iproute2 procps util-linux openssl curl jq bc
  # the provd benchmark (make bench)
  wrk
  # the web GUI's end-to-end tests: Debian's browser (playwright-core from
  # npm drives it; it downloads no browser of its own) and a font to render
  chromium fonts-dejavu-core
  # the reference of the issue 4 benchmark (make bench-race)
  kamailio kamailio-postgres-modules
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
# Node.js and npm run the GUI tests' driver. A machine that has them from
# elsewhere (NodeSource's nodejs carries its own npm and conflicts with
# Debian's npm package) keeps them; else Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The GUI tests' npm packages (tests/web/package-lock.json), installed again
# only when the lock file changed since the last npm ci.
web_tests=$(cd "$(dirname "$0")/../tests/web" && pwd)
lock_sum=$(sha256sum "$web_tests/package-lock.json" | cut -c1-64)
stamp="$web_tests/node_modules/.vocal-lock-sha256"
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  echo "install-deps: npm ci in tests/web"
  (cd "$web_tests" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$stamp"
fi
