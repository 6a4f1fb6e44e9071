// Information disclosure (信息公示): what a consumer sees after scanning a unit's QR code, and
// the complaints (投诉) they leave there, which land in the regulators' console.
//
// The public page shows only what is meant to be public: the unit's name, address, licences
// and rating, its public cameras, alert statistics when the unit's disclosure setting allows,
// and staff with masked names and certificate status. No login; the unguessable disclosure
// token is the only key. Complaints are rate-limited per source address (hashed, never
// stored in clear) and per unit, counted in the database so the limit holds across nodes;
// a complainant's contact is encrypted at rest.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <string>

#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "crypto/field_cipher.hpp"
#include "registry/registry.hpp"
#include "storage/database.hpp"

namespace mingchu::disclosure {

struct DisclosureConfig {
  int complaints_per_source_per_hour = 5;
  int complaints_per_unit_per_hour = 60;
  int utc_offset_minutes = 480;
};

struct Complaint {
  std::string id;
  std::string unit_id;
  std::string unit_name;
  std::string text;
  std::string contact;  // decrypted for regulators in scope; empty for merchants, always
  TimeMs created_at = 0;
  std::string state;  // new | handled
};

class DisclosureService {
 public:
  DisclosureService(storage::Database& db, const Clock& clock, registry::Registry& registry,
                    const crypto::FieldCipher& cipher, const audit::AuditLog& audit, DisclosureConfig config);

  // The public JSON of the unit behind token; 404 for unknown tokens.
  Result<json::object> public_unit(const std::string& token);
  // True when file_id is one of the unit's public images (licences, storefront).
  Result<std::string> public_file_unit(const std::string& token, const std::string& file_id);
  Result<Complaint> submit_complaint(const std::string& token, const std::string& text, const std::string& contact,
                                     const std::string& source_address);
  std::pair<std::vector<Complaint>, std::int64_t> list_complaints(const auth::Principal& p, int page, int page_size);
  Result<Complaint> mark_handled(const auth::Principal& p, const std::string& id);

 private:
  storage::Database& db_;
  const Clock& clock_;
  registry::Registry& registry_;
  const crypto::FieldCipher& cipher_;
  const audit::AuditLog& audit_;
  DisclosureConfig config_;
};

}  // namespace mingchu::disclosure
