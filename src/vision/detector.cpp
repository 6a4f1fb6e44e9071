#include "vision/detector.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "core/json.hpp"

namespace mingchu::vision {

namespace fs = std::filesystem;

const std::vector<std::string>& coco_labels() {
  static const std::vector<std::string> labels = [] {
    std::vector<std::string> v(91);
    const std::pair<int, const char*> names[] = {
        {1, "person"},         {2, "bicycle"},       {3, "car"},
        {4, "motorcycle"},     {5, "airplane"},      {6, "bus"},
        {7, "train"},          {8, "truck"},         {9, "boat"},
        {10, "traffic light"}, {11, "fire hydrant"}, {13, "stop sign"},
        {14, "parking meter"}, {15, "bench"},        {16, "bird"},
        {17, "cat"},           {18, "dog"},          {19, "horse"},
        {20, "sheep"},         {21, "cow"},          {22, "elephant"},
        {23, "bear"},          {24, "zebra"},        {25, "giraffe"},
        {27, "backpack"},      {28, "umbrella"},     {31, "handbag"},
        {32, "tie"},           {33, "suitcase"},     {34, "frisbee"},
        {35, "skis"},          {36, "snowboard"},    {37, "sports ball"},
        {38, "kite"},          {39, "baseball bat"}, {40, "baseball glove"},
        {41, "skateboard"},    {42, "surfboard"},    {43, "tennis racket"},
        {44, "bottle"},        {46, "wine glass"},   {47, "cup"},
        {48, "fork"},          {49, "knife"},        {50, "spoon"},
        {51, "bowl"},          {52, "banana"},       {53, "apple"},
        {54, "sandwich"},      {55, "orange"},       {56, "broccoli"},
        {57, "carrot"},        {58, "hot dog"},      {59, "pizza"},
        {60, "donut"},         {61, "cake"},         {62, "chair"},
        {63, "couch"},         {64, "potted plant"}, {65, "bed"},
        {67, "dining table"},  {70, "toilet"},       {72, "tv"},
        {73, "laptop"},        {74, "mouse"},        {75, "remote"},
        {76, "keyboard"},      {77, "cell phone"},   {78, "microwave"},
        {79, "oven"},          {80, "toaster"},      {81, "sink"},
        {82, "refrigerator"},  {84, "book"},         {85, "clock"},
        {86, "vase"},          {87, "scissors"},     {88, "teddy bear"},
        {89, "hair drier"},    {90, "toothbrush"},
    };
    for (const auto& [id, name] : names) v[id] = name;
    return v;
  }();
  return labels;
}

fs::path default_model_dir() {
  if (const char* d = std::getenv("MINGCHU_MODEL_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "mingchu" / "models";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "mingchu" / "models";
  return "/var/cache/mingchu/models";
}

cv::Rect2f decode_ssd_box(const float* enc, const float* a, const float scales[4]) {
  const float ha = a[2] - a[0], wa = a[3] - a[1];
  const float yc = a[0] + ha / 2, xc = a[1] + wa / 2;
  const float y = enc[0] / scales[0] * ha + yc;
  const float x = enc[1] / scales[1] * wa + xc;
  const float h = std::exp(enc[2] / scales[2]) * ha;
  const float w = std::exp(enc[3] / scales[3]) * wa;
  return {x - w / 2, y - h / 2, w, h};  // x, y, width, height (normalised)
}

std::vector<Detection> nms_per_class(std::vector<Detection> in, float iou, int max_detections) {
  std::map<int, std::vector<size_t>> by_class;
  for (size_t i = 0; i < in.size(); ++i) by_class[in[i].class_id].push_back(i);
  std::vector<Detection> out;
  for (const auto& [cls, idx] : by_class) {
    std::vector<cv::Rect2d> boxes;
    std::vector<float> scores;
    for (size_t i : idx) {
      boxes.emplace_back(in[i].box.x, in[i].box.y, in[i].box.width, in[i].box.height);
      scores.push_back(in[i].score);
    }
    std::vector<int> keep;
    cv::dnn::NMSBoxes(boxes, scores, 0.0f, iou, keep);
    for (int k : keep) out.push_back(std::move(in[idx[static_cast<size_t>(k)]]));
  }
  std::sort(out.begin(), out.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
  if (out.size() > static_cast<size_t>(max_detections)) out.resize(static_cast<size_t>(max_detections));
  return out;
}

namespace {

Result<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Error{ErrorKind::kUnavailable, "model_missing", "cannot read " + p.string(), {}};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CocoSsd final : public Detector {
 public:
  CocoSsd(cv::dnn::Net net, std::vector<float> anchors, std::vector<std::string> outputs, std::string version,
          SsdOptions opt)
      : net_(std::move(net)),
        anchors_(std::move(anchors)),
        outputs_(std::move(outputs)),
        version_(std::move(version)),
        opt_(opt) {}

  Result<std::vector<Detection>> detect(const cv::Mat& bgr, float min_score) override {
    std::vector<cv::Mat> outs;
    if (auto st = run(bgr, outs); !st) return st.error();
    const size_t n_anchors = anchors_.size() / 4;
    const int classes = 91;
    const float scales[4] = {10, 10, 5, 5};
    // score >= min_score  <=>  logit >= log(s / (1 - s)): skip the sigmoid of most entries
    const float s = std::clamp(min_score, 1e-6f, 1 - 1e-6f);
    const float min_logit = std::log(s / (1 - s));
    const auto& names = coco_labels();
    std::vector<Detection> cand;
    size_t anchor = 0;
    for (size_t head = 0; head + 1 < outs.size(); head += 2) {
      const cv::Mat& box = outs[head];      // [1, A*4, H, W]
      const cv::Mat& cls = outs[head + 1];  // [1, A*91, H, W]
      if (box.dims != 4 || cls.dims != 4) return Error::internal("unexpected output rank");
      const int H = box.size[2], W = box.size[3], A = box.size[1] / 4;
      if (cls.size[1] != A * classes || cls.size[2] != H || cls.size[3] != W)
        return Error::internal("box and class outputs disagree");
      const auto* bp = box.ptr<float>();
      const auto* cp = cls.ptr<float>();
      const size_t plane = static_cast<size_t>(H) * static_cast<size_t>(W);
      // TF's reshape of NHWC [1,H,W,A*k] to [1,H*W*A,k]: anchor index ((h*W)+w)*A + a
      for (int h = 0; h < H; ++h) {
        for (int w = 0; w < W; ++w) {
          for (int a = 0; a < A; ++a, ++anchor) {
            if (anchor >= n_anchors) return Error::internal("more predictions than anchors");
            const size_t pos = static_cast<size_t>(h) * static_cast<size_t>(W) + static_cast<size_t>(w);
            int best = -1;
            float best_logit = min_logit;
            for (int c = 1; c < classes; ++c) {
              const float logit = cp[static_cast<size_t>(a * classes + c) * plane + pos];
              if (logit >= best_logit && !names[static_cast<size_t>(c)].empty()) {
                // all classes above the threshold become candidates; NMS is per class
                float enc[4];
                for (int k = 0; k < 4; ++k) enc[k] = bp[static_cast<size_t>(a * 4 + k) * plane + pos];
                cv::Rect2f r = decode_ssd_box(enc, &anchors_[anchor * 4], scales);
                Detection d;
                d.class_id = c;
                d.label = names[static_cast<size_t>(c)];
                d.score = 1.0f / (1.0f + std::exp(-logit));
                d.box = {r.x * bgr.cols, r.y * bgr.rows, r.width * bgr.cols, r.height * bgr.rows};
                cand.push_back(std::move(d));
                best = c;
              }
            }
            (void)best;
          }
        }
      }
    }
    if (anchor != n_anchors) return Error::internal("the outputs do not cover the anchors");
    auto out = nms_per_class(std::move(cand), opt_.nms_iou, opt_.max_detections);
    // clip to the frame
    const cv::Rect2f frame(0, 0, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows));
    for (auto& d : out) d.box &= frame;
    return out;
  }

  Status forward_only(const cv::Mat& bgr) override {
    std::vector<cv::Mat> outs;
    return run(bgr, outs);
  }

  const std::string& name() const override { return name_; }
  const std::string& version() const override { return version_; }
  std::vector<std::string> labels() const override {
    std::vector<std::string> v;
    for (const auto& l : coco_labels())
      if (!l.empty()) v.push_back(l);
    return v;
  }

 private:
  Status run(const cv::Mat& bgr, std::vector<cv::Mat>& outs) {
    if (bgr.empty() || bgr.type() != CV_8UC3) return Error::invalid("frame", "bad_frame", "expected a BGR image");
    try {
      // x * 2/255 - 1 == (x - 127.5) * 2/255; BGR -> RGB
      cv::Mat blob = cv::dnn::blobFromImage(bgr, 2.0 / 255.0, cv::Size(300, 300), cv::Scalar(127.5, 127.5, 127.5), true,
                                            false, CV_32F);
      net_.setInput(blob);
      net_.forward(outs, outputs_);
    } catch (const cv::Exception& e) {
      return Error{ErrorKind::kInternal, "detector_failed", e.what(), {}};
    }
    if (outs.size() != outputs_.size()) return Error::internal("the network gave too few outputs");
    return ok_status();
  }

  cv::dnn::Net net_;
  std::vector<float> anchors_;
  std::vector<std::string> outputs_;
  std::string name_ = "coco-ssdlite";
  std::string version_;
  SsdOptions opt_;
};

}  // namespace

Result<std::unique_ptr<Detector>> load_coco_ssd(const fs::path& dir_in, SsdOptions opt) {
  fs::path dir = dir_in;
  if (fs::exists(dir / "coco-ssdlite" / "coco_ssdlite.pb")) dir /= "coco-ssdlite";
  auto meta_text = read_file(dir / "coco_ssdlite.json");
  if (!meta_text)
    return Error{ErrorKind::kUnavailable,
                 "model_missing",
                 "the COCO model is not installed in " + dir.string() + " (run scripts/install-deps.sh)",
                 {}};
  auto meta = parse_object(*meta_text);
  if (!meta) return Error::invalid("model", "bad_model_meta", "coco_ssdlite.json: " + meta.error().message);
  std::vector<std::string> outputs;
  std::string version;
  try {
    for (const auto& o : meta->at("outputs").as_array()) outputs.emplace_back(o.as_string());
    version = std::string(meta->at("version").as_string());
  } catch (const std::exception& e) {
    return Error::invalid("model", "bad_model_meta", std::string("coco_ssdlite.json: ") + e.what());
  }
  if (outputs.size() != 12) return Error::invalid("model", "bad_model_meta", "expected 12 outputs");
  auto anchors_raw = read_file(dir / "coco_ssdlite.anchors");
  if (!anchors_raw) return anchors_raw.error();
  if (anchors_raw->empty() || anchors_raw->size() % 16 != 0)
    return Error::invalid("model", "bad_anchors", "coco_ssdlite.anchors is not N x 4 floats");
  std::vector<float> anchors(anchors_raw->size() / 4);
  std::memcpy(anchors.data(), anchors_raw->data(), anchors_raw->size());
  if (opt.threads > 0) cv::setNumThreads(opt.threads);
  try {
    cv::dnn::Net net = cv::dnn::readNetFromTensorflow((dir / "coco_ssdlite.pb").string());
    if (net.empty()) return Error::invalid("model", "model_unloadable", "OpenCV loaded an empty network");
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return std::unique_ptr<Detector>(
        std::make_unique<CocoSsd>(std::move(net), std::move(anchors), std::move(outputs), version, opt));
  } catch (const cv::Exception& e) {
    return Error::invalid("model", "model_unloadable", std::string("OpenCV cannot load the graph: ") + e.what());
  }
}

}  // namespace mingchu::vision
