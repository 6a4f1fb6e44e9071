// Telemetry: what devices and cameras report besides alerts — liveness (heartbeats, back
// online) and sensor readings checked against threshold/duration rules (ARCHITECTURE.md
// "telemetry"). The ingest module parses and authorises; this module decides what a
// heartbeat or a reading means and writes it through the caller's AlertWriter, inside the
// caller's transaction (the ingest batch), so that a reading and the alert it raises commit
// together.
//
// Rules for a metric: the device's own thresholds (registry JSON, `{"temperature_c": {"min":
// 0, "max": 8, "min_duration_minutes": 10}}`) first, else the configured rule of its kind
// (config/alerts.toml). A value out of range opens a breach (device_breaches); a breach that
// lasts min_duration raises one `sensor_out_of_range` alert; a value back in range ends it.
//
// Thread safety: a Telemetry object belongs to one transaction and one thread, like the
// AlertWriter it writes through. Failure: database errors are thrown as storage::DbError.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alerts/alerts_config.hpp"
#include "alerts/writer.hpp"

namespace mingchu::telemetry {

// Who reported, as alerts raised from it record it.
struct Origin {
  std::string source;  // alerts.source (the ingest source key)
  alerts::Actor actor;
  std::string audit_source;
};

// A device's own threshold for a metric from its thresholds JSON; nullopt when it has none
// (malformed entries are ignored: they are validated when written).
std::optional<alerts::SensorRule> device_rule(const std::string& thresholds_json, const std::string& kind,
                                              const std::string& metric);
// "0–8", "≤ 8", "≥ 0".
std::string format_limit(const alerts::SensorRule& r);

class Telemetry {
 public:
  explicit Telemetry(alerts::AlertWriter& w);

  // A camera was heard from now: last seen, online, watched for silence (liveness); an open
  // camera_offline alert of it is closed when it was not online.
  void camera_seen(const alerts::UnitRef& unit, const alerts::CameraRef& cam);
  // The same for a device.
  void device_seen(const alerts::UnitRef& unit, const alerts::DeviceRef& dev);
  // A reading of a device (which is seen by it): buffered reading rows, and every metric
  // checked against its rule.
  void reading(const alerts::UnitRef& unit, const alerts::DeviceRef& dev, TimeMs at,
               const std::vector<std::pair<std::string, double>>& metrics, const Origin& origin);
  // Writes the buffered readings. Call once, before the transaction commits.
  void flush();

 private:
  void seen(const alerts::UnitRef& unit, const std::string& kind, const std::string& id, const std::string& name,
            const std::string& status);
  void back_online(const alerts::UnitRef& unit, const std::string& subject, const std::string& name);
  void check(const alerts::UnitRef& unit, const alerts::DeviceRef& dev, TimeMs at, const std::string& metric,
             double value, const Origin& origin);

  alerts::AlertWriter& w_;
  std::vector<storage::Params> readings_;
};

// Deletes up to `limit` readings taken before `before` (oldest first); returns how many. Not
// called by the server: operations::SensorHistory owns the readings table (it folds them into
// hourly rollups before it deletes them, within retention.readings_days); kept for tools.
std::int64_t purge_readings(storage::Database& db, TimeMs before, int limit);

}  // namespace mingchu::telemetry
