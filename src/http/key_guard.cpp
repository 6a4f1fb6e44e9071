#include "http/key_guard.hpp"

#include <algorithm>

#include "audit/audit_log.hpp"
#include "core/json.hpp"
#include "http/request.hpp"
#include "storage/database.hpp"

namespace mingchu::http {

Status KeyGuard::admit(const auth::Principal& key, const Request& req) {
  bool allowed;
  {
    std::lock_guard g(mu_);
    TimeMs now = clock_.now_ms();
    auto [it, fresh] = buckets_.try_emplace(key.user_id, Bucket{opt_.burst, now});
    Bucket& b = it->second;
    if (!fresh) {
      b.tokens = std::min(opt_.burst, b.tokens + opt_.rate_per_second * static_cast<double>(std::max<TimeMs>(0, now - b.at)) / 1000.0);
      b.at = now;
    }
    allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    if (buckets_.size() > 100000) buckets_.clear();  // bounded: revoked and idle keys are forgotten
  }
  audit::Entry e;
  e.actor_id = key.user_id;
  e.actor = key.username;
  e.role = "api_key";
  e.action = "api.call";
  e.target = req.method + " " + req.path;
  e.source = req.remote;
  e.result = allowed ? "ok" : "rate_limited";
  json::object q;
  for (const auto& [k, v] : req.query) q[k] = v.substr(0, 200);
  e.detail = json::serialize(json::object{{"query", std::move(q)}, {"request_id", req.request_id}});
  audit_.append(db_, e);
  if (!allowed) {
    return Error{ErrorKind::kRateLimited, "rate_limited",
                 "too many calls with this API key; at most " + std::to_string(static_cast<int>(opt_.rate_per_second)) +
                     " a second",
                 {}};
  }
  return ok_status();
}

}  // namespace mingchu::http
