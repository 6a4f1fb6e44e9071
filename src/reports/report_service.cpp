#include "reports/report_service.hpp"

#include <algorithm>
#include <cstdio>

#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/time.hpp"

namespace mingchu::reports {

using storage::Params;

namespace {

constexpr const char* kSelectNode = "SELECT id, parent_id, level, name, path FROM jurisdictions WHERE id = $1";
constexpr const char* kSelectTemplate =
    "SELECT jurisdiction_id, kind, title, body, org, signature, seal_file_id, updated_at FROM document_templates "
    "WHERE jurisdiction_id = $1 AND kind = $2";
constexpr const char* kDeleteTemplate = "DELETE FROM document_templates WHERE jurisdiction_id = $1 AND kind = $2";
constexpr const char* kInsertTemplate =
    "INSERT INTO document_templates (jurisdiction_id, kind, title, body, org, signature, seal_file_id, updated_by, "
    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
constexpr const char* kSelectCamera = "SELECT name, area FROM cameras WHERE id = $1";
constexpr const char* kSelectChildren =
    "SELECT id, name FROM jurisdictions WHERE parent_id = $1 ORDER BY code, id";

constexpr size_t kMaxTemplateBody = 20000;
constexpr size_t kMaxTemplateLine = 200;

std::string risk_class_name(int c) {
  switch (c) {
    case 1: return "一类风险";
    case 2: return "二类风险";
    default: return "三类风险";
  }
}

std::string local_time(TimeMs t, int offset) {
  // "2026-11-22T08:30:00+08:00" → "2026-11-22 08:30"
  std::string s = format_rfc3339(t, offset);
  if (s.size() >= 16) return s.substr(0, 10) + " " + s.substr(11, 5);
  return s;
}

std::string state_zh(alerts::AlertState s) {
  switch (s) {
    case alerts::AlertState::kOpen: return "待整改";
    case alerts::AlertState::kSubmitted: return "待复核";
    case alerts::AlertState::kClosed: return "已办结";
    case alerts::AlertState::kDismissed: return "误报";
  }
  return "";
}

// 粗加工区, 烹饪区, 专间, 洗消间, 库房 (registry::kCameraAreas) as printed.
std::string area_zh(const std::string& a) {
  if (a == "rough_processing") return "粗加工区";
  if (a == "cooking") return "烹饪区";
  if (a == "special_room") return "专间";
  if (a == "washing") return "洗消间";
  if (a == "storeroom") return "库房";
  if (a == "other") return "其他区域";
  return a;
}

std::string kind_title(std::string_view kind) {
  if (kind == "rectification_order") return "责令改正通知书";
  if (kind == "penalty_decision") return "行政处罚决定书";
  if (kind == "inquiry_notice") return "询问通知书";
  return "监督意见书";
}

bool known_kind(std::string_view kind) {
  return std::find(std::begin(alerts::kDocumentKinds), std::end(alerts::kDocumentKinds), kind) !=
         std::end(alerts::kDocumentKinds);
}

// Year and month of "YYYY-MM".
std::optional<std::pair<int, int>> parse_month(const std::string& s) {
  if (s.size() != 7 || s[4] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2));
  if (m < 1 || m > 12 || y < 2000) return std::nullopt;
  return std::pair{y, m};
}

TimeMs month_start(int y, int m, int offset) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-01", y, m);
  return static_cast<TimeMs>(*parse_date(buf)) * kDayMs - static_cast<TimeMs>(offset) * 60 * 1000;
}

Status check_line(const std::string& field, const std::string& v, bool required) {
  if (required && v.empty()) return Error::invalid(field, "missing_field", "field '" + field + "' is required");
  if (utf8_length(v) > kMaxTemplateLine)
    return Error::invalid(field, "too_long", "field '" + field + "' is longer than 200 characters");
  if (has_control_chars(v, false))
    return Error::invalid(field, "invalid_characters", "field '" + field + "' contains control characters");
  return ok_status();
}

}  // namespace

Result<Period> month_period(const std::string& month, const std::optional<std::string>& to_month, int max_months,
                            int utc_offset_minutes, TimeMs now) {
  auto a = parse_month(month);
  if (!a) return Error::invalid("month", "invalid_month", "month must be YYYY-MM (2000 or later)");
  auto b = a;
  if (to_month && !to_month->empty()) {
    b = parse_month(*to_month);
    if (!b) return Error::invalid("to_month", "invalid_month", "to_month must be YYYY-MM (2000 or later)");
  }
  int months = (b->first - a->first) * 12 + (b->second - a->second) + 1;
  if (months < 1) return Error::invalid("to_month", "invalid_range", "to_month is before month");
  if (months > max_months) {
    return Error::invalid("to_month", "range_too_long",
                          "a report covers at most " + std::to_string(max_months) + " months");
  }
  Period p;
  p.months = months;
  p.from = month_start(a->first, a->second, utc_offset_minutes);
  int ny = b->first + (b->second == 12 ? 1 : 0), nm = b->second == 12 ? 1 : b->second + 1;
  p.to = month_start(ny, nm, utc_offset_minutes);
  if (p.from > now) return Error::invalid("month", "future_month", "the month has not begun yet");
  char buf[96];
  if (months == 1) {
    std::snprintf(buf, sizeof buf, "%d年%d月", a->first, a->second);
  } else {
    std::snprintf(buf, sizeof buf, "%d年%d月至%d年%d月", a->first, a->second, b->first, b->second);
  }
  p.label = buf;
  return p;
}

ReportService::ReportService(storage::Database& db, const Clock& clock, alerts::AlertService& alerts,
                             registry::Registry& registry, stats::StatsService& stats, files::FileCatalog& files,
                             const audit::AuditLog& audit, ReportOptions opt)
    : db_(db),
      clock_(clock),
      alerts_(alerts),
      registry_(registry),
      stats_(stats),
      files_(files),
      audit_(audit),
      opt_(std::move(opt)) {}

std::optional<ReportService::Node> ReportService::node(storage::Connection& c, const std::string& id) {
  auto r = c.query(kSelectNode, {id});
  if (r.empty()) return std::nullopt;
  return Node{r[0].text(0), r[0].text(1), r[0].text(2), r[0].text(3)};
}

// 南通市 + 崇川区 → 南通市崇川区市场监督管理局; a station (分局/所) is its own name; the
// bureau of a unit is the one of its district (stations do not issue documents).
std::string ReportService::bureau_name(storage::Connection& c, const std::string& jurisdiction_id) {
  auto n = node(c, jurisdiction_id);
  if (!n) return "市场监督管理局";
  if (n->level == "station") {
    if (auto parent = node(c, n->parent_id)) n = parent;
  }
  std::string name = n->name;
  if (n->level == "district") {
    if (auto city = node(c, n->parent_id); city && name.rfind(city->name, 0) != 0) name = city->name + name;
  }
  return name + "市场监督管理局";
}

DocumentTemplate ReportService::effective_template(storage::Connection& c, const auth::Principal&,
                                                   const std::string& jurisdiction_id, const std::string& kind,
                                                   TemplateRecord* record) {
  DocumentTemplate t = *default_template(kind);
  TemplateRecord rec;
  rec.kind = kind;
  rec.inherited = true;
  std::string at = jurisdiction_id;
  for (int depth = 0; !at.empty() && depth < 8; ++depth) {
    auto r = c.query(kSelectTemplate, {at, kind});
    if (!r.empty()) {
      rec.jurisdiction_id = at;
      rec.inherited = at != jurisdiction_id;
      t.title = r[0].text(2);
      t.body = r[0].text(3);
      t.issuer.org = r[0].text(4);
      if (!r[0].text(5).empty()) t.issuer.signature = r[0].text(5);
      rec.seal_file_id = r[0].opt_text(6);
      rec.updated_at = r[0].integer(7);
      break;
    }
    auto n = node(c, at);
    at = n ? n->parent_id : "";
  }
  rec.title = t.title;
  rec.body = t.body;
  rec.org = t.issuer.org;
  rec.signature = t.issuer.signature;
  if (record) *record = rec;
  return t;
}

std::map<std::string, std::string> ReportService::alert_values(const auth::Principal&, const alerts::AlertDetail& d,
                                                               const registry::Unit& u, std::string* camera) {
  const auto& cfg = alerts_.config();
  const auto* type = cfg.find_type(d.alert.type);
  std::string cam;
  if (d.alert.camera_id) {
    storage::Conn c = db_.acquire();
    if (auto r = c->query(kSelectCamera, {*d.alert.camera_id}); !r.empty()) {
      cam = r[0].text(0);
      if (!r[0].text(1).empty()) cam += "（" + area_zh(r[0].text(1)) + "）";
    }
  }
  if (camera) *camera = cam;
  int off = opt_.utc_offset_minutes;
  return {{"unit_name", u.name},
          {"unit_address", u.address.value_or("")},
          {"uscc", u.uscc.value_or("")},
          {"operator", u.operator_name.value_or("")},
          {"licence", u.licence_number ? *u.licence_number : u.filing_number.value_or("")},
          {"alert_type", type ? type->name_zh : d.alert.type},
          {"alert_id", d.alert.id},
          {"occurred_at", local_time(d.alert.occurred_at, off)},
          {"due_on", d.alert.due_at ? format_date(local_day(*d.alert.due_at, off)) : ""},
          {"issued_on", format_date(local_day(clock_.now_ms(), off))},
          {"camera", cam},
          {"risk_class", risk_class_name(d.alert.risk_class)},
          {"capture_count", std::to_string(d.alert.capture_count)}};
}

Result<std::string> ReportService::notice_pdf(const auth::Principal& p, std::string_view alert_id,
                                              std::string* filename) {
  auto d = alerts_.get(p, alert_id);
  if (!d) return d.error();
  // the unit as the platform knows it, whoever asks (the caller already sees its alert)
  auth::Principal system;
  system.role = auth::Role::kPlatformAdmin;
  system.jpath = "/";
  auto u = registry_.get_unit(system, d->alert.unit_id);
  if (!u) return u.error();
  NoticeData n;
  std::string camera;
  auto v = alert_values(p, *d, *u, &camera);
  {
    storage::Conn c = db_.acquire();
    n.issuer.org = bureau_name(*c, u->jurisdiction_id);
  }
  n.issuer.signature = "承办人：______________";
  // 文号: the year and the alert's id, which is unique and lets anyone find it again
  n.number = "明厨整改〔" + v["issued_on"].substr(0, 4) + "〕" + d->alert.id.substr(d->alert.id.size() > 8 ? d->alert.id.size() - 8 : 0) + "号";
  n.unit_name = u->name;
  n.unit_address = v["unit_address"];
  n.unit_uscc = v["uscc"];
  n.unit_operator = v["operator"];
  n.unit_licence = v["licence"];
  n.alert_id = d->alert.id;
  n.alert_type = v["alert_type"];
  n.risk_class_name = v["risk_class"];
  n.state_name = state_zh(d->alert.state);
  n.camera = camera;
  n.occurred_at = v["occurred_at"];
  n.last_seen_at = local_time(d->alert.last_seen_at, opt_.utc_offset_minutes);
  n.capture_count = d->alert.capture_count;
  n.due_on = v["due_on"];
  n.issued_on = v["issued_on"];
  n.qr_url = opt_.public_base_url + "/#/alerts/" + d->alert.id;
  std::vector<Box> boxes;
  if (auto bv = parse_value(d->alert.boxes_json); bv && bv->is_array()) {
    for (const auto& b : bv->as_array()) {
      if (!b.is_object()) continue;
      const auto& o = b.as_object();
      auto num = [&](const char* k) {
        auto it = o.find(k);
        return it != o.end() && it->value().is_number() ? it->value().to_number<double>() : 0.0;
      };
      Box box{num("x"), num("y"), num("w"), num("h"), ""};
      if (auto it = o.find("label"); it != o.end() && it->value().is_string()) box.label = it->value().as_string();
      boxes.push_back(box);
    }
  }
  // the boxes belong to the latest capture; printed on the first snapshots (the alert keeps
  // one set of boxes)
  for (size_t i = 0; i < d->alert.snapshot_ids.size() && n.snapshots.size() < 4; ++i) {
    auto f = files_.read(p, d->alert.snapshot_ids[i]);
    if (!f) continue;
    n.snapshots.push_back(Snapshot{std::move(f->second), boxes});
  }
  if (filename) *filename = "整改通知书-" + d->alert.id + ".pdf";
  return render_notice(n);
}

Result<std::string> ReportService::document_pdf(const auth::Principal& p, std::string_view alert_id,
                                                std::string_view doc_id, std::string* filename) {
  auto d = alerts_.get(p, alert_id);
  if (!d) return d.error();
  const alerts::EnforcementDocument* doc = nullptr;
  for (const auto& x : d->documents) {
    if (x.id == doc_id) doc = &x;
  }
  if (!doc) return Error::not_found("document");
  auth::Principal system;
  system.role = auth::Role::kPlatformAdmin;
  system.jpath = "/";
  auto u = registry_.get_unit(system, d->alert.unit_id);
  if (!u) return u.error();
  auto v = alert_values(p, *d, *u, nullptr);
  v["number"] = doc->number;
  v["issued_on"] = format_date(doc->issued_on);
  storage::Conn c = db_.acquire();
  TemplateRecord rec;
  DocumentTemplate t = effective_template(*c, p, u->jurisdiction_id, doc->kind, &rec);
  if (t.issuer.org.empty()) t.issuer.org = bureau_name(*c, u->jurisdiction_id);
  v["org"] = t.issuer.org;
  if (rec.seal_file_id) {
    // the seal is the template's: read as the platform (whoever prints the document)
    if (auto f = files_.read(system, *rec.seal_file_id)) t.issuer.seal_image = std::move(f->second);
  }
  if (filename) *filename = kind_title(doc->kind) + "-" + doc->number + ".pdf";
  return render_document(t, v);
}

Result<std::string> ReportService::unit_archive_pdf(const auth::Principal& p, std::string_view unit_id,
                                                    std::string* filename) {
  auto u = registry_.get_unit(p, unit_id);
  if (!u) return u.error();
  int off = opt_.utc_offset_minutes;
  UnitArchiveData d;
  {
    storage::Conn c = db_.acquire();
    d.issuer.org = bureau_name(*c, u->jurisdiction_id);
    if (auto j = node(*c, u->jurisdiction_id)) {
      d.fields.push_back({"单位名称", u->name});
      d.fields.push_back({"所属辖区", j->name});
    }
  }
  d.issuer.signature = "建档人：______________";
  d.generated_at = local_time(clock_.now_ms(), off);
  d.fields.push_back({"统一社会信用代码", u->uscc.value_or("")});
  d.fields.push_back({"许可证号", u->licence_number.value_or("")});
  d.fields.push_back({"备案号", u->filing_number.value_or("")});
  d.fields.push_back({"经营者/负责人", u->operator_name.value_or("")});
  d.fields.push_back({"联系电话", u->phone.value_or("")});
  d.fields.push_back({"经营地址", u->address.value_or("")});
  d.fields.push_back({"门店类型", u->store_type});
  d.fields.push_back({"主体业态", u->business_format.value_or("")});
  d.fields.push_back({"量化分级", u->rating.value_or("")});
  registry::CameraFilter cf;
  cf.unit_id = std::string(unit_id);
  if (auto cams = registry_.list_cameras(p, cf, registry::PageRequest{1, 200})) {
    for (const auto& cam : cams->items) {
      d.cameras.push_back({{cam.name, area_zh(cam.area), cam.status == "online" ? "在线" : "离线",
                            cam.last_seen_at ? local_time(*cam.last_seen_at, off) : "—"}});
    }
  }
  registry::StaffFilter sf;
  sf.unit_id = std::string(unit_id);
  if (auto staff = registry_.list_staff(p, sf, registry::PageRequest{1, 200})) {
    for (const auto& s : staff->items) {
      const char* st = s.cert_status == registry::CertStatus::kValid      ? "有效"
                       : s.cert_status == registry::CertStatus::kExpiring ? "即将到期"
                       : s.cert_status == registry::CertStatus::kExpired  ? "已过期"
                                                                           : "未办理";
      d.staff.push_back({{s.name, s.position.value_or(""), s.id_number, s.cert ? s.cert->number : "",
                          s.cert ? format_date(s.cert->expires_on) : "", st}});
    }
  }
  TimeMs now = clock_.now_ms();
  alerts::AlertFilter af;
  af.unit_id = std::string(unit_id);
  af.from = now - 90 * kDayMs;
  const auto& cfg = alerts_.config();
  std::map<std::string, std::int64_t> by_type;
  std::optional<alerts::AlertCursor> after;
  for (;;) {
    auto page = alerts_.list_after(p, af, after, 2000);
    if (!page || page->empty()) break;
    for (const auto& a : *page) {
      ++d.alerts_90d;
      const auto* t = cfg.find_type(a.type);
      ++by_type[t ? t->name_zh : a.type];
    }
    if (page->size() < 2000) break;
    after = alerts::AlertCursor{page->back().occurred_at, page->back().id};
  }
  for (const auto& [k, v] : by_type) d.alerts_by_type.push_back(NamedCount{k, v});
  std::sort(d.alerts_by_type.begin(), d.alerts_by_type.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  alerts::AlertFilter open;
  open.unit_id = std::string(unit_id);
  open.state = alerts::AlertState::kOpen;
  if (auto o = alerts_.list(p, open, alerts::PageRequest{1, 1})) d.open_alerts = o->total;
  open.overdue = true;
  if (auto o = alerts_.list(p, open, alerts::PageRequest{1, 1})) d.overdue_alerts = o->total;
  d.qr_url = opt_.public_base_url + "/public/units/" + u->disclosure_token;
  if (filename) *filename = "单位档案-" + u->name + ".pdf";
  return render_unit_archive(d);
}

Result<MonthlyData> ReportService::monthly_data(const auth::Principal& p, const MonthlyQuery& q) {
  std::string jid = q.jurisdiction_id.value_or(p.jurisdiction_id);
  if (jid.empty()) return Error::invalid("jurisdiction_id", "missing_field", "field 'jurisdiction_id' is required");
  if (!plausible_id(jid)) return Error::not_found("jurisdiction");
  auto period = month_period(q.month, q.to_month, opt_.max_months, opt_.utc_offset_minutes, clock_.now_ms());
  if (!period) return period.error();
  storage::Conn c = db_.acquire();
  auto r = c->query(kSelectNode, {jid});
  if (r.empty() || p.jpath.empty() || !p.covers_path(r[0].text(4))) return Error::not_found("jurisdiction");
  MonthlyData m;
  m.jurisdiction_name = r[0].text(3);
  std::string level = r[0].text(2);
  m.issuer.org = bureau_name(*c, jid);
  if (level == "province" || level == "station") m.issuer.org = level == "station" ? r[0].text(3) : m.issuer.org;
  m.issuer.signature = "";
  m.period = period->label;
  m.generated_at = local_time(clock_.now_ms(), opt_.utc_offset_minutes);
  stats::OverviewQuery oq{jid, period->from, std::min(period->to, std::max(clock_.now_ms(), period->from + 1))};
  auto ov = stats_.overview(p, oq);
  if (!ov) return ov.error();
  m.units = ov->units;
  m.units_with_alerts = ov->units_with_alerts;
  m.alerts_total = ov->alerts_total;
  m.handled = ov->handled;
  m.cameras_total = ov->cameras_total;
  m.cameras_online = ov->cameras_online;
  for (const auto& [day, n] : ov->by_day) m.by_day.push_back(NamedCount{day.size() >= 10 ? (period->months == 1 ? day.substr(8, 2) : day.substr(5, 5)) : day, n});
  const auto& cfg = alerts_.config();
  for (const auto& [code, n] : ov->by_type) {
    if (n == 0) continue;
    const auto* t = cfg.find_type(code);
    m.by_type.push_back(NamedCount{t ? t->name_zh : code, n});
  }
  std::sort(m.by_type.begin(), m.by_type.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  for (int k = 1; k <= 3; ++k) {
    auto it = ov->by_risk_class.find(k);
    m.by_risk_class.push_back(NamedCount{risk_class_name(k), it == ov->by_risk_class.end() ? 0 : it->second});
  }
  for (const auto& t : ov->top_units) m.top_units.push_back(NamedCount{t.name, t.count});
  // the period before, of the same length
  stats::OverviewQuery prev{jid, period->from - (period->to - period->from), period->from};
  if (auto pv = stats_.overview(p, prev)) m.previous_alerts_total = pv->alerts_total;
  // the lower levels
  for (const auto& ch : c->query(kSelectChildren, {jid})) {
    auto co = stats_.overview(p, stats::OverviewQuery{ch.text(0), oq.from, oq.to});
    if (!co) continue;
    m.areas.push_back(AreaRow{ch.text(1), co->units, co->alerts_total, co->handled});
  }
  // overdue, not closed
  alerts::AlertFilter af;
  af.jurisdiction_id = jid;
  af.overdue = true;
  af.state = alerts::AlertState::kOpen;
  auto od = alerts_.list(p, af, alerts::PageRequest{1, 50});
  if (od) {
    m.overdue_total = od->total;
    TimeMs now = clock_.now_ms();
    for (const auto& a : od->items) {
      OverdueRow row;
      auto un = c->query("SELECT name FROM units WHERE id = $1", {a.unit_id});
      row.unit_name = un.empty() ? a.unit_id : un[0].text(0);
      const auto* t = cfg.find_type(a.type);
      row.alert_type = t ? t->name_zh : a.type;
      row.occurred_at = local_time(a.occurred_at, opt_.utc_offset_minutes);
      row.due_on = a.due_at ? format_date(local_day(*a.due_at, opt_.utc_offset_minutes)) : "";
      row.days_overdue = a.due_at ? std::max<TimeMs>(0, (now - *a.due_at) / kDayMs) : 0;
      row.card = a.card ? (*a.card == "red" ? "红牌" : "黄牌") : "";
      m.overdue.push_back(row);
    }
  }
  return m;
}

Result<std::string> ReportService::monthly_pdf(const auth::Principal& p, const MonthlyQuery& q, std::string* filename) {
  auto m = monthly_data(p, q);
  if (!m) return m.error();
  if (filename) *filename = m->jurisdiction_name + "-明厨亮灶监管月报-" + q.month + ".pdf";
  return render_monthly(*m);
}

Result<TemplateRecord> ReportService::get_template(const auth::Principal& p, std::string_view jurisdiction_id,
                                                   std::string_view kind) {
  if (!known_kind(kind)) return Error::not_found("template");
  if (!plausible_id(jurisdiction_id)) return Error::not_found("jurisdiction");
  storage::Conn c = db_.acquire();
  auto r = c->query(kSelectNode, {std::string(jurisdiction_id)});
  if (r.empty() || p.jpath.empty() || !p.covers_path(r[0].text(4))) return Error::not_found("jurisdiction");
  TemplateRecord rec;
  effective_template(*c, p, std::string(jurisdiction_id), std::string(kind), &rec);
  if (rec.org.empty()) rec.org = bureau_name(*c, std::string(jurisdiction_id));
  return rec;
}

Result<TemplateRecord> ReportService::put_template(const auth::Principal& p, std::string_view jurisdiction_id,
                                                   std::string_view kind, const TemplateInput& in) {
  if (!known_kind(kind)) return Error::not_found("template");
  if (!plausible_id(jurisdiction_id)) return Error::not_found("jurisdiction");
  if (p.is_api_key || (p.role != auth::Role::kRegulator && !p.is_admin()))
    return Error::forbidden("only regulators and platform admins edit document templates");
  if (auto st = check_line("title", in.title, true); !st) return st.error();
  if (auto st = check_line("org", in.org, false); !st) return st.error();
  if (auto st = check_line("signature", in.signature, false); !st) return st.error();
  if (in.body.empty()) return Error::invalid("body", "missing_field", "field 'body' is required");
  if (in.body.size() > kMaxTemplateBody) return Error::invalid("body", "too_long", "field 'body' is longer than 20000 bytes");
  if (has_control_chars(in.body, true))
    return Error::invalid("body", "invalid_characters", "field 'body' contains control characters");
  if (auto problem = check_template_body(std::string(kind), in.body)) {
    Error e = Error::invalid("body", problem->code, problem->message);
    return e;
  }
  storage::Conn c = db_.acquire();
  auto r = c->query(kSelectNode, {std::string(jurisdiction_id)});
  if (r.empty() || p.jpath.empty() || !p.covers_path(r[0].text(4))) return Error::not_found("jurisdiction");
  if (in.seal_file_id) {
    auto f = files_.get(p, *in.seal_file_id);
    if (!f) return Error::invalid("seal_file_id", "unknown_file", "field 'seal_file_id' names no file you may read");
    if (f->content_type != "image/png" && f->content_type != "image/jpeg")
      return Error::invalid("seal_file_id", "unsupported_image", "the seal must be a PNG or JPEG image");
  }
  TimeMs now = clock_.now_ms();
  {
    storage::Transaction tx(*c);
    c->exec(kDeleteTemplate, {std::string(jurisdiction_id), std::string(kind)});
    c->exec(kInsertTemplate,
            {std::string(jurisdiction_id), std::string(kind), in.title, in.body, in.org, in.signature,
             in.seal_file_id ? storage::Value(*in.seal_file_id) : storage::Value(nullptr), p.user_id, now});
    audit::Entry e;
    e.actor_id = p.user_id;
    e.actor = p.username;
    e.role = std::string(auth::role_name(p.role));
    e.action = "document_template.update";
    e.target = "jurisdiction:" + std::string(jurisdiction_id);
    e.source = p.source;
    e.detail = json::serialize(json::object{{"kind", std::string(kind)}});
    audit_.append(*c, e);
    tx.commit();
  }
  TemplateRecord rec;
  effective_template(*c, p, std::string(jurisdiction_id), std::string(kind), &rec);
  if (rec.org.empty()) rec.org = bureau_name(*c, std::string(jurisdiction_id));
  return rec;
}

}  // namespace mingchu::reports
