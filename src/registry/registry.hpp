// The registry (档案): the jurisdiction tree, catering units, their cameras and their staff
// with health certificates — every read and write scoped to the calling Principal.
//
// Scope and roles (API.md "Conventions"):
//   - platform_admin: everything.
//   - regulator: the units (and their cameras and staff) whose jurisdiction lies in the
//     subtree of the regulator's node. Jurisdiction nodes: the subtree and the node's
//     ancestors (read only, to render the path). Creates and edits nodes strictly below
//     their own node, never provinces or cities.
//   - merchant: their own units. Reads them, PATCHes them (not jurisdiction_id or rating),
//     reads their cameras, manages their staff; never creates or deletes units or cameras.
// An object outside the caller's scope is kNotFound, exactly as one that does not exist;
// kForbidden is only for what the caller can see but their role may not do. Ids that are not
// plausible_id() are kNotFound without touching storage. References inside a body (a
// jurisdiction_id, a unit_id, a file id) that do not resolve inside the scope are kInvalid
// naming the field, with the same message whether or not the object exists.
//
// Personal data: a staff member's id number and phone are stored only encrypted with the
// FieldCipher (id numbers also as a blind index for equality search). Answers carry them in
// full to platform admins and the merchant users of the staff's unit, masked to everyone
// else. They never appear in logs or audit details.
//
// Writes run in one transaction with their audit entry. Unique conflicts (USCC, codes) are
// kConflict. Database failures are thrown as storage::DbError (the request is over).
//
// Thread safety: a Registry holds only references and its config; every method may be called
// from any thread at once. It does not own the database, clock, audit log or cipher, which
// must outlive it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "crypto/field_cipher.hpp"
#include "registry/model.hpp"
#include "registry/unit_paths.hpp"
#include "storage/database.hpp"

namespace mingchu::registry {

namespace detail {
struct StaffRow;
}

struct RegistryConfig {
  int cert_expiring_days = 30;   // 临期: a certificate expiring within this many days
  int utc_offset_minutes = 480;  // local time for "today" and for formatting
};

class Registry {
 public:
  Registry(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, const crypto::FieldCipher& cipher,
           RegistryConfig config = {});

  // ---- jurisdictions
  Result<Jurisdiction> create_jurisdiction(const auth::Principal& p, const JurisdictionInput& in);
  Result<Jurisdiction> get_jurisdiction(const auth::Principal& p, std::string_view id);
  Result<Page<Jurisdiction>> list_jurisdictions(const auth::Principal& p, const JurisdictionFilter& f,
                                                PageRequest page);
  Result<Jurisdiction> update_jurisdiction(const auth::Principal& p, std::string_view id, const JurisdictionPatch& in);
  // kConflict "has_children" / "has_units" / "in_use" while anything still refers to the node.
  Status delete_jurisdiction(const auth::Principal& p, std::string_view id);

  // ---- units
  Result<Unit> create_unit(const auth::Principal& p, const UnitInput& in);
  Result<Unit> get_unit(const auth::Principal& p, std::string_view id);
  Result<Page<Unit>> list_units(const auth::Principal& p, const UnitFilter& f, PageRequest page);
  // A move to another jurisdiction rewrites the path on every row of the unit (UnitPaths).
  Result<Unit> update_unit(const auth::Principal& p, std::string_view id, const UnitInput& in);
  // Soft delete: the unit and every row of it with deleted_at (cameras, devices, staff, ...)
  // get deleted_at, its API keys are revoked, in one transaction (UnitPaths::retire).
  Status delete_unit(const auth::Principal& p, std::string_view id);
  // For the public disclosure page (no caller): the live unit behind a QR token.
  Result<Unit> unit_by_disclosure_token(std::string_view token);

  // ---- cameras
  Result<Camera> create_camera(const auth::Principal& p, const CameraInput& in);
  Result<Camera> get_camera(const auth::Principal& p, std::string_view id);
  Result<Page<Camera>> list_cameras(const auth::Principal& p, const CameraFilter& f, PageRequest page);
  Result<Camera> update_camera(const auth::Principal& p, std::string_view id, const CameraInput& in);
  Status delete_camera(const auth::Principal& p, std::string_view id);

  // ---- staff and health certificates
  Result<Staff> create_staff(const auth::Principal& p, const StaffInput& in);
  Result<Staff> get_staff(const auth::Principal& p, std::string_view id);
  Result<Page<Staff>> list_staff(const auth::Principal& p, const StaffFilter& f, PageRequest page);
  Result<Staff> update_staff(const auth::Principal& p, std::string_view id, const StaffInput& in);
  Status delete_staff(const auth::Principal& p, std::string_view id);
  // 健康证查询: certificates in scope, soonest expiry first (then staff id).
  Result<Page<HealthCertRow>> list_health_certs(const auth::Principal& p, const HealthCertFilter& f, PageRequest page);

  // The local calendar day now (days since 1970-01-01), and a certificate's status on it.
  int today() const;
  CertStatus cert_status(std::optional<int> expires_on, int today) const;
  const RegistryConfig& config() const { return config_; }
  // Where modules that keep rows with a unit's path register their hooks (at assembly only).
  UnitPaths& unit_paths() { return unit_paths_; }

 private:
  Result<Jurisdiction> visible_jurisdiction(storage::Connection& c, const auth::Principal& p, std::string_view id);
  Result<std::string> subtree_path(storage::Connection& c, const auth::Principal& p, std::string_view jurisdiction_id);
  // Checks that the caller may give the file (an image) to the unit, and gives it.
  Status claim_file(storage::Connection& c, const auth::Principal& p, const std::string& field,
                    const std::string& file_id, const std::string& unit_id, const std::string& unit_jpath);
  Status claim_unit_files(storage::Connection& c, const auth::Principal& p, const Unit& u);
  Staff present_staff(const auth::Principal& p, const detail::StaffRow& row, int today) const;

  storage::Database& db_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
  const crypto::FieldCipher& cipher_;
  RegistryConfig config_;
  UnitPaths unit_paths_;
};

}  // namespace mingchu::registry
