// A unit's staff roster (docs/vision.md "stranger with the roster"): which staff are on shift
// when, so that the algorithm server raises `stranger` when it sees more people than that.
//   GET /api/v1/units/{id}/roster   {unit_id, shifts: [{days, from, to, staff_ids}], updated_at}
//   PUT /api/v1/units/{id}/roster   {shifts: [...]} (replaces); the unit's merchants, regulators
//                                   and admins in scope (404 out of scope); 422 naming the field;
//                                   staff ids must be the unit's own staff; audited.
#include <set>

#include "audit/audit_log.hpp"
#include "auth/principal.hpp"
#include "core/time.hpp"
#include "http/handler_util.hpp"
#include "http/vision_samples.hpp"
#include "storage/database.hpp"
#include "vision/rules.hpp"

namespace mingchu::http {

namespace {

Status unit_in_scope(storage::Connection& c, const auth::Principal& who, const std::string& unit_id) {
  auto rows = c.query("SELECT jpath FROM units WHERE id = $1 AND deleted_at IS NULL", {unit_id});
  if (rows.empty() || !who.covers(rows[0].text(0), unit_id)) return Error::not_found("unit");
  return ok_status();
}

json::object roster_answer(ApiContext& ctx, storage::Connection& c, const std::string& unit_id) {
  auto rows = c.query("SELECT shifts, updated_at FROM unit_rosters WHERE unit_id = $1", {unit_id});
  json::object o{{"unit_id", unit_id}, {"shifts", json::array()}, {"updated_at", nullptr}};
  if (!rows.empty()) {
    auto v = parse_value(rows[0].text(0));
    if (v && v->is_array()) o["shifts"] = *v;
    o["updated_at"] = format_rfc3339(rows[0].integer(1), ctx.options.utc_offset_minutes);
  }
  return o;
}

}  // namespace

void add_roster_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/v1/units/{id}/roster", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      storage::Conn c = ctx.db->acquire();
      if (auto st = unit_in_scope(*c, *who, *id); !st) return Response::error(st.error());
      return Response::json(200, roster_answer(ctx, *c, *id));
    });
  });
  r.add(
      "PUT", "/api/v1/units/{id}/roster",
      [&ctx](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          for (const auto& [k, v] : *body)
            if (k != "shifts")
              return Response::error(
                  Error::invalid(std::string(k), "unknown_field", "unknown field '" + std::string(k) + "'"));
          if (!body->contains("shifts"))
            return Response::error(Error::invalid("shifts", "missing_field", "field 'shifts' is required"));
          storage::Conn c = ctx.db->acquire();
          if (auto st = unit_in_scope(*c, *who, *id); !st) return Response::error(st.error());
          auto roster = vision::parse_roster(body->at("shifts"));
          if (!roster) return Response::error(roster.error());
          // every staff id is one of the unit's own (not deleted) staff
          std::set<std::string> own;
          for (const auto& row : c->query("SELECT id FROM staff WHERE unit_id = $1 AND deleted_at IS NULL", {*id}))
            own.insert(row.text(0));
          for (size_t i = 0; i < roster->shifts.size(); ++i)
            for (const auto& s : roster->shifts[i].staff_ids)
              if (!own.contains(s))
                return Response::error(Error::invalid("shifts[" + std::to_string(i) + "].staff_ids", "unknown_staff",
                                                      "no staff '" + s + "' in this unit"));
          const std::string text = json::serialize(vision::roster_to_json(*roster));
          storage::Transaction tx(*c);
          c->exec(
              "INSERT INTO unit_rosters (unit_id, shifts, updated_at) VALUES ($1, $2, $3) "
              "ON CONFLICT (unit_id) DO UPDATE SET shifts = excluded.shifts, updated_at = excluded.updated_at",
              {*id, text, ctx.clock->now_ms()});
          ctx.audit->append(*c, audit::Entry{who->user_id, who->username,
                                             who->is_api_key ? "api_key" : std::string(auth::role_name(who->role)),
                                             "unit.roster.update", "unit:" + *id, who->source, "ok",
                                             std::to_string(roster->shifts.size()) + " shifts"});
          tx.commit();
          return Response::json(200, roster_answer(ctx, *c, *id));
        });
      },
      256 * 1024);
}

}  // namespace mingchu::http
