// Retention (config [retention]): each table's purge removes exactly the old rows it may, on
// both engines, and the receipts keep what idempotency needs.
#include <gtest/gtest.h>

#include "ingest/ingest_service.hpp"
#include "notify/outbox.hpp"
#include "storage/testing.hpp"
#include "telemetry/telemetry.hpp"

namespace mingchu {
namespace {

class RetentionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { db_ = storage::open_test_database(GetParam()); }
  std::int64_t count(const std::string& sql) {
    storage::Conn c = db_->acquire();
    return c->query(sql)[0].integer(0);
  }
  void exec(const std::string& sql, const storage::Params& ps) {
    storage::Conn c = db_->acquire();
    c->exec(sql, ps);
  }
  std::unique_ptr<storage::Database> db_;
};

TEST_P(RetentionTest, ReceiptsOlderThanTheCutoffGoInBatchesTheRestStay) {
  for (int i = 0; i < 30; ++i) {
    exec(
        "INSERT INTO ingest_receipts (source, event_id, alert_id, merged, received_at, occurred_at) "
        "VALUES ('key:k', $1, 'alert_x', 0, $2, $2)",
        {"e" + std::to_string(i), std::int64_t{i * 1000}});
  }
  EXPECT_EQ(ingest::purge_receipts(*db_, 20'000, 8), 8);  // a batch at most
  EXPECT_EQ(ingest::purge_receipts(*db_, 20'000, 100), 12);
  EXPECT_EQ(ingest::purge_receipts(*db_, 20'000, 100), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM ingest_receipts"), 10);
  EXPECT_EQ(count("SELECT MIN(received_at) FROM ingest_receipts"), 20'000);
  // an event is accepted up to max_age old and max_future ahead: its receipt outlives both
  ingest::IngestConfig ic;
  EXPECT_EQ(ingest::receipt_horizon(ic), ic.max_age_ms + ic.max_future_ms);
  EXPECT_GT(ingest::receipt_horizon(ic), 30 * kDayMs);
}

TEST_P(RetentionTest, ReadingsOlderThanTheCutoffGo) {
  for (int i = 0; i < 20; ++i) {
    exec("INSERT INTO readings (device_id, at, metric, value) VALUES ('dev_1', $1, 't', 1.5)", {std::int64_t{i}});
    exec("INSERT INTO readings (device_id, at, metric, value) VALUES ('dev_1', $1, 'h', 2.5)", {std::int64_t{i}});
  }
  EXPECT_EQ(telemetry::purge_readings(*db_, 5, 100), 10);
  EXPECT_EQ(count("SELECT COUNT(*) FROM readings"), 30);
  EXPECT_EQ(count("SELECT COUNT(*) FROM readings WHERE at < 5"), 0);
}

TEST_P(RetentionTest, OnlyDeliveredWorkGoesPendingAndDeadStayWithTheirOutboxRows) {
  auto outbox = [&](const std::string& id, std::int64_t at, int dispatched) {
    exec(
        "INSERT INTO outbox (id, topic, unit_id, jpath, payload, sms, created_at, dispatched) "
        "VALUES ($1, 'alert.created', 'u', '/j/', '{}', 0, $2, $3)",
        {id, at, std::int64_t{dispatched}});
  };
  auto delivery = [&](const std::string& id, const std::string& outbox_id, const std::string& state, std::int64_t at) {
    exec(
        "INSERT INTO deliveries (id, outbox_id, channel, target_id, topic, state, next_attempt_at, delivered_at, "
        "created_at) VALUES ($1, $2, 'webhook', $1, 'alert.created', $3, $4, $5, $4)",
        {id, outbox_id, state, at, state == "delivered" ? storage::Value(at + 1) : storage::Value(nullptr)});
  };
  outbox("evt_old_done", 100, 1);
  delivery("d1", "evt_old_done", "delivered", 100);
  outbox("evt_old_dead", 100, 1);
  delivery("d2", "evt_old_dead", "delivered", 100);
  delivery("d3", "evt_old_dead", "dead", 100);
  outbox("evt_old_pending", 100, 1);
  delivery("d4", "evt_old_pending", "pending", 100);
  outbox("evt_old_undispatched", 100, 0);
  outbox("evt_old_nochannel", 100, 1);
  outbox("evt_new", 5000, 1);
  delivery("d5", "evt_new", "delivered", 5000);

  EXPECT_EQ(notify::purge_delivered(*db_, 1000, 100), 2 + 2);  // d1, d2; evt_old_done, evt_old_nochannel
  storage::Conn c = db_->acquire();
  std::vector<std::string> left;
  for (const auto& r : c->query("SELECT id FROM outbox ORDER BY id")) left.push_back(r.text(0));
  EXPECT_EQ(left, (std::vector<std::string>{"evt_new", "evt_old_dead", "evt_old_pending", "evt_old_undispatched"}));
  std::vector<std::string> deliveries;
  for (const auto& r : c->query("SELECT id FROM deliveries ORDER BY id")) deliveries.push_back(r.text(0));
  EXPECT_EQ(deliveries, (std::vector<std::string>{"d3", "d4", "d5"}));
  EXPECT_EQ(notify::purge_delivered(*db_, 1000, 100), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, RetentionTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu
