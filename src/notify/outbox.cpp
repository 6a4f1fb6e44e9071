#include "notify/outbox.hpp"

#include "core/ids.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "storage/sql.hpp"

namespace mingchu::notify {

OutboxEvent make_event(std::string_view topic, const EventUnit& unit, json::object payload, bool sms, TimeMs now,
                       int utc_offset_minutes) {
  OutboxEvent e;
  e.id = ordered_id("evt", now);
  e.topic = std::string(topic);
  e.unit_id = unit.id;
  e.jpath = unit.jpath;
  e.sms = sms;
  e.created_at = now;
  json::object out{{"schema", "mingchu.event.v1"},
                   {"id", e.id},
                   {"topic", e.topic},
                   {"occurred_at", format_rfc3339(now, utc_offset_minutes)},
                   {"unit", {{"id", unit.id}, {"name", unit.name}, {"jurisdiction_id", unit.jurisdiction_id}}}};
  for (auto& [k, v] : payload) out[k] = std::move(v);
  e.payload = json::serialize(out);
  return e;
}

void append_outbox(storage::Connection& c, const std::vector<OutboxEvent>& events) {
  static const std::vector<std::string> kCols = {"id", "topic", "unit_id", "jpath", "payload", "sms", "created_at"};
  std::vector<storage::Params> rows;
  rows.reserve(events.size());
  for (const auto& e : events) {
    rows.push_back({e.id, e.topic, e.unit_id, e.jpath, e.payload, std::int64_t{e.sms ? 1 : 0}, e.created_at});
  }
  storage::insert_rows(c, "outbox", kCols, rows);
}

OutboxEvent outbox_event_from_row(const storage::Row& r, size_t first) {
  OutboxEvent e;
  e.id = r.text(first);
  e.topic = r.text(first + 1);
  e.unit_id = r.text(first + 2);
  e.jpath = r.text(first + 3);
  e.payload = r.text(first + 4);
  e.sms = r.integer(first + 5) != 0;
  e.created_at = r.integer(first + 6);
  return e;
}

std::vector<std::string> jpath_segments(std::string_view jpath) { return split_nonempty(jpath, '/'); }

std::string jurisdiction_of(std::string_view jpath) {
  auto segs = jpath_segments(jpath);
  return segs.empty() ? std::string() : segs.back();
}

std::int64_t purge_delivered(storage::Database& db, TimeMs before, int limit) {
  return db.in_transaction([&](storage::Connection& c) {
    std::int64_t n = c.exec(
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE state = 'delivered' "
        "AND created_at < $1 AND delivered_at < $1 ORDER BY created_at LIMIT $2)",
        {before, std::int64_t{limit}});
    n += c.exec(
        "DELETE FROM outbox WHERE id IN (SELECT o.id FROM outbox o WHERE o.created_at < $1 AND o.dispatched = 1 "
        "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.outbox_id = o.id) ORDER BY o.created_at LIMIT $2)",
        {before, std::int64_t{limit}});
    return n;
  });
}

}  // namespace mingchu::notify
