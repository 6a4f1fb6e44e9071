// "Nothing may assume it is the only node": two `mingchu serve` processes over ONE PostgreSQL
// (a fresh schema of MINGCHU_TEST_PG), sharing the field key as a deployment must.
//   - both run the dispatcher: every webhook delivery is sent exactly once (leases), every
//     event arrives, whichever node took it in;
//   - an SSE client on node B sees the alert ingested through node A (each hub reads the
//     shared outbox).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Server, USERS, WebhookReceiver, freePort, openSse, waitFor } from './push_helpers.mjs'

const PG = process.env.MINGCHU_TEST_PG
const PSQL = '/usr/lib/postgresql/15/bin/psql'
const SECRET = 'multinode-' + crypto.randomBytes(8).toString('hex')
const schema = 't_push_' + crypto.randomBytes(4).toString('hex')
let a
let b

function psql(sql) {
  const r = spawnSync(PSQL, [PG, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8', timeout: 30000 })
  assert.equal(r.status, 0, `psql: ${r.stderr}`)
}

before(async () => {
  assert.ok(PG, 'MINGCHU_TEST_PG is not set: source /tmp/mingchu-svc/env (scripts/services.sh start)')
  psql(`CREATE SCHEMA ${schema}`)
  const db = `${PG}${PG.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`
  const config = `
[notify]
poll_ms = 50
sse_poll_ms = 100
backoff_base_ms = 200
backoff_cap_seconds = 2
webhook_parallel = 3
# the receivers of this test listen on loopback: webhooks may reach it only when allowed
webhook_allow_networks = ["127.0.0.0/8", "::1"]
`
  a = new Server({ args: ['--db', db], config, env: { MINGCHU_NODE_ID: 'node-a' } })
  await a.start() // seeds the demo city
  const dirB = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-push-b-'))
  fs.copyFileSync(path.join(a.dataDir, 'field.key'), path.join(dirB, 'field.key'))
  b = new Server({ args: ['--db', db], config, env: { MINGCHU_NODE_ID: 'node-b' }, dataDir: dirB })
  await b.start()
})

after(async () => {
  await a?.stop()
  await b?.stop()
  if (PG) psql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

test('two dispatchers over one database: each delivery sent once, every event delivered', async () => {
  const receiver = new WebhookReceiver(await freePort(), SECRET)
  await receiver.up()
  try {
    const adminA = await a.login(USERS.admin)
    const adminB = await b.login(USERS.admin)
    const hook = await a.api('POST', '/api/v1/webhooks', {
      token: adminA,
      body: { url: receiver.url(), events: ['alert.created'], secret: SECRET },
      expect: 201,
    })
    const cams = (await a.api('GET', '/api/v1/cameras?page_size=200', { token: adminA })).items
    const types = (await a.api('GET', '/api/v1/alert-types', { token: adminA })).items.map((t) => t.code)
    const N = 40
    const alertIds = []
    for (let i = 0; i < N; i++) {
      const node = i % 2 ? b : a
      const token = i % 2 ? adminB : adminA
      const r = await node.api('POST', '/api/v1/ingest/alerts', {
        token,
        body: { event_id: `mn-${crypto.randomUUID()}`, camera_id: cams[i].id, type: types[i % types.length], occurred_at: new Date().toISOString() },
        expect: 202,
      })
      alertIds.push(r.alert_id)
    }
    const log = await waitFor('every delivery delivered', async () => {
      const r = await a.api('GET', `/api/v1/webhooks/${hook.id}/deliveries?page_size=200`, { token: adminA })
      return r.total >= N && r.items.every((d) => d.state === 'delivered') ? r.items : null
    }, { timeout: 60000 })
    assert.ok(receiver.requests.every((r) => r.valid), 'both nodes sign with the shared secret')
    const perDelivery = new Map()
    for (const r of receiver.requests) {
      const id = r.headers['x-mingchu-delivery']
      perDelivery.set(id, (perDelivery.get(id) || 0) + 1)
    }
    assert.equal(perDelivery.size, log.length)
    assert.ok([...perDelivery.values()].every((n) => n === 1), 'no delivery was sent twice')
    assert.ok(log.every((d) => d.attempts === 1))
    const got = new Set(receiver.requests.map((r) => JSON.parse(r.body).alert.id))
    for (const id of alertIds) assert.ok(got.has(id), `alert ${id} delivered`)
    // both nodes did part of the work
    const ma = await a.metrics()
    const mb = await b.metrics()
    const sent = (m) => Number((m.match(/mingchu_notify_deliveries_total\{channel="webhook",result="delivered"\} (\d+)/) || [0, 0])[1])
    assert.equal(sent(ma) + sent(mb), log.length)
  } finally {
    await receiver.down()
  }
})

test('an SSE client on node B sees an alert ingested through node A', async () => {
  const district = await b.login(USERS.district)
  const stream = await openSse(b.base, district)
  try {
    const adminA = await a.login(USERS.admin)
    const cams = (await a.api('GET', '/api/v1/cameras?page_size=200', { token: district })).items
    const r = await a.api('POST', '/api/v1/ingest/alerts', {
      token: adminA,
      body: { event_id: `mn-sse-${crypto.randomUUID()}`, camera_id: cams[cams.length - 1].id, type: 'smoking', occurred_at: new Date().toISOString() },
      expect: 202,
    })
    await waitFor('the alert on node B\'s stream', () =>
      stream.events.some((e) => e.event === 'alert.created' && JSON.parse(e.data).alert?.id === r.alert_id))
  } finally {
    stream.close()
  }
})
