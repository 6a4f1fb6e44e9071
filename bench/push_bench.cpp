// Delivery throughput of the outbox dispatcher, beside the raw rate of the same sends
// without it, measured in the same invocation:
//
//   webhook: N outbox events -> fan-out -> leased claims -> signed POSTs to a local receiver
//            (4 lanes), vs the same POSTs sent directly by 4 threads with the same client;
//   amqp:    N events -> fan-out -> claims of 100 -> publish + confirms, vs the same batches
//            published directly on the AMQP channel (needs MINGCHU_TEST_AMQP).
//
// Usage: bench_push [N] [sqlite|postgres]   (postgres needs MINGCHU_TEST_PG)
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "audit/audit_log.hpp"
#include "core/ids.hpp"
#include "crypto/field_cipher.hpp"
#include "notify/amqp.hpp"
#include "notify/dispatcher.hpp"
#include "notify/testing.hpp"
#include "notify/webhooks.hpp"
#include "storage/testing.hpp"

using namespace mingchu;
using namespace mingchu::notify;
using Steady = std::chrono::steady_clock;

namespace {

double secs(Steady::time_point t0) { return std::chrono::duration<double>(Steady::now() - t0).count(); }

std::string payload(const std::string& id) {
  std::string p = R"({"schema":"mingchu.event.v1","id":")" + id +
                  R"(","topic":"alert.created","unit":{"id":"unit_1","name":"江海人家","jurisdiction_id":"j_d"},)"
                  R"("alert":{"id":"alert_1","type":"rodent","type_name_zh":"老鼠出没","risk_class":1,"state":"open"}})";
  return p;
}

void add_events(storage::Database& db, int n, TimeMs at) {
  db.in_transaction([&](storage::Connection& c) {
    for (int i = 0; i < n; ++i) {
      std::string id = "evt_" + random_hex(8);
      c.exec("INSERT INTO outbox (id, topic, unit_id, jpath, payload, sms, created_at) VALUES ($1,'alert.created',"
             "'unit_1','/j_c/j_d/',$2,0,$3)",
             {id, payload(id), at + i});
    }
  });
}

std::int64_t count(storage::Database& db, const std::string& sql) {
  storage::Conn c = db.acquire();
  return c->query(sql)[0].integer(0);
}

// Runs the dispatcher threads until every delivery of `channel` is delivered.
double run_dispatcher(storage::Database& db, const Clock& clock, std::vector<std::unique_ptr<Channel>> chans,
                      const std::string& channel, int n) {
  Metrics m;
  DispatcherOptions o;
  o.poll = std::chrono::milliseconds(20);
  Dispatcher d(db, clock, m, o, std::move(chans));
  auto t0 = Steady::now();
  d.start();
  while (count(db, "SELECT COUNT(*) FROM deliveries WHERE channel = '" + channel + "' AND state = 'delivered'") < n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (secs(t0) > 300) {
      std::fprintf(stderr, "timeout\n");
      break;
    }
  }
  double s = secs(t0);
  d.stop();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  std::string engine = argc > 2 ? argv[2] : "sqlite";
  SystemClock clock;
  std::printf("push delivery throughput, %d events, %s\n", n, engine.c_str());

  // ---------------------------------------------------------------- webhook
  {
    testing::RecordingHttpServer receiver;
    auto http = make_http_client();
    // baseline: the same signed POSTs, 4 threads, no database
    std::atomic<int> next{0};
    auto t0 = Steady::now();
    std::vector<std::thread> ts;
    for (int k = 0; k < 4; ++k) {
      ts.emplace_back([&] {
        while (next.fetch_add(1) < n) {
          HttpPost p;
          p.url = receiver.url();
          p.body = payload("evt_x");
          p.headers = {{"X-MingChu-Signature", webhook_signature("0123456789abcdef", "1", p.body)}};
          (void)http->post(p);
        }
      });
    }
    for (auto& t : ts) t.join();
    double raw = secs(t0);

    auto db = storage::open_test_database(engine, 8);
    auto cipher = *crypto::FieldCipher::from_key(std::string(16, 'k'));
    audit::AuditLog audit(clock);
    WebhookService svc(*db, clock, cipher, audit);
    Actor admin{"/", true, "usr_bench", "bench", "platform_admin", ""};
    (void)svc.create(admin, {receiver.url(), {"*"}, "0123456789abcdef", std::nullopt});
    add_events(*db, n, clock.now_ms() - 1000);
    std::vector<std::unique_ptr<Channel>> chans;
    WebhookChannelOptions wo;
    wo.policy.allow = *net::parse_networks("127.0.0.0/8");  // the receivers of this benchmark are local
    chans.push_back(std::make_unique<WebhookChannel>(*db, clock, cipher, *http, wo));
    double disp = run_dispatcher(*db, clock, std::move(chans), "webhook", n);
    std::printf("webhook  direct %8.0f POST/s | dispatcher %8.0f deliveries/s | ratio %.2f\n", n / raw, n / disp,
                raw / disp);
  }

  // ---------------------------------------------------------------- amqp
  const char* amqp_url = std::getenv("MINGCHU_TEST_AMQP");
  if (!amqp_url || !*amqp_url) {
    std::printf("amqp     skipped (MINGCHU_TEST_AMQP not set)\n");
    return 0;
  }
  {
    Metrics m;
    AmqpOptions o;
    o.url = amqp_url;
    o.exchange = "mingchu.bench";
    AmqpChannel direct(o, m);
    if (!direct.connect()) {
      std::printf("amqp     broker unreachable\n");
      return 1;
    }
    std::vector<DeliveryJob> batch(100);
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].id = "dlv_" + std::to_string(i);
      batch[i].event.id = "evt_" + std::to_string(i);
      batch[i].event.topic = "alert.created";
      batch[i].event.jpath = "/j_c/j_d/";
      batch[i].event.payload = payload(batch[i].event.id);
    }
    auto t0 = Steady::now();
    for (int sent = 0; sent < n; sent += 100) (void)direct.deliver(batch);
    double raw = secs(t0);

    auto db = storage::open_test_database(engine, 8);
    add_events(*db, n, clock.now_ms() - 1000);
    std::vector<std::unique_ptr<Channel>> chans;
    chans.push_back(std::make_unique<AmqpChannel>(o, m));
    double disp = run_dispatcher(*db, clock, std::move(chans), "amqp", n);
    std::printf("amqp     direct %8.0f msg/s  | dispatcher %8.0f deliveries/s | ratio %.2f\n", n / raw, n / disp,
                raw / disp);
  }
  return 0;
}
