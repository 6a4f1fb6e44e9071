// Push: outbound webhooks and their delivery log, the dead-letter retry, and the live SSE
// stream. Each handler: authenticate, read, call notify's WebhookService or EventHub, format.
#include <chrono>
#include <mutex>

#include "auth/auth_service.hpp"
#include "core/log.hpp"
#include "http/handler_util.hpp"
#include "notify/event_hub.hpp"
#include "notify/webhooks.hpp"

namespace mingchu::http {
namespace {

constexpr size_t kBodyLimit = 16 * 1024;
constexpr auto kRecheckEvery = std::chrono::seconds(10);

// Webhooks belong to a jurisdiction subtree: platform admins ("/"), regulators and API keys
// bound to a jurisdiction. Merchants and unit-bound keys have no subtree to subscribe to.
Result<notify::Actor> push_actor(ApiContext& ctx, const Request& req) {
  auto p = authenticate(ctx, req);
  if (!p) return p.error();
  if (p->role == auth::Role::kMerchant || p->jpath.empty()) {
    return Error::forbidden("webhooks are registered by regulators and jurisdiction-scoped API keys");
  }
  notify::Actor a;
  a.admin = p->is_admin();
  a.scope_jpath = a.admin ? "/" : p->jpath;
  a.id = p->user_id;
  a.name = p->username;
  a.role = p->is_api_key ? "api_key" : std::string(auth::role_name(p->role));
  a.source = req.remote;
  return a;
}

json::object webhook_json(const ApiContext& ctx, const notify::Webhook& w) {
  json::object o{{"id", w.id},
                 {"url", w.url},
                 {"events", json::value_from(w.events)},
                 {"created_by", w.created_by},
                 {"created_at", format_time(ctx, w.created_at)},
                 {"disabled", w.disabled}};
  o["description"] = w.description ? json::value(*w.description) : json::value(nullptr);
  return o;  // never the secret
}

json::object delivery_json(const ApiContext& ctx, const notify::Delivery& d) {
  json::object o{{"id", d.id},           {"outbox_id", d.outbox_id}, {"event_id", d.outbox_id},
                 {"channel", d.channel}, {"target_id", d.target_id}, {"topic", d.topic},
                 {"state", d.state},     {"attempts", d.attempts},   {"created_at", format_time(ctx, d.created_at)}};
  o["next_attempt_at"] = d.state == "pending" ? json::value(format_time(ctx, d.next_attempt_at)) : json::value(nullptr);
  o["last_error"] = d.last_error ? json::value(*d.last_error) : json::value(nullptr);
  o["last_status"] = d.last_status ? json::value(*d.last_status) : json::value(nullptr);
  o["last_attempt_at"] = time_or_null(ctx, d.last_attempt_at);
  o["delivered_at"] = time_or_null(ctx, d.delivered_at);
  return o;
}

Result<std::optional<std::string>> state_param(const Request& req) {
  auto s = req.query_param("state");
  if (!s || s->empty()) return std::optional<std::string>();
  if (*s != "pending" && *s != "delivered" && *s != "dead") {
    return Error::invalid("state", "invalid_state", "state must be pending, delivered or dead");
  }
  return std::optional<std::string>(*s);
}

Result<notify::WebhookInput> read_webhook(const Request& req) {
  auto body = read_json(req);
  if (!body) return body.error();
  ObjectReader rd(*body);
  notify::WebhookInput in;
  in.url = rd.req_string("url", 512);
  if (const json::array* ev = rd.opt_array("events", 16)) {
    for (size_t i = 0; i < ev->size(); ++i) {
      if (!(*ev)[i].is_string()) {
        rd.fail("events[" + std::to_string(i) + "]", "invalid_topic", "each event must be a topic string");
        break;
      }
      in.events.emplace_back((*ev)[i].as_string());
    }
  } else if (rd.ok() && !rd.has("events")) {
    rd.fail("events", "required", "events is required: a list of topics, or [\"*\"]");
  }
  in.secret = rd.req_string("secret", 256);
  in.description = rd.opt_string("description", 200);
  if (auto st = rd.finish(); !st) return st.error();
  return in;
}

// The SSE stream of one caller: events of the hub's subscription, until the client goes
// away, the hub stops, or the caller's session ends. The credential is rechecked at once when
// this process ends sessions (logout, password change, a user's role, scope or account
// changed: AuthService::revocation_epoch moves) and every kRecheckEvery for what other nodes
// ended or revoked.
class HubStream final : public EventStream {
 public:
  HubStream(std::shared_ptr<notify::Subscription> sub, std::function<bool()> still_valid, const auth::AuthService& auth)
      : sub_(std::move(sub)),
        still_valid_(std::move(still_valid)),
        auth_(auth),
        epoch_(auth.revocation_epoch()),
        checked_(std::chrono::steady_clock::now()) {}
  ~HubStream() override { sub_->close(); }

  std::optional<std::string> next(std::chrono::milliseconds wait) override {
    auto now = std::chrono::steady_clock::now();
    std::uint64_t epoch = auth_.revocation_epoch();
    if (epoch != epoch_ || now - checked_ >= kRecheckEvery) {
      epoch_ = epoch;
      checked_ = now;
      bool ok = false;
      try {
        ok = still_valid_();
      } catch (...) {
        ok = true;  // a database hiccup does not end a stream; the next check decides
      }
      if (!ok) sub_->close();
    }
    return sub_->next(wait);
  }
  bool closed() const override { return sub_->closed(); }

 private:
  std::shared_ptr<notify::Subscription> sub_;
  std::function<bool()> still_valid_;
  const auth::AuthService& auth_;  // outlives the server and so every stream
  std::uint64_t epoch_;
  std::chrono::steady_clock::time_point checked_;
};

}  // namespace

void add_push_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/v1/webhooks", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, push_actor(ctx, req));
      MC_TRY(pp, page_params(req));
      auto [items, total] = ctx.webhooks->list(*who, pp->offset(), pp->page_size);
      json::array a;
      for (const auto& w : items) a.push_back(webhook_json(ctx, w));
      return Response::json(200, list_body(std::move(a), total, *pp));
    });
  });

  r.add(
      "POST", "/api/v1/webhooks",
      [&ctx](Request& req) {
        return guarded([&] {
          MC_TRY(who, push_actor(ctx, req));
          MC_TRY(in, read_webhook(req));
          MC_TRY(w, ctx.webhooks->create(*who, *in));
          return Response::json(201, webhook_json(ctx, *w));
        });
      },
      kBodyLimit);

  r.add("GET", "/api/v1/webhooks/{id}", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, push_actor(ctx, req));
      MC_TRY(id, path_id(req));
      MC_TRY(w, ctx.webhooks->get(*who, *id));
      return Response::json(200, webhook_json(ctx, *w));
    });
  });

  r.add("DELETE", "/api/v1/webhooks/{id}", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, push_actor(ctx, req));
      MC_TRY(id, path_id(req));
      if (auto st = ctx.webhooks->remove(*who, *id); !st) return Response::error(st.error());
      return Response::no_content();
    });
  });

  r.add("GET", "/api/v1/webhooks/{id}/deliveries", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, push_actor(ctx, req));
      MC_TRY(id, path_id(req));
      MC_TRY(pp, page_params(req));
      MC_TRY(state, state_param(req));
      MC_TRY(res, ctx.webhooks->deliveries_of(*who, *id, *state, pp->offset(), pp->page_size));
      json::array a;
      for (const auto& d : res->first) a.push_back(delivery_json(ctx, d));
      return Response::json(200, list_body(std::move(a), res->second, *pp));
    });
  });

  // Every channel's deliveries (webhook, amqp, sms): platform admins.
  r.add("GET", "/api/v1/deliveries", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
      MC_TRY(pp, page_params(req));
      notify::DeliveryQuery q;
      MC_TRY(state, state_param(req));
      q.state = *state;
      if (auto ch = req.query_param("channel"); ch && !ch->empty()) {
        if (*ch != "webhook" && *ch != "amqp" && *ch != "sms") {
          return Response::error(Error::invalid("channel", "invalid_channel", "channel must be webhook, amqp or sms"));
        }
        q.channel = *ch;
      }
      MC_TRY(ev, query_id(req, "event_id"));
      q.outbox_id = *ev;
      MC_TRY(target, query_id(req, "target_id"));
      q.target_id = *target;
      q.offset = pp->offset();
      q.limit = pp->page_size;
      auto [items, total] = ctx.webhooks->deliveries(q);
      json::array a;
      for (const auto& d : items) a.push_back(delivery_json(ctx, d));
      return Response::json(200, list_body(std::move(a), total, *pp));
    });
  });

  r.add(
      "POST", "/api/v1/deliveries/{id}/retry",
      [&ctx](Request& req) {
        return guarded([&] {
          MC_TRY(who, push_actor(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(d, ctx.webhooks->retry(*who, *id));
          return Response::json(200, delivery_json(ctx, *d));
        });
      },
      1024);

  // Server-Sent Events: alert.created, alert.updated, alert.card, cert.*, notification — the
  // events of the caller's scope (a merchant: their units). EventSource cannot send headers:
  // it passes a stream ticket (?ticket=, POST /api/v1/auth/tickets) or, from older clients,
  // the session token (?access_token=, accepted on this route only).
  r.add("GET", "/api/v1/stream", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate_in_url(ctx, req, "stream"));
      if (!ctx.hub) return Response::error(Error::unavailable("the live stream is not enabled on this server"));
      auth::Principal p = *who;
      auto sub = ctx.hub->subscribe([p](const notify::OutboxEvent& e) {
        if (e.jpath.empty()) return p.is_admin() || (!e.unit_id.empty() && p.covers(e.jpath, e.unit_id));
        return p.covers(e.jpath, e.unit_id);
      });
      if (!sub) return Response::error(sub.error());
      std::function<bool()> still_valid;
      std::string remote = req.remote;
      if (auto key = req.header("x-api-key"); key && p.is_api_key) {
        still_valid = [&ctx, k = *key, remote] { return ctx.auth->authenticate_api_key(k, remote).ok(); };
      } else {
        still_valid = [&ctx, h = p.session_hash, remote] { return ctx.auth->authenticate_session(h, remote).ok(); };
      }
      Response resp;
      resp.status = 200;
      resp.content_type = "text/event-stream; charset=utf-8";
      resp.stream = std::make_shared<HubStream>(std::move(*sub), std::move(still_valid), *ctx.auth);
      return resp;
    });
  });
}

}  // namespace mingchu::http
