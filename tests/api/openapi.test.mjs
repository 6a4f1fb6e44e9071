// The open API for third parties (seed 001 §5.1.4) through a client generated at run time from
// GET /api/v1/openapi.json: every documented GET without path parameters answers a third party's
// API key with 2xx or a JSON 4xx (never 5xx), the reports and exchange routes are documented,
// calls with a key are rate-limited (429 rate_limited) and every call is in the audit log.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/openapi.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'

import { api, login, startServer, ADMIN } from './lib.mjs'

let srv
let admin
let key
let spec

/** A client generated from the OpenAPI document: one function per operation. */
function generateClient(doc, base, headers) {
  const client = {}
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const name = `${method} ${p}`
      client[name] = async ({ params = {}, query = {}, body } = {}) => {
        for (const prm of op.parameters ?? []) {
          if (prm.in === 'path' && prm.required && params[prm.name] === undefined) throw new Error(`${name}: missing ${prm.name}`)
        }
        const url = p.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(params[k]))
        const qs = new URLSearchParams(query).toString()
        const res = await fetch(base + url + (qs ? '?' + qs : ''), {
          method: method.toUpperCase(),
          headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        })
        const text = await res.text()
        let json
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        return { status: res.status, json, text, type: res.headers.get('content-type') }
      }
      client[name].op = op
    }
  }
  return client
}

before(async () => {
  srv = await startServer({ demo: true, args: [], env: {} })
  admin = await login(srv.base, ADMIN.username, ADMIN.password)
  const city = await login(srv.base, 'city_reg', 'Regulator@2026!')
  const me = await api(srv.base, city, 'GET', '/api/v1/me')
  const k = await api(srv.base, admin, 'POST', '/api/v1/api-keys', { name: '第三方平台', scope: { jurisdiction_id: me.json.jurisdiction_id }, permissions: ['read'] })
  assert.equal(k.status, 201, k.text)
  key = k.json.key
  spec = (await api(srv.base, null, 'GET', '/api/v1/openapi.json')).json
})

after(async () => {
  await srv?.stop()
})

test('the OpenAPI document lists the reports and exchange routes with their parameters', () => {
  assert.equal(spec.openapi, '3.0.3')
  const need = [
    ['get', '/api/v1/alerts/{id}/notice.pdf'],
    ['get', '/api/v1/alerts/{id}/documents/{doc_id}.pdf'],
    ['get', '/api/v1/reports/monthly.pdf'],
    ['get', '/api/v1/alerts/export'],
    ['get', '/api/v1/units/export'],
    ['get', '/api/v1/audit/export'],
    ['get', '/api/v1/report-schedules'],
    ['post', '/api/v1/report-schedules'],
    ['get', '/api/v1/report-archive/{id}/file'],
    ['post', '/api/v1/exchange/batches'],
    ['get', '/api/v1/exchange/{kind}'],
    ['put', '/api/v1/jurisdictions/{id}/document-templates/{kind}'],
  ]
  for (const [m, p] of need) {
    const op = spec.paths[p]?.[m]
    assert.ok(op, `${m} ${p} is documented`)
    assert.ok(!op.summary.startsWith(m.toUpperCase() + ' '), `${m} ${p} has a summary of its own: ${op.summary}`)
    const names = (p.match(/\{(\w+)\}/g) ?? []).map((x) => x.slice(1, -1))
    assert.deepEqual((op.parameters ?? []).map((x) => x.name), names, `${p}: its path parameters`)
  }
})

test('a generated client drives every GET without parameters with a third-party key', async () => {
  const client = generateClient(spec, srv.base, { 'x-api-key': key })
  const skip = new Set(['get /api/v1/stream', 'get /metrics', 'get /healthz', 'get /', 'get /index.html', 'get /m/', 'get /favicon.ico'])
  let ok = 0
  for (const [name, fn] of Object.entries(client)) {
    if (!name.startsWith('get ') || name.includes('{') || skip.has(name)) continue
    const r = await fn({ query: name.endsWith('/export') ? { format: 'csv' } : name.endsWith('monthly.pdf') ? { month: '2026-11' } : {} })
    assert.ok(r.status < 500, `${name}: ${r.status} ${r.text.slice(0, 200)}`)
    if (r.status >= 400) {
      assert.equal(typeof r.json?.error?.code, 'string', `${name}: a JSON error: ${r.text.slice(0, 200)}`)
    } else {
      ok++
    }
    await new Promise((res) => setTimeout(res, 60)) // stay under the key's rate
  }
  assert.ok(ok >= 8, `${ok} lists answered the key`)
  // what the key's scope allows, read through the client: the units of its city
  const units = await client['get /api/v1/units']({ query: { page_size: 5 } })
  assert.equal(units.status, 200)
  assert.ok(units.json.total > 0)
  const one = await client['get /api/v1/units/{id}']({ params: { id: units.json.items[0].id } })
  assert.equal(one.status, 200)
  assert.equal((await client['get /api/v1/units/{id}']({ params: { id: 'unt_nope' } })).status, 404)
})

test('calls with a key are rate-limited and audited', async () => {
  await new Promise((res) => setTimeout(res, 2500)) // let the bucket refill
  const rs = await Promise.all(Array.from({ length: 80 }, () => api(srv.base, null, 'GET', '/api/v1/units?page_size=1', undefined, { 'x-api-key': key })))
  const limited = rs.filter((r) => r.status === 429)
  assert.ok(limited.length > 0, 'some calls were refused')
  assert.ok(rs.filter((r) => r.status === 200).length >= 30, 'the burst passed')
  assert.equal(limited[0].json.error.code, 'rate_limited')
  // the server is fine, and sessions are not limited
  assert.equal((await api(srv.base, admin, 'GET', '/api/v1/units?page_size=1')).status, 200)
  const audit = await api(srv.base, admin, 'GET', '/api/v1/audit?action=api.call&page_size=200')
  assert.ok(audit.json.total >= 80, `${audit.json.total} audited calls`)
  const e = audit.json.items.find((x) => x.result === 'rate_limited')
  assert.ok(e, 'the refused calls are audited too')
  assert.equal(e.role, 'api_key')
  assert.equal(e.target, 'GET /api/v1/units')
})
