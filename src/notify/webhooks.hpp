// Outbound webhooks: subscriptions a regulator (or a third party with a jurisdiction-scoped
// API key) registers to receive outbox events over HTTP, the delivery log, and the manual
// retry of dead-lettered deliveries. Also the webhook Channel the dispatcher sends with.
//
// Scope: a webhook remembers the jurisdiction path of its creator and only ever receives
// events of units inside that subtree ("/" for platform admins: everything, including
// events that belong to no unit). Webhooks are seen and managed by callers whose scope
// contains the webhook's path.
//
// Signing: every POST carries X-MingChu-Timestamp (Unix seconds) and
// X-MingChu-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>; the secret
// is stored encrypted (FieldCipher, context "webhooks.secret") and never returned.
//
// Thread safety: WebhookService and WebhookChannel are safe from any thread; deliver_one()
// may run on several threads at once. Failures of the database are thrown (DbError).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "crypto/field_cipher.hpp"
#include "notify/channel.hpp"
#include "notify/http_client.hpp"
#include "storage/database.hpp"

namespace mingchu::notify {

// The topics a webhook may subscribe to ("*" = all).
const std::vector<std::string>& known_topics();

struct WebhookInput {
  std::string url;
  std::vector<std::string> events;
  std::string secret;
  std::optional<std::string> description;
};

// Checks a new webhook: url http(s)://, at most 512 characters; events 1..16 known topics
// or "*", no duplicates; secret 16..256 characters. 422 naming the field otherwise.
Status validate_webhook(const WebhookInput& in);

struct Webhook {
  std::string id;
  std::string url;
  std::vector<std::string> events;
  std::optional<std::string> description;
  std::string jpath;  // scope of the creator
  std::string created_by;
  TimeMs created_at = 0;
  bool disabled = false;
};

// True when a webhook subscribed to `events` with scope `hook_jpath` receives e.
bool webhook_wants(const std::vector<std::string>& events, std::string_view hook_jpath, const OutboxEvent& e);

// "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body).
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body);

// One row of the delivery log.
struct Delivery {
  std::string id;
  std::string outbox_id;
  std::string channel;
  std::string target_id;
  std::string topic;
  std::string state;  // pending | delivered | dead
  int attempts = 0;
  TimeMs next_attempt_at = 0;
  std::optional<std::string> last_error;
  std::optional<int> last_status;
  std::optional<TimeMs> last_attempt_at;
  std::optional<TimeMs> delivered_at;
  TimeMs created_at = 0;
};

struct DeliveryQuery {
  std::optional<std::string> channel;
  std::optional<std::string> state;
  std::optional<std::string> target_id;
  std::optional<std::string> outbox_id;
  int offset = 0;
  int limit = 20;
};

// Who is acting, as the notify module needs it: the jurisdiction path of their scope ("/"
// for platform admins) and their identity for the audit log.
struct Actor {
  std::string scope_jpath;
  bool admin = false;
  std::string id;
  std::string name;
  std::string role;
  std::string source;
};

// Where a webhook may point: a URL whose host is, or resolves to, an address the policy does
// not allow (loopback, private, link-local... unless listed in notify.webhook_allow_networks)
// is kInvalid on "url" (code forbidden_address). A name that does not resolve now passes:
// the channel checks the address it connects to on every delivery.
Status check_webhook_target(std::string_view url, const net::AddressPolicy& policy);

class WebhookService {
 public:
  WebhookService(storage::Database& db, const Clock& clock, const crypto::FieldCipher& cipher,
                 const audit::AuditLog& audit, net::AddressPolicy policy = {});

  Result<Webhook> create(const Actor& who, const WebhookInput& in);
  std::pair<std::vector<Webhook>, std::int64_t> list(const Actor& who, int offset, int limit);
  // 404 when missing, deleted or outside the caller's scope.
  Result<Webhook> get(const Actor& who, const std::string& id);
  // Deletes (soft) and dead-letters its pending deliveries.
  Status remove(const Actor& who, const std::string& id);
  Result<std::pair<std::vector<Delivery>, std::int64_t>> deliveries_of(const Actor& who, const std::string& webhook_id,
                                                                       std::optional<std::string> state, int offset,
                                                                       int limit);
  // Every channel's deliveries (platform admins).
  std::pair<std::vector<Delivery>, std::int64_t> deliveries(const DeliveryQuery& q);
  // dead -> pending with a fresh retry schedule. Webhook deliveries: callers whose scope
  // contains the webhook; other channels: platform admins. 409 unless dead.
  Result<Delivery> retry(const Actor& who, const std::string& delivery_id);

  static constexpr int kMaxPerScope = 50;

 private:
  storage::Database& db_;
  const Clock& clock_;
  const crypto::FieldCipher& cipher_;
  const audit::AuditLog& audit_;
  net::AddressPolicy policy_;
};

struct WebhookChannelOptions {
  std::chrono::milliseconds timeout{5000};
  bool verify_tls = true;
  int parallelism = 4;
  net::AddressPolicy policy;  // the addresses deliveries may connect to
};

class WebhookChannel final : public Channel {
 public:
  WebhookChannel(storage::Database& db, const Clock& clock, const crypto::FieldCipher& cipher, HttpClient& http,
                 WebhookChannelOptions opt);
  std::string_view name() const override { return "webhook"; }
  void begin_fanout(storage::Connection& c) override;
  std::vector<std::string> targets(storage::Connection& c, const OutboxEvent& e) override;
  DeliveryOutcome deliver_one(const DeliveryJob& job) override;
  int parallelism() const override { return opt_.parallelism; }
  int batch_size() const override { return 4; }

 private:
  struct Hook {
    std::string id;
    std::vector<std::string> events;
    std::string jpath;
  };
  storage::Database& db_;
  const Clock& clock_;
  const crypto::FieldCipher& cipher_;
  HttpClient& http_;
  WebhookChannelOptions opt_;
  std::vector<Hook> hooks_;  // fan-out thread only
};

}  // namespace mingchu::notify
