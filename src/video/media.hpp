// The media core's vocabulary: an access unit (one compressed video frame) with its timestamps,
// the codec parameters of a stream, and the few FFmpeg operations the core needs — muxing access
// units into MPEG-TS, FLV or MP4 without re-encoding, reading recorded MPEG-TS back, and turning
// one keyframe into a JPEG. Only this module's .cpp files include FFmpeg headers.
//
// Threads: every function here is safe from any thread; a Muxer belongs to one thread at a time.
// Failures come back as Error (kind "media_*"), never as exceptions.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"

struct AVPacket;
struct AVCodecParameters;

namespace mingchu::video {

// Codec parameters of one video stream (shared read-only by everything that muxes it).
class CodecInfo {
 public:
  CodecInfo() = default;
  // Copies par.
  explicit CodecInfo(const AVCodecParameters* par);
  const AVCodecParameters* get() const { return par_.get(); }
  explicit operator bool() const { return par_ != nullptr; }
  std::string codec_name() const;  // "h264", "hevc", ...
  bool is_hevc() const;
  int codec_id() const;  // FFmpeg's AVCodecID
  int width() const;
  int height() const;

 private:
  std::shared_ptr<AVCodecParameters> par_;
};

// One access unit on the stream's own timeline (microseconds, monotonic per stream) and the
// wall-clock time at which it was captured (epoch ms, for the recordings index).
struct AccessUnit {
  std::shared_ptr<const AVPacket> packet;  // data only; timestamps are the fields below
  std::int64_t dts_us = 0;
  std::int64_t pts_us = 0;
  std::int64_t wall_ms = 0;
  bool key = false;
  size_t size() const;
};

size_t packet_bytes(const AVPacket* p);

// Copies data into a new reference-counted packet.
std::shared_ptr<const AVPacket> make_packet(const std::uint8_t* data, size_t size);
// Takes over pkt's reference (pkt is left empty).
std::shared_ptr<const AVPacket> take_packet(AVPacket* pkt);

// Muxes access units of one video stream into a container in memory. Output accumulates and is
// taken with take(); nothing is re-encoded.
class Muxer {
 public:
  // format: "mpegts", "flv" or "mp4" (mp4 needs a seekable file: use write_mp4 instead).
  static Result<std::unique_ptr<Muxer>> open(const std::string& format, const CodecInfo& codec);
  ~Muxer();
  Muxer(const Muxer&) = delete;
  Muxer& operator=(const Muxer&) = delete;

  // Timestamps are taken relative to base_us (the first unit's dts by default).
  Status write(const AccessUnit& au);
  // MPEG-TS: emit PAT/PMT before the next unit (each HLS segment starts with them).
  void resend_headers();
  // Flushes what the muxer holds and returns the bytes written since the last take().
  std::string take();
  std::string finish();  // writes the trailer, then take()

 private:
  Muxer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes units (starting with a keyframe) as an MP4 file with the index at the front
// (faststart), so that a browser plays it while it downloads.
Status write_mp4(const std::string& path, const CodecInfo& codec, const std::vector<AccessUnit>& units);

// Reads the video access units of an MPEG-TS file (a recording). wall_start_ms is the wall time
// of its first unit: every unit gets wall_ms = wall_start_ms + (its dts - the first dts).
// Stops at a truncated tail instead of failing. codec receives the stream's parameters.
Result<std::vector<AccessUnit>> read_ts_file(const std::string& path, std::int64_t wall_start_ms, CodecInfo* codec);

// Probes a (possibly partial) MPEG-TS recording: the span between its first and last unit.
struct TsSpan {
  std::int64_t first_dts_us = 0;
  std::int64_t last_dts_us = 0;
  std::int64_t units = 0;
};
Result<TsSpan> probe_ts_file(const std::string& path);

// Decodes a keyframe (and, if the decoder needs them, the units after it) and encodes the first
// picture as a JPEG of at most max_width pixels across.
Result<std::string> keyframe_to_jpeg(const CodecInfo& codec, const std::vector<AccessUnit>& gop, int max_width = 1920);

// One decoded picture as packed BGR24 (the vision pipeline's input).
struct DecodedFrame {
  int width = 0, height = 0;
  std::vector<std::uint8_t> bgr;  // width * height * 3
};

// Decodes gop[0..upto] (gop[0] a keyframe; only as far as needed: upto = 0 decodes the keyframe
// alone) and returns picture `upto` as BGR24, scaled down to at most max_width pixels across.
Result<DecodedFrame> decode_bgr(const CodecInfo& codec, const std::vector<AccessUnit>& gop, size_t upto,
                                int max_width = 1280);

// Decodes H.265 (or anything) and re-encodes H.264 for browsers that cannot play the source
// (libx264, ultrafast, zero latency, a keyframe every gop frames). One per live viewer group.
class Transcoder {
 public:
  using Sink = std::function<void(const CodecInfo&, const AccessUnit&)>;
  static Result<std::unique_ptr<Transcoder>> open(const CodecInfo& in, int gop, Sink sink);
  ~Transcoder();
  Status push(const AccessUnit& au);

 private:
  Transcoder() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// FFmpeg's own log goes to our log at warning level and above.
void init_media_logging();

}  // namespace mingchu::video
