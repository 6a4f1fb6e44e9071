// The typed events of the ingest edge, and the pure functions that make them out of
// untrusted bytes. The same parsers serve HTTP (src/http/ingest_handlers.cpp) and MQTT
// (src/ingest/mqtt_subscriber.cpp), so an event means the same thing whichever way it came.
//
// Contract of every parse_* function:
//   - pure: no clock, no database, no file system; safe from any thread; never throws on
//     any input (fuzzed by src/ingest/event_fuzz.cpp);
//   - shape only: types, lengths, character sets, the RFC 3339 syntax of times, image
//     magic bytes and size of inline snapshots. Rules that need the clock (an event from the
//     far future or too old), the taxonomy (a known type code) or the database (a camera in
//     the sender's scope) are IngestService's;
//   - failures are Errors the caller can hand back as they are: 400 malformed_json for bytes
//     that are not JSON, 422 naming the field (Error::field, e.g. "boxes[3].w") for valid JSON
//     with invalid content, 413 snapshot_too_large for an inline image over kMaxSnapshotBytes,
//     415 unsupported_media_type for inline bytes that are not JPEG, PNG or WebP.
//   - unknown fields are refused (422 unknown_field), so a typo in a sender is seen at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace mingchu::ingest {

inline constexpr size_t kMaxEventIdChars = 128;
inline constexpr size_t kMaxModelChars = 64;
inline constexpr size_t kMaxBoxes = 50;
inline constexpr size_t kMaxSnapshotBytes = 2 * 1024 * 1024;  // decoded inline snapshot
inline constexpr size_t kMaxMetrics = 32;
inline constexpr size_t kMaxBatchEvents = 1000;  // {"events": [...]} in one request

// A detection box in image pixels (x, y: top-left corner).
struct Box {
  double x = 0, y = 0, w = 0, h = 0;
  std::string label;            // ≤ 64 chars, may be empty
  std::optional<double> score;  // 0..1
};

// An image carried inline (snapshot_base64), already decoded and recognised.
struct InlineSnapshot {
  std::string bytes;
  std::string content_type;  // image/jpeg | image/png | image/webp
};

// One abnormal event (异常事件) reported by an AI box, the algorithm server or an integration.
struct AlertEvent {
  std::string event_id;  // the sender's idempotency key: 1..128 printable ASCII, no spaces
  std::optional<std::string> camera_id;
  std::optional<std::string> unit_id;
  std::optional<std::string> device_id;  // a sensor or other IoT device
  std::string type;                      // a code of the taxonomy (checked by IngestService)
  TimeMs occurred_at = 0;
  std::optional<double> confidence;        // 0..1
  std::optional<std::string> snapshot_id;  // a file uploaded before (POST /api/v1/files)
  std::optional<InlineSnapshot> snapshot;  // or the image inline
  std::vector<Box> boxes;
  std::optional<std::string> model;  // the detector's name/version
};

// A sign of life from a camera or a device.
struct Heartbeat {
  std::optional<std::string> camera_id;
  std::optional<std::string> device_id;  // exactly one of the two
  std::optional<TimeMs> at;              // the sender's clock; liveness uses the server's
};

// Sensor readings of one device at one time, e.g. {"temperature_c": -19.5, "humidity_pct": 61}.
struct Reading {
  std::string device_id;
  TimeMs at = 0;
  std::vector<std::pair<std::string, double>> metrics;  // names: [a-z0-9_]{1,32}, finite values
};

// {event_id, camera_id?, unit_id?, device_id?, type, occurred_at, confidence?, snapshot_id? |
//  snapshot_base64?, boxes?, model?}. At least one of camera_id, unit_id, device_id.
Result<AlertEvent> parse_alert_event(const json::object& obj);
// The same from the bytes of one JSON object (an MQTT payload).
Result<AlertEvent> parse_alert_event(std::string_view json_text);

// {camera_id | device_id, at?}
Result<Heartbeat> parse_heartbeat(const json::object& obj);
// {device_id, at, metrics: {name: number, ...}} (1..kMaxMetrics metrics)
Result<Reading> parse_reading(const json::object& obj);
Result<Reading> parse_reading(std::string_view json_text);

// True for an event id the platform accepts: 1..128 chars of printable ASCII (0x21..0x7e).
bool valid_event_id(std::string_view s);

}  // namespace mingchu::ingest
