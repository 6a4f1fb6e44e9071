// The record kinds of the other ledgers, their fields and their abnormality rules, and the
// store behind them (op_records).
#include "operations/ledgers.hpp"

#include <algorithm>
#include <cmath>

#include "alerts/writer.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "operations/internal.hpp"

namespace mingchu::operations {

namespace {

enum class FieldType { kText, kNumber, kInteger, kBool, kTime, kDate, kEnum, kChecklist };

struct FieldSpec {
  const char* name;
  FieldType type;
  bool required;
  double min = 0, max = 0;            // numbers and integers
  size_t max_chars = 64;              // text
  std::vector<const char*> values{};  // enums
};

struct KindSpec {
  const char* ledger;
  const char* kind;
  const char* name_zh;
  std::vector<FieldSpec> fields;
};

FieldSpec text(const char* n, bool req, size_t max_chars = 64) { return {n, FieldType::kText, req, 0, 0, max_chars}; }
FieldSpec number(const char* n, bool req, double lo, double hi) { return {n, FieldType::kNumber, req, lo, hi}; }
FieldSpec integer(const char* n, bool req, double lo, double hi) { return {n, FieldType::kInteger, req, lo, hi}; }
FieldSpec boolean(const char* n, bool req) { return {n, FieldType::kBool, req}; }
FieldSpec time_f(const char* n, bool req) { return {n, FieldType::kTime, req}; }
FieldSpec date_f(const char* n, bool req) { return {n, FieldType::kDate, req}; }
FieldSpec one_of(const char* n, bool req, std::vector<const char*> v) {
  return {n, FieldType::kEnum, req, 0, 0, 32, std::move(v)};
}

// Where a seed lists a field, the kind has it (seed 001 §6.2.2–6.2.6, §6.4, §7.2–7.4).
const std::vector<KindSpec>& kinds() {
  static const std::vector<KindSpec> k = {
      // 加工过程 process records
      {"process-records",
       "core_temperature",
       "中心温度",
       {text("dish", true), number("temperature_c", true, -30, 150), text("operator", true, 32),
        text("photo_id", false)}},
      {"process-records",
       "cooling",
       "冷却",
       {text("dish", true), number("start_temp_c", true, -30, 150), number("end_temp_c", true, -30, 150),
        time_f("started_at", true), time_f("ended_at", true), text("operator", true, 32)}},
      {"process-records",
       "reheating",
       "再加热",
       {text("dish", true), number("temperature_c", true, -30, 150), text("operator", true, 32)}},
      {"process-records",
       "special_room_entry",
       "专间进入与手部消毒",
       {text("person", true, 32), text("room", true), boolean("hands_disinfected", true), text("disinfectant", false)}},
      {"process-records",
       "additive_use",
       "食品添加剂使用",
       {text("additive", true), text("gb2760_ref", false), number("quantity_g", true, 0.001, 100000),
        text("dish", true), text("person", true, 32)}},
      // 餐后 after the meal
      {"after-meal-records",
       "tableware_disinfection",
       "餐用具清洗消毒",
       {one_of("method", true, {"steam", "boiling", "infrared", "chemical", "dishwasher"}),
        integer("items", true, 1, 1e6), integer("cycles", true, 1, 100), number("temperature_c", false, 0, 300),
        integer("duration_min", true, 1, 600), text("operator", true, 32)}},
      {"after-meal-records",
       "kitchen_waste",
       "餐厨废弃物",
       {one_of("waste_kind", true, {"food_waste", "waste_oil", "other"}), number("quantity_kg", true, 0.001, 100000),
        text("collector", true, 100), text("collector_licence", true), text("handler", true, 32)}},
      // 人员 people
      {"morning-checks",
       "morning_check",
       "晨检",
       {text("staff_name", true, 32), text("staff_id", false), number("temperature_c", true, 30, 45),
        boolean("hands_ok", true), text("symptoms", false, 200), boolean("on_duty", false)}},
      {"trainings",
       "training",
       "培训",
       {text("course", true, 100), text("trainer", true, 32), number("hours", true, 0.1, 200),
        integer("attendees", true, 1, 10000), text("plan", false, 200)}},
      {"trainings",
       "exam",
       "考核",
       {text("staff_name", true, 32), text("course", true, 100), number("score", true, 0, 100),
        number("pass_score", false, 0, 100), text("certificate_no", false), date_f("certificate_expires_on", false)}},
      // 设备 equipment
      {"equipment-records",
       "equipment",
       "设备台账",
       {text("equipment", true, 100),
        one_of("action", true, {"purchase", "maintenance", "repair", "fault", "scrapping"}),
        text("performed_by", true, 64), text("note", false, 500)}},
      // 检验 lab and rapid tests
      {"lab-tests",
       "rapid_test",
       "快检",
       {text("sample_item", true), text("test_item", true), one_of("result", true, {"pass", "fail"}),
        text("tester", true, 32), text("value", false)}},
      {"lab-tests",
       "lab_report",
       "检验报告",
       {text("sample_item", true), text("lab", true, 100), one_of("result", true, {"pass", "fail"}),
        text("report_no", true), text("file_id", false)}},
      // 自查 self-inspection (§5.1.2)
      {"self-inspections",
       "self_inspection",
       "自查",
       {text("inspector", true, 32), {"items", FieldType::kChecklist, true}, text("note", false, 500)}},
  };
  return k;
}

const KindSpec* find_kind(std::string_view ledger, std::string_view kind) {
  for (const auto& k : kinds()) {
    if (ledger == k.ledger && kind == k.kind) return &k;
  }
  return nullptr;
}

std::string_view type_name(FieldType t) {
  switch (t) {
    case FieldType::kText:
      return "text";
    case FieldType::kNumber:
      return "number";
    case FieldType::kInteger:
      return "integer";
    case FieldType::kBool:
      return "boolean";
    case FieldType::kTime:
      return "time";
    case FieldType::kDate:
      return "date";
    case FieldType::kEnum:
      return "enum";
    case FieldType::kChecklist:
      return "checklist";
  }
  return "text";
}

double num(const json::object& o, std::string_view k, double dflt = 0) {
  auto it = o.find(k);
  if (it == o.end() || !it->value().is_number()) return dflt;
  return it->value().to_number<double>();
}
bool flag(const json::object& o, std::string_view k, bool dflt) {
  auto it = o.find(k);
  if (it == o.end() || !it->value().is_bool()) return dflt;
  return it->value().as_bool();
}
std::string str(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  if (it == o.end() || !it->value().is_string()) return "";
  return std::string(it->value().as_string());
}

constexpr const char* kSelect =
    "SELECT id, unit_id, jpath, ledger, kind, fields, device_id, abnormal, alert_id, at, created_by, created_at "
    "FROM op_records";

LedgerRecord from_row(const storage::Row& r) {
  LedgerRecord rec;
  rec.id = r.text(0);
  rec.unit_id = r.text(1);
  rec.jpath = r.text(2);
  rec.ledger = r.text(3);
  rec.kind = r.text(4);
  if (auto v = parse_object(r.text(5))) rec.fields = std::move(*v);
  rec.device_id = r.opt_text(6);
  rec.abnormal = r.boolean(7);
  rec.alert_id = r.opt_text(8);
  rec.at = r.integer(9);
  rec.created_by = r.text(10);
  rec.created_at = r.integer(11);
  return rec;
}

}  // namespace

const std::vector<LedgerInfo>& ledgers() {
  static const std::vector<LedgerInfo> out = [] {
    std::vector<LedgerInfo> v;
    for (const auto& k : kinds()) {
      auto it = std::find_if(v.begin(), v.end(), [&](const LedgerInfo& l) { return l.ledger == k.ledger; });
      if (it == v.end()) {
        v.push_back(LedgerInfo{k.ledger, {}});
        it = v.end() - 1;
      }
      it->kinds.emplace_back(k.kind);
    }
    return v;
  }();
  return out;
}

json::array ledger_schema() {
  json::array out;
  for (const auto& k : kinds()) {
    json::array fields;
    for (const auto& f : k.fields) {
      json::object fo{{"name", f.name}, {"type", type_name(f.type)}, {"required", f.required}};
      if (f.type == FieldType::kNumber || f.type == FieldType::kInteger) {
        fo["min"] = f.min;
        fo["max"] = f.max;
      }
      if (f.type == FieldType::kText) fo["max_chars"] = static_cast<std::int64_t>(f.max_chars);
      if (f.type == FieldType::kEnum) {
        json::array vals;
        for (const char* v : f.values) vals.emplace_back(v);
        fo["values"] = std::move(vals);
      }
      fields.emplace_back(std::move(fo));
    }
    out.emplace_back(json::object{{"ledger", k.ledger}, {"kind", k.kind}, {"name_zh", k.name_zh}, {"fields", fields}});
  }
  return out;
}

Result<LedgerInput> parse_ledger_record(std::string_view ledger, const json::object& body) {
  ObjectReader r(body);
  LedgerInput in;
  auto unit = r.opt_string("unit_id", 64);
  auto kind = r.opt_string("kind", 32);
  auto device = r.opt_string("device_id", 64);
  if (auto at = r.opt_string("at", 40)) {
    in.at = parse_rfc3339(*at);
    if (!in.at || *in.at < 946684800000LL || *in.at > 4102444800000LL) {
      r.fail("at", "invalid_time", "field 'at' must be an RFC 3339 time");
    }
  }
  if (!r.ok()) return r.finish().error();
  if (!unit || !plausible_id(*unit)) return Error::invalid("unit_id", "missing_field", "field 'unit_id' is required");
  if (device && !plausible_id(*device)) {
    return Error::invalid("device_id", "invalid_id", "field 'device_id' is not a valid id");
  }
  // a ledger with one kind does not need it named
  const KindSpec* spec = nullptr;
  if (kind) {
    spec = find_kind(ledger, *kind);
  } else {
    for (const auto& l : ledgers()) {
      if (l.ledger == ledger && l.kinds.size() == 1) spec = find_kind(ledger, l.kinds[0]);
    }
  }
  if (!spec) {
    std::string names;
    for (const auto& l : ledgers()) {
      if (l.ledger == ledger) {
        for (const auto& k : l.kinds) names += (names.empty() ? "" : ", ") + k;
      }
    }
    return Error::invalid("kind", kind ? "invalid_value" : "missing_field", "field 'kind' must be one of: " + names);
  }
  in.unit_id = *unit;
  in.kind = spec->kind;
  in.device_id = device;
  for (const auto& f : spec->fields) {
    const std::string key = f.name;
    bool present = body.contains(key) && !body.at(key).is_null();
    if (!present) {
      r.allow(key);
      if (f.required) r.fail(key, "missing_field", "field '" + key + "' is required");
      continue;
    }
    switch (f.type) {
      case FieldType::kText: {
        auto v = r.opt_string(key, f.max_chars);
        if (v && v->empty() && f.required) r.fail(key, "empty_field", "field '" + key + "' must not be empty");
        if (v && !v->empty()) in.fields[key] = *v;
        break;
      }
      case FieldType::kNumber: {
        auto v = r.opt_number(key, -1e300, 1e300);
        if (v && (*v < f.min || *v > f.max)) {
          r.fail(key, "out_of_range",
                 "field '" + key + "' must be between " + json::serialize(json::value(f.min)) + " and " +
                     json::serialize(json::value(f.max)));
        } else if (v) {
          in.fields[key] = std::round(*v * 1000.0) / 1000.0;
        }
        break;
      }
      case FieldType::kInteger: {
        auto v = r.opt_int(key, static_cast<std::int64_t>(f.min), static_cast<std::int64_t>(f.max));
        if (v) in.fields[key] = *v;
        break;
      }
      case FieldType::kBool: {
        auto v = r.opt_bool(key);
        if (v) in.fields[key] = *v;
        break;
      }
      case FieldType::kTime: {
        auto v = r.opt_string(key, 40);
        auto t = v ? parse_rfc3339(*v) : std::nullopt;
        if (v && (!t || *t < 946684800000LL || *t > 4102444800000LL)) {
          r.fail(key, "invalid_time", "field '" + key + "' must be an RFC 3339 time");
        } else if (t) {
          in.fields[key] = format_rfc3339(*t, 480);
        }
        break;
      }
      case FieldType::kDate: {
        auto v = r.opt_string(key, 10);
        auto d = v ? parse_date(*v) : std::nullopt;
        if (v && (!d || *d < 10957 || *d > 47481)) {
          r.fail(key, "invalid_date", "field '" + key + "' must be a date YYYY-MM-DD between 2000 and 2099");
        } else if (d) {
          in.fields[key] = format_date(*d);
        }
        break;
      }
      case FieldType::kEnum: {
        auto v = r.opt_string(key, 32);
        if (v && std::none_of(f.values.begin(), f.values.end(), [&](const char* a) { return *v == a; })) {
          std::string names;
          for (const char* a : f.values) names += (names.empty() ? "" : ", ") + std::string(a);
          r.fail(key, "invalid_value", "field '" + key + "' must be one of: " + names);
        } else if (v) {
          in.fields[key] = *v;
        }
        break;
      }
      case FieldType::kChecklist: {
        const json::array* a = r.opt_array(key, 100);
        if (!a) break;
        if (a->empty()) {
          r.fail(key, "empty_field", "field '" + key + "' must list at least one item");
          break;
        }
        json::array items;
        for (size_t i = 0; i < a->size() && r.ok(); ++i) {
          std::string prefix = key + "[" + std::to_string(i) + "]";
          if (!(*a)[i].is_object()) {
            r.fail(prefix, "wrong_type", "field '" + prefix + "' must be an object");
            break;
          }
          ObjectReader ir((*a)[i].as_object(), prefix);
          std::string item = ir.req_string("item", 100);
          auto ok = ir.opt_bool("ok");
          if (!ir.has("ok")) ir.fail("ok", "missing_field", "field '" + prefix + ".ok' is required");
          auto note = ir.opt_string("note", 200);
          if (auto st = ir.finish(); !st) return st.error();
          json::object o{{"item", item}, {"ok", ok.value_or(false)}};
          if (note && !note->empty()) o["note"] = *note;
          items.emplace_back(std::move(o));
        }
        in.fields[key] = std::move(items);
        break;
      }
    }
  }
  if (auto st = r.finish(); !st) return st.error();
  // cross-field rules
  if (in.kind == "cooling") {
    auto s = parse_rfc3339(str(in.fields, "started_at"));
    auto e = parse_rfc3339(str(in.fields, "ended_at"));
    if (s && e && *e < *s) return Error::invalid("ended_at", "before_start", "field 'ended_at' is before 'started_at'");
  }
  return in;
}

json::object to_json(const LedgerRecord& r, int off) {
  json::object o{{"id", r.id},
                 {"unit_id", r.unit_id},
                 {"ledger", r.ledger},
                 {"kind", r.kind},
                 {"at", format_rfc3339(r.at, off)},
                 {"abnormal", r.abnormal},
                 {"device_id", r.device_id ? json::value(*r.device_id) : nullptr},
                 {"alert_id", r.alert_id ? json::value(*r.alert_id) : nullptr},
                 {"fields", r.fields},
                 {"created_at", format_rfc3339(r.created_at, off)}};
  return o;
}

Ledgers::Ledgers(storage::Database& db, const Clock& clock, const audit::AuditLog& audit,
                 const alerts::AlertsConfig* alerts, LedgerConfig config)
    : db_(db), clock_(clock), audit_(audit), alerts_(alerts), config_(config) {}

bool Ledgers::judge_abnormal(const std::string& kind, const json::object& f) const {
  if (kind == "core_temperature" || kind == "reheating") return num(f, "temperature_c") < config_.min_core_temp_c;
  if (kind == "cooling") {
    auto s = parse_rfc3339(str(f, "started_at"));
    auto e = parse_rfc3339(str(f, "ended_at"));
    bool slow = s && e && (*e - *s) > config_.cooling_max_minutes * kMinuteMs;
    return slow || num(f, "end_temp_c") > config_.cooled_max_c;
  }
  if (kind == "special_room_entry") return !flag(f, "hands_disinfected", false);
  if (kind == "tableware_disinfection") return num(f, "duration_min") < config_.disinfection_min_minutes;
  if (kind == "morning_check") {
    return num(f, "temperature_c") >= config_.fever_c || !flag(f, "hands_ok", true) || !str(f, "symptoms").empty();
  }
  if (kind == "exam") return num(f, "score") < num(f, "pass_score", 60);
  if (kind == "rapid_test" || kind == "lab_report") return str(f, "result") == "fail";
  if (kind == "equipment") return str(f, "action") == "fault";
  if (kind == "self_inspection") {
    auto it = f.find("items");
    if (it == f.end() || !it->value().is_array()) return false;
    for (const auto& i : it->value().as_array()) {
      if (i.is_object() && !flag(i.as_object(), "ok", true)) return true;
    }
  }
  return false;
}

Result<LedgerRecord> Ledgers::create(const auth::Principal& p, std::string_view ledger, const LedgerInput& in) {
  const TimeMs now = clock_.now_ms();
  if (in.at && *in.at > now + 10 * kMinuteMs) return Error::invalid("at", "in_future", "field 'at' is in the future");
  for (const char* key : {"started_at", "ended_at"}) {
    auto t = parse_rfc3339(str(in.fields, key));
    if (t && *t > now + 10 * kMinuteMs) {
      return Error::invalid(key, "in_future", "field '" + std::string(key) + "' is in the future");
    }
  }
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  if (in.device_id) {
    if (auto st = detail::check_device(*c, "device_id", *in.device_id, *unit); !st) return st.error();
  }
  LedgerRecord rec;
  rec.id = new_id("rec");
  rec.unit_id = unit->id;
  rec.jpath = unit->jpath;
  rec.ledger = std::string(ledger);
  rec.kind = in.kind;
  rec.fields = in.fields;
  rec.device_id = in.device_id;
  rec.abnormal = judge_abnormal(in.kind, in.fields);
  rec.at = in.at.value_or(now);
  rec.created_by = p.user_id;
  rec.created_at = now;

  // 自查发现的问题进入整改闭环: a class-3 alert, pushed to the unit and its regulators.
  if (rec.abnormal && rec.kind == "self_inspection" && alerts_ && alerts_->find_type("self_check_failed")) {
    alerts::AlertWriter w(*c, *alerts_, clock_, audit_);
    w.lock_ingest();
    auto u = w.unit(unit->id);
    if (u) {
      alerts::AlertDraft d;
      d.type = "self_check_failed";
      d.occurred_at = rec.at;
      d.source = "self_inspection";
      d.actor = alerts::Actor{p.user_id, p.display_name.empty() ? p.username : p.display_name,
                              std::string(auth::role_name(p.role))};
      d.audit_source = p.source;
      d.event_id = rec.id;
      rec.alert_id = w.raise(*u, d).alert_id;
    }
    w.flush();
  }
  c->exec(
      "INSERT INTO op_records (id, unit_id, jpath, ledger, kind, fields, device_id, abnormal, alert_id, at, "
      "created_by, "
      "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
      {rec.id, rec.unit_id, rec.jpath, rec.ledger, rec.kind, json::serialize(rec.fields),
       detail::nullable(rec.device_id), std::int64_t{rec.abnormal}, detail::nullable(rec.alert_id), rec.at,
       rec.created_by, rec.created_at});
  json::object audit_detail{{"unit_id", rec.unit_id}, {"kind", rec.kind}, {"abnormal", rec.abnormal}};
  if (rec.alert_id) audit_detail["alert_id"] = *rec.alert_id;
  audit_.append(*c, auth::audit_entry(p, "ledger.create", "record:" + rec.id, json::serialize(audit_detail)));
  tx.commit();
  return rec;
}

Result<LedgerRecord> Ledgers::get(const auth::Principal& p, std::string_view ledger, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("record");
  storage::Conn c = db_.acquire();
  storage::Rows r =
      c->query(std::string(kSelect) + " WHERE id = $1 AND ledger = $2", {std::string(id), std::string(ledger)});
  if (r.empty()) return Error::not_found("record");
  LedgerRecord rec = from_row(r[0]);
  if (!p.covers(rec.jpath, rec.unit_id)) return Error::not_found("record");
  return rec;
}

Result<Page<LedgerRecord>> Ledgers::list(const auth::Principal& p, std::string_view ledger, const LedgerFilter& f,
                                         PageRequest page) {
  if (f.kind && !find_kind(ledger, *f.kind)) return Error::invalid("kind", "invalid_value", "unknown kind");
  storage::Conn c = db_.acquire();
  auto w = detail::list_where(*c, p, f, "at");
  Page<LedgerRecord> out;
  if (!w) return out;
  w->add("ledger = {}", std::string(ledger));
  if (f.kind) w->add("kind = {}", *f.kind);
  if (f.abnormal) w->add("abnormal = {}", std::int64_t{*f.abnormal});
  out.total = detail::capped_count(*c, *w, "op_records");
  for (const auto& r :
       detail::newest_page(*c, *w, "op_records", kSelect, page, detail::anchor_of(f, clock_.now_ms()), f.from))
    out.items.push_back(from_row(r));
  return out;
}

std::vector<Warning> Ledgers::warnings(const auth::Principal& p, const ListFilter& f, int days) {
  std::vector<Warning> out;
  storage::Conn c = db_.acquire();
  ListFilter any = f;
  any.from = clock_.now_ms() - days * kDayMs;
  any.to.reset();
  auto w = detail::list_where(*c, p, any, "at", "abnormal = 1");
  if (!w) return out;
  storage::Rows rows = c->query(
      "SELECT id, unit_id, kind, at FROM op_records WHERE " + w->sql() + " ORDER BY at DESC LIMIT 1000", w->params());
  for (const auto& r : rows) {
    std::string zh;
    for (const auto& k : kinds()) {
      if (r.text(2) == k.kind) zh = k.name_zh;
    }
    out.push_back(Warning{r.text(1), r.text(2) + "_abnormal", r.text(0), zh + "记录异常 abnormal " + r.text(2),
                          std::nullopt, r.integer(3)});
  }
  return out;
}

}  // namespace mingchu::operations
