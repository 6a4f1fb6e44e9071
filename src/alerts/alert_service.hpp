// AlertService: the alert lifecycle (处置闭环) as the people in the loop drive it — queries in
// scope, rectification by the unit (整改反馈), review by the regulator (复核: approve → closed,
// reject → open with the comment), dismissal as a false positive (误报, kept as a label for
// model improvement), enforcement documents (三书一函) — and each user's notification inbox.
//
// Scope (API.md "Conventions"): an alert belongs to its unit; a caller sees it when
// Principal::covers(alert.jpath, alert.unit_id). An alert outside the scope is kNotFound,
// exactly as one that does not exist. Roles: rectify — merchant users of the unit; review,
// dismiss, add_document — regulators and platform admins whose scope covers the unit; API
// keys do none of these (kForbidden). A transition the state machine does not allow is
// kConflict "illegal_transition" naming both states.
//
// Every transition runs in one transaction with: the new state, its timeline event(s), an
// audit entry, an outbox row `alert.updated` (docs/push-schema.md) and notifications to the
// other side (a rectification goes to the regulators; a review or dismissal to the unit's
// merchant users). See AlertWriter.
//
// Threads: every method may be called from any thread at once; state lives in the database.
// The service holds references to the database, clock and audit log, which must outlive it,
// and owns its (immutable) AlertsConfig. Database failures throw storage::DbError.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/alerts_config.hpp"
#include "alerts/model.hpp"
#include "alerts/writer.hpp"
#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "storage/database.hpp"

namespace mingchu::alerts {

inline constexpr size_t kMaxRectificationChars = 2000;
inline constexpr size_t kMaxRectificationPhotos = 9;
inline constexpr size_t kMaxCommentChars = 2000;

// The actor a principal is in timelines and payloads.
Actor actor_of(const auth::Principal& p);

class AlertService {
 public:
  AlertService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, AlertsConfig config);

  const AlertsConfig& config() const { return config_; }
  const Clock& clock() const { return clock_; }
  const audit::AuditLog& audit_log() const { return audit_; }
  storage::Database& db() { return db_; }

  // ---- queries
  // Newest first (occurred_at, then id). kInvalid "jurisdiction_id" for a node outside scope.
  Result<Page<Alert>> list(const auth::Principal& p, const AlertFilter& f, PageRequest page);
  Result<AlertDetail> get(const auth::Principal& p, std::string_view id);
  // The same list for exports: keyset pages after `after` (exclusive), no total, no snapshots.
  Result<std::vector<Alert>> list_after(const auth::Principal& p, const AlertFilter& f,
                                        const std::optional<AlertCursor>& after, int limit);

  // ---- transitions
  // open → submitted. text 1..2000 chars; photo_ids ≤ 9 image files the caller may read
  // (they become the unit's files, so its regulators can see them).
  Result<Alert> rectify(const auth::Principal& p, std::string_view id, const RectificationInput& in);
  // submitted → closed (approve) or → open (reject; a comment is required).
  Result<Alert> review(const auth::Principal& p, std::string_view id, const ReviewInput& in);
  // open | submitted → dismissed (a false positive; reason 1..2000 chars).
  Result<Alert> dismiss(const auth::Principal& p, std::string_view id, const std::string& reason);
  // An enforcement document attached by a regulator (any state): kind of kDocumentKinds,
  // number 1..64 chars, issued_on a day, file_id an image or PDF the caller may read.
  Result<EnforcementDocument> add_document(const auth::Principal& p, std::string_view id, const DocumentInput& in);

  // The same transitions inside the caller's transaction, on its AlertWriter (which the
  // caller flushes), e.g. to replay a history with a clock of its own. Nothing is written
  // when they fail.
  Result<Alert> rectify(AlertWriter& w, const auth::Principal& p, std::string_view id, const RectificationInput& in);
  Result<Alert> review(AlertWriter& w, const auth::Principal& p, std::string_view id, const ReviewInput& in);
  Result<Alert> dismiss(AlertWriter& w, const auth::Principal& p, std::string_view id, const std::string& reason);

  // ---- inbox (dual push)
  // The caller's notifications, newest first; unread_total counts all unread ones.
  Result<Page<Notification>> notifications(const auth::Principal& p, bool unread_only, PageRequest page,
                                           std::int64_t& unread_total);
  // kNotFound unless the notification is the caller's. Marking twice is harmless.
  Result<Notification> mark_read(const auth::Principal& p, std::string_view id);

  // ---- labels for model improvement
  // Dismissed alerts in scope (dismissed in [from, to)), oldest first, at most limit.
  Result<std::vector<FalsePositiveLabel>> false_positives(const auth::Principal& p, std::optional<TimeMs> from,
                                                          std::optional<TimeMs> to, int limit);

 private:
  struct Loaded;
  template <typename Fn>
  auto in_writer(Fn&& fn);
  // The WHERE clause of a filter. jpath_seek false writes the jurisdiction-path, state and
  // overdue conditions so that no index serves them ((jpath || '')): the database then walks
  // the time index newest first and stops after a page, instead of sorting every alert of a
  // wide scope.
  Result<std::string> where_of(storage::Connection& c, const auth::Principal& p, const AlertFilter& f,
                               storage::Params& ps, bool jpath_seek = true);
  Result<Loaded> load_in_scope(AlertWriter& w, const auth::Principal& p, std::string_view id);

  storage::Database& db_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
  AlertsConfig config_;
};

}  // namespace mingchu::alerts
