// Scheduled reports (定期报告): which report, for which jurisdiction or unit, when (a cron
// line read in local time, Asia/Shanghai by default), to whom (inbox of users, a webhook,
// e-mail through the configured SMTP server); every file made is kept in the reports archive
// with its SHA-256 and SM3 digests.
//
// Reports: "monthly" (the monthly supervision PDF of the previous month, jurisdiction only) and
// "alerts_csv" (the alerts raised since the previous run, CSV with BOM). A schedule is run with
// the scope it was created in (the creator's node or unit, checked at creation).
//
// Runs and deliveries are claimed with leases in the database (next_run_at / lease_until),
// so several nodes never make the same report twice and a killed node's claims expire.
// Deliveries are at-least-once: inbox at once, webhook and e-mail retried with exponential
// backoff and, after max_attempts, left `dead` with their last error (visible in the
// archive, retried by hand).
//
// Threads: the public methods may be called from any thread; start() runs tick() on a thread
// of its own every tick_ms until stop(). Database failures throw storage::DbError.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "crypto/field_cipher.hpp"
#include "reports/report_service.hpp"
#include "storage/database.hpp"

namespace mingchu::notify {
class HttpClient;
}

namespace mingchu::reports {

// "M H DOM MON DOW": each field a number or '*', MON always '*'; DOW 0-7 (0 and 7 Sunday).
// Daily "0 8 * * *", weekly "30 7 * * 1", monthly "0 9 1 * *".
struct CronSpec {
  int minute = 0, hour = 0;
  std::optional<int> day_of_month;
  std::optional<int> day_of_week;  // 0 = Sunday
};
Result<CronSpec> parse_cron(std::string_view s);
// The first time strictly after `after` that matches, in local time at the offset.
TimeMs next_run(const CronSpec& c, TimeMs after, int utc_offset_minutes);

struct Recipients {
  std::vector<std::string> users;
  std::optional<std::string> webhook_id;
  std::vector<std::string> emails;
};

struct ScheduleInput {
  std::string report;
  std::optional<std::string> jurisdiction_id, unit_id;
  std::string cron;
  Recipients recipients;
  std::optional<bool> enabled;
};

struct Schedule {
  std::string id, report;
  std::optional<std::string> jurisdiction_id, unit_id;
  std::string jpath;
  std::string cron;
  Recipients recipients;
  std::string created_by;
  bool enabled = true;
  TimeMs next_run_at = 0;
  std::optional<TimeMs> last_run_at;
  std::optional<std::string> last_error;
  TimeMs created_at = 0;
};

struct Delivery {
  std::string id, channel, target, state;  // state: pending | delivered | dead
  std::int64_t attempts = 0;
  std::optional<std::string> last_error;
  std::optional<TimeMs> delivered_at;
  TimeMs next_attempt_at = 0;
};

struct ArchiveEntry {
  std::string id;
  std::optional<std::string> schedule_id;
  std::string report, title, filename, content_type;
  std::string jpath;
  std::int64_t size = 0;
  std::string sha256, sm3;
  TimeMs period_from = 0, period_to = 0;
  TimeMs created_at = 0;
  std::vector<Delivery> deliveries;
};

struct SmtpOptions {
  std::string host;  // "" = e-mail recipients are refused
  int port = 25;
  std::string from = "mingchu@localhost";
  std::chrono::milliseconds timeout{10000};
};

struct ScheduleOptions {
  std::string archive_dir;  // content-addressed files of the archive
  std::string node_id = "node";
  std::chrono::milliseconds tick{5000};
  int max_attempts = 5;
  TimeMs backoff_base_ms = 5000;
  TimeMs backoff_cap_ms = 3600 * 1000;
  SmtpOptions smtp;
  int utc_offset_minutes = 480;
  std::string public_base_url;
  bool verify_tls = true;
};

// Sends one message through SMTP (plain, as on a local relay): a text part and one attachment.
Status send_mail(const SmtpOptions& o, const std::vector<std::string>& to, const std::string& subject,
                 const std::string& text, const std::string& filename, const std::string& content_type,
                 const std::string& attachment);

class ScheduleService {
 public:
  ScheduleService(storage::Database& db, const Clock& clock, ReportService& reports, const crypto::FieldCipher& cipher,
                  notify::HttpClient& http, const audit::AuditLog& audit, ScheduleOptions opt);
  ~ScheduleService();

  Result<Schedule> create(const auth::Principal& p, const ScheduleInput& in);
  Result<std::pair<std::vector<Schedule>, std::int64_t>> list(const auth::Principal& p, int page, int page_size);
  Result<Schedule> get(const auth::Principal& p, std::string_view id);
  // Changes cron, recipients and enabled (report and target stay).
  Result<Schedule> update(const auth::Principal& p, std::string_view id, const ScheduleInput& in);
  Status remove(const auth::Principal& p, std::string_view id);
  // Makes the report now (also when disabled) and queues its deliveries.
  Result<ArchiveEntry> run_now(const auth::Principal& p, std::string_view id);

  Result<std::pair<std::vector<ArchiveEntry>, std::int64_t>> archive(const auth::Principal& p, int page, int page_size);
  Result<ArchiveEntry> archive_entry(const auth::Principal& p, std::string_view id);
  Result<std::pair<ArchiveEntry, std::string>> archive_file(const auth::Principal& p, std::string_view id);
  // A dead delivery back to pending.
  Result<ArchiveEntry> retry_delivery(const auth::Principal& p, std::string_view delivery_id);

  // Runs due schedules and due deliveries once; what it did.
  struct TickResult {
    int runs = 0, delivered = 0, failed = 0;
  };
  TickResult tick();
  void start();
  void stop();

 private:
  Result<ArchiveEntry> run(const Schedule& s, TimeMs now);
  Result<Schedule> load_in_scope(storage::Connection& c, const auth::Principal& p, std::string_view id);
  std::vector<Delivery> deliveries_of(storage::Connection& c, const std::string& archive_id);
  Status deliver(const Delivery& d, const ArchiveEntry& a);
  Status check_input(storage::Connection& c, const auth::Principal& p, const ScheduleInput& in, bool creating,
                     std::string* jpath);

  storage::Database& db_;
  const Clock& clock_;
  ReportService& reports_;
  const crypto::FieldCipher& cipher_;
  notify::HttpClient& http_;
  const audit::AuditLog& audit_;
  ScheduleOptions opt_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace mingchu::reports
