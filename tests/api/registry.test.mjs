// The registry API end to end: jurisdictions, units, cameras, staff, health certificates,
// files and QR codes — and a matrix of bad input after each of which the server must still
// answer and the objects stored before must be unchanged.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/registry.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import zlib from 'node:zlib'

import { ADMIN, api, expectError, idNumber, login, multipart, startServer, uscc } from './lib.mjs'

let srv
const tok = {} // role name → bearer token
const ids = {} // fixture name → id
let unitA // unit A as stored, to compare after every bad request

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from('JFIF\0 fake jpeg body')])

const call = (who, method, path, body, headers) => api(srv.base, tok[who], method, path, body, headers)

async function createUser(username, role, extra) {
  const password = 'Pw@2026!' + username.slice(0, 2).toUpperCase() + 'q'
  const r = await call('admin', 'POST', '/api/v1/users', { username, password, display_name: username, role, ...extra })
  assert.equal(r.status, 201, `create user ${username}: ${r.text}`)
  tok[username] = await login(srv.base, username, password)
}

/** Local date (UTC+8) days from now, YYYY-MM-DD. */
function dayFromNow(days) {
  return new Date(Date.now() + 8 * 3600e3 + days * 86400e3).toISOString().slice(0, 10)
}

/** The server answers and unit A is exactly as it was. */
async function assertIntact(context) {
  assert.ok(srv.alive(), `server died after ${context}:\n${srv.log()}`)
  const h = await fetch(srv.base + '/healthz')
  assert.equal(h.status, 200, `healthz after ${context}`)
  const r = await call('admin', 'GET', `/api/v1/units/${ids.unitA}`)
  assert.equal(r.status, 200, `unit A after ${context}: ${r.text}`)
  assert.deepEqual(r.json, unitA, `unit A changed after ${context}`)
}


before(async () => {
  srv = await startServer()
  tok.admin = await login(srv.base, ADMIN.username, ADMIN.password)
  const jur = async (parent_id, level, code, name) => {
    const r = await call('admin', 'POST', '/api/v1/jurisdictions', { parent_id, level, code, name })
    assert.equal(r.status, 201, `jurisdiction ${code}: ${r.text}`)
    return r.json.id
  }
  ids.province = await jur(undefined, 'province', '320000', '江苏省')
  ids.city = await jur(ids.province, 'city', '320600', '南通市')
  ids.distA = await jur(ids.city, 'district', '320602', '崇川区')
  ids.distB = await jur(ids.city, 'district', '320612', '通州区')
  await createUser('rega', 'regulator', { jurisdiction_id: ids.distA })
  await createUser('regb', 'regulator', { jurisdiction_id: ids.distB })

  const unit = async (who, name, jurisdiction_id, n) => {
    const r = await call(who, 'POST', '/api/v1/units', {
      name,
      jurisdiction_id,
      store_type: 'school_canteen',
      licence_number: 'JY13206020012345',
      uscc: uscc(n),
      operator: '张三',
      phone: '13812345678',
      address: '崇川路1号',
      lng: 120.86,
      lat: 32.01,
    })
    assert.equal(r.status, 201, `unit ${name}: ${r.text}`)
    return r.json
  }
  unitA = await unit('rega', '南通小学食堂', ids.distA, 1)
  ids.unitA = unitA.id
  ids.unitB = (await unit('regb', '通州饭店', ids.distB, 2)).id
  await createUser('shopa', 'merchant', { unit_ids: [ids.unitA] })
  await createUser('shopb', 'merchant', { unit_ids: [ids.unitB] })
})

after(async () => {
  await srv?.stop()
})

test('requests without a login are refused', async () => {
  for (const path of ['/api/v1/units', '/api/v1/jurisdictions', '/api/v1/cameras', '/api/v1/staff',
    '/api/v1/health-certs', `/api/v1/units/${ids.unitA}`, `/api/v1/units/${ids.unitA}/qrcode.png`]) {
    const r = await api(srv.base, null, 'GET', path)
    expectError(r, 401, undefined, path)
  }
  const bad = await api(srv.base, 'not-a-token', 'GET', '/api/v1/units')
  assert.equal(bad.status, 401)
})

test('the jurisdiction tree: levels, codes and who may write it', async () => {
  const tree = await call('admin', 'GET', `/api/v1/jurisdictions/${ids.distA}`)
  assert.equal(tree.status, 200)
  assert.deepEqual(
    { parent_id: tree.json.parent_id, level: tree.json.level, code: tree.json.code, name: tree.json.name },
    { parent_id: ids.city, level: 'district', code: '320602', name: '崇川区' },
  )
  assert.equal(typeof tree.json.id, 'string')

  const cases = [
    [{ level: 'province', code: '320601', name: 'x' }, 'code'],
    [{ parent_id: ids.province, level: 'city', code: '330100', name: 'x' }, 'code'],
    [{ parent_id: ids.city, level: 'district', code: '320700', name: 'x' }, 'code'],
    [{ parent_id: ids.distA, level: 'station', code: '320612001', name: 'x' }, 'code'],
    [{ parent_id: ids.province, level: 'district', code: '320101', name: 'x' }, 'level'],
    [{ parent_id: ids.city, level: 'county', code: '320613', name: 'x' }, 'level'],
    [{ level: 'city', code: '320100', name: 'x' }, 'parent_id'],
    [{ parent_id: ids.city, level: 'district', code: '320613' }, 'name'],
  ]
  for (const [body, field] of cases) {
    expectError(await call('admin', 'POST', '/api/v1/jurisdictions', body), 422, field, JSON.stringify(body))
  }
  const dup = await call('admin', 'POST', '/api/v1/jurisdictions',
    { parent_id: ids.city, level: 'district', code: '320602', name: '重复' })
  expectError(dup, 409, undefined, 'duplicate code')

  // a district regulator adds a station below their node, not a district beside it
  const station = await call('rega', 'POST', '/api/v1/jurisdictions',
    { parent_id: ids.distA, level: 'station', code: '320602001', name: '和平桥所' })
  assert.equal(station.status, 201, station.text)
  ids.stationA = station.json.id
  expectError(await call('rega', 'POST', '/api/v1/jurisdictions',
    { parent_id: ids.city, level: 'district', code: '320613', name: '旁区' }), 403, undefined, 'beside')
  expectError(await call('shopa', 'POST', '/api/v1/jurisdictions',
    { parent_id: ids.distA, level: 'station', code: '320602002', name: 'x' }), 403, undefined, 'merchant')
  expectError(await call('rega', 'GET', `/api/v1/jurisdictions/${ids.distB}`), 404, undefined, 'other district')

  // the regulator sees its ancestors and subtree; a rename keeps the code
  const list = await call('rega', 'GET', '/api/v1/jurisdictions?page_size=50')
  assert.equal(list.status, 200)
  assert.equal(list.json.total, 4)
  assert.deepEqual(list.json.items.map((j) => j.code).sort(), ['320000', '320600', '320602', '320602001'])
  assert.equal(list.json.page, 1)
  assert.equal(list.json.page_size, 50)
  const renamed = await call('rega', 'PATCH', `/api/v1/jurisdictions/${ids.stationA}`, { name: '和平桥监管所' })
  assert.equal(renamed.status, 200, renamed.text)
  assert.equal(renamed.json.code, '320602001')
  expectError(await call('admin', 'PATCH', `/api/v1/jurisdictions/${ids.stationA}`, { code: '320602009' }), 422, 'code',
    'code is immutable')
  expectError(await call('admin', 'DELETE', `/api/v1/jurisdictions/${ids.city}`), 409, undefined, 'has children')
  expectError(await call('admin', 'DELETE', `/api/v1/jurisdictions/${ids.distB}`), 409, undefined, 'has units')
  await assertIntact('jurisdiction writes')
})

test('units: archive fields round-trip and PATCH changes only what is sent', async () => {
  for (const k of ['id', 'jurisdiction_id', 'name', 'operator', 'phone', 'address', 'uscc', 'licence_number',
    'filing_number', 'store_type', 'business_format', 'lng', 'lat', 'licence_image_ids', 'storefront_image_id',
    'disclosure', 'rating', 'created_at', 'updated_at']) {
    assert.ok(k in unitA, `unit has ${k}`)
  }
  assert.equal(unitA.uscc, uscc(1))
  assert.match(unitA.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+08:00$/)

  const c = await call('rega', 'POST', '/api/v1/units', {
    name: '临时单位', jurisdiction_id: ids.distA, store_type: 'takeaway', filing_number: 'NT-XCY-2026-0001',
    address: '某路2号', business_format: '小餐饮', rating: 'B',
  })
  assert.equal(c.status, 201, c.text)
  ids.unitC = c.json.id
  const p = await call('rega', 'PATCH', `/api/v1/units/${ids.unitC}`, { address: null, disclosure: { show_alert_stats: false } })
  assert.equal(p.status, 200, p.text)
  assert.equal(p.json.address, null)
  assert.equal(p.json.disclosure.show_alert_stats, false)
  assert.equal(p.json.business_format, '小餐饮')
  assert.equal(p.json.rating, 'B')
  assert.equal(p.json.name, '临时单位')
  expectError(await call('rega', 'PATCH', `/api/v1/units/${ids.unitC}`, { filing_number: null }), 422,
    'licence_number', 'a unit keeps a licence or a filing')
  expectError(await call('rega', 'PATCH', `/api/v1/units/${ids.unitC}`, { name: null }), 422, 'name', 'name required')
  expectError(await call('rega', 'PATCH', `/api/v1/units/${ids.unitC}`, { lng: 120.5 }), 422, 'lat', 'half a coordinate')

  // search, filters and paging
  const q = await call('rega', 'GET', `/api/v1/units?q=${encodeURIComponent('小学')}`)
  assert.equal(q.json.total, 1)
  assert.equal(q.json.items[0].id, ids.unitA)
  const t = await call('rega', 'GET', '/api/v1/units?store_type=takeaway')
  assert.deepEqual(t.json.items.map((u) => u.id), [ids.unitC])
  const page2 = await call('rega', 'GET', '/api/v1/units?page=2&page_size=1')
  assert.equal(page2.json.total, 2)
  assert.equal(page2.json.items.length, 1)
  expectError(await call('rega', 'GET', '/api/v1/units?page_size=201'), 422, 'page_size', 'page_size > 200')
  expectError(await call('rega', 'GET', '/api/v1/units?page=0'), 422, 'page', 'page 0')
  expectError(await call('rega', 'GET', '/api/v1/units?store_type=pub'), 422, 'store_type', 'unknown store type')
  await assertIntact('unit writes')
})

test('scope: another district or another merchant sees nothing and changes nothing', async () => {
  for (const [who, method, path, body] of [
    ['regb', 'GET', `/api/v1/units/${ids.unitA}`],
    ['regb', 'PATCH', `/api/v1/units/${ids.unitA}`, { name: '被改' }],
    ['regb', 'DELETE', `/api/v1/units/${ids.unitA}`],
    ['regb', 'GET', `/api/v1/units/${ids.unitA}/qrcode.png`],
    ['shopb', 'GET', `/api/v1/units/${ids.unitA}`],
    ['shopb', 'PATCH', `/api/v1/units/${ids.unitA}`, { phone: '13900000000' }],
    ['shopa', 'GET', `/api/v1/units/${ids.unitB}`],
    ['shopa', 'DELETE', `/api/v1/units/${ids.unitB}`],
  ]) {
    const r = await call(who, method, path, body)
    expectError(r, 404, undefined, `${who} ${method} ${path}`)
    await assertIntact(`${who} ${method} ${path}`)
  }
  const b = await call('regb', 'GET', '/api/v1/units?page_size=200')
  assert.deepEqual(b.json.items.map((u) => u.id), [ids.unitB])
  assert.equal(b.json.total, 1)
  const bFiltered = await call('regb', 'GET', `/api/v1/units?jurisdiction_id=${ids.distA}`)
  assert.equal(bFiltered.json.total, 0)
  const m = await call('shopa', 'GET', '/api/v1/units')
  assert.deepEqual(m.json.items.map((u) => u.id), [ids.unitA])
  const city = await call('admin', 'GET', `/api/v1/units?jurisdiction_id=${ids.city}&page_size=200`)
  assert.equal(city.json.total, 3)

  // merchants edit their own archive, but neither create, delete, move nor rate
  expectError(await call('shopa', 'POST', '/api/v1/units', {
    name: '自建', jurisdiction_id: ids.distA, store_type: 'other', licence_number: 'JY13206020012345',
  }), 403, undefined, 'merchant creates a unit')
  expectError(await call('shopa', 'DELETE', `/api/v1/units/${ids.unitA}`), 403, undefined, 'merchant deletes')
  expectError(await call('shopa', 'PATCH', `/api/v1/units/${ids.unitA}`, { rating: 'A' }), 403, undefined, 'rating')
  expectError(await call('shopa', 'PATCH', `/api/v1/units/${ids.unitA}`, { jurisdiction_id: ids.stationA }), 403,
    undefined, 'move')
  await assertIntact('merchant refusals')
  const own = await call('shopa', 'PATCH', `/api/v1/units/${ids.unitA}`, { business_format: '学校食堂' })
  assert.equal(own.status, 200, own.text)
  assert.equal(own.json.business_format, '学校食堂')
  unitA = (await call('admin', 'GET', `/api/v1/units/${ids.unitA}`)).json

  // a regulator cannot place a unit in another district
  expectError(await call('rega', 'POST', '/api/v1/units', {
    name: '越界', jurisdiction_id: ids.distB, store_type: 'other', licence_number: 'JY13206020012345',
  }), 422, 'jurisdiction_id', 'unit in another district')
  await assertIntact('scope')
})

test('bad input matrix on POST /api/v1/units', async () => {
  const good = { name: '好单位', jurisdiction_id: ids.distA, store_type: 'other', licence_number: 'JY13206020012345' }
  const raw = (body, headers) => call('rega', 'POST', '/api/v1/units', body, headers)
  const cases = [
    ['malformed JSON', () => raw('{"name": "x",'), 400],
    ['not an object', () => raw('["name"]'), 400],
    ['empty body', () => raw(''), 400],
    ['JSON too deep', () => raw('['.repeat(100) + ']'.repeat(100)), 400],
    ['invalid UTF-8', () => raw(Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 400],
    ['wrong content type', () => raw(JSON.stringify(good), { 'content-type': 'text/plain' }), 415],
    ['name is a number', () => raw({ ...good, name: 5 }), 422, 'name'],
    ['lng is a string', () => raw({ ...good, lng: '120.5', lat: 32 }), 422, 'lng'],
    ['lng outside China', () => raw({ ...good, lng: 10, lat: 32 }), 422, 'lng'],
    ['images not an array', () => raw({ ...good, licence_image_ids: 'file_1' }), 422, 'licence_image_ids'],
    ['too many images', () => raw({ ...good, licence_image_ids: Array.from({ length: 11 }, (_, i) => `f${i}`) }), 422,
      'licence_image_ids'],
    ['disclosure not an object', () => raw({ ...good, disclosure: true }), 422, 'disclosure'],
    ['missing name', () => raw({ ...good, name: undefined }), 422, 'name'],
    ['missing store_type', () => raw({ ...good, store_type: undefined }), 422, 'store_type'],
    ['missing jurisdiction', () => raw({ ...good, jurisdiction_id: undefined }), 422, 'jurisdiction_id'],
    ['unknown field', () => raw({ ...good, is_admin: true }), 422, 'is_admin'],
    ['read-only field', () => raw({ ...good, disclosure_token: 'mine' }), 422, 'disclosure_token'],
    ['oversized string', () => raw({ ...good, name: 'x'.repeat(129) }), 422, 'name'],
    ['control characters', () => raw({ ...good, name: 'a\u0000b' }), 422, 'name'],
    ['newline in a name', () => raw({ ...good, name: 'a\nb' }), 422, 'name'],
    ['bad store type', () => raw({ ...good, store_type: 'bar' }), 422, 'store_type'],
    ['bad phone', () => raw({ ...good, phone: '12345' }), 422, 'phone'],
    ['bad licence', () => raw({ ...good, licence_number: 'JY123' }), 422, 'licence_number'],
    ['bad rating', () => raw({ ...good, rating: 'S' }), 422, 'rating'],
    ['neither licence nor filing', () => raw({ ...good, licence_number: undefined }), 422, 'licence_number'],
    ['jurisdiction id with SQL', () => raw({ ...good, jurisdiction_id: "x' OR '1'='1" }), 422, 'jurisdiction_id'],
    ['unknown jurisdiction', () => raw({ ...good, jurisdiction_id: 'jur_0000000000000000' }), 422, 'jurisdiction_id'],
    ['oversized body', () => raw({ ...good, address: 'x'.repeat(70 * 1024) }), 413],
    ['invalid USCC: check digit', () => raw({ ...good, uscc: uscc(5).slice(0, 17) + (uscc(5)[17] === '0' ? '1' : '0') }),
      422, 'uscc'],
    ['invalid USCC: length', () => raw({ ...good, uscc: '91320602MA1234567' }), 422, 'uscc'],
    ['invalid USCC: letter I', () => raw({ ...good, uscc: '91320602MA12345I7X' }), 422, 'uscc'],
    ['invalid USCC: type', () => raw({ ...good, uscc: 913206021234567890 }), 422, 'uscc'],
    ['taken USCC', () => raw({ ...good, uscc: uscc(1) }), 409],
  ]
  for (const [name, send, status, field] of cases) {
    const r = await send()
    expectError(r, status, field, name)
    await assertIntact(name)
  }
  // nothing of all that was stored
  const list = await call('admin', 'GET', `/api/v1/units?q=${encodeURIComponent('好单位')}`)
  assert.equal(list.json.total, 0)
})

test('SQL and HTML in text are stored and returned verbatim', async () => {
  const hostile = {
    name: "Robert'); DROP TABLE units;--",
    address: '<img src=x onerror="alert(1)">&lt;</script>',
    operator: "' OR '1'='1",
    business_format: '%_\\',
  }
  const r = await call('rega', 'POST', '/api/v1/units', {
    ...hostile, jurisdiction_id: ids.distA, store_type: 'other', licence_number: 'JY13206020012346',
  })
  assert.equal(r.status, 201, r.text)
  const back = await call('rega', 'GET', `/api/v1/units/${r.json.id}`)
  for (const [k, v] of Object.entries(hostile)) assert.equal(back.json[k], v, k)
  const found = await call('rega', 'GET', `/api/v1/units?q=${encodeURIComponent("'); DROP")}`)
  assert.equal(found.json.total, 1)
  const wildcard = await call('rega', 'GET', `/api/v1/units?q=${encodeURIComponent('%')}`)
  assert.equal(wildcard.json.total, 0, 'a % in a search is a literal character')
  const exact = await call('rega', 'GET', `/api/v1/units?business_format=${encodeURIComponent('%_\\')}`)
  assert.equal(exact.json.total, 1)
  for (const path of ['/api/v1/units/..%2F..%2Fetc%2Fpasswd', "/api/v1/units/unit_x'%20OR%20'1'='1",
    '/api/v1/units/%00', `/api/v1/units/${'a'.repeat(65)}`]) {
    expectError(await call('admin', 'GET', path), 404, undefined, path)
  }
  expectError(await call('admin', 'GET', "/api/v1/units?jurisdiction_id=x'--"), 422, 'jurisdiction_id', 'query id')
  expectError(await call('admin', 'GET', `/api/v1/units?q=${'x'.repeat(65)}`), 422, 'q', 'long q')
  await assertIntact('hostile text')
  // the table is still there
  assert.equal((await call('admin', 'GET', '/api/v1/units')).status, 200)
})

test('cameras: regulators manage them, merchants read them without credentials', async () => {
  const body = {
    unit_id: ids.unitA, name: '粗加工区', area: 'rough_processing', brand: 'Hikvision', model: 'DS-2CD',
    channel: 1, stream_url: 'rtsp://admin:s3cret@127.0.0.1:1554/ch1', gb_device_id: '32060200001320000001',
    gb_channel_id: '32060200001310000001', public: true,
  }
  expectError(await call('shopa', 'POST', '/api/v1/cameras', body), 403, undefined, 'merchant creates a camera')
  expectError(await call('regb', 'POST', '/api/v1/cameras', body), 422, 'unit_id', 'camera in another district')
  const c = await call('rega', 'POST', '/api/v1/cameras', body)
  assert.equal(c.status, 201, c.text)
  ids.camA = c.json.id
  assert.equal(c.json.status, 'offline')
  assert.equal(c.json.last_seen_at, null)
  assert.equal(c.json.ai_enabled, true)
  assert.equal(c.json.public, true)

  const seen = await call('shopa', 'GET', `/api/v1/cameras/${ids.camA}`)
  assert.equal(seen.status, 200)
  assert.equal(seen.json.stream_url, 'rtsp://admin:***@127.0.0.1:1554/ch1')
  expectError(await call('shopa', 'PATCH', `/api/v1/cameras/${ids.camA}`, { name: 'x' }), 403, undefined, 'merchant PATCH')
  expectError(await call('regb', 'GET', `/api/v1/cameras/${ids.camA}`), 404, undefined, 'other district camera')
  expectError(await call('regb', 'DELETE', `/api/v1/cameras/${ids.camA}`), 404, undefined, 'other district delete')
  expectError(await call('rega', 'POST', '/api/v1/cameras', body), 409, undefined, 'same GB channel id')
  for (const [patch, field] of [
    [{ stream_url: 'file:///etc/passwd' }, 'stream_url'],
    [{ stream_url: 'javascript:alert(1)' }, 'stream_url'],
    [{ gb_device_id: '1234' }, 'gb_device_id'],
    [{ channel: 0 }, 'channel'],
    [{ channel: 'one' }, 'channel'],
    [{ area: 'roof' }, 'area'],
    [{ status: 'online' }, 'status'],
    [{ unit_id: ids.unitB }, 'unit_id'],
    [{ public: null }, 'public'],
  ]) {
    expectError(await call('rega', 'PATCH', `/api/v1/cameras/${ids.camA}`, patch), 422, field, JSON.stringify(patch))
  }
  const p = await call('rega', 'PATCH', `/api/v1/cameras/${ids.camA}`, { ai_enabled: false, model: null })
  assert.equal(p.status, 200, p.text)
  assert.equal(p.json.ai_enabled, false)
  assert.equal(p.json.model, null)
  assert.equal(p.json.brand, 'Hikvision')
  const list = await call('shopa', 'GET', `/api/v1/cameras?unit_id=${ids.unitA}&area=rough_processing`)
  assert.equal(list.json.total, 1)
  assert.equal((await call('regb', 'GET', '/api/v1/cameras')).json.total, 0)
  expectError(await call('rega', 'GET', '/api/v1/cameras?status=broken'), 422, 'status', 'bad status filter')
  await assertIntact('cameras')
})

test('staff: personal data encrypted, masked for regulators, certificates tracked', async () => {
  const idn = idNumber(7)
  const body = {
    unit_id: ids.unitA, name: '李四', id_number: idn, phone: '13912345678', position: '厨师',
    health_cert: { number: 'JK2026001', issued_on: dayFromNow(-300), expires_on: dayFromNow(10) },
  }
  const s = await call('shopa', 'POST', '/api/v1/staff', body)
  assert.equal(s.status, 201, s.text)
  ids.staffA = s.json.id
  assert.equal(s.json.id_number, idn, 'the merchant who entered it sees it in full')
  assert.equal(s.json.phone, '13912345678')
  assert.equal(s.json.cert_status, 'expiring')
  assert.equal(s.json.days_left, 10)
  assert.equal(s.json.health_cert.expires_on, dayFromNow(10))

  const r = await call('rega', 'GET', `/api/v1/staff/${ids.staffA}`)
  assert.equal(r.status, 200)
  assert.equal(r.json.id_number, idn.slice(0, 4) + '*'.repeat(10) + idn.slice(14))
  assert.equal(r.json.phone, '139****5678')
  assert.equal((await call('admin', 'GET', `/api/v1/staff/${ids.staffA}`)).json.id_number, idn)
  expectError(await call('regb', 'GET', `/api/v1/staff/${ids.staffA}`), 404, undefined, 'other district staff')
  expectError(await call('shopb', 'PATCH', `/api/v1/staff/${ids.staffA}`, { name: 'x' }), 404, undefined, 'other shop')
  expectError(await call('shopa', 'POST', '/api/v1/staff', body), 409, undefined, 'same person twice')
  expectError(await call('shopa', 'POST', '/api/v1/staff', { ...body, unit_id: ids.unitB, id_number: idNumber(8) }), 422,
    'unit_id', 'staff of another unit')

  for (const [patch, field] of [
    [{ id_number: '320602199001011234' }, 'id_number'],
    [{ id_number: 12345 }, 'id_number'],
    [{ phone: '999' }, 'phone'],
    [{ health_cert: { number: 'x', issued_on: '2026-02-30', expires_on: '2027-01-01' } }, 'health_cert.issued_on'],
    [{ health_cert: { number: 'x', issued_on: '2026-01-01', expires_on: '2025-01-01' } }, 'health_cert.expires_on'],
    [{ health_cert: { number: 'x', issued_on: '2026-01-01' } }, 'health_cert.expires_on'],
    [{ cert_status: 'valid' }, 'cert_status'],
  ]) {
    expectError(await call('shopa', 'PATCH', `/api/v1/staff/${ids.staffA}`, patch), 422, field, JSON.stringify(patch))
  }
  // the certificate query
  const other = await call('shopa', 'POST', '/api/v1/staff', {
    ...body, name: '王五', id_number: idNumber(9),
    health_cert: { number: 'JK2025009', issued_on: dayFromNow(-400), expires_on: dayFromNow(-1) },
  })
  assert.equal(other.status, 201, other.text)
  assert.equal(other.json.cert_status, 'expired')
  const expiring = await call('rega', 'GET', '/api/v1/health-certs?status=expiring')
  assert.equal(expiring.status, 200)
  assert.deepEqual(expiring.json.items.map((c) => c.staff_id), [ids.staffA])
  assert.equal(expiring.json.items[0].unit_name, unitA.name)
  const expired = await call('rega', 'GET', '/api/v1/health-certs?status=expired')
  assert.deepEqual(expired.json.items.map((c) => c.staff_id), [other.json.id])
  const all = await call('rega', 'GET', '/api/v1/health-certs')
  assert.deepEqual(all.json.items.map((c) => c.staff_id), [other.json.id, ids.staffA], 'soonest expiry first')
  assert.equal((await call('regb', 'GET', '/api/v1/health-certs')).json.total, 0)
  expectError(await call('rega', 'GET', '/api/v1/health-certs?status=soon'), 422, 'status', 'bad status')
  const byId = await call('rega', 'GET', `/api/v1/staff?id_number=${idn}`)
  assert.deepEqual(byId.json.items.map((x) => x.id), [ids.staffA])
  const renew = await call('shopa', 'PATCH', `/api/v1/staff/${other.json.id}`, {
    health_cert: { number: 'JK2026010', issued_on: dayFromNow(0), expires_on: dayFromNow(365) },
  })
  assert.equal(renew.json.cert_status, 'valid')
  assert.equal(renew.json.name, '王五')
  await assertIntact('staff')
})

test('files: uploads are typed by their bytes and served only in scope', async () => {
  const qr = await call('shopa', 'GET', `/api/v1/units/${ids.unitA}/qrcode.png`)
  assert.equal(qr.status, 200)
  const png = qr.bytes
  const upload = (who, parts) => {
    const m = multipart(parts)
    return call(who, 'POST', '/api/v1/files', m.body, { 'content-type': m.contentType })
  }
  const u = await upload('shopa', [{ name: 'file', filename: 'licence.png', contentType: 'image/png', data: png }])
  assert.equal(u.status, 201, u.text)
  assert.deepEqual(Object.keys(u.json).sort(), ['content_type', 'id', 'sha256', 'size', 'sm3'])
  assert.equal(u.json.content_type, 'image/png')
  assert.equal(u.json.size, png.length)
  assert.equal(u.json.sha256, crypto.createHash('sha256').update(png).digest('hex'))
  assert.match(u.json.sm3, /^[0-9a-f]{64}$/)
  ids.filePng = u.json.id

  const got = await call('shopa', 'GET', `/api/v1/files/${ids.filePng}`)
  assert.equal(got.status, 200)
  assert.equal(got.headers.get('content-type'), 'image/png')
  assert.equal(got.headers.get('cache-control'), 'private, max-age=86400')
  assert.ok(got.headers.get('content-disposition').startsWith('inline'))
  assert.ok(got.bytes.equals(png))
  assert.equal((await call('rega', 'GET', `/api/v1/files/${ids.filePng}`)).status, 200, 'the unit’s regulator')
  expectError(await call('regb', 'GET', `/api/v1/files/${ids.filePng}`), 404, undefined, 'another district')
  expectError(await call('shopb', 'GET', `/api/v1/files/${ids.filePng}`), 404, undefined, 'another merchant')

  // the bytes decide the type, never the name or the claimed type
  for (const [name, parts, status, field] of [
    ['text named .jpg', [{ name: 'file', filename: 'photo.jpg', contentType: 'image/jpeg', data: 'hello, I am text' }], 415],
    ['HTML named .png', [{ name: 'file', filename: 'x.png', contentType: 'image/png', data: '<script>alert(1)</script>' }],
      415],
    ['an executable', [{ name: 'file', filename: 'a.jpg', data: Buffer.from('7f454c46020101', 'hex') }], 415],
    ['no file field', [{ name: 'unit_id', data: ids.unitA }], 422, 'file'],
    ['a text field named file', [{ name: 'file', data: 'not a file' }], 422],
    ['an unknown field', [{ name: 'file', filename: 'a.jpg', data: JPEG }, { name: 'owner', data: 'x' }], 422],
    ['a unit out of scope', [{ name: 'file', filename: 'a.jpg', data: JPEG }, { name: 'unit_id', data: ids.unitB }], 422,
      'unit_id'],
  ]) {
    expectError(await upload('shopa', parts), status, field, name)
    await assertIntact(name)
  }
  expectError(await call('shopa', 'POST', '/api/v1/files', JPEG, { 'content-type': 'image/jpeg' }), 415, undefined,
    'not multipart')
  expectError(await call('shopa', 'POST', '/api/v1/files', 'garbage', { 'content-type': 'multipart/form-data; boundary=zz' }),
    400, undefined, 'malformed multipart')

  // a hostile file name is only a label: the bytes come back under the id
  const trav = await upload('shopa', [{ name: 'file', filename: '../../../etc/passwd.jpg', data: JPEG }])
  assert.equal(trav.status, 201, trav.text)
  const back = await call('shopa', 'GET', `/api/v1/files/${trav.json.id}`)
  assert.equal(back.headers.get('content-type'), 'image/jpeg')
  assert.ok(back.bytes.equals(JPEG))
  expectError(await call('shopa', 'GET', '/api/v1/files/..%2F..%2Fetc%2Fpasswd'), 404, undefined, 'traversal id')

  // a file over the limit
  const big = Buffer.alloc(10 * 1024 * 1024 + 1, 0x41)
  JPEG.copy(big)
  // The route admits the upload limit plus multipart overhead, so the server reads the whole
  // body and answers 413 itself (a connection cut mid-body would be a server bug).
  const tooBig = await upload('shopa', [{ name: 'file', filename: 'big.jpg', data: big }]).catch((e) => {
    assert.fail(`the oversized upload got no answer (${e.cause?.code ?? e.message}):\n${srv.log().slice(-2000)}`)
  })
  assert.equal(tooBig.status, 413, tooBig.text.slice(0, 200))
  await assertIntact('oversized upload')

  // a unit references its images; another district's file cannot be referenced
  const scan = await upload('regb', [{ name: 'file', filename: 'b.png', data: png }])
  assert.equal(scan.status, 201)
  expectError(await call('rega', 'PATCH', `/api/v1/units/${ids.unitA}`, { licence_image_ids: [scan.json.id] }), 422,
    'licence_image_ids[0]', 'foreign file')
  const withImages = await call('rega', 'PATCH', `/api/v1/units/${ids.unitA}`,
    { licence_image_ids: [ids.filePng], storefront_image_id: trav.json.id })
  assert.equal(withImages.status, 200, withImages.text)
  assert.deepEqual(withImages.json.licence_image_ids, [ids.filePng])
  unitA = withImages.json
  await assertIntact('images')
})

test('the QR code is a PNG pointing at the public page', async () => {
  const r = await call('rega', 'GET', `/api/v1/units/${ids.unitA}/qrcode.png`)
  assert.equal(r.status, 200)
  assert.equal(r.headers.get('content-type'), 'image/png')
  const b = r.bytes
  assert.ok(b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'PNG signature')
  let off = 8
  let width = 0
  let height = 0
  const idat = []
  const types = []
  while (off < b.length) {
    const len = b.readUInt32BE(off)
    const type = b.subarray(off + 4, off + 8).toString('latin1')
    const data = b.subarray(off + 8, off + 8 + len)
    const crc = b.readUInt32BE(off + 8 + len)
    assert.equal(crc, zlib.crc32 ? zlib.crc32(b.subarray(off + 4, off + 8 + len)) : crc, `${type} CRC`)
    types.push(type)
    if (type === 'IHDR') {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
      assert.equal(data[8], 1, 'bit depth 1')
      assert.equal(data[9], 0, 'greyscale')
    }
    if (type === 'IDAT') idat.push(data)
    off += 12 + len
  }
  assert.deepEqual([types[0], types.at(-1)], ['IHDR', 'IEND'])
  assert.equal(width, height)
  assert.ok(width >= 21 * 8)
  const pixels = zlib.inflateSync(Buffer.concat(idat))
  assert.equal(pixels.length, (Math.ceil(width / 8) + 1) * height)
  // the quiet zone is white, the finder pattern's corner is black
  const rowBytes = Math.ceil(width / 8) + 1
  assert.equal(pixels[1], 0xff)
  const y = 4 * 8
  const x = 4 * 8
  assert.equal((pixels[y * rowBytes + 1 + (x >> 3)] >> (7 - (x & 7))) & 1, 0)
  expectError(await call('shopb', 'GET', `/api/v1/units/${ids.unitA}/qrcode.png`), 404, undefined, 'other merchant')
})

test('deleting a unit takes its cameras and staff along', async () => {
  const cam = await call('rega', 'POST', '/api/v1/cameras', { unit_id: ids.unitC, name: '后厨', area: 'cooking' })
  assert.equal(cam.status, 201, cam.text)
  const d = await call('rega', 'DELETE', `/api/v1/units/${ids.unitC}`)
  assert.equal(d.status, 204)
  assert.equal(d.text, '')
  expectError(await call('rega', 'GET', `/api/v1/units/${ids.unitC}`), 404, undefined, 'deleted unit')
  expectError(await call('rega', 'GET', `/api/v1/cameras/${cam.json.id}`), 404, undefined, 'its camera')
  expectError(await call('rega', 'DELETE', `/api/v1/units/${ids.unitC}`), 404, undefined, 'deleted twice')
  const staff = await call('shopa', 'DELETE', `/api/v1/staff/${ids.staffA}`)
  assert.equal(staff.status, 204)
  expectError(await call('shopa', 'GET', `/api/v1/staff/${ids.staffA}`), 404, undefined, 'deleted staff')
  await assertIntact('deletes')
})
