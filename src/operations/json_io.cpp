#include "operations/json_io.hpp"

#include <algorithm>
#include <cmath>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "core/validate.hpp"

namespace mingchu::operations {

namespace {

// Bounds that separate a typing error from a real record. A kitchen's delivery is never a
// million kilos; a fridge is never 200 °C.
constexpr double kMaxQuantity = 100000;  // per batch, in its unit of measure
constexpr double kMaxSampleGrams = 5000;
constexpr double kMinTempC = -60, kMaxStorageTempC = 60;  // fridges, stores, vehicles
constexpr double kMaxFoodTempC = 150;                     // cooked food: core temperature
constexpr std::int64_t kMaxShelfLifeDays = 3650;
constexpr std::int64_t kMaxPortions = 100000;
constexpr size_t kMaxFiles = 20;
constexpr size_t kMaxInputs = 50;

// An ObjectReader with the shapes operations needs.
class Reader {
 public:
  explicit Reader(const json::object& obj, std::string prefix = "") : r_(obj, std::move(prefix)) {}

  std::string text(std::string_view key, size_t max_chars = 64) { return r_.req_string(key, max_chars); }
  std::optional<std::string> opt_text(std::string_view key, size_t max_chars = 64) {
    auto v = r_.opt_string(key, max_chars);
    if (v && v->empty()) return std::nullopt;
    return v;
  }
  std::string id(std::string_view key) {
    std::string v = r_.req_string(key, 64);
    if (r_.ok() && !plausible_id(v)) fail(key, "invalid_id", "field '" + std::string(key) + "' is not a valid id");
    return v;
  }
  std::optional<std::string> opt_id(std::string_view key) {
    auto v = opt_text(key, 64);
    if (v && !plausible_id(*v)) fail(key, "invalid_id", "field '" + std::string(key) + "' is not a valid id");
    return v;
  }
  // A number > 0 (quantities, weights) up to max, rounded to three decimals.
  double positive(std::string_view key, double max) {
    require(key);
    auto v = r_.opt_number(key, -1e300, 1e300);
    if (!v) return 0;
    if (!(*v > 0) || *v > max) {
      fail(key, "out_of_range", "field '" + std::string(key) + "' must be more than 0 and at most " + fmt(max));
      return 0;
    }
    double q = std::round(*v * 1000.0) / 1000.0;
    if (q <= 0) fail(key, "out_of_range", "field '" + std::string(key) + "' is below 0.001");
    return q;
  }
  // A required number within [lo, hi].
  double number(std::string_view key, double lo, double hi) {
    require(key);
    auto v = opt_number(key, lo, hi);
    return v.value_or(0);
  }
  std::optional<double> opt_number(std::string_view key, double lo, double hi) {
    auto v = r_.opt_number(key, -1e300, 1e300);
    if (v && !(*v >= lo && *v <= hi)) {
      fail(key, "out_of_range", "field '" + std::string(key) + "' must be between " + fmt(lo) + " and " + fmt(hi));
      return std::nullopt;
    }
    return v;
  }
  // A number ≥ 0 up to max, rounded to three decimals.
  double nonnegative(std::string_view key, double max) {
    require(key);
    auto v = r_.opt_number(key, -1e300, 1e300);
    if (!v) return 0;
    if (!(*v >= 0) || *v > max) {
      fail(key, "out_of_range", "field '" + std::string(key) + "' must be 0 or more and at most " + fmt(max));
      return 0;
    }
    return std::round(*v * 1000.0) / 1000.0;
  }
  std::optional<double> temperature(std::string_view key, double max_c) {
    auto v = r_.opt_number(key, -1e300, 1e300);
    if (v && (*v < kMinTempC || *v > max_c)) {
      fail(key, "out_of_range",
           "field '" + std::string(key) + "' must be between " + fmt(kMinTempC) + " and " + fmt(max_c) + " °C");
      return std::nullopt;
    }
    return v;
  }
  std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max) {
    require(key);
    return r_.opt_int(key, min, max).value_or(0);
  }
  bool boolean(std::string_view key) {
    require(key);
    return r_.opt_bool(key).value_or(false);
  }
  // A calendar date YYYY-MM-DD between 2000 and 2099.
  int date(std::string_view key) {
    std::string s = r_.req_string(key, 10);
    if (!r_.ok()) return 0;
    auto d = parse_date(s);
    if (!d || *d < 10957 /* 2000-01-01 */ || *d > 47481 /* 2099-12-31 */) {
      fail(key, "invalid_date", "field '" + std::string(key) + "' must be a date YYYY-MM-DD between 2000 and 2099");
      return 0;
    }
    return *d;
  }
  std::optional<TimeMs> opt_time(std::string_view key) {
    auto s = r_.opt_string(key, 40);
    if (!s) return std::nullopt;
    auto t = parse_rfc3339(*s);
    if (!t || *t < 946684800000LL /* 2000 */ || *t > 4102444800000LL /* 2100 */) {
      fail(key, "invalid_time", "field '" + std::string(key) + "' must be an RFC 3339 time");
      return std::nullopt;
    }
    return t;
  }
  TimeMs time(std::string_view key) {
    require(key);
    return opt_time(key).value_or(0);
  }
  std::vector<std::string> ids(std::string_view key, size_t max_items, bool required = false) {
    if (required) require(key);
    std::vector<std::string> out;
    const json::array* a = r_.opt_array(key, max_items);
    if (!a) return out;
    for (size_t i = 0; i < a->size(); ++i) {
      const auto& v = (*a)[i];
      std::string field = std::string(key) + "[" + std::to_string(i) + "]";
      if (!v.is_string() || !plausible_id(v.as_string())) {
        fail(field, "invalid_id", "field '" + field + "' is not a valid id");
        return {};
      }
      out.emplace_back(v.as_string());
    }
    if (required && out.empty()) fail(key, "empty_field", "field '" + std::string(key) + "' must not be empty");
    return out;
  }
  void fail(std::string_view key, std::string code, std::string message) {
    r_.fail(key, std::move(code), std::move(message));
  }
  // An array of objects, each read by `each(Reader&)`; fields named key[i].field.
  template <typename F>
  void objects(std::string_view key, size_t max_items, F each) {
    require(key);
    const json::array* a = r_.opt_array(key, max_items);
    if (!a) return;
    if (a->empty()) fail(key, "empty_field", "field '" + std::string(key) + "' must not be empty");
    for (size_t i = 0; i < a->size() && r_.ok(); ++i) {
      std::string field = std::string(key) + "[" + std::to_string(i) + "]";
      if (!(*a)[i].is_object()) {
        fail(field, "wrong_type", "field '" + field + "' must be an object");
        return;
      }
      Reader inner((*a)[i].as_object(), r_.path(field));
      each(inner);
      if (auto st = inner.finish(); !st) {
        r_.fail(field, st.error().code, st.error().message);
        error_field_ = st.error().field;
        return;
      }
    }
  }
  const std::string& inner_error_field() const { return error_field_; }
  void allow(std::string_view key) { r_.allow(key); }
  bool ok() const { return r_.ok(); }
  Status finish() { return r_.finish(); }

 private:
  void require(std::string_view key) {
    if (!r_.has(key) || r_.is_null(key)) fail(key, "missing_field", "field '" + std::string(key) + "' is required");
  }
  static std::string fmt(double v) {
    std::string s = std::to_string(v);
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  ObjectReader r_;
  std::string error_field_;
};

template <typename T>
Result<T> done(Reader& r, T value) {
  if (auto st = r.finish(); !st) {
    Error e = st.error();
    if (!r.inner_error_field().empty()) e.field = r.inner_error_field();  // lines[2].unit_price
    return e;
  }
  return value;
}

json::value opt(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::value(*s);
}
json::value opt_time(const std::optional<TimeMs>& t, int off) {
  if (!t) return nullptr;
  return json::value(format_rfc3339(*t, off));
}
json::array id_array(const std::vector<std::string>& ids) {
  json::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return a;
}

}  // namespace

Result<SupplierInput> parse_supplier(const json::object& body) {
  Reader r(body);
  SupplierInput in;
  in.unit_id = r.id("unit_id");
  in.name = r.text("name", 100);
  in.uscc = r.text("uscc", 18);
  if (r.ok() && !valid_uscc(in.uscc)) {
    r.fail("uscc", "invalid_uscc", "field 'uscc' is not a valid unified social credit code (GB 32100)");
  }
  in.licence_number = r.opt_text("licence_number", 32);
  in.address = r.opt_text("address", 200);
  in.contact_person = r.opt_text("contact_person", 32);
  in.contact_phone = r.opt_text("contact_phone", 20);
  if (r.ok() && in.contact_phone && !valid_phone(*in.contact_phone)) {
    r.fail("contact_phone", "invalid_phone", "field 'contact_phone' is not a valid phone number");
  }
  in.qualification_expires_on = r.date("qualification_expires_on");
  in.file_ids = r.ids("file_ids", kMaxFiles);
  return done(r, std::move(in));
}

Result<AcceptanceInput> parse_acceptance(const json::object& body) {
  Reader r(body);
  AcceptanceInput in;
  in.unit_id = r.id("unit_id");
  in.supplier_id = r.id("supplier_id");
  in.item = r.text("item", 64);
  in.spec = r.opt_text("spec", 64);
  in.quantity = r.positive("quantity", kMaxQuantity);
  in.unit_of_measure = r.text("unit_of_measure", 16);
  in.batch_no = r.opt_text("batch_no", 64);
  in.produced_on = r.date("produced_on");
  in.shelf_life_days = static_cast<int>(r.integer("shelf_life_days", 1, kMaxShelfLifeDays));
  in.sensory_ok = r.boolean("sensory_ok");
  in.sensory_note = r.opt_text("sensory_note", 500);
  in.inspector = r.opt_text("inspector", 32);
  in.file_ids = r.ids("file_ids", kMaxFiles);
  in.accepted_at = r.opt_time("accepted_at");
  in.purchase_order_id = r.opt_id("purchase_order_id");
  if (auto it = body.find("purchase_line"); it != body.end() && !it->value().is_null()) {
    if (!in.purchase_order_id)
      r.fail("purchase_line", "missing_order", "field 'purchase_line' needs purchase_order_id");
    in.purchase_line = static_cast<int>(r.integer("purchase_line", 0, kMaxInputs - 1));
  } else {
    r.allow("purchase_line");
  }
  return done(r, std::move(in));
}

Result<StockInInput> parse_stock_in(const json::object& body) {
  Reader r(body);
  StockInInput in;
  in.acceptance_id = r.id("acceptance_id");
  in.location = r.opt_text("location", 64);
  in.handler = r.opt_text("handler", 32);
  return done(r, std::move(in));
}

Result<StockOutInput> parse_stock_out(const json::object& body) {
  Reader r(body);
  StockOutInput in;
  in.unit_id = r.id("unit_id");
  in.item = r.text("item", 64);
  in.quantity = r.positive("quantity", kMaxQuantity);
  in.unit_of_measure = r.opt_text("unit_of_measure", 16);
  in.department = r.text("department", 64);
  in.receiver = r.text("receiver", 32);
  in.handler = r.text("handler", 32);
  in.taken_at = r.opt_time("taken_at");
  return done(r, std::move(in));
}

Result<SampleInput> parse_sample(const json::object& body) {
  Reader r(body);
  SampleInput in;
  in.unit_id = r.id("unit_id");
  in.dish = r.text("dish", 64);
  in.weight_g = r.positive("weight_g", kMaxSampleGrams);
  in.fridge_device_id = r.opt_id("fridge_device_id");
  in.storage = r.opt_text("storage", 64);
  in.fridge_temp_c = r.temperature("fridge_temp_c", kMaxStorageTempC);
  in.kept_at = r.time("kept_at");
  in.keeper = r.text("keeper", 32);
  in.dispose_after = r.time("dispose_after");
  return done(r, std::move(in));
}

Result<DeliveryInput> parse_delivery(const json::object& body) {
  Reader r(body);
  DeliveryInput in;
  in.unit_id = r.id("unit_id");
  in.client_name = r.text("client_name", 100);
  in.destination = r.text("destination", 200);
  in.vehicle_plate = r.text("vehicle_plate", 16);
  in.vehicle_device_id = r.opt_id("vehicle_device_id");
  in.driver = r.text("driver", 32);
  in.containers = r.integer("containers", 1, 10000);
  in.portions = r.integer("portions", 1, kMaxPortions);
  in.dispatched_at = r.time("dispatched_at");
  in.expected_at = r.opt_time("expected_at");
  return done(r, std::move(in));
}

Result<HandoverInput> parse_handover(const json::object& body) {
  Reader r(body);
  HandoverInput in;
  in.received_by = r.text("received_by", 32);
  in.place = r.text("place", 200);
  in.portions = r.integer("portions", 0, kMaxPortions);
  in.temperature_c = r.temperature("temperature_c", kMaxFoodTempC);
  in.note = r.opt_text("note", 500);
  in.signature_file_id = r.opt_id("signature_file_id");
  in.arrived_at = r.opt_time("arrived_at");
  return done(r, std::move(in));
}

Result<MealBatchInput> parse_meal_batch(const json::object& body) {
  Reader r(body);
  MealBatchInput in;
  in.unit_id = r.id("unit_id");
  in.dish = r.text("dish", 64);
  in.stock_out_ids = r.ids("stock_out_ids", kMaxInputs, true);
  in.sample_id = r.opt_id("sample_id");
  in.delivery_id = r.opt_id("delivery_id");
  if (body.contains("portions") && !body.at("portions").is_null()) in.portions = r.integer("portions", 1, kMaxPortions);
  return done(r, std::move(in));
}

std::string_view expiry_name(ExpiryStatus s) {
  switch (s) {
    case ExpiryStatus::kOk:
      return "ok";
    case ExpiryStatus::kExpiring:
      return "expiring";
    case ExpiryStatus::kExpired:
      return "expired";
  }
  return "ok";
}

json::object to_json(const Supplier& s, int off, int today, int expiring_days) {
  std::string_view status = s.qualification_expires_on < today                    ? "expired"
                            : s.qualification_expires_on <= today + expiring_days ? "expiring"
                                                                                  : "valid";
  return json::object{{"id", s.id},
                      {"unit_id", s.unit_id},
                      {"name", s.name},
                      {"uscc", s.uscc},
                      {"licence_number", opt(s.licence_number)},
                      {"address", opt(s.address)},
                      {"contact_person", opt(s.contact_person)},
                      {"contact_phone", opt(s.contact_phone)},
                      {"qualification_expires_on", format_date(s.qualification_expires_on)},
                      {"qualification_status", status},
                      {"file_ids", id_array(s.file_ids)},
                      {"created_at", format_rfc3339(s.at, off)},
                      {"updated_at", format_rfc3339(s.updated_at, off)}};
}

json::object to_json(const Acceptance& a, int off) {
  return json::object{{"id", a.id},
                      {"unit_id", a.unit_id},
                      {"supplier_id", a.supplier_id},
                      {"supplier_name", a.supplier_name},
                      {"item", a.item},
                      {"spec", opt(a.spec)},
                      {"quantity", a.quantity},
                      {"unit_of_measure", a.unit_of_measure},
                      {"batch_no", opt(a.batch_no)},
                      {"produced_on", format_date(a.produced_on)},
                      {"shelf_life_days", a.shelf_life_days},
                      {"expires_on", format_date(a.expires_on)},
                      {"sensory_ok", a.sensory_ok},
                      {"sensory_note", opt(a.sensory_note)},
                      {"inspector", opt(a.inspector)},
                      {"file_ids", id_array(a.file_ids)},
                      {"accepted_at", format_rfc3339(a.at, off)},
                      {"return_note_id", opt(a.return_note_id)},
                      {"stock_batch_id", opt(a.stock_batch_id)},
                      {"purchase_order_id", opt(a.purchase_order_id)},
                      {"purchase_line", a.purchase_line ? json::value(*a.purchase_line) : json::value(nullptr)},
                      {"mismatches", to_json(a.mismatches)}};
}

json::array to_json(const std::vector<Mismatch>& m) {
  json::array out;
  for (const auto& x : m)
    out.push_back(json::object{{"field", x.field}, {"ordered", x.ordered}, {"delivered", x.delivered}});
  return out;
}

json::object to_json(const ReturnNote& n, int off) {
  return json::object{{"id", n.id},
                      {"unit_id", n.unit_id},
                      {"acceptance_id", n.acceptance_id},
                      {"supplier_id", n.supplier_id},
                      {"supplier_name", n.supplier_name},
                      {"item", n.item},
                      {"quantity", n.quantity},
                      {"unit_of_measure", n.unit_of_measure},
                      {"batch_no", opt(n.batch_no)},
                      {"reason", n.reason},
                      {"created_at", format_rfc3339(n.at, off)}};
}

json::object to_json(const StockBatch& b, int off) {
  return json::object{{"id", b.id},
                      {"unit_id", b.unit_id},
                      {"acceptance_id", b.acceptance_id},
                      {"item", b.item},
                      {"spec", opt(b.spec)},
                      {"batch_no", opt(b.batch_no)},
                      {"quantity", b.quantity},
                      {"remaining", b.remaining},
                      {"unit_of_measure", b.unit_of_measure},
                      {"produced_on", format_date(b.produced_on)},
                      {"shelf_life_days", b.shelf_life_days},
                      {"expires_on", format_date(b.expires_on)},
                      {"expiry_status", expiry_name(b.expiry)},
                      {"location", opt(b.location)},
                      {"handler", opt(b.handler)},
                      {"stocked_at", format_rfc3339(b.at, off)},
                      {"supplier_id", b.supplier_id},
                      {"supplier_name", b.supplier_name},
                      {"supplier_address", opt(b.supplier_address)},
                      {"supplier_contact_person", opt(b.supplier_contact_person)},
                      {"supplier_contact_phone", opt(b.supplier_contact_phone)}};
}

json::object to_json(const StockOut& o, int off) {
  json::array lines;
  for (const auto& l : o.batches) {
    lines.emplace_back(json::object{{"batch_id", l.batch_id},
                                    {"batch_no", opt(l.batch_no)},
                                    {"quantity", l.quantity},
                                    {"expires_on", format_date(l.expires_on)}});
  }
  return json::object{{"id", o.id},
                      {"unit_id", o.unit_id},
                      {"item", o.item},
                      {"quantity", o.quantity},
                      {"unit_of_measure", o.unit_of_measure},
                      {"department", o.department},
                      {"receiver", o.receiver},
                      {"handler", o.handler},
                      {"taken_at", format_rfc3339(o.at, off)},
                      {"batches", std::move(lines)}};
}

json::object to_json(const Sample& s, int off) {
  json::object o{{"id", s.id},
                 {"unit_id", s.unit_id},
                 {"dish", s.dish},
                 {"weight_g", s.weight_g},
                 {"fridge_device_id", opt(s.fridge_device_id)},
                 {"storage", opt(s.storage)},
                 {"fridge_temp_c", nullptr},
                 {"kept_at", format_rfc3339(s.kept_at, off)},
                 {"keeper", s.keeper},
                 {"dispose_after", format_rfc3339(s.dispose_after, off)},
                 {"disposed_at", opt_time(s.disposed_at, off)},
                 {"created_at", format_rfc3339(s.at, off)}};
  if (s.fridge_temp_c) o["fridge_temp_c"] = *s.fridge_temp_c;
  return o;
}

json::object to_json(const Delivery& d, int off) {
  json::object o{{"id", d.id},
                 {"unit_id", d.unit_id},
                 {"client_name", d.client_name},
                 {"destination", d.destination},
                 {"vehicle_plate", d.vehicle_plate},
                 {"vehicle_device_id", opt(d.vehicle_device_id)},
                 {"driver", d.driver},
                 {"containers", d.containers},
                 {"portions", d.portions},
                 {"dispatched_at", format_rfc3339(d.dispatched_at, off)},
                 {"expected_at", opt_time(d.expected_at, off)},
                 {"arrived_at", opt_time(d.arrived_at, off)},
                 {"state", d.state},
                 {"handover", nullptr},
                 {"created_at", format_rfc3339(d.at, off)}};
  if (d.handover_by) {
    json::object h{{"received_by", *d.handover_by},
                   {"place", d.handover_place.value_or("")},
                   {"portions", d.handover_portions.value_or(0)},
                   {"temperature_c", nullptr},
                   {"note", opt(d.handover_note)},
                   {"signature_file_id", opt(d.handover_signature_id)}};
    if (d.handover_temp_c) h["temperature_c"] = *d.handover_temp_c;
    o["handover"] = std::move(h);
  }
  return o;
}

json::object to_json(const MealBatch& m, int off) {
  return json::object{{"id", m.id},
                      {"unit_id", m.unit_id},
                      {"dish", m.dish},
                      {"trace_code", m.trace_code},
                      {"stock_out_ids", id_array(m.stock_out_ids)},
                      {"sample_id", opt(m.sample_id)},
                      {"delivery_id", opt(m.delivery_id)},
                      {"portions", m.portions ? json::value(*m.portions) : json::value(nullptr)},
                      {"created_at", format_rfc3339(m.at, off)}};
}

Result<PurchaseOrderInput> parse_purchase_order(const json::object& body) {
  Reader r(body);
  PurchaseOrderInput in;
  in.unit_id = r.id("unit_id");
  in.supplier_id = r.id("supplier_id");
  in.requested_by = r.text("requested_by", 32);
  in.reason = r.opt_text("reason", 200);
  if (body.contains("needed_on") && !body.at("needed_on").is_null()) in.needed_on = r.date("needed_on");
  r.objects("lines", kMaxInputs, [&](Reader& l) {
    PurchaseLineInput line;
    line.item = l.text("item", 64);
    line.quantity = l.positive("quantity", kMaxQuantity);
    line.unit_of_measure = l.text("unit_of_measure", 16);
    line.unit_price = l.positive("unit_price", 1000000);
    in.lines.push_back(std::move(line));
  });
  return done(r, std::move(in));
}

Result<PurchaseDecisionInput> parse_purchase_decision(const json::object& body) {
  Reader r(body);
  PurchaseDecisionInput in;
  in.approved = r.boolean("approved");
  in.decided_by = r.text("decided_by", 32);
  in.note = r.opt_text("note", 500);
  return done(r, std::move(in));
}

Result<StockCountInput> parse_stock_count(const json::object& body) {
  Reader r(body);
  StockCountInput in;
  in.unit_id = r.id("unit_id");
  in.counted_by = r.text("counted_by", 32);
  in.note = r.opt_text("note", 500);
  in.counted_at = r.opt_time("counted_at");
  r.objects("lines", 200, [&](Reader& l) {
    StockCountLineInput line;
    // a line counts one batch (batch_id) or an item (all its batches, recorded only)
    line.batch_id = l.opt_id("batch_id");
    if (!line.batch_id) line.item = l.text("item", 64);
    line.counted_quantity = l.nonnegative("counted_quantity", kMaxQuantity * 100);  // 0: nothing on the shelf
    in.lines.push_back(std::move(line));
  });
  if (r.ok()) {
    bool by_batch = false, by_item = false;
    for (const auto& l : in.lines) (l.batch_id ? by_batch : by_item) = true;
    if (by_batch && by_item) {
      r.fail("lines", "mixed_lines", "field 'lines' counts either batches (batch_id) or items, not both");
    }
  }
  return done(r, std::move(in));
}

Result<StockCountConfirmInput> parse_stock_count_confirm(const json::object& body) {
  Reader r(body);
  StockCountConfirmInput in;
  in.confirmed_by = r.text("confirmed_by", 32);
  return done(r, std::move(in));
}

json::object to_json(const StockMovement& m, int off) {
  return json::object{{"id", m.id},
                      {"unit_id", m.unit_id},
                      {"batch_id", m.batch_id},
                      {"item", opt(m.item)},
                      {"batch_no", opt(m.batch_no)},
                      {"kind", m.kind},
                      {"quantity", m.quantity},
                      {"remaining_after", m.remaining_after},
                      {"ref_id", opt(m.ref_id)},
                      {"at", format_rfc3339(m.at, off)}};
}

json::object to_json(const Warning& w, int off) {
  return json::object{{"unit_id", w.unit_id},
                      {"kind", w.kind},
                      {"subject_id", w.subject_id},
                      {"message", w.message},
                      {"due_on", w.due_on ? json::value(format_date(*w.due_on)) : json::value(nullptr)},
                      {"at", format_rfc3339(w.at, off)}};
}

namespace {
json::value opt_real(const std::optional<double>& d) {
  if (!d) return nullptr;
  return json::value(*d);
}
}  // namespace

json::object to_json(const PurchaseOrder& o, int off) {
  json::array lines;
  for (const auto& l : o.lines) {
    lines.push_back(
        json::object{{"item", l.item},
                     {"quantity", l.quantity},
                     {"unit_of_measure", l.unit_of_measure},
                     {"unit_price", l.unit_price},
                     {"amount", std::round(l.quantity * l.unit_price * 100.0) / 100.0},
                     {"previous_price", opt_real(l.previous_price)},
                     {"change_pct", opt_real(l.change_pct)},
                     {"price_jump", l.price_jump},
                     {"received_quantity", l.received},
                     {"outstanding_quantity", std::max(0.0, std::round((l.quantity - l.received) * 1000.0) / 1000.0)}});
  }
  return json::object{{"id", o.id},
                      {"unit_id", o.unit_id},
                      {"supplier_id", o.supplier_id},
                      {"supplier_name", o.supplier_name},
                      {"state", o.state},
                      {"requested_by", o.requested_by},
                      {"reason", opt(o.reason)},
                      {"needed_on", o.needed_on ? json::value(format_date(*o.needed_on)) : json::value(nullptr)},
                      {"total_amount", o.total_amount},
                      {"decided_by", opt(o.decided_by)},
                      {"decision_note", opt(o.decision_note)},
                      {"decided_at", opt_time(o.decided_at, off)},
                      {"ordered_at", opt_time(o.ordered_at, off)},
                      {"received_at", opt_time(o.received_at, off)},
                      {"fully_received", o.state == "received"},
                      {"at", format_rfc3339(o.at, off)},
                      {"lines", std::move(lines)}};
}

json::object to_json(const PricePoint& p, int off) {
  return json::object{{"unit_id", p.unit_id},
                      {"item", p.item},
                      {"unit_price", p.unit_price},
                      {"unit_of_measure", p.unit_of_measure},
                      {"previous_price", opt_real(p.previous_price)},
                      {"change_pct", opt_real(p.change_pct)},
                      {"price_jump", p.price_jump},
                      {"supplier_id", p.supplier_id},
                      {"supplier_name", p.supplier_name},
                      {"order_id", p.order_id},
                      {"state", p.state},
                      {"at", format_rfc3339(p.at, off)}};
}

json::object to_json(const StockCount& s, int off) {
  json::array lines;
  for (const auto& l : s.lines) {
    json::object lj{{"item", l.item},
                    {"unit_of_measure", l.unit_of_measure},
                    {"book_quantity", l.book_quantity},
                    {"counted_quantity", l.counted_quantity},
                    {"difference", l.difference}};
    if (l.batch_id) {
      lj["batch_id"] = *l.batch_id;
      lj["batch_no"] = opt(l.batch_no);
    }
    lines.push_back(std::move(lj));
  }
  return json::object{{"id", s.id},
                      {"unit_id", s.unit_id},
                      {"state", s.state},
                      {"confirmed_by", opt(s.confirmed_by)},
                      {"confirmed_at", opt_time(s.confirmed_at, off)},
                      {"counted_by", s.counted_by},
                      {"note", opt(s.note)},
                      {"differences", s.differences},
                      {"at", format_rfc3339(s.at, off)},
                      {"lines", std::move(lines)}};
}

Result<DishInput> parse_dish(const json::object& body) {
  Reader r(body);
  DishInput in;
  in.unit_id = r.id("unit_id");
  in.name = r.text("name", 64);
  r.objects("ingredients", kMaxInputs, [&](Reader& i) {
    DishIngredient d;
    d.item = i.text("item", 64);
    d.grams = i.positive("grams", 10000);
    in.ingredients.push_back(std::move(d));
  });
  r.allow("nutrition");
  r.allow("allergens");
  if (r.ok()) {
    const json::value* nv = body.if_contains("nutrition");
    if (!nv || !nv->is_object()) {
      r.fail("nutrition", nv ? "wrong_type" : "missing_field", "field 'nutrition' must be an object per portion");
    } else {
      Reader n(nv->as_object(), "nutrition");
      in.nutrition.energy_kcal = n.nonnegative("energy_kcal", 5000);
      in.nutrition.protein_g = n.nonnegative("protein_g", 500);
      in.nutrition.fat_g = n.nonnegative("fat_g", 500);
      in.nutrition.carbohydrate_g = n.nonnegative("carbohydrate_g", 1000);
      in.nutrition.sodium_mg = n.nonnegative("sodium_mg", 20000);
      if (auto st = n.finish(); !st) return st.error();
    }
  }
  const json::array* al = body.contains("allergens") ? body.at("allergens").if_array() : nullptr;
  if (r.ok() && body.contains("allergens") && !al)
    r.fail("allergens", "wrong_type", "field 'allergens' must be a list");
  if (r.ok() && al) {
    for (size_t i = 0; i < al->size() && r.ok(); ++i) {
      std::string field = "allergens[" + std::to_string(i) + "]";
      bool known = false;
      if ((*al)[i].is_string()) {
        for (const char* a : kAllergens) known = known || (*al)[i].as_string() == a;
      }
      if (!known) {
        r.fail(field, "invalid_value",
               "allergens are gluten, crustacean, fish, egg, peanut, soy, milk, tree_nut (GB 7718)");
      } else if (std::find(in.allergens.begin(), in.allergens.end(), (*al)[i].as_string()) == in.allergens.end()) {
        in.allergens.emplace_back((*al)[i].as_string());
      }
    }
  }
  return done(r, std::move(in));
}

Result<MenuInput> parse_menu(const json::object& body) {
  Reader r(body);
  MenuInput in;
  in.unit_id = r.id("unit_id");
  in.client_name = r.text("client_name", 100);
  in.day = r.date("day");
  in.meal = r.text("meal", 16);
  if (r.ok() && in.meal != "breakfast" && in.meal != "lunch" && in.meal != "dinner" && in.meal != "snack") {
    r.fail("meal", "invalid_value", "meal is breakfast, lunch, dinner or snack");
  }
  in.dish_ids = r.ids("dish_ids", 30, true);
  in.client_unit_id = r.opt_id("client_unit_id");
  return done(r, std::move(in));
}

namespace {
json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}
double r1(double v) { return std::round(v * 10.0) / 10.0; }
}  // namespace

json::object to_json(const Nutrition& n) {
  return json::object{{"energy_kcal", r1(n.energy_kcal)},
                      {"protein_g", r1(n.protein_g)},
                      {"fat_g", r1(n.fat_g)},
                      {"carbohydrate_g", r1(n.carbohydrate_g)},
                      {"sodium_mg", r1(n.sodium_mg)}};
}

json::object to_json(const Dish& d, int off) {
  json::array ing;
  for (const auto& i : d.ingredients) ing.push_back(json::object{{"item", i.item}, {"grams", i.grams}});
  return json::object{{"id", d.id},
                      {"unit_id", d.unit_id},
                      {"name", d.name},
                      {"ingredients", std::move(ing)},
                      {"nutrition", to_json(d.nutrition)},
                      {"allergens", strings(d.allergens)},
                      {"at", format_rfc3339(d.at, off)}};
}

json::object to_json(const Menu& m, int off) {
  json::array dishes;
  for (const auto& d : m.dishes) {
    json::object o = to_json(d, off);
    o.erase("unit_id");
    o.erase("at");
    dishes.push_back(std::move(o));
  }
  return json::object{{"id", m.id},
                      {"unit_id", m.unit_id},
                      {"client_name", m.client_name},
                      {"client_unit_id", opt(m.client_unit_id)},
                      {"day", format_date(m.day)},
                      {"meal", m.meal},
                      {"nutrition", to_json(m.nutrition)},
                      {"allergens", strings(m.allergens)},
                      {"dishes", std::move(dishes)},
                      {"at", format_rfc3339(m.at, off)}};
}

Result<RouteInput> parse_route(const json::object& body) {
  Reader r(body);
  RouteInput in;
  r.objects("points", 200, [&](Reader& pt) {
    double lat = pt.number("lat", -90, 90);
    double lng = pt.number("lng", -180, 180);
    in.points.emplace_back(lat, lng);
  });
  if (r.ok() && in.points.size() < 2) r.fail("points", "too_few_items", "a route has at least 2 points");
  in.corridor_m = r.number("corridor_m", 20, 5000);
  in.temp_min_c = r.temperature("temp_min_c", kMaxFoodTempC);
  in.temp_max_c = r.temperature("temp_max_c", kMaxFoodTempC);
  if (r.ok() && in.temp_min_c && in.temp_max_c && *in.temp_min_c > *in.temp_max_c) {
    r.fail("temp_max_c", "invalid_range", "field 'temp_max_c' is below 'temp_min_c'");
  }
  return done(r, std::move(in));
}

Result<std::vector<TrackPoint>> parse_track(const json::object& body) {
  Reader r(body);
  std::vector<TrackPoint> out;
  r.objects("points", 500, [&](Reader& pt) {
    TrackPoint t;
    t.at = pt.time("at");
    t.lat = pt.number("lat", -90, 90);
    t.lng = pt.number("lng", -180, 180);
    t.temperature_c = pt.temperature("temperature_c", kMaxFoodTempC);
    auto h = pt.opt_number("humidity_pct", 0, 100);
    t.humidity_pct = h;
    out.push_back(t);
  });
  return done(r, std::move(out));
}

Result<std::optional<std::string>> parse_vehicle_device(const json::object& body) {
  Reader r(body);
  std::optional<std::string> device;
  if (!body.contains("vehicle_device_id")) {
    r.fail("vehicle_device_id", "missing_field", "field 'vehicle_device_id' is required (null unbinds)");
  } else if (body.at("vehicle_device_id").is_null()) {
    r.allow("vehicle_device_id");
  } else {
    device = r.id("vehicle_device_id");
  }
  return done(r, std::move(device));
}

}  // namespace mingchu::operations
