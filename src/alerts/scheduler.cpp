#include "alerts/scheduler.hpp"

#include "alerts/internal.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"

namespace mingchu::alerts {
namespace {

constexpr const char* kLeaseName = "scheduler";
constexpr const char* kEnsureLease =
    "INSERT INTO leases (name, holder, until) VALUES ($1, '', 0) ON CONFLICT (name) DO NOTHING";
constexpr const char* kClaimLease =
    "UPDATE leases SET holder = $2, until = $3 WHERE name = $1 AND (until < $4 OR holder = $2)";
constexpr const char* kDueOverdue =
    "SELECT id FROM alerts WHERE state = 'open' AND overdue = 0 AND due_at <= $1 ORDER BY due_at LIMIT $2";
constexpr const char* kDueCards =
    "SELECT id FROM alerts WHERE next_card_at IS NOT NULL AND next_card_at <= $1 ORDER BY next_card_at LIMIT $2";
constexpr const char* kSilent =
    "SELECT subject, kind, unit_id, last_heartbeat_at FROM liveness WHERE offline = 0 AND last_heartbeat_at < $1 "
    "ORDER BY last_heartbeat_at LIMIT $2";
constexpr const char* kMarkSilent = "UPDATE liveness SET offline = 1 WHERE subject = $1 AND offline = 0";
constexpr const char* kCameraOffline = "UPDATE cameras SET status = 'offline' WHERE id = $1";
constexpr const char* kDeviceOffline = "UPDATE devices SET status = 'offline' WHERE id = $1";
// Certificates expiring (≤ $1) or expired (< $2) without the notice of their current kind.
constexpr const char* kCertsToNotify =
    "SELECT s.id, s.unit_id, s.name, s.cert_number, s.cert_expires_on FROM staff s "
    "WHERE s.deleted_at IS NULL AND s.cert_expires_on IS NOT NULL AND s.cert_expires_on <= $1 "
    "AND NOT EXISTS (SELECT 1 FROM cert_notices n WHERE n.staff_id = s.id AND n.expires_on = s.cert_expires_on "
    "AND n.kind = CASE WHEN s.cert_expires_on < $2 THEN 'expired' ELSE 'expiring' END) "
    "ORDER BY s.cert_expires_on, s.id LIMIT $3";
constexpr const char* kInsertNotice =
    "INSERT INTO cert_notices (staff_id, kind, expires_on, sent_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (staff_id, kind, expires_on) DO NOTHING";

}  // namespace

Scheduler::Scheduler(storage::Database& db, AlertService& alerts, Metrics* metrics, SchedulerConfig config)
    : db_(db), alerts_(alerts), metrics_(metrics), config_(std::move(config)) {
  if (config_.holder.empty()) config_.holder = new_id("node");
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  std::lock_guard g(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      try {
        TickReport r = run_once();
        if (r.overdue + r.yellow_cards + r.red_cards + r.offline + r.cert_expiring + r.cert_expired +
                r.housekeeping >
            0) {
          log::info("scheduler tick", {{"overdue", std::to_string(r.overdue)},
                                       {"yellow_cards", std::to_string(r.yellow_cards)},
                                       {"red_cards", std::to_string(r.red_cards)},
                                       {"offline", std::to_string(r.offline)},
                                       {"cert_expiring", std::to_string(r.cert_expiring)},
                                       {"cert_expired", std::to_string(r.cert_expired)},
                                       {"housekeeping", std::to_string(r.housekeeping)}});
        }
      } catch (const std::exception& e) {
        log::warn("scheduler tick failed; retrying next tick", {{"error", e.what()}});
        if (metrics_) metrics_->counter("mingchu_scheduler_failures_total", "", "Scheduler ticks that failed").inc();
      }
      lock.lock();
      cv_.wait_for(lock, config_.tick, [&] { return stopping_; });
    }
  });
}

void Scheduler::stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::add_job(std::string name, std::function<std::int64_t(TimeMs now)> job) {
  jobs_.emplace_back(std::move(name), std::move(job));
}

bool Scheduler::claim_lease(const std::string& name) {
  TimeMs now = alerts_.clock().now_ms();
  storage::Conn c = db_.acquire();
  c->exec(kEnsureLease, {name});
  return c->exec(kClaimLease, {name, config_.holder, now + config_.lease_ms, now}) == 1;
}

TickReport Scheduler::run_once() {
  std::lock_guard tick(tick_mu_);
  TickReport r;
  r.lease = claim_lease(kLeaseName);
  if (!r.lease) return r;
  r.overdue = mark_overdue();
  give_cards(r);
  r.offline = detect_offline();
  certificate_notices(r);
  for (const auto& [name, job] : jobs_) {
    std::int64_t n = job(alerts_.clock().now_ms());
    r.housekeeping += n;
    if (metrics_ && n > 0) {
      metrics_->counter("mingchu_scheduler_actions_total", "action=\"" + name + "\"").inc(static_cast<std::uint64_t>(n));
    }
  }
  if (metrics_) {
    metrics_->counter("mingchu_scheduler_ticks_total", "", "Scheduler ticks that held the lease").inc();
    metrics_->counter("mingchu_scheduler_actions_total", "action=\"overdue\"", "Work done by the scheduler")
        .inc(r.overdue);
    metrics_->counter("mingchu_scheduler_actions_total", "action=\"card_yellow\"").inc(r.yellow_cards);
    metrics_->counter("mingchu_scheduler_actions_total", "action=\"card_red\"").inc(r.red_cards);
    metrics_->counter("mingchu_scheduler_actions_total", "action=\"offline\"").inc(r.offline);
    metrics_->counter("mingchu_scheduler_actions_total", "action=\"cert_expiring\"").inc(r.cert_expiring);
    metrics_->counter("mingchu_scheduler_actions_total", "action=\"cert_expired\"").inc(r.cert_expired);
  }
  return r;
}

int Scheduler::mark_overdue() {
  const AlertsConfig& cfg = alerts_.config();
  return db_.in_transaction([&](storage::Connection& c) {
    AlertWriter w(c, cfg, alerts_.clock(), alerts_.audit_log());
    int n = 0;
    storage::Rows due = c.query(kDueOverdue, {w.now(), std::int64_t{config_.max_items_per_job}});
    for (const auto& row : due) {
      auto a = w.load_for_update(row.text(0));
      // re-checked under the row lock: another node may have done it
      if (!a || a->state != AlertState::kOpen || a->overdue || !a->due_at || *a->due_at > w.now()) continue;
      a->overdue = true;
      a->updated_at = w.now();
      auto unit = w.unit(a->unit_id).value_or(UnitRef{a->unit_id, a->jpath, "", ""});
      std::string comment = "已超过整改期限 " + format_rfc3339(*a->due_at, cfg.utc_offset_minutes);
      Transition t;
      t.actor = Actor::system();
      t.timeline = {{"overdue", comment, ""}};
      t.audit_action = "alert.overdue";
      t.comment = comment;
      t.headline = "整改逾期";
      w.record_transition(unit, *a, t);
      ++n;
    }
    w.flush();
    return n;
  });
}

void Scheduler::give_cards(TickReport& r) {
  const AlertsConfig& cfg = alerts_.config();
  // A yellow card makes the red one due (maybe at once): loop until nothing is due.
  for (int round = 0; round < 3; ++round) {
    int given = db_.in_transaction([&](storage::Connection& c) {
      AlertWriter w(c, cfg, alerts_.clock(), alerts_.audit_log());
      int n = 0;
      storage::Rows due = c.query(kDueCards, {w.now(), std::int64_t{config_.max_items_per_job}});
      for (const auto& row : due) {
        auto a = w.load_for_update(row.text(0));
        if (!a || a->risk_class != 1 || (a->state != AlertState::kOpen && a->state != AlertState::kSubmitted)) {
          if (a) w.save(*a);  // clears a stale next_card_at
          continue;
        }
        auto when = next_card_at(*a, cfg);
        if (!when || *when > w.now()) {
          w.save(*a);  // the card days changed since: reschedule
          continue;
        }
        bool red = a->card.has_value();  // yellow already given
        a->card = red ? "red" : "yellow";
        a->updated_at = w.now();
        auto unit = w.unit(a->unit_id).value_or(UnitRef{a->unit_id, a->jpath, "", ""});
        int days = red ? cfg.red_card_days : cfg.yellow_card_days;
        std::string comment = std::string(red ? "红牌" : "黄牌") + "：一类预警 " + std::to_string(days) + " 天未闭环" +
                              (red ? "，请启动线下执法（三书一函）" : "");
        Transition t;
        t.actor = Actor::system();
        t.timeline = {{red ? "card_red" : "card_yellow", comment, ""}};
        t.audit_action = red ? "alert.card_red" : "alert.card_yellow";
        t.topic = "alert.card";
        t.comment = comment;
        t.sms = true;
        t.headline = red ? "红牌警告" : "黄牌警告";
        w.record_transition(unit, *a, t);
        (red ? r.red_cards : r.yellow_cards) += 1;
        ++n;
      }
      w.flush();
      return n;
    });
    if (given == 0) break;
  }
}

int Scheduler::detect_offline() {
  const AlertsConfig& cfg = alerts_.config();
  return db_.in_transaction([&](storage::Connection& c) {
    AlertWriter w(c, cfg, alerts_.clock(), alerts_.audit_log());
    w.lock_ingest();  // raising alerts: the same dedup discipline as ingest
    int n = 0;
    storage::Rows silent = c.query(kSilent, {w.now() - cfg.offline_window_ms, std::int64_t{config_.max_items_per_job}});
    for (const auto& row : silent) {
      std::string subject = row.text(0);
      bool camera = row.text(1) == "camera";
      if (c.exec(kMarkSilent, {subject}) != 1) continue;
      c.exec(camera ? kCameraOffline : kDeviceOffline, {subject});
      auto unit = w.unit(row.text(2));
      if (!unit) continue;                                             // the unit was deleted: nobody to tell
      if (camera ? !w.camera(subject) : !w.device(subject)) continue;  // deleted
      AlertDraft d;
      if (camera)
        d.camera_id = subject;
      else
        d.device_id = subject;
      d.type = "camera_offline";
      d.occurred_at = row.integer(3) + cfg.offline_window_ms;
      d.source = "system";
      d.actor = Actor::system();
      w.raise(*unit, d);
      ++n;
    }
    w.flush();
    return n;
  });
}

void Scheduler::certificate_notices(TickReport& r) {
  const AlertsConfig& cfg = alerts_.config();
  db_.in_transaction([&](storage::Connection& c) {
    AlertWriter w(c, cfg, alerts_.clock(), alerts_.audit_log());
    std::int64_t today = local_day(w.now(), cfg.utc_offset_minutes);
    storage::Rows rows =
        c.query(kCertsToNotify, {today + config_.cert_expiring_days, today, std::int64_t{config_.max_items_per_job}});
    for (const auto& row : rows) {
      std::string staff_id = row.text(0);
      std::int64_t expires = row.integer(4);
      bool expired = expires < today;
      std::string kind = expired ? "expired" : "expiring";
      if (c.exec(kInsertNotice, {staff_id, kind, expires, w.now()}) != 1) continue;
      auto unit = w.unit(row.text(1));
      if (!unit) continue;
      std::string date = format_date(static_cast<int>(expires));
      std::string topic = expired ? "cert.expired" : "cert.expiring";
      std::string title = expired ? "【健康证逾期】" + row.text(2) : "【健康证临期】" + row.text(2);
      std::string body = unit->name + " · " + row.text(2) + " 的健康证 " + row.text(3) +
                         (expired ? " 已于 " + date + " 过期，请立即停止上岗并办理"
                                  : " 将于 " + date + " 到期（剩 " + std::to_string(expires - today) + " 天）");
      w.notify(w.recipients(*unit).all(), std::nullopt, topic, title, body);
      json::object staff{{"id", staff_id},
                         {"name", row.text(2)},
                         {"cert_number", row.text(3)},
                         {"expires_on", date},
                         {"days_left", expires - today}};
      w.outbox_raw(topic, *unit, json::object{{"staff", std::move(staff)}}, false);
      w.audit(Actor::system(), "cert." + kind + "_notice", "staff:" + staff_id, "{\"expires_on\":\"" + date + "\"}");
      (expired ? r.cert_expired : r.cert_expiring) += 1;
    }
    w.flush();
  });
}

}  // namespace mingchu::alerts
