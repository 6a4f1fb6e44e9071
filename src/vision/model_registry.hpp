// Custom models: an ONNX detector with YOLOv5-style output ([1, N, 5 + classes]: cx, cy, w, h,
// objectness, class scores, in input pixels) and its class map, uploaded by a platform admin,
// versioned by name, kept content-addressed under the data directory (models/<sha256>.onnx).
//
// The class map is TOML:
//   name = "hats"                 # [a-z0-9-]{1,48}; each upload of a name is its next version
//   format = "yolov5"             # or "ssd" ([1, 1, N, 7]); vision/onnx_detector.hpp decodes both
//   licence = "AGPL-3.0"  source = "https://..."   (free text, shown)
//   sha256 = "..."                # optional: the ONNX file's digest, checked
//   [input]  width = 640  height = 640  layout = "NCHW"  scale = 0.0039215686  mean = [0, 0, 0]  rgb = true
//   [[labels]]  name = "no_hat"  alert_type = "no_hat"  min_score = 0.5
//
// An upload is refused (422, the reason in the message) when the class map is invalid (the field
// named), names an alert type the taxonomy does not know, OpenCV 4.6 cannot load the ONNX file
// (its own message, plus what is known about YOLOv8 exports), or the network's output does not
// have the declared format's shape (yolov5 [1, N, 5 + labels], ssd [1, 1, N, 7]).
//
// Threads: any (the database serialises; files are written under a temporary name and renamed).
#pragma once

#include <filesystem>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace mingchu::storage {
class Database;
}

namespace mingchu::vision {

struct ClassMap {
  std::string name, format = "yolov5", licence, source, sha256;
  int width = 640, height = 640;
  std::string layout = "NCHW";
  double scale = 1.0 / 255.0;
  double mean[3] = {0, 0, 0};
  bool rgb = true;
  struct Label {
    std::string name, alert_type;
    double min_score = 0.5;
  };
  std::vector<Label> labels;
};

Result<ClassMap> parse_classmap(std::string_view toml_text, const std::function<bool(const std::string&)>& known_type);

// Loads the ONNX file with OpenCV, runs one forward on a blank input and checks the output shape.
Status check_onnx(const std::filesystem::path& file, const ClassMap& cm);

// An uploaded model as the pipeline needs it.
struct StoredModel {
  std::string id, name, sha256, classmap_toml;
  std::int64_t version = 0;
  std::filesystem::path path;
  ClassMap classmap;
};

class ModelRegistry {
 public:
  ModelRegistry(storage::Database& db, const Clock& clock, std::filesystem::path dir,
                std::function<bool(const std::string&)> known_type);
  Result<json::object> upload(std::string_view onnx, std::string_view classmap_toml);
  json::array list();
  Result<json::object> get(const std::string& id);
  Status remove(const std::string& id);
  // The file, class map, name and version of a live (not deleted) model; 404 otherwise.
  Result<StoredModel> load(const std::string& id);

 private:
  storage::Database& db_;
  const Clock& clock_;
  std::filesystem::path dir_;
  std::function<bool(const std::string&)> known_type_;
};

}  // namespace mingchu::vision
