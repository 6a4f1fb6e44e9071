// Pieces shared by the operations translation units; not part of the module's interface.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// A list of ids stored as a JSON array of strings.
std::string ids_json(const std::vector<std::string>& ids);
std::vector<std::string> ids_from_json(std::string_view text);

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

inline double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

}  // namespace mingchu::operations::detail
