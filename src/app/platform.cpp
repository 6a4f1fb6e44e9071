#include "app/platform.hpp"

#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "core/log.hpp"
#include "http/api.hpp"
#include "http/key_guard.hpp"
#include "http/security_headers.hpp"
#include "http/server.hpp"
#include "ingest/mqtt_subscriber.hpp"
#include "notify/amqp.hpp"
#include "notify/dispatcher.hpp"
#include "notify/event_hub.hpp"
#include "notify/http_client.hpp"
#include "notify/sms.hpp"
#include "notify/webhooks.hpp"
#include "notify/outbox.hpp"
#include "telemetry/telemetry.hpp"
#include "storage/migrations.hpp"
#include <algorithm>

#include "gb/cascade.hpp"
#include "gb/gb_service.hpp"
#include "video/video_service.hpp"
#include "vision/model_registry.hpp"
#include "vision/onnx_detector.hpp"
#include "vision/vision_service.hpp"

namespace mingchu::app {

namespace {

// Retention (config [retention]) as a job of the scheduler, under its lease, once a minute:
// at most 5 000 rows of each table per run, oldest first. Receipts are kept at least as long
// as an event can still be accepted (ingest::receipt_horizon), or a retry could count twice.
void add_retention_job(alerts::Scheduler& scheduler, const ingest::IngestConfig& ic, storage::Database& db,
                       int receipts_days, int delivered_days) {
  if (receipts_days > 0 && receipts_days * kDayMs < ingest::receipt_horizon(ic)) {
    log::warn("retention.receipts_days is shorter than the ingest window; receipts are kept for the window",
              {{"receipts_days", std::to_string(receipts_days)}});
  }
  auto last = std::make_shared<TimeMs>(0);  // shared: the job is copied into a std::function
  scheduler.add_job("retention", [=, &db](TimeMs now) -> std::int64_t {
    if (now - *last < kMinuteMs && now >= *last) return 0;
    *last = now;
    constexpr int kBatch = 5000;
    std::int64_t n = 0;
    if (receipts_days > 0) {
      n += ingest::purge_receipts(db, now - std::max(receipts_days * kDayMs, ingest::receipt_horizon(ic)), kBatch);
    }
    // readings: not here. Compaction (operations::SensorHistory) folds them into hourly
    // rollups and deletes them in one transaction, capped by retention.readings_days.
    if (delivered_days > 0) n += notify::purge_delivered(db, now - delivered_days * kDayMs, kBatch);
    return n;
  });
}

}  // namespace


Platform::Platform(const Config& cfg) : cfg_(cfg) {
  if (cfg_.manual_clock) {
    auto mc = std::make_unique<ManualClock>();
    manual_clock_ = mc.get();
    clock_ = std::move(mc);
  } else {
    clock_ = std::make_unique<SystemClock>();
  }
  std::filesystem::create_directories(cfg_.data_dir);
  db_ = storage::open_database(cfg_.effective_db_url(), cfg_.db_pool);
  auto applied = storage::migrate(*db_);
  for (int v : applied) log::info("migration applied", {{"version", std::to_string(v)}});
  auto cipher = crypto::FieldCipher::load_or_create(cfg_.data_dir + "/field.key");
  if (!cipher) throw std::runtime_error("cannot open the field encryption key: " + cipher.error().message);
  cipher_ = std::make_unique<crypto::FieldCipher>(std::move(*cipher));
  audit_ = std::make_unique<audit::AuditLog>(*clock_);
  auth_ = std::make_unique<auth::AuthService>(*db_, *clock_, *audit_, cfg_.auth);
  store_ = std::make_unique<files::FileStore>(std::filesystem::path(cfg_.data_dir) / "files", cfg_.max_upload_bytes);
  catalog_ = std::make_unique<files::FileCatalog>(*db_, *store_, *clock_, *audit_);
  registry::RegistryConfig rc;
  rc.cert_expiring_days = cfg_.cert_expiring_days;
  rc.utc_offset_minutes = cfg_.utc_offset_minutes;
  registry_ = std::make_unique<registry::Registry>(*db_, *clock_, *audit_, *cipher_, rc);
  disclosure::DisclosureConfig dc;
  dc.utc_offset_minutes = cfg_.utc_offset_minutes;
  disclosure_ = std::make_unique<disclosure::DisclosureService>(*db_, *clock_, *registry_, *cipher_, *audit_, dc);
  alerts::AlertsConfig ac = alerts::default_alerts_config();
  ac.utc_offset_minutes = cfg_.utc_offset_minutes;
  std::string alerts_file = cfg_.alerts_config_file;
  if (alerts_file.empty() && std::filesystem::exists("config/alerts.toml")) alerts_file = "config/alerts.toml";
  if (!alerts_file.empty()) {
    auto loaded = alerts::load_alerts_file(alerts_file, ac);
    if (!loaded) throw std::runtime_error(loaded.error().message);
    ac = std::move(*loaded);
    log::info("alert taxonomy loaded", {{"file", alerts_file}, {"types", std::to_string(ac.types.size())}});
  }
  alerts_ = std::make_unique<alerts::AlertService>(*db_, *clock_, *audit_, std::move(ac));
  operations::OperationsConfig oc;
  oc.utc_offset_minutes = cfg_.utc_offset_minutes;
  oc.price_jump_pct = cfg_.price_jump_pct;
  oc.acceptance_tolerance_pct = cfg_.acceptance_tolerance_pct;
  operations::LedgerConfig lc;
  lc.utc_offset_minutes = cfg_.utc_offset_minutes;
  ledgers_ = std::make_unique<operations::Ledgers>(*db_, *clock_, *audit_, &alerts_->config(), lc);
  operations_ = std::make_unique<operations::Operations>(*db_, *clock_, *audit_, oc, ledgers_.get());
  registry_->unit_paths().add_hook(alerts::rollup_path_hook(cfg_.utc_offset_minutes));
  ingest::IngestConfig ic;
  ic.max_wait = std::chrono::microseconds(cfg_.ingest_max_wait_us);
  ic.max_batch = static_cast<size_t>(cfg_.ingest_max_batch);
  ic.on_reading = [ops = operations_.get()](storage::Connection& c, const ingest::Reading& r) {
    ops->track_from_reading(c, r.device_id, r.at, r.metrics);
  };
  ingest_ = std::make_unique<ingest::IngestService>(*db_, *clock_, *audit_, *alerts_, *store_, metrics_, ic);
  devices_ = std::make_unique<registry::DeviceService>(*db_, *clock_, *audit_);
  operations::SensorConfig sensor_cfg;
  sensor_cfg.raw_days = cfg_.sensor_raw_days;
  sensor_cfg.rollup_days = cfg_.sensor_rollup_days;
  sensor_cfg.compact_interval_seconds = cfg_.sensor_compact_interval_seconds;
  sensor_cfg.retention_days = cfg_.retention_readings_days;  // readings: compaction is their one owner
  sensor_cfg.utc_offset_minutes = cfg_.utc_offset_minutes;
  sensor_cfg.node_id = cfg_.push.node_id.empty() ? "node" : cfg_.push.node_id;
  sensors_ = std::make_unique<operations::SensorHistory>(*db_, *clock_, *devices_, &alerts_->config(), sensor_cfg);
  stats_ = std::make_unique<stats::StatsService>(*db_, *clock_, alerts_->config());
  alerts::SchedulerConfig sc;
  sc.tick = std::chrono::milliseconds(cfg_.scheduler_tick_ms);
  sc.cert_expiring_days = cfg_.cert_expiring_days;
  scheduler_ = std::make_unique<alerts::Scheduler>(*db_, *alerts_, &metrics_, sc);
  add_retention_job(*scheduler_, ic, *db_, cfg_.retention_receipts_days, cfg_.retention_delivered_days);
  BackupScheduleOptions bo;
  bo.dir = cfg_.backup_dir;
  bo.every_hours = cfg_.backup_every_hours;
  bo.keep = cfg_.backup_keep;
  bo.backup.data_dir = cfg_.data_dir;
  bo.backup.db_url = cfg_.effective_db_url();
  bo.backup.passphrase_file = cfg_.backup_passphrase_file;
  alerts::Scheduler* lease_holder = scheduler_.get();
  backups_ = std::make_unique<BackupSchedule>(bo, *clock_, &metrics_,
                                              [lease_holder] { return lease_holder->claim_lease("backup"); });
  reports::ReportOptions ro;
  ro.public_base_url = cfg_.public_base_url;
  ro.utc_offset_minutes = cfg_.utc_offset_minutes;
  reports_ = std::make_unique<reports::ReportService>(*db_, *clock_, *alerts_, *registry_, *stats_, *catalog_, *audit_, ro);
  reports::ExportOptions eo;
  eo.max_concurrent = cfg_.reports.export_max_concurrent;
  exports_ = std::make_unique<reports::ExportService>(eo, &metrics_);
  push_http_ = notify::make_http_client();
  webhooks_ = std::make_unique<notify::WebhookService>(*db_, *clock_, *cipher_, *audit_, webhook_policy());
  reports::ScheduleOptions so;
  so.archive_dir = cfg_.data_dir + "/reports";
  so.node_id = cfg_.push.node_id;
  so.tick = std::chrono::milliseconds(cfg_.reports.schedule_tick_ms);
  so.max_attempts = cfg_.reports.delivery_max_attempts;
  so.backoff_base_ms = cfg_.reports.delivery_backoff_ms;
  so.smtp.host = cfg_.reports.smtp_host;
  so.smtp.port = cfg_.reports.smtp_port;
  so.smtp.from = cfg_.reports.smtp_from;
  so.utc_offset_minutes = cfg_.utc_offset_minutes;
  so.public_base_url = cfg_.public_base_url;
  so.verify_tls = cfg_.push.webhook_tls_verify;
  schedules_ = std::make_unique<reports::ScheduleService>(*db_, *clock_, *reports_, *cipher_, *push_http_, *audit_, so);
  exchange_ = std::make_unique<reports::ExchangeReceiver>(*db_, *clock_);
  if (!cfg_.reports.upstream_url.empty()) {
    if (cfg_.reports.upstream_key.empty()) throw std::runtime_error("--upstream needs --upstream-key");
    upstream_sync_ = std::make_unique<reports::UpstreamSync>(*db_, *clock_, *push_http_, *stats_, upstream_options());
  }
}

// The upper platform of 数据上报 and how this one names itself there (its first city, else its
// top node, unless exchange.source_name says otherwise).
reports::UpstreamOptions Platform::upstream_options() const {
  reports::UpstreamOptions uo;
  uo.url = cfg_.reports.upstream_url;
  uo.key = cfg_.reports.upstream_key;
  uo.sync_interval = std::chrono::milliseconds(cfg_.reports.upstream_sync_ms);
  uo.verify_tls = cfg_.push.webhook_tls_verify;
  uo.utc_offset_minutes = cfg_.utc_offset_minutes;
  uo.source_name = cfg_.reports.upstream_name;
  storage::Database* db = db_.get();
  uo.source_name_of = [db] {
    storage::Conn c = db->acquire();
    auto r = c->query("SELECT name FROM jurisdictions ORDER BY CASE level WHEN 'city' THEN 0 WHEN 'province' THEN 1 "
                      "ELSE 2 END, code LIMIT 1");
    return r.empty() ? std::string("mingchu") : r[0].text(0);
  };
  return uo;
}

net::AddressPolicy Platform::webhook_policy() const {
  return net::AddressPolicy{net::parse_networks(cfg_.webhook_allow_networks).value_or(std::vector<net::IpNetwork>{})};
}

Platform::~Platform() {
  if (cascade_) cascade_->stop();
  if (vision_) vision_->stop();
  if (video_) video_->stop();
  if (gb_) gb_->stop();
  stop_mqtt();
  stop_push();
}

// The media core: streams, recordings, clips. Recordings of several nodes over one database are
// split by video.shard; each node serves the streams it pulls.
void Platform::start_video() {
  if (!cfg_.video.enabled) return;
  const VideoSettings& vs = cfg_.video;
  video::VideoConfig vc;
  vc.data_dir = cfg_.data_dir;
  vc.node = cfg_.push.node_id;
  if (vc.node.empty()) {
    char host[64] = {0};
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "node");
    vc.node = host;
  }
  for (char& ch : vc.node) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') ch = '-';
  }
  vc.idle_stop = std::chrono::seconds(vs.idle_stop_seconds);
  vc.token_ttl = std::chrono::seconds(vs.token_ttl_seconds);
  vc.open_timeout = std::chrono::milliseconds(vs.open_timeout_ms);
  vc.max_transcodes = vs.max_transcodes;
  vc.max_streams = static_cast<size_t>(vs.max_streams);
  vc.max_playback_hours = vs.max_playback_hours;
  vc.max_clip_minutes = vs.max_clip_minutes;
  vc.clip_before = std::chrono::seconds(vs.clip_before_seconds);
  vc.clip_after = std::chrono::seconds(vs.clip_after_seconds);
  vc.clip_keep_days = vs.clip_keep_days;
  vc.file_span = std::chrono::seconds(vs.file_seconds);
  vc.quota_bytes = static_cast<std::uint64_t>(vs.quota_gb) << 30;
  vc.min_free_bytes = static_cast<std::uint64_t>(vs.min_free_mb) << 20;
  std::sscanf(vs.shard.c_str(), "%d/%d", &vc.shard_index, &vc.shard_count);
  video::Stream::SourceFactory factory;
  if (gb_) {
    gb::GbService* g = gb_.get();
    factory = [g](const video::RtspOptions& o) -> std::unique_ptr<video::Source> {
      if (auto s = g->make_source(o.url, o.io_timeout)) return s;
      return video::make_rtsp_source(o);
    };
  }
  video_ = std::make_unique<video::VideoService>(*db_, *clock_, *audit_, ingest_.get(), metrics_, vc, factory);
  video_->start();
  start_vision(vc.node);
}

// The algorithm server in this process: frames from the media core, events through ingest.
void Platform::start_vision(const std::string& node) {
  if (!cfg_.vision.enabled || !video_) return;
  const VisionSettings& s = cfg_.vision;
  vision::VisionConfig vc;
  vc.enabled = true;
  vc.model_dir = s.model_dir;
  vc.workers = s.workers;
  vc.dnn_threads = s.dnn_threads;
  vc.budget_ms = s.budget_ms;
  vc.max_width = s.max_width;
  vc.fault_delay_ms = s.fault_delay_ms;
  vc.utc_offset_minutes = cfg_.utc_offset_minutes;
  vision_ = std::make_unique<vision::VisionService>(*clock_, metrics_, vc,
                                                    vision::make_video_feed(*db_, *video_, vc.max_width),
                                                    vision::make_ingest_sink(*ingest_, node),
                                                    [this](const std::string& id) -> Result<std::unique_ptr<vision::Detector>> {
                                                      if (!vision_models_) return Error::unavailable("models not ready");
                                                      return vision::load_registered_model(*vision_models_, id);
                                                    });
  vision_->start();
}

// GB/T 28181 device access, when gb28181.listen (--sip-listen) is set.
void Platform::start_gb() {
  const GbSettings& gs = cfg_.gb;
  if (gs.listen.empty()) return;
  auto digits = [](const std::string& s, size_t n) {
    return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(gs.sip_id, 20)) throw std::runtime_error("gb28181.sip_id (--sip-id) must be 20 digits");
  if (!digits(gs.domain, 10)) throw std::runtime_error("gb28181.domain (--sip-domain) must be 10 digits");
  if (gs.media_transport != "udp" && gs.media_transport != "tcp" && gs.media_transport != "auto" &&
      gs.media_transport != "tcp_active") {
    throw std::runtime_error("gb28181.media_transport must be auto, udp, tcp or tcp_active");
  }
  gb::GbConfig gc;
  gc.listen = gs.listen;
  gc.sip_id = gs.sip_id;
  gc.domain = gs.domain;
  gc.password = gs.password;
  gc.device_passwords = gs.device_passwords;
  gc.media_host = gs.media_host;
  gc.media_transport = gs.media_transport;
  gc.keepalive_seconds = gs.keepalive_seconds;
  gc.keepalive_misses = gs.keepalive_misses;
  gc.register_expires_max = gs.register_expires_max;
  gc.invite_timeout = std::chrono::milliseconds(gs.invite_timeout_ms);
  gc.device_media = gs.device_media;
  gc.playback_max_hours = gs.playback_max_hours;
  gc.record_timeout = std::chrono::milliseconds(gs.record_timeout_ms);
  gc.node = cfg_.push.node_id.empty() ? "node" : cfg_.push.node_id;
  gc.utc_offset_minutes = cfg_.utc_offset_minutes;
  gb_ = std::make_unique<gb::GbService>(*db_, *clock_, *audit_, *alerts_, ingest_.get(), metrics_, gc);
  gb_->start();
}

// The outbox dispatcher (webhooks always; AMQP with --amqp; SMS with notify.sms.url) and the
// SSE hub. Every node runs both: deliveries are claimed with leases, the hub reads the shared
// outbox.
void Platform::start_push() {
  const PushConfig& pc = cfg_.push;
  notify::HubOptions ho;
  ho.poll = std::chrono::milliseconds(pc.sse_poll_ms);
  ho.window_ms = pc.sse_window_seconds * kSecondMs;
  ho.queue = static_cast<size_t>(pc.sse_queue);
  ho.max_subscribers = static_cast<size_t>(pc.sse_max_streams);
  hub_ = std::make_unique<notify::EventHub>(*db_, *clock_, metrics_, ho);
  hub_->start();
  if (!pc.dispatcher) {
    log::info("dispatcher disabled on this node (notify.dispatcher = false)");
    return;
  }
  std::vector<std::unique_ptr<notify::Channel>> channels;
  notify::WebhookChannelOptions wo;
  wo.timeout = std::chrono::seconds(pc.webhook_timeout_seconds);
  wo.verify_tls = pc.webhook_tls_verify;
  wo.policy = webhook_policy();
  wo.parallelism = pc.webhook_parallel;
  channels.push_back(std::make_unique<notify::WebhookChannel>(*db_, *clock_, *cipher_, *push_http_, wo));
  if (!cfg_.amqp_url.empty()) {
    notify::AmqpOptions ao;
    ao.url = cfg_.amqp_url;
    ao.exchange = pc.amqp_exchange;
    ao.confirm_timeout = std::chrono::seconds(pc.amqp_confirm_timeout_seconds);
    ao.cacert = pc.amqp_cacert;
    auto amqp = std::make_unique<notify::AmqpChannel>(ao, metrics_);
    if (auto st = amqp->connect(); !st) {
      log::warn("AMQP broker not reachable yet; events wait in the outbox", {{"error", st.error().message}});
    }
    channels.push_back(std::move(amqp));
  }
  if (!cfg_.reports.upstream_url.empty()) {
    channels.push_back(std::make_unique<reports::UpstreamChannel>(*push_http_, *clock_, upstream_options()));
    log::info("reporting to the upper platform", {{"upstream", cfg_.reports.upstream_url}});
  }
  if (!pc.sms_url.empty()) {
    notify::SmsOptions so;
    so.url = pc.sms_url;
    if (!pc.sms_template.empty()) so.body_template = pc.sms_template;
    if (!pc.sms_content_type.empty()) so.content_type = pc.sms_content_type;
    so.unit_phone = pc.sms_unit_phone;
    so.duty_phones = pc.sms_duty;
    so.timeout = std::chrono::seconds(pc.webhook_timeout_seconds);
    so.verify_tls = pc.webhook_tls_verify;
    channels.push_back(std::make_unique<notify::SmsChannel>(*db_, *push_http_, so));
  }
  notify::DispatcherOptions dopt;
  dopt.node_id = pc.node_id;
  dopt.poll = std::chrono::milliseconds(pc.poll_ms);
  dopt.lease_ms = pc.lease_seconds * kSecondMs;
  dopt.retry.base_ms = pc.backoff_base_ms;
  dopt.retry.cap_ms = pc.backoff_cap_seconds * kSecondMs;
  dopt.retry.max_attempts = pc.max_attempts;
  dispatcher_ = std::make_unique<notify::Dispatcher>(*db_, *clock_, metrics_, dopt, std::move(channels));
  dispatcher_->start();
}

// The MQTT subscriber (--mqtt): a fixed client id per node and a persistent session, so the
// broker keeps QoS 1 events while this node is away.
Status Platform::start_mqtt() {
  if (cfg_.mqtt_url.empty()) return ok_status();
  ingest::MqttOptions mo;
  mo.url = cfg_.mqtt_url;
  mo.client_id = cfg_.push.mqtt_client_id;
  if (mo.client_id.empty()) {
    char host[64] = {0};
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "node");
    mo.client_id = "mingchu-" + std::string(host);
  }
  mo.username = cfg_.push.mqtt_username;
  mo.password = cfg_.push.mqtt_password;
  mo.keepalive_seconds = cfg_.push.mqtt_keepalive_seconds;
  mo.shared_group = cfg_.push.mqtt_shared_group;
  mqtt_sink_ = std::make_unique<ingest::IngestSink>(*ingest_);
  mqtt_ = std::make_unique<ingest::MqttSubscriber>(mo, *mqtt_sink_, metrics_);
  auto st = mqtt_->start();
  if (st) log::info("MQTT subscriber started", {{"broker", cfg_.mqtt_url}, {"client_id", mo.client_id}});
  return st;
}

void Platform::stop_mqtt() {
  if (mqtt_) mqtt_->stop();
}

void Platform::stop_push() {
  if (dispatcher_) dispatcher_->stop();
  if (hub_) hub_->stop();
}

int Platform::serve() {
  auto hp = split_listen(cfg_.listen);
  if (!hp) {
    log::error("invalid --listen", {{"error", hp.error().message}});
    return 2;
  }
  if (cfg_.manual_clock && !is_loopback(hp->first)) {
    log::error("--manual-clock refuses to listen on anything but loopback", {{"listen", cfg_.listen}});
    return 2;
  }
  if (auto why = cfg_.public_frame_ancestors.empty() ? std::nullopt
                                                     : http::frame_ancestors_problem(cfg_.public_frame_ancestors)) {
    log::error("invalid public_frame_ancestors", {{"error", *why}});
    return 2;
  }
  http::ApiContext ctx;
  ctx.options.manual_clock = cfg_.manual_clock;
  ctx.options.web_root = cfg_.web_root;
  if (ctx.options.web_root.empty() && std::filesystem::exists("web/dist/index.html")) ctx.options.web_root = "web/dist";
  ctx.options.public_base_url = cfg_.public_base_url;
  ctx.options.max_upload_bytes = cfg_.max_upload_bytes;
  ctx.options.utc_offset_minutes = cfg_.utc_offset_minutes;
  ctx.clock = clock_.get();
  ctx.manual_clock = manual_clock_;
  ctx.metrics = &metrics_;
  ctx.db = db_.get();
  ctx.audit = audit_.get();
  ctx.auth = auth_.get();
  ctx.registry = registry_.get();
  ctx.files = catalog_.get();
  ctx.disclosure = disclosure_.get();
  ctx.options.map_tile_url = cfg_.map_tile_url;
  ctx.options.map_attribution = cfg_.map_attribution;
  ctx.options.public_frame_ancestors = cfg_.public_frame_ancestors;
  ctx.options.metrics_token = cfg_.metrics_token;
  ctx.options.metrics_public = cfg_.metrics_public;
  ctx.alerts = alerts_.get();
  ctx.scheduler = scheduler_.get();
  ctx.ingest = ingest_.get();
  ctx.devices = devices_.get();
  ctx.stats = stats_.get();
  ctx.webhooks = webhooks_.get();
  ctx.operations = operations_.get();
  ctx.sensors = sensors_.get();
  ctx.ledgers = ledgers_.get();
  ctx.reports = reports_.get();
  ctx.exports = exports_.get();
  ctx.schedules = schedules_.get();
  ctx.exchange = exchange_.get();
  http::KeyGuard key_guard(*clock_, *db_, *audit_,
                           http::KeyGuardOptions{static_cast<double>(cfg_.reports.key_rate_per_second),
                                                 static_cast<double>(cfg_.reports.key_burst)});
  ctx.key_guard = &key_guard;

  http::Router router;
  http::add_system_routes(router, ctx);
  http::add_auth_routes(router, ctx);
  http::add_registry_routes(router, ctx);
  http::add_file_routes(router, ctx);
  http::add_push_routes(router, ctx);
  http::add_alert_routes(router, ctx);
  http::add_ingest_routes(router, ctx);
  http::add_stats_routes(router, ctx);
  http::add_public_routes(router, ctx);
  http::add_operations_routes(router, ctx);
  try {
    start_gb();
  } catch (const std::exception& e) {
    log::error("cannot start GB/T 28181", {{"listen", cfg_.gb.listen}, {"error", e.what()}});
    return 1;
  }
  ctx.gb = gb_.get();
  http::add_gb_routes(router, ctx);
  start_video();
  ctx.video = video_.get();
  http::add_video_routes(router, ctx);
  {
    gb::CascadeConfig cc;
    cc.utc_offset_minutes = cfg_.utc_offset_minutes;
    cascade_ = std::make_unique<gb::CascadeService>(*db_, *clock_, *audit_, *cipher_, video_.get(), metrics_, cc);
  }
  ctx.cascade = cascade_.get();
  http::add_cascade_routes(router, ctx);
  ctx.vision = vision_.get();
  {
    const alerts::AlertsConfig* taxonomy = &alerts_->config();
    vision_models_ = std::make_unique<vision::ModelRegistry>(
        *db_, *clock_, std::filesystem::path(cfg_.data_dir) / "models",
        [taxonomy](const std::string& code) { return taxonomy->find_type(code) != nullptr; });
  }
  ctx.vision_models = vision_models_.get();
  http::add_vision_routes(router, ctx);
  http::add_report_routes(router, ctx);
  ctx.router = &router;
  http::add_static_routes(router, ctx);
  http::add_denial_audit(router, ctx);

  http::ServerOptions so;
  so.host = hp->first == "localhost" ? "127.0.0.1" : hp->first;
  so.port = hp->second;
  so.threads = cfg_.threads;
  so.trusted_proxies = net::parse_networks(cfg_.trusted_proxies).value_or(std::vector<net::IpNetwork>{});
  http::Server server(so, router, metrics_);
  unsigned short port;
  try {
    port = server.bind();
  } catch (const std::exception& e) {
    log::error("cannot listen", {{"listen", cfg_.listen}, {"error", e.what()}});
    return 1;
  }
  log::info("serving", {{"listen", so.host + ":" + std::to_string(port)}, {"db", db_->describe()},
                        {"data", cfg_.data_dir}, {"web_root", ctx.options.web_root},
                        {"manual_clock", cfg_.manual_clock ? "on" : "off"}});
  std::signal(SIGPIPE, SIG_IGN);  // a peer that hangs up must not end the process
  start_push();
  ctx.hub = hub_.get();
  if (auto st = start_mqtt(); !st) {
    log::error("cannot start the MQTT subscriber", {{"error", st.error().message}});
    stop_push();
    return 2;
  }
  if (cfg_.scheduler) scheduler_->start();
  if (cfg_.reports.scheduler) schedules_->start();
  if (upstream_sync_) upstream_sync_->start();
  cascade_->start();
  sensors_->start();
  backups_->start();
  ingest_->set_delivery([&server](std::function<void()> task) { server.post(std::move(task)); });
  server.run();
  exports_->wait_idle(std::chrono::seconds(10));  // their producers use ctx and the services
  backups_->stop();
  schedules_->stop();
  if (upstream_sync_) upstream_sync_->stop();
  ingest_->set_delivery(nullptr);  // the server's threads are gone: answer on the writer (post() would too)
  cascade_->stop();  // unregisters from the upper platforms; its senders read the media core
  if (vision_) vision_->stop();  // its workers read from the media core and write to ingest
  if (video_) video_->stop();  // closes the recordings' open files, indexed before the database closes
  if (gb_) gb_->stop();        // after the streams (their sources sent BYE)
  stop_mqtt();  // acknowledges what is committed; the broker keeps the rest for the next start
  scheduler_->stop();
  sensors_->stop();
  ingest_->stop();  // commits what is queued before the database closes
  stop_push();
  log::info("stopped; closing the database");
  return 0;
}

}  // namespace mingchu::app
