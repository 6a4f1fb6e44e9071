// Auth, users, API keys and the audit log.
#include <algorithm>

#include "audit/audit_log.hpp"
#include "auth/auth_service.hpp"
#include "http/handler_util.hpp"

namespace mingchu::http {
namespace {

json::object user_json(const ApiContext& ctx, const auth::User& u) {
  json::object o{{"id", u.id},
                 {"username", u.username},
                 {"display_name", u.display_name},
                 {"role", auth::role_name(u.role)},
                 {"disabled", u.disabled},
                 {"created_at", format_time(ctx, u.created_at)}};
  if (!u.jurisdiction_id.empty()) o["jurisdiction_id"] = u.jurisdiction_id;
  if (u.role == auth::Role::kMerchant) {
    json::array units;
    for (const auto& id : u.unit_ids) units.emplace_back(id);
    o["unit_ids"] = std::move(units);
  }
  return o;
}

json::object key_json(const ApiContext& ctx, const auth::ApiKey& k) {
  json::object scope;
  if (!k.scope.unit_id.empty()) scope["unit_id"] = k.scope.unit_id;
  if (!k.scope.jurisdiction_id.empty()) scope["jurisdiction_id"] = k.scope.jurisdiction_id;
  scope["ingest_only"] = k.scope.ingest_only;
  json::array perms;
  if (k.scope.permissions & auth::kPermIngest) perms.emplace_back("ingest");
  if (k.scope.permissions & auth::kPermRead) perms.emplace_back("read");
  if (k.scope.permissions & auth::kPermWrite) perms.emplace_back("write");
  json::object o{{"id", k.id},
                 {"name", k.name},
                 {"scope", scope},
                 {"permissions", std::move(perms)},
                 {"resources", [&] {
                    json::array a;
                    for (const auto& x : k.scope.resources) a.emplace_back(x);
                    return a;
                  }()},
                 {"created_at", format_time(ctx, k.created_at)}};
  o["revoked_at"] = time_or_null(ctx, k.revoked_at);
  if (!k.key.empty()) o["key"] = k.key;
  return o;
}

// The permissions of a new key: ["ingest" | "read" | "write", ...], each at most once.
Result<unsigned> read_permissions(ObjectReader& rd) {
  const json::array* a = rd.opt_array("permissions", 3);
  if (!a) {
    if (rd.has("permissions") && rd.ok()) {
      return Error::invalid("permissions", "wrong_type", "permissions must be an array of ingest, read, write");
    }
    return 0u;
  }
  if (a->empty()) return Error::invalid("permissions", "empty_permissions", "give at least one permission");
  unsigned out = 0;
  for (size_t i = 0; i < a->size(); ++i) {
    std::string field = "permissions[" + std::to_string(i) + "]";
    const json::value& v = (*a)[i];
    unsigned bit = 0;
    if (v.is_string() && v.as_string() == "ingest") bit = auth::kPermIngest;
    if (v.is_string() && v.as_string() == "read") bit = auth::kPermRead;
    if (v.is_string() && v.as_string() == "write") bit = auth::kPermWrite;
    if (bit == 0) return Error::invalid(field, "invalid_permission", "a permission is ingest, read or write");
    if (out & bit) return Error::invalid(field, "duplicate_permission", "each permission at most once");
    out |= bit;
  }
  return out;
}

// The collections a new key is limited to: ["alerts", "units", ...], each a collection of the
// API (the first path segment after /api/v1/ of some route), at most once; absent = all.
Result<std::vector<std::string>> read_resources(ObjectReader& rd, const Router& router) {
  const json::array* a = rd.opt_array("resources", 64);
  if (!a) {
    if (rd.has("resources") && rd.ok()) {
      return Error::invalid("resources", "wrong_type", "resources must be an array of collection names");
    }
    return std::vector<std::string>{};
  }
  if (a->empty()) return Error::invalid("resources", "empty_resources", "give at least one resource, or leave it out");
  std::vector<std::string> out;
  for (size_t i = 0; i < a->size(); ++i) {
    std::string field = "resources[" + std::to_string(i) + "]";
    const json::value& v = (*a)[i];
    if (!v.is_string()) return Error::invalid(field, "wrong_type", "a resource is a string");
    std::string name(v.as_string());
    bool known = name != "auth" && name != "public" && name != "api-keys" &&
                 std::any_of(router.routes().begin(), router.routes().end(), [&](const Route& rt) {
                   return rt.segments.size() > 2 && rt.segments[0] == "api" && rt.segments[1] == "v1" &&
                          rt.segments[2] == name;
                 });
    if (!known) {
      return Error::invalid(field, "unknown_resource",
                            "no such collection in the API: " + name.substr(0, 40) + " (e.g. alerts, units, cameras)");
    }
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      return Error::invalid(field, "duplicate_resource", "each resource at most once");
    }
    out.push_back(name);
  }
  return out;
}

Result<auth::UserPatch> read_user_patch(const Request& req) {
  auto body = read_json(req);
  if (!body) return body.error();
  ObjectReader rd(*body);
  auth::UserPatch p;
  p.display_name = rd.opt_string("display_name", 64);
  if (auto role = rd.opt_string("role", 32)) {
    auto parsed = auth::parse_role(*role);
    if (!parsed) rd.fail("role", "invalid_role", "role must be platform_admin, regulator or merchant");
    p.role = parsed;
  }
  p.jurisdiction_id = rd.opt_string("jurisdiction_id", 64);
  if (const json::array* units = rd.opt_array("unit_ids", 50)) {
    std::vector<std::string> ids;
    for (const auto& v : *units) {
      if (!v.is_string()) {
        rd.fail("unit_ids", "wrong_type", "unit_ids must be an array of strings");
        break;
      }
      ids.emplace_back(v.as_string());
    }
    p.unit_ids = std::move(ids);
  }
  p.disabled = rd.opt_bool("disabled");
  if (auto st = rd.finish(); !st) return st.error();
  if (p.display_name && p.display_name->empty()) {
    return Error::invalid("display_name", "empty", "display_name must not be empty");
  }
  return p;
}

}  // namespace

void add_auth_routes(Router& r, ApiContext& ctx) {
  r.add("POST", "/api/v1/auth/login", [&ctx](Request& req) {
    MC_TRY(body, read_json(req));
    ObjectReader rd(*body);
    std::string username = rd.req_string("username", 64);
    std::string password = rd.req_string("password", 256);
    if (auto st = rd.finish(); !st) return Response::error(st.error());
    TimeMs retry_after = 0;
    auto res = ctx.auth->login(username, password, req.remote, &retry_after);
    if (!res) {
      Response resp = Response::error(res.error());
      if (resp.status == 423 && retry_after > 0) {
        resp.headers.emplace_back("Retry-After", std::to_string((retry_after + 999) / 1000));
      }
      return resp;
    }
    json::object o{{"token", res->token},
                   {"expires_at", format_time(ctx, res->expires_at)},
                   {"user", user_json(ctx, res->user)},
                   {"password_expired", res->password_expired}};
    return Response::json(200, o);
  }, 8 * 1024);

  r.add("POST", "/api/v1/auth/logout", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    if (who->is_api_key) return Response::error(Error::forbidden("API keys do not log out; revoke them"));
    if (auto st = ctx.auth->logout(*who); !st) return Response::error(st.error());
    return Response::no_content();
  }, 1024);

  // A ticket for a URL that a browser opens without headers (the SSE stream, media).
  r.add(
      "POST", "/api/v1/auth/tickets",
      [&ctx](Request& req) {
        MC_TRY(who, authenticate(ctx, req));
        MC_TRY(body, read_json(req));
        ObjectReader rd(*body);
        std::string purpose = rd.req_string("purpose", 16);
        if (auto st = rd.finish(); !st) return Response::error(st.error());
        MC_TRY(t, ctx.auth->issue_ticket(*who, purpose));
        return Response::json(
            201, json::object{
                     {"ticket", t->ticket}, {"purpose", t->purpose}, {"expires_at", format_time(ctx, t->expires_at)}});
      },
      1024);

  r.add("GET", "/api/v1/me", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    json::object o{{"id", who->user_id},
                   {"username", who->username},
                   {"display_name", who->display_name},
                   {"role", who->is_api_key ? "api_key" : auth::role_name(who->role)},
                   {"password_expired", who->password_expired}};
    if (!who->jurisdiction_id.empty()) o["jurisdiction_id"] = who->jurisdiction_id;
    if (who->role == auth::Role::kMerchant) {
      json::array units;
      for (const auto& id : who->unit_ids) units.emplace_back(id);
      o["unit_ids"] = std::move(units);
    }
    return Response::json(200, o);
  });

  r.add("POST", "/api/v1/auth/password", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(body, read_json(req));
    ObjectReader rd(*body);
    std::string old_pw = rd.req_string("old_password", 256);
    std::string new_pw = rd.req_string("new_password", 256);
    if (auto st = rd.finish(); !st) return Response::error(st.error());
    MC_TRY(st, ctx.auth->change_password(*who, old_pw, new_pw));
    return Response::no_content();
  }, 8 * 1024);

  r.add("GET", "/api/v1/users", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(pg, page_params(req));
    auto [users, total] = ctx.auth->list_users(*who, pg->page, pg->page_size);
    json::array items;
    for (const auto& u : users) items.emplace_back(user_json(ctx, u));
    return Response::json(200, list_body(std::move(items), total, *pg));
  });

  r.add("GET", "/api/v1/users/{id}", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(id, path_id(req));
    MC_TRY(u, ctx.auth->get_user(*who, *id));
    return Response::json(200, user_json(ctx, *u));
  });

  r.add(
      "PATCH", "/api/v1/users/{id}",
      [&ctx](Request& req) {
        MC_TRY(who, authenticate(ctx, req));
        MC_TRY(id, path_id(req));
        MC_TRY(patch, read_user_patch(req));
        MC_TRY(u, ctx.auth->update_user(*who, *id, *patch));
        return Response::json(200, user_json(ctx, *u));
      },
      16 * 1024);

  r.add(
      "POST", "/api/v1/users/{id}/unlock",
      [&ctx](Request& req) {
        MC_TRY(who, authenticate(ctx, req));
        MC_TRY(id, path_id(req));
        if (auto st = ctx.auth->unlock_user(*who, *id); !st) return Response::error(st.error());
        return Response::no_content();
      },
      1024);

  r.add("POST", "/api/v1/users", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(body, read_json(req));
    ObjectReader rd(*body);
    auth::NewUser u;
    u.username = rd.req_string("username", 32);
    u.password = rd.req_string("password", 128);
    u.display_name = rd.opt_string("display_name", 64).value_or("");
    std::string role = rd.req_string("role", 32);
    u.jurisdiction_id = rd.opt_string("jurisdiction_id", 64).value_or("");
    if (const json::array* units = rd.opt_array("unit_ids", 50)) {
      for (const auto& v : *units) {
        if (!v.is_string()) {
          rd.fail("unit_ids", "wrong_type", "unit_ids must be an array of strings");
          break;
        }
        u.unit_ids.emplace_back(v.as_string());
      }
    }
    if (auto st = rd.finish(); !st) return Response::error(st.error());
    auto parsed = auth::parse_role(role);
    if (!parsed) {
      return Response::error(
          Error::invalid("role", "invalid_role", "role must be platform_admin, regulator or merchant"));
    }
    u.role = *parsed;
    MC_TRY(created, ctx.auth->create_user(*who, u));
    return Response::json(201, user_json(ctx, *created));
  }, 16 * 1024);

  r.add("GET", "/api/v1/api-keys", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    json::array items;
    for (const auto& k : ctx.auth->list_api_keys(*who)) items.emplace_back(key_json(ctx, k));
    PageParams p{1, static_cast<int>(items.size())};
    std::int64_t n = static_cast<std::int64_t>(items.size());
    return Response::json(200, list_body(std::move(items), n, p));
  });

  r.add("POST", "/api/v1/api-keys", [&ctx, &r](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(body, read_json(req));
    ObjectReader rd(*body);
    std::string name = rd.req_string("name", 64);
    auth::ApiKeyScope scope;
    if (!rd.has("scope") && rd.ok())
      rd.fail("scope", "missing_scope", "scope is required: {unit_id} or {jurisdiction_id}");
    if (const json::object* s = rd.opt_object("scope")) {
      ObjectReader sr(*s, "scope");
      scope.unit_id = sr.opt_string("unit_id", 64).value_or("");
      scope.jurisdiction_id = sr.opt_string("jurisdiction_id", 64).value_or("");
      scope.ingest_only = sr.opt_bool("ingest_only").value_or(false);
      if (auto st = sr.finish(); !st) return Response::error(st.error());
      if (!scope.unit_id.empty() && !scope.jurisdiction_id.empty()) {
        return Response::error(
            Error::invalid("scope", "ambiguous_scope", "give either scope.unit_id or scope.jurisdiction_id, not both"));
      }
    }
    auto perms = read_permissions(rd);
    auto resources = read_resources(rd, r);
    if (auto st = rd.finish(); !st) return Response::error(st.error());
    if (!perms) return Response::error(perms.error());
    if (!resources) return Response::error(resources.error());
    scope.resources = std::move(*resources);
    // least privilege: without a list, a key ingests and does nothing else
    scope.permissions = *perms != 0 ? *perms : auth::kPermIngest;
    MC_TRY(k, ctx.auth->create_api_key(*who, name, scope));
    return Response::json(201, key_json(ctx, *k));
  }, 8 * 1024);

  r.add("DELETE", "/api/v1/api-keys/{id}", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(id, path_id(req));
    MC_TRY(st, ctx.auth->revoke_api_key(*who, *id));
    return Response::no_content();
  });

  r.add("GET", "/api/v1/audit", [&ctx](Request& req) {
    MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
    MC_TRY(pg, page_params(req));
    audit::AuditQuery q;
    q.page = pg->page;
    q.page_size = pg->page_size;
    if (auto a = req.query_param("actor"); a && !a->empty()) q.actor = a->substr(0, 64);
    if (auto a = req.query_param("action"); a && !a->empty()) q.action = a->substr(0, 64);
    if (auto res = req.query_param("result"); res && !res->empty()) {
      if (*res != "ok" && *res != "failed" && *res != "denied" && *res != "refused" && *res != "locked") {
        return Response::error(
            Error::invalid("result", "invalid_result", "result must be ok, failed, denied, refused or locked"));
      }
      q.result = *res;
    }
    MC_TRY(from, query_time(ctx, req, "from"));
    MC_TRY(to, query_time(ctx, req, "to"));
    q.from = *from;
    q.to = *to;
    auto [entries, total] = ctx.audit->list(*ctx.db, q);
    json::array items;
    for (const auto& s : entries) {
      items.emplace_back(json::object{{"id", std::to_string(s.seq)},
                                      {"seq", s.seq},
                                      {"at", format_time(ctx, s.at)},
                                      {"actor_id", s.e.actor_id},
                                      {"actor", s.e.actor},
                                      {"role", s.e.role},
                                      {"action", s.e.action},
                                      {"target", s.e.target},
                                      {"source", s.e.source},
                                      {"result", s.e.result},
                                      {"detail", s.e.detail},
                                      {"hash", s.hash}});
    }
    return Response::json(200, list_body(std::move(items), total, *pg));
  });

  r.add("GET", "/api/v1/audit/verify", [&ctx](Request& req) {
    MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
    auto v = ctx.audit->verify(*ctx.db);
    json::object o{{"ok", v.ok}, {"checked", v.checked}};
    if (v.first_bad_seq) o["first_bad_seq"] = *v.first_bad_seq;
    if (!v.reason.empty()) o["reason"] = v.reason;
    return Response::json(200, o);
  });
}

}  // namespace mingchu::http
