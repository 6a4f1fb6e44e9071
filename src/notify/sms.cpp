#include "notify/sms.hpp"

#include "core/json.hpp"

namespace mingchu::notify {
namespace {

constexpr const char* kUnitPhone = "SELECT phone FROM units WHERE id = $1";
constexpr const char* kJurisdictionCode = "SELECT code FROM jurisdictions WHERE id = $1";

std::string json_escaped(std::string_view s) {
  std::string q = json::serialize(json::string(s));  // "..." with escapes
  return q.substr(1, q.size() - 2);
}

const json::value* at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto key : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->as_object().find(key);
    if (it == cur->as_object().end()) return nullptr;
    cur = &it->value();
  }
  return cur;
}

std::string text_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* x = at(v, path);
  if (!x) return {};
  if (x->is_string()) return std::string(x->as_string());
  if (x->is_int64()) return std::to_string(x->as_int64());
  if (x->is_uint64()) return std::to_string(x->as_uint64());
  return {};
}

}  // namespace

std::string render_template(std::string_view tmpl, const std::map<std::string, std::string>& vars, bool json_escape) {
  std::string out;
  out.reserve(tmpl.size() + 64);
  size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] == '{') {
      size_t close = tmpl.find('}', i + 1);
      if (close != std::string_view::npos && close - i - 1 <= 32) {
        auto it = vars.find(std::string(tmpl.substr(i + 1, close - i - 1)));
        if (it != vars.end()) {
          out += json_escape ? json_escaped(it->second) : it->second;
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(tmpl[i++]);
  }
  return out;
}

std::map<std::string, std::string> sms_vars(const OutboxEvent& e) {
  std::map<std::string, std::string> v{{"event_id", e.id}, {"topic", e.topic}};
  auto p = parse_value(e.payload);
  json::value payload = p ? std::move(*p) : json::value();
  v["unit"] = text_at(payload, {"unit", "name"});
  std::string type = text_at(payload, {"alert", "type_name_zh"});
  v["type"] = type.empty() ? text_at(payload, {"alert", "type"}) : type;
  v["class"] = text_at(payload, {"alert", "risk_class"});
  std::string t = text_at(payload, {"alert", "occurred_at"});
  v["time"] = t.empty() ? text_at(payload, {"occurred_at"}) : t;
  v["alert_id"] = text_at(payload, {"alert", "id"});
  v["card"] = text_at(payload, {"alert", "card"});
  return v;
}

SmsChannel::SmsChannel(storage::Database& db, HttpClient& http, SmsOptions opt)
    : db_(db), http_(http), opt_(std::move(opt)) {}

std::vector<std::string> SmsChannel::targets(storage::Connection& c, const OutboxEvent& e) {
  std::vector<std::string> out;
  if (!e.sms || opt_.url.empty()) return out;
  if (opt_.unit_phone && !e.unit_id.empty()) {
    auto rows = c.query(kUnitPhone, {e.unit_id});
    if (!rows.empty() && !rows[0].text(0).empty()) out.push_back("unit:" + e.unit_id);
  }
  if (!opt_.duty_phones.empty()) {
    for (const auto& jid : jpath_segments(e.jpath)) {
      auto rows = c.query(kJurisdictionCode, {jid});
      if (rows.empty()) continue;
      std::string code = rows[0].text(0);
      if (opt_.duty_phones.contains(code)) out.push_back("duty:" + code);
    }
  }
  return out;
}

DeliveryOutcome SmsChannel::deliver_one(const DeliveryJob& job) {
  DeliveryOutcome out;
  std::string phone;
  const std::string& t = job.target_id;
  if (t.rfind("unit:", 0) == 0) {
    storage::Conn c = db_.acquire();
    auto rows = c->query(kUnitPhone, {t.substr(5)});
    if (!rows.empty()) phone = rows[0].text(0);
  } else if (t.rfind("duty:", 0) == 0) {
    auto it = opt_.duty_phones.find(t.substr(5));
    if (it != opt_.duty_phones.end()) phone = it->second;
  }
  if (phone.empty()) {
    out.permanent = true;
    out.error = "no phone number for " + t;
    return out;
  }
  auto vars = sms_vars(job.event);
  vars["phone"] = phone;
  bool is_json = opt_.content_type.find("json") != std::string::npos;
  HttpPost req;
  req.url = opt_.url;
  req.content_type = opt_.content_type;
  req.body = render_template(opt_.body_template, vars, is_json);
  req.timeout = opt_.timeout;
  req.verify_tls = opt_.verify_tls;
  req.headers = {{"Idempotency-Key", job.event.id + ":" + t}, {"X-MingChu-Delivery", job.id}};
  auto reply = http_.post(req);
  if (!reply) {
    out.error = reply.error().message;
    return out;
  }
  out.status = reply->status;
  out.delivered = reply->status >= 200 && reply->status < 300;
  if (!out.delivered) out.error = "HTTP " + std::to_string(reply->status);
  return out;
}

}  // namespace mingchu::notify
