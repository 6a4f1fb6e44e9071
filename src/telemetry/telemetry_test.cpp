// The pure parts of the sensor rules; the rules at work (breach, duration, one alert, back
// online) are tested through the ingest path in ingest_test.cpp on both engines.
#include "telemetry/telemetry.hpp"

#include <gtest/gtest.h>

namespace mingchu::telemetry {
namespace {

TEST(SensorRules, ADevicesOwnThresholdIsReadFromItsJson) {
  auto r =
      device_rule(R"({"temperature_c": {"min": 0, "max": 8, "min_duration_minutes": 2.5}})", "fridge", "temperature_c");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, "fridge");
  EXPECT_EQ(r->metric, "temperature_c");
  EXPECT_DOUBLE_EQ(*r->min, 0);
  EXPECT_DOUBLE_EQ(*r->max, 8);
  EXPECT_EQ(r->min_duration_ms, 150 * kSecondMs);
  EXPECT_EQ(format_limit(*r), "0–8");
}

TEST(SensorRules, NoRuleWithoutALimitOrForOtherMetricsOrBrokenJson) {
  EXPECT_FALSE(device_rule(R"({"temperature_c": {"min_duration_minutes": 1}})", "fridge", "temperature_c"));
  EXPECT_FALSE(device_rule(R"({"temperature_c": {"max": 8}})", "fridge", "humidity"));
  EXPECT_FALSE(device_rule(R"({"temperature_c": 8})", "fridge", "temperature_c"));
  EXPECT_FALSE(device_rule("{not json", "fridge", "temperature_c"));
  EXPECT_FALSE(device_rule("[]", "fridge", "temperature_c"));
  auto only_max = device_rule(R"({"t": {"max": -18}})", "freezer", "t");
  ASSERT_TRUE(only_max);
  EXPECT_EQ(only_max->min_duration_ms, 10 * kMinuteMs);  // the default duration
  EXPECT_EQ(format_limit(*only_max), "≤ -18");
  alerts::SensorRule min_only;
  min_only.min = 0.5;
  EXPECT_EQ(format_limit(min_only), "≥ 0.5");
}

}  // namespace
}  // namespace mingchu::telemetry
