#include "vision/cli.hpp"

#include <filesystem>
#include <ostream>

#include <fstream>
#include <sstream>

#include "vision/evaluate.hpp"
#include "vision/onnx_detector.hpp"

namespace mingchu::vision {

namespace fs = std::filesystem;

Result<std::unique_ptr<Detector>> open_model(const std::string& name_or_path) {
  if (name_or_path == "coco-ssdlite") return load_coco_ssd(default_model_dir());
  fs::path p(name_or_path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) return load_coco_ssd(p);
  if (p.extension() == ".onnx" && fs::is_regular_file(p, ec)) {
    // its class map beside it: x.onnx.toml or x.toml
    fs::path toml = p;
    toml += ".toml";
    if (!fs::exists(toml, ec)) toml = fs::path(p).replace_extension(".toml");
    std::ifstream in(toml);
    if (!in)
      return Error::invalid("model", "no_classmap", "no class map " + toml.string() + " beside " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    auto cm = parse_classmap(ss.str(), [](const std::string&) { return true; });
    if (!cm) return Error::invalid("model", cm.error().code, toml.string() + ": " + cm.error().message);
    if (auto st = check_onnx(p, *cm); !st) return st.error();
    return load_onnx_detector(p, *cm, p.filename().string(), cm->name, "file");
  }
  return Error::invalid("model", "unknown_model",
                        "no model named '" + name_or_path +
                            "' (coco-ssdlite, a directory with a converted model, or an .onnx file with its class map)");
}

int eval_command(const EvalArgs& a, std::ostream& out, std::ostream& err) {
  auto det = open_model(a.model);
  if (!det) {
    err << "mingchu vision eval: " << det.error().message << "\n";
    return det.error().kind == ErrorKind::kInvalid ? 2 : 1;
  }
  EvalOptions opt;
  opt.score = a.min_score;
  auto rep = evaluate(**det, a.dataset, opt);
  if (!rep) {
    err << "mingchu vision eval: " << rep.error().message << "\n";
    return rep.error().kind == ErrorKind::kInvalid ? 2 : 1;
  }
  if (a.json)
    out << json::serialize(rep->to_json()) << "\n";
  else
    out << rep->to_text();
  return 0;
}

}  // namespace mingchu::vision
