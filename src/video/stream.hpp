// One pulled stream (a camera's main or sub stream) and what is made of it, without re-encoding:
// live HLS segments, HTTP-FLV for each low-latency viewer, the last GOP (for snapshots and a
// fast start), an optional ring of recent seconds (for evidence clips of cameras that do not
// record), and the segments handed to the recorder. H.265 sources get, on demand, a second
// live output transcoded to H.264 for browsers.
//
// Threads: each Stream has one puller thread (start()..stop()) that reads the Source and feeds
// the outputs; every public method may be called from any thread (one mutex per output).
// Waiters (when_ready) are called on the puller thread or on the thread that calls
// expire_waiters(); they must not block.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "video/media.hpp"
#include "video/source.hpp"

namespace mingchu::video {

// A finished live segment: MPEG-TS bytes starting with PAT/PMT and a keyframe.
struct Segment {
  std::uint64_t seq = 0;
  std::int64_t first_dts_us = 0;
  std::int64_t duration_us = 0;
  std::int64_t wall_start_ms = 0;
  std::int64_t wall_end_ms = 0;
  bool discontinuity = false;  // the stream reconnected (or changed codec) before it
  std::shared_ptr<const std::string> data;
};

// Bytes for one HTTP-FLV viewer. Bounded: a viewer that falls too far behind is closed.
class ByteQueue {
 public:
  explicit ByteQueue(size_t limit) : limit_(limit) {}
  // Waits up to `wait` for bytes; nullopt when there are none (closed() tells whether more come).
  std::optional<std::string> next(std::chrono::milliseconds wait);
  bool closed() const;
  void close();
  bool push(std::string bytes);  // false (and closes) when over the limit

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  size_t bytes_ = 0;
  size_t limit_;
  bool closed_ = false;
};

// The live products of one codec variant (the source's, or the H.264 transcode of an H.265
// source).
class LiveOutput {
 public:
  using SegmentHook = std::function<void(const CodecInfo&, const Segment&)>;
  LiveOutput(std::chrono::milliseconds segment_target, size_t keep_segments, std::chrono::seconds ring);

  void push(const CodecInfo& codec, const AccessUnit& au);
  void mark_discontinuity();  // the next unit starts a new timeline (reconnect)
  void set_segment_hook(SegmentHook hook);

  bool has_keyframe() const;
  std::uint64_t segments_made() const;
  // The HLS playlist of the last segments (URIs "<seq>.ts"); nullopt before the first segment.
  std::optional<std::string> playlist() const;
  std::shared_ptr<const std::string> segment(std::uint64_t seq) const;
  // The units from the last keyframe on, and their codec.
  std::vector<AccessUnit> last_gop(CodecInfo* codec) const;
  // Units of the ring in [from_ms, to_ms] by wall time, starting at the keyframe at or before
  // from_ms (when the ring reaches back that far).
  std::vector<AccessUnit> ring_range(std::int64_t from_ms, std::int64_t to_ms, CodecInfo* codec) const;
  std::shared_ptr<ByteQueue> subscribe_flv(size_t limit);
  size_t viewers() const;
  CodecInfo codec() const;

 private:
  void close_segment_locked(std::int64_t next_dts_us, std::int64_t wall_ms);
  void push_locked(const CodecInfo& codec, const AccessUnit& au);

  mutable std::mutex mu_;
  std::chrono::milliseconds target_;
  size_t keep_;
  std::chrono::seconds ring_span_;
  CodecInfo codec_;
  std::unique_ptr<Muxer> muxer_;
  bool in_segment_ = false;
  bool discontinuity_ = false;
  bool next_discontinuity_ = false;
  std::int64_t seg_first_dts_ = 0, seg_wall_start_ = 0;
  std::uint64_t next_seq_ = 1;
  std::deque<Segment> segments_;
  std::vector<AccessUnit> gop_;
  std::deque<AccessUnit> ring_;
  struct FlvViewer {
    std::weak_ptr<ByteQueue> q;
    std::unique_ptr<Muxer> mux;
    const AVCodecParameters* codec = nullptr;
  };
  std::vector<FlvViewer> flv_;
  std::vector<std::pair<CodecInfo, Segment>> closed_;  // closed under mu_, not yet given to the hook
  std::mutex hook_mu_;                                 // held while the hook runs; not with mu_
  SegmentHook hook_;
};

struct StreamOptions {
  std::string camera_id;
  std::string unit_id;
  std::string quality;  // "hd" | "sd"
  RtspOptions rtsp;
  std::chrono::milliseconds segment_target{1000};
  size_t keep_segments = 6;
  std::chrono::seconds ring{0};  // recent seconds kept in memory for clips (0: none)
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{30000};
  int transcode_gop = 25;
};

struct StreamStats {
  std::string state = "connecting";  // connecting | live | failed
  std::string codec;
  int width = 0, height = 0;
  double fps = 0;
  std::int64_t bitrate_kbps = 0;
  std::int64_t last_frame_ms = 0;  // wall clock
  std::string error;
  std::uint64_t bytes_in = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t frames = 0;
  std::int64_t first_frame_after_ms = -1;  // from start() to the first keyframe
};

class Stream {
 public:
  using SourceFactory = std::function<std::unique_ptr<Source>(const RtspOptions&)>;
  using Waiter = std::function<void(Status)>;

  Stream(StreamOptions opt, const Clock& clock, SourceFactory factory = nullptr);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void start();
  void stop();  // interrupts the source and joins the puller

  const StreamOptions& options() const { return opt_; }
  LiveOutput& source_output() { return source_out_; }
  // The output a browser can play: the source's for H.264, the transcode for H.265 (started
  // on first use; nullptr when the source is H.265 and transcoding is not allowed).
  // *created tells whether this call started the transcode.
  std::shared_ptr<LiveOutput> browser_output(bool allow_transcode, bool* created = nullptr);
  bool transcoding() const;
  // Ends the H.264 transcode (its viewers are closed); true when there was one.
  bool stop_transcode();
  size_t viewers() const;  // HTTP-FLV viewers of both outputs
  bool has_waiters() const;
  bool is_hevc() const;

  // Calls w once the output has a keyframe (ok), or the source failed to open / deadline passed.
  void when_ready(std::shared_ptr<LiveOutput> out, Waiter w, std::chrono::steady_clock::time_point deadline);
  std::shared_ptr<LiveOutput> source_ptr() { return {std::shared_ptr<void>(), &source_out_}; }
  void expire_waiters();

  StreamStats stats() const;
  void touch();  // a viewer used it
  std::chrono::steady_clock::time_point last_used() const;
  std::chrono::steady_clock::time_point started_at() const { return started_; }

 private:
  void run();
  void feed(const SourceUnit& u);
  void fail_waiters(const Error& e);
  void check_waiters();

  StreamOptions opt_;
  const Clock& clock_;
  SourceFactory factory_;
  LiveOutput source_out_;
  // shared: the puller and the handlers that serve it keep it while they use it
  std::shared_ptr<LiveOutput> transcoded_out_;
  std::unique_ptr<Transcoder> transcoder_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex source_mu_;
  Source* source_ = nullptr;  // the open source, for interrupt()
  std::mutex wake_mu_;
  std::condition_variable wake_;

  mutable std::mutex mu_;  // stats_, waiters_, codec_, transcoded_out_ creation
  StreamStats stats_;
  CodecInfo codec_;
  struct Pending {
    std::shared_ptr<LiveOutput> out;
    Waiter w;
    std::chrono::steady_clock::time_point deadline;
  };
  std::vector<Pending> waiters_;
  std::atomic<std::int64_t> last_used_ns_{0};
  std::chrono::steady_clock::time_point started_;

  // the puller's timeline
  bool have_base_ = false;
  std::int64_t src_first_dts_ = 0, out_base_us_ = 0, wall_base_ms_ = 0, last_out_dts_ = -1;
  std::chrono::steady_clock::time_point conn_start_;
  std::uint64_t window_bytes_ = 0, window_frames_ = 0;
  std::chrono::steady_clock::time_point window_start_;
};

}  // namespace mingchu::video
