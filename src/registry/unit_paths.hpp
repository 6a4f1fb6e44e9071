// Where a unit sits in the jurisdiction tree is copied, as its materialised path `jpath`, onto
// every row that belongs to the unit (its cameras, devices, staff, files, alerts, complaints,
// rollups, ...) so that scope is one range condition. UnitPaths is the one routine that keeps
// those copies true when a unit moves to another jurisdiction or is deleted.
//
// It finds the tables from the live schema (storage::table_columns), not from a list: every
// table with a `jpath` column is kept by the first rule that fits it
//   1. the table `units` itself (by id);
//   2. a table with a `unit_id` column (rows of the unit);
//   3. a table with a `camera_id` column (rows of the unit's cameras);
//   4. a table with a `device_id` column (rows of the unit's devices);
//   5. a hook registered by the module that owns the table (for rows that belong to no unit,
//      such as the per-jurisdiction alert rollups, which the alerts module recomputes);
//   6. kNotUnitPaths: tables whose jpath is not a unit's (a webhook's is its creator's scope).
// A jpath table no rule fits is "uncovered": move() throws std::logic_error (the transaction
// rolls back, nothing half-moved) and uncovered() names it, which a unit test checks against
// the full schema so that a new table cannot be missed silently.
//
// On delete (retire), every such row of the unit with a `deleted_at` column gets it set and
// every one with a `revoked_at` column (API keys of the unit) gets that set.
//
// Thread safety: add_hook() only while the program is being assembled; move(), retire() and
// uncovered() from any thread at once. Both run inside the caller's transaction.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "storage/database.hpp"

namespace mingchu::registry {

// Tables that carry a jpath which is not the path of a unit, with the reason.
inline constexpr std::string_view kNotUnitPaths[] = {
    "webhooks",  // the creator's scope: which events a receiver gets, not where a unit is
    "report_archive",    // the scope a report was made for, kept as it was made (an archive)
    "exchange_objects",  // mirrored from a lower platform, scoped by its key's jurisdiction
    "exchange_sources",  // the jurisdiction a lower platform's key reports for
};

struct UnitPathHook {
  std::string table;
  // Called after the unit's own rows moved (alerts, cameras, ... already carry new_path).
  std::function<void(storage::Connection& c, const std::string& unit_id, const std::string& old_path,
                     const std::string& new_path)>
      move;
};

class UnitPaths {
 public:
  void add_hook(UnitPathHook hook);

  // Rewrites jpath on every row of the unit (and hands the hooked tables to their hooks).
  void move(storage::Connection& c, const std::string& unit_id, const std::string& old_path,
            const std::string& new_path) const;
  // Soft-deletes (deleted_at) and revokes (revoked_at) every live row of the unit in the jpath
  // tables; answers the number of rows per table (tables with none left out).
  std::map<std::string, std::int64_t> retire(storage::Connection& c, const std::string& unit_id, TimeMs now) const;
  // The jpath tables no rule or hook keeps; empty when the routine covers the whole schema.
  std::vector<std::string> uncovered(storage::Connection& c) const;

 private:
  std::vector<UnitPathHook> hooks_;
};

}  // namespace mingchu::registry
