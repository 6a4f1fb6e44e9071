// The supervision loop's rules, on every engine: taxonomy, dedup window edges, dual push,
// the state machine (every legal and illegal transition), deadlines and cards with a frozen
// clock, the scheduler's lease, certificate notices.
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "alerts/scheduler.hpp"
#include "alerts/testing.hpp"

namespace mingchu::alerts {
namespace {

using testing::kStart;
using testing::World;

// ------------------------------------------------------------------ taxonomy (no database)

TEST(AlertsConfig, DefaultsAreTheFifteenTypesOfTheDomainAndSelfCheckFailed) {
  AlertsConfig c = default_alerts_config();
  ASSERT_EQ(c.types.size(), 16u);
  EXPECT_EQ(c.find_type("self_check_failed")->risk_class, 3);
  EXPECT_EQ(c.find_type("rodent")->risk_class, 1);
  EXPECT_EQ(c.find_type("smoking")->risk_class, 2);
  EXPECT_EQ(c.find_type("no_mask")->risk_class, 3);
  EXPECT_EQ(c.find_type("camera_offline")->risk_class, 2);
  EXPECT_EQ(c.find_type("sensor_out_of_range")->name_zh, "温湿度等超限");
  EXPECT_EQ(c.due_at(1, 0), 7 * kDayMs);
  EXPECT_EQ(c.due_at(2, 0), 7 * kDayMs);
  EXPECT_FALSE(c.due_at(3, 0).has_value());
  EXPECT_EQ(c.yellow_card_days, 5);
  EXPECT_EQ(c.red_card_days, 10);
  EXPECT_EQ(*c.find_rule("freezer", "temperature_c")->max, -18.0);
  EXPECT_EQ(*c.find_rule("refrigerator", "temperature_c")->min, 0.0);
  EXPECT_EQ(*c.find_rule("storeroom", "humidity_pct")->max, 75.0) << "the * rule applies to every kind";
  EXPECT_EQ(c.find_rule("storeroom", "pressure"), nullptr);
}

TEST(AlertsConfig, TheShippedFileHoldsExactlyTheCompiledDefaults) {
  auto path = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "config" / "alerts.toml";
  AlertsConfig empty;  // no types, no rules: everything must come from the file
  auto loaded = load_alerts_file(path.string(), empty);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  AlertsConfig d = default_alerts_config();
  ASSERT_EQ(loaded->types.size(), d.types.size());
  for (size_t i = 0; i < d.types.size(); ++i) {
    EXPECT_EQ(loaded->types[i].code, d.types[i].code);
    EXPECT_EQ(loaded->types[i].name_zh, d.types[i].name_zh);
    EXPECT_EQ(loaded->types[i].name_en, d.types[i].name_en);
    EXPECT_EQ(loaded->types[i].risk_class, d.types[i].risk_class);
  }
  ASSERT_EQ(loaded->sensor_rules.size(), d.sensor_rules.size());
  EXPECT_EQ(loaded->deadline_days, d.deadline_days);
  EXPECT_EQ(loaded->dedup_window_ms, d.dedup_window_ms);
  EXPECT_EQ(loaded->offline_window_ms, d.offline_window_ms);
}

TEST(AlertsConfig, AFileMovesATypeToAnotherClassAndAddsTypes) {
  auto c = parse_alerts_toml(R"(
dedup_window_minutes = 3
[deadlines]
class_3 = 14
[cards]
yellow_days = 3
red_days = 6
[[types]]
code = "smoking"
risk_class = 1
[[types]]
code = "raw_cooked_mixed"
name_zh = "生熟混放"
name_en = "Raw and cooked food mixed"
risk_class = 2
[[sensor_rules]]
kind = "freezer"
metric = "temperature_c"
max = -20.0
min_duration_minutes = 5
[[sensor_rules]]
kind = "gas"
metric = "ch4_ppm"
max = 50
)",
                             default_alerts_config(), "test.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->types.size(), 17u);
  EXPECT_EQ(c->find_type("smoking")->risk_class, 1);
  EXPECT_EQ(c->find_type("smoking")->name_zh, "后厨吸烟") << "fields not given are kept";
  EXPECT_EQ(c->find_type("raw_cooked_mixed")->risk_class, 2);
  EXPECT_EQ(c->dedup_window_ms, 3 * kMinuteMs);
  EXPECT_EQ(c->due_at(3, 0), 14 * kDayMs);
  EXPECT_EQ(c->yellow_card_days, 3);
  EXPECT_EQ(*c->find_rule("freezer", "temperature_c")->max, -20.0);
  EXPECT_EQ(c->find_rule("freezer", "temperature_c")->min_duration_ms, 5 * kMinuteMs);
  EXPECT_EQ(*c->find_rule("gas", "ch4_ppm")->max, 50.0);
}

TEST(AlertsConfig, RefusesWhatIsWrongNamingTheKey) {
  auto base = default_alerts_config();
  auto field_of = [&](const char* text) {
    auto c = parse_alerts_toml(text, base, "bad.toml");
    EXPECT_FALSE(c.ok()) << text;
    return c.ok() ? std::string() : c.error().field;
  };
  EXPECT_EQ(field_of("dedup_windw_minutes = 3"), "dedup_windw_minutes");
  EXPECT_EQ(field_of("[[types]]\ncode = \"rodent\"\nrisk_class = 4"), "types[0].risk_class");
  EXPECT_EQ(field_of("[[types]]\ncode = \"rodent\"\nrisk_class = \"1\""), "types[0].risk_class");
  EXPECT_EQ(field_of("[[types]]\ncode = \"rodent\"\nrisk_clas = 1"), "types[0].risk_clas");
  EXPECT_EQ(field_of("[[types]]\ncode = \"Bad Code\"\nrisk_class = 1"), "types[0].code");
  EXPECT_EQ(field_of("[[types]]\ncode = \"new_type\"\nrisk_class = 1"), "types[0].name_zh");
  EXPECT_EQ(field_of("[[types]]\nname_zh = \"x\""), "types[0].code");
  EXPECT_EQ(field_of("[[types]]\ncode = \"a\"\nname_zh=\"a\"\nname_en=\"a\"\nrisk_class=1\n"
                     "[[types]]\ncode = \"a\"\nrisk_class=2"),
            "types[1].code");
  EXPECT_EQ(field_of("[cards]\nyellow_days = 10\nred_days = 5"), "cards.red_days");
  EXPECT_EQ(field_of("[deadlines]\nclass_4 = 1"), "deadlines.class_4");
  EXPECT_EQ(field_of("[[sensor_rules]]\nkind = \"spaceship\"\nmetric = \"t\"\nmax = 1"), "sensor_rules[0].kind");
  EXPECT_EQ(field_of("[[sensor_rules]]\nkind = \"freezer\"\nmetric = \"t\""), "sensor_rules[0].max");
  EXPECT_EQ(field_of("[[sensor_rules]]\nkind = \"freezer\"\nmetric = \"t\"\nmin = 5\nmax = 1"), "sensor_rules[0].min");
  EXPECT_EQ(field_of("types = 3"), "types");
  EXPECT_EQ(field_of("this is not toml ["), "alerts_config");
}

// ------------------------------------------------------------------ on every engine

class LoopTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { w_ = std::make_unique<World>(GetParam()); }

  Alert get(const std::string& id) {
    auto d = w_->alerts->get(w_->admin, id);
    EXPECT_TRUE(d.ok());
    return d->alert;
  }
  std::vector<std::string> timeline(const std::string& id) {
    auto d = w_->alerts->get(w_->admin, id);
    std::vector<std::string> out;
    for (const auto& e : d->events) out.push_back(e.type);
    return out;
  }
  std::int64_t events_of(const std::string& id, const std::string& type) {
    return w_->count("SELECT COUNT(*) FROM alert_events WHERE alert_id = $1 AND type = $2", {id, type});
  }
  std::int64_t inbox(const auth::Principal& p) {
    return w_->count("SELECT COUNT(*) FROM notifications WHERE user_id = $1", {p.user_id});
  }
  std::unique_ptr<World> w_;
};

TEST_P(LoopTest, DedupFoldsEventsInsideTheWindowAndOnlyThose) {
  const TimeMs win = w_->alerts->config().dedup_window_ms;
  TimeMs t = kStart - kHourMs;
  auto a = w_->raise("ua", "ca1", "smoking", t, "e1");
  EXPECT_FALSE(a.merged);
  auto b = w_->raise("ua", "ca1", "smoking", t + win, "e2");  // exactly at the edge: merged
  EXPECT_TRUE(b.merged);
  EXPECT_EQ(b.alert_id, a.alert_id);
  auto before = w_->raise("ua", "ca1", "smoking", t - win, "e3");  // as early as allowed
  EXPECT_EQ(before.alert_id, a.alert_id);
  // last_seen is now t + win: the window reaches t + 2 win
  auto edge = w_->raise("ua", "ca1", "smoking", t + 2 * win, "e4");
  EXPECT_EQ(edge.alert_id, a.alert_id);
  auto beyond = w_->raise("ua", "ca1", "smoking", t + 3 * win + 1, "e5");
  EXPECT_FALSE(beyond.merged) << "1 ms past the window: a new alert";
  auto too_early = w_->raise("ua", "ca1", "smoking", t - win - 1, "e6");
  EXPECT_FALSE(too_early.merged);
  EXPECT_NE(too_early.alert_id, a.alert_id);
  EXPECT_FALSE(w_->raise("ua", "ca2", "smoking", t, "e7").merged) << "another camera";
  EXPECT_FALSE(w_->raise("ua", "ca1", "phone_use", t, "e8").merged) << "another type";

  Alert first = get(a.alert_id);
  EXPECT_EQ(first.capture_count, 4);
  EXPECT_EQ(first.occurred_at, t);
  EXPECT_EQ(first.last_seen_at, t + 2 * win);
  EXPECT_EQ(events_of(a.alert_id, "merged"), 3);
  EXPECT_EQ(events_of(a.alert_id, "created"), 1);
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM outbox WHERE topic = 'alert.created'"), 5) << "merges are not pushed";
}

TEST_P(LoopTest, AClosedOrDismissedAlertTakesNoMoreCaptures) {
  auto a = w_->raise("ua", "ca1", "bin_uncovered", kStart);
  ASSERT_TRUE(w_->alerts->dismiss(w_->rega, a.alert_id, "not a bin").ok());
  auto b = w_->raise("ua", "ca1", "bin_uncovered", kStart + kMinuteMs);
  EXPECT_FALSE(b.merged);
  EXPECT_NE(b.alert_id, a.alert_id);
  // a submitted alert still folds captures in
  ASSERT_TRUE(w_->alerts->rectify(w_->ma, b.alert_id, {"covered", {}}).ok());
  EXPECT_TRUE(w_->raise("ua", "ca1", "bin_uncovered", kStart + 2 * kMinuteMs).merged);
}

TEST_P(LoopTest, CreationIsDualPushedWithOutboxAuditAndRollupsInOneTransaction) {
  auto a = w_->raise("ua", "ca1", "rodent", kStart, "evt-1");
  Alert al = get(a.alert_id);
  EXPECT_EQ(al.risk_class, 1);
  EXPECT_EQ(al.state, AlertState::kOpen);
  EXPECT_EQ(al.due_at, kStart + 7 * kDayMs);
  EXPECT_EQ(timeline(a.alert_id), (std::vector<std::string>{"created", "notified"}));
  // dual push: the unit's merchant and every regulator whose node holds the unit
  EXPECT_EQ(inbox(w_->ma), 1);
  EXPECT_EQ(inbox(w_->rega), 1);
  EXPECT_EQ(inbox(w_->city), 1);
  EXPECT_EQ(inbox(w_->regb), 0);
  EXPECT_EQ(inbox(w_->mb), 0);
  EXPECT_EQ(inbox(w_->admin), 0);
  storage::Conn c = w_->db->acquire();
  storage::Rows out = c->query("SELECT id, topic, unit_id, jpath, payload, sms FROM outbox");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text(1), "alert.created");
  EXPECT_EQ(out[0].text(3), "/jp/jc/ja/");
  EXPECT_EQ(out[0].integer(5), 1) << "class 1 also goes to SMS/voice";
  auto payload = parse_object(out[0].text(4));
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(payload->at("schema").as_string(), "mingchu.event.v1");
  EXPECT_EQ(payload->at("id").as_string(), out[0].text(0));
  EXPECT_EQ(payload->at("unit").at("jurisdiction_id").as_string(), "ja");
  EXPECT_EQ(payload->at("alert").at("type_name_zh").as_string(), "老鼠出没");
  EXPECT_EQ(payload->at("alert").at("state").as_string(), "open");
  EXPECT_EQ(payload->at("actor").at("role").as_string(), "api_key");
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM audit_log WHERE action = 'alert.create' AND target = $1",
                      {"alert:" + a.alert_id}),
            1);
  EXPECT_TRUE(w_->audit->verify(*w_->db).ok) << "the batched audit append keeps the chain";
  EXPECT_EQ(w_->count("SELECT SUM(created) FROM alert_daily WHERE jpath = '/'"), 1);

  auto low = w_->raise("ua", "ca2", "no_mask", kStart);
  EXPECT_FALSE(get(low.alert_id).due_at.has_value()) << "class 3 has no deadline";
  EXPECT_EQ(w_->count("SELECT sms FROM outbox WHERE payload LIKE $1", {"%" + low.alert_id + "%"}), 0);
}

TEST_P(LoopTest, TheLifecycleWithEveryLegalTransition) {
  auto a = w_->raise("ua", "ca1", "smoking", kStart);
  const std::string id = a.alert_id;
  auto r = w_->alerts->rectify(w_->ma, id, {"已整改，张贴禁烟标识", {}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->state, AlertState::kSubmitted);
  auto rej = w_->alerts->review(w_->rega, id, {false, "照片不清楚"});
  ASSERT_TRUE(rej.ok());
  EXPECT_EQ(rej->state, AlertState::kOpen);
  ASSERT_TRUE(w_->alerts->rectify(w_->ma, id, {"重新整改", {}}).ok());
  auto ok = w_->alerts->review(w_->city, id, {true, ""});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->state, AlertState::kClosed);
  EXPECT_EQ(ok->handled_at, kStart);
  EXPECT_EQ(timeline(id), (std::vector<std::string>{"created", "notified", "rectification_submitted", "rejected",
                                                    "rectification_submitted", "approved", "closed"}));
  auto d = w_->alerts->get(w_->ma, id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->rectifications.size(), 2u);
  EXPECT_EQ(*d->events[3].comment, "照片不清楚");
  EXPECT_EQ(d->events[3].actor.role, "regulator");
  // each transition: audit entry, outbox alert.updated, notifications to the other side
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM audit_log WHERE target = $1 AND action <> 'alert.create'", {"alert:" + id}),
            4);
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM outbox WHERE topic = 'alert.updated'"), 4);
  EXPECT_EQ(inbox(w_->ma), 1 + 2) << "created, rejected, approved";
  EXPECT_EQ(inbox(w_->rega), 1 + 2) << "created, two rectifications";
  EXPECT_EQ(w_->count("SELECT SUM(handled) FROM alert_daily WHERE jpath = '/'"), 1);
  EXPECT_TRUE(w_->audit->verify(*w_->db).ok);

  auto b = w_->raise("ua", "ca2", "smoking", kStart);
  auto dis = w_->alerts->dismiss(w_->rega, b.alert_id, "误报：是水蒸气");
  ASSERT_TRUE(dis.ok());
  EXPECT_EQ(dis->state, AlertState::kDismissed);
  auto c2 = w_->raise("ub", "cb1", "smoking", kStart);
  ASSERT_TRUE(w_->alerts->rectify(w_->mb, c2.alert_id, {"done", {}}).ok());
  EXPECT_TRUE(w_->alerts->dismiss(w_->admin, c2.alert_id, "false positive").ok()) << "submitted → dismissed";
  auto labels = w_->alerts->false_positives(w_->city, std::nullopt, std::nullopt, 100);
  ASSERT_TRUE(labels.ok());
  ASSERT_EQ(labels->size(), 2u);
  const auto& steam = (*labels)[0].alert_id == b.alert_id ? (*labels)[0] : (*labels)[1];
  EXPECT_EQ(steam.alert_id, b.alert_id);
  EXPECT_EQ(steam.reason, "误报：是水蒸气");
  EXPECT_EQ(steam.camera_id, "ca2");
  EXPECT_EQ(w_->alerts->false_positives(w_->rega, std::nullopt, std::nullopt, 100)->size(), 1u) << "scoped";
}

TEST_P(LoopTest, EveryIllegalTransitionIs409NamingBothStates) {
  auto open = w_->raise("ua", "ca1", "smoking", kStart).alert_id;
  auto submitted = w_->raise("ua", "ca1", "phone_use", kStart).alert_id;
  ASSERT_TRUE(w_->alerts->rectify(w_->ma, submitted, {"x", {}}).ok());
  auto closed = w_->raise("ua", "ca2", "smoking", kStart).alert_id;
  ASSERT_TRUE(w_->alerts->rectify(w_->ma, closed, {"x", {}}).ok());
  ASSERT_TRUE(w_->alerts->review(w_->rega, closed, {true, ""}).ok());
  auto dismissed = w_->raise("ua", "ca2", "phone_use", kStart).alert_id;
  ASSERT_TRUE(w_->alerts->dismiss(w_->rega, dismissed, "fp").ok());

  auto expect409 = [&](auto r, const char* from, const char* to) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kConflict);
    EXPECT_EQ(r.error().code, "illegal_transition");
    EXPECT_NE(r.error().message.find(std::string("'") + from + "'"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(std::string("'") + to + "'"), std::string::npos) << r.error().message;
  };
  expect409(w_->alerts->review(w_->rega, open, {true, ""}), "open", "closed");
  expect409(w_->alerts->review(w_->rega, open, {false, "no"}), "open", "open");
  expect409(w_->alerts->rectify(w_->ma, submitted, {"again", {}}), "submitted", "submitted");
  expect409(w_->alerts->rectify(w_->ma, closed, {"x", {}}), "closed", "submitted");
  expect409(w_->alerts->review(w_->rega, closed, {true, ""}), "closed", "closed");
  expect409(w_->alerts->review(w_->rega, closed, {false, "no"}), "closed", "open");
  expect409(w_->alerts->dismiss(w_->rega, closed, "fp"), "closed", "dismissed");
  expect409(w_->alerts->rectify(w_->ma, dismissed, {"x", {}}), "dismissed", "submitted");
  expect409(w_->alerts->review(w_->rega, dismissed, {true, ""}), "dismissed", "closed");
  expect409(w_->alerts->review(w_->rega, dismissed, {false, "no"}), "dismissed", "open");
  expect409(w_->alerts->dismiss(w_->rega, dismissed, "fp"), "dismissed", "dismissed");
  // nothing changed by the refusals
  EXPECT_EQ(get(open).state, AlertState::kOpen);
  EXPECT_EQ(timeline(closed).back(), "closed");
}

TEST_P(LoopTest, RolesAndScopeOfTransitions) {
  auto id = w_->raise("ua", "ca1", "smoking", kStart).alert_id;
  auto nf = w_->alerts->rectify(w_->mb, id, {"x", {}});
  EXPECT_EQ(nf.error().kind, ErrorKind::kNotFound) << "another unit's merchant does not see it";
  EXPECT_EQ(w_->alerts->get(w_->regb, id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(w_->alerts->dismiss(w_->regb, id, "x").error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(w_->alerts->rectify(w_->rega, id, {"x", {}}).error().kind, ErrorKind::kForbidden);
  EXPECT_EQ(w_->alerts->dismiss(w_->ma, id, "x").error().kind, ErrorKind::kForbidden);
  auto key = w_->rega;
  key.is_api_key = true;
  EXPECT_EQ(w_->alerts->dismiss(key, id, "x").error().kind, ErrorKind::kForbidden);
  EXPECT_EQ(w_->alerts->rectify(w_->ma, id, {"", {}}).error().field, "text");
  EXPECT_EQ(w_->alerts->rectify(w_->ma, id, {std::string(2001, 'x'), {}}).error().field, "text");
  EXPECT_EQ(w_->alerts->rectify(w_->ma, id, {"x", {"file_nope"}}).error().field, "photo_ids[0]");
  EXPECT_EQ(w_->alerts->review(w_->rega, id, {false, ""}).error().field, "comment") << "a rejection needs a comment";
  EXPECT_EQ(w_->alerts->dismiss(w_->rega, id, "").error().field, "reason");
  EXPECT_EQ(w_->alerts->get(w_->admin, "../etc").error().kind, ErrorKind::kNotFound);
}

TEST_P(LoopTest, ListFiltersStayInsideTheScope) {
  w_->raise("ua", "ca1", "rodent", kStart - 3 * kHourMs);
  w_->raise("ua", "ca2", "no_mask", kStart - 2 * kHourMs);
  w_->raise("ub", "cb1", "rodent", kStart - kHourMs);
  auto all = w_->alerts->list(w_->city, {}, {1, 20});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->total, 3);
  EXPECT_EQ(all->items[0].unit_id, "ub") << "newest first";
  EXPECT_EQ(w_->alerts->list(w_->rega, {}, {1, 20})->total, 2);
  EXPECT_EQ(w_->alerts->list(w_->mb, {}, {1, 20})->total, 1);
  AlertFilter f;
  f.risk_class = 1;
  EXPECT_EQ(w_->alerts->list(w_->city, f, {1, 20})->total, 2);
  f = {};
  f.jurisdiction_id = "jb";
  EXPECT_EQ(w_->alerts->list(w_->city, f, {1, 20})->total, 1);
  auto out = w_->alerts->list(w_->rega, f, {1, 20});
  EXPECT_EQ(out.error().field, "jurisdiction_id") << "a filter outside the scope is refused";
  f = {};
  f.from = kStart - 150 * kMinuteMs;
  f.to = kStart - kHourMs;
  EXPECT_EQ(w_->alerts->list(w_->city, f, {1, 20})->total, 1) << "[from, to)";
  f = {};
  f.type = "rodent";
  f.unit_id = "ua";
  EXPECT_EQ(w_->alerts->list(w_->admin, f, {1, 20})->total, 1);
  auto p2 = w_->alerts->list(w_->admin, {}, {2, 2});
  EXPECT_EQ(p2->items.size(), 1u);
  EXPECT_EQ(p2->total, 3);
}

// Above 20 000 matches a page is found by walking the time index instead of sorting every
// match: both ways must give the same pages (newest first, ties by id), scope and filters.
TEST_P(LoopTest, WideListsGiveTheSamePagesAsTheSortedQuery) {
  const int n = 20'600;
  w_->db->in_transaction([&](storage::Connection& c) {
    for (int i = 0; i < n; ++i) {
      bool a = i % 3 != 0;
      const char* state = i % 4 == 0 ? "open" : "closed";
      c.exec("INSERT INTO alerts (id, unit_id, jpath, subject, type, risk_class, state, occurred_at, last_seen_at, "
             "overdue, source, created_at, updated_at) VALUES ($1, $2, $3, 'x', 'rodent', 1, $4, $5, $5, $6, 'test', $5, $5)",
             {"w" + std::to_string(100000 + i), a ? "ua" : "ub", a ? "/jp/jc/ja/" : "/jp/jc/jb/", state,
              std::int64_t{kStart - (i / 2) * kMinuteMs}, std::int64_t{i % 8 == 0 ? 1 : 0}});
    }
  });
  auto expect_pages = [&](const auth::Principal& who, AlertFilter f, const std::string& where, int page) {
    auto got = w_->alerts->list(who, f, {page, 50});
    ASSERT_TRUE(got.ok());
    storage::Conn c = w_->db->acquire();
    std::int64_t total = c->query("SELECT COUNT(*) FROM alerts WHERE " + where)[0].integer(0);
    storage::Rows want = c->query("SELECT id FROM alerts WHERE " + where +
                                  " ORDER BY occurred_at DESC, id DESC LIMIT 50 OFFSET " + std::to_string((page - 1) * 50));
    EXPECT_EQ(got->total, total) << where;
    ASSERT_EQ(got->items.size(), want.size()) << where;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got->items[i].id, want[i].text(0)) << where << " #" << i;
  };
  expect_pages(w_->city, {}, "1 = 1", 1);
  expect_pages(w_->city, {}, "1 = 1", 7);
  AlertFilter closed;
  closed.state = AlertState::kClosed;
  expect_pages(w_->city, closed, "state = 'closed'", 3);
  AlertFilter in_a;
  in_a.jurisdiction_id = "ja";
  expect_pages(w_->admin, in_a, "jpath = '/jp/jc/ja/'", 2);
  expect_pages(w_->rega, {}, "jpath = '/jp/jc/ja/'", 5);
  AlertFilter overdue;
  overdue.state = AlertState::kOpen;
  overdue.overdue = true;
  expect_pages(w_->city, overdue, "state = 'open' AND overdue = 1", 2);
}

TEST_P(LoopTest, DeadlinesAndCardsWithAFrozenClock) {
  Scheduler s(*w_->db, *w_->alerts, nullptr, SchedulerConfig{});
  auto red = w_->raise("ua", "ca1", "rodent", kStart).alert_id;    // class 1
  auto closed = w_->raise("ua", "ca2", "pest", kStart).alert_id;   // class 1, closed at once
  auto two = w_->raise("ub", "cb1", "smoking", kStart).alert_id;   // class 2: deadline, no card
  auto three = w_->raise("ub", "cb1", "no_hat", kStart).alert_id;  // class 3: neither
  ASSERT_TRUE(w_->alerts->rectify(w_->ma, closed, {"x", {}}).ok());
  ASSERT_TRUE(w_->alerts->review(w_->rega, closed, {true, ""}).ok());

  w_->clock.set_ms(kStart + 5 * kDayMs - 1);
  auto t = s.run_once();
  EXPECT_TRUE(t.lease);
  EXPECT_EQ(t.yellow_cards, 0);
  w_->clock.set_ms(kStart + 5 * kDayMs);
  t = s.run_once();
  EXPECT_EQ(t.yellow_cards, 1);
  EXPECT_EQ(get(red).card, "yellow");
  EXPECT_EQ(s.run_once().yellow_cards, 0) << "once";

  w_->clock.set_ms(kStart + 7 * kDayMs);
  t = s.run_once();
  EXPECT_EQ(t.overdue, 2) << "the open class-1 and class-2 alerts";
  EXPECT_TRUE(get(two).overdue);
  EXPECT_FALSE(get(three).overdue);
  EXPECT_EQ(s.run_once().overdue, 0) << "once";

  w_->clock.set_ms(kStart + 10 * kDayMs);
  t = s.run_once();
  EXPECT_EQ(t.red_cards, 1);
  EXPECT_EQ(get(red).card, "red");
  w_->clock.set_ms(kStart + 30 * kDayMs);
  t = s.run_once();
  EXPECT_EQ(t.yellow_cards + t.red_cards + t.overdue, 0);
  EXPECT_EQ(events_of(red, "card_yellow"), 1);
  EXPECT_EQ(events_of(red, "card_red"), 1);
  EXPECT_EQ(events_of(red, "overdue"), 1);
  EXPECT_EQ(events_of(closed, "card_yellow"), 0);
  EXPECT_FALSE(get(two).card.has_value());
  storage::Conn c = w_->db->acquire();
  storage::Rows cards = c->query("SELECT sms FROM outbox WHERE topic = 'alert.card'");
  ASSERT_EQ(cards.size(), 2u);
  EXPECT_EQ(cards[0].integer(0), 1);
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM notifications WHERE topic = 'alert.card' AND user_id = 'u_ma'"), 2)
      << "the unit is told";
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM notifications WHERE topic = 'alert.card' AND user_id = 'u_rega'"), 2)
      << "and its regulator";
  AlertFilter f;
  f.card = "red";
  EXPECT_EQ(w_->alerts->list(w_->city, f, {1, 20})->total, 1);
}

TEST_P(LoopTest, AnAlertFoundLateGetsBothCardsInOneTick) {
  Scheduler s(*w_->db, *w_->alerts, nullptr, SchedulerConfig{});
  auto id = w_->raise("ua", "ca1", "animal", kStart).alert_id;
  ASSERT_TRUE(w_->alerts->rectify(w_->ma, id, {"submitted but not reviewed", {}}).ok());
  w_->clock.set_ms(kStart + 11 * kDayMs);
  auto t = s.run_once();
  EXPECT_EQ(t.yellow_cards, 1);
  EXPECT_EQ(t.red_cards, 1);
  EXPECT_EQ(t.overdue, 0) << "a submitted alert is not overdue";
  EXPECT_EQ(timeline(id).back(), "card_red");
}

TEST_P(LoopTest, TwoSchedulersNeverDoTheSameWorkTwice) {
  SchedulerConfig a_cfg;
  a_cfg.holder = "node-a";
  SchedulerConfig b_cfg;
  b_cfg.holder = "node-b";
  Scheduler a(*w_->db, *w_->alerts, nullptr, a_cfg);
  Scheduler b(*w_->db, *w_->alerts, nullptr, b_cfg);
  EXPECT_TRUE(a.claim_lease("scheduler"));
  EXPECT_FALSE(b.claim_lease("scheduler")) << "held by a";
  EXPECT_TRUE(a.claim_lease("scheduler")) << "a renews";
  EXPECT_FALSE(b.run_once().lease);
  w_->clock.advance_ms(a_cfg.lease_ms + 1);
  EXPECT_TRUE(b.claim_lease("scheduler")) << "a stopped renewing: b takes over";
  EXPECT_FALSE(a.claim_lease("scheduler"));

  for (int i = 0; i < 20; ++i)
    w_->raise(i % 2 ? "ua" : "ub", i % 2 ? "ca1" : "cb1", i % 4 < 2 ? "rodent" : "pest",
              kStart + i * w_->alerts->config().dedup_window_ms * 3);
  w_->clock.set_ms(kStart + 30 * kDayMs);
  // Both nodes tick at once, again and again, even with leases expiring between ticks.
  int yellow = 0, red = 0;
  std::mutex mu;
  auto ticks = [&](Scheduler& s) {
    for (int k = 0; k < 5; ++k) {
      auto r = s.run_once();
      std::lock_guard g(mu);
      yellow += r.yellow_cards;
      red += r.red_cards;
      w_->clock.advance_ms(a_cfg.lease_ms + 1);
    }
  };
  std::thread ta(ticks, std::ref(a)), tb(ticks, std::ref(b));
  ta.join();
  tb.join();
  EXPECT_EQ(yellow, 20);
  EXPECT_EQ(red, 20);
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM alert_events WHERE type = 'card_yellow'"), 20);
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM alert_events WHERE type = 'card_red'"), 20);
}

TEST_P(LoopTest, CertificateNoticesAreSentOnceForExpiringAndOnceForExpired) {
  Scheduler s(*w_->db, *w_->alerts, nullptr, SchedulerConfig{});
  int today = local_day(kStart, 480);
  {
    storage::Conn c = w_->db->acquire();
    auto staff = [&](const std::string& id, std::int64_t expires) {
      c->exec(
          "INSERT INTO staff (id, unit_id, jpath, name, cert_number, cert_issued_on, cert_expires_on, created_at, "
          "updated_at) VALUES ($1, 'ua', '/jp/jc/ja/', $2, 'JK1', 0, $3, 0, 0)",
          {id, "Cook " + id, expires});
    };
    staff("s_valid", today + 31);
    staff("s_soon", today + 10);
    staff("s_gone", today - 1);
  }
  auto t = s.run_once();
  EXPECT_EQ(t.cert_expiring, 1);
  EXPECT_EQ(t.cert_expired, 1);
  t = s.run_once();
  EXPECT_EQ(t.cert_expiring + t.cert_expired, 0) << "once";
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM notifications WHERE topic = 'cert.expiring' AND user_id = 'u_ma'"), 1);
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM notifications WHERE topic = 'cert.expiring' AND user_id = 'u_city'"), 1);
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM notifications WHERE topic = 'cert.expiring' AND user_id = 'u_regb'"), 0);
  EXPECT_EQ(w_->count("SELECT COUNT(*) FROM outbox WHERE topic = 'cert.expired'"), 1);

  w_->clock.set_ms(kStart + 2 * kDayMs);  // s_valid enters the 30-day window
  EXPECT_EQ(s.run_once().cert_expiring, 1);
  w_->clock.set_ms(kStart + 11 * kDayMs);  // s_soon has expired
  t = s.run_once();
  EXPECT_EQ(t.cert_expired, 1);
  EXPECT_EQ(t.cert_expiring, 0);
  {
    storage::Conn c = w_->db->acquire();  // renewed: watched afresh
    c->exec("UPDATE staff SET cert_expires_on = $1 WHERE id = 's_gone'", {std::int64_t{today + 11 + 20}});
  }
  EXPECT_EQ(s.run_once().cert_expiring, 1);
  EXPECT_EQ(s.run_once().cert_expiring, 0);
}

TEST_P(LoopTest, DocumentsAreRecordedByRegulators) {
  auto id = w_->raise("ua", "ca1", "rodent", kStart).alert_id;
  DocumentInput in{"rectification_order", "通市监责改〔2026〕12号", local_day(kStart, 480), std::nullopt};
  EXPECT_EQ(w_->alerts->add_document(w_->ma, id, in).error().kind, ErrorKind::kForbidden);
  auto d = w_->alerts->add_document(w_->rega, id, in);
  ASSERT_TRUE(d.ok()) << d.error().message;
  in.kind = "love_letter";
  EXPECT_EQ(w_->alerts->add_document(w_->rega, id, in).error().field, "kind");
  in.kind = "penalty_decision";
  in.file_id = "file_missing";
  EXPECT_EQ(w_->alerts->add_document(w_->rega, id, in).error().field, "file_id");
  auto detail = w_->alerts->get(w_->ma, id);
  ASSERT_EQ(detail->documents.size(), 1u);
  EXPECT_EQ(detail->documents[0].number, "通市监责改〔2026〕12号");
  EXPECT_EQ(timeline(id).back(), "document");
}

TEST_P(LoopTest, NotificationsInboxAndRead) {
  w_->raise("ua", "ca1", "rodent", kStart);
  w_->raise("ua", "ca2", "smoking", kStart + kMinuteMs);
  std::int64_t unread = 0;
  auto page = w_->alerts->notifications(w_->ma, false, {1, 20}, unread);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->total, 2);
  EXPECT_EQ(unread, 2);
  auto n = w_->alerts->mark_read(w_->ma, page->items[0].id);
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->read_at.has_value());
  EXPECT_EQ(w_->alerts->notifications(w_->ma, true, {1, 20}, unread)->total, 1);
  EXPECT_EQ(w_->alerts->mark_read(w_->rega, page->items[1].id).error().kind, ErrorKind::kNotFound)
      << "not someone else's";
}

INSTANTIATE_TEST_SUITE_P(Engines, LoopTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::alerts
