// Feedback from reviews (src/http/vision_samples.cpp, docs/vision.md "Feedback"): reviewed alerts
// that carry a model and boxes come back as a YOLO data set (a zip read back here with Python's
// zipfile: images, labels, classes.txt, a manifest whose SHA-256s match the files), approved ones
// as positives, dismissed ones as hard negatives with their boxes marked false positives; the
// filters (model, label, from/to), the caller's scope, bad parameters; and per-model precision
// per day from the same reviews.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { startServer, api, login, multipart, uscc, idNumber, REPO, ADMIN } from './lib.mjs'

const EVAL = path.join(REPO, 'tests', 'fixtures', 'vision', 'eval')
const CAT_JPEG = fs.readFileSync(path.join(EVAL, 'images', '022.jpg'))  // 640 x 360
const WALL_JPEG = fs.readFileSync(path.join(EVAL, 'images', '002.jpg'))
let srv, admin, regA, merchant, tmp
const ids = {}

async function call(token, method, p, body) {
  return api(srv.base, token, method, p, body)
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-samples-'))
  srv = await startServer()
  admin = await login(srv.base, ADMIN.username, ADMIN.password)
  const jur = async (parent_id, level, code, name) => {
    const r = await call(admin, 'POST', '/api/v1/jurisdictions', { parent_id, level, code, name })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  const city = await jur(await jur(undefined, 'province', '320000', '江苏省'), 'city', '320600', '南通市')
  const distA = await jur(city, 'district', '320602', '崇川区')
  const distB = await jur(city, 'district', '320612', '通州区')
  const up = multipart([{ name: 'file', filename: 'l.jpg', contentType: 'image/jpeg', data: WALL_JPEG }])
  const file = await api(srv.base, admin, 'POST', '/api/v1/files', up.body, { 'content-type': up.contentType })
  const unit = async (n, jid) => {
    const u = await call(admin, 'POST', '/api/v1/units', { name: `食堂${n}`, jurisdiction_id: jid, store_type: 'school_canteen', licence_number: `JY1320602001234${n}`, uscc: uscc(n), licence_image_ids: [file.json.id] })
    assert.equal(u.status, 201, u.text)
    return u.json.id
  }
  const camera = async (unitId) => (await call(admin, 'POST', '/api/v1/cameras', { unit_id: unitId, name: '后厨', area: 'cooking' })).json.id
  ids.unitA = await unit(3, distA)
  ids.unitB = await unit(4, distB)
  ids.camA = await camera(ids.unitA)
  ids.camA2 = await camera(ids.unitA)
  ids.camB = await camera(ids.unitB)
  const user = async (body) => assert.equal((await call(admin, 'POST', '/api/v1/users', body)).status, 201)
  await user({ username: 'regA', password: 'Regulator@2026!x', display_name: '崇川', role: 'regulator', jurisdiction_id: distA })
  await user({ username: 'kitchenA', password: 'Kitchen@2026!x', display_name: '厨房', role: 'merchant', unit_ids: [ids.unitA] })
  regA = await login(srv.base, 'regA', 'Regulator@2026!x')
  merchant = await login(srv.base, 'kitchenA', 'Kitchen@2026!x')
  const k = await call(admin, 'POST', '/api/v1/api-keys', { name: 'vision-node', scope: { jurisdiction_id: city, ingest_only: true } })
  assert.equal(k.status, 201, k.text)
  ids.key = k.json.key
  // an uploaded model, so that model=<its id> means "square@1"
  const onnx = path.join(tmp, 'sq.onnx')
  assert.equal(spawnSync('/usr/bin/python3', [path.join(REPO, 'tests', 'fixtures', 'vision', 'make_tiny_onnx.py'), onnx, '1', 'square']).status, 0)
  const mp = multipart([
    { name: 'model', filename: 'm.onnx', contentType: 'application/octet-stream', data: fs.readFileSync(onnx) },
    { name: 'classmap', filename: 'm.toml', contentType: 'application/toml', data: Buffer.from('name = "square"\n[input]\nwidth = 64\nheight = 64\n[[labels]]\nname = "hat_missing"\nalert_type = "no_hat"\n') },
  ])
  const m = await api(srv.base, admin, 'POST', '/api/v1/vision/models', mp.body, { 'content-type': mp.contentType })
  assert.equal(m.status, 201, m.text)
  ids.model = m.json.id
})

after(async () => {
  await srv?.stop()
})

let n = 0
async function raise(camera, type, model, boxes, jpeg, at) {
  const body = { event_id: `vis-${++n}`, camera_id: camera, type, occurred_at: at, snapshot_base64: jpeg.toString('base64'), boxes }
  if (model) body.model = model
  const r = await api(srv.base, null, 'POST', '/api/v1/ingest/alerts', body, { 'x-api-key': ids.key })
  assert.ok(r.status === 200 || r.status === 201 || r.status === 202, r.text)
  return r.json.alert_id
}
async function approve(id) {
  const s = await call(merchant, 'POST', `/api/v1/alerts/${id}/rectifications`, { text: '已处理' })
  assert.equal(s.status, 200, s.text)
  const r = await call(admin, 'POST', `/api/v1/alerts/${id}/review`, { decision: 'approve', comment: '通过' })
  assert.equal(r.status, 200, r.text)
}
async function dismiss(id) {
  const r = await call(admin, 'POST', `/api/v1/alerts/${id}/dismiss`, { reason: '误报' })
  assert.equal(r.status, 200, r.text)
}

const CAT = { x: 200, y: 90, w: 160, h: 180, label: 'cat', score: 0.93 }
const PERSON = { x: 20, y: 30, w: 60, h: 200, label: 'person', score: 0.7 }

test('reviewed alerts are raised and reviewed (fixture)', async () => {
  ids.approved = await raise(ids.camA, 'animal', 'coco-ssdlite@1.0.6', [CAT, PERSON], CAT_JPEG, '2026-11-20T10:00:00+08:00')
  await approve(ids.approved)
  ids.dismissed = await raise(ids.camA, 'phone_use', 'coco-ssdlite@1.0.6', [{ x: 300, y: 100, w: 40, h: 60, label: 'cell phone', score: 0.55 }], WALL_JPEG, '2026-11-21T10:00:00+08:00')
  await dismiss(ids.dismissed)
  ids.otherDistrict = await raise(ids.camB, 'animal', 'coco-ssdlite@1.0.6', [CAT], CAT_JPEG, '2026-11-21T11:00:00+08:00')
  await dismiss(ids.otherDistrict)
  ids.custom = await raise(ids.camA2, 'no_hat', 'square@1', [{ x: 160, y: 100, w: 80, h: 80, label: 'hat_missing', score: 0.99 }], WALL_JPEG, '2026-11-22T09:00:00+08:00')
  await dismiss(ids.custom)
  ids.open = await raise(ids.camA, 'animal', 'coco-ssdlite@1.0.6', [CAT], CAT_JPEG, '2026-11-22T10:00:00+08:00')  // not reviewed
  ids.noModel = await raise(ids.camA2, 'smoking', null, [{ x: 1, y: 1, w: 10, h: 10, label: 'cigarette' }], WALL_JPEG, '2026-11-22T11:00:00+08:00')
  await dismiss(ids.noModel)
})

// Downloads the zip and reads it back with Python's zipfile: names, texts, SHA-256 of each entry
async function samples(token, query = '') {
  const r = await api(srv.base, token, 'GET', `/api/v1/vision/samples${query}`)
  if (r.status !== 200) return { status: r.status, json: r.json, text: r.text }
  assert.equal(r.headers.get('content-type'), 'application/zip')
  assert.match(r.headers.get('content-disposition'), /vision-samples\.zip/)
  const f = path.join(tmp, `s${++n}.zip`)
  fs.writeFileSync(f, r.bytes)
  const py = `
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
out = {}
for i in z.infolist():
    b = z.read(i)
    out[i.filename] = {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b), "text": b.decode() if i.filename.endswith(('.txt', '.json')) else None}
print(json.dumps(out))
`
  const p = spawnSync('/usr/bin/python3', ['-c', py, f], { encoding: 'utf8' })
  assert.equal(p.status, 0, p.stderr)
  const files = JSON.parse(p.stdout)
  return { status: 200, files, manifest: JSON.parse(files['manifest.json'].text) }
}

test('the data set: approved alerts are positives with YOLO labels, dismissed ones hard negatives; SHA-256 per file', async () => {
  const s = await samples(admin)
  assert.equal(s.status, 200, s.text)
  const { files, manifest } = s
  const verdicts = Object.fromEntries(manifest.items.map((i) => [i.alert_id, i.verdict]))
  assert.deepEqual(verdicts, { [ids.approved]: 'approved', [ids.dismissed]: 'dismissed', [ids.otherDistrict]: 'dismissed', [ids.custom]: 'dismissed' })
  assert.equal(manifest.positives, 1)
  assert.equal(manifest.hard_negatives, 3)
  assert.equal(manifest.truncated, false)
  // every file is in the manifest with its digest, and nothing else is in the zip
  assert.deepEqual(Object.keys(files).filter((f) => f !== 'manifest.json').sort(), Object.keys(manifest.files).sort())
  for (const [name, sha] of Object.entries(manifest.files)) assert.equal(files[name].sha256, sha, name)
  // the image is the alert's snapshot, byte for byte
  const approved = manifest.items.find((i) => i.alert_id === ids.approved)
  assert.equal(approved.image, `images/${ids.approved}.jpg`)
  assert.equal(files[approved.image].size, CAT_JPEG.length)
  assert.equal([approved.width, approved.height].join('x'), '640x360')
  // YOLO labels: class index of classes.txt, centre and size normalised
  const classes = files['classes.txt'].text.trim().split('\n')
  const lines = files[approved.labels].text.trim().split('\n').map((l) => l.split(' '))
  assert.equal(lines.length, 2)
  const cat = lines.find((l) => classes[Number(l[0])] === 'cat').slice(1).map(Number)
  assert.deepEqual(cat.map((v) => v.toFixed(4)), [(280 / 640).toFixed(4), (180 / 360).toFixed(4), (160 / 640).toFixed(4), (180 / 360).toFixed(4)])
  assert.ok(classes.includes('person'))
  // a dismissed alert: an empty label file, its boxes kept in the manifest as false positives
  const fp = manifest.items.find((i) => i.alert_id === ids.dismissed)
  assert.equal(files[fp.labels].text, '')
  assert.equal(fp.boxes.length, 1)
  assert.equal(fp.boxes[0].label, 'cell phone')
  assert.equal(fp.boxes[0].false_positive, true)
  assert.equal(approved.boxes.every((b) => b.false_positive === false), true)
})

test('filters: label, model, from/to; scope like alerts; merchants and bad parameters refused', async () => {
  const cats = await samples(admin, '?label=cat')
  assert.deepEqual(cats.manifest.items.map((i) => i.alert_id).sort(), [ids.approved, ids.otherDistrict].sort())
  assert.equal(cats.files['classes.txt'].text, 'cat\n')
  assert.equal(cats.files[`labels/${ids.approved}.txt`].text.trim().split('\n').length, 1, 'only the cat box')
  const custom = await samples(admin, `?model=${ids.model}`)
  assert.deepEqual(custom.manifest.items.map((i) => i.alert_id), [ids.custom])
  const coco = await samples(admin, '?model=coco-ssdlite')
  assert.equal(coco.manifest.items.length, 3)
  const window = await samples(admin, '?from=2026-11-21T00:00:00%2B08:00&to=2026-11-22T00:00:00%2B08:00')
  assert.deepEqual(window.manifest.items.map((i) => i.alert_id).sort(), [ids.dismissed, ids.otherDistrict].sort())
  // a district regulator sees its district's alerts only
  const mine = await samples(regA)
  assert.deepEqual(mine.manifest.items.map((i) => i.alert_id).sort(), [ids.approved, ids.dismissed, ids.custom].sort())
  // an empty set is still a valid zip
  const none = await samples(admin, '?label=unicorn')
  assert.equal(none.manifest.items.length, 0)
  assert.equal(none.files['classes.txt'].text, '')
  const bad = [
    ['?model=nope', 422, 'model'],
    ['?model=' + 'x'.repeat(300), 422, 'model'],
    ['?label=' + 'y'.repeat(65), 422, 'label'],
    ['?label=%01', 422, 'label'],
    ['?from=yesterday', 422, 'from'],
    ['?from=2026-11-22T00:00:00Z&to=2026-11-21T00:00:00Z', 422, 'from'],
  ]
  for (const [q, status, field] of bad) {
    const r = await api(srv.base, admin, 'GET', `/api/v1/vision/samples${q}`)
    assert.equal(r.status, status, `${q}: ${r.text}`)
    assert.equal(r.json.error.field, field, r.text)
  }
  assert.equal((await api(srv.base, merchant, 'GET', '/api/v1/vision/samples')).status, 403)
  assert.equal((await api(srv.base, null, 'GET', '/api/v1/vision/samples')).status, 401)
})

test('feedback: a model\'s precision per day from the reviews, scoped', async () => {
  const all = await call(admin, 'GET', '/api/v1/vision/models/coco-ssdlite/feedback')
  assert.equal(all.status, 200, all.text)
  assert.deepEqual(all.json.total, { approved: 1, dismissed: 2, precision: 1 / 3 })
  assert.deepEqual(all.json.days.map((d) => [d.day, d.approved, d.dismissed]), [['2026-11-20', 1, 0], ['2026-11-21', 0, 2]])
  assert.equal(all.json.days[0].precision, 1)
  const mine = await call(regA, 'GET', '/api/v1/vision/models/coco-ssdlite/feedback')
  assert.deepEqual(mine.json.total, { approved: 1, dismissed: 1, precision: 0.5 })
  const custom = await call(admin, 'GET', `/api/v1/vision/models/${ids.model}/feedback?from=2026-11-01`)
  assert.deepEqual(custom.json.total, { approved: 0, dismissed: 1, precision: 0 })
  const empty = await call(admin, 'GET', '/api/v1/vision/models/coco-ssdlite/feedback?from=2025-01-01&to=2025-02-01')
  assert.deepEqual(empty.json.total, { approved: 0, dismissed: 0, precision: null })
  assert.equal((await call(admin, 'GET', '/api/v1/vision/models/mdl_nope/feedback')).status, 404)
  assert.equal((await call(admin, 'GET', '/api/v1/vision/models/coco-ssdlite/feedback?to=never')).status, 422)
  assert.equal((await call(merchant, 'GET', '/api/v1/vision/models/coco-ssdlite/feedback')).status, 403)
  assert.equal((await fetch(srv.base + '/healthz')).status, 200)
})

test('evaluator figures: posted per model, shown with the model; bad reports refused naming the field', async () => {
  const report = { classes: { cat: { precision: 1, recall: 1, ap50: 1, tp: 6, fp: 0, fn: 0 }, cup: { precision: 1, recall: 0.571, ap50: 0.837, tp: 4, fp: 0, fn: 3 } } }
  const ok = await call(admin, 'POST', '/api/v1/vision/models/coco-ssdlite/evaluations', { dataset: 'tests/fixtures/vision/eval', report })
  assert.equal(ok.status, 201, ok.text)
  assert.deepEqual(ok.json.classes.cup, report.classes.cup)
  const one = await call(regA, 'GET', '/api/v1/vision/models/coco-ssdlite')
  assert.equal(one.json.evaluation.dataset, 'tests/fixtures/vision/eval')
  assert.equal(one.json.evaluation.classes.cat.tp, 6)
  const list = (await call(admin, 'GET', '/api/v1/vision/models')).json.items
  assert.equal(list.find((m) => m.id === ids.model).evaluation, null)
  const custom = await call(admin, 'POST', `/api/v1/vision/models/${ids.model}/evaluations`, { dataset: 'squares', report: { classes: { hat_missing: { precision: 0.5, recall: 1, ap50: 0.5, tp: 1, fp: 1, fn: 0 } } } })
  assert.equal(custom.status, 201, custom.text)
  assert.equal((await call(admin, 'GET', '/api/v1/vision/models')).json.items.find((m) => m.id === ids.model).evaluation.classes.hat_missing.fp, 1)
  const bad = [
    [{ report }, 'dataset'],
    [{ dataset: 'x' }, 'report'],
    [{ dataset: 'x', report: { classes: {} } }, 'report.classes'],
    [{ dataset: 'x', report: { classes: { cat: { ...report.classes.cat, precision: 1.5 } } } }, 'report.classes.cat.precision'],
    [{ dataset: 'x', report: { classes: { cat: { ...report.classes.cat, tp: -1 } } } }, 'report.classes.cat.tp'],
    [{ dataset: 'x', report: { classes: { cat: { ...report.classes.cat, fn: 0.5 } } } }, 'report.classes.cat.fn'],
    [{ dataset: 'x', report, evil: 1 }, 'evil'],
  ]
  for (const [body, field] of bad) {
    const r = await call(admin, 'POST', '/api/v1/vision/models/coco-ssdlite/evaluations', body)
    assert.equal(r.status, 422, r.text)
    assert.equal(r.json.error.field, field, r.text)
  }
  assert.equal((await call(admin, 'POST', '/api/v1/vision/models/mdl_nope/evaluations', { dataset: 'x', report })).status, 404)
  assert.equal((await call(regA, 'POST', '/api/v1/vision/models/coco-ssdlite/evaluations', { dataset: 'x', report })).status, 403)
  const big = await api(srv.base, admin, 'POST', '/api/v1/vision/models/coco-ssdlite/evaluations', { dataset: 'x', report, pad: 'p'.repeat(300 * 1024) })
  assert.equal(big.status, 413, big.text)
})

test('a unit\'s staff roster: read, replaced, checked field by field, scoped', async () => {
  let k = 10
  const staff = async (unit_id, name) => {
    const r = await call(admin, 'POST', '/api/v1/staff', { unit_id, name, id_number: idNumber(++k), phone: '13812345678' })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  const a1 = await staff(ids.unitA, '张三')
  const a2 = await staff(ids.unitA, '李四')
  const b1 = await staff(ids.unitB, '王五')
  const empty = await call(merchant, 'GET', `/api/v1/units/${ids.unitA}/roster`)
  assert.equal(empty.status, 200, empty.text)
  assert.deepEqual(empty.json.shifts, [])
  const shifts = [
    { days: [1, 2, 3, 4, 5], from: '06:00', to: '14:00', staff_ids: [a1, a2] },
    { days: [6, 7], from: '22:00', to: '02:00', staff_ids: [a2] },
  ]
  const put = await call(merchant, 'PUT', `/api/v1/units/${ids.unitA}/roster`, { shifts })
  assert.equal(put.status, 200, put.text)
  assert.deepEqual(put.json.shifts, shifts)
  assert.deepEqual((await call(regA, 'GET', `/api/v1/units/${ids.unitA}/roster`)).json.shifts, shifts)
  const bad = [
    [{ shifts: [{ ...shifts[0], staff_ids: [b1] }] }, 'shifts[0].staff_ids', 'another unit\'s staff'],
    [{ shifts: [{ ...shifts[0], days: [0] }] }, 'shifts[0].days', 'day 0'],
    [{ shifts: [{ ...shifts[0], from: '6am' }] }, 'shifts[0].from', 'a bad time'],
    [{ shifts: [{ ...shifts[0], evil: true }] }, 'shifts[0].evil', 'an unknown field'],
    [{ shifts: 'all day' }, 'shifts', 'not an array'],
    [{ shifts: Array(51).fill(shifts[0]) }, 'shifts', 'too many shifts'],
    [{}, 'shifts', 'missing'],
    [{ shifts, more: 1 }, 'more', 'an unknown top field'],
  ]
  for (const [body, field, what] of bad) {
    const r = await call(admin, 'PUT', `/api/v1/units/${ids.unitA}/roster`, body)
    assert.equal(r.status, 422, `${what}: ${r.text}`)
    assert.equal(r.json.error.field, field, `${what}: ${r.text}`)
  }
  // nothing was lost by the refusals
  assert.deepEqual((await call(admin, 'GET', `/api/v1/units/${ids.unitA}/roster`)).json.shifts, shifts)
  // out of scope: 404 (another district's regulator, another unit's merchant), not found: 404
  assert.equal((await call(regA, 'GET', `/api/v1/units/${ids.unitB}/roster`)).status, 404)
  assert.equal((await call(merchant, 'PUT', `/api/v1/units/${ids.unitB}/roster`, { shifts: [] })).status, 404)
  assert.equal((await call(admin, 'GET', '/api/v1/units/unit_nope/roster')).status, 404)
  assert.equal((await call(null, 'GET', `/api/v1/units/${ids.unitA}/roster`)).status, 401)
  const big = await api(srv.base, admin, 'PUT', `/api/v1/units/${ids.unitA}/roster`, { shifts: [], pad: 'x'.repeat(300 * 1024) })
  assert.equal(big.status, 413)
  const audit = await call(admin, 'GET', '/api/v1/audit?action=unit.roster.update')
  assert.equal(audit.status, 200, audit.text)
  assert.ok(audit.json.items.some((e) => e.action === 'unit.roster.update'), audit.text.slice(0, 300))
})
