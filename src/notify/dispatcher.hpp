// The outbox dispatcher: delivers every outbox event at least once to every channel target.
//
// Fan-out. A thread picks outbox rows not yet dispatched (outbox.dispatched = 0, a partial
// index keeps that cheap), asks each channel for its targets, and in ONE transaction inserts
// one `deliveries` row per (event, channel, target) and marks the event dispatched. There is
// no high-water mark, so a PostgreSQL commit that becomes visible after a later one is still
// found; on PostgreSQL the batch is read FOR UPDATE SKIP LOCKED so nodes split the work, and
// the unique (outbox_id, channel, target_id) makes a repeated fan-out harmless anyway.
// Targets are fixed at fan-out: a webhook registered later does not receive older events,
// and every node should run with the same channels configured.
//
// Delivery. Per channel, parallelism() threads each claim a batch of due deliveries with a
// lease (lease_holder = this node's claim token, lease_until = now + lease) in one UPDATE
// that only takes rows whose lease is free or expired — so no two threads or nodes send the
// same delivery at the same time. A success marks it delivered; a failure schedules the
// next attempt with exponential backoff and jitter (RetryPolicy); after max_attempts, or a
// permanent failure, it is dead: kept, visible in the API and re-triable there. A result is
// written only while the lease is still ours; a node that dies mid-send leaves its leases to
// expire and another node sends again (at-least-once: receivers dedupe by Idempotency-Key).
//
// Times (due, lease, backoff) are read from the injected Clock; polling uses real time.
// Threads: start() launches the threads; stop() (or the destructor) joins them. The *_once
// functions may be called from any thread (tests drive them directly without start()).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "notify/backoff.hpp"
#include "notify/channel.hpp"
#include "storage/database.hpp"

namespace mingchu::notify {

struct DispatcherOptions {
  std::string node_id;  // names this node in lease_holder; default: hostname + random
  std::chrono::milliseconds poll{200};
  TimeMs lease_ms = 30 * kSecondMs;
  int fanout_batch = 200;
  RetryPolicy retry;
};

class Dispatcher {
 public:
  Dispatcher(storage::Database& db, const Clock& clock, Metrics& metrics, DispatcherOptions opt,
             std::vector<std::unique_ptr<Channel>>&& channels);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  void stop();
  // Wakes the threads now (e.g. after an event was committed) instead of at the next poll.
  void wake();

  // Fans out up to one batch of undispatched outbox rows; returns how many.
  int fan_out_once();
  // Claims up to `max` due deliveries of `channel`, sends them and records the outcomes;
  // returns how many were attempted.
  int deliver_once(Channel& channel, int max);

  const std::vector<std::unique_ptr<Channel>>& channels() const { return channels_; }
  const std::string& node_id() const { return opt_.node_id; }

 private:
  void fanout_loop();
  void lane_loop(Channel* ch);
  void sleep_poll();
  double jitter_u();
  std::string claim_token();

  storage::Database& db_;
  const Clock& clock_;
  Metrics& metrics_;
  DispatcherOptions opt_;
  std::vector<std::unique_ptr<Channel>> channels_;
  std::vector<std::thread> threads_;
  std::atomic<bool> running_{false};
  std::atomic<std::uint64_t> claims_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t wakes_ = 0;  // guarded by mu_
};

// hostname + "-" + 8 random hex digits: unique per process.
std::string default_node_id();

}  // namespace mingchu::notify
