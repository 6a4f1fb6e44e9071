// The outbox, owned by the notify module: make_event() and append_outbox() are the only way
// rows get in; the alerts module calls them in the same transaction as the alert change they
// describe (migration 3). Each row is one event
// of the documented schema "mingchu.event.v1" (docs/push-schema.md) and its id is the
// idempotency key every receiver sees.
//
// Delivery onward is at-least-once: the dispatcher fans each row out into `deliveries`
// (one per channel and target) and marks the row `dispatched` (migration 4) in the same
// transaction; the SSE hub of every node reads rows directly. Neither relies on a bare
// high-water mark: a PostgreSQL commit can become visible after a later one.
//
// Pure data and SQL helpers; thread safe (no state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "storage/database.hpp"

namespace mingchu::notify {

// Topics written by the alerts module.
inline constexpr std::string_view kTopicAlertCreated = "alert.created";
inline constexpr std::string_view kTopicAlertUpdated = "alert.updated";
inline constexpr std::string_view kTopicAlertCard = "alert.card";
inline constexpr std::string_view kTopicCertExpiring = "cert.expiring";
inline constexpr std::string_view kTopicCertExpired = "cert.expired";

struct OutboxEvent {
  std::string id;  // idempotency key
  std::string topic;
  std::string unit_id;  // "" when the event belongs to no unit
  std::string jpath;    // the unit's jurisdiction path, "" when none
  std::string payload;  // JSON text, schema mingchu.event.v1
  bool sms = false;     // also goes to the SMS/voice channel
  TimeMs created_at = 0;
};

// The columns every query below selects, in this order.
inline constexpr const char* kOutboxColumns = "id, topic, unit_id, jpath, payload, sms, created_at";
// Same, qualified with the alias o (for joins).
inline constexpr const char* kOutboxColumnsO = "o.id, o.topic, o.unit_id, o.jpath, o.payload, o.sms, o.created_at";

// The unit an event is about, as the envelope names it.
struct EventUnit {
  std::string id;
  std::string name;
  std::string jurisdiction_id;
  std::string jpath;
};

// One event of schema mingchu.event.v1: a new time-ordered id ("evt_..."), the envelope
// (schema, id, topic, occurred_at = now in the given UTC offset, unit) and then every key of
// payload (docs/push-schema.md).
OutboxEvent make_event(std::string_view topic, const EventUnit& unit, json::object payload, bool sms, TimeMs now,
                       int utc_offset_minutes);
// Writes events into the outbox inside the caller's transaction (multi-row INSERTs).
void append_outbox(storage::Connection& c, const std::vector<OutboxEvent>& events);

// Retention of what was delivered: deletes up to `limit` deliveries delivered before `before`,
// then up to `limit` outbox rows created before it that are dispatched and have no delivery
// left (pending and dead deliveries, and their rows, stay: the retry API needs them). Returns
// how many rows went.
std::int64_t purge_delivered(storage::Database& db, TimeMs before, int limit);

// Reads an OutboxEvent from row columns [first, first + 7).
OutboxEvent outbox_event_from_row(const storage::Row& r, size_t first = 0);

// The id of the jurisdiction a jpath ends in ("/a/b/c/" -> "c"); "" for "" or "/".
std::string jurisdiction_of(std::string_view jpath);
// The ids along a jpath, root first ("/a/b/" -> {"a", "b"}).
std::vector<std::string> jpath_segments(std::string_view jpath);

}  // namespace mingchu::notify
