// Accounts, sessions, API keys, audit, and the server's own behaviour (health, metrics,
// OpenAPI, body limits, graceful stop), driven over HTTP against a real `mingchu serve`.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { startServer, api, login, BIN, REPO } from './lib.mjs'

const REG_PW = 'Regulator@2026!'
let srv

before(async () => {
  srv = await startServer({ demo: true, createAdmin: false })
})
after(async () => {
  await srv?.stop()
})

function assertError(r, status, code) {
  assert.equal(r.status, status, r.text)
  assert.ok(r.json?.error?.code, `JSON error expected, got: ${r.text}`)
  assert.equal(typeof r.json.error.message, 'string')
  if (code) assert.equal(r.json.error.code, code, r.text)
}

test('login answers a token, the user and expiry; /me reflects the role and scope', async () => {
  const r = await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: 'district_reg', password: REG_PW })
  assert.equal(r.status, 200, r.text)
  assert.ok(r.json.token.length >= 32)
  assert.match(r.json.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+08:00$/)
  assert.equal(r.json.user.role, 'regulator')
  const me = await api(srv.base, r.json.token, 'GET', '/api/v1/me')
  assert.equal(me.status, 200)
  assert.equal(me.json.username, 'district_reg')
  assert.equal(me.json.jurisdiction_id, 'jur_320602')
  const m = await api(srv.base, await login(srv.base, 'merchant', 'Kitchen@2026!'), 'GET', '/api/v1/me')
  assert.equal(m.json.role, 'merchant')
  assert.equal(m.json.unit_ids.length, 1)
})

test('wrong credentials are 401 with a JSON error; five failures lock the account (423)', async () => {
  assertError(await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: 'nobody', password: 'x' }), 401,
    'invalid_credentials')
  for (let i = 0; i < 4; i++) {
    assertError(await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: 'station_reg', password: 'bad' }),
      401, 'invalid_credentials')
  }
  assertError(await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: 'station_reg', password: 'bad' }), 423,
    'account_locked')
  // the right password is refused too while the lock lasts
  assertError(await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: 'station_reg', password: REG_PW }),
    423, 'account_locked')
})

test('logout ends the session; a missing or forged token is 401', async () => {
  const token = await login(srv.base, 'city_reg', REG_PW)
  assert.equal((await api(srv.base, token, 'POST', '/api/v1/auth/logout')).status, 204)
  assertError(await api(srv.base, token, 'GET', '/api/v1/me'), 401)
  assertError(await api(srv.base, null, 'GET', '/api/v1/me'), 401, 'unauthorized')
  assertError(await api(srv.base, 'forged-token-' + 'x'.repeat(30), 'GET', '/api/v1/units'), 401)
  assertError(await api(srv.base, null, 'GET', '/api/v1/me', undefined, { authorization: 'Basic abc' }), 401)
})

test('login and password bodies: malformed, wrong type, unknown field, wrong media type, oversized', async () => {
  assertError(await api(srv.base, null, 'POST', '/api/v1/auth/login', '{"username": '), 400, 'malformed_json')
  assertError(await api(srv.base, null, 'POST', '/api/v1/auth/login', '[]'), 400, 'not_an_object')
  const wrong = await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: 5, password: 'x' })
  assertError(wrong, 422, 'wrong_type')
  assert.equal(wrong.json.error.field, 'username')
  const unknown = await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: 'a', password: 'b', admin: true })
  assertError(unknown, 422, 'unknown_field')
  assert.equal(unknown.json.error.field, 'admin')
  assertError(await api(srv.base, null, 'POST', '/api/v1/auth/login', 'username=a', { 'content-type': 'text/plain' }),
    415, 'unsupported_media_type')
  assertError(await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: 'a', password: 'x'.repeat(20000) }),
    413, 'payload_too_large')
  const inj = await api(srv.base, null, 'POST', '/api/v1/auth/login',
    { username: "admin' OR '1'='1", password: "' OR 1=1 --" })
  assertError(inj, 401, 'invalid_credentials')
  // the server is still up and the admin can still log in
  assert.ok(await login(srv.base, 'admin', 'Platform@2026!'))
})

test('password change enforces the policy and names the field', async () => {
  const token = await login(srv.base, 'other_district_reg', REG_PW)
  const weak = await api(srv.base, token, 'POST', '/api/v1/auth/password', { old_password: REG_PW, new_password: 'short' })
  assertError(weak, 422, 'weak_password')
  assert.equal(weak.json.error.field, 'new_password')
  const named = await api(srv.base, token, 'POST', '/api/v1/auth/password',
    { old_password: REG_PW, new_password: 'Other_District_Reg9' })
  assertError(named, 422, 'weak_password')
  const wrongOld = await api(srv.base, token, 'POST', '/api/v1/auth/password',
    { old_password: 'nope', new_password: 'Better#Pass2027' })
  assertError(wrongOld, 422, 'wrong_password')
  const ok = await api(srv.base, token, 'POST', '/api/v1/auth/password',
    { old_password: REG_PW, new_password: 'Better#Pass2027' })
  assert.equal(ok.status, 204, ok.text)
  assert.ok(await login(srv.base, 'other_district_reg', 'Better#Pass2027'))
  assertError(await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: 'other_district_reg', password: REG_PW }),
    401)
})

test('users are created only inside the creator scope and never with a stronger role', async () => {
  const district = await login(srv.base, 'district_reg', REG_PW)
  const admin = await login(srv.base, 'admin', 'Platform@2026!')
  const stronger = await api(srv.base, district, 'POST', '/api/v1/users',
    { username: 'evil_admin', password: 'Str0ng!Passw0rd', role: 'platform_admin' })
  assertError(stronger, 403, 'forbidden')
  const outside = await api(srv.base, district, 'POST', '/api/v1/users',
    { username: 'reg_outside', password: 'Str0ng!Passw0rd', role: 'regulator', jurisdiction_id: 'jur_320612' })
  assertError(outside, 422)
  assert.equal(outside.json.error.field, 'jurisdiction_id')
  const inside = await api(srv.base, district, 'POST', '/api/v1/users',
    { username: 'reg_station2', password: 'Str0ng!Passw0rd', display_name: '城西分局', role: 'regulator',
      jurisdiction_id: 'jur_320602002' })
  assert.equal(inside.status, 201, inside.text)
  assertError(await api(srv.base, admin, 'POST', '/api/v1/users',
    { username: 'reg_station2', password: 'Str0ng!Passw0rd', role: 'regulator', jurisdiction_id: 'jur_320602002' }),
  409, 'username_taken')
  assertError(await api(srv.base, district, 'POST', '/api/v1/users', { username: 'x', role: 'regulator' }), 422)
  assertError(await api(srv.base, district, 'POST', '/api/v1/users',
    { username: 'role_typo', password: 'Str0ng!Passw0rd', role: 'superuser' }), 422, 'invalid_role')
  // lists are scoped: the district regulator never sees the city regulator or the admin
  const list = await api(srv.base, district, 'GET', '/api/v1/users?page_size=200')
  const names = list.json.items.map((u) => u.username)
  assert.ok(names.includes('reg_station2') && names.includes('merchant'))
  assert.ok(!names.includes('city_reg') && !names.includes('admin') && !names.includes('other_district_reg'))
  assert.equal(list.json.total, list.json.items.length)
  assertError(await api(srv.base, district, 'GET', '/api/v1/users?page_size=500'), 422, 'invalid_page_size')
  assertError(await api(srv.base, district, 'GET', '/api/v1/users?page=0'), 422, 'invalid_page')
})

test('API keys: scoped, ingest-only keys cannot read the registry, revocation is immediate', async () => {
  const admin = await login(srv.base, 'admin', 'Platform@2026!')
  const created = await api(srv.base, admin, 'POST', '/api/v1/api-keys', { name: 'ai-box-1', scope: { jurisdiction_id: 'jur_320600', ingest_only: true } })
  assert.equal(created.status, 201, created.text)
  assert.match(created.json.key, /^mck_/)
  const key = created.json.key
  const read = await api(srv.base, null, 'GET', '/api/v1/units', undefined, { 'x-api-key': key })
  assertError(read, 403, 'forbidden')
  const listed = await api(srv.base, admin, 'GET', '/api/v1/api-keys')
  assert.ok(listed.json.items.some((k) => k.id === created.json.id && !('key' in k)), 'the key is shown only once')
  const reader = await api(srv.base, admin, 'POST', '/api/v1/api-keys',
    { name: 'city-open-data', scope: { jurisdiction_id: 'jur_320612' }, permissions: ['read'] })
  const units = await api(srv.base, null, 'GET', '/api/v1/units?page_size=200', undefined, { 'x-api-key': reader.json.key })
  assert.equal(units.status, 200, units.text)
  assert.ok(units.json.total > 0)
  assert.equal((await api(srv.base, admin, 'DELETE', `/api/v1/api-keys/${reader.json.id}`)).status, 204)
  assertError(await api(srv.base, null, 'GET', '/api/v1/units', undefined, { 'x-api-key': reader.json.key }), 401)
  assertError(await api(srv.base, admin, 'POST', '/api/v1/api-keys',
    { name: 'both', scope: { unit_id: 'u1', jurisdiction_id: 'j1' } }), 422, 'ambiguous_scope')
  const district = await login(srv.base, 'district_reg', REG_PW)
  const out = await api(srv.base, district, 'POST', '/api/v1/api-keys', { name: 'x', scope: { jurisdiction_id: 'jur_320612' } })
  assertError(out, 422, 'out_of_scope')
})

test('the audit log records logins and writes; only admins read it; the chain verifies', async () => {
  const admin = await login(srv.base, 'admin', 'Platform@2026!')
  const r = await api(srv.base, admin, 'GET', '/api/v1/audit?action=auth.login&page_size=200')
  assert.equal(r.status, 200, r.text)
  const failed = r.json.items.filter((e) => e.result.startsWith('failed'))
  assert.ok(failed.length >= 5, 'failed logins are audited')
  assert.ok(r.json.items.every((e) => e.source === '127.0.0.1'))
  const writes = await api(srv.base, admin, 'GET', '/api/v1/audit?action=user.create')
  assert.ok(writes.json.items.some((e) => e.actor === 'district_reg'))
  assertError(await api(srv.base, await login(srv.base, 'city_reg', REG_PW), 'GET', '/api/v1/audit'), 403)
  const v = await api(srv.base, admin, 'GET', '/api/v1/audit/verify')
  assert.equal(v.json.ok, true, v.text)
  assert.ok(v.json.checked > 10)
})

test('unknown paths are 404 and wrong methods 405, both as JSON', async () => {
  assertError(await api(srv.base, null, 'GET', '/api/v1/nothing-here'), 404, 'not_found')
  assertError(await api(srv.base, null, 'DELETE', '/api/v1/auth/login'), 405, 'method_not_allowed')
})

test('healthz, Prometheus metrics with request counts and latency histograms, OpenAPI', async () => {
  assert.equal((await api(srv.base, null, 'GET', '/healthz')).json.status, 'ok')
  const m = await api(srv.base, null, 'GET', '/metrics')
  assert.equal(m.status, 200)
  assert.match(m.headers.get('content-type'), /text\/plain/)
  assert.match(m.text, /mingchu_http_requests_total\{route="\/api\/v1\/auth\/login",method="POST",status="401"\} \d+/)
  assert.match(m.text, /mingchu_http_request_duration_seconds_bucket\{route="\/api\/v1\/me",le="\+Inf"\} \d+/)
  const o = await api(srv.base, null, 'GET', '/api/v1/openapi.json')
  assert.equal(o.json.openapi, '3.0.3')
  for (const p of ['/api/v1/auth/login', '/api/v1/units', '/api/v1/units/{id}', '/api/v1/files', '/api/v1/health-certs']) {
    assert.ok(o.json.paths[p], `OpenAPI lists ${p}`)
  }
  assert.ok(o.json.paths['/api/v1/units/{id}'].patch)
  // every API route says in a line what it does (not just its method and path)
  const bare = []
  for (const [path, ops] of Object.entries(o.json.paths)) {
    if (!path.startsWith('/api/') && !path.startsWith('/public/')) continue
    for (const [method, op] of Object.entries(ops)) {
      if (!op.summary || op.summary === `${method.toUpperCase()} ${path}`) bare.push(`${method.toUpperCase()} ${path}`)
    }
  }
  assert.deepEqual(bare, [], 'routes without a summary in the OpenAPI document')
})

test('every response carries a request id; a sane client id is echoed', async () => {
  const r = await api(srv.base, null, 'GET', '/healthz', undefined, { 'x-request-id': 'trace-abc-123' })
  assert.equal(r.headers.get('x-request-id'), 'trace-abc-123')
  const g = await api(srv.base, null, 'GET', '/healthz', undefined, { 'x-request-id': 'bad id with spaces' })
  assert.match(g.headers.get('x-request-id'), /^[0-9a-f]{16}$/)
})

test('SIGTERM stops the server gracefully and the audit chain survives; tampering is detected', async () => {
  const own = await startServer({ demo: true, createAdmin: false })
  await login(own.base, 'admin', 'Platform@2026!')
  own.proc.kill('SIGTERM')
  const code = await new Promise((resolve) => own.proc.on('exit', (c) => resolve(c)))
  assert.equal(code, 0, own.log())
  const ok = spawnSync(BIN, ['audit', 'verify', '--data', own.dataDir], { cwd: REPO, encoding: 'utf8' })
  assert.equal(ok.status, 0, ok.stdout + ok.stderr)
  assert.match(ok.stdout, /holds/)
  const db = `${own.dataDir}/mingchu.db`
  const t = spawnSync('sqlite3', [db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"], { encoding: 'utf8' })
  assert.equal(t.status, 0, t.stderr)
  const bad = spawnSync(BIN, ['audit', 'verify', '--data', own.dataDir], { cwd: REPO, encoding: 'utf8' })
  assert.notEqual(bad.status, 0)
  assert.match(bad.stdout, /entry 1/)
  await own.stop()
})

test('--manual-clock refuses to listen beyond loopback', () => {
  const r = spawnSync(BIN, ['serve', '--manual-clock', '--listen', '0.0.0.0:0', '--data', srv.dataDir + '-mc'],
    { cwd: REPO, encoding: 'utf8', timeout: 20000 })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr + r.stdout, /loopback/)
})
