// The registry's JSON edge: request bodies into typed inputs, and registry values into the
// objects of API.md (ids as strings, times RFC 3339 with the deployment's UTC offset,
// dates YYYY-MM-DD).
//
// parse_* check the shape of every field (types, lengths, control characters, formats such
// as the unified social credit code check digit) and refuse unknown fields; rules that need
// the database, the clock or the caller are the Registry's. With patch = false (create) the
// required fields must be present and not null; with patch = true only the fields present
// change, and null clears an optional field (422 "not_clearable" for a required one).
// Failures are 422 naming the field (Error::field), e.g. "health_cert.expires_on".
//
// Pure functions, safe from any thread.
#pragma once

#include "core/json.hpp"
#include "core/result.hpp"
#include "registry/model.hpp"

namespace mingchu::registry {

Result<JurisdictionInput> parse_jurisdiction_create(const json::object& body);
Result<JurisdictionPatch> parse_jurisdiction_patch(const json::object& body);
Result<UnitInput> parse_unit_input(const json::object& body, bool patch);
Result<CameraInput> parse_camera_input(const json::object& body, bool patch);
Result<StaffInput> parse_staff_input(const json::object& body, bool patch);

json::object to_json(const Jurisdiction& j, int utc_offset_minutes);
json::object to_json(const Unit& u, int utc_offset_minutes);
json::object to_json(const Camera& c, int utc_offset_minutes);
json::object to_json(const Staff& s, int utc_offset_minutes);
json::object to_json(const HealthCertRow& r);

// Normalisations applied at the edge before validation (and before the blind index).
std::string ascii_upper(std::string_view s);

}  // namespace mingchu::registry
