// Browser tests of the MingChu web UI against a REAL server:
//   $MINGCHU_BIN serve --demo --manual-clock --listen 127.0.0.1:<port> --data <tmpdir>
// started here, in the repository root so that it serves web/dist.
//
// Scenario: a district regulator sees the dashboard figures of the stats API; an alert
// ingested through the API appears live (SSE) in the open alert list; the merchant
// rectifies it on a phone-sized /m/ with a photo; the regulator approves it and it shows
// closed on both sides; a regulator of another district never sees it; the public QR page
// opens without login and masks staff names; the English switch works.
//
// Run: cd tests && npm ci && node --test e2e/
// Env: MINGCHU_BIN (default <repo>/build/mingchu), MINGCHU_SCREENSHOTS (default
//      <repo>/test-artifacts/screenshots), CHROMIUM (default /usr/bin/chromium).
// The tests FAIL (never skip) when the server binary, web/dist or Chromium is missing.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { freePort } from './e2e_lib.mjs'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = process.env.MINGCHU_BIN || path.join(REPO, 'build', 'mingchu')
const SHOTS = path.resolve(REPO, process.env.MINGCHU_SCREENSHOTS || 'test-artifacts/screenshots')
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const CHROME_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

const USERS = {
  admin: ['admin', 'Platform@2026!'],
  city: ['city_reg', 'Regulator@2026!'],
  district: ['district_reg', 'Regulator@2026!'],
  otherDistrict: ['other_district_reg', 'Regulator@2026!'],
  merchant: ['merchant', 'Kitchen@2026!'],
}
const DESKTOP = { width: 1366, height: 768 }
const PHONE = { width: 390, height: 844 }
const T = 20000 // ms to wait for a UI element

// ---------------------------------------------------------------- helpers
let server = null
let serverLog = ''
let base = ''
let dataDir = ''
let browser = null
const state = {} // shared across the ordered tests below


async function api(method, p, { token, body, headers = {}, raw = false } = {}) {
  const h = { Accept: 'application/json', ...headers }
  if (token) h.Authorization = `Bearer ${token}`
  if (body !== undefined) h['Content-Type'] = 'application/json'
  const res = await fetch(base + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
  if (raw) return res
  const text = await res.text()
  let json = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = null
  }
  if (!res.ok) throw new Error(`${method} ${p} → ${res.status} ${text.slice(0, 300)}`)
  return json
}

async function apiLogin([username, password]) {
  const r = await api('POST', '/api/v1/auth/login', { body: { username, password } })
  assert.ok(r && r.token, `login of ${username} gave no token`)
  return r.token
}

// a small valid PNG (RGB, no external deps): a kitchen-grey frame with a dark blob
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32(buf) {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
function chunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td))
  return Buffer.concat([len, td, crc])
}
function makePng(w, h, color = [150, 160, 165], blob = [60, 45, 40]) {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  const rows = []
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3)
    for (let x = 0; x < w; x++) {
      const inBlob = (x - w * 0.6) ** 2 / (w * 0.08) ** 2 + (y - h * 0.75) ** 2 / (h * 0.06) ** 2 < 1
      const c = inBlob ? blob : y > h * 0.65 ? color.map((v) => v - 40) : color
      row.set(c, 1 + x * 3)
    }
    rows.push(row)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

async function newPage(viewport, extra = {}) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...extra })
  const page = await ctx.newPage()
  page.on('pageerror', (e) => console.log(`[pageerror] ${page.url()}: ${e.message}`))
  return page
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true })
  await page.waitForTimeout(400) // let charts and images settle
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })
}

/** Element Plus puts data-* on the <input> itself, Vant on the field wrapper: accept both. */
const field = (id) => `input[data-test="${id}"], textarea[data-test="${id}"], [data-test="${id}"] input, [data-test="${id}"] textarea`

async function consoleLogin(page, [username, password]) {
  await page.goto(base + '/#/login')
  await page.waitForSelector('[data-test=login-card]', { timeout: T })
  await page.fill(field('login-username'), username)
  await page.fill(field('login-password'), password)
  await page.click('[data-test=login-submit]')
  await page.waitForSelector('[data-test=app-title]', { timeout: T })
}

async function mobileLogin(page, [username, password]) {
  await page.goto(base + '/m/#/login')
  await page.waitForSelector('[data-test=m-login]', { timeout: T })
  await page.fill(field('m-username'), username)
  await page.fill(field('m-password'), password)
  await page.click('[data-test=m-login-submit]')
  await page.waitForSelector('[data-test=m-tabbar]', { timeout: T })
}

/** Wait for a list page to finish loading: rows, an empty state, or an error state. */
async function listSettled(page, rowSel) {
  await page.waitForSelector(`${rowSel}, [data-test=empty-state], [data-test=error-state]`, { timeout: T })
  const errors = page.locator('[data-test=error-state]')
  if ((await errors.count()) > 0) assert.fail(`error state on ${page.url()}: ${(await errors.first().innerText()).replace(/\s+/g, ' ')}`)
}

// ---------------------------------------------------------------- setup
before(async () => {
  assert.ok(fs.existsSync(BIN), `MingChu server binary not found at ${BIN}: build it first (cmake) or set MINGCHU_BIN`)
  assert.ok(fs.existsSync(path.join(REPO, 'web', 'dist', 'index.html')), 'web/dist is missing: run `npm ci && npm run build` in web/ first')
  assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: apt-get install -y chromium fonts-noto-cjk`)

  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-e2e-'))
  server = spawn(BIN, ['serve', '--demo', '--manual-clock', '--listen', `127.0.0.1:${port}`, '--data', dataDir], {
    cwd: REPO, // the server serves ./web/dist from here
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const keep = (d) => {
    serverLog = (serverLog + d.toString()).slice(-8000)
  }
  server.stdout.on('data', keep)
  server.stderr.on('data', keep)
  let exited = null
  server.on('exit', (code, sig) => (exited = `exit code ${code} signal ${sig}`))

  const deadline = Date.now() + 60000
  for (;;) {
    if (exited) assert.fail(`mingchu serve stopped before it was healthy (${exited}):\n${serverLog}`)
    try {
      const r = await fetch(base + '/healthz')
      if (r.ok) break
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) assert.fail(`mingchu serve not healthy after 60 s:\n${serverLog}`)
    await new Promise((r) => setTimeout(r, 250))
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROME_ARGS })
})

after(async () => {
  await browser?.close().catch(() => {})
  if (server && server.exitCode === null) {
    server.kill('SIGTERM')
    await new Promise((r) => {
      const t = setTimeout(() => (server.kill('SIGKILL'), r()), 5000)
      server.on('exit', () => (clearTimeout(t), r()))
    })
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
})

// ---------------------------------------------------------------- scenario (ordered)
test('the district regulator sees dashboard figures equal to the stats API', { timeout: 90000 }, async () => {
  const page = await newPage(DESKTOP)
  state.reg = page
  const statsReq = page.waitForRequest((r) => r.url().includes('/api/v1/stats/overview'), { timeout: T })
  await consoleLogin(page, USERS.district)
  const req = await statsReq
  await page.waitForSelector('[data-test=stat-units]', { timeout: T })
  assert.equal(await page.locator('[data-test=error-state]').count(), 0, 'the dashboard shows an error state')
  // the title is Chinese by default
  assert.equal((await page.locator('[data-test=app-title]').innerText()).trim(), '明厨亮灶智慧监管平台')

  const token = await page.evaluate(() => localStorage.getItem('mingchu.console.token'))
  assert.ok(token, 'the console keeps its token in localStorage')
  state.regToken = token
  const url = new URL(req.url())
  const stats = await api('GET', url.pathname + url.search, { token })
  const fmt = (n) => Number(n).toLocaleString('zh-CN', { maximumFractionDigits: 0 })
  for (const [key, field_] of [
    ['units', 'units'],
    ['units-with-alerts', 'units_with_alerts'],
    ['alerts-total', 'alerts_total'],
    ['handled', 'handled'],
  ]) {
    const card = page.locator(`[data-test=stat-${key}]`)
    assert.equal(Number(await card.getAttribute('data-value')), Number(stats[field_]), `${field_}: page vs API`)
    assert.equal((await card.locator('[data-test=stat-value]').innerText()).trim(), fmt(stats[field_]), `${field_} as shown`)
  }
  const rate = Number(await page.locator('[data-test=stat-handling-rate]').getAttribute('data-value'))
  assert.equal(rate, Number(stats.handling_rate), 'handling_rate: page vs API')
  if (stats.cameras_online !== undefined) {
    assert.equal(Number(await page.locator('[data-test=stat-cameras-online]').getAttribute('data-value')), Number(stats.cameras_online))
  }
  await shot(page, 'console-dashboard')
})

test('an alert ingested through the API appears live in the open alert list', { timeout: 90000 }, async () => {
  const page = state.reg
  assert.ok(page, 'needs the regulator session of the first test')

  // the merchant's unit, inside district_reg's district
  const merchantToken = await apiLogin(USERS.merchant)
  const me = await api('GET', '/api/v1/me', { token: merchantToken })
  assert.ok(me.unit_ids && me.unit_ids.length, 'the demo merchant has a unit')
  state.unitId = me.unit_ids[0]

  const adminToken = await apiLogin(USERS.admin)
  state.adminToken = adminToken
  const key = await api('POST', '/api/v1/api-keys', { token: adminToken, body: { name: 'e2e-ingest', scope: { unit_id: state.unitId, ingest_only: true } } })
  assert.ok(key.key, 'api key created')

  await page.goto(base + '/#/alerts?state=open')
  await listSettled(page, '[data-test=alert-row]')
  await page.waitForFunction(() => document.querySelector('[data-test=live-status]')?.classList.contains('on'), null, { timeout: T })
  await page.evaluate(() => (window.__e2eNoReload = true))

  const clock = await api('POST', '/api/v1/admin/clock', { token: adminToken, body: { advance_seconds: 1 } }).catch(() => null)
  const occurredAt = clock?.now ?? new Date().toISOString()
  const snapshot = makePng(640, 360)
  const ingest = await api('POST', '/api/v1/ingest/alerts', {
    headers: { 'X-Api-Key': key.key },
    body: {
      event_id: `e2e-${Date.now()}`,
      unit_id: state.unitId,
      type: 'rodent',
      occurred_at: occurredAt,
      confidence: 0.93,
      snapshot_base64: snapshot.toString('base64'),
      boxes: [{ x: 330, y: 250, w: 120, h: 50, label: 'rodent', score: 0.93 }],
    },
  })
  assert.ok(ingest.alert_id, 'ingest answered an alert id')
  state.alertId = ingest.alert_id

  const row = page.locator(`[data-test=alert-row][data-id="${state.alertId}"]`)
  await row.waitFor({ timeout: T })
  assert.equal(await row.getAttribute('data-state'), 'open')
  assert.equal(await page.evaluate(() => window.__e2eNoReload), true, 'the list updated without a page reload')
  await page.locator(`[data-test=alert-notification][data-id="${state.alertId}"]`).waitFor({ timeout: T })
  await shot(page, 'console-alerts')

  // the detail page shows the snapshot and the detection box
  await page.goto(base + `/#/alerts/${state.alertId}`)
  await page.waitForSelector(`[data-test=alert-head][data-id="${state.alertId}"]`, { timeout: T })
  await page.waitForSelector('[data-test=snapshot] [data-test=auth-image]', { timeout: T })
  await page.waitForSelector('[data-test=det-box]', { timeout: T })
  await shot(page, 'console-alert-detail-open')
})

test('the merchant rectifies the alert with a photo on a phone', { timeout: 90000 }, async () => {
  assert.ok(state.alertId, 'needs the ingested alert')
  const page = await newPage(PHONE, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
  state.merchant = page
  await mobileLogin(page, USERS.merchant)
  const card = page.locator(`[data-test=m-alert][data-id="${state.alertId}"]`)
  await card.waitFor({ timeout: T })
  await shot(page, 'mobile-alerts')
  await card.click()
  await page.waitForSelector('[data-test=m-rectify-form]', { timeout: T })

  await page.fill(field('m-rectify-text'), '已封堵排水口缝隙，放置捕鼠装置，并对后厨进行全面消杀。')
  await page.setInputFiles('[data-test=m-rectify-photos] input[type=file]', {
    name: 'rectified.png',
    mimeType: 'image/png',
    buffer: makePng(2400, 1800, [200, 205, 200], [190, 195, 190]),
  })
  // the photo is shrunk and uploaded: wait until no preview is uploading or failed
  await page.waitForSelector('[data-test=m-rectify-photos] .van-uploader__preview', { timeout: T })
  await page.waitForFunction(() => !document.querySelector('[data-test=m-rectify-photos] .van-uploader__mask'), null, { timeout: T })
  await shot(page, 'mobile-rectify')
  await page.click('[data-test=m-rectify-submit]')
  await page.waitForSelector('[data-test=m-state][data-state=submitted]', { timeout: T })

  const a = await api('GET', `/api/v1/alerts/${state.alertId}`, { token: state.regToken })
  assert.equal(a.state, 'submitted')
})

test('the regulator approves and the alert shows closed on both sides', { timeout: 90000 }, async () => {
  const page = state.reg
  assert.ok(page && state.merchant, 'needs both sessions')
  await page.goto(base + `/#/alerts/${state.alertId}`)
  await page.reload() // a fresh read of the alert (it may also have updated live)
  await page.waitForSelector('[data-test=alert-head][data-state=submitted]', { timeout: T })
  await page.waitForSelector('[data-test=rectification]', { timeout: T })
  await page.click('[data-test=approve]')
  await page.fill(field('action-text'), '整改照片清晰，措施到位，予以通过。')
  await page.click('[data-test=action-submit]')
  await page.waitForSelector('[data-test=alert-head][data-state=closed]', { timeout: T })
  await page.waitForSelector('[data-test=timeline-event][data-type=approved]', { timeout: T })
  await shot(page, 'console-alert-detail-closed')

  const m = state.merchant
  await m.reload()
  await m.waitForSelector('[data-test=m-state][data-state=closed]', { timeout: T })
  await shot(m, 'mobile-alert-closed')

  const a = await api('GET', `/api/v1/alerts/${state.alertId}`, { token: state.regToken })
  assert.equal(a.state, 'closed')
})

test('a regulator of another district never sees the alert', { timeout: 90000 }, async () => {
  assert.ok(state.alertId)
  const page = await newPage(DESKTOP)
  await consoleLogin(page, USERS.otherDistrict)
  await page.goto(base + '/#/alerts')
  await listSettled(page, '[data-test=alert-row]')
  assert.equal(await page.locator(`[data-test=alert-row][data-id="${state.alertId}"]`).count(), 0, 'listed for the other district')

  await page.goto(base + `/#/alerts/${state.alertId}`)
  await page.waitForSelector('[data-test=not-found], [data-test=alert-head], [data-test=error-state]', { timeout: T })
  assert.equal(await page.locator('[data-test=not-found]').count(), 1, 'the direct URL must show not-found')
  assert.equal(await page.locator('[data-test=alert-head]').count(), 0)
  await shot(page, 'console-other-district-not-found')

  const otherToken = await page.evaluate(() => localStorage.getItem('mingchu.console.token'))
  const r = await api('GET', `/api/v1/alerts/${state.alertId}`, { token: otherToken, raw: true })
  assert.equal(r.status, 404, 'the API hides the alert from the other district')
  await page.context().close()
})

test('the public QR page opens without login and masks staff names', { timeout: 90000 }, async () => {
  assert.ok(state.unitId && state.adminToken)
  const unit = await api('GET', `/api/v1/units/${state.unitId}`, { token: state.adminToken })
  assert.ok(unit.disclosure_token, 'the unit has a disclosure_token')
  const staff = await api('GET', `/api/v1/staff?unit_id=${encodeURIComponent(state.unitId)}&page_size=200`, { token: state.adminToken })
  const fullNames = new Set((staff.items ?? []).map((s) => s.name).filter((n) => n && !n.includes('*')))

  const page = await newPage(PHONE, { isMobile: true, deviceScaleFactor: 2 })
  await page.goto(base + `/public/units/${unit.disclosure_token}`)
  await page.waitForSelector('[data-test=public-unit-name]', { timeout: T })
  assert.equal((await page.locator('[data-test=public-unit-name]').innerText()).trim(), unit.name)
  const shown = (await page.locator('[data-test=public-staff-name]').allInnerTexts()).map((s) => s.trim())
  assert.ok(shown.length > 0, 'the demo unit lists staff on its public page')
  for (const n of shown) {
    assert.ok(n.includes('*'), `staff name not masked: ${n}`)
    assert.ok(!fullNames.has(n), `full staff name shown: ${n}`)
  }
  // exactly the cameras the unit discloses (the demo makes two areas of every kitchen public)
  const disclosed = await api('GET', `/public/units/${unit.disclosure_token}`)
  assert.ok(disclosed.public_cameras.length > 0, 'the demo unit discloses cameras')
  assert.equal(await page.locator('[data-test=public-camera]').count(), disclosed.public_cameras.length)
  const camText = (await page.locator('[data-test=public-cameras]').innerText())
  for (const c of disclosed.public_cameras) assert.ok(camText.includes(c.name), `public camera ${c.name} shown`)
  assert.equal(await page.evaluate(() => localStorage.getItem('mingchu.console.token')), null, 'no login involved')
  await shot(page, 'public-unit')
  await page.context().close()
})

test('the English switch translates the console and is remembered', { timeout: 90000 }, async () => {
  const page = state.reg
  assert.ok(page)
  await page.goto(base + '/#/dashboard')
  await page.waitForSelector('[data-test=stat-units]', { timeout: T })
  await page.click('[data-test=lang-button]')
  await page.click('[data-test=lang-en]')
  await page.waitForFunction(() => document.querySelector('[data-test=app-title]')?.textContent?.includes('MingChu'), null, { timeout: T })
  assert.equal((await page.locator('[data-test=menu-dashboard]').innerText()).trim(), 'Overview')
  assert.equal(await page.evaluate(() => localStorage.getItem('mingchu.locale')), 'en')
  await page.reload()
  await page.waitForSelector('[data-test=stat-units]', { timeout: T })
  assert.ok((await page.locator('[data-test=app-title]').innerText()).includes('MingChu'), 'English survives a reload')
  await shot(page, 'console-dashboard-en')
  // back to Chinese for the page tour
  await page.click('[data-test=lang-button]')
  await page.click('[data-test=lang-zh]')
  await page.waitForFunction(() => document.querySelector('[data-test=app-title]')?.textContent?.includes('明厨'), null, { timeout: T })
})

test('every main page renders without an error state (screenshots)', { timeout: 180000 }, async () => {
  const page = state.reg
  assert.ok(page)
  const pages = [
    ['/units', '[data-test=unit-row]', 'console-units'],
    ['/cameras', '[data-test=cameras-table] .el-table__row', 'console-cameras'],
    ['/staff', '[data-test=staff-table] .el-table__row', 'console-staff'],
    ['/health-certs', '[data-test=certs-table] .el-table__row', 'console-health-certs'],
    ['/users', '[data-test=users-table] .el-table__row', 'console-users'],
    ['/complaints', '[data-test=complaints-table] .el-table__row', 'console-complaints'],
  ]
  const failures = []
  for (const [route, rowSel, name] of pages) {
    await page.goto(base + '/#' + route)
    try {
      await listSettled(page, rowSel)
    } catch (e) {
      failures.push(`${route}: ${e.message.split('\n')[0]}`)
    }
    await shot(page, name)
  }
  await page.goto(base + `/#/units/${state.unitId}`)
  await page.waitForSelector('[data-test=unit-name]', { timeout: T })
  assert.ok((await page.locator(field('unit-name')).inputValue()).length > 0, 'the unit form is filled')
  await page.waitForSelector('[data-test=unit-qr]', { timeout: T }).catch(() => failures.push('/units/:id: no QR code image'))
  await shot(page, 'console-unit-form')
  await page.goto(base + '/#/units')
  await page.click('[data-test=units-map-view]')
  await page.waitForSelector('[data-test=unit-map]', { timeout: T })
  await page.waitForSelector('[data-test=map-marker], [data-test=map-cluster]', { timeout: T }).catch(() => failures.push('/units map: no markers'))
  await shot(page, 'console-units-map')

  // the audit log belongs to the platform admin
  const admin = await newPage(DESKTOP)
  await consoleLogin(admin, USERS.admin)
  await admin.goto(base + '/#/audit')
  try {
    await listSettled(admin, '[data-test=audit-table] .el-table__row')
    assert.ok((await admin.locator('[data-test=audit-table] .el-table__row').count()) > 0, 'the audit log has entries')
  } catch (e) {
    failures.push(`/audit: ${e.message.split('\n')[0]}`)
  }
  await shot(admin, 'console-audit')
  await admin.context().close()

  const m = state.merchant ?? (await newPage(PHONE, { isMobile: true, hasTouch: true }))
  for (const [route, sel, name] of [
    ['/staff', '[data-test=m-staff-row]', 'mobile-staff'],
    ['/unit', '[data-test=m-unit-name]', 'mobile-unit'],
    ['/inbox', '[data-test=m-notification]', 'mobile-inbox'],
  ]) {
    try {
      await m.goto(base + '/m/#' + route)
      await m.waitForSelector(sel, { timeout: T })
    } catch (e) {
      failures.push(`/m${route}: ${e.message.split('\n')[0]}`)
    }
    await shot(m, name)
  }
  assert.deepEqual(failures, [], 'pages that failed to render')
})
