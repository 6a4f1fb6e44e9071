// The composition root: builds every module from the Config, owns them, and wires them
// together. Nothing else knows how the program is assembled. One Platform per process.
#pragma once

#include <memory>

#include "alerts/alert_service.hpp"
#include "alerts/scheduler.hpp"
#include "app/backup_schedule.hpp"
#include "app/config.hpp"
#include "audit/audit_log.hpp"
#include "auth/auth_service.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/net.hpp"
#include "crypto/field_cipher.hpp"
#include "disclosure/disclosure.hpp"
#include "files/file_catalog.hpp"
#include "files/file_store.hpp"
#include "ingest/ingest_service.hpp"
#include "operations/ledgers.hpp"
#include "operations/operations.hpp"
#include "operations/sensors.hpp"
#include "disclosure/disclosure.hpp"
#include "registry/devices.hpp"
#include "registry/registry.hpp"
#include "reports/exchange.hpp"
#include "reports/export.hpp"
#include "reports/report_service.hpp"
#include "reports/schedules.hpp"
#include "stats/stats_service.hpp"
#include "storage/database.hpp"

namespace mingchu::notify {
class HttpClient;
class WebhookService;
class EventHub;
class Dispatcher;
}  // namespace mingchu::notify
namespace mingchu::ingest {
class IngestSink;
class MqttSubscriber;
}  // namespace mingchu::ingest

namespace mingchu::video {
class VideoService;
}  // namespace mingchu::video
namespace mingchu::vision {
class VisionService;
class ModelRegistry;
}  // namespace mingchu::vision
namespace mingchu::gb {
class GbService;
class CascadeService;
}  // namespace mingchu::gb

namespace mingchu::app {

class Platform {
 public:
  // Opens the database (applying migrations) and the key file; throws std::runtime_error
  // with a readable message when either cannot be opened.
  explicit Platform(const Config& cfg);
  ~Platform();

  const Config& config() const { return cfg_; }
  Clock& clock() { return *clock_; }
  ManualClock* manual_clock() { return manual_clock_; }
  Metrics& metrics() { return metrics_; }
  storage::Database& db() { return *db_; }
  audit::AuditLog& audit() { return *audit_; }
  auth::AuthService& auth() { return *auth_; }
  crypto::FieldCipher& cipher() { return *cipher_; }
  registry::Registry& registry() { return *registry_; }
  files::FileCatalog& files() { return *catalog_; }
  alerts::AlertService& alerts() { return *alerts_; }
  alerts::Scheduler& scheduler() { return *scheduler_; }
  ingest::IngestService& ingest() { return *ingest_; }
  notify::WebhookService& webhooks() { return *webhooks_; }

  // Serves HTTP until SIGTERM/SIGINT. Returns the process exit code.
  int serve();

 private:
  Config cfg_;
  std::unique_ptr<Clock> clock_;
  ManualClock* manual_clock_ = nullptr;
  Metrics metrics_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<auth::AuthService> auth_;
  std::unique_ptr<crypto::FieldCipher> cipher_;
  std::unique_ptr<files::FileStore> store_;
  std::unique_ptr<files::FileCatalog> catalog_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<disclosure::DisclosureService> disclosure_;
  // the supervision loop (src/alerts, src/ingest, src/stats); declared in dependency order so
  // that the scheduler and the ingest writer stop before what they use is destroyed
  std::unique_ptr<alerts::AlertService> alerts_;
  std::unique_ptr<ingest::IngestService> ingest_;
  std::unique_ptr<registry::DeviceService> devices_;
  std::unique_ptr<stats::StatsService> stats_;
  std::unique_ptr<alerts::Scheduler> scheduler_;
  std::unique_ptr<reports::ReportService> reports_;  // src/reports
  std::unique_ptr<reports::ExportService> exports_;
  // data push (src/notify): made in the constructor, the threads started by serve()
  std::unique_ptr<notify::HttpClient> push_http_;
  std::unique_ptr<notify::WebhookService> webhooks_;
  std::unique_ptr<notify::EventHub> hub_;
  std::unique_ptr<notify::Dispatcher> dispatcher_;
  std::unique_ptr<reports::ScheduleService> schedules_;  // uses push_http_: declared after it
  std::unique_ptr<reports::ExchangeReceiver> exchange_;  // 数据上报 received from lower platforms
  std::unique_ptr<reports::UpstreamSync> upstream_sync_;  // 数据上报 sent up (--upstream)
  std::unique_ptr<BackupSchedule> backups_;  // [backup]: scheduled backups with retention
  reports::UpstreamOptions upstream_options() const;
  void start_push();
  void stop_push();
  // device messaging (--mqtt): after ingest_, so it is destroyed (stopped) before it
  std::unique_ptr<ingest::IngestSink> mqtt_sink_;
  std::unique_ptr<ingest::MqttSubscriber> mqtt_;
  Status start_mqtt();
  void stop_mqtt();
  // group-catering ledgers (src/operations)
  std::unique_ptr<operations::Ledgers> ledgers_;
  std::unique_ptr<operations::Operations> operations_;
  std::unique_ptr<operations::SensorHistory> sensors_;
  net::AddressPolicy webhook_policy() const;
  // GB/T 28181 (src/gb): before video_ (its sources are made by it), stopped after it
  std::unique_ptr<gb::GbService> gb_;
  void start_gb();
  // the media core (src/video): after ingest_ (it sends heartbeats), stopped first
  std::unique_ptr<video::VideoService> video_;
  void start_video();
  // the algorithm server's pipeline (src/vision): on the media core and ingest, stopped before video_
  std::unique_ptr<vision::VisionService> vision_;
  std::unique_ptr<vision::ModelRegistry> vision_models_;
  void start_vision(const std::string& node);
  // GB/T 28181 cascade to upper platforms (src/gb/cascade.*): on the media core, stopped before it
  std::unique_ptr<gb::CascadeService> cascade_;
};

// Seeds the demo city when the database has no jurisdictions yet. Idempotent.
void seed_demo(Platform& p);
// A week of alerts and their handling for the demo city (after seed_demo's users). Idempotent.
void seed_demo_alerts(Platform& p);

}  // namespace mingchu::app
