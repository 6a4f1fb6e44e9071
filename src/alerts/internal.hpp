// Pieces shared by the alerts module's translation units; not part of its interface.
#pragma once

#include <string>
#include <vector>

#include "alerts/model.hpp"
#include "storage/database.hpp"
#include "storage/sql.hpp"

namespace mingchu::alerts::detail {

// The columns of an Alert, in the order alert_from_row reads them (prefix "a." when joined).
inline constexpr const char* kAlertColumns =
    "a.id, a.unit_id, a.jpath, a.camera_id, a.device_id, a.type, a.risk_class, a.state, a.occurred_at, "
    "a.last_seen_at, a.capture_count, a.due_at, a.overdue, a.card, a.confidence, a.model, a.boxes, a.source, "
    "a.created_at, a.updated_at, a.handled_at";
inline constexpr size_t kAlertColumnCount = 21;

Alert alert_from_row(const storage::Row& r);

// Fills snapshot_ids of each alert (one query per call).
void load_snapshots(storage::Connection& c, std::vector<Alert*> alerts);

using storage::for_update;

// The ancestors-or-self paths of a jurisdiction path: "/a/b/" → {"/a/", "/a/b/"}.
std::vector<std::string> path_prefixes(const std::string& path);

}  // namespace mingchu::alerts::detail
