// The registry against every test engine (SQLite always; PostgreSQL with MINGCHU_TEST_PG, and
// required with MINGCHU_REQUIRE_PG=1): tree rules, codes, scope, masking, certificates,
// PATCH semantics, soft delete, paging, and hostile text.
#include "registry/registry.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <gtest/gtest.h>

#include "alerts/writer.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "core/validate.hpp"
#include "files/file_catalog.hpp"
#include "registry/json_io.hpp"
#include "storage/testing.hpp"

namespace mingchu::registry {
namespace {

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

// A valid unified social credit code, distinct for each n.
std::string uscc(int n) {
  std::string first17 = "91320602MA" + std::to_string(1000000 + n);  // 10 + 7 characters
  return uscc_with_check_digit(first17);
}
// A valid resident id number (born 1990-01-01 in 320602), distinct for each n < 1000.
std::string id_number(int n) {
  char seq[4];
  std::snprintf(seq, sizeof seq, "%03d", n);
  return id_number_with_check(std::string("32060219900101") + seq);
}

template <typename T>
T must(Result<T> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().code + ": " + r.error().message + " (" + r.error().field + ")");
  if (!r.ok()) throw std::runtime_error("unexpected failure");
  return std::move(r).value();
}

template <typename T>
ErrorKind kind(const Result<T>& r) {
  return r.ok() ? ErrorKind::kInternal : r.error().kind;
}

class RegistryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    clock_.set_ms(*parse_rfc3339("2026-03-15T10:00:00+08:00"));
    db_ = storage::open_test_database(GetParam());
    audit_ = std::make_unique<audit::AuditLog>(clock_);
    cipher_ = std::make_unique<crypto::FieldCipher>(must(crypto::FieldCipher::from_key("0123456789abcdef")));
    reg_ = std::make_unique<Registry>(*db_, clock_, *audit_, *cipher_, RegistryConfig{});
    reg_->unit_paths().add_hook(alerts::rollup_path_hook(480));  // as app/platform.cpp assembles it

    admin_.user_id = "u_admin";
    admin_.username = "admin";
    admin_.role = auth::Role::kPlatformAdmin;
    admin_.jpath = "/";

    province_ = must(reg_->create_jurisdiction(admin_, jur("", "province", "320000", "江苏省")));
    city_ = must(reg_->create_jurisdiction(admin_, jur(province_.id, "city", "320600", "南通市")));
    dist_a_ = must(reg_->create_jurisdiction(admin_, jur(city_.id, "district", "320602", "崇川区")));
    dist_b_ = must(reg_->create_jurisdiction(admin_, jur(city_.id, "district", "320612", "通州区")));
    station_a_ = must(reg_->create_jurisdiction(admin_, jur(dist_a_.id, "station", "320602001", "和平桥所")));

    city_reg_ = regulator("u_city", city_);
    reg_a_ = regulator("u_rega", dist_a_);
    reg_b_ = regulator("u_regb", dist_b_);
    station_reg_ = regulator("u_sta", station_a_);

    unit_a_ = must(reg_->create_unit(reg_a_, unit_in("南通小学食堂", dist_a_.id, uscc(1))));
    unit_b_ = must(reg_->create_unit(reg_b_, unit_in("通州饭店", dist_b_.id, uscc(2))));
    merchant_a_.user_id = "u_shop_a";
    merchant_a_.username = "shop_a";
    merchant_a_.role = auth::Role::kMerchant;
    merchant_a_.unit_ids = {unit_a_.id};
  }

  static JurisdictionInput jur(const std::string& parent, const std::string& level, const std::string& code,
                               const std::string& name) {
    json::object o{{"level", level}, {"code", code}, {"name", name}};
    if (!parent.empty()) o["parent_id"] = parent;
    return must(parse_jurisdiction_create(o));
  }

  static auth::Principal regulator(const std::string& id, const Jurisdiction& j) {
    auth::Principal p;
    p.user_id = id;
    p.username = id;
    p.role = auth::Role::kRegulator;
    p.jurisdiction_id = j.id;
    p.jpath = j.path;
    return p;
  }

  static UnitInput unit_in(const std::string& name, const std::string& jid, const std::string& code,
                           json::object extra = {}) {
    json::object o{{"name", name},
                   {"jurisdiction_id", jid},
                   {"store_type", "school_canteen"},
                   {"licence_number", "JY13206020012345"},
                   {"uscc", code}};
    for (auto& kv : extra) o[kv.key()] = kv.value();
    return must(parse_unit_input(o, false));
  }

  StaffInput staff_in(const std::string& unit_id, const std::string& name, int n, const std::string& expires_on) {
    json::object o{
        {"unit_id", unit_id},
        {"name", name},
        {"id_number", id_number(n)},
        {"phone", "13812345678"},
        {"position", "厨师"},
        {"health_cert",
         json::object{{"number", "JK-" + std::to_string(n)}, {"issued_on", "2025-01-01"}, {"expires_on", expires_on}}}};
    return must(parse_staff_input(o, false));
  }

  std::string today_plus(int days) { return format_date(reg_->today() + days); }

  std::int64_t count(const std::string& sql, const storage::Params& params = {}) {
    storage::Conn c = db_->acquire();
    return c->query(sql, params)[0].integer(0);
  }

  ManualClock clock_{true};
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<crypto::FieldCipher> cipher_;
  std::unique_ptr<Registry> reg_;
  auth::Principal admin_, city_reg_, reg_a_, reg_b_, station_reg_, merchant_a_;
  Jurisdiction province_, city_, dist_a_, dist_b_, station_a_;
  Unit unit_a_, unit_b_;
};

// ------------------------------------------------------------------- jurisdictions

TEST_P(RegistryTest, TreePathsAndLevels) {
  EXPECT_EQ(province_.path, "/" + province_.id + "/");
  EXPECT_EQ(dist_a_.path, province_.path + city_.id + "/" + dist_a_.id + "/");
  EXPECT_EQ(dist_a_.parent_id, city_.id);
  EXPECT_EQ(province_.parent_id, "");
  EXPECT_EQ(station_a_.level, Level::kStation);

  // a province has no parent; a city is placed under a province only
  EXPECT_EQ(kind(reg_->create_jurisdiction(admin_, jur(city_.id, "province", "330000", "浙江省"))),
            ErrorKind::kInvalid);
  auto wrong_level = reg_->create_jurisdiction(admin_, jur(province_.id, "district", "320101", "玄武区"));
  ASSERT_FALSE(wrong_level.ok());
  EXPECT_EQ(wrong_level.error().field, "level");
  auto no_parent = reg_->create_jurisdiction(admin_, jur("", "city", "320100", "南京市"));
  ASSERT_FALSE(no_parent.ok());
  EXPECT_EQ(no_parent.error().field, "parent_id");
  auto unknown_parent = reg_->create_jurisdiction(admin_, jur("jur_nope", "city", "320100", "南京市"));
  ASSERT_FALSE(unknown_parent.ok());
  EXPECT_EQ(unknown_parent.error().field, "parent_id");
}

TEST_P(RegistryTest, DivisionCodesFollowTheParent) {
  struct Case {
    std::string parent, level, code;
  };
  std::vector<Case> bad = {
      {"", "province", "320600"},            // not ending in 0000
      {"", "province", "990000"},            // no such province
      {"", "province", "32000"},             // five digits
      {province_.id, "city", "330100"},      // another province's digits
      {province_.id, "city", "320601"},      // a district's shape
      {city_.id, "district", "320700"},      // a city's shape
      {city_.id, "district", "320102"},      // another city's digits
      {dist_a_.id, "station", "320612001"},  // another district's code
      {dist_a_.id, "station", "320602000"},  // suffix 000
      {dist_a_.id, "station", "32060201"},   // eight digits
      {dist_a_.id, "station", "3206020a1"},  // not digits
  };
  for (const auto& c : bad) {
    json::object o{{"level", c.level}, {"code", c.code}, {"name", "x"}};
    if (!c.parent.empty()) o["parent_id"] = c.parent;
    auto in = parse_jurisdiction_create(o);
    if (!in.ok()) {
      EXPECT_EQ(in.error().field, "code") << c.code;
      continue;
    }
    auto r = reg_->create_jurisdiction(admin_, *in);
    ASSERT_FALSE(r.ok()) << c.code;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalid) << c.code;
    EXPECT_EQ(r.error().field, "code") << c.code;
  }
  // a taken code is a conflict
  auto dup = reg_->create_jurisdiction(admin_, jur(city_.id, "district", "320602", "重复"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(dup.error().code, "code_taken");
  // and good ones pass
  EXPECT_TRUE(reg_->create_jurisdiction(admin_, jur(city_.id, "district", "320613", "海门区")).ok());
  EXPECT_TRUE(reg_->create_jurisdiction(admin_, jur(dist_a_.id, "station", "320602002", "观音山所")).ok());
}

TEST_P(RegistryTest, WhoMayWriteTheTree) {
  // only admins make provinces and cities
  EXPECT_EQ(kind(reg_->create_jurisdiction(city_reg_, jur(province_.id, "city", "320500", "苏州市"))),
            ErrorKind::kForbidden);
  // a regulator creates strictly below their node
  EXPECT_TRUE(reg_->create_jurisdiction(city_reg_, jur(city_.id, "district", "320614", "新区")).ok());
  EXPECT_TRUE(reg_->create_jurisdiction(reg_a_, jur(dist_a_.id, "station", "320602003", "新所")).ok());
  // ...but not beside their node (the city is visible to them, as an ancestor)
  EXPECT_EQ(kind(reg_->create_jurisdiction(reg_a_, jur(city_.id, "district", "320615", "旁区"))),
            ErrorKind::kForbidden);
  // ...nor under another district (which they cannot even see)
  auto other = reg_->create_jurisdiction(reg_a_, jur(dist_b_.id, "station", "320612001", "他所"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(other.error().field, "parent_id");
  // merchants never
  EXPECT_EQ(kind(reg_->create_jurisdiction(merchant_a_, jur(dist_a_.id, "station", "320602004", "x"))),
            ErrorKind::kForbidden);

  JurisdictionPatch rename;
  rename.name = {true, std::string("和平桥监管所")};
  EXPECT_EQ(must(reg_->update_jurisdiction(reg_a_, station_a_.id, rename)).name, "和平桥监管所");
  EXPECT_EQ(kind(reg_->update_jurisdiction(reg_a_, dist_a_.id, rename)), ErrorKind::kForbidden);  // own node
  EXPECT_EQ(kind(reg_->update_jurisdiction(reg_a_, city_.id, rename)), ErrorKind::kForbidden);    // ancestor
  EXPECT_EQ(kind(reg_->update_jurisdiction(reg_a_, dist_b_.id, rename)), ErrorKind::kNotFound);   // out of scope
  EXPECT_EQ(kind(reg_->update_jurisdiction(merchant_a_, dist_a_.id, rename)), ErrorKind::kForbidden);
  EXPECT_EQ(must(reg_->update_jurisdiction(admin_, city_.id, rename)).code, "320600");

  // codes, levels and parents never change
  auto patch = parse_jurisdiction_patch(obj(R"({"name": "x", "code": "320699"})"));
  ASSERT_FALSE(patch.ok());
  EXPECT_EQ(patch.error().field, "code");
  EXPECT_EQ(patch.error().code, "immutable");
}

TEST_P(RegistryTest, JurisdictionVisibility) {
  // a district regulator sees its ancestors (for the path), itself and its subtree
  auto page = must(reg_->list_jurisdictions(reg_a_, {}, {}));
  std::vector<std::string> ids;
  for (auto& j : page.items) ids.push_back(j.id);
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> want = {province_.id, city_.id, dist_a_.id, station_a_.id};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);
  EXPECT_EQ(page.total, 4);
  EXPECT_TRUE(reg_->get_jurisdiction(reg_a_, province_.id).ok());
  EXPECT_EQ(kind(reg_->get_jurisdiction(reg_a_, dist_b_.id)), ErrorKind::kNotFound);
  EXPECT_EQ(kind(reg_->get_jurisdiction(reg_a_, "../../etc")), ErrorKind::kNotFound);

  // the city sees everything under it
  EXPECT_EQ(must(reg_->list_jurisdictions(city_reg_, {}, {})).total, 5);
  JurisdictionFilter districts;
  districts.level = Level::kDistrict;
  EXPECT_EQ(must(reg_->list_jurisdictions(city_reg_, districts, {})).total, 2);
  JurisdictionFilter children;
  children.parent_id = city_.id;
  EXPECT_EQ(must(reg_->list_jurisdictions(admin_, children, {})).total, 2);
  JurisdictionFilter by_name;
  by_name.q = "通州";
  EXPECT_EQ(must(reg_->list_jurisdictions(admin_, by_name, {})).total, 1);
  JurisdictionFilter by_code;
  by_code.q = "320602";
  EXPECT_EQ(must(reg_->list_jurisdictions(admin_, by_code, {})).total, 2);  // the district and its station

  // a merchant sees the nodes on the path of its unit
  auto m = must(reg_->list_jurisdictions(merchant_a_, {}, {}));
  EXPECT_EQ(m.total, 3);
  EXPECT_TRUE(reg_->get_jurisdiction(merchant_a_, dist_a_.id).ok());
  EXPECT_EQ(kind(reg_->get_jurisdiction(merchant_a_, dist_b_.id)), ErrorKind::kNotFound);
  EXPECT_EQ(kind(reg_->get_jurisdiction(merchant_a_, station_a_.id)), ErrorKind::kNotFound);
}

TEST_P(RegistryTest, DeletingANodeInUseIsAConflict) {
  EXPECT_EQ(reg_->delete_jurisdiction(admin_, city_.id).error().code, "has_children");
  EXPECT_EQ(reg_->delete_jurisdiction(admin_, dist_b_.id).error().code, "has_units");
  EXPECT_EQ(reg_->delete_jurisdiction(reg_a_, dist_a_.id).error().kind, ErrorKind::kForbidden);
  EXPECT_EQ(reg_->delete_jurisdiction(reg_b_, station_a_.id).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(reg_->delete_jurisdiction(reg_a_, station_a_.id).ok());
  EXPECT_EQ(kind(reg_->get_jurisdiction(admin_, station_a_.id)), ErrorKind::kNotFound);
  // a soft-deleted unit still refers to its node
  ASSERT_TRUE(reg_->delete_unit(reg_b_, unit_b_.id).ok());
  EXPECT_EQ(reg_->delete_jurisdiction(admin_, dist_b_.id).error().code, "has_units");
}

// ------------------------------------------------------------------- units

TEST_P(RegistryTest, UsccIsValidatedAndUnique) {
  auto bad = parse_unit_input(
      obj(R"({"name":"x","jurisdiction_id":"j","store_type":"other","licence_number":"JY13206020012345",)"
          R"("uscc":"91350100M000100Y44"})"),
      false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(bad.error().field, "uscc");
  EXPECT_EQ(bad.error().code, "invalid_uscc");
  for (std::string code : {"", "12345", "91350100M000100Y4", "91350100M000100Y433", "91350100M000100I43"}) {
    json::object o{{"name", "x"},
                   {"jurisdiction_id", "j"},
                   {"store_type", "other"},
                   {"licence_number", "JY13206020012345"},
                   {"uscc", code}};
    auto r = parse_unit_input(o, false);
    if (code.empty()) {
      EXPECT_TRUE(r.ok());  // an empty optional field is no value
      continue;
    }
    ASSERT_FALSE(r.ok()) << code;
    EXPECT_EQ(r.error().field, "uscc") << code;
  }
  // lower case is normalised
  std::string lower = uscc(3);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  ASSERT_NE(lower, uscc(3));
  EXPECT_EQ(must(reg_->create_unit(reg_a_, unit_in("小写", dist_a_.id, lower))).uscc, uscc(3));

  auto taken = reg_->create_unit(reg_b_, unit_in("冒名", dist_b_.id, uscc(1)));
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(taken.error().code, "uscc_taken");
  // a PATCH to a taken code too
  auto patch = must(parse_unit_input(json::object{{"uscc", uscc(1)}}, true));
  EXPECT_EQ(reg_->update_unit(reg_b_, unit_b_.id, patch).error().code, "uscc_taken");
  // deleting the holder frees it
  ASSERT_TRUE(reg_->delete_unit(reg_a_, unit_a_.id).ok());
  EXPECT_TRUE(reg_->update_unit(reg_b_, unit_b_.id, patch).ok());
}

TEST_P(RegistryTest, UnitNeedsALicenceOrAFiling) {
  auto in = must(parse_unit_input(obj(R"({"name":"无证","jurisdiction_id":"x","store_type":"takeaway"})"), false));
  in.jurisdiction_id.value = dist_a_.id;
  auto r = reg_->create_unit(reg_a_, in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "licence_number");
  in.filing_number = {true, std::string("NT-XCY-2026-0001")};
  EXPECT_TRUE(reg_->create_unit(reg_a_, in).ok());
  // clearing the licence of a unit that has no filing is refused
  auto clear = must(parse_unit_input(obj(R"({"licence_number": null})"), true));
  EXPECT_EQ(reg_->update_unit(reg_a_, unit_a_.id, clear).error().field, "licence_number");
  for (const char* bad :
       {R"({"licence_number":"JY1234"})", R"({"filing_number":"a b"})", R"({"phone":"12345"})",
        R"({"store_type":"bar"})", R"({"rating":"D"})", R"({"lng":200})", R"({"lat":-1})", R"({"name":null})",
        R"({"name":""})", R"({"name":5})", R"({"colour":"red"})", R"({"disclosure":{"show_alert_stats":"yes"}})",
        R"({"disclosure":{"x":true}})", R"({"licence_image_ids":["a","a"]})", R"({"licence_image_ids":[1]})",
        R"({"disclosure_token":"x"})"}) {
    EXPECT_FALSE(parse_unit_input(obj(bad), true).ok()) << bad;
  }
}

TEST_P(RegistryTest, RegulatorsSeeOnlyTheirSubtree) {
  // reads, writes and deletes of another district's unit look like a missing unit
  EXPECT_EQ(kind(reg_->get_unit(reg_a_, unit_b_.id)), ErrorKind::kNotFound);
  auto patch = must(parse_unit_input(obj(R"({"name":"改名"})"), true));
  EXPECT_EQ(kind(reg_->update_unit(reg_a_, unit_b_.id, patch)), ErrorKind::kNotFound);
  EXPECT_EQ(reg_->delete_unit(reg_a_, unit_b_.id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(must(reg_->get_unit(admin_, unit_b_.id)).name, "通州饭店");  // unchanged

  auto a_units = must(reg_->list_units(reg_a_, {}, {}));
  ASSERT_EQ(a_units.total, 1);
  EXPECT_EQ(a_units.items[0].id, unit_a_.id);
  EXPECT_EQ(must(reg_->list_units(city_reg_, {}, {})).total, 2);
  // a filter on a node outside the scope finds nothing, never the other district's units
  UnitFilter f;
  f.jurisdiction_id = dist_b_.id;
  EXPECT_EQ(must(reg_->list_units(reg_a_, f, {})).total, 0);
  f.jurisdiction_id = city_.id;  // an ancestor: the scope still applies
  EXPECT_EQ(must(reg_->list_units(reg_a_, f, {})).total, 1);
  EXPECT_EQ(must(reg_->list_units(city_reg_, f, {})).total, 2);
  // the station below district A sees no unit of the district itself
  EXPECT_EQ(must(reg_->list_units(station_reg_, {}, {})).total, 0);
  EXPECT_EQ(kind(reg_->get_unit(station_reg_, unit_a_.id)), ErrorKind::kNotFound);

  // creating in another district: the reference does not resolve
  auto elsewhere = reg_->create_unit(reg_a_, unit_in("越界", dist_b_.id, uscc(9)));
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_EQ(elsewhere.error().field, "jurisdiction_id");
  // nor moving a unit there
  auto move = must(parse_unit_input(json::object{{"jurisdiction_id", dist_b_.id}}, true));
  EXPECT_EQ(reg_->update_unit(reg_a_, unit_a_.id, move).error().field, "jurisdiction_id");
  // implausible ids never reach storage
  EXPECT_EQ(kind(reg_->get_unit(admin_, "unit_x' OR '1'='1")), ErrorKind::kNotFound);
}

TEST_P(RegistryTest, MerchantsOnlyTheirOwnUnits) {
  EXPECT_TRUE(reg_->get_unit(merchant_a_, unit_a_.id).ok());
  EXPECT_EQ(kind(reg_->get_unit(merchant_a_, unit_b_.id)), ErrorKind::kNotFound);
  auto list = must(reg_->list_units(merchant_a_, {}, {}));
  ASSERT_EQ(list.total, 1);
  EXPECT_EQ(list.items[0].id, unit_a_.id);
  EXPECT_EQ(kind(reg_->create_unit(merchant_a_, unit_in("自建", dist_a_.id, uscc(7)))), ErrorKind::kForbidden);
  EXPECT_EQ(reg_->delete_unit(merchant_a_, unit_a_.id).error().kind, ErrorKind::kForbidden);
  EXPECT_EQ(reg_->delete_unit(merchant_a_, unit_b_.id).error().kind, ErrorKind::kNotFound);

  auto mine = must(parse_unit_input(obj(R"({"phone":"0513-85123456","operator":"王五"})"), true));
  auto updated = must(reg_->update_unit(merchant_a_, unit_a_.id, mine));
  EXPECT_EQ(updated.phone, "0513-85123456");
  EXPECT_EQ(updated.operator_name, "王五");
  auto rate = must(parse_unit_input(obj(R"({"rating":"A"})"), true));
  EXPECT_EQ(kind(reg_->update_unit(merchant_a_, unit_a_.id, rate)), ErrorKind::kForbidden);
  EXPECT_EQ(must(reg_->update_unit(reg_a_, unit_a_.id, rate)).rating, "A");
  auto move = must(parse_unit_input(json::object{{"jurisdiction_id", station_a_.id}}, true));
  EXPECT_EQ(kind(reg_->update_unit(merchant_a_, unit_a_.id, move)), ErrorKind::kForbidden);
  // sending the current value back (GET → edit → PATCH) is no change
  auto same = must(parse_unit_input(json::object{{"jurisdiction_id", dist_a_.id}, {"rating", "A"}}, true));
  EXPECT_TRUE(reg_->update_unit(merchant_a_, unit_a_.id, same).ok());
}

TEST_P(RegistryTest, PatchChangesOnlyWhatIsSent) {
  auto full = must(parse_unit_input(
      obj(R"({"address":"崇川路1号","business_format":"学校食堂","lng":120.86,"lat":32.01,"rating":"B"})"), true));
  Unit u = must(reg_->update_unit(reg_a_, unit_a_.id, full));
  EXPECT_EQ(u.address, "崇川路1号");
  EXPECT_DOUBLE_EQ(*u.lng, 120.86);
  EXPECT_EQ(u.name, "南通小学食堂");
  EXPECT_EQ(u.uscc, uscc(1));

  auto clear = must(
      parse_unit_input(obj(R"({"address":null,"lng":null,"lat":null,"disclosure":{"show_alert_stats":false}})"), true));
  u = must(reg_->update_unit(reg_a_, unit_a_.id, clear));
  EXPECT_FALSE(u.address.has_value());
  EXPECT_FALSE(u.lng.has_value());
  EXPECT_FALSE(u.show_alert_stats);
  EXPECT_EQ(u.business_format, "学校食堂");  // untouched
  EXPECT_EQ(u.rating, "B");
  Unit again = must(reg_->get_unit(admin_, unit_a_.id));
  EXPECT_FALSE(again.address.has_value());
  EXPECT_EQ(again.disclosure_token, unit_a_.disclosure_token);  // never changes

  // one coordinate alone is refused
  auto half = must(parse_unit_input(obj(R"({"lng":120.5})"), true));
  EXPECT_EQ(reg_->update_unit(reg_a_, unit_a_.id, half).error().field, "lat");
  // required fields cannot be cleared
  auto no_name = parse_unit_input(obj(R"({"name":null})"), true);
  ASSERT_FALSE(no_name.ok());
  EXPECT_EQ(no_name.error().code, "not_clearable");
  // an empty PATCH changes nothing but the time
  clock_.advance_ms(kMinuteMs);
  Unit touched = must(reg_->update_unit(reg_a_, unit_a_.id, must(parse_unit_input(json::object{}, true))));
  EXPECT_EQ(touched.name, u.name);
  EXPECT_GT(touched.updated_at, u.updated_at);
}

TEST_P(RegistryTest, MovingAUnitMovesEverythingItOwns) {
  auto cam = must(reg_->create_camera(
      reg_a_,
      must(parse_camera_input(json::object{{"unit_id", unit_a_.id}, {"name", "后厨"}, {"area", "cooking"}}, false))));
  auto st = must(reg_->create_staff(merchant_a_, staff_in(unit_a_.id, "张三", 1, "2027-01-01")));
  auto move = must(parse_unit_input(json::object{{"jurisdiction_id", station_a_.id}}, true));
  Unit moved = must(reg_->update_unit(reg_a_, unit_a_.id, move));
  EXPECT_EQ(moved.jpath, station_a_.path);
  EXPECT_TRUE(reg_->get_camera(station_reg_, cam.id).ok());
  EXPECT_TRUE(reg_->get_staff(station_reg_, st.id).ok());
  EXPECT_TRUE(reg_->get_unit(station_reg_, unit_a_.id).ok());
}

TEST_P(RegistryTest, SoftDeleteTakesCamerasAndStaffAlong) {
  auto cam = must(reg_->create_camera(
      reg_a_,
      must(parse_camera_input(json::object{{"unit_id", unit_a_.id}, {"name", "后厨"}, {"area", "cooking"}}, false))));
  auto st = must(reg_->create_staff(merchant_a_, staff_in(unit_a_.id, "张三", 1, "2027-01-01")));
  ASSERT_TRUE(reg_->delete_unit(reg_a_, unit_a_.id).ok());
  EXPECT_EQ(kind(reg_->get_unit(admin_, unit_a_.id)), ErrorKind::kNotFound);
  EXPECT_EQ(kind(reg_->get_camera(admin_, cam.id)), ErrorKind::kNotFound);
  EXPECT_EQ(kind(reg_->get_staff(admin_, st.id)), ErrorKind::kNotFound);
  EXPECT_EQ(must(reg_->list_units(admin_, {}, {})).total, 1);
  EXPECT_EQ(must(reg_->list_cameras(admin_, {}, {})).total, 0);
  EXPECT_EQ(must(reg_->list_staff(admin_, {}, {})).total, 0);
  // the rows are kept, marked
  EXPECT_EQ(count("SELECT COUNT(*) FROM units WHERE id = $1 AND deleted_at IS NOT NULL", {unit_a_.id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM cameras WHERE deleted_at IS NOT NULL"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM staff WHERE deleted_at IS NOT NULL"), 1);
  EXPECT_EQ(reg_->delete_unit(reg_a_, unit_a_.id).error().kind, ErrorKind::kNotFound);  // once
  EXPECT_EQ(kind(reg_->unit_by_disclosure_token(unit_a_.disclosure_token)), ErrorKind::kNotFound);
  EXPECT_EQ(must(reg_->unit_by_disclosure_token(unit_b_.disclosure_token)).id, unit_b_.id);
}

TEST_P(RegistryTest, PagingCountsEveryMatch) {
  for (int i = 0; i < 23; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "Shop %02d", i);
    must(reg_->create_unit(reg_a_, unit_in(name, dist_a_.id, uscc(100 + i))));
  }
  UnitFilter f;
  f.q = "shop";
  std::vector<std::string> seen;
  for (int page = 1; page <= 3; ++page) {
    auto p = must(reg_->list_units(reg_a_, f, {page, 10}));
    EXPECT_EQ(p.total, 23);
    EXPECT_EQ(p.items.size(), page < 3 ? 10u : 3u);
    for (auto& u : p.items) seen.push_back(u.name);
  }
  ASSERT_EQ(seen.size(), 23u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(seen.front(), "Shop 00");
  EXPECT_EQ(must(reg_->list_units(reg_a_, f, {4, 10})).items.size(), 0u);
  EXPECT_EQ(must(reg_->list_units(reg_a_, {}, {1, 200})).total, 24);
  UnitFilter type;
  type.store_type = "hospital";
  EXPECT_EQ(must(reg_->list_units(reg_a_, type, {})).total, 0);
  type.store_type = "pub";
  EXPECT_EQ(kind(reg_->list_units(reg_a_, type, {})), ErrorKind::kInvalid);
}

TEST_P(RegistryTest, HostileTextIsStoredVerbatim) {
  const std::string sql = "Robert'); DROP TABLE units;--";
  const std::string html = "<script>alert('x')</script>&amp;\"";
  Unit u = must(reg_->create_unit(reg_a_, unit_in(sql, dist_a_.id, uscc(50), json::object{{"address", html}})));
  Unit back = must(reg_->get_unit(reg_a_, u.id));
  EXPECT_EQ(back.name, sql);
  EXPECT_EQ(back.address, html);
  EXPECT_EQ(count("SELECT COUNT(*) FROM units"), 3);
  // LIKE wildcards in a search are literal
  UnitFilter f;
  f.q = "%";
  EXPECT_EQ(must(reg_->list_units(admin_, f, {})).total, 0);
  f.q = "'); drop";
  EXPECT_EQ(must(reg_->list_units(admin_, f, {})).total, 1);
  f.q = "<script>";
  EXPECT_EQ(must(reg_->list_units(admin_, f, {})).total, 1);
  // control characters and oversize text are refused at the edge
  EXPECT_FALSE(parse_unit_input(json::object{{"name", "a\x01"}}, true).ok());
  EXPECT_FALSE(parse_unit_input(json::object{{"name", std::string(129, 'x')}}, true).ok());
  EXPECT_FALSE(parse_unit_input(json::object{{"address", "line\nbreak"}}, true).ok());
}

// ------------------------------------------------------------------- cameras

TEST_P(RegistryTest, CamerasAreManagedByRegulators) {
  auto in =
      must(parse_camera_input(obj(R"({"unit_id":"x","name":"粗加工区","area":"rough_processing","brand":"Hikvision",)"
                                  R"("channel":3,"stream_url":"rtsp://admin:s3cret@127.0.0.1:1554/ch3",)"
                                  R"("gb_device_id":"32060200001320000001","gb_channel_id":"32060200001310000003",)"
                                  R"("public":true})"),
                              false));
  in.unit_id.value = unit_a_.id;
  EXPECT_EQ(kind(reg_->create_camera(merchant_a_, in)), ErrorKind::kForbidden);
  Camera c = must(reg_->create_camera(reg_a_, in));
  EXPECT_EQ(c.status, "offline");
  EXPECT_TRUE(c.ai_enabled);
  EXPECT_TRUE(c.is_public);
  EXPECT_EQ(c.jpath, unit_a_.jpath);
  EXPECT_EQ(c.stream_url, "rtsp://admin:s3cret@127.0.0.1:1554/ch3");

  // the merchant reads its cameras, without the stream password, and cannot change them
  Camera seen = must(reg_->get_camera(merchant_a_, c.id));
  EXPECT_EQ(seen.stream_url, "rtsp://admin:***@127.0.0.1:1554/ch3");
  auto rename = must(parse_camera_input(obj(R"({"name":"新名"})"), true));
  EXPECT_EQ(kind(reg_->update_camera(merchant_a_, c.id, rename)), ErrorKind::kForbidden);
  EXPECT_EQ(reg_->delete_camera(merchant_a_, c.id).error().kind, ErrorKind::kForbidden);
  EXPECT_EQ(kind(reg_->get_camera(reg_b_, c.id)), ErrorKind::kNotFound);
  EXPECT_EQ(kind(reg_->update_camera(reg_b_, c.id, rename)), ErrorKind::kNotFound);

  // one GB/T 28181 channel id, one camera
  in.unit_id.value = unit_b_.id;
  EXPECT_EQ(kind(reg_->create_camera(reg_b_, in)), ErrorKind::kConflict);
  // another unit's camera cannot be made in unit A's regulator's name
  EXPECT_EQ(reg_->create_camera(reg_a_, in).error().field, "unit_id");

  Camera renamed = must(reg_->update_camera(reg_a_, c.id, rename));
  EXPECT_EQ(renamed.name, "新名");
  EXPECT_EQ(renamed.channel, 3);
  auto clear = must(parse_camera_input(obj(R"({"stream_url":null,"ai_enabled":false})"), true));
  renamed = must(reg_->update_camera(reg_a_, c.id, clear));
  EXPECT_FALSE(renamed.stream_url.has_value());
  EXPECT_FALSE(renamed.ai_enabled);

  CameraFilter f;
  f.area = "rough_processing";
  EXPECT_EQ(must(reg_->list_cameras(merchant_a_, f, {})).total, 1);
  f.area = "cooking";
  EXPECT_EQ(must(reg_->list_cameras(merchant_a_, f, {})).total, 0);
  CameraFilter online;
  online.status = "online";
  EXPECT_EQ(must(reg_->list_cameras(admin_, online, {})).total, 0);
  online.status = "broken";
  EXPECT_EQ(kind(reg_->list_cameras(admin_, online, {})), ErrorKind::kInvalid);
  EXPECT_EQ(must(reg_->list_cameras(reg_b_, {}, {})).total, 0);

  for (const char* bad :
       {R"({"stream_url":"file:///etc/passwd"})", R"({"stream_url":"rtsp://a b"})", R"({"gb_device_id":"1234"})",
        R"({"gb_channel_id":"3206020000131000000X"})", R"({"channel":0})", R"({"channel":10000})", R"({"channel":"3"})",
        R"({"area":"roof"})", R"({"public":"yes"})", R"({"public":null})", R"({"status":"online"})",
        R"({"last_seen_at":"2026-01-01T00:00:00Z"})", R"({"unit_id":"unit_other"})"}) {
    EXPECT_FALSE(parse_camera_input(obj(bad), true).ok()) << bad;
  }
  ASSERT_TRUE(reg_->delete_camera(reg_a_, c.id).ok());
  EXPECT_EQ(kind(reg_->get_camera(reg_a_, c.id)), ErrorKind::kNotFound);
}

// ------------------------------------------------------------------- staff

TEST_P(RegistryTest, StaffPersonalDataIsEncryptedAndMasked) {
  const std::string idn = id_number(7);
  Staff s = must(reg_->create_staff(merchant_a_, staff_in(unit_a_.id, "李四", 7, "2027-01-01")));
  // the merchant who entered it, and the platform operator, see it in full
  EXPECT_EQ(s.id_number, idn);
  EXPECT_FALSE(s.personal_data_masked);
  EXPECT_EQ(must(reg_->get_staff(admin_, s.id)).id_number, idn);
  EXPECT_EQ(must(reg_->get_staff(admin_, s.id)).phone, "13812345678");
  // regulators see it masked
  Staff r = must(reg_->get_staff(reg_a_, s.id));
  EXPECT_TRUE(r.personal_data_masked);
  EXPECT_EQ(r.id_number, mask_id_number(idn));
  EXPECT_EQ(r.phone, "138****5678");
  EXPECT_EQ(kind(reg_->get_staff(reg_b_, s.id)), ErrorKind::kNotFound);

  // the database holds neither in clear, nor does the audit log
  {
    storage::Conn c = db_->acquire();
    auto row = c->query("SELECT id_number_enc, phone_enc, id_number_index FROM staff WHERE id = $1", {s.id});
    ASSERT_EQ(row.size(), 1u);
    EXPECT_EQ(row[0].text(0).find(idn), std::string::npos);
    EXPECT_TRUE(crypto::FieldCipher::looks_encrypted(row[0].text(0)));
    EXPECT_EQ(row[0].text(1).find("13812345678"), std::string::npos);
    EXPECT_EQ(row[0].text(2), cipher_->blind_index(idn));
    auto all = c->query("SELECT COUNT(*) FROM audit_log WHERE detail LIKE $1 OR detail LIKE $2",
                        {"%" + idn + "%", std::string("%13812345678%")});
    EXPECT_EQ(all[0].integer(0), 0);
  }

  // the same person twice in one unit is a conflict; found again by id number
  EXPECT_EQ(kind(reg_->create_staff(reg_a_, staff_in(unit_a_.id, "李四", 7, "2027-01-01"))), ErrorKind::kConflict);
  StaffFilter by_id;
  by_id.id_number = idn;
  EXPECT_EQ(must(reg_->list_staff(reg_a_, by_id, {})).total, 1);
  by_id.id_number = id_number(8);
  EXPECT_EQ(must(reg_->list_staff(reg_a_, by_id, {})).total, 0);

  // PATCH: the phone can be cleared, the id number corrected (and re-indexed)
  auto patch = must(parse_staff_input(json::object{{"phone", nullptr}, {"id_number", id_number(9)}}, true));
  Staff p = must(reg_->update_staff(merchant_a_, s.id, patch));
  EXPECT_FALSE(p.phone.has_value());
  EXPECT_EQ(p.id_number, id_number(9));
  EXPECT_EQ(p.name, "李四");
  ASSERT_TRUE(p.cert.has_value());
  by_id.id_number = id_number(9);
  EXPECT_EQ(must(reg_->list_staff(admin_, by_id, {})).total, 1);

  // a birth date after today is no valid id number
  auto unborn = must(parse_staff_input(json::object{{"id_number", id_number_with_check("32060220270101001")}}, true));
  EXPECT_EQ(reg_->update_staff(merchant_a_, s.id, unborn).error().field, "id_number");
  // merchants cannot see or touch another unit's staff
  Staff other = must(reg_->create_staff(reg_b_, staff_in(unit_b_.id, "王五", 11, "2027-01-01")));
  EXPECT_EQ(kind(reg_->get_staff(merchant_a_, other.id)), ErrorKind::kNotFound);
  EXPECT_EQ(kind(reg_->create_staff(merchant_a_, staff_in(unit_b_.id, "赵六", 12, "2027-01-01"))), ErrorKind::kInvalid);
  EXPECT_EQ(reg_->delete_staff(merchant_a_, other.id).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(reg_->delete_staff(merchant_a_, s.id).ok());

  for (const char* bad : {R"({"id_number":"320602199001011234"})", R"({"id_number":null})", R"({"phone":"110"})",
                          R"({"health_cert":{"number":"1","issued_on":"2026-02-30","expires_on":"2027-01-01"}})",
                          R"({"health_cert":{"number":"1","issued_on":"2026-01-01","expires_on":"2025-01-01"}})",
                          R"({"health_cert":{"number":"1","issued_on":"2026-01-01"}})",
                          R"({"health_cert":{"number":"1","issued_on":"2026-01-01","expires_on":"2027-01-01","x":1}})",
                          R"({"health_cert":"yes"})", R"({"cert_status":"valid"})", R"({"unit_id":"unit_x"})"}) {
    EXPECT_FALSE(parse_staff_input(obj(bad), true).ok()) << bad;
  }
  auto nested =
      parse_staff_input(obj(R"({"health_cert":{"number":"1","issued_on":"2026-01-01","expires_on":"bad"}})"), true);
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.error().field, "health_cert.expires_on");
}

TEST_P(RegistryTest, CertificateStatusAtTheBoundaries) {
  struct Case {
    int days;
    CertStatus want;
  };
  std::vector<Case> cases = {{-1, CertStatus::kExpired},
                             {0, CertStatus::kExpiring},
                             {30, CertStatus::kExpiring},
                             {31, CertStatus::kValid},
                             {400, CertStatus::kValid}};
  std::vector<std::string> ids;
  for (size_t i = 0; i < cases.size(); ++i) {
    Staff s = must(reg_->create_staff(
        merchant_a_, staff_in(unit_a_.id, "员工" + std::to_string(i), static_cast<int>(i), today_plus(cases[i].days))));
    EXPECT_EQ(s.cert_status, cases[i].want) << cases[i].days;
    EXPECT_EQ(s.days_left, cases[i].days);
    ids.push_back(s.id);
  }
  // no certificate at all
  auto none = must(
      parse_staff_input(json::object{{"unit_id", unit_a_.id}, {"name", "新人"}, {"id_number", id_number(99)}}, false));
  Staff fresh = must(reg_->create_staff(merchant_a_, none));
  EXPECT_EQ(fresh.cert_status, CertStatus::kMissing);
  EXPECT_FALSE(fresh.days_left.has_value());

  StaffFilter f;
  f.cert_status = CertStatus::kExpiring;
  EXPECT_EQ(must(reg_->list_staff(reg_a_, f, {})).total, 2);
  f.cert_status = CertStatus::kExpired;
  EXPECT_EQ(must(reg_->list_staff(reg_a_, f, {})).total, 1);
  f.cert_status = CertStatus::kValid;
  EXPECT_EQ(must(reg_->list_staff(reg_a_, f, {})).total, 2);
  f.cert_status = CertStatus::kMissing;
  EXPECT_EQ(must(reg_->list_staff(reg_a_, f, {})).total, 1);

  // the certificate query: soonest first, with the unit's name, scoped
  HealthCertFilter hf;
  auto all = must(reg_->list_health_certs(reg_a_, hf, {}));
  ASSERT_EQ(all.total, 6);
  EXPECT_EQ(all.items[0].staff_id, ids[0]);
  EXPECT_EQ(all.items[0].status, CertStatus::kExpired);
  EXPECT_EQ(all.items[0].unit_name, "南通小学食堂");
  EXPECT_EQ(all.items[5].status, CertStatus::kMissing);
  hf.status = CertStatus::kExpiring;
  auto expiring = must(reg_->list_health_certs(reg_a_, hf, {}));
  ASSERT_EQ(expiring.total, 2);
  EXPECT_EQ(expiring.items[0].days_left, 0);
  EXPECT_EQ(expiring.items[1].days_left, 30);
  EXPECT_EQ(must(reg_->list_health_certs(reg_b_, hf, {})).total, 0);

  // a day later, the one expiring today has expired and day 31 is expiring
  clock_.advance_ms(kDayMs);
  EXPECT_EQ(must(reg_->get_staff(admin_, ids[1])).cert_status, CertStatus::kExpired);
  EXPECT_EQ(must(reg_->get_staff(admin_, ids[3])).cert_status, CertStatus::kExpiring);
  EXPECT_EQ(must(reg_->get_staff(admin_, ids[3])).days_left, 30);
}

TEST_P(RegistryTest, TodayFollowsTheLocalDay) {
  // 2026-03-15 23:59 in China is still the 15th; 00:00 is the 16th (UTC 16:00 of the 15th)
  clock_.set_ms(*parse_rfc3339("2026-03-15T23:59:00+08:00"));
  EXPECT_EQ(format_date(reg_->today()), "2026-03-15");
  clock_.set_ms(*parse_rfc3339("2026-03-15T16:00:00Z"));
  EXPECT_EQ(format_date(reg_->today()), "2026-03-16");
}

// ------------------------------------------------------------------- files and audit

TEST_P(RegistryTest, UnitsClaimTheirImages) {
  auto dir = std::filesystem::temp_directory_path() / ("mingchu-files-" + random_hex(6));
  files::FileStore store(dir, 1 << 20);
  files::FileCatalog catalog(*db_, store, clock_, *audit_);
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  // a regulator uploads a licence scan (placed at their node), a merchant a storefront photo
  auto scan = must(catalog.upload(reg_a_, png + "scan", "licence.png", std::nullopt));
  EXPECT_EQ(scan.jpath, dist_a_.path);
  auto pdf = must(catalog.upload(reg_a_, "%PDF-1.7 doc", "doc.pdf", std::nullopt));
  auto photo = must(catalog.upload(merchant_a_, png + "front", "front.png", std::nullopt));
  EXPECT_EQ(photo.unit_id, unit_a_.id);
  auto foreign = must(catalog.upload(reg_b_, png + "b", "b.png", std::nullopt));

  // the merchant cannot read the regulator's scan until a unit claims it
  EXPECT_EQ(kind(catalog.get(merchant_a_, scan.id)), ErrorKind::kNotFound);
  auto patch = must(parse_unit_input(
      json::object{{"licence_image_ids", json::array{scan.id.c_str()}}, {"storefront_image_id", photo.id}}, true));
  Unit u = must(reg_->update_unit(reg_a_, unit_a_.id, patch));
  EXPECT_EQ(u.licence_image_ids, std::vector<std::string>{scan.id});
  EXPECT_EQ(must(catalog.get(merchant_a_, scan.id)).unit_id, unit_a_.id);

  // another district's file, a PDF, or an unknown id cannot be referenced
  for (const auto& id : {foreign.id, pdf.id, std::string("file_nope")}) {
    auto bad = must(parse_unit_input(json::object{{"storefront_image_id", id}}, true));
    auto r = reg_->update_unit(reg_a_, unit_a_.id, bad);
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.error().field, "storefront_image_id");
  }
  // a staff certificate image goes to the staff's unit
  auto cert_scan = must(catalog.upload(reg_a_, png + "cert", "cert.png", std::nullopt));
  auto in = staff_in(unit_a_.id, "孙七", 21, "2027-01-01");
  in.cert.value->image_id = cert_scan.id;
  Staff s = must(reg_->create_staff(reg_a_, in));
  EXPECT_EQ(s.cert->image_id, cert_scan.id);
  EXPECT_TRUE(catalog.get(merchant_a_, cert_scan.id).ok());
  std::filesystem::remove_all(dir);
}

TEST_P(RegistryTest, EveryWriteIsAudited) {
  auto patch = must(parse_unit_input(obj(R"({"name":"改名"})"), true));
  ASSERT_TRUE(reg_->update_unit(reg_a_, unit_a_.id, patch).ok());
  ASSERT_TRUE(reg_->delete_unit(reg_a_, unit_a_.id).ok());
  audit::AuditQuery q;
  q.action = "unit.";
  q.page_size = 50;
  auto [entries, total] = audit_->list(*db_, q);
  EXPECT_EQ(total, 4);  // two creates, the update, the delete
  bool saw_update = false;
  for (const auto& e : entries) {
    if (e.e.action == "unit.update") {
      saw_update = true;
      EXPECT_EQ(e.e.target, "unit:" + unit_a_.id);
      EXPECT_EQ(e.e.actor_id, "u_rega");
      EXPECT_NE(e.e.detail.find("\"name\""), std::string::npos);
      EXPECT_EQ(e.e.detail.find("改名"), std::string::npos);  // field names, not values
    }
  }
  EXPECT_TRUE(saw_update);
  EXPECT_TRUE(audit_->verify(*db_).ok);
  // a refused write leaves no trace
  auto before = audit_->list(*db_, q).second;
  EXPECT_FALSE(reg_->update_unit(reg_a_, unit_b_.id, patch).ok());
  EXPECT_FALSE(reg_->update_unit(merchant_a_, unit_b_.id, patch).ok());
  EXPECT_EQ(audit_->list(*db_, q).second, before);
}

TEST_P(RegistryTest, JsonHasTheApiFieldNames) {
  json::object u = to_json(unit_a_, 480);
  for (const char* k : {"id",
                        "jurisdiction_id",
                        "name",
                        "operator",
                        "phone",
                        "address",
                        "uscc",
                        "licence_number",
                        "filing_number",
                        "store_type",
                        "business_format",
                        "lng",
                        "lat",
                        "licence_image_ids",
                        "storefront_image_id",
                        "disclosure",
                        "disclosure_token",
                        "rating",
                        "created_at",
                        "updated_at"}) {
    EXPECT_TRUE(u.contains(k)) << k;
  }
  EXPECT_EQ(u.at("created_at").as_string(), "2026-03-15T10:00:00+08:00");
  EXPECT_TRUE(u.at("disclosure").as_object().at("show_alert_stats").as_bool());
  json::object j = to_json(province_, 480);
  EXPECT_TRUE(j.at("parent_id").is_null());
  EXPECT_EQ(j.at("level").as_string(), "province");
  Staff s = must(reg_->create_staff(merchant_a_, staff_in(unit_a_.id, "周八", 31, "2027-01-01")));
  json::object sj = to_json(s, 480);
  EXPECT_EQ(sj.at("health_cert").as_object().at("expires_on").as_string(), "2027-01-01");
  EXPECT_EQ(sj.at("cert_status").as_string(), "valid");
  EXPECT_TRUE(sj.at("days_left").is_int64());
}

INSTANTIATE_TEST_SUITE_P(Engines, RegistryTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::registry
