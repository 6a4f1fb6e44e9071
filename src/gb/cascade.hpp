// CascadeService: this node as a lower platform of upper GB/T 28181 platforms (级联, issue 9
// point 6; docs/gb28181.md "Cascade"). Upper platforms are kept in gb_upstreams (admin API
// /api/v1/gb/upstreams, passwords encrypted and never returned). For each enabled one:
//   - a SIP user agent over UDP (its own socket, connected to the upper): REGISTER answered to the
//     401 digest challenge (qop=auth when asked), registered again before expiry, with backoff
//     (1 s doubling to 60 s) after a refusal or silence, REGISTER Expires: 0 when disabled,
//     changed or deleted; keepalive MESSAGEs every keepalive_s (three lost: registers again);
//   - the upper's Catalog query answered with the cameras of the shared jurisdiction subtree
//     (multi-MESSAGE, SumNum), DeviceInfo and DeviceStatus too. A camera's channel id is its
//     gb_channel_id when it came from a GB device, else the first 10 digits of local_sip_id, type
//     131 and a 7-digit serial stored in gb_cascade_channels (stable);
//   - the upper's INVITE for a channel: the camera's live stream from the media core (RTSP or GB
//     source), muxed into PS (sip/ps_mux.hpp) and sent as RTP to the address, port and SSRC of the
//     upper's SDP (UDP; TCP/RTP/AVP with a=setup:passive: we connect, RFC 4571); 200 OK with our
//     SDP, sending starts at the ACK, BYE either way; a channel outside the subtree is 404.
// Status (registered, last_error, last_keepalive_at, ...) lives in memory, per upstream.
//
// Threads: one I/O thread runs every upstream's SIP; each play session has a sender thread;
// public methods may be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"

namespace mingchu::storage {
class Database;
}
namespace mingchu::audit {
class AuditLog;
}
namespace mingchu::crypto {
class FieldCipher;
}
namespace mingchu::video {
class VideoService;
}

namespace mingchu::gb {

struct CascadeConfig {
  int register_expires = 3600;                      // asked for in REGISTER
  std::chrono::milliseconds request_timeout{4000};  // our requests over UDP (retransmitted 500 ms doubling)
  std::chrono::milliseconds retry_min{1000};        // backoff after a failed registration
  std::chrono::milliseconds retry_max{60000};
  std::chrono::milliseconds media_open_timeout{10000};  // the stream's first keyframe
  std::chrono::milliseconds media_idle_timeout{10000};  // no new frame: the session ends (BYE)
  int catalog_items_per_message = 10;
  int max_sessions = 64;  // play sessions per upstream; more INVITEs: 486 Busy Here
  std::string node_name = "MingChu";
  int utc_offset_minutes = 480;
};

class CascadeImpl;

class CascadeService {
 public:
  CascadeService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit,
                 const crypto::FieldCipher& cipher, video::VideoService* video, Metrics& metrics, CascadeConfig cfg);
  ~CascadeService();
  CascadeService(const CascadeService&) = delete;
  CascadeService& operator=(const CascadeService&) = delete;

  void start();  // starts the enabled upstreams
  void stop();   // unregisters them (at most ~2 s) and ends the sessions

  // The admin API (the caller checked the role). Bodies are validated strictly: 422 naming the
  // field (unknown fields too); 404 for an unknown id.
  Result<json::object> list(int page, int page_size);
  Result<json::object> get(const std::string& id);
  Result<json::object> create(const auth::Principal& p, const json::object& body);
  Result<json::object> update(const auth::Principal& p, const std::string& id, const json::object& body);
  Status remove(const auth::Principal& p, const std::string& id);

 private:
  std::unique_ptr<CascadeImpl> impl_;
};

}  // namespace mingchu::gb
