#include "registry/unit_paths.hpp"

#include <algorithm>
#include <stdexcept>

#include "storage/schema.hpp"

namespace mingchu::registry {
namespace {

enum class Rule { kUnitRow, kByUnit, kByCamera, kByDevice, kHook, kNotUnit, kUncovered };

struct Table {
  std::string name;
  Rule rule = Rule::kUncovered;
  bool deleted_at = false, updated_at = false, revoked_at = false;
};

// The rows of the unit in a table kept by rule 1–4, as a WHERE condition on $1 = unit id.
std::string rows_of_unit(Rule rule) {
  switch (rule) {
    case Rule::kUnitRow:
      return "id = $1";
    case Rule::kByUnit:
      return "unit_id = $1";
    case Rule::kByCamera:
      return "camera_id IN (SELECT id FROM cameras WHERE unit_id = $1)";
    case Rule::kByDevice:
      return "device_id IN (SELECT id FROM devices WHERE unit_id = $1)";
    default:
      return "";
  }
}

std::vector<Table> classify(storage::Connection& c, const std::vector<UnitPathHook>& hooks) {
  std::vector<Table> out;
  for (const auto& [name, cols] : storage::table_columns(c)) {
    if (!cols.count("jpath")) continue;
    Table t;
    t.name = name;
    t.deleted_at = cols.count("deleted_at") > 0;
    t.updated_at = cols.count("updated_at") > 0;
    t.revoked_at = cols.count("revoked_at") > 0;
    // (a named copy: clang 14 cannot capture a structured binding)
    const std::string& table = name;
    bool hooked = std::any_of(hooks.begin(), hooks.end(), [&](const UnitPathHook& h) { return h.table == table; });
    bool not_unit = std::find(std::begin(kNotUnitPaths), std::end(kNotUnitPaths), name) != std::end(kNotUnitPaths);
    if (name == "units") {
      t.rule = Rule::kUnitRow;
    } else if (hooked) {  // the owner knows better than the generic rules
      t.rule = Rule::kHook;
    } else if (not_unit) {
      t.rule = Rule::kNotUnit;
    } else if (cols.count("unit_id")) {
      t.rule = Rule::kByUnit;
    } else if (cols.count("camera_id")) {
      t.rule = Rule::kByCamera;
    } else if (cols.count("device_id")) {
      t.rule = Rule::kByDevice;
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

void UnitPaths::add_hook(UnitPathHook hook) { hooks_.push_back(std::move(hook)); }

void UnitPaths::move(storage::Connection& c, const std::string& unit_id, const std::string& old_path,
                     const std::string& new_path) const {
  std::vector<Table> tables = classify(c, hooks_);
  for (const Table& t : tables) {
    if (t.rule == Rule::kUncovered) {
      throw std::logic_error("table '" + t.name + "' carries jpath but no rule of registry::UnitPaths keeps it");
    }
  }
  // Camera- and device-keyed tables read cameras/devices by unit_id only, so the order of the
  // updates does not matter; hooks run last and see every row of the unit at its new path.
  for (const Table& t : tables) {
    std::string where = rows_of_unit(t.rule);
    if (where.empty()) continue;
    c.exec("UPDATE " + t.name + " SET jpath = $2 WHERE " + where + " AND jpath <> $2", {unit_id, new_path});
  }
  for (const UnitPathHook& h : hooks_) h.move(c, unit_id, old_path, new_path);
}

std::map<std::string, std::int64_t> UnitPaths::retire(storage::Connection& c, const std::string& unit_id,
                                                      TimeMs now) const {
  std::map<std::string, std::int64_t> out;
  for (const Table& t : classify(c, hooks_)) {
    std::string where = rows_of_unit(t.rule);
    if (where.empty()) continue;
    std::int64_t n = 0;
    if (t.deleted_at) {
      n += c.exec("UPDATE " + t.name + " SET deleted_at = $2" + (t.updated_at ? ", updated_at = $2" : "") + " WHERE " +
                      where + " AND deleted_at IS NULL",
                  {unit_id, now});
    }
    if (t.revoked_at) {
      n += c.exec("UPDATE " + t.name + " SET revoked_at = $2 WHERE " + where + " AND revoked_at IS NULL",
                  {unit_id, now});
    }
    if (n > 0 && t.rule != Rule::kUnitRow) out[t.name] = n;
  }
  return out;
}

std::vector<std::string> UnitPaths::uncovered(storage::Connection& c) const {
  std::vector<std::string> out;
  for (const Table& t : classify(c, hooks_)) {
    if (t.rule == Rule::kUncovered) out.push_back(t.name);
  }
  return out;
}

}  // namespace mingchu::registry
