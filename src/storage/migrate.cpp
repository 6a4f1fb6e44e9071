#include "storage/migrations.hpp"

namespace mingchu::storage {
namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

constexpr const char* kCreateVersions =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
    "applied_at TEXT NOT NULL)";

}  // namespace

std::string render_sql(const std::string& sql, Dialect d) {
  std::string s = sql;
  bool pg = d == Dialect::kPostgres;
  replace_all(s, "{{C}}", pg ? " COLLATE \"C\"" : "");
  replace_all(s, "{{REAL}}", pg ? "DOUBLE PRECISION" : "REAL");
  // SQLite: a table whose primary key is its only lookup is one B-tree instead of two
  replace_all(s, "{{WITHOUT_ROWID}}", pg ? "" : " WITHOUT ROWID");
  return s;
}

int schema_version(Database& db) {
  Conn c = db.acquire();
  c->exec_script(kCreateVersions);
  Rows r = c->query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  return static_cast<int>(r[0].integer(0));
}

std::vector<int> migrate(Database& db) {
  std::vector<int> applied;
  Conn c = db.acquire();
  c->exec_script(kCreateVersions);
  bool pg = c->dialect() == Dialect::kPostgres;
  if (pg) c->exec_script("SELECT pg_advisory_lock(7231001)");
  try {
    for (const Migration& m : migrations()) {
      Transaction tx(*c);
      Rows r = c->query("SELECT 1 FROM schema_migrations WHERE version = $1", {std::int64_t{m.version}});
      if (!r.empty()) continue;
      c->exec_script(render_sql(m.sql, c->dialect()));
      c->exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, CURRENT_TIMESTAMP)",
              {std::int64_t{m.version}, std::string(m.name)});
      tx.commit();
      applied.push_back(m.version);
    }
  } catch (...) {
    if (pg) c->exec_script("SELECT pg_advisory_unlock(7231001)");
    throw;
  }
  if (pg) c->exec_script("SELECT pg_advisory_unlock(7231001)");
  return applied;
}

}  // namespace mingchu::storage
