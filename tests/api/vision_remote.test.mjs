// `mingchu vision --server URL --api-key K` (src/vision/remote.cpp, docs/vision.md "Remote mode"):
// the algorithm server as a process of its own beside a server whose vision is off. It lists the
// AI-enabled cameras through the API (scoped by its key), pulls their frames from the server's
// live HTTP-FLV, runs the same pipeline and posts the alert through the ingest API: the same cat
// on the same RTSP test camera as in vision.test.mjs gives the same alert (type, box, model,
// JPEG). A camera outside the key's jurisdiction is not analysed; a bad key or URL ends it at once.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { startServer, api, login, multipart, uscc, REPO, BIN, ADMIN } from './lib.mjs'
import { startCamera, until } from './video_lib.mjs'

const EVAL = path.join(REPO, 'tests', 'fixtures', 'vision', 'eval')
let srv, admin, cam, catCam, farCam, key, catBox, remote, remoteLog = ''

before(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-vision-remote-'))
  const seq = path.join(tmp, 'cat')
  fs.mkdirSync(seq)
  // 4 s of the empty wall, then 12 s of the cat (looped)
  const frames = [...Array(4).fill('002.jpg'), ...Array(12).fill('022.jpg')]
  frames.forEach((f, i) => fs.copyFileSync(path.join(EVAL, 'images', f), path.join(seq, String(i).padStart(3, '0') + '.jpg')))
  const [cx, cy, w, h] = fs.readFileSync(path.join(EVAL, 'labels', '022.txt'), 'utf8').trim().split(/\s+/).slice(1).map(Number)
  catBox = { x: (cx - w / 2) * 640, y: (cy - h / 2) * 360, w: w * 640, h: h * 360 }
  cam = await startCamera({ images: seq })
  srv = await startServer()  // vision off (the default)
  admin = await login(srv.base, ADMIN.username, ADMIN.password)
  const call = (m, p, b) => api(srv.base, admin, m, p, b)
  const jur = async (parent_id, level, code, name) => {
    const r = await call('POST', '/api/v1/jurisdictions', { parent_id, level, code, name })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  const city = await jur(await jur(undefined, 'province', '320000', '江苏省'), 'city', '320600', '南通市')
  const near = await jur(city, 'district', '320602', '崇川区')
  const far = await jur(city, 'district', '320612', '通州区')
  const up = multipart([{ name: 'file', filename: 'l.jpg', contentType: 'image/jpeg', data: fs.readFileSync(path.join(EVAL, 'images', '002.jpg')) }])
  const file = await api(srv.base, admin, 'POST', '/api/v1/files', up.body, { 'content-type': up.contentType })
  assert.equal(file.status, 201, file.text)
  const unit = async (n, jid) => {
    const u = await call('POST', '/api/v1/units', { name: `南通食堂${n}`, jurisdiction_id: jid, store_type: 'school_canteen', licence_number: `JY1320602001234${n}`, uscc: uscc(n), licence_image_ids: [file.json.id] })
    assert.equal(u.status, 201, u.text)
    return u.json.id
  }
  const camera = async (unitId) => {
    const c = await call('POST', '/api/v1/cameras', { unit_id: unitId, name: '后厨', area: 'cooking', record: 'events', stream_url: cam.url('/images') })
    assert.equal(c.status, 201, c.text)
    return c.json.id
  }
  catCam = await camera(await unit(3, near))
  farCam = await camera(await unit(4, far))
  const k = await call('POST', '/api/v1/api-keys', { name: 'vision-node-1', scope: { jurisdiction_id: near }, permissions: ['ingest', 'read', 'write'] })
  assert.equal(k.status, 201, k.text)
  key = k.json.key
})

after(async () => {
  if (remote && remote.exitCode === null) remote.kill('SIGKILL')
  await srv?.stop()
  await cam?.stop()
})

function iou(a, b) {
  const x1 = Math.max(a.x, b.x), y1 = Math.max(a.y, b.y)
  const x2 = Math.min(a.x + a.w, b.x + b.w), y2 = Math.min(a.y + a.h, b.y + b.h)
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1)
  return inter / (a.w * a.h + b.w * b.h - inter)
}

test('bad arguments and a refused key end the remote pipeline at once with the reason', () => {
  const run = (args, env = {}) => spawnSync(BIN, ['vision', ...args], { encoding: 'utf8', timeout: 20000, env: { ...process.env, MINGCHU_API_KEY: '', ...env } })
  const noKey = run(['--server', srv.base])
  assert.equal(noKey.status, 2, noKey.stderr)
  assert.match(noKey.stderr, /--api-key/)
  const badUrl = run(['--server', 'file:///etc/passwd', '--api-key', key])
  assert.equal(badUrl.status, 2)
  assert.match(badUrl.stderr, /http:\/\//)
  const refused = run(['--server', srv.base, '--api-key', 'mck_not_a_key_at_all'])
  assert.equal(refused.status, 3, refused.stderr)
  assert.match(refused.stderr, /refuses the key/)
  const fromEnv = run(['--server', srv.base], { MINGCHU_API_KEY: 'mck_wrong' })
  assert.equal(fromEnv.status, 3, fromEnv.stderr)
  const nothing = run([])
  assert.equal(nothing.status, 2)
})

test('mingchu vision --server: the cat on the RTSP camera raises the same animal alert through the API', async () => {
  remote = spawn(BIN, ['vision', '--server', srv.base, '--api-key', key], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  remote.stdout.on('data', (d) => { remoteLog += d })
  remote.stderr.on('data', (d) => { remoteLog += d })
  const alert = await until(async () => {
    assert.equal(remote.exitCode, null, `the remote pipeline ended: ${remoteLog.slice(-2000)}`)
    const r = await api(srv.base, admin, 'GET', `/api/v1/alerts?camera_id=${catCam}`)
    assert.equal(r.status, 200, r.text)
    return r.json.items[0]
  }, { timeoutMs: 60000, everyMs: 500, what: 'the animal alert from the remote pipeline' })
  assert.equal(alert.type, 'animal')
  const a = (await api(srv.base, admin, 'GET', `/api/v1/alerts/${alert.id}`)).json
  assert.equal(a.model, 'coco-ssdlite@1.0.6')
  const box = a.boxes.find((b) => b.label === 'cat')
  assert.ok(box, JSON.stringify(a.boxes))
  assert.ok(box.score >= 0.5)
  assert.ok(iou(box, catBox) >= 0.5, `box ${JSON.stringify(box)} against the pasted cat ${JSON.stringify(catBox)}`)
  assert.equal(a.snapshot_ids.length, 1)
  const jpeg = await api(srv.base, admin, 'GET', `/api/v1/files/${a.snapshot_ids[0]}`)
  assert.equal(jpeg.bytes.subarray(0, 3).toString('hex'), 'ffd8ff')
  // the camera outside the key's jurisdiction shows the same cat and is never analysed
  assert.equal((await api(srv.base, admin, 'GET', `/api/v1/alerts?camera_id=${farCam}`)).json.total, 0)
  assert.doesNotMatch(remoteLog, new RegExp(farCam))
  // the cooldown holds remotely too: one alert
  assert.equal((await api(srv.base, admin, 'GET', `/api/v1/alerts?camera_id=${catCam}`)).json.total, 1)
  // SIGTERM: a clean stop
  const code = await new Promise((resolve) => { remote.on('exit', (c) => resolve(c)); remote.kill('SIGTERM') })
  assert.equal(code, 0, remoteLog.slice(-2000))
  assert.equal((await fetch(srv.base + '/healthz')).status, 200)
})

test('remotely, an uploaded model assigned to a camera is fetched (file, class map, SHA-256) and raises its alert', async () => {
  // a dark frame with a white square on whole cells of the tiny model's grid (see vision.test.mjs)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-remote-square-'))
  const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x283240:s=640x360', '-vf', 'drawbox=x=160:y=100:w=160:h=160:color=white:t=fill', '-frames:v', '1', path.join(dir, '000.jpg')])
  assert.equal(r.status, 0)
  fs.copyFileSync(path.join(dir, '000.jpg'), path.join(dir, '001.jpg'))
  const sqCamera = await startCamera({ images: dir })
  try {
    const onnx = path.join(dir, 'sq.onnx')
    assert.equal(spawnSync('/usr/bin/python3', [path.join(REPO, 'tests', 'fixtures', 'vision', 'make_tiny_onnx.py'), onnx, '1', 'square']).status, 0)
    const mp = multipart([
      { name: 'model', filename: 'm.onnx', contentType: 'application/octet-stream', data: fs.readFileSync(onnx) },
      { name: 'classmap', filename: 'm.toml', contentType: 'application/toml', data: Buffer.from('name = "square"\n[input]\nwidth = 64\nheight = 64\n[[labels]]\nname = "hat_missing"\nalert_type = "no_hat"\n') },
    ])
    const m = await api(srv.base, admin, 'POST', '/api/v1/vision/models', mp.body, { 'content-type': mp.contentType })
    assert.equal(m.status, 201, m.text)
    // the routes the node uses: the file (with its digest) and the class map; merchants and strangers not
    const file = await api(srv.base, null, 'GET', `/api/v1/vision/models/${m.json.id}/file`, undefined, { 'x-api-key': key })
    assert.equal(file.status, 200)
    assert.equal(file.headers.get('x-content-sha256'), m.json.sha256)
    assert.equal(createHash('sha256').update(file.bytes).digest('hex'), m.json.sha256)
    assert.match((await api(srv.base, null, 'GET', `/api/v1/vision/models/${m.json.id}/classmap`, undefined, { 'x-api-key': key })).text, /hat_missing/)
    assert.equal((await api(srv.base, null, 'GET', `/api/v1/vision/models/${m.json.id}/file`)).status, 401)
    assert.equal((await api(srv.base, admin, 'GET', '/api/v1/vision/models/mdl_nope/file')).status, 404)
    const c = await api(srv.base, admin, 'POST', '/api/v1/cameras', { unit_id: (await api(srv.base, admin, 'GET', `/api/v1/cameras/${catCam}`)).json.unit_id, name: '专间', area: 'special_room', record: 'off', stream_url: sqCamera.url('/images') })
    assert.equal(c.status, 201, c.text)
    assert.equal((await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${c.json.id}/ai`, { models: [m.json.id] })).status, 200)
    remoteLog = ''
    remote = spawn(BIN, ['vision', '--server', srv.base, '--api-key', key, '--cache-dir', path.join(dir, 'models')], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
    remote.stdout.on('data', (d) => { remoteLog += d })
    remote.stderr.on('data', (d) => { remoteLog += d })
    const alert = await until(async () => {
      assert.equal(remote.exitCode, null, `the remote pipeline ended: ${remoteLog.slice(-2000)}`)
      return (await api(srv.base, admin, 'GET', `/api/v1/alerts?camera_id=${c.json.id}`)).json.items[0]
    }, { timeoutMs: 60000, everyMs: 500, what: 'the no_hat alert from the remote node' })
    assert.equal(alert.type, 'no_hat')
    assert.equal((await api(srv.base, admin, 'GET', `/api/v1/alerts/${alert.id}`)).json.model, 'square@1')
    // the node kept the file content-addressed
    assert.ok(fs.existsSync(path.join(dir, 'models', `${m.json.sha256}.onnx`)))
    const code = await new Promise((resolve) => { remote.on('exit', (x) => resolve(x)); remote.kill('SIGTERM') })
    assert.equal(code, 0)
  } finally {
    await sqCamera.stop()
  }
})
