// `mingchu backup` / `mingchu restore` (API.md "Backup", issue 13 item 12): a backup taken
// while events are being ingested restores into an empty directory with every table equal,
// row for row, to the backup's snapshot (restore checks each table against the manifest's
// digests); the restored platform serves the same people, files, keys and receipts, and its
// audit chain verifies. Tampered, partial and mis-addressed restores are refused.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/backup.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { ADMIN, BIN, REPO, api, idNumber, login, multipart, startServer, uscc } from './lib.mjs'
import { dropPgSchema, eventId, ingest, pgSchemaUrl, png, rfc3339 } from './alerts_lib.mjs'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-backup-'))
const passFile = path.join(tmp, 'pass')
fs.writeFileSync(passFile, 'correct horse battery staple\n')
const wrongPass = path.join(tmp, 'wrong')
fs.writeFileSync(wrongPass, 'incorrect horse battery staple\n')

const cli = (args) => spawnSync(BIN, args, { cwd: REPO, encoding: 'utf8', timeout: 120000 })
/** Runs the CLI without blocking the event loop (the ingest senders keep going meanwhile). */
const cliAsync = (args) => new Promise((resolve) => {
  const p = spawn(BIN, args, { cwd: REPO })
  let out = ''
  p.stdout.on('data', (d) => { out += d })
  p.stderr.on('data', (d) => { out += d })
  p.on('close', (status) => resolve({ status, out }))
})

async function seed(srv) {
  const t = await login(srv.base, ADMIN.username, ADMIN.password)
  const call = (m, p, b) => api(srv.base, t, m, p, b)
  const jur = async (parent_id, level, code, name) => (await call('POST', '/api/v1/jurisdictions', { parent_id, level, code, name })).json.id
  const province = await jur(undefined, 'province', '320000', '江苏省')
  const city = await jur(province, 'city', '320600', '南通市')
  const dist = await jur(city, 'district', '320602', '崇川区')
  const up = multipart([{ name: 'file', filename: 'licence.png', contentType: 'image/png', data: png(42) }])
  const file = await api(srv.base, t, 'POST', '/api/v1/files', up.body, { 'content-type': up.contentType })
  assert.equal(file.status, 201, file.text)
  const unit = await call('POST', '/api/v1/units', {
    name: '南通小学食堂', jurisdiction_id: dist, store_type: 'school_canteen', licence_number: 'JY13206020012345',
    uscc: uscc(3), licence_image_ids: [file.json.id],
  })
  assert.equal(unit.status, 201, unit.text)
  const cam = await call('POST', '/api/v1/cameras', { unit_id: unit.json.id, name: '后厨', area: 'cooking' })
  const staff = await call('POST', '/api/v1/staff', { unit_id: unit.json.id, name: '张三', id_number: idNumber(5), phone: '13812345678' })
  assert.equal(staff.status, 201, staff.text)
  const key = await call('POST', '/api/v1/api-keys', { name: 'box', scope: { unit_id: unit.json.id, ingest_only: true } })
  return { token: t, unit: unit.json.id, cam: cam.json.id, staff: staff.json.id, file: file.json.id, key: key.json.key }
}

/** Ingests from `n` senders until stop() is called; answers the acknowledged event ids in order. */
function ingestLoop(srv, w, n = 8) {
  let running = true
  const acked = []
  const types = ['smoking', 'no_mask', 'rodent', 'no_hat']
  const senders = Array.from({ length: n }, async (_, s) => {
    for (let i = 0; running; i++) {
      const id = eventId(`b${s}`)
      const r = await ingest(srv.base, w.key, { event_id: id, camera_id: w.cam, type: types[i % types.length], occurred_at: rfc3339(Date.now() - 1000) })
      if (r.status === 202) acked.push(id)
      else if (running) throw new Error(`ingest: ${r.status} ${r.text}`)
    }
  })
  return { acked, stop: async () => { running = false; await Promise.all(senders) } }
}

async function roundTrip({ env = {}, restoreDb, label }) {
  const srv = await startServer({ env })
  const w = await seed(srv)
  const loop = ingestLoop(srv, w)
  while (loop.acked.length < 200) await new Promise((r) => setImmediate(r))
  const before = loop.acked.slice()
  const file = path.join(tmp, `${label}.mcbk`)
  const dbArgs = env.MINGCHU_DB ? ['--db', env.MINGCHU_DB] : []
  const b = await cliAsync(['backup', '--data', srv.dataDir, ...dbArgs, '--out', file, '--passphrase-file', passFile])
  const during = loop.acked.length
  await loop.stop()
  assert.equal(b.status, 0, b.out)
  assert.ok(loop.acked.length > before.length, 'events kept being acknowledged while the backup ran')
  await srv.stop({ keepData: true })

  const target = path.join(tmp, `${label}-restored`)
  if (restoreDb?.before) restoreDb.before()
  const r = cli(['restore', '--in', file, '--data', target, ...(restoreDb ? ['--db', restoreDb.url] : []), '--passphrase-file', passFile])
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /tables match the backup row for row/)
  const v = cli(['audit', 'verify', '--data', target, ...(restoreDb ? ['--db', restoreDb.url] : [])])
  assert.equal(v.status, 0, v.stdout + v.stderr)

  const again = await startServer({ dataDir: target, createAdmin: false, env: restoreDb ? { MINGCHU_DB: restoreDb.url } : {} })
  try {
    const t = await login(again.base, ADMIN.username, ADMIN.password)
    // every event acknowledged before the backup started is there, with its receipt
    for (const id of before) {
      const rc = await api(again.base, null, 'GET', `/api/v1/ingest/alerts/${id}`, undefined, { 'x-api-key': w.key })
      assert.equal(rc.status, 200, `receipt of ${id}: ${rc.text}`)
    }
    // the uploaded file and the encrypted personal data (the key came back)
    const f = await api(again.base, t, 'GET', `/api/v1/files/${w.file}`)
    assert.equal(f.status, 200)
    assert.deepEqual(f.bytes, png(42))
    const s = await api(again.base, t, 'GET', `/api/v1/staff/${w.staff}`)
    assert.equal(s.status, 200, s.text)
    assert.equal(s.json.phone, '13812345678')
    const alerts = await api(again.base, t, 'GET', '/api/v1/alerts?page_size=1')
    assert.ok(alerts.json.total >= 1)
  } finally {
    await again.stop()
  }
  return { file, during }
}

test('SQLite: a backup taken during ingest restores every table row for row; the restored platform works', async () => {
  const { file } = await roundTrip({ label: 'sqlite' })

  // refusals: each answers exit 4 naming the entry, or 2 for what the caller gave wrong
  const bytes = fs.readFileSync(file)
  const tampered = Buffer.from(bytes)
  tampered[Math.floor(bytes.length / 2)] ^= 0x55
  fs.writeFileSync(path.join(tmp, 'tampered'), tampered)
  let r = cli(['restore', '--in', path.join(tmp, 'tampered'), '--data', path.join(tmp, 't1'), '--passphrase-file', passFile])
  assert.equal(r.status, 4, r.stdout + r.stderr)
  assert.match(r.stderr, /backup entry '[^']+'/)
  assert.deepEqual(fs.readdirSync(path.join(tmp, 't1')), [], 'nothing left behind')

  fs.writeFileSync(path.join(tmp, 'partial'), bytes.subarray(0, Math.floor(bytes.length * 0.7)))
  r = cli(['restore', '--in', path.join(tmp, 'partial'), '--data', path.join(tmp, 't2'), '--passphrase-file', passFile])
  assert.equal(r.status, 4, r.stdout + r.stderr)
  assert.match(r.stderr, /partial/)

  r = cli(['restore', '--in', file, '--data', path.join(tmp, 't3'), '--passphrase-file', wrongPass])
  assert.equal(r.status, 2, r.stdout + r.stderr)
  assert.match(r.stderr, /passphrase/)

  fs.mkdirSync(path.join(tmp, 't4'))
  fs.writeFileSync(path.join(tmp, 't4', 'something'), 'x')
  r = cli(['restore', '--in', file, '--data', path.join(tmp, 't4'), '--passphrase-file', passFile])
  assert.equal(r.status, 2, r.stdout + r.stderr)
  assert.match(r.stderr, /empty data directory/)
})

test('PostgreSQL: the same round trip through pg_dump and psql', async (t) => {
  const src = pgSchemaUrl('bk_src')
  if (!src) return t.skip('MINGCHU_TEST_PG is not set')
  const dst = pgSchemaUrl('bk_dst')
  try {
    // the dump recreates its schema by name: restore into a database where it is gone
    await roundTrip({
      label: 'pg',
      env: { MINGCHU_DB: src.url },
      restoreDb: { url: src.url, before: () => dropPgSchema(src.schema) },
    })
  } finally {
    dropPgSchema(src.schema)
    dropPgSchema(dst.schema)
  }
})

after(() => fs.rmSync(tmp, { recursive: true, force: true }))
