// Browser tests of the reports in the console, against a REAL `mingchu serve --demo`:
// a district regulator opens an alert and downloads its rectification notice (the PDF's text
// names the unit), exports the alert list with its filter as Excel, downloads the monthly
// report from the reports page and schedules a report there; the archive shows it.
//
// Run: cd tests && npm ci && node --test e2e/reports.test.mjs
// Env: MINGCHU_BIN (default <repo>/build/mingchu), CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = process.env.MINGCHU_BIN || path.join(REPO, 'build', 'mingchu')
const SHOTS = path.resolve(REPO, process.env.MINGCHU_SCREENSHOTS || 'test-artifacts/screenshots')
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const CHROME_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const T = 20000
const DISTRICT = ['district_reg', 'Regulator@2026!']

let server
let base
let dataDir
let browser
let log = ''
const ids = {}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

async function api(method, p, token, body) {
  const h = { Accept: 'application/json' }
  if (token) h.Authorization = `Bearer ${token}`
  if (body !== undefined) h['Content-Type'] = 'application/json'
  const res = await fetch(base + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${p} → ${res.status} ${text.slice(0, 300)}`)
  return text ? JSON.parse(text) : null
}

function pdfText(file) {
  const r = spawnSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return r.stdout.replace(/\s+/g, '')
}

const field = (id) => `input[data-test="${id}"], [data-test="${id}"] input`

before(async () => {
  assert.ok(fs.existsSync(BIN), `the server binary ${BIN}`)
  assert.ok(fs.existsSync(path.join(REPO, 'web/dist/index.html')), 'web/dist is built')
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-e2e-reports-'))
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  server = spawn(BIN, ['serve', '--demo', '--manual-clock', '--listen', `127.0.0.1:${port}`, '--data', dataDir], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  server.stdout.on('data', (d) => (log = (log + d).slice(-20000)))
  server.stderr.on('data', (d) => (log = (log + d).slice(-20000)))
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(base + '/healthz')).ok) break
    } catch {
      /* not yet */
    }
    if (i > 600) throw new Error('server not healthy:\n' + log)
    await new Promise((r) => setTimeout(r, 100))
  }
  const admin = (await api('POST', '/api/v1/auth/login', null, { username: 'admin', password: 'Platform@2026!' })).token
  const merchant = (await api('POST', '/api/v1/auth/login', null, { username: 'merchant', password: 'Kitchen@2026!' })).token
  ids.unit = (await api('GET', '/api/v1/me', merchant)).unit_ids[0]
  ids.unitName = (await api('GET', `/api/v1/units/${ids.unit}`, admin)).name
  const cam = (await api('GET', `/api/v1/cameras?unit_id=${ids.unit}&page_size=1`, admin)).items[0]
  const jpeg = fs.readFileSync(path.join(REPO, 'tests/fixtures/snapshot-640x360.jpg'))
  const now = Date.parse((await api('POST', '/api/v1/admin/clock', admin, { advance_seconds: 0 })).now)
  const r = await api('POST', '/api/v1/ingest/alerts', admin, {
    event_id: `e2e-notice-${Date.now()}`, camera_id: cam.id, type: 'rodent', occurred_at: new Date(now).toISOString(),
    snapshot_base64: jpeg.toString('base64'), boxes: [{ x: 300, y: 200, w: 80, h: 50, label: 'rodent', score: 0.88 }],
  })
  ids.alert = r.alert_id
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROME_ARGS })
})

after(async () => {
  await browser?.close()
  if (server) {
    server.kill('SIGTERM')
    await new Promise((r) => server.on('exit', r))
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
})

async function loggedIn() {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true })
  const page = await ctx.newPage()
  page.on('pageerror', (e) => console.log(`[pageerror] ${e.message}`))
  await page.goto(base + '/#/login')
  await page.waitForSelector('[data-test=login-card]', { timeout: T })
  await page.fill(field('login-username'), DISTRICT[0])
  await page.fill(field('login-password'), DISTRICT[1])
  await page.click('[data-test=login-submit]')
  await page.waitForSelector('[data-test=app-title]', { timeout: T })
  return page
}

test('a regulator downloads the rectification notice of an alert from its page', async () => {
  const page = await loggedIn()
  await page.goto(`${base}/#/alerts/${ids.alert}`)
  await page.waitForSelector('[data-test=notice-pdf]', { timeout: T })
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: T }), page.click('[data-test=notice-pdf]')])
  assert.match(download.suggestedFilename(), /^整改通知书-.*\.pdf$/)
  const file = path.join(dataDir, 'notice.pdf')
  await download.saveAs(file)
  const bytes = fs.readFileSync(file)
  assert.equal(bytes.subarray(0, 5).toString(), '%PDF-')
  const text = pdfText(file)
  assert.ok(text.includes(ids.unitName), `the notice names ${ids.unitName}`)
  assert.ok(text.includes('老鼠') || text.includes('鼠'), 'the alert type')
  // a look at the first page as it prints (for the report's screenshots)
  fs.mkdirSync(SHOTS, { recursive: true })
  spawnSync('pdftoppm', ['-png', '-r', '60', '-f', '1', '-l', '1', file, path.join(SHOTS, 'notice-page')])
  await page.context().close()
})

test('the alert list exports with its filter, and the monthly report downloads from the reports page', async () => {
  const page = await loggedIn()
  await page.goto(`${base}/#/alerts?state=open`)
  await page.waitForSelector('[data-test=export-button]', { timeout: T })
  await page.click('[data-test=export-button]')
  const [xlsx] = await Promise.all([page.waitForEvent('download', { timeout: T }), page.click('[data-test=export-xlsx]')])
  assert.match(xlsx.suggestedFilename(), /\.xlsx$/)
  const xf = path.join(dataDir, 'alerts.xlsx')
  await xlsx.saveAs(xf)
  assert.equal(fs.readFileSync(xf).subarray(0, 2).toString(), 'PK')
  const sheet = spawnSync('unzip', ['-p', xf, 'xl/worksheets/sheet1.xml'], { encoding: 'utf8' }).stdout
  assert.ok(sheet.includes('待整改') && !sheet.includes('已办结'), 'only open alerts, as the list was filtered')

  await page.click('[data-test="menu-reports"]')
  await page.waitForSelector('[data-test=reports-page]', { timeout: T })
  const [pdf] = await Promise.all([page.waitForEvent('download', { timeout: T }), page.click('[data-test=monthly-pdf]')])
  const pf = path.join(dataDir, 'monthly.pdf')
  await pdf.saveAs(pf)
  assert.ok(pdfText(pf).includes('崇川区'), 'the district regulator’s own report')

  // a schedule through the dialog; run it; the archive lists it with its SM3
  await page.click('.el-tabs__item:has-text("定期报告")')
  await page.click('[data-test=schedule-new]')
  await page.waitForSelector('[data-test=schedule-dialog]', { timeout: T })
  await page.click('[data-test=schedule-users]')
  await page.click('.el-select-dropdown__item:visible >> nth=0')
  await page.keyboard.press('Escape')
  await page.click('[data-test=schedule-save]')
  await page.waitForSelector('[data-test=schedules-table] .el-table__row', { timeout: T })
  await page.click('[data-test=schedule-run]')
  await page.click('.el-tabs__item:has-text("报告归档")')
  await page.waitForSelector('[data-test=archive-table] .el-table__row', { timeout: T })
  const row = await page.textContent('[data-test=archive-table] .el-table__row')
  assert.ok(row.includes('月报') || row.includes('崇川区'), row)
  fs.mkdirSync(SHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SHOTS, 'reports-archive.png'), fullPage: true })
  await page.context().close()
})
