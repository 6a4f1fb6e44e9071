// The printed documents of the supervision loop, rendered to PDF from plain values (no
// database here: ReportService gathers the values, these functions only draw):
//   - 整改通知书, the rectification notice of one alert: red header of the issuing bureau, the
//     unit, what was seen (snapshots with the detection boxes), the deadline, a QR code to the
//     alert, signature line and seal;
//   - 三书一函, the four enforcement documents (责令整改通知书, 行政处罚决定书, 询问通知书,
//     监督意见书/函), each from a per-jurisdiction template whose {{placeholders}} are filled in;
//   - 月度监管报告, the monthly supervision report of a jurisdiction: key figures, charts drawn
//     as vectors, the lower levels, rankings and the overdue list.
// Every function is pure and thread safe; a failure of cairo throws std::runtime_error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mingchu::reports {

struct Box {
  double x = 0, y = 0, w = 0, h = 0;  // pixels of the snapshot
  std::string label;
};

struct Snapshot {
  std::string bytes;  // JPEG or PNG
  std::vector<Box> boxes;
};

// The issuing bureau (发文机关) as printed in the red header and beside the seal.
struct Issuer {
  std::string org;        // e.g. 南通市崇川区市场监督管理局
  std::string signature;  // the line above the date, e.g. 承办人：______
  std::optional<std::string> seal_image;  // PNG/JPEG bytes; a drawn seal when absent
};

struct NoticeData {
  Issuer issuer;
  std::string number;  // 文号
  std::string unit_name, unit_address, unit_uscc, unit_operator, unit_licence;
  std::string alert_id, alert_type, risk_class_name, state_name;
  std::string camera;  // camera name and area, "" when none
  std::string occurred_at, last_seen_at;  // local times as printed
  std::int64_t capture_count = 1;
  std::string due_on;     // the deadline day, "" for classes without one
  std::string issued_on;  // the day of printing
  std::string qr_url;     // to the alert in the console
  std::vector<Snapshot> snapshots;  // at most four are printed
};
std::string render_notice(const NoticeData& d);

// ---- 三书一函 templates

// The fields a template may use as {{name}}.
inline constexpr const char* kTemplateFields[] = {"org",         "number",     "unit_name",  "unit_address",
                                                  "uscc",        "operator",   "licence",    "alert_type",
                                                  "occurred_at", "due_on",     "issued_on",  "alert_id",
                                                  "camera",      "risk_class", "capture_count"};

struct DocumentTemplate {
  std::string kind;   // alerts::kDocumentKinds
  std::string title;  // 责令整改通知书 ...
  std::string body;   // paragraphs separated by blank lines, with {{placeholders}}
  Issuer issuer;
};

// The built-in template of a kind (used where no jurisdiction up the tree has one).
std::optional<DocumentTemplate> default_template(const std::string& kind);
// The placeholders a body must contain for a kind (e.g. unit_name; due_on for an order).
std::vector<std::string> required_fields(const std::string& kind);
// "" when the body is acceptable; otherwise the reason, naming the first missing or
// unknown placeholder (e.g. "missing placeholder {{unit_name}}").
struct TemplateProblem {
  std::string code;     // missing_placeholder | unknown_placeholder | unclosed_placeholder
  std::string name;     // the placeholder
  std::string message;
};
std::optional<TemplateProblem> check_template_body(const std::string& kind, const std::string& body);
// Fills {{name}} from values (unknown names are left as they are).
std::string fill_template(const std::string& body, const std::map<std::string, std::string>& values);

std::string render_document(const DocumentTemplate& t, const std::map<std::string, std::string>& values);

// ---- 单位档案: a unit's archive as the bureau files it

struct NamedCount {
  std::string name;
  std::int64_t count = 0;
};

struct ArchiveRow {
  std::vector<std::string> cells;
};

struct UnitArchiveData {
  Issuer issuer;
  std::string generated_at;
  std::vector<std::pair<std::string, std::string>> fields;  // 单位名称, 统一社会信用代码, …
  std::vector<ArchiveRow> cameras;                          // name, area, status, last seen
  std::vector<ArchiveRow> staff;                            // name, position, id (masked), cert, expires, status
  std::int64_t alerts_90d = 0, open_alerts = 0, overdue_alerts = 0;
  std::vector<NamedCount> alerts_by_type;
  std::string qr_url;  // the public disclosure page
};
std::string render_unit_archive(const UnitArchiveData& d);

// ---- 月度监管报告

struct AreaRow {  // a lower-level jurisdiction
  std::string name;
  std::int64_t units = 0, alerts = 0, handled = 0;
};

struct OverdueRow {
  std::string unit_name, alert_type, occurred_at, due_on;
  std::int64_t days_overdue = 0;
  std::string card;  // 黄牌 / 红牌 / ""
};

struct MonthlyData {
  Issuer issuer;
  std::string jurisdiction_name;
  std::string period;  // 2026年11月 (or a range of months)
  std::string generated_at;
  std::int64_t units = 0, units_with_alerts = 0, alerts_total = 0, handled = 0;
  std::int64_t cameras_total = 0, cameras_online = 0;
  std::optional<std::int64_t> previous_alerts_total;  // the period before, for the comparison
  std::vector<NamedCount> by_day;                     // label = day of month
  std::vector<NamedCount> by_type;                    // type names, zeros dropped
  std::vector<NamedCount> by_risk_class;              // 一类/二类/三类
  std::vector<AreaRow> areas;
  std::vector<NamedCount> top_units;
  std::vector<OverdueRow> overdue;
  std::int64_t overdue_total = 0;
};
std::string render_monthly(const MonthlyData& d);

}  // namespace mingchu::reports
