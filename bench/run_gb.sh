#!/usr/bin/env bash
# GB/T 28181 signalling benchmark (bench/gb_bench.mjs): devices registered with digest and keeping
# alive, stepping up; authenticated REGISTERs/s, keepalive p50/p99, false offline, RSS per device,
# against a bare UDP echo of the same messages at the same rate (ratio), all in one run.
#
#   bash bench/run_gb.sh [--steps 1000,10000,50000,100000] [--seconds 20] [--period 60] [--procs 4]
#
# The simulated devices run in --procs child processes (default 4). UDP needs one descriptor per
# socket only, but the open-file limit is raised to its hard limit all the same (and printed).
#
# Needs build/mingchu (bash scripts/build.sh). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/mingchu ]] || { echo "build/mingchu missing: run bash scripts/build.sh" >&2; exit 1; }
[[ -d tests/node_modules ]] || (cd tests && npm ci --no-audit --no-fund >/dev/null)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "# ulimit -n $(ulimit -n)"
exec node bench/gb_bench.mjs "$@"
