// The public side: the disclosure page behind a unit's QR code, its images, complaints,
// and the console's complaint list. No login on /public/*.
#include <fstream>
#include <sstream>

#include "disclosure/disclosure.hpp"
#include "files/file_catalog.hpp"
#include "http/handler_util.hpp"
#include "http/security_headers.hpp"

namespace mingchu::http {
namespace {

json::object complaint_json(const ApiContext& ctx, const disclosure::Complaint& c) {
  json::object o{{"id", c.id},       {"unit_id", c.unit_id}, {"unit_name", c.unit_name},
                 {"text", c.text},   {"state", c.state},     {"created_at", format_time(ctx, c.created_at)}};
  if (!c.contact.empty()) o["contact"] = c.contact;
  return o;
}

}  // namespace

void add_public_routes(Router& r, ApiContext& ctx) {
  // One URL, HTML or JSON by Accept: every answer says so (Vary), so no cache hands a browser
  // the JSON or a script the page.
  r.add("GET", "/public/units/{token}", [&ctx](Request& req) {
    Response out = [&] {
      // the page itself; it fetches the JSON below with Accept: application/json
      if (auto page = public_page_html(ctx, req)) return *page;
      MC_TRY(u, ctx.disclosure->public_unit(req.param("token")));
      Response resp = Response::json(200, *u);
      resp.headers.emplace_back("Cache-Control", "public, max-age=60");
      return resp;
    }();
    out.headers.emplace_back("Vary", "Accept");
    return out;
  });

  r.add("GET", "/public/units/{token}/files/{id}", [&ctx](Request& req) {
    MC_TRY(unit_id, ctx.disclosure->public_file_unit(req.param("token"), req.param("id")));
    // read as someone whose scope is exactly that unit: only files attached to it are found
    auth::Principal viewer;
    viewer.role = auth::Role::kMerchant;
    viewer.username = "public";
    viewer.unit_ids = {*unit_id};
    MC_TRY(file, ctx.files->read(viewer, req.param("id")));
    Response resp;
    resp.content_type = file->first.content_type;
    resp.body = std::move(file->second);
    resp.headers.emplace_back("Cache-Control", "public, max-age=86400");
    return resp;
  });

  r.add("POST", "/public/units/{token}/complaints", [&ctx](Request& req) {
    MC_TRY(body, read_json(req));
    ObjectReader rd(*body);
    std::string text = rd.req_string("text", 1000);
    std::string contact = rd.opt_string("contact", 64).value_or("");
    if (auto st = rd.finish(); !st) return Response::error(st.error());
    if (utf8_length(text) < 5) {
      return Response::error(Error::invalid("text", "too_short", "please describe the problem in at least 5 characters"));
    }
    MC_TRY(c, ctx.disclosure->submit_complaint(req.param("token"), text, contact, req.remote));
    return Response::json(201, json::object{{"id", c->id}, {"state", c->state}});
  }, 8 * 1024);

  r.add("GET", "/api/v1/complaints", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(pg, page_params(req));
    auto [items, total] = ctx.disclosure->list_complaints(*who, pg->page, pg->page_size);
    json::array arr;
    for (const auto& c : items) arr.emplace_back(complaint_json(ctx, c));
    return Response::json(200, list_body(std::move(arr), total, *pg));
  });

  r.add("POST", "/api/v1/complaints/{id}/handled", [&ctx](Request& req) {
    MC_TRY(who, authenticate_role(ctx, req, auth::Role::kRegulator));
    MC_TRY(c, ctx.disclosure->mark_handled(*who, req.param("id")));
    return Response::json(200, complaint_json(ctx, *c));
  }, 1024);

  r.add("GET", "/api/v1/config/ui", [&ctx](Request&) {
    json::object o;
    if (!ctx.options.map_tile_url.empty()) o["map_tile_url"] = ctx.options.map_tile_url;
    if (!ctx.options.map_attribution.empty()) o["map_attribution"] = ctx.options.map_attribution;
    return Response::json(200, o);
  });
}

}  // namespace mingchu::http
