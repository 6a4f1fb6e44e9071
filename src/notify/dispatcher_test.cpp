// The dispatcher, webhooks, SMS targets and the SSE hub over a real database, on SQLite and
// (with MINGCHU_TEST_PG) PostgreSQL.
#include "notify/dispatcher.hpp"

#include <algorithm>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/json.hpp"
#include "crypto/field_cipher.hpp"
#include "crypto/sm3.hpp"
#include "notify/event_hub.hpp"
#include "notify/sms.hpp"
#include "notify/testing.hpp"
#include "notify/webhooks.hpp"
#include "storage/testing.hpp"

namespace mingchu::notify {
namespace {

// The receivers of these tests listen on loopback, which webhooks may reach only when allowed.
net::AddressPolicy loopback_allowed() { return net::AddressPolicy{*net::parse_networks("127.0.0.0/8, ::1")}; }

using testing::RecordedRequest;
using testing::RecordingChannel;
using testing::RecordingHttpServer;

constexpr TimeMs kT0 = 1'800'000'000'000;

class NotifyDbTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = storage::open_test_database(GetParam(), 8);
    clock_.set_ms(kT0);
  }

  void add_event(const std::string& id, const std::string& topic, const std::string& jpath, TimeMs at, bool sms = false,
                 const std::string& unit = "unit_1") {
    storage::Conn c = db_->acquire();
    std::string payload = R"({"schema":"mingchu.event.v1","id":")" + id + R"(","topic":")" + topic + R"("})";
    c->exec("INSERT INTO outbox (id, topic, unit_id, jpath, payload, sms, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)",
            {id, topic, unit, jpath, payload, std::int64_t{sms ? 1 : 0}, at});
  }
  std::int64_t count(const std::string& sql, const storage::Params& p = {}) {
    storage::Conn c = db_->acquire();
    return c->query(sql, p)[0].integer(0);
  }
  std::unique_ptr<Dispatcher> dispatcher(std::vector<std::unique_ptr<Channel>> chans, RetryPolicy retry = {}) {
    DispatcherOptions o;
    o.retry = retry;
    o.lease_ms = 30 * kSecondMs;
    return std::make_unique<Dispatcher>(*db_, clock_, metrics_, o, std::move(chans));
  }

  std::unique_ptr<storage::Database> db_;
  ManualClock clock_{true};
  Metrics metrics_;
};

TEST_P(NotifyDbTest, FanOutMakesOneDeliveryPerChannelTargetAndMarksTheEvent) {
  auto a = std::make_unique<RecordingChannel>("a");
  auto b = std::make_unique<RecordingChannel>("b");
  b->targets_for = [](const OutboxEvent& e) {
    return e.topic == "alert.created" ? std::vector<std::string>{"x", "y"} : std::vector<std::string>{};
  };
  std::vector<std::unique_ptr<Channel>> chans;
  chans.push_back(std::move(a));
  chans.push_back(std::move(b));
  auto d = dispatcher(std::move(chans));
  for (int i = 0; i < 5; ++i)
    add_event("evt_" + std::to_string(i), i % 2 ? "alert.updated" : "alert.created", "/j/", kT0 + i);
  EXPECT_EQ(d->fan_out_once(), 5);
  EXPECT_EQ(d->fan_out_once(), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE channel = 'a'"), 5);
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE channel = 'b'"), 6);  // 3 created x 2 targets
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE dispatched = 0"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND attempts = 0"), 11);
}

TEST_P(NotifyDbTest, FanOutFindsAnEventCommittedLateWithAnOlderTimestamp) {
  std::vector<std::unique_ptr<Channel>> chans;
  chans.push_back(std::make_unique<RecordingChannel>("a"));
  auto d = dispatcher(std::move(chans));
  add_event("evt_new", "alert.created", "/j/", kT0 + 10'000);
  EXPECT_EQ(d->fan_out_once(), 1);
  // a transaction that stamped its row earlier commits only now (out-of-order visibility)
  add_event("evt_old", "alert.created", "/j/", kT0 - 60'000);
  EXPECT_EQ(d->fan_out_once(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE outbox_id = 'evt_old'"), 1);
}

TEST_P(NotifyDbTest, FanOutInBatchesCoversEveryRow) {
  std::vector<std::unique_ptr<Channel>> chans;
  chans.push_back(std::make_unique<RecordingChannel>("a"));
  DispatcherOptions o;
  o.fanout_batch = 7;
  Dispatcher d(*db_, clock_, metrics_, o, std::move(chans));
  // equal timestamps: the (created_at, id) order decides the batch boundary
  for (int i = 0; i < 30; ++i) add_event("evt_" + std::to_string(100 + i), "alert.created", "/j/", kT0 + i / 4);
  int total = 0;
  while (int n = d.fan_out_once()) total += n;
  EXPECT_EQ(total, 30);
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 30);
}

TEST_P(NotifyDbTest, RetriesWithBackoffFromTheClockThenDeadLetters) {
  auto ch = std::make_unique<RecordingChannel>("a");
  RecordingChannel* rc = ch.get();
  rc->outcome_for = [](const DeliveryJob&) {
    DeliveryOutcome o;
    o.status = 503;
    o.error = "HTTP 503";
    return o;
  };
  std::vector<std::unique_ptr<Channel>> chans;
  chans.push_back(std::move(ch));
  RetryPolicy p;
  p.max_attempts = 3;
  auto d = dispatcher(std::move(chans), p);
  add_event("evt_1", "alert.created", "/j/", kT0);
  d->fan_out_once();
  EXPECT_EQ(d->deliver_once(*d->channels()[0], 10), 1);
  storage::Conn c = db_->acquire();
  auto r = c->query("SELECT state, attempts, next_attempt_at, last_status, last_error, lease_holder FROM deliveries");
  EXPECT_EQ(r[0].text(0), "pending");
  EXPECT_EQ(r[0].integer(1), 1);
  EXPECT_GE(r[0].integer(2), kT0 + 800);
  EXPECT_LE(r[0].integer(2), kT0 + 1000);
  EXPECT_EQ(r[0].integer(3), 503);
  EXPECT_EQ(r[0].text(4), "HTTP 503");
  EXPECT_TRUE(r[0].is_null(5));  // lease released
  // not due yet
  EXPECT_EQ(d->deliver_once(*d->channels()[0], 10), 0);
  clock_.advance_ms(1000);
  EXPECT_EQ(d->deliver_once(*d->channels()[0], 10), 1);
  r = c->query("SELECT next_attempt_at FROM deliveries");
  EXPECT_GE(r[0].integer(0), kT0 + 1000 + 1600);  // second delay: 2 s minus jitter
  EXPECT_LE(r[0].integer(0), kT0 + 1000 + 2000);
  clock_.advance_ms(2000);
  EXPECT_EQ(d->deliver_once(*d->channels()[0], 10), 1);
  r = c->query("SELECT state, attempts FROM deliveries");
  EXPECT_EQ(r[0].text(0), "dead");
  EXPECT_EQ(r[0].integer(1), 3);
  clock_.advance_ms(kDayMs);
  EXPECT_EQ(d->deliver_once(*d->channels()[0], 10), 0);  // dead stays dead
  auto sends = rc->sends();
  ASSERT_EQ(sends.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sends[i].substr(sends[i].find('#')), "#" + std::to_string(i + 1));
  EXPECT_EQ(rc->sends().size(), 3u);
}

TEST_P(NotifyDbTest, PermanentFailureIsDeadAtOnce) {
  auto ch = std::make_unique<RecordingChannel>("a");
  ch->outcome_for = [](const DeliveryJob&) {
    DeliveryOutcome o;
    o.permanent = true;
    o.error = "webhook deleted";
    return o;
  };
  std::vector<std::unique_ptr<Channel>> chans;
  chans.push_back(std::move(ch));
  auto d = dispatcher(std::move(chans));
  add_event("evt_1", "alert.created", "/j/", kT0);
  d->fan_out_once();
  d->deliver_once(*d->channels()[0], 10);
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'dead' AND attempts = 1"), 1);
}

// Two dispatchers (two nodes) over one database, two threads each: every delivery is sent
// exactly once per attempt, and every one is attempted.
TEST_P(NotifyDbTest, LeasesKeepTwoNodesFromSendingTheSameDelivery) {
  constexpr int kEvents = 120;
  auto make = [&](RecordingChannel*& out) {
    auto ch = std::make_unique<RecordingChannel>("a", 2);
    ch->delay_ms = 1;
    ch->batch = 5;
    // the first attempt of every delivery fails, the second succeeds
    ch->outcome_for = [](const DeliveryJob& j) {
      DeliveryOutcome o;
      o.delivered = j.attempts >= 1;
      if (!o.delivered) o.error = "first try fails";
      return o;
    };
    out = ch.get();
    std::vector<std::unique_ptr<Channel>> chans;
    chans.push_back(std::move(ch));
    return dispatcher(std::move(chans));
  };
  RecordingChannel* c1 = nullptr;
  RecordingChannel* c2 = nullptr;
  auto d1 = make(c1);
  auto d2 = make(c2);
  for (int i = 0; i < kEvents; ++i) add_event("evt_" + std::to_string(1000 + i), "alert.created", "/j/", kT0 + i);
  // both nodes fan out at once: the unique key keeps one delivery per event
  std::thread f1([&] { d1->fan_out_once(); });
  std::thread f2([&] { d2->fan_out_once(); });
  f1.join();
  f2.join();
  while (d1->fan_out_once() + d2->fan_out_once() > 0) {
  }
  ASSERT_EQ(count("SELECT COUNT(*) FROM deliveries"), kEvents);

  auto drain = [&] {
    // one batch each first, so that both nodes take part however the threads below are
    // scheduled (on a loaded machine one node's threads could otherwise drain everything)
    ASSERT_GT(d2->deliver_once(*d2->channels()[0], 5), 0);
    ASSERT_GT(d1->deliver_once(*d1->channels()[0], 5), 0);
    std::vector<std::thread> ts;
    for (Dispatcher* d : {d1.get(), d2.get(), d1.get(), d2.get()}) {
      ts.emplace_back([d] {
        while (d->deliver_once(*d->channels()[0], 5) > 0) {
        }
      });
    }
    for (auto& t : ts) t.join();
  };
  drain();
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND attempts = 1"), kEvents);
  clock_.advance_ms(2000);  // past every first backoff
  drain();
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered' AND attempts = 2"), kEvents);

  std::vector<std::string> all = c1->sends();
  auto more = c2->sends();
  all.insert(all.end(), more.begin(), more.end());
  std::set<std::string> unique(all.begin(), all.end());
  EXPECT_EQ(all.size(), unique.size()) << "a delivery attempt was sent twice";
  EXPECT_EQ(all.size(), static_cast<size_t>(2 * kEvents));
  EXPECT_GT(c1->sends().size(), 0u);
  EXPECT_GT(c2->sends().size(), 0u);
}

TEST_P(NotifyDbTest, AnExpiredLeaseIsTakenOverAndALateResultIsIgnored) {
  std::vector<std::unique_ptr<Channel>> chans;
  chans.push_back(std::make_unique<RecordingChannel>("a"));
  auto d = dispatcher(std::move(chans));
  add_event("evt_1", "alert.created", "/j/", kT0);
  d->fan_out_once();
  {
    // another node claimed it and died
    storage::Conn c = db_->acquire();
    c->exec("UPDATE deliveries SET lease_holder = 'dead-node/1', lease_until = $1", {kT0 + 30'000});
  }
  EXPECT_EQ(d->deliver_once(*d->channels()[0], 10), 0);
  clock_.advance_ms(30'001);
  EXPECT_EQ(d->deliver_once(*d->channels()[0], 10), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'"), 1);
  {
    // the dead node's late write must not land: its lease is gone
    storage::Conn c = db_->acquire();
    EXPECT_EQ(c->exec("UPDATE deliveries SET state = 'dead' WHERE lease_holder = 'dead-node/1'"), 0);
  }
}

// ---------------------------------------------------------------- webhooks

class WebhookTest : public NotifyDbTest {
 protected:
  void SetUp() override {
    NotifyDbTest::SetUp();
    cipher_ = std::make_unique<crypto::FieldCipher>(*crypto::FieldCipher::from_key(std::string(16, 'k')));
    audit_ = std::make_unique<audit::AuditLog>(clock_);
    svc_ = std::make_unique<WebhookService>(*db_, clock_, *cipher_, *audit_, loopback_allowed());
  }
  static Actor actor(std::string scope, bool admin = false) {
    Actor a;
    a.scope_jpath = std::move(scope);
    a.admin = admin;
    a.id = "usr_" + std::to_string(a.scope_jpath.size());
    a.name = "tester";
    a.role = admin ? "platform_admin" : "regulator";
    return a;
  }
  std::unique_ptr<crypto::FieldCipher> cipher_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<WebhookService> svc_;
};

TEST_P(WebhookTest, ScopeDecidesWhoSeesAndManagesAWebhook) {
  Actor city = actor("/j_p/j_city/");
  Actor dist = actor("/j_p/j_city/j_d1/");
  Actor other = actor("/j_p/j_city/j_d2/");
  Actor admin = actor("/", true);
  auto w = svc_->create(dist, {"http://127.0.0.1:9/h", {"alert.created"}, "0123456789abcdef", std::string("对接")});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->jpath, "/j_p/j_city/j_d1/");
  EXPECT_EQ(svc_->list(dist, 0, 20).second, 1);
  EXPECT_EQ(svc_->list(city, 0, 20).second, 1);
  EXPECT_EQ(svc_->list(admin, 0, 20).second, 1);
  EXPECT_EQ(svc_->list(other, 0, 20).second, 0);
  EXPECT_EQ(svc_->get(other, w->id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(svc_->remove(other, w->id).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(svc_->get(city, w->id).ok());
  auto bad = svc_->create(dist, {"ftp://x/", {"alert.created"}, "0123456789abcdef", std::nullopt});
  EXPECT_EQ(bad.error().field, "url");
  // the secret is stored encrypted
  storage::Conn c = db_->acquire();
  auto s = c->query("SELECT secret_enc FROM webhooks WHERE id = $1", {w->id})[0].text(0);
  EXPECT_EQ(s.find("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(crypto::FieldCipher::looks_encrypted(s));
  EXPECT_TRUE(svc_->remove(city, w->id).ok());
  EXPECT_EQ(svc_->get(dist, w->id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'webhook.%'"), 2);
}

TEST_P(WebhookTest, SendsSignedEventsOfItsScopeOnlyAndRetriesFailures) {
  std::atomic<int> status{200};
  RecordingHttpServer srv([&](const RecordedRequest&) { return status.load(); });
  Actor dist = actor("/j_p/j_city/j_d1/");
  auto w =
      svc_->create(dist, {srv.url("/in"), {"alert.created", "alert.updated"}, "s3cret-s3cret-s3cret", std::nullopt});
  ASSERT_TRUE(w.ok());
  auto http = make_http_client();
  std::vector<std::unique_ptr<Channel>> chans;
  WebhookChannelOptions wo;
  wo.policy = loopback_allowed();
  chans.push_back(std::make_unique<WebhookChannel>(*db_, clock_, *cipher_, *http, wo));
  auto d = dispatcher(std::move(chans));
  add_event("evt_in", "alert.created", "/j_p/j_city/j_d1/j_s1/", kT0);
  add_event("evt_out", "alert.created", "/j_p/j_city/j_d2/", kT0 + 1);
  add_event("evt_card", "alert.card", "/j_p/j_city/j_d1/", kT0 + 2);  // topic not subscribed
  add_event("evt_upd", "alert.updated", "/j_p/j_city/j_d1/", kT0 + 3);
  d->fan_out_once();
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 2);
  EXPECT_EQ(d->deliver_once(*d->channels()[0], 10), 2);
  auto got = srv.requests();
  ASSERT_EQ(got.size(), 2u);
  std::set<std::string> keys;
  for (const auto& r : got) {
    keys.insert(r.header("idempotency-key"));
    EXPECT_EQ(r.target, "/in");
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.header("x-mingchu-timestamp"), std::to_string(kT0 / 1000));
    EXPECT_EQ(
        r.header("x-mingchu-signature"),
        "sha256=" + crypto::hmac_sha256_hex("s3cret-s3cret-s3cret", r.header("x-mingchu-timestamp") + "." + r.body));
    EXPECT_EQ(r.header("x-mingchu-event"), r.header("idempotency-key") == "evt_in" ? "alert.created" : "alert.updated");
    EXPECT_EQ(r.header("x-mingchu-delivery").rfind("dlv_", 0), 0u);
    EXPECT_NE(r.body.find(r.header("idempotency-key")), std::string::npos);
  }
  EXPECT_EQ(keys, (std::set<std::string>{"evt_in", "evt_upd"}));
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered' AND last_status = 200"), 2);

  // a failing receiver: the delivery stays pending with the status in the log
  status = 500;
  add_event("evt_2", "alert.created", "/j_p/j_city/j_d1/", kT0 + 4);
  d->fan_out_once();
  d->deliver_once(*d->channels()[0], 10);
  auto log = svc_->deliveries_of(dist, w->id, std::string("pending"), 0, 20);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->second, 1);
  EXPECT_EQ(log->first[0].last_status, 500);
  EXPECT_EQ(log->first[0].attempts, 1);
  EXPECT_EQ(log->first[0].last_error, std::string("HTTP 500"));
  EXPECT_EQ(svc_->deliveries_of(actor("/j_p/j_city/j_d2/"), w->id, std::nullopt, 0, 20).error().kind,
            ErrorKind::kNotFound);
}

TEST_P(WebhookTest, DeadDeliveriesCanBeRetriedAndDeletingAWebhookStopsItsQueue) {
  Actor dist = actor("/j_p/j_d1/");
  auto w = svc_->create(dist, {"http://127.0.0.1:9/h", {"*"}, "0123456789abcdef", std::nullopt});
  ASSERT_TRUE(w.ok());
  storage::Conn c = db_->acquire();
  c->exec(
      "INSERT INTO deliveries (id, outbox_id, channel, target_id, topic, state, attempts, next_attempt_at, created_at, "
      "last_error) VALUES ('dlv_dead', 'evt_1', 'webhook', $1, 'alert.created', 'dead', 12, 0, 0, 'HTTP 500'), "
      "('dlv_pend', 'evt_2', 'webhook', $1, 'alert.created', 'pending', 1, 0, 0, NULL), "
      "('dlv_amqp', 'evt_1', 'amqp', 'mingchu.events', 'alert.created', 'dead', 12, 0, 0, 'nack')",
      {w->id});
  EXPECT_EQ(svc_->retry(dist, "dlv_pend").error().code, "not_dead");
  EXPECT_EQ(svc_->retry(actor("/j_p/j_d2/"), "dlv_dead").error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(svc_->retry(dist, "dlv_amqp").error().kind, ErrorKind::kNotFound);  // other channels: admins
  auto r = svc_->retry(dist, "dlv_dead");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, "pending");
  EXPECT_EQ(r->attempts, 0);
  EXPECT_TRUE(svc_->retry(actor("/", true), "dlv_amqp").ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 3);
  ASSERT_TRUE(svc_->remove(dist, w->id).ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE channel = 'webhook' AND state = 'dead'"), 2);
  EXPECT_EQ(svc_->retry(dist, "dlv_dead").error().code, "webhook_deleted");
  // the log stays readable after the delete
  EXPECT_EQ(svc_->deliveries_of(dist, w->id, std::nullopt, 0, 20)->second, 2);
  EXPECT_EQ(
      svc_->deliveries(DeliveryQuery{std::string("amqp"), std::nullopt, std::nullopt, std::nullopt, 0, 10}).second, 1);
}

// ---------------------------------------------------------------- SMS

TEST_P(NotifyDbTest, SmsGoesToTheUnitAndTheDutyPhonesOfItsJurisdictions) {
  {
    storage::Conn c = db_->acquire();
    c->exec(
        "INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) VALUES "
        "('j_c', NULL, 'city', '320600', '南通市', '/j_c/', 0), "
        "('j_d', 'j_c', 'district', '320602', '崇川区', '/j_c/j_d/', 0)");
    c->exec(
        "INSERT INTO units (id, jurisdiction_id, jpath, name, phone, store_type, disclosure_token, created_at, "
        "updated_at) VALUES ('u_1', 'j_d', '/j_c/j_d/', '江海人家', '13800000001', 'social_catering', 't1', 0, 0), "
        "('u_2', 'j_d', '/j_c/j_d/', '无电话', NULL, 'social_catering', 't2', 0, 0)");
  }
  RecordingHttpServer gw;
  SmsOptions o;
  o.url = gw.url("/sms");
  o.duty_phones = {{"320602", "0513-85000000"}};
  auto http = make_http_client();
  std::vector<std::unique_ptr<Channel>> chans;
  chans.push_back(std::make_unique<SmsChannel>(*db_, *http, o));
  auto d = dispatcher(std::move(chans));
  add_event("evt_c1", "alert.created", "/j_c/j_d/", kT0, true, "u_1");
  add_event("evt_c2", "alert.created", "/j_c/j_d/", kT0 + 1, false, "u_1");  // class 2: no SMS
  add_event("evt_c3", "alert.created", "/j_c/j_d/", kT0 + 2, true, "u_2");   // unit without a phone
  d->fan_out_once();
  storage::Conn c = db_->acquire();
  auto t = c->query("SELECT outbox_id, target_id FROM deliveries ORDER BY outbox_id, target_id");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].text(0) + " " + t[0].text(1), "evt_c1 duty:320602");
  EXPECT_EQ(t[1].text(0) + " " + t[1].text(1), "evt_c1 unit:u_1");
  EXPECT_EQ(t[2].text(0) + " " + t[2].text(1), "evt_c3 duty:320602");
  EXPECT_EQ(d->deliver_once(*d->channels()[0], 10), 3);
  auto got = gw.requests();
  ASSERT_EQ(got.size(), 3u);
  std::set<std::string> phones;
  for (const auto& r : got) {
    auto v = mingchu::parse_value(r.body);
    ASSERT_TRUE(v.ok()) << r.body;
    phones.insert(std::string(v->as_object().at("phone").as_string()));
    EXPECT_EQ(r.header("idempotency-key").rfind("evt_c", 0), 0u);
  }
  EXPECT_EQ(phones, (std::set<std::string>{"13800000001", "0513-85000000"}));
  // no phone numbers in the delivery log
  EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE target_id LIKE '%138%' OR last_error LIKE '%138%'"), 0);
}

// ---------------------------------------------------------------- SSE hub

TEST_P(NotifyDbTest, HubSendsEachNewEventOnceToSubscribersInScope) {
  add_event("evt_history", "alert.created", "/j_c/j_d1/", kT0 - 1000);
  EventHub hub(*db_, clock_, metrics_);
  hub.poll_once();  // primes: history is not replayed
  auth::Principal regulator;
  regulator.role = auth::Role::kRegulator;
  regulator.jpath = "/j_c/j_d1/";
  auth::Principal merchant;
  merchant.role = auth::Role::kMerchant;
  merchant.unit_ids = {"u_mine"};
  auto scope = [](auth::Principal p) {
    return [p](const OutboxEvent& e) { return !e.jpath.empty() && p.covers(e.jpath, e.unit_id); };
  };
  auto reg = hub.subscribe(scope(regulator));
  auto mer = hub.subscribe(scope(merchant));
  ASSERT_TRUE(reg.ok() && mer.ok());
  EXPECT_EQ(*(*reg)->next(std::chrono::milliseconds(0)), "retry: 3000\n\n");
  (*mer)->next(std::chrono::milliseconds(0));
  add_event("evt_a", "alert.created", "/j_c/j_d1/j_s/", kT0, false, "u_mine");
  add_event("evt_b", "alert.created", "/j_c/j_d2/", kT0 + 1, false, "u_other");
  EXPECT_EQ(hub.poll_once(), 2);
  EXPECT_EQ(hub.poll_once(), 0);
  // committed late with an older stamp, still inside the window
  add_event("evt_late", "alert.updated", "/j_c/j_d1/", kT0 - 2000, false, "u_x");
  // older than the window: not replayed
  add_event("evt_ancient", "alert.created", "/j_c/j_d1/", kT0 - 60'000, false, "u_x");
  EXPECT_EQ(hub.poll_once(), 1);
  std::vector<std::string> r;
  while (auto m = (*reg)->next(std::chrono::milliseconds(0))) r.push_back(*m);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].rfind("event: alert.created\nid: evt_a\ndata: {", 0), 0u);
  EXPECT_EQ(r[1].rfind("event: alert.updated\nid: evt_late\n", 0), 0u);
  std::vector<std::string> m;
  while (auto x = (*mer)->next(std::chrono::milliseconds(0))) m.push_back(*x);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_NE(m[0].find("id: evt_a\n"), std::string::npos);
  EXPECT_EQ(hub.subscribers(), 2u);
  mer->reset();  // the client went away
  EXPECT_EQ(hub.subscribers(), 1u);
}

TEST_P(NotifyDbTest, HubPagesThroughBursts) {
  EventHub hub(*db_, clock_, metrics_, HubOptions{std::chrono::milliseconds(300), 5000, 5000, 10, 7});
  hub.poll_once();
  auto all = hub.subscribe([](const OutboxEvent&) { return true; });
  for (int i = 0; i < 40; ++i) add_event("evt_" + std::to_string(500 + i), "alert.created", "/j/", kT0 + i / 10);
  EXPECT_EQ(hub.poll_once(), 40);
  int n = 0;
  (*all)->next(std::chrono::milliseconds(0));  // retry:
  while ((*all)->next(std::chrono::milliseconds(0))) ++n;
  EXPECT_EQ(n, 40);
  EXPECT_EQ(hub.subscribe([](const OutboxEvent&) { return true; }).ok(), true);
  HubOptions tiny;
  tiny.max_subscribers = 1;
  EventHub small(*db_, clock_, metrics_, tiny);
  auto keep = small.subscribe(nullptr);
  EXPECT_EQ(small.subscribe(nullptr).error().kind, ErrorKind::kUnavailable);
}

// The newest event is stamped far ahead of the clock (a manual clock moved ahead before a
// restart, or the system clock stepped back): events stamped now still reach the stream.
TEST_P(NotifyDbTest, HubFollowsAClockThatIsBehindTheNewestEvent) {
  add_event("evt_future", "alert.created", "/j/", kT0 + 10 * kDayMs);
  add_event("evt_recent", "alert.created", "/j/", kT0 - 1000);
  EventHub hub(*db_, clock_, metrics_);
  hub.poll_once();  // primes: both are history
  auto all = hub.subscribe([](const OutboxEvent&) { return true; });
  (*all)->next(std::chrono::milliseconds(0));
  add_event("evt_now", "alert.created", "/j/", kT0);
  EXPECT_EQ(hub.poll_once(), 1);
  EXPECT_EQ(hub.poll_once(), 0);
  clock_.advance_ms(2000);
  add_event("evt_later", "alert.updated", "/j/", kT0 + 2000);
  EXPECT_EQ(hub.poll_once(), 1);
  std::vector<std::string> got;
  while (auto m = (*all)->next(std::chrono::milliseconds(0))) got.push_back(m->substr(0, m->find("\ndata:")));
  EXPECT_EQ(got,
            (std::vector<std::string>{"event: alert.created\nid: evt_now", "event: alert.updated\nid: evt_later"}));
}

INSTANTIATE_TEST_SUITE_P(Engines, NotifyDbTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Engines, WebhookTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::notify
