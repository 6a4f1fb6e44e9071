#include "ingest/mqtt_subscriber.hpp"

#include <mosquitto.h>
#include <poll.h>

#include <cstring>
#include <mutex>

#include "core/ids.hpp"
#include "core/log.hpp"

namespace mingchu::ingest {
namespace {

constexpr auto kMaxBackoff = std::chrono::seconds(30);
constexpr auto kCommitWait = std::chrono::seconds(30);

// Errors that may pass (the database was unavailable): the message is not acknowledged.
bool transient(const Error& e) {
  return e.kind == ErrorKind::kUnavailable || e.kind == ErrorKind::kInternal || e.kind == ErrorKind::kRateLimited;
}

std::string_view kind_name(MqttKind k) {
  switch (k) {
    case MqttKind::kAlerts:
      return "alerts";
    case MqttKind::kReadings:
      return "readings";
    case MqttKind::kHeartbeats:
      return "heartbeats";
  }
  return "alerts";
}

std::once_flag g_lib_once;

}  // namespace

// ---------------------------------------------------------------- IngestSink

void IngestSink::alert(const IngestSource& src, AlertEvent e, std::function<void(Status)> done) {
  svc_.submit(src, std::move(e),
              [done = std::move(done)](IngestResult r) { done(r.ok() ? ok_status() : Status(*r.error)); });
}

void IngestSink::reading(const IngestSource& src, Reading r, std::function<void(Status)> done) {
  svc_.submit_reading(src, std::move(r), std::move(done));
}

void IngestSink::heartbeat(const IngestSource& src, Heartbeat h, std::function<void(Status)> done) {
  svc_.submit_heartbeat(src, std::move(h), std::move(done));
}

// ---------------------------------------------------------------- MqttSubscriber

struct MqttSubscriber::Impl {
  MqttOptions opt;
  MqttSink& sink;
  Metrics& metrics;
  std::atomic<bool>& connected;
  std::atomic<bool>& subscribed;
  std::string host;
  int port = 1883;

  std::thread thread;
  std::atomic<bool> running{false};
  mosquitto* mosq = nullptr;  // loop thread only

  // Submissions of the current connection that are not answered yet. Shared with the
  // completions, which may run (on the ingest writer) after this object is gone.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::uint64_t generation = 0;
    int pending = 0;
    std::string failure;   // a transient failure: do not acknowledge, reconnect
    bool refused = false;  // CONNACK refused the connection
  };
  std::shared_ptr<Shared> sh = std::make_shared<Shared>();

  Impl(MqttOptions o, MqttSink& s, Metrics& m, std::atomic<bool>& c, std::atomic<bool>& sub)
      : opt(std::move(o)), sink(s), metrics(m), connected(c), subscribed(sub) {}

  void count_reject(const std::string& topic, const Error& e) { reject_line(metrics, topic, e); }

  static void reject_line(Metrics& metrics, const std::string& topic, const Error& e) {
    std::string reason = e.code.empty() ? "invalid" : e.code;
    metrics.counter("mingchu_mqtt_rejected_total", "reason=\"" + reason + "\"", "MQTT messages rejected, by reason")
        .inc();
    log::warn(
        "MQTT message rejected",
        {{"topic", topic.substr(0, 200)}, {"reason", reason}, {"field", e.field}, {"error", e.message.substr(0, 300)}});
  }

  static void on_connect(mosquitto* m, void* self, int rc, int flags, const mosquitto_property*) {
    auto* im = static_cast<Impl*>(self);
    if (rc != 0) {
      log::warn("MQTT broker refused the connection", {{"reason", mosquitto_connack_string(rc)}});
      std::lock_guard g(im->sh->mu);
      im->sh->refused = true;
      return;
    }
    std::string share = im->opt.shared_group.empty() ? "" : "$share/" + im->opt.shared_group + "/";
    std::string t1 = share + "mingchu/+/+/alerts", t2 = share + "mingchu/+/+/readings",
                t3 = share + "mingchu/+/+/heartbeats";
    char* topics[] = {t1.data(), t2.data(), t3.data()};
    int src = mosquitto_subscribe_multiple(m, nullptr, 3, topics, 1, 0, nullptr);
    if (src != MOSQ_ERR_SUCCESS) log::warn("MQTT subscribe failed", {{"error", mosquitto_strerror(src)}});
    im->connected = true;
    im->metrics.gauge("mingchu_mqtt_connected", "", "1 while subscribed to the MQTT broker").set(1);
    log::info("MQTT connected", {{"broker", im->host + ":" + std::to_string(im->port)},
                                 {"client_id", im->opt.client_id},
                                 {"session_present", (flags & 1) ? "true" : "false"}});
  }

  static void on_subscribe(mosquitto*, void* self, int, int, const int*) {
    static_cast<Impl*>(self)->subscribed = true;
  }

  static void on_message(mosquitto*, void* self, const mosquitto_message* msg) {
    static_cast<Impl*>(self)->handle(msg);
  }

  void handle(const mosquitto_message* msg) {
    std::string topic = msg->topic ? msg->topic : "";
    std::string_view payload(static_cast<const char*>(msg->payload),
                             msg->payload ? static_cast<size_t>(msg->payloadlen) : 0);
    auto t = parse_mqtt_topic(topic);
    if (!t) return count_reject(topic, t.error());
    metrics
        .counter("mingchu_mqtt_messages_total", "kind=\"" + std::string(kind_name(t->kind)) + "\"",
                 "MQTT messages received, by kind")
        .inc();
    auto ev = parse_mqtt_message(*t, payload, opt.max_payload);
    if (!ev) return count_reject(topic, ev.error());
    IngestSource src = IngestSource::for_unit(t->unit_id, "mqtt:" + t->unit_id + "/" + t->source_id, "mqtt");
    std::uint64_t gen;
    {
      std::lock_guard g(sh->mu);
      ++sh->pending;
      gen = sh->generation;
    }
    auto done = [sh = sh, m = &metrics, gen, topic](Status st) {
      if (!st.ok() && !transient(st.error())) reject_line(*m, topic, st.error());
      std::lock_guard g(sh->mu);
      if (gen != sh->generation) return;  // an earlier connection's message: it will come again
      --sh->pending;
      if (!st.ok() && transient(st.error()) && sh->failure.empty()) sh->failure = st.error().message;
      sh->cv.notify_all();
    };
    try {
      std::visit(
          [&](auto&& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, AlertEvent>) {
              sink.alert(src, std::move(e), done);
            } else if constexpr (std::is_same_v<T, Reading>) {
              sink.reading(src, std::move(e), done);
            } else {
              sink.heartbeat(src, std::move(e), done);
            }
          },
          std::move(*ev));
    } catch (const std::exception& e) {
      done(Error::internal(std::string("submit failed: ") + e.what()));
    }
  }

  bool connect_once() {
    mosq = mosquitto_new(opt.client_id.c_str(), /*clean_session=*/false, this);
    if (!mosq) {
      log::error("MQTT: cannot create a client", {{"client_id", opt.client_id}});
      return false;
    }
    mosquitto_threaded_set(mosq, true);  // PUBACKs stay queued until we write them
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (!opt.username.empty()) {
      mosquitto_username_pw_set(mosq, opt.username.c_str(), opt.password.empty() ? nullptr : opt.password.c_str());
    }
    mosquitto_connect_with_flags_callback_set(mosq, &Impl::on_connect_v3);
    mosquitto_message_callback_set(mosq, &Impl::on_message);
    mosquitto_subscribe_callback_set(mosq, &Impl::on_subscribe);
    {
      std::lock_guard g(sh->mu);
      ++sh->generation;
      sh->pending = 0;
      sh->failure.clear();
      sh->refused = false;
    }
    int rc = mosquitto_connect(mosq, host.c_str(), port, opt.keepalive_seconds);
    if (rc != MOSQ_ERR_SUCCESS) {
      log::warn("MQTT broker unreachable",
                {{"broker", host + ":" + std::to_string(port)},
                 {"error", rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc)}});
      teardown();
      return false;
    }
    metrics.counter("mingchu_mqtt_connects_total", "", "MQTT connection attempts that reached the broker").inc();
    return true;
  }

  static void on_connect_v3(mosquitto* m, void* self, int rc, int flags) { on_connect(m, self, rc, flags, nullptr); }

  // Drops the connection without writing what is queued (unacknowledged PUBACKs included).
  void teardown() {
    if (mosq) mosquitto_destroy(mosq);
    mosq = nullptr;
    {
      std::lock_guard g(sh->mu);
      ++sh->generation;
      sh->pending = 0;
    }
    subscribed = false;
    if (connected.exchange(false)) metrics.gauge("mingchu_mqtt_connected", "").set(0);
  }

  // Waits until every submitted message is answered; false on a transient failure, a stop
  // or a writer that does not answer in time.
  bool wait_commits() {
    std::unique_lock lock(sh->mu);
    bool done = sh->cv.wait_for(lock, kCommitWait, [&] { return sh->pending == 0 || !sh->failure.empty(); });
    if (!sh->failure.empty()) {
      log::warn("MQTT: an event could not be stored; reconnecting without acknowledging it", {{"error", sh->failure}});
      return false;
    }
    if (sh->pending != 0) {
      log::warn("MQTT: commits did not finish in time; reconnecting without acknowledging");
      return false;
    }
    return done;
  }

  // One round: read a burst, wait for its commits, write the acknowledgements.
  bool step() {
    int sock = mosquitto_socket(mosq);
    if (sock < 0) return false;
    int n = 0;
    for (;;) {
      pollfd p{sock, POLLIN, 0};
      int wait_ms = (n == 0 && !mosquitto_want_write(mosq)) ? 100 : 0;
      int rc = ::poll(&p, 1, wait_ms);
      if (rc <= 0) break;
      if ((p.revents & POLLIN) == 0) return false;  // error or hang-up
      int mrc = mosquitto_loop_read(mosq, 1);
      if (mrc != MOSQ_ERR_SUCCESS) {
        log::warn("MQTT connection lost", {{"error", mosquitto_strerror(mrc)}});
        return false;
      }
      {
        std::lock_guard g(sh->mu);
        if (sh->refused) return false;
        if (sh->pending >= opt.max_inflight) break;
      }
      if (++n >= 1000 || !running) break;
    }
    if (!wait_commits()) return false;
    if (mosquitto_want_write(mosq)) {
      int wrc = mosquitto_loop_write(mosq, 1);
      if (wrc != MOSQ_ERR_SUCCESS) {
        log::warn("MQTT write failed", {{"error", mosquitto_strerror(wrc)}});
        return false;
      }
    }
    int mrc = mosquitto_loop_misc(mosq);
    return mrc == MOSQ_ERR_SUCCESS;
  }

  void sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(sh->mu);
    sh->cv.wait_for(lock, d, [&] { return !running; });
  }

  void run() {
    std::chrono::milliseconds backoff{1000};
    while (running) {
      if (!mosq) {
        if (!connect_once()) {
          sleep_for(backoff);
          backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
          continue;
        }
      }
      if (step()) {
        if (connected) backoff = std::chrono::milliseconds(1000);
        continue;
      }
      teardown();
      metrics.counter("mingchu_mqtt_reconnects_total", "", "MQTT connections dropped and retried").inc();
      sleep_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    }
    if (mosq) {
      // a clean goodbye: what was committed is acknowledged, then DISCONNECT
      if (wait_commits()) {
        mosquitto_loop_write(mosq, 1);
        mosquitto_disconnect(mosq);
        mosquitto_loop_write(mosq, 1);
      }
      teardown();
    }
  }
};

MqttSubscriber::MqttSubscriber(MqttOptions opt, MqttSink& sink, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(opt), sink, metrics, connected_, subscribed_)) {}

MqttSubscriber::~MqttSubscriber() { stop(); }

Status MqttSubscriber::start() {
  if (impl_->running) return ok_status();
  std::string_view u = impl_->opt.url;
  if (u.rfind("mqtt://", 0) != 0) {
    return Error::invalid("mqtt", "invalid_mqtt_url", "--mqtt must be mqtt://host[:port] (TLS is not supported yet)");
  }
  u.remove_prefix(7);
  if (auto slash = u.find('/'); slash != std::string_view::npos) u = u.substr(0, slash);
  std::string host(u);
  int port = 1883;
  if (auto colon = u.rfind(':'); colon != std::string_view::npos && u.find(']') == std::string_view::npos) {
    std::string p(u.substr(colon + 1));
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) < 1 ||
        std::stoi(p) > 65535) {
      return Error::invalid("mqtt", "invalid_mqtt_url", "the MQTT port must be 1 to 65535");
    }
    port = std::stoi(p);
    host = std::string(u.substr(0, colon));
  }
  if (host.empty()) return Error::invalid("mqtt", "invalid_mqtt_url", "the MQTT URL has no host");
  if (impl_->opt.client_id.empty() || impl_->opt.client_id.size() > 64) {
    return Error::invalid("mqtt.client_id", "invalid_client_id", "the MQTT client id must be 1 to 64 characters");
  }
  std::call_once(g_lib_once, [] { mosquitto_lib_init(); });
  impl_->host = host;
  impl_->port = port;
  impl_->running = true;
  impl_->thread = std::thread([this] { impl_->run(); });
  return ok_status();
}

void MqttSubscriber::stop() {
  if (!impl_ || !impl_->running.exchange(false)) return;
  { std::lock_guard g(impl_->sh->mu); }
  impl_->sh->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace mingchu::ingest
