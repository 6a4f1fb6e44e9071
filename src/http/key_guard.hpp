// The open API for third parties (API.md "Conventions", seed 001 §5.1.4): every call made with
// an API key (outside ingest, which has its own receipts) is rate-limited per key and
// written to the audit log. Which resources a key may read is the key's scope (auth).
//
// A token bucket per key: `rate` calls a second on average, bursts of `burst`. Calls the
// server makes to itself (an export paging through its list) are not counted again.
// Thread safe; the buckets live in memory, one set per node.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"

namespace mingchu::audit {
class AuditLog;
}
namespace mingchu::storage {
class Database;
}

namespace mingchu::http {

struct Request;

struct KeyGuardOptions {
  double rate_per_second = 20;
  double burst = 40;
};

class KeyGuard {
 public:
  KeyGuard(const Clock& clock, storage::Database& db, const audit::AuditLog& audit, KeyGuardOptions opt)
      : clock_(clock), db_(db), audit_(audit), opt_(opt) {}
  // kRateLimited "rate_limited" when the key's bucket is empty; audits the call either way.
  Status admit(const auth::Principal& key, const Request& req);

 private:
  struct Bucket {
    double tokens = 0;
    TimeMs at = 0;
  };
  const Clock& clock_;
  storage::Database& db_;
  const audit::AuditLog& audit_;
  KeyGuardOptions opt_;
  std::mutex mu_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

}  // namespace mingchu::http
