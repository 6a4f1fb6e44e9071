// The Database interface: one API over SQLite (embedded default) and PostgreSQL (scale).
//
// SQL is written once with PostgreSQL-style positional parameters ($1, $2, ...); the SQLite
// driver rewrites them. Values cross the boundary as Value (null, integer, real, text/blob).
// Booleans are integers 0/1 and times are integers (epoch milliseconds) in both engines.
//
// Ownership and threads: a Database owns a pool of connections; acquire() hands one out
// exclusively until the returned Conn is destroyed. A Connection is used by one thread at
// a time. Failures of the engine are thrown as DbError (the request is over); the http layer
// maps kUnavailable to 503 and kUnique to 409.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mingchu::storage {

enum class Dialect { kSqlite, kPostgres };

using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;
using Params = std::vector<Value>;

class DbError : public std::runtime_error {
 public:
  enum class Kind { kUnique, kUnavailable, kOther };
  DbError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct Row {
  std::vector<Value> cols;
  bool is_null(size_t i) const { return std::holds_alternative<std::nullptr_t>(cols.at(i)); }
  std::string text(size_t i) const;                 // "" for null
  std::optional<std::string> opt_text(size_t i) const;
  std::int64_t integer(size_t i) const;              // 0 for null
  std::optional<std::int64_t> opt_integer(size_t i) const;
  double real(size_t i) const;
  bool boolean(size_t i) const { return integer(i) != 0; }
};

struct Rows {
  std::vector<Row> rows;
  bool empty() const { return rows.empty(); }
  size_t size() const { return rows.size(); }
  const Row& operator[](size_t i) const { return rows[i]; }
  auto begin() const { return rows.begin(); }
  auto end() const { return rows.end(); }
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  // Runs a statement that returns rows.
  virtual Rows query(std::string_view sql, const Params& params = {}) = 0;
  // Runs a statement; returns the number of rows changed.
  virtual std::int64_t exec(std::string_view sql, const Params& params = {}) = 0;
  // Runs several statements with no parameters (migrations).
  virtual void exec_script(std::string_view sql) = 0;
  virtual void begin() = 0;  // BEGIN IMMEDIATE on SQLite: writers serialise at the start
  virtual void commit() = 0;
  virtual void rollback() = 0;
  // False when the connection is broken and must not go back to the pool.
  virtual bool healthy() const = 0;
};

class Database;

// SQLite: a counter of the rows of `table` inserted, updated or deleted through any SQLite
// connection of this process (sqlite3_update_hook), whether or not the change committed.
// Caches of rarely written tables compare it before trusting what they hold. Only the
// tables listed in sqlite.cpp are counted (0 for others); PostgreSQL changes are not seen.
std::uint64_t table_generation(std::string_view table);

// A pooled connection; returns to the pool when destroyed.
class Conn {
 public:
  Conn(Database* db, std::unique_ptr<Connection> c) : db_(db), c_(std::move(c)) {}
  Conn(Conn&&) = default;
  Conn& operator=(Conn&&) = delete;
  ~Conn();
  Connection* operator->() const { return c_.get(); }
  Connection& operator*() const { return *c_; }

 private:
  Database* db_;
  std::unique_ptr<Connection> c_;
};

// A transaction on one connection: rolled back unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) { c_.begin(); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit() {
    c_.commit();
    done_ = true;
  }

 private:
  Connection& c_;
  bool done_ = false;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Dialect dialect() const = 0;
  // Blocks until a connection is free (bounded pool). Throws DbError(kUnavailable) when the
  // engine cannot be reached.
  virtual Conn acquire() = 0;
  virtual void release(std::unique_ptr<Connection> c) = 0;
  // A short description without credentials, for logs.
  virtual std::string describe() const = 0;

  // Runs fn inside a transaction on a pooled connection; commits when fn returns, rolls back
  // when it throws. No retry: PostgreSQL runs at READ COMMITTED here, where serialization
  // failures do not occur, and rows that must not race are locked (FOR UPDATE, advisory
  // locks); a deadlock is a DbError(kOther) like any other failure, and the request is over.
  template <typename Fn>
  auto in_transaction(Fn&& fn) {
    Conn c = acquire();
    Transaction tx(*c);
    if constexpr (std::is_void_v<decltype(fn(*c))>) {
      fn(*c);
      tx.commit();
    } else {
      auto r = fn(*c);
      tx.commit();
      return r;
    }
  }
};

// Opens a database from a URL: "sqlite:PATH" (or a bare path ending in .db) or
// "postgresql://user:pass@host:port/db". pool_size bounds concurrent connections.
std::unique_ptr<Database> open_database(const std::string& url, int pool_size = 8);

// Escapes % _ and \ for a LIKE pattern used with ESCAPE '\'.
std::string like_escape(std::string_view s);

}  // namespace mingchu::storage
