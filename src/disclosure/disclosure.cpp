#include "disclosure/disclosure.hpp"

#include <algorithm>

#include "auth/auth_service.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "core/validate.hpp"
#include "crypto/sm3.hpp"

namespace mingchu::disclosure {
namespace {

constexpr std::string_view kContactContext = "complaints.contact";
constexpr const char* kPublicCameras =
    "SELECT id, name, area FROM cameras WHERE unit_id = $1 AND public = 1 AND deleted_at IS NULL ORDER BY channel, id";
constexpr const char* kPublicStaff =
    "SELECT name, position, cert_expires_on FROM staff WHERE unit_id = $1 AND deleted_at IS NULL ORDER BY name, id "
    "LIMIT 200";
constexpr const char* kAlertStats =
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state IN ('closed', 'dismissed') THEN 1 ELSE 0 END), 0) FROM alerts "
    "WHERE unit_id = $1 AND occurred_at >= $2";
constexpr const char* kCountBySource = "SELECT COUNT(*) FROM complaints WHERE source_hash = $1 AND created_at >= $2";
constexpr const char* kCountByUnit = "SELECT COUNT(*) FROM complaints WHERE unit_id = $1 AND created_at >= $2";
constexpr const char* kInsertComplaint =
    "INSERT INTO complaints (id, unit_id, jpath, text, contact_enc, source_hash, state, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, 'new', $7)";
constexpr const char* kComplaintColumns =
    "SELECT c.id, c.unit_id, u.name, c.text, c.contact_enc, c.created_at, c.state FROM complaints c "
    "JOIN units u ON u.id = c.unit_id";

std::string cert_status(std::optional<std::int64_t> expires, int today, int expiring_days) {
  if (!expires) return "missing";
  if (*expires < today) return "expired";
  if (*expires <= today + expiring_days) return "expiring";
  return "valid";
}

}  // namespace

DisclosureService::DisclosureService(storage::Database& db, const Clock& clock, registry::Registry& registry,
                                     const crypto::FieldCipher& cipher, const audit::AuditLog& audit,
                                     DisclosureConfig config)
    : db_(db), clock_(clock), registry_(registry), cipher_(cipher), audit_(audit), config_(config) {}

Result<json::object> DisclosureService::public_unit(const std::string& token) {
  if (!plausible_id(token)) return Error::not_found("unit");
  auto unit = registry_.unit_by_disclosure_token(token);
  if (!unit) return Error::not_found("unit");
  const registry::Unit& u = *unit;
  json::object o{{"name", u.name}, {"store_type", u.store_type}};
  if (u.address) o["address"] = *u.address;
  if (u.business_format) o["business_format"] = *u.business_format;
  if (u.licence_number) o["licence_number"] = *u.licence_number;
  if (u.filing_number) o["filing_number"] = *u.filing_number;
  if (u.rating) o["rating"] = *u.rating;
  json::array images;
  for (const auto& id : u.licence_image_ids) images.emplace_back(id);
  o["licence_image_ids"] = std::move(images);
  if (u.storefront_image_id) o["storefront_image_id"] = *u.storefront_image_id;
  storage::Conn c = db_.acquire();
  json::array cams;
  for (const auto& r : c->query(kPublicCameras, {u.id})) {
    cams.emplace_back(json::object{{"id", r.text(0)}, {"name", r.text(1)}, {"area", r.text(2)}});
  }
  o["public_cameras"] = std::move(cams);
  if (u.show_alert_stats) {
    TimeMs since = clock_.now_ms() - 30 * kDayMs;
    storage::Rows s = c->query(kAlertStats, {u.id, since});
    std::int64_t total = s[0].integer(0), handled = s[0].integer(1);
    o["alert_stats"] = json::object{{"last_30_days", total},
                                    {"handled", handled},
                                    {"handling_rate", total ? static_cast<double>(handled) / static_cast<double>(total) : 1.0}};
  } else {
    o["alert_stats"] = nullptr;
  }
  int today = local_day(clock_.now_ms(), config_.utc_offset_minutes);
  json::array staff;
  for (const auto& r : c->query(kPublicStaff, {u.id})) {
    json::object s{{"name_masked", mask_name(r.text(0))},
                   {"position", r.text(1)},
                   {"cert_status", cert_status(r.opt_integer(2), today, registry_.config().cert_expiring_days)}};
    if (auto e = r.opt_integer(2)) s["cert_expires_on"] = format_date(static_cast<int>(*e));
    staff.emplace_back(std::move(s));
  }
  o["staff"] = std::move(staff);
  return o;
}

Result<std::string> DisclosureService::public_file_unit(const std::string& token, const std::string& file_id) {
  if (!plausible_id(token) || !plausible_id(file_id)) return Error::not_found("file");
  auto unit = registry_.unit_by_disclosure_token(token);
  if (!unit) return Error::not_found("file");
  bool listed = std::find(unit->licence_image_ids.begin(), unit->licence_image_ids.end(), file_id) !=
                    unit->licence_image_ids.end() ||
                unit->storefront_image_id == file_id;
  if (!listed) return Error::not_found("file");
  return unit->id;
}

Result<Complaint> DisclosureService::submit_complaint(const std::string& token, const std::string& text,
                                                      const std::string& contact, const std::string& source_address) {
  if (!plausible_id(token)) return Error::not_found("unit");
  auto unit = registry_.unit_by_disclosure_token(token);
  if (!unit) return Error::not_found("unit");
  TimeMs now = clock_.now_ms();
  // the address is kept only as a keyed digest, enough to count, not to identify
  std::string source_hash = cipher_.blind_index("complaint-source:" + source_address);
  Complaint out;
  out.id = new_id("cmp");
  out.unit_id = unit->id;
  out.unit_name = unit->name;
  out.text = text;
  out.contact = contact;
  out.created_at = now;
  out.state = "new";
  Status limited = ok_status();
  db_.in_transaction([&](storage::Connection& c) {
    if (c.query(kCountBySource, {source_hash, now - kHourMs})[0].integer(0) >= config_.complaints_per_source_per_hour ||
        c.query(kCountByUnit, {unit->id, now - kHourMs})[0].integer(0) >= config_.complaints_per_unit_per_hour) {
      limited = Error{ErrorKind::kRateLimited, "too_many_complaints",
                      "提交过于频繁，请稍后再试 / too many complaints from here; try again later", {}};
      return;
    }
    c.exec(kInsertComplaint, {out.id, unit->id, unit->jpath, text,
                              contact.empty() ? storage::Value(nullptr) : storage::Value(cipher_.encrypt(contact, kContactContext)),
                              source_hash, now});
    audit_.append(c, audit::Entry{"", "public", "public", "complaint.create", "unit:" + unit->id, "", "ok",
                                  "complaint:" + out.id});
  });
  if (!limited) return limited.error();
  return out;
}

std::pair<std::vector<Complaint>, std::int64_t> DisclosureService::list_complaints(const auth::Principal& p, int page,
                                                                                   int page_size) {
  std::string where = " WHERE 1 = 1";
  storage::Params params;
  auth::append_scope(p, "c.jpath", "c.unit_id", where, params);
  storage::Conn c = db_.acquire();
  std::int64_t total = c->query("SELECT COUNT(*) FROM complaints c" + where, params)[0].integer(0);
  params.emplace_back(std::int64_t{page_size});
  params.emplace_back(std::int64_t{(page - 1) * page_size});
  std::vector<Complaint> out;
  for (const auto& r : c->query(std::string(kComplaintColumns) + where + " ORDER BY c.created_at DESC, c.id LIMIT $" +
                                    std::to_string(params.size() - 1) + " OFFSET $" + std::to_string(params.size()),
                                params)) {
    Complaint x;
    x.id = r.text(0);
    x.unit_id = r.text(1);
    x.unit_name = r.text(2);
    x.text = r.text(3);
    // The business complained about never learns who complained, whatever form the contact
    // took (a phone number, an e-mail address, a WeChat id, a name): merchants and their
    // unit-bound keys get no contact at all. Regulators in scope see it to follow up.
    if (auto enc = r.opt_text(4); enc && p.role != auth::Role::kMerchant) {
      auto plain = cipher_.decrypt(*enc, kContactContext);
      x.contact = plain ? *plain : std::string();
    }
    x.created_at = r.integer(5);
    x.state = r.text(6);
    out.push_back(std::move(x));
  }
  return {std::move(out), total};
}

Result<Complaint> DisclosureService::mark_handled(const auth::Principal& p, const std::string& id) {
  if (!plausible_id(id) || p.role == auth::Role::kMerchant) return Error::not_found("complaint");
  std::optional<Complaint> found;
  db_.in_transaction([&](storage::Connection& c) {
    std::string where = " WHERE c.id = $1";
    storage::Params params{id};
    auth::append_scope(p, "c.jpath", "c.unit_id", where, params);
    storage::Rows r = c.query(std::string(kComplaintColumns) + where, params);
    if (r.empty()) return;
    c.exec("UPDATE complaints SET state = 'handled' WHERE id = $1", {id});
    audit_.append(c, auth::audit_entry(p, "complaint.handle", "complaint:" + id));
    Complaint x;
    x.id = id;
    x.unit_id = r[0].text(1);
    x.unit_name = r[0].text(2);
    x.text = r[0].text(3);
    x.created_at = r[0].integer(5);
    x.state = "handled";
    found = x;
  });
  if (!found) return Error::not_found("complaint");
  return *found;
}

}  // namespace mingchu::disclosure
