// Operations: the electronic ledgers (电子台账) a group-catering unit keeps (seed 001 §6):
// suppliers, acceptance with automatic return notes, stock in and out first-expiring-first,
// sample retention, delivery trips with their hand-over, meal batches with a public
// traceability code — and the warnings they raise.
//
// Scope is the registry's (registry.hpp): every row carries its unit's id and jpath; a caller
// sees exactly the records of units inside their scope, and anything else is kNotFound, like a
// record that does not exist. The unit keeps its ledgers: merchant users of the unit and
// platform admins write them; regulators read them (kForbidden on writes). References in a
// body (unit, supplier, acceptance, device, file…) that do not resolve in the caller's scope,
// or belong to another unit than the record, are kInvalid naming the field.
//
// Rules the domain enforces (not the edge): a sample weighs at least min_sample_weight_g and
// is kept at least min_sample_hours; nothing is dated in the future beyond a few minutes; a
// stock-out takes the batches that expire first, never an expired one, and is kConflict
// "insufficient_stock" when the live stock does not cover it; a refused acceptance makes
// exactly one return note (a unique index holds it under concurrency).
//
// Writes run in one transaction with their audit entry. Database failures are thrown as
// storage::DbError (the request is over).
//
// Thread safety: holds references and its config only; any method from any thread. Does not
// own the database, clock or audit log, which must outlive it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "operations/model.hpp"
#include "storage/database.hpp"

namespace mingchu::operations {

struct OperationsConfig {
  double min_sample_weight_g = 125;                         // §6.2.3 / 餐饮服务食品安全操作规范: ≥ 125 g
  int min_sample_hours = 48;                                // kept at least 48 h
  int max_sample_days = 30;                                 // a planned disposal further out is a typing error
  int stock_expiring_days = 3;                              // 临期: expiring within this many days
  int qualification_expiring_days = 30;                     // a supplier's qualification expiring soon
  double sample_fridge_min_c = 0, sample_fridge_max_c = 8;  // 留样柜 / 冷藏 0–8 °C
  int utc_offset_minutes = 480;
  int price_jump_pct = 20;     // a price more than this many percent from the item's last one warns
  int price_warning_days = 7;  // price jumps and stock-count differences warn this many days
  int training_cert_expiring_days = 30;
  double acceptance_tolerance_pct = 5;  // a delivered quantity this far from the order's is still a match
};

class Ledgers;

class Operations {
 public:
  // ledgers, when given, adds the abnormal records of the other ledgers to the warnings.
  Operations(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, OperationsConfig config = {},
             Ledgers* ledgers = nullptr);

  // ---- suppliers
  Result<Supplier> create_supplier(const auth::Principal& p, const SupplierInput& in);
  Result<Supplier> get_supplier(const auth::Principal& p, std::string_view id);
  Result<Page<Supplier>> list_suppliers(const auth::Principal& p, const ListFilter& f, PageRequest page);

  // ---- acceptance and return notes. sensory_ok false (or a batch already past its expiry)
  // also creates the batch's one return note in the same transaction. An acceptance naming a
  // purchase order (placed, of the same unit; kInvalid "purchase_order_id" otherwise, kConflict
  // "order_not_open" unless it is ordered) is matched against its line: item, unit of measure,
  // supplier and quantity (outstanding ± acceptance_tolerance_pct) that differ are its
  // mismatches (an acceptance_mismatch warning); an accepted batch of the line's item and unit
  // counts as received, and the order is "received" once every line is within the tolerance.
  Result<Acceptance> create_acceptance(const auth::Principal& p, const AcceptanceInput& in);
  Result<Acceptance> get_acceptance(const auth::Principal& p, std::string_view id);
  Result<Page<Acceptance>> list_acceptances(const auth::Principal& p, const ListFilter& f, PageRequest page);
  Result<Page<ReturnNote>> list_return_notes(const auth::Principal& p, const ListFilter& f, PageRequest page);

  // ---- stock. stock_in: kConflict "acceptance_refused" for a refused batch,
  // "already_in_stock" the second time. stock_out: kConflict "insufficient_stock".
  Result<StockBatch> stock_in(const auth::Principal& p, const StockInInput& in);
  Result<StockOut> stock_out(const auth::Principal& p, const StockOutInput& in);
  Result<Page<StockBatch>> list_stock(const auth::Principal& p, const StockFilter& f, PageRequest page);
  Result<Page<StockOut>> list_stock_outs(const auth::Principal& p, const ListFilter& f, PageRequest page);

  // ---- samples
  Result<Sample> create_sample(const auth::Principal& p, const SampleInput& in);
  Result<Page<Sample>> list_samples(const auth::Principal& p, const ListFilter& f, PageRequest page);
  // Records the disposal; kConflict "already_disposed".
  Result<Sample> dispose_sample(const auth::Principal& p, std::string_view id);

  // ---- delivery trips; hand-over once (kConflict "already_handed_over").
  Result<Delivery> create_delivery(const auth::Principal& p, const DeliveryInput& in);
  Result<Delivery> get_delivery(const auth::Principal& p, std::string_view id);
  Result<Page<Delivery>> list_deliveries(const auth::Principal& p, const ListFilter& f, PageRequest page);
  Result<Delivery> hand_over(const auth::Principal& p, std::string_view id, const HandoverInput& in);

  // ---- meal batches and traceability
  Result<MealBatch> create_meal_batch(const auth::Principal& p, const MealBatchInput& in);
  Result<MealBatch> get_meal_batch(const auth::Principal& p, std::string_view id);
  Result<Page<MealBatch>> list_meal_batches(const auth::Principal& p, const ListFilter& f, PageRequest page);
  // The public chain behind a trace code (no caller): dish → ingredient batches → suppliers
  // and certificates → sample → delivery, with people's names masked. kNotFound for an
  // unknown code or a deleted unit.
  Result<json::object> public_trace(std::string_view trace_code);

  // ---- purchasing (§6.1.1): request → approved | rejected; approved → ordered. A decision
  // on anything but a request, or ordering anything but an approved order, is kConflict
  // "illegal_transition". Each line records the item's previous price and whether it jumped.
  Result<PurchaseOrder> create_purchase_order(const auth::Principal& p, const PurchaseOrderInput& in);
  Result<PurchaseOrder> get_purchase_order(const auth::Principal& p, std::string_view id);
  Result<Page<PurchaseOrder>> list_purchase_orders(const auth::Principal& p, const ListFilter& f, PageRequest page);
  Result<PurchaseOrder> decide_purchase_order(const auth::Principal& p, std::string_view id,
                                              const PurchaseDecisionInput& in);
  Result<PurchaseOrder> place_purchase_order(const auth::Principal& p, std::string_view id);
  // The prices paid (lines of orders not rejected), newest first.
  Result<Page<PricePoint>> list_prices(const auth::Principal& p, const PriceFilter& f, PageRequest page);

  // ---- stock counts (盘点): each line's book quantity (what stock says remains) beside the
  // counted one, and the difference. Lines by item are recorded only (state "recorded");
  // lines by batch make an "open" count that confirm_stock_count applies: in one transaction
  // each batch's remaining quantity becomes the counted one, with a count_adjustment stock
  // movement per changed batch and an audit entry. kConflict "stock_changed" when a batch moved
  // (stock-out, another count) after it was counted, "illegal_transition" unless open.
  Result<StockCount> create_stock_count(const auth::Principal& p, const StockCountInput& in);
  Result<StockCount> confirm_stock_count(const auth::Principal& p, std::string_view id,
                                         const StockCountConfirmInput& in);
  Result<Page<StockMovement>> list_stock_movements(const auth::Principal& p, const ListFilter& f, PageRequest page);
  Result<StockCount> get_stock_count(const auth::Principal& p, std::string_view id);
  Result<Page<StockCount>> list_stock_counts(const auth::Principal& p, const ListFilter& f, PageRequest page);

  // ---- dishes and menus (§6.2.1): nutrition per portion entered with the dish; a menu sums
  // its dishes' nutrition and allergens. A menu's dishes are the unit's own (kInvalid
  // "dish_ids[i]" otherwise).
  Result<Dish> create_dish(const auth::Principal& p, const DishInput& in);
  Result<Dish> get_dish(const auth::Principal& p, std::string_view id);
  Result<Page<Dish>> list_dishes(const auth::Principal& p, const ListFilter& f, PageRequest page);
  Result<Menu> create_menu(const auth::Principal& p, const MenuInput& in);
  Result<Menu> get_menu(const auth::Principal& p, std::string_view id);
  Result<Page<Menu>> list_menus(const auth::Principal& p, const MenuFilter& f, PageRequest page);
  // The public page of a client unit (no caller; the handler resolved its disclosure token):
  // today's menus kept for it (client_unit_id) or by it, each dish with its nutrition,
  // allergens and the origins of its ingredients (today's meal batch of the dish → stock
  // batches → suppliers), people's names masked.
  Result<json::object> public_menu(const std::string& unit_id);

  // ---- delivery tracks (§6.3): a dispatched trip's route corridor and food temperature
  // range; positions and temperatures from the vehicle, each judged off the route (farther
  // than the corridor from the polyline) or out of range. kConflict "already_delivered" once
  // handed over; a point before the dispatch (less an hour) or in the future is kInvalid.
  Result<json::object> set_route(const auth::Principal& p, std::string_view trip_id, const RouteInput& in);
  Result<json::object> add_track(const auth::Principal& p, std::string_view trip_id, const std::vector<TrackPoint>& in);
  Result<json::object> get_track(const auth::Principal& p, std::string_view trip_id);
  // Binds the vehicle's temperature/GPS device (vehicle_device_id: a device of the trip's unit;
  // kInvalid otherwise) to a dispatched trip, or unbinds it (nullopt). kConflict
  // "device_busy" when the device is on another dispatched trip (create_delivery checks the
  // same for a trip dispatched with its device).
  Result<json::object> bind_vehicle_device(const auth::Principal& p, std::string_view trip_id,
                                           const std::optional<std::string>& device_id);
  // Ingest's hook (inside its transaction): a reading with a position (lat/lng, or
  // latitude/longitude) from a device bound to a dispatched trip becomes a track point of the
  // trip with its temperature_c and humidity_pct, judged like add_track's. Returns the points
  // added (0 or 1). Throws storage::DbError only.
  std::int64_t track_from_reading(storage::Connection& c, const std::string& device_id, TimeMs at,
                                  const std::vector<std::pair<std::string, double>>& metrics) const;

  // ---- what needs attention today: stock expired or expiring, suppliers' qualifications,
  // samples kept out of range, samples of meal batches missing.
  Result<Page<Warning>> list_warnings(const auth::Principal& p, const ListFilter& f, PageRequest page);

  int today() const;
  ExpiryStatus expiry_status(int expires_on, int today) const;
  const OperationsConfig& config() const { return config_; }

 private:
  storage::Database& db_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
  OperationsConfig config_;
  Ledgers* ledgers_;
};

}  // namespace mingchu::operations
