// The public side: the disclosure page behind a unit's QR code (no login) and complaints,
// which land in the console of the regulators in scope and nobody else's.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, api, login } from './lib.mjs'

let srv, merchant, unitId, token, district, other

before(async () => {
  srv = await startServer({ demo: true, createAdmin: false })
  merchant = await login(srv.base, 'merchant', 'Kitchen@2026!')
  district = await login(srv.base, 'district_reg', 'Regulator@2026!')
  other = await login(srv.base, 'other_district_reg', 'Regulator@2026!')
  unitId = (await api(srv.base, merchant, 'GET', '/api/v1/me')).json.unit_ids[0]
  token = (await api(srv.base, merchant, 'GET', `/api/v1/units/${unitId}`)).json.disclosure_token
})
after(async () => {
  await srv?.stop()
})

const pub = (path, init = {}) => api(srv.base, null, init.method || 'GET', path, init.body, init.headers || {})

test('the public JSON shows the unit, licences, public cameras and masked staff; never personal data', async () => {
  const r = await pub(`/public/units/${token}`, { headers: { accept: 'application/json' } })
  assert.equal(r.status, 200, r.text)
  const u = r.json
  assert.ok(u.name && u.licence_number)
  assert.ok(Array.isArray(u.public_cameras))
  assert.ok(u.staff.length >= 3)
  for (const s of u.staff) {
    assert.match(s.name_masked, /^.\*+$/u, 'staff names are masked')
    assert.ok(['valid', 'expiring', 'expired', 'missing'].includes(s.cert_status))
  }
  const staff = await api(srv.base, merchant, 'GET', `/api/v1/staff?unit_id=${unitId}&page_size=200`)
  for (const s of staff.json.items) {
    assert.ok(!r.text.includes(s.name), `full name ${s.name} must not appear`)
  }
  assert.ok(!/id_number|phone|uscc|operator|disclosure_token/.test(r.text), 'no personal or internal fields')
  assert.ok('alert_stats' in u)
})

test('the alert statistics follow the unit disclosure setting', async () => {
  const admin = await login(srv.base, 'admin', 'Platform@2026!')
  let p = await api(srv.base, admin, 'PATCH', `/api/v1/units/${unitId}`, { disclosure: { show_alert_stats: true } })
  assert.equal(p.status, 200, p.text)
  let r = await pub(`/public/units/${token}`, { headers: { accept: 'application/json' } })
  assert.equal(typeof r.json.alert_stats.last_30_days, 'number')
  assert.ok(r.json.alert_stats.handling_rate >= 0 && r.json.alert_stats.handling_rate <= 1)
  p = await api(srv.base, admin, 'PATCH', `/api/v1/units/${unitId}`, { disclosure: { show_alert_stats: false } })
  r = await pub(`/public/units/${token}`, { headers: { accept: 'application/json' } })
  assert.equal(r.json.alert_stats, null)
})

test('unknown or hostile tokens are 404 as JSON', async () => {
  for (const t of ['nope', 'x'.repeat(24), '..%2F..%2Fetc%2Fpasswd', "'%20OR%201=1"]) {
    const r = await pub(`/public/units/${t}`, { headers: { accept: 'application/json' } })
    assert.equal(r.status, 404, `${t}: ${r.text}`)
    assert.equal(r.json.error.code, 'not_found')
  }
})

test('files of a unit are public only when they are its licence or storefront images', async () => {
  const r = await pub(`/public/units/${token}/files/file_0000000000000000`)
  assert.equal(r.status, 404)
})

test('complaints: validated, stored, visible to the regulators in scope only, with the contact', async () => {
  const bad = [
    ['{"text": ', 400, 'malformed_json'],
    [{ contact: '13800001111' }, 422, 'missing_field'],
    [{ text: 123 }, 422, 'wrong_type'],
    [{ text: '太短' }, 422, 'too_short'],
    [{ text: '后厨很脏，地面有积水和垃圾', extra: 1 }, 422, 'unknown_field'],
    [{ text: 'x'.repeat(1001) }, 422, 'too_long'],
    [{ text: 'y'.repeat(9000) }, 413, 'payload_too_large'],
  ]
  for (const [body, status, code] of bad) {
    const r = await pub(`/public/units/${token}/complaints`, { method: 'POST', body })
    assert.equal(r.status, status, JSON.stringify(body).slice(0, 60) + ' → ' + r.text)
    assert.equal(r.json.error.code, code)
  }
  const text = '<script>alert(1)</script> 后厨发现老鼠，请尽快处理'
  const ok = await pub(`/public/units/${token}/complaints`, { method: 'POST', body: { text, contact: '13800001111' } })
  assert.equal(ok.status, 201, ok.text)
  const mine = await api(srv.base, district, 'GET', '/api/v1/complaints?page_size=200')
  const c = mine.json.items.find((x) => x.id === ok.json.id)
  assert.ok(c, 'the district regulator sees the complaint')
  assert.equal(c.text, text, 'stored verbatim (the UI escapes)')
  assert.equal(c.contact, '13800001111', 'the regulator in scope sees the contact to follow up')
  assert.equal(c.unit_id, unitId)
  const theirs = await api(srv.base, other, 'GET', '/api/v1/complaints?page_size=200')
  assert.ok(!theirs.json.items.some((x) => x.id === ok.json.id), 'another district never sees it')
  const mark = await api(srv.base, other, 'POST', `/api/v1/complaints/${ok.json.id}/handled`)
  assert.equal(mark.status, 404)
  const handled = await api(srv.base, district, 'POST', `/api/v1/complaints/${ok.json.id}/handled`)
  assert.equal(handled.json.state, 'handled')
})

test('complaints are rate-limited per source (429) and the earlier ones are kept', async () => {
  const admin = await login(srv.base, 'admin', 'Platform@2026!')
  const units = await api(srv.base, admin, 'GET', '/api/v1/units?page_size=5')
  const t2 = units.json.items.find((u) => u.id !== unitId).disclosure_token
  let accepted = 0
  let limited = 0
  for (let i = 0; i < 8; i++) {
    const r = await pub(`/public/units/${t2}/complaints`, { method: 'POST', body: { text: `第${i}次投诉：餐具未消毒` } })
    if (r.status === 201) accepted++
    else if (r.status === 429) {
      limited++
      assert.equal(r.json.error.code, 'too_many_complaints')
    } else assert.fail(r.text)
  }
  // one complaint from this address was already made in the previous test
  assert.equal(accepted, 4)
  assert.equal(limited, 4)
  const list = await api(srv.base, admin, 'GET', '/api/v1/complaints?page_size=200')
  assert.ok(list.json.total >= 5)
})

test('the console UI config answers even with no map tiles configured', async () => {
  const r = await pub('/api/v1/config/ui')
  assert.equal(r.status, 200)
  assert.equal(r.json.map_tile_url, undefined)
})
