// Reports and exchange through HTTP, on `mingchu serve --demo --manual-clock`: the rectification
// notice of an alert (snapshot with boxes, unit, deadline, QR) as a PDF whose Chinese text
// pdftotext finds; the four enforcement documents from per-jurisdiction templates (a template
// with a missing or unknown placeholder refused by name); the monthly report (a 10-year range
// 422, another jurisdiction 404); streamed CSV/XLSX exports of every list with its filters,
// and an export cancelled half-way that leaves no thread, no temporary file and a responsive
// server.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/reports.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'

import { api, REPO, startServer } from './lib.mjs'
import { advance, eventId, loginAll, rfc3339, serverNow } from './alerts_lib.mjs'
import { getThenHangUp, metric, parseCsv, pdfPages, pdfText, xlsxSheets } from './reports_lib.mjs'

const JPEG = fs.readFileSync(path.join(REPO, 'tests/fixtures/snapshot-640x360.jpg'))

let srv
let tok
const ids = {}
const call = (who, method, p, body, headers) => api(srv.base, tok[who], method, p, body, headers)

function expectError(r, status, code, field, context) {
  assert.equal(r.status, status, `${context}: expected ${status}, got ${r.status} ${r.text}`)
  assert.equal(typeof r.json?.error?.message, 'string', `${context}: a JSON error: ${r.text}`)
  if (code) assert.equal(r.json.error.code, code, `${context}: ${r.text}`)
  if (field) assert.equal(r.json.error.field, field, `${context}: names the field: ${r.text}`)
}

before(async () => {
  srv = await startServer({ demo: true, args: ['--manual-clock'] })
  tok = await loginAll(srv.base)
  const me = await call('merchant', 'GET', '/api/v1/me')
  ids.unit = me.json.unit_ids[0]
  const unit = await call('admin', 'GET', `/api/v1/units/${ids.unit}`)
  ids.unitName = unit.json.name
  ids.district = (await call('district', 'GET', '/api/v1/me')).json.jurisdiction_id
  ids.city = (await call('city', 'GET', '/api/v1/me')).json.jurisdiction_id
  ids.otherDistrict = (await call('otherDistrict', 'GET', '/api/v1/me')).json.jurisdiction_id
  ids.station = (await call('station', 'GET', '/api/v1/me')).json.jurisdiction_id
  const cams = await call('admin', 'GET', `/api/v1/cameras?unit_id=${ids.unit}&page_size=10`)
  ids.cam = cams.json.items[0].id
  const r = await call('admin', 'POST', '/api/v1/ingest/alerts', {
    event_id: eventId('notice'),
    camera_id: ids.cam,
    type: 'smoking', // class 2: has a deadline
    occurred_at: rfc3339(await serverNow(srv.base, tok.admin)),
    confidence: 0.91,
    snapshot_base64: JPEG.toString('base64'),
    boxes: [{ x: 200, y: 100, w: 160, h: 120, label: 'smoking', score: 0.91 }],
  })
  assert.equal(r.status, 202, r.text)
  ids.alert = r.json.alert_id
})

after(async () => {
  await srv?.stop()
})

test('the rectification notice is a printable PDF whose Chinese text names the unit', async () => {
  const r = await call('district', 'GET', `/api/v1/alerts/${ids.alert}/notice.pdf`)
  assert.equal(r.status, 200, r.text)
  assert.equal(r.headers.get('content-type'), 'application/pdf')
  assert.match(r.headers.get('content-disposition'), /^attachment; filename=".*"; filename\*=UTF-8''%E6%95%B4%E6%94%B9/)
  assert.equal(r.bytes.subarray(0, 5).toString(), '%PDF-')
  const text = pdfText(r.bytes)
  assert.ok(text.includes(ids.unitName), `the unit's name ${ids.unitName} is in the text: ${text.slice(0, 500)}`)
  assert.ok(text.includes('整改通知书'))
  assert.ok(text.includes('南通市崇川区市场监督管理局'), 'the issuing bureau in the red header')
  assert.ok(text.includes('吸烟') || text.includes('抽烟'), 'the alert type in Chinese')
  assert.ok(/\d{4}年\d{1,2}月\d{1,2}日前/.test(text), 'the deadline as a date')
  assert.ok(text.includes(ids.alert))
  // the snapshot is embedded as the JPEG it was (DCTDecode), not re-encoded
  assert.ok(r.bytes.includes(Buffer.from('/DCTDecode')), 'the JPEG snapshot is in the PDF')
  // the merchant prints their own notice; the other district does not see it
  assert.equal((await call('merchant', 'GET', `/api/v1/alerts/${ids.alert}/notice.pdf`)).status, 200)
  expectError(await call('otherDistrict', 'GET', `/api/v1/alerts/${ids.alert}/notice.pdf`), 404, 'not_found')
  expectError(await api(srv.base, null, 'GET', `/api/v1/alerts/${ids.alert}/notice.pdf`), 401)
  expectError(await call('district', 'GET', '/api/v1/alerts/alr_nope/notice.pdf'), 404)
  expectError(await call('district', 'GET', `/api/v1/alerts/${'x'.repeat(300)}/notice.pdf`), 404)
  expectError(await call('district', 'GET', '/api/v1/alerts/..%2f..%2fetc/notice.pdf'), 404)
  // the unit's archive
  const arch = await call('district', 'GET', `/api/v1/units/${ids.unit}/archive.pdf`)
  assert.equal(arch.status, 200, arch.text)
  const at = pdfText(arch.bytes)
  assert.ok(at.includes('餐饮服务单位档案') && at.includes(ids.unitName), at.slice(0, 300))
  assert.ok(at.includes('近90日共产生预警'), 'its alerts')
  expectError(await call('otherDistrict', 'GET', `/api/v1/units/${ids.unit}/archive.pdf`), 404)
  expectError(await call('district', 'GET', '/api/v1/units/unt_nope/archive.pdf'), 404)
})

test('the four enforcement documents come from the jurisdiction template in force', async () => {
  const docs = {}
  for (const [i, kind] of ['rectification_order', 'penalty_decision', 'inquiry_notice', 'supervision_letter'].entries()) {
    const r = await call('district', 'POST', `/api/v1/alerts/${ids.alert}/documents`, {
      kind,
      number: `崇市监〔2026〕${i + 1}号`,
      issued_on: '2026-11-20',
    })
    assert.equal(r.status, 201, r.text)
    docs[kind] = r.json.id
  }
  const titles = { rectification_order: '责令改正通知书', penalty_decision: '行政处罚决定书', inquiry_notice: '询问通知书', supervision_letter: '监督意见书' }
  for (const [kind, id] of Object.entries(docs)) {
    const r = await call('district', 'GET', `/api/v1/alerts/${ids.alert}/documents/${id}.pdf`)
    assert.equal(r.status, 200, `${kind}: ${r.text}`)
    const text = pdfText(r.bytes)
    assert.ok(text.includes(titles[kind]), `${kind}: title ${titles[kind]}`)
    assert.ok(text.includes(ids.unitName), `${kind}: the unit`)
    assert.ok(text.includes('2026年11月20日'), `${kind}: the issue date`)
  }
  expectError(await call('district', 'GET', `/api/v1/alerts/${ids.alert}/documents/doc_nope.pdf`), 404)
  expectError(await call('otherDistrict', 'GET', `/api/v1/alerts/${ids.alert}/documents/${docs.penalty_decision}.pdf`), 404)
  // without .pdf it is not this route
  assert.equal((await call('district', 'GET', `/api/v1/alerts/${ids.alert}/documents/${docs.penalty_decision}`)).status, 404)

  // a city template, inherited by the district and its stations
  const tpath = (j, kind) => `/api/v1/jurisdictions/${j}/document-templates/${kind}`
  let t = await call('station', 'GET', tpath(ids.station, 'rectification_order'))
  assert.equal(t.status, 200, t.text)
  assert.equal(t.json.inherited, true)
  assert.equal(t.json.jurisdiction_id, null, 'the built-in template')
  const body = '{{unit_name}}：\n\n经查你单位存在{{alert_type}}问题，南通市统一模板，限{{due_on}}前改正。'
  const put = await call('city', 'PUT', tpath(ids.city, 'rectification_order'), { title: '责令改正通知书', body, org: '南通市市场监督管理局' })
  assert.equal(put.status, 200, put.text)
  t = await call('station', 'GET', tpath(ids.station, 'rectification_order'))
  assert.equal(t.json.jurisdiction_id, ids.city)
  assert.equal(t.json.inherited, true)
  let pdf = await call('district', 'GET', `/api/v1/alerts/${ids.alert}/documents/${docs.rectification_order}.pdf`)
  let text = pdfText(pdf.bytes)
  assert.ok(text.includes('南通市统一模板'), 'the city template is used for a district unit')
  assert.ok(text.includes('南通市市场监督管理局'), "the template's issuer")
  // the district's own template wins over the city's
  const own = await call('district', 'PUT', tpath(ids.district, 'rectification_order'), {
    title: '责令改正通知书', body: '{{unit_name}}：\n\n崇川区专用模板：{{alert_type}}，{{due_on}}前改正。', signature: '执法人员：张三　李四',
  })
  assert.equal(own.status, 200, own.text)
  pdf = await call('district', 'GET', `/api/v1/alerts/${ids.alert}/documents/${docs.rectification_order}.pdf`)
  text = pdfText(pdf.bytes)
  assert.ok(text.includes('崇川区专用模板') && !text.includes('南通市统一模板'))
  assert.ok(text.includes('执法人员：张三李四'))
  assert.ok(text.includes('南通市崇川区市场监督管理局'), 'the bureau named after the district when the template has no org')

  // bad templates: refused with the placeholder's name, nothing stored
  const bad = [
    ['a missing placeholder', { title: 'x', body: '{{unit_name}}：请于期限前改正{{alert_type}}。' }, 'missing_placeholder', /due_on/],
    ['an unknown placeholder', { title: 'x', body: '{{unit_name}}{{alert_type}}{{due_on}}{{unit_nmae}}' }, 'unknown_placeholder', /unit_nmae/],
    ['an unclosed placeholder', { title: 'x', body: '{{unit_name}}{{alert_type}}{{due_on' }, 'unclosed_placeholder', /never closed/],
    ['no title', { body: '{{unit_name}}{{alert_type}}{{due_on}}' }, 'missing_field', /title/],
    ['an unknown field', { title: 'x', body: '{{unit_name}}{{alert_type}}{{due_on}}', colour: 'red' }, null, /colour/],
    ['a control character', { title: 'x\u0001', body: '{{unit_name}}{{alert_type}}{{due_on}}' }, null, /title/],
    ['an oversized body', { title: 'x', body: '{{unit_name}}{{alert_type}}{{due_on}}' + '长'.repeat(21000) }, null, /body/],
    ['a seal that is no file of yours', { title: 'x', body: '{{unit_name}}{{alert_type}}{{due_on}}', seal_file_id: 'fil_nope' }, 'unknown_file', /seal_file_id/],
  ]
  for (const [what, b, code, msg] of bad) {
    const r = await call('district', 'PUT', tpath(ids.district, 'rectification_order'), b)
    assert.ok(r.status === 422 || r.status === 413, `${what}: ${r.status} ${r.text}`)
    if (r.status === 422) {
      assert.match(JSON.stringify(r.json.error), msg, what)
      if (code) assert.equal(r.json.error.code, code, what)
    }
  }
  t = await call('district', 'GET', tpath(ids.district, 'rectification_order'))
  assert.ok(t.json.body.includes('崇川区专用模板'), 'the good template is still the one in force')
  expectError(await call('district', 'PUT', tpath(ids.district, 'rectification_order'), 'not json{'), 400)
  expectError(await call('district', 'PUT', tpath(ids.district, 'love_letter'), { title: 'x', body: '{{unit_name}}' }), 404)
  expectError(await call('otherDistrict', 'PUT', tpath(ids.district, 'rectification_order'), { title: 'x', body: '{{unit_name}}{{alert_type}}{{due_on}}' }), 404)
  expectError(await call('otherDistrict', 'GET', tpath(ids.district, 'rectification_order')), 404)
  expectError(await call('merchant', 'PUT', tpath(ids.district, 'rectification_order'), { title: 'x', body: '{{unit_name}}{{alert_type}}{{due_on}}' }), 403)
  // the audit log has the change
  const audit = await call('admin', 'GET', '/api/v1/audit?action=document_template.update&page_size=10')
  assert.equal(audit.json.total, 2, audit.text)
})

test('the monthly report of a jurisdiction, with its bad input', async () => {
  const now = await serverNow(srv.base, tok.admin)
  const month = rfc3339(now).slice(0, 7)
  const r = await call('city', 'GET', `/api/v1/reports/monthly.pdf?jurisdiction_id=${ids.city}&month=${month}`)
  assert.equal(r.status, 200, r.text)
  const text = pdfText(r.bytes)
  assert.ok(text.includes('南通市市场监督管理局'), text.slice(0, 300))
  assert.ok(text.includes('月度报告'))
  assert.ok(text.includes('崇川区') && text.includes('通州区'), 'the districts are listed')
  assert.ok(text.includes('逾期未整改清单'))
  const stats = await call('city', 'GET', `/api/v1/stats/overview?jurisdiction_id=${ids.city}&from=${encodeURIComponent(`${month}-01T00:00:00+08:00`)}&to=${encodeURIComponent(rfc3339(now + 1000))}`)
  assert.equal(stats.status, 200, stats.text)
  assert.ok(text.includes(`本期平台共产生预警${stats.json.alerts_total}起`), `the figure of the dashboard (${stats.json.alerts_total}) is in the report`)
  assert.ok(pdfPages(r.bytes) >= 2)
  // a district regulator: their own node by default
  const d = await call('district', 'GET', `/api/v1/reports/monthly.pdf?month=${month}`)
  assert.equal(d.status, 200, d.text)
  assert.ok(pdfText(d.bytes).includes('崇川区'))
  // bad input
  expectError(await call('city', 'GET', `/api/v1/reports/monthly.pdf?jurisdiction_id=${ids.city}&month=2016-01&to_month=2025-12`), 422, 'range_too_long', 'to_month', '10 years')
  expectError(await call('city', 'GET', `/api/v1/reports/monthly.pdf?jurisdiction_id=${ids.city}&month=2026-13`), 422, null, 'month')
  expectError(await call('city', 'GET', `/api/v1/reports/monthly.pdf?jurisdiction_id=${ids.city}`), 422, 'missing_field', 'month')
  expectError(await call('city', 'GET', `/api/v1/reports/monthly.pdf?jurisdiction_id=${ids.city}&month=2999-01`), 422, 'future_month', 'month')
  expectError(await call('otherDistrict', 'GET', `/api/v1/reports/monthly.pdf?jurisdiction_id=${ids.district}&month=${month}`), 404, 'not_found', null, 'another jurisdiction')
  expectError(await call('district', 'GET', `/api/v1/reports/monthly.pdf?jurisdiction_id=${ids.city}&month=${month}`), 404, null, null, 'the level above')
  expectError(await call('city', 'GET', `/api/v1/reports/monthly.pdf?jurisdiction_id=${'%27%3B--'}&month=${month}`), 404)
  expectError(await call('merchant', 'GET', `/api/v1/reports/monthly.pdf?jurisdiction_id=${ids.district}&month=${month}`), 404)
})

test('exports of every list with its filters, as CSV and XLSX', async () => {
  // alerts: the same rows as the list with the same filters
  const q = `jurisdiction_id=${ids.district}&state=closed`
  const list = await call('district', 'GET', `/api/v1/alerts?${q}&page_size=1`)
  assert.ok(list.json.total > 0, 'the demo week has closed alerts in 崇川区')
  const csv = await call('district', 'GET', `/api/v1/alerts/export?format=csv&${q}`)
  assert.equal(csv.status, 200, csv.text)
  assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8')
  assert.equal(csv.headers.get('transfer-encoding'), 'chunked', 'streamed, not buffered')
  assert.deepEqual([...csv.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM for Excel')
  const rows = parseCsv(csv.text.slice(1))
  assert.equal(rows[0][0], '预警编号')
  assert.equal(rows.length - 1, list.json.total, 'one row per alert of the filtered list')
  assert.ok(rows.slice(1).every((r) => r[5] === '已办结'), 'only closed alerts')
  const xlsx = await call('district', 'GET', `/api/v1/alerts/export?format=xlsx&${q}`)
  assert.equal(xlsx.status, 200, xlsx.text)
  assert.equal(xlsx.bytes.subarray(0, 2).toString(), 'PK')
  const sheet = xlsxSheets(xlsx.bytes)
  assert.equal((sheet.match(/<row /g) || []).length, list.json.total + 1, 'header + one row per alert')
  assert.ok(sheet.includes(rows[1][1]), 'the unit name is in the sheet')

  // every other list, with a filter, row count = the list's total
  const lists = [
    ['units', `jurisdiction_id=${ids.district}`, 'district'],
    ['cameras', `unit_id=${ids.unit}`, 'district'],
    ['staff', `unit_id=${ids.unit}`, 'merchant'],
    ['health-certs', 'status=expired', 'city'],
    ['complaints', '', 'city'],
    ['audit', 'action=auth.login', 'admin'],
  ]
  for (const [name, filter, who] of lists) {
    const l = await call(who, 'GET', `/api/v1/${name}?${filter}&page_size=1`)
    assert.equal(l.status, 200, `${name}: ${l.text}`)
    const e = await call(who, 'GET', `/api/v1/${name}/export?format=csv&${filter}`)
    assert.equal(e.status, 200, `${name}: ${e.text}`)
    const r = parseCsv(e.text.slice(1))
    assert.equal(r.length - 1, l.json.total, `${name}: the export has the list's ${l.json.total} rows`)
    const x = await call(who, 'GET', `/api/v1/${name}/export?format=xlsx&${filter}`)
    assert.equal(x.status, 200, `${name} xlsx: ${x.text}`)
    assert.equal((xlsxSheets(x.bytes).match(/<row /g) || []).length, l.json.total + 1, `${name} xlsx rows`)
  }
  // staff id numbers stay masked in a regulator's export
  const st = parseCsv((await call('district', 'GET', `/api/v1/staff/export?format=csv&unit_id=${ids.unit}`)).text.slice(1))
  assert.ok(st.length > 1 && st.slice(1).every((r) => r[3].includes('*')), 'masked id numbers')

  // bad input: the list's own answers, before anything is streamed
  expectError(await call('district', 'GET', '/api/v1/alerts/export?format=pdf'), 422, 'invalid_format', 'format')
  expectError(await call('district', 'GET', '/api/v1/alerts/export?state=bogus'), 422, null, 'state')
  expectError(await call('district', 'GET', `/api/v1/alerts/export?jurisdiction_id=${ids.otherDistrict}`), 422, null, 'jurisdiction_id')
  expectError(await call('merchant', 'GET', '/api/v1/audit/export'), 403)
  expectError(await api(srv.base, null, 'GET', '/api/v1/units/export'), 401)
  // a CSV cell that a spreadsheet would run as a formula is defused
  const evil = await call('admin', 'POST', '/api/v1/units', {
    jurisdiction_id: ids.station, name: '=HYPERLINK("http://127.0.0.1/x","点我")', store_type: 'restaurant',
  })
  if (evil.status === 201) {
    const u = parseCsv((await call('admin', 'GET', `/api/v1/units/export?format=csv&q=${encodeURIComponent('HYPERLINK')}`)).text.slice(1))
    assert.equal(u[1][1], `'=HYPERLINK("http://127.0.0.1/x","点我")`)
  }
  // every export is in the audit log (written by the export's thread once it ended)
  let audit
  for (let i = 0; i < 50; i++) {
    audit = await call('admin', 'GET', '/api/v1/audit?action=export.&page_size=200')
    if (audit.json.total >= 15) break
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.ok(audit.json.total >= 15, `${audit.json.total} export entries`)
})

test('an export cancelled half-way leaves nothing behind and the server answers', async () => {
  // enough alerts that the export outlasts the socket buffers: 8 types × the demo's cameras,
  // 6 rounds 11 minutes apart (outside the dedup window)
  const cams = []
  for (let p = 1; ; p++) {
    const r = await call('admin', 'GET', `/api/v1/cameras?page_size=200&page=${p}`)
    cams.push(...r.json.items)
    if (r.json.items.length < 200) break
  }
  const types = ['rodent', 'animal', 'pest', 'smoking', 'bin_uncovered', 'phone_use', 'no_mask', 'no_hat']
  for (let round = 0; round < 6; round++) {
    const at = rfc3339(await serverNow(srv.base, tok.admin))
    const events = []
    for (const c of cams) for (const t of types) events.push({ event_id: eventId('bulk'), camera_id: c.id, type: t, occurred_at: at })
    for (let i = 0; i < events.length; i += 1000) {
      const r = await call('admin', 'POST', '/api/v1/ingest/alerts', { events: events.slice(i, i + 1000) })
      assert.equal(r.status, 202, r.text.slice(0, 300))
    }
    await advance(srv.base, tok.admin, 11 * 60)
  }
  const total = (await call('admin', 'GET', '/api/v1/alerts?page_size=1')).json.total
  assert.ok(total > 25000, `${total} alerts`)
  for (const format of ['csv', 'xlsx']) {
    const got = await getThenHangUp(`${srv.base}/api/v1/alerts/export?format=${format}`, tok.admin, 1)
    assert.equal(got.status, 200)
    assert.ok(!got.ended, `${format}: the client hung up before the end`)
    // the server is responsive at once, while the producer winds down
    const t0 = Date.now()
    assert.equal((await call('admin', 'GET', '/api/v1/me')).status, 200)
    assert.ok(Date.now() - t0 < 2000)
    let active = 1
    for (let i = 0; i < 300 && active > 0; i++) {
      active = metric((await api(srv.base, null, 'GET', '/metrics')).text, 'mingchu_exports_active')
      if (active > 0) await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(active, 0, `${format}: no export thread left`)
    const tmp = path.join(srv.dataDir, 'tmp', 'exports')
    const left = fs.existsSync(tmp) ? fs.readdirSync(tmp) : []
    assert.deepEqual(left, [], `${format}: no temporary file left`)
  }
  // the CSV export stopped early, and says so in the audit log
  const audit = await call('admin', 'GET', '/api/v1/audit?action=export.alerts&page_size=200')
  const cancelled = audit.json.items.filter((e) => e.result === 'cancelled')
  assert.ok(cancelled.length >= 1, audit.text.slice(0, 500))
  assert.ok(cancelled.some((e) => JSON.parse(e.detail).rows < total), 'a cancelled export stopped before its last row')
  // and a full export still works afterwards
  const full = await call('admin', 'GET', '/api/v1/alerts/export?format=csv')
  assert.equal(full.status, 200)
  assert.equal(parseCsv(full.text.slice(1)).length - 1, total)
})
