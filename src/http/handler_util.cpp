#include "http/handler_util.hpp"

#include "http/key_guard.hpp"

#include "auth/auth_service.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"

namespace mingchu::http {

static Result<auth::Principal> authenticate_any(ApiContext& ctx, const Request& req) {
  if (auto key = req.header("x-api-key")) return ctx.auth->authenticate_api_key(*key, req.remote);
  auto authz = req.header("authorization");
  std::string token;
  if (authz) {
    constexpr std::string_view kBearer = "Bearer ";
    if (authz->size() <= kBearer.size() || authz->compare(0, kBearer.size(), kBearer) != 0) {
      return Error::unauthorized("Authorization must be 'Bearer <token>'");
    }
    token = authz->substr(kBearer.size());
  } else if (auto t = req.query_param("access_token")) {
    // EventSource cannot send headers; the SSE endpoint accepts the token in the query
    token = *t;
  } else {
    return Error::unauthorized("login required: send Authorization: Bearer <token> or X-Api-Key");
  }
  return ctx.auth->authenticate_token(token, req.remote);
}

Result<auth::Principal> authenticate(ApiContext& ctx, const Request& req) {
  auto p = authenticate_any(ctx, req);
  if (p && p->is_api_key && p->ingest_only) return Error::forbidden("this API key may only be used for ingest");
  // third parties: rate-limited and audited per call (http/key_guard.hpp)
  if (p && p->is_api_key && !req.internal && ctx.key_guard) {
    if (auto st = ctx.key_guard->admit(*p, req); !st) return st.error();
  }
  return p;
}

Result<auth::Principal> authenticate_ingest(ApiContext& ctx, const Request& req) { return authenticate_any(ctx, req); }

Result<auth::Principal> authenticate_role(ApiContext& ctx, const Request& req, auth::Role min_role) {
  auto p = authenticate(ctx, req);
  if (p && auth::role_rank(p->role) < auth::role_rank(min_role)) {
    return Error::forbidden("your role may not do this");
  }
  return p;
}

Result<json::object> read_json(const Request& req) {
  auto ct = req.header("content-type");
  if (!ct || ct->find("application/json") == std::string::npos) {
    return Error{ErrorKind::kUnsupported, "unsupported_media_type", "Content-Type must be application/json", {}};
  }
  return parse_object(req.body);
}

Result<PageParams> page_params(const Request& req) {
  PageParams p;
  auto num = [](const std::string& s, int lo, int hi, int& out) {
    if (s.empty() || s.size() > 9) return false;
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    if (v < lo || v > hi) return false;
    out = v;
    return true;
  };
  if (auto s = req.query_param("page"); s && !num(*s, 1, 10'000'000, p.page)) {
    return Error::invalid("page", "invalid_page", "page must be an integer ≥ 1");
  }
  if (auto s = req.query_param("page_size"); s && !num(*s, 1, 200, p.page_size)) {
    return Error::invalid("page_size", "invalid_page_size", "page_size must be an integer from 1 to 200");
  }
  return p;
}

json::object list_body(json::array items, std::int64_t total, const PageParams& p) {
  return json::object{{"items", std::move(items)}, {"total", total}, {"page", p.page}, {"page_size", p.page_size}};
}

Result<std::optional<std::string>> query_id(const Request& req, std::string_view name) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::optional<std::string>();
  if (!plausible_id(*v)) return Error::invalid(std::string(name), "invalid_id", std::string(name) + " is not a valid id");
  return std::optional<std::string>(*v);
}

Result<std::optional<TimeMs>> query_time(const Request& req, std::string_view name) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::optional<TimeMs>();
  auto t = parse_rfc3339(*v);
  if (!t) {
    if (auto d = parse_date(*v)) return std::optional<TimeMs>(static_cast<TimeMs>(*d) * kDayMs - 8 * kHourMs);
    return Error::invalid(std::string(name), "invalid_time", std::string(name) + " must be an RFC 3339 time");
  }
  return std::optional<TimeMs>(*t);
}

Result<std::string> path_id(const Request& req, std::string_view name) {
  std::string id = req.param(name);
  if (!plausible_id(id)) return Error::not_found("object");
  return id;
}

Result<ObjectWrite> begin_object_write(ApiContext& ctx, const Request& req) {
  auto who = authenticate(ctx, req);
  if (!who) return who.error();
  auto id = path_id(req);
  if (!id) return id.error();
  auto body = read_json(req);
  if (!body) return body.error();
  return ObjectWrite{std::move(*who), std::move(*id), std::move(*body)};
}

Response db_failure(const storage::DbError& e) {
  if (e.kind() == storage::DbError::Kind::kUnavailable) {
    log::error("database unavailable", {{"error", e.what()}});
    return Response::error(Error::unavailable("the database is unavailable; try again"));
  }
  if (e.kind() == storage::DbError::Kind::kUnique) {
    return Response::error(Error::conflict("duplicate", "an equal record already exists"));
  }
  throw e;
}

std::string format_time(const ApiContext& ctx, TimeMs t) { return format_rfc3339(t, ctx.options.utc_offset_minutes); }

json::value time_or_null(const ApiContext& ctx, std::optional<TimeMs> t) {
  if (!t) return nullptr;
  return json::value(format_time(ctx, *t));
}

}  // namespace mingchu::http
