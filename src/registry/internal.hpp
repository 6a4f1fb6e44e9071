// Pieces shared by the registry's translation units; not part of its interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth_service.hpp"
#include "auth/principal.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "registry/model.hpp"
#include "storage/database.hpp"
#include "storage/sql.hpp"

namespace mingchu::registry::detail {

// True for callers whose scope is a set of units (merchants, unit-scoped API keys) rather
// than a subtree; the same test Principal::covers makes.
inline bool unit_scoped(const auth::Principal& p) {
  return p.role == auth::Role::kMerchant || (!p.unit_ids.empty() && p.jpath.empty());
}
// Platform admins and regulators manage units and cameras; merchants do not.
inline bool manages(const auth::Principal& p) { return !unit_scoped(p) && !p.jpath.empty(); }

inline bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// A WHERE clause built from fixed fragments, each "{}" in a fragment taking the next
// positional parameter. Input never becomes SQL text; only parameters.
class Where {
 public:
  explicit Where(std::string first) : sql_(std::move(first)) {}

  template <typename... V>
  void add(std::string_view fragment, V&&... values) {
    storage::Params vals{storage::Value(std::forward<V>(values))...};
    size_t next = 0;
    sql_ += " AND (";
    for (size_t i = 0; i < fragment.size(); ++i) {
      if (fragment[i] == '{' && i + 1 < fragment.size() && fragment[i + 1] == '}') {
        params_.push_back(vals[next++]);
        sql_ += "$" + std::to_string(params_.size());
        ++i;
      } else {
        sql_ += fragment[i];
      }
    }
    sql_ += ")";
  }
  // Binds one parameter and returns its placeholder, for fragments built by the caller.
  std::string bind(storage::Value v) {
    params_.push_back(std::move(v));
    return "$" + std::to_string(params_.size());
  }
  // "col IN (...)" over values; matches nothing for an empty list.
  void add_in(std::string_view col, const std::vector<std::string>& values) {
    if (values.empty()) {
      add_raw("1 = 0");
      return;
    }
    std::string frag = std::string(col) + " IN (";
    for (size_t i = 0; i < values.size(); ++i) frag += (i ? ", " : "") + bind(values[i]);
    add_raw(frag + ")");
  }
  // A condition whose parameters were bound with bind(), or that has none.
  void add_raw(std::string_view fragment) {
    sql_ += " AND (";
    sql_ += fragment;
    sql_ += ")";
  }
  void scope(const auth::Principal& p, std::string_view jpath_col, std::string_view unit_col) {
    auth::append_scope(p, jpath_col, unit_col, sql_, params_);
  }
  // Rows with jpath in the subtree of path.
  void subtree(std::string_view jpath_col, const std::string& path) {
    add(std::string(jpath_col) + " >= {} AND " + std::string(jpath_col) + " < {}", path, auth::path_upper(path));
  }

  const std::string& sql() const { return sql_; }
  const storage::Params& params() const { return params_; }

  // "SELECT COUNT(*) FROM <from> WHERE ..." and the page itself.
  std::int64_t count(storage::Connection& c, std::string_view from) const {
    storage::Rows r = c.query("SELECT COUNT(*) FROM " + std::string(from) + " WHERE " + sql_, params_);
    return r[0].integer(0);
  }
  storage::Rows page(storage::Connection& c, std::string_view select_from, std::string_view order_by,
                     const PageRequest& pg) const {
    storage::Params ps = params_;
    ps.emplace_back(static_cast<std::int64_t>(pg.page_size));
    std::string limit = " LIMIT $" + std::to_string(ps.size());
    ps.emplace_back(pg.offset());
    limit += " OFFSET $" + std::to_string(ps.size());
    return c.query(std::string(select_from) + " WHERE " + sql_ + " ORDER BY " + std::string(order_by) + limit, ps);
  }

 private:
  std::string sql_;
  storage::Params params_;
};

// Text ordering that is the same on both engines (byte order of UTF-8 = code point order).
inline std::string text_order(const storage::Connection& c, std::string_view col) {
  if (c.dialect() == storage::Dialect::kPostgres) return std::string(col) + " COLLATE \"C\"";
  return std::string(col);
}
using storage::for_update;

// "%text%" for LIKE ... ESCAPE '\', lower-cased (ASCII) to match LOWER(col) on both engines.
std::string contains_pattern(std::string_view text);

inline storage::Value nullable(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return *s;
}
inline storage::Value nullable_int(const std::optional<std::int64_t>& n) {
  if (!n) return nullptr;
  return *n;
}
inline storage::Value nullable_real(const std::optional<double>& d) {
  if (!d) return nullptr;
  return *d;
}

// The ids along a path "/a/b/c/" → {a, b, c}.
std::vector<std::string> path_ids(std::string_view path);

// Audit detail naming the fields a write touched (never their values: they may be personal).
std::string fields_detail(const std::vector<std::string>& fields, json::object extra = {});

// The live (not deleted) unit with this id, optionally locked for update.
std::optional<Unit> load_unit(storage::Connection& c, std::string_view id, bool lock);

// The error for a reference in a body that does not resolve in the caller's scope.
inline Error unknown_reference(std::string field, std::string_view what) {
  return Error::invalid(field, "unknown_" + std::string(what),
                        "field '" + field + "' names no " + std::string(what) + " in your scope");
}

// Thrown storage errors that mean "a unique index refused the row".
inline bool is_unique_violation(const storage::DbError& e) { return e.kind() == storage::DbError::Kind::kUnique; }

}  // namespace mingchu::registry::detail
