// A GB/T 28181 device simulator for the tests (none is packaged): SIP over UDP or TCP, REGISTER
// with MD5 digest, keepalives, DeviceInfo and Catalog answers (split over several MESSAGEs), PTZ
// commands recorded, INVITE answered with PS over RTP (UDP, or TCP with RFC 4571 framing; the device
// connects, or with a=setup:active in the offer it listens and the platform connects) packetised
// from a real H.264 file that ffmpeg makes at test time; its own "storage": RecordInfo answers
// (split over several MESSAGEs) and Playback of a range (s=Playback, t=), obeying INFO MANSRTSP
// PAUSE / PLAY Range / Scale, MediaStatus 121 at the end. Loopback only.
import crypto from 'node:crypto'
import dgram from 'node:dgram'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'

const md5 = (s) => crypto.createHash('md5').update(s).digest('hex')
const rand = () => crypto.randomBytes(6).toString('hex')

/** Parses one SIP message: { start, method?, status?, headers: Map(lower -> [values]), body }. */
export function parseSip(buf) {
  const text = buf.toString('latin1')
  const head = text.indexOf('\r\n\r\n')
  const lines = text.slice(0, head).split('\r\n')
  const headers = new Map()
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':')
    if (i < 0) continue
    const k = l.slice(0, i).trim().toLowerCase()
    if (!headers.has(k)) headers.set(k, [])
    headers.get(k).push(l.slice(i + 1).trim())
  }
  const m = { start: lines[0], headers, body: buf.subarray(head + 4) }
  const r = /^SIP\/2\.0 (\d+)/.exec(lines[0])
  if (r) m.status = Number(r[1])
  else m.method = lines[0].split(' ')[0]
  m.h = (k) => (headers.get(k) || [])[0]
  return m
}

/** Where a SIP message ends in a TCP buffer (0: incomplete). */
function frameLength(buf) {
  const head = buf.indexOf('\r\n\r\n')
  if (head < 0) return 0
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(0, head + 2).toString('latin1'))
  const total = head + 4 + (m ? Number(m[1]) : 0)
  return buf.length >= total ? total : 0
}

/** A raw H.264 Annex B file of `seconds` made by ffmpeg, split into access units (AUD first). */
export function makeH264(seconds = 4, size = '320x240') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-gb-h264-'))
  const f = path.join(dir, 'x.h264')
  const r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=25`, '-t', String(seconds),
    '-c:v', 'libx264', '-g', '25', '-bf', '0', '-pix_fmt', 'yuv420p', '-bsf:v', 'h264_metadata=aud=insert', '-f', 'h264', f],
  { encoding: 'utf8', timeout: 60000 })
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`)
  const data = fs.readFileSync(f)
  fs.rmSync(dir, { recursive: true, force: true })
  return splitAnnexB(data)
}

/** Access units of a raw H.264 Annex B stream with AUDs ({ data, key }), split at the AUDs. */
export function splitAnnexB(data) {
  // split at AUD NAL units (00 00 00 01 09)
  const starts = []
  for (let i = 0; i + 4 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 0 && data[i + 3] === 1 && (data[i + 4] & 0x1f) === 9) starts.push(i)
  }
  const aus = []
  for (let k = 0; k < starts.length; k++) {
    const au = data.subarray(starts[k], k + 1 < starts.length ? starts[k + 1] : data.length)
    let key = false
    for (let i = 0; i + 3 < au.length; i++) {
      if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1 && (au[i + 3] & 0x1f) === 5) { key = true; break }
    }
    aus.push({ data: au, key })
  }
  return aus
}

function ts5(prefix, ts) {
  const b = Buffer.alloc(5)
  b[0] = (prefix << 4) | (Number((BigInt(ts) >> 30n) & 7n) << 1) | 1
  b[1] = Number((BigInt(ts) >> 22n) & 0xffn)
  b[2] = (Number((BigInt(ts) >> 15n) & 0x7fn) << 1) | 1
  b[3] = Number((BigInt(ts) >> 7n) & 0xffn)
  b[4] = (Number(BigInt(ts) & 0x7fn) << 1) | 1
  return b
}

/** One access unit as an MPEG-2 program stream: pack header, (key: system header + PSM), PES. */
export function psPack(au, pts, key, { psm = true, streamType = 0x1b } = {}) {
  const parts = []
  const scr = BigInt(pts)
  const pack = Buffer.from([0, 0, 1, 0xba,
    0x44 | (Number((scr >> 30n) & 7n) << 3) | Number((scr >> 28n) & 3n),
    Number((scr >> 20n) & 0xffn),
    (Number((scr >> 12n) & 0xf8n)) | 0x04 | Number((scr >> 13n) & 3n),
    Number((scr >> 5n) & 0xffn),
    (Number(scr & 0x1fn) << 3) | 0x04,
    0x01, 0x01, 0x89, 0xc3, 0xf8])
  parts.push(pack)
  if (key && psm) {
    parts.push(Buffer.from([0, 0, 1, 0xbb, 0, 0x0c, 0x80, 0xcc, 0xf5, 0x04, 0xe1, 0x7f, 0xe0, 0xe0, 0xe8, 0xc0, 0xc0, 0x20]))
    const body = Buffer.from([0xe0, 0xff, 0, 0, 0, 4, streamType, 0xe0, 0, 0, 0, 0, 0, 0])
    parts.push(Buffer.from([0, 0, 1, 0xbc, body.length >> 8, body.length & 0xff]), body)
  }
  for (let pos = 0, first = true; pos < au.length; first = false) {
    const chunk = au.subarray(pos, pos + 65000)
    pos += chunk.length
    const hdr = first ? 5 : 0
    const plen = 3 + hdr + chunk.length
    parts.push(Buffer.from([0, 0, 1, 0xe0, plen >> 8, plen & 0xff, 0x80, first ? 0x80 : 0, hdr]))
    if (first) parts.push(ts5(2, pts))
    parts.push(chunk)
  }
  return Buffer.concat(parts)
}

/** RTP packets (payload type 96) of one PS frame, the marker on the last. */
export function rtpPackets(ps, { seq, ts, ssrc, mtu = 1400 }) {
  const out = []
  for (let pos = 0; pos < ps.length; pos += mtu) {
    const payload = ps.subarray(pos, pos + mtu)
    const h = Buffer.alloc(12)
    h[0] = 0x80
    h[1] = 96 | (pos + mtu >= ps.length ? 0x80 : 0)
    h.writeUInt16BE(seq.n++ & 0xffff, 2)
    h.writeUInt32BE(ts >>> 0, 4)
    h.writeUInt32BE(ssrc >>> 0, 8)
    out.push(Buffer.concat([h, payload]))
  }
  return out
}

export class GbDevice {
  /**
   * opts: { sipPort, id, password, domain, serverId, transport: 'udp'|'tcp', channels: [{id, name}],
   *         catalogPerMessage, aus (from makeH264), encoding: 'GB2312'|'UTF-8', psm }
   */
  constructor(opts) {
    this.o = { transport: 'udp', domain: '3402000000', serverId: '34020000002000000001', catalogPerMessage: 2,
      encoding: 'GB2312', psm: true, ...opts }
    this.id = this.o.id
    this.pending = new Map() // call-id|cseq -> resolve
    this.cseq = 1
    this.ptz = [] // PTZCmd strings received
    this.requests = [] // every request received: { method, cmdType }
    this.media = null
    this.invites = 0
    this.byes = 0
    this.answerQueries = true
    this.infos = [] // MANSRTSP bodies received by INFO: { sipCseq, method, cseq, range, scale }
    this.invitesSdp = [] // the SDP of every INVITE
    this.framesSent = 0
    this.activeConns = 0 // media connections the platform made to us (tcp active)
    this.mediaStatusSent = 0
    this.recordPerMessage = 2
    const now = Date.now()
    // the device's own recordings (epoch ms); the file's picture stands in for all of them
    this.records = opts.records || [
      { start: now - 3 * 3600e3, end: now - 2 * 3600e3 },
      { start: now - 2 * 3600e3, end: now - 3600e3 },
      { start: now - 50 * 60e3, end: now - 40 * 60e3 },
    ]
  }

  async open() {
    if (this.o.transport === 'udp') {
      this.sock = dgram.createSocket('udp4')
      this.sock.on('message', (m) => this.onMessage(m))
      await new Promise((r) => this.sock.bind(0, '127.0.0.1', r))
      this.localPort = this.sock.address().port
    } else {
      this.conn = net.connect(this.o.sipPort, '127.0.0.1')
      await new Promise((r, j) => { this.conn.once('connect', r); this.conn.once('error', j) })
      this.localPort = this.conn.localPort
      let buf = Buffer.alloc(0)
      this.conn.on('data', (d) => {
        buf = Buffer.concat([buf, d])
        for (;;) {
          const n = frameLength(buf)
          if (!n) break
          this.onMessage(buf.subarray(0, n))
          buf = buf.subarray(n)
        }
      })
      this.conn.on('error', () => {})
    }
    return this
  }

  sendRaw(data) {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1')
    if (this.sock) this.sock.send(b, this.o.sipPort, '127.0.0.1')
    else if (this.conn && !this.conn.destroyed) this.conn.write(b)
  }

  via(branch) {
    return `Via: SIP/2.0/${this.o.transport.toUpperCase()} 127.0.0.1:${this.localPort};rport;branch=z9hG4bK${branch}`
  }

  /** Sends a request and waits for its final response (UDP: retransmitted at 500 ms, 1 s, ...). */
  request({ method, uri, headers = [], body = Buffer.alloc(0), callId = rand(), cseq = this.cseq++, branch = rand(), fromTag = rand(), contentType, timeoutMs = 4000 }) {
    const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')
    const lines = [`${method} ${uri} SIP/2.0`, this.via(branch),
      `From: <sip:${this.id}@${this.o.domain}>;tag=${fromTag}`, `To: <sip:${this.id}@${this.o.domain}>`,
      `Call-ID: ${callId}`, `CSeq: ${cseq} ${method}`, 'Max-Forwards: 70',
      `Contact: <sip:${this.id}@127.0.0.1:${this.localPort}>`, ...headers]
    if (contentType) lines.push(`Content-Type: ${contentType}`)
    lines.push(`Content-Length: ${b.length}`, '', '')
    const msg = Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), b])
    const key = `${callId}|${cseq}`
    return new Promise((resolve) => {
      let timer
      let wait = 500
      const again = () => {
        this.sendRaw(msg)
        if (this.sock) timer = setTimeout(again, (wait = Math.min(wait * 2, 4000)))
      }
      const done = setTimeout(() => { clearTimeout(timer); this.pending.delete(key); resolve(null) }, timeoutMs)
      this.pending.set(key, (res) => { clearTimeout(timer); clearTimeout(done); resolve(res) })
      this.sendRaw(msg)
      if (this.sock) timer = setTimeout(again, wait)
    })
  }

  /** REGISTER with digest. opts: { expires, password, realm, reuseNonce, noAuth }. Answers the final status. */
  async register(opts = {}) {
    const callId = this.regCallId || (this.regCallId = rand())
    const uri = `sip:${this.o.serverId}@${this.o.domain}`
    const expires = opts.expires ?? 3600
    const first = await this.request({ method: 'REGISTER', uri, callId, headers: [`Expires: ${expires}`] })
    if (!first) return null
    if (first.status !== 401 || opts.noAuth) return first.status
    const www = first.h('www-authenticate')
    const nonce = opts.reuseNonce && this.okNonce ? this.okNonce : /nonce="([^"]+)"/.exec(www)[1]
    const realm = opts.realm ?? /realm="([^"]+)"/.exec(www)[1]
    const pw = opts.password ?? this.o.password
    const response = md5(`${md5(`${this.id}:${realm}:${pw}`)}:${nonce}:${md5(`REGISTER:${uri}`)}`)
    const auth = `Digest username="${this.id}",realm="${realm}",nonce="${nonce}",uri="${uri}",response="${response}",algorithm=MD5`
    const second = await this.request({ method: 'REGISTER', uri, callId, headers: [`Expires: ${expires}`, `Authorization: ${auth}`] })
    if (second?.status === 200) this.okNonce = nonce // the nonce the platform accepted (reuseNonce replays it)
    return second ? second.status : null
  }

  xml(root, cmd, sn, inner = '') {
    const decl = `<?xml version="1.0" encoding="${this.o.encoding}"?>\r\n`
    const s = `${decl}<${root}>\r\n<CmdType>${cmd}</CmdType>\r\n<SN>${sn}</SN>\r\n<DeviceID>${this.id}</DeviceID>\r\n${inner}</${root}>\r\n`
    if (this.o.encoding === 'GB2312') return encodeGb(s)
    return Buffer.from(s, 'utf8')
  }

  async message(body) {
    const r = await this.request({ method: 'MESSAGE', uri: `sip:${this.o.serverId}@${this.o.domain}`, body,
      contentType: 'Application/MANSCDP+xml' })
    return r ? r.status : null
  }

  keepalive() {
    return this.message(this.xml('Notify', 'Keepalive', this.cseq, '<Status>OK</Status>\r\n'))
  }

  startKeepalives(ms) {
    this.stopKeepalives()
    this.kaTimer = setInterval(() => this.keepalive(), ms)
  }

  stopKeepalives() {
    clearInterval(this.kaTimer)
  }

  respond(req, status, reason, { body, contentType, toTag = rand() } = {}) {
    const b = body ? Buffer.from(body, 'latin1') : Buffer.alloc(0)
    const to = req.h('to')
    const lines = [`SIP/2.0 ${status} ${reason}`, ...(req.headers.get('via') || []).map((v) => `Via: ${v}`),
      `From: ${req.h('from')}`, `To: ${/tag=/.test(to) ? to : `${to};tag=${toTag}`}`, `Call-ID: ${req.h('call-id')}`,
      `CSeq: ${req.h('cseq')}`, `Contact: <sip:${this.id}@127.0.0.1:${this.localPort}>`]
    if (contentType) lines.push(`Content-Type: ${contentType}`)
    lines.push(`Content-Length: ${b.length}`, '', '')
    this.sendRaw(Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), b]))
  }

  onMessage(buf) {
    let m
    try { m = parseSip(buf) } catch { return }
    if (m.status) {
      const [n] = (m.h('cseq') || '').split(' ')
      const key = `${m.h('call-id')}|${n}`
      if (m.status >= 200 && this.pending.has(key)) {
        const f = this.pending.get(key)
        this.pending.delete(key)
        f(m)
      }
      return
    }
    const body = m.body.toString('latin1')
    const cmd = /<CmdType>([^<]+)<\/CmdType>/.exec(body)?.[1]
    this.requests.push({ method: m.method, cmdType: cmd })
    if (m.method === 'MESSAGE') {
      this.respond(m, 200, 'OK')
      const sn = /<SN>([^<]+)<\/SN>/.exec(body)?.[1]
      if (cmd === 'Catalog' && this.answerQueries) this.sendCatalog(sn)
      else if (cmd === 'DeviceInfo' && this.answerQueries) {
        this.message(this.xml('Response', 'DeviceInfo', sn,
          '<DeviceName>模拟设备</DeviceName>\r\n<Result>OK</Result>\r\n<Manufacturer>MingChuSim</Manufacturer>\r\n<Model>SIM-1</Model>\r\n<Firmware>1.0</Firmware>\r\n'))
      } else if (cmd === 'DeviceControl') this.ptz.push(/<PTZCmd>([^<]+)<\/PTZCmd>/.exec(body)?.[1])
      else if (cmd === 'RecordInfo' && this.answerQueries) this.sendRecordInfo(sn, body)
    } else if (m.method === 'INVITE') {
      this.invites++
      this.onInvite(m, body)
    } else if (m.method === 'ACK') {
      if (this.media && !this.media.started) this.startMedia()
    } else if (m.method === 'INFO') {
      this.onInfo(m, body)
    } else if (m.method === 'BYE') {
      this.byes++
      this.stopMedia()
      this.respond(m, 200, 'OK')
    } else {
      this.respond(m, 405, 'Method Not Allowed')
    }
  }

  async sendCatalog(sn) {
    const chans = this.o.channels || []
    const per = this.o.catalogPerMessage
    for (let i = 0; i < Math.max(chans.length, 1); i += per) {
      const items = chans.slice(i, i + per).map((c) =>
        `<Item>\r\n<DeviceID>${c.id}</DeviceID>\r\n<Name>${c.name}</Name>\r\n<Manufacturer>MingChuSim</Manufacturer>\r\n<Model>IPC</Model>\r\n<Parental>0</Parental>\r\n<ParentID>${this.id}</ParentID>\r\n<Status>ON</Status>\r\n</Item>\r\n`).join('')
      await this.message(this.xml('Response', 'Catalog', sn,
        `<SumNum>${chans.length}</SumNum>\r\n<DeviceList Num="${chans.length ? Math.min(per, chans.length - i) : 0}">\r\n${items}</DeviceList>\r\n`))
    }
  }

  /** RecordInfo: the records overlapping [StartTime, EndTime] (local times, +08:00), recordPerMessage a MESSAGE. */
  async sendRecordInfo(sn, body) {
    const local = (t) => Date.parse(`${t}+08:00`)
    const fmt = (ms) => new Date(ms + 8 * 3600e3).toISOString().slice(0, 19)
    const from = local(/<StartTime>([^<]+)</.exec(body)[1])
    const to = local(/<EndTime>([^<]+)</.exec(body)[1])
    const chan = /<DeviceID>([^<]+)</.exec(body)[1]
    const recs = this.records.filter((r) => r.end > from && r.start < to)
    const per = this.recordPerMessage
    for (let i = 0; i < Math.max(recs.length, 1); i += per) {
      const items = recs.slice(i, i + per).map((r, j) =>
        `<Item>\r\n<DeviceID>${chan}</DeviceID>\r\n<Name>录像${i + j + 1}</Name>\r\n<FilePath>/rec/${i + j + 1}.ps</FilePath>\r\n<Address>sim</Address>\r\n<StartTime>${fmt(r.start)}</StartTime>\r\n<EndTime>${fmt(r.end)}</EndTime>\r\n<Secrecy>0</Secrecy>\r\n<Type>time</Type>\r\n<FileSize>${1000 * (i + j + 1)}</FileSize>\r\n</Item>\r\n`).join('')
      if (this.dropRecordMessages && i > 0) continue // a device that loses answers
      await this.message(this.xml('Response', 'RecordInfo', sn,
        `<Name>${chan}</Name>\r\n<SumNum>${recs.length}</SumNum>\r\n<RecordList Num="${Math.min(per, recs.length - i)}">\r\n${items}</RecordList>\r\n`))
    }
  }

  /** INFO Application/MANSRTSP: PAUSE, PLAY (Range npt=N- seeks, Scale changes the speed). */
  onInfo(m, body) {
    const md = this.media
    const method = body.split(' ')[0]
    const info = { sipCseq: Number((m.h('cseq') || '').split(' ')[0]), method, cseq: Number(/CSeq: (\d+)/i.exec(body)?.[1]),
      range: /Range: npt=([^\r\n]+)/i.exec(body)?.[1], scale: /Scale: ([\d.]+)/i.exec(body)?.[1], contentType: m.h('content-type') }
    this.infos.push(info)
    if (!md || !md.playback || md.callId !== m.h('call-id')) return this.respond(m, 481, 'Call/Transaction Does Not Exist')
    if (method === 'PAUSE') md.paused = true
    else if (method === 'PLAY') {
      md.paused = false
      if (info.range && info.range !== 'now-') md.pos = md.playback.start + Number(info.range.split('-')[0]) * 1000
      if (info.scale) md.scale = Number(info.scale)
    }
    this.respond(m, 200, 'OK')
  }

  onInvite(m, sdp) {
    this.invitesSdp.push(sdp)
    const port = Number(/m=video (\d+)/.exec(sdp)[1])
    const ip = /c=IN IP4 (\S+)/.exec(sdp)[1]
    const tcp = /TCP\/RTP\/AVP/.test(sdp)
    const active = /a=setup:active/.test(sdp) // the platform connects to us
    const ssrc = Number(/y=(\d+)/.exec(sdp)[1])
    if (!this.o.aus) return this.respond(m, 488, 'Not Acceptable Here')
    this.media = { ip, port, tcp, active, ssrc: this.o.wrongSsrc ? ssrc + 1 : ssrc, started: false, callId: m.h('call-id') }
    const t = /t=(\d+) (\d+)/.exec(sdp)
    if (/s=Playback/.test(sdp) && t) {
      this.media.playback = { start: Number(t[1]) * 1000, stop: Number(t[2]) * 1000 }
      this.media.pos = this.media.playback.start
      this.media.scale = 1
    }
    const answer = (mport) => `v=0\r\no=${this.id} 0 0 IN IP4 127.0.0.1\r\ns=${this.media.playback ? 'Playback' : 'Play'}\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video ${mport} ${tcp ? 'TCP/RTP/AVP' : 'RTP/AVP'} 96\r\na=sendonly\r\na=rtpmap:96 PS/90000\r\n${tcp ? (active ? 'a=setup:passive\r\n' : 'a=setup:active\r\n') : ''}y=${ssrc}\r\n`
    if (tcp && active) {
      const md = this.media
      md.server = net.createServer((c) => {
        this.activeConns++
        c.on('error', () => {})
        md.conn = c
        if (md.started && !md.timer) this.startMedia()
      })
      md.server.listen(0, '127.0.0.1', () => this.respond(m, 200, 'OK', { body: answer(md.server.address().port), contentType: 'APPLICATION/SDP' }))
      return
    }
    this.respond(m, 200, 'OK', { body: answer(15060), contentType: 'APPLICATION/SDP' })
  }

  startMedia() {
    const md = this.media
    md.started = true
    const seq = { n: 1 }
    let k = 0
    let pts = 90000
    let send
    if (md.tcp && md.active) {
      if (!md.conn) return // sent once the platform connected
      send = (p) => { const h = Buffer.alloc(2); h.writeUInt16BE(p.length); md.conn.write(Buffer.concat([h, p])) }
    } else if (md.tcp) {
      md.conn = net.connect(md.port, md.ip)
      md.conn.on('error', () => {})
      send = (p) => { const h = Buffer.alloc(2); h.writeUInt16BE(p.length); md.conn.write(Buffer.concat([h, p])) }
    } else {
      md.sock = dgram.createSocket('udp4')
      send = (p) => md.sock.send(p, md.port, md.ip)
    }
    const frame = () => {
      const au = this.o.aus[k % this.o.aus.length]
      k++
      const ps = psPack(au.data, pts, au.key, { psm: this.o.psm })
      if (this.o.garbage && k % 5 === 0) send(Buffer.concat([Buffer.from([0x00]), crypto.randomBytes(199)])) // not RTP v2
      for (const p of rtpPackets(ps, { seq, ts: pts, ssrc: md.ssrc })) send(p)
      this.framesSent++
      pts += 3600
    }
    if (md.playback) {
      // the recording's clock: frame n of the range at pts (pos - start) * 90; a seek starts at a keyframe
      let tick = 0
      let lastPos = md.pos
      md.timer = setInterval(() => {
        if (md.paused) return
        tick++
        if (md.pos !== lastPos) k = Math.floor(Math.round((md.pos - md.playback.start) / 40) / 25) * 25 // seeked
        const n = md.scale >= 1 ? md.scale : (tick % Math.round(1 / md.scale) === 0 ? 1 : 0)
        for (let i = 0; i < n && md.pos < md.playback.stop; i++) {
          pts = 90000 + Math.round((md.pos - md.playback.start) * 90)
          frame()
          md.pos += 40
        }
        lastPos = md.pos
        if (md.pos >= md.playback.stop && !md.eof) { // end of file: MediaStatus 121 (out of the dialog)
          md.eof = true
          clearInterval(md.timer)
          this.mediaStatusSent++
          this.message(this.xml('Notify', 'MediaStatus', this.cseq, '<NotifyType>121</NotifyType>\r\n'))
        }
      }, 40)
      return
    }
    md.timer = setInterval(frame, 40)
  }

  stopMedia() {
    const md = this.media
    if (!md) return
    clearInterval(md.timer)
    md.server?.close()
    try {
      md.sock?.close()
    } catch {
      /* closed already */
    }
    md.conn?.destroy()
    this.media = null
  }

  close() {
    this.stopKeepalives()
    this.stopMedia()
    try {
      this.sock?.close()
    } catch {
      /* closed already */
    }
    this.sock = null
    this.conn?.destroy()
  }
}

/** GB2312 bytes of a string (Node has no GB2312 encoder: iconv from glibc does it). */
export function encodeGb(s) {
  const r = spawnSync('iconv', ['-f', 'UTF-8', '-t', 'GB2312'], { input: s })
  if (r.status !== 0) throw new Error('iconv failed')
  return r.stdout
}
