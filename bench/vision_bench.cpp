// The vision pipeline's cost per core (bench/run_vision.sh): analysed camera-frames per second
// on ONE thread (cv::setNumThreads(1)) for
//   forward  the bare OpenCV forward of the shipped model (the floor: nothing is cheaper),
//   every    the pipeline (Analyser: detector + SSD decode + NMS + rules) with motion gating off,
//   gated    the same with motion gating on,
// on a realistic mix: C cameras each showing a still kitchen wall with sensor noise (a few noisy
// variants cycled) and, one frame in ten, an object (cat, person, cup) pasted on it, from the
// shipped evaluation set (tests/fixtures/vision/eval). Frames are decoded beforehand: H.264
// decoding is not in these figures (the media core's benchmark measures it). Rates are per CPU
// second of this process (CLOCK_PROCESS_CPUTIME_ID) and per wall second.
//
//   bench_vision --dataset DIR [--seconds 8] [--cameras 12] [--still 9]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/clock.hpp"
#include "vision/detector.hpp"
#include "vision/vision_service.hpp"

using namespace mingchu;
using namespace mingchu::vision;

namespace {

double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
double wall_now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

cv::Mat noisy(const cv::Mat& img, int seed) {
  cv::Mat n(img.size(), CV_16SC3), out;
  cv::RNG rng(static_cast<std::uint64_t>(seed));
  rng.fill(n, cv::RNG::NORMAL, 0, 3);
  cv::Mat tmp;
  img.convertTo(tmp, CV_16SC3);
  tmp += n;
  tmp.convertTo(out, CV_8UC3);
  return out;
}

struct Rate {
  double frames = 0, cpu = 0, wall = 0, detected = 0;
  double per_cpu() const { return frames / cpu; }
  double per_wall() const { return frames / wall; }
};

}  // namespace

int main(int argc, char** argv) {
  std::string dataset = "tests/fixtures/vision/eval";
  double seconds = 8;
  int cameras = 12, still = 9;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--dataset"))
      dataset = argv[i + 1];
    else if (!std::strcmp(argv[i], "--seconds"))
      seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--cameras"))
      cameras = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--still"))
      still = std::atoi(argv[i + 1]);
  }
  cv::setNumThreads(1);
  auto det = load_coco_ssd(default_model_dir());
  if (!det) {
    std::fprintf(stderr, "bench_vision: %s\n", det.error().message.c_str());
    return 1;
  }
  // frames 000..009: empty walls (background j % 4); 010..029: objects on background j % 4
  std::vector<std::vector<cv::Mat>> seq(static_cast<size_t>(cameras));
  for (int c = 0; c < cameras; ++c) {
    const int bg = c % 4;
    cv::Mat empty = cv::imread(dataset + "/images/" + cv::format("%03d.jpg", bg));
    std::vector<int> with_objects;  // frames on the same wall
    for (int j = 10; j < 30; ++j)
      if (j % 4 == bg) with_objects.push_back(j);
    cv::Mat object = cv::imread(dataset + "/images/" +
                                cv::format("%03d.jpg", with_objects[static_cast<size_t>(c / 4) % with_objects.size()]));
    if (empty.empty() || object.empty()) {
      std::fprintf(stderr, "bench_vision: cannot read the evaluation set in %s\n", dataset.c_str());
      return 1;
    }
    for (int k = 0; k < still; ++k) seq[static_cast<size_t>(c)].push_back(noisy(empty, c * 100 + k));
    seq[static_cast<size_t>(c)].push_back(noisy(object, c * 100 + 99));
  }

  auto run_forward = [&]() {
    Rate r;
    const double c0 = cpu_now(), w0 = wall_now();
    for (size_t i = 0; wall_now() - w0 < seconds; ++i) {
      const auto& s = seq[i % seq.size()];
      if (!(*det)->forward_only(s[i / seq.size() % s.size()])) return r;
      r.frames++;
    }
    r.cpu = cpu_now() - c0;
    r.wall = wall_now() - w0;
    return r;
  };
  auto run_pipeline = [&](bool motion) {
    VisionConfig cfg;
    Analyser an(**det, cfg);
    std::vector<CameraTarget> cams(static_cast<size_t>(cameras));
    for (int c = 0; c < cameras; ++c) {
      cams[static_cast<size_t>(c)].id = "cam" + std::to_string(c);
      cams[static_cast<size_t>(c)].unit_id = "unit";
      cams[static_cast<size_t>(c)].ai = default_camera_ai();
      cams[static_cast<size_t>(c)].ai.motion = motion;
    }
    // warm the motion backgrounds (a running camera has one)
    for (int c = 0; c < cameras; ++c) {
      Frame f;
      f.bgr = seq[static_cast<size_t>(c)][0];
      an.analyse(cams[static_cast<size_t>(c)], f);
    }
    Rate r;
    const double c0 = cpu_now(), w0 = wall_now();
    TimeMs t = 1'700'000'000'000;
    for (size_t i = 0; wall_now() - w0 < seconds; ++i) {
      const size_t c = i % seq.size();
      const auto& s = seq[c];
      Frame f;
      f.bgr = s[i / seq.size() % s.size()];
      f.wall_ms = t += 40;
      auto out = an.analyse(cams[c], f);
      if (out.error) {
        std::fprintf(stderr, "bench_vision: %s\n", out.error->message.c_str());
        return r;
      }
      r.frames++;
      r.detected += out.detected;
    }
    r.cpu = cpu_now() - c0;
    r.wall = wall_now() - w0;
    return r;
  };

  const Rate fwd = run_forward();
  const Rate every = run_pipeline(false);
  const Rate gated = run_pipeline(true);
  std::printf("vision pipeline, 1 thread, %d cameras, %d still frames : 1 with an object, %.0f s each\n", cameras,
              still, seconds);
  std::printf("%-34s %10s %10s %10s\n", "", "frames/cpu-s", "frames/s", "detected");
  std::printf("%-34s %10.1f %10.1f %9.0f%%\n", "bare OpenCV forward (floor)", fwd.per_cpu(), fwd.per_wall(), 100.0);
  std::printf("%-34s %10.1f %10.1f %9.0f%%\n", "pipeline, detector on every frame", every.per_cpu(), every.per_wall(),
              100.0 * every.detected / every.frames);
  std::printf("%-34s %10.1f %10.1f %9.0f%%\n", "pipeline, motion-gated", gated.per_cpu(), gated.per_wall(),
              100.0 * gated.detected / gated.frames);
  std::printf("ratio gated / every frame:           %.2fx\n", gated.per_cpu() / every.per_cpu());
  std::printf("pipeline overhead above bare forward: %.1f%% (every frame, per CPU second)\n",
              100.0 * (fwd.per_cpu() / every.per_cpu() - 1));
  std::printf("cameras at 2 frames/s per core (gated): %.0f\n", gated.per_cpu() / 2);
  return 0;
}
