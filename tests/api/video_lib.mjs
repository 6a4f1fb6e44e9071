// Real RTSP cameras for the video tests: scripts/rtsp_camera.py (a GStreamer RTSP server from
// Debian's packages) on a free loopback port, and ffprobe to check what the platform serves.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { REPO, freePort } from './lib.mjs'

const PY = '/usr/bin/python3' // Debian's python, which has gi (GStreamer)

/** Starts a camera; answers { port, url(path), stop(), kill() }. Reuses `port` when given. */
export async function startCamera({ port, user, password, images } = {}) {
  port = port || (await freePort())
  const args = [path.join(REPO, 'scripts', 'rtsp_camera.py'), '--port', String(port)]
  if (user) args.push('--user', user, '--password', password)
  if (images) args.push('--images', images)
  for (let attempt = 0; ; attempt++) {
    const proc = spawn(PY, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const ready = await new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), 15000)
      proc.stdout.on('data', (d) => {
        out += d
        if (out.includes('READY')) {
          clearTimeout(t)
          resolve(true)
        }
      })
      proc.stderr.on('data', (d) => (out += d))
      proc.on('exit', () => {
        clearTimeout(t)
        resolve(false)
      })
    })
    if (ready) {
      const exited = new Promise((resolve) => proc.on('exit', resolve))
      return {
        port,
        url: (p = '/h264') => `rtsp://${user ? `${user}:${password}@` : ''}127.0.0.1:${port}${p}`,
        async stop() {
          if (proc.exitCode === null) {
            proc.kill('SIGTERM')
            await exited
          }
        },
      }
    }
    proc.kill('SIGKILL')
    // a port just released may still be held for a moment
    if (attempt >= 5) throw new Error(`rtsp_camera.py did not start on ${port}:\n${out}`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** ffprobe of bytes: { streams: [...], format: {...} } or throws with ffprobe's error. */
export function probe(bytes, ext = 'ts') {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-probe-')), `x.${ext}`)
  fs.writeFileSync(f, bytes)
  try {
    const r = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-count_frames', '-of', 'json', f], {
      encoding: 'utf8',
      timeout: 30000,
    })
    if (r.status !== 0) throw new Error(`ffprobe failed: ${r.stderr}`)
    return JSON.parse(r.stdout)
  } finally {
    fs.rmSync(path.dirname(f), { recursive: true, force: true })
  }
}

/** Decodes every frame of the bytes; answers ffmpeg's error output ('' when clean). */
export function decodeErrors(bytes, ext = 'ts') {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-dec-')), `x.${ext}`)
  fs.writeFileSync(f, bytes)
  try {
    const r = spawnSync('ffmpeg', ['-v', 'error', '-i', f, '-f', 'null', '-'], { encoding: 'utf8', timeout: 60000 })
    return r.status === 0 ? r.stderr.trim() : `exit ${r.status}: ${r.stderr}`
  } finally {
    fs.rmSync(path.dirname(f), { recursive: true, force: true })
  }
}

/** Reads a streaming response for `ms` (or until `bytes`), answers { bytes, firstByteMs }. */
export async function readStream(url, { ms = 2000, bytes = Infinity } = {}) {
  const ac = new AbortController()
  const t0 = Date.now()
  const res = await fetch(url, { signal: ac.signal })
  const chunks = []
  let n = 0
  let firstByteMs = null
  const timer = setTimeout(() => ac.abort(), ms)
  try {
    for await (const c of res.body) {
      if (firstByteMs === null) firstByteMs = Date.now() - t0
      chunks.push(Buffer.from(c))
      n += c.length
      if (n >= bytes) break
    }
  } catch {
    /* aborted: done */
  } finally {
    clearTimeout(timer)
    ac.abort()
  }
  return { status: res.status, headers: res.headers, bytes: Buffer.concat(chunks), firstByteMs }
}

/** Polls fn until it returns a truthy value (or throws after timeoutMs). */
export async function until(fn, { timeoutMs = 20000, everyMs = 250, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    last = await fn()
    if (last) return last
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** The SM3 digest of bytes (Node's OpenSSL 3 has it). */
export async function sm3(bytes) {
  const { createHash } = await import('node:crypto')
  return createHash('sm3').update(bytes).digest('hex')
}
