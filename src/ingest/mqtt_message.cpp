#include "ingest/mqtt_message.hpp"

#include <vector>

#include "core/ids.hpp"
#include "core/json.hpp"

namespace mingchu::ingest {
namespace {

constexpr std::string_view kPrefix = "mingchu";

Error reject(std::string code, std::string message, ErrorKind kind = ErrorKind::kInvalid) {
  return Error{kind, std::move(code), std::move(message), {}};
}

// The id named by key, when it is a string ("" otherwise); present tells whether the key is
// there at all (non-null).
std::string id_field(const json::object& o, std::string_view key, bool& present) {
  auto it = o.find(key);
  present = it != o.end() && !it->value().is_null();
  if (present && it->value().is_string()) return std::string(it->value().as_string());
  return {};
}

}  // namespace

Result<MqttTopic> parse_mqtt_topic(std::string_view topic) {
  auto bad = [&] {
    return reject("bad_topic", "topic must be mingchu/{unit_id}/{device_id}/{alerts|readings|heartbeats}");
  };
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (parts.size() < 5) {
    size_t j = topic.find('/', i);
    parts.push_back(topic.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  if (parts.size() != 4 || parts[0] != kPrefix) return bad();
  if (!plausible_id(parts[1]) || !plausible_id(parts[2])) return bad();
  MqttTopic t;
  t.unit_id = std::string(parts[1]);
  t.source_id = std::string(parts[2]);
  if (parts[3] == "alerts") {
    t.kind = MqttKind::kAlerts;
  } else if (parts[3] == "readings") {
    t.kind = MqttKind::kReadings;
  } else if (parts[3] == "heartbeats") {
    t.kind = MqttKind::kHeartbeats;
  } else {
    return bad();
  }
  return t;
}

Result<MqttEvent> parse_mqtt_message(const MqttTopic& t, std::string_view payload, size_t max_payload) {
  if (payload.size() > max_payload) {
    return reject("too_large", "payload larger than " + std::to_string(max_payload) + " bytes", ErrorKind::kTooLarge);
  }
  auto parsed = parse_object(payload);
  if (!parsed) return parsed.error();
  json::object o = std::move(*parsed);
  auto mismatch = [&](std::string what) {
    return reject("topic_mismatch", what + " in the payload differs from the topic");
  };
  bool has_cam = false, has_dev = false;
  std::string cam = id_field(o, "camera_id", has_cam);
  std::string dev = id_field(o, "device_id", has_dev);
  bool cam_prefix = t.source_id.rfind("cam_", 0) == 0;
  bool dev_prefix = t.source_id.rfind("dev_", 0) == 0;
  switch (t.kind) {
    case MqttKind::kAlerts: {
      bool has_unit = false;
      std::string unit = id_field(o, "unit_id", has_unit);
      if (has_unit && unit != t.unit_id) return mismatch("unit_id");
      if (!has_unit) o["unit_id"] = t.unit_id;
      if (has_cam || has_dev) {
        if (!((has_cam && cam == t.source_id) || (has_dev && dev == t.source_id)))
          return mismatch("camera_id/device_id");
      } else if (cam_prefix) {
        o["camera_id"] = t.source_id;
      } else if (dev_prefix) {
        o["device_id"] = t.source_id;
      }
      auto e = parse_alert_event(o);
      if (!e) return e.error();
      return MqttEvent(std::move(*e));
    }
    case MqttKind::kReadings: {
      if (has_dev && dev != t.source_id) return mismatch("device_id");
      if (!has_dev) o["device_id"] = t.source_id;
      auto r = parse_reading(o);
      if (!r) return r.error();
      return MqttEvent(std::move(*r));
    }
    case MqttKind::kHeartbeats: {
      if (has_cam || has_dev) {
        if (!((has_cam && cam == t.source_id) || (has_dev && dev == t.source_id)))
          return mismatch("camera_id/device_id");
      } else if (cam_prefix) {
        o["camera_id"] = t.source_id;
      } else {
        o["device_id"] = t.source_id;
      }
      auto h = parse_heartbeat(o);
      if (!h) return h.error();
      return MqttEvent(std::move(*h));
    }
  }
  return reject("bad_topic", "unknown kind");
}

}  // namespace mingchu::ingest
