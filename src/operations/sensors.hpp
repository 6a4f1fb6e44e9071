// Sensor history for people (seed 003 §5–6, issue 11 item 11): a device's readings of one
// metric over a time range, downsampled on the server into at most `buckets` buckets of
// min/max/avg/count, with the device's thresholds (its own, else the sensor rule of its kind)
// and the sensor_out_of_range alarms raised in the range — what a chart draws.
//
// Retention: raw readings older than raw_days (or retention.readings_days when that is
// shorter) are folded into hourly rollups (reading_rollups: min, max, sum, count per device,
// metric and hour) and deleted in the same transaction; rollups older than rollup_days are
// dropped. This is the only place that deletes readings: the retention job leaves the table
// alone, so no raw reading is ever deleted before it was folded. History reads both and merges them, so a year of
// minute readings costs ~raw_days of raw rows plus one row an hour. compact() does one pass under a lease (several
// nodes never fold the same rows twice); start() runs it every interval.
//
// Scope: the device's (registry::DeviceService::get); outside it kNotFound.
// Thread safety: history() and compact() from any thread; start()/stop() from one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "alerts/alerts_config.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "registry/devices.hpp"
#include "storage/database.hpp"

namespace mingchu::operations {

struct SensorConfig {
  int raw_days = 30;                   // operations.sensor_raw_days: raw readings kept this long
  int rollup_days = 730;               // operations.sensor_rollup_days: hourly rollups kept this long
  int compact_interval_seconds = 600;  // operations.sensor_compact_interval_seconds (0: never by itself,
                                       // unless retention_days asks for it: then hourly)
  int retention_days = 0;              // retention.readings_days: raw readings never kept longer (0: no cap)
  int utc_offset_minutes = 480;
  std::string node_id = "node";
};

struct HistoryQuery {
  std::optional<std::string> metric;  // default: the first metric with a threshold, else temperature_c
  std::optional<TimeMs> from, to;     // default: the last 24 hours
  int buckets = 300;                  // at most this many points
};

struct CompactStats {
  bool ran = false;  // false: another node holds the lease
  std::int64_t devices = 0, readings_folded = 0, rollups_dropped = 0;
};

class SensorHistory {
 public:
  static constexpr TimeMs kMaxRangeMs = 731 * kDayMs;
  static constexpr int kMaxBuckets = 2000;

  SensorHistory(storage::Database& db, const Clock& clock, registry::DeviceService& devices,
                const alerts::AlertsConfig* alerts, SensorConfig config = {});
  ~SensorHistory();

  // kInvalid naming metric/from/to/buckets; kNotFound outside scope.
  Result<json::object> history(const auth::Principal& p, std::string_view device_id, const HistoryQuery& q);
  // The newest reading of each metric: {at, metrics: {name: value}} (at null when none).
  Result<json::object> latest(const auth::Principal& p, std::string_view device_id);

  CompactStats compact();
  // Raw readings before this are folded and deleted: min(raw_days, retention_days) days ago,
  // on a whole hour.
  TimeMs raw_cutoff(TimeMs now) const;
  void start();
  void stop();
  const SensorConfig& config() const { return config_; }

 private:
  json::value thresholds_of(const registry::Device& d, const std::string& metric) const;

  storage::Database& db_;
  const Clock& clock_;
  registry::DeviceService& devices_;
  const alerts::AlertsConfig* alerts_;
  SensorConfig config_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mingchu::operations
