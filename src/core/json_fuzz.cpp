// libFuzzer target: the JSON edge — parse_object with its depth limit, then an ObjectReader
// reading the fields of an alert ingest body (strings, numbers, a nested object, an array)
// and finish(). Traps when a failure comes back without a code, or a read returns a value
// that breaks its own limit.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.hpp"
#include "core/time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto obj = mingchu::parse_object(in);
  if (!obj) {
    if (obj.error().code.empty()) __builtin_trap();
    return 0;
  }
  mingchu::ObjectReader r(*obj);
  std::string event_id = r.req_string("event_id", 64);
  if (mingchu::utf8_length(event_id) > 64) __builtin_trap();
  auto camera = r.opt_string("camera_id", 64);
  auto type = r.opt_string("type", 32);
  if (auto when = r.opt_string("occurred_at", 40)) (void)mingchu::parse_rfc3339(*when);
  auto risk = r.opt_int("risk_class", 1, 3);
  if (risk && (*risk < 1 || *risk > 3)) __builtin_trap();
  auto confidence = r.opt_number("confidence", 0.0, 1.0);
  if (confidence && !(*confidence >= 0.0 && *confidence <= 1.0)) __builtin_trap();
  (void)r.opt_bool("test");
  (void)r.is_null("note");
  r.allow("note");
  if (const auto* box = r.opt_object("box")) {
    mingchu::ObjectReader b(*box, "box");
    for (const char* k : {"x", "y", "w", "h"}) (void)b.opt_number(k, 0.0, 1.0);
    auto st = b.finish();
    if (!st && st.error().field.rfind("box.", 0) != 0) __builtin_trap();
  }
  if (const auto* images = r.opt_array("images", 8)) {
    if (images->size() > 8) __builtin_trap();
  }
  auto st = r.finish();
  if (!st && st.error().code.empty()) __builtin_trap();
  (void)camera;
  (void)type;
  (void)mingchu::to_text(*obj);
  return 0;
}
