#include "notify/dispatcher.hpp"

#include <signal.h>
#include <unistd.h>

#include <map>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "storage/sql.hpp"

namespace mingchu::notify {
namespace {

constexpr const char* kAnyUndispatched = "SELECT 1 FROM outbox WHERE dispatched = 0 LIMIT 1";
// The payload is not needed to choose targets; leave it out of the read.
constexpr const char* kUndispatched =
    "SELECT id, topic, unit_id, jpath, '' AS payload, sms, created_at FROM outbox WHERE dispatched = 0 "
    "ORDER BY created_at, id LIMIT $1";
constexpr const char* kUndispatchedPg =
    "SELECT id, topic, unit_id, jpath, '' AS payload, sms, created_at FROM outbox WHERE dispatched = 0 "
    "ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED";
constexpr const char* kInsertDelivery =
    "INSERT INTO deliveries (id, outbox_id, channel, target_id, topic, state, attempts, next_attempt_at, created_at) "
    "VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) ON CONFLICT (outbox_id, channel, target_id) DO NOTHING";
// SQLite: the fan-out transaction holds the database's only write lock from its first
// statement, so the undispatched rows up to the last one read are exactly the rows read.
constexpr const char* kMarkDispatchedUpTo =
    "UPDATE outbox SET dispatched = 1 WHERE dispatched = 0 AND (created_at < $1 OR (created_at = $1 AND id <= $2))";
// PostgreSQL: other transactions commit meanwhile (READ COMMITTED), so name the rows read.
constexpr const char* kMarkDispatchedPg = "UPDATE outbox SET dispatched = 1 WHERE id = ANY($1::text[])";

// Read-only: is anything due? (keeps idle lanes from taking SQLite's write lock)
constexpr const char* kAnyDue =
    "SELECT 1 FROM deliveries WHERE channel = $1 AND state = 'pending' AND next_attempt_at <= $2 AND "
    "(lease_until IS NULL OR lease_until < $2) LIMIT 1";
// $1 claim token, $2 lease end, $3 channel, $4 now, $5 batch size.
constexpr const char* kClaim =
    "UPDATE deliveries SET lease_holder = $1, lease_until = $2 WHERE id IN (SELECT id FROM deliveries WHERE "
    "channel = $3 AND state = 'pending' AND next_attempt_at <= $4 AND (lease_until IS NULL OR lease_until < $4) "
    "ORDER BY next_attempt_at LIMIT $5) AND state = 'pending' AND (lease_until IS NULL OR lease_until < $4) "
    "RETURNING id, outbox_id, target_id, attempts";
// PostgreSQL: the batch is picked once, in a materialised CTE. As `UPDATE … WHERE id IN (SELECT …
// LIMIT n FOR UPDATE SKIP LOCKED)` the planner may evaluate the subquery again per row, and one
// node then claimed every due delivery instead of n (the two-node lease test caught it: the second
// node never got a delivery).
constexpr const char* kClaimPg =
    "WITH picked AS MATERIALIZED (SELECT id FROM deliveries WHERE channel = $3 AND state = 'pending' "
    "AND next_attempt_at <= $4 AND (lease_until IS NULL OR lease_until < $4) ORDER BY next_attempt_at "
    "LIMIT $5 FOR UPDATE SKIP LOCKED) "
    "UPDATE deliveries d SET lease_holder = $1, lease_until = $2 FROM picked WHERE d.id = picked.id "
    "RETURNING d.id, d.outbox_id, d.target_id, d.attempts";
constexpr const char* kOutboxByIds = "SELECT id, topic, unit_id, jpath, payload, sms, created_at FROM outbox WHERE id";

// $1 id, $2 state, $3 next attempt, $4 status, $5 error, $6 now, $7 delivered_at, $8 claim token
constexpr const char* kRecord =
    "UPDATE deliveries SET state = $2, attempts = attempts + 1, next_attempt_at = $3, last_status = $4, "
    "last_error = $5, last_attempt_at = $6, delivered_at = $7, lease_until = NULL, lease_holder = NULL "
    "WHERE id = $1 AND lease_holder = $8";

// A PostgreSQL text[] literal: {"a","b"} with " and \\ escaped.
std::string pg_text_array(const std::vector<std::string>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char ch : v[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}

// Appends " = ANY($n::text[])" (PostgreSQL: one statement whatever the count) or
// " IN ($n, ...)" (SQLite) for ids, and their parameters.
void append_id_set(storage::Dialect d, const std::vector<std::string>& ids, std::string& sql, storage::Params& params) {
  if (d == storage::Dialect::kPostgres) {
    params.emplace_back(pg_text_array(ids));
    sql += " = ANY($" + std::to_string(params.size()) + "::text[])";
    return;
  }
  sql += " IN " + storage::in_list(params, ids);
}

// $1 status, $2 now, $3 claim token; the id set is appended.
constexpr const char* kRecordDelivered =
    "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_status = $1, last_error = NULL, "
    "last_attempt_at = $2, delivered_at = $2, lease_until = NULL, lease_holder = NULL WHERE lease_holder = $3 AND id";

storage::Value opt_int(int v) { return v ? storage::Value(std::int64_t{v}) : storage::Value(nullptr); }

}  // namespace

std::string default_node_id() {
  char host[128] = {0};
  if (::gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "node");
  std::string h = host;
  for (char& c : h) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) c = '-';
  }
  return h.substr(0, 40) + "-" + random_hex(4);
}

Dispatcher::Dispatcher(storage::Database& db, const Clock& clock, Metrics& metrics, DispatcherOptions opt,
                       std::vector<std::unique_ptr<Channel>>&& channels)
    : db_(db), clock_(clock), metrics_(metrics), opt_(std::move(opt)), channels_(std::move(channels)) {
  if (opt_.node_id.empty()) opt_.node_id = default_node_id();
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  if (running_.exchange(true)) return;
  threads_.emplace_back([this] { fanout_loop(); });
  for (auto& ch : channels_) {
    for (int i = 0; i < std::max(1, ch->parallelism()); ++i)
      threads_.emplace_back([this, c = ch.get()] { lane_loop(c); });
  }
  std::string names;
  for (auto& ch : channels_) names += (names.empty() ? "" : ",") + std::string(ch->name());
  log::info("dispatcher started", {{"node", opt_.node_id}, {"channels", names.empty() ? "none" : names}});
}

void Dispatcher::stop() {
  if (!running_.exchange(false)) return;
  wake();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Dispatcher::wake() {
  {
    std::lock_guard g(mu_);
    ++wakes_;
  }
  cv_.notify_all();
}

void Dispatcher::sleep_poll() {
  std::unique_lock lock(mu_);
  std::uint64_t seen = wakes_;
  cv_.wait_for(lock, opt_.poll, [&] { return wakes_ != seen || !running_; });
}

double Dispatcher::jitter_u() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::string Dispatcher::claim_token() { return opt_.node_id + "/" + std::to_string(claims_.fetch_add(1)); }

int Dispatcher::fan_out_once() {
  {
    storage::Conn c = db_.acquire();
    if (c->query(kAnyUndispatched).empty()) return 0;  // no write lock when there is nothing to do
  }
  bool pg = db_.dialect() == storage::Dialect::kPostgres;
  int deliveries = 0;
  int n = db_.in_transaction([&](storage::Connection& c) {
    auto rows = c.query(pg ? kUndispatchedPg : kUndispatched, {std::int64_t{opt_.fanout_batch}});
    if (rows.empty()) return 0;
    for (auto& ch : channels_) ch->begin_fanout(c);
    TimeMs now = clock_.now_ms();
    std::vector<std::string> ids;
    ids.reserve(rows.size());
    for (const auto& r : rows) {
      OutboxEvent e = outbox_event_from_row(r);
      for (auto& ch : channels_) {
        for (const auto& target : ch->targets(c, e)) {
          deliveries += static_cast<int>(
              c.exec(kInsertDelivery, {new_id("dlv"), e.id, std::string(ch->name()), target, e.topic, now}));
        }
      }
      ids.push_back(e.id);
    }
    if (pg) {
      c.exec(kMarkDispatchedPg, {pg_text_array(ids)});
    } else {
      const auto& last = rows[rows.size() - 1];
      c.exec(kMarkDispatchedUpTo, {last.integer(6), last.text(0)});
    }
    return static_cast<int>(rows.size());
  });
  metrics_.counter("mingchu_notify_fanout_total", "", "Outbox events fanned out into deliveries").inc(n);
  metrics_.counter("mingchu_notify_deliveries_created_total", "", "Delivery rows created").inc(deliveries);
  if (deliveries > 0) wake();
  return n;
}

int Dispatcher::deliver_once(Channel& ch, int max) {
  std::string token = claim_token();
  std::string channel(ch.name());
  std::vector<DeliveryJob> jobs;
  {
    storage::Conn c = db_.acquire();
    TimeMs now = clock_.now_ms();
    bool pg = c->dialect() == storage::Dialect::kPostgres;
    if (c->query(kAnyDue, {channel, now}).empty()) return 0;
    auto claimed =
        c->query(pg ? kClaimPg : kClaim, {token, now + opt_.lease_ms, channel, now, std::int64_t{std::max(1, max)}});
    if (claimed.empty()) return 0;
    // the events of the batch in one query
    std::vector<std::string> outbox_ids;
    for (const auto& r : claimed) outbox_ids.push_back(r.text(1));
    std::string sql = kOutboxByIds;
    storage::Params params;
    append_id_set(c->dialect(), outbox_ids, sql, params);
    std::map<std::string, OutboxEvent> events;
    for (const auto& o : c->query(sql, params)) {
      OutboxEvent e = outbox_event_from_row(o);
      events.emplace(e.id, std::move(e));
    }
    for (const auto& r : claimed) {
      DeliveryJob j;
      j.id = r.text(0);
      j.target_id = r.text(2);
      j.attempts = static_cast<int>(r.integer(3));
      if (auto it = events.find(r.text(1)); it != events.end()) {
        j.event = it->second;
      } else {
        j.event.id = r.text(1);  // the event is gone (pruned): recorded as dead below
      }
      jobs.push_back(std::move(j));
    }
  }
  // Send what still has its event; the rest is dead at once.
  std::vector<DeliveryJob> sendable;
  std::vector<size_t> where;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!jobs[i].event.topic.empty()) {
      sendable.push_back(jobs[i]);
      where.push_back(i);
    }
  }
  std::vector<DeliveryOutcome> outcomes(jobs.size());
  for (auto& o : outcomes) {
    o.permanent = true;
    o.error = "the outbox event no longer exists";
  }
  auto t0 = std::chrono::steady_clock::now();
  if (!sendable.empty()) {
    std::vector<DeliveryOutcome> sent;
    try {
      sent = ch.deliver(sendable);
    } catch (const std::exception& e) {
      sent.assign(sendable.size(), DeliveryOutcome{false, false, 0, std::string("internal error: ") + e.what()});
    }
    sent.resize(sendable.size(), DeliveryOutcome{false, false, 0, "no outcome"});
    for (size_t k = 0; k < sendable.size(); ++k) outcomes[where[k]] = std::move(sent[k]);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  metrics_.histogram("mingchu_notify_send_seconds", "channel=\"" + channel + "\"", "Time to send one batch")
      .observe(secs);

  TimeMs now = clock_.now_ms();
  auto& c_ok = metrics_.counter("mingchu_notify_deliveries_total", "channel=\"" + channel + "\",result=\"delivered\"",
                                "Delivery attempts by channel and result");
  auto& c_retry = metrics_.counter("mingchu_notify_deliveries_total", "channel=\"" + channel + "\",result=\"retry\"");
  auto& c_dead = metrics_.counter("mingchu_notify_deliveries_total", "channel=\"" + channel + "\",result=\"dead\"");
  db_.in_transaction([&](storage::Connection& c) {
    // successes in one statement per HTTP status (usually one)
    std::map<int, std::vector<std::string>> delivered;
    for (size_t i = 0; i < jobs.size(); ++i) {
      const DeliveryJob& j = jobs[i];
      const DeliveryOutcome& o = outcomes[i];
      int attempts = j.attempts + 1;
      if (o.delivered) {
        delivered[o.status].push_back(j.id);
        c_ok.inc();
        continue;
      }
      std::string err = o.error.substr(0, 500);
      if (o.permanent || exhausted(opt_.retry, attempts)) {
        c.exec(kRecord, {j.id, std::string("dead"), now, opt_int(o.status), err, now, nullptr, token});
        c_dead.inc();
        log::warn("delivery dead-lettered", {{"delivery", j.id},
                                             {"channel", channel},
                                             {"target", j.target_id},
                                             {"event", j.event.id},
                                             {"attempts", std::to_string(attempts)},
                                             {"error", err}});
      } else {
        TimeMs next = now + backoff_delay(opt_.retry, attempts, jitter_u());
        c.exec(kRecord, {j.id, std::string("pending"), next, opt_int(o.status), err, now, nullptr, token});
        c_retry.inc();
      }
    }
    for (const auto& [status, ids] : delivered) {
      std::string sql = kRecordDelivered;
      storage::Params params{opt_int(status), now, token};
      append_id_set(c.dialect(), ids, sql, params);
      c.exec(sql, params);
    }
  });
  return static_cast<int>(jobs.size());
}

void Dispatcher::fanout_loop() {
  while (running_) {
    int n = 0;
    try {
      n = fan_out_once();
    } catch (const std::exception& e) {
      log::warn("outbox fan-out failed; retrying", {{"error", e.what()}});
    }
    if (n < opt_.fanout_batch) sleep_poll();
  }
}

void Dispatcher::lane_loop(Channel* ch) {
  // a peer that closes a connection while we write must not end the process
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  while (running_) {
    int n = 0;
    try {
      if (ch->ready()) n = deliver_once(*ch, ch->batch_size());
    } catch (const std::exception& e) {
      log::warn("delivery pass failed; retrying", {{"channel", std::string(ch->name())}, {"error", e.what()}});
    }
    if (n == 0) sleep_poll();
  }
}

}  // namespace mingchu::notify
