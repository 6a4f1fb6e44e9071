#include "alerts/model.hpp"

#include <unordered_map>

#include "alerts/internal.hpp"

namespace mingchu::alerts {

std::string_view state_name(AlertState s) {
  switch (s) {
    case AlertState::kOpen:
      return "open";
    case AlertState::kSubmitted:
      return "submitted";
    case AlertState::kClosed:
      return "closed";
    case AlertState::kDismissed:
      return "dismissed";
  }
  return "open";
}

std::optional<AlertState> parse_state(std::string_view s) {
  if (s == "open") return AlertState::kOpen;
  if (s == "submitted") return AlertState::kSubmitted;
  if (s == "closed") return AlertState::kClosed;
  if (s == "dismissed") return AlertState::kDismissed;
  return std::nullopt;
}

namespace detail {

Alert alert_from_row(const storage::Row& r) {
  Alert a;
  a.id = r.text(0);
  a.unit_id = r.text(1);
  a.jpath = r.text(2);
  a.camera_id = r.opt_text(3);
  a.device_id = r.opt_text(4);
  a.type = r.text(5);
  a.risk_class = static_cast<int>(r.integer(6));
  a.state = parse_state(r.text(7)).value_or(AlertState::kOpen);
  a.occurred_at = r.integer(8);
  a.last_seen_at = r.integer(9);
  a.capture_count = r.integer(10);
  a.due_at = r.opt_integer(11);
  a.overdue = r.boolean(12);
  a.card = r.opt_text(13);
  if (!r.is_null(14)) a.confidence = r.real(14);
  a.model = r.opt_text(15);
  a.boxes_json = r.text(16);
  a.source = r.text(17);
  a.created_at = r.integer(18);
  a.updated_at = r.integer(19);
  a.handled_at = r.opt_integer(20);
  return a;
}

void load_snapshots(storage::Connection& c, std::vector<Alert*> alerts) {
  if (alerts.empty()) return;
  std::unordered_map<std::string, Alert*> by_id;
  std::vector<std::string> ids;
  for (Alert* a : alerts) {
    a->snapshot_ids.clear();
    if (by_id.emplace(a->id, a).second) ids.push_back(a->id);
  }
  storage::Params ps;
  std::string sql = "SELECT alert_id, file_id FROM alert_snapshots WHERE alert_id IN " + storage::in_list(ps, ids) +
                    " ORDER BY alert_id, at, file_id";
  for (const auto& row : c.query(sql, ps)) {
    auto it = by_id.find(row.text(0));
    if (it != by_id.end()) it->second->snapshot_ids.push_back(row.text(1));
  }
}

std::vector<std::string> path_prefixes(const std::string& path) {
  std::vector<std::string> out;
  for (size_t i = 1; i < path.size(); ++i) {
    if (path[i] == '/') out.push_back(path.substr(0, i + 1));
  }
  return out;
}

}  // namespace detail
}  // namespace mingchu::alerts
