#!/usr/bin/env bash
# Ingest benchmark: durable events/s and p99 of POST /api/v1/ingest/alerts over keep-alive
# connections (wrk): one event per request (64 and 256 connections), batches of 100 (64
# connections), then batches of 100 where every event raises a new alert — beside the raw rate
# of batched durable inserts of the same alert rows into the same engine, in one invocation.
# The baseline inserts with the writer's id scheme (time-ordered ids) and the writer's mean
# transaction size in the new-alert run (from /metrics); the headline is that run against it:
# creating alerts is the work the baseline does, merges are a different workload.
# Events spread over every camera of the demo city and 8 types: in the first three runs the
# first event of a camera and type raises an alert and the next ones inside the dedup window
# fold into it. The created/merged split is printed (from /metrics), so no rate is misread.
#   usage: bash bench/run_ingest.sh [SECONDS] [DB_URL]   (DB_URL default: SQLite in a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
DBURL=${2:-}
BUILD=${BUILD:-build}
DATA=$(mktemp -d /tmp/mingchu-ingest-XXXX)
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
dbargs=(); [[ -n $DBURL ]] && dbargs=(--db "$DBURL")
"$BUILD/mingchu" serve --demo --data "$DATA" "${dbargs[@]}" --listen 127.0.0.1:$PORT --log-level warn &
SERVER=$!
for _ in $(seq 300); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
kill -0 $SERVER 2>/dev/null || { echo "the server did not start" >&2; exit 1; }
TOKEN=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"admin","password":"Platform@2026!"}' \
  http://127.0.0.1:$PORT/api/v1/auth/login | sed -E 's/.*"token":"([^"]+)".*/\1/')
API_KEY=$(curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
  -d '{"name":"bench","scope":{"jurisdiction_id":"jur_320600","ingest_only":true}}' http://127.0.0.1:$PORT/api/v1/api-keys |
  sed -E 's/.*"key":"([^"]+)".*/\1/')
export API_KEY CAMERAS_FILE=$DATA/cameras.txt
for page in 1 2 3; do
  curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/cameras?page_size=200&page=$page" |
    python3 -c 'import sys,json; [print(c["id"], c["unit_id"]) for c in json.load(sys.stdin)["items"]]'
done > "$CAMERAS_FILE"
BATCH=1 wrk -t1 -c16 -d2s -s bench/ingest.lua http://127.0.0.1:$PORT >/dev/null   # warm up
run() { BATCH=$1 wrk -t1 -c$2 -d${SECS}s --timeout 10s -s bench/ingest.lua http://127.0.0.1:$PORT | grep RESULT; }
single=$(run 1 64)
single256=$(run 1 256)
batched=$(run 100 64)
outcomes=$(curl -sf http://127.0.0.1:$PORT/metrics | grep '^mingchu_ingest_events_total' || true)
committed() { curl -sf http://127.0.0.1:$PORT/metrics | grep '^mingchu_ingest_batches_total{result="committed"}' | awk '{print $2}'; }
batches_before=$(committed)
fresh=$(NEW=1 run 100 64)   # every event a new alert (ingest.lua NEW=1)
batches_after=$(committed)
outcomes_after=$(curl -sf http://127.0.0.1:$PORT/metrics | grep '^mingchu_ingest_events_total' || true)
kill $SERVER; wait $SERVER 2>/dev/null || true
raw_url=${DBURL:-sqlite:$DATA/raw/raw.db}
[[ -z $DBURL ]] && mkdir -p "$DATA/raw"
count() { echo "${2:-$outcomes}" | grep "result=\"$1\"" | awk '{print $2}' | head -1; }
fresh_events=$(( $(count created "$outcomes_after") + $(count merged "$outcomes_after") - $(count created) - $(count merged) ))
mean_batch=$(( fresh_events / (batches_after - batches_before > 0 ? batches_after - batches_before : 1) ))
(( mean_batch < 1 )) && mean_batch=1
raw=$("$BUILD/bench/bench_ingest_raw" --db "$raw_url" --batch "$mean_batch" --ids ordered --seconds "$SECS")
val() { echo "$1" | sed -E "s/.*$2=([0-9.]+).*/\1/"; }
raw_rate=$(echo "$raw" | sed -E 's/.*"raw_rows_per_s": ([0-9.]+).*/\1/')
s_rps=$(val "$single" rps); s256_rps=$(val "$single256" rps); b_rps=$(val "$batched" rps)
b_events=$(echo "$b_rps * 100" | bc)
f_events=$(echo "$(val "$fresh" rps) * 100" | bc)
printf '\n%-40s %14s %10s %14s\n' "mode" "events/s" "p99" "vs raw insert"
printf '%-40s %14s %8sms %13.2f\n' "HTTP, 1 event per request (64 conn.)" "$s_rps" "$(val "$single" p99_ms)" "$(echo "$s_rps / $raw_rate" | bc -l)"
printf '%-40s %14s %8sms %13.2f\n' "HTTP, 1 event per request (256 conn.)" "$s256_rps" "$(val "$single256" p99_ms)" "$(echo "$s256_rps / $raw_rate" | bc -l)"
printf '%-40s %14s %8sms %13.2f\n' "HTTP, 100 events per request (64 conn.)" "$b_events" "$(val "$batched" p99_ms)" "$(echo "$b_events / $raw_rate" | bc -l)"
printf '%-40s %14s %8sms %13.2f\n' "HTTP, 100 new alerts per request (64 c.)" "$f_events" "$(val "$fresh" p99_ms)" "$(echo "$f_events / $raw_rate" | bc -l)"
printf '%-40s %14s %10s %14s\n' "raw insert, ordered ids, $mean_batch/txn" "$raw_rate" "-" "1.00"
printf '\nheadline: new alerts %s events/s = %.2f of raw durable inserts of the same rows (same ids, %s rows per transaction)\n' \
  "$f_events" "$(echo "$f_events / $raw_rate" | bc -l)" "$mean_batch"
echo "events of the first three runs: created $(count created), merged $(count merged), duplicate $(count duplicate), rejected $(count rejected), unavailable $(count unavailable)"
echo "events of the new-alert run: created $(( $(count created "$outcomes_after") - $(count created) )), merged $(( $(count merged "$outcomes_after") - $(count merged) ))"
for r in "$single" "$single256" "$batched" "$fresh"; do
  echo "$r" | grep -q "non2xx=0 errors=0" || { echo "errors during the run: $r" >&2; exit 1; }
done
