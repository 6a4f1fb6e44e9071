// The configuration of one `mingchu` process: defaults, then a TOML file (--config), then
// MINGCHU_* environment variables, then command-line flags — each later source wins.
// Loaded once by main and handed down; nothing reads configuration from anywhere else.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <thread>

#include "auth/auth_service.hpp"
#include "core/result.hpp"

namespace mingchu::app {

// HTTP I/O threads when not configured: twice the cores, at least 4.
inline int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(2 * n, 4u, 64u));
}

// Data push and device messaging: [notify] (dispatcher, webhooks, SSE, [notify.sms]), [amqp]
// and [mqtt] beyond their url. See src/notify/*.hpp and src/ingest/mqtt_subscriber.hpp.
struct PushConfig {
  bool dispatcher = true;              // notify.dispatcher: deliver from the outbox on this node
  std::string node_id;                 // notify.node_id: names this node in leases (default host-random)
  int poll_ms = 200;                   // notify.poll_ms
  int lease_seconds = 30;              // notify.lease_seconds
  int max_attempts = 12;               // notify.max_attempts: then dead-lettered
  int backoff_base_ms = 1000;          // notify.backoff_base_ms: first retry delay, doubling
  int backoff_cap_seconds = 600;       // notify.backoff_cap_seconds
  int webhook_timeout_seconds = 5;     // notify.webhook_timeout_seconds
  int webhook_parallel = 4;            // notify.webhook_parallel: concurrent webhook sends
  bool webhook_tls_verify = true;      // notify.webhook_tls_verify
  int sse_poll_ms = 300;               // notify.sse_poll_ms
  int sse_window_seconds = 5;          // notify.sse_window_seconds: re-read behind the newest event
  int sse_queue = 256;                 // notify.sse_queue: events buffered per stream
  int sse_max_streams = 5000;          // notify.sse_max_streams: per node
  std::string sms_url;                 // notify.sms.url (empty: no SMS/voice channel)
  std::string sms_template;            // notify.sms.template (default: JSON, see notify/sms.hpp)
  std::string sms_content_type;        // notify.sms.content_type (default application/json)
  bool sms_unit_phone = true;          // notify.sms.unit_phone: also text the unit's phone
  std::map<std::string, std::string> sms_duty;  // [notify.sms.duty] "<jurisdiction code>" = "<phone>"
  std::string amqp_exchange = "mingchu.events";  // amqp.exchange (durable topic exchange)
  int amqp_confirm_timeout_seconds = 5;          // amqp.confirm_timeout_seconds
  std::string amqp_cacert;                       // amqp.cacert (amqps:// only)
  std::string mqtt_client_id;                    // mqtt.client_id (default "mingchu-" + host name)
  int mqtt_keepalive_seconds = 30;               // mqtt.keepalive_seconds
  std::string mqtt_username;                     // mqtt.username
  std::string mqtt_password;                     // mqtt.password
  std::string mqtt_shared_group;                 // mqtt.shared_group: "$share/<group>/" subscriptions
};

// [gb28181]: GB/T 28181 device access (src/gb, docs/gb28181.md). Enabled when listen is set.
struct GbSettings {
  std::string listen;                   // gb28181.listen / --sip-listen HOST:PORT (UDP and TCP); empty: off
  std::string sip_id = "34020000002000000001";  // gb28181.sip_id / --sip-id: the platform's 20-digit id
  std::string domain = "3402000000";    // gb28181.domain / --sip-domain: 10 digits, also the digest realm
  std::string password;                 // gb28181.password / --sip-password: default device password
  std::map<std::string, std::string> device_passwords;  // [gb28181.passwords]: device id = password
  std::string media_host;               // gb28181.media_host: address in our SDP (default: the listen host)
  std::string media_transport = "auto";  // gb28181.media_transport: auto (as the SIP transport) | udp | tcp (RFC 4571,
                                         // the device connects) | tcp_active (we connect)
  int keepalive_seconds = 60;           // gb28181.keepalive_seconds: the devices' keepalive period
  int keepalive_misses = 3;             // gb28181.keepalive_misses: missed keepalives before offline
  int register_expires_max = 3600;      // gb28181.register_expires_max
  int invite_timeout_ms = 5000;         // gb28181.invite_timeout_ms
  std::map<std::string, std::string> device_media;  // [gb28181.media_transports]: device id = udp | tcp | tcp_active
  int playback_max_hours = 24;                      // gb28181.playback_max_hours: a device playback's longest range
  int record_timeout_ms = 8000;                     // gb28181.record_timeout_ms: for all RecordInfo answers
};

// [video]: the media core (src/video, docs/video.md).
struct VideoSettings {
  bool enabled = true;                 // video.enabled
  int idle_stop_seconds = 30;          // video.idle_stop_seconds: stop a stream this long after its last viewer
  int token_ttl_seconds = 3600;        // video.token_ttl_seconds: media URLs
  int open_timeout_ms = 8000;          // video.open_timeout_ms: a live request waits this long for a picture
  int max_transcodes = 2;              // video.max_transcodes: H.265 -> H.264 for browsers, per node
  int max_streams = 2000;              // video.max_streams: per node
  int max_playback_hours = 24;         // video.max_playback_hours
  int max_clip_minutes = 30;           // video.max_clip_minutes
  int clip_before_seconds = 10;        // video.clip_before_seconds: evidence before the capture
  int clip_after_seconds = 20;         // video.clip_after_seconds
  int clip_keep_days = 180;            // video.clip_keep_days: after the alert is closed
  int file_seconds = 60;               // video.file_seconds: length of a recording file
  int quota_gb = 0;                    // video.quota_gb: recordings of this node (0: no quota)
  int min_free_mb = 512;               // video.min_free_mb: delete oldest recordings below this
  std::string shard = "0/1";           // video.shard: "i/n" = record the cameras hashing to i of n nodes
};

// [vision]: the algorithm server's pipeline in this process (src/vision, docs/vision.md).
struct VisionSettings {
  bool enabled = false;                // vision.enabled (MINGCHU_VISION=1): analyse ai_enabled cameras here
  std::string model_dir;               // vision.model_dir: default $MINGCHU_MODEL_DIR or ~/.cache/mingchu/models
  int workers = 1;                     // vision.workers: detector threads
  int dnn_threads = 1;                 // vision.dnn_threads: OpenCV threads per forward
  int budget_ms = 1000;                // vision.budget_ms: a slower detection is counted, the camera waits
  int max_width = 640;                 // vision.max_width: frames are scaled down to this before analysis
  int fault_delay_ms = 0;              // vision.fault_delay_ms: tests only, a slower detector
};

// [reports]: exports, scheduled reports and their deliveries (src/reports).
struct ReportsConfig {
  int export_max_concurrent = 4;       // reports.export_max_concurrent: exports running at once per node
  bool scheduler = true;               // reports.scheduler: run scheduled reports on this node
  int schedule_tick_ms = 5000;         // reports.schedule_tick_ms
  int delivery_max_attempts = 5;       // reports.delivery_max_attempts: then dead
  int delivery_backoff_ms = 5000;      // reports.delivery_backoff_ms: first retry delay, doubling
  std::string smtp_host;               // reports.smtp_host (empty: no e-mail recipients)
  int smtp_port = 25;                  // reports.smtp_port
  std::string smtp_from = "mingchu@localhost";  // reports.smtp_from
  std::string upstream_url;            // --upstream / exchange.upstream_url: the upper platform (数据上报)
  std::string upstream_key;            // --upstream-key / exchange.upstream_key: the API key it issued
  std::string upstream_name;           // exchange.source_name: how this platform names itself (default: its city)
  int upstream_sync_ms = 10000;        // exchange.sync_ms: units, cameras and statistics every so often
  int key_rate_per_second = 20;        // api.key_rate_per_second: calls a second per third-party API key
  int key_burst = 40;                  // api.key_burst
};

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./data";
  std::string db_url;  // default: sqlite:<data_dir>/mingchu.db
  std::string config_file;
  std::string mqtt_url;
  std::string amqp_url;
  std::string web_root;  // default: ./web/dist when it exists
  std::string public_base_url = "http://127.0.0.1:8080";
  std::string map_tile_url;  // e.g. a Tianditu WMTS template with its key; empty: markers on a plain background
  std::string map_attribution;
  std::string public_frame_ancestors;  // CSP sources that may frame the public page; empty: none
  std::string log_level = "info";
  bool log_json = false;
  bool demo = false;
  bool manual_clock = false;
  // HTTP I/O threads. Blocking handlers (database reads) run on them too; more threads than
  // that needs only adds context switches (bench/run_ingest.sh): twice the cores, at least 4.
  int threads = default_threads();
  int db_pool = 16;
  int utc_offset_minutes = 480;
  int cert_expiring_days = 30;
  std::size_t max_upload_bytes = 10 * 1024 * 1024;
  auth::AuthConfig auth;
  // [alerts]: the taxonomy file and the supervision loop (src/alerts, src/ingest)
  std::string alerts_config_file;  // alerts.config_file (default: config/alerts.toml when present)
  bool scheduler = true;           // alerts.scheduler: run deadlines/cards/offline/certificates here
  int scheduler_tick_ms = 10000;   // alerts.scheduler_tick_ms
  int ingest_max_wait_us = 0;      // alerts.ingest_max_wait_us: group-commit wait for more events (IngestConfig)
  int ingest_max_batch = 2000;     // alerts.ingest_max_batch: events per transaction
  PushConfig push;
  VideoSettings video;
  VisionSettings vision;
  GbSettings gb;
  ReportsConfig reports;
  // Networks and exposure (lists of CIDRs, comma- or space-separated, or TOML arrays):
  std::string webhook_allow_networks;  // notify.webhook_allow_networks: internal networks webhooks may reach
  std::string trusted_proxies;         // server.trusted_proxies: peers whose X-Forwarded-For is believed
  std::string metrics_token;           // server.metrics_token: /metrics also to "Authorization: Bearer <it>"
  bool metrics_public = false;         // server.metrics_public: /metrics to anyone (default: loopback or token)
  // [operations] (src/operations): sensor history retention, purchasing
  int sensor_raw_days = 30;                   // operations.sensor_raw_days: raw readings kept, then hourly rollups
  int sensor_rollup_days = 730;               // operations.sensor_rollup_days: hourly rollups kept
  int sensor_compact_interval_seconds = 600;  // operations.sensor_compact_interval_seconds (0: only on demand)
  int acceptance_tolerance_pct = 5;           // operations.acceptance_tolerance_pct: delivered vs ordered
  int price_jump_pct = 20;                    // operations.price_jump_pct: a price moving more than this warns
  // [retention] in days, 0 = keep forever; the scheduler deletes older rows in small batches.
  int retention_receipts_days = 35;   // retention.receipts_days: ingest receipts (at least the 30-day ingest window)
  int retention_readings_days = 180;  // retention.readings_days: sensor readings
  int retention_delivered_days = 30;  // retention.delivered_days: delivered deliveries and their outbox rows
  // [backup]: scheduled backups (the `mingchu backup` file) with retention; empty dir = none
  std::string backup_dir;              // backup.dir
  int backup_every_hours = 24;         // backup.every_hours
  int backup_keep = 7;                 // backup.keep: the newest this many files stay
  std::string backup_passphrase_file;  // backup.passphrase_file: include the field key under it

  std::string effective_db_url() const { return db_url.empty() ? "sqlite:" + data_dir + "/mingchu.db" : db_url; }
};

// Applies a TOML file to cfg. Unknown keys are refused so a typo does not silently do nothing.
Status apply_toml_file(Config& cfg, const std::string& path);
// Applies MINGCHU_LISTEN, MINGCHU_DATA, MINGCHU_DB, MINGCHU_LOG_LEVEL, MINGCHU_LOG_JSON,
// MINGCHU_MQTT, MINGCHU_AMQP, MINGCHU_WEB_ROOT, MINGCHU_PUBLIC_BASE_URL, MINGCHU_THREADS,
// MINGCHU_NODE_ID, MINGCHU_MQTT_CLIENT_ID, MINGCHU_SMS_URL, MINGCHU_WEBHOOK_ALLOW_NETWORKS,
// MINGCHU_TRUSTED_PROXIES, MINGCHU_METRICS_TOKEN.
Status apply_env(Config& cfg);
// Splits "host:port"; refuses what is not one.
Result<std::pair<std::string, unsigned short>> split_listen(const std::string& listen);
bool is_loopback(const std::string& host);
// Refuses network lists that do not parse (naming the key and the entry).
Status check_networks(const Config& cfg);

}  // namespace mingchu::app
