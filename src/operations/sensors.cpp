// Sensor history: server-side downsampling over raw readings and hourly rollups, and the
// retention pass that folds old readings into rollups.
#include "operations/sensors.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"

namespace mingchu::operations {

namespace {

constexpr const char* kLeaseName = "sensor_compaction";
constexpr const char* kEnsureLease =
    "INSERT INTO leases (name, holder, until) VALUES ($1, '', 0) ON CONFLICT (name) DO NOTHING";
constexpr const char* kClaimLease =
    "UPDATE leases SET holder = $2, until = $3 WHERE name = $1 AND (until < $4 OR holder = $2)";
constexpr const char* kReleaseLease = "UPDATE leases SET until = 0 WHERE name = $1 AND holder = $2";

// One device's readings before the cutoff, folded into its hourly rollups (added to what an
// earlier pass left in the same hour: a late reading joins its hour).
constexpr const char* kFold =
    "INSERT INTO reading_rollups (device_id, metric, bucket, n, min_value, max_value, sum_value) "
    "SELECT device_id, metric, at - (at % 3600000), COUNT(*), MIN(value), MAX(value), SUM(value) FROM readings "
    "WHERE device_id = $1 AND at < $2 GROUP BY device_id, metric, at - (at % 3600000) "
    "ON CONFLICT (device_id, metric, bucket) DO UPDATE SET n = reading_rollups.n + excluded.n, "
    "min_value = CASE WHEN excluded.min_value < reading_rollups.min_value THEN excluded.min_value "
    "ELSE reading_rollups.min_value END, "
    "max_value = CASE WHEN excluded.max_value > reading_rollups.max_value THEN excluded.max_value "
    "ELSE reading_rollups.max_value END, sum_value = reading_rollups.sum_value + excluded.sum_value";

struct Agg {
  double min = 0, max = 0, sum = 0;
  std::int64_t n = 0;
  void add(double mn, double mx, double s, std::int64_t k) {
    if (n == 0 || mn < min) min = mn;
    if (n == 0 || mx > max) max = mx;
    sum += s;
    n += k;
  }
};

std::optional<double> opt_number(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_number()) return std::nullopt;
  return it->value().to_number<double>();
}

}  // namespace

SensorHistory::SensorHistory(storage::Database& db, const Clock& clock, registry::DeviceService& devices,
                             const alerts::AlertsConfig* alerts, SensorConfig config)
    : db_(db), clock_(clock), devices_(devices), alerts_(alerts), config_(std::move(config)) {}

SensorHistory::~SensorHistory() { stop(); }

json::value SensorHistory::thresholds_of(const registry::Device& d, const std::string& metric) const {
  auto own = parse_object(d.thresholds_json);
  if (own) {
    auto it = own->find(metric);
    if (it != own->end() && it->value().is_object()) {
      const auto& t = it->value().as_object();
      json::object out{{"source", "device"}};
      if (auto v = opt_number(t, "min")) out["min"] = *v;
      if (auto v = opt_number(t, "max")) out["max"] = *v;
      if (auto v = opt_number(t, "min_duration_minutes")) out["min_duration_minutes"] = *v;
      return out;
    }
  }
  if (alerts_) {
    if (const auto* rule = alerts_->find_rule(d.kind, metric)) {
      json::object out{{"source", "rule"}};
      if (rule->min) out["min"] = *rule->min;
      if (rule->max) out["max"] = *rule->max;
      out["min_duration_minutes"] = static_cast<double>(rule->min_duration_ms) / kMinuteMs;
      return out;
    }
  }
  return nullptr;
}

Result<json::object> SensorHistory::history(const auth::Principal& p, std::string_view device_id,
                                            const HistoryQuery& q) {
  auto dev = devices_.get(p, device_id);
  if (!dev) return dev.error();
  const TimeMs now = clock_.now_ms();
  const TimeMs to = q.to.value_or(now);
  const TimeMs from = q.from.value_or(to - kDayMs);
  if (to <= from) return Error::invalid("to", "invalid_range", "field 'to' must be after 'from'");
  if (to - from > kMaxRangeMs) return Error::invalid("from", "range_too_long", "the range is at most 731 days");
  if (q.buckets < 10 || q.buckets > kMaxBuckets) {
    return Error::invalid("buckets", "out_of_range", "buckets must be between 10 and 2000");
  }
  std::string metric;
  if (q.metric) {
    if (!registry::valid_metric_name(*q.metric)) {
      return Error::invalid("metric", "invalid_metric_name", "metric names are 1–32 of a-z, 0-9 and _");
    }
    metric = *q.metric;
  } else {
    auto own = parse_object(dev->thresholds_json);
    metric = own && !own->empty() ? std::string(own->begin()->key()) : "temperature_c";
  }
  // bucket: whole minutes, enough that the range fits in q.buckets
  TimeMs bucket = (to - from + q.buckets - 1) / q.buckets;
  bucket = std::max<TimeMs>(kMinuteMs, (bucket + kMinuteMs - 1) / kMinuteMs * kMinuteMs);

  std::map<std::int64_t, Agg> points;
  storage::Conn c = db_.acquire();
  const storage::Params params{dev->id, metric, from, to, bucket};
  for (const auto& r : c->query("SELECT (bucket - $3) / $5, MIN(min_value), MAX(max_value), SUM(sum_value), SUM(n) "
                                "FROM reading_rollups WHERE device_id = $1 AND metric = $2 AND bucket >= $3 AND "
                                "bucket < $4 GROUP BY 1",
                                params)) {
    points[r.integer(0)].add(r.real(1), r.real(2), r.real(3), r.integer(4));
  }
  for (const auto& r : c->query("SELECT (at - $3) / $5, MIN(value), MAX(value), SUM(value), COUNT(*) FROM readings "
                                "WHERE device_id = $1 AND metric = $2 AND at >= $3 AND at < $4 GROUP BY 1",
                                params)) {
    points[r.integer(0)].add(r.real(1), r.real(2), r.real(3), r.integer(4));
  }
  json::array pts;
  pts.reserve(points.size());
  const int off = config_.utc_offset_minutes;
  for (const auto& [k, a] : points) {
    pts.push_back(json::object{{"at", format_rfc3339(from + k * bucket, off)},
                               {"min", a.min},
                               {"max", a.max},
                               {"avg", std::round(a.sum / static_cast<double>(a.n) * 1000.0) / 1000.0},
                               {"n", a.n}});
  }
  json::array alarms;
  for (const auto& r : c->query("SELECT id, occurred_at, last_seen_at, state FROM alerts WHERE unit_id = $1 AND "
                                "device_id = $2 AND type = 'sensor_out_of_range' AND occurred_at < $4 AND "
                                "last_seen_at >= $3 ORDER BY occurred_at LIMIT 500",
                                {dev->unit_id, dev->id, from, to})) {
    alarms.push_back(json::object{{"alert_id", r.text(0)},
                                  {"at", format_rfc3339(r.integer(1), off)},
                                  {"last_seen_at", format_rfc3339(r.integer(2), off)},
                                  {"state", r.text(3)}});
  }
  const TimeMs raw_since = now - static_cast<TimeMs>(config_.raw_days) * kDayMs;
  return json::object{{"device_id", dev->id},
                      {"unit_id", dev->unit_id},
                      {"name", dev->name},
                      {"kind", dev->kind},
                      {"metric", metric},
                      {"from", format_rfc3339(from, off)},
                      {"to", format_rfc3339(to, off)},
                      {"bucket_seconds", bucket / kSecondMs},
                      {"raw_since", format_rfc3339(raw_since, off)},
                      {"thresholds", thresholds_of(*dev, metric)},
                      {"points", std::move(pts)},
                      {"alarms", std::move(alarms)}};
}

Result<json::object> SensorHistory::latest(const auth::Principal& p, std::string_view device_id) {
  auto dev = devices_.get(p, device_id);
  if (!dev) return dev.error();
  storage::Conn c = db_.acquire();
  storage::Rows last = c->query("SELECT MAX(at) FROM readings WHERE device_id = $1", {dev->id});
  json::object metrics;
  json::value at = nullptr;
  if (!last.empty() && !last[0].is_null(0)) {
    TimeMs t = last[0].integer(0);
    at = format_rfc3339(t, config_.utc_offset_minutes);
    for (const auto& r :
         c->query("SELECT metric, value FROM readings WHERE device_id = $1 AND at = $2", {dev->id, t})) {
      metrics[r.text(0)] = r.real(1);
    }
  }
  return json::object{{"device_id", dev->id}, {"at", at}, {"metrics", std::move(metrics)}};
}

TimeMs SensorHistory::raw_cutoff(TimeMs now) const {
  int days = config_.raw_days;
  if (config_.retention_days > 0 && config_.retention_days < days) days = config_.retention_days;
  return (now - static_cast<TimeMs>(days) * kDayMs) / kHourMs * kHourMs;
}

CompactStats SensorHistory::compact() {
  CompactStats st;
  const TimeMs now = clock_.now_ms();
  const TimeMs cutoff = raw_cutoff(now);
  const TimeMs drop_before = now - static_cast<TimeMs>(config_.rollup_days) * kDayMs;
  storage::Conn c = db_.acquire();
  c->exec(kEnsureLease, {std::string(kLeaseName)});
  if (c->exec(kClaimLease, {std::string(kLeaseName), config_.node_id, now + 30 * kMinuteMs, now}) == 0) return st;
  st.ran = true;
  std::vector<std::string> ids;
  for (const auto& r : c->query("SELECT id FROM devices")) ids.push_back(r.text(0));
  for (const auto& id : ids) {
    storage::Transaction tx(*c);
    c->exec(kFold, {id, cutoff});
    std::int64_t n = c->exec("DELETE FROM readings WHERE device_id = $1 AND at < $2", {id, cutoff});
    tx.commit();
    if (n > 0) {
      ++st.devices;
      st.readings_folded += n;
    }
  }
  st.rollups_dropped = c->exec("DELETE FROM reading_rollups WHERE bucket < $1", {drop_before});
  c->exec(kReleaseLease, {std::string(kLeaseName), config_.node_id});
  return st;
}

void SensorHistory::start() {
  // retention of raw readings happens here only: with a retention cap it runs at least hourly
  const int interval = config_.compact_interval_seconds > 0 ? config_.compact_interval_seconds
                       : config_.retention_days > 0         ? 3600
                                                            : 0;
  if (interval <= 0 || thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this, interval] {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      if (cv_.wait_for(lk, std::chrono::seconds(interval), [this] { return stopping_; })) break;
      lk.unlock();
      try {
        CompactStats st = compact();
        if (st.readings_folded > 0 || st.rollups_dropped > 0) {
          log::info("sensor readings compacted", {{"devices", std::to_string(st.devices)},
                                                  {"readings", std::to_string(st.readings_folded)},
                                                  {"rollups_dropped", std::to_string(st.rollups_dropped)}});
        }
      } catch (const std::exception& e) {
        log::error("sensor compaction failed", {{"error", e.what()}});
      }
      lk.lock();
    }
  });
}

void SensorHistory::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace mingchu::operations
