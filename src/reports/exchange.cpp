#include "reports/exchange.hpp"

#include <algorithm>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "crypto/sm3.hpp"
#include "notify/webhooks.hpp"

namespace mingchu::reports {

using storage::Params;
using storage::Value;

namespace {

constexpr size_t kMaxItems = 1000;
constexpr TimeMs kMaxSkewMs = 5 * 60 * 1000;

constexpr const char* kSelectCursor = "SELECT at, id FROM upstream_cursors WHERE upstream = $1 AND kind = $2";
constexpr const char* kDeleteCursor = "DELETE FROM upstream_cursors WHERE upstream = $1 AND kind = $2";
constexpr const char* kInsertCursor =
    "INSERT INTO upstream_cursors (upstream, kind, at, id, updated_at) VALUES ($1, $2, $3, $4, $5)";
constexpr const char* kSelectUnitsAfter =
    "SELECT id, jurisdiction_id, name, operator, address, uscc, licence_number, store_type, lng, lat, updated_at, "
    "deleted_at FROM units WHERE (updated_at > $1 OR (updated_at = $1 AND id > $2)) ORDER BY updated_at, id LIMIT 500";
constexpr const char* kSelectCamerasAfter =
    "SELECT id, unit_id, name, area, status, last_seen_at, ai_enabled, updated_at, deleted_at FROM cameras "
    "WHERE (updated_at > $1 OR (updated_at = $1 AND id > $2)) ORDER BY updated_at, id LIMIT 500";

json::value opt_text(const storage::Row& r, size_t i) { return r.is_null(i) ? json::value(nullptr) : json::value(r.text(i)); }

std::string batch_id_of(const json::array& items) {
  std::string all;
  for (const auto& it : items) {
    const auto& o = it.as_object();
    all += json::serialize(o.at("kind")) + json::serialize(o.at("id")) + json::serialize(o.at("version")) + ";";
  }
  return "bat_" + crypto::sha256_hex(all).substr(0, 32);
}

}  // namespace

Result<json::object> post_batch(notify::HttpClient& http, const UpstreamOptions& o, const Clock& clock,
                                const json::object& batch_in) {
  json::object batch = batch_in;
  if (o.source_name.empty() && o.source_name_of) batch["source"] = o.source_name_of();
  std::string body = json::serialize(batch);
  std::string ts = std::to_string(clock.now_ms() / 1000);
  notify::HttpPost post;
  std::string url = o.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  post.url = url + "/api/v1/exchange/batches";
  post.body = body;
  post.timeout = o.timeout;
  post.verify_tls = o.verify_tls;
  post.headers = {{"X-Api-Key", o.key},
                  {"X-MingChu-Timestamp", ts},
                  {"X-MingChu-Signature", notify::webhook_signature(o.key, ts, body)}};
  auto reply = http.post(post);
  if (!reply) return reply.error();
  if (reply->status < 200 || reply->status >= 300) {
    Error e = Error::unavailable("the upper platform answered " + std::to_string(reply->status) + ": " +
                                 reply->body.substr(0, 200));
    return e;
  }
  auto v = parse_value(reply->body);
  if (v && v->is_object()) return v->as_object();
  return json::object{};
}

// ---- alert events through the dispatcher

std::vector<std::string> UpstreamChannel::targets(storage::Connection&, const notify::OutboxEvent& e) {
  if (e.topic.rfind("alert.", 0) == 0) return {"upstream"};
  return {};
}

std::vector<notify::DeliveryOutcome> UpstreamChannel::deliver(std::span<const notify::DeliveryJob> jobs) {
  json::array items;
  for (const auto& j : jobs) {
    auto payload = parse_value(j.event.payload);
    json::object item{{"kind", "event"}, {"id", j.event.id}, {"version", j.event.created_at}, {"topic", j.event.topic}};
    item["payload"] = payload ? std::move(*payload) : json::value(nullptr);
    items.push_back(std::move(item));
  }
  json::object batch{{"schema", kExchangeSchema}, {"batch_id", batch_id_of(items)}, {"source", opt_.source_name}};
  batch["items"] = std::move(items);
  auto r = post_batch(http_, opt_, clock_, batch);
  std::vector<notify::DeliveryOutcome> out(jobs.size());
  for (auto& o : out) {
    o.delivered = static_cast<bool>(r);
    if (!r) o.error = r.error().message;
  }
  return out;
}

notify::DeliveryOutcome UpstreamChannel::deliver_one(const notify::DeliveryJob& job) {
  return deliver(std::span<const notify::DeliveryJob>(&job, 1)).front();
}

// ---- units, cameras, statistics by cursor

UpstreamSync::UpstreamSync(storage::Database& db, const Clock& clock, notify::HttpClient& http,
                           stats::StatsService& stats, UpstreamOptions opt)
    : db_(db), clock_(clock), http_(http), stats_(stats), opt_(std::move(opt)) {}

UpstreamSync::~UpstreamSync() { stop(); }

Result<int> UpstreamSync::sync_once() {
  int sent = 0;
  std::string upstream = crypto::sha256_hex(opt_.url).substr(0, 16);  // one cursor set per upper platform
  for (const char* kind : {"unit", "camera"}) {
    for (;;) {
      TimeMs at = 0;
      std::string after_id;
      json::array items;
      TimeMs last_at = 0;
      std::string last_id;
      {
        storage::Conn c = db_.acquire();
        if (auto r = c->query(kSelectCursor, {upstream, std::string(kind)}); !r.empty()) {
          at = r[0].integer(0);
          after_id = r[0].text(1);
        }
        auto rows = c->query(std::string(kind) == "unit" ? kSelectUnitsAfter : kSelectCamerasAfter, {at, after_id});
        for (const auto& r : rows) {
          json::object data;
          TimeMs version;
          if (std::string(kind) == "unit") {
            data = json::object{{"id", r.text(0)},      {"jurisdiction_id", r.text(1)}, {"name", r.text(2)},
                                {"operator", opt_text(r, 3)}, {"address", opt_text(r, 4)}, {"uscc", opt_text(r, 5)},
                                {"licence_number", opt_text(r, 6)}, {"store_type", r.text(7)}};
            data["lng"] = r.is_null(8) ? json::value(nullptr) : json::value(r.real(8));
            data["lat"] = r.is_null(9) ? json::value(nullptr) : json::value(r.real(9));
            data["deleted"] = !r.is_null(11);
            version = r.integer(10);
          } else {
            data = json::object{{"id", r.text(0)},     {"unit_id", r.text(1)},       {"name", r.text(2)},
                                {"area", r.text(3)},   {"status", r.text(4)},        {"ai_enabled", r.boolean(6)},
                                {"deleted", !r.is_null(8)}};
            data["last_seen_at"] = r.is_null(5) ? json::value(nullptr)
                                                : json::value(format_rfc3339(r.integer(5), opt_.utc_offset_minutes));
            version = r.integer(7);
          }
          last_at = version;
          last_id = r.text(0);
          items.push_back(json::object{{"kind", kind}, {"id", r.text(0)}, {"version", version}, {"data", std::move(data)}});
        }
      }
      if (items.empty()) break;
      size_t n = items.size();
      json::object batch{{"schema", kExchangeSchema}, {"batch_id", batch_id_of(items)}, {"source", opt_.source_name}};
      batch["items"] = std::move(items);
      auto r = post_batch(http_, opt_, clock_, batch);
      if (!r) return r.error();
      db_.in_transaction([&](storage::Connection& c) {
        c.exec(kDeleteCursor, {upstream, std::string(kind)});
        c.exec(kInsertCursor, {upstream, std::string(kind), last_at, last_id, clock_.now_ms()});
      });
      sent += static_cast<int>(n);
      if (n < 500) break;
    }
  }
  // the statistics of the last 30 days over the whole deployment, once a round
  auth::Principal all;
  all.role = auth::Role::kPlatformAdmin;
  all.jpath = "/";
  TimeMs now = clock_.now_ms();
  auto ov = stats_.overview(all, stats::OverviewQuery{std::nullopt, now - 30 * kDayMs, now});
  if (ov) {
    json::object by_type;
    for (const auto& [k, v] : ov->by_type) by_type[k] = v;
    json::object data{{"from", format_rfc3339(ov->from, opt_.utc_offset_minutes)},
                      {"to", format_rfc3339(ov->to, opt_.utc_offset_minutes)},
                      {"units", ov->units},
                      {"units_with_alerts", ov->units_with_alerts},
                      {"alerts_total", ov->alerts_total},
                      {"handled", ov->handled},
                      {"handling_rate", ov->handling_rate},
                      {"cameras_total", ov->cameras_total},
                      {"cameras_online", ov->cameras_online},
                      {"by_type", std::move(by_type)}};
    json::array items;
    items.push_back(json::object{{"kind", "stats"}, {"id", "overview_30d"}, {"version", now}, {"data", std::move(data)}});
    json::object batch{{"schema", kExchangeSchema}, {"batch_id", batch_id_of(items)}, {"source", opt_.source_name}};
    batch["items"] = std::move(items);
    auto r = post_batch(http_, opt_, clock_, batch);
    if (!r) return r.error();
    ++sent;
  }
  return sent;
}

void UpstreamSync::start() {
  std::lock_guard g(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      lk.unlock();
      try {
        auto r = sync_once();
        if (!r) log::warn("upstream sync failed; retried next round", {{"error", r.error().message}});
      } catch (const std::exception& e) {
        log::warn("upstream sync failed", {{"error", e.what()}});
      }
      lk.lock();
      cv_.wait_for(lk, opt_.sync_interval, [this] { return stopping_; });
    }
  });
}

void UpstreamSync::stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// ---- receiving

Result<BatchResult> ExchangeReceiver::receive(const auth::Principal& p, const std::string& key,
                                              const std::string& timestamp, const std::string& signature,
                                              const std::string& body) {
  if (!p.is_api_key) return Error::forbidden("only an API key issued to a lower platform may report data");
  if (p.jpath.empty() || p.jpath == "/" || !p.unit_ids.empty())
    return Error::forbidden("the key must be bound to the reporting platform's jurisdiction");
  // the signature, within ±5 minutes
  if (timestamp.empty() || timestamp.size() > 12 || !std::all_of(timestamp.begin(), timestamp.end(), ::isdigit))
    return Error::unauthorized("X-MingChu-Timestamp must be epoch seconds");
  TimeMs ts = std::stoll(timestamp) * 1000;
  if (std::llabs(ts - clock_.now_ms()) > kMaxSkewMs) return Error::unauthorized("X-MingChu-Timestamp is too far from now");
  if (!crypto::constant_time_equal(signature, notify::webhook_signature(key, timestamp, body)))
    return Error::unauthorized("X-MingChu-Signature does not match the body");
  auto v = parse_value(body);
  if (!v || !v->is_object()) return Error::malformed("malformed_json", "the body is not a JSON object");
  const auto& o = v->as_object();
  auto str = [&](const json::object& obj, const char* k) -> std::optional<std::string> {
    auto it = obj.find(k);
    if (it == obj.end() || !it->value().is_string()) return std::nullopt;
    return std::string(it->value().as_string());
  };
  if (str(o, "schema") != std::string(kExchangeSchema))
    return Error::invalid("schema", "unknown_schema", std::string("schema must be ") + kExchangeSchema);
  auto batch_id = str(o, "batch_id");
  if (!batch_id || batch_id->empty() || batch_id->size() > 64 || !plausible_id(*batch_id))
    return Error::invalid("batch_id", "invalid_batch_id", "batch_id must be a short id");
  std::string name = str(o, "source").value_or("");
  if (utf8_length(name) > 100 || has_control_chars(name, false))
    return Error::invalid("source", "invalid_source", "source must be a short name");
  auto it = o.find("items");
  if (it == o.end() || !it->value().is_array()) return Error::invalid("items", "missing_field", "items must be an array");
  const auto& items = it->value().as_array();
  if (items.size() > kMaxItems) return Error::invalid("items", "too_many_items", "at most 1000 items a batch");
  // validate every item before writing any
  struct Obj {
    std::string kind, id, state, name;
    TimeMs version = 0;
    std::string data;
    std::optional<std::string> event_id;
  };
  std::vector<Obj> objs;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string f = "items[" + std::to_string(i) + "]";
    if (!items[i].is_object()) return Error::invalid(f, "invalid_item", f + " must be an object");
    const auto& io = items[i].as_object();
    auto kind = str(io, "kind");
    auto id = str(io, "id");
    auto ver = io.find("version");
    if (!kind || !id || !plausible_id(*id) || ver == io.end() || !ver->value().is_int64())
      return Error::invalid(f, "invalid_item", f + " needs kind, id and an integer version");
    Obj ob;
    if (*kind == "event") {
      auto pl = io.find("payload");
      if (pl == io.end() || !pl->value().is_object()) return Error::invalid(f + ".payload", "invalid_item", "an event needs its payload");
      const auto& po = pl->value().as_object();
      auto al = po.find("alert");
      if (al == po.end() || !al->value().is_object()) return Error::invalid(f + ".payload.alert", "invalid_item", "an alert event needs its alert");
      const auto& ao = al->value().as_object();
      auto aid = str(ao, "id");
      auto upd = str(ao, "updated_at");
      auto state = str(ao, "state");
      auto t = upd ? parse_rfc3339(*upd) : std::nullopt;
      if (!aid || !plausible_id(*aid) || !t || !state)
        return Error::invalid(f + ".payload.alert", "invalid_item", "the alert needs id, state and updated_at");
      ob.kind = "alert";
      ob.id = *aid;
      ob.version = *t;
      ob.state = *state;
      json::object data = ao;
      if (auto un = po.find("unit"); un != po.end()) data["unit"] = un->value();
      ob.name = str(ao, "type_name_zh").value_or(str(ao, "type").value_or(""));
      ob.data = json::serialize(data);
      ob.event_id = *id;
    } else if (*kind == "unit" || *kind == "camera" || *kind == "stats") {
      auto d = io.find("data");
      if (d == io.end() || !d->value().is_object()) return Error::invalid(f + ".data", "invalid_item", f + ".data must be an object");
      ob.kind = *kind;
      ob.id = *id;
      ob.version = ver->value().as_int64();
      ob.name = str(d->value().as_object(), "name").value_or("");
      if (*kind == "camera") ob.state = str(d->value().as_object(), "status").value_or("");
      ob.data = json::serialize(d->value());
      if (ob.data.size() > 64 * 1024) return Error::invalid(f + ".data", "too_large", f + ".data is too large");
    } else {
      return Error::invalid(f + ".kind", "unknown_kind", "kind must be event, unit, camera or stats");
    }
    objs.push_back(std::move(ob));
  }
  std::string source = p.user_id;
  BatchResult out;
  out.batch_id = *batch_id;
  TimeMs now = clock_.now_ms();
  db_.in_transaction([&](storage::Connection& c) {
    if (!c.query("SELECT 1 FROM exchange_batches WHERE source = $1 AND batch_id = $2", {source, *batch_id}).empty()) {
      out.duplicate = true;
      return;
    }
    c.exec("INSERT INTO exchange_batches (source, batch_id, items, received_at) VALUES ($1, $2, $3, $4)",
           {source, *batch_id, static_cast<std::int64_t>(objs.size()), now});
    for (const auto& ob : objs) {
      if (ob.event_id) {
        if (!c.query("SELECT 1 FROM exchange_events WHERE source = $1 AND event_id = $2", {source, *ob.event_id}).empty()) {
          ++out.repeated;
          continue;
        }
        c.exec("INSERT INTO exchange_events (source, event_id, received_at) VALUES ($1, $2, $3)", {source, *ob.event_id, now});
      }
      auto cur = c.query("SELECT version FROM exchange_objects WHERE source = $1 AND kind = $2 AND id = $3",
                         {source, ob.kind, ob.id});
      if (!cur.empty() && cur[0].integer(0) > ob.version) {
        ++out.stale;
        continue;
      }
      if (cur.empty()) {
        c.exec("INSERT INTO exchange_objects (source, kind, id, jpath, version, state, name, data, received_at) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
               {source, ob.kind, ob.id, p.jpath, ob.version, ob.state, ob.name, ob.data, now});
      } else {
        c.exec("UPDATE exchange_objects SET version = $4, state = $5, name = $6, data = $7, received_at = $8, jpath = $9 "
               "WHERE source = $1 AND kind = $2 AND id = $3",
               {source, ob.kind, ob.id, ob.version, ob.state, ob.name, ob.data, now, p.jpath});
      }
      ++out.applied;
    }
    auto s = c.query("SELECT batches FROM exchange_sources WHERE source = $1", {source});
    if (s.empty()) {
      c.exec("INSERT INTO exchange_sources (source, name, jpath, last_batch_at, batches, items) VALUES ($1, $2, $3, $4, 1, $5)",
             {source, name.empty() ? p.username : name, p.jpath, now, static_cast<std::int64_t>(objs.size())});
    } else {
      c.exec("UPDATE exchange_sources SET name = $2, jpath = $3, last_batch_at = $4, batches = batches + 1, "
             "items = items + $5 WHERE source = $1",
             {source, name.empty() ? p.username : name, p.jpath, now, static_cast<std::int64_t>(objs.size())});
    }
  });
  return out;
}

Result<std::pair<json::array, std::int64_t>> ExchangeReceiver::list(const auth::Principal& p, const Query& q,
                                                                     int off) {
  if (p.jpath.empty()) return std::pair{json::array{}, std::int64_t{0}};
  std::string where = " WHERE o.kind = $1 AND o.jpath >= $2 AND o.jpath < $3";
  Params ps{q.kind, p.jpath, auth::path_upper(p.jpath)};
  if (q.state) {
    ps.emplace_back(*q.state);
    where += " AND o.state = $" + std::to_string(ps.size());
  }
  if (q.source) {
    ps.emplace_back(*q.source);
    where += " AND o.source = $" + std::to_string(ps.size());
  }
  storage::Conn c = db_.acquire();
  std::int64_t total = c->query("SELECT COUNT(*) FROM exchange_objects o" + where, ps)[0].integer(0);
  ps.emplace_back(std::int64_t{q.page_size});
  ps.emplace_back(std::int64_t{(q.page - 1) * q.page_size});
  json::array items;
  for (const auto& r : c->query("SELECT o.source, o.data, o.received_at, s.name, o.version FROM exchange_objects o LEFT JOIN "
                                "exchange_sources s ON s.source = o.source" +
                                    where + " ORDER BY o.version DESC, o.id DESC LIMIT $" + std::to_string(ps.size() - 1) +
                                    " OFFSET $" + std::to_string(ps.size()),
                                ps)) {
    auto v = parse_value(r.text(1));
    json::object o = v && v->is_object() ? v->as_object() : json::object{};
    o["source"] = r.text(0);
    o["source_name"] = r.text(3);
    o["received_at"] = format_rfc3339(r.integer(2), off);
    o["version"] = r.integer(4);
    items.push_back(std::move(o));
  }
  return std::pair{std::move(items), total};
}

Result<json::array> ExchangeReceiver::sources(const auth::Principal& p, int off) {
  json::array out;
  if (p.jpath.empty()) return out;
  storage::Conn c = db_.acquire();
  for (const auto& r : c->query("SELECT source, name, jpath, last_batch_at, batches, items FROM exchange_sources "
                                "WHERE jpath >= $1 AND jpath < $2 ORDER BY name, source",
                                {p.jpath, auth::path_upper(p.jpath)})) {
    json::object o{{"source", r.text(0)}, {"name", r.text(1)}, {"last_batch_at", format_rfc3339(r.integer(3), off)},
                   {"batches", r.integer(4)}, {"items", r.integer(5)}};
    for (const char* kind : {"alert", "unit", "camera"}) {
      o[std::string(kind) + "s"] =
          c->query("SELECT COUNT(*) FROM exchange_objects WHERE source = $1 AND kind = $2", {r.text(0), std::string(kind)})[0]
              .integer(0);
    }
    auto st = c->query("SELECT data FROM exchange_objects WHERE source = $1 AND kind = 'stats' AND id = 'overview_30d'", {r.text(0)});
    if (!st.empty()) {
      if (auto v = parse_value(st[0].text(0))) o["stats"] = std::move(*v);
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace mingchu::reports
