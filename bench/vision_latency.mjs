// Frame -> stored alert latency of the algorithm server, through everything real: an RTSP
// camera (scripts/rtsp_camera.py --images) showing a cat every few seconds, the media core, the
// pipeline (keyframes first, motion gate, detector, rules), the ingest group commit. The animal
// rule is set to fire on every frame (k = n = 1, no cooldown), so every analysed cat frame is a
// capture; the server's histogram mingchu_vision_alert_latency_seconds (capture wall time of the
// frame -> the ingest commit's completion) gives p50 and p99 as bucket bounds.
//
//   node bench/vision_latency.mjs [--seconds 60]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startServer, api, login, multipart, uscc, REPO, ADMIN } from '../tests/api/lib.mjs'
import { startCamera } from '../tests/api/video_lib.mjs'

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 60
const EVAL = path.join(REPO, 'tests', 'fixtures', 'vision', 'eval')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-vision-bench-'))
const dir = path.join(tmp, 'seq')
fs.mkdirSync(dir)
// 2 s of the empty wall, 3 s of the cat
;['002', '002', '022', '022', '022'].forEach((f, i) =>
  fs.copyFileSync(path.join(EVAL, 'images', `${f}.jpg`), path.join(dir, String(i).padStart(3, '0') + '.jpg')))
const cam = await startCamera({ images: dir })
const cfg = path.join(tmp, 'vision.toml')
fs.writeFileSync(cfg, '[vision]\nenabled = true\n')
const srv = await startServer({ args: ['--config', cfg] })
try {
  const admin = await login(srv.base, ADMIN.username, ADMIN.password)
  const call = (m, p, b) => api(srv.base, admin, m, p, b)
  const jur = async (parent_id, level, code, name) => (await call('POST', '/api/v1/jurisdictions', { parent_id, level, code, name })).json.id
  const dist = await jur(await jur(await jur(undefined, 'province', '320000', '江苏省'), 'city', '320600', '南通市'), 'district', '320602', '崇川区')
  const up = multipart([{ name: 'file', filename: 'l.jpg', contentType: 'image/jpeg', data: fs.readFileSync(path.join(EVAL, 'images', '002.jpg')) }])
  const file = await api(srv.base, admin, 'POST', '/api/v1/files', up.body, { 'content-type': up.contentType })
  const unit = await call('POST', '/api/v1/units', { name: '基准食堂', jurisdiction_id: dist, store_type: 'school_canteen', licence_number: 'JY13206020012345', uscc: uscc(3), licence_image_ids: [file.json.id] })
  const c = await call('POST', '/api/v1/cameras', { unit_id: unit.json.id, name: '后厨', area: 'cooking', stream_url: cam.url('/images') })
  const p = await call('PATCH', `/api/v1/cameras/${c.json.id}/ai`, { types: { animal: { k: 1, n: 1, cooldown_s: 0 } } })
  if (p.status !== 200) throw new Error(p.text)
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const m = await fetch(srv.base + '/metrics').then((r) => r.text())
  const buckets = [...m.matchAll(/^mingchu_vision_alert_latency_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)].map((x) => [x[1], Number(x[2])])
  const total = Number((m.match(/^mingchu_vision_alert_latency_seconds_count (\d+)/m) || [])[1] || 0)
  const q = (f) => (buckets.find(([, n]) => n >= f * total) || ['?'])[0]
  const st = (await call('GET', '/api/v1/vision/status')).json
  console.log(`${total} stored captures in ${seconds} s (frames ${st.frames}, detector ran on ${st.detections}, motion-skipped ${st.motion_skipped})`)
  console.log(`frame -> stored alert latency: p50 <= ${q(0.5)} s, p99 <= ${q(0.99)} s (histogram bucket bounds)`)
  const det = m.match(/^mingchu_vision_detect_seconds_sum ([\d.e+-]+)/m)
  const detN = m.match(/^mingchu_vision_detect_seconds_count (\d+)/m)
  if (det && detN) console.log(`mean detector time in the server: ${(1000 * Number(det[1]) / Number(detN[1])).toFixed(1)} ms`)
} finally {
  await srv.stop()
  await cam.stop()
}
