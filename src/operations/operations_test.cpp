// Operations against every test engine (SQLite always; PostgreSQL with MINGCHU_TEST_PG, and
// required with MINGCHU_REQUIRE_PG=1): first-expiring-first stock-outs, the one return note of
// a refused batch, sample rules, scope, warnings on a moving clock and the public trace chain.
#include "operations/operations.hpp"

#include <gtest/gtest.h>

#include "core/time.hpp"
#include "core/validate.hpp"
#include "operations/json_io.hpp"
#include "operations/ledgers.hpp"
#include "operations/sensors.hpp"
#include "registry/devices.hpp"
#include "registry/registry.hpp"
#include "storage/testing.hpp"

namespace mingchu::operations {
namespace {

template <typename T>
T must(Result<T> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().code + ": " + r.error().message + " (" + r.error().field + ")");
  if (!r.ok()) throw std::runtime_error("unexpected failure");
  return std::move(r).value();
}

std::string uscc(int n) { return uscc_with_check_digit("91320602MA" + std::to_string(1000000 + n)); }

class OperationsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    clock_.set_ms(*parse_rfc3339("2026-03-15T10:00:00+08:00"));
    db_ = storage::open_test_database(GetParam());
    audit_ = std::make_unique<audit::AuditLog>(clock_);
    cipher_ = std::make_unique<crypto::FieldCipher>(must(crypto::FieldCipher::from_key("0123456789abcdef")));
    reg_ = std::make_unique<registry::Registry>(*db_, clock_, *audit_, *cipher_);
    ops_ = std::make_unique<Operations>(*db_, clock_, *audit_);
    admin_.user_id = "u_admin";
    admin_.role = auth::Role::kPlatformAdmin;
    admin_.jpath = "/";
    auto jur = [&](const std::string& parent, const char* level, const char* code, const char* name) {
      registry::JurisdictionInput in;
      in.parent_id = parent;
      in.level = *registry::parse_level(level);
      in.code = code;
      in.name = name;
      return must(reg_->create_jurisdiction(admin_, in));
    };
    auto province = jur("", "province", "320000", "江苏省");
    auto city = jur(province.id, "city", "320600", "南通市");
    dist_a_ = jur(city.id, "district", "320602", "崇川区");
    dist_b_ = jur(city.id, "district", "320612", "通州区");
    auto unit = [&](const char* name, const std::string& jid, int n) {
      registry::UnitInput in;
      in.name = {true, name};
      in.jurisdiction_id = {true, jid};
      in.store_type = {true, "central_kitchen"};
      in.uscc = {true, uscc(n)};
      in.licence_number = {true, "JY13206020012345"};
      return must(reg_->create_unit(admin_, in));
    };
    unit_a_ = unit("崇川中央厨房", dist_a_.id, 1).id;
    unit_b_ = unit("通州配餐中心", dist_b_.id, 2).id;
    shop_a_.user_id = "u_a";
    shop_a_.role = auth::Role::kMerchant;
    shop_a_.unit_ids = {unit_a_};
    shop_b_.user_id = "u_b";
    shop_b_.role = auth::Role::kMerchant;
    shop_b_.unit_ids = {unit_b_};
    reg_a_.user_id = "u_ra";
    reg_a_.role = auth::Role::kRegulator;
    reg_a_.jpath = dist_a_.path;

    SupplierInput s;
    s.unit_id = unit_a_;
    s.name = "南通粮油";
    s.uscc = uscc(10);
    s.qualification_expires_on = today() + 100;
    supplier_ = must(ops_->create_supplier(shop_a_, s)).id;
  }

  int today() const { return local_day(clock_.now_ms(), 480); }

  AcceptanceInput accept(const std::string& item, double qty, int produced_ago, int shelf_life, bool ok = true) {
    AcceptanceInput in;
    in.unit_id = unit_a_;
    in.supplier_id = supplier_;
    in.item = item;
    in.quantity = qty;
    in.unit_of_measure = "kg";
    in.batch_no = item + "-" + std::to_string(produced_ago);
    in.produced_on = today() - produced_ago;
    in.shelf_life_days = shelf_life;
    in.sensory_ok = ok;
    return in;
  }
  StockBatch stocked(const std::string& item, double qty, int produced_ago, int shelf_life) {
    auto a = must(ops_->create_acceptance(shop_a_, accept(item, qty, produced_ago, shelf_life)));
    return must(ops_->stock_in(shop_a_, StockInInput{a.id, std::nullopt, std::nullopt}));
  }
  StockOutInput take(const std::string& item, double qty) {
    StockOutInput o;
    o.unit_id = unit_a_;
    o.item = item;
    o.quantity = qty;
    o.department = "热厨";
    o.receiver = "王领料";
    o.handler = "陈库管";
    return o;
  }

  ManualClock clock_{true};
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<crypto::FieldCipher> cipher_;
  std::unique_ptr<registry::Registry> reg_;
  std::unique_ptr<Operations> ops_;
  auth::Principal admin_, shop_a_, shop_b_, reg_a_;
  registry::Jurisdiction dist_a_, dist_b_;
  std::string unit_a_, unit_b_, supplier_;
};

TEST_P(OperationsTest, StockOutTakesTheBatchesThatExpireFirstAndNeverMoreThanThereIs) {
  auto late = stocked("大米", 10, 0, 180);
  auto soon = stocked("大米", 4, 10, 15);
  auto mid = stocked("大米", 5, 5, 30);
  auto out = must(ops_->stock_out(shop_a_, take("大米", 11.5)));
  ASSERT_EQ(out.batches.size(), 3u);
  EXPECT_EQ(out.batches[0].batch_id, soon.id);
  EXPECT_DOUBLE_EQ(out.batches[0].quantity, 4);
  EXPECT_EQ(out.batches[1].batch_id, mid.id);
  EXPECT_DOUBLE_EQ(out.batches[1].quantity, 5);
  EXPECT_EQ(out.batches[2].batch_id, late.id);
  EXPECT_DOUBLE_EQ(out.batches[2].quantity, 2.5);

  auto refused = ops_->stock_out(shop_a_, take("大米", 7.501));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(refused.error().code, "insufficient_stock");
  // nothing was taken by the refused stock-out
  StockFilter f;
  f.item = "大米";
  auto stock = must(ops_->list_stock(shop_a_, f, {}));
  ASSERT_EQ(stock.total, 1);
  EXPECT_DOUBLE_EQ(stock.items[0].remaining, 7.5);
  must(ops_->stock_out(shop_a_, take("大米", 7.5)));
  EXPECT_EQ(must(ops_->list_stock(shop_a_, f, {})).total, 0);
}

TEST_P(OperationsTest, ExpiredBatchesAreNeverIssuedAndWarningsFollowTheClock) {
  auto b = stocked("牛奶", 12, 1, 6);  // last usable day: today + 4
  EXPECT_EQ(b.expiry, ExpiryStatus::kOk);
  EXPECT_TRUE(must(ops_->list_warnings(shop_a_, {}, {})).items.empty());
  clock_.set_ms(clock_.now_ms() + 2 * kDayMs);
  auto w = must(ops_->list_warnings(shop_a_, {}, {}));
  ASSERT_EQ(w.total, 1);
  EXPECT_EQ(w.items[0].kind, "stock_expiring");
  clock_.set_ms(clock_.now_ms() + 3 * kDayMs);
  w = must(ops_->list_warnings(reg_a_, {}, {}));
  ASSERT_EQ(w.total, 1);
  EXPECT_EQ(w.items[0].kind, "stock_expired");
  auto out = ops_->stock_out(shop_a_, take("牛奶", 1));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, "insufficient_stock");
}

TEST_P(OperationsTest, ARefusedBatchHasExactlyOneReturnNoteAndNeverEntersStock) {
  auto a = must(ops_->create_acceptance(shop_a_, accept("猪肉", 5, 0, 3, false)));
  ASSERT_TRUE(a.return_note_id);
  auto notes = must(ops_->list_return_notes(shop_a_, {}, {}));
  ASSERT_EQ(notes.total, 1);
  EXPECT_EQ(notes.items[0].acceptance_id, a.id);
  EXPECT_EQ(notes.items[0].reason, "sensory_check_failed");
  auto in = ops_->stock_in(shop_a_, StockInInput{a.id, std::nullopt, std::nullopt});
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.error().code, "acceptance_refused");
  // a batch already past its expiry on arrival is refused too
  auto old = must(ops_->create_acceptance(shop_a_, accept("面粉", 5, 40, 30)));
  EXPECT_TRUE(old.return_note_id);
  EXPECT_EQ(must(ops_->list_return_notes(shop_a_, {}, {})).total, 2);
  // the unique index holds even if a second note were attempted for the same acceptance
  storage::Conn c = db_->acquire();
  EXPECT_THROW(c->exec("INSERT INTO op_return_notes (id, unit_id, jpath, acceptance_id, supplier_id, item, quantity, "
                       "unit_of_measure, reason, at) VALUES ('rn_x', $1, '/', $2, $3, 'x', 1, 'kg', 'x', 0)",
                       {unit_a_, a.id, supplier_}),
               storage::DbError);
}

TEST_P(OperationsTest, ScopeAndRoles) {
  auto a = must(ops_->create_acceptance(shop_a_, accept("大米", 1, 0, 10)));
  EXPECT_EQ(ops_->get_acceptance(shop_b_, a.id).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(ops_->get_acceptance(reg_a_, a.id).ok());
  auto w = ops_->create_acceptance(reg_a_, accept("大米", 1, 0, 10));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::kForbidden);
  auto in = accept("大米", 1, 0, 10);
  in.unit_id = unit_b_;
  auto other = ops_->create_acceptance(shop_a_, in);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().field, "unit_id");
  EXPECT_EQ(must(ops_->list_acceptances(shop_b_, {}, {})).total, 0);
  ListFilter f;
  f.jurisdiction_id = dist_b_.id;
  EXPECT_EQ(must(ops_->list_acceptances(admin_, f, {})).total, 0);
  f.jurisdiction_id = dist_a_.id;
  EXPECT_EQ(must(ops_->list_acceptances(admin_, f, {})).total, 1);
}

TEST_P(OperationsTest, SamplesAreHeavyEnoughAndKeptLongEnough) {
  SampleInput s;
  s.unit_id = unit_a_;
  s.dish = "红烧肉";
  s.weight_g = 125;
  s.keeper = "王小明";
  s.kept_at = clock_.now_ms();
  s.dispose_after = s.kept_at + 48 * kHourMs;
  auto ok = must(ops_->create_sample(shop_a_, s));
  s.weight_g = 124.9;
  EXPECT_EQ(ops_->create_sample(shop_a_, s).error().field, "weight_g");
  s.weight_g = 200;
  s.dispose_after = s.kept_at + 47 * kHourMs;
  EXPECT_EQ(ops_->create_sample(shop_a_, s).error().field, "dispose_after");
  s.kept_at = clock_.now_ms() + kDayMs;
  s.dispose_after = s.kept_at + 48 * kHourMs;
  EXPECT_EQ(ops_->create_sample(shop_a_, s).error().field, "kept_at");
  EXPECT_EQ(ops_->dispose_sample(shop_a_, ok.id).error().code, "too_early");
  clock_.set_ms(clock_.now_ms() + 48 * kHourMs);
  EXPECT_TRUE(ops_->dispose_sample(shop_a_, ok.id).ok());
  EXPECT_EQ(ops_->dispose_sample(shop_a_, ok.id).error().code, "already_disposed");
}

TEST_P(OperationsTest, TheTraceChainReachesFromTheMealToTheSupplierWithNamesMasked) {
  stocked("五花肉", 8, 0, 5);
  auto out = must(ops_->stock_out(shop_a_, take("五花肉", 6)));
  SampleInput s;
  s.unit_id = unit_a_;
  s.dish = "红烧肉";
  s.weight_g = 150;
  s.keeper = "王小明";
  s.kept_at = clock_.now_ms();
  s.dispose_after = s.kept_at + 48 * kHourMs;
  auto sample = must(ops_->create_sample(shop_a_, s));
  MealBatchInput m;
  m.unit_id = unit_a_;
  m.dish = "红烧肉";
  m.stock_out_ids = {out.id};
  m.sample_id = sample.id;
  auto meal = must(ops_->create_meal_batch(shop_a_, m));
  auto t = must(ops_->public_trace(meal.trace_code));
  EXPECT_EQ(t.at("dish").as_string(), "红烧肉");
  const auto& ing = t.at("ingredients").as_array();
  ASSERT_EQ(ing.size(), 1u);
  EXPECT_EQ(ing[0].at("supplier").at("name").as_string(), "南通粮油");
  EXPECT_EQ(ing[0].at("issued_by").as_string(), "陈**");
  EXPECT_EQ(t.at("sample").at("keeper").as_string(), "王**");
  EXPECT_TRUE(t.at("delivery").is_null());
  EXPECT_EQ(json::serialize(t).find("王小明"), std::string::npos);
  EXPECT_EQ(ops_->public_trace("MBNOPE").error().kind, ErrorKind::kNotFound);

  // a stock-out of another unit is no ingredient of this one
  m.unit_id = unit_b_;
  auto other = ops_->create_meal_batch(shop_b_, m);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().field, "stock_out_ids[0]");
}

TEST_P(OperationsTest, AFailedSelfInspectionRaisesAClassThreeAlertInTheSameTransaction) {
  alerts::AlertsConfig acfg = alerts::default_alerts_config();
  Ledgers led(*db_, clock_, *audit_, &acfg);
  auto body = [&](bool second_ok) {
    return json::parse(R"({"unit_id":")" + unit_a_ + R"(","inspector":"钱","items":[{"item":"地面","ok":true},)" +
                       R"({"item":"冷藏","ok":)" + (second_ok ? "true" : "false") + "}]}")
        .as_object();
  };
  auto ok = must(led.create(shop_a_, "self-inspections", must(parse_ledger_record("self-inspections", body(true)))));
  EXPECT_FALSE(ok.abnormal);
  EXPECT_FALSE(ok.alert_id);
  auto bad = must(led.create(shop_a_, "self-inspections", must(parse_ledger_record("self-inspections", body(false)))));
  EXPECT_TRUE(bad.abnormal);
  ASSERT_TRUE(bad.alert_id);
  storage::Conn c = db_->acquire();
  auto r = c->query("SELECT type, risk_class, unit_id FROM alerts WHERE id = $1", {*bad.alert_id});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].text(0), "self_check_failed");
  EXPECT_EQ(r[0].integer(1), 3);
  EXPECT_EQ(r[0].text(2), unit_a_);
  // a morning check with fever is abnormal and becomes a warning, without an alert
  auto mc = json::parse(R"({"unit_id":")" + unit_a_ + R"(","staff_name":"孙","temperature_c":38.0,"hands_ok":true})")
                .as_object();
  auto fever = must(led.create(shop_a_, "morning-checks", must(parse_ledger_record("morning-checks", mc))));
  EXPECT_TRUE(fever.abnormal);
  EXPECT_FALSE(fever.alert_id);
  auto w = led.warnings(reg_a_, {}, 2);
  EXPECT_EQ(w.size(), 2u);
  EXPECT_TRUE(led.warnings(shop_b_, {}, 2).empty());
}

TEST(OperationsJson, AbsurdNumbersAndDatesNameTheField) {
  auto parse = [](const char* text) { return parse_acceptance(json::parse(text).as_object()); };
  const char* base =
      R"({"unit_id":"u1","supplier_id":"s1","item":"米","quantity":%s,"unit_of_measure":"kg","produced_on":"%s",)"
      R"("shelf_life_days":%s,"sensory_ok":true,"file_ids":[]})";
  auto body = [&](const char* q, const char* d, const char* s) {
    char buf[512];
    std::snprintf(buf, sizeof buf, base, q, d, s);
    return std::string(buf);
  };
  EXPECT_TRUE(parse(body("10", "2026-03-01", "30").c_str()).ok());
  EXPECT_EQ(parse(body("-1", "2026-03-01", "30").c_str()).error().field, "quantity");
  EXPECT_EQ(parse(body("1e300", "2026-03-01", "30").c_str()).error().field, "quantity");
  EXPECT_EQ(parse(body("0.0001", "2026-03-01", "30").c_str()).error().field, "quantity");
  EXPECT_EQ(parse(body("10", "2026-02-30", "30").c_str()).error().field, "produced_on");
  EXPECT_EQ(parse(body("10", "3026-03-01", "30").c_str()).error().field, "produced_on");
  EXPECT_EQ(parse(body("10", "2026-03-01", "0").c_str()).error().field, "shelf_life_days");
  EXPECT_EQ(parse(body("10", "2026-03-01", "99999999999").c_str()).error().field, "shelf_life_days");
}

TEST_P(OperationsTest, NewestFirstPagesAreTheSameWhateverWindowFindsThem) {
  // 30 acceptances from today back to ~2 years ago at growing gaps: pages of 7 found through
  // the time windows are exactly the newest-first order, across every page
  std::vector<std::string> expected;
  for (int i = 0; i < 30; ++i) {
    auto in = accept("米" + std::to_string(i), 1, 800, 2000);
    in.accepted_at = clock_.now_ms() - static_cast<TimeMs>(i * i) * kDayMs - i * kMinuteMs;
    expected.push_back(must(ops_->create_acceptance(shop_a_, in)).id);
  }
  for (const auto* who : {&shop_a_, &reg_a_}) {
    std::vector<std::string> got;
    for (int page = 1; page <= 5; ++page) {
      auto pg = must(ops_->list_acceptances(*who, {}, {page, 7}));
      EXPECT_EQ(pg.total, 30);
      for (const auto& a : pg.items) got.push_back(a.id);
    }
    EXPECT_EQ(got, expected);
  }
  ListFilter f;
  f.from = clock_.now_ms() - 100 * kDayMs;  // i*i < 100: the first ten
  f.to = clock_.now_ms() - 10 * kDayMs;     // i*i >= 10: from the fourth
  auto pg = must(ops_->list_acceptances(reg_a_, f, {1, 20}));
  ASSERT_EQ(pg.items.size(), 6u);
  EXPECT_EQ(pg.items.front().id, expected[4]);
  EXPECT_EQ(pg.items.back().id, expected[9]);
}

TEST_P(OperationsTest, PurchasePricesJumpAndStockCountsDiffer) {
  PurchaseOrderInput in;
  in.unit_id = unit_a_;
  in.supplier_id = supplier_;
  in.requested_by = "王";
  in.lines = {{"大米", "kg", 10, 5.0}};
  auto first = must(ops_->create_purchase_order(shop_a_, in));
  EXPECT_FALSE(first.lines[0].previous_price);
  in.lines = {{"大米", "kg", 10, 6.5}};  // +30 %
  auto second = must(ops_->create_purchase_order(shop_a_, in));
  ASSERT_TRUE(second.lines[0].previous_price);
  EXPECT_DOUBLE_EQ(*second.lines[0].change_pct, 30);
  EXPECT_TRUE(second.lines[0].price_jump);
  EXPECT_EQ(ops_->place_purchase_order(shop_a_, second.id).error().kind, ErrorKind::kConflict);
  EXPECT_EQ(ops_->decide_purchase_order(shop_b_, second.id, {true, "x", {}}).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(must(ops_->decide_purchase_order(shop_a_, second.id, {true, "x", {}})).state, "approved");
  EXPECT_EQ(must(ops_->place_purchase_order(shop_a_, second.id)).state, "ordered");
  PriceFilter pf;
  pf.item = "大米";
  EXPECT_EQ(must(ops_->list_prices(reg_a_, pf, {1, 20})).total, 2);
  EXPECT_EQ(must(ops_->list_prices(shop_b_, pf, {1, 20})).total, 0);

  stocked("面粉", 10, 1, 90);
  StockCountInput sc;
  sc.unit_id = unit_a_;
  sc.counted_by = "赵";
  sc.lines = {{"面粉", 9.5}, {"盐", 0}};
  auto count = must(ops_->create_stock_count(shop_a_, sc));
  EXPECT_EQ(count.differences, 1);
  EXPECT_DOUBLE_EQ(count.lines[0].book_quantity, 10);
  EXPECT_DOUBLE_EQ(count.lines[0].difference, -0.5);
  EXPECT_EQ(must(ops_->get_stock_count(reg_a_, count.id)).lines.size(), 2u);
  EXPECT_EQ(ops_->get_stock_count(shop_b_, count.id).error().kind, ErrorKind::kNotFound);
}

TEST_P(OperationsTest, SensorHistoryDownsamplesAndSurvivesCompaction) {
  registry::DeviceService devices(*db_, clock_, *audit_);
  registry::DeviceInput di;
  di.unit_id = unit_a_;
  di.name = "冷藏柜";
  di.kind = "refrigerator";
  di.thresholds_json = R"({"temperature_c":{"min":0,"max":8}})";
  auto dev = must(devices.create(admin_, di));
  const TimeMs t0 = clock_.now_ms() / kHourMs * kHourMs - 2 * kHourMs;
  {
    storage::Conn c = db_->acquire();
    storage::Transaction tx(*c);
    for (int i = 0; i < 120; ++i) {  // two hours of minute readings: 0..59, 0..59
      c->exec("INSERT INTO readings (device_id, at, metric, value) VALUES ($1, $2, 'temperature_c', $3)",
              {dev.id, t0 + i * kMinuteMs, static_cast<double>(i % 60)});
    }
    tx.commit();
  }
  SensorConfig cfg;
  cfg.raw_days = 1;
  SensorHistory h(*db_, clock_, devices, nullptr, cfg);
  HistoryQuery q;
  q.from = t0;
  q.to = t0 + 2 * kHourMs;
  q.buckets = 12;
  auto check = [&](const json::object& r) {
    const auto& pts = r.at("points").as_array();
    ASSERT_EQ(pts.size(), 12u);
    EXPECT_EQ(r.at("bucket_seconds").as_int64(), 600);
    EXPECT_DOUBLE_EQ(pts[0].as_object().at("min").to_number<double>(), 0);
    EXPECT_DOUBLE_EQ(pts[0].as_object().at("max").to_number<double>(), 9);
    EXPECT_DOUBLE_EQ(pts[0].as_object().at("avg").to_number<double>(), 4.5);
    EXPECT_EQ(pts[5].as_object().at("n").as_int64(), 10);
    EXPECT_DOUBLE_EQ(r.at("thresholds").as_object().at("max").to_number<double>(), 8);
  };
  check(must(h.history(shop_a_, dev.id, q)));
  EXPECT_EQ(h.history(shop_b_, dev.id, q).error().kind, ErrorKind::kNotFound);
  q.buckets = 1;
  EXPECT_EQ(h.history(shop_a_, dev.id, q).error().field, "buckets");
  q.buckets = 12;

  clock_.advance_ms(2 * kDayMs);
  auto st = h.compact();
  EXPECT_TRUE(st.ran);
  EXPECT_EQ(st.readings_folded, 120);
  EXPECT_EQ(h.compact().readings_folded, 0);
  {
    storage::Conn c = db_->acquire();
    EXPECT_EQ(c->query("SELECT COUNT(*) FROM readings WHERE device_id = $1", {dev.id})[0].integer(0), 0);
    EXPECT_EQ(c->query("SELECT COUNT(*) FROM reading_rollups WHERE device_id = $1", {dev.id})[0].integer(0), 2);
  }
  // hourly rollups answer hour buckets exactly
  q.buckets = 2;
  q.buckets = 10;
  q.to = t0 + 2 * kHourMs;
  auto after = must(h.history(shop_a_, dev.id, q));
  const auto& pts = after.at("points").as_array();
  ASSERT_EQ(pts.size(), 2u);  // one per hour (the rollups' resolution)
  EXPECT_DOUBLE_EQ(pts[0].as_object().at("avg").to_number<double>(), 29.5);
  EXPECT_DOUBLE_EQ(pts[1].as_object().at("max").to_number<double>(), 59);
  EXPECT_EQ(pts[1].as_object().at("n").as_int64(), 60);
}

// A delivery matched against its order: mismatches kept, received quantities, the order
// received; a count by batch confirmed into the stock, and refused once the batch moved.
TEST_P(OperationsTest, AcceptanceMatchesTheOrderAndConfirmedCountsAdjustTheStock) {
  PurchaseOrderInput po;
  po.unit_id = unit_a_;
  po.supplier_id = supplier_;
  po.requested_by = "王";
  po.lines = {{"大米", "kg", 100, 5.0}};
  auto order = must(ops_->create_purchase_order(shop_a_, po));
  AcceptanceInput in = accept("大米", 60, 1, 180);
  in.purchase_order_id = order.id;
  EXPECT_EQ(ops_->create_acceptance(shop_a_, in).error().code, "order_not_open");
  must(ops_->decide_purchase_order(shop_a_, order.id, {true, "x", {}}));
  must(ops_->place_purchase_order(shop_a_, order.id));
  auto a1 = must(ops_->create_acceptance(shop_a_, in));
  ASSERT_EQ(a1.mismatches.size(), 1u);
  EXPECT_EQ(a1.mismatches[0].field, "quantity");
  EXPECT_DOUBLE_EQ(a1.mismatches[0].ordered.to_number<double>(), 100);
  EXPECT_EQ(must(ops_->get_acceptance(reg_a_, a1.id)).mismatches.size(), 1u);
  in.quantity = 39;  // 40 outstanding, within 5 % of the 100 ordered
  EXPECT_TRUE(must(ops_->create_acceptance(shop_a_, in)).mismatches.empty());
  auto got = must(ops_->get_purchase_order(reg_a_, order.id));
  EXPECT_EQ(got.state, "received");
  EXPECT_DOUBLE_EQ(got.lines[0].received, 99);
  EXPECT_TRUE(got.received_at);
  EXPECT_EQ(ops_->create_acceptance(shop_a_, in).error().kind, ErrorKind::kConflict);
  in.purchase_order_id = "po_doesnotexist";
  EXPECT_EQ(ops_->create_acceptance(shop_a_, in).error().field, "purchase_order_id");

  auto b = stocked("面粉", 10, 1, 90);
  StockCountInput sc;
  sc.unit_id = unit_a_;
  sc.counted_by = "赵";
  sc.lines = {{"", 8.5, b.id}};
  auto count = must(ops_->create_stock_count(shop_a_, sc));
  EXPECT_EQ(count.state, "open");
  EXPECT_EQ(ops_->confirm_stock_count(shop_b_, count.id, {"钱"}).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(ops_->confirm_stock_count(reg_a_, count.id, {"钱"}).error().kind, ErrorKind::kForbidden);
  EXPECT_EQ(must(ops_->confirm_stock_count(shop_a_, count.id, {"钱"})).state, "confirmed");
  StockFilter sf;
  sf.item = "面粉";
  EXPECT_DOUBLE_EQ(must(ops_->list_stock(shop_a_, sf, {1, 20})).items.at(0).remaining, 8.5);
  auto moves = must(ops_->list_stock_movements(reg_a_, {}, {1, 20}));
  ASSERT_EQ(moves.items.size(), 1u);
  EXPECT_EQ(moves.items[0].kind, "count_adjustment");
  EXPECT_DOUBLE_EQ(moves.items[0].quantity, -1.5);
  EXPECT_EQ(must(ops_->list_stock_movements(shop_b_, {}, {1, 20})).total, 0);
  EXPECT_EQ(ops_->confirm_stock_count(shop_a_, count.id, {"钱"}).error().code, "illegal_transition");
  sc.lines = {{"", 8, b.id}};
  auto stale = must(ops_->create_stock_count(shop_a_, sc));
  StockOutInput so;
  so.unit_id = unit_a_;
  so.item = "面粉";
  so.quantity = 1;
  so.department = "面点";
  so.receiver = "李";
  so.handler = "王";
  must(ops_->stock_out(shop_a_, so));
  auto refused = ops_->confirm_stock_count(shop_a_, stale.id, {"钱"});
  EXPECT_EQ(refused.error().code, "stock_changed");
  EXPECT_DOUBLE_EQ(must(ops_->list_stock(shop_a_, sf, {1, 20})).items.at(0).remaining, 7.5);
}

// retention.readings_days and operations.sensor_raw_days act on one table through one owner:
// a retention shorter than the raw window folds the readings into rollups before deleting
// them, so the history survives; nothing else deletes readings.
TEST_P(OperationsTest, ReadingsRetentionFoldsBeforeItDeletes) {
  registry::DeviceService devices(*db_, clock_, *audit_);
  registry::DeviceInput di;
  di.unit_id = unit_a_;
  di.name = "冷冻库";
  di.kind = "freezer";
  auto dev = must(devices.create(admin_, di));
  const TimeMs t0 = clock_.now_ms() / kHourMs * kHourMs - 3 * kDayMs;
  {
    storage::Conn c = db_->acquire();
    storage::Transaction tx(*c);
    for (int i = 0; i < 60; ++i) {  // an hour of minute readings three days ago, and one now
      c->exec("INSERT INTO readings (device_id, at, metric, value) VALUES ($1, $2, 'temperature_c', $3)",
              {dev.id, t0 + i * kMinuteMs, -18.0 - (i % 4)});
    }
    c->exec("INSERT INTO readings (device_id, at, metric, value) VALUES ($1, $2, 'temperature_c', -19)",
            {dev.id, clock_.now_ms() - kMinuteMs});
    tx.commit();
  }
  auto count = [&](const char* table) {
    storage::Conn c = db_->acquire();
    return c->query(std::string("SELECT COUNT(*) FROM ") + table + " WHERE device_id = $1", {dev.id})[0].integer(0);
  };
  SensorConfig keep;  // raw 30 days, no retention cap: nothing is old enough
  keep.raw_days = 30;
  EXPECT_EQ(SensorHistory(*db_, clock_, devices, nullptr, keep).compact().readings_folded, 0);
  EXPECT_EQ(count("readings"), 61);

  SensorConfig capped = keep;
  capped.retention_days = 2;  // retention.readings_days shorter than the raw window
  SensorHistory h(*db_, clock_, devices, nullptr, capped);
  EXPECT_EQ(h.raw_cutoff(clock_.now_ms()), (clock_.now_ms() - 2 * kDayMs) / kHourMs * kHourMs);
  auto st = h.compact();
  EXPECT_EQ(st.readings_folded, 60);
  EXPECT_EQ(count("readings"), 1) << "the fresh reading stays raw";
  EXPECT_EQ(count("reading_rollups"), 1) << "the old hour is folded, not lost";
  HistoryQuery q;
  q.from = t0;
  q.to = t0 + kHourMs;
  q.buckets = 10;
  auto hist = must(h.history(shop_a_, dev.id, q));
  const auto& pts = hist.at("points").as_array();
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts[0].as_object().at("n").as_int64(), 60);
  EXPECT_DOUBLE_EQ(pts[0].as_object().at("min").to_number<double>(), -21);
  EXPECT_DOUBLE_EQ(pts[0].as_object().at("max").to_number<double>(), -18);
  // a retention longer than the raw window changes nothing: the raw window rules
  SensorConfig longer = keep;
  longer.raw_days = 1;
  longer.retention_days = 180;
  EXPECT_EQ(SensorHistory(*db_, clock_, devices, nullptr, longer).raw_cutoff(clock_.now_ms()),
            (clock_.now_ms() - kDayMs) / kHourMs * kHourMs);
}

INSTANTIATE_TEST_SUITE_P(Engines, OperationsTest, ::testing::ValuesIn(storage::test_engines()));

}  // namespace
}  // namespace mingchu::operations
