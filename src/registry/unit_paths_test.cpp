// registry::UnitPaths against every test engine: the tables that carry a jurisdiction path are
// read from the schema and every one of them must be kept by the move/delete routine (a table
// added without a rule makes these tests fail); moving a unit moves every row of it, the
// alert rollups included (the rollup statistics then equal a count of the alerts table for
// every scope); deleting a unit retires its cameras, devices, staff and API keys.
#include "registry/unit_paths.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "alerts/testing.hpp"
#include "core/validate.hpp"
#include "registry/devices.hpp"
#include "registry/json_io.hpp"
#include "registry/registry.hpp"
#include "stats/stats_service.hpp"
#include "storage/schema.hpp"

namespace mingchu::registry {
namespace {

using alerts::testing::kStart;
using alerts::testing::World;

template <typename T>
T must(Result<T> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().code + ": " + r.error().message);
  if (!r.ok()) throw std::runtime_error("unexpected failure");
  return std::move(r).value();
}

class UnitPathsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    w_ = std::make_unique<World>(GetParam());
    cipher_ = std::make_unique<crypto::FieldCipher>(must(crypto::FieldCipher::from_key("0123456789abcdef")));
    reg_ = std::make_unique<Registry>(*w_->db, w_->clock, *w_->audit, *cipher_, RegistryConfig{});
    // as app/platform.cpp assembles it
    reg_->unit_paths().add_hook(alerts::rollup_path_hook(w_->alerts->config().utc_offset_minutes));
    devices_ = std::make_unique<DeviceService>(*w_->db, w_->clock, *w_->audit);

    json::object u{{"name", "南通小学食堂"},
                   {"jurisdiction_id", "ja"},
                   {"store_type", "school_canteen"},
                   {"licence_number", "JY13206020012345"},
                   {"uscc", uscc_with_check_digit("91320602MA1000001")}};
    unit_ = must(reg_->create_unit(w_->admin, must(parse_unit_input(u, false))));
    camera_ = must(reg_->create_camera(
        w_->admin,
        must(parse_camera_input(json::object{{"unit_id", unit_.id}, {"name", "后厨"}, {"area", "cooking"}}, false))));
    json::object s{
        {"unit_id", unit_.id},
        {"name", "张三"},
        {"id_number", id_number_with_check("32060219900101001")},
        {"health_cert", json::object{{"number", "JK-1"}, {"issued_on", "2026-06-01"}, {"expires_on", "2027-06-01"}}}};
    staff_ = must(reg_->create_staff(w_->admin, must(parse_staff_input(s, false))));
    DeviceInput d;
    d.unit_id = unit_.id;
    d.name = "冷藏柜 1";
    d.kind = "refrigerator";
    device_ = must(devices_->create(w_->admin, d));
  }

  std::int64_t count(const std::string& sql, const storage::Params& ps = {}) { return w_->count(sql, ps); }

  std::unique_ptr<World> w_;
  std::unique_ptr<crypto::FieldCipher> cipher_;
  std::unique_ptr<Registry> reg_;
  std::unique_ptr<DeviceService> devices_;
  Unit unit_;
  Camera camera_;
  Staff staff_;
  Device device_;
};

TEST_P(UnitPathsTest, EveryTableWithAJurisdictionPathIsKept) {
  storage::Conn c = w_->db->acquire();
  auto tables = storage::tables_with_column(*c, "jpath");
  // the schema is really read (a routine that saw no table would cover "all" of nothing)
  for (const char* t : {"units", "cameras", "staff", "devices", "files", "alerts", "alert_daily", "complaints"}) {
    EXPECT_TRUE(std::find(tables.begin(), tables.end(), t) != tables.end()) << t;
  }
  EXPECT_EQ(reg_->unit_paths().uncovered(*c), std::vector<std::string>{})
      << "a table with a jpath column that registry::UnitPaths does not keep: give it a unit_id, camera_id or "
         "device_id column, a hook from its owner, or a place in kNotUnitPaths";
}

TEST_P(UnitPathsTest, ATableNoRuleKeepsStopsTheMoveAndIsNamed) {
  {
    storage::Conn c = w_->db->acquire();
    c->exec_script("CREATE TABLE stray_rows (id TEXT PRIMARY KEY, jpath TEXT NOT NULL)");
    EXPECT_EQ(reg_->unit_paths().uncovered(*c), std::vector<std::string>{"stray_rows"});
  }
  auto move = must(parse_unit_input(json::object{{"jurisdiction_id", "jb"}}, true));
  EXPECT_THROW((void)reg_->update_unit(w_->admin, unit_.id, move), std::logic_error);
  // nothing half-moved
  EXPECT_EQ(must(reg_->get_unit(w_->admin, unit_.id)).jpath, "/jp/jc/ja/");
  EXPECT_EQ(count("SELECT COUNT(*) FROM cameras WHERE jpath = '/jp/jc/ja/' AND unit_id = $1", {unit_.id}), 1);
}

TEST_P(UnitPathsTest, MovingAUnitMovesEveryRowOfItAndItsStatistics) {
  const TimeMs day = kDayMs;
  auto a1 = w_->raise(unit_.id, camera_.id, "smoking", kStart - 3 * day, "e1");
  w_->raise(unit_.id, camera_.id, "no_mask", kStart - day, "e2");
  w_->raise("ua", "ca1", "smoking", kStart - day, "e3");  // another unit of district A stays
  ASSERT_TRUE(w_->alerts->dismiss(w_->admin, a1.alert_id, "误报").ok());

  auto move = must(parse_unit_input(json::object{{"jurisdiction_id", "jb"}}, true));
  ASSERT_TRUE(reg_->update_unit(w_->city, unit_.id, move).ok());

  // every table with jpath and unit_id, read from the schema: no row of the unit left behind
  storage::Conn c = w_->db->acquire();
  auto cols = storage::table_columns(*c);
  std::int64_t moved_rows = 0;
  for (const auto& [table, cs] : cols) {
    if (!cs.count("jpath") || !cs.count("unit_id")) continue;
    EXPECT_EQ(count("SELECT COUNT(*) FROM " + table + " WHERE unit_id = $1 AND jpath <> '/jp/jc/jb/'", {unit_.id}), 0)
        << table;
    moved_rows += count("SELECT COUNT(*) FROM " + table + " WHERE unit_id = $1", {unit_.id});
  }
  EXPECT_GE(moved_rows, 9) << "cameras, staff, devices, 2 alerts, outbox rows, per-unit rollups";
  EXPECT_EQ(count("SELECT COUNT(*) FROM units WHERE id = $1 AND jpath = '/jp/jc/jb/'", {unit_.id}), 1);

  // each side sees exactly what it should
  EXPECT_EQ(reg_->get_camera(w_->rega, camera_.id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(devices_->get(w_->rega, device_.id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(reg_->get_staff(w_->rega, staff_.id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(must(devices_->list(w_->rega, {}, {})).total, 0);
  EXPECT_TRUE(reg_->get_camera(w_->regb, camera_.id).ok());
  EXPECT_TRUE(devices_->get(w_->regb, device_.id).ok());
  EXPECT_TRUE(reg_->get_staff(w_->regb, staff_.id).ok());
  EXPECT_EQ(must(devices_->list(w_->regb, {}, {})).total, 1);
  alerts::AlertFilter f;
  EXPECT_EQ(w_->alerts->list(w_->rega, f, {1, 20})->total, 1) << "only ua's alert stays in district A";
  EXPECT_EQ(w_->alerts->list(w_->regb, f, {1, 20})->total, 2);

  // the rollups follow: for every scope they equal a count of the alerts table
  stats::StatsService stats(*w_->db, w_->clock, w_->alerts->config());
  stats::OverviewQuery q;
  q.from = kStart - 10 * day;
  q.to = kStart + day;
  for (const auto* p : {&w_->admin, &w_->city, &w_->rega, &w_->regb}) {
    auto fast = must(stats.overview(*p, q));
    auto exact = must(stats.overview_exact(*p, q));
    EXPECT_EQ(fast.alerts_total, exact.alerts_total) << p->username;
    EXPECT_EQ(fast.handled, exact.handled) << p->username;
    EXPECT_EQ(fast.by_type, exact.by_type) << p->username;
    EXPECT_EQ(fast.by_day, exact.by_day) << p->username;
  }
  EXPECT_EQ(must(stats.overview(w_->rega, q)).alerts_total, 1);
  EXPECT_EQ(must(stats.overview(w_->regb, q)).alerts_total, 2);
  EXPECT_EQ(must(stats.overview(w_->regb, q)).handled, 1);
  EXPECT_EQ(must(stats.overview(w_->city, q)).alerts_total, 3);

  // and back again: district A's numbers return exactly
  auto back = must(parse_unit_input(json::object{{"jurisdiction_id", "ja"}}, true));
  ASSERT_TRUE(reg_->update_unit(w_->admin, unit_.id, back).ok());
  EXPECT_EQ(must(stats.overview(w_->rega, q)).alerts_total, 3);
  EXPECT_EQ(must(stats.overview(w_->regb, q)).alerts_total, 0);
  EXPECT_EQ(must(stats.overview_exact(w_->regb, q)).alerts_total, 0);
}

TEST_P(UnitPathsTest, DeletingAUnitRetiresItsDevicesCamerasStaffAndKeys) {
  {
    storage::Conn c = w_->db->acquire();
    c->exec(
        "INSERT INTO api_keys (id, name, key_hash, unit_id, jpath, created_by, created_at) "
        "VALUES ('key_1', 'box', 'h1', $1, '/jp/jc/ja/', 'u_admin', 0)",
        {unit_.id});
  }
  ASSERT_TRUE(reg_->delete_unit(w_->rega, unit_.id).ok());
  EXPECT_EQ(devices_->get(w_->admin, device_.id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(must(devices_->list(w_->admin, {}, {})).total, 0);
  EXPECT_EQ(reg_->get_camera(w_->admin, camera_.id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(reg_->get_staff(w_->admin, staff_.id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(count("SELECT COUNT(*) FROM devices WHERE id = $1 AND deleted_at IS NOT NULL", {device_.id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM api_keys WHERE id = 'key_1' AND revoked_at IS NOT NULL"), 1);
  auto last = count("SELECT COUNT(*) FROM audit_log WHERE action = 'unit.delete' AND detail LIKE '%\"devices\":1%'");
  EXPECT_EQ(last, 1) << "the audit entry counts what the delete took along";
}

INSTANTIATE_TEST_SUITE_P(Engines, UnitPathsTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::registry
