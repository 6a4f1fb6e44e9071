#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the platform with a demo city on
# http://127.0.0.1:8080 (state in ./data). Extra arguments go to `mingchu serve`.
#
#   bash scripts/start.sh [--manual-clock] [...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p data
exec ./build/mingchu serve --demo --listen 127.0.0.1:8080 --data ./data "$@"
