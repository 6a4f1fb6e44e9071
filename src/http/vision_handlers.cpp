// Vision (docs/vision.md, API.md "Vision"): the models the algorithm server runs, the per-camera
// AI settings (types on/off, scores, zones, schedules, K of N, cooldown) and the pipeline's
// status. Settings are JSON checked by vision::parse_camera_ai against the alert taxonomy.
#include <fstream>
#include <sstream>

#include "alerts/alert_service.hpp"
#include "alerts/alerts_config.hpp"
#include "audit/audit_log.hpp"
#include "files/multipart.hpp"
#include "http/handler_util.hpp"
#include "http/vision_samples.hpp"
#include "registry/registry.hpp"
#include "storage/database.hpp"
#include "vision/detector.hpp"
#include "vision/model_registry.hpp"
#include "vision/rules.hpp"
#include "vision/vision_service.hpp"

namespace mingchu::http {
namespace {

constexpr size_t kAiBodyLimit = 64 * 1024;
constexpr size_t kModelBodyLimit = 40u * 1024 * 1024;
constexpr const char* kGetAi = "SELECT config FROM camera_ai WHERE camera_id = $1";
constexpr const char* kPutAi =
    "INSERT INTO camera_ai (camera_id, config, updated_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (camera_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at";
constexpr const char* kSetAiEnabled = "UPDATE cameras SET ai_enabled = $1, updated_at = $2 WHERE id = $3";
constexpr const char* kModelExists = "SELECT 1 FROM vision_models WHERE id = $1 AND deleted_at IS NULL";

// The shipped model as the API shows it (its meta file written by scripts/convert_coco_ssd.py).
json::object builtin_model() {
  json::object m{{"id", "coco-ssdlite"}, {"name", "coco-ssdlite"}, {"builtin", true}, {"format", "tf-ssd"}};
  std::ifstream in(vision::default_model_dir() / "coco-ssdlite" / "coco_ssdlite.json");
  std::ostringstream ss;
  ss << in.rdbuf();
  auto meta = parse_object(ss.str());
  if (meta) {
    if (auto* v = meta->if_contains("version")) m["version"] = *v;
    if (auto* s = meta->if_contains("source")) m["source"] = *s;
    if (auto* h = meta->if_contains("sha256"); h && h->is_object()) {
      if (auto* pb = h->as_object().if_contains("coco_ssdlite.pb")) m["sha256"] = *pb;
    }
    m["installed"] = true;
  } else {
    m["installed"] = false;
  }
  json::array labels;
  for (const auto& l : vision::coco_labels())
    if (!l.empty()) labels.emplace_back(l);
  m["labels"] = std::move(labels);
  m["licence"] = "Apache-2.0";
  return m;
}

json::object stored_ai(storage::Connection& c, const std::string& camera_id) {
  auto rows = c.query(kGetAi, {camera_id});
  if (rows.empty()) return {};
  auto o = parse_object(rows[0].text(0));
  return o ? *o : json::object{};
}

Result<vision::CameraAi> settings_of(const json::object& raw) {
  return vision::parse_camera_ai(raw, [](const std::string&) { return true; });
}

json::object ai_answer(const std::string& camera_id, bool ai_enabled, const vision::CameraAi& ai) {
  json::object o = vision::camera_ai_to_json(ai);
  o["camera_id"] = camera_id;
  o["ai_enabled"] = ai_enabled;
  return o;
}

}  // namespace

void add_vision_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/v1/vision/status", [&ctx](Request& req) {
    MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
    if (!ctx.vision) return Response::json(200, json::object{{"enabled", false}, {"running", false}});
    return Response::json(200, ctx.vision->status());
  });

  r.add("GET", "/api/v1/vision/models", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(pg, page_params(req));
      json::array items;
      items.push_back(builtin_model());
      if (ctx.vision_models)
        for (auto& m : ctx.vision_models->list()) items.push_back(std::move(m));
      for (auto& m : items) {
        auto& o = m.as_object();
        o["evaluation"] = latest_evaluation(ctx, std::string(o.at("id").as_string()));
      }
      const auto total = static_cast<std::int64_t>(items.size());
      return Response::json(200, list_body(std::move(items), total, *pg));
    });
  });
  r.add("GET", "/api/v1/vision/models/{id}", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      json::object m;
      if (*id == "coco-ssdlite") {
        m = builtin_model();
      } else {
        if (!ctx.vision_models) return Response::error(Error::not_found("model"));
        MC_TRY(got, ctx.vision_models->get(*id));
        m = std::move(*got);
      }
      m["evaluation"] = latest_evaluation(ctx, *id);
      return Response::json(200, m);
    });
  });
  r.add("DELETE", "/api/v1/vision/models/{id}", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
      MC_TRY(id, path_id(req));
      if (*id == "coco-ssdlite")
        return Response::error(Error::conflict("builtin_model", "the shipped model cannot be deleted"));
      if (!ctx.vision_models) return Response::error(Error::not_found("model"));
      if (auto st = ctx.vision_models->remove(*id); !st) return Response::error(st.error());
      if (ctx.vision) ctx.vision->models_changed();  // the workers stop running it
      ctx.audit->append(*ctx.db, audit::Entry{who->user_id, who->username, "platform_admin", "vision.model.delete",
                                              "model:" + *id, who->source, "ok", ""});
      return Response::no_content();
    });
  });
  r.add(
      "POST", "/api/v1/vision/models",
      [&ctx](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
          auto ct = req.header("content-type");
          if (!ct || ct->rfind("multipart/form-data", 0) != 0)
            return Response::error(Error{ErrorKind::kUnsupported,
                                         "unsupported_media_type",
                                         "upload as multipart/form-data with 'model' (ONNX) and 'classmap' (TOML)",
                                         {}});
          MC_TRY(parts, files::parse_multipart(*ct, req.body, 4));
          const files::MultipartPart *model = nullptr, *classmap = nullptr;
          for (const auto& part : *parts) {
            if (part.name == "model" && !model) {
              model = &part;
            } else if (part.name == "classmap" && !classmap) {
              classmap = &part;
            } else {
              std::string name = part.name.substr(0, 64);
              return Response::error(Error::invalid(name, "unknown_field", "unexpected form field '" + name + "'"));
            }
          }
          if (!model)
            return Response::error(Error::invalid("model", "missing_field", "form field 'model' (ONNX) is required"));
          if (!classmap)
            return Response::error(
                Error::invalid("classmap", "missing_field", "form field 'classmap' (TOML) is required"));
          if (!ctx.vision_models) return Response::error(Error::unavailable("models are not available"));
          auto r = ctx.vision_models->upload(model->data, classmap->data);
          ctx.audit->append(*ctx.db, audit::Entry{who->user_id, who->username, "platform_admin", "vision.model.upload",
                                                  r ? "model:" + std::string(r->at("id").as_string()) : "model",
                                                  who->source, r ? "ok" : "failed", r ? "" : r.error().code});
          return respond(r, 201);
        });
      },
      kModelBodyLimit);

  r.add("GET", "/api/v1/cameras/{id}/ai", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      MC_TRY(cam, ctx.registry->get_camera(*who, *id));  // 404 out of scope
      storage::Conn c = ctx.db->acquire();
      auto ai = settings_of(stored_ai(*c, *id));
      if (!ai) ai = vision::default_camera_ai();
      return Response::json(200, ai_answer(*id, cam->ai_enabled, *ai));
    });
  });

  r.add(
      "PATCH", "/api/v1/cameras/{id}/ai",
      [&ctx](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(cam, ctx.registry->get_camera(*who, *id));  // 404 out of scope, before anything else
          if (who->role == auth::Role::kMerchant || who->ingest_only ||
              (who->is_api_key && !(who->permissions & auth::kPermWrite)))
            return Response::error(Error::forbidden("only regulators and platform administrators set AI rules"));
          MC_TRY(body, read_json(req));
          std::optional<bool> enabled;
          json::object patch = *body;
          if (auto* e = patch.if_contains("ai_enabled")) {
            if (!e->is_bool())
              return Response::error(Error::invalid("ai_enabled", "invalid_type", "ai_enabled must be true or false"));
            enabled = e->as_bool();
            patch.erase("ai_enabled");
          }
          storage::Conn c = ctx.db->acquire();
          json::object merged = stored_ai(*c, *id);
          for (const auto& [k, v] : patch) {
            if (k == "types" && v.is_object() && merged.contains("types") && merged["types"].is_object()) {
              auto& types = merged["types"].as_object();
              for (const auto& [code, tv] : v.as_object()) {
                if (tv.is_object() && types.contains(code) && types[code].is_object()) {
                  for (const auto& [f, fv] : tv.as_object()) types[code].as_object()[f] = fv;
                } else {
                  types[code] = tv;
                }
              }
            } else {
              merged[k] = v;
            }
          }
          const auto& taxonomy = ctx.alerts->config();
          auto ai = vision::parse_camera_ai(
              merged, [&taxonomy](const std::string& code) { return taxonomy.find_type(code) != nullptr; });
          if (!ai) return Response::error(ai.error());
          for (const auto& m : ai->models) {
            if (m == "coco-ssdlite") continue;
            if (c->query(kModelExists, {m}).empty())
              return Response::error(Error::invalid("models", "unknown_model", "no model '" + m + "'"));
          }
          const TimeMs now = ctx.clock->now_ms();
          {
            storage::Transaction tx(*c);
            c->exec(kPutAi, {*id, json::serialize(merged), now});
            if (enabled) c->exec(kSetAiEnabled, {std::int64_t{*enabled ? 1 : 0}, now, *id});
            ctx.audit->append(*c, audit::Entry{who->user_id, who->username, std::string(auth::role_name(who->role)),
                                               "camera.ai.update", "camera:" + *id, who->source, "ok",
                                               json::serialize(patch).substr(0, 500)});
            tx.commit();
          }
          return Response::json(200, ai_answer(*id, enabled.value_or(cam->ai_enabled), *ai));
        });
      },
      kAiBodyLimit);
  // the file and class map of an uploaded model, for `mingchu vision --server` nodes
  r.add("GET", "/api/v1/vision/models/{id}/file", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate_role(ctx, req, auth::Role::kRegulator));
      MC_TRY(id, path_id(req));
      if (!ctx.vision_models) return Response::error(Error::not_found("model"));
      MC_TRY(m, ctx.vision_models->load(*id));
      std::ifstream in(m->path, std::ios::binary);
      if (!in) return Response::error(Error::unavailable("the model file is missing"));
      std::ostringstream ss;
      ss << in.rdbuf();
      Response resp;
      resp.content_type = "application/octet-stream";
      resp.body = ss.str();
      resp.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + m->name + "-" +
                                                           std::to_string(m->version) + ".onnx\"");
      resp.headers.emplace_back("X-Content-SHA256", m->sha256);
      return resp;
    });
  });
  r.add("GET", "/api/v1/vision/models/{id}/classmap", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate_role(ctx, req, auth::Role::kRegulator));
      MC_TRY(id, path_id(req));
      if (!ctx.vision_models) return Response::error(Error::not_found("model"));
      MC_TRY(m, ctx.vision_models->load(*id));
      Response resp;
      resp.content_type = "application/toml; charset=utf-8";
      resp.body = m->classmap_toml;
      return resp;
    });
  });
  add_vision_sample_routes(r, ctx);
  add_roster_routes(r, ctx);
}

}  // namespace mingchu::http
