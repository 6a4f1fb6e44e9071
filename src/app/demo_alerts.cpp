// The demo city's last week of supervision (called by seed_demo): AI captures across the
// units — mostly dress-code and hygiene findings (class 3), some smoking, phones and open bins
// (class 2), a few rodents and pests (class 1) — folded captures, and the handling a real week
// shows: older alerts rectified and approved, some rejected once, a few dismissed as false
// positives, recent ones still open. Every alert and transition goes through the same
// AlertWriter and AlertService code as live traffic, each with a frozen clock at the moment it
// happened, all in one transaction (fast even on a slow disk). Deterministic (a fixed seed).
// Sensor and camera-offline alerts are left to the live scheduler and devices.
#include <algorithm>
#include <map>
#include <random>

#include "app/platform.hpp"
#include "core/log.hpp"
#include "core/time.hpp"

namespace mingchu::app {
namespace {

struct Weighted {
  const char* type;
  int weight;
};
const Weighted kTypes[] = {{"no_mask", 18}, {"no_hat", 16},    {"no_gloves", 10},    {"no_uniform", 8},
                           {"clutter", 10}, {"phone_use", 10}, {"bin_uncovered", 8}, {"utensil_unclean", 6},
                           {"smoking", 6},  {"stranger", 3},   {"rodent", 2},        {"pest", 2},
                           {"animal", 1}};
const char* kRectifications[] = {"已对当班人员进行批评教育，重新培训着装规范，并张贴提示。",
                                 "垃圾桶已加盖，安排专人每小时巡查。",
                                 "杂物已清理，库房重新定置摆放。",
                                 "厨具已全部清洗消毒，落实用后即洗制度。",
                                 "已封堵排水口缝隙，放置捕鼠笼和粘鼠板，请第三方消杀公司上门处理。",
                                 "后厨张贴禁烟标识，吸烟员工已按制度处罚。",
                                 "工作期间手机统一存放在更衣柜。"};
const char* kRejections[] = {"整改照片不清晰，请补拍现场照片。", "未见消杀记录，请补充第三方消杀凭证。"};
const char* kFalsePositives[] = {"误报：灶台蒸汽被识别为烟雾。", "误报：员工已戴口罩，角度遮挡。",
                                 "误报：识别到的是墙面污渍，并非老鼠。"};

}  // namespace

void seed_demo_alerts(Platform& p) {
  storage::Database& db = p.db();
  alerts::AlertService& svc = p.alerts();
  const alerts::AlertsConfig& cfg = svc.config();
  struct UnitInfo {
    std::string id, jpath, operator_name;
    std::vector<std::string> cameras;
    auth::Principal regulator;
  };
  std::vector<UnitInfo> units;
  std::string merchant_unit;
  {
    storage::Conn c = db.acquire();
    if (c->query("SELECT COUNT(*) FROM alerts")[0].integer(0) > 0) return;
    std::map<std::string, size_t> index;
    for (const auto& r : c->query("SELECT id, jpath, operator FROM units WHERE deleted_at IS NULL ORDER BY id")) {
      index[r.text(0)] = units.size();
      units.push_back({r.text(0), r.text(1), r.opt_text(2).value_or("门店负责人"), {}, {}});
    }
    for (const auto& r : c->query("SELECT id, unit_id FROM cameras WHERE deleted_at IS NULL ORDER BY id")) {
      if (auto it = index.find(r.text(1)); it != index.end()) units[it->second].cameras.push_back(r.text(0));
    }
    // each unit is reviewed by the regulator closest to it
    std::vector<auth::Principal> regulators;
    for (const auto& r : c->query("SELECT u.id, u.display_name, u.jurisdiction_id, j.path FROM users u "
                                  "JOIN jurisdictions j ON j.id = u.jurisdiction_id WHERE u.role = 'regulator'")) {
      auth::Principal reg;
      reg.user_id = r.text(0);
      reg.username = r.text(0);
      reg.display_name = r.text(1);
      reg.role = auth::Role::kRegulator;
      reg.jurisdiction_id = r.text(2);
      reg.jpath = r.text(3);
      reg.source = "demo";
      regulators.push_back(std::move(reg));
    }
    for (auto& u : units) {
      for (const auto& reg : regulators) {
        if (u.jpath.rfind(reg.jpath, 0) == 0 && reg.jpath.size() > u.regulator.jpath.size()) u.regulator = reg;
      }
    }
    auto m = c->query(
        "SELECT uu.unit_id FROM user_units uu JOIN users u ON u.id = uu.user_id WHERE u.username = 'merchant'");
    if (!m.empty()) merchant_unit = m[0].text(0);
  }
  units.erase(std::remove_if(units.begin(), units.end(),
                             [](const UnitInfo& u) { return u.cameras.empty() || u.regulator.jpath.empty(); }),
              units.end());
  if (units.empty()) return;

  std::mt19937 rng(20261123);
  auto uniform = [&](TimeMs lo, TimeMs hi) { return lo + static_cast<TimeMs>(rng() % static_cast<unsigned>(hi - lo)); };
  int total_weight = 0;
  for (const auto& t : kTypes) total_weight += t.weight;
  auto pick_type = [&] {
    int x = static_cast<int>(rng() % static_cast<unsigned>(total_weight));
    for (const auto& t : kTypes) {
      if ((x -= t.weight) < 0) return t.type;
    }
    return kTypes[0].type;
  };
  // A few kitchens produce most findings (as in the field).
  auto pick_unit = [&]() -> UnitInfo& {
    size_t n = units.size();
    size_t i = rng() % 10 < 7 ? rng() % std::max<size_t>(1, n / 5) : rng() % n;
    return units[i];
  };
  const TimeMs now = p.clock().now_ms();
  const int offset = cfg.utc_offset_minutes;
  // A moment of a kitchen's working day (06:00–21:00 local), days_ago days back.
  auto kitchen_time = [&](int days_ago) {
    TimeMs day_start = static_cast<TimeMs>(local_day(now, offset) - days_ago) * kDayMs - offset * kMinuteMs;
    return day_start + uniform(6 * kHourMs, 21 * kHourMs);
  };

  int created = 0, closed = 0, dismissed = 0;
  db.in_transaction([&](storage::Connection& c) {
    ManualClock at(true);
    audit::AuditLog audit(at);
    auto writer = [&](TimeMs t) {
      at.set_ms(t);
      return std::make_unique<alerts::AlertWriter>(c, cfg, at, audit);
    };
    auto raise = [&](UnitInfo& u, const std::string& camera, const std::string& type, TimeMs t) {
      auto w = writer(t + uniform(1000, 5000));
      alerts::AlertDraft d;
      d.camera_id = camera;
      d.type = type;
      d.occurred_at = t;
      d.confidence = 0.80 + static_cast<double>(rng() % 19) / 100.0;
      d.model = "mingchu-kitchen-v3";
      d.source = "demo";
      d.actor = alerts::Actor{"", "AI 识别盒子", "api_key"};
      auto out = w->raise(*w->unit(u.id), d);
      // more captures of the same scene a few minutes apart
      int extra = static_cast<int>(rng() % 4);
      for (int k = 1; k <= extra; ++k) {
        d.occurred_at = t + k * uniform(kMinuteMs, 3 * kMinuteMs);
        w->raise(*w->unit(u.id), d);
      }
      w->flush();
      return out.alert_id;
    };
    auto step = [&](TimeMs t, auto&& fn) {
      if (t >= now) return false;
      auto w = writer(t);
      bool ok = fn(*w);
      if (ok) w->flush();
      return ok;
    };

    for (int i = 0; i < 320; ++i) {
      UnitInfo& u = pick_unit();
      int days_ago = static_cast<int>(rng() % 7);
      TimeMs t = kitchen_time(days_ago);
      if (t > now - kHourMs) t = now - kHourMs - uniform(0, 5 * kHourMs);
      std::string type = pick_type();
      const std::string& camera = u.cameras[rng() % u.cameras.size()];
      std::string id = raise(u, camera, type, t);
      ++created;

      auth::Principal merchant;
      merchant.user_id = "demo";
      merchant.display_name = u.operator_name + "（门店负责人）";
      merchant.role = auth::Role::kMerchant;
      merchant.unit_ids = {u.id};
      merchant.source = "demo";
      TimeMs age = now - t;
      int fate = static_cast<int>(rng() % 100);
      bool older = age > 2 * kDayMs;
      if (fate < (older ? 8 : 5)) {
        TimeMs when = t + uniform(kHourMs, 5 * kHourMs);
        if (step(when, [&](alerts::AlertWriter& w) {
              return svc.dismiss(w, u.regulator, id, kFalsePositives[rng() % 3]).ok();
            })) {
          ++dismissed;
        }
        continue;
      }
      if (fate >= (older ? 75 : 40)) continue;  // still open
      TimeMs when = t + uniform(2 * kHourMs, 20 * kHourMs);
      const char* text = kRectifications[rng() % 7];
      if (!step(when, [&](alerts::AlertWriter& w) { return svc.rectify(w, merchant, id, {text, {}}).ok(); })) continue;
      if (!older || fate % 5 == 0) continue;  // submitted, awaiting review
      when += uniform(kHourMs, 10 * kHourMs);
      if (fate % 7 == 0) {  // rejected once, then done properly
        if (!step(when, [&](alerts::AlertWriter& w) {
              return svc.review(w, u.regulator, id, {false, kRejections[rng() % 2]}).ok();
            })) {
          continue;
        }
        when += uniform(2 * kHourMs, 12 * kHourMs);
        if (!step(when, [&](alerts::AlertWriter& w) { return svc.rectify(w, merchant, id, {text, {}}).ok(); }))
          continue;
        when += uniform(kHourMs, 6 * kHourMs);
      }
      if (step(when, [&](alerts::AlertWriter& w) {
            return svc.review(w, u.regulator, id, {true, "整改到位，予以通过。"}).ok();
          })) {
        ++closed;
      }
    }

    // Class-1 findings left unhandled: the scheduler's first tick gives them their cards.
    int unhandled = 0;
    for (auto& u : units) {
      if (u.id == merchant_unit) continue;
      raise(u, u.cameras[0], unhandled ? "pest" : "rodent", now - (unhandled ? 11 : 6) * kDayMs + 3 * kHourMs);
      ++created;
      if (++unhandled == 2) break;
    }

    // The demo merchant's own kitchen: one finding of each kind of state to work with.
    auto mu = std::find_if(units.begin(), units.end(), [&](const UnitInfo& u) { return u.id == merchant_unit; });
    if (mu != units.end()) {
      raise(*mu, mu->cameras[0], "bin_uncovered", now - 3 * kHourMs);
      raise(*mu, mu->cameras.back(), "no_hat", now - 26 * kHourMs);
      created += 2;
    }
  });
  log::info("demo: a week of alerts seeded", {{"alerts", std::to_string(created)},
                                              {"closed", std::to_string(closed)},
                                              {"dismissed", std::to_string(dismissed)}});
}

}  // namespace mingchu::app
