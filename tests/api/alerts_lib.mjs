// Helpers for the supervision-loop suites (alerts*.test.mjs, nothing_lost*.test.mjs), on top
// of lib.mjs: the demo world's people, the server's (manual) clock, the scheduler trigger,
// ingest calls with an API key, and a few images.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import zlib from 'node:zlib'

import { ADMIN, api, login } from './lib.mjs'

export const DEMO = Object.freeze({
  city: { username: 'city_reg', password: 'Regulator@2026!' }, // 南通市
  district: { username: 'district_reg', password: 'Regulator@2026!' }, // 崇川区
  otherDistrict: { username: 'other_district_reg', password: 'Regulator@2026!' }, // 通州区
  station: { username: 'station_reg', password: 'Regulator@2026!' }, // 城东分局 (崇川区)
  merchant: { username: 'merchant', password: 'Kitchen@2026!' }, // a unit of 城东分局
})

/** Bearer tokens for the admin and every demo user: { admin, city, district, ... }. */
export async function loginAll(base) {
  const tok = { admin: await login(base, ADMIN.username, ADMIN.password) }
  for (const [name, u] of Object.entries(DEMO)) tok[name] = await login(base, u.username, u.password)
  return tok
}

/** A valid 1×1 PNG (real CRCs), different bytes for each seed so files are not deduplicated. */
export function png(seed = 0) {
  const crcTable = []
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    crcTable[n] = c >>> 0
  }
  const crc = (buf) => {
    let c = 0xffffffff
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const c = Buffer.alloc(4)
    c.writeUInt32BE(crc(td))
    return Buffer.concat([len, td, c])
  }
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0])
  const raw = Buffer.from([0, seed & 0xff, (seed >> 8) & 0xff, (seed >> 16) & 0xff])
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

/** The server's time in ms (the manual clock moves it), via POST /api/v1/admin/clock. */
export async function serverNow(base, adminToken) {
  const r = await api(base, adminToken, 'POST', '/api/v1/admin/clock', { advance_seconds: 0 })
  assert.equal(r.status, 200, `admin/clock: ${r.text}`)
  return Date.parse(r.json.now)
}

/** Moves the manual clock forward. Sessions time out when idle: log in again afterwards. */
export async function advance(base, adminToken, seconds) {
  const r = await api(base, adminToken, 'POST', '/api/v1/admin/clock', { advance_seconds: seconds })
  assert.equal(r.status, 200, `admin/clock: ${r.text}`)
  return Date.parse(r.json.now)
}

/** Runs one scheduler tick now (exists with --manual-clock only). */
export async function runScheduler(base, adminToken) {
  const r = await api(base, adminToken, 'POST', '/api/v1/admin/scheduler/run', {})
  assert.equal(r.status, 200, `scheduler/run: ${r.text}`)
  return r.json
}

/** POST /api/v1/ingest/alerts with an API key. */
export function ingest(base, key, body, headers = {}) {
  return api(base, null, 'POST', '/api/v1/ingest/alerts', body, { 'x-api-key': key, ...headers })
}

/** RFC 3339 in +08:00 for an epoch ms. */
export function rfc3339(ms) {
  const d = new Date(ms + 8 * 3600e3)
  return d.toISOString().replace('Z', '+08:00')
}

export function eventId(prefix = 'evt') {
  return `${prefix}-${crypto.randomUUID()}`
}

/** Creates a fresh PostgreSQL schema; answers the server URL that uses it, or null without PG. */
export function pgSchemaUrl(prefix) {
  const pg = process.env.MINGCHU_TEST_PG
  if (!pg) return null
  const schema = `${prefix}_${crypto.randomBytes(5).toString('hex')}`
  const r = spawnSync('psql', [pg, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE SCHEMA ${schema}`], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`psql CREATE SCHEMA failed: ${r.stderr || r.error}`)
  return { url: `${pg}${pg.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`, schema }
}

export function dropPgSchema(schema) {
  const pg = process.env.MINGCHU_TEST_PG
  if (pg && schema) spawnSync('psql', [pg, '-q', '-c', `DROP SCHEMA IF EXISTS ${schema} CASCADE`], { encoding: 'utf8' })
}

/** Runs fn over items with at most n in flight; answers the results in order. */
export async function pool(items, n, fn) {
  const out = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
  return out
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * Nothing lost (issue 3): sends alert events from many concurrent senders, kills the server
 * with SIGKILL at a random moment, restarts it on the same data and proves that every event
 * answered 202 is stored exactly once — for `cycles` kill points. opts:
 *   startServer: the lib.mjs function; env: extra env (MINGCHU_DB for PostgreSQL);
 *   cycles, senders, log(msg).
 * Exactly once is shown two ways after each restart: (1) every sent event is sent again — an
 * acknowledged one must come back `duplicate` with its original alert_id; (2) the capture
 * counts of all alerts of the unit grow by exactly the number of distinct event ids sent.
 */
export async function nothingLost({ startServer, env = {}, cycles = 10, senders = 32, log = () => {} }) {
  let srv = await startServer({ demo: true, env })
  const dataDir = srv.dataDir
  const stats = { acked: 0, sent: 0, unackedButStored: 0, kills: 0 }
  try {
    let tok = await login(srv.base, ADMIN.username, ADMIN.password)
    const cams = await api(srv.base, tok, 'GET', '/api/v1/cameras?page_size=1')
    const unit = cams.json.items[0].unit_id
    const unitCams = (await api(srv.base, tok, 'GET', `/api/v1/cameras?unit_id=${unit}&page_size=10`)).json.items.map((c) => c.id)
    const k = await api(srv.base, tok, 'POST', '/api/v1/api-keys', { name: 'nothing-lost box', scope: { unit_id: unit, ingest_only: true } })
    assert.equal(k.status, 201, k.text)
    const key = k.json.key
    const types = ['rodent', 'smoking', 'no_mask']

    const captures = async (base) => {
      const t = await login(base, ADMIN.username, ADMIN.password)
      let sum = 0
      for (let page = 1; ; page++) {
        const r = await api(base, t, 'GET', `/api/v1/alerts?unit_id=${unit}&page_size=200&page=${page}`)
        assert.equal(r.status, 200, r.text)
        for (const a of r.json.items) sum += a.capture_count
        if (page * 200 >= r.json.total) return sum
      }
    }
    const baseline = await captures(srv.base)
    let distinct = 0

    for (let cycle = 1; cycle <= cycles; cycle++) {
      if (!srv.alive()) srv = await startServer({ dataDir, env, createAdmin: false })
      const base = srv.base
      const sent = new Map() // event_id → event
      const acked = new Map() // event_id → alert_id
      let stop = false
      let n = 0
      const makeEvent = () => {
        const i = n++
        const ev = { event_id: `c${cycle}-${i}-${crypto.randomBytes(3).toString('hex')}`, camera_id: unitCams[i % unitCams.length],
          type: types[i % types.length], occurred_at: rfc3339(Date.now()) }
        sent.set(ev.event_id, ev)
        return ev
      }
      const sender = async (w) => {
        for (let req = 0; !stop; req++) {
          const batch = (w + req) % 4 === 0
          const events = batch ? Array.from({ length: 10 }, makeEvent) : [makeEvent()]
          let r
          try {
            r = await ingest(base, key, batch ? { events } : events[0])
          } catch {
            return // the server is gone
          }
          if (batch && (r.status === 202 || r.status === 207)) {
            for (const x of r.json.results) if (x.status === 202) acked.set(x.event_id, x.alert_id)
          } else if (!batch && r.status === 202) {
            acked.set(r.json.event_id, r.json.alert_id)
          } else if (r.status !== 503) {
            assert.fail(`unexpected answer ${r.status}: ${r.text}`)
          }
        }
      }
      const workers = Array.from({ length: senders }, (_, w) => sender(w))
      const killAfter = 150 + Math.floor(Math.random() * 900)
      await sleep(killAfter)
      await srv.kill()
      stats.kills++
      stop = true
      await Promise.allSettled(workers)

      srv = await startServer({ dataDir, env, createAdmin: false })
      // (1) send everything again: what was acknowledged must be there, with its alert
      const all = [...sent.values()]
      let storedBefore = 0
      for (let i = 0; i < all.length; i += 1000) {
        const r = await ingest(srv.base, key, { events: all.slice(i, i + 1000) })
        assert.equal(r.status, 202, `resend after restart: ${r.status} ${r.text.slice(0, 500)}`)
        for (const x of r.json.results) {
          if (acked.has(x.event_id)) {
            assert.equal(x.duplicate, true, `acknowledged event ${x.event_id} was lost (cycle ${cycle})`)
            assert.equal(x.alert_id, acked.get(x.event_id), `acknowledged event ${x.event_id} changed alert`)
          }
          if (x.duplicate) storedBefore++
        }
      }
      distinct += sent.size
      // (2) exactly once: every distinct event id is one capture, no more, no less
      assert.equal(await captures(srv.base) - baseline, distinct, `capture counts after cycle ${cycle}`)
      stats.sent += sent.size
      stats.acked += acked.size
      stats.unackedButStored += storedBefore - acked.size
      log(`cycle ${cycle}: killed after ${killAfter} ms; sent ${sent.size}, acknowledged ${acked.size}, ` +
        `stored before the kill ${storedBefore}`)
    }
    return stats
  } finally {
    await srv.stop({ keepData: true })
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
