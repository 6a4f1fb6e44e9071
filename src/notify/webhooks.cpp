#include "notify/webhooks.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

#include "auth/principal.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "crypto/sm3.hpp"

namespace mingchu::notify {
namespace {

constexpr std::string_view kSecretContext = "webhooks.secret";
constexpr size_t kMaxUrlChars = 512;

constexpr const char* kInsertWebhook =
    "INSERT INTO webhooks (id, url, events, secret_enc, jpath, description, created_by, created_at, disabled) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)";
constexpr const char* kWebhookColumns = "id, url, events, description, jpath, created_by, created_at, disabled";
constexpr const char* kCountInScope = "SELECT COUNT(*) FROM webhooks WHERE deleted_at IS NULL AND jpath = $1";
constexpr const char* kDeleteWebhook = "UPDATE webhooks SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL";
constexpr const char* kKillPending =
    "UPDATE deliveries SET state = 'dead', last_error = 'webhook deleted', lease_until = NULL, lease_holder = NULL "
    "WHERE channel = 'webhook' AND target_id = $1 AND state = 'pending'";
constexpr const char* kActiveHooks =
    "SELECT id, events, jpath FROM webhooks WHERE deleted_at IS NULL AND disabled = 0 ORDER BY id";
constexpr const char* kHookForDelivery = "SELECT url, secret_enc, deleted_at, disabled FROM webhooks WHERE id = $1";
constexpr const char* kDeliveryColumns =
    "id, outbox_id, channel, target_id, topic, state, attempts, next_attempt_at, last_error, last_status, "
    "last_attempt_at, delivered_at, created_at";
constexpr const char* kRetryDelivery =
    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, lease_until = NULL, "
    "lease_holder = NULL WHERE id = $1 AND state = 'dead'";

std::vector<std::string> parse_events(const std::string& text) {
  std::vector<std::string> out;
  auto v = parse_value(text);
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

std::string events_text(const std::vector<std::string>& events) {
  json::array a;
  for (const auto& e : events) a.emplace_back(e);
  return json::serialize(a);
}

Webhook webhook_from_row(const storage::Row& r) {
  Webhook w;
  w.id = r.text(0);
  w.url = r.text(1);
  w.events = parse_events(r.text(2));
  w.description = r.opt_text(3);
  w.jpath = r.text(4);
  w.created_by = r.text(5);
  w.created_at = r.integer(6);
  w.disabled = r.boolean(7);
  return w;
}

Delivery delivery_from_row(const storage::Row& r) {
  Delivery d;
  d.id = r.text(0);
  d.outbox_id = r.text(1);
  d.channel = r.text(2);
  d.target_id = r.text(3);
  d.topic = r.text(4);
  d.state = r.text(5);
  d.attempts = static_cast<int>(r.integer(6));
  d.next_attempt_at = r.integer(7);
  d.last_error = r.opt_text(8);
  if (auto s = r.opt_integer(9)) d.last_status = static_cast<int>(*s);
  d.last_attempt_at = r.opt_integer(10);
  d.delivered_at = r.opt_integer(11);
  d.created_at = r.integer(12);
  return d;
}

bool in_scope(std::string_view scope, std::string_view jpath) { return auth::in_subtree(scope, jpath); }

audit::Entry entry_for(const Actor& who, std::string action, std::string target, std::string detail = {}) {
  audit::Entry e;
  e.actor_id = who.id;
  e.actor = who.name;
  e.role = who.role;
  e.source = who.source;
  e.action = std::move(action);
  e.target = std::move(target);
  e.detail = std::move(detail);
  return e;
}

}  // namespace

const std::vector<std::string>& known_topics() {
  static const std::vector<std::string> kTopics = {std::string(kTopicAlertCreated), std::string(kTopicAlertUpdated),
                                                   std::string(kTopicAlertCard), std::string(kTopicCertExpiring),
                                                   std::string(kTopicCertExpired)};
  return kTopics;
}

Status validate_webhook(const WebhookInput& in) {
  if (in.url.empty() || in.url.size() > kMaxUrlChars) {
    return Error::invalid("url", "invalid_url", "url must be 1 to 512 characters");
  }
  if (auto u = parse_http_url(in.url); !u) return u.error();
  if (in.events.empty() || in.events.size() > 16) {
    return Error::invalid("events", "invalid_events", "events must list 1 to 16 topics, or [\"*\"]");
  }
  const auto& topics = known_topics();
  for (size_t i = 0; i < in.events.size(); ++i) {
    const auto& e = in.events[i];
    std::string field = "events[" + std::to_string(i) + "]";
    if (e != "*" && std::find(topics.begin(), topics.end(), e) == topics.end()) {
      return Error::invalid(field, "unknown_topic",
                            "unknown topic; use one of alert.created, alert.updated, alert.card, cert.expiring, "
                            "cert.expired or *");
    }
    if (std::find(in.events.begin(), in.events.begin() + static_cast<long>(i), e) !=
        in.events.begin() + static_cast<long>(i)) {
      return Error::invalid(field, "duplicate_topic", "a topic is listed twice");
    }
  }
  size_t secret_chars = utf8_length(in.secret);
  if (secret_chars < 16 || secret_chars > 256) {
    return Error::invalid("secret", "weak_secret", "secret must be 16 to 256 characters");
  }
  if (has_control_chars(in.secret, false)) {
    return Error::invalid("secret", "invalid_secret", "secret must not contain control characters");
  }
  if (in.description && (utf8_length(*in.description) > 200 || has_control_chars(*in.description, false))) {
    return Error::invalid("description", "invalid_description", "description must be at most 200 characters");
  }
  return ok_status();
}

bool webhook_wants(const std::vector<std::string>& events, std::string_view hook_jpath, const OutboxEvent& e) {
  bool topic =
      std::any_of(events.begin(), events.end(), [&](const std::string& t) { return t == "*" || t == e.topic; });
  if (!topic) return false;
  if (hook_jpath == "/") return true;
  return !e.jpath.empty() && in_scope(hook_jpath, e.jpath);
}

std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
  std::string msg;
  msg.reserve(timestamp.size() + 1 + body.size());
  msg.append(timestamp).push_back('.');
  msg.append(body);
  return "sha256=" + crypto::hmac_sha256_hex(secret, msg);
}

// ---------------------------------------------------------------- WebhookService

Status check_webhook_target(std::string_view url, const net::AddressPolicy& policy) {
  auto u = parse_http_url(url);
  if (!u) return u.error();
  auto refuse = [](const net::IpAddress& a) {
    return Error::invalid("url", "forbidden_address",
                          "url points at " + a.to_string() +
                              ", an address inside the platform's own networks (loopback, private, link-local); an "
                              "administrator may allow a network with notify.webhook_allow_networks");
  };
  if (auto literal = net::parse_ip(u->host)) {
    if (!policy.allowed(*literal)) return refuse(*literal);
    return ok_status();
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(u->host.c_str(), nullptr, &hints, &res) != 0) return ok_status();
  std::optional<net::IpAddress> bad;
  for (addrinfo* ai = res; ai && !bad; ai = ai->ai_next) {
    auto a = net::from_sockaddr(ai->ai_addr);
    if (a && !policy.allowed(*a)) bad = a;
  }
  ::freeaddrinfo(res);
  if (bad) return refuse(*bad);
  return ok_status();
}

WebhookService::WebhookService(storage::Database& db, const Clock& clock, const crypto::FieldCipher& cipher,
                               const audit::AuditLog& audit, net::AddressPolicy policy)
    : db_(db), clock_(clock), cipher_(cipher), audit_(audit), policy_(std::move(policy)) {}

Result<Webhook> WebhookService::create(const Actor& who, const WebhookInput& in) {
  if (who.scope_jpath.empty()) return Error::forbidden("webhooks are registered for a jurisdiction subtree");
  if (auto st = validate_webhook(in); !st) return st.error();
  if (auto st = check_webhook_target(in.url, policy_); !st) return st.error();
  Webhook w;
  w.id = new_id("whk");
  w.url = in.url;
  w.events = in.events;
  w.description = in.description;
  w.jpath = who.scope_jpath;
  w.created_by = who.id;
  w.created_at = clock_.now_ms();
  std::string secret_enc = cipher_.encrypt(in.secret, kSecretContext);
  bool full = db_.in_transaction([&](storage::Connection& c) {
    if (c.query(kCountInScope, {w.jpath})[0].integer(0) >= kMaxPerScope) return true;
    storage::Value desc = nullptr;
    if (w.description) desc = *w.description;
    c.exec(kInsertWebhook, {w.id, w.url, events_text(w.events), secret_enc, w.jpath, desc, w.created_by, w.created_at});
    json::object detail{{"url", w.url}, {"events", json::value_from(w.events)}};
    audit_.append(c, entry_for(who, "webhook.create", "webhook:" + w.id, json::serialize(detail)));
    return false;
  });
  if (full) {
    return Error::conflict("too_many_webhooks", "at most " + std::to_string(kMaxPerScope) +
                                                    " webhooks may be registered for one jurisdiction");
  }
  return w;
}

std::pair<std::vector<Webhook>, std::int64_t> WebhookService::list(const Actor& who, int offset, int limit) {
  std::vector<Webhook> out;
  if (who.scope_jpath.empty()) return {out, 0};
  std::string where = " FROM webhooks WHERE deleted_at IS NULL";
  storage::Params params;
  auth::append_subtree("jpath", who.scope_jpath, where, params);
  storage::Conn c = db_.acquire();
  std::int64_t total = c->query("SELECT COUNT(*)" + where, params)[0].integer(0);
  params.emplace_back(std::int64_t{limit});
  std::string sql = std::string("SELECT ") + kWebhookColumns + where + " ORDER BY created_at DESC, id LIMIT $" +
                    std::to_string(params.size());
  params.emplace_back(std::int64_t{offset});
  sql += " OFFSET $" + std::to_string(params.size());
  for (const auto& r : c->query(sql, params)) out.push_back(webhook_from_row(r));
  return {out, total};
}

Result<Webhook> WebhookService::get(const Actor& who, const std::string& id) {
  storage::Conn c = db_.acquire();
  auto rows =
      c->query(std::string("SELECT ") + kWebhookColumns + " FROM webhooks WHERE id = $1 AND deleted_at IS NULL", {id});
  if (rows.empty()) return Error::not_found("webhook");
  Webhook w = webhook_from_row(rows[0]);
  if (!in_scope(who.scope_jpath, w.jpath)) return Error::not_found("webhook");
  return w;
}

Status WebhookService::remove(const Actor& who, const std::string& id) {
  auto w = get(who, id);
  if (!w) return w.error();
  TimeMs now = clock_.now_ms();
  bool gone = db_.in_transaction([&](storage::Connection& c) {
    if (c.exec(kDeleteWebhook, {id, now}) == 0) return true;
    std::int64_t killed = c.exec(kKillPending, {id});
    audit_.append(c, entry_for(who, "webhook.delete", "webhook:" + id,
                               "{\"pending_dead_lettered\":" + std::to_string(killed) + "}"));
    return false;
  });
  if (gone) return Error::not_found("webhook");
  return ok_status();
}

Result<std::pair<std::vector<Delivery>, std::int64_t>> WebhookService::deliveries_of(const Actor& who,
                                                                                     const std::string& webhook_id,
                                                                                     std::optional<std::string> state,
                                                                                     int offset, int limit) {
  // deleted webhooks keep their log visible to who could see them
  storage::Conn c = db_.acquire();
  auto rows = c->query("SELECT jpath FROM webhooks WHERE id = $1", {webhook_id});
  if (rows.empty() || !in_scope(who.scope_jpath, rows[0].text(0))) return Error::not_found("webhook");
  std::string where = " FROM deliveries WHERE channel = 'webhook' AND target_id = $1";
  storage::Params params{webhook_id};
  if (state) {
    params.emplace_back(*state);
    where += " AND state = $2";
  }
  std::int64_t total = c->query("SELECT COUNT(*)" + where, params)[0].integer(0);
  params.emplace_back(std::int64_t{limit});
  std::string sql = std::string("SELECT ") + kDeliveryColumns + where + " ORDER BY created_at DESC, id LIMIT $" +
                    std::to_string(params.size());
  params.emplace_back(std::int64_t{offset});
  sql += " OFFSET $" + std::to_string(params.size());
  std::vector<Delivery> out;
  for (const auto& r : c->query(sql, params)) out.push_back(delivery_from_row(r));
  return std::make_pair(std::move(out), total);
}

std::pair<std::vector<Delivery>, std::int64_t> WebhookService::deliveries(const DeliveryQuery& q) {
  std::string where = " FROM deliveries WHERE 1 = 1";
  storage::Params params;
  auto add = [&](const std::optional<std::string>& v, const char* col) {
    if (!v) return;
    params.emplace_back(*v);
    where += std::string(" AND ") + col + " = $" + std::to_string(params.size());
  };
  add(q.channel, "channel");
  add(q.state, "state");
  add(q.target_id, "target_id");
  add(q.outbox_id, "outbox_id");
  storage::Conn c = db_.acquire();
  std::int64_t total = c->query("SELECT COUNT(*)" + where, params)[0].integer(0);
  params.emplace_back(std::int64_t{q.limit});
  std::string sql = std::string("SELECT ") + kDeliveryColumns + where + " ORDER BY created_at DESC, id LIMIT $" +
                    std::to_string(params.size());
  params.emplace_back(std::int64_t{q.offset});
  sql += " OFFSET $" + std::to_string(params.size());
  std::vector<Delivery> out;
  for (const auto& r : c->query(sql, params)) out.push_back(delivery_from_row(r));
  return {out, total};
}

Result<Delivery> WebhookService::retry(const Actor& who, const std::string& delivery_id) {
  TimeMs now = clock_.now_ms();
  return db_.in_transaction([&](storage::Connection& c) -> Result<Delivery> {
    auto rows = c.query(std::string("SELECT ") + kDeliveryColumns + " FROM deliveries WHERE id = $1", {delivery_id});
    if (rows.empty()) return Error::not_found("delivery");
    Delivery d = delivery_from_row(rows[0]);
    if (d.channel == "webhook") {
      auto hook = c.query("SELECT jpath, deleted_at FROM webhooks WHERE id = $1", {d.target_id});
      if (hook.empty() || !in_scope(who.scope_jpath, hook[0].text(0))) return Error::not_found("delivery");
      if (!hook[0].is_null(1)) return Error::conflict("webhook_deleted", "the webhook of this delivery was deleted");
    } else if (!who.admin) {
      return Error::not_found("delivery");
    }
    if (d.state != "dead") return Error::conflict("not_dead", "only dead-lettered deliveries can be retried");
    c.exec(kRetryDelivery, {delivery_id, now});
    audit_.append(c, entry_for(who, "delivery.retry", "delivery:" + delivery_id,
                               "{\"channel\":\"" + d.channel + "\",\"outbox_id\":\"" + d.outbox_id + "\"}"));
    d.state = "pending";
    d.attempts = 0;
    d.next_attempt_at = now;
    return d;
  });
}

// ---------------------------------------------------------------- WebhookChannel

WebhookChannel::WebhookChannel(storage::Database& db, const Clock& clock, const crypto::FieldCipher& cipher,
                               HttpClient& http, WebhookChannelOptions opt)
    : db_(db), clock_(clock), cipher_(cipher), http_(http), opt_(opt) {}

void WebhookChannel::begin_fanout(storage::Connection& c) {
  hooks_.clear();
  for (const auto& r : c.query(kActiveHooks)) hooks_.push_back({r.text(0), parse_events(r.text(1)), r.text(2)});
}

std::vector<std::string> WebhookChannel::targets(storage::Connection& c, const OutboxEvent& e) {
  (void)c;
  std::vector<std::string> out;
  for (const auto& h : hooks_) {
    if (webhook_wants(h.events, h.jpath, e)) out.push_back(h.id);
  }
  return out;
}

DeliveryOutcome WebhookChannel::deliver_one(const DeliveryJob& job) {
  DeliveryOutcome out;
  std::string url, secret_enc;
  {
    storage::Conn c = db_.acquire();
    auto rows = c->query(kHookForDelivery, {job.target_id});
    if (rows.empty() || !rows[0].is_null(2)) {
      out.permanent = true;
      out.error = "webhook deleted";
      return out;
    }
    url = rows[0].text(0);
    secret_enc = rows[0].text(1);
  }
  auto secret = cipher_.decrypt(secret_enc, kSecretContext);
  if (!secret) {
    out.permanent = true;
    out.error = "webhook secret cannot be decrypted (was the field key replaced?)";
    return out;
  }
  std::string ts = std::to_string(clock_.now_ms() / 1000);
  HttpPost req;
  req.url = url;
  req.body = job.event.payload;
  req.timeout = opt_.timeout;
  req.verify_tls = opt_.verify_tls;
  req.policy = &opt_.policy;
  req.headers = {{"X-MingChu-Event", job.event.topic},
                 {"X-MingChu-Delivery", job.id},
                 {"Idempotency-Key", job.event.id},
                 {"X-MingChu-Timestamp", ts},
                 {"X-MingChu-Signature", webhook_signature(*secret, ts, job.event.payload)}};
  auto reply = http_.post(req);
  if (!reply) {
    out.error = reply.error().message;
    return out;
  }
  out.status = reply->status;
  if (reply->status >= 200 && reply->status < 300) {
    out.delivered = true;
  } else {
    out.error = "HTTP " + std::to_string(reply->status);
  }
  return out;
}

}  // namespace mingchu::notify
