// The supervision loop through HTTP, on `mingchu serve --demo --manual-clock`:
// ingest (single, batch, idempotent, deduplicated) → graded alert → dual push → rectification
// → review → dismissal and labels → deadlines and yellow/red cards → enforcement documents →
// heartbeats, offline and back online → devices and sensor thresholds → statistics; and a
// matrix of hostile events, each answered with a clear 4xx while good events keep flowing.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/alerts.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'

import { api, multipart, startServer } from './lib.mjs'
import { advance, eventId, ingest, loginAll, png, rfc3339, runScheduler, serverNow } from './alerts_lib.mjs'

let srv
let tok
let key // an ingest-only API key bound to the merchant's unit
let otherKey // an ingest-only API key bound to a unit of another district
const ids = {}

const call = (who, method, path, body, headers) => api(srv.base, tok[who], method, path, body, headers)
const now = () => serverNow(srv.base, tok.admin)

async function goodEvent(extra = {}) {
  const r = await ingest(srv.base, key, {
    event_id: eventId('good'),
    camera_id: ids.cam2,
    type: 'clutter',
    occurred_at: rfc3339(await now()),
    ...extra,
  })
  assert.equal(r.status, 202, `a good event still flows: ${r.text}`)
  return r.json
}

function expectError(r, status, code, field, context) {
  assert.equal(r.status, status, `${context}: expected ${status}, got ${r.status} ${r.text}`)
  assert.equal(typeof r.json?.error?.message, 'string', `${context}: error body: ${r.text}`)
  if (code) assert.equal(r.json.error.code, code, `${context}: ${r.text}`)
  if (field) assert.equal(r.json.error.field, field, `${context}: names the field: ${r.text}`)
}

async function inboxHas(who, alertId, topic = 'alert.created') {
  const r = await call(who, 'GET', '/api/v1/notifications?page_size=200')
  assert.equal(r.status, 200, r.text)
  return r.json.items.some((n) => n.alert_id === alertId && n.topic === topic)
}

async function timeline(alertId) {
  const r = await call('admin', 'GET', `/api/v1/alerts/${alertId}`)
  assert.equal(r.status, 200, r.text)
  return r.json.events.map((e) => e.type)
}

before(async () => {
  srv = await startServer({ demo: true, args: ['--manual-clock'] })
  tok = await loginAll(srv.base)
  const me = await call('merchant', 'GET', '/api/v1/me')
  ids.unit = me.json.unit_ids[0]
  const cams = await call('admin', 'GET', `/api/v1/cameras?unit_id=${ids.unit}&page_size=10`)
  assert.ok(cams.json.items.length >= 2, 'the demo unit has cameras')
  ids.cam1 = cams.json.items[0].id
  ids.cam2 = cams.json.items[1].id
  // a unit and camera of 通州区 (another district)
  const other = await call('otherDistrict', 'GET', '/api/v1/cameras?page_size=1')
  ids.otherCam = other.json.items[0].id
  ids.otherUnit = other.json.items[0].unit_id
  const k = await call('admin', 'POST', '/api/v1/api-keys', { name: 'AI box 1', scope: { unit_id: ids.unit, ingest_only: true } })
  assert.equal(k.status, 201, k.text)
  key = k.json.key
  const k2 = await call('admin', 'POST', '/api/v1/api-keys', { name: 'AI box 2', scope: { unit_id: ids.otherUnit, ingest_only: true } })
  otherKey = k2.json.key
})

after(async () => {
  await srv?.stop()
})

test('the taxonomy in force', async () => {
  const r = await call('merchant', 'GET', '/api/v1/alert-types')
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.total, 16)
  const byCode = Object.fromEntries(r.json.items.map((t) => [t.code, t]))
  assert.equal(byCode.rodent.risk_class, 1)
  assert.equal(byCode.rodent.name_zh, '老鼠出没')
  assert.equal(byCode.smoking.risk_class, 2)
  assert.equal(byCode.self_check_failed.risk_class, 3)
  assert.equal(byCode.no_mask.risk_class, 3)
  assert.equal(byCode.no_mask.deadline_days, null)
  assert.equal(byCode.rodent.deadline_days, 7)
  assert.deepEqual(r.json.cards, { yellow_days: 5, red_days: 10 })
})

test('an event becomes one graded alert, pushed to the unit and its regulators at once', async () => {
  const t = await now()
  const first = { event_id: eventId('rat'), camera_id: ids.cam1, type: 'rodent', occurred_at: rfc3339(t), confidence: 0.94,
    model: 'yolov8n-kitchen-1.3', boxes: [{ x: 12, y: 30, w: 40, h: 22, label: 'rat', score: 0.94 }],
    snapshot_base64: png(1).toString('base64') }
  const r = await ingest(srv.base, key, first)
  assert.equal(r.status, 202, r.text)
  assert.equal(r.json.merged, false)
  assert.match(r.json.alert_id, /^alert_/)
  ids.rat = r.json.alert_id

  const retry = await ingest(srv.base, key, first)
  assert.equal(retry.status, 202)
  assert.equal(retry.json.alert_id, ids.rat, 'the same event_id: the same alert')
  assert.equal(retry.json.duplicate, true)
  const receipt = await api(srv.base, null, 'GET', `/api/v1/ingest/alerts/${first.event_id}`, undefined, { 'x-api-key': key })
  assert.equal(receipt.status, 200, receipt.text)
  assert.equal(receipt.json.alert_id, ids.rat)

  const again = await ingest(srv.base, key, { ...first, event_id: eventId('rat'), occurred_at: rfc3339(t + 60e3),
    snapshot_base64: png(2).toString('base64') })
  assert.equal(again.json.merged, true, 'same unit, camera and type inside the window')
  assert.equal(again.json.alert_id, ids.rat)

  const d = await call('merchant', 'GET', `/api/v1/alerts/${ids.rat}`)
  assert.equal(d.status, 200, d.text)
  assert.equal(d.json.risk_class, 1)
  assert.equal(d.json.state, 'open')
  assert.equal(d.json.capture_count, 2)
  assert.equal(d.json.snapshot_ids.length, 2)
  assert.equal(d.json.boxes[0].label, 'rat')
  assert.ok(d.json.due_at, 'class 1 has a deadline')
  assert.equal(Date.parse(d.json.due_at) - Date.parse(d.json.created_at), 7 * 86400e3)
  assert.deepEqual(d.json.events.map((e) => e.type), ['created', 'notified', 'merged'])
  assert.equal(d.json.events[0].actor.role, 'api_key')

  // the snapshot is the unit's file: its regulator can download it
  const img = await call('station', 'GET', `/api/v1/files/${d.json.snapshot_ids[0]}`)
  assert.equal(img.status, 200)
  assert.ok(img.bytes.equals(png(1)))

  // dual push (双推送): the merchant and every regulator whose jurisdiction holds the unit
  for (const who of ['merchant', 'station', 'district', 'city']) assert.ok(await inboxHas(who, ids.rat), `${who} was told`)
  assert.equal(await inboxHas('otherDistrict', ids.rat), false, 'another district was not')
  const inbox = await call('merchant', 'GET', '/api/v1/notifications?unread=true')
  assert.ok(inbox.json.unread >= 1)
  const n = inbox.json.items.find((x) => x.alert_id === ids.rat)
  assert.match(n.title, /一类预警.*老鼠出没/)
  const read = await call('merchant', 'POST', `/api/v1/notifications/${n.id}/read`)
  assert.equal(read.status, 200)
  assert.equal(read.json.read, true)
  expectError(await call('city', 'POST', `/api/v1/notifications/${n.id}/read`), 404, null, null, 'another user\'s notification')

  // scope of reads
  expectError(await call('otherDistrict', 'GET', `/api/v1/alerts/${ids.rat}`), 404, null, null, 'out of scope')
  const list = await call('station', 'GET', `/api/v1/alerts?unit_id=${ids.unit}&type=rodent`)
  assert.ok(list.json.items.some((a) => a.id === ids.rat))
  const none = await call('otherDistrict', 'GET', `/api/v1/alerts?type=rodent`)
  assert.ok(!none.json.items.some((a) => a.id === ids.rat))
})

test('hostile events get a clear 4xx and never stop good ones', async () => {
  const t = rfc3339(await now())
  const base = { camera_id: ids.cam1, type: 'smoking', occurred_at: t }
  const cases = [
    ['bad JSON', () => ingest(srv.base, key, '{"event_id": "x", oops'), 400, 'malformed_json', null],
    ['not JSON at all', () => ingest(srv.base, key, Buffer.from([0xff, 0xfe, 0x00, 0x01])), 400, null, null],
    ['wrong content type', () => ingest(srv.base, key, '{}', { 'content-type': 'text/plain' }), 415, null, null],
    ['no API key', () => api(srv.base, null, 'POST', '/api/v1/ingest/alerts', { ...base, event_id: eventId() }), 401, null, null],
    ['a revoked-looking key', () => ingest(srv.base, 'mck_not_a_real_key_at_all_0000000', { ...base, event_id: eventId() }), 401, null, null],
    ['unknown camera', () => ingest(srv.base, key, { ...base, event_id: eventId(), camera_id: 'cam_0000000000000000' }), 404, 'unknown_camera', 'camera_id'],
    ['camera of another unit than the key\'s', () => ingest(srv.base, key, { ...base, event_id: eventId(), camera_id: ids.otherCam }), 404, 'unknown_camera', 'camera_id'],
    ['a unit outside the key\'s scope', () => ingest(srv.base, key, { ...base, event_id: eventId(), unit_id: ids.otherUnit }), 404, null, 'unit_id'],
    ['far-future timestamp', () => ingest(srv.base, key, { ...base, event_id: eventId(), occurred_at: '2099-01-01T00:00:00+08:00' }), 422, 'time_in_future', 'occurred_at'],
    ['ancient timestamp', () => ingest(srv.base, key, { ...base, event_id: eventId(), occurred_at: '2001-01-01T00:00:00+08:00' }), 422, 'time_too_old', 'occurred_at'],
    ['not a time', () => ingest(srv.base, key, { ...base, event_id: eventId(), occurred_at: 'now' }), 422, 'invalid_time', 'occurred_at'],
    ['unknown type', () => ingest(srv.base, key, { ...base, event_id: eventId(), type: 'ufo' }), 422, 'unknown_type', 'type'],
    ['huge snapshot (3 MB)', () => ingest(srv.base, key, { ...base, event_id: eventId(), snapshot_base64: Buffer.alloc(3 * 1024 * 1024, 7).toString('base64') }), 413, 'snapshot_too_large', 'snapshot_base64'],
    ['fake image (HTML)', () => ingest(srv.base, key, { ...base, event_id: eventId(), snapshot_base64: Buffer.from('<script>alert(1)</script>').toString('base64') }), 415, 'unsupported_media_type', 'snapshot_base64'],
    ['not base64', () => ingest(srv.base, key, { ...base, event_id: eventId(), snapshot_base64: '%%%%' }), 422, 'malformed_base64', 'snapshot_base64'],
    ['snapshot id of nothing', () => ingest(srv.base, key, { ...base, event_id: eventId(), snapshot_id: 'file_0000000000000000' }), 422, 'unknown_file', 'snapshot_id'],
    ['too many boxes', () => ingest(srv.base, key, { ...base, event_id: eventId(), boxes: Array(51).fill({ x: 1, y: 1, w: 1, h: 1 }) }), 422, null, 'boxes'],
    ['negative box', () => ingest(srv.base, key, { ...base, event_id: eventId(), boxes: [{ x: -5, y: 1, w: 1, h: 1 }] }), 422, null, 'boxes[0].x'],
    ['confidence 7', () => ingest(srv.base, key, { ...base, event_id: eventId(), confidence: 7 }), 422, null, 'confidence'],
    ['event id with spaces', () => ingest(srv.base, key, { ...base, event_id: 'a b c' }), 422, 'invalid_event_id', 'event_id'],
    ['event id of 200 chars', () => ingest(srv.base, key, { ...base, event_id: 'x'.repeat(200) }), 422, null, 'event_id'],
    ['unknown field', () => ingest(srv.base, key, { ...base, event_id: eventId(), sql: "'; DROP TABLE alerts; --" }), 422, 'unknown_field', 'sql'],
    ['a batch of 1001', () => ingest(srv.base, key, { events: Array(1001).fill({}) }), 422, null, 'events'],
    ['an empty batch', () => ingest(srv.base, key, { events: [] }), 422, null, 'events'],
  ]
  for (const [name, send, status, code, field] of cases) {
    expectError(await send(), status, code, field, name)
    await goodEvent()
  }
  // an ingest-only key reads nothing
  expectError(await api(srv.base, null, 'GET', '/api/v1/alerts', undefined, { 'x-api-key': key }), 403, null, null, 'ingest-only key')
  assert.ok(srv.alive())
})

test('a batch answers each event with its own result (207 when mixed)', async () => {
  const t = rfc3339(await now())
  const good = { event_id: eventId('b'), camera_id: ids.cam2, type: 'no_gloves', occurred_at: t }
  const r = await ingest(srv.base, key, {
    events: [good, { ...good, event_id: eventId('b'), camera_id: ids.otherCam }, { ...good }, 42,
      { ...good, event_id: eventId('b'), type: 'ufo' }],
  })
  assert.equal(r.status, 207, r.text)
  const [a, b, c, d, e] = r.json.results
  assert.equal(a.status, 202)
  assert.equal(a.event_id, good.event_id)
  assert.equal(b.status, 404)
  assert.equal(b.error.code, 'unknown_camera')
  assert.equal(c.status, 202)
  assert.equal(c.alert_id, a.alert_id)
  assert.equal(c.duplicate, true, 'the same event twice in one batch')
  assert.equal(d.status, 422)
  assert.equal(e.status, 422)
  assert.equal(r.json.accepted, 2)
  assert.equal(r.json.rejected, 3)
  const all = await ingest(srv.base, key, { events: Array.from({ length: 200 }, (_, i) => ({ ...good, event_id: eventId(`bulk${i}`) })) })
  assert.equal(all.status, 202, all.text)
  assert.ok(all.json.results.every((x) => x.status === 202 && x.alert_id === a.alert_id && x.merged))
})

test('rectification, rejection, approval — and every illegal transition is 409', async () => {
  const id = ids.rat
  // the merchant uploads a photo of the fix
  const up = multipart([{ name: 'file', filename: 'fixed.png', contentType: 'image/png', data: png(77) }])
  const file = await call('merchant', 'POST', '/api/v1/files', up.body, { 'content-type': up.contentType })
  assert.equal(file.status, 201, file.text)

  expectError(await call('district', 'POST', `/api/v1/alerts/${id}/review`, { decision: 'approve' }), 409, 'illegal_transition', null, 'review while open')
  expectError(await call('district', 'POST', `/api/v1/alerts/${id}/rectifications`, { text: 'x' }), 403, null, null, 'a regulator rectifying')
  expectError(await call('merchant', 'POST', `/api/v1/alerts/${id}/rectifications`, { text: '' }), 422, null, 'text', 'empty text')
  expectError(await call('merchant', 'POST', `/api/v1/alerts/${id}/rectifications`, { text: 'x'.repeat(2001) }), 422, null, 'text', 'text too long')
  expectError(await call('merchant', 'POST', `/api/v1/alerts/${id}/rectifications`, { text: 'x', photo_ids: Array(10).fill(file.json.id) }), 422, null, 'photo_ids', 'ten photos')
  expectError(await call('merchant', 'POST', `/api/v1/alerts/${id}/rectifications`, { text: 'x', photo_ids: ['file_0000000000000000'] }), 422, null, 'photo_ids[0]', 'unknown photo')

  const sub = await call('merchant', 'POST', `/api/v1/alerts/${id}/rectifications`, { text: '已封堵排水口并放置捕鼠笼', photo_ids: [file.json.id] })
  assert.equal(sub.status, 200, sub.text)
  assert.equal(sub.json.state, 'submitted')
  assert.ok(await inboxHas('station', id, 'alert.updated'), 'the regulators are told')
  const photo = await call('district', 'GET', `/api/v1/files/${file.json.id}`)
  assert.equal(photo.status, 200, 'the rectification photo became the unit\'s: regulators see it')

  expectError(await call('merchant', 'POST', `/api/v1/alerts/${id}/rectifications`, { text: 'again' }), 409, 'illegal_transition', null, 'rectify while submitted')
  expectError(await call('otherDistrict', 'POST', `/api/v1/alerts/${id}/review`, { decision: 'approve' }), 404, null, null, 'another district')
  expectError(await call('merchant', 'POST', `/api/v1/alerts/${id}/review`, { decision: 'approve' }), 403, null, null, 'a merchant reviewing')
  expectError(await call('district', 'POST', `/api/v1/alerts/${id}/review`, { decision: 'reject' }), 422, null, 'comment', 'reject without a comment')
  expectError(await call('district', 'POST', `/api/v1/alerts/${id}/review`, { decision: 'maybe' }), 422, null, 'decision', 'a bad decision')

  const rej = await call('district', 'POST', `/api/v1/alerts/${id}/review`, { decision: 'reject', comment: '照片看不清，请补拍' })
  assert.equal(rej.status, 200, rej.text)
  assert.equal(rej.json.state, 'open')
  assert.ok(await inboxHas('merchant', id, 'alert.updated'), 'the unit is told')
  const sub2 = await call('merchant', 'POST', `/api/v1/alerts/${id}/rectifications`, { text: '补拍照片', photo_ids: [file.json.id] })
  assert.equal(sub2.json.state, 'submitted')
  const ok = await call('station', 'POST', `/api/v1/alerts/${id}/review`, { decision: 'approve', comment: '整改到位' })
  assert.equal(ok.status, 200, ok.text)
  assert.equal(ok.json.state, 'closed')

  const e409 = await call('station', 'POST', `/api/v1/alerts/${id}/review`, { decision: 'approve' })
  expectError(e409, 409, 'illegal_transition', null, 'review a closed alert')
  assert.match(e409.json.error.message, /closed/)
  expectError(await call('station', 'POST', `/api/v1/alerts/${id}/dismiss`, { reason: 'x' }), 409, 'illegal_transition', null, 'dismiss a closed alert')
  expectError(await call('merchant', 'POST', `/api/v1/alerts/${id}/rectifications`, { text: 'x' }), 409, 'illegal_transition', null, 'rectify a closed alert')

  const d = await call('merchant', 'GET', `/api/v1/alerts/${id}`)
  assert.deepEqual(d.json.events.map((e) => e.type),
    ['created', 'notified', 'merged', 'rectification_submitted', 'rejected', 'rectification_submitted', 'approved', 'closed'])
  const rejected = d.json.events.find((e) => e.type === 'rejected')
  assert.equal(rejected.comment, '照片看不清，请补拍')
  assert.equal(rejected.actor.role, 'regulator')
  assert.equal(d.json.rectifications.length, 2)
  assert.deepEqual(d.json.rectifications[0].photo_ids, [file.json.id])

  const audit = await call('admin', 'GET', '/api/v1/audit?action=alert.&page_size=200')
  assert.equal(audit.status, 200, audit.text)
  const actions = audit.json.items.filter((e) => e.target === `alert:${id}`).map((e) => e.action)
  for (const a of ['alert.create', 'alert.rectify', 'alert.reject', 'alert.approve']) assert.ok(actions.includes(a), `audit has ${a}: ${actions}`)
})

test('dismissal as a false positive is kept as an exportable label', async () => {
  const t = rfc3339(await now())
  const r = await ingest(srv.base, key, { event_id: eventId('fp'), camera_id: ids.cam2, type: 'smoking', occurred_at: t,
    model: 'smoke-det-2.0', snapshot_base64: png(9).toString('base64') })
  const id = r.json.alert_id
  expectError(await call('merchant', 'POST', `/api/v1/alerts/${id}/dismiss`, { reason: 'x' }), 403, null, null, 'a merchant dismissing')
  expectError(await call('district', 'POST', `/api/v1/alerts/${id}/dismiss`, {}), 422, null, 'reason', 'no reason')
  const d = await call('district', 'POST', `/api/v1/alerts/${id}/dismiss`, { reason: '误报：灶台蒸汽' })
  assert.equal(d.status, 200, d.text)
  assert.equal(d.json.state, 'dismissed')
  expectError(await call('district', 'POST', `/api/v1/alerts/${id}/dismiss`, { reason: 'again' }), 409, 'illegal_transition', null, 'dismiss twice')

  const labels = await call('city', 'GET', '/api/v1/labels/false-positives')
  assert.equal(labels.status, 200, labels.text)
  const mine = labels.json.items.find((l) => l.alert_id === id)
  assert.ok(mine, 'the label is exported')
  assert.equal(mine.reason, '误报：灶台蒸汽')
  assert.equal(mine.model, 'smoke-det-2.0')
  assert.equal(mine.snapshot_ids.length, 1)
  const jsonl = await call('city', 'GET', '/api/v1/labels/false-positives?format=jsonl')
  assert.match(jsonl.headers.get('content-type'), /ndjson/)
  assert.ok(jsonl.text.trim().split('\n').map((l) => JSON.parse(l)).some((l) => l.alert_id === id))
  const outside = await call('otherDistrict', 'GET', '/api/v1/labels/false-positives')
  assert.ok(!outside.json.items.some((l) => l.alert_id === id), 'labels are scoped')
})

test('deadlines and yellow/red cards with the manual clock; enforcement documents', async () => {
  const t = await now()
  const r = await ingest(srv.base, key, { event_id: eventId('pest'), camera_id: ids.cam1, type: 'pest', occurred_at: rfc3339(t) })
  const pest = r.json.alert_id
  const r2 = await ingest(srv.base, key, { event_id: eventId('phone'), camera_id: ids.cam1, type: 'phone_use', occurred_at: rfc3339(t) })
  const phone = r2.json.alert_id

  await advance(srv.base, tok.admin, 5 * 86400 - 60)
  tok = await loginAll(srv.base) // sessions idled out while time flew
  await runScheduler(srv.base, tok.admin)
  let a = await call('city', 'GET', `/api/v1/alerts/${pest}`)
  assert.equal(a.json.card, null, 'not yet: 5 days minus a minute')

  await advance(srv.base, tok.admin, 120)
  await runScheduler(srv.base, tok.admin)
  a = await call('city', 'GET', `/api/v1/alerts/${pest}`)
  assert.equal(a.json.card, 'yellow')
  const yellow = await call('city', 'GET', '/api/v1/alerts?card=yellow&page_size=200')
  assert.ok(yellow.json.items.some((x) => x.id === pest))
  assert.ok(await inboxHas('merchant', pest, 'alert.card'), 'the unit is told of the card')
  assert.ok(await inboxHas('district', pest, 'alert.card'), 'and its regulator')

  await advance(srv.base, tok.admin, 2 * 86400 + 120) // past the 7-day deadline
  tok = await loginAll(srv.base)
  await runScheduler(srv.base, tok.admin)
  a = await call('city', 'GET', `/api/v1/alerts/${phone}`)
  assert.equal(a.json.overdue, true, 'class 2 past its deadline')
  assert.equal(a.json.card, null, 'class 2 gets no card')
  const overdue = await call('city', 'GET', '/api/v1/alerts?overdue=true&page_size=200')
  assert.ok(overdue.json.items.some((x) => x.id === phone))

  await advance(srv.base, tok.admin, 3 * 86400)
  tok = await loginAll(srv.base)
  await runScheduler(srv.base, tok.admin)
  await runScheduler(srv.base, tok.admin)
  a = await call('city', 'GET', `/api/v1/alerts/${pest}`)
  assert.equal(a.json.card, 'red')
  const types = a.json.events.map((e) => e.type)
  assert.equal(types.filter((x) => x === 'card_yellow').length, 1, 'once each')
  assert.equal(types.filter((x) => x === 'card_red').length, 1, 'once each')
  assert.ok(types.includes('overdue'))

  // the red card triggers offline enforcement: the regulator records 三书一函
  const doc = { kind: 'rectification_order', number: '崇市监责改〔2026〕88号', issued_on: '2026-12-03' }
  expectError(await call('merchant', 'POST', `/api/v1/alerts/${pest}/documents`, doc), 403, null, null, 'a merchant issuing')
  expectError(await call('district', 'POST', `/api/v1/alerts/${pest}/documents`, { ...doc, kind: 'poem' }), 422, null, 'kind', 'bad kind')
  expectError(await call('district', 'POST', `/api/v1/alerts/${pest}/documents`, { ...doc, issued_on: '03/12/2026' }), 422, null, 'issued_on', 'bad date')
  const created = await call('district', 'POST', `/api/v1/alerts/${pest}/documents`, doc)
  assert.equal(created.status, 201, created.text)
  const detail = await call('merchant', 'GET', `/api/v1/alerts/${pest}`)
  assert.equal(detail.json.documents.length, 1)
  assert.equal(detail.json.documents[0].number, doc.number)
  assert.equal(detail.json.documents[0].issued_on, '2026-12-03')
})

test('a silent camera raises camera_offline; its return closes it', async () => {
  const hb = (camera_id) => api(srv.base, null, 'POST', '/api/v1/ingest/heartbeats', { camera_id }, { 'x-api-key': key })
  let r = await hb(ids.cam2)
  assert.equal(r.status, 202, r.text)
  expectError(await hb(ids.otherCam), 404, null, 'camera_id', 'a heartbeat for another unit\'s camera')
  expectError(await api(srv.base, null, 'POST', '/api/v1/ingest/heartbeats', {}, { 'x-api-key': key }), 422, null, 'camera_id', 'empty heartbeat')
  await advance(srv.base, tok.admin, 6 * 60)
  tok = await loginAll(srv.base)
  await runScheduler(srv.base, tok.admin) // (or the background tick got there first)
  const cam = await call('station', 'GET', `/api/v1/cameras/${ids.cam2}`)
  assert.equal(cam.json.status, 'offline')
  const list = await call('station', 'GET', `/api/v1/alerts?camera_id=${ids.cam2}&type=camera_offline&state=open`)
  assert.equal(list.json.total, 1, list.text)
  const id = list.json.items[0].id
  assert.ok(await inboxHas('merchant', id))

  r = await hb(ids.cam2)
  assert.equal(r.status, 202)
  const d = await call('station', 'GET', `/api/v1/alerts/${id}`)
  assert.equal(d.json.state, 'closed')
  assert.equal(d.json.events.at(-1).type, 'closed')
  assert.equal((await call('station', 'GET', `/api/v1/cameras/${ids.cam2}`)).json.status, 'online')
})

test('devices and sensor readings: a breach that lasts raises sensor_out_of_range', async () => {
  expectError(await call('merchant', 'POST', '/api/v1/devices', { unit_id: ids.unit, name: '冷冻库', kind: 'freezer' }), 403, null, null, 'a merchant adding a device')
  expectError(await call('district', 'POST', '/api/v1/devices', { unit_id: ids.unit, name: '冷冻库', kind: 'toaster' }), 422, null, 'kind', 'unknown kind')
  expectError(await call('otherDistrict', 'POST', '/api/v1/devices', { unit_id: ids.unit, name: '冷冻库', kind: 'freezer' }), 422, null, 'unit_id', 'a unit outside scope')
  const dev = await call('district', 'POST', '/api/v1/devices', { unit_id: ids.unit, name: '冷冻库 1', kind: 'freezer' })
  assert.equal(dev.status, 201, dev.text)
  const list = await call('merchant', 'GET', `/api/v1/devices?unit_id=${ids.unit}`)
  assert.ok(list.json.items.some((d) => d.id === dev.json.id), 'the merchant sees the unit\'s devices')
  expectError(await call('otherDistrict', 'GET', `/api/v1/devices/${dev.json.id}`), 404, null, null, 'out of scope')

  const reading = async (value) => api(srv.base, null, 'POST', '/api/v1/ingest/readings',
    { device_id: dev.json.id, at: rfc3339(await now()), metrics: { temperature_c: value, humidity_pct: 50 } }, { 'x-api-key': key })
  assert.equal((await reading(-12)).status, 202)
  await advance(srv.base, tok.admin, 11 * 60)
  tok = await loginAll(srv.base)
  assert.equal((await reading(-11)).status, 202)
  const alerts = await call('station', 'GET', `/api/v1/alerts?type=sensor_out_of_range&unit_id=${ids.unit}`)
  assert.equal(alerts.json.total, 1, alerts.text)
  assert.equal(alerts.json.items[0].device_id, dev.json.id)
  const d = await call('station', 'GET', `/api/v1/alerts/${alerts.json.items[0].id}`)
  assert.ok(d.json.events.some((e) => e.type === 'threshold' && /temperature_c/.test(e.comment)))
  expectError(await api(srv.base, null, 'POST', '/api/v1/ingest/readings', { device_id: dev.json.id, at: rfc3339(await now()), metrics: { temperature_c: 1 } },
    { 'x-api-key': otherKey }), 404, null, 'device_id', 'another unit\'s key')
  const patch = await call('district', 'PATCH', `/api/v1/devices/${dev.json.id}`, { thresholds: { temperature_c: { max: -10 } } })
  assert.equal(patch.status, 200, patch.text)
  assert.deepEqual(patch.json.thresholds, { temperature_c: { max: -10 } })
  assert.equal((await call('district', 'DELETE', `/api/v1/devices/${dev.json.id}`)).status, 204)
  assert.equal((await call('district', 'GET', `/api/v1/devices/${dev.json.id}`)).status, 404)
})

test('statistics overview is scoped and adds up', async () => {
  const to = rfc3339(await now() + 1000)
  const from = rfc3339(Date.parse(to) - 30 * 86400e3)
  const q = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`
  const city = await call('city', 'GET', `/api/v1/stats/overview?${q}`)
  assert.equal(city.status, 200, city.text)
  const o = city.json
  for (const k of ['units', 'units_with_alerts', 'alerts_total', 'alerts_per_unit', 'handled', 'handling_rate', 'by_type',
    'by_risk_class', 'by_day', 'top_units', 'cameras_total', 'cameras_online']) assert.ok(k in o, `has ${k}`)
  assert.equal(o.units, 200)
  const listed = await call('city', 'GET', `/api/v1/alerts?${q}&page_size=1`)
  assert.equal(o.alerts_total, listed.json.total, 'the same alerts as the list')
  assert.equal(Object.values(o.by_type).reduce((a, b) => a + b, 0), o.alerts_total)
  assert.equal(Object.values(o.by_risk_class).reduce((a, b) => a + b, 0), o.alerts_total)
  assert.equal(o.by_day.reduce((a, d) => a + d.count, 0), o.alerts_total)
  assert.ok(o.by_day.length === 31 || o.by_day.length === 30, `by_day lists every day: ${o.by_day.length}`)
  assert.ok(o.top_units.length <= 10)
  for (let i = 1; i < o.top_units.length; i++) assert.ok(o.top_units[i - 1].count >= o.top_units[i].count, 'top units ranked')
  const closedOrDismissed = (await call('city', 'GET', `/api/v1/alerts?${q}&state=closed&page_size=1`)).json.total +
    (await call('city', 'GET', `/api/v1/alerts?${q}&state=dismissed&page_size=1`)).json.total
  assert.equal(o.handled, closedOrDismissed)

  const merchant = await call('merchant', 'GET', `/api/v1/stats/overview?${q}`)
  assert.equal(merchant.json.units, 1)
  assert.equal(merchant.json.top_units[0].unit_id, ids.unit)
  const other = await call('otherDistrict', 'GET', `/api/v1/stats/overview?${q}`)
  assert.ok(!other.json.top_units.some((u) => u.unit_id === ids.unit), 'scoped')
  const me = await call('station', 'GET', '/api/v1/me')
  expectError(await call('otherDistrict', 'GET', `/api/v1/stats/overview?jurisdiction_id=${me.json.jurisdiction_id}`), 422, null,
    'jurisdiction_id', 'a jurisdiction outside the scope')
  expectError(await call('city', 'GET', '/api/v1/stats/overview?from=yesterday'), 422, null, 'from', 'a bad time')
})
