// Ingest (API.md "Ingest"): alert events, heartbeats and sensor readings from AI boxes, the
// algorithm server, sensors and integrations; and the IoT devices they come from.
//
// POST /api/v1/ingest/alerts takes one event, or {"events": [...]} with up to 1 000. The
// answer is sent only after the events are committed (IngestService, group commit); these
// routes are asynchronous, so waiting for the commit holds no I/O thread.
//   one event:  202 {event_id, alert_id, merged, duplicate}, or the event's error (4xx/503);
//   a batch:    {"results": [{event_id, status, alert_id?, merged?, duplicate?, error?}],
//                "accepted": n, "rejected": m} in the order sent, with HTTP status
//                202 when every event was accepted, 503 when none could be stored (retry all),
//                and 207 (Multi-Status) otherwise — each result carries its own status.
#include <atomic>
#include <mutex>

#include "http/handler_util.hpp"
#include "ingest/ingest_service.hpp"
#include "registry/devices.hpp"

namespace mingchu::http {
namespace {

constexpr size_t kMaxIngestBody = 32 * 1024 * 1024;  // a batch may carry inline snapshots

json::object result_json(const ingest::IngestResult& r) {
  json::object o{{"event_id", r.event_id}, {"status", r.http_status()}};
  if (r.ok()) {
    o["alert_id"] = r.alert_id;
    o["merged"] = r.merged;
    o["duplicate"] = r.duplicate;
  } else {
    o["error"] = error_body(*r.error)["error"];
  }
  return o;
}

Response single_answer(const ingest::IngestResult& r) {
  if (!r.ok()) {
    Response resp = Response::error(*r.error);
    if (r.error->kind == ErrorKind::kUnavailable) resp.headers.emplace_back("Retry-After", "1");
    return resp;
  }
  return Response::json(
      202, json::object{
               {"event_id", r.event_id}, {"alert_id", r.alert_id}, {"merged", r.merged}, {"duplicate", r.duplicate}});
}

// The answers of a batch, collected from completions on any thread.
struct BatchAnswer : std::enable_shared_from_this<BatchAnswer> {
  std::mutex mu;
  std::vector<ingest::IngestResult> results;
  std::atomic<size_t> remaining{0};
  std::function<void(Response)> done;

  void complete(size_t i, ingest::IngestResult r) {
    {
      std::lock_guard g(mu);
      results[i] = std::move(r);
    }
    finish_one();
  }
  // the last completion hands the answer over; it is built on the connection's thread
  void finish_one() {
    if (remaining.fetch_sub(1) != 1) return;
    done(Response::later([self = shared_from_this()] { return self->answer(); }));
  }
  Response answer() {
    json::array items;
    size_t accepted = 0, unavailable = 0;
    for (const auto& r : results) {
      if (r.ok())
        ++accepted;
      else if (r.error->kind == ErrorKind::kUnavailable)
        ++unavailable;
      items.push_back(result_json(r));
    }
    int status = accepted == results.size() ? 202 : unavailable == results.size() ? 503 : 207;
    Response resp = Response::json(
        status,
        json::object{{"results", std::move(items)}, {"accepted", accepted}, {"rejected", results.size() - accepted}});
    if (status == 503) resp.headers.emplace_back("Retry-After", "1");
    return resp;
  }
};

Response device_response(const ApiContext& ctx, const Result<registry::Device>& d, int status = 200) {
  if (!d) return Response::error(d.error());
  return Response::json(status, registry::to_json(*d, ctx.options.utc_offset_minutes));
}

}  // namespace

void add_ingest_routes(Router& r, ApiContext& ctx) {
  r.add_async(
      "POST", "/api/v1/ingest/alerts",
      [&ctx](Request& req, std::function<void(Response)> done) {
        auto who = authenticate_ingest(ctx, req);
        if (!who) return done(Response::error(who.error()));
        auto body = read_json(req);
        if (!body) return done(Response::error(body.error()));
        ingest::IngestSource src = ingest::IngestSource::from_principal(*who);
        src.scope.source = req.remote;

        if (!body->contains("events")) {
          auto ev = ingest::parse_alert_event(*body);
          if (!ev) return done(Response::error(ev.error()));
          ctx.ingest->submit(src, std::move(*ev), [done](ingest::IngestResult res) {
            done(Response::later([res = std::move(res)] { return single_answer(res); }));
          });
          return;
        }
        if (body->size() != 1) {
          return done(Response::error(Error::invalid("events", "unknown_field", "a batch holds only 'events'")));
        }
        const json::value& evs = body->at("events");
        if (!evs.is_array())
          return done(Response::error(Error::invalid("events", "wrong_type", "events must be an array")));
        const json::array& arr = evs.as_array();
        if (arr.empty() || arr.size() > ingest::kMaxBatchEvents) {
          return done(
              Response::error(Error::invalid("events", "invalid_batch_size", "events must hold 1 to 1000 events")));
        }
        auto shared_src = std::make_shared<const ingest::IngestSource>(std::move(src));
        auto batch = std::make_shared<BatchAnswer>();
        batch->results.resize(arr.size());
        batch->remaining = arr.size() + 1;  // +1: the loop below finishes before the answer
        batch->done = std::move(done);
        for (size_t i = 0; i < arr.size(); ++i) {
          Result<ingest::AlertEvent> ev =
              arr[i].is_object()
                  ? ingest::parse_alert_event(arr[i].as_object())
                  : Result<ingest::AlertEvent>(Error::invalid("events[" + std::to_string(i) + "]", "wrong_type",
                                                              "an event must be an object"));
          if (!ev) {
            ingest::IngestResult res;
            if (arr[i].is_object()) {
              if (const auto* id = arr[i].as_object().if_contains("event_id"); id && id->is_string()) {
                res.event_id = std::string(std::string_view(id->as_string()).substr(0, ingest::kMaxEventIdChars));
              }
            }
            res.error = ev.error();
            batch->complete(i, std::move(res));
            continue;
          }
          ctx.ingest->submit(shared_src, std::move(*ev),
                             [batch, i](ingest::IngestResult res) { batch->complete(i, std::move(res)); });
        }
        batch->finish_one();
      },
      kMaxIngestBody);

  // "Did you get my event?" — the stored answer to an event id this sender sent before; the
  // query form takes event ids with '/' in them.
  auto receipt = [&ctx](Request& req, const std::string& event_id) {
    MC_TRY(who, authenticate_ingest(ctx, req));
    MC_TRY(res, ctx.ingest->receipt(ingest::IngestSource::from_principal(*who), event_id));
    return Response::json(
        200, json::object{{"event_id", res->event_id}, {"alert_id", res->alert_id}, {"merged", res->merged}});
  };
  r.add("GET", "/api/v1/ingest/alerts/{event_id}",
        [receipt](Request& req) { return receipt(req, req.param("event_id")); });
  r.add("GET", "/api/v1/ingest/alerts", [receipt](Request& req) {
    auto id = req.query_param("event_id");
    if (!id || id->empty()) return Response::error(Error::invalid("event_id", "missing_field", "event_id is required"));
    return receipt(req, *id);
  });

  // Heartbeats and readings: authenticate, parse, submit; 202 once stored.
  auto status_route = [&](const char* path, size_t max_body, auto parse, auto submit) {
    r.add_async(
        "POST", path,
        [&ctx, parse, submit](Request& req, std::function<void(Response)> done) {
          auto who = authenticate_ingest(ctx, req);
          if (!who) return done(Response::error(who.error()));
          auto body = read_json(req);
          if (!body) return done(Response::error(body.error()));
          auto parsed = parse(*body);
          if (!parsed) return done(Response::error(parsed.error()));
          ingest::IngestSource src = ingest::IngestSource::from_principal(*who);
          src.scope.source = req.remote;
          submit(src, std::move(*parsed), [done](Status st) {
            if (!st) return done(Response::error(st.error()));
            done(Response::json(202, json::object{{"accepted", true}}));
          });
        },
        max_body);
  };
  status_route(
      "/api/v1/ingest/heartbeats", 4 * 1024, [](const json::object& b) { return ingest::parse_heartbeat(b); },
      [&ctx](const ingest::IngestSource& src, ingest::Heartbeat hb, ingest::StatusCompletion done) {
        ctx.ingest->submit_heartbeat(src, std::move(hb), std::move(done));
      });
  status_route(
      "/api/v1/ingest/readings", 16 * 1024, [](const json::object& b) { return ingest::parse_reading(b); },
      [&ctx](const ingest::IngestSource& src, ingest::Reading rd, ingest::StatusCompletion done) {
        ctx.ingest->submit_reading(src, std::move(rd), std::move(done));
      });

  // ---- devices
  r.add("GET", "/api/v1/devices", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(pg, page_params(req));
    registry::DeviceFilter f;
    for (auto [name, target] : {std::pair{"unit_id", &f.unit_id}, std::pair{"jurisdiction_id", &f.jurisdiction_id}}) {
      MC_TRY(id, query_id(req, name));
      *target = *id;
    }
    if (auto k = req.query_param("kind"); k && !k->empty()) f.kind = *k;
    if (auto s = req.query_param("status"); s && !s->empty()) {
      if (*s != "online" && *s != "offline") {
        return Response::error(Error::invalid("status", "invalid_status", "status must be online or offline"));
      }
      f.status = *s;
    }
    MC_TRY(page, ctx.devices->list(*who, f, registry::PageRequest{pg->page, pg->page_size}));
    json::array items;
    for (const auto& d : page->items) items.push_back(registry::to_json(d, ctx.options.utc_offset_minutes));
    return Response::json(200, list_body(std::move(items), page->total, *pg));
  });

  r.add(
      "POST", "/api/v1/devices",
      [&ctx](Request& req) {
        MC_TRY(who, authenticate(ctx, req));
        MC_TRY(body, read_json(req));
        MC_TRY(in, registry::parse_device_input(*body, false));
        return device_response(ctx, ctx.devices->create(*who, *in), 201);
      },
      16 * 1024);

  r.add("GET", "/api/v1/devices/{id}", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(id, path_id(req));
    return device_response(ctx, ctx.devices->get(*who, *id));
  });

  r.add(
      "PATCH", "/api/v1/devices/{id}",
      [&ctx](Request& req) {
        MC_TRY(who, authenticate(ctx, req));
        MC_TRY(id, path_id(req));
        MC_TRY(body, read_json(req));
        MC_TRY(in, registry::parse_device_input(*body, true));
        return device_response(ctx, ctx.devices->update(*who, *id, *in));
      },
      16 * 1024);

  r.add("DELETE", "/api/v1/devices/{id}", [&ctx](Request& req) {
    MC_TRY(who, authenticate(ctx, req));
    MC_TRY(id, path_id(req));
    MC_TRY(st, ctx.devices->remove(*who, *id));
    return Response::no_content();
  });
}

}  // namespace mingchu::http
