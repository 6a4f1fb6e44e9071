// The catalog of uploaded files: who uploaded what, to which unit it belongs, and who may
// read it. The bytes live in the content-addressed FileStore; the catalog keeps one `files`
// row per upload (so the same bytes uploaded twice are two records with one blob) and
// decides access.
//
// Access: a caller may read a file when they uploaded it, or it is attached to a unit in
// their scope (Principal::covers(jpath, unit_id)), or it has no unit and its jpath lies in
// their subtree. Anything else is kNotFound, as for a file that does not exist. A file gets
// its place at upload: the given unit (which must be in scope), else the uploader's own
// place (a merchant's first unit, a regulator's node, "/" for a platform admin). The registry
// re-homes a file to the unit that references it (attach_to_unit) inside its transaction.
//
// Failure: upload() answers kUnsupported "unsupported_media_type" for anything that is not
// JPEG, PNG, WebP or PDF by its magic bytes (never by its name), kTooLarge beyond the store's
// limit, kInvalid naming "unit_id" for a unit outside the caller's scope. Database failures
// throw storage::DbError.
//
// Thread safety: every method may be called from any thread at once. The catalog holds
// references only; the database, store, clock and audit log must outlive it.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "files/file_store.hpp"
#include "storage/database.hpp"

namespace mingchu::files {

struct FileRecord {
  std::string id;
  std::string sha256;
  std::string sm3;
  std::int64_t size = 0;
  std::string content_type;
  std::string filename;  // sanitized display name; never used as a path
  std::string uploader_id;
  std::string unit_id;  // "" when the file belongs to no unit (yet)
  std::string jpath;
  TimeMs created_at = 0;

  bool is_image() const { return content_type.rfind("image/", 0) == 0; }
};

// The content types an upload may have.
const std::set<std::string>& upload_types();

// {id, sha256, sm3, size, content_type}: the answer to an upload.
json::object to_json(const FileRecord& f);

class FileCatalog {
 public:
  FileCatalog(storage::Database& db, FileStore& store, const Clock& clock, const audit::AuditLog& audit);

  // Stores the bytes and records them (with an audit entry "file.upload"). filename is for
  // display only; it is sanitized and never reaches the file system.
  Result<FileRecord> upload(const auth::Principal& p, std::string_view bytes, std::string filename,
                            std::optional<std::string> unit_id);
  // The record and its bytes, when p may read it.
  Result<std::pair<FileRecord, std::string>> read(const auth::Principal& p, std::string_view id);
  // The record only, when p may read it.
  Result<FileRecord> get(const auth::Principal& p, std::string_view id);

  // On an open connection (inside the caller's transaction), for the registry:
  // the record if it exists (no access check)...
  static std::optional<FileRecord> load(storage::Connection& c, std::string_view id);
  // ...whether p may read it...
  static bool may_read(const auth::Principal& p, const FileRecord& f);
  // ...and gives the file to a unit: its unit_id and jpath become the unit's, so the unit's
  // regulators and merchant users can read it. kNotFound when the file does not exist.
  static Result<FileRecord> attach_to_unit(storage::Connection& c, std::string_view file_id, std::string_view unit_id,
                                           std::string_view unit_jpath);
  // (When a unit moves, registry::UnitPaths moves its files with every other row of it.)
  // ...and records bytes already in the store (a snapshot sent inline with an ingest event) as
  // a file of the unit, inside the caller's transaction. No audit entry: what the file belongs
  // to (the alert) is audited. Returns the record.
  static FileRecord record_stored(storage::Connection& c, const StoredFile& blob, std::string filename,
                                  std::string uploader_id, std::string unit_id, std::string jpath, TimeMs at);

 private:
  storage::Database& db_;
  FileStore& store_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
};

}  // namespace mingchu::files
