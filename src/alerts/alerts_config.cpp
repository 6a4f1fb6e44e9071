#include "alerts/alerts_config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "core/json.hpp"

namespace mingchu::alerts {
namespace {

bool lower_ident(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

Error bad(std::string_view source, const std::string& key, const std::string& why) {
  return Error::invalid(key, "invalid_alerts_config", std::string(source) + ": '" + key + "' " + why);
}

// Reads the keys of one TOML table, refusing any key not read.
class TableReader {
 public:
  TableReader(const toml::table& t, std::string prefix, std::string_view source)
      : t_(t), prefix_(std::move(prefix)), source_(source) {}

  std::string key(std::string_view k) const {
    return prefix_.empty() ? std::string(k) : prefix_ + "." + std::string(k);
  }

  const toml::node* get(std::string_view k) {
    seen_.insert(std::string(k));
    return t_.get(k);
  }
  bool integer(std::string_view k, int lo, int hi, int& out) {
    const toml::node* n = get(k);
    if (!n) return false;
    auto v = n->value_exact<int64_t>();
    if (!v || *v < lo || *v > hi) {
      fail(key(k), "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
      return false;
    }
    out = static_cast<int>(*v);
    return true;
  }
  bool number(std::string_view k, double& out) {
    const toml::node* n = get(k);
    if (!n) return false;
    std::optional<double> v;
    if (n->is_integer()) v = static_cast<double>(*n->value_exact<int64_t>());
    if (n->is_floating_point()) v = *n->value_exact<double>();
    if (!v || !std::isfinite(*v) || std::fabs(*v) > 1e9) {
      fail(key(k), "must be a finite number");
      return false;
    }
    out = *v;
    return true;
  }
  bool text(std::string_view k, size_t max_chars, std::string& out) {
    const toml::node* n = get(k);
    if (!n) return false;
    auto v = n->value_exact<std::string>();
    if (!v || v->empty() || utf8_length(*v) > max_chars || has_control_chars(*v, false)) {
      fail(key(k), "must be a non-empty single-line string of at most " + std::to_string(max_chars) + " characters");
      return false;
    }
    out = *v;
    return true;
  }
  void fail(const std::string& k, const std::string& why) {
    if (!error_) error_ = bad(source_, k, why);
  }
  // Unknown keys, then the first failure.
  std::optional<Error> finish() {
    if (error_) return error_;
    for (const auto& [k, v] : t_) {
      if (!seen_.contains(std::string(k.str()))) return bad(source_, key(k.str()), "is not a known key");
    }
    return std::nullopt;
  }

 private:
  const toml::table& t_;
  std::string prefix_;
  std::string_view source_;
  std::set<std::string> seen_;
  std::optional<Error> error_;
};

const toml::table* sub_table(TableReader& r, std::string_view k, std::optional<Error>& err, std::string_view source) {
  const toml::node* n = r.get(k);
  if (!n) return nullptr;
  if (!n->is_table()) {
    err = bad(source, r.key(k), "must be a table");
    return nullptr;
  }
  return n->as_table();
}

const toml::array* table_array(TableReader& r, std::string_view k, std::optional<Error>& err, std::string_view source) {
  const toml::node* n = r.get(k);
  if (!n) return nullptr;
  if (!n->is_array_of_tables()) {
    err = bad(source, r.key(k), "must be an array of tables ([[" + std::string(k) + "]])");
    return nullptr;
  }
  return n->as_array();
}

}  // namespace

bool valid_type_code(std::string_view code) { return lower_ident(code, 32); }

const AlertType* AlertsConfig::find_type(std::string_view code) const {
  for (const auto& t : types) {
    if (t.code == code) return &t;
  }
  return nullptr;
}

std::optional<TimeMs> AlertsConfig::due_at(int risk_class, TimeMs raised_at) const {
  if (risk_class < 1 || risk_class > 3 || deadline_days[static_cast<size_t>(risk_class)] <= 0) return std::nullopt;
  return raised_at + deadline_days[static_cast<size_t>(risk_class)] * kDayMs;
}

const SensorRule* AlertsConfig::find_rule(std::string_view kind, std::string_view metric) const {
  const SensorRule* any = nullptr;
  for (const auto& r : sensor_rules) {
    if (r.metric != metric) continue;
    if (r.kind == kind) return &r;
    if (r.kind == "*") any = &r;
  }
  return any;
}

AlertsConfig default_alerts_config() {
  AlertsConfig c;
  c.types = {
      {"rodent", "老鼠出没", "Rodent", 1},
      {"animal", "猫、狗等动物", "Cat, dog or other animal", 1},
      {"pest", "蟑螂、苍蝇等有害生物", "Cockroaches, flies or other pests", 1},
      {"smoking", "后厨吸烟", "Smoking in the kitchen", 2},
      {"bin_uncovered", "垃圾桶未加盖", "Waste bin not covered", 2},
      {"phone_use", "玩手机", "Using a phone while working", 2},
      {"no_mask", "未戴口罩", "No face mask", 3},
      {"no_hat", "未戴工作帽", "No chef hat", 3},
      {"no_uniform", "未穿工作服", "No work uniform", 3},
      {"no_gloves", "未戴手套", "No gloves", 3},
      {"clutter", "堆放杂物", "Clutter piled up", 3},
      {"utensil_unclean", "厨具长时间未清洗", "Utensils left unwashed", 3},
      {"camera_offline", "摄像头断电或断网", "Camera offline (power or network lost)", 2},
      {"stranger", "外来人员进入", "Unauthorised person entered", 2},
      {"sensor_out_of_range", "温湿度等超限", "Sensor reading out of range", 2},
      {"self_check_failed", "自查不合格", "Self-inspection item failed", 3},
  };
  auto rule = [](const char* kind, const char* metric, std::optional<double> lo, std::optional<double> hi, TimeMs dur) {
    return SensorRule{kind, metric, lo, hi, dur};
  };
  c.sensor_rules = {
      rule("storeroom", "temperature_c", std::nullopt, 25.0, 10 * kMinuteMs),
      rule("refrigerator", "temperature_c", 0.0, 8.0, 10 * kMinuteMs),
      rule("freezer", "temperature_c", std::nullopt, -18.0, 10 * kMinuteMs),
      rule("sample_cabinet", "temperature_c", 0.0, 8.0, 10 * kMinuteMs),
      rule("hot_holding", "temperature_c", 60.0, std::nullopt, 10 * kMinuteMs),
      rule("*", "humidity_pct", std::nullopt, 75.0, 10 * kMinuteMs),
      rule("rat_board", "displaced", std::nullopt, 0.0, 0),
  };
  return c;
}

Result<AlertsConfig> parse_alerts_toml(std::string_view text, const AlertsConfig& base, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return Error::invalid(
        "alerts_config", "invalid_alerts_config",
        std::string(source) + ": cannot parse (" + where.str() + "): " + std::string(e.description()));
  }
  AlertsConfig c = base;
  std::optional<Error> err;
  TableReader top(root, "", source);

  top.integer("utc_offset_minutes", -720, 840, c.utc_offset_minutes);
  int minutes = 0;
  if (top.integer("dedup_window_minutes", 0, 24 * 60, minutes)) c.dedup_window_ms = minutes * kMinuteMs;
  if (top.integer("offline_window_minutes", 1, 7 * 24 * 60, minutes)) c.offline_window_ms = minutes * kMinuteMs;

  if (const toml::table* t = sub_table(top, "deadlines", err, source)) {
    TableReader r(*t, "deadlines", source);
    r.integer("class_1", 0, 365, c.deadline_days[1]);
    r.integer("class_2", 0, 365, c.deadline_days[2]);
    r.integer("class_3", 0, 365, c.deadline_days[3]);
    if (auto e = r.finish(); e && !err) err = e;
  }
  if (const toml::table* t = sub_table(top, "cards", err, source)) {
    TableReader r(*t, "cards", source);
    r.integer("yellow_days", 1, 365, c.yellow_card_days);
    r.integer("red_days", 1, 365, c.red_card_days);
    if (auto e = r.finish(); e && !err) err = e;
  }
  if (!err && c.red_card_days <= c.yellow_card_days) {
    err = bad(source, "cards.red_days", "must be later than cards.yellow_days");
  }

  if (const toml::array* arr = table_array(top, "types", err, source)) {
    std::set<std::string> in_file;
    for (size_t i = 0; i < arr->size() && !err; ++i) {
      std::string prefix = "types[" + std::to_string(i) + "]";
      TableReader r(*arr->get(i)->as_table(), prefix, source);
      AlertType t;
      if (!r.text("code", 32, t.code)) {
        err = bad(source, prefix + ".code", "is required: a non-empty string");
        break;
      }
      if (!valid_type_code(t.code)) {
        err = bad(source, prefix + ".code", "must be 1–32 of a-z, 0-9 and _, starting with a letter");
        break;
      }
      if (!in_file.insert(t.code).second) {
        err = bad(source, prefix + ".code", "repeats the code '" + t.code + "'");
        break;
      }
      const AlertType* known = c.find_type(t.code);
      if (known) t = *known;
      bool has_zh = r.text("name_zh", 64, t.name_zh);
      bool has_en = r.text("name_en", 64, t.name_en);
      bool has_class = r.integer("risk_class", 1, 3, t.risk_class);
      if (auto e = r.finish()) {
        err = e;
        break;
      }
      if (!known) {
        // a new type must say everything about itself
        if (!has_zh)
          err = bad(source, prefix + ".name_zh", "is required for a new type");
        else if (!has_en)
          err = bad(source, prefix + ".name_en", "is required for a new type");
        else if (!has_class)
          err = bad(source, prefix + ".risk_class", "is required for a new type");
        if (err) break;
        c.types.push_back(t);
      } else {
        for (auto& existing : c.types) {
          if (existing.code == t.code) existing = t;
        }
      }
    }
  }

  if (const toml::array* arr = table_array(top, "sensor_rules", err, source)) {
    for (size_t i = 0; i < arr->size() && !err; ++i) {
      std::string prefix = "sensor_rules[" + std::to_string(i) + "]";
      TableReader r(*arr->get(i)->as_table(), prefix, source);
      SensorRule rule;
      bool has_kind = r.text("kind", 32, rule.kind);
      bool has_metric = r.text("metric", 32, rule.metric);
      double v = 0;
      if (r.number("min", v)) rule.min = v;
      if (r.number("max", v)) rule.max = v;
      int dur = 10;
      r.integer("min_duration_minutes", 0, 24 * 60, dur);
      rule.min_duration_ms = dur * kMinuteMs;
      if (auto e = r.finish()) {
        err = e;
        break;
      }
      if (!has_kind || (rule.kind != "*" && !valid_device_kind(rule.kind))) {
        err = bad(source, prefix + ".kind", "must be \"*\" or a device kind (storeroom, refrigerator, freezer, ...)");
      } else if (!has_metric || !valid_metric_name(rule.metric)) {
        err = bad(source, prefix + ".metric", "must be 1–32 of a-z, 0-9 and _, starting with a letter");
      } else if (!rule.min && !rule.max) {
        err = bad(source, prefix + ".max", "a rule needs min, max or both");
      } else if (rule.min && rule.max && *rule.min > *rule.max) {
        err = bad(source, prefix + ".min", "must not be above max");
      }
      if (err) break;
      auto same = std::find_if(c.sensor_rules.begin(), c.sensor_rules.end(),
                               [&](const SensorRule& s) { return s.kind == rule.kind && s.metric == rule.metric; });
      if (same != c.sensor_rules.end())
        *same = rule;
      else
        c.sensor_rules.push_back(rule);
    }
  }

  if (auto e = top.finish(); e && !err) err = e;
  if (err) return *err;
  return c;
}

Result<AlertsConfig> load_alerts_file(const std::string& path, const AlertsConfig& base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::invalid("alerts.config_file", "invalid_alerts_config", "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_alerts_toml(ss.str(), base, path);
}

}  // namespace mingchu::alerts
