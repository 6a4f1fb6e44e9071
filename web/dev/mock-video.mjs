// Development-only stand-in for the video routes of docs/video.md inside dev/mock-api.mjs, so the
// video pages can be looked at without the C++ media core. With `--rtsp rtsp://127.0.0.1:PORT`
// (tests/fixtures/rtsp_camera.py) it serves REAL media cut by the ffmpeg CLI from that camera:
// HTTP-FLV piped live per viewer, a live HLS playlist, a 60 s recording as the playback VOD and
// for clips, JPEG snapshots. Without it every camera answers 503 camera_unreachable (offline).
// NEVER used by tests/e2e: those start the real server.
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export function createVideo({ rtsp, send, err, iso, cameras }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mock-video-'))
  const tokens = new Map() // token → {camera, kind}
  const procs = new Set()
  const ff = (args, opts = {}) => {
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { stdio: ['ignore', opts.pipe ? 'pipe' : 'ignore', 'ignore'] })
    procs.add(p)
    p.on('exit', () => procs.delete(p))
    return p
  }
  process.on('exit', () => procs.forEach((p) => p.kill('SIGKILL')))
  let liveHls = null
  const vodDir = path.join(dir, 'vod')
  if (rtsp) {
    fs.mkdirSync(vodDir)
    // a minute of "recording" for playback and clips
    const rec = ff(['-rtsp_transport', 'tcp', '-i', `${rtsp}/h264`, '-c', 'copy', '-t', '60', '-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod', '-hls_segment_filename', path.join(vodDir, '%d.ts'), path.join(vodDir, 'index.m3u8')])
    // the evidence clip every mock alert shows once the minute is recorded
    rec.on('exit', () => ff(['-i', path.join(vodDir, 'index.m3u8'), '-t', '30', '-c', 'copy', '-movflags', '+faststart', path.join(dir, 'evidence.mp4')]))
  }
  const online = (c) => rtsp && c.status !== 'offline'
  const token = (camera, kind) => {
    const t = crypto.randomBytes(12).toString('hex')
    tokens.set(t, { camera, kind })
    return t
  }
  function liveAnswer(c, quality) {
    const t = token(c, quality === 'sd' ? 'sd' : 'hd')
    return { hls_url: `/media/live/${t}/index.m3u8`, flv_url: `/media/live/${t}/live.flv`, expires_at: iso(Date.now() + 600e3), codec: 'h264', transcoded: false }
  }
  function serveFile(res, file, type) {
    if (!fs.existsSync(file)) return err(res, 404, 'not_found', 'no such segment')
    res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache' })
    fs.createReadStream(file).pipe(res)
  }

  /** /media/... (no login, signed token in the path) */
  function media(req, res, p) {
    const cm = p.match(/^\/media\/clips\/([0-9a-f]+)\.mp4$/)
    if (cm) return tokens.has(cm[1]) ? serveFile(res, path.join(dir, 'evidence.mp4'), 'video/mp4') : err(res, 403, 'forbidden', 'bad token'), true
    let m = p.match(/^\/media\/(live|vod)\/([0-9a-f]+)\/(.+)$/)
    if (!m) return false
    const tk = tokens.get(m[2])
    if (!tk) return err(res, 403, 'forbidden', 'bad token'), true
    const file = m[3]
    if (m[1] === 'vod') return serveFile(res, path.join(vodDir, path.basename(file)), file.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t'), true
    const src = `${rtsp}/${tk.kind === 'sd' ? 'h264-sd' : 'h264'}`
    if (file === 'live.flv') {
      res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-cache' })
      const f = ff(['-rtsp_transport', 'tcp', '-i', src, '-c', 'copy', '-an', '-f', 'flv', 'pipe:1'], { pipe: true })
      f.stdout.pipe(res)
      req.on('close', () => f.kill('SIGKILL'))
      return true
    }
    if (!liveHls) {
      const ld = path.join(dir, 'live')
      fs.mkdirSync(ld, { recursive: true })
      ff(['-rtsp_transport', 'tcp', '-i', `${rtsp}/h264`, '-c', 'copy', '-an', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '6', '-hls_flags', 'delete_segments', '-hls_segment_filename', path.join(ld, '%d.ts'), path.join(ld, 'index.m3u8')])
      liveHls = ld
    }
    const f = path.join(liveHls, path.basename(file))
    const wait = Date.now() + 8000
    const tryServe = () => (fs.existsSync(f) || Date.now() > wait ? serveFile(res, f, file.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t') : setTimeout(tryServe, 200))
    tryServe()
    return true
  }

  /** /api/v1/cameras/{id}/(live|snapshot.jpg|recordings|playback|clip.mp4) for a camera in scope */
  async function cameraRoute(req, res, c, action, q, body) {
    if (action === 'live') {
      if (!online(c)) return err(res, 503, 'camera_unreachable', '摄像头无法连接')
      return send(res, 200, liveAnswer(c, body?.quality))
    }
    if (action === 'snapshot.jpg') {
      if (!online(c)) return err(res, 503, 'camera_unreachable', '摄像头无法连接')
      const f = ff(['-rtsp_transport', 'tcp', '-i', `${rtsp}/h264-sd`, '-frames:v', '1', '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'], { pipe: true })
      const chunks = []
      f.stdout.on('data', (d) => chunks.push(d))
      f.on('exit', () => {
        res.writeHead(200, { 'Content-Type': 'image/jpeg' })
        res.end(Buffer.concat(chunks))
      })
      return
    }
    if (action === 'recordings') {
      const from = Date.parse(q.get('from'))
      const to = Date.parse(q.get('to'))
      // pretend the camera recorded since 06:00 today with a gap at lunch, and since the mock started
      const d0 = new Date(from)
      d0.setHours(6, 0, 0, 0)
      const lunch = new Date(from)
      lunch.setHours(11, 40, 0, 0)
      const back = new Date(from)
      back.setHours(13, 5, 0, 0)
      const spans = [
        [d0.getTime(), lunch.getTime()],
        [back.getTime(), Math.min(to, Date.now())],
      ].filter(([s, e]) => e > s && s < Date.now())
      return send(res, 200, {
        spans: spans.map(([s, e]) => ({ start: iso(s), end: iso(e), bytes: Math.round((e - s) / 8) })),
        gaps: [],
        alerts: [
          { id: 'a_mock1', type: 'no_hat', occurred_at: iso(d0.getTime() + 3.2 * 3600e3) },
          { id: 'a_mock2', type: 'rodent', occurred_at: iso(back.getTime() + 2.5 * 3600e3) },
        ].filter((a) => Date.parse(a.occurred_at) < Date.now()),
      })
    }
    if (action === 'playback') {
      if (!body || !(Date.parse(body.to) > Date.parse(body.from))) return send(res, 422, { error: { code: 'invalid_range', message: 'to must be after from', field: 'to' } })
      if (!rtsp) return err(res, 503, 'camera_unreachable', '无录像')
      return send(res, 200, { hls_url: `/media/vod/${token(c, 'vod')}/index.m3u8`, expires_at: iso(Date.now() + 600e3) })
    }
    if (action === 'clip.mp4') {
      const out = path.join(dir, `clip-${crypto.randomBytes(4).toString('hex')}.mp4`)
      const f = ff(['-i', path.join(vodDir, 'index.m3u8'), '-t', '20', '-c', 'copy', '-movflags', '+faststart', out])
      f.on('exit', () => {
        if (!fs.existsSync(out)) return err(res, 503, 'unavailable', 'no recording')
        const buf = fs.readFileSync(out)
        let sm3 = ''
        try {
          sm3 = crypto.createHash('sm3').update(buf).digest('hex')
        } catch {
          sm3 = crypto.createHash('sha256').update(buf).digest('hex')
        }
        res.writeHead(200, { 'Content-Type': 'video/mp4', 'X-Content-SM3': sm3, 'Content-Disposition': 'attachment; filename="clip.mp4"' })
        res.end(buf)
      })
      return
    }
    return err(res, 404, 'not_found', 'no such endpoint')
  }

  /** GET /api/v1/public/units/{token}/cameras/{id}/live */
  function publicLive(res, unit, cameraId) {
    const c = cameras.find((x) => x.id === cameraId && x.unit_id === unit?.id && x.public)
    if (!c) return err(res, 404, 'not_found', '未找到')
    if (!online(c)) return err(res, 503, 'camera_unreachable', '摄像头无法连接')
    const a = liveAnswer(c, 'sd')
    return send(res, 200, { hls_url: a.hls_url, flv_url: a.flv_url, expires_at: a.expires_at })
  }

  /** evidence clips for the mock's alerts that have a camera */
  function clipsFor(alert) {
    if (!alert.camera_id || !rtsp) return []
    const at = Date.parse(alert.occurred_at)
    const state = fs.existsSync(path.join(dir, 'evidence.mp4')) ? 'ready' : 'pending'
    return [{ id: 'clip_' + alert.id, camera_id: alert.camera_id, from: iso(at - 10000), to: iso(at + 20000), state, sm3: state === 'ready' ? 'a'.repeat(64) : null, bytes: 2400000, url: state === 'ready' ? `/media/clips/${token(alert.camera_id, 'clip')}.mp4` : null }]
  }

  return { media, cameraRoute, publicLive, clipsFor }
}
