#include "auth/principal.hpp"

#include <algorithm>

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

bool Principal::covers(std::string_view unit_jpath, std::string_view unit_id) const {
  if (role == Role::kMerchant || (!unit_ids.empty() && jpath.empty())) {
    return std::find(unit_ids.begin(), unit_ids.end(), unit_id) != unit_ids.end();
  }
  return !jpath.empty() && unit_jpath.substr(0, jpath.size()) == jpath;
}

bool Principal::covers_path(std::string_view path) const {
  if (role == Role::kMerchant || jpath.empty()) return false;
  return path.substr(0, jpath.size()) == jpath;
}

void append_scope(const Principal& p, std::string_view jpath_col, std::string_view unit_col, std::string& sql,
                  storage::Params& params) {
  if (p.role == Role::kMerchant || (!p.unit_ids.empty() && p.jpath.empty())) {
    if (p.unit_ids.empty()) {
      sql += " AND 1 = 0";
      return;
    }
    sql += " AND ";
    sql += unit_col;
    sql += " IN (";
    for (size_t i = 0; i < p.unit_ids.size(); ++i) {
      params.emplace_back(p.unit_ids[i]);
      sql += (i ? ", $" : "$") + std::to_string(params.size());
    }
    sql += ")";
    return;
  }
  if (p.jpath.empty()) {
    sql += " AND 1 = 0";
    return;
  }
  if (p.jpath == "/") return;  // the whole tree
  params.emplace_back(p.jpath);
  sql += " AND ";
  sql += jpath_col;
  sql += " >= $" + std::to_string(params.size());
  params.emplace_back(path_upper(p.jpath));
  sql += " AND ";
  sql += jpath_col;
  sql += " < $" + std::to_string(params.size());
}

}  // namespace mingchu::auth
