#include "video/video_service.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include "audit/audit_log.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "crypto/sm3.hpp"
#include "ingest/ingest_service.hpp"
#include "storage/database.hpp"

namespace mingchu::video {
namespace fs = std::filesystem;
namespace {

// Cameras belong to the registry; the media core reads what it needs to pull them, including the
// credentials that the registry masks for most readers.
constexpr const char* kCamera =
    "SELECT id, unit_id, jpath, COALESCE(stream_url, ''), COALESCE(sub_stream_url, ''), rtsp_transport, record, "
    "public FROM cameras WHERE id = $1 AND deleted_at IS NULL";
// continuous: pulled and recorded; events: pulled and kept in memory, so that evidence clips
// include the seconds before the alert
constexpr const char* kRecordingCameras =
    "SELECT id, unit_id, jpath, record FROM cameras WHERE record IN ('continuous', 'events') AND deleted_at IS NULL "
    "AND stream_url IS NOT NULL";
constexpr const char* kUnitByToken = "SELECT id FROM units WHERE disclosure_token = $1 AND deleted_at IS NULL";
constexpr const char* kUpsertVideo =
    "INSERT INTO camera_video (camera_id, state, codec, width, height, fps, bitrate_kbps, last_frame_at, error, node, "
    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (camera_id) DO UPDATE SET "
    "state = excluded.state, codec = excluded.codec, width = excluded.width, height = excluded.height, "
    "fps = excluded.fps, bitrate_kbps = excluded.bitrate_kbps, last_frame_at = excluded.last_frame_at, "
    "error = excluded.error, node = excluded.node, updated_at = excluded.updated_at";
constexpr const char* kNewAlerts =
    "SELECT a.id, a.camera_id, a.occurred_at, a.created_at, a.unit_id, a.jpath FROM alerts a "
    "JOIN cameras c ON c.id = a.camera_id "
    "WHERE a.created_at > $1 AND a.camera_id IS NOT NULL AND a.type <> 'camera_offline' "
    "AND c.stream_url IS NOT NULL ORDER BY a.created_at LIMIT 200";
constexpr const char* kInsertClip =
    "INSERT INTO video_clips (id, alert_id, camera_id, unit_id, jpath, from_at, to_at, state, due_at, created_at, "
    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $9) ON CONFLICT (alert_id, camera_id) DO NOTHING";
constexpr const char* kDueClips =
    "SELECT id, alert_id, camera_id, from_at, to_at, attempts FROM video_clips WHERE state = 'pending' AND due_at <= $1 "
    "ORDER BY due_at LIMIT 10";
constexpr const char* kClipDone =
    "UPDATE video_clips SET state = 'ready', sm3 = $2, bytes = $3, path = $4, updated_at = $5 WHERE id = $1";
constexpr const char* kClipRetry =
    "UPDATE video_clips SET attempts = attempts + 1, due_at = $2, error = $3, updated_at = $4 WHERE id = $1";
constexpr const char* kClipFailed =
    "UPDATE video_clips SET state = 'failed', error = $2, updated_at = $3 WHERE id = $1";
constexpr const char* kClipsOfAlert =
    "SELECT id, camera_id, from_at, to_at, state, COALESCE(sm3, ''), COALESCE(bytes, 0), COALESCE(error, '') "
    "FROM video_clips WHERE alert_id = $1 ORDER BY from_at";
constexpr const char* kClipById = "SELECT path, sm3, bytes, camera_id FROM video_clips WHERE id = $1 AND state = 'ready'";
constexpr const char* kOldClips =
    "SELECT v.id, v.path FROM video_clips v JOIN alerts a ON a.id = v.alert_id "
    "WHERE a.state IN ('closed', 'dismissed') AND a.updated_at < $1 LIMIT 200";
constexpr const char* kAlertsOfCamera =
    "SELECT id, type, occurred_at FROM alerts WHERE camera_id = $1 AND occurred_at >= $2 AND occurred_at <= $3 "
    "ORDER BY occurred_at LIMIT 500";

Error not_found_camera() { return Error::not_found("camera"); }
Error unreachable(std::string msg) { return {ErrorKind::kUnavailable, "camera_unreachable", std::move(msg), {}}; }

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

VideoService::VideoService(storage::Database& db, const Clock& clock, const audit::AuditLog& audit,
                           ingest::IngestService* ingest, Metrics& metrics, VideoConfig cfg,
                           Stream::SourceFactory factory)
    : db_(db),
      clock_(clock),
      audit_(audit),
      ingest_(ingest),
      metrics_(metrics),
      cfg_(std::move(cfg)),
      factory_(std::move(factory)),
      streams_gauge_(metrics.gauge("mingchu_video_streams", "", "streams pulled by this node")),
      viewers_gauge_(metrics.gauge("mingchu_video_viewers", "", "HTTP-FLV viewers and recent HLS viewers")),
      disk_free_gauge_(metrics.gauge("mingchu_video_disk_free_bytes", "", "free disk under the recordings")),
      bytes_in_(metrics.counter("mingchu_video_bytes_in_total", "", "bytes pulled from cameras")),
      bytes_out_(metrics.counter("mingchu_video_bytes_out_total", "", "media bytes served")),
      reconnects_(metrics.counter("mingchu_video_reconnects_total", "", "stream reconnects")),
      start_hist_(metrics.histogram("mingchu_video_stream_start_seconds", "",
                                    "time from starting a stream to its first keyframe")) {
  init_media_logging();
  // the media token key is shared by every node of the database
  {
    storage::Conn c = db_.acquire();
    storage::Transaction tx(*c);
    auto rows = c->query("SELECT value FROM video_state WHERE name = 'token_key'");
    std::string key;
    if (rows.empty()) {
      key = random_hex(32);
      c->exec("INSERT INTO video_state (name, value) VALUES ('token_key', $1) ON CONFLICT (name) DO NOTHING", {key});
      key = c->query("SELECT value FROM video_state WHERE name = 'token_key'")[0].text(0);
    } else {
      key = rows[0].text(0);
    }
    tx.commit();
    tokens_ = std::make_unique<MediaTokens>(key);
  }
  RecorderOptions ro;
  ro.root = cfg_.data_dir / "recordings";
  ro.node = cfg_.node;
  ro.file_span = cfg_.file_span;
  ro.quota_bytes = cfg_.quota_bytes;
  ro.min_free_bytes = cfg_.min_free_bytes;
  recorder_ = std::make_unique<Recorder>(db_, clock_, metrics_, ro);
  fs::create_directories(cfg_.data_dir / "clips");
  alert_cursor_ = clock_.now_ms() - 60 * kSecondMs;
}

VideoService::~VideoService() { stop(); }

void VideoService::start() {
  recorder_->recover();
  housekeeper_ = std::thread([this] { housekeeping(); });
}

void VideoService::stop() {
  if (stop_.exchange(true)) return;
  wake_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  std::map<std::string, std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lk(mu_);
    streams.swap(streams_);
  }
  for (auto& [k, s] : streams) s->stop();
  streams.clear();
  recorder_->close_all();
  recorder_->flush();
}

// ---------------------------------------------------------------- cameras and streams

std::optional<VideoService::CameraRow> VideoService::load_camera(const std::string& id) {
  if (!plausible_id(id)) return std::nullopt;
  storage::Conn c = db_.acquire();
  auto rows = c->query(kCamera, {id});
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  CameraRow cam;
  cam.id = r.text(0);
  cam.unit_id = r.text(1);
  cam.jpath = r.text(2);
  cam.stream_url = r.text(3);
  cam.sub_stream_url = r.text(4);
  cam.transport = r.text(5);
  cam.record = r.text(6);
  cam.is_public = r.boolean(7);
  return cam;
}

Result<VideoService::CameraRow> VideoService::camera_in_scope(const auth::Principal& p, const std::string& id) {
  auto cam = load_camera(id);
  if (!cam || !p.covers(cam->jpath, cam->unit_id)) return not_found_camera();
  return *cam;
}

std::string VideoService::stream_key(const CameraRow& cam, const std::string& quality) const {
  if (session_quality(quality)) return cam.id + "|" + quality;
  bool sd = quality == "sd" && !cam.sub_stream_url.empty();
  return cam.id + (sd ? "|sd" : "|hd");
}

std::shared_ptr<Stream> VideoService::find_stream(const std::string& camera_id, const std::string& quality) {
  std::lock_guard lk(mu_);
  auto it = streams_.find(camera_id + "|" + quality);
  return it == streams_.end() ? nullptr : it->second;
}

bool VideoService::records_here(const std::string& camera_id) const {
  if (cfg_.shard_count <= 1) return true;
  return static_cast<int>(std::hash<std::string>{}(camera_id) % static_cast<size_t>(cfg_.shard_count)) ==
         cfg_.shard_index;
}

Result<std::shared_ptr<Stream>> VideoService::ensure_stream(const CameraRow& cam, const std::string& quality, bool for_clip) {
  if (cam.stream_url.empty()) {
    return Error::invalid("stream_url", "no_stream", "the camera has no stream URL");
  }
  std::string key = stream_key(cam, quality);
  bool sd = key.ends_with("|sd");
  std::lock_guard lk(mu_);
  if (auto it = streams_.find(key); it != streams_.end()) {
    it->second->touch();
    return it->second;
  }
  if (streams_.size() >= cfg_.max_streams) {
    return Error{ErrorKind::kUnavailable, "video_capacity", "this node pulls as many streams as it may", {}};
  }
  StreamOptions so;
  so.camera_id = cam.id;
  so.unit_id = cam.unit_id;
  so.quality = session_quality(quality) ? quality : sd ? "sd" : "hd";
  so.rtsp.url = sd ? cam.sub_stream_url : cam.stream_url;
  so.rtsp.transport = cam.transport;
  so.rtsp.io_timeout = cfg_.io_timeout;
  so.segment_target = cfg_.segment_target;
  // cameras that do not record keep their recent seconds in memory, for evidence clips
  if (!session_quality(quality) && (cam.record != "continuous" || !records_here(cam.id) || for_clip)) {
    so.ring = cfg_.clip_before + cfg_.clip_after + std::chrono::seconds(15);
  }
  auto s = std::make_shared<Stream>(so, clock_, factory_);
  s->start();
  streams_.emplace(key, s);
  streams_gauge_.set(static_cast<double>(streams_.size()));
  log::info("stream started", {{"camera", cam.id}, {"quality", so.quality}, {"url", redact_url(so.rtsp.url)}});
  return s;
}

std::string VideoService::media_url(const MediaGrant& g, const std::string& tail) const {
  return "/media/" + g.kind + "/" + tokens_->issue(g) + "/" + tail;
}

void VideoService::start_live(const CameraRow& cam, const std::string& quality, LiveDone done) {
  auto s = ensure_stream(cam, quality, false);
  if (!s) {
    done(s.error());
    return;
  }
  Stream* stream = s->get();  // waiters run before the stream is destroyed (stop() fails them)
  std::string q = stream->options().quality;
  auto deadline = std::chrono::steady_clock::now() + cfg_.open_timeout;
  // the codec is known once the source opened: wait for a keyframe in the source output first,
  // then decide whether browsers need the H.264 transcode
  stream->when_ready(
      stream->source_ptr(),
      [this, stream, cam, q, deadline, done = std::move(done)](Status st) mutable {
        if (!st) {
          done(st.error());
          return;
        }
        bool created = false;
        auto out = stream->browser_output(transcodes_.load() < cfg_.max_transcodes, &created);
        if (!out) {
          done(Error{ErrorKind::kUnavailable, "transcode_capacity",
                     "the camera sends H.265 and this node already transcodes as many streams as it may", {}});
          return;
        }
        if (created) ++transcodes_;
        bool transcoded = out.get() != &stream->source_output();
        stream->when_ready(
            out,
            [this, cam, q, transcoded, out, done = std::move(done)](Status st2) {
              if (!st2) {
                done(st2.error());
                return;
              }
              MediaGrant g;
              g.kind = "live";
              g.camera_id = cam.id;
              g.quality = q;
              g.expires_at = clock_.now_ms() + cfg_.token_ttl.count() * kSecondMs;
              LiveUrls urls;
              urls.hls_url = media_url(g, "index.m3u8");
              urls.flv_url = media_url(g, "live.flv");
              urls.expires_at = g.expires_at;
              urls.codec = out->codec().codec_name();
              urls.transcoded = transcoded;
              done(std::move(urls));
            },
            deadline);
      },
      deadline);
}

void VideoService::open_live(const auth::Principal& p, const std::string& camera_id, const std::string& quality,
                             LiveDone done) {
  auto cam = camera_in_scope(p, camera_id);
  if (!cam) {
    done(cam.error());
    return;
  }
  start_live(*cam, quality, std::move(done));
}

void VideoService::open_public_live(const std::string& unit_token, const std::string& camera_id, LiveDone done) {
  std::string unit_id;
  if (unit_token.size() <= 128) {
    storage::Conn c = db_.acquire();
    auto rows = c->query(kUnitByToken, {unit_token});
    if (!rows.empty()) unit_id = rows[0].text(0);
  }
  auto cam = load_camera(camera_id);
  if (unit_id.empty() || !cam || cam->unit_id != unit_id || !cam->is_public) {
    done(not_found_camera());
    return;
  }
  // the public sees the sub stream when there is one: less bandwidth for a phone
  start_live(*cam, "sd", std::move(done));
}

void VideoService::open_session(const std::string& camera_id, const std::string& tag, const std::string& url,
                                LiveDone done) {
  auto cam = load_camera(camera_id);
  if (!cam) {
    done(not_found_camera());
    return;
  }
  cam->stream_url = url;
  cam->sub_stream_url.clear();
  start_live(*cam, tag, std::move(done));
}

void VideoService::stop_session(const std::string& camera_id, const std::string& tag) {
  std::shared_ptr<Stream> s;
  {
    std::lock_guard lk(mu_);
    auto it = streams_.find(camera_id + "|" + tag);
    if (it == streams_.end()) return;
    if (it->second->transcoding()) --transcodes_;
    s = std::move(it->second);
    streams_.erase(it);
    streams_gauge_.set(static_cast<double>(streams_.size()));
  }
  s->stop();
}

Result<std::shared_ptr<Stream>> VideoService::live_stream(const MediaGrant& g) {
  if (g.kind != "live") return Error{ErrorKind::kForbidden, "invalid_media_token", "not a live token", {}};
  auto s = find_stream(g.camera_id, g.quality);
  if (!s && session_quality(g.quality)) return Error::not_found("session");  // stopped: never restarted
  if (!s) {
    // the stream stopped (idle) while the player still holds the URL: start it again
    auto cam = load_camera(g.camera_id);
    if (!cam) return not_found_camera();
    auto started = ensure_stream(*cam, g.quality, false);
    if (!started) return started.error();
    s = *started;
  }
  s->touch();
  return s;
}

Result<std::string> VideoService::live_playlist(const std::string& token) {
  auto g = tokens_->verify(token, clock_.now_ms());
  if (!g) return g.error();
  auto s = live_stream(*g);
  if (!s) return s.error();
  auto out = (*s)->browser_output((*s)->transcoding());
  if (!out) return unreachable("the stream is not ready");
  auto p = out->playlist();
  if (!p) return Error{ErrorKind::kUnavailable, "not_ready", "no segment yet; retry in a second", {}};
  return *p;
}

Result<std::shared_ptr<const std::string>> VideoService::live_segment(const std::string& token, std::uint64_t seq) {
  auto g = tokens_->verify(token, clock_.now_ms());
  if (!g) return g.error();
  if (g->kind != "live") return Error{ErrorKind::kForbidden, "invalid_media_token", "not a live token", {}};
  auto s = find_stream(g->camera_id, g->quality);
  if (!s) return Error::not_found("segment");
  s->touch();
  auto out = s->browser_output(s->transcoding());
  auto seg = out ? out->segment(seq) : nullptr;
  if (!seg) return Error::not_found("segment");
  count_bytes_out(seg->size());
  return seg;
}

Result<std::shared_ptr<ByteQueue>> VideoService::live_flv(const std::string& token) {
  auto g = tokens_->verify(token, clock_.now_ms());
  if (!g) return g.error();
  auto s = live_stream(*g);
  if (!s) return s.error();
  auto out = (*s)->browser_output((*s)->transcoding());
  if (!out) return unreachable("the stream is not ready");
  return out->subscribe_flv(cfg_.flv_queue_bytes);
}

// ---------------------------------------------------------------- snapshots

void VideoService::snapshot(const auth::Principal& p, const std::string& camera_id, JpegDone done) {
  auto cam = camera_in_scope(p, camera_id);
  if (!cam) {
    done(cam.error());
    return;
  }
  // the sub stream decodes faster when there is one
  auto s = ensure_stream(*cam, cam->sub_stream_url.empty() ? "hd" : "sd", false);
  if (!s) {
    done(s.error());
    return;
  }
  Stream* stream = s->get();
  stream->when_ready(
      stream->source_ptr(),
      [stream, done = std::move(done)](Status st) {
        if (!st) {
          done(st.error());
          return;
        }
        CodecInfo codec;
        auto gop = stream->source_output().last_gop(&codec);
        done(keyframe_to_jpeg(codec, gop));
      },
      std::chrono::steady_clock::now() + cfg_.open_timeout);
}

Result<std::vector<AccessUnit>> VideoService::latest_gop(const std::string& camera_id, CodecInfo* codec) {
  auto cam = load_camera(camera_id);
  if (!cam) return Error::not_found("camera");
  auto s = ensure_stream(*cam, cam->sub_stream_url.empty() ? "hd" : "sd", false);
  if (!s) return s.error();
  auto gop = (*s)->source_output().last_gop(codec);
  if (gop.empty()) return Error{ErrorKind::kUnavailable, "no_frame_yet", "the stream has no keyframe yet", {}};
  return gop;
}

// ---------------------------------------------------------------- recordings, playback, clips

Result<json::object> VideoService::recordings(const auth::Principal& p, const std::string& camera_id,
                                              std::int64_t from, std::int64_t to, int utc_offset_minutes) {
  auto cam = camera_in_scope(p, camera_id);
  if (!cam) return cam.error();
  if (to <= from) return Error::invalid("to", "invalid_range", "'to' must be after 'from'");
  if (to - from > 31 * kDayMs) return Error::invalid("to", "range_too_long", "at most 31 days at once");
  json::array spans, gaps, alerts;
  std::int64_t span_start = -1, span_end = -1, span_bytes = 0;
  std::int64_t cursor = from;
  auto flush = [&] {
    if (span_start < 0) return;
    spans.push_back(json::object{{"start", format_rfc3339(span_start, utc_offset_minutes)},
                                 {"end", format_rfc3339(span_end, utc_offset_minutes)},
                                 {"bytes", span_bytes}});
  };
  constexpr std::int64_t kJoin = 3 * kSecondMs;  // files closer than this form one span
  for (const auto& r : recorder_->list(cam->id, from, to)) {
    std::int64_t s = std::max(r.start_at, from), e = std::min(r.end_at, to);
    if (span_start >= 0 && s <= span_end + kJoin) {
      span_end = std::max(span_end, e);
      span_bytes += r.bytes;
      continue;
    }
    flush();
    if (s > cursor + kJoin) {
      gaps.push_back(json::object{{"start", format_rfc3339(cursor, utc_offset_minutes)},
                                  {"end", format_rfc3339(s, utc_offset_minutes)}});
    }
    span_start = s;
    span_end = e;
    span_bytes = r.bytes;
    cursor = e;
  }
  flush();
  if (span_end >= 0) cursor = std::max(cursor, span_end);
  if (cursor + kJoin < to) {
    gaps.push_back(json::object{{"start", format_rfc3339(cursor, utc_offset_minutes)},
                                {"end", format_rfc3339(to, utc_offset_minutes)}});
  }
  {
    storage::Conn c = db_.acquire();
    for (const auto& r : c->query(kAlertsOfCamera, {cam->id, from, to})) {
      alerts.push_back(json::object{{"id", r.text(0)},
                                    {"type", r.text(1)},
                                    {"occurred_at", format_rfc3339(r.integer(2), utc_offset_minutes)}});
    }
  }
  auto [open_path, open_start] = recorder_->open_file(cam->id);
  json::object out{{"spans", std::move(spans)}, {"gaps", std::move(gaps)}, {"alerts", std::move(alerts)}};
  out["recording"] = !open_path.empty();
  return out;
}

Result<LiveUrls> VideoService::playback(const auth::Principal& p, const std::string& camera_id, std::int64_t from,
                                        std::int64_t to) {
  auto cam = camera_in_scope(p, camera_id);
  if (!cam) return cam.error();
  if (to <= from) return Error::invalid("to", "invalid_range", "'to' must be after 'from'");
  if (to - from > cfg_.max_playback_hours * kHourMs) {
    return Error::invalid("to", "range_too_long",
                          "a playback covers at most " + std::to_string(cfg_.max_playback_hours) + " hours");
  }
  if (recorder_->list(cam->id, from, to).empty()) {
    return Error{ErrorKind::kNotFound, "no_recording", "nothing was recorded in that range", {}};
  }
  MediaGrant g;
  g.kind = "vod";
  g.camera_id = cam->id;
  g.from = from;
  g.to = to;
  g.expires_at = clock_.now_ms() + cfg_.token_ttl.count() * kSecondMs;
  LiveUrls u;
  u.hls_url = media_url(g, "index.m3u8");
  u.expires_at = g.expires_at;
  return u;
}

Result<std::string> VideoService::vod_playlist(const std::string& token) {
  auto g = tokens_->verify(token, clock_.now_ms());
  if (!g) return g.error();
  if (g->kind != "vod") return Error{ErrorKind::kForbidden, "invalid_media_token", "not a playback token", {}};
  auto rows = recorder_->list(g->camera_id, g->from, g->to);
  std::int64_t target = 1;
  for (const auto& r : rows) target = std::max<std::int64_t>(target, (r.end_at - r.start_at + 999) / 1000);
  std::string p = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:" +
                  std::to_string(target) + "\n#EXT-X-MEDIA-SEQUENCE:0\n";
  bool first = true;
  for (const auto& r : rows) {
    // each file starts its own timeline (and a gap may precede it)
    if (!first) p += "#EXT-X-DISCONTINUITY\n";
    first = false;
    p += "#EXT-X-PROGRAM-DATE-TIME:" + format_rfc3339(r.start_at, 0) + "\n";
    char dur[32];
    std::snprintf(dur, sizeof dur, "%.3f", static_cast<double>(r.end_at - r.start_at) / 1000.0);
    p += "#EXTINF:" + std::string(dur) + ",\n" + r.id + ".ts\n";
  }
  p += "#EXT-X-ENDLIST\n";
  return p;
}

Result<std::string> VideoService::vod_segment(const std::string& token, const std::string& recording_id) {
  auto g = tokens_->verify(token, clock_.now_ms());
  if (!g) return g.error();
  if (g->kind != "vod") return Error{ErrorKind::kForbidden, "invalid_media_token", "not a playback token", {}};
  if (!plausible_id(recording_id)) return Error::not_found("recording");
  auto r = recorder_->get(recording_id);
  if (!r || r->camera_id != g->camera_id || r->end_at < g->from || r->start_at > g->to) {
    return Error::not_found("recording");
  }
  std::string data = read_file(recorder_->path_of(*r));
  if (data.empty()) return Error::not_found("recording");
  count_bytes_out(data.size());
  return data;
}

Result<std::vector<AccessUnit>> VideoService::gather(const CameraRow& cam, std::int64_t from, std::int64_t to,
                                                     CodecInfo* codec) {
  // 1. a running stream whose recent seconds cover the range
  std::vector<AccessUnit> partial;
  CodecInfo partial_codec;
  for (const char* q : {"hd", "sd"}) {
    if (auto s = find_stream(cam.id, q)) {
      CodecInfo c;
      auto units = s->source_output().ring_range(from, to, &c);
      if (!units.empty() && units.front().wall_ms <= from + 1500 && units.back().wall_ms >= to - 1500) {
        *codec = c;
        return units;
      }
      if (units.size() > partial.size()) {
        partial = std::move(units);
        partial_codec = c;
      }
    }
  }
  // 2. recordings: indexed files and the one being written
  std::vector<std::pair<fs::path, std::int64_t>> files;
  for (const auto& r : recorder_->list(cam.id, from, to)) files.emplace_back(recorder_->path_of(r), r.start_at);
  auto [open_path, open_start] = recorder_->open_file(cam.id);
  if (!open_path.empty() && open_start <= to) files.emplace_back(open_path, open_start);
  std::vector<AccessUnit> all;
  for (const auto& [path, start] : files) {
    CodecInfo c;
    auto units = read_ts_file(path.string(), start, &c);
    if (!units || units->empty()) continue;
    if (!*codec) *codec = c;
    // one timeline by wall time across files (each file's own timestamps start anew)
    std::int64_t shift = (units->front().wall_ms - (all.empty() ? units->front().wall_ms : all.front().wall_ms)) *
                             1000 -
                         units->front().dts_us + (all.empty() ? 0 : all.front().dts_us);
    for (auto& au : *units) {
      au.dts_us += shift;
      au.pts_us += shift;
      if (!all.empty() && au.dts_us <= all.back().dts_us) continue;  // overlap between files
      all.push_back(std::move(au));
    }
  }
  // from the keyframe at or before `from`
  size_t start = all.size();
  for (size_t i = 0; i < all.size(); ++i) {
    if (!all[i].key) continue;
    if (all[i].wall_ms <= from || start == all.size()) start = i;
    if (all[i].wall_ms > from) break;
  }
  std::vector<AccessUnit> out;
  for (size_t i = start; i < all.size() && all[i].wall_ms <= to; ++i) out.push_back(all[i]);
  if (out.empty() && !partial.empty()) {
    // not recorded: what the stream saw of the range since it was started (a camera that only
    // keeps evidence is pulled from the moment the alert arrives)
    *codec = partial_codec;
    return partial;
  }
  if (out.empty()) return Error{ErrorKind::kNotFound, "no_recording", "no video in that range", {}};
  return out;
}

Result<ClipFile> VideoService::write_clip(const CodecInfo& codec, const std::vector<AccessUnit>& units,
                                          const fs::path& path) {
  if (auto st = write_mp4(path.string(), codec, units); !st) {
    std::error_code ec;
    fs::remove(path, ec);
    return st.error();
  }
  ClipFile f;
  f.path = path.string();
  std::string data = read_file(path);
  f.sm3 = crypto::sm3_hex(data);
  f.bytes = static_cast<std::int64_t>(data.size());
  return f;
}

Result<ClipFile> VideoService::clip(const auth::Principal& p, const std::string& camera_id, std::int64_t from,
                                    std::int64_t to) {
  auto cam = camera_in_scope(p, camera_id);
  if (!cam) return cam.error();
  if (to <= from) return Error::invalid("to", "invalid_range", "'to' must be after 'from'");
  if (to - from > cfg_.max_clip_minutes * kMinuteMs) {
    return Error::invalid("to", "range_too_long",
                          "a clip covers at most " + std::to_string(cfg_.max_clip_minutes) + " minutes");
  }
  CodecInfo codec;
  auto units = gather(*cam, from, to, &codec);
  if (!units) return units.error();
  fs::path tmp = cfg_.data_dir / "clips" / ("tmp-" + quick_random_hex(12) + ".mp4");
  return write_clip(codec, *units, tmp);
}

std::vector<ClipInfo> VideoService::alert_clips(const std::string& alert_id) {
  std::vector<ClipInfo> out;
  storage::Conn c = db_.acquire();
  for (const auto& r : c->query(kClipsOfAlert, {alert_id})) {
    ClipInfo ci;
    ci.id = r.text(0);
    ci.camera_id = r.text(1);
    ci.from = r.integer(2);
    ci.to = r.integer(3);
    ci.state = r.text(4);
    ci.sm3 = r.text(5);
    ci.bytes = r.integer(6);
    ci.error = r.text(7);
    if (ci.state == "ready") {
      MediaGrant g;
      g.kind = "clips";
      g.camera_id = ci.camera_id;
      g.clip_id = ci.id;
      g.expires_at = clock_.now_ms() + cfg_.token_ttl.count() * kSecondMs;
      ci.url = "/media/clips/" + tokens_->issue(g) + ".mp4";
    }
    out.push_back(std::move(ci));
  }
  return out;
}

Result<ClipFile> VideoService::clip_by_token(const std::string& token) {
  auto g = tokens_->verify(token, clock_.now_ms());
  if (!g) return g.error();
  if (g->kind != "clips") return Error{ErrorKind::kForbidden, "invalid_media_token", "not a clip token", {}};
  storage::Conn c = db_.acquire();
  auto rows = c->query(kClipById, {g->clip_id});
  if (rows.empty() || rows[0].text(3) != g->camera_id) return Error::not_found("clip");
  ClipFile f;
  f.path = (cfg_.data_dir / "clips" / rows[0].text(0)).string();
  f.sm3 = rows[0].text(1);
  f.bytes = rows[0].integer(2);
  f.temporary = false;
  return f;
}

// ---------------------------------------------------------------- status

json::object VideoService::status() {
  json::array streams;
  std::uint64_t in = 0;
  size_t viewers = 0;
  {
    std::lock_guard lk(mu_);
    for (const auto& [key, s] : streams_) {
      StreamStats st = s->stats();
      size_t v = s->viewers();
      viewers += v;
      in += st.bytes_in;
      streams.push_back(json::object{{"camera_id", s->options().camera_id},
                                     {"quality", s->options().quality},
                                     {"state", st.state},
                                     {"codec", st.codec},
                                     {"width", st.width},
                                     {"height", st.height},
                                     {"fps", st.fps},
                                     {"bitrate_kbps", st.bitrate_kbps},
                                     {"flv_viewers", v},
                                     {"bytes_in", st.bytes_in},
                                     {"reconnects", st.reconnects},
                                     {"transcoding", s->transcoding()},
                                     {"recording", s->options().quality == "hd" &&
                                                       recording_.count(s->options().camera_id) > 0 &&
                                                       recording_.at(s->options().camera_id).to_disk},
                                     {"error", st.error}});
    }
  }
  return json::object{{"node", cfg_.node},
                      {"streams", std::move(streams)},
                      {"viewers", viewers},
                      {"bytes_in", in},
                      {"bytes_out", bytes_out_total_.load()},
                      {"recording_bytes", recorder_->bytes_written()},
                      {"transcodes", transcodes_.load()},
                      {"disk_free_bytes", recorder_->disk_free()}};
}

// ---------------------------------------------------------------- housekeeping

void VideoService::tick_for_test() {
  expire_and_stop_idle();
  reconcile_recording();
  report_health();
  scan_new_alerts();
  make_due_clips();
}

void VideoService::housekeeping() {
  while (!stop_) {
    {
      std::unique_lock lk(wake_mu_);
      wake_.wait_for(lk, std::chrono::milliseconds(100), [this] { return stop_.load(); });
    }
    if (stop_) break;
    try {
      std::int64_t now = steady_ms();
      expire_and_stop_idle();
      if (now - last_reconcile_ >= 3000) {
        last_reconcile_ = now;
        restart_changed_streams();
        reconcile_recording();
        report_health();
      }
      if (now - last_clips_ >= 1000) {
        last_clips_ = now;
        scan_new_alerts();
        make_due_clips();
      }
      if (now - last_retention_ >= 60000) {
        last_retention_ = now;
        recorder_->enforce_retention();
        cleanup_clips();
        disk_free_gauge_.set(static_cast<double>(recorder_->disk_free()));
      }
    } catch (const std::exception& e) {
      log::warn("video housekeeping failed; retrying", {{"error", e.what()}});
    }
  }
}

void VideoService::expire_and_stop_idle() {
  std::vector<std::shared_ptr<Stream>> stopping;
  std::int64_t now = clock_.now_ms();
  auto idle_before = std::chrono::steady_clock::now() - cfg_.idle_stop;
  size_t viewers = 0;
  {
    std::lock_guard lk(mu_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      Stream& s = *it->second;
      s.expire_waiters();
      size_t v = s.viewers();
      viewers += v;
      bool recording = s.options().quality == "hd" && recording_.count(s.options().camera_id) > 0;
      auto demand = clip_demand_.find(it->first);
      bool clip = demand != clip_demand_.end() && demand->second > now;
      if (demand != clip_demand_.end() && !clip) clip_demand_.erase(demand);
      bool idle = v == 0 && s.last_used() < idle_before && !s.has_waiters();
      if ((recording || clip) && idle && s.stop_transcode()) --transcodes_;  // kept for recording only
      if (!recording && !clip && idle) {
        if (s.transcoding()) --transcodes_;
        stopping.push_back(std::move(it->second));
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
    streams_gauge_.set(static_cast<double>(streams_.size()));
  }
  viewers_gauge_.set(static_cast<double>(viewers));
  for (auto& s : stopping) {
    log::info("stream stopped (unused)", {{"camera", s->options().camera_id}, {"quality", s->options().quality}});
    s->stop();
  }
}

void VideoService::restart_changed_streams() {
  std::vector<std::pair<std::string, RtspOptions>> running;
  {
    std::lock_guard lk(mu_);
    for (const auto& [key, s] : streams_) running.emplace_back(key, s->options().rtsp);
  }
  std::vector<std::shared_ptr<Stream>> stopping;
  for (const auto& [key, rtsp] : running) {
    std::string camera_id = key.substr(0, key.find('|'));
    bool sd = key.ends_with("|sd");
    bool session = !sd && !key.ends_with("|hd");
    auto cam = load_camera(camera_id);
    bool same = cam && (session ||
                        ((sd ? cam->sub_stream_url : cam->stream_url) == rtsp.url && cam->transport == rtsp.transport));
    if (same) continue;
    // the camera was edited or deleted: its viewers reconnect to the new source, the recording
    // starts a new file
    std::lock_guard lk(mu_);
    auto it = streams_.find(key);
    if (it == streams_.end()) continue;
    if (it->second->transcoding()) --transcodes_;
    stopping.push_back(std::move(it->second));
    streams_.erase(it);
    recording_.erase(camera_id);
  }
  for (auto& s : stopping) {
    recorder_->close(s->options().camera_id);
    s->stop();
  }
}

void VideoService::reconcile_recording() {
  std::map<std::string, Recording> want;
  {
    storage::Conn c = db_.acquire();
    for (const auto& r : c->query(kRecordingCameras)) {
      if (records_here(r.text(0))) want[r.text(0)] = {r.text(1), r.text(2), r.text(3) == "continuous"};
    }
  }
  std::vector<std::string> stopped;
  std::vector<std::string> started;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, rec] : recording_) {
      auto w = want.find(id);
      if (w == want.end() || w->second.to_disk != rec.to_disk) stopped.push_back(id);
    }
    for (const auto& [id, rec] : want) {
      auto r = recording_.find(id);
      if (r == recording_.end() || r->second.to_disk != rec.to_disk) started.push_back(id);
    }
  }
  for (const auto& id : stopped) {
    {
      std::lock_guard lk(mu_);
      recording_.erase(id);
      if (auto it = streams_.find(id + "|hd"); it != streams_.end()) it->second->source_output().set_segment_hook(nullptr);
    }
    recorder_->close(id);
    log::info("recording stopped", {{"camera", id}});
  }
  for (const auto& id : started) {
    auto cam = load_camera(id);
    if (!cam) continue;
    const Recording& rec = want[id];
    auto s = ensure_stream(*cam, "hd", !rec.to_disk);
    if (!s) continue;
    if (rec.to_disk) {
      std::string unit = rec.unit_id, jpath = rec.jpath;
      (*s)->source_output().set_segment_hook([this, id, unit, jpath](const CodecInfo&, const Segment& seg) {
        recorder_->append(id, unit, jpath, seg);
      });
    }
    std::lock_guard lk(mu_);
    recording_[id] = rec;
    log::info(rec.to_disk ? "recording started" : "pre-event buffering started", {{"camera", id}});
  }
}

void VideoService::report_health() {
  struct Row {
    std::string camera_id, unit_id;
    StreamStats st;
    std::string key;
  };
  std::vector<Row> rows;
  {
    std::lock_guard lk(mu_);
    for (const auto& [key, s] : streams_) {
      if (s->options().quality != "hd" && streams_.count(s->options().camera_id + "|hd")) continue;
      if (session_quality(s->options().quality)) continue;  // a session says nothing of the camera's health
      rows.push_back({s->options().camera_id, s->options().unit_id, s->stats(), key});
    }
  }
  std::int64_t now = clock_.now_ms();
  storage::Conn c = db_.acquire();
  // one transaction (one fsync) for every stream's state
  std::optional<storage::Transaction> tx;
  if (!rows.empty()) tx.emplace(*c);
  for (auto& r : rows) {
    auto& seen = seen_counts_[r.key];
    if (r.st.bytes_in > seen.first) bytes_in_.inc(r.st.bytes_in - seen.first);
    if (r.st.reconnects > seen.second) reconnects_.inc(r.st.reconnects - seen.second);
    if (seen.first == 0 && r.st.first_frame_after_ms >= 0) {
      start_hist_.observe(static_cast<double>(r.st.first_frame_after_ms) / 1000.0);
    }
    seen = {std::max<std::uint64_t>(r.st.bytes_in, 1), r.st.reconnects};
    auto nul = [](std::int64_t v) -> storage::Value {
      if (v <= 0) return nullptr;
      return v;
    };
    c->exec(kUpsertVideo,
            {r.camera_id, r.st.state, r.st.codec.empty() ? storage::Value(nullptr) : storage::Value(r.st.codec),
             nul(r.st.width), nul(r.st.height), r.st.fps > 0 ? storage::Value(r.st.fps) : storage::Value(nullptr),
             nul(r.st.bitrate_kbps), nul(r.st.last_frame_ms),
             r.st.error.empty() || r.st.state == "live" ? storage::Value(nullptr) : storage::Value(r.st.error),
             cfg_.node, now});
    // frames arrive: the camera is alive (the ingest path raises and closes camera_offline)
    bool fresh = r.st.state == "live" && r.st.last_frame_ms > 0 && now - r.st.last_frame_ms < 5 * kSecondMs;
    std::int64_t& last_hb = last_heartbeat_[r.camera_id];
    if (ingest_ && fresh && now - last_hb >= cfg_.heartbeat.count() * kSecondMs) {
      last_hb = now;
      ingest::Heartbeat hb;
      hb.camera_id = r.camera_id;
      ingest_->submit_heartbeat(ingest::IngestSource::for_unit(r.unit_id, "video:" + cfg_.node, "video"),
                                std::move(hb), [id = r.camera_id](Status st) {
                                  if (!st) log::debug("video heartbeat refused", {{"camera", id}, {"error", st.error().message}});
                                });
    }
  }
  if (tx) tx->commit();
  // a stream gone (idle or stopped) no longer heartbeats; a recording camera's failed pull keeps
  // its stream (state failed), so its silence is what raises camera_offline
  for (auto it = seen_counts_.begin(); it != seen_counts_.end();) {
    bool alive = std::any_of(rows.begin(), rows.end(), [&](const Row& r) { return r.key == it->first; });
    it = alive ? std::next(it) : seen_counts_.erase(it);
  }
}

void VideoService::scan_new_alerts() {
  storage::Rows rows;
  {
    storage::Conn c = db_.acquire();
    // alerts of one batch commit together but carry their own created_at: look back a little,
    // the unique (alert, camera) index makes a second sight of an alert harmless
    rows = c->query(kNewAlerts, {alert_cursor_ - 5 * kSecondMs});
  }
  std::int64_t now = clock_.now_ms();
  for (const auto& r : rows) {
    std::string alert_id = r.text(0), camera_id = r.text(1);
    std::int64_t occurred = r.integer(2);
    alert_cursor_ = std::max(alert_cursor_, r.integer(3));
    std::int64_t from = occurred - cfg_.clip_before.count() * kSecondMs;
    std::int64_t to = occurred + cfg_.clip_after.count() * kSecondMs;
    std::int64_t due = std::max(now, to + 3 * kSecondMs);
    std::int64_t inserted = 0;
    {
      storage::Conn c = db_.acquire();
      inserted = c->exec(kInsertClip, {new_id("clip"), alert_id, camera_id, r.text(4), r.text(5), from, to, due, now});
    }
    if (inserted == 0 || to < now - 60 * kSecondMs) continue;
    // the camera may not be pulled now: pull it until the clip's end, so the part after the
    // alert is caught live (and whatever of the part before is still in the stream's memory)
    auto cam = load_camera(camera_id);
    if (!cam) continue;
    auto s = ensure_stream(*cam, "hd", true);
    if (!s) continue;
    std::lock_guard lk(mu_);
    std::int64_t& until = clip_demand_[camera_id + "|hd"];
    until = std::max(until, due + 5 * kSecondMs);
  }
}

void VideoService::make_due_clips() {
  storage::Rows due;
  std::int64_t now = clock_.now_ms();
  {
    storage::Conn c = db_.acquire();
    due = c->query(kDueClips, {now});
  }
  for (const auto& r : due) {
    std::string id = r.text(0), alert_id = r.text(1), camera_id = r.text(2);
    std::int64_t from = r.integer(3), to = r.integer(4), attempts = r.integer(5);
    auto cam = load_camera(camera_id);
    Result<ClipFile> file = Error::not_found("camera");
    if (cam) {
      CodecInfo codec;
      auto units = gather(*cam, from, to, &codec);
      if (units) {
        file = write_clip(codec, *units, cfg_.data_dir / "clips" / (id + ".mp4"));
      } else {
        file = units.error();
      }
    }
    storage::Conn c = db_.acquire();
    if (file) {
      storage::Transaction tx(*c);
      c->exec(kClipDone, {id, file->sm3, file->bytes, id + ".mp4", now});
      audit::Entry e;
      e.actor = "system";
      e.role = "system";
      e.action = "video.clip";
      e.target = "alert:" + alert_id;
      e.source = "video:" + cfg_.node;
      e.detail = json::serialize(json::object{
          {"clip_id", id}, {"camera_id", camera_id}, {"sm3", file->sm3}, {"bytes", file->bytes}});
      audit_.append(*c, e);
      tx.commit();
      log::info("evidence clip pinned", {{"alert", alert_id}, {"clip", id}, {"bytes", std::to_string(file->bytes)}});
    } else if (attempts < 5) {
      // the recording may still be in its open file, or the camera reconnecting: try again soon
      c->exec(kClipRetry, {id, now + (attempts + 1) * 5 * kSecondMs, file.error().message, now});
    } else {
      c->exec(kClipFailed, {id, file.error().message, now});
      log::warn("evidence clip failed", {{"alert", alert_id}, {"error", file.error().message}});
    }
  }
}

void VideoService::cleanup_clips() {
  storage::Rows rows;
  {
    storage::Conn c = db_.acquire();
    rows = c->query(kOldClips, {clock_.now_ms() - cfg_.clip_keep_days * kDayMs});
  }
  for (const auto& r : rows) {
    {
      storage::Conn c = db_.acquire();
      c->exec("DELETE FROM video_clips WHERE id = $1", {r.text(0)});
    }
    std::error_code ec;
    if (!r.text(1).empty()) fs::remove(cfg_.data_dir / "clips" / r.text(1), ec);
  }
  // temporary downloads left by a crash
  std::error_code ec;
  for (auto it = fs::directory_iterator(cfg_.data_dir / "clips", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->path().filename().string().starts_with("tmp-") &&
        fs::last_write_time(it->path(), ec) < fs::file_time_type::clock::now() - std::chrono::hours(1)) {
      fs::remove(it->path(), ec);
    }
  }
}

}  // namespace mingchu::video
