// The statistics overview against a fixture computed by hand, on every engine: rollups for
// whole days plus exact edges must give the same numbers as counting the alerts themselves.
#include <random>

#include <gtest/gtest.h>

#include "alerts/testing.hpp"
#include "stats/stats_service.hpp"

namespace mingchu::stats {
namespace {

using alerts::testing::kStart;
using alerts::testing::World;

// Local (UTC+8) times relative to kStart = 2026-11-22T08:00+08:00.
constexpr TimeMs kNov19Noon = kStart - 244800000;      // 2026-11-19 12:00
constexpr TimeMs kNov20Midnight = kStart - 201600000;  // 2026-11-20 00:00
constexpr TimeMs kNov20At10 = kStart - 165600000;      // 2026-11-20 10:00
constexpr TimeMs kNov20Noon = kStart - 158400000;      // 2026-11-20 12:00
constexpr TimeMs kNov20Last = kStart - 115200001;      // 2026-11-20 23:59:59.999
constexpr TimeMs kNov21Midnight = kStart - 115200000;  // 2026-11-21 00:00
constexpr TimeMs kNov21At6 = kStart - 93600000;        // 2026-11-21 06:00
constexpr TimeMs kNov21Noon = kStart - 72000000;       // 2026-11-21 12:00
constexpr TimeMs kNov22At7 = kStart - 3600000;         // 2026-11-22 07:00

class StatsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    w_ = std::make_unique<World>(GetParam());
    svc_ = std::make_unique<StatsService>(*w_->db, w_->clock, w_->alerts->config());
    w_->raise("ua", "ca1", "rodent", kNov20At10);   // class 1
    w_->raise("ua", "ca2", "smoking", kNov20Last);  // class 2, the day's last millisecond
    w_->raise("ub", "cb1", "rodent", kNov21Midnight);
    auto closed = w_->raise("ub", "cb1", "no_mask", kNov21Noon).alert_id;  // class 3
    auto dismissed = w_->raise("ua", "ca1", "no_hat", kNov22At7).alert_id;
    w_->raise("ua", "ca1", "rodent", kNov19Noon);  // before the ranges below
    EXPECT_TRUE(w_->alerts->rectify(w_->mb, closed, {"done", {}}).ok());
    EXPECT_TRUE(w_->alerts->review(w_->regb, closed, {true, ""}).ok());
    EXPECT_TRUE(w_->alerts->dismiss(w_->rega, dismissed, "fp").ok());
  }

  Overview both(const auth::Principal& p, OverviewQuery q) {
    auto fast = svc_->overview(p, q);
    auto exact = svc_->overview_exact(p, q);
    EXPECT_TRUE(fast.ok() && exact.ok());
    EXPECT_EQ(fast->alerts_total, exact->alerts_total);
    EXPECT_EQ(fast->handled, exact->handled);
    EXPECT_EQ(fast->by_type, exact->by_type);
    EXPECT_EQ(fast->by_risk_class, exact->by_risk_class);
    EXPECT_EQ(fast->by_day, exact->by_day);
    EXPECT_EQ(fast->units_with_alerts, exact->units_with_alerts);
    EXPECT_EQ(fast->top_units.size(), exact->top_units.size());
    for (size_t i = 0; i < std::min(fast->top_units.size(), exact->top_units.size()); ++i) {
      EXPECT_EQ(fast->top_units[i].unit_id, exact->top_units[i].unit_id);
      EXPECT_EQ(fast->top_units[i].count, exact->top_units[i].count);
    }
    return *fast;
  }

  std::unique_ptr<World> w_;
  std::unique_ptr<StatsService> svc_;
};

TEST_P(StatsTest, MatchesTheHandComputedFixture) {
  Overview o = both(w_->admin, {std::nullopt, kNov20Midnight, kStart});
  EXPECT_EQ(o.units, 2);
  EXPECT_EQ(o.units_with_alerts, 2);
  EXPECT_EQ(o.alerts_total, 5);
  EXPECT_DOUBLE_EQ(o.alerts_per_unit, 2.5);
  EXPECT_EQ(o.handled, 2);
  EXPECT_DOUBLE_EQ(o.handling_rate, 0.4);
  EXPECT_EQ(o.by_type["rodent"], 2);
  EXPECT_EQ(o.by_type["smoking"], 1);
  EXPECT_EQ(o.by_type["no_mask"], 1);
  EXPECT_EQ(o.by_type["no_hat"], 1);
  EXPECT_EQ(o.by_type["pest"], 0) << "every type is listed";
  EXPECT_EQ(o.by_type.size(), 16u) << "the 15 types of the domain and self_check_failed (operations)";
  EXPECT_EQ(o.by_risk_class[1], 2);
  EXPECT_EQ(o.by_risk_class[2], 1);
  EXPECT_EQ(o.by_risk_class[3], 2);
  using Day = std::pair<std::string, std::int64_t>;
  EXPECT_EQ(o.by_day, (std::vector<Day>{{"2026-11-20", 2}, {"2026-11-21", 2}, {"2026-11-22", 1}}));
  ASSERT_EQ(o.top_units.size(), 2u);
  EXPECT_EQ(o.top_units[0].unit_id, "ua");
  EXPECT_EQ(o.top_units[0].count, 3);
  EXPECT_EQ(o.top_units[0].name, "Unit ua");
  EXPECT_EQ(o.top_units[1].count, 2);
  EXPECT_EQ(o.cameras_total, 3);
  EXPECT_EQ(o.cameras_online, 0);
}

TEST_P(StatsTest, IsScopedToTheCaller) {
  Overview a = both(w_->rega, {std::nullopt, kNov20Midnight, kStart});
  EXPECT_EQ(a.units, 1);
  EXPECT_EQ(a.alerts_total, 3);
  EXPECT_EQ(a.handled, 1);
  EXPECT_EQ(a.cameras_total, 2);
  Overview m = both(w_->mb, {std::nullopt, kNov20Midnight, kStart});
  EXPECT_EQ(m.units, 1);
  EXPECT_EQ(m.alerts_total, 2);
  EXPECT_EQ(m.top_units[0].unit_id, "ub");
  Overview sub = both(w_->city, {"jb", kNov20Midnight, kStart});
  EXPECT_EQ(sub.alerts_total, 2);
  EXPECT_EQ(sub.units, 1);
  auto outside = svc_->overview(w_->rega, {"jb", kNov20Midnight, kStart});
  EXPECT_EQ(outside.error().field, "jurisdiction_id");
}

TEST_P(StatsTest, PartialDaysAtBothEndsAreExact) {
  Overview o = both(w_->admin, {std::nullopt, kNov20Noon, kNov21At6});
  EXPECT_EQ(o.alerts_total, 2) << "23:59:59.999 and 00:00 are inside, 10:00 is not";
  using Day = std::pair<std::string, std::int64_t>;
  EXPECT_EQ(o.by_day, (std::vector<Day>{{"2026-11-20", 1}, {"2026-11-21", 1}}));
  Overview edge = both(w_->admin, {std::nullopt, kNov20Last, kNov21Midnight});
  EXPECT_EQ(edge.alerts_total, 1) << "[from, to): one millisecond";
  Overview empty = both(w_->admin, {std::nullopt, kStart - 40 * kDayMs, kStart - 37 * kDayMs});
  EXPECT_EQ(empty.alerts_total, 0);
  EXPECT_EQ(empty.by_day.size(), 4u) << "days without alerts are listed with 0";
  // many random ranges: the rollups and the raw count agree
  std::mt19937 rng(11);
  for (int i = 0; i < 40; ++i) {
    TimeMs a = kStart - 5 * kDayMs + static_cast<TimeMs>(rng() % (5 * kDayMs));
    TimeMs b = a + 1 + static_cast<TimeMs>(rng() % (3 * kDayMs));
    both(w_->admin, {std::nullopt, a, b});
    both(w_->city, {"ja", a, b});
  }
}

TEST_P(StatsTest, LongRangesAddWholeSpansAndDays) {
  // findings every 29 hours over 80 days, some handled, in both districts
  for (int i = 0; i < 66; ++i) {
    TimeMs at = kStart - 80 * kDayMs + i * 29 * kHourMs;
    auto id = w_->raise(i % 3 ? "ua" : "ub", i % 3 ? "ca2" : "cb1", i % 2 ? "clutter" : "stranger", at).alert_id;
    if (i % 4 == 0) {
      EXPECT_TRUE(w_->alerts->dismiss(w_->admin, id, "fp").ok());
    }
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 30; ++i) {
    TimeMs a = kStart - 85 * kDayMs + static_cast<TimeMs>(rng() % (40 * kDayMs));
    TimeMs b = std::min<TimeMs>(kStart + kHourMs, a + 20 * kDayMs + static_cast<TimeMs>(rng() % (60 * kDayMs)));
    both(w_->admin, {std::nullopt, a, b});
    both(w_->rega, {std::nullopt, a, b});
  }
  Overview all = both(w_->admin, {std::nullopt, kStart - 90 * kDayMs, kStart + kHourMs});
  EXPECT_EQ(all.alerts_total, 66 + 6);
}

TEST_P(StatsTest, RefusesBadRanges) {
  EXPECT_EQ(svc_->overview(w_->admin, {std::nullopt, kStart, kStart}).error().field, "from");
  EXPECT_EQ(svc_->overview(w_->admin, {std::nullopt, kStart - 400 * kDayMs, kStart}).error().code, "range_too_long");
  auto def = svc_->overview(w_->admin, {});
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->to, kStart);
  EXPECT_EQ(def->from, kStart - 30 * kDayMs);
  EXPECT_EQ(def->alerts_total, 6);
}

INSTANTIATE_TEST_SUITE_P(Engines, StatsTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::stats
