// The dashboard aggregations (统计分析) of the regulator platform, always over the caller's
// scope: GET /api/v1/stats/overview.
//
// What is counted: alerts whose occurred_at lies in [from, to) (default: the 30 days up to
// now), in the caller's scope, optionally narrowed to a jurisdiction subtree (which must
// itself be in scope). `handled` are those of them now closed or dismissed; `units` the live
// units in scope; `units_with_alerts` the units with at least one counted alert; by_day
// groups by the local calendar day (AlertsConfig::utc_offset_minutes) and lists every day of
// the range, zeros included; top_units the ten units with the most alerts.
//
// How it stays fast at province scale (25 000 units, 10 million alerts): whole days come from
// two rollup tables that the ingest and lifecycle transactions keep (alert_daily by
// jurisdiction path, day, type and class; alert_unit_daily by path, day and unit); only the
// partial days at either end of the range are counted from the alerts table itself (index
// on occurred_at). Callers scoped to units (merchants) are counted from the alerts table.
// overview_exact() always counts from the alerts table: the oracle the tests compare with.
//
// Thread safety: any thread; holds references to the database and the alert service's
// configuration. Database failures throw storage::DbError.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "alerts/alerts_config.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "storage/database.hpp"

namespace mingchu::stats {

struct OverviewQuery {
  std::optional<std::string> jurisdiction_id;
  std::optional<TimeMs> from, to;
};

struct TopUnit {
  std::string unit_id;
  std::string name;
  std::int64_t count = 0;
};

struct Overview {
  TimeMs from = 0, to = 0;
  std::int64_t units = 0;
  std::int64_t units_with_alerts = 0;
  std::int64_t alerts_total = 0;
  double alerts_per_unit = 0;
  std::int64_t handled = 0;
  double handling_rate = 0;
  std::map<std::string, std::int64_t> by_type;               // every type of the taxonomy, zeros included
  std::map<int, std::int64_t> by_risk_class;                 // 1, 2, 3
  std::vector<std::pair<std::string, std::int64_t>> by_day;  // YYYY-MM-DD, every day of the range
  std::vector<TopUnit> top_units;
  std::int64_t cameras_total = 0;
  std::int64_t cameras_online = 0;
};

class StatsService {
 public:
  StatsService(storage::Database& db, const Clock& clock, const alerts::AlertsConfig& config);

  // kInvalid naming jurisdiction_id (outside scope), from/to (from ≥ to, or over 366 days).
  Result<Overview> overview(const auth::Principal& p, const OverviewQuery& q);
  // The same numbers counted from the alerts table alone.
  Result<Overview> overview_exact(const auth::Principal& p, const OverviewQuery& q);

 private:
  Result<Overview> compute(const auth::Principal& p, const OverviewQuery& q, bool use_rollups);

  storage::Database& db_;
  const Clock& clock_;
  const alerts::AlertsConfig& config_;
};

}  // namespace mingchu::stats
