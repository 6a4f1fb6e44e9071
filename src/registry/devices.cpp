#include "registry/devices.hpp"

#include <algorithm>
#include <cmath>

#include "auth/auth_service.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"

namespace mingchu::registry {
namespace {

constexpr const char* kSelectDevices =
    "SELECT id, unit_id, jpath, name, kind, thresholds, status, last_seen_at, created_at, updated_at FROM devices";
constexpr const char* kInsertDevice =
    "INSERT INTO devices (id, unit_id, jpath, name, kind, thresholds, status, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, 'offline', $7, $7)";
constexpr const char* kUpdateDevice =
    "UPDATE devices SET name = $2, kind = $3, thresholds = $4, updated_at = $5 WHERE id = $1";
constexpr const char* kDeleteDevice = "UPDATE devices SET deleted_at = $2, updated_at = $2 WHERE id = $1";
constexpr const char* kSelectUnit = "SELECT jpath FROM units WHERE id = $1 AND deleted_at IS NULL";
constexpr const char* kSelectJurisdictionPath = "SELECT path FROM jurisdictions WHERE id = $1";

Device from_row(const storage::Row& r) {
  Device d;
  d.id = r.text(0);
  d.unit_id = r.text(1);
  d.jpath = r.text(2);
  d.name = r.text(3);
  d.kind = r.text(4);
  d.thresholds_json = r.text(5);
  d.status = r.text(6);
  d.last_seen_at = r.opt_integer(7);
  d.created_at = r.integer(8);
  d.updated_at = r.integer(9);
  return d;
}

bool unit_scoped(const auth::Principal& p) { return p.unit_scoped(); }
bool manages(const auth::Principal& p) { return !unit_scoped(p) && !p.jpath.empty() && !p.ingest_only; }

std::optional<Device> load(storage::Connection& c, std::string_view id) {
  if (!plausible_id(id)) return std::nullopt;
  storage::Rows rows =
      c.query(std::string(kSelectDevices) + " WHERE id = $1 AND deleted_at IS NULL", {std::string(id)});
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

Result<std::string> parse_thresholds(const json::value& v) {
  if (!v.is_object()) return Error::invalid("thresholds", "wrong_type", "thresholds must be an object");
  const auto& o = v.as_object();
  if (o.size() > 32) return Error::invalid("thresholds", "too_many_items", "at most 32 metrics");
  json::object out;
  for (const auto& kv : o) {
    std::string metric(kv.key());
    std::string field = "thresholds." + metric;
    if (!valid_metric_name(metric)) {
      return Error::invalid("thresholds", "invalid_metric_name", "metric names are 1–32 of a-z, 0-9 and _");
    }
    if (!kv.value().is_object()) return Error::invalid(field, "wrong_type", "field '" + field + "' must be an object");
    ObjectReader rd(kv.value().as_object(), field);
    auto mn = rd.opt_number("min", -1e6, 1e6);
    auto mx = rd.opt_number("max", -1e6, 1e6);
    auto dur = rd.opt_int("min_duration_minutes", 0, 24 * 60);
    if (auto st = rd.finish(); !st) return st.error();
    if (!mn && !mx) return Error::invalid(field + ".max", "missing_field", "a threshold needs min, max or both");
    if (mn && mx && *mn > *mx) return Error::invalid(field + ".min", "out_of_range", "min must not be above max");
    json::object t;
    if (mn) t["min"] = *mn;
    if (mx) t["max"] = *mx;
    if (dur) t["min_duration_minutes"] = *dur;
    out[metric] = std::move(t);
  }
  return json::serialize(out);
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(),
                     [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'; });
}
bool valid_device_kind(std::string_view kind) {
  return std::find(std::begin(kDeviceKinds), std::end(kDeviceKinds), kind) != std::end(kDeviceKinds);
}

Result<DeviceInput> parse_device_input(const json::object& body, bool patch) {
  ObjectReader rd(body);
  DeviceInput in;
  in.unit_id = rd.opt_string("unit_id", 64);
  in.name = rd.opt_string("name", 64);
  in.kind = rd.opt_string("kind", 32);
  rd.allow("thresholds");
  if (auto st = rd.finish(); !st) return st.error();
  if (patch && in.unit_id) return Error::invalid("unit_id", "not_changeable", "a device cannot move to another unit");
  if (!patch) {
    for (auto [field, v] :
         {std::pair{"unit_id", &in.unit_id}, std::pair{"name", &in.name}, std::pair{"kind", &in.kind}}) {
      if (!*v) return Error::invalid(field, "missing_field", std::string("field '") + field + "' is required");
    }
  }
  if (in.name && in.name->empty()) return Error::invalid("name", "empty_field", "field 'name' must not be empty");
  if (in.kind && !valid_device_kind(*in.kind)) {
    return Error::invalid("kind", "invalid_kind",
                          "kind must be one of storeroom, refrigerator, freezer, hot_holding, vehicle, rat_board, "
                          "sample_cabinet, disinfection, oil_temperature, gas, water_leak, uv_lamp, morning_check, "
                          "other");
  }
  if (const json::value* t = body.if_contains("thresholds"); t && !t->is_null()) {
    auto parsed = parse_thresholds(*t);
    if (!parsed) return parsed.error();
    in.thresholds_json = *parsed;
  } else if (t) {
    in.thresholds_json = "{}";  // null clears them
  }
  return in;
}

json::object to_json(const Device& d, int utc_offset_minutes) {
  json::value thresholds = json::object();
  if (auto v = parse_value(d.thresholds_json)) thresholds = std::move(*v);
  return json::object{{"id", d.id},
                      {"unit_id", d.unit_id},
                      {"name", d.name},
                      {"kind", d.kind},
                      {"thresholds", std::move(thresholds)},
                      {"status", d.status},
                      {"last_seen_at", d.last_seen_at ? json::value(format_rfc3339(*d.last_seen_at, utc_offset_minutes))
                                                      : json::value(nullptr)},
                      {"created_at", format_rfc3339(d.created_at, utc_offset_minutes)},
                      {"updated_at", format_rfc3339(d.updated_at, utc_offset_minutes)}};
}

DeviceService::DeviceService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit)
    : db_(db), clock_(clock), audit_(audit) {}

Result<Device> DeviceService::create(const auth::Principal& p, const DeviceInput& in) {
  if (!manages(p)) return Error::forbidden("only regulators and platform admins manage devices");
  return db_.in_transaction([&](storage::Connection& c) -> Result<Device> {
    storage::Rows u;
    if (plausible_id(*in.unit_id)) u = c.query(kSelectUnit, {*in.unit_id});
    if (u.empty() || !p.covers(u[0].text(0), *in.unit_id)) {
      return Error::invalid("unit_id", "unknown_unit", "field 'unit_id' names no unit in your scope");
    }
    Device d;
    d.id = new_id("dev");
    d.unit_id = *in.unit_id;
    d.jpath = u[0].text(0);
    d.name = *in.name;
    d.kind = *in.kind;
    d.thresholds_json = in.thresholds_json.value_or("{}");
    d.created_at = d.updated_at = clock_.now_ms();
    c.exec(kInsertDevice, {d.id, d.unit_id, d.jpath, d.name, d.kind, d.thresholds_json, d.created_at});
    audit_.append(c, auth::audit_entry(p, "device.create", "device:" + d.id, "{\"unit_id\":\"" + d.unit_id + "\"}"));
    return d;
  });
}

Result<Device> DeviceService::get(const auth::Principal& p, std::string_view id) {
  storage::Conn c = db_.acquire();
  auto d = load(*c, id);
  if (!d || !p.covers(d->jpath, d->unit_id)) return Error::not_found("device");
  return *d;
}

Result<Page<Device>> DeviceService::list(const auth::Principal& p, const DeviceFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  std::string where = " WHERE deleted_at IS NULL";
  storage::Params ps;
  auth::append_scope(p, "jpath", "unit_id", where, ps);
  auto bind = [&](storage::Value v) {
    ps.push_back(std::move(v));
    return "$" + std::to_string(ps.size());
  };
  if (f.jurisdiction_id) {
    storage::Rows r;
    if (plausible_id(*f.jurisdiction_id)) r = c->query(kSelectJurisdictionPath, {*f.jurisdiction_id});
    if (r.empty() || !p.covers_path(r[0].text(0))) {
      return Error::invalid("jurisdiction_id", "unknown_jurisdiction",
                            "field 'jurisdiction_id' names no jurisdiction in your scope");
    }
    where += " AND jpath >= " + bind(r[0].text(0));
    where += " AND jpath < " + bind(auth::path_upper(r[0].text(0)));
  }
  if (f.unit_id) where += " AND unit_id = " + bind(*f.unit_id);
  if (f.kind) where += " AND kind = " + bind(*f.kind);
  if (f.status) where += " AND status = " + bind(*f.status);
  Page<Device> out;
  out.total = c->query("SELECT COUNT(*) FROM devices" + where, ps)[0].integer(0);
  std::string tail = " ORDER BY unit_id, name, id LIMIT " + bind(static_cast<std::int64_t>(page.page_size));
  tail += " OFFSET " + bind(page.offset());
  for (const auto& r : c->query(std::string(kSelectDevices) + where + tail, ps)) out.items.push_back(from_row(r));
  return out;
}

Result<Device> DeviceService::update(const auth::Principal& p, std::string_view id, const DeviceInput& in) {
  return db_.in_transaction([&](storage::Connection& c) -> Result<Device> {
    auto d = load(c, id);
    if (!d || !p.covers(d->jpath, d->unit_id)) return Error::not_found("device");
    if (!manages(p)) return Error::forbidden("only regulators and platform admins manage devices");
    if (in.name) d->name = *in.name;
    if (in.kind) d->kind = *in.kind;
    if (in.thresholds_json) d->thresholds_json = *in.thresholds_json;
    d->updated_at = clock_.now_ms();
    c.exec(kUpdateDevice, {d->id, d->name, d->kind, d->thresholds_json, d->updated_at});
    audit_.append(c, auth::audit_entry(p, "device.update", "device:" + d->id));
    return *d;
  });
}

Status DeviceService::remove(const auth::Principal& p, std::string_view id) {
  return db_.in_transaction([&](storage::Connection& c) -> Status {
    auto d = load(c, id);
    if (!d || !p.covers(d->jpath, d->unit_id)) return Error::not_found("device");
    if (!manages(p)) return Error::forbidden("only regulators and platform admins manage devices");
    c.exec(kDeleteDevice, {d->id, clock_.now_ms()});
    audit_.append(c, auth::audit_entry(p, "device.delete", "device:" + d->id));
    return ok_status();
  });
}

}  // namespace mingchu::registry
