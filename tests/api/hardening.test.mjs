// Issue 13 items 2–5 against a real `mingchu serve`:
//   - webhook targets in the platform's own networks are refused (names and addresses, the
//     resolved address counts) unless an administrator allows the network;
//   - the metrics method label is bounded and /metrics is served to loopback or with a token;
//   - X-Forwarded-For is believed only from trusted proxies (audit source, complaint limit);
//   - a user created by another process (`mingchu admin create-user`) while the server runs
//     receives the next alert of their unit (the writer's cached recipients expire).
// Only loopback and unspecified addresses appear here; nothing is sent anywhere else.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/hardening.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'

import { ADMIN, BIN, REPO, api, login, startServer, uscc } from './lib.mjs'
import { advance, eventId, ingest, rfc3339, serverNow } from './alerts_lib.mjs'

let plain // default configuration, --manual-clock
let proxied // trusted proxy 127.0.0.1, a metrics token, loopback webhooks allowed
const tok = {}
const METRICS_TOKEN = 'metrics-token-for-tests-0123456789'

async function world(srv) {
  const t = await login(srv.base, ADMIN.username, ADMIN.password)
  const call = (m, p, b, h) => api(srv.base, t, m, p, b, h)
  const jur = async (parent_id, level, code, name) => {
    const r = await call('POST', '/api/v1/jurisdictions', { parent_id, level, code, name })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  const province = await jur(undefined, 'province', '320000', '江苏省')
  const city = await jur(province, 'city', '320600', '南通市')
  const dist = await jur(city, 'district', '320602', '崇川区')
  const unit = await call('POST', '/api/v1/units', {
    name: '南通小学食堂', jurisdiction_id: dist, store_type: 'school_canteen', licence_number: 'JY13206020012345', uscc: uscc(7),
  })
  assert.equal(unit.status, 201, unit.text)
  const cam = await call('POST', '/api/v1/cameras', { unit_id: unit.json.id, name: '后厨', area: 'cooking' })
  assert.equal(cam.status, 201, cam.text)
  return { token: t, call, unit: unit.json, cam: cam.json.id }
}

before(async () => {
  plain = await startServer({ args: ['--manual-clock'] })
  proxied = await startServer({
    env: {
      MINGCHU_TRUSTED_PROXIES: '127.0.0.1',
      MINGCHU_METRICS_TOKEN: METRICS_TOKEN,
      MINGCHU_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8, ::1',
    },
  })
  tok.plain = await login(plain.base, ADMIN.username, ADMIN.password)
  tok.proxied = await login(proxied.base, ADMIN.username, ADMIN.password)
})

after(async () => {
  await plain?.stop()
  await proxied?.stop()
})

const hook = (url) => ({ url, events: ['*'], secret: 's'.repeat(32) })

test('webhooks into loopback or unspecified addresses are refused by name and by address', async () => {
  for (const url of ['http://localhost:8080/hook', 'http://127.0.0.1/hook', 'http://127.8.8.8:9000/x',
    'https://[::1]:8443/hook', 'http://0.0.0.0/', 'http://[::ffff:127.0.0.1]/hook', 'http://LocalHost:8080/hook']) {
    const r = await api(plain.base, tok.plain, 'POST', '/api/v1/webhooks', hook(url))
    assert.equal(r.status, 422, `${url}: ${r.text}`)
    assert.equal(r.json.error.field, 'url', url)
    assert.equal(r.json.error.code, 'forbidden_address', url)
  }
  const list = await api(plain.base, tok.plain, 'GET', '/api/v1/webhooks')
  assert.equal(list.json.total, 0, 'nothing stored')
  assert.ok(plain.alive())
})

test('an administrator may allow a network: then loopback webhooks are accepted, others still not', async () => {
  for (const url of ['http://127.0.0.1:9/hook', 'http://localhost:9/hook', 'http://[::1]:9/hook']) {
    const r = await api(proxied.base, tok.proxied, 'POST', '/api/v1/webhooks', hook(url))
    assert.equal(r.status, 201, `${url}: ${r.text}`)
  }
  const r = await api(proxied.base, tok.proxied, 'POST', '/api/v1/webhooks', hook('http://0.0.0.0:9/hook'))
  assert.equal(r.status, 422, r.text)
  assert.equal(r.json.error.code, 'forbidden_address')
})

test('the metrics method label is bounded: invented methods count as "other"', async () => {
  for (const method of ['FOO', 'BREW', 'X'.repeat(40)]) {
    const r = await fetch(plain.base + '/healthz', { method })
    assert.ok(r.status >= 400 && r.status < 500, `${method}: ${r.status}`)
  }
  const m = await fetch(plain.base + '/metrics')
  assert.equal(m.status, 200)
  const text = await m.text()
  assert.match(text, /mingchu_http_requests_total\{[^}]*method="other"/)
  assert.doesNotMatch(text, /method="(FOO|BREW|XXXX)/)
  const methods = new Set([...text.matchAll(/method="([^"]*)"/g)].map((x) => x[1]))
  for (const m2 of methods) assert.ok(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE', 'other'].includes(m2), m2)
})

test('/metrics: loopback clients, or the token; a client behind a trusted proxy is not loopback', async () => {
  // directly from loopback
  assert.equal((await fetch(proxied.base + '/metrics')).status, 200)
  // through the trusted proxy (127.0.0.1) for a client that is not loopback (0.0.0.0 stands for "elsewhere")
  const away = { 'x-forwarded-for': '0.0.0.0' }
  const refused = await fetch(proxied.base + '/metrics', { headers: away })
  assert.equal(refused.status, 401)
  assert.match((await refused.json()).error.message, /metrics_token/)
  const wrong = await fetch(proxied.base + '/metrics', { headers: { ...away, authorization: 'Bearer nope' } })
  assert.equal(wrong.status, 401)
  const right = await fetch(proxied.base + '/metrics', { headers: { ...away, authorization: `Bearer ${METRICS_TOKEN}` } })
  assert.equal(right.status, 200)
  assert.match(await right.text(), /mingchu_http_requests_total/)
  // without a trusted proxy the header is not believed: the peer is loopback
  assert.equal((await fetch(plain.base + '/metrics', { headers: away })).status, 200)
})

async function loginSource(srv, adminToken, xff) {
  const username = 'src' + Math.random().toString(16).slice(2, 8)
  const password = 'Pw@2026!Zz' + username.slice(3)
  const u = await api(srv.base, adminToken, 'POST', '/api/v1/users', { username, password, display_name: username, role: 'platform_admin' })
  assert.equal(u.status, 201, u.text)
  const r = await api(srv.base, null, 'POST', '/api/v1/auth/login', { username, password }, xff ? { 'x-forwarded-for': xff } : {})
  assert.equal(r.status, 200, r.text)
  const audit = await api(srv.base, adminToken, 'GET', '/api/v1/audit?action=auth.login&page_size=200')
  assert.equal(audit.status, 200, audit.text)
  const mine = audit.json.items.filter((e) => e.actor === username)
  assert.equal(mine.length, 1, JSON.stringify(audit.json.items.slice(0, 3)))
  return mine[0].source
}

test('X-Forwarded-For names the audit source only when the peer is a trusted proxy', async () => {
  assert.equal(await loginSource(proxied, tok.proxied, '127.0.0.9'), '127.0.0.9')
  // the rightmost address not itself a trusted proxy is the client; junk on the left is not read
  assert.equal(await loginSource(proxied, tok.proxied, 'not-an-address, 127.0.0.8, 127.0.0.1'), '127.0.0.8')
  assert.equal(await loginSource(proxied, tok.proxied, 'not-an-address'), '127.0.0.1')
  assert.equal(await loginSource(proxied, tok.proxied, undefined), '127.0.0.1')
  // no trusted proxy configured: the header is ignored
  assert.equal(await loginSource(plain, tok.plain, '127.0.0.9'), '127.0.0.1')
})

test('the complaint rate limit counts the client behind the trusted proxy, not the proxy', async () => {
  const w = await world(proxied)
  const token = w.unit.disclosure_token
  assert.ok(token, 'admins see the disclosure token')
  const complain = (xff, i) => api(proxied.base, null, 'POST', `/public/units/${token}/complaints`,
    { text: `第${i}次投诉：餐具未消毒` }, { 'x-forwarded-for': xff })
  for (let i = 0; i < 5; i++) assert.equal((await complain('127.0.0.21', i)).status, 201)
  const limited = await complain('127.0.0.21', 5)
  assert.equal(limited.status, 429, limited.text)
  assert.equal((await complain('127.0.0.22', 6)).status, 201, 'another client behind the same proxy')
})

test('a merchant user created by another process receives the next alert of their unit', async () => {
  const w = await world(plain)
  const key = await w.call('POST', '/api/v1/api-keys', { name: 'box', scope: { unit_id: w.unit.id, ingest_only: true } })
  assert.equal(key.status, 201, key.text)
  let t = await serverNow(plain.base, w.token)
  const first = await ingest(plain.base, key.json.key, { event_id: eventId(), camera_id: w.cam, type: 'smoking', occurred_at: rfc3339(t) })
  assert.equal(first.status, 202, first.text) // the writer now holds the unit's (empty) merchant list

  const password = 'Kitchen@2026!q'
  const r = spawnSync(BIN, ['admin', 'create-user', '--data', plain.dataDir, '--username', 'late_shop', '--password', password,
    '--role', 'merchant', '--unit', w.unit.id], { cwd: REPO, encoding: 'utf8', timeout: 60000 })
  assert.equal(r.status, 0, r.stdout + r.stderr)

  t = await advance(plain.base, w.token, 6) // beyond the writer's registry TTL (5 s) on the server's clock
  const second = await ingest(plain.base, key.json.key, { event_id: eventId(), camera_id: w.cam, type: 'no_mask', occurred_at: rfc3339(t) })
  assert.equal(second.status, 202, second.text)
  const shop = await login(plain.base, 'late_shop', password)
  const inbox = await api(plain.base, shop, 'GET', '/api/v1/notifications?page_size=50')
  assert.equal(inbox.status, 200, inbox.text)
  const ids = inbox.json.items.map((n) => n.alert_id)
  assert.ok(ids.includes(second.json.alert_id), `the new merchant got the alert raised after they were created: ${inbox.text}`)
})
