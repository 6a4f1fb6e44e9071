#!/usr/bin/env bash
# The algorithm server's benchmark (docs/vision.md):
#   1. build/bench/bench_vision: analysed camera-frames per second on one core with motion
#      gating on a mostly-still mix, against the detector on every frame and the bare OpenCV
#      forward of the same model, all in one run (ratios);
#   2. bench/vision_latency.mjs: frame -> stored alert latency through the real server (RTSP
#      camera, media core, pipeline, ingest commit), p50/p99 over every stored capture.
#
#   bash bench/run_vision.sh [--seconds 8] [--cameras 12] [--latency-seconds 60]
#
# Needs build/ (bash scripts/build.sh) and the model (bash scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=8 cameras=12 lat=60
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --cameras) cameras=$2; shift 2 ;;
    --latency-seconds) lat=$2; shift 2 ;;
    *) echo "run_vision.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x build/bench/bench_vision && -x build/mingchu ]] || { echo "build/ missing: run bash scripts/build.sh" >&2; exit 1; }
[[ -d tests/node_modules ]] || (cd tests && npm ci --no-audit --no-fund >/dev/null)
echo "== per core: gated vs every frame vs bare forward"
build/bench/bench_vision --dataset tests/fixtures/vision/eval --seconds "$seconds" --cameras "$cameras"
echo
echo "== frame -> stored alert latency (real server, RTSP camera)"
node bench/vision_latency.mjs --seconds "$lat"
