#include "ingest/event.hpp"

#include <cmath>

#include "alerts/alerts_config.hpp"
#include "core/time.hpp"
#include "crypto/base64.hpp"
#include "files/sniff.hpp"

namespace mingchu::ingest {
namespace {

constexpr size_t kMaxIdChars = 64;
constexpr double kMaxCoordinate = 1e6;
// base64 text of kMaxSnapshotBytes, rounded up to whole quanta
constexpr size_t kMaxSnapshotBase64 = (kMaxSnapshotBytes + 2) / 3 * 4;

std::optional<TimeMs> read_time(ObjectReader& rd, std::string_view key, bool required) {
  bool present = rd.has(key) && !rd.is_null(key);
  auto s = rd.opt_string(key, 64);
  if (!rd.ok()) return std::nullopt;
  if (!present) {
    if (required) rd.fail(key, "missing_field", "field '" + rd.path(key) + "' is required");
    return std::nullopt;
  }
  auto t = s ? parse_rfc3339(*s) : std::nullopt;
  if (!t) {
    rd.fail(key, "invalid_time",
            "field '" + rd.path(key) + "' must be an RFC 3339 time such as 2026-11-22T08:30:00+08:00");
  }
  return t;
}

std::optional<std::string> read_id(ObjectReader& rd, std::string_view key) {
  auto s = rd.opt_string(key, kMaxIdChars);
  if (s && s->empty()) {
    rd.fail(key, "empty_field", "field '" + rd.path(key) + "' must not be empty");
    return std::nullopt;
  }
  return s;
}

Status read_boxes(const json::array& arr, std::vector<Box>& out) {
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string prefix = "boxes[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) return Error::invalid(prefix, "wrong_type", "field '" + prefix + "' must be an object");
    ObjectReader rd(arr[i].as_object(), prefix);
    Box b;
    auto coord = [&](std::string_view k, double& v) {
      bool present = rd.has(k) && !rd.is_null(k);
      auto n = rd.opt_number(k, 0, kMaxCoordinate);
      if (!present && rd.ok()) rd.fail(k, "missing_field", "field '" + rd.path(k) + "' is required");
      if (n) v = *n;
    };
    coord("x", b.x);
    coord("y", b.y);
    coord("w", b.w);
    coord("h", b.h);
    b.label = rd.opt_string("label", 64).value_or("");
    b.score = rd.opt_number("score", 0, 1);
    if (auto st = rd.finish(); !st) return st;
    out.push_back(std::move(b));
  }
  return ok_status();
}

}  // namespace

bool valid_event_id(std::string_view s) {
  if (s.empty() || s.size() > kMaxEventIdChars) return false;
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

Result<AlertEvent> parse_alert_event(const json::object& obj) {
  ObjectReader rd(obj);
  AlertEvent ev;
  bool has_event_id = rd.has("event_id") && !rd.is_null("event_id");
  auto event_id = rd.opt_string("event_id", kMaxEventIdChars);
  if (rd.ok() && (!has_event_id || !event_id || !valid_event_id(*event_id))) {
    rd.fail("event_id", has_event_id ? "invalid_event_id" : "missing_field",
            has_event_id ? "field 'event_id' must be 1–128 printable ASCII characters without spaces"
                         : "field 'event_id' is required");
  }
  if (event_id) ev.event_id = *event_id;
  ev.camera_id = read_id(rd, "camera_id");
  ev.unit_id = read_id(rd, "unit_id");
  ev.device_id = read_id(rd, "device_id");
  ev.type = rd.req_string("type", 32);
  if (rd.ok() && !alerts::valid_type_code(ev.type)) {
    rd.fail("type", "unknown_type", "field 'type' is not an alert type code");
  }
  if (auto t = read_time(rd, "occurred_at", true)) ev.occurred_at = *t;
  ev.confidence = rd.opt_number("confidence", 0, 1);
  ev.snapshot_id = read_id(rd, "snapshot_id");
  // Read by hand: a too-large image is 413 (not a 422 length error), and 2.8 MB of base64
  // need no UTF-8 or control-character scan.
  rd.allow("snapshot_base64");
  const json::value* b64v = obj.if_contains("snapshot_base64");
  bool has_b64 = b64v && !b64v->is_null();
  if (has_b64 && !b64v->is_string() && rd.ok()) {
    rd.fail("snapshot_base64", "wrong_type", "field 'snapshot_base64' must be a string");
  }
  if (const json::array* boxes = rd.opt_array("boxes", kMaxBoxes)) {
    if (rd.ok()) {
      if (auto st = read_boxes(*boxes, ev.boxes); !st) return st.error();
    }
  }
  ev.model = rd.opt_string("model", kMaxModelChars);
  if (auto st = rd.finish(); !st) return st.error();

  if (!ev.camera_id && !ev.unit_id && !ev.device_id) {
    return Error::invalid("camera_id", "missing_field", "one of camera_id, unit_id or device_id is required");
  }
  if (has_b64) {
    if (ev.snapshot_id) {
      return Error::invalid("snapshot_base64", "conflicting_fields", "send snapshot_id or snapshot_base64, not both");
    }
    std::string_view b64 = b64v->as_string();
    if (b64.size() > kMaxSnapshotBase64) {
      return Error{ErrorKind::kTooLarge, "snapshot_too_large",
                   "snapshot_base64 decodes to more than " + std::to_string(kMaxSnapshotBytes / (1024 * 1024)) + " MB",
                   "snapshot_base64"};
    }
    auto bytes = crypto::base64_decode(b64);
    if (!bytes) {
      return Error::invalid("snapshot_base64", "malformed_base64", "field 'snapshot_base64' is not valid base64");
    }
    if (bytes->size() > kMaxSnapshotBytes) {
      return Error{ErrorKind::kTooLarge, "snapshot_too_large", "snapshot larger than 2 MB", "snapshot_base64"};
    }
    auto type = files::sniff_content_type(*bytes);
    if (!type || (*type != files::kJpeg && *type != files::kPng && *type != files::kWebp)) {
      return Error{
          ErrorKind::kUnsupported, "unsupported_media_type",
          "snapshot_base64 is not a JPEG, PNG or WebP image" + (type ? " (it is " + *type + ")" : std::string()),
          "snapshot_base64"};
    }
    ev.snapshot = InlineSnapshot{std::move(*bytes), *type};
  }
  return ev;
}

Result<AlertEvent> parse_alert_event(std::string_view json_text) {
  // an inline snapshot makes an event large; the nesting of a valid event is shallow
  auto obj = parse_object(json_text, 8);
  if (!obj) return obj.error();
  return parse_alert_event(*obj);
}

Result<Heartbeat> parse_heartbeat(const json::object& obj) {
  ObjectReader rd(obj);
  Heartbeat hb;
  hb.camera_id = read_id(rd, "camera_id");
  hb.device_id = read_id(rd, "device_id");
  hb.at = read_time(rd, "at", false);
  if (auto st = rd.finish(); !st) return st.error();
  if (!hb.camera_id && !hb.device_id) {
    return Error::invalid("camera_id", "missing_field", "one of camera_id or device_id is required");
  }
  if (hb.camera_id && hb.device_id) {
    return Error::invalid("device_id", "conflicting_fields", "send camera_id or device_id, not both");
  }
  return hb;
}

Result<Reading> parse_reading(const json::object& obj) {
  ObjectReader rd(obj);
  Reading r;
  auto dev = read_id(rd, "device_id");
  if (rd.ok() && !dev) rd.fail("device_id", "missing_field", "field 'device_id' is required");
  if (dev) r.device_id = *dev;
  if (auto t = read_time(rd, "at", true)) r.at = *t;
  const json::object* metrics = rd.opt_object("metrics");
  if (rd.ok() && !metrics) rd.fail("metrics", "missing_field", "field 'metrics' is required");
  if (auto st = rd.finish(); !st) return st.error();
  if (metrics->empty() || metrics->size() > kMaxMetrics) {
    return Error::invalid("metrics", "invalid_metrics", "metrics must hold 1 to 32 readings");
  }
  for (const auto& kv : *metrics) {
    std::string name(kv.key());
    std::string field = "metrics." + name;
    if (!alerts::valid_metric_name(name)) {
      return Error::invalid("metrics", "invalid_metric_name",
                            "metric names are 1–32 of a-z, 0-9 and _, starting with a letter");
    }
    const json::value& v = kv.value();
    double d = 0;
    if (v.is_bool()) {
      d = v.as_bool() ? 1 : 0;  // e.g. a rat board's "displaced": true
    } else if (v.is_number()) {
      d = v.to_number<double>();
    } else {
      return Error::invalid(field, "wrong_type", "field '" + field + "' must be a number");
    }
    if (!std::isfinite(d) || std::fabs(d) > 1e9) {
      return Error::invalid(field, "out_of_range", "field '" + field + "' is out of range");
    }
    r.metrics.emplace_back(std::move(name), d);
  }
  return r;
}

Result<Reading> parse_reading(std::string_view json_text) {
  auto obj = parse_object(json_text, 8);
  if (!obj) return obj.error();
  return parse_reading(*obj);
}

}  // namespace mingchu::ingest
