// Staff (从业人员) and their health certificates (健康证). Id numbers and phones are stored
// only encrypted (SM4-GCM through FieldCipher); the id number also as a blind index so the
// same person is found again without decrypting anything.
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/validate.hpp"
#include "files/file_catalog.hpp"
#include "registry/internal.hpp"
#include "registry/json_io.hpp"
#include "registry/registry.hpp"

namespace mingchu::registry {

using detail::nullable;
using detail::Where;

namespace {

// Associated data of each encrypted column: a value copied into another column won't decrypt.
constexpr std::string_view kIdNumberContext = "staff.id_number";
constexpr std::string_view kPhoneContext = "staff.phone";

constexpr const char* kSelectStaff =
    "SELECT id, unit_id, jpath, name, id_number_enc, phone_enc, position, cert_number, cert_issued_on, "
    "cert_expires_on, cert_image_id, created_at, updated_at FROM staff";
constexpr const char* kInsertStaff =
    "INSERT INTO staff (id, unit_id, jpath, name, id_number_enc, id_number_index, phone_enc, position, cert_number, "
    "cert_issued_on, cert_expires_on, cert_image_id, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)";
constexpr const char* kUpdateStaff =
    "UPDATE staff SET name = $2, id_number_enc = $3, id_number_index = COALESCE($4, id_number_index), phone_enc = $5, "
    "position = $6, "
    "cert_number = $7, cert_issued_on = $8, cert_expires_on = $9, cert_image_id = $10, updated_at = $11 WHERE id = $1";
constexpr const char* kPersonInUnit =
    "SELECT 1 FROM staff WHERE unit_id = $1 AND id_number_index = $2 AND deleted_at IS NULL AND id <> $3";
constexpr const char* kSoftDeleteStaff = "UPDATE staff SET deleted_at = $2, updated_at = $2 WHERE id = $1";
constexpr const char* kSelectCerts =
    "SELECT s.id, s.name, s.position, s.unit_id, u.name, s.cert_number, s.cert_issued_on, s.cert_expires_on, "
    "s.cert_image_id FROM staff s JOIN units u ON u.id = s.unit_id";

storage::Value nullable_day(const std::optional<HealthCertificate>& c, int HealthCertificate::*field) {
  if (!c) return nullptr;
  return std::int64_t{(*c).*field};
}

Error staff_exists() {
  return Error::conflict("staff_exists", "this person is already registered as staff of the unit");
}

// The SQL condition for a certificate status on day `today`.
void add_status(Where& w, std::string_view col, CertStatus s, int today, int expiring_days) {
  std::string c(col);
  switch (s) {
    case CertStatus::kExpired:
      w.add(c + " < {}", std::int64_t{today});
      break;
    case CertStatus::kExpiring:
      w.add(c + " >= {} AND " + c + " <= {}", std::int64_t{today}, std::int64_t{today} + expiring_days);
      break;
    case CertStatus::kValid:
      w.add(c + " > {}", std::int64_t{today} + expiring_days);
      break;
    case CertStatus::kMissing:
      w.add_raw(c + " IS NULL");
      break;
  }
}

std::optional<HealthCertificate> cert_from(const storage::Row& r, size_t number, size_t issued, size_t expires,
                                           size_t image) {
  if (r.is_null(expires)) return std::nullopt;
  HealthCertificate hc;
  hc.number = r.text(number);
  hc.issued_on = static_cast<int>(r.integer(issued));
  hc.expires_on = static_cast<int>(r.integer(expires));
  hc.image_id = r.opt_text(image);
  return hc;
}

}  // namespace

// A staff row as stored: personal fields still encrypted.
struct detail::StaffRow {
  std::string id, unit_id, jpath, name;
  std::string id_number_enc;
  std::optional<std::string> phone_enc;
  std::optional<std::string> position;
  std::optional<HealthCertificate> cert;
  TimeMs created_at = 0, updated_at = 0;

  static StaffRow from(const storage::Row& r) {
    StaffRow s;
    s.id = r.text(0);
    s.unit_id = r.text(1);
    s.jpath = r.text(2);
    s.name = r.text(3);
    s.id_number_enc = r.text(4);
    s.phone_enc = r.opt_text(5);
    s.position = r.opt_text(6);
    s.cert = cert_from(r, 7, 8, 9, 10);
    s.created_at = r.integer(11);
    s.updated_at = r.integer(12);
    return s;
  }
};

Staff Registry::present_staff(const auth::Principal& p, const detail::StaffRow& row, int today) const {
  Staff s;
  s.id = row.id;
  s.unit_id = row.unit_id;
  s.jpath = row.jpath;
  s.name = row.name;
  s.position = row.position;
  s.cert = row.cert;
  s.created_at = row.created_at;
  s.updated_at = row.updated_at;
  s.cert_status = cert_status(row.cert ? std::optional<int>(row.cert->expires_on) : std::nullopt, today);
  if (row.cert) s.days_left = row.cert->expires_on - today;

  // In full for the platform operator and for the unit's own merchant users (who entered
  // it); masked for regulators (GB/T 35273: minimum exposure).
  s.personal_data_masked = !(p.is_admin() || (detail::unit_scoped(p) && p.covers(row.jpath, row.unit_id)));
  auto id_number = cipher_.decrypt(row.id_number_enc, kIdNumberContext);
  if (!id_number) {
    log::error("staff id number does not decrypt", {{"staff_id", row.id}, {"code", id_number.error().code}});
  }
  std::string id_clear = id_number ? *id_number : std::string();
  s.id_number = s.personal_data_masked ? mask_id_number(id_clear) : id_clear;
  if (row.phone_enc) {
    auto phone = cipher_.decrypt(*row.phone_enc, kPhoneContext);
    if (!phone) log::error("staff phone does not decrypt", {{"staff_id", row.id}, {"code", phone.error().code}});
    std::string phone_clear = phone ? *phone : std::string();
    s.phone = s.personal_data_masked ? mask_phone(phone_clear) : phone_clear;
  }
  return s;
}

namespace {

std::optional<detail::StaffRow> load_staff(storage::Connection& c, std::string_view id, bool lock) {
  storage::Rows rows =
      c.query(std::string(kSelectStaff) + " WHERE id = $1 AND deleted_at IS NULL" + (lock ? detail::for_update(c) : ""),
              {std::string(id)});
  if (rows.empty()) return std::nullopt;
  return detail::StaffRow::from(rows[0]);
}

std::vector<std::string> present_fields(const StaffInput& in) {
  std::vector<std::string> f;
  auto add = [&f](bool present, const char* name) {
    if (present) f.emplace_back(name);
  };
  add(in.name.present, "name");
  add(in.id_number.present, "id_number");
  add(in.phone.present, "phone");
  add(in.position.present, "position");
  add(in.cert.present, "health_cert");
  return f;
}

}  // namespace

Result<Staff> Registry::create_staff(const auth::Principal& p, const StaffInput& in) {
  if (!in.unit_id.sets() || !in.name.sets() || !in.id_number.sets()) {
    return Error::invalid("unit_id", "missing_field", "unit_id, name and id_number are required");
  }
  int day = today();
  if (!valid_id_number(*in.id_number.value, day)) {
    return Error::invalid("id_number", "invalid_id_number",
                          "field 'id_number' is not a valid resident identity number");
  }
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::load_unit(*c, *in.unit_id.value, true);
  if (!unit || !p.covers(unit->jpath, unit->id)) return detail::unknown_reference("unit_id", "unit");

  detail::StaffRow row;
  row.id = new_id("staff");
  row.unit_id = unit->id;
  row.jpath = unit->jpath;
  row.name = *in.name.value;
  row.position = in.position.value;
  row.cert = in.cert.value;
  row.created_at = row.updated_at = clock_.now_ms();
  std::string index = cipher_.blind_index(*in.id_number.value);
  if (!c->query(kPersonInUnit, {row.unit_id, index, row.id}).empty()) return staff_exists();
  row.id_number_enc = cipher_.encrypt(*in.id_number.value, kIdNumberContext);
  if (in.phone.sets()) row.phone_enc = cipher_.encrypt(*in.phone.value, kPhoneContext);
  if (row.cert && row.cert->image_id) {
    auto st = claim_file(*c, p, "health_cert.image_id", *row.cert->image_id, row.unit_id, row.jpath);
    if (!st) return st.error();
  }
  c->exec(kInsertStaff, {row.id, row.unit_id, row.jpath, row.name, row.id_number_enc, index, nullable(row.phone_enc),
                         nullable(row.position), row.cert ? storage::Value(row.cert->number) : storage::Value(nullptr),
                         nullable_day(row.cert, &HealthCertificate::issued_on),
                         nullable_day(row.cert, &HealthCertificate::expires_on),
                         row.cert ? nullable(row.cert->image_id) : storage::Value(nullptr), row.created_at});
  audit_.append(*c, auth::audit_entry(p, "staff.create", "staff:" + row.id,
                                      detail::fields_detail(present_fields(in), {{"unit_id", row.unit_id}})));
  tx.commit();
  return present_staff(p, row, day);
}

Result<Staff> Registry::get_staff(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("staff");
  storage::Conn c = db_.acquire();
  auto row = load_staff(*c, id, false);
  if (!row || !p.covers(row->jpath, row->unit_id)) return Error::not_found("staff");
  return present_staff(p, *row, today());
}

Result<Page<Staff>> Registry::list_staff(const auth::Principal& p, const StaffFilter& f, PageRequest page) {
  int day = today();
  storage::Conn c = db_.acquire();
  Where w("deleted_at IS NULL");
  w.scope(p, "jpath", "unit_id");
  if (f.unit_id) w.add("unit_id = {}", *f.unit_id);
  if (f.jurisdiction_id) {
    auto path = subtree_path(*c, p, *f.jurisdiction_id);
    if (!path) return Page<Staff>{};
    w.subtree("jpath", *path);
  }
  if (f.q) w.add("LOWER(name) LIKE {} ESCAPE '\\'", detail::contains_pattern(*f.q));
  if (f.id_number) w.add("id_number_index = {}", cipher_.blind_index(ascii_upper(*f.id_number)));
  if (f.cert_status) add_status(w, "cert_expires_on", *f.cert_status, day, config_.cert_expiring_days);
  Page<Staff> out;
  out.total = w.count(*c, "staff");
  for (const auto& r : w.page(*c, kSelectStaff, detail::text_order(*c, "name") + ", id", page)) {
    out.items.push_back(present_staff(p, detail::StaffRow::from(r), day));
  }
  return out;
}

Result<Staff> Registry::update_staff(const auth::Principal& p, std::string_view id, const StaffInput& in) {
  if (!plausible_id(id)) return Error::not_found("staff");
  int day = today();
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto row = load_staff(*c, id, true);
  if (!row || !p.covers(row->jpath, row->unit_id)) return Error::not_found("staff");
  if (in.unit_id.present && in.unit_id.value != std::optional<std::string>(row->unit_id)) {
    return Error::invalid("unit_id", "immutable", "field 'unit_id' cannot be changed");
  }
  in.name.apply_to(row->name);
  in.position.apply_to(row->position);
  std::optional<std::string> index;
  if (in.id_number.sets()) {
    if (!valid_id_number(*in.id_number.value, day)) {
      return Error::invalid("id_number", "invalid_id_number",
                            "field 'id_number' is not a valid resident identity number");
    }
    index = cipher_.blind_index(*in.id_number.value);
    if (!c->query(kPersonInUnit, {row->unit_id, *index, row->id}).empty()) return staff_exists();
    row->id_number_enc = cipher_.encrypt(*in.id_number.value, kIdNumberContext);
  }
  if (in.phone.present) {
    row->phone_enc =
        in.phone.sets() ? std::optional<std::string>(cipher_.encrypt(*in.phone.value, kPhoneContext)) : std::nullopt;
  }
  if (in.cert.present) {
    row->cert = in.cert.value;
    if (row->cert && row->cert->image_id) {
      auto st = claim_file(*c, p, "health_cert.image_id", *row->cert->image_id, row->unit_id, row->jpath);
      if (!st) return st.error();
    }
  }
  row->updated_at = clock_.now_ms();
  // The index column is rewritten only with a new id number (COALESCE keeps the stored one).
  storage::Params params = {row->id,
                            row->name,
                            row->id_number_enc,
                            index ? storage::Value(*index) : storage::Value(nullptr),
                            nullable(row->phone_enc),
                            nullable(row->position),
                            row->cert ? storage::Value(row->cert->number) : storage::Value(nullptr),
                            nullable_day(row->cert, &HealthCertificate::issued_on),
                            nullable_day(row->cert, &HealthCertificate::expires_on),
                            row->cert ? nullable(row->cert->image_id) : storage::Value(nullptr),
                            row->updated_at};
  c->exec(kUpdateStaff, params);
  audit_.append(*c,
                auth::audit_entry(p, "staff.update", "staff:" + row->id, detail::fields_detail(present_fields(in))));
  tx.commit();
  return present_staff(p, *row, day);
}

Status Registry::delete_staff(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("staff");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto row = load_staff(*c, id, true);
  if (!row || !p.covers(row->jpath, row->unit_id)) return Error::not_found("staff");
  c->exec(kSoftDeleteStaff, {row->id, clock_.now_ms()});
  audit_.append(*c, auth::audit_entry(p, "staff.delete", "staff:" + row->id,
                                      json::serialize(json::object{{"unit_id", row->unit_id}})));
  tx.commit();
  return ok_status();
}

Result<Page<HealthCertRow>> Registry::list_health_certs(const auth::Principal& p, const HealthCertFilter& f,
                                                        PageRequest page) {
  int day = today();
  storage::Conn c = db_.acquire();
  Where w("s.deleted_at IS NULL AND u.deleted_at IS NULL");
  w.scope(p, "s.jpath", "s.unit_id");
  if (f.unit_id) w.add("s.unit_id = {}", *f.unit_id);
  if (f.jurisdiction_id) {
    auto path = subtree_path(*c, p, *f.jurisdiction_id);
    if (!path) return Page<HealthCertRow>{};
    w.subtree("s.jpath", *path);
  }
  if (f.status) add_status(w, "s.cert_expires_on", *f.status, day, config_.cert_expiring_days);
  Page<HealthCertRow> out;
  out.total = w.count(*c, "staff s JOIN units u ON u.id = s.unit_id");
  // Missing certificates last on both engines (SQLite sorts NULL first, PostgreSQL last).
  for (const auto& r : w.page(*c, kSelectCerts, "s.cert_expires_on IS NULL, s.cert_expires_on, s.id", page)) {
    HealthCertRow h;
    h.staff_id = r.text(0);
    h.staff_name = r.text(1);
    h.position = r.opt_text(2);
    h.unit_id = r.text(3);
    h.unit_name = r.text(4);
    h.cert = cert_from(r, 5, 6, 7, 8);
    h.status = cert_status(h.cert ? std::optional<int>(h.cert->expires_on) : std::nullopt, day);
    if (h.cert) h.days_left = h.cert->expires_on - day;
    out.items.push_back(std::move(h));
  }
  return out;
}

}  // namespace mingchu::registry
