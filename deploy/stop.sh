#!/usr/bin/env bash
# `make stop`: stops everything `make run` started; harmless when nothing runs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. deploy/lib.sh
daemons_stop
pg_cluster_stop
