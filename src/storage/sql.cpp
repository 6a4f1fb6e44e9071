#include "storage/sql.hpp"

#include <algorithm>

namespace mingchu::storage {

std::string for_update(const Connection& c) { return c.dialect() == Dialect::kPostgres ? " FOR UPDATE" : ""; }

std::string in_list(Params& ps, const std::vector<std::string>& values) {
  std::string sql = "(";
  for (size_t i = 0; i < values.size(); ++i) {
    ps.emplace_back(values[i]);
    sql += (i ? ", $" : "$") + std::to_string(ps.size());
  }
  return sql + ")";
}

void for_each_chunk(const std::vector<std::string>& values,
                    const std::function<void(const std::vector<std::string>&)>& fn) {
  for (size_t i = 0; i < values.size(); i += kMaxInList) {
    std::vector<std::string> chunk(
        values.begin() + static_cast<std::ptrdiff_t>(i),
        values.begin() + static_cast<std::ptrdiff_t>(std::min(values.size(), i + kMaxInList)));
    fn(chunk);
  }
}

void insert_rows(Connection& c, const std::string& table, const std::vector<std::string>& cols,
                 const std::vector<Params>& rows, const std::string& suffix) {
  if (rows.empty()) return;
  std::string head = "INSERT INTO " + table + " (";
  for (size_t k = 0; k < cols.size(); ++k) head += (k ? ", " : "") + cols[k];
  head += ") VALUES ";
  if (c.dialect() == Dialect::kSqlite) {
    std::string sql = head + "(";
    for (size_t k = 0; k < cols.size(); ++k) sql += (k ? ", $" : "$") + std::to_string(k + 1);
    sql += ")" + suffix;
    for (const Params& row : rows) c.exec(sql, row);
    return;
  }
  size_t i = 0;
  while (i < rows.size()) {
    size_t n = 64;
    while (n > rows.size() - i) n /= 2;
    std::string sql = head;
    Params ps;
    ps.reserve(n * cols.size());
    for (size_t r = 0; r < n; ++r) {
      sql += r ? ", (" : "(";
      for (size_t k = 0; k < cols.size(); ++k) {
        ps.push_back(rows[i + r].at(k));
        sql += (k ? ", $" : "$") + std::to_string(ps.size());
      }
      sql += ")";
    }
    c.exec(sql + suffix, ps);
    i += n;
  }
}

}  // namespace mingchu::storage
