#include "http/denial_audit.hpp"

#include <algorithm>
#include <atomic>
#include <memory>

#include "core/log.hpp"

namespace mingchu::http {
namespace {

constexpr size_t kMaxBuckets = 10000;
constexpr size_t kMaxTarget = 200;

bool presented_credentials(const Request& req) {
  return req.header("authorization") || req.header("x-api-key") || req.query_param("access_token") ||
         req.query_param("ticket");
}

// The error code of a JSON error body, for the detail ("not_found", "forbidden"…); the body is
// our own, so a plain search is enough.
std::string error_code_of(const std::string& body) {
  auto at = body.find("\"code\":\"");
  if (at == std::string::npos) return {};
  at += 8;
  auto end = body.find('"', at);
  if (end == std::string::npos || end - at > 64) return {};
  return body.substr(at, end - at);
}

}  // namespace

bool DenialAudit::worth_recording(const Request& req, int status) {
  if (status == 403) return true;
  if (status == 404) return !req.actor.empty();
  if (status == 401) return presented_credentials(req) && req.path != "/api/v1/auth/login";
  return false;
}

bool DenialAudit::take(Bucket& b, TimeMs now, double burst, double per_minute) {
  if (b.refilled == 0) b.refilled = now;
  if (now > b.refilled) {
    b.tokens = std::min(burst, b.tokens + static_cast<double>(now - b.refilled) * per_minute / 60000.0);
    b.refilled = now;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void DenialAudit::record(const Request& req, const std::string& route, int status, const std::string& body) {
  std::string key = req.actor_id.empty() ? "src:" + req.remote : "actor:" + req.actor_id;
  std::int64_t suppressed = 0;
  {
    std::lock_guard g(mu_);
    TimeMs now = clock_.now_ms();
    if (buckets_.size() > kMaxBuckets) buckets_.clear();
    Bucket& b = buckets_[key];
    if (!take(b, now, kBurst, kPerMinute) || !take(global_, now, kGlobalPerMinute, kGlobalPerMinute)) {
      ++b.suppressed;
      if (metrics_) {
        metrics_->counter("mingchu_audit_suppressed_total", "", "Refused requests not audited (rate limit)").inc();
      }
      return;
    }
    suppressed = b.suppressed;
    b.suppressed = 0;
  }
  audit::Entry e;
  e.actor_id = req.actor_id;
  e.actor = req.actor.empty() ? "anonymous" : req.actor;
  e.role = req.actor_role;
  e.action = "http." + req.method.substr(0, 10);
  e.target = req.path.substr(0, kMaxTarget);
  e.source = req.remote;
  e.result = "denied: " + std::to_string(status);
  e.detail = "route=" + route;
  if (std::string code = error_code_of(body); !code.empty()) e.detail += " code=" + code;
  if (suppressed > 0) e.detail += " suppressed=" + std::to_string(suppressed);
  try {
    audit_.append(db_, e);
  } catch (const std::exception& ex) {
    // the refusal itself stands; losing its trace is logged, never turned into a 500
    log::warn("audit of a refused request failed", {{"error", ex.what()}, {"path", e.target}});
  }
}

void add_denial_audit(Router& r, ApiContext& ctx) {
  // shared by every wrapped handler's closure; lives as long as the router's handlers
  auto audit = std::make_shared<DenialAudit>(*ctx.db, *ctx.audit, *ctx.clock, ctx.metrics);
  r.wrap_handlers(
      [audit](const Route& route, Handler h) -> Handler {
        return [audit, h = std::move(h), pattern = route.pattern](Request& req) {
          Response resp = h(req);
          if (DenialAudit::worth_recording(req, resp.status)) audit->record(req, pattern, resp.status, resp.body);
          return resp;
        };
      },
      [audit](const Route& route, AsyncHandler h) -> AsyncHandler {
        return [audit, h = std::move(h), pattern = route.pattern](Request& req, std::function<void(Response)> done) {
          // Only answers given before the handler returns (authentication and validation) are
          // recorded: a later completion runs on a busy thread (the ingest writer) that must not
          // wait for an audit transaction.
          auto inside = std::make_shared<std::atomic<bool>>(true);
          h(req, [audit, pattern, inside, &req, done = std::move(done)](Response resp) {
            if (*inside && DenialAudit::worth_recording(req, resp.status)) {
              audit->record(req, pattern, resp.status, resp.body);
            }
            done(std::move(resp));
          });
          *inside = false;
        };
      });
}

}  // namespace mingchu::http
