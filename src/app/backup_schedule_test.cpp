// Scheduled backups: one when due by the clock, none before, the newest `keep` stay, and what
// is kept restores (the same code as `mingchu backup` / `mingchu restore`). SQLite only: the
// PostgreSQL path of make_backup (pg_dump) is tested with the backup command itself.
#include "app/backup_schedule.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "storage/migrations.hpp"

namespace mingchu::app {
namespace {
namespace fs = std::filesystem;

TEST(BackupSchedule, BacksUpWhenDueKeepsTheNewestAndTheyRestore) {
  fs::path root = fs::temp_directory_path() / ("mingchu-bsched-" + random_hex(6));
  fs::create_directories(root / "data");
  std::string url = "sqlite:" + (root / "data" / "mingchu.db").string();
  {
    auto db = storage::open_database(url, 2);
    storage::migrate(*db);
    storage::Conn c = db->acquire();
    c->exec("INSERT INTO settings (key, value) VALUES ('k', 'v1')");
  }
  ManualClock clock(true);
  clock.set_ms(1'790'000'000'000);  // 2026-09-21T14:13:20Z
  Metrics metrics;
  BackupScheduleOptions o;
  o.dir = (root / "backups").string();
  o.every_hours = 24;
  o.keep = 2;
  o.backup.data_dir = (root / "data").string();
  o.backup.db_url = url;
  BackupSchedule s(o, clock, &metrics);

  std::string first = s.run_once();
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(fs::path(first).filename().string(), "mingchu-20260921T141320Z.tar");
  clock.advance_ms(23 * kHourMs);
  EXPECT_EQ(s.run_once(), "") << "not due yet";
  clock.advance_ms(1 * kHourMs);
  std::string second = s.run_once();
  ASSERT_FALSE(second.empty());
  {
    auto db = storage::open_database(url, 2);
    storage::Conn c = db->acquire();
    c->exec("UPDATE settings SET value = 'v3' WHERE key = 'k'");
  }
  clock.advance_ms(25 * kHourMs);
  std::string third = s.run_once();
  ASSERT_FALSE(third.empty());
  EXPECT_EQ(s.backups(), (std::vector<std::string>{second, third})) << "the oldest went";
  EXPECT_FALSE(fs::exists(first));
  EXPECT_EQ(metrics.counter("mingchu_backups_total", "result=\"ok\"").value(), 3u);
  // other files in the directory are not backups and are never removed
  { std::ofstream(fs::path(o.dir) / "notes.txt") << "x"; }
  clock.advance_ms(24 * kHourMs);
  ASSERT_FALSE(s.run_once().empty());
  EXPECT_TRUE(fs::exists(fs::path(o.dir) / "notes.txt"));
  EXPECT_EQ(s.backups().size(), 2u);

  // the newest restores, with the row as it was when it was taken
  auto restored = restore_backup({s.backups().back(), (root / "restored").string(), "", ""});
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  auto db = storage::open_database("sqlite:" + (root / "restored" / "mingchu.db").string(), 1);
  storage::Conn c = db->acquire();
  EXPECT_EQ(c->query("SELECT value FROM settings WHERE key = 'k'")[0].text(0), "v3");
  fs::remove_all(root);
}

}  // namespace
}  // namespace mingchu::app
