// The media core's cost per stream against the FFmpeg CLI, in one run on this machine.
//
//   node bench/video_bench.mjs [--steps 4,16,48] [--seconds 30] [--ttff 40]
//
// Sources: scripts/rtsp_camera.py serves a pre-encoded H.264 file (1280x720, 25 fps, ~1 Mbps,
// made here by ffmpeg once) in real time on loopback, so the sources cost little and both sides
// pull the same thing.
//  - MingChu: N cameras with record = "continuous": each is pulled, muxed into live HLS segments
//    and written to recording files with their index (what a recording camera costs).
//  - Baseline: N `ffmpeg -c copy` processes, each pulling the same URL and writing live HLS and
//    one-minute recording segments (the same work without the index).
// For each N, after a warm-up, CPU seconds (utime + stime from /proc) over `seconds` of wall
// time, per stream-second; and whether each side kept up with real time (frames or segments
// made per second). Then the time to first live frame: POST /live on cameras not yet pulled,
// until the first video tag of the HTTP-FLV answer (p50/p99), and RSS per recording stream.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startServer, api, login, freePort } from '../tests/api/lib.mjs'
import { startCamera } from '../tests/api/video_lib.mjs'

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : dflt
}
const STEPS = arg('steps', '4,16,48').split(',').map(Number)
const SECONDS = Number(arg('seconds', '30'))
const TTFF = Number(arg('ttff', '40'))
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function cpuSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / HZ // utime, stime (fields 14, 15)
  } catch {
    return 0
  }
}
function rssBytes(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)
  return m ? Number(m[1]) * 1024 : 0
}
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-video-bench-'))
const file = path.join(work, 'source.mkv')
const duration = Math.max(180, 2 * (SECONDS + 25) + 30)
console.log(`# encoding a ${duration} s 1280x720 H.264 source once (libx264, ~1 Mbps)`)
let r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-t', String(duration),
  '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '1M', '-maxrate', '1M', '-bufsize', '1M', '-g', '25',
  '-y', file], { encoding: 'utf8' })
if (r.status !== 0) throw new Error(r.stderr)

const cfg = path.join(work, 'bench.toml')
fs.writeFileSync(cfg, '[video]\nfile_seconds = 60\nidle_stop_seconds = 3\nmax_streams = 5000\n')
const srv = await startServer({ args: ['--config', cfg, '--log-level', 'warn'] })
const admin = await login(srv.base, 'admin', 'Mingchu@2026!x')
const j = (await api(srv.base, admin, 'POST', '/api/v1/jurisdictions', { level: 'province', code: '320000', name: '江苏省' })).json
const unit = (await api(srv.base, admin, 'POST', '/api/v1/units', {
  name: '基准测试食堂', store_type: 'school_canteen', jurisdiction_id: j.id, licence_number: 'JY13206020012345',
})).json

const results = []
let cams = []
let camera = null
let rss0 = 0
try {
  for (const n of STEPS) {
    // a fresh source run for each step, so that both sides see the file from its start
    const fileCam = await (async () => {
      const port = await freePort()
      const proc = spawn('/usr/bin/python3', ['scripts/rtsp_camera.py', '--port', String(port), '--file', file], { stdio: ['ignore', 'pipe', 'inherit'] })
      await new Promise((res) => proc.stdout.on('data', (d) => d.toString().includes('READY') && res()))
      return { url: `rtsp://127.0.0.1:${port}/file`, stop: () => new Promise((res) => { proc.on('exit', res); proc.kill('SIGTERM') }) }
    })()

    // ---- MingChu
    if (!rss0) rss0 = rssBytes(srv.proc.pid)
    for (const id of cams) {
      const p = await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${id}`, { stream_url: fileCam.url, record: 'continuous' })
      if (p.status !== 200) throw new Error(p.text)
    }
    while (cams.length < n) {
      const c = await api(srv.base, admin, 'POST', '/api/v1/cameras', {
        unit_id: unit.id, name: `cam${cams.length}`, area: 'cooking', stream_url: fileCam.url, record: 'continuous',
      })
      if (c.status !== 201) throw new Error(c.text)
      cams.push(c.json.id)
    }
    await sleep(12000) // reconcile, connect, first files
    const st0 = (await api(srv.base, admin, 'GET', '/api/v1/video/status')).json
    const c0 = cpuSeconds(srv.proc.pid)
    const t0 = Date.now()
    await sleep(SECONDS * 1000)
    const c1 = cpuSeconds(srv.proc.pid)
    const wall = (Date.now() - t0) / 1000
    const st1 = (await api(srv.base, admin, 'GET', '/api/v1/video/status')).json
    const live = st1.streams.filter((s) => s.state === 'live')
    const fps = live.map((s) => s.fps)
    const bytesIn = (st1.bytes_in - st0.bytes_in) / wall
    const mcCost = (c1 - c0) / (n * wall)
    const rssPer = (rssBytes(srv.proc.pid) - rss0) / n
    // stop recording before the baseline runs
    for (const id of cams) await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${id}`, { record: 'off' })
    await sleep(8000)

    // ---- ffmpeg -c copy, one process per stream
    const procs = []
    for (let i = 0; i < n; i++) {
      const out = path.join(work, `ff-${n}-${i}`)
      fs.mkdirSync(out, { recursive: true })
      procs.push(spawn('ffmpeg', ['-v', 'error', '-rtsp_transport', 'tcp', '-i', fileCam.url,
        '-map', '0:v', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '6', '-hls_flags', 'delete_segments', path.join(out, 'live.m3u8'),
        '-map', '0:v', '-c', 'copy', '-f', 'segment', '-segment_time', '60', '-reset_timestamps', '1', path.join(out, 'rec-%05d.ts')],
      { stdio: ['ignore', 'ignore', 'ignore'] }))
    }
    await sleep(12000)
    const f0 = procs.reduce((a, p) => a + cpuSeconds(p.pid), 0)
    const segs0 = fs.readdirSync(work).filter((d) => d.startsWith(`ff-${n}-`)).map((d) => path.join(work, d, 'live.m3u8'))
    const seq = (f) => { try { return Number(fs.readFileSync(f, 'utf8').match(/MEDIA-SEQUENCE:(\d+)/)[1]) } catch { return 0 } }
    const q0 = segs0.map(seq)
    const ft0 = Date.now()
    await sleep(SECONDS * 1000)
    const f1 = procs.reduce((a, p) => a + cpuSeconds(p.pid), 0)
    const fwall = (Date.now() - ft0) / 1000
    const q1 = segs0.map(seq)
    const ffRate = q1.map((q, i) => (q - q0[i]) / fwall) // 1 s segments per second: 1.0 = real time
    const alive = procs.filter((p) => p.exitCode === null).length
    for (const p of procs) p.kill('SIGTERM')
    await sleep(1500)
    const ffCost = (f1 - f0) / (n * fwall)
    await fileCam.stop()

    const row = {
      n,
      mingchu_cpu_per_stream: mcCost,
      ffmpeg_cpu_per_stream: ffCost,
      ratio: ffCost / mcCost,
      mingchu_streams_per_core: 1 / mcCost,
      mingchu_live: `${live.length}/${n}`,
      mingchu_fps_min: Math.min(...fps),
      mingchu_in_kbps_per_stream: Math.round((bytesIn * 8) / 1000 / n),
      ffmpeg_alive: `${alive}/${n}`,
      ffmpeg_segments_per_s_min: Math.min(...ffRate),
      mingchu_rss_per_recording_stream_kib: Math.round(rssPer / 1024),
    }
    results.push(row)
    console.log(JSON.stringify(row))
  }

  // ---- time to first live frame on cameras not pulled yet (a live, encoding source)
  camera = await startCamera()
  const lat = []
  for (let i = 0; i < TTFF; i++) {
    const c = await api(srv.base, admin, 'POST', '/api/v1/cameras', {
      unit_id: unit.id, name: `ttff${i}`, area: 'cooking', stream_url: camera.url('/h264'), record: 'off',
    })
    const t0 = performance.now()
    const live = await api(srv.base, admin, 'POST', `/api/v1/cameras/${c.json.id}/live`, { quality: 'hd' })
    if (live.status !== 200) throw new Error(live.text)
    const res = await fetch(srv.base + live.json.flv_url)
    const reader = res.body.getReader()
    let buf = Buffer.alloc(0)
    // FLV: 9-byte header + 4; then tags of 11 bytes + data + 4; the first video tag (type 9)
    // after the AVC sequence header is the first frame
    let frames = 0
    outer: for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buf = Buffer.concat([buf, Buffer.from(value)])
      let off = 13
      frames = 0
      while (off + 11 <= buf.length) {
        const type = buf[off]
        const size = buf.readUIntBE(off + 1, 3)
        if (off + 11 + size > buf.length) break
        if (type === 9 && buf[off + 12] === 1) frames++ // AVC NALU packet (not the sequence header)
        if (frames >= 1) break outer
        off += 11 + size + 4
      }
    }
    lat.push(performance.now() - t0)
    await reader.cancel()
    await sleep(300)
  }
  const ttff = { samples: lat.length, p50_ms: Math.round(pct(lat, 50)), p99_ms: Math.round(pct(lat, 99)), max_ms: Math.round(Math.max(...lat)) }
  console.log(JSON.stringify({ time_to_first_live_frame: ttff }))
  console.log('\n| N | MingChu CPU / stream | ffmpeg -c copy CPU / stream | ffmpeg ÷ MingChu | MingChu streams per core | kept up (MingChu fps min / ffmpeg segments per s min) | RSS per recording stream |')
  console.log('|---|---|---|---|---|---|---|')
  for (const x of results) {
    console.log(`| ${x.n} | ${(x.mingchu_cpu_per_stream * 100).toFixed(3)} % | ${(x.ffmpeg_cpu_per_stream * 100).toFixed(3)} % | **${x.ratio.toFixed(1)}×** | ${Math.round(x.mingchu_streams_per_core)} | ${x.mingchu_live} live, ${x.mingchu_fps_min.toFixed(1)} fps / ${x.ffmpeg_alive} alive, ${x.ffmpeg_segments_per_s_min.toFixed(2)} | ${x.mingchu_rss_per_recording_stream_kib} KiB |`)
  }
  console.log(`\ntime to first live frame (cold camera, POST /live → first FLV video tag), ${ttff.samples} samples: p50 ${ttff.p50_ms} ms, p99 ${ttff.p99_ms} ms`)
  console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
} finally {
  await camera?.stop().catch(() => {})
  await srv.stop()
  fs.rmSync(work, { recursive: true, force: true })
}
