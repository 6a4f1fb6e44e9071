// The media core against real RTSP cameras (scripts/rtsp_camera.py, GStreamer from Debian):
// live HLS and HTTP-FLV checked with ffprobe, H.265 transcoded for browsers, snapshots,
// continuous recording with playback and clips, the recordings index across a SIGKILL, evidence
// clips pinned to alerts, camera offline/online through the alert path, and bad input everywhere.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { startServer, api, login } from './lib.mjs'
import { DEMO, rfc3339, eventId, ingest } from './alerts_lib.mjs'
import { startCamera, probe, decodeErrors, readStream, until, sm3 } from './video_lib.mjs'

let cam, srv, admin, merchant, district, other, unitId, unitToken, recCam, cfgFile

const VIDEO_TOML = `
[video]
file_seconds = 3
clip_before_seconds = 2
clip_after_seconds = 3
idle_stop_seconds = 5
max_playback_hours = 2
max_clip_minutes = 5
open_timeout_ms = 6000
`

before(async () => {
  cam = await startCamera()
  cfgFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-video-cfg-')), 'video.toml')
  fs.writeFileSync(cfgFile, VIDEO_TOML)
  srv = await startServer({
    demo: true,
    createAdmin: false,
    args: ['--config', cfgFile],
    env: { MINGCHU_DEMO_RTSP: `rtsp://127.0.0.1:${cam.port}` },
  })
  admin = await login(srv.base, 'admin', 'Platform@2026!')
  merchant = await login(srv.base, DEMO.merchant.username, DEMO.merchant.password)
  district = await login(srv.base, DEMO.district.username, DEMO.district.password)
  other = await login(srv.base, DEMO.otherDistrict.username, DEMO.otherDistrict.password)
  unitId = (await api(srv.base, merchant, 'GET', '/api/v1/me')).json.unit_ids[0]
  unitToken = (await api(srv.base, merchant, 'GET', `/api/v1/units/${unitId}`)).json.disclosure_token
  const cams = (await api(srv.base, admin, 'GET', `/api/v1/cameras?unit_id=${unitId}&page_size=50`)).json.items
  recCam = cams.find((c) => c.record === 'continuous')
  assert.ok(recCam, 'the demo merchant has a recording camera')
})

after(async () => {
  await srv?.stop()
  await cam?.stop()
})

async function newCamera(token, body) {
  return api(srv.base, token, 'POST', '/api/v1/cameras', { unit_id: unitId, name: '测试摄像头', area: 'cooking', ...body })
}

test('camera stream fields: only rtsp URLs without shell metacharacters, record modes, retention', async () => {
  const ok = await newCamera(admin, {
    stream_url: `rtsp://admin:s3cret@127.0.0.1:${cam.port}/h264`,
    sub_stream_url: `rtsp://127.0.0.1:${cam.port}/h264-sd`,
    rtsp_transport: 'udp',
    record: 'off',
    retention_days: 30,
  })
  assert.equal(ok.status, 201, ok.text)
  assert.equal(ok.json.record, 'off')
  assert.equal(ok.json.retention_days, 30)
  assert.equal(ok.json.rtsp_transport, 'udp')
  assert.equal(ok.json.video.state, 'idle')
  // the merchant reads the camera with the credentials masked
  const seen = await api(srv.base, merchant, 'GET', `/api/v1/cameras/${ok.json.id}`)
  assert.equal(seen.status, 200)
  assert.equal(seen.json.stream_url, `rtsp://admin:***@127.0.0.1:${cam.port}/h264`)
  for (const [body, field] of [
    [{ stream_url: 'file:///etc/passwd' }, 'stream_url'],
    [{ stream_url: 'http://127.0.0.1/x.m3u8' }, 'stream_url'],
    [{ stream_url: 'rtsp://127.0.0.1/a;rm -rf /' }, 'stream_url'],
    [{ stream_url: 'rtsp://127.0.0.1/$(id)' }, 'stream_url'],
    [{ stream_url: 'rtsp://127.0.0.1/`id`' }, 'stream_url'],
    [{ stream_url: 'rtsp://127.0.0.1/a|b' }, 'stream_url'],
    [{ stream_url: 'rtsp:///no-host' }, 'stream_url'],
    [{ stream_url: 'rtsp://127.0.0.1/' + 'a'.repeat(600) }, 'stream_url'],
    [{ sub_stream_url: 'pipe:0' }, 'sub_stream_url'],
    [{ record: 'always' }, 'record'],
    [{ retention_days: 0 }, 'retention_days'],
    [{ retention_days: 99999 }, 'retention_days'],
    [{ rtsp_transport: 'http' }, 'rtsp_transport'],
    [{ video: { state: 'live' } }, 'video'],
  ]) {
    const r = await newCamera(admin, body)
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`)
    assert.equal(r.json.error.field, field, r.text)
  }
})

test('live: HLS and HTTP-FLV of the main stream play as H.264 640x360; SD comes from the sub stream', async () => {
  const t0 = Date.now()
  const r = await api(srv.base, merchant, 'POST', `/api/v1/cameras/${recCam.id}/live`, { quality: 'hd' })
  assert.equal(r.status, 200, r.text)
  assert.match(r.json.hls_url, /^\/media\/live\/[0-9a-f]+\.[0-9a-f]{32}\/index\.m3u8$/)
  assert.equal(r.json.codec, 'h264')
  assert.equal(r.json.transcoded, false)
  const flv = await readStream(srv.base + r.json.flv_url, { ms: 2500 })
  assert.equal(flv.status, 200)
  assert.equal(flv.headers.get('content-type'), 'video/x-flv')
  assert.equal(flv.bytes.subarray(0, 3).toString(), 'FLV')
  const pf = probe(flv.bytes, 'flv')
  assert.equal(pf.streams[0].codec_name, 'h264')
  assert.equal(pf.streams[0].width, 640)
  assert.ok(Number(pf.streams[0].nb_read_frames) >= 25, `frames in 2.5 s of FLV: ${pf.streams[0].nb_read_frames}`)
  console.log(`# live: POST → first FLV byte ${Date.now() - t0} ms (first byte after GET ${flv.firstByteMs} ms)`)

  const playlist = await until(async () => {
    const p = await api(srv.base, null, 'GET', r.json.hls_url)
    return p.status === 200 && p.text.includes('.ts') ? p : null
  }, { what: 'a live playlist with a segment' })
  assert.equal(playlist.headers.get('content-type'), 'application/vnd.apple.mpegurl')
  assert.match(playlist.text, /#EXT-X-TARGETDURATION:[12]\n/)
  const segName = playlist.text.trim().split('\n').filter((l) => l.endsWith('.ts')).pop()
  const seg = await api(srv.base, null, 'GET', r.json.hls_url.replace('index.m3u8', segName))
  assert.equal(seg.status, 200)
  assert.equal(seg.bytes[0], 0x47, 'an MPEG-TS segment')
  const ps = probe(seg.bytes)
  assert.equal(ps.streams[0].codec_name, 'h264')
  assert.ok(Number(ps.format.duration) <= 2.1, `segment of ${ps.format.duration} s`)
  assert.equal(decodeErrors(seg.bytes), '')

  const sd = await api(srv.base, merchant, 'POST', `/api/v1/cameras/${recCam.id}/live`, { quality: 'sd' })
  assert.equal(sd.status, 200, sd.text)
  const sdFlv = await readStream(srv.base + sd.json.flv_url, { ms: 1500 })
  assert.equal(probe(sdFlv.bytes, 'flv').streams[0].width, 320)
})

test('H.265 cameras are transcoded to H.264 for browsers', async () => {
  const c = await newCamera(admin, { stream_url: cam.url('/h265'), record: 'off' })
  assert.equal(c.status, 201, c.text)
  const r = await api(srv.base, admin, 'POST', `/api/v1/cameras/${c.json.id}/live`, { quality: 'hd' })
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.transcoded, true)
  assert.equal(r.json.codec, 'h264')
  const flv = await readStream(srv.base + r.json.flv_url, { ms: 2500 })
  const p = probe(flv.bytes, 'flv')
  assert.equal(p.streams[0].codec_name, 'h264')
  assert.ok(Number(p.streams[0].nb_read_frames) >= 10)
  const st = await api(srv.base, admin, 'GET', '/api/v1/video/status')
  assert.equal(st.status, 200)
  const s = st.json.streams.find((x) => x.camera_id === c.json.id)
  assert.equal(s.codec, 'hevc')
  assert.equal(s.transcoding, true)
})

test('snapshots are fresh JPEG frames', async () => {
  const a = await api(srv.base, merchant, 'GET', `/api/v1/cameras/${recCam.id}/snapshot.jpg`)
  assert.equal(a.status, 200, a.text)
  assert.equal(a.headers.get('content-type'), 'image/jpeg')
  assert.deepEqual([...a.bytes.subarray(0, 3)], [0xff, 0xd8, 0xff])
  const pa = probe(a.bytes, 'jpg')
  assert.ok(pa.streams[0].width >= 320)
  await new Promise((r) => setTimeout(r, 1500))
  const b = await api(srv.base, merchant, 'GET', `/api/v1/cameras/${recCam.id}/snapshot.jpg`)
  assert.equal(b.status, 200)
  assert.ok(!a.bytes.equals(b.bytes), 'the picture moves: two snapshots 1.5 s apart differ')
})

test('scope: other districts, other units and the public see nothing they should not', async () => {
  for (const [who, token] of [['other district', other]]) {
    assert.equal((await api(srv.base, token, 'POST', `/api/v1/cameras/${recCam.id}/live`, {})).status, 404, who)
    assert.equal((await api(srv.base, token, 'GET', `/api/v1/cameras/${recCam.id}/snapshot.jpg`)).status, 404, who)
    const from = rfc3339(Date.now() - 60000)
    const to = rfc3339(Date.now())
    assert.equal(
      (await api(srv.base, token, 'GET', `/api/v1/cameras/${recCam.id}/recordings?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)).status,
      404,
    )
    assert.equal((await api(srv.base, token, 'POST', `/api/v1/cameras/${recCam.id}/playback`, { from, to })).status, 404)
    assert.equal(
      (await api(srv.base, token, 'GET', `/api/v1/cameras/${recCam.id}/clip.mp4?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)).status,
      404,
    )
  }
  assert.equal((await api(srv.base, district, 'POST', `/api/v1/cameras/${recCam.id}/live`, {})).status, 200)
  // another unit's camera for the merchant
  const others = (await api(srv.base, other, 'GET', '/api/v1/cameras?page_size=1')).json.items
  const r = await api(srv.base, merchant, 'POST', `/api/v1/cameras/${others[0].id}/live`, {})
  assert.equal(r.status, 404, r.text)
  // the status of the node is for admins
  assert.equal((await api(srv.base, district, 'GET', '/api/v1/video/status')).status, 403)
  assert.equal((await api(srv.base, null, 'POST', `/api/v1/cameras/${recCam.id}/live`, {})).status, 401)
})

test('the public page plays public cameras only', async () => {
  const cams = (await api(srv.base, admin, 'GET', `/api/v1/cameras?unit_id=${unitId}&page_size=50`)).json.items
  const pub = cams.find((c) => c.public)
  const priv = cams.find((c) => !c.public)
  assert.ok(pub, 'a public camera')
  const r = await api(srv.base, null, 'GET', `/api/v1/public/units/${unitToken}/cameras/${pub.id}/live`)
  assert.equal(r.status, 200, r.text)
  const flv = await readStream(srv.base + r.json.flv_url, { ms: 1500 })
  assert.equal(probe(flv.bytes, 'flv').streams[0].codec_name, 'h264')
  if (priv) {
    const p = await api(srv.base, null, 'GET', `/api/v1/public/units/${unitToken}/cameras/${priv.id}/live`)
    assert.equal(p.status, 404, p.text)
  }
  const otherCam = (await api(srv.base, other, 'GET', '/api/v1/cameras?page_size=1')).json.items[0]
  assert.equal((await api(srv.base, null, 'GET', `/api/v1/public/units/${unitToken}/cameras/${otherCam.id}/live`)).status, 404)
  assert.equal((await api(srv.base, null, 'GET', `/api/v1/public/units/nope/cameras/${pub.id}/live`)).status, 404)
})

test('media tokens: forged, truncated or foreign tokens are 403; bad segment names 404', async () => {
  const r = await api(srv.base, merchant, 'POST', `/api/v1/cameras/${recCam.id}/live`, {})
  assert.equal(r.status, 200)
  const [, tok] = r.json.hls_url.match(/\/media\/live\/([^/]+)\//)
  const flip = tok.slice(0, -1) + (tok.endsWith('0') ? '1' : '0')
  // a token for this camera re-signed for another one cannot be made: change the camera bytes
  const body = tok.split('.')[0]
  const otherBody = body.replace(/^6c697665/, '766f64')
  for (const t of [flip, tok.slice(0, 20), 'x', otherBody + '.' + tok.split('.')[1], '.'.repeat(10), 'a'.repeat(2000)]) {
    const p = await api(srv.base, null, 'GET', `/media/live/${t}/index.m3u8`)
    assert.equal(p.status, 403, `${t.slice(0, 30)}: ${p.text}`)
    assert.equal(p.json.error.code, 'invalid_media_token')
  }
  for (const s of ['x.ts', '99999999999999999999999.ts', '../../etc/passwd', '1.mp4']) {
    const p = await api(srv.base, null, 'GET', `/media/live/${tok}/${encodeURIComponent(s)}`)
    assert.equal(p.status, 404, `${s}: ${p.text}`)
  }
  assert.equal((await api(srv.base, null, 'GET', `/media/vod/${tok}/index.m3u8`)).status, 403, 'a live token is no playback token')
  assert.equal((await api(srv.base, null, 'GET', `/media/clips/${tok}.mp4`)).status, 403)
})

test('bad input on live, playback, recordings and clips: clear 4xx', async () => {
  const base = `/api/v1/cameras/${recCam.id}`
  let r = await api(srv.base, admin, 'POST', `${base}/live`, { quality: 'uhd' })
  assert.equal(r.status, 422)
  assert.equal(r.json.error.field, 'quality')
  r = await api(srv.base, admin, 'POST', `${base}/live`, '{"quality":', {})
  assert.equal(r.status, 400)
  const now = Date.now()
  r = await api(srv.base, admin, 'POST', `${base}/playback`, { from: rfc3339(now), to: rfc3339(now - 60000) })
  assert.equal(r.status, 422, r.text)
  assert.equal(r.json.error.code, 'invalid_range')
  r = await api(srv.base, admin, 'POST', `${base}/playback`, { from: rfc3339(now - 3 * 3600e3), to: rfc3339(now) })
  assert.equal(r.status, 422, r.text)
  assert.equal(r.json.error.code, 'range_too_long')
  r = await api(srv.base, admin, 'POST', `${base}/playback`, { from: 'yesterday', to: rfc3339(now) })
  assert.equal(r.status, 422)
  assert.equal(r.json.error.field, 'from')
  r = await api(srv.base, admin, 'GET', `${base}/recordings?from=${encodeURIComponent(rfc3339(now))}`)
  assert.equal(r.status, 422)
  assert.equal(r.json.error.field, 'to')
  r = await api(srv.base, admin, 'GET', `${base}/clip.mp4?from=${encodeURIComponent(rfc3339(now - 600e3))}&to=${encodeURIComponent(rfc3339(now))}`)
  assert.equal(r.status, 422)
  assert.equal(r.json.error.code, 'range_too_long')
  r = await api(srv.base, admin, 'POST', `/api/v1/cameras/cam_doesnotexist/live`, {})
  assert.equal(r.status, 404)
  // a camera without a stream URL
  const c = await newCamera(admin, {})
  r = await api(srv.base, admin, 'POST', `/api/v1/cameras/${c.json.id}/live`, {})
  assert.equal(r.status, 422, r.text)
  assert.equal(r.json.error.code, 'no_stream')
})

test('unreachable and non-RTSP sources answer 503 camera_unreachable, and the server stays up', async () => {
  const closed = await newCamera(admin, { stream_url: 'rtsp://127.0.0.1:9/none', record: 'off' })
  // an HTTP server where an RTSP camera should be: the platform itself
  const http = await newCamera(admin, { stream_url: `rtsp://127.0.0.1:${srv.port}/api`, record: 'off' })
  for (const c of [closed, http]) {
    const t0 = Date.now()
    const r = await api(srv.base, admin, 'POST', `/api/v1/cameras/${c.json.id}/live`, {})
    assert.equal(r.status, 503, r.text)
    assert.equal(r.json.error.code, 'camera_unreachable')
    assert.ok(Date.now() - t0 < 15000)
    const s = await api(srv.base, admin, 'GET', `/api/v1/cameras/${c.json.id}/snapshot.jpg`)
    assert.equal(s.status, 503, s.text)
  }
  assert.equal((await api(srv.base, null, 'GET', '/healthz')).status, 200)
})

test('continuous recording: spans and gaps, seekable playback, MP4 clips with their SM3', async () => {
  const from = Date.now() - 5 * 60e3
  const q = () => `from=${encodeURIComponent(rfc3339(from))}&to=${encodeURIComponent(rfc3339(Date.now()))}`
  const rec = await until(async () => {
    const r = await api(srv.base, merchant, 'GET', `/api/v1/cameras/${recCam.id}/recordings?${q()}`)
    assert.equal(r.status, 200, r.text)
    return r.json.spans.length && Date.parse(r.json.spans.at(-1).end) - Date.parse(r.json.spans[0].start) >= 6000 ? r.json : null
  }, { timeoutMs: 30000, what: '6 s of recording' })
  assert.ok(rec.gaps.length >= 1, 'the time before the server started is a gap')
  assert.ok(rec.spans[0].bytes > 10000)

  const pb = await api(srv.base, merchant, 'POST', `/api/v1/cameras/${recCam.id}/playback`, {
    from: rfc3339(from),
    to: rfc3339(Date.now()),
  })
  assert.equal(pb.status, 200, pb.text)
  const list = await api(srv.base, null, 'GET', pb.json.hls_url)
  assert.equal(list.status, 200)
  assert.match(list.text, /#EXT-X-PLAYLIST-TYPE:VOD/)
  assert.match(list.text, /#EXT-X-ENDLIST/)
  const segs = list.text.split('\n').filter((l) => l.endsWith('.ts'))
  assert.ok(segs.length >= 2)
  const seg = await api(srv.base, null, 'GET', pb.json.hls_url.replace('index.m3u8', segs[1]))
  assert.equal(seg.status, 200)
  assert.equal(probe(seg.bytes).streams[0].codec_name, 'h264')
  assert.equal(decodeErrors(seg.bytes), '')
  // a recording of another camera through this token: 404
  const wrong = await api(srv.base, null, 'GET', pb.json.hls_url.replace('index.m3u8', 'rec_0000000000000000.ts'))
  assert.equal(wrong.status, 404)

  const cf = Date.parse(rec.spans[0].start) + 1000
  const clip = await api(srv.base, merchant, 'GET',
    `/api/v1/cameras/${recCam.id}/clip.mp4?from=${encodeURIComponent(rfc3339(cf))}&to=${encodeURIComponent(rfc3339(cf + 4000))}`)
  assert.equal(clip.status, 200, clip.text)
  assert.equal(clip.headers.get('content-type'), 'video/mp4')
  assert.equal(clip.headers.get('x-content-sm3'), await sm3(clip.bytes))
  const p = probe(clip.bytes, 'mp4')
  assert.equal(p.streams[0].codec_name, 'h264')
  const d = Number(p.format.duration)
  assert.ok(d >= 3.5 && d <= 6.5, `clip of ${d} s for a 4 s range (from the keyframe before)`)
  assert.equal(decodeErrors(clip.bytes, 'mp4'), '')
})

test('an alert on a camera pins an evidence clip around it, with its digest in the audit log', async () => {
  const key = (await api(srv.base, admin, 'POST', '/api/v1/api-keys', { name: 'video box', scope: { unit_id: unitId, ingest_only: true } })).json.key
  // wait until the recording reaches back before the capture
  await new Promise((r) => setTimeout(r, 3000))
  const occurred = Date.now() - 1000
  const ev = await ingest(srv.base, key, {
    event_id: eventId('vid'),
    camera_id: recCam.id,
    type: 'no_mask',
    occurred_at: rfc3339(occurred),
  })
  assert.equal(ev.status, 202, ev.text)
  const alertId = ev.json.alert_id
  const clip = await until(async () => {
    const a = await api(srv.base, merchant, 'GET', `/api/v1/alerts/${alertId}`)
    assert.equal(a.status, 200, a.text)
    const c = a.json.clips?.[0]
    return c && c.state !== 'pending' ? c : null
  }, { timeoutMs: 40000, what: 'the evidence clip' })
  assert.equal(clip.state, 'ready', JSON.stringify(clip))
  assert.equal(clip.camera_id, recCam.id)
  assert.equal(Date.parse(clip.from), occurred - 2000)
  assert.equal(Date.parse(clip.to), occurred + 3000)
  const mp4 = await api(srv.base, null, 'GET', clip.url)
  assert.equal(mp4.status, 200)
  assert.equal(await sm3(mp4.bytes), clip.sm3)
  assert.equal(mp4.headers.get('x-content-sm3'), clip.sm3)
  const d = Number(probe(mp4.bytes, 'mp4').format.duration)
  assert.ok(d >= 4 && d <= 8, `evidence of ${d} s for 2 s before and 3 s after`)
  const audit = await api(srv.base, admin, 'GET', `/api/v1/audit?action=video.clip&page_size=50`)
  assert.equal(audit.status, 200, audit.text)
  assert.ok(audit.text.includes(clip.sm3), 'the clip digest is in the audit trail')
  // another district does not see the alert, so not its clips either
  assert.equal((await api(srv.base, other, 'GET', `/api/v1/alerts/${alertId}`)).status, 404)
})

test('metrics show streams, bytes and recordings', async () => {
  const m = await api(srv.base, admin, 'GET', '/metrics')
  for (const name of ['mingchu_video_streams', 'mingchu_video_bytes_in_total', 'mingchu_video_bytes_out_total',
    'mingchu_video_recording_bytes_total', 'mingchu_video_stream_start_seconds_bucket', 'mingchu_video_viewers',
    'mingchu_video_disk_free_bytes']) {
    assert.ok(m.text.includes(name), name)
  }
  const bytesIn = Number(m.text.match(/^mingchu_video_bytes_in_total (\d+)/m)?.[1] ?? 0)
  assert.ok(bytesIn > 100000, `bytes in: ${bytesIn}`)
  const st = await api(srv.base, admin, 'GET', '/api/v1/video/status')
  assert.ok(st.json.recording_bytes > 0)
  assert.ok(st.json.disk_free_bytes > 0)
  const c = await api(srv.base, admin, 'GET', `/api/v1/cameras/${recCam.id}`)
  assert.equal(c.json.video.state, 'live')
  assert.equal(c.json.video.codec, 'h264')
  assert.equal(c.json.video.width, 640)
  assert.ok(c.json.video.fps > 15 && c.json.video.fps < 35, `fps ${c.json.video.fps}`)
  assert.ok(c.json.video.bitrate_kbps > 50)
})

test('SIGKILL while recording: after the restart the index points only at whole, matching files', async () => {
  const camera = await startCamera()
  const s = await startServer({ args: ['--config', cfgFile] })
  try {
    const a = await login(s.base, 'admin', 'Mingchu@2026!x')
    const j = (await api(s.base, a, 'POST', '/api/v1/jurisdictions', { level: 'province', code: '320000', name: '江苏省' })).json
    const u = await api(s.base, a, 'POST', '/api/v1/units', {
      name: '录像测试食堂', store_type: 'school_canteen', jurisdiction_id: j.id, licence_number: 'JY13206020012345',
    })
    assert.equal(u.status, 201, u.text)
    const c = await api(s.base, a, 'POST', '/api/v1/cameras', {
      unit_id: u.json.id, name: '后厨', area: 'cooking', stream_url: camera.url('/h264'), record: 'continuous',
    })
    assert.equal(c.status, 201, c.text)
    const dbFile = path.join(s.dataDir, 'mingchu.db')
    const rows = () => {
      const r = spawnSync('sqlite3', [dbFile, 'SELECT path, bytes, sm3 FROM recordings'], { encoding: 'utf8' })
      return r.stdout.trim() ? r.stdout.trim().split('\n').map((l) => l.split('|')) : []
    }
    await until(() => rows().length >= 2, { timeoutMs: 30000, what: 'two indexed files' })
    await new Promise((r) => setTimeout(r, 1500)) // mid-file
    const parts = () => spawnSync('find', [path.join(s.dataDir, 'recordings'), '-name', '*.part'], { encoding: 'utf8' }).stdout.trim()
    assert.ok(parts(), 'a file is being written')
    await s.kill()
    const before = rows().length
    const s2 = await startServer({ dataDir: s.dataDir, args: ['--config', cfgFile] })
    try {
      await until(() => rows().length > before, { timeoutMs: 20000, what: 'the interrupted file recovered' })
      await s2.stop({ keepData: true })
      const all = rows()
      for (const [rel, bytes, digest] of all) {
        const f = path.join(s.dataDir, 'recordings', rel)
        assert.ok(fs.existsSync(f), `indexed file exists: ${rel}`)
        const data = fs.readFileSync(f)
        assert.equal(data.length, Number(bytes), rel)
        assert.equal(await sm3(data), digest, rel)
        assert.equal(data.length % 188, 0, 'whole TS packets')
        assert.equal(probe(data).streams[0].codec_name, 'h264')
      }
      assert.equal(parts(), '', 'no partial file left behind')
    } finally {
      await s2.stop()
    }
  } finally {
    await s.stop()
    await camera.stop()
  }
})

test('a camera whose stream fails raises camera_offline through the alert path; its return closes it', async () => {
  const camera = await startCamera()
  const s = await startServer({ args: ['--config', cfgFile, '--manual-clock'] })
  try {
    const a = await login(s.base, 'admin', 'Mingchu@2026!x')
    const j = (await api(s.base, a, 'POST', '/api/v1/jurisdictions', { level: 'province', code: '320000', name: '江苏省' })).json
    const u = await api(s.base, a, 'POST', '/api/v1/units', {
      name: '离线测试食堂', store_type: 'school_canteen', jurisdiction_id: j.id, licence_number: 'JY13206020012346',
    })
    const c = await api(s.base, a, 'POST', '/api/v1/cameras', {
      unit_id: u.json.id, name: '后厨', area: 'cooking', stream_url: camera.url('/h264'), record: 'continuous',
    })
    assert.equal(c.status, 201, c.text)
    const camState = async () => (await api(s.base, a, 'GET', `/api/v1/cameras/${c.json.id}`)).json
    await until(async () => (await camState()).status === 'online', { timeoutMs: 30000, what: 'the camera online' })
    await camera.stop()
    await until(async () => (await camState()).video.state !== 'live', { timeoutMs: 20000, what: 'the pull failing' })
    // the offline window (5 min) passes without a picture
    let r = await api(s.base, a, 'POST', '/api/v1/admin/clock', { advance_seconds: 6 * 60 })
    assert.equal(r.status, 200, r.text)
    r = await api(s.base, a, 'POST', '/api/v1/admin/scheduler/run', {})
    assert.equal(r.status, 200, r.text)
    const offline = await api(s.base, a, 'GET', `/api/v1/alerts?camera_id=${c.json.id}&type=camera_offline`)
    assert.equal(offline.json.total, 1, offline.text)
    assert.equal(offline.json.items[0].state, 'open')
    assert.equal((await camState()).status, 'offline')
    // the camera comes back on the same port: the stream reconnects and the alert closes
    const back = await startCamera({ port: camera.port })
    try {
      await until(async () => {
        const x = await api(s.base, a, 'GET', `/api/v1/alerts/${offline.json.items[0].id}`)
        return x.json.state === 'closed'
      }, { timeoutMs: 45000, what: 'camera_offline closed' })
      assert.equal((await camState()).status, 'online')
    } finally {
      await back.stop()
    }
  } finally {
    await s.stop()
  }
})

test('a live token expires', async () => {
  const s = await startServer({ args: ['--config', cfgFile, '--manual-clock'] })
  const camera = await startCamera()
  try {
    const a = await login(s.base, 'admin', 'Mingchu@2026!x')
    const j = (await api(s.base, a, 'POST', '/api/v1/jurisdictions', { level: 'province', code: '320000', name: '江苏省' })).json
    const u = await api(s.base, a, 'POST', '/api/v1/units', {
      name: '令牌测试食堂', store_type: 'school_canteen', jurisdiction_id: j.id, licence_number: 'JY13206020012347',
    })
    const c = await api(s.base, a, 'POST', '/api/v1/cameras', {
      unit_id: u.json.id, name: '后厨', area: 'cooking', stream_url: camera.url('/h264'), record: 'off',
    })
    const live = await api(s.base, a, 'POST', `/api/v1/cameras/${c.json.id}/live`, {})
    assert.equal(live.status, 200, live.text)
    await until(async () => (await api(s.base, null, 'GET', live.json.hls_url)).status === 200, { what: 'playlist' })
    await api(s.base, a, 'POST', '/api/v1/admin/clock', { advance_seconds: 2 * 3600 })
    const r = await api(s.base, null, 'GET', live.json.hls_url)
    assert.equal(r.status, 403, r.text)
    assert.match(r.json.error.message, /expired/)
  } finally {
    await s.stop()
    await camera.stop()
  }
})
