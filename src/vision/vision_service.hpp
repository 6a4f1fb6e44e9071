// VisionService: the algorithm server's pipeline (docs/vision.md). For every camera with
// ai_enabled (and a stream), a few times a second (CameraAi::rate, default 2): take the newest
// frame the media core has (keyframes first: a new keyframe is decoded alone; only when the
// rate asks for more than the keyframes give are the frames after one decoded), gate on motion,
// run the detector, apply the camera's rules, and raise each firing as an alert event through
// the ingest path (the same door as AI boxes), with the frame as JPEG, the boxes with labels and
// scores and the model's name and version; the media core pins the evidence clip to the alert.
//
// The pipeline (Analyser) does not know where frames come from or where events go: FrameFeed
// and AlertSink. In the server they are the media core and IngestService; `mingchu vision
// --server URL` gives it HTTP ones (vision/remote.hpp).
//
// Budget: the pipeline runs on its own worker threads, never on the streams' pullers or the HTTP
// threads, so a slow detector costs analysed frames, not live view or recording. A detection that
// takes longer than budget_ms is counted (over_budget) and the camera waits as long before its
// next frame; a detector that fails (an exception inside OpenCV) is counted and the frame dropped.
//
// Threads: start()/stop() from one thread; status() from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "ingest/event.hpp"
#include "vision/detector.hpp"
#include "vision/motion.hpp"
#include "vision/rules.hpp"
#include "video/media.hpp"

namespace mingchu::storage {
class Database;
}
namespace mingchu::video {
class VideoService;
}
namespace mingchu::ingest {
class IngestService;
}

namespace mingchu::vision {

struct CameraTarget {
  std::string id, unit_id;
  CameraAi ai;
  std::optional<Roster> roster;  // the unit's staff roster, when it has one (stranger)
};

struct Frame {
  cv::Mat bgr;
  TimeMs wall_ms = 0;
  bool key = false;
};

class FrameFeed {
 public:
  virtual ~FrameFeed() = default;
  virtual std::vector<CameraTarget> cameras() = 0;
  // The next frame to analyse after last_wall_ms at the given rate (keyframes first); nullopt
  // when there is nothing new yet.
  virtual Result<std::optional<Frame>> next_frame(const std::string& camera_id, TimeMs last_wall_ms, double rate) = 0;
};

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // done(ok, alert_id) once the event is stored (or refused); may be called on another thread.
  virtual void send(const std::string& unit_id, ingest::AlertEvent ev, std::function<void(bool, std::string)> done) = 0;
};

// The frame to analyse from a camera's newest GOP after last_wall_ms at the given rate: a new
// keyframe alone, else the first later frame of the GOP the rate asks for; nullopt when there is
// nothing new. Both feeds (the media core's, the remote one's) take frames this way.
Result<std::optional<Frame>> pick_frame(const video::CodecInfo& codec, const std::vector<video::AccessUnit>& gop,
                                       TimeMs last_wall_ms, double rate, int max_width);

// In the server: frames from the media core, cameras from the database.
std::unique_ptr<FrameFeed> make_video_feed(storage::Database& db, video::VideoService& video, int max_width);
std::unique_ptr<AlertSink> make_ingest_sink(ingest::IngestService& ingest, std::string node);

struct VisionConfig {
  bool enabled = false;
  std::filesystem::path model_dir;  // empty: default_model_dir()
  int workers = 1;
  int dnn_threads = 1;
  int budget_ms = 1000;
  int max_width = 640;
  int force_every = 20;  // run the detector at least every this many frames even without motion
  int utc_offset_minutes = 480;
  int refresh_ms = 3000;   // how often the camera list and settings are read again
  int fault_delay_ms = 0;  // tests: a detector this much slower (fault injection)
};

// The detector for a model id of a camera's `models` (nullptr: not available now).
using DetectorFor = std::function<Detector*(const std::string& model_id)>;
// Loads a custom (uploaded) model by id; in the server from the ModelRegistry.
using ModelLoader = std::function<Result<std::unique_ptr<Detector>>(const std::string& model_id)>;

// The rules a custom model's detections go through on a camera: one type per alert type its
// class map's labels raise, with those labels; the camera's settings for that type (enabled,
// k of n, areas, zones, schedule, cooldown, and min_score on top of each label's own) when it has
// them, else k 2 of 3 and a 300 s cooldown.
CameraAi custom_model_rules(const CameraAi& cam, const std::vector<std::pair<std::string, std::string>>& raises);

// The per-camera pipeline: motion gate, the camera's models, rules -> events. One thread at a time.
class Analyser {
 public:
  // every model id of the cameras is det (benchmarks, tests)
  Analyser(Detector& det, const VisionConfig& cfg);
  Analyser(DetectorFor detectors, const VisionConfig& cfg);
  struct Outcome {
    bool detected = false;  // the detector ran
    bool motion_skipped = false;
    bool over_budget = false;
    double detect_seconds = 0;  // all the camera's models
    std::optional<Error> error;
    std::vector<std::string> missing_models;  // assigned but not available
    std::vector<ingest::AlertEvent> events;
  };
  Outcome analyse(const CameraTarget& cam, const Frame& f);

 private:
  struct ModelState {
    RuleState rules;
    std::vector<Detection> last;
  };
  struct CamState {
    MotionDetector motion;
    std::map<std::string, ModelState> models;
    int since_detect = 1 << 20;
  };
  DetectorFor detectors_;
  const VisionConfig& cfg_;
  std::map<std::string, CamState> cams_;
};

class VisionService {
 public:
  // custom: loads uploaded models by id (none: cameras run only the shipped model)
  VisionService(const Clock& clock, Metrics& metrics, VisionConfig cfg, std::unique_ptr<FrameFeed> feed,
                std::unique_ptr<AlertSink> sink, ModelLoader custom = {});
  ~VisionService();
  VisionService(const VisionService&) = delete;
  VisionService& operator=(const VisionService&) = delete;

  // Loads the model (a missing model is logged and shown in status, the server runs on) and
  // starts the workers.
  void start();
  void stop();
  json::object status() const;
  // A model was deleted or replaced: the workers load their custom models again.
  void models_changed() { models_gen_++; }

 private:
  void worker(int index);
  struct CamStats {
    std::atomic<std::uint64_t> frames{0}, detected{0}, motion_skipped{0}, alerts{0}, errors{0};
    std::atomic<TimeMs> last_frame{0};
  };
  CamStats& cam_stats(const std::string& id);

  const Clock& clock_;
  Metrics& metrics_;
  VisionConfig cfg_;
  std::unique_ptr<FrameFeed> feed_;
  std::unique_ptr<AlertSink> sink_;
  ModelLoader custom_;
  std::atomic<int> models_gen_{0};
  mutable std::mutex models_mu_;
  std::map<std::string, std::string> custom_state_;  // model id -> "name@version" or the error
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::string model_name_, model_version_, model_error_;
  std::atomic<int> cameras_{0};

  mutable std::mutex stats_mu_;
  std::map<std::string, std::unique_ptr<CamStats>> cam_stats_;
  Counter& frames_;
  Counter& detected_;
  Counter& motion_skipped_;
  Counter& over_budget_;
  Counter& detector_errors_;
  Counter& feed_errors_;
  Counter& alerts_sent_;
  Counter& alerts_stored_;
  Histogram& detect_hist_;
  Histogram& latency_hist_;
};

}  // namespace mingchu::vision
