#include "telemetry/telemetry.hpp"

#include <algorithm>
#include <cstdio>

#include "core/time.hpp"
#include "storage/sql.hpp"

namespace mingchu::telemetry {

using storage::Params;

namespace {

constexpr const char* kCameraSeen = "UPDATE cameras SET last_seen_at = $2, status = 'online' WHERE id = $1";
constexpr const char* kDeviceSeen = "UPDATE devices SET last_seen_at = $2, status = 'online' WHERE id = $1";
// Watched from the first heartbeat on (the scheduler raises camera_offline on silence).
constexpr const char* kUpsertLiveness =
    "INSERT INTO liveness (subject, kind, unit_id, last_heartbeat_at, offline) VALUES ($1, $2, $3, $4, 0) "
    "ON CONFLICT (subject) DO UPDATE SET last_heartbeat_at = excluded.last_heartbeat_at, offline = 0, "
    "unit_id = excluded.unit_id";
constexpr const char* kOpenOfflineAlerts =
    "SELECT id FROM alerts WHERE unit_id = $1 AND subject = $2 AND type = 'camera_offline' "
    "AND state IN ('open', 'submitted')";
constexpr const char* kSelectBreach = "SELECT since, alerted FROM device_breaches WHERE device_id = $1 AND metric = $2";
constexpr const char* kInsertBreach =
    "INSERT INTO device_breaches (device_id, metric, since, alerted) VALUES ($1, $2, $3, $4)";
constexpr const char* kUpdateBreach =
    "UPDATE device_breaches SET since = $3, alerted = $4 WHERE device_id = $1 AND metric = $2";
constexpr const char* kDeleteBreach = "DELETE FROM device_breaches WHERE device_id = $1 AND metric = $2";

const std::vector<std::string> kReadingCols = {"device_id", "at", "metric", "value"};

std::string num(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

}  // namespace

std::optional<alerts::SensorRule> device_rule(const std::string& thresholds_json, const std::string& kind,
                                              const std::string& metric) {
  auto v = parse_value(thresholds_json);
  if (!v || !v->is_object()) return std::nullopt;
  const json::value* m = v->as_object().if_contains(metric);
  if (!m || !m->is_object()) return std::nullopt;
  alerts::SensorRule r;
  r.kind = kind;
  r.metric = metric;
  const auto& o = m->as_object();
  if (auto* x = o.if_contains("min"); x && x->is_number()) r.min = x->to_number<double>();
  if (auto* x = o.if_contains("max"); x && x->is_number()) r.max = x->to_number<double>();
  if (auto* x = o.if_contains("min_duration_minutes"); x && x->is_number()) {
    r.min_duration_ms = static_cast<TimeMs>(x->to_number<double>() * kMinuteMs);
  }
  if (!r.min && !r.max) return std::nullopt;
  return r;
}

std::string format_limit(const alerts::SensorRule& r) {
  if (r.min && r.max) return num(*r.min) + "–" + num(*r.max);
  if (r.max) return "≤ " + num(*r.max);
  return "≥ " + num(*r.min);
}

Telemetry::Telemetry(alerts::AlertWriter& w) : w_(w) {}

void Telemetry::camera_seen(const alerts::UnitRef& unit, const alerts::CameraRef& cam) {
  seen(unit, "camera", cam.id, cam.name, cam.status);
}

void Telemetry::device_seen(const alerts::UnitRef& unit, const alerts::DeviceRef& dev) {
  seen(unit, "device", dev.id, dev.name, dev.status);
}

void Telemetry::seen(const alerts::UnitRef& unit, const std::string& kind, const std::string& id,
                     const std::string& name, const std::string& status) {
  storage::Connection& c = w_.conn();
  c.exec(kind == "camera" ? kCameraSeen : kDeviceSeen, {id, w_.now()});
  w_.mark_online(id);
  c.exec(kUpsertLiveness, {id, kind, unit.id, w_.now()});
  if (status != "online") back_online(unit, id, name);
}

// Closes the open camera_offline alerts of a camera or device that is back.
void Telemetry::back_online(const alerts::UnitRef& unit, const std::string& subject, const std::string& name) {
  storage::Rows open = w_.conn().query(kOpenOfflineAlerts, {unit.id, subject});
  for (const auto& row : open) {
    auto a = w_.load_for_update(row.text(0));
    if (!a) continue;
    a->state = alerts::AlertState::kClosed;
    a->handled_at = w_.now();
    a->updated_at = w_.now();
    std::string comment = name + " 已恢复在线，预警自动关闭";
    alerts::Transition t;
    t.actor = alerts::Actor::system();
    t.timeline = {{"closed", comment, ""}};
    t.handled = true;
    t.audit_action = "alert.close";
    t.audit_detail = "{\"reason\":\"back_online\"}";
    t.comment = comment;
    t.headline = "设备恢复在线";
    w_.record_transition(unit, *a, t);
  }
}

void Telemetry::reading(const alerts::UnitRef& unit, const alerts::DeviceRef& dev, TimeMs at,
                        const std::vector<std::pair<std::string, double>>& metrics, const Origin& origin) {
  device_seen(unit, dev);
  for (const auto& [metric, value] : metrics) {
    readings_.push_back({dev.id, at, metric, value});
    check(unit, dev, at, metric, value, origin);
  }
}

void Telemetry::check(const alerts::UnitRef& unit, const alerts::DeviceRef& dev, TimeMs at, const std::string& metric,
                      double value, const Origin& origin) {
  std::optional<alerts::SensorRule> rule = device_rule(dev.thresholds_json, dev.kind, metric);
  if (!rule) {
    if (const auto* r = w_.config().find_rule(dev.kind, metric)) rule = *r;
  }
  if (!rule) return;
  storage::Connection& c = w_.conn();
  bool breach = (rule->min && value < *rule->min) || (rule->max && value > *rule->max);
  storage::Rows st = c.query(kSelectBreach, {dev.id, metric});
  if (!breach) {
    if (!st.empty()) c.exec(kDeleteBreach, {dev.id, metric});
    return;
  }
  TimeMs since = st.empty() ? at : std::min(st[0].integer(0), at);
  bool alerted = !st.empty() && st[0].boolean(1);
  bool raise_now = !alerted && at - since >= rule->min_duration_ms;
  if (st.empty()) {
    c.exec(kInsertBreach, {dev.id, metric, since, std::int64_t{raise_now ? 1 : 0}});
  } else if (raise_now || since != st[0].integer(0)) {
    c.exec(kUpdateBreach, {dev.id, metric, since, std::int64_t{alerted || raise_now ? 1 : 0}});
  }
  if (!raise_now) return;
  alerts::AlertDraft d;
  d.device_id = dev.id;
  d.type = "sensor_out_of_range";
  d.occurred_at = at;
  d.source = origin.source;
  d.actor = origin.actor;
  d.audit_source = origin.audit_source;
  d.boxes_json = "[]";
  json::object detail{{"metric", metric},
                      {"value", value},
                      {"limit", format_limit(*rule)},
                      {"since", format_rfc3339(since, w_.config().utc_offset_minutes)}};
  auto out = w_.raise(unit, d);
  w_.event(out.alert_id, "threshold", d.actor,
           dev.name + " " + metric + " = " + num(value) + "（要求 " + format_limit(*rule) + "）",
           json::serialize(detail));
}

void Telemetry::flush() {
  storage::insert_rows(w_.conn(), "readings", kReadingCols, readings_);
  readings_.clear();
}

std::int64_t purge_readings(storage::Database& db, TimeMs before, int limit) {
  return db.in_transaction([&](storage::Connection& c) {
    // readings have no key: the engine's row address (rowid, ctid) names the rows
    const char* row = c.dialect() == storage::Dialect::kPostgres ? "ctid" : "rowid";
    return c.exec(std::string("DELETE FROM readings WHERE ") + row + " IN (SELECT " + row +
                      " FROM readings WHERE at < $1 ORDER BY at LIMIT $2)",
                  {before, std::int64_t{limit}});
  });
}

}  // namespace mingchu::telemetry
