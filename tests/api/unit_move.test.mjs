// A unit that moves to another jurisdiction takes everything of it along (issue 13 item 1):
// after the move the old district's regulator sees none of the unit, its cameras, devices,
// staff, alerts and statistics, and the new district's regulator sees all of them; deleting
// the unit takes its devices, cameras and staff out of every list.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/unit_move.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'

import { ADMIN, api, idNumber, login, startServer, uscc } from './lib.mjs'
import { eventId, ingest, rfc3339 } from './alerts_lib.mjs'

let srv
const tok = {}
const ids = {}
const call = (who, method, path, body) => api(srv.base, tok[who], method, path, body)

async function createUser(username, role, extra) {
  const password = 'Pw@2026!' + username.slice(0, 2).toUpperCase() + 'q'
  const r = await call('admin', 'POST', '/api/v1/users', { username, password, display_name: username, role, ...extra })
  assert.equal(r.status, 201, `create user ${username}: ${r.text}`)
  tok[username] = await login(srv.base, username, password)
}

before(async () => {
  srv = await startServer()
  tok.admin = await login(srv.base, ADMIN.username, ADMIN.password)
  const jur = async (parent_id, level, code, name) => {
    const r = await call('admin', 'POST', '/api/v1/jurisdictions', { parent_id, level, code, name })
    assert.equal(r.status, 201, `jurisdiction ${code}: ${r.text}`)
    return r.json.id
  }
  ids.province = await jur(undefined, 'province', '320000', '江苏省')
  ids.city = await jur(ids.province, 'city', '320600', '南通市')
  ids.distA = await jur(ids.city, 'district', '320602', '崇川区')
  ids.distB = await jur(ids.city, 'district', '320612', '通州区')
  await createUser('cityreg', 'regulator', { jurisdiction_id: ids.city })
  await createUser('rega', 'regulator', { jurisdiction_id: ids.distA })
  await createUser('regb', 'regulator', { jurisdiction_id: ids.distB })

  const unit = await call('rega', 'POST', '/api/v1/units', {
    name: '南通小学食堂', jurisdiction_id: ids.distA, store_type: 'school_canteen',
    licence_number: 'JY13206020012345', uscc: uscc(1),
  })
  assert.equal(unit.status, 201, unit.text)
  ids.unit = unit.json.id
  const stay = await call('rega', 'POST', '/api/v1/units', {
    name: '崇川饭店', jurisdiction_id: ids.distA, store_type: 'social_catering', licence_number: 'JY13206020012346', uscc: uscc(2),
  })
  assert.equal(stay.status, 201, stay.text)
  ids.stay = stay.json.id
  const cam = await call('rega', 'POST', '/api/v1/cameras', { unit_id: ids.unit, name: '后厨', area: 'cooking' })
  assert.equal(cam.status, 201, cam.text)
  ids.cam = cam.json.id
  const dev = await call('rega', 'POST', '/api/v1/devices', { unit_id: ids.unit, name: '冷藏柜', kind: 'refrigerator' })
  assert.equal(dev.status, 201, dev.text)
  ids.dev = dev.json.id
  const staff = await call('rega', 'POST', '/api/v1/staff', {
    unit_id: ids.unit, name: '张三', id_number: idNumber(1), health_cert: { number: 'JK-1', issued_on: '2026-01-01', expires_on: '2030-01-01' },
  })
  assert.equal(staff.status, 201, staff.text)
  ids.staff = staff.json.id
  const key = await call('admin', 'POST', '/api/v1/api-keys', { name: 'box', scope: { unit_id: ids.unit, ingest_only: true } })
  assert.equal(key.status, 201, key.text)
  ids.key = key.json.key
  const ev = await ingest(srv.base, ids.key, { event_id: eventId(), camera_id: ids.cam, type: 'smoking', occurred_at: rfc3339(Date.now() - 60e3) })
  assert.equal(ev.status, 202, ev.text)
  ids.alert = ev.json.alert_id
})

after(async () => {
  await srv?.stop()
})

/** What a regulator sees of the unit: status of each object and the list totals. */
async function view(who) {
  const st = async (path) => (await call(who, 'GET', path)).status
  const total = async (path) => {
    const r = await call(who, 'GET', path)
    assert.equal(r.status, 200, `${who} ${path}: ${r.text}`)
    return r.json.total
  }
  const from = rfc3339(Date.now() - 2 * 86400e3).slice(0, 10)
  const to = rfc3339(Date.now() + 86400e3).slice(0, 10)
  const stats = await call(who, 'GET', `/api/v1/stats/overview?from=${from}&to=${to}`)
  assert.equal(stats.status, 200, stats.text)
  return {
    unit: await st(`/api/v1/units/${ids.unit}`),
    camera: await st(`/api/v1/cameras/${ids.cam}`),
    device: await st(`/api/v1/devices/${ids.dev}`),
    staff: await st(`/api/v1/staff/${ids.staff}`),
    alert: await st(`/api/v1/alerts/${ids.alert}`),
    cameras: await total(`/api/v1/cameras?unit_id=${ids.unit}`),
    devices: await total('/api/v1/devices'),
    staffList: await total('/api/v1/staff'),
    alerts: await total('/api/v1/alerts'),
    statsAlerts: stats.json.alerts_total,
  }
}

const ALL = { unit: 200, camera: 200, device: 200, staff: 200, alert: 200, cameras: 1, devices: 1, staffList: 1, alerts: 1, statsAlerts: 1 }
const NONE = { unit: 404, camera: 404, device: 404, staff: 404, alert: 404, cameras: 0, devices: 0, staffList: 0, alerts: 0, statsAlerts: 0 }

test('before the move district A sees the unit and everything of it, district B nothing', async () => {
  assert.deepEqual(await view('rega'), ALL)
  assert.deepEqual(await view('regb'), NONE)
})

test('moving the unit: each side sees exactly what it should, the city sees it throughout', async () => {
  // district A's regulator cannot move it out of their own subtree
  const refused = await call('rega', 'PATCH', `/api/v1/units/${ids.unit}`, { jurisdiction_id: ids.distB })
  assert.equal(refused.status, 422, refused.text)
  assert.equal(refused.json.error.field, 'jurisdiction_id')
  assert.deepEqual(await view('rega'), ALL, 'a refused move changes nothing')

  const moved = await call('cityreg', 'PATCH', `/api/v1/units/${ids.unit}`, { jurisdiction_id: ids.distB })
  assert.equal(moved.status, 200, moved.text)
  assert.equal(moved.json.jurisdiction_id, ids.distB)
  assert.deepEqual(await view('rega'), NONE)
  assert.deepEqual(await view('regb'), ALL)
  assert.deepEqual(await view('cityreg'), ALL)
  // the unit left behind in district A is untouched
  assert.equal((await call('rega', 'GET', `/api/v1/units/${ids.stay}`)).status, 200)

  // the device's API key still ingests, and the new alert is district B's
  const ev = await ingest(srv.base, ids.key, { event_id: eventId(), camera_id: ids.cam, type: 'no_mask', occurred_at: rfc3339(Date.now() - 30e3) })
  assert.equal(ev.status, 202, ev.text)
  assert.equal((await call('regb', 'GET', `/api/v1/alerts/${ev.json.alert_id}`)).status, 200)
  assert.equal((await call('rega', 'GET', `/api/v1/alerts/${ev.json.alert_id}`)).status, 404)
})

test('deleting the unit takes its devices, cameras and staff out of every list', async () => {
  const del = await call('regb', 'DELETE', `/api/v1/units/${ids.unit}`)
  assert.equal(del.status, 204, del.text)
  for (const who of ['regb', 'cityreg', 'admin']) {
    assert.equal((await call(who, 'GET', `/api/v1/devices/${ids.dev}`)).status, 404, `${who} device`)
    assert.equal((await call(who, 'GET', `/api/v1/cameras/${ids.cam}`)).status, 404, `${who} camera`)
    assert.equal((await call(who, 'GET', '/api/v1/devices')).json.total, 0, `${who} devices`)
    assert.equal((await call(who, 'GET', '/api/v1/staff')).json.total, 0, `${who} staff`)
  }
  // the unit's API key is revoked with it
  const ev = await ingest(srv.base, ids.key, { event_id: eventId(), camera_id: ids.cam, type: 'smoking', occurred_at: rfc3339(Date.now()) })
  assert.equal(ev.status, 401, ev.text)
  assert.ok(srv.alive())
})
