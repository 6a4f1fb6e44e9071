#include "video/stream.hpp"

#include <algorithm>
#include <cstdio>

#include "core/log.hpp"

namespace mingchu::video {

// ---------------------------------------------------------------- ByteQueue

std::optional<std::string> ByteQueue::next(std::chrono::milliseconds wait) {
  std::unique_lock lk(mu_);
  if (q_.empty() && !closed_ && wait.count() > 0) cv_.wait_for(lk, wait, [&] { return !q_.empty() || closed_; });
  if (q_.empty()) return std::nullopt;
  // hand out everything queued at once: fewer, larger writes
  std::string out = std::move(q_.front());
  q_.pop_front();
  while (!q_.empty() && out.size() < 256 * 1024) {
    out += q_.front();
    q_.pop_front();
  }
  bytes_ -= std::min(bytes_, out.size());
  return out;
}

bool ByteQueue::closed() const {
  std::lock_guard lk(mu_);
  return closed_ && q_.empty();
}

void ByteQueue::close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool ByteQueue::push(std::string bytes) {
  {
    std::lock_guard lk(mu_);
    if (closed_) return false;
    if (bytes_ + bytes.size() > limit_) {
      closed_ = true;  // a viewer this far behind would only see stale video
      q_.clear();
      bytes_ = 0;
    } else {
      bytes_ += bytes.size();
      q_.push_back(std::move(bytes));
    }
  }
  cv_.notify_all();
  return !closed();
}

// ---------------------------------------------------------------- LiveOutput

LiveOutput::LiveOutput(std::chrono::milliseconds segment_target, size_t keep_segments, std::chrono::seconds ring)
    : target_(segment_target), keep_(keep_segments), ring_span_(ring) {}

void LiveOutput::set_segment_hook(SegmentHook hook) {
  std::lock_guard lk(hook_mu_);  // waits for a call in progress: none follows after a reset
  hook_ = std::move(hook);
}

void LiveOutput::mark_discontinuity() {
  std::lock_guard lk(mu_);
  next_discontinuity_ = true;
}

void LiveOutput::close_segment_locked(std::int64_t next_dts_us, std::int64_t wall_ms) {
  if (!in_segment_ || !muxer_) return;
  Segment s;
  s.seq = next_seq_++;
  s.first_dts_us = seg_first_dts_;
  s.duration_us = std::max<std::int64_t>(1, next_dts_us - seg_first_dts_);
  s.wall_start_ms = seg_wall_start_;
  s.wall_end_ms = std::max(wall_ms, seg_wall_start_);
  s.discontinuity = discontinuity_;
  s.data = std::make_shared<const std::string>(muxer_->take());
  in_segment_ = false;
  discontinuity_ = false;
  closed_.emplace_back(codec_, s);  // for the hook, called by push() after mu_ is released
  segments_.push_back(std::move(s));
  while (segments_.size() > keep_) segments_.pop_front();
}

void LiveOutput::push(const CodecInfo& codec, const AccessUnit& au) {
  std::vector<std::pair<CodecInfo, Segment>> closed;
  {
    std::lock_guard lk(mu_);
    push_locked(codec, au);
    closed.swap(closed_);
  }
  // The hook (the recorder writing to disk) runs outside mu_: viewers reading the playlist and
  // segments are not held up by file I/O, and no lock of the hook's can be taken under mu_
  // (ThreadSanitizer found that inversion). push() is called by the stream's one thread, so the
  // hook still sees the segments in order.
  if (closed.empty()) return;
  std::lock_guard hk(hook_mu_);
  if (hook_)
    for (const auto& [c, seg] : closed) hook_(c, seg);
}

void LiveOutput::push_locked(const CodecInfo& codec, const AccessUnit& au) {
  bool new_codec = codec.get() != codec_.get();
  if (new_codec || next_discontinuity_) {
    if (!gop_.empty()) close_segment_locked(gop_.back().dts_us + 40000, gop_.back().wall_ms);
    if (new_codec) {
      codec_ = codec;
      muxer_.reset();
      // a viewer that already got an FLV header needs a new one: it reconnects; one still
      // waiting for its first keyframe simply starts with the new codec
      for (auto it = flv_.begin(); it != flv_.end();) {
        if (it->mux) {
          if (auto q = it->q.lock()) q->close();
          it = flv_.erase(it);
        } else {
          ++it;
        }
      }
    }
    muxer_.reset();
    gop_.clear();
    discontinuity_ = !segments_.empty() || next_discontinuity_;
    next_discontinuity_ = false;
  }
  if (au.key) {
    if (in_segment_ && au.dts_us - seg_first_dts_ >= target_.count() * 1000) close_segment_locked(au.dts_us, au.wall_ms);
    gop_.clear();
  } else if (gop_.empty()) {
    return;  // nothing can start before the first keyframe
  }
  gop_.push_back(au);
  if (ring_span_.count() > 0) {
    ring_.push_back(au);
    while (!ring_.empty() && au.wall_ms - ring_.front().wall_ms > ring_span_.count() * 1000) ring_.pop_front();
  }
  if (!muxer_) {
    auto m = Muxer::open("mpegts", codec_);
    if (!m) {
      log::warn("cannot mux live segments", {{"error", m.error().message}});
      return;
    }
    muxer_ = std::move(*m);
  }
  if (!in_segment_) {
    in_segment_ = true;
    seg_first_dts_ = au.dts_us;
    seg_wall_start_ = au.wall_ms;
    muxer_->resend_headers();
  }
  (void)muxer_->write(au);
  // FLV viewers: each has its own muxer (no re-encoding: the same packets, another container)
  for (auto it = flv_.begin(); it != flv_.end();) {
    auto q = it->q.lock();
    if (!q || q->closed()) {
      it = flv_.erase(it);
      continue;
    }
    bool ok = true;
    if (!it->mux) {
      ok = false;
      if (au.key) {
        if (auto m = Muxer::open("flv", codec_)) {
          it->mux = std::move(*m);
          ok = q->push(it->mux->take());
        }
      }
      if (!it->mux) {
        ++it;
        continue;
      }
    }
    ok = it->mux->write(au).ok() && q->push(it->mux->take());
    if (!ok) {
      q->close();
      it = flv_.erase(it);
    } else {
      ++it;
    }
  }
}

bool LiveOutput::has_keyframe() const {
  std::lock_guard lk(mu_);
  return !gop_.empty();
}

std::uint64_t LiveOutput::segments_made() const {
  std::lock_guard lk(mu_);
  return next_seq_ - 1;
}

std::optional<std::string> LiveOutput::playlist() const {
  std::lock_guard lk(mu_);
  if (segments_.empty()) return std::nullopt;
  std::int64_t target = 1;
  for (const auto& s : segments_) target = std::max<std::int64_t>(target, (s.duration_us + 999999) / 1000000);
  std::string p = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:" + std::to_string(target) +
                  "\n#EXT-X-MEDIA-SEQUENCE:" + std::to_string(segments_.front().seq) + "\n";
  for (const auto& s : segments_) {
    if (s.discontinuity && &s != &segments_.front()) p += "#EXT-X-DISCONTINUITY\n";
    char dur[32];
    std::snprintf(dur, sizeof dur, "%.3f", static_cast<double>(s.duration_us) / 1e6);
    p += "#EXTINF:" + std::string(dur) + ",\n" + std::to_string(s.seq) + ".ts\n";
  }
  return p;
}

std::shared_ptr<const std::string> LiveOutput::segment(std::uint64_t seq) const {
  std::lock_guard lk(mu_);
  for (const auto& s : segments_) {
    if (s.seq == seq) return s.data;
  }
  return nullptr;
}

std::vector<AccessUnit> LiveOutput::last_gop(CodecInfo* codec) const {
  std::lock_guard lk(mu_);
  if (codec) *codec = codec_;
  return gop_;
}

std::vector<AccessUnit> LiveOutput::ring_range(std::int64_t from_ms, std::int64_t to_ms, CodecInfo* codec) const {
  std::lock_guard lk(mu_);
  if (codec) *codec = codec_;
  std::vector<AccessUnit> out;
  size_t start = ring_.size();
  for (size_t i = 0; i < ring_.size(); ++i) {
    if (!ring_[i].key) continue;
    if (ring_[i].wall_ms <= from_ms || start == ring_.size()) start = i;
    if (ring_[i].wall_ms > from_ms) break;
  }
  for (size_t i = start; i < ring_.size() && ring_[i].wall_ms <= to_ms; ++i) out.push_back(ring_[i]);
  return out;
}

std::shared_ptr<ByteQueue> LiveOutput::subscribe_flv(size_t limit) {
  auto q = std::make_shared<ByteQueue>(limit);
  std::lock_guard lk(mu_);
  FlvViewer v;
  v.q = q;
  // start at once from the last keyframe: the player shows a picture without waiting for the next
  if (!gop_.empty() && codec_) {
    if (auto m = Muxer::open("flv", codec_)) {
      v.mux = std::move(*m);
      for (const auto& au : gop_) (void)v.mux->write(au);
      q->push(v.mux->take());
    }
  }
  flv_.push_back(std::move(v));
  return q;
}

size_t LiveOutput::viewers() const {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (const auto& v : flv_) {
    if (auto q = v.q.lock(); q && !q->closed()) ++n;
  }
  return n;
}

CodecInfo LiveOutput::codec() const {
  std::lock_guard lk(mu_);
  return codec_;
}

// ---------------------------------------------------------------- Stream

Stream::Stream(StreamOptions opt, const Clock& clock, SourceFactory factory)
    : opt_(std::move(opt)),
      clock_(clock),
      factory_(std::move(factory)),
      source_out_(opt_.segment_target, opt_.keep_segments, opt_.ring) {
  if (!factory_) factory_ = [](const RtspOptions& o) { return make_rtsp_source(o); };
  touch();
}

Stream::~Stream() { stop(); }

void Stream::start() {
  started_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { run(); });
}

void Stream::stop() {
  if (stop_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  {
    std::lock_guard lk(source_mu_);
    if (source_) source_->interrupt();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  fail_waiters(Error{ErrorKind::kUnavailable, "camera_unreachable", "the stream was stopped", {}});
}

void Stream::touch() {
  last_used_ns_ = std::chrono::steady_clock::now().time_since_epoch().count();
}

std::chrono::steady_clock::time_point Stream::last_used() const {
  return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(last_used_ns_.load()));
}

bool Stream::is_hevc() const {
  std::lock_guard lk(mu_);
  return codec_.is_hevc();
}

bool Stream::transcoding() const {
  std::lock_guard lk(mu_);
  return transcoded_out_ != nullptr;
}

std::shared_ptr<LiveOutput> Stream::browser_output(bool allow_transcode, bool* created) {
  if (created) *created = false;
  std::lock_guard lk(mu_);
  if (!codec_ || !codec_.is_hevc()) return source_ptr();
  if (!transcoded_out_) {
    if (!allow_transcode) return nullptr;
    transcoded_out_ = std::make_shared<LiveOutput>(opt_.segment_target, opt_.keep_segments, std::chrono::seconds(0));
    if (created) *created = true;
  }
  return transcoded_out_;
}

bool Stream::stop_transcode() {
  std::shared_ptr<LiveOutput> out;
  {
    std::lock_guard lk(mu_);
    out.swap(transcoded_out_);  // the puller drops its transcoder when it sees none
  }
  return out != nullptr;
}

bool Stream::has_waiters() const {
  std::lock_guard lk(mu_);
  return !waiters_.empty();
}

size_t Stream::viewers() const {
  std::shared_ptr<LiveOutput> t;
  {
    std::lock_guard lk(mu_);
    t = transcoded_out_;
  }
  return source_out_.viewers() + (t ? t->viewers() : 0);
}

void Stream::when_ready(std::shared_ptr<LiveOutput> out, Waiter w, std::chrono::steady_clock::time_point deadline) {
  if (out->has_keyframe()) {
    w(ok_status());
    return;
  }
  std::unique_lock lk(mu_);
  if (stats_.state == "failed") {  // the last attempt to open the source failed: say so at once
    Error e{ErrorKind::kUnavailable, "camera_unreachable", stats_.error, {}};
    lk.unlock();
    w(e);
    return;
  }
  waiters_.push_back({std::move(out), std::move(w), deadline});
}

void Stream::check_waiters() {
  std::vector<Waiter> ready;
  {
    std::lock_guard lk(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->out->has_keyframe()) {
        ready.push_back(std::move(it->w));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : ready) w(ok_status());
}

void Stream::expire_waiters() {
  auto now = std::chrono::steady_clock::now();
  std::vector<Waiter> late;
  std::string why;
  {
    std::lock_guard lk(mu_);
    why = stats_.error.empty() ? "no picture from the camera in time" : stats_.error;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline <= now) {
        late.push_back(std::move(it->w));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : late) w(Error{ErrorKind::kUnavailable, "camera_unreachable", why, {}});
}

void Stream::fail_waiters(const Error& e) {
  std::vector<Pending> all;
  {
    std::lock_guard lk(mu_);
    all.swap(waiters_);
  }
  for (auto& p : all) p.w(e);
}

StreamStats Stream::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void Stream::run() {
  std::chrono::milliseconds backoff = opt_.backoff_min;
  bool first = true;
  while (!stop_) {
    {
      std::lock_guard lk(mu_);
      stats_.state = "connecting";
    }
    std::unique_ptr<Source> src = factory_(opt_.rtsp);
    {
      std::lock_guard lk(source_mu_);
      if (stop_) break;
      source_ = src.get();
    }
    auto open_start = std::chrono::steady_clock::now();
    auto info = src->open();
    if (info) {
      log::debug("stream opened", {{"camera", opt_.camera_id},
                                   {"ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                             std::chrono::steady_clock::now() - open_start)
                                                             .count())}});
      backoff = opt_.backoff_min;
      {
        std::lock_guard lk(mu_);
        if (!codec_ || codec_.codec_id() != info->codec_id() || codec_.width() != info->width() ||
            codec_.height() != info->height()) {
          codec_ = *info;
          if (transcoded_out_ && !codec_.is_hevc()) transcoded_out_.reset();
        }
        stats_.state = "live";
        stats_.error.clear();
        stats_.codec = codec_.codec_name();
        stats_.width = codec_.width();
        stats_.height = codec_.height();
        if (!first) ++stats_.reconnects;
      }
      first = false;
      have_base_ = false;
      source_out_.mark_discontinuity();
      conn_start_ = window_start_ = std::chrono::steady_clock::now();
      window_bytes_ = window_frames_ = 0;
      for (;;) {
        if (stop_) break;
        auto u = src->read();
        if (!u) {
          std::lock_guard lk(mu_);
          stats_.error = u.error().message;
          break;
        }
        feed(*u);
      }
      std::lock_guard lk(mu_);
      transcoder_.reset();
    } else {
      std::string err = info.error().message;
      {
        std::lock_guard lk(mu_);
        stats_.state = "failed";
        stats_.error = err;
        if (!first) ++stats_.reconnects;
      }
      first = false;
      // a viewer waiting for this stream learns at once that the camera cannot be reached
      fail_waiters(Error{ErrorKind::kUnavailable, "camera_unreachable", err, {}});
    }
    {
      std::lock_guard lk(source_mu_);
      source_ = nullptr;
    }
    src.reset();
    if (stop_) break;
    {
      std::lock_guard lk(mu_);
      if (stats_.state == "live") stats_.state = "connecting";
    }
    std::unique_lock lk(wake_mu_);
    wake_.wait_for(lk, backoff, [this] { return stop_.load(); });
    backoff = std::min(backoff * 2, opt_.backoff_max);
  }
}

void Stream::feed(const SourceUnit& u) {
  auto now = std::chrono::steady_clock::now();
  std::int64_t since_conn_us = std::chrono::duration_cast<std::chrono::microseconds>(now - conn_start_).count();
  std::int64_t src_dts = u.has_ts ? u.dts_us : since_conn_us;
  std::int64_t src_pts = u.has_ts ? u.pts_us : since_conn_us;
  if (!have_base_) {
    have_base_ = true;
    src_first_dts_ = src_dts;
    out_base_us_ = last_out_dts_ < 0 ? 0 : last_out_dts_ + 40000;
    wall_base_ms_ = clock_.now_ms();
  }
  AccessUnit au;
  au.packet = u.packet;
  au.key = u.key;
  au.dts_us = out_base_us_ + (src_dts - src_first_dts_);
  au.pts_us = out_base_us_ + (src_pts - src_first_dts_);
  if (au.dts_us <= last_out_dts_) au.dts_us = last_out_dts_ + 1;
  au.pts_us = std::max(au.pts_us, au.dts_us);
  last_out_dts_ = au.dts_us;
  au.wall_ms = wall_base_ms_ + (au.dts_us - out_base_us_) / 1000;

  CodecInfo codec;
  {
    std::lock_guard lk(mu_);
    codec = codec_;
    stats_.bytes_in += packet_bytes(u.packet.get());
    ++stats_.frames;
    if (stats_.first_frame_after_ms < 0 && u.key) {
      stats_.first_frame_after_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count();
    }
    stats_.last_frame_ms = clock_.now_ms();
  }
  window_bytes_ += packet_bytes(u.packet.get());
  ++window_frames_;
  auto window = now - window_start_;
  if (window >= std::chrono::seconds(2)) {
    double secs = std::chrono::duration<double>(window).count();
    std::lock_guard lk(mu_);
    stats_.fps = static_cast<double>(window_frames_) / secs;
    stats_.bitrate_kbps = static_cast<std::int64_t>(static_cast<double>(window_bytes_) * 8 / 1000 / secs);
    window_bytes_ = window_frames_ = 0;
    window_start_ = now;
  }
  source_out_.push(codec, au);

  // H.265 → H.264 for browsers, only while someone asked for it
  std::shared_ptr<LiveOutput> tout;
  {
    std::lock_guard lk(mu_);
    tout = transcoded_out_;
    if (!tout && transcoder_) transcoder_.reset();  // nobody watches the transcode any more
    if (tout && !transcoder_ && au.key) {
      std::weak_ptr<LiveOutput> weak = tout;
      auto t = Transcoder::open(codec, opt_.transcode_gop, [weak](const CodecInfo& c, const AccessUnit& out) {
        if (auto o = weak.lock()) o->push(c, out);
      });
      if (t) {
        transcoder_ = std::move(*t);
      } else {
        log::warn("cannot transcode", {{"camera", opt_.camera_id}, {"error", t.error().message}});
      }
    }
  }
  if (tout && transcoder_) {
    if (auto st = transcoder_->push(au); !st) log::debug("transcode", {{"error", st.error().message}});
  }
  check_waiters();
}

}  // namespace mingchu::video
