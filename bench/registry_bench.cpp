// Registry read benchmark, database side.
//
//   bench_registry seed --data DIR [--units 25000] [--cameras-per-unit 3]
//       creates a province → city → 4 districts → 20 stations tree, N units spread over the
//       stations, 3 cameras per unit, and a city regulator `bench_reg` / `Bench@2026!x`;
//       writes DIR/unit_ids.txt (one id per line) for the HTTP load generator.
//   bench_registry baseline --data DIR [--seconds 10] [--threads 2]
//       runs the SQL that serves GET /api/v1/units?page_size=50 (a scoped page + its count)
//       and GET /api/v1/units/{id} directly against the database, T threads for S seconds
//       each, and prints requests/s and p99 as JSON lines. bench/run_registry.sh puts these
//       beside wrk's numbers for the same requests over HTTP.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "app/config.hpp"
#include "app/platform.hpp"
#include "auth/principal.hpp"
#include "core/ids.hpp"
#include "core/validate.hpp"

using namespace mingchu;

namespace {

std::string arg(int argc, char** argv, const std::string& name, const std::string& def) {
  for (int i = 2; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return def;
}

int seed(app::Platform& p, int units, int cams_per_unit, const std::string& data) {
  storage::Database& db = p.db();
  TimeMs now = p.clock().now_ms();
  std::vector<std::string> stations;
  std::vector<std::string> station_paths;
  db.in_transaction([&](storage::Connection& c) {
    auto node = [&](const std::string& id, const std::string& parent, const char* level, const std::string& code,
                    const std::string& path) {
      c.exec("INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)",
             {id, parent.empty() ? storage::Value(nullptr) : storage::Value(parent), std::string(level), code,
              "节点" + code, path, now});
    };
    node("jur_b32", "", "province", "320000", "/jur_b32/");
    node("jur_b3206", "jur_b32", "city", "320600", "/jur_b32/jur_b3206/");
    for (int d = 0; d < 4; ++d) {
      std::string did = "jur_bd" + std::to_string(d);
      std::string dpath = "/jur_b32/jur_b3206/" + did + "/";
      node(did, "jur_b3206", "district", "3206" + std::to_string(10 + d), dpath);
      for (int s = 0; s < 5; ++s) {
        std::string sid = did + "s" + std::to_string(s);
        node(sid, did, "station", "3206" + std::to_string(10 + d) + "00" + std::to_string(s), dpath + sid + "/");
        stations.push_back(sid);
        station_paths.push_back(dpath + sid + "/");
      }
    }
  });
  std::ofstream ids(data + "/unit_ids.txt");
  std::mt19937 rng(7);
  const char* types[] = {"social_catering", "school_canteen", "takeaway", "elderly_care", "hospital"};
  const char* areas[] = {"cooking", "rough_processing", "special_room", "washing", "storeroom"};
  for (int base = 0; base < units; base += 1000) {
    db.in_transaction([&](storage::Connection& c) {
      for (int u = base; u < std::min(units, base + 1000); ++u) {
        size_t s = static_cast<size_t>(u) % stations.size();
        std::string id = new_id("unit");
        char first17[48];
        std::snprintf(first17, sizeof first17, "913206%011d", u);
        char lic[48];
        std::snprintf(lic, sizeof lic, "JY%014d", 30000000 + u);
        c.exec("INSERT INTO units (id, jurisdiction_id, jpath, name, operator, phone, address, uscc, licence_number, "
               "store_type, business_format, lng, lat, disclosure_token, created_at, updated_at) "
               "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
               {id, stations[s], station_paths[s], "餐饮单位" + std::to_string(u) + "号", std::string("张三"),
                std::string("13912345678"), "南通市崇川区某路" + std::to_string(u) + "号",
                uscc_with_check_digit(first17), std::string(lic), std::string(types[rng() % 5]),
                std::string("中型餐馆"), 120.8 + (rng() % 1000) / 5000.0, 32.0 + (rng() % 1000) / 5000.0,
                random_token(24), now, now});
        for (int k = 0; k < cams_per_unit; ++k) {
          c.exec("INSERT INTO cameras (id, unit_id, jpath, name, area, brand, model, channel, public, ai_enabled, status, "
                 "created_at, updated_at) VALUES ($1,$2,$3,$4,$5,'海康威视','DS-2CD',$6,1,1,'online',$7,$8)",
                 {new_id("cam"), id, station_paths[s], "摄像头" + std::to_string(k + 1), std::string(areas[k % 5]),
                  std::int64_t{k + 1}, now, now});
        }
        ids << id << "\n";
      }
    });
  }
  auth::NewUser u{"bench_reg", "Bench@2026!x", "压测监管员", auth::Role::kRegulator, "jur_b3206", {}};
  auto r = p.auth().create_user_unchecked(u, "bench");
  if (!r) {
    std::cerr << "bench user: " << r.error().message << "\n";
    return 1;
  }
  std::cout << "{\"seeded_units\": " << units << ", \"cameras\": " << units * cams_per_unit << "}\n";
  return 0;
}

struct Stats {
  double rps;
  double p99_ms;
  std::int64_t n;
};

template <typename Fn>
Stats measure(int threads, int seconds, Fn fn) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> lat(static_cast<size_t>(threads));
  std::vector<std::thread> ts;
  auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) + 1);
      while (!stop.load(std::memory_order_relaxed)) {
        auto a = std::chrono::steady_clock::now();
        fn(rng);
        lat[static_cast<size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : ts) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  double p99 = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return {static_cast<double>(all.size()) / secs, p99, static_cast<std::int64_t>(all.size())};
}

// The SQL the units endpoints run (kept in step with src/registry/units.cpp by reading it).
constexpr const char* kUnitColumns =
    "SELECT id, jurisdiction_id, jpath, name, operator, phone, address, uscc, licence_number, filing_number, "
    "store_type, business_format, lng, lat, licence_image_ids, storefront_image_id, disclosure_token, "
    "show_alert_stats, rating, created_at, updated_at FROM units";

int baseline(app::Platform& p, int seconds, int threads, const std::string& data) {
  std::vector<std::string> ids;
  std::ifstream in(data + "/unit_ids.txt");
  for (std::string line; std::getline(in, line);) ids.push_back(line);
  if (ids.empty()) {
    std::cerr << "no unit_ids.txt: run seed first\n";
    return 1;
  }
  auth::Principal reg;
  reg.role = auth::Role::kRegulator;
  reg.jpath = "/jur_b32/jur_b3206/";
  std::int64_t pages = static_cast<std::int64_t>(ids.size()) / 50;
  Stats list = measure(threads, seconds, [&](std::mt19937& rng) {
    std::string where = " WHERE deleted_at IS NULL";
    storage::Params params;
    auth::append_scope(reg, "jpath", "id", where, params);
    storage::Conn c = p.db().acquire();
    c->query("SELECT COUNT(*) FROM units" + where, params);
    // the page query as src/registry/units.cpp writes it for this engine
    where = " WHERE deleted_at IS NULL";
    params.clear();
    auth::append_scope(reg, c->dialect() == storage::Dialect::kSqlite ? "+jpath" : "jpath", "id", where, params);
    params.emplace_back(std::int64_t{50});
    params.emplace_back(std::int64_t{static_cast<std::int64_t>(rng() % 20) * 50});
    (void)pages;
    c->query(std::string(kUnitColumns) + where +
                 (c->dialect() == storage::Dialect::kSqlite ? " ORDER BY name, id" : " ORDER BY name COLLATE \"C\", id") +
                 " LIMIT $3 OFFSET $4",
             params);
  });
  Stats get = measure(threads, seconds, [&](std::mt19937& rng) {
    storage::Conn c = p.db().acquire();
    c->query(std::string(kUnitColumns) + " WHERE id = $1 AND deleted_at IS NULL", {ids[rng() % ids.size()]});
  });
  std::printf("{\"query\": \"units_page50\", \"rps\": %.0f, \"p99_ms\": %.3f, \"n\": %lld}\n", list.rps, list.p99_ms,
              static_cast<long long>(list.n));
  std::printf("{\"query\": \"unit_by_id\", \"rps\": %.0f, \"p99_ms\": %.3f, \"n\": %lld}\n", get.rps, get.p99_ms,
              static_cast<long long>(get.n));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: bench_registry seed|baseline --data DIR [--db URL] ...\n";
    return 2;
  }
  std::string cmd = argv[1];
  app::Config cfg;
  cfg.data_dir = arg(argc, argv, "--data", "./bench-data");
  cfg.db_url = arg(argc, argv, "--db", "");
  cfg.auth.password_cost = crypto::PasswordCost::for_tests();
  try {
    app::Platform p(cfg);
    if (cmd == "seed") {
      return seed(p, std::stoi(arg(argc, argv, "--units", "25000")), std::stoi(arg(argc, argv, "--cameras-per-unit", "3")),
                  cfg.data_dir);
    }
    if (cmd == "baseline") {
      return baseline(p, std::stoi(arg(argc, argv, "--seconds", "10")), std::stoi(arg(argc, argv, "--threads", "2")),
                      cfg.data_dir);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_registry: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "unknown command " << cmd << "\n";
  return 2;
}
