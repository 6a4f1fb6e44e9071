// JSON at the edge of operations: request bodies into typed inputs (every failure names its
// field; absurd numbers and malformed dates are kInvalid, unknown fields too), and records
// into answers. Pure functions; callable from any thread.
#pragma once

#include "core/json.hpp"
#include "core/result.hpp"
#include "operations/model.hpp"

namespace mingchu::operations {

Result<SupplierInput> parse_supplier(const json::object& body);
Result<AcceptanceInput> parse_acceptance(const json::object& body);
Result<StockInInput> parse_stock_in(const json::object& body);
Result<StockOutInput> parse_stock_out(const json::object& body);
Result<SampleInput> parse_sample(const json::object& body);
Result<DeliveryInput> parse_delivery(const json::object& body);
Result<HandoverInput> parse_handover(const json::object& body);
Result<MealBatchInput> parse_meal_batch(const json::object& body);

Result<PurchaseOrderInput> parse_purchase_order(const json::object& body);
Result<PurchaseDecisionInput> parse_purchase_decision(const json::object& body);
Result<StockCountInput> parse_stock_count(const json::object& body);
Result<StockCountConfirmInput> parse_stock_count_confirm(const json::object& body);

Result<DishInput> parse_dish(const json::object& body);
Result<RouteInput> parse_route(const json::object& body);
Result<std::vector<TrackPoint>> parse_track(const json::object& body);
// {vehicle_device_id: "dev_…" | null}: the vehicle device to bind, or none.
Result<std::optional<std::string>> parse_vehicle_device(const json::object& body);
Result<MenuInput> parse_menu(const json::object& body);

std::string_view expiry_name(ExpiryStatus s);

// today: the local day for the qualification status of a supplier.
json::object to_json(const Supplier& s, int utc_offset_minutes, int today, int expiring_days);
json::object to_json(const Acceptance& a, int utc_offset_minutes);
json::object to_json(const ReturnNote& n, int utc_offset_minutes);
json::object to_json(const StockBatch& b, int utc_offset_minutes);
json::object to_json(const StockOut& o, int utc_offset_minutes);
json::object to_json(const Sample& s, int utc_offset_minutes);
json::object to_json(const Delivery& d, int utc_offset_minutes);
json::object to_json(const MealBatch& m, int utc_offset_minutes);
json::object to_json(const Warning& w, int utc_offset_minutes);
json::object to_json(const PurchaseOrder& o, int utc_offset_minutes);
json::object to_json(const PricePoint& p, int utc_offset_minutes);
json::object to_json(const StockCount& s, int utc_offset_minutes);
json::object to_json(const StockMovement& m, int utc_offset_minutes);
json::array to_json(const std::vector<Mismatch>& m);
json::object to_json(const Nutrition& n);
json::object to_json(const Dish& d, int utc_offset_minutes);
json::object to_json(const Menu& m, int utc_offset_minutes);

}  // namespace mingchu::operations
