-- wrk script: every request carries the bearer token; with IDS_FILE set, requests go to
-- /api/v1/units/{id} for ids read from the file (round robin), else to PATH.
local token = os.getenv("TOKEN")
local path = os.getenv("BENCH_PATH") or "/api/v1/units?page_size=50"
local ids = {}
local ids_file = os.getenv("IDS_FILE")
if ids_file then
  for line in io.lines(ids_file) do ids[#ids + 1] = line end
end
local i = 0
request = function()
  local p = path
  if #ids > 0 then
    i = i + 1
    p = "/api/v1/units/" .. ids[(i % #ids) + 1]
  end
  return wrk.format("GET", p, { ["Authorization"] = "Bearer " .. token })
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p99_ms=%.3f non2xx=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
