// `mingchu backup` and `mingchu restore` (API.md "Backup"): an online, consistent backup of
// one deployment into one file, and a verified restore into an empty data directory.
//
// The file is a POSIX tar (ustar) archive, readable with `tar tf`, holding in this order:
//   database.sqlite   SQLite: a snapshot made with VACUUM INTO (one read transaction, while
//                     the server keeps writing), or
//   database.sql      PostgreSQL: pg_dump of the current schema, taken on a snapshot exported
//                     from a REPEATABLE READ transaction in which the table digests are read;
//   files/...         the uploaded files (content-addressed: every file a row of the snapshot
//                     names was written before that row committed, so copying after the
//                     snapshot takes them all);
//   field.key.enc     the field encryption key, SM4-GCM under a key derived from the
//                     passphrase with Argon2id (only with --passphrase-file);
//   manifest.json     last: the SM3 digest and size of every entry above, and for every table
//                     of the snapshot its row count and an SM3 digest of its rows in a
//                     canonical order.
// Recordings are not part of the file (the recordings index, being rows of the database, is).
//
// restore refuses (exit 4, naming the first bad entry) a file whose manifest is missing (a
// partial file), an entry whose digest or size differs, an entry the manifest does not list
// or a listed entry that is missing, and, after loading, a table whose rows differ from the
// manifest's digest. It writes only into an empty (or new) data directory and, for
// PostgreSQL, an empty schema.
//
// Failures are returned as values: kInvalid for what the caller gave wrong, kConflict for a
// bad backup (the message names the entry), kInternal / kUnavailable for the OS and engines.
#pragma once

#include <map>
#include <string>

#include "core/result.hpp"
#include "storage/database.hpp"

namespace mingchu::app {

struct BackupOptions {
  std::string data_dir;
  std::string db_url;           // effective URL (sqlite:PATH or postgresql://...)
  std::string out;              // the archive to write
  std::string passphrase_file;  // empty: the key file is not included
};

struct BackupSummary {
  std::int64_t entries = 0;
  std::int64_t bytes = 0;
  std::map<std::string, std::int64_t> table_rows;
};

Result<BackupSummary> make_backup(const BackupOptions& opt);

struct RestoreOptions {
  std::string in;
  std::string data_dir;  // must be empty or absent
  std::string db_url;    // empty: sqlite:<data_dir>/mingchu.db
  std::string passphrase_file;
};

Result<BackupSummary> restore_backup(const RestoreOptions& opt);

// Per table: row count and SM3 of the rows in canonical order (every column, ordered by all
// columns). What the manifest records and restore checks; tests compare with it too.
std::map<std::string, std::pair<std::int64_t, std::string>> table_digests(storage::Connection& c);

}  // namespace mingchu::app
