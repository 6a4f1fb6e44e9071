// The device's own recordings (GB/T 28181 §9.7, §9.8): RecordInfo queries answered over several
// MESSAGEs up to SumNum, playback sessions (INVITE s=Playback, the range in t=) controlled with
// INFO Application/MANSRTSP in the dialog (PAUSE, PLAY with Range or Scale), MediaStatus 121
// (end of file) ending them. The stream itself goes through GbSource into the media core
// (gb_service.cpp); this file holds the signalling and the records. docs/gb28181.md.
#include <algorithm>
#include <cstdio>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "gb/gb_server.hpp"
#include "storage/database.hpp"

namespace mingchu::gb {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMaxPlaybacks = 1000;

Error device_offline() { return {ErrorKind::kUnavailable, "device_offline", "the GB/T 28181 device is offline", {}}; }

}  // namespace

// The GB channel of a camera in the caller's scope.
struct CameraChannel {
  std::string device_id, channel_id, unit_id, jpath;
};
static Result<CameraChannel> camera_channel(storage::Database& db, const auth::Principal& p,
                                            const std::string& camera_id) {
  storage::Conn c = db.acquire();
  auto rows = c->query(
      "SELECT unit_id, jpath, COALESCE(gb_device_id, ''), COALESCE(gb_channel_id, '') FROM cameras "
      "WHERE id = $1 AND deleted_at IS NULL",
      {camera_id});
  if (rows.empty() || !p.covers(rows[0].text(1), rows[0].text(0))) return Error::not_found("camera");
  CameraChannel cc{rows[0].text(2), rows[0].text(3), rows[0].text(0), rows[0].text(1)};
  if (cc.device_id.empty() || cc.channel_id.empty()) {
    return Error::invalid("id", "not_gb_camera", "the camera is not a GB/T 28181 channel");
  }
  return cc;
}

// ---------------------------------------------------------------- RecordInfo

void GbServer::record_info(const auth::Principal& p, const std::string& camera_id, TimeMs from, TimeMs to,
                           std::function<void(Result<json::object>)> done) {
  auto cc = camera_channel(db_, p, camera_id);
  if (!cc) return done(cc.error());
  if (to <= from) return done(Error::invalid("to", "invalid_range", "'to' must be after 'from'"));
  if (to - from > static_cast<TimeMs>(cfg_.record_query_max_days) * 86'400'000) {
    return done(Error::invalid("to", "range_too_long",
                               "the range may span at most " + std::to_string(cfg_.record_query_max_days) + " days"));
  }
  Peer peer;
  std::string uri;
  std::string sn = std::to_string(next_sn_++);
  {
    std::lock_guard lk(mu_);
    auto it = devices_.find(cc->device_id);
    if (it == devices_.end() || !it->second.online) return done(device_offline());
    peer = it->second.peer;
    uri = device_uri(it->second, cc->channel_id);
    RecordQuery q;
    q.device_id = cc->device_id;
    q.channel_id = cc->channel_id;
    q.deadline = std::chrono::steady_clock::now() + cfg_.record_timeout;
    q.done = std::move(done);
    record_queries_[sn] = std::move(q);
  }
  std::string body = "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Query>\r\n<CmdType>RecordInfo</CmdType>\r\n<SN>" +
                     sn + "</SN>\r\n<DeviceID>" + cc->channel_id + "</DeviceID>\r\n<StartTime>" +
                     sip::manscdp_time(from, cfg_.utc_offset_minutes) + "</StartTime>\r\n<EndTime>" +
                     sip::manscdp_time(to, cfg_.utc_offset_minutes) +
                     "</EndTime>\r\n<Secrecy>0</Secrecy>\r\n<Type>all</Type>\r\n</Query>\r\n";
  std::string branch = "z9hG4bK" + quick_random_hex(8);
  std::string msg =
      request_head("MESSAGE", uri, peer, branch) + "From: <sip:" + cfg_.sip_id + "@" + cfg_.domain +
      ">;tag=" + quick_random_hex(4) + "\r\nTo: <sip:" + cc->channel_id + "@" + cfg_.domain +
      ">\r\nCall-ID: " + quick_random_hex(8) + "@" + our_host() + "\r\nCSeq: " + std::to_string(next_cseq_++) +
      " MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  count("record_info_query");
  send_request(
      peer, std::move(msg), branch, false,
      [this, sn](const sip::SipMessage* r) {
        if (r && r->status / 100 == 2) return;  // the answers come as MESSAGEs
        std::function<void(Result<json::object>)> cb;
        {
          std::lock_guard lk(mu_);
          auto it = record_queries_.find(sn);
          if (it == record_queries_.end()) return;
          cb = std::move(it->second.done);
          record_queries_.erase(it);
        }
        if (!r) return cb(Error{ErrorKind::kUnavailable, "device_timeout", "the device did not answer", {}});
        cb(Error{ErrorKind::kUnavailable, "device_refused", "the device answered " + std::to_string(r->status), {}});
      },
      std::chrono::milliseconds(4000));
}

static json::object record_result(const RecordQuery& q, bool complete, int utc_offset_minutes) {
  struct Rec {
    TimeMs start, end;
    json::object o;
  };
  std::vector<Rec> recs;
  for (const auto& item : q.items) {
    auto get = [&](const char* k) {
      auto it = item.find(k);
      return it == item.end() ? std::string() : it->second;
    };
    auto s = sip::parse_manscdp_time(get("StartTime"), utc_offset_minutes);
    auto e = sip::parse_manscdp_time(get("EndTime"), utc_offset_minutes);
    if (!s || !e || *e < *s) continue;  // unreadable times: not a record we could play
    json::object o{{"start", format_rfc3339(*s, utc_offset_minutes)},
                   {"end", format_rfc3339(*e, utc_offset_minutes)},
                   {"name", get("Name").substr(0, 200)},
                   {"file_path", get("FilePath").substr(0, 500)},
                   {"type", get("Type").substr(0, 20)}};
    std::string size = get("FileSize");
    if (!size.empty() && std::all_of(size.begin(), size.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        size.size() < 18) {
      o["file_size"] = std::stoll(size);
    }
    recs.push_back({*s, *e, std::move(o)});
  }
  std::sort(recs.begin(), recs.end(), [](const Rec& a, const Rec& b) { return a.start < b.start; });
  json::array items;
  for (auto& r : recs) items.push_back(std::move(r.o));
  return json::object{{"device_id", q.device_id},
                      {"channel_id", q.channel_id},
                      {"sum_num", q.sum < 0 ? 0 : q.sum},
                      {"complete", complete},
                      {"items", std::move(items)}};
}

void GbServer::on_record_info(const std::string& device_id, const sip::Manscdp& x) {
  std::function<void(Result<json::object>)> cb;
  json::object result;
  {
    std::lock_guard lk(mu_);
    auto it = record_queries_.find(x.sn);
    if (it == record_queries_.end() || it->second.device_id != device_id) {
      count("record_info_unexpected");
      return;
    }
    RecordQuery& q = it->second;
    auto sum = x.fields.find("SumNum");
    q.sum = std::clamp(sum == x.fields.end() ? 0 : std::atoi(sum->second.c_str()), 0, static_cast<int>(sip::kMaxItems));
    for (const auto& item : x.items) {
      if (q.items.size() >= sip::kMaxItems) break;
      q.items.push_back(item);
    }
    count("record_info_message");
    if (static_cast<int>(q.items.size()) < q.sum) return;  // more MESSAGEs to come
    result = record_result(q, true, cfg_.utc_offset_minutes);
    cb = std::move(q.done);
    record_queries_.erase(it);
  }
  count("record_info_complete");
  cb(std::move(result));
}

// ---------------------------------------------------------------- playback

Result<std::shared_ptr<Playback>> GbServer::create_playback(const auth::Principal& p, const std::string& camera_id,
                                                            TimeMs from, TimeMs to) {
  auto cc = camera_channel(db_, p, camera_id);
  if (!cc) return cc.error();
  if (to <= from) return Error::invalid("to", "invalid_range", "'to' must be after 'from'");
  if (to - from > static_cast<TimeMs>(cfg_.playback_max_hours) * 3'600'000) {
    return Error::invalid("to", "range_too_long",
                          "a playback may span at most " + std::to_string(cfg_.playback_max_hours) + " hours");
  }
  if (from > clock_.now_ms()) return Error::invalid("from", "in_future", "'from' is in the future");
  auto pb = std::make_shared<Playback>();
  pb->id = random_hex(12);
  pb->camera_id = camera_id;
  pb->unit_id = cc->unit_id;
  pb->jpath = cc->jpath;
  pb->device_id = cc->device_id;
  pb->channel_id = cc->channel_id;
  pb->from = from;
  pb->to = to;
  std::lock_guard lk(mu_);
  auto it = devices_.find(cc->device_id);
  if (it == devices_.end() || !it->second.online) return device_offline();
  if (playbacks_.size() >= kMaxPlaybacks) {
    return Error{ErrorKind::kUnavailable, "playback_capacity", "this node plays back as many recordings as it may", {}};
  }
  playbacks_[pb->id] = pb;
  count("playback_created");
  return pb;
}

std::shared_ptr<Playback> GbServer::playback(const std::string& id) {
  std::lock_guard lk(mu_);
  auto it = playbacks_.find(id);
  return it == playbacks_.end() ? nullptr : it->second;
}

Result<Playback> GbServer::find_playback(const auth::Principal& p, const std::string& camera_id,
                                         const std::string& id) {
  std::lock_guard lk(mu_);
  auto it = playbacks_.find(id);
  if (it == playbacks_.end() || it->second->camera_id != camera_id || !p.covers(it->second->jpath, it->second->unit_id))
    return Error::not_found("playback");
  return *it->second;
}

json::object GbServer::playback_json(const Playback& pb) const {
  json::object o{{"session_id", pb.id},
                 {"camera_id", pb.camera_id},
                 {"from", format_rfc3339(pb.from, cfg_.utc_offset_minutes)},
                 {"to", format_rfc3339(pb.to, cfg_.utc_offset_minutes)},
                 {"state", pb.state},
                 {"scale", pb.scale}};
  if (pb.position) o["position"] = format_rfc3339(pb.position, cfg_.utc_offset_minutes);
  if (!pb.reason.empty()) o["reason"] = pb.reason;
  return o;
}

void GbServer::attach_playback(const std::string& id, const std::shared_ptr<PlaySession>& s) {
  std::lock_guard lk(mu_);
  auto it = playbacks_.find(id);
  if (it == playbacks_.end()) return;
  it->second->session = s;
  if (it->second->state == "starting") it->second->state = "playing";
}

void GbServer::end_playback(const std::string& id, const std::string& reason) {
  std::shared_ptr<PlaySession> s;
  {
    std::lock_guard lk(mu_);
    auto it = playbacks_.find(id);
    if (it == playbacks_.end()) return;
    Playback& pb = *it->second;
    if (pb.state != "ended" && pb.state != "failed") {
      pb.state = pb.session.expired() && pb.state == "starting" ? "failed" : "ended";
      pb.reason = reason;
      pb.ended_at = std::chrono::steady_clock::now();
      count("playback_ended");
    }
    s = pb.session.lock();
  }
  if (s) bye(s);  // once: bye() of a session that ended already does nothing
}

void GbServer::playback_control(const auth::Principal& p, const std::string& camera_id, const std::string& id,
                                const std::string& action, TimeMs at, double scale,
                                std::function<void(Result<json::object>)> done) {
  std::shared_ptr<Playback> pb;
  {
    std::lock_guard lk(mu_);
    auto it = playbacks_.find(id);
    if (it == playbacks_.end() || it->second->camera_id != camera_id ||
        !p.covers(it->second->jpath, it->second->unit_id))
      return done(Error::not_found("playback"));
    pb = it->second;
  }
  std::string rtsp_head;
  std::string header;
  if (action == "pause") {
    rtsp_head = "PAUSE";
    header = "PauseTime: now\r\n";
  } else if (action == "play") {
    rtsp_head = "PLAY";
    header = "Range: npt=now-\r\n";
  } else if (action == "seek") {
    if (at < pb->from || at > pb->to) {
      return done(Error::invalid("at", "out_of_range", "field 'at' must lie within the playback's from and to"));
    }
    rtsp_head = "PLAY";
    char b[64];
    std::snprintf(b, sizeof b, "Range: npt=%lld-\r\n", static_cast<long long>((at - pb->from) / 1000));
    header = b;
  } else if (action == "speed") {
    rtsp_head = "PLAY";
    char b[64];
    std::snprintf(b, sizeof b, "Scale: %g\r\n", scale);
    header = b;
  } else {
    return done(Error::invalid("action", "invalid_value", "field 'action' must be pause, play, seek or speed"));
  }
  std::shared_ptr<PlaySession> s;
  int rtsp_cseq = 0;
  {
    std::lock_guard lk(mu_);
    s = pb->session.lock();
    if (!s || pb->state == "ended" || pb->state == "failed") {
      return done(Error::conflict("playback_not_running", "the playback is not running (state " + pb->state + ")"));
    }
    rtsp_cseq = ++pb->rtsp_cseq;
  }
  std::string body = rtsp_head + " RTSP/1.0\r\nCSeq: " + std::to_string(rtsp_cseq) + "\r\n" + header + "\r\n";
  std::string branch = "z9hG4bK" + quick_random_hex(8);
  std::string msg;
  {
    std::lock_guard lk(s->mu);
    if (s->state != 1) {
      return done(Error::conflict("playback_not_running", "the playback's dialog is not established"));
    }
    msg = request_head("INFO", s->remote_uri, s->peer, branch) + "From: " + s->from + "\r\nTo: " + s->to +
          "\r\nCall-ID: " + s->call_id + "\r\nCSeq: " + std::to_string(++s->cseq) +
          " INFO\r\nContact: <sip:" + cfg_.sip_id + "@" + our_host() + ":" + std::to_string(port_) +
          ">\r\nContent-Type: Application/MANSRTSP\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
          body;
  }
  count("playback_info");
  Peer peer = s->peer;
  send_request(
      peer, std::move(msg), branch, false,
      [this, pb, s, action, at, scale, done](const sip::SipMessage* r) {
        if (!r) return done(Error{ErrorKind::kUnavailable, "device_timeout", "the device did not answer", {}});
        if (r->status / 100 != 2) {
          return done(
              Error{ErrorKind::kUnavailable, "device_refused", "the device answered " + std::to_string(r->status), {}});
        }
        {
          std::lock_guard lk(s->mu);
          s->paused = action == "pause";
        }
        Playback copy;
        {
          std::lock_guard lk(mu_);
          if (pb->state == "playing" || pb->state == "paused") pb->state = action == "pause" ? "paused" : "playing";
          if (action == "seek") pb->position = at;
          if (action == "speed") pb->scale = scale;
          copy = *pb;
        }
        done(playback_json(copy));
      },
      std::chrono::milliseconds(4000));
}

void GbServer::on_media_status(const std::string& device_id, const sip::SipMessage& m, const sip::Manscdp& x) {
  auto nt = x.fields.find("NotifyType");
  if (nt == x.fields.end() || nt->second != "121") {
    count("media_status_other");
    return;
  }
  std::string pb_id;
  {
    std::lock_guard lk(mu_);
    auto it = sessions_.find(m.call_id);  // devices that send it in the dialog
    if (it != sessions_.end() && !it->second->playback_id.empty() && it->second->device_id == device_id) {
      pb_id = it->second->playback_id;
    } else {  // or out of it: the device's playback of that channel (or its only one)
      for (const auto& [cid, s] : sessions_) {
        if (s->device_id != device_id || s->playback_id.empty()) continue;
        if (s->channel_id == x.device_id || x.device_id == device_id) {
          pb_id = s->playback_id;
          if (s->channel_id == x.device_id) break;
        }
      }
    }
  }
  count("media_status_eof");
  if (pb_id.empty()) return;
  end_playback(pb_id, "end of file (MediaStatus 121)");
}

void GbServer::expire_playbacks() {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<std::function<void(Result<json::object>)>, Result<json::object>>> late;
  {
    std::lock_guard lk(mu_);
    for (auto it = playbacks_.begin(); it != playbacks_.end();) {
      bool over = it->second->state == "ended" || it->second->state == "failed";
      if (over && now - it->second->ended_at > 10min)
        it = playbacks_.erase(it);
      else
        ++it;
    }
    for (auto it = record_queries_.begin(); it != record_queries_.end();) {
      if (now < it->second.deadline) {
        ++it;
        continue;
      }
      // not every answer came: what did (complete: false), or a timeout when nothing did
      if (it->second.sum >= 0) {
        late.emplace_back(std::move(it->second.done), record_result(it->second, false, cfg_.utc_offset_minutes));
      } else {
        late.emplace_back(std::move(it->second.done),
                          Error{ErrorKind::kUnavailable, "device_timeout", "the device sent no RecordInfo answer", {}});
      }
      it = record_queries_.erase(it);
    }
  }
  for (auto& [cb, r] : late) {
    count("record_info_timeout");
    cb(std::move(r));
  }
}

}  // namespace mingchu::gb
