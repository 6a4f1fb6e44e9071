// The MQTT edge: devices, cameras and AI boxes that speak MQTT publish to a broker
// (mosquitto) and the server subscribes, with `serve --mqtt mqtt://host:port`:
//
//   mingchu/{unit_id}/{source_id}/alerts       alert events   (payload as POST /api/v1/ingest/alerts)
//   mingchu/{unit_id}/{source_id}/readings     sensor readings (as POST /api/v1/ingest/readings)
//   mingchu/{unit_id}/{source_id}/heartbeats   signs of life   (as POST /api/v1/ingest/heartbeats)
//
// all at QoS 1, with a fixed client id per node and clean_session=false: the broker keeps
// the subscriptions and queues QoS 1 messages while the server is away (restart, network).
//
// The topic names the unit and the sending camera or device (source_id). A payload that
// names a unit must name the same one; one that names a camera_id or device_id must name
// the source_id as one of them (an AI box publishes each camera's events on that camera's
// topic); one that names neither gets camera_id (source_id "cam_...") or device_id
// ("dev_...") from the topic, or is an event of the unit. Events are submitted through
// IngestService with IngestSource::for_unit(unit, "mqtt:<unit>/<source>", "mqtt"), so their
// event_ids are idempotent within that namespace.
//
// Acknowledgement only after commit. libmosquitto 2.0.11 has no manual acknowledgement and
// builds the PUBACK before it calls on_message. This subscriber therefore drives the
// client's loop itself in "threaded" mode (mosquitto_threaded_set), where a queued PUBACK is
// not written until mosquitto_loop_write() runs: it reads a burst of messages, submits them,
// waits until every one of them is committed (or refused for good), and only then writes
// the queued PUBACKs. If a submit fails for a reason that may pass (503: the database is
// unavailable) the connection is dropped WITHOUT writing them, and the broker redelivers
// those messages to the persistent session after the reconnect. What remains: a message
// whose PUBACK is written is committed; a crash before the write means a redelivery, which
// the idempotent event_id turns into a duplicate answer, not a second alert.
//
// Hostile input: a payload that does not parse, is larger than max_payload, names another
// unit, or is refused by IngestService (4xx) is logged once (a rejection line with the
// topic and reason, never the payload) and counted in mingchu_mqtt_rejected_total{reason},
// and acknowledged: it will never be valid, and it must not block the messages behind it.
//
// Threads: start() launches the loop thread; stop() (or the destructor) waits for the
// in-flight commits, writes their PUBACKs, disconnects and joins. The sink must outlive the
// subscriber and answer every submission (IngestService does).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/metrics.hpp"
#include "core/result.hpp"
#include "ingest/ingest_service.hpp"
#include "ingest/mqtt_message.hpp"

namespace mingchu::ingest {

struct MqttOptions {
  std::string url;        // mqtt://host[:port] (1883 by default)
  std::string client_id;  // fixed per node, 1..23 characters recommended
  std::string username;
  std::string password;
  int keepalive_seconds = 30;
  std::string shared_group;  // when set, subscribe "$share/<group>/mingchu/+/+/..." (nodes split the load)
  size_t max_payload = 4 * 1024 * 1024;
  int max_inflight = 200;  // messages read before their commits are awaited
};

// Where parsed messages go: IngestService in the program, a fake in tests.
class MqttSink {
 public:
  virtual ~MqttSink() = default;
  virtual void alert(const IngestSource& src, AlertEvent e, std::function<void(Status)> done) = 0;
  virtual void reading(const IngestSource& src, Reading r, std::function<void(Status)> done) = 0;
  virtual void heartbeat(const IngestSource& src, Heartbeat h, std::function<void(Status)> done) = 0;
};

// The sink of the program.
class IngestSink final : public MqttSink {
 public:
  explicit IngestSink(IngestService& svc) : svc_(svc) {}
  void alert(const IngestSource& src, AlertEvent e, std::function<void(Status)> done) override;
  void reading(const IngestSource& src, Reading r, std::function<void(Status)> done) override;
  void heartbeat(const IngestSource& src, Heartbeat h, std::function<void(Status)> done) override;

 private:
  IngestService& svc_;
};

class MqttSubscriber {
 public:
  MqttSubscriber(MqttOptions opt, MqttSink& sink, Metrics& metrics);
  ~MqttSubscriber();
  MqttSubscriber(const MqttSubscriber&) = delete;
  MqttSubscriber& operator=(const MqttSubscriber&) = delete;

  // Refuses a URL that is not mqtt://host[:port].
  Status start();
  void stop();
  bool connected() const { return connected_; }
  // True once the broker acknowledged the subscriptions (SUBACK) of the current connection:
  // from then on a message published to the topics reaches this subscriber.
  bool subscribed() const { return subscribed_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> subscribed_{false};
};

}  // namespace mingchu::ingest
