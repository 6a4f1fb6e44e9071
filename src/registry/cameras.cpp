// Cameras (摄像头) of a unit's kitchen. Regulators and platform admins manage them; the
// unit's merchant users read them (with stream credentials hidden). status and last_seen_at
// belong to the video module and are read-only here.
#include <algorithm>

#include "core/ids.hpp"
#include "registry/internal.hpp"
#include "registry/registry.hpp"

namespace mingchu::registry {

using detail::nullable;
using detail::nullable_int;
using detail::Where;

namespace {

// The stream state (camera_video) belongs to the video module; it is read here so that a
// camera answers with it.
constexpr const char* kSelectCameras =
    "SELECT id, unit_id, jpath, name, area, brand, model, channel, stream_url, gb_device_id, gb_channel_id, public, "
    "ai_enabled, status, last_seen_at, created_at, updated_at, sub_stream_url, rtsp_transport, record, "
    "retention_days, (SELECT v.state || '|' || COALESCE(v.codec, '') || '|' || COALESCE(v.width, 0) || '|' || "
    "COALESCE(v.height, 0) || '|' || COALESCE(v.fps, 0) || '|' || COALESCE(v.bitrate_kbps, 0) || '|' || "
    "COALESCE(v.last_frame_at, 0) || '|' || COALESCE(v.error, '') FROM camera_video v WHERE v.camera_id = cameras.id) "
    "FROM cameras";
constexpr const char* kInsertCamera =
    "INSERT INTO cameras (id, unit_id, jpath, name, area, brand, model, channel, stream_url, gb_device_id, "
    "gb_channel_id, public, ai_enabled, status, created_at, updated_at, sub_stream_url, rtsp_transport, record, "
    "retention_days) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'offline', $14, $14, $15, $16, $17, $18)";
constexpr const char* kUpdateCamera =
    "UPDATE cameras SET name = $2, area = $3, brand = $4, model = $5, channel = $6, stream_url = $7, "
    "gb_device_id = $8, gb_channel_id = $9, public = $10, ai_enabled = $11, updated_at = $12, sub_stream_url = $13, "
    "rtsp_transport = $14, record = $15, retention_days = $16 WHERE id = $1";
constexpr const char* kGbChannelTaken =
    "SELECT 1 FROM cameras WHERE gb_channel_id = $1 AND deleted_at IS NULL AND id <> $2";
constexpr const char* kSoftDeleteCamera = "UPDATE cameras SET deleted_at = $2, updated_at = $2 WHERE id = $1";

// "state|codec|width|height|fps|bitrate|last_frame_at|error" (kSelectCameras' sub-select).
CameraVideo parse_video_state(const std::string& s) {
  std::vector<std::string> f;
  size_t start = 0;
  for (int i = 0; i < 7; ++i) {
    size_t bar = s.find('|', start);
    if (bar == std::string::npos) break;
    f.push_back(s.substr(start, bar - start));
    start = bar + 1;
  }
  f.push_back(s.substr(start));  // the error may itself contain '|'
  f.resize(8);
  auto num = [](const std::string& t) -> std::optional<std::int64_t> {
    char* end = nullptr;
    long long v = std::strtoll(t.c_str(), &end, 10);
    if (t.empty() || v == 0) return std::nullopt;
    return v;
  };
  CameraVideo v;
  v.state = f[0];
  if (!f[1].empty()) v.codec = f[1];
  v.width = num(f[2]);
  v.height = num(f[3]);
  if (double fps = std::strtod(f[4].c_str(), nullptr); fps > 0) v.fps = fps;
  v.bitrate_kbps = num(f[5]);
  v.last_frame_at = num(f[6]);
  if (!f[7].empty()) v.error = f[7];
  return v;
}

Camera from_row(const storage::Row& r) {
  Camera c;
  c.id = r.text(0);
  c.unit_id = r.text(1);
  c.jpath = r.text(2);
  c.name = r.text(3);
  c.area = r.text(4);
  c.brand = r.opt_text(5);
  c.model = r.opt_text(6);
  c.channel = r.opt_integer(7);
  c.stream_url = r.opt_text(8);
  c.gb_device_id = r.opt_text(9);
  c.gb_channel_id = r.opt_text(10);
  c.is_public = r.boolean(11);
  c.ai_enabled = r.boolean(12);
  c.status = r.text(13);
  c.last_seen_at = r.opt_integer(14);
  c.created_at = r.integer(15);
  c.updated_at = r.integer(16);
  c.sub_stream_url = r.opt_text(17);
  c.rtsp_transport = r.text(18);
  c.record = r.text(19);
  c.retention_days = r.integer(20);
  if (auto v = r.opt_text(21)) c.video = parse_video_state(*v);
  return c;
}

// rtsp://user:secret@host/... → rtsp://user:***@host/...
std::string hide_password(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t start = scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  if (end == std::string::npos) end = url.size();
  size_t at = url.rfind('@', end);
  if (at == std::string::npos || at < start) return url;
  size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

// Stream credentials are for those who manage cameras.
Camera present(const auth::Principal& p, Camera c) {
  if (!detail::manages(p) && c.stream_url) c.stream_url = hide_password(*c.stream_url);
  if (!detail::manages(p) && c.sub_stream_url) c.sub_stream_url = hide_password(*c.sub_stream_url);
  return c;
}

std::optional<Camera> load(storage::Connection& c, std::string_view id, bool lock) {
  storage::Rows rows = c.query(
      std::string(kSelectCameras) + " WHERE id = $1 AND deleted_at IS NULL" + (lock ? detail::for_update(c) : ""),
      {std::string(id)});
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

void apply(const CameraInput& in, Camera& c) {
  in.name.apply_to(c.name);
  in.area.apply_to(c.area);
  in.brand.apply_to(c.brand);
  in.model.apply_to(c.model);
  in.channel.apply_to(c.channel);
  in.stream_url.apply_to(c.stream_url);
  in.sub_stream_url.apply_to(c.sub_stream_url);
  in.rtsp_transport.apply_to(c.rtsp_transport);
  in.record.apply_to(c.record);
  in.retention_days.apply_to(c.retention_days);
  in.gb_device_id.apply_to(c.gb_device_id);
  in.gb_channel_id.apply_to(c.gb_channel_id);
  in.is_public.apply_to(c.is_public);
  in.ai_enabled.apply_to(c.ai_enabled);
}

std::vector<std::string> present_fields(const CameraInput& in) {
  std::vector<std::string> f;
  auto add = [&f](bool present, const char* name) {
    if (present) f.emplace_back(name);
  };
  add(in.name.present, "name");
  add(in.area.present, "area");
  add(in.brand.present, "brand");
  add(in.model.present, "model");
  add(in.channel.present, "channel");
  add(in.stream_url.present, "stream_url");
  add(in.sub_stream_url.present, "sub_stream_url");
  add(in.rtsp_transport.present, "rtsp_transport");
  add(in.record.present, "record");
  add(in.retention_days.present, "retention_days");
  add(in.gb_device_id.present, "gb_device_id");
  add(in.gb_channel_id.present, "gb_channel_id");
  add(in.is_public.present, "public");
  add(in.ai_enabled.present, "ai_enabled");
  return f;
}

Error gb_channel_taken() {
  return Error::conflict("gb_channel_taken", "another camera already uses this GB/T 28181 channel id");
}

template <size_t N>
bool one_of(const std::string& v, const std::string_view (&allowed)[N]) {
  return std::find(std::begin(allowed), std::end(allowed), v) != std::end(allowed);
}

}  // namespace

Result<Camera> Registry::create_camera(const auth::Principal& p, const CameraInput& in) {
  if (!detail::manages(p)) return Error::forbidden("only regulators and platform administrators manage cameras");
  if (!in.unit_id.sets() || !in.name.sets() || !in.area.sets()) {
    return Error::invalid("unit_id", "missing_field", "unit_id, name and area are required");
  }
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::load_unit(*c, *in.unit_id.value, true);
  if (!unit || !p.covers(unit->jpath, unit->id)) return detail::unknown_reference("unit_id", "unit");
  Camera cam;
  apply(in, cam);
  cam.id = new_id("cam");
  cam.unit_id = unit->id;
  cam.jpath = unit->jpath;
  cam.created_at = cam.updated_at = clock_.now_ms();
  if (cam.gb_channel_id && !c->query(kGbChannelTaken, {*cam.gb_channel_id, cam.id}).empty()) return gb_channel_taken();
  c->exec(kInsertCamera,
          {cam.id, cam.unit_id, cam.jpath, cam.name, cam.area, nullable(cam.brand), nullable(cam.model),
           nullable_int(cam.channel), nullable(cam.stream_url), nullable(cam.gb_device_id), nullable(cam.gb_channel_id),
           std::int64_t{cam.is_public}, std::int64_t{cam.ai_enabled}, cam.created_at, nullable(cam.sub_stream_url),
           cam.rtsp_transport, cam.record, cam.retention_days});
  audit_.append(*c, auth::audit_entry(p, "camera.create", "camera:" + cam.id,
                                      json::serialize(json::object{{"unit_id", cam.unit_id}, {"area", cam.area}})));
  tx.commit();
  return present(p, std::move(cam));
}

Result<Camera> Registry::get_camera(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("camera");
  storage::Conn c = db_.acquire();
  auto cam = load(*c, id, false);
  if (!cam || !p.covers(cam->jpath, cam->unit_id)) return Error::not_found("camera");
  return present(p, std::move(*cam));
}

Result<Page<Camera>> Registry::list_cameras(const auth::Principal& p, const CameraFilter& f, PageRequest page) {
  if (f.status && *f.status != "online" && *f.status != "offline") {
    return Error::invalid("status", "invalid_value", "status must be online or offline");
  }
  if (f.area && !one_of(*f.area, kCameraAreas)) return Error::invalid("area", "invalid_value", "unknown area");
  storage::Conn c = db_.acquire();
  Where w("deleted_at IS NULL");
  w.scope(p, "jpath", "unit_id");
  if (f.unit_id) w.add("unit_id = {}", *f.unit_id);
  if (f.jurisdiction_id) {
    auto path = subtree_path(*c, p, *f.jurisdiction_id);
    if (!path) return Page<Camera>{};
    w.subtree("jpath", *path);
  }
  if (f.status) w.add("status = {}", *f.status);
  if (f.area) w.add("area = {}", *f.area);
  Page<Camera> out;
  out.total = w.count(*c, "cameras");
  for (const auto& r : w.page(*c, kSelectCameras, detail::text_order(*c, "name") + ", id", page)) {
    out.items.push_back(present(p, from_row(r)));
  }
  return out;
}

Result<Camera> Registry::update_camera(const auth::Principal& p, std::string_view id, const CameraInput& in) {
  if (!plausible_id(id)) return Error::not_found("camera");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto cam = load(*c, id, true);
  if (!cam || !p.covers(cam->jpath, cam->unit_id)) return Error::not_found("camera");
  if (!detail::manages(p)) return Error::forbidden("only regulators and platform administrators manage cameras");
  if (in.unit_id.present && in.unit_id.value != std::optional<std::string>(cam->unit_id)) {
    return Error::invalid("unit_id", "immutable", "field 'unit_id' cannot be changed");
  }
  std::optional<std::string> old_channel = cam->gb_channel_id;
  apply(in, *cam);
  if (cam->gb_channel_id && cam->gb_channel_id != old_channel &&
      !c->query(kGbChannelTaken, {*cam->gb_channel_id, cam->id}).empty()) {
    return gb_channel_taken();
  }
  cam->updated_at = clock_.now_ms();
  c->exec(kUpdateCamera,
          {cam->id, cam->name, cam->area, nullable(cam->brand), nullable(cam->model), nullable_int(cam->channel),
           nullable(cam->stream_url), nullable(cam->gb_device_id), nullable(cam->gb_channel_id),
           std::int64_t{cam->is_public}, std::int64_t{cam->ai_enabled}, cam->updated_at, nullable(cam->sub_stream_url),
           cam->rtsp_transport, cam->record, cam->retention_days});
  audit_.append(*c,
                auth::audit_entry(p, "camera.update", "camera:" + cam->id, detail::fields_detail(present_fields(in))));
  tx.commit();
  return present(p, std::move(*cam));
}

Status Registry::delete_camera(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("camera");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto cam = load(*c, id, true);
  if (!cam || !p.covers(cam->jpath, cam->unit_id)) return Error::not_found("camera");
  if (!detail::manages(p)) return Error::forbidden("only regulators and platform administrators manage cameras");
  c->exec(kSoftDeleteCamera, {cam->id, clock_.now_ms()});
  audit_.append(*c, auth::audit_entry(p, "camera.delete", "camera:" + cam->id,
                                      json::serialize(json::object{{"unit_id", cam->unit_id}})));
  tx.commit();
  return ok_status();
}

}  // namespace mingchu::registry
