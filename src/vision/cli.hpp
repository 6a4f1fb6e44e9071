// `mingchu vision ...` subcommands that need no server: eval (docs/vision.md).
#pragma once

#include <iosfwd>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "vision/detector.hpp"

namespace mingchu::vision {

// A model by name ("coco-ssdlite": the shipped one, from default_model_dir()) or by path (a
// directory holding coco_ssdlite.{pb,anchors,json}, or an .onnx file with its class map
// "<file>.toml" beside it).
Result<std::unique_ptr<Detector>> open_model(const std::string& name_or_path);

struct EvalArgs {
  std::string model = "coco-ssdlite";
  std::string dataset;
  bool json = false;
  float min_score = 0.5f;
};

// Prints the report to out; errors to err. Exit code: 0, 2 (bad arguments or data set), 1.
int eval_command(const EvalArgs& a, std::ostream& out, std::ostream& err);

}  // namespace mingchu::vision
