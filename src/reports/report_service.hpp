// ReportService: the printed documents (整改通知书, 三书一函, 月度监管报告) of what a caller may
// see, and the per-jurisdiction templates of the enforcement documents.
//
// Scope: every document is of objects in the caller's scope; anything else is kNotFound, as if
// it did not exist. Templates are read and written by platform admins and by regulators whose
// subtree holds the jurisdiction; the template in force for a unit is the one of its nearest
// jurisdiction up the tree that has one, else the built-in one (documents.hpp).
//
// Threads: any thread. Holds references to the services it reads, which outlive it. Database
// failures throw storage::DbError; a cairo failure std::runtime_error (a bug: 500).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "alerts/alert_service.hpp"
#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "files/file_catalog.hpp"
#include "registry/registry.hpp"
#include "reports/documents.hpp"
#include "stats/stats_service.hpp"
#include "storage/database.hpp"

namespace mingchu::reports {

struct ReportOptions {
  std::string public_base_url = "http://127.0.0.1:8080";  // for the QR code to an alert
  int utc_offset_minutes = 480;
  int max_months = 12;  // the longest period of one monthly report
};

struct MonthlyQuery {
  std::optional<std::string> jurisdiction_id;  // default: the caller's own node
  std::string month;                           // YYYY-MM
  std::optional<std::string> to_month;         // YYYY-MM, inclusive; default = month
};

// The period [from, to) of months "YYYY-MM".."YYYY-MM" in local time; kInvalid naming the field.
struct Period {
  TimeMs from = 0, to = 0;
  std::string label;  // 2026年11月 or 2026年1月至2026年6月
  int months = 1;
};
Result<Period> month_period(const std::string& month, const std::optional<std::string>& to_month, int max_months,
                            int utc_offset_minutes, TimeMs now);

struct TemplateRecord {
  std::string jurisdiction_id;  // where it is defined; "" for the built-in one
  std::string kind;
  std::string title, body, org, signature;
  std::optional<std::string> seal_file_id;
  bool inherited = false;  // defined further up the tree (or built in)
  TimeMs updated_at = 0;
};

struct TemplateInput {
  std::string title, body;
  std::string org;        // "" = named after the jurisdiction
  std::string signature;  // "" = the default line
  std::optional<std::string> seal_file_id;
};

class ReportService {
 public:
  ReportService(storage::Database& db, const Clock& clock, alerts::AlertService& alerts, registry::Registry& registry,
                stats::StatsService& stats, files::FileCatalog& files, const audit::AuditLog& audit,
                ReportOptions opt);

  // The PDFs. The file name to offer is set in *filename.
  Result<std::string> notice_pdf(const auth::Principal& p, std::string_view alert_id, std::string* filename);
  Result<std::string> document_pdf(const auth::Principal& p, std::string_view alert_id, std::string_view doc_id,
                                   std::string* filename);
  // 单位档案: the unit's archive, cameras, staff (masked as the caller sees them) and alerts.
  Result<std::string> unit_archive_pdf(const auth::Principal& p, std::string_view unit_id, std::string* filename);
  Result<std::string> monthly_pdf(const auth::Principal& p, const MonthlyQuery& q, std::string* filename);
  // The figures of the monthly report (also what the PDF draws).
  Result<MonthlyData> monthly_data(const auth::Principal& p, const MonthlyQuery& q);

  Result<TemplateRecord> get_template(const auth::Principal& p, std::string_view jurisdiction_id,
                                      std::string_view kind);
  // kInvalid "body" with code missing_placeholder / unknown_placeholder naming it.
  Result<TemplateRecord> put_template(const auth::Principal& p, std::string_view jurisdiction_id,
                                      std::string_view kind, const TemplateInput& in);

  const ReportOptions& options() const { return opt_; }
  alerts::AlertService& alerts() { return alerts_; }

 private:
  struct Node {
    std::string id, parent_id, level, name;
  };
  std::optional<Node> node(storage::Connection& c, const std::string& id);
  std::string bureau_name(storage::Connection& c, const std::string& jurisdiction_id);
  DocumentTemplate effective_template(storage::Connection& c, const auth::Principal& p,
                                      const std::string& jurisdiction_id, const std::string& kind,
                                      TemplateRecord* record);
  std::map<std::string, std::string> alert_values(const auth::Principal& p, const alerts::AlertDetail& d,
                                                  const registry::Unit& u, std::string* camera);

  storage::Database& db_;
  const Clock& clock_;
  alerts::AlertService& alerts_;
  registry::Registry& registry_;
  stats::StatsService& stats_;
  files::FileCatalog& files_;
  const audit::AuditLog& audit_;
  ReportOptions opt_;
};

}  // namespace mingchu::reports
