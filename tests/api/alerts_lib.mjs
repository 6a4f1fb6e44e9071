// Helpers for the supervision-loop suites (alerts*.test.mjs, nothing_lost*.test.mjs), on top
// of lib.mjs: the demo world's people, the server's (manual) clock, the scheduler trigger,
// ingest calls with an API key, and a few images.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
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
