#include "stats/stats_service.hpp"

#include <algorithm>
#include <unordered_map>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "storage/sql.hpp"

namespace mingchu::stats {

using storage::Params;
using storage::Value;

namespace {

constexpr const char* kSelectJurisdictionPath = "SELECT path FROM jurisdictions WHERE id = $1";
constexpr TimeMs kMaxRangeMs = 366 * kDayMs;
constexpr size_t kTopUnits = 10;
constexpr std::int64_t kSpanDays = 16;  // alert_unit_span: span = day / 16

// The caller's scope as SQL over given columns: a jurisdiction path prefix or a unit list.
struct Scope {
  std::optional<std::string> path;  // "/" = everything
  std::vector<std::string> unit_ids;
  bool by_units = false;

  void append(std::string& sql, Params& ps, const char* jpath_col, const char* unit_col) const {
    if (by_units) {
      auth::append_units(unit_col, unit_ids, sql, ps);
    } else if (path) {
      auth::append_subtree(jpath_col, *path, sql, ps);
    }
  }
};

struct Tally {
  std::map<std::pair<std::string, int>, std::pair<std::int64_t, std::int64_t>> by_type_class;  // created, handled
  std::map<std::int64_t, std::int64_t> by_day;
  std::unordered_map<std::string, std::int64_t> by_unit;
};

}  // namespace

StatsService::StatsService(storage::Database& db, const Clock& clock, const alerts::AlertsConfig& config)
    : db_(db), clock_(clock), config_(config) {}

Result<Overview> StatsService::overview(const auth::Principal& p, const OverviewQuery& q) {
  return compute(p, q, true);
}

Result<Overview> StatsService::overview_exact(const auth::Principal& p, const OverviewQuery& q) {
  return compute(p, q, false);
}

Result<Overview> StatsService::compute(const auth::Principal& p, const OverviewQuery& q, bool use_rollups) {
  Overview o;
  o.to = q.to.value_or(clock_.now_ms());
  o.from = q.from.value_or(o.to - 30 * kDayMs);
  if (o.from >= o.to) return Error::invalid("from", "invalid_range", "from must be before to");
  if (o.to - o.from > kMaxRangeMs)
    return Error::invalid("from", "range_too_long", "the range may span at most 366 days");
  const int offset = config_.utc_offset_minutes;
  const TimeMs offset_ms = offset * kMinuteMs;

  storage::Conn c = db_.acquire();
  Scope scope;
  scope.by_units = p.unit_scoped();
  if (scope.by_units) {
    scope.unit_ids = p.unit_ids;
  } else {
    if (p.jpath.empty()) return Error::forbidden("no scope to count in");
    scope.path = p.jpath;
  }
  if (q.jurisdiction_id) {
    storage::Rows r;
    if (plausible_id(*q.jurisdiction_id)) r = c->query(kSelectJurisdictionPath, {*q.jurisdiction_id});
    if (r.empty() || !p.covers_path(r[0].text(0))) {
      return Error::invalid("jurisdiction_id", "unknown_jurisdiction",
                            "field 'jurisdiction_id' names no jurisdiction in your scope");
    }
    scope.path = r[0].text(0);
  }

  // units and cameras in scope
  {
    std::string sql = "SELECT COUNT(*) FROM units WHERE deleted_at IS NULL";
    Params ps;
    scope.append(sql, ps, "jpath", "id");
    o.units = c->query(sql, ps)[0].integer(0);
    sql = "SELECT COUNT(*), SUM(CASE WHEN status = 'online' THEN 1 ELSE 0 END) FROM cameras WHERE deleted_at IS NULL";
    ps.clear();
    scope.append(sql, ps, "jpath", "unit_id");
    storage::Rows r = c->query(sql, ps);
    o.cameras_total = r[0].integer(0);
    o.cameras_online = r[0].integer(1);
  }

  Tally t;
  // Counts alerts occurring in [a, b) from the alerts table.
  auto raw = [&](TimeMs a, TimeMs b) {
    if (a >= b) return;
    Params ps{offset_ms, a, b};
    std::string sql =
        "SELECT type, risk_class, (occurred_at + $1) / 86400000 AS d, unit_id, COUNT(*), "
        "SUM(CASE WHEN state IN ('closed', 'dismissed') THEN 1 ELSE 0 END) FROM alerts "
        "WHERE occurred_at >= $2 AND occurred_at < $3";
    scope.append(sql, ps, "jpath", "unit_id");
    sql += " GROUP BY type, risk_class, d, unit_id";
    for (const auto& r : c->query(sql, ps)) {
      std::int64_t n = r.integer(4);
      auto& tc = t.by_type_class[{r.text(0), static_cast<int>(r.integer(1))}];
      tc.first += n;
      tc.second += r.integer(5);
      t.by_day[r.integer(2)] += n;
      t.by_unit[r.text(3)] += n;
    }
  };
  // Counts whole local days [d0, d1) from the rollups.
  auto rolled = [&](std::int64_t d0, std::int64_t d1) {
    if (d0 >= d1) return;
    // alert_daily holds one row per jurisdiction level: the scope's own node reads its rows
    Params ps{*scope.path, d0, d1};
    std::string sql =
        "SELECT type, risk_class, day, created, handled FROM alert_daily WHERE jpath = $1 AND day >= $2 AND day < $3";
    for (const auto& r : c->query(sql, ps)) {
      auto& tc = t.by_type_class[{r.text(0), static_cast<int>(r.integer(1))}];
      tc.first += r.integer(3);
      tc.second += r.integer(4);
      t.by_day[r.integer(2)] += r.integer(3);
    }
    // per unit: whole 16-day spans from alert_unit_span, the days around them from alert_unit_daily
    auto per_unit = [&](const char* table, const char* col, std::int64_t a, std::int64_t b) {
      if (a >= b) return;
      Params ups{a, b};
      std::string q =
          std::string("SELECT unit_id, SUM(created) FROM ") + table + " WHERE " + col + " >= $1 AND " + col + " < $2";
      scope.append(q, ups, "jpath", "");
      q += " GROUP BY unit_id";
      for (const auto& r : c->query(q, ups)) t.by_unit[r.text(0)] += r.integer(1);
    };
    std::int64_t s0 = (d0 + kSpanDays - 1) / kSpanDays, s1 = d1 / kSpanDays;
    if (s0 < s1) {
      per_unit("alert_unit_daily", "day", d0, s0 * kSpanDays);
      per_unit("alert_unit_span", "span", s0, s1);
      per_unit("alert_unit_daily", "day", s1 * kSpanDays, d1);
    } else {
      per_unit("alert_unit_daily", "day", d0, d1);
    }
  };

  auto day_start = [&](std::int64_t d) { return d * kDayMs - offset_ms; };
  std::int64_t first_day = local_day(o.from, offset);
  std::int64_t last_day = local_day(o.to - 1, offset);  // the day holding the range's last instant
  if (!use_rollups || scope.by_units) {
    raw(o.from, o.to);
  } else {
    std::int64_t full_from = day_start(first_day) == o.from ? first_day : first_day + 1;
    std::int64_t full_to = day_start(last_day + 1) == o.to ? last_day + 1 : last_day;  // exclusive
    if (full_from >= full_to) {
      raw(o.from, o.to);
    } else {
      raw(o.from, day_start(full_from));
      rolled(full_from, full_to);
      raw(day_start(full_to), o.to);
    }
  }

  for (const auto& type : config_.types) o.by_type[type.code] = 0;
  for (int k = 1; k <= 3; ++k) o.by_risk_class[k] = 0;
  for (const auto& [key, v] : t.by_type_class) {
    o.by_type[key.first] += v.first;
    o.by_risk_class[key.second] += v.first;
    o.alerts_total += v.first;
    o.handled += v.second;
  }
  for (std::int64_t d = first_day; d <= last_day; ++d) {
    auto it = t.by_day.find(d);
    o.by_day.emplace_back(format_date(static_cast<int>(d)), it == t.by_day.end() ? 0 : it->second);
  }
  std::vector<std::pair<std::string, std::int64_t>> units;
  for (const auto& [u, n] : t.by_unit) {
    if (n > 0) units.emplace_back(u, n);
  }
  o.units_with_alerts = static_cast<std::int64_t>(units.size());
  std::sort(units.begin(), units.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (units.size() > kTopUnits) units.resize(kTopUnits);
  if (!units.empty()) {
    std::vector<std::string> ids;
    for (const auto& u : units) ids.push_back(u.first);
    Params ps;
    std::string sql = "SELECT id, name FROM units WHERE id IN " + storage::in_list(ps, ids);
    std::unordered_map<std::string, std::string> names;
    for (const auto& r : c->query(sql, ps)) names[r.text(0)] = r.text(1);
    for (const auto& [u, n] : units) o.top_units.push_back(TopUnit{u, names[u], n});
  }
  o.alerts_per_unit = o.units > 0 ? static_cast<double>(o.alerts_total) / static_cast<double>(o.units) : 0;
  o.handling_rate = o.alerts_total > 0 ? static_cast<double>(o.handled) / static_cast<double>(o.alerts_total) : 0;
  return o;
}

}  // namespace mingchu::stats
