// GB/T 28181 (docs/gb28181.md, API.md "GB/T 28181"): the devices that registered over SIP, binding
// a device to a unit (its channels become the unit's cameras), and PTZ of a GB camera.
#include "core/ids.hpp"
#include "core/time.hpp"
#include "gb/gb_service.hpp"
#include "http/handler_util.hpp"
#include "video/video_service.hpp"

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

// A required RFC 3339 time: from the query string (body == nullptr) or the JSON body.
Result<TimeMs> time_field(const ApiContext& ctx, const Request& req, const json::object* body, const char* key) {
  if (!body) {
    auto t = query_time(ctx, req, key);
    if (!t) return t.error();
    if (!*t) {
      return Error::invalid(key, "missing_field", std::string("query parameter '") + key + "' is required (RFC 3339)");
    }
    return **t;
  }
  auto it = body->find(key);
  if (it == body->end() || !it->value().is_string()) {
    return Error::invalid(key, "missing_field", std::string("field '") + key + "' is required (RFC 3339)");
  }
  auto t = parse_rfc3339(std::string(it->value().as_string()));
  if (!t) return Error::invalid(key, "invalid_time", std::string("field '") + key + "' is not an RFC 3339 time");
  return *t;
}

std::string playback_tag(const std::string& session_id) { return "pb-" + session_id; }

}  // namespace

void add_gb_routes(Router& r, ApiContext& ctx) {
  if (!ctx.gb) return;  // like video: the routes exist on the nodes that run GB/T 28181
  r.add("GET", "/api/v1/gb/devices", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(pg, page_params(req));
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
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(body, read_json(req));
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
    MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
    return Response::json(200, ctx.gb->status());
  });

  // ---- the device's own recordings and their playback (docs/gb28181.md "Playback")
  r.add_async("GET", "/api/v1/cameras/{id}/device-recordings",
              [&ctx](Request& req, std::function<void(Response)> done) {
                auto who = authenticate(ctx, req);
                if (!who) return done(Response::error(who.error()));
                auto id = path_id(req);
                if (!id) return done(Response::error(id.error()));
                auto from = time_field(ctx, req, nullptr, "from");
                if (!from) return done(Response::error(from.error()));
                auto to = time_field(ctx, req, nullptr, "to");
                if (!to) return done(Response::error(to.error()));
                ctx.gb->record_info(*who, *id, *from, *to, [done](Result<json::object> r) { done(respond(r)); });
              });

  r.add_async("POST", "/api/v1/cameras/{id}/device-playback", [&ctx](Request& req, std::function<void(Response)> done) {
    auto w = begin_object_write(ctx, req);
    if (!w) return done(Response::error(w.error()));
    auto from = time_field(ctx, req, &w->body, "from");
    if (!from) return done(Response::error(from.error()));
    auto to = time_field(ctx, req, &w->body, "to");
    if (!to) return done(Response::error(to.error()));
    if (!ctx.video) {
      return done(Response::error(
          Error{ErrorKind::kUnavailable, "video_disabled", "this node has no media core (video.enabled)", {}}));
    }
    auto pb = ctx.gb->create_playback(w->who, w->id, *from, *to);
    if (!pb) return done(Response::error(pb.error()));
    std::string sid(pb->at("session_id").as_string());
    ctx.video->open_session(w->id, playback_tag(sid), gb::GbService::source_url(sid),
                            [&ctx, done, sid, info = *pb](Result<video::LiveUrls> u) mutable {
                              if (!u) {
                                ctx.gb->end_playback(sid, u.error().message);
                                return done(Response::error(u.error()));
                              }
                              info["state"] = "playing";
                              info["hls_url"] = u->hls_url;
                              info["flv_url"] = u->flv_url;
                              info["codec"] = u->codec;
                              info["expires_at"] = format_rfc3339(u->expires_at, ctx.options.utc_offset_minutes);
                              done(Response::json(200, std::move(info)));
                            });
  });

  r.add("GET", "/api/v1/cameras/{id}/device-playback/{session_id}", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return respond(ctx.gb->playback_status(*who, *id, req.param("session_id")));
    });
  });

  r.add_async("POST", "/api/v1/cameras/{id}/device-playback/{session_id}/control",
              [&ctx](Request& req, std::function<void(Response)> done) {
                auto w = begin_object_write(ctx, req);
                if (!w) return done(Response::error(w.error()));
                auto a = w->body.find("action");
                if (a == w->body.end() || !a->value().is_string()) {
                  return done(Response::error(Error::invalid("action", "missing_field", "field 'action' is required")));
                }
                std::string action(a->value().as_string());
                TimeMs at = 0;
                double scale = 1;
                if (action == "seek") {
                  auto t = time_field(ctx, req, &w->body, "at");
                  if (!t) return done(Response::error(t.error()));
                  at = *t;
                } else if (action == "speed") {
                  auto sc = w->body.find("scale");
                  bool ok = sc != w->body.end() && sc->value().is_number();
                  if (ok) scale = sc->value().to_number<double>();
                  if (!ok || !(scale == 0.25 || scale == 0.5 || scale == 1 || scale == 2 || scale == 4 || scale == 8)) {
                    return done(Response::error(
                        Error::invalid("scale", "invalid_value", "field 'scale' must be 0.25, 0.5, 1, 2, 4 or 8")));
                  }
                }
                ctx.gb->playback_control(w->who, w->id, req.param("session_id"), action, at, scale,
                                         [done](Result<json::object> r) { done(respond(r)); });
              });

  r.add("DELETE", "/api/v1/cameras/{id}/device-playback/{session_id}", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      std::string sid = req.param("session_id");
      MC_TRY(pb, ctx.gb->playback_status(*who, *id, sid));
      if (ctx.video) ctx.video->stop_session(*id, playback_tag(sid));  // its source sends the BYE
      ctx.gb->end_playback(sid, "stopped");
      return respond(ctx.gb->playback_status(*who, *id, sid));
    });
  });
}

}  // namespace mingchu::http
