// Browser test of the kitchen's ledgers against a REAL server (`mingchu serve --demo`):
// a delivery from stock-in to hand-over signed in the kitchen app at phone size, then the
// public traceability page of the meal batch it carried, opened without login.
//
//   the demo merchant records the acceptance of a batch in /m/ (the form), puts it into stock
//   (the button), the kitchen takes it out, keeps a sample and dispatches a trip (API, as the
//   kitchen's own systems would), the receiving unit signs the hand-over in /m/, and the trace
//   code of the meal batch shows the whole chain with names masked.
//
// Run: cd tests && npm ci && node --test e2e/operations.test.mjs
// The test FAILS (never skips) when the server binary, web/dist or Chromium is missing.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { freePort, jsonApi } from './e2e_lib.mjs'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = process.env.MINGCHU_BIN || path.join(REPO, 'build', 'mingchu')
const SHOTS = path.resolve(REPO, process.env.MINGCHU_SCREENSHOTS || 'test-artifacts/screenshots')
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const CHROME_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const MERCHANT = ['merchant', 'Kitchen@2026!']
const PHONE = { width: 390, height: 844 }
const T = 20000

let server = null
let serverLog = ''
let base = ''
let dataDir = ''
let browser = null


const api = jsonApi(() => base)

const field = (id) => `input[data-test="${id}"], [data-test="${id}"] input`

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true })
  await page.waitForTimeout(300)
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })
}

before(async () => {
  assert.ok(fs.existsSync(BIN), `MingChu server binary not found at ${BIN}`)
  assert.ok(fs.existsSync(path.join(REPO, 'web', 'dist', 'index.html')), 'web/dist is missing: npm run build in web/')
  assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`)
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-e2e-ops-'))
  server = spawn(BIN, ['serve', '--demo', '--manual-clock', '--listen', `127.0.0.1:${port}`, '--data', dataDir], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const keep = (d) => {
    serverLog = (serverLog + d.toString()).slice(-8000)
  }
  server.stdout.on('data', keep)
  server.stderr.on('data', keep)
  let exited = null
  server.on('exit', (code, sig) => (exited = `exit code ${code} signal ${sig}`))
  const deadline = Date.now() + 90000
  for (;;) {
    if (exited) assert.fail(`mingchu serve stopped (${exited}):\n${serverLog}`)
    try {
      if ((await fetch(base + '/healthz')).ok) break
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) assert.fail(`not healthy after 90 s:\n${serverLog}`)
    await new Promise((r) => setTimeout(r, 250))
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROME_ARGS })
})

after(async () => {
  await browser?.close()
  if (server && server.exitCode === null) {
    server.kill('SIGTERM')
    await new Promise((r) => server.on('exit', r))
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
})

test('a delivery from stock-in to hand-over signed in the kitchen app, then its public trace page', { timeout: 120000 },
  async () => {
    const token = (await api('POST', '/api/v1/auth/login', { body: { username: MERCHANT[0], password: MERCHANT[1] } }))
      .token
    const me = await api('GET', '/api/v1/me', { token })
    const unitId = me.unit_ids[0]
    const supplier = await api('POST', '/api/v1/suppliers', {
      token,
      body: {
        unit_id: unitId, name: '如皋禽业有限公司', uscc: usccWithCheck('91320682MA1M11111'),
        qualification_expires_on: new Date(Date.now() + 200 * 86400e3).toISOString().slice(0, 10), file_ids: [],
      },
    })

    const ctx = await browser.newContext({ viewport: PHONE, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
    const m = await ctx.newPage()
    m.on('pageerror', (e) => console.log(`[pageerror] ${m.url()}: ${e.message}`))
    await m.goto(base + '/m/#/login')
    await m.waitForSelector('[data-test=m-login]', { timeout: T })
    await m.fill(field('m-username'), MERCHANT[0])
    await m.fill(field('m-password'), MERCHANT[1])
    await m.click('[data-test=m-login-submit]')
    await m.waitForSelector('[data-test=m-tabbar]', { timeout: T })
    await m.click('[data-test=tab-ops]')
    await m.waitForSelector('[data-test=m-ops]', { timeout: T })

    // acceptance through the form
    await m.waitForFunction((name) => [...document.querySelectorAll('select option')].some((o) => o.textContent === name),
      supplier.name, { timeout: T })
    await m.fill(field('acc-item'), '鸡腿')
    await m.fill(field('acc-quantity'), '20')
    await m.fill(field('acc-batch'), 'JT-2026-1')
    await m.fill(field('acc-shelf'), '5')
    await m.click('[data-test=acc-submit]')
    await m.getByText('入库', { exact: true }).first().click()
    const pending = m.locator('[data-test=pending-row]', { hasText: '鸡腿' })
    await pending.waitFor({ timeout: T })
    await shot(m, 'ops-m-pending')
    await pending.locator('[data-test=stock-in]').click()
    await m.locator('[data-test=stock-row]', { hasText: '鸡腿' }).waitFor({ timeout: T })
    assert.equal(await m.locator('[data-test=pending-row]', { hasText: '鸡腿' }).count(), 0, 'stocked, no longer pending')
    const stocked = await api('GET', `/api/v1/stock?unit_id=${unitId}&item=${encodeURIComponent('鸡腿')}`, { token })
    assert.equal(stocked.total, 1)
    assert.equal(stocked.items[0].remaining, 20)
    assert.equal(stocked.items[0].batch_no, 'JT-2026-1')

    // the kitchen's own systems: stock-out, sample, trip
    const out = await api('POST', '/api/v1/stock/out', {
      token, body: { unit_id: unitId, item: '鸡腿', quantity: 12, department: '热厨', receiver: '王领料', handler: '陈库管' },
    })
    const kept = new Date()
    const sample = await api('POST', '/api/v1/samples', {
      token,
      body: { unit_id: unitId, dish: '香酥鸡腿', weight_g: 150, kept_at: kept.toISOString(), keeper: '王小明',
        dispose_after: new Date(kept.getTime() + 49 * 3600e3).toISOString() },
    })
    const trip = await api('POST', '/api/v1/delivery-trips', {
      token,
      body: { unit_id: unitId, client_name: '崇川实验小学', destination: '崇川区学堂路1号', vehicle_plate: '苏F8A123',
        driver: '张师傅', containers: 4, portions: 120, dispatched_at: new Date().toISOString() },
    })
    const meal = await api('POST', '/api/v1/meal-batches', {
      token, body: { unit_id: unitId, dish: '香酥鸡腿', stock_out_ids: [out.id], sample_id: sample.id, delivery_id: trip.id },
    })
    // the vehicle's track on the way (the API test sends it over MQTT from a bound device):
    // east along latitude 32.0; the 4th position drifts ~550 m north, the 5th is too cold
    await api('PUT', `/api/v1/delivery-trips/${trip.id}/route`, {
      token, body: { points: [{ lat: 32.0, lng: 120.85 }, { lat: 32.0, lng: 120.95 }], corridor_m: 300, temp_min_c: 60, temp_max_c: 100 },
    })
    const t0 = Date.now() - 5 * 60e3
    await api('POST', `/api/v1/delivery-trips/${trip.id}/track`, {
      token,
      body: { points: [0, 1, 2, 3, 4, 5].map((i) => ({ at: new Date(t0 + i * 40e3).toISOString(), lat: i === 3 ? 32.005 : 32.0,
        lng: 120.86 + i * 0.015, temperature_c: i === 4 ? 50 : 66 })) },
    })
    // today's menu of the kitchen with the dish of that meal batch, on the unit's public page
    const dish = await api('POST', '/api/v1/dishes', {
      token,
      body: { unit_id: unitId, name: '香酥鸡腿', ingredients: [{ item: '鸡腿', grams: 150 }],
        nutrition: { energy_kcal: 320, protein_g: 26, fat_g: 21, carbohydrate_g: 6, sodium_mg: 510 }, allergens: ['gluten', 'egg'] },
    })
    const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10)
    await api('POST', '/api/v1/menus', { token, body: { unit_id: unitId, client_name: '本单位', day: today, meal: 'lunch', dish_ids: [dish.id] } })

    // the hand-over signed in the app
    await m.reload()
    await m.waitForSelector('[data-test=m-ops]', { timeout: T })
    await m.getByText('配送交付', { exact: true }).first().click()
    const row = m.locator('[data-test=trip-row]', { hasText: '崇川实验小学' })
    await row.waitFor({ timeout: T })
    await row.locator('[data-test=handover]').click()
    await m.waitForSelector('[data-test=handover-form]', { timeout: T })
    await m.fill(field('ho-by'), '刘老师')
    await m.fill(field('ho-portions'), '120')
    await m.fill(field('ho-temp'), '63.5')
    await m.click('[data-test=ho-submit]')
    await row.locator('[data-test=delivered]').waitFor({ timeout: T })
    assert.match(await row.innerText(), /刘老师/)
    await shot(m, 'ops-m-delivered')
    const signed = await api('GET', `/api/v1/delivery-trips/${trip.id}`, { token })
    assert.equal(signed.state, 'delivered')
    assert.equal(signed.handover.received_by, '刘老师')
    assert.equal(signed.handover.temperature_c, 63.5)

    // the public page of the meal batch, as a diner scanning its label would open it
    const pub = await browser.newContext({ viewport: PHONE, locale: 'zh-CN' })
    const p = await pub.newPage()
    const res = await p.goto(`${base}/public/trace/${meal.trace_code}`)
    assert.equal(res.status(), 200)
    await p.waitForSelector('#ingredients', { timeout: T })
    assert.equal(await p.locator('#dish').innerText(), '香酥鸡腿')
    assert.equal(await p.locator('#trace-code').innerText(), meal.trace_code)
    const text = await p.locator('body').innerText()
    for (const s of ['鸡腿', 'JT-2026-1', '如皋禽业有限公司', '王**', '张**', '刘**', '120']) {
      assert.ok(text.includes(s), `the trace page shows ${s}:\n${text}`)
    }
    for (const s of ['王小明', '张师傅', '刘老师', '陈库管']) assert.ok(!text.includes(s), `no full name ${s}`)
    await shot(p, 'ops-public-trace')

    // the unit's public page (its QR code) shows today's menu with nutrition, allergens, origins
    const disclosure = (await api('GET', `/api/v1/units/${unitId}`, { token })).disclosure_token
    await p.goto(`${base}/public/units/${disclosure}`)
    const mealEl = p.locator('[data-test=public-menu-meal]')
    await mealEl.waitFor({ timeout: T })
    const menuText = await p.locator('[data-test=public-menu]').innerText()
    for (const s of ['今日菜谱', '午餐', '香酥鸡腿', '能量 320 千卡', '麸质', '蛋类', '鸡腿', 'JT-2026-1', '如皋禽业有限公司']) {
      assert.ok(menuText.includes(s), `the menu shows ${s}:\n${menuText}`)
    }
    assert.equal(await p.locator('[data-test=public-dish-origin]').count(), 1)
    await shot(p, 'ops-public-menu')
    await p.click('[data-test=lang-toggle]')
    await p.waitForFunction(() => document.querySelector('[data-test=public-menu]').innerText.includes("Today's menu"), null, { timeout: T })
    assert.match(await p.locator('[data-test=public-menu]').innerText(), /Lunch[\s\S]*Energy 320 kcal[\s\S]*Gluten/)
    await ctx.close()
    await pub.close()

    // the district's regulator reads the same ledgers in the console (read only)
    const cctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' })
    const c = await cctx.newPage()
    const elsewhere = [] // nothing but our own server (no map tiles, fonts or scripts from outside)
    c.on('request', (r) => {
      if (!r.url().startsWith(base) && !/^(data|blob):/.test(r.url())) elsewhere.push(r.url())
    })
    await c.goto(base + '/#/login')
    await c.waitForSelector('[data-test=login-card]', { timeout: T })
    await c.fill(field('login-username'), 'district_reg')
    await c.fill(field('login-password'), 'Regulator@2026!')
    await c.click('[data-test=login-submit]')
    await c.waitForSelector('[data-test=app-title]', { timeout: T })
    await c.goto(base + '/#/ledgers?ledger=delivery-trips')
    const trow = c.locator('[data-test=ledger-table] .el-table__row', { hasText: '崇川实验小学' })
    await trow.waitFor({ timeout: T })
    assert.match(await trow.innerText(), /苏F8A123/)
    await shot(c, 'ops-console-ledgers')
    // the trip's track drawn on plain coordinates (no map tiles), alarms marked
    await trow.locator('[data-test=show-track]').click()
    const tc = c.locator('[data-test=track-chart]')
    await tc.waitFor({ timeout: T })
    assert.equal(await tc.getAttribute('data-points'), '6')
    assert.equal(await tc.getAttribute('data-route-points'), '2')
    assert.equal(await tc.getAttribute('data-alarms'), '2')
    assert.match(await c.locator('[data-test=track-off-route]').innerText(), /偏离路线 1/)
    assert.match(await c.locator('[data-test=track-out-of-range]').innerText(), /温度超限 1/)
    await c.waitForFunction(() => {
      const cv = document.querySelector('[data-test=track-chart] canvas')
      return cv && cv.width > 0 && cv.height > 0
    }, null, { timeout: T })
    await shot(c, 'ops-console-track')
    assert.deepEqual(elsewhere, [], 'requests that left our server')
    await cctx.close()
  })

test('sensors page: a device history chart with thresholds and alarms, rules edited; operations warnings on the dashboard and in the kitchen app',
  { timeout: 120000 }, async () => {
    const login = async (u, pw) => (await api('POST', '/api/v1/auth/login', { body: { username: u, password: pw } })).token
    const merchant = await login(...MERCHANT)
    const reg = await login('district_reg', 'Regulator@2026!')
    const unitId = (await api('GET', '/api/v1/me', { token: merchant })).unit_ids[0]
    const dev = await api('POST', '/api/v1/devices', {
      token: reg,
      body: { unit_id: unitId, name: '冷藏柜E2E', kind: 'refrigerator', thresholds: { temperature_c: { min: 0, max: 8, min_duration_minutes: 1 } } },
    })
    // three hours of minute readings, 20 minutes of them too warm (an alarm)
    const t0 = Math.floor(Date.now() / 60000) * 60000 - 180 * 60000
    for (let i = 0; i < 180; i++) {
      const v = i >= 100 && i < 120 ? 12 : 3 + (i % 3)
      await api('POST', '/api/v1/ingest/readings', { token: reg, body: { device_id: dev.id, at: new Date(t0 + i * 60000).toISOString(), metrics: { temperature_c: v } } })
    }
    // a price that jumps (20 % by default)
    const sup = (await api('GET', `/api/v1/suppliers?unit_id=${unitId}`, { token: merchant })).items[0]
    for (const price of [10, 15]) {
      await api('POST', '/api/v1/purchase-orders', {
        token: merchant,
        body: { unit_id: unitId, supplier_id: sup.id, requested_by: '采购员', lines: [{ item: '鸡蛋', quantity: 30, unit_of_measure: 'kg', unit_price: price }] },
      })
    }

    const cctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN' })
    const c = await cctx.newPage()
    c.on('pageerror', (e) => console.log(`[pageerror] ${c.url()}: ${e.message}`))
    await c.goto(base + '/#/login')
    await c.waitForSelector('[data-test=login-card]', { timeout: T })
    await c.fill(field('login-username'), 'district_reg')
    await c.fill(field('login-password'), 'Regulator@2026!')
    await c.click('[data-test=login-submit]')
    await c.waitForSelector('[data-test=app-title]', { timeout: T })
    await c.waitForSelector('[data-test=ops-warn-kind-price_jump]', { timeout: T })
    assert.match(await c.locator('[data-test=ops-warn-kind-price_jump]').innerText(), /价格异常/)

    await c.click('[data-test=menu-sensors]')
    const row = c.locator('[data-test=sensor-table] .el-table__row', { hasText: '冷藏柜E2E' })
    await row.waitFor({ timeout: T })
    assert.match(await row.innerText(), /temperature_c: 0 ~ 8/)
    await row.click()
    await c.waitForFunction(() => {
      const el = document.querySelector('[data-test=sensor-chart]')
      return el && el.closest('[data-test=sensor-chart-card]').textContent.includes('冷藏柜E2E') && Number(el.dataset.points) > 0
    }, null, { timeout: T })
    const chart = c.locator('[data-test=sensor-chart]')
    assert.ok(Number(await chart.getAttribute('data-alarms')) >= 1, 'the out-of-range spell is marked')
    assert.equal(Number(await chart.getAttribute('data-bucket')), 300, '24 h in at most 300 buckets: 5 minutes')
    assert.ok(Number(await chart.getAttribute('data-points')) >= 36, 'three hours of 5-minute buckets')
    assert.ok(await chart.locator('canvas').count() >= 1, 'drawn by ECharts')
    await shot(c, 'ops-console-sensors')

    // the rule edited in the console reaches the device
    await row.locator('[data-test=edit-thresholds]').click()
    const max = c.locator('[data-test=rule-max] input')
    await max.fill('10')
    await max.blur()
    await c.click('[data-test=save-thresholds]')
    await c.locator('[data-test=sensor-table] .el-table__row', { hasText: 'temperature_c: 0 ~ 10' }).waitFor({ timeout: T })
    assert.equal((await api('GET', `/api/v1/devices/${dev.id}`, { token: reg })).thresholds.temperature_c.max, 10)
    await cctx.close()

    const ctx = await browser.newContext({ viewport: PHONE, locale: 'zh-CN' })
    const m = await ctx.newPage()
    await m.goto(base + '/m/#/login')
    await m.waitForSelector('[data-test=m-login]', { timeout: T })
    await m.fill(field('m-username'), MERCHANT[0])
    await m.fill(field('m-password'), MERCHANT[1])
    await m.click('[data-test=m-login-submit]')
    await m.waitForSelector('[data-test=m-tabbar]', { timeout: T })
    await m.click('[data-test=tab-ops]')
    const warn = m.locator('[data-test=m-ops-warnings]')
    await warn.waitFor({ timeout: T })
    await warn.click()
    await m.getByText('价格异常').first().waitFor({ timeout: T })
    await shot(m, 'ops-m-warnings')
    await ctx.close()
  })

/** first17 + its GB 32100 check character. */
function usccWithCheck(first17) {
  const A = '0123456789ABCDEFGHJKLMNPQRTUWXY'
  let sum = 0
  let w = 1
  for (let i = 0; i < 17; i++) {
    sum += A.indexOf(first17[i]) * w
    w = (w * 3) % 31
  }
  return first17 + A[(31 - (sum % 31)) % 31]
}
