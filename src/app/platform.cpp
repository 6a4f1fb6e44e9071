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

  http::Router router;
  http::add_system_routes(router, ctx);
  http::add_auth_routes(router, ctx);
  http::add_registry_routes(router, ctx);
  http::add_file_routes(router, ctx);
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
  server.run();
  log::info("stopped; closing the database");
  return 0;
}

}  // namespace mingchu::app
