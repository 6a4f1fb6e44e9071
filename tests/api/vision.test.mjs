// The algorithm server in the server process (src/vision, docs/vision.md) against real RTSP
// cameras (scripts/rtsp_camera.py --images): a kitchen wall where a cat (scikit-image's CC0
// "chelsea", pasted at a known box by scripts/make_vision_eval_set.py) appears after 6 s raises
// one `animal` alert with the cat's box, the JPEG frame, the model and an evidence clip; a camera
// showing only the empty wall raises nothing; a camera with ai_enabled off is not analysed.
// Then the per-camera AI settings API with bad, hostile and out-of-scope input, and the
// evaluator's command line.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { startServer, api, login, multipart, uscc, idNumber, REPO, BIN, ADMIN } from './lib.mjs'
import { startCamera, until, sm3 } from './video_lib.mjs'

const EVAL = path.join(REPO, 'tests', 'fixtures', 'vision', 'eval')
// frame 022 of the evaluation set: the cat on the beige tiles; 002: the same tiles, empty
const CAT_FRAME = '022.jpg'
const EMPTY_FRAME = '002.jpg'

let srv, admin, catCam, emptyCam, offCam, unitId, otherUnitId, merchant, cameras = []
let catBox, tmpDir, catUrl

function sequence(dir, frames) {
  fs.mkdirSync(dir, { recursive: true })
  frames.forEach((f, i) => fs.copyFileSync(path.join(EVAL, 'images', f), path.join(dir, String(i).padStart(3, '0') + '.jpg')))
  return dir
}

before(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-vision-'))
  tmpDir = tmp
  // 6 s of the empty wall, then 12 s of the cat (looped)
  const catSeq = sequence(path.join(tmp, 'cat'), [...Array(6).fill(EMPTY_FRAME), ...Array(12).fill(CAT_FRAME)])
  const emptySeq = sequence(path.join(tmp, 'empty'), Array(4).fill(EMPTY_FRAME))
  const [cx, cy, w, h] = fs.readFileSync(path.join(EVAL, 'labels', '022.txt'), 'utf8').trim().split(/\s+/).slice(1).map(Number)
  catBox = { x: (cx - w / 2) * 640, y: (cy - h / 2) * 360, w: w * 640, h: h * 360 }
  const camA = await startCamera({ images: catSeq })
  const camB = await startCamera({ images: emptySeq })
  cameras = [camA, camB]
  const cfg = path.join(tmp, 'vision.toml')
  fs.writeFileSync(cfg, '[vision]\nenabled = true\n\n[video]\nclip_before_seconds = 2\nclip_after_seconds = 3\n')
  srv = await startServer({ args: ['--config', cfg] })
  admin = await login(srv.base, ADMIN.username, ADMIN.password)
  const call = (m, p, b) => api(srv.base, admin, m, p, b)
  const jur = async (parent_id, level, code, name) => (await call('POST', '/api/v1/jurisdictions', { parent_id, level, code, name })).json.id
  const province = await jur(undefined, 'province', '320000', '江苏省')
  const city = await jur(province, 'city', '320600', '南通市')
  const dist = await jur(city, 'district', '320602', '崇川区')
  const png = fs.readFileSync(path.join(EVAL, 'images', EMPTY_FRAME))
  const up = multipart([{ name: 'file', filename: 'licence.jpg', contentType: 'image/jpeg', data: png }])
  const file = await api(srv.base, admin, 'POST', '/api/v1/files', up.body, { 'content-type': up.contentType })
  assert.equal(file.status, 201, file.text)
  const mkUnit = async (n, name) => {
    const u = await call('POST', '/api/v1/units', {
      name, jurisdiction_id: dist, store_type: 'school_canteen', licence_number: `JY1320602001234${n}`,
      uscc: uscc(n), licence_image_ids: [file.json.id],
    })
    assert.equal(u.status, 201, u.text)
    return u.json.id
  }
  unitId = await mkUnit(3, '南通小学食堂')
  otherUnitId = await mkUnit(4, '南通中学食堂')
  const mkCam = async (body) => {
    const c = await call('POST', '/api/v1/cameras', { unit_id: unitId, name: '后厨', area: 'cooking', record: 'events', ...body })
    assert.equal(c.status, 201, c.text)
    return c.json.id
  }
  catUrl = camA.url('/images')
  catCam = await mkCam({ stream_url: catUrl })
  emptyCam = await mkCam({ stream_url: camB.url('/images') })
  offCam = await mkCam({ stream_url: camA.url('/images'), ai_enabled: false })
  const m = await call('POST', '/api/v1/users', { username: 'kitchen2', password: 'Kitchen@2026!x', display_name: '厨房', role: 'merchant', unit_ids: [otherUnitId] })
  assert.equal(m.status, 201, m.text)
  merchant = await login(srv.base, 'kitchen2', 'Kitchen@2026!x')
})

after(async () => {
  await srv?.stop()
  for (const c of cameras) await c.stop()
})

function iou(a, b) {
  const x1 = Math.max(a.x, b.x), y1 = Math.max(a.y, b.y)
  const x2 = Math.min(a.x + a.w, b.x + b.w), y2 = Math.min(a.y + a.h, b.y + b.h)
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1)
  return inter / (a.w * a.h + b.w * b.h - inter)
}

test('a cat appearing on the camera raises one animal alert with its box, the frame, the model and a clip', async () => {
  const alert = await until(async () => {
    const r = await api(srv.base, admin, 'GET', `/api/v1/alerts?camera_id=${catCam}`)
    assert.equal(r.status, 200, r.text)
    return r.json.items[0]
  }, { timeoutMs: 60000, everyMs: 500, what: 'the animal alert' })
  assert.equal(alert.type, 'animal')
  const a = (await api(srv.base, admin, 'GET', `/api/v1/alerts/${alert.id}`)).json
  assert.match(a.model, /^coco-ssdlite@1\.0\.6$/)
  assert.ok(a.boxes.length >= 1, JSON.stringify(a))
  const cat = a.boxes.find((b) => b.label === 'cat')
  assert.ok(cat, JSON.stringify(a.boxes))
  assert.ok(cat.score >= 0.5, `score ${cat.score}`)
  assert.ok(iou(cat, catBox) >= 0.5, `box ${JSON.stringify(cat)} against the pasted cat ${JSON.stringify(catBox)}`)
  assert.equal(a.snapshot_ids.length, 1)
  const jpeg = await api(srv.base, admin, 'GET', `/api/v1/files/${a.snapshot_ids[0]}`)
  assert.equal(jpeg.status, 200)
  assert.equal(jpeg.bytes.subarray(0, 3).toString('hex'), 'ffd8ff', 'the frame is a JPEG')
  // the evidence clip of the media core is pinned to it
  const clip = await until(async () => {
    const c = (await api(srv.base, admin, 'GET', `/api/v1/alerts/${alert.id}`)).json.clips?.[0]
    return c && c.state !== 'pending' ? c : null
  }, { timeoutMs: 40000, what: 'the evidence clip' })
  assert.equal(clip.state, 'ready', JSON.stringify(clip))
  const mp4 = await api(srv.base, null, 'GET', clip.url)
  assert.equal(mp4.status, 200)
  assert.equal(await sm3(mp4.bytes), clip.sm3)
  // the cat stays: the cooldown keeps it to one alert (merged captures at most)
  const all = (await api(srv.base, admin, 'GET', `/api/v1/alerts?camera_id=${catCam}`)).json
  assert.equal(all.total, 1)
})

test('the empty wall raises nothing, a camera with AI off is not analysed; status and metrics count', async () => {
  const st = await until(async () => {
    const s = (await api(srv.base, admin, 'GET', '/api/v1/vision/status')).json
    const e = s.per_camera?.find((c) => c.camera_id === emptyCam)
    return e && e.frames >= 10 ? s : null
  }, { timeoutMs: 40000, what: '10 analysed frames of the empty camera' })
  assert.equal(st.running, true)
  assert.equal(st.model.name, 'coco-ssdlite')
  const empty = st.per_camera.find((c) => c.camera_id === emptyCam)
  assert.equal(empty.alerts, 0)
  assert.ok(empty.motion_skipped >= 1, `a still wall skips the detector: ${JSON.stringify(empty)}`)
  assert.ok(empty.detections >= 1, 'the first frame (and every force_every-th) is detected')
  assert.equal(st.per_camera.find((c) => c.camera_id === offCam), undefined)
  assert.equal((await api(srv.base, admin, 'GET', `/api/v1/alerts?camera_id=${emptyCam}`)).json.total, 0)
  assert.equal((await api(srv.base, admin, 'GET', `/api/v1/alerts?camera_id=${offCam}`)).json.total, 0)
  const metrics = await fetch(srv.base + '/metrics').then((r) => r.text())
  assert.match(metrics, /mingchu_vision_frames_total \d+/)
  assert.match(metrics, /mingchu_vision_detect_seconds_count \d+/)
  assert.match(metrics, /mingchu_vision_alerts_total\{result="stored"\} [1-9]/)
  // live view still works while the detector runs
  const live = await api(srv.base, admin, 'POST', `/api/v1/cameras/${catCam}/live`, { quality: 'hd' })
  assert.equal(live.status, 200, live.text)
  // only platform admins read the status
  assert.equal((await api(srv.base, merchant, 'GET', '/api/v1/vision/status')).status, 403)
})

test('per-camera AI settings: defaults, a merged PATCH, and refusals that name the field', async () => {
  const get = await api(srv.base, admin, 'GET', `/api/v1/cameras/${emptyCam}/ai`)
  assert.equal(get.status, 200, get.text)
  assert.deepEqual(get.json.models, ['coco-ssdlite'])
  assert.deepEqual(get.json.types.animal.labels, ['cat', 'dog', 'bird'])
  assert.deepEqual(get.json.types.stranger.schedule, ['22:00-06:00'])
  const zone = [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
  const p = await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${emptyCam}/ai`, {
    types: { animal: { min_score: 0.7, k: 3, n: 5 }, stranger: { zones: [zone], schedule: [] } },
  })
  assert.equal(p.status, 200, p.text)
  assert.equal(p.json.types.animal.min_score, 0.7)
  assert.deepEqual(p.json.types.animal.labels, ['cat', 'dog', 'bird'], 'fields left out keep their values')
  const p2 = await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${emptyCam}/ai`, { types: { animal: { cooldown_s: 60 } }, ai_enabled: true })
  assert.equal(p2.status, 200, p2.text)
  assert.equal(p2.json.types.animal.min_score, 0.7, 'a second PATCH keeps the first')
  assert.equal(p2.json.types.animal.cooldown_s, 60)
  assert.deepEqual(p2.json.types.stranger.zones, [zone])
  for (const [body, field] of [
    [{ types: { unicorn: { labels: ['horse'] } } }, 'types.unicorn'],
    [{ types: { animal: { min_score: 2 } } }, 'types.animal.min_score'],
    [{ types: { animal: { k: 5, n: 2 } } }, 'types.animal.k'],
    [{ types: { animal: { zones: [[[0, 0], [2, 0], [1, 1]]] } } }, 'types.animal.zones'],
    [{ types: { animal: { zones: [[[0, 0], [1, 0]]] } } }, 'types.animal.zones'],
    [{ types: { animal: { schedule: ['25:00-06:00'] } } }, 'types.animal.schedule'],
    [{ types: { animal: { schedule: ['22:00-06:00; rm -rf /'] } } }, 'types.animal.schedule'],
    [{ types: { animal: { colour: 'red' } } }, 'types.animal.colour'],
    [{ models: ['no-such-model'] }, 'models'],
    [{ rate: 0 }, 'rate'],
    [{ motion: { threshold: 1000 } }, 'motion.threshold'],
    [{ ai_enabled: 'yes' }, 'ai_enabled'],
    [{ surprise: 1 }, 'surprise'],
  ]) {
    const r = await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${emptyCam}/ai`, body)
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`)
    assert.equal(r.json.error.field, field, `${JSON.stringify(body)}: ${r.text}`)
  }
  const malformed = await fetch(`${srv.base}/api/v1/cameras/${emptyCam}/ai`, {
    method: 'PATCH', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{"types": {',
  })
  assert.equal(malformed.status, 400)
  const huge = await fetch(`${srv.base}/api/v1/cameras/${emptyCam}/ai`, {
    method: 'PATCH', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ types: { animal: { labels: Array(20000).fill('cat') } } }),
  })
  assert.equal(huge.status, 413)
  // out of scope: a merchant of another unit sees no such camera; unknown ids are 404 too
  assert.equal((await api(srv.base, merchant, 'GET', `/api/v1/cameras/${emptyCam}/ai`)).status, 404)
  assert.equal((await api(srv.base, merchant, 'PATCH', `/api/v1/cameras/${emptyCam}/ai`, { types: {} })).status, 404)
  assert.equal((await api(srv.base, admin, 'GET', '/api/v1/cameras/cam_nonexistent/ai')).status, 404)
  assert.equal((await api(srv.base, null, 'GET', `/api/v1/cameras/${emptyCam}/ai`)).status, 401)
  // the stored settings survived the refusals
  const after = await api(srv.base, admin, 'GET', `/api/v1/cameras/${emptyCam}/ai`)
  assert.equal(after.json.types.animal.cooldown_s, 60)
  // the server is still up
  assert.equal((await fetch(srv.base + '/healthz')).status, 200)
})

test('models: the shipped COCO detector is listed with its labels and digest', async () => {
  const r = await api(srv.base, admin, 'GET', '/api/v1/vision/models')
  assert.equal(r.status, 200, r.text)
  const m = r.json.items.find((x) => x.id === 'coco-ssdlite')
  assert.equal(m.installed, true)
  assert.equal(m.version, '1.0.6')
  assert.match(m.sha256, /^[0-9a-f]{64}$/)
  assert.ok(m.labels.includes('cat') && m.labels.includes('cell phone') && m.labels.length === 80)
  assert.equal((await api(srv.base, admin, 'GET', '/api/v1/vision/models/coco-ssdlite')).status, 200)
  assert.equal((await api(srv.base, admin, 'GET', '/api/v1/vision/models/nope')).status, 404)
  assert.equal((await api(srv.base, null, 'GET', '/api/v1/vision/models')).status, 401)
})

const CLASSMAP = (labels, extra = '') => `name = "tiny"
format = "yolov5"
licence = "test only"
${extra}
[input]
width = 64
height = 64
${labels.map((l) => `[[labels]]\nname = "${l[0]}"\nalert_type = "${l[1]}"\nmin_score = 0.5\n`).join('\n')}`

function tinyOnnx(classes) {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-onnx-')), 'tiny.onnx')
  const r = spawnSync('/usr/bin/python3', [path.join(REPO, 'tests', 'fixtures', 'vision', 'make_tiny_onnx.py'), f, String(classes)], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return fs.readFileSync(f)
}

async function uploadModel(token, model, classmap) {
  const parts = []
  if (model) parts.push({ name: 'model', filename: 'm.onnx', contentType: 'application/octet-stream', data: model })
  if (classmap !== undefined) parts.push({ name: 'classmap', filename: 'm.toml', contentType: 'application/toml', data: Buffer.from(classmap) })
  const mp = multipart(parts)
  return api(srv.base, token, 'POST', '/api/v1/vision/models', mp.body, { 'content-type': mp.contentType })
}

test('custom ONNX models: upload with a class map, versions, and refusals with the reason', async () => {
  const onnx = tinyOnnx(2)
  const two = [['hat_missing', 'no_hat'], ['mask_missing', 'no_mask']]
  const ok = await uploadModel(admin, onnx, CLASSMAP(two))
  assert.equal(ok.status, 201, ok.text)
  assert.equal(ok.json.name, 'tiny')
  assert.equal(ok.json.version, 1)
  assert.match(ok.json.sha256, /^[0-9a-f]{64}$/)
  assert.deepEqual(ok.json.labels.map((l) => l.name), ['hat_missing', 'mask_missing'])
  const again = await uploadModel(admin, onnx, CLASSMAP(two, `sha256 = "${ok.json.sha256}"`))
  assert.equal(again.status, 201, again.text)
  assert.equal(again.json.version, 2, 'the same name again is its next version')
  const refusals = [
    [onnx, CLASSMAP([...two, ['gloves', 'no_gloves']]), 'output_shape_mismatch'],
    [Buffer.from('this is not an ONNX file, just bytes that pretend'), CLASSMAP(two), 'model_unloadable'],
    [onnx.subarray(0, 2000), CLASSMAP(two), 'model_unloadable'],
    [onnx, CLASSMAP([['x', 'unicorn_sighting']]), 'unknown_alert_type'],
    [onnx, 'name = "tiny"\n[[labels]\nname=', 'invalid_classmap'],
    [onnx, CLASSMAP(two, 'evil = "yes"'), 'invalid_classmap'],
    [onnx, CLASSMAP(two, `sha256 = "${'0'.repeat(64)}"`), 'sha256_mismatch'],
    [onnx, CLASSMAP(two).replace('name = "tiny"', 'name = "../../etc"'), 'invalid_classmap'],
  ]
  for (const [model, cm, code] of refusals) {
    const r = await uploadModel(admin, model, cm)
    assert.equal(r.status, 422, `${code}: ${r.text}`)
    assert.equal(r.json.error.code, code, r.text)
    assert.ok(r.json.error.message.length > 10, r.text)
  }
  const unk = await uploadModel(admin, onnx, CLASSMAP([['x', 'unicorn_sighting']]))
  assert.equal(unk.json.error.field, 'classmap.labels[0].alert_type')
  const bad = await uploadModel(admin, Buffer.from('garbage'.repeat(10)), CLASSMAP(two))
  assert.match(bad.json.error.message, /OpenCV/)
  assert.equal((await uploadModel(admin, onnx, undefined)).status, 422)
  assert.equal((await uploadModel(admin, null, CLASSMAP(two))).status, 422)
  // a 41 MiB upload is refused from its Content-Length, before it is read: send only its start
  // (writing all of it would race the server closing the connection after its 413)
  const big = await new Promise((resolve, reject) => {
    const req = http.request(srv.base + '/api/v1/vision/models', {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(41 * 1024 * 1024) },
    }, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode, text }))
    })
    req.on('error', reject)
    req.write('--x\r\n')
  })
  assert.equal(big.status, 413, big.text)
  assert.match(big.text, /"error"/)
  assert.equal((await uploadModel(merchant, onnx, CLASSMAP(two))).status, 403)
  // listed, readable, assignable to a camera, deletable
  const list = (await api(srv.base, admin, 'GET', '/api/v1/vision/models')).json.items
  assert.deepEqual(list.map((m) => m.id).sort(), ['coco-ssdlite', ok.json.id, again.json.id].sort())
  assert.equal((await api(srv.base, admin, 'GET', `/api/v1/vision/models/${ok.json.id}`)).json.version, 1)
  const assign = await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${emptyCam}/ai`, { models: ['coco-ssdlite', again.json.id] })
  assert.equal(assign.status, 200, assign.text)
  assert.equal((await api(srv.base, merchant, 'DELETE', `/api/v1/vision/models/${ok.json.id}`)).status, 403)
  assert.equal((await api(srv.base, admin, 'DELETE', `/api/v1/vision/models/${ok.json.id}`)).status, 204)
  assert.equal((await api(srv.base, admin, 'GET', `/api/v1/vision/models/${ok.json.id}`)).status, 404)
  assert.equal((await api(srv.base, admin, 'DELETE', `/api/v1/vision/models/${ok.json.id}`)).status, 404)
  assert.equal((await api(srv.base, admin, 'DELETE', '/api/v1/vision/models/coco-ssdlite')).status, 409)
  assert.equal((await fetch(srv.base + '/healthz')).status, 200)
})

// a dark frame with a white square on whole cells of the tiny model's 8 px grid (80 px of the
// 640 x 360 frame once letterboxed into 64 x 64): x 160-320, y 100-260
const SQUARE = { x: 160, y: 100, w: 160, h: 160 }
function squareFrame(file, withSquare) {
  const vf = withSquare ? ['-vf', `drawbox=x=${SQUARE.x}:y=${SQUARE.y}:w=${SQUARE.w}:h=${SQUARE.h}:color=white:t=fill`] : []
  const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x283240:s=640x360', ...vf, '-frames:v', '1', file])
  assert.equal(r.status, 0, String(r.stderr))
}

test('an uploaded YOLOv5 model assigned to a camera raises its class map\'s alert type where the square is, naming the model', async () => {
  const dir = path.join(tmpDir, 'square')
  fs.mkdirSync(dir, { recursive: true })
  squareFrame(path.join(dir, 'dark.jpg'), false)
  squareFrame(path.join(dir, 'square.jpg'), true)
  // 4 s dark, then 8 s of the square (looped)
  const seq = [...Array(4).fill('dark.jpg'), ...Array(8).fill('square.jpg')]
  seq.forEach((f, i) => fs.copyFileSync(path.join(dir, f), path.join(dir, String(i).padStart(3, '0') + '.jpg')))
  const darkDir = path.join(tmpDir, 'dark')
  fs.mkdirSync(darkDir, { recursive: true })
  for (let i = 0; i < 3; i++) fs.copyFileSync(path.join(dir, 'dark.jpg'), path.join(darkDir, String(i).padStart(3, '0') + '.jpg'))
  const cam = await startCamera({ images: dir })
  const darkCam = await startCamera({ images: darkDir })
  cameras.push(cam, darkCam)
  const f = path.join(tmpDir, 'square.onnx')
  const gen = spawnSync('/usr/bin/python3', [path.join(REPO, 'tests', 'fixtures', 'vision', 'make_tiny_onnx.py'), f, '2', 'square'], { encoding: 'utf8' })
  assert.equal(gen.status, 0, gen.stderr)
  const cm = CLASSMAP([['hat_missing', 'no_hat'], ['mask_missing', 'no_mask']]).replace('name = "tiny"', 'name = "square"')
  const up = await uploadModel(admin, fs.readFileSync(f), cm)
  assert.equal(up.status, 201, up.text)
  const mk = async (url) => {
    const c = await api(srv.base, admin, 'POST', '/api/v1/cameras', { unit_id: unitId, name: '专间', area: 'special_room', record: 'events', stream_url: url })
    assert.equal(c.status, 201, c.text)
    const p = await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${c.json.id}/ai`, { models: [up.json.id] })
    assert.equal(p.status, 200, p.text)
    assert.deepEqual(p.json.models, [up.json.id])
    return c.json.id
  }
  const sqCam = await mk(cam.url('/images'))
  const dkCam = await mk(darkCam.url('/images'))
  const alert = await until(async () => (await api(srv.base, admin, 'GET', `/api/v1/alerts?camera_id=${sqCam}`)).json.items[0],
    { timeoutMs: 60000, everyMs: 500, what: 'the no_hat alert of the custom model' })
  assert.equal(alert.type, 'no_hat')
  const a = (await api(srv.base, admin, 'GET', `/api/v1/alerts/${alert.id}`)).json
  assert.equal(a.model, 'square@1')
  assert.ok(a.boxes.length >= 1)
  for (const b of a.boxes) {
    assert.equal(b.label, 'hat_missing')
    assert.ok(iou(b, SQUARE) > 0 && b.x >= SQUARE.x - 8 && b.y >= SQUARE.y - 8 && b.x + b.w <= SQUARE.x + SQUARE.w + 8 && b.y + b.h <= SQUARE.y + SQUARE.h + 8,
      `box ${JSON.stringify(b)} outside the square ${JSON.stringify(SQUARE)}`)
  }
  assert.equal(a.snapshot_ids.length, 1)
  // the dark camera runs the same model and raises nothing; the status shows the model loaded
  const st = await until(async () => {
    const s = (await api(srv.base, admin, 'GET', '/api/v1/vision/status')).json
    const d = s.per_camera?.find((c) => c.camera_id === dkCam)
    return d && d.detections >= 3 ? s : null
  }, { timeoutMs: 30000, what: 'the dark camera analysed' })
  assert.equal(st.custom_models[up.json.id], 'square@1')
  assert.equal((await api(srv.base, admin, 'GET', `/api/v1/alerts?camera_id=${dkCam}`)).json.total, 0)
  // an SSD-shaped network uploaded as yolov5 is refused with the shape it has
  const ssd = path.join(tmpDir, 'ssd.onnx')
  assert.equal(spawnSync('/usr/bin/python3', [path.join(REPO, 'tests', 'fixtures', 'vision', 'make_tiny_onnx.py'), ssd, '1', 'square-ssd']).status, 0)
  const wrong = await uploadModel(admin, fs.readFileSync(ssd), cm)
  assert.equal(wrong.status, 422, wrong.text)
  assert.equal(wrong.json.error.code, 'output_shape_mismatch')
  assert.match(wrong.json.error.message, /\[1, 1, 64, 7\]/)
  const right = await uploadModel(admin, fs.readFileSync(ssd), cm.replace('format = "yolov5"', 'format = "ssd"'))
  assert.equal(right.status, 201, right.text)
  assert.equal(right.json.format, 'ssd')
  assert.equal((await api(srv.base, admin, 'DELETE', `/api/v1/vision/models/${up.json.id}`)).status, 204)
  assert.equal((await fetch(srv.base + '/healthz')).status, 200)
})

test('stranger with the roster: one person where nobody is on shift is a stranger, where one is on shift it is not', async () => {
  // scikit-image's astronaut pasted on a wall (frame 016 of the evaluation set): one person
  const dir = path.join(tmpDir, 'person')
  fs.mkdirSync(dir, { recursive: true })
  for (let i = 0; i < 3; i++) fs.copyFileSync(path.join(EVAL, 'images', '016.jpg'), path.join(dir, String(i).padStart(3, '0') + '.jpg'))
  const cam = await startCamera({ images: dir })
  cameras.push(cam)
  const call = (m, p, b) => api(srv.base, admin, m, p, b)
  const file = (await call('GET', `/api/v1/units/${unitId}`)).json.licence_image_ids[0]
  const unitOf = async (n, name) => {
    const u = await call('POST', '/api/v1/units', { name, jurisdiction_id: (await call('GET', `/api/v1/units/${unitId}`)).json.jurisdiction_id, store_type: 'school_canteen', licence_number: `JY1320602001234${n}`, uscc: uscc(n), licence_image_ids: [file] })
    assert.equal(u.status, 201, u.text)
    return u.json.id
  }
  const nobody = await unitOf(5, '无人值班食堂')
  const staffed = await unitOf(6, '有人值班食堂')
  const cook = await call('POST', '/api/v1/staff', { unit_id: staffed, name: '王师傅', id_number: idNumber(61), phone: '13812345678' })
  assert.equal(cook.status, 201, cook.text)
  const allDay = (staff_ids) => ({ shifts: [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00', staff_ids }] })
  assert.equal((await call('PUT', `/api/v1/units/${nobody}/roster`, allDay([]))).status, 200)
  assert.equal((await call('PUT', `/api/v1/units/${staffed}/roster`, allDay([cook.json.id]))).status, 200)
  const mk = async (unit) => {
    const c = await call('POST', '/api/v1/cameras', { unit_id: unit, name: '后厨', area: 'cooking', record: 'off', stream_url: cam.url('/images') })
    assert.equal(c.status, 201, c.text)
    return c.json.id
  }
  const camNobody = await mk(nobody)
  const camStaffed = await mk(staffed)
  const alert = await until(async () => (await call('GET', `/api/v1/alerts?camera_id=${camNobody}`)).json.items[0],
    { timeoutMs: 60000, everyMs: 500, what: 'the stranger alert' })
  assert.equal(alert.type, 'stranger')
  const a = (await call('GET', `/api/v1/alerts/${alert.id}`)).json
  assert.ok(a.boxes.some((b) => b.label === 'person'), JSON.stringify(a.boxes))
  // the staffed kitchen's camera saw the same person for as many frames: no alert
  await until(async () => {
    const s = (await call('GET', '/api/v1/vision/status')).json
    const c = s.per_camera?.find((x) => x.camera_id === camStaffed)
    return c && c.frames >= 8 ? c : null
  }, { timeoutMs: 30000, what: '8 frames of the staffed camera' })
  assert.equal((await call('GET', `/api/v1/alerts?camera_id=${camStaffed}`)).json.total, 0)
})

test('a detector slower than its budget is counted and shown, and live view goes on', async () => {
  // fault injection: every detection takes 1.5 s against a 200 ms budget
  const cfg = path.join(tmpDir, 'slow.toml')
  fs.writeFileSync(cfg, '[vision]\nenabled = true\nbudget_ms = 200\nfault_delay_ms = 1500\n')
  const slow = await startServer({ args: ['--config', cfg] })
  try {
    const t = await login(slow.base, ADMIN.username, ADMIN.password)
    const call = (m, p, b) => api(slow.base, t, m, p, b)
    const jur = async (parent_id, level, code, name) => (await call('POST', '/api/v1/jurisdictions', { parent_id, level, code, name })).json.id
    const dist = await jur(await jur(await jur(undefined, 'province', '320000', '江苏省'), 'city', '320600', '南通市'), 'district', '320602', '崇川区')
    const up = multipart([{ name: 'file', filename: 'l.jpg', contentType: 'image/jpeg', data: fs.readFileSync(path.join(EVAL, 'images', EMPTY_FRAME)) }])
    const file = await api(slow.base, t, 'POST', '/api/v1/files', up.body, { 'content-type': up.contentType })
    const unit = await call('POST', '/api/v1/units', { name: '慢速食堂', jurisdiction_id: dist, store_type: 'school_canteen', licence_number: 'JY13206020012345', uscc: uscc(3), licence_image_ids: [file.json.id] })
    const cam = await call('POST', '/api/v1/cameras', { unit_id: unit.json.id, name: '后厨', area: 'cooking', stream_url: catUrl })
    assert.equal(cam.status, 201, cam.text)
    const st = await until(async () => {
      const s = (await call('GET', '/api/v1/vision/status')).json
      return s.over_budget >= 2 ? s : null
    }, { timeoutMs: 40000, what: 'detections over budget' })
    assert.ok(st.detections >= st.over_budget)
    // while the detector is slow, live view answers at once and FLV bytes flow
    const t0 = Date.now()
    const live = await call('POST', `/api/v1/cameras/${cam.json.id}/live`, { quality: 'hd' })
    assert.equal(live.status, 200, live.text)
    assert.ok(Date.now() - t0 < 5000, `live took ${Date.now() - t0} ms`)
    const flv = await fetch(slow.base + live.json.flv_url)
    const reader = flv.body.getReader()
    // a still picture compresses to a few bytes a frame: what counts is that frames keep coming
    let n = 0
    let first = 0
    let last = 0
    const t1 = Date.now()
    while (Date.now() - t1 < 3500) {
      const { value, done } = await reader.read()
      if (done) break
      n += value.length
      last = Date.now() - t1
      if (!first) first = last
    }
    await reader.cancel()
    assert.ok(n >= 5000, `only ${n} FLV bytes`)
    assert.ok(last - first >= 2000, `FLV bytes stopped after ${last - first} ms`)
    const metrics = await fetch(slow.base + '/metrics').then((r) => r.text())
    assert.match(metrics, /mingchu_vision_over_budget_total [1-9]/)
  } finally {
    await slow.stop()
  }
})

test('mingchu vision eval on an uploaded-style ONNX file with its class map beside it', () => {
  // one white 80 x 80 square on a whole cell of the tiny model's grid, and a dark frame
  const set = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-onnxset-'))
  fs.mkdirSync(path.join(set, 'images'))
  fs.mkdirSync(path.join(set, 'labels'))
  fs.writeFileSync(path.join(set, 'classes.txt'), 'hat_missing\n')
  const sq = { x: 160, y: 100, w: 80, h: 80 }
  const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x283240:s=640x360', '-vf', `drawbox=x=${sq.x}:y=${sq.y}:w=${sq.w}:h=${sq.h}:color=white:t=fill`, '-frames:v', '1', path.join(set, 'images', 'a.jpg')])
  assert.equal(r.status, 0)
  assert.equal(spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x283240:s=640x360', '-frames:v', '1', path.join(set, 'images', 'b.jpg')]).status, 0)
  fs.writeFileSync(path.join(set, 'labels', 'a.txt'), `0 ${(sq.x + sq.w / 2) / 640} ${(sq.y + sq.h / 2) / 360} ${sq.w / 640} ${sq.h / 360}\n`)
  const onnx = path.join(set, 'square.onnx')
  assert.equal(spawnSync('/usr/bin/python3', [path.join(REPO, 'tests', 'fixtures', 'vision', 'make_tiny_onnx.py'), onnx, '1', 'square']).status, 0)
  const noMap = spawnSync(BIN, ['vision', 'eval', '--model', onnx, '--dataset', set], { encoding: 'utf8' })
  assert.equal(noMap.status, 2)
  assert.match(noMap.stderr, /class map/)
  fs.writeFileSync(path.join(set, 'square.toml'), 'name = "square"\n[input]\nwidth = 64\nheight = 64\n[[labels]]\nname = "hat_missing"\nalert_type = "no_hat"\n')
  const j = spawnSync(BIN, ['vision', 'eval', '--model', onnx, '--dataset', set, '--json'], { encoding: 'utf8' })
  assert.equal(j.status, 0, j.stderr)
  const c = JSON.parse(j.stdout).classes.hat_missing
  assert.deepEqual([c.tp, c.fp, c.fn, c.precision, c.recall, c.ap50], [1, 0, 0, 1, 1, 1])
})

test('mingchu vision eval: text and JSON on the shipped set, exit 2 on a bad data set', () => {
  const j = spawnSync(BIN, ['vision', 'eval', '--model', 'coco-ssdlite', '--dataset', EVAL, '--json'], { encoding: 'utf8', timeout: 120000 })
  assert.equal(j.status, 0, j.stderr)
  const rep = JSON.parse(j.stdout)
  assert.deepEqual(Object.keys(rep.classes).sort(), ['cat', 'cup', 'person'])
  for (const c of Object.values(rep.classes)) {
    for (const k of ['precision', 'recall', 'ap50', 'tp', 'fp', 'fn']) assert.equal(typeof c[k], 'number', k)
  }
  assert.equal(rep.classes.cat.tp, 6)
  const t = spawnSync(BIN, ['vision', 'eval', '--model', 'coco-ssdlite', '--dataset', EVAL], { encoding: 'utf8', timeout: 120000 })
  assert.equal(t.status, 0, t.stderr)
  assert.match(t.stdout, /class\s+precision\s+recall\s+ap50\s+tp\s+fp\s+fn/)
  assert.match(t.stdout, /^cat\s+1\.000\s+1\.000/m)
  // a data set with a broken label line, and a missing one
  const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-badset-'))
  fs.mkdirSync(path.join(bad, 'images'))
  fs.mkdirSync(path.join(bad, 'labels'))
  fs.writeFileSync(path.join(bad, 'classes.txt'), 'cat\n')
  fs.copyFileSync(path.join(EVAL, 'images', CAT_FRAME), path.join(bad, 'images', 'a.jpg'))
  fs.writeFileSync(path.join(bad, 'labels', 'a.txt'), '0 0.5 0.5 1.5 0.2\n')
  const b = spawnSync(BIN, ['vision', 'eval', '--model', 'coco-ssdlite', '--dataset', bad], { encoding: 'utf8' })
  assert.equal(b.status, 2)
  assert.match(b.stderr, /a\.txt line 1/)
  fs.writeFileSync(path.join(bad, 'images', 'b.jpg'), 'not a jpeg')
  fs.writeFileSync(path.join(bad, 'labels', 'a.txt'), '0 0.5 0.5 0.5 0.2\n')
  const c = spawnSync(BIN, ['vision', 'eval', '--model', 'coco-ssdlite', '--dataset', bad], { encoding: 'utf8' })
  assert.equal(c.status, 2)
  assert.match(c.stderr, /cannot decode/)
  const d = spawnSync(BIN, ['vision', 'eval', '--model', 'nope', '--dataset', bad], { encoding: 'utf8' })
  assert.equal(d.status, 2)
  assert.match(d.stderr, /no model named/)
})
