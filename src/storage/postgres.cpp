// PostgreSQL driver over libpq: text-format parameters, prepared statements cached per
// connection, synchronous_commit=on so a commit is durable before it is acknowledged.
#include <libpq-fe.h>

#include <cstring>
#include <unordered_map>

#include "storage/pool.hpp"

namespace mingchu::storage {
namespace {

constexpr unsigned kBoolOid = 16, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kFloat4Oid = 700,
                   kFloat8Oid = 701, kNumericOid = 1700;

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() { PQclear(r_); }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  PGresult* get() const { return r_; }

 private:
  PGresult* r_;
};

class PgConnection final : public Connection {
 public:
  explicit PgConnection(const std::string& conninfo) {
    conn_ = PQconnectdb(conninfo.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(conn_);
      PQfinish(conn_);
      conn_ = nullptr;
      throw DbError(DbError::Kind::kUnavailable, "cannot connect to PostgreSQL: " + msg);
    }
    exec_script("SET synchronous_commit = on; SET client_min_messages = warning; SET TIME ZONE 'UTC'");
  }
  ~PgConnection() override {
    if (conn_) PQfinish(conn_);
  }

  Dialect dialect() const override { return Dialect::kPostgres; }
  bool healthy() const override {
    return conn_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
  }

  Rows query(std::string_view sql, const Params& params) override {
    PgResult r(run(sql, params));
    Rows rows;
    int n = PQntuples(r.get()), nf = PQnfields(r.get());
    rows.rows.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      Row row;
      row.cols.reserve(static_cast<size_t>(nf));
      for (int j = 0; j < nf; ++j) {
        if (PQgetisnull(r.get(), i, j)) {
          row.cols.emplace_back(nullptr);
          continue;
        }
        const char* v = PQgetvalue(r.get(), i, j);
        switch (PQftype(r.get(), j)) {
          case kInt8Oid:
          case kInt4Oid:
          case kInt2Oid: row.cols.emplace_back(static_cast<std::int64_t>(std::strtoll(v, nullptr, 10))); break;
          case kBoolOid: row.cols.emplace_back(static_cast<std::int64_t>(v[0] == 't')); break;
          case kFloat4Oid:
          case kFloat8Oid:
          case kNumericOid: row.cols.emplace_back(std::strtod(v, nullptr)); break;
          default: row.cols.emplace_back(std::string(v, static_cast<size_t>(PQgetlength(r.get(), i, j))));
        }
      }
      rows.rows.push_back(std::move(row));
    }
    return rows;
  }

  std::int64_t exec(std::string_view sql, const Params& params) override {
    PgResult r(run(sql, params));
    const char* n = PQcmdTuples(r.get());
    return n && *n ? std::strtoll(n, nullptr, 10) : 0;
  }

  void exec_script(std::string_view sql) override {
    std::string s(sql);
    PgResult r(PQexec(conn_, s.c_str()));
    check(r.get());
  }

  void begin() override { exec_script("BEGIN"); }
  void commit() override { exec_script("COMMIT"); }
  void rollback() override {
    if (conn_ && PQtransactionStatus(conn_) != PQTRANS_IDLE) exec_script("ROLLBACK");
  }

 private:
  PGresult* run(std::string_view sql, const Params& params) {
    std::string key(sql);
    auto it = prepared_.find(key);
    if (it == prepared_.end()) {
      std::string name = "s" + std::to_string(prepared_.size());
      PgResult pr(PQprepare(conn_, name.c_str(), key.c_str(), 0, nullptr));
      check(pr.get());
      it = prepared_.emplace(key, name).first;
    }
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (std::holds_alternative<std::nullptr_t>(v)) {
        values[i] = nullptr;
        continue;
      }
      if (auto n = std::get_if<std::int64_t>(&v)) {
        text[i] = std::to_string(*n);
      } else if (auto d = std::get_if<double>(&v)) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", *d);
        text[i] = buf;
      } else {
        text[i] = std::get<std::string>(v);
      }
      values[i] = text[i].c_str();
      lengths[i] = static_cast<int>(text[i].size());
    }
    PGresult* r = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()), values.data(),
                                 lengths.data(), nullptr, 0);
    try {
      check(r);
    } catch (...) {
      PQclear(r);
      throw;
    }
    return r;
  }

  void check(PGresult* r) {
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return;
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    std::string msg = PQresultErrorMessage(r);
    DbError::Kind kind = DbError::Kind::kOther;
    if (state && std::strcmp(state, "23505") == 0) kind = DbError::Kind::kUnique;
    if (PQstatus(conn_) != CONNECTION_OK || (state && (state[0] == '0' && state[1] == '8'))) {
      kind = DbError::Kind::kUnavailable;
    }
    throw DbError(kind, "PostgreSQL: " + msg);
  }

  PGconn* conn_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;
};

}  // namespace

std::unique_ptr<Connection> open_postgres(const std::string& conninfo) {
  return std::make_unique<PgConnection>(conninfo);
}

std::unique_ptr<Database> open_database(const std::string& url, int pool_size) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    // describe() must not leak the password
    std::string shown = url;
    auto at = shown.find('@');
    auto colon = shown.find(':', shown.find("//") + 2);
    if (at != std::string::npos && colon != std::string::npos && colon < at) shown.replace(colon + 1, at - colon - 1, "***");
    return std::make_unique<PooledDatabase>(
        Dialect::kPostgres, pool_size, [url] { return open_postgres(url); }, shown);
  }
  std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
  if (path.rfind("//", 0) == 0) path = path.substr(2);
  return open_sqlite_database(path, pool_size);
}

}  // namespace mingchu::storage
