#include "auth/login_throttle.hpp"

#include <algorithm>

namespace mingchu::auth {
namespace {

// Rows: ("u:" + account key, source) for an account from a source; ("*", source) for a source.
constexpr const char* kWholeSource = "*";
constexpr const char* kLockedUntil =
    "SELECT MAX(locked_until) FROM login_throttle WHERE source = $1 AND (account = $2 OR account = '*')";
constexpr const char* kEnsureRow =
    "INSERT INTO login_throttle (account, source, failures, locks, last_failure_at) VALUES ($1, $2, 0, 0, $3) "
    "ON CONFLICT (account, source) DO NOTHING";
// One statement, so concurrent failures on one key are each counted; old counts start over.
constexpr const char* kCountFailure =
    "UPDATE login_throttle SET failures = CASE WHEN last_failure_at < $3 THEN 1 ELSE failures + 1 END, "
    "locks = CASE WHEN last_failure_at < $4 THEN 0 ELSE locks END, last_failure_at = $5 "
    "WHERE account = $1 AND source = $2";
constexpr const char* kReadRow = "SELECT failures, locks FROM login_throttle WHERE account = $1 AND source = $2";
constexpr const char* kLock =
    "UPDATE login_throttle SET failures = 0, locks = $3, locked_until = $4 WHERE account = $1 AND source = $2";
constexpr const char* kForget = "DELETE FROM login_throttle WHERE account = $1 AND source = $2";
constexpr const char* kForgetAccount = "DELETE FROM login_throttle WHERE account = $1";
constexpr const char* kForgetOld =
    "DELETE FROM login_throttle WHERE last_failure_at < $1 AND (locked_until IS NULL OR locked_until < $1)";

std::string account_row(const std::string& key) { return "u:" + key; }

}  // namespace

TimeMs LoginThrottle::locked_for(storage::Connection& c, const std::string& account_key,
                                 const std::string& source) const {
  storage::Rows r = c.query(kLockedUntil, {source, account_row(account_key)});
  if (r.empty() || r[0].is_null(0)) return 0;
  return std::max<TimeMs>(0, r[0].integer(0) - clock_.now_ms());
}

std::optional<LoginThrottle::Lock> LoginThrottle::count(storage::Connection& c, const std::string& account,
                                                        const std::string& source, int threshold) const {
  TimeMs now = clock_.now_ms();
  c.exec(kEnsureRow, {account, source, now});
  c.exec(kCountFailure, {account, source, now - config_.first_lock, now - kDayMs, now});
  storage::Rows r = c.query(kReadRow, {account, source});
  if (r.empty() || r[0].integer(0) < threshold) return std::nullopt;
  std::int64_t nth = r[0].integer(1) + 1;
  TimeMs span = config_.first_lock;
  for (std::int64_t i = 1; i < nth && span < config_.max_lock; ++i) span *= 2;
  span = std::min(span, config_.max_lock);
  Lock lock{account == kWholeSource, now + span, nth};
  c.exec(kLock, {account, source, nth, lock.until});
  return lock;
}

std::optional<LoginThrottle::Lock> LoginThrottle::record_failure(storage::Connection& c, const std::string& account_key,
                                                                 const std::string& source) const {
  // keep the table to the keys that failed lately
  c.exec(kForgetOld, {clock_.now_ms() - kDayMs});
  auto by_account = count(c, account_row(account_key), source, config_.per_account_source);
  auto by_source = count(c, kWholeSource, source, config_.per_source);
  return by_source ? by_source : by_account;
}

void LoginThrottle::record_success(storage::Connection& c, const std::string& account_key,
                                   const std::string& source) const {
  c.exec(kForget, {account_row(account_key), source});
}

void LoginThrottle::clear_account(storage::Connection& c, const std::string& account_key) const {
  c.exec(kForgetAccount, {account_row(account_key)});
}

}  // namespace mingchu::auth
