// 数据上报: a MingChu deployment (a city) reports to the deployment above it (its province)
// what the province needs to see its cities without reaching into their databases: alerts and
// their lifecycle, units, cameras and statistics. Schema "mingchu.exchange.v1",
// docs/exchange-schema.md; a third-party platform can implement either side.
//
// Sending (city, `serve --upstream URL --upstream-key KEY`):
//   - alert events go through the outbox like every other push: UpstreamChannel is one more
//     notify::Channel, so the dispatcher's durable deliveries (claimed with leases, retried
//     with backoff, kept across restarts of either side) carry them, a batch per POST;
//   - units, cameras and the day's statistics go by UpstreamSync: a cursor per upper platform
//     and kind (updated_at, id) in upstream_cursors, advanced only after the province acked.
// Every POST is signed: X-Api-Key (a key the province issued, scoped to the city's node in
// its tree), X-MingChu-Timestamp and X-MingChu-Signature = sha256=HMAC-SHA256(key, ts + "." +
// body). Delivery is at least once; the receiver is idempotent (batch ids, event ids and
// object versions).
//
// Receiving (province, POST /api/v1/exchange/batches): ExchangeReceiver checks the
// signature (±5 minutes), records the batch id, and upserts what it carries into mirror
// tables owned by the sending key (jpath = the key's node: province regulators see the
// cities in their subtree), applying an object only when its version is not older than the
// stored one, so redelivered and reordered batches converge.
//
// Threads: any thread; UpstreamSync runs its own thread between start() and stop().
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "notify/channel.hpp"
#include "notify/http_client.hpp"
#include "stats/stats_service.hpp"
#include "storage/database.hpp"

namespace mingchu::reports {

inline constexpr const char* kExchangeSchema = "mingchu.exchange.v1";

struct UpstreamOptions {
  std::string url;  // the upper platform's base URL, e.g. https://province.example/
  std::string key;  // the API key it issued
  std::string source_name;  // how this deployment names itself; "" = ask source_name_of
  std::function<std::string()> source_name_of;  // e.g. its first city, read when a batch is sent
  std::chrono::milliseconds sync_interval{10000};
  std::chrono::milliseconds timeout{10000};
  bool verify_tls = true;
  int utc_offset_minutes = 480;
};

// Signs and posts one batch; ok when the upper platform answered 2xx.
Result<json::object> post_batch(notify::HttpClient& http, const UpstreamOptions& o, const Clock& clock,
                                const json::object& batch);

// Alert events to the upper platform (one target, "upstream").
class UpstreamChannel final : public notify::Channel {
 public:
  UpstreamChannel(notify::HttpClient& http, const Clock& clock, UpstreamOptions opt)
      : http_(http), clock_(clock), opt_(std::move(opt)) {}
  std::string_view name() const override { return "upstream"; }
  std::vector<std::string> targets(storage::Connection& c, const notify::OutboxEvent& e) override;
  std::vector<notify::DeliveryOutcome> deliver(std::span<const notify::DeliveryJob> jobs) override;
  notify::DeliveryOutcome deliver_one(const notify::DeliveryJob& job) override;
  int batch_size() const override { return 100; }

 private:
  notify::HttpClient& http_;
  const Clock& clock_;
  UpstreamOptions opt_;
};

// Units, cameras and statistics to the upper platform, by cursor.
class UpstreamSync {
 public:
  UpstreamSync(storage::Database& db, const Clock& clock, notify::HttpClient& http, stats::StatsService& stats,
               UpstreamOptions opt);
  ~UpstreamSync();
  // One round: every kind until nothing is left or a post fails; the number of items sent.
  Result<int> sync_once();
  void start();
  void stop();

 private:
  storage::Database& db_;
  const Clock& clock_;
  notify::HttpClient& http_;
  stats::StatsService& stats_;
  UpstreamOptions opt_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

struct BatchResult {
  std::string batch_id;
  bool duplicate = false;
  int applied = 0, stale = 0, repeated = 0;
};

class ExchangeReceiver {
 public:
  ExchangeReceiver(storage::Database& db, const Clock& clock) : db_(db), clock_(clock) {}
  // key = the X-Api-Key the caller authenticated with (the signing secret); p = its principal.
  // kUnauthorized for a bad or stale signature, kInvalid naming the field for a bad batch.
  Result<BatchResult> receive(const auth::Principal& p, const std::string& key, const std::string& timestamp,
                              const std::string& signature, const std::string& body);

  // What the lower platforms in the caller's subtree reported: kind alert|unit|camera|stats,
  // optionally one state and one source; newest version first. Items are the objects as
  // reported, with "source", "source_name" and "received_at" added.
  struct Query {
    std::string kind;
    std::optional<std::string> state, source;
    int page = 1, page_size = 20;
  };
  Result<std::pair<json::array, std::int64_t>> list(const auth::Principal& p, const Query& q, int utc_offset_minutes);
  Result<json::array> sources(const auth::Principal& p, int utc_offset_minutes);

 private:
  storage::Database& db_;
  const Clock& clock_;
};

}  // namespace mingchu::reports
