#include "reports/schedules.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "crypto/base64.hpp"
#include "crypto/sm3.hpp"
#include "notify/http_client.hpp"
#include "notify/webhooks.hpp"
#include "reports/export.hpp"

namespace mingchu::reports {

using storage::Params;
using storage::Value;

namespace {

constexpr const char* kScheduleColumns =
    "id, report, jurisdiction_id, unit_id, jpath, cron, recipients, created_by, enabled, next_run_at, last_run_at, "
    "last_error, created_at";
constexpr const char* kInsertSchedule =
    "INSERT INTO report_schedules (id, report, jurisdiction_id, unit_id, jpath, cron, recipients, created_by, enabled, "
    "next_run_at, lease_until, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11)";
constexpr const char* kClaimSchedule =
    "UPDATE report_schedules SET lease_until = $2 WHERE id = $1 AND enabled = 1 AND next_run_at <= $3 AND "
    "lease_until < $3";
constexpr const char* kDueSchedules =
    "SELECT id FROM report_schedules WHERE enabled = 1 AND next_run_at <= $1 AND lease_until < $1 ORDER BY next_run_at "
    "LIMIT 20";
constexpr const char* kArchiveColumns =
    "id, schedule_id, report, title, filename, content_type, jpath, size, sha256, sm3, period_from, period_to, "
    "created_at";
constexpr const char* kInsertArchive =
    "INSERT INTO report_archive (id, schedule_id, report, title, filename, content_type, jpath, size, sha256, sm3, "
    "period_from, period_to, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
constexpr const char* kInsertDelivery =
    "INSERT INTO report_deliveries (id, archive_id, channel, target, state, attempts, next_attempt_at, lease_until, "
    "created_at, delivered_at) VALUES ($1, $2, $3, $4, $5, 0, $6, 0, $6, $7)";
constexpr const char* kDeliveryColumns =
    "id, channel, target, state, attempts, last_error, delivered_at, next_attempt_at";
constexpr const char* kDueDeliveries =
    "SELECT id, archive_id FROM report_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 AND lease_until < $1 "
    "ORDER BY next_attempt_at LIMIT 20";
constexpr const char* kClaimDelivery =
    "UPDATE report_deliveries SET lease_until = $2 WHERE id = $1 AND state = 'pending' AND lease_until < $3";

std::string recipients_json(const Recipients& r) {
  json::array users, emails;
  for (const auto& u : r.users) users.emplace_back(u);
  for (const auto& e : r.emails) emails.emplace_back(e);
  json::object o{{"users", std::move(users)}, {"emails", std::move(emails)}};
  o["webhook_id"] = r.webhook_id ? json::value(*r.webhook_id) : json::value(nullptr);
  return json::serialize(o);
}

Recipients recipients_from(const std::string& text) {
  Recipients r;
  auto v = parse_value(text);
  if (!v || !v->is_object()) return r;
  const auto& o = v->as_object();
  if (auto it = o.find("users"); it != o.end() && it->value().is_array())
    for (const auto& u : it->value().as_array())
      if (u.is_string()) r.users.emplace_back(u.as_string());
  if (auto it = o.find("emails"); it != o.end() && it->value().is_array())
    for (const auto& u : it->value().as_array())
      if (u.is_string()) r.emails.emplace_back(u.as_string());
  if (auto it = o.find("webhook_id"); it != o.end() && it->value().is_string())
    r.webhook_id = std::string(it->value().as_string());
  return r;
}

Schedule schedule_from_row(const storage::Row& r) {
  Schedule s;
  s.id = r.text(0);
  s.report = r.text(1);
  s.jurisdiction_id = r.opt_text(2);
  s.unit_id = r.opt_text(3);
  s.jpath = r.text(4);
  s.cron = r.text(5);
  s.recipients = recipients_from(r.text(6));
  s.created_by = r.text(7);
  s.enabled = r.boolean(8);
  s.next_run_at = r.integer(9);
  s.last_run_at = r.opt_integer(10);
  s.last_error = r.opt_text(11);
  s.created_at = r.integer(12);
  return s;
}

ArchiveEntry archive_from_row(const storage::Row& r) {
  ArchiveEntry a;
  a.id = r.text(0);
  a.schedule_id = r.opt_text(1);
  a.report = r.text(2);
  a.title = r.text(3);
  a.filename = r.text(4);
  a.content_type = r.text(5);
  a.jpath = r.text(6);
  a.size = r.integer(7);
  a.sha256 = r.text(8);
  a.sm3 = r.text(9);
  a.period_from = r.integer(10);
  a.period_to = r.integer(11);
  a.created_at = r.integer(12);
  return a;
}

std::string local_day_label(TimeMs t, int off) { return format_date(local_day(t, off)); }

bool plausible_email(const std::string& e) {
  if (e.size() < 3 || e.size() > 254) return false;
  size_t at = e.find('@');
  if (at == std::string::npos || at == 0 || at + 1 >= e.size() || e.find('@', at + 1) != std::string::npos) return false;
  for (unsigned char c : e) {
    if (c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '\\') return false;
  }
  return true;
}

// A principal with the schedule's own scope: its jurisdiction subtree or its unit.
auth::Principal scope_principal(const Schedule& s) {
  auth::Principal p;
  p.user_id = s.created_by;
  p.username = "scheduler";
  p.display_name = "定期报告";
  p.source = "scheduler";
  if (s.unit_id) {
    p.role = auth::Role::kMerchant;
    p.unit_ids = {*s.unit_id};
  } else {
    p.role = s.jpath == "/" ? auth::Role::kPlatformAdmin : auth::Role::kRegulator;
    p.jpath = s.jpath;
    p.jurisdiction_id = s.jurisdiction_id.value_or("");
  }
  return p;
}

// ---- SMTP (a small client: enough for a relay on the local network)

class Socket {
 public:
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status connect(const std::string& host, int port, std::chrono::milliseconds timeout) {
    timeout_ = timeout;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res)
      return Error::unavailable("cannot resolve the SMTP host " + host);
    for (addrinfo* a = res; a; a = a->ai_next) {
      fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ < 0) continue;
      timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(fd_, a->ai_addr, a->ai_addrlen) == 0) break;
      ::close(fd_);
      fd_ = -1;
    }
    freeaddrinfo(res);
    if (fd_ < 0) return Error::unavailable("cannot connect to the SMTP server " + host + ":" + std::to_string(port));
    return ok_status();
  }
  Status send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return Error::unavailable("SMTP connection lost while sending");
      s.remove_prefix(static_cast<size_t>(n));
    }
    return ok_status();
  }
  // One reply (multi-line replies end with "NNN "); its code.
  Result<int> reply() {
    for (;;) {
      size_t eol;
      while ((eol = buf_.find("\r\n")) != std::string::npos) {
        std::string line = buf_.substr(0, eol);
        buf_.erase(0, eol + 2);
        if (line.size() >= 4 && line[3] == ' ') return std::atoi(line.substr(0, 3).c_str());
        if (line.size() == 3) return std::atoi(line.c_str());
      }
      if (buf_.size() > 16384) return Error::unavailable("SMTP reply too long");
      char tmp[1024];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return Error::unavailable("SMTP server closed the connection or timed out");
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
  std::chrono::milliseconds timeout_{10000};
};

Status expect(Socket& s, int want_class, const char* step) {
  auto code = s.reply();
  if (!code) return code.error();
  if (*code / 100 != want_class)
    return Error::unavailable(std::string("SMTP ") + step + " refused with " + std::to_string(*code));
  return ok_status();
}

std::string wrap76(const std::string& b64) {
  std::string out;
  for (size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\r\n";
  return out;
}

std::string encoded_word(const std::string& s) { return "=?UTF-8?B?" + crypto::base64_encode(s) + "?="; }

}  // namespace

Status send_mail(const SmtpOptions& o, const std::vector<std::string>& to, const std::string& subject,
                 const std::string& text, const std::string& filename, const std::string& content_type,
                 const std::string& attachment) {
  if (o.host.empty()) return Error::unavailable("no SMTP server is configured (reports.smtp_host)");
  Socket s;
  if (auto st = s.connect(o.host, o.port, o.timeout); !st) return st;
  if (auto st = expect(s, 2, "greeting"); !st) return st;
  if (auto st = s.send("EHLO mingchu\r\n"); !st) return st;
  if (auto st = expect(s, 2, "EHLO"); !st) return st;
  if (auto st = s.send("MAIL FROM:<" + o.from + ">\r\n"); !st) return st;
  if (auto st = expect(s, 2, "MAIL FROM"); !st) return st;
  for (const auto& r : to) {
    if (auto st = s.send("RCPT TO:<" + r + ">\r\n"); !st) return st;
    if (auto st = expect(s, 2, "RCPT TO"); !st) return st;
  }
  if (auto st = s.send("DATA\r\n"); !st) return st;
  if (auto st = expect(s, 3, "DATA"); !st) return st;
  std::string boundary = "mingchu-" + quick_random_hex(12);
  std::string to_line;
  for (const auto& r : to) to_line += (to_line.empty() ? "" : ", ") + r;
  std::string msg = "From: " + o.from + "\r\nTo: " + to_line + "\r\nSubject: " + encoded_word(subject) +
                    "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n" +
                    "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                    wrap76(crypto::base64_encode(text)) + "--" + boundary + "\r\nContent-Type: " + content_type +
                    "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"" +
                    encoded_word(filename) + "\"\r\n\r\n" + wrap76(crypto::base64_encode(attachment)) + "--" +
                    boundary + "--\r\n.\r\n";  // base64 lines never start with '.'
  if (auto st = s.send(msg); !st) return st;
  if (auto st = expect(s, 2, "message"); !st) return st;
  (void)s.send("QUIT\r\n");
  return ok_status();
}

Result<CronSpec> parse_cron(std::string_view s) {
  std::vector<std::string> f;
  std::istringstream in{std::string(s)};
  for (std::string w; in >> w;) f.push_back(w);
  auto bad = [](std::string msg) { return Error::invalid("cron", "invalid_cron", std::move(msg)); };
  if (f.size() != 5) return bad("cron must have five fields: minute hour day-of-month month day-of-week");
  auto num = [](const std::string& x, int lo, int hi) -> std::optional<int> {
    if (x.empty() || x.size() > 2 || !std::all_of(x.begin(), x.end(), ::isdigit)) return std::nullopt;
    int v = std::stoi(x);
    if (v < lo || v > hi) return std::nullopt;
    return v;
  };
  CronSpec c;
  auto m = num(f[0], 0, 59);
  auto h = num(f[1], 0, 23);
  if (!m || !h) return bad("cron minute (0-59) and hour (0-23) must be numbers");
  c.minute = *m;
  c.hour = *h;
  if (f[2] != "*") {
    auto d = num(f[2], 1, 28);
    if (!d) return bad("cron day-of-month must be * or 1-28 (every month has it)");
    c.day_of_month = d;
  }
  if (f[3] != "*") return bad("cron month must be *");
  if (f[4] != "*") {
    auto d = num(f[4], 0, 7);
    if (!d) return bad("cron day-of-week must be * or 0-7");
    c.day_of_week = *d % 7;
  }
  if (c.day_of_month && c.day_of_week) return bad("cron cannot give both a day of month and a day of week");
  return c;
}

TimeMs next_run(const CronSpec& c, TimeMs after, int off) {
  TimeMs off_ms = static_cast<TimeMs>(off) * 60 * 1000;
  int day = local_day(after, off);
  for (int i = 0; i < 400; ++i, ++day) {
    TimeMs t = static_cast<TimeMs>(day) * kDayMs + (c.hour * 60 + c.minute) * 60 * 1000LL - off_ms;
    if (t <= after) continue;
    std::string date = format_date(day);
    if (c.day_of_month && std::stoi(date.substr(8, 2)) != *c.day_of_month) continue;
    if (c.day_of_week && ((day % 7) + 11) % 7 != *c.day_of_week) continue;  // 1970-01-01 was a Thursday
    return t;
  }
  return after + 366 * kDayMs;
}

ScheduleService::ScheduleService(storage::Database& db, const Clock& clock, ReportService& reports,
                                 const crypto::FieldCipher& cipher, notify::HttpClient& http,
                                 const audit::AuditLog& audit, ScheduleOptions opt)
    : db_(db), clock_(clock), reports_(reports), cipher_(cipher), http_(http), audit_(audit), opt_(std::move(opt)) {}

ScheduleService::~ScheduleService() { stop(); }

Status ScheduleService::check_input(storage::Connection& c, const auth::Principal& p, const ScheduleInput& in,
                                    bool creating, std::string* jpath) {
  if (creating) {
    if (in.report != "monthly" && in.report != "alerts_csv")
      return Error::invalid("report", "unknown_report", "report must be monthly or alerts_csv");
    if (in.jurisdiction_id && in.unit_id)
      return Error::invalid("unit_id", "invalid_target", "give jurisdiction_id or unit_id, not both");
    if (in.report == "monthly" && in.unit_id)
      return Error::invalid("unit_id", "invalid_target", "the monthly report is of a jurisdiction");
    if (in.unit_id) {
      auto r = plausible_id(*in.unit_id) ? c.query("SELECT jpath FROM units WHERE id = $1 AND deleted_at IS NULL", {*in.unit_id})
                                         : storage::Rows{};
      if (r.empty() || !p.covers(r[0].text(0), *in.unit_id))
        return Error::invalid("unit_id", "unknown_unit", "field 'unit_id' names no unit in your scope");
      *jpath = r[0].text(0);
    } else {
      std::string jid = in.jurisdiction_id.value_or(p.jurisdiction_id);
      if (jid.empty()) {
        if (!p.is_admin()) return Error::invalid("jurisdiction_id", "missing_field", "field 'jurisdiction_id' is required");
        if (in.report == "monthly")
          return Error::invalid("jurisdiction_id", "missing_field", "field 'jurisdiction_id' is required");
        *jpath = "/";
      } else {
        auto r = plausible_id(jid) ? c.query("SELECT path FROM jurisdictions WHERE id = $1", {jid}) : storage::Rows{};
        if (r.empty() || p.jpath.empty() || !p.covers_path(r[0].text(0)))
          return Error::invalid("jurisdiction_id", "unknown_jurisdiction",
                                "field 'jurisdiction_id' names no jurisdiction in your scope");
        *jpath = r[0].text(0);
      }
    }
  }
  if (auto cr = parse_cron(in.cron); !cr) return cr.error();
  const Recipients& rc = in.recipients;
  if (rc.users.empty() && !rc.webhook_id && rc.emails.empty())
    return Error::invalid("recipients", "no_recipients", "give at least one recipient (users, webhook_id or emails)");
  if (rc.users.size() > 50 || rc.emails.size() > 20)
    return Error::invalid("recipients", "too_many_recipients", "at most 50 users and 20 e-mail addresses");
  for (const auto& u : rc.users) {
    auto r = plausible_id(u) ? c.query("SELECT id FROM users WHERE id = $1", {u}) : storage::Rows{};
    if (r.empty()) return Error::invalid("recipients.users", "unknown_user", "recipients.users names no user: " + u);
  }
  if (rc.webhook_id) {
    auto r = plausible_id(*rc.webhook_id)
                 ? c.query("SELECT jpath FROM webhooks WHERE id = $1 AND deleted_at IS NULL", {*rc.webhook_id})
                 : storage::Rows{};
    if (r.empty() || (!p.is_admin() && (p.jpath.empty() || r[0].text(0).rfind(p.jpath, 0) != 0)))
      return Error::invalid("recipients.webhook_id", "unknown_webhook", "recipients.webhook_id names no webhook of yours");
  }
  for (const auto& e : rc.emails) {
    if (!plausible_email(e)) return Error::invalid("recipients.emails", "invalid_email", "not an e-mail address: " + e);
  }
  if (!rc.emails.empty() && opt_.smtp.host.empty())
    return Error::invalid("recipients.emails", "smtp_not_configured", "no SMTP server is configured for e-mail");
  return ok_status();
}

Result<Schedule> ScheduleService::create(const auth::Principal& p, const ScheduleInput& in) {
  if (p.is_api_key) return Error::forbidden("API keys do not schedule reports");
  storage::Conn c = db_.acquire();
  std::string jpath;
  if (auto st = check_input(*c, p, in, true, &jpath); !st) return st.error();
  TimeMs now = clock_.now_ms();
  Schedule s;
  s.id = new_id("rsc");
  s.report = in.report;
  s.unit_id = in.unit_id;
  s.jurisdiction_id = in.unit_id ? std::nullopt : (in.jurisdiction_id ? in.jurisdiction_id : (p.jurisdiction_id.empty() ? std::nullopt : std::optional(p.jurisdiction_id)));
  s.jpath = jpath;
  s.cron = in.cron;
  s.recipients = in.recipients;
  s.created_by = p.user_id;
  s.enabled = in.enabled.value_or(true);
  s.next_run_at = next_run(*parse_cron(in.cron), now, opt_.utc_offset_minutes);
  s.created_at = now;
  storage::Transaction tx(*c);
  c->exec(kInsertSchedule,
          {s.id, s.report, s.jurisdiction_id ? Value(*s.jurisdiction_id) : Value(nullptr),
           s.unit_id ? Value(*s.unit_id) : Value(nullptr), s.jpath, s.cron, recipients_json(s.recipients), s.created_by,
           std::int64_t{s.enabled ? 1 : 0}, s.next_run_at, now});
  audit::Entry e{p.user_id, p.username, std::string(auth::role_name(p.role)), "report_schedule.create",
                 "report_schedule:" + s.id, p.source, "ok", json::serialize(json::object{{"report", s.report}, {"cron", s.cron}})};
  audit_.append(*c, e);
  tx.commit();
  return s;
}

Result<Schedule> ScheduleService::load_in_scope(storage::Connection& c, const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("report schedule");
  auto r = c.query(std::string("SELECT ") + kScheduleColumns + " FROM report_schedules WHERE id = $1", {std::string(id)});
  if (r.empty()) return Error::not_found("report schedule");
  Schedule s = schedule_from_row(r[0]);
  bool visible = s.unit_id ? p.covers(s.jpath, *s.unit_id) : (!p.jpath.empty() && p.covers_path(s.jpath));
  if (!visible) return Error::not_found("report schedule");
  return s;
}

Result<std::pair<std::vector<Schedule>, std::int64_t>> ScheduleService::list(const auth::Principal& p, int page,
                                                                            int page_size) {
  storage::Conn c = db_.acquire();
  std::string where = " WHERE 1 = 1";
  Params ps;
  auth::append_scope(p, "jpath", "unit_id", where, ps);
  std::int64_t total = c->query("SELECT COUNT(*) FROM report_schedules" + where, ps)[0].integer(0);
  ps.emplace_back(std::int64_t{page_size});
  ps.emplace_back(std::int64_t{(page - 1) * page_size});
  auto rows = c->query(std::string("SELECT ") + kScheduleColumns + " FROM report_schedules" + where +
                           " ORDER BY created_at DESC, id DESC LIMIT $" + std::to_string(ps.size() - 1) + " OFFSET $" +
                           std::to_string(ps.size()),
                       ps);
  std::vector<Schedule> out;
  for (const auto& r : rows) out.push_back(schedule_from_row(r));
  return std::pair{std::move(out), total};
}

Result<Schedule> ScheduleService::get(const auth::Principal& p, std::string_view id) {
  storage::Conn c = db_.acquire();
  return load_in_scope(*c, p, id);
}

Result<Schedule> ScheduleService::update(const auth::Principal& p, std::string_view id, const ScheduleInput& in) {
  storage::Conn c = db_.acquire();
  auto s = load_in_scope(*c, p, id);
  if (!s) return s.error();
  if (p.is_api_key) return Error::forbidden("API keys do not schedule reports");
  std::string jpath;
  if (auto st = check_input(*c, p, in, false, &jpath); !st) return st.error();
  s->cron = in.cron;
  s->recipients = in.recipients;
  if (in.enabled) s->enabled = *in.enabled;
  s->next_run_at = next_run(*parse_cron(in.cron), clock_.now_ms(), opt_.utc_offset_minutes);
  storage::Transaction tx(*c);
  c->exec("UPDATE report_schedules SET cron = $2, recipients = $3, enabled = $4, next_run_at = $5 WHERE id = $1",
          {s->id, s->cron, recipients_json(s->recipients), std::int64_t{s->enabled ? 1 : 0}, s->next_run_at});
  audit::Entry e{p.user_id, p.username, std::string(auth::role_name(p.role)), "report_schedule.update",
                 "report_schedule:" + s->id, p.source, "ok", ""};
  audit_.append(*c, e);
  tx.commit();
  return s;
}

Status ScheduleService::remove(const auth::Principal& p, std::string_view id) {
  storage::Conn c = db_.acquire();
  auto s = load_in_scope(*c, p, id);
  if (!s) return s.error();
  if (p.is_api_key) return Error::forbidden("API keys do not schedule reports");
  storage::Transaction tx(*c);
  c->exec("DELETE FROM report_schedules WHERE id = $1", {s->id});
  audit::Entry e{p.user_id, p.username, std::string(auth::role_name(p.role)), "report_schedule.delete",
                 "report_schedule:" + s->id, p.source, "ok", ""};
  audit_.append(*c, e);
  tx.commit();
  return ok_status();
}

Result<ArchiveEntry> ScheduleService::run(const Schedule& s, TimeMs now) {
  auth::Principal p = scope_principal(s);
  std::string bytes, filename, title, content_type;
  TimeMs from = 0, to = now;
  int off = opt_.utc_offset_minutes;
  if (s.report == "monthly") {
    // the previous month (local time)
    std::string today = format_date(local_day(now, off));
    int y = std::stoi(today.substr(0, 4)), m = std::stoi(today.substr(5, 2));
    if (--m == 0) {
      m = 12;
      --y;
    }
    char month[40];
    std::snprintf(month, sizeof month, "%04d-%02d", y, m);
    MonthlyQuery q{s.jurisdiction_id, month, std::nullopt};
    auto pdf = reports_.monthly_pdf(p, q, &filename);
    if (!pdf) return pdf.error();
    bytes = std::move(*pdf);
    content_type = "application/pdf";
    title = filename.substr(0, filename.size() - 4);
    auto period = month_period(month, std::nullopt, 1, off, now);
    if (period) {
      from = period->from;
      to = period->to;
    }
  } else {
    // the alerts raised since the previous run (or the last day)
    from = s.last_run_at.value_or(now - kDayMs);
    alerts::AlertFilter f;
    f.from = from;
    f.to = now;
    if (s.jurisdiction_id) f.jurisdiction_id = s.jurisdiction_id;
    if (s.unit_id) f.unit_id = s.unit_id;
    auto& svc = reports_.alerts();
    const auto& cfg = svc.config();
    bytes = "\xEF\xBB\xBF预警编号,单位编号,预警类型,风险等级,状态,发现时间,抓拍次数,整改期限\r\n";
    std::optional<alerts::AlertCursor> after;
    for (;;) {
      auto page = svc.list_after(p, f, after, 2000);
      if (!page) return page.error();
      for (const auto& a : *page) {
        const auto* t = cfg.find_type(a.type);
        bytes += csv_field(a.id, CellKind::kText) + "," + csv_field(a.unit_id, CellKind::kText) + "," +
                 csv_field(t ? t->name_zh : a.type, CellKind::kText) + "," + std::to_string(a.risk_class) + "," +
                 std::string(alerts::state_name(a.state)) + "," + format_rfc3339(a.occurred_at, off) + "," +
                 std::to_string(a.capture_count) + "," + (a.due_at ? format_rfc3339(*a.due_at, off) : "") + "\r\n";
      }
      if (page->size() < 2000) break;
      after = alerts::AlertCursor{page->back().occurred_at, page->back().id};
    }
    content_type = "text/csv; charset=utf-8";
    title = "预警清单 " + local_day_label(from, off) + "至" + local_day_label(now, off);
    filename = "预警清单-" + format_date(local_day(now, off)) + ".csv";
  }
  ArchiveEntry a;
  a.id = new_id("rpt");
  a.schedule_id = s.id;
  a.report = s.report;
  a.title = title;
  a.filename = filename;
  a.content_type = content_type;
  a.jpath = s.jpath;
  a.size = static_cast<std::int64_t>(bytes.size());
  a.sha256 = crypto::sha256_hex(bytes);
  a.sm3 = crypto::sm3_hex(bytes);
  a.period_from = from;
  a.period_to = to;
  a.created_at = now;
  // the file first (content-addressed, written whole then renamed), then the rows
  std::filesystem::create_directories(opt_.archive_dir);
  std::string path = opt_.archive_dir + "/" + a.sha256;
  if (!std::filesystem::exists(path)) {
    std::string tmp = path + ".tmp-" + quick_random_hex(4);
    {
      std::ofstream out(tmp, std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      out.flush();
      if (!out) return Error::unavailable("cannot write the report archive");
    }
    std::filesystem::rename(tmp, path);
  }
  db_.in_transaction([&](storage::Connection& c) {
    c.exec(kInsertArchive, {a.id, *a.schedule_id, a.report, a.title, a.filename, a.content_type, a.jpath, a.size,
                            a.sha256, a.sm3, a.period_from, a.period_to, a.created_at});
    for (const auto& u : s.recipients.users) {
      c.exec(kInsertDelivery, {new_id("rdl"), a.id, std::string("inbox"), u, std::string("delivered"), now, now});
      c.exec("INSERT INTO notifications (id, user_id, alert_id, topic, title, body, created_at) VALUES "
             "($1, $2, NULL, 'report.ready', $3, $4, $5)",
             {new_id("ntf"), u, "定期报告：" + a.title,
              json::serialize(json::object{{"report_id", a.id}, {"filename", a.filename}, {"sm3", a.sm3},
                                           {"url", "/api/v1/report-archive/" + a.id + "/file"}}),
              now});
    }
    if (s.recipients.webhook_id)
      c.exec(kInsertDelivery, {new_id("rdl"), a.id, std::string("webhook"), *s.recipients.webhook_id,
                               std::string("pending"), now, Value(nullptr)});
    if (!s.recipients.emails.empty()) {
      std::string to;
      for (const auto& e : s.recipients.emails) to += (to.empty() ? "" : ",") + e;
      c.exec(kInsertDelivery, {new_id("rdl"), a.id, std::string("email"), to, std::string("pending"), now, Value(nullptr)});
    }
    audit::Entry e{s.created_by, "scheduler", "system", "report.generate", "report:" + a.id, "scheduler", "ok",
                   json::serialize(json::object{{"schedule_id", s.id}, {"sm3", a.sm3}, {"size", a.size}})};
    audit_.append(c, e);
  });
  return a;
}

Result<ArchiveEntry> ScheduleService::run_now(const auth::Principal& p, std::string_view id) {
  Schedule s;
  {
    storage::Conn c = db_.acquire();
    auto l = load_in_scope(*c, p, id);
    if (!l) return l.error();
    if (p.is_api_key) return Error::forbidden("API keys do not run reports");
    s = *l;
  }
  TimeMs now = clock_.now_ms();
  auto a = run(s, now);
  if (!a) return a.error();
  storage::Conn c = db_.acquire();
  c->exec("UPDATE report_schedules SET last_run_at = $2, last_error = NULL WHERE id = $1", {s.id, now});
  a->deliveries = deliveries_of(*c, a->id);
  return a;
}

std::vector<Delivery> ScheduleService::deliveries_of(storage::Connection& c, const std::string& archive_id) {
  std::vector<Delivery> out;
  for (const auto& r : c.query(std::string("SELECT ") + kDeliveryColumns +
                                   " FROM report_deliveries WHERE archive_id = $1 ORDER BY channel, id",
                               {archive_id})) {
    Delivery d;
    d.id = r.text(0);
    d.channel = r.text(1);
    d.target = r.text(2);
    d.state = r.text(3);
    d.attempts = r.integer(4);
    d.last_error = r.opt_text(5);
    d.delivered_at = r.opt_integer(6);
    d.next_attempt_at = r.integer(7);
    out.push_back(d);
  }
  return out;
}

Result<std::pair<std::vector<ArchiveEntry>, std::int64_t>> ScheduleService::archive(const auth::Principal& p, int page,
                                                                                   int page_size) {
  storage::Conn c = db_.acquire();
  if (p.jpath.empty()) return std::pair{std::vector<ArchiveEntry>{}, std::int64_t{0}};  // merchants: none yet
  std::string where = " WHERE jpath >= $1 AND jpath < $2";
  Params ps{p.jpath, auth::path_upper(p.jpath)};
  std::int64_t total = c->query("SELECT COUNT(*) FROM report_archive" + where, ps)[0].integer(0);
  ps.emplace_back(std::int64_t{page_size});
  ps.emplace_back(std::int64_t{(page - 1) * page_size});
  std::vector<ArchiveEntry> out;
  for (const auto& r : c->query(std::string("SELECT ") + kArchiveColumns + " FROM report_archive" + where +
                                    " ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
                                ps)) {
    out.push_back(archive_from_row(r));
    out.back().deliveries = deliveries_of(*c, out.back().id);
  }
  return std::pair{std::move(out), total};
}

Result<ArchiveEntry> ScheduleService::archive_entry(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("report");
  storage::Conn c = db_.acquire();
  auto r = c->query(std::string("SELECT ") + kArchiveColumns + " FROM report_archive WHERE id = $1", {std::string(id)});
  if (r.empty()) return Error::not_found("report");
  ArchiveEntry a = archive_from_row(r[0]);
  if (p.jpath.empty() || !p.covers_path(a.jpath)) return Error::not_found("report");
  a.deliveries = deliveries_of(*c, a.id);
  return a;
}

Result<std::pair<ArchiveEntry, std::string>> ScheduleService::archive_file(const auth::Principal& p, std::string_view id) {
  auto a = archive_entry(p, id);
  if (!a) return a.error();
  std::ifstream in(opt_.archive_dir + "/" + a->sha256, std::ios::binary);
  if (!in) return Error::unavailable("the archived file is missing on this node");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (crypto::sm3_hex(bytes) != a->sm3) return Error::unavailable("the archived file does not match its SM3 digest");
  return std::pair{std::move(*a), std::move(bytes)};
}

Result<ArchiveEntry> ScheduleService::retry_delivery(const auth::Principal& p, std::string_view delivery_id) {
  if (!plausible_id(delivery_id)) return Error::not_found("delivery");
  std::string archive_id;
  {
    storage::Conn c = db_.acquire();
    auto r = c->query("SELECT archive_id, state FROM report_deliveries WHERE id = $1", {std::string(delivery_id)});
    if (r.empty()) return Error::not_found("delivery");
    archive_id = r[0].text(0);
    auto a = archive_entry(p, archive_id);
    if (!a) return Error::not_found("delivery");
    if (r[0].text(1) != "dead") return Error::conflict("not_dead", "only a dead delivery is retried by hand");
    c->exec("UPDATE report_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, lease_until = 0 "
            "WHERE id = $1",
            {std::string(delivery_id), clock_.now_ms()});
  }
  return archive_entry(p, archive_id);
}

Status ScheduleService::deliver(const Delivery& d, const ArchiveEntry& a) {
  std::string url = opt_.public_base_url + "/api/v1/report-archive/" + a.id + "/file";
  if (d.channel == "webhook") {
    storage::Conn c = db_.acquire();
    auto r = c->query("SELECT url, secret_enc, deleted_at, disabled FROM webhooks WHERE id = $1", {d.target});
    if (r.empty() || !r[0].is_null(2)) return Error::unavailable("the webhook was deleted");
    if (r[0].boolean(3)) return Error::unavailable("the webhook is disabled");
    auto secret = cipher_.decrypt(r[0].text(1), "webhooks.secret");
    if (!secret) return Error::unavailable("the webhook secret cannot be decrypted");
    std::string body = json::serialize(json::object{{"schema", "mingchu.report.v1"},
                                                    {"id", a.id},
                                                    {"event", "report.ready"},
                                                    {"report", a.report},
                                                    {"title", a.title},
                                                    {"filename", a.filename},
                                                    {"content_type", a.content_type},
                                                    {"size", a.size},
                                                    {"sha256", a.sha256},
                                                    {"sm3", a.sm3},
                                                    {"created_at", format_rfc3339(a.created_at, opt_.utc_offset_minutes)},
                                                    {"url", url}});
    std::string ts = std::to_string(clock_.now_ms() / 1000);
    notify::HttpPost post;
    post.url = r[0].text(0);
    post.body = body;
    post.verify_tls = opt_.verify_tls;
    post.headers = {{"X-MingChu-Event", "report.ready"},
                    {"X-MingChu-Delivery", d.id},
                    {"X-MingChu-Timestamp", ts},
                    {"X-MingChu-Signature", notify::webhook_signature(*secret, ts, body)}};
    auto reply = http_.post(post);
    if (!reply) return reply.error();
    if (reply->status < 200 || reply->status >= 300)
      return Error::unavailable("the webhook answered " + std::to_string(reply->status));
    return ok_status();
  }
  if (d.channel == "email") {
    std::ifstream in(opt_.archive_dir + "/" + a.sha256, std::ios::binary);
    if (!in) return Error::unavailable("the archived file is missing on this node");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> to;
    std::stringstream ss(d.target);
    for (std::string e; std::getline(ss, e, ',');) to.push_back(e);
    std::string text = "您好：\n\n附件为明厨亮灶平台生成的定期报告《" + a.title + "》。\nSM3：" + a.sm3 +
                       "\n也可在平台下载：" + url + "\n\n本邮件由系统自动发送，请勿回复。";
    return send_mail(opt_.smtp, to, "【明厨亮灶】" + a.title, text, a.filename, a.content_type, bytes);
  }
  return Error::internal("unknown delivery channel " + d.channel);
}

ScheduleService::TickResult ScheduleService::tick() {
  TickResult out;
  TimeMs now = clock_.now_ms();
  // due schedules
  std::vector<std::string> due;
  {
    storage::Conn c = db_.acquire();
    for (const auto& r : c->query(kDueSchedules, {now})) due.push_back(r.text(0));
  }
  for (const auto& id : due) {
    Schedule s;
    {
      storage::Conn c = db_.acquire();
      if (c->exec(kClaimSchedule, {id, now + 10 * 60 * 1000, now}) != 1) continue;  // another node has it
      auto r = c->query(std::string("SELECT ") + kScheduleColumns + " FROM report_schedules WHERE id = $1", {id});
      if (r.empty()) continue;
      s = schedule_from_row(r[0]);
    }
    auto a = run(s, now);
    auto cron = parse_cron(s.cron);
    TimeMs next = cron ? next_run(*cron, now, opt_.utc_offset_minutes) : now + kDayMs;
    storage::Conn c = db_.acquire();
    c->exec("UPDATE report_schedules SET next_run_at = $2, lease_until = 0, last_run_at = $3, last_error = $4 WHERE id = $1",
            {s.id, next, now, a ? Value(nullptr) : Value(a.error().message)});
    if (a) ++out.runs;
    if (!a) log::warn("scheduled report failed", {{"schedule", s.id}, {"error", a.error().message}});
  }
  // due deliveries
  std::vector<std::pair<std::string, std::string>> dd;
  {
    storage::Conn c = db_.acquire();
    for (const auto& r : c->query(kDueDeliveries, {now})) dd.emplace_back(r.text(0), r.text(1));
  }
  for (const auto& [id, archive_id] : dd) {
    ArchiveEntry a;
    Delivery d;
    {
      storage::Conn c = db_.acquire();
      if (c->exec(kClaimDelivery, {id, now + 5 * 60 * 1000, now}) != 1) continue;
      auto r = c->query(std::string("SELECT ") + kArchiveColumns + " FROM report_archive WHERE id = $1", {archive_id});
      if (r.empty()) continue;
      a = archive_from_row(r[0]);
      for (const auto& x : deliveries_of(*c, archive_id))
        if (x.id == id) d = x;
    }
    Status st = deliver(d, a);
    storage::Conn c = db_.acquire();
    TimeMs t = clock_.now_ms();
    if (st) {
      c->exec("UPDATE report_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = $2, "
              "last_error = NULL, lease_until = 0 WHERE id = $1",
              {id, t});
      ++out.delivered;
    } else {
      std::int64_t attempts = d.attempts + 1;
      bool dead = attempts >= opt_.max_attempts;
      TimeMs backoff = std::min<TimeMs>(opt_.backoff_cap_ms, opt_.backoff_base_ms << std::min<std::int64_t>(attempts - 1, 20));
      c->exec("UPDATE report_deliveries SET state = $2, attempts = $3, next_attempt_at = $4, last_error = $5, "
              "lease_until = 0 WHERE id = $1",
              {id, std::string(dead ? "dead" : "pending"), attempts, t + backoff, st.error().message});
      ++out.failed;
      log::warn("report delivery failed", {{"delivery", id}, {"channel", d.channel}, {"attempts", std::to_string(attempts)},
                                           {"error", st.error().message}});
    }
  }
  return out;
}

void ScheduleService::start() {
  std::lock_guard g(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      lk.unlock();
      try {
        tick();
      } catch (const std::exception& e) {
        log::warn("report scheduler tick failed", {{"error", e.what()}});
      }
      lk.lock();
      cv_.wait_for(lk, opt_.tick, [this] { return stopping_; });
    }
  });
}

void ScheduleService::stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace mingchu::reports
