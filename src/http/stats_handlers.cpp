// Statistics (API.md "Statistics"): GET /api/v1/stats/overview over the caller's scope.
#include <cmath>

#include "http/handler_util.hpp"
#include "stats/stats_service.hpp"

namespace mingchu::http {
namespace {

double round4(double v) { return std::round(v * 10000) / 10000; }

}  // namespace

void add_stats_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/v1/stats/overview", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    stats::OverviewQuery q;
    MC_TRY(j, query_id(req, "jurisdiction_id"));
    q.jurisdiction_id = *j;
    MC_TRY(from, query_time(ctx, req, "from"));
    MC_TRY(to, query_time(ctx, req, "to"));
    q.from = *from;
    q.to = *to;
    MC_TRY(o, ctx.stats->overview(*who, q));
    json::object by_type;
    for (const auto& [k, v] : o->by_type) by_type[k] = v;
    json::object by_class;
    for (const auto& [k, v] : o->by_risk_class) by_class[std::to_string(k)] = v;
    json::array by_day;
    for (const auto& [d, n] : o->by_day) by_day.push_back(json::object{{"date", d}, {"count", n}});
    json::array top;
    for (const auto& u : o->top_units)
      top.push_back(json::object{{"unit_id", u.unit_id}, {"name", u.name}, {"count", u.count}});
    return Response::json(200, json::object{{"from", format_time(ctx, o->from)},
                                            {"to", format_time(ctx, o->to)},
                                            {"units", o->units},
                                            {"units_with_alerts", o->units_with_alerts},
                                            {"alerts_total", o->alerts_total},
                                            {"alerts_per_unit", round4(o->alerts_per_unit)},
                                            {"handled", o->handled},
                                            {"handling_rate", round4(o->handling_rate)},
                                            {"by_type", std::move(by_type)},
                                            {"by_risk_class", std::move(by_class)},
                                            {"by_day", std::move(by_day)},
                                            {"top_units", std::move(top)},
                                            {"cameras_total", o->cameras_total},
                                            {"cameras_online", o->cameras_online}});
  });
}

}  // namespace mingchu::http
