// Pieces shared by the operations translation units; not part of the module's interface.
#pragma once

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "operations/model.hpp"
#include "registry/internal.hpp"
#include "storage/database.hpp"

namespace mingchu::operations::detail {

using registry::detail::nullable;
using registry::detail::nullable_real;
using registry::detail::Where;

// The unit a record belongs to, as far as operations needs it.
struct UnitRef {
  std::string id, jpath, name;
};

// The live unit with this id if the caller's scope covers it.
std::optional<UnitRef> unit_in_scope(storage::Connection& c, const auth::Principal& p, std::string_view id);

// Whether the caller keeps the unit's ledgers (the unit's merchant users, platform admins).
// Regulators read only.
inline bool keeps_ledgers(const auth::Principal& p) {
  return p.role == auth::Role::kMerchant || p.role == auth::Role::kPlatformAdmin;
}
inline Error read_only() { return Error::forbidden("regulators read the ledgers; the unit keeps them"); }

inline Error unknown_reference(std::string field, std::string_view what) {
  return registry::detail::unknown_reference(std::move(field), what);
}

// The unit a new record goes to: in the caller's scope (kInvalid "unit_id" otherwise) and
// kept by the caller (kForbidden for regulators).
inline Result<UnitRef> writable_unit(storage::Connection& c, const auth::Principal& p, std::string_view unit_id) {
  auto unit = unit_in_scope(c, p, unit_id);
  if (!unit) return unknown_reference("unit_id", "unit");
  if (!keeps_ledgers(p)) return read_only();
  return *unit;
}

// The name of the unit's own supplier supplier_id (kInvalid "supplier_id" when it does not exist
// or belongs to another unit, exactly alike).
inline Result<std::string> unit_supplier_name(storage::Connection& c, const UnitRef& unit,
                                              const std::string& supplier_id) {
  storage::Rows sup = c.query("SELECT unit_id, name FROM op_suppliers WHERE id = $1", {supplier_id});
  if (sup.empty() || sup[0].text(0) != unit.id) return unknown_reference("supplier_id", "supplier");
  return sup[0].text(1);
}

// The row of `select` + " WHERE <id_col> = $1" (locked FOR UPDATE on PostgreSQL when `lock`)
// if the caller's scope covers the record — its unit id and jpath are the row's columns
// unit_col and jpath_col —, else kNotFound(what), exactly as for a record that does not exist.
Result<storage::Row> get_in_scope(storage::Connection& c, const auth::Principal& p, std::string_view select,
                                  std::string_view id_col, std::string_view id, std::string_view what,
                                  size_t unit_col = 1, size_t jpath_col = 2, bool lock = false);

// The end of every create: the record's INSERT, then `more` (its lines, a return note…), the
// audit entry `action` on `target` with `detail`, and the commit of tx.
void insert_audited(storage::Connection& c, storage::Transaction& tx, const audit::AuditLog& audit,
                    const auth::Principal& p, std::string_view insert_sql, const storage::Params& params,
                    std::string_view action, const std::string& target, const json::object& detail,
                    const std::function<void()>& more = {});

// kConflict "device_busy" when the vehicle device is on a dispatched trip other than trip_id:
// a device's readings go to one trip's track.
Status vehicle_free(storage::Connection& c, const std::string& device_id, const std::string& trip_id);

// A list of ids stored as a JSON array of strings.
std::string ids_json(const std::vector<std::string>& ids);
std::vector<std::string> ids_from_json(std::string_view text);
inline json::array strings_json(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// Checks that each file exists, the caller may read it and it is not another unit's; gives it
// to the unit. Errors name field[i].
Status claim_files(storage::Connection& c, const auth::Principal& p, const std::string& field,
                   const std::vector<std::string>& file_ids, const UnitRef& unit);

// A device (by id only: devices belong to another module) of this unit; kInvalid otherwise.
Status check_device(storage::Connection& c, const std::string& field, const std::string& device_id,
                    const UnitRef& unit);

// The common WHERE of every ledger list: scope, unit, jurisdiction subtree, time range over
// time_col. nullopt when the jurisdiction filter names a node outside the scope (empty page).
std::optional<Where> list_where(storage::Connection& c, const auth::Principal& p, const ListFilter& f,
                                std::string_view time_col, std::string first = "1 = 1");

// Where newest-first pages start looking: the end of the filter's range, else now.
inline TimeMs anchor_of(const ListFilter& f, TimeMs now) { return f.to && *f.to < now ? *f.to : now; }

// COUNT of the rows, exact up to kListCountCap (and kListCountCap beyond).
std::int64_t capped_count(storage::Connection& c, const Where& w, std::string_view from);

// The page of rows newest first ("at DESC, id") from select_from over table: first looks in a
// short window of time before `anchor` (a day, then 4×, 16×… longer) for enough rows for the
// page, so a city's list sorts a day's rows instead of a year's; falls back to the whole range.
// The table has an index on (…, at) for the scope columns.
storage::Rows newest_page(storage::Connection& c, const Where& w, std::string_view table, std::string_view select_from,
                          PageRequest page, TimeMs anchor, std::optional<TimeMs> from);

// A ledger list newest first by "at": the total and the page of ids on the table's own
// indexes, each record then loaded by load(id) (nullopt: gone meanwhile, skipped).
template <typename T, typename Load>
Page<T> newest_list(storage::Connection& c, const auth::Principal& p, const ListFilter& f, std::string_view table,
                    TimeMs now, PageRequest page, Load load) {
  Page<T> out;
  auto w = list_where(c, p, f, "at");
  if (!w) return out;
  out.total = capped_count(c, *w, table);
  for (const auto& idr :
       newest_page(c, *w, table, "SELECT id FROM " + std::string(table), page, anchor_of(f, now), f.from)) {
    if (std::optional<T> v = load(idr.text(0))) out.items.push_back(std::move(*v));
  }
  return out;
}

// The same with the whole rows of `select` (a single-table SELECT of table) read on the
// page, each made a record by from_row(row).
template <typename T, typename FromRow>
Page<T> newest_rows(storage::Connection& c, const auth::Principal& p, const ListFilter& f, std::string_view table,
                    std::string_view select, TimeMs now, PageRequest page, FromRow from_row) {
  Page<T> out;
  auto w = list_where(c, p, f, "at");
  if (!w) return out;
  out.total = capped_count(c, *w, table);
  for (const auto& r : newest_page(c, *w, table, select, page, anchor_of(f, now), f.from))
    out.items.push_back(from_row(r));
  return out;
}

inline double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

}  // namespace mingchu::operations::detail
