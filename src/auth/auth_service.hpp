// Accounts, sessions, password policy, lockout and API keys (GB/T 22239 level 2:
// unique login, strong passwords changed regularly, lockout after failed logins, session
// timeout and limits). Passwords are Argon2id hashes; session tokens and API keys are
// stored only as SHA-256 hashes, so a leaked database does not leak a usable credential.
//
// Thread safety: all methods may be called concurrently; state lives in the database.
// Every login, failed login, logout and write is an audit entry.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/login_throttle.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "crypto/password.hpp"
#include "storage/database.hpp"

namespace mingchu::auth {

struct AuthConfig {
  int password_min_length = 8;
  int password_max_age_days = 90;  // 0 = never expires
  int lockout_threshold = 5;       // failures of one account from one source
  int lockout_minutes = 15;        // the first lock; each further one doubles (at most a day)
  int source_lockout_threshold = 30;  // failures from one source, whatever the accounts
  int session_idle_minutes = 30;
  int session_max_hours = 12;
  int max_sessions_per_user = 5;
  crypto::PasswordCost password_cost = crypto::PasswordCost::interactive();
};

struct User {
  std::string id;
  std::string username;
  std::string display_name;
  Role role = Role::kMerchant;
  std::string jurisdiction_id;
  std::vector<std::string> unit_ids;
  TimeMs created_at = 0;
  TimeMs password_changed_at = 0;
  bool disabled = false;
};

struct NewUser {
  std::string username;
  std::string password;
  std::string display_name;
  Role role = Role::kMerchant;
  std::string jurisdiction_id;
  std::vector<std::string> unit_ids;
};

struct LoginResult {
  std::string token;
  TimeMs expires_at = 0;
  User user;
  bool password_expired = false;
};

struct ApiKeyScope {
  std::string unit_id;
  std::string jurisdiction_id;
  bool ingest_only = false;
  unsigned permissions = kPermIngest;  // KeyPermission bits; least privilege by default
  // The collections the key may read/write (first path segment after /api/v1/: "alerts",
  // "units", ...); empty = every collection its permissions allow. Ingest is not limited.
  std::vector<std::string> resources;
};

// What an administrator may change about a user; absent fields stay. A change of role,
// scope or the disabled flag ends every session of the user.
struct UserPatch {
  std::optional<std::string> display_name;
  std::optional<Role> role;
  std::optional<std::string> jurisdiction_id;
  std::optional<std::vector<std::string>> unit_ids;
  std::optional<bool> disabled;
};

// A short-lived, single-use credential for one purpose, for URLs a browser opens without
// headers (EventSource, <video src>): the session token itself never appears in a URL.
struct Ticket {
  std::string ticket;   // only when just issued
  std::string purpose;  // "stream" | "media"
  TimeMs expires_at = 0;
};

struct ApiKey {
  std::string id;
  std::string name;
  std::string key;  // only when just created
  ApiKeyScope scope;
  TimeMs created_at = 0;
  std::optional<TimeMs> revoked_at;
};

class AuthService {
 public:
  AuthService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, AuthConfig config);

  // On a lockout (423), *retry_after_ms (when given) says how long until the next try.
  Result<LoginResult> login(const std::string& username, const std::string& password, const std::string& source,
                            TimeMs* retry_after_ms = nullptr);
  // A session token (Bearer) → Principal; refreshes the idle timer.
  Result<Principal> authenticate_token(const std::string& token, const std::string& source);
  // The same, by the token's hash (Principal::session_hash): streams recheck their session so.
  Result<Principal> authenticate_session(const std::string& token_hash, const std::string& source);
  Result<Principal> authenticate_api_key(const std::string& key, const std::string& source);
  // Ends who's session (who.session_hash).
  Status logout(const Principal& who);
  // Ends every other session of the user.
  Status change_password(const Principal& who, const std::string& old_password, const std::string& new_password);

  // Bumped whenever sessions end (logout, password change, user change, disable): open
  // streams of this process recheck their credential when it moves.
  std::uint64_t revocation_epoch() const { return revocations_.load(std::memory_order_acquire); }

  // Tickets (tickets.cpp): issued to a session for a purpose, good once within kTicketTtl;
  // the redeemed Principal carries the session's hash, so the ticket dies with the session.
  static constexpr TimeMs kTicketTtl = 60 * kSecondMs;
  Result<Ticket> issue_ticket(const Principal& who, const std::string& purpose);
  Result<Principal> redeem_ticket(const std::string& ticket, std::string_view purpose, const std::string& source);

  // User administration (user_admin.cpp): only inside the caller's scope (404 outside it),
  // never stronger than the caller, never one's own role, scope or account.
  Result<User> update_user(const Principal& who, const std::string& id, const UserPatch& patch);
  // Lifts the login locks of the user from every source.
  Status unlock_user(const Principal& who, const std::string& id);

  // Creates a user inside the creator's scope, never stronger than the creator.
  Result<User> create_user(const Principal& creator, const NewUser& u);
  // Used by `mingchu admin create-user` and the demo: no creator checks.
  Result<User> create_user_unchecked(const NewUser& u, const std::string& actor);
  Result<User> get_user(const Principal& who, const std::string& id);
  std::pair<std::vector<User>, std::int64_t> list_users(const Principal& who, int page, int page_size);

  Result<ApiKey> create_api_key(const Principal& creator, const std::string& name, const ApiKeyScope& scope);
  Status revoke_api_key(const Principal& who, const std::string& id);
  std::vector<ApiKey> list_api_keys(const Principal& who);

  // Empty when the password satisfies the policy, else the reason.
  std::optional<std::string> password_policy_violation(const std::string& username, const std::string& pw) const;
  const AuthConfig& config() const { return config_; }

  static std::string hash_secret(const std::string& secret);  // SHA-256 hex

 private:
  Result<Principal> principal_for(storage::Connection& c, const std::string& user_id, const std::string& source);
  User load_user(storage::Connection& c, const storage::Row& r);
  Result<std::string> jurisdiction_path(storage::Connection& c, const std::string& jurisdiction_id);
  // Checks that who may give a user this role and scope (creating or changing one).
  Status check_grant(storage::Connection& c, const Principal& who, Role role, const std::string& jurisdiction_id,
                     const std::vector<std::string>& unit_ids);
  // Ends the user's sessions except `keep_hash` (inside c's transaction) and wakes streams.
  void end_sessions(storage::Connection& c, const std::string& user_id, const std::string& keep_hash);
  void revoked() { revocations_.fetch_add(1, std::memory_order_acq_rel); }

  storage::Database& db_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
  AuthConfig config_;
  std::string dummy_hash_;  // verified against for unknown users, so timing does not tell
  LoginThrottle throttle_;
  std::atomic<std::uint64_t> revocations_{0};

  // Attempts refused while locked are audited at most kRefusalsPerMinute a minute per source
  // (a locked-out attacker hammering login must not fill the disk); the next entry written for
  // that source says how many were left out ("suppressed=N").
  static constexpr int kRefusalsPerMinute = 10;
  struct Refusals {
    TimeMs minute = 0;
    int written = 0;
    std::int64_t suppressed = 0;
  };
  std::mutex refusals_mu_;
  std::unordered_map<std::string, Refusals> refusals_;
  // True when this refusal is to be audited; sets detail to the suppressed count if any.
  bool audit_refusal(const std::string& source, TimeMs now, std::string& detail);

  // API keys seen lately (by key hash): an AI box sends many events a second, each one
  // authenticated. An entry is trusted while api_keys is unchanged in this process
  // (storage::table_generation; revoke_api_key also drops them all) and for at most
  // kApiKeyCacheTtl, the time a revocation on another node takes to be seen here.
  struct CachedKey {
    Principal principal;
    std::uint64_t generation = 0;
    std::chrono::steady_clock::time_point fetched;
  };
  static constexpr std::chrono::seconds kApiKeyCacheTtl{5};
  std::mutex keys_mu_;
  std::unordered_map<std::string, CachedKey> keys_;
};

// An audit entry for an action by p.
audit::Entry audit_entry(const Principal& p, std::string action, std::string target, std::string detail = "");

}  // namespace mingchu::auth
