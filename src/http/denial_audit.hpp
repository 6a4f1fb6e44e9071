// The audit of refused requests (GB/T 22239 level 2: security-relevant events are recorded,
// not only the successful ones). A 403, a 404 answered to an authenticated caller (how an
// object outside the caller's scope answers, by design indistinguishable from a missing one)
// and a 401 for a credential that was presented but refused become audit entries:
//   action "http.<METHOD>", target the path, result "denied: <status>", detail the route.
//
// A flood must not fill the disk: each caller (actor, or source address when anonymous) has a
// bucket of kBurst entries refilled at kPerMinute a minute by the injected clock, and the whole
// process kGlobalPerMinute a minute; what a bucket refuses is counted and reported as
// "suppressed=N" in that caller's next entry (and in mingchu_audit_suppressed_total).
//
// Thread safety: record() may be called from any thread; it writes through the database.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "audit/audit_log.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "http/api.hpp"
#include "http/request.hpp"
#include "storage/database.hpp"

namespace mingchu::http {

class DenialAudit {
 public:
  static constexpr double kBurst = 20;
  static constexpr double kPerMinute = 20;
  static constexpr double kGlobalPerMinute = 600;

  DenialAudit(storage::Database& db, const audit::AuditLog& audit, const Clock& clock, Metrics* metrics)
      : db_(db), audit_(audit), clock_(clock), metrics_(metrics) {}

  // True when a response of this status to this request is worth an entry.
  static bool worth_recording(const Request& req, int status);
  // Records the refusal unless the caller's bucket is empty.
  void record(const Request& req, const std::string& route, int status, const std::string& body);

 private:
  struct Bucket {
    double tokens = kBurst;
    TimeMs refilled = 0;
    std::int64_t suppressed = 0;
  };
  static bool take(Bucket& b, TimeMs now, double burst, double per_minute);

  storage::Database& db_;
  const audit::AuditLog& audit_;
  const Clock& clock_;
  Metrics* metrics_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  Bucket global_{kGlobalPerMinute, 0, 0};
};

// Wraps every route of r so that refused requests are recorded (call after all routes are
// added). The DenialAudit lives as long as the router's handlers.
void add_denial_audit(Router& r, ApiContext& ctx);

}  // namespace mingchu::http
