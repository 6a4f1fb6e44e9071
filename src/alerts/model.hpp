// The supervision loop's vocabulary: alerts (预警) with their state machine, timeline events,
// rectifications (整改反馈), enforcement documents (三书一函), notifications (推送) and the
// typed inputs and filters of AlertService. Plain values with no behaviour.
//
// States (API.md "Alerts"): open → submitted → closed; submitted → open on reject;
// open|submitted → dismissed. closed and dismissed are final. Times are epoch ms.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace mingchu::alerts {

enum class AlertState { kOpen, kSubmitted, kClosed, kDismissed };
std::string_view state_name(AlertState s);
std::optional<AlertState> parse_state(std::string_view s);

// Who did something: a user, an API key, a transport or the platform itself.
struct Actor {
  std::string id;    // user id, api key id, "" for the system
  std::string name;  // display name / key name / "system"
  std::string role;  // platform_admin | regulator | merchant | api_key | system
  static Actor system() { return Actor{"", "system", "system"}; }
};

struct Alert {
  std::string id;
  std::string unit_id;
  std::string jpath;  // the unit's jurisdiction path when raised: the alert's scope
  std::optional<std::string> camera_id;
  std::optional<std::string> device_id;
  std::string type;
  int risk_class = 2;
  AlertState state = AlertState::kOpen;
  TimeMs occurred_at = 0;   // the first capture
  TimeMs last_seen_at = 0;  // the latest capture folded in
  std::int64_t capture_count = 1;
  std::optional<TimeMs> due_at;  // rectification deadline (classes with one)
  bool overdue = false;
  std::optional<std::string> card;  // yellow | red (class 1)
  std::optional<double> confidence;
  std::optional<std::string> model;
  std::string boxes_json = "[]";
  std::vector<std::string> snapshot_ids;  // oldest first, at most kMaxSnapshotsPerAlert
  std::string source;                     // "key:<id>", "user:<id>", "mqtt:...", "system"
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  std::optional<TimeMs> handled_at;  // closed or dismissed
};

inline constexpr int kMaxSnapshotsPerAlert = 20;
// The timeline lists an alert's first captures one by one (`merged` events); later captures
// only count (capture_count, last_seen_at) and keep their receipt (ingest_receipts), so an
// all-day violation seen every few seconds does not bury the timeline — or the writer.
inline constexpr std::int64_t kTimelineCaptures = 20;

// One entry of an alert's timeline: created, merged, notified, rectification_submitted,
// approved, rejected, dismissed, overdue, card_yellow, card_red, document, closed.
struct TimelineEvent {
  std::string type;
  TimeMs at = 0;
  Actor actor;
  std::optional<std::string> comment;
  std::string detail_json;  // small JSON object, "" when none
};

struct Rectification {
  std::string id;
  std::string text;
  std::vector<std::string> photo_ids;
  std::string submitted_by;
  TimeMs submitted_at = 0;
};

// 三书一函: 责令整改通知书, 行政处罚决定书, 询问通知书, 监督意见书/函.
inline constexpr std::string_view kDocumentKinds[] = {"rectification_order", "penalty_decision", "inquiry_notice",
                                                      "supervision_letter"};

struct EnforcementDocument {
  std::string id;
  std::string alert_id;
  std::string kind;
  std::string number;  // the document's official number, e.g. 通市监责改〔2026〕12号
  int issued_on = 0;   // day number
  std::optional<std::string> file_id;
  std::string created_by;
  TimeMs created_at = 0;
};

struct AlertDetail {
  Alert alert;
  std::string unit_name;
  std::vector<TimelineEvent> events;  // oldest first
  std::vector<Rectification> rectifications;
  std::vector<EnforcementDocument> documents;
};

struct AlertFilter {
  std::optional<std::string> jurisdiction_id;  // the node's subtree (must itself be in scope)
  std::optional<std::string> unit_id;
  std::optional<std::string> camera_id;
  std::optional<std::string> type;
  std::optional<int> risk_class;
  std::optional<AlertState> state;
  std::optional<std::string> card;  // yellow | red
  std::optional<bool> overdue;
  std::optional<TimeMs> from, to;  // occurred_at in [from, to)
};

// A position in the alert list's order (occurred_at DESC, id DESC), for keyset pages.
struct AlertCursor {
  TimeMs occurred_at = 0;
  std::string id;
};

struct PageRequest {
  int page = 1;
  int page_size = 20;
  std::int64_t offset() const { return static_cast<std::int64_t>(page - 1) * page_size; }
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::int64_t total = 0;
};

struct RectificationInput {
  std::string text;                    // 1..2000 chars
  std::vector<std::string> photo_ids;  // ≤ 9 images readable by the caller
};

struct ReviewInput {
  bool approve = false;
  std::string comment;  // required to reject
};

struct DocumentInput {
  std::string kind;
  std::string number;
  int issued_on = 0;
  std::optional<std::string> file_id;
};

struct Notification {
  std::string id;
  std::optional<std::string> alert_id;
  std::string topic;  // alert.created | alert.updated | alert.card | cert.expiring | cert.expired
  std::string title;
  std::string body;
  TimeMs created_at = 0;
  std::optional<TimeMs> read_at;
};

// A dismissed alert kept as a label (误报样本) for improving the models.
struct FalsePositiveLabel {
  std::string alert_id;
  std::string type;
  std::string unit_id;
  std::optional<std::string> camera_id;
  std::vector<std::string> snapshot_ids;
  std::string reason;
  std::optional<std::string> model;
  std::string boxes_json;
  TimeMs occurred_at = 0;
  TimeMs dismissed_at = 0;
};

}  // namespace mingchu::alerts
