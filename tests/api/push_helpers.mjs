// Helpers of the push integration tests: a real `mingchu serve` process, logins and API
// calls, a webhook receiver that can be down (connection refused) and come up on the same
// port, a fake SMS/voice gateway, and a Server-Sent Events reader over plain fetch.
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BIN = process.env.MINGCHU_BIN || path.join(REPO, 'build', 'mingchu')

export const USERS = {
  admin: ['admin', 'Platform@2026!'],
  city: ['city_reg', 'Regulator@2026!'],
  district: ['district_reg', 'Regulator@2026!'],
  otherDistrict: ['other_district_reg', 'Regulator@2026!'],
  station: ['station_reg', 'Regulator@2026!'],
  merchant: ['merchant', 'Kitchen@2026!'],
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

export async function waitFor(what, fn, { timeout = 20000, every = 100 } = {}) {
  const until = Date.now() + timeout
  let last
  for (;;) {
    try {
      last = await fn()
      if (last) return last
    } catch (e) {
      last = e
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : JSON.stringify(last)}`)
    await sleep(every)
  }
}

// A `mingchu serve --demo --manual-clock` on a free port with its own data directory (kept
// across restart()). extraArgs and config (TOML text) are passed on every start.
export class Server {
  constructor({ args = [], config = '', env = {}, dataDir } = {}) {
    this.args = args
    this.env = env
    this.dataDir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-push-'))
    this.configFile = path.join(this.dataDir, 'test.toml')
    fs.writeFileSync(this.configFile, config)
    this.log = ''
    this.proc = null
  }

  async start() {
    if (!fs.existsSync(BIN)) throw new Error(`server binary ${BIN} not found: build first`)
    this.port = this.port || (await freePort())
    this.base = `http://127.0.0.1:${this.port}`
    const argv = ['serve', '--demo', '--manual-clock', '--listen', `127.0.0.1:${this.port}`, '--data', this.dataDir,
      '--config', this.configFile, ...this.args]
    this.proc = spawn(BIN, argv, { cwd: this.dataDir, env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const keep = (d) => {
      this.log += d.toString()
      if (this.log.length > 2_000_000) this.log = this.log.slice(-1_000_000)
    }
    this.proc.stdout.on('data', keep)
    this.proc.stderr.on('data', keep)
    const exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)))
    this.exited = exited
    await waitFor('the server to answer /healthz', async () => {
      if (this.proc.exitCode !== null) throw new Error(`server exited ${this.proc.exitCode}:\n${this.log.slice(-3000)}`)
      const r = await fetch(this.base + '/healthz').catch(() => null)
      return r && r.ok
    }, { timeout: 60000 })
  }

  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null) return
    this.proc.kill(signal)
    await Promise.race([this.exited, sleep(20000)])
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL')
      await this.exited
    }
  }

  async api(method, p, { token, body, headers = {}, expect } = {}) {
    const h = { Accept: 'application/json', ...headers }
    if (token) h.Authorization = `Bearer ${token}`
    if (body !== undefined) h['Content-Type'] = 'application/json'
    const res = await fetch(this.base + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    let json = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      json = text
    }
    if (expect !== undefined) {
      if (res.status !== expect) throw new Error(`${method} ${p} → ${res.status}, expected ${expect}: ${text.slice(0, 400)}`)
    } else if (!res.ok) {
      throw new Error(`${method} ${p} → ${res.status} ${text.slice(0, 400)}`)
    }
    return json
  }

  async login([username, password]) {
    const r = await this.api('POST', '/api/v1/auth/login', { body: { username, password } })
    return r.token
  }

  async metrics() {
    const r = await fetch(this.base + '/metrics')
    return r.text()
  }
}

// A webhook receiver on a fixed port that is DOWN (nothing listens: connection refused)
// until up() is called. It verifies each signature and records every request.
export class WebhookReceiver {
  constructor(port, secret, { failFirst = 0 } = {}) {
    this.port = port
    this.secret = secret
    this.failFirst = failFirst // answer 500 to the first N requests of each idempotency key
    this.requests = []
    this.seen = new Map() // idempotency key -> request count
    this.server = null
  }

  url(p = '/hook') {
    return `http://127.0.0.1:${this.port}${p}`
  }

  up() {
    this.server = http.createServer((req, res) => {
      const chunks = []
      req.on('data', (c) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const ts = req.headers['x-mingchu-timestamp'] || ''
        const want = 'sha256=' + crypto.createHmac('sha256', this.secret).update(`${ts}.${body}`).digest('hex')
        const sig = req.headers['x-mingchu-signature'] || ''
        const valid = sig.length === want.length && crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want))
        const key = req.headers['idempotency-key']
        const n = (this.seen.get(key) || 0) + 1
        this.seen.set(key, n)
        this.requests.push({ headers: req.headers, body, valid, key, n })
        if (!valid) {
          res.writeHead(401).end('bad signature')
        } else if (n <= this.failFirst) {
          res.writeHead(500).end('try again')
        } else {
          res.writeHead(204).end()
        }
      })
    })
    return new Promise((resolve) => this.server.listen(this.port, '127.0.0.1', resolve))
  }

  down() {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  // The events accepted (2xx) once each, by idempotency key.
  accepted() {
    const out = new Map()
    for (const r of this.requests) {
      if (r.valid && r.n > this.failFirst) out.set(r.key, r)
    }
    return out
  }
}

// Reads a text/event-stream response with fetch and collects the events.
export async function openSse(base, token) {
  const ctrl = new AbortController()
  const res = await fetch(`${base}/api/v1/stream?access_token=${encodeURIComponent(token)}`, { signal: ctrl.signal })
  if (res.status !== 200) throw new Error(`stream answered ${res.status}: ${await res.text()}`)
  const events = []
  const stream = { events, status: res.status, contentType: res.headers.get('content-type'), close: () => ctrl.abort() }
  // The server writes "retry:" once the stream is subscribed to its node's hub: from then on
  // every committed event reaches it. openSse resolves only then (no sleep needed after it).
  let subscribed
  const ready = new Promise((resolve) => (subscribed = resolve))
  ;(async () => {
    const decoder = new TextDecoder()
    let buf = ''
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk, { stream: true })
        let i
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const ev = { event: 'message', id: null, data: [] }
          let any = false
          for (const line of block.split('\n')) {
            if (line.startsWith(':') || line === '') continue
            const colon = line.indexOf(':')
            const field = colon < 0 ? line : line.slice(0, colon)
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
            if (field === 'retry') subscribed()
            else if (field === 'event') (ev.event = value), (any = true)
            else if (field === 'id') ev.id = value
            else if (field === 'data') ev.data.push(value), (any = true)
          }
          if (any) events.push({ event: ev.event, id: ev.id, data: ev.data.join('\n'), raw: block })
        }
      }
    } catch {
      // aborted
    }
    subscribed()  // ended before subscribing: the waits below fail on their own
  })()
  const timer = new Promise((_, reject) => setTimeout(() => reject(new Error('the stream never said it was subscribed (retry:)')), 15000).unref())
  await Promise.race([ready, timer])
  return stream
}
