// The other ledgers (seed 001 §6.2.2–6.2.6, §6.4, §7.2–7.4): process records, after-meal
// records, people, equipment, lab tests and self-inspections. Each is a family of record
// kinds whose fields are declared once in ledgers.cpp (name, type, bounds, whether required);
// a record is validated against its kind at the edge, stored as one op_records row with its
// fields as JSON, and judged abnormal by its kind's rule (a core temperature under 70 °C, a
// morning check with fever, a failed rapid test, a self-inspection item not passed…).
// A failed self-inspection also raises a class-3 `self_check_failed` alert through the alert
// loop (rectification and review), in the same transaction.
//
// Scope, roles and failures as in operations.hpp. Thread safety: as Operations.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "alerts/alerts_config.hpp"
#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "operations/model.hpp"
#include "storage/database.hpp"

namespace mingchu::operations {

struct LedgerConfig {
  double min_core_temp_c = 70;    // §6.2.2.3 / 操作规范: cooked food's core ≥ 70 °C
  double fever_c = 37.3;          // 晨检: a temperature at or above this fails
  double cooled_max_c = 8;        // §6.2.6: cooled food ends at or below 8 °C…
  int cooling_max_minutes = 240;  // …within four hours
  int disinfection_min_minutes = 10;
  int utc_offset_minutes = 480;
};

// One record of a ledger.
struct LedgerRecord {
  std::string id, unit_id, jpath, ledger, kind;
  json::object fields;
  std::optional<std::string> device_id;
  bool abnormal = false;
  std::optional<std::string> alert_id;  // the alert a failed self-inspection raised
  TimeMs at = 0;                        // when it happened
  std::string created_by;
  TimeMs created_at = 0;
};

struct LedgerInput {
  std::string unit_id, kind;
  json::object fields;  // validated against the kind
  std::optional<std::string> device_id;
  std::optional<TimeMs> at;
};

struct LedgerFilter : ListFilter {
  std::optional<std::string> kind;
  std::optional<bool> abnormal;
};

// The ledgers and their kinds, for routes and the console.
struct LedgerInfo {
  std::string ledger;  // route segment: process-records, after-meal-records, …
  std::vector<std::string> kinds;
};
const std::vector<LedgerInfo>& ledgers();
// The JSON description of every kind (fields, types, bounds), for forms.
json::array ledger_schema();

// Parses a POST body for a ledger: {unit_id, kind, at?, device_id?, ...fields of the kind}.
// Unknown kinds, unknown fields, out-of-range numbers are kInvalid naming the field.
Result<LedgerInput> parse_ledger_record(std::string_view ledger, const json::object& body);

json::object to_json(const LedgerRecord& r, int utc_offset_minutes);

class Ledgers {
 public:
  // alerts may be null: then a failed self-inspection raises no alert (unit tests of other
  // ledgers); the platform always passes its configuration.
  Ledgers(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, const alerts::AlertsConfig* alerts,
          LedgerConfig config = {});

  Result<LedgerRecord> create(const auth::Principal& p, std::string_view ledger, const LedgerInput& in);
  Result<LedgerRecord> get(const auth::Principal& p, std::string_view ledger, std::string_view id);
  Result<Page<LedgerRecord>> list(const auth::Principal& p, std::string_view ledger, const LedgerFilter& f,
                                  PageRequest page);
  // Abnormal records of the last `days` days in scope, as warnings.
  std::vector<Warning> warnings(const auth::Principal& p, const ListFilter& f, int days);

  const LedgerConfig& config() const { return config_; }

 private:
  bool judge_abnormal(const std::string& kind, const json::object& fields) const;

  storage::Database& db_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
  const alerts::AlertsConfig* alerts_;
  LedgerConfig config_;
};

}  // namespace mingchu::operations
