#include "video/source.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

#include <algorithm>
#include <string_view>

#include "core/validate.hpp"

namespace mingchu::video {
namespace {

constexpr AVRational kMicros{1, 1000000};

Error unreachable(const std::string& what, int err = 0) {
  std::string msg = what;
  if (err < 0) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, buf, sizeof buf);
    msg += ": ";
    msg += buf;
  }
  return {ErrorKind::kUnavailable, "camera_unreachable", std::move(msg), {}};
}

class RtspSource final : public Source {
 public:
  explicit RtspSource(RtspOptions opt, bool flv = false) : opt_(std::move(opt)), flv_(flv) {}
  ~RtspSource() override {
    if (ctx_) avformat_close_input(&ctx_);
  }

  Result<CodecInfo> open() override {
    if (flv_ ? !(opt_.url.starts_with("http://") || opt_.url.starts_with("https://")) : !valid_rtsp_url(opt_.url))
      return unreachable(flv_ ? "not an http:// URL" : "not an rtsp:// URL");
    ctx_ = avformat_alloc_context();
    if (!ctx_) throw std::bad_alloc();
    ctx_->interrupt_callback.callback = &RtspSource::interrupted;
    ctx_->interrupt_callback.opaque = this;
    AVDictionary* o = nullptr;
    if (!flv_) av_dict_set(&o, "rtsp_transport", opt_.transport == "udp" ? "udp" : "tcp", 0);
    av_dict_set(&o, "timeout", std::to_string(opt_.io_timeout.count() * 1000).c_str(), 0);
    av_dict_set(&o, "analyzeduration", std::to_string(opt_.probe.count() * 1000).c_str(), 0);
    av_dict_set(&o, "probesize", "500000", 0);
    // the codec, size and pixel format come from the first keyframe; estimating the frame rate
    // would hold the first picture back by a second or more
    av_dict_set(&o, "fpsprobesize", "0", 0);
    // (no "fflags nobuffer": it would drop the frames read while probing, the first keyframe
    // among them, and the first picture would wait for the next one)
    av_dict_set(&o, "allowed_media_types", "video", 0);
    av_dict_set(&o, "protocol_whitelist", flv_ ? "http,https,tcp,tls" : "rtsp,rtsps,rtp,udp,tcp,tls", 0);
    if (flv_) av_dict_set(&o, "rw_timeout", std::to_string(opt_.io_timeout.count() * 1000).c_str(), 0);
    deadline_ = std::chrono::steady_clock::now() + opt_.io_timeout * 2;
    const AVInputFormat* rtsp = av_find_input_format(flv_ ? "flv" : "rtsp");
    int err = avformat_open_input(&ctx_, opt_.url.c_str(), rtsp, &o);
    av_dict_free(&o);
    if (err < 0) {
      ctx_ = nullptr;  // freed by avformat_open_input on failure
      return unreachable("cannot open " + redact_url(opt_.url), err);
    }
    err = avformat_find_stream_info(ctx_, nullptr);
    if (err < 0) return unreachable("cannot read the stream of " + redact_url(opt_.url), err);
    index_ = av_find_best_stream(ctx_, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (index_ < 0) return unreachable("no video stream at " + redact_url(opt_.url));
    AVStream* st = ctx_->streams[index_];
    AVCodecID id = st->codecpar->codec_id;
    if (id != AV_CODEC_ID_H264 && id != AV_CODEC_ID_HEVC) {
      return {Error{ErrorKind::kUnavailable, "unsupported_codec",
                    std::string("the camera sends ") + avcodec_get_name(id) + ", not H.264 or H.265", {}}};
    }
    for (unsigned i = 0; i < ctx_->nb_streams; ++i) {
      if (static_cast<int>(i) != index_) ctx_->streams[i]->discard = AVDISCARD_ALL;
    }
    time_base_ = st->time_base;
    return CodecInfo(st->codecpar);
  }

  Result<SourceUnit> read() override {
    AVPacket* p = av_packet_alloc();
    if (!p) throw std::bad_alloc();
    for (;;) {
      deadline_ = std::chrono::steady_clock::now() + opt_.io_timeout;
      int err = av_read_frame(ctx_, p);
      if (err < 0) {
        av_packet_free(&p);
        return unreachable("the stream of " + redact_url(opt_.url) + " ended", err);
      }
      if (p->stream_index != index_ || p->size == 0) {
        av_packet_unref(p);
        continue;
      }
      SourceUnit u;
      std::int64_t pts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
      std::int64_t dts = p->dts != AV_NOPTS_VALUE ? p->dts : p->pts;
      u.has_ts = pts != AV_NOPTS_VALUE;
      if (u.has_ts) {
        u.pts_us = av_rescale_q(pts, time_base_, kMicros);
        u.dts_us = av_rescale_q(dts, time_base_, kMicros);
      }
      u.key = (p->flags & AV_PKT_FLAG_KEY) != 0;
      u.packet = take_packet(p);
      av_packet_free(&p);
      return u;
    }
  }

  void interrupt() override { stop_ = true; }

 private:
  static int interrupted(void* opaque) {
    auto* self = static_cast<RtspSource*>(opaque);
    return self->stop_.load() || std::chrono::steady_clock::now() > self->deadline_ ? 1 : 0;
  }

  RtspOptions opt_;
  bool flv_ = false;
  AVFormatContext* ctx_ = nullptr;
  int index_ = -1;
  AVRational time_base_{1, 90000};
  std::atomic<bool> stop_{false};
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace

std::string redact_url(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t start = scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  if (end == std::string::npos) end = url.size();
  size_t at = url.rfind('@', end);
  if (at == std::string::npos || at < start) return url;
  return url.substr(0, start) + "***" + url.substr(at);
}

std::unique_ptr<Source> make_rtsp_source(RtspOptions opt) { return std::make_unique<RtspSource>(std::move(opt)); }
std::unique_ptr<Source> make_http_flv_source(RtspOptions opt) {
  return std::make_unique<RtspSource>(std::move(opt), true);
}

}  // namespace mingchu::video
