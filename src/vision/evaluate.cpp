#include "vision/evaluate.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

namespace mingchu::vision {

namespace fs = std::filesystem;

namespace {

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

bool parse_float(std::string_view s, float& out) {
  // std::from_chars for float is in libstdc++ 11+
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out);
}

}  // namespace

Result<std::vector<GroundTruth>> parse_yolo_labels(const std::string& text, size_t classes, int width, int height) {
  std::vector<GroundTruth> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream ls(line);
    std::vector<std::string> f;
    for (std::string t; ls >> t;) f.push_back(t);
    if (f.empty()) continue;
    auto bad = [&](const std::string& why) {
      return Error::invalid("labels", "bad_label_line", "line " + std::to_string(n) + ": " + why);
    };
    if (f.size() != 5) return bad("expected 5 fields: class cx cy w h");
    int cls = -1;
    auto r = std::from_chars(f[0].data(), f[0].data() + f[0].size(), cls);
    if (r.ec != std::errc() || r.ptr != f[0].data() + f[0].size() || cls < 0 || static_cast<size_t>(cls) >= classes)
      return bad("class '" + f[0] + "' is not an index into classes.txt");
    float v[4];
    for (int i = 0; i < 4; ++i) {
      if (!parse_float(f[static_cast<size_t>(i) + 1], v[i]) || v[i] < 0 || v[i] > 1)
        return bad("coordinates must be numbers in [0, 1]");
    }
    if (v[2] <= 0 || v[3] <= 0) return bad("width and height must be positive");
    GroundTruth g;
    g.cls = cls;
    g.box = {(v[0] - v[2] / 2) * static_cast<float>(width), (v[1] - v[3] / 2) * static_cast<float>(height),
             v[2] * static_cast<float>(width), v[3] * static_cast<float>(height)};
    out.push_back(g);
  }
  return out;
}

std::map<std::string, ClassFigures> score_images(const std::vector<std::string>& classes,
                                                 const std::vector<ScoredImage>& images, const EvalOptions& opt) {
  std::map<std::string, ClassFigures> out;
  for (size_t c = 0; c < classes.size(); ++c) {
    const int cls = static_cast<int>(c);
    // every detection of this class: (score, image, index)
    struct Cand {
      float score;
      size_t image;
      cv::Rect2f box;
    };
    std::vector<Cand> cands;
    size_t n_truth = 0;
    for (size_t i = 0; i < images.size(); ++i) {
      for (const auto& g : images[i].truth) n_truth += g.cls == cls;
      for (const auto& [k, d] : images[i].detections)
        if (k == cls && d.score >= opt.ap_floor) cands.push_back({d.score, i, d.box});
    }
    std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.score > b.score; });
    // greedy matching, best score first, each truth box at most once
    std::vector<std::vector<bool>> used(images.size());
    for (size_t i = 0; i < images.size(); ++i) used[i].assign(images[i].truth.size(), false);
    std::vector<int> is_tp(cands.size(), 0);
    for (size_t k = 0; k < cands.size(); ++k) {
      const auto& truth = images[cands[k].image].truth;
      float best = opt.iou;
      int best_j = -1;
      for (size_t j = 0; j < truth.size(); ++j) {
        if (truth[j].cls != cls || used[cands[k].image][j]) continue;
        const float o = iou(cands[k].box, truth[j].box);
        if (o >= best) {
          best = o;
          best_j = static_cast<int>(j);
        }
      }
      if (best_j >= 0) {
        used[cands[k].image][static_cast<size_t>(best_j)] = true;
        is_tp[k] = 1;
      }
    }
    ClassFigures f;
    // operating point
    for (size_t k = 0; k < cands.size(); ++k) {
      if (cands[k].score < opt.score) break;
      (is_tp[k] ? f.tp : f.fp)++;
    }
    f.fn = static_cast<int>(n_truth) - f.tp;
    f.precision = f.tp + f.fp > 0 ? static_cast<double>(f.tp) / (f.tp + f.fp) : (n_truth == 0 ? 1.0 : 0.0);
    f.recall = n_truth > 0 ? static_cast<double>(f.tp) / static_cast<double>(n_truth) : 1.0;
    // AP: all-point interpolation of the precision/recall curve
    if (n_truth > 0) {
      std::vector<double> prec, rec;
      int tp = 0, fp = 0;
      for (size_t k = 0; k < cands.size(); ++k) {
        (is_tp[k] ? tp : fp)++;
        prec.push_back(static_cast<double>(tp) / (tp + fp));
        rec.push_back(static_cast<double>(tp) / static_cast<double>(n_truth));
      }
      for (size_t k = prec.size(); k-- > 1;) prec[k - 1] = std::max(prec[k - 1], prec[k]);
      double ap = 0, last_r = 0;
      for (size_t k = 0; k < prec.size(); ++k) {
        ap += (rec[k] - last_r) * prec[k];
        last_r = rec[k];
      }
      f.ap50 = ap;
    } else {
      f.ap50 = cands.empty() ? 1.0 : 0.0;
    }
    out[classes[c]] = f;
  }
  return out;
}

json::object EvalReport::to_json() const {
  json::object o;
  o["model"] = model;
  o["version"] = version;
  o["images"] = images;
  json::object cls;
  for (const auto& [name, f] : classes) {
    cls[name] = json::object{
        {"precision", f.precision}, {"recall", f.recall}, {"ap50", f.ap50}, {"tp", f.tp}, {"fp", f.fp}, {"fn", f.fn}};
  }
  o["classes"] = std::move(cls);
  return o;
}

std::string EvalReport::to_text() const {
  std::ostringstream s;
  s << "model " << model << " " << version << ", " << images << " images\n";
  s << std::left << std::setw(16) << "class" << std::right << std::setw(10) << "precision" << std::setw(8) << "recall"
    << std::setw(8) << "ap50" << std::setw(6) << "tp" << std::setw(6) << "fp" << std::setw(6) << "fn"
    << "\n";
  s << std::fixed << std::setprecision(3);
  for (const auto& [name, f] : classes) {
    s << std::left << std::setw(16) << name << std::right << std::setw(10) << f.precision << std::setw(8) << f.recall
      << std::setw(8) << f.ap50 << std::setw(6) << f.tp << std::setw(6) << f.fp << std::setw(6) << f.fn << "\n";
  }
  return s.str();
}

Result<EvalReport> evaluate(Detector& det, const fs::path& dataset, const EvalOptions& opt) {
  std::ifstream cf(dataset / "classes.txt");
  if (!cf) return Error::invalid("dataset", "no_classes", "no classes.txt in " + dataset.string());
  std::vector<std::string> classes;
  for (std::string line; std::getline(cf, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) classes.push_back(line);
  }
  if (classes.empty()) return Error::invalid("dataset", "no_classes", "classes.txt names no class");
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dataset / "images", ec)) {
    auto ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) files.push_back(e.path());
  }
  if (ec) return Error::invalid("dataset", "no_images", "cannot list " + (dataset / "images").string());
  if (files.empty()) return Error::invalid("dataset", "no_images", "no images in " + (dataset / "images").string());
  if (files.size() > opt.max_images) return Error::invalid("dataset", "too_many_images", "too many images");
  std::sort(files.begin(), files.end());
  std::vector<ScoredImage> scored;
  for (const auto& f : files) {
    cv::Mat img = cv::imread(f.string(), cv::IMREAD_COLOR);
    if (img.empty()) return Error::invalid("dataset", "bad_image", "cannot decode " + f.string());
    ScoredImage si;
    std::ifstream lf(dataset / "labels" / (f.stem().string() + ".txt"));
    if (lf) {
      std::ostringstream ss;
      ss << lf.rdbuf();
      auto truth = parse_yolo_labels(ss.str(), classes.size(), img.cols, img.rows);
      if (!truth) {
        Error e = truth.error();
        e.message = f.stem().string() + ".txt " + e.message;
        return e;
      }
      si.truth = std::move(*truth);
    }
    auto dets = det.detect(img, opt.ap_floor);
    if (!dets) return dets.error();
    for (auto& d : *dets) {
      auto it = std::find(classes.begin(), classes.end(), d.label);
      if (it == classes.end()) continue;
      si.detections.emplace_back(static_cast<int>(it - classes.begin()), std::move(d));
    }
    scored.push_back(std::move(si));
  }
  EvalReport rep;
  rep.model = det.name();
  rep.version = det.version();
  rep.images = files.size();
  rep.classes = score_images(classes, scored, opt);
  return rep;
}

}  // namespace mingchu::vision
