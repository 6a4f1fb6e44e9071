// Numbered schema migrations, applied in order at start and by `mingchu migrate`.
// SQL is shared by both engines; {{C}} marks columns compared as byte strings (jurisdiction
// paths), {{REAL}} a double column. Applying is idempotent and, on PostgreSQL, serialised
// across nodes by an advisory lock.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/database.hpp"

namespace mingchu::storage {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

const std::vector<Migration>& migrations();
// Tables (besides cameras, staff and files) whose rows carry unit_id and the unit's jpath: a
// unit that moves to another jurisdiction updates them in the same transaction.
const std::vector<std::string_view>& unit_scoped_tables();

// Applies every migration newer than the database's version. Returns the versions applied.
std::vector<int> migrate(Database& db);
int schema_version(Database& db);
std::string render_sql(const std::string& sql, Dialect d);

}  // namespace mingchu::storage
