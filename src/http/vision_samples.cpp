// Feedback from reviews (docs/vision.md "Feedback"): reviewed alerts that carry a model and
// boxes become a labelled data set, and a model's precision over time.
//
//   GET /api/v1/vision/samples?model=&label=&from=&to=   a zip, streamed:
//     images/<alert>.jpg|png      the alert's first snapshot
//     labels/<alert>.txt          YOLO lines "class cx cy w h" (normalised) for approved alerts
//                                 (their boxes are right: positives); empty for dismissed ones
//                                 (false positives: the picture holds none of the objects, a
//                                 hard negative for retraining)
//     classes.txt                 the labels, one a line, the class index = the line
//     manifest.json               {filters, items: [{alert_id, type, model, verdict, occurred_at,
//                                 image, labels, boxes: [{label, x, y, w, h, score,
//                                 false_positive}]}], files: {path: sha256}, skipped, truncated}
//   GET /api/v1/vision/models/{id}/feedback?from=&to=     {model, days: [{day, approved,
//                                 dismissed, precision}], total: {...}}
// Regulators and platform admins (merchants 403), scoped like alerts (a regulator's subtree).
// A verdict is the alert's review: approved (复核通过: the alert was real) or dismissed (误报).
//
// Threads: the zip is written by the answer's BodySource, one alert per read() (a snapshot
// read from the file store and deflated at level 1), on the server's I/O thread.
#include "http/vision_samples.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include "auth/principal.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "crypto/sm3.hpp"
#include "files/file_catalog.hpp"
#include "http/handler_util.hpp"
#include "reports/xlsx_stream.hpp"
#include "storage/database.hpp"
#include "vision/model_registry.hpp"

namespace mingchu::http {

namespace {

constexpr int kMaxSamples = 5000;

// + scope and filters
constexpr const char* kReviewed =
    "SELECT a.id, a.type, a.model, a.boxes, a.state, a.occurred_at, "
    "(SELECT s.file_id FROM alert_snapshots s WHERE s.alert_id = a.id ORDER BY s.at, s.file_id LIMIT 1) "
    "FROM alerts a WHERE a.model IS NOT NULL AND a.boxes IS NOT NULL "
    "AND (a.state = 'dismissed' OR EXISTS (SELECT 1 FROM alert_events e WHERE e.alert_id = a.id AND e.type = "
    "'approved'))";

struct Filters {
  std::optional<std::string> model_exact, model_prefix, label;
  std::optional<TimeMs> from, to;
  json::object echo;
};

// The model id as the alerts name it: the shipped model any version ("coco-ssdlite@..."), an
// uploaded one exactly "name@version".
Result<std::pair<std::optional<std::string>, std::optional<std::string>>> model_match(ApiContext& ctx,
                                                                                      const std::string& id) {
  if (id == "coco-ssdlite") return std::pair{std::optional<std::string>{}, std::optional<std::string>{"coco-ssdlite@"}};
  if (!ctx.vision_models) return Error::not_found("model");
  auto m = ctx.vision_models->get(id);
  if (!m) return m.error();
  return std::pair{std::optional<std::string>{std::string(m->at("name").as_string()) + "@" +
                                              std::to_string(m->at("version").as_int64())},
                   std::optional<std::string>{}};
}

Result<Filters> read_filters(ApiContext& ctx, const Request& req, bool with_model_param) {
  Filters f;
  if (with_model_param) {
    if (auto m = req.query_param("model"); m && !m->empty()) {
      if (m->size() > 64) return Error::invalid("model", "invalid_model", "model is a model id");
      auto mm = model_match(ctx, std::string(*m));
      if (!mm) return Error::invalid("model", "unknown_model", "no model '" + std::string(*m) + "'");
      f.model_exact = mm->first;
      f.model_prefix = mm->second;
      f.echo["model"] = std::string(*m);
    }
  }
  if (auto l = req.query_param("label"); l && !l->empty()) {
    if (l->size() > 64 || std::any_of(l->begin(), l->end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
      return Error::invalid("label", "invalid_label", "label is a class name of at most 64 bytes");
    f.label = std::string(*l);
    f.echo["label"] = *f.label;
  }
  auto from = query_time(ctx, req, "from");
  if (!from) return from.error();
  auto to = query_time(ctx, req, "to");
  if (!to) return to.error();
  f.from = *from;
  f.to = *to;
  if (f.from && f.to && *f.from >= *f.to) return Error::invalid("from", "invalid_range", "from must be before to");
  if (f.from) f.echo["from"] = format_rfc3339(*f.from, ctx.options.utc_offset_minutes);
  if (f.to) f.echo["to"] = format_rfc3339(*f.to, ctx.options.utc_offset_minutes);
  return f;
}

struct Reviewed {
  std::string id, type, model, boxes_json, file_id;
  bool approved = false;
  TimeMs occurred_at = 0;
};

std::vector<Reviewed> query_reviewed(ApiContext& ctx, const auth::Principal& who, const Filters& f, int limit) {
  std::string sql = kReviewed;
  storage::Params ps;
  auth::append_scope(who, "a.jpath", "a.unit_id", sql, ps);
  auto bind = [&](storage::Value v) {
    ps.push_back(std::move(v));
    return "$" + std::to_string(ps.size());
  };
  if (f.model_exact) sql += " AND a.model = " + bind(*f.model_exact);
  if (f.model_prefix) {
    sql += " AND a.model >= " + bind(*f.model_prefix);
    sql += " AND a.model < " + bind(*f.model_prefix + "\x7f");
  }
  if (f.from) sql += " AND a.occurred_at >= " + bind(*f.from);
  if (f.to) sql += " AND a.occurred_at < " + bind(*f.to);
  sql += " ORDER BY a.occurred_at, a.id LIMIT " + bind(std::int64_t{limit});
  storage::Conn c = ctx.db->acquire();
  std::vector<Reviewed> out;
  for (const auto& r : c->query(sql, ps)) {
    Reviewed x;
    x.id = r.text(0);
    x.type = r.text(1);
    x.model = r.text(2);
    x.boxes_json = r.text(3);
    x.approved = r.text(4) != "dismissed";
    x.occurred_at = r.integer(5);
    x.file_id = r.opt_text(6).value_or("");
    out.push_back(std::move(x));
  }
  return out;
}

// Width and height from a JPEG's SOF or a PNG's IHDR; nullopt for anything else or garbage.
std::optional<std::pair<int, int>> image_size(std::string_view b) {
  auto u8 = [&](size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(b[i])); };
  if (b.size() >= 24 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) {
    const unsigned w = (u8(16) << 24) | (u8(17) << 16) | (u8(18) << 8) | u8(19);
    const unsigned h = (u8(20) << 24) | (u8(21) << 16) | (u8(22) << 8) | u8(23);
    if (w == 0 || h == 0 || w > 100000 || h > 100000) return std::nullopt;
    return std::pair{static_cast<int>(w), static_cast<int>(h)};
  }
  if (b.size() < 4 || u8(0) != 0xFF || u8(1) != 0xD8) return std::nullopt;
  size_t i = 2;
  while (i + 9 < b.size()) {
    if (u8(i) != 0xFF) return std::nullopt;
    const unsigned marker = u8(i + 1);
    if (marker == 0xFF) {
      ++i;
      continue;
    }
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      i += 2;
      continue;
    }
    const size_t len = (u8(i + 2) << 8) | u8(i + 3);
    if (len < 2) return std::nullopt;
    if ((marker >= 0xC0 && marker <= 0xCF) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      const int h = static_cast<int>((u8(i + 5) << 8) | u8(i + 6));
      const int w = static_cast<int>((u8(i + 7) << 8) | u8(i + 8));
      if (w <= 0 || h <= 0) return std::nullopt;
      return std::pair{w, h};
    }
    i += 2 + len;
  }
  return std::nullopt;
}

std::string fmt6(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", std::clamp(v, 0.0, 1.0));
  return buf;
}

// The zip, one alert per read().
class SamplesZip final : public BodySource {
 public:
  SamplesZip(ApiContext& ctx, auth::Principal who, Filters f, std::vector<Reviewed> items, bool truncated)
      : ctx_(ctx),
        who_(std::move(who)),
        f_(std::move(f)),
        items_(std::move(items)),
        truncated_(truncated),
        zip_(
            [this](std::string&& bytes) {
              out_ += bytes;
              return true;
            },
            1, 64 * 1024) {}

  std::optional<std::string> read() override {
    std::lock_guard lk(mu_);
    if (done_ || failed_ || cancelled_ || finished_) {
      done_ = true;  // after the last piece (or a failure: failed() tells the server)
      return std::nullopt;
    }
    try {
      // alerts until a piece is ready (the zip hands over ~64 KiB at a time), a few at most
      for (int n = 0; n < 32 && out_.empty() && !finished_; ++n) {
        if (next_ < items_.size()) {
          add(items_[next_++]);
        } else {
          finish();
        }
      }
    } catch (const std::exception&) {
      failed_ = true;
      return std::nullopt;
    }
    if (!zip_.error().empty()) {
      failed_ = true;
      return std::nullopt;
    }
    std::string piece = std::move(out_);
    out_.clear();
    return piece;
  }
  bool failed() const override {
    std::lock_guard lk(mu_);
    return failed_;
  }
  void cancel() override {
    std::lock_guard lk(mu_);
    cancelled_ = true;
  }

 private:
  void entry(const std::string& name, std::string_view data) {
    if (!zip_.begin(name) || !zip_.write(data) || !zip_.end()) throw std::runtime_error(zip_.error());
    files_[name] = crypto::sha256_hex(data);
  }

  int class_of(const std::string& label) {
    auto it = classes_.find(label);
    if (it != classes_.end()) return it->second;
    const int n = static_cast<int>(class_order_.size());
    classes_[label] = n;
    class_order_.push_back(label);
    return n;
  }

  void add(const Reviewed& r) {
    json::object item{{"alert_id", r.id},
                      {"type", r.type},
                      {"model", r.model},
                      {"verdict", r.approved ? "approved" : "dismissed"},
                      {"occurred_at", format_rfc3339(r.occurred_at, ctx_.options.utc_offset_minutes)}};
    auto skip = [&](const std::string& why) {
      item["reason"] = why;
      skipped_.push_back(std::move(item));
    };
    if (r.file_id.empty()) return skip("no snapshot");
    auto file = ctx_.files->read(who_, r.file_id);
    if (!file) return skip("snapshot unreadable: " + file.error().message);
    const std::string& bytes = file->second;
    auto size = image_size(bytes);
    if (!size) return skip("snapshot is not a JPEG or PNG");
    auto boxes = parse_value(r.boxes_json);
    if (!boxes || !boxes->is_array()) return skip("boxes unreadable");
    const double W = size->first, H = size->second;
    json::array jboxes;
    std::string yolo;
    for (const auto& bv : boxes->as_array()) {
      if (!bv.is_object()) continue;
      const auto& b = bv.as_object();
      auto num = [&](const char* k) {
        const auto* v = b.if_contains(k);
        return v && v->is_number() ? v->to_number<double>() : 0.0;
      };
      std::string label;
      if (const auto* l = b.if_contains("label"); l && l->is_string()) label = std::string(l->as_string());
      if (f_.label && label != *f_.label) continue;
      const double x = num("x"), y = num("y"), w = num("w"), h = num("h");
      if (w <= 0 || h <= 0) continue;
      json::object jb{{"label", label}, {"x", x}, {"y", y}, {"w", w}, {"h", h}, {"false_positive", !r.approved}};
      if (const auto* s = b.if_contains("score"); s && s->is_number()) jb["score"] = *s;
      jboxes.push_back(std::move(jb));
      if (r.approved) {
        yolo += std::to_string(class_of(label)) + " " + fmt6((x + w / 2) / W) + " " + fmt6((y + h / 2) / H) + " " +
                fmt6(w / W) + " " + fmt6(h / H) + "\n";
      }
    }
    if (jboxes.empty()) return skip(f_.label ? "no box of the label" : "no boxes");
    const bool png = bytes.size() > 4 && bytes[0] == '\x89';
    const std::string image = "images/" + r.id + (png ? ".png" : ".jpg");
    const std::string labels = "labels/" + r.id + ".txt";
    entry(image, bytes);
    entry(labels, yolo);
    item["image"] = image;
    item["labels"] = labels;
    item["width"] = size->first;
    item["height"] = size->second;
    item["boxes"] = std::move(jboxes);
    (r.approved ? positives_ : negatives_)++;
    manifest_items_.push_back(std::move(item));
  }

  void finish() {
    std::string classes;
    for (const auto& c : class_order_) classes += c + "\n";
    entry("classes.txt", classes);
    json::object files;
    for (const auto& [name, sha] : files_) files[name] = sha;
    json::object m{{"generated_at", format_rfc3339(ctx_.clock->now_ms(), ctx_.options.utc_offset_minutes)},
                   {"format", "yolo"},
                   {"filters", f_.echo},
                   {"positives", positives_},
                   {"hard_negatives", negatives_},
                   {"items", std::move(manifest_items_)},
                   {"skipped", std::move(skipped_)},
                   {"truncated", truncated_},
                   {"files", std::move(files)}};
    const std::string text = json::serialize(m);
    if (!zip_.begin("manifest.json") || !zip_.write(text) || !zip_.end() || !zip_.finish())
      throw std::runtime_error(zip_.error());
    finished_ = true;
  }

  ApiContext& ctx_;
  auth::Principal who_;
  Filters f_;
  std::vector<Reviewed> items_;
  bool truncated_;
  std::string out_;
  reports::ZipStream zip_;
  mutable std::mutex mu_;
  size_t next_ = 0;
  bool finished_ = false, done_ = false, failed_ = false, cancelled_ = false;
  std::map<std::string, std::string> files_;
  std::map<std::string, int> classes_;
  std::vector<std::string> class_order_;
  json::array manifest_items_, skipped_;
  std::int64_t positives_ = 0, negatives_ = 0;
};

}  // namespace

json::value latest_evaluation(ApiContext& ctx, const std::string& model_id) {
  storage::Conn c = ctx.db->acquire();
  auto rows = c->query(
      "SELECT id, dataset, report, created_at FROM vision_evaluations WHERE model_id = $1 "
      "ORDER BY created_at DESC, id DESC LIMIT 1",
      {model_id});
  if (rows.empty()) return nullptr;
  auto report = parse_value(rows[0].text(2));
  return json::object{{"id", rows[0].text(0)},
                      {"dataset", rows[0].text(1)},
                      {"classes", report && report->is_object() && report->as_object().contains("classes")
                                      ? report->as_object().at("classes")
                                      : json::value(json::object())},
                      {"created_at", format_rfc3339(rows[0].integer(3), ctx.options.utc_offset_minutes)}};
}

namespace {

// {dataset, report: {classes: {name: {precision, recall, ap50, tp, fp, fn}}}} as
// `mingchu vision eval --json` prints the report
Result<std::pair<std::string, json::object>> read_evaluation(const json::object& body) {
  const auto* ds = body.if_contains("dataset");
  if (!ds || !ds->is_string() || ds->as_string().empty() || ds->as_string().size() > 200)
    return Error::invalid("dataset", "invalid_dataset", "dataset names the evaluation set (1 to 200 bytes)");
  for (const auto& [k, v] : body)
    if (k != "dataset" && k != "report")
      return Error::invalid(std::string(k), "unknown_field", "unknown field '" + std::string(k) + "'");
  const auto* rep = body.if_contains("report");
  if (!rep || !rep->is_object()) return Error::invalid("report", "invalid_report", "report is the eval command's JSON");
  const auto* classes = rep->as_object().if_contains("classes");
  if (!classes || !classes->is_object() || classes->as_object().empty() || classes->as_object().size() > 1000)
    return Error::invalid("report.classes", "invalid_report", "report.classes holds 1 to 1000 classes");
  json::object clean;
  for (const auto& [name, fig] : classes->as_object()) {
    const std::string f = "report.classes." + std::string(name);
    if (name.empty() || name.size() > 64) return Error::invalid("report.classes", "invalid_report", "class names are 1 to 64 bytes");
    if (!fig.is_object()) return Error::invalid(f, "invalid_report", f + " must be an object");
    json::object c;
    for (const char* k : {"precision", "recall", "ap50"}) {
      const auto* v = fig.as_object().if_contains(k);
      if (!v || !v->is_number() || !(v->to_number<double>() >= 0 && v->to_number<double>() <= 1))
        return Error::invalid(f + "." + k, "invalid_report", f + "." + k + " is a number 0 to 1");
      c[k] = v->to_number<double>();
    }
    for (const char* k : {"tp", "fp", "fn"}) {
      const auto* v = fig.as_object().if_contains(k);
      if (!v || !v->is_number() || !(v->to_number<double>() >= 0 && v->to_number<double>() <= 1e9) ||
          v->to_number<double>() != std::floor(v->to_number<double>()))
        return Error::invalid(f + "." + k, "invalid_report", f + "." + k + " is a count");
      c[k] = static_cast<std::int64_t>(v->to_number<double>());
    }
    clean[name] = std::move(c);
  }
  return std::pair{std::string(ds->as_string()), json::object{{"classes", std::move(clean)}}};
}

}  // namespace

void add_vision_sample_routes(Router& r, ApiContext& ctx) {
  r.add(
      "POST", "/api/v1/vision/models/{id}/evaluations",
      [&ctx](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
          MC_TRY(id, path_id(req));
          if (*id != "coco-ssdlite" && (!ctx.vision_models || !ctx.vision_models->get(*id)))
            return Response::error(Error::not_found("model"));
          MC_TRY(body, read_json(req));
          MC_TRY(ev, read_evaluation(*body));
          const std::string eid = new_id("mev");
          storage::Conn c = ctx.db->acquire();
          c->exec("INSERT INTO vision_evaluations (id, model_id, dataset, report, created_by, created_at) "
                  "VALUES ($1, $2, $3, $4, $5, $6)",
                  {eid, *id, ev->first, json::serialize(ev->second), who->user_id, ctx.clock->now_ms()});
          return Response::json(201, latest_evaluation(ctx, *id).as_object());
        });
      },
      256 * 1024);

  r.add("GET", "/api/v1/vision/samples", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate_role(ctx, req, auth::Role::kRegulator));
      MC_TRY(f, read_filters(ctx, req, true));
      auto items = query_reviewed(ctx, *who, *f, kMaxSamples + 1);
      const bool truncated = items.size() > static_cast<size_t>(kMaxSamples);
      if (truncated) items.resize(kMaxSamples);
      Response resp;
      resp.status = 200;
      resp.content_type = "application/zip";
      resp.headers.emplace_back("Content-Disposition", "attachment; filename=\"vision-samples.zip\"");
      resp.headers.emplace_back("Cache-Control", "no-store");
      resp.source = std::make_shared<SamplesZip>(ctx, *who, std::move(*f), std::move(items), truncated);
      return resp;
    });
  });

  r.add("GET", "/api/v1/vision/models/{id}/feedback", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate_role(ctx, req, auth::Role::kRegulator));
      MC_TRY(id, path_id(req));
      auto mm = model_match(ctx, *id);
      if (!mm) return Response::error(Error::not_found("model"));
      MC_TRY(f, read_filters(ctx, req, false));
      f->model_exact = mm->first;
      f->model_prefix = mm->second;
      auto items = query_reviewed(ctx, *who, *f, 1'000'000);
      std::map<int, std::pair<std::int64_t, std::int64_t>> days;  // local day -> approved, dismissed
      std::int64_t approved = 0, dismissed = 0;
      for (const auto& x : items) {
        auto& d = days[local_day(x.occurred_at, ctx.options.utc_offset_minutes)];
        (x.approved ? d.first : d.second)++;
        (x.approved ? approved : dismissed)++;
      }
      auto figures = [](std::int64_t a, std::int64_t d) {
        json::object o{{"approved", a}, {"dismissed", d}};
        o["precision"] = a + d > 0 ? json::value(static_cast<double>(a) / static_cast<double>(a + d)) : json::value();
        return o;
      };
      json::array out;
      for (const auto& [day, ad] : days) {
        json::object o = figures(ad.first, ad.second);
        o["day"] = format_date(day);
        out.push_back(std::move(o));
      }
      return Response::json(200, json::object{{"model_id", *id},
                                              {"model", mm->first ? *mm->first : std::string("coco-ssdlite")},
                                              {"days", std::move(out)},
                                              {"total", figures(approved, dismissed)}});
    });
  });
}

}  // namespace mingchu::http
