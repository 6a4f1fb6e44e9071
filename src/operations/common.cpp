// Helpers shared by the operations ledgers: unit lookup in scope, file and device
// references, and the common list filter.
#include "auth/auth_service.hpp"
#include "core/ids.hpp"
#include "files/file_catalog.hpp"
#include "operations/internal.hpp"

namespace mingchu::operations::detail {

std::optional<UnitRef> unit_in_scope(storage::Connection& c, const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return std::nullopt;
  storage::Rows r =
      c.query("SELECT id, jpath, name FROM units WHERE id = $1 AND deleted_at IS NULL", {std::string(id)});
  if (r.empty() || !p.covers(r[0].text(1), r[0].text(0))) return std::nullopt;
  return UnitRef{r[0].text(0), r[0].text(1), r[0].text(2)};
}

Result<storage::Row> get_in_scope(storage::Connection& c, const auth::Principal& p, std::string_view select,
                                  std::string_view id_col, std::string_view id, std::string_view what, size_t unit_col,
                                  size_t jpath_col, bool lock) {
  if (!plausible_id(id)) return Error::not_found(std::string(what));
  storage::Rows r = c.query(std::string(select) + " WHERE " + std::string(id_col) + " = $1" +
                                (lock ? registry::detail::for_update(c) : std::string()),
                            {std::string(id)});
  if (r.empty() || !p.covers(r[0].text(jpath_col), r[0].text(unit_col))) return Error::not_found(std::string(what));
  return r[0];
}

void insert_audited(storage::Connection& c, storage::Transaction& tx, const audit::AuditLog& audit,
                    const auth::Principal& p, std::string_view insert_sql, const storage::Params& params,
                    std::string_view action, const std::string& target, const json::object& detail,
                    const std::function<void()>& more) {
  c.exec(std::string(insert_sql), params);
  if (more) more();
  audit.append(c, auth::audit_entry(p, std::string(action), target, json::serialize(detail)));
  tx.commit();
}

Status vehicle_free(storage::Connection& c, const std::string& device_id, const std::string& trip_id) {
  storage::Rows busy =
      c.query("SELECT id FROM op_deliveries WHERE vehicle_device_id = $1 AND state = 'dispatched' AND id <> $2",
              {device_id, trip_id});
  if (!busy.empty()) {
    return Error::conflict("device_busy", "this device is on another trip on the road (" + busy[0].text(0) + ")");
  }
  return ok_status();
}

std::string ids_json(const std::vector<std::string>& ids) {
  json::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return json::serialize(a);
}

std::vector<std::string> ids_from_json(std::string_view text) {
  std::vector<std::string> out;
  auto v = parse_value(text);
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

Status claim_files(storage::Connection& c, const auth::Principal& p, const std::string& field,
                   const std::vector<std::string>& file_ids, const UnitRef& unit) {
  for (size_t i = 0; i < file_ids.size(); ++i) {
    std::string f_field = field + "[" + std::to_string(i) + "]";
    auto f = files::FileCatalog::load(c, file_ids[i]);
    if (!f || !files::FileCatalog::may_read(p, *f)) return unknown_reference(f_field, "file");
    if (!f->unit_id.empty() && f->unit_id != unit.id && f->uploader_id != p.user_id) {
      return Error::invalid(f_field, "file_in_use", "field '" + f_field + "' names a file of another unit");
    }
    auto attached = files::FileCatalog::attach_to_unit(c, file_ids[i], unit.id, unit.jpath);
    if (!attached) return attached.error();
  }
  return ok_status();
}

Status check_device(storage::Connection& c, const std::string& field, const std::string& device_id,
                    const UnitRef& unit) {
  storage::Rows r = c.query("SELECT unit_id FROM devices WHERE id = $1 AND deleted_at IS NULL", {device_id});
  if (r.empty() || r[0].text(0) != unit.id) {
    return Error::invalid(field, "unknown_device", "field '" + field + "' names no device of this unit");
  }
  return ok_status();
}

std::optional<Where> list_where(storage::Connection& c, const auth::Principal& p, const ListFilter& f,
                                std::string_view time_col, std::string first) {
  Where w(std::move(first));
  std::optional<std::string> filter_path;
  if (f.jurisdiction_id) {
    storage::Rows r = c.query("SELECT path FROM jurisdictions WHERE id = $1", {*f.jurisdiction_id});
    if (r.empty()) return std::nullopt;
    filter_path = r[0].text(0);
  }
  const bool by_units = p.role == auth::Role::kMerchant || (!p.unit_ids.empty() && p.jpath.empty());
  bool scoped = false;
  if (!by_units && !p.jpath.empty() && !f.unit_id) {
    // A subtree as the jpaths of the units in it (deleted ones too: their rows keep the path):
    // "jpath IN (…) AND at >= …" seeks each path's stretch of the (jpath, at) indexes, where
    // the range over the paths would read every path's whole history to filter by time.
    std::string path = p.jpath;
    if (filter_path) {
      if (filter_path->starts_with(p.jpath)) {
        path = *filter_path;
      } else if (!p.jpath.starts_with(*filter_path)) {
        w.add_raw("1 = 0");  // a node outside the caller's subtree
        scoped = true;
      }
    }
    if (!scoped) {
      storage::Rows paths = c.query("SELECT DISTINCT jpath FROM units WHERE jpath >= $1 AND jpath < $2 LIMIT 1001",
                                    {path, auth::path_upper(path)});
      if (paths.size() <= 1000) {
        std::vector<std::string> in;
        for (const auto& r : paths) in.push_back(r.text(0));
        w.add_in("jpath", in);  // an empty subtree matches nothing
        scoped = true;
      }
    }
  }
  if (!scoped) {
    w.scope(p, "jpath", "unit_id");
    // the scope above keeps the caller inside their own subtree
    if (filter_path) w.subtree("jpath", *filter_path);
  }
  if (f.unit_id) w.add("unit_id = {}", *f.unit_id);
  if (f.from) w.add(std::string(time_col) + " >= {}", *f.from);
  if (f.to) w.add(std::string(time_col) + " < {}", *f.to);
  return w;
}

std::int64_t capped_count(storage::Connection& c, const Where& w, std::string_view from) {
  storage::Rows r = c.query("SELECT COUNT(*) FROM (SELECT 1 FROM " + std::string(from) + " WHERE " + w.sql() +
                                " LIMIT " + std::to_string(kListCountCap) + ") capped",
                            w.params());
  return r[0].integer(0);
}

storage::Rows newest_page(storage::Connection& c, const Where& w, std::string_view table, std::string_view select_from,
                          PageRequest page, TimeMs anchor, std::optional<TimeMs> from) {
  const std::int64_t need = page.offset() + page.page_size;
  for (TimeMs span = kDayMs; span < 30 * 365 * kDayMs; span *= 4) {
    const TimeMs lo = anchor - span;
    if (from && lo <= *from) break;  // the window would hold the whole range anyway
    // The filter's own "at >= from" (list_where) is looser than the window's and would be the
    // bound an engine seeks the index with (SQLite takes the first of two): written "+at" here,
    // an expression no index serves, it still filters while the window's bound seeks.
    std::string sql = w.sql();
    for (size_t pos = sql.find("(at >= $"); pos != std::string::npos; pos = sql.find("(at >= $", pos + 2)) {
      sql.replace(pos, 3, "(+at");
    }
    Where win(sql);
    for (const auto& v : w.params()) win.bind(v);
    win.add("at >= {}", lo);
    storage::Params ps = win.params();
    ps.emplace_back(need);
    storage::Rows n = c.query("SELECT COUNT(*) FROM (SELECT 1 FROM " + std::string(table) + " WHERE " + win.sql() +
                                  " LIMIT $" + std::to_string(ps.size()) + ") w",
                              ps);
    if (n[0].integer(0) >= need) return win.page(c, select_from, "at DESC, id", page);
  }
  return w.page(c, select_from, "at DESC, id", page);
}

}  // namespace mingchu::operations::detail
