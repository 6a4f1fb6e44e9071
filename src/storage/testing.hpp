// For tests only: the database engines a test should run on, each opened on a fresh, empty,
// migrated schema. SQLite always; PostgreSQL when MINGCHU_TEST_PG holds a DSN. With
// MINGCHU_REQUIRE_PG=1 (set by the test command) a missing DSN is an error, not a skip.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/database.hpp"

namespace mingchu::storage {

std::vector<std::string> test_engines();
// Throws std::runtime_error when the engine cannot be opened.
std::unique_ptr<Database> open_test_database(const std::string& engine, int pool_size = 4);

// Fault injection: a Database over another one whose connections pass every call through,
// except statements containing an armed needle, which throw DbError(kind) instead (before
// reaching the engine, so the transaction is rolled back by its owner as after a real
// failure). Thread safe; the inner database must outlive it.
class FaultInjectingDatabase final : public Database {
 public:
  explicit FaultInjectingDatabase(Database& inner) : inner_(inner) {}
  // From now on, statements whose text contains needle fail with kind.
  void fail_statements(std::string needle, DbError::Kind kind = DbError::Kind::kOther);
  // No more failures.
  void heal();
  // Statements refused so far.
  std::int64_t injected() const;

  Dialect dialect() const override { return inner_.dialect(); }
  Conn acquire() override;
  void release(std::unique_ptr<Connection> c) override { c.reset(); }  // the inner Conn goes home
  std::string describe() const override { return "faults over " + inner_.describe(); }

  // Throws when sql matches the armed needle (used by the connections).
  void check(std::string_view sql);

 private:
  Database& inner_;
  mutable std::mutex mu_;
  std::string needle_;
  DbError::Kind kind_ = DbError::Kind::kOther;
  std::int64_t injected_ = 0;
};

}  // namespace mingchu::storage
