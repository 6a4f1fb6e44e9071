// The registry's vocabulary: jurisdictions, catering units, cameras and staff as plain
// structs, the typed inputs that create and PATCH them, list filters and pages.
//
// These are values with no behaviour; validation of the inputs happens in json_io.cpp
// (shape of each field) and in Registry (rules that need the database, the clock or the
// caller). Times are epoch milliseconds; calendar dates (health certificates) are day
// numbers since 1970-01-01 (core/time.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace mingchu::registry {

// One field of a create or PATCH body: absent, set to a value, or cleared with JSON null.
template <typename T>
struct Change {
  bool present = false;
  std::optional<T> value;  // nullopt while present: the caller sent null (clear it)

  bool sets() const { return present && value.has_value(); }
  bool clears() const { return present && !value.has_value(); }
  void apply_to(std::optional<T>& target) const {
    if (present) target = value;
  }
  void apply_to(T& target) const {
    if (present && value) target = *value;
  }
};

struct PageRequest {
  int page = 1;        // from 1
  int page_size = 20;  // 1..200
  std::int64_t offset() const { return static_cast<std::int64_t>(page - 1) * page_size; }
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::int64_t total = 0;  // rows matching the filter in the caller's scope, all pages
};

// ---------------------------------------------------------------- jurisdictions (辖区)

// province 省 → city 市 → district/county 区县 → station 监管所/分局.
enum class Level { kProvince = 0, kCity = 1, kDistrict = 2, kStation = 3 };

std::string_view level_name(Level l);
std::optional<Level> parse_level(std::string_view s);

struct Jurisdiction {
  std::string id;
  std::string parent_id;  // "" for a province
  Level level = Level::kProvince;
  std::string code;  // GB/T 2260 six digits; a station: its district's code + 3 digits
  std::string name;
  std::string path;  // "/<province id>/.../<id>/"
  TimeMs created_at = 0;
};

struct JurisdictionInput {
  std::string parent_id;  // "" for a province
  Level level = Level::kProvince;
  std::string code;
  std::string name;
};

// Only the name may change: codes are official and paths are referenced everywhere.
struct JurisdictionPatch {
  Change<std::string> name;
};

struct JurisdictionFilter {
  std::optional<std::string> parent_id;
  std::optional<Level> level;
  std::optional<std::string> q;  // substring of the name, or a code prefix
};

// ---------------------------------------------------------------- units (餐饮服务单位)

// 门店类型. group_catering: 集体用餐配送单位; central_kitchen: 中央厨房.
inline constexpr std::string_view kStoreTypes[] = {"school_canteen", "elderly_care",    "hospital", "social_catering",
                                                   "group_catering", "central_kitchen", "takeaway", "other"};
// 食品安全量化分级: A good (优秀), B average (良好), C poor (一般).
inline constexpr std::string_view kRatings[] = {"A", "B", "C"};
inline constexpr size_t kMaxLicenceImages = 10;

struct Unit {
  std::string id;
  std::string jurisdiction_id;
  std::string jpath;  // the jurisdiction's path: the unit's place in every scope check
  std::string name;
  std::optional<std::string> operator_name;  // 经营者 / 负责人 ("operator" in JSON)
  std::optional<std::string> phone;
  std::optional<std::string> address;
  std::optional<std::string> uscc;            // 统一社会信用代码
  std::optional<std::string> licence_number;  // 食品经营许可证 JY + 14 digits
  std::optional<std::string> filing_number;   // 小餐饮备案
  std::string store_type;
  std::optional<std::string> business_format;  // 主体业态, free text
  std::optional<double> lng, lat;
  std::vector<std::string> licence_image_ids;
  std::optional<std::string> storefront_image_id;
  bool show_alert_stats = true;  // disclosure setting: alert statistics on the public page
  std::optional<std::string> rating;
  std::string disclosure_token;  // the unguessable key of the public QR page
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

struct UnitInput {
  Change<std::string> name, operator_name, phone, address, uscc, licence_number, filing_number, store_type,
      business_format, jurisdiction_id, storefront_image_id, rating;
  Change<double> lng, lat;
  Change<std::vector<std::string>> licence_image_ids;
  Change<bool> show_alert_stats;
};

struct UnitFilter {
  std::optional<std::string> jurisdiction_id;  // the node's whole subtree
  std::optional<std::string> q;                // substring of name or address
  std::optional<std::string> store_type;
  std::optional<std::string> business_format;
};

// ---------------------------------------------------------------- cameras (摄像头)

// 粗加工区, 烹饪区, 专间, 洗消间, 库房, other.
inline constexpr std::string_view kCameraAreas[] = {"rough_processing", "cooking",   "special_room",
                                                    "washing",          "storeroom", "other"};

// The stream as the media core last saw it (video module's camera_video table).
struct CameraVideo {
  std::string state;  // idle | connecting | live | failed
  std::optional<std::string> codec;
  std::optional<std::int64_t> width, height, bitrate_kbps;
  std::optional<double> fps;
  std::optional<TimeMs> last_frame_at;
  std::optional<std::string> error;
};

inline constexpr std::string_view kRecordModes[] = {"continuous", "events", "off"};
inline constexpr std::string_view kRtspTransports[] = {"tcp", "udp"};

struct Camera {
  std::string id;
  std::string unit_id;
  std::string jpath;
  std::string name;
  std::string area;
  std::optional<std::string> brand, model;
  std::optional<std::int64_t> channel;
  std::optional<std::string> stream_url;                   // main stream (高清 HD); may hold credentials: see Registry
  std::optional<std::string> sub_stream_url;               // sub stream (流畅 SD), optional
  std::string rtsp_transport = "tcp";                      // tcp | udp
  std::string record = "events";                           // continuous | events | off (see docs/video.md)
  std::int64_t retention_days = 15;                        // continuous recordings kept (seed 000 §5.3)
  std::optional<std::string> gb_device_id, gb_channel_id;  // GB/T 28181, 20 digits
  bool is_public = false;
  bool ai_enabled = true;
  std::string status = "offline";  // online | offline, kept by the video module
  std::optional<TimeMs> last_seen_at;
  std::optional<CameraVideo> video;  // what the video module last saw of the stream (read only)
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

struct CameraInput {
  Change<std::string> unit_id, name, area, brand, model, stream_url, gb_device_id, gb_channel_id;
  Change<std::string> sub_stream_url, rtsp_transport, record;
  Change<std::int64_t> channel, retention_days;
  Change<bool> is_public, ai_enabled;
};

struct CameraFilter {
  std::optional<std::string> unit_id;
  std::optional<std::string> jurisdiction_id;
  std::optional<std::string> status;
  std::optional<std::string> area;
};

// ---------------------------------------------------------------- staff (从业人员)

// 健康证: number, validity, and a scan.
struct HealthCertificate {
  std::string number;
  int issued_on = 0;   // day number
  int expires_on = 0;  // day number, after issued_on
  std::optional<std::string> image_id;
};

// expired: expires_on before today; expiring (临期): within the configured days from today
// (today included); valid: later; missing: no certificate on file.
enum class CertStatus { kValid, kExpiring, kExpired, kMissing };
std::string_view cert_status_name(CertStatus s);
std::optional<CertStatus> parse_cert_status(std::string_view s);

struct Staff {
  std::string id;
  std::string unit_id;
  std::string jpath;
  std::string name;
  // As this caller may see them: in full, or masked (mask_id_number / mask_phone).
  std::string id_number;
  std::optional<std::string> phone;
  bool personal_data_masked = true;
  std::optional<std::string> position;
  std::optional<HealthCertificate> cert;
  CertStatus cert_status = CertStatus::kMissing;
  std::optional<int> days_left;  // expires_on - today; negative once expired
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

struct StaffInput {
  Change<std::string> unit_id, name, id_number, phone, position;
  Change<HealthCertificate> cert;
};

struct StaffFilter {
  std::optional<std::string> unit_id;
  std::optional<std::string> jurisdiction_id;
  std::optional<std::string> q;          // substring of the name
  std::optional<std::string> id_number;  // exact match through the blind index
  std::optional<CertStatus> cert_status;
};

// One row of the health-certificate query (健康证查询) of the regulator platform.
struct HealthCertRow {
  std::string staff_id;
  std::string staff_name;
  std::optional<std::string> position;
  std::string unit_id;
  std::string unit_name;
  std::optional<HealthCertificate> cert;
  CertStatus status = CertStatus::kMissing;
  std::optional<int> days_left;
};

struct HealthCertFilter {
  std::optional<CertStatus> status;
  std::optional<std::string> jurisdiction_id;
  std::optional<std::string> unit_id;
};

}  // namespace mingchu::registry
