// Scheduled backups with retention (config [backup]): every `every_hours` by the platform's
// clock, one `mingchu backup` (make_backup, the same code as the command) into `dir` as
// mingchu-YYYYMMDDTHHMMSSZ.tar; then only the newest `keep` of those files stay.
//
// When a backup is due is read from the directory itself (the newest file's name), so a
// restart, or another node writing into the same directory, does not make an extra one. On
// several nodes the caller runs run_once() under a lease (alerts::Scheduler::claim_lease).
//
// Thread safety: start()/stop() from one thread; the work runs on the object's own thread,
// never on the scheduler's (a backup of a large database takes minutes). Failures are logged
// and counted (mingchu_backups_total{result="failed"}) and retried at the next tick.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/backup.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"

namespace mingchu::app {

struct BackupScheduleOptions {
  std::string dir;  // empty: no scheduled backups
  int every_hours = 24;
  int keep = 7;
  BackupOptions backup;  // data_dir, db_url, passphrase_file (out is chosen per run)
  std::chrono::milliseconds tick{60000};
};

class BackupSchedule {
 public:
  // may_run: whether this node should do the work now (a lease); nullptr: always.
  BackupSchedule(BackupScheduleOptions opt, const Clock& clock, Metrics* metrics,
                 std::function<bool()> may_run = nullptr);
  ~BackupSchedule();
  BackupSchedule(const BackupSchedule&) = delete;
  BackupSchedule& operator=(const BackupSchedule&) = delete;

  void start();
  void stop();
  // One check: a backup when one is due, then retention. Returns the file written, or "".
  std::string run_once();
  // The scheduled backups in dir, oldest first.
  std::vector<std::string> backups() const;

 private:
  BackupScheduleOptions opt_;
  const Clock& clock_;
  Metrics* metrics_;
  std::function<bool()> may_run_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mingchu::app
