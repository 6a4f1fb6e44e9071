// The scheduler: the supervision loop's clockwork, driven by the injected Clock.
//
// Every tick it
//   - marks overdue alerts: open past their due_at (event `overdue`, both sides notified);
//   - gives class-1 alerts that are neither closed nor dismissed a yellow card yellow_card_days
//     after they were raised and a red card at red_card_days (events card_yellow / card_red,
//     once each; both sides notified; outbox `alert.card` with sms = 1);
//   - raises camera_offline for cameras and devices silent beyond the offline window (watched
//     from their first heartbeat; status → offline). Their return is handled by ingest, which
//     closes the alert with an event;
//   - notifies a unit's merchant users and its regulators ONCE when a staff member's health
//     certificate becomes expiring (≤ cert_expiring_days left) and once when it has expired
//     (cert_notices remembers what was sent, per certificate expiry date, so a renewed
//     certificate is watched afresh).
//
// Many nodes, one database: a tick first claims the lease row `leases(name='scheduler')`
// with one UPDATE ... WHERE until < now OR holder = me (the same statement on both engines);
// a node that does not hold the lease does nothing. Each piece of work is also guarded by
// its own row (e.g. "card IS NULL" re-checked under the row lock), so even a node that lost
// its lease while paused cannot do a piece of work twice.
//
// Threads: start() runs ticks on a thread of its own every `tick` of real time; run_once()
// runs one tick on the caller's thread (tests, POST /api/v1/admin/scheduler/run). Both may
// be used at once (the lease and row guards serialise them). stop() joins the thread.
// Failure: a tick that throws (database unavailable) is logged and retried next tick.
// Ownership: holds references to the database, clock, audit log and alert service.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "alerts/alert_service.hpp"
#include "core/metrics.hpp"

namespace mingchu::alerts {

struct SchedulerConfig {
  std::chrono::milliseconds tick{10000};
  TimeMs lease_ms = 60 * kSecondMs;  // a holder that stops ticking loses the lease after this
  std::string holder;                // this node's name in the lease; default: a random id
  int cert_expiring_days = 30;       // registry's 临期 window
  int max_items_per_job = 500;       // per tick, so one tick stays short
};

struct TickReport {
  bool lease = false;  // false: another node holds the lease, nothing was done
  int overdue = 0;
  int yellow_cards = 0;
  int red_cards = 0;
  int offline = 0;
  int cert_expiring = 0;
  int cert_expired = 0;
  std::int64_t housekeeping = 0;  // rows the added jobs (retention) removed
};

class Scheduler {
 public:
  Scheduler(storage::Database& db, AlertService& alerts, Metrics* metrics, SchedulerConfig config);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();
  void stop();
  // One tick: claim the lease, then every job. Throws storage::DbError when the database fails.
  TickReport run_once();
  // Claims (or renews) a named lease for lease_ms. True when this node holds it now.
  bool claim_lease(const std::string& name);
  const std::string& holder() const { return config_.holder; }
  // Work of other modules done under the scheduler's lease at the end of every tick (e.g.
  // retention): job(now) does a bounded amount and returns how many rows it handled. Add
  // jobs before start().
  void add_job(std::string name, std::function<std::int64_t(TimeMs now)> job);

 private:
  int mark_overdue();
  void give_cards(TickReport& r);
  int detect_offline();
  void certificate_notices(TickReport& r);

  storage::Database& db_;
  AlertService& alerts_;
  Metrics* metrics_;
  SchedulerConfig config_;
  std::vector<std::pair<std::string, std::function<std::int64_t(TimeMs)>>> jobs_;
  std::mutex mu_;
  std::mutex tick_mu_;  // one tick at a time in this process
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mingchu::alerts
