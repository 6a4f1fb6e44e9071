// Motion gating before detection, as Frigate does it: the frame scaled to a small grey picture
// (100 px high), blurred, compared with a running average of the previous ones (alpha 0.02 at
// 2 frames/s: the background adapts in about half a minute), thresholded, dilated, and the
// contours' boxes are the motion. A still kitchen costs a resize and a few small-image ops per
// frame instead of a network forward.
//
// Masks (normalised polygons) blank areas whose motion never counts (a clock, a TV, a window).
// The first frame is all motion (nothing to compare it with). Belongs to one thread.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "vision/rules.hpp"

namespace mingchu::vision {

struct MotionOptions {
  int height = 100;
  double alpha = 0.02;
  int threshold = 30;
  int min_area = 12;  // pixels of the small picture
};

class MotionDetector {
 public:
  explicit MotionDetector(MotionOptions opt = {}) : opt_(opt) {}
  void set_threshold(int t) { opt_.threshold = t; }
  void set_masks(std::vector<Polygon> masks);
  // The boxes that moved, in frame pixels.
  std::vector<cv::Rect> update(const cv::Mat& bgr);

 private:
  MotionOptions opt_;
  cv::Mat avg_;   // CV_32F running background
  cv::Mat mask_;  // CV_8U, 0 where motion is ignored; sized like the small picture
  std::vector<Polygon> masks_;
};

}  // namespace mingchu::vision
