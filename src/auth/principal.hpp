// Who is calling, and what they may see. A Principal is made by AuthService from a session
// token or an API key and passed to every domain function that reads or writes.
//
// Scope: the jurisdiction tree is stored as materialised paths ("/jur_a/jur_b/"). A regulator
// sees exactly the objects whose jpath starts with their node's path; a merchant exactly the
// objects of their units; a platform admin everything ("/"). An API key carries the same
// kind of scope (one unit, or a subtree) and may be limited to ingest.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/database.hpp"

namespace mingchu::auth {

enum class Role { kPlatformAdmin, kRegulator, kMerchant };

std::string_view role_name(Role r);
std::optional<Role> parse_role(std::string_view s);
// Higher is stronger: platform_admin > regulator > merchant.
int role_rank(Role r);

// What an API key may do (a user session may do whatever its role allows). Keys are made
// with the least of these the caller asks for; the default is kIngest alone.
enum KeyPermission : unsigned { kPermIngest = 1, kPermRead = 2, kPermWrite = 4 };

struct Principal {
  std::string user_id;  // api key id for keys
  std::string username;
  std::string display_name;
  Role role = Role::kMerchant;
  std::string jurisdiction_id;  // regulators (and subtree-scoped keys)
  std::string jpath;            // "/" for platform admins, the node's path for regulators
  std::vector<std::string> unit_ids;  // merchants (and unit-scoped keys)
  bool is_api_key = false;
  bool ingest_only = false;  // a key whose permissions are kPermIngest alone
  unsigned permissions = 0;  // API keys: KeyPermission bits
  std::vector<std::string> resources;  // API keys: the collections they may use; empty = all
  std::string session_hash;  // sessions: SHA-256 of the token (logout, password change)
  bool password_expired = false;
  std::string source;  // remote address, for the audit log

  bool is_admin() const { return role == Role::kPlatformAdmin; }
  // True when an object at unit_jpath belonging to unit_id is inside this scope.
  bool covers(std::string_view unit_jpath, std::string_view unit_id) const;
  // True when a jurisdiction node with this path is inside a regulator's/admin's subtree.
  bool covers_path(std::string_view path) const;
};

// Appends " AND (<scope condition>)" over the given columns to sql, and its parameters to
// params (numbered after those already there). jpath_col may be empty when the table has
// only a unit column.
void append_scope(const Principal& p, std::string_view jpath_col, std::string_view unit_col, std::string& sql,
                  storage::Params& params);
// The exclusive upper bound of a path prefix: every path starting with prefix is in
// [prefix, path_upper(prefix)). Works because paths end in '/' and '0' follows '/' in ASCII.
std::string path_upper(std::string_view prefix);

}  // namespace mingchu::auth
