// Pure parts of the notify module: backoff schedule, webhook signatures and validation, URL
// parsing, SMS templates, SSE framing, AMQP routing keys, scope of webhooks, and the HTTP
// client against a local server.
#include <gtest/gtest.h>

#include "crypto/sm3.hpp"
#include "notify/amqp.hpp"
#include "notify/backoff.hpp"
#include "notify/event_hub.hpp"
#include "notify/http_client.hpp"
#include "notify/sms.hpp"
#include "notify/testing.hpp"
#include "notify/webhooks.hpp"

namespace mingchu::notify {
namespace {

TEST(Backoff, DoublesFromOneSecondUpToTheCapWithoutJitter) {
  RetryPolicy p;  // 1 s, cap 10 min
  std::vector<TimeMs> got;
  for (int a = 1; a <= 13; ++a) got.push_back(backoff_delay(p, a, 0.0));
  std::vector<TimeMs> want = {1000,   2000,   4000,   8000,   16000,  32000, 64000,
                              128000, 256000, 512000, 600000, 600000, 600000};
  EXPECT_EQ(got, want);
  EXPECT_EQ(backoff_delay(p, 1000, 0.0), 600000);  // no overflow far out
  EXPECT_EQ(backoff_delay(p, 0, 0.0), 1000);
}

TEST(Backoff, JitterOnlyShortensByAtMostItsFraction) {
  RetryPolicy p;
  p.jitter = 0.2;
  for (double u : {0.0, 0.25, 0.5, 0.999, 1.0}) {
    TimeMs d = backoff_delay(p, 3, u);
    EXPECT_LE(d, 4000);
    EXPECT_GE(d, 3200);
  }
  EXPECT_EQ(backoff_delay(p, 3, 0.5), 3600);
  EXPECT_LE(backoff_delay(p, 20, 0.99), p.cap_ms);
}

TEST(Backoff, ExhaustedAfterMaxAttempts) {
  RetryPolicy p;
  p.max_attempts = 8;
  EXPECT_FALSE(exhausted(p, 7));
  EXPECT_TRUE(exhausted(p, 8));
  EXPECT_TRUE(exhausted(p, 9));
}

TEST(WebhookSignature, IsHmacSha256OfTimestampDotBody) {
  std::string body = R"({"schema":"mingchu.event.v1","id":"evt_1"})";
  std::string sig = webhook_signature("0123456789abcdef", "1795000000", body);
  EXPECT_EQ(sig, "sha256=" + crypto::hmac_sha256_hex("0123456789abcdef", "1795000000." + body));
  EXPECT_EQ(sig.size(), 7u + 64u);
  // RFC 4231 test case 2, to pin the primitive itself
  EXPECT_EQ(crypto::hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_NE(webhook_signature("0123456789abcdef", "1795000001", body), sig);
}

TEST(WebhookValidation, AcceptsHttpAndHttpsOnly) {
  WebhookInput in{"https://example.gov.cn/hook", {"alert.created"}, "0123456789abcdef", std::nullopt};
  EXPECT_TRUE(validate_webhook(in).ok());
  in.url = "http://127.0.0.1:9000/x?y=1";
  EXPECT_TRUE(validate_webhook(in).ok());
  for (std::string bad : {"ftp://example.com/", "file:///etc/passwd", "gopher://x", "javascript:alert(1)", "http://",
                          "http://user:pw@example.com/", "http://exa mple.com/", "http://example.com:0/",
                          "http://example.com:99999/", "https://[::1/x", "http://a\r\nb/"}) {
    in.url = bad;
    auto st = validate_webhook(in);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().field, "url") << bad;
  }
  in.url = "https://example.com/" + std::string(500, 'a');
  EXPECT_EQ(validate_webhook(in).error().code, "invalid_url");
}

TEST(WebhookValidation, ChecksEventsAndSecret) {
  WebhookInput in{"https://example.com/h", {"*"}, "0123456789abcdef", std::nullopt};
  EXPECT_TRUE(validate_webhook(in).ok());
  in.events = {};
  EXPECT_EQ(validate_webhook(in).error().field, "events");
  in.events = {"alert.created", "alert.deleted"};
  EXPECT_EQ(validate_webhook(in).error().field, "events[1]");
  in.events = {"alert.created", "alert.created"};
  EXPECT_EQ(validate_webhook(in).error().code, "duplicate_topic");
  in.events = {"alert.created"};
  in.secret = "short";
  EXPECT_EQ(validate_webhook(in).error().field, "secret");
  in.secret = std::string(257, 'x');
  EXPECT_EQ(validate_webhook(in).error().field, "secret");
  in.secret = "明厨明厨明厨明厨明厨明厨明厨明厨";  // 16 characters, 48 bytes
  EXPECT_TRUE(validate_webhook(in).ok());
}

TEST(HttpUrl, ParsesHostPortAndTarget) {
  auto u = parse_http_url("HTTPS://Example.com:8443/a/b?c=d#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "Example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/a/b?c=d");
  u = parse_http_url("http://127.0.0.2");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/");
  u = parse_http_url("http://[::1]:81?x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->target, "/?x");
  EXPECT_FALSE(parse_http_url("http://host:/").ok());
  EXPECT_FALSE(parse_http_url("http://ho_st/").ok());
}

OutboxEvent event(std::string id, std::string topic, std::string jpath, std::string payload = "{}") {
  OutboxEvent e;
  e.id = std::move(id);
  e.topic = std::move(topic);
  e.jpath = std::move(jpath);
  e.unit_id = "unit_1";
  e.payload = std::move(payload);
  return e;
}

TEST(WebhookScope, OnlyEventsInsideTheCreatorsSubtreeAndTopics) {
  auto e = event("e1", "alert.created", "/j_prov/j_city/j_dist/");
  EXPECT_TRUE(webhook_wants({"*"}, "/", e));
  EXPECT_TRUE(webhook_wants({"alert.created"}, "/j_prov/j_city/", e));
  EXPECT_TRUE(webhook_wants({"alert.created"}, "/j_prov/j_city/j_dist/", e));
  EXPECT_FALSE(webhook_wants({"alert.created"}, "/j_prov/j_other/", e));
  EXPECT_FALSE(webhook_wants({"alert.created"}, "/j_prov/j_city/j_dist/j_station/", e));
  EXPECT_FALSE(webhook_wants({"alert.updated"}, "/", e));
  // "/j_prov/j_ci/" is not a prefix in the path sense of "/j_prov/j_city/": segments end in '/'
  EXPECT_FALSE(webhook_wants({"*"}, "/j_prov/j_ci/", e));
  auto none = event("e2", "cert.expired", "");
  EXPECT_TRUE(webhook_wants({"*"}, "/", none));
  EXPECT_FALSE(webhook_wants({"*"}, "/j_prov/", none));
}

TEST(SseFormat, EventIdDataAndBlankLine) {
  EXPECT_EQ(format_sse("alert.created", "evt_1", R"({"a":1})"), "event: alert.created\nid: evt_1\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(format_sse("x", "1", "a\nb\r\nc"), "event: x\nid: 1\ndata: a\ndata: b\ndata: c\n\n");
  auto msgs = sse_messages(event("evt_2", "alert.card", "/j/", R"({"x":true})"));
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0], "event: alert.card\nid: evt_2\ndata: {\"x\":true}\n\n");
  EXPECT_EQ(msgs[1], "event: notification\nid: evt_2\ndata: {\"x\":true}\n\n");
  EXPECT_EQ(sse_messages(event("evt_3", "alert.created", "/j/")).size(), 1u);
  EXPECT_EQ(sse_messages(event("evt_4", "cert.expiring", "/j/")).size(), 2u);
  EXPECT_TRUE(sse_messages(event("evt\n5", "alert.created", "/j/")).empty());
}

TEST(SseSubscription, BoundedQueueDropsOldestAndCounts) {
  Subscription s([](const OutboxEvent& e) { return e.jpath.rfind("/a/", 0) == 0; }, 3);
  for (int i = 0; i < 5; ++i) {
    auto e = event("e" + std::to_string(i), "alert.created", "/a/b/");
    s.offer(e, sse_messages(e));
  }
  auto out = event("x", "alert.created", "/z/");
  EXPECT_EQ(s.offer(out, sse_messages(out)), 0u);
  EXPECT_EQ(s.dropped(), 2u);
  auto m = s.next(std::chrono::milliseconds(0));
  ASSERT_TRUE(m);
  EXPECT_NE(m->find("id: e2\n"), std::string::npos);
  EXPECT_TRUE(s.next(std::chrono::milliseconds(0)));
  EXPECT_TRUE(s.next(std::chrono::milliseconds(0)));
  EXPECT_FALSE(s.next(std::chrono::milliseconds(0)));
  s.close();
  EXPECT_TRUE(s.closed());
}

TEST(SmsTemplate, FillsPlaceholdersJsonEscaped) {
  std::map<std::string, std::string> vars{{"phone", "13800000000"}, {"unit", "江海\"人家\""}, {"class", "1"}};
  EXPECT_EQ(render_template(R"({"to":"{phone}","u":"{unit}","c":{class},"k":"{unknown}"})", vars, true),
            R"({"to":"13800000000","u":"江海\"人家\"","c":1,"k":"{unknown}"})");
  EXPECT_EQ(render_template("to={phone}&u={unit}", vars, false), "to=13800000000&u=江海\"人家\"");
  std::string payload =
      R"({"schema":"mingchu.event.v1","id":"evt_9","topic":"alert.created","occurred_at":"2026-11-22T08:30:00+08:00",)"
      R"("unit":{"id":"u1","name":"江海人家","jurisdiction_id":"j1"},"alert":{"id":"alt_1","type":"no_mask",)"
      R"("type_name_zh":"未戴口罩","risk_class":1,"occurred_at":"2026-11-22T08:29:00+08:00"}})";
  auto v = sms_vars(event("evt_9", "alert.created", "/j1/", payload));
  EXPECT_EQ(v["unit"], "江海人家");
  EXPECT_EQ(v["type"], "未戴口罩");
  EXPECT_EQ(v["class"], "1");
  EXPECT_EQ(v["time"], "2026-11-22T08:29:00+08:00");
  EXPECT_EQ(v["alert_id"], "alt_1");
  EXPECT_EQ(v["event_id"], "evt_9");
  auto broken = sms_vars(event("evt_10", "alert.created", "/j1/", "not json"));
  EXPECT_EQ(broken["unit"], "");
}

TEST(AmqpRoutingKey, TopicThenJurisdictionPath) {
  EXPECT_EQ(amqp_routing_key(event("e", "alert.created", "/j_js/j_nt/j_cc/")), "alert.created.j_js.j_nt.j_cc");
  EXPECT_EQ(amqp_routing_key(event("e", "cert.expired", "")), "cert.expired");
  std::string deep = "/" + std::string(200, 'a') + "/" + std::string(100, 'b') + "/";
  EXPECT_EQ(amqp_routing_key(event("e", "alert.created", deep)), "alert.created." + std::string(200, 'a'));
  EXPECT_EQ(amqp_describe("amqp://guest:secret@127.0.0.1:5672/vh"), "amqp://guest:***@127.0.0.1:5672/vh");
}

TEST(HttpClient, PostsAndReadsTheStatus) {
  testing::RecordingHttpServer srv([](const testing::RecordedRequest& r) { return r.target == "/bad" ? 500 : 204; });
  auto client = make_http_client();
  HttpPost req;
  req.url = srv.url("/hook?x=1");
  req.body = R"({"k":"值"})";
  req.headers = {{"X-Test", "1"}};
  auto r = client->post(req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 204);
  req.url = srv.url("/bad");
  r = client->post(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
  auto got = srv.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/hook?x=1");
  EXPECT_EQ(got[0].body, R"({"k":"值"})");
  EXPECT_EQ(got[0].header("x-test"), "1");
  EXPECT_EQ(got[0].header("content-type"), "application/json");
  EXPECT_EQ(got[0].header("host"), "127.0.0.1:" + std::to_string(srv.port()));
}

TEST(WebhookTarget, LoopbackNamesAndAddressesAreRefusedUnlessAllowed) {
  net::AddressPolicy none;
  for (const char* url : {"http://localhost:8080/hook", "http://127.0.0.1/hook", "http://127.9.9.9:9/x",
                          "https://[::1]:8443/hook", "http://0.0.0.0:80/", "http://[::ffff:127.0.0.1]/"}) {
    auto st = check_webhook_target(url, none);
    ASSERT_FALSE(st.ok()) << url;
    EXPECT_EQ(st.error().code, "forbidden_address") << url;
    EXPECT_EQ(st.error().field, "url") << url;
  }
  net::AddressPolicy lo{*net::parse_networks("127.0.0.0/8, ::1")};
  EXPECT_TRUE(check_webhook_target("http://127.0.0.1/hook", lo).ok());
  EXPECT_TRUE(check_webhook_target("http://localhost:8080/hook", lo).ok());
  EXPECT_TRUE(check_webhook_target("https://[::1]:8443/hook", lo).ok());
  EXPECT_FALSE(check_webhook_target("http://0.0.0.0/", lo).ok()) << "only what is listed";
  // a name that does not resolve now is checked again at each delivery
  EXPECT_TRUE(check_webhook_target("http://no-such-host.invalid/hook", none).ok());
}

TEST(HttpClient, ConnectsOnlyToAddressesThePolicyAllows) {
  testing::RecordingHttpServer srv([](const testing::RecordedRequest&) { return 204; });
  auto client = make_http_client();
  net::AddressPolicy none;
  HttpPost req;
  req.url = "http://localhost:" + std::to_string(srv.port()) + "/hook";  // the name resolves to loopback
  req.body = "{}";
  req.policy = &none;
  auto r = client->post(req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not allowed"), std::string::npos) << r.error().message;
  req.url = srv.url("/hook");
  EXPECT_FALSE(client->post(req).ok());
  EXPECT_EQ(srv.requests().size(), 0u) << "nothing was sent";
  net::AddressPolicy lo{*net::parse_networks("127.0.0.0/8")};
  req.policy = &lo;
  auto ok = client->post(req);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, 204);
  EXPECT_EQ(srv.requests().size(), 1u);
}

TEST(HttpClient, RefusedAndTimeoutsAreUnavailable) {
  auto client = make_http_client();
  unsigned short dead_port;
  {
    testing::RecordingHttpServer srv;
    dead_port = srv.port();
  }
  HttpPost req;
  req.url = "http://127.0.0.1:" + std::to_string(dead_port) + "/";
  auto r = client->post(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable);

  testing::RecordingHttpServer slow([](const testing::RecordedRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    return 200;
  });
  req.url = slow.url();
  req.timeout = std::chrono::milliseconds(200);
  auto t0 = std::chrono::steady_clock::now();
  r = client->post(req);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos) << r.error().message;
  EXPECT_LT(took, std::chrono::milliseconds(700));
  req.url = "ftp://127.0.0.1/";
  EXPECT_EQ(client->post(req).error().kind, ErrorKind::kInvalid);
}

}  // namespace
}  // namespace mingchu::notify
