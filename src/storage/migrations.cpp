// The schema. Append new migrations at the end; never edit one that has shipped.
#include "storage/migrations.hpp"

namespace mingchu::storage {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kAll = {
      {1, "registry, accounts, audit", R"SQL(
CREATE TABLE jurisdictions (
  id TEXT PRIMARY KEY,
  parent_id TEXT REFERENCES jurisdictions(id),
  level TEXT NOT NULL,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  path TEXT{{C}} NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX jurisdictions_path ON jurisdictions(path);
CREATE INDEX jurisdictions_parent ON jurisdictions(parent_id);

CREATE TABLE files (
  id TEXT PRIMARY KEY,
  sha256 TEXT NOT NULL,
  sm3 TEXT NOT NULL,
  size BIGINT NOT NULL,
  content_type TEXT NOT NULL,
  filename TEXT,
  uploader_id TEXT,
  unit_id TEXT,
  jpath TEXT{{C}} NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX files_sha ON files(sha256);

CREATE TABLE units (
  id TEXT PRIMARY KEY,
  jurisdiction_id TEXT NOT NULL REFERENCES jurisdictions(id),
  jpath TEXT{{C}} NOT NULL,
  name TEXT NOT NULL,
  operator TEXT,
  phone TEXT,
  address TEXT,
  uscc TEXT,
  licence_number TEXT,
  filing_number TEXT,
  store_type TEXT NOT NULL,
  business_format TEXT,
  lng {{REAL}},
  lat {{REAL}},
  licence_image_ids TEXT NOT NULL DEFAULT '[]',
  storefront_image_id TEXT,
  disclosure_token TEXT NOT NULL UNIQUE,
  show_alert_stats BIGINT NOT NULL DEFAULT 1,
  rating TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX units_jpath ON units(jpath, name);
CREATE UNIQUE INDEX units_uscc ON units(uscc) WHERE deleted_at IS NULL AND uscc IS NOT NULL;

CREATE TABLE cameras (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  name TEXT NOT NULL,
  area TEXT NOT NULL,
  brand TEXT,
  model TEXT,
  channel BIGINT,
  stream_url TEXT,
  gb_device_id TEXT,
  gb_channel_id TEXT,
  public BIGINT NOT NULL DEFAULT 0,
  ai_enabled BIGINT NOT NULL DEFAULT 1,
  status TEXT NOT NULL DEFAULT 'offline',
  last_seen_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX cameras_unit ON cameras(unit_id);
CREATE INDEX cameras_jpath ON cameras(jpath);

CREATE TABLE staff (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  name TEXT NOT NULL,
  id_number_enc TEXT,
  id_number_index TEXT,
  phone_enc TEXT,
  position TEXT,
  cert_number TEXT,
  cert_issued_on BIGINT,
  cert_expires_on BIGINT,
  cert_image_id TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX staff_unit ON staff(unit_id);
CREATE INDEX staff_jpath_expiry ON staff(jpath, cert_expires_on);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL,
  jurisdiction_id TEXT REFERENCES jurisdictions(id),
  password_hash TEXT NOT NULL,
  password_changed_at BIGINT NOT NULL,
  failed_logins BIGINT NOT NULL DEFAULT 0,
  locked_until BIGINT,
  disabled BIGINT NOT NULL DEFAULT 0,
  created_by TEXT,
  created_at BIGINT NOT NULL
);

CREATE TABLE user_units (
  user_id TEXT NOT NULL REFERENCES users(id),
  unit_id TEXT NOT NULL REFERENCES units(id),
  PRIMARY KEY (user_id, unit_id)
);
CREATE INDEX user_units_unit ON user_units(unit_id);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  source TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  unit_id TEXT REFERENCES units(id),
  jurisdiction_id TEXT REFERENCES jurisdictions(id),
  jpath TEXT{{C}} NOT NULL,
  ingest_only BIGINT NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);

CREATE TABLE audit_log (
  seq BIGINT PRIMARY KEY,
  at BIGINT NOT NULL,
  actor_id TEXT,
  actor TEXT NOT NULL,
  role TEXT,
  action TEXT NOT NULL,
  target TEXT,
  source TEXT,
  result TEXT NOT NULL,
  detail TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_at ON audit_log(at);
CREATE TABLE audit_head (
  id BIGINT PRIMARY KEY,
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)SQL"},
  };
  return kAll;
}

}  // namespace mingchu::storage
