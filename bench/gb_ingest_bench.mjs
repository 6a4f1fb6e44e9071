// PS/RTP ingest (GB/T 28181) against the RTSP path, per stream, in one run on this machine.
//
//   node bench/gb_ingest_bench.mjs [--steps 4,8] [--seconds 20]
//
// One pre-encoded H.264 file (1280x720, 25 fps, ~1 Mbps, made here by ffmpeg once) feeds both:
//  - RTSP: scripts/rtsp_camera.py serves it on loopback; N cameras with record = "continuous";
//  - GB/T 28181: N simulated devices (tests/api/gb_device.mjs, one process, SIP and RTP over UDP
//    on loopback) registered and bound, each sending the same access units as PS over RTP in real
//    time; their cameras with record = "continuous".
// Both go through the same media core (live HLS segments + recording files); the difference is
// the source: RTSP/RTP depacketising by FFmpeg vs our RTP + PS demuxer. For each N, after a
// warm-up, the server's CPU seconds (utime + stime) over `seconds` of wall time per stream-second,
// the frames per second each stream kept, and the ratio GB / RTSP. The simulator's own CPU is
// reported too (it is the source, like the GStreamer fixture).
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startServer, api, login, freePort } from '../tests/api/lib.mjs'
import { GbDevice, splitAnnexB } from '../tests/api/gb_device.mjs'

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : dflt
}
const STEPS = arg('steps', '4,8').split(',').map(Number)
const SECONDS = Number(arg('seconds', '20'))
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const DOMAIN = '3402000000'
const PASSWORD = 'Bench@28181'

function cpuSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / HZ
  } catch {
    return 0
  }
}
function selfCpu() {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-gb-ingest-'))
const file = path.join(work, 'source.mkv')
const duration = Math.max(120, 2 * (SECONDS + 25) + 30)
console.log(`# encoding a ${duration} s 1280x720 H.264 source once (libx264, ~1 Mbps)`)
let r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-t', String(duration),
  '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '1M', '-maxrate', '1M', '-bufsize', '1M', '-g', '25', '-bf', '0',
  '-y', file], { encoding: 'utf8' })
if (r.status !== 0) throw new Error(r.stderr)
r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-c', 'copy', '-bsf:v', 'h264_mp4toannexb,h264_metadata=aud=insert', '-f', 'h264', '-'], { maxBuffer: 1 << 30 })
if (r.status !== 0) throw new Error(String(r.stderr))
const aus = splitAnnexB(r.stdout)
console.log(`# ${aus.length} access units, ${(r.stdout.length * 8 / duration / 1e6).toFixed(2)} Mbit/s`)

const sipPort = await freePort()
const cfg = path.join(work, 'bench.toml')
fs.writeFileSync(cfg, '[video]\nfile_seconds = 60\nidle_stop_seconds = 3\nmax_streams = 5000\n[gb28181]\nkeepalive_seconds = 60\n')
const srv = await startServer({ args: ['--config', cfg, '--log-level', 'warn', '--sip-listen', `127.0.0.1:${sipPort}`, '--sip-domain', DOMAIN, '--sip-password', PASSWORD] })
const admin = await login(srv.base, 'admin', 'Mingchu@2026!x')
const j = (await api(srv.base, admin, 'POST', '/api/v1/jurisdictions', { level: 'province', code: '320000', name: '江苏省' })).json
const unit = (await api(srv.base, admin, 'POST', '/api/v1/units', {
  name: '基准测试食堂', store_type: 'school_canteen', jurisdiction_id: j.id, licence_number: 'JY13206020012345',
})).json

async function measure(ids, label) {
  for (const id of ids) {
    const p = await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${id}`, { record: 'continuous' })
    if (p.status !== 200) throw new Error(p.text)
  }
  await sleep(12000) // reconcile, connect, first files
  const c0 = cpuSeconds(srv.proc.pid)
  const s0 = selfCpu()
  const t0 = Date.now()
  await sleep(SECONDS * 1000)
  const wall = (Date.now() - t0) / 1000
  const cpu = cpuSeconds(srv.proc.pid) - c0
  const sim = selfCpu() - s0
  const st = (await api(srv.base, admin, 'GET', '/api/v1/video/status')).json
  const mine = st.streams.filter((s) => ids.includes(s.camera_id))
  const fps = mine.map((s) => s.fps || 0)
  for (const id of ids) await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${id}`, { record: 'off' })
  await sleep(6000)
  return {
    label,
    pct_core_per_stream: +((100 * cpu) / (ids.length * wall)).toFixed(2),
    live: mine.filter((s) => s.state === 'live').length,
    fps_min: +Math.min(...fps, Infinity).toFixed(1),
    bench_process_cpu_pct: +((100 * sim) / wall).toFixed(1),
  }
}

const rows = []
const rtspCams = []
const gbCams = []
const devices = []
let nextDev = 1
console.log(`# ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, window ${SECONDS} s`)
try {
  for (const n of STEPS) {
    const port = await freePort()
    const proc = spawn('/usr/bin/python3', ['scripts/rtsp_camera.py', '--port', String(port), '--file', file], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise((res) => proc.stdout.on('data', (d) => d.toString().includes('READY') && res()))
    const url = `rtsp://127.0.0.1:${port}/file`
    while (rtspCams.length < n) {
      const c = await api(srv.base, admin, 'POST', '/api/v1/cameras', { unit_id: unit.id, name: `rtsp${rtspCams.length}`, area: 'cooking', stream_url: url, record: 'off' })
      if (c.status !== 201) throw new Error(c.text)
      rtspCams.push(c.json.id)
    }
    for (const id of rtspCams) await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${id}`, { stream_url: url })
    const rtsp = await measure(rtspCams.slice(0, n), 'rtsp')
    await new Promise((res) => { proc.on('exit', res); proc.kill('SIGTERM') })

    while (gbCams.length < n) {
      const k = nextDev++
      const id = `3402000000132${String(8000000 + k)}`
      const d = new GbDevice({ sipPort, id, password: PASSWORD, domain: DOMAIN, aus, channels: [{ id: `3402000000131${String(8000000 + k)}`, name: `gb${k}` }] })
      await d.open()
      if ((await d.register()) !== 200) throw new Error('REGISTER failed')
      d.startKeepalives(20000)
      devices.push(d)
      for (let t = 0; t < 50; t++) {
        const b = await api(srv.base, admin, 'POST', `/api/v1/gb/devices/${id}/bind`, { unit_id: unit.id })
        if (b.status === 200 && b.json.channels.length === 1) {
          gbCams.push(b.json.channels[0].camera_id)
          break
        }
        await sleep(200)
      }
    }
    const gb = await measure(gbCams.slice(0, n), 'gb28181')
    const row = {
      streams: n,
      rtsp_pct_core: rtsp.pct_core_per_stream,
      gb_pct_core: gb.pct_core_per_stream,
      gb_over_rtsp: +(gb.pct_core_per_stream / rtsp.pct_core_per_stream).toFixed(2),
      rtsp_live: rtsp.live,
      gb_live: gb.live,
      rtsp_fps_min: rtsp.fps_min,
      gb_fps_min: gb.fps_min,
      simulator_cpu_pct: gb.bench_process_cpu_pct,
    }
    rows.push(row)
    console.log(JSON.stringify(row))
  }
  console.table(rows)
} finally {
  for (const d of devices) d.close()
  await srv.stop()
  fs.rmSync(work, { recursive: true, force: true })
}
