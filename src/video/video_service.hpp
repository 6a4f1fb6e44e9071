// VideoService: the media core of one node (docs/video.md). It owns the pulled streams (one per
// camera and quality, started on demand and stopped a while after their last use), the recorder,
// media tokens, evidence clips and the housekeeping that ties them to the rest of the platform:
//   - live: scope-checked, answers signed HLS and HTTP-FLV URLs once the stream has a keyframe;
//     H.265 sources are transcoded to H.264 for browsers, at most max_transcodes per node;
//   - recording: cameras with record = "continuous" (of this node's shard) are pulled all the
//     time and recorded (Recorder), with retention by days, quota and free disk; "events"
//     cameras are pulled all the time too, their recent seconds kept in memory only;
//   - health: while frames arrive the camera sends heartbeats through the ingest path, so a
//     camera whose pull fails for the offline window raises camera_offline and its return closes
//     it (the same alerts as for any device); status, codec, size, fps and bitrate are written to
//     camera_video;
//   - evidence: every alert raised on a camera with a stream gets a clip from clip_before before
//     to clip_after after it, cut from the recordings, or from the stream's recent seconds in
//     memory ("events"), or for "off" from the stream started when the alert arrives.
//
// Threads: every public method may be called from any thread. Asynchronous answers (live,
// snapshots) are called from a stream's puller or the housekeeping thread and must not block.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "video/media_token.hpp"
#include "video/recorder.hpp"
#include "video/stream.hpp"

namespace mingchu::storage {
class Database;
}
namespace mingchu::audit {
class AuditLog;
}
namespace mingchu::ingest {
class IngestService;
}

namespace mingchu::video {

struct VideoConfig {
  std::filesystem::path data_dir;  // recordings/ and clips/ go below it
  std::string node = "node";
  std::chrono::seconds idle_stop{30};        // a stream nobody uses stops after this
  std::chrono::seconds token_ttl{3600};      // media URLs
  std::chrono::milliseconds open_timeout{8000};
  std::chrono::milliseconds io_timeout{5000};
  std::chrono::milliseconds segment_target{1000};
  int max_transcodes = 2;
  size_t max_streams = 2000;
  std::int64_t max_playback_hours = 24;
  std::int64_t max_clip_minutes = 30;
  std::chrono::seconds clip_before{10};
  std::chrono::seconds clip_after{20};
  std::int64_t clip_keep_days = 180;  // after the alert is closed or dismissed
  std::chrono::seconds heartbeat{10};
  int shard_index = 0;  // this node records the cameras whose id hashes to shard_index
  int shard_count = 1;
  std::uint64_t quota_bytes = 0;
  std::uint64_t min_free_bytes = 512ull << 20;
  std::chrono::seconds file_span{60};
  size_t flv_queue_bytes = 8u << 20;
};

struct LiveUrls {
  std::string hls_url, flv_url;
  std::int64_t expires_at = 0;
  std::string codec;
  bool transcoded = false;
};

struct ClipFile {
  std::string path;  // a temporary file the caller deletes, or the stored clip
  std::string sm3;
  std::int64_t bytes = 0;
  bool temporary = true;
};

struct ClipInfo {
  std::string id, camera_id, state, sm3, error, url;
  std::int64_t from = 0, to = 0, bytes = 0;
};

class VideoService {
 public:
  using LiveDone = std::function<void(Result<LiveUrls>)>;
  using JpegDone = std::function<void(Result<std::string>)>;

  VideoService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit,
               ingest::IngestService* ingest, Metrics& metrics, VideoConfig cfg,
               Stream::SourceFactory factory = nullptr);
  ~VideoService();
  VideoService(const VideoService&) = delete;
  VideoService& operator=(const VideoService&) = delete;

  void start();  // recovers recordings, starts housekeeping
  void stop();   // stops every stream, closes recordings

  // ---- live (POST /api/v1/cameras/{id}/live and the public page)
  void open_live(const auth::Principal& p, const std::string& camera_id, const std::string& quality, LiveDone done);
  void open_public_live(const std::string& unit_token, const std::string& camera_id, LiveDone done);
  Result<std::string> live_playlist(const std::string& token);
  Result<std::shared_ptr<const std::string>> live_segment(const std::string& token, std::uint64_t seq);
  Result<std::shared_ptr<ByteQueue>> live_flv(const std::string& token);
  // A session: a camera's stream from another source (a GB/T 28181 device's own recording played
  // back, docs/gb28181.md), viewed with live URLs of quality `tag` (not hd or sd). The caller
  // checked the scope. It stops with stop_session() or when unused for idle_stop, like live, and
  // is never restarted after; it says nothing of the camera's health and is never recorded.
  void open_session(const std::string& camera_id, const std::string& tag, const std::string& url, LiveDone done);
  void stop_session(const std::string& camera_id, const std::string& tag);
  static bool session_quality(const std::string& q) { return q != "hd" && q != "sd"; }

  // ---- snapshots
  void snapshot(const auth::Principal& p, const std::string& camera_id, JpegDone done);

  // ---- recordings, playback, clips
  Result<json::object> recordings(const auth::Principal& p, const std::string& camera_id, std::int64_t from,
                                  std::int64_t to, int utc_offset_minutes);
  Result<LiveUrls> playback(const auth::Principal& p, const std::string& camera_id, std::int64_t from,
                            std::int64_t to);
  Result<std::string> vod_playlist(const std::string& token);
  Result<std::string> vod_segment(const std::string& token, const std::string& recording_id);
  Result<ClipFile> clip(const auth::Principal& p, const std::string& camera_id, std::int64_t from, std::int64_t to);
  // The evidence clips of an alert (the caller checked the alert's scope).
  std::vector<ClipInfo> alert_clips(const std::string& alert_id);
  Result<ClipFile> clip_by_token(const std::string& token);

  // ---- analysis (the vision pipeline, docs/vision.md): the latest GOP of a camera's stream
  // (its sub stream when it has one), starting the stream when it does not run and keeping it
  // pulled while asked; 503 until the stream has a keyframe, 404 for an unknown camera.
  Result<std::vector<AccessUnit>> latest_gop(const std::string& camera_id, CodecInfo* codec);

  json::object status();
  // Runs one housekeeping pass now (tests).
  void tick_for_test();
  Recorder& recorder() { return *recorder_; }

 private:
  struct CameraRow {
    std::string id, unit_id, jpath, stream_url, sub_stream_url, transport, record;
    bool is_public = false;
  };
  std::optional<CameraRow> load_camera(const std::string& id);
  Result<CameraRow> camera_in_scope(const auth::Principal& p, const std::string& id);
  // The running stream for a camera and quality, started when absent.
  // Shared: a handler that found a stream keeps it alive while housekeeping may stop it. Only
  // handler and housekeeping threads hold references, never a stream's own puller.
  Result<std::shared_ptr<Stream>> ensure_stream(const CameraRow& cam, const std::string& quality, bool for_clip);
  std::shared_ptr<Stream> find_stream(const std::string& camera_id, const std::string& quality);
  // The stream of a live token, started again when it stopped while a player held the URL.
  Result<std::shared_ptr<Stream>> live_stream(const MediaGrant& g);
  std::string stream_key(const CameraRow& cam, const std::string& quality) const;
  void start_live(const CameraRow& cam, const std::string& quality, LiveDone done);
  bool records_here(const std::string& camera_id) const;

  void housekeeping();
  void expire_and_stop_idle();
  void reconcile_recording();
  void restart_changed_streams();
  void report_health();
  void scan_new_alerts();
  void make_due_clips();
  void cleanup_clips();
  Result<std::vector<AccessUnit>> gather(const CameraRow& cam, std::int64_t from, std::int64_t to, CodecInfo* codec);
  Result<ClipFile> write_clip(const CodecInfo& codec, const std::vector<AccessUnit>& units,
                              const std::filesystem::path& path);
  std::string media_url(const MediaGrant& g, const std::string& tail) const;

  storage::Database& db_;
  const Clock& clock_;
  const audit::AuditLog& audit_;
  ingest::IngestService* ingest_;
  Metrics& metrics_;
  VideoConfig cfg_;
  Stream::SourceFactory factory_;
  std::unique_ptr<MediaTokens> tokens_;
  std::unique_ptr<Recorder> recorder_;

  std::mutex mu_;  // streams_, recording_, clip_demand_
  std::map<std::string, std::shared_ptr<Stream>> streams_;
  struct Recording {
    std::string unit_id, jpath;
    bool to_disk = true;  // continuous; false: events (kept pulled, recent seconds in memory)
  };
  std::map<std::string, Recording> recording_;            // camera id -> pulled all the time here
  std::map<std::string, std::int64_t> clip_demand_;       // stream key -> keep until (epoch ms)
  std::map<std::string, std::int64_t> last_heartbeat_;    // camera id -> last heartbeat sent
  std::atomic<int> transcodes_{0};

  std::thread housekeeper_;
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::int64_t last_reconcile_ = 0, last_health_ = 0, last_clips_ = 0, last_retention_ = 0;
  std::int64_t alert_cursor_ = 0;

  Gauge& streams_gauge_;
  Gauge& viewers_gauge_;
  Gauge& disk_free_gauge_;
  Counter& bytes_in_;
  Counter& bytes_out_;
  Counter& reconnects_;
  Histogram& start_hist_;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> seen_counts_;  // key -> bytes, reconnects
  std::atomic<std::uint64_t> bytes_out_total_{0};
  friend class VideoServiceAccess;

 public:
  void count_bytes_out(std::uint64_t n) {
    bytes_out_.inc(n);
    bytes_out_total_ += n;
  }
};

}  // namespace mingchu::video
