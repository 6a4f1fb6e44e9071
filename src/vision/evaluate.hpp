// The evaluator behind `mingchu vision eval`: a detector against a labelled set in YOLO format
// (images/, labels/ with one "class cx cy w h" line per object, normalised, classes.txt with one
// class name a line). Per class: precision, recall, tp, fp, fn at the operating score, and AP at
// IoU 0.5 (all-point interpolated, as PASCAL VOC 2010+) over every detection above a low floor.
//
// Detections of classes the set does not name are ignored; a label file that is missing means
// an image without objects (an empty frame). Malformed label lines fail the whole evaluation,
// naming the file and line.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/result.hpp"
#include "vision/detector.hpp"

namespace mingchu::vision {

struct GroundTruth {
  int cls = 0;     // index into the set's classes
  cv::Rect2f box;  // pixels
};

struct ClassFigures {
  double precision = 0, recall = 0, ap50 = 0;
  int tp = 0, fp = 0, fn = 0;
};

struct EvalOptions {
  float score = 0.5f;      // operating point for precision/recall/tp/fp/fn
  float ap_floor = 0.05f;  // detections kept for the AP curve
  float iou = 0.5f;
  size_t max_images = 10000;
};

// One image's truth and detections (labels already mapped to the set's class indices; -1:
// a class the set does not know).
struct ScoredImage {
  std::vector<GroundTruth> truth;
  std::vector<std::pair<int, Detection>> detections;
};

// "class cx cy w h" lines -> boxes in pixels of a width x height image.
Result<std::vector<GroundTruth>> parse_yolo_labels(const std::string& text, size_t classes, int width, int height);

// The figures per class name, from scored images (pure; the unit tests feed it directly).
std::map<std::string, ClassFigures> score_images(const std::vector<std::string>& classes,
                                                 const std::vector<ScoredImage>& images, const EvalOptions& opt);

struct EvalReport {
  std::string model, version;
  size_t images = 0;
  std::map<std::string, ClassFigures> classes;
  json::object to_json() const;
  std::string to_text() const;
};

Result<EvalReport> evaluate(Detector& det, const std::filesystem::path& dataset, const EvalOptions& opt);

}  // namespace mingchu::vision
