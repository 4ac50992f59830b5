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
  # the reference of the issue 4 benchmark (make bench-race)
  kamailio kamailio-postgres-modules
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
