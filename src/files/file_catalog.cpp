#include "files/file_catalog.hpp"

#include "auth/auth_service.hpp"
#include "core/ids.hpp"
#include "files/multipart.hpp"
#include "files/sniff.hpp"

namespace mingchu::files {
namespace {

constexpr const char* kSelectFile =
    "SELECT id, sha256, sm3, size, content_type, filename, uploader_id, unit_id, jpath, created_at "
    "FROM files WHERE id = $1";

constexpr const char* kInsertFile =
    "INSERT INTO files (id, sha256, sm3, size, content_type, filename, uploader_id, unit_id, jpath, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

constexpr const char* kAttachFile = "UPDATE files SET unit_id = $2, jpath = $3 WHERE id = $1";

// The live unit a merchant (or unit-scoped key) may upload for, and its jpath.
constexpr const char* kSelectUnitPath = "SELECT jpath FROM units WHERE id = $1 AND deleted_at IS NULL";

FileRecord from_row(const storage::Row& r) {
  FileRecord f;
  f.id = r.text(0);
  f.sha256 = r.text(1);
  f.sm3 = r.text(2);
  f.size = r.integer(3);
  f.content_type = r.text(4);
  f.filename = r.text(5);
  f.uploader_id = r.text(6);
  f.unit_id = r.text(7);
  f.jpath = r.text(8);
  f.created_at = r.integer(9);
  return f;
}

bool unit_scoped(const auth::Principal& p) { return p.unit_scoped(); }

storage::Value nullable(const std::string& s) {
  if (s.empty()) return nullptr;
  return s;
}

}  // namespace

const std::set<std::string>& upload_types() {
  static const std::set<std::string> kTypes = {std::string(kJpeg), std::string(kPng), std::string(kWebp),
                                               std::string(kPdf)};
  return kTypes;
}

json::object to_json(const FileRecord& f) {
  json::object o;
  o["id"] = f.id;
  o["sha256"] = f.sha256;
  o["sm3"] = f.sm3;
  o["size"] = f.size;
  o["content_type"] = f.content_type;
  return o;
}

FileCatalog::FileCatalog(storage::Database& db, FileStore& store, const Clock& clock, const audit::AuditLog& audit)
    : db_(db), store_(store), clock_(clock), audit_(audit) {}

std::optional<FileRecord> FileCatalog::load(storage::Connection& c, std::string_view id) {
  if (!plausible_id(id)) return std::nullopt;
  storage::Rows rows = c.query(kSelectFile, {std::string(id)});
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

bool FileCatalog::may_read(const auth::Principal& p, const FileRecord& f) {
  if (!f.uploader_id.empty() && f.uploader_id == p.user_id) return true;
  if (!f.unit_id.empty()) return p.covers(f.jpath, f.unit_id);
  // No unit: a regulator's or admin's upload, visible in its subtree.
  return p.covers_path(f.jpath);
}

Result<FileRecord> FileCatalog::attach_to_unit(storage::Connection& c, std::string_view file_id,
                                               std::string_view unit_id, std::string_view unit_jpath) {
  auto f = load(c, file_id);
  if (!f) return Error::not_found("file");
  if (f->unit_id != unit_id || f->jpath != unit_jpath) {
    c.exec(kAttachFile, {std::string(file_id), std::string(unit_id), std::string(unit_jpath)});
    f->unit_id = unit_id;
    f->jpath = unit_jpath;
  }
  return *f;
}

Result<FileRecord> FileCatalog::upload(const auth::Principal& p, std::string_view bytes, std::string filename,
                                       std::optional<std::string> unit_id) {
  FileRecord f;
  f.id = new_id("file");
  f.filename = sanitize_filename(filename);
  f.uploader_id = p.user_id;
  f.created_at = clock_.now_ms();

  // Where the file belongs, decided before the bytes are stored.
  {
    storage::Conn c = db_.acquire();
    if (unit_id) {
      storage::Rows rows;
      if (plausible_id(*unit_id)) rows = c->query(kSelectUnitPath, {*unit_id});
      if (rows.empty() || !p.covers(rows[0].text(0), *unit_id)) {
        return Error::invalid("unit_id", "unknown_unit", "field 'unit_id' names no unit in your scope");
      }
      f.unit_id = *unit_id;
      f.jpath = rows[0].text(0);
    } else if (unit_scoped(p)) {
      for (const std::string& u : p.unit_ids) {
        storage::Rows rows = c->query(kSelectUnitPath, {u});
        if (!rows.empty()) {
          f.unit_id = u;
          f.jpath = rows[0].text(0);
          break;
        }
      }
      if (f.unit_id.empty()) return Error::forbidden("this account has no unit to upload files for");
    } else if (!p.jpath.empty()) {
      f.jpath = p.jpath;
    } else {
      return Error::forbidden("this account has no scope to upload files into");
    }
  }

  auto stored = store_.put(bytes, upload_types());
  if (!stored) return stored.error();
  f.sha256 = stored->sha256;
  f.sm3 = stored->sm3;
  f.size = static_cast<std::int64_t>(stored->size);
  f.content_type = stored->content_type;

  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  c->exec(kInsertFile, {f.id, f.sha256, f.sm3, f.size, f.content_type, nullable(f.filename), nullable(f.uploader_id),
                        nullable(f.unit_id), f.jpath, f.created_at});
  // The detail names the content, never the file name (which may carry personal data).
  json::object detail{{"sha256", f.sha256}, {"size", f.size}, {"content_type", f.content_type}};
  if (!f.unit_id.empty()) detail["unit_id"] = f.unit_id;
  audit_.append(*c, auth::audit_entry(p, "file.upload", "file:" + f.id, json::serialize(detail)));
  tx.commit();
  return f;
}

FileRecord FileCatalog::record_stored(storage::Connection& c, const StoredFile& blob, std::string filename,
                                      std::string uploader_id, std::string unit_id, std::string jpath, TimeMs at) {
  FileRecord f;
  f.id = new_id("file");
  f.sha256 = blob.sha256;
  f.sm3 = blob.sm3;
  f.size = static_cast<std::int64_t>(blob.size);
  f.content_type = blob.content_type;
  f.filename = std::move(filename);
  f.uploader_id = std::move(uploader_id);
  f.unit_id = std::move(unit_id);
  f.jpath = std::move(jpath);
  f.created_at = at;
  c.exec(kInsertFile, {f.id, f.sha256, f.sm3, f.size, f.content_type, nullable(f.filename), nullable(f.uploader_id),
                       nullable(f.unit_id), f.jpath, f.created_at});
  return f;
}

Result<FileRecord> FileCatalog::get(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("file");
  storage::Conn c = db_.acquire();
  auto f = load(*c, id);
  if (!f || !may_read(p, *f)) return Error::not_found("file");
  return *f;
}

Result<std::pair<FileRecord, std::string>> FileCatalog::read(const auth::Principal& p, std::string_view id) {
  auto f = get(p, id);
  if (!f) return f.error();
  auto bytes = store_.read(f->sha256);
  if (!bytes) {
    if (bytes.error().kind == ErrorKind::kNotFound) {
      // The row exists but the blob is gone: an operations problem, not the caller's.
      return Error::internal("stored file " + f->id + " is missing from the file store");
    }
    return bytes.error();
  }
  return std::make_pair(std::move(*f), std::move(*bytes));
}

}  // namespace mingchu::files
