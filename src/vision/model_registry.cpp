#include "vision/model_registry.hpp"

#include <algorithm>
#include <fstream>
#include <set>

#include <opencv2/dnn.hpp>
#include <toml++/toml.h>

#include "core/ids.hpp"
#include "crypto/sm3.hpp"
#include "storage/database.hpp"
#include "vision/onnx_detector.hpp"

namespace mingchu::vision {

namespace fs = std::filesystem;

namespace {

Error bad(const std::string& field, const std::string& why) {
  return Error::invalid("classmap." + field, "invalid_classmap", "class map: " + field + ": " + why);
}

constexpr const char* kInsert =
    "INSERT INTO vision_models (id, name, version, sha256, format, labels, classmap, path, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
constexpr const char* kNextVersion = "SELECT COALESCE(MAX(version), 0) + 1 FROM vision_models WHERE name = $1";
constexpr const char* kSelect =
    "SELECT id, name, version, sha256, format, labels, created_at FROM vision_models WHERE deleted_at IS NULL";

json::object row_json(const storage::Row& r) {
  json::object o{{"id", r.text(0)},     {"name", r.text(1)},   {"version", r.integer(2)},
                 {"sha256", r.text(3)}, {"format", r.text(4)}, {"builtin", false}};
  auto labels = parse_value(r.text(5));
  o["labels"] = labels ? *labels : json::value(json::array());
  o["created_at_ms"] = r.integer(6);
  return o;
}

// [a-z0-9][a-z0-9-]{0,47} (no std::regex: g++ 12 -O2 with ASan warns inside it)
bool name_ok(const std::string& s) {
  if (s.empty() || s.size() > 48 || s[0] == '-') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

bool hex64(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

Result<ClassMap> parse_classmap(std::string_view text, const std::function<bool(const std::string&)>& known_type) {
  if (text.size() > 256 * 1024)
    return Error{ErrorKind::kTooLarge, "classmap_too_large", "class map over 256 KB", "classmap"};
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return Error::invalid("classmap", "invalid_classmap",
                          std::string("class map is not TOML: ") + std::string(e.description()) + " at line " +
                              std::to_string(e.source().begin.line));
  }
  static const std::set<std::string> kKeys = {"name",   "format", "licence", "license",
                                              "source", "sha256", "input",   "labels"};
  for (const auto& [k, v] : t)
    if (!kKeys.contains(std::string(k.str()))) return bad(std::string(k.str()), "unknown key");
  ClassMap cm;
  auto str = [&](const char* key, std::string& out, bool required, size_t max) -> Status {
    auto n = t[key];
    if (!n) return required ? Status(bad(key, "required")) : ok_status();
    auto v = n.value<std::string>();
    if (!v || v->size() > max) return bad(key, "must be a string of at most " + std::to_string(max) + " bytes");
    out = *v;
    return ok_status();
  };
  if (auto st = str("name", cm.name, true, 48); !st) return st.error();
  if (!name_ok(cm.name)) return bad("name", "use [a-z0-9-], 1 to 48");
  if (auto st = str("format", cm.format, false, 16); !st) return st.error();
  if (cm.format != "yolov5" && cm.format != "ssd")
    return bad("format", "\"yolov5\" ([1, N, 5 + labels]) or \"ssd\" ([1, 1, N, 7])");
  if (auto st = str("licence", cm.licence, false, 200); !st) return st.error();
  if (t["license"]) {
    if (auto st = str("license", cm.licence, false, 200); !st) return st.error();
  }
  if (auto st = str("source", cm.source, false, 500); !st) return st.error();
  if (auto st = str("sha256", cm.sha256, false, 64); !st) return st.error();
  if (!cm.sha256.empty() && !hex64(cm.sha256)) return bad("sha256", "64 lowercase hex digits");
  if (auto* in = t["input"].as_table()) {
    for (const auto& [k, v] : *in) {
      static const std::set<std::string> kIn = {"width", "height", "layout", "scale", "mean", "rgb"};
      if (!kIn.contains(std::string(k.str()))) return bad("input." + std::string(k.str()), "unknown key");
    }
    auto dim = [&](const char* k, int& out) -> Status {
      if (auto n = (*in)[k]) {
        auto v = n.value<int64_t>();
        if (!v || *v < 32 || *v > 2048 || *v % 32)
          return bad(std::string("input.") + k, "a multiple of 32, 32 to 2048");
        out = static_cast<int>(*v);
      }
      return ok_status();
    };
    if (auto st = dim("width", cm.width); !st) return st.error();
    if (auto st = dim("height", cm.height); !st) return st.error();
    if (auto n = (*in)["layout"]) {
      auto v = n.value<std::string>();
      if (!v || (*v != "NCHW" && *v != "NHWC")) return bad("input.layout", "\"NCHW\" or \"NHWC\"");
      cm.layout = *v;
    }
    if (auto n = (*in)["scale"]) {
      auto v = n.value<double>();
      if (!v || !(*v > 0 && *v <= 1)) return bad("input.scale", "a number in (0, 1]");
      cm.scale = *v;
    }
    if (auto n = (*in)["mean"]) {
      auto* a = n.as_array();
      if (!a || a->size() != 3) return bad("input.mean", "three numbers");
      for (size_t i = 0; i < 3; ++i) {
        auto v = (*a)[i].value<double>();
        if (!v || *v < 0 || *v > 255) return bad("input.mean", "numbers 0 to 255");
        cm.mean[i] = *v;
      }
    }
    if (auto n = (*in)["rgb"]) {
      auto v = n.value<bool>();
      if (!v) return bad("input.rgb", "true or false");
      cm.rgb = *v;
    }
  } else if (t["input"]) {
    return bad("input", "must be a table");
  }
  auto* labels = t["labels"].as_array();
  if (!labels || labels->empty() || labels->size() > 1000) return bad("labels", "an array of 1 to 1000 tables");
  for (size_t i = 0; i < labels->size(); ++i) {
    const std::string f = "labels[" + std::to_string(i) + "]";
    auto* lt = (*labels)[i].as_table();
    if (!lt) return bad(f, "must be a table");
    for (const auto& [k, v] : *lt) {
      static const std::set<std::string> kL = {"name", "alert_type", "min_score"};
      if (!kL.contains(std::string(k.str()))) return bad(f + "." + std::string(k.str()), "unknown key");
    }
    ClassMap::Label l;
    auto name = (*lt)["name"].value<std::string>();
    if (!name || name->empty() || name->size() > 64) return bad(f + ".name", "a name of 1 to 64 bytes");
    l.name = *name;
    if (auto n = (*lt)["alert_type"]) {
      auto v = n.value<std::string>();
      if (!v || v->size() > 64) return bad(f + ".alert_type", "a string");
      if (!v->empty() && !known_type(*v))
        return Error::invalid("classmap." + f + ".alert_type", "unknown_alert_type",
                              "class map: " + f + ".alert_type: no alert type '" + *v + "'");
      l.alert_type = *v;
    }
    if (auto n = (*lt)["min_score"]) {
      auto v = n.value<double>();
      if (!v || *v < 0 || *v > 1) return bad(f + ".min_score", "a number 0 to 1");
      l.min_score = *v;
    }
    cm.labels.push_back(std::move(l));
  }
  return cm;
}

Status check_onnx(const fs::path& file, const ClassMap& cm) {
  const std::string hint =
      " (OpenCV 4.6 loads YOLOv5 ONNX exports; YOLOv8 exports fail on 4.6 — ultralytics#1277, opencv#24148 — "
      "export with opset 12 and a fixed input size)";
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(file.string());
  } catch (const cv::Exception& e) {
    return Error::invalid("model", "model_unloadable", "OpenCV cannot load the model: " + std::string(e.what()) + hint);
  }
  if (net.empty()) return Error::invalid("model", "model_unloadable", "OpenCV loaded an empty network" + hint);
  cv::Mat out;
  try {
    cv::Mat blank(cm.height, cm.width, CV_8UC3, cv::Scalar(114, 114, 114));
    net.setInput(input_blob(blank, cm));
    out = net.forward();
  } catch (const cv::Exception& e) {
    return Error::invalid("model", "model_unrunnable",
                          "the model does not run on a " + std::to_string(cm.width) + "x" + std::to_string(cm.height) +
                              " " + cm.layout + " input: " + std::string(e.what()));
  }
  if (auto problem = output_shape_problem(out, cm); !problem.empty())
    return Error::invalid("model", "output_shape_mismatch", problem);
  return ok_status();
}

Result<StoredModel> ModelRegistry::load(const std::string& id) {
  storage::Conn c = db_.acquire();
  auto rows = c->query(
      "SELECT id, name, version, sha256, classmap, path FROM vision_models WHERE id = $1 AND deleted_at IS NULL", {id});
  if (rows.empty()) return Error::not_found("model");
  StoredModel m;
  m.id = rows[0].text(0);
  m.name = rows[0].text(1);
  m.version = rows[0].integer(2);
  m.sha256 = rows[0].text(3);
  m.classmap_toml = rows[0].text(4);
  m.path = rows[0].text(5);
  // the stored class map was checked at upload; the taxonomy may have changed since: any type
  auto cm = parse_classmap(m.classmap_toml, [](const std::string&) { return true; });
  if (!cm) return cm.error();
  m.classmap = std::move(*cm);
  return m;
}

ModelRegistry::ModelRegistry(storage::Database& db, const Clock& clock, fs::path dir,
                             std::function<bool(const std::string&)> known_type)
    : db_(db), clock_(clock), dir_(std::move(dir)), known_type_(std::move(known_type)) {}

Result<json::object> ModelRegistry::upload(std::string_view onnx, std::string_view classmap_toml) {
  auto cm = parse_classmap(classmap_toml, known_type_);
  if (!cm) return cm.error();
  if (onnx.size() < 16) return Error::invalid("model", "model_unloadable", "the model file is empty or truncated");
  const std::string sha = crypto::sha256_hex(onnx);
  if (!cm->sha256.empty() && cm->sha256 != sha)
    return Error::invalid("classmap.sha256", "sha256_mismatch",
                          "the model's SHA-256 is " + sha + ", the class map says " + cm->sha256);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  const fs::path final_path = dir_ / (sha + ".onnx");
  const fs::path tmp = dir_ / (sha + ".onnx.tmp" + new_id(""));
  {
    std::ofstream f(tmp, std::ios::binary);
    f.write(onnx.data(), static_cast<std::streamsize>(onnx.size()));
    if (!f) return Error::unavailable("cannot store the model");
  }
  if (auto st = check_onnx(tmp, *cm); !st) {
    fs::remove(tmp, ec);
    return st.error();
  }
  fs::rename(tmp, final_path, ec);
  if (ec) return Error::unavailable("cannot store the model");
  json::array labels;
  for (const auto& l : cm->labels)
    labels.push_back(json::object{{"name", l.name}, {"alert_type", l.alert_type}, {"min_score", l.min_score}});
  const std::string id = new_id("mdl");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  const std::int64_t version = c->query(kNextVersion, {cm->name})[0].integer(0);
  c->exec(kInsert, {id, cm->name, version, sha, cm->format, json::serialize(labels), std::string(classmap_toml),
                    final_path.string(), clock_.now_ms()});
  tx.commit();
  json::object o{{"id", id},         {"name", cm->name},       {"version", version},
                 {"sha256", sha},    {"format", cm->format},   {"labels", std::move(labels)},
                 {"builtin", false}, {"licence", cm->licence}, {"source", cm->source}};
  return o;
}

json::array ModelRegistry::list() {
  storage::Conn c = db_.acquire();
  json::array out;
  for (const auto& r : c->query(std::string(kSelect) + " ORDER BY name, version")) out.push_back(row_json(r));
  return out;
}

Result<json::object> ModelRegistry::get(const std::string& id) {
  storage::Conn c = db_.acquire();
  auto rows = c->query(std::string(kSelect) + " AND id = $1", {id});
  if (rows.empty()) return Error::not_found("model");
  return row_json(rows[0]);
}

Status ModelRegistry::remove(const std::string& id) {
  storage::Conn c = db_.acquire();
  if (c->exec("UPDATE vision_models SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL", {clock_.now_ms(), id}) ==
      0)
    return Error::not_found("model");
  return ok_status();
}

}  // namespace mingchu::vision
