// The alert taxonomy (预警类型) and the rules of graded handling (分级处置), as configuration:
// DOMAIN.md "The alert types" and "Graded handling", "Sensor thresholds".
//
// default_alerts_config() holds the defaults compiled in, so the binary works without any
// file; config/alerts.toml ships the same defaults. A deployment's file (path from the main
// config `[alerts] config_file`) overrides them: a type with a known code replaces that
// type's fields (e.g. moves it to another risk class), a new code ADDS a type, and likewise a
// sensor rule with a known (kind, metric) replaces that rule and a new one is added.
//
// Validation is strict: unknown keys, wrong types, a risk class other than 1, 2 or 3, a
// malformed code, a red card earlier than the yellow one... are refused with an error naming
// the key (e.g. "types[3].risk_class"), and the server does not start.
//
// Values with no behaviour; safe to share between threads once loaded.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "registry/devices.hpp"

namespace mingchu::alerts {

// One kind of abnormal event and its risk class (风险等级): 1 一类 (instant dual push by every
// channel), 2 二类 (rectify within a deadline), 3 三类 (counted into routine supervision).
struct AlertType {
  std::string code;  // [a-z][a-z0-9_]{0,31}, e.g. "rodent"
  std::string name_zh;
  std::string name_en;
  int risk_class = 2;
};

// A threshold rule for sensor readings: a reading of `metric` from a device of `kind`
// ("*" for every kind) outside [min, max] is a breach; a breach lasting min_duration_ms
// raises sensor_out_of_range. A device's own thresholds (devices.thresholds) win.
struct SensorRule {
  std::string kind;
  std::string metric;
  std::optional<double> min, max;
  TimeMs min_duration_ms = 10 * kMinuteMs;
};

struct AlertsConfig {
  std::vector<AlertType> types;
  // Natural days to rectify, by risk class (index 1..3); 0 = no deadline.
  std::array<int, 4> deadline_days{0, 7, 7, 0};
  // Cards (黄牌/红牌) for class-1 alerts not closed, days after the alert was raised.
  int yellow_card_days = 5;
  int red_card_days = 10;
  // Events of the same unit, camera (or device) and type this close to an open alert fold into it.
  TimeMs dedup_window_ms = 10 * kMinuteMs;
  // Cameras and devices silent longer than this are offline (camera_offline).
  TimeMs offline_window_ms = 5 * kMinuteMs;
  std::vector<SensorRule> sensor_rules;
  // Local time for days (deadlines count natural days; statistics group by local day).
  int utc_offset_minutes = 480;

  const AlertType* find_type(std::string_view code) const;
  // The deadline of an alert of this class raised at t; nullopt for classes without one.
  std::optional<TimeMs> due_at(int risk_class, TimeMs raised_at) const;
  // The rule for this device kind and metric (a kind-specific rule beats "*"), if any.
  const SensorRule* find_rule(std::string_view kind, std::string_view metric) const;
};

// The defaults of DOMAIN.md: the 15 types, 7-day deadlines for classes 1 and 2, cards at 5
// and 10 days, a 10-minute dedup window, a 5-minute offline window, the sensor rules of
// seed 001 (storeroom ≤ 25 °C, refrigerator 0–8 °C, freezer ≤ −18 °C, humidity ≤ 75 %...).
AlertsConfig default_alerts_config();

// Applies a TOML document over base. source names the file in error messages.
Result<AlertsConfig> parse_alerts_toml(std::string_view text, const AlertsConfig& base, std::string_view source);
// Reads and applies a file; kInvalid naming the path when it cannot be read.
Result<AlertsConfig> load_alerts_file(const std::string& path, const AlertsConfig& base);

// Device kinds and metric names are the registry's (registry/devices.hpp).
using registry::kDeviceKinds;
using registry::valid_device_kind;
using registry::valid_metric_name;
bool valid_type_code(std::string_view code);

}  // namespace mingchu::alerts
