// Shared helpers for the API suites (node:test, Node 20, no npm dependencies).
//
//   const srv = await startServer({ demo: false, args: ['--manual-clock'], env: {} })
//   const token = await login(srv.base, ADMIN.username, ADMIN.password)
//   const r = await api(srv.base, token, 'POST', '/api/v1/units', { ... })
//   r.status, r.json (parsed, or undefined), r.text, r.headers, r.bytes (Buffer)
//   await srv.stop()
//
// startServer creates a fresh data directory (or reuses opts.dataDir, e.g. to restart after
// kill()), creates the platform admin ADMIN there with `mingchu admin create-user` unless
// opts.createAdmin is false, starts `mingchu serve` on a free loopback port and waits for
// /healthz. The binary is $MINGCHU_BIN or build/mingchu under the repository root.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import assert from 'node:assert/strict'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BIN = path.resolve(REPO, process.env.MINGCHU_BIN || 'build/mingchu')
// (The password must not contain the user name: the policy refuses 'Admin@2026!x' for 'admin'.)
export const ADMIN = Object.freeze({ username: 'admin', password: 'Mingchu@2026!x' })

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * Starts `mingchu serve`. Options:
 *   args: extra command-line arguments for serve
 *   env: extra environment variables
 *   demo: pass --demo
 *   dataDir: reuse this data directory (no new admin unless createAdmin is true)
 *   createAdmin: create ADMIN first (default: true for a fresh directory)
 *   timeoutMs: how long to wait for /healthz (default 60 s)
 *   port: listen on this loopback port (default: a free one)
 * Returns { base, port, dataDir, proc, log(), stop(), kill() }. stop() ends the server with
 * SIGTERM (SIGKILL after 10 s) and removes a data directory it created unless keepData;
 * kill() sends SIGKILL and keeps the data directory (to test recovery).
 */
export async function startServer(opts = {}) {
  const { args = [], env = {}, demo = false, timeoutMs = 60000 } = opts
  if (!fs.existsSync(BIN)) throw new Error(`mingchu binary not found at ${BIN}: build it or set MINGCHU_BIN`)
  const fresh = !opts.dataDir
  const dataDir = opts.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-api-'))
  const childEnv = { ...process.env, ...env }
  if (opts.createAdmin ?? fresh) {
    const r = spawnSync(
      BIN,
      ['admin', 'create-user', '--data', dataDir, '--username', ADMIN.username, '--password', ADMIN.password,
        '--role', 'platform_admin'],
      { cwd: REPO, env: childEnv, encoding: 'utf8', timeout: 60000 },
    )
    if (r.status !== 0) {
      throw new Error(`mingchu admin create-user failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`)
    }
  }
  const port = opts.port ?? (await freePort()) // opts.port: restart where peers expect it
  const base = `http://127.0.0.1:${port}`
  const argv = ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, ...(demo ? ['--demo'] : []), ...args]
  const proc = spawn(BIN, argv, { cwd: REPO, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (d) => {
    output = (output + d.toString()).slice(-20000)
  }
  proc.stdout.on('data', keep)
  proc.stderr.on('data', keep)
  let exited = null
  const exit = new Promise((resolve) =>
    proc.on('exit', (code, signal) => {
      exited = `exit code ${code}, signal ${signal}`
      resolve()
    }),
  )

  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (exited) throw new Error(`mingchu serve stopped before it was healthy (${exited}):\n${output}`)
    try {
      const r = await fetch(base + '/healthz')
      if (r.ok) break
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error(`mingchu serve not healthy after ${timeoutMs} ms:\n${output}`)
    }
    await sleep(100)
  }

  return {
    base,
    port,
    dataDir,
    proc,
    log: () => output,
    alive: () => exited === null,
    async stop({ keepData = false } = {}) {
      if (exited === null) {
        proc.kill('SIGTERM')
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000)
        await exit
        clearTimeout(t)
      }
      if (fresh && !keepData) fs.rmSync(dataDir, { recursive: true, force: true })
    },
    async kill() {
      if (exited === null) {
        proc.kill('SIGKILL')
        await exit
      }
    },
  }
}

/**
 * Calls the API. body: a plain object or array is sent as JSON; a string or Buffer is sent as
 * is (with Content-Type application/json unless headers say otherwise); FormData is sent as
 * multipart. Never throws on an HTTP status; answers
 * { status, headers, text, json, bytes }.
 */
export async function api(base, token, method, urlPath, body, headers = {}) {
  const h = { ...headers }
  if (token) h.authorization = `Bearer ${token}`
  let payload
  if (body !== undefined && body !== null) {
    if (typeof body === 'string' || Buffer.isBuffer(body) || body instanceof Uint8Array) {
      payload = body
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json'
    } else if (typeof FormData !== 'undefined' && body instanceof FormData) {
      payload = body
    } else {
      payload = JSON.stringify(body)
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json'
    }
  }
  const res = await fetch(base + urlPath, { method, headers: h, body: payload })
  const bytes = Buffer.from(await res.arrayBuffer())
  const text = bytes.toString('utf8')
  let json
  if ((res.headers.get('content-type') || '').includes('application/json') && text.length) {
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
  }
  return { status: res.status, headers: res.headers, text, json, bytes }
}

/** Logs in and answers the bearer token; throws with the server's answer on failure. */
export async function login(base, username, password) {
  const r = await api(base, null, 'POST', '/api/v1/auth/login', { username, password })
  if (r.status !== 200 || !r.json?.token) throw new Error(`login as ${username} failed: ${r.status} ${r.text}`)
  return r.json.token
}

/**
 * A multipart/form-data body built by hand (so tests control every byte, e.g. hostile file
 * names). parts: [{ name, filename?, contentType?, data: string | Buffer }].
 * Answers { body: Buffer, contentType }.
 */
export function multipart(parts, boundary = '----mingchu' + Math.random().toString(16).slice(2)) {
  const chunks = []
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`
    if (p.filename !== undefined) head += `; filename="${p.filename}"`
    head += '\r\n'
    if (p.contentType) head += `Content-Type: ${p.contentType}\r\n`
    chunks.push(Buffer.from(head + '\r\n', 'utf8'), Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data, 'utf8'),
      Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}

// ------------------------------------------------------------ valid identifiers for fixtures

const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY'

/** first17 + its GB 32100 check character (unified social credit code). */
export function usccWithCheck(first17) {
  let sum = 0
  let w = 1
  for (let i = 0; i < 17; i++) {
    const v = USCC_ALPHABET.indexOf(first17[i])
    if (v < 0) throw new Error(`not a USCC character: ${first17[i]}`)
    sum += v * w
    w = (w * 3) % 31
  }
  const c = (31 - (sum % 31)) % 31
  return first17 + USCC_ALPHABET[c]
}

/** A valid unified social credit code, different for each n (0 ≤ n < 10^7). */
export function uscc(n) {
  return usccWithCheck('91320602MA' + String(1000000 + n).slice(-7))
}

/** first17 digits + the GB 11643 check character (resident identity number). */
export function idNumberWithCheck(first17) {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  let sum = 0
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * weights[i]
  return first17 + '10X98765432'[sum % 11]
}

/** A valid identity number born 1990-01-01 in 320602, different for each n < 1000. */
export function idNumber(n) {
  return idNumberWithCheck('32060219900101' + String(n).padStart(3, '0'))
}

/** A 4xx/5xx answer with the project's error body: status, a code, a message, and the field named. */
export function expectError(r, status, field, context) {
  assert.equal(r.status, status, `${context}: expected ${status}, got ${r.status} ${r.text}`)
  assert.ok(r.json?.error?.code, `${context}: error body has a code: ${r.text}`)
  assert.equal(typeof r.json.error.message, 'string', `${context}: error body has a message`)
  if (field) assert.equal(r.json.error.field, field, `${context}: error names the field: ${r.text}`)
}

/** The server survived what was just sent: its process is up and /healthz answers 200. */
export async function assertServerAlive(srv, context) {
  assert.ok(srv.alive(), `server died after ${context}:\n${srv.log()}`)
  assert.equal((await fetch(srv.base + '/healthz')).status, 200, `healthz after ${context}`)
}
