// The inside of GbService (gb_service.hpp): the SIP endpoint, the device table, transactions and
// play sessions. Not for use outside src/gb.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio.hpp>

#include "gb/gb_service.hpp"
#include "sip/manscdp.hpp"
#include "sip/sip_message.hpp"

namespace mingchu::gb {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

class TcpConn;

// Where a message came from / goes to.
struct Peer {
  std::shared_ptr<TcpConn> tcp;
  udp::endpoint ep;
  bool is_tcp() const { return tcp != nullptr; }
  std::string transport() const { return is_tcp() ? "tcp" : "udp"; }
  std::string remote() const;
  std::string host() const;
};

struct Channel {
  std::string id, name, status, manufacturer, model;
};

struct Device {
  std::string id;
  Peer peer;
  std::string remote;
  TimeMs registered_at = 0, last_keepalive_at = 0;
  SteadyTime expires, last_alive;
  bool registered = false, online = false;
  std::string last_nonce;
  unsigned long last_nc = 0;
  std::string unit_id;
  std::map<std::string, std::string> cameras;  // channel id -> camera id (bound devices)
  std::vector<Channel> channels;
  std::string catalog_sn;
  int catalog_sum = 0;
  std::vector<Channel> catalog_acc;
  std::string name, manufacturer, model, firmware;
  SteadyTime last_heartbeat;
};

struct PlaySession {
  std::string call_id, device_id, channel_id, from, from_tag, to, remote_uri;
  std::uint32_t ssrc = 0;
  std::uint32_t answer_ssrc = 0;  // the device's y= (0: none)
  std::uint32_t cseq = 1;
  Peer peer;
  std::string device_host;
  std::mutex mu;
  std::condition_variable cv;
  int state = 0;  // 0 inviting, 1 up, 2 failed, 3 ended
  std::string error;
  // playback of the device's own recording (gb_playback.cpp)
  std::string playback_id;
  bool paused = false;  // under mu: no media expected while paused
  // TCP active (we connect): the port of the device's answer (a=setup:passive)
  bool tcp_active = false;
  unsigned short answer_port = 0;
};

// A playback of a device's own recording (INVITE s=Playback), viewed through the media core as a
// session stream "<camera>|pb-<id>" (gb_playback.cpp).
struct Playback {
  std::string id, camera_id, unit_id, jpath, device_id, channel_id;
  TimeMs from = 0, to = 0;
  std::string state = "starting";  // starting | playing | paused | ended | failed
  std::string reason;              // why it ended
  double scale = 1;
  TimeMs position = 0;  // the last seek target (epoch ms), 0: from
  std::weak_ptr<PlaySession> session;
  int rtsp_cseq = 0;
  SteadyTime ended_at{};
};

// A RecordInfo query waiting for its answers (several MESSAGEs up to SumNum).
struct RecordQuery {
  std::string device_id, channel_id;
  int sum = -1;
  std::vector<std::map<std::string, std::string>> items;
  SteadyTime deadline;
  std::function<void(Result<json::object>)> done;
};

class GbServer {
 public:
  GbServer(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, alerts::AlertService& alerts,
           ingest::IngestService* ingest, Metrics& metrics, GbConfig cfg);
  ~GbServer();

  void start();
  void stop();
  unsigned short port() const { return port_; }
  const GbConfig& config() const { return cfg_; }

  Result<json::object> list_devices(const auth::Principal& p, const std::string& state, int page, int page_size);
  Result<json::object> bind(const auth::Principal& p, const std::string& device_id, const std::string& unit_id);
  void ptz(const auth::Principal& p, const std::string& camera_id, const std::string& action, int speed, int preset,
           std::function<void(Status)> done);
  json::object status();
  void tick();

  // ---- the device's own recordings (gb_playback.cpp)
  void record_info(const auth::Principal& p, const std::string& camera_id, TimeMs from, TimeMs to,
                   std::function<void(Result<json::object>)> done);
  // A playback record for the camera's channel; the media core then opens "gb28181-playback://<id>".
  Result<std::shared_ptr<Playback>> create_playback(const auth::Principal& p, const std::string& camera_id, TimeMs from,
                                                    TimeMs to);
  // The playback in the caller's scope (404 otherwise); a copy.
  Result<Playback> find_playback(const auth::Principal& p, const std::string& camera_id, const std::string& id);
  void playback_control(const auth::Principal& p, const std::string& camera_id, const std::string& id,
                        const std::string& action, TimeMs at, double scale,
                        std::function<void(Result<json::object>)> done);
  void end_playback(const std::string& id, const std::string& reason);
  void attach_playback(const std::string& id, const std::shared_ptr<PlaySession>& s);
  std::shared_ptr<Playback> playback(const std::string& id);
  json::object playback_json(const Playback& pb) const;

  // ---- play sessions (GbSource)
  // tcp_active: we connect to the device (a=setup:active); pb: a playback (s=Playback, t= its range)
  Result<std::shared_ptr<PlaySession>> invite(const std::string& device_id, const std::string& channel_id,
                                              const std::string& media_ip, unsigned short media_port, bool tcp,
                                              bool tcp_active = false, const Playback* pb = nullptr);
  void bye(const std::shared_ptr<PlaySession>& s);
  std::string device_transport(const std::string& device_id) const;
  // udp | tcp (the device connects) | tcp_active (we connect): [gb28181.media_transports], else
  // media_transport (auto: as the device signals).
  std::string media_mode(const std::string& device_id) const;
  void count(const std::string& event, std::uint64_t n = 1);

  // ---- called by TcpConn on the I/O thread
  void on_datagram(std::string_view data, const Peer& peer);
  void on_tcp_closed(const std::shared_ptr<TcpConn>& c);
  asio::io_context& io() { return io_; }

 private:
  void handle(const sip::SipMessage& m, const Peer& peer);
  void handle_register(const sip::SipMessage& m, const Peer& peer);
  void handle_message(const sip::SipMessage& m, const Peer& peer);
  void handle_response(const sip::SipMessage& m, const Peer& peer);
  void respond(const sip::SipMessage& req, const Peer& peer, int status, const std::string& reason,
               const std::vector<std::pair<std::string, std::string>>& headers = {});
  void send(const Peer& peer, std::string data);
  // A request of ours (MESSAGE, INVITE, BYE) in a client transaction; on_final once (nullptr on timeout).
  void send_request(const Peer& peer, std::string data, const std::string& branch, bool invite,
                    std::function<void(const sip::SipMessage*)> on_final,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  std::string request_head(const std::string& method, const std::string& uri, const Peer& peer,
                           const std::string& branch);
  void query_device(const std::string& device_id, const std::string& cmd);
  void on_catalog(Device& d, const sip::Manscdp& x);
  void on_record_info(const std::string& device_id, const sip::Manscdp& x);  // gb_playback.cpp
  void on_media_status(const std::string& device_id, const sip::SipMessage& m, const sip::Manscdp& x);
  void expire_playbacks();
  void timer_loop();
  void check_liveness();
  void went_offline(Device& d, const char* why);
  void came_alive(Device& d);
  void heartbeat(Device& d, bool force);
  std::string make_nonce();
  bool nonce_ok(const std::string& nonce) const;
  std::string password_for(const std::string& device_id) const;
  std::string our_host() const;
  std::string device_uri(const Device& d, const std::string& user) const;

  // the background writer
  void writer_loop();
  void enqueue(std::function<void(storage::Connection&)> job);
  void load();

  storage::Database& db_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
  alerts::AlertService& alerts_;
  ingest::IngestService* ingest_;
  Metrics& metrics_;
  GbConfig cfg_;
  std::string secret_;

  asio::io_context io_;
  std::unique_ptr<udp::socket> udp_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> timer_;
  std::thread io_thread_;
  unsigned short port_ = 0;
  std::atomic<bool> stopped_{false};
  SteadyTime last_liveness_{};  // the I/O thread's
  size_t liveness_bucket_ = 0;  // under mu_: where check_liveness() goes on
  bool started_ = false;

  mutable std::mutex mu_;  // everything below
  std::unordered_map<std::string, Device> devices_;
  struct ClientTxn {
    std::string data;
    Peer peer;
    bool invite = false;
    bool provisional = false;
    SteadyTime next, deadline;
    std::chrono::milliseconds interval{500};
    std::function<void(const sip::SipMessage*)> on_final;
  };
  std::unordered_map<std::string, ClientTxn> txns_;  // by branch
  struct Cached {
    std::string response;
    SteadyTime expires;
  };
  std::mutex cmu_;  // server_cache_, cache_order_ (never held with mu_ taken after it)
  std::unordered_map<std::string, Cached> server_cache_;
  std::deque<std::pair<SteadyTime, std::string>> cache_order_;
  std::unordered_map<std::string, std::shared_ptr<PlaySession>> sessions_;  // by Call-ID
  std::uint32_t next_ssrc_ = 1;                                             // under mu_
  std::atomic<std::uint32_t> next_sn_{1};
  std::atomic<std::uint32_t> next_cseq_{1};
  std::map<std::string, std::uint64_t> counts_;
  std::unordered_map<std::string, RecordQuery> record_queries_;           // by SN, under mu_
  std::unordered_map<std::string, std::shared_ptr<Playback>> playbacks_;  // by id, under mu_

  std::thread writer_;
  std::mutex wmu_;
  std::condition_variable wcv_;
  std::vector<std::function<void(storage::Connection&)>> jobs_;
  struct OfflineJob {
    std::string unit_id;
    std::vector<std::string> cameras;
  };
  std::vector<OfflineJob> offline_jobs_;
  bool wstop_ = false;
};

}  // namespace mingchu::gb
