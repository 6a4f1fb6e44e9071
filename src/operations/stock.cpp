// Stock (出入库, §6.1.3): accepted batches go into stock with every field §6.1.3.1 lists;
// stock-outs (§6.1.3.2) take the batches that expire first and never an expired one.
#include <algorithm>
#include <cstdio>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "operations/internal.hpp"
#include "operations/operations.hpp"
#include "storage/sql.hpp"

namespace mingchu::operations {

using detail::nullable;

namespace {

constexpr const char* kSelectBatches =
    "SELECT b.id, b.unit_id, b.jpath, b.acceptance_id, b.supplier_id, b.item, b.spec, b.batch_no, b.quantity, "
    "b.remaining, b.unit_of_measure, b.produced_on, b.shelf_life_days, b.expires_on, b.location, b.handler, b.at, "
    "s.name, s.address, s.contact_person, s.contact_phone FROM op_stock_batches b "
    "JOIN op_suppliers s ON s.id = b.supplier_id";
constexpr const char* kInsertBatch =
    "INSERT INTO op_stock_batches (id, unit_id, jpath, acceptance_id, supplier_id, item, spec, batch_no, quantity, "
    "remaining, unit_of_measure, produced_on, shelf_life_days, expires_on, location, handler, at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14, $15, $16)";
// The live, unexpired batches of an item, first-expiring-first (op_stock_batches_fefo).
constexpr const char* kFefoBatches =
    "SELECT id, batch_no, remaining, expires_on, unit_of_measure FROM op_stock_batches "
    "WHERE unit_id = $1 AND item = $2 AND remaining > 0 AND expires_on >= $3 ORDER BY expires_on, at, id";
constexpr const char* kExpiredQuantity =
    "SELECT COALESCE(SUM(remaining), 0) FROM op_stock_batches WHERE unit_id = $1 AND item = $2 AND remaining > 0 "
    "AND expires_on < $3";
constexpr const char* kTakeFromBatch =
    "UPDATE op_stock_batches SET remaining = $2, version = version + 1 WHERE id = $1";
constexpr const char* kInsertStockOut =
    "INSERT INTO op_stock_outs (id, unit_id, jpath, item, quantity, unit_of_measure, department, receiver, handler, "
    "at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
constexpr const char* kInsertStockOutLine =
    "INSERT INTO op_stock_out_lines (stock_out_id, batch_id, unit_id, jpath, quantity) VALUES ($1, $2, $3, $4, $5)";
constexpr const char* kSelectStockOuts =
    "SELECT id, unit_id, jpath, item, quantity, unit_of_measure, department, receiver, handler, at FROM op_stock_outs";
constexpr const char* kSelectStockOutLines =
    "SELECT l.batch_id, b.batch_no, l.quantity, b.expires_on FROM op_stock_out_lines l "
    "JOIN op_stock_batches b ON b.id = l.batch_id WHERE l.stock_out_id = $1 ORDER BY b.expires_on, b.at, b.id";

constexpr double kEpsilon = 1e-9;

StockBatch batch_from_row(const storage::Row& r) {
  StockBatch b;
  b.id = r.text(0);
  b.unit_id = r.text(1);
  b.jpath = r.text(2);
  b.acceptance_id = r.text(3);
  b.supplier_id = r.text(4);
  b.item = r.text(5);
  b.spec = r.opt_text(6);
  b.batch_no = r.opt_text(7);
  b.quantity = r.real(8);
  b.remaining = r.real(9);
  b.unit_of_measure = r.text(10);
  b.produced_on = static_cast<int>(r.integer(11));
  b.shelf_life_days = static_cast<int>(r.integer(12));
  b.expires_on = static_cast<int>(r.integer(13));
  b.location = r.opt_text(14);
  b.handler = r.opt_text(15);
  b.at = r.integer(16);
  b.supplier_name = r.text(17);
  b.supplier_address = r.opt_text(18);
  b.supplier_contact_person = r.opt_text(19);
  b.supplier_contact_phone = r.opt_text(20);
  return b;
}

StockOut stock_out_from_row(const storage::Row& r) {
  StockOut o;
  o.id = r.text(0);
  o.unit_id = r.text(1);
  o.jpath = r.text(2);
  o.item = r.text(3);
  o.quantity = r.real(4);
  o.unit_of_measure = r.text(5);
  o.department = r.text(6);
  o.receiver = r.text(7);
  o.handler = r.text(8);
  o.at = r.integer(9);
  return o;
}

void load_lines(storage::Connection& c, StockOut& o) {
  for (const auto& r : c.query(kSelectStockOutLines, {o.id})) {
    o.batches.push_back(StockOutLine{r.text(0), r.opt_text(1), r.real(2), static_cast<int>(r.integer(3))});
  }
}

std::string amount(double q) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", q);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

Result<StockBatch> Operations::stock_in(const auth::Principal& p, const StockInInput& in) {
  if (!plausible_id(in.acceptance_id)) return detail::unknown_reference("acceptance_id", "acceptance");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  storage::Rows r = c->query(
      "SELECT a.unit_id, a.jpath, a.supplier_id, a.item, a.spec, a.batch_no, a.quantity, a.unit_of_measure, "
      "a.produced_on, a.shelf_life_days, a.expires_on, a.sensory_ok, rn.id FROM op_acceptances a "
      "LEFT JOIN op_return_notes rn ON rn.acceptance_id = a.id WHERE a.id = $1" +
          std::string(c->dialect() == storage::Dialect::kPostgres ? " FOR UPDATE OF a" : ""),
      {in.acceptance_id});
  if (r.empty() || !p.covers(r[0].text(1), r[0].text(0))) {
    return detail::unknown_reference("acceptance_id", "acceptance");
  }
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  if (r[0].opt_text(12)) {
    return Error::conflict("acceptance_refused", "this batch was refused at acceptance and has a return note");
  }
  if (!c->query("SELECT 1 FROM op_stock_batches WHERE acceptance_id = $1", {in.acceptance_id}).empty()) {
    return Error::conflict("already_in_stock", "this accepted batch is already in stock");
  }
  StockBatch b;
  b.id = new_id("stk");
  b.unit_id = r[0].text(0);
  b.jpath = r[0].text(1);
  b.acceptance_id = in.acceptance_id;
  b.supplier_id = r[0].text(2);
  b.item = r[0].text(3);
  b.spec = r[0].opt_text(4);
  b.batch_no = r[0].opt_text(5);
  b.quantity = b.remaining = r[0].real(6);
  b.unit_of_measure = r[0].text(7);
  b.produced_on = static_cast<int>(r[0].integer(8));
  b.shelf_life_days = static_cast<int>(r[0].integer(9));
  b.expires_on = static_cast<int>(r[0].integer(10));
  b.location = in.location;
  b.handler = in.handler;
  b.at = clock_.now_ms();
  c->exec(kInsertBatch,
          {b.id, b.unit_id, b.jpath, b.acceptance_id, b.supplier_id, b.item, nullable(b.spec), nullable(b.batch_no),
           b.quantity, b.unit_of_measure, std::int64_t{b.produced_on}, std::int64_t{b.shelf_life_days},
           std::int64_t{b.expires_on}, nullable(b.location), nullable(b.handler), b.at});
  storage::Rows sup =
      c->query("SELECT name, address, contact_person, contact_phone FROM op_suppliers WHERE id = $1", {b.supplier_id});
  if (!sup.empty()) {
    b.supplier_name = sup[0].text(0);
    b.supplier_address = sup[0].opt_text(1);
    b.supplier_contact_person = sup[0].opt_text(2);
    b.supplier_contact_phone = sup[0].opt_text(3);
  }
  b.expiry = expiry_status(b.expires_on, today());
  audit_.append(
      *c, auth::audit_entry(p, "stock.in", "stock_batch:" + b.id,
                            json::serialize(json::object{{"unit_id", b.unit_id}, {"acceptance_id", b.acceptance_id}})));
  tx.commit();
  return b;
}

Result<StockOut> Operations::stock_out(const auth::Principal& p, const StockOutInput& in) {
  const TimeMs now = clock_.now_ms();
  if (in.taken_at && *in.taken_at > now + 10 * kMinuteMs) {
    return Error::invalid("taken_at", "in_future", "field 'taken_at' is in the future");
  }
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  const int today_n = today();
  // SQLite's write transaction already serialises stock-outs; PostgreSQL locks the rows.
  storage::Rows batches =
      c->query(std::string(kFefoBatches) + storage::for_update(*c), {unit->id, in.item, std::int64_t{today_n}});
  std::string uom;
  double available = 0;
  for (const auto& b : batches) {
    if (in.unit_of_measure && b.text(4) != *in.unit_of_measure) continue;
    if (uom.empty()) uom = b.text(4);
    if (b.text(4) == uom) available += b.real(2);
  }
  if (available + kEpsilon < in.quantity) {
    double expired = c->query(kExpiredQuantity, {unit->id, in.item, std::int64_t{today_n}})[0].real(0);
    std::string msg = "only " + amount(available) + (uom.empty() ? "" : " " + uom) + " of '" + in.item +
                      "' in stock, " + amount(in.quantity) + " asked";
    if (expired > kEpsilon) msg += " (" + amount(expired) + " more is expired and cannot be issued)";
    return Error::conflict("insufficient_stock", msg);
  }
  StockOut o;
  o.id = new_id("out");
  o.unit_id = unit->id;
  o.jpath = unit->jpath;
  o.item = in.item;
  o.quantity = in.quantity;
  o.unit_of_measure = uom;
  o.department = in.department;
  o.receiver = in.receiver;
  o.handler = in.handler;
  o.at = in.taken_at.value_or(now);
  c->exec(kInsertStockOut,
          {o.id, o.unit_id, o.jpath, o.item, o.quantity, o.unit_of_measure, o.department, o.receiver, o.handler, o.at});
  double left = in.quantity;
  for (const auto& b : batches) {
    if (left <= kEpsilon) break;
    if (b.text(4) != uom) continue;
    double take = std::min(left, b.real(2));
    double remaining = detail::round3(b.real(2) - take);
    c->exec(kTakeFromBatch, {b.text(0), remaining < kEpsilon ? 0.0 : remaining});
    c->exec(kInsertStockOutLine, {o.id, b.text(0), o.unit_id, o.jpath, detail::round3(take)});
    o.batches.push_back(StockOutLine{b.text(0), b.opt_text(1), detail::round3(take), static_cast<int>(b.integer(3))});
    left = detail::round3(left - take);
  }
  audit_.append(
      *c, auth::audit_entry(p, "stock.out", "stock_out:" + o.id,
                            json::serialize(json::object{{"unit_id", o.unit_id},
                                                         {"batches", static_cast<std::int64_t>(o.batches.size())}})));
  tx.commit();
  return o;
}

Result<Page<StockBatch>> Operations::list_stock(const auth::Principal& p, const StockFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  auto w = detail::list_where(*c, p, f, "at");
  Page<StockBatch> out;
  if (!w) return out;
  const int today_n = today();
  if (!f.include_empty) w->add_raw("remaining > 0");
  if (f.item) w->add("item = {}", *f.item);
  if (f.expiring_within_days) w->add("expires_on <= {}", std::int64_t{today_n + *f.expiring_within_days});
  out.total = detail::capped_count(*c, *w, "op_stock_batches");
  storage::Rows ids = w->page(*c, "SELECT id FROM op_stock_batches", "expires_on, at, id", page);
  for (const auto& idr : ids) {
    storage::Rows r = c->query(std::string(kSelectBatches) + " WHERE b.id = $1", {idr.text(0)});
    if (r.empty()) continue;
    StockBatch b = batch_from_row(r[0]);
    b.expiry = expiry_status(b.expires_on, today_n);
    out.items.push_back(std::move(b));
  }
  return out;
}

Result<Page<StockOut>> Operations::list_stock_outs(const auth::Principal& p, const ListFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  return detail::newest_rows<StockOut>(*c, p, f, "op_stock_outs", kSelectStockOuts, clock_.now_ms(), page,
                                       [&](const storage::Row& r) {
                                         StockOut o = stock_out_from_row(r);
                                         load_lines(*c, o);
                                         return o;
                                       });
}

}  // namespace mingchu::operations
