// A push channel: where the dispatcher sends outbox events (webhook, AMQP, SMS/voice). A
// channel decides its targets for each event when the event is fanned out, and delivers one
// delivery (one event to one target) when the dispatcher has claimed it.
//
// Threads: targets() is called by the fan-out thread only. deliver() may be called from
// several dispatcher threads at once when parallelism() > 1; a channel with state that is
// not thread safe (one AMQP connection) keeps parallelism() at 1.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "notify/outbox.hpp"
#include "storage/database.hpp"

namespace mingchu::notify {

// One claimed delivery, as the dispatcher hands it to its channel.
struct DeliveryJob {
  std::string id;  // delivery id (dlv_...)
  std::string target_id;
  int attempts = 0;  // attempts before this one
  OutboxEvent event;
};

struct DeliveryOutcome {
  bool delivered = false;
  bool permanent = false;  // no retry will help (e.g. the webhook was deleted): dead at once
  int status = 0;          // HTTP status when there was one
  std::string error;       // short, for the delivery log; never a secret
};

class Channel {
 public:
  virtual ~Channel() = default;
  // "webhook", "amqp" or "sms": the value of deliveries.channel.
  virtual std::string_view name() const = 0;
  // Called once per fan-out batch before targets(), inside its transaction: load what
  // targets() needs (e.g. the webhook list).
  virtual void begin_fanout(storage::Connection& c) { (void)c; }
  // The targets of one event; empty when this channel ignores it.
  virtual std::vector<std::string> targets(storage::Connection& c, const OutboxEvent& e) = 0;
  // False while the channel cannot send at all (its broker is unreachable): the dispatcher
  // then claims nothing for it, so waiting deliveries do not spend their attempts.
  virtual bool ready() { return true; }
  // Sends a batch of claimed deliveries; one outcome per job, in order. The default sends
  // them one by one; channels that pipeline (AMQP confirms) override it.
  virtual std::vector<DeliveryOutcome> deliver(std::span<const DeliveryJob> jobs) {
    std::vector<DeliveryOutcome> out;
    out.reserve(jobs.size());
    for (const auto& j : jobs) out.push_back(deliver_one(j));
    return out;
  }
  virtual DeliveryOutcome deliver_one(const DeliveryJob& job) = 0;
  // How many dispatcher threads may call deliver() at once.
  virtual int parallelism() const { return 1; }
  // Largest batch deliver() should be given.
  virtual int batch_size() const { return 16; }
};

}  // namespace mingchu::notify
