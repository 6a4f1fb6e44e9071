#include "vision/remote.hpp"

#include <curl/curl.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/log.hpp"
#include "core/time.hpp"
#include "crypto/base64.hpp"
#include "crypto/sm3.hpp"
#include "vision/onnx_detector.hpp"
#include "video/source.hpp"

namespace mingchu::vision {

namespace {

size_t collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > 64u * 1024 * 1024) return 0;  // no answer of ours is this big
  out->append(data, size * n);
  return size * n;
}

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error http_error(const std::string& what, const RemoteReply& r) {
  std::string msg = what + ": HTTP " + std::to_string(r.status);
  if (auto o = parse_object(r.body); o && o->contains("error") && o->at("error").is_object()) {
    if (const auto* m = o->at("error").as_object().if_contains("message"); m && m->is_string())
      msg += " " + std::string(m->as_string());
  }
  if (r.status == 401 || r.status == 403) return Error{ErrorKind::kForbidden, "refused", msg, {}};
  return Error{ErrorKind::kUnavailable, "server_error", msg, {}};
}

}  // namespace

Result<RemoteReply> remote_request(const RemoteOptions& o, const std::string& method, const std::string& path,
                                   const std::string& json_body) {
  CURL* h = curl_easy_init();
  if (!h) return Error::unavailable("libcurl: no handle");
  RemoteReply reply;
  const std::string url = trim_slash(o.server) + path;
  const std::string key = "X-Api-Key: " + o.api_key;
  curl_slist* headers = curl_slist_append(nullptr, key.c_str());
  headers = curl_slist_append(headers, "Accept: application/json");
  if (method == "POST") headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout_ms));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply.body);
  if (method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, json_body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json_body.size()));
  }
  const CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK)
    return Error{ErrorKind::kUnavailable, "server_unreachable", method + " " + url + ": " + curl_easy_strerror(rc), {}};
  return reply;
}

json::object event_to_json(const ingest::AlertEvent& ev) {
  json::object o{{"event_id", ev.event_id}, {"type", ev.type}, {"occurred_at", format_rfc3339(ev.occurred_at)}};
  if (ev.camera_id) o["camera_id"] = *ev.camera_id;
  if (ev.unit_id && !ev.camera_id) o["unit_id"] = *ev.unit_id;
  if (ev.confidence) o["confidence"] = *ev.confidence;
  if (ev.snapshot) o["snapshot_base64"] = crypto::base64_encode(ev.snapshot->bytes);
  if (ev.model) o["model"] = *ev.model;
  json::array boxes;
  for (const auto& b : ev.boxes) {
    json::object jb{{"x", b.x}, {"y", b.y}, {"w", b.w}, {"h", b.h}, {"label", b.label}};
    if (b.score) jb["score"] = *b.score;
    boxes.push_back(std::move(jb));
  }
  if (!boxes.empty()) o["boxes"] = std::move(boxes);
  return o;
}

namespace {

// One analysed camera's live FLV, pulled by a thread of its own; keeps the newest GOP.
class Puller {
 public:
  Puller(const RemoteOptions& o, std::string camera_id) : o_(o), id_(std::move(camera_id)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Puller() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
      if (source_) source_->interrupt();
    }
    cv_.notify_all();
    thread_.join();
  }
  // the newest GOP and its codec; an error while there is none
  Result<std::vector<video::AccessUnit>> gop(video::CodecInfo* codec) {
    std::lock_guard lk(mu_);
    if (gop_.empty()) {
      if (!error_.empty()) return Error{ErrorKind::kUnavailable, "no_frames", error_, {}};
      return std::vector<video::AccessUnit>{};
    }
    *codec = codec_;
    return gop_;
  }

 private:
  void run() {
    while (!stopping()) {
      auto st = pull_once();
      {
        std::lock_guard lk(mu_);
        error_ = st ? "the live stream ended" : st.error().message;
        gop_.clear();
      }
      log::warn("vision remote: live stream of a camera broke; reopening",
                {{"camera", id_}, {"error", st ? "ended" : st.error().message}});
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::seconds(2), [this] { return stop_; });
    }
  }

  bool stopping() {
    std::lock_guard lk(mu_);
    return stop_;
  }

  Status pull_once() {
    auto live = remote_request(o_, "POST", "/api/v1/cameras/" + id_ + "/live", R"({"quality":"sd"})");
    if (!live) return live.error();
    if (live->status != 200) return http_error("POST /api/v1/cameras/" + id_ + "/live", *live);
    auto body = parse_object(live->body);
    if (!body || !body->contains("flv_url") || !body->at("flv_url").is_string())
      return Error::unavailable("the server offers no FLV for camera " + id_);
    std::string url(body->at("flv_url").as_string());
    if (!url.starts_with("http")) url = trim_slash(o_.server) + url;
    video::RtspOptions ro;
    ro.url = url;
    ro.io_timeout = std::chrono::milliseconds(8000);
    ro.probe = std::chrono::milliseconds(700);
    std::unique_ptr<video::Source> src = video::make_http_flv_source(ro);
    {
      std::lock_guard lk(mu_);
      if (stop_) return ok_status();
      source_ = src.get();
    }
    auto codec = src->open();
    if (codec) {
      std::lock_guard lk(mu_);
      codec_ = *codec;
    }
    Status result = ok_status();
    if (!codec) {
      result = codec.error();
    } else {
      for (;;) {
        auto u = src->read();
        if (!u) {
          result = u.error();
          break;
        }
        video::AccessUnit au;
        au.packet = u->packet;
        au.dts_us = u->dts_us;
        au.pts_us = u->pts_us;
        au.key = u->key;
        au.wall_ms = now_ms();
        std::lock_guard lk(mu_);
        if (stop_) break;
        if (au.key) gop_.clear();
        if (!gop_.empty() || au.key) {
          if (gop_.size() < 600) gop_.push_back(std::move(au));
        }
        error_.clear();
      }
    }
    std::lock_guard lk(mu_);
    source_ = nullptr;
    return result;
  }

  RemoteOptions o_;
  std::string id_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  video::Source* source_ = nullptr;
  video::CodecInfo codec_;
  std::vector<video::AccessUnit> gop_;
  std::string error_;
  std::thread thread_;
};

class RemoteFeed final : public FrameFeed {
 public:
  explicit RemoteFeed(RemoteOptions o) : o_(std::move(o)) {}

  std::vector<CameraTarget> cameras() override {
    std::vector<CameraTarget> out;
    for (int page = 1; page <= 1000; ++page) {
      auto r = remote_request(o_, "GET", "/api/v1/cameras?page_size=200&page=" + std::to_string(page));
      if (!r) throw std::runtime_error(r.error().message);
      if (r->status != 200) throw std::runtime_error(http_error("GET /api/v1/cameras", *r).message);
      auto body = parse_object(r->body);
      if (!body || !body->contains("items") || !body->at("items").is_array())
        throw std::runtime_error("GET /api/v1/cameras: not a list");
      const auto& items = body->at("items").as_array();
      for (const auto& it : items) {
        if (!it.is_object()) continue;
        const auto& c = it.as_object();
        const auto* ai = c.if_contains("ai_enabled");
        const auto* id = c.if_contains("id");
        const auto* unit = c.if_contains("unit_id");
        if (!ai || !ai->is_bool() || !ai->as_bool() || !id || !id->is_string()) continue;
        CameraTarget t;
        t.id = std::string(id->as_string());
        if (unit && unit->is_string()) t.unit_id = std::string(unit->as_string());
        t.ai = default_camera_ai();
        auto s = remote_request(o_, "GET", "/api/v1/cameras/" + t.id + "/ai");
        if (s && s->status == 200) {
          auto so = parse_object(s->body);
          if (so) {
            // the server's answer carries what it stores plus these; the rest is the settings
            so->erase("camera_id");
            so->erase("ai_enabled");
            auto parsed = parse_camera_ai(*so, [](const std::string&) { return true; });
            if (parsed) {
              t.ai = std::move(*parsed);
            } else {
              log::warn("vision remote: camera AI settings unreadable; the defaults", {{"camera", t.id}});
            }
          }
        } else {
          log::warn("vision remote: cannot read a camera's AI settings; the defaults",
                    {{"camera", t.id}, {"error", s ? "HTTP " + std::to_string(s->status) : s.error().message}});
        }
        out.push_back(std::move(t));
      }
      const auto total = body->contains("total") && body->at("total").is_int64() ? body->at("total").as_int64() : 0;
      if (items.empty() || static_cast<std::int64_t>(page) * 200 >= total) break;
    }
    // the units' rosters (stranger)
    std::map<std::string, std::optional<Roster>> rosters;
    for (auto& t : out) {
      if (t.unit_id.empty()) continue;
      auto it = rosters.find(t.unit_id);
      if (it == rosters.end()) {
        std::optional<Roster> roster;
        auto rr = remote_request(o_, "GET", "/api/v1/units/" + t.unit_id + "/roster");
        if (rr && rr->status == 200) {
          auto ro = parse_object(rr->body);
          if (ro && ro->contains("shifts")) {
            auto parsed = parse_roster(ro->at("shifts"));
            if (parsed && !parsed->shifts.empty()) roster = std::move(*parsed);
          }
        }
        it = rosters.emplace(t.unit_id, std::move(roster)).first;
      }
      t.roster = it->second;
    }
    // pullers of cameras no longer analysed stop
    std::set<std::string> keep;
    for (const auto& t : out) keep.insert(t.id);
    std::vector<std::unique_ptr<Puller>> gone;
    {
      std::lock_guard lk(mu_);
      for (auto it = pullers_.begin(); it != pullers_.end();) {
        if (!keep.contains(it->first)) {
          gone.push_back(std::move(it->second));
          it = pullers_.erase(it);
        } else {
          ++it;
        }
      }
    }
    return out;  // gone's pullers are joined here, outside the lock
  }

  Result<std::optional<Frame>> next_frame(const std::string& camera_id, TimeMs last_wall, double rate) override {
    Puller* p = nullptr;
    {
      std::lock_guard lk(mu_);
      auto& slot = pullers_[camera_id];
      if (!slot) slot = std::make_unique<Puller>(o_, camera_id);
      p = slot.get();
    }
    video::CodecInfo codec;
    auto gop = p->gop(&codec);
    if (!gop) return gop.error();
    return pick_frame(codec, *gop, last_wall, rate, o_.max_width);
  }

 private:
  RemoteOptions o_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Puller>> pullers_;
};

class RemoteSink final : public AlertSink {
 public:
  explicit RemoteSink(RemoteOptions o) : o_(std::move(o)) {}
  void send(const std::string&, ingest::AlertEvent ev, std::function<void(bool, std::string)> done) override {
    const std::string body = json::serialize(event_to_json(ev));
    // a lost answer is sent again (the event id makes it idempotent)
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto r = remote_request(o_, "POST", "/api/v1/ingest/alerts", body);
      if (r && r->status >= 200 && r->status < 300) {
        std::string alert_id;
        if (auto o = parse_object(r->body); o && o->contains("alert_id") && o->at("alert_id").is_string())
          alert_id = std::string(o->at("alert_id").as_string());
        return done(true, alert_id);
      }
      if (r && r->status >= 400 && r->status < 500 && r->status != 429) {
        log::warn("vision remote: the server refused an event",
                  {{"event", ev.event_id}, {"error", http_error("POST /api/v1/ingest/alerts", *r).message}});
        return done(false, {});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500 * (attempt + 1)));
    }
    log::warn("vision remote: an event could not be delivered", {{"event", ev.event_id}});
    done(false, {});
  }

 private:
  RemoteOptions o_;
};

}  // namespace

ModelLoader make_remote_model_loader(RemoteOptions o, std::filesystem::path cache_dir) {
  return [o = std::move(o), dir = std::move(cache_dir)](const std::string& id) -> Result<std::unique_ptr<Detector>> {
    auto meta = remote_request(o, "GET", "/api/v1/vision/models/" + id);
    if (!meta) return meta.error();
    if (meta->status != 200) return http_error("GET /api/v1/vision/models/" + id, *meta);
    auto m = parse_object(meta->body);
    if (!m || !m->contains("sha256") || !m->at("sha256").is_string() || !m->contains("name") ||
        !m->at("name").is_string() || !m->contains("version"))
      return Error::unavailable("the server's answer for model " + id + " is not a model");
    const std::string sha(m->at("sha256").as_string());
    const std::string name(m->at("name").as_string());
    const std::string version =
        m->at("version").is_int64() ? std::to_string(m->at("version").as_int64()) : json::serialize(m->at("version"));
    if (sha.size() != 64 || !std::all_of(sha.begin(), sha.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        }))
      return Error::unavailable("model " + id + ": no SHA-256");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    const std::filesystem::path file = dir / (sha + ".onnx");
    if (!std::filesystem::exists(file, ec)) {
      // content-addressed: a file is fetched once and checked against the server's digest
      auto body = remote_request(o, "GET", "/api/v1/vision/models/" + id + "/file");
      if (!body) return body.error();
      if (body->status != 200) return http_error("GET /api/v1/vision/models/" + id + "/file", *body);
      if (crypto::sha256_hex(body->body) != sha)
        return Error::unavailable("model " + id + ": the file does not match its SHA-256");
      const std::filesystem::path tmp = dir / (sha + ".onnx.tmp" + std::to_string(now_ms()));
      {
        std::ofstream out(tmp, std::ios::binary);
        out.write(body->body.data(), static_cast<std::streamsize>(body->body.size()));
        if (!out) return Error::unavailable("cannot write " + tmp.string());
      }
      std::filesystem::rename(tmp, file, ec);
      if (ec) return Error::unavailable("cannot write " + file.string());
    }
    auto toml = remote_request(o, "GET", "/api/v1/vision/models/" + id + "/classmap");
    if (!toml) return toml.error();
    if (toml->status != 200) return http_error("GET /api/v1/vision/models/" + id + "/classmap", *toml);
    auto cm = parse_classmap(toml->body, [](const std::string&) { return true; });
    if (!cm) return cm.error();
    return load_onnx_detector(file, *cm, id, name, version, sha);
  };
}

std::unique_ptr<FrameFeed> make_remote_feed(RemoteOptions o) { return std::make_unique<RemoteFeed>(std::move(o)); }
std::unique_ptr<AlertSink> make_remote_sink(RemoteOptions o) { return std::make_unique<RemoteSink>(std::move(o)); }

int remote_command(RemoteArgs a) {
  a.remote.server = trim_slash(a.remote.server);
  if (!(a.remote.server.starts_with("http://") || a.remote.server.starts_with("https://")) ||
      a.remote.server.size() > 2000) {
    std::cerr << "mingchu vision: --server must be an http:// or https:// URL\n";
    return 2;
  }
  if (a.remote.api_key.empty() || a.remote.api_key.size() > 512) {
    std::cerr << "mingchu vision: --api-key (or MINGCHU_API_KEY) is required\n";
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto probe = remote_request(a.remote, "GET", "/api/v1/cameras?page_size=1");
  if (!probe) {
    std::cerr << "mingchu vision: " << probe.error().message << "\n";
    return 1;
  }
  if (probe->status == 401 || probe->status == 403) {
    std::cerr << "mingchu vision: the server refuses the key: " << http_error("GET /api/v1/cameras", *probe).message
              << "\n";
    return 3;
  }
  if (probe->status != 200) {
    std::cerr << "mingchu vision: " << http_error("GET /api/v1/cameras", *probe).message << "\n";
    return 1;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the threads start: they inherit it
  std::signal(SIGPIPE, SIG_IGN);
  SystemClock clock;
  Metrics metrics;
  a.vision.enabled = true;
  a.vision.max_width = a.remote.max_width;
  const std::filesystem::path cache =
      !a.remote.cache_dir.empty() ? a.remote.cache_dir
                                  : (a.vision.model_dir.empty() ? default_model_dir() : a.vision.model_dir) / "remote";
  VisionService svc(clock, metrics, a.vision, make_remote_feed(a.remote), make_remote_sink(a.remote),
                    make_remote_model_loader(a.remote, cache));
  svc.start();
  if (!svc.status().at("running").as_bool()) {
    std::cerr << "mingchu vision: no detector (see the log)\n";
    return 1;
  }
  log::info("vision remote: running", {{"server", a.remote.server}});
  int sig = 0;
  sigwait(&set, &sig);
  log::info("vision remote: stopping", {{"signal", std::to_string(sig)}});
  svc.stop();
  return 0;
}

}  // namespace mingchu::vision
