#include <thread>

#include <gtest/gtest.h>

#include "audit/audit_log.hpp"
#include "storage/testing.hpp"

namespace mingchu::audit {
namespace {

class AuditTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = storage::open_test_database(GetParam());
    log_ = std::make_unique<AuditLog>(clock_);
    for (int i = 0; i < 10; ++i) {
      Entry e{"u1", "alice", "regulator", "unit.update", "unit:" + std::to_string(i), "127.0.0.9", "ok", ""};
      log_->append(*db_, e);
      clock_.advance_ms(1000);
    }
  }
  void exec(const std::string& sql) {
    storage::Conn c = db_->acquire();
    c->exec(sql);
  }
  ManualClock clock_{true};
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<AuditLog> log_;
};

TEST_P(AuditTest, IntactChainVerifies) {
  VerifyResult v = log_->verify(*db_);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.checked, 10);
}

TEST_P(AuditTest, AlteredEntryIsNamed) {
  exec("UPDATE audit_log SET target = 'unit:evil' WHERE seq = 4");
  VerifyResult v = log_->verify(*db_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 4);
  EXPECT_NE(v.reason.find("altered"), std::string::npos);
}

TEST_P(AuditTest, DeletedEntryIsNamed) {
  exec("DELETE FROM audit_log WHERE seq = 6");
  VerifyResult v = log_->verify(*db_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 6);
}

TEST_P(AuditTest, DeletedTailIsDetectedThroughTheHead) {
  exec("DELETE FROM audit_log WHERE seq >= 9");
  VerifyResult v = log_->verify(*db_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 9);
}

TEST_P(AuditTest, InsertedEntryIsNamed) {
  // renumber to make room, as an attacker would, and insert a forged entry at 3
  exec("UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3");
  exec("UPDATE audit_log SET seq = seq - 99 WHERE seq >= 103");
  exec(
      "INSERT INTO audit_log (seq, at, actor, action, result, prev_hash, hash) "
      "VALUES (3, 0, 'mallory', 'unit.delete', 'ok', 'x', 'y')");
  VerifyResult v = log_->verify(*db_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
}

TEST_P(AuditTest, ConcurrentAppendsKeepOneChain) {
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([this] {
      for (int i = 0; i < 10; ++i) log_->append(*db_, Entry{"", "sys", "", "x", "", "", "ok", ""});
    });
  }
  for (auto& t : ts) t.join();
  VerifyResult v = log_->verify(*db_);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.checked, 50);
}

TEST_P(AuditTest, BatchAppendsContinueTheChainAmongSingleAppends) {
  std::vector<Entry> batch;
  for (int i = 0; i < 100; ++i)
    batch.push_back(Entry{"", "sys", "", "alert.create", "alert:" + std::to_string(i), "", "ok", ""});
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t) {
    ts.emplace_back([&] {
      db_->in_transaction([&](storage::Connection& c) { log_->append_all(c, batch, clock_.now_ms()); });
      log_->append(*db_, Entry{"", "sys", "", "x", "", "", "ok", ""});
    });
  }
  for (auto& t : ts) t.join();
  db_->in_transaction([&](storage::Connection& c) { log_->append_all(c, {}, clock_.now_ms()); });  // nothing
  VerifyResult v = log_->verify(*db_);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.checked, 10 + 3 * 101);
  exec("UPDATE audit_log SET target = 'alert:x' WHERE seq = 60");
  v = log_->verify(*db_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 60);
}

TEST_P(AuditTest, ListFiltersAndPages) {
  AuditQuery q;
  q.page_size = 3;
  auto [items, total] = log_->list(*db_, q);
  EXPECT_EQ(total, 10);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].seq, 10);  // newest first
  q.action = "nothing";
  EXPECT_EQ(log_->list(*db_, q).second, 0);
}

TEST(AuditHash, FieldsCannotBeShiftedIntoEachOther) {
  Entry a{"", "ab", "", "c", "", "", "ok", ""};
  Entry b{"", "a", "", "bc", "", "", "ok", ""};
  EXPECT_NE(AuditLog::chain_hash("0", 1, 0, a), AuditLog::chain_hash("0", 1, 0, b));
}

INSTANTIATE_TEST_SUITE_P(Engines, AuditTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::audit
