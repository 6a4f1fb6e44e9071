#include "storage/testing.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>

#include "core/ids.hpp"
#include "storage/migrations.hpp"

namespace mingchu::storage {

std::vector<std::string> test_engines() {
  std::vector<std::string> out{"sqlite"};
  const char* pg = std::getenv("MINGCHU_TEST_PG");
  const char* req = std::getenv("MINGCHU_REQUIRE_PG");
  if ((pg && *pg) || (req && std::string(req) == "1")) out.emplace_back("postgres");
  return out;
}

std::unique_ptr<Database> open_test_database(const std::string& engine, int pool_size) {
  if (engine == "sqlite") {
    auto dir = std::filesystem::temp_directory_path() / ("mingchu-test-" + random_hex(6));
    std::filesystem::create_directories(dir);
    auto db = open_database("sqlite:" + (dir / "test.db").string(), pool_size);
    migrate(*db);
    return db;
  }
  const char* pg = std::getenv("MINGCHU_TEST_PG");
  if (!pg || !*pg) throw std::runtime_error("MINGCHU_REQUIRE_PG=1 but MINGCHU_TEST_PG is not set: start PostgreSQL");
  // Each test (tests may run in parallel processes) gets a schema of its own.
  std::string schema = "t_" + random_hex(8);
  {
    auto admin = open_database(pg, 1);
    Conn c = admin->acquire();
    c->exec_script("CREATE SCHEMA " + schema);
  }
  std::string url = pg;
  url += (url.find('?') == std::string::npos ? "?" : "&");
  url += "options=-csearch_path%3D" + schema;
  auto db = open_database(url, pool_size);
  migrate(*db);
  return db;
}

namespace {

class FaultInjectingConnection final : public Connection {
 public:
  FaultInjectingConnection(FaultInjectingDatabase& db, Conn inner) : db_(db), inner_(std::move(inner)) {}
  Dialect dialect() const override { return inner_->dialect(); }
  Rows query(std::string_view sql, const Params& params) override {
    db_.check(sql);
    return inner_->query(sql, params);
  }
  std::int64_t exec(std::string_view sql, const Params& params) override {
    db_.check(sql);
    return inner_->exec(sql, params);
  }
  void exec_script(std::string_view sql) override {
    db_.check(sql);
    inner_->exec_script(sql);
  }
  void begin() override { inner_->begin(); }
  void commit() override {
    db_.check("COMMIT");
    inner_->commit();
  }
  void rollback() override { inner_->rollback(); }
  bool healthy() const override { return inner_->healthy(); }

 private:
  FaultInjectingDatabase& db_;
  Conn inner_;
};

}  // namespace

void FaultInjectingDatabase::fail_statements(std::string needle, DbError::Kind kind) {
  std::lock_guard g(mu_);
  needle_ = std::move(needle);
  kind_ = kind;
}

void FaultInjectingDatabase::heal() {
  std::lock_guard g(mu_);
  needle_.clear();
}

std::int64_t FaultInjectingDatabase::injected() const {
  std::lock_guard g(mu_);
  return injected_;
}

void FaultInjectingDatabase::check(std::string_view sql) {
  std::lock_guard g(mu_);
  if (needle_.empty() || sql.find(needle_) == std::string_view::npos) return;
  ++injected_;
  throw DbError(kind_, "injected failure: " + std::string(sql.substr(0, 80)));
}

Conn FaultInjectingDatabase::acquire() {
  return Conn(this, std::make_unique<FaultInjectingConnection>(*this, inner_.acquire()));
}

}  // namespace mingchu::storage
