// GbService: GB/T 28181 device access inside `mingchu serve` (docs/gb28181.md).
//   - SIP over UDP and TCP on one port (libosip2 parses; transactions, retransmissions and dialogs
//     here): REGISTER with MD5 digest (401 challenge, 403 wrong password, per-device or default
//     password, Expires: 0 unregisters), keepalive MESSAGE (MANSCDP, GB2312 or UTF-8);
//   - liveness: a device silent for keepalive_misses keepalive periods (or whose registration
//     expired) goes offline and its bound channels' cameras raise camera_offline through the
//     alert writer, as the scheduler does for silent cameras; its return sends heartbeats through
//     ingest, which closes them;
//   - DeviceInfo and Catalog queried on registration, multi-MESSAGE catalogs assembled up to
//     SumNum; an unknown device stays "pending" until bound to a unit (bind()): its channels
//     become the unit's cameras (gb_device_id, gb_channel_id, stream_url gb28181://device/channel);
//   - live: make_source() gives the media core a Source that INVITEs the channel (SDP s=Play,
//     y= SSRC, PS/90000) and demuxes PS over RTP (UDP, or TCP with RFC 4571 framing where the
//     device connects to us), BYE when the stream stops;
//   - PTZ: DeviceControl with the 8-byte PTZCmd.
// State of devices lives in memory (keepalives never touch the database); registrations,
// catalogs and bindings are written by one background writer, batched.
//
// Threads: one I/O thread runs SIP; public methods may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "video/source.hpp"

namespace mingchu::storage {
class Database;
}
namespace mingchu::audit {
class AuditLog;
}
namespace mingchu::ingest {
class IngestService;
}
namespace mingchu::alerts {
class AlertService;
}

namespace mingchu::gb {

struct GbConfig {
  std::string listen = "127.0.0.1:5060";  // UDP and TCP
  std::string sip_id = "34020000002000000001";
  std::string domain = "3402000000";
  std::string password;                                 // default device password
  std::map<std::string, std::string> device_passwords;  // device id -> password
  std::string media_host;                               // address in our SDP (default: the listen host)
  std::string media_transport = "auto";                 // auto (as the signalling) | udp | tcp (we listen)
  int keepalive_seconds = 60;
  int keepalive_misses = 3;
  int register_expires_max = 3600;
  int nonce_seconds = 300;
  std::chrono::milliseconds invite_timeout{5000};
  std::chrono::milliseconds request_timeout{32000};  // UDP client transactions (64*T1)
  std::map<std::string, std::string> device_media;   // device id -> udp | tcp | tcp_active
  int playback_max_hours = 24;                       // a device playback's longest range
  int record_query_max_days = 31;                    // a RecordInfo query's longest range
  std::chrono::milliseconds record_timeout{8000};    // for every RecordInfo answer to arrive
  std::string node = "node";
  int utc_offset_minutes = 480;
};

struct PlaySession;
class GbServer;

class GbService {
 public:
  GbService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit, alerts::AlertService& alerts,
            ingest::IngestService* ingest, Metrics& metrics, GbConfig cfg);
  ~GbService();
  GbService(const GbService&) = delete;
  GbService& operator=(const GbService&) = delete;

  // Binds UDP and TCP (throws std::runtime_error naming the address when it cannot).
  void start();
  void stop();
  unsigned short port() const;

  Result<json::object> list_devices(const auth::Principal& p, const std::string& state, int page, int page_size);
  Result<json::object> bind(const auth::Principal& p, const std::string& device_id, const std::string& unit_id);
  // PTZ of a bound GB camera: done gets ok once the device answered 200.
  void ptz(const auth::Principal& p, const std::string& camera_id, const std::string& action, int speed, int preset,
           std::function<void(Status)> done);

  // ---- the device's own recordings (RecordInfo) and their playback (docs/gb28181.md)
  // {device_id, channel_id, sum_num, complete, items: [{start, end, name, file_path, type, file_size?}]}
  void record_info(const auth::Principal& p, const std::string& camera_id, TimeMs from, TimeMs to,
                   std::function<void(Result<json::object>)> done);
  // A playback record (404 out of scope, 422 bad range or not a GB camera, 503 device offline):
  // {session_id, ...}; the media core opens the stream of source_url(session_id).
  Result<json::object> create_playback(const auth::Principal& p, const std::string& camera_id, TimeMs from, TimeMs to);
  static std::string source_url(const std::string& session_id) { return "gb28181-playback://" + session_id; }
  Result<json::object> playback_status(const auth::Principal& p, const std::string& camera_id,
                                       const std::string& session_id);
  // action pause | play | seek (at) | speed (scale): INFO Application/MANSRTSP in the dialog.
  void playback_control(const auth::Principal& p, const std::string& camera_id, const std::string& session_id,
                        const std::string& action, TimeMs at, double scale,
                        std::function<void(Result<json::object>)> done);
  // Ends it (BYE); the caller stops the media core's session stream.
  void end_playback(const std::string& session_id, const std::string& reason);

  // A Source for "gb28181://<device id>/<channel id>" or source_url() (nullptr for any other URL).
  std::unique_ptr<video::Source> make_source(const std::string& url, std::chrono::milliseconds io_timeout);

  json::object status();
  void tick_for_test();

 private:
  std::unique_ptr<GbServer> server_;
};

}  // namespace mingchu::gb
