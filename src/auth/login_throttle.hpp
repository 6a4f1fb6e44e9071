// Throttling of failed logins, per account AND source, and per source (GB/T 22239 level 2:
// limit failed logins, without handing attackers a way to lock owners out).
//
// - An account that fails `per_account_source` times from one source address within
//   `first_lock` is locked for that source only: an attacker's failures from elsewhere never
//   lock the owner out of their own office.
// - A source that fails `per_source` times within `first_lock`, whatever the accounts, is
//   locked altogether (password spraying).
// - Locks grow: the n-th lock of the same key within a day lasts first_lock × 2^(n-1), at most
//   `max_lock`. Attempts refused while locked are not counted.
// - Unknown user names are throttled exactly like existing ones (keyed by the typed name's
//   key), so the answers never tell whether an account exists.
//
// State lives in the table login_throttle, so the limits hold across nodes. Methods take the
// caller's connection (inside its transaction where they write). Thread safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "storage/database.hpp"

namespace mingchu::auth {

struct ThrottleConfig {
  int per_account_source = 5;
  int per_source = 30;
  TimeMs first_lock = 15 * kMinuteMs;
  TimeMs max_lock = 24 * kHourMs;
};

class LoginThrottle {
 public:
  LoginThrottle(const Clock& clock, ThrottleConfig config) : clock_(clock), config_(config) {}

  // Milliseconds until account_key may try again from source; 0 when it may now.
  TimeMs locked_for(storage::Connection& c, const std::string& account_key, const std::string& source) const;

  struct Lock {
    bool whole_source = false;  // the source's lock, not the account's
    TimeMs until = 0;
    std::int64_t nth = 0;  // the how-many-th lock of this key
  };
  // Counts a failure; answers the lock it started, if it started one. c is in a transaction.
  std::optional<Lock> record_failure(storage::Connection& c, const std::string& account_key,
                                     const std::string& source) const;
  // A successful login forgets the account's failures from that source.
  void record_success(storage::Connection& c, const std::string& account_key, const std::string& source) const;
  // An administrator's unlock: the account's failures and locks from every source.
  void clear_account(storage::Connection& c, const std::string& account_key) const;

 private:
  std::optional<Lock> count(storage::Connection& c, const std::string& account, const std::string& source,
                            int threshold) const;

  const Clock& clock_;
  ThrottleConfig config_;
};

}  // namespace mingchu::auth
