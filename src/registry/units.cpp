// Catering units (餐饮服务单位): the archive of seed 000 §6.5.5, scoped by jurisdiction.
#include <algorithm>

#include "core/ids.hpp"
#include "files/file_catalog.hpp"
#include "registry/internal.hpp"
#include "registry/registry.hpp"
#include "storage/migrations.hpp"

namespace mingchu::registry {

using detail::nullable;
using detail::nullable_real;
using detail::Where;

namespace {

constexpr const char* kUnitColumns =
    "id, jurisdiction_id, jpath, name, operator, phone, address, uscc, licence_number, filing_number, store_type, "
    "business_format, lng, lat, licence_image_ids, storefront_image_id, disclosure_token, show_alert_stats, rating, "
    "created_at, updated_at";
// The columns in update_params' order, then the two only an insert sets.
constexpr const char* kInsertUnit =
    "INSERT INTO units (id, jurisdiction_id, jpath, name, operator, phone, address, uscc, licence_number, "
    "filing_number, store_type, business_format, lng, lat, licence_image_ids, storefront_image_id, "
    "show_alert_stats, rating, updated_at, disclosure_token, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)";
constexpr const char* kUpdateUnit =
    "UPDATE units SET jurisdiction_id = $2, jpath = $3, name = $4, operator = $5, phone = $6, address = $7, "
    "uscc = $8, licence_number = $9, filing_number = $10, store_type = $11, business_format = $12, lng = $13, "
    "lat = $14, licence_image_ids = $15, storefront_image_id = $16, show_alert_stats = $17, rating = $18, "
    "updated_at = $19 WHERE id = $1";
constexpr const char* kUsccTaken = "SELECT 1 FROM units WHERE uscc = $1 AND deleted_at IS NULL AND id <> $2";

std::string select_units() { return std::string("SELECT ") + kUnitColumns + " FROM units"; }

std::vector<std::string> parse_id_list(const std::string& text) {
  std::vector<std::string> ids;
  auto v = parse_value(text);
  if (!v || !v->is_array()) return ids;
  for (const auto& e : v->as_array()) {
    if (e.is_string()) ids.emplace_back(e.as_string());
  }
  return ids;
}

std::string id_list_text(const std::vector<std::string>& ids) {
  json::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return json::serialize(a);
}

Unit from_row(const storage::Row& r) {
  Unit u;
  u.id = r.text(0);
  u.jurisdiction_id = r.text(1);
  u.jpath = r.text(2);
  u.name = r.text(3);
  u.operator_name = r.opt_text(4);
  u.phone = r.opt_text(5);
  u.address = r.opt_text(6);
  u.uscc = r.opt_text(7);
  u.licence_number = r.opt_text(8);
  u.filing_number = r.opt_text(9);
  u.store_type = r.text(10);
  u.business_format = r.opt_text(11);
  if (!r.is_null(12)) u.lng = r.real(12);
  if (!r.is_null(13)) u.lat = r.real(13);
  u.licence_image_ids = parse_id_list(r.text(14));
  u.storefront_image_id = r.opt_text(15);
  u.disclosure_token = r.text(16);
  u.show_alert_stats = r.boolean(17);
  u.rating = r.opt_text(18);
  u.created_at = r.integer(19);
  u.updated_at = r.integer(20);
  return u;
}

// Rules over the whole record, checked after a create or a PATCH is applied.
Status check_unit(const Unit& u) {
  if (!u.licence_number && !u.filing_number) {
    return Error::invalid("licence_number", "licence_or_filing_required",
                          "a unit needs a food business licence number or a small-catering filing number");
  }
  if (u.lng.has_value() != u.lat.has_value()) {
    return Error::invalid(u.lng ? "lat" : "lng", "coordinates_incomplete", "give both lng and lat, or neither");
  }
  return ok_status();
}

std::vector<std::string> present_fields(const UnitInput& in) {
  std::vector<std::string> f;
  auto add = [&f](bool present, const char* name) {
    if (present) f.emplace_back(name);
  };
  add(in.name.present, "name");
  add(in.operator_name.present, "operator");
  add(in.phone.present, "phone");
  add(in.address.present, "address");
  add(in.uscc.present, "uscc");
  add(in.licence_number.present, "licence_number");
  add(in.filing_number.present, "filing_number");
  add(in.store_type.present, "store_type");
  add(in.business_format.present, "business_format");
  add(in.jurisdiction_id.present, "jurisdiction_id");
  add(in.lng.present, "lng");
  add(in.lat.present, "lat");
  add(in.licence_image_ids.present, "licence_image_ids");
  add(in.storefront_image_id.present, "storefront_image_id");
  add(in.show_alert_stats.present, "disclosure.show_alert_stats");
  add(in.rating.present, "rating");
  return f;
}

void apply(const UnitInput& in, Unit& u) {
  in.name.apply_to(u.name);
  in.operator_name.apply_to(u.operator_name);
  in.phone.apply_to(u.phone);
  in.address.apply_to(u.address);
  in.uscc.apply_to(u.uscc);
  in.licence_number.apply_to(u.licence_number);
  in.filing_number.apply_to(u.filing_number);
  in.store_type.apply_to(u.store_type);
  in.business_format.apply_to(u.business_format);
  in.lng.apply_to(u.lng);
  in.lat.apply_to(u.lat);
  if (in.licence_image_ids.present)
    u.licence_image_ids = in.licence_image_ids.value.value_or(std::vector<std::string>{});
  in.storefront_image_id.apply_to(u.storefront_image_id);
  in.show_alert_stats.apply_to(u.show_alert_stats);
  in.rating.apply_to(u.rating);
}

storage::Params update_params(const Unit& u) {
  return {u.id,
          u.jurisdiction_id,
          u.jpath,
          u.name,
          nullable(u.operator_name),
          nullable(u.phone),
          nullable(u.address),
          nullable(u.uscc),
          nullable(u.licence_number),
          nullable(u.filing_number),
          u.store_type,
          nullable(u.business_format),
          nullable_real(u.lng),
          nullable_real(u.lat),
          id_list_text(u.licence_image_ids),
          nullable(u.storefront_image_id),
          std::int64_t{u.show_alert_stats ? 1 : 0},
          nullable(u.rating),
          u.updated_at};
}

Error uscc_taken() {
  return Error::conflict("uscc_taken", "another unit is already registered with this unified social credit code");
}

}  // namespace

namespace detail {

std::optional<Unit> load_unit(storage::Connection& c, std::string_view id, bool lock) {
  if (!plausible_id(id)) return std::nullopt;
  storage::Rows rows = c.query(select_units() + " WHERE id = $1 AND deleted_at IS NULL" + (lock ? for_update(c) : ""),
                               {std::string(id)});
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

}  // namespace detail

Status Registry::claim_file(storage::Connection& c, const auth::Principal& p, const std::string& field,
                            const std::string& file_id, const std::string& unit_id, const std::string& unit_jpath) {
  auto f = files::FileCatalog::load(c, file_id);
  if (!f || !files::FileCatalog::may_read(p, *f)) return detail::unknown_reference(field, "file");
  if (!f->is_image()) return Error::invalid(field, "not_an_image", "field '" + field + "' must name an image");
  // A file already given to another unit stays there unless the caller uploaded it.
  if (!f->unit_id.empty() && f->unit_id != unit_id && f->uploader_id != p.user_id) {
    return Error::invalid(field, "file_in_use", "field '" + field + "' names a file of another unit");
  }
  auto attached = files::FileCatalog::attach_to_unit(c, file_id, unit_id, unit_jpath);
  if (!attached) return attached.error();
  return ok_status();
}

Status Registry::claim_unit_files(storage::Connection& c, const auth::Principal& p, const Unit& u) {
  for (size_t i = 0; i < u.licence_image_ids.size(); ++i) {
    auto st = claim_file(c, p, "licence_image_ids[" + std::to_string(i) + "]", u.licence_image_ids[i], u.id, u.jpath);
    if (!st) return st;
  }
  if (u.storefront_image_id) {
    if (auto st = claim_file(c, p, "storefront_image_id", *u.storefront_image_id, u.id, u.jpath); !st) return st;
  }
  return ok_status();
}

Result<Unit> Registry::create_unit(const auth::Principal& p, const UnitInput& in) {
  if (!detail::manages(p)) return Error::forbidden("only regulators and platform administrators create units");
  if (!in.name.sets() || !in.store_type.sets() || !in.jurisdiction_id.sets()) {
    return Error::invalid("name", "missing_field", "name, store_type and jurisdiction_id are required");
  }
  Unit u;
  apply(in, u);
  if (auto st = check_unit(u); !st) return st.error();

  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto j = visible_jurisdiction(*c, p, *in.jurisdiction_id.value);
  if (!j || !p.covers_path(j->path)) return detail::unknown_reference("jurisdiction_id", "jurisdiction");
  u.id = new_id("unit");
  u.jurisdiction_id = j->id;
  u.jpath = j->path;
  u.disclosure_token = random_token(24);
  u.created_at = u.updated_at = clock_.now_ms();
  if (u.uscc && !c->query(kUsccTaken, {*u.uscc, u.id}).empty()) return uscc_taken();
  if (auto st = claim_unit_files(*c, p, u); !st) return st.error();
  storage::Params ins = update_params(u);
  ins.emplace_back(u.disclosure_token);
  ins.emplace_back(u.created_at);
  try {
    c->exec(kInsertUnit, ins);
  } catch (const storage::DbError& e) {
    if (detail::is_unique_violation(e)) return uscc_taken();
    throw;
  }
  audit_.append(*c, auth::audit_entry(p, "unit.create", "unit:" + u.id,
                                      json::serialize(json::object{{"jurisdiction_id", u.jurisdiction_id}})));
  tx.commit();
  return u;
}

Result<Unit> Registry::get_unit(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("unit");
  storage::Conn c = db_.acquire();
  auto u = detail::load_unit(*c, id, false);
  if (!u || !p.covers(u->jpath, u->id)) return Error::not_found("unit");
  return *u;
}

Result<Unit> Registry::unit_by_disclosure_token(std::string_view token) {
  if (!plausible_id(token)) return Error::not_found("unit");
  storage::Conn c = db_.acquire();
  storage::Rows rows =
      c->query(select_units() + " WHERE disclosure_token = $1 AND deleted_at IS NULL", {std::string(token)});
  if (rows.empty()) return Error::not_found("unit");
  return from_row(rows[0]);
}

Result<Page<Unit>> Registry::list_units(const auth::Principal& p, const UnitFilter& f, PageRequest page) {
  if (f.store_type &&
      std::find(std::begin(kStoreTypes), std::end(kStoreTypes), *f.store_type) == std::end(kStoreTypes)) {
    return Error::invalid("store_type", "invalid_value", "unknown store_type");
  }
  storage::Conn c = db_.acquire();
  std::optional<std::string> subtree;
  if (f.jurisdiction_id) {
    auto path = subtree_path(*c, p, *f.jurisdiction_id);
    if (!path) return Page<Unit>{};
    subtree = *path;
  }
  auto where = [&](std::string_view jpath_col) {
    Where w("deleted_at IS NULL");
    w.scope(p, jpath_col, "id");
    if (subtree) w.subtree(jpath_col, *subtree);
    if (f.q) {
      std::string pat = detail::contains_pattern(*f.q);
      w.add("LOWER(name) LIKE {} ESCAPE '\\' OR LOWER(COALESCE(address, '')) LIKE {} ESCAPE '\\'", pat, pat);
    }
    if (f.store_type) w.add("store_type = {}", *f.store_type);
    if (f.business_format) w.add("business_format = {}", *f.business_format);
    return w;
  };
  Page<Unit> out;
  out.total = where("jpath").count(*c, "units");
  // The page walks the name index (units_name) instead of sorting the whole scope. SQLite's
  // planner, not knowing how wide a scope is, prefers the jpath index and sorts every row in
  // it (25 000 for a city: ~70 ms); "+jpath" keeps it off that index for this query only.
  // PostgreSQL chooses well from its statistics.
  const char* page_col = c->dialect() == storage::Dialect::kSqlite ? "+jpath" : "jpath";
  for (const auto& r : where(page_col).page(*c, select_units(), detail::text_order(*c, "name") + ", id", page)) {
    out.items.push_back(from_row(r));
  }
  return out;
}

Result<Unit> Registry::update_unit(const auth::Principal& p, std::string_view id, const UnitInput& in) {
  if (!plausible_id(id)) return Error::not_found("unit");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto cur = detail::load_unit(*c, id, true);
  if (!cur || !p.covers(cur->jpath, cur->id)) return Error::not_found("unit");
  Unit u = *cur;

  if (!detail::manages(p)) {
    // Merchants keep their own archive current, but where a unit sits and how it is rated
    // are the regulator's decisions.
    if (in.jurisdiction_id.present && in.jurisdiction_id.value != std::optional<std::string>(u.jurisdiction_id)) {
      return Error::forbidden("merchants cannot move a unit to another jurisdiction");
    }
    if (in.rating.present && in.rating.value != u.rating) {
      return Error::forbidden("merchants cannot change the food safety rating");
    }
    // What the public page discloses is the regulator's decision (信息公示), not the
    // supervised business's; sending back the current value (a whole form) is fine.
    if (in.show_alert_stats.present && in.show_alert_stats.value != std::optional<bool>(u.show_alert_stats)) {
      return Error::forbidden("merchants cannot change what the public page discloses");
    }
  }
  apply(in, u);
  if (auto st = check_unit(u); !st) return st.error();

  bool moved = false;
  if (in.jurisdiction_id.sets() && *in.jurisdiction_id.value != cur->jurisdiction_id) {
    auto j = visible_jurisdiction(*c, p, *in.jurisdiction_id.value);
    if (!j || !p.covers_path(j->path)) return detail::unknown_reference("jurisdiction_id", "jurisdiction");
    u.jurisdiction_id = j->id;
    u.jpath = j->path;
    moved = u.jpath != cur->jpath;
  }
  if (u.uscc && u.uscc != cur->uscc && !c->query(kUsccTaken, {*u.uscc, u.id}).empty()) return uscc_taken();
  if (in.licence_image_ids.present || in.storefront_image_id.present || moved) {
    if (auto st = claim_unit_files(*c, p, u); !st) return st.error();
  }
  u.updated_at = clock_.now_ms();
  try {
    c->exec(kUpdateUnit, update_params(u));
  } catch (const storage::DbError& e) {
    if (detail::is_unique_violation(e)) return uscc_taken();
    throw;
  }
  if (moved) unit_paths_.move(*c, u.id, cur->jpath, u.jpath);
  json::object extra;
  if (moved) extra["jurisdiction_id"] = u.jurisdiction_id;
  audit_.append(*c,
                auth::audit_entry(p, "unit.update", "unit:" + u.id, detail::fields_detail(present_fields(in), extra)));
  tx.commit();
  return u;
}

Status Registry::delete_unit(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("unit");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto u = detail::load_unit(*c, id, true);
  if (!u || !p.covers(u->jpath, u->id)) return Error::not_found("unit");
  if (!detail::manages(p)) return Error::forbidden("only regulators and platform administrators delete units");
  TimeMs now = clock_.now_ms();
  json::object retired{{"cameras", 0}, {"staff", 0}};
  for (const auto& [table, n] : unit_paths_.retire(*c, u->id, now)) retired[table] = n;
  audit_.append(*c, auth::audit_entry(p, "unit.delete", "unit:" + u->id, json::serialize(retired)));
  tx.commit();
  return ok_status();
}

}  // namespace mingchu::registry
