// For tests only: a small world for the supervision loop on a fresh test database — a
// province / city / two districts, a unit in each district with cameras, users of every role
// (rows in `users`, principals made directly), and a frozen ManualClock.
//
//   /jp/ province ── /jp/jc/ city ──┬── /jp/jc/ja/ district A: unit ua (cameras ca1, ca2; merchant ma)
//                                   └── /jp/jc/jb/ district B: unit ub (camera cb1; merchant mb)
//   users: admin (platform), city (regulator at jc), rega (ja), regb (jb)
#pragma once

#include <memory>
#include <string>

#include "alerts/alert_service.hpp"
#include "alerts/writer.hpp"
#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/clock.hpp"
#include "core/time.hpp"
#include "storage/testing.hpp"

namespace mingchu::alerts::testing {

// 2026-11-22T08:00:00+08:00
inline constexpr TimeMs kStart = 1795305600000;

struct World {
  explicit World(const std::string& engine, AlertsConfig cfg = default_alerts_config(), int pool = 4) : clock(true) {
    clock.set_ms(kStart);
    db = storage::open_test_database(engine, pool);
    audit = std::make_unique<audit::AuditLog>(clock);
    alerts = std::make_unique<AlertService>(*db, clock, *audit, std::move(cfg));
    storage::Conn c = db->acquire();
    auto node = [&](const std::string& id, const std::string& parent, const std::string& level, const std::string& code,
                    const std::string& path) {
      c->exec(
          "INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) "
          "VALUES ($1, $2, $3, $4, $5, $6, 0)",
          {id, parent.empty() ? storage::Value(nullptr) : storage::Value(parent), level, code, "J-" + id, path});
    };
    node("jp", "", "province", "320000", "/jp/");
    node("jc", "jp", "city", "320600", "/jp/jc/");
    node("ja", "jc", "district", "320602", "/jp/jc/ja/");
    node("jb", "jc", "district", "320612", "/jp/jc/jb/");
    unit("ua", "ja", "/jp/jc/ja/");
    unit("ub", "jb", "/jp/jc/jb/");
    camera("ca1", "ua", "/jp/jc/ja/");
    camera("ca2", "ua", "/jp/jc/ja/");
    camera("cb1", "ub", "/jp/jc/jb/");
    admin = user("u_admin", auth::Role::kPlatformAdmin, "", "/", {});
    city = user("u_city", auth::Role::kRegulator, "jc", "/jp/jc/", {});
    rega = user("u_rega", auth::Role::kRegulator, "ja", "/jp/jc/ja/", {});
    regb = user("u_regb", auth::Role::kRegulator, "jb", "/jp/jc/jb/", {});
    ma = user("u_ma", auth::Role::kMerchant, "", "", {"ua"});
    mb = user("u_mb", auth::Role::kMerchant, "", "", {"ub"});
  }

  void unit(const std::string& id, const std::string& j, const std::string& path) {
    storage::Conn c = db->acquire();
    c->exec(
        "INSERT INTO units (id, jurisdiction_id, jpath, name, store_type, disclosure_token, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, 'other', $1, 0, 0)",
        {id, j, path, "Unit " + id});
  }
  void camera(const std::string& id, const std::string& unit_id, const std::string& path) {
    storage::Conn c = db->acquire();
    c->exec(
        "INSERT INTO cameras (id, unit_id, jpath, name, area, status, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, 'cooking', 'offline', 0, 0)",
        {id, unit_id, path, "Camera " + id});
  }
  auth::Principal user(const std::string& id, auth::Role role, const std::string& jurisdiction,
                       const std::string& jpath, std::vector<std::string> units) {
    storage::Conn c = db->acquire();
    c->exec(
        "INSERT INTO users (id, username, display_name, role, jurisdiction_id, password_hash, "
        "password_changed_at, created_at) VALUES ($1, $1, $2, $3, $4, 'x', 0, 0)",
        {id, "User " + id, std::string(auth::role_name(role)),
         jurisdiction.empty() ? storage::Value(nullptr) : storage::Value(jurisdiction)});
    for (const auto& u : units) c->exec("INSERT INTO user_units (user_id, unit_id) VALUES ($1, $2)", {id, u});
    auth::Principal p;
    p.user_id = id;
    p.username = id;
    p.display_name = "User " + id;
    p.role = role;
    p.jurisdiction_id = jurisdiction;
    p.jpath = jpath;
    p.unit_ids = std::move(units);
    p.source = "test";
    return p;
  }

  // Raises (or merges) one event in its own transaction.
  RaiseOutcome raise(const std::string& unit_id, const std::string& camera_id, const std::string& type, TimeMs at,
                     const std::string& event_id = "") {
    return db->in_transaction([&](storage::Connection& c) {
      AlertWriter w(c, alerts->config(), clock, *audit);
      AlertDraft d;
      if (!camera_id.empty()) d.camera_id = camera_id;
      d.type = type;
      d.occurred_at = at;
      d.source = "test";
      d.actor = Actor{"key_test", "test box", "api_key"};
      d.event_id = event_id;
      auto out = w.raise(*w.unit(unit_id), d);
      w.flush();
      return out;
    });
  }

  std::int64_t count(const std::string& sql, const storage::Params& ps = {}) {
    storage::Conn c = db->acquire();
    return c->query(sql, ps)[0].integer(0);
  }

  ManualClock clock;
  std::unique_ptr<storage::Database> db;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<AlertService> alerts;
  auth::Principal admin, city, rega, regb, ma, mb;
};

}  // namespace mingchu::alerts::testing
