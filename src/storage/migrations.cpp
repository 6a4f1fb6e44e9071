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
      {3, "alerts", R"SQL(
-- The supervision loop (src/alerts, src/ingest, src/stats). jpath is the unit's jurisdiction
-- path when the alert was raised: the scope of every alert query.
CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  camera_id TEXT,
  device_id TEXT,
  subject TEXT NOT NULL,
  type TEXT NOT NULL,
  risk_class BIGINT NOT NULL,
  state TEXT NOT NULL,
  occurred_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  capture_count BIGINT NOT NULL DEFAULT 1,
  snapshot_count BIGINT NOT NULL DEFAULT 0,
  due_at BIGINT,
  overdue BIGINT NOT NULL DEFAULT 0,
  card TEXT,
  next_card_at BIGINT,
  confidence {{REAL}},
  model TEXT,
  boxes TEXT,
  source TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  handled_at BIGINT
);
CREATE INDEX alerts_scope_time ON alerts(jpath, occurred_at);
CREATE INDEX alerts_time ON alerts(occurred_at);
CREATE INDEX alerts_unit_time ON alerts(unit_id, occurred_at);
CREATE INDEX alerts_open ON alerts(unit_id, subject, type, last_seen_at) WHERE state IN ('open', 'submitted');
CREATE INDEX alerts_due ON alerts(due_at) WHERE state = 'open' AND overdue = 0;
CREATE INDEX alerts_next_card ON alerts(next_card_at) WHERE next_card_at IS NOT NULL;

CREATE TABLE alert_events (
  id TEXT PRIMARY KEY,
  alert_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  at BIGINT NOT NULL,
  actor_id TEXT,
  actor_name TEXT,
  actor_role TEXT,
  comment TEXT,
  detail TEXT
);
CREATE INDEX alert_events_alert ON alert_events(alert_id, at, seq);

CREATE TABLE alert_snapshots (
  alert_id TEXT NOT NULL,
  file_id TEXT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (alert_id, file_id)
);

CREATE TABLE rectifications (
  id TEXT PRIMARY KEY,
  alert_id TEXT NOT NULL,
  text TEXT NOT NULL,
  photo_ids TEXT NOT NULL,
  submitted_by TEXT NOT NULL,
  submitted_at BIGINT NOT NULL
);
CREATE INDEX rectifications_alert ON rectifications(alert_id, submitted_at);

CREATE TABLE alert_documents (
  id TEXT PRIMARY KEY,
  alert_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  number TEXT NOT NULL,
  issued_on BIGINT NOT NULL,
  file_id TEXT,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX alert_documents_alert ON alert_documents(alert_id, created_at);

CREATE TABLE ingest_receipts (
  source TEXT NOT NULL,
  event_id TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  merged BIGINT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (source, event_id)
);

CREATE TABLE notifications (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  alert_id TEXT,
  topic TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  read_at BIGINT
);
CREATE INDEX notifications_user ON notifications(user_id, created_at);

-- The outbox contract with src/notify: every row is delivered at least once; id is the
-- idempotency key; payload is the JSON of docs/push-schema.md.
CREATE TABLE outbox (
  id TEXT PRIMARY KEY,
  topic TEXT NOT NULL,
  unit_id TEXT,
  jpath TEXT{{C}},
  payload TEXT NOT NULL,
  sms BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE INDEX outbox_created ON outbox(created_at);

CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  thresholds TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'offline',
  last_seen_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX devices_unit ON devices(unit_id);
CREATE INDEX devices_jpath ON devices(jpath);

-- Heartbeat monitoring: a camera or device is watched from its first heartbeat on; silence
-- beyond the offline window raises camera_offline (src/alerts/scheduler.cpp).
CREATE TABLE liveness (
  subject TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  unit_id TEXT NOT NULL,
  last_heartbeat_at BIGINT NOT NULL,
  offline BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX liveness_due ON liveness(last_heartbeat_at) WHERE offline = 0;

CREATE TABLE readings (
  device_id TEXT NOT NULL,
  at BIGINT NOT NULL,
  metric TEXT NOT NULL,
  value {{REAL}} NOT NULL
);
CREATE INDEX readings_device ON readings(device_id, at);

CREATE TABLE device_breaches (
  device_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  since BIGINT NOT NULL,
  alerted BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, metric)
);

CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  until BIGINT NOT NULL
);

CREATE TABLE cert_notices (
  staff_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  expires_on BIGINT NOT NULL,
  sent_at BIGINT NOT NULL,
  PRIMARY KEY (staff_id, kind, expires_on)
);

-- Statistics rollups, kept in the same transactions as the alerts they count: created by
-- the day the alert occurred (local calendar day), handled (closed or dismissed) likewise.
-- alert_daily has a row for "/" and for every jurisdiction level above the unit (jpath =
-- that node's path), so a scope reads only its own node's rows; alert_unit_daily is per unit.
CREATE TABLE alert_daily (
  jpath TEXT{{C}} NOT NULL,
  day BIGINT NOT NULL,
  type TEXT NOT NULL,
  risk_class BIGINT NOT NULL,
  created BIGINT NOT NULL DEFAULT 0,
  handled BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (jpath, day, type, risk_class)
);
CREATE TABLE alert_unit_daily (
  jpath TEXT{{C}} NOT NULL,
  day BIGINT NOT NULL,
  unit_id TEXT NOT NULL,
  created BIGINT NOT NULL DEFAULT 0,
  handled BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (jpath, day, unit_id)
);
CREATE INDEX alert_unit_daily_day ON alert_unit_daily(day, jpath, unit_id, created, handled);
)SQL"},
      {4, "notify", R"SQL(
-- Data push (src/notify). The dispatcher fans each outbox row out into one delivery per
-- channel and target and sets outbox.dispatched in the same transaction: no high-water
-- mark, so a commit that becomes visible late is still found (the partial index holds only
-- the rows still to do).
ALTER TABLE outbox ADD COLUMN dispatched BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_undispatched ON outbox(created_at, id) WHERE dispatched = 0;

-- Outbound webhooks. jpath is the creator's scope: only events of units inside it are sent.
-- events is a JSON array of topics or ["*"]; the secret is stored encrypted (FieldCipher).
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret_enc TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  description TEXT,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  disabled BIGINT NOT NULL DEFAULT 0,
  deleted_at BIGINT
);
CREATE INDEX webhooks_jpath ON webhooks(jpath);

-- One row per (event, channel, target): the at-least-once state machine
-- pending -> delivered | dead, with the lease that keeps two nodes from sending it at once.
CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  outbox_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  target_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  last_error TEXT,
  last_status BIGINT,
  last_attempt_at BIGINT,
  delivered_at BIGINT,
  lease_until BIGINT,
  lease_holder TEXT,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX deliveries_once ON deliveries(outbox_id, channel, target_id);
CREATE INDEX deliveries_due ON deliveries(channel, next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_target ON deliveries(channel, target_id, created_at);
CREATE INDEX deliveries_state ON deliveries(state, created_at);
)SQL"},
      {5, "disclosure", R"SQL(
-- Complaints left on a unit's public page (src/disclosure). The contact is encrypted; the
-- source address is kept only as a keyed digest, to rate-limit.
CREATE TABLE complaints (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  text TEXT NOT NULL,
  contact_enc TEXT,
  source_hash TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX complaints_scope ON complaints(jpath, created_at);
CREATE INDEX complaints_source ON complaints(source_hash, created_at);
CREATE INDEX complaints_unit ON complaints(unit_id, created_at);
)SQL"},
      {6, "unit list order", R"SQL(
-- Unit lists are ordered by name (byte order on both engines): walking this index returns a
-- page without sorting every unit in the caller's scope (bench/run_registry.sh).
CREATE INDEX units_name ON units(name{{C}}, id) WHERE deleted_at IS NULL;
-- and counting the units in a scope reads this index only
CREATE INDEX units_live_scope ON units(jpath) WHERE deleted_at IS NULL;
)SQL"},
      {7, "alert rollup by 16-day span", R"SQL(
-- Per-unit alert counts by span of 16 days (span = day / 16), beside alert_unit_daily: a
-- year of statistics reads ~23 spans per unit instead of 365 days (src/stats).
CREATE TABLE alert_unit_span (
  jpath TEXT{{C}} NOT NULL,
  span BIGINT NOT NULL,
  unit_id TEXT NOT NULL,
  created BIGINT NOT NULL DEFAULT 0,
  handled BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (jpath, span, unit_id)
);
CREATE INDEX alert_unit_span_span ON alert_unit_span(span, jpath, unit_id, created, handled);
INSERT INTO alert_unit_span (jpath, span, unit_id, created, handled)
  SELECT jpath, day / 16, unit_id, SUM(created), SUM(handled) FROM alert_unit_daily GROUP BY jpath, day / 16, unit_id;
)SQL"},
      {8, "ingest hot path", R"SQL(
-- Ingest writes per folded event (bench/run_ingest.sh): a receipt, and the alert's counters.
-- The dedup lookup no longer indexes last_seen_at, so a fold that moves last_seen_at leaves
-- every index of alerts untouched (the few open alerts of one key are filtered after the seek).
DROP INDEX alerts_open;
CREATE INDEX alerts_open ON alerts(unit_id, subject, type) WHERE state IN ('open', 'submitted');
-- Receipts are looked up by their key only: one B-tree on SQLite. occurred_at is the sender's
-- time of the capture (the receipt is the record of every capture, also after the timeline
-- stops listing them one by one).
CREATE TABLE ingest_receipts_v8 (
  source TEXT NOT NULL,
  event_id TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  merged BIGINT NOT NULL,
  received_at BIGINT NOT NULL,
  occurred_at BIGINT,
  PRIMARY KEY (source, event_id)
){{WITHOUT_ROWID}};
INSERT INTO ingest_receipts_v8 (source, event_id, alert_id, merged, received_at)
  SELECT source, event_id, alert_id, merged, received_at FROM ingest_receipts;
DROP TABLE ingest_receipts;
ALTER TABLE ingest_receipts_v8 RENAME TO ingest_receipts;
)SQL"},
      {9, "video", R"SQL(
-- The media core (src/video). Camera settings belong to the registry; the rest to video.
ALTER TABLE cameras ADD COLUMN sub_stream_url TEXT;
ALTER TABLE cameras ADD COLUMN rtsp_transport TEXT NOT NULL DEFAULT 'tcp';
ALTER TABLE cameras ADD COLUMN record TEXT NOT NULL DEFAULT 'off';
ALTER TABLE cameras ADD COLUMN retention_days BIGINT NOT NULL DEFAULT 15;
CREATE INDEX cameras_record ON cameras(record) WHERE record = 'continuous' AND deleted_at IS NULL;

-- What the node that pulls a camera last saw of its stream.
CREATE TABLE camera_video (
  camera_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  codec TEXT,
  width BIGINT,
  height BIGINT,
  fps {{REAL}},
  bitrate_kbps BIGINT,
  last_frame_at BIGINT,
  error TEXT,
  node TEXT,
  updated_at BIGINT NOT NULL
);

-- Recorded segments: one MPEG-TS file each, indexed only after the file is complete on disk.
CREATE TABLE recordings (
  id TEXT PRIMARY KEY,
  camera_id TEXT NOT NULL,
  unit_id TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  start_at BIGINT NOT NULL,
  end_at BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  sm3 TEXT NOT NULL,
  path TEXT NOT NULL,
  node TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX recordings_camera_time ON recordings(camera_id, start_at);
CREATE INDEX recordings_node_time ON recordings(node, start_at);

-- Evidence clips pinned to alerts.
CREATE TABLE video_clips (
  id TEXT PRIMARY KEY,
  alert_id TEXT NOT NULL,
  camera_id TEXT NOT NULL,
  unit_id TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  from_at BIGINT NOT NULL,
  to_at BIGINT NOT NULL,
  state TEXT NOT NULL,
  sm3 TEXT,
  bytes BIGINT,
  path TEXT,
  error TEXT,
  attempts BIGINT NOT NULL DEFAULT 0,
  due_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX video_clips_alert ON video_clips(alert_id, camera_id);
CREATE INDEX video_clips_due ON video_clips(due_at) WHERE state = 'pending';

-- Small shared state of the video nodes: the media token key, the alert cursor.
CREATE TABLE video_state (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)SQL"},
      {11, "security review (issue 14)", R"SQL(
-- User names compare by NFKC_Casefold (auth/username.hpp). Existing names are ASCII, so lower()
-- is that key; of names equal but for case, the oldest keeps it and the later ones get a key
-- no login produces (an administrator renames or removes them).
ALTER TABLE users ADD COLUMN username_key TEXT{{C}};
UPDATE users SET username_key = lower(username) || '#' || id WHERE EXISTS (SELECT 1 FROM users o
  WHERE lower(o.username) = lower(users.username)
    AND (o.created_at < users.created_at OR (o.created_at = users.created_at AND o.id < users.id)));
UPDATE users SET username_key = lower(username) WHERE username_key IS NULL;
CREATE UNIQUE INDEX users_by_name_key ON users(username_key);
-- Failed logins per (account, source) and per source ('*'): auth/login_throttle.hpp.
CREATE TABLE login_throttle (
  account TEXT{{C}} NOT NULL,
  source TEXT{{C}} NOT NULL,
  failures BIGINT NOT NULL,
  locks BIGINT NOT NULL,
  locked_until BIGINT,
  last_failure_at BIGINT NOT NULL,
  PRIMARY KEY (account, source)
);
CREATE INDEX login_throttle_last ON login_throttle(last_failure_at);
-- Single-use, short-lived tickets for URLs (auth tickets), bound to a session.
CREATE TABLE auth_tickets (
  ticket_hash TEXT PRIMARY KEY,
  purpose TEXT NOT NULL,
  user_id TEXT NOT NULL,
  session_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX auth_tickets_expiry ON auth_tickets(expires_at);
CREATE INDEX auth_tickets_user ON auth_tickets(user_id);
-- API key permissions (bits: 1 ingest, 2 read, 4 write). Keys made before keep what they could
-- do: ingest-only keys ingest, the others everything.
ALTER TABLE api_keys ADD COLUMN permissions BIGINT NOT NULL DEFAULT 7;
UPDATE api_keys SET permissions = 1 WHERE ingest_only = 1;
)SQL"},
      {12, "operations ledgers", R"SQL(
-- The kitchen's own records (src/operations): group-catering ledgers (电子台账) from purchase
-- to after the meal. Every table carries unit_id and the unit's jpath (moved with the unit);
-- every list reads (jpath, at) or (unit_id, at).
CREATE TABLE op_suppliers (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  name TEXT NOT NULL,
  uscc TEXT NOT NULL,
  licence_number TEXT,
  address TEXT,
  contact_person TEXT,
  contact_phone TEXT,
  qualification_expires_on BIGINT NOT NULL,
  file_ids TEXT NOT NULL DEFAULT '[]',
  at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX op_suppliers_scope ON op_suppliers(jpath, at);
CREATE INDEX op_suppliers_unit ON op_suppliers(unit_id, at);

-- 验收: one delivered batch checked at the door.
CREATE TABLE op_acceptances (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  supplier_id TEXT NOT NULL REFERENCES op_suppliers(id),
  item TEXT NOT NULL,
  spec TEXT,
  quantity {{REAL}} NOT NULL,
  unit_of_measure TEXT NOT NULL,
  batch_no TEXT,
  produced_on BIGINT NOT NULL,
  shelf_life_days BIGINT NOT NULL,
  expires_on BIGINT NOT NULL,
  sensory_ok BIGINT NOT NULL,
  sensory_note TEXT,
  file_ids TEXT NOT NULL DEFAULT '[]',
  inspector TEXT,
  at BIGINT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX op_acceptances_scope ON op_acceptances(jpath, at);
CREATE INDEX op_acceptances_unit ON op_acceptances(unit_id, at);

-- 退货单: at most one per failed acceptance (the unique index makes "exactly once" hold
-- under concurrency too).
CREATE TABLE op_return_notes (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  acceptance_id TEXT NOT NULL REFERENCES op_acceptances(id),
  supplier_id TEXT NOT NULL,
  item TEXT NOT NULL,
  quantity {{REAL}} NOT NULL,
  unit_of_measure TEXT NOT NULL,
  batch_no TEXT,
  reason TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE UNIQUE INDEX op_return_notes_once ON op_return_notes(acceptance_id);
CREATE INDEX op_return_notes_scope ON op_return_notes(jpath, at);
CREATE INDEX op_return_notes_unit ON op_return_notes(unit_id, at);

-- 入库: an accepted batch in stock; remaining goes down with each stock-out.
CREATE TABLE op_stock_batches (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  acceptance_id TEXT NOT NULL REFERENCES op_acceptances(id),
  supplier_id TEXT NOT NULL,
  item TEXT NOT NULL,
  spec TEXT,
  batch_no TEXT,
  quantity {{REAL}} NOT NULL,
  remaining {{REAL}} NOT NULL,
  unit_of_measure TEXT NOT NULL,
  produced_on BIGINT NOT NULL,
  shelf_life_days BIGINT NOT NULL,
  expires_on BIGINT NOT NULL,
  location TEXT,
  handler TEXT,
  at BIGINT NOT NULL
);
CREATE UNIQUE INDEX op_stock_batches_once ON op_stock_batches(acceptance_id);
CREATE INDEX op_stock_batches_scope ON op_stock_batches(jpath, at);
CREATE INDEX op_stock_batches_unit ON op_stock_batches(unit_id, at);
-- first-expiring-first: the live batches of one item in expiry order
CREATE INDEX op_stock_batches_fefo ON op_stock_batches(unit_id, item, expires_on, at) WHERE remaining > 0;

-- 出库
CREATE TABLE op_stock_outs (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  item TEXT NOT NULL,
  quantity {{REAL}} NOT NULL,
  unit_of_measure TEXT NOT NULL,
  department TEXT NOT NULL,
  receiver TEXT NOT NULL,
  handler TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX op_stock_outs_scope ON op_stock_outs(jpath, at);
CREATE INDEX op_stock_outs_unit ON op_stock_outs(unit_id, at);
CREATE TABLE op_stock_out_lines (
  stock_out_id TEXT NOT NULL REFERENCES op_stock_outs(id),
  batch_id TEXT NOT NULL REFERENCES op_stock_batches(id),
  unit_id TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  quantity {{REAL}} NOT NULL,
  PRIMARY KEY (stock_out_id, batch_id)
);

-- 留样
CREATE TABLE op_samples (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  dish TEXT NOT NULL,
  weight_g {{REAL}} NOT NULL,
  fridge_device_id TEXT,
  storage TEXT,
  fridge_temp_c {{REAL}},
  kept_at BIGINT NOT NULL,
  keeper TEXT NOT NULL,
  dispose_after BIGINT NOT NULL,
  disposed_at BIGINT,
  at BIGINT NOT NULL
);
CREATE INDEX op_samples_scope ON op_samples(jpath, at);
CREATE INDEX op_samples_unit ON op_samples(unit_id, at);

-- 配送: a trip and its hand-over (交付) signed by the receiving unit.
CREATE TABLE op_deliveries (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  client_name TEXT NOT NULL,
  destination TEXT NOT NULL,
  vehicle_plate TEXT NOT NULL,
  vehicle_device_id TEXT,
  driver TEXT NOT NULL,
  containers BIGINT NOT NULL,
  portions BIGINT NOT NULL,
  dispatched_at BIGINT NOT NULL,
  expected_at BIGINT,
  arrived_at BIGINT,
  handover_by TEXT,
  handover_place TEXT,
  handover_portions BIGINT,
  handover_temp_c {{REAL}},
  handover_note TEXT,
  handover_signature_id TEXT,
  state TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX op_deliveries_scope ON op_deliveries(jpath, at);
CREATE INDEX op_deliveries_unit ON op_deliveries(unit_id, at);

-- 餐次批次: what a meal was made of; trace_code is what the QR label carries.
CREATE TABLE op_meal_batches (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  dish TEXT NOT NULL,
  trace_code TEXT NOT NULL,
  sample_id TEXT REFERENCES op_samples(id),
  delivery_id TEXT REFERENCES op_deliveries(id),
  portions BIGINT,
  at BIGINT NOT NULL
);
CREATE UNIQUE INDEX op_meal_batches_code ON op_meal_batches(trace_code);
CREATE INDEX op_meal_batches_scope ON op_meal_batches(jpath, at);
CREATE INDEX op_meal_batches_unit ON op_meal_batches(unit_id, at);
CREATE TABLE op_meal_batch_inputs (
  meal_batch_id TEXT NOT NULL REFERENCES op_meal_batches(id),
  stock_out_id TEXT NOT NULL REFERENCES op_stock_outs(id),
  unit_id TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  PRIMARY KEY (meal_batch_id, stock_out_id)
);

-- The other ledgers (process, after-meal, people, equipment, inspections): one row per
-- record of a kind whose fields are defined in src/operations/ledgers.cpp; fields as JSON.
CREATE TABLE op_records (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  ledger TEXT NOT NULL,
  kind TEXT NOT NULL,
  fields TEXT NOT NULL,
  device_id TEXT,
  abnormal BIGINT NOT NULL DEFAULT 0,
  alert_id TEXT,
  at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX op_records_scope ON op_records(ledger, jpath, at);
CREATE INDEX op_records_unit ON op_records(ledger, unit_id, at);
)SQL"},
      {13, "reports and exchange", R"SQL(
-- 三书一函 templates per jurisdiction (src/reports): the nearest node up the tree wins.
CREATE TABLE document_templates (
  jurisdiction_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  org TEXT NOT NULL,
  signature TEXT NOT NULL,
  seal_file_id TEXT,
  updated_by TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (jurisdiction_id, kind)
);
-- Scheduled reports: claimed with a lease (lease_until) so one node runs each.
CREATE TABLE report_schedules (
  id TEXT PRIMARY KEY,
  report TEXT NOT NULL,
  jurisdiction_id TEXT,
  unit_id TEXT,
  jpath TEXT{{C}} NOT NULL,
  cron TEXT NOT NULL,
  recipients TEXT NOT NULL,
  created_by TEXT NOT NULL,
  enabled BIGINT NOT NULL DEFAULT 1,
  next_run_at BIGINT NOT NULL,
  lease_until BIGINT NOT NULL DEFAULT 0,
  last_run_at BIGINT,
  last_error TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX report_schedules_due ON report_schedules(next_run_at);
CREATE INDEX report_schedules_scope ON report_schedules(jpath);
-- The reports archive: every file made, with its digests (the bytes live in DATA/reports/).
CREATE TABLE report_archive (
  id TEXT PRIMARY KEY,
  schedule_id TEXT,
  report TEXT NOT NULL,
  title TEXT NOT NULL,
  filename TEXT NOT NULL,
  content_type TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  size BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  sm3 TEXT NOT NULL,
  period_from BIGINT NOT NULL,
  period_to BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX report_archive_scope ON report_archive(jpath, created_at);
CREATE TABLE report_deliveries (
  id TEXT PRIMARY KEY,
  archive_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  target TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  lease_until BIGINT NOT NULL DEFAULT 0,
  last_error TEXT,
  delivered_at BIGINT,
  created_at BIGINT NOT NULL
);
CREATE INDEX report_deliveries_archive ON report_deliveries(archive_id);
CREATE INDEX report_deliveries_due ON report_deliveries(state, next_attempt_at);
-- 数据上报, sending side: a cursor per upper platform and kind (units, cameras).
CREATE TABLE upstream_cursors (
  upstream TEXT NOT NULL,
  kind TEXT NOT NULL,
  at BIGINT NOT NULL,
  id TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (upstream, kind)
);
CREATE INDEX units_updated ON units(updated_at, id);
CREATE INDEX cameras_updated ON cameras(updated_at, id);
-- 数据上报, receiving side: batches and events seen (idempotency) and the mirrored objects,
-- owned by the sending key (source) and scoped by its jurisdiction path.
CREATE TABLE exchange_batches (
  source TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  items BIGINT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (source, batch_id)
);
CREATE TABLE exchange_events (
  source TEXT NOT NULL,
  event_id TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (source, event_id)
);
CREATE TABLE exchange_objects (
  source TEXT NOT NULL,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  version BIGINT NOT NULL,
  state TEXT,
  name TEXT,
  data TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (source, kind, id)
);
CREATE INDEX exchange_objects_scope ON exchange_objects(kind, jpath, version);
CREATE TABLE exchange_sources (
  source TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  last_batch_at BIGINT NOT NULL,
  batches BIGINT NOT NULL,
  items BIGINT NOT NULL
);
)SQL"},
      {14, "GB/T 28181 devices (issue 9)", R"SQL(
-- Devices that registered over SIP. A device is pending until bound to a unit (unit_id, jpath);
-- its catalog channels are the JSON array channels. Keepalives are kept in memory, not here.
CREATE TABLE gb_devices (
  device_id TEXT PRIMARY KEY,
  unit_id TEXT REFERENCES units(id),
  jpath TEXT{{C}},
  name TEXT,
  manufacturer TEXT,
  model TEXT,
  firmware TEXT,
  transport TEXT NOT NULL,
  remote TEXT NOT NULL,
  registered_at BIGINT NOT NULL,
  last_keepalive_at BIGINT,
  channels TEXT NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX gb_devices_unit ON gb_devices(unit_id);
CREATE INDEX gb_devices_jpath ON gb_devices(jpath);
CREATE INDEX cameras_gb_channel ON cameras(gb_channel_id) WHERE gb_channel_id IS NOT NULL;
)SQL"},
      {15, "vision", R"SQL(
-- The algorithm server (src/vision): per-camera AI settings (models, types on/off, scores,
-- zones, schedules; JSON checked by vision::parse_camera_ai) and uploaded custom models.
CREATE TABLE camera_ai (
  camera_id TEXT PRIMARY KEY REFERENCES cameras(id),
  config TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE vision_models (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  version BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  format TEXT NOT NULL,
  labels TEXT NOT NULL,
  classmap TEXT NOT NULL,
  path TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE UNIQUE INDEX vision_models_name_version ON vision_models(name, version);
)SQL"},
      {16, "retention (issue 13)", R"SQL(
-- Retention deletes the oldest rows of these append-only tables in small batches: by time,
-- not by key.
CREATE INDEX ingest_receipts_received ON ingest_receipts(received_at);
CREATE INDEX readings_at ON readings(at);
)SQL"},
      {17, "operations: sensor history, purchasing, stock counts, menus, delivery tracks", R"SQL(
-- Sensor history kept as hourly min/max/sum/count once raw readings pass operations.sensor_raw_days
-- (src/operations/sensors.cpp); rollups older than operations.sensor_rollup_days are dropped.
CREATE TABLE reading_rollups (
  device_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  bucket BIGINT NOT NULL,
  n BIGINT NOT NULL,
  min_value {{REAL}} NOT NULL,
  max_value {{REAL}} NOT NULL,
  sum_value {{REAL}} NOT NULL,
  PRIMARY KEY (device_id, metric, bucket)
);

-- 采购: request → approval → order (§6.1.1); each line keeps the price it was bought at and how
-- far that moved from the item's previous price.
CREATE TABLE op_purchase_orders (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  supplier_id TEXT NOT NULL REFERENCES op_suppliers(id),
  state TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  reason TEXT,
  needed_on BIGINT,
  total_amount {{REAL}} NOT NULL,
  decided_by TEXT,
  decision_note TEXT,
  decided_at BIGINT,
  ordered_at BIGINT,
  at BIGINT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX op_purchase_orders_scope ON op_purchase_orders(jpath, at);
CREATE INDEX op_purchase_orders_unit ON op_purchase_orders(unit_id, at);
CREATE TABLE op_purchase_lines (
  order_id TEXT NOT NULL REFERENCES op_purchase_orders(id),
  line_no BIGINT NOT NULL,
  unit_id TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  item TEXT NOT NULL,
  quantity {{REAL}} NOT NULL,
  unit_of_measure TEXT NOT NULL,
  unit_price {{REAL}} NOT NULL,
  previous_price {{REAL}},
  change_pct {{REAL}},
  price_jump BIGINT NOT NULL DEFAULT 0,
  at BIGINT NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
CREATE INDEX op_purchase_lines_item ON op_purchase_lines(unit_id, item, at);
CREATE INDEX op_purchase_lines_scope ON op_purchase_lines(jpath, at);

-- 盘点: what was counted against the book stock; lines as JSON.
CREATE TABLE op_stock_counts (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  counted_by TEXT NOT NULL,
  note TEXT,
  lines TEXT NOT NULL,
  differences BIGINT NOT NULL,
  at BIGINT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX op_stock_counts_scope ON op_stock_counts(jpath, at);
CREATE INDEX op_stock_counts_unit ON op_stock_counts(unit_id, at);

-- 菜品 and 食谱: dishes with ingredients, nutrition per portion entered by the unit, allergens;
-- a menu is a day's meal of dishes for a client unit.
CREATE TABLE op_dishes (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  name TEXT NOT NULL,
  ingredients TEXT NOT NULL,
  nutrition TEXT NOT NULL,
  allergens TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX op_dishes_scope ON op_dishes(jpath, at);
CREATE INDEX op_dishes_unit ON op_dishes(unit_id, at);
CREATE TABLE op_menus (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  client_name TEXT NOT NULL,
  day BIGINT NOT NULL,
  meal TEXT NOT NULL,
  dishes TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX op_menus_scope ON op_menus(jpath, at);
CREATE INDEX op_menus_unit ON op_menus(unit_id, day);

-- 配送轨迹: a trip's vehicle positions and temperatures, checked against its geofence.
CREATE TABLE op_delivery_points (
  delivery_id TEXT NOT NULL REFERENCES op_deliveries(id),
  unit_id TEXT NOT NULL,
  jpath TEXT{{C}} NOT NULL,
  at BIGINT NOT NULL,
  lat {{REAL}} NOT NULL,
  lng {{REAL}} NOT NULL,
  temperature_c {{REAL}},
  humidity_pct {{REAL}},
  off_route BIGINT NOT NULL DEFAULT 0,
  out_of_range BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (delivery_id, at)
);
-- the trip's geofence: {points: [[lat, lng]…], corridor_m, temp_min_c?, temp_max_c?}
ALTER TABLE op_deliveries ADD COLUMN route TEXT;
)SQL"},
      {18, "API keys limited to resources", R"SQL(
-- the collections (first path segment after /api/v1/) a key may use, comma-separated; '' = all
ALTER TABLE api_keys ADD COLUMN resources TEXT NOT NULL DEFAULT '';
)SQL"},
      {19, "alert lists by state", R"SQL(
-- "open and overdue in my province" (the console's filter, the monthly report's overdue list):
-- counted and listed from the index instead of visiting every alert of the scope
CREATE INDEX alerts_state_scope ON alerts(state, overdue, jpath, occurred_at);
)SQL"},
      {21, "GB/T 28181 cascade to upper platforms (issue 9)", R"SQL(
-- Upper platforms this node registers to as a lower platform (src/gb/cascade.cpp). password is
-- encrypted (FieldCipher, context "gb_upstreams.password") and never returned; jurisdiction_id
-- is the subtree whose cameras the upper sees (no foreign key: a jurisdiction deleted later
-- leaves an upstream that shares nothing, and does not block the deletion).
CREATE TABLE gb_upstreams (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  sip_id TEXT NOT NULL,
  domain TEXT NOT NULL,
  address TEXT NOT NULL,
  transport TEXT NOT NULL,
  password TEXT NOT NULL,
  local_sip_id TEXT NOT NULL,
  jurisdiction_id TEXT NOT NULL,
  keepalive_s BIGINT NOT NULL,
  enabled BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT
);
-- the stable serial of a camera that did not come from a GB device: its channel id towards an
-- upper is the first 10 digits of local_sip_id, type 131, and this serial in 7 digits
CREATE TABLE gb_cascade_channels (
  camera_id TEXT PRIMARY KEY,
  serial BIGINT NOT NULL UNIQUE
);
)SQL"},
      {22, "vision: evaluator figures per model, staff rosters", R"SQL(
-- `mingchu vision eval --json` reports posted for a model (the shipped one or an upload)
CREATE TABLE vision_evaluations (
  id TEXT PRIMARY KEY,
  model_id TEXT NOT NULL,
  dataset TEXT NOT NULL,
  report TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX vision_evaluations_model ON vision_evaluations(model_id, created_at);
-- a unit's staff roster: [{days: [1..7], from: "HH:MM", to: "HH:MM", staff_ids: [...]}] (stranger)
CREATE TABLE unit_rosters (
  unit_id TEXT PRIMARY KEY,
  shifts TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
)SQL"},
      {23, "operations: acceptances matched against orders, stock counts per batch, stock movements", R"SQL(
-- An acceptance may name the purchase order (and line) it receives; what differs from the
-- order is kept as JSON [{field, ordered, delivered}] and counted for the warnings.
ALTER TABLE op_acceptances ADD COLUMN purchase_order_id TEXT;
ALTER TABLE op_acceptances ADD COLUMN purchase_line_no BIGINT;
ALTER TABLE op_acceptances ADD COLUMN mismatches TEXT;
ALTER TABLE op_acceptances ADD COLUMN mismatch_count BIGINT NOT NULL DEFAULT 0;
CREATE INDEX op_acceptances_order ON op_acceptances(purchase_order_id);
ALTER TABLE op_purchase_lines ADD COLUMN received {{REAL}} NOT NULL DEFAULT 0;
ALTER TABLE op_purchase_orders ADD COLUMN received_at BIGINT;
-- 盘点 per batch: a count is taken (open) with each batch's book quantity and version, then
-- confirmed, which sets the batches to what was counted; every change to a batch's remaining
-- quantity bumps its version.
ALTER TABLE op_stock_batches ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE op_stock_counts ADD COLUMN state TEXT NOT NULL DEFAULT 'recorded';
ALTER TABLE op_stock_counts ADD COLUMN confirmed_at BIGINT;
ALTER TABLE op_stock_counts ADD COLUMN confirmed_by TEXT;
CREATE TABLE op_stock_movements (
  id TEXT PRIMARY KEY,
  unit_id TEXT NOT NULL REFERENCES units(id),
  jpath TEXT{{C}} NOT NULL,
  batch_id TEXT NOT NULL REFERENCES op_stock_batches(id),
  kind TEXT NOT NULL,
  quantity {{REAL}} NOT NULL,
  remaining_after {{REAL}} NOT NULL,
  ref_id TEXT,
  at BIGINT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX op_stock_movements_scope ON op_stock_movements(jpath, at);
CREATE INDEX op_stock_movements_unit ON op_stock_movements(unit_id, at);
CREATE INDEX op_stock_movements_batch ON op_stock_movements(batch_id, at);
)SQL"},
      {24, "operations: menus for a client unit's public page, vehicle devices bound to delivery trips", R"SQL(
-- the client unit (a school canteen receiving the meals) whose public page shows the menu
ALTER TABLE op_menus ADD COLUMN client_unit_id TEXT;
CREATE INDEX op_menus_client ON op_menus(client_unit_id, day);
-- the trip a vehicle's temperature/GPS device is on: its readings (MQTT or HTTP ingest) become
-- the track of its dispatched trip
CREATE INDEX op_deliveries_vehicle ON op_deliveries(vehicle_device_id, state);
)SQL"},
  };
  return kAll;
}

const std::vector<std::string_view>& unit_scoped_tables() {
  // Tables beside cameras and staff whose rows carry a unit's jpath (migration 12).
  static const std::vector<std::string_view> kTables = {
      "op_suppliers",   "op_acceptances",       "op_return_notes", "op_stock_batches",     "op_stock_outs",
      "op_stock_out_lines", "op_samples",       "op_deliveries",   "op_meal_batches",      "op_meal_batch_inputs",
      "op_records",     "op_purchase_orders",   "op_purchase_lines", "op_stock_counts",      "op_dishes",
      "op_menus",       "op_delivery_points", "op_stock_movements"};
  return kTables;
}

}  // namespace mingchu::storage
