// SQLite driver: WAL, synchronous=FULL (a commit survives a power cut), busy timeout so
// writers queue instead of failing, foreign keys on.
#include <sqlite3.h>

#include <unordered_map>

#include "storage/pool.hpp"

namespace mingchu::storage {
namespace {

// Rewrites $N to ?N outside string literals and quoted identifiers.
std::string rewrite_params(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;
      out.push_back(c);
    } else if (c == '\'' || c == '"') {
      quote = c;
      out.push_back(c);
    } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      out.push_back('?');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(const std::string& path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw DbError(DbError::Kind::kUnavailable, "cannot open SQLite database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
    exec_script(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
        "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;");
  }
  ~SqliteConnection() override {
    for (auto& [k, st] : cache_) sqlite3_finalize(st);
    sqlite3_close_v2(db_);
  }

  Dialect dialect() const override { return Dialect::kSqlite; }
  bool healthy() const override { return db_ != nullptr && sqlite3_get_autocommit(db_); }

  Rows query(std::string_view sql, const Params& params) override {
    sqlite3_stmt* st = prepare(sql);
    bind(st, params);
    Rows rows;
    int ncol = sqlite3_column_count(st);
    for (;;) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_ROW) {
        Row r;
        r.cols.reserve(static_cast<size_t>(ncol));
        for (int i = 0; i < ncol; ++i) {
          switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER: r.cols.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(st, i))); break;
            case SQLITE_FLOAT: r.cols.emplace_back(sqlite3_column_double(st, i)); break;
            case SQLITE_NULL: r.cols.emplace_back(nullptr); break;
            default: {
              const char* p = static_cast<const char*>(sqlite3_column_blob(st, i));
              int n = sqlite3_column_bytes(st, i);
              r.cols.emplace_back(std::string(p ? p : "", static_cast<size_t>(n)));
            }
          }
        }
        rows.rows.push_back(std::move(r));
      } else if (rc == SQLITE_DONE) {
        break;
      } else {
        fail(st, rc);
      }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rows;
  }

  std::int64_t exec(std::string_view sql, const Params& params) override {
    sqlite3_stmt* st = prepare(sql);
    bind(st, params);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) fail(st, rc);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return sqlite3_changes64(db_);
  }

  void exec_script(std::string_view sql) override {
    char* err = nullptr;
    std::string s(sql);
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw DbError(kind_of(rc), "SQLite: " + msg);
    }
  }

  void begin() override { exec_script("BEGIN IMMEDIATE"); }
  void commit() override { exec_script("COMMIT"); }
  void rollback() override {
    if (!sqlite3_get_autocommit(db_)) exec_script("ROLLBACK");
  }

 private:
  static DbError::Kind kind_of(int rc) {
    int primary = rc & 0xff;
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) return DbError::Kind::kUnique;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_IOERR || primary == SQLITE_FULL ||
        primary == SQLITE_CANTOPEN) {
      return DbError::Kind::kUnavailable;
    }
    return DbError::Kind::kOther;
  }

  [[noreturn]] void fail(sqlite3_stmt* st, int rc) {
    int ext = sqlite3_extended_errcode(db_);
    std::string msg = sqlite3_errmsg(db_);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    throw DbError(kind_of(ext ? ext : rc), "SQLite: " + msg);
  }

  sqlite3_stmt* prepare(std::string_view sql) {
    auto it = cache_.find(std::string(sql));
    if (it != cache_.end()) return it->second;
    std::string rewritten = rewrite_params(sql);
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v3(db_, rewritten.c_str(), static_cast<int>(rewritten.size()), SQLITE_PREPARE_PERSISTENT,
                                &st, nullptr);
    if (rc != SQLITE_OK) throw DbError(kind_of(rc), std::string("SQLite prepare: ") + sqlite3_errmsg(db_));
    if (cache_.size() > 512) {
      for (auto& [k, s] : cache_) sqlite3_finalize(s);
      cache_.clear();
    }
    cache_.emplace(std::string(sql), st);
    return st;
  }

  void bind(sqlite3_stmt* st, const Params& params) {
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      int rc = SQLITE_OK;
      const Value& v = params[i];
      if (std::holds_alternative<std::nullptr_t>(v)) {
        rc = sqlite3_bind_null(st, idx);
      } else if (auto n = std::get_if<std::int64_t>(&v)) {
        rc = sqlite3_bind_int64(st, idx, *n);
      } else if (auto d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(st, idx, *d);
      } else {
        const auto& s = std::get<std::string>(v);
        rc = sqlite3_bind_text64(st, idx, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      }
      if (rc != SQLITE_OK && rc != SQLITE_RANGE) fail(st, rc);
    }
  }

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::string& path) { return std::make_unique<SqliteConnection>(path); }

}  // namespace mingchu::storage
