#include "gb/gb_server.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "alerts/alert_service.hpp"
#include "alerts/writer.hpp"
#include "audit/audit_log.hpp"
#include "auth/auth_service.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "ingest/ingest_service.hpp"
#include "sip/manscdp.hpp"
#include "sip/media_wire.hpp"
#include "storage/database.hpp"

namespace mingchu::gb {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUpsertDevice =
    "INSERT INTO gb_devices (device_id, transport, remote, registered_at, channels, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, '[]', $4, $4) ON CONFLICT (device_id) DO UPDATE SET transport = excluded.transport, "
    "remote = excluded.remote, registered_at = excluded.registered_at, updated_at = excluded.updated_at";
constexpr const char* kDeviceInfo =
    "UPDATE gb_devices SET name = $2, manufacturer = $3, model = $4, firmware = $5, updated_at = $6 WHERE device_id = "
    "$1";
constexpr const char* kDeviceKeepalive = "UPDATE gb_devices SET last_keepalive_at = $2 WHERE device_id = $1";
constexpr const char* kDeviceChannels = "UPDATE gb_devices SET channels = $2, updated_at = $3 WHERE device_id = $1";
constexpr const char* kMarkOffline =
    "INSERT INTO liveness (subject, kind, unit_id, last_heartbeat_at, offline) VALUES ($1, 'camera', $2, $3, 1) "
    "ON CONFLICT (subject) DO UPDATE SET offline = 1 WHERE liveness.offline = 0";
constexpr const char* kCameraOffline = "UPDATE cameras SET status = 'offline' WHERE id = $1";

bool gb_id(const std::string& s) {
  return s.size() == 20 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* h = "0123456789abcdef";
  std::string o(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    o[2 * i] = h[p[i] >> 4];
    o[2 * i + 1] = h[p[i] & 15];
  }
  return o;
}

std::string sip_date(TimeMs ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[96];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return b;
}

std::string uri_of(const std::string& header_value) {
  size_t a = header_value.find('<');
  size_t b = header_value.find('>', a == std::string::npos ? 0 : a);
  if (a != std::string::npos && b != std::string::npos) return header_value.substr(a + 1, b - a - 1);
  size_t semi = header_value.find(';');
  return header_value.substr(0, semi);
}

std::string channels_json(const std::vector<Channel>& chans) {
  json::array a;
  for (const auto& c : chans) {
    a.push_back(json::object{{"channel_id", c.id},
                             {"name", c.name},
                             {"status", c.status},
                             {"manufacturer", c.manufacturer},
                             {"model", c.model}});
  }
  return json::serialize(a);
}

std::vector<Channel> parse_channels(const std::string& s) {
  std::vector<Channel> out;
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) continue;
    const auto& o = e.as_object();
    auto str = [&](const char* k) {
      auto it = o.find(k);
      return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
    };
    out.push_back({str("channel_id"), str("name"), str("status"), str("manufacturer"), str("model")});
  }
  return out;
}

// The unit's cameras for the device's channels: created (area "other", stream gb28181://...), or
// kept; a channel's camera left in another unit (the device moved) is retired there.
std::map<std::string, std::string> sync_cameras(storage::Connection& c, const std::string& device_id,
                                                const std::string& unit_id, const std::string& jpath,
                                                const std::vector<Channel>& chans, TimeMs now) {
  std::map<std::string, std::string> out;
  for (const auto& ch : chans) {
    auto rows = c.query("SELECT id, unit_id FROM cameras WHERE gb_channel_id = $1 AND deleted_at IS NULL", {ch.id});
    std::string url = "gb28181://" + device_id + "/" + ch.id;
    bool kept = false;
    for (const auto& r : rows) {
      if (r.text(1) == unit_id && !kept) {
        c.exec("UPDATE cameras SET gb_device_id = $2, stream_url = $3, updated_at = $4 WHERE id = $1",
               {r.text(0), device_id, url, now});
        out[ch.id] = r.text(0);
        kept = true;
      } else {
        c.exec("UPDATE cameras SET deleted_at = $2, updated_at = $2 WHERE id = $1", {r.text(0), now});
      }
    }
    if (kept) continue;
    std::string id = new_id("cam");
    std::string name = ch.name.empty() ? "国标通道 " + ch.id : ch.name.substr(0, 100);
    c.exec(
        "INSERT INTO cameras (id, unit_id, jpath, name, area, brand, model, gb_device_id, gb_channel_id, stream_url, "
        "status, created_at, updated_at) VALUES ($1, $2, $3, $4, 'other', $5, $6, $7, $8, $9, 'offline', $10, $10)",
        {id, unit_id, jpath, name, ch.manufacturer.empty() ? storage::Value(nullptr) : storage::Value(ch.manufacturer),
         ch.model.empty() ? storage::Value(nullptr) : storage::Value(ch.model), device_id, ch.id, url, now});
    out[ch.id] = id;
  }
  return out;
}

}  // namespace

// ------------------------------------------------------------------ TCP connections

class TcpConn : public std::enable_shared_from_this<TcpConn> {
 public:
  TcpConn(tcp::socket s, GbServer& srv) : sock_(std::move(s)), srv_(srv) {
    boost::system::error_code ec;
    auto ep = sock_.remote_endpoint(ec);
    if (!ec) ep_ = ep;
  }
  void start() { read(); }
  void send(std::string d) {
    auto self = shared_from_this();
    asio::post(srv_.io(), [self, d = std::move(d)]() mutable {
      if (self->closed_) return;
      if (self->queued_ > (4u << 20)) return self->close();
      bool idle = self->out_.empty();
      self->queued_ += d.size();
      self->out_.push_back(std::move(d));
      if (idle) self->write();
    });
  }
  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    sock_.close(ec);
    srv_.on_tcp_closed(shared_from_this());
  }
  const tcp::endpoint& endpoint() const { return ep_; }

 private:
  void read() {
    auto self = shared_from_this();
    sock_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, size_t n) {
      if (ec) return self->close();
      self->in_.append(self->buf_, n);
      for (;;) {
        size_t skip = 0;
        while (skip < self->in_.size() && (self->in_[skip] == '\r' || self->in_[skip] == '\n')) ++skip;
        if (skip) self->in_.erase(0, skip);  // CRLF keepalives
        long len = sip::sip_frame_length(self->in_);
        if (len < 0) {
          self->srv_.count("sip_oversized");
          return self->close();
        }
        if (len == 0) break;
        std::string msg = self->in_.substr(0, static_cast<size_t>(len));
        self->in_.erase(0, static_cast<size_t>(len));
        Peer p;
        p.tcp = self;
        self->srv_.on_datagram(msg, p);
      }
      self->read();
    });
  }
  void write() {
    auto self = shared_from_this();
    asio::async_write(sock_, asio::buffer(out_.front()), [self](boost::system::error_code ec, size_t) {
      if (ec) return self->close();
      self->queued_ -= self->out_.front().size();
      self->out_.pop_front();
      if (!self->out_.empty()) self->write();
    });
  }

  tcp::socket sock_;
  GbServer& srv_;
  tcp::endpoint ep_;
  char buf_[16384];
  std::string in_;
  std::deque<std::string> out_;
  size_t queued_ = 0;
  bool closed_ = false;
};

std::string Peer::remote() const {
  if (tcp) return tcp->endpoint().address().to_string() + ":" + std::to_string(tcp->endpoint().port());
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}
std::string Peer::host() const { return tcp ? tcp->endpoint().address().to_string() : ep.address().to_string(); }

// ------------------------------------------------------------------ the server

GbServer::GbServer(storage::Database& db, const Clock& clock, const audit::AuditLog& audit,
                   alerts::AlertService& alerts, ingest::IngestService* ingest, Metrics& metrics, GbConfig cfg)
    : db_(db), clock_(clock), audit_(audit), alerts_(alerts), ingest_(ingest), metrics_(metrics), cfg_(std::move(cfg)) {
  secret_ = random_hex(32);
  sip::sip_init();
}

GbServer::~GbServer() { stop(); }

std::string GbServer::our_host() const {
  if (!cfg_.media_host.empty()) return cfg_.media_host;
  auto colon = cfg_.listen.rfind(':');
  std::string h = cfg_.listen.substr(0, colon);
  if (h.empty() || h == "0.0.0.0" || h == "localhost") return "127.0.0.1";
  return h;
}

void GbServer::start() {
  load();
  auto colon = cfg_.listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("gb28181.listen must be HOST:PORT");
  std::string host = cfg_.listen.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  int port = std::atoi(cfg_.listen.substr(colon + 1).c_str());
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("gb28181.listen: bad address " + host);
  udp_ = std::make_unique<udp::socket>(io_);
  udp_->open(addr.is_v6() ? udp::v6() : udp::v4());
  udp_->set_option(asio::socket_base::receive_buffer_size(8 << 20), ec);
  udp_->bind(udp::endpoint(addr, static_cast<unsigned short>(port)), ec);
  if (ec) throw std::runtime_error("cannot listen on udp " + cfg_.listen + ": " + ec.message());
  port_ = udp_->local_endpoint().port();
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  acceptor_->open(addr.is_v6() ? tcp::v6() : tcp::v4());
  acceptor_->set_option(asio::socket_base::reuse_address(true));
  acceptor_->bind(tcp::endpoint(addr, port_), ec);
  if (ec) throw std::runtime_error("cannot listen on tcp " + cfg_.listen + ": " + ec.message());
  acceptor_->listen();
  timer_ = std::make_unique<asio::steady_timer>(io_);

  // UDP receive loop
  auto buf = std::make_shared<std::vector<char>>(sip::kMaxMessageBytes + 1);
  auto from = std::make_shared<udp::endpoint>();
  auto recv = std::make_shared<std::function<void()>>();
  *recv = [this, buf, from, recv] {
    udp_->async_receive_from(asio::buffer(*buf), *from,
                             [this, buf, from, recv](boost::system::error_code ec, size_t n) {
                               if (ec == asio::error::operation_aborted || stopped_) return;
                               if (!ec) {
                                 if (n > sip::kMaxMessageBytes) {
                                   count("sip_oversized");
                                 } else if (n > 4) {  // shorter: NAT keepalive CRLFs
                                   Peer p;
                                   p.ep = *from;
                                   on_datagram(std::string_view(buf->data(), n), p);
                                 }
                               }
                               (*recv)();
                             });
  };
  asio::post(io_, [recv] { (*recv)(); });
  // TCP accept loop
  auto accept = std::make_shared<std::function<void()>>();
  *accept = [this, accept] {
    acceptor_->async_accept([this, accept](boost::system::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || stopped_) return;
      if (!ec) std::make_shared<TcpConn>(std::move(s), *this)->start();
      (*accept)();
    });
  };
  asio::post(io_, [accept] { (*accept)(); });
  timer_loop();
  started_ = true;
  writer_ = std::thread([this] { writer_loop(); });
  io_thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      log::error("gb28181 I/O thread stopped", {{"error", e.what()}});
    }
  });
  log::info("gb28181 listening",
            {{"listen", host + ":" + std::to_string(port_)}, {"sip_id", cfg_.sip_id}, {"domain", cfg_.domain}});
}

void GbServer::stop() {
  if (!started_ || stopped_.exchange(true)) return;
  // end the play sessions (BYE) before the I/O stops
  std::vector<std::shared_ptr<PlaySession>> sess;
  {
    std::lock_guard lk(mu_);
    for (auto& [k, s] : sessions_) sess.push_back(s);
  }
  for (auto& s : sess) {
    std::lock_guard lk(s->mu);
    s->state = 3;
    s->cv.notify_all();
  }
  asio::post(io_, [this] {
    boost::system::error_code ec;
    if (udp_) udp_->close(ec);
    if (acceptor_) acceptor_->close(ec);
    if (timer_) timer_->cancel();
    io_.stop();
  });
  if (io_thread_.joinable()) io_thread_.join();
  {
    std::lock_guard lk(wmu_);
    wstop_ = true;
  }
  wcv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void GbServer::count(const std::string& event, std::uint64_t n) {
  metrics_.counter("mingchu_gb_events_total", "event=\"" + event + "\"", "GB/T 28181 signalling and media events")
      .inc(n);
  std::lock_guard lk(cmu_);
  counts_[event] += n;
}

// ---- nonces: stateless (time + HMAC), so a REGISTER flood creates no state before authentication

std::string GbServer::make_nonce() {
  auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  char ts[17];
  std::snprintf(ts, sizeof ts, "%08llx", static_cast<unsigned long long>(now));
  std::string salt = quick_random_hex(4);
  std::string msg = std::string(ts) + salt;
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  return msg + hex(mac, 12);
}

bool GbServer::nonce_ok(const std::string& nonce) const {
  if (nonce.size() != 16 + 24) return false;
  std::string msg = nonce.substr(0, 16);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  std::string want = hex(mac, 12);
  if (CRYPTO_memcmp(want.data(), nonce.data() + 16, 24) != 0) return false;
  long long ts = std::strtoll(nonce.substr(0, 8).c_str(), nullptr, 16);
  auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return ts <= now + 5 && now - ts <= cfg_.nonce_seconds;
}

std::string GbServer::password_for(const std::string& device_id) const {
  auto it = cfg_.device_passwords.find(device_id);
  return it != cfg_.device_passwords.end() ? it->second : cfg_.password;
}

// ---- receiving

void GbServer::on_datagram(std::string_view data, const Peer& peer) {
  auto m = sip::parse_sip(data);
  if (!m) {
    count("sip_malformed");
    return;
  }
  count(m->request ? "sip_request" : "sip_response");
  try {
    handle(*m, peer);
  } catch (const std::exception& e) {
    count("sip_error");
    log::warn("gb28181: message not handled", {{"error", e.what()}});
  }
}

void GbServer::on_tcp_closed(const std::shared_ptr<TcpConn>&) {}

static std::string txn_key(const sip::SipMessage& m) {
  return m.branch + "|" + m.cseq_method + "|" + m.call_id + "|" + std::to_string(m.cseq) + "|" + m.from_tag;
}

void GbServer::handle(const sip::SipMessage& m, const Peer& peer) {
  if (!m.request) return handle_response(m, peer);
  if (m.method != "ACK") {
    std::string cached;
    {
      std::lock_guard lk(cmu_);
      auto it = server_cache_.find(txn_key(m));
      if (it != server_cache_.end()) cached = it->second.response;
    }
    if (!cached.empty()) {
      count("sip_retransmission");
      send(peer, std::move(cached));
      return;
    }
  }
  if (m.method == "REGISTER") return handle_register(m, peer);
  if (m.method == "MESSAGE") return handle_message(m, peer);
  if (m.method == "ACK") return;
  if (m.method == "BYE") {
    std::shared_ptr<PlaySession> s;
    {
      std::lock_guard lk(mu_);
      auto it = sessions_.find(m.call_id);
      if (it != sessions_.end()) {
        s = it->second;
        sessions_.erase(it);
      }
    }
    if (!s) return respond(m, peer, 481, "Call/Transaction Does Not Exist");
    {
      std::lock_guard lk(s->mu);
      s->state = 3;
      s->error = "the device ended the stream (BYE)";
      s->cv.notify_all();
    }
    count("device_bye");
    return respond(m, peer, 200, "OK");
  }
  if (m.method == "OPTIONS") return respond(m, peer, 200, "OK");
  if (m.method == "CANCEL") return respond(m, peer, 481, "Call/Transaction Does Not Exist");
  if (m.method == "INVITE") return respond(m, peer, 488, "Not Acceptable Here");
  count("sip_unsupported_method");
  respond(m, peer, 405, "Method Not Allowed", {{"Allow", "REGISTER, MESSAGE, BYE, ACK, OPTIONS, CANCEL"}});
}

void GbServer::respond(const sip::SipMessage& req, const Peer& peer, int status, const std::string& reason,
                       const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string tag = quick_random_hex(4);
  std::string r = sip::build_response(req, status, reason, tag, headers);
  if (status >= 200) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lk(cmu_);
    std::string key = txn_key(req);
    if (server_cache_.size() >= 200000 && !cache_order_.empty()) {  // a flood: forget the oldest
      server_cache_.erase(cache_order_.front().second);
      cache_order_.pop_front();
    }
    if (server_cache_.emplace(key, Cached{r, now + 32s}).second) cache_order_.emplace_back(now + 32s, key);
  }
  send(peer, std::move(r));
}

void GbServer::send(const Peer& peer, std::string data) {
  if (peer.tcp) {
    peer.tcp->send(std::move(data));
    return;
  }
  auto buf = std::make_shared<std::string>(std::move(data));
  asio::post(io_, [this, buf, ep = peer.ep] {
    boost::system::error_code ec;
    if (udp_) udp_->send_to(asio::buffer(*buf), ep, 0, ec);
  });
}

void GbServer::handle_register(const sip::SipMessage& m, const Peer& peer) {
  const std::string& id = m.from_user;
  if (!gb_id(id)) {
    count("register_bad_id");
    return respond(m, peer, 400, "Bad Request");
  }
  auto challenge = [&](bool stale) {
    std::string h = "Digest realm=\"" + cfg_.domain + "\",nonce=\"" + make_nonce() + "\",algorithm=MD5";
    if (stale) h += ",stale=true";
    respond(m, peer, 401, "Unauthorized", {{"WWW-Authenticate", h}});
  };
  if (!m.auth) {
    count("register_challenge");
    return challenge(false);
  }
  const auto& a = *m.auth;
  if (a.realm != cfg_.domain) {
    count("register_wrong_realm");
    return challenge(false);
  }
  if (!nonce_ok(a.nonce)) {
    count("register_stale_nonce");
    return challenge(true);
  }
  std::string password = password_for(id);
  if (a.username != id || password.empty() || (!a.algorithm.empty() && a.algorithm != "MD5" && a.algorithm != "md5")) {
    count("register_forbidden");
    return respond(m, peer, 403, "Forbidden");
  }
  std::string want = sip::digest_response(a, "REGISTER", password);
  if (want.size() != a.response.size() || CRYPTO_memcmp(want.data(), a.response.data(), want.size()) != 0) {
    count("register_forbidden");
    return respond(m, peer, 403, "Forbidden");
  }
  long expires = m.expires.value_or(3600);
  expires = std::min<long>(expires, cfg_.register_expires_max);
  unsigned long nc = a.qop.empty() ? 0 : std::strtoul(a.nc.c_str(), nullptr, 16);
  bool fresh = false;
  TimeMs now = clock_.now_ms();
  auto steady = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    Device& d = devices_[id];
    if (d.id.empty()) d.id = id;
    if (a.nonce == d.last_nonce && (a.qop.empty() || nc <= d.last_nc)) {
      count("register_nonce_reuse");
      challenge(true);
      return;
    }
    d.last_nonce = a.nonce;
    d.last_nc = nc;
    if (expires == 0) {
      d.registered = false;
      if (d.online) went_offline(d, "unregistered");
      count("unregister");
      respond(m, peer, 200, "OK", {{"Date", sip_date(now)}, {"Expires", "0"}});
      return;
    }
    fresh = !d.online || d.peer.remote() != peer.remote();
    d.peer = peer;
    d.remote = peer.remote();
    d.registered = true;
    d.registered_at = now;
    d.expires = steady + std::chrono::seconds(expires);
    d.last_alive = steady;
    came_alive(d);
  }
  count("register_ok");
  respond(m, peer, 200, "OK", {{"Date", sip_date(now)}, {"Expires", std::to_string(expires)}});
  enqueue([id, t = peer.transport(), r = peer.remote(), now](storage::Connection& c) {
    c.exec(kUpsertDevice, {id, t, r, now});
  });
  if (fresh) {
    query_device(id, "DeviceInfo");
    query_device(id, "Catalog");
  }
}

void GbServer::handle_message(const sip::SipMessage& m, const Peer& peer) {
  const std::string& id = m.from_user;
  auto x = sip::parse_manscdp(m.body);
  auto steady = std::chrono::steady_clock::now();
  std::unique_lock lk(mu_);
  auto it = devices_.find(id);
  if (it == devices_.end() || !it->second.registered || steady > it->second.expires) {
    lk.unlock();
    count("message_unregistered");
    return respond(m, peer, 403, "Forbidden");
  }
  Device& d = it->second;
  if (!x) {
    lk.unlock();
    count("manscdp_malformed");
    return respond(m, peer, 400, "Bad Request");
  }
  respond(m, peer, 200, "OK");
  if (x->cmd_type == "Keepalive") {
    count("keepalive");
    TimeMs now = clock_.now_ms();
    d.last_keepalive_at = now;
    d.last_alive = steady;
    d.peer = peer;
    came_alive(d);
    return;
  }
  if (x->cmd_type == "Catalog" && x->root == "Response") return on_catalog(d, *x);
  if (x->cmd_type == "RecordInfo" && x->root == "Response") {
    lk.unlock();
    return on_record_info(id, *x);
  }
  if (x->cmd_type == "MediaStatus" && x->root == "Notify") {
    lk.unlock();
    return on_media_status(id, m, *x);
  }
  if (x->cmd_type == "DeviceInfo" && x->root == "Response") {
    d.name = x->fields["DeviceName"].substr(0, 100);
    d.manufacturer = x->fields["Manufacturer"].substr(0, 100);
    d.model = x->fields["Model"].substr(0, 100);
    d.firmware = x->fields["Firmware"].substr(0, 100);
    lk.unlock();
    enqueue([id, n = d.name, ma = d.manufacturer, mo = d.model, f = d.firmware,
             t = clock_.now_ms()](storage::Connection& c) {
      c.exec(kDeviceInfo, {id, n, ma, mo, f, t});
    });
    return;
  }
  lk.unlock();
  count("message_other");
}

void GbServer::on_catalog(Device& d, const sip::Manscdp& x) {
  int sum = std::atoi(x.fields.count("SumNum") ? x.fields.at("SumNum").c_str() : "0");
  sum = std::clamp(sum, 0, static_cast<int>(sip::kMaxItems));
  if (x.sn != d.catalog_sn) {
    d.catalog_sn = x.sn;
    d.catalog_acc.clear();
  }
  d.catalog_sum = sum;
  for (const auto& item : x.items) {
    auto get = [&](const char* k) {
      auto it = item.find(k);
      return it == item.end() ? std::string() : it->second;
    };
    std::string cid = get("DeviceID");
    if (!gb_id(cid)) continue;
    std::string type = cid.substr(10, 3);
    if (type == "200" || type == "215" || type == "216") continue;  // the system, groups, virtual organisations
    auto same = std::find_if(d.catalog_acc.begin(), d.catalog_acc.end(), [&](const Channel& c) { return c.id == cid; });
    Channel ch{cid, get("Name").substr(0, 100), get("Status"), get("Manufacturer").substr(0, 100),
               get("Model").substr(0, 100)};
    if (same != d.catalog_acc.end())
      *same = ch;
    else if (d.catalog_acc.size() < sip::kMaxItems)
      d.catalog_acc.push_back(ch);
  }
  count("catalog_message");
  if (static_cast<int>(d.catalog_acc.size()) < sum) return;  // more MESSAGEs to come
  d.channels = d.catalog_acc;
  d.catalog_acc.clear();
  d.catalog_sn.clear();
  count("catalog_complete");
  std::string id = d.id, unit = d.unit_id;
  auto chans = d.channels;
  enqueue([this, id, unit, chans](storage::Connection& c) {
    TimeMs now = clock_.now_ms();
    c.exec(kDeviceChannels, {id, channels_json(chans), now});
    if (unit.empty()) return;
    auto u = c.query("SELECT jpath FROM units WHERE id = $1 AND deleted_at IS NULL", {unit});
    if (u.empty()) return;
    auto cams = sync_cameras(c, id, unit, u[0].text(0), chans, now);
    std::lock_guard lk(mu_);
    auto it = devices_.find(id);
    if (it != devices_.end() && it->second.unit_id == unit) {
      it->second.cameras = cams;
      heartbeat(it->second, true);
    }
  });
}

void GbServer::handle_response(const sip::SipMessage& m, const Peer& peer) {
  std::function<void(const sip::SipMessage*)> cb;
  {
    std::lock_guard lk(mu_);
    auto it = txns_.find(m.branch);
    if (it == txns_.end()) {
      // a retransmitted 2xx to an INVITE whose ACK was lost: ACK again
      if (m.cseq_method == "INVITE" && m.status / 100 == 2) {
        auto s = sessions_.find(m.call_id);
        if (s != sessions_.end()) {
          std::string branch = "z9hG4bK" + quick_random_hex(8);
          std::string ack = request_head("ACK", s->second->remote_uri, peer, branch) + "From: " + s->second->from +
                            "\r\nTo: " + m.to + "\r\nCall-ID: " + m.call_id + "\r\nCSeq: " + std::to_string(m.cseq) +
                            " ACK\r\nContent-Length: 0\r\n\r\n";
          send(peer, std::move(ack));
          count("ack_resent");
        }
      }
      return;
    }
    if (m.status < 200) {
      it->second.provisional = true;
      return;
    }
    cb = std::move(it->second.on_final);
    txns_.erase(it);
  }
  if (cb) cb(&m);
}

std::string GbServer::request_head(const std::string& method, const std::string& uri, const Peer& peer,
                                   const std::string& branch) {
  return method + " " + uri + " SIP/2.0\r\nVia: SIP/2.0/" + (peer.is_tcp() ? "TCP " : "UDP ") + our_host() + ":" +
         std::to_string(port_) + ";rport;branch=" + branch + "\r\nMax-Forwards: 70\r\nUser-Agent: MingChu\r\n";
}

std::string GbServer::device_uri(const Device& d, const std::string& user) const {
  return "sip:" + user + "@" + d.remote;
}

void GbServer::send_request(const Peer& peer, std::string data, const std::string& branch, bool invite,
                            std::function<void(const sip::SipMessage*)> on_final, std::chrono::milliseconds timeout) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    ClientTxn t;
    t.data = data;
    t.peer = peer;
    t.invite = invite;
    t.next = now + 500ms;
    t.deadline = now + (timeout.count() > 0 ? timeout : cfg_.request_timeout);
    t.on_final = std::move(on_final);
    txns_[branch] = std::move(t);
  }
  send(peer, std::move(data));
}

void GbServer::query_device(const std::string& device_id, const std::string& cmd) {
  Peer peer;
  std::string uri;
  {
    std::lock_guard lk(mu_);
    auto it = devices_.find(device_id);
    if (it == devices_.end() || !it->second.registered) return;
    peer = it->second.peer;
    uri = device_uri(it->second, device_id);
  }
  std::string sn = std::to_string(next_sn_++);
  std::string body = "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Query>\r\n<CmdType>" + cmd +
                     "</CmdType>\r\n<SN>" + sn + "</SN>\r\n<DeviceID>" + device_id + "</DeviceID>\r\n</Query>\r\n";
  std::string branch = "z9hG4bK" + quick_random_hex(8);
  std::string msg =
      request_head("MESSAGE", uri, peer, branch) + "From: <sip:" + cfg_.sip_id + "@" + cfg_.domain +
      ">;tag=" + quick_random_hex(4) + "\r\nTo: <sip:" + device_id + "@" + cfg_.domain +
      ">\r\nCall-ID: " + quick_random_hex(8) + "@" + our_host() + "\r\nCSeq: " + std::to_string(next_cseq_++) +
      " MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  send_request(peer, std::move(msg), branch, false, [this, cmd](const sip::SipMessage* r) {
    if (!r || r->status / 100 != 2) count("query_failed");
  });
}

// ---- liveness

void GbServer::came_alive(Device& d) {
  bool was = d.online;
  d.online = true;
  heartbeat(d, !was);
  // the database learns the last keepalive when the device comes back (keepalives stay in memory)
  if (!was) count("online");
  if (!was && d.last_keepalive_at) {
    enqueue([id = d.id, t = d.last_keepalive_at](storage::Connection& c) { c.exec(kDeviceKeepalive, {id, t}); });
  }
}

void GbServer::heartbeat(Device& d, bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!ingest_ || d.unit_id.empty() || d.cameras.empty() || !d.online) return;
  if (!force && now - d.last_heartbeat < std::chrono::seconds(std::min(cfg_.keepalive_seconds, 60))) return;
  d.last_heartbeat = now;
  auto src = ingest::IngestSource::for_unit(d.unit_id, "gb:" + cfg_.node, "gb28181");
  for (const auto& [ch, cam] : d.cameras) {
    ingest::Heartbeat hb;
    hb.camera_id = cam;
    ingest_->submit_heartbeat(src, std::move(hb), [cam](Status st) {
      if (!st) log::debug("gb28181 heartbeat refused", {{"camera", cam}, {"error", st.error().message}});
    });
  }
}

void GbServer::went_offline(Device& d, const char* why) {
  d.online = false;
  count("offline");
  log::info("gb28181 device offline", {{"device", d.id}, {"reason", why}});
  if (d.unit_id.empty() || d.cameras.empty()) return;
  OfflineJob j;
  j.unit_id = d.unit_id;
  for (const auto& [ch, cam] : d.cameras) j.cameras.push_back(cam);
  {
    std::lock_guard lk(wmu_);
    offline_jobs_.push_back(std::move(j));
  }
  wcv_.notify_all();
}

void GbServer::check_liveness() {
  auto now = std::chrono::steady_clock::now();
  auto window = std::chrono::seconds(static_cast<long>(cfg_.keepalive_seconds) * cfg_.keepalive_misses);
  std::lock_guard lk(mu_);
  // a tenth of the table's buckets per tick (100 ms): every device once a second, and never the
  // whole table at once on the I/O thread (100 000 devices took ~50 ms, the keepalives' p99)
  size_t buckets = devices_.bucket_count();
  size_t slice = std::max<size_t>(1, (buckets + 9) / 10);
  for (size_t k = 0; k < slice; ++k) {
    size_t b = liveness_bucket_++ % buckets;
    for (auto it = devices_.begin(b); it != devices_.end(b); ++it) {
      Device& d = it->second;
      if (!d.online) continue;
      if (now > d.expires) {
        d.registered = false;
        went_offline(d, "registration expired");
      } else if (now - d.last_alive > window) {
        went_offline(d, "keepalives missed");
      }
    }
  }
  liveness_bucket_ %= buckets;
}

void GbServer::tick() {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::function<void(const sip::SipMessage*)>> timeouts;
  std::vector<std::pair<Peer, std::string>> resend;
  {
    std::lock_guard lk(mu_);
    for (auto it = txns_.begin(); it != txns_.end();) {
      auto& t = it->second;
      if (now >= t.deadline) {
        timeouts.push_back(std::move(t.on_final));
        it = txns_.erase(it);
        continue;
      }
      if (!t.peer.is_tcp() && !t.provisional && now >= t.next) {
        resend.emplace_back(t.peer, t.data);
        t.interval = std::min<std::chrono::milliseconds>(t.interval * 2, 4000ms);
        t.next = now + t.interval;
      }
      ++it;
    }
  }
  for (auto& [p, d] : resend) {
    count("sip_request_retransmitted");
    send(p, std::move(d));
  }
  for (auto& cb : timeouts) {
    count("sip_request_timeout");
    if (cb) cb(nullptr);
  }
  {
    std::lock_guard lk(cmu_);
    while (!cache_order_.empty() && cache_order_.front().first <= now) {
      server_cache_.erase(cache_order_.front().second);
      cache_order_.pop_front();
    }
  }
  check_liveness();                  // a slice of the devices every tick
  if (now - last_liveness_ >= 1s) {  // once a second is enough
    last_liveness_ = now;
    expire_playbacks();
  }
}

void GbServer::timer_loop() {
  timer_->expires_after(100ms);
  timer_->async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    tick();
    timer_loop();
  });
}

// ---- the background writer

void GbServer::enqueue(std::function<void(storage::Connection&)> job) {
  {
    std::lock_guard lk(wmu_);
    jobs_.push_back(std::move(job));
  }
  wcv_.notify_all();
}

void GbServer::writer_loop() {
  for (;;) {
    std::vector<std::function<void(storage::Connection&)>> jobs;
    std::vector<OfflineJob> offline;
    bool stop;
    {
      std::unique_lock lk(wmu_);
      wcv_.wait_for(lk, 200ms, [&] { return wstop_ || !offline_jobs_.empty(); });
      jobs.swap(jobs_);
      offline.swap(offline_jobs_);
      stop = wstop_;
    }
    if (!jobs.empty()) {
      try {
        db_.in_transaction([&](storage::Connection& c) {
          for (auto& j : jobs) j(c);
        });
      } catch (const std::exception& e) {
        log::warn("gb28181: device state not saved", {{"error", e.what()}});
      }
    }
    if (!offline.empty()) {
      try {
        int raised = db_.in_transaction([&](storage::Connection& c) {
          alerts::AlertWriter w(c, alerts_.config(), alerts_.clock(), alerts_.audit_log());
          w.lock_ingest();
          int n = 0;
          for (const auto& j : offline) {
            for (const auto& cam : j.cameras) {
              if (c.exec(kMarkOffline, {cam, j.unit_id, w.now()}) != 1) continue;
              c.exec(kCameraOffline, {cam});
              auto unit = w.unit(j.unit_id);
              if (!unit || !w.camera(cam)) continue;
              alerts::AlertDraft d;
              d.camera_id = cam;
              d.type = "camera_offline";
              d.occurred_at = w.now();
              d.source = "system";
              d.actor = alerts::Actor::system();
              d.audit_source = "gb28181";
              w.raise(*unit, d);
              ++n;
            }
          }
          w.flush();
          return n;
        });
        count("camera_offline_raised", static_cast<std::uint64_t>(raised));
      } catch (const std::exception& e) {
        log::warn("gb28181: camera_offline not raised", {{"error", e.what()}});
      }
    }
    if (stop) {
      std::lock_guard lk(wmu_);
      if (jobs_.empty() && offline_jobs_.empty()) return;
    }
  }
}

void GbServer::load() {
  storage::Conn c = db_.acquire();
  auto rows = c->query(
      "SELECT device_id, COALESCE(unit_id, ''), deleted_at, channels, COALESCE(name, ''), COALESCE(manufacturer, ''), "
      "COALESCE(model, ''), COALESCE(firmware, ''), remote FROM gb_devices");
  auto cams = c->query(
      "SELECT gb_device_id, gb_channel_id, id, unit_id FROM cameras WHERE gb_device_id IS NOT NULL "
      "AND gb_channel_id IS NOT NULL AND deleted_at IS NULL");
  std::lock_guard lk(mu_);
  for (const auto& r : rows) {
    Device d;
    d.id = r.text(0);
    if (!r.opt_integer(2)) d.unit_id = r.text(1);
    d.channels = parse_channels(r.text(3));
    d.name = r.text(4);
    d.manufacturer = r.text(5);
    d.model = r.text(6);
    d.firmware = r.text(7);
    d.remote = r.text(8);
    devices_[d.id] = std::move(d);
  }
  for (const auto& r : cams) {
    auto it = devices_.find(r.text(0));
    if (it != devices_.end() && it->second.unit_id == r.text(3)) it->second.cameras[r.text(1)] = r.text(2);
  }
}

// ------------------------------------------------------------------ the API

Result<json::object> GbServer::list_devices(const auth::Principal& p, const std::string& state, int page,
                                            int page_size) {
  std::string where;
  storage::Params params;
  if (state == "pending") {
    where = " WHERE (unit_id IS NULL OR deleted_at IS NOT NULL)";
  } else {
    where = state == "bound"
                ? " WHERE (deleted_at IS NULL AND unit_id IS NOT NULL"
                : " WHERE (unit_id IS NULL OR deleted_at IS NOT NULL OR (deleted_at IS NULL AND unit_id IS NOT NULL";
    auth::append_scope(p, "jpath", "unit_id", where, params);
    where += state == "bound" ? ")" : "))";
  }
  storage::Conn c = db_.acquire();
  std::int64_t total = c->query("SELECT COUNT(*) FROM gb_devices" + where, params)[0].integer(0);
  storage::Params pp = params;
  pp.push_back(std::int64_t{page_size});
  pp.push_back(std::int64_t{(page - 1) * page_size});
  std::string n1 = "$" + std::to_string(params.size() + 1), n2 = "$" + std::to_string(params.size() + 2);
  auto rows = c->query(
      "SELECT device_id, COALESCE(unit_id, ''), deleted_at, transport, remote, last_keepalive_at, channels, "
      "COALESCE(name, ''), COALESCE(manufacturer, ''), COALESCE(model, ''), registered_at FROM gb_devices" +
          where + " ORDER BY device_id LIMIT " + n1 + " OFFSET " + n2,
      pp);
  json::array items;
  for (const auto& r : rows) {
    std::string id = r.text(0);
    bool bound = !r.text(1).empty() && !r.opt_integer(2);
    std::map<std::string, std::string> cams;
    if (bound) {
      for (const auto& cr : c->query("SELECT gb_channel_id, id FROM cameras WHERE gb_device_id = $1 AND unit_id = $2 "
                                     "AND deleted_at IS NULL",
                                     {id, r.text(1)})) {
        cams[cr.text(0)] = cr.text(1);
      }
    }
    json::object o{
        {"device_id", id}, {"state", bound ? "bound" : "pending"}, {"transport", r.text(3)}, {"remote", r.text(4)}};
    o["unit_id"] = bound ? json::value(r.text(1)) : json::value(nullptr);
    bool online = false;
    std::optional<TimeMs> ka = r.opt_integer(5);
    {
      std::lock_guard lk(mu_);
      auto it = devices_.find(id);
      if (it != devices_.end()) {
        online = it->second.online;
        if (it->second.last_keepalive_at) ka = it->second.last_keepalive_at;
        if (!it->second.remote.empty()) o["remote"] = it->second.remote;
        if (it->second.registered) o["transport"] = it->second.peer.transport();
      }
    }
    o["online"] = online;
    o["last_keepalive_at"] = ka ? json::value(format_rfc3339(*ka, cfg_.utc_offset_minutes)) : json::value(nullptr);
    o["registered_at"] = format_rfc3339(r.integer(10), cfg_.utc_offset_minutes);
    o["name"] = r.text(7);
    o["manufacturer"] = r.text(8);
    o["model"] = r.text(9);
    json::array chans;
    for (const auto& ch : parse_channels(r.text(6))) {
      json::object co{{"channel_id", ch.id}, {"name", ch.name}, {"status", ch.status}};
      auto cit = cams.find(ch.id);
      co["camera_id"] = cit == cams.end() ? json::value(nullptr) : json::value(cit->second);
      chans.push_back(std::move(co));
    }
    o["channels"] = std::move(chans);
    items.push_back(std::move(o));
  }
  return json::object{{"items", std::move(items)}, {"total", total}, {"page", page}, {"page_size", page_size}};
}

Result<json::object> GbServer::bind(const auth::Principal& p, const std::string& device_id,
                                    const std::string& unit_id) {
  if (!gb_id(device_id)) return Error::not_found("device");
  std::vector<Channel> chans;
  std::map<std::string, std::string> cams;
  bool ok = db_.in_transaction([&](storage::Connection& c) {
    auto u = c.query("SELECT jpath FROM units WHERE id = $1 AND deleted_at IS NULL", {unit_id});
    auto d = c.query(
        "SELECT COALESCE(unit_id, ''), deleted_at, COALESCE(jpath, ''), channels FROM gb_devices "
        "WHERE device_id = $1",
        {device_id});
    if (u.empty() || !p.covers(u[0].text(0), unit_id) || d.empty()) return false;
    bool bound = !d[0].text(0).empty() && !d[0].opt_integer(1);
    if (bound && !p.covers(d[0].text(2), d[0].text(0))) return false;  // bound elsewhere, out of scope
    TimeMs now = clock_.now_ms();
    c.exec("UPDATE gb_devices SET unit_id = $2, jpath = $3, deleted_at = NULL, updated_at = $4 WHERE device_id = $1",
           {device_id, unit_id, u[0].text(0), now});
    chans = parse_channels(d[0].text(3));
    cams = sync_cameras(c, device_id, unit_id, u[0].text(0), chans, now);
    audit_.append(c, auth::audit_entry(p, "gb.bind", "gb_device:" + device_id, "{\"unit_id\":\"" + unit_id + "\"}"));
    return true;
  });
  if (!ok) return Error::not_found("device or unit");
  {
    std::lock_guard lk(mu_);
    Device& d = devices_[device_id];
    d.id = device_id;
    d.unit_id = unit_id;
    d.cameras = cams;
    heartbeat(d, true);
  }
  json::array out;
  for (const auto& ch : chans) {
    auto it = cams.find(ch.id);
    out.push_back(json::object{{"channel_id", ch.id},
                               {"name", ch.name},
                               {"camera_id", it == cams.end() ? json::value(nullptr) : json::value(it->second)}});
  }
  return json::object{{"device_id", device_id}, {"state", "bound"}, {"unit_id", unit_id}, {"channels", std::move(out)}};
}

void GbServer::ptz(const auth::Principal& p, const std::string& camera_id, const std::string& action, int speed,
                   int preset, std::function<void(Status)> done) {
  static const std::map<std::string, sip::PtzAction> kActions = {{"up", sip::PtzAction::kUp},
                                                                 {"down", sip::PtzAction::kDown},
                                                                 {"left", sip::PtzAction::kLeft},
                                                                 {"right", sip::PtzAction::kRight},
                                                                 {"zoom_in", sip::PtzAction::kZoomIn},
                                                                 {"zoom_out", sip::PtzAction::kZoomOut},
                                                                 {"stop", sip::PtzAction::kStop},
                                                                 {"preset_set", sip::PtzAction::kPresetSet},
                                                                 {"preset_call", sip::PtzAction::kPresetCall}};
  std::string dev, chan;
  {
    storage::Conn c = db_.acquire();
    auto rows = c->query(
        "SELECT unit_id, jpath, COALESCE(gb_device_id, ''), COALESCE(gb_channel_id, '') FROM cameras "
        "WHERE id = $1 AND deleted_at IS NULL",
        {camera_id});
    if (rows.empty() || !p.covers(rows[0].text(1), rows[0].text(0))) return done(Error::not_found("camera"));
    dev = rows[0].text(2);
    chan = rows[0].text(3);
  }
  auto a = kActions.find(action);
  if (a == kActions.end()) {
    return done(Error::invalid("action", "invalid_value",
                               "field 'action' must be up, down, left, right, zoom_in, zoom_out, stop, preset_set or "
                               "preset_call"));
  }
  if (dev.empty() || chan.empty()) {
    return done(Error::invalid("id", "not_gb_camera", "the camera is not a GB/T 28181 channel"));
  }
  Peer peer;
  std::string uri;
  {
    std::lock_guard lk(mu_);
    auto it = devices_.find(dev);
    if (it == devices_.end() || !it->second.online) {
      return done(Error{ErrorKind::kUnavailable, "device_offline", "the GB/T 28181 device is offline", {}});
    }
    peer = it->second.peer;
    uri = device_uri(it->second, chan);
  }
  std::string cmd = sip::ptz_command(a->second, speed, preset);
  std::string body =
      "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Control>\r\n<CmdType>DeviceControl</CmdType>\r\n"
      "<SN>" +
      std::to_string(next_sn_++) + "</SN>\r\n<DeviceID>" + chan + "</DeviceID>\r\n<PTZCmd>" + cmd +
      "</PTZCmd>\r\n<Info>\r\n<ControlPriority>5</ControlPriority>\r\n</Info>\r\n</Control>\r\n";
  std::string branch = "z9hG4bK" + quick_random_hex(8);
  std::string msg =
      request_head("MESSAGE", uri, peer, branch) + "From: <sip:" + cfg_.sip_id + "@" + cfg_.domain +
      ">;tag=" + quick_random_hex(4) + "\r\nTo: <sip:" + chan + "@" + cfg_.domain +
      ">\r\nCall-ID: " + quick_random_hex(8) + "@" + our_host() + "\r\nCSeq: " + std::to_string(next_cseq_++) +
      " MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  count("ptz");
  send_request(
      peer, std::move(msg), branch, false,
      [done](const sip::SipMessage* r) {
        if (!r) return done(Error{ErrorKind::kUnavailable, "device_timeout", "the device did not answer", {}});
        if (r->status / 100 != 2) {
          return done(
              Error{ErrorKind::kUnavailable, "device_refused", "the device answered " + std::to_string(r->status), {}});
        }
        done(ok_status());
      },
      std::chrono::milliseconds(4000));
}

json::object GbServer::status() {
  json::object o;
  std::int64_t registered = 0, online = 0, sessions = 0;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, d] : devices_) {
      registered += d.registered ? 1 : 0;
      online += d.online ? 1 : 0;
    }
    sessions = static_cast<std::int64_t>(sessions_.size());
  }
  o["devices_registered"] = registered;
  o["devices_online"] = online;
  o["play_sessions"] = sessions;
  json::object c;
  {
    std::lock_guard lk(cmu_);
    for (const auto& [k, v] : counts_) c[k] = v;
  }
  o["events"] = std::move(c);
  o["port"] = port_;
  return o;
}

// ------------------------------------------------------------------ play sessions

Result<std::shared_ptr<PlaySession>> GbServer::invite(const std::string& device_id, const std::string& channel_id,
                                                      const std::string& media_ip, unsigned short media_port, bool tcp,
                                                      bool tcp_active, const Playback* pb) {
  auto s = std::make_shared<PlaySession>();
  std::string uri, branch = "z9hG4bK" + quick_random_hex(8);
  std::string data;
  {
    std::lock_guard lk(mu_);
    auto it = devices_.find(device_id);
    if (it == devices_.end() || !it->second.online) {
      return Error{ErrorKind::kUnavailable, "camera_unreachable", "the GB/T 28181 device is offline", {}};
    }
    Device& d = it->second;
    s->peer = d.peer;
    s->device_host = d.peer.host();
    s->device_id = device_id;
    s->channel_id = channel_id;
    char ssrc[16];  // the first digit: 0 live, 1 playback
    std::snprintf(ssrc, sizeof ssrc, "%d%s%04u", pb ? 1 : 0, cfg_.domain.substr(3, 5).c_str(), next_ssrc_++ % 10000);
    s->ssrc = static_cast<std::uint32_t>(std::strtoul(ssrc, nullptr, 10));
    s->call_id = quick_random_hex(8) + "@" + our_host();
    s->from_tag = quick_random_hex(4);
    s->from = "<sip:" + cfg_.sip_id + "@" + cfg_.domain + ">;tag=" + s->from_tag;
    s->to = "<sip:" + channel_id + "@" + cfg_.domain + ">";
    uri = device_uri(d, channel_id);
    s->remote_uri = uri;
    s->tcp_active = tcp && tcp_active;
    // playback: s=Playback, u=<channel>:0, t=<start> <stop> (seconds since the epoch)
    std::string session_lines = pb ? "s=Playback\r\nu=" + channel_id + ":0\r\nc=IN IP4 " + media_ip +
                                         "\r\nt=" + std::to_string(pb->from / 1000) + " " +
                                         std::to_string(pb->to / 1000) + "\r\n"
                                   : "s=Play\r\nc=IN IP4 " + media_ip + "\r\nt=0 0\r\n";
    if (pb) s->playback_id = pb->id;
    std::string sdp =
        "v=0\r\no=" + cfg_.sip_id + " 0 0 IN IP4 " + media_ip + "\r\n" + session_lines + "m=video " +
        std::to_string(s->tcp_active ? 9 : media_port) + (tcp ? " TCP/RTP/AVP" : " RTP/AVP") +
        " 96 98 99\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\na=rtpmap:98 H264/90000\r\n"
        "a=rtpmap:99 H265/90000\r\n" +
        (tcp ? (s->tcp_active ? "a=setup:active\r\na=connection:new\r\n" : "a=setup:passive\r\na=connection:new\r\n")
             : "") +
        "y=" + ssrc + "\r\n";
    data = request_head("INVITE", uri, s->peer, branch) + "From: " + s->from + "\r\nTo: " + s->to +
           "\r\nCall-ID: " + s->call_id + "\r\nCSeq: 1 INVITE\r\nContact: <sip:" + cfg_.sip_id + "@" + our_host() +
           ":" + std::to_string(port_) + ">\r\nSubject: " + channel_id + ":" + ssrc + "," + cfg_.sip_id +
           ":0\r\nContent-Type: APPLICATION/SDP\r\nContent-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
    sessions_[s->call_id] = s;
  }
  count("invite");
  std::weak_ptr<PlaySession> weak = s;
  send_request(
      s->peer, std::move(data), branch, true,
      [this, weak](const sip::SipMessage* r) {
        auto s = weak.lock();
        if (!s) return;
        std::lock_guard lk(s->mu);
        if (!r) {
          s->state = 2;
          s->error = "the device did not answer the INVITE";
        } else if (r->status / 100 == 2) {
          s->to = r->to;
          if (!r->contact.empty()) s->remote_uri = uri_of(r->contact);
          size_t y = r->body.find("y=");
          if (y != std::string::npos)
            s->answer_ssrc = static_cast<std::uint32_t>(std::strtoul(r->body.c_str() + y + 2, nullptr, 10));
          size_t mv = r->body.find("m=video ");
          if (mv != std::string::npos) {
            unsigned long port = std::strtoul(r->body.c_str() + mv + 8, nullptr, 10);
            s->answer_port = port > 0 && port < 65536 ? static_cast<unsigned short>(port) : 0;
          }
          std::string branch2 = "z9hG4bK" + quick_random_hex(8);
          std::string ack = request_head("ACK", s->remote_uri, s->peer, branch2) + "From: " + s->from +
                            "\r\nTo: " + s->to + "\r\nCall-ID: " + s->call_id +
                            "\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
          send(s->peer, std::move(ack));
          if (s->state == 0)
            s->state = 1;
          else
            s->state = s->state;  // ended meanwhile: bye() sends the BYE
        } else {
          s->state = 2;
          s->error = "the device refused the INVITE (" + std::to_string(r->status) + ")";
        }
        s->cv.notify_all();
      },
      cfg_.invite_timeout);
  std::unique_lock lk(s->mu);
  s->cv.wait_for(lk, cfg_.invite_timeout + 200ms, [&] { return s->state != 0; });
  if (s->state != 1) {
    std::string err = s->state == 0 ? "the device did not answer the INVITE" : s->error;
    lk.unlock();
    std::lock_guard g(mu_);
    sessions_.erase(s->call_id);
    return Error{ErrorKind::kUnavailable, "camera_unreachable", err, {}};
  }
  return s;
}

std::string GbServer::media_mode(const std::string& device_id) const {
  auto it = cfg_.device_media.find(device_id);
  const std::string& m = it != cfg_.device_media.end() ? it->second : cfg_.media_transport;
  if (m == "udp" || m == "tcp" || m == "tcp_active") return m;
  return device_transport(device_id) == "tcp" ? "tcp" : "udp";
}

std::string GbServer::device_transport(const std::string& device_id) const {
  std::lock_guard lk(mu_);
  auto it = devices_.find(device_id);
  return it == devices_.end() ? "udp" : it->second.peer.transport();
}

void GbServer::bye(const std::shared_ptr<PlaySession>& s) {
  {
    std::lock_guard g(mu_);
    sessions_.erase(s->call_id);
  }
  std::string data;
  {
    std::lock_guard lk(s->mu);
    if (s->state != 1) {
      s->state = 3;
      return;
    }
    s->state = 3;
    std::string branch = "z9hG4bK" + quick_random_hex(8);
    data = request_head("BYE", s->remote_uri, s->peer, branch) + "From: " + s->from + "\r\nTo: " + s->to +
           "\r\nCall-ID: " + s->call_id + "\r\nCSeq: " + std::to_string(++s->cseq) +
           " BYE\r\nContent-Length: 0\r\n\r\n";
    if (stopped_) return;
    count("bye");
    send_request(s->peer, std::move(data), branch, false, nullptr, std::chrono::milliseconds(8000));
  }
}

}  // namespace mingchu::gb
