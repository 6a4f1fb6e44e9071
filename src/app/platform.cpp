#include "app/platform.hpp"

#include <filesystem>

#include "core/log.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "storage/migrations.hpp"

namespace mingchu::app {

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
  ingest::IngestConfig ic;
  ic.max_wait = std::chrono::microseconds(cfg_.ingest_max_wait_us);
  ic.max_batch = static_cast<size_t>(cfg_.ingest_max_batch);
  ingest_ = std::make_unique<ingest::IngestService>(*db_, *clock_, *audit_, *alerts_, *store_, metrics_, ic);
  devices_ = std::make_unique<ingest::DeviceService>(*db_, *clock_, *audit_);
  stats_ = std::make_unique<stats::StatsService>(*db_, *clock_, alerts_->config());
  alerts::SchedulerConfig sc;
  sc.tick = std::chrono::milliseconds(cfg_.scheduler_tick_ms);
  sc.cert_expiring_days = cfg_.cert_expiring_days;
  scheduler_ = std::make_unique<alerts::Scheduler>(*db_, *alerts_, &metrics_, sc);
}

Platform::~Platform() = default;

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
  ctx.alerts = alerts_.get();
  ctx.scheduler = scheduler_.get();
  ctx.ingest = ingest_.get();
  ctx.devices = devices_.get();
  ctx.stats = stats_.get();

  http::Router router;
  http::add_system_routes(router, ctx);
  http::add_auth_routes(router, ctx);
  http::add_registry_routes(router, ctx);
  http::add_file_routes(router, ctx);
  http::add_alert_routes(router, ctx);
  http::add_ingest_routes(router, ctx);
  http::add_stats_routes(router, ctx);
  http::add_static_routes(router, ctx);

  http::ServerOptions so;
  so.host = hp->first == "localhost" ? "127.0.0.1" : hp->first;
  so.port = hp->second;
  so.threads = cfg_.threads;
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
  if (cfg_.scheduler) scheduler_->start();
  server.run();
  scheduler_->stop();
  ingest_->stop();  // commits what is queued before the database closes
  log::info("stopped; closing the database");
  return 0;
}

}  // namespace mingchu::app
