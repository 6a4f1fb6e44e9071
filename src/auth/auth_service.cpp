#include "auth/auth_service.hpp"

#include <algorithm>

#include "auth/username.hpp"
#include "core/ids.hpp"
#include "core/text.hpp"
#include "crypto/sm3.hpp"

namespace mingchu::auth {
namespace {

constexpr const char* kUserColumns =
    "SELECT id, username, display_name, role, jurisdiction_id, created_at, password_changed_at, disabled FROM users";
constexpr const char* kUserByName =
    "SELECT id, password_hash, disabled, password_changed_at FROM users WHERE username_key = $1";
constexpr const char* kInsertSession =
    "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, source) VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* kSessionByHash = "SELECT user_id, last_seen_at, expires_at FROM sessions WHERE token_hash = $1";
constexpr const char* kTouchSession = "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2";
constexpr const char* kDeleteSession = "DELETE FROM sessions WHERE token_hash = $1";
constexpr const char* kUserSessionsExcept = "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2";
constexpr const char* kUserSessions = "SELECT token_hash FROM sessions WHERE user_id = $1 ORDER BY last_seen_at DESC, created_at DESC";
constexpr const char* kJurisdictionPath = "SELECT path FROM jurisdictions WHERE id = $1";
constexpr const char* kUnitJpath = "SELECT jpath FROM units WHERE id = $1 AND deleted_at IS NULL";
constexpr const char* kInsertUser =
    "INSERT INTO users (id, username, display_name, role, jurisdiction_id, password_hash, password_changed_at, "
    "created_by, created_at, username_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
constexpr const char* kInsertUserUnit = "INSERT INTO user_units (user_id, unit_id) VALUES ($1, $2)";
constexpr const char* kUserUnits = "SELECT unit_id FROM user_units WHERE user_id = $1 ORDER BY unit_id";

bool has_class(const std::string& s, int cls) {
  for (unsigned char c : s) {
    bool lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9';
    if (cls == 0 && lower) return true;
    if (cls == 1 && upper) return true;
    if (cls == 2 && digit) return true;
    if (cls == 3 && !lower && !upper && !digit) return true;
  }
  return false;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool valid_username(const std::string& u) {
  if (u.size() < 3 || u.size() > 32) return false;
  return std::all_of(u.begin(), u.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

}  // namespace

audit::Entry audit_entry(const Principal& p, std::string action, std::string target, std::string detail) {
  audit::Entry e;
  e.actor_id = p.user_id;
  e.actor = p.username;
  e.role = p.is_api_key ? "api_key" : std::string(role_name(p.role));
  e.action = std::move(action);
  e.target = std::move(target);
  e.source = p.source;
  e.detail = std::move(detail);
  return e;
}

AuthService::AuthService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, AuthConfig config)
    : db_(db),
      clock_(clock),
      audit_(audit),
      config_(std::move(config)),
      dummy_hash_(crypto::hash_password(random_hex(16), config_.password_cost)),
      throttle_(clock, ThrottleConfig{config_.lockout_threshold, config_.source_lockout_threshold,
                                      config_.lockout_minutes * kMinuteMs, kDayMs}) {}

std::string AuthService::hash_secret(const std::string& secret) { return crypto::sha256_hex(secret); }

std::optional<std::string> AuthService::password_policy_violation(const std::string& username,
                                                                  const std::string& pw) const {
  if (static_cast<int>(pw.size()) < config_.password_min_length) {
    return "password must have at least " + std::to_string(config_.password_min_length) + " characters";
  }
  if (pw.size() > 128) return "password must have at most 128 characters";
  int classes = 0;
  for (int c = 0; c < 4; ++c) classes += has_class(pw, c) ? 1 : 0;
  if (classes < 3) return "password must mix at least three of: lower case, upper case, digits, symbols";
  if (!username.empty() && lower(pw).find(lower(username)) != std::string::npos) {
    return "password must not contain the user name";
  }
  return std::nullopt;
}

Result<LoginResult> AuthService::login(const std::string& username, const std::string& password,
                                       const std::string& source, TimeMs* retry_after_ms) {
  TimeMs now = clock_.now_ms();
  audit::Entry e;
  e.actor = username.substr(0, 64);
  e.action = "auth.login";
  e.source = source;
  // Unknown and existing names take the same path and give the same answers: the throttle is
  // keyed by what was typed, the password is always verified (against a dummy for nobody).
  std::string name_key = username_key(username).value_or(username).substr(0, 128);
  const Error wrong{
      ErrorKind::kUnauthorized, "invalid_credentials", "用户名或密码错误 / wrong user name or password", {}};
  auto locked = [&](TimeMs for_ms) {
    if (retry_after_ms) *retry_after_ms = for_ms;
    return Error{ErrorKind::kLocked,
                 "account_locked",
                 "登录失败次数过多，请稍后再试 / too many failed logins; try again later",
                 {}};
  };
  std::string user_id;
  std::string stored_hash = dummy_hash_;
  bool disabled = false;
  TimeMs changed_at = 0;
  {
    storage::Conn c = db_.acquire();
    if (TimeMs wait = throttle_.locked_for(*c, name_key, source); wait > 0) {
      e.result = "refused: locked";
      if (audit_refusal(source, now, e.detail)) audit_.append(db_, e);
      return locked(wait);
    }
    storage::Rows r = c->query(kUserByName, {name_key});
    if (!r.empty()) {
      user_id = r[0].text(0);
      stored_hash = r[0].text(1);
      disabled = r[0].boolean(2);
      changed_at = r[0].integer(3);
    }
  }
  bool verified = crypto::verify_password(stored_hash, password);
  if (user_id.empty() || disabled || !verified) {
    e.actor_id = user_id;
    e.result = user_id.empty() ? "failed: unknown user" : disabled ? "failed: disabled" : "failed: wrong password";
    std::optional<LoginThrottle::Lock> lock;
    db_.in_transaction([&](storage::Connection& c) {
      lock = throttle_.record_failure(c, name_key, source);
      audit_.append(c, e);
      if (lock) {
        audit::Entry l = e;
        l.action = "auth.lockout";
        l.result = "locked";
        l.detail = std::string(lock->whole_source ? "scope=source" : "scope=account+source") +
                   " lock=" + std::to_string(lock->nth) + " seconds=" + std::to_string((lock->until - now) / 1000);
        audit_.append(c, l);
      }
    });
    if (lock) return locked(lock->until - now);
    return wrong;
  }
  std::string token = random_token(32);
  TimeMs expires = now + config_.session_max_hours * kHourMs;
  LoginResult out;
  db_.in_transaction([&](storage::Connection& c) {
    throttle_.record_success(c, name_key, source);
    // the per-user session limit: the oldest sessions make room
    storage::Rows sessions = c.query(kUserSessions, {user_id});
    for (size_t i = static_cast<size_t>(std::max(0, config_.max_sessions_per_user - 1)); i < sessions.size(); ++i) {
      c.exec(kDeleteSession, {sessions[i].text(0)});
    }
    c.exec(kInsertSession, {hash_secret(token), user_id, now, now, expires, source});
    storage::Rows ur = c.query(std::string(kUserColumns) + " WHERE id = $1", {user_id});
    out.user = load_user(c, ur[0]);
    e.actor_id = user_id;
    e.role = std::string(role_name(out.user.role));
    e.result = "ok";
    audit_.append(c, e);
  });
  out.token = token;
  out.expires_at = expires;
  out.password_expired =
      config_.password_max_age_days > 0 && now - changed_at > config_.password_max_age_days * kDayMs;
  return out;
}

bool AuthService::audit_refusal(const std::string& source, TimeMs now, std::string& detail) {
  std::lock_guard g(refusals_mu_);
  if (refusals_.size() > 10000) refusals_.clear();
  Refusals& r = refusals_[source];
  if (now / kMinuteMs != r.minute) {
    r.minute = now / kMinuteMs;
    r.written = 0;
  }
  if (r.written >= kRefusalsPerMinute) {
    ++r.suppressed;
    return false;
  }
  ++r.written;
  if (r.suppressed > 0) detail = "suppressed=" + std::to_string(r.suppressed);
  r.suppressed = 0;
  return true;
}

Result<Principal> AuthService::authenticate_token(const std::string& token, const std::string& source) {
  if (token.empty() || token.size() > 128) return Error::unauthorized("missing or malformed token");
  return authenticate_session(hash_secret(token), source);
}

Result<Principal> AuthService::authenticate_session(const std::string& h, const std::string& source) {
  TimeMs now = clock_.now_ms();
  storage::Conn c = db_.acquire();
  storage::Rows r = c->query(kSessionByHash, {h});
  if (r.empty()) return Error::unauthorized("not logged in or session ended");
  TimeMs last = r[0].integer(1), expires = r[0].integer(2);
  if (now >= expires || now - last > config_.session_idle_minutes * kMinuteMs) {
    c->exec(kDeleteSession, {h});
    return Error{ErrorKind::kUnauthorized, "session_expired", "会话已超时，请重新登录 / session expired", {}};
  }
  // refresh the idle timer at most every 30 s to keep reads cheap
  if (now - last > 30 * kSecondMs) c->exec(kTouchSession, {now, h});
  auto p = principal_for(*c, r[0].text(0), source);
  if (p) p->session_hash = h;
  if (p && !p->is_api_key && config_.password_max_age_days > 0) {
    storage::Rows u = c->query("SELECT password_changed_at FROM users WHERE id = $1", {p->user_id});
    p->password_expired = !u.empty() && now - u[0].integer(0) > config_.password_max_age_days * kDayMs;
  }
  return p;
}

Result<Principal> AuthService::principal_for(storage::Connection& c, const std::string& user_id,
                                             const std::string& source) {
  storage::Rows r = c.query(std::string(kUserColumns) + " WHERE id = $1", {user_id});
  if (r.empty()) return Error::unauthorized("user no longer exists");
  User u = load_user(c, r[0]);
  if (u.disabled) return Error::unauthorized("user disabled");
  Principal p;
  p.user_id = u.id;
  p.username = u.username;
  p.display_name = u.display_name;
  p.role = u.role;
  p.jurisdiction_id = u.jurisdiction_id;
  p.unit_ids = u.unit_ids;
  p.source = source;
  if (u.role == Role::kPlatformAdmin) {
    p.jpath = "/";
  } else if (u.role == Role::kRegulator) {
    auto path = jurisdiction_path(c, u.jurisdiction_id);
    if (!path) return Error::unauthorized("the user's jurisdiction no longer exists");
    p.jpath = *path;
  }
  return p;
}

Result<std::string> AuthService::jurisdiction_path(storage::Connection& c, const std::string& jurisdiction_id) {
  storage::Rows r = c.query(kJurisdictionPath, {jurisdiction_id});
  if (r.empty()) return Error::not_found("jurisdiction");
  return r[0].text(0);
}

User AuthService::load_user(storage::Connection& c, const storage::Row& r) {
  User u;
  u.id = r.text(0);
  u.username = r.text(1);
  u.display_name = r.text(2);
  u.role = parse_role(r.text(3)).value_or(Role::kMerchant);
  u.jurisdiction_id = r.text(4);
  u.created_at = r.integer(5);
  u.password_changed_at = r.integer(6);
  u.disabled = r.boolean(7);
  for (const auto& ur : c.query(kUserUnits, {u.id})) u.unit_ids.push_back(ur.text(0));
  return u;
}

Status AuthService::logout(const Principal& who) {
  if (who.session_hash.empty()) return Error::forbidden("only a session logs out");
  db_.in_transaction([&](storage::Connection& c) {
    c.exec(kDeleteSession, {who.session_hash});
    audit_.append(c, audit_entry(who, "auth.logout", "user:" + who.user_id));
  });
  revoked();
  return ok_status();
}

void AuthService::end_sessions(storage::Connection& c, const std::string& user_id, const std::string& keep_hash) {
  c.exec(kUserSessionsExcept, {user_id, keep_hash});
  c.exec("DELETE FROM auth_tickets WHERE user_id = $1 AND session_hash <> $2", {user_id, keep_hash});
}

Status AuthService::change_password(const Principal& who, const std::string& old_password,
                                    const std::string& new_password) {
  if (who.is_api_key) return Error::forbidden("API keys have no password");
  std::string stored;
  {
    storage::Conn c = db_.acquire();
    storage::Rows r = c->query("SELECT password_hash FROM users WHERE id = $1", {who.user_id});
    if (r.empty()) return Error::unauthorized("user no longer exists");
    stored = r[0].text(0);
  }
  if (!crypto::verify_password(stored, old_password)) {
    audit::Entry e = audit_entry(who, "auth.password_change", "user:" + who.user_id);
    e.result = "failed: wrong old password";
    audit_.append(db_, e);
    return Error::invalid("old_password", "wrong_password", "the current password is wrong");
  }
  if (auto why = password_policy_violation(who.username, new_password)) {
    return Error::invalid("new_password", "weak_password", *why);
  }
  if (new_password == old_password) {
    return Error::invalid("new_password", "password_reused", "the new password must differ from the current one");
  }
  std::string h = crypto::hash_password(new_password, config_.password_cost);
  TimeMs now = clock_.now_ms();
  db_.in_transaction([&](storage::Connection& c) {
    c.exec("UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3", {h, now, who.user_id});
    end_sessions(c, who.user_id, who.session_hash);
    audit_.append(c, audit_entry(who, "auth.password_change", "user:" + who.user_id, "other sessions ended"));
  });
  revoked();
  return ok_status();
}

Result<User> AuthService::create_user(const Principal& creator, const NewUser& u) {
  if (creator.is_api_key) return Error::forbidden("API keys cannot create users");
  {
    storage::Conn c = db_.acquire();
    if (auto st = check_grant(*c, creator, u.role, u.jurisdiction_id, u.unit_ids); !st) return st.error();
  }
  auto created = create_user_unchecked(u, creator.username);
  if (created) {
    audit_.append(db_, audit_entry(creator, "user.create", "user:" + created->id,
                                   std::string("role=") + std::string(role_name(u.role))));
  }
  return created;
}

Result<User> AuthService::create_user_unchecked(const NewUser& in, const std::string& actor) {
  // the name as NFKC (a fullwidth "ａｄｍｉｎ" is "admin"), unique by its case-folded key
  NewUser u = in;
  u.username = nfkc(in.username).value_or(in.username);
  auto key = username_key(u.username);
  if (!key || !valid_username(u.username)) {
    return Error::invalid("username", "invalid_username", "user name must be 3–32 letters, digits, '_', '.' or '-'");
  }
  if (auto why = password_policy_violation(u.username, u.password)) {
    return Error::invalid("password", "weak_password", *why);
  }
  if (u.role == Role::kRegulator && u.jurisdiction_id.empty()) {
    return Error::invalid("jurisdiction_id", "missing_field", "a regulator is bound to a jurisdiction");
  }
  if (u.role == Role::kMerchant && u.unit_ids.empty()) {
    return Error::invalid("unit_ids", "missing_field", "a merchant user is bound to at least one unit");
  }
  User out;
  out.id = new_id("user");
  out.username = u.username;
  out.display_name = u.display_name.empty() ? u.username : u.display_name;
  out.role = u.role;
  out.jurisdiction_id = u.role == Role::kRegulator ? u.jurisdiction_id : "";
  out.unit_ids = u.role == Role::kMerchant ? u.unit_ids : std::vector<std::string>{};
  out.created_at = clock_.now_ms();
  out.password_changed_at = out.created_at;
  std::string h = crypto::hash_password(u.password, config_.password_cost);
  try {
    db_.in_transaction([&](storage::Connection& c) {
      if (!out.jurisdiction_id.empty() && c.query(kJurisdictionPath, {out.jurisdiction_id}).empty()) {
        throw std::invalid_argument("jurisdiction");
      }
      c.exec(kInsertUser, {out.id, out.username, out.display_name, std::string(role_name(out.role)),
                           out.jurisdiction_id.empty() ? storage::Value(nullptr) : storage::Value(out.jurisdiction_id),
                           h, out.created_at, actor, out.created_at, *key});
      for (const auto& unit : out.unit_ids) {
        if (c.query(kUnitJpath, {unit}).empty()) throw std::out_of_range(unit);
        c.exec(kInsertUserUnit, {out.id, unit});
      }
    });
  } catch (const storage::DbError& e) {
    if (e.kind() == storage::DbError::Kind::kUnique) {
      return Error::conflict("username_taken", "user name '" + u.username + "' is taken (names ignore case)");
    }
    throw;
  } catch (const std::invalid_argument&) {
    return Error::invalid("jurisdiction_id", "not_found", "jurisdiction not found");
  } catch (const std::out_of_range& e) {
    return Error::invalid("unit_ids", "not_found", std::string("unit ") + e.what() + " not found");
  }
  return out;
}

Result<User> AuthService::get_user(const Principal& who, const std::string& id) {
  storage::Conn c = db_.acquire();
  storage::Rows r = c->query(std::string(kUserColumns) + " WHERE id = $1", {id});
  if (r.empty()) return Error::not_found("user");
  User u = load_user(*c, r[0]);
  if (who.is_admin() || u.id == who.user_id) return u;
  if (who.role == Role::kRegulator) {
    if (u.role == Role::kRegulator) {
      auto path = jurisdiction_path(*c, u.jurisdiction_id);
      if (path && who.covers_path(*path)) return u;
    } else if (u.role == Role::kMerchant) {
      for (const auto& unit : u.unit_ids) {
        storage::Rows ur = c->query(kUnitJpath, {unit});
        if (!ur.empty() && who.covers(ur[0].text(0), unit)) return u;
      }
    }
  }
  return Error::not_found("user");
}

std::pair<std::vector<User>, std::int64_t> AuthService::list_users(const Principal& who, int page, int page_size) {
  storage::Conn c = db_.acquire();
  std::string where = " WHERE 1 = 1";
  storage::Params p;
  if (who.role == Role::kMerchant) {
    p.emplace_back(who.user_id);
    where += " AND id = $1";
  } else if (!who.is_admin()) {
    // regulators: regulators of their subtree, and merchants of units in their subtree
    p.emplace_back(who.jpath);
    p.emplace_back(path_upper(who.jpath));
    where +=
        " AND (jurisdiction_id IN (SELECT id FROM jurisdictions WHERE path >= $1 AND path < $2) OR id IN (SELECT "
        "uu.user_id FROM user_units uu JOIN units un ON un.id = uu.unit_id WHERE un.jpath >= $1 AND un.jpath < $2))";
  }
  std::int64_t total = c->query("SELECT COUNT(*) FROM users" + where, p)[0].integer(0);
  p.emplace_back(std::int64_t{page_size});
  p.emplace_back(std::int64_t{(page - 1) * page_size});
  storage::Rows rows = c->query(std::string(kUserColumns) + where + " ORDER BY username LIMIT $" +
                                    std::to_string(p.size() - 1) + " OFFSET $" + std::to_string(p.size()),
                                p);
  std::vector<User> out;
  for (const auto& r : rows) out.push_back(load_user(*c, r));
  return {std::move(out), total};
}

Result<ApiKey> AuthService::create_api_key(const Principal& creator, const std::string& name,
                                           const ApiKeyScope& scope) {
  if (creator.is_api_key) return Error::forbidden("API keys cannot create API keys");
  if (creator.role == Role::kMerchant && scope.unit_id.empty()) {
    return Error::invalid("scope.unit_id", "missing_field", "a merchant's key is bound to one of their units");
  }
  // An explicit scope: a key never silently inherits its creator's whole jurisdiction.
  if (scope.unit_id.empty() && scope.jurisdiction_id.empty()) {
    return Error::invalid("scope", "missing_scope", "a key is bound to scope.unit_id or scope.jurisdiction_id");
  }
  constexpr unsigned kAll = kPermIngest | kPermRead | kPermWrite;
  if (scope.permissions == 0 || (scope.permissions & ~kAll) != 0) {
    return Error::invalid("permissions", "invalid_permissions", "permissions are one or more of ingest, read, write");
  }
  if (scope.ingest_only && scope.permissions != kPermIngest) {
    return Error::invalid("permissions", "conflicting_permissions",
                          "an ingest_only key has the permission ingest and nothing else");
  }
  std::string resources;
  for (size_t i = 0; i < scope.resources.size(); ++i) {
    const auto& r = scope.resources[i];
    bool plain = !r.empty() && r.size() <= 40 && r.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
    if (!plain) {
      return Error::invalid("resources[" + std::to_string(i) + "]", "invalid_resource",
                            "a resource is a collection name such as alerts or units");
    }
    if (!resources.empty()) resources += ',';
    resources += r;
  }
  std::string jpath;
  {
    storage::Conn c = db_.acquire();
    if (!scope.unit_id.empty()) {
      storage::Rows r = c->query(kUnitJpath, {scope.unit_id});
      if (r.empty() || !creator.covers(r[0].text(0), scope.unit_id)) {
        return Error::invalid("scope.unit_id", "out_of_scope", "unit not found in your scope");
      }
      jpath = r[0].text(0);
    } else if (!scope.jurisdiction_id.empty()) {
      auto path = jurisdiction_path(*c, scope.jurisdiction_id);
      if (!path || !creator.covers_path(*path)) {
        return Error::invalid("scope.jurisdiction_id", "out_of_scope", "jurisdiction not found in your scope");
      }
      jpath = *path;
    }
  }
  ApiKey k;
  k.id = new_id("key");
  k.name = name;
  k.key = "mck_" + random_token(40);
  k.scope = scope;
  k.scope.ingest_only = scope.permissions == kPermIngest;
  k.created_at = clock_.now_ms();
  db_.in_transaction([&](storage::Connection& c) {
    c.exec(
        "INSERT INTO api_keys (id, name, key_hash, unit_id, jurisdiction_id, jpath, ingest_only, created_by, "
        "created_at, permissions, resources) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        {k.id, name, hash_secret(k.key),
         scope.unit_id.empty() ? storage::Value(nullptr) : storage::Value(scope.unit_id),
         scope.jurisdiction_id.empty() ? storage::Value(nullptr) : storage::Value(scope.jurisdiction_id), jpath,
         std::int64_t{k.scope.ingest_only ? 1 : 0}, creator.user_id, k.created_at,
         std::int64_t{static_cast<std::int64_t>(scope.permissions)}, resources});
    audit_.append(c, audit_entry(creator, "api_key.create", "api_key:" + k.id,
                                 "permissions=" + std::to_string(scope.permissions) +
                                     (resources.empty() ? "" : " resources=" + resources)));
  });
  return k;
}

Result<Principal> AuthService::authenticate_api_key(const std::string& key, const std::string& source) {
  if (key.size() < 8 || key.size() > 128) return Error::unauthorized("malformed API key");
  std::string hash = hash_secret(key);
  std::uint64_t generation = storage::table_generation("api_keys");
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard g(keys_mu_);
    auto it = keys_.find(hash);
    if (it != keys_.end() && it->second.generation == generation && now - it->second.fetched < kApiKeyCacheTtl) {
      Principal p = it->second.principal;
      p.source = source;
      return p;
    }
  }
  storage::Conn c = db_.acquire();
  storage::Rows r = c->query(
      "SELECT id, name, unit_id, jurisdiction_id, jpath, ingest_only, revoked_at, permissions, resources FROM api_keys "
      "WHERE key_hash = $1",
      {hash});
  if (r.empty() || !r[0].is_null(6)) return Error::unauthorized("unknown or revoked API key");
  Principal p;
  p.is_api_key = true;
  p.user_id = r[0].text(0);
  p.username = "key:" + r[0].text(1);
  p.display_name = r[0].text(1);
  p.permissions = static_cast<unsigned>(r[0].integer(7));
  p.ingest_only = p.permissions == kPermIngest;
  p.resources = split_nonempty(r[0].text(8), ',');
  p.source = source;
  if (!r[0].is_null(2)) {
    p.role = Role::kMerchant;
    p.unit_ids = {r[0].text(2)};
  } else {
    p.role = r[0].text(4) == "/" ? Role::kPlatformAdmin : Role::kRegulator;
    p.jurisdiction_id = r[0].text(3);
    p.jpath = r[0].text(4);
  }
  std::lock_guard g(keys_mu_);
  if (keys_.size() > 10000) keys_.clear();
  keys_[hash] = CachedKey{p, generation, now};
  return p;
}

Status AuthService::revoke_api_key(const Principal& who, const std::string& id) {
  bool found = false;
  db_.in_transaction([&](storage::Connection& c) {
    storage::Rows r = c.query("SELECT created_by, jpath, unit_id FROM api_keys WHERE id = $1 AND revoked_at IS NULL", {id});
    if (r.empty()) return;
    bool allowed = who.is_admin() || r[0].text(0) == who.user_id ||
                   (r[0].is_null(2) ? who.covers_path(r[0].text(1)) : who.covers(r[0].text(1), r[0].text(2)));
    if (!allowed) return;
    c.exec("UPDATE api_keys SET revoked_at = $1 WHERE id = $2", {clock_.now_ms(), id});
    audit_.append(c, audit_entry(who, "api_key.revoke", "api_key:" + id));
    found = true;
  });
  if (!found) return Error::not_found("API key");
  std::lock_guard g(keys_mu_);
  keys_.clear();
  return ok_status();
}

std::vector<ApiKey> AuthService::list_api_keys(const Principal& who) {
  storage::Conn c = db_.acquire();
  std::string sql =
      "SELECT id, name, unit_id, jurisdiction_id, ingest_only, created_at, revoked_at, permissions, resources "
      "FROM api_keys WHERE 1 = 1";
  storage::Params p;
  if (!who.is_admin()) {
    p.emplace_back(who.user_id);
    sql += " AND created_by = $1";
  }
  sql += " ORDER BY created_at DESC LIMIT 500";
  std::vector<ApiKey> out;
  for (const auto& r : c->query(sql, p)) {
    ApiKey k;
    k.id = r.text(0);
    k.name = r.text(1);
    k.scope.unit_id = r.text(2);
    k.scope.jurisdiction_id = r.text(3);
    k.scope.ingest_only = r.boolean(4);
    k.created_at = r.integer(5);
    k.revoked_at = r.opt_integer(6);
    k.scope.permissions = static_cast<unsigned>(r.integer(7));
    k.scope.resources = split_nonempty(r.text(8), ',');
    out.push_back(std::move(k));
  }
  return out;
}

}  // namespace mingchu::auth
