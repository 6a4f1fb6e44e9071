// Purchasing (采购: request → approval → order, with the price history of each item) and
// stock counts (盘点) against the book stock.
#include <cmath>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "operations/internal.hpp"
#include "operations/operations.hpp"
#include "storage/sql.hpp"

namespace mingchu::operations {

using detail::nullable;

namespace {

constexpr TimeMs kFutureSlackMs = 10 * kMinuteMs;

constexpr const char* kSelectOrders =
    "SELECT o.id, o.unit_id, o.jpath, o.supplier_id, s.name, o.state, o.requested_by, o.reason, o.needed_on, "
    "o.total_amount, o.decided_by, o.decision_note, o.decided_at, o.ordered_at, o.at, o.received_at FROM "
    "op_purchase_orders o "
    "JOIN op_suppliers s ON s.id = o.supplier_id";
constexpr const char* kSelectLines =
    "SELECT item, quantity, unit_of_measure, unit_price, previous_price, change_pct, price_jump, received FROM "
    "op_purchase_lines WHERE order_id = $1 ORDER BY line_no";
constexpr const char* kSelectCounts =
    "SELECT id, unit_id, jpath, counted_by, note, lines, differences, at, state, confirmed_at, confirmed_by FROM "
    "op_stock_counts";
constexpr double kEpsilon = 1e-9;

PurchaseOrder order_from_row(storage::Connection& c, const storage::Row& r) {
  PurchaseOrder o;
  o.id = r.text(0);
  o.unit_id = r.text(1);
  o.jpath = r.text(2);
  o.supplier_id = r.text(3);
  o.supplier_name = r.text(4);
  o.state = r.text(5);
  o.requested_by = r.text(6);
  o.reason = r.opt_text(7);
  if (auto d = r.opt_integer(8)) o.needed_on = static_cast<int>(*d);
  o.total_amount = r.real(9);
  o.decided_by = r.opt_text(10);
  o.decision_note = r.opt_text(11);
  o.decided_at = r.opt_integer(12);
  o.ordered_at = r.opt_integer(13);
  o.at = r.integer(14);
  o.received_at = r.opt_integer(15);
  for (const auto& l : c.query(kSelectLines, {o.id})) {
    PurchaseLine line;
    line.item = l.text(0);
    line.quantity = l.real(1);
    line.unit_of_measure = l.text(2);
    line.unit_price = l.real(3);
    if (!l.is_null(4)) line.previous_price = l.real(4);
    if (!l.is_null(5)) line.change_pct = l.real(5);
    line.price_jump = l.boolean(6);
    line.received = l.real(7);
    o.lines.push_back(std::move(line));
  }
  return o;
}

StockCount count_from_row(const storage::Row& r) {
  StockCount s;
  s.id = r.text(0);
  s.unit_id = r.text(1);
  s.jpath = r.text(2);
  s.counted_by = r.text(3);
  s.note = r.opt_text(4);
  if (auto v = parse_value(r.text(5)); v && v->is_array()) {
    for (const auto& e : v->as_array()) {
      if (!e.is_object()) continue;
      const auto& o = e.as_object();
      StockCountLine l;
      l.item = std::string(o.at("item").as_string());
      l.unit_of_measure = std::string(o.at("unit_of_measure").as_string());
      l.book_quantity = o.at("book_quantity").to_number<double>();
      l.counted_quantity = o.at("counted_quantity").to_number<double>();
      l.difference = o.at("difference").to_number<double>();
      if (auto it = o.find("batch_id"); it != o.end() && it->value().is_string()) {
        l.batch_id = std::string(it->value().as_string());
        if (auto b = o.find("batch_no"); b != o.end() && b->value().is_string()) {
          l.batch_no = std::string(b->value().as_string());
        }
        if (auto v = o.find("version"); v != o.end() && v->value().is_number()) {
          l.version = v->value().to_number<std::int64_t>();
        }
      }
      s.lines.push_back(std::move(l));
    }
  }
  s.differences = r.integer(6);
  s.at = r.integer(7);
  s.state = r.text(8);
  s.confirmed_at = r.opt_integer(9);
  s.confirmed_by = r.opt_text(10);
  return s;
}

json::object count_line_json(const StockCountLine& l) {
  json::object o{{"item", l.item},
                 {"unit_of_measure", l.unit_of_measure},
                 {"book_quantity", l.book_quantity},
                 {"counted_quantity", l.counted_quantity},
                 {"difference", l.difference}};
  if (l.batch_id) {
    o["batch_id"] = *l.batch_id;
    o["batch_no"] = l.batch_no ? json::value(*l.batch_no) : json::value(nullptr);
    o["version"] = l.version;
  }
  return o;
}

}  // namespace

// ---------------------------------------------------------------- purchase orders

Result<PurchaseOrder> Operations::create_purchase_order(const auth::Principal& p, const PurchaseOrderInput& in) {
  const TimeMs now = clock_.now_ms();
  if (in.needed_on && *in.needed_on > today() + 366) {
    return Error::invalid("needed_on", "too_far", "field 'needed_on' is more than a year ahead");
  }
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  auto supplier_name = detail::unit_supplier_name(*c, *unit, in.supplier_id);
  if (!supplier_name) return supplier_name.error();

  PurchaseOrder o;
  o.id = new_id("po");
  o.unit_id = unit->id;
  o.jpath = unit->jpath;
  o.supplier_id = in.supplier_id;
  o.supplier_name = *supplier_name;
  o.state = "requested";
  o.requested_by = in.requested_by;
  o.reason = in.reason;
  o.needed_on = in.needed_on;
  o.at = now;
  double total = 0;
  for (const auto& li : in.lines) {
    PurchaseLine l;
    l.item = li.item;
    l.quantity = li.quantity;
    l.unit_of_measure = li.unit_of_measure;
    l.unit_price = li.unit_price;
    storage::Rows prev = c->query(
        "SELECT l.unit_price FROM op_purchase_lines l JOIN op_purchase_orders o ON o.id = l.order_id "
        "WHERE l.unit_id = $1 AND l.item = $2 AND l.unit_of_measure = $3 AND o.state <> 'rejected' "
        "ORDER BY l.at DESC, l.line_no DESC LIMIT 1",
        {unit->id, l.item, l.unit_of_measure});
    if (!prev.empty()) {
      l.previous_price = prev[0].real(0);
      double pct = (l.unit_price - *l.previous_price) / *l.previous_price * 100.0;
      l.change_pct = std::round(pct * 10.0) / 10.0;
      l.price_jump = std::fabs(pct) > config_.price_jump_pct;
    }
    total += l.quantity * l.unit_price;
    o.lines.push_back(std::move(l));
  }
  o.total_amount = std::round(total * 100.0) / 100.0;
  detail::insert_audited(
      *c, tx, audit_, p,
      "INSERT INTO op_purchase_orders (id, unit_id, jpath, supplier_id, state, requested_by, reason, needed_on, "
      "total_amount, at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      {o.id, o.unit_id, o.jpath, o.supplier_id, o.state, o.requested_by, nullable(o.reason),
       o.needed_on ? storage::Value(std::int64_t{*o.needed_on}) : storage::Value(nullptr), o.total_amount, o.at,
       p.user_id},
      "purchase_order.create", "purchase_order:" + o.id, json::object{{"unit_id", o.unit_id}}, [&] {
        std::int64_t n = 0;
        for (const auto& l : o.lines) {
          c->exec(
              "INSERT INTO op_purchase_lines (order_id, line_no, unit_id, jpath, item, quantity, unit_of_measure, "
              "unit_price, previous_price, change_pct, price_jump, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
              "$10, $11, $12)",
              {o.id, n++, o.unit_id, o.jpath, l.item, l.quantity, l.unit_of_measure, l.unit_price,
               detail::nullable_real(l.previous_price), detail::nullable_real(l.change_pct), std::int64_t{l.price_jump},
               o.at});
        }
      });
  return o;
}

Result<PurchaseOrder> Operations::get_purchase_order(const auth::Principal& p, std::string_view id) {
  storage::Conn c = db_.acquire();
  auto r = detail::get_in_scope(*c, p, kSelectOrders, "o.id", id, "purchase order");
  if (!r) return r.error();
  return order_from_row(*c, *r);
}

Result<Page<PurchaseOrder>> Operations::list_purchase_orders(const auth::Principal& p, const ListFilter& f,
                                                             PageRequest page) {
  storage::Conn c = db_.acquire();
  return detail::newest_list<PurchaseOrder>(*c, p, f, "op_purchase_orders", clock_.now_ms(), page,
                                            [&](const std::string& id) -> std::optional<PurchaseOrder> {
                                              storage::Rows r =
                                                  c->query(std::string(kSelectOrders) + " WHERE o.id = $1", {id});
                                              if (r.empty()) return std::nullopt;
                                              return order_from_row(*c, r[0]);
                                            });
}

Result<PurchaseOrder> Operations::decide_purchase_order(const auth::Principal& p, std::string_view id,
                                                        const PurchaseDecisionInput& in) {
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto r = detail::get_in_scope(*c, p, "SELECT unit_id, jpath, state FROM op_purchase_orders", "id", id,
                                "purchase order", 0, 1, true);
  if (!r) return r.error();
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  if (r->text(2) != "requested") {
    return Error::conflict("illegal_transition",
                           "only a requested order is approved or rejected; this one is " + r->text(2));
  }
  const std::string state = in.approved ? "approved" : "rejected";
  c->exec(
      "UPDATE op_purchase_orders SET state = $2, decided_by = $3, decision_note = $4, decided_at = $5 WHERE id = $1",
      {std::string(id), state, in.decided_by, nullable(in.note), clock_.now_ms()});
  audit_.append(*c, auth::audit_entry(p, "purchase_order." + std::string(in.approved ? "approve" : "reject"),
                                      "purchase_order:" + std::string(id), "{}"));
  tx.commit();
  return get_purchase_order(p, id);
}

Result<PurchaseOrder> Operations::place_purchase_order(const auth::Principal& p, std::string_view id) {
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto r = detail::get_in_scope(*c, p, "SELECT unit_id, jpath, state FROM op_purchase_orders", "id", id,
                                "purchase order", 0, 1, true);
  if (!r) return r.error();
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  if (r->text(2) != "approved") {
    return Error::conflict("illegal_transition", "only an approved order is placed; this one is " + r->text(2));
  }
  c->exec("UPDATE op_purchase_orders SET state = 'ordered', ordered_at = $2 WHERE id = $1",
          {std::string(id), clock_.now_ms()});
  audit_.append(*c, auth::audit_entry(p, "purchase_order.order", "purchase_order:" + std::string(id), "{}"));
  tx.commit();
  return get_purchase_order(p, id);
}

Result<Page<PricePoint>> Operations::list_prices(const auth::Principal& p, const PriceFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  auto w = detail::list_where(*c, p, f, "at", "state <> 'rejected'");
  Page<PricePoint> out;
  if (!w) return out;
  if (f.item) w->add("item = {}", *f.item);
  // the lines with their order's state and supplier, under the column names list_where uses
  const std::string from =
      "(SELECT l.unit_id AS unit_id, l.jpath AS jpath, l.at AS at, l.item AS item, l.line_no AS line_no, "
      "l.order_id AS order_id, l.unit_price AS unit_price, l.unit_of_measure AS uom, l.previous_price AS "
      "previous_price, l.change_pct AS change_pct, l.price_jump AS price_jump, o.state AS state, o.supplier_id AS "
      "supplier_id, s.name AS supplier_name FROM op_purchase_lines l JOIN op_purchase_orders o ON o.id = l.order_id "
      "JOIN op_suppliers s ON s.id = o.supplier_id) x";
  out.total = detail::capped_count(*c, *w, from);
  storage::Rows rows = w->page(*c,
                               "SELECT unit_id, order_id, supplier_id, supplier_name, item, uom, state, unit_price, "
                               "previous_price, change_pct, price_jump, at FROM " +
                                   from,
                               "at DESC, order_id, line_no", page);
  for (const auto& r : rows) {
    PricePoint pt;
    pt.unit_id = r.text(0);
    pt.order_id = r.text(1);
    pt.supplier_id = r.text(2);
    pt.supplier_name = r.text(3);
    pt.item = r.text(4);
    pt.unit_of_measure = r.text(5);
    pt.state = r.text(6);
    pt.unit_price = r.real(7);
    if (!r.is_null(8)) pt.previous_price = r.real(8);
    if (!r.is_null(9)) pt.change_pct = r.real(9);
    pt.price_jump = r.boolean(10);
    pt.at = r.integer(11);
    out.items.push_back(std::move(pt));
  }
  return out;
}

// ---------------------------------------------------------------- stock counts

Result<StockCount> Operations::create_stock_count(const auth::Principal& p, const StockCountInput& in) {
  const TimeMs now = clock_.now_ms();
  if (in.counted_at && *in.counted_at > now + kFutureSlackMs) {
    return Error::invalid("counted_at", "in_future", "field 'counted_at' is in the future");
  }
  for (size_t i = 0; i < in.lines.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (in.lines[i].batch_id && in.lines[j].batch_id == in.lines[i].batch_id) {
        std::string field = "lines[" + std::to_string(i) + "].batch_id";
        return Error::invalid(field, "duplicate", "batch '" + *in.lines[i].batch_id + "' is counted twice");
      }
      if (!in.lines[i].batch_id && in.lines[j].item == in.lines[i].item) {
        std::string field = "lines[" + std::to_string(i) + "].item";
        return Error::invalid(field, "duplicate", "item '" + in.lines[i].item + "' is counted twice");
      }
    }
  }
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  StockCount s;
  s.id = new_id("cnt");
  s.unit_id = unit->id;
  s.jpath = unit->jpath;
  s.counted_by = in.counted_by;
  s.note = in.note;
  s.at = in.counted_at.value_or(now);
  s.state = !in.lines.empty() && in.lines[0].batch_id ? "open" : "recorded";
  json::array lines;
  for (size_t i = 0; i < in.lines.size(); ++i) {
    const auto& li = in.lines[i];
    if (li.batch_id) {
      // one batch: its remaining quantity and version now, applied when the count is confirmed
      storage::Rows b = c->query(
          "SELECT unit_id, item, unit_of_measure, remaining, version, batch_no FROM op_stock_batches WHERE id = $1",
          {*li.batch_id});
      if (b.empty() || b[0].text(0) != unit->id) {
        return detail::unknown_reference("lines[" + std::to_string(i) + "].batch_id", "stock batch of this unit");
      }
      StockCountLine l;
      l.batch_id = li.batch_id;
      l.item = b[0].text(1);
      l.unit_of_measure = b[0].text(2);
      l.book_quantity = detail::round3(b[0].real(3));
      l.version = b[0].integer(4);
      l.batch_no = b[0].opt_text(5);
      l.counted_quantity = li.counted_quantity;
      l.difference = detail::round3(l.counted_quantity - l.book_quantity);
      if (l.difference != 0) ++s.differences;
      lines.push_back(count_line_json(l));
      s.lines.push_back(std::move(l));
      continue;
    }
    storage::Rows book = c->query(
        "SELECT COALESCE(SUM(remaining), 0), MIN(unit_of_measure) FROM op_stock_batches WHERE unit_id = $1 AND "
        "item = $2 AND remaining > 0",
        {unit->id, li.item});
    StockCountLine l;
    l.item = li.item;
    l.book_quantity = detail::round3(book[0].real(0));
    l.unit_of_measure = book[0].text(1);
    l.counted_quantity = li.counted_quantity;
    l.difference = detail::round3(l.counted_quantity - l.book_quantity);
    if (l.difference != 0) ++s.differences;
    lines.push_back(count_line_json(l));
    s.lines.push_back(std::move(l));
  }
  detail::insert_audited(
      *c, tx, audit_, p,
      "INSERT INTO op_stock_counts (id, unit_id, jpath, counted_by, note, lines, differences, at, created_by, state) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
      {s.id, s.unit_id, s.jpath, s.counted_by, nullable(s.note), json::serialize(lines), s.differences, s.at, p.user_id,
       s.state},
      "stock_count.create", "stock_count:" + s.id,
      json::object{{"unit_id", s.unit_id}, {"differences", s.differences}});
  return s;
}

Result<StockCount> Operations::get_stock_count(const auth::Principal& p, std::string_view id) {
  storage::Conn c = db_.acquire();
  auto r = detail::get_in_scope(*c, p, kSelectCounts, "id", id, "stock count");
  if (!r) return r.error();
  return count_from_row(*r);
}

Result<Page<StockCount>> Operations::list_stock_counts(const auth::Principal& p, const ListFilter& f,
                                                       PageRequest page) {
  storage::Conn c = db_.acquire();
  return detail::newest_rows<StockCount>(*c, p, f, "op_stock_counts", kSelectCounts, clock_.now_ms(), page,
                                         count_from_row);
}

Result<StockCount> Operations::confirm_stock_count(const auth::Principal& p, std::string_view id,
                                                   const StockCountConfirmInput& in) {
  const TimeMs now = clock_.now_ms();
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto r = detail::get_in_scope(*c, p, kSelectCounts, "id", id, "stock count", 1, 2, true);
  if (!r) return r.error();
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  StockCount s = count_from_row(*r);
  if (s.state != "open") {
    return Error::conflict("illegal_transition", s.state == "confirmed"
                                                     ? "this stock count was already confirmed"
                                                     : "a count by item is recorded only; count by batch to adjust");
  }
  // every batch as it was counted, or nothing is applied
  for (size_t i = 0; i < s.lines.size(); ++i) {
    const auto& l = s.lines[i];
    storage::Rows b = c->query(
        "SELECT remaining, version FROM op_stock_batches WHERE id = $1" + storage::for_update(*c), {*l.batch_id});
    if (b.empty() || b[0].integer(1) != l.version || std::fabs(b[0].real(0) - l.book_quantity) > kEpsilon) {
      Error e = Error::conflict("stock_changed", "batch " + l.batch_no.value_or(*l.batch_id) + " (" + l.item +
                                                     ") changed after it was counted; count it again");
      e.field = "lines[" + std::to_string(i) + "].batch_id";
      return e;
    }
  }
  std::int64_t adjusted = 0;
  for (const auto& l : s.lines) {
    if (l.difference == 0) continue;
    c->exec("UPDATE op_stock_batches SET remaining = $2, version = version + 1 WHERE id = $1",
            {*l.batch_id, l.counted_quantity});
    c->exec(
        "INSERT INTO op_stock_movements (id, unit_id, jpath, batch_id, kind, quantity, remaining_after, ref_id, at, "
        "created_by) VALUES ($1, $2, $3, $4, 'count_adjustment', $5, $6, $7, $8, $9)",
        {new_id("mov"), s.unit_id, s.jpath, *l.batch_id, l.difference, l.counted_quantity, s.id, now, p.user_id});
    ++adjusted;
  }
  c->exec("UPDATE op_stock_counts SET state = 'confirmed', confirmed_at = $2, confirmed_by = $3 WHERE id = $1",
          {s.id, now, in.confirmed_by});
  audit_.append(*c, auth::audit_entry(p, "stock_count.confirm", "stock_count:" + s.id,
                                      json::serialize(json::object{{"unit_id", s.unit_id}, {"adjusted", adjusted}})));
  tx.commit();
  s.state = "confirmed";
  s.confirmed_at = now;
  s.confirmed_by = in.confirmed_by;
  return s;
}

Result<Page<StockMovement>> Operations::list_stock_movements(const auth::Principal& p, const ListFilter& f,
                                                             PageRequest page) {
  storage::Conn c = db_.acquire();
  return detail::newest_list<StockMovement>(
      *c, p, f, "op_stock_movements", clock_.now_ms(), page,
      [&](const std::string& id) -> std::optional<StockMovement> {
        storage::Rows r = c->query(
            "SELECT m.id, m.unit_id, m.batch_id, m.kind, m.quantity, m.remaining_after, m.ref_id, m.at, b.item, "
            "b.batch_no FROM op_stock_movements m JOIN op_stock_batches b ON b.id = m.batch_id WHERE m.id = $1",
            {id});
        if (r.empty()) return std::nullopt;
        StockMovement m;
        m.id = r[0].text(0);
        m.unit_id = r[0].text(1);
        m.batch_id = r[0].text(2);
        m.kind = r[0].text(3);
        m.quantity = r[0].real(4);
        m.remaining_after = r[0].real(5);
        m.ref_id = r[0].opt_text(6);
        m.at = r[0].integer(7);
        m.item = r[0].opt_text(8);
        m.batch_no = r[0].opt_text(9);
        return m;
      });
}

}  // namespace mingchu::operations
