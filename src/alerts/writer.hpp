// AlertWriter: everything the supervision loop writes inside ONE transaction — raising or
// merging alerts (dedup), state transitions, timeline events, audit entries, outbox rows and
// notifications (dual push), snapshot links and statistics rollups — so that a state change
// and everything that records and announces it commit or vanish together.
//
// One AlertWriter per transaction, on the transaction's connection, used by one thread. It
// caches what it looked up (units, cameras, devices, recipients, open alerts) for the
// transaction's lifetime and buffers append-only rows, writing them with multi-row INSERTs
// at flush(): a group-commit batch of a thousand events costs tens of statements, not
// thousands. flush() MUST be called before the transaction commits; a writer destroyed
// without flush() writes nothing more (its transaction should then roll back).
//
// Dedup (API.md "Ingest"): an event of the same unit, subject (camera, else device, else
// none) and type folds into an alert that is open or submitted when
//     alert.occurred_at - window <= event.occurred_at <= alert.last_seen_at + window
// (window = AlertsConfig::dedup_window_ms); the most recently seen such alert wins. A fold
// adds a capture (capture_count + 1, last_seen_at = max), keeps the snapshot (up to
// kMaxSnapshotsPerAlert per alert) and, for the alert's first kTimelineCaptures captures, writes a
// `merged` timeline event; it sends no push.
// On PostgreSQL the candidate alert is locked (FOR UPDATE) and raise() is meant to run in a
// transaction that holds the ingest advisory lock (see lock_ingest()), so two nodes never
// create two alerts for one dedup key.
//
// Failure: database errors are thrown as storage::DbError (the transaction is over).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "alerts/alerts_config.hpp"
#include "alerts/model.hpp"
#include "audit/audit_log.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "registry/unit_paths.hpp"
#include "storage/database.hpp"
#include "storage/sql.hpp"

namespace mingchu::alerts {

struct UnitRef {
  std::string id;
  std::string jpath;
  std::string name;
  std::string jurisdiction_id;
};

struct CameraRef {
  std::string id;
  std::string unit_id;
  std::string name;
  std::string status;
};

struct DeviceRef {
  std::string id;
  std::string unit_id;
  std::string name;
  std::string kind;
  std::string thresholds_json;
  std::string status;
};

// The users an alert of a unit is pushed to (双推送): the unit's merchant users, and the
// regulators whose jurisdiction node is the unit's or one of its ancestors.
struct Recipients {
  std::vector<std::string> merchants;
  std::vector<std::string> regulators;
  std::vector<std::string> all() const;
};

// An event about to become an alert (or a capture of one), its unit already resolved.
struct AlertDraft {
  std::optional<std::string> camera_id;
  std::optional<std::string> device_id;
  std::string type;
  TimeMs occurred_at = 0;
  std::optional<double> confidence;
  std::optional<std::string> model;
  std::string boxes_json = "[]";
  std::optional<std::string> snapshot_file_id;  // a files row already linked to the unit
  std::string source;                           // stored as alerts.source
  Actor actor;                                  // recorded in the timeline and the audit log
  std::string audit_source;                     // remote address or transport, for the audit log
  std::string event_id;                         // the sender's id, recorded in the timeline; may be empty
};

// Who is told of a transition in the inbox (the outbox row goes to every channel anyway).
enum class Audience { kMerchants, kRegulators, kEveryone };

// One timeline entry of a transition.
struct TimelineNote {
  std::string type;  // e.g. "approved", "closed", "overdue"
  std::optional<std::string> comment;
  std::string detail_json;  // "" for none
};

// A state change of an alert and everything that records and announces it (record_transition).
struct Transition {
  Actor actor;
  std::vector<TimelineNote> timeline;  // in order
  bool handled = false;                // closed or dismissed now: counted in the statistics rollups
  std::string audit_action;            // e.g. "alert.dismiss"
  std::string audit_detail;            // "" for none
  std::string audit_source;            // remote address, "" for the system
  std::string topic = "alert.updated";  // outbox and notification topic
  std::optional<std::string> comment;  // carried by the outbox payload
  bool sms = false;                    // the outbox row also goes to SMS/voice
  Audience audience = Audience::kEveryone;
  std::string headline;  // the notification's 【...】, e.g. "整改逾期"
};

struct RaiseOutcome {
  std::string alert_id;
  bool merged = false;
};

// What one writer thread — the ingest writer — keeps across its transactions on SQLite, whose
// writers serialise (BEGIN IMMEDIATE) but are not all in this process: the units, cameras,
// devices and recipients it looked up, and every open alert of each dedup key it has seen (so a fold costs no query).
// It stays true because (a) the registry tables it read are watched (storage::
// table_generation: any change, committed or not, drops those lookups) and (b) every alert
// change made by another AlertWriter of this process bumps a counter that drops the open
// alerts. Both are checked when a writer starts, inside its transaction (BEGIN IMMEDIATE:
// no other writer runs meanwhile). Another process writing the registry (`mingchu admin
// create-user`, a second tool) is not seen by (a): registry lookups are also dropped when
// they are older than kRegistryTtl by the writer's clock, so such a change is seen within it.
// After a transaction that did not commit, clear() it.
// Not for PostgreSQL, where other nodes write too.
class WriterCache {
 public:
  WriterCache();
  ~WriterCache();
  WriterCache(const WriterCache&) = delete;
  WriterCache& operator=(const WriterCache&) = delete;
  void clear();
  size_t open_keys() const;
  static constexpr TimeMs kRegistryTtl = 5 * kSecondMs;

 private:
  friend class AlertWriter;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class AlertWriter {
 public:
  // cache: see WriterCache (the caller's transaction must have begun).
  AlertWriter(storage::Connection& c, const AlertsConfig& cfg, const Clock& clock, const audit::AuditLog& audit,
              WriterCache* cache = nullptr);
  ~AlertWriter();
  AlertWriter(const AlertWriter&) = delete;
  AlertWriter& operator=(const AlertWriter&) = delete;

  storage::Connection& conn() { return c_; }
  const AlertsConfig& config() const { return cfg_; }
  // The transaction's time: read once, so every row of the transaction agrees.
  TimeMs now() const { return now_; }

  // On PostgreSQL, serialises ingest transactions across nodes (pg_advisory_xact_lock) so
  // dedup decisions never race; a no-op on SQLite, whose BEGIN IMMEDIATE already does.
  void lock_ingest();

  // Cached lookups of live (not deleted) objects; nullopt when absent.
  std::optional<UnitRef> unit(const std::string& id);
  std::optional<CameraRef> camera(const std::string& id);
  std::optional<DeviceRef> device(const std::string& id);
  const Recipients& recipients(const UnitRef& u);
  // The caller set this camera's or device's status to online in this transaction: the
  // lookups say so too (with a WriterCache they outlive the transaction).
  void mark_online(const std::string& camera_or_device_id);
  // Loads in a few queries (500 ids each) what a batch will look up one by one: the cameras,
  // devices and units, the units' recipients, and (with earliest_event) every open alert of
  // those units that an event occurring at or after earliest_event could fold into (on
  // PostgreSQL only, locked). Each saved lookup is a round trip on PostgreSQL. Optional.
  void prefetch(const std::vector<std::string>& camera_ids, const std::vector<std::string>& device_ids,
                const std::vector<std::string>& unit_ids, std::optional<TimeMs> earliest_event);

  // Raises a new alert (created + notified events, dual push, outbox alert.created with
  // sms for class 1, audit alert.create) or folds the draft into an open one (see above).
  // The type must be in the taxonomy (the caller checked).
  RaiseOutcome raise(const UnitRef& unit, const AlertDraft& d);

  // ---- transitions (service, scheduler)
  // The alert, locked for update on PostgreSQL; nullopt when it does not exist.
  std::optional<Alert> load_for_update(const std::string& id);
  // Writes state, due/overdue, card, handled_at and updated_at of `after`, and when its next
  // card is due (next_card_at).
  void save(const Alert& after);
  // Records a handled alert (closed or dismissed) in the statistics rollups.
  void count_handled(const Alert& a);
  // The one sequence every transition of an alert (service, scheduler, ingest) goes through:
  // save(after) → timeline entries → rollups (when handled) → audit entry → outbox row →
  // notifications to the audience among the unit's recipients.
  void record_transition(const UnitRef& u, const Alert& after, const Transition& t);

  // ---- recording and announcing (buffered until flush)
  void event(const std::string& alert_id, const std::string& type, const Actor& actor,
             const std::optional<std::string>& comment = std::nullopt, std::string detail_json = "");
  void audit(const Actor& actor, const std::string& action, const std::string& target, std::string detail,
             const std::string& source = "");
  // An outbox row about an alert (payload: docs/push-schema.md).
  void outbox_alert(const std::string& topic, const UnitRef& u, const Alert& a, const std::optional<Actor>& actor,
                    const std::optional<std::string>& comment, bool sms);
  // An outbox row with a payload the caller built (certificate notices); id is filled in.
  void outbox_raw(const std::string& topic, const UnitRef& u, json::object payload, bool sms);
  void notify(const std::vector<std::string>& user_ids, const std::optional<std::string>& alert_id,
              const std::string& topic, const std::string& title, const std::string& body);
  // Notifications for an alert's change, to the given users (title names the type and unit).
  void notify_alert(const std::vector<std::string>& user_ids, const Alert& a, const UnitRef& u,
                    const std::string& topic, const std::string& what);
  // Links a snapshot file to an existing alert if it has room (kMaxSnapshotsPerAlert).
  void add_snapshot(const std::string& alert_id, const std::string& file_id);

  // Writes every buffered row. Call once, before commit.
  void flush();

  struct OpenAlert;
  struct Lookups;

 private:
  struct Buffers;
  OpenAlert* find_open(const std::string& unit_id, const std::string& subject, const std::string& type, TimeMs t);
  static std::unique_ptr<OpenAlert> open_from_row(const storage::Row& r);
  void remember_open(const storage::Row& r);
  void write_new_alerts();
  void write_captures_batched(const std::vector<storage::Params>& captures);
  void write_audit();

  void changed_elsewhere();

  storage::Connection& c_;
  const AlertsConfig& cfg_;
  const audit::AuditLog& audit_;  // every audit entry goes through it (flush)
  TimeMs now_;  // the clock, read once: every row of one batch carries the same time
  std::unique_ptr<Buffers> buf_;
  WriterCache* cache_;              // kept across transactions, or null
  std::unique_ptr<Lookups> own_;    // this transaction's, when there is no cache
  Lookups& look_;                   // units, cameras, devices, recipients, open alerts by dedup key
  std::unordered_map<std::string, TimeMs> prefetched_;  // unit → the earliest event its open alerts cover
  bool locked_ = false;
};

// Alert JSON as API.md lists it (and as the push payload carries it): times RFC 3339 in the
// configured offset, type_name_zh from the taxonomy.
json::object alert_to_json(const Alert& a, const AlertsConfig& cfg);
json::object actor_to_json(const Actor& a);

// When a class-1 alert that is not closed or dismissed gets its next card: yellow_card_days
// after it was raised, then red_card_days; nullopt when no card is due any more.
std::optional<TimeMs> next_card_at(const Alert& a, const AlertsConfig& cfg);

// Kept for callers written before storage::insert_rows existed (see storage/sql.hpp).
using storage::insert_rows;

// The registry's hook for alert_daily (one row per jurisdiction level, not per unit): when a
// unit moves, its alerts' counts leave the levels of old_path that new_path does not share and
// join the new ones, recomputed from the unit's alerts (which already carry new_path). Also
// drops what ingest writers hold of open alerts. utc_offset_minutes as in AlertsConfig.
registry::UnitPathHook rollup_path_hook(int utc_offset_minutes);

}  // namespace mingchu::alerts
