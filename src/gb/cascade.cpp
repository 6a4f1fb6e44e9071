#include "gb/cascade.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
}

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <arpa/inet.h>
#include <boost/asio.hpp>
#include <netinet/in.h>
#include <sys/socket.h>

#include "audit/audit_log.hpp"
#include "auth/auth_service.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "crypto/field_cipher.hpp"
#include "sip/manscdp.hpp"
#include "sip/media_wire.hpp"
#include "sip/ps_mux.hpp"
#include "sip/sip_message.hpp"
#include "storage/database.hpp"
#include "video/video_service.hpp"

namespace mingchu::gb {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

constexpr const char* kCipherContext = "gb_upstreams.password";

bool digits(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct Upstream {
  std::string id, name, sip_id, domain, address, transport, password, local_sip_id, jurisdiction_id;
  int keepalive_s = 60;
  bool enabled = true;
  TimeMs created_at = 0, updated_at = 0;
  std::string local_domain() const { return local_sip_id.substr(0, 10); }
};

struct LinkStatus {
  bool registered = false;
  std::string last_error;
  TimeMs last_keepalive_at = 0, registered_at = 0;
  std::int64_t sessions = 0;
  std::string local;  // our address as the upper sees it (host:port)
};

// "host:port" with a host name or IPv4 address and a port 1-65535.
std::optional<std::pair<std::string, unsigned short>> split_address(const std::string& a) {
  auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= a.size() || a.size() > 260) return std::nullopt;
  std::string host = a.substr(0, colon), port = a.substr(colon + 1);
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) return std::nullopt;
  }
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  long p = std::strtol(port.c_str(), nullptr, 10);
  if (p < 1 || p > 65535) return std::nullopt;
  return std::make_pair(host, static_cast<unsigned short>(p));
}

// The qop a WWW-Authenticate header of the raw response offers ("auth" or "").
std::string offered_qop(std::string_view raw) {
  std::string lower(raw.substr(0, std::min<size_t>(raw.size(), 8192)));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t h = lower.find("\nwww-authenticate:");
  if (h == std::string::npos) return "";
  size_t end = lower.find('\n', h + 1);
  std::string line = lower.substr(h, end == std::string::npos ? std::string::npos : end - h);
  size_t q = line.find("qop=");
  if (q == std::string::npos) return "";
  return line.find("auth", q) != std::string::npos ? "auth" : "";
}

// ---- H.264 / H.265 into Annex B for the PS muxer

bool annexb(const std::uint8_t* p, size_t n) {
  return (n >= 3 && p[0] == 0 && p[1] == 0 && p[2] == 1) ||
         (n >= 4 && p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 1);
}

std::string length_prefixed_to_annexb(const std::uint8_t* p, size_t n) {
  std::string o;
  size_t i = 0;
  while (i + 4 <= n) {
    size_t len = (size_t{p[i]} << 24) | (size_t{p[i + 1]} << 16) | (size_t{p[i + 2]} << 8) | p[i + 3];
    i += 4;
    if (len > n - i) break;
    o.append("\0\0\0\1", 4);
    o.append(reinterpret_cast<const char*>(p + i), len);
    i += len;
  }
  return o;
}

// The parameter sets of a codec's extradata (Annex B, avcC or hvcC) in Annex B.
std::string extradata_annexb(const AVCodecParameters* par) {
  if (!par || !par->extradata || par->extradata_size <= 0) return "";
  const std::uint8_t* p = par->extradata;
  size_t n = static_cast<size_t>(par->extradata_size);
  if (annexb(p, n)) return std::string(reinterpret_cast<const char*>(p), n);
  std::string o;
  auto nal = [&](size_t at, size_t len) {
    if (at + len > n) return false;
    o.append("\0\0\0\1", 4);
    o.append(reinterpret_cast<const char*>(p + at), len);
    return true;
  };
  if (par->codec_id == AV_CODEC_ID_H264 && n >= 7 && p[0] == 1) {  // avcC
    size_t i = 5;
    for (int pass = 0; pass < 2 && i < n; ++pass) {
      int count = pass == 0 ? (p[i] & 0x1F) : p[i];
      ++i;
      for (int k = 0; k < count && i + 2 <= n; ++k) {
        size_t len = (size_t{p[i]} << 8) | p[i + 1];
        if (!nal(i + 2, len)) return o;
        i += 2 + len;
      }
    }
  } else if (par->codec_id == AV_CODEC_ID_HEVC && n >= 23 && p[0] == 1) {  // hvcC
    size_t i = 22;
    int arrays = p[i++];
    for (int a = 0; a < arrays && i + 3 <= n; ++a) {
      size_t count = (size_t{p[i + 1]} << 8) | p[i + 2];
      i += 3;
      for (size_t k = 0; k < count && i + 2 <= n; ++k) {
        size_t len = (size_t{p[i]} << 8) | p[i + 1];
        if (!nal(i + 2, len)) return o;
        i += 2 + len;
      }
    }
  }
  return o;
}

// ---- SDP of the upper's INVITE

struct Offer {
  std::string host;
  unsigned short port = 0;
  bool tcp = false;
  std::string setup;    // passive | active | ""
  std::string y;        // the SSRC as the upper wrote it (10 digits)
  std::string session;  // s=
};

std::optional<Offer> parse_offer(const std::string& sdp) {
  Offer o;
  size_t pos = 0;
  bool have_m = false;
  while (pos < sdp.size()) {
    size_t e = sdp.find('\n', pos);
    std::string line = sdp.substr(pos, e == std::string::npos ? std::string::npos : e - pos);
    pos = e == std::string::npos ? sdp.size() : e + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with("c=IN IP4 ")) {
      o.host = line.substr(9);
      if (auto sp = o.host.find(' '); sp != std::string::npos) o.host.resize(sp);
    } else if (line.starts_with("m=video ") && !have_m) {
      have_m = true;
      char proto[32] = {0};
      unsigned port = 0;
      if (std::sscanf(line.c_str(), "m=video %u %31s", &port, proto) != 2 || port == 0 || port > 65535) {
        return std::nullopt;
      }
      o.port = static_cast<unsigned short>(port);
      std::string pr = proto;
      if (pr == "TCP/RTP/AVP") {
        o.tcp = true;
      } else if (pr != "RTP/AVP") {
        return std::nullopt;
      }
    } else if (line.starts_with("a=setup:")) {
      o.setup = line.substr(8);
    } else if (line.starts_with("y=")) {
      o.y = line.substr(2);
    } else if (line.starts_with("s=")) {
      o.session = line.substr(2);
    }
  }
  if (!have_m || o.host.empty() || o.y.empty() || o.y.size() > 10 ||
      !std::all_of(o.y.begin(), o.y.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  in_addr a{};
  if (::inet_pton(AF_INET, o.host.c_str(), &a) != 1) return std::nullopt;
  return o;
}

}  // namespace

// ------------------------------------------------------------------ one play session

struct CascadeSession {
  std::string call_id, camera_id, channel_id;
  std::string remote_from, local_to, remote_target;
  std::uint32_t cseq_out = 1;
  Offer offer;
  std::uint32_t ssrc = 0;
  int fd = -1;  // the media socket (UDP connected, or TCP bound and connected by the sender)
  unsigned short local_port = 0;
  bool acked = false;
  std::string ok;  // our 200 to the INVITE, sent again over UDP until the ACK (RFC 3261 §13.3.1.4)
  Steady::time_point ok_again;
  std::chrono::milliseconds ok_every{500};
  Steady::time_point created = Steady::now();
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  std::thread th;
  std::atomic<std::uint64_t> packets{0};
  ~CascadeSession() {
    if (th.joinable()) {  // never left running (ended sessions are joined on the I/O thread)
      stop = true;
      cv.notify_all();
      if (th.get_id() == std::this_thread::get_id()) {
        th.detach();
      } else {
        th.join();
      }
    }
    if (fd >= 0) ::close(fd);
  }
};

class Link;

class CascadeImpl {
 public:
  CascadeImpl(storage::Database& db, const Clock& clock, const audit::AuditLog& audit,
              const crypto::FieldCipher& cipher, video::VideoService* video, Metrics& metrics, CascadeConfig cfg)
      : db_(db), clock_(clock), audit_(audit), cipher_(cipher), video_(video), metrics_(metrics), cfg_(std::move(cfg)) {
    sip::sip_init();
  }

  void start();
  void stop();
  void reload(const std::string& id);  // on the I/O thread: restart the link from the database

  Result<json::object> list(int page, int page_size);
  Result<json::object> get(const std::string& id);
  Result<json::object> create(const auth::Principal& p, const json::object& body);
  Result<json::object> update(const auth::Principal& p, const std::string& id, const json::object& body);
  Status remove(const auth::Principal& p, const std::string& id);

  void count(const std::string& event) {
    metrics_
        .counter("mingchu_gb_cascade_events_total", "event=\"" + event + "\"",
                 "GB/T 28181 cascade (this node as a lower platform) events")
        .inc();
  }
  void set_status(const std::string& id, const std::function<void(LinkStatus&)>& f) {
    std::lock_guard lk(smu_);
    f(status_[id]);
  }

  // ---- the database side of a link (called on the I/O thread)
  std::optional<Upstream> load(const std::string& id, bool decrypt);
  struct Item {
    std::string camera_id, channel_id, name, status, unit_name, civil_code, brand, model;
  };
  std::vector<Item> catalog(const Upstream& u);
  std::optional<std::string> camera_of(const Upstream& u, const std::string& channel_id);

  asio::io_context& io() { return io_; }
  const CascadeConfig& cfg() const { return cfg_; }
  const Clock& clock() const { return clock_; }
  video::VideoService* video() { return video_; }

 private:
  Result<Upstream> validate(const json::object& body, std::optional<Upstream> base);
  json::object to_json(const Upstream& u);
  void tick();

  storage::Database& db_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
  const crypto::FieldCipher& cipher_;
  video::VideoService* video_;
  Metrics& metrics_;
  CascadeConfig cfg_;

  asio::io_context io_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::unique_ptr<asio::steady_timer> timer_;
  std::thread thread_;
  bool started_ = false;
  std::map<std::string, std::shared_ptr<Link>> links_;  // the I/O thread's
  std::map<std::string, int> generation_;               // the I/O thread's: reloads in flight

  std::mutex smu_;
  std::map<std::string, LinkStatus> status_;

  friend class Link;
};

// ------------------------------------------------------------------ one upstream's user agent

class Link : public std::enable_shared_from_this<Link> {
 public:
  using Final = std::function<void(const sip::SipMessage*, std::string_view raw)>;

  Link(CascadeImpl& impl, Upstream u)
      : impl_(impl),
        u_(std::move(u)),
        tcp_(u_.transport == "tcp"),
        sock_(impl.io()),
        tsock_(impl.io()),
        reg_timer_(impl.io()),
        ka_timer_(impl.io()) {
    reg_call_id_ = quick_random_hex(10) + "@mingchu";
    reg_tag_ = quick_random_hex(5);
  }

  const Upstream& upstream() const { return u_; }

  void start() {
    auto hp = split_address(u_.address);
    if (!hp) return fail("bad address " + u_.address);
    boost::system::error_code ec;
    if (tcp_) return connect_tcp(hp->first, hp->second);
    udp::resolver res(impl_.io());
    auto eps = res.resolve(udp::v4(), hp->first, std::to_string(hp->second), ec);
    if (ec || eps.empty()) {
      return fail("cannot resolve " + hp->first + ": " + ec.message());
    }
    peer_ = *eps.begin();
    sock_.open(udp::v4(), ec);
    if (!ec) sock_.connect(peer_, ec);
    if (ec) return fail("cannot open a socket to " + u_.address + ": " + ec.message());
    auto local = sock_.local_endpoint(ec);
    local_ip_ = local.address().to_string();
    local_port_ = local.port();
    impl_.set_status(u_.id, [&](LinkStatus& s) { s.local = local_ip_ + ":" + std::to_string(local_port_); });
    receive();
    do_register();
  }

  // SIP over TCP: one connection to the upper, messages framed by Content-Length; connected again
  // (with the backoff) when it breaks.
  void connect_tcp(const std::string& host, unsigned short port) {
    boost::system::error_code ec;
    asio::ip::tcp::resolver res(impl_.io());
    auto eps = res.resolve(asio::ip::tcp::v4(), host, std::to_string(port), ec);
    if (ec || eps.empty()) return fail("cannot resolve " + host + ": " + ec.message());
    tsock_.open(asio::ip::tcp::v4(), ec);
    if (ec) return fail("cannot open a socket: " + ec.message());
    auto self = shared_from_this();
    auto guard = std::make_shared<asio::steady_timer>(impl_.io());
    guard->expires_after(impl_.cfg().request_timeout);
    guard->async_wait([self](boost::system::error_code e) {
      if (!e && !self->tcp_up_) {
        boost::system::error_code ignored;
        self->tsock_.close(ignored);  // the connect below ends with an error
      }
    });
    tsock_.async_connect(*eps.begin(), [self, guard](boost::system::error_code e) {
      guard->cancel();
      if (self->closed_ || self->stopping_) return;
      if (e) {
        boost::system::error_code ignored;
        self->tsock_.close(ignored);
        return self->fail("cannot connect to " + self->u_.address + " over TCP: " + e.message());
      }
      self->tcp_up_ = true;
      boost::system::error_code le;
      auto local = self->tsock_.local_endpoint(le);
      self->local_ip_ = local.address().to_string();
      self->local_port_ = local.port();
      self->impl_.set_status(
          self->u_.id, [&](LinkStatus& s) { s.local = self->local_ip_ + ":" + std::to_string(self->local_port_); });
      self->receive_tcp();
      self->do_register();
    });
  }

  void receive_tcp() {
    auto self = shared_from_this();
    tsock_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, size_t n) {
      if (self->closed_ || ec == asio::error::operation_aborted) return;
      if (ec) return self->tcp_broken("the upper closed the TCP connection");
      self->tin_.append(self->buf_, n);
      for (;;) {
        size_t skip = 0;
        while (skip < self->tin_.size() && (self->tin_[skip] == '\r' || self->tin_[skip] == '\n')) ++skip;
        if (skip) self->tin_.erase(0, skip);
        long len = sip::sip_frame_length(self->tin_);
        if (len < 0) {
          self->impl_.count("sip_oversized");
          return self->tcp_broken("malformed or oversized SIP over TCP from the upper");
        }
        if (len == 0) break;
        std::string msg = self->tin_.substr(0, static_cast<size_t>(len));
        self->tin_.erase(0, static_cast<size_t>(len));
        try {
          self->on_message(msg);
        } catch (const std::exception& e) {
          self->impl_.count("error");
          log::warn("gb cascade: message not handled", {{"error", e.what()}});
        }
        if (self->closed_ || !self->tsock_.is_open()) return;
      }
      self->receive_tcp();
    });
  }

  void tcp_broken(const std::string& why) {
    boost::system::error_code ignored;
    tsock_.close(ignored);
    tcp_up_ = false;
    tin_.clear();
    tout_.clear();
    if (stopping_) return;
    reg_timer_.cancel();
    ka_timer_.cancel();
    fail(why);
  }

  void write_tcp() {
    auto self = shared_from_this();
    asio::async_write(tsock_, asio::buffer(tout_.front()), [self](boost::system::error_code ec, size_t) {
      if (ec || self->tout_.empty()) return;
      self->tout_.pop_front();
      if (!self->tout_.empty()) self->write_tcp();
    });
  }

  bool is_open() const { return tcp_ ? tsock_.is_open() && tcp_up_ : sock_.is_open(); }

  // Unregisters (Expires: 0) when registered, ends the sessions, closes; done() once.
  void shutdown(std::function<void()> done) {
    if (stopping_) return done ? done() : void();
    stopping_ = true;
    boost::system::error_code ec;
    reg_timer_.cancel();
    ka_timer_.cancel();
    for (auto& [id, s] : sessions_) end_session_now(s, true);
    sessions_.clear();
    impl_.set_status(u_.id, [](LinkStatus& s) { s.sessions = 0; });
    auto self = shared_from_this();
    auto finish = std::make_shared<std::function<void()>>([self, done = std::move(done)]() mutable {
      if (self->closed_) return;
      self->closed_ = true;
      boost::system::error_code e;
      self->sock_.close(e);
      self->tsock_.close(e);
      self->tout_.clear();
      self->txns_.clear();
      if (done) done();
    });
    if (!registered_ || !is_open()) return (*finish)();
    unregister_done_ = [finish] { (*finish)(); };
    auto guard = std::make_shared<asio::steady_timer>(impl_.io());
    guard->expires_after(2s);
    guard->async_wait([finish, guard](boost::system::error_code) { (*finish)(); });
    auth_tries_ = 0;
    send_register(true, std::nullopt);
  }

  void tick() {
    auto now = Steady::now();
    std::vector<Final> timeouts;
    for (auto it = txns_.begin(); it != txns_.end();) {
      if (now >= it->second.deadline) {
        timeouts.push_back(std::move(it->second.on_final));
        it = txns_.erase(it);
        continue;
      }
      if (!tcp_ && now >= it->second.next) {  // UDP only: TCP is reliable
        send(it->second.data);
        it->second.interval = std::min<std::chrono::milliseconds>(it->second.interval * 2, 4000ms);
        it->second.next = now + it->second.interval;
      }
      ++it;
    }
    for (auto& f : timeouts) {
      impl_.count("request_timeout");
      if (f) f(nullptr, {});
    }
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = it->second.second <= now ? cache_.erase(it) : std::next(it);
    }
    // sessions the upper never ACKed
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (!it->second->acked && now - it->second->created > 32s) {
        impl_.count("session_no_ack");
        end_session_now(it->second, false);
        it = sessions_.erase(it);
        publish_sessions();
      } else {
        auto& x = *it->second;
        if (!x.acked && !tcp_ && now >= x.ok_again) {  // the 200 or its ACK was lost
          send(x.ok);
          x.ok_every = std::min<std::chrono::milliseconds>(x.ok_every * 2, 4000ms);
          x.ok_again = now + x.ok_every;
          impl_.count("invite_ok_resent");
        }
        ++it;
      }
    }
  }

  // A sender ended (the stream broke or stopped): BYE to the upper.
  void session_ended(const std::string& call_id, const std::string& why) {
    auto it = sessions_.find(call_id);
    if (it == sessions_.end()) return;
    auto s = it->second;
    sessions_.erase(it);
    log::info("gb cascade: stream to the upper ended", {{"upstream", u_.id}, {"channel", s->channel_id}, {"why", why}});
    end_session_now(s, true);
    publish_sessions();
  }

 private:
  struct Txn {
    std::string data;
    Steady::time_point next, deadline;
    std::chrono::milliseconds interval{500};
    Final on_final;
  };

  std::string via(const std::string& branch) const {
    return std::string("Via: SIP/2.0/") + (tcp_ ? "TCP " : "UDP ") + local_ip_ + ":" + std::to_string(local_port_) +
           ";rport;branch=" + branch + "\r\n";
  }
  std::string from_header(const std::string& tag) const {
    return "<sip:" + u_.local_sip_id + "@" + u_.local_domain() + ">;tag=" + tag;
  }
  std::string upper_uri() const { return "sip:" + u_.sip_id + "@" + u_.address; }

  void send(const std::string& data) {
    if (tcp_) {
      if (!is_open()) return;
      bool idle = tout_.empty();
      tout_.push_back(data);
      if (idle) write_tcp();
      return;
    }
    if (!sock_.is_open()) return;
    boost::system::error_code ec;  // UDP: sent at once (a BYE must leave before the socket closes)
    sock_.send(asio::buffer(data), 0, ec);
  }

  void request(const std::string& branch, std::string data, Final on_final) {
    Txn t;
    t.data = data;
    auto now = Steady::now();
    t.next = now + 500ms;
    t.deadline = now + impl_.cfg().request_timeout;
    t.on_final = std::move(on_final);
    txns_[branch] = std::move(t);
    send(data);
  }

  void receive() {
    auto self = shared_from_this();
    sock_.async_receive(asio::buffer(buf_), [self](boost::system::error_code ec, size_t n) {
      if (self->closed_ || ec == asio::error::operation_aborted) return;
      if (!ec && n > 4 && n <= sip::kMaxMessageBytes) {
        std::string_view raw(self->buf_, n);
        try {
          self->on_message(raw);
        } catch (const std::exception& e) {
          self->impl_.count("error");
          log::warn("gb cascade: message not handled", {{"error", e.what()}});
        }
      } else if (!ec && n > sip::kMaxMessageBytes) {
        self->impl_.count("sip_oversized");
      }
      // ICMP errors (the upper is gone) end a receive with an error: keep listening
      self->receive();
    });
  }

  void on_message(std::string_view raw) {
    auto m = sip::parse_sip(raw);
    if (!m) {
      impl_.count("sip_malformed");
      return;
    }
    if (!m->request) {
      auto it = txns_.find(m->branch);
      if (it == txns_.end() || m->status < 200) return;
      Final f = std::move(it->second.on_final);
      txns_.erase(it);
      if (f) f(&*m, raw);
      return;
    }
    if (m->method != "ACK") {
      auto c = cache_.find(cache_key(*m));
      if (c != cache_.end()) {
        impl_.count("sip_retransmission");
        send(c->second.first);
        return;
      }
    }
    if (m->method == "MESSAGE") return on_query(*m);
    if (m->method == "INVITE") return on_invite(*m);
    if (m->method == "ACK") return on_ack(*m);
    if (m->method == "BYE") return on_bye(*m);
    if (m->method == "OPTIONS") return respond(*m, 200, "OK");
    if (m->method == "CANCEL") return respond(*m, 481, "Call/Transaction Does Not Exist");
    impl_.count("sip_unsupported_method");
    respond(*m, 405, "Method Not Allowed", {{"Allow", "INVITE, ACK, BYE, MESSAGE, OPTIONS, CANCEL"}});
  }

  static std::string cache_key(const sip::SipMessage& m) {
    return m.branch + "|" + m.cseq_method + "|" + m.call_id + "|" + std::to_string(m.cseq);
  }

  void respond(const sip::SipMessage& req, int status, const std::string& reason,
               const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    (void)answer(req, status, reason, headers);
  }

  // The response, sent and kept for retransmitted requests (32 s).
  std::string answer(const sip::SipMessage& req, int status, const std::string& reason,
                     const std::vector<std::pair<std::string, std::string>>& headers = {}, std::string_view ctype = {},
                     std::string_view body = {}, const std::string& to_tag = {}) {
    std::string r =
        sip::build_response(req, status, reason, to_tag.empty() ? quick_random_hex(4) : to_tag, headers, ctype, body);
    if (status >= 200) cache_[cache_key(req)] = {r, Steady::now() + 32s};
    send(r);
    return r;
  }

  // ---- registration

  void do_register() {
    if (stopping_) return;
    auth_tries_ = 0;
    impl_.count("register");
    send_register(false, std::nullopt);
  }

  void send_register(bool unreg, std::optional<std::pair<std::string, std::string>> challenge, std::string qop = {}) {
    std::string branch = "z9hG4bK" + quick_random_hex(8);
    std::string uri = "sip:" + u_.sip_id + "@" + u_.domain;
    std::string msg = "REGISTER " + uri + " SIP/2.0\r\n" + via(branch) + "From: " + from_header(reg_tag_) +
                      "\r\nTo: <sip:" + u_.local_sip_id + "@" + u_.local_domain() + ">\r\nCall-ID: " + reg_call_id_ +
                      "\r\nCSeq: " + std::to_string(++reg_cseq_) + " REGISTER\r\nContact: <sip:" + u_.local_sip_id +
                      "@" + local_ip_ + ":" + std::to_string(local_port_) +
                      ">\r\nMax-Forwards: 70\r\nUser-Agent: MingChu\r\nExpires: " +
                      (unreg ? std::string("0") : std::to_string(impl_.cfg().register_expires)) + "\r\n";
    if (challenge) {
      sip::DigestCredentials c;
      c.username = u_.local_sip_id;
      c.realm = challenge->first;
      c.nonce = challenge->second;
      c.uri = uri;
      c.algorithm = "MD5";
      if (qop == "auth") {
        c.qop = "auth";
        c.nc = "00000001";
        c.cnonce = quick_random_hex(8);
      }
      std::string resp = sip::digest_response(c, "REGISTER", u_.password);
      msg += "Authorization: Digest username=\"" + c.username + "\", realm=\"" + c.realm + "\", nonce=\"" + c.nonce +
             "\", uri=\"" + uri + "\", response=\"" + resp + "\", algorithm=MD5";
      if (!c.qop.empty()) msg += ", qop=auth, nc=" + c.nc + ", cnonce=\"" + c.cnonce + "\"";
      msg += "\r\n";
    }
    msg += "Content-Length: 0\r\n\r\n";
    std::weak_ptr<Link> weak = shared_from_this();
    request(branch, std::move(msg), [weak, unreg](const sip::SipMessage* r, std::string_view raw) {
      auto self = weak.lock();
      if (!self) return;
      self->on_register_answer(r, raw, unreg);
    });
  }

  void on_register_answer(const sip::SipMessage* r, std::string_view raw, bool unreg) {
    if (unreg) {
      if (r && r->status == 401 && auth_tries_ < 2 && !r->www_nonce.empty()) {
        ++auth_tries_;
        return send_register(true, std::make_pair(r->www_realm, r->www_nonce), offered_qop(raw));
      }
      registered_ = false;
      impl_.set_status(u_.id, [](LinkStatus& s) { s.registered = false; });
      impl_.count("unregister");
      if (unregister_done_) {
        auto d = std::move(unregister_done_);
        unregister_done_ = nullptr;
        d();
      }
      return;
    }
    if (stopping_) return;
    if (!r) return fail("no answer from " + u_.address + " to REGISTER");
    if (r->status == 401 && auth_tries_ < 2 && !r->www_nonce.empty()) {
      ++auth_tries_;
      return send_register(false, std::make_pair(r->www_realm, r->www_nonce), offered_qop(raw));
    }
    if (r->status / 100 != 2) {
      return fail("REGISTER refused: " + std::to_string(r->status) + " " + r->reason);
    }
    long expires = r->expires.value_or(impl_.cfg().register_expires);
    if (expires <= 0) expires = impl_.cfg().register_expires;
    bool was = registered_;
    registered_ = true;
    failures_ = 0;
    ka_failures_ = 0;
    TimeMs now = impl_.clock().now_ms();
    impl_.set_status(u_.id, [&](LinkStatus& s) {
      s.registered = true;
      s.registered_at = now;
      s.last_error.clear();
    });
    impl_.count("registered");
    if (!was) log::info("gb cascade: registered to the upper", {{"upstream", u_.id}, {"address", u_.address}});
    // again before expiry (at three quarters of it), keepalives meanwhile
    reg_timer_.expires_after(std::chrono::seconds(std::max<long>(expires * 3 / 4, 1)));
    std::weak_ptr<Link> weak = shared_from_this();
    reg_timer_.async_wait([weak](boost::system::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->do_register();
    });
    if (!was) schedule_keepalive();
  }

  void fail(const std::string& why) {
    bool was = registered_;
    registered_ = false;
    ++failures_;
    impl_.count("register_failed");
    impl_.set_status(u_.id, [&](LinkStatus& s) {
      s.registered = false;
      s.last_error = why;
    });
    if (was || failures_ == 1) log::warn("gb cascade: not registered", {{"upstream", u_.id}, {"error", why}});
    if (stopping_) return;
    auto min = impl_.cfg().retry_min, max = impl_.cfg().retry_max;
    auto delay = min * (1LL << std::min(failures_ - 1, 16));
    if (delay > max) delay = max;
    reg_timer_.expires_after(delay);
    std::weak_ptr<Link> weak = shared_from_this();
    reg_timer_.async_wait([weak, this](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      if (!is_open()) return start();
      do_register();
    });
  }

  // ---- keepalive

  void schedule_keepalive() {
    ka_timer_.expires_after(std::chrono::seconds(u_.keepalive_s));
    std::weak_ptr<Link> weak = shared_from_this();
    ka_timer_.async_wait([weak](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec || self->stopping_) return;
      if (self->registered_) self->send_keepalive();
      if (self->registered_) self->schedule_keepalive();
    });
  }

  void send_keepalive() {
    std::string body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>" +
        std::to_string(next_sn_++) + "</SN>\r\n<DeviceID>" + u_.local_sip_id +
        "</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n";
    std::weak_ptr<Link> weak = shared_from_this();
    message(body, [weak](const sip::SipMessage* r, std::string_view) {
      auto self = weak.lock();
      if (!self || self->stopping_ || !self->registered_) return;
      if (r && r->status / 100 == 2) {
        self->ka_failures_ = 0;
        TimeMs now = self->impl_.clock().now_ms();
        self->impl_.set_status(self->u_.id, [&](LinkStatus& s) { s.last_keepalive_at = now; });
        self->impl_.count("keepalive");
        return;
      }
      // refused (the upper forgot us): register again at once; silent three times: the same
      if (r || ++self->ka_failures_ >= 3) {
        std::string why = r ? "keepalive refused: " + std::to_string(r->status) + " " + r->reason
                            : "keepalive: no answer from " + self->u_.address;
        self->registered_ = false;
        self->impl_.count("keepalive_failed");
        self->impl_.set_status(self->u_.id, [&](LinkStatus& s) {
          s.registered = false;
          s.last_error = why;
        });
        self->reg_timer_.cancel();
        self->do_register();
      }
    });
  }

  void message(const std::string& body, Final on_final) {
    std::string branch = "z9hG4bK" + quick_random_hex(8);
    std::string msg = "MESSAGE " + upper_uri() + " SIP/2.0\r\n" + via(branch) +
                      "From: " + from_header(quick_random_hex(4)) + "\r\nTo: <sip:" + u_.sip_id + "@" + u_.domain +
                      ">\r\nCall-ID: " + quick_random_hex(8) + "@mingchu\r\nCSeq: " + std::to_string(next_cseq_++) +
                      " MESSAGE\r\nMax-Forwards: 70\r\nUser-Agent: MingChu\r\nContent-Type: Application/MANSCDP+xml"
                      "\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body;
    request(branch, std::move(msg), std::move(on_final));
  }

  // ---- the upper's queries

  void on_query(const sip::SipMessage& m) {
    auto x = sip::parse_manscdp(m.body);
    if (!x) {
      impl_.count("manscdp_malformed");
      return respond(m, 400, "Bad Request");
    }
    respond(m, 200, "OK");
    if (x->root != "Query") {
      impl_.count("message_other");
      return;
    }
    std::string sn = x->sn.substr(0, 32);
    if (x->cmd_type == "Catalog") return send_catalog(sn);
    auto head = [&](const char* cmd) {
      return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Response>\r\n<CmdType>" + std::string(cmd) +
             "</CmdType>\r\n<SN>" + sip::xml_escape(sn) + "</SN>\r\n<DeviceID>" + u_.local_sip_id + "</DeviceID>\r\n";
    };
    if (x->cmd_type == "DeviceInfo") {
      impl_.count("device_info");
      size_t n = impl_.catalog(u_).size();
      message(head("DeviceInfo") + "<DeviceName>" + sip::xml_escape(u_.name) +
                  "</DeviceName>\r\n<Result>OK</Result>\r\n"
                  "<Manufacturer>MingChu</Manufacturer>\r\n<Model>" +
                  sip::xml_escape(impl_.cfg().node_name) + "</Model>\r\n<Firmware>MingChu</Firmware>\r\n<Channel>" +
                  std::to_string(n) + "</Channel>\r\n</Response>\r\n",
              nullptr);
      return;
    }
    if (x->cmd_type == "DeviceStatus") {
      impl_.count("device_status");
      message(head("DeviceStatus") +
                  "<Result>OK</Result>\r\n<Online>ONLINE</Online>\r\n<Status>OK</Status>\r\n"
                  "</Response>\r\n",
              nullptr);
      return;
    }
    impl_.count("query_unsupported");
  }

  void send_catalog(const std::string& sn) {
    auto items = impl_.catalog(u_);
    impl_.count("catalog");
    size_t per = static_cast<size_t>(std::max(1, impl_.cfg().catalog_items_per_message));
    size_t sum = items.size();
    size_t i = 0;
    do {
      size_t n = std::min(per, sum - i);
      std::string body =
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Response>\r\n<CmdType>Catalog</CmdType>\r\n"
          "<SN>" +
          sip::xml_escape(sn) + "</SN>\r\n<DeviceID>" + u_.local_sip_id + "</DeviceID>\r\n<SumNum>" +
          std::to_string(sum) + "</SumNum>\r\n<DeviceList Num=\"" + std::to_string(n) + "\">\r\n";
      for (size_t k = i; k < i + n; ++k) {
        const auto& it = items[k];
        body += "<Item>\r\n<DeviceID>" + it.channel_id + "</DeviceID>\r\n<Name>" + sip::xml_escape(it.name) +
                "</Name>\r\n<Manufacturer>" + sip::xml_escape(it.brand.empty() ? "MingChu" : it.brand) +
                "</Manufacturer>\r\n<Model>" + sip::xml_escape(it.model.empty() ? "camera" : it.model) +
                "</Model>\r\n<Owner>" + sip::xml_escape(it.unit_name) + "</Owner>\r\n<CivilCode>" + it.civil_code +
                "</CivilCode>\r\n<Address>" + sip::xml_escape(it.unit_name) +
                "</Address>\r\n<Parental>0</Parental>\r\n<ParentID>" + u_.local_sip_id +
                "</ParentID>\r\n<SafetyWay>0</SafetyWay>\r\n<RegisterWay>1</RegisterWay>\r\n<Secrecy>0</Secrecy>\r\n"
                "<Status>" +
                (it.status == "online" ? "ON" : "OFF") + "</Status>\r\n</Item>\r\n";
      }
      body += "</DeviceList>\r\n</Response>\r\n";
      std::weak_ptr<Link> weak = shared_from_this();
      message(body, [weak](const sip::SipMessage* r, std::string_view) {
        if (auto self = weak.lock(); self && (!r || r->status / 100 != 2)) self->impl_.count("catalog_not_accepted");
      });
      i += n;
    } while (i < sum);
  }

  // ---- the upper's INVITE, ACK, BYE

  void on_invite(const sip::SipMessage& m) {
    impl_.count("invite");
    if (stopping_) return respond(m, 480, "Temporarily Unavailable");
    if (sessions_.count(m.call_id)) return respond(m, 491, "Request Pending");
    if (sessions_.size() >= static_cast<size_t>(impl_.cfg().max_sessions)) {
      impl_.count("invite_busy");
      return respond(m, 486, "Busy Here");
    }
    std::string channel = m.to_user;
    if (!digits(channel, 20)) return respond(m, 404, "Not Found");
    auto cam = impl_.camera_of(u_, channel);
    if (!cam) {
      impl_.count("invite_not_found");
      return respond(m, 404, "Not Found");
    }
    auto offer = parse_offer(m.body);
    if (!offer || (offer->tcp && offer->setup == "active") || (!offer->session.empty() && offer->session != "Play")) {
      impl_.count("invite_not_acceptable");
      return respond(m, 488, "Not Acceptable Here");
    }
    if (!impl_.video()) return respond(m, 480, "Temporarily Unavailable");
    auto s = std::make_shared<CascadeSession>();
    s->call_id = m.call_id;
    s->camera_id = *cam;
    s->channel_id = channel;
    s->offer = *offer;
    s->ssrc = static_cast<std::uint32_t>(std::strtoul(offer->y.c_str(), nullptr, 10));
    s->remote_from = m.from;
    std::string tag = quick_random_hex(4);
    s->local_to = m.to + (m.to_tag.empty() ? ";tag=" + tag : "");
    s->remote_target = m.contact.empty() ? upper_uri() : m.contact;
    if (auto a = s->remote_target.find('<'); a != std::string::npos) {
      auto b = s->remote_target.find('>', a);
      s->remote_target = s->remote_target.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    }
    // the media socket now: its port goes in our answer
    s->fd = ::socket(AF_INET, offer->tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, local_ip_.c_str(), &local.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(offer->port);
    ::inet_pton(AF_INET, offer->host.c_str(), &dst.sin_addr);
    if (s->fd < 0 || ::bind(s->fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        (!offer->tcp && ::connect(s->fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0)) {
      return respond(m, 500, "Server Internal Error");
    }
    socklen_t len = sizeof local;
    ::getsockname(s->fd, reinterpret_cast<sockaddr*>(&local), &len);
    s->local_port = ntohs(local.sin_port);
    std::string sdp = "v=0\r\no=" + u_.local_sip_id + " 0 0 IN IP4 " + local_ip_ + "\r\ns=Play\r\nc=IN IP4 " +
                      local_ip_ + "\r\nt=0 0\r\nm=video " + std::to_string(s->local_port) +
                      (offer->tcp ? " TCP/RTP/AVP 96" : " RTP/AVP 96") + "\r\na=sendonly\r\na=rtpmap:96 PS/90000\r\n" +
                      (offer->tcp ? "a=setup:active\r\na=connection:new\r\n" : "") + "y=" + offer->y + "\r\nf=\r\n";
    sessions_[s->call_id] = s;
    publish_sessions();
    s->ok = answer(m, 200, "OK",
                   {{"Contact", "<sip:" + u_.local_sip_id + "@" + local_ip_ + ":" + std::to_string(local_port_) + ">"}},
                   "APPLICATION/SDP", sdp, tag);
    s->ok_again = Steady::now() + s->ok_every;
  }

  void on_ack(const sip::SipMessage& m) {
    auto it = sessions_.find(m.call_id);
    if (stopping_ || it == sessions_.end() || it->second->acked) return;
    auto s = it->second;
    s->acked = true;
    impl_.count("session_started");
    std::weak_ptr<Link> weak = shared_from_this();
    s->th = std::thread([this, s, weak] { run_sender(s, weak); });
  }

  void on_bye(const sip::SipMessage& m) {
    auto it = sessions_.find(m.call_id);
    if (it == sessions_.end()) return respond(m, 481, "Call/Transaction Does Not Exist");
    auto s = it->second;
    sessions_.erase(it);
    impl_.count("bye_received");
    respond(m, 200, "OK");
    end_session_now(s, false);
    publish_sessions();
  }

  void end_session_now(const std::shared_ptr<CascadeSession>& s, bool send_bye) {
    s->stop = true;
    s->cv.notify_all();
    if (s->th.joinable()) s->th.join();
    if (!send_bye || !is_open()) return;
    impl_.count("bye_sent");
    std::string branch = "z9hG4bK" + quick_random_hex(8);
    std::string msg = "BYE " + s->remote_target + " SIP/2.0\r\n" + via(branch) + "From: " + s->local_to +
                      "\r\nTo: " + s->remote_from + "\r\nCall-ID: " + s->call_id +
                      "\r\nCSeq: " + std::to_string(++s->cseq_out) +
                      " BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    request(branch, std::move(msg), nullptr);
  }

  void publish_sessions() {
    auto n = static_cast<std::int64_t>(sessions_.size());
    impl_.set_status(u_.id, [n](LinkStatus& s) { s.sessions = n; });
  }

  // The sender thread: the camera's access units from the media core, PS, RTP.
  void run_sender(std::shared_ptr<CascadeSession> s, std::weak_ptr<Link> weak) {
    std::string why = "stopped";
    try {
      why = send_media(*s);
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (s->stop) return;
    asio::post(impl_.io(), [weak, id = s->call_id, why] {
      if (auto self = weak.lock()) self->session_ended(id, why);
    });
  }

  std::string send_media(CascadeSession& s) {
    const auto& cfg = impl_.cfg();
    auto wait = [&](std::chrono::milliseconds d) {
      std::unique_lock lk(s.mu);
      s.cv.wait_for(lk, d, [&] { return s.stop.load(); });
    };
    if (s.offer.tcp) {  // the upper listens (a=setup:passive): connect, RFC 4571
      sockaddr_in dst{};
      dst.sin_family = AF_INET;
      dst.sin_port = htons(s.offer.port);
      ::inet_pton(AF_INET, s.offer.host.c_str(), &dst.sin_addr);
      if (::connect(s.fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
        return "cannot connect to the upper's media port";
      }
    }
    auto send_packet = [&](const std::string& p) {
      if (s.offer.tcp) {
        std::string f = sip::rfc4571_frame(p);
        size_t off = 0;
        while (off < f.size()) {
          pollfd pf{s.fd, POLLOUT, 0};
          if (::poll(&pf, 1, 2000) <= 0) return false;
          ssize_t n = ::send(s.fd, f.data() + off, f.size() - off, MSG_NOSIGNAL);
          if (n <= 0) return false;
          off += static_cast<size_t>(n);
        }
        return true;
      }
      (void)::send(s.fd, p.data(), p.size(), MSG_NOSIGNAL);  // UDP: a lost packet is lost
      return true;
    };
    auto open_deadline = Steady::now() + cfg.media_open_timeout;
    std::optional<sip::PsMuxer> mux;
    sip::RtpPacketizer rtp(s.ssrc);
    std::int64_t last_dts = 0;
    bool started = false;
    auto last_new = Steady::now();
    std::string params;
    while (!s.stop) {
      video::CodecInfo codec;
      auto gop = impl_.video()->latest_gop(s.camera_id, &codec);
      auto now = Steady::now();
      if (!gop) {
        bool transient = gop.error().kind == ErrorKind::kUnavailable && gop.error().code != "video_capacity";
        if (transient && now < (started ? last_new + cfg.media_idle_timeout : open_deadline)) {
          wait(100ms);
          continue;
        }
        return gop.error().message;
      }
      if (!mux) {
        bool hevc = codec.is_hevc();
        if (!hevc && codec.codec_name() != "h264") return "the stream is neither H.264 nor H.265";
        mux.emplace(hevc ? sip::kStreamH265 : sip::kStreamH264);
        params = extradata_annexb(codec.get());
      }
      bool hevc = codec.is_hevc();
      for (const auto& au : *gop) {
        if (started && au.dts_us <= last_dts) continue;
        if (!started && !au.key) continue;
        started = true;
        last_dts = au.dts_us;
        last_new = now;
        const AVPacket* pkt = au.packet.get();
        if (!pkt || pkt->size <= 0) continue;
        std::string data = annexb(pkt->data, static_cast<size_t>(pkt->size))
                               ? std::string(reinterpret_cast<const char*>(pkt->data), static_cast<size_t>(pkt->size))
                               : length_prefixed_to_annexb(pkt->data, static_cast<size_t>(pkt->size));
        if (au.key && !params.empty() && sip::parameter_sets(data, hevc).empty()) data = params + data;
        std::int64_t pts90 = au.pts_us * 9 / 100, dts90 = au.dts_us * 9 / 100;
        std::string ps = mux->mux(data, pts90, dts90, au.key);
        for (const auto& p : rtp.packetize(ps, static_cast<std::uint32_t>(pts90))) {
          if (!send_packet(p)) return "the upper closed the media connection";
          s.packets.fetch_add(1, std::memory_order_relaxed);
        }
      }
      if (started && now - last_new > cfg.media_idle_timeout) return "no new frame from the camera";
      wait(20ms);
    }
    return "stopped";
  }

  CascadeImpl& impl_;
  Upstream u_;
  bool tcp_;
  udp::socket sock_;
  asio::ip::tcp::socket tsock_;
  bool tcp_up_ = false;
  std::string tin_;
  std::deque<std::string> tout_;
  udp::endpoint peer_;
  asio::steady_timer reg_timer_, ka_timer_;
  std::string local_ip_;
  unsigned short local_port_ = 0;
  char buf_[sip::kMaxMessageBytes + 1];
  std::map<std::string, Txn> txns_;
  std::map<std::string, std::pair<std::string, Steady::time_point>> cache_;
  std::map<std::string, std::shared_ptr<CascadeSession>> sessions_;
  std::string reg_call_id_, reg_tag_;
  std::uint32_t reg_cseq_ = 0, next_cseq_ = 1, next_sn_ = 1;
  int auth_tries_ = 0, failures_ = 0, ka_failures_ = 0;
  bool registered_ = false, stopping_ = false, closed_ = false;
  std::function<void()> unregister_done_;
};

// ------------------------------------------------------------------ the service

void CascadeImpl::start() {
  if (started_) return;
  started_ = true;
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io_.get_executor());
  timer_ = std::make_unique<asio::steady_timer>(io_);
  tick();
  std::vector<std::string> ids;
  {
    storage::Conn c = db_.acquire();
    for (const auto& r : c->query("SELECT id FROM gb_upstreams WHERE deleted_at IS NULL AND enabled = 1 ORDER BY id")) {
      ids.push_back(r.text(0));
    }
  }
  for (const auto& id : ids) asio::post(io_, [this, id] { reload(id); });
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      log::error("gb cascade I/O thread stopped", {{"error", e.what()}});
    }
  });
}

void CascadeImpl::stop() {
  if (!started_) return;
  started_ = false;
  // unregister every link (each at most ~2 s, all at once), then stop the I/O
  auto left = std::make_shared<int>(0);
  std::mutex m;
  std::condition_variable cv;
  bool all_done = false;
  asio::post(io_, [&, left] {
    *left = static_cast<int>(links_.size()) + 1;
    auto one = [&, left] {
      if (--*left == 0) {
        std::lock_guard lk(m);
        all_done = true;
        cv.notify_all();
      }
    };
    for (auto& [id, l] : links_) l->shutdown(one);
    one();
  });
  {
    std::unique_lock lk(m);
    cv.wait_for(lk, 3s, [&] { return all_done; });
  }
  asio::post(io_, [this] {
    links_.clear();
    if (timer_) timer_->cancel();
    work_.reset();
    io_.stop();
  });
  if (thread_.joinable()) thread_.join();
}

void CascadeImpl::tick() {
  timer_->expires_after(100ms);
  timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    for (auto& [id, l] : links_) l->tick();
    tick();
  });
}

void CascadeImpl::reload(const std::string& id) {
  int gen = ++generation_[id];
  auto start_new = [this, id, gen] {
    if (generation_[id] != gen) return;  // a newer reload follows
    auto u = load(id, true);
    if (!u || !u->enabled) {
      std::lock_guard lk(smu_);
      status_.erase(id);
      return;
    }
    {
      std::lock_guard lk(smu_);
      status_[id] = LinkStatus{};
    }
    auto l = std::make_shared<Link>(*this, *u);
    links_[id] = l;
    l->start();
  };
  auto it = links_.find(id);
  if (it == links_.end()) return start_new();
  auto old = it->second;
  links_.erase(it);
  old->shutdown(start_new);  // the upper hears Expires: 0 before the new registration
}

std::optional<Upstream> CascadeImpl::load(const std::string& id, bool decrypt) {
  storage::Conn c = db_.acquire();
  auto rows = c->query(
      "SELECT id, name, sip_id, domain, address, transport, password, local_sip_id, jurisdiction_id, keepalive_s, "
      "enabled, created_at, updated_at FROM gb_upstreams WHERE id = $1 AND deleted_at IS NULL",
      {id});
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  Upstream u;
  u.id = r.text(0);
  u.name = r.text(1);
  u.sip_id = r.text(2);
  u.domain = r.text(3);
  u.address = r.text(4);
  u.transport = r.text(5);
  if (decrypt) {
    auto p = cipher_.decrypt(r.text(6), kCipherContext);
    u.password = p ? *p : std::string();
  }
  u.local_sip_id = r.text(7);
  u.jurisdiction_id = r.text(8);
  u.keepalive_s = static_cast<int>(r.integer(9));
  u.enabled = r.boolean(10);
  u.created_at = r.integer(11);
  u.updated_at = r.integer(12);
  return u;
}

std::vector<CascadeImpl::Item> CascadeImpl::catalog(const Upstream& u) {
  std::vector<Item> out;
  db_.in_transaction([&](storage::Connection& c) {
    auto j = c.query("SELECT path FROM jurisdictions WHERE id = $1", {u.jurisdiction_id});
    if (j.empty()) return 0;
    std::string sql =
        "SELECT c.id, c.name, COALESCE(c.gb_channel_id, ''), c.status, un.name, COALESCE(ju.code, ''), "
        "COALESCE(c.brand, ''), COALESCE(c.model, ''), s.serial FROM cameras c JOIN units un ON un.id = c.unit_id "
        "JOIN jurisdictions ju ON ju.id = un.jurisdiction_id LEFT JOIN gb_cascade_channels s ON s.camera_id = c.id "
        "WHERE c.deleted_at IS NULL AND un.deleted_at IS NULL";
    storage::Params params;
    auth::append_subtree("c.jpath", j[0].text(0), sql, params);
    sql += " ORDER BY c.id LIMIT " + std::to_string(sip::kMaxItems);
    auto rows = c.query(sql, params);
    std::int64_t next = -1;
    for (const auto& r : rows) {
      Item it;
      it.camera_id = r.text(0);
      it.name = r.text(1).substr(0, 100);
      it.status = r.text(3);
      it.unit_name = r.text(4).substr(0, 100);
      std::string code = r.text(5);
      it.civil_code =
          digits(code, code.size()) && !code.empty() && code.size() <= 12 ? code : u.local_sip_id.substr(0, 8);
      it.brand = r.text(6).substr(0, 60);
      it.model = r.text(7).substr(0, 60);
      if (digits(r.text(2), 20)) {
        it.channel_id = r.text(2);
      } else {
        std::optional<std::int64_t> serial = r.opt_integer(8);
        if (!serial) {
          if (next < 0) next = c.query("SELECT COALESCE(MAX(serial), 0) FROM gb_cascade_channels")[0].integer(0) + 1;
          serial = next++;
          c.exec("INSERT INTO gb_cascade_channels (camera_id, serial) VALUES ($1, $2)", {it.camera_id, *serial});
        }
        char tail[16];
        std::snprintf(tail, sizeof tail, "131%07lld", static_cast<long long>(*serial % 10000000));
        it.channel_id = u.local_sip_id.substr(0, 10) + tail;
      }
      out.push_back(std::move(it));
    }
    return 0;
  });
  return out;
}

std::optional<std::string> CascadeImpl::camera_of(const Upstream& u, const std::string& channel) {
  storage::Conn c = db_.acquire();
  auto j = c->query("SELECT path FROM jurisdictions WHERE id = $1", {u.jurisdiction_id});
  if (j.empty()) return std::nullopt;
  std::string sql =
      "SELECT c.id FROM cameras c JOIN units un ON un.id = c.unit_id LEFT JOIN gb_cascade_channels s ON "
      "s.camera_id = c.id WHERE c.deleted_at IS NULL AND un.deleted_at IS NULL AND (c.gb_channel_id = $1";
  storage::Params params{channel};
  if (channel.compare(0, 10, u.local_sip_id, 0, 10) == 0 && channel.compare(10, 3, "131") == 0) {
    sql += " OR ((c.gb_channel_id IS NULL OR c.gb_channel_id = '') AND s.serial = $2)";
    params.push_back(std::int64_t{std::strtoll(channel.c_str() + 13, nullptr, 10)});
  }
  sql += ")";
  auth::append_subtree("c.jpath", j[0].text(0), sql, params);
  auto rows = c->query(sql + " LIMIT 1", params);
  if (rows.empty()) return std::nullopt;
  return rows[0].text(0);
}

// ---- the admin API

Result<Upstream> CascadeImpl::validate(const json::object& body, std::optional<Upstream> base) {
  static const std::vector<std::string> kFields = {"name",        "sip_id",   "domain",       "address",
                                                   "transport",   "password", "local_sip_id", "jurisdiction_id",
                                                   "keepalive_s", "enabled"};
  for (const auto& kv : body) {
    std::string k(kv.key());
    if (std::find(kFields.begin(), kFields.end(), k) == kFields.end()) {
      return Error::invalid(k.substr(0, 64), "unknown_field", "field '" + k.substr(0, 64) + "' is not known");
    }
  }
  bool creating = !base;
  Upstream u = base.value_or(Upstream{});
  auto str = [&](const char* k, std::string& dst, size_t max, bool required) -> Status {
    auto it = body.find(k);
    if (it == body.end() || it->value().is_null()) {
      if (required && creating) return Error::invalid(k, "missing_field", std::string("field '") + k + "' is required");
      return ok_status();
    }
    if (!it->value().is_string())
      return Error::invalid(k, "invalid_type", std::string("field '") + k + "' must be a string");
    std::string v(it->value().as_string());
    if (v.empty() || v.size() > max) {
      return Error::invalid(k, "invalid_length",
                            std::string("field '") + k + "' must have 1 to " + std::to_string(max) + " characters");
    }
    if (!sip::valid_utf8(v) || std::any_of(v.begin(), v.end(), [](unsigned char c) { return c < 0x20 || c == 0x7F; })) {
      return Error::invalid(k, "invalid_value", std::string("field '") + k + "' has control characters");
    }
    dst = v;
    return ok_status();
  };
  struct Text {
    const char* key;
    std::string* dst;
    size_t max;
  };
  const Text texts[] = {{"name", &u.name, 100},
                        {"sip_id", &u.sip_id, 20},
                        {"domain", &u.domain, 10},
                        {"address", &u.address, 260},
                        {"transport", &u.transport, 3},
                        {"password", &u.password, 128},
                        {"local_sip_id", &u.local_sip_id, 20},
                        {"jurisdiction_id", &u.jurisdiction_id, 64}};
  for (const auto& t : texts) {
    bool required = std::string(t.key) != "transport";
    if (auto st = str(t.key, *t.dst, t.max, required); !st) return st.error();
  }
  if (creating && u.transport.empty()) u.transport = "udp";
  if (!digits(u.sip_id, 20)) return Error::invalid("sip_id", "invalid_value", "field 'sip_id' must be 20 digits");
  if (!digits(u.domain, 10)) return Error::invalid("domain", "invalid_value", "field 'domain' must be 10 digits");
  if (!digits(u.local_sip_id, 20)) {
    return Error::invalid("local_sip_id", "invalid_value", "field 'local_sip_id' must be 20 digits");
  }
  if (u.local_sip_id == u.sip_id) {
    return Error::invalid("local_sip_id", "invalid_value", "field 'local_sip_id' must differ from the upper's sip_id");
  }
  if (!split_address(u.address)) {
    return Error::invalid("address", "invalid_value",
                          "field 'address' must be HOST:PORT (a host name or IPv4 address)");
  }
  if (u.transport != "udp" && u.transport != "tcp")
    return Error::invalid("transport", "invalid_value", "field 'transport' must be udp or tcp");
  if (auto it = body.find("keepalive_s"); it != body.end() && !it->value().is_null()) {
    if (!it->value().is_int64() || it->value().as_int64() < 1 || it->value().as_int64() > 3600) {
      return Error::invalid("keepalive_s", "invalid_value", "field 'keepalive_s' must be an integer from 1 to 3600");
    }
    u.keepalive_s = static_cast<int>(it->value().as_int64());
  }
  if (auto it = body.find("enabled"); it != body.end() && !it->value().is_null()) {
    if (!it->value().is_bool())
      return Error::invalid("enabled", "invalid_type", "field 'enabled' must be true or false");
    u.enabled = it->value().as_bool();
  }
  if (!plausible_id(u.jurisdiction_id)) {
    return Error::invalid("jurisdiction_id", "invalid_id", "field 'jurisdiction_id' is not an id");
  }
  storage::Conn c = db_.acquire();
  if (c->query("SELECT 1 FROM jurisdictions WHERE id = $1", {u.jurisdiction_id}).empty()) {
    return Error::invalid("jurisdiction_id", "unknown", "field 'jurisdiction_id' names no jurisdiction");
  }
  // one registration per (upper, our id): two would take turns at the upper
  if (!c->query("SELECT 1 FROM gb_upstreams WHERE deleted_at IS NULL AND address = $1 AND sip_id = $2 AND "
                "local_sip_id = $3 AND id <> $4",
                {u.address, u.sip_id, u.local_sip_id, u.id})
           .empty()) {
    return Error::invalid("local_sip_id", "duplicate",
                          "field 'local_sip_id': another upstream already registers this id to that upper");
  }
  return u;
}

json::object CascadeImpl::to_json(const Upstream& u) {
  LinkStatus st;
  bool running = false;
  {
    std::lock_guard lk(smu_);
    auto it = status_.find(u.id);
    if (it != status_.end()) {
      st = it->second;
      running = true;
    }
  }
  auto t = [&](TimeMs ms) {
    return ms ? json::value(format_rfc3339(ms, cfg_.utc_offset_minutes)) : json::value(nullptr);
  };
  json::object s{{"registered", running && st.registered},
                 {"last_error", st.last_error.empty() ? json::value(nullptr) : json::value(st.last_error)},
                 {"last_keepalive_at", t(st.last_keepalive_at)},
                 {"registered_at", t(st.registered_at)},
                 {"sessions", st.sessions},
                 {"local_address", st.local.empty() ? json::value(nullptr) : json::value(st.local)}};
  return json::object{{"id", u.id},
                      {"name", u.name},
                      {"sip_id", u.sip_id},
                      {"domain", u.domain},
                      {"address", u.address},
                      {"transport", u.transport},
                      {"local_sip_id", u.local_sip_id},
                      {"jurisdiction_id", u.jurisdiction_id},
                      {"keepalive_s", u.keepalive_s},
                      {"enabled", u.enabled},
                      {"created_at", format_rfc3339(u.created_at, cfg_.utc_offset_minutes)},
                      {"updated_at", format_rfc3339(u.updated_at, cfg_.utc_offset_minutes)},
                      {"status", std::move(s)}};
}

Result<json::object> CascadeImpl::list(int page, int page_size) {
  std::vector<std::string> ids;
  std::int64_t total = 0;
  {
    storage::Conn c = db_.acquire();
    total = c->query("SELECT COUNT(*) FROM gb_upstreams WHERE deleted_at IS NULL")[0].integer(0);
    for (const auto& r : c->query("SELECT id FROM gb_upstreams WHERE deleted_at IS NULL ORDER BY created_at, id "
                                  "LIMIT $1 OFFSET $2",
                                  {std::int64_t{page_size}, std::int64_t{(page - 1) * page_size}})) {
      ids.push_back(r.text(0));
    }
  }
  json::array items;
  for (const auto& id : ids) {
    if (auto u = load(id, false)) items.push_back(to_json(*u));
  }
  return json::object{{"items", std::move(items)}, {"total", total}, {"page", page}, {"page_size", page_size}};
}

Result<json::object> CascadeImpl::get(const std::string& id) {
  if (!plausible_id(id)) return Error::not_found("upstream");
  auto u = load(id, false);
  if (!u) return Error::not_found("upstream");
  return to_json(*u);
}

namespace {
std::string audit_detail(const Upstream& u) {
  return json::serialize(json::object{{"name", u.name},
                                      {"sip_id", u.sip_id},
                                      {"address", u.address},
                                      {"local_sip_id", u.local_sip_id},
                                      {"jurisdiction_id", u.jurisdiction_id},
                                      {"enabled", u.enabled}});
}
}  // namespace

Result<json::object> CascadeImpl::create(const auth::Principal& p, const json::object& body) {
  auto u = validate(body, std::nullopt);
  if (!u) return u.error();
  u->id = new_id("gbu");
  u->created_at = u->updated_at = clock_.now_ms();
  db_.in_transaction([&](storage::Connection& c) {
    c.exec(
        "INSERT INTO gb_upstreams (id, name, sip_id, domain, address, transport, password, local_sip_id, "
        "jurisdiction_id, keepalive_s, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
        "$10, $11, $12, $12)",
        {u->id, u->name, u->sip_id, u->domain, u->address, u->transport, cipher_.encrypt(u->password, kCipherContext),
         u->local_sip_id, u->jurisdiction_id, std::int64_t{u->keepalive_s}, std::int64_t{u->enabled ? 1 : 0},
         u->created_at});
    audit_.append(c, auth::audit_entry(p, "gb.upstream.create", "gb_upstream:" + u->id, audit_detail(*u)));
    return 0;
  });
  if (u->enabled) {
    std::lock_guard lk(smu_);
    status_[u->id] = LinkStatus{};
  }
  asio::post(io_, [this, id = u->id] { reload(id); });
  return to_json(*u);
}

Result<json::object> CascadeImpl::update(const auth::Principal& p, const std::string& id, const json::object& body) {
  if (!plausible_id(id)) return Error::not_found("upstream");
  auto base = load(id, true);
  if (!base) return Error::not_found("upstream");
  auto u = validate(body, base);
  if (!u) return u.error();
  u->updated_at = clock_.now_ms();
  bool found = db_.in_transaction([&](storage::Connection& c) {
    if (c.exec("UPDATE gb_upstreams SET name = $2, sip_id = $3, domain = $4, address = $5, transport = $6, "
               "password = $7, local_sip_id = $8, jurisdiction_id = $9, keepalive_s = $10, enabled = $11, "
               "updated_at = $12 WHERE id = $1 AND deleted_at IS NULL",
               {id, u->name, u->sip_id, u->domain, u->address, u->transport,
                cipher_.encrypt(u->password, kCipherContext), u->local_sip_id, u->jurisdiction_id,
                std::int64_t{u->keepalive_s}, std::int64_t{u->enabled ? 1 : 0}, u->updated_at}) != 1) {
      return false;
    }
    audit_.append(c, auth::audit_entry(p, "gb.upstream.update", "gb_upstream:" + id, audit_detail(*u)));
    return true;
  });
  if (!found) return Error::not_found("upstream");
  asio::post(io_, [this, id] { reload(id); });
  return to_json(*u);
}

Status CascadeImpl::remove(const auth::Principal& p, const std::string& id) {
  if (!plausible_id(id)) return Error::not_found("upstream");
  bool found = db_.in_transaction([&](storage::Connection& c) {
    TimeMs now = clock_.now_ms();
    if (c.exec("UPDATE gb_upstreams SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL",
               {id, now}) != 1) {
      return false;
    }
    audit_.append(c, auth::audit_entry(p, "gb.upstream.delete", "gb_upstream:" + id));
    return true;
  });
  if (!found) return Error::not_found("upstream");
  asio::post(io_, [this, id] { reload(id); });
  return ok_status();
}

// ------------------------------------------------------------------ the facade

CascadeService::CascadeService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit,
                               const crypto::FieldCipher& cipher, video::VideoService* video, Metrics& metrics,
                               CascadeConfig cfg)
    : impl_(std::make_unique<CascadeImpl>(db, clock, audit, cipher, video, metrics, std::move(cfg))) {}
CascadeService::~CascadeService() { stop(); }
void CascadeService::start() { impl_->start(); }
void CascadeService::stop() { impl_->stop(); }
Result<json::object> CascadeService::list(int page, int page_size) { return impl_->list(page, page_size); }
Result<json::object> CascadeService::get(const std::string& id) { return impl_->get(id); }
Result<json::object> CascadeService::create(const auth::Principal& p, const json::object& body) {
  return impl_->create(p, body);
}
Result<json::object> CascadeService::update(const auth::Principal& p, const std::string& id, const json::object& body) {
  return impl_->update(p, id, body);
}
Status CascadeService::remove(const auth::Principal& p, const std::string& id) { return impl_->remove(p, id); }

}  // namespace mingchu::gb
