#include "vision/cli.hpp"

#include <filesystem>
#include <ostream>

#include "vision/evaluate.hpp"

namespace mingchu::vision {

namespace fs = std::filesystem;

Result<std::unique_ptr<Detector>> open_model(const std::string& name_or_path) {
  if (name_or_path == "coco-ssdlite") return load_coco_ssd(default_model_dir());
  fs::path p(name_or_path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) return load_coco_ssd(p);
  return Error::invalid("model", "unknown_model",
                        "no model named '" + name_or_path + "' (coco-ssdlite, or a directory with a converted model)");
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
