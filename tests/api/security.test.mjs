// The security review of issue 14, point by point, as a hostile tester would probe it over
// loopback: as a merchant, as a regulator of another district and without login. Every test
// here failed before its fix.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { startServer, api, login } from './lib.mjs'

const REG_PW = 'Regulator@2026!'
const ADMIN_PW = 'Platform@2026!'
const MERCHANT_PW = 'Kitchen@2026!'
const USER_PW = 'Secur1ty#Review'

let srv
let admin, merchant, district, other
let unitId, otherUnitId, disclosureToken, districtJur

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function relogin() {
  admin = await login(srv.base, 'admin', ADMIN_PW)
  merchant = await login(srv.base, 'merchant', MERCHANT_PW)
  district = await login(srv.base, 'district_reg', REG_PW)
  other = await login(srv.base, 'other_district_reg', REG_PW)
}

async function advance(seconds) {
  const r = await api(srv.base, admin, 'POST', '/api/v1/admin/clock', { advance_seconds: seconds })
  assert.equal(r.status, 200, r.text)
}

function assertError(r, status, code, field) {
  assert.equal(r.status, status, r.text)
  assert.ok(r.json?.error?.code, `JSON error expected, got: ${r.text}`)
  if (code) assert.equal(r.json.error.code, code, r.text)
  if (field) assert.equal(r.json.error.field, field, r.text)
}

async function waitFor(cond, ms = 5000, what = 'condition') {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return
    await sleep(50)
  }
  assert.fail(`timed out waiting for ${what}`)
}

/** Opens an SSE stream with fetch; state.ended turns true when the server ends it. */
async function openStream(urlPath, headers = {}) {
  const ac = new AbortController()
  const res = await fetch(srv.base + urlPath, { headers, signal: ac.signal })
  const state = { status: res.status, ended: false, text: '', headers: res.headers }
  if (res.status === 200) {
    ;(async () => {
      try {
        for await (const chunk of res.body) state.text += Buffer.from(chunk).toString()
      } catch {
        /* aborted */
      }
      state.ended = true
    })()
  } else {
    state.text = await res.text()
    state.ended = true
  }
  return { state, close: () => ac.abort() }
}

/** Sends raw bytes and answers the raw response text (the server closes or we time out). */
function rawRequest(bytes, ms = 3000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1')
    let out = ''
    const t = setTimeout(() => {
      s.destroy()
      resolve(out)
    }, ms)
    s.on('data', (d) => {
      out += d.toString()
      if (/\r\n\r\n/.test(out)) {
        clearTimeout(t)
        s.destroy()
        resolve(out)
      }
    })
    s.on('error', (e) => {
      clearTimeout(t)
      reject(e)
    })
    s.on('connect', () => s.write(bytes))
  })
}

let userSeq = 0
/** A fresh regulator of the district (so lockouts and session kills touch nobody else). */
async function newRegulator(prefix = 'sec') {
  const username = `${prefix}_${++userSeq}_${Math.random().toString(36).slice(2, 7)}`
  const r = await api(srv.base, admin, 'POST', '/api/v1/users',
    { username, password: USER_PW, display_name: username, role: 'regulator', jurisdiction_id: districtJur })
  assert.equal(r.status, 201, r.text)
  return { id: r.json.id, username }
}

before(async () => {
  srv = await startServer({ demo: true, createAdmin: false, args: ['--manual-clock'] })
  await relogin()
  const me = await api(srv.base, merchant, 'GET', '/api/v1/me')
  unitId = me.json.unit_ids[0]
  const unit = await api(srv.base, merchant, 'GET', `/api/v1/units/${unitId}`)
  disclosureToken = unit.json.disclosure_token
  districtJur = (await api(srv.base, district, 'GET', '/api/v1/me')).json.jurisdiction_id
  const theirs = await api(srv.base, other, 'GET', '/api/v1/units?page_size=1')
  otherUnitId = theirs.json.items[0].id
})
after(async () => {
  await srv?.stop()
})

// ---------------------------------------------------------------- 1. complainants
test('1. a merchant never sees who complained; regulators in scope see the contact', async () => {
  const contacts = ['zhang.san@example.com', '+86 139 1234 5678', '微信 zhangsan_1990', '张三 13912345678', '13912345678']
  const ids = []
  for (const contact of contacts) {
    const r = await api(srv.base, null, 'POST', `/public/units/${disclosureToken}/complaints`,
      { text: '后厨地面有积水，餐具没有消毒', contact })
    assert.equal(r.status, 201, r.text)
    ids.push(r.json.id)
  }
  const mine = await api(srv.base, merchant, 'GET', '/api/v1/complaints?page_size=200')
  assert.equal(mine.status, 200, mine.text)
  const seen = mine.json.items.filter((c) => ids.includes(c.id))
  assert.equal(seen.length, contacts.length, 'the merchant sees the complaints about its unit')
  for (const c of seen) assert.ok(!('contact' in c) || /^\**$/.test(c.contact), `contact leaked: ${JSON.stringify(c)}`)
  for (const needle of ['zhang', '1234', '5678', '微信', '张三', '139']) {
    assert.ok(!mine.text.includes(needle), `the merchant's answer contains "${needle}"`)
  }
  const reg = await api(srv.base, district, 'GET', '/api/v1/complaints?page_size=200')
  const byId = new Map(reg.json.items.map((c) => [c.id, c]))
  contacts.forEach((contact, i) => assert.equal(byId.get(ids[i])?.contact, contact, 'the regulator in scope sees it'))
  const theirs = await api(srv.base, other, 'GET', '/api/v1/complaints?page_size=200')
  assert.ok(!ids.some((id) => theirs.json.items.some((c) => c.id === id)))
  await advance(3601) // the per-source complaint limit of this address starts over
  await relogin()
})

// ---------------------------------------------------------------- 2. tokens in URLs
test('2. ?access_token= is refused on ordinary API routes', async () => {
  for (const p of ['/api/v1/me', '/api/v1/units', `/api/v1/units/${unitId}`, '/api/v1/complaints']) {
    const r = await api(srv.base, null, 'GET', `${p}${p.includes('?') ? '&' : '?'}access_token=${admin}`)
    assertError(r, 401)
  }
})

test('2. a stream ticket: single purpose, single use, short-lived, bound to the session', async () => {
  const t = await api(srv.base, district, 'POST', '/api/v1/auth/tickets', { purpose: 'stream' })
  assert.equal(t.status, 201, t.text)
  assert.equal(t.json.purpose, 'stream')
  assert.ok(t.json.ticket && t.json.ticket !== district)
  assert.ok(Date.parse(t.json.expires_at) > 0)
  // not a credential anywhere else
  assertError(await api(srv.base, t.json.ticket, 'GET', '/api/v1/me'), 401)
  assertError(await api(srv.base, null, 'GET', `/api/v1/me?ticket=${t.json.ticket}`), 401)
  const s = await openStream(`/api/v1/stream?ticket=${encodeURIComponent(t.json.ticket)}`)
  assert.equal(s.state.status, 200, s.state.text)
  assert.match(s.state.headers.get('content-type'), /text\/event-stream/)
  s.close()
  // single use
  const again = await openStream(`/api/v1/stream?ticket=${encodeURIComponent(t.json.ticket)}`)
  assert.equal(again.state.status, 401, again.state.text)
  // expires within about a minute
  const late = await api(srv.base, district, 'POST', '/api/v1/auth/tickets', { purpose: 'stream' })
  await advance(61)
  const expired = await openStream(`/api/v1/stream?ticket=${encodeURIComponent(late.json.ticket)}`)
  assert.equal(expired.state.status, 401, expired.state.text)
  // a media ticket does not open the stream
  const media = await api(srv.base, district, 'POST', '/api/v1/auth/tickets', { purpose: 'media' })
  assert.equal(media.status, 201, media.text)
  const wrong = await openStream(`/api/v1/stream?ticket=${encodeURIComponent(media.json.ticket)}`)
  assert.equal(wrong.state.status, 401, wrong.state.text)
  // a ticket dies with the session that asked for it
  const u = await newRegulator('tick')
  const tok = await login(srv.base, u.username, USER_PW)
  const orphan = await api(srv.base, tok, 'POST', '/api/v1/auth/tickets', { purpose: 'stream' })
  assert.equal((await api(srv.base, tok, 'POST', '/api/v1/auth/logout')).status, 204)
  const dead = await openStream(`/api/v1/stream?ticket=${encodeURIComponent(orphan.json.ticket)}`)
  assert.equal(dead.state.status, 401, dead.state.text)
  // the stream itself still takes a session token in the query (EventSource sends no headers)
  const legacy = await openStream(`/api/v1/stream?access_token=${district}`)
  assert.equal(legacy.state.status, 200, legacy.state.text)
  legacy.close()
})

test('2. tickets: hostile bodies and callers', async () => {
  for (const [body, status, code, field] of [
    [{}, 422, null, 'purpose'],
    [{ purpose: 'admin' }, 422, null, 'purpose'],
    [{ purpose: 5 }, 422, 'wrong_type', 'purpose'],
    [{ purpose: 'stream', extra: true }, 422, 'unknown_field', 'extra'],
    ['{"purpose": ', 400, 'malformed_json'],
    [{ purpose: 'x'.repeat(5000) }, 413, 'payload_too_large'],
  ]) {
    assertError(await api(srv.base, district, 'POST', '/api/v1/auth/tickets', body), status, code, field)
  }
  assertError(await api(srv.base, null, 'POST', '/api/v1/auth/tickets', { purpose: 'stream' }), 401)
  const key = await api(srv.base, district, 'POST', '/api/v1/api-keys',
    { name: 'ticket-probe', scope: { jurisdiction_id: districtJur }, permissions: ['read'] })
  assert.equal(key.status, 201, key.text)
  assertError(await api(srv.base, null, 'POST', '/api/v1/auth/tickets', { purpose: 'stream' },
    { 'x-api-key': key.json.key }), 403)
  for (const t of ['', 'x', 'mct_' + 'a'.repeat(500), "' OR 1=1 --"]) {
    const s = await openStream(`/api/v1/stream?ticket=${encodeURIComponent(t)}`)
    assert.equal(s.state.status, 401, `${t}: ${s.state.text}`)
  }
  assert.equal((await api(srv.base, null, 'GET', '/healthz')).status, 200)
})

// ---------------------------------------------------------------- 3. ending sessions
test('3. logout closes the streams of that session at once', async () => {
  const u = await newRegulator('logout')
  const tok = await login(srv.base, u.username, USER_PW)
  const s = await openStream('/api/v1/stream', { authorization: `Bearer ${tok}` })
  assert.equal(s.state.status, 200)
  const tok2 = await login(srv.base, u.username, USER_PW)
  const s2 = await openStream('/api/v1/stream', { authorization: `Bearer ${tok2}` })
  await sleep(200)
  assert.equal(s.state.ended, false)
  assert.equal((await api(srv.base, tok, 'POST', '/api/v1/auth/logout')).status, 204)
  await waitFor(() => s.state.ended, 5000, 'the stream of the ended session to close')
  await sleep(300)
  assert.equal(s2.state.ended, false, 'the other session of the user keeps its stream')
  s2.close()
})

test('3. a password change ends every other session of the user, streams included', async () => {
  const u = await newRegulator('pwchange')
  const keep = await login(srv.base, u.username, USER_PW)
  const lose = await login(srv.base, u.username, USER_PW)
  const s = await openStream('/api/v1/stream', { authorization: `Bearer ${lose}` })
  assert.equal(s.state.status, 200)
  const r = await api(srv.base, keep, 'POST', '/api/v1/auth/password',
    { old_password: USER_PW, new_password: 'N3w#Password!' })
  assert.equal(r.status, 204, r.text)
  assertError(await api(srv.base, lose, 'GET', '/api/v1/me'), 401)
  await waitFor(() => s.state.ended, 5000, 'the other session\'s stream to close')
  assert.equal((await api(srv.base, keep, 'GET', '/api/v1/me')).status, 200, 'the session that changed it stays')
})

test('3. disabling an account or changing its role or scope ends all its sessions', async () => {
  for (const change of [{ disabled: true }, { role: 'merchant', unit_ids: [unitId] },
    { jurisdiction_id: null }]) {
    const u = await newRegulator('patch')
    const tok = await login(srv.base, u.username, USER_PW)
    const s = await openStream('/api/v1/stream', { authorization: `Bearer ${tok}` })
    assert.equal(s.state.status, 200)
    let body = change
    if ('jurisdiction_id' in change) {
      // another node under the same district: a scope change
      const jurs = await api(srv.base, admin, 'GET', `/api/v1/jurisdictions?page_size=200`)
      const child = jurs.json.items.find((j) => j.parent_id === districtJur)
      assert.ok(child, 'the demo district has a station')
      body = { jurisdiction_id: child.id }
    }
    const p = await api(srv.base, admin, 'PATCH', `/api/v1/users/${u.id}`, body)
    assert.equal(p.status, 200, `${JSON.stringify(body)}: ${p.text}`)
    assertError(await api(srv.base, tok, 'GET', '/api/v1/me'), 401)
    await waitFor(() => s.state.ended, 5000, `the stream to close after ${JSON.stringify(body)}`)
  }
})

test('3. PATCH /users/{id}: scope and hostile input', async () => {
  const u = await newRegulator('patchx')
  for (const [body, status, code, field] of [
    [{ role: 'emperor' }, 422, null, 'role'],
    [{ disabled: 'yes' }, 422, 'wrong_type', 'disabled'],
    [{ password_hash: 'x' }, 422, 'unknown_field', 'password_hash'],
    [{ jurisdiction_id: 'jur_doesnotexist' }, 422, null, 'jurisdiction_id'],
    ['{"disabled":', 400, 'malformed_json'],
  ]) {
    assertError(await api(srv.base, admin, 'PATCH', `/api/v1/users/${u.id}`, body), status, code, field)
  }
  // another district never finds the user; a regulator cannot make anyone an admin
  assertError(await api(srv.base, other, 'PATCH', `/api/v1/users/${u.id}`, { disabled: true }), 404)
  assertError(await api(srv.base, district, 'PATCH', `/api/v1/users/${u.id}`, { role: 'platform_admin' }), 403)
  assertError(await api(srv.base, merchant, 'PATCH', `/api/v1/users/${u.id}`, { disabled: true }), 404)
  // nobody disables themselves out of the system by accident
  const me = (await api(srv.base, district, 'GET', '/api/v1/me')).json
  assertError(await api(srv.base, district, 'PATCH', `/api/v1/users/${me.id}`, { disabled: true }), 403)
  assert.equal((await login(srv.base, u.username, USER_PW)).length > 0, true)
})

// ---------------------------------------------------------------- 4. disclosure
test('4. the merchant cannot change what the public sees; the regulator can; contact facts stay editable', async () => {
  const cur = (await api(srv.base, merchant, 'GET', `/api/v1/units/${unitId}`)).json
  const flip = !cur.disclosure.show_alert_stats
  assertError(await api(srv.base, merchant, 'PATCH', `/api/v1/units/${unitId}`,
    { disclosure: { show_alert_stats: flip } }), 403)
  const after = (await api(srv.base, merchant, 'GET', `/api/v1/units/${unitId}`)).json
  assert.equal(after.disclosure.show_alert_stats, cur.disclosure.show_alert_stats, 'nothing changed')
  // sending the current value back (a whole form) is fine
  const same = await api(srv.base, merchant, 'PATCH', `/api/v1/units/${unitId}`,
    { phone: '0513-80000000', disclosure: { show_alert_stats: cur.disclosure.show_alert_stats } })
  assert.equal(same.status, 200, same.text)
  const reg = await api(srv.base, district, 'PATCH', `/api/v1/units/${unitId}`, { disclosure: { show_alert_stats: flip } })
  assert.equal(reg.status, 200, reg.text)
  assert.equal(reg.json.disclosure.show_alert_stats, flip)
})

// ---------------------------------------------------------------- 5. lockout
async function loginStatus(username, password) {
  const r = await api(srv.base, null, 'POST', '/api/v1/auth/login', { username, password })
  return { status: r.status, code: r.json?.error?.code, retry: r.headers.get('retry-after'), text: r.text }
}

test('5. unknown and existing accounts answer alike; lockouts grow, are audited and an admin can lift them', async () => {
  const u = await newRegulator('lock')
  const ghost = `ghost_${Math.random().toString(36).slice(2, 8)}`
  const real = []
  const fake = []
  for (let i = 0; i < 6; i++) {
    real.push(await loginStatus(u.username, 'Wrong#Pass1'))
    fake.push(await loginStatus(ghost, 'Wrong#Pass1'))
  }
  assert.deepEqual(fake.map((x) => [x.status, x.code]), real.map((x) => [x.status, x.code]),
    'an unknown account must look exactly like an existing one')
  assert.equal(real[0].status, 401)
  assert.equal(real[5].status, 423, real[5].text)
  const first = Number(real[5].retry)
  assert.ok(first > 0, `Retry-After expected, got ${real[5].retry}`)
  assert.ok(Number(fake[5].retry) > 0)
  // the owner's right password waits too (same source)
  assert.equal((await loginStatus(u.username, USER_PW)).status, 423)

  // every lockout is audited
  await relogin()
  const audit = await api(srv.base, admin, 'GET', `/api/v1/audit?action=auth.lockout&page_size=50`)
  assert.equal(audit.status, 200, audit.text)
  assert.ok(audit.json.items.some((e) => e.actor === u.username), audit.text)

  // after the lock runs out, the next lockout lasts longer
  await advance(first + 1)
  let again
  for (let i = 0; i < 5; i++) again = await loginStatus(u.username, 'Wrong#Pass1')
  assert.equal(again.status, 423, again.text)
  assert.ok(Number(again.retry) > first, `the second lock (${again.retry} s) must outlast the first (${first} s)`)

  // an admin lifts it; a regulator of another district cannot even find the user; a merchant may not
  await relogin()
  assertError(await api(srv.base, other, 'POST', `/api/v1/users/${u.id}/unlock`), 404)
  assertError(await api(srv.base, merchant, 'POST', `/api/v1/users/${u.id}/unlock`), 404)
  assertError(await api(srv.base, admin, 'POST', '/api/v1/users/user_nope/unlock'), 404)
  const un = await api(srv.base, admin, 'POST', `/api/v1/users/${u.id}/unlock`)
  assert.equal(un.status, 204, un.text)
  assert.equal((await loginStatus(u.username, USER_PW)).status, 200)
  const ua = await api(srv.base, admin, 'GET', `/api/v1/audit?action=user.unlock&page_size=10`)
  assert.ok(ua.json.items.some((e) => e.target === `user:${u.id}`), ua.text)
})

test('5. lockouts count per account and source: another account from the same source still logs in', async () => {
  // two accounts failing from the same source are throttled independently below the source limit
  const a = await newRegulator('srcA')
  const b = await newRegulator('srcB')
  for (let i = 0; i < 5; i++) await loginStatus(a.username, 'Wrong#Pass1')
  assert.equal((await loginStatus(a.username, USER_PW)).status, 423)
  assert.equal((await loginStatus(b.username, USER_PW)).status, 200, 'another account from the same source is not locked')
})

// ---------------------------------------------------------------- 6. headers
test('6. HTML pages carry a strict CSP, frame protection and no-referrer; the public page varies on Accept', async () => {
  for (const p of ['/', '/m/', `/public/units/${disclosureToken}`]) {
    const r = await api(srv.base, null, 'GET', p, undefined, { accept: 'text/html' })
    assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 200)}`)
    assert.match(r.headers.get('content-type'), /text\/html/)
    const csp = r.headers.get('content-security-policy') || ''
    const scriptSrc = (csp.match(/script-src ([^;]*)/) || [])[1]
    assert.ok(scriptSrc, `${p}: CSP with script-src expected, got "${csp}"`)
    assert.ok(!/unsafe-inline|unsafe-eval|\*/.test(scriptSrc), `${p}: script-src too wide: ${scriptSrc}`)
    assert.match(csp, /object-src 'none'/)
    assert.match(csp, /frame-ancestors 'none'/, p)
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer', p)
    assert.equal(r.headers.get('x-frame-options'), 'DENY', p)
  }
  const api1 = await api(srv.base, admin, 'GET', '/api/v1/me')
  assert.equal(api1.headers.get('referrer-policy'), 'no-referrer')
  for (const accept of ['text/html', 'application/json']) {
    const r = await api(srv.base, null, 'GET', `/public/units/${disclosureToken}`, undefined, { accept })
    assert.match(r.headers.get('vary') || '', /accept/i, `Vary for ${accept}`)
  }
  const missing = await api(srv.base, null, 'GET', '/public/units/nope', undefined, { accept: 'application/json' })
  assert.match(missing.headers.get('vary') || '', /accept/i)
})

test('6. the public page may be embedded where the configuration says; the console never', async () => {
  const s2 = await startServer({ demo: true, createAdmin: false,
    env: { MINGCHU_PUBLIC_FRAME_ANCESTORS: 'https://portal.example.gov.cn' } })
  try {
    const m = await login(s2.base, 'merchant', MERCHANT_PW)
    const id = (await api(s2.base, m, 'GET', '/api/v1/me')).json.unit_ids[0]
    const tok = (await api(s2.base, m, 'GET', `/api/v1/units/${id}`)).json.disclosure_token
    const pub = await api(s2.base, null, 'GET', `/public/units/${tok}`, undefined, { accept: 'text/html' })
    assert.match(pub.headers.get('content-security-policy'), /frame-ancestors https:\/\/portal\.example\.gov\.cn/)
    assert.equal(pub.headers.get('x-frame-options'), null, 'X-Frame-Options would forbid the allowed embedding')
    const con = await api(s2.base, null, 'GET', '/', undefined, { accept: 'text/html' })
    assert.match(con.headers.get('content-security-policy'), /frame-ancestors 'none'/)
  } finally {
    await s2.stop()
  }
})

// ---------------------------------------------------------------- 7. user names
test('7. user names are unique and log in regardless of case and Unicode compatibility forms', async () => {
  const u = await newRegulator('case')
  const upper = u.username.toUpperCase()
  assertError(await api(srv.base, admin, 'POST', '/api/v1/users',
    { username: upper, password: USER_PW, display_name: 'x', role: 'regulator', jurisdiction_id: districtJur }), 409,
  'username_taken')
  // fullwidth letters are the same name after NFKC
  const wide = [...u.username].map((c) => (/[a-z0-9]/.test(c) ? String.fromCodePoint(c.codePointAt(0) + 0xfee0) : c)).join('')
  assertError(await api(srv.base, admin, 'POST', '/api/v1/users',
    { username: wide, password: USER_PW, display_name: 'x', role: 'regulator', jurisdiction_id: districtJur }), 409,
  'username_taken')
  const l1 = await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: upper, password: USER_PW })
  assert.equal(l1.status, 200, l1.text)
  assert.equal(l1.json.user.id, u.id)
  const l2 = await api(srv.base, null, 'POST', '/api/v1/auth/login', { username: wide, password: USER_PW })
  assert.equal(l2.status, 200, l2.text)
  assert.equal(l2.json.user.id, u.id)
  assertError(await api(srv.base, admin, 'POST', '/api/v1/users',
    { username: 'ADMIN', password: USER_PW, display_name: 'x', role: 'platform_admin' }), 409, 'username_taken')
})

// ---------------------------------------------------------------- 8. audit of failures and denials
test('8. denied and failed actions are audited, filterable by result, and a flood is rate-limited', async () => {
  await relogin()
  assertError(await api(srv.base, other, 'GET', `/api/v1/units/${unitId}`), 404)
  assertError(await api(srv.base, other, 'DELETE', `/api/v1/units/${unitId}`), 404)
  assertError(await api(srv.base, merchant, 'GET', '/api/v1/audit'), 403)
  await loginStatus('district_reg', 'Wrong#Pass1')
  const denied = await api(srv.base, admin, 'GET', '/api/v1/audit?result=denied&page_size=200')
  assert.equal(denied.status, 200, denied.text)
  assert.ok(denied.json.items.length > 0)
  for (const e of denied.json.items) assert.match(e.result, /^denied/, JSON.stringify(e))
  const cross = denied.json.items.filter((e) => e.actor === 'other_district_reg')
  assert.ok(cross.some((e) => e.target.includes(unitId) && /GET/.test(e.action)), JSON.stringify(cross))
  assert.ok(cross.some((e) => e.target.includes(unitId) && /DELETE/.test(e.action)), JSON.stringify(cross))
  assert.ok(denied.json.items.some((e) => e.actor === 'merchant' && e.result.includes('403')))
  const failed = await api(srv.base, admin, 'GET', '/api/v1/audit?result=failed&action=auth.login&page_size=50')
  assert.ok(failed.json.items.some((e) => e.actor === 'district_reg'), failed.text)
  for (const e of failed.json.items) assert.match(e.result, /^failed/)
  const okOnly = await api(srv.base, admin, 'GET', '/api/v1/audit?result=ok&page_size=50')
  for (const e of okOnly.json.items) assert.equal(e.result, 'ok')
  assertError(await api(srv.base, admin, 'GET', '/api/v1/audit?result=bogus'), 422, null, 'result')

  // a flood of denied requests writes a bounded number of entries, then says how many it left out
  const before = (await api(srv.base, admin, 'GET', '/api/v1/audit?result=denied&actor=other_district_reg&page_size=1')).json.total
  for (let i = 0; i < 300; i++) await api(srv.base, other, 'GET', `/api/v1/units/${unitId}`)
  const afterFlood = (await api(srv.base, admin, 'GET', '/api/v1/audit?result=denied&actor=other_district_reg&page_size=1')).json.total
  assert.ok(afterFlood - before >= 1 && afterFlood - before <= 60, `flood wrote ${afterFlood - before} entries`)
  await advance(61)
  await relogin()
  assertError(await api(srv.base, other, 'GET', `/api/v1/units/${unitId}`), 404)
  const last = await api(srv.base, admin, 'GET', '/api/v1/audit?result=denied&actor=other_district_reg&page_size=1')
  assert.match(last.json.items[0].detail, /suppressed=\d+/, JSON.stringify(last.json.items[0]))
  const v = await api(srv.base, admin, 'GET', '/api/v1/audit/verify')
  assert.equal(v.json.ok, true, 'the chain holds')
})

// ---------------------------------------------------------------- 9. API keys
test('9. API keys need an explicit scope and get least privilege unless permissions say more', async () => {
  for (const [body, status, field] of [
    [{ name: 'k' }, 422, 'scope'],
    [{ name: 'k', scope: {} }, 422, 'scope'],
    [{ name: 'k', scope: { ingest_only: false } }, 422, 'scope'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: [] }, 422, 'permissions'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: ['admin'] }, 422, 'permissions[0]'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: 'read' }, 422, 'permissions'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur, ingest_only: true }, permissions: ['read'] }, 422, 'permissions'],
    [{ name: 'k', scope: { jurisdiction_id: 'jur_nope' } }, 422, 'scope.jurisdiction_id'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: ['read'], resources: [] }, 422, 'resources'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: ['read'], resources: 'alerts' }, 422, 'resources'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: ['read'], resources: ['alerts', 'nothing'] }, 422, 'resources[1]'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: ['read'], resources: ['alerts', 'alerts'] }, 422, 'resources[1]'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: ['read'], resources: ['api-keys'] }, 422, 'resources[0]'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: ['read'], resources: ['../units'] }, 422, 'resources[0]'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: ['read'], resources: [7] }, 422, 'resources[0]'],
    [{ name: 'k', scope: { jurisdiction_id: districtJur }, permissions: ['read'], resources: Array(65).fill('alerts') }, 422, 'resources'],
  ]) {
    assertError(await api(srv.base, district, 'POST', '/api/v1/api-keys', body), status, null, field)
  }
  // no permissions given: ingest only
  const least = await api(srv.base, district, 'POST', '/api/v1/api-keys', { name: 'box', scope: { jurisdiction_id: districtJur } })
  assert.equal(least.status, 201, least.text)
  assert.deepEqual(least.json.permissions, ['ingest'])
  assert.equal(least.json.scope.ingest_only, true)
  const k = (key) => ({ 'x-api-key': key })
  assertError(await api(srv.base, null, 'GET', '/api/v1/units', undefined, k(least.json.key)), 403)
  // read: reads, no writes
  const ro = await api(srv.base, district, 'POST', '/api/v1/api-keys',
    { name: 'dash', scope: { jurisdiction_id: districtJur }, permissions: ['read'] })
  assert.deepEqual(ro.json.permissions, ['read'])
  assert.equal((await api(srv.base, null, 'GET', '/api/v1/units?page_size=1', undefined, k(ro.json.key))).status, 200)
  assertError(await api(srv.base, null, 'DELETE', `/api/v1/units/${unitId}`, undefined, k(ro.json.key)), 403)
  assertError(await api(srv.base, null, 'PATCH', `/api/v1/units/${unitId}`, { phone: '0513-1' }, k(ro.json.key)), 403)
  assertError(await api(srv.base, null, 'POST', '/api/v1/ingest/heartbeats',
    { camera_id: 'cam_x', at: new Date().toISOString() }, k(ro.json.key)), 403)
  // write too, and still only in scope
  const rw = await api(srv.base, district, 'POST', '/api/v1/api-keys',
    { name: 'sync', scope: { jurisdiction_id: districtJur }, permissions: ['read', 'write'] })
  assert.deepEqual(rw.json.permissions.sort(), ['read', 'write'])
  const p = await api(srv.base, null, 'PATCH', `/api/v1/units/${unitId}`, { phone: '0513-80000001' }, k(rw.json.key))
  assert.equal(p.status, 200, p.text)
  assertError(await api(srv.base, null, 'GET', `/api/v1/units/${otherUnitId}`, undefined, k(rw.json.key)), 404)
  // the listing shows what each key may do
  const list = await api(srv.base, district, 'GET', '/api/v1/api-keys')
  const byId = new Map(list.json.items.map((x) => [x.id, x]))
  assert.deepEqual(byId.get(ro.json.id).permissions, ['read'])
  assert.deepEqual(byId.get(ro.json.id).resources, [])
  // read scopes per resource: a key for a dashboard that reads alerts and statistics only
  const narrow = await api(srv.base, district, 'POST', '/api/v1/api-keys',
    { name: 'bigscreen', scope: { jurisdiction_id: districtJur }, permissions: ['read'], resources: ['alerts', 'stats'] })
  assert.equal(narrow.status, 201, narrow.text)
  assert.deepEqual(narrow.json.resources, ['alerts', 'stats'])
  assert.equal((await api(srv.base, null, 'GET', '/api/v1/alerts?page_size=1', undefined, k(narrow.json.key))).status, 200)
  assert.equal((await api(srv.base, null, 'GET', '/api/v1/me', undefined, k(narrow.json.key))).status, 200)
  const denied = await api(srv.base, null, 'GET', `/api/v1/units/${unitId}`, undefined, k(narrow.json.key))
  assertError(denied, 403, 'resource_not_granted')
  assert.match(denied.json.error.message, /units.*alerts, stats/)
  assertError(await api(srv.base, null, 'GET', '/api/v1/cameras', undefined, k(narrow.json.key)), 403, 'resource_not_granted')
  // a key limited to alerts may not write them without write, nor write units with it
  const alertsRw = await api(srv.base, district, 'POST', '/api/v1/api-keys',
    { name: 'alerts-sync', scope: { jurisdiction_id: districtJur }, permissions: ['read', 'write'], resources: ['alerts'] })
  assertError(await api(srv.base, null, 'PATCH', `/api/v1/units/${unitId}`, { phone: '0513-2' }, k(alertsRw.json.key)), 403, 'resource_not_granted')
  // a merchant's key is bound to its unit
  const mk = await api(srv.base, merchant, 'POST', '/api/v1/api-keys', { name: 'm', scope: { unit_id: unitId }, permissions: ['read'] })
  assert.equal(mk.status, 201, mk.text)
  assertError(await api(srv.base, merchant, 'POST', '/api/v1/api-keys', { name: 'm', scope: { jurisdiction_id: districtJur } }), 422)
})

// ---------------------------------------------------------------- 10. protocol quirks
test('10. media types match exactly and case-insensitively', async () => {
  const body = JSON.stringify({ username: 'nobody_here', password: 'x' })
  for (const ct of ['APPLICATION/JSON', 'Application/Json; charset=UTF-8', 'application/json;charset=utf-8', 'application/json ; charset="utf-8"']) {
    const r = await api(srv.base, null, 'POST', '/api/v1/auth/login', body, { 'content-type': ct })
    assertError(r, 401, 'invalid_credentials')
  }
  for (const ct of ['application/jsonx', 'application/json-patch+json', 'text/plain; x=application/json', 'xapplication/json',
    'application/json; charset=latin1', 'application/jso']) {
    const r = await api(srv.base, null, 'POST', '/api/v1/auth/login', body, { 'content-type': ct })
    assertError(r, 415, 'unsupported_media_type')
  }
})

test('10. the Bearer scheme is case-insensitive and checked as a word', async () => {
  for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR']) {
    const r = await api(srv.base, null, 'GET', '/api/v1/me', undefined, { authorization: `${scheme} ${admin}` })
    assert.equal(r.status, 200, `${scheme}: ${r.text}`)
  }
  for (const h of [`Bearer${admin}`, `Bearerx ${admin}`, `Basic ${admin}`, 'Bearer ', 'Bearer', `Token ${admin}`, `Bearer ${admin} extra`]) {
    assertError(await api(srv.base, null, 'GET', '/api/v1/me', undefined, { authorization: h }), 401)
  }
  // logout with a lower-case scheme ends that session
  const t = await login(srv.base, 'city_reg', REG_PW)
  assert.equal((await api(srv.base, null, 'POST', '/api/v1/auth/logout', undefined, { authorization: `bearer ${t}` })).status, 204)
  assertError(await api(srv.base, t, 'GET', '/api/v1/me'), 401)
})

test('10. obs-folded header lines are refused (RFC 9112 §5.2)', async () => {
  const folded = await rawRequest(`GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer\r\n ${admin}\r\n\r\n`)
  assert.match(folded, /^HTTP\/1\.1 400/, folded)
  const tabbed = await rawRequest('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Thing: a\r\n\tb\r\n\r\n')
  assert.match(tabbed, /^HTTP\/1\.1 400/, tabbed)
  const plain = await rawRequest('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Thing: a b\r\n\r\n')
  assert.match(plain, /^HTTP\/1\.1 200/, plain)
})
