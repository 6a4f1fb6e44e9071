#include "vision/onnx_detector.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "crypto/sm3.hpp"

namespace mingchu::vision {

namespace fs = std::filesystem;

cv::Mat letterbox(const cv::Mat& bgr, cv::Size input, Letterbox& lb) {
  lb.scale = std::min(static_cast<float>(input.width) / static_cast<float>(bgr.cols),
                      static_cast<float>(input.height) / static_cast<float>(bgr.rows));
  const int w = std::max(1, static_cast<int>(std::lround(static_cast<float>(bgr.cols) * lb.scale)));
  const int h = std::max(1, static_cast<int>(std::lround(static_cast<float>(bgr.rows) * lb.scale)));
  lb.pad_x = static_cast<float>(input.width - w) / 2;
  lb.pad_y = static_cast<float>(input.height - h) / 2;
  cv::Mat out(input, CV_8UC3, cv::Scalar(114, 114, 114));
  cv::Mat scaled;
  cv::resize(bgr, scaled, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  scaled.copyTo(out(cv::Rect(static_cast<int>(lb.pad_x), static_cast<int>(lb.pad_y), w, h)));
  lb.pad_x = std::floor(lb.pad_x);
  lb.pad_y = std::floor(lb.pad_y);
  return out;
}

cv::Mat input_blob(const cv::Mat& pic, const ClassMap& cm) {
  const cv::Scalar mean(cm.mean[0], cm.mean[1], cm.mean[2]);
  if (cm.layout != "NHWC") return cv::dnn::blobFromImage(pic, cm.scale, pic.size(), mean, cm.rgb, false, CV_32F);
  cv::Mat rgb;
  if (cm.rgb)
    cv::cvtColor(pic, rgb, cv::COLOR_BGR2RGB);
  else
    rgb = pic;
  cv::Mat f;
  rgb.convertTo(f, CV_32FC3);
  f -= mean;
  f *= cm.scale;
  const int sz[] = {1, pic.rows, pic.cols, 3};
  return f.reshape(1, 4, sz).clone();
}

std::string output_shape_problem(const cv::Mat& out, const ClassMap& cm) {
  std::string got = "[";
  for (int i = 0; i < out.dims; ++i) got += (i ? ", " : "") + std::to_string(out.size[i]);
  got += "]";
  const int labels = static_cast<int>(cm.labels.size());
  if (cm.format == "ssd") {
    if (out.dims == 4 && out.size[0] == 1 && out.size[1] == 1 && out.size[3] == 7) return {};
    return "the output is " + got + "; an ssd model gives [1, 1, N, 7] (image, class, score, x1, y1, x2, y2)";
  }
  if (out.dims == 3 && out.size[0] == 1 && out.size[2] == 5 + labels) return {};
  return "the output is " + got + "; a yolov5 model with " + std::to_string(labels) + " labels gives [1, N, " +
         std::to_string(5 + labels) + "]";
}

namespace {

// the frame's pixels, clipped; nothing when the box is empty after clipping
bool finish_box(cv::Rect2f& r, cv::Size frame) {
  r &= cv::Rect2f(0, 0, static_cast<float>(frame.width), static_cast<float>(frame.height));
  return r.width > 0 && r.height > 0;
}

}  // namespace

Result<std::vector<Detection>> decode_yolov5(const cv::Mat& out, const ClassMap& cm, const Letterbox& lb,
                                             cv::Size frame, float min_score, float nms_iou) {
  if (auto p = output_shape_problem(out, cm); !p.empty() || cm.format != "yolov5")
    return Error::internal("yolov5 decoder: " + (p.empty() ? std::string("not a yolov5 class map") : p));
  const int rows = out.size[1], width = out.size[2], classes = width - 5;
  const float* p = out.ptr<float>();
  float floor = 1.0f;
  for (const auto& l : cm.labels) floor = std::min(floor, static_cast<float>(l.min_score));
  floor = std::max(floor, min_score);
  std::vector<Detection> cand;
  for (int r = 0; r < rows; ++r) {
    const float* row = p + static_cast<size_t>(r) * static_cast<size_t>(width);
    const float obj = row[4];
    if (!(obj >= floor)) continue;  // score = obj x class <= obj (NaN skipped too)
    for (int c = 0; c < classes; ++c) {
      const float score = obj * row[5 + c];
      const auto& label = cm.labels[static_cast<size_t>(c)];
      if (!(score >= min_score) || score < static_cast<float>(label.min_score)) continue;
      Detection d;
      d.class_id = c;
      d.label = label.name;
      d.score = score;
      const float x = (row[0] - row[2] / 2 - lb.pad_x) / lb.scale, y = (row[1] - row[3] / 2 - lb.pad_y) / lb.scale;
      d.box = {x, y, row[2] / lb.scale, row[3] / lb.scale};
      if (!std::isfinite(d.box.x) || !std::isfinite(d.box.y) || !std::isfinite(d.box.width) ||
          !std::isfinite(d.box.height) || !finish_box(d.box, frame))
        continue;
      cand.push_back(std::move(d));
    }
  }
  return nms_per_class(std::move(cand), nms_iou, 100);
}

Result<std::vector<Detection>> decode_ssd(const cv::Mat& out, const ClassMap& cm, cv::Size frame, float min_score,
                                          float nms_iou) {
  if (auto p = output_shape_problem(out, cm); !p.empty() || cm.format != "ssd")
    return Error::internal("ssd decoder: " + (p.empty() ? std::string("not an ssd class map") : p));
  const int rows = out.size[2];
  const float* p = out.ptr<float>();
  std::vector<Detection> cand;
  const auto fw = static_cast<float>(frame.width), fh = static_cast<float>(frame.height);
  for (int r = 0; r < rows; ++r) {
    const float* row = p + static_cast<size_t>(r) * 7;
    const float cls = row[1], score = row[2];
    if (!(score >= min_score) || !(cls >= 0) || cls >= static_cast<float>(cm.labels.size())) continue;
    const auto c = static_cast<size_t>(cls);
    if (score < static_cast<float>(cm.labels[c].min_score)) continue;
    Detection d;
    d.class_id = static_cast<int>(c);
    d.label = cm.labels[c].name;
    d.score = score;
    d.box = {row[3] * fw, row[4] * fh, (row[5] - row[3]) * fw, (row[6] - row[4]) * fh};
    if (!std::isfinite(d.box.x) || !std::isfinite(d.box.y) || !std::isfinite(d.box.width) ||
        !std::isfinite(d.box.height) || !finish_box(d.box, frame))
      continue;
    cand.push_back(std::move(d));
  }
  return nms_per_class(std::move(cand), nms_iou, 100);
}

namespace {

class OnnxDetector final : public Detector {
 public:
  OnnxDetector(cv::dnn::Net net, ClassMap cm, std::string id, std::string name, std::string version)
      : net_(std::move(net)),
        cm_(std::move(cm)),
        id_(std::move(id)),
        name_(std::move(name)),
        version_(std::move(version)) {}

  Result<std::vector<Detection>> detect(const cv::Mat& bgr, float min_score) override {
    Letterbox lb;
    cv::Mat out;
    if (auto st = run(bgr, lb, out); !st) return st.error();
    if (cm_.format == "ssd") return decode_ssd(out, cm_, bgr.size(), min_score);
    return decode_yolov5(out, cm_, lb, bgr.size(), min_score);
  }

  Status forward_only(const cv::Mat& bgr) override {
    Letterbox lb;
    cv::Mat out;
    return run(bgr, lb, out);
  }

  const std::string& name() const override { return name_; }
  const std::string& version() const override { return version_; }
  std::vector<std::string> labels() const override {
    std::vector<std::string> v;
    for (const auto& l : cm_.labels) v.push_back(l.name);
    return v;
  }
  std::vector<std::pair<std::string, std::string>> raises() const override {
    std::vector<std::pair<std::string, std::string>> v;
    for (const auto& l : cm_.labels) v.emplace_back(l.name, l.alert_type);
    return v;
  }
  std::string id() const override { return id_; }

 private:
  Status run(const cv::Mat& bgr, Letterbox& lb, cv::Mat& out) {
    if (bgr.empty() || bgr.type() != CV_8UC3) return Error::invalid("frame", "bad_frame", "expected a BGR image");
    const cv::Size in(cm_.width, cm_.height);
    try {
      cv::Mat pic;
      if (cm_.format == "ssd") {
        cv::resize(bgr, pic, in, 0, 0, cv::INTER_LINEAR);
      } else {
        pic = letterbox(bgr, in, lb);
      }
      net_.setInput(input_blob(pic, cm_));
      out = net_.forward();
    } catch (const cv::Exception& e) {
      return Error{ErrorKind::kInternal, "detector_failed", e.what(), {}};
    }
    if (auto p = output_shape_problem(out, cm_); !p.empty()) return Error{ErrorKind::kInternal, "detector_failed", p, {}};
    return ok_status();
  }

  cv::dnn::Net net_;
  ClassMap cm_;
  std::string id_, name_, version_;
};

}  // namespace

Result<std::unique_ptr<Detector>> load_onnx_detector(const fs::path& file, const ClassMap& cm, std::string id,
                                                     std::string name, std::string version, const std::string& sha256) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{ErrorKind::kUnavailable, "model_missing", "cannot read " + file.string(), {}};
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!sha256.empty() && crypto::sha256_hex(ss.str()) != sha256)
    return Error::invalid("model", "sha256_mismatch", "the model file " + file.string() + " is not the one uploaded");
  try {
    const std::string bytes = ss.str();
    cv::dnn::Net net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
    if (net.empty()) return Error::invalid("model", "model_unloadable", "OpenCV loaded an empty network");
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return std::unique_ptr<Detector>(
        std::make_unique<OnnxDetector>(std::move(net), cm, std::move(id), std::move(name), std::move(version)));
  } catch (const cv::Exception& e) {
    return Error::invalid("model", "model_unloadable", std::string("OpenCV cannot load the model: ") + e.what());
  }
}

Result<std::unique_ptr<Detector>> load_registered_model(ModelRegistry& registry, const std::string& id) {
  auto m = registry.load(id);
  if (!m) return m.error();
  return load_onnx_detector(m->path, m->classmap, m->id, m->name, std::to_string(m->version), m->sha256);
}

}  // namespace mingchu::vision
