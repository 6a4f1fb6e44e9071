// GB/T 28181 cascade (级联) with real counterparts: two `mingchu serve` processes on loopback. The
// upper runs its GB/T 28181 server (--sip-listen); the lower has an RTSP camera
// (scripts/rtsp_camera.py) and an upstream pointing to the upper. The lower registers with digest,
// keeps alive, answers the upper's Catalog with the cameras of its shared jurisdiction subtree
// only, and serves the upper's INVITE: its camera's stream muxed into PS over RTP, which the
// upper demuxes into its own media core (HLS checked by ffprobe, snapshot). Also: the admin API's
// validation and hostile input, a wrong password (403 in the status), a channel outside the
// subtree (404), the upper's BYE stopping the sending, the upper gone and back (backoff, registered
// again), Expires: 0 when the upstream is deleted.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import dgram from 'node:dgram'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startServer, api, login, freePort, multipart, uscc, ADMIN } from './lib.mjs'
import { DEMO, png } from './alerts_lib.mjs'
import { startCamera, probe, until } from './video_lib.mjs'
import { parseSip } from './gb_device.mjs'

const DOMAIN = '3402000000'
const UPPER_ID = '34020000002000000001'
const LOWER_ID = '32060200002000000001' // type 200: a platform
const PASSWORD = 'Cascade@28181'
const SHARED = ['专间', '后厨烹饪区', '粗加工区'].sort() // the cameras of 崇川区 on the lower
let cam, upper, lower, upperArgs, upperCfgDir, upperSip, upperAdmin, upperMerchant, lowerAdmin
let upperUnit, juA, juB, upstreamId, channelIds

const lowerApi = (method, p, body, headers) => api(lower.base, lowerAdmin, method, p, body, headers)
const upstream = async (id = upstreamId) => (await lowerApi('GET', `/api/v1/gb/upstreams/${id}`)).json
const metric = async (base, event) => {
  const text = await (await fetch(`${base}/metrics`)).text()
  const m = text.match(new RegExp(`mingchu_gb_cascade_events_total\\{event="${event}"\\} (\\d+)`))
  return m ? Number(m[1]) : 0
}
const upperDevice = async () =>
  (await api(upper.base, upperAdmin, 'GET', '/api/v1/gb/devices?page_size=200')).json.items.find((d) => d.device_id === LOWER_ID)

function startUpper(extra = {}) {
  // the demo's own cameras point to a closed loopback port: only the lower's camera plays
  return startServer({ demo: true, createAdmin: false, args: upperArgs, env: { MINGCHU_DEMO_RTSP: 'rtsp://127.0.0.1:1' }, ...extra })
}

before(async () => {
  cam = await startCamera()
  upperSip = await freePort()
  upperCfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-cascade-cfg-'))
  const cfg = path.join(upperCfgDir, 'upper.toml')
  fs.writeFileSync(cfg, `
[gb28181]
keepalive_seconds = 1
keepalive_misses = 3
invite_timeout_ms = 3000

[video]
idle_stop_seconds = 3
open_timeout_ms = 10000
`)
  upperArgs = ['--config', cfg, '--sip-listen', `127.0.0.1:${upperSip}`, '--sip-id', UPPER_ID, '--sip-domain', DOMAIN,
    '--sip-password', PASSWORD]
  // MINGCHU_CASCADE_DB=postgresql://... (an empty database) runs the lower, where the cascade lives, on PostgreSQL
  const lowerEnv = process.env.MINGCHU_CASCADE_DB ? { MINGCHU_DB: process.env.MINGCHU_CASCADE_DB } : {}
  ;[upper, lower] = await Promise.all([startUpper(), startServer({ env: lowerEnv })])
  upperAdmin = await login(upper.base, 'admin', 'Platform@2026!')
  upperMerchant = await login(upper.base, DEMO.merchant.username, DEMO.merchant.password)
  upperUnit = (await api(upper.base, upperMerchant, 'GET', '/api/v1/me')).json.unit_ids[0]

  // the lower: 江苏省 / 南通市 / 崇川区 (shared) and 通州区 (not shared), a unit and cameras in each
  lowerAdmin = await login(lower.base, ADMIN.username, ADMIN.password)
  const jur = async (parent_id, level, code, name) => {
    const r = await lowerApi('POST', '/api/v1/jurisdictions', { parent_id, level, code, name })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  const province = await jur(undefined, 'province', '320000', '江苏省')
  const city = await jur(province, 'city', '320600', '南通市')
  juA = await jur(city, 'district', '320602', '崇川区')
  juB = await jur(city, 'district', '320612', '通州区')
  const up = multipart([{ name: 'file', filename: 'licence.png', contentType: 'image/png', data: png(7) }])
  const file = await lowerApi('POST', '/api/v1/files', up.body, { 'content-type': up.contentType })
  assert.equal(file.status, 201, file.text)
  const unit = async (jurisdiction_id, name, n) => {
    const r = await lowerApi('POST', '/api/v1/units', {
      name, jurisdiction_id, store_type: 'school_canteen', licence_number: `JY1320602001234${n}`, uscc: uscc(40 + n),
      licence_image_ids: [file.json.id],
    })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  const unitA = await unit(juA, '崇川实验小学食堂', 1)
  const unitB = await unit(juB, '通州中学食堂', 2)
  const camera = async (unit_id, name, extra = {}) => {
    const r = await lowerApi('POST', '/api/v1/cameras', { unit_id, name, area: 'cooking', ...extra })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  await camera(unitA, '后厨烹饪区', { stream_url: cam.url('/h264'), record: 'off' })
  await camera(unitA, '专间', { stream_url: cam.url('/h265'), record: 'off' })
  await camera(unitA, '粗加工区') // no stream
  await camera(unitB, '通州后厨')
})

after(async () => {
  if (process.env.CASCADE_DEBUG) fs.writeFileSync('/tmp/cascade-logs.txt', `UPPER\n${upper?.log()}\nLOWER\n${lower?.log()}`)
  await Promise.all([lower?.stop(), upper?.stop()])
  await cam?.stop()
  if (upperCfgDir) fs.rmSync(upperCfgDir, { recursive: true, force: true })
})

const good = () => ({
  name: '南通市平台',
  sip_id: UPPER_ID,
  domain: DOMAIN,
  address: `127.0.0.1:${upperSip}`,
  transport: 'udp',
  password: PASSWORD,
  local_sip_id: LOWER_ID,
  jurisdiction_id: juA,
  keepalive_s: 1,
  enabled: true,
})

test('upstreams API: admins only, strict validation naming the field, hostile input, password never returned', async () => {
  const merchant = await api(upper.base, upperMerchant, 'GET', '/api/v1/gb/upstreams')
  assert.equal(merchant.status, 403) // on the upper: a merchant is no admin
  assert.equal((await api(lower.base, null, 'GET', '/api/v1/gb/upstreams')).status, 401)
  for (const [patch, field] of [
    [{ sip_id: '3402000000200000000' }, 'sip_id'],
    [{ sip_id: '3402000000200000000x' }, 'sip_id'],
    [{ sip_id: 34020000002000000001 }, 'sip_id'],
    [{ domain: '34020000' }, 'domain'],
    [{ address: 'http://127.0.0.1:5060' }, 'address'],
    [{ address: '127.0.0.1' }, 'address'],
    [{ address: '127.0.0.1:0' }, 'address'],
    [{ address: '127.0.0.1:70000' }, 'address'],
    [{ address: '127.0.0.1:5060;rm -rf /' }, 'address'],
    [{ transport: 'sctp' }, 'transport'],
    [{ password: '' }, 'password'],
    [{ password: 'x'.repeat(129) }, 'password'],
    [{ local_sip_id: UPPER_ID }, 'local_sip_id'],
    [{ local_sip_id: 'abc' }, 'local_sip_id'],
    [{ jurisdiction_id: 'jur_nothere' }, 'jurisdiction_id'],
    [{ jurisdiction_id: '../../etc' }, 'jurisdiction_id'],
    [{ keepalive_s: 0 }, 'keepalive_s'],
    [{ keepalive_s: 1.5 }, 'keepalive_s'],
    [{ keepalive_s: '60' }, 'keepalive_s'],
    [{ enabled: 'yes' }, 'enabled'],
    [{ name: 'x'.repeat(101) }, 'name'],
    [{ name: 'a\u0000b' }, 'name'],
    [{ is_admin: true }, 'is_admin'],
  ]) {
    const r = await lowerApi('POST', '/api/v1/gb/upstreams', { ...good(), ...patch })
    assert.equal(r.status, 422, `${JSON.stringify(patch)}: ${r.text}`)
    assert.equal(r.json.error.field, field, JSON.stringify(patch))
  }
  const { name, ...noName } = good()
  const missing = await lowerApi('POST', '/api/v1/gb/upstreams', noName)
  assert.equal(missing.status, 422)
  assert.equal(missing.json.error.field, 'name')
  assert.equal((await lowerApi('POST', '/api/v1/gb/upstreams', '{"name": ')).status, 400)
  assert.equal((await lowerApi('POST', '/api/v1/gb/upstreams', '[1,2]')).status, 400)
  assert.equal((await lowerApi('POST', '/api/v1/gb/upstreams', { ...good(), name: 'x'.repeat(20000) })).status, 413)
  assert.equal((await lowerApi('GET', '/api/v1/gb/upstreams/gbu_nothere')).status, 404)
  assert.equal((await lowerApi('PATCH', '/api/v1/gb/upstreams/gbu_nothere', { name: 'x' })).status, 404)
  assert.equal((await lowerApi('DELETE', '/api/v1/gb/upstreams/..%2F..%2Fx')).status, 404)
  assert.equal((await lowerApi('GET', '/api/v1/gb/upstreams')).json.total, 0) // nothing was stored

  const r = await lowerApi('POST', '/api/v1/gb/upstreams', good())
  assert.equal(r.status, 201, r.text)
  upstreamId = r.json.id
  assert.equal(r.json.password, undefined)
  assert.ok(!r.text.includes(PASSWORD))
  const list = await lowerApi('GET', '/api/v1/gb/upstreams')
  assert.equal(list.json.total, 1)
  assert.ok(!list.text.includes(PASSWORD))
  assert.equal(list.json.items[0].local_sip_id, LOWER_ID)
  const twice = await lowerApi('POST', '/api/v1/gb/upstreams', good()) // the same id to the same upper
  assert.equal(twice.status, 422)
  assert.equal(twice.json.error.field, 'local_sip_id')
  const audit = await lowerApi('GET', '/api/v1/audit?action=gb.upstream.create&page_size=100')
  const entry = audit.json.items.find((e) => e.action === 'gb.upstream.create')
  assert.ok(entry, 'the creation is audited')
  assert.ok(!JSON.stringify(entry).includes(PASSWORD))
  // a shared jurisdiction can still be deleted (the upstream then shares nothing)
  const lone = await lowerApi('POST', '/api/v1/jurisdictions', { parent_id: juA, level: 'station', code: '320602009', name: '空所' })
  assert.equal(lone.status, 201, lone.text)
  const off = await lowerApi('POST', '/api/v1/gb/upstreams', { ...good(), local_sip_id: '32060200002000000009', jurisdiction_id: lone.json.id, enabled: false })
  assert.equal(off.status, 201, off.text)
  assert.equal((await lowerApi('DELETE', `/api/v1/jurisdictions/${lone.json.id}`)).status, 204)
  assert.equal((await lowerApi('DELETE', `/api/v1/gb/upstreams/${off.json.id}`)).status, 204)
  assert.ok(lower.alive() && upper.alive())
})

test('registers with digest and keeps alive; the upper binds it and gets the shared subtree cameras only', async () => {
  const st = await until(async () => {
    const u = await upstream()
    return u.status.registered && u.status.last_keepalive_at ? u : null
  }, { what: 'registered and a keepalive answered' })
  assert.equal(st.status.last_error, null)
  // pending on the upper with the catalog: the two cameras of 崇川区, not the one of 通州区
  const dev = await until(async () => {
    const d = await upperDevice()
    return d && d.channels.length >= 3 ? d : null
  }, { what: 'the catalog on the upper' })
  assert.equal(dev.state, 'pending')
  assert.equal(dev.online, true)
  assert.equal(dev.name, '南通市平台') // DeviceInfo answered
  assert.deepEqual(dev.channels.map((c) => c.name).sort(), SHARED)
  for (const c of dev.channels) assert.match(c.channel_id, /^3206020000131\d{7}$/) // derived, type 131
  const b = await api(upper.base, upperMerchant, 'POST', `/api/v1/gb/devices/${LOWER_ID}/bind`, { unit_id: upperUnit })
  assert.equal(b.status, 200, b.text)
  assert.equal(b.json.channels.length, 3)
  const cams = (await api(upper.base, upperAdmin, 'GET', `/api/v1/cameras?unit_id=${upperUnit}&page_size=100`)).json.items
  const fromLower = cams.filter((c) => c.gb_device_id === LOWER_ID)
  assert.deepEqual(fromLower.map((c) => c.name).sort(), SHARED)
  assert.ok(!cams.some((c) => c.name === '通州后厨'))
  channelIds = dev.channels.map((c) => c.channel_id).sort()
})

// the upper pulls no stream of this camera (stopped when idle)
const upperStreamGone = (camId) =>
  until(async () => {
    const st = await api(upper.base, upperAdmin, 'GET', '/api/v1/video/status')
    return st.status === 200 && !st.json.streams.some((s) => s.camera_id === camId)
  }, { what: "the upper's stream stopped", timeoutMs: 30000 })

async function upperCamera(name) {
  const cams = (await api(upper.base, upperAdmin, 'GET', `/api/v1/cameras?unit_id=${upperUnit}&page_size=100`)).json.items
  return cams.find((c) => c.gb_device_id === LOWER_ID && c.name === name)
}

test('live on the upper plays the lower camera: PS over RTP end to end (ffprobe, snapshot), BYE stops the sending', async () => {
  const c = await upperCamera('后厨烹饪区')
  const live = await api(upper.base, upperMerchant, 'POST', `/api/v1/cameras/${c.id}/live`, { quality: 'hd' })
  assert.equal(live.status, 200, live.text)
  assert.equal(live.json.codec, 'h264')
  assert.equal((await upstream()).status.sessions, 1)
  const pl = await until(async () => {
    const r = await api(upper.base, null, 'GET', live.json.hls_url)
    return r.status === 200 && /\d+\.ts/.test(r.text) ? r.text : null
  }, { what: 'a live segment on the upper' })
  const seg = pl.match(/(\d+\.ts)/)[1]
  const ts = await api(upper.base, null, 'GET', live.json.hls_url.replace('index.m3u8', seg))
  assert.equal(ts.status, 200)
  const v = probe(ts.bytes).streams.find((s) => s.codec_type === 'video')
  assert.equal(v.codec_name, 'h264')
  assert.ok(v.width >= 320 && v.height >= 240, `${v.width}x${v.height}`)
  assert.ok(Number(v.nb_read_frames) >= 5, `frames in the segment: ${v.nb_read_frames}`)
  const jpg = await api(upper.base, upperMerchant, 'GET', `/api/v1/cameras/${c.id}/snapshot.jpg`)
  assert.equal(jpg.status, 200)
  assert.equal(jpg.bytes[0], 0xff)
  assert.equal(jpg.bytes[1], 0xd8)
  // H.265 too: PS with stream type 0x24; the upper's snapshot decodes its keyframe
  const h265 = await upperCamera('专间')
  const jpg265 = await api(upper.base, upperMerchant, 'GET', `/api/v1/cameras/${h265.id}/snapshot.jpg`)
  assert.equal(jpg265.status, 200, jpg265.text)
  assert.equal(jpg265.bytes[0], 0xff)
  const vs = (await api(upper.base, upperAdmin, 'GET', '/api/v1/video/status')).json.streams
  assert.equal(vs.find((s) => s.camera_id === h265.id).codec, 'hevc')
  // nobody watches on the upper: its streams stop (idle 3 s), it sends BYE, the lower stops sending
  const byes = await metric(lower.base, 'bye_received')
  await until(async () => (await upstream()).status.sessions === 0, { what: 'the session ended', timeoutMs: 30000 })
  await upperStreamGone(c.id)
  await upperStreamGone(h265.id)
  assert.equal(await metric(lower.base, 'bye_received'), byes + 2)
  assert.equal((await upstream()).status.sessions, 0)
  // a camera without a stream: the INVITE is answered, then the lower ends it (BYE) and the live fails
  const c2 = await upperCamera('粗加工区')
  const dead = await api(upper.base, upperMerchant, 'POST', `/api/v1/cameras/${c2.id}/live`, { quality: 'hd' })
  assert.equal(dead.status, 503, dead.text)
  assert.ok(upper.alive() && lower.alive())
})

test('a channel outside the shared subtree is 404 to the upper (the subtree changed to 通州区)', async () => {
  const c = await upperCamera('后厨烹饪区')
  const before = await metric(lower.base, 'invite_not_found')
  const p = await lowerApi('PATCH', `/api/v1/gb/upstreams/${upstreamId}`, { jurisdiction_id: juB })
  assert.equal(p.status, 200, p.text)
  assert.equal(p.json.jurisdiction_id, juB)
  // registered again (a new dialog); the upper's next catalog has only 通州后厨
  await until(async () => {
    const d = await upperDevice()
    return d && d.online && d.channels.length === 1 && d.channels[0].name === '通州后厨'
  }, { what: 'the new catalog on the upper' })
  await upperStreamGone(c.id)
  const live = await api(upper.base, upperMerchant, 'POST', `/api/v1/cameras/${c.id}/live`, { quality: 'hd' })
  assert.equal(live.status, 503, live.text)
  assert.ok((await metric(lower.base, 'invite_not_found')) >= before + 1) // the upper may retry once more
  const back = await lowerApi('PATCH', `/api/v1/gb/upstreams/${upstreamId}`, { jurisdiction_id: juA })
  assert.equal(back.status, 200)
})

test('a wrong password: the status shows the 403; disabled: nothing runs', async () => {
  const r = await lowerApi('POST', '/api/v1/gb/upstreams', {
    ...good(), name: '错误密码', local_sip_id: '32060200002000000002', password: 'wrong-password',
  })
  assert.equal(r.status, 201, r.text)
  const st = await until(async () => {
    const u = await upstream(r.json.id)
    return u.status.last_error ? u : null
  }, { what: 'the refusal in the status' })
  assert.equal(st.status.registered, false)
  assert.match(st.status.last_error, /403/)
  const off = await lowerApi('PATCH', `/api/v1/gb/upstreams/${r.json.id}`, { enabled: false })
  assert.equal(off.status, 200)
  assert.equal(off.json.enabled, false)
  assert.equal((await lowerApi('DELETE', `/api/v1/gb/upstreams/${r.json.id}`)).status, 204)
  assert.equal((await lowerApi('GET', `/api/v1/gb/upstreams/${r.json.id}`)).status, 404)
})

test('over TCP: SIP on one connection, media over TCP (RFC 4571, we connect to the upper)', async () => {
  const TCP_ID = '32060300002000000003' // another prefix: channel ids of its own
  const r = await lowerApi('POST', '/api/v1/gb/upstreams', { ...good(), name: 'TCP', transport: 'tcp', local_sip_id: TCP_ID })
  assert.equal(r.status, 201, r.text)
  assert.equal(r.json.transport, 'tcp')
  await until(async () => (await upstream(r.json.id)).status.registered, { what: 'registered over TCP' })
  const dev = await until(async () => {
    const d = (await api(upper.base, upperAdmin, 'GET', '/api/v1/gb/devices?page_size=200')).json.items.find((x) => x.device_id === TCP_ID)
    return d && d.channels.length === 3 ? d : null
  }, { what: 'the catalog over TCP' })
  assert.equal(dev.transport, 'tcp')
  const b = await api(upper.base, upperMerchant, 'POST', `/api/v1/gb/devices/${TCP_ID}/bind`, { unit_id: upperUnit })
  assert.equal(b.status, 200, b.text)
  const camId = b.json.channels.find((c) => c.name === '后厨烹饪区').camera_id
  const live = await api(upper.base, upperMerchant, 'POST', `/api/v1/cameras/${camId}/live`, { quality: 'hd' })
  assert.equal(live.status, 200, live.text)
  const pl = await until(async () => {
    const x = await api(upper.base, null, 'GET', live.json.hls_url)
    return x.status === 200 && /\d+\.ts/.test(x.text) ? x.text : null
  }, { what: 'a live segment over TCP' })
  const ts = await api(upper.base, null, 'GET', live.json.hls_url.replace('index.m3u8', pl.match(/(\d+\.ts)/)[1]))
  const v = probe(ts.bytes).streams.find((s) => s.codec_type === 'video')
  assert.equal(v.codec_name, 'h264')
  assert.ok(Number(v.nb_read_frames) >= 5)
  assert.equal((await lowerApi('DELETE', `/api/v1/gb/upstreams/${r.json.id}`)).status, 204)
  await upperStreamGone(camId) // the lower's BYE ended it (or the idle stop)
})

// A bare UDP socket as the upper (no MingChu): digest with qop=auth, then hostile input.
function fakeUpper() {
  const sock = dgram.createSocket('udp4')
  const inbox = []
  let waiter = null
  let peer = null
  sock.on('message', (buf, rinfo) => {
    peer = rinfo
    inbox.push(parseSip(buf))
    if (waiter) waiter()
  })
  const next = async (pred, what, timeoutMs = 8000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = inbox.findIndex(pred)
      if (i >= 0) return inbox.splice(i, 1)[0]
      if (Date.now() > deadline) throw new Error(`the fake upper got no ${what}`)
      await new Promise((r) => {
        waiter = r
        setTimeout(r, 100)
      })
    }
  }
  const send = (text) => new Promise((r) => sock.send(Buffer.from(text, 'latin1'), peer.port, peer.address, r))
  const reply = (m, status, reason, extra = '') =>
    send(`SIP/2.0 ${status} ${reason}\r\nVia: ${m.h('via')}\r\nFrom: ${m.h('from')}\r\nTo: ${m.h('to')};tag=up1\r\n` +
      `Call-ID: ${m.h('call-id')}\r\nCSeq: ${m.h('cseq')}\r\n${extra}Content-Length: 0\r\n\r\n`)
  let cseq = 1
  const request = (method, user, body = '', ctype = 'Application/MANSCDP+xml', extra = '') => {
    const b = Buffer.from(body, 'utf8')
    return send(`${method} sip:${user}@${peer.address}:${peer.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bK${crypto.randomBytes(6).toString('hex')}\r\n` +
      `From: <sip:${UPPER_ID}@${DOMAIN}>;tag=f${cseq}\r\nTo: <sip:${user}@${DOMAIN}>\r\nCall-ID: c${cseq}-${Date.now()}@fake\r\nCSeq: ${cseq++} ${method}\r\n` +
      `${extra}Content-Type: ${ctype}\r\nContent-Length: ${b.length}\r\n\r\n` + b.toString('latin1'))
  }
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve({ sock, next, reply, request, send, port: sock.address().port })))
}

const md5 = (s) => crypto.createHash('md5').update(s).digest('hex')
const digestParam = (h, k) => (new RegExp(`${k}="?([^",]*)"?`).exec(h) || [])[1]

test('a bare GB/T 28181 upper (qop=auth digest), then hostile input: answered or dropped, the lower stays up', async () => {
  const up = await fakeUpper()
  const LOCAL = '32060400002000000004'
  try {
    const r = await lowerApi('POST', '/api/v1/gb/upstreams', {
      ...good(), name: '外部平台', local_sip_id: LOCAL, address: `127.0.0.1:${up.port}`, password: 'Fake@pw1', keepalive_s: 60,
    })
    assert.equal(r.status, 201, r.text)
    const first = await up.next((m) => m.method === 'REGISTER', 'REGISTER')
    assert.equal(first.h('authorization'), undefined)
    assert.match(first.h('from'), new RegExp(`sip:${LOCAL}@3206040000`))
    await up.reply(first, 401, 'Unauthorized', `WWW-Authenticate: Digest realm="${DOMAIN}", nonce="n0nce42", qop="auth", algorithm=MD5\r\n`)
    const second = await up.next((m) => m.method === 'REGISTER', 'REGISTER with credentials')
    const a = second.h('authorization')
    assert.equal(digestParam(a, 'username'), LOCAL)
    assert.equal(digestParam(a, 'qop'), 'auth')
    const ha1 = md5(`${LOCAL}:${DOMAIN}:Fake@pw1`)
    const ha2 = md5(`REGISTER:${digestParam(a, 'uri')}`)
    const want = md5(`${ha1}:n0nce42:${digestParam(a, 'nc')}:${digestParam(a, 'cnonce')}:auth:${ha2}`)
    assert.equal(digestParam(a, 'response'), want)
    await up.reply(second, 200, 'OK', 'Expires: 3600\r\n')
    await until(async () => (await upstream(r.json.id)).status.registered, { what: 'registered to the bare upper' })

    // a catalog query with an SN that needs escaping: three items of 崇川区, SumNum 3
    await up.request('MESSAGE', LOCAL, `<?xml version="1.0"?><Query><CmdType>Catalog</CmdType><SN>7&amp;1</SN><DeviceID>${LOCAL}</DeviceID></Query>`)
    assert.equal((await up.next((m) => m.status, 'the 200 to the query')).status, 200)
    const cat = await up.next((m) => m.method === 'MESSAGE' && /Catalog/.test(m.body.toString()), 'the catalog')
    await up.reply(cat, 200, 'OK')
    const body = cat.body.toString('utf8')
    assert.match(body, /<SumNum>3<\/SumNum>/)
    assert.match(body, /<SN>7&amp;1<\/SN>/)
    assert.equal((body.match(/<Item>/g) || []).length, 3)
    assert.ok(!body.includes('通州后厨'))
    const channel = /<DeviceID>(3206040000131\d{7})<\/DeviceID>/.exec(body)[1]

    // hostile: garbage, an oversized datagram, bad XML, an unknown method, bad INVITEs
    await up.send('\x00\x01garbage that is no SIP at all\r\n\r\n')
    await up.send('MESSAGE sip:x SIP/2.0\r\n' + 'X'.repeat(64000))
    await up.request('MESSAGE', LOCAL, '<Query><CmdType>Catalog</CmdType><SN>1</Query>')
    assert.equal((await up.next((m) => m.status, 'the answer to bad XML')).status, 400)
    await up.request('FOO', LOCAL)
    assert.equal((await up.next((m) => m.status, 'the answer to FOO')).status, 405)
    const sdp = (y = 'y=0100000001\r\n', m = 'm=video 9 RTP/AVP 96') =>
      `v=0\r\no=${UPPER_ID} 0 0 IN IP4 127.0.0.1\r\ns=Play\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n${m}\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\n${y}`
    for (const [user, body, want] of [
      ['not-a-channel', sdp(), 404],
      ['32060400001319999999', sdp(), 404], // the type and prefix of ours, no such serial
      [channel, sdp(''), 488], // no y= SSRC
      [channel, sdp(undefined, 'm=video 99999 RTP/AVP 96'), 488],
      [channel, sdp(undefined, 'm=video 9 TCP/RTP/AVP 96\r\na=setup:active'), 488],
      [channel, 'v=0\r\n' + 'a=x\r\n'.repeat(3000), 488],
    ]) {
      await up.request('INVITE', user, body, 'APPLICATION/SDP')
      const ans = await up.next((m) => m.status, `the answer to an INVITE for ${user}`)
      assert.equal(ans.status, want, `${user} ${body.slice(0, 80)}`)
      await up.request('ACK', user, '', 'APPLICATION/SDP')
    }
    await up.request('BYE', channel, '', 'APPLICATION/SDP')
    assert.equal((await up.next((m) => m.status, 'the answer to a BYE of no dialog')).status, 481)
    assert.equal((await upstream(r.json.id)).status.sessions, 0)
    assert.ok((await metric(lower.base, 'sip_malformed')) >= 1)
    assert.ok(lower.alive())

    // deleted: REGISTER Expires: 0, answered to the challenge again
    assert.equal((await lowerApi('DELETE', `/api/v1/gb/upstreams/${r.json.id}`)).status, 204)
    const bye = await up.next((m) => m.method === 'REGISTER', 'the unregistration')
    assert.equal(bye.h('expires'), '0')
    await up.reply(bye, 401, 'Unauthorized', `WWW-Authenticate: Digest realm="${DOMAIN}", nonce="n0nce43", algorithm=MD5\r\n`)
    const bye2 = await up.next((m) => m.method === 'REGISTER', 'the unregistration with credentials')
    assert.equal(bye2.h('expires'), '0')
    assert.equal(digestParam(bye2.h('authorization'), 'nonce'), 'n0nce43')
    await up.reply(bye2, 200, 'OK', 'Expires: 0\r\n')
  } finally {
    up.sock.close()
  }
})

test('the upper gone: the lower notices, retries with backoff and registers again when it is back', async () => {
  await until(async () => (await upstream()).status.registered, { what: 'registered' })
  const { port, dataDir } = upper
  await upper.kill()
  const down = await until(async () => {
    const u = await upstream()
    return !u.status.registered && u.status.last_error ? u : null
  }, { what: 'the lower sees the upper gone', timeoutMs: 30000 })
  assert.match(down.status.last_error, /no answer/)
  const failedBefore = await metric(lower.base, 'register_failed')
  const catalogsBefore = await metric(lower.base, 'catalog')
  upper = await startUpper({ port, dataDir })
  upper.stop = ((stop) => async () => {
    await stop({ keepData: true })
    fs.rmSync(dataDir, { recursive: true, force: true })
  })(upper.stop)
  upperAdmin = await login(upper.base, 'admin', 'Platform@2026!')
  await until(async () => (await upstream()).status.registered, { what: 'registered again', timeoutMs: 40000 })
  assert.ok((await metric(lower.base, 'register_failed')) >= failedBefore)
  const dev = await until(async () => {
    const d = await upperDevice()
    return d && d.online ? d : null
  }, { what: 'online on the restarted upper' })
  assert.equal(dev.state, 'bound') // the binding survived the upper's restart
  // the restarted upper asked for the catalog again: the same channel ids (stable, stored)
  await until(async () => (await metric(lower.base, 'catalog')) > catalogsBefore, { what: 'a catalog query from the restarted upper' })
  await until(async () => {
    const d = await upperDevice()
    return d.channels.length === 3 && JSON.stringify(d.channels.map((c) => c.channel_id).sort()) === JSON.stringify(channelIds)
  }, { what: 'the same channel ids in the new catalog' })
})

test('deleting the upstream unregisters (Expires: 0) at once', async () => {
  const events = async () => (await api(upper.base, upperAdmin, 'GET', '/api/v1/gb/status')).json.events
  await until(async () => (await upstream()).status.registered, { what: 'registered' })
  const before = (await events()).unregister || 0
  assert.equal((await lowerApi('DELETE', `/api/v1/gb/upstreams/${upstreamId}`)).status, 204)
  await until(async () => ((await events()).unregister || 0) === before + 1, { what: 'the unregistration', timeoutMs: 5000 })
  const d = await upperDevice()
  assert.equal(d.online, false)
  assert.ok(lower.alive() && upper.alive())
})
