#include "app/backup_schedule.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "core/log.hpp"

namespace mingchu::app {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = "mingchu-";
constexpr std::string_view kSuffix = ".tar";

std::string file_name(TimeMs t) {
  std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(kPrefix) + buf + std::string(kSuffix);
}

// The time in a backup's name; -1 for other files.
TimeMs time_of(const std::string& name) {
  if (name.size() != kPrefix.size() + 16 + kSuffix.size() || name.rfind(kPrefix, 0) != 0 ||
      name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return -1;
  }
  std::tm tm{};
  const char* s = name.c_str() + kPrefix.size();
  if (std::sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<TimeMs>(timegm(&tm)) * 1000;
}

}  // namespace

BackupSchedule::BackupSchedule(BackupScheduleOptions opt, const Clock& clock, Metrics* metrics,
                               std::function<bool()> may_run)
    : opt_(std::move(opt)), clock_(clock), metrics_(metrics), may_run_(std::move(may_run)) {}

BackupSchedule::~BackupSchedule() { stop(); }

void BackupSchedule::start() {
  if (opt_.dir.empty() || thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      try {
        if (!may_run_ || may_run_()) run_once();
      } catch (const std::exception& e) {
        log::warn("scheduled backup check failed; retrying next tick", {{"error", e.what()}});
      }
      lock.lock();
      cv_.wait_for(lock, opt_.tick, [&] { return stopping_; });
    }
  });
}

void BackupSchedule::stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> BackupSchedule::backups() const {
  std::vector<std::pair<TimeMs, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(opt_.dir, ec)) {
    std::string name = e.path().filename().string();
    if (TimeMs t = time_of(name); t >= 0 && e.is_regular_file()) found.emplace_back(t, e.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [t, p] : found) out.push_back(std::move(p));
  return out;
}

std::string BackupSchedule::run_once() {
  if (opt_.dir.empty()) return "";
  std::error_code ec;
  fs::create_directories(opt_.dir, ec);
  TimeMs now = clock_.now_ms();
  auto existing = backups();
  TimeMs newest = existing.empty() ? -1 : time_of(fs::path(existing.back()).filename().string());
  std::string written;
  if (newest < 0 || now - newest >= static_cast<TimeMs>(opt_.every_hours) * kHourMs || now < newest) {
    BackupOptions b = opt_.backup;
    b.out = (fs::path(opt_.dir) / file_name(now)).string();
    auto r = make_backup(b);
    if (metrics_) {
      metrics_->counter("mingchu_backups_total", r ? "result=\"ok\"" : "result=\"failed\"", "Scheduled backups").inc();
    }
    if (!r) {
      log::error("scheduled backup failed", {{"file", b.out}, {"error", r.error().message}});
      return "";
    }
    log::info("scheduled backup written",
              {{"file", b.out}, {"entries", std::to_string(r->entries)}, {"bytes", std::to_string(r->bytes)}});
    written = b.out;
    existing = backups();
  }
  // retention: the newest `keep` stay
  for (size_t i = 0; opt_.keep > 0 && existing.size() - i > static_cast<size_t>(opt_.keep); ++i) {
    fs::remove(existing[i], ec);
    if (!ec) log::info("old scheduled backup removed", {{"file", existing[i]}});
  }
  return written;
}

}  // namespace mingchu::app
