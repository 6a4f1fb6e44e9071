-- wrk script for POST /api/v1/ingest/alerts. Every event has a unique event_id
-- (wrk thread + counter), a camera and its unit from CAMERAS_FILE ("camera_id unit_id" lines),
-- and one of several types. BATCH=1 sends one event per request, BATCH=n sends {"events":[n]}.
-- NEW=1: every event raises a new alert — each (camera, type) pair is visited in turn, each
-- visit 21 minutes (beyond the 10-minute dedup window) after the previous one, from 29 days ago.
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
local fresh = os.getenv("NEW") == "1"
local start = os.time() - 29 * 86400
local function event()
  counter = counter + 1
  local cam, typ, at, prefix
  if fresh then
    local n = counter - 1
    cam = cams[n % #cams + 1]
    typ = types[math.floor(n / #cams) % #types + 1]
    at = os.date("!%Y-%m-%dT%H:%M:%SZ", start + math.floor(n / (#cams * #types)) * 21 * 60)
    prefix = "n"
  else
    cam = cams[(counter * 7919 + tid * 104729) % #cams + 1]
    typ = types[counter % #types + 1]
    at = os.date("!%Y-%m-%dT%H:%M:%SZ")
    prefix = "b"
  end
  return string.format(
    '{"event_id":"%s%d-%d-%d","camera_id":"%s","unit_id":"%s","type":"%s","occurred_at":"%s","confidence":0.91,' ..
    '"boxes":[{"x":120,"y":80,"w":64,"h":48,"label":"person","score":0.91}],"model":"kitchen-yolo-v3"}',
    prefix, tid, os.time(), counter, cam[1], cam[2], typ, at)
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
