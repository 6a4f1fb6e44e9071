#include "registry/json_io.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "core/validate.hpp"

namespace mingchu::registry {

std::string_view level_name(Level l) {
  switch (l) {
    case Level::kProvince:
      return "province";
    case Level::kCity:
      return "city";
    case Level::kDistrict:
      return "district";
    case Level::kStation:
      return "station";
  }
  return "province";
}

std::optional<Level> parse_level(std::string_view s) {
  if (s == "province") return Level::kProvince;
  if (s == "city") return Level::kCity;
  if (s == "district") return Level::kDistrict;
  if (s == "station") return Level::kStation;
  return std::nullopt;
}

std::string_view cert_status_name(CertStatus s) {
  switch (s) {
    case CertStatus::kValid:
      return "valid";
    case CertStatus::kExpiring:
      return "expiring";
    case CertStatus::kExpired:
      return "expired";
    case CertStatus::kMissing:
      return "missing";
  }
  return "missing";
}

std::optional<CertStatus> parse_cert_status(std::string_view s) {
  if (s == "valid") return CertStatus::kValid;
  if (s == "expiring") return CertStatus::kExpiring;
  if (s == "expired") return CertStatus::kExpired;
  if (s == "missing") return CertStatus::kMissing;
  return std::nullopt;
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

namespace {

enum class Need { kOptional, kRequired };

// Reads the fields of one create or PATCH body into Changes, recording the first failure in
// the ObjectReader (which also remembers which keys were read, for unknown-field checks).
class BodyReader {
 public:
  BodyReader(const json::object& obj, bool patch, std::string prefix = "")
      : r_(obj, std::move(prefix)), patch_(patch) {}

  ObjectReader& reader() { return r_; }
  bool patch() const { return patch_; }

  // A text field. Optional text sent as "" clears the field (forms send empty inputs).
  // check, when given, validates a non-empty value.
  Change<std::string> text(std::string_view key, size_t max_chars, Need need,
                           const std::function<bool(const std::string&)>& check = nullptr,
                           std::string_view bad_code = "invalid_value", std::string_view bad_message = "") {
    Change<std::string> c = presence<std::string>(key, need);
    if (!c.present || r_.is_null(key)) return c;
    c.value = r_.opt_string(key, max_chars);
    if (!r_.ok()) return c;
    if (c.value && c.value->empty()) {
      if (need == Need::kRequired) {
        r_.fail(key, "empty_field", "field '" + r_.path(key) + "' must not be empty");
      }
      c.value.reset();
      return c;
    }
    if (c.value && check && !check(*c.value)) {
      std::string msg = bad_message.empty() ? "field '" + r_.path(key) + "' is not valid" : std::string(bad_message);
      r_.fail(key, std::string(bad_code), msg);
    }
    return c;
  }

  // A text field whose value is one of a fixed set.
  template <size_t N>
  Change<std::string> one_of(std::string_view key, const std::string_view (&allowed)[N], Need need) {
    return text(
        key, 32, need,
        [&allowed](const std::string& v) {
          return std::find(std::begin(allowed), std::end(allowed), v) != std::end(allowed);
        },
        "invalid_value", "field '" + r_.path(key) + "' must be one of: " + join(allowed));
  }

  Change<std::string> id(std::string_view key, Need need) {
    return text(
        key, 64, need, [](const std::string& v) { return plausible_id(v); }, "invalid_id",
        "field '" + r_.path(key) + "' is not a valid id");
  }

  Change<bool> boolean(std::string_view key, Need need) {
    Change<bool> c = presence<bool>(key, need);
    if (c.present && !r_.is_null(key)) c.value = r_.opt_bool(key);
    return c;
  }

  Change<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max, Need need) {
    Change<std::int64_t> c = presence<std::int64_t>(key, need);
    if (c.present && !r_.is_null(key)) c.value = r_.opt_int(key, min, max);
    return c;
  }

  Change<double> number(std::string_view key, double min, double max, Need need) {
    Change<double> c = presence<double>(key, need);
    if (c.present && !r_.is_null(key)) c.value = r_.opt_number(key, min, max);
    return c;
  }

  Change<int> date(std::string_view key, Need need) {
    Change<int> c = presence<int>(key, need);
    if (!c.present || r_.is_null(key)) return c;
    auto s = r_.opt_string(key, 10);
    if (!s) return c;
    c.value = parse_date(*s);
    if (!c.value) r_.fail(key, "invalid_date", "field '" + r_.path(key) + "' must be a date YYYY-MM-DD");
    return c;
  }

  // A field nobody may write through the API (status kept by another module, tokens...).
  void read_only(std::string_view key) {
    if (r_.has(key)) r_.fail(key, "read_only", "field '" + r_.path(key) + "' cannot be written");
    r_.allow(key);
  }
  void immutable(std::string_view key) {
    if (patch_ && r_.has(key)) r_.fail(key, "immutable", "field '" + r_.path(key) + "' cannot be changed");
  }

  Status finish() { return r_.finish(); }

 private:
  template <size_t N>
  static std::string join(const std::string_view (&values)[N]) {
    std::string out;
    for (size_t i = 0; i < N; ++i) {
      if (i) out += ", ";
      out += values[i];
    }
    return out;
  }

  // Presence, and the rules on required fields: present on create, never null.
  template <typename T>
  Change<T> presence(std::string_view key, Need need) {
    Change<T> c;
    c.present = r_.has(key);
    r_.allow(key);
    if (need == Need::kRequired) {
      if (!c.present && !patch_) {
        r_.fail(key, "missing_field", "field '" + r_.path(key) + "' is required");
      } else if (c.present && r_.is_null(key)) {
        r_.fail(key, patch_ ? "not_clearable" : "missing_field",
                "field '" + r_.path(key) + (patch_ ? "' cannot be cleared" : "' is required"));
      }
    }
    return c;
  }

  ObjectReader r_;
  bool patch_;
};

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool gb_id(const std::string& s) { return s.size() == 20 && all_digits(s); }

bool valid_stream_url(const std::string& s) { return valid_rtsp_url(s); }

json::value opt(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::value(*s);
}

}  // namespace

Result<JurisdictionInput> parse_jurisdiction_create(const json::object& body) {
  BodyReader b(body, false);
  JurisdictionInput in;
  auto parent = b.id("parent_id", Need::kOptional);
  auto level = b.text(
      "level", 16, Need::kRequired, [](const std::string& v) { return parse_level(v).has_value(); }, "invalid_value",
      "field 'level' must be one of: province, city, district, station");
  auto code = b.text(
      "code", 16, Need::kRequired, [](const std::string& v) { return all_digits(v); }, "invalid_code",
      "field 'code' must be a GB/T 2260 division code (digits)");
  auto name = b.text("name", 64, Need::kRequired);
  b.read_only("path");
  if (auto st = b.finish(); !st) return st.error();
  in.parent_id = parent.value.value_or("");
  in.level = *parse_level(*level.value);
  in.code = *code.value;
  in.name = *name.value;
  return in;
}

Result<JurisdictionPatch> parse_jurisdiction_patch(const json::object& body) {
  BodyReader b(body, true);
  JurisdictionPatch p;
  p.name = b.text("name", 64, Need::kRequired);
  for (auto key : {"code", "level", "parent_id"}) {
    b.immutable(key);
    b.reader().allow(key);
  }
  b.read_only("path");
  if (auto st = b.finish(); !st) return st.error();
  return p;
}

Result<UnitInput> parse_unit_input(const json::object& body, bool patch) {
  // Normalise what people type in lower case before the checks.
  json::object norm = body;
  for (auto key : {"uscc", "licence_number"}) {
    if (auto it = norm.find(key); it != norm.end() && it->value().is_string()) {
      it->value() = json::string(ascii_upper(it->value().as_string()));
    }
  }
  BodyReader b(norm, patch);
  UnitInput in;
  in.name = b.text("name", 128, Need::kRequired);
  in.operator_name = b.text("operator", 64, Need::kOptional);
  in.phone = b.text(
      "phone", 32, Need::kOptional, [](const std::string& v) { return valid_phone(v); }, "invalid_phone",
      "field 'phone' must be a mainland mobile number or a landline with area code");
  in.address = b.text("address", 256, Need::kOptional);
  in.uscc = b.text(
      "uscc", 18, Need::kOptional, [](const std::string& v) { return valid_uscc(v); }, "invalid_uscc",
      "field 'uscc' is not a valid unified social credit code (GB 32100: 18 characters, check digit)");
  in.licence_number = b.text(
      "licence_number", 32, Need::kOptional, [](const std::string& v) { return valid_licence_number(v); },
      "invalid_licence_number", "field 'licence_number' must be JY followed by 14 digits");
  in.filing_number = b.text(
      "filing_number", 32, Need::kOptional, [](const std::string& v) { return valid_filing_number(v); },
      "invalid_filing_number", "field 'filing_number' must be 6-32 letters, digits or '-'");
  in.store_type = b.one_of("store_type", kStoreTypes, Need::kRequired);
  in.business_format = b.text("business_format", 64, Need::kOptional);
  in.jurisdiction_id = b.id("jurisdiction_id", Need::kRequired);
  in.lng = b.number("lng", 73.0, 136.0, Need::kOptional);
  in.lat = b.number("lat", 3.0, 54.0, Need::kOptional);
  in.storefront_image_id = b.id("storefront_image_id", Need::kOptional);
  in.rating = b.one_of("rating", kRatings, Need::kOptional);

  ObjectReader& r = b.reader();
  if (r.has("licence_image_ids")) {
    in.licence_image_ids.present = true;
    std::vector<std::string> ids;
    if (const json::array* arr = r.opt_array("licence_image_ids", kMaxLicenceImages)) {
      std::set<std::string> seen;
      for (size_t i = 0; i < arr->size(); ++i) {
        const json::value& v = (*arr)[i];
        std::string key = "licence_image_ids[" + std::to_string(i) + "]";
        if (!v.is_string() || !plausible_id(v.as_string())) {
          r.fail(key, "invalid_id", "field '" + key + "' must be a file id");
          break;
        }
        if (!seen.insert(std::string(v.as_string())).second) {
          r.fail(key, "duplicate", "field '" + key + "' repeats a file id");
          break;
        }
        ids.emplace_back(v.as_string());
      }
    }
    in.licence_image_ids.value = std::move(ids);  // null clears the list
  }

  if (r.has("disclosure")) {
    if (r.is_null("disclosure")) {
      r.fail("disclosure", "not_clearable", "field 'disclosure' cannot be cleared");
    } else if (const json::object* d = r.opt_object("disclosure")) {
      BodyReader db(*d, true, "disclosure");
      in.show_alert_stats = db.boolean("show_alert_stats", Need::kRequired);
      if (auto st = db.finish(); !st) return st.error();
    }
  }
  b.read_only("id");
  b.read_only("disclosure_token");
  b.read_only("created_at");
  b.read_only("updated_at");
  if (auto st = b.finish(); !st) return st.error();
  return in;
}

Result<CameraInput> parse_camera_input(const json::object& body, bool patch) {
  BodyReader b(body, patch);
  CameraInput in;
  b.immutable("unit_id");
  in.unit_id = b.id("unit_id", Need::kRequired);
  in.name = b.text("name", 128, Need::kRequired);
  in.area = b.one_of("area", kCameraAreas, Need::kRequired);
  in.brand = b.text("brand", 64, Need::kOptional);
  in.model = b.text("model", 64, Need::kOptional);
  in.channel = b.integer("channel", 1, 9999, Need::kOptional);
  in.stream_url = b.text("stream_url", 512, Need::kOptional, valid_stream_url, "invalid_url",
                         "field 'stream_url' must be an rtsp:// or rtsps:// URL without spaces or shell metacharacters");
  in.sub_stream_url =
      b.text("sub_stream_url", 512, Need::kOptional, valid_stream_url, "invalid_url",
             "field 'sub_stream_url' must be an rtsp:// or rtsps:// URL without spaces or shell metacharacters");
  in.rtsp_transport = b.one_of("rtsp_transport", kRtspTransports, Need::kOptional);
  in.record = b.one_of("record", kRecordModes, Need::kOptional);
  in.retention_days = b.integer("retention_days", 1, 3650, Need::kOptional);
  in.gb_device_id = b.text("gb_device_id", 20, Need::kOptional, gb_id, "invalid_gb_id",
                           "field 'gb_device_id' must be 20 digits (GB/T 28181)");
  in.gb_channel_id = b.text("gb_channel_id", 20, Need::kOptional, gb_id, "invalid_gb_id",
                            "field 'gb_channel_id' must be 20 digits (GB/T 28181)");
  // Flags: null means "the default" on create and is refused by a PATCH (there is no "unset").
  in.is_public = b.boolean("public", patch ? Need::kRequired : Need::kOptional);
  in.ai_enabled = b.boolean("ai_enabled", patch ? Need::kRequired : Need::kOptional);
  if (!patch) {
    in.is_public.present = in.is_public.sets();
    in.ai_enabled.present = in.ai_enabled.sets();
  }
  b.read_only("id");
  b.read_only("status");
  b.read_only("video");
  b.read_only("last_seen_at");
  b.read_only("created_at");
  b.read_only("updated_at");
  if (auto st = b.finish(); !st) return st.error();
  return in;
}

Result<StaffInput> parse_staff_input(const json::object& body, bool patch) {
  json::object norm = body;
  if (auto it = norm.find("id_number"); it != norm.end() && it->value().is_string()) {
    it->value() = json::string(ascii_upper(it->value().as_string()));
  }
  BodyReader b(norm, patch);
  StaffInput in;
  b.immutable("unit_id");
  in.unit_id = b.id("unit_id", Need::kRequired);
  in.name = b.text("name", 64, Need::kRequired);
  in.id_number = b.text(
      "id_number", 18, Need::kRequired, [](const std::string& v) { return valid_id_number(v); }, "invalid_id_number",
      "field 'id_number' is not a valid resident identity number");
  in.phone = b.text(
      "phone", 32, Need::kOptional, [](const std::string& v) { return valid_phone(v); }, "invalid_phone",
      "field 'phone' must be a mainland mobile number or a landline with area code");
  in.position = b.text("position", 64, Need::kOptional);

  ObjectReader& r = b.reader();
  if (r.has("health_cert")) {
    in.cert.present = true;
    if (!r.is_null("health_cert")) {
      if (const json::object* c = r.opt_object("health_cert")) {
        BodyReader cb(*c, false, "health_cert");
        HealthCertificate hc;
        auto number = cb.text("number", 64, Need::kRequired);
        auto issued = cb.date("issued_on", Need::kRequired);
        auto expires = cb.date("expires_on", Need::kRequired);
        auto image = cb.id("image_id", Need::kOptional);
        if (auto st = cb.finish(); !st) return st.error();
        hc.number = *number.value;
        hc.issued_on = *issued.value;
        hc.expires_on = *expires.value;
        hc.image_id = image.value;
        if (hc.expires_on <= hc.issued_on) {
          return Error::invalid("health_cert.expires_on", "invalid_date",
                                "field 'health_cert.expires_on' must be after 'health_cert.issued_on'");
        }
        in.cert.value = std::move(hc);
      }
    }
  }
  b.read_only("id");
  b.read_only("cert_status");
  b.read_only("days_left");
  b.read_only("created_at");
  b.read_only("updated_at");
  if (auto st = b.finish(); !st) return st.error();
  return in;
}

json::object to_json(const Jurisdiction& j, int utc_offset_minutes) {
  json::object o;
  o["id"] = j.id;
  o["parent_id"] = j.parent_id.empty() ? json::value(nullptr) : json::value(j.parent_id);
  o["level"] = level_name(j.level);
  o["code"] = j.code;
  o["name"] = j.name;
  o["path"] = j.path;
  o["created_at"] = format_rfc3339(j.created_at, utc_offset_minutes);
  return o;
}

json::object to_json(const Unit& u, int utc_offset_minutes) {
  json::object o;
  o["id"] = u.id;
  o["jurisdiction_id"] = u.jurisdiction_id;
  o["name"] = u.name;
  o["operator"] = opt(u.operator_name);
  o["phone"] = opt(u.phone);
  o["address"] = opt(u.address);
  o["uscc"] = opt(u.uscc);
  o["licence_number"] = opt(u.licence_number);
  o["filing_number"] = opt(u.filing_number);
  o["store_type"] = u.store_type;
  o["business_format"] = opt(u.business_format);
  o["lng"] = u.lng ? json::value(*u.lng) : json::value(nullptr);
  o["lat"] = u.lat ? json::value(*u.lat) : json::value(nullptr);
  json::array imgs;
  for (const auto& id : u.licence_image_ids) imgs.emplace_back(id);
  o["licence_image_ids"] = std::move(imgs);
  o["storefront_image_id"] = opt(u.storefront_image_id);
  o["disclosure"] = json::object{{"show_alert_stats", u.show_alert_stats}};
  o["disclosure_token"] = u.disclosure_token;
  o["rating"] = opt(u.rating);
  o["created_at"] = format_rfc3339(u.created_at, utc_offset_minutes);
  o["updated_at"] = format_rfc3339(u.updated_at, utc_offset_minutes);
  return o;
}

json::object to_json(const Camera& c, int utc_offset_minutes) {
  json::object o;
  o["id"] = c.id;
  o["unit_id"] = c.unit_id;
  o["name"] = c.name;
  o["area"] = c.area;
  o["brand"] = opt(c.brand);
  o["model"] = opt(c.model);
  o["channel"] = c.channel ? json::value(*c.channel) : json::value(nullptr);
  o["stream_url"] = opt(c.stream_url);
  o["gb_device_id"] = opt(c.gb_device_id);
  o["gb_channel_id"] = opt(c.gb_channel_id);
  o["sub_stream_url"] = opt(c.sub_stream_url);
  o["rtsp_transport"] = c.rtsp_transport;
  o["record"] = c.record;
  o["retention_days"] = c.retention_days;
  o["public"] = c.is_public;
  o["ai_enabled"] = c.ai_enabled;
  if (c.video) {
    const CameraVideo& v = *c.video;
    json::object vo;
    vo["state"] = v.state;
    vo["codec"] = opt(v.codec);
    vo["width"] = v.width ? json::value(*v.width) : json::value(nullptr);
    vo["height"] = v.height ? json::value(*v.height) : json::value(nullptr);
    vo["fps"] = v.fps ? json::value(*v.fps) : json::value(nullptr);
    vo["bitrate_kbps"] = v.bitrate_kbps ? json::value(*v.bitrate_kbps) : json::value(nullptr);
    vo["last_frame_at"] =
        v.last_frame_at ? json::value(format_rfc3339(*v.last_frame_at, utc_offset_minutes)) : json::value(nullptr);
    vo["error"] = opt(v.error);
    o["video"] = std::move(vo);
  } else {
    o["video"] = json::object{{"state", "idle"}};
  }
  o["status"] = c.status;
  o["last_seen_at"] =
      c.last_seen_at ? json::value(format_rfc3339(*c.last_seen_at, utc_offset_minutes)) : json::value(nullptr);
  o["created_at"] = format_rfc3339(c.created_at, utc_offset_minutes);
  o["updated_at"] = format_rfc3339(c.updated_at, utc_offset_minutes);
  return o;
}

namespace {

json::value cert_json(const std::optional<HealthCertificate>& c) {
  if (!c) return nullptr;
  json::object o;
  o["number"] = c->number;
  o["issued_on"] = format_date(c->issued_on);
  o["expires_on"] = format_date(c->expires_on);
  o["image_id"] = opt(c->image_id);
  return o;
}

}  // namespace

json::object to_json(const Staff& s, int utc_offset_minutes) {
  json::object o;
  o["id"] = s.id;
  o["unit_id"] = s.unit_id;
  o["name"] = s.name;
  o["id_number"] = s.id_number;
  o["phone"] = opt(s.phone);
  o["masked"] = s.personal_data_masked;
  o["position"] = opt(s.position);
  o["health_cert"] = cert_json(s.cert);
  o["cert_status"] = cert_status_name(s.cert_status);
  o["days_left"] = s.days_left ? json::value(*s.days_left) : json::value(nullptr);
  o["created_at"] = format_rfc3339(s.created_at, utc_offset_minutes);
  o["updated_at"] = format_rfc3339(s.updated_at, utc_offset_minutes);
  return o;
}

json::object to_json(const HealthCertRow& r) {
  json::object o;
  o["staff_id"] = r.staff_id;
  o["staff_name"] = r.staff_name;
  o["position"] = opt(r.position);
  o["unit_id"] = r.unit_id;
  o["unit_name"] = r.unit_name;
  o["health_cert"] = cert_json(r.cert);
  o["status"] = cert_status_name(r.status);
  o["days_left"] = r.days_left ? json::value(*r.days_left) : json::value(nullptr);
  return o;
}

}  // namespace mingchu::registry
