#include "app/config.hpp"

#include <cstdlib>
#include <cstdio>
#include <set>
#include <toml++/toml.h>

#include "core/net.hpp"

namespace mingchu::app {
namespace {

Status bad(const std::string& key, const std::string& why) {
  return Error::invalid(key, "invalid_config", "config '" + key + "': " + why);
}

}  // namespace

Status apply_toml_file(Config& cfg, const std::string& path) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Error::invalid("config", "invalid_config", "cannot parse " + path + ": " + std::string(e.description()));
  }
  Status st = ok_status();
  auto str = [&](const toml::node_view<toml::node>& n, const std::string& key, std::string& out) {
    if (!n) return;
    if (auto v = n.value<std::string>()) out = *v;
    else if (st) st = bad(key, "must be a string");
  };
  auto num = [&](const toml::node_view<toml::node>& n, const std::string& key, int& out, int lo, int hi) {
    if (!n) return;
    auto v = n.value<int64_t>();
    if (!v || *v < lo || *v > hi) {
      if (st) st = bad(key, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
      return;
    }
    out = static_cast<int>(*v);
  };
  auto flag = [&](const toml::node_view<toml::node>& n, const std::string& key, bool& out) {
    if (!n) return;
    if (auto v = n.value<bool>()) out = *v;
    else if (st) st = bad(key, "must be true or false");
  };
  static const std::set<std::string> kTop = {"server", "storage", "log",      "auth",   "registry",
                                             "mqtt",   "amqp",    "alerts",   "notify", "map",
                                             "video",  "reports", "exchange", "api",    "operations",
                                             "retention", "backup", "vision",
                                             "gb28181"};
  for (const auto& [k, v] : t) {
    if (!kTop.contains(std::string(k.str()))) return bad(std::string(k.str()), "unknown section");
  }
  str(t["server"]["listen"], "server.listen", cfg.listen);
  str(t["server"]["web_root"], "server.web_root", cfg.web_root);
  str(t["server"]["public_base_url"], "server.public_base_url", cfg.public_base_url);
  str(t["server"]["public_frame_ancestors"], "server.public_frame_ancestors", cfg.public_frame_ancestors);
  num(t["server"]["threads"], "server.threads", cfg.threads, 1, 256);
  num(t["server"]["utc_offset_minutes"], "server.utc_offset_minutes", cfg.utc_offset_minutes, -720, 840);
  int upload_mb = static_cast<int>(cfg.max_upload_bytes / (1024 * 1024));
  num(t["server"]["max_upload_mb"], "server.max_upload_mb", upload_mb, 1, 100);
  cfg.max_upload_bytes = static_cast<std::size_t>(upload_mb) * 1024 * 1024;
  str(t["map"]["tile_url"], "map.tile_url", cfg.map_tile_url);
  str(t["map"]["attribution"], "map.attribution", cfg.map_attribution);
  str(t["storage"]["data_dir"], "storage.data_dir", cfg.data_dir);
  str(t["storage"]["db"], "storage.db", cfg.db_url);
  num(t["storage"]["pool"], "storage.pool", cfg.db_pool, 1, 256);
  str(t["log"]["level"], "log.level", cfg.log_level);
  flag(t["log"]["json"], "log.json", cfg.log_json);
  str(t["mqtt"]["url"], "mqtt.url", cfg.mqtt_url);
  str(t["amqp"]["url"], "amqp.url", cfg.amqp_url);
  num(t["auth"]["password_min_length"], "auth.password_min_length", cfg.auth.password_min_length, 8, 64);
  num(t["auth"]["password_max_age_days"], "auth.password_max_age_days", cfg.auth.password_max_age_days, 0, 3650);
  num(t["auth"]["lockout_threshold"], "auth.lockout_threshold", cfg.auth.lockout_threshold, 1, 100);
  num(t["auth"]["lockout_minutes"], "auth.lockout_minutes", cfg.auth.lockout_minutes, 1, 24 * 60);
  num(t["auth"]["source_lockout_threshold"], "auth.source_lockout_threshold", cfg.auth.source_lockout_threshold, 5,
      10000);
  num(t["auth"]["session_idle_minutes"], "auth.session_idle_minutes", cfg.auth.session_idle_minutes, 1, 24 * 60);
  num(t["auth"]["session_max_hours"], "auth.session_max_hours", cfg.auth.session_max_hours, 1, 24 * 30);
  num(t["auth"]["max_sessions_per_user"], "auth.max_sessions_per_user", cfg.auth.max_sessions_per_user, 1, 100);
  num(t["registry"]["cert_expiring_days"], "registry.cert_expiring_days", cfg.cert_expiring_days, 1, 365);
  num(t["operations"]["sensor_raw_days"], "operations.sensor_raw_days", cfg.sensor_raw_days, 1, 3650);
  num(t["operations"]["sensor_rollup_days"], "operations.sensor_rollup_days", cfg.sensor_rollup_days, 1, 36500);
  num(t["operations"]["sensor_compact_interval_seconds"], "operations.sensor_compact_interval_seconds",
      cfg.sensor_compact_interval_seconds, 0, 86400);
  num(t["operations"]["price_jump_pct"], "operations.price_jump_pct", cfg.price_jump_pct, 1, 1000);
  num(t["operations"]["acceptance_tolerance_pct"], "operations.acceptance_tolerance_pct", cfg.acceptance_tolerance_pct,
      0, 100);
  if (const toml::table* at = t["alerts"].as_table()) {
    static const std::set<std::string> kAlertKeys = {"config_file", "scheduler", "scheduler_tick_ms",
                                                     "ingest_max_wait_us", "ingest_max_batch"};
    for (const auto& [k, v] : *at) {
      if (!kAlertKeys.contains(std::string(k.str())) && st) st = bad("alerts." + std::string(k.str()), "unknown key");
    }
  }
  str(t["alerts"]["config_file"], "alerts.config_file", cfg.alerts_config_file);
  flag(t["alerts"]["scheduler"], "alerts.scheduler", cfg.scheduler);
  num(t["alerts"]["scheduler_tick_ms"], "alerts.scheduler_tick_ms", cfg.scheduler_tick_ms, 50, 3'600'000);
  num(t["alerts"]["ingest_max_wait_us"], "alerts.ingest_max_wait_us", cfg.ingest_max_wait_us, 0, 100'000);
  num(t["alerts"]["ingest_max_batch"], "alerts.ingest_max_batch", cfg.ingest_max_batch, 1, 10'000);
  PushConfig& pc = cfg.push;
  flag(t["notify"]["dispatcher"], "notify.dispatcher", pc.dispatcher);
  str(t["notify"]["node_id"], "notify.node_id", pc.node_id);
  num(t["notify"]["poll_ms"], "notify.poll_ms", pc.poll_ms, 10, 60'000);
  num(t["notify"]["lease_seconds"], "notify.lease_seconds", pc.lease_seconds, 5, 3600);
  num(t["notify"]["max_attempts"], "notify.max_attempts", pc.max_attempts, 1, 100);
  num(t["notify"]["backoff_base_ms"], "notify.backoff_base_ms", pc.backoff_base_ms, 10, 3'600'000);
  num(t["notify"]["backoff_cap_seconds"], "notify.backoff_cap_seconds", pc.backoff_cap_seconds, 1, 86'400);
  num(t["notify"]["webhook_timeout_seconds"], "notify.webhook_timeout_seconds", pc.webhook_timeout_seconds, 1, 120);
  num(t["notify"]["webhook_parallel"], "notify.webhook_parallel", pc.webhook_parallel, 1, 64);
  flag(t["notify"]["webhook_tls_verify"], "notify.webhook_tls_verify", pc.webhook_tls_verify);
  num(t["notify"]["sse_poll_ms"], "notify.sse_poll_ms", pc.sse_poll_ms, 10, 60'000);
  num(t["notify"]["sse_window_seconds"], "notify.sse_window_seconds", pc.sse_window_seconds, 1, 3600);
  num(t["notify"]["sse_queue"], "notify.sse_queue", pc.sse_queue, 1, 100'000);
  num(t["notify"]["sse_max_streams"], "notify.sse_max_streams", pc.sse_max_streams, 1, 1'000'000);
  str(t["notify"]["sms"]["url"], "notify.sms.url", pc.sms_url);
  str(t["notify"]["sms"]["template"], "notify.sms.template", pc.sms_template);
  str(t["notify"]["sms"]["content_type"], "notify.sms.content_type", pc.sms_content_type);
  flag(t["notify"]["sms"]["unit_phone"], "notify.sms.unit_phone", pc.sms_unit_phone);
  if (auto duty = t["notify"]["sms"]["duty"]; duty) {
    if (auto* tbl = duty.as_table()) {
      for (const auto& [code, phone] : *tbl) {
        if (auto v = phone.value<std::string>()) {
          pc.sms_duty[std::string(code.str())] = *v;
        } else if (st) {
          st = bad("notify.sms.duty." + std::string(code.str()), "must be a phone number string");
        }
      }
    } else if (st) {
      st = bad("notify.sms.duty", "must be a table of jurisdiction code = phone");
    }
  }
  str(t["amqp"]["exchange"], "amqp.exchange", pc.amqp_exchange);
  num(t["amqp"]["confirm_timeout_seconds"], "amqp.confirm_timeout_seconds", pc.amqp_confirm_timeout_seconds, 1, 300);
  str(t["amqp"]["cacert"], "amqp.cacert", pc.amqp_cacert);
  str(t["mqtt"]["client_id"], "mqtt.client_id", pc.mqtt_client_id);
  num(t["mqtt"]["keepalive_seconds"], "mqtt.keepalive_seconds", pc.mqtt_keepalive_seconds, 5, 3600);
  str(t["mqtt"]["username"], "mqtt.username", pc.mqtt_username);
  str(t["mqtt"]["password"], "mqtt.password", pc.mqtt_password);
  str(t["mqtt"]["shared_group"], "mqtt.shared_group", pc.mqtt_shared_group);
  GbSettings& gs = cfg.gb;
  str(t["gb28181"]["listen"], "gb28181.listen", gs.listen);
  str(t["gb28181"]["sip_id"], "gb28181.sip_id", gs.sip_id);
  str(t["gb28181"]["domain"], "gb28181.domain", gs.domain);
  str(t["gb28181"]["password"], "gb28181.password", gs.password);
  str(t["gb28181"]["media_host"], "gb28181.media_host", gs.media_host);
  str(t["gb28181"]["media_transport"], "gb28181.media_transport", gs.media_transport);
  num(t["gb28181"]["keepalive_seconds"], "gb28181.keepalive_seconds", gs.keepalive_seconds, 1, 3600);
  num(t["gb28181"]["keepalive_misses"], "gb28181.keepalive_misses", gs.keepalive_misses, 1, 100);
  num(t["gb28181"]["register_expires_max"], "gb28181.register_expires_max", gs.register_expires_max, 60, 86'400);
  num(t["gb28181"]["invite_timeout_ms"], "gb28181.invite_timeout_ms", gs.invite_timeout_ms, 500, 60'000);
  if (auto pw = t["gb28181"]["passwords"]; pw) {
    if (auto* tbl = pw.as_table()) {
      for (const auto& [dev, v] : *tbl) {
        if (auto s = v.value<std::string>()) gs.device_passwords[std::string(dev.str())] = *s;
        else if (st) st = bad("gb28181.passwords." + std::string(dev.str()), "must be a string");
      }
    } else if (st) {
      st = bad("gb28181.passwords", "must be a table of device id = password");
    }
  }
  num(t["gb28181"]["playback_max_hours"], "gb28181.playback_max_hours", gs.playback_max_hours, 1, 24 * 31);
  num(t["gb28181"]["record_timeout_ms"], "gb28181.record_timeout_ms", gs.record_timeout_ms, 500, 60'000);
  if (auto mt = t["gb28181"]["media_transports"]; mt) {
    auto* tbl = mt.as_table();
    if (!tbl && st) st = bad("gb28181.media_transports", "must be a table of device id = udp | tcp | tcp_active");
    for (const auto& [dev, v] : tbl ? *tbl : toml::table{}) {
      auto s = v.value<std::string>();
      if (s && (*s == "udp" || *s == "tcp" || *s == "tcp_active"))
        gs.device_media[std::string(dev.str())] = *s;
      else if (st)
        st = bad("gb28181.media_transports." + std::string(dev.str()), "must be udp, tcp or tcp_active");
    }
  }
  VideoSettings& vs = cfg.video;
  flag(t["video"]["enabled"], "video.enabled", vs.enabled);
  num(t["video"]["idle_stop_seconds"], "video.idle_stop_seconds", vs.idle_stop_seconds, 1, 86'400);
  num(t["video"]["token_ttl_seconds"], "video.token_ttl_seconds", vs.token_ttl_seconds, 10, 86'400);
  num(t["video"]["open_timeout_ms"], "video.open_timeout_ms", vs.open_timeout_ms, 500, 60'000);
  num(t["video"]["max_transcodes"], "video.max_transcodes", vs.max_transcodes, 0, 256);
  num(t["video"]["max_streams"], "video.max_streams", vs.max_streams, 1, 100'000);
  num(t["video"]["max_playback_hours"], "video.max_playback_hours", vs.max_playback_hours, 1, 24 * 31);
  num(t["video"]["max_clip_minutes"], "video.max_clip_minutes", vs.max_clip_minutes, 1, 24 * 60);
  num(t["video"]["clip_before_seconds"], "video.clip_before_seconds", vs.clip_before_seconds, 0, 600);
  num(t["video"]["clip_after_seconds"], "video.clip_after_seconds", vs.clip_after_seconds, 1, 600);
  num(t["video"]["clip_keep_days"], "video.clip_keep_days", vs.clip_keep_days, 1, 3650);
  num(t["video"]["file_seconds"], "video.file_seconds", vs.file_seconds, 2, 3600);
  num(t["video"]["quota_gb"], "video.quota_gb", vs.quota_gb, 0, 1'000'000);
  num(t["video"]["min_free_mb"], "video.min_free_mb", vs.min_free_mb, 0, 10'000'000);
  str(t["video"]["shard"], "video.shard", vs.shard);
  if (int i = 0, n = 0; std::sscanf(vs.shard.c_str(), "%d/%d", &i, &n) != 2 || n < 1 || i < 0 || i >= n) {
    if (st) st = bad("video.shard", "must be \"i/n\" with 0 <= i < n");
  }
  VisionSettings& vis = cfg.vision;
  flag(t["vision"]["enabled"], "vision.enabled", vis.enabled);
  str(t["vision"]["model_dir"], "vision.model_dir", vis.model_dir);
  num(t["vision"]["workers"], "vision.workers", vis.workers, 1, 64);
  num(t["vision"]["dnn_threads"], "vision.dnn_threads", vis.dnn_threads, 0, 64);
  num(t["vision"]["budget_ms"], "vision.budget_ms", vis.budget_ms, 10, 60'000);
  num(t["vision"]["max_width"], "vision.max_width", vis.max_width, 160, 3840);
  num(t["vision"]["fault_delay_ms"], "vision.fault_delay_ms", vis.fault_delay_ms, 0, 60'000);
  ReportsConfig& rc = cfg.reports;
  num(t["reports"]["export_max_concurrent"], "reports.export_max_concurrent", rc.export_max_concurrent, 1, 64);
  flag(t["reports"]["scheduler"], "reports.scheduler", rc.scheduler);
  num(t["reports"]["schedule_tick_ms"], "reports.schedule_tick_ms", rc.schedule_tick_ms, 50, 3'600'000);
  num(t["reports"]["delivery_max_attempts"], "reports.delivery_max_attempts", rc.delivery_max_attempts, 1, 100);
  num(t["reports"]["delivery_backoff_ms"], "reports.delivery_backoff_ms", rc.delivery_backoff_ms, 10, 3'600'000);
  str(t["reports"]["smtp_host"], "reports.smtp_host", rc.smtp_host);
  num(t["reports"]["smtp_port"], "reports.smtp_port", rc.smtp_port, 1, 65535);
  str(t["reports"]["smtp_from"], "reports.smtp_from", rc.smtp_from);
  str(t["exchange"]["upstream_url"], "exchange.upstream_url", rc.upstream_url);
  str(t["exchange"]["upstream_key"], "exchange.upstream_key", rc.upstream_key);
  str(t["exchange"]["source_name"], "exchange.source_name", rc.upstream_name);
  num(t["exchange"]["sync_ms"], "exchange.sync_ms", rc.upstream_sync_ms, 100, 86'400'000);
  num(t["api"]["key_rate_per_second"], "api.key_rate_per_second", rc.key_rate_per_second, 1, 100'000);
  num(t["api"]["key_burst"], "api.key_burst", rc.key_burst, 1, 1'000'000);
  // a network list: a TOML array of strings or one string
  auto nets = [&](const toml::node_view<toml::node>& n, const std::string& key, std::string& out) {
    if (!n) return;
    if (auto v = n.value<std::string>()) {
      out = *v;
    } else if (const toml::array* a = n.as_array()) {
      out.clear();
      for (const auto& e : *a) {
        if (auto v = e.value<std::string>()) out += (out.empty() ? "" : ",") + *v;
        else if (st) st = bad(key, "must be an array of network strings");
      }
    } else if (st) {
      st = bad(key, "must be an array of network strings such as \"127.0.0.0/8\"");
    }
  };
  nets(t["notify"]["webhook_allow_networks"], "notify.webhook_allow_networks", cfg.webhook_allow_networks);
  nets(t["server"]["trusted_proxies"], "server.trusted_proxies", cfg.trusted_proxies);
  str(t["server"]["metrics_token"], "server.metrics_token", cfg.metrics_token);
  flag(t["server"]["metrics_public"], "server.metrics_public", cfg.metrics_public);
  if (const toml::table* rt = t["retention"].as_table()) {
    static const std::set<std::string> kKeys = {"receipts_days", "readings_days", "delivered_days"};
    for (const auto& [k, v] : *rt) {
      if (!kKeys.contains(std::string(k.str())) && st) st = bad("retention." + std::string(k.str()), "unknown key");
    }
  }
  num(t["retention"]["receipts_days"], "retention.receipts_days", cfg.retention_receipts_days, 0, 36500);
  num(t["retention"]["readings_days"], "retention.readings_days", cfg.retention_readings_days, 0, 36500);
  num(t["retention"]["delivered_days"], "retention.delivered_days", cfg.retention_delivered_days, 0, 36500);
  if (const toml::table* bt = t["backup"].as_table()) {
    static const std::set<std::string> kKeys = {"dir", "every_hours", "keep", "passphrase_file"};
    for (const auto& [k, v] : *bt) {
      if (!kKeys.contains(std::string(k.str())) && st) st = bad("backup." + std::string(k.str()), "unknown key");
    }
  }
  str(t["backup"]["dir"], "backup.dir", cfg.backup_dir);
  num(t["backup"]["every_hours"], "backup.every_hours", cfg.backup_every_hours, 1, 24 * 366);
  num(t["backup"]["keep"], "backup.keep", cfg.backup_keep, 1, 10000);
  str(t["backup"]["passphrase_file"], "backup.passphrase_file", cfg.backup_passphrase_file);
  if (st) st = check_networks(cfg);
  return st;
}

Status apply_env(Config& cfg) {
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  if (auto v = env("MINGCHU_LISTEN")) cfg.listen = v;
  if (auto v = env("MINGCHU_DATA")) cfg.data_dir = v;
  if (auto v = env("MINGCHU_DB")) cfg.db_url = v;
  if (auto v = env("MINGCHU_LOG_LEVEL")) cfg.log_level = v;
  if (auto v = env("MINGCHU_LOG_JSON")) cfg.log_json = std::string(v) == "1" || std::string(v) == "true";
  if (auto v = env("MINGCHU_MQTT")) cfg.mqtt_url = v;
  if (auto v = env("MINGCHU_AMQP")) cfg.amqp_url = v;
  if (auto v = env("MINGCHU_WEB_ROOT")) cfg.web_root = v;
  if (auto v = env("MINGCHU_VISION")) cfg.vision.enabled = std::string(v) == "1" || std::string(v) == "true";
  if (auto v = env("MINGCHU_PUBLIC_BASE_URL")) cfg.public_base_url = v;
  if (auto v = env("MINGCHU_PUBLIC_FRAME_ANCESTORS")) cfg.public_frame_ancestors = v;
  if (auto v = env("MINGCHU_NODE_ID")) cfg.push.node_id = v;
  if (auto v = env("MINGCHU_MQTT_CLIENT_ID")) cfg.push.mqtt_client_id = v;
  if (auto v = env("MINGCHU_SMS_URL")) cfg.push.sms_url = v;
  if (auto v = env("MINGCHU_ALERTS_CONFIG")) cfg.alerts_config_file = v;
  if (auto v = env("MINGCHU_SMTP_HOST")) cfg.reports.smtp_host = v;
  if (auto v = env("MINGCHU_UPSTREAM")) cfg.reports.upstream_url = v;
  if (auto v = env("MINGCHU_UPSTREAM_KEY")) cfg.reports.upstream_key = v;
  if (auto v = env("MINGCHU_UPSTREAM_SYNC_MS")) {
    int n = std::atoi(v);
    if (n < 100 || n > 86'400'000) return bad("MINGCHU_UPSTREAM_SYNC_MS", "must be 100–86400000");
    cfg.reports.upstream_sync_ms = n;
  }
  if (auto v = env("MINGCHU_SMTP_PORT")) {
    int n = std::atoi(v);
    if (n < 1 || n > 65535) return bad("MINGCHU_SMTP_PORT", "must be 1–65535");
    cfg.reports.smtp_port = n;
  }
  if (auto v = env("MINGCHU_REPORTS_TICK_MS")) {
    int n = std::atoi(v);
    if (n < 50 || n > 3'600'000) return bad("MINGCHU_REPORTS_TICK_MS", "must be 50–3600000");
    cfg.reports.schedule_tick_ms = n;
  }
  if (auto v = env("MINGCHU_REPORTS_BACKOFF_MS")) {
    int n = std::atoi(v);
    if (n < 10 || n > 3'600'000) return bad("MINGCHU_REPORTS_BACKOFF_MS", "must be 10–3600000");
    cfg.reports.delivery_backoff_ms = n;
  }
  if (auto v = env("MINGCHU_WEBHOOK_ALLOW_NETWORKS")) cfg.webhook_allow_networks = v;
  if (auto v = env("MINGCHU_TRUSTED_PROXIES")) cfg.trusted_proxies = v;
  if (auto v = env("MINGCHU_METRICS_TOKEN")) cfg.metrics_token = v;
  if (auto st = check_networks(cfg); !st) return st;
  if (auto v = env("MINGCHU_THREADS")) {
    int n = std::atoi(v);
    if (n < 1 || n > 256) return bad("MINGCHU_THREADS", "must be 1–256");
    cfg.threads = n;
  }
  return ok_status();
}

Result<std::pair<std::string, unsigned short>> split_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return Error::invalid("listen", "invalid_listen", "expected HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port_s = listen.substr(colon + 1);
  if (port_s.empty() || port_s.size() > 5 || port_s.find_first_not_of("0123456789") != std::string::npos) {
    return Error::invalid("listen", "invalid_listen", "port must be a number");
  }
  int port = std::stoi(port_s);
  if (port > 65535) return Error::invalid("listen", "invalid_listen", "port must be ≤ 65535");
  return std::make_pair(host, static_cast<unsigned short>(port));
}

Status check_networks(const Config& cfg) {
  for (auto [key, text] : {std::pair{"notify.webhook_allow_networks", &cfg.webhook_allow_networks},
                           std::pair{"server.trusted_proxies", &cfg.trusted_proxies}}) {
    std::string entry;
    if (!net::parse_networks(*text, &entry)) return bad(key, "'" + entry + "' is not an address or CIDR network");
  }
  return ok_status();
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace mingchu::app
