// The in-app live channel: Server-Sent Events for the users connected to this node.
//
// Every node runs its own hub, and the hub reads the shared outbox table (every ~300 ms),
// so an event committed through any node reaches subscribers on every node. Out-of-order
// visibility (a PostgreSQL commit that shows up after a later one) is handled by re-reading a
// window behind the newest event seen (default 5 s of created_at) and remembering which ids
// of that window were already published; nothing older than the window is replayed, and the
// hub starts at the newest event present (no history on connect). When the clock is behind
// the newest event (it was stepped back, or a --manual-clock server restarted after moving
// time ahead), the window around the clock's now is read as well, so new events are not
// hidden behind old ones stamped in the future.
//
// Each subscriber has a filter (its caller's scope, decided by the http layer) and a bounded
// queue: when a slow client lets it fill, the oldest event is dropped and counted
// (mingchu_sse_dropped_total). A subscription ends when the client goes away (the last
// reference is released) or the hub stops (closed() becomes true).
//
// SSE framing: "event: <name>\nid: <outbox id>\ndata: <payload JSON>\n\n". The event name is
// the outbox topic (alert.created, alert.updated, alert.card, cert.expiring, cert.expired);
// events that land in a person's inbox without being a new alert (alert.card, cert.*) are
// sent a second time as "notification". alert.created is not repeated as a notification: the
// clients count it as one already.
//
// Threads: subscribe() and Subscription methods from any thread; start()/stop() from the
// owner; poll_once() is the hub thread's body (tests call it directly).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "notify/outbox.hpp"
#include "storage/database.hpp"

namespace mingchu::notify {

struct HubOptions {
  std::chrono::milliseconds poll{300};
  TimeMs window_ms = 5 * kSecondMs;
  size_t queue = 256;             // events per subscriber
  size_t max_subscribers = 5000;  // per node
  int page = 1000;                // rows per scan query
};

// One SSE message: "event: <event>\nid: <id>\ndata: <data line>\n...\n\n". Line breaks in
// data become separate data: lines, as the SSE grammar requires.
std::string format_sse(std::string_view event, std::string_view id, std::string_view data);
// The SSE messages one outbox event becomes (see above).
std::vector<std::string> sse_messages(const OutboxEvent& e);

using EventFilter = std::function<bool(const OutboxEvent&)>;

class Subscription {
 public:
  Subscription(EventFilter filter, size_t capacity);
  // The next message, waiting up to `wait` for one; nullopt when none (or closed).
  std::optional<std::string> next(std::chrono::milliseconds wait);
  bool closed() const { return closed_; }
  void close();
  std::uint64_t dropped() const { return dropped_; }

  // Hub side: queues the messages if the filter lets the event through; returns how many
  // older messages had to be dropped.
  size_t offer(const OutboxEvent& e, const std::vector<std::string>& messages);
  void push_text(std::string text);

 private:
  EventFilter filter_;
  size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> dropped_{0};
};

class EventHub {
 public:
  EventHub(storage::Database& db, const Clock& clock, Metrics& metrics, HubOptions opt = {});
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  void start();
  void stop();

  // A new subscription with the given filter; 503 when the node has max_subscribers.
  Result<std::shared_ptr<Subscription>> subscribe(EventFilter filter);
  size_t subscribers();

  // Reads new outbox rows and hands them to the subscribers; returns how many were new.
  int poll_once();
  // Hands one event to the subscribers (the hub thread; tests).
  void publish(const OutboxEvent& e);

 private:
  void loop();
  void prime();

  // Reads [from, to) of the window into fresh (ids not seen yet), page by page.
  void scan(storage::Connection& c, TimeMs from, std::optional<TimeMs> to, std::vector<std::string>& fresh,
            bool raise_hi);

  storage::Database& db_;
  const Clock& clock_;
  Metrics& metrics_;
  HubOptions opt_;
  std::mutex subs_mu_;
  std::vector<std::weak_ptr<Subscription>> subs_;
  // Scan state (hub thread only).
  bool primed_ = false;
  TimeMs hi_ = 0;                       // newest created_at seen
  std::map<std::string, TimeMs> seen_;  // ids inside the window already published
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
};

}  // namespace mingchu::notify
