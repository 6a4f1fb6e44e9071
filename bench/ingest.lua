-- wrk script for POST /api/v1/ingest/alerts. Every event has a unique event_id
-- (wrk thread + counter), a camera and its unit from CAMERAS_FILE ("camera_id unit_id" lines),
-- and one of several types. BATCH=1 sends one event per request, BATCH=n sends {"events":[n]}.
local key = os.getenv("API_KEY")
local batch = tonumber(os.getenv("BATCH") or "1")
local cams = {}
for line in io.lines(os.getenv("CAMERAS_FILE")) do
  local c, u = line:match("(%S+)%s+(%S+)")
  cams[#cams + 1] = { c, u }
end
local types = { "no_mask", "no_hat", "no_uniform", "no_gloves", "clutter", "phone_use", "smoking", "bin_uncovered" }
local counter = 0
local tid = 0
local threads = {}
setup = function(thread)
  tid = tid + 1
  thread:set("tid", tid)
  table.insert(threads, thread)
end
local function event()
  counter = counter + 1
  local cam = cams[(counter * 7919 + tid * 104729) % #cams + 1]
  return string.format(
    '{"event_id":"b%d-%d-%d","camera_id":"%s","unit_id":"%s","type":"%s","occurred_at":"%s","confidence":0.91,' ..
    '"boxes":[{"x":120,"y":80,"w":64,"h":48,"label":"person","score":0.91}],"model":"kitchen-yolo-v3"}',
    tid, os.time(), counter, cam[1], cam[2], types[counter % #types + 1], os.date("!%Y-%m-%dT%H:%M:%SZ"))
end
request = function()
  local body
  if batch == 1 then
    body = event()
  else
    local parts = {}
    for i = 1, batch do parts[i] = event() end
    body = '{"events":[' .. table.concat(parts, ",") .. ']}'
  end
  return wrk.format("POST", "/api/v1/ingest/alerts",
    { ["Content-Type"] = "application/json", ["X-Api-Key"] = key }, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p99_ms=%.3f non2xx=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
