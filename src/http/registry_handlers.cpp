// Jurisdictions, units, cameras, staff, the health-certificate query and a unit's QR code.
// Each handler: authenticate, read the body or the query, call the Registry, format.

#include <array>
#include <cstdint>
#include <memory>

#include "core/log.hpp"
#include "disclosure/qr.hpp"
#include "http/handler_util.hpp"
#include "registry/json_io.hpp"
#include "registry/registry.hpp"

namespace mingchu::http {
namespace {

using registry::PageRequest;

constexpr size_t kJsonBodyLimit = 64 * 1024;
constexpr size_t kMaxQueryText = 64;

// A free-text query parameter: at most kMaxQueryText characters, no control characters.
Result<std::optional<std::string>> query_text(const Request& req, std::string_view name) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::optional<std::string>();
  if (utf8_length(*v) > kMaxQueryText || has_control_chars(*v, false)) {
    return Error::invalid(std::string(name), "invalid_query",
                          std::string(name) + " must be at most 64 characters without control characters");
  }
  return std::optional<std::string>(*v);
}

template <typename T, typename Fmt>
Response list_answer(const Result<registry::Page<T>>& page, const PageParams& pg, Fmt fmt) {
  if (!page) return Response::error(page.error());
  json::array items;
  items.reserve(page->items.size());
  for (const auto& item : page->items) items.emplace_back(fmt(item));
  return Response::json(200, list_body(std::move(items), page->total, pg));
}

template <typename T, typename Fmt>
Response one_answer(const Result<T>& r, int status, Fmt fmt) {
  if (!r) return Response::error(r.error());
  return Response::json(status, fmt(*r));
}

Response empty_answer(const Status& st) {
  if (!st) return Response::error(st.error());
  return Response::no_content();
}

PageRequest page_of(const PageParams& p) { return PageRequest{p.page, p.page_size}; }

// Where the public page lives: the configured base URL, else the Host the caller used.
std::string public_base(const ApiContext& ctx, const Request& req) {
  std::string base = ctx.options.public_base_url;
  if (base.empty()) {
    std::string host = req.header("host").value_or("localhost");
    bool sane = !host.empty() && host.size() <= 255;
    for (char c : host) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                c == ':' || c == '[' || c == ']';
      sane = sane && ok;
    }
    base = "http://" + (sane ? host : std::string("localhost"));
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

}  // namespace

void add_registry_routes(Router& r, ApiContext& ctx) {
  const int off = ctx.options.utc_offset_minutes;
  auto fmt = [off](const auto& v) { return registry::to_json(v, off); };

  // ---------------------------------------------------------------- jurisdictions
  r.add("GET", "/api/v1/jurisdictions", [&ctx, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(pg, page_params(req));
      MC_TRY(parent, query_id(req, "parent_id"));
      MC_TRY(q, query_text(req, "q"));
      registry::JurisdictionFilter f;
      f.parent_id = *parent;
      f.q = *q;
      if (auto level = req.query_param("level"); level && !level->empty()) {
        f.level = registry::parse_level(*level);
        if (!f.level) {
          return Response::error(
              Error::invalid("level", "invalid_value", "level must be province, city, district or station"));
        }
      }
      return list_answer(ctx.registry->list_jurisdictions(*who, f, page_of(*pg)), *pg, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/jurisdictions",
      [&ctx, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, registry::parse_jurisdiction_create(*body));
          return one_answer(ctx.registry->create_jurisdiction(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/jurisdictions/{id}", [&ctx, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one_answer(ctx.registry->get_jurisdiction(*who, *id), 200, fmt);
    });
  });
  r.add(
      "PATCH", "/api/v1/jurisdictions/{id}",
      [&ctx, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, registry::parse_jurisdiction_patch(*body));
          return one_answer(ctx.registry->update_jurisdiction(*who, *id, *in), 200, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("DELETE", "/api/v1/jurisdictions/{id}", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return empty_answer(ctx.registry->delete_jurisdiction(*who, *id));
    });
  });

  // ---------------------------------------------------------------- units
  r.add("GET", "/api/v1/units", [&ctx, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(pg, page_params(req));
      MC_TRY(jid, query_id(req, "jurisdiction_id"));
      MC_TRY(q, query_text(req, "q"));
      MC_TRY(store_type, query_text(req, "store_type"));
      MC_TRY(business_format, query_text(req, "business_format"));
      registry::UnitFilter f;
      f.jurisdiction_id = *jid;
      f.q = *q;
      f.store_type = *store_type;
      f.business_format = *business_format;
      return list_answer(ctx.registry->list_units(*who, f, page_of(*pg)), *pg, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/units",
      [&ctx, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, registry::parse_unit_input(*body, false));
          return one_answer(ctx.registry->create_unit(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/units/{id}", [&ctx, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one_answer(ctx.registry->get_unit(*who, *id), 200, fmt);
    });
  });
  r.add(
      "PATCH", "/api/v1/units/{id}",
      [&ctx, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, registry::parse_unit_input(*body, true));
          return one_answer(ctx.registry->update_unit(*who, *id, *in), 200, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("DELETE", "/api/v1/units/{id}", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return empty_answer(ctx.registry->delete_unit(*who, *id));
    });
  });
  r.add("GET", "/api/v1/units/{id}/qrcode.png", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      MC_TRY(unit, ctx.registry->get_unit(*who, *id));
      std::string url = public_base(ctx, req) + "/public/units/" + unit->disclosure_token;
      auto png = disclosure::qr_png(url);
      if (!png) return Response::error(Error::internal("the disclosure URL does not fit in a QR code"));
      Response resp;
      resp.status = 200;
      resp.content_type = "image/png";
      resp.body = std::move(*png);
      resp.headers.emplace_back("Cache-Control", "private, max-age=300");
      resp.headers.emplace_back("Content-Disposition", "inline");
      return resp;
    });
  });

  // ---------------------------------------------------------------- cameras
  r.add("GET", "/api/v1/cameras", [&ctx, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(pg, page_params(req));
      MC_TRY(unit_id, query_id(req, "unit_id"));
      MC_TRY(jid, query_id(req, "jurisdiction_id"));
      MC_TRY(status, query_text(req, "status"));
      MC_TRY(area, query_text(req, "area"));
      registry::CameraFilter f;
      f.unit_id = *unit_id;
      f.jurisdiction_id = *jid;
      f.status = *status;
      f.area = *area;
      return list_answer(ctx.registry->list_cameras(*who, f, page_of(*pg)), *pg, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/cameras",
      [&ctx, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, registry::parse_camera_input(*body, false));
          return one_answer(ctx.registry->create_camera(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/cameras/{id}", [&ctx, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one_answer(ctx.registry->get_camera(*who, *id), 200, fmt);
    });
  });
  r.add(
      "PATCH", "/api/v1/cameras/{id}",
      [&ctx, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, registry::parse_camera_input(*body, true));
          return one_answer(ctx.registry->update_camera(*who, *id, *in), 200, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("DELETE", "/api/v1/cameras/{id}", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return empty_answer(ctx.registry->delete_camera(*who, *id));
    });
  });

  // ---------------------------------------------------------------- staff
  r.add("GET", "/api/v1/staff", [&ctx, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(pg, page_params(req));
      MC_TRY(unit_id, query_id(req, "unit_id"));
      MC_TRY(jid, query_id(req, "jurisdiction_id"));
      MC_TRY(q, query_text(req, "q"));
      MC_TRY(id_number, query_text(req, "id_number"));
      registry::StaffFilter f;
      f.unit_id = *unit_id;
      f.jurisdiction_id = *jid;
      f.q = *q;
      f.id_number = *id_number;
      if (auto s = req.query_param("cert_status"); s && !s->empty()) {
        f.cert_status = registry::parse_cert_status(*s);
        if (!f.cert_status) {
          return Response::error(Error::invalid("cert_status", "invalid_value",
                                                "cert_status must be valid, expiring, expired or missing"));
        }
      }
      return list_answer(ctx.registry->list_staff(*who, f, page_of(*pg)), *pg, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/staff",
      [&ctx, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, registry::parse_staff_input(*body, false));
          return one_answer(ctx.registry->create_staff(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/staff/{id}", [&ctx, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one_answer(ctx.registry->get_staff(*who, *id), 200, fmt);
    });
  });
  r.add(
      "PATCH", "/api/v1/staff/{id}",
      [&ctx, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, registry::parse_staff_input(*body, true));
          return one_answer(ctx.registry->update_staff(*who, *id, *in), 200, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("DELETE", "/api/v1/staff/{id}", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return empty_answer(ctx.registry->delete_staff(*who, *id));
    });
  });

  // ---------------------------------------------------------------- 健康证查询
  r.add("GET", "/api/v1/health-certs", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(pg, page_params(req));
      MC_TRY(unit_id, query_id(req, "unit_id"));
      MC_TRY(jid, query_id(req, "jurisdiction_id"));
      registry::HealthCertFilter f;
      f.unit_id = *unit_id;
      f.jurisdiction_id = *jid;
      if (auto s = req.query_param("status"); s && !s->empty()) {
        f.status = registry::parse_cert_status(*s);
        if (!f.status) {
          return Response::error(
              Error::invalid("status", "invalid_value", "status must be expiring, expired, valid or missing"));
        }
      }
      return list_answer(ctx.registry->list_health_certs(*who, f, page_of(*pg)), *pg,
                         [](const registry::HealthCertRow& row) { return registry::to_json(row); });
    });
  });
}

#undef MC_TRY

}  // namespace mingchu::http
