// Samples (留样, §6.2.3), delivery trips and hand-over (配送/交付, §6.3), meal batches with
// their trace codes (§5.2.2), the public traceability chain and today's warnings.
#include <cstdio>
#include <set>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "core/validate.hpp"
#include "operations/internal.hpp"
#include "operations/ledgers.hpp"
#include "operations/operations.hpp"
#include "storage/sql.hpp"

namespace mingchu::operations {

using detail::nullable;
using detail::nullable_real;

namespace {

constexpr TimeMs kFutureSlackMs = 10 * kMinuteMs;

constexpr const char* kSelectSamples =
    "SELECT id, unit_id, jpath, dish, weight_g, fridge_device_id, storage, fridge_temp_c, kept_at, keeper, "
    "dispose_after, disposed_at, at FROM op_samples";
constexpr const char* kInsertSample =
    "INSERT INTO op_samples (id, unit_id, jpath, dish, weight_g, fridge_device_id, storage, fridge_temp_c, kept_at, "
    "keeper, dispose_after, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

constexpr const char* kSelectDeliveries =
    "SELECT id, unit_id, jpath, client_name, destination, vehicle_plate, vehicle_device_id, driver, containers, "
    "portions, dispatched_at, expected_at, arrived_at, handover_by, handover_place, handover_portions, "
    "handover_temp_c, handover_note, handover_signature_id, state, at FROM op_deliveries";
constexpr const char* kInsertDelivery =
    "INSERT INTO op_deliveries (id, unit_id, jpath, client_name, destination, vehicle_plate, vehicle_device_id, "
    "driver, containers, portions, dispatched_at, expected_at, state, at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'dispatched', $13)";
constexpr const char* kHandOver =
    "UPDATE op_deliveries SET arrived_at = $2, handover_by = $3, handover_place = $4, handover_portions = $5, "
    "handover_temp_c = $6, handover_note = $7, handover_signature_id = $8, state = 'delivered' WHERE id = $1";

constexpr const char* kSelectMealBatches =
    "SELECT id, unit_id, jpath, dish, trace_code, sample_id, delivery_id, portions, at FROM op_meal_batches";
constexpr const char* kInsertMealBatch =
    "INSERT INTO op_meal_batches (id, unit_id, jpath, dish, trace_code, sample_id, delivery_id, portions, at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

// The traceability chain of one meal batch, in four queries whatever its size.
constexpr const char* kTraceBatch =
    "SELECT m.id, m.unit_id, m.dish, m.sample_id, m.delivery_id, m.portions, m.at, u.name FROM op_meal_batches m "
    "JOIN units u ON u.id = m.unit_id WHERE m.trace_code = $1 AND u.deleted_at IS NULL";
constexpr const char* kTraceIngredients =
    "SELECT o.id, o.item, o.at, o.department, o.handler, l.quantity, o.unit_of_measure, b.id, b.batch_no, "
    "b.produced_on, b.expires_on, b.at, b.location, a.id, a.at, a.sensory_ok, a.inspector, a.file_ids, s.id, s.name, "
    "s.uscc, s.licence_number, s.qualification_expires_on, s.file_ids "
    "FROM op_meal_batch_inputs i JOIN op_stock_outs o ON o.id = i.stock_out_id "
    "JOIN op_stock_out_lines l ON l.stock_out_id = o.id JOIN op_stock_batches b ON b.id = l.batch_id "
    "JOIN op_acceptances a ON a.id = b.acceptance_id JOIN op_suppliers s ON s.id = a.supplier_id "
    "WHERE i.meal_batch_id = $1 ORDER BY o.item, b.expires_on, b.id";

Sample sample_from_row(const storage::Row& r) {
  Sample s;
  s.id = r.text(0);
  s.unit_id = r.text(1);
  s.jpath = r.text(2);
  s.dish = r.text(3);
  s.weight_g = r.real(4);
  s.fridge_device_id = r.opt_text(5);
  s.storage = r.opt_text(6);
  if (!r.is_null(7)) s.fridge_temp_c = r.real(7);
  s.kept_at = r.integer(8);
  s.keeper = r.text(9);
  s.dispose_after = r.integer(10);
  s.disposed_at = r.opt_integer(11);
  s.at = r.integer(12);
  return s;
}

Delivery delivery_from_row(const storage::Row& r) {
  Delivery d;
  d.id = r.text(0);
  d.unit_id = r.text(1);
  d.jpath = r.text(2);
  d.client_name = r.text(3);
  d.destination = r.text(4);
  d.vehicle_plate = r.text(5);
  d.vehicle_device_id = r.opt_text(6);
  d.driver = r.text(7);
  d.containers = r.integer(8);
  d.portions = r.integer(9);
  d.dispatched_at = r.integer(10);
  d.expected_at = r.opt_integer(11);
  d.arrived_at = r.opt_integer(12);
  d.handover_by = r.opt_text(13);
  d.handover_place = r.opt_text(14);
  d.handover_portions = r.opt_integer(15);
  if (!r.is_null(16)) d.handover_temp_c = r.real(16);
  d.handover_note = r.opt_text(17);
  d.handover_signature_id = r.opt_text(18);
  d.state = r.text(19);
  d.at = r.integer(20);
  return d;
}

MealBatch meal_batch_from_row(storage::Connection& c, const storage::Row& r) {
  MealBatch m;
  m.id = r.text(0);
  m.unit_id = r.text(1);
  m.jpath = r.text(2);
  m.dish = r.text(3);
  m.trace_code = r.text(4);
  m.sample_id = r.opt_text(5);
  m.delivery_id = r.opt_text(6);
  m.portions = r.opt_integer(7);
  m.at = r.integer(8);
  for (const auto& i : c.query(
           "SELECT stock_out_id FROM op_meal_batch_inputs WHERE meal_batch_id = $1 ORDER BY stock_out_id", {m.id})) {
    m.stock_out_ids.push_back(i.text(0));
  }
  return m;
}

// A trace code: what a QR label carries, unguessable (the page is public) and easy to read
// out: "MB" + 80 random bits in 16 characters of Crockford-style base32 (no 0/O, 1/I).
std::string new_trace_code() {
  static constexpr char kAlphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
  std::string hex = random_hex(10);
  std::string code = "MB";
  std::uint64_t acc = 0;
  int bits = 0;
  for (char h : hex) {
    acc = (acc << 4) | static_cast<std::uint64_t>(h <= '9' ? h - '0' : h - 'a' + 10);
    bits += 4;
    if (bits >= 5) {
      code += kAlphabet[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return code;
}

std::string masked(const std::optional<std::string>& name) { return name ? mask_name(*name) : std::string(); }

}  // namespace

// ---------------------------------------------------------------- samples

Result<Sample> Operations::create_sample(const auth::Principal& p, const SampleInput& in) {
  const TimeMs now = clock_.now_ms();
  if (in.weight_g < config_.min_sample_weight_g) {
    return Error::invalid(
        "weight_g", "below_minimum",
        "a sample weighs at least " + std::to_string(static_cast<int>(config_.min_sample_weight_g)) + " g");
  }
  if (in.kept_at > now + kFutureSlackMs) {
    return Error::invalid("kept_at", "in_future", "field 'kept_at' is in the future");
  }
  if (in.kept_at < now - 7 * kDayMs) {
    return Error::invalid("kept_at", "too_old", "a sample is recorded within 7 days of being kept");
  }
  if (in.dispose_after < in.kept_at + config_.min_sample_hours * kHourMs) {
    return Error::invalid("dispose_after", "too_early",
                          "a sample is kept at least " + std::to_string(config_.min_sample_hours) + " hours");
  }
  if (in.dispose_after > in.kept_at + config_.max_sample_days * kDayMs) {
    return Error::invalid(
        "dispose_after", "too_late",
        "field 'dispose_after' is more than " + std::to_string(config_.max_sample_days) + " days after kept_at");
  }
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  if (in.fridge_device_id) {
    if (auto st = detail::check_device(*c, "fridge_device_id", *in.fridge_device_id, *unit); !st) return st.error();
  }
  Sample s;
  s.id = new_id("smp");
  s.unit_id = unit->id;
  s.jpath = unit->jpath;
  s.dish = in.dish;
  s.weight_g = in.weight_g;
  s.fridge_device_id = in.fridge_device_id;
  s.storage = in.storage;
  s.fridge_temp_c = in.fridge_temp_c;
  s.kept_at = in.kept_at;
  s.keeper = in.keeper;
  s.dispose_after = in.dispose_after;
  s.at = now;
  c->exec(kInsertSample,
          {s.id, s.unit_id, s.jpath, s.dish, s.weight_g, nullable(s.fridge_device_id), nullable(s.storage),
           nullable_real(s.fridge_temp_c), s.kept_at, s.keeper, s.dispose_after, s.at});
  audit_.append(*c, auth::audit_entry(p, "sample.create", "sample:" + s.id,
                                      json::serialize(json::object{{"unit_id", s.unit_id}})));
  tx.commit();
  return s;
}

Result<Page<Sample>> Operations::list_samples(const auth::Principal& p, const ListFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  auto w = detail::list_where(*c, p, f, "kept_at");
  Page<Sample> out;
  if (!w) return out;
  out.total = detail::capped_count(*c, *w, "op_samples");
  for (const auto& r : w->page(*c, kSelectSamples, "kept_at DESC, id", page)) out.items.push_back(sample_from_row(r));
  return out;
}

Result<Sample> Operations::dispose_sample(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("sample");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  storage::Rows r =
      c->query(std::string(kSelectSamples) + " WHERE id = $1" + storage::for_update(*c), {std::string(id)});
  if (r.empty()) return Error::not_found("sample");
  Sample s = sample_from_row(r[0]);
  if (!p.covers(s.jpath, s.unit_id)) return Error::not_found("sample");
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  if (s.disposed_at) return Error::conflict("already_disposed", "this sample was already disposed of");
  const TimeMs now = clock_.now_ms();
  if (now < s.dispose_after) {
    return Error::conflict("too_early", "this sample may be disposed of only after " +
                                            format_rfc3339(s.dispose_after, config_.utc_offset_minutes));
  }
  s.disposed_at = now;
  c->exec("UPDATE op_samples SET disposed_at = $2 WHERE id = $1", {s.id, now});
  audit_.append(*c, auth::audit_entry(p, "sample.dispose", "sample:" + s.id));
  tx.commit();
  return s;
}

// ---------------------------------------------------------------- deliveries

Result<Delivery> Operations::create_delivery(const auth::Principal& p, const DeliveryInput& in) {
  const TimeMs now = clock_.now_ms();
  if (in.dispatched_at > now + kFutureSlackMs) {
    return Error::invalid("dispatched_at", "in_future", "field 'dispatched_at' is in the future");
  }
  if (in.expected_at && (*in.expected_at < in.dispatched_at || *in.expected_at > in.dispatched_at + kDayMs)) {
    return Error::invalid("expected_at", "out_of_range", "field 'expected_at' must be within a day after dispatch");
  }
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  if (in.vehicle_device_id) {
    if (auto st = detail::check_device(*c, "vehicle_device_id", *in.vehicle_device_id, *unit); !st) return st.error();
    if (auto st = detail::vehicle_free(*c, *in.vehicle_device_id, ""); !st) return st.error();
  }
  Delivery d;
  d.id = new_id("dlv");
  d.unit_id = unit->id;
  d.jpath = unit->jpath;
  d.client_name = in.client_name;
  d.destination = in.destination;
  d.vehicle_plate = in.vehicle_plate;
  d.vehicle_device_id = in.vehicle_device_id;
  d.driver = in.driver;
  d.containers = in.containers;
  d.portions = in.portions;
  d.dispatched_at = in.dispatched_at;
  d.expected_at = in.expected_at;
  d.state = "dispatched";
  d.at = now;
  c->exec(kInsertDelivery, {d.id, d.unit_id, d.jpath, d.client_name, d.destination, d.vehicle_plate,
                            nullable(d.vehicle_device_id), d.driver, d.containers, d.portions, d.dispatched_at,
                            d.expected_at ? storage::Value(*d.expected_at) : storage::Value(nullptr), d.at});
  audit_.append(*c, auth::audit_entry(p, "delivery.create", "delivery:" + d.id,
                                      json::serialize(json::object{{"unit_id", d.unit_id}})));
  tx.commit();
  return d;
}

Result<Delivery> Operations::get_delivery(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("delivery");
  storage::Conn c = db_.acquire();
  storage::Rows r = c->query(std::string(kSelectDeliveries) + " WHERE id = $1", {std::string(id)});
  if (r.empty()) return Error::not_found("delivery");
  Delivery d = delivery_from_row(r[0]);
  if (!p.covers(d.jpath, d.unit_id)) return Error::not_found("delivery");
  return d;
}

Result<Page<Delivery>> Operations::list_deliveries(const auth::Principal& p, const ListFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  auto w = detail::list_where(*c, p, f, "dispatched_at");
  Page<Delivery> out;
  if (!w) return out;
  out.total = detail::capped_count(*c, *w, "op_deliveries");
  for (const auto& r : w->page(*c, kSelectDeliveries, "dispatched_at DESC, id", page)) {
    out.items.push_back(delivery_from_row(r));
  }
  return out;
}

Result<Delivery> Operations::hand_over(const auth::Principal& p, std::string_view id, const HandoverInput& in) {
  if (!plausible_id(id)) return Error::not_found("delivery");
  const TimeMs now = clock_.now_ms();
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  storage::Rows r =
      c->query(std::string(kSelectDeliveries) + " WHERE id = $1" + storage::for_update(*c), {std::string(id)});
  if (r.empty()) return Error::not_found("delivery");
  Delivery d = delivery_from_row(r[0]);
  if (!p.covers(d.jpath, d.unit_id)) return Error::not_found("delivery");
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  if (d.state != "dispatched") return Error::conflict("already_handed_over", "this delivery was already handed over");
  TimeMs arrived = in.arrived_at.value_or(now);
  if (arrived > now + kFutureSlackMs) {
    return Error::invalid("arrived_at", "in_future", "field 'arrived_at' is in the future");
  }
  if (arrived < d.dispatched_at) {
    return Error::invalid("arrived_at", "before_dispatch", "field 'arrived_at' is before the dispatch time");
  }
  if (in.portions > d.portions) {
    return Error::invalid("portions", "more_than_dispatched",
                          "field 'portions' is more than the " + std::to_string(d.portions) + " dispatched");
  }
  if (in.signature_file_id) {
    detail::UnitRef unit{d.unit_id, d.jpath, ""};
    if (auto st = detail::claim_files(*c, p, "signature_file_id", {*in.signature_file_id}, unit); !st) {
      return Error::invalid("signature_file_id", st.error().code, "field 'signature_file_id' names no usable image");
    }
  }
  d.arrived_at = arrived;
  d.handover_by = in.received_by;
  d.handover_place = in.place;
  d.handover_portions = in.portions;
  d.handover_temp_c = in.temperature_c;
  d.handover_note = in.note;
  d.handover_signature_id = in.signature_file_id;
  d.state = "delivered";
  c->exec(kHandOver, {d.id, arrived, in.received_by, in.place, in.portions, nullable_real(in.temperature_c),
                      nullable(in.note), nullable(in.signature_file_id)});
  audit_.append(*c,
                auth::audit_entry(p, "delivery.hand_over", "delivery:" + d.id,
                                  json::serialize(json::object{{"unit_id", d.unit_id}, {"portions", in.portions}})));
  tx.commit();
  return d;
}

// ---------------------------------------------------------------- meal batches

Result<MealBatch> Operations::create_meal_batch(const auth::Principal& p, const MealBatchInput& in) {
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  std::set<std::string> seen;
  for (size_t i = 0; i < in.stock_out_ids.size(); ++i) {
    std::string field = "stock_out_ids[" + std::to_string(i) + "]";
    const std::string& id = in.stock_out_ids[i];
    if (!seen.insert(id).second) return Error::invalid(field, "duplicate", "field '" + field + "' repeats a stock-out");
    storage::Rows r = c->query("SELECT unit_id FROM op_stock_outs WHERE id = $1", {id});
    if (r.empty() || r[0].text(0) != unit->id) return detail::unknown_reference(field, "stock-out of this unit");
  }
  if (in.sample_id) {
    storage::Rows r = c->query("SELECT unit_id FROM op_samples WHERE id = $1", {*in.sample_id});
    if (r.empty() || r[0].text(0) != unit->id) return detail::unknown_reference("sample_id", "sample of this unit");
  }
  if (in.delivery_id) {
    storage::Rows r = c->query("SELECT unit_id FROM op_deliveries WHERE id = $1", {*in.delivery_id});
    if (r.empty() || r[0].text(0) != unit->id) {
      return detail::unknown_reference("delivery_id", "delivery of this unit");
    }
  }
  MealBatch m;
  m.id = new_id("meal");
  m.unit_id = unit->id;
  m.jpath = unit->jpath;
  m.dish = in.dish;
  m.trace_code = new_trace_code();
  m.sample_id = in.sample_id;
  m.delivery_id = in.delivery_id;
  m.portions = in.portions;
  m.stock_out_ids = in.stock_out_ids;
  std::sort(m.stock_out_ids.begin(), m.stock_out_ids.end());
  m.at = clock_.now_ms();
  c->exec(kInsertMealBatch,
          {m.id, m.unit_id, m.jpath, m.dish, m.trace_code, nullable(m.sample_id), nullable(m.delivery_id),
           m.portions ? storage::Value(*m.portions) : storage::Value(nullptr), m.at});
  for (const auto& so : m.stock_out_ids) {
    c->exec("INSERT INTO op_meal_batch_inputs (meal_batch_id, stock_out_id, unit_id, jpath) VALUES ($1, $2, $3, $4)",
            {m.id, so, m.unit_id, m.jpath});
  }
  audit_.append(*c, auth::audit_entry(p, "meal_batch.create", "meal_batch:" + m.id,
                                      json::serialize(json::object{{"unit_id", m.unit_id}})));
  tx.commit();
  return m;
}

Result<MealBatch> Operations::get_meal_batch(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("meal batch");
  storage::Conn c = db_.acquire();
  storage::Rows r = c->query(std::string(kSelectMealBatches) + " WHERE id = $1", {std::string(id)});
  if (r.empty()) return Error::not_found("meal batch");
  MealBatch m = meal_batch_from_row(*c, r[0]);
  if (!p.covers(m.jpath, m.unit_id)) return Error::not_found("meal batch");
  return m;
}

Result<Page<MealBatch>> Operations::list_meal_batches(const auth::Principal& p, const ListFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  return detail::newest_rows<MealBatch>(*c, p, f, "op_meal_batches", kSelectMealBatches, clock_.now_ms(), page,
                                        [&](const storage::Row& r) { return meal_batch_from_row(*c, r); });
}

Result<json::object> Operations::public_trace(std::string_view trace_code) {
  if (trace_code.empty() || trace_code.size() > 32 || !plausible_id(trace_code)) return Error::not_found("trace code");
  const int off = config_.utc_offset_minutes;
  storage::Conn c = db_.acquire();
  storage::Rows m = c->query(kTraceBatch, {std::string(trace_code)});
  if (m.empty()) return Error::not_found("trace code");
  const std::string meal_id = m[0].text(0);
  json::object out{{"trace_code", std::string(trace_code)},
                   {"dish", m[0].text(2)},
                   {"unit", json::object{{"name", m[0].text(7)}}},
                   {"produced_at", format_rfc3339(m[0].integer(6), off)}};
  if (auto portions = m[0].opt_integer(5)) out["portions"] = *portions;

  json::array ingredients;
  for (const auto& r : c->query(kTraceIngredients, {meal_id})) {
    json::object supplier{{"name", r.text(19)},
                          {"uscc", r.text(20)},
                          {"qualification_expires_on", format_date(static_cast<int>(r.integer(22)))},
                          {"qualification_files", static_cast<std::int64_t>(detail::ids_from_json(r.text(23)).size())}};
    if (auto l = r.opt_text(21)) supplier["licence_number"] = *l;
    json::object acceptance{{"accepted_at", format_rfc3339(r.integer(14), off)},
                            {"sensory_ok", r.boolean(15)},
                            {"inspector", masked(r.opt_text(16))},
                            {"certificates", static_cast<std::int64_t>(detail::ids_from_json(r.text(17)).size())}};
    json::object ing{{"item", r.text(1)},
                     {"quantity", r.real(5)},
                     {"unit_of_measure", r.text(6)},
                     {"issued_at", format_rfc3339(r.integer(2), off)},
                     {"issued_by", mask_name(r.text(4))},
                     {"batch", json::object{{"id", r.text(7)},
                                            {"batch_no", r.opt_text(8) ? json::value(*r.opt_text(8)) : nullptr},
                                            {"produced_on", format_date(static_cast<int>(r.integer(9)))},
                                            {"expires_on", format_date(static_cast<int>(r.integer(10)))},
                                            {"stocked_at", format_rfc3339(r.integer(11), off)}}},
                     {"acceptance", std::move(acceptance)},
                     {"supplier", std::move(supplier)}};
    ingredients.emplace_back(std::move(ing));
  }
  out["ingredients"] = std::move(ingredients);

  out["sample"] = nullptr;
  if (auto sid = m[0].opt_text(3)) {
    storage::Rows s = c->query(std::string(kSelectSamples) + " WHERE id = $1", {*sid});
    if (!s.empty()) {
      Sample smp = sample_from_row(s[0]);
      json::object so{{"dish", smp.dish},
                      {"weight_g", smp.weight_g},
                      {"kept_at", format_rfc3339(smp.kept_at, off)},
                      {"keeper", mask_name(smp.keeper)},
                      {"dispose_after", format_rfc3339(smp.dispose_after, off)}};
      if (smp.storage) so["storage"] = *smp.storage;
      if (smp.fridge_temp_c) so["fridge_temp_c"] = *smp.fridge_temp_c;
      out["sample"] = std::move(so);
    }
  }
  out["delivery"] = nullptr;
  if (auto did = m[0].opt_text(4)) {
    storage::Rows d = c->query(std::string(kSelectDeliveries) + " WHERE id = $1", {*did});
    if (!d.empty()) {
      Delivery dl = delivery_from_row(d[0]);
      json::object dj{{"client_name", dl.client_name},
                      {"destination", dl.destination},
                      {"vehicle_plate", dl.vehicle_plate},
                      {"driver", mask_name(dl.driver)},
                      {"containers", dl.containers},
                      {"portions", dl.portions},
                      {"dispatched_at", format_rfc3339(dl.dispatched_at, off)},
                      {"state", dl.state}};
      if (dl.arrived_at) dj["arrived_at"] = format_rfc3339(*dl.arrived_at, off);
      if (dl.handover_by) {
        json::object h{{"received_by", masked(dl.handover_by)},
                       {"place", dl.handover_place.value_or("")},
                       {"portions", dl.handover_portions.value_or(0)},
                       {"signed", dl.handover_signature_id.has_value()}};
        if (dl.handover_temp_c) h["temperature_c"] = *dl.handover_temp_c;
        dj["handover"] = std::move(h);
      }
      out["delivery"] = std::move(dj);
    }
  }
  return out;
}

// ---------------------------------------------------------------- warnings

Result<Page<Warning>> Operations::list_warnings(const auth::Principal& p, const ListFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  const int today_n = today();
  const TimeMs now = clock_.now_ms();
  std::vector<Warning> all;
  ListFilter any_time = f;
  any_time.from.reset();
  any_time.to.reset();
  // stock expired or expiring (临期/过期预警, §6.1.3.3)
  if (auto w = detail::list_where(*c, p, any_time, "at", "remaining > 0")) {
    w->add("expires_on <= {}", std::int64_t{today_n + config_.stock_expiring_days});
    storage::Rows r = c->query("SELECT id, unit_id, item, batch_no, expires_on, at FROM op_stock_batches WHERE " +
                                   w->sql() + " ORDER BY expires_on, id LIMIT 1000",
                               w->params());
    for (const auto& row : r) {
      int exp = static_cast<int>(row.integer(4));
      bool expired = exp < today_n;
      all.push_back(Warning{row.text(1), expired ? "stock_expired" : "stock_expiring", row.text(0),
                            row.text(2) + (row.opt_text(3) ? " (" + *row.opt_text(3) + ")" : "") +
                                (expired ? " expired on " : " expires on ") + format_date(exp),
                            exp, row.integer(5)});
    }
  }
  // suppliers' qualifications lapsing (资质到期)
  if (auto w = detail::list_where(*c, p, any_time, "at")) {
    w->add("qualification_expires_on <= {}", std::int64_t{today_n + config_.qualification_expiring_days});
    storage::Rows r = c->query("SELECT id, unit_id, name, qualification_expires_on, at FROM op_suppliers WHERE " +
                                   w->sql() + " ORDER BY qualification_expires_on, id LIMIT 1000",
                               w->params());
    for (const auto& row : r) {
      int exp = static_cast<int>(row.integer(3));
      bool expired = exp < today_n;
      all.push_back(Warning{
          row.text(1), expired ? "qualification_expired" : "qualification_expiring", row.text(0),
          row.text(2) + (expired ? " qualification expired on " : " qualification expires on ") + format_date(exp), exp,
          row.integer(4)});
    }
  }
  // samples kept out of the fridge's range, or disposed of before their time
  if (auto w = detail::list_where(*c, p, any_time, "kept_at")) {
    w->add(
        "(fridge_temp_c IS NOT NULL AND (fridge_temp_c < {} OR fridge_temp_c > {})) OR "
        "(disposed_at IS NOT NULL AND disposed_at < dispose_after)",
        config_.sample_fridge_min_c, config_.sample_fridge_max_c);
    w->add("kept_at >= {}", now - 30 * kDayMs);
    storage::Rows r =
        c->query("SELECT id, unit_id, dish, fridge_temp_c, kept_at FROM op_samples WHERE " + w->sql() + " LIMIT 1000",
                 w->params());
    for (const auto& row : r) {
      all.push_back(Warning{row.text(1), "sample_storage", row.text(0),
                            "sample of " + row.text(2) + " kept outside 0–8 °C", std::nullopt, row.integer(4)});
    }
  }
  // meal batches served in the last 2 days without a sample (留样缺失)
  if (auto w = detail::list_where(*c, p, any_time, "at", "sample_id IS NULL")) {
    w->add("at >= {}", now - 2 * kDayMs);
    storage::Rows r =
        c->query("SELECT id, unit_id, dish, at FROM op_meal_batches WHERE " + w->sql() + " ORDER BY at DESC LIMIT 1000",
                 w->params());
    for (const auto& row : r) {
      all.push_back(Warning{row.text(1), "sample_missing", row.text(0), "no sample kept of " + row.text(2),
                            std::nullopt, row.integer(3)});
    }
  }
  // prices that jumped (价格异常) and stock counts that did not match the book (盘点差异)
  const TimeMs recent = now - static_cast<TimeMs>(config_.price_warning_days) * kDayMs;
  if (auto w = detail::list_where(*c, p, any_time, "at", "price_jump = 1")) {
    w->add("at >= {}", recent);
    storage::Rows r = c->query(
        "SELECT order_id, unit_id, item, unit_price, previous_price, change_pct, at FROM op_purchase_lines WHERE " +
            w->sql() +
            " AND NOT EXISTS (SELECT 1 FROM op_purchase_orders o WHERE o.id = op_purchase_lines.order_id AND "
            "o.state = 'rejected') ORDER BY at DESC LIMIT 1000",
        w->params());
    for (const auto& row : r) {
      char buf[160];
      std::snprintf(buf, sizeof buf, " price %.2f → %.2f (%+.1f%%)", row.real(4), row.real(3), row.real(5));
      all.push_back(Warning{row.text(1), "price_jump", row.text(0), row.text(2) + buf, std::nullopt, row.integer(6)});
    }
  }
  if (auto w = detail::list_where(*c, p, any_time, "at", "differences > 0")) {
    w->add("at >= {}", recent);
    storage::Rows r = c->query(
        "SELECT id, unit_id, differences, at FROM op_stock_counts WHERE " + w->sql() + " ORDER BY at DESC LIMIT 1000",
        w->params());
    for (const auto& row : r) {
      all.push_back(Warning{row.text(1), "stock_count_difference", row.text(0),
                            "stock count with " + std::to_string(row.integer(2)) + " item(s) not matching the book",
                            std::nullopt, row.integer(3)});
    }
  }
  // deliveries that did not match their purchase order (验收与订单不符)
  if (auto w = detail::list_where(*c, p, any_time, "at", "mismatch_count > 0")) {
    w->add("at >= {}", recent);
    storage::Rows r = c->query("SELECT id, unit_id, item, mismatches, at FROM op_acceptances WHERE " + w->sql() +
                                   " ORDER BY at DESC LIMIT 1000",
                               w->params());
    for (const auto& row : r) {
      std::string fields;
      if (auto v = parse_value(row.text(3)); v && v->is_array()) {
        for (const auto& m : v->as_array()) {
          if (m.is_object() && m.as_object().contains("field") && m.as_object().at("field").is_string()) {
            fields += (fields.empty() ? "" : ", ") + std::string(m.as_object().at("field").as_string());
          }
        }
      }
      all.push_back(Warning{row.text(1), "acceptance_mismatch", row.text(0),
                            row.text(2) + " does not match its purchase order: " + fields, std::nullopt,
                            row.integer(4)});
    }
  }
  // delivery trips that left their route or let the food's temperature out of range (配送异常)
  if (auto w = detail::list_where(*c, p, any_time, "at", "(off_route = 1 OR out_of_range = 1)")) {
    w->add("at >= {}", now - 2 * kDayMs);
    storage::Rows r = c->query(
        "SELECT delivery_id, unit_id, SUM(off_route), SUM(out_of_range), MAX(at) FROM op_delivery_points WHERE " +
            w->sql() + " GROUP BY delivery_id, unit_id ORDER BY MAX(at) DESC LIMIT 1000",
        w->params());
    for (const auto& row : r) {
      if (row.integer(2) > 0) {
        all.push_back(Warning{row.text(1), "delivery_off_route", row.text(0),
                              std::to_string(row.integer(2)) + " position(s) off the route", std::nullopt,
                              row.integer(4)});
      }
      if (row.integer(3) > 0) {
        all.push_back(Warning{row.text(1), "delivery_temperature", row.text(0),
                              std::to_string(row.integer(3)) + " temperature reading(s) out of range", std::nullopt,
                              row.integer(4)});
      }
    }
  }
  // training certificates (exams) lapsing or lapsed (培训证书到期)
  if (auto w = detail::list_where(*c, p, any_time, "at", "ledger = 'trainings' AND kind = 'exam'")) {
    w->add("at >= {}", now - 5 * 365 * kDayMs);
    storage::Rows r =
        c->query("SELECT id, unit_id, fields, at FROM op_records WHERE " + w->sql() + " ORDER BY at DESC LIMIT 5000",
                 w->params());
    for (const auto& row : r) {
      auto f = parse_object(row.text(2));
      if (!f) continue;
      auto it = f->find("certificate_expires_on");
      if (it == f->end() || !it->value().is_string()) continue;
      auto exp = parse_date(it->value().as_string());
      if (!exp || *exp > today_n + config_.training_cert_expiring_days) continue;
      bool expired = *exp < today_n;
      auto name = f->find("staff_name");
      std::string who = name != f->end() && name->value().is_string() ? std::string(name->value().as_string()) : "";
      all.push_back(
          Warning{row.text(1), expired ? "training_cert_expired" : "training_cert_expiring", row.text(0),
                  "training certificate of " + who + (expired ? " expired on " : " expires on ") + format_date(*exp),
                  *exp, row.integer(3)});
    }
  }
  // abnormal records of the other ledgers of the last two days (晨检不合格, 中心温度不足…)
  if (ledgers_) {
    for (auto& w : ledgers_->warnings(p, any_time, 2)) all.push_back(std::move(w));
  }
  Page<Warning> out;
  out.total = static_cast<std::int64_t>(all.size());
  auto begin = std::min<std::size_t>(all.size(), static_cast<std::size_t>(page.offset()));
  auto end = std::min<std::size_t>(all.size(), begin + static_cast<std::size_t>(page.page_size));
  out.items.assign(all.begin() + static_cast<std::ptrdiff_t>(begin), all.begin() + static_cast<std::ptrdiff_t>(end));
  return out;
}

}  // namespace mingchu::operations
