// GB/T 28181 cascade (docs/gb28181.md "Cascade", API.md "GB/T 28181"): the upper platforms this
// node registers to as a lower platform. Platform admins only; every change audited; the
// password is write-only.
#include "gb/cascade.hpp"
#include "http/handler_util.hpp"

namespace mingchu::http {
namespace {

constexpr size_t kBodyLimit = 16 * 1024;

}  // namespace

void add_cascade_routes(Router& r, ApiContext& ctx) {
  if (!ctx.cascade) return;
  r.add("GET", "/api/v1/gb/upstreams", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
      MC_TRY(pg, page_params(req));
      return respond(ctx.cascade->list(pg->page, pg->page_size));
    });
  });

  r.add(
      "POST", "/api/v1/gb/upstreams",
      [&ctx](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
          MC_TRY(body, read_json(req));
          return respond(ctx.cascade->create(*who, *body), 201);
        });
      },
      kBodyLimit);

  r.add("GET", "/api/v1/gb/upstreams/{id}", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
      MC_TRY(id, path_id(req));
      return respond(ctx.cascade->get(*id));
    });
  });

  r.add(
      "PATCH", "/api/v1/gb/upstreams/{id}",
      [&ctx](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          return respond(ctx.cascade->update(*who, *id, *body));
        });
      },
      kBodyLimit);

  r.add("DELETE", "/api/v1/gb/upstreams/{id}", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
      MC_TRY(id, path_id(req));
      if (auto st = ctx.cascade->remove(*who, *id); !st) return Response::error(st.error());
      return Response::no_content();
    });
  });
}

}  // namespace mingchu::http
