// The AMQP channel: publishes every outbox event to a RabbitMQ topic exchange (data push to
// other systems, and the event bus between platforms) with publisher confirms.
//
//   exchange     durable, type topic, declared on connect (default "mingchu.events")
//   routing key  <topic>.<jurisdiction ids from the root down to the unit's node>, e.g.
//                "alert.created.jur_js.jur_nt.jur_cc.jur_cc01"; just <topic> for events of
//                no unit. A consumer binds "alert.*.jur_js.jur_nt.#" for one city's alerts,
//                "alert.#" for all alerts, "#" for everything.
//   message      body = the payload JSON (schema mingchu.event.v1); content_type
//                application/json; delivery_mode 2 (persistent); message_id = outbox id (the
//                idempotency key); type = topic; timestamp = created_at (seconds);
//                app_id "mingchu"
//
// A delivery counts as delivered only when the broker has confirmed it (basic.ack after
// confirm.select); a basic.nack, a lost connection or no confirm within the timeout leaves it
// for a retry. While the broker is unreachable the channel is not ready(): deliveries wait
// without spending attempts, and the connection is retried with backoff (1 s doubling to 30 s).
//
// Thread safety: one connection, used by one dispatcher thread at a time (parallelism 1);
// ready() and deliver() lock an internal mutex.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "core/metrics.hpp"
#include "core/result.hpp"
#include "notify/channel.hpp"

namespace mingchu::notify {

struct AmqpOptions {
  std::string url;  // amqp://user:pass@host:port/vhost ("/" when the path is empty)
  std::string exchange = "mingchu.events";
  std::chrono::milliseconds confirm_timeout{5000};
  int heartbeat_seconds = 30;
  int batch = 100;
  std::string cacert;  // amqps: CA bundle (PEM); empty = system default paths are not used by rabbitmq-c
};

// <topic>.<segment>.<segment>..., at most 255 bytes (deeper segments dropped when longer).
std::string amqp_routing_key(const OutboxEvent& e);
// The URL without its password, for logs.
std::string amqp_describe(const std::string& url);

class AmqpChannel final : public Channel {
 public:
  AmqpChannel(AmqpOptions opt, Metrics& metrics);
  ~AmqpChannel() override;
  std::string_view name() const override { return "amqp"; }
  std::vector<std::string> targets(storage::Connection& c, const OutboxEvent& e) override;
  bool ready() override;
  std::vector<DeliveryOutcome> deliver(std::span<const DeliveryJob> jobs) override;
  DeliveryOutcome deliver_one(const DeliveryJob& job) override;
  int batch_size() const override { return opt_.batch; }

  // Connects now (for start-up logs and tests); the error says why not.
  Status connect();

 private:
  struct Conn;
  void drop(const std::string& why);

  AmqpOptions opt_;
  Metrics& metrics_;
  std::mutex mu_;
  std::unique_ptr<Conn> conn_;
  std::chrono::steady_clock::time_point next_try_{};
  std::chrono::milliseconds backoff_{1000};
  std::string last_error_;
};

}  // namespace mingchu::notify
