// The SMS/voice channel: an adapter for an HTTP gateway (the operator's SMS platform or a
// voice-call service). Outbox rows flagged sms=1 (class-1 alerts) go to:
//   - the unit's own phone (units.phone), target "unit:<unit id>", when it has one;
//   - the duty phone (值班电话) configured for each jurisdiction on the unit's path, target
//     "duty:<jurisdiction code>" — regulators are reached through their office's duty
//     number rather than personal phones, which the platform does not keep.
// Each recipient is one delivery, retried on its own. The request body is a template with
// placeholders {phone} {unit} {type} {class} {time} {alert_id} {event_id} {topic} {card},
// filled from the event payload; values are JSON-escaped when the content type is JSON.
// Header Idempotency-Key: <outbox id>:<target> lets the gateway drop repeats.
//
// Thread safety: as Channel. Phones are read when the message is sent (a corrected number
// is used by the next retry) and never written to the delivery log.
#pragma once

#include <map>
#include <string>

#include "notify/channel.hpp"
#include "notify/http_client.hpp"

namespace mingchu::notify {

inline constexpr const char* kDefaultSmsTemplate =
    R"({"phone":"{phone}","template":"MINGCHU_ALERT","event_id":"{event_id}",)"
    R"("params":{"unit":"{unit}","type":"{type}","class":"{class}","time":"{time}"}})";

struct SmsOptions {
  std::string url;  // empty: the channel is off
  std::string content_type = "application/json; charset=utf-8";
  std::string body_template = kDefaultSmsTemplate;
  std::map<std::string, std::string> duty_phones;  // jurisdiction code -> phone
  bool unit_phone = true;
  std::chrono::milliseconds timeout{5000};
  bool verify_tls = true;
  int parallelism = 2;
};

// Replaces each {name} in tmpl whose name is in vars; other braces are kept. When
// json_escape is set, values are escaped for use inside a JSON string.
std::string render_template(std::string_view tmpl, const std::map<std::string, std::string>& vars, bool json_escape);
// The template variables of an event payload (mingchu.event.v1), without {phone}.
std::map<std::string, std::string> sms_vars(const OutboxEvent& e);

class SmsChannel final : public Channel {
 public:
  SmsChannel(storage::Database& db, HttpClient& http, SmsOptions opt);
  std::string_view name() const override { return "sms"; }
  std::vector<std::string> targets(storage::Connection& c, const OutboxEvent& e) override;
  DeliveryOutcome deliver_one(const DeliveryJob& job) override;
  int parallelism() const override { return opt_.parallelism; }
  int batch_size() const override { return 4; }

 private:
  storage::Database& db_;
  HttpClient& http_;
  SmsOptions opt_;
};

}  // namespace mingchu::notify
