#include "vision/motion.hpp"

#include <opencv2/imgproc.hpp>

namespace mingchu::vision {

void MotionDetector::set_masks(std::vector<Polygon> masks) {
  if (masks == masks_) return;
  masks_ = std::move(masks);
  mask_.release();
}

std::vector<cv::Rect> MotionDetector::update(const cv::Mat& bgr) {
  if (bgr.empty()) return {};
  const int h = opt_.height;
  const int w = std::max(1, bgr.cols * h / std::max(bgr.rows, 1));
  cv::Mat small, grey;
  cv::resize(bgr, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
  cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  cv::GaussianBlur(grey, grey, cv::Size(3, 3), 0);
  if (mask_.empty() || mask_.size() != grey.size()) {
    mask_ = cv::Mat(grey.size(), CV_8U, cv::Scalar(255));
    for (const auto& poly : masks_) {
      std::vector<cv::Point> pts;
      for (const auto& p : poly) pts.emplace_back(static_cast<int>(p.x * w), static_cast<int>(p.y * h));
      cv::fillPoly(mask_, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(0));
    }
  }
  if (avg_.empty() || avg_.size() != grey.size()) {
    grey.convertTo(avg_, CV_32F);
    return {cv::Rect(0, 0, bgr.cols, bgr.rows)};
  }
  cv::Mat bg, diff, thresh;
  avg_.convertTo(bg, CV_8U);
  cv::absdiff(grey, bg, diff);
  cv::threshold(diff, thresh, opt_.threshold, 255, cv::THRESH_BINARY);
  thresh &= mask_;
  cv::dilate(thresh, thresh, cv::Mat(), cv::Point(-1, -1), 2);
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(thresh, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  std::vector<cv::Rect> out;
  const double sx = static_cast<double>(bgr.cols) / w, sy = static_cast<double>(bgr.rows) / h;
  for (const auto& c : contours) {
    if (cv::contourArea(c) < opt_.min_area) continue;
    cv::Rect r = cv::boundingRect(c);
    out.emplace_back(static_cast<int>(r.x * sx), static_cast<int>(r.y * sy), static_cast<int>(r.width * sx),
                     static_cast<int>(r.height * sy));
  }
  cv::accumulateWeighted(grey, avg_, opt_.alpha);
  return out;
}

}  // namespace mingchu::vision
