// Suppliers (供应商, §6.1.1), acceptance (验收, §6.1.2) with its automatic return note
// (退货单), and the clock-dependent helpers of Operations.
#include <algorithm>
#include <cmath>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "operations/internal.hpp"
#include "operations/json_io.hpp"
#include "operations/operations.hpp"

namespace mingchu::operations {

using detail::nullable;

namespace {

constexpr const char* kSelectSuppliers =
    "SELECT id, unit_id, jpath, name, uscc, licence_number, address, contact_person, contact_phone, "
    "qualification_expires_on, file_ids, at, updated_at FROM op_suppliers";
constexpr const char* kInsertSupplier =
    "INSERT INTO op_suppliers (id, unit_id, jpath, name, uscc, licence_number, address, contact_person, "
    "contact_phone, qualification_expires_on, file_ids, at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)";

// a.* plus the supplier's name, the return note and the stock batch made from it
constexpr const char* kSelectAcceptances =
    "SELECT a.id, a.unit_id, a.jpath, a.supplier_id, s.name, a.item, a.spec, a.quantity, a.unit_of_measure, "
    "a.batch_no, a.produced_on, a.shelf_life_days, a.expires_on, a.sensory_ok, a.sensory_note, a.inspector, "
    "a.file_ids, a.at, rn.id, b.id, a.purchase_order_id, a.purchase_line_no, a.mismatches FROM op_acceptances a JOIN "
    "op_suppliers s ON s.id = a.supplier_id "
    "LEFT JOIN op_return_notes rn ON rn.acceptance_id = a.id LEFT JOIN op_stock_batches b ON b.acceptance_id = a.id";
constexpr const char* kInsertAcceptance =
    "INSERT INTO op_acceptances (id, unit_id, jpath, supplier_id, item, spec, quantity, unit_of_measure, batch_no, "
    "produced_on, shelf_life_days, expires_on, sensory_ok, sensory_note, file_ids, inspector, at, created_by, "
    "purchase_order_id, purchase_line_no, mismatches, mismatch_count) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)";
constexpr const char* kInsertReturnNote =
    "INSERT INTO op_return_notes (id, unit_id, jpath, acceptance_id, supplier_id, item, quantity, unit_of_measure, "
    "batch_no, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
constexpr const char* kSelectReturnNotes =
    "SELECT rn.id, rn.unit_id, rn.acceptance_id, rn.supplier_id, s.name, rn.item, rn.quantity, rn.unit_of_measure, "
    "rn.batch_no, rn.reason, rn.at FROM op_return_notes rn JOIN op_suppliers s ON s.id = rn.supplier_id";

// A record may be dated this far ahead of the server's clock (clock skew of the device that
// entered it), never further.
constexpr TimeMs kFutureSlackMs = 10 * kMinuteMs;

Supplier supplier_from_row(const storage::Row& r) {
  Supplier s;
  s.id = r.text(0);
  s.unit_id = r.text(1);
  s.jpath = r.text(2);
  s.name = r.text(3);
  s.uscc = r.text(4);
  s.licence_number = r.opt_text(5);
  s.address = r.opt_text(6);
  s.contact_person = r.opt_text(7);
  s.contact_phone = r.opt_text(8);
  s.qualification_expires_on = static_cast<int>(r.integer(9));
  s.file_ids = detail::ids_from_json(r.text(10));
  s.at = r.integer(11);
  s.updated_at = r.integer(12);
  return s;
}

std::vector<Mismatch> mismatches_from_json(const std::string& text) {
  std::vector<Mismatch> out;
  auto v = parse_value(text);
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->as_array()) {
    if (!e.is_object()) continue;
    const auto& o = e.as_object();
    auto get = [&](std::string_view k) {
      auto it = o.find(k);
      return it == o.end() ? json::value(nullptr) : it->value();
    };
    json::value f = get("field");
    out.push_back(Mismatch{f.is_string() ? std::string(f.as_string()) : "", get("ordered"), get("delivered")});
  }
  return out;
}

Acceptance acceptance_from_row(const storage::Row& r) {
  Acceptance a;
  a.id = r.text(0);
  a.unit_id = r.text(1);
  a.jpath = r.text(2);
  a.supplier_id = r.text(3);
  a.supplier_name = r.text(4);
  a.item = r.text(5);
  a.spec = r.opt_text(6);
  a.quantity = r.real(7);
  a.unit_of_measure = r.text(8);
  a.batch_no = r.opt_text(9);
  a.produced_on = static_cast<int>(r.integer(10));
  a.shelf_life_days = static_cast<int>(r.integer(11));
  a.expires_on = static_cast<int>(r.integer(12));
  a.sensory_ok = r.boolean(13);
  a.sensory_note = r.opt_text(14);
  a.inspector = r.opt_text(15);
  a.file_ids = detail::ids_from_json(r.text(16));
  a.at = r.integer(17);
  a.return_note_id = r.opt_text(18);
  a.stock_batch_id = r.opt_text(19);
  a.purchase_order_id = r.opt_text(20);
  if (auto n = r.opt_integer(21)) a.purchase_line = static_cast<int>(*n);
  if (auto m = r.opt_text(22)) a.mismatches = mismatches_from_json(*m);
  return a;
}

// A line of a purchase order as acceptance matches against it.
struct OrderLine {
  int no = 0;
  std::string item, unit_of_measure;
  double quantity = 0, received = 0;
};

// What of the delivery differs from the order line (none: the delivery names no line of the
// order, an item mismatch against the order's items).
std::vector<Mismatch> match_order(const AcceptanceInput& in, const std::string& order_supplier,
                                  const std::vector<OrderLine>& lines, const OrderLine* line, double tolerance_pct) {
  std::vector<Mismatch> out;
  if (!line) {
    json::array items;
    for (const auto& l : lines) items.emplace_back(l.item);
    out.push_back(Mismatch{"item", std::move(items), json::value(in.item)});
  } else {
    if (line->item != in.item) out.push_back(Mismatch{"item", json::value(line->item), json::value(in.item)});
    if (line->unit_of_measure != in.unit_of_measure) {
      out.push_back(Mismatch{"unit_of_measure", json::value(line->unit_of_measure), json::value(in.unit_of_measure)});
    } else if (line->item == in.item) {
      const double outstanding = std::max(0.0, detail::round3(line->quantity - line->received));
      if (std::fabs(in.quantity - outstanding) > line->quantity * tolerance_pct / 100.0 + 1e-9) {
        out.push_back(Mismatch{"quantity", json::value(outstanding), json::value(in.quantity)});
      }
    }
  }
  if (order_supplier != in.supplier_id) {
    out.push_back(Mismatch{"supplier_id", json::value(order_supplier), json::value(in.supplier_id)});
  }
  return out;
}

ReturnNote return_note_from_row(const storage::Row& r) {
  ReturnNote n;
  n.id = r.text(0);
  n.unit_id = r.text(1);
  n.acceptance_id = r.text(2);
  n.supplier_id = r.text(3);
  n.supplier_name = r.text(4);
  n.item = r.text(5);
  n.quantity = r.real(6);
  n.unit_of_measure = r.text(7);
  n.batch_no = r.opt_text(8);
  n.reason = r.text(9);
  n.at = r.integer(10);
  return n;
}

}  // namespace

Operations::Operations(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, OperationsConfig config,
                       Ledgers* ledgers)
    : db_(db), clock_(clock), audit_(audit), config_(config), ledgers_(ledgers) {}

int Operations::today() const { return local_day(clock_.now_ms(), config_.utc_offset_minutes); }

ExpiryStatus Operations::expiry_status(int expires_on, int today) const {
  if (expires_on < today) return ExpiryStatus::kExpired;
  if (expires_on <= today + config_.stock_expiring_days) return ExpiryStatus::kExpiring;
  return ExpiryStatus::kOk;
}

// ---------------------------------------------------------------- suppliers

Result<Supplier> Operations::create_supplier(const auth::Principal& p, const SupplierInput& in) {
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  if (auto st = detail::claim_files(*c, p, "file_ids", in.file_ids, *unit); !st) return st.error();
  Supplier s;
  s.id = new_id("sup");
  s.unit_id = unit->id;
  s.jpath = unit->jpath;
  s.name = in.name;
  s.uscc = in.uscc;
  s.licence_number = in.licence_number;
  s.address = in.address;
  s.contact_person = in.contact_person;
  s.contact_phone = in.contact_phone;
  s.qualification_expires_on = in.qualification_expires_on;
  s.file_ids = in.file_ids;
  s.at = s.updated_at = clock_.now_ms();
  detail::insert_audited(*c, tx, audit_, p, kInsertSupplier,
                         {s.id, s.unit_id, s.jpath, s.name, s.uscc, nullable(s.licence_number), nullable(s.address),
                          nullable(s.contact_person), nullable(s.contact_phone),
                          std::int64_t{s.qualification_expires_on}, detail::ids_json(s.file_ids), s.at},
                         "supplier.create", "supplier:" + s.id, json::object{{"unit_id", s.unit_id}});
  return s;
}

Result<Supplier> Operations::get_supplier(const auth::Principal& p, std::string_view id) {
  storage::Conn c = db_.acquire();
  auto r = detail::get_in_scope(*c, p, kSelectSuppliers, "id", id, "supplier");
  if (!r) return r.error();
  return supplier_from_row(*r);
}

Result<Page<Supplier>> Operations::list_suppliers(const auth::Principal& p, const ListFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  return detail::newest_rows<Supplier>(*c, p, f, "op_suppliers", kSelectSuppliers, clock_.now_ms(), page,
                                       supplier_from_row);
}

// ---------------------------------------------------------------- acceptance

Result<Acceptance> Operations::create_acceptance(const auth::Principal& p, const AcceptanceInput& in) {
  const TimeMs now = clock_.now_ms();
  const int today_n = today();
  if (in.produced_on > today_n) {
    return Error::invalid("produced_on", "in_future", "field 'produced_on' is after today");
  }
  if (in.accepted_at && *in.accepted_at > now + kFutureSlackMs) {
    return Error::invalid("accepted_at", "in_future", "field 'accepted_at' is in the future");
  }
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  auto supplier_name = detail::unit_supplier_name(*c, *unit, in.supplier_id);
  if (!supplier_name) return supplier_name.error();
  if (auto st = detail::claim_files(*c, p, "file_ids", in.file_ids, *unit); !st) return st.error();

  // the purchase order this delivery receives, locked until the received quantities are in
  std::vector<OrderLine> order_lines;
  std::optional<OrderLine> line;
  std::string order_supplier;
  if (in.purchase_order_id) {
    storage::Rows o = c->query(
        "SELECT unit_id, supplier_id, state FROM op_purchase_orders WHERE id = $1" + registry::detail::for_update(*c),
        {*in.purchase_order_id});
    if (o.empty() || o[0].text(0) != unit->id) {
      return detail::unknown_reference("purchase_order_id", "purchase order of this unit");
    }
    if (o[0].text(2) != "ordered") {
      return Error::conflict(
          "order_not_open",
          "only a placed order that is not fully received takes deliveries; this one is " + o[0].text(2));
    }
    order_supplier = o[0].text(1);
    for (const auto& l : c->query("SELECT line_no, item, unit_of_measure, quantity, received FROM op_purchase_lines "
                                  "WHERE order_id = $1 ORDER BY line_no",
                                  {*in.purchase_order_id})) {
      order_lines.push_back(OrderLine{static_cast<int>(l.integer(0)), l.text(1), l.text(2), l.real(3), l.real(4)});
    }
    if (in.purchase_line) {
      for (const auto& l : order_lines) {
        if (l.no == *in.purchase_line) line = l;
      }
      if (!line)
        return Error::invalid("purchase_line", "unknown_line", "field 'purchase_line' names no line of the order");
    } else {
      for (const auto& l : order_lines) {
        if (l.item == in.item &&
            (!line || (line->unit_of_measure != in.unit_of_measure && l.unit_of_measure == in.unit_of_measure))) {
          line = l;
        }
      }
    }
  }

  Acceptance a;
  a.id = new_id("acc");
  a.unit_id = unit->id;
  a.jpath = unit->jpath;
  a.supplier_id = in.supplier_id;
  a.supplier_name = *supplier_name;
  a.item = in.item;
  a.spec = in.spec;
  a.quantity = in.quantity;
  a.unit_of_measure = in.unit_of_measure;
  a.batch_no = in.batch_no;
  a.produced_on = in.produced_on;
  a.shelf_life_days = in.shelf_life_days;
  a.expires_on = in.produced_on + in.shelf_life_days - 1;
  a.sensory_ok = in.sensory_ok;
  a.sensory_note = in.sensory_note;
  a.inspector = in.inspector;
  a.file_ids = in.file_ids;
  a.at = in.accepted_at.value_or(now);
  a.purchase_order_id = in.purchase_order_id;
  if (line) a.purchase_line = line->no;
  if (in.purchase_order_id) {
    a.mismatches =
        match_order(in, order_supplier, order_lines, line ? &*line : nullptr, config_.acceptance_tolerance_pct);
  }
  // 查验不合格的，自动生成退货单 (§6.1.2.3); a batch already past its expiry is refused too.
  std::string reason;
  if (!a.sensory_ok) {
    reason = "sensory_check_failed";
  } else if (a.expires_on < local_day(a.at, config_.utc_offset_minutes)) {
    reason = "expired_on_arrival";
  }
  if (!reason.empty()) a.return_note_id = new_id("rn");
  json::object detail_json{{"unit_id", a.unit_id}, {"sensory_ok", a.sensory_ok}};
  if (a.return_note_id) detail_json["return_note_id"] = *a.return_note_id;
  if (a.purchase_order_id) {
    detail_json["purchase_order_id"] = *a.purchase_order_id;
    detail_json["mismatches"] = static_cast<std::int64_t>(a.mismatches.size());
  }
  detail::insert_audited(
      *c, tx, audit_, p, kInsertAcceptance,
      {a.id,
       a.unit_id,
       a.jpath,
       a.supplier_id,
       a.item,
       nullable(a.spec),
       a.quantity,
       a.unit_of_measure,
       nullable(a.batch_no),
       std::int64_t{a.produced_on},
       std::int64_t{a.shelf_life_days},
       std::int64_t{a.expires_on},
       std::int64_t{a.sensory_ok},
       nullable(a.sensory_note),
       detail::ids_json(a.file_ids),
       nullable(a.inspector),
       a.at,
       p.user_id,
       nullable(a.purchase_order_id),
       a.purchase_line ? storage::Value(std::int64_t{*a.purchase_line}) : storage::Value(nullptr),
       a.mismatches.empty() ? storage::Value(nullptr) : storage::Value(json::serialize(to_json(a.mismatches))),
       static_cast<std::int64_t>(a.mismatches.size())},
      "acceptance.create", "acceptance:" + a.id, detail_json, [&] {
        if (a.return_note_id) {
          c->exec(kInsertReturnNote, {*a.return_note_id, a.unit_id, a.jpath, a.id, a.supplier_id, a.item, a.quantity,
                                      a.unit_of_measure, nullable(a.batch_no), reason, now});
        }
        // what was accepted of the line's item and unit counts as received (a refused batch goes back)
        if (line && reason.empty() && line->item == a.item && line->unit_of_measure == a.unit_of_measure) {
          c->exec("UPDATE op_purchase_lines SET received = received + $3 WHERE order_id = $1 AND line_no = $2",
                  {*a.purchase_order_id, std::int64_t{line->no}, a.quantity});
          bool all = true;
          for (auto& l : order_lines) {
            if (l.no == line->no) l.received += a.quantity;
            all = all && l.received + 1e-9 >= l.quantity * (1 - config_.acceptance_tolerance_pct / 100.0);
          }
          if (all) {
            c->exec("UPDATE op_purchase_orders SET state = 'received', received_at = $2 WHERE id = $1",
                    {*a.purchase_order_id, now});
          }
        }
      });
  return a;
}

Result<Acceptance> Operations::get_acceptance(const auth::Principal& p, std::string_view id) {
  storage::Conn c = db_.acquire();
  auto r = detail::get_in_scope(*c, p, kSelectAcceptances, "a.id", id, "acceptance");
  if (!r) return r.error();
  return acceptance_from_row(*r);
}

Result<Page<Acceptance>> Operations::list_acceptances(const auth::Principal& p, const ListFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  return detail::newest_list<Acceptance>(
      *c, p, f, "op_acceptances", clock_.now_ms(), page, [&](const std::string& id) -> std::optional<Acceptance> {
        storage::Rows r = c->query(std::string(kSelectAcceptances) + " WHERE a.id = $1", {id});
        if (r.empty()) return std::nullopt;
        return acceptance_from_row(r[0]);
      });
}

Result<Page<ReturnNote>> Operations::list_return_notes(const auth::Principal& p, const ListFilter& f,
                                                       PageRequest page) {
  storage::Conn c = db_.acquire();
  return detail::newest_list<ReturnNote>(
      *c, p, f, "op_return_notes", clock_.now_ms(), page, [&](const std::string& id) -> std::optional<ReturnNote> {
        storage::Rows r = c->query(std::string(kSelectReturnNotes) + " WHERE rn.id = $1", {id});
        if (r.empty()) return std::nullopt;
        return return_note_from_row(r[0]);
      });
}

}  // namespace mingchu::operations
