#!/usr/bin/env bash
# The GB/T 28181 cascade's cost on the lower platform (bench/cascade_bench.mjs): CPU with N
# streams forwarded to an upper (pull + PS mux + RTP) against the same node only pulling them,
# and the time to a live answer through the cascade against the direct one.
#
#   bash bench/run_cascade.sh [--streams 4] [--seconds 20]
#
# Needs build/mingchu (bash scripts/build.sh) and the packages of scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/mingchu ]] || { echo "build/mingchu missing: run bash scripts/build.sh" >&2; exit 1; }
[[ -d tests/node_modules ]] || (cd tests && npm ci --no-audit --no-fund >/dev/null)
exec node bench/cascade_bench.mjs "$@"
