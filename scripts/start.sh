#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the platform with a demo city on
# http://127.0.0.1:8080 (state in ./data). Extra arguments go to `mingchu serve`.
#
#   bash scripts/start.sh [--manual-clock] [...]
#
# The demo city's cameras show moving pictures from a synthetic RTSP camera on loopback
# (scripts/rtsp_camera.py, GStreamer, rtsp://127.0.0.1:8554), started here and stopped with
# the server. MINGCHU_DEMO_RTSP points the demo cameras elsewhere (loopback only in tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p data
camera_pid=""
if [[ -z ${MINGCHU_DEMO_RTSP:-} ]]; then
  /usr/bin/python3 scripts/rtsp_camera.py --port 8554 > data/demo-camera.log 2>&1 &
  camera_pid=$!
  trap '[[ -n $camera_pid ]] && kill $camera_pid 2>/dev/null || true' EXIT
fi
./build/mingchu serve --demo --listen 127.0.0.1:8080 --data ./data "$@"
