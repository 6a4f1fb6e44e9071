// Video (docs/video.md, API.md "Video"): live URLs, snapshots, recordings, playback, clips, the
// public page's live view, the node's status, and the /media/... URLs that players fetch with a
// signed token in the path instead of a header.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/time.hpp"
#include "http/handler_util.hpp"
#include "video/video_service.hpp"

namespace mingchu::http {
namespace {

// An HTTP-FLV viewer's bytes as the server's streaming response.
class FlvStream final : public EventStream {
 public:
  FlvStream(std::shared_ptr<video::ByteQueue> q, video::VideoService& svc) : q_(std::move(q)), svc_(svc) {}
  ~FlvStream() override { q_->close(); }
  std::optional<std::string> next(std::chrono::milliseconds wait) override {
    auto b = q_->next(wait);
    if (b) svc_.count_bytes_out(b->size());
    return b;
  }
  bool closed() const override { return q_->closed(); }
  std::string content_type() const override { return "video/x-flv"; }
  bool sse() const override { return false; }
  std::chrono::milliseconds poll() const override { return std::chrono::milliseconds(10); }

 private:
  std::shared_ptr<video::ByteQueue> q_;
  video::VideoService& svc_;
};

json::object live_json(const ApiContext& ctx, const video::LiveUrls& u) {
  json::object o{{"hls_url", u.hls_url}, {"expires_at", format_time(ctx, u.expires_at)}};
  if (!u.flv_url.empty()) {
    o["flv_url"] = u.flv_url;
    o["codec"] = u.codec;
    o["transcoded"] = u.transcoded;
  }
  return o;
}

Response media(std::string body, std::string type) {
  Response r;
  r.content_type = std::move(type);
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

// A required RFC 3339 time parameter.
Result<TimeMs> required_time(const ApiContext& ctx, const Request& req, std::string_view name) {
  auto t = query_time(ctx, req, name);
  if (!t) return t.error();
  if (!*t) return Error::invalid(std::string(name), "missing_field", "query parameter '" + std::string(name) + "' is required (RFC 3339)");
  return **t;
}

// GET /api/v1/cameras/{id}/...?from=&to=: the caller, the camera id and a required time range,
// in this order.
struct CameraRange {
  auth::Principal who;
  std::string id;
  TimeMs from = 0, to = 0;
};
Result<CameraRange> camera_range(ApiContext& ctx, const Request& req) {
  auto who = authenticate(ctx, req);
  if (!who) return who.error();
  auto id = path_id(req);
  if (!id) return id.error();
  auto from = required_time(ctx, req, "from");
  if (!from) return from.error();
  auto to = required_time(ctx, req, "to");
  if (!to) return to.error();
  return CameraRange{std::move(*who), std::move(*id), *from, *to};
}

Response file_response(const video::ClipFile& f, const std::string& download_name) {
  std::ifstream in(f.path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  Response r;
  r.content_type = "video/mp4";
  r.body = ss.str();
  if (f.temporary) {
    std::error_code ec;
    std::filesystem::remove(f.path, ec);
  }
  if (r.body.empty()) return Response::error(404, "not_found", "clip not found");
  r.headers.emplace_back("X-Content-SM3", f.sm3);
  if (!download_name.empty()) {
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + download_name + "\"");
  }
  return r;
}

Result<std::string> quality_of(const json::object& body) {
  auto it = body.find("quality");
  if (it == body.end() || it->value().is_null()) return std::string("hd");
  if (!it->value().is_string()) return Error::invalid("quality", "invalid_value", "field 'quality' must be hd or sd");
  std::string q(it->value().as_string());
  if (q != "hd" && q != "sd") return Error::invalid("quality", "invalid_value", "field 'quality' must be hd or sd");
  return q;
}

Result<TimeMs> body_time(const json::object& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->value().is_string()) {
    return Error::invalid(key, "missing_field", std::string("field '") + key + "' is required (RFC 3339)");
  }
  auto t = parse_rfc3339(std::string(it->value().as_string()));
  if (!t) return Error::invalid(key, "invalid_time", std::string("field '") + key + "' is not an RFC 3339 time");
  return *t;
}

}  // namespace

void add_video_routes(Router& r, ApiContext& ctx) {
  if (!ctx.video) return;

  r.add_async("POST", "/api/v1/cameras/{id}/live", [&ctx](Request& req, std::function<void(Response)> done) {
    auto w = begin_object_write(ctx, req);
    if (!w) return done(Response::error(w.error()));
    auto q = quality_of(w->body);
    if (!q) return done(Response::error(q.error()));
    ctx.video->open_live(w->who, w->id, *q, [&ctx, done](Result<video::LiveUrls> u) {
      if (!u) return done(Response::error(u.error()));
      done(Response::json(200, live_json(ctx, *u)));
    });
  });

  r.add_async("GET", "/api/v1/public/units/{token}/cameras/{id}/live",
              [&ctx](Request& req, std::function<void(Response)> done) {
                auto id = path_id(req);
                if (!id) return done(Response::error(id.error()));
                ctx.video->open_public_live(req.param("token"), *id, [&ctx, done](Result<video::LiveUrls> u) {
                  if (!u) return done(Response::error(u.error()));
                  done(Response::json(200, live_json(ctx, *u)));
                });
              });

  r.add_async("GET", "/api/v1/cameras/{id}/snapshot.jpg", [&ctx](Request& req, std::function<void(Response)> done) {
    auto who = authenticate(ctx, req);
    if (!who) return done(Response::error(who.error()));
    auto id = path_id(req);
    if (!id) return done(Response::error(id.error()));
    ctx.video->snapshot(*who, *id, [done](Result<std::string> jpeg) {
      if (!jpeg) return done(Response::error(jpeg.error()));
      Response resp;
      resp.content_type = "image/jpeg";
      resp.body = std::move(*jpeg);
      resp.headers.emplace_back("Cache-Control", "no-store");
      done(std::move(resp));
    });
  });

  r.add("GET", "/api/v1/cameras/{id}/recordings", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(q, camera_range(ctx, req));
      return respond(ctx.video->recordings(q->who, q->id, q->from, q->to, ctx.options.utc_offset_minutes));
    });
  });

  r.add("POST", "/api/v1/cameras/{id}/playback", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(w, begin_object_write(ctx, req));
      MC_TRY(from, body_time(w->body, "from"));
      MC_TRY(to, body_time(w->body, "to"));
      MC_TRY(u, ctx.video->playback(w->who, w->id, *from, *to));
      return Response::json(200, live_json(ctx, *u));
    });
  });

  r.add("GET", "/api/v1/cameras/{id}/clip.mp4", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(q, camera_range(ctx, req));
      MC_TRY(f, ctx.video->clip(q->who, q->id, q->from, q->to));
      return file_response(*f, q->id + "-" + std::to_string(q->from / 1000) + ".mp4");
    });
  });

  r.add("GET", "/api/v1/video/status", [&ctx](Request& req) {
    MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
    return Response::json(200, ctx.video->status());
  });

  // ---- the players' URLs: the token in the path is the permission
  r.add("GET", "/media/live/{token}/index.m3u8", [&ctx](Request& req) {
    MC_TRY(p, ctx.video->live_playlist(req.param("token")));
    return media(std::move(*p), "application/vnd.apple.mpegurl");
  });
  r.add("GET", "/media/live/{token}/{segment}", [&ctx](Request& req) {
    std::string name = req.param("segment");
    if (name == "live.flv") {
      MC_TRY(q, ctx.video->live_flv(req.param("token")));
      Response resp;
      resp.stream = std::make_shared<FlvStream>(std::move(*q), *ctx.video);
      resp.headers.emplace_back("Access-Control-Allow-Origin", "*");
      return resp;
    }
    unsigned long long seq = 0;
    char tail[8] = {0};
    if (name.size() > 24 || std::sscanf(name.c_str(), "%llu.%3s", &seq, tail) != 2 || std::string(tail) != "ts") {
      return Response::error(404, "not_found", "segment not found");
    }
    MC_TRY(s, ctx.video->live_segment(req.param("token"), seq));
    return media(**s, "video/mp2t");
  });
  r.add("GET", "/media/vod/{token}/index.m3u8", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(p, ctx.video->vod_playlist(req.param("token")));
      return media(std::move(*p), "application/vnd.apple.mpegurl");
    });
  });
  r.add("GET", "/media/vod/{token}/{segment}", [&ctx](Request& req) {
    return guarded([&] {
      std::string name = req.param("segment");
      if (name.size() < 4 || !name.ends_with(".ts")) return Response::error(404, "not_found", "segment not found");
      MC_TRY(s, ctx.video->vod_segment(req.param("token"), name.substr(0, name.size() - 3)));
      return media(std::move(*s), "video/mp2t");
    });
  });
  r.add("GET", "/media/clips/{file}", [&ctx](Request& req) {
    return guarded([&] {
      std::string name = req.param("file");
      if (name.size() < 5 || !name.ends_with(".mp4")) return Response::error(404, "not_found", "clip not found");
      MC_TRY(f, ctx.video->clip_by_token(name.substr(0, name.size() - 4)));
      return file_response(*f, "");
    });
  });
}

json::array alert_clips_json(ApiContext& ctx, const std::string& alert_id) {
  json::array out;
  if (!ctx.video) return out;
  for (const auto& c : ctx.video->alert_clips(alert_id)) {
    json::object o{{"id", c.id},
                   {"camera_id", c.camera_id},
                   {"from", format_time(ctx, c.from)},
                   {"to", format_time(ctx, c.to)},
                   {"state", c.state}};
    o["sm3"] = c.sm3.empty() ? json::value(nullptr) : json::value(c.sm3);
    o["bytes"] = c.bytes;
    o["url"] = c.url.empty() ? json::value(nullptr) : json::value(c.url);
    if (!c.error.empty() && c.state != "ready") o["error"] = c.error;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace mingchu::http
