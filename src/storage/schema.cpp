#include "storage/schema.hpp"

namespace mingchu::storage {
namespace {

constexpr const char* kSqliteColumns =
    "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
    "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
constexpr const char* kPostgresColumns =
    "SELECT c.table_name, c.column_name FROM information_schema.columns AS c "
    "JOIN information_schema.tables AS t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
    "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'";

}  // namespace

std::map<std::string, std::set<std::string>> table_columns(Connection& c) {
  std::map<std::string, std::set<std::string>> out;
  Rows rows = c.query(c.dialect() == Dialect::kSqlite ? kSqliteColumns : kPostgresColumns);
  for (const auto& r : rows) out[r.text(0)].insert(r.text(1));
  return out;
}

std::vector<std::string> tables_with_column(Connection& c, const std::string& column) {
  std::vector<std::string> out;
  for (const auto& [table, cols] : table_columns(c)) {
    if (cols.count(column)) out.push_back(table);
  }
  return out;
}

}  // namespace mingchu::storage
