// GET /api/v1/stats/overview at province scale: loads a province (13 cities, 104 districts,
// ~1 000 stations), 25 000 units with 3 cameras each and N alerts over a year (default 10
// million; a few kitchens produce most findings, 35 % handled) with the statistics rollups the
// ingest transactions would have kept, then times StatsService::overview (rollups + exact
// edges) beside overview_exact (counting the alerts table, the baseline) in the same
// invocation, for a province admin, a city and a district regulator, over 30 and 365 days.
// Before timing it checks that both give the same numbers.
//
//   bench_stats --data DIR | --db URL  [--units 25000] [--alerts 10000000] [--runs 20] [--keep]
// A second run on the same --data/--db reuses the loaded data (it is only loaded once).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "alerts/alerts_config.hpp"
#include "alerts/writer.hpp"
#include "core/clock.hpp"
#include "core/time.hpp"
#include "stats/stats_service.hpp"
#include "storage/database.hpp"
#include "storage/migrations.hpp"

using namespace mingchu;

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct Timing {
  double p50 = 0, p99 = 0, max = 0;
};

Timing time_it(int runs, const std::function<void()>& fn) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(ms_since(t0));
  }
  std::sort(t.begin(), t.end());
  auto at = [&](double q) { return t[std::min(t.size() - 1, static_cast<size_t>(q * static_cast<double>(t.size())))]; };
  return {at(0.5), at(0.99), t.back()};
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "./bench-stats", url;
  long long n_units = 25000, n_alerts = 10'000'000;
  int runs = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--data")
      data = argv[i + 1];
    else if (k == "--db")
      url = argv[i + 1];
    else if (k == "--units")
      n_units = std::stoll(argv[i + 1]);
    else if (k == "--alerts")
      n_alerts = std::stoll(argv[i + 1]);
    else if (k == "--runs")
      runs = std::stoi(argv[i + 1]);
  }
  std::filesystem::create_directories(data);
  if (url.empty()) url = "sqlite:" + data + "/stats.db";
  auto db = storage::open_database(url, 2);
  storage::migrate(*db);
  alerts::AlertsConfig cfg = alerts::default_alerts_config();
  ManualClock clock(true);
  const TimeMs now = 1'795'305'600'000;  // 2026-11-22T08:00+08:00
  clock.set_ms(now);

  // ---- the province
  std::vector<std::string> station_paths, city_ids, district_ids;
  bool loaded;
  {
    storage::Conn c = db->acquire();
    loaded = c->query("SELECT COUNT(*) FROM alerts")[0].integer(0) >= n_alerts;
  }
  std::mt19937_64 rng(42);
  if (!loaded) {
    auto t0 = std::chrono::steady_clock::now();
    db->in_transaction([&](storage::Connection& c) {
      c.exec_script(
          "DELETE FROM alerts; DELETE FROM alert_daily; DELETE FROM alert_unit_daily; DELETE FROM alert_unit_span; "
          "DELETE FROM cameras; "
          "DELETE FROM units; DELETE FROM jurisdictions;");
      auto node = [&](const std::string& id, const std::string& parent, const char* level, const std::string& path) {
        c.exec(
            "INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) VALUES "
            "($1,$2,$3,$4,$5,$6,0)",
            {id, parent.empty() ? storage::Value(nullptr) : storage::Value(parent), std::string(level), id, id, path});
      };
      node("p", "", "province", "/p/");
      for (int ci = 0; ci < 13; ++ci) {
        std::string cid = "c" + std::to_string(ci), cpath = "/p/" + cid + "/";
        node(cid, "p", "city", cpath);
        for (int di = 0; di < 8; ++di) {
          std::string did = cid + "d" + std::to_string(di), dpath = cpath + did + "/";
          node(did, cid, "district", dpath);
          for (int si = 0; si < 10; ++si) {
            std::string sid = did + "s" + std::to_string(si);
            node(sid, did, "station", dpath + sid + "/");
            station_paths.push_back(dpath + sid + "/");
          }
        }
      }
      std::vector<storage::Params> units, cams;
      for (long long u = 0; u < n_units; ++u) {
        const std::string& path = station_paths[static_cast<size_t>(u) % station_paths.size()];
        std::string sid =
            path.substr(path.rfind('/', path.size() - 2) + 1, path.size() - path.rfind('/', path.size() - 2) - 2);
        std::string id = "u" + std::to_string(u);
        units.push_back({id, sid, path, "Unit " + std::to_string(u), std::string("social_catering"), id,
                         std::int64_t{0}, std::int64_t{0}});
        for (int k = 0; k < 3; ++k) {
          cams.push_back({id + "c" + std::to_string(k), id, path, std::string("cam"), std::string("cooking"),
                          std::string(k ? "online" : "offline"), std::int64_t{0}, std::int64_t{0}});
        }
      }
      alerts::insert_rows(
          c, "units",
          {"id", "jurisdiction_id", "jpath", "name", "store_type", "disclosure_token", "created_at", "updated_at"},
          units);
      alerts::insert_rows(c, "cameras",
                          {"id", "unit_id", "jpath", "name", "area", "status", "created_at", "updated_at"}, cams);
    });
    std::printf("loaded %lld units in %.1f s; loading %lld alerts...\n", n_units, ms_since(t0) / 1000, n_alerts);
    // ---- the alerts, in transactions of 50 000, with the rollups the writer would keep
    std::map<std::tuple<std::string, std::int64_t, std::string, int>, std::pair<std::int64_t, std::int64_t>> daily;
    std::map<std::tuple<std::string, std::int64_t, std::string>, std::pair<std::int64_t, std::int64_t>> unit_daily;
    std::map<std::tuple<std::string, std::int64_t, std::string>, std::pair<std::int64_t, std::int64_t>> unit_span;
    const std::vector<std::string> cols = {
        "id",          "unit_id",      "jpath",         "camera_id", "subject",    "type",       "risk_class", "state",
        "occurred_at", "last_seen_at", "capture_count", "source",    "created_at", "updated_at", "handled_at"};
    // type weights as in the field: mostly class 3
    std::vector<int> type_of_slot;
    for (size_t t = 0; t < cfg.types.size(); ++t) {
      int w = cfg.types[t].risk_class == 3 ? 12 : cfg.types[t].risk_class == 2 ? 5 : 1;
      for (int k = 0; k < w; ++k) type_of_slot.push_back(static_cast<int>(t));
    }
    // Bulk load: the secondary indexes are built after the rows are in (as a restore would).
    const std::vector<std::pair<std::string, std::string>> indexes = {
        {"alerts_scope_time", "alerts(jpath, occurred_at)"},
        {"alerts_time", "alerts(occurred_at)"},
        {"alerts_unit_time", "alerts(unit_id, occurred_at)"},
        {"alerts_open", "alerts(unit_id, subject, type) WHERE state IN ('open', 'submitted')"},  // migration 8
        {"alerts_due", "alerts(due_at) WHERE state = 'open' AND overdue = 0"},
        {"alerts_next_card", "alerts(next_card_at) WHERE next_card_at IS NOT NULL"}};
    {
      storage::Conn c = db->acquire();
      for (const auto& [name, def] : indexes) c->exec_script("DROP INDEX IF EXISTS " + name);
    }
    long long done = 0;
    int seq = 0;
    while (done < n_alerts) {
      long long chunk = std::min<long long>(50'000, n_alerts - done);
      db->in_transaction([&](storage::Connection& c) {
        if (c.dialect() == storage::Dialect::kSqlite) c.exec_script("PRAGMA cache_size=-1000000");
        std::vector<storage::Params> rows;
        rows.reserve(static_cast<size_t>(chunk));
        for (long long i = 0; i < chunk; ++i) {
          // 20 % of the kitchens produce 80 % of the findings
          long long u =
              rng() % 5 < 4
                  ? static_cast<long long>(rng() % static_cast<unsigned long long>(std::max(1LL, n_units / 5)))
                  : static_cast<long long>(rng() % static_cast<unsigned long long>(n_units));
          const std::string& path = station_paths[static_cast<size_t>(u) % station_paths.size()];
          const alerts::AlertType& type = cfg.types[static_cast<size_t>(type_of_slot[rng() % type_of_slot.size()])];
          // a year of findings in the order they arrived
          TimeMs at = now - 365 * kDayMs + (done + i) * (365 * kDayMs / n_alerts) +
                      static_cast<TimeMs>(rng() % static_cast<unsigned long long>(kMinuteMs));
          at = std::min(at, now - 1);
          bool handled = rng() % 100 < 35;
          std::string uid = "u" + std::to_string(u), cam = uid + "c" + std::to_string(rng() % 3);
          rows.push_back({"a" + std::to_string(++seq), uid, path, cam, cam, type.code, std::int64_t{type.risk_class},
                          std::string(handled ? "closed" : "open"), at, at, std::int64_t{1}, std::string("bench"), at,
                          at, handled ? storage::Value(at + kDayMs) : storage::Value(nullptr)});
          std::int64_t day = local_day(at, cfg.utc_offset_minutes);
          // one rollup row per level: "/" and every node on the path (as AlertWriter keeps them)
          for (size_t k = 0; k < path.size(); ++k) {
            if (path[k] != '/') continue;
            auto& d = daily[{path.substr(0, k + 1), day, type.code, type.risk_class}];
            d.first += 1;
            d.second += handled;
          }
          auto& ud = unit_daily[{path, day, uid}];
          ud.first += 1;
          ud.second += handled;
          auto& us = unit_span[{path, day / 16, uid}];
          us.first += 1;
          us.second += handled;
        }
        alerts::insert_rows(c, "alerts", cols, rows);
      });
      done += chunk;
      if (done % 1'000'000 == 0) {
        std::printf("  %lld alerts (%.0f s)\n", done, ms_since(t0) / 1000);
        std::fflush(stdout);
      }
    }
    {
      storage::Conn c = db->acquire();
      for (const auto& [name, def] : indexes) c->exec_script("CREATE INDEX " + name + " ON " + def);
      std::printf("indexes built (%.0f s)\n", ms_since(t0) / 1000);
    }
    db->in_transaction([&](storage::Connection& c) {
      std::vector<storage::Params> rows;
      for (const auto& [k, v] : daily) {
        rows.push_back(
            {std::get<0>(k), std::get<1>(k), std::get<2>(k), std::int64_t{std::get<3>(k)}, v.first, v.second});
      }
      alerts::insert_rows(c, "alert_daily", {"jpath", "day", "type", "risk_class", "created", "handled"}, rows);
      rows.clear();
      for (const auto& [k, v] : unit_daily) {
        rows.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), v.first, v.second});
      }
      alerts::insert_rows(c, "alert_unit_daily", {"jpath", "day", "unit_id", "created", "handled"}, rows);
      rows.clear();
      for (const auto& [k, v] : unit_span) {
        rows.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), v.first, v.second});
      }
      alerts::insert_rows(c, "alert_unit_span", {"jpath", "span", "unit_id", "created", "handled"}, rows);
      if (c.dialect() == storage::Dialect::kSqlite) c.exec_script("ANALYZE");
    });
    if (db->dialect() == storage::Dialect::kPostgres) {
      storage::Conn c = db->acquire();
      c->exec_script("ANALYZE");
    }
    std::printf("loaded %lld alerts, %zu daily and %zu unit-daily rollup rows in %.0f s\n", n_alerts, daily.size(),
                unit_daily.size(), ms_since(t0) / 1000);
  }

  stats::StatsService svc(*db, clock, cfg);
  auth::Principal admin;
  admin.user_id = "admin";
  admin.role = auth::Role::kPlatformAdmin;
  admin.jpath = "/";
  auth::Principal city = admin;
  city.role = auth::Role::kRegulator;
  city.jpath = "/p/c0/";
  auth::Principal district = city;
  district.jpath = "/p/c0/c0d0/";
  struct Case {
    const char* name;
    const auth::Principal* who;
    TimeMs days;
  };
  const Case cases[] = {{"province admin, 30 days", &admin, 30},
                        {"province admin, 365 days", &admin, 365},
                        {"city regulator, 30 days", &city, 30},
                        {"city regulator, 365 days", &city, 365},
                        {"district regulator, 30 days", &district, 30}};
  std::printf("\n%-30s %12s %12s %12s %14s %14s\n", "overview", "p50 ms", "p99 ms", "max ms", "exact p50 ms",
              "alerts counted");
  for (const auto& cs : cases) {
    // a range that does not start at midnight: both edge days are counted exactly
    stats::OverviewQuery q{std::nullopt, now - cs.days * kDayMs + 3 * kHourMs, now};
    auto fast = svc.overview(*cs.who, q);
    auto exact = svc.overview_exact(*cs.who, q);
    if (!fast || !exact || fast->alerts_total != exact->alerts_total || fast->handled != exact->handled ||
        fast->by_day != exact->by_day || fast->units_with_alerts != exact->units_with_alerts) {
      std::fprintf(stderr, "MISMATCH for %s\n", cs.name);
      return 1;
    }
    Timing t = time_it(runs, [&] { (void)svc.overview(*cs.who, q); });
    Timing e = time_it(std::max(1, runs / 10), [&] { (void)svc.overview_exact(*cs.who, q); });
    std::printf("%-30s %12.1f %12.1f %12.1f %14.1f %14lld\n", cs.name, t.p50, t.p99, t.max, e.p50,
                static_cast<long long>(fast->alerts_total));
  }
  return 0;
}
