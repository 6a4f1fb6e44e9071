// Browser tests of the video pages against a REAL server and a REAL RTSP camera:
//   scripts/rtsp_camera.py (GStreamer, loopback) → mingchu serve --demo (media core) → Chromium.
//
// A camera pointing at the fixture is created through the API in the demo merchant's unit
// (continuous recording, public, H.264 main + SD sub stream), plus an H.265 one. Every check that
// video plays asks the page itself: `video.currentTime` grows over ~2 s AND two canvas samples of
// the picture differ (the fixture draws a moving ball and a running clock), never just "a <video>
// exists". Covered: the console's video wall (unit page → 实时视频, HD/SD switch, the tree, an
// offline demo camera shown as 离线, H.265 transcoded), the playback page (timeline → VOD, seek,
// clip download with its SM3), the alert detail's evidence clip, the kitchen app's 实时自查 at
// 390×844 (live and playback) and the public page's live camera.
//
// Run: cd tests && npm ci && node --test e2e/video.test.mjs
// Env: MINGCHU_BIN, MINGCHU_SCREENSHOTS, CHROMIUM as in ui.test.mjs.
// The tests FAIL (never skip) when the server binary, web/dist, Chromium or GStreamer is missing.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { startServer, api as call, login } from '../api/lib.mjs'
import { startCamera, until } from '../api/video_lib.mjs'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const SHOTS = path.resolve(REPO, process.env.MINGCHU_SCREENSHOTS || 'test-artifacts/screenshots')
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const CHROME_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required']
const USERS = {
  admin: ['admin', 'Platform@2026!'],
  district: ['district_reg', 'Regulator@2026!'],
  merchant: ['merchant', 'Kitchen@2026!'],
}
const DESKTOP = { width: 1366, height: 768 }
const PHONE = { width: 390, height: 844 }
const T = 20000 // ms to wait for a UI element
const PLAY_T = 45000 // ms to wait for a picture (a stream is opened on demand; the machine may be busy)

// short recording files so that playback and clips have something within seconds
const VIDEO_TOML = `
[video]
file_seconds = 2
clip_before_seconds = 2
clip_after_seconds = 3
idle_stop_seconds = 10
max_playback_hours = 2
max_clip_minutes = 5
open_timeout_ms = 8000
`

let cam, srv, browser, base
const tok = {}
const st = {} // shared across the ordered tests

const rfc3339 = (ms) => new Date(ms).toISOString()
async function api(token, method, p, body) {
  const r = await call(base, token, method, p, body)
  if (r.status >= 400) throw new Error(`${method} ${p} → ${r.status} ${r.text.slice(0, 300)}`)
  return r.json
}

async function newPage(viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true })
  const page = await ctx.newPage()
  page.on('pageerror', (e) => console.log(`[pageerror] ${page.url()}: ${e.message}`))
  return page
}
async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true })
  await page.waitForTimeout(400)
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })
}
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

/** Waits until the player under `scope` plays; fails with what it shows instead. */
async function waitPlaying(page, scope) {
  const sel = `${scope} [data-test=video-player]`
  try {
    await page.waitForSelector(`${sel}[data-state=playing]`, { timeout: PLAY_T })
  } catch {
    const shown = await page.$$eval(sel, (els) => els.map((e) => `${e.dataset.state}/${e.dataset.engine} ${e.innerText.replace(/\s+/g, ' ')}`)).catch(() => [])
    assert.fail(`no picture in ${scope} on ${page.url()}: ${JSON.stringify(shown)}\n${srv.log().slice(-3000)}`)
  }
  return page.$eval(sel, (e) => e.dataset.engine)
}

/**
 * The frames really advance: currentTime grows by more than a second over ~2 s of wall clock and
 * two 64×36 samples of the picture drawn on a canvas differ. Answers the measurements.
 */
async function assertFramesAdvance(page, videoSel, what) {
  const m = await page.$eval(videoSel, async (v) => {
    const c = document.createElement('canvas')
    c.width = 64
    c.height = 36
    const g = c.getContext('2d', { willReadFrequently: true })
    const sample = () => {
      g.drawImage(v, 0, 0, 64, 36)
      return g.getImageData(0, 0, 64, 36).data
    }
    const t0 = v.currentTime
    const s0 = sample()
    await new Promise((r) => setTimeout(r, 2000))
    const t1 = v.currentTime
    const s1 = sample()
    let diff = 0
    for (let i = 0; i < s0.length; i += 4) diff += Math.abs(s0[i] - s1[i]) + Math.abs(s0[i + 1] - s1[i + 1]) + Math.abs(s0[i + 2] - s1[i + 2])
    let lit = 0
    for (let i = 0; i < s1.length; i += 4) lit += s1[i] + s1[i + 1] + s1[i + 2]
    return { t0, t1, advanced: t1 - t0, diff, lit, width: v.videoWidth, height: v.videoHeight, paused: v.paused }
  })
  console.log(`# ${what}: currentTime ${m.t0.toFixed(2)} → ${m.t1.toFixed(2)} s, picture diff ${m.diff}, ${m.width}×${m.height}`)
  assert.ok(m.advanced > 1.0, `${what}: currentTime advanced only ${m.advanced.toFixed(3)} s in 2 s (${JSON.stringify(m)})`)
  assert.ok(m.diff > 500, `${what}: the picture did not change in 2 s (${JSON.stringify(m)})`)
  assert.ok(m.lit > 0, `${what}: the picture is black`)
  return m
}

// ---------------------------------------------------------------- setup
before(async () => {
  assert.ok(fs.existsSync(path.join(REPO, 'web', 'dist', 'index.html')), 'web/dist is missing: run `npm ci && npm run build` in web/ first')
  assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: apt-get install -y chromium fonts-noto-cjk`)
  cam = await startCamera()
  const cfg = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-e2e-video-')), 'video.toml')
  fs.writeFileSync(cfg, VIDEO_TOML)
  // the demo city's own cameras point at a closed loopback port: they are offline (离线)
  srv = await startServer({ demo: true, createAdmin: false, args: ['--config', cfg], env: { MINGCHU_DEMO_RTSP: 'rtsp://127.0.0.1:9' } })
  base = srv.base
  for (const [k, u] of Object.entries(USERS)) tok[k] = await login(base, u[0], u[1])
  st.unitId = (await api(tok.merchant, 'GET', '/api/v1/me')).unit_ids[0]
  const unit = await api(tok.admin, 'GET', `/api/v1/units/${st.unitId}`)
  st.unitName = unit.name
  st.unitToken = unit.disclosure_token
  const c = await api(tok.admin, 'POST', '/api/v1/cameras', {
    unit_id: st.unitId,
    name: '后厨实时E2E',
    area: 'cooking',
    stream_url: cam.url('/h264'),
    sub_stream_url: cam.url('/h264-sd'),
    record: 'continuous',
    public: true,
  })
  st.cam = c
  const h = await api(tok.admin, 'POST', '/api/v1/cameras', { unit_id: st.unitId, name: '凉菜间H265', area: 'special_room', stream_url: cam.url('/h265'), record: 'events', public: false })
  st.hevc = h
  st.recordingSince = Date.now()
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROME_ARGS })
})

after(async () => {
  await browser?.close()
  await srv?.stop()
  await cam?.stop()
})

// ---------------------------------------------------------------- tests
test('this Chromium decodes H.264 in MSE and has no HEVC decoder (why the server transcodes H.265)', async () => {
  const page = await newPage(DESKTOP)
  await page.goto(base + '/#/login')
  const caps = await page.evaluate(() => ({
    h264: MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"'),
    hevc: MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"') || MediaSource.isTypeSupported('video/mp4; codecs="hev1.1.6.L93.B0"'),
  }))
  console.log(`# Chromium MSE: H.264 ${caps.h264}, HEVC ${caps.hevc}`)
  assert.equal(caps.h264, true)
  await page.context().close()
})

test('console video wall: unit page → 实时视频 plays the kitchen, HD/SD switch, an offline camera says 离线, H.265 plays transcoded', async () => {
  const page = await newPage(DESKTOP)
  await consoleLogin(page, USERS.district)
  await page.goto(`${base}/#/units/${st.unitId}`)
  await page.waitForSelector('[data-test=unit-live]', { timeout: T })
  const clicked = Date.now()
  await page.click('[data-test=unit-live]', { timeout: T })
  await page.waitForSelector('[data-test=video-wall]', { timeout: T })
  const tile = `[data-test=wall-tile][data-camera="${st.cam.id}"]`
  await page.waitForSelector(tile, { timeout: T })
  const engine = await waitPlaying(page, tile)
  console.log(`# wall tile engine: ${engine}; 实时视频 click → first picture ${Date.now() - clicked} ms (recording camera, stream already pulled)`)
  assert.equal(engine, 'flv', 'MSE present: the low-latency HTTP-FLV stream is used')
  const hd = await assertFramesAdvance(page, `${tile} video`, 'wall HD tile')
  assert.equal(hd.width, 640)

  // a demo camera of the same unit points at a closed port: 离线 with a retry button, not a spinner forever
  const offline = page.locator('[data-test=wall-tile] [data-test=video-player][data-state=offline]').first()
  await offline.waitFor({ timeout: PLAY_T })
  assert.equal((await offline.locator('[data-test=video-state-text]').innerText()).trim(), '离线')
  assert.equal(await offline.locator('[data-test=video-retry]').count(), 1)

  // H.265 camera: transcoded by the server, plays here without an HEVC decoder
  assert.ok((await page.locator(`[data-test=wall-tile][data-camera="${st.hevc.id}"]`).count()) === 1, 'the H.265 camera has a tile')
  await waitPlaying(page, `[data-test=wall-tile][data-camera="${st.hevc.id}"]`)
  await assertFramesAdvance(page, `[data-test=wall-tile][data-camera="${st.hevc.id}"] video`, 'wall H.265 tile (transcoded)')
  await shot(page, 'video-01-wall-unit')

  // SD: the sub stream (320×180)
  await page.click(`${tile} [data-test=tile-sd]`)
  await page.waitForFunction((sel) => {
    const v = document.querySelector(sel)
    return v && v.videoWidth === 320 && v.currentTime > 0.5
  }, `${tile} video`, { timeout: PLAY_T })
  const sd = await assertFramesAdvance(page, `${tile} video`, 'wall SD tile')
  assert.equal(sd.width, 320)
  assert.equal(sd.height, 180)

  // the tree: close everything, search the unit, open it, click the camera → it plays in the selected tile
  await page.click('[data-test=wall-clear]')
  await page.click('[data-test=wall-layout-1]')
  await page.fill(field('wall-search'), st.unitName.slice(0, 6))
  const unitNode = page.locator(`[data-test=wall-unit][data-id="${st.unitId}"]`)
  await unitNode.waitFor({ timeout: T })
  await unitNode.click()
  const camNode = page.locator(`[data-test=wall-camera][data-id="${st.cam.id}"]`)
  await camNode.waitFor({ timeout: T })
  const treeClicked = Date.now()
  await camNode.click()
  await page.waitForSelector(`[data-test=wall-grid][data-layout="1"] ${tile}`, { timeout: T })
  await waitPlaying(page, tile)
  const firstPicture = Date.now() - treeClicked
  await assertFramesAdvance(page, `${tile} video`, 'wall tile from the tree')
  // how far behind the newest received frame the picture is (the player's buffer, not glass-to-glass)
  const behind = await page.$eval(`${tile} video`, (v) => (v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : -1))
  console.log(`# wall: click in the tree → first picture ${firstPicture} ms (stream already open); player buffer behind live edge ${behind.toFixed(2)} s`)
  await shot(page, 'video-02-wall-tree')
  await page.context().close()
})

test('camera list: snapshot thumbnail of the live camera, video status in the form', async () => {
  const page = await newPage(DESKTOP)
  await consoleLogin(page, USERS.district)
  await page.goto(`${base}/#/cameras`)
  await page.waitForSelector('[data-test=cameras-table]', { timeout: T })
  // filter the list to the merchant's unit
  await page.click('[data-test=cameras-unit-filter]')
  await page.keyboard.type(st.unitName)
  await page.locator('.el-select-dropdown__item:visible', { hasText: st.unitName }).first().click()
  await page.click('[data-test=cameras-search]')
  const row = page.locator('.el-table__body-wrapper tr', { hasText: st.cam.name })
  await row.waitFor({ timeout: T })
  // the thumbnail is a JPEG from snapshot.jpg, fetched with the bearer token
  await page.waitForFunction((name) => {
    const tr = [...document.querySelectorAll('.el-table__body-wrapper tr')].find((r) => r.innerText.includes(name))
    const img = tr?.querySelector('[data-test=camera-thumb] img')
    return img && img.complete && img.naturalWidth > 0
  }, st.cam.name, { timeout: PLAY_T })
  const size = await row.locator('[data-test=camera-thumb] img').evaluate((i) => [i.naturalWidth, i.naturalHeight])
  assert.ok(size[0] >= 320, `a snapshot ${size}`)
  // the read-only video status once the stream has run (the wall test pulled it)
  await until(async () => (await api(tok.district, 'GET', `/api/v1/cameras/${st.cam.id}`)).video?.codec, { timeoutMs: 20000, what: 'video status' })
  await row.locator('button', { hasText: '编辑' }).click()
  const status = page.locator('[data-test=camera-video-status]')
  await status.waitFor({ timeout: T })
  const text = (await status.innerText()).replace(/\s+/g, ' ')
  assert.match(text, /H264/i)
  assert.match(text, /640×360/)
  assert.equal(await page.locator(field('camera-stream-url')).inputValue(), cam.url('/h264'))
  await shot(page, 'video-08-camera-form')
  // save a change: only writable fields go back (status, video, … are read-only on the server)
  await page.fill(field('camera-retention'), '20')
  await page.keyboard.press('Tab')
  const patched = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes(`/api/v1/cameras/${st.cam.id}`), { timeout: T })
  await page.locator('[data-test=camera-dialog] .el-dialog__footer button', { hasText: '保存' }).click()
  const pr = await patched
  assert.equal(pr.status(), 200, `PATCH ${pr.request().postData()} → ${pr.status()} ${await pr.text()}`)
  await until(async () => (await api(tok.district, 'GET', `/api/v1/cameras/${st.cam.id}`)).retention_days === 20, { timeoutMs: T, what: 'retention saved' })
  const saved = await api(tok.district, 'GET', `/api/v1/cameras/${st.cam.id}`)
  assert.equal(saved.stream_url, cam.url('/h264'))
  assert.equal(saved.record, 'continuous')
  await page.context().close()
})

test('playback page: the timeline shows the recording, a click plays it (frames advance), a second click seeks, the clip downloads with its SM3', async () => {
  // at least ~12 s recorded
  await until(async () => {
    const r = await api(tok.merchant, 'GET', `/api/v1/cameras/${st.cam.id}/recordings?from=${encodeURIComponent(rfc3339(Date.now() - 3600e3))}&to=${encodeURIComponent(rfc3339(Date.now() + 60e3))}`)
    const secs = (r.spans ?? []).reduce((s, x) => s + (Date.parse(x.end) - Date.parse(x.start)), 0) / 1000
    return secs >= 12
  }, { timeoutMs: 60000, what: '12 s of recording' })
  const page = await newPage(DESKTOP)
  await consoleLogin(page, USERS.district)
  await page.goto(`${base}/#/cameras/${st.cam.id}/playback`)
  await page.waitForSelector('[data-test=playback-page]', { timeout: T })
  await page.waitForSelector('[data-test=timeline-span]', { timeout: T })
  // zoom twice (24 h → 6 h → 1 h around the latest recording) so that seconds are pixels
  await page.click('[data-test=zoom-in]')
  await page.click('[data-test=zoom-in]')
  const span = page.locator('[data-test=timeline-span]').last()
  const start = Number(await span.getAttribute('data-start'))
  const end = Number(await span.getAttribute('data-end'))
  assert.ok(end - start >= 10000, `a recorded span of ${(end - start) / 1000} s`)
  // click the track just inside the span: playback from there
  const box = await span.boundingBox()
  assert.ok(box.width >= 1, 'the span is drawn')
  await page.mouse.click(box.x + Math.min(2, box.width / 2), box.y + box.height / 2)
  await waitPlaying(page, '[data-test=playback-page]')
  const m = await assertFramesAdvance(page, '[data-test=playback-page] video', 'playback (VOD)')
  assert.ok(m.width === 640)
  // seek inside the loaded range: the video jumps without a new request
  const before = await page.$eval('[data-test=playback-page] video', (v) => v.currentTime)
  await page.$eval('[data-test=playback-page] video', (v) => (v.currentTime = Math.max(0, v.duration - 3)))
  await page.waitForFunction((b) => {
    const v = document.querySelector('[data-test=playback-page] video')
    return v && Math.abs(v.currentTime - b) > 1 && !v.seeking
  }, before, { timeout: T })
  const seekable = await page.$eval('[data-test=playback-page] video', (v) => ({ d: v.duration, s: v.seekable.length ? v.seekable.end(0) : 0 }))
  assert.ok(seekable.d >= 6 && seekable.s >= 6, `a seekable VOD of the recorded seconds (${JSON.stringify(seekable)})`)
  await shot(page, 'video-03-playback')

  // clip: 4 s inside the recording, downloaded through the page with the bearer token
  const from = new Date(start + 1000)
  const to = new Date(start + 5000)
  const hms = (d) => d.toLocaleTimeString('en-GB', { timeZone: 'Asia/Shanghai', hour12: false })
  for (const [id, d] of [['clip-from', from], ['clip-to', to]]) {
    await page.click(field(id))
    await page.fill(field(id), hms(d))
    await page.keyboard.press('Enter')
    await page.click('[data-test=clip-card] .section-title') // close the picker panel
    await page.waitForFunction(([sel, v]) => document.querySelector(sel)?.value === v, [`[data-test=${id}] input`, hms(d)], { timeout: T })
  }
  const asked = page.waitForRequest((r) => r.url().includes('/clip.mp4?'), { timeout: T })
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: PLAY_T }), page.click('[data-test=clip-download]')])
  const q = new URL((await asked).url()).searchParams
  console.log(`# clip asked: ${q.get('from')} → ${q.get('to')}`)
  assert.equal(Date.parse(q.get('from')), Math.floor(from.getTime() / 1000) * 1000, 'the clip starts where the form says')
  assert.equal(Date.parse(q.get('to')), Math.floor(to.getTime() / 1000) * 1000, 'the clip ends where the form says')
  const file = await dl.path()
  const bytes = fs.readFileSync(file)
  assert.match(dl.suggestedFilename(), /\.mp4$/)
  assert.ok(bytes.length > 10000, `clip of ${bytes.length} bytes`)
  const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name,width', '-of', 'json', file], { encoding: 'utf8' })
  const pj = JSON.parse(probe.stdout)
  assert.equal(pj.streams[0].codec_name, 'h264')
  const dur = Number(pj.format.duration)
  assert.ok(dur >= 3 && dur <= 9, `clip of ${dur} s for 4 s asked`)
  await page.waitForSelector('[data-test=clip-sm3]', { timeout: T })
  const shown = (await page.innerText('[data-test=clip-sm3]')).replace(/^SM3\s*/, '').trim()
  assert.equal(shown, createHash('sm3').update(bytes).digest('hex'), 'the page shows the SM3 of the file it saved')
  await page.context().close()
})

test('alert detail plays the evidence clip pinned to the alert', async () => {
  const key = (await api(tok.admin, 'POST', '/api/v1/api-keys', { name: 'e2e video box', scope: { unit_id: st.unitId, ingest_only: true } })).key
  const occurred = Date.now() - 1000
  const ev = await call(base, null, 'POST', '/api/v1/ingest/alerts', { event_id: `e2e-vid-${Date.now()}`, camera_id: st.cam.id, unit_id: st.unitId, type: 'no_mask', occurred_at: rfc3339(occurred) }, { 'X-Api-Key': key })
  assert.equal(ev.status, 202, ev.text)
  const alertId = ev.json.alert_id
  const page = await newPage(DESKTOP)
  await consoleLogin(page, USERS.district)
  await page.goto(`${base}/#/alerts/${alertId}`)
  await page.waitForSelector('[data-test=evidence-clips]', { timeout: T })
  // pending first or at once ready: the page polls until it is ready
  await page.waitForSelector('[data-test=evidence-clip][data-state=ready] [data-test=clip-video]', { timeout: 60000 })
  await page.$eval('[data-test=clip-video]', (v) => v.play())
  await page.waitForFunction(() => document.querySelector('[data-test=clip-video]')?.currentTime > 0.2, null, { timeout: T })
  await assertFramesAdvance(page, '[data-test=clip-video]', 'evidence clip')
  await shot(page, 'video-04-alert-clip')
  // 查看当时录像: the playback page opens at the alert and plays the recording from 10 s before it
  await page.click('[data-test=alert-playback]')
  await page.waitForSelector('[data-test=playback-page]', { timeout: T })
  await waitPlaying(page, '[data-test=playback-page]')
  await assertFramesAdvance(page, '[data-test=playback-page] video', 'playback from the alert')
  const range = await page.innerText('[data-test=playback-range]')
  const hm = (ms) => new Date(ms).toLocaleTimeString('en-GB', { timeZone: 'Asia/Shanghai', hour12: false })
  assert.ok(range.includes(hm(occurred - 10000)), `playback starts 10 s before the alert: ${range} vs ${hm(occurred - 10000)}`)
  await page.context().close()
})

test('alert detail: an H.265 evidence clip, which this Chromium cannot decode, says so and offers the download', async () => {
  const key = (await api(tok.admin, 'POST', '/api/v1/api-keys', { name: 'e2e hevc box', scope: { unit_id: st.unitId, ingest_only: true } })).key
  const ev = await call(base, null, 'POST', '/api/v1/ingest/alerts', { event_id: `e2e-hevc-${Date.now()}`, camera_id: st.hevc.id, unit_id: st.unitId, type: 'smoking', occurred_at: rfc3339(Date.now() - 500) }, { 'X-Api-Key': key })
  assert.equal(ev.status, 202, ev.text)
  const clip = await until(async () => {
    const a = await api(tok.district, 'GET', `/api/v1/alerts/${ev.json.alert_id}`)
    const c = a.clips?.[0]
    return c && c.state !== 'pending' ? c : null
  }, { timeoutMs: 60000, what: 'the H.265 evidence clip' })
  const page = await newPage(DESKTOP)
  await consoleLogin(page, USERS.district)
  await page.goto(`${base}/#/alerts/${ev.json.alert_id}`)
  const box = page.locator(`[data-test=evidence-clip][data-state="${clip.state}"]`)
  await box.waitFor({ timeout: T })
  if (clip.state === 'ready') {
    await box.getByText('此浏览器无法播放该片段').waitFor({ timeout: T })
    assert.equal(await box.locator('[data-test=clip-download-link]').count(), 1)
  } else {
    await box.getByText('片段截取失败').waitFor({ timeout: T })
  }
  console.log(`# H.265 evidence clip: ${clip.state}`)
  await page.context().close()
})

test('kitchen app 实时自查 (390×844): the merchant watches his kitchen live and plays back today', async () => {
  const page = await newPage(PHONE)
  await mobileLogin(page, USERS.merchant)
  await page.click('[data-test=tab-video]')
  await page.waitForSelector('[data-test=m-video]', { timeout: T })
  await page.click(`[data-test=m-camera][data-id="${st.cam.id}"]`, { timeout: T })
  await page.waitForFunction((n) => document.querySelector('[data-test=m-video-camera]')?.textContent === n, st.cam.name, { timeout: T })
  await waitPlaying(page, '[data-test=m-video]')
  await assertFramesAdvance(page, '[data-test=m-video] video', 'kitchen app live')
  await shot(page, 'video-05-m-live')

  await page.click('[data-test=m-video-tabs] .van-tab:nth-child(2)')
  await page.waitForSelector('[data-test=m-playback] [data-test=timeline-span]', { timeout: T })
  const span = page.locator('[data-test=m-playback] [data-test=timeline-span]').last()
  const box = await span.boundingBox()
  await page.mouse.click(box.x + Math.min(1, box.width / 2), box.y + box.height / 2)
  await waitPlaying(page, '[data-test=m-video]')
  await assertFramesAdvance(page, '[data-test=m-video] video', 'kitchen app playback')
  await shot(page, 'video-06-m-playback')
  await page.context().close()
})

test('public page: the unit\'s public camera plays live without login; a private camera is not listed', async () => {
  const page = await newPage(PHONE)
  await page.goto(`${base}/public/units/${st.unitToken}`)
  await page.waitForSelector('[data-test=public-cameras]', { timeout: T })
  const names = await page.$$eval('[data-test=public-camera]', (els) => els.map((e) => e.innerText))
  assert.ok(names.some((n) => n.includes(st.cam.name)), `public camera listed: ${names}`)
  assert.ok(!names.some((n) => n.includes(st.hevc.name)), 'a private camera is not on the public page')
  const card = page.locator('[data-test=public-camera]', { hasText: st.cam.name })
  await card.locator('[data-test=video-play]').click()
  await card.locator('[data-test=video-player][data-state=playing]').waitFor({ timeout: PLAY_T })
  console.log(`# public engine: ${await card.locator('[data-test=video-player]').getAttribute('data-engine')}`)
  const idx = await page.$$eval('[data-test=public-camera]', (els, n) => els.findIndex((e) => e.innerText.includes(n)), st.cam.name)
  await assertFramesAdvance(page, `[data-test=public-camera]:nth-child(${idx + 1}) video`, 'public page live')
  await shot(page, 'video-07-public')
  await page.context().close()
})
