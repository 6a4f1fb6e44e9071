// libFuzzer target: the MQTT edge — parse_mqtt_topic and parse_mqtt_message on arbitrary
// bytes. Input: the topic, a newline, then the payload. Traps when a failure comes back
// without a code, or an accepted message contradicts its topic.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/mqtt_message.hpp"

using namespace mingchu;
using namespace mingchu::ingest;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  std::string_view topic = in.substr(0, nl);
  std::string_view payload = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  auto t = parse_mqtt_topic(topic);
  if (!t) {
    if (t.error().code != "bad_topic") __builtin_trap();
    // the payload rules still must hold on their own
    t = MqttTopic{"unit_1", "cam_1", MqttKind::kAlerts};
  }
  auto ev = parse_mqtt_message(*t, payload, 64 * 1024);
  if (!ev) {
    if (ev.error().code.empty()) __builtin_trap();
    return 0;
  }
  if (auto* a = std::get_if<AlertEvent>(&*ev)) {
    if (a->unit_id != t->unit_id) __builtin_trap();
    if ((a->camera_id || a->device_id) && a->camera_id != t->source_id && a->device_id != t->source_id) {
      __builtin_trap();
    }
  } else if (auto* r = std::get_if<Reading>(&*ev)) {
    if (r->device_id != t->source_id) __builtin_trap();
  } else if (auto* h = std::get_if<Heartbeat>(&*ev)) {
    if (h->camera_id != t->source_id && h->device_id != t->source_id) __builtin_trap();
  }
  return 0;
}
