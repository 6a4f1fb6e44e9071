#!/usr/bin/env bash
# Registry read benchmark: GET /api/v1/units?page_size=50 and GET /api/v1/units/{id} over
# keep-alive HTTP (wrk, 64 connections) with 25 000 units and 75 000 cameras, beside the same
# SQL run directly against the same database in the same invocation. Prints a table and
# the HTTP/DB ratio (the cost of HTTP + auth + scope + JSON).
#   usage: bash bench/run_registry.sh [SECONDS]    (needs build/ from scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
BUILD=${BUILD:-build}
DATA=$(mktemp -d /tmp/mingchu-bench-XXXX)
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
command -v wrk >/dev/null || { echo "wrk is missing: bash scripts/install-deps.sh" >&2; exit 1; }

"$BUILD/bench/bench_registry" seed --data "$DATA" --units "${UNITS:-25000}" --cameras-per-unit 3
"$BUILD/mingchu" serve --data "$DATA" --listen 127.0.0.1:$PORT --log-level warn --threads 4 &
SERVER=$!
for _ in $(seq 300); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
kill -0 $SERVER 2>/dev/null || { echo "the server did not start" >&2; exit 1; }
TOKEN=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"bench_reg","password":"Bench@2026!x"}' \
  http://127.0.0.1:$PORT/api/v1/auth/login | sed -E 's/.*"token":"([^"]+)".*/\1/')
export TOKEN
# warm up
wrk -t1 -c8 -d2s -s bench/auth_header.lua http://127.0.0.1:$PORT >/dev/null
list_http=$(BENCH_PATH="/api/v1/units?page_size=50" wrk -t1 -c64 -d${SECS}s -s bench/auth_header.lua http://127.0.0.1:$PORT | grep RESULT)
get_http=$(IDS_FILE="$DATA/unit_ids.txt" wrk -t1 -c64 -d${SECS}s -s bench/auth_header.lua http://127.0.0.1:$PORT | grep RESULT)
kill $SERVER; wait $SERVER 2>/dev/null || true
base=$("$BUILD/bench/bench_registry" baseline --data "$DATA" --seconds "$SECS" --threads 4)
val() { echo "$1" | sed -E "s/.*$2=([0-9.]+).*/\1/"; }
jval() { echo "$1" | sed -E "s/.*\"$2\": ([0-9.]+).*/\1/"; }
db_list=$(echo "$base" | grep units_page50); db_get=$(echo "$base" | grep unit_by_id)
printf '\n%-28s %12s %10s %14s %10s %8s\n' "query" "HTTP req/s" "HTTP p99" "DB direct q/s" "DB p99" "HTTP/DB"
for q in list get; do
  h=$([ $q = list ] && echo "$list_http" || echo "$get_http"); d=$([ $q = list ] && echo "$db_list" || echo "$db_get")
  name=$([ $q = list ] && echo "GET /units?page_size=50" || echo "GET /units/{id}")
  hr=$(val "$h" rps); hp=$(val "$h" p99_ms); dr=$(jval "$d" rps); dp=$(jval "$d" p99_ms)
  printf '%-28s %12s %8sms %14s %8sms %8.2f\n' "$name" "$hr" "$hp" "$dr" "$dp" "$(echo "$hr / $dr" | bc -l)"
  echo "$h" | grep -q "non2xx=0 errors=0" || { echo "HTTP errors during the run: $h" >&2; exit 1; }
done
