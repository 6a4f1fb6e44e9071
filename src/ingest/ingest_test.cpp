// The ingest edge: parse_alert_event on hostile input (pure), and IngestService on every
// engine — group commit from many threads, idempotency, scope, 503 for a failed batch,
// inline snapshots, heartbeats and offline/online, sensor thresholds with a duration.
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "alerts/scheduler.hpp"
#include "alerts/testing.hpp"
#include "storage/testing.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "crypto/base64.hpp"
#include "files/file_store.hpp"
#include "ingest/ingest_service.hpp"
#include "registry/devices.hpp"

namespace mingchu::ingest {
namespace {

using alerts::testing::kStart;
using alerts::testing::World;
using registry::DeviceInput;
using registry::DeviceService;
using registry::parse_device_input;

const std::string kPng("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde", 33);

std::string event_json(const std::string& extra) {
  return R"({"event_id": "e-1", "camera_id": "ca1", "type": "rodent", "occurred_at": "2026-11-22T08:00:00+08:00")" +
         extra + "}";
}

struct Refusal {
  std::string body;
  int status;
  std::string code;
  std::string field;
};

TEST(ParseAlertEvent, AcceptsAFullEvent) {
  std::string b64 = crypto::base64_encode(kPng);
  auto ev = parse_alert_event(
      R"({"event_id": "box-7/2026-11-22/000123", "camera_id": "ca1", "unit_id": "ua", "type": "rodent",
          "occurred_at": "2026-11-22T08:30:00.250+08:00", "confidence": 0.97, "model": "yolov8n-kitchen-1.3",
          "boxes": [{"x": 10, "y": 20.5, "w": 30, "h": 40, "label": "rat", "score": 0.9}],
          "snapshot_base64": ")" +
      b64 + "\"}");
  ASSERT_TRUE(ev.ok()) << ev.error().message;
  EXPECT_EQ(ev->event_id, "box-7/2026-11-22/000123");
  EXPECT_EQ(ev->occurred_at, kStart + 30 * kMinuteMs + 250);
  EXPECT_EQ(*ev->confidence, 0.97);
  ASSERT_EQ(ev->boxes.size(), 1u);
  EXPECT_EQ(ev->boxes[0].label, "rat");
  ASSERT_TRUE(ev->snapshot.has_value());
  EXPECT_EQ(ev->snapshot->content_type, "image/png");
  EXPECT_EQ(ev->snapshot->bytes, kPng);
}

TEST(ParseAlertEvent, RefusesHostileInputWithAClearError) {
  std::string big((kMaxSnapshotBytes + 3) / 3 * 4 + 4, 'A');  // decodes to more than 2 MB
  std::string boxes51 = "[";
  for (int i = 0; i < 51; ++i) boxes51 += std::string(i ? "," : "") + R"({"x":1,"y":1,"w":1,"h":1})";
  boxes51 += "]";
  std::string deep(100, '[');
  const std::vector<Refusal> cases = {
      {"not json at all", 400, "malformed_json", ""},
      {"", 400, "empty_body", ""},
      {"[1, 2]", 400, "not_an_object", ""},
      {R"({"event_id": "x"} trailing)", 400, "malformed_json", ""},
      {"{\"event_id\": " + deep, 400, "malformed_json", ""},
      {R"({"camera_id": "ca1", "type": "rodent", "occurred_at": "2026-11-22T08:00:00Z"})", 422, "missing_field",
       "event_id"},
      {R"({"event_id": "", "camera_id": "ca1", "type": "rodent", "occurred_at": "2026-11-22T08:00:00Z"})", 422,
       "invalid_event_id", "event_id"},
      {R"({"event_id": "has space", "camera_id": "ca1", "type": "rodent", "occurred_at": "2026-11-22T08:00:00Z"})", 422,
       "invalid_event_id", "event_id"},
      {R"({"event_id": ")" + std::string(129, 'x') +
           R"(", "camera_id": "ca1", "type": "rodent", "occurred_at": "2026-11-22T08:00:00Z"})",
       422, "too_long", "event_id"},
      {R"({"event_id": 42, "camera_id": "ca1", "type": "rodent", "occurred_at": "2026-11-22T08:00:00Z"})", 422,
       "wrong_type", "event_id"},
      {R"({"event_id": "e", "type": "rodent", "occurred_at": "2026-11-22T08:00:00Z"})", 422, "missing_field",
       "camera_id"},
      {R"({"event_id": "e", "camera_id": "ca1", "occurred_at": "2026-11-22T08:00:00Z"})", 422, "missing_field", "type"},
      {R"({"event_id": "e", "camera_id": "ca1", "type": "DROP TABLE", "occurred_at": "2026-11-22T08:00:00Z"})", 422,
       "unknown_type", "type"},
      {R"({"event_id": "e", "camera_id": "ca1", "type": "rodent"})", 422, "missing_field", "occurred_at"},
      {R"({"event_id": "e", "camera_id": "ca1", "type": "rodent", "occurred_at": "yesterday"})", 422, "invalid_time",
       "occurred_at"},
      {R"({"event_id": "e", "camera_id": "ca1", "type": "rodent", "occurred_at": 1795305600000})", 422, "wrong_type",
       "occurred_at"},
      {event_json(R"(, "confidence": 1.5)"), 422, "out_of_range", "confidence"},
      {event_json(R"(, "confidence": "high")"), 422, "wrong_type", "confidence"},
      {event_json(R"(, "boxes": )" + boxes51), 422, "too_many_items", "boxes"},
      {event_json(R"(, "boxes": [{"x": -1, "y": 0, "w": 1, "h": 1}])"), 422, "out_of_range", "boxes[0].x"},
      {event_json(R"(, "boxes": [{"x": 0, "y": 0, "w": 1}])"), 422, "missing_field", "boxes[0].h"},
      {event_json(R"(, "boxes": [7])"), 422, "wrong_type", "boxes[0]"},
      {event_json(R"(, "boxes": [{"x": 0, "y": 0, "w": 1, "h": 1, "evil": true}])"), 422, "unknown_field",
       "boxes[0].evil"},
      {event_json(R"(, "model": ")" + std::string(65, 'm') + "\""), 422, "too_long", "model"},
      {event_json(R"(, "camera_id2": "x")"), 422, "unknown_field", "camera_id2"},
      {event_json(R"(, "snapshot_base64": "!!!not base64!!!")"), 422, "malformed_base64", "snapshot_base64"},
      {event_json(R"(, "snapshot_base64": ")" + crypto::base64_encode("<html>not an image</html>") + "\""), 415,
       "unsupported_media_type", "snapshot_base64"},
      {event_json(R"(, "snapshot_base64": ")" + crypto::base64_encode("%PDF-1.7 a document") + "\""), 415,
       "unsupported_media_type", "snapshot_base64"},
      {event_json(R"(, "snapshot_base64": ")" + big + "\""), 413, "snapshot_too_large", "snapshot_base64"},
      {event_json(R"(, "snapshot_base64": 12)"), 422, "wrong_type", "snapshot_base64"},
      {event_json(R"(, "snapshot_id": "file_1", "snapshot_base64": ")" + crypto::base64_encode(kPng) + "\""), 422,
       "conflicting_fields", "snapshot_base64"},
  };
  for (const auto& c : cases) {
    auto r = parse_alert_event(c.body);
    ASSERT_FALSE(r.ok()) << c.body.substr(0, 200);
    EXPECT_EQ(http_status(r.error().kind), c.status) << c.body.substr(0, 200) << " → " << r.error().message;
    EXPECT_EQ(r.error().code, c.code) << c.body.substr(0, 200);
    EXPECT_EQ(r.error().field, c.field) << c.body.substr(0, 200);
  }
}

TEST(ParseAlertEvent, NeverThrowsOnMutatedInput) {
  std::string seed = event_json(R"(, "confidence": 0.5, "boxes": [{"x": 1, "y": 2, "w": 3, "h": 4}])");
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s = seed;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[pos] = static_cast<char>(rng() % 256);
          break;
        case 1:
          s.erase(pos, 1 + rng() % 3);
          break;
        default:
          s.insert(pos, 1, "{}[]\",:0\\e-"[rng() % 11]);
      }
      if (s.empty()) s = "{";
    }
    (void)parse_alert_event(s);  // must not crash or throw
  }
}

TEST(ParseReadingAndHeartbeat, ShapesAreChecked) {
  auto r = parse_reading(R"({"device_id": "dev_1", "at": "2026-11-22T08:00:00+08:00",
                             "metrics": {"temperature_c": -19.5, "humidity_pct": 61, "displaced": false}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->metrics.size(), 3u);
  EXPECT_EQ(r->metrics[0].second, -19.5);
  EXPECT_EQ(r->metrics[2].second, 0.0);
  EXPECT_EQ(parse_reading(R"({"device_id": "d", "at": "2026-11-22T08:00:00Z", "metrics": {}})").error().field,
            "metrics");
  EXPECT_EQ(parse_reading(R"({"device_id": "d", "at": "2026-11-22T08:00:00Z", "metrics": {"T": 1}})").error().field,
            "metrics");
  EXPECT_EQ(parse_reading(R"({"device_id": "d", "at": "2026-11-22T08:00:00Z", "metrics": {"t": "hot"}})").error().field,
            "metrics.t");
  EXPECT_EQ(parse_reading(R"({"at": "2026-11-22T08:00:00Z", "metrics": {"t": 1}})").error().field, "device_id");
  auto hb = parse_heartbeat(*parse_object(R"({"camera_id": "ca1"})"));
  ASSERT_TRUE(hb.ok());
  EXPECT_FALSE(hb->at.has_value());
  EXPECT_EQ(parse_heartbeat(*parse_object(R"({})")).error().field, "camera_id");
  EXPECT_EQ(parse_heartbeat(*parse_object(R"({"camera_id": "a", "device_id": "b"})")).error().field, "device_id");
}

// ------------------------------------------------------------------ IngestService

class IngestTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    w_ = std::make_unique<World>(GetParam(), alerts::default_alerts_config(), 8);
    dir_ = std::filesystem::temp_directory_path() / ("mingchu-ingest-" + random_hex(6));
    store_ = std::make_unique<files::FileStore>(dir_, 10 * 1024 * 1024);
    faults_ = std::make_unique<storage::FaultInjectingDatabase>(*w_->db);
    svc_ = std::make_unique<IngestService>(*faults_, w_->clock, *w_->audit, *w_->alerts, *store_, metrics_);
    auth::Principal key;  // an API key bound to unit ua
    key.user_id = "key_ua";
    key.username = "key:box";
    key.display_name = "box";
    key.role = auth::Role::kMerchant;
    key.unit_ids = {"ua"};
    key.is_api_key = true;
    key.ingest_only = true;
    src_ = IngestSource::from_principal(key);
  }
  void TearDown() override {
    svc_.reset();
    std::filesystem::remove_all(dir_);
  }

  AlertEvent event(const std::string& id, const std::string& camera = "ca1", const std::string& type = "rodent") {
    AlertEvent e;
    e.event_id = id;
    e.camera_id = camera;
    e.type = type;
    e.occurred_at = w_->clock.now_ms();
    return e;
  }
  IngestResult submit(const IngestSource& src, AlertEvent e) {
    std::promise<IngestResult> p;
    auto f = p.get_future();
    svc_->submit(src, std::move(e), [&p](IngestResult r) { p.set_value(std::move(r)); });
    return f.get();
  }
  Status heartbeat(const std::string& camera) {
    std::promise<Status> p;
    auto f = p.get_future();
    Heartbeat hb;
    hb.camera_id = camera;
    svc_->submit_heartbeat(src_, hb, [&p](Status s) { p.set_value(std::move(s)); });
    return f.get();
  }
  Status reading(const auth::Principal& who, const std::string& device, TimeMs at, double t) {
    std::promise<Status> p;
    auto f = p.get_future();
    Reading r;
    r.device_id = device;
    r.at = at;
    r.metrics = {{"temperature_c", t}};
    svc_->submit_reading(IngestSource::from_principal(who), r, [&p](Status s) { p.set_value(std::move(s)); });
    return f.get();
  }

  std::unique_ptr<World> w_;
  std::unique_ptr<storage::FaultInjectingDatabase> faults_;  // the ingest service's database
  std::filesystem::path dir_;
  std::unique_ptr<files::FileStore> store_;
  Metrics metrics_;
  std::unique_ptr<IngestService> svc_;
  IngestSource src_;
};

TEST_P(IngestTest, ConcurrentSendersShareTransactionsAndRetriesAreHarmless) {
  constexpr int kThreads = 8, kPerThread = 60;
  std::vector<std::vector<IngestResult>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<IngestResult>> futures;
      std::vector<std::shared_ptr<std::promise<IngestResult>>> promises;
      for (int i = 0; i < kPerThread; ++i) {
        auto p = std::make_shared<std::promise<IngestResult>>();
        futures.push_back(p->get_future());
        // distinct types and cameras so most are new alerts, some fold
        AlertEvent e = event("t" + std::to_string(t) + "-" + std::to_string(i), i % 2 ? "ca1" : "ca2",
                             i % 3 == 0   ? "rodent"
                             : i % 3 == 1 ? "smoking"
                                          : "no_mask");
        svc_->submit(src_, std::move(e), [p](IngestResult r) { p->set_value(std::move(r)); });
      }
      for (auto& f : futures) results[t].push_back(f.get());
    });
  }
  for (auto& th : threads) th.join();
  std::map<std::string, std::string> alert_of;
  for (const auto& rs : results) {
    for (const auto& r : rs) {
      ASSERT_TRUE(r.ok()) << r.error->message;
      EXPECT_FALSE(r.duplicate);
      alert_of[r.event_id] = r.alert_id;
    }
  }
  ASSERT_EQ(alert_of.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM ingest_receipts"), kThreads * kPerThread);
  EXPECT_EQ(w_->count("SELECT SUM(capture_count) FROM alerts"), kThreads * kPerThread) << "every event counted once";
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM alerts"), 6) << "2 cameras × 3 types inside the dedup window";
  EXPECT_LT(w_->count("SELECT COUNT(*) FROM audit_log"), kThreads * kPerThread) << "only creations are audited";
  EXPECT_TRUE(w_->audit->verify(*w_->db).ok);
  std::uint64_t batches = metrics_.counter("mingchu_ingest_batches_total", "result=\"committed\"").value();
  EXPECT_LT(batches, static_cast<std::uint64_t>(kThreads * kPerThread)) << "group commit shared transactions";

  // a retry, after the fact, answers the original result and stores nothing
  auto again = submit(src_, event("t3-7", "ca1", "smoking"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.alert_id, alert_of["t3-7"]);
  EXPECT_EQ(w_->count("SELECT SUM(capture_count) FROM alerts"), kThreads * kPerThread);
  auto receipt = svc_->receipt(src_, "t3-7");
  ASSERT_TRUE(receipt.ok());
  EXPECT_EQ(receipt->alert_id, alert_of["t3-7"]);
  EXPECT_EQ(svc_->receipt(src_, "never-sent").error().kind, ErrorKind::kNotFound);
  // another source's event ids are its own
  auth::Principal other = src_.scope;
  other.user_id = "key_other";
  auto fresh = submit(IngestSource::from_principal(other), event("t3-7", "ca1", "smoking"));
  EXPECT_FALSE(fresh.duplicate);
}

TEST_P(IngestTest, TheSameEventTwiceInOneBatchIsStoredOnce) {
  std::vector<std::future<IngestResult>> fs;
  std::vector<std::shared_ptr<std::promise<IngestResult>>> ps;
  for (int i = 0; i < 5; ++i) {
    auto p = std::make_shared<std::promise<IngestResult>>();
    fs.push_back(p->get_future());
    svc_->submit(src_, event("same"), [p](IngestResult r) { p->set_value(std::move(r)); });
  }
  std::string id;
  int originals = 0;
  for (auto& f : fs) {
    auto r = f.get();
    ASSERT_TRUE(r.ok());
    if (id.empty()) id = r.alert_id;
    EXPECT_EQ(r.alert_id, id);
    originals += r.duplicate ? 0 : 1;
  }
  EXPECT_EQ(originals, 1);
  EXPECT_EQ(w_->count("SELECT capture_count FROM alerts WHERE id = $1", {id}), 1);
}

// The writer keeps open alerts and registry lookups across batches on SQLite
// (alerts::WriterCache): changes made elsewhere in the process must reach it at once.
TEST_P(IngestTest, ChangesMadeElsewhereReachTheWriterAtOnce) {
  auto a = submit(src_, event("c1"));
  ASSERT_TRUE(a.ok());
  auto b = submit(src_, event("c2"));
  ASSERT_TRUE(b.merged);
  ASSERT_EQ(b.alert_id, a.alert_id);
  ASSERT_TRUE(w_->alerts->dismiss(w_->rega, a.alert_id, "a cat, not a rat").ok());
  auto c = submit(src_, event("c3"));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c.merged) << "a dismissed alert takes no more captures";
  EXPECT_NE(c.alert_id, a.alert_id);

  ASSERT_TRUE(submit(src_, event("c4", "ca2")).ok());  // ca2 is now known to the writer
  {
    storage::Conn conn = w_->db->acquire();
    conn->exec("UPDATE cameras SET deleted_at = 1 WHERE id = 'ca2'");
  }
  auto gone = submit(src_, event("c5", "ca2"));
  ASSERT_FALSE(gone.ok()) << "a deleted camera is refused at once";
  EXPECT_EQ(gone.http_status(), 404);
}

// The timeline lists the first kTimelineCaptures captures; later ones only count, and every
// capture keeps its receipt.
TEST_P(IngestTest, TheTimelineListsTheFirstCapturesAndCountsTheRest) {
  constexpr int kEvents = alerts::kTimelineCaptures + 5;
  std::string id;
  for (int i = 0; i < kEvents; ++i) {
    auto r = submit(src_, event("k" + std::to_string(i)));
    ASSERT_TRUE(r.ok());
    if (id.empty()) id = r.alert_id;
    ASSERT_EQ(r.alert_id, id);
  }
  auto d = w_->alerts->get(w_->rega, id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->alert.capture_count, kEvents);
  int merged = 0;
  for (const auto& e : d->events) merged += e.type == "merged";
  EXPECT_EQ(merged, alerts::kTimelineCaptures - 1) << "captures 2.." << alerts::kTimelineCaptures;
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM ingest_receipts WHERE alert_id = $1", {id}), kEvents);
}

TEST_P(IngestTest, ScopeTimeAndTypeRulesAnswerClearly) {
  auto r = submit(src_, event("x1", "cb1"));
  EXPECT_EQ(r.http_status(), 404) << "a camera of another unit than the key's";
  EXPECT_EQ(r.error->field, "camera_id");
  r = submit(src_, event("x2", "cam_unknown"));
  EXPECT_EQ(r.http_status(), 404);
  r = submit(src_, event("x3", "../../etc/passwd"));
  EXPECT_EQ(r.http_status(), 404);
  auto e = event("x4");
  e.unit_id = "ub";
  EXPECT_EQ(submit(src_, e).http_status(), 404) << "a unit outside the key's scope";
  IngestSource city = IngestSource::from_principal(w_->city);
  e = event("x5");
  e.unit_id = "ub";
  r = submit(city, e);
  EXPECT_EQ(r.http_status(), 422) << "the camera does not belong to the named unit";
  EXPECT_EQ(r.error->code, "camera_not_in_unit");
  e = event("x6", "ca1", "unicorn");
  EXPECT_EQ(submit(src_, e).error->field, "type");
  e = event("x7");
  e.occurred_at = w_->clock.now_ms() + 11 * kMinuteMs;
  EXPECT_EQ(submit(src_, e).error->code, "time_in_future");
  e.occurred_at = w_->clock.now_ms() + 9 * kMinuteMs;
  EXPECT_TRUE(submit(src_, e).ok()) << "a little clock skew is fine";
  e = event("x8");
  e.occurred_at = w_->clock.now_ms() - 31 * kDayMs;
  EXPECT_EQ(submit(src_, e).error->code, "time_too_old");
  e = event("x9");
  e.snapshot_id = "file_not_there";
  EXPECT_EQ(submit(src_, e).error->field, "snapshot_id");
  // and good events keep flowing
  EXPECT_TRUE(submit(src_, event("x10", "ca2", "clutter")).ok());
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM ingest_receipts"), 2);
}

TEST_P(IngestTest, InlineSnapshotsAreStoredAndLinkedToTheAlert) {
  auto e = event("snap-1");
  e.snapshot = InlineSnapshot{kPng, "image/png"};
  auto r = submit(src_, e);
  ASSERT_TRUE(r.ok()) << r.error->message;
  auto d = w_->alerts->get(w_->rega, r.alert_id);
  ASSERT_EQ(d->alert.snapshot_ids.size(), 1u);
  storage::Conn c = w_->db->acquire();
  auto f = c->query("SELECT unit_id, content_type, size FROM files WHERE id = $1", {d->alert.snapshot_ids[0]});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].text(0), "ua");
  EXPECT_EQ(f[0].text(1), "image/png");
  EXPECT_EQ(f[0].integer(2), static_cast<std::int64_t>(kPng.size()));
  // captures folded in keep their snapshots too, up to the cap
  for (int i = 0; i < alerts::kMaxSnapshotsPerAlert + 3; ++i) {
    auto m = event("snap-m" + std::to_string(i));
    m.snapshot = InlineSnapshot{kPng, "image/png"};
    ASSERT_TRUE(submit(src_, m).merged);
  }
  EXPECT_EQ(w_->alerts->get(w_->rega, r.alert_id)->alert.snapshot_ids.size(),
            static_cast<size_t>(alerts::kMaxSnapshotsPerAlert));
}

TEST_P(IngestTest, AFailedTransactionAnswers503ToEveryEventAndStoresNothing) {
  ASSERT_TRUE(submit(src_, event("before")).ok());
  faults_->fail_statements("INSERT INTO ingest_receipts");  // every batch writes receipts: it fails
  std::vector<std::shared_ptr<std::promise<IngestResult>>> ps;
  std::vector<std::future<IngestResult>> fs;
  for (int i = 0; i < 10; ++i) {
    auto p = std::make_shared<std::promise<IngestResult>>();
    fs.push_back(p->get_future());
    svc_->submit(src_, event("during-" + std::to_string(i), "ca2", "smoking"),
                 [p](IngestResult r) { p->set_value(r); });
  }
  for (auto& f : fs) EXPECT_EQ(f.get().http_status(), 503);
  EXPECT_GE(faults_->injected(), 1);
  faults_->heal();
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM alerts WHERE type = 'smoking'"), 0) << "nothing half-stored";
  auto retry = submit(src_, event("during-3", "ca2", "smoking"));
  EXPECT_TRUE(retry.ok());
  EXPECT_FALSE(retry.duplicate);
}

TEST_P(IngestTest, SilenceRaisesCameraOfflineAndTheReturnClosesIt) {
  alerts::Scheduler s(*w_->db, *w_->alerts, nullptr, alerts::SchedulerConfig{});
  const TimeMs window = w_->alerts->config().offline_window_ms;
  ASSERT_TRUE(heartbeat("ca1").ok());
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM cameras WHERE id = 'ca1' AND status = 'online'"), 1);
  EXPECT_EQ(heartbeat("cb1").error().kind, ErrorKind::kNotFound) << "not the key's camera";
  w_->clock.advance_ms(window);
  EXPECT_EQ(s.run_once().offline, 0) << "exactly the window: not yet";
  w_->clock.advance_ms(1);
  EXPECT_EQ(s.run_once().offline, 1);
  EXPECT_EQ(s.run_once().offline, 0) << "once";
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM cameras WHERE id = 'ca1' AND status = 'offline'"), 1);
  alerts::AlertFilter f;
  f.type = "camera_offline";
  auto list = w_->alerts->list(w_->rega, f, {1, 20});
  ASSERT_EQ(list->total, 1);
  std::string id = list->items[0].id;
  EXPECT_EQ(list->items[0].camera_id, "ca1");
  EXPECT_EQ(list->items[0].state, alerts::AlertState::kOpen);

  ASSERT_TRUE(heartbeat("ca1").ok());
  auto d = w_->alerts->get(w_->rega, id);
  EXPECT_EQ(d->alert.state, alerts::AlertState::kClosed);
  EXPECT_EQ(d->events.back().type, "closed");
  EXPECT_EQ(d->events.back().actor.role, "system");
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM cameras WHERE id = 'ca1' AND status = 'online'"), 1);
  EXPECT_EQ(w_->count("SELECT SUM(handled) FROM alert_daily WHERE jpath = '/' AND type = 'camera_offline'"), 1);

  w_->clock.advance_ms(window + 1);
  EXPECT_EQ(s.run_once().offline, 1) << "silent again: a new alert";
  EXPECT_EQ(w_->alerts->list(w_->rega, f, {1, 20})->total, 2);
}

TEST_P(IngestTest, ABreachLastingTheRulesDurationRaisesSensorOutOfRange) {
  DeviceService devices(*w_->db, w_->clock, *w_->audit);
  DeviceInput in;
  in.unit_id = "ua";
  in.name = "冷冻柜 1";
  in.kind = "freezer";
  auto dev = devices.create(w_->rega, in);
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  EXPECT_EQ(devices.create(w_->ma, in).error().kind, ErrorKind::kForbidden) << "merchants do not manage devices";
  in.unit_id = "ub";
  EXPECT_EQ(devices.create(w_->rega, in).error().field, "unit_id");
  EXPECT_EQ(devices.get(w_->regb, dev->id).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(devices.get(w_->ma, dev->id).ok());

  auto sensor_alerts = [&] {
    return w_->count("SELECT COUNT(*) FROM alerts WHERE type = 'sensor_out_of_range' AND device_id = $1", {dev->id});
  };
  auto key = src_.scope;
  TimeMs t0 = w_->clock.now_ms();
  ASSERT_TRUE(reading(key, dev->id, t0, -15).ok());  // above -18: a breach starts
  w_->clock.advance_ms(5 * kMinuteMs);
  ASSERT_TRUE(reading(key, dev->id, w_->clock.now_ms(), -16).ok());
  EXPECT_EQ(sensor_alerts(), 0) << "5 minutes: not yet";
  w_->clock.advance_ms(5 * kMinuteMs);
  ASSERT_TRUE(reading(key, dev->id, w_->clock.now_ms(), -14).ok());
  EXPECT_EQ(sensor_alerts(), 1) << "10 minutes of breach";
  w_->clock.advance_ms(kMinuteMs);
  ASSERT_TRUE(reading(key, dev->id, w_->clock.now_ms(), -13).ok());
  EXPECT_EQ(sensor_alerts(), 1) << "one alert per breach";
  ASSERT_TRUE(reading(key, dev->id, w_->clock.now_ms(), -20).ok());
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM device_breaches"), 0) << "back in range";
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM readings WHERE device_id = $1", {dev->id}), 5);

  // the device's own thresholds win over its kind's
  DeviceInput patch;
  patch.thresholds_json = R"({"temperature_c":{"max":-10,"min_duration_minutes":0}})";
  ASSERT_TRUE(devices.update(w_->rega, dev->id, patch).ok());
  w_->clock.advance_ms(30 * kMinuteMs);
  ASSERT_TRUE(reading(key, dev->id, w_->clock.now_ms(), -12).ok());
  EXPECT_EQ(sensor_alerts(), 1);
  ASSERT_TRUE(reading(key, dev->id, w_->clock.now_ms(), -5).ok());
  EXPECT_EQ(sensor_alerts(), 2) << "no duration: at once";
  EXPECT_EQ(reading(key, "dev_nope", w_->clock.now_ms(), 1).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(reading(key, dev->id, w_->clock.now_ms() + kHourMs, 1).error().field, "at");
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM devices WHERE id = $1 AND status = 'online'", {dev->id}), 1);
}

TEST(DeviceInput, ThresholdsAreValidated) {
  auto bad = [](const char* body) {
    auto r = parse_device_input(*parse_object(body), false);
    return r.ok() ? std::string("ok") : r.error().field;
  };
  EXPECT_EQ(bad(R"({"unit_id": "u", "name": "n", "kind": "freezer"})"), "ok");
  EXPECT_EQ(bad(R"({"unit_id": "u", "name": "n", "kind": "toaster"})"), "kind");
  EXPECT_EQ(bad(R"({"unit_id": "u", "kind": "freezer"})"), "name");
  EXPECT_EQ(bad(R"({"unit_id": "u", "name": "n", "kind": "freezer", "thresholds": {"t": {"min": 5, "max": 1}}})"),
            "thresholds.t.min");
  EXPECT_EQ(bad(R"({"unit_id": "u", "name": "n", "kind": "freezer", "thresholds": {"t": {}}})"), "thresholds.t.max");
  EXPECT_EQ(bad(R"({"unit_id": "u", "name": "n", "kind": "freezer", "thresholds": {"t": {"max": 1, "x": 2}}})"),
            "thresholds.t.x");
  EXPECT_EQ(bad(R"({"unit_id": "u", "name": "n", "kind": "freezer", "thresholds": [1]})"), "thresholds");
}

INSTANTIATE_TEST_SUITE_P(Engines, IngestTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::ingest
