// The configuration of one `mingchu` process: defaults, then a TOML file (--config), then
// MINGCHU_* environment variables, then command-line flags — each later source wins.
// Loaded once by main and handed down; nothing reads configuration from anywhere else.
#pragma once

#include <string>

#include "auth/auth_service.hpp"
#include "core/result.hpp"

namespace mingchu::app {

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./data";
  std::string db_url;  // default: sqlite:<data_dir>/mingchu.db
  std::string config_file;
  std::string mqtt_url;
  std::string amqp_url;
  std::string web_root;  // default: ./web/dist when it exists
  std::string public_base_url = "http://127.0.0.1:8080";
  std::string log_level = "info";
  bool log_json = false;
  bool demo = false;
  bool manual_clock = false;
  int threads = 16;
  int db_pool = 16;
  int utc_offset_minutes = 480;
  int cert_expiring_days = 30;
  std::size_t max_upload_bytes = 10 * 1024 * 1024;
  auth::AuthConfig auth;
  // [alerts]: the taxonomy file and the supervision loop (src/alerts, src/ingest)
  std::string alerts_config_file;  // alerts.config_file (default: config/alerts.toml when present)
  bool scheduler = true;           // alerts.scheduler: run deadlines/cards/offline/certificates here
  int scheduler_tick_ms = 10000;   // alerts.scheduler_tick_ms
  int ingest_max_wait_us = 1500;   // alerts.ingest_max_wait_us: group-commit wait for more events
  int ingest_max_batch = 2000;     // alerts.ingest_max_batch: events per transaction

  std::string effective_db_url() const { return db_url.empty() ? "sqlite:" + data_dir + "/mingchu.db" : db_url; }
};

// Applies a TOML file to cfg. Unknown keys are refused so a typo does not silently do nothing.
Status apply_toml_file(Config& cfg, const std::string& path);
// Applies MINGCHU_LISTEN, MINGCHU_DATA, MINGCHU_DB, MINGCHU_LOG_LEVEL, MINGCHU_LOG_JSON,
// MINGCHU_MQTT, MINGCHU_AMQP, MINGCHU_WEB_ROOT, MINGCHU_PUBLIC_BASE_URL, MINGCHU_THREADS.
Status apply_env(Config& cfg);
// Splits "host:port"; refuses what is not one.
Result<std::pair<std::string, unsigned short>> split_listen(const std::string& listen);
bool is_loopback(const std::string& host);

}  // namespace mingchu::app
