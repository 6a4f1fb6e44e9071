// Small helpers every handler uses: authentication, JSON bodies, paging, list answers.
#pragma once

#include <optional>
#include <string>

#include "auth/principal.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "http/api.hpp"
#include "http/request.hpp"
#include "storage/database.hpp"

namespace mingchu::http {

// The one parser of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235; the
// token a b64token, RFC 6750). 401 when missing or malformed.
Result<std::string> bearer_token(const Request& req);
// Authenticates a user session (Bearer) or an API key (X-Api-Key); never a token in the URL.
// A key needs the permission read for GET/HEAD and write for anything else (403 otherwise);
// ingest routes call authenticate_ingest, which needs the permission ingest. Notes the
// caller in req (actor fields) for the audit of refused requests.
Result<auth::Principal> authenticate(ApiContext& ctx, const Request& req);
Result<auth::Principal> authenticate_ingest(ApiContext& ctx, const Request& req);
// For URLs a browser opens without headers (the SSE stream): the headers as above, else a
// ticket of this purpose (?ticket=), else a session token in ?access_token= (older clients).
Result<auth::Principal> authenticate_in_url(ApiContext& ctx, const Request& req, std::string_view purpose);
// True for "application/json" in any case, with optional parameters (charset only utf-8).
bool is_json_media_type(std::string_view content_type);
// As authenticate, plus a role check (403 when weaker than min_role).
Result<auth::Principal> authenticate_role(ApiContext& ctx, const Request& req, auth::Role min_role);

// The JSON object body; 415 unless Content-Type is application/json, 400 when malformed.
Result<json::object> read_json(const Request& req);

struct PageParams {
  int page = 1;
  int page_size = 20;
  int offset() const { return (page - 1) * page_size; }
};
Result<PageParams> page_params(const Request& req);
json::object list_body(json::array items, std::int64_t total, const PageParams& p);

// An optional id from the query string, refused (422) when it is not a plausible id.
Result<std::optional<std::string>> query_id(const Request& req, std::string_view name);
// An optional time from the query string: RFC 3339, or a date (YYYY-MM-DD) meaning its start
// in the configured time zone (ApiOptions::utc_offset_minutes).
Result<std::optional<TimeMs>> query_time(const ApiContext& ctx, const Request& req, std::string_view name);
// The path parameter as an id; 404 when implausible (never reaches storage).
Result<std::string> path_id(const Request& req, std::string_view name = "id");

// What a write on one object (POST /things/{id}/action) starts with, in this order:
// the caller, the path id, the JSON body.
struct ObjectWrite {
  auth::Principal who;
  std::string id;
  json::object body;
};
Result<ObjectWrite> begin_object_write(ApiContext& ctx, const Request& req);

// The one way a handler unwraps a Result: `MC_TRY(page, service.list(...));` declares `page`
// and, when it holds an error, answers that error (Response::error: its status and JSON).
// Results inside a function that itself returns a Result pass errors on with
// `if (!x) return x.error();`.
#define MC_TRY(var, expr) \
  auto var = (expr);      \
  if (!var) return Response::error(var.error())

// Wraps a handler body: maps a Result's error to its JSON answer.
template <typename T>
Response respond(const Result<T>& r, int status = 200) {
  if (!r) return Response::error(r.error());
  return Response::json(status, *r);
}

// The one mapping of storage failures to answers (the server's catch-all, guarded() and
// db_failure() all use it): an unreachable database is 503 "unavailable" (retry later), a
// unique index that refused a row (a race the domain's own check lost) is 409 "conflict";
// anything else is a bug: nullopt, and the server answers 500 with the request id.
std::optional<Error> db_error_answer(const storage::DbError& e);
// Response::error(db_error_answer(e)), or rethrows e (a bug) for the server to answer 500.
Response db_failure(const storage::DbError& e);

// A browser asking for a page (Accept names text/html and not application/json).
bool wants_html(const Request& req);
// The public single-page app (web_root/public/index.html, public page headers, no-cache) when the
// client wants HTML and the page exists; nullopt otherwise (the route answers its JSON). The
// route adds `Vary: Accept` to either answer.
std::optional<Response> public_page_html(const ApiContext& ctx, const Request& req);
template <typename Fn>
Response guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const storage::DbError& e) {
    return db_failure(e);
  }
}

std::string format_time(const ApiContext& ctx, TimeMs t);
json::value time_or_null(const ApiContext& ctx, std::optional<TimeMs> t);

}  // namespace mingchu::http
