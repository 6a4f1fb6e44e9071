#include <gtest/gtest.h>

#include <thread>

#include "storage/migrations.hpp"
#include "storage/sql.hpp"
#include "storage/testing.hpp"

namespace mingchu::storage {
namespace {

class StorageTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { db_ = open_test_database(GetParam()); }
  std::unique_ptr<Database> db_;
};

TEST_P(StorageTest, MigrationsAreAppliedOnceAndIdempotent) {
  int v = schema_version(*db_);
  EXPECT_EQ(v, migrations().back().version);
  EXPECT_TRUE(migrate(*db_).empty());
  EXPECT_EQ(schema_version(*db_), v);
}

TEST_P(StorageTest, RoundTripsValuesOfEveryKind) {
  Conn c = db_->acquire();
  c->exec("INSERT INTO settings (key, value) VALUES ($1, $2)", {std::string("k'\"; DROP TABLE units; --"),
                                                                 std::string("值 <script>alert(1)</script>")});
  Rows r = c->query("SELECT value, key FROM settings WHERE key = $1", {std::string("k'\"; DROP TABLE units; --")});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].text(0), "值 <script>alert(1)</script>");
  Rows n = c->query("SELECT $1 + 1, $2, $3", {std::int64_t{41}, 2.5, nullptr});
  EXPECT_EQ(n[0].integer(0), 42);
  EXPECT_DOUBLE_EQ(n[0].real(1), 2.5);
  EXPECT_TRUE(n[0].is_null(2));
  EXPECT_FALSE(n[0].opt_integer(2).has_value());
}

TEST_P(StorageTest, ParametersMayRepeatAndAppearOutOfOrder) {
  Conn c = db_->acquire();
  Rows r = c->query("SELECT $2 || '-' || $1 || '-' || $2", {std::string("a"), std::string("b")});
  EXPECT_EQ(r[0].text(0), "b-a-b");
  Rows q = c->query("SELECT '$1 inside a literal'", {});
  EXPECT_EQ(q[0].text(0), "$1 inside a literal");
}

TEST_P(StorageTest, TransactionRollsBackUnlessCommitted) {
  {
    Conn c = db_->acquire();
    Transaction tx(*c);
    c->exec("INSERT INTO settings (key, value) VALUES ('a', '1')");
  }
  {
    Conn c = db_->acquire();
    EXPECT_TRUE(c->query("SELECT 1 FROM settings WHERE key = 'a'").empty());
  }
  db_->in_transaction([](Connection& c) { c.exec("INSERT INTO settings (key, value) VALUES ('b', '2')"); });
  Conn c = db_->acquire();
  EXPECT_EQ(c->query("SELECT value FROM settings WHERE key = 'b'")[0].text(0), "2");
}

TEST_P(StorageTest, UniqueViolationIsReportedAsSuch) {
  Conn c = db_->acquire();
  c->exec("INSERT INTO settings (key, value) VALUES ('u', '1')");
  try {
    c->exec("INSERT INTO settings (key, value) VALUES ('u', '2')");
    FAIL() << "expected a unique violation";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), DbError::Kind::kUnique);
  }
  // the connection is still usable
  EXPECT_EQ(c->query("SELECT value FROM settings WHERE key = 'u'")[0].text(0), "1");
}

TEST_P(StorageTest, SyntaxErrorsThrowAndLeaveConnectionUsable) {
  Conn c = db_->acquire();
  EXPECT_THROW(c->query("SELEC nonsense"), DbError);
  EXPECT_EQ(c->query("SELECT 7")[0].integer(0), 7);
}

TEST_P(StorageTest, ConcurrentWritersAllCommit) {
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([this, t] {
      for (int i = 0; i < 25; ++i) {
        db_->in_transaction([&](Connection& c) {
          c.exec("INSERT INTO settings (key, value) VALUES ($1, 'x')",
                 {"w" + std::to_string(t) + "_" + std::to_string(i)});
        });
      }
    });
  }
  for (auto& t : ts) t.join();
  Conn c = db_->acquire();
  EXPECT_EQ(c->query("SELECT COUNT(*) FROM settings WHERE key LIKE 'w%'")[0].integer(0), 100);
}

TEST_P(StorageTest, LikeEscapeMatchesLiterally) {
  Conn c = db_->acquire();
  c->exec("INSERT INTO settings (key, value) VALUES ('100%_done', '1'), ('100abc', '2')");
  Rows r = c->query("SELECT COUNT(*) FROM settings WHERE key LIKE $1 ESCAPE '\\'", {like_escape("100%_") + "%"});
  EXPECT_EQ(r[0].integer(0), 1);
}

TEST(StorageUrl, SqliteUrlForms) {
  auto db = open_database("sqlite:" + std::string(::testing::TempDir()) + "/x.db", 1);
  EXPECT_EQ(db->dialect(), Dialect::kSqlite);
  auto pg = open_database("postgresql://u:secret@127.0.0.1:1/db", 1);
  EXPECT_EQ(pg->dialect(), Dialect::kPostgres);
  EXPECT_EQ(pg->describe().find("secret"), std::string::npos);
  EXPECT_THROW(pg->acquire(), DbError);  // nothing listens on port 1
}

TEST(RenderSql, DialectTokens) {
  EXPECT_EQ(render_sql("a TEXT{{C}}, b {{REAL}}", Dialect::kPostgres), "a TEXT COLLATE \"C\", b DOUBLE PRECISION");
  EXPECT_EQ(render_sql("a TEXT{{C}}, b {{REAL}}", Dialect::kSqlite), "a TEXT, b REAL");
}

TEST_P(StorageTest, InsertRowsAndInListsCoverEveryRowInChunks) {
  // 1 000 rows: more than one multi-row statement (64 rows) and more than one IN list (500)
  std::vector<Params> rows;
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    keys.push_back("k" + std::to_string(i));
    rows.push_back({keys.back(), std::string("v") + std::to_string(i)});
  }
  db_->in_transaction([&](Connection& c) { insert_rows(c, "settings", {"key", "value"}, rows); });
  Conn c = db_->acquire();
  EXPECT_EQ(c->query("SELECT COUNT(*) FROM settings WHERE key LIKE 'k%'")[0].integer(0), 1000);
  size_t found = 0, chunks = 0;
  for_each_chunk(keys, [&](const std::vector<std::string>& chunk) {
    ++chunks;
    EXPECT_LE(chunk.size(), kMaxInList);
    Params ps{std::string("v")};
    std::string sql = "SELECT COUNT(*) FROM settings WHERE value LIKE $1 || '%' AND key IN " + in_list(ps, chunk);
    EXPECT_EQ(ps.size(), chunk.size() + 1);
    found += static_cast<size_t>(c->query(sql, ps)[0].integer(0));
  });
  EXPECT_EQ(chunks, 2u);
  EXPECT_EQ(found, 1000u);
  // an upsert through the suffix changes the rows it names and adds none
  db_->in_transaction([&](Connection& t) {
    insert_rows(t, "settings", {"key", "value"}, {{std::string("k7"), std::string("seven")}},
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  });
  EXPECT_EQ(c->query("SELECT value FROM settings WHERE key = 'k7'")[0].text(0), "seven");
  EXPECT_EQ(c->query("SELECT COUNT(*) FROM settings WHERE key LIKE 'k%'")[0].integer(0), 1000);
  EXPECT_EQ(for_update(*c), c->dialect() == Dialect::kPostgres ? " FOR UPDATE" : "");
}

INSTANTIATE_TEST_SUITE_P(Engines, StorageTest, ::testing::ValuesIn(test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::storage
