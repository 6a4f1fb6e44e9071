// User administration: who may give which role and scope, changing a user, lifting a lock.
#include <algorithm>

#include "auth/auth_service.hpp"
#include "auth/username.hpp"

namespace mingchu::auth {
namespace {

constexpr const char* kUnitJpath = "SELECT jpath FROM units WHERE id = $1 AND deleted_at IS NULL";

}  // namespace

Status AuthService::check_grant(storage::Connection& c, const Principal& who, Role role,
                                const std::string& jurisdiction_id, const std::vector<std::string>& unit_ids) {
  if (role_rank(role) > role_rank(who.role)) {
    return Error::forbidden("cannot give a user a stronger role than your own");
  }
  if (who.role == Role::kMerchant) {
    if (role != Role::kMerchant) return Error::forbidden("merchants create only merchant users");
    for (const auto& id : unit_ids) {
      if (std::find(who.unit_ids.begin(), who.unit_ids.end(), id) == who.unit_ids.end()) {
        return Error::invalid("unit_ids", "out_of_scope", "unit " + id + " is not one of yours");
      }
    }
    return ok_status();
  }
  if (role == Role::kRegulator) {
    auto path = jurisdiction_path(c, jurisdiction_id);
    if (!path || !who.covers_path(*path)) {
      return Error::invalid("jurisdiction_id", "out_of_scope", "jurisdiction not found in your scope");
    }
  }
  if (role == Role::kMerchant) {
    for (const auto& id : unit_ids) {
      storage::Rows r = c.query(kUnitJpath, {id});
      if (r.empty() || !who.covers(r[0].text(0), id)) {
        return Error::invalid("unit_ids", "out_of_scope", "unit " + id + " not found in your scope");
      }
    }
  }
  return ok_status();
}

Result<User> AuthService::update_user(const Principal& who, const std::string& id, const UserPatch& patch) {
  if (who.is_api_key) return Error::forbidden("API keys cannot change users");
  auto cur = get_user(who, id);
  if (!cur) return cur.error();
  // a merchant sees only themselves and changes nothing about their own account here
  if (who.role == Role::kMerchant) return Error::forbidden("merchants cannot change accounts");
  if (role_rank(cur->role) > role_rank(who.role)) return Error::not_found("user");
  User next = *cur;
  if (patch.display_name) next.display_name = *patch.display_name;
  if (patch.role) next.role = *patch.role;
  if (patch.jurisdiction_id) next.jurisdiction_id = *patch.jurisdiction_id;
  if (patch.unit_ids) next.unit_ids = *patch.unit_ids;
  if (patch.disabled) next.disabled = *patch.disabled;
  if (next.role != Role::kRegulator) next.jurisdiction_id.clear();
  if (next.role != Role::kMerchant) next.unit_ids.clear();
  std::sort(next.unit_ids.begin(), next.unit_ids.end());
  next.unit_ids.erase(std::unique(next.unit_ids.begin(), next.unit_ids.end()), next.unit_ids.end());
  std::vector<std::string> cur_units = cur->unit_ids;
  std::sort(cur_units.begin(), cur_units.end());
  bool access_changed = next.role != cur->role || next.jurisdiction_id != cur->jurisdiction_id ||
                        next.unit_ids != cur_units || next.disabled != cur->disabled;
  if (access_changed && id == who.user_id) {
    return Error::forbidden("you cannot change your own role, scope or account state");
  }
  if (next.role == Role::kRegulator && next.jurisdiction_id.empty()) {
    return Error::invalid("jurisdiction_id", "missing_field", "a regulator is bound to a jurisdiction");
  }
  if (next.role == Role::kMerchant && next.unit_ids.empty()) {
    return Error::invalid("unit_ids", "missing_field", "a merchant user is bound to at least one unit");
  }
  Status grant = ok_status();
  db_.in_transaction([&](storage::Connection& c) {
    if (access_changed) {
      grant = check_grant(c, who, next.role, next.jurisdiction_id, next.unit_ids);
      if (!grant) return;
    }
    c.exec("UPDATE users SET display_name = $1, role = $2, jurisdiction_id = $3, disabled = $4 WHERE id = $5",
           {next.display_name, std::string(role_name(next.role)),
            next.jurisdiction_id.empty() ? storage::Value(nullptr) : storage::Value(next.jurisdiction_id),
            std::int64_t{next.disabled ? 1 : 0}, id});
    if (next.unit_ids != cur_units) {
      c.exec("DELETE FROM user_units WHERE user_id = $1", {id});
      for (const auto& unit : next.unit_ids)
        c.exec("INSERT INTO user_units (user_id, unit_id) VALUES ($1, $2)", {id, unit});
    }
    std::string detail;
    if (next.role != cur->role) detail += "role=" + std::string(role_name(next.role)) + " ";
    if (next.jurisdiction_id != cur->jurisdiction_id) detail += "jurisdiction_id=" + next.jurisdiction_id + " ";
    if (next.unit_ids != cur_units) detail += "unit_ids changed ";
    if (next.disabled != cur->disabled) detail += next.disabled ? "disabled " : "enabled ";
    if (access_changed) {
      end_sessions(c, id, "");
      detail += "sessions ended";
    }
    audit_.append(c, audit_entry(who, "user.update", "user:" + id, detail));
  });
  if (!grant) return grant.error();
  if (access_changed) revoked();
  return next;
}

Status AuthService::unlock_user(const Principal& who, const std::string& id) {
  if (who.is_api_key) return Error::forbidden("API keys cannot unlock users");
  auto u = get_user(who, id);
  if (!u) return u.error();
  if (who.role == Role::kMerchant) return Error::forbidden("merchants cannot unlock accounts");
  db_.in_transaction([&](storage::Connection& c) {
    throttle_.clear_account(c, username_key(u->username).value_or(u->username));
    audit_.append(c, audit_entry(who, "user.unlock", "user:" + id));
  });
  return ok_status();
}

}  // namespace mingchu::auth
