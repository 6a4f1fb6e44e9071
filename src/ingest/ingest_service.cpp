#include "ingest/ingest_service.hpp"

#include <pthread.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "alerts/alert_service.hpp"
#include "alerts/writer.hpp"
#include "audit/audit_log.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "files/file_catalog.hpp"
#include "files/file_store.hpp"
#include "files/sniff.hpp"
#include "storage/sql.hpp"
#include "telemetry/telemetry.hpp"

namespace mingchu::ingest {

using storage::Params;
using storage::Value;

namespace {

constexpr const char* kSelectReceipt =
    "SELECT alert_id, merged FROM ingest_receipts WHERE source = $1 AND event_id = $2";
// + " IN ($2, $3, ...)": the receipts of several event ids of one source
constexpr const char* kSelectReceipts =
    "SELECT event_id, alert_id, merged FROM ingest_receipts WHERE source = $1 AND event_id";

const std::vector<std::string> kReceiptCols = {"source",      "event_id", "alert_id", "merged", "received_at",
                                               "occurred_at"};
const std::set<std::string> kSnapshotTypes = {std::string(files::kJpeg), std::string(files::kPng),
                                              std::string(files::kWebp)};

Error unknown(const std::string& field, const std::string& what) {
  return Error{ErrorKind::kNotFound, "unknown_" + what, "field '" + field + "' names no " + what + " in your scope",
               field};
}

alerts::Actor actor_of(const IngestSource& src) {
  alerts::Actor a;
  a.id = src.scope.user_id;
  a.name = src.actor;
  a.role = src.scope.is_api_key ? "api_key" : std::string(auth::role_name(src.scope.role));
  if (src.key.rfind("mqtt:", 0) == 0) a.role = "device";
  return a;
}

std::string boxes_json(const std::vector<Box>& boxes) {
  json::array arr;
  for (const auto& b : boxes) {
    json::object o{{"x", b.x}, {"y", b.y}, {"w", b.w}, {"h", b.h}};
    if (!b.label.empty()) o["label"] = b.label;
    if (b.score) o["score"] = *b.score;
    arr.push_back(std::move(o));
  }
  return json::serialize(arr);
}

}  // namespace

IngestSource IngestSource::from_principal(const auth::Principal& p) {
  IngestSource s;
  s.scope = p;
  s.key = (p.is_api_key ? "key:" : "user:") + p.user_id;
  s.actor = p.display_name.empty() ? p.username : p.display_name;
  return s;
}

IngestSource IngestSource::for_unit(std::string unit_id, std::string key, std::string actor) {
  IngestSource s;
  s.scope.role = auth::Role::kMerchant;
  s.scope.is_api_key = true;
  s.scope.unit_ids = {std::move(unit_id)};
  s.scope.user_id = key;
  s.scope.username = actor;
  s.scope.display_name = actor;
  s.scope.source = key;
  s.key = std::move(key);
  s.actor = std::move(actor);
  return s;
}

int IngestResult::http_status() const { return error ? mingchu::http_status(error->kind) : 202; }

struct IngestService::Item {
  enum class Kind { kAlert, kHeartbeat, kReading } kind = Kind::kAlert;
  std::shared_ptr<const IngestSource> source;  // shared by the events of one request
  const IngestSource& src() const { return *source; }
  std::string boxes_json;  // serialised by the caller's thread, not the writer's
  AlertEvent event;
  std::optional<files::StoredFile> blob;  // the inline snapshot, already in the file store
  Heartbeat heartbeat;
  Reading reading;
  Completion done;
  StatusCompletion status_done;
  std::chrono::steady_clock::time_point queued_at;
  // outcome
  IngestResult result;
  Status status = ok_status();
};

IngestService::IngestService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit,
                             alerts::AlertService& alerts, const files::FileStore& store, Metrics& metrics,
                             IngestConfig config)
    : db_(db), clock_(clock), audit_(audit), alerts_(alerts), store_(store), metrics_(metrics), config_(config) {
  if (db_.dialect() == storage::Dialect::kSqlite) cache_ = std::make_unique<alerts::WriterCache>();
  writer_ = std::thread([this] { writer_loop(); });
}

IngestService::~IngestService() { stop(); }

void IngestService::stop() {
  {
    std::lock_guard g(mu_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

size_t IngestService::queued() const {
  std::lock_guard g(mu_);
  return queue_.size();
}

void IngestService::enqueue(std::unique_ptr<Item> item) {
  std::unique_lock lock(mu_);
  if (stopping_ || queue_.size() >= config_.max_queue) {
    bool stopping = stopping_;
    lock.unlock();
    Error e = Error::unavailable(stopping ? "the server is shutting down; retry" : "ingest queue is full; retry");
    if (item->kind != Item::Kind::kAlert) return item->status_done(std::move(e));
    IngestResult r;
    r.event_id = item->event.event_id;
    r.error = std::move(e);
    metrics_.counter("mingchu_ingest_events_total", "result=\"unavailable\"", "Alert events by outcome").inc();
    return item->done(std::move(r));
  }
  item->queued_at = std::chrono::steady_clock::now();
  queue_.push_back(std::move(item));
  // The writer waits for a first item, then for a full batch or its deadline: only those two
  // moments need a wake-up (a notify per item costs the writer a futex wake each).
  bool wake = queue_.size() == 1 || queue_.size() == config_.max_batch;
  lock.unlock();
  if (wake) cv_.notify_one();
}

void IngestService::submit(const IngestSource& src, AlertEvent event, Completion done) {
  submit(std::make_shared<const IngestSource>(src), std::move(event), std::move(done));
}

void IngestService::submit(std::shared_ptr<const IngestSource> source, AlertEvent event, Completion done) {
  const IngestSource& src = *source;
  auto refuse = [&](Error e) {
    metrics_.counter("mingchu_ingest_events_total", "result=\"rejected\"", "Alert events by outcome").inc();
    IngestResult r;
    r.event_id = event.event_id;
    r.error = std::move(e);
    done(std::move(r));
  };
  const auto& cfg = alerts_.config();
  if (!cfg.find_type(event.type)) {
    return refuse(
        Error::invalid("type", "unknown_type", "field 'type' is not a type of the taxonomy (GET /api/v1/alert-types)"));
  }
  TimeMs now = clock_.now_ms();
  if (event.occurred_at > now + config_.max_future_ms) {
    return refuse(Error::invalid("occurred_at", "time_in_future", "field 'occurred_at' is more than 10 minutes ahead"));
  }
  if (event.occurred_at < now - config_.max_age_ms) {
    return refuse(Error::invalid("occurred_at", "time_too_old", "field 'occurred_at' is more than 30 days old"));
  }
  for (auto [field, id] : {std::pair{"camera_id", &event.camera_id}, std::pair{"unit_id", &event.unit_id},
                           std::pair{"device_id", &event.device_id}}) {
    if (*id && !plausible_id(**id)) {
      std::string f = field;
      return refuse(unknown(f, f.substr(0, f.size() - 3)));
    }
  }
  if (event.snapshot_id && !plausible_id(*event.snapshot_id)) {
    return refuse(Error::invalid("snapshot_id", "unknown_file", "field 'snapshot_id' names no image you may use"));
  }
  // A unit-scoped sender naming another unit: refused without a look at the database.
  const auth::Principal& p = src.scope;
  bool unit_scoped = p.unit_scoped();
  if (event.unit_id && unit_scoped &&
      std::find(p.unit_ids.begin(), p.unit_ids.end(), *event.unit_id) == p.unit_ids.end()) {
    return refuse(unknown("unit_id", "unit"));
  }
  auto item = std::make_unique<Item>();
  if (event.snapshot) {
    auto stored = store_.put(event.snapshot->bytes, kSnapshotTypes);
    if (!stored) return refuse(stored.error());
    item->blob = std::move(*stored);
    event.snapshot.reset();  // the bytes are in the store; keep the queue small
  }
  item->kind = Item::Kind::kAlert;
  item->source = std::move(source);
  item->boxes_json = boxes_json(event.boxes);
  item->event = std::move(event);
  item->done = std::move(done);
  enqueue(std::move(item));
}

void IngestService::submit_heartbeat(const IngestSource& src, Heartbeat hb, StatusCompletion done) {
  for (auto [field, id] : {std::pair{"camera_id", &hb.camera_id}, std::pair{"device_id", &hb.device_id}}) {
    if (*id && !plausible_id(**id)) {
      std::string f = field;
      return done(unknown(f, f.substr(0, f.size() - 3)));
    }
  }
  TimeMs now = clock_.now_ms();
  if (hb.at && (*hb.at > now + config_.max_future_ms || *hb.at < now - config_.max_age_ms)) {
    return done(Error::invalid("at", "time_out_of_range", "field 'at' is too far from the server's time"));
  }
  auto item = std::make_unique<Item>();
  item->kind = Item::Kind::kHeartbeat;
  item->source = std::make_shared<const IngestSource>(src);
  item->heartbeat = std::move(hb);
  item->status_done = std::move(done);
  enqueue(std::move(item));
}

void IngestService::submit_reading(const IngestSource& src, Reading reading, StatusCompletion done) {
  if (!plausible_id(reading.device_id)) return done(unknown("device_id", "device"));
  TimeMs now = clock_.now_ms();
  if (reading.at > now + config_.max_future_ms || reading.at < now - config_.max_age_ms) {
    return done(Error::invalid("at", "time_out_of_range", "field 'at' is too far from the server's time"));
  }
  auto item = std::make_unique<Item>();
  item->kind = Item::Kind::kReading;
  item->source = std::make_shared<const IngestSource>(src);
  item->reading = std::move(reading);
  item->status_done = std::move(done);
  enqueue(std::move(item));
}

Result<IngestResult> IngestService::receipt(const IngestSource& src, const std::string& event_id) {
  if (!valid_event_id(event_id)) return Error::not_found("event");
  storage::Conn c = db_.acquire();
  storage::Rows rows = c->query(kSelectReceipt, {src.key, event_id});
  if (rows.empty()) return Error::not_found("event");
  IngestResult r;
  r.event_id = event_id;
  r.alert_id = rows[0].text(0);
  r.merged = rows[0].boolean(1);
  r.duplicate = true;
  return r;
}

void IngestService::writer_loop() {
  pthread_setname_np(pthread_self(), "ingest-writer");
  for (;;) {
    std::vector<std::unique_ptr<Item>> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and everything is written
      // Group commit: give concurrent senders until max_wait after the oldest item arrived.
      auto deadline = queue_.front()->queued_at + config_.max_wait;
      while (!stopping_ && queue_.size() < config_.max_batch &&
             cv_.wait_until(lock, deadline) != std::cv_status::timeout) {
      }
      metrics_.gauge("mingchu_ingest_queue", "", "Ingest items waiting for the writer")
          .set(static_cast<double>(queue_.size()));
      size_t n = std::min(queue_.size(), config_.max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(batch);
  }
}

// One ingest transaction: what the writer decides for each item of a batch, in small steps.
class IngestService::Batch {
 public:
  using Items = std::vector<std::unique_ptr<Item>>;
  Batch(IngestService& svc, storage::Connection& c, Items& items)
      : c_(c),
        items_(items),
        w_(c, svc.alerts_.config(), svc.clock_, svc.audit_, svc.cache_.get()),
        telemetry_(w_),
        on_reading_(svc.config_.on_reading) {
    w_.lock_ingest();
  }

  // Decides every item, then writes what the decisions buffered (before the commit).
  void run() {
    prefetch();
    load_receipts();
    for (auto& item : items_) {
      switch (item->kind) {
        case Item::Kind::kAlert:
          alert(*item);
          break;
        case Item::Kind::kHeartbeat:
          heartbeat(*item);
          break;
        case Item::Kind::kReading:
          reading(*item);
          break;
      }
    }
    decided_ = std::chrono::steady_clock::now();
    w_.flush();
    storage::insert_rows(c_, "ingest_receipts", kReceiptCols, receipts_);
    telemetry_.flush();
  }
  std::chrono::steady_clock::time_point decided() const { return decided_; }

 private:
  // What the items will look up, in a few queries instead of several per item.
  void prefetch() {
    std::vector<std::string> cameras, devices, units;
    std::optional<TimeMs> earliest;
    auto add = [](std::vector<std::string>& v, const std::optional<std::string>& id) {
      if (id && plausible_id(*id)) v.push_back(*id);
    };
    for (const auto& item : items_) {
      if (item->kind == Item::Kind::kAlert) {
        add(cameras, item->event.camera_id);
        add(devices, item->event.device_id);
        add(units, item->event.unit_id);
        earliest = std::min(earliest.value_or(item->event.occurred_at), item->event.occurred_at);
      } else if (item->kind == Item::Kind::kHeartbeat) {
        add(cameras, item->heartbeat.camera_id);
        add(devices, item->heartbeat.device_id);
      } else {
        add(devices, item->reading.device_id);
      }
    }
    w_.prefetch(cameras, devices, units, earliest);
  }

  // Receipts of earlier deliveries, one query per source and 500 event ids (not one per event).
  void load_receipts() {
    std::map<std::string, std::vector<std::string>> ids_by_source;
    for (const auto& item : items_) {
      if (item->kind == Item::Kind::kAlert) ids_by_source[item->src().key].push_back(item->event.event_id);
    }
    for (const auto& entry : ids_by_source) {
      const std::string& source = entry.first;  // a named copy: clang 14 cannot capture a structured binding
      storage::for_each_chunk(entry.second, [&](const std::vector<std::string>& chunk) {
        Params ps{source};
        std::string sql = std::string(kSelectReceipts) + " IN " + storage::in_list(ps, chunk);
        for (const auto& r : c_.query(sql, ps)) prior_[source + '\x1f' + r.text(0)] = {r.text(1), r.boolean(2)};
      });
    }
  }

  // The unit an alert event, heartbeat or reading belongs to, within the source's scope.
  Result<alerts::UnitRef> resolve_unit(const IngestSource& src, const std::optional<std::string>& camera_id,
                                       const std::optional<std::string>& device_id,
                                       const std::optional<std::string>& unit_id) {
    std::optional<std::string> owner;
    std::string owner_field;
    if (camera_id) {
      auto cam = w_.camera(*camera_id);
      if (!cam) return unknown("camera_id", "camera");
      owner = cam->unit_id;
      owner_field = "camera_id";
    }
    if (device_id) {
      auto dev = w_.device(*device_id);
      if (!dev) return unknown("device_id", "device");
      if (owner && *owner != dev->unit_id) {
        return Error::invalid("device_id", "device_not_in_unit", "device and camera belong to different units");
      }
      if (!owner) owner_field = "device_id";
      owner = dev->unit_id;
    }
    if (!owner) {
      owner = *unit_id;
      owner_field = "unit_id";
    }
    auto unit = w_.unit(*owner);
    std::string what = owner_field.substr(0, owner_field.size() - 3);
    if (!unit || !src.scope.covers(unit->jpath, unit->id)) return unknown(owner_field, what);
    if (unit_id && *unit_id != unit->id) {
      // the sender may see the camera's unit: say which field disagrees
      auto named = w_.unit(*unit_id);
      if (!named || !src.scope.covers(named->jpath, named->id)) return unknown("unit_id", "unit");
      return Error::invalid(owner_field, what + "_not_in_unit", "the " + what + " does not belong to unit " + *unit_id);
    }
    return *unit;
  }

  // An event id this source sent before (in this batch or committed earlier): its answer.
  bool repeated(Item& item) {
    IngestResult& res = item.result;
    std::string key = item.src().key + '\x1f' + item.event.event_id;
    if (auto it = in_batch_.find(key); it != in_batch_.end()) {
      res = it->second->result;
      if (res.ok()) res.duplicate = true;
      return true;
    }
    in_batch_.emplace(key, &item);
    if (auto it = prior_.find(key); it != prior_.end()) {
      res.alert_id = it->second.first;
      res.merged = it->second.second;
      res.duplicate = true;
      return true;
    }
    return false;
  }

  // The snapshot of an event as a file of the unit: a file id the sender may use, or the
  // inline bytes already stored. False (and res.error) for a file id it may not use.
  bool attach_snapshot(Item& item, const alerts::UnitRef& unit, alerts::AlertDraft& d) {
    const AlertEvent& ev = item.event;
    if (ev.snapshot_id) {
      auto f = files::FileCatalog::load(c_, *ev.snapshot_id);
      if (!f || !f->is_image() || !files::FileCatalog::may_read(item.src().scope, *f)) {
        item.result.error = Error::invalid("snapshot_id", "unknown_file", "field 'snapshot_id' names no image you may use");
        return false;
      }
      (void)files::FileCatalog::attach_to_unit(c_, f->id, unit.id, unit.jpath);
      d.snapshot_file_id = f->id;
    } else if (item.blob) {
      d.snapshot_file_id = files::FileCatalog::record_stored(c_, *item.blob, "snapshot", item.src().scope.user_id,
                                                             unit.id, unit.jpath, w_.now())
                               .id;
    }
    return true;
  }

  void alert(Item& item) {
    AlertEvent& ev = item.event;
    IngestResult& res = item.result;
    res.event_id = ev.event_id;
    if (repeated(item)) return;
    auto unit = resolve_unit(item.src(), ev.camera_id, ev.device_id, ev.unit_id);
    if (!unit) {
      res.error = unit.error();
      return;
    }
    alerts::AlertDraft d;
    d.camera_id = ev.camera_id;
    d.device_id = ev.device_id;
    d.type = ev.type;
    d.occurred_at = ev.occurred_at;
    d.confidence = ev.confidence;
    d.model = ev.model;
    d.boxes_json = std::move(item.boxes_json);
    d.source = item.src().key;
    d.actor = actor_of(item.src());
    d.audit_source = item.src().scope.source;
    d.event_id = ev.event_id;
    if (!attach_snapshot(item, *unit, d)) return;
    auto out = w_.raise(*unit, d);
    res.alert_id = out.alert_id;
    res.merged = out.merged;
    receipts_.push_back(
        {item.src().key, ev.event_id, out.alert_id, std::int64_t{out.merged ? 1 : 0}, w_.now(), ev.occurred_at});
  }

  void heartbeat(Item& item) {
    const Heartbeat& hb = item.heartbeat;
    auto unit = resolve_unit(item.src(), hb.camera_id, hb.device_id, std::nullopt);
    if (!unit) {
      item.status = unit.error();
      return;
    }
    if (hb.camera_id) {
      telemetry_.camera_seen(*unit, *w_.camera(*hb.camera_id));
    } else {
      telemetry_.device_seen(*unit, *w_.device(*hb.device_id));
    }
  }

  void reading(Item& item) {
    const Reading& rd = item.reading;
    auto unit = resolve_unit(item.src(), std::nullopt, rd.device_id, std::nullopt);
    if (!unit) {
      item.status = unit.error();
      return;
    }
    telemetry::Origin origin{item.src().key, actor_of(item.src()), item.src().scope.source};
    telemetry_.reading(*unit, *w_.device(rd.device_id), rd.at, rd.metrics, origin);
    if (on_reading_) on_reading_(c_, rd);
  }

  storage::Connection& c_;
  Items& items_;
  alerts::AlertWriter w_;
  telemetry::Telemetry telemetry_;
  const std::function<void(storage::Connection&, const Reading&)>& on_reading_;
  std::vector<Params> receipts_;
  std::unordered_map<std::string, Item*> in_batch_;  // source \x1f event_id → its first item here
  std::unordered_map<std::string, std::pair<std::string, bool>> prior_;  // source \x1f event_id → (alert, merged)
  std::chrono::steady_clock::time_point decided_;
};

void IngestService::run_batch(std::vector<std::unique_ptr<Item>>& batch) {
  auto started = std::chrono::steady_clock::now();
  bool committed = false;
  std::string failure;
  try {
    storage::Conn c = db_.acquire();
    storage::Transaction tx(*c);
    Batch b(*this, *c, batch);
    b.run();
    auto written = std::chrono::steady_clock::now();
    tx.commit();
    committed = true;
    auto ms = [](auto a, auto b) { return std::to_string(std::chrono::duration<double, std::milli>(b - a).count()); };
    if (log::enabled(log::Level::kDebug)) {
      log::debug("ingest batch", {{"items", std::to_string(batch.size())},
                                  {"decide_ms", ms(started, b.decided())},
                                  {"write_ms", ms(b.decided(), written)},
                                  {"commit_ms", ms(written, std::chrono::steady_clock::now())}});
    }
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!committed && cache_) cache_->clear();  // it may hold what was rolled back

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.histogram("mingchu_ingest_batch_seconds", "", "Time to write and commit one ingest batch").observe(secs);
  metrics_
      .counter("mingchu_ingest_batches_total", committed ? "result=\"committed\"" : "result=\"failed\"",
               "Ingest transactions")
      .inc();
  if (!committed) {
    log::error("ingest batch failed; answering 503 to every event in it",
               {{"items", std::to_string(batch.size())}, {"error", failure}});
  }
  // Outcomes: counted here once per label, answered by the delivery executor (the HTTP
  // server's threads) so the writer goes straight on to the next batch.
  std::map<const char*, std::uint64_t> outcomes;
  for (auto& item : batch) {
    if (item->kind == Item::Kind::kAlert) {
      IngestResult& r = item->result;
      if (!committed) {
        r = IngestResult{};
        r.event_id = item->event.event_id;
        r.error = Error::unavailable("the event could not be stored; retry");
      }
      const char* label = !r.ok()       ? (committed ? "result=\"rejected\"" : "result=\"unavailable\"")
                          : r.duplicate ? "result=\"duplicate\""
                          : r.merged    ? "result=\"merged\""
                                        : "result=\"created\"";
      outcomes[label] += 1;
    } else if (!committed) {
      item->status = Error::unavailable("could not be stored; retry");
    }
  }
  for (const auto& [label, n] : outcomes) {
    metrics_.counter("mingchu_ingest_events_total", label, "Alert events by outcome").inc(n);
  }
  // (std::function needs a copyable task: the items travel in a shared_ptr)
  auto answer = [items = std::make_shared<std::vector<std::unique_ptr<Item>>>(std::move(batch))] {
    for (auto& item : *items) {
      if (item->kind == Item::Kind::kAlert) {
        item->done(std::move(item->result));
      } else {
        item->status_done(std::move(item->status));
      }
    }
  };
  std::function<void(std::function<void()>)> deliver;
  {
    std::lock_guard g(mu_);
    deliver = delivery_;
  }
  if (deliver) {
    deliver(std::move(answer));
  } else {
    answer();
  }
}

void IngestService::set_delivery(std::function<void(std::function<void()>)> deliver) {
  std::lock_guard g(mu_);
  delivery_ = std::move(deliver);
}

std::int64_t purge_receipts(storage::Database& db, TimeMs before, int limit) {
  return db.in_transaction([&](storage::Connection& c) {
    return c.exec(
        "DELETE FROM ingest_receipts WHERE (source, event_id) IN (SELECT source, event_id FROM ingest_receipts "
        "WHERE received_at < $1 ORDER BY received_at LIMIT $2)",
        {before, std::int64_t{limit}});
  });
}

TimeMs receipt_horizon(const IngestConfig& config) { return config.max_age_ms + config.max_future_ms; }

}  // namespace mingchu::ingest
