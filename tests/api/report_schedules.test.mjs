// Scheduled reports through HTTP: a schedule per jurisdiction (cron in Asia/Shanghai), run by the
// report scheduler when due (the manual clock travels), kept in the reports archive with SHA-256
// and SM3 digests, delivered to users' inboxes, a signed webhook and e-mail through a local SMTP
// sink this test runs on loopback; a webhook that is down is retried and then dead-lettered,
// visible in the archive and retried by hand; bad schedules answer 4xx naming the field.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/report_schedules.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import http from 'node:http'
import net from 'node:net'

import { api, freePort, startServer } from './lib.mjs'
import { advance, loginAll, serverNow } from './alerts_lib.mjs'
import { pdfText } from './reports_lib.mjs'

let srv
let tok
let smtp
let hook
const mails = []
const hooks = []
const ids = {}
const call = (who, method, p, body) => api(srv.base, tok[who], method, p, body)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** A minimal SMTP sink (RFC 5321 subset): accepts every message and keeps it. */
function startSmtpSink(port) {
  const server = net.createServer((sock) => {
    let buf = ''
    let data = false
    let mail = { from: '', to: [], data: '' }
    sock.write('220 sink ESMTP\r\n')
    sock.on('data', (d) => {
      buf += d.toString('latin1')
      for (;;) {
        if (data) {
          const end = buf.indexOf('\r\n.\r\n')
          if (end < 0) return
          mail.data = Buffer.from(buf.slice(0, end), 'latin1').toString('utf8')
          mails.push(mail)
          mail = { from: '', to: [], data: '' }
          buf = buf.slice(end + 5)
          data = false
          sock.write('250 queued\r\n')
          continue
        }
        const eol = buf.indexOf('\r\n')
        if (eol < 0) return
        const line = buf.slice(0, eol)
        buf = buf.slice(eol + 2)
        const cmd = line.slice(0, 4).toUpperCase()
        if (cmd === 'EHLO' || cmd === 'HELO') sock.write('250-sink\r\n250 8BITMIME\r\n')
        else if (cmd === 'MAIL') (mail.from = line), sock.write('250 ok\r\n')
        else if (cmd === 'RCPT') mail.to.push(/<(.*)>/.exec(line)?.[1]), sock.write('250 ok\r\n')
        else if (cmd === 'DATA') (data = true), sock.write('354 go on\r\n')
        else if (cmd === 'QUIT') sock.end('221 bye\r\n')
        else sock.write('502 no\r\n')
      }
    })
    sock.on('error', () => {})
  })
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)))
}

before(async () => {
  const smtpPort = await freePort()
  smtp = await startSmtpSink(smtpPort)
  const hookPort = await freePort()
  hook = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      hooks.push({ headers: req.headers, body })
      res.writeHead(204).end()
    })
  })
  await new Promise((r) => hook.listen(hookPort, '127.0.0.1', r))
  ids.hookUrl = `http://127.0.0.1:${hookPort}/reports`
  ids.deadUrl = `http://127.0.0.1:${await freePort()}/down` // nothing listens there
  srv = await startServer({
    demo: true,
    args: ['--manual-clock'],
    env: { MINGCHU_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8', MINGCHU_SMTP_HOST: '127.0.0.1', MINGCHU_SMTP_PORT: String(smtpPort), MINGCHU_REPORTS_TICK_MS: '200', MINGCHU_REPORTS_BACKOFF_MS: '50' },
  })
  tok = await loginAll(srv.base)
  ids.city = (await call('city', 'GET', '/api/v1/me')).json.jurisdiction_id
  ids.district = (await call('district', 'GET', '/api/v1/me')).json.jurisdiction_id
  ids.otherDistrict = (await call('otherDistrict', 'GET', '/api/v1/me')).json.jurisdiction_id
  ids.cityUser = (await call('city', 'GET', '/api/v1/me')).json.id
  ids.districtUser = (await call('district', 'GET', '/api/v1/me')).json.id
  const h = await call('city', 'POST', '/api/v1/webhooks', { url: ids.hookUrl, events: ['alert.card'], secret: 'report-hook-secret-0123456789' })
  assert.equal(h.status, 201, h.text)
  ids.hook = h.json.id
  const d = await call('city', 'POST', '/api/v1/webhooks', { url: ids.deadUrl, events: ['alert.card'], secret: 'dead-hook-secret-0123456789' })
  assert.equal(d.status, 201, d.text)
  ids.deadHook = d.json.id
})

after(async () => {
  await srv?.stop()
  smtp?.close()
  hook?.close()
})

async function waitFor(what, fn, ms = 20000) {
  const until = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

test('a monthly report scheduled for 08:00 on the 1st runs when due and reaches inbox, webhook and e-mail', async () => {
  const r = await call('city', 'POST', '/api/v1/report-schedules', {
    report: 'monthly',
    jurisdiction_id: ids.city,
    cron: '0 8 1 * *',
    recipients: { users: [ids.cityUser, ids.districtUser], webhook_id: ids.hook, emails: ['chief@bureau.test', 'duty@bureau.test'] },
  })
  assert.equal(r.status, 201, r.text)
  const s = r.json
  assert.equal(s.time_zone, 'Asia/Shanghai')
  assert.match(s.next_run_at, /-01T08:00:00\+08:00$/, 'the next 1st of a month at 08:00 local time')
  // nothing before it is due
  const before = (await call('city', 'GET', '/api/v1/report-archive')).json.total
  // travel to just after the due time
  const now = await serverNow(srv.base, tok.admin)
  await advance(srv.base, tok.admin, Math.ceil((Date.parse(s.next_run_at) - now) / 1000) + 5)
  tok = await loginAll(srv.base) // a month later: the sessions have expired
  const entry = await waitFor('the archived report', async () => {
    const a = await call('city', 'GET', '/api/v1/report-archive')
    return a.json.total > before && a.json.items.find((x) => x.schedule_id === s.id)
  })
  assert.equal(entry.content_type, 'application/pdf')
  assert.match(entry.sm3, /^[0-9a-f]{64}$/)
  const file = await call('city', 'GET', `/api/v1/report-archive/${entry.id}/file`)
  assert.equal(file.status, 200)
  assert.equal(file.headers.get('x-content-sm3'), entry.sm3)
  assert.equal(crypto.createHash('sha256').update(file.bytes).digest('hex'), entry.sha256, 'SHA-256 of the bytes served')
  assert.ok(pdfText(file.bytes).includes('南通市'))
  // the schedule moved on a month
  const again = await call('city', 'GET', `/api/v1/report-schedules/${s.id}`)
  assert.ok(Date.parse(again.json.next_run_at) > Date.parse(s.next_run_at))
  assert.ok(again.json.last_run_at)
  // inbox
  for (const who of ['city', 'district']) {
    // (a month passed: certificate notices crowd the inbox too)
    let found = false
    for (let p = 1; p <= 30 && !found; p++) {
      const n = await call(who, 'GET', `/api/v1/notifications?page_size=200&page=${p}`)
      found = n.json.items.some((x) => x.topic === 'report.ready' && x.body.includes(entry.id))
      if (n.json.items.length < 200) break
    }
    assert.ok(found, `${who}'s inbox`)
  }
  // webhook, signed as the other webhooks are
  const got = await waitFor('the webhook delivery', () => hooks.find((h) => h.body.includes(entry.id)))
  const ts = got.headers['x-mingchu-timestamp']
  const expect = 'sha256=' + crypto.createHmac('sha256', 'report-hook-secret-0123456789').update(`${ts}.${got.body}`).digest('hex')
  assert.equal(got.headers['x-mingchu-signature'], expect)
  const payload = JSON.parse(got.body)
  assert.equal(payload.schema, 'mingchu.report.v1')
  assert.equal(payload.sm3, entry.sm3)
  // e-mail with the PDF attached
  const mail = await waitFor('the e-mail', () => mails.find((m) => m.data.includes(entry.sm3) || m.data.includes('mingchu-')))
  assert.deepEqual(mail.to.sort(), ['chief@bureau.test', 'duty@bureau.test'])
  const b64 = /Content-Type: application\/pdf[\s\S]*?\r\n\r\n([A-Za-z0-9+/=\r\n]+)\r\n--/.exec(mail.data)?.[1]
  assert.ok(b64, 'a PDF attachment')
  const attached = Buffer.from(b64.replace(/\r\n/g, ''), 'base64')
  assert.equal(crypto.createHash('sha256').update(attached).digest('hex'), entry.sha256, 'the attachment is the archived file')
  const final = await waitFor('deliveries done', async () => {
    const a = await call('city', 'GET', `/api/v1/report-archive/${entry.id}`)
    return a.json.deliveries.every((d) => d.state === 'delivered') && a.json
  })
  assert.deepEqual(final.deliveries.map((d) => d.channel).sort(), ['email', 'inbox', 'inbox', 'webhook'])
  // scope: the other district sees neither the schedule nor the archive
  assert.equal((await call('otherDistrict', 'GET', `/api/v1/report-schedules/${s.id}`)).status, 404)
  assert.equal((await call('otherDistrict', 'GET', `/api/v1/report-archive/${entry.id}/file`)).status, 404)
  assert.equal((await call('otherDistrict', 'GET', '/api/v1/report-archive')).json.items.some((x) => x.id === entry.id), false)
})

test('a webhook that is down is retried, then dead-lettered, visible, and retried by hand', async () => {
  const r = await call('district', 'POST', '/api/v1/report-schedules', {
    report: 'alerts_csv', jurisdiction_id: ids.district, cron: '30 7 * * 1', recipients: { webhook_id: ids.deadHook },
  })
  // the dead webhook is the city's: a district regulator may not use it
  assert.equal(r.status, 422, r.text)
  assert.equal(r.json.error.field, 'recipients.webhook_id')
  const ok = await call('city', 'POST', '/api/v1/report-schedules', {
    report: 'alerts_csv', jurisdiction_id: ids.district, cron: '30 7 * * 1', recipients: { webhook_id: ids.deadHook },
  })
  assert.equal(ok.status, 201, ok.text)
  const run = await call('city', 'POST', `/api/v1/report-schedules/${ok.json.id}/run`)
  assert.equal(run.status, 201, run.text)
  assert.equal(run.json.content_type, 'text/csv; charset=utf-8')
  const dead = await waitFor('a dead delivery', async () => {
    const a = await call('city', 'GET', `/api/v1/report-archive/${run.json.id}`)
    const d = a.json.deliveries[0]
    return d.state === 'dead' && d
  })
  assert.equal(dead.attempts, 5, 'retried up to reports.delivery_max_attempts')
  assert.ok(dead.last_error, 'with its last error')
  const csv = await call('city', 'GET', `/api/v1/report-archive/${run.json.id}/file`)
  assert.deepEqual([...csv.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf])
  // retried by hand: pending again (and dead again: nothing listens)
  const retry = await call('city', 'POST', `/api/v1/report-deliveries/${dead.id}/retry`)
  assert.equal(retry.status, 200, retry.text)
  assert.notEqual(retry.json.deliveries[0].state, 'delivered')
  assert.equal((await call('city', 'POST', `/api/v1/report-deliveries/${dead.id}/retry`)).status, 409, 'only a dead one')
  assert.equal((await call('otherDistrict', 'POST', `/api/v1/report-deliveries/${dead.id}/retry`)).status, 404)
})

test('bad schedules answer 4xx naming the field; nothing is stored', async () => {
  const good = { report: 'monthly', jurisdiction_id: ids.district, cron: '0 8 1 * *', recipients: { users: [ids.districtUser] } }
  const cases = [
    ['an unknown report', { ...good, report: 'novel' }, 'report'],
    ['no recipients', { ...good, recipients: {} }, 'recipients'],
    ['no recipients field', { report: 'monthly', jurisdiction_id: ids.district, cron: '0 8 1 * *' }, 'recipients'],
    ['a cron with four fields', { ...good, cron: '0 8 1 *' }, 'cron'],
    ['a cron range', { ...good, cron: '0 8-9 * * *' }, 'cron'],
    ['a cron on the 31st', { ...good, cron: '0 8 31 * *' }, 'cron'],
    ['a cron minute 60', { ...good, cron: '60 8 * * *' }, 'cron'],
    ['a month field', { ...good, cron: '0 8 1 2 *' }, 'cron'],
    ['another jurisdiction', { ...good, jurisdiction_id: ids.otherDistrict }, 'jurisdiction_id'],
    ['a unit monthly report', { ...good, jurisdiction_id: undefined, unit_id: 'unt_x' }, 'unit_id'],
    ['an unknown user', { ...good, recipients: { users: ['usr_nope'] } }, 'recipients.users'],
    ['a bad e-mail', { ...good, recipients: { emails: ['a@b>\r\nRCPT TO:<x@y'] } }, 'recipients.emails'],
    ['a number for users', { ...good, recipients: { users: 5 } }, 'recipients.users'],
    ['too many e-mails', { ...good, recipients: { emails: Array.from({ length: 21 }, (_, i) => `x${i}@y.test`) } }, 'recipients.emails'],
    ['an unknown field', { ...good, colour: 'red' }, 'colour'],
  ]
  const count = (await call('district', 'GET', '/api/v1/report-schedules')).json.total
  for (const [what, body, field] of cases) {
    const r = await call('district', 'POST', '/api/v1/report-schedules', body)
    assert.equal(r.status, 422, `${what}: ${r.status} ${r.text}`)
    assert.equal(r.json.error.field, field, `${what}: ${r.text}`)
  }
  assert.equal((await call('district', 'POST', '/api/v1/report-schedules', '{"report":')).status, 400)
  assert.equal((await call('district', 'POST', '/api/v1/report-schedules', 'x'.repeat(20000))).status, 413)
  assert.equal((await api(srv.base, null, 'POST', '/api/v1/report-schedules', good)).status, 401)
  assert.equal((await call('district', 'GET', '/api/v1/report-schedules')).json.total, count, 'nothing stored')
  // PATCH and DELETE
  const s = await call('district', 'POST', '/api/v1/report-schedules', good)
  assert.equal(s.status, 201, s.text)
  const p = await call('district', 'PATCH', `/api/v1/report-schedules/${s.json.id}`, { cron: '0 9 * * 5', recipients: { users: [ids.districtUser] }, enabled: false })
  assert.equal(p.status, 200, p.text)
  assert.equal(p.json.enabled, false)
  assert.equal(new Date(p.json.next_run_at).getUTCDay() === 5 || p.json.next_run_at.includes('T09:00:00+08:00'), true)
  assert.equal((await call('district', 'PATCH', `/api/v1/report-schedules/${s.json.id}`, { cron: 'daily' })).status, 422)
  assert.equal((await call('otherDistrict', 'DELETE', `/api/v1/report-schedules/${s.json.id}`)).status, 404)
  assert.equal((await call('district', 'DELETE', `/api/v1/report-schedules/${s.json.id}`)).status, 204)
  assert.equal((await call('district', 'GET', `/api/v1/report-schedules/${s.json.id}`)).status, 404)
})
