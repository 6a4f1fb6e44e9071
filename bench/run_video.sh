#!/usr/bin/env bash
# The media core's benchmark (bench/video_bench.mjs): CPU per recorded stream against
# `ffmpeg -c copy` processes doing the same work, time to first live frame, RSS per stream.
#
#   bash bench/run_video.sh [--steps 4,16,48] [--seconds 30] [--ttff 40]
#
# Needs build/mingchu (bash scripts/build.sh) and the packages of scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/mingchu ]] || { echo "build/mingchu missing: run bash scripts/build.sh" >&2; exit 1; }
[[ -d tests/node_modules ]] || (cd tests && npm ci --no-audit --no-fund >/dev/null)
exec node bench/video_bench.mjs "$@"
