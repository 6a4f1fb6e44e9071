#include "registry/registry.hpp"

#include "core/text.hpp"
#include "core/time.hpp"
#include "registry/internal.hpp"

namespace mingchu::registry {

namespace detail {

std::string contains_pattern(std::string_view text) {
  std::string lower(text);
  for (char& ch : lower) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return "%" + storage::like_escape(lower) + "%";
}

std::vector<std::string> path_ids(std::string_view path) { return split_nonempty(path, '/'); }

std::string fields_detail(const std::vector<std::string>& fields, json::object extra) {
  json::array a;
  for (const auto& f : fields) a.emplace_back(f);
  extra["fields"] = std::move(a);
  return json::serialize(extra);
}

}  // namespace detail

Registry::Registry(storage::Database& db, const Clock& clock, const audit::AuditLog& audit,
                   const crypto::FieldCipher& cipher, RegistryConfig config)
    : db_(db), clock_(clock), audit_(audit), cipher_(cipher), config_(config) {}

int Registry::today() const { return local_day(clock_.now_ms(), config_.utc_offset_minutes); }

CertStatus Registry::cert_status(std::optional<int> expires_on, int today) const {
  if (!expires_on) return CertStatus::kMissing;
  if (*expires_on < today) return CertStatus::kExpired;
  if (*expires_on - today <= config_.cert_expiring_days) return CertStatus::kExpiring;
  return CertStatus::kValid;
}

}  // namespace mingchu::registry
