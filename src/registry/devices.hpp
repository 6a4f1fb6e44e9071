// IoT devices (物联设备) of a unit's kitchen: storeroom and fridge thermometers, freezers,
// hot-holding cabinets, delivery vehicles, rat boards, sample cabinets, disinfection cabinets…
// modelled generically (DOMAIN.md seed 003 §4.3.10): a kind, the metrics it reports and, when
// the defaults of its kind do not fit, its own thresholds.
//
// Scope and roles as for cameras: platform admins and regulators whose subtree holds the unit
// create, change and delete devices; the unit's merchant users read them. Objects outside the
// scope are kNotFound. status (online | offline) and last_seen_at are kept by ingest and the
// scheduler and are read-only here. When the unit moves or is deleted, UnitPaths moves or
// deletes its devices with it. Writes run in one transaction with an audit entry.
//
// Thread safety: every method may be called from any thread at once. Holds references to the
// database, clock and audit log, which must outlive it. Database failures throw DbError.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "registry/model.hpp"
#include "storage/database.hpp"

namespace mingchu::registry {

// Device kinds (物联设备类型), modelled generically: a kind names which default rules apply.
inline constexpr std::string_view kDeviceKinds[] = {
    "storeroom",    "refrigerator",    "freezer", "hot_holding", "vehicle", "rat_board",     "sample_cabinet",
    "disinfection", "oil_temperature", "gas",     "water_leak",  "uv_lamp", "morning_check", "other"};
bool valid_device_kind(std::string_view kind);
// Metric names: [a-z][a-z0-9_]{0,31}, e.g. temperature_c, humidity_pct, displaced.
bool valid_metric_name(std::string_view name);

struct Device {
  std::string id;
  std::string unit_id;
  std::string jpath;
  std::string name;
  std::string kind;             // kDeviceKinds
  std::string thresholds_json;  // {"temperature_c": {"min": 0, "max": 8, "min_duration_minutes": 10}}
  std::string status = "offline";
  std::optional<TimeMs> last_seen_at;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

// A create (every field but thresholds required) or a PATCH (fields present change).
struct DeviceInput {
  std::optional<std::string> unit_id, name, kind, thresholds_json;
};

struct DeviceFilter {
  std::optional<std::string> unit_id;
  std::optional<std::string> jurisdiction_id;
  std::optional<std::string> kind;
  std::optional<std::string> status;
};

// The shape of a device body: unit_id, name (1..64), kind, thresholds (object of metric →
// {min?, max?, min_duration_minutes?}, min ≤ max). 422 naming the field.
Result<DeviceInput> parse_device_input(const json::object& body, bool patch);
json::object to_json(const Device& d, int utc_offset_minutes);

class DeviceService {
 public:
  DeviceService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit);

  Result<Device> create(const auth::Principal& p, const DeviceInput& in);
  Result<Device> get(const auth::Principal& p, std::string_view id);
  Result<Page<Device>> list(const auth::Principal& p, const DeviceFilter& f, PageRequest page);
  Result<Device> update(const auth::Principal& p, std::string_view id, const DeviceInput& in);
  Status remove(const auth::Principal& p, std::string_view id);

 private:
  storage::Database& db_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
};

}  // namespace mingchu::registry
