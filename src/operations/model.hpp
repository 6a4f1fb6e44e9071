// The operations vocabulary (group catering, 集体用餐配送单位 seed 001 §6): the ledgers a kitchen
// keeps from purchase to the meal, as plain structs, the typed inputs that create them, and
// list filters.
//
// Values only; shapes are checked in json_io.cpp and the rules that need the database, the
// clock or the caller in Operations. Times are epoch milliseconds; calendar dates (production,
// expiry, qualification expiry) are local day numbers since 1970-01-01 (core/time.hpp).
// Quantities are doubles rounded to three decimals at the edge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "registry/model.hpp"

namespace mingchu::operations {

using registry::Page;
using registry::PageRequest;

// A list's total is exact up to this many rows; beyond, it is this number and the answer says
// total_capped (counting every row of a city's year costs more than the page itself).
inline constexpr std::int64_t kListCountCap = 10000;

// Every list: the caller's scope, narrowed by unit or jurisdiction subtree and the record's
// time (from inclusive, to exclusive).
struct ListFilter {
  std::optional<std::string> unit_id;
  std::optional<std::string> jurisdiction_id;
  std::optional<TimeMs> from;
  std::optional<TimeMs> to;
};

// ---------------------------------------------------------------- 供应商 suppliers (§6.1.1)

struct Supplier {
  std::string id, unit_id, jpath;
  std::string name;
  std::string uscc;  // 统一社会信用代码
  std::optional<std::string> licence_number, address, contact_person, contact_phone;
  int qualification_expires_on = 0;   // 资质有效期
  std::vector<std::string> file_ids;  // licences and qualification images
  TimeMs at = 0, updated_at = 0;
};
struct SupplierInput {
  std::string unit_id, name, uscc;
  std::optional<std::string> licence_number, address, contact_person, contact_phone;
  int qualification_expires_on = 0;
  std::vector<std::string> file_ids;
};

// ---------------------------------------------------------------- 验收 acceptance (§6.1.2)

// A field of a delivery that does not match its purchase order: item, quantity (beyond the
// tolerance), unit_of_measure or supplier_id, with the ordered and the delivered value.
struct Mismatch {
  std::string field;
  json::value ordered, delivered;
};

struct Acceptance {
  std::string id, unit_id, jpath, supplier_id, supplier_name;
  std::string item;
  std::optional<std::string> spec;  // 规格
  double quantity = 0;
  std::string unit_of_measure;
  std::optional<std::string> batch_no;
  int produced_on = 0;
  int shelf_life_days = 0;
  int expires_on = 0;  // the last day the batch may be used: produced_on + shelf_life_days - 1
  bool sensory_ok = true;
  std::optional<std::string> sensory_note, inspector;
  std::vector<std::string> file_ids;  // 票证: certificates, inspection reports
  TimeMs at = 0;
  std::optional<std::string> return_note_id;  // set when the batch was refused
  std::optional<std::string> stock_batch_id;  // set once it is in stock
  // The purchase order (and its line) this delivery receives, and what differs from it.
  std::optional<std::string> purchase_order_id;
  std::optional<int> purchase_line;
  std::vector<Mismatch> mismatches;
};
struct AcceptanceInput {
  std::string unit_id, supplier_id, item, unit_of_measure;
  std::optional<std::string> spec, batch_no, sensory_note, inspector;
  double quantity = 0;
  int produced_on = 0;
  int shelf_life_days = 0;
  bool sensory_ok = true;
  std::vector<std::string> file_ids;
  std::optional<TimeMs> accepted_at;
  std::optional<std::string> purchase_order_id;
  std::optional<int> purchase_line;  // the order line's index; by default the line of the same item
};

// 退货单: made by the acceptance that refused the batch, never by hand.
struct ReturnNote {
  std::string id, unit_id, acceptance_id, supplier_id, supplier_name, item, unit_of_measure, reason;
  double quantity = 0;
  std::optional<std::string> batch_no;
  TimeMs at = 0;
};

// ---------------------------------------------------------------- 出入库 stock (§6.1.3)

enum class ExpiryStatus { kOk, kExpiring, kExpired };

struct StockBatch {
  std::string id, unit_id, jpath, acceptance_id, supplier_id, item, unit_of_measure;
  std::optional<std::string> spec, batch_no, location, handler;
  double quantity = 0, remaining = 0;
  int produced_on = 0, shelf_life_days = 0, expires_on = 0;
  TimeMs at = 0;  // 进货日期: when it went into stock
  // the supplier as §6.1.3.1 asks to record it
  std::string supplier_name;
  std::optional<std::string> supplier_address, supplier_contact_person, supplier_contact_phone;
  ExpiryStatus expiry = ExpiryStatus::kOk;  // on the caller's today
};
struct StockInInput {
  std::string acceptance_id;
  std::optional<std::string> location, handler;
};

struct StockOutLine {
  std::string batch_id;
  std::optional<std::string> batch_no;
  double quantity = 0;
  int expires_on = 0;
};
struct StockOut {
  std::string id, unit_id, jpath, item, unit_of_measure, department, receiver, handler;
  double quantity = 0;
  TimeMs at = 0;
  std::vector<StockOutLine> batches;
};
struct StockOutInput {
  std::string unit_id, item, department, receiver, handler;
  std::optional<std::string> unit_of_measure;
  double quantity = 0;
  std::optional<TimeMs> taken_at;
};
struct StockFilter : ListFilter {
  std::optional<int> expiring_within_days;  // only batches expiring by today + N (incl. expired)
  std::optional<std::string> item;
  bool include_empty = false;  // also batches used up
};

// ---------------------------------------------------------------- 留样 samples (§6.2.3)

struct Sample {
  std::string id, unit_id, jpath, dish, keeper;
  double weight_g = 0;
  std::optional<std::string> fridge_device_id, storage;
  std::optional<double> fridge_temp_c;
  TimeMs kept_at = 0, dispose_after = 0;
  std::optional<TimeMs> disposed_at;
  TimeMs at = 0;
};
struct SampleInput {
  std::string unit_id, dish, keeper;
  double weight_g = 0;
  std::optional<std::string> fridge_device_id, storage;
  std::optional<double> fridge_temp_c;
  TimeMs kept_at = 0, dispose_after = 0;
};

// ---------------------------------------------------------------- 配送 delivery (§6.3)

struct Delivery {
  std::string id, unit_id, jpath, client_name, destination, vehicle_plate, driver, state;  // dispatched|delivered
  std::optional<std::string> vehicle_device_id;
  std::int64_t containers = 0, portions = 0;
  TimeMs dispatched_at = 0;
  std::optional<TimeMs> expected_at, arrived_at;
  // 交付: signed by the receiving unit
  std::optional<std::string> handover_by, handover_place, handover_note, handover_signature_id;
  std::optional<std::int64_t> handover_portions;
  std::optional<double> handover_temp_c;
  TimeMs at = 0;
};
struct DeliveryInput {
  std::string unit_id, client_name, destination, vehicle_plate, driver;
  std::optional<std::string> vehicle_device_id;
  std::int64_t containers = 0, portions = 0;
  TimeMs dispatched_at = 0;
  std::optional<TimeMs> expected_at;
};
struct HandoverInput {
  std::string received_by, place;
  std::int64_t portions = 0;
  std::optional<double> temperature_c;
  std::optional<std::string> note, signature_file_id;
  std::optional<TimeMs> arrived_at;
};

// ---------------------------------------------------------------- 餐次批次 meal batches

struct MealBatch {
  std::string id, unit_id, jpath, dish, trace_code;
  std::vector<std::string> stock_out_ids;
  std::optional<std::string> sample_id, delivery_id;
  std::optional<std::int64_t> portions;
  TimeMs at = 0;
};
struct MealBatchInput {
  std::string unit_id, dish;
  std::vector<std::string> stock_out_ids;
  std::optional<std::string> sample_id, delivery_id;
  std::optional<std::int64_t> portions;
};

// ---------------------------------------------------------------- 采购 purchasing (§6.1.1)

// A line of a purchase order with the price it is bought at; previous_price is the item's
// last price at this unit, change_pct how far this one moved from it, price_jump when that is
// beyond the configured percentage.
struct PurchaseLine {
  std::string item, unit_of_measure;
  double quantity = 0, unit_price = 0;
  std::optional<double> previous_price, change_pct;
  bool price_jump = false;
  double received = 0;  // accepted against this line (refused batches not counted)
};
// requested → approved | rejected; approved → ordered → received (every line received
// within the tolerance).
struct PurchaseOrder {
  std::string id, unit_id, jpath, supplier_id, supplier_name, state, requested_by;
  std::optional<std::string> reason, decided_by, decision_note;
  std::optional<int> needed_on;
  double total_amount = 0;
  std::optional<TimeMs> decided_at, ordered_at, received_at;
  TimeMs at = 0;
  std::vector<PurchaseLine> lines;
};
struct PurchaseLineInput {
  std::string item, unit_of_measure;
  double quantity = 0, unit_price = 0;
};
struct PurchaseOrderInput {
  std::string unit_id, supplier_id, requested_by;
  std::optional<std::string> reason;
  std::optional<int> needed_on;
  std::vector<PurchaseLineInput> lines;
};
struct PurchaseDecisionInput {
  bool approved = false;
  std::string decided_by;
  std::optional<std::string> note;
};
// One price paid: a line of an order that was not rejected.
struct PricePoint {
  std::string unit_id, order_id, supplier_id, supplier_name, item, unit_of_measure, state;
  double unit_price = 0;
  std::optional<double> previous_price, change_pct;
  bool price_jump = false;
  TimeMs at = 0;
};
struct PriceFilter : ListFilter {
  std::optional<std::string> item;
};

// ---------------------------------------------------------------- 盘点 stock counts (§6.1.3)

// A line counts an item (all its batches; recorded only) or one batch (batch_id; adjusted
// when the count is confirmed). version is the batch's when it was counted.
struct StockCountLine {
  std::string item, unit_of_measure;
  double book_quantity = 0, counted_quantity = 0, difference = 0;  // difference = counted − book
  std::optional<std::string> batch_id, batch_no;
  std::int64_t version = 0;
};
// recorded (item lines: the difference is recorded only) | open (batch lines, not yet
// applied) → confirmed (the batches were set to the counted quantities).
struct StockCount {
  std::string id, unit_id, jpath, counted_by, state;
  std::optional<std::string> note, confirmed_by;
  std::vector<StockCountLine> lines;
  std::int64_t differences = 0;  // lines whose counted quantity is not the book's
  TimeMs at = 0;
  std::optional<TimeMs> confirmed_at;
};
struct StockCountLineInput {
  std::string item;  // or batch_id
  double counted_quantity = 0;
  std::optional<std::string> batch_id;
};
struct StockCountConfirmInput {
  std::string confirmed_by;
};
// A change of a batch's remaining quantity other than a stock-out: count_adjustment.
struct StockMovement {
  std::string id, unit_id, batch_id, kind;
  std::optional<std::string> ref_id, item, batch_no;
  double quantity = 0, remaining_after = 0;  // quantity: the change, signed
  TimeMs at = 0;
};
struct StockCountInput {
  std::string unit_id, counted_by;
  std::optional<std::string> note;
  std::optional<TimeMs> counted_at;
  std::vector<StockCountLineInput> lines;
};

// ---------------------------------------------------------------- 菜品与食谱 dishes and menus (§6.2.1)

// Nutrition per portion as the unit enters it (no food-composition table ships with MingChu:
// none under a licence that allows it is packaged in Debian or npm).
struct Nutrition {
  double energy_kcal = 0, protein_g = 0, fat_g = 0, carbohydrate_g = 0, sodium_mg = 0;
};
struct DishIngredient {
  std::string item;
  double grams = 0;
};
// GB 7718-2011 4.4.3.2: the allergen groups a label names.
inline constexpr const char* kAllergens[] = {"gluten", "crustacean", "fish", "egg",
                                             "peanut", "soy",        "milk", "tree_nut"};
struct Dish {
  std::string id, unit_id, jpath, name;
  std::vector<DishIngredient> ingredients;
  Nutrition nutrition;
  std::vector<std::string> allergens;
  TimeMs at = 0;
};
struct DishInput {
  std::string unit_id, name;
  std::vector<DishIngredient> ingredients;
  Nutrition nutrition;
  std::vector<std::string> allergens;
};
// A meal of a day for a client unit; nutrition and allergens are its dishes' summed up.
struct Menu {
  std::string id, unit_id, jpath, client_name, meal;  // breakfast|lunch|dinner|snack
  std::optional<std::string> client_unit_id;          // the client unit's public page shows it
  int day = 0;
  std::vector<Dish> dishes;
  Nutrition nutrition;
  std::vector<std::string> allergens;
  TimeMs at = 0;
};
struct MenuInput {
  std::string unit_id, client_name, meal;
  std::optional<std::string> client_unit_id;
  int day = 0;
  std::vector<std::string> dish_ids;
};
struct MenuFilter : ListFilter {
  std::optional<int> day;
};

// ---------------------------------------------------------------- 配送轨迹 delivery tracks (§6.3)

// A trip's geofence: the planned route as a polyline, how far from it the vehicle may be, and
// the temperature the food must keep on the way.
struct RouteInput {
  std::vector<std::pair<double, double>> points;  // (lat, lng)
  double corridor_m = 500;
  std::optional<double> temp_min_c, temp_max_c;
};
struct TrackPoint {
  TimeMs at = 0;
  double lat = 0, lng = 0;
  std::optional<double> temperature_c, humidity_pct;
  bool off_route = false, out_of_range = false;
};

// ---------------------------------------------------------------- warnings

// One thing in the ledgers that needs attention today (临期/过期, 资质到期, 留样缺失…).
struct Warning {
  std::string unit_id, kind, subject_id, message;
  std::optional<int> due_on;
  TimeMs at = 0;
};

}  // namespace mingchu::operations
