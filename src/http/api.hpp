// What the HTTP handlers are given: the domain services, made and owned by the composition
// root (app), which outlives the server. Handlers are thin: parse, authorize, call a
// domain function, format.
#pragma once

#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "http/router.hpp"

namespace mingchu::storage {
class Database;
}
namespace mingchu::audit {
class AuditLog;
}
namespace mingchu::auth {
class AuthService;
}
namespace mingchu::registry {
class Registry;
class DeviceService;
}
namespace mingchu::files {
class FileCatalog;
}
namespace mingchu::disclosure {
class DisclosureService;
}
namespace mingchu::alerts {
class AlertService;
class Scheduler;
}
namespace mingchu::ingest {
class IngestService;
}
namespace mingchu::stats {
class StatsService;
}
namespace mingchu::notify {
class WebhookService;
class EventHub;
}
namespace mingchu::operations {
class Operations;
class Ledgers;
class SensorHistory;
}
namespace mingchu::video {
class VideoService;
}
namespace mingchu::vision {
class VisionService;
class ModelRegistry;
}  // namespace mingchu::vision
namespace mingchu::gb {
class GbService;
class CascadeService;
}

namespace mingchu::reports {
class ReportService;
class ExportService;
class ScheduleService;
class ExchangeReceiver;
}

namespace mingchu::http {

class KeyGuard;

struct ApiOptions {
  bool manual_clock = false;    // POST /api/v1/admin/clock exists only then
  std::string web_root;         // built web UI (web/dist); empty = none
  std::string public_base_url;  // for QR codes, e.g. "https://mingchu.example.gov.cn"
  size_t max_upload_bytes = 10 * 1024 * 1024;
  int utc_offset_minutes = 480;
  std::string map_tile_url;     // Tianditu/AMap template for the console map; empty = plain background
  std::string map_attribution;
  std::string public_frame_ancestors;  // CSP sources that may embed /public/units/*; empty = none
  std::string metrics_token;    // /metrics also to "Authorization: Bearer <metrics_token>"
  bool metrics_public = false;  // /metrics to anyone; otherwise loopback clients or the token
};

struct ApiContext {
  ApiOptions options;
  Clock* clock = nullptr;
  ManualClock* manual_clock = nullptr;  // set only with --manual-clock
  Metrics* metrics = nullptr;
  storage::Database* db = nullptr;
  audit::AuditLog* audit = nullptr;
  auth::AuthService* auth = nullptr;
  registry::Registry* registry = nullptr;
  files::FileCatalog* files = nullptr;
  disclosure::DisclosureService* disclosure = nullptr;
  notify::WebhookService* webhooks = nullptr;  // webhooks and the delivery log
  notify::EventHub* hub = nullptr;              // live SSE stream
  alerts::AlertService* alerts = nullptr;       // alert lifecycle, inbox, labels
  alerts::Scheduler* scheduler = nullptr;       // deadlines, cards, offline, certificates
  ingest::IngestService* ingest = nullptr;      // group-commit ingest of events
  registry::DeviceService* devices = nullptr;   // IoT devices
  stats::StatsService* stats = nullptr;         // dashboard aggregations
  operations::Operations* operations = nullptr;  // group-catering ledgers and traceability
  operations::Ledgers* ledgers = nullptr;        // process, after-meal, people, equipment, self-inspection
  operations::SensorHistory* sensors = nullptr;   // sensor history charts and retention
  video::VideoService* video = nullptr;         // live, recordings, clips (nullptr: video off)
  reports::ReportService* reports = nullptr;    // PDFs and document templates
  reports::ExportService* exports = nullptr;    // streamed CSV/XLSX exports
  reports::ScheduleService* schedules = nullptr;  // scheduled reports and their archive
  reports::ExchangeReceiver* exchange = nullptr;  // 数据上报 from lower platforms
  const Router* router = nullptr;               // the routes themselves (exports call the lists)
  KeyGuard* key_guard = nullptr;                // rate limit and audit of API-key calls
  vision::VisionService* vision = nullptr;      // the algorithm server's pipeline (nullptr: off)
  vision::ModelRegistry* vision_models = nullptr;  // uploaded custom models
  gb::GbService* gb = nullptr;                  // GB/T 28181 devices (nullptr: not enabled)
  gb::CascadeService* cascade = nullptr;        // GB/T 28181 cascade to upper platforms
};

void add_system_routes(Router& r, ApiContext& ctx);    // /healthz, /metrics, openapi, admin clock
void add_auth_routes(Router& r, ApiContext& ctx);      // auth, me, users, api keys, audit
void add_registry_routes(Router& r, ApiContext& ctx);  // jurisdictions, units, cameras, staff, certs
void add_file_routes(Router& r, ApiContext& ctx);      // uploads and downloads
void add_push_routes(Router& r, ApiContext& ctx);      // webhooks, deliveries, SSE stream
void add_alert_routes(Router& r, ApiContext& ctx);     // alerts, alert types, notifications, labels
void add_ingest_routes(Router& r, ApiContext& ctx);    // ingest of events, heartbeats, readings; devices
void add_stats_routes(Router& r, ApiContext& ctx);     // statistics overview
void add_public_routes(Router& r, ApiContext& ctx);    // QR disclosure page, complaints, UI config
void add_video_routes(Router& r, ApiContext& ctx);     // live, snapshots, recordings, clips, /media/...
void add_report_routes(Router& r, ApiContext& ctx);    // PDFs, templates, exports, schedules
void add_vision_routes(Router& r, ApiContext& ctx);    // models, per-camera AI settings, pipeline status
void add_gb_routes(Router& r, ApiContext& ctx);        // GB/T 28181 devices, binding, PTZ
void add_static_routes(Router& r, ApiContext& ctx);    // the web UI (registered last)
void add_cascade_routes(Router& r, ApiContext& ctx);   // GB/T 28181 upper platforms (admins)
void add_operations_routes(Router& r, ApiContext& ctx);  // ledgers, traceability (before static)
// The OpenAPI summary of an operations route, if it is one.
std::optional<std::string> operations_route_summary(const std::string& method, const std::string& pattern);
void add_denial_audit(Router& r, ApiContext& ctx);     // audit of refused requests (after all routes)
// The evidence clips pinned to an alert (GET /api/v1/alerts/{id}); empty when video is off.
json::array alert_clips_json(ApiContext& ctx, const std::string& alert_id);

}  // namespace mingchu::http
