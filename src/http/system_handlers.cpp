// Liveness, metrics, the OpenAPI document and the test-only manual clock.
#include <fstream>
#include <sstream>

#include "auth/principal.hpp"
#include "core/net.hpp"
#include "crypto/sm3.hpp"
#include "http/handler_util.hpp"
#include "http/security_headers.hpp"
#include "storage/database.hpp"

namespace mingchu::http {
namespace {

// One line of documentation per route; the OpenAPI document is generated from the router
// so it cannot drift from what is served.
std::string summary_of(const std::string& method, const std::string& pattern) {
  static const std::vector<std::tuple<const char*, const char*, const char*>> kDocs = {
      {"POST", "/api/v1/auth/login", "Log in with user name and password; returns a bearer token"},
      {"POST", "/api/v1/auth/logout", "End the current session"},
      {"GET", "/api/v1/me", "The calling user"},
      {"POST", "/api/v1/auth/password", "Change the caller's password (policy enforced)"},
      {"GET", "/api/v1/users", "Users inside the caller's scope"},
      {"POST", "/api/v1/users", "Create a user inside the caller's scope, never with a stronger role"},
      {"GET", "/api/v1/api-keys", "API keys created by the caller"},
      {"POST", "/api/v1/api-keys", "Create an API key with an explicit scope, permissions (ingest, read, write) and optionally the resources (collections such as alerts, units) it may use"},
      {"DELETE", "/api/v1/api-keys/{id}", "Revoke an API key"},
      {"POST", "/api/v1/auth/tickets", "A single-use, 60-second ticket for the SSE stream or media URLs"},
      {"PATCH", "/api/v1/users/{id}", "Change a user's name, role, scope or disabled flag (ends their sessions)"},
      {"POST", "/api/v1/users/{id}/unlock", "Lift a user's login locks from every source"},
      {"GET", "/api/v1/audit", "The audit log (platform admins)"},
      {"GET", "/api/v1/audit/verify", "Recompute the SM3 hash chain of the audit log"},
      {"GET", "/api/v1/jurisdictions", "Jurisdiction tree nodes visible to the caller"},
      {"POST", "/api/v1/jurisdictions", "Create a jurisdiction node"},
      {"GET", "/api/v1/units", "Catering units in scope"},
      {"POST", "/api/v1/units", "Create a catering unit (archive)"},
      {"GET", "/api/v1/cameras", "Cameras in scope"},
      {"GET", "/api/v1/staff", "Staff in scope (id numbers and phones masked)"},
      {"GET", "/api/v1/health-certs", "Health certificates by status: expiring, expired, valid"},
      {"POST", "/api/v1/files", "Upload an image or PDF (multipart field 'file')"},
      {"GET", "/api/v1/files/{id}", "Download a file in scope"},
      {"GET", "/api/v1/units/{id}", "A catering unit in scope"},
      {"PATCH", "/api/v1/units/{id}", "Update a catering unit's archive"},
      {"DELETE", "/api/v1/units/{id}", "Close a catering unit (kept, no longer live)"},
      {"GET", "/api/v1/units/{id}/qrcode.png", "The QR code of the unit's public page"},
      {"POST", "/api/v1/cameras", "Register a camera of a unit"},
      {"GET", "/api/v1/cameras/{id}", "A camera in scope"},
      {"PATCH", "/api/v1/cameras/{id}", "Update a camera"},
      {"DELETE", "/api/v1/cameras/{id}", "Remove a camera"},
      {"POST", "/api/v1/staff", "Add a staff member (id number and phone stored SM4-GCM encrypted)"},
      {"GET", "/api/v1/staff/{id}", "A staff member in scope (masked)"},
      {"PATCH", "/api/v1/staff/{id}", "Update a staff member or their health certificate"},
      {"DELETE", "/api/v1/staff/{id}", "Remove a staff member"},
      {"GET", "/api/v1/jurisdictions/{id}", "A jurisdiction node"},
      {"PATCH", "/api/v1/jurisdictions/{id}", "Rename a jurisdiction node"},
      {"DELETE", "/api/v1/jurisdictions/{id}", "Remove an empty jurisdiction node"},
      {"GET", "/api/v1/users/{id}", "A user inside the caller's scope"},
      {"POST", "/api/v1/ingest/alerts",
       "An alert event, or {events: [...]} up to 1000; 202 {alert_id, merged} only after it is stored"},
      {"GET", "/api/v1/ingest/alerts/{event_id}", "The stored answer to an event id this sender sent"},
      {"GET", "/api/v1/ingest/alerts", "The stored answer to ?event_id= (ids with '/')"},
      {"POST", "/api/v1/ingest/heartbeats", "A camera or device is alive; silence raises camera_offline"},
      {"POST", "/api/v1/ingest/readings", "Sensor readings, checked against threshold rules"},
      {"GET", "/api/v1/devices", "IoT devices in scope"},
      {"POST", "/api/v1/devices", "Register an IoT device with threshold rules"},
      {"GET", "/api/v1/devices/{id}", "A device in scope"},
      {"PATCH", "/api/v1/devices/{id}", "Update a device or its threshold rules"},
      {"DELETE", "/api/v1/devices/{id}", "Remove a device"},
      {"GET", "/api/v1/alert-types", "The alert taxonomy in force, with risk classes"},
      {"GET", "/api/v1/alerts", "Alerts in scope, filtered by jurisdiction, unit, camera, type, class, state, card, time"},
      {"GET", "/api/v1/alerts/{id}", "An alert with its timeline, rectifications and enforcement documents"},
      {"POST", "/api/v1/alerts/{id}/rectifications", "Merchant: submit a rectification (text and photos)"},
      {"POST", "/api/v1/alerts/{id}/review", "Regulator: approve (closed) or reject (back to open)"},
      {"POST", "/api/v1/alerts/{id}/dismiss", "Regulator: dismiss as a false positive (kept as a label)"},
      {"POST", "/api/v1/alerts/{id}/documents", "Regulator: attach an enforcement document (三书一函)"},
      {"GET", "/api/v1/labels/false-positives", "Dismissed alerts with their snapshots, for model training"},
      {"GET", "/api/v1/notifications", "The caller's inbox (dual push)"},
      {"POST", "/api/v1/notifications/{id}/read", "Mark a notification read"},
      {"GET", "/api/v1/stream", "Server-Sent Events: alert.created, alert.updated, notification in scope"},
      {"GET", "/api/v1/webhooks", "Outbound webhook subscriptions"},
      {"POST", "/api/v1/webhooks", "Subscribe a URL to alert events (HMAC-SHA256 signed)"},
      {"GET", "/api/v1/webhooks/{id}", "A webhook subscription"},
      {"DELETE", "/api/v1/webhooks/{id}", "Remove a webhook subscription"},
      {"GET", "/api/v1/webhooks/{id}/deliveries", "Deliveries of one webhook, with attempts and errors"},
      {"GET", "/api/v1/deliveries", "Deliveries of the outbox, e.g. the dead-lettered ones"},
      {"POST", "/api/v1/deliveries/{id}/retry", "Retry a dead-lettered delivery"},
      {"GET", "/api/v1/stats/overview", "Alert statistics over the caller's scope and a time range"},
      {"GET", "/api/v1/complaints", "Public complaints reaching the caller's scope"},
      {"POST", "/api/v1/complaints/{id}/handled", "Mark a complaint handled"},
      {"GET", "/api/v1/config/ui", "Map tiles and other console settings"},
      {"POST", "/api/v1/admin/clock", "Advance the manual clock (only with --manual-clock, loopback only)"},
      {"POST", "/api/v1/admin/scheduler/run", "Run the scheduler's due work now"},
      {"GET", "/public/units/{token}", "A unit's public disclosure page (HTML, or JSON with Accept)"},
      {"GET", "/public/units/{token}/files/{id}", "A unit's public licence or storefront image"},
      {"POST", "/public/units/{token}/complaints", "A consumer complaint about a unit (rate-limited)"},
      {"POST", "/api/v1/cameras/{id}/live", "Live HLS and HTTP-FLV URLs of a camera (signed, expiring)"},
      {"GET", "/api/v1/public/units/{token}/cameras/{id}/live", "Live URLs of a unit's public camera, no login"},
      {"GET", "/api/v1/cameras/{id}/snapshot.jpg", "A fresh frame of the camera as JPEG"},
      {"GET", "/api/v1/cameras/{id}/recordings", "Recorded spans, gaps and alerts of a camera in a time range"},
      {"POST", "/api/v1/cameras/{id}/playback", "A seekable HLS playlist URL of a recorded range"},
      {"GET", "/api/v1/cameras/{id}/clip.mp4", "An MP4 of a recorded range, with X-Content-SM3"},
      {"GET", "/api/v1/video/status", "This node's streams, viewers, bytes and recording disk (admins)"},
      {"GET", "/api/v1/vision/status", "The algorithm server's cameras, frames analysed, detections and over-budget frames (admins)"},
      {"GET", "/api/v1/vision/models", "Detection models: the shipped COCO model and uploaded custom ones"},
      {"POST", "/api/v1/vision/models", "Upload a custom model (multipart: ONNX + class-map TOML); refused with the reason when it cannot load"},
      {"GET", "/api/v1/vision/models/{id}", "One detection model with its labels and SHA-256"},
      {"DELETE", "/api/v1/vision/models/{id}", "Delete an uploaded model"},
      {"GET", "/api/v1/vision/models/{id}/feedback", "A model's precision per day from reviewed alerts (approved / dismissed)"},
      {"POST", "/api/v1/vision/models/{id}/evaluations", "Record a model's evaluator figures (the JSON of `mingchu vision eval --json`)"},
      {"GET", "/api/v1/vision/models/{id}/file", "An uploaded model's ONNX file (for remote vision nodes)"},
      {"GET", "/api/v1/vision/models/{id}/classmap", "An uploaded model's class map (TOML)"},
      {"GET", "/api/v1/units/{id}/roster", "A unit's staff roster: shifts (weekdays, local times) and the staff on them"},
      {"PUT", "/api/v1/units/{id}/roster", "Replace a unit's staff roster (stranger alerts count people against it)"},
      {"GET", "/api/v1/vision/samples", "Reviewed vision alerts as a YOLO data set (zip: images, labels, classes, manifest with SHA-256)"},
      {"GET", "/api/v1/cameras/{id}/ai", "A camera's AI settings: models, alert types with score, zones and schedule"},
      {"PATCH", "/api/v1/cameras/{id}/ai", "Change a camera's AI settings, merged per alert type"},
      {"GET", "/api/v1/gb/devices", "GB/T 28181 devices that registered: pending (bound to no unit) or bound"},
      {"POST", "/api/v1/gb/devices/{device_id}/bind", "Bind a GB/T 28181 device to a unit: its channels become the unit's cameras"},
      {"GET", "/api/v1/gb/status", "The SIP server's devices, transactions and dropped input by reason (admins)"},
      {"GET", "/api/v1/gb/upstreams", "Upper GB/T 28181 platforms this node registers to as a lower platform, with their registration status (admins)"},
      {"POST", "/api/v1/gb/upstreams", "Add an upper GB/T 28181 platform: this node registers to it and shares a jurisdiction subtree's cameras (admins)"},
      {"GET", "/api/v1/gb/upstreams/{id}", "One upper GB/T 28181 platform and its registration status (admins)"},
      {"PATCH", "/api/v1/gb/upstreams/{id}", "Change an upper GB/T 28181 platform (registers again) (admins)"},
      {"DELETE", "/api/v1/gb/upstreams/{id}", "Remove an upper GB/T 28181 platform (unregisters first) (admins)"},
      {"POST", "/api/v1/cameras/{id}/ptz", "Pan, tilt, zoom or a preset on a GB/T 28181 camera"},
      {"GET", "/api/v1/cameras/{id}/device-recordings", "The GB/T 28181 device's own recordings of a time range (RecordInfo)"},
      {"POST", "/api/v1/cameras/{id}/device-playback", "Play back a range from the GB/T 28181 device's storage: a session with HLS/FLV URLs"},
      {"GET", "/api/v1/cameras/{id}/device-playback/{session_id}", "A device playback session's state (playing, paused, ended)"},
      {"DELETE", "/api/v1/cameras/{id}/device-playback/{session_id}", "Stop a device playback session (BYE)"},
      {"POST", "/api/v1/cameras/{id}/device-playback/{session_id}/control", "Pause, play, seek or change the speed of a device playback (INFO MANSRTSP)"},
      {"GET", "/media/live/{token}/index.m3u8", "Live HLS playlist (the token in the path is the permission)"},
      {"GET", "/media/live/{token}/{segment}", "A live HLS segment, or live.flv: HTTP-FLV from the last keyframe"},
      {"GET", "/media/vod/{token}/index.m3u8", "Playback HLS playlist of recordings (VOD)"},
      {"GET", "/media/vod/{token}/{segment}", "A recorded segment of a playback"},
      {"GET", "/media/clips/{file}", "An evidence clip of an alert (MP4)"},
      {"GET", "/healthz", "Liveness and database reachability"},
      {"GET", "/metrics", "Prometheus metrics"},
      {"GET", "/api/v1/openapi.json", "This document: every route the server answers, generated from its router"},
      {"GET", "/api/v1/alerts/{id}/notice.pdf", "The rectification notice (整改通知书) of an alert as PDF"},
      {"GET", "/api/v1/alerts/{id}/documents/{doc_id}.pdf", "An enforcement document (三书一函) as PDF, from the jurisdiction's template"},
      {"GET", "/api/v1/units/{id}/archive.pdf", "A unit's archive (单位档案) as PDF: archive fields, cameras, staff and certificates, alerts"},
      {"GET", "/api/v1/reports/monthly.pdf", "The monthly supervision report of a jurisdiction (month=YYYY-MM, to_month?)"},
      {"GET", "/api/v1/jurisdictions/{id}/document-templates/{kind}", "The 三书一函 template in force for a jurisdiction"},
      {"PUT", "/api/v1/jurisdictions/{id}/document-templates/{kind}", "Set a jurisdiction's 三书一函 template (placeholders checked)"},
      {"GET", "/api/v1/alerts/export", "The alert list with its filters as XLSX or CSV (format=xlsx|csv), streamed"},
      {"GET", "/api/v1/units/export", "The unit list with its filters as XLSX or CSV, streamed"},
      {"GET", "/api/v1/cameras/export", "The camera list with its filters as XLSX or CSV, streamed"},
      {"GET", "/api/v1/staff/export", "The staff list with its filters as XLSX or CSV, streamed"},
      {"GET", "/api/v1/health-certs/export", "The certificate query as XLSX or CSV, streamed"},
      {"GET", "/api/v1/complaints/export", "The complaints as XLSX or CSV, streamed"},
      {"GET", "/api/v1/audit/export", "The audit log with its filters as XLSX or CSV, streamed"},
      {"GET", "/api/v1/report-schedules", "Scheduled reports in scope"},
      {"POST", "/api/v1/report-schedules", "Schedule a report: {report, jurisdiction_id?, unit_id?, cron, recipients}"},
      {"GET", "/api/v1/report-schedules/{id}", "A scheduled report"},
      {"PATCH", "/api/v1/report-schedules/{id}", "Change a schedule's cron, recipients or enabled"},
      {"DELETE", "/api/v1/report-schedules/{id}", "Delete a schedule (its archive stays)"},
      {"POST", "/api/v1/report-schedules/{id}/run", "Make the scheduled report now"},
      {"GET", "/api/v1/report-archive", "The reports archive in scope, with digests and deliveries"},
      {"GET", "/api/v1/report-archive/{id}", "One archived report with its deliveries"},
      {"GET", "/api/v1/report-archive/{id}/file", "The archived file (X-Content-SM3: its digest)"},
      {"POST", "/api/v1/report-deliveries/{id}/retry", "Retry a dead report delivery"},
      {"POST", "/api/v1/exchange/batches", "数据上报: a signed batch from a lower platform (schema mingchu.exchange.v1)"},
      {"GET", "/api/v1/exchange/sources", "The lower platforms reporting into the caller's subtree"},
      {"GET", "/api/v1/exchange/{kind}", "What lower platforms reported: alerts, units, cameras or stats"},
  };
  for (const auto& [m, p, s] : kDocs) {
    if (method == m && pattern == p) return s;
  }
  if (auto s = operations_route_summary(method, pattern)) return *s;
  return method + " " + pattern;
}

json::object openapi(const Router& router) {
  json::object paths;
  for (const Route& rt : router.routes()) {
    if (rt.pattern.find('*') != std::string::npos) continue;
    json::object op{{"summary", summary_of(rt.method, rt.pattern)}};
    json::array params;
    for (const auto& seg : rt.segments) {
      if (seg.size() > 2 && seg.front() == '{') {
        params.emplace_back(json::object{{"name", seg.substr(1, seg.find('}') - 1)},
                                         {"in", "path"},
                                         {"required", true},
                                         {"schema", {{"type", "string"}}}});
      }
    }
    if (!params.empty()) op["parameters"] = std::move(params);
    json::object responses{{"default", {{"description", "JSON; errors as {\"error\": {\"code\", \"message\"}}"}}}};
    op["responses"] = std::move(responses);
    if (rt.method == "POST" || rt.method == "PATCH" || rt.method == "PUT") {
      op["x-max-body-bytes"] = rt.max_body;
    }
    std::string m = rt.method;
    for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto& item = paths[rt.pattern];
    if (!item.is_object()) item = json::object();
    item.as_object()[m] = std::move(op);
  }
  return json::object{
      {"openapi", "3.0.3"},
      {"info", {{"title", "MingChu 明厨 API"}, {"version", "1"}, {"description", "Internet + Bright Kitchen supervision"}}},
      {"components",
       {{"securitySchemes",
         {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}},
          {"apiKey", {{"type", "apiKey"}, {"in", "header"}, {"name", "X-Api-Key"}}}}}}},
      {"paths", std::move(paths)}};
}

}  // namespace

void add_system_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/healthz", [&ctx](Request&) {
    try {
      storage::Conn c = ctx.db->acquire();
      c->query("SELECT 1");
    } catch (const std::exception& e) {
      return Response::json(503, json::object{{"status", "unavailable"}, {"database", "unreachable"}});
    }
    return Response::json(200, json::object{{"status", "ok"}});
  });

  r.add("GET", "/metrics", [&ctx](Request& req) {
    // request label values are bounded, but the numbers still describe the deployment: served
    // to loopback clients (a local Prometheus or agent), with the configured token, or to all
    // when configured so
    bool allowed = ctx.options.metrics_public;
    if (auto a = net::parse_ip(req.remote); a && net::is_loopback(*a)) allowed = true;
    if (!allowed && !ctx.options.metrics_token.empty()) {
      auto given = bearer_token(req);
      allowed = given && crypto::constant_time_equal(*given, ctx.options.metrics_token);
      if (!allowed) {
        return Response::error(401, "unauthorized", "/metrics needs Authorization: Bearer <server.metrics_token>");
      }
    }
    if (!allowed) {
      return Response::error(403, "forbidden",
                             "/metrics is served to loopback clients only (set server.metrics_token or "
                             "server.metrics_public)");
    }
    Response resp;
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp.body = ctx.metrics->render();
    return resp;
  });

  r.add("GET", "/api/v1/openapi.json", [&r](Request&) { return Response::json(200, openapi(r)); });

  if (ctx.options.manual_clock && ctx.manual_clock) {
    r.add("POST", "/api/v1/admin/clock", [&ctx](Request& req) {
      MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
      MC_TRY(body, read_json(req));
      ObjectReader rd(*body);
      auto secs = rd.opt_int("advance_seconds", 0, 10LL * 365 * 24 * 3600);
      if (auto st = rd.finish(); !st) return Response::error(st.error());
      if (!secs) return Response::error(Error::invalid("advance_seconds", "missing_field", "advance_seconds is required"));
      ctx.manual_clock->advance_ms(*secs * 1000);
      return Response::json(200, json::object{{"now", format_time(ctx, ctx.clock->now_ms())}});
    }, 1024);
  }
}

void add_static_routes(Router& r, ApiContext& ctx) {
  if (ctx.options.web_root.empty()) return;
  auto serve = [&ctx](const std::string& rel, bool immutable) {
    Response resp;
    if (rel.find("..") != std::string::npos || rel.find('\\') != std::string::npos || rel.find('\0') != std::string::npos) {
      return Response::error(404, "not_found", "no such file");
    }
    std::ifstream in(ctx.options.web_root + "/" + rel, std::ios::binary);
    if (!in) return Response::error(404, "not_found", "no such file");
    std::ostringstream ss;
    ss << in.rdbuf();
    resp.body = ss.str();
    auto ends = [&](const char* ext) {
      std::string_view e(ext);
      return rel.size() >= e.size() && rel.compare(rel.size() - e.size(), e.size(), e) == 0;
    };
    resp.content_type = ends(".html")  ? "text/html; charset=utf-8"
                        : ends(".js")  ? "text/javascript; charset=utf-8"
                        : ends(".css") ? "text/css; charset=utf-8"
                        : ends(".svg") ? "image/svg+xml"
                        : ends(".png") ? "image/png"
                        : ends(".ico") ? "image/x-icon"
                        : ends(".json") ? "application/json"
                        : ends(".woff2") ? "font/woff2"
                                        : "application/octet-stream";
    // hashed asset names never change; pages must be revalidated to pick up new assets
    resp.headers.emplace_back("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
    if (ends(".html")) add_page_headers(resp, ctx.options, false);
    return resp;
  };
  r.add("GET", "/", [serve](Request&) { return serve("index.html", false); });
  r.add("GET", "/index.html", [serve](Request&) { return serve("index.html", false); });
  // the router treats "/m" and "/m/" alike; the page's relative links need the slash
  r.add("GET", "/m/", [serve](Request& req) {
    if (!req.path.empty() && req.path.back() == '/') return serve("m/index.html", false);
    Response resp;
    resp.status = 301;
    resp.headers.emplace_back("Location", "/m/");
    return resp;
  });
  r.add("GET", "/assets/*", [serve](Request& req) { return serve("assets/" + req.param("*"), true); });
  r.add("GET", "/favicon.ico", [serve](Request&) { return serve("favicon.ico", true); });
}

}  // namespace mingchu::http
