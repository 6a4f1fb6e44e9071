// GB/T 28181 device access against a real `mingchu serve --sip-listen`: devices simulated by
// tests/api/gb_device.mjs (SIP over UDP and TCP, digest, keepalives, catalogs in GB2312 and UTF-8,
// PS over RTP from an ffmpeg-made H.264 file), SIPp scenarios for REGISTER edge cases, and hostile
// input (malformed and oversized SIP, bad XML, wrong realm, nonce reuse, wrong SSRC, garbage RTP,
// a REGISTER flood) — answered or dropped with a counter, the server stays up.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { startServer, api, login, freePort, REPO } from './lib.mjs'
import { DEMO } from './alerts_lib.mjs'
import { probe, until } from './video_lib.mjs'
import { GbDevice, makeH264, parseSip } from './gb_device.mjs'

const DOMAIN = '3402000000'
const PASSWORD = 'Gb@28181pw'
let srv, sipPort, admin, merchant, other, unitId, aus, cfgDir
const devices = []

let nextDev = 1
const devId = () => `3402000000132${String(nextDev++).padStart(7, '0')}` // type 132: IPC
const chanId = (dev, n) => `${dev.slice(0, 10)}131${dev.slice(16, 20)}${String(n).padStart(3, '0')}`

async function device(opts = {}) {
  const d = new GbDevice({ sipPort, id: opts.id || devId(), password: PASSWORD, domain: DOMAIN, aus, ...opts })
  await d.open()
  devices.push(d)
  return d
}

const status = async () => (await api(srv.base, admin, 'GET', '/api/v1/gb/status')).json
const listed = async (token, id, state = '') =>
  (await api(srv.base, token, 'GET', `/api/v1/gb/devices?page_size=200${state ? `&state=${state}` : ''}`)).json.items.find(
    (x) => x.device_id === id,
  )

before(async () => {
  aus = makeH264(4)
  sipPort = await freePort()
  cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-gb-cfg-'))
  const cfg = path.join(cfgDir, 'gb.toml')
  fs.writeFileSync(cfg, `
[gb28181]
keepalive_seconds = 1
keepalive_misses = 3
invite_timeout_ms = 3000
record_timeout_ms = 2000

[gb28181.passwords]
"34020000001329999999" = "Own@device1"

[gb28181.media_transports]
"34020000001327777777" = "tcp_active"

[video]
idle_stop_seconds = 3
open_timeout_ms = 8000
file_seconds = 3
`)
  srv = await startServer({
    demo: true,
    createAdmin: false,
    // MINGCHU_GB_DB=postgresql://... runs the same tests on PostgreSQL (an empty database)
    args: [...(process.env.MINGCHU_GB_DB ? ['--db', process.env.MINGCHU_GB_DB] : []), '--config', cfg, '--sip-listen', `127.0.0.1:${sipPort}`, '--sip-id', '34020000002000000001',
      '--sip-domain', DOMAIN, '--sip-password', PASSWORD],
  })
  admin = await login(srv.base, 'admin', 'Platform@2026!')
  merchant = await login(srv.base, DEMO.merchant.username, DEMO.merchant.password)
  other = await login(srv.base, DEMO.otherDistrict.username, DEMO.otherDistrict.password)
  unitId = (await api(srv.base, merchant, 'GET', '/api/v1/me')).json.unit_ids[0]
})

after(async () => {
  for (const d of devices) {
    try {
      d.close()
    } catch {
      /* the server must stop anyway */
    }
  }
  await srv?.stop()
  fs.rmSync(cfgDir, { recursive: true, force: true })
})

test('REGISTER over UDP: 401 challenge, 403 for a wrong password, 200 with digest; pending until bound', async () => {
  const d = await device()
  assert.equal(await d.register({ noAuth: true }), 401)
  assert.equal(await d.register({ password: 'wrong' }), 403)
  assert.equal(await listed(admin, d.id), undefined, 'a device that failed authentication is not held')
  assert.equal(await d.register(), 200)
  const seen = await until(() => listed(admin, d.id, 'pending'), { what: 'pending device' })
  assert.equal(seen.state, 'pending')
  assert.equal(seen.unit_id, null)
  assert.equal(seen.transport, 'udp')
  assert.equal(seen.online, true)
  assert.match(seen.remote, /^127\.0\.0\.1:\d+$/)
  // a merchant and a regulator see pending devices (to bind them); bound ones only in scope
  assert.ok(await listed(merchant, d.id, 'pending'))
  assert.equal((await api(srv.base, admin, 'GET', '/api/v1/gb/devices?state=nope')).status, 422)
  assert.equal((await api(srv.base, null, 'GET', '/api/v1/gb/devices')).status, 401)
})

test('per-device password, wrong realm, nonce reuse and Expires: 0', async () => {
  const own = await device({ id: '34020000001329999999', password: 'Own@device1' })
  assert.equal(await own.register({ password: PASSWORD }), 403, 'the default password is not this device\'s')
  assert.equal(await own.register(), 200)
  const before = (await status()).events
  assert.equal(await own.register({ realm: '3402000001' }), 401, 'another realm is challenged again')
  assert.equal(await own.register({ reuseNonce: true }), 401, 'a nonce used once is not accepted twice')
  const after = (await status()).events
  assert.equal(after.register_wrong_realm - (before.register_wrong_realm || 0), 1)
  assert.equal(after.register_nonce_reuse - (before.register_nonce_reuse || 0), 1)
  assert.equal(await own.register({ expires: 0 }), 200)
  const gone = await until(async () => {
    const x = await listed(admin, own.id)
    return x && x.online === false ? x : null
  }, { what: 'offline after Expires: 0' })
  assert.equal(gone.online, false)
  // a keepalive from an unregistered device is refused (it registers again)
  assert.equal(await own.keepalive(), 403)
})

test('UDP retransmissions are answered from the transaction cache', async () => {
  const d = await device()
  assert.equal(await d.register(), 200)
  const sock = dgram.createSocket('udp4')
  await new Promise((r) => sock.bind(0, '127.0.0.1', r))
  const got = []
  sock.on('message', (m) => got.push(m.toString('latin1')))
  const msg = `REGISTER sip:34020000002000000001@${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bKretx1\r\nFrom: <sip:${d.id}@${DOMAIN}>;tag=a1\r\nTo: <sip:${d.id}@${DOMAIN}>\r\nCall-ID: retx-1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`
  const before = (await status()).events.sip_retransmission || 0
  sock.send(msg, sipPort, '127.0.0.1')
  await until(() => got.length >= 1, { what: 'first answer' })
  sock.send(msg, sipPort, '127.0.0.1')
  await until(() => got.length >= 2, { what: 'second answer' })
  sock.close()
  assert.equal(got[0], got[1], 'the retransmission gets the very same response (same nonce, same tag)')
  assert.match(got[0], /^SIP\/2\.0 401/)
  assert.equal((await status()).events.sip_retransmission - before, 1)
})

test('catalog over several MESSAGEs (GB2312 and UTF-8), device info; bind creates the unit\'s cameras', async () => {
  const d = await device({ encoding: 'GB2312', catalogPerMessage: 2 })
  d.o.channels = [1, 2, 3, 4, 5].map((n) => ({ id: chanId(d.id, n), name: `后厨通道${n}` }))
  assert.equal(await d.register(), 200)
  const seen = await until(async () => {
    const x = await listed(admin, d.id, 'pending')
    return x && x.channels.length === 5 && x.name ? x : null
  }, { what: 'the catalog of 5 channels' })
  assert.equal(seen.name, '模拟设备', 'the GB2312 DeviceInfo is read as UTF-8')
  assert.deepEqual(seen.channels.map((c) => c.name), ['后厨通道1', '后厨通道2', '后厨通道3', '后厨通道4', '后厨通道5'])
  const u = await device({ encoding: 'UTF-8', catalogPerMessage: 3 })
  u.o.channels = [1, 2, 3, 4].map((n) => ({ id: chanId(u.id, n), name: `UTF通道${n}` }))
  assert.equal(await u.register(), 200)
  await until(async () => (await listed(admin, u.id))?.channels.length === 4, { what: 'the UTF-8 catalog' })

  // binding: the unit must be in the caller's scope; bad input answers 4xx
  const path = `/api/v1/gb/devices/${d.id}/bind`
  assert.equal((await api(srv.base, other, 'POST', path, { unit_id: unitId })).status, 404, 'unit out of scope')
  assert.equal((await api(srv.base, merchant, 'POST', `/api/v1/gb/devices/${devId()}/bind`, { unit_id: unitId })).status, 404)
  assert.equal((await api(srv.base, merchant, 'POST', '/api/v1/gb/devices/not-a-device/bind', { unit_id: unitId })).status, 404)
  assert.equal((await api(srv.base, merchant, 'POST', path, {})).status, 422)
  assert.equal((await api(srv.base, merchant, 'POST', path, { unit_id: 12 })).status, 422)
  assert.equal((await api(srv.base, merchant, 'POST', path, '{"unit_id":')).status, 400)
  const b = await api(srv.base, merchant, 'POST', path, { unit_id: unitId })
  assert.equal(b.status, 200, b.text)
  assert.equal(b.json.channels.length, 5)
  const cams = (await api(srv.base, merchant, 'GET', `/api/v1/cameras?unit_id=${unitId}&page_size=100`)).json.items
  for (const ch of b.json.channels) {
    const c = cams.find((x) => x.id === ch.camera_id)
    assert.ok(c, `camera of ${ch.channel_id}`)
    assert.equal(c.gb_device_id, d.id)
    assert.equal(c.gb_channel_id, ch.channel_id)
  }
  // bound: visible in scope, not to another district; binding it again from there is 404
  assert.equal((await listed(merchant, d.id, 'bound')).unit_id, unitId)
  assert.equal(await listed(other, d.id), undefined)
  assert.equal((await api(srv.base, other, 'POST', path, { unit_id: unitId })).status, 404)
  // binding twice keeps the same cameras
  const again = await api(srv.base, merchant, 'POST', path, { unit_id: unitId })
  assert.deepEqual(again.json.channels.map((c) => c.camera_id), b.json.channels.map((c) => c.camera_id))
})

test('keepalives missed: camera_offline for the bound channels; keepalives again close it', async () => {
  const d = await device()
  d.o.channels = [{ id: chanId(d.id, 1), name: '烹饪区' }]
  assert.equal(await d.register(), 200)
  await until(async () => (await listed(admin, d.id))?.channels.length === 1, { what: 'catalog' })
  const b = await api(srv.base, merchant, 'POST', `/api/v1/gb/devices/${d.id}/bind`, { unit_id: unitId })
  const camId = b.json.channels[0].camera_id
  d.startKeepalives(300)
  await until(async () => (await api(srv.base, merchant, 'GET', `/api/v1/cameras/${camId}`)).json.status === 'online',
    { what: 'camera online by keepalives' })
  d.stopKeepalives()
  const alert = await until(async () => {
    const r = await api(srv.base, merchant, 'GET', `/api/v1/alerts?camera_id=${camId}&type=camera_offline`)
    return r.json.items.find((a) => a.state === 'open')
  }, { what: 'camera_offline raised', timeoutMs: 15000 })
  assert.equal((await listed(admin, d.id)).online, false)
  d.startKeepalives(300)
  await until(async () => (await api(srv.base, merchant, 'GET', `/api/v1/alerts/${alert.id}`)).json.state === 'closed',
    { what: 'camera_offline closed', timeoutMs: 15000 })
  d.stopKeepalives()
})

async function bindOne(opts) {
  const d = await device(opts)
  d.o.channels = [{ id: chanId(d.id, 1), name: '直播通道' }]
  assert.equal(await d.register(), 200)
  await until(async () => (await listed(admin, d.id))?.channels.length === 1, { what: 'catalog' })
  const b = await api(srv.base, merchant, 'POST', `/api/v1/gb/devices/${d.id}/bind`, { unit_id: unitId })
  assert.equal(b.status, 200)
  d.startKeepalives(500)
  return { d, camId: b.json.channels[0].camera_id }
}

for (const transport of ['udp', 'tcp']) {
  test(`live over ${transport}: INVITE, PS over RTP into the media core (HLS checked by ffprobe, snapshot), BYE when idle`, async () => {
    const { d, camId } = await bindOne({ transport, psm: transport === 'udp' })
    const live = await api(srv.base, merchant, 'POST', `/api/v1/cameras/${camId}/live`, { quality: 'hd' })
    assert.equal(live.status, 200, live.text)
    assert.equal(live.json.codec, 'h264')
    assert.equal(d.invites, 1)
    const pl = await until(async () => {
      const r = await api(srv.base, null, 'GET', live.json.hls_url)
      return r.status === 200 && /\d+\.ts/.test(r.text) ? r.text : null
    }, { what: 'a live segment' })
    const seg = pl.match(/(\d+\.ts)/)[1]
    const ts = await api(srv.base, null, 'GET', live.json.hls_url.replace('index.m3u8', seg))
    assert.equal(ts.status, 200)
    const info = probe(ts.bytes)
    const v = info.streams.find((s) => s.codec_type === 'video')
    assert.equal(v.codec_name, 'h264')
    assert.equal(v.width, 320)
    assert.equal(v.height, 240)
    assert.ok(Number(v.nb_read_frames) >= 10, `frames in the segment: ${v.nb_read_frames}`)
    const jpg = await api(srv.base, merchant, 'GET', `/api/v1/cameras/${camId}/snapshot.jpg`)
    assert.equal(jpg.status, 200)
    assert.equal(jpg.bytes[0], 0xff)
    assert.equal(jpg.bytes[1], 0xd8)
    if (transport === 'udp') {
      // an evidence clip of the last seconds, cut from the stream's memory (recording off); the
      // playlist is fetched meanwhile, as a player does, so the stream is not idle
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 500))
        await api(srv.base, null, 'GET', live.json.hls_url)
      }
      const to = new Date(Date.now() - 300).toISOString()
      const from = new Date(Date.now() - 2300).toISOString()
      const clip = await api(srv.base, merchant, 'GET', `/api/v1/cameras/${camId}/clip.mp4?from=${from}&to=${to}`)
      assert.equal(clip.status, 200, clip.text)
      assert.match(clip.headers.get('x-content-sm3'), /^[0-9a-f]{64}$/)
      const mp4 = probe(clip.bytes, 'mp4').streams.find((s) => s.codec_type === 'video')
      assert.equal(mp4.codec_name, 'h264')
      assert.ok(Number(mp4.nb_read_frames) >= 10, `frames in the clip: ${mp4.nb_read_frames}`) // the simulator slows down on a loaded machine
    }
    // nobody watches: the stream stops (idle_stop_seconds = 3) and the device gets a BYE
    await until(() => d.byes >= 1, { what: 'BYE', timeoutMs: 30000 })
    d.stopKeepalives()
  })
}

test('recording a GB channel: record = continuous pulls it all the time and indexes its files', async () => {
  const { d, camId } = await bindOne({})
  const t0 = new Date(Date.now() - 1000).toISOString()
  const p = await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${camId}`, { record: 'continuous' })
  assert.equal(p.status, 200, p.text)
  const rec = await until(async () => {
    const r = await api(srv.base, merchant, 'GET', `/api/v1/cameras/${camId}/recordings?from=${t0}&to=${new Date(Date.now() + 60000).toISOString()}`)
    return r.status === 200 && r.json.spans.length > 0 && r.json.spans[0].bytes > 0 ? r.json : null
  }, { what: 'a recorded span', timeoutMs: 30000 })
  assert.ok(rec.spans[0].bytes > 1000)
  assert.ok(d.invites >= 1)
  await api(srv.base, admin, 'PATCH', `/api/v1/cameras/${camId}`, { record: 'off' })
  await until(() => d.byes >= 1, { what: 'BYE after recording stopped', timeoutMs: 30000 })
  d.stopKeepalives()
})

test('PTZ: the 8-byte PTZCmd with its checksum, presets; bad input and scope', async () => {
  const { d, camId } = await bindOne({})
  const ptz = (token, body, id = camId) => api(srv.base, token, 'POST', `/api/v1/cameras/${id}/ptz`, body)
  let r = await ptz(merchant, { action: 'up', speed: 100 })
  assert.equal(r.status, 200, r.text)
  r = await ptz(merchant, { action: 'left', speed: 50 })
  assert.equal(r.status, 200)
  r = await ptz(merchant, { action: 'zoom_in', speed: 255 })
  assert.equal(r.status, 200)
  r = await ptz(merchant, { action: 'preset_call', preset: 3 })
  assert.equal(r.status, 200)
  r = await ptz(merchant, { action: 'stop' })
  assert.equal(r.status, 200)
  const sum = (h) => {
    const b = Buffer.from(h, 'hex')
    return b.subarray(0, 7).reduce((a, x) => a + x, 0) % 256 === b[7]
  }
  assert.deepEqual(d.ptz.map((c) => c.slice(0, 14)), ['A50F0108006400', 'A50F0102320000', 'A50F01100000F0', 'A50F0182000300', 'A50F0100000000'])
  assert.ok(d.ptz.every(sum), `checksums of ${d.ptz}`)
  assert.equal((await ptz(merchant, { action: 'spin' })).status, 422)
  assert.equal((await ptz(merchant, { action: 'up', speed: 256 })).status, 422)
  assert.equal((await ptz(merchant, { action: 'preset_set' })).status, 422)
  assert.equal((await ptz(merchant, {})).status, 422)
  assert.equal((await ptz(other, { action: 'up' })).status, 404, 'out of scope')
  assert.equal((await ptz(merchant, { action: 'up' }, 'cam_nope')).status, 404)
  const plain = await api(srv.base, admin, 'POST', '/api/v1/cameras', { unit_id: unitId, name: 'RTSP 摄像头', area: 'cooking' })
  assert.equal(plain.status, 201, plain.text)
  const notGb = await ptz(merchant, { action: 'up' }, plain.json.id)
  assert.equal(notGb.status, 422, 'not a GB camera')
  assert.equal(notGb.json.error.code, 'not_gb_camera')
  d.stopKeepalives()
  d.close()
  await until(async () => (await ptz(merchant, { action: 'up' })).status === 503, { what: 'offline device: 503', timeoutMs: 15000 })
})

test('hostile input: malformed and oversized SIP, bad XML, wrong SSRC, garbage RTP, a REGISTER flood', async () => {
  const before = (await status()).events
  const sock = dgram.createSocket('udp4')
  await new Promise((r) => sock.bind(0, '127.0.0.1', r))
  const send = (b) => sock.send(b, sipPort, '127.0.0.1')
  send(Buffer.from('garbage that is not SIP at all\r\n\r\n'))
  send(Buffer.from('REGISTER sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n'))
  send(Buffer.alloc(65000, 'A')) // more than the 60 KiB a SIP message may have
  send(Buffer.from(`MESSAGE sip:a@b SIP/2.0\r\nCSeq: 99999999999999 MESSAGE\r\n\r\n`))
  // a REGISTER flood without credentials: every one challenged, nothing held
  for (let i = 0; i < 2000; i++) {
    send(`REGISTER sip:34020000002000000001@${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bKflood${i}\r\nFrom: <sip:3402000000132${String(9000000 + i)}@${DOMAIN}>;tag=f${i}\r\nTo: <sip:x@${DOMAIN}>\r\nCall-ID: flood-${i}\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n`)
  }
  await until(async () => ((await status()).events.register_challenge || 0) - (before.register_challenge || 0) >= 1500,
    { what: 'the flood answered' })
  sock.close()
  const after = (await status()).events
  assert.ok(after.sip_malformed - (before.sip_malformed || 0) >= 3, JSON.stringify(after))
  assert.ok(after.sip_oversized - (before.sip_oversized || 0) >= 1)
  assert.equal(await listed(admin, '34020000001329000001'), undefined, 'the flood left no device behind')

  // bad XML from a registered device: 400, counted
  const d = await device()
  assert.equal(await d.register(), 200)
  assert.equal(await d.message(Buffer.from('<?xml version="1.0"?><Notify><CmdType>Keepalive</CmdType><SN>1</Notify>')), 400)
  assert.equal(await d.message(Buffer.from('<!DOCTYPE x [<!ENTITY a "b">]><Notify/>')), 400)
  assert.ok((await status()).events.manscdp_malformed - (before.manscdp_malformed || 0) >= 2)

  // RTP with another SSRC is dropped (counted): the live request fails, the server stays up
  const { d: wrong, camId } = await bindOne({ wrongSsrc: true })
  const live = await api(srv.base, merchant, 'POST', `/api/v1/cameras/${camId}/live`, { quality: 'hd' })
  assert.equal(live.status, 503, live.text)
  assert.ok((await status()).events.rtp_wrong_ssrc > 0)
  wrong.stopKeepalives()
  // garbage between the RTP packets is dropped, the picture still comes
  const { d: noisy, camId: cam2 } = await bindOne({ garbage: true })
  const ok = await api(srv.base, merchant, 'POST', `/api/v1/cameras/${cam2}/live`, { quality: 'hd' })
  assert.equal(ok.status, 200, ok.text)
  await until(async () => (await status()).events.rtp_garbage > 0, { what: 'garbage counted' })
  noisy.stopKeepalives()
  assert.equal((await api(srv.base, null, 'GET', '/healthz')).status, 200)
})

test('SIPp scenarios: REGISTER with digest (200), a wrong password (403), unregister', async () => {
  assert.equal(spawnSync('sh', ['-c', 'command -v sipp']).status, 0, 'sipp is not installed (apt-get install sip-tester)')
  const dir = path.join(REPO, 'tests', 'sipp')
  const user = '34020000001328888888'
  const run = async (scenario, password) => {
    const local = await freePort()
    return spawnSync('sipp', ['-sf', path.join(dir, scenario), '-m', '1', '-i', '127.0.0.1', '-p', String(local),
      '-s', user, '-au', user, '-ap', password, '-key', 'domain', DOMAIN, '-timeout', '15s', '-timeout_error',
      '-nostdin', `127.0.0.1:${sipPort}`], { encoding: 'utf8', timeout: 30000, cwd: os.tmpdir() })
  }
  const ok = await run('register_digest.xml', PASSWORD)
  assert.equal(ok.status, 0, ok.stdout + ok.stderr)
  assert.ok(await until(() => listed(admin, user), { what: 'the SIPp device' }))
  const bad = await run('register_forbidden.xml', 'not-the-password')
  assert.equal(bad.status, 0, bad.stdout + bad.stderr)
  const un = await run('unregister.xml', PASSWORD)
  assert.equal(un.status, 0, un.stdout + un.stderr)
})

test('TCP active media: the offer says a=setup:active, the platform connects to the device\'s answered port (RFC 4571)', async () => {
  const { d, camId } = await bindOne({ id: '34020000001327777777' })
  const live = await api(srv.base, merchant, 'POST', `/api/v1/cameras/${camId}/live`, { quality: 'hd' })
  assert.equal(live.status, 200, live.text)
  assert.match(d.invitesSdp[0], /m=video \d+ TCP\/RTP\/AVP/)
  assert.match(d.invitesSdp[0], /a=setup:active/)
  assert.equal(d.activeConns, 1, 'the platform connected to the device once')
  const pl = await until(async () => {
    const r = await api(srv.base, null, 'GET', live.json.hls_url)
    return r.status === 200 && /\d+\.ts/.test(r.text) ? r.text : null
  }, { what: 'a segment over TCP active' })
  const ts = await api(srv.base, null, 'GET', live.json.hls_url.replace('index.m3u8', pl.match(/(\d+\.ts)/)[1]))
  const v = probe(ts.bytes).streams.find((s) => s.codec_type === 'video')
  assert.equal(v.codec_name, 'h264')
  assert.ok((await status()).events.rtp_tcp_active >= 1)
  await until(() => d.byes >= 1, { what: 'BYE when idle', timeoutMs: 30000 })
  d.stopKeepalives()
})

test('device recordings: RecordInfo over several MESSAGEs up to SumNum; bad ranges, scope, offline', async () => {
  const { d, camId } = await bindOne({})
  const q = (token, from, to, id = camId) =>
    api(srv.base, token, 'GET', `/api/v1/cameras/${id}/device-recordings?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)
  const now = Date.now()
  const iso = (ms) => new Date(ms).toISOString()
  const r = await q(merchant, iso(now - 4 * 3600e3), iso(now))
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.sum_num, 3)
  assert.equal(r.json.complete, true)
  assert.equal(r.json.items.length, 3, 'three records assembled from two MESSAGEs')
  assert.equal(d.requests.filter((x) => x.cmdType === 'RecordInfo').length, 1)
  assert.equal(Date.parse(r.json.items[0].start), Math.floor(d.records[0].start / 1000) * 1000)
  assert.equal(Date.parse(r.json.items[2].end), Math.floor(d.records[2].end / 1000) * 1000)
  assert.equal(r.json.items[1].file_size, 2000)
  // a narrower range: only the last record
  const one = await q(merchant, iso(now - 45 * 60e3), iso(now))
  assert.equal(one.json.items.length, 1)
  // a device that loses the second MESSAGE: what came, complete false
  d.dropRecordMessages = true
  const part = await q(merchant, iso(now - 4 * 3600e3), iso(now))
  assert.equal(part.status, 200, part.text)
  assert.equal(part.json.complete, false)
  assert.equal(part.json.items.length, 2)
  d.dropRecordMessages = false
  // bad input
  let bad = await q(merchant, iso(now), iso(now - 3600e3))
  assert.equal(bad.status, 422)
  assert.equal(bad.json.error.field, 'to')
  bad = await q(merchant, 'yesterday', iso(now))
  assert.equal(bad.status, 422)
  assert.equal(bad.json.error.field, 'from')
  bad = await q(merchant, iso(now - 40 * 86400e3), iso(now))
  assert.equal(bad.status, 422, 'longer than the query window')
  assert.equal(bad.json.error.field, 'to')
  assert.equal((await api(srv.base, merchant, 'GET', `/api/v1/cameras/${camId}/device-recordings?from=${iso(now)}`)).json.error.field, 'to')
  assert.equal((await q(other, iso(now - 3600e3), iso(now))).status, 404, 'another district\'s camera')
  assert.equal((await q(merchant, iso(now - 3600e3), iso(now), 'cam_nope')).status, 404)
  assert.equal((await q(null, iso(now - 3600e3), iso(now))).status, 401)
  d.stopKeepalives()
  d.close()
  await until(async () => (await listed(admin, d.id))?.online === false, { what: 'device offline', timeoutMs: 15000 })
  const off = await q(merchant, iso(now - 3600e3), iso(now))
  assert.equal(off.status, 503)
  assert.equal(off.json.error.code, 'device_offline')
})

test('device playback: INVITE s=Playback with the range, HLS like live, INFO MANSRTSP pause/play/seek/speed, MediaStatus 121 ends it', async () => {
  const { d, camId } = await bindOne({})
  const base = `/api/v1/cameras/${camId}/device-playback`
  const rec = d.records[2]
  const from = Math.floor(rec.start / 1000) * 1000
  const to = from + 12000
  const iso = (ms) => new Date(ms).toISOString()
  // bad ranges, scope
  let bad = await api(srv.base, merchant, 'POST', base, { from: iso(to), to: iso(from) })
  assert.equal(bad.status, 422)
  assert.equal(bad.json.error.field, 'to')
  bad = await api(srv.base, merchant, 'POST', base, { from: iso(from - 30 * 3600e3), to: iso(from) })
  assert.equal(bad.status, 422, 'more than playback_max_hours')
  assert.equal(bad.json.error.field, 'to')
  bad = await api(srv.base, merchant, 'POST', base, { from: '2026-13-45T99:00:00Z', to: iso(to) })
  assert.equal(bad.status, 422)
  assert.equal(bad.json.error.field, 'from')
  bad = await api(srv.base, merchant, 'POST', base, { from: iso(Date.now() + 3600e3), to: iso(Date.now() + 7200e3) })
  assert.equal(bad.json.error.field, 'from', 'in the future')
  assert.equal((await api(srv.base, other, 'POST', base, { from: iso(from), to: iso(to) })).status, 404)
  assert.equal(d.invites, 0, 'nothing reached the device')

  const pb = await api(srv.base, merchant, 'POST', base, { from: iso(from), to: iso(to) })
  assert.equal(pb.status, 200, pb.text)
  assert.match(pb.json.session_id, /^[0-9a-f]{24}$/)
  assert.equal(pb.json.state, 'playing')
  assert.equal(pb.json.codec, 'h264')
  const sdp = d.invitesSdp.at(-1)
  const chan = chanId(d.id, 1)
  assert.match(sdp, /s=Playback/)
  assert.match(sdp, new RegExp(`u=${chan}:0`))
  assert.match(sdp, new RegExp(`t=${from / 1000} ${to / 1000}`))
  assert.match(sdp, /y=1\d{9}/, 'a playback SSRC starts with 1')
  const pl = await until(async () => {
    const r = await api(srv.base, null, 'GET', pb.json.hls_url)
    return r.status === 200 && /\d+\.ts/.test(r.text) ? r.text : null
  }, { what: 'a playback segment' })
  const ts = await api(srv.base, null, 'GET', pb.json.hls_url.replace('index.m3u8', pl.match(/(\d+\.ts)/)[1]))
  assert.equal(probe(ts.bytes).streams.find((s) => s.codec_type === 'video').codec_name, 'h264')
  const ctl = (token, body, sid = pb.json.session_id) => api(srv.base, token, 'POST', `${base}/${sid}/control`, body)

  // pause: the device stops sending
  let c = await ctl(merchant, { action: 'pause' })
  assert.equal(c.status, 200, c.text)
  assert.equal(c.json.state, 'paused')
  const sent = d.framesSent
  await new Promise((r) => setTimeout(r, 700))
  assert.equal(d.framesSent, sent, 'no frames while paused')
  assert.equal((await api(srv.base, merchant, 'GET', `${base}/${pb.json.session_id}`)).json.state, 'paused')
  c = await ctl(merchant, { action: 'play' })
  assert.equal(c.json.state, 'playing')
  await until(() => d.framesSent > sent, { what: 'frames again' })
  c = await ctl(merchant, { action: 'seek', at: iso(from + 2000) })
  assert.equal(c.status, 200, c.text)
  assert.equal(Date.parse(c.json.position), from + 2000)
  // bad control input, scope
  assert.equal((await ctl(merchant, { action: 'fly' })).json.error.field, 'action')
  assert.equal((await ctl(merchant, {})).status, 422)
  assert.equal((await ctl(merchant, { action: 'speed', scale: 3 })).json.error.field, 'scale')
  assert.equal((await ctl(merchant, { action: 'seek', at: iso(to + 60000) })).json.error.field, 'at')
  assert.equal((await ctl(merchant, { action: 'seek', at: 'soon' })).json.error.field, 'at')
  assert.equal((await ctl(other, { action: 'pause' })).status, 404)
  assert.equal((await ctl(merchant, { action: 'pause' }, 'f'.repeat(24))).status, 404)
  assert.equal((await api(srv.base, other, 'GET', `${base}/${pb.json.session_id}`)).status, 404)
  // INFO Application/MANSRTSP, the SIP CSeq counting up in the dialog, its own RTSP CSeq
  assert.deepEqual(d.infos.map((i) => [i.method, i.cseq, i.range ?? null]),
    [['PAUSE', 1, null], ['PLAY', 2, 'now-'], ['PLAY', 3, '2-']])
  assert.ok(d.infos.every((i) => /Application\/MANSRTSP/i.test(i.contentType)))
  assert.deepEqual(d.infos.map((i) => i.sipCseq), [2, 3, 4])
  // speed 4: the rest of the range plays in about 2.5 s, then the device says end of file (121)
  c = await ctl(merchant, { action: 'speed', scale: 4 })
  assert.equal(c.status, 200, c.text)
  assert.equal(c.json.scale, 4)
  assert.equal(d.infos.at(-1).scale, '4')
  const ended = await until(async () => {
    // a player keeps fetching the playlist meanwhile
    await api(srv.base, null, 'GET', pb.json.hls_url)
    const r = await api(srv.base, merchant, 'GET', `${base}/${pb.json.session_id}`)
    return r.json.state === 'ended' ? r.json : null
  }, { what: 'ended by MediaStatus 121', timeoutMs: 15000 })
  assert.match(ended.reason, /121/)
  assert.equal(d.mediaStatusSent, 1)
  await until(() => d.byes >= 1, { what: 'BYE after end of file' })
  assert.equal((await ctl(merchant, { action: 'play' })).status, 409, 'an ended playback cannot be controlled')

  // a second playback stopped by DELETE: BYE
  const pb2 = await api(srv.base, merchant, 'POST', base, { from: iso(from), to: iso(to) })
  assert.equal(pb2.status, 200, pb2.text)
  assert.equal((await api(srv.base, other, 'DELETE', `${base}/${pb2.json.session_id}`)).status, 404)
  const del = await api(srv.base, merchant, 'DELETE', `${base}/${pb2.json.session_id}`)
  assert.equal(del.status, 200, del.text)
  assert.equal(del.json.state, 'ended')
  await until(() => d.byes >= 2, { what: 'BYE after DELETE' })
  assert.equal((await api(srv.base, null, 'GET', pb2.json.hls_url)).status, 404, 'the session\'s URL is gone')
  // the device goes offline: 503 with a JSON error
  d.stopKeepalives()
  d.close()
  await until(async () => (await listed(admin, d.id))?.online === false, { what: 'device offline', timeoutMs: 15000 })
  const off = await api(srv.base, merchant, 'POST', base, { from: iso(from), to: iso(to) })
  assert.equal(off.status, 503)
  assert.equal(off.json.error.code, 'device_offline')
})

test('the playback routes are in the OpenAPI document with a summary', async () => {
  const o = await api(srv.base, null, 'GET', '/api/v1/openapi.json')
  const base = '/api/v1/cameras/{id}'
  for (const [method, p] of [['get', `${base}/device-recordings`], ['post', `${base}/device-playback`],
    ['get', `${base}/device-playback/{session_id}`], ['delete', `${base}/device-playback/{session_id}`],
    ['post', `${base}/device-playback/{session_id}/control`]]) {
    const op = o.json.paths[p]?.[method]
    assert.ok(op, `${method} ${p} listed`)
    assert.notEqual(op.summary, `${method.toUpperCase()} ${p}`, `${method} ${p} has a summary`)
  }
})

test('the server survived everything above', async () => {
  assert.equal((await api(srv.base, null, 'GET', '/healthz')).status, 200)
  assert.ok(srv.alive())
  void parseSip
})
