// Data push and device messaging against the REAL services of scripts/services.sh:
//   - a webhook receiver that is DOWN (connection refused) while alerts are ingested, then
//     comes UP and receives every event, exactly once per idempotency key, each signature
//     valid (the receiver also answers 500 to the first try of each event: retries happen);
//   - RabbitMQ: every event arrives on the topic exchange as a persistent JSON message whose
//     message_id is the event id;
//   - the SSE stream: a regulator gets alert.created for an alert in scope and never one of
//     another district; a merchant only their own units';
//   - the fake SMS/voice gateway gets messages for class-1 alerts only;
//   - MQTT: events published (mosquitto_pub -q 1) while the server is stopped become alerts
//     once it is back (persistent session); a malformed one is counted and stops nothing.
//
// Env: MINGCHU_BIN (default build/mingchu), MINGCHU_TEST_AMQP, MINGCHU_TEST_MQTT (from
// /tmp/mingchu-svc/env). The tests fail, never skip, when a service is missing.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import amqp from 'amqplib'
import { FakeSmsGateway } from './fake_sms_gateway.mjs'
import { Server, USERS, WebhookReceiver, freePort, openSse, waitFor } from './push_helpers.mjs'

const AMQP_URL = process.env.MINGCHU_TEST_AMQP
const MQTT_URL = process.env.MINGCHU_TEST_MQTT
const SECRET = 'whsec-' + crypto.randomBytes(12).toString('hex')
const CLIENT_ID = 'mingchu-push-test-' + crypto.randomBytes(3).toString('hex')

let server
let sms
let admin
let types // { class1: code, other: code }
const ingested = [] // {alert_id, camera_id, unit_id, type}

function iso(ms = Date.now()) {
  return new Date(ms).toISOString()
}

async function ingest(token, event) {
  const r = await server.api('POST', '/api/v1/ingest/alerts', { token, body: event, expect: 202 })
  assert.equal(r.merged, false, 'each test event opens a new alert (fresh camera and type)')
  ingested.push({ ...event, alert_id: r.alert_id })
  return r
}

// A camera not used yet with this alert type, so the event opens a new alert instead of
// folding into an open one (which sends no alert.created).
const used = new Set()
function fresh(cams, type, pred = () => true) {
  const cam = cams.find((c) => pred(c) && !used.has(`${c.id}|${type}`))
  assert.ok(cam, `a camera not used with ${type}`)
  used.add(`${cam.id}|${type}`)
  return cam
}

async function listAll(path, token) {
  const out = []
  for (let page = 1; ; page++) {
    const sep = path.includes('?') ? '&' : '?'
    const r = await server.api('GET', `${path}${sep}page=${page}&page_size=200`, { token })
    out.push(...r.items)
    if (out.length >= r.total || r.items.length === 0) return out
  }
}

// Cameras visible to a user, grouped by unit.
async function cameras(token) {
  return listAll('/api/v1/cameras', token)
}

before(async () => {
  assert.ok(AMQP_URL, 'MINGCHU_TEST_AMQP is not set: source /tmp/mingchu-svc/env (scripts/services.sh start)')
  assert.ok(MQTT_URL, 'MINGCHU_TEST_MQTT is not set: source /tmp/mingchu-svc/env (scripts/services.sh start)')
  sms = await new FakeSmsGateway().start()
  const config = `
[notify]
poll_ms = 50
sse_poll_ms = 100
backoff_base_ms = 200
backoff_cap_seconds = 2
max_attempts = 30
# the receivers of this test listen on loopback: webhooks may reach it only when allowed
webhook_allow_networks = ["127.0.0.0/8", "::1"]

[notify.sms]
url = "${sms.url()}"
template = '{"phone":"{phone}","alert_id":"{alert_id}","class":"{class}","unit":"{unit}","type":"{type}","time":"{time}","event_id":"{event_id}"}'

[notify.sms.duty]
"320602" = "0513-85550000"

[mqtt]
client_id = "${CLIENT_ID}"
`
  server = new Server({ args: ['--amqp', AMQP_URL, '--mqtt', MQTT_URL], config })
  await server.start()
  admin = await server.login(USERS.admin)
  const all = await server.api('GET', '/api/v1/alert-types', { token: admin })
  const list = all.items || all
  types = {
    class1: list.find((t) => Number(t.risk_class) === 1).code,
    other: list.find((t) => Number(t.risk_class) !== 1).code,
  }
})

after(async () => {
  if (server) {
    await server.stop()
    if (process.exitCode && server.log) console.error(server.log.slice(-4000))
    // end the broker session of this test's client id
    spawnSync('mosquitto_sub', ['-h', mqttHost(), '-p', String(mqttPort()), '-i', CLIENT_ID, '-t', 'none', '-E'], { timeout: 5000 })
  }
  if (sms) await sms.stop()
})

function mqttHost() {
  return new URL(MQTT_URL.replace('mqtt://', 'http://')).hostname
}
function mqttPort() {
  return Number(new URL(MQTT_URL.replace('mqtt://', 'http://')).port || 1883)
}

test('webhook: down while alerts are ingested, then up: every event once by idempotency key, signed', async () => {
  const port = await freePort() // nothing listens there yet: connection refused
  const receiver = new WebhookReceiver(port, SECRET, { failFirst: 1 })
  const district = await server.login(USERS.district)
  const hook = await server.api('POST', '/api/v1/webhooks', {
    token: admin,
    body: { url: receiver.url('/mingchu'), events: ['*'], secret: SECRET, description: 'push test' },
    expect: 201,
  })
  assert.equal(hook.secret, undefined, 'the secret is never returned')
  // refused: other schemes, weak secrets
  await server.api('POST', '/api/v1/webhooks', { token: admin, body: { url: 'ftp://x/', events: ['*'], secret: SECRET }, expect: 422 })
  await server.api('POST', '/api/v1/webhooks', { token: admin, body: { url: receiver.url(), events: ['*'], secret: 'short' }, expect: 422 })
  // merchants have no subtree to subscribe to
  const merchant = await server.login(USERS.merchant)
  await server.api('GET', '/api/v1/webhooks', { token: merchant, expect: 403 })
  // a district regulator does not see the platform's webhook
  const seen = await server.api('GET', '/api/v1/webhooks', { token: district })
  assert.ok(!seen.items.some((w) => w.id === hook.id))

  const cams = await cameras(district)
  const N = 12
  for (let i = 0; i < N; i++) {
    const type = i % 2 ? types.other : types.class1
    await ingest(admin, { event_id: `wh-${crypto.randomUUID()}`, camera_id: fresh(cams, type).id, type, occurred_at: iso() })
  }
  // while down: attempts fail with the transport error
  await waitFor('failed attempts while the receiver is down', async () => {
    const log = await server.api('GET', `/api/v1/webhooks/${hook.id}/deliveries?page_size=200`, { token: admin })
    return log.total >= N && log.items.filter((d) => d.attempts >= 1 && d.last_error).length >= N
  })
  const down = await server.api('GET', `/api/v1/webhooks/${hook.id}/deliveries?state=pending&page_size=5`, { token: admin })
  assert.ok(down.items.every((d) => d.state === 'pending' && d.next_attempt_at && d.last_status === null))
  assert.equal(receiver.requests.length, 0)

  await receiver.up()
  try {
    const log = await waitFor('every delivery delivered after the receiver came up', async () => {
      const all = await listAll(`/api/v1/webhooks/${hook.id}/deliveries`, admin)
      return all.length >= N && all.every((d) => d.state === 'delivered') ? all : null
    }, { timeout: 60000 })
    const accepted = receiver.accepted()
    const logged = new Set(log.map((d) => d.event_id))
    assert.deepEqual(new Set(accepted.keys()), logged, 'the receiver accepted exactly the logged events')
    assert.ok(receiver.requests.every((r) => r.valid), 'every signature verifies')
    assert.ok(receiver.requests.length > accepted.size, 'the first try of each event was answered 500 and retried')
    for (const r of receiver.requests) {
      assert.equal(r.headers['content-type'], 'application/json')
      assert.match(r.headers['x-mingchu-delivery'], /^dlv_/)
      assert.match(r.headers['x-mingchu-timestamp'], /^\d{10}$/)
      const body = JSON.parse(r.body)
      assert.equal(body.id, r.key, 'Idempotency-Key is the event id')
      assert.equal(r.headers['x-mingchu-event'], body.topic)
      assert.equal(body.schema, 'mingchu.event.v1')
    }
    // every ingested alert is in some received event
    const alertIds = new Set([...accepted.values()].map((r) => JSON.parse(r.body).alert?.id))
    for (const a of ingested) assert.ok(alertIds.has(a.alert_id), `alert ${a.alert_id} reached the webhook`)
    assert.ok(log.every((d) => d.attempts >= 2), 'each delivery needed the refused tries and the 500')
  } finally {
    await receiver.down()
  }
  await server.api('DELETE', `/api/v1/webhooks/${hook.id}`, { token: admin, expect: 204 })
  await server.api('GET', `/api/v1/webhooks/${hook.id}`, { token: admin, expect: 404 })
})

test('webhook: a dead delivery is visible and can be retried', async () => {
  const port = await freePort()
  const receiver = new WebhookReceiver(port, SECRET)
  const hook = await server.api('POST', '/api/v1/webhooks', {
    token: admin,
    body: { url: receiver.url(), events: ['alert.created'], secret: SECRET },
    expect: 201,
  })
  const district = await server.login(USERS.district)
  const cams = await cameras(district)
  await ingest(admin, { event_id: `dead-${crypto.randomUUID()}`, camera_id: fresh(cams, types.other).id, type: types.other, occurred_at: iso() })
  // 30 attempts is the configured limit; walk the clock past the backoff to exhaust them
  const dead = await waitFor('the delivery to be dead-lettered', async () => {
    await server.api('POST', '/api/v1/admin/clock', { token: admin, body: { advance_seconds: 3 } })
    const r = await server.api('GET', `/api/v1/webhooks/${hook.id}/deliveries?state=dead`, { token: admin })
    return r.items.length ? r.items[0] : null
  }, { timeout: 60000, every: 50 })
  assert.equal(dead.state, 'dead')
  assert.ok(dead.attempts >= 30)
  assert.ok(dead.last_error)
  const admins = await server.api('GET', `/api/v1/deliveries?state=dead&channel=webhook`, { token: admin })
  assert.ok(admins.items.some((d) => d.id === dead.id))
  await server.api('POST', `/api/v1/deliveries/${dead.id}/retry`, { token: await server.login(USERS.otherDistrict), expect: 404 })
  await receiver.up()
  try {
    const again = await server.api('POST', `/api/v1/deliveries/${dead.id}/retry`, { token: admin })
    assert.equal(again.state, 'pending')
    await server.api('POST', `/api/v1/deliveries/${dead.id}/retry`, { token: admin, expect: 409 })
    await waitFor('the retried delivery to arrive', () => receiver.accepted().size === 1)
  } finally {
    await receiver.down()
    await server.api('DELETE', `/api/v1/webhooks/${hook.id}`, { token: admin, expect: 204 })
  }
})

test('AMQP: every event is a persistent JSON message on the topic exchange, confirmed', async () => {
  const conn = await amqp.connect(AMQP_URL)
  try {
    const ch = await conn.createChannel()
    await ch.assertExchange('mingchu.events', 'topic', { durable: true })
    const q = await ch.assertQueue('', { exclusive: true })
    await ch.bindQueue(q.queue, 'mingchu.events', 'alert.#')
    const got = new Map()
    await ch.consume(q.queue, (msg) => {
      got.set(msg.properties.messageId, msg)
    }, { noAck: true })
    // deliveries made before the queue was bound are not ours to expect
    const earlier = new Set((await listAll('/api/v1/deliveries?channel=amqp', admin)).map((d) => d.id))
    const district = await server.login(USERS.district)
    const cams = await cameras(district)
    const mine = []
    for (let i = 0; i < 5; i++) {
      const r = await ingest(admin, { event_id: `amqp-${crypto.randomUUID()}`, camera_id: fresh(cams, types.class1).id, type: types.class1, occurred_at: iso() })
      mine.push(r.alert_id)
    }
    // the events of these alerts, as the server logged their AMQP deliveries
    const deliveries = await waitFor('AMQP deliveries confirmed', async () => {
      const all = await listAll('/api/v1/deliveries?channel=amqp', admin)
      const fresh = all.filter((d) => !earlier.has(d.id) && d.topic.startsWith('alert.'))
      return fresh.length >= mine.length && fresh.every((d) => d.state === 'delivered') ? fresh : null
    }, { timeout: 30000 })
    await waitFor('every confirmed alert event consumed', () => deliveries.every((d) => got.has(d.event_id)), { timeout: 20000 })
    const bodies = deliveries.map((d) => got.get(d.event_id))
    for (const m of bodies) {
      assert.equal(m.properties.deliveryMode, 2, 'persistent')
      assert.equal(m.properties.contentType, 'application/json')
      const body = JSON.parse(m.content.toString('utf8'))
      assert.equal(body.id, m.properties.messageId)
      assert.equal(m.properties.type, body.topic)
      assert.ok(m.fields.routingKey.startsWith(body.topic + '.'), m.fields.routingKey)
      assert.ok(m.fields.routingKey.endsWith('.' + body.unit.jurisdiction_id), m.fields.routingKey)
    }
    const alertsSeen = new Set(bodies.map((m) => JSON.parse(m.content.toString('utf8')).alert?.id))
    for (const id of mine) assert.ok(alertsSeen.has(id), `alert ${id} published`)
  } finally {
    await conn.close()
  }
})

test('SSE: alert.created reaches the regulators in scope only, and a merchant only for their units', async () => {
  const district = await server.login(USERS.district)
  const other = await server.login(USERS.otherDistrict)
  const merchant = await server.login(USERS.merchant)
  const me = await server.api('GET', '/api/v1/me', { token: merchant })
  const sDistrict = await openSse(server.base, district)
  const sOther = await openSse(server.base, other)
  const sMerchant = await openSse(server.base, merchant)
  try {
    assert.match(sDistrict.contentType, /^text\/event-stream/)
    const dCams = await cameras(district)
    const merchantCam = fresh(dCams, types.class1, (c) => me.unit_ids.includes(c.unit_id))
    const notMerchantCam = fresh(dCams, types.other, (c) => !me.unit_ids.includes(c.unit_id))
    const a1 = await ingest(admin, { event_id: `sse-${crypto.randomUUID()}`, camera_id: notMerchantCam.id, type: types.other, occurred_at: iso() })
    const a2 = await ingest(admin, { event_id: `sse-${crypto.randomUUID()}`, camera_id: merchantCam.id, type: types.class1, occurred_at: iso() })
    const hasAlert = (s, id) => s.events.find((e) => e.event === 'alert.created' && JSON.parse(e.data).alert?.id === id)
    const e1 = await waitFor('the district regulator to get alert.created', () => hasAlert(sDistrict, a1.alert_id))
    assert.ok(e1.id && e1.raw.startsWith('event: alert.created\nid: '), e1.raw.slice(0, 80))
    await waitFor('the merchant to get their alert', () => hasAlert(sMerchant, a2.alert_id))
    await waitFor('the district regulator to get the second', () => hasAlert(sDistrict, a2.alert_id))
    // a marker in the other district, committed after a1 and a2: once its regulator has it,
    // the hub has offered every earlier event to that stream (it publishes in commit order)
    const marker = await ingest(admin, { event_id: `sse-${crypto.randomUUID()}`, camera_id: fresh(await cameras(other), types.other).id, type: types.other, occurred_at: iso() })
    await waitFor('the other district to get its own alert', () => hasAlert(sOther, marker.alert_id))
    assert.ok(!hasAlert(sOther, a1.alert_id) && !hasAlert(sOther, a2.alert_id), 'never an alert of another district')
    assert.ok(!hasAlert(sMerchant, a1.alert_id), 'never another unit of the merchant')
    for (const e of sOther.events) {
      const d = JSON.parse(e.data)
      assert.notEqual(d.unit?.jurisdiction_id, e1 && JSON.parse(e1.data).unit.jurisdiction_id)
    }
  } finally {
    sDistrict.close()
    sOther.close()
    sMerchant.close()
  }
  // no token, no stream
  const r = await fetch(`${server.base}/api/v1/stream`)
  assert.equal(r.status, 401)
})

test('SMS/voice gateway: class-1 alerts only, to the unit and the duty phone', async () => {
  const district = await server.login(USERS.district)
  const cams = await cameras(district)
  const before = sms.received.length
  const c1 = await ingest(admin, { event_id: `sms-${crypto.randomUUID()}`, camera_id: fresh(cams, types.class1).id, type: types.class1, occurred_at: iso() })
  const c2 = await ingest(admin, { event_id: `sms-${crypto.randomUUID()}`, camera_id: fresh(cams, types.other).id, type: types.other, occurred_at: iso() })
  await waitFor('the gateway to get the class-1 alert', () => sms.received.slice(before).some((r) => r.json?.alert_id === c1.alert_id))
  // a class-1 marker committed after c2: once it is sent, c2's outbox row has been fanned out
  // (the dispatcher takes rows in commit order), so an SMS for c2 would have been sent too
  const c3 = await ingest(admin, { event_id: `sms-${crypto.randomUUID()}`, camera_id: fresh(cams, types.class1).id, type: types.class1, occurred_at: iso() })
  await waitFor('the gateway to get the marker', () => sms.received.slice(before).some((r) => r.json?.alert_id === c3.alert_id))
  const all = sms.received
  assert.ok(all.length > 0)
  for (const r of all) {
    assert.ok(r.json, `JSON body: ${r.text}`)
    assert.equal(r.json.class, '1', `only class 1 goes to SMS: ${r.text}`)
    assert.ok(r.headers['idempotency-key'])
  }
  assert.ok(!all.some((r) => r.json.alert_id === c2.alert_id), 'the class-2 alert sent no SMS')
  const forC1 = all.filter((r) => r.json.alert_id === c1.alert_id)
  const phones = new Set(forC1.map((r) => r.json.phone))
  assert.ok(phones.has('0513-85550000'), 'the district duty phone')
  assert.ok(forC1.every((r) => r.json.unit && r.json.type && r.json.time))
})

test('MQTT: events published while the server is stopped become alerts after the restart', async () => {
  // the server subscribed once (persistent session); now it goes away
  await waitFor('the MQTT subscription', async () => /mingchu_mqtt_connected 1/.test(await server.metrics()))
  const district = await server.login(USERS.district)
  const cams = await cameras(district)
  const picks = [fresh(cams, types.other), fresh(cams, types.other), fresh(cams, types.other)]
  await server.stop()
  const ids = picks.map(() => `mqtt-${crypto.randomUUID()}`)
  const pub = (topic, msg) => {
    const r = spawnSync('mosquitto_pub', ['-h', mqttHost(), '-p', String(mqttPort()), '-q', '1', '-t', topic, '-m', msg], { timeout: 10000 })
    assert.equal(r.status, 0, `mosquitto_pub: ${r.stderr}`)
  }
  picks.forEach((cam, i) => {
    pub(`mingchu/${cam.unit_id}/${cam.id}/alerts`, JSON.stringify({ event_id: ids[i], type: types.other, occurred_at: iso() }))
  })
  pub(`mingchu/${picks[0].unit_id}/${picks[0].id}/alerts`, '{"event_id": broken')
  pub(`mingchu/${picks[0].unit_id}/${picks[0].id}/alerts`, JSON.stringify({ event_id: 'x', unit_id: picks[1].unit_id === picks[0].unit_id ? 'unit_elsewhere' : picks[1].unit_id, type: types.other, occurred_at: iso() }))
  await server.start()
  const token = await server.login(USERS.admin)
  for (const cam of picks) {
    await waitFor(`the MQTT alert of camera ${cam.id}`, async () => {
      const r = await server.api('GET', `/api/v1/alerts?camera_id=${cam.id}&type=${types.other}&page_size=50`, { token })
      return r.items.length > 0
    }, { timeout: 30000 })
  }
  const m = await server.metrics()
  assert.match(m, /mingchu_mqtt_rejected_total\{reason="malformed_json"\} [1-9]/)
  assert.match(m, /mingchu_mqtt_rejected_total\{reason="topic_mismatch"\} [1-9]/)
  // publishing the same event again changes nothing (idempotent event_id)
  const path = `/api/v1/alerts?camera_id=${picks[0].id}&type=${types.other}&page_size=50`
  const before = await server.api('GET', path, { token })
  pub(`mingchu/${picks[0].unit_id}/${picks[0].id}/alerts`, JSON.stringify({ event_id: ids[0], type: types.other, occurred_at: iso() }))
  // a marker on the same topic (a new event 3 hours back, outside the dedup window, so a new
  // alert): the subscriber handles one topic's messages in order, so once the marker is an
  // alert the duplicate has been handled
  const markerAt = new Date(Date.now() - 3 * 3600 * 1000).toISOString()
  pub(`mingchu/${picks[0].unit_id}/${picks[0].id}/alerts`, JSON.stringify({ event_id: `mqtt-${crypto.randomUUID()}`, type: types.other, occurred_at: markerAt }))
  let again
  await waitFor('the marker alert', async () => {
    again = await server.api('GET', path, { token })
    return again.items.length === before.items.length + 1
  }, { timeout: 30000 })
  const known = new Set(before.items.map((a) => a.id))
  assert.deepEqual(again.items.filter((a) => known.has(a.id)).map((a) => [a.id, a.capture_count]), before.items.map((a) => [a.id, a.capture_count]))
})

test('webhook: SIGKILL while sending; after the restart every event still arrives', async () => {
  const port = await freePort()
  const receiver = new WebhookReceiver(port, SECRET)
  // a slow receiver (250 ms per answer): the server is killed with deliveries leased and in flight
  await receiver.up()
  const origEmit = receiver.server.emit.bind(receiver.server)
  receiver.server.emit = (ev, req, res, ...rest) => {
    if (ev === 'request') {
      setTimeout(() => origEmit(ev, req, res, ...rest), 250)
      return true
    }
    return origEmit(ev, req, res, ...rest)
  }
  let token = await server.login(USERS.admin)
  const hook = await server.api('POST', '/api/v1/webhooks', {
    token,
    body: { url: receiver.url(), events: ['alert.created'], secret: SECRET },
    expect: 201,
  })
  const district = await server.login(USERS.district)
  const cams = await cameras(district)
  const alertIds = []
  for (let i = 0; i < 16; i++) {
    const r = await ingest(token, { event_id: `kill-${crypto.randomUUID()}`, camera_id: fresh(cams, types.class1).id, type: types.class1, occurred_at: iso() })
    alertIds.push(r.alert_id)
  }
  await waitFor('some deliveries in flight', () => receiver.requests.length >= 2, { timeout: 10000, every: 20 })
  await server.stop('SIGKILL')
  const before = receiver.accepted().size
  assert.ok(before < alertIds.length, 'killed before everything was sent')
  await server.start()
  token = await server.login(USERS.admin)
  // the dead node's leases expire (30 s) on the platform's clock
  await server.api('POST', '/api/v1/admin/clock', { token, body: { advance_seconds: 600 } })
  try {
    await waitFor('every event after the restart', () => {
      const got = new Set([...receiver.accepted().values()].map((r) => JSON.parse(r.body).alert.id))
      return alertIds.every((id) => got.has(id))
    }, { timeout: 60000 })
    assert.ok(receiver.requests.every((r) => r.valid))
  } finally {
    await receiver.down()
    await server.api('DELETE', `/api/v1/webhooks/${hook.id}`, { token, expect: 204 })
  }
})
