// 数据上报 between two real `mingchu serve` processes on loopback: a city (the demo Nantong)
// started with --upstream/--upstream-key reports to a province. An alert raised and closed in
// the city appears and closes at the province, across a SIGKILL of the province (while the
// city keeps working) and of the city (right after the alert was acknowledged); units,
// cameras and statistics arrive by cursor; the receiving endpoint refuses unsigned, stale,
// forged, malformed and oversized batches and is idempotent.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/exchange.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import http from 'node:http'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { api, freePort, login, startServer, ADMIN } from './lib.mjs'
import { eventId, rfc3339 } from './alerts_lib.mjs'

const DEMO = {
  district: ['district_reg', 'Regulator@2026!'],
  merchant: ['merchant', 'Kitchen@2026!'],
}
let province
let city
let provincePort
let ptok // province admin
let preg // a province-level regulator
let key // the key the province issued to the city
let ctok = {}
let cityArgs
let cityConfig
const ids = {}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function waitFor(what, fn, ms = 60000) {
  const until = Date.now() + ms
  let last
  for (;;) {
    try {
      last = await fn()
      if (last) return last
    } catch (e) {
      last = e.message
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`)
    await sleep(200)
  }
}

async function provinceAlert(alertId) {
  const r = await api(province.base, preg, 'GET', '/api/v1/exchange/alerts?page_size=200')
  if (r.status !== 200) return null
  return r.json.items.find((a) => a.id === alertId) ?? null
}

async function cityLogin() {
  for (const [k, [u, p]] of Object.entries(DEMO)) ctok[k] = await login(city.base, u, p)
  ctok.admin = await login(city.base, ADMIN.username, ADMIN.password)
}

before(async () => {
  // the province: its tree (江苏省 → 南通市), a regulator of the province and a key for 南通
  province = await startServer({})
  ptok = await login(province.base, ADMIN.username, ADMIN.password)
  const js = await api(province.base, ptok, 'POST', '/api/v1/jurisdictions', { level: 'province', code: '320000', name: '江苏省' })
  assert.equal(js.status, 201, js.text)
  const nt = await api(province.base, ptok, 'POST', '/api/v1/jurisdictions', { parent_id: js.json.id, level: 'city', code: '320600', name: '南通市' })
  assert.equal(nt.status, 201, nt.text)
  const sz = await api(province.base, ptok, 'POST', '/api/v1/jurisdictions', { parent_id: js.json.id, level: 'city', code: '320500', name: '苏州市' })
  ids.suzhou = sz.json.id
  const u = await api(province.base, ptok, 'POST', '/api/v1/users', { username: 'js_reg', password: 'Province@2026!', display_name: '省局', role: 'regulator', jurisdiction_id: js.json.id })
  assert.equal(u.status, 201, u.text)
  preg = await login(province.base, 'js_reg', 'Province@2026!')
  const su = await api(province.base, ptok, 'POST', '/api/v1/users', { username: 'sz_reg', password: 'Suzhou@2026!x', display_name: '苏州', role: 'regulator', jurisdiction_id: sz.json.id })
  assert.equal(su.status, 201, su.text)
  ids.suzhouToken = await login(province.base, 'sz_reg', 'Suzhou@2026!x')
  const k = await api(province.base, ptok, 'POST', '/api/v1/api-keys', { name: '南通市平台', scope: { jurisdiction_id: nt.json.id } })
  assert.equal(k.status, 201, k.text)
  key = k.json.key
  // the city reports to it; fast retries so the test does not wait for the default backoff
  cityConfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-city-conf-')), 'city.toml')
  fs.writeFileSync(cityConfig, '[notify]\nbackoff_base_ms = 100\nbackoff_cap_seconds = 1\nmax_attempts = 100\npoll_ms = 100\n[exchange]\nsync_ms = 500\n')
  cityArgs = ['--upstream', province.base, '--upstream-key', key, '--config', cityConfig]
  city = await startServer({ demo: true, args: cityArgs })
  await cityLogin()
  const me = await api(city.base, ctok.merchant, 'GET', '/api/v1/me')
  ids.unit = me.json.unit_ids[0]
  ids.cam = (await api(city.base, ctok.admin, 'GET', `/api/v1/cameras?unit_id=${ids.unit}&page_size=1`)).json.items[0].id
})

after(async () => {
  await city?.stop()
  await province?.stop()
})

async function raise(type) {
  const r = await api(city.base, ctok.admin, 'POST', '/api/v1/ingest/alerts', {
    event_id: eventId('up'), camera_id: ids.cam, type, occurred_at: rfc3339(Date.now()),
  })
  assert.equal(r.status, 202, r.text)
  return r.json.alert_id
}

test('units, cameras and statistics of the city arrive at the province', async () => {
  const units = (await api(city.base, ctok.admin, 'GET', '/api/v1/units?page_size=1')).json.total
  const got = await waitFor('the units', async () => {
    const r = await api(province.base, preg, 'GET', '/api/v1/exchange/units?page_size=1')
    return r.json.total === units && r.json
  })
  assert.equal(got.items[0].source_name, '南通市')
  const cams = (await api(city.base, ctok.admin, 'GET', '/api/v1/cameras?page_size=1')).json.total
  await waitFor('the cameras', async () => (await api(province.base, preg, 'GET', '/api/v1/exchange/cameras?page_size=1')).json.total === cams)
  const src = await waitFor('the statistics', async () => {
    const r = await api(province.base, preg, 'GET', '/api/v1/exchange/sources')
    return r.json.items[0]?.stats && r.json.items[0]
  })
  assert.equal(src.stats.units, units)
  // 苏州 sees nothing of 南通
  assert.equal((await api(province.base, ids.suzhouToken, 'GET', '/api/v1/exchange/units')).json.total, 0)
})

test('an alert raised and closed in the city appears and closes at the province, across a SIGKILL of the province', async () => {
  const a = await raise('smoking')
  const seen = await waitFor('the alert at the province', () => provinceAlert(a))
  assert.equal(seen.state, 'open')
  assert.equal(seen.unit.id, ids.unit)
  // the province dies; the city handles the alert meanwhile
  await province.kill()
  const rect = await api(city.base, ctok.merchant, 'POST', `/api/v1/alerts/${a}/rectifications`, { text: '已整改，加强管理', photo_ids: [] })
  assert.equal(rect.status, 200, rect.text)
  const rev = await api(city.base, ctok.district, 'POST', `/api/v1/alerts/${a}/review`, { decision: 'approve', comment: '合格' })
  assert.equal(rev.status, 200, rev.text)
  assert.equal(rev.json.state, 'closed')
  const b = await raise('no_hat') // raised while the province is down
  await sleep(1500) // the city tries and fails meanwhile
  province = await startServer({ dataDir: province.dataDir, createAdmin: false, port: province.port })
  preg = await login(province.base, 'js_reg', 'Province@2026!')
  const closed = await waitFor('the alert closed at the province', async () => {
    const x = await provinceAlert(a)
    return x?.state === 'closed' && x
  })
  assert.ok(closed.handled_at)
  await waitFor('the alert raised while the province was down', () => provinceAlert(b))
})

test('an alert acknowledged by the city just before a SIGKILL of the city still reaches the province', async () => {
  const c = await raise('phone_use')
  await city.kill()
  city = await startServer({ dataDir: city.dataDir, createAdmin: false, args: cityArgs })
  await cityLogin()
  await waitFor('the alert after the city restarted', () => provinceAlert(c))
  const d = await api(city.base, ctok.district, 'POST', `/api/v1/alerts/${c}/dismiss`, { reason: '误报：员工在休息区' })
  assert.equal(d.status, 200, d.text)
  await waitFor('the dismissal at the province', async () => (await provinceAlert(c))?.state === 'dismissed')
  // nothing doubled: one object per alert
  const all = (await api(province.base, preg, 'GET', '/api/v1/exchange/alerts?page_size=200')).json.items
  assert.equal(all.filter((x) => x.id === c).length, 1)
})

test('the receiving endpoint refuses what is not a signed, well-formed batch, and is idempotent', async () => {
  const url = '/api/v1/exchange/batches'
  const sign = (body, ts = Math.floor(Date.now() / 1000), k = key) =>
    ({ 'x-api-key': key, 'x-mingchu-timestamp': String(ts), 'x-mingchu-signature': 'sha256=' + crypto.createHmac('sha256', k).update(`${ts}.${body}`).digest('hex') })
  const batch = (items, id = 'bat_test_' + crypto.randomBytes(4).toString('hex')) => JSON.stringify({ schema: 'mingchu.exchange.v1', batch_id: id, source: '测试', items })
  const unit = { kind: 'unit', id: 'unt_from_test', version: 1, data: { id: 'unt_from_test', name: '测试单位' } }
  const post = (body, headers) => api(province.base, null, 'POST', url, body, headers)
  let b = batch([unit])
  assert.equal((await post(b, {})).status, 401, 'no key')
  assert.equal((await post(b, { ...sign(b), 'x-mingchu-signature': 'sha256=' + '0'.repeat(64) })).status, 401, 'forged signature')
  assert.equal((await post(b, sign(b, Math.floor(Date.now() / 1000) - 3600))).status, 401, 'stale timestamp')
  assert.equal((await post(b, sign(b, 'yesterday'))).status, 401, 'not a timestamp')
  assert.equal((await post(b, sign(b, undefined, 'another secret'))).status, 401, 'signed with another secret')
  const bad = [
    ['{"schema":', 400],
    [JSON.stringify({ schema: 'other', batch_id: 'bat_x', items: [] }), 422, 'schema'],
    [JSON.stringify({ schema: 'mingchu.exchange.v1', batch_id: '../../x', items: [] }), 422, 'batch_id'],
    [batch('nope'), 422, 'items'],
    [batch([{ kind: 'virus', id: 'x1', version: 1, data: {} }]), 422, 'items[0].kind'],
    [batch([{ kind: 'unit', id: 'x1', version: 'one', data: {} }]), 422, 'items[0]'],
    [batch([{ kind: 'event', id: 'evt_1', version: 1, payload: { alert: { id: 'a1' } } }]), 422, 'items[0].payload.alert'],
    [batch(Array.from({ length: 1001 }, (_, i) => ({ ...unit, id: `u${i}` }))), 422, 'items'],
  ]
  for (const [body, status, field] of bad) {
    const r = await post(body, sign(body))
    assert.equal(r.status, status, `${body.slice(0, 80)}: ${r.text}`)
    if (field) assert.equal(r.json.error.field, field, r.text)
  }
  // a body above 8 MiB is refused from its Content-Length, before it is read
  const status413 = await new Promise((resolve, reject) => {
    const req = http.request(province.base + url, { method: 'POST', headers: { ...sign('x'), 'content-type': 'application/json', 'content-length': String(9 * 1024 * 1024) } }, (res) => {
      res.resume()
      resolve(res.statusCode)
    })
    req.on('error', reject)
    req.write('{"schema":')
  })
  assert.equal(status413, 413)
  // idempotent: the same batch twice is applied once
  b = batch([unit], 'bat_twice')
  const first = await post(b, sign(b))
  assert.equal(first.status, 200, first.text)
  assert.equal(first.json.applied, 1)
  const second = await post(b, sign(b))
  assert.equal(second.status, 200)
  assert.equal(second.json.duplicate, true)
  // an older version does not overwrite a newer one
  const older = batch([{ ...unit, version: 0, data: { id: 'unt_from_test', name: '旧名字' } }])
  assert.equal((await post(older, sign(older))).json.stale, 1)
  // a session of a province user (not a key) is refused
  const { 'x-api-key': _unused, ...signedNoKey } = sign(b)
  const asUser = await api(province.base, preg, 'POST', url, b, signedNoKey)
  assert.equal(asUser.status, 403, asUser.text)
  // the province is still up and answers
  assert.equal((await api(province.base, null, 'GET', '/healthz')).status, 200)
})
