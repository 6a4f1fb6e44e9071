#include "video/media.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "core/log.hpp"

namespace mingchu::video {
namespace {

Error media_error(std::string code, const std::string& what, int err = 0) {
  std::string msg = what;
  if (err < 0) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, buf, sizeof buf);
    msg += ": ";
    msg += buf;
  }
  return {ErrorKind::kUnavailable, std::move(code), std::move(msg), {}};
}

constexpr AVRational kMicros{1, 1000000};

struct FormatCtxFree {
  void operator()(AVFormatContext* c) const { avformat_free_context(c); }
};
struct CodecCtxFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
using CodecCtx = std::unique_ptr<AVCodecContext, CodecCtxFree>;
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;

}  // namespace

// ---------------------------------------------------------------- CodecInfo, packets

CodecInfo::CodecInfo(const AVCodecParameters* par) {
  AVCodecParameters* copy = avcodec_parameters_alloc();
  if (!copy) throw std::bad_alloc();
  avcodec_parameters_copy(copy, par);
  par_.reset(copy, [](AVCodecParameters* p) { avcodec_parameters_free(&p); });
}

std::string CodecInfo::codec_name() const { return par_ ? avcodec_get_name(par_->codec_id) : ""; }
int CodecInfo::codec_id() const { return par_ ? static_cast<int>(par_->codec_id) : 0; }
size_t packet_bytes(const AVPacket* p) { return p ? static_cast<size_t>(p->size) : 0; }
bool CodecInfo::is_hevc() const { return par_ && par_->codec_id == AV_CODEC_ID_HEVC; }
int CodecInfo::width() const { return par_ ? par_->width : 0; }
int CodecInfo::height() const { return par_ ? par_->height : 0; }

size_t AccessUnit::size() const { return packet ? static_cast<size_t>(packet->size) : 0; }

std::shared_ptr<const AVPacket> take_packet(AVPacket* pkt) {
  AVPacket* p = av_packet_alloc();
  if (!p) throw std::bad_alloc();
  av_packet_move_ref(p, pkt);
  return std::shared_ptr<const AVPacket>(p, [](const AVPacket* q) {
    auto* m = const_cast<AVPacket*>(q);
    av_packet_free(&m);
  });
}

std::shared_ptr<const AVPacket> make_packet(const std::uint8_t* data, size_t size) {
  PacketPtr p(av_packet_alloc());
  if (!p || av_new_packet(p.get(), static_cast<int>(size)) < 0) throw std::bad_alloc();
  std::copy(data, data + size, p->data);
  return take_packet(p.get());
}

// ---------------------------------------------------------------- Muxer

struct Muxer::Impl {
  std::unique_ptr<AVFormatContext, FormatCtxFree> ctx;
  AVStream* stream = nullptr;
  std::string out;
  bool header = false;
  bool ts = false;
  std::int64_t base_us = AV_NOPTS_VALUE;
  std::int64_t last_dts = AV_NOPTS_VALUE;

  static int write_cb(void* opaque, std::uint8_t* buf, int size) {
    static_cast<Impl*>(opaque)->out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(size));
    return size;
  }
  ~Impl() {
    if (ctx && ctx->pb) {
      av_freep(&ctx->pb->buffer);
      avio_context_free(&ctx->pb);
    }
  }
};

Result<std::unique_ptr<Muxer>> Muxer::open(const std::string& format, const CodecInfo& codec) {
  if (!codec) return media_error("media_no_codec", "no codec parameters");
  std::unique_ptr<Muxer> m(new Muxer());
  m->impl_ = std::make_unique<Impl>();
  Impl& im = *m->impl_;
  AVFormatContext* raw = nullptr;
  int err = avformat_alloc_output_context2(&raw, nullptr, format.c_str(), nullptr);
  if (err < 0 || !raw) return media_error("media_mux", "cannot create a " + format + " muxer", err);
  im.ctx.reset(raw);
  im.ts = format == "mpegts";
  im.stream = avformat_new_stream(raw, nullptr);
  if (!im.stream) return media_error("media_mux", "cannot add a stream");
  avcodec_parameters_copy(im.stream->codecpar, codec.get());
  im.stream->codecpar->codec_tag = 0;
  im.stream->time_base = format == "flv" ? AVRational{1, 1000} : AVRational{1, 90000};
  constexpr int kBuf = 64 * 1024;
  auto* buf = static_cast<std::uint8_t*>(av_malloc(kBuf));
  if (!buf) throw std::bad_alloc();
  raw->pb = avio_alloc_context(buf, kBuf, 1, &im, nullptr, &Impl::write_cb, nullptr);
  if (!raw->pb) {
    av_free(buf);
    throw std::bad_alloc();
  }
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  AVDictionary* opts = nullptr;
  if (format == "flv") av_dict_set(&opts, "flvflags", "no_duration_filesize", 0);
  err = avformat_write_header(raw, &opts);
  av_dict_free(&opts);
  if (err < 0) return media_error("media_mux", "cannot start the " + format + " stream", err);
  im.header = true;
  return m;
}

Muxer::~Muxer() = default;

Status Muxer::write(const AccessUnit& au) {
  Impl& im = *impl_;
  if (im.base_us == AV_NOPTS_VALUE) im.base_us = au.dts_us;
  PacketPtr p(av_packet_alloc());
  if (!p) throw std::bad_alloc();
  if (av_packet_ref(p.get(), au.packet.get()) < 0) throw std::bad_alloc();
  // MPEG-TS timestamps start a little above 0 so that pts >= dts never underflows.
  std::int64_t offset = im.ts ? 200000 : 0;
  p->dts = av_rescale_q(au.dts_us - im.base_us + offset, kMicros, im.stream->time_base);
  p->pts = av_rescale_q(std::max(au.pts_us, au.dts_us) - im.base_us + offset, kMicros, im.stream->time_base);
  if (im.last_dts != AV_NOPTS_VALUE && p->dts <= im.last_dts) {
    std::int64_t shift = im.last_dts + 1 - p->dts;
    p->dts += shift;
    p->pts += shift;
  }
  im.last_dts = p->dts;
  p->stream_index = 0;
  p->duration = 0;
  p->flags = au.key ? AV_PKT_FLAG_KEY : 0;
  int err = av_write_frame(im.ctx.get(), p.get());
  if (err < 0) return media_error("media_mux", "cannot mux a frame", err);
  return ok_status();
}

void Muxer::resend_headers() {
  if (impl_->ts) av_opt_set(impl_->ctx->priv_data, "mpegts_flags", "+resend_headers", 0);
}

std::string Muxer::take() {
  avio_flush(impl_->ctx->pb);
  std::string s;
  s.swap(impl_->out);
  return s;
}

std::string Muxer::finish() {
  if (impl_->header) {
    av_write_trailer(impl_->ctx.get());
    impl_->header = false;
  }
  return take();
}

// ---------------------------------------------------------------- MP4 files

Status write_mp4(const std::string& path, const CodecInfo& codec, const std::vector<AccessUnit>& units) {
  if (!codec) return media_error("media_no_codec", "no codec parameters");
  AVFormatContext* raw = nullptr;
  int err = avformat_alloc_output_context2(&raw, nullptr, "mp4", path.c_str());
  if (err < 0 || !raw) return media_error("media_mux", "cannot create an mp4 muxer", err);
  std::unique_ptr<AVFormatContext, FormatCtxFree> ctx(raw);
  AVStream* st = avformat_new_stream(raw, nullptr);
  avcodec_parameters_copy(st->codecpar, codec.get());
  st->codecpar->codec_tag = codec.is_hevc() ? MKTAG('h', 'v', 'c', '1') : 0;
  st->time_base = {1, 90000};
  if ((err = avio_open(&raw->pb, path.c_str(), AVIO_FLAG_WRITE)) < 0) {
    return media_error("media_io", "cannot create " + path, err);
  }
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "movflags", "+faststart", 0);
  err = avformat_write_header(raw, &opts);
  av_dict_free(&opts);
  Status st_out = ok_status();
  if (err < 0) {
    st_out = media_error("media_mux", "cannot start the mp4 file", err);
  } else {
    std::int64_t base = units.empty() ? 0 : units.front().dts_us;
    std::int64_t last = AV_NOPTS_VALUE;
    PacketPtr p(av_packet_alloc());
    for (const AccessUnit& au : units) {
      av_packet_unref(p.get());
      if (av_packet_ref(p.get(), au.packet.get()) < 0) throw std::bad_alloc();
      p->dts = av_rescale_q(au.dts_us - base, kMicros, st->time_base);
      p->pts = av_rescale_q(std::max(au.pts_us, au.dts_us) - base, kMicros, st->time_base);
      if (last != AV_NOPTS_VALUE && p->dts <= last) {
        std::int64_t shift = last + 1 - p->dts;
        p->dts += shift;
        p->pts += shift;
      }
      last = p->dts;
      p->stream_index = 0;
      p->flags = au.key ? AV_PKT_FLAG_KEY : 0;
      if ((err = av_write_frame(raw, p.get())) < 0) {
        st_out = media_error("media_mux", "cannot write a frame to the mp4 file", err);
        break;
      }
    }
    if ((err = av_write_trailer(raw)) < 0 && st_out) st_out = media_error("media_mux", "cannot finish the mp4", err);
  }
  avio_closep(&raw->pb);
  return st_out;
}

// ---------------------------------------------------------------- reading recordings

namespace {

struct InputCtx {
  AVFormatContext* ctx = nullptr;
  ~InputCtx() {
    if (ctx) avformat_close_input(&ctx);
  }
};

Result<int> open_ts(InputCtx& in, const std::string& path) {
  const AVInputFormat* fmt = av_find_input_format("mpegts");
  int err = avformat_open_input(&in.ctx, path.c_str(), fmt, nullptr);
  if (err < 0) return media_error("media_io", "cannot open " + path, err);
  in.ctx->flags |= AVFMT_FLAG_DISCARD_CORRUPT;
  err = avformat_find_stream_info(in.ctx, nullptr);
  if (err < 0) return media_error("media_probe", "cannot read " + path, err);
  int idx = av_find_best_stream(in.ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (idx < 0) return media_error("media_probe", "no video in " + path, idx);
  return idx;
}

}  // namespace

Result<std::vector<AccessUnit>> read_ts_file(const std::string& path, std::int64_t wall_start_ms, CodecInfo* codec) {
  InputCtx in;
  auto idx = open_ts(in, path);
  if (!idx) return idx.error();
  AVStream* st = in.ctx->streams[*idx];
  if (codec) *codec = CodecInfo(st->codecpar);
  std::vector<AccessUnit> out;
  PacketPtr p(av_packet_alloc());
  std::int64_t first = AV_NOPTS_VALUE;
  while (av_read_frame(in.ctx, p.get()) >= 0) {
    if (p->stream_index != *idx || p->dts == AV_NOPTS_VALUE || (p->flags & AV_PKT_FLAG_CORRUPT)) {
      av_packet_unref(p.get());
      continue;
    }
    AccessUnit au;
    au.dts_us = av_rescale_q(p->dts, st->time_base, kMicros);
    au.pts_us = p->pts == AV_NOPTS_VALUE ? au.dts_us : av_rescale_q(p->pts, st->time_base, kMicros);
    au.key = (p->flags & AV_PKT_FLAG_KEY) != 0;
    if (first == AV_NOPTS_VALUE) first = au.dts_us;
    au.wall_ms = wall_start_ms + (au.dts_us - first) / 1000;
    au.packet = take_packet(p.get());
    out.push_back(std::move(au));
  }
  return out;
}

Result<TsSpan> probe_ts_file(const std::string& path) {
  InputCtx in;
  auto idx = open_ts(in, path);
  if (!idx) return idx.error();
  AVStream* st = in.ctx->streams[*idx];
  TsSpan span;
  PacketPtr p(av_packet_alloc());
  bool first = true;
  while (av_read_frame(in.ctx, p.get()) >= 0) {
    if (p->stream_index == *idx && p->dts != AV_NOPTS_VALUE && !(p->flags & AV_PKT_FLAG_CORRUPT)) {
      std::int64_t d = av_rescale_q(p->dts, st->time_base, kMicros);
      if (first) span.first_dts_us = d;
      first = false;
      span.last_dts_us = d;
      ++span.units;
    }
    av_packet_unref(p.get());
  }
  if (span.units == 0) return media_error("media_probe", "no complete frame in " + path);
  return span;
}

// ---------------------------------------------------------------- decoding, JPEG

namespace {

Result<CodecCtx> open_decoder(const CodecInfo& codec) {
  const AVCodec* dec = avcodec_find_decoder(codec.get()->codec_id);
  if (!dec) return media_error("media_codec", "no decoder for " + codec.codec_name());
  CodecCtx ctx(avcodec_alloc_context3(dec));
  avcodec_parameters_to_context(ctx.get(), codec.get());
  ctx->thread_count = 1;
  int err = avcodec_open2(ctx.get(), dec, nullptr);
  if (err < 0) return media_error("media_codec", "cannot open the decoder", err);
  return ctx;
}

Status send(AVCodecContext* dec, const AccessUnit& au) {
  PacketPtr p(av_packet_alloc());
  if (av_packet_ref(p.get(), au.packet.get()) < 0) throw std::bad_alloc();
  p->pts = au.pts_us;
  p->dts = au.dts_us;
  p->flags = au.key ? AV_PKT_FLAG_KEY : 0;
  int err = avcodec_send_packet(dec, p.get());
  if (err < 0 && err != AVERROR(EAGAIN)) return media_error("media_decode", "cannot decode", err);
  return ok_status();
}

}  // namespace

Result<std::string> keyframe_to_jpeg(const CodecInfo& codec, const std::vector<AccessUnit>& gop, int max_width) {
  if (!codec || gop.empty()) return media_error("media_no_frame", "no keyframe yet");
  auto dec = open_decoder(codec);
  if (!dec) return dec.error();
  FramePtr frame(av_frame_alloc());
  bool got = false;
  for (size_t i = 0; i < gop.size() && !got; ++i) {
    if (auto st = send(dec->get(), gop[i]); !st) return st.error();
    got = avcodec_receive_frame(dec->get(), frame.get()) == 0;
  }
  if (!got) {
    avcodec_send_packet(dec->get(), nullptr);  // drain: a decoder with delay gives its frame now
    got = avcodec_receive_frame(dec->get(), frame.get()) == 0;
  }
  if (!got) return media_error("media_decode", "the keyframe did not decode");
  int w = frame->width, h = frame->height;
  if (w > max_width) {
    h = static_cast<int>(static_cast<std::int64_t>(h) * max_width / w) & ~1;
    w = max_width;
  }
  const AVCodec* enc = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!enc) return media_error("media_codec", "no JPEG encoder");
  CodecCtx ectx(avcodec_alloc_context3(enc));
  ectx->width = w;
  ectx->height = h;
  ectx->pix_fmt = AV_PIX_FMT_YUVJ420P;
  ectx->time_base = {1, 25};
  ectx->flags |= AV_CODEC_FLAG_QSCALE;
  ectx->global_quality = FF_QP2LAMBDA * 4;
  if (int err = avcodec_open2(ectx.get(), enc, nullptr); err < 0) {
    return media_error("media_codec", "cannot open the JPEG encoder", err);
  }
  FramePtr out(av_frame_alloc());
  out->format = AV_PIX_FMT_YUVJ420P;
  out->width = w;
  out->height = h;
  if (av_frame_get_buffer(out.get(), 0) < 0) throw std::bad_alloc();
  SwsContext* sws = sws_getContext(frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), w, h,
                                   AV_PIX_FMT_YUVJ420P, SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!sws) return media_error("media_codec", "cannot convert the picture");
  sws_scale(sws, frame->data, frame->linesize, 0, frame->height, out->data, out->linesize);
  sws_freeContext(sws);
  out->pts = 0;
  out->quality = ectx->global_quality;
  if (int err = avcodec_send_frame(ectx.get(), out.get()); err < 0) {
    return media_error("media_codec", "cannot encode the JPEG", err);
  }
  PacketPtr p(av_packet_alloc());
  if (int err = avcodec_receive_packet(ectx.get(), p.get()); err < 0) {
    return media_error("media_codec", "cannot encode the JPEG", err);
  }
  return std::string(reinterpret_cast<const char*>(p->data), static_cast<size_t>(p->size));
}

Result<DecodedFrame> decode_bgr(const CodecInfo& codec, const std::vector<AccessUnit>& gop, size_t upto,
                                int max_width) {
  if (!codec || gop.empty()) return media_error("media_no_frame", "no keyframe yet");
  if (upto >= gop.size()) upto = gop.size() - 1;
  auto dec = open_decoder(codec);
  if (!dec) return dec.error();
  FramePtr frame(av_frame_alloc());
  size_t got = 0;  // pictures received
  bool have = false;
  for (size_t i = 0; i <= upto; ++i) {
    if (auto st = send(dec->get(), gop[i]); !st) return st.error();
    while (avcodec_receive_frame(dec->get(), frame.get()) == 0) {
      ++got;
      have = got == upto + 1;
      if (have) break;
    }
    if (have) break;
  }
  if (!have) {
    avcodec_send_packet(dec->get(), nullptr);  // drain: a decoder with delay gives its frames now
    while (!have && avcodec_receive_frame(dec->get(), frame.get()) == 0) have = ++got == upto + 1;
  }
  if (!have) return media_error("media_decode", "the picture did not decode");
  int w = frame->width, h = frame->height;
  if (w > max_width) {
    h = static_cast<int>(static_cast<std::int64_t>(h) * max_width / w) & ~1;
    w = max_width;
  }
  DecodedFrame out;
  out.width = w;
  out.height = h;
  out.bgr.resize(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  SwsContext* sws = sws_getContext(frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), w, h,
                                   AV_PIX_FMT_BGR24, SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!sws) return media_error("media_codec", "cannot convert the picture");
  std::uint8_t* dst[4] = {out.bgr.data(), nullptr, nullptr, nullptr};
  int dst_stride[4] = {w * 3, 0, 0, 0};
  sws_scale(sws, frame->data, frame->linesize, 0, frame->height, dst, dst_stride);
  sws_freeContext(sws);
  return out;
}

// ---------------------------------------------------------------- Transcoder

struct Transcoder::Impl {
  CodecCtx dec;
  CodecCtx enc;
  CodecInfo out_codec;
  Sink sink;
  int gop = 25;
  std::int64_t frames = 0;
  std::unique_ptr<SwsContext, void (*)(SwsContext*)> sws{nullptr, sws_freeContext};
  FramePtr frame{av_frame_alloc()};
  FramePtr scaled;
  std::int64_t wall_base = 0, dts_base = AV_NOPTS_VALUE;

  Status open_encoder(const AVFrame* f) {
    const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (!codec) return media_error("media_codec", "no H.264 encoder");
    enc.reset(avcodec_alloc_context3(codec));
    enc->width = f->width & ~1;
    enc->height = f->height & ~1;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = kMicros;
    enc->gop_size = gop;
    enc->max_b_frames = 0;
    enc->thread_count = 1;
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* o = nullptr;
    av_dict_set(&o, "preset", "ultrafast", 0);
    av_dict_set(&o, "tune", "zerolatency", 0);
    av_dict_set(&o, "profile", "baseline", 0);
    int err = avcodec_open2(enc.get(), codec, &o);
    av_dict_free(&o);
    if (err < 0) return media_error("media_codec", "cannot open the H.264 encoder", err);
    AVCodecParameters* par = avcodec_parameters_alloc();
    avcodec_parameters_from_context(par, enc.get());
    out_codec = CodecInfo(par);
    avcodec_parameters_free(&par);
    if (f->format != AV_PIX_FMT_YUV420P || f->width != enc->width || f->height != enc->height) {
      sws.reset(sws_getContext(f->width, f->height, static_cast<AVPixelFormat>(f->format), enc->width, enc->height,
                               AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr, nullptr));
      scaled.reset(av_frame_alloc());
      scaled->format = AV_PIX_FMT_YUV420P;
      scaled->width = enc->width;
      scaled->height = enc->height;
      if (av_frame_get_buffer(scaled.get(), 0) < 0) throw std::bad_alloc();
    }
    return ok_status();
  }

  Status encode(AVFrame* f, std::int64_t wall_ms) {
    if (!enc) {
      if (auto st = open_encoder(f); !st) return st;
    }
    AVFrame* in = f;
    if (sws) {
      sws_scale(sws.get(), f->data, f->linesize, 0, f->height, scaled->data, scaled->linesize);
      scaled->pts = f->pts;
      in = scaled.get();
    }
    in->pict_type = frames++ % gop == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    int err = avcodec_send_frame(enc.get(), in);
    if (err < 0) return media_error("media_codec", "cannot encode", err);
    PacketPtr p(av_packet_alloc());
    while (avcodec_receive_packet(enc.get(), p.get()) == 0) {
      AccessUnit au;
      au.dts_us = p->dts;
      au.pts_us = p->pts;
      au.key = (p->flags & AV_PKT_FLAG_KEY) != 0;
      au.wall_ms = wall_ms;
      au.packet = take_packet(p.get());
      sink(out_codec, au);
    }
    return ok_status();
  }
};

Result<std::unique_ptr<Transcoder>> Transcoder::open(const CodecInfo& in, int gop, Sink sink) {
  auto dec = open_decoder(in);
  if (!dec) return dec.error();
  std::unique_ptr<Transcoder> t(new Transcoder());
  t->impl_ = std::make_unique<Impl>();
  t->impl_->dec = std::move(*dec);
  t->impl_->gop = gop;
  t->impl_->sink = std::move(sink);
  return t;
}

Transcoder::~Transcoder() = default;

Status Transcoder::push(const AccessUnit& au) {
  Impl& im = *impl_;
  if (auto st = send(im.dec.get(), au); !st) return st;
  while (avcodec_receive_frame(im.dec.get(), im.frame.get()) == 0) {
    im.frame->pts = im.frame->best_effort_timestamp;
    std::int64_t wall = au.wall_ms;
    auto st = im.encode(im.frame.get(), wall);
    av_frame_unref(im.frame.get());
    if (!st) return st;
  }
  return ok_status();
}

// ---------------------------------------------------------------- logging

namespace {
void av_log_to_ours(void*, int level, const char* fmt, va_list args) {
  if (level > AV_LOG_WARNING) return;
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, args);
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.empty()) return;
  log::debug("ffmpeg", {{"message", s}});
}
}  // namespace

void init_media_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_callback(av_log_to_ours);
    avformat_network_init();
  });
}

}  // namespace mingchu::video
