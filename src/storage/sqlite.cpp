// SQLite driver: WAL, synchronous=FULL (a commit survives a power cut), busy timeout so
// writers queue instead of failing, foreign keys on.
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <thread>
#include <unordered_map>

#include "core/log.hpp"
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

// table_generation(): the tables whose rows the ingest writer and API-key check keep.
constexpr std::string_view kCountedTables[] = {"units",      "cameras",       "devices", "users",
                                               "user_units", "jurisdictions", "api_keys"};
std::atomic<std::uint64_t> g_generation[std::size(kCountedTables)];

void on_row_change(void*, int, const char*, const char* table, sqlite3_int64) {
  std::string_view t(table);
  for (size_t i = 0; i < std::size(kCountedTables); ++i) {
    if (kCountedTables[i] == t) g_generation[i].fetch_add(1, std::memory_order_relaxed);
  }
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
    sqlite3_update_hook(db_, on_row_change, nullptr);
    exec_script(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
        "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;");
    // Checkpoints run on SqliteDatabase's own thread, not inside whichever commit crosses the
    // threshold: the ingest writer's commits stay short (bench/run_ingest.sh).
    if (path != ":memory:") exec_script("PRAGMA wal_autocheckpoint=0;");
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
    auto it = cache_.find(sql);
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
        // STATIC: params outlive the step, and the statement is reset before they go
        rc = sqlite3_bind_text64(st, idx, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
      }
      if (rc != SQLITE_OK && rc != SQLITE_RANGE) fail(st, rc);
    }
  }

  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> cache_;
};

// The pool, and a thread that checkpoints the WAL into the database file (PASSIVE: it never
// blocks readers or the writer) every kCheckpointEvery, instead of the commit that happens to
// cross SQLite's page threshold doing it on the caller's thread.
class SqliteDatabase final : public PooledDatabase {
 public:
  SqliteDatabase(int pool_size, const std::string& path)
      : PooledDatabase(
            Dialect::kSqlite, pool_size, [path] { return open_sqlite(path); }, "sqlite:" + path) {
    if (path != ":memory:" && !path.empty()) checkpointer_ = std::thread([this, path] { checkpoint_loop(path); });
  }
  ~SqliteDatabase() override {
    {
      std::lock_guard g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
  }

 private:
  static constexpr std::chrono::milliseconds kCheckpointEvery{250};

  void checkpoint_loop(const std::string& path) {
    std::unique_ptr<Connection> c;
    auto checkpoint = [&] {
      try {
        if (!c) c = open_sqlite(path);
        c->exec_script("PRAGMA wal_checkpoint(PASSIVE);");
      } catch (const std::exception& e) {
        log::warn("WAL checkpoint failed", {{"error", e.what()}});
        c.reset();
      }
    };
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, kCheckpointEvery, [&] { return stop_; })) {
      lock.unlock();
      checkpoint();
      lock.lock();
    }
    lock.unlock();
    if (c) checkpoint();  // what the last commits wrote
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread checkpointer_;
};

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::string& path) { return std::make_unique<SqliteConnection>(path); }

std::uint64_t table_generation(std::string_view table) {
  for (size_t i = 0; i < std::size(kCountedTables); ++i) {
    if (kCountedTables[i] == table) return g_generation[i].load();
  }
  return 0;
}

std::unique_ptr<Database> open_sqlite_database(const std::string& path, int pool_size) {
  return std::make_unique<SqliteDatabase>(pool_size, path);
}

}  // namespace mingchu::storage
