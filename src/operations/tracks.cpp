// Delivery tracks (配送轨迹, §6.3): a trip's route corridor (geofence) and food temperature
// range, and the vehicle's positions and temperatures judged against them.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "operations/internal.hpp"
#include "operations/operations.hpp"

namespace mingchu::operations {

namespace {

constexpr TimeMs kFutureSlackMs = 10 * kMinuteMs;
constexpr double kPi = 3.14159265358979323846;

// Metres from (lat, lng) to the polyline, in a local equirectangular frame around the point
// (good to well under 1 % over a city).
double distance_to_route(double lat, double lng, const std::vector<std::pair<double, double>>& route) {
  const double kx = 111320.0 * std::cos(lat * kPi / 180.0), ky = 110540.0;
  double best = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i + 1 < route.size(); ++i) {
    double ax = (route[i].second - lng) * kx, ay = (route[i].first - lat) * ky;
    double bx = (route[i + 1].second - lng) * kx, by = (route[i + 1].first - lat) * ky;
    double dx = bx - ax, dy = by - ay;
    double len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? std::clamp(-(ax * dx + ay * dy) / len2, 0.0, 1.0) : 0.0;
    double px = ax + t * dx, py = ay + t * dy;
    best = std::min(best, std::sqrt(px * px + py * py));
  }
  return best;
}

struct Route {
  std::vector<std::pair<double, double>> points;
  double corridor_m = 0;
  std::optional<double> temp_min_c, temp_max_c;
};

std::optional<Route> route_from(const std::string& text) {
  auto o = parse_object(text);
  if (!o) return std::nullopt;
  Route r;
  for (const auto& p : o->at("points").as_array()) {
    const auto& a = p.as_array();
    r.points.emplace_back(a[0].to_number<double>(), a[1].to_number<double>());
  }
  r.corridor_m = o->at("corridor_m").to_number<double>();
  if (auto it = o->find("temp_min_c"); it != o->end() && it->value().is_number()) {
    r.temp_min_c = it->value().to_number<double>();
  }
  if (auto it = o->find("temp_max_c"); it != o->end() && it->value().is_number()) {
    r.temp_max_c = it->value().to_number<double>();
  }
  return r;
}

json::object route_json(const Route& r) {
  json::array pts;
  for (const auto& [lat, lng] : r.points) pts.push_back(json::array{lat, lng});
  json::object o{{"points", std::move(pts)}, {"corridor_m", r.corridor_m}};
  o["temp_min_c"] = r.temp_min_c ? json::value(*r.temp_min_c) : json::value(nullptr);
  o["temp_max_c"] = r.temp_max_c ? json::value(*r.temp_max_c) : json::value(nullptr);
  return o;
}

struct Trip {
  std::string id, unit_id, jpath, state;
  TimeMs dispatched_at = 0;
  std::optional<std::string> route, device_id;
};

constexpr const char* kSelectTrip =
    "SELECT id, unit_id, jpath, state, dispatched_at, route, vehicle_device_id FROM op_deliveries";

Trip trip_from_row(const storage::Row& r) {
  return Trip{r.text(0), r.text(1), r.text(2), r.text(3), r.integer(4), r.opt_text(5), r.opt_text(6)};
}

Result<Trip> trip_in_scope(storage::Connection& c, const auth::Principal& p, std::string_view id, bool lock) {
  if (!plausible_id(id)) return Error::not_found("delivery");
  storage::Rows r =
      c.query(std::string(kSelectTrip) + " WHERE id = $1" + std::string(lock ? registry::detail::for_update(c) : ""),
              {std::string(id)});
  if (r.empty() || !p.covers(r[0].text(2), r[0].text(1))) return Error::not_found("delivery");
  return trip_from_row(r[0]);
}

// Judges a point against the trip's route and stores it; a point at a time already recorded
// replaces it (a vehicle resending its buffer).
void store_point(storage::Connection& c, const Trip& trip, const std::optional<Route>& route, TrackPoint& t) {
  if (route) {
    t.off_route = distance_to_route(t.lat, t.lng, route->points) > route->corridor_m;
    if (t.temperature_c) {
      t.out_of_range = (route->temp_min_c && *t.temperature_c < *route->temp_min_c) ||
                       (route->temp_max_c && *t.temperature_c > *route->temp_max_c);
    }
  }
  c.exec("DELETE FROM op_delivery_points WHERE delivery_id = $1 AND at = $2", {trip.id, t.at});
  c.exec(
      "INSERT INTO op_delivery_points (delivery_id, unit_id, jpath, at, lat, lng, temperature_c, humidity_pct, "
      "off_route, out_of_range) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
      {trip.id, trip.unit_id, trip.jpath, t.at, t.lat, t.lng, detail::nullable_real(t.temperature_c),
       detail::nullable_real(t.humidity_pct), std::int64_t{t.off_route}, std::int64_t{t.out_of_range}});
}

}  // namespace

Result<json::object> Operations::set_route(const auth::Principal& p, std::string_view trip_id, const RouteInput& in) {
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto trip = trip_in_scope(*c, p, trip_id, true);
  if (!trip) return trip.error();
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  if (trip->state != "dispatched") return Error::conflict("already_delivered", "this trip was already handed over");
  Route r{in.points, in.corridor_m, in.temp_min_c, in.temp_max_c};
  json::object rj = route_json(r);
  c->exec("UPDATE op_deliveries SET route = $2 WHERE id = $1", {trip->id, json::serialize(rj)});
  audit_.append(*c, auth::audit_entry(p, "delivery.route", "delivery:" + trip->id, "{}"));
  tx.commit();
  return json::object{{"delivery_id", trip->id}, {"route", std::move(rj)}};
}

Result<json::object> Operations::add_track(const auth::Principal& p, std::string_view trip_id,
                                           const std::vector<TrackPoint>& in) {
  const TimeMs now = clock_.now_ms();
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto trip = trip_in_scope(*c, p, trip_id, true);
  if (!trip) return trip.error();
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  if (trip->state != "dispatched") return Error::conflict("already_delivered", "this trip was already handed over");
  std::optional<Route> route = trip->route ? route_from(*trip->route) : std::nullopt;
  std::int64_t off = 0, out_of_range = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    TrackPoint t = in[i];
    std::string field = "points[" + std::to_string(i) + "].at";
    if (t.at > now + kFutureSlackMs)
      return Error::invalid(field, "in_future", "field '" + field + "' is in the future");
    if (t.at < trip->dispatched_at - kHourMs) {
      return Error::invalid(field, "before_dispatch", "field '" + field + "' is before the dispatch");
    }
    store_point(*c, *trip, route, t);
    off += t.off_route;
    out_of_range += t.out_of_range;
  }
  tx.commit();
  return json::object{{"delivery_id", trip->id},
                      {"added", static_cast<std::int64_t>(in.size())},
                      {"off_route", off},
                      {"out_of_range", out_of_range}};
}

Result<json::object> Operations::get_track(const auth::Principal& p, std::string_view trip_id) {
  storage::Conn c = db_.acquire();
  auto trip = trip_in_scope(*c, p, trip_id, false);
  if (!trip) return trip.error();
  std::optional<Route> route = trip->route ? route_from(*trip->route) : std::nullopt;
  json::array pts;
  std::int64_t off = 0, oor = 0;
  for (const auto& r :
       c->query("SELECT at, lat, lng, temperature_c, humidity_pct, off_route, out_of_range FROM op_delivery_points "
                "WHERE delivery_id = $1 ORDER BY at LIMIT 5000",
                {trip->id})) {
    off += r.integer(5);
    oor += r.integer(6);
    pts.push_back(json::object{{"at", format_rfc3339(r.integer(0), config_.utc_offset_minutes)},
                               {"lat", r.real(1)},
                               {"lng", r.real(2)},
                               {"temperature_c", r.is_null(3) ? json::value(nullptr) : json::value(r.real(3))},
                               {"humidity_pct", r.is_null(4) ? json::value(nullptr) : json::value(r.real(4))},
                               {"off_route", r.boolean(5)},
                               {"out_of_range", r.boolean(6)}});
  }
  return json::object{{"delivery_id", trip->id},
                      {"vehicle_device_id", trip->device_id ? json::value(*trip->device_id) : json::value(nullptr)},
                      {"route", route ? json::value(route_json(*route)) : json::value(nullptr)},
                      {"off_route", off},
                      {"out_of_range", oor},
                      {"points", std::move(pts)}};
}

Result<json::object> Operations::bind_vehicle_device(const auth::Principal& p, std::string_view trip_id,
                                                     const std::optional<std::string>& device_id) {
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto trip = trip_in_scope(*c, p, trip_id, true);
  if (!trip) return trip.error();
  if (!detail::keeps_ledgers(p)) return detail::read_only();
  if (trip->state != "dispatched") return Error::conflict("already_delivered", "this trip was already handed over");
  if (device_id) {
    if (auto st = detail::check_device(*c, "vehicle_device_id", *device_id, {trip->unit_id, trip->jpath, ""}); !st) {
      return st.error();
    }
    if (auto st = detail::vehicle_free(*c, *device_id, trip->id); !st) return st.error();
  }
  c->exec("UPDATE op_deliveries SET vehicle_device_id = $2 WHERE id = $1", {trip->id, detail::nullable(device_id)});
  json::object out{{"delivery_id", trip->id},
                   {"vehicle_device_id", device_id ? json::value(*device_id) : json::value(nullptr)}};
  audit_.append(*c, auth::audit_entry(p, "delivery.vehicle_device", "delivery:" + trip->id, json::serialize(out)));
  tx.commit();
  return out;
}

std::int64_t Operations::track_from_reading(storage::Connection& c, const std::string& device_id, TimeMs at,
                                            const std::vector<std::pair<std::string, double>>& metrics) const {
  std::optional<double> lat, lng, temp, humidity;
  for (const auto& [name, value] : metrics) {
    if (name == "lat" || name == "latitude") lat = value;
    if (name == "lng" || name == "lon" || name == "longitude") lng = value;
    if (name == "temperature_c") temp = value;
    if (name == "humidity_pct") humidity = value;
  }
  // a position is what makes a track point; a fridge's readings stop here without a query
  if (!lat || !lng || *lat < -90 || *lat > 90 || *lng < -180 || *lng > 180) return 0;
  storage::Rows r = c.query(std::string(kSelectTrip) + " WHERE vehicle_device_id = $1 AND state = 'dispatched'" +
                                registry::detail::for_update(c),
                            {device_id});
  if (r.empty()) return 0;
  Trip trip = trip_from_row(r[0]);
  if (at < trip.dispatched_at - kHourMs) return 0;  // the vehicle's previous trip
  std::optional<Route> route = trip.route ? route_from(*trip.route) : std::nullopt;
  TrackPoint t;
  t.at = at;
  t.lat = *lat;
  t.lng = *lng;
  t.temperature_c = temp;
  t.humidity_pct = humidity;
  store_point(c, trip, route, t);
  return 1;
}

}  // namespace mingchu::operations
