#include "app/backup.hpp"

#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "crypto/field_cipher.hpp"
#include "crypto/sm3.hpp"
#include "storage/migrations.hpp"
#include "storage/schema.hpp"

namespace mingchu::app {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFormat = "mingchu-backup/1";
constexpr const char* kKeyContext = "backup.field_key";
constexpr size_t kBlock = 512;

Error bad_backup(const std::string& entry, const std::string& why) {
  return Error::conflict("bad_backup", "backup entry '" + entry + "': " + why);
}

std::string hex(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}
std::optional<std::string> unhex(std::string_view h) {
  if (h.size() % 2) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < h.size(); i += 2) {
    auto v = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int a = v(h[i]), b = v(h[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    out.push_back(static_cast<char>(a * 16 + b));
  }
  return out;
}

// ---------------------------------------------------------------- ustar

struct Entry {
  std::string path;
  std::int64_t size = 0;
  std::string sm3;
};

class TarWriter {
 public:
  explicit TarWriter(const std::string& path) : out_(path, std::ios::binary | std::ios::trunc) {}
  bool ok() const { return out_.good(); }

  Status add_file(const std::string& name, const fs::path& src) {
    std::ifstream in(src, std::ios::binary);
    if (!in) return Error::internal("cannot read " + src.string());
    auto size = static_cast<std::int64_t>(fs::file_size(src));
    if (auto st = header(name, size); !st) return st;
    crypto::Sm3 h;
    std::vector<char> buf(1 << 16);
    std::int64_t left = size;
    while (left > 0) {
      auto n = static_cast<std::streamsize>(std::min<std::int64_t>(left, static_cast<std::int64_t>(buf.size())));
      if (!in.read(buf.data(), n)) return Error::internal("short read of " + src.string());
      out_.write(buf.data(), n);
      h.update(std::string_view(buf.data(), static_cast<size_t>(n)));
      left -= n;
    }
    pad(size);
    entries_.push_back({name, size, h.final_hex()});
    return ok_status();
  }
  Status add_bytes(const std::string& name, std::string_view data, bool listed = true) {
    if (auto st = header(name, static_cast<std::int64_t>(data.size())); !st) return st;
    out_.write(data.data(), static_cast<std::streamsize>(data.size()));
    pad(static_cast<std::int64_t>(data.size()));
    if (listed) entries_.push_back({name, static_cast<std::int64_t>(data.size()), crypto::sm3_hex(data)});
    return ok_status();
  }
  Status finish() {
    std::string zeros(2 * kBlock, '\0');
    out_.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    out_.flush();
    if (!out_) return Error::internal("cannot write the backup file");
    return ok_status();
  }
  const std::vector<Entry>& entries() const { return entries_; }
  std::int64_t bytes() { return static_cast<std::int64_t>(out_.tellp()); }

 private:
  Status header(const std::string& name, std::int64_t size) {
    if (name.size() > 99) return Error::internal("path too long for the archive: " + name);
    char h[kBlock] = {};
    std::memcpy(h, name.data(), name.size());
    std::snprintf(h + 100, 8, "%07o", 0644);
    std::snprintf(h + 108, 8, "%07o", 0);
    std::snprintf(h + 116, 8, "%07o", 0);
    std::snprintf(h + 124, 12, "%011llo", static_cast<unsigned long long>(size));
    std::snprintf(h + 136, 12, "%011llo", static_cast<unsigned long long>(::time(nullptr)));
    h[156] = '0';
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    out_.write(h, kBlock);
    return ok_status();
  }
  void pad(std::int64_t size) {
    size_t rest = static_cast<size_t>(size % static_cast<std::int64_t>(kBlock));
    if (rest) {
      std::string zeros(kBlock - rest, '\0');
      out_.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    }
  }

  std::ofstream out_;
  std::vector<Entry> entries_;
};

// Reads entries one by one into files under `dir` (paths checked), computing their digests.
class TarReader {
 public:
  explicit TarReader(const std::string& path) : in_(path, std::ios::binary) {}
  bool ok() const { return in_.good(); }

  // nullopt at the end (two zero blocks or end of file: `clean_end` tells which).
  Result<std::optional<Entry>> next(const fs::path& dir) {
    char h[kBlock];
    if (!in_.read(h, kBlock)) return std::optional<Entry>{};
    bool zero = std::all_of(h, h + kBlock, [](char c) { return c == 0; });
    if (zero) {
      clean_end_ = true;
      return std::optional<Entry>{};
    }
    unsigned want = 0, sum = 0;
    for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    want = static_cast<unsigned>(std::strtoul(std::string(h + 148, 8).c_str(), nullptr, 8));
    std::string name(h, strnlen(h, 100));
    if (want != sum || std::memcmp(h + 257, "ustar", 5) != 0) return bad_backup(name, "damaged archive header");
    if (h[156] != '0' && h[156] != '\0') return bad_backup(name, "not a regular file");
    std::int64_t size = std::strtoll(std::string(h + 124, 12).c_str(), nullptr, 8);
    if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos || size < 0) {
      return bad_backup(name, "unsafe path");
    }
    fs::path target = dir / name;
    fs::create_directories(target.parent_path());
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    if (!out) return Error::internal("cannot write " + target.string());
    crypto::Sm3 hsh;
    std::vector<char> buf(1 << 16);
    std::int64_t left = size;
    while (left > 0) {
      auto n = static_cast<std::streamsize>(std::min<std::int64_t>(left, static_cast<std::int64_t>(buf.size())));
      if (!in_.read(buf.data(), n)) return bad_backup(name, "the file ends inside this entry (partial backup)");
      out.write(buf.data(), n);
      hsh.update(std::string_view(buf.data(), static_cast<size_t>(n)));
      left -= n;
    }
    auto rest = static_cast<std::streamsize>((kBlock - static_cast<size_t>(size % kBlock)) % kBlock);
    if (rest && !in_.ignore(rest)) return bad_backup(name, "the file ends inside this entry (partial backup)");
    return std::optional<Entry>{Entry{name, size, hsh.final_hex()}};
  }
  bool clean_end() const { return clean_end_; }

 private:
  std::ifstream in_;
  bool clean_end_ = false;
};

// ---------------------------------------------------------------- pieces

Result<std::string> read_passphrase(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error::invalid("passphrase-file", "unreadable", "cannot read " + file);
  std::string p((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
  if (p.size() < 12)
    return Error::invalid("passphrase-file", "too_short", "the passphrase must have 12 characters or more");
  return p;
}

Result<crypto::FieldCipher> passphrase_cipher(const std::string& passphrase, std::string_view salt) {
  if (sodium_init() < 0) return Error::internal("libsodium failed to initialise");
  unsigned char key[16];
  if (crypto_pwhash(key, sizeof key, passphrase.data(), passphrase.size(),
                    reinterpret_cast<const unsigned char*>(salt.data()), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                    crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Error::internal("key derivation ran out of memory");
  }
  return crypto::FieldCipher::from_key(std::string_view(reinterpret_cast<const char*>(key), sizeof key));
}

bool is_sqlite(const std::string& url) { return url.rfind("sqlite:", 0) == 0; }

// Runs a program without a shell; true when it exits 0.
bool run(const std::vector<std::string>& argv) {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string sql_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// pg_dump and psql want the URL without our "options=-csearch_path=..." only when a schema is
// named some other way; both accept the URL as given.

}  // namespace

std::map<std::string, std::pair<std::int64_t, std::string>> table_digests(storage::Connection& c) {
  std::map<std::string, std::pair<std::int64_t, std::string>> out;
  for (const auto& [table, cols] : storage::table_columns(c)) {
    std::string order;
    for (size_t i = 1; i <= cols.size(); ++i) order += (i > 1 ? ", " : "") + std::to_string(i);
    storage::Rows rows = c.query("SELECT * FROM " + table + " ORDER BY " + order);
    crypto::Sm3 h;
    for (const auto& r : rows) {
      for (const auto& v : r.cols) {
        std::string cell;
        if (std::holds_alternative<std::nullptr_t>(v))
          cell = "N";
        else if (auto* i = std::get_if<std::int64_t>(&v))
          cell = "I" + std::to_string(*i);
        else if (auto* d = std::get_if<double>(&v))
          cell = "R" + json::serialize(json::value(*d));
        else
          cell = "T" + std::to_string(std::get<std::string>(v).size()) + ":" + std::get<std::string>(v);
        h.update(cell);
        h.update("\x1f");
      }
      h.update("\x1e");
    }
    out[table] = {static_cast<std::int64_t>(rows.size()), h.final_hex()};
  }
  return out;
}

Result<BackupSummary> make_backup(const BackupOptions& opt) {
  if (opt.out.empty()) return Error::invalid("out", "missing_field", "--out FILE is required");
  std::optional<std::string> passphrase;
  if (!opt.passphrase_file.empty()) {
    auto p = read_passphrase(opt.passphrase_file);
    if (!p) return p.error();
    passphrase = *p;
  }
  fs::path tmp =
      fs::path(opt.out).parent_path() / (fs::path(opt.out).filename().string() + ".part-" + quick_random_hex(4));
  fs::create_directories(tmp);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{tmp};

  auto db = storage::open_database(opt.db_url, 2);
  BackupSummary summary;
  std::map<std::string, std::pair<std::int64_t, std::string>> digests;
  std::string db_entry;
  int schema = storage::schema_version(*db);
  if (db->dialect() == storage::Dialect::kSqlite) {
    db_entry = "database.sqlite";
    {
      storage::Conn c = db->acquire();
      c->exec_script("VACUUM INTO " + sql_quote((tmp / db_entry).string()));
    }
    auto snap = storage::open_database("sqlite:" + (tmp / db_entry).string(), 1);
    storage::Conn sc = snap->acquire();
    digests = table_digests(*sc);
  } else {
    db_entry = "database.sql";
    storage::Conn c = db->acquire();
    c->exec_script("BEGIN ISOLATION LEVEL REPEATABLE READ");
    std::string snapshot = c->query("SELECT pg_export_snapshot()")[0].text(0);
    std::string schema_name = c->query("SELECT current_schema()")[0].text(0);
    bool dumped = run({"pg_dump", "--dbname=" + opt.db_url, "--snapshot=" + snapshot, "--schema=" + schema_name,
                       "--no-owner", "--no-privileges", "--file=" + (tmp / db_entry).string()});
    digests = table_digests(*c);
    c->exec_script("COMMIT");
    if (!dumped) return Error::unavailable("pg_dump failed (is postgresql-client installed?)");
  }

  TarWriter tar(opt.out + ".writing");
  if (!tar.ok()) return Error::invalid("out", "unwritable", "cannot write " + opt.out);
  if (auto st = tar.add_file(db_entry, tmp / db_entry); !st) return st.error();
  fs::path files = fs::path(opt.data_dir) / "files";
  if (fs::exists(files)) {
    std::vector<fs::path> all;
    for (const auto& e : fs::recursive_directory_iterator(files)) {
      if (e.is_regular_file()) all.push_back(e.path());
    }
    std::sort(all.begin(), all.end());
    for (const auto& p : all) {
      std::string rel = "files/" + fs::relative(p, files).generic_string();
      if (rel.find(".tmp") != std::string::npos) continue;  // an upload still being written
      if (auto st = tar.add_file(rel, p); !st) return st.error();
    }
  }
  if (passphrase) {
    std::ifstream kin(fs::path(opt.data_dir) / "field.key");
    if (!kin) return Error::invalid("data", "no_key_file", "no field.key in " + opt.data_dir);
    std::string key((std::istreambuf_iterator<char>(kin)), std::istreambuf_iterator<char>());
    std::string salt(crypto_pwhash_SALTBYTES, '\0');
    randombytes_buf(salt.data(), salt.size());
    auto cipher = passphrase_cipher(*passphrase, salt);
    if (!cipher) return cipher.error();
    if (auto st =
            tar.add_bytes("field.key.enc", "mingchu-key/1\n" + hex(salt) + "\n" + cipher->encrypt(key, kKeyContext));
        !st) {
      return st.error();
    }
  }
  json::object manifest{{"format", kFormat},
                        {"created_at_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count()},
                        {"engine", db->dialect() == storage::Dialect::kSqlite ? "sqlite" : "postgresql"},
                        {"schema_version", schema},
                        {"key_included", passphrase.has_value()}};
  json::array entries;
  for (const auto& e : tar.entries())
    entries.push_back(json::object{{"path", e.path}, {"size", e.size}, {"sm3", e.sm3}});
  manifest["entries"] = std::move(entries);
  json::object tables;
  for (const auto& [t, d] : digests) {
    tables[t] = json::object{{"rows", d.first}, {"sm3", d.second}};
    summary.table_rows[t] = d.first;
  }
  manifest["tables"] = std::move(tables);
  summary.entries = static_cast<std::int64_t>(tar.entries().size());
  if (auto st = tar.add_bytes("manifest.json", json::serialize(manifest), false); !st) return st.error();
  if (auto st = tar.finish(); !st) return st.error();
  summary.bytes = tar.bytes();
  std::error_code ec;
  fs::rename(opt.out + ".writing", opt.out, ec);
  if (ec) return Error::internal("cannot move the backup into place: " + ec.message());
  return summary;
}

Result<BackupSummary> restore_backup(const RestoreOptions& opt) {
  fs::path dir(opt.data_dir);
  if (fs::exists(dir) && !fs::is_empty(dir)) {
    return Error::invalid("data", "not_empty", "restore writes only into an empty data directory: " + opt.data_dir);
  }
  fs::create_directories(dir);
  fs::path stage = dir / ".restore";
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{stage};
  auto fail = [&](Error e) {
    std::error_code ec;
    fs::remove_all(stage, ec);
    return e;
  };
  TarReader tar(opt.in);
  if (!tar.ok()) return Error::invalid("in", "unreadable", "cannot read " + opt.in);
  std::vector<Entry> got;
  for (;;) {
    auto e = tar.next(stage);
    if (!e) return fail(e.error());
    if (!*e) break;
    got.push_back(**e);
  }
  if (got.empty() || got.back().path != "manifest.json") {
    return fail(bad_backup(got.empty() ? "manifest.json" : got.back().path,
                           "the manifest is missing: the file is partial or not a MingChu backup"));
  }
  std::ifstream min(stage / "manifest.json");
  std::string mtext((std::istreambuf_iterator<char>(min)), std::istreambuf_iterator<char>());
  auto mv = parse_value(mtext);
  if (!mv || !mv->is_object() || !mv->as_object().contains("entries") ||
      json::value_to<std::string>(mv->as_object().at("format")) != kFormat) {
    return fail(bad_backup("manifest.json", "not a MingChu backup manifest"));
  }
  const auto& m = mv->as_object();
  std::map<std::string, Entry> listed;
  for (const auto& e : m.at("entries").as_array()) {
    const auto& o = e.as_object();
    Entry x{json::value_to<std::string>(o.at("path")), o.at("size").to_number<std::int64_t>(),
            json::value_to<std::string>(o.at("sm3"))};
    listed[x.path] = x;
  }
  for (size_t i = 0; i + 1 < got.size(); ++i) {
    auto it = listed.find(got[i].path);
    if (it == listed.end()) return fail(bad_backup(got[i].path, "not listed in the manifest"));
    if (it->second.size != got[i].size || it->second.sm3 != got[i].sm3) {
      return fail(bad_backup(got[i].path, "its SM3 digest does not match the manifest (altered)"));
    }
    listed.erase(it);
  }
  if (!listed.empty()) return fail(bad_backup(listed.begin()->first, "listed in the manifest but missing"));
  if (!tar.clean_end()) return fail(bad_backup("manifest.json", "the archive does not end cleanly"));

  // the key first (a wrong passphrase must not leave a database behind)
  if (fs::exists(stage / "field.key.enc")) {
    if (opt.passphrase_file.empty()) {
      return fail(
          Error::invalid("passphrase-file", "missing_field", "this backup holds the key: give --passphrase-file"));
    }
    auto p = read_passphrase(opt.passphrase_file);
    if (!p) return fail(p.error());
    std::ifstream kin(stage / "field.key.enc");
    std::string magic, salt_hex, sealed;
    std::getline(kin, magic);
    std::getline(kin, salt_hex);
    std::getline(kin, sealed);
    auto salt = unhex(salt_hex);
    if (magic != "mingchu-key/1" || !salt || salt->size() != crypto_pwhash_SALTBYTES) {
      return fail(bad_backup("field.key.enc", "malformed"));
    }
    auto cipher = passphrase_cipher(*p, *salt);
    if (!cipher) return fail(cipher.error());
    auto key = cipher->decrypt(sealed, kKeyContext);
    if (!key)
      return fail(Error::invalid("passphrase-file", "wrong_passphrase", "the passphrase does not open the key"));
    std::ofstream kout(dir / "field.key", std::ios::trunc);
    kout << *key;
    kout.close();
    ::chmod((dir / "field.key").c_str(), 0600);
  }
  std::string url = opt.db_url.empty() ? "sqlite:" + (dir / "mingchu.db").string() : opt.db_url;
  if (fs::exists(stage / "database.sqlite")) {
    if (!is_sqlite(url))
      return fail(Error::invalid("db", "engine_mismatch", "this backup is of SQLite: restore it to sqlite:PATH"));
    fs::path target = url.substr(7);
    if (fs::exists(target))
      return fail(Error::invalid("db", "not_empty", "the database file exists: " + target.string()));
    fs::create_directories(target.parent_path().empty() ? fs::path(".") : target.parent_path());
    fs::rename(stage / "database.sqlite", target);
  } else if (fs::exists(stage / "database.sql")) {
    if (is_sqlite(url))
      return fail(Error::invalid("db", "engine_mismatch", "this backup is of PostgreSQL: give --db postgresql://..."));
    if (!run({"psql", "--dbname=" + url, "-v", "ON_ERROR_STOP=1", "-q", "-o", "/dev/null", "-f",
              (stage / "database.sql").string()})) {
      return fail(Error::unavailable("psql could not load the dump (the target schema must not exist yet)"));
    }
  } else {
    return fail(bad_backup("database", "no database in the backup"));
  }
  if (fs::exists(stage / "files")) fs::rename(stage / "files", dir / "files");

  // the rows as loaded equal the rows of the snapshot
  BackupSummary summary;
  auto db = storage::open_database(url, 1);
  storage::Conn c = db->acquire();
  auto now = table_digests(*c);
  const auto& tables = m.at("tables").as_object();
  for (const auto& kv : tables) {
    std::string t(kv.key());
    auto it = now.find(t);
    const auto& o = kv.value().as_object();
    if (it == now.end()) return bad_backup("table " + t, "missing after the restore");
    if (it->second.second != json::value_to<std::string>(o.at("sm3"))) {
      return bad_backup("table " + t, "its rows differ from the backup's after the restore");
    }
    summary.table_rows[t] = it->second.first;
  }
  summary.entries = static_cast<std::int64_t>(got.size());
  return summary;
}

}  // namespace mingchu::app
