#include "http/handler_util.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "http/key_guard.hpp"
#include "http/security_headers.hpp"

#include "auth/auth_service.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"

namespace mingchu::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 6750 b64token: what a token may be made of.
bool token68(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/')) break;
  }
  for (; i < s.size(); ++i) {
    if (s[i] != '=') return false;
  }
  return true;
}

void note_actor(const Request& req, const auth::Principal& p) {
  req.actor_id = p.user_id;
  req.actor = p.username;
  req.actor_role = p.is_api_key ? "api_key" : std::string(auth::role_name(p.role));
}

// What an API key needs for this request: reads need read, everything else write. Asking for
// live or playback URLs of a camera writes nothing: a read.
Status key_may(const auth::Principal& p, const Request& req) {
  bool read = req.method == "GET" || req.method == "HEAD" ||
              (req.method == "POST" && (req.path.ends_with("/live") || req.path.ends_with("/playback")));
  unsigned need = read ? auth::kPermRead : auth::kPermWrite;
  if ((p.permissions & need) != 0) {
    if (p.resources.empty()) return ok_status();
    std::string_view rest = req.path;
    if (rest.starts_with("/api/v1/")) rest.remove_prefix(8);
    std::string_view collection = rest.substr(0, rest.find('/'));
    if (collection == "me" || std::find(p.resources.begin(), p.resources.end(), collection) != p.resources.end()) {
      return ok_status();
    }
    Error e = Error::forbidden("this API key may not use " + std::string(collection.substr(0, 40)) +
                              "; it is limited to " + [&] {
                                std::string l;
                                for (const auto& r : p.resources) l += (l.empty() ? "" : ", ") + r;
                                return l;
                              }());
    e.code = "resource_not_granted";
    return e;
  }
  if (p.permissions == auth::kPermIngest) return Error::forbidden("this API key may only be used for ingest");
  return Error::forbidden(std::string("this API key lacks the permission ") + (read ? "read" : "write"));
}

Result<auth::Principal> authenticate_headers(ApiContext& ctx, const Request& req) {
  if (auto key = req.header("x-api-key")) return ctx.auth->authenticate_api_key(*key, req.remote);
  auto token = bearer_token(req);
  if (!token) return token.error();
  return ctx.auth->authenticate_token(*token, req.remote);
}

Result<auth::Principal> noted(const Request& req, Result<auth::Principal> p) {
  if (p) note_actor(req, *p);
  return p;
}

}  // namespace

Result<std::string> bearer_token(const Request& req) {
  auto authz = req.header("authorization");
  if (!authz) return Error::unauthorized("login required: send Authorization: Bearer <token> or X-Api-Key");
  std::string_view v = trim_ows(*authz);
  size_t sp = v.find(' ');
  if (sp == std::string_view::npos || !iequals(v.substr(0, sp), "bearer")) {
    return Error::unauthorized("Authorization must be 'Bearer <token>'");
  }
  std::string_view token = trim_ows(v.substr(sp + 1));
  if (!token68(token)) return Error::unauthorized("Authorization must be 'Bearer <token>'");
  return std::string(token);
}

Result<auth::Principal> authenticate(ApiContext& ctx, const Request& req) {
  auto p = noted(req, authenticate_headers(ctx, req));
  if (p && p->is_api_key) {
    if (auto st = key_may(*p, req); !st) return st.error();
    // third parties: rate-limited and audited per call (http/key_guard.hpp)
    if (!req.internal && ctx.key_guard) {
      if (auto st = ctx.key_guard->admit(*p, req); !st) return st.error();
    }
  }
  return p;
}

Result<auth::Principal> authenticate_ingest(ApiContext& ctx, const Request& req) {
  auto p = noted(req, authenticate_headers(ctx, req));
  if (p && p->is_api_key && (p->permissions & auth::kPermIngest) == 0) {
    return Error::forbidden("this API key lacks the permission ingest");
  }
  return p;
}

Result<auth::Principal> authenticate_in_url(ApiContext& ctx, const Request& req, std::string_view purpose) {
  if (req.header("x-api-key") || req.header("authorization")) return authenticate(ctx, req);
  if (auto t = req.query_param("ticket")) return noted(req, ctx.auth->redeem_ticket(*t, purpose, req.remote));
  if (auto t = req.query_param("access_token")) return noted(req, ctx.auth->authenticate_token(*t, req.remote));
  return Error::unauthorized(
      "login required: send Authorization: Bearer <token>, or ?ticket= from POST /api/v1/auth/tickets");
}

Result<auth::Principal> authenticate_role(ApiContext& ctx, const Request& req, auth::Role min_role) {
  auto p = authenticate(ctx, req);
  if (p && auth::role_rank(p->role) < auth::role_rank(min_role)) {
    return Error::forbidden("your role may not do this");
  }
  return p;
}

bool is_json_media_type(std::string_view content_type) {
  std::string_view rest = content_type;
  size_t semi = rest.find(';');
  if (!iequals(trim_ows(rest.substr(0, semi)), "application/json")) return false;
  while (semi != std::string_view::npos) {
    rest.remove_prefix(semi + 1);
    semi = rest.find(';');
    std::string_view param = trim_ows(rest.substr(0, semi));
    if (param.empty()) continue;
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view name = trim_ows(param.substr(0, eq));
    std::string_view value = trim_ows(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    // JSON is UTF-8 (RFC 8259); a declared other charset is a body we would misread
    if (iequals(name, "charset") && !iequals(value, "utf-8")) return false;
  }
  return true;
}

Result<json::object> read_json(const Request& req) {
  auto ct = req.header("content-type");
  if (!ct || !is_json_media_type(*ct)) {
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

Result<std::optional<TimeMs>> query_time(const ApiContext& ctx, const Request& req, std::string_view name) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::optional<TimeMs>();
  auto t = parse_rfc3339(*v);
  if (!t) {
    if (auto d = parse_date(*v)) {
      return std::optional<TimeMs>(static_cast<TimeMs>(*d) * kDayMs -
                                   static_cast<TimeMs>(ctx.options.utc_offset_minutes) * kMinuteMs);
    }
    return Error::invalid(std::string(name), "invalid_time",
                          std::string(name) + " must be an RFC 3339 time or a date (YYYY-MM-DD)");
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

std::optional<Error> db_error_answer(const storage::DbError& e) {
  switch (e.kind()) {
    case storage::DbError::Kind::kUnavailable:
      log::warn("database unavailable", {{"error", e.what()}});
      return Error::unavailable("the database is unavailable; try again later");
    case storage::DbError::Kind::kUnique:
      return Error::conflict("conflict", "the object changed concurrently or already exists");
    case storage::DbError::Kind::kOther:
      break;
  }
  return std::nullopt;
}

Response db_failure(const storage::DbError& e) {
  if (auto answer = db_error_answer(e)) return Response::error(*answer);
  throw e;
}

std::string format_time(const ApiContext& ctx, TimeMs t) { return format_rfc3339(t, ctx.options.utc_offset_minutes); }

json::value time_or_null(const ApiContext& ctx, std::optional<TimeMs> t) {
  if (!t) return nullptr;
  return json::value(format_time(ctx, *t));
}

bool wants_html(const Request& req) {
  auto accept = req.header("accept");
  return accept && accept->find("text/html") != std::string::npos &&
         accept->find("application/json") == std::string::npos;
}

std::optional<Response> public_page_html(const ApiContext& ctx, const Request& req) {
  if (!wants_html(req) || ctx.options.web_root.empty()) return std::nullopt;
  std::ifstream in(ctx.options.web_root + "/public/index.html", std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  Response resp;
  resp.content_type = "text/html; charset=utf-8";
  resp.body = ss.str();
  resp.headers.emplace_back("Cache-Control", "no-cache");
  add_page_headers(resp, ctx.options, true);
  return resp;
}

}  // namespace mingchu::http
