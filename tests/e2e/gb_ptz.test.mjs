// PTZ buttons in the browser against a REAL server and the GB/T 28181 device simulator
// (tests/api/gb_device.mjs, SIP over UDP on loopback): the console's video wall and the kitchen
// app's 实时自查 show PTZ buttons for a GB camera only; holding a button sends the action and
// releasing it sends stop, presets are set and called — checked on the PTZCmd the simulated
// device received (GB/T 28181 §A.3 bytes), never on the page alone.
//
// Run: cd tests && npm ci && node --test e2e/gb_ptz.test.mjs
// The tests FAIL (never skip) when the server binary, web/dist or Chromium is missing.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { chromium } from 'playwright-core'
import { startServer, api as call, login, freePort, REPO } from '../api/lib.mjs'
import { until } from '../api/video_lib.mjs'
import { GbDevice, makeH264 } from '../api/gb_device.mjs'

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const SHOTS = path.resolve(REPO, process.env.MINGCHU_SCREENSHOTS || 'test-artifacts/screenshots')
const CHROME_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required']
const T = 20000
const DOMAIN = '3402000000'
const PASSWORD = 'Gb@28181pw'
const MERCHANT = ['merchant', 'Kitchen@2026!']

let srv, browser, dev, camId, plainId, tok
const field = (id) => `input[data-test="${id}"], [data-test="${id}"] input`

async function newPage(viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
  const page = await ctx.newPage()
  page.on('pageerror', (e) => console.log(`[pageerror] ${page.url()}: ${e.message}`))
  return page
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) })
}

/** Holds the element pressed for `ms`, then releases it (a real press-and-hold of the mouse). */
async function hold(page, sel, ms = 400) {
  const box = await page.locator(sel).boundingBox()
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await page.mouse.down()
  await page.waitForTimeout(ms)
  await page.mouse.up()
}

/** The first 14 hex digits (header, instruction, data) of the PTZCmds received since `from`. */
const cmds = (from) => dev.ptz.slice(from).map((c) => c.slice(0, 14))

before(async () => {
  assert.ok(fs.existsSync(path.join(REPO, 'web', 'dist', 'index.html')), 'web/dist is missing: run `npm ci && npm run build` in web/ first')
  assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`)
  const sipPort = await freePort()
  srv = await startServer({
    demo: true,
    createAdmin: false,
    env: { MINGCHU_DEMO_RTSP: 'rtsp://127.0.0.1:9' },
    args: ['--sip-listen', `127.0.0.1:${sipPort}`, '--sip-id', '34020000002000000001', '--sip-domain', DOMAIN, '--sip-password', PASSWORD],
  })
  tok = await login(srv.base, MERCHANT[0], MERCHANT[1])
  const unitId = (await call(srv.base, tok, 'GET', '/api/v1/me')).json.unit_ids[0]
  dev = new GbDevice({ sipPort, id: '34020000001326666666', password: PASSWORD, domain: DOMAIN, aus: makeH264(2), channels: [{ id: '34020000001316666001', name: '云台通道' }] })
  await dev.open()
  assert.equal(await dev.register(), 200)
  dev.startKeepalives(1000)
  await until(async () => {
    const r = await call(srv.base, tok, 'GET', '/api/v1/gb/devices?state=pending&page_size=200')
    return r.json.items.find((x) => x.device_id === dev.id && x.channels.length === 1)
  }, { what: 'the simulated device\'s catalog' })
  const b = await call(srv.base, tok, 'POST', `/api/v1/gb/devices/${dev.id}/bind`, { unit_id: unitId })
  assert.equal(b.status, 200, b.text)
  camId = b.json.channels[0].camera_id
  // a camera that is not a GB channel: no PTZ buttons
  const admin = await login(srv.base, 'admin', 'Platform@2026!')
  const plain = await call(srv.base, admin, 'POST', '/api/v1/cameras', { unit_id: unitId, name: 'RTSP 摄像头', area: 'cooking', stream_url: 'rtsp://127.0.0.1:9/x' })
  assert.equal(plain.status, 201, plain.text)
  plainId = plain.json.id
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROME_ARGS })
})

after(async () => {
  await browser?.close()
  dev?.close()
  await srv?.stop()
})

test('console video wall: PTZ buttons on a GB camera; hold → action, release → stop; presets', async () => {
  const page = await newPage({ width: 1366, height: 768 })
  await page.goto(srv.base + '/#/login')
  await page.waitForSelector('[data-test=login-card]', { timeout: T })
  await page.fill(field('login-username'), MERCHANT[0])
  await page.fill(field('login-password'), MERCHANT[1])
  await page.click('[data-test=login-submit]')
  await page.waitForSelector('[data-test=app-title]', { timeout: T })

  // an RTSP camera's tile has no PTZ toggle
  await page.goto(`${srv.base}/#/video?camera_id=${plainId}`)
  await page.waitForSelector(`[data-test=wall-tile][data-camera="${plainId}"] [data-test=tile-close]`, { state: 'attached', timeout: T })
  assert.equal(await page.locator(`[data-test=wall-tile][data-camera="${plainId}"] [data-test=tile-ptz]`).count(), 0)

  await page.goto(`${srv.base}/#/video?camera_id=${camId}`)
  const tile = `[data-test=wall-tile][data-camera="${camId}"]`
  await page.waitForSelector(`${tile} [data-test=tile-ptz]`, { state: 'attached', timeout: T })
  await page.hover(tile)
  await page.click(`${tile} [data-test=tile-ptz]`)
  await page.waitForSelector(`${tile} [data-test=ptz-panel]`, { timeout: T })

  let from = dev.ptz.length
  await hold(page, `${tile} [data-test=ptz-up]`)
  await until(() => dev.ptz.length >= from + 2, { what: 'up, then stop' })
  assert.deepEqual(cmds(from), ['A50F0108008000', 'A50F0100000000'], 'up at speed 128, then stop on release')

  from = dev.ptz.length
  await hold(page, `${tile} [data-test=ptz-zoom_in]`)
  await until(() => dev.ptz.length >= from + 2, { what: 'zoom in, then stop' })
  assert.deepEqual(cmds(from), ['A50F0110000080', 'A50F0100000000'])

  from = dev.ptz.length
  await page.fill(`${tile} [data-test=ptz-preset] input`, '7')
  await page.click(`${tile} [data-test=ptz-preset-set]`)
  await until(() => dev.ptz.length >= from + 1, { what: 'preset set' })
  await page.click(`${tile} [data-test=ptz-preset-call]`)
  await until(() => dev.ptz.length >= from + 2, { what: 'preset call' })
  assert.deepEqual(cmds(from), ['A50F0181000700', 'A50F0182000700'])
  await shot(page, 'gb-ptz-01-console')
  await page.context().close()
})

test('kitchen app 实时自查 (390×844): PTZ pad for the GB camera; hold left → left then stop', async () => {
  const page = await newPage({ width: 390, height: 844 })
  await page.goto(srv.base + '/m/#/login')
  await page.waitForSelector('[data-test=m-login]', { timeout: T })
  await page.fill(field('m-username'), MERCHANT[0])
  await page.fill(field('m-password'), MERCHANT[1])
  await page.click('[data-test=m-login-submit]')
  await page.waitForSelector('[data-test=m-tabbar]', { timeout: T })
  await page.click('[data-test=tab-video]')
  await page.waitForSelector('[data-test=m-video]', { timeout: T })
  await page.click(`[data-test=m-camera][data-id="${plainId}"]`, { timeout: T })
  await page.waitForFunction(() => document.querySelector('[data-test=m-video-camera]')?.textContent === 'RTSP 摄像头', null, { timeout: T })
  assert.equal(await page.locator('[data-test=m-ptz]').count(), 0, 'no PTZ for an RTSP camera')
  await page.click(`[data-test=m-camera][data-id="${camId}"]`, { timeout: T })
  await page.waitForSelector('[data-test=m-ptz]', { timeout: T })
  await page.click('[data-test=m-ptz-toggle]')
  await page.waitForSelector('[data-test=m-ptz-left]', { timeout: T })
  const from = dev.ptz.length
  await hold(page, '[data-test=m-ptz-left]')
  await until(() => dev.ptz.length >= from + 2, { what: 'left, then stop' })
  assert.deepEqual(cmds(from), ['A50F0102800000', 'A50F0100000000'])
  await page.click('[data-test=m-ptz-preset-call]')
  await until(() => dev.ptz.length >= from + 3, { what: 'preset call' })
  assert.equal(cmds(from)[2], 'A50F0182000100', 'preset 1 called')
  await shot(page, 'gb-ptz-02-kitchen-app')
  await page.context().close()
})
