// The jurisdiction tree (辖区): province → city → district/county → station, with GB/T 2260
// division codes, stored as materialised paths.
#include <set>

#include "core/ids.hpp"
#include "core/validate.hpp"
#include "registry/internal.hpp"
#include "registry/registry.hpp"

namespace mingchu::registry {

using detail::starts_with;
using detail::Where;

namespace {

constexpr const char* kSelectJurisdiction =
    "SELECT id, parent_id, level, code, name, path, created_at FROM jurisdictions";
constexpr const char* kSelectJurisdictionById =
    "SELECT id, parent_id, level, code, name, path, created_at FROM jurisdictions WHERE id = $1";
constexpr const char* kCodeTaken = "SELECT 1 FROM jurisdictions WHERE code = $1";
constexpr const char* kInsertJurisdiction =
    "INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)";
constexpr const char* kRenameJurisdiction = "UPDATE jurisdictions SET name = $2 WHERE id = $1";
constexpr const char* kCountChildren = "SELECT COUNT(*) FROM jurisdictions WHERE parent_id = $1";
// Deleted units still refer to their node (foreign key), so they count too.
constexpr const char* kCountUnits = "SELECT COUNT(*) FROM units WHERE jurisdiction_id = $1";
constexpr const char* kCountLiveUnits = "SELECT COUNT(*) FROM units WHERE jurisdiction_id = $1 AND deleted_at IS NULL";
constexpr const char* kCountAccounts =
    "SELECT (SELECT COUNT(*) FROM users WHERE jurisdiction_id = $1) + "
    "(SELECT COUNT(*) FROM api_keys WHERE jurisdiction_id = $1)";
constexpr const char* kDeleteJurisdiction = "DELETE FROM jurisdictions WHERE id = $1";
constexpr const char* kMerchantUnitPaths = "SELECT DISTINCT jpath FROM units";

Jurisdiction from_row(const storage::Row& r) {
  Jurisdiction j;
  j.id = r.text(0);
  j.parent_id = r.text(1);
  j.level = parse_level(r.text(2)).value_or(Level::kProvince);
  j.code = r.text(3);
  j.name = r.text(4);
  j.path = r.text(5);
  j.created_at = r.integer(6);
  return j;
}

std::optional<Jurisdiction> load(storage::Connection& c, std::string_view id) {
  storage::Rows rows = c.query(kSelectJurisdictionById, {std::string(id)});
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

// The jpaths of a unit-scoped caller's live units.
std::vector<std::string> own_unit_paths(storage::Connection& c, const auth::Principal& p) {
  Where w("deleted_at IS NULL");
  w.scope(p, "jpath", "id");
  std::vector<std::string> out;
  for (const auto& r : c.query(std::string(kMerchantUnitPaths) + " WHERE " + w.sql(), w.params())) {
    out.push_back(r.text(0));
  }
  return out;
}

bool digits(std::string_view s) {
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
  }
  return !s.empty();
}

// GB/T 2260: PPCCDD. A province is PP0000, a city PPCC00 under its province, a district PPCCDD
// under its city; a station (监管所) is its district's six digits plus a 3-digit suffix.
Status check_code(Level level, const std::string& code, const std::optional<Jurisdiction>& parent) {
  auto bad = [](std::string msg) { return Error::invalid("code", "invalid_code", std::move(msg)); };
  switch (level) {
    case Level::kProvince:
      if (code.size() != 6 || !valid_division_code(code) || code.compare(2, 4, "0000") != 0) {
        return bad("a province code is six GB/T 2260 digits ending in 0000, e.g. 320000");
      }
      break;
    case Level::kCity:
      if (code.size() != 6 || !valid_division_code(code) || code.compare(4, 2, "00") != 0 ||
          code.compare(2, 2, "00") == 0) {
        return bad("a city code is six GB/T 2260 digits ending in 00, e.g. 320600");
      }
      if (code.compare(0, 2, parent->code, 0, 2) != 0) {
        return bad("a city code must start with its province's two digits (" + parent->code.substr(0, 2) + ")");
      }
      break;
    case Level::kDistrict:
      if (code.size() != 6 || !valid_division_code(code) || code.compare(4, 2, "00") == 0) {
        return bad("a district code is six GB/T 2260 digits not ending in 00, e.g. 320602");
      }
      if (code.compare(0, 4, parent->code, 0, 4) != 0) {
        return bad("a district code must start with its city's four digits (" + parent->code.substr(0, 4) + ")");
      }
      break;
    case Level::kStation:
      if (code.size() != 9 || !digits(code) || code.compare(6, 3, "000") == 0) {
        return bad("a station code is its district's six digits and a three-digit suffix 001-999");
      }
      if (code.compare(0, 6, parent->code) != 0) {
        return bad("a station code must start with its district's code (" + parent->code + ")");
      }
      break;
  }
  return ok_status();
}

// Provinces and cities are the platform operator's; regulators create and edit nodes
// strictly below their own node.
bool may_write_node(const auth::Principal& p, Level level, std::string_view node_parent_path) {
  if (p.is_admin()) return true;
  if (!detail::manages(p) || p.role != auth::Role::kRegulator) return false;
  if (level == Level::kProvince || level == Level::kCity) return false;
  return starts_with(node_parent_path, p.jpath);
}

std::string parent_path_of(const Jurisdiction& j) {
  // path is "<parent path><id>/"
  return j.path.substr(0, j.path.size() - j.id.size() - 1);
}

bool is_foreign_key_violation(const storage::DbError& e) {
  std::string_view w = e.what();
  return w.find("FOREIGN KEY") != std::string_view::npos || w.find("foreign key") != std::string_view::npos;
}

}  // namespace

Result<Jurisdiction> Registry::visible_jurisdiction(storage::Connection& c, const auth::Principal& p,
                                                    std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("jurisdiction");
  auto j = load(c, id);
  if (!j) return Error::not_found("jurisdiction");
  if (detail::unit_scoped(p)) {
    for (const auto& path : own_unit_paths(c, p)) {
      if (starts_with(path, j->path)) return *j;
    }
    return Error::not_found("jurisdiction");
  }
  // The subtree, and the ancestors (so the path can be shown).
  if (!p.jpath.empty() && (p.covers_path(j->path) || starts_with(p.jpath, j->path))) return *j;
  return Error::not_found("jurisdiction");
}

Result<std::string> Registry::subtree_path(storage::Connection& c, const auth::Principal& p,
                                           std::string_view jurisdiction_id) {
  auto j = visible_jurisdiction(c, p, jurisdiction_id);
  if (!j) return j.error();
  return j->path;
}

Result<Jurisdiction> Registry::create_jurisdiction(const auth::Principal& p, const JurisdictionInput& in) {
  if (!detail::manages(p)) return Error::forbidden("only regulators and platform administrators manage jurisdictions");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);

  std::optional<Jurisdiction> parent;
  if (in.level == Level::kProvince) {
    if (!in.parent_id.empty()) return Error::invalid("parent_id", "invalid_parent", "a province has no parent");
  } else {
    if (in.parent_id.empty()) {
      return Error::invalid("parent_id", "missing_field", "field 'parent_id' is required below province level");
    }
    auto pj = visible_jurisdiction(*c, p, in.parent_id);
    if (!pj) return detail::unknown_reference("parent_id", "jurisdiction");
    if (static_cast<int>(pj->level) + 1 != static_cast<int>(in.level)) {
      return Error::invalid(
          "level", "invalid_level",
          "a " + std::string(level_name(in.level)) + " cannot be placed under a " + std::string(level_name(pj->level)));
    }
    parent = std::move(*pj);
  }
  if (!may_write_node(p, in.level, parent ? parent->path : "/")) {
    return Error::forbidden("you may not create a " + std::string(level_name(in.level)) + " here");
  }
  if (auto st = check_code(in.level, in.code, parent); !st) return st.error();
  if (!c->query(kCodeTaken, {in.code}).empty()) {
    return Error::conflict("code_taken", "a jurisdiction with code " + in.code + " already exists");
  }

  Jurisdiction j;
  j.id = new_id("jur");
  j.parent_id = parent ? parent->id : "";
  j.level = in.level;
  j.code = in.code;
  j.name = in.name;
  j.path = (parent ? parent->path : std::string("/")) + j.id + "/";
  j.created_at = clock_.now_ms();
  try {
    c->exec(kInsertJurisdiction, {j.id, parent ? storage::Value(j.parent_id) : storage::Value(nullptr),
                                  std::string(level_name(j.level)), j.code, j.name, j.path, j.created_at});
  } catch (const storage::DbError& e) {
    if (detail::is_unique_violation(e)) {
      return Error::conflict("code_taken", "a jurisdiction with code " + in.code + " already exists");
    }
    throw;
  }
  json::object detail{{"level", level_name(j.level)}, {"code", j.code}};
  if (parent) detail["parent_id"] = j.parent_id;
  audit_.append(*c, auth::audit_entry(p, "jurisdiction.create", "jurisdiction:" + j.id, json::serialize(detail)));
  tx.commit();
  return j;
}

Result<Jurisdiction> Registry::get_jurisdiction(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("jurisdiction");
  storage::Conn c = db_.acquire();
  return visible_jurisdiction(*c, p, id);
}

Result<Page<Jurisdiction>> Registry::list_jurisdictions(const auth::Principal& p, const JurisdictionFilter& f,
                                                        PageRequest page) {
  storage::Conn c = db_.acquire();
  Where w("1 = 1");
  // Scope: admins all; regulators their subtree and its ancestors; merchants the nodes on
  // the paths of their units.
  if (detail::unit_scoped(p) || p.jpath.empty()) {
    std::set<std::string> ids;
    if (detail::unit_scoped(p)) {
      for (const auto& path : own_unit_paths(*c, p)) {
        for (auto& id : detail::path_ids(path)) ids.insert(std::move(id));
      }
    }
    w.add_in("id", std::vector<std::string>(ids.begin(), ids.end()));
  } else if (p.jpath != "/") {
    std::string cond = "(path >= " + w.bind(p.jpath) + " AND path < " + w.bind(auth::path_upper(p.jpath)) + ")";
    auto ancestors = detail::path_ids(p.jpath);
    if (!ancestors.empty()) {
      cond += " OR id IN (";
      for (size_t i = 0; i < ancestors.size(); ++i) cond += (i ? ", " : "") + w.bind(ancestors[i]);
      cond += ")";
    }
    w.add_raw(cond);
  }
  if (f.parent_id) {
    if (!plausible_id(*f.parent_id)) return Page<Jurisdiction>{};
    w.add("parent_id = {}", *f.parent_id);
  }
  if (f.level) w.add("level = {}", std::string(level_name(*f.level)));
  if (f.q) {
    w.add("LOWER(name) LIKE {} ESCAPE '\\' OR code LIKE {} ESCAPE '\\'", detail::contains_pattern(*f.q),
          storage::like_escape(*f.q) + "%");
  }
  Page<Jurisdiction> out;
  out.total = w.count(*c, "jurisdictions");
  for (const auto& r : w.page(*c, kSelectJurisdiction, "code, id", page)) out.items.push_back(from_row(r));
  return out;
}

Result<Jurisdiction> Registry::update_jurisdiction(const auth::Principal& p, std::string_view id,
                                                   const JurisdictionPatch& in) {
  if (!plausible_id(id)) return Error::not_found("jurisdiction");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto j = visible_jurisdiction(*c, p, id);
  if (!j) return j.error();
  if (!may_write_node(p, j->level, parent_path_of(*j))) {
    return Error::forbidden("you may not edit this jurisdiction");
  }
  if (in.name.sets() && *in.name.value != j->name) {
    j->name = *in.name.value;
    c->exec(kRenameJurisdiction, {j->id, j->name});
    audit_.append(
        *c, auth::audit_entry(p, "jurisdiction.update", "jurisdiction:" + j->id, detail::fields_detail({"name"})));
  }
  tx.commit();
  return *j;
}

Status Registry::delete_jurisdiction(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("jurisdiction");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto j = visible_jurisdiction(*c, p, id);
  if (!j) return j.error();
  if (!may_write_node(p, j->level, parent_path_of(*j))) {
    return Error::forbidden("you may not delete this jurisdiction");
  }
  if (c->query(kCountChildren, {j->id})[0].integer(0) > 0) {
    return Error::conflict("has_children", "the jurisdiction still has child jurisdictions");
  }
  if (c->query(kCountLiveUnits, {j->id})[0].integer(0) > 0) {
    return Error::conflict("has_units", "the jurisdiction still has units");
  }
  if (c->query(kCountUnits, {j->id})[0].integer(0) > 0) {
    return Error::conflict("has_units", "deleted units are kept in the archive and still refer to the jurisdiction");
  }
  if (c->query(kCountAccounts, {j->id})[0].integer(0) > 0) {
    return Error::conflict("in_use", "user accounts or API keys are bound to the jurisdiction");
  }
  try {
    c->exec(kDeleteJurisdiction, {j->id});
  } catch (const storage::DbError& e) {
    // Another module's rows may refer to the node; that is a conflict, not a failure.
    if (is_foreign_key_violation(e)) return Error::conflict("in_use", "other records still refer to the jurisdiction");
    throw;
  }
  audit_.append(*c, auth::audit_entry(p, "jurisdiction.delete", "jurisdiction:" + j->id,
                                      json::serialize(json::object{{"code", j->code}})));
  tx.commit();
  return ok_status();
}

}  // namespace mingchu::registry
