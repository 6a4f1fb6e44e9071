#include "notify/amqp.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include <map>
#include <vector>

#include <sys/time.h>

#include "core/log.hpp"

namespace mingchu::notify {
namespace {

constexpr amqp_channel_t kChannel = 1;
constexpr std::chrono::milliseconds kMaxBackoff{30000};

std::string reply_text(const amqp_rpc_reply_t& r, const char* what) {
  std::string s = what;
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return s + ": ok";
    case AMQP_RESPONSE_NONE:
      return s + ": no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return s + ": " + amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return s + ": connection closed by broker: " + std::to_string(m->reply_code) + " " +
               std::string(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return s + ": channel closed by broker: " + std::to_string(m->reply_code) + " " +
               std::string(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len);
      }
      return s + ": broker error";
  }
  return s + ": unknown reply";
}

amqp_bytes_t bytes_of(const std::string& s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());
  return b;
}

timeval to_timeval(std::chrono::milliseconds ms) {
  if (ms.count() < 0) ms = std::chrono::milliseconds(0);
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

std::string amqp_routing_key(const OutboxEvent& e) {
  std::string key = e.topic;
  for (const auto& seg : jpath_segments(e.jpath)) {
    if (key.size() + 1 + seg.size() > 255) break;
    key += "." + seg;
  }
  return key;
}

std::string amqp_describe(const std::string& url) {
  std::string shown = url;
  auto scheme = shown.find("://");
  auto at = shown.find('@');
  if (scheme != std::string::npos && at != std::string::npos) {
    auto colon = shown.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) shown.replace(colon + 1, at - colon - 1, "***");
  }
  return shown;
}

// One open connection with channel 1 in confirm mode.
struct AmqpChannel::Conn {
  amqp_connection_state_t state = nullptr;
  std::uint64_t next_tag = 1;  // delivery tag of the next publish
  std::chrono::steady_clock::time_point last_used = std::chrono::steady_clock::now();
  ~Conn() {
    if (state) {
      amqp_destroy_connection(state);  // closes the socket without the close handshake
    }
  }
};

AmqpChannel::AmqpChannel(AmqpOptions opt, Metrics& metrics) : opt_(std::move(opt)), metrics_(metrics) {}

AmqpChannel::~AmqpChannel() {
  std::lock_guard g(mu_);
  if (conn_ && conn_->state) {
    amqp_channel_close(conn_->state, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_->state, AMQP_REPLY_SUCCESS);
  }
  conn_.reset();
}

std::vector<std::string> AmqpChannel::targets(storage::Connection& c, const OutboxEvent& e) {
  (void)c;
  (void)e;
  return {opt_.exchange};
}

void AmqpChannel::drop(const std::string& why) {
  if (conn_) log::warn("AMQP connection lost", {{"broker", amqp_describe(opt_.url)}, {"error", why}});
  conn_.reset();
  last_error_ = why;
  next_try_ = std::chrono::steady_clock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

Status AmqpChannel::connect() {
  std::lock_guard g(mu_);
  if (conn_) return ok_status();
  std::string buf = opt_.url;
  amqp_connection_info ci;
  amqp_default_connection_info(&ci);
  if (amqp_parse_url(buf.data(), &ci) != AMQP_STATUS_OK) {
    return Error::invalid("amqp.url", "invalid_amqp_url", "cannot parse the AMQP URL " + amqp_describe(opt_.url));
  }
  std::string vhost = ci.vhost && *ci.vhost ? ci.vhost : "/";
  auto c = std::make_unique<Conn>();
  c->state = amqp_new_connection();
  amqp_socket_t* sock = nullptr;
  if (ci.ssl) {
    sock = amqp_ssl_socket_new(c->state);
    if (sock && !opt_.cacert.empty()) amqp_ssl_socket_set_cacert(sock, opt_.cacert.c_str());
    if (sock) {
      amqp_ssl_socket_set_verify_peer(sock, 1);
      amqp_ssl_socket_set_verify_hostname(sock, 1);
    }
  } else {
    sock = amqp_tcp_socket_new(c->state);
  }
  auto fail = [&](std::string why) -> Status {
    c.reset();
    last_error_ = why;
    next_try_ = std::chrono::steady_clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    return Error::unavailable(why);
  };
  if (!sock) return fail("cannot create an AMQP socket");
  timeval tv = to_timeval(opt_.confirm_timeout);
  if (int rc = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv); rc != AMQP_STATUS_OK) {
    return fail(std::string("connect ") + ci.host + ":" + std::to_string(ci.port) + ": " + amqp_error_string2(rc));
  }
  amqp_set_handshake_timeout(c->state, &tv);
  amqp_set_rpc_timeout(c->state, &tv);
  amqp_rpc_reply_t r = amqp_login(c->state, vhost.c_str(), 0, 131072, opt_.heartbeat_seconds, AMQP_SASL_METHOD_PLAIN,
                                  ci.user, ci.password);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) return fail(reply_text(r, "login"));
  amqp_channel_open(c->state, kChannel);
  if (r = amqp_get_rpc_reply(c->state); r.reply_type != AMQP_RESPONSE_NORMAL)
    return fail(reply_text(r, "channel.open"));
  amqp_exchange_declare(c->state, kChannel, amqp_cstring_bytes(opt_.exchange.c_str()), amqp_cstring_bytes("topic"),
                        /*passive=*/0, /*durable=*/1, /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  if (r = amqp_get_rpc_reply(c->state); r.reply_type != AMQP_RESPONSE_NORMAL) {
    return fail(reply_text(r, "exchange.declare"));
  }
  amqp_confirm_select(c->state, kChannel);
  if (r = amqp_get_rpc_reply(c->state); r.reply_type != AMQP_RESPONSE_NORMAL) {
    return fail(reply_text(r, "confirm.select"));
  }
  conn_ = std::move(c);
  backoff_ = std::chrono::milliseconds(1000);
  log::info("AMQP connected", {{"broker", amqp_describe(opt_.url)}, {"exchange", opt_.exchange}});
  metrics_.counter("mingchu_amqp_connects_total", "", "AMQP connections opened").inc();
  return ok_status();
}

bool AmqpChannel::ready() {
  {
    std::lock_guard g(mu_);
    auto now = std::chrono::steady_clock::now();
    if (conn_) {
      // While idle, let the library exchange heartbeats (and notice a dead connection) so
      // the next publish does not fail on a connection the broker already closed.
      if (now - conn_->last_used < std::chrono::seconds(1)) return true;
      conn_->last_used = now;
      timeval zero{0, 0};
      amqp_frame_t frame;
      int rc = amqp_simple_wait_frame_noblock(conn_->state, &frame, &zero);
      if (rc == AMQP_STATUS_TIMEOUT) return true;
      bool closing = frame.frame_type == AMQP_FRAME_METHOD && (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                                                               frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD);
      if (rc == AMQP_STATUS_OK && !closing) return true;  // nothing of ours is in flight between batches
      drop(rc == AMQP_STATUS_OK ? "the broker closed the channel" : std::string(amqp_error_string2(rc)));
      return false;
    }
    if (now < next_try_) return false;
  }
  auto st = connect();
  if (!st) log::warn("AMQP broker unreachable", {{"broker", amqp_describe(opt_.url)}, {"error", st.error().message}});
  return st.ok();
}

DeliveryOutcome AmqpChannel::deliver_one(const DeliveryJob& job) {
  return deliver(std::span<const DeliveryJob>(&job, 1)).front();
}

std::vector<DeliveryOutcome> AmqpChannel::deliver(std::span<const DeliveryJob> jobs) {
  std::vector<DeliveryOutcome> out(jobs.size());
  std::lock_guard g(mu_);
  if (!conn_) {
    for (auto& o : out) o.error = "AMQP broker unreachable: " + last_error_;
    return out;
  }
  amqp_connection_state_t st = conn_->state;
  // delivery tag -> index into jobs
  std::map<std::uint64_t, size_t> waiting;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const DeliveryJob& j = jobs[i];
    std::string key = amqp_routing_key(j.event);
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                   AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_APP_ID_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 2;  // persistent
    props.message_id = bytes_of(j.event.id);
    props.type = bytes_of(j.event.topic);
    props.timestamp = static_cast<std::uint64_t>(j.event.created_at / 1000);
    props.app_id = amqp_cstring_bytes("mingchu");
    int rc = amqp_basic_publish(st, kChannel, amqp_cstring_bytes(opt_.exchange.c_str()), bytes_of(key),
                                /*mandatory=*/0, /*immediate=*/0, &props, bytes_of(j.event.payload));
    if (rc != AMQP_STATUS_OK) {
      std::string why = std::string("publish: ") + amqp_error_string2(rc);
      for (size_t k = i; k < jobs.size(); ++k) out[k].error = why;
      for (auto& [tag, idx] : waiting) out[idx].error = why;
      drop(why);
      return out;
    }
    waiting.emplace(conn_->next_tag++, i);
  }
  conn_->last_used = std::chrono::steady_clock::now();
  auto deadline = conn_->last_used + opt_.confirm_timeout;
  std::string broken;
  while (!waiting.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    timeval tv = to_timeval(left);
    amqp_frame_t frame;
    amqp_maybe_release_buffers(st);
    int rc = amqp_simple_wait_frame_noblock(st, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) break;
    if (rc != AMQP_STATUS_OK) {
      broken = std::string("waiting for confirms: ") + amqp_error_string2(rc);
      break;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD:
      case AMQP_BASIC_NACK_METHOD: {
        bool ack = frame.payload.method.id == AMQP_BASIC_ACK_METHOD;
        std::uint64_t tag;
        bool multiple;
        if (ack) {
          auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
          tag = m->delivery_tag;
          multiple = m->multiple != 0;
        } else {
          auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
          tag = m->delivery_tag;
          multiple = m->multiple != 0;
        }
        auto settle = [&](std::map<std::uint64_t, size_t>::iterator it) {
          if (ack) {
            out[it->second].delivered = true;
          } else {
            out[it->second].error = "the broker refused the message (basic.nack)";
          }
          return waiting.erase(it);
        };
        if (multiple) {
          for (auto it = waiting.begin(); it != waiting.end() && it->first <= tag;) it = settle(it);
        } else if (auto it = waiting.find(tag); it != waiting.end()) {
          settle(it);
        }
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        broken = "the broker closed the channel";
        break;
      default:
        break;  // basic.return cannot happen (not mandatory); others are not ours
    }
    if (!broken.empty()) break;
  }
  if (!waiting.empty()) {
    std::string why = broken.empty() ? "no publisher confirm within the timeout" : broken;
    for (auto& [tag, idx] : waiting) out[idx].error = why;
    // the tags of a timed-out publish may still be confirmed later; start a fresh channel so
    // they cannot be mistaken for those of the next batch
    drop(why);
  }
  auto& ok = metrics_.counter("mingchu_amqp_published_total", "result=\"confirmed\"", "AMQP publishes by outcome");
  auto& bad = metrics_.counter("mingchu_amqp_published_total", "result=\"failed\"");
  for (const auto& o : out) (o.delivered ? ok : bad).inc();
  return out;
}

}  // namespace mingchu::notify
