// libFuzzer target: the ingest edge — parse_alert_event and parse_reading on arbitrary bytes
// (the same functions serve HTTP bodies and MQTT payloads). Traps when a failure comes back
// without a code or an HTTP status outside 4xx, or an accepted event breaks its own limits.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/event.hpp"

using namespace mingchu;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto ev = ingest::parse_alert_event(in);
  if (!ev) {
    int status = http_status(ev.error().kind);
    if (ev.error().code.empty() || status < 400 || status > 499) __builtin_trap();
  } else {
    if (!ingest::valid_event_id(ev->event_id)) __builtin_trap();
    if (!ev->camera_id && !ev->unit_id && !ev->device_id) __builtin_trap();
    if (ev->boxes.size() > ingest::kMaxBoxes) __builtin_trap();
    for (const auto& b : ev->boxes) {
      if (!(b.x >= 0 && b.y >= 0 && b.w >= 0 && b.h >= 0)) __builtin_trap();
    }
    if (ev->confidence && !(*ev->confidence >= 0 && *ev->confidence <= 1)) __builtin_trap();
    if (ev->snapshot && (ev->snapshot->bytes.size() > ingest::kMaxSnapshotBytes || ev->snapshot->bytes.empty())) {
      __builtin_trap();
    }
  }
  auto rd = ingest::parse_reading(in);
  if (rd) {
    if (rd->metrics.empty() || rd->metrics.size() > ingest::kMaxMetrics) __builtin_trap();
    for (const auto& [name, v] : rd->metrics) {
      if (name.empty() || !std::isfinite(v)) __builtin_trap();
    }
  } else if (rd.error().code.empty()) {
    __builtin_trap();
  }
  return 0;
}
