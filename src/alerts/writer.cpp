#include "alerts/writer.hpp"

#include <algorithm>
#include <atomic>
#include <set>

#include "alerts/internal.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "notify/outbox.hpp"
#include "storage/sql.hpp"

namespace mingchu::alerts {

using storage::insert_rows;
using storage::Params;
using storage::Value;

namespace {

constexpr const char* kSelectUnit =
    "SELECT id, jpath, name, jurisdiction_id FROM units WHERE id = $1 AND deleted_at IS NULL";
constexpr const char* kSelectCamera =
    "SELECT id, unit_id, name, status FROM cameras WHERE id = $1 AND deleted_at IS NULL";
constexpr const char* kSelectDevice =
    "SELECT id, unit_id, name, kind, thresholds, status FROM devices WHERE id = $1 AND deleted_at IS NULL";
constexpr const char* kSelectMerchants =
    "SELECT uu.user_id FROM user_units uu JOIN users u ON u.id = uu.user_id "
    "WHERE uu.unit_id = $1 AND u.disabled = 0 AND u.role = 'merchant' ORDER BY uu.user_id";
// + "($1, ...)" over the unit's path and its ancestors' paths
constexpr const char* kSelectRegulators =
    "SELECT u.id FROM users u JOIN jurisdictions j ON j.id = u.jurisdiction_id "
    "WHERE u.role = 'regulator' AND u.disabled = 0 AND j.path IN ";
// What dedup needs of an open alert (AlertWriter::open_from_row reads it).
constexpr const char* kOpenColumns =
    "SELECT id, occurred_at, last_seen_at, capture_count, snapshot_count, risk_class, state, jpath, camera_id, "
    "device_id, due_at, card, confidence, model, boxes, source, created_at, unit_id, subject, type";
// every open alert of one dedup key (WriterCache: the key is then known completely)
const std::string kFindAllOpen = std::string(kOpenColumns) +
                                 " FROM alerts WHERE unit_id = $1 AND subject = $2 AND type = $3 "
                                 "AND state IN ('open', 'submitted')";
// the open alert of a key an event at t could fold into ('+': SQLite must seek alerts_open)
const std::string kFindOpen = kFindAllOpen + " AND last_seen_at >= $4 AND +occurred_at <= $5 "
                                             "ORDER BY last_seen_at DESC LIMIT 1";
// + "($2, $3, $4, $5), ...) AS v WHERE alerts.id = v.column1": (id, captures, last seen, snapshots)
constexpr const char* kUpdateCaptures =
    "UPDATE alerts SET capture_count = CAST(v.column2 AS BIGINT), last_seen_at = CAST(v.column3 AS BIGINT), "
    "snapshot_count = CAST(v.column4 AS BIGINT), updated_at = $1 FROM (VALUES ";
constexpr const char* kSaveTransition =
    "UPDATE alerts SET state = $2, due_at = $3, overdue = $4, card = $5, next_card_at = $6, handled_at = $7, "
    "updated_at = $8 WHERE id = $1";
constexpr const char* kSnapshotCount = "SELECT snapshot_count FROM alerts WHERE id = $1";
constexpr const char* kBumpSnapshots = "UPDATE alerts SET snapshot_count = snapshot_count + 1 WHERE id = $1";
constexpr std::int64_t kSpanDays = 16;  // alert_unit_span: span = day / 16
constexpr std::int64_t kIngestLockKey = 7231003;

const std::vector<std::string> kAlertInsertCols = {
    "id",         "unit_id",    "jpath",        "camera_id",    "device_id",     "subject",        "type",
    "risk_class", "state",      "occurred_at",  "last_seen_at", "capture_count", "snapshot_count", "due_at",
    "overdue",    "card",       "next_card_at", "confidence",   "model",         "boxes",          "source",
    "created_at", "updated_at", "handled_at"};
const std::vector<std::string> kEventCols = {"id",       "alert_id",   "seq",        "type",    "at",
                                             "actor_id", "actor_name", "actor_role", "comment", "detail"};
const std::vector<std::string> kSnapshotCols = {"alert_id", "file_id", "at"};
const std::vector<std::string> kNotificationCols = {"id",    "user_id", "alert_id",  "topic",
                                                    "title", "body",    "created_at"};

Value opt(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return *s;
}
Value opt_time(const std::optional<TimeMs>& t) {
  if (!t) return nullptr;
  return *t;
}
Value opt_real(const std::optional<double>& d) {
  if (!d) return nullptr;
  return *d;
}

// Timeline order inside one millisecond: a process-wide counter that never goes back.
std::int64_t next_seq(TimeMs now) {
  static std::atomic<std::int64_t> counter{0};
  std::int64_t floor = now * 1000;
  std::int64_t cur = counter.load();
  for (;;) {
    std::int64_t next = std::max(cur + 1, floor);
    if (counter.compare_exchange_weak(cur, next)) return next;
  }
}

std::string class_label(int risk_class) {
  switch (risk_class) {
    case 1:
      return "一类预警";
    case 2:
      return "二类预警";
    default:
      return "三类预警";
  }
}

}  // namespace

std::vector<std::string> Recipients::all() const {
  std::vector<std::string> out = merchants;
  out.insert(out.end(), regulators.begin(), regulators.end());
  return out;
}

// An open alert known to this transaction: loaded for dedup, or created here.
struct AlertWriter::OpenAlert {
  Alert a;
  UnitRef unit;
  std::int64_t snapshot_count = 0;
  bool is_new = false;  // not yet inserted
  bool dirty = false;   // captures changed since loaded
};

struct OpenKeyState {
  std::vector<std::unique_ptr<AlertWriter::OpenAlert>> list;
  bool complete = false;  // every open alert of this key is in list (WriterCache only)
};

struct AlertWriter::Lookups {
  std::unordered_map<std::string, std::optional<UnitRef>> units;
  std::unordered_map<std::string, std::optional<CameraRef>> cameras;
  std::unordered_map<std::string, std::optional<DeviceRef>> devices;
  std::unordered_map<std::string, Recipients> recipients;
  std::unordered_map<std::string, OpenKeyState> open;  // by dedup key
  std::unordered_map<std::string, OpenAlert*> open_by_id;  // the same alerts, by id

  void clear_registry() {
    units.clear();
    cameras.clear();
    devices.clear();
    recipients.clear();
  }
};

namespace {
// Alert changes made by AlertWriters without a cache (transitions, the scheduler, ...).
std::atomic<std::uint64_t> g_alert_changes{0};
// The registry tables a writer's lookups read.
constexpr std::string_view kWatchedTables[] = {"units", "cameras", "devices", "users", "user_units", "jurisdictions"};
constexpr size_t kMaxCachedKeys = 200000;  // beyond, start afresh (memory bound)

std::uint64_t registry_generation() {
  std::uint64_t g = 0;
  for (auto t : kWatchedTables) g += storage::table_generation(t);
  return g;
}
}  // namespace

struct WriterCache::Impl {
  AlertWriter::Lookups look;
  std::uint64_t alert_changes = 0;
  std::uint64_t registry = 0;
  TimeMs registry_since = 0;  // when the registry lookups were last dropped
};

WriterCache::WriterCache() : impl_(std::make_unique<Impl>()) {}
WriterCache::~WriterCache() = default;
void WriterCache::clear() {
  impl_->look.clear_registry();
  impl_->look.open.clear();
  impl_->look.open_by_id.clear();
}
size_t WriterCache::open_keys() const { return impl_->look.open.size(); }

struct AlertWriter::Buffers {
  std::vector<OpenAlert*> new_alerts;  // in creation order
  std::vector<OpenAlert*> dirty;       // loaded alerts with captures not yet written
  std::vector<Params> events, snapshots, notifications;
  std::vector<notify::OutboxEvent> outbox;
  std::vector<audit::Entry> audit;
  // (jpath, day, type, class) → (created, handled); (jpath, day, unit) → (created, handled)
  std::map<std::tuple<std::string, std::int64_t, std::string, int>, std::pair<std::int64_t, std::int64_t>> daily;
  std::map<std::tuple<std::string, std::int64_t, std::string>, std::pair<std::int64_t, std::int64_t>> unit_daily;
  std::map<std::tuple<std::string, std::int64_t, std::string>, std::pair<std::int64_t, std::int64_t>> unit_span;
};

AlertWriter::AlertWriter(storage::Connection& c, const AlertsConfig& cfg, const Clock& clock,
                         const audit::AuditLog& audit, WriterCache* cache)
    : c_(c),
      cfg_(cfg),
      audit_(audit),
      now_(clock.now_ms()),
      buf_(std::make_unique<Buffers>()),
      cache_(cache),
      own_(cache ? nullptr : std::make_unique<Lookups>()),
      look_(cache ? cache->impl_->look : *own_) {
  if (!cache_) return;
  WriterCache::Impl& k = *cache_->impl_;
  std::uint64_t reg = registry_generation();
  if (reg != k.registry || now_ - k.registry_since >= WriterCache::kRegistryTtl || now_ < k.registry_since) {
    look_.clear_registry();
    k.registry = reg;
    k.registry_since = now_;
  }
  std::uint64_t changes = g_alert_changes.load();
  if (changes != k.alert_changes || look_.open.size() > kMaxCachedKeys) {
    look_.open.clear();
    look_.open_by_id.clear();
    k.alert_changes = changes;
  }
}

void AlertWriter::changed_elsewhere() {
  if (!cache_) g_alert_changes.fetch_add(1);
}

AlertWriter::~AlertWriter() = default;

void AlertWriter::lock_ingest() {
  if (locked_ || c_.dialect() != storage::Dialect::kPostgres) return;
  c_.query("SELECT pg_advisory_xact_lock($1)", {kIngestLockKey});
  locked_ = true;
}

std::optional<UnitRef> AlertWriter::unit(const std::string& id) {
  auto it = look_.units.find(id);
  if (it != look_.units.end()) return it->second;
  std::optional<UnitRef> u;
  storage::Rows rows = c_.query(kSelectUnit, {id});
  if (!rows.empty()) u = UnitRef{rows[0].text(0), rows[0].text(1), rows[0].text(2), rows[0].text(3)};
  look_.units.emplace(id, u);
  return u;
}

std::optional<CameraRef> AlertWriter::camera(const std::string& id) {
  auto it = look_.cameras.find(id);
  if (it != look_.cameras.end()) return it->second;
  std::optional<CameraRef> cam;
  storage::Rows rows = c_.query(kSelectCamera, {id});
  if (!rows.empty()) cam = CameraRef{rows[0].text(0), rows[0].text(1), rows[0].text(2), rows[0].text(3)};
  look_.cameras.emplace(id, cam);
  return cam;
}

std::optional<DeviceRef> AlertWriter::device(const std::string& id) {
  auto it = look_.devices.find(id);
  if (it != look_.devices.end()) return it->second;
  std::optional<DeviceRef> d;
  storage::Rows rows = c_.query(kSelectDevice, {id});
  if (!rows.empty()) {
    d = DeviceRef{rows[0].text(0), rows[0].text(1), rows[0].text(2), rows[0].text(3), rows[0].text(4), rows[0].text(5)};
  }
  look_.devices.emplace(id, d);
  return d;
}

void AlertWriter::mark_online(const std::string& id) {
  if (auto it = look_.cameras.find(id); it != look_.cameras.end() && it->second) it->second->status = "online";
  if (auto it = look_.devices.find(id); it != look_.devices.end() && it->second) it->second->status = "online";
}

const Recipients& AlertWriter::recipients(const UnitRef& u) {
  auto it = look_.recipients.find(u.id);
  if (it != look_.recipients.end()) return it->second;
  Recipients r;
  for (const auto& row : c_.query(kSelectMerchants, {u.id})) r.merchants.push_back(row.text(0));
  std::vector<std::string> prefixes = detail::path_prefixes(u.jpath);
  if (!prefixes.empty()) {
    Params ps;
    std::string sql = kSelectRegulators + storage::in_list(ps, prefixes) + " ORDER BY u.id";
    for (const auto& row : c_.query(sql, ps)) r.regulators.push_back(row.text(0));
  }
  return look_.recipients.emplace(u.id, std::move(r)).first->second;
}

// kOpenColumns, in the order open_from_row reads them
std::unique_ptr<AlertWriter::OpenAlert> AlertWriter::open_from_row(const storage::Row& r) {
  auto o = std::make_unique<OpenAlert>();
  o->a.id = r.text(0);
  o->a.occurred_at = r.integer(1);
  o->a.last_seen_at = r.integer(2);
  o->a.capture_count = r.integer(3);
  o->snapshot_count = r.integer(4);
  o->a.risk_class = static_cast<int>(r.integer(5));
  o->a.state = parse_state(r.text(6)).value_or(AlertState::kOpen);
  o->a.jpath = r.text(7);
  o->a.camera_id = r.opt_text(8);
  o->a.device_id = r.opt_text(9);
  o->a.due_at = r.opt_integer(10);
  o->a.card = r.opt_text(11);
  o->a.confidence = r.is_null(12) ? std::nullopt : std::optional<double>(r.real(12));
  o->a.model = r.opt_text(13);
  o->a.boxes_json = r.text(14);
  o->a.source = r.text(15);
  o->a.created_at = r.integer(16);
  o->a.unit_id = r.text(17);
  o->a.type = r.text(19);
  return o;
}

void AlertWriter::remember_open(const storage::Row& r) {
  std::string key = r.text(17) + '\x1f' + r.text(18) + '\x1f' + r.text(19);
  auto& known = look_.open[key].list;
  for (auto& o : known) {
    if (o->a.id == r.text(0)) return;  // known, maybe changed in memory since
  }
  known.push_back(open_from_row(r));
  look_.open_by_id[known.back()->a.id] = known.back().get();
}

AlertWriter::OpenAlert* AlertWriter::find_open(const std::string& unit_id, const std::string& subject,
                                               const std::string& type, TimeMs t) {
  std::string key = unit_id + '\x1f' + subject + '\x1f' + type;
  TimeMs w = cfg_.dedup_window_ms;
  auto fits = [&](const OpenAlert& o) {
    return (o.a.state == AlertState::kOpen || o.a.state == AlertState::kSubmitted) && o.a.occurred_at - w <= t &&
           t <= o.a.last_seen_at + w;
  };
  OpenKeyState& known = look_.open[key];  // a reference that survives rehashing
  auto best_known = [&]() -> OpenAlert* {
    OpenAlert* best = nullptr;
    for (auto& o : known.list) {
      if (fits(*o) && (!best || o->a.last_seen_at > best->a.last_seen_at)) best = o.get();
    }
    return best;
  };
  if (OpenAlert* best = best_known()) return best;
  if (known.complete) return nullptr;
  // prefetch() loaded every candidate of this unit for events this late
  auto pre = prefetched_.find(unit_id);
  if (pre != prefetched_.end() && t >= pre->second) return nullptr;
  if (cache_) {
    // every open alert of the key, so the cache can answer the next events of this key alone
    for (const auto& r : c_.query(kFindAllOpen, {unit_id, subject, type})) remember_open(r);
    known.complete = true;
    return best_known();
  }
  storage::Rows rows =
      c_.query(kFindOpen + detail::for_update(c_), {unit_id, subject, type, t - w, t + w});
  if (rows.empty()) return nullptr;
  remember_open(rows[0]);
  return best_known();
}

void AlertWriter::prefetch(const std::vector<std::string>& camera_ids, const std::vector<std::string>& device_ids,
                           const std::vector<std::string>& unit_ids, std::optional<TimeMs> earliest_event) {
  // "SELECT ... WHERE col IN (...)" over ids not cached yet, kMaxInList at a time
  auto each_chunk = [&](const std::vector<std::string>& ids, auto&& cached, const std::string& head,
                        const std::string& tail, auto&& on_row) {
    std::vector<std::string> todo;
    std::set<std::string> seen;
    for (const auto& id : ids) {
      if (!cached(id) && seen.insert(id).second) todo.push_back(id);
    }
    storage::for_each_chunk(todo, [&](const std::vector<std::string>& chunk) {
      Params ps;
      std::string sql = head + storage::in_list(ps, chunk) + tail;
      for (const auto& r : c_.query(sql, ps)) on_row(r);
    });
    return todo;
  };
  auto cams = each_chunk(
      camera_ids, [&](const std::string& id) { return look_.cameras.contains(id); },
      "SELECT id, unit_id, name, status FROM cameras WHERE deleted_at IS NULL AND id IN ", "",
      [&](const storage::Row& r) {
        look_.cameras[r.text(0)] = CameraRef{r.text(0), r.text(1), r.text(2), r.text(3)};
      });
  for (const auto& id : cams) look_.cameras.try_emplace(id, std::nullopt);
  auto devs = each_chunk(
      device_ids, [&](const std::string& id) { return look_.devices.contains(id); },
      "SELECT id, unit_id, name, kind, thresholds, status FROM devices WHERE deleted_at IS NULL AND id IN ", "",
      [&](const storage::Row& r) {
        look_.devices[r.text(0)] = DeviceRef{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5)};
      });
  for (const auto& id : devs) look_.devices.try_emplace(id, std::nullopt);

  std::vector<std::string> units = unit_ids;
  for (const auto& id : camera_ids) {
    if (auto it = look_.cameras.find(id); it != look_.cameras.end() && it->second) units.push_back(it->second->unit_id);
  }
  for (const auto& id : device_ids) {
    if (auto it = look_.devices.find(id); it != look_.devices.end() && it->second) units.push_back(it->second->unit_id);
  }
  auto us = each_chunk(
      units, [&](const std::string& id) { return look_.units.contains(id); },
      "SELECT id, jpath, name, jurisdiction_id FROM units WHERE deleted_at IS NULL AND id IN ", "",
      [&](const storage::Row& r) {
        look_.units[r.text(0)] = UnitRef{r.text(0), r.text(1), r.text(2), r.text(3)};
      });
  for (const auto& id : us) look_.units.try_emplace(id, std::nullopt);

  // recipients of every live unit not known yet: two queries, the same answer as recipients()
  std::vector<const UnitRef*> live;  // live units whose recipients are not known yet
  std::set<std::string> live_ids;    // every live unit of the batch
  for (const auto& id : units) {
    auto it = look_.units.find(id);
    if (it == look_.units.end() || !it->second || !live_ids.insert(id).second) continue;
    if (!look_.recipients.contains(id)) live.push_back(&*it->second);
  }
  if (!live.empty()) {
    std::map<std::string, Recipients> found;
    std::vector<std::string> ids;
    std::set<std::string> prefixes;
    for (const UnitRef* u : live) {
      ids.push_back(u->id);
      found[u->id];
      for (auto& p : detail::path_prefixes(u->jpath)) prefixes.insert(p);
    }
    each_chunk(
        ids, [](const std::string&) { return false; },
        "SELECT uu.unit_id, uu.user_id FROM user_units uu JOIN users u ON u.id = uu.user_id "
        "WHERE u.disabled = 0 AND u.role = 'merchant' AND uu.unit_id IN ",
        " ORDER BY uu.unit_id, uu.user_id",
        [&](const storage::Row& r) { found[r.text(0)].merchants.push_back(r.text(1)); });
    std::map<std::string, std::vector<std::string>> regulators_at;  // node path → regulator ids
    each_chunk(
        std::vector<std::string>(prefixes.begin(), prefixes.end()), [](const std::string&) { return false; },
        "SELECT j.path, u.id FROM users u JOIN jurisdictions j ON j.id = u.jurisdiction_id "
        "WHERE u.role = 'regulator' AND u.disabled = 0 AND j.path IN ",
        "", [&](const storage::Row& r) { regulators_at[r.text(0)].push_back(r.text(1)); });
    for (const UnitRef* u : live) {
      Recipients& rc = found[u->id];
      for (auto& p : detail::path_prefixes(u->jpath)) {
        auto it = regulators_at.find(p);
        if (it != regulators_at.end()) rc.regulators.insert(rc.regulators.end(), it->second.begin(), it->second.end());
      }
      std::sort(rc.regulators.begin(), rc.regulators.end());
      look_.recipients[u->id] = std::move(rc);
    }
  }

  // every open alert of these units that an event this late could fold into (PostgreSQL only:
  // there a lookup is a round trip; SQLite's per-key index lookups are cheaper than the rows)
  if (earliest_event && c_.dialect() == storage::Dialect::kPostgres) {
    TimeMs since = *earliest_event - cfg_.dedup_window_ms;
    std::vector<std::string> todo;
    for (const auto& id : live_ids) {
      auto pre = prefetched_.find(id);
      if (pre == prefetched_.end() || pre->second > *earliest_event) todo.push_back(id);
    }
    storage::for_each_chunk(todo, [&](const std::vector<std::string>& chunk) {
      Params ps{since};
      std::string sql = std::string(kOpenColumns) +
                        " FROM alerts WHERE state IN ('open', 'submitted') AND last_seen_at >= $1 AND unit_id IN " +
                        storage::in_list(ps, chunk) + detail::for_update(c_);
      for (const auto& r : c_.query(sql, ps)) remember_open(r);
      for (const auto& id : chunk) prefetched_[id] = *earliest_event;
    });
  }
}

RaiseOutcome AlertWriter::raise(const UnitRef& unit, const AlertDraft& d) {
  const AlertType* type = cfg_.find_type(d.type);
  int risk_class = type ? type->risk_class : 2;
  std::string subject = d.camera_id ? *d.camera_id : d.device_id ? *d.device_id : std::string();
  json::object ev_detail;
  auto detail_of_event = [&] {
    if (!d.event_id.empty()) ev_detail["event_id"] = d.event_id;
    if (d.confidence) ev_detail["confidence"] = *d.confidence;
  };

  if (OpenAlert* o = find_open(unit.id, subject, d.type, d.occurred_at)) {
    o->a.capture_count += 1;
    o->a.last_seen_at = std::max(o->a.last_seen_at, d.occurred_at);
    o->a.updated_at = now_;
    if (!o->dirty) buf_->dirty.push_back(o);
    o->dirty = true;
    if (d.snapshot_file_id && o->snapshot_count < kMaxSnapshotsPerAlert) {
      buf_->snapshots.push_back({o->a.id, *d.snapshot_file_id, now_});
      if (o->is_new) o->a.snapshot_ids.push_back(*d.snapshot_file_id);
      o->snapshot_count += 1;
    }
    // the first kTimelineCaptures captures are listed in the timeline (see model.hpp)
    if (o->a.capture_count <= kTimelineCaptures) {
      detail_of_event();
      ev_detail["capture_count"] = o->a.capture_count;
      ev_detail["occurred_at"] = format_rfc3339(d.occurred_at, cfg_.utc_offset_minutes);
      std::optional<std::string> comment;
      if (o->a.capture_count == kTimelineCaptures) comment = "此后的抓拍只计数，不再逐条列出";
      event(o->a.id, "merged", d.actor, comment, json::serialize(ev_detail));
    }
    return {o->a.id, true};
  }

  auto o = std::make_unique<OpenAlert>();
  Alert& a = o->a;
  a.id = ordered_id("alert", now_);
  a.unit_id = unit.id;
  a.jpath = unit.jpath;
  a.camera_id = d.camera_id;
  a.device_id = d.device_id;
  a.type = d.type;
  a.risk_class = risk_class;
  a.state = AlertState::kOpen;
  a.occurred_at = d.occurred_at;
  a.last_seen_at = d.occurred_at;
  a.capture_count = 1;
  a.due_at = cfg_.due_at(risk_class, now_);
  a.confidence = d.confidence;
  a.model = d.model;
  a.boxes_json = d.boxes_json.empty() ? "[]" : d.boxes_json;
  a.source = d.source;
  a.created_at = now_;
  a.updated_at = now_;
  o->unit = unit;
  o->is_new = true;
  if (d.snapshot_file_id) {
    a.snapshot_ids.push_back(*d.snapshot_file_id);
    buf_->snapshots.push_back({a.id, *d.snapshot_file_id, now_});
    o->snapshot_count = 1;
  }

  detail_of_event();
  event(a.id, "created", d.actor, std::nullopt, json::serialize(ev_detail));
  const Recipients& rcp = recipients(unit);
  std::vector<std::string> everyone = rcp.all();
  notify_alert(everyone, a, unit, "alert.created", class_label(risk_class));
  bool sms = risk_class == 1;
  json::object notified{{"merchants", rcp.merchants.size()}, {"regulators", rcp.regulators.size()}, {"sms", sms}};
  event(a.id, "notified", Actor::system(),
        "已推送 " + std::to_string(rcp.merchants.size()) + " 名商户用户、" + std::to_string(rcp.regulators.size()) +
            " 名监管人员" + (sms ? "，并发送短信/语音" : ""),
        json::serialize(notified));
  outbox_alert("alert.created", unit, a, d.actor, std::nullopt, sms);
  json::object audit_detail{{"type", a.type}, {"unit_id", a.unit_id}, {"risk_class", a.risk_class}};
  if (!d.event_id.empty()) audit_detail["event_id"] = d.event_id;
  audit(d.actor, "alert.create", "alert:" + a.id, json::serialize(audit_detail), d.audit_source);

  auto day = static_cast<std::int64_t>(local_day(a.occurred_at, cfg_.utc_offset_minutes));
  // one rollup row per jurisdiction level ("/" and every ancestor), so a scope reads its own rows
  buf_->daily[{"/", day, a.type, a.risk_class}].first += 1;
  for (const auto& prefix : detail::path_prefixes(a.jpath)) buf_->daily[{prefix, day, a.type, a.risk_class}].first += 1;
  buf_->unit_daily[{a.jpath, day, a.unit_id}].first += 1;
  buf_->unit_span[{a.jpath, day / kSpanDays, a.unit_id}].first += 1;

  std::string key = unit.id + '\x1f' + subject + '\x1f' + d.type;
  buf_->new_alerts.push_back(o.get());
  std::string id = a.id;
  look_.open_by_id[id] = o.get();
  look_.open[key].list.push_back(std::move(o));
  changed_elsewhere();
  return {id, false};
}

void AlertWriter::write_new_alerts() {
  std::vector<Params> rows;
  for (OpenAlert* o : buf_->new_alerts) {
    const Alert& a = o->a;
    std::string subject = a.camera_id ? *a.camera_id : a.device_id ? *a.device_id : std::string();
    std::optional<TimeMs> next_card = next_card_at(a, cfg_);
    rows.push_back({a.id,
                    a.unit_id,
                    a.jpath,
                    opt(a.camera_id),
                    opt(a.device_id),
                    subject,
                    a.type,
                    std::int64_t{a.risk_class},
                    std::string(state_name(a.state)),
                    a.occurred_at,
                    a.last_seen_at,
                    a.capture_count,
                    o->snapshot_count,
                    opt_time(a.due_at),
                    std::int64_t{a.overdue ? 1 : 0},
                    opt(a.card),
                    opt_time(next_card),
                    opt_real(a.confidence),
                    opt(a.model),
                    a.boxes_json,
                    a.source,
                    a.created_at,
                    a.updated_at,
                    opt_time(a.handled_at)});
    o->is_new = false;
    o->dirty = false;
  }
  buf_->new_alerts.clear();
  insert_rows(c_, "alerts", kAlertInsertCols, rows);
}

std::optional<Alert> AlertWriter::load_for_update(const std::string& id) {
  write_new_alerts();  // an alert raised earlier in this transaction must be visible
  storage::Rows rows = c_.query(
      std::string("SELECT ") + detail::kAlertColumns + " FROM alerts a WHERE a.id = $1" + detail::for_update(c_), {id});
  if (rows.empty()) return std::nullopt;
  Alert a = detail::alert_from_row(rows[0]);
  // captures folded in by this transaction and not yet written
  if (auto it = look_.open_by_id.find(id); it != look_.open_by_id.end() && it->second->dirty) {
    a.capture_count = it->second->a.capture_count;
    a.last_seen_at = it->second->a.last_seen_at;
  }
  detail::load_snapshots(c_, {&a});
  return a;
}

void AlertWriter::save(const Alert& after) {
  changed_elsewhere();
  c_.exec(kSaveTransition,
          {after.id, std::string(state_name(after.state)), opt_time(after.due_at), std::int64_t{after.overdue ? 1 : 0},
           opt(after.card), opt_time(next_card_at(after, cfg_)), opt_time(after.handled_at), now_});
  if (auto it = look_.open_by_id.find(after.id); it != look_.open_by_id.end()) {
    OpenAlert* o = it->second;
    o->a.state = after.state;
    o->a.card = after.card;
    o->a.due_at = after.due_at;
  }
}

void AlertWriter::count_handled(const Alert& a) {
  auto day = static_cast<std::int64_t>(local_day(a.occurred_at, cfg_.utc_offset_minutes));
  buf_->daily[{"/", day, a.type, a.risk_class}].second += 1;
  for (const auto& prefix : detail::path_prefixes(a.jpath))
    buf_->daily[{prefix, day, a.type, a.risk_class}].second += 1;
  buf_->unit_daily[{a.jpath, day, a.unit_id}].second += 1;
  buf_->unit_span[{a.jpath, day / kSpanDays, a.unit_id}].second += 1;
}

void AlertWriter::record_transition(const UnitRef& u, const Alert& after, const Transition& t) {
  save(after);
  for (const TimelineNote& n : t.timeline) event(after.id, n.type, t.actor, n.comment, n.detail_json);
  if (t.handled) count_handled(after);
  audit(t.actor, t.audit_action, "alert:" + after.id, t.audit_detail, t.audit_source);
  outbox_alert(t.topic, u, after, t.actor, t.comment, t.sms);
  const Recipients& r = recipients(u);
  const std::vector<std::string> everyone = t.audience == Audience::kEveryone ? r.all() : std::vector<std::string>{};
  notify_alert(t.audience == Audience::kMerchants    ? r.merchants
               : t.audience == Audience::kRegulators ? r.regulators
                                                     : everyone,
               after, u, t.topic, t.headline);
}

void AlertWriter::event(const std::string& alert_id, const std::string& type, const Actor& actor,
                        const std::optional<std::string>& comment, std::string detail_json) {
  buf_->events.push_back({ordered_id("aev", now_), alert_id, next_seq(now_), type, now_,
                          actor.id.empty() ? Value(nullptr) : Value(actor.id), actor.name, actor.role, opt(comment),
                          detail_json.empty() ? Value(nullptr) : Value(std::move(detail_json))});
}

void AlertWriter::audit(const Actor& actor, const std::string& action, const std::string& target, std::string detail,
                        const std::string& source) {
  audit::Entry e;
  e.actor_id = actor.id;
  e.actor = actor.name;
  e.role = actor.role;
  e.action = action;
  e.target = target;
  e.source = source;
  e.detail = std::move(detail);
  buf_->audit.push_back(std::move(e));
}

void AlertWriter::outbox_alert(const std::string& topic, const UnitRef& u, const Alert& a,
                               const std::optional<Actor>& actor, const std::optional<std::string>& comment, bool sms) {
  json::object payload;
  payload["alert"] = alert_to_json(a, cfg_);
  if (actor) payload["actor"] = actor_to_json(*actor);
  if (comment) payload["comment"] = *comment;
  outbox_raw(topic, u, std::move(payload), sms);
}

void AlertWriter::outbox_raw(const std::string& topic, const UnitRef& u, json::object payload, bool sms) {
  buf_->outbox.push_back(notify::make_event(topic, notify::EventUnit{u.id, u.name, u.jurisdiction_id, u.jpath},
                                            std::move(payload), sms, now_, cfg_.utc_offset_minutes));
}

void AlertWriter::notify(const std::vector<std::string>& user_ids, const std::optional<std::string>& alert_id,
                         const std::string& topic, const std::string& title, const std::string& body) {
  for (const auto& uid : user_ids) {
    buf_->notifications.push_back({ordered_id("ntf", now_), uid, opt(alert_id), topic, title, body, now_});
  }
}

void AlertWriter::notify_alert(const std::vector<std::string>& user_ids, const Alert& a, const UnitRef& u,
                               const std::string& topic, const std::string& what) {
  if (user_ids.empty()) return;
  const AlertType* t = cfg_.find_type(a.type);
  std::string title = "【" + what + "】" + (t ? t->name_zh : a.type);
  std::string body = u.name;
  if (a.camera_id) {
    if (auto cam = camera(*a.camera_id)) body += " · " + cam->name;
  } else if (a.device_id) {
    if (auto dev = device(*a.device_id)) body += " · " + dev->name;
  }
  body += " · " + format_rfc3339(a.occurred_at, cfg_.utc_offset_minutes);
  notify(user_ids, a.id, topic, title, body);
}

void AlertWriter::add_snapshot(const std::string& alert_id, const std::string& file_id) {
  storage::Rows rows = c_.query(kSnapshotCount, {alert_id});
  if (rows.empty() || rows[0].integer(0) >= kMaxSnapshotsPerAlert) return;
  changed_elsewhere();
  c_.exec(kBumpSnapshots, {alert_id});
  buf_->snapshots.push_back({alert_id, file_id, now_});
}

void AlertWriter::write_audit() {
  audit_.append_all(c_, buf_->audit, now_);
  buf_->audit.clear();
}

// (id, captures, last seen, snapshots) rows in UPDATE ... FROM (VALUES ...) statements of up
// to 64 rows, sized in powers of two like insert_rows.
void AlertWriter::write_captures_batched(const std::vector<Params>& captures) {
  for (size_t i = 0; i < captures.size();) {
    size_t n = 64;
    while (n > captures.size() - i) n /= 2;
    std::string sql = kUpdateCaptures;
    Params ps{now_};
    for (size_t r = 0; r < n; ++r) {
      sql += r ? ", (" : "(";
      for (size_t k = 0; k < 4; ++k) {
        ps.push_back(captures[i + r][k]);
        sql += (k ? ", $" : "$") + std::to_string(ps.size());
      }
      sql += ")";
    }
    c_.exec(sql + ") AS v WHERE alerts.id = v.column1", ps);
    i += n;
  }
}

void AlertWriter::flush() {
  write_new_alerts();
  // captures folded into existing alerts: on SQLite one cached single-row UPDATE each, on
  // PostgreSQL one UPDATE ... FROM (VALUES ...) per 64 alerts (a round trip each)
  std::vector<Params> captures;
  for (OpenAlert* o : buf_->dirty) {
    if (!o->dirty) continue;  // written since (write_new_alerts)
    captures.push_back({o->a.id, o->a.capture_count, o->a.last_seen_at, o->snapshot_count});
    o->dirty = false;
  }
  buf_->dirty.clear();
  if (c_.dialect() == storage::Dialect::kSqlite) {
    for (const Params& cap : captures) {
      c_.exec("UPDATE alerts SET capture_count = $2, last_seen_at = $3, snapshot_count = $4, updated_at = $5 "
              "WHERE id = $1",
              {cap[0], cap[1], cap[2], cap[3], now_});
    }
  } else {
    write_captures_batched(captures);
  }
  insert_rows(c_, "alert_events", kEventCols, buf_->events);
  insert_rows(c_, "alert_snapshots", kSnapshotCols, buf_->snapshots);
  insert_rows(c_, "notifications", kNotificationCols, buf_->notifications);
  notify::append_outbox(c_, buf_->outbox);
  buf_->events.clear();
  buf_->snapshots.clear();
  buf_->notifications.clear();
  buf_->outbox.clear();
  const char* kAdd =
      " DO UPDATE SET created = {t}.created + excluded.created, handled = {t}.handled + excluded.handled";
  auto upsert = [&](const std::string& table, const std::vector<std::string>& cols, const std::string& key,
                    const std::vector<Params>& rows) {
    std::string add = kAdd;
    for (size_t pos; (pos = add.find("{t}")) != std::string::npos;) add.replace(pos, 3, table);
    insert_rows(c_, table, cols, rows, " ON CONFLICT (" + key + ")" + add);
  };
  std::vector<Params> rows;
  for (const auto& [k, v] : buf_->daily) {
    rows.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), std::int64_t{std::get<3>(k)}, v.first, v.second});
  }
  upsert("alert_daily", {"jpath", "day", "type", "risk_class", "created", "handled"}, "jpath, day, type, risk_class",
         rows);
  rows.clear();
  for (const auto& [k, v] : buf_->unit_daily)
    rows.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), v.first, v.second});
  upsert("alert_unit_daily", {"jpath", "day", "unit_id", "created", "handled"}, "jpath, day, unit_id", rows);
  rows.clear();
  for (const auto& [k, v] : buf_->unit_span)
    rows.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), v.first, v.second});
  upsert("alert_unit_span", {"jpath", "span", "unit_id", "created", "handled"}, "jpath, span, unit_id", rows);
  buf_->daily.clear();
  buf_->unit_daily.clear();
  buf_->unit_span.clear();
  write_audit();
  // Registry rows this transaction changed itself (cameras and devices seen online) are in
  // the lookups already (mark_online); no other connection can write while it holds the
  // write lock, so every change counted so far is its own.
  if (cache_) cache_->impl_->registry = registry_generation();
}

std::optional<TimeMs> next_card_at(const Alert& a, const AlertsConfig& cfg) {
  if (a.risk_class != 1 || (a.state != AlertState::kOpen && a.state != AlertState::kSubmitted)) return std::nullopt;
  if (!a.card) return a.created_at + cfg.yellow_card_days * kDayMs;
  if (*a.card == "yellow") return a.created_at + cfg.red_card_days * kDayMs;
  return std::nullopt;
}

json::object actor_to_json(const Actor& a) {
  return json::object{
      {"id", a.id.empty() ? json::value(nullptr) : json::value(a.id)}, {"name", a.name}, {"role", a.role}};
}

json::object alert_to_json(const Alert& a, const AlertsConfig& cfg) {
  auto t = [&](TimeMs ms) { return json::value(format_rfc3339(ms, cfg.utc_offset_minutes)); };
  auto ot = [&](const std::optional<TimeMs>& ms) { return ms ? t(*ms) : json::value(nullptr); };
  const AlertType* type = cfg.find_type(a.type);
  json::array snaps;
  for (const auto& s : a.snapshot_ids) snaps.emplace_back(s);
  json::value boxes = json::array();
  if (!a.boxes_json.empty()) {
    auto parsed = parse_value(a.boxes_json);
    if (parsed) boxes = std::move(*parsed);
  }
  json::object o{{"id", a.id},
                 {"unit_id", a.unit_id},
                 {"camera_id", a.camera_id ? json::value(*a.camera_id) : json::value(nullptr)},
                 {"device_id", a.device_id ? json::value(*a.device_id) : json::value(nullptr)},
                 {"type", a.type},
                 {"type_name_zh", type ? type->name_zh : a.type},
                 {"type_name_en", type ? type->name_en : a.type},
                 {"risk_class", a.risk_class},
                 {"state", state_name(a.state)},
                 {"occurred_at", t(a.occurred_at)},
                 {"last_seen_at", t(a.last_seen_at)},
                 {"capture_count", a.capture_count},
                 {"due_at", ot(a.due_at)},
                 {"overdue", a.overdue},
                 {"card", a.card ? json::value(*a.card) : json::value(nullptr)},
                 {"confidence", a.confidence ? json::value(*a.confidence) : json::value(nullptr)},
                 {"model", a.model ? json::value(*a.model) : json::value(nullptr)},
                 {"boxes", std::move(boxes)},
                 {"snapshot_ids", std::move(snaps)},
                 {"created_at", t(a.created_at)},
                 {"updated_at", t(a.updated_at)},
                 {"handled_at", ot(a.handled_at)}};
  return o;
}

registry::UnitPathHook rollup_path_hook(int utc_offset_minutes) {
  registry::UnitPathHook h;
  h.table = "alert_daily";
  h.move = [utc_offset_minutes](storage::Connection& c, const std::string& unit_id, const std::string& old_path,
                                const std::string& new_path) {
    g_alert_changes.fetch_add(1);  // cached open alerts carry the old path
    auto old_levels = detail::path_prefixes(old_path), new_levels = detail::path_prefixes(new_path);
    std::vector<std::string> leave, join;
    for (const auto& l : old_levels)
      if (std::find(new_levels.begin(), new_levels.end(), l) == new_levels.end()) leave.push_back(l);
    for (const auto& l : new_levels)
      if (std::find(old_levels.begin(), old_levels.end(), l) == old_levels.end()) join.push_back(l);
    if (leave.empty() && join.empty()) return;
    // the day as local_day() computes it (occurred_at is never before 1970 here)
    storage::Rows counts = c.query(
        "SELECT (occurred_at + $2) / $3, type, risk_class, COUNT(*), "
        "SUM(CASE WHEN handled_at IS NULL THEN 0 ELSE 1 END) FROM alerts WHERE unit_id = $1 "
        "GROUP BY (occurred_at + $2) / $3, type, risk_class",
        {unit_id, static_cast<std::int64_t>(utc_offset_minutes) * kMinuteMs, kDayMs});
    for (const auto& r : counts) {
      for (const auto& l : leave) {
        c.exec(
            "UPDATE alert_daily SET created = created - $5, handled = handled - $6 "
            "WHERE jpath = $1 AND day = $2 AND type = $3 AND risk_class = $4",
            {l, r.integer(0), r.text(1), r.integer(2), r.integer(3), r.integer(4)});
      }
      for (const auto& l : join) {
        c.exec(
            "INSERT INTO alert_daily (jpath, day, type, risk_class, created, handled) VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (jpath, day, type, risk_class) DO UPDATE SET "
            "created = alert_daily.created + excluded.created, handled = alert_daily.handled + excluded.handled",
            {l, r.integer(0), r.text(1), r.integer(2), r.integer(3), r.integer(4)});
      }
    }
    for (const auto& l : leave) {
      c.exec("DELETE FROM alert_daily WHERE jpath = $1 AND created <= 0 AND handled <= 0", {l});
    }
  };
  return h;
}

}  // namespace mingchu::alerts
