// For tests only: the database engines a test should run on, each opened on a fresh, empty,
// migrated schema. SQLite always; PostgreSQL when MINGCHU_TEST_PG holds a DSN. With
// MINGCHU_REQUIRE_PG=1 (set by the test command) a missing DSN is an error, not a skip.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/database.hpp"

namespace mingchu::storage {

std::vector<std::string> test_engines();
// Throws std::runtime_error when the engine cannot be opened.
std::unique_ptr<Database> open_test_database(const std::string& engine, int pool_size = 4);

}  // namespace mingchu::storage
