// Operations, the second part (issue 11): purchasing (request → approval → order) with price
// history and price-jump warnings, stock counts (盘点) with differences, sensor history
// downsampled on the server (min/max/avg buckets, thresholds, alarms) and its retention into
// hourly rollups, training certificate warnings; scope (another unit's records 404, regulators
// read only), bad input naming the field.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/operations_more.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'

import { ADMIN, api, assertServerAlive, expectError, login, startServer, uscc } from './lib.mjs'

let srv
const tok = {}
const ids = {}
const passwords = {}
const call = (who, method, path, body, headers) => api(srv.base, tok[who], method, path, body, headers)

let clockOffsetMs = 0
const day = (days) => new Date(Date.now() + clockOffsetMs + 8 * 3600e3 + days * 86400e3).toISOString().slice(0, 10)
async function advanceDays(n) {
  const r = await call(ADMIN.username, 'POST', '/api/v1/admin/clock', { advance_seconds: n * 86400 })
  assert.equal(r.status, 200, r.text)
  clockOffsetMs += n * 86400e3
  for (const [user, password] of Object.entries(passwords)) tok[user] = await login(srv.base, user, password)
}

const assertAlive = (context) => assertServerAlive(srv, context)
async function createUser(username, role, extra) {
  const password = 'Pw@2026!' + username.slice(0, 2).toUpperCase() + 'q'
  const r = await call(ADMIN.username, 'POST', '/api/v1/users', { username, password, display_name: username, role, ...extra })
  assert.equal(r.status, 201, `create user ${username}: ${r.text}`)
  passwords[username] = password
  tok[username] = await login(srv.base, username, password)
}

before(async () => {
  srv = await startServer({ args: ['--manual-clock'] })
  tok[ADMIN.username] = await login(srv.base, ADMIN.username, ADMIN.password)
  passwords[ADMIN.username] = ADMIN.password
  const jur = async (parent_id, level, code, name) => {
    const r = await call(ADMIN.username, 'POST', '/api/v1/jurisdictions', { parent_id, level, code, name })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  ids.province = await jur(undefined, 'province', '320000', '江苏省')
  ids.city = await jur(ids.province, 'city', '320600', '南通市')
  ids.distA = await jur(ids.city, 'district', '320602', '崇川区')
  ids.distB = await jur(ids.city, 'district', '320612', '通州区')
  const unit = async (name, jurisdiction_id, n) => {
    const r = await call(ADMIN.username, 'POST', '/api/v1/units', {
      name, jurisdiction_id, store_type: 'central_kitchen', licence_number: 'JY13206020012345', uscc: uscc(n),
    })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  ids.unitA = await unit('崇川中央厨房', ids.distA, 21)
  ids.unitB = await unit('通州配餐中心', ids.distB, 22)
  await createUser('rega', 'regulator', { jurisdiction_id: ids.distA })
  await createUser('regb', 'regulator', { jurisdiction_id: ids.distB })
  await createUser('shopa', 'merchant', { unit_ids: [ids.unitA] })
  await createUser('shopb', 'merchant', { unit_ids: [ids.unitB] })
  const sup = async (who, unit_id, n) => {
    const r = await call(who, 'POST', '/api/v1/suppliers', {
      unit_id, name: '供应商' + n, uscc: uscc(200 + n), qualification_expires_on: day(300), file_ids: [],
    })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  ids.supA = await sup('shopa', ids.unitA, 1)
  ids.supB = await sup('shopb', ids.unitB, 2)
})

after(async () => {
  await srv?.stop()
})

const order = (over = {}) => ({
  unit_id: ids.unitA, supplier_id: ids.supA, requested_by: '王采购', reason: '下周备料', needed_on: day(3),
  lines: [{ item: '大米', quantity: 100, unit_of_measure: 'kg', unit_price: 5 }, { item: '猪肉', quantity: 20, unit_of_measure: 'kg', unit_price: 28 }],
  ...over,
})

test('purchasing: request → approve → order, price history, a price jump warns, 409 on illegal steps', async () => {
  const r1 = await call('shopa', 'POST', '/api/v1/purchase-orders', order())
  assert.equal(r1.status, 201, r1.text)
  assert.equal(r1.json.state, 'requested')
  assert.equal(r1.json.total_amount, 1060)
  assert.equal(r1.json.lines[0].previous_price, null, 'first purchase of the item has no previous price')
  // illegal: ordering before approval
  expectError(await call('shopa', 'POST', `/api/v1/purchase-orders/${r1.json.id}/order`), 409, null, 'order before approval')
  const ap = await call('shopa', 'POST', `/api/v1/purchase-orders/${r1.json.id}/decision`, { approved: true, decided_by: '张经理' })
  assert.equal(ap.status, 200, ap.text)
  assert.equal(ap.json.state, 'approved')
  expectError(await call('shopa', 'POST', `/api/v1/purchase-orders/${r1.json.id}/decision`, { approved: false, decided_by: '张经理' }),
    409, null, 'second decision')
  const placed = await call('shopa', 'POST', `/api/v1/purchase-orders/${r1.json.id}/order`)
  assert.equal(placed.status, 200, placed.text)
  assert.equal(placed.json.state, 'ordered')
  assert.ok(placed.json.ordered_at)

  // a rejected order's prices do not count as history
  const rej = await call('shopa', 'POST', '/api/v1/purchase-orders', order({ lines: [{ item: '大米', quantity: 1, unit_of_measure: 'kg', unit_price: 50 }] }))
  assert.equal(rej.json.lines[0].previous_price, 5)
  assert.equal(rej.json.lines[0].change_pct, 900)
  assert.equal(rej.json.lines[0].price_jump, true)
  assert.equal((await call('shopa', 'POST', `/api/v1/purchase-orders/${rej.json.id}/decision`, { approved: false, decided_by: '张经理', note: '太贵' })).json.state, 'rejected')

  // +10 % is within the default 20 %, +30 % jumps
  const r2 = await call('shopa', 'POST', '/api/v1/purchase-orders', order({ lines: [{ item: '大米', quantity: 50, unit_of_measure: 'kg', unit_price: 5.5 }] }))
  assert.equal(r2.json.lines[0].previous_price, 5, 'the rejected 50.00 is not the previous price')
  assert.equal(r2.json.lines[0].change_pct, 10)
  assert.equal(r2.json.lines[0].price_jump, false)
  const r3 = await call('shopa', 'POST', '/api/v1/purchase-orders', order({ lines: [{ item: '大米', quantity: 50, unit_of_measure: 'kg', unit_price: 7.15 }] }))
  assert.equal(r3.json.lines[0].previous_price, 5.5)
  assert.equal(r3.json.lines[0].price_jump, true)

  const hist = await call('rega', 'GET', `/api/v1/price-history?item=${encodeURIComponent('大米')}`)
  assert.equal(hist.status, 200, hist.text)
  assert.deepEqual(hist.json.items.map((p) => p.unit_price), [7.15, 5.5, 5], 'newest first, rejected left out')
  const warn = await call('rega', 'GET', `/api/v1/operations/warnings?unit_id=${ids.unitA}`)
  const jumps = warn.json.items.filter((w) => w.kind === 'price_jump')
  assert.deepEqual(jumps.map((w) => w.subject_id), [r3.json.id], 'only the jump of a live order warns')
  const csv = await call('rega', 'GET', '/api/v1/purchase-orders?format=csv')
  assert.equal(csv.status, 200)
  assert.match(csv.text, /王采购/)

  // scope and roles
  expectError(await call('shopb', 'GET', `/api/v1/purchase-orders/${r1.json.id}`), 404, null, "another unit's order")
  expectError(await call('regb', 'GET', `/api/v1/purchase-orders/${r1.json.id}`), 404, null, 'outside the district')
  expectError(await call('shopb', 'POST', `/api/v1/purchase-orders/${r2.json.id}/decision`, { approved: true, decided_by: 'x' }), 404, null,
    "deciding another unit's order")
  expectError(await call('rega', 'POST', `/api/v1/purchase-orders/${r2.json.id}/decision`, { approved: true, decided_by: 'x' }), 403, null,
    'regulators read only')
  assert.equal((await call('shopb', 'GET', '/api/v1/price-history')).json.total, 0, "another unit's prices are not listed")
  assert.equal((await call('regb', 'GET', '/api/v1/purchase-orders')).json.total, 0)

  // bad input
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders', order({ supplier_id: ids.supB })), 422, 'supplier_id', "another unit's supplier")
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders', order({ lines: [] })), 422, 'lines', 'no lines')
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders', order({ lines: [{ item: '米', quantity: -3, unit_of_measure: 'kg', unit_price: 5 }] })),
    422, 'lines[0].quantity', 'negative quantity')
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders', order({ lines: [{ item: '米', quantity: 1, unit_of_measure: 'kg', unit_price: 1e12 }] })),
    422, 'lines[0].unit_price', 'absurd price')
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders', order({ lines: [{ item: '米', quantity: 1, unit_of_measure: 'kg', unit_price: 1, x: 1 }] })),
    422, 'lines[0].x', 'unknown field in a line')
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders', order({ lines: ['米'] })), 422, 'lines[0]', 'a line that is not an object')
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders', order({ needed_on: '2099-01-01' })), 422, 'needed_on', 'far future')
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders', order({ lines: Array(51).fill(order().lines[0]) })), 422, 'lines', 'too many lines')
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders', '{"unit_id":'), 400, null, 'malformed JSON')
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders', order({ reason: 'x'.repeat(100000) })), 413, null, 'oversized')
  expectError(await call('shopa', 'POST', '/api/v1/purchase-orders/po_doesnotexist/order'), 404, null, 'unknown order')
  expectError(await call('shopa', 'POST', `/api/v1/purchase-orders/${r2.json.id}/decision`, { approved: 'yes', decided_by: 'x' }), 422, 'approved', 'approved not a boolean')
  expectError(await call('shopa', 'GET', '/api/v1/price-history?item=' + 'x'.repeat(65)), 422, 'item', 'long item filter')
  await assertAlive('purchasing')
})

test('stock counts: book vs counted quantity, differences recorded and warned, scope, bad input', async () => {
  // 大米 in stock: accept and stock in 30 kg
  const acc = await call('shopa', 'POST', '/api/v1/acceptances', {
    unit_id: ids.unitA, supplier_id: ids.supA, item: '大米', quantity: 30, unit_of_measure: 'kg', produced_on: day(-1),
    shelf_life_days: 180, sensory_ok: true, file_ids: [],
  })
  assert.equal(acc.status, 201, acc.text)
  assert.equal((await call('shopa', 'POST', '/api/v1/stock/in', { acceptance_id: acc.json.id })).status, 201)
  assert.equal((await call('shopa', 'POST', '/api/v1/stock/out', { unit_id: ids.unitA, item: '大米', quantity: 4.5, department: '热菜间', receiver: '李', handler: '王' })).status, 201)

  const c = await call('shopa', 'POST', '/api/v1/stock-counts', {
    unit_id: ids.unitA, counted_by: '赵盘点', note: '月末盘点',
    lines: [{ item: '大米', counted_quantity: 25 }, { item: '食用油', counted_quantity: 0 }, { item: '面粉', counted_quantity: 2 }],
  })
  assert.equal(c.status, 201, c.text)
  assert.deepEqual(c.json.lines.map((l) => [l.item, l.book_quantity, l.counted_quantity, l.difference]),
    [['大米', 25.5, 25, -0.5], ['食用油', 0, 0, 0], ['面粉', 0, 2, 2]])
  assert.equal(c.json.differences, 2)
  assert.equal(c.json.lines[0].unit_of_measure, 'kg')
  const got = await call('rega', 'GET', `/api/v1/stock-counts/${c.json.id}`)
  assert.equal(got.status, 200)
  assert.equal(got.json.differences, 2)
  const warn = await call('shopa', 'GET', '/api/v1/operations/warnings')
  assert.ok(warn.json.items.some((w) => w.kind === 'stock_count_difference' && w.subject_id === c.json.id), JSON.stringify(warn.json))
  const csv = await call('shopa', 'GET', '/api/v1/stock-counts?format=csv')
  assert.match(csv.text, /赵盘点/)

  expectError(await call('shopb', 'GET', `/api/v1/stock-counts/${c.json.id}`), 404, null, "another unit's count")
  expectError(await call('regb', 'GET', `/api/v1/stock-counts/${c.json.id}`), 404, null, 'outside the district')
  assert.equal((await call('regb', 'GET', '/api/v1/stock-counts')).json.total, 0)
  const body = { unit_id: ids.unitA, counted_by: '赵', lines: [{ item: '大米', counted_quantity: 1 }] }
  expectError(await call('rega', 'POST', '/api/v1/stock-counts', body), 403, null, 'regulators read only')
  expectError(await call('shopb', 'POST', '/api/v1/stock-counts', body), 422, 'unit_id', 'another unit')
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', { ...body, lines: [{ item: '大米', counted_quantity: -1 }] }), 422,
    'lines[0].counted_quantity', 'negative count')
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', { ...body, lines: [{ item: '大米', counted_quantity: 1 }, { item: '大米', counted_quantity: 2 }] }),
    422, 'lines[1].item', 'item counted twice')
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', { ...body, counted_at: '2099-01-01T00:00:00+08:00' }), 422, 'counted_at', 'far future')
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', { ...body, lines: [{ item: '大米', counted_quantity: 'many' }] }), 422,
    'lines[0].counted_quantity', 'not a number')
  await assertAlive('stock counts')
})

test('training certificates expiring warn', async () => {
  const r = await call('shopa', 'POST', '/api/v1/trainings', {
    unit_id: ids.unitA, kind: 'exam', staff_name: '陈厨师', course: '食品安全', score: 92, certificate_no: 'T-1', certificate_expires_on: day(10),
  })
  assert.equal(r.status, 201, r.text)
  const far = await call('shopa', 'POST', '/api/v1/trainings', {
    unit_id: ids.unitA, kind: 'exam', staff_name: '周厨师', course: '食品安全', score: 88, certificate_expires_on: day(200),
  })
  assert.equal(far.status, 201, far.text)
  const w = await call('rega', 'GET', '/api/v1/operations/warnings')
  const certs = w.json.items.filter((x) => x.kind.startsWith('training_cert'))
  assert.deepEqual(certs.map((x) => [x.kind, x.subject_id]), [['training_cert_expiring', r.json.id]])
})

test('sensor history: downsampled buckets with thresholds and alarms, scope, bad input, rollups after retention', async () => {
  const dev = await call(ADMIN.username, 'POST', '/api/v1/devices', {
    unit_id: ids.unitA, name: '冷藏柜1', kind: 'refrigerator', thresholds: { temperature_c: { min: 0, max: 8, min_duration_minutes: 1 } },
  })
  assert.equal(dev.status, 201, dev.text)
  ids.dev = dev.json.id
  // 60 minute readings ending now: minute i reads 2 + (i % 5), minutes 50–59 read 12 (a breach)
  const t0 = Math.floor((Date.now() + clockOffsetMs) / 60000) * 60000 - 60 * 60000
  const values = []
  for (let i = 0; i < 60; i++) {
    const v = i >= 50 ? 12 : 2 + (i % 5)
    values.push(v)
    const r = await call(ADMIN.username, 'POST', '/api/v1/ingest/readings', {
      device_id: ids.dev, at: new Date(t0 + i * 60000).toISOString(), metrics: { temperature_c: v, humidity_pct: 60 },
    })
    assert.equal(r.status, 202, r.text)
  }
  const from = new Date(t0).toISOString()
  const to = new Date(t0 + 60 * 60000).toISOString()
  const q = (who, extra = '') => call(who, 'GET', `/api/v1/devices/${ids.dev}/history?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}${extra}`)
  const h = await q('shopa', '&buckets=12')
  assert.equal(h.status, 200, h.text)
  assert.equal(h.json.metric, 'temperature_c', 'the first metric with a threshold')
  assert.equal(h.json.bucket_seconds, 300)
  assert.equal(h.json.points.length, 12)
  for (let b = 0; b < 12; b++) {
    const slice = values.slice(b * 5, b * 5 + 5)
    const p = h.json.points[b]
    assert.equal(p.n, 5)
    assert.equal(p.min, Math.min(...slice), `bucket ${b} min`)
    assert.equal(p.max, Math.max(...slice), `bucket ${b} max`)
    assert.equal(p.avg, slice.reduce((a, x) => a + x, 0) / 5, `bucket ${b} avg`)
  }
  assert.deepEqual({ min: h.json.thresholds.min, max: h.json.thresholds.max, source: h.json.thresholds.source }, { min: 0, max: 8, source: 'device' })
  // the breach lasted 10 minutes (> 1): a sensor_out_of_range alarm is marked in the range
  assert.ok(h.json.alarms.length >= 1, JSON.stringify(h.json.alarms))
  const hum = await q('rega', '&metric=humidity_pct&buckets=10')
  assert.equal(hum.status, 200)
  assert.equal(hum.json.thresholds.source, 'rule', "no threshold of the device's own: the sensor rule of config/alerts.toml")
  assert.equal(hum.json.thresholds.max, 75)
  assert.ok(hum.json.points.every((p) => p.avg === 60))
  const latest = await call('shopa', 'GET', `/api/v1/devices/${ids.dev}/latest`)
  assert.equal(latest.json.metrics.temperature_c, 12)

  // scope and bad input
  expectError(await q('shopb'), 404, null, "another unit's device")
  expectError(await q('regb'), 404, null, 'outside the district')
  expectError(await call('shopa', 'GET', '/api/v1/devices/dev_doesnotexist/history'), 404, null, 'unknown device')
  expectError(await q('shopa', '&buckets=5'), 422, 'buckets', 'too few buckets')
  expectError(await q('shopa', '&buckets=99999999'), 422, 'buckets', 'too many buckets')
  expectError(await q('shopa', '&buckets=-3'), 422, 'buckets', 'negative buckets')
  expectError(await q('shopa', '&metric=DROP%20TABLE'), 422, 'metric', 'hostile metric')
  expectError(await call('shopa', 'GET', `/api/v1/devices/${ids.dev}/history?from=${encodeURIComponent(to)}&to=${encodeURIComponent(from)}`), 422, 'to', 'reversed range')
  expectError(await call('shopa', 'GET', `/api/v1/devices/${ids.dev}/history?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z`), 422, 'from', 'range over two years')
  expectError(await call('shopa', 'GET', `/api/v1/devices/${ids.dev}/history?from=yesterday`), 422, 'from', 'not a time')
  expectError(await call('shopa', 'POST', '/api/v1/admin/sensor-compaction'), 403, null, 'compaction is for admins')

  // retention: after raw_days (30) the raw readings become hourly rollups; the history stays
  const wide = async () => (await call('shopa', 'GET', `/api/v1/devices/${ids.dev}/history?from=${encodeURIComponent(new Date(t0 - 86400e3).toISOString())}&to=${encodeURIComponent(new Date(t0 + 2 * 86400e3).toISOString())}&buckets=24`)).json
  const before = await wide()
  await advanceDays(32)
  const cmp = await call(ADMIN.username, 'POST', '/api/v1/admin/sensor-compaction')
  assert.equal(cmp.status, 200, cmp.text)
  assert.equal(cmp.json.ran, true)
  assert.equal(cmp.json.readings_folded, 120, 'both metrics of 60 readings')
  const again = await call(ADMIN.username, 'POST', '/api/v1/admin/sensor-compaction')
  assert.equal(again.json.readings_folded, 0, 'nothing folded twice')
  const after = await wide()
  const sum = (pts) => pts.reduce((a, p) => a + p.n, 0)
  assert.equal(sum(after.points), 60)
  assert.equal(sum(before.points), 60)
  const agg = (pts) => ({ min: Math.min(...pts.map((p) => p.min)), max: Math.max(...pts.map((p) => p.max)), total: pts.reduce((a, p) => a + p.avg * p.n, 0) })
  const a = agg(after.points)
  const b = agg(before.points)
  assert.equal(a.min, b.min)
  assert.equal(a.max, b.max)
  assert.ok(Math.abs(a.total - b.total) < 0.05 /* avg is rounded to 3 decimals */, `sum of values kept: ${a.total} vs ${b.total}`)
  await assertAlive('sensor history')
})

test('dishes and menus: nutrition per portion entered, summed per menu with allergens, scope, bad input', async () => {
  const dish = (over = {}) => ({
    unit_id: ids.unitA, name: '番茄炒蛋', ingredients: [{ item: '番茄', grams: 120 }, { item: '鸡蛋', grams: 60 }],
    nutrition: { energy_kcal: 180.5, protein_g: 9, fat_g: 12, carbohydrate_g: 8, sodium_mg: 420 }, allergens: ['egg'], ...over,
  })
  const d1 = await call('shopa', 'POST', '/api/v1/dishes', dish())
  assert.equal(d1.status, 201, d1.text)
  const d2 = await call('shopa', 'POST', '/api/v1/dishes', dish({
    name: '清蒸鲈鱼', ingredients: [{ item: '鲈鱼', grams: 150 }],
    nutrition: { energy_kcal: 160, protein_g: 28, fat_g: 4.5, carbohydrate_g: 0, sodium_mg: 380 }, allergens: ['fish', 'soy', 'fish'],
  }))
  assert.deepEqual(d2.json.allergens, ['fish', 'soy'], 'each allergen once')
  const m = await call('shopa', 'POST', '/api/v1/menus', { unit_id: ids.unitA, client_name: '崇川实验小学', day: day(1), meal: 'lunch', dish_ids: [d1.json.id, d2.json.id] })
  assert.equal(m.status, 201, m.text)
  assert.deepEqual(m.json.nutrition, { energy_kcal: 340.5, protein_g: 37, fat_g: 16.5, carbohydrate_g: 8, sodium_mg: 800 })
  assert.deepEqual(m.json.allergens, ['egg', 'fish', 'soy'])
  assert.deepEqual(m.json.dishes.map((d) => d.name), ['番茄炒蛋', '清蒸鲈鱼'])
  const byDay = await call('rega', 'GET', `/api/v1/menus?day=${day(1)}`)
  assert.equal(byDay.status, 200)
  assert.deepEqual(byDay.json.items.map((x) => x.id), [m.json.id])
  assert.equal((await call('rega', 'GET', `/api/v1/menus?day=${day(2)}`)).json.total, 0)
  assert.match((await call('rega', 'GET', '/api/v1/dishes?format=csv')).text, /番茄炒蛋/)

  expectError(await call('shopb', 'GET', `/api/v1/menus/${m.json.id}`), 404, null, "another unit's menu")
  expectError(await call('regb', 'GET', `/api/v1/dishes/${d1.json.id}`), 404, null, 'outside the district')
  expectError(await call('rega', 'POST', '/api/v1/dishes', dish()), 403, null, 'regulators read only')
  const dB = await call('shopb', 'POST', '/api/v1/dishes', dish({ unit_id: ids.unitB }))
  expectError(await call('shopa', 'POST', '/api/v1/menus', { unit_id: ids.unitA, client_name: 'x', day: day(1), meal: 'lunch', dish_ids: [d1.json.id, dB.json.id] }),
    422, 'dish_ids[1]', "another unit's dish")
  expectError(await call('shopa', 'POST', '/api/v1/menus', { unit_id: ids.unitA, client_name: 'x', day: day(1), meal: 'supper', dish_ids: [d1.json.id] }), 422, 'meal', 'unknown meal')
  expectError(await call('shopa', 'POST', '/api/v1/menus', { unit_id: ids.unitA, client_name: 'x', day: '2099-01-01', meal: 'lunch', dish_ids: [d1.json.id] }), 422, 'day', 'far future')
  expectError(await call('shopa', 'POST', '/api/v1/menus', { unit_id: ids.unitA, client_name: 'x', day: day(1), meal: 'lunch', dish_ids: [] }), 422, 'dish_ids', 'no dishes')
  expectError(await call('shopa', 'POST', '/api/v1/dishes', dish({ nutrition: { energy_kcal: -5, protein_g: 1, fat_g: 1, carbohydrate_g: 1, sodium_mg: 1 } })), 422, 'nutrition.energy_kcal', 'negative energy')
  expectError(await call('shopa', 'POST', '/api/v1/dishes', dish({ nutrition: { energy_kcal: 1e9, protein_g: 1, fat_g: 1, carbohydrate_g: 1, sodium_mg: 1 } })), 422, 'nutrition.energy_kcal', 'absurd energy')
  expectError(await call('shopa', 'POST', '/api/v1/dishes', dish({ nutrition: { energy_kcal: 1, protein_g: 1, fat_g: 1, carbohydrate_g: 1, sodium_mg: 1, sugar: 2 } })), 422, 'nutrition.sugar', 'unknown nutrient')
  expectError(await call('shopa', 'POST', '/api/v1/dishes', dish({ allergens: ['<script>'] })), 422, 'allergens[0]', 'hostile allergen')
  expectError(await call('shopa', 'POST', '/api/v1/dishes', dish({ ingredients: [{ item: '米', grams: 0 }] })), 422, 'ingredients[0].grams', 'zero grams')
  expectError(await call('shopa', 'GET', '/api/v1/menus?day=2026-13-40'), 422, 'day', 'impossible day')
  await assertAlive('menus')
})

test('delivery tracks: a synthetic track against the route corridor and temperature range, warnings, scope, bad input', async () => {
  const trip = await call('shopa', 'POST', '/api/v1/delivery-trips', {
    unit_id: ids.unitA, client_name: '崇川实验小学', destination: '学堂路1号', vehicle_plate: '苏F8A123', driver: '张师傅',
    containers: 2, portions: 80, dispatched_at: new Date(Date.now() + clockOffsetMs - 3600e3).toISOString(),
  })
  assert.equal(trip.status, 201, trip.text)
  const id = trip.json.id
  // a straight route east along latitude 32.0 (~9.4 km), corridor 300 m, hot food 60–100 °C
  const route = { points: [{ lat: 32.0, lng: 120.85 }, { lat: 32.0, lng: 120.95 }], corridor_m: 300, temp_min_c: 60, temp_max_c: 100 }
  const set = await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/route`, route)
  assert.equal(set.status, 200, set.text)
  const t0 = Date.now() + clockOffsetMs - 50 * 60e3
  const pts = []
  for (let i = 0; i < 10; i++) {
    // 0.001° of latitude ≈ 111 m: points 5 and 6 drift 0.005° (≈ 550 m) north; point 8 cools to 52 °C
    const lat = i === 5 || i === 6 ? 32.005 : 32.0 + (i % 2) * 0.001
    pts.push({ at: new Date(t0 + i * 60e3).toISOString(), lat, lng: 120.86 + i * 0.008, temperature_c: i === 8 ? 52 : 68, humidity_pct: 55 })
  }
  const add = await call('shopa', 'POST', `/api/v1/delivery-trips/${id}/track`, { points: pts })
  assert.equal(add.status, 201, add.text)
  assert.deepEqual({ added: add.json.added, off: add.json.off_route, oor: add.json.out_of_range }, { added: 10, off: 2, oor: 1 })
  const tr = await call('rega', 'GET', `/api/v1/delivery-trips/${id}/track`)
  assert.equal(tr.status, 200)
  assert.deepEqual(tr.json.points.map((p) => p.off_route), [false, false, false, false, false, true, true, false, false, false])
  assert.equal(tr.json.points[8].out_of_range, true)
  assert.equal(tr.json.route.corridor_m, 300)
  const warn = await call('rega', 'GET', '/api/v1/operations/warnings')
  const kinds = warn.json.items.filter((w) => w.subject_id === id).map((w) => w.kind).sort()
  assert.deepEqual(kinds, ['delivery_off_route', 'delivery_temperature'])

  expectError(await call('shopb', 'GET', `/api/v1/delivery-trips/${id}/track`), 404, null, "another unit's trip")
  expectError(await call('regb', 'POST', `/api/v1/delivery-trips/${id}/track`, { points: pts.slice(0, 1) }), 404, null, 'outside the district')
  expectError(await call('rega', 'POST', `/api/v1/delivery-trips/${id}/track`, { points: pts.slice(0, 1) }), 403, null, 'regulators read only')
  expectError(await call('shopa', 'POST', `/api/v1/delivery-trips/${id}/track`, { points: [{ ...pts[0], lat: 200 }] }), 422, 'points[0].lat', 'latitude out of range')
  expectError(await call('shopa', 'POST', `/api/v1/delivery-trips/${id}/track`, { points: [{ ...pts[0], temperature_c: 900 }] }), 422, 'points[0].temperature_c', 'absurd temperature')
  expectError(await call('shopa', 'POST', `/api/v1/delivery-trips/${id}/track`, { points: [{ ...pts[0], at: '2099-01-01T00:00:00Z' }] }), 422, 'points[0].at', 'far future')
  expectError(await call('shopa', 'POST', `/api/v1/delivery-trips/${id}/track`, { points: [{ ...pts[0], at: '2020-01-01T00:00:00Z' }] }), 422, 'points[0].at', 'before dispatch')
  expectError(await call('shopa', 'POST', `/api/v1/delivery-trips/${id}/track`, { points: Array(501).fill(pts[0]) }), 422, 'points', 'too many points')
  expectError(await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/route`, { ...route, points: [route.points[0]] }), 422, 'points', 'one-point route')
  expectError(await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/route`, { ...route, corridor_m: 1e9 }), 422, 'corridor_m', 'absurd corridor')
  expectError(await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/route`, { ...route, temp_min_c: 90, temp_max_c: 60 }), 422, 'temp_max_c', 'reversed range')
  // handed over: the track is closed
  const ho = await call('shopa', 'POST', `/api/v1/delivery-trips/${id}/handover`, { received_by: '刘老师', place: '食堂', portions: 80 })
  assert.equal(ho.status, 200, ho.text)
  expectError(await call('shopa', 'POST', `/api/v1/delivery-trips/${id}/track`, { points: pts.slice(0, 1) }), 409, null, 'after the hand-over')
  await assertAlive('tracks')
})
