#include "notify/event_hub.hpp"

#include "core/log.hpp"

namespace mingchu::notify {
namespace {

constexpr const char* kNewest = "SELECT MAX(created_at) FROM outbox";
// Keyset pages over (created_at, id) from the window start.
constexpr const char* kWindowFirst =
    "SELECT id, created_at FROM outbox WHERE created_at >= $1 ORDER BY created_at, id LIMIT $2";
constexpr const char* kWindowNext =
    "SELECT id, created_at FROM outbox WHERE (created_at > $1 OR (created_at = $1 AND id > $2)) "
    "ORDER BY created_at, id LIMIT $3";
constexpr const char* kBandFirst =
    "SELECT id, created_at FROM outbox WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id LIMIT $3";
constexpr const char* kBandNext =
    "SELECT id, created_at FROM outbox WHERE (created_at > $1 OR (created_at = $1 AND id > $2)) AND created_at < $3 "
    "ORDER BY created_at, id LIMIT $4";
constexpr const char* kById = "SELECT id, topic, unit_id, jpath, payload, sms, created_at FROM outbox WHERE id = $1";

}  // namespace

std::string format_sse(std::string_view event, std::string_view id, std::string_view data) {
  std::string out;
  out.reserve(event.size() + id.size() + data.size() + 32);
  out += "event: ";
  out += event;
  out += "\nid: ";
  out += id;
  out += "\n";
  size_t i = 0;
  for (;;) {
    size_t j = data.find_first_of("\r\n", i);
    out += "data: ";
    out += data.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
    out += "\n";
    if (j == std::string_view::npos) break;
    i = j + ((data[j] == '\r' && j + 1 < data.size() && data[j + 1] == '\n') ? 2 : 1);
  }
  out += "\n";
  return out;
}

std::vector<std::string> sse_messages(const OutboxEvent& e) {
  std::vector<std::string> out;
  // event names and ids go on one line each: refuse anything that would break the framing
  for (std::string_view s : {std::string_view(e.topic), std::string_view(e.id)}) {
    if (s.empty() || s.find_first_of("\r\n") != std::string_view::npos) return out;
  }
  out.push_back(format_sse(e.topic, e.id, e.payload));
  if (e.topic == kTopicAlertCard || e.topic == kTopicCertExpiring || e.topic == kTopicCertExpired) {
    out.push_back(format_sse("notification", e.id, e.payload));
  }
  return out;
}

// ---------------------------------------------------------------- Subscription

Subscription::Subscription(EventFilter filter, size_t capacity) : filter_(std::move(filter)), capacity_(capacity) {}

std::optional<std::string> Subscription::next(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (q_.empty() && wait.count() > 0 && !closed_) {
    cv_.wait_for(lock, wait, [&] { return !q_.empty() || closed_; });
  }
  if (q_.empty()) return std::nullopt;
  std::string s = std::move(q_.front());
  q_.pop_front();
  return s;
}

void Subscription::close() {
  closed_ = true;
  cv_.notify_all();
}

size_t Subscription::offer(const OutboxEvent& e, const std::vector<std::string>& messages) {
  if (closed_ || messages.empty()) return 0;
  bool pass = false;
  try {
    pass = filter_ && filter_(e);
  } catch (...) {
    pass = false;  // a filter that throws lets nothing through
  }
  if (!pass) return 0;
  size_t dropped = 0;
  {
    std::lock_guard g(mu_);
    for (const auto& m : messages) {
      if (q_.size() >= capacity_) {
        q_.pop_front();
        ++dropped;
      }
      q_.push_back(m);
    }
  }
  dropped_ += dropped;
  cv_.notify_all();
  return dropped;
}

void Subscription::push_text(std::string text) {
  {
    std::lock_guard g(mu_);
    if (q_.size() >= capacity_) {
      q_.pop_front();
      ++dropped_;
    }
    q_.push_back(std::move(text));
  }
  cv_.notify_all();
}

// ---------------------------------------------------------------- EventHub

EventHub::EventHub(storage::Database& db, const Clock& clock, Metrics& metrics, HubOptions opt)
    : db_(db), clock_(clock), metrics_(metrics), opt_(opt) {}

EventHub::~EventHub() { stop(); }

void EventHub::start() {
  if (running_.exchange(true)) return;
  thread_ = std::thread([this] { loop(); });
}

void EventHub::stop() {
  if (!running_.exchange(false)) return;
  { std::lock_guard g(wait_mu_); }
  wait_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard g(subs_mu_);
  for (auto& w : subs_) {
    if (auto s = w.lock()) s->close();
  }
  subs_.clear();
}

Result<std::shared_ptr<Subscription>> EventHub::subscribe(EventFilter filter) {
  auto sub = std::make_shared<Subscription>(std::move(filter), opt_.queue);
  std::lock_guard g(subs_mu_);
  std::erase_if(subs_, [](const std::weak_ptr<Subscription>& w) { return w.expired(); });
  if (subs_.size() >= opt_.max_subscribers) {
    return Error::unavailable("too many live streams on this server; try again later");
  }
  subs_.push_back(sub);
  metrics_.gauge("mingchu_sse_subscribers", "", "Live SSE streams on this node").set(static_cast<double>(subs_.size()));
  sub->push_text("retry: 3000\n\n");
  return sub;
}

size_t EventHub::subscribers() {
  std::lock_guard g(subs_mu_);
  std::erase_if(subs_, [](const std::weak_ptr<Subscription>& w) { return w.expired(); });
  return subs_.size();
}

void EventHub::publish(const OutboxEvent& e) {
  auto messages = sse_messages(e);
  std::vector<std::shared_ptr<Subscription>> live;
  {
    std::lock_guard g(subs_mu_);
    std::erase_if(subs_, [](const std::weak_ptr<Subscription>& w) { return w.expired(); });
    live.reserve(subs_.size());
    for (auto& w : subs_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
    metrics_.gauge("mingchu_sse_subscribers", "").set(static_cast<double>(subs_.size()));
  }
  size_t dropped = 0;
  for (auto& s : live) dropped += s->offer(e, messages);
  if (dropped) metrics_.counter("mingchu_sse_dropped_total", "", "SSE events dropped from full queues").inc(dropped);
}

void EventHub::prime() {
  storage::Conn c = db_.acquire();
  auto r = c->query(kNewest);
  hi_ = r.empty() ? 0 : r[0].integer(0);
  // what is already in the window counts as seen: no replay on start
  std::vector<std::string> ignored;
  scan(*c, hi_ - opt_.window_ms, std::nullopt, ignored, false);
  TimeMs now = clock_.now_ms();
  if (now + opt_.window_ms < hi_ - opt_.window_ms) scan(*c, now - opt_.window_ms, now + opt_.window_ms, ignored, false);
  primed_ = true;
}

void EventHub::scan(storage::Connection& c, TimeMs from, std::optional<TimeMs> to, std::vector<std::string>& fresh,
                    bool raise_hi) {
  std::int64_t page_size = opt_.page;
  auto page = to ? c.query(kBandFirst, {from, *to, page_size}) : c.query(kWindowFirst, {from, page_size});
  for (;;) {
    for (const auto& row : page) {
      std::string id = row.text(0);
      TimeMs at = row.integer(1);
      if (raise_hi && at > hi_) hi_ = at;
      if (seen_.emplace(id, at).second) fresh.push_back(std::move(id));
    }
    if (static_cast<int>(page.size()) < opt_.page) break;
    const auto& last = page[page.size() - 1];
    page = to ? c.query(kBandNext, {last.integer(1), last.text(0), *to, page_size})
              : c.query(kWindowNext, {last.integer(1), last.text(0), page_size});
  }
}

int EventHub::poll_once() {
  if (!primed_) {
    prime();
    return 0;
  }
  std::vector<std::string> fresh;
  {
    storage::Conn c = db_.acquire();
    scan(*c, hi_ - opt_.window_ms, std::nullopt, fresh, true);
    // the clock behind the newest event: new events are stamped around now, below the window
    TimeMs now = clock_.now_ms();
    TimeMs floor = hi_ - opt_.window_ms;
    bool behind = now + opt_.window_ms < floor;
    if (behind) scan(*c, now - opt_.window_ms, now + opt_.window_ms, fresh, false);
    // forget what fell out of both windows
    std::erase_if(seen_, [&](const auto& kv) {
      bool near_now = behind && kv.second >= now - opt_.window_ms && kv.second < now + opt_.window_ms;
      return kv.second < floor && !near_now;
    });
    if (!fresh.empty() && subscribers() > 0) {
      for (const auto& id : fresh) {
        auto rows = c->query(kById, {id});
        if (!rows.empty()) publish(outbox_event_from_row(rows[0]));
      }
    }
  }
  metrics_.counter("mingchu_sse_events_total", "", "Outbox events seen by this node's SSE hub").inc(fresh.size());
  return static_cast<int>(fresh.size());
}

void EventHub::loop() {
  while (running_) {
    try {
      poll_once();
    } catch (const std::exception& e) {
      log::warn("SSE hub poll failed; retrying", {{"error", e.what()}});
    }
    std::unique_lock lock(wait_mu_);
    wait_cv_.wait_for(lock, opt_.poll, [&] { return !running_; });
  }
}

}  // namespace mingchu::notify
