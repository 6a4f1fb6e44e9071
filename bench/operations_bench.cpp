// The operations ledgers at scale: loads N units (default 2 000, in 10 districts of one city)
// with D days (default 365) of records each — every day one acceptance, its stock batch, a
// stock-out from it and a meal batch with a trace code — then times, in the same invocation:
//   - the traceability query (Operations::public_trace: meal batch → stock-outs → batches →
//     acceptances → suppliers, sample, delivery) beside the bare SQL of the same two queries;
//   - ledger lists (Operations::list_acceptances, first page of 20 with the total) for a
//     merchant (one unit), a district regulator (200 units) and the city regulator
//     (2 000 units), over 30 days and the whole year, beside the bare SQL (COUNT + page).
// The loaded data is kept and reused by a second run on the same --data/--db.
//
//   - a device's history chart (SensorHistory::history, 365 days in 300 buckets) over a year
//     of minute readings (525 600), all raw and again after compaction (30 days raw + hourly
//     rollups), beside the bare SQL GROUP BY over the raw year.
//
//   bench_operations --data DIR | --db URL  [--units 2000] [--days 365] [--runs 200] [--sensors 0|1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/time.hpp"
#include "operations/operations.hpp"
#include "operations/sensors.hpp"
#include "registry/devices.hpp"
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

Timing time_it(int runs, const std::function<void(int)>& fn) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn(i);
    t.push_back(ms_since(t0));
  }
  std::sort(t.begin(), t.end());
  auto at = [&](double q) { return t[std::min(t.size() - 1, static_cast<size_t>(q * static_cast<double>(t.size())))]; };
  return {at(0.5), at(0.99), t.back()};
}

std::string uid(const char* p, long long n) {
  char b[40];
  std::snprintf(b, sizeof b, "%s_%012lld", p, n);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress and rows as they come, also into a file
  std::string data = "./bench-operations", url;
  long long n_units = 2000, days = 365;
  int runs = 200;
  bool sensors = true;  // --sensors 0: the ledgers only (the year of readings is compacted after a first run)
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--data") data = argv[i + 1];
    if (k == "--db") url = argv[i + 1];
    if (k == "--units") n_units = std::stoll(argv[i + 1]);
    if (k == "--days") days = std::stoll(argv[i + 1]);
    if (k == "--runs") runs = std::stoi(argv[i + 1]);
    if (k == "--sensors") sensors = std::stoi(argv[i + 1]) != 0;
  }
  std::filesystem::create_directories(data);
  if (url.empty()) url = "sqlite:" + data + "/operations.db";
  auto db = storage::open_database(url, 4);  // the loader, the timed calls and the sensor section
  storage::migrate(*db);
  ManualClock clock(true);
  const TimeMs now = 1'795'305'600'000;  // 2026-11-22T08:00+08:00
  clock.set_ms(now);
  const int today = local_day(now, 480);
  const int districts = 10;

  auto c = db->acquire();
  bool loaded = !c->query("SELECT 1 FROM op_meal_batches LIMIT 1").empty();
  if (!loaded) {
    auto t0 = std::chrono::steady_clock::now();
    {
      storage::Transaction tx(*c);
      c->exec(
          "INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) VALUES "
          "('jp', NULL, 'province', '320000', 'P', '/jp/', 0), ('jc', 'jp', 'city', '320600', 'C', '/jp/jc/', 0)");
      for (int d = 0; d < districts; ++d) {
        std::string id = "jd" + std::to_string(d);
        c->exec(
            "INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) VALUES "
            "($1, 'jc', 'district', $2, $3, $4, 0)",
            {id, std::to_string(320601 + d), "D" + std::to_string(d), "/jp/jc/" + id + "/"});
      }
      for (long long u = 0; u < n_units; ++u) {
        std::string jd = "jd" + std::to_string(u % districts);
        std::string jpath = "/jp/jc/" + jd + "/";
        c->exec(
            "INSERT INTO units (id, jurisdiction_id, jpath, name, store_type, disclosure_token, created_at, "
            "updated_at) VALUES ($1, $2, $3, $4, 'central_kitchen', $5, 0, 0)",
            {uid("unit", u), jd, jpath, "单位" + std::to_string(u), uid("tok", u)});
        c->exec(
            "INSERT INTO op_suppliers (id, unit_id, jpath, name, uscc, qualification_expires_on, file_ids, at, "
            "updated_at) VALUES ($1, $2, $3, '供应商', '91320602MA1000000X', $4, '[\"f1\"]', 0, 0)",
            {uid("sup", u), uid("unit", u), jpath, std::int64_t{today + 100}});
      }
      tx.commit();
    }
    long long n = 0;
    for (long long u = 0; u < n_units; ++u) {
      storage::Transaction tx(*c);
      std::string unit = uid("unit", u), jpath = "/jp/jc/jd" + std::to_string(u % districts) + "/";
      for (long long d = 0; d < days; ++d, ++n) {
        TimeMs at = now - (days - d) * kDayMs + (u % 600) * kSecondMs;
        std::int64_t day = today - (days - d);
        std::string a = uid("acc", n), b = uid("stk", n), o = uid("out", n), m = uid("meal", n);
        c->exec(
            "INSERT INTO op_acceptances (id, unit_id, jpath, supplier_id, item, quantity, unit_of_measure, "
            "batch_no, produced_on, shelf_life_days, expires_on, sensory_ok, file_ids, at, created_by) VALUES "
            "($1, $2, $3, $4, '大米', 20, 'kg', $5, $6, 30, $7, 1, '[]', $8, 'u')",
            {a, unit, jpath, uid("sup", u), "B" + std::to_string(n), day, day + 29, at});
        c->exec(
            "INSERT INTO op_stock_batches (id, unit_id, jpath, acceptance_id, supplier_id, item, batch_no, "
            "quantity, remaining, unit_of_measure, produced_on, shelf_life_days, expires_on, at) VALUES "
            "($1, $2, $3, $4, $5, '大米', $6, 20, 8, 'kg', $7, 30, $8, $9)",
            {b, unit, jpath, a, uid("sup", u), "B" + std::to_string(n), day, day + 29, at + kHourMs});
        c->exec(
            "INSERT INTO op_stock_outs (id, unit_id, jpath, item, quantity, unit_of_measure, department, receiver, "
            "handler, at) VALUES ($1, $2, $3, '大米', 12, 'kg', '热厨', '王领料', '陈库管', $4)",
            {o, unit, jpath, at + 2 * kHourMs});
        c->exec(
            "INSERT INTO op_stock_out_lines (stock_out_id, batch_id, unit_id, jpath, quantity) VALUES "
            "($1, $2, $3, $4, 12)",
            {o, b, unit, jpath});
        c->exec(
            "INSERT INTO op_meal_batches (id, unit_id, jpath, dish, trace_code, at) VALUES "
            "($1, $2, $3, '米饭', $4, $5)",
            {m, unit, jpath, uid("MB", n), at + 3 * kHourMs});
        c->exec(
            "INSERT INTO op_meal_batch_inputs (meal_batch_id, stock_out_id, unit_id, jpath) VALUES ($1, $2, $3, $4)",
            {m, o, unit, jpath});
      }
      tx.commit();
      if ((u + 1) % 200 == 0) std::fprintf(stderr, "loaded %lld units (%.0f s)\n", u + 1, ms_since(t0) / 1000);
    }
    c->exec("ANALYZE");
    std::printf("loaded %lld units x %lld days = %lld meal batches (%lld rows) in %.1f s\n", n_units, days, n, n * 6,
                ms_since(t0) / 1000);
  }
  // the loader's WAL into the database file before timing (the server checkpoints as it goes)
  if (c->dialect() == storage::Dialect::kSqlite) c->exec_script("PRAGMA wal_checkpoint(TRUNCATE);");
  const long long total = c->query("SELECT COUNT(*) FROM op_meal_batches")[0].integer(0);
  std::printf("%s: %lld meal batches, %lld units\n", url.rfind("postgres", 0) == 0 ? "postgresql" : "sqlite", total,
              n_units);

  audit::AuditLog audit(clock);
  operations::Operations ops(*db, clock, audit);
  std::mt19937_64 rng(42);
  std::vector<std::string> codes;
  for (int i = 0; i < runs; ++i) codes.push_back(uid("MB", static_cast<long long>(rng() % total)));

  // ---- traceability: the service beside the bare SQL of its queries
  const char* kBatch =
      "SELECT m.id, m.unit_id, m.dish, m.sample_id, m.delivery_id, m.portions, m.at, u.name FROM op_meal_batches m "
      "JOIN units u ON u.id = m.unit_id WHERE m.trace_code = $1 AND u.deleted_at IS NULL";
  const char* kIngredients =
      "SELECT o.id, o.item, o.at, o.department, o.handler, l.quantity, o.unit_of_measure, b.id, b.batch_no, "
      "b.produced_on, b.expires_on, b.at, b.location, a.id, a.at, a.sensory_ok, a.inspector, a.file_ids, s.id, s.name, "
      "s.uscc, s.licence_number, s.qualification_expires_on, s.file_ids "
      "FROM op_meal_batch_inputs i JOIN op_stock_outs o ON o.id = i.stock_out_id "
      "JOIN op_stock_out_lines l ON l.stock_out_id = o.id JOIN op_stock_batches b ON b.id = l.batch_id "
      "JOIN op_acceptances a ON a.id = b.acceptance_id JOIN op_suppliers s ON s.id = a.supplier_id "
      "WHERE i.meal_batch_id = $1 ORDER BY o.item, b.expires_on, b.id";
  size_t found = 0;
  Timing trace = time_it(runs, [&](int i) {
    auto t = ops.public_trace(codes[static_cast<size_t>(i)]);
    if (t && !t->at("ingredients").as_array().empty()) ++found;
  });
  Timing trace_sql = time_it(runs, [&](int i) {
    auto cc = db->acquire();
    auto m = cc->query(kBatch, {codes[static_cast<size_t>(i)]});
    if (!m.empty()) cc->query(kIngredients, {m[0].text(0)});
  });
  if (found != static_cast<size_t>(runs)) std::printf("WARNING: %zu of %d trace codes resolved\n", found, runs);

  std::printf("\n%-44s %9s %9s %9s | %9s %9s %7s\n", "query", "p50 ms", "p99 ms", "max ms", "SQL p50", "SQL p99",
              "ratio");
  auto row = [](const char* name, Timing s, Timing b) {
    std::printf("%-44s %9.2f %9.2f %9.2f | %9.2f %9.2f %7.2f\n", name, s.p50, s.p99, s.max, b.p50, b.p99,
                b.p99 > 0 ? s.p99 / b.p99 : 0.0);
  };
  row("trace (meal batch -> every upstream record)", trace, trace_sql);

  // ---- ledger lists: first page of 20 and the total
  struct Who {
    const char* name;
    auth::Principal p;
    std::string lo, hi;  // jpath range of the bare SQL, or "" for one unit
  };
  auth::Principal merchant;
  merchant.role = auth::Role::kMerchant;
  merchant.user_id = "m";
  merchant.unit_ids = {uid("unit", 7)};
  auth::Principal district;
  district.role = auth::Role::kRegulator;
  district.user_id = "d";
  district.jpath = "/jp/jc/jd3/";
  auth::Principal city;
  city.role = auth::Role::kRegulator;
  city.user_id = "c";
  city.jpath = "/jp/jc/";
  std::vector<Who> whos = {{"merchant (1 unit)", merchant, "", ""},
                           {"district regulator", district, "/jp/jc/jd3/", auth::path_upper("/jp/jc/jd3/")},
                           {"city regulator", city, "/jp/jc/", auth::path_upper("/jp/jc/")}};
  for (int span : {30, 365}) {
    for (const auto& w : whos) {
      operations::ListFilter f;
      f.from = now - span * kDayMs;
      int list_runs = std::max(20, runs / 4);
      Timing s = time_it(list_runs, [&](int) { (void)ops.list_acceptances(w.p, f, {1, 20}); });
      Timing b = time_it(list_runs, [&](int) {
        auto cc = db->acquire();
        if (w.lo.empty()) {
          cc->query("SELECT COUNT(*) FROM op_acceptances WHERE unit_id = $1 AND at >= $2", {w.p.unit_ids[0], *f.from});
          cc->query("SELECT * FROM op_acceptances WHERE unit_id = $1 AND at >= $2 ORDER BY at DESC, id LIMIT 20",
                    {w.p.unit_ids[0], *f.from});
        } else {
          cc->query("SELECT COUNT(*) FROM op_acceptances WHERE jpath >= $1 AND jpath < $2 AND at >= $3",
                    {w.lo, w.hi, *f.from});
          cc->query(
              "SELECT * FROM op_acceptances WHERE jpath >= $1 AND jpath < $2 AND at >= $3 "
              "ORDER BY at DESC, id LIMIT 20",
              {w.lo, w.hi, *f.from});
        }
      });
      std::string name = std::string("acceptances ") + std::to_string(span) + " d, " + w.name;
      row(name.c_str(), s, b);
    }
  }

  // ---- sensor history: a year of minute readings of one fridge
  if (sensors) {
    const std::string dev_id = "dev_bench_fridge";
    const std::string unit_id = uid("unit", 7);
    const TimeMs year = 365 * kDayMs;
    auto cc = db->acquire();
    if (cc->query("SELECT 1 FROM devices WHERE id = $1", {dev_id}).empty()) {
      auto t0 = std::chrono::steady_clock::now();
      storage::Transaction tx(*cc);
      std::string jpath = cc->query("SELECT jpath FROM units WHERE id = $1", {unit_id})[0].text(0);
      cc->exec(
          "INSERT INTO devices (id, unit_id, jpath, name, kind, thresholds, status, created_at, updated_at) VALUES "
          "($1, $2, $3, 'fridge', 'refrigerator', '{\"temperature_c\":{\"min\":0,\"max\":8}}', 'online', 0, 0)",
          {dev_id, unit_id, jpath});
      std::mt19937 r2(7);
      for (TimeMs t = now - year; t < now; t += kMinuteMs) {
        cc->exec("INSERT INTO readings (device_id, at, metric, value) VALUES ($1, $2, 'temperature_c', $3)",
                 {dev_id, t, 2.0 + static_cast<double>(r2() % 500) / 100.0});
      }
      tx.commit();
      std::printf("\nloaded a year of minute readings (525 600) in %.1f s\n", ms_since(t0) / 1000);
    }
    registry::DeviceService devices(*db, clock, audit);
    auth::Principal admin;
    admin.role = auth::Role::kPlatformAdmin;
    admin.user_id = "a";
    admin.jpath = "/";
    operations::SensorConfig sc;
    sc.raw_days = 30;
    operations::SensorHistory hist(*db, clock, devices, nullptr, sc);
    operations::HistoryQuery q;
    q.from = now - year;
    q.to = now;
    q.buckets = 300;
    const int sensor_runs = std::max(10, runs / 10);
    TimeMs bucket = (year + 299) / 300;  // as SensorHistory rounds it: whole minutes
    bucket = (bucket + kMinuteMs - 1) / kMinuteMs * kMinuteMs;
    Timing bare = time_it(sensor_runs, [&](int) {
      auto k = db->acquire();
      k->query(
          "SELECT (at - $3) / $5, MIN(value), MAX(value), AVG(value), COUNT(*) FROM readings WHERE device_id = $1 AND "
          "metric = $2 AND at >= $3 AND at < $4 GROUP BY 1",
          {dev_id, std::string("temperature_c"), now - year, now, bucket});
    });
    std::int64_t raw_rows = cc->query("SELECT COUNT(*) FROM readings WHERE device_id = $1", {dev_id})[0].integer(0);
    Timing before = time_it(sensor_runs, [&](int) { (void)hist.history(admin, dev_id, q); });
    char name[64];
    std::snprintf(name, sizeof name, "sensor year, %lld raw rows", static_cast<long long>(raw_rows));
    row(name, before, bare);
    auto t0 = std::chrono::steady_clock::now();
    operations::CompactStats st = hist.compact();
    std::printf("compaction: %lld readings folded into hourly rollups in %.1f s\n",
                static_cast<long long>(st.readings_folded), ms_since(t0) / 1000);
    Timing after = time_it(sensor_runs, [&](int) { (void)hist.history(admin, dev_id, q); });
    raw_rows = cc->query("SELECT COUNT(*) FROM readings WHERE device_id = $1", {dev_id})[0].integer(0);
    std::snprintf(name, sizeof name, "sensor year, %lld raw + rollups", static_cast<long long>(raw_rows));
    row(name, after, bare);
  }
  return 0;
}
