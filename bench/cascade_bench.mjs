// The cost of the GB/T 28181 cascade (docs/gb28181.md "Cascade") on the lower platform, against
// the same node only pulling the same streams, in one run on this machine.
//
//   node bench/cascade_bench.mjs [--streams 4] [--seconds 20]
//
// Source: scripts/rtsp_camera.py serves a pre-encoded H.264 file (1280x720, 25 fps, ~1 Mbps, made
// here by ffmpeg once) on loopback. Two `mingchu serve`: the upper with its SIP server, the lower
// with N cameras on that source and an upstream to the upper (bound there).
//  - Baseline: live HLS of the N cameras opened on the lower itself (the lower pulls each stream
//    and makes HLS segments), playlists fetched every second; the lower's CPU seconds (utime +
//    stime from /proc) over `seconds`.
//  - Cascade: live HLS of the same N cameras opened on the upper: the lower pulls each stream the
//    same way and also muxes it into PS and sends RTP to the upper; the lower's CPU over the same
//    time (and the upper's, which demuxes and makes HLS).
// Also the time from POST /live to its answer (the first keyframe is there) for a cold stream:
// on the lower directly, and on the upper through the cascade (INVITE, ACK, the lower's pull, PS).
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startServer, api, login, freePort, multipart, uscc, ADMIN } from '../tests/api/lib.mjs'
import { png } from '../tests/api/alerts_lib.mjs'

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : dflt
}
const N = Number(arg('streams', '4'))
const SECONDS = Number(arg('seconds', '20'))
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const cpuSeconds = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / HZ
}
const until = async (fn, what, ms = 30000) => {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await sleep(200)
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-cascade-bench-'))
const file = path.join(work, 'source.mkv')
const duration = Math.max(120, 4 * SECONDS + 60)
console.log(`# encoding a ${duration} s 1280x720 H.264 source once (libx264, ~1 Mbps)`)
const enc = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-t', String(duration),
  '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '1M', '-maxrate', '1M', '-bufsize', '1M', '-g', '25', '-y', file], { encoding: 'utf8' })
if (enc.status !== 0) throw new Error(enc.stderr)

const camPort = await freePort()
const camProc = spawn('/usr/bin/python3', ['scripts/rtsp_camera.py', '--port', String(camPort), '--file', file], { stdio: ['ignore', 'pipe', 'inherit'] })
await new Promise((res) => camProc.stdout.on('data', (d) => d.toString().includes('READY') && res()))
const source = `rtsp://127.0.0.1:${camPort}/file`

const sip = await freePort()
const cfg = path.join(work, 'bench.toml')
fs.writeFileSync(cfg, '[gb28181]\nkeepalive_seconds = 5\n\n[video]\nidle_stop_seconds = 3\n')
const UPPER_ID = '34020000002000000001'
const LOWER_ID = '32060200002000000001'
const [upper, lower] = await Promise.all([
  startServer({ demo: true, createAdmin: false, env: { MINGCHU_DEMO_RTSP: 'rtsp://127.0.0.1:1' },
    args: ['--config', cfg, '--sip-listen', `127.0.0.1:${sip}`, '--sip-id', UPPER_ID, '--sip-domain', '3402000000', '--sip-password', 'Bench@28181'] }),
  startServer({ args: ['--config', cfg] }),
])
let code = 0
try {
  const ut = await login(upper.base, 'admin', 'Platform@2026!')
  const lt = await login(lower.base, ADMIN.username, ADMIN.password)
  const L = (m, p, b, h) => api(lower.base, lt, m, p, b, h)
  const j = async (parent_id, level, code, name) => (await L('POST', '/api/v1/jurisdictions', { parent_id, level, code, name })).json.id
  const city = await j(await j(undefined, 'province', '320000', '江苏省'), 'city', '320600', '南通市')
  const dist = await j(city, 'district', '320602', '崇川区')
  const up = multipart([{ name: 'file', filename: 'l.png', contentType: 'image/png', data: png(3) }])
  const f = await L('POST', '/api/v1/files', up.body, { 'content-type': up.contentType })
  const unit = (await L('POST', '/api/v1/units', { name: '基准食堂', jurisdiction_id: dist, store_type: 'school_canteen',
    licence_number: 'JY13206020019999', uscc: uscc(77), licence_image_ids: [f.json.id] })).json.id
  const lowerCams = []
  for (let i = 0; i < N; i++) {
    const c = await L('POST', '/api/v1/cameras', { unit_id: unit, name: `基准${i + 1}`, area: 'cooking', stream_url: source, record: 'off' })
    lowerCams.push(c.json.id)
  }
  const upstream = await L('POST', '/api/v1/gb/upstreams', { name: 'bench', sip_id: UPPER_ID, domain: '3402000000',
    address: `127.0.0.1:${sip}`, password: 'Bench@28181', local_sip_id: LOWER_ID, jurisdiction_id: dist, keepalive_s: 5 })
  await until(async () => {
    const d = (await api(upper.base, ut, 'GET', '/api/v1/gb/devices?page_size=100')).json.items.find((x) => x.device_id === LOWER_ID)
    return d && d.channels.length === N
  }, 'the catalog on the upper')
  const upperUnit = (await api(upper.base, ut, 'GET', '/api/v1/units?page_size=1')).json.items[0].id
  const bound = await api(upper.base, ut, 'POST', `/api/v1/gb/devices/${LOWER_ID}/bind`, { unit_id: upperUnit })
  const upperCams = bound.json.channels.map((c) => c.camera_id)

  // open live on `base` for the cameras; answers the time each POST /live took and the playlists
  async function openAll(base, token, cams) {
    const t = [], urls = []
    for (const id of cams) {
      const t0 = performance.now()
      const r = await api(base, token, 'POST', `/api/v1/cameras/${id}/live`, { quality: 'hd' })
      if (r.status !== 200) throw new Error(`live ${id}: ${r.status} ${r.text}`)
      t.push(performance.now() - t0)
      urls.push(r.json.hls_url)
    }
    return { t, urls }
  }
  async function measure(base, urls) {
    let on = true
    const keep = (async () => {
      while (on) {
        await Promise.all(urls.map((u) => api(base, null, 'GET', u)))
        await sleep(1000)
      }
    })()
    await sleep(5000) // warm-up
    const l0 = cpuSeconds(lower.proc.pid), u0 = cpuSeconds(upper.proc.pid), w0 = performance.now()
    await sleep(SECONDS * 1000)
    const l1 = cpuSeconds(lower.proc.pid), u1 = cpuSeconds(upper.proc.pid), w1 = performance.now()
    on = false
    await keep
    const wall = (w1 - w0) / 1000
    return { lower: (l1 - l0) / wall, upper: (u1 - u0) / wall }
  }
  const stopped = async () => {
    await until(async () => (await L('GET', '/api/v1/video/status')).json.streams.length === 0, 'the lower idle', 60000)
    await until(async () => !(await api(upper.base, ut, 'GET', '/api/v1/video/status')).json.streams.some((s) => upperCams.includes(s.camera_id)), 'the upper idle', 60000)
  }

  const direct = await openAll(lower.base, lt, lowerCams)
  const base = await measure(lower.base, direct.urls)
  await stopped()
  const cascade = await openAll(upper.base, ut, upperCams)
  const casc = await measure(upper.base, cascade.urls)
  const status = (await L('GET', `/api/v1/gb/upstreams/${upstream.json.id}`)).json.status
  await stopped()
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

  console.log(`\n## GB/T 28181 cascade on the lower: ${N} streams of 1280x720 25 fps ~1 Mbps H.264, ${SECONDS} s each\n`)
  console.log('| | lower CPU (cores) | per stream | upper CPU (cores) |')
  console.log('|---|---|---|---|')
  console.log(`| baseline: live on the lower itself (pull + HLS) | ${base.lower.toFixed(3)} | ${(base.lower / N * 100).toFixed(2)} % | — |`)
  console.log(`| cascade: live on the upper (the lower pulls + HLS + PS + RTP) | ${casc.lower.toFixed(3)} | ${(casc.lower / N * 100).toFixed(2)} % | ${casc.upper.toFixed(3)} |`)
  console.log(`\nlower CPU with the cascade / without: **${(casc.lower / base.lower).toFixed(2)}×**; sessions open during the run: ${status.sessions}`)
  console.log(`POST /live answered (cold stream, median of ${N}): on the lower ${med(direct.t).toFixed(0)} ms, on the upper through the cascade ${med(cascade.t).toFixed(0)} ms (**${(med(cascade.t) / med(direct.t)).toFixed(2)}×**)`)
  console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
} catch (e) {
  console.error(e)
  code = 1
} finally {
  await Promise.all([upper.stop(), lower.stop()])
  camProc.kill('SIGTERM')
  fs.rmSync(work, { recursive: true, force: true })
}
process.exit(code)
