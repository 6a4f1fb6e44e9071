// The pure part of the MQTT edge: what a topic names and the typed event a message carries,
// with the rules that make the topic and the payload agree (see mqtt_subscriber.hpp). No
// clock, no database, no network; safe from any thread; never throws on any input (fuzzed by
// mqtt_fuzz.cpp).
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "core/result.hpp"
#include "ingest/event.hpp"

namespace mingchu::ingest {

enum class MqttKind { kAlerts, kReadings, kHeartbeats };

struct MqttTopic {
  std::string unit_id;
  std::string source_id;
  MqttKind kind = MqttKind::kAlerts;
};

// "mingchu/{unit}/{source}/{alerts|readings|heartbeats}" with plausible ids; kInvalid with
// code "bad_topic" otherwise.
Result<MqttTopic> parse_mqtt_topic(std::string_view topic);

using MqttEvent = std::variant<AlertEvent, Reading, Heartbeat>;

// The typed event of one message, after the topic/payload consistency rules above. Errors
// carry the rejection reason in Error::code (e.g. malformed_json, topic_mismatch,
// too_large, or the parser's code).
Result<MqttEvent> parse_mqtt_message(const MqttTopic& topic, std::string_view payload, size_t max_payload);

}  // namespace mingchu::ingest
