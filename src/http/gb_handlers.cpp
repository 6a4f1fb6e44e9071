// GB/T 28181 (docs/gb28181.md, API.md "GB/T 28181"): the devices that registered over SIP, binding
// a device to a unit (its channels become the unit's cameras), and PTZ of a GB camera.
#include "core/ids.hpp"
#include "gb/gb_service.hpp"
#include "http/handler_util.hpp"

namespace mingchu::http {
namespace {

// An optional integer field within [lo, hi].
Result<int> int_field(const json::object& body, const char* key, int dflt, int lo, int hi) {
  auto it = body.find(key);
  if (it == body.end() || it->value().is_null()) return dflt;
  if (!it->value().is_int64() || it->value().as_int64() < lo || it->value().as_int64() > hi) {
    return Error::invalid(
        key, "invalid_value",
        std::string("field '") + key + "' must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return static_cast<int>(it->value().as_int64());
}

}  // namespace

void add_gb_routes(Router& r, ApiContext& ctx) {
  if (!ctx.gb) return;  // like video: the routes exist on the nodes that run GB/T 28181
  r.add("GET", "/api/v1/gb/devices", [&ctx](Request& req) {
    return guarded([&] {
      auto who = authenticate(ctx, req);
      if (!who) return Response::error(who.error());
      auto pg = page_params(req);
      if (!pg) return Response::error(pg.error());
      std::string state(req.query_param("state").value_or(""));
      if (!state.empty() && state != "pending" && state != "bound") {
        return Response::error(
            Error::invalid("state", "invalid_value", "query parameter 'state' must be pending or bound"));
      }
      return respond(ctx.gb->list_devices(*who, state, pg->page, pg->page_size));
    });
  });

  r.add("POST", "/api/v1/gb/devices/{device_id}/bind", [&ctx](Request& req) {
    return guarded([&] {
      auto who = authenticate(ctx, req);
      if (!who) return Response::error(who.error());
      auto body = read_json(req);
      if (!body) return Response::error(body.error());
      auto it = body->find("unit_id");
      if (it == body->end() || !it->value().is_string()) {
        return Response::error(Error::invalid("unit_id", "missing_field", "field 'unit_id' is required"));
      }
      std::string unit(it->value().as_string());
      if (!plausible_id(unit))
        return Response::error(Error::invalid("unit_id", "invalid_id", "field 'unit_id' is not an id"));
      return respond(ctx.gb->bind(*who, req.param("device_id"), unit));
    });
  });

  r.add_async("POST", "/api/v1/cameras/{id}/ptz", [&ctx](Request& req, std::function<void(Response)> done) {
    auto w = begin_object_write(ctx, req);
    if (!w) return done(Response::error(w.error()));
    auto a = w->body.find("action");
    if (a == w->body.end() || !a->value().is_string()) {
      return done(Response::error(Error::invalid("action", "missing_field", "field 'action' is required")));
    }
    std::string action(a->value().as_string());
    auto speed = int_field(w->body, "speed", 128, 0, 255);
    if (!speed) return done(Response::error(speed.error()));
    bool preset_action = action == "preset_set" || action == "preset_call";
    auto preset = int_field(w->body, "preset", preset_action ? -1 : 0, 1, 255);
    if (!preset) return done(Response::error(preset.error()));
    if (preset_action && *preset < 0) {
      return done(Response::error(Error::invalid("preset", "missing_field", "field 'preset' (1-255) is required")));
    }
    ctx.gb->ptz(w->who, w->id, action, *speed, std::max(*preset, 0), [done, action](Status st) {
      if (!st) return done(Response::error(st.error()));
      done(Response::json(200, json::object{{"ok", true}, {"action", action}}));
    });
  });

  r.add("GET", "/api/v1/gb/status", [&ctx](Request& req) {
    auto who = authenticate_role(ctx, req, auth::Role::kPlatformAdmin);
    if (!who) return Response::error(who.error());
    return Response::json(200, ctx.gb->status());
  });
}

}  // namespace mingchu::http
