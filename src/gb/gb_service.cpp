#include "gb/gb_service.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
}

#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <deque>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "gb/gb_server.hpp"
#include "sip/media_wire.hpp"

namespace mingchu::gb {
namespace {

Error unreachable(std::string msg) { return {ErrorKind::kUnavailable, "camera_unreachable", std::move(msg), {}}; }

// Width and height from the parameter sets, with FFmpeg's parser (no decoding).
void probe_size(AVCodecParameters* par, const std::string& au) {
  AVCodecParserContext* pc = av_parser_init(par->codec_id);
  AVCodecContext* cc = avcodec_alloc_context3(nullptr);
  if (pc && cc) {
    std::string buf = au;
    buf.append(AV_INPUT_BUFFER_PADDING_SIZE, '\0');
    std::uint8_t* out = nullptr;
    int out_size = 0;
    av_parser_parse2(pc, cc, &out, &out_size, reinterpret_cast<const std::uint8_t*>(buf.data()),
                     static_cast<int>(au.size()), AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
    av_parser_parse2(pc, cc, &out, &out_size, nullptr, 0, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
    par->width = pc->width > 0 ? pc->width : cc->width;
    par->height = pc->height > 0 ? pc->height : cc->height;
    if (pc->format >= 0) par->format = pc->format;
  }
  if (pc) av_parser_close(pc);
  if (cc) avcodec_free_context(&cc);
}

// PS over RTP from one GB/T 28181 channel: INVITE on open(), BYE when destroyed.
class GbSource final : public video::Source {
 public:
  GbSource(GbServer& srv, std::string device, std::string channel, std::chrono::milliseconds io_timeout,
           std::string playback_id = {})
      : srv_(srv),
        device_(std::move(device)),
        channel_(std::move(channel)),
        io_timeout_(io_timeout),
        playback_id_(std::move(playback_id)) {}
  ~GbSource() override {
    if (session_) srv_.bye(session_);
    // a playback is not resumed from its start: stopped (idle, deleted) or broken, it has ended
    if (!playback_id_.empty()) srv_.end_playback(playback_id_, session_ ? "stopped" : "the device did not play it");
    if (conn_ >= 0) ::close(conn_);
    if (fd_ >= 0) ::close(fd_);
  }

  Result<video::CodecInfo> open() override {
    std::optional<Playback> pb;
    if (!playback_id_.empty()) {
      auto p = srv_.playback(playback_id_);
      if (!p) return unreachable("no such playback");
      if (p->state != "starting") return unreachable("the playback has ended");
      pb = *p;
      device_ = pb->device_id;
      channel_ = pb->channel_id;
    }
    std::string mode = srv_.media_mode(device_);
    tcp_ = mode != "udp";
    active_ = mode == "tcp_active";
    std::string ip = srv_.config().media_host.empty() ? "127.0.0.1" : srv_.config().media_host;
    fd_ = ::socket(AF_INET, tcp_ ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (fd_ < 0) return unreachable("cannot open a media socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) return unreachable("gb28181.media_host is not IPv4");
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return unreachable("cannot bind a media port");
    if (tcp_ && !active_ && ::listen(fd_, 1) != 0) return unreachable("cannot listen on a media port");
    if (!tcp_) {
      int size = 4 << 20;
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    auto s = srv_.invite(device_, channel_, ip, ntohs(a.sin_port), tcp_, active_, pb ? &*pb : nullptr);
    if (!s) return s.error();
    session_ = *s;
    if (active_) {  // RFC 4145 active: we connect to the port of the device's answer
      auto st = connect_out();
      if (!st) return st.error();
    }
    if (pb) srv_.attach_playback(playback_id_, session_);
    auto deadline = std::chrono::steady_clock::now() + io_timeout_ * 2;
    for (;;) {
      auto f = next_frame(deadline);
      if (!f) return f.error();
      if (f->key) {
        first_ = std::move(*f);
        break;
      }
    }
    bool hevc = first_->stream_type == sip::kStreamH265;
    AVCodecParameters* par = avcodec_parameters_alloc();
    if (!par) throw std::bad_alloc();
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = hevc ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264;
    std::string ex = sip::parameter_sets(first_->data, hevc);
    par->extradata = static_cast<std::uint8_t*>(av_mallocz(ex.size() + AV_INPUT_BUFFER_PADDING_SIZE));
    std::memcpy(par->extradata, ex.data(), ex.size());
    par->extradata_size = static_cast<int>(ex.size());
    probe_size(par, first_->data);
    video::CodecInfo info(par);
    avcodec_parameters_free(&par);
    return info;
  }

  Result<video::SourceUnit> read() override {
    sip::PsFrame f;
    if (first_) {
      f = std::move(*first_);
      first_.reset();
    } else {
      auto r = next_frame(std::chrono::steady_clock::now() + io_timeout_);
      if (!r) return r.error();
      f = std::move(*r);
    }
    video::SourceUnit u;
    u.key = f.key;
    if (f.pts90 >= 0) {
      std::int64_t pts = unwrap(f.pts90, last_pts_, pts_wrap_);
      std::int64_t dts = f.dts90 >= 0 ? unwrap(f.dts90, last_dts_, dts_wrap_) : pts;
      if (!playback_id_.empty()) {
        // a seek jumps the recording's clock: the output goes on from where it was (one frame on)
        std::int64_t d = dts + ts_offset_;
        if (last_out_ >= 0 && (d <= last_out_ || d > last_out_ + 5 * 90000)) {
          ts_offset_ = last_out_ + 3600 - dts;
          d = dts + ts_offset_;
        }
        last_out_ = d;
        pts += ts_offset_;
        dts = d;
      }
      u.has_ts = true;
      u.pts_us = pts * 100 / 9;
      u.dts_us = dts * 100 / 9;
    }
    u.packet = video::make_packet(reinterpret_cast<const std::uint8_t*>(f.data.data()), f.data.size());
    return u;
  }

  void interrupt() override { stop_ = true; }

 private:
  // Connects to the device's media port (its answer's m= port, at the address it signals from:
  // never to another host the SDP might name).
  Status connect_out() {
    ::close(fd_);
    fd_ = -1;
    std::string host = session_->device_host;
    unsigned short port = 0;
    {
      std::lock_guard lk(session_->mu);
      port = session_->answer_port;
    }
    if (port == 0 || port == 9) return unreachable("the device's answer names no media port to connect to");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) return unreachable("the device's address is not IPv4");
    conn_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (conn_ < 0) return unreachable("cannot open a media socket");
    timeval tv{static_cast<time_t>(io_timeout_.count() / 1000),
               static_cast<suseconds_t>(io_timeout_.count() % 1000 * 1000)};
    ::setsockopt(conn_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(conn_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      srv_.count("rtp_tcp_connect_failed");
      return unreachable("cannot connect to the device's media port " + std::to_string(port));
    }
    srv_.count("rtp_tcp_active");
    return ok_status();
  }

  static std::int64_t unwrap(std::int64_t v, std::int64_t& last, std::int64_t& wrap) {
    constexpr std::int64_t k33 = std::int64_t{1} << 33;
    if (last >= 0 && v + k33 / 2 < last) wrap += k33;
    last = v;
    return v + wrap;
  }

  Result<sip::PsFrame> next_frame(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (!frames_.empty()) {
        sip::PsFrame f = std::move(frames_.front());
        frames_.pop_front();
        return f;
      }
      if (stop_) return unreachable("stopped");
      {
        std::lock_guard lk(session_->mu);
        if (session_->state == 3) return unreachable(session_->error.empty() ? "the stream ended" : session_->error);
      }
      {
        std::lock_guard lk(session_->mu);  // a paused playback sends nothing, and that is fine
        if (session_->paused) deadline = std::chrono::steady_clock::now() + io_timeout_;
      }
      if (std::chrono::steady_clock::now() > deadline) return unreachable("no media from the GB/T 28181 device");
      int fd = tcp_ && conn_ >= 0 ? conn_ : fd_;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      if (tcp_ && conn_ < 0) {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        int c = ::accept(fd_, reinterpret_cast<sockaddr*>(&peer), &len);
        if (c < 0) continue;
        char host[INET_ADDRSTRLEN] = {0};
        ::inet_ntop(AF_INET, &peer.sin_addr, host, sizeof host);
        if (session_->device_host != host) {  // only the device may send this stream
          srv_.count("rtp_tcp_refused");
          ::close(c);
          continue;
        }
        conn_ = c;
        continue;
      }
      if (tcp_) {
        char buf[65536];
        ssize_t n = ::recv(conn_, buf, sizeof buf, 0);
        if (n <= 0) return unreachable("the device closed the media connection");
        tcp_buf_.append(buf, static_cast<size_t>(n));
        size_t pos = 0;
        while (tcp_buf_.size() - pos >= 2) {  // RFC 4571: 16-bit length, then the RTP packet
          size_t len = (static_cast<std::uint8_t>(tcp_buf_[pos]) << 8) | static_cast<std::uint8_t>(tcp_buf_[pos + 1]);
          if (tcp_buf_.size() - pos - 2 < len) break;
          packet(reinterpret_cast<const std::uint8_t*>(tcp_buf_.data() + pos + 2), len);
          pos += 2 + len;
        }
        tcp_buf_.erase(0, pos);
      } else {
        std::uint8_t buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) packet(buf, static_cast<size_t>(n));
      }
    }
  }

  void packet(const std::uint8_t* p, size_t n) {
    auto r = sip::parse_rtp(p, n);
    if (!r) {
      srv_.count("rtp_garbage");
      return;
    }
    if (r->ssrc != session_->ssrc && (session_->answer_ssrc == 0 || r->ssrc != session_->answer_ssrc)) {
      srv_.count("rtp_wrong_ssrc");
      return;
    }
    std::vector<sip::PsFrame> out;
    std::uint64_t before = demux_.errors();
    demux_.push(r->payload, r->payload_size, out);
    if (r->marker) demux_.end_of_frame(out);
    if (demux_.errors() > before) srv_.count("ps_errors", demux_.errors() - before);
    for (auto& f : out) frames_.push_back(std::move(f));
    while (frames_.size() > 200) frames_.pop_front();  // a reader that stalls: keep the newest
  }

  GbServer& srv_;
  std::string device_, channel_;
  std::chrono::milliseconds io_timeout_;
  std::string playback_id_;
  bool tcp_ = false, active_ = false;
  std::int64_t ts_offset_ = 0, last_out_ = -1;
  int fd_ = -1, conn_ = -1;
  std::string tcp_buf_;
  std::shared_ptr<PlaySession> session_;
  sip::PsDemuxer demux_;
  std::deque<sip::PsFrame> frames_;
  std::optional<sip::PsFrame> first_;
  std::int64_t last_pts_ = -1, last_dts_ = -1, pts_wrap_ = 0, dts_wrap_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace

GbService::GbService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit,
                     alerts::AlertService& alerts, ingest::IngestService* ingest, Metrics& metrics, GbConfig cfg)
    : server_(std::make_unique<GbServer>(db, clock, audit, alerts, ingest, metrics, std::move(cfg))) {}

GbService::~GbService() { stop(); }
void GbService::start() { server_->start(); }
void GbService::stop() { server_->stop(); }
unsigned short GbService::port() const { return server_->port(); }

Result<json::object> GbService::list_devices(const auth::Principal& p, const std::string& state, int page,
                                             int page_size) {
  return server_->list_devices(p, state, page, page_size);
}
Result<json::object> GbService::bind(const auth::Principal& p, const std::string& device_id,
                                     const std::string& unit_id) {
  return server_->bind(p, device_id, unit_id);
}
void GbService::ptz(const auth::Principal& p, const std::string& camera_id, const std::string& action, int speed,
                    int preset, std::function<void(Status)> done) {
  server_->ptz(p, camera_id, action, speed, preset, std::move(done));
}
json::object GbService::status() { return server_->status(); }

void GbService::record_info(const auth::Principal& p, const std::string& camera_id, TimeMs from, TimeMs to,
                            std::function<void(Result<json::object>)> done) {
  server_->record_info(p, camera_id, from, to, std::move(done));
}
Result<json::object> GbService::create_playback(const auth::Principal& p, const std::string& camera_id, TimeMs from,
                                                TimeMs to) {
  auto pb = server_->create_playback(p, camera_id, from, to);
  if (!pb) return pb.error();
  return server_->playback_json(**pb);
}
Result<json::object> GbService::playback_status(const auth::Principal& p, const std::string& camera_id,
                                                const std::string& session_id) {
  auto pb = server_->find_playback(p, camera_id, session_id);
  if (!pb) return pb.error();
  return server_->playback_json(*pb);
}
void GbService::playback_control(const auth::Principal& p, const std::string& camera_id, const std::string& session_id,
                                 const std::string& action, TimeMs at, double scale,
                                 std::function<void(Result<json::object>)> done) {
  server_->playback_control(p, camera_id, session_id, action, at, scale, std::move(done));
}
void GbService::end_playback(const std::string& session_id, const std::string& reason) {
  server_->end_playback(session_id, reason);
}
void GbService::tick_for_test() { server_->tick(); }

std::unique_ptr<video::Source> GbService::make_source(const std::string& url, std::chrono::milliseconds io_timeout) {
  constexpr std::string_view kScheme = "gb28181://";
  constexpr std::string_view kPlayback = "gb28181-playback://";
  if (url.starts_with(kPlayback)) {
    return std::make_unique<GbSource>(*server_, "", "", io_timeout, url.substr(kPlayback.size()));
  }
  if (!url.starts_with(kScheme)) return nullptr;
  std::string rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash != 20 || rest.size() != 41) return nullptr;
  return std::make_unique<GbSource>(*server_, rest.substr(0, 20), rest.substr(21), io_timeout);
}

}  // namespace mingchu::gb
