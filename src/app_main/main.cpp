// `mingchu`: one binary, several roles (serve, migrate, admin, audit, version).
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "app/backup.hpp"
#include "app/config.hpp"
#include "app/platform.hpp"
#include "core/log.hpp"
#include "storage/migrations.hpp"
#include "vision/cli.hpp"
#include "vision/remote.hpp"

using namespace mingchu;

namespace {

void add_common(CLI::App* cmd, app::Config& cfg) {
  cmd->add_option("--data", cfg.data_dir, "data directory (SQLite file, files, key file)");
  cmd->add_option("--db", cfg.db_url,
                  "database URL: sqlite:PATH or postgresql://user:pass@host:port/db (default: sqlite:DATA/mingchu.db)");
  cmd->add_option("--config", cfg.config_file, "TOML configuration file (flags and MINGCHU_* env override it)");
}

// Applies file and env, then the flags again (they were parsed into cfg already, so re-parse
// order is: defaults < file < env < flags). CLI11 has written flag values into cfg; keep a
// copy of what the user gave explicitly.
int load_config(CLI::App& cmd, app::Config& cfg) {
  app::Config flags = cfg;
  app::Config base;
  if (!cfg.config_file.empty()) {
    if (auto st = app::apply_toml_file(base, cfg.config_file); !st) {
      std::cerr << "mingchu: " << st.error().message << "\n";
      return 2;
    }
  }
  if (auto st = app::apply_env(base); !st) {
    std::cerr << "mingchu: " << st.error().message << "\n";
    return 2;
  }
  auto given = [&](const char* name) { return cmd.get_option_no_throw(name) && cmd.count(name) > 0; };
  if (given("--data")) base.data_dir = flags.data_dir;
  if (given("--db")) base.db_url = flags.db_url;
  if (given("--listen")) base.listen = flags.listen;
  if (given("--mqtt")) base.mqtt_url = flags.mqtt_url;
  if (given("--amqp")) base.amqp_url = flags.amqp_url;
  if (given("--upstream")) base.reports.upstream_url = flags.reports.upstream_url;
  if (given("--upstream-key")) base.reports.upstream_key = flags.reports.upstream_key;
  if (given("--web-root")) base.web_root = flags.web_root;
  if (given("--log-level")) base.log_level = flags.log_level;
  if (given("--threads")) base.threads = flags.threads;
  if (given("--public-base-url")) base.public_base_url = flags.public_base_url;
  if (given("--sip-listen")) base.gb.listen = flags.gb.listen;
  if (given("--sip-id")) base.gb.sip_id = flags.gb.sip_id;
  if (given("--sip-domain")) base.gb.domain = flags.gb.domain;
  if (given("--sip-password")) base.gb.password = flags.gb.password;
  if (flags.log_json) base.log_json = true;
  base.demo = flags.demo;
  base.manual_clock = flags.manual_clock;
  base.config_file = flags.config_file;
  cfg = base;
  log::Level level;
  if (!log::parse_level(cfg.log_level, level)) {
    std::cerr << "mingchu: --log-level must be debug, info, warn or error\n";
    return 2;
  }
  log::configure(level, cfg.log_json);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"mingchu 明厨 — Internet + Bright Kitchen food-safety supervision platform"};
  cli.require_subcommand(1);
  app::Config cfg;

  auto* serve = cli.add_subcommand("serve", "run the platform: HTTP API, web UI, ingest, scheduler, notifier");
  add_common(serve, cfg);
  serve->add_option("--listen", cfg.listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  serve->add_flag("--demo", cfg.demo, "seed a demo city on first start (jurisdictions, units, cameras, staff, users)");
  serve->add_flag("--manual-clock", cfg.manual_clock,
                  "let POST /api/v1/admin/clock move time forward (tests only; loopback only)");
  serve->add_option("--mqtt", cfg.mqtt_url, "MQTT broker URL for device events, e.g. mqtt://127.0.0.1:1883");
  serve->add_option("--amqp", cfg.amqp_url, "RabbitMQ URL for data push, e.g. amqp://guest:guest@127.0.0.1:5672/");
  serve->add_option("--upstream", cfg.reports.upstream_url, "the upper platform to report to (数据上报), e.g. https://province.example");
  serve->add_option("--upstream-key", cfg.reports.upstream_key, "the API key the upper platform issued to this one");
  serve->add_option("--web-root", cfg.web_root, "directory of the built web UI (default ./web/dist when present)");
  serve->add_option("--public-base-url", cfg.public_base_url, "external URL of this platform, for QR codes");
  serve->add_option("--sip-listen", cfg.gb.listen, "GB/T 28181: HOST:PORT for SIP over UDP and TCP (enables [gb28181])");
  serve->add_option("--sip-id", cfg.gb.sip_id, "GB/T 28181: the platform's 20-digit SIP id");
  serve->add_option("--sip-domain", cfg.gb.domain, "GB/T 28181: the 10-digit SIP domain (digest realm)");
  serve->add_option("--sip-password", cfg.gb.password, "GB/T 28181: the default device password");
  serve->add_option("--threads", cfg.threads, "HTTP worker threads")->check(CLI::Range(1, 256));
  serve->add_option("--log-level", cfg.log_level, "debug, info, warn or error");
  serve->add_flag("--log-json", cfg.log_json, "write logs as JSON lines");

  auto* migrate = cli.add_subcommand("migrate", "apply database schema migrations and exit");
  add_common(migrate, cfg);

  auto* admin = cli.add_subcommand("admin", "administration");
  admin->require_subcommand(1);
  auto* create_user = admin->add_subcommand("create-user", "create a user (e.g. the first platform admin)");
  add_common(create_user, cfg);
  std::string username, password, role = "platform_admin", jurisdiction, unit, display;
  create_user->add_option("--username", username, "user name")->required();
  create_user->add_option("--password", password, "password (policy enforced)")->required();
  create_user->add_option("--role", role, "platform_admin, regulator or merchant");
  create_user->add_option("--jurisdiction", jurisdiction, "jurisdiction id (regulators)");
  create_user->add_option("--unit", unit, "unit id (merchants)");
  create_user->add_option("--display-name", display, "display name");

  auto* audit = cli.add_subcommand("audit", "audit log");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand("verify", "recompute the audit hash chain; exit 0 when it holds");
  add_common(verify, cfg);

  auto* version = cli.add_subcommand("version", "print the version");

  auto* backup = cli.add_subcommand("backup", "write an online, consistent backup of the database, files and key");
  add_common(backup, cfg);
  std::string backup_out, backup_in, passphrase_file;
  backup->add_option("--out", backup_out, "the backup file to write")->required();
  backup->add_option("--passphrase-file", passphrase_file, "include the field key, encrypted with this passphrase");
  auto* restore = cli.add_subcommand("restore", "restore a backup into an empty data directory (exit 4: bad backup)");
  add_common(restore, cfg);
  restore->add_option("--in", backup_in, "the backup file")->required();
  restore->add_option("--passphrase-file", passphrase_file, "the passphrase the key was encrypted with");

  auto* vision = cli.add_subcommand("vision", "the algorithm server: detectors, rules, evaluation (docs/vision.md)");
  vision->require_subcommand(0, 1);
  auto* vision_eval = vision->add_subcommand("eval", "precision, recall and AP@0.5 per class on a YOLO-format data set");
  vision::EvalArgs eval_args;
  vision_eval->add_option("--model", eval_args.model, "coco-ssdlite, a model directory, or X.onnx with X.toml")->required();
  vision_eval->add_option("--dataset", eval_args.dataset, "DIR with images/, labels/, classes.txt")->required();
  vision_eval->add_flag("--json", eval_args.json, "print JSON");
  vision_eval->add_option("--min-score", eval_args.min_score, "operating score for precision/recall (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));

  // `mingchu vision --server URL --api-key K`: the pipeline on this machine for that server
  vision::RemoteArgs remote_args;
  vision->add_option("--server", remote_args.remote.server, "run for the MingChu server at this http(s):// URL");
  vision->add_option("--api-key", remote_args.remote.api_key, "its API key (ingest, read, write), or MINGCHU_API_KEY");
  vision->add_option("--workers", remote_args.vision.workers, "pipeline threads (1)")->check(CLI::Range(1, 64));
  vision->add_option("--model-dir", remote_args.vision.model_dir, "where the shipped model is");
  vision->add_option("--cache-dir", remote_args.remote.cache_dir, "where fetched custom models are kept");
  vision->add_option("--max-width", remote_args.remote.max_width, "frames scaled to this width (640)")
      ->check(CLI::Range(160, 3840));
  vision->add_option("--budget-ms", remote_args.vision.budget_ms, "detector time budget per frame (1000)")
      ->check(CLI::Range(10, 60000));

  CLI11_PARSE(cli, argc, argv);
  if (vision_eval->parsed()) return vision::eval_command(eval_args, std::cout, std::cerr);
  if (vision->parsed()) {
    if (remote_args.remote.server.empty()) {
      std::cerr << "mingchu vision: give a subcommand (eval) or --server URL --api-key K\n";
      return 2;
    }
    if (remote_args.remote.api_key.empty())
      if (const char* k = std::getenv("MINGCHU_API_KEY")) remote_args.remote.api_key = k;
    remote_args.vision.refresh_ms = 10000;  // each refresh is a request per camera
    return vision::remote_command(std::move(remote_args));
  }

  try {
    if (version->parsed()) {
      std::cout << "mingchu 0.1.0\n";
      return 0;
    }
    CLI::App* cmd = serve->parsed()         ? serve
                    : migrate->parsed()     ? migrate
                    : create_user->parsed() ? create_user
                    : backup->parsed()      ? backup
                    : restore->parsed()     ? restore
                                            : verify;
    if (int rc = load_config(*cmd, cfg)) return rc;

    if (backup->parsed()) {
      auto r = app::make_backup({cfg.data_dir, cfg.effective_db_url(), backup_out, passphrase_file});
      if (!r) {
        std::cerr << "mingchu: " << r.error().message << "\n";
        return r.error().kind == ErrorKind::kInvalid ? 2 : 1;
      }
      std::cout << "backup written: " << backup_out << " (" << r->entries << " entries, " << r->bytes << " bytes, "
                << r->table_rows.size() << " tables)\n";
      return 0;
    }
    if (restore->parsed()) {
      auto r = app::restore_backup({backup_in, cfg.data_dir, cfg.db_url, passphrase_file});
      if (!r) {
        std::cerr << "mingchu: " << r.error().message << "\n";
        return r.error().kind == ErrorKind::kConflict ? 4 : r.error().kind == ErrorKind::kInvalid ? 2 : 1;
      }
      std::cout << "restored " << r->entries << " entries; " << r->table_rows.size()
                << " tables match the backup row for row\n";
      return 0;
    }

    if (migrate->parsed()) {
      std::filesystem::create_directories(cfg.data_dir);
      auto db = storage::open_database(cfg.effective_db_url(), 1);
      auto applied = storage::migrate(*db);
      std::cout << "schema at version " << storage::schema_version(*db) << " (" << applied.size() << " applied)\n";
      return 0;
    }
    app::Platform platform(cfg);
    if (create_user->parsed()) {
      auth::NewUser u;
      u.username = username;
      u.password = password;
      u.display_name = display;
      auto r = auth::parse_role(role);
      if (!r) {
        std::cerr << "mingchu: --role must be platform_admin, regulator or merchant\n";
        return 2;
      }
      u.role = *r;
      u.jurisdiction_id = jurisdiction;
      if (!unit.empty()) u.unit_ids = {unit};
      auto created = platform.auth().create_user_unchecked(u, "cli");
      if (!created) {
        std::cerr << "mingchu: " << created.error().message << "\n";
        return 1;
      }
      audit::Entry e{"", "cli", "platform_admin", "user.create", "user:" + created->id, "cli", "ok", "role=" + role};
      platform.audit().append(platform.db(), e);
      std::cout << created->id << "\n";
      return 0;
    }
    if (verify->parsed()) {
      auto v = platform.audit().verify(platform.db());
      if (v.ok) {
        std::cout << "audit chain holds: " << v.checked << " entries verified\n";
        return 0;
      }
      std::cout << "audit chain BROKEN at entry " << v.first_bad_seq.value_or(0) << ": " << v.reason << "\n";
      return 3;
    }
    if (cfg.demo) app::seed_demo(platform);
    return platform.serve();
  } catch (const std::exception& e) {
    std::cerr << "mingchu: " << e.what() << "\n";
    return 1;
  }
}
