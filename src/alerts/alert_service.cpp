#include "alerts/alert_service.hpp"

#include <algorithm>
#include <set>

#include "alerts/internal.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "files/file_catalog.hpp"

namespace mingchu::alerts {

using storage::Params;
using storage::Value;

namespace {

constexpr const char* kSelectJurisdictionPath = "SELECT path FROM jurisdictions WHERE id = $1";
constexpr const char* kSelectUnitName = "SELECT name FROM units WHERE id = $1";
constexpr const char* kSelectEvents =
    "SELECT type, at, actor_id, actor_name, actor_role, comment, detail FROM alert_events WHERE alert_id = $1 "
    "ORDER BY at, seq";
constexpr const char* kSelectRectifications =
    "SELECT id, text, photo_ids, submitted_by, submitted_at FROM rectifications WHERE alert_id = $1 "
    "ORDER BY submitted_at, id";
constexpr const char* kSelectDocuments =
    "SELECT id, alert_id, kind, number, issued_on, file_id, created_by, created_at FROM alert_documents "
    "WHERE alert_id = $1 ORDER BY created_at, id";
constexpr const char* kInsertRectification =
    "INSERT INTO rectifications (id, alert_id, text, photo_ids, submitted_by, submitted_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* kInsertDocument =
    "INSERT INTO alert_documents (id, alert_id, kind, number, issued_on, file_id, created_by, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
constexpr const char* kSelectNotifications =
    "SELECT id, alert_id, topic, title, body, created_at, read_at FROM notifications WHERE user_id = $1";
constexpr const char* kCountUnread = "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL";
constexpr const char* kSelectNotification =
    "SELECT id, alert_id, topic, title, body, created_at, read_at FROM notifications WHERE id = $1 AND user_id = $2";
constexpr const char* kMarkRead =
    "UPDATE notifications SET read_at = $3 WHERE id = $1 AND user_id = $2 AND read_at IS NULL";
// + scope; dismissed alerts with the reason from their dismissal event
constexpr const char* kSelectFalsePositives =
    "SELECT a.id, a.type, a.unit_id, a.camera_id, e.comment, a.model, a.boxes, a.occurred_at, e.at "
    "FROM alerts a JOIN alert_events e ON e.alert_id = a.id AND e.type = 'dismissed' WHERE a.state = 'dismissed'";

bool is_regulator_or_admin(const auth::Principal& p) {
  return p.role == auth::Role::kRegulator || p.role == auth::Role::kPlatformAdmin;
}

Error illegal(AlertState from, AlertState to) {
  return Error::conflict("illegal_transition", "an alert cannot go from '" + std::string(state_name(from)) + "' to '" +
                                                   std::string(state_name(to)) + "'");
}

Status check_text(const std::string& field, const std::string& text, size_t max_chars, bool required) {
  if (required && text.empty()) return Error::invalid(field, "missing_field", "field '" + field + "' is required");
  if (utf8_length(text) > max_chars) {
    return Error::invalid(field, "too_long",
                          "field '" + field + "' is longer than " + std::to_string(max_chars) + " characters");
  }
  if (has_control_chars(text, true)) {
    return Error::invalid(field, "invalid_characters", "field '" + field + "' contains control characters");
  }
  return ok_status();
}

Notification notification_from_row(const storage::Row& r) {
  Notification n;
  n.id = r.text(0);
  n.alert_id = r.opt_text(1);
  n.topic = r.text(2);
  n.title = r.text(3);
  n.body = r.text(4);
  n.created_at = r.integer(5);
  n.read_at = r.opt_integer(6);
  return n;
}

std::string ids_json(const std::vector<std::string>& ids) {
  json::array a;
  for (const auto& s : ids) a.emplace_back(s);
  return json::serialize(a);
}

std::vector<std::string> ids_from_json(const std::string& text) {
  std::vector<std::string> out;
  auto v = parse_value(text);
  if (v && v->is_array()) {
    for (const auto& e : v->as_array()) {
      if (e.is_string()) out.emplace_back(e.as_string());
    }
  }
  return out;
}

}  // namespace

Actor actor_of(const auth::Principal& p) {
  Actor a;
  a.id = p.user_id;
  a.name = p.display_name.empty() ? p.username : p.display_name;
  a.role = p.is_api_key ? "api_key" : std::string(auth::role_name(p.role));
  return a;
}

struct AlertService::Loaded {
  Alert alert;
  UnitRef unit;
};

AlertService::AlertService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, AlertsConfig config)
    : db_(db), clock_(clock), audit_(audit), config_(std::move(config)) {}

template <typename Fn>
auto AlertService::in_writer(Fn&& fn) {
  return db_.in_transaction([&](storage::Connection& c) {
    AlertWriter w(c, config_, clock_, audit_);
    auto r = fn(w);
    if (r) w.flush();
    return r;
  });
}

Result<AlertService::Loaded> AlertService::load_in_scope(AlertWriter& w, const auth::Principal& p,
                                                         std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("alert");
  auto a = w.load_for_update(std::string(id));
  if (!a || !p.covers(a->jpath, a->unit_id)) return Error::not_found("alert");
  Loaded l;
  l.alert = std::move(*a);
  auto u = w.unit(l.alert.unit_id);
  l.unit = u ? *u : UnitRef{l.alert.unit_id, l.alert.jpath, "", ""};
  return l;
}

Result<std::string> AlertService::where_of(storage::Connection& c, const auth::Principal& p, const AlertFilter& f,
                                           Params& ps, bool jpath_seek) {
  const std::string jpath_col = jpath_seek ? "a.jpath" : "(a.jpath || '')";
  std::string where = " WHERE 1 = 1";
  auto bind = [&](Value v) {
    ps.push_back(std::move(v));
    return "$" + std::to_string(ps.size());
  };
  auth::append_scope(p, jpath_col, "a.unit_id", where, ps);
  if (f.jurisdiction_id) {
    storage::Rows r;
    if (plausible_id(*f.jurisdiction_id)) r = c.query(kSelectJurisdictionPath, {*f.jurisdiction_id});
    if (r.empty() || !p.covers_path(r[0].text(0))) {
      return Error::invalid("jurisdiction_id", "unknown_jurisdiction",
                            "field 'jurisdiction_id' names no jurisdiction in your scope");
    }
    std::string path = r[0].text(0);
    where += " AND " + jpath_col + " >= " + bind(path);
    where += " AND " + jpath_col + " < " + bind(auth::path_upper(path));
  }
  if (f.unit_id) where += " AND a.unit_id = " + bind(*f.unit_id);
  if (f.camera_id) where += " AND a.camera_id = " + bind(*f.camera_id);
  if (f.type) where += " AND a.type = " + bind(*f.type);
  if (f.risk_class) where += " AND a.risk_class = " + bind(std::int64_t{*f.risk_class});
  // (the same for state and overdue, whose index would otherwise be chosen and sorted)
  if (f.state) where += (jpath_seek ? " AND a.state = " : " AND (a.state || '') = ") + bind(std::string(state_name(*f.state)));
  if (f.card) where += " AND a.card = " + bind(*f.card);
  if (f.overdue) where += (jpath_seek ? " AND a.overdue = " : " AND (a.overdue + 0) = ") + bind(std::int64_t{*f.overdue ? 1 : 0});
  if (f.from) where += " AND a.occurred_at >= " + bind(*f.from);
  if (f.to) where += " AND a.occurred_at < " + bind(*f.to);
  return where;
}

Result<Page<Alert>> AlertService::list(const auth::Principal& p, const AlertFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  Params ps;
  auto w = where_of(*c, p, f, ps);
  if (!w) return w.error();
  const std::string& where = *w;
  Page<Alert> out;
  out.total = c->query("SELECT COUNT(*) FROM alerts a" + where, ps)[0].integer(0);
  if (out.total == 0) return out;
  // Many matches in a jurisdiction range (a province's list): sorting them all for one page
  // would visit every row; walking the time index newest first finds the page after about
  // page_end * (alerts in range / matches) rows. Few matches: sorting them is cheaper.
  constexpr std::int64_t kSortAtMost = 20'000;
  bool by_time = out.total > kSortAtMost && !f.unit_id && !f.camera_id;
  if (by_time) {
    ps.clear();
    auto w2 = where_of(*c, p, f, ps, false);
    if (!w2) return w2.error();
    *w = std::move(*w2);
  }
  Params pp = ps;
  pp.emplace_back(static_cast<std::int64_t>(page.page_size));
  std::string limit = " LIMIT $" + std::to_string(pp.size());
  pp.emplace_back(page.offset());
  limit += " OFFSET $" + std::to_string(pp.size());
  storage::Rows rows = c->query(std::string("SELECT ") + detail::kAlertColumns + " FROM alerts a" + where +
                                    " ORDER BY a.occurred_at DESC, a.id DESC" + limit,
                                pp);
  for (const auto& r : rows) out.items.push_back(detail::alert_from_row(r));
  std::vector<Alert*> ptrs;
  for (auto& a : out.items) ptrs.push_back(&a);
  detail::load_snapshots(*c, ptrs);
  return out;
}

Result<std::vector<Alert>> AlertService::list_after(const auth::Principal& p, const AlertFilter& f,
                                                    const std::optional<AlertCursor>& after, int limit) {
  storage::Conn c = db_.acquire();
  Params ps;
  auto w = where_of(*c, p, f, ps);
  if (!w) return w.error();
  std::string where = *w;
  if (after) {
    ps.emplace_back(after->occurred_at);
    std::string t = "$" + std::to_string(ps.size());
    ps.emplace_back(after->id);
    std::string i = "$" + std::to_string(ps.size());
    where += " AND (a.occurred_at < " + t + " OR (a.occurred_at = " + t + " AND a.id < " + i + "))";
  }
  ps.emplace_back(static_cast<std::int64_t>(limit));
  storage::Rows rows = c->query(std::string("SELECT ") + detail::kAlertColumns + " FROM alerts a" + where +
                                    " ORDER BY a.occurred_at DESC, a.id DESC LIMIT $" + std::to_string(ps.size()),
                                ps);
  std::vector<Alert> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(detail::alert_from_row(r));
  return out;
}

Result<AlertDetail> AlertService::get(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("alert");
  storage::Conn c = db_.acquire();
  storage::Rows rows =
      c->query(std::string("SELECT ") + detail::kAlertColumns + " FROM alerts a WHERE a.id = $1", {std::string(id)});
  if (rows.empty()) return Error::not_found("alert");
  AlertDetail d;
  d.alert = detail::alert_from_row(rows[0]);
  if (!p.covers(d.alert.jpath, d.alert.unit_id)) return Error::not_found("alert");
  detail::load_snapshots(*c, {&d.alert});
  if (auto u = c->query(kSelectUnitName, {d.alert.unit_id}); !u.empty()) d.unit_name = u[0].text(0);
  for (const auto& r : c->query(kSelectEvents, {d.alert.id})) {
    TimelineEvent e;
    e.type = r.text(0);
    e.at = r.integer(1);
    e.actor = Actor{r.text(2), r.text(3), r.text(4)};
    e.comment = r.opt_text(5);
    e.detail_json = r.text(6);
    d.events.push_back(std::move(e));
  }
  for (const auto& r : c->query(kSelectRectifications, {d.alert.id})) {
    d.rectifications.push_back(Rectification{r.text(0), r.text(1), ids_from_json(r.text(2)), r.text(3), r.integer(4)});
  }
  for (const auto& r : c->query(kSelectDocuments, {d.alert.id})) {
    d.documents.push_back(EnforcementDocument{r.text(0), r.text(1), r.text(2), r.text(3),
                                              static_cast<int>(r.integer(4)), r.opt_text(5), r.text(6), r.integer(7)});
  }
  return d;
}

Result<Alert> AlertService::rectify(const auth::Principal& p, std::string_view id, const RectificationInput& in) {
  return in_writer([&](AlertWriter& w) { return rectify(w, p, id, in); });
}

Result<Alert> AlertService::rectify(AlertWriter& w, const auth::Principal& p, std::string_view id,
                                    const RectificationInput& in) {
  if (auto st = check_text("text", in.text, kMaxRectificationChars, true); !st) return st.error();
  if (in.photo_ids.size() > kMaxRectificationPhotos) {
    return Error::invalid("photo_ids", "too_many_items", "at most 9 photos");
  }
  storage::Connection& c = w.conn();
  {
    auto l = load_in_scope(w, p, id);
    if (!l) return l.error();
    if (p.is_api_key || p.role != auth::Role::kMerchant) {
      return Error::forbidden("only the unit's merchant users submit rectifications");
    }
    Alert a = l->alert;
    if (a.state != AlertState::kOpen) return illegal(a.state, AlertState::kSubmitted);
    std::set<std::string> seen;
    for (size_t i = 0; i < in.photo_ids.size(); ++i) {
      std::string field = "photo_ids[" + std::to_string(i) + "]";
      auto f = files::FileCatalog::load(c, in.photo_ids[i]);
      if (!f || !files::FileCatalog::may_read(p, *f) || !f->is_image()) {
        return Error::invalid(field, "unknown_file", "field '" + field + "' names no image file you may use");
      }
      if (!seen.insert(f->id).second) {
        return Error::invalid(field, "duplicate_item", "field '" + field + "' repeats a photo");
      }
    }
    for (const auto& fid : in.photo_ids) (void)files::FileCatalog::attach_to_unit(c, fid, a.unit_id, a.jpath);
    Actor actor = actor_of(p);
    c.exec(kInsertRectification, {new_id("rect"), a.id, in.text, ids_json(in.photo_ids), p.user_id, w.now()});
    a.state = AlertState::kSubmitted;
    a.updated_at = w.now();
    w.save(a);
    json::array photos;
    for (const auto& fid : in.photo_ids) photos.emplace_back(fid);
    w.event(a.id, "rectification_submitted", actor, in.text, json::serialize(json::object{{"photo_ids", photos}}));
    w.audit(actor, "alert.rectify", "alert:" + a.id, json::serialize(json::object{{"photos", in.photo_ids.size()}}),
            p.source);
    w.outbox_alert("alert.updated", l->unit, a, actor, in.text, false);
    w.notify_alert(w.recipients(l->unit).regulators, a, l->unit, "alert.updated", "整改已提交");
    return a;
  }
}

Result<Alert> AlertService::review(const auth::Principal& p, std::string_view id, const ReviewInput& in) {
  return in_writer([&](AlertWriter& w) { return review(w, p, id, in); });
}

Result<Alert> AlertService::review(AlertWriter& w, const auth::Principal& p, std::string_view id,
                                   const ReviewInput& in) {
  if (auto st = check_text("comment", in.comment, kMaxCommentChars, !in.approve); !st) return st.error();
  {
    auto l = load_in_scope(w, p, id);
    if (!l) return l.error();
    if (p.is_api_key || !is_regulator_or_admin(p)) return Error::forbidden("only regulators review rectifications");
    Alert a = l->alert;
    AlertState to = in.approve ? AlertState::kClosed : AlertState::kOpen;
    if (a.state != AlertState::kSubmitted) return illegal(a.state, to);
    Actor actor = actor_of(p);
    std::optional<std::string> comment;
    if (!in.comment.empty()) comment = in.comment;
    a.state = to;
    a.updated_at = w.now();
    if (in.approve) {
      a.handled_at = w.now();
      w.save(a);
      w.event(a.id, "approved", actor, comment);
      w.event(a.id, "closed", actor);
      w.count_handled(a);
    } else {
      w.save(a);
      w.event(a.id, "rejected", actor, comment);
    }
    w.audit(actor, in.approve ? "alert.approve" : "alert.reject", "alert:" + a.id, "", p.source);
    w.outbox_alert("alert.updated", l->unit, a, actor, comment, false);
    w.notify_alert(w.recipients(l->unit).merchants, a, l->unit, "alert.updated",
                   in.approve ? "整改已通过复核" : "整改被驳回");
    return a;
  }
}

Result<Alert> AlertService::dismiss(const auth::Principal& p, std::string_view id, const std::string& reason) {
  return in_writer([&](AlertWriter& w) { return dismiss(w, p, id, reason); });
}

Result<Alert> AlertService::dismiss(AlertWriter& w, const auth::Principal& p, std::string_view id,
                                    const std::string& reason) {
  if (auto st = check_text("reason", reason, kMaxCommentChars, true); !st) return st.error();
  {
    auto l = load_in_scope(w, p, id);
    if (!l) return l.error();
    if (p.is_api_key || !is_regulator_or_admin(p)) return Error::forbidden("only regulators dismiss alerts");
    Alert a = l->alert;
    if (a.state != AlertState::kOpen && a.state != AlertState::kSubmitted) {
      return illegal(a.state, AlertState::kDismissed);
    }
    Actor actor = actor_of(p);
    a.state = AlertState::kDismissed;
    a.handled_at = w.now();
    a.updated_at = w.now();
    w.save(a);
    w.event(a.id, "dismissed", actor, reason);
    w.count_handled(a);
    w.audit(actor, "alert.dismiss", "alert:" + a.id, "", p.source);
    w.outbox_alert("alert.updated", l->unit, a, actor, reason, false);
    w.notify_alert(w.recipients(l->unit).merchants, a, l->unit, "alert.updated", "已认定为误报");
    return a;
  }
}

Result<EnforcementDocument> AlertService::add_document(const auth::Principal& p, std::string_view id,
                                                       const DocumentInput& in) {
  if (std::find(std::begin(kDocumentKinds), std::end(kDocumentKinds), in.kind) == std::end(kDocumentKinds)) {
    return Error::invalid("kind", "invalid_kind",
                          "kind must be rectification_order, penalty_decision, inquiry_notice or supervision_letter");
  }
  if (in.number.empty() || utf8_length(in.number) > 64 || has_control_chars(in.number, false)) {
    return Error::invalid("number", "invalid_number", "number must be 1–64 characters on one line");
  }
  return db_.in_transaction([&](storage::Connection& c) -> Result<EnforcementDocument> {
    AlertWriter w(c, config_, clock_, audit_);
    auto l = load_in_scope(w, p, id);
    if (!l) return l.error();
    if (p.is_api_key || !is_regulator_or_admin(p)) return Error::forbidden("only regulators issue documents");
    if (in.file_id) {
      auto f = files::FileCatalog::load(c, *in.file_id);
      if (!f || !files::FileCatalog::may_read(p, *f)) {
        return Error::invalid("file_id", "unknown_file", "field 'file_id' names no file you may use");
      }
      (void)files::FileCatalog::attach_to_unit(c, *in.file_id, l->alert.unit_id, l->alert.jpath);
    }
    EnforcementDocument d{new_id("doc"), l->alert.id, in.kind, in.number, in.issued_on, in.file_id, p.user_id, w.now()};
    c.exec(kInsertDocument, {d.id, d.alert_id, d.kind, d.number, std::int64_t{d.issued_on},
                             d.file_id ? Value(*d.file_id) : Value(nullptr), d.created_by, d.created_at});
    Actor actor = actor_of(p);
    json::object detail{
        {"document_id", d.id}, {"kind", d.kind}, {"number", d.number}, {"issued_on", format_date(d.issued_on)}};
    w.event(l->alert.id, "document", actor, d.number, json::serialize(detail));
    w.audit(actor, "alert.document", "alert:" + l->alert.id, json::serialize(detail), p.source);
    w.flush();
    return d;
  });
}

Result<Page<Notification>> AlertService::notifications(const auth::Principal& p, bool unread_only, PageRequest page,
                                                       std::int64_t& unread_total) {
  if (p.is_api_key) return Error::forbidden("API keys have no inbox");
  storage::Conn c = db_.acquire();
  std::string where = unread_only ? " AND read_at IS NULL" : "";
  Page<Notification> out;
  out.total = c->query("SELECT COUNT(*) FROM notifications WHERE user_id = $1" + where, {p.user_id})[0].integer(0);
  unread_total = unread_only ? out.total : c->query(kCountUnread, {p.user_id})[0].integer(0);
  storage::Rows rows =
      c->query(std::string(kSelectNotifications) + where + " ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
               {p.user_id, static_cast<std::int64_t>(page.page_size), page.offset()});
  for (const auto& r : rows) out.items.push_back(notification_from_row(r));
  return out;
}

Result<Notification> AlertService::mark_read(const auth::Principal& p, std::string_view id) {
  if (p.is_api_key || !plausible_id(id)) return Error::not_found("notification");
  storage::Conn c = db_.acquire();
  c->exec(kMarkRead, {std::string(id), p.user_id, clock_.now_ms()});
  storage::Rows rows = c->query(kSelectNotification, {std::string(id), p.user_id});
  if (rows.empty()) return Error::not_found("notification");
  return notification_from_row(rows[0]);
}

Result<std::vector<FalsePositiveLabel>> AlertService::false_positives(const auth::Principal& p,
                                                                      std::optional<TimeMs> from,
                                                                      std::optional<TimeMs> to, int limit) {
  storage::Conn c = db_.acquire();
  std::string sql = kSelectFalsePositives;
  Params ps;
  auth::append_scope(p, "a.jpath", "a.unit_id", sql, ps);
  if (from) {
    ps.emplace_back(*from);
    sql += " AND e.at >= $" + std::to_string(ps.size());
  }
  if (to) {
    ps.emplace_back(*to);
    sql += " AND e.at < $" + std::to_string(ps.size());
  }
  ps.emplace_back(static_cast<std::int64_t>(limit));
  sql += " ORDER BY e.at, a.id LIMIT $" + std::to_string(ps.size());
  std::vector<FalsePositiveLabel> out;
  std::vector<Alert> holders;
  for (const auto& r : c->query(sql, ps)) {
    FalsePositiveLabel l;
    l.alert_id = r.text(0);
    l.type = r.text(1);
    l.unit_id = r.text(2);
    l.camera_id = r.opt_text(3);
    l.reason = r.text(4);
    l.model = r.opt_text(5);
    l.boxes_json = r.text(6);
    l.occurred_at = r.integer(7);
    l.dismissed_at = r.integer(8);
    out.push_back(std::move(l));
    Alert a;
    a.id = out.back().alert_id;
    holders.push_back(std::move(a));
  }
  std::vector<Alert*> ptrs;
  for (auto& a : holders) ptrs.push_back(&a);
  detail::load_snapshots(*c, ptrs);
  for (size_t i = 0; i < out.size(); ++i) out[i].snapshot_ids = holders[i].snapshot_ids;
  return out;
}

}  // namespace mingchu::alerts
