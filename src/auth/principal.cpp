#include "auth/principal.hpp"

#include <algorithm>

#include "storage/sql.hpp"

namespace mingchu::auth {

std::string_view role_name(Role r) {
  switch (r) {
    case Role::kPlatformAdmin: return "platform_admin";
    case Role::kRegulator: return "regulator";
    case Role::kMerchant: return "merchant";
  }
  return "merchant";
}

std::optional<Role> parse_role(std::string_view s) {
  if (s == "platform_admin") return Role::kPlatformAdmin;
  if (s == "regulator") return Role::kRegulator;
  if (s == "merchant") return Role::kMerchant;
  return std::nullopt;
}

int role_rank(Role r) {
  switch (r) {
    case Role::kPlatformAdmin: return 3;
    case Role::kRegulator: return 2;
    case Role::kMerchant: return 1;
  }
  return 0;
}

std::string path_upper(std::string_view prefix) {
  std::string up(prefix);
  if (!up.empty() && up.back() == '/') {
    up.back() = '0';
  } else {
    up.push_back('\x7f');
  }
  return up;
}

bool in_subtree(std::string_view scope, std::string_view path) {
  return !scope.empty() && path.substr(0, scope.size()) == scope;
}

void append_subtree(std::string_view col, std::string_view scope, std::string& sql, storage::Params& params) {
  if (scope.empty()) {
    sql += " AND 1 = 0";
    return;
  }
  if (scope == "/") return;  // the whole tree
  params.emplace_back(std::string(scope));
  sql += " AND " + std::string(col) + " >= $" + std::to_string(params.size());
  params.emplace_back(path_upper(scope));
  sql += " AND " + std::string(col) + " < $" + std::to_string(params.size());
}

void append_units(std::string_view col, const std::vector<std::string>& unit_ids, std::string& sql,
                  storage::Params& params) {
  if (unit_ids.empty()) {
    sql += " AND 1 = 0";
    return;
  }
  sql += " AND " + std::string(col) + " IN " + storage::in_list(params, unit_ids);
}

bool Principal::covers(std::string_view unit_jpath, std::string_view unit_id) const {
  if (unit_scoped()) return std::find(unit_ids.begin(), unit_ids.end(), unit_id) != unit_ids.end();
  return in_subtree(jpath, unit_jpath);
}

bool Principal::covers_path(std::string_view path) const {
  if (role == Role::kMerchant) return false;
  return in_subtree(jpath, path);
}

void append_scope(const Principal& p, std::string_view jpath_col, std::string_view unit_col, std::string& sql,
                  storage::Params& params) {
  if (p.unit_scoped()) {
    append_units(unit_col, p.unit_ids, sql, params);
  } else {
    append_subtree(jpath_col, p.jpath, sql, params);
  }
}

}  // namespace mingchu::auth
