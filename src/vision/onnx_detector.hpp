// Custom ONNX detectors (docs/vision.md "Custom models"): an uploaded ONNX file run with OpenCV
// DNN under its class map (vision/model_registry.hpp). Two output formats are decoded:
//   - "yolov5": [1, N, 5 + labels] rows (cx, cy, w, h in input pixels, objectness, class scores;
//     score = objectness x class score), the frame letterboxed into the input (aspect kept, grey
//     114 padding, as YOLOv5 trains), boxes mapped back, per-class NMS (IoU 0.45);
//   - "ssd": OpenCV's DetectionOutput layout [1, 1, N, 7] rows (image id, class, score, x1, y1,
//     x2, y2 normalised to the input); the frame is stretched to the input, as SSDs are trained;
//     the class indexes the class map's labels (list a background label when the model has one).
// Input layout NCHW (blobFromImage) or NHWC (the normalised picture as [1, H, W, 3]).
// A detection counts when its score reaches both the caller's min_score and its label's min_score.
//
// Threads: like every Detector, one thread at a time.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/result.hpp"
#include "vision/detector.hpp"
#include "vision/model_registry.hpp"

namespace mingchu::vision {

struct Letterbox {
  float scale = 1, pad_x = 0, pad_y = 0;
};
// The frame scaled into the input keeping its aspect, centred; padding grey 114.
cv::Mat letterbox(const cv::Mat& bgr, cv::Size input, Letterbox& lb);

// Decoders, exposed for tests. out: the network's output; frame: the analysed frame's size.
Result<std::vector<Detection>> decode_yolov5(const cv::Mat& out, const ClassMap& cm, const Letterbox& lb,
                                             cv::Size frame, float min_score, float nms_iou = 0.45f);
Result<std::vector<Detection>> decode_ssd(const cv::Mat& out, const ClassMap& cm, cv::Size frame, float min_score,
                                          float nms_iou = 0.45f);

// The picture (already input-sized) as the network's input: NCHW or NHWC, mean, scale, RGB.
cv::Mat input_blob(const cv::Mat& pic, const ClassMap& cm);

// The output's shape against the class map's format: empty when it fits, else the reason.
std::string output_shape_problem(const cv::Mat& out, const ClassMap& cm);

// Loads the file (its SHA-256 checked against sha256 when given) and makes a detector: the
// registry's id, the class map's name, the version.
Result<std::unique_ptr<Detector>> load_onnx_detector(const std::filesystem::path& file, const ClassMap& cm,
                                                     std::string id, std::string name, std::string version,
                                                     const std::string& sha256 = {});

}  // namespace mingchu::vision

namespace mingchu::vision {
// Loads the registry's model by id (the file's SHA-256 checked): what the server's pipeline runs.
Result<std::unique_ptr<Detector>> load_registered_model(ModelRegistry& registry, const std::string& id);
}  // namespace mingchu::vision
