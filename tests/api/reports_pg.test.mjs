// The reports' SQL on PostgreSQL: the same server against a fresh schema of $MINGCHU_TEST_PG
// (skipped without it; MINGCHU_REQUIRE_PG=1 makes that a failure): notice and monthly PDFs, a
// template, exports of alerts and units (keyset pages), a schedule run into the archive, and a
// signed exchange batch applied, repeated and superseded.
//
//   MINGCHU_BIN=build/mingchu MINGCHU_TEST_PG=postgresql://… node --test tests/api/reports_pg.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'

import { api, startServer } from './lib.mjs'
import { dropPgSchema, eventId, loginAll, pgSchemaUrl, rfc3339, serverNow } from './alerts_lib.mjs'
import { parseCsv, pdfText } from './reports_lib.mjs'

const pg = process.env.MINGCHU_TEST_PG
if (!pg && process.env.MINGCHU_REQUIRE_PG === '1') throw new Error('MINGCHU_REQUIRE_PG=1 but MINGCHU_TEST_PG is not set')

test('reports, exports, schedules and exchange on PostgreSQL', { timeout: 600000, skip: pg ? false : 'MINGCHU_TEST_PG is not set' }, async () => {
  const { url, schema } = pgSchemaUrl('reports')
  const srv = await startServer({ demo: true, args: ['--manual-clock'], env: { MINGCHU_DB: url }, timeoutMs: 240000 }) // the demo week on PostgreSQL takes a while
  try {
    const tok = await loginAll(srv.base)
    const call = (who, m, p, b, h) => api(srv.base, tok[who], m, p, b, h)
    const me = await call('merchant', 'GET', '/api/v1/me')
    const unit = (await call('admin', 'GET', `/api/v1/units/${me.json.unit_ids[0]}`)).json
    const cam = (await call('admin', 'GET', `/api/v1/cameras?unit_id=${unit.id}&page_size=1`)).json.items[0]
    const r = await call('admin', 'POST', '/api/v1/ingest/alerts', { event_id: eventId('pg'), camera_id: cam.id, type: 'pest', occurred_at: rfc3339(await serverNow(srv.base, tok.admin)) })
    assert.equal(r.status, 202, r.text)
    const notice = await call('district', 'GET', `/api/v1/alerts/${r.json.alert_id}/notice.pdf`)
    assert.equal(notice.status, 200, notice.text)
    assert.ok(pdfText(notice.bytes).includes(unit.name))
    const district = (await call('district', 'GET', '/api/v1/me')).json.jurisdiction_id
    const month = rfc3339(await serverNow(srv.base, tok.admin)).slice(0, 7)
    const monthly = await call('district', 'GET', `/api/v1/reports/monthly.pdf?month=${month}`)
    assert.equal(monthly.status, 200, monthly.text)
    const t = await call('district', 'PUT', `/api/v1/jurisdictions/${district}/document-templates/supervision_letter`, { title: '监督意见书', body: '{{unit_name}}{{alert_type}}{{due_on}}' })
    assert.equal(t.status, 200, t.text)
    const t2 = await call('district', 'PUT', `/api/v1/jurisdictions/${district}/document-templates/supervision_letter`, { title: '监督意见书', body: '{{unit_name}}{{alert_type}}{{due_on}} 第二版' })
    assert.equal(t2.status, 200, t2.text)
    for (const [list, q] of [['alerts', `jurisdiction_id=${district}`], ['units', `jurisdiction_id=${district}`]]) {
      const total = (await call('district', 'GET', `/api/v1/${list}?${q}&page_size=1`)).json.total
      const csv = await call('district', 'GET', `/api/v1/${list}/export?format=csv&${q}`)
      assert.equal(csv.status, 200, csv.text)
      assert.equal(parseCsv(csv.text.slice(1)).length - 1, total, list)
    }
    const s = await call('district', 'POST', '/api/v1/report-schedules', { report: 'alerts_csv', cron: '0 8 * * *', recipients: { users: [(await call('district', 'GET', '/api/v1/me')).json.id] } })
    assert.equal(s.status, 201, s.text)
    const run = await call('district', 'POST', `/api/v1/report-schedules/${s.json.id}/run`)
    assert.equal(run.status, 201, run.text)
    assert.equal((await call('district', 'GET', '/api/v1/report-archive')).json.total, 1)
    // exchange: a key bound to the district receives a batch
    const k = await call('admin', 'POST', '/api/v1/api-keys', { name: 'lower', scope: { jurisdiction_id: district } })
    const key = k.json.key
    const body = JSON.stringify({ schema: 'mingchu.exchange.v1', batch_id: 'bat_pg_1', source: '下级', items: [{ kind: 'unit', id: 'unt_lower_1', version: 5, data: { id: 'unt_lower_1', name: '下级单位' } }] })
    const ts = String(Math.floor(Date.now() / 1000))
    const h = { 'x-api-key': key, 'x-mingchu-timestamp': ts, 'x-mingchu-signature': 'sha256=' + crypto.createHmac('sha256', key).update(`${ts}.${body}`).digest('hex') }
    const b1 = await api(srv.base, null, 'POST', '/api/v1/exchange/batches', body, h)
    assert.equal(b1.status, 200, b1.text)
    assert.equal(b1.json.applied, 1)
    assert.equal((await api(srv.base, null, 'POST', '/api/v1/exchange/batches', body, h)).json.duplicate, true)
    const units = await call('district', 'GET', '/api/v1/exchange/units')
    assert.equal(units.json.items[0].name, '下级单位')
  } finally {
    await srv.stop()
    dropPgSchema(schema)
  }
})
