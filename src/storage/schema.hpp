// What the live schema holds, read from the engine itself (sqlite_master / pragma_table_info on
// SQLite, information_schema on PostgreSQL): the tables of the current schema and their
// columns. For code that must treat every table of a kind alike (the registry's unit move,
// backups, tests that compare every table) without a list that a new migration could miss.
//
// Thread safety: as the Connection passed in. Database failures throw DbError.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "storage/database.hpp"

namespace mingchu::storage {

// table name → its column names; internal tables (sqlite_*) left out.
std::map<std::string, std::set<std::string>> table_columns(Connection& c);

// The names of the tables that have a column of this name, sorted.
std::vector<std::string> tables_with_column(Connection& c, const std::string& column);

}  // namespace mingchu::storage
