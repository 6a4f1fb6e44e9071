// The AMQP channel: not ready (and cheap) while the broker is unreachable; against the real
// RabbitMQ of scripts/services.sh (MINGCHU_TEST_AMQP; skipped when unset), confirmed,
// persistent messages with the event id as message_id and the routing key of the topic and
// jurisdiction path.
#include "notify/amqp.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "notify/testing.hpp"

namespace mingchu::notify {
namespace {

// The broker URL, or nullptr; without one the test is skipped, except under the test command
// (MINGCHU_REQUIRE_PG=1), which runs with every service and fails instead.
const char* broker_or_fail(bool& fail) {
  const char* url = std::getenv("MINGCHU_TEST_AMQP");
  const char* req = std::getenv("MINGCHU_REQUIRE_PG");
  fail = (!url || !*url) && req && std::string(req) == "1";
  return url && *url ? url : nullptr;
}

DeliveryJob job(std::string id, std::string topic, std::string jpath) {
  DeliveryJob j;
  j.id = "dlv_" + id;
  j.target_id = "x";
  j.event.id = std::move(id);
  j.event.topic = std::move(topic);
  j.event.jpath = std::move(jpath);
  j.event.unit_id = "unit_1";
  j.event.payload = R"({"schema":"mingchu.event.v1","id":")" + j.event.id + R"("})";
  j.event.created_at = 1'800'000'000'000;
  return j;
}

TEST(AmqpChannel, IsNotReadyWhileTheBrokerIsUnreachable) {
  unsigned short dead;
  {
    testing::RecordingHttpServer s;  // a port that was free a moment ago
    dead = s.port();
  }
  Metrics m;
  AmqpOptions o;
  o.url = "amqp://guest:guest@127.0.0.1:" + std::to_string(dead) + "/";
  o.confirm_timeout = std::chrono::milliseconds(500);
  AmqpChannel ch(o, m);
  EXPECT_FALSE(ch.ready());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(ch.ready());  // inside the backoff: no new attempt
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
  auto out = ch.deliver(std::vector<DeliveryJob>{job("e1", "alert.created", "/j/")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].delivered);
  EXPECT_NE(out[0].error.find("unreachable"), std::string::npos) << out[0].error;
  AmqpOptions bad = o;
  bad.url = "not a url";
  AmqpChannel b(bad, m);
  EXPECT_EQ(b.connect().error().kind, ErrorKind::kInvalid);
}

// A consumer made with rabbitmq-c: a private queue bound to the exchange.
class Consumer {
 public:
  Consumer(const std::string& url, const std::string& exchange, const std::string& binding) {
    std::string buf = url;
    amqp_connection_info ci;
    amqp_default_connection_info(&ci);
    amqp_parse_url(buf.data(), &ci);
    st_ = amqp_new_connection();
    amqp_socket_t* s = amqp_tcp_socket_new(st_);
    ok_ = amqp_socket_open(s, ci.host, ci.port) == AMQP_STATUS_OK;
    if (!ok_) return;
    std::string vhost = ci.vhost && *ci.vhost ? ci.vhost : "/";
    ok_ = amqp_login(st_, vhost.c_str(), 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password).reply_type ==
          AMQP_RESPONSE_NORMAL;
    amqp_channel_open(st_, 1);
    amqp_exchange_declare(st_, 1, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                          amqp_empty_table);
    auto* q = amqp_queue_declare(st_, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    ok_ = ok_ && q;
    if (!ok_) return;
    queue_ = std::string(static_cast<char*>(q->queue.bytes), q->queue.len);
    amqp_queue_bind(st_, 1, q->queue, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes(binding.c_str()),
                    amqp_empty_table);
    ok_ = amqp_get_rpc_reply(st_).reply_type == AMQP_RESPONSE_NORMAL;
  }
  ~Consumer() {
    amqp_channel_close(st_, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(st_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(st_);
  }
  bool ok() const { return ok_; }
  void delete_exchange(const std::string& exchange) {
    amqp_exchange_delete(st_, 1, amqp_cstring_bytes(exchange.c_str()), 0);
  }

  struct Msg {
    std::string body, message_id, content_type, type, routing_key;
    int delivery_mode = 0;
  };
  std::optional<Msg> get() {
    amqp_rpc_reply_t r = amqp_basic_get(st_, 1, amqp_cstring_bytes(queue_.c_str()), 1);
    if (r.reply_type != AMQP_RESPONSE_NORMAL || r.reply.id != AMQP_BASIC_GET_OK_METHOD) return std::nullopt;
    auto* ok = static_cast<amqp_basic_get_ok_t*>(r.reply.decoded);
    Msg m;
    m.routing_key.assign(static_cast<char*>(ok->routing_key.bytes), ok->routing_key.len);
    amqp_message_t msg;
    if (amqp_read_message(st_, 1, &msg, 0).reply_type != AMQP_RESPONSE_NORMAL) return std::nullopt;
    auto str = [](amqp_bytes_t b) { return std::string(static_cast<char*>(b.bytes), b.len); };
    m.body = str(msg.body);
    if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) m.message_id = str(msg.properties.message_id);
    if (msg.properties._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) m.content_type = str(msg.properties.content_type);
    if (msg.properties._flags & AMQP_BASIC_TYPE_FLAG) m.type = str(msg.properties.type);
    if (msg.properties._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) m.delivery_mode = msg.properties.delivery_mode;
    amqp_destroy_message(&msg);
    return m;
  }

 private:
  amqp_connection_state_t st_ = nullptr;
  bool ok_ = false;
  std::string queue_;
};

TEST(AmqpChannel, PublishesConfirmedPersistentMessagesToTheTopicExchange) {
  bool must = false;
  const char* url = broker_or_fail(must);
  if (must) FAIL() << "MINGCHU_TEST_AMQP is not set: start the services";
  if (!url) GTEST_SKIP() << "MINGCHU_TEST_AMQP is not set (scripts/services.sh start)";
  Metrics m;
  AmqpOptions o;
  o.url = url;
  o.exchange = "mingchu.test." + random_hex(4);  // this test's own exchange
  AmqpChannel ch(o, m);
  ASSERT_TRUE(ch.connect().ok());
  ASSERT_TRUE(ch.ready());
  Consumer city(url, o.exchange, "alert.*.j_js.j_nt.#");
  ASSERT_TRUE(city.ok());
  std::vector<DeliveryJob> jobs = {job("e1", "alert.created", "/j_js/j_nt/j_cc/"),
                                   job("e2", "alert.updated", "/j_js/j_nt/"), job("e3", "alert.created", "/j_js/j_sz/"),
                                   job("e4", "cert.expired", "")};
  auto out = ch.deliver(jobs);
  ASSERT_EQ(out.size(), 4u);
  for (const auto& o2 : out) EXPECT_TRUE(o2.delivered) << o2.error;
  std::vector<Consumer::Msg> got;
  while (auto msg = city.get()) got.push_back(*msg);
  ASSERT_EQ(got.size(), 2u);  // the city binding takes the Nantong alerts only
  EXPECT_EQ(got[0].message_id, "e1");
  EXPECT_EQ(got[0].routing_key, "alert.created.j_js.j_nt.j_cc");
  EXPECT_EQ(got[0].content_type, "application/json");
  EXPECT_EQ(got[0].delivery_mode, 2);
  EXPECT_EQ(got[0].type, "alert.created");
  EXPECT_EQ(got[0].body, jobs[0].event.payload);
  EXPECT_EQ(got[1].message_id, "e2");
  // a second batch on the same connection: delivery tags keep counting
  auto again = ch.deliver(std::vector<DeliveryJob>{job("e5", "alert.card", "/j_js/j_nt/")});
  EXPECT_TRUE(again[0].delivered) << again[0].error;
  EXPECT_EQ(m.counter("mingchu_amqp_published_total", "result=\"confirmed\"").value(), 5u);
  city.delete_exchange(o.exchange);
}

// Idle longer than the heartbeat timeout: ready() keeps the connection alive, so the next
// publish succeeds at its first attempt.
TEST(AmqpChannel, StaysConnectedWhileIdle) {
  bool must = false;
  const char* url = broker_or_fail(must);
  if (must) FAIL() << "MINGCHU_TEST_AMQP is not set: start the services";
  if (!url) GTEST_SKIP() << "MINGCHU_TEST_AMQP is not set (scripts/services.sh start)";
  Metrics m;
  AmqpOptions o;
  o.url = url;
  o.exchange = "mingchu.test." + random_hex(4);
  o.heartbeat_seconds = 1;
  AmqpChannel ch(o, m);
  ASSERT_TRUE(ch.connect().ok());
  for (int i = 0; i < 25; ++i) {  // 5 s: the broker gives up after two missed heartbeats
    ASSERT_TRUE(ch.ready()) << "poll " << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  auto out = ch.deliver(std::vector<DeliveryJob>{job("idle-1", "alert.created", "/j/")});
  EXPECT_TRUE(out[0].delivered) << out[0].error;
  EXPECT_EQ(m.counter("mingchu_amqp_connects_total", "").value(), 1u);
  Consumer c(url, o.exchange, "#");
  c.delete_exchange(o.exchange);
}

}  // namespace
}  // namespace mingchu::notify
