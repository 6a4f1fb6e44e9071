// The storage baseline for the ingest benchmark: the raw rate of inserting alert rows of the
// same shape into the same engine's `alerts` table (same schema and indexes), in batches of
// B rows per transaction, each commit durable (SQLite WAL synchronous=FULL; PostgreSQL
// synchronous_commit=on). No parsing, no dedup, no outbox: the ceiling the HTTP path is
// measured against by bench/run_ingest.sh. Ids as the ingest writer makes them (--ids ordered,
// the default: time-ordered, so rows land at the right edge of the primary key's B-tree) or
// random (--ids random: every row a random leaf, the old baseline); the batch should be the
// writer's mean transaction size in the run it is compared with (run_ingest.sh passes it).
//
//   bench_ingest_raw --db URL|--data DIR [--batch 100] [--seconds 10] [--ids ordered|random]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "core/ids.hpp"
#include "storage/database.hpp"
#include "storage/migrations.hpp"

using namespace mingchu;

int main(int argc, char** argv) {
  std::string data = "./bench-raw", url;
  int batch = 100, seconds = 10;
  bool ordered = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--data") data = argv[i + 1];
    else if (k == "--db") url = argv[i + 1];
    else if (k == "--batch") batch = std::stoi(argv[i + 1]);
    else if (k == "--seconds") seconds = std::stoi(argv[i + 1]);
    else if (k == "--ids") ordered = std::string(argv[i + 1]) != "random";
  }
  std::filesystem::create_directories(data);
  if (url.empty()) url = "sqlite:" + data + "/raw.db";
  auto db = storage::open_database(url, 1);
  storage::migrate(*db);
  constexpr const char* kInsert =
      "INSERT INTO alerts (id, unit_id, jpath, camera_id, subject, type, risk_class, state, occurred_at, last_seen_at, "
      "capture_count, snapshot_count, due_at, confidence, model, boxes, source, created_at, updated_at) "
      "VALUES ($1,$2,$3,$4,$5,$6,$7,'open',$8,$8,1,0,$9,$10,$11,$12,$13,$8,$8)";
  const char* types[] = {"rodent", "no_mask", "no_hat", "smoking", "clutter"};
  auto t0 = std::chrono::steady_clock::now();
  std::int64_t rows = 0;
  std::int64_t now = 1'790'000'000'000;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(seconds)) {
    // the writer reads the clock once per transaction: every id of a batch shares its time part
    std::int64_t wall =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    db->in_transaction([&](storage::Connection& c) {
      for (int i = 0; i < batch; ++i, ++rows) {
        std::string unit = "unit_" + std::to_string(rows % 25000);
        c.exec(kInsert, {ordered ? ordered_id("alert", wall) : new_id("alert"), unit, std::string("/j1/j2/j3/"), "cam_" + std::to_string(rows % 75000),
                         "cam_" + std::to_string(rows % 75000), std::string(types[rows % 5]), std::int64_t{1 + rows % 3},
                         now + rows, now + rows + 7 * 86'400'000LL, 0.93, std::string("yolo-kitchen-v3"),
                         std::string("[{\"x\":10,\"y\":20,\"w\":50,\"h\":40,\"label\":\"rat\",\"score\":0.93}]"),
                         std::string("api_key:bench")});
      }
    });
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"raw_rows_per_s\": %.0f, \"batch\": %d, \"rows\": %lld, \"engine\": \"%s\", \"ids\": \"%s\"}\n",
              rows / secs, batch, static_cast<long long>(rows),
              db->dialect() == storage::Dialect::kSqlite ? "sqlite" : "postgres", ordered ? "ordered" : "random");
  return 0;
}
