// The demo city: Nantong (南通) under Jiangsu, four districts with stations, ~200 units of
// mixed store types around the city centre, cameras per area, staff with certificates of
// every status, and one user per role. Deterministic (a fixed seed) so screenshots and
// documentation stay stable. Passwords are documented in the README.
#include <cstdlib>
#include <random>

#include "app/platform.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "core/validate.hpp"

namespace mingchu::app {
namespace {

struct Node {
  const char* code;
  const char* name;
  const char* level;
  int parent;  // index, -1 for the root
};

const Node kNodes[] = {
    {"320000", "江苏省", "province", -1},
    {"320600", "南通市", "city", 0},
    {"320602", "崇川区", "district", 1},
    {"320612", "通州区", "district", 1},
    {"320614", "海门区", "district", 1},
    {"320682", "如皋市", "district", 1},
    {"320602001", "崇川区市场监管局城东分局", "station", 2},
    {"320602002", "崇川区市场监管局城西分局", "station", 2},
    {"320612001", "通州区市场监管局金沙分局", "station", 3},
    {"320614001", "海门区市场监管局海门街道所", "station", 4},
    {"320682001", "如皋市市场监管局如城分局", "station", 5},
};

const char* kStoreTypes[] = {"social_catering", "social_catering", "social_catering", "school_canteen", "school_canteen",
                             "takeaway",        "elderly_care",    "hospital",        "group_catering", "central_kitchen"};
const char* kFormats[] = {"中型餐馆", "小型餐馆", "快餐店", "小吃店", "饮品店", "学校食堂", "养老机构食堂", "医院食堂",
                          "集体用餐配送单位", "中央厨房"};
const char* kPrefixes[] = {"江海", "濠河", "狼山", "通吕", "紫琅", "崇川", "钟秀", "唐闸", "金沙", "如城",
                           "海门", "启秀", "青年", "人民", "工农", "南大街", "跃龙", "星湖", "虹桥", "文峰"};
const char* kKinds[] = {"人家", "小馆", "饭店", "面馆", "食府", "酒楼", "快餐", "烧烤", "茶餐厅", "饺子馆"};
const char* kSchools[] = {"实验小学", "第一中学", "第二中学", "师范附小", "中等专业学校", "外国语学校", "职业学院"};
const char* kSurnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈";
const char* kGiven[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
                        "明", "超", "秀英", "华", "建国", "海燕", "志强", "桂英", "玉兰", "晓东", "春梅"};
const char* kPositions[] = {"厨师长", "厨师", "面点师", "切配工", "洗消员", "服务员", "仓管员", "食品安全管理员"};
const char* kAreas[] = {"cooking", "rough_processing", "special_room", "washing", "storeroom"};
const char* kAreaNames[] = {"烹饪区", "粗加工区", "专间", "洗消间", "库房"};
const char* kBrands[] = {"海康威视", "大华", "宇视", "天地伟业"};

std::string utf8_char(const char* s, int index) {
  // kSurnames holds three-byte UTF-8 characters
  return std::string(s + index * 3, 3);
}

}  // namespace

void seed_demo(Platform& p) {
  storage::Database& db = p.db();
  {
    storage::Conn c = db.acquire();
    if (c->query("SELECT COUNT(*) FROM jurisdictions")[0].integer(0) > 0) {
      log::info("demo: data already present, not seeding again");
      return;
    }
  }
  log::info("demo: seeding the demo city (南通市)");
  std::mt19937 rng(20261122);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  TimeMs now = p.clock().now_ms();
  // the demo cameras' source: a loopback RTSP server (scripts/rtsp_camera.py)
  const char* rtsp_env = std::getenv("MINGCHU_DEMO_RTSP");
  std::string demo_rtsp = rtsp_env && *rtsp_env ? rtsp_env : "rtsp://127.0.0.1:8554";
  int today = local_day(now, p.config().utc_offset_minutes);
  std::vector<std::string> ids, paths;
  std::vector<std::string> unit_ids;
  std::string merchant_unit;
  db.in_transaction([&](storage::Connection& c) {
    for (const Node& n : kNodes) {
      std::string id = std::string("jur_") + n.code;
      std::string path = (n.parent < 0 ? std::string("/") : paths[static_cast<size_t>(n.parent)]) + id + "/";
      c.exec("INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)",
             {id, n.parent < 0 ? storage::Value(nullptr) : storage::Value(ids[static_cast<size_t>(n.parent)]),
              std::string(n.level), std::string(n.code), std::string(n.name), path, now});
      ids.push_back(id);
      paths.push_back(path);
    }
    // districts' centres (lng, lat)
    const double kCentres[][2] = {{120.87, 32.01}, {121.07, 32.08}, {121.18, 31.89}, {120.57, 32.37}};
    const int kStations[] = {6, 7, 8, 9, 10};
    const int kStationDistrict[] = {0, 0, 1, 2, 3};
    int serial = 0;
    for (int u = 0; u < 200; ++u) {
      int s = u % 5;
      int node = kStations[s];
      int d = kStationDistrict[s];
      int t = pick(10);
      std::string store_type = kStoreTypes[t];
      std::string name;
      if (store_type == "school_canteen") {
        name = std::string("南通市") + kPrefixes[pick(20)] + kSchools[pick(7)] + "食堂";
      } else if (store_type == "elderly_care") {
        name = std::string(kPrefixes[pick(20)]) + "颐养院老年食堂";
      } else if (store_type == "hospital") {
        name = std::string(kPrefixes[pick(20)]) + "医院职工食堂";
      } else if (store_type == "group_catering") {
        name = std::string("南通") + kPrefixes[pick(20)] + "餐饮配送有限公司";
      } else if (store_type == "central_kitchen") {
        name = std::string(kPrefixes[pick(20)]) + "中央厨房";
      } else {
        name = std::string(kPrefixes[pick(20)]) + kKinds[pick(10)];
      }
      name += "（" + std::to_string(u + 1) + "号店）";
      std::string id = new_id("unit");
      char first17[48];
      std::snprintf(first17, sizeof first17, "9132%04d%09d", 600 + d * 10, 100000 + u * 7919 % 900000);
      std::string uscc = uscc_with_check_digit(std::string(first17, 17));
      char lic[48];
      std::snprintf(lic, sizeof lic, "JY%014lld", 13206020000000LL + u * 37);
      double lng = kCentres[d][0] + (pick(2000) - 1000) / 20000.0;
      double lat = kCentres[d][1] + (pick(2000) - 1000) / 25000.0;
      std::string operator_name = utf8_char(kSurnames, pick(40)) + kGiven[pick(26)];
      char phone[48];
      std::snprintf(phone, sizeof phone, "139%08d", 10000000 + u * 4513 % 89999999);
      const char* ratings[] = {"A", "A", "B", "B", "B", "C"};
      c.exec("INSERT INTO units (id, jurisdiction_id, jpath, name, operator, phone, address, uscc, licence_number, "
             "store_type, business_format, lng, lat, disclosure_token, show_alert_stats, rating, created_at, updated_at) "
             "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)",
             {id, ids[static_cast<size_t>(node)], paths[static_cast<size_t>(node)], name, operator_name,
              std::string(phone), std::string(kNodes[d + 2].name) + kPrefixes[pick(20)] + "路" + std::to_string(1 + pick(300)) + "号",
              uscc, std::string(lic), store_type, std::string(kFormats[t]), lng, lat, random_token(24),
              std::int64_t{u % 4 != 0}, std::string(ratings[pick(6)]), now, now});
      unit_ids.push_back(id);
      if (s == 0 && merchant_unit.empty()) merchant_unit = id;
      int ncam = 2 + pick(3);
      for (int k = 0; k < ncam; ++k) {
        int a = k == 0 ? 0 : pick(5);
        char gbdev[48], gbch[48];
        std::snprintf(gbdev, sizeof gbdev, "3206%02d1320%010d", d, serial);
        std::snprintf(gbch, sizeof gbch, "3206%02d1310%010d", d, serial++);
        bool online = pick(10) != 0;
        // moving pictures from the local synthetic camera (scripts/rtsp_camera.py, started by
        // scripts/start.sh); the merchant's kitchen records, public cameras keep evidence clips
        bool merchant_cam = merchant_unit == id;
        const char* record = merchant_cam && k < 2 ? "continuous" : (a == 0 || a == 1) ? "events" : "off";
        c.exec("INSERT INTO cameras (id, unit_id, jpath, name, area, brand, model, channel, gb_device_id, gb_channel_id, "
               "public, ai_enabled, status, last_seen_at, created_at, updated_at, stream_url, sub_stream_url, record) "
               "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)",
               {new_id("cam"), id, paths[static_cast<size_t>(node)], std::string(kAreaNames[a]) + std::to_string(k + 1),
                std::string(kAreas[a]), std::string(kBrands[pick(4)]), std::string("DS-2CD3T47"), std::int64_t{k + 1},
                std::string(gbdev), std::string(gbch), std::int64_t{a == 0 || a == 1}, std::int64_t{1},
                std::string(online ? "online" : "offline"), online ? storage::Value(now) : storage::Value(now - 3 * kHourMs),
                now, now, demo_rtsp + (k == 2 ? "/h265" : "/h264"), demo_rtsp + "/h264-sd", std::string(record)});
      }
      int nstaff = 3 + pick(4);
      for (int k = 0; k < nstaff; ++k) {
        char id17[48];
        std::snprintf(id17, sizeof id17, "320602%04d%02d%02d%03d", 1965 + pick(40), 1 + pick(12), 1 + pick(28), pick(1000));
        std::string idn = id_number_with_check(std::string(id17, 17));
        char sphone[48];
        std::snprintf(sphone, sizeof sphone, "138%08d", pick(99999999));
        // certificate expiry: mostly valid, some expiring within 30 days, some expired
        int r = pick(20);
        int expires = r == 0 ? today - 1 - pick(60) : r <= 2 ? today + pick(30) : today + 31 + pick(330);
        int issued = expires - 365;
        char certno[48];
        std::snprintf(certno, sizeof certno, "JK3206%010d", u * 10 + k);
        c.exec("INSERT INTO staff (id, unit_id, jpath, name, id_number_enc, id_number_index, phone_enc, position, "
               "cert_number, cert_issued_on, cert_expires_on, created_at, updated_at) "
               "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
               {new_id("staff"), id, paths[static_cast<size_t>(node)],
                utf8_char(kSurnames, pick(40)) + kGiven[pick(26)], p.cipher().encrypt(idn, "staff.id_number"),
                p.cipher().blind_index(idn), p.cipher().encrypt(sphone, "staff.phone"), std::string(kPositions[pick(8)]), std::string(certno),
                std::int64_t{issued}, std::int64_t{expires}, now, now});
      }
    }
  });
  struct DemoUser {
    const char* username;
    const char* password;
    const char* display;
    auth::Role role;
    int node;
  };
  const DemoUser kUsers[] = {
      {"admin", "Platform@2026!", "平台管理员", auth::Role::kPlatformAdmin, -1},
      {"city_reg", "Regulator@2026!", "南通市市场监管局 张科长", auth::Role::kRegulator, 1},
      {"district_reg", "Regulator@2026!", "崇川区市场监管局 李主任", auth::Role::kRegulator, 2},
      {"other_district_reg", "Regulator@2026!", "通州区市场监管局 王主任", auth::Role::kRegulator, 3},
      {"station_reg", "Regulator@2026!", "城东分局 赵所长", auth::Role::kRegulator, 6},
      {"merchant", "Kitchen@2026!", "门店负责人 陈经理", auth::Role::kMerchant, -1},
  };
  for (const auto& u : kUsers) {
    auth::NewUser nu;
    nu.username = u.username;
    nu.password = u.password;
    nu.display_name = u.display;
    nu.role = u.role;
    if (u.node >= 0) nu.jurisdiction_id = ids[static_cast<size_t>(u.node)];
    if (u.role == auth::Role::kMerchant) nu.unit_ids = {merchant_unit};
    auto r = p.auth().create_user_unchecked(nu, "demo");
    if (!r) log::warn("demo: user not created", {{"user", u.username}, {"error", r.error().message}});
  }
  log::info("demo: seeded", {{"units", std::to_string(unit_ids.size())}, {"merchant_unit", merchant_unit}});
  seed_demo_alerts(p);  // src/app/demo_alerts.cpp
}

}  // namespace mingchu::app
