// GB/T 28181 signalling benchmark: simulated devices register with MD5 digest to a real
// `mingchu serve --sip-listen` and keep alive. The devices are spread over --procs child processes
// (each a contiguous range of device ids on its own UDP sockets, i.e. its own loopback source
// ports), so that the simulator is not the limit; the parent starts the server and the echo,
// drives the steps over IPC and merges the measurements. Per step of N devices it reports
//   - authenticated REGISTERs per second (401 + digested REGISTER + 200, a window of 1000 in flight),
//   - keepalive round trip p50/p99 while every device keeps alive once per period (default 60 s;
//     the window of --seconds sees N * seconds / period keepalives, i.e. the real rate),
//   - devices the server counts online at the end (no false offline) and RSS per registered device,
//   - the same keepalive messages sent at the same rate to a bare UDP echo (a Node process) as the
//     floor: the ratio of round trips and of CPU seconds.
// Loopback only.
import crypto from 'node:crypto'
import dgram from 'node:dgram'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startServer, api, login, freePort, ADMIN } from '../tests/api/lib.mjs'

const args = Object.fromEntries(
  process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? [...a, [x.slice(2), all[i + 1]]] : a), []),
)
const steps = (args.steps || '1000,10000').split(',').map(Number)
const seconds = Number(args.seconds || 20)
const period = Number(args.period || 60)
const PROCS = Number(args.procs || 4)
const SOCKETS = Math.max(1, Math.round(Number(args.sockets || 32) / PROCS)) // per process
const WINDOW = Math.max(1, Math.round(Number(args.window || 2000) / PROCS)) // REGISTERs in flight per process
const DOMAIN = '3402000000'
const PASSWORD = 'Bench@28181'
const md5 = (s) => crypto.createHash('md5').update(s).digest('hex')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function pct(a, p) {
  if (!a.length) return NaN
  const s = [...a].sort((x, y) => x - y)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / 100 // clock ticks (USER_HZ 100)
}
function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1])
}

// A pool of UDP sockets; answers resolve by Call-ID + CSeq; requests from the server get 200 OK.
class Net {
  constructor(target) {
    this.target = target
    this.waiting = new Map()
    this.socks = []
  }
  async open() {
    for (let i = 0; i < SOCKETS; i++) {
      const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 })
      s.on('message', (m) => this.onMessage(m, s))
      await new Promise((r) => s.bind(0, '127.0.0.1', r))
      this.socks.push(s)
    }
  }
  onMessage(buf, sock) {
    const t = buf.toString('latin1')
    const callId = /\r\nCall-ID:\s*(\S+)/i.exec(t)?.[1]
    const cseq = /\r\nCSeq:\s*(\d+)/i.exec(t)?.[1]
    if (t.startsWith('SIP/2.0 ')) {
      const key = `${callId}|${cseq}`
      const w = this.waiting.get(key)
      const status = Number(t.slice(8, 11))
      if (w && status >= 200) {
        this.waiting.delete(key)
        w(t, status)
      }
      return
    }
    // a query from the platform (DeviceInfo, Catalog): 200 OK, nothing more
    const head = t.slice(0, t.indexOf('\r\n\r\n'))
    const keep = head.split('\r\n').filter((l) => /^(via|from|to|call-id|cseq):/i.test(l))
    const to = keep.findIndex((l) => /^to:/i.test(l))
    if (to >= 0 && !/tag=/.test(keep[to])) keep[to] += ';tag=b1'
    if (!this.closed) sock.send(`SIP/2.0 200 OK\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, this.target, '127.0.0.1')
  }
  request(sock, msg, callId, cseq, tries = 6) {
    return new Promise((resolve) => {
      const key = `${callId}|${cseq}`
      let n = 0
      const send = () => {
        if (n++ >= tries) {
          this.waiting.delete(key)
          return resolve(null)
        }
        if (this.closed) return resolve(null)
        sock.send(msg, this.target, '127.0.0.1')
        timer = setTimeout(send, 1000 * n)
      }
      let timer
      this.waiting.set(key, (t, status) => {
        clearTimeout(timer)
        resolve({ t, status })
      })
      send()
    })
  }
  close() {
    this.closed = true
    for (const s of this.socks) s.close()
  }
}

function devId(i) {
  return `3402000000132${String(i).padStart(7, '0')}`
}

function msg(method, dev, sock, callId, cseq, extra = [], body = '') {
  const port = sock.address().port
  return [`${method} sip:34020000002000000001@${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};rport;branch=z9hG4bK${crypto.randomBytes(5).toString('hex')}`,
    `From: <sip:${dev}@${DOMAIN}>;tag=${cseq}t`, `To: <sip:${dev}@${DOMAIN}>`, `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`, 'Max-Forwards: 70', ...extra, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n')
}

async function registerAll(net, from, to) {
  const uri = `sip:34020000002000000001@${DOMAIN}`
  let next = from
  let ok = 0
  let failed = 0
  const one = async (i) => {
    const dev = devId(i)
    const sock = net.socks[i % SOCKETS]
    const callId = `reg-${i}`
    const r1 = await net.request(sock, msg('REGISTER', dev, sock, callId, 1, ['Expires: 3600']), callId, 1)
    if (!r1 || r1.status !== 401) return failed++
    const nonce = /nonce="([^"]+)"/.exec(r1.t)[1]
    const response = md5(`${md5(`${dev}:${DOMAIN}:${PASSWORD}`)}:${nonce}:${md5(`REGISTER:${uri}`)}`)
    const auth = `Authorization: Digest username="${dev}",realm="${DOMAIN}",nonce="${nonce}",uri="${uri}",response="${response}",algorithm=MD5`
    const r2 = await net.request(sock, msg('REGISTER', dev, sock, callId, 2, ['Expires: 3600', auth]), callId, 2)
    if (r2 && r2.status === 200) ok++
    else failed++
  }
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: WINDOW }, async () => {
    while (next < to) await one(next++)
  }))
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  return { ok, failed, seconds: s, perSecond: ok / s }
}

// Real devices keep alive all the time: every registered device sends one keepalive per period,
// device i at offset (i / n) of the period, from its registration on (the background loop below),
// so the server sees n / period keepalives per second. A measuring window records the round trips.
class Keepalives {
  constructor(net, lo = 0) {
    this.net = net
    this.lo = lo
    this.n = 0
    this.rtts = null
    this.lost = 0
    this.sent = 0
    this.stopped = false
    this.sn = 1
  }
  async run() {
    let k = 0
    while (!this.stopped) {
      if (this.n === 0) {
        await sleep(50)
        continue
      }
      const tick = 10 // ms: send the keepalives due in each 10 ms slice
      const perTick = (this.n / period) * (tick / 1000)
      this.acc = (this.acc || 0) + perTick
      while (this.acc >= 1) {
        this.acc -= 1
        const i = this.lo + (k++ % this.n)
        this.one(i)
      }
      await sleep(tick)
    }
  }
  async one(i) {
    const dev = devId(i)
    const sock = this.net.socks[i % SOCKETS]
    const callId = `ka-${i}-${this.sn}`
    const t = process.hrtime.bigint()
    const measuring = this.rtts
    const r = await this.net.request(sock, msg('MESSAGE', dev, sock, callId, 20, ['Content-Type: Application/MANSCDP+xml'], keepaliveBody(dev, this.sn++)), callId, 20, 3)
    if (!measuring || measuring !== this.rtts) return
    this.sent++
    if (r && r.status === 200) measuring.push(Number(process.hrtime.bigint() - t) / 1e6)
    else this.lost++
  }
  async measure() {
    this.rtts = []
    this.lost = 0
    this.sent = 0
    await sleep(seconds * 1000)
    const rtts = this.rtts
    this.rtts = null
    await sleep(2000) // the last answers
    return { rtts, lost: this.lost, rate: this.n / period }
  }
}

// The floor: the same messages at the same rate to the echo.
async function echoWindow(net, lo, n) {
  const rtts = []
  let lost = 0
  const total = Math.round((n * seconds) / period)
  const t0 = Date.now()
  const pending = []
  for (let k = 0; k < total; k++) {
    const at = t0 + (k * seconds * 1000) / total
    const wait = at - Date.now()
    if (wait > 2) await sleep(wait)
    const i = lo + (k % n)
    const dev = devId(i)
    const sock = net.socks[i % SOCKETS]
    const callId = `echo-${n}-${k}`
    const m = msg('MESSAGE', dev, sock, callId, 20, ['Content-Type: Application/MANSCDP+xml'], keepaliveBody(dev, k))
    const t = process.hrtime.bigint()
    pending.push(net.request(sock, 'SIP/2.0 200 OK\r\n' + m.slice(m.indexOf('\r\n') + 2), callId, 20, 3).then((r) =>
      r ? rtts.push(Number(process.hrtime.bigint() - t) / 1e6) : lost++))
  }
  await Promise.all(pending)
  return { rtts, lost }
}

function keepaliveBody(dev, sn) {
  return `<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>${sn}</SN>\r\n<DeviceID>${dev}</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n`
}

// ---------------------------------------------------------------- a worker: devices [lo, hi)
async function worker() {
  const lo = Number(process.env.GB_LO)
  const hi = Number(process.env.GB_HI)
  const net = new Net(Number(process.env.GB_SIP_PORT))
  await net.open()
  const echoNet = new Net(Number(process.env.GB_ECHO_PORT))
  await echoNet.open()
  const ka = new Keepalives(net, lo)
  const kaLoop = ka.run()
  process.on('message', async (m) => {
    if (m.cmd === 'register') {
      const from = Math.max(lo, m.from)
      const to = Math.min(hi, m.to)
      const r = from < to ? await registerAll(net, from, to) : { ok: 0, failed: 0, seconds: 0 }
      process.send({ id: m.id, ...r })
    } else if (m.cmd === 'keepalive') {
      ka.n = Math.max(0, Math.min(hi, m.n) - lo) // this process's share of the n devices
      process.send({ id: m.id })
    } else if (m.cmd === 'measure') {
      process.send({ id: m.id, ...(await ka.measure()) })
    } else if (m.cmd === 'echo') {
      const n = Math.max(0, Math.min(hi, m.n) - lo)
      process.send({ id: m.id, ...(n ? await echoWindow(echoNet, lo, n) : { rtts: [], lost: 0 }) })
    } else if (m.cmd === 'stop') {
      ka.stopped = true
      await kaLoop
      net.close()
      echoNet.close()
      process.send({ id: m.id }, () => process.exit(0))
    }
  })
  process.send({ ready: true })
}

// The parent's handle on the worker processes: call(cmd) sends to all and answers every reply.
async function workers(n, sipPort, echoPort) {
  const per = Math.ceil(n / PROCS)
  const kids = []
  for (let k = 0; k < PROCS; k++) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, GB_WORKER: '1', GB_LO: String(k * per), GB_HI: String((k + 1) * per), GB_SIP_PORT: String(sipPort), GB_ECHO_PORT: String(echoPort) },
    })
    const waiting = new Map()
    child.on('message', (m) => {
      if (m.ready) return child.emit('ready')
      const w = waiting.get(m.id)
      waiting.delete(m.id)
      w?.(m)
    })
    await new Promise((r) => child.once('ready', r))
    kids.push({ child, waiting })
  }
  let seq = 0
  return {
    pids: kids.map((k) => k.child.pid),
    call(cmd, extra = {}) {
      const id = ++seq
      return Promise.all(kids.map((k) => new Promise((resolve) => {
        k.waiting.set(id, resolve)
        k.child.send({ id, cmd, ...extra })
      })))
    },
  }
}

async function main() {
  const sipPort = await freePort()
  const cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-gbbench-'))
  fs.writeFileSync(path.join(cfgDir, 'gb.toml'), `[gb28181]\nkeepalive_seconds = ${period}\nkeepalive_misses = 3\n[video]\nenabled = false\n`)
  const srv = await startServer({
    args: ['--config', path.join(cfgDir, 'gb.toml'), '--sip-listen', `127.0.0.1:${sipPort}`, '--sip-domain', DOMAIN,
      '--sip-password', PASSWORD, '--log-level', 'warn'],
  })
  const admin = await login(srv.base, ADMIN.username, ADMIN.password)
  const pid = srv.proc.pid
  // the floor: a bare UDP echo (one Node process) answering each message with the same bytes
  const echoPort = await freePort()
  const echo = spawn(process.execPath, ['-e', `const s=require('dgram').createSocket({type:'udp4',recvBufferSize:8<<20});s.on('message',(m,r)=>s.send(m,r.port,r.address));s.bind(${echoPort},'127.0.0.1',()=>console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((r) => echo.stdout.once('data', r))
  const max = Math.max(...steps)
  const w = await workers(max, sipPort, echoPort)
  const simCpu = () => w.pids.reduce((a, p) => a + cpuSeconds(p), 0)
  const rss0 = rssKiB(pid)
  const rows = []
  let registered = 0
  const limits = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
  const rmem = fs.existsSync('/proc/sys/net/core/rmem_max') ? fs.readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim() : '?'
  console.log(`# GB/T 28181 bench: ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, period ${period} s, window ${seconds} s, ${PROCS} simulator processes x ${SOCKETS} sockets, ${WINDOW * PROCS} REGISTERs in flight`)
  console.log(`# limits: ${limits.replace(/\s+/g, ' ')}; net.core.rmem_max ${rmem}`)
  for (const n of steps) {
    const rcpu0 = cpuSeconds(pid)
    const scpu0 = simCpu()
    const t0 = process.hrtime.bigint()
    const regs = await w.call('register', { from: registered, to: n })
    const regWall = Number(process.hrtime.bigint() - t0) / 1e9
    const regCpu = cpuSeconds(pid) - rcpu0
    const regSimCpu = simCpu() - scpu0
    const reg = regs.reduce((a, r) => ({ ok: a.ok + r.ok, failed: a.failed + r.failed }), { ok: 0, failed: 0 })
    registered = n
    await sleep(1500) // the platform's DeviceInfo/Catalog queries of the new devices settle
    await w.call('keepalive', { n })
    const rss = rssKiB(pid)
    const cpu0 = cpuSeconds(pid)
    const kas = await w.call('measure')
    const cpu = cpuSeconds(pid) - cpu0
    const rtts = kas.flatMap((k) => k.rtts)
    const lost = kas.reduce((a, k) => a + k.lost, 0)
    const ecpu0 = cpuSeconds(echo.pid)
    const echoes = await w.call('echo', { n })
    const ecpu = cpuSeconds(echo.pid) - ecpu0
    const ertts = echoes.flatMap((k) => k.rtts)
    const st = (await api(srv.base, admin, 'GET', '/api/v1/gb/status')).json
    const p99 = pct(rtts, 99)
    const ep99 = pct(ertts, 99)
    const row = {
      devices: n,
      registered_ok: reg.ok,
      register_failed: reg.failed,
      registers_per_s: Math.round(reg.ok / regWall),
      register_server_cpu_s: +regCpu.toFixed(2), // the platform's CPU seconds for this step's REGISTERs
      register_server_ms_each: +((regCpu * 1000) / Math.max(reg.ok, 1)).toFixed(3),
      register_sim_cpu_s: +regSimCpu.toFixed(2), // the simulator processes' CPU seconds meanwhile
      register_seconds: +regWall.toFixed(1),
      online: st.devices_online,
      false_offline: n - st.devices_online,
      ka_rate_per_s: Math.round(n / period),
      ka_p50_ms: +pct(rtts, 50).toFixed(2),
      ka_p99_ms: +p99.toFixed(2),
      ka_sent: rtts.length + lost,
      ka_lost: lost,
      echo_p50_ms: +pct(ertts, 50).toFixed(2),
      echo_p99_ms: +ep99.toFixed(2),
      p99_ratio: +(p99 / ep99).toFixed(2),
      cpu_s: +cpu.toFixed(2),
      echo_cpu_s: +ecpu.toFixed(2),
      cpu_ratio: +(cpu / Math.max(ecpu, 0.01)).toFixed(2),
      rss_mib: +(rss / 1024).toFixed(1),
      rss_per_device_kib: +((rss - rss0) / n).toFixed(2),
    }
    rows.push(row)
    console.log(JSON.stringify(row))
  }
  console.table(rows)
  const ev = (await api(srv.base, admin, 'GET', '/api/v1/gb/status')).json.events
  console.log(`# server counters: ${JSON.stringify(ev)}`)
  await w.call('stop')
  echo.kill()
  await srv.stop()
  fs.rmSync(cfgDir, { recursive: true, force: true })
}

;(process.env.GB_WORKER ? worker() : main()).catch((e) => {
  console.error(e)
  process.exit(1)
})
