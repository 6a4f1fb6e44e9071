// Browser tests of the vision console pages (web/src/console/views/CameraAi.vue, VisionModels.vue)
// against a REAL server in Chromium: a camera's AI settings — a zone drawn with the mouse on the
// snapshot area, a type switched off, a schedule window — saved and then read back through the
// API (points where the clicks were); a bad schedule window shown and not saved; the models page
// with the evaluator's figures and the review precision, and an upload refused with the reason
// then accepted.
//
// Run: cd tests && npm ci && node --test e2e/vision.test.mjs (needs web/dist and the server binary)
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { chromium } from 'playwright-core'
import { startServer, api as call, login, multipart, uscc, REPO, ADMIN } from '../api/lib.mjs'

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const CHROME_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const T = 20000
let srv, browser, admin, camId, onnxFile, tmp

async function api(method, p, body) {
  const r = await call(srv.base, admin, method, p, body)
  if (r.status >= 400) throw new Error(`${method} ${p} → ${r.status} ${r.text.slice(0, 300)}`)
  return r.json
}
const field = (id) => `input[data-test="${id}"], textarea[data-test="${id}"], [data-test="${id}"] input, [data-test="${id}"] textarea`

before(async () => {
  assert.ok(fs.existsSync(path.join(REPO, 'web', 'dist', 'index.html')), 'web/dist is missing: run `npm ci && npm run build` in web/ first')
  assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`)
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-e2e-vision-'))
  srv = await startServer()
  admin = await login(srv.base, ADMIN.username, ADMIN.password)
  const jur = async (parent_id, level, code, name) => (await api('POST', '/api/v1/jurisdictions', { parent_id, level, code, name })).id
  const dist = await jur(await jur(await jur(undefined, 'province', '320000', '江苏省'), 'city', '320600', '南通市'), 'district', '320602', '崇川区')
  const jpeg = fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'vision', 'eval', 'images', '002.jpg'))
  const up = multipart([{ name: 'file', filename: 'l.jpg', contentType: 'image/jpeg', data: jpeg }])
  const file = await call(srv.base, admin, 'POST', '/api/v1/files', up.body, { 'content-type': up.contentType })
  const unit = await api('POST', '/api/v1/units', { name: '南通小学食堂', jurisdiction_id: dist, store_type: 'school_canteen', licence_number: 'JY13206020012343', uscc: uscc(3), licence_image_ids: [file.json.id] })
  camId = (await api('POST', '/api/v1/cameras', { unit_id: unit.id, name: '后厨E2E', area: 'cooking' })).id
  await api('POST', '/api/v1/vision/models/coco-ssdlite/evaluations', { dataset: 'tests/fixtures/vision/eval', report: { classes: { cat: { precision: 1, recall: 1, ap50: 1, tp: 6, fp: 0, fn: 0 } } } })
  onnxFile = path.join(tmp, 'square.onnx')
  const g = spawnSync('/usr/bin/python3', [path.join(REPO, 'tests', 'fixtures', 'vision', 'make_tiny_onnx.py'), onnxFile, '1', 'square'], { encoding: 'utf8' })
  assert.equal(g.status, 0, g.stderr)
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROME_ARGS })
})

after(async () => {
  await browser?.close()
  await srv?.stop()
})

async function consolePage() {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
  const page = await ctx.newPage()
  page.on('pageerror', (e) => console.log(`[pageerror] ${page.url()}: ${e.message}`))
  await page.goto(srv.base + '/#/login')
  await page.waitForSelector('[data-test=login-card]', { timeout: T })
  await page.fill(field('login-username'), ADMIN.username)
  await page.fill(field('login-password'), ADMIN.password)
  await page.click('[data-test=login-submit]')
  await page.waitForSelector('[data-test=app-title]', { timeout: T })
  return page
}

test('per-camera AI settings: a zone drawn with the mouse, a type off and a schedule are saved and the API holds them', async () => {
  const page = await consolePage()
  // from the camera list's AI button
  await page.goto(srv.base + '/#/cameras')
  await page.click(`[data-test="camera-ai-${camId}"]`, { timeout: T })
  await page.waitForSelector('[data-test=ai-surface]', { timeout: T })
  await page.waitForSelector('[data-test=ai-types] .el-table__row', { timeout: T })
  // the first type (animal) is the drawing target; four clicks, then 完成
  await page.click('[data-test=ai-draw]')
  const box = await page.locator('[data-test=ai-surface]').boundingBox()
  const corners = [[0.1, 0.2], [0.6, 0.2], [0.6, 0.8], [0.1, 0.8]]
  for (const [fx, fy] of corners) await page.mouse.click(box.x + fx * box.width, box.y + fy * box.height)
  assert.match(await page.textContent('[data-test=ai-draw-finish]'), /4/)
  await page.click('[data-test=ai-draw-finish]')
  assert.equal(await page.locator('[data-test=ai-zone]').count(), 1, 'the polygon is drawn on the snapshot')
  // phone_use off, a night window for stranger, then save
  await page.click('[data-test="ai-type-enabled-phone_use"]')
  await page.fill(field('ai-type-schedule-stranger'), '21:00-07:00')
  await page.click('[data-test=ai-save]')
  await page.waitForSelector('.el-message--success', { timeout: T })
  const ai = await api('GET', `/api/v1/cameras/${camId}/ai`)
  assert.equal(ai.types.animal.zones.length, 1)
  const zone = ai.types.animal.zones[0]
  assert.equal(zone.length, 4)
  zone.forEach(([x, y], i) => {
    assert.ok(Math.abs(x - corners[i][0]) < 0.01 && Math.abs(y - corners[i][1]) < 0.01, `point ${i}: ${x},${y} against ${corners[i]}`)
  })
  assert.equal(ai.types.phone_use.enabled, false)
  assert.equal(ai.types.animal.enabled, true)
  assert.deepEqual(ai.types.stranger.schedule, ['21:00-07:00'])
  // a bad window is shown and nothing is saved
  await page.fill(field('ai-type-schedule-stranger'), '9pm-7am')
  await page.click('[data-test=ai-save]')
  await page.waitForSelector('[data-test=ai-error]', { timeout: T })
  assert.match(await page.textContent('[data-test=ai-error]'), /9pm-7am/)
  assert.deepEqual((await api('GET', `/api/v1/cameras/${camId}/ai`)).types.stranger.schedule, ['21:00-07:00'])
  // the page reloads with the zone in place
  await page.reload()
  await page.waitForSelector('[data-test=ai-zone]', { timeout: T })
  assert.equal(await page.locator('[data-test=ai-zone]').count(), 1)
  await page.context().close()
})

test('models page: evaluator figures, review precision, an upload refused with the reason and then accepted', async () => {
  const page = await consolePage()
  await page.click('[data-test="menu-vision"]')
  await page.waitForSelector('[data-test=models-table] .el-table__row', { timeout: T })
  assert.match(await page.textContent('[data-test=models-table]'), /coco-ssdlite/)
  assert.equal((await page.textContent('[data-test="model-precision-coco-ssdlite"]')).trim(), '–', 'no reviews yet')
  // the expand row of the shipped model shows its evaluation
  await page.click('[data-test=models-table] .el-table__expand-icon')
  await page.waitForSelector('[data-test=model-eval]', { timeout: T })
  assert.match(await page.textContent('[data-test=model-eval]'), /cat[\s\S]*100\.0%/)
  // upload: an unknown alert type is refused with the server's reason
  await page.click('[data-test=model-upload]')
  await page.setInputFiles('[data-test=model-file]', onnxFile)
  const map = (type) => `name = "square"\n[input]\nwidth = 64\nheight = 64\n[[labels]]\nname = "hat_missing"\nalert_type = "${type}"\n`
  await page.fill(field('model-classmap'), map('unicorn_sighting'))
  await page.click('[data-test=model-upload-submit]')
  await page.waitForSelector('[data-test=model-upload-error]', { timeout: T })
  assert.match(await page.textContent('[data-test=model-upload-error]'), /unicorn_sighting/)
  await page.fill(field('model-classmap'), map('no_hat'))
  await page.click('[data-test=model-upload-submit]')
  await page.waitForSelector('.el-message--success', { timeout: T })
  await page.waitForFunction(() => /square/.test(document.querySelector('[data-test=models-table]')?.textContent || ''), null, { timeout: T })
  const models = (await api('GET', '/api/v1/vision/models')).items
  const sq = models.find((m) => m.name === 'square')
  assert.ok(sq, JSON.stringify(models))
  assert.deepEqual(sq.labels.map((l) => [l.name, l.alert_type]), [['hat_missing', 'no_hat']])
  await page.context().close()
})
