#include "vision/vision_service.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/log.hpp"
#include "ingest/ingest_service.hpp"
#include "storage/database.hpp"
#include "video/video_service.hpp"

namespace mingchu::vision {

namespace {

constexpr const char* kAiCameras =
    "SELECT c.id, c.unit_id, a.config FROM cameras c LEFT JOIN camera_ai a ON a.camera_id = c.id "
    "WHERE c.ai_enabled = 1 AND c.deleted_at IS NULL AND COALESCE(c.stream_url, '') <> '' ORDER BY c.id";

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class VideoFeed final : public FrameFeed {
 public:
  VideoFeed(storage::Database& db, video::VideoService& video, int max_width)
      : db_(db), video_(video), max_width_(max_width) {}

  std::vector<CameraTarget> cameras() override {
    std::vector<CameraTarget> out;
    storage::Conn c = db_.acquire();
    for (const auto& r : c->query(kAiCameras)) {
      CameraTarget t;
      t.id = r.text(0);
      t.unit_id = r.text(1);
      t.ai = default_camera_ai();
      if (auto cfg = r.opt_text(2)) {
        auto o = parse_object(*cfg);
        auto parsed = o ? parse_camera_ai(*o, [](const std::string&) { return true; }) : Result<CameraAi>(o.error());
        if (parsed) {
          t.ai = std::move(*parsed);
        } else {
          log::warn("camera AI settings unreadable; using the defaults", {{"camera", t.id}});
        }
      }
      out.push_back(std::move(t));
    }
    std::map<std::string, std::optional<Roster>> rosters;
    for (auto& t : out) {
      auto it = rosters.find(t.unit_id);
      if (it == rosters.end()) {
        std::optional<Roster> r;
        auto rows = c->query("SELECT shifts FROM unit_rosters WHERE unit_id = $1", {t.unit_id});
        if (!rows.empty()) {
          auto v = parse_value(rows[0].text(0));
          auto parsed = v ? parse_roster(*v) : Result<Roster>(v.error());
          if (parsed) r = std::move(*parsed);
        }
        it = rosters.emplace(t.unit_id, std::move(r)).first;
      }
      t.roster = it->second;
    }
    return out;
  }

  Result<std::optional<Frame>> next_frame(const std::string& camera_id, TimeMs last_wall, double rate) override {
    video::CodecInfo codec;
    auto gop = video_.latest_gop(camera_id, &codec);
    if (!gop) return gop.error();
    return pick_frame(codec, *gop, last_wall, rate, max_width_);
  }

 private:
  storage::Database& db_;
  video::VideoService& video_;
  int max_width_;
};

class IngestSink final : public AlertSink {
 public:
  IngestSink(ingest::IngestService& ingest, std::string node) : ingest_(ingest), node_(std::move(node)) {}
  void send(const std::string& unit_id, ingest::AlertEvent ev, std::function<void(bool, std::string)> done) override {
    ingest_.submit(ingest::IngestSource::for_unit(unit_id, "vision:" + node_, "vision"), std::move(ev),
                   [done = std::move(done)](ingest::IngestResult r) { done(r.ok(), r.alert_id); });
  }

 private:
  ingest::IngestService& ingest_;
  std::string node_;
};

}  // namespace

Result<std::optional<Frame>> pick_frame(const video::CodecInfo& codec, const std::vector<video::AccessUnit>& gop,
                                       TimeMs last_wall, double rate, int max_width) {
  if (gop.empty()) return std::optional<Frame>{};
  size_t idx = 0;
  if (gop[0].wall_ms <= last_wall) {
    // the keyframe was analysed: a later frame of its GOP when the rate asks for one
    const TimeMs target = last_wall + static_cast<TimeMs>(1000.0 / rate);
    idx = gop.size();
    for (size_t i = 1; i < gop.size(); ++i) {
      if (gop[i].wall_ms >= target) {
        idx = i;
        break;
      }
    }
    if (idx == gop.size()) return std::optional<Frame>{};
  }
  auto pic = video::decode_bgr(codec, gop, idx, max_width);
  if (!pic) return pic.error();
  Frame f;
  f.bgr = cv::Mat(pic->height, pic->width, CV_8UC3, pic->bgr.data()).clone();
  f.wall_ms = gop[idx].wall_ms;
  f.key = idx == 0;
  return std::optional<Frame>(std::move(f));
}

std::unique_ptr<FrameFeed> make_video_feed(storage::Database& db, video::VideoService& video, int max_width) {
  return std::make_unique<VideoFeed>(db, video, max_width);
}
std::unique_ptr<AlertSink> make_ingest_sink(ingest::IngestService& ingest, std::string node) {
  return std::make_unique<IngestSink>(ingest, std::move(node));
}

// ---------------------------------------------------------------- Analyser

CameraAi custom_model_rules(const CameraAi& cam, const std::vector<std::pair<std::string, std::string>>& raises) {
  CameraAi out;
  out.models = cam.models;
  out.rate = cam.rate;
  out.types.clear();
  for (const auto& [label, type] : raises) {
    if (type.empty()) continue;
    auto it = out.types.find(type);
    if (it == out.types.end()) {
      auto own = cam.types.find(type);
      TypeRule t;
      if (own != cam.types.end()) {
        t = own->second;
      } else {
        t.min_score = 0;  // each label's min_score (the class map's) decides
      }
      t.labels.clear();
      t.held_by_person = false;
      t.against_roster = false;
      it = out.types.emplace(type, std::move(t)).first;
    }
    it->second.labels.push_back(label);
  }
  return out;
}

Analyser::Analyser(Detector& det, const VisionConfig& cfg)
    : detectors_([&det](const std::string&) { return &det; }), cfg_(cfg) {}

Analyser::Analyser(DetectorFor detectors, const VisionConfig& cfg) : detectors_(std::move(detectors)), cfg_(cfg) {}

Analyser::Outcome Analyser::analyse(const CameraTarget& cam, const Frame& f) {
  Outcome out;
  CamState& st = cams_[cam.id];
  bool run = true;
  if (cam.ai.motion) {
    st.motion.set_threshold(cam.ai.motion_threshold);
    st.motion.set_masks(cam.ai.motion_masks);
    const bool moved = !st.motion.update(f.bgr).empty();
    run = moved || st.since_detect + 1 >= cfg_.force_every;
  }
  if (run) {
    st.since_detect = 0;
  } else {
    // nothing moved: the scene is what the detectors last saw
    out.motion_skipped = true;
    ++st.since_detect;
  }
  const TimeMs minute = f.wall_ms / 60000 + cfg_.utc_offset_minutes;
  const int local_minute = static_cast<int>(((minute % 1440) + 1440) % 1440);
  // ISO weekday of the local day (1970-01-01 was a Thursday)
  const TimeMs day = (minute >= 0 ? minute : minute - 1439) / 1440;
  const int weekday = static_cast<int>(((day + 3) % 7 + 7) % 7) + 1;
  std::vector<unsigned char> jpeg;
  for (const auto& model_id : cam.ai.models) {
    Detector* det = detectors_(model_id);
    if (!det) {
      out.missing_models.push_back(model_id);
      continue;
    }
    ModelState& ms = st.models[model_id];
    const auto raises = det->raises();
    const bool custom = !raises.empty();
    CameraAi rules = custom ? custom_model_rules(cam.ai, raises) : cam.ai;
    if (!custom && cam.roster && !cam.roster->shifts.empty())
      rules.people_allowed = cam.roster->on_shift(weekday, local_minute);
    if (run) {
      float floor = custom ? 0.0f : 0.3f;
      for (const auto& [code, t] : rules.types)
        if (t.enabled) floor = std::min(floor, t.min_score);
      const auto t0 = std::chrono::steady_clock::now();
      if (cfg_.fault_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.fault_delay_ms));
      Result<std::vector<Detection>> dets = Error::internal("not run");
      try {
        dets = det->detect(f.bgr, floor);
      } catch (const std::exception& e) {
        dets = Error{ErrorKind::kInternal, "detector_failed", e.what(), {}};
      }
      out.detect_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      out.detected = true;
      if (!dets) {
        out.error = dets.error();
        continue;
      }
      ms.last = std::move(*dets);
    }
    auto firings = apply_rules(rules, ms.last, f.bgr.size(), f.wall_ms, local_minute, ms.rules);
    if (firings.empty()) continue;
    if (jpeg.empty()) cv::imencode(".jpg", f.bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, 85});
    for (auto& fi : firings) {
      ingest::AlertEvent ev;
      // the shipped model's ids as before; a custom model's carry its id (two models may raise
      // the same type on the same frame)
      ev.event_id = "vision:" + cam.id + ":" + (custom ? model_id + ":" : std::string()) + fi.type + ":" +
                    std::to_string(f.wall_ms);
      ev.camera_id = cam.id;
      ev.unit_id = cam.unit_id;
      ev.type = fi.type;
      ev.occurred_at = f.wall_ms;
      ev.confidence = std::round(static_cast<double>(fi.score) * 1000) / 1000;
      ev.snapshot = ingest::InlineSnapshot{std::string(jpeg.begin(), jpeg.end()), "image/jpeg"};
      for (const auto& d : fi.boxes) {
        if (ev.boxes.size() >= ingest::kMaxBoxes) break;
        ingest::Box b;
        b.x = std::round(d.box.x);
        b.y = std::round(d.box.y);
        b.w = std::round(d.box.width);
        b.h = std::round(d.box.height);
        b.label = d.label;
        b.score = std::round(static_cast<double>(d.score) * 1000) / 1000;
        ev.boxes.push_back(std::move(b));
      }
      ev.model = det->name() + "@" + det->version();
      out.events.push_back(std::move(ev));
    }
  }
  out.over_budget = out.detect_seconds * 1000 > cfg_.budget_ms;
  return out;
}

// ---------------------------------------------------------------- VisionService

VisionService::VisionService(const Clock& clock, Metrics& metrics, VisionConfig cfg, std::unique_ptr<FrameFeed> feed,
                             std::unique_ptr<AlertSink> sink, ModelLoader custom)
    : clock_(clock),
      metrics_(metrics),
      cfg_(std::move(cfg)),
      feed_(std::move(feed)),
      sink_(std::move(sink)),
      custom_(std::move(custom)),
      frames_(metrics.counter("mingchu_vision_frames_total", "", "frames decoded for analysis")),
      detected_(metrics.counter("mingchu_vision_detections_total", "", "frames the detector ran on")),
      motion_skipped_(metrics.counter("mingchu_vision_motion_skipped_total", "", "frames without motion: no detector")),
      over_budget_(metrics.counter("mingchu_vision_over_budget_total", "", "detections slower than vision.budget_ms")),
      detector_errors_(metrics.counter("mingchu_vision_detector_errors_total", "", "detector failures")),
      feed_errors_(metrics.counter("mingchu_vision_feed_errors_total", "", "frames that could not be had")),
      alerts_sent_(metrics.counter("mingchu_vision_alerts_total", "result=\"sent\"", "alert events raised")),
      alerts_stored_(metrics.counter("mingchu_vision_alerts_total", "result=\"stored\"", "alert events raised")),
      detect_hist_(metrics.histogram("mingchu_vision_detect_seconds", "", "detector time per frame")),
      latency_hist_(metrics.histogram("mingchu_vision_alert_latency_seconds", "", "frame capture to stored alert")) {}

VisionService::~VisionService() { stop(); }

void VisionService::start() {
  if (!threads_.empty()) return;
  stop_ = false;
  auto probe = load_coco_ssd(cfg_.model_dir.empty() ? default_model_dir() : cfg_.model_dir);
  if (!probe) {
    model_error_ = probe.error().message;
    log::error("vision: no detector; the algorithm server does not analyse", {{"error", model_error_}});
    return;
  }
  model_name_ = (*probe)->name();
  model_version_ = (*probe)->version();
  if (cfg_.dnn_threads > 0) cv::setNumThreads(cfg_.dnn_threads);
  const int n = std::clamp(cfg_.workers, 1, 64);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { worker(i); });
  log::info("vision started", {{"model", model_name_ + "@" + model_version_}, {"workers", std::to_string(n)}});
}

void VisionService::stop() {
  {
    std::lock_guard lk(wake_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

VisionService::CamStats& VisionService::cam_stats(const std::string& id) {
  std::lock_guard lk(stats_mu_);
  auto& p = cam_stats_[id];
  if (!p) p = std::make_unique<CamStats>();
  return *p;
}

void VisionService::worker(int index) {
  auto det = load_coco_ssd(cfg_.model_dir.empty() ? default_model_dir() : cfg_.model_dir);
  if (!det) {
    log::error("vision worker: no detector", {{"error", det.error().message}});
    return;
  }
  Detector& shipped = **det;
  // custom models: loaded on first use, again when a model changed; a failure is retried after 10 s
  std::map<std::string, std::unique_ptr<Detector>> custom;
  std::map<std::string, std::int64_t> retry_at;
  int gen = models_gen_.load();
  auto detector_for = [&](const std::string& id) -> Detector* {
    if (id == shipped.id()) return &shipped;
    if (!custom_) return nullptr;
    if (gen != models_gen_.load()) {
      gen = models_gen_.load();
      custom.clear();
      retry_at.clear();
    }
    if (auto it = custom.find(id); it != custom.end()) return it->second.get();
    const std::int64_t now = steady_ms();
    if (auto r = retry_at.find(id); r != retry_at.end() && now < r->second) return nullptr;
    Result<std::unique_ptr<Detector>> loaded = Error::internal("");
    try {
      loaded = custom_(id);
    } catch (const std::exception& e) {
      loaded = Error::internal(e.what());
    }
    std::lock_guard lk(models_mu_);
    if (!loaded) {
      retry_at[id] = now + 10000;
      custom_state_[id] = "error: " + loaded.error().message;
      log::warn("vision: a camera's model cannot be loaded", {{"model", id}, {"error", loaded.error().message}});
      return nullptr;
    }
    custom_state_[id] = (*loaded)->name() + "@" + (*loaded)->version();
    return (custom[id] = std::move(*loaded)).get();
  };
  Analyser analyser(detector_for, cfg_);
  const int n = std::clamp(cfg_.workers, 1, 64);
  std::vector<CameraTarget> cams;
  std::map<std::string, TimeMs> last_wall, next_due;
  std::int64_t next_refresh = 0;
  while (!stop_) {
    const std::int64_t now = steady_ms();
    if (now >= next_refresh) {
      try {
        auto all = feed_->cameras();
        cams.clear();
        for (auto& c : all) {
          if (static_cast<int>(std::hash<std::string>{}(c.id) % static_cast<size_t>(n)) == index)
            cams.push_back(std::move(c));
        }
        if (index == 0) cameras_ = static_cast<int>(all.size());
      } catch (const std::exception& e) {
        log::warn("vision: cannot read the cameras", {{"error", e.what()}});
      }
      next_refresh = now + cfg_.refresh_ms;
    }
    for (const auto& cam : cams) {
      if (stop_) break;
      if (steady_ms() < next_due[cam.id]) continue;
      CamStats& cs = cam_stats(cam.id);
      Result<std::optional<Frame>> fr = Error::internal("");
      try {
        fr = feed_->next_frame(cam.id, last_wall[cam.id], cam.ai.rate);
      } catch (const std::exception& e) {
        fr = Error::internal(e.what());
      }
      if (!fr) {
        feed_errors_.inc();
        next_due[cam.id] = steady_ms() + 1000;
        continue;
      }
      if (!*fr) {
        next_due[cam.id] = steady_ms() + 40;  // nothing new yet
        continue;
      }
      const Frame& f = **fr;
      last_wall[cam.id] = f.wall_ms;
      next_due[cam.id] = steady_ms() + static_cast<std::int64_t>(1000.0 / cam.ai.rate);
      frames_.inc();
      cs.frames++;
      cs.last_frame = f.wall_ms;
      auto out = analyser.analyse(cam, f);
      if (out.detected) {
        detected_.inc();
        cs.detected++;
        detect_hist_.observe(out.detect_seconds);
      }
      if (out.motion_skipped) {
        motion_skipped_.inc();
        cs.motion_skipped++;
      }
      if (out.over_budget) {
        over_budget_.inc();
        // the camera waits as long as the detection took: fewer frames, never a queue
        next_due[cam.id] += static_cast<std::int64_t>(out.detect_seconds * 1000);
      }
      if (out.error) {
        detector_errors_.inc();
        cs.errors++;
        log::warn("vision: detector failed", {{"camera", cam.id}, {"error", out.error->message}});
      }
      for (auto& ev : out.events) {
        alerts_sent_.inc();
        cs.alerts++;
        const TimeMs at = ev.occurred_at;
        log::info("vision: alert", {{"camera", cam.id}, {"type", ev.type}, {"event", ev.event_id}});
        sink_->send(cam.unit_id, std::move(ev), [this, at](bool ok, const std::string&) {
          if (!ok) return;
          alerts_stored_.inc();
          latency_hist_.observe(static_cast<double>(std::max<TimeMs>(0, clock_.now_ms() - at)) / 1000.0);
        });
      }
    }
    std::unique_lock lk(wake_mu_);
    wake_.wait_for(lk, std::chrono::milliseconds(20), [this] { return stop_.load(); });
  }
}

json::object VisionService::status() const {
  json::object o;
  o["enabled"] = cfg_.enabled;
  o["running"] = !threads_.empty();
  json::object model{{"name", model_name_}, {"version", model_version_}};
  if (!model_error_.empty()) model["error"] = model_error_;
  o["model"] = std::move(model);
  {
    json::object models;
    std::lock_guard lk(models_mu_);
    for (const auto& [id, state] : custom_state_) models[id] = state;
    o["custom_models"] = std::move(models);
  }
  o["workers"] = static_cast<std::int64_t>(threads_.size());
  o["cameras"] = cameras_.load();
  o["budget_ms"] = cfg_.budget_ms;
  o["frames"] = frames_.value();
  o["detections"] = detected_.value();
  o["motion_skipped"] = motion_skipped_.value();
  o["over_budget"] = over_budget_.value();
  o["detector_errors"] = detector_errors_.value();
  o["feed_errors"] = feed_errors_.value();
  o["alerts_sent"] = alerts_sent_.value();
  o["alerts_stored"] = alerts_stored_.value();
  json::array per;
  std::lock_guard lk(stats_mu_);
  for (const auto& [id, s] : cam_stats_) {
    per.push_back(json::object{{"camera_id", id},
                               {"frames", s->frames.load()},
                               {"detections", s->detected.load()},
                               {"motion_skipped", s->motion_skipped.load()},
                               {"alerts", s->alerts.load()},
                               {"errors", s->errors.load()},
                               {"last_frame_ms", s->last_frame.load()}});
  }
  o["per_camera"] = std::move(per);
  return o;
}

}  // namespace mingchu::vision
