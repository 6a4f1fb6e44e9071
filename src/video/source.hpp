// Where access units come from. The media core is built around Source — "a source of H.264/H.265
// access units with timestamps" — so that RTSP pulling (here) and GB/T 28181 PS-over-RTP feed the
// same streams, recordings, snapshots and clips.
//
// Threads: a Source is used by one thread (its stream's puller), except interrupt(), which any
// thread may call to make a blocking open() or read() return soon with an error.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "video/media.hpp"

namespace mingchu::video {

// One compressed video frame as it came from the source, with the source's timestamps in
// microseconds (dts may be missing: then equal to pts).
struct SourceUnit {
  std::shared_ptr<const AVPacket> packet;
  std::int64_t dts_us = 0;
  std::int64_t pts_us = 0;
  bool has_ts = false;
  bool key = false;
};

class Source {
 public:
  virtual ~Source() = default;
  // Connects and learns the stream's codec (kUnavailable error when it cannot).
  virtual Result<CodecInfo> open() = 0;
  // The next video access unit; an error when the stream ended or broke.
  virtual Result<SourceUnit> read() = 0;
  virtual void interrupt() = 0;
};

struct RtspOptions {
  std::string url;
  std::string transport = "tcp";  // tcp | udp
  std::chrono::milliseconds io_timeout{5000};
  std::chrono::milliseconds probe{700};  // how long open() may analyse the stream
};

// Pulls RTSP with libavformat, in-process; only rtsp:// and rtsps:// URLs (checked again here,
// so nothing else can make FFmpeg open a file or another protocol).
std::unique_ptr<Source> make_rtsp_source(RtspOptions opt);
// The same over HTTP-FLV (the server's live FLV, for `mingchu vision --server`): only http:// and
// https:// URLs; url is the FLV's address (transport unused).
std::unique_ptr<Source> make_http_flv_source(RtspOptions opt);

// "rtsp://user:pass@host/x" -> "rtsp://***@host/x" (for logs and errors).
std::string redact_url(const std::string& url);

}  // namespace mingchu::video
