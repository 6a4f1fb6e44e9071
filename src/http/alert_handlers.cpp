// Alerts (API.md "Alerts"), the alert taxonomy, the notification inbox (API.md "Push"),
// false-positive labels and the test-only scheduler trigger. Thin: parse, authorize, call
// AlertService, format.
#include "alerts/alert_service.hpp"
#include "alerts/scheduler.hpp"
#include "core/time.hpp"
#include "http/handler_util.hpp"

namespace mingchu::http {
namespace {

json::object actor_json(const alerts::Actor& a) { return alerts::actor_to_json(a); }

json::object detail_json(const ApiContext& ctx, const alerts::AlertDetail& d) {
  const auto& cfg = ctx.alerts->config();
  json::object o = alerts::alert_to_json(d.alert, cfg);
  o["unit_name"] = d.unit_name;
  json::array events;
  for (const auto& e : d.events) {
    json::object ev{{"type", e.type}, {"at", format_time(ctx, e.at)}, {"actor", actor_json(e.actor)}};
    ev["comment"] = e.comment ? json::value(*e.comment) : json::value(nullptr);
    if (!e.detail_json.empty()) {
      if (auto v = parse_value(e.detail_json)) ev["detail"] = std::move(*v);
    }
    events.push_back(std::move(ev));
  }
  o["events"] = std::move(events);
  json::array rects;
  for (const auto& r : d.rectifications) {
    json::array photos;
    for (const auto& p : r.photo_ids) photos.emplace_back(p);
    rects.push_back(json::object{{"id", r.id},
                                 {"text", r.text},
                                 {"photo_ids", std::move(photos)},
                                 {"submitted_by", r.submitted_by},
                                 {"submitted_at", format_time(ctx, r.submitted_at)}});
  }
  o["rectifications"] = std::move(rects);
  json::array docs;
  for (const auto& doc : d.documents) {
    docs.push_back(json::object{{"id", doc.id},
                                {"kind", doc.kind},
                                {"number", doc.number},
                                {"issued_on", format_date(doc.issued_on)},
                                {"file_id", doc.file_id ? json::value(*doc.file_id) : json::value(nullptr)},
                                {"created_by", doc.created_by},
                                {"created_at", format_time(ctx, doc.created_at)}});
  }
  o["documents"] = std::move(docs);
  return o;
}

json::object notification_json(const ApiContext& ctx, const alerts::Notification& n) {
  return json::object{{"id", n.id},
                      {"alert_id", n.alert_id ? json::value(*n.alert_id) : json::value(nullptr)},
                      {"topic", n.topic},
                      {"title", n.title},
                      {"body", n.body},
                      {"created_at", format_time(ctx, n.created_at)},
                      {"read", n.read_at.has_value()},
                      {"read_at", time_or_null(ctx, n.read_at)}};
}

}  // namespace

// Also used by the alert export (report_handlers.cpp): the list's filters, parsed once.
Result<alerts::AlertFilter> alert_filter(const ApiContext& ctx, const Request& req) {
  alerts::AlertFilter f;
  for (auto [name, target] : {std::pair{"jurisdiction_id", &f.jurisdiction_id}, std::pair{"unit_id", &f.unit_id},
                              std::pair{"camera_id", &f.camera_id}}) {
    auto id = query_id(req, name);
    if (!id) return id.error();
    *target = *id;
  }
  if (auto t = req.query_param("type"); t && !t->empty()) {
    if (!ctx.alerts->config().find_type(*t))
      return Error::invalid("type", "unknown_type", "type is not a known alert type");
    f.type = *t;
  }
  if (auto rc = req.query_param("risk_class"); rc && !rc->empty()) {
    if (*rc != "1" && *rc != "2" && *rc != "3")
      return Error::invalid("risk_class", "invalid_risk_class", "risk_class must be 1, 2 or 3");
    f.risk_class = (*rc)[0] - '0';
  }
  if (auto s = req.query_param("state"); s && !s->empty()) {
    f.state = alerts::parse_state(*s);
    if (!f.state) return Error::invalid("state", "invalid_state", "state must be open, submitted, closed or dismissed");
  }
  if (auto c = req.query_param("card"); c && !c->empty()) {
    if (*c != "yellow" && *c != "red") return Error::invalid("card", "invalid_card", "card must be yellow or red");
    f.card = *c;
  }
  if (auto o = req.query_param("overdue"); o && !o->empty()) {
    if (*o != "true" && *o != "false")
      return Error::invalid("overdue", "invalid_overdue", "overdue must be true or false");
    f.overdue = *o == "true";
  }
  auto from = query_time(ctx, req, "from");
  if (!from) return from.error();
  auto to = query_time(ctx, req, "to");
  if (!to) return to.error();
  f.from = *from;
  f.to = *to;
  return f;
}

namespace {

alerts::PageRequest page_of(const PageParams& p) { return alerts::PageRequest{p.page, p.page_size}; }

// 200 with the alert after a transition, or the transition's error.
Response alert_answer(const ApiContext& ctx, const Result<alerts::Alert>& a) {
  if (!a) return Response::error(a.error());
  return Response::json(200, alerts::alert_to_json(*a, ctx.alerts->config()));
}

}  // namespace

void add_alert_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/v1/alert-types", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    const auto& cfg = ctx.alerts->config();
    json::array items;
    for (const auto& t : cfg.types) {
      int days = cfg.deadline_days[static_cast<size_t>(t.risk_class)];
      items.push_back(json::object{{"code", t.code},
                                   {"name_zh", t.name_zh},
                                   {"name_en", t.name_en},
                                   {"risk_class", t.risk_class},
                                   {"deadline_days", days > 0 ? json::value(days) : json::value(nullptr)}});
    }
    PageParams all{1, static_cast<int>(items.size())};
    json::object body = list_body(std::move(items), static_cast<std::int64_t>(cfg.types.size()), all);
    body["deadline_days"] =
        json::object{{"1", cfg.deadline_days[1]}, {"2", cfg.deadline_days[2]}, {"3", cfg.deadline_days[3]}};
    body["cards"] = json::object{{"yellow_days", cfg.yellow_card_days}, {"red_days", cfg.red_card_days}};
    body["dedup_window_minutes"] = cfg.dedup_window_ms / kMinuteMs;
    body["offline_window_minutes"] = cfg.offline_window_ms / kMinuteMs;
    return Response::json(200, body);
  });

  r.add("GET", "/api/v1/alerts", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(pg, page_params(req));
    MC_TRY(f, alert_filter(ctx, req));
    MC_TRY(page, ctx.alerts->list(*who, *f, page_of(*pg)));
    json::array items;
    for (const auto& a : page->items) items.push_back(alerts::alert_to_json(a, ctx.alerts->config()));
    return Response::json(200, list_body(std::move(items), page->total, *pg));
  });

  r.add("GET", "/api/v1/alerts/{id}", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(id, path_id(req));
    MC_TRY(d, ctx.alerts->get(*who, *id));
    json::object o = detail_json(ctx, *d);
    o["clips"] = alert_clips_json(ctx, *id);
    return Response::json(200, o);
  });

  r.add(
      "POST", "/api/v1/alerts/{id}/rectifications",
      [&ctx](Request& req) {
        MC_TRY(w, begin_object_write(ctx, req));
        ObjectReader rd(w->body);
        alerts::RectificationInput in;
        in.text = rd.req_string("text", alerts::kMaxRectificationChars);
        if (const json::array* photos = rd.opt_array("photo_ids", alerts::kMaxRectificationPhotos)) {
          for (size_t i = 0; i < photos->size(); ++i) {
            const auto& v = (*photos)[i];
            if (!v.is_string() || v.as_string().size() > 64) {
              std::string field = "photo_ids[" + std::to_string(i) + "]";
              return Response::error(Error::invalid(field, "wrong_type", "field '" + field + "' must be a file id"));
            }
            in.photo_ids.emplace_back(v.as_string());
          }
        }
        if (auto st = rd.finish(); !st) return Response::error(st.error());
        return alert_answer(ctx, ctx.alerts->rectify(w->who, w->id, in));
      },
      32 * 1024);

  r.add(
      "POST", "/api/v1/alerts/{id}/review",
      [&ctx](Request& req) {
        MC_TRY(w, begin_object_write(ctx, req));
        ObjectReader rd(w->body);
        std::string decision = rd.req_string("decision", 16);
        alerts::ReviewInput in;
        in.comment = rd.opt_string("comment", alerts::kMaxCommentChars).value_or("");
        if (auto st = rd.finish(); !st) return Response::error(st.error());
        if (decision != "approve" && decision != "reject") {
          return Response::error(Error::invalid("decision", "invalid_decision", "decision must be approve or reject"));
        }
        in.approve = decision == "approve";
        return alert_answer(ctx, ctx.alerts->review(w->who, w->id, in));
      },
      16 * 1024);

  r.add(
      "POST", "/api/v1/alerts/{id}/dismiss",
      [&ctx](Request& req) {
        MC_TRY(w, begin_object_write(ctx, req));
        ObjectReader rd(w->body);
        std::string reason = rd.req_string("reason", alerts::kMaxCommentChars);
        if (auto st = rd.finish(); !st) return Response::error(st.error());
        return alert_answer(ctx, ctx.alerts->dismiss(w->who, w->id, reason));
      },
      16 * 1024);

  r.add(
      "POST", "/api/v1/alerts/{id}/documents",
      [&ctx](Request& req) {
        MC_TRY(w, begin_object_write(ctx, req));
        ObjectReader rd(w->body);
        alerts::DocumentInput in;
        in.kind = rd.req_string("kind", 32);
        in.number = rd.req_string("number", 64);
        std::string issued = rd.req_string("issued_on", 10);
        in.file_id = rd.opt_string("file_id", 64);
        if (auto st = rd.finish(); !st) return Response::error(st.error());
        auto day = parse_date(issued);
        if (!day) return Response::error(Error::invalid("issued_on", "invalid_date", "issued_on must be YYYY-MM-DD"));
        in.issued_on = *day;
        MC_TRY(d, ctx.alerts->add_document(w->who, w->id, in));
        return Response::json(201,
                              json::object{{"id", d->id},
                                           {"alert_id", d->alert_id},
                                           {"kind", d->kind},
                                           {"number", d->number},
                                           {"issued_on", format_date(d->issued_on)},
                                           {"file_id", d->file_id ? json::value(*d->file_id) : json::value(nullptr)},
                                           {"created_by", d->created_by},
                                           {"created_at", format_time(ctx, d->created_at)}});
      },
      8 * 1024);

  r.add("GET", "/api/v1/notifications", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(pg, page_params(req));
    bool unread = false;
    if (auto u = req.query_param("unread"); u && !u->empty()) {
      if (*u != "true" && *u != "false" && *u != "1" && *u != "0") {
        return Response::error(Error::invalid("unread", "invalid_unread", "unread must be true or false"));
      }
      unread = *u == "true" || *u == "1";
    }
    std::int64_t unread_total = 0;
    MC_TRY(page, ctx.alerts->notifications(*who, unread, page_of(*pg), unread_total));
    json::array items;
    for (const auto& n : page->items) items.push_back(notification_json(ctx, n));
    json::object body = list_body(std::move(items), page->total, *pg);
    body["unread"] = unread_total;
    return Response::json(200, body);
  });

  r.add(
      "POST", "/api/v1/notifications/{id}/read",
      [&ctx](Request& req) {
        MC_TRY(who, authenticate(ctx, req));
        MC_TRY(id, path_id(req));
        MC_TRY(n, ctx.alerts->mark_read(*who, *id));
        return Response::json(200, notification_json(ctx, *n));
      },
      1024);

  r.add("GET", "/api/v1/labels/false-positives", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    if (who->role == auth::Role::kMerchant)
      return Response::error(Error::forbidden("labels are for regulators and operators"));
    MC_TRY(from, query_time(ctx, req, "from"));
    MC_TRY(to, query_time(ctx, req, "to"));
    int limit = 10000;
    if (auto l = req.query_param("limit"); l && !l->empty()) {
      if (l->size() > 6 || l->find_first_not_of("0123456789") != std::string::npos || std::stoi(*l) < 1 ||
          std::stoi(*l) > 100000) {
        return Response::error(Error::invalid("limit", "invalid_limit", "limit must be 1–100000"));
      }
      limit = std::stoi(*l);
    }
    std::string format = req.query_param("format").value_or("json");
    if (format != "json" && format != "jsonl") {
      return Response::error(Error::invalid("format", "invalid_format", "format must be json or jsonl"));
    }
    MC_TRY(labels, ctx.alerts->false_positives(*who, *from, *to, limit));
    json::array items;
    for (const auto& l : *labels) {
      json::array snaps;
      for (const auto& s : l.snapshot_ids) snaps.emplace_back(s);
      json::value boxes = json::array();
      if (auto v = parse_value(l.boxes_json)) boxes = std::move(*v);
      items.push_back(json::object{{"alert_id", l.alert_id},
                                   {"type", l.type},
                                   {"unit_id", l.unit_id},
                                   {"camera_id", l.camera_id ? json::value(*l.camera_id) : json::value(nullptr)},
                                   {"snapshot_ids", std::move(snaps)},
                                   {"reason", l.reason},
                                   {"model", l.model ? json::value(*l.model) : json::value(nullptr)},
                                   {"boxes", std::move(boxes)},
                                   {"occurred_at", format_time(ctx, l.occurred_at)},
                                   {"dismissed_at", format_time(ctx, l.dismissed_at)}});
    }
    if (format == "json")
      return Response::json(200, json::object{{"items", std::move(items)}, {"total", labels->size()}});
    Response resp;
    resp.content_type = "application/x-ndjson; charset=utf-8";
    for (const auto& it : items) resp.body += json::serialize(it) + "\n";
    return resp;
  });

  if (ctx.options.manual_clock && ctx.scheduler) {
    // Tests walk through deadlines with the manual clock, then run the scheduler at once.
    r.add(
        "POST", "/api/v1/admin/scheduler/run",
        [&ctx](Request& req) {
          MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
          auto rep = ctx.scheduler->run_once();
          return Response::json(200, json::object{{"lease", rep.lease},
                                                  {"overdue", rep.overdue},
                                                  {"yellow_cards", rep.yellow_cards},
                                                  {"red_cards", rep.red_cards},
                                                  {"offline", rep.offline},
                                                  {"cert_expiring", rep.cert_expiring},
                                                  {"cert_expired", rep.cert_expired}});
        },
        1024);
  }
}

}  // namespace mingchu::http
