#!/usr/bin/env bash
# Reports benchmark, each beside its baseline in the same invocation, on a province loaded by
# bench_stats (25 000 units, N alerts over a year up to 2026-11-22, SQLite):
#   1. the alert export of every alert (admin, no filter) as XLSX and CSV through HTTP
#      vs the bare query of the same rows by the sqlite3 shell (the same columns and order):
#      rows/s, the ratio, the server's peak RSS above its idle RSS (memory flat?), and the
#      latency of GET /api/v1/me while the export streams (other requests not blocked);
#   2. the monthly report PDF of the province (October 2026) vs the bare statistics queries
#      (GET /api/v1/stats/overview of the same month, and the sqlite3 COUNT by type).
#   usage: bash bench/run_reports.sh [ALERTS]      (default 1000000; needs build/ with bench/)
#          REUSE=1 KEEP=1 DATA=/tmp/dir bash bench/run_reports.sh   (keep and reuse a loaded province)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
BUILD=${BUILD:-build}
DATA=${DATA:-$(mktemp -d /tmp/mingchu-bench-reports-XXXX)}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
B=http://127.0.0.1:$PORT
DB="$DATA/stats.db"
trap 'kill $SERVER 2>/dev/null || true; [ -z "${KEEP:-}" ] && rm -rf "$DATA"' EXIT
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing" >&2; exit 1; }

if [ -n "${REUSE:-}" ] && [ -f "$DB" ]; then   # REUSE=1 DATA=dir KEEP=1: a province loaded before
  echo "[bench] reusing $DB" >&2
else
  echo "[bench] loading 25 000 units and $N alerts into $DATA (once)" >&2
  "$BUILD/bench/bench_stats" --data "$DATA" --units 25000 --alerts "$N" --runs 1 >/dev/null
fi
"$BUILD/mingchu" admin create-user --data "$DATA" --db "sqlite:$DB" --username bench_admin --password 'Bench@2026!x' \
  --role platform_admin >/dev/null 2>&1 || true
"$BUILD/mingchu" serve --data "$DATA" --db "sqlite:$DB" --listen 127.0.0.1:$PORT --log-level warn &
SERVER=$!
for _ in $(seq 600); do curl -sf $B/healthz >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"bench_admin","password":"Bench@2026!x"}' \
  $B/api/v1/auth/login | sed -E 's/.*"token":"([^"]+)".*/\1/')
AUTH="Authorization: Bearer $TOKEN"
now() { date +%s.%N; }
rss() { awk '/VmRSS/ {print $2}' /proc/$SERVER/status; }

rows=$(sqlite3 "$DB" "SELECT COUNT(*) FROM alerts")
echo "[bench] $rows alerts" >&2
# warm the page cache for both sides alike
sqlite3 "$DB" "SELECT COUNT(*), SUM(LENGTH(id)) FROM alerts" >/dev/null

# ---- 1. the bare query
t0=$(now)
sqlite3 -csv "$DB" "SELECT a.id, u.name, a.unit_id, a.type, a.risk_class, a.state, a.occurred_at, a.last_seen_at,
  a.capture_count, a.due_at, a.overdue, a.card, a.camera_id, a.confidence, a.handled_at
  FROM alerts a JOIN units u ON u.id = a.unit_id ORDER BY a.occurred_at DESC, a.id DESC" >/dev/null
t_bare=$(echo "$(now) - $t0" | bc -l)

export_run() {  # format → "seconds bytes peak_rss_kb me_max_ms"
  local fmt=$1 idle peak=0 me_max=0 pid_rss t0 t1 out
  idle=$(rss)
  ( while kill -0 $SERVER 2>/dev/null; do rss; sleep 0.1; done ) >"$DATA/rss.$fmt" &
  pid_rss=$!
  ( sleep 1; for _ in $(seq 20); do curl -s -o /dev/null -w '%{time_total}\n' -H "$AUTH" $B/api/v1/me; sleep 0.2; done ) >"$DATA/me.$fmt" &
  local pid_me=$!
  t0=$(now)
  out=$(curl -s -o "$DATA/export.$fmt" -w '%{http_code} %{size_download}' -H "$AUTH" "$B/api/v1/alerts/export?format=$fmt")
  t1=$(now)
  wait $pid_me || true
  kill $pid_rss 2>/dev/null || true
  peak=$(sort -n "$DATA/rss.$fmt" | tail -1)
  me_max=$(sort -n "$DATA/me.$fmt" | tail -1)
  [ "${out%% *}" = 200 ] || { echo "export $fmt failed: $out" >&2; exit 1; }
  echo "$(echo "$t1 - $t0" | bc -l) ${out##* } $((peak - idle)) $(echo "$me_max * 1000" | bc -l) $idle"
}
# a warm-up export first: it fills SQLite's page caches (64 MiB per pooled connection), which
# would otherwise be counted against whichever export runs first
curl -s -o /dev/null -H "$AUTH" "$B/api/v1/alerts/export?format=csv"
read -r t_xlsx b_xlsx m_xlsx me_xlsx idle_xlsx < <(export_run xlsx)
lines=$(unzip -p "$DATA/export.xlsx" 'xl/worksheets/*.xml' | tr '<' '\n' | grep -c '^row ')  # the XML is one line: grep -o on it would not end
read -r t_csv b_csv m_csv me_csv idle_csv < <(export_run csv)
csv_rows=$(( $(wc -l <"$DATA/export.csv") - 1 ))
rm -f "$DATA"/export.*

printf '\n%-34s %10s %12s %12s %14s %14s\n' "alert export, $rows rows" "seconds" "rows/s" "vs bare" "peak RSS +MiB" "GET /me max ms"
printf '%-34s %10.2f %12.0f %12s %14s %14s\n' "bare query (sqlite3 -csv)" "$t_bare" "$(echo "$rows / $t_bare" | bc -l)" "1.00" "-" "-"
printf '%-34s %10.2f %12.0f %12.2f %14.1f %14.1f\n' "GET /alerts/export?format=xlsx" "$t_xlsx" "$(echo "$rows / $t_xlsx" | bc -l)" \
  "$(echo "$t_xlsx / $t_bare" | bc -l)" "$(echo "$m_xlsx / 1024" | bc -l)" "$me_xlsx"
printf '%-34s %10.2f %12.0f %12.2f %14.1f %14.1f\n' "GET /alerts/export?format=csv" "$t_csv" "$(echo "$rows / $t_csv" | bc -l)" \
  "$(echo "$t_csv / $t_bare" | bc -l)" "$(echo "$m_csv / 1024" | bc -l)" "$me_csv"
echo "xlsx: $b_xlsx bytes, $((lines - 1)) data rows in sheet1; csv: $b_csv bytes, $csv_rows rows; idle RSS $((idle_xlsx / 1024)) MiB"

# ---- 2. the monthly report of the province
MONTH=2026-10
FROM="2026-10-01T00:00:00%2B08:00"; TO="2026-11-01T00:00:00%2B08:00"
timeit() { local t0; t0=$(now); curl -sf -o "$2" -H "$AUTH" "$1"; echo "$(now) - $t0" | bc -l; }
best() { sort -n | head -1; }
pdf=$(for _ in 1 2 3; do timeit "$B/api/v1/reports/monthly.pdf?jurisdiction_id=p&month=$MONTH" "$DATA/m.pdf"; done | best)
ov=$(for _ in 1 2 3; do timeit "$B/api/v1/stats/overview?jurisdiction_id=p&from=$FROM&to=$TO" /dev/null; done | best)
t0=$(now)
sqlite3 "$DB" "SELECT type, COUNT(*) FROM alerts WHERE occurred_at >= 1790784000000 AND occurred_at < 1793462400000 GROUP BY type" >/dev/null
bare=$(echo "$(now) - $t0" | bc -l)
pages=$(pdfinfo "$DATA/m.pdf" | awk '/Pages/ {print $2}')
printf '\n%-46s %10s %10s\n' "monthly report, province, $MONTH" "seconds" "vs PDF"
printf '%-46s %10.3f %10s\n' "GET /reports/monthly.pdf ($pages pages)" "$pdf" "1.00"
printf '%-46s %10.3f %10.2f\n' "GET /stats/overview, same month (rollups)" "$ov" "$(echo "$ov / $pdf" | bc -l)"
printf '%-46s %10.3f %10.2f\n' "sqlite3 COUNT(*) GROUP BY type, same month" "$bare" "$(echo "$bare / $pdf" | bc -l)"
