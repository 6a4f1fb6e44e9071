// IngestService: the one door through which events from kitchens enter the platform —
// alert events from AI boxes, the algorithm server and integrations (HTTP or MQTT),
// heartbeats of cameras and devices, and sensor readings.
//
// Durability (ARCHITECTURE.md "The main flow"): an event is acknowledged only after it is
// committed. submit() hands the event to a group-commit batcher: one writer thread collects
// the events of all concurrent callers for up to IngestConfig::max_wait or max_batch items,
// writes them in ONE transaction (idempotency receipts, dedup, alerts, timeline, snapshots,
// notifications, outbox rows, audit entries, statistics rollups) and commits it with one
// fsync (SQLite WAL synchronous=FULL; PostgreSQL synchronous_commit=on). Only then is each
// caller's completion called with its result. When the transaction fails, every event in it
// is answered 503 "unavailable" and nothing of it is stored: nothing is acknowledged that is
// not stored, and a sender that retries after a 503 (or after no answer at all) is safe,
// because event ids are idempotent.
//
// Idempotency: (IngestSource::key, event_id) is unique. A second submit of the same pair —
// in the same batch, or any time later, also after a restart — stores nothing new and is
// answered with the original result (alert_id, merged) and duplicate = true.
//
// Threads: submit*() may be called from any thread at once and never blocks on the database
// (only briefly on a queue mutex; when the queue holds IngestConfig::max_queue items the
// event is refused at once with 503, so a flood cannot exhaust memory). Each completion is
// called exactly once: before submit returns when the event is refused on its face (parse
// and scope rules that need no database), otherwise later on the writer thread. Completions
// must not block (post the answer elsewhere, as the HTTP server does).
//
// Ownership: the service holds references to the database, clock, audit log, alert service,
// file store and metrics, which must outlive it. stop() (also run by the destructor) stops
// taking new events, finishes the queued ones and joins the writer thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "ingest/event.hpp"
#include "storage/database.hpp"

namespace mingchu::audit {
class AuditLog;
}
namespace mingchu::files {
class FileStore;
}
namespace mingchu::alerts {
class AlertService;
class WriterCache;
}

namespace mingchu::ingest {

// Who sent an event: the scope it may touch, and the namespace its event ids are unique in.
struct IngestSource {
  auth::Principal scope;  // what the sender may touch (Principal::covers on the unit)
  std::string key;        // idempotency namespace, e.g. "key:<api key id>", "mqtt:<unit>/<device>"
  std::string actor;      // for the audit log: the API key's name, the username, "mqtt"

  // An authenticated HTTP caller (API key or user session): key "key:<id>" or "user:<id>".
  static IngestSource from_principal(const auth::Principal& p);
  // A trusted transport that vouches for exactly one unit (the MQTT subscriber: the broker
  // authenticated the device, the topic names the unit). key is the idempotency namespace,
  // e.g. "mqtt:<unit_id>/<device_id>"; events naming another unit are refused (404).
  static IngestSource for_unit(std::string unit_id, std::string key, std::string actor);
};

// The answer to one submitted alert event.
struct IngestResult {
  std::string event_id;
  std::optional<Error> error;  // refused (4xx) or not stored (503)
  std::string alert_id;        // when stored
  bool merged = false;         // folded into an open alert of the same unit, camera and type
  bool duplicate = false;      // a retry of an event already stored: the original answer

  bool ok() const { return !error.has_value(); }
  int http_status() const;  // 202, or the error's status
};

using Completion = std::function<void(IngestResult)>;
using StatusCompletion = std::function<void(Status)>;

struct IngestConfig {
  // How long the writer waits for more items after the first when it is idle. 0: it takes
  // what is queued at once; while it writes and fsyncs one batch the next one gathers by
  // itself, so waiting only adds latency (bench/run_ingest.sh: 16 connections, 1 event each).
  std::chrono::microseconds max_wait{0};
  size_t max_batch = 2000;                   // items per transaction
  size_t max_queue = 200000;                 // items waiting; beyond, 503 at once
  TimeMs max_future_ms = 10 * kMinuteMs;     // occurred_at later than now + this: 422
  TimeMs max_age_ms = 30 * kDayMs;           // occurred_at older than now - this: 422
  // Called for every stored reading inside the writer's transaction (operations turns a
  // vehicle device's positions into its delivery trip's track). May throw storage::DbError.
  std::function<void(storage::Connection&, const Reading&)> on_reading;
};

class IngestService {
 public:
  IngestService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, alerts::AlertService& alerts,
                const files::FileStore& store, Metrics& metrics, IngestConfig config = {});
  ~IngestService();
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;

  // An alert event (already parsed by parse_alert_event). Answers through done: 202-style
  // {alert_id, merged} after commit, or an Error: 422 unknown type / time out of range /
  // camera not of the given unit, 404 camera, unit, device or snapshot_id unknown or outside
  // the source's scope, 503 when it could not be stored.
  void submit(const IngestSource& src, AlertEvent event, Completion done);
  // The same, for the events of one request sharing their source.
  void submit(std::shared_ptr<const IngestSource> src, AlertEvent event, Completion done);

  // A heartbeat: the camera or device is alive now (server time). A camera or device that
  // was offline comes back online and its open camera_offline alert is closed with an event
  // in the timeline. 404 for an unknown or out-of-scope camera/device.
  void submit_heartbeat(const IngestSource& src, Heartbeat hb, StatusCompletion done);

  // Sensor readings: stored, and checked against the device's threshold rules; a breach
  // that lasts at least the rule's duration raises sensor_out_of_range (deduplicated like
  // every alert). 404 for an unknown or out-of-scope device, 422 for a time out of range.
  void submit_reading(const IngestSource& src, Reading reading, StatusCompletion done);

  // The stored answer to an event id sent earlier by this source (GET .../ingest/alerts/{id}).
  Result<IngestResult> receipt(const IngestSource& src, const std::string& event_id);

  // Where completions run: by default on the writer thread, one after the other. With a
  // delivery function, the writer hands each batch's completions to it as one task (the HTTP
  // server posts it to its I/O threads) and goes on. The delivery must run every task once.
  // nullptr restores the default (e.g. before stop(), once the server no longer runs).
  void set_delivery(std::function<void(std::function<void()>)> deliver);

  // Stops taking events, commits what is queued, joins the writer. Idempotent.
  void stop();

  // Items waiting for the writer (for /metrics and tests).
  size_t queued() const;

 private:
  struct Item;
  class Batch;
  void enqueue(std::unique_ptr<Item> item);  // or refuse it (503) when full or stopping
  void writer_loop();
  void run_batch(std::vector<std::unique_ptr<Item>>& batch);

  storage::Database& db_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
  alerts::AlertService& alerts_;
  const files::FileStore& store_;
  Metrics& metrics_;
  IngestConfig config_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Item>> queue_;
  bool stopping_ = false;
  std::unique_ptr<alerts::WriterCache> cache_;  // SQLite only (see alerts::WriterCache)
  std::function<void(std::function<void()>)> delivery_;  // under mu_
  std::thread writer_;
};

// Retention: deletes up to `limit` receipts received before `before` (oldest first) and
// returns how many. Receipts make event ids idempotent: the caller must not pass a time later
// than now − (max_age + max_future) of IngestConfig, or a sender's retry of an event that is
// still accepted could become a second capture (receipt_horizon() says how far back that is).
std::int64_t purge_receipts(storage::Database& db, TimeMs before, int limit);
// How long a receipt must be kept so that every event still accepted finds its receipt.
TimeMs receipt_horizon(const IngestConfig& config);

}  // namespace mingchu::ingest
