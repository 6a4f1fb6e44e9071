// Operations, the third part (issue 11): deliveries accepted against their purchase order
// (mismatches flagged and warned, received vs ordered, fully received), stock counts by batch
// that adjust the stock when confirmed (count_adjustment movements, 409 when a batch moved
// since it was counted); a client unit's public menu page; a vehicle device bound to a delivery
// trip whose readings published over the real broker (mosquitto, scripts/services.sh) become the
// trip's track; scope (another unit's records), bad input naming the field.
//
//   . $MINGCHU_SVC_DIR/env; MINGCHU_BIN=build/mingchu node --test tests/api/operations_orders.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'

import { ADMIN, api, assertServerAlive, expectError, login, startServer, uscc } from './lib.mjs'

let srv
const tok = {}
const ids = {}
const call = (who, method, path, body, headers) => api(srv.base, tok[who], method, path, body, headers)
const day = (days) => new Date(Date.now() + 8 * 3600e3 + days * 86400e3).toISOString().slice(0, 10)

const assertAlive = (context) => assertServerAlive(srv, context)
async function createUser(username, role, extra) {
  const password = 'Pw@2026!' + username.slice(0, 2).toUpperCase() + 'q'
  const r = await call(ADMIN.username, 'POST', '/api/v1/users', { username, password, display_name: username, role, ...extra })
  assert.equal(r.status, 201, `create user ${username}: ${r.text}`)
  tok[username] = await login(srv.base, username, password)
}

const MQTT_URL = process.env.MINGCHU_TEST_MQTT
const MQTT_CLIENT = 'mingchu-ops-orders-' + process.pid
const mqttUrl = () => new URL(MQTT_URL.replace('mqtt://', 'http://'))
function publish(topic, payload) {
  const u = mqttUrl()
  const r = spawnSync('mosquitto_pub', ['-h', u.hostname, '-p', u.port || '1883', '-q', '1', '-t', topic, '-m', JSON.stringify(payload)], { timeout: 10000 })
  assert.equal(r.status, 0, `mosquitto_pub: ${r.stderr}`)
}

before(async () => {
  assert.ok(MQTT_URL, 'MINGCHU_TEST_MQTT is not set: source $MINGCHU_SVC_DIR/env (scripts/services.sh start)')
  srv = await startServer({ args: ['--mqtt', MQTT_URL], env: { MINGCHU_MQTT_CLIENT_ID: MQTT_CLIENT } })
  tok[ADMIN.username] = await login(srv.base, ADMIN.username, ADMIN.password)
  const jur = async (parent_id, level, code, name) => {
    const r = await call(ADMIN.username, 'POST', '/api/v1/jurisdictions', { parent_id, level, code, name })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  ids.province = await jur(undefined, 'province', '320000', '江苏省')
  ids.city = await jur(ids.province, 'city', '320500', '苏州市')
  ids.distA = await jur(ids.city, 'district', '320508', '姑苏区')
  ids.distB = await jur(ids.city, 'district', '320505', '虎丘区')
  const unit = async (name, jurisdiction_id, n, store_type = 'central_kitchen') => {
    const r = await call(ADMIN.username, 'POST', '/api/v1/units', {
      name, jurisdiction_id, store_type, licence_number: 'JY13205080012345', uscc: uscc(n),
    })
    assert.equal(r.status, 201, r.text)
    return r.json
  }
  const a = await unit('姑苏中央厨房', ids.distA, 31)
  const b = await unit('虎丘配餐中心', ids.distB, 32)
  ids.unitA = a.id
  ids.unitB = b.id
  await createUser('rega', 'regulator', { jurisdiction_id: ids.distA })
  await createUser('regb', 'regulator', { jurisdiction_id: ids.distB })
  await createUser('shopa', 'merchant', { unit_ids: [ids.unitA] })
  await createUser('shopb', 'merchant', { unit_ids: [ids.unitB] })
  const sup = async (who, unit_id, n) => {
    const r = await call(who, 'POST', '/api/v1/suppliers', {
      unit_id, name: '供应商' + n, uscc: uscc(300 + n), qualification_expires_on: day(300), file_ids: [],
    })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  ids.supA = await sup('shopa', ids.unitA, 1)
  ids.supA2 = await sup('shopa', ids.unitA, 3)
  ids.supB = await sup('shopb', ids.unitB, 2)
})

after(async () => {
  await srv?.stop()
  // end the broker session of this test's client id
  if (MQTT_URL) {
    const u = mqttUrl()
    spawnSync('mosquitto_sub', ['-h', u.hostname, '-p', u.port || '1883', '-i', MQTT_CLIENT, '-t', 'none', '-E'], { timeout: 5000 })
  }
})

// A placed order of unit A: 100 kg 大米 and 20 L 食用油 from supA.
async function placedOrder(who = 'shopa', unit_id = ids.unitA, supplier_id = ids.supA) {
  const o = await call(who, 'POST', '/api/v1/purchase-orders', {
    unit_id, supplier_id, requested_by: '王采购',
    lines: [{ item: '大米', quantity: 100, unit_of_measure: 'kg', unit_price: 5 }, { item: '食用油', quantity: 20, unit_of_measure: 'L', unit_price: 12 }],
  })
  assert.equal(o.status, 201, o.text)
  assert.equal((await call(who, 'POST', `/api/v1/purchase-orders/${o.json.id}/decision`, { approved: true, decided_by: '张经理' })).status, 200)
  const placed = await call(who, 'POST', `/api/v1/purchase-orders/${o.json.id}/order`)
  assert.equal(placed.json.state, 'ordered', placed.text)
  return o.json.id
}
const delivery = (extra) => ({
  unit_id: ids.unitA, supplier_id: ids.supA, item: '大米', quantity: 60, unit_of_measure: 'kg', produced_on: day(-1),
  shelf_life_days: 180, sensory_ok: true, file_ids: [], ...extra,
})

test('acceptance against a purchase order: mismatches flagged and warned, received vs ordered, fully received', async () => {
  const po = await placedOrder()
  // 60 of 100 kg: short of the outstanding 100 beyond 5 % → a quantity mismatch, 60 received
  const a1 = await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: po }))
  assert.equal(a1.status, 201, a1.text)
  assert.equal(a1.json.purchase_order_id, po)
  assert.equal(a1.json.purchase_line, 0, 'matched to the line of the same item')
  assert.deepEqual(a1.json.mismatches, [{ field: 'quantity', ordered: 100, delivered: 60 }])
  let order = (await call('rega', 'GET', `/api/v1/purchase-orders/${po}`)).json
  assert.deepEqual(order.lines.map((l) => [l.item, l.quantity, l.received_quantity, l.outstanding_quantity]),
    [['大米', 100, 60, 40], ['食用油', 20, 0, 20]])
  assert.equal(order.state, 'ordered')
  assert.equal(order.fully_received, false)

  // the rest of the rice, 41 kg (within 5 % of the outstanding 40): a match
  const a2 = await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: po, quantity: 41 }))
  assert.equal(a2.status, 201, a2.text)
  assert.deepEqual(a2.json.mismatches, [])
  // oil, in the wrong unit and from another supplier: flagged, not counted as received
  const a3 = await call('shopa', 'POST', '/api/v1/acceptances',
    delivery({ purchase_order_id: po, purchase_line: 1, item: '食用油', quantity: 20, unit_of_measure: 'kg', supplier_id: ids.supA2 }))
  assert.equal(a3.status, 201, a3.text)
  assert.deepEqual(a3.json.mismatches, [
    { field: 'unit_of_measure', ordered: 'L', delivered: 'kg' },
    { field: 'supplier_id', ordered: ids.supA, delivered: ids.supA2 },
  ])
  // an item the order does not have: flagged against the order's items
  const a4 = await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: po, item: '面粉', quantity: 5 }))
  assert.equal(a4.status, 201, a4.text)
  assert.deepEqual(a4.json.mismatches, [{ field: 'item', ordered: ['大米', '食用油'], delivered: '面粉' }])
  assert.equal(a4.json.purchase_line, null)
  // the wrong item on a named line
  const a5 = await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: po, purchase_line: 1, item: '花生油', quantity: 20, unit_of_measure: 'L' }))
  assert.deepEqual(a5.json.mismatches, [{ field: 'item', ordered: '食用油', delivered: '花生油' }])
  // a refused batch (sensory check failed) is not received
  const a6 = await call('shopa', 'POST', '/api/v1/acceptances',
    delivery({ purchase_order_id: po, item: '食用油', quantity: 20, unit_of_measure: 'L', sensory_ok: false }))
  assert.ok(a6.json.return_note_id)
  order = (await call('shopa', 'GET', `/api/v1/purchase-orders/${po}`)).json
  assert.deepEqual(order.lines.map((l) => l.received_quantity), [101, 0])
  assert.equal(order.state, 'ordered')

  // the oil as ordered: the order is fully received
  const a7 = await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: po, item: '食用油', quantity: 19.5, unit_of_measure: 'L' }))
  assert.deepEqual(a7.json.mismatches, [])
  order = (await call('shopa', 'GET', `/api/v1/purchase-orders/${po}`)).json
  assert.equal(order.state, 'received')
  assert.equal(order.fully_received, true)
  assert.ok(order.received_at)
  assert.deepEqual(order.lines.map((l) => [l.received_quantity, l.outstanding_quantity]), [[101, 0], [19.5, 0.5]])
  // nothing more is received against a received order
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: po, quantity: 1 })), 409, null, 'order fully received')

  // the mismatches warn (to the unit and its regulator), matched deliveries do not
  const warn = (await call('rega', 'GET', `/api/v1/operations/warnings?unit_id=${ids.unitA}&page_size=200`)).json.items
    .filter((w) => w.kind === 'acceptance_mismatch')
  assert.deepEqual(warn.map((w) => w.subject_id).sort(), [a1.json.id, a3.json.id, a4.json.id, a5.json.id].sort())
  assert.match(warn.find((w) => w.subject_id === a3.json.id).message, /unit_of_measure, supplier_id/)
  const got = await call('rega', 'GET', `/api/v1/acceptances/${a3.json.id}`)
  assert.deepEqual(got.json.mismatches, a3.json.mismatches, 'the record keeps its mismatches')
  const csv = await call('shopa', 'GET', `/api/v1/acceptances?format=csv`)
  assert.match(csv.text, /purchase_order_id/)
  await assertAlive('acceptance against an order')
})

test('acceptance against a purchase order: scope and bad input', async () => {
  const poA = await placedOrder()
  const poB = await placedOrder('shopb', ids.unitB, ids.supB)
  // another unit's order: not found for its reader, and not a reference an acceptance may name
  expectError(await call('shopa', 'GET', `/api/v1/purchase-orders/${poB}`), 404, null, "another unit's order")
  expectError(await call('regb', 'GET', `/api/v1/purchase-orders/${poA}`), 404, null, "an order outside the district")
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: poB })), 422, 'purchase_order_id',
    "another unit's order named")
  const before = (await call('shopb', 'GET', `/api/v1/purchase-orders/${poB}`)).json
  assert.deepEqual(before.lines.map((l) => l.received_quantity), [0, 0], "nothing received on B's order")
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: 'po_doesnotexist' })), 422, 'purchase_order_id', 'unknown order')
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: 'x y' })), 422, 'purchase_order_id', 'not an id')
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: 42 })), 422, 'purchase_order_id', 'not a string')
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: poA, purchase_line: 7 })), 422, 'purchase_line', 'no such line')
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: poA, purchase_line: -1 })), 422, 'purchase_line', 'negative line')
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: poA, purchase_line: 'first' })), 422, 'purchase_line', 'line not a number')
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_line: 0 })), 422, 'purchase_line', 'a line without an order')
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: poA, quantity: -5 })), 422, 'quantity', 'negative quantity')
  // an order not yet placed takes no delivery
  const req = await call('shopa', 'POST', '/api/v1/purchase-orders', {
    unit_id: ids.unitA, supplier_id: ids.supA, requested_by: '王', lines: [{ item: '盐', quantity: 1, unit_of_measure: 'kg', unit_price: 2 }],
  })
  expectError(await call('shopa', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: req.json.id, item: '盐', quantity: 1 })), 409, null,
    'an order only requested')
  expectError(await call('rega', 'POST', '/api/v1/acceptances', delivery({ purchase_order_id: poA })), 403, null, 'regulators read only')
  const order = (await call('shopa', 'GET', `/api/v1/purchase-orders/${poA}`)).json
  assert.deepEqual(order.lines.map((l) => l.received_quantity), [0, 0], 'refused requests received nothing')
  await assertAlive('acceptance bad input')
})

async function stocked(item, quantity, who = 'shopa', unit_id = ids.unitA, supplier_id = ids.supA) {
  const acc = await call(who, 'POST', '/api/v1/acceptances', {
    unit_id, supplier_id, item, quantity, unit_of_measure: 'kg', produced_on: day(-1), shelf_life_days: 90, sensory_ok: true, file_ids: [],
    batch_no: item + '-' + quantity,
  })
  assert.equal(acc.status, 201, acc.text)
  const b = await call(who, 'POST', '/api/v1/stock/in', { acceptance_id: acc.json.id })
  assert.equal(b.status, 201, b.text)
  return b.json.id
}

test('stock counts by batch: confirming adjusts the batches (count_adjustment), 409 when a batch moved since', async () => {
  const b1 = await stocked('面粉', 20)
  const b2 = await stocked('面粉', 10)
  const b3 = await stocked('白糖', 5)
  const c = await call('shopa', 'POST', '/api/v1/stock-counts', {
    unit_id: ids.unitA, counted_by: '赵盘点',
    lines: [{ batch_id: b1, counted_quantity: 18.5 }, { batch_id: b2, counted_quantity: 10 }, { batch_id: b3, counted_quantity: 6 }],
  })
  assert.equal(c.status, 201, c.text)
  assert.equal(c.json.state, 'open')
  assert.deepEqual(c.json.lines.map((l) => [l.batch_id, l.item, l.book_quantity, l.counted_quantity, l.difference]),
    [[b1, '面粉', 20, 18.5, -1.5], [b2, '面粉', 10, 10, 0], [b3, '白糖', 5, 6, 1]])
  assert.equal(c.json.differences, 2)
  // nothing changes before the count is confirmed
  const stockOf = async (who = 'shopa') => Object.fromEntries((await call(who, 'GET', `/api/v1/stock?unit_id=${ids.unitA}&page_size=200`)).json.items.map((b) => [b.id, b.remaining]))
  assert.equal((await stockOf())[b1], 20)

  expectError(await call('shopb', 'POST', `/api/v1/stock-counts/${c.json.id}/confirm`, { confirmed_by: '钱' }), 404, null, "another unit's count")
  expectError(await call('regb', 'POST', `/api/v1/stock-counts/${c.json.id}/confirm`, { confirmed_by: '钱' }), 404, null, 'outside the district')
  expectError(await call('rega', 'POST', `/api/v1/stock-counts/${c.json.id}/confirm`, { confirmed_by: '钱' }), 403, null, 'regulators read only')
  expectError(await call('shopa', 'POST', `/api/v1/stock-counts/${c.json.id}/confirm`, {}), 422, 'confirmed_by', 'who confirms')
  expectError(await call('shopa', 'POST', `/api/v1/stock-counts/${c.json.id}/confirm`, { confirmed_by: 'x'.repeat(33) }), 422, 'confirmed_by', 'long name')
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts/cnt_doesnotexist/confirm', { confirmed_by: '钱' }), 404, null, 'unknown count')

  const done = await call('shopa', 'POST', `/api/v1/stock-counts/${c.json.id}/confirm`, { confirmed_by: '钱经理' })
  assert.equal(done.status, 200, done.text)
  assert.equal(done.json.state, 'confirmed')
  assert.equal(done.json.confirmed_by, '钱经理')
  const after = await stockOf()
  assert.deepEqual([after[b1], after[b2], after[b3]], [18.5, 10, 6], 'the stock list is what was counted')
  const mv = await call('rega', 'GET', `/api/v1/stock/movements?unit_id=${ids.unitA}`)
  assert.equal(mv.status, 200, mv.text)
  assert.deepEqual(mv.json.items.map((m) => [m.batch_id, m.kind, m.quantity, m.remaining_after, m.ref_id]).sort(),
    [[b1, 'count_adjustment', -1.5, 18.5, c.json.id], [b3, 'count_adjustment', 1, 6, c.json.id]].sort())
  assert.equal((await call('regb', 'GET', '/api/v1/stock/movements')).json.total, 0, "another district's movements are not listed")
  const audit = await call(ADMIN.username, 'GET', `/api/v1/audit?action=stock_count.confirm`)
  assert.equal(audit.status, 200, audit.text)
  assert.ok(JSON.stringify(audit.json).includes(c.json.id), 'the confirmation is audited')
  expectError(await call('shopa', 'POST', `/api/v1/stock-counts/${c.json.id}/confirm`, { confirmed_by: '钱' }), 409, null, 'confirmed twice')
  // a stock-out takes what the count left (18.5 + 10 of 面粉)
  expectError(await call('shopa', 'POST', '/api/v1/stock/out', { unit_id: ids.unitA, item: '面粉', quantity: 29, department: '面点', receiver: '李', handler: '王' }),
    409, null, 'beyond the counted stock')

  // a batch that moved after it was counted: 409, nothing applied
  const c2 = await call('shopa', 'POST', '/api/v1/stock-counts', {
    unit_id: ids.unitA, counted_by: '赵', lines: [{ batch_id: b3, counted_quantity: 5 }, { batch_id: b1, counted_quantity: 18 }],
  })
  assert.equal(c2.status, 201, c2.text)
  const out = await call('shopa', 'POST', '/api/v1/stock/out', { unit_id: ids.unitA, item: '面粉', quantity: 1, department: '面点', receiver: '李', handler: '王' })
  assert.equal(out.status, 201, out.text)
  const stale = await call('shopa', 'POST', `/api/v1/stock-counts/${c2.json.id}/confirm`, { confirmed_by: '钱' })
  expectError(stale, 409, null, 'a batch changed since the count')
  assert.equal(stale.json.error.code, 'stock_changed')
  assert.equal((await stockOf())[b3], 6, 'the other line was not applied either')
  assert.equal((await call('shopa', 'GET', `/api/v1/stock-counts/${c2.json.id}`)).json.state, 'open')

  // an item count is recorded only
  const c3 = await call('shopa', 'POST', '/api/v1/stock-counts', { unit_id: ids.unitA, counted_by: '赵', lines: [{ item: '白糖', counted_quantity: 6 }] })
  assert.equal(c3.json.state, 'recorded')
  expectError(await call('shopa', 'POST', `/api/v1/stock-counts/${c3.json.id}/confirm`, { confirmed_by: '钱' }), 409, null, 'an item count')

  // bad input
  const bB = await stocked('面粉', 3, 'shopb', ids.unitB, ids.supB)
  const body = (lines) => ({ unit_id: ids.unitA, counted_by: '赵', lines })
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', body([{ batch_id: bB, counted_quantity: 1 }])), 422, 'lines[0].batch_id', "another unit's batch")
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', body([{ batch_id: 'stk_nope', counted_quantity: 1 }])), 422, 'lines[0].batch_id', 'unknown batch')
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', body([{ batch_id: b1, counted_quantity: 1 }, { batch_id: b1, counted_quantity: 2 }])), 422,
    'lines[1].batch_id', 'batch counted twice')
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', body([{ batch_id: b1, counted_quantity: 1 }, { item: '盐', counted_quantity: 2 }])), 422,
    'lines', 'batches and items mixed')
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', body([{ batch_id: b1, counted_quantity: -2 }])), 422, 'lines[0].counted_quantity', 'negative')
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', body([{ batch_id: b1, counted_quantity: 1e15 }])), 422, 'lines[0].counted_quantity', 'absurd')
  expectError(await call('shopa', 'POST', '/api/v1/stock-counts', body([{ batch_id: '<script>', counted_quantity: 1 }])), 422, 'lines[0].batch_id', 'hostile id')
  assert.equal((await stockOf())[b1], 17.5, 'refused counts changed nothing')
  await assertAlive('stock counts by batch')
})

test("a client unit's public page: today's menu with nutrition, allergens and ingredient origins (masked names), bad tokens", async () => {
  const school = await call(ADMIN.username, 'POST', '/api/v1/units', {
    name: '姑苏实验小学食堂', jurisdiction_id: ids.distA, store_type: 'school_canteen', licence_number: 'JY13205080054321', uscc: uscc(33),
  })
  assert.equal(school.status, 201, school.text)
  const schoolToken = (await call(ADMIN.username, 'GET', `/api/v1/units/${school.json.id}`)).json.disclosure_token
  const kitchenToken = (await call('shopa', 'GET', `/api/v1/units/${ids.unitA}`)).json.disclosure_token
  assert.ok(schoolToken && kitchenToken)
  const dish = async (name, nutrition, allergens) => {
    const r = await call('shopa', 'POST', '/api/v1/dishes', { unit_id: ids.unitA, name, ingredients: [{ item: '番茄', grams: 120 }], nutrition, allergens })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  const d1 = await dish('番茄炒蛋', { energy_kcal: 180.5, protein_g: 9, fat_g: 12, carbohydrate_g: 8, sodium_mg: 420 }, ['egg'])
  const d2 = await dish('白米饭', { energy_kcal: 230, protein_g: 4.5, fat_g: 0.5, carbohydrate_g: 51, sodium_mg: 2 }, [])
  const menu = (over) => ({ unit_id: ids.unitA, client_name: '姑苏实验小学', client_unit_id: school.json.id, day: day(0), meal: 'lunch', dish_ids: [d1, d2], ...over })
  const m = await call('shopa', 'POST', '/api/v1/menus', menu())
  assert.equal(m.status, 201, m.text)
  assert.equal(m.json.client_unit_id, school.json.id)
  assert.equal((await call('shopa', 'POST', '/api/v1/menus', menu({ day: day(1), meal: 'dinner' }))).status, 201, 'tomorrow: not on the page')
  assert.equal((await call('shopa', 'POST', '/api/v1/menus', menu({ client_unit_id: undefined, meal: 'breakfast', dish_ids: [d2] }))).status, 201,
    "the kitchen's own menu")
  // today's 番茄炒蛋 made from a stocked batch
  const acc = await call('shopa', 'POST', '/api/v1/acceptances', {
    unit_id: ids.unitA, supplier_id: ids.supA, item: '番茄', quantity: 10, unit_of_measure: 'kg', produced_on: day(-1), shelf_life_days: 7,
    sensory_ok: true, file_ids: [], batch_no: 'FQ-20261202', inspector: '王小明',
  })
  assert.equal((await call('shopa', 'POST', '/api/v1/stock/in', { acceptance_id: acc.json.id })).status, 201)
  const out = await call('shopa', 'POST', '/api/v1/stock/out', { unit_id: ids.unitA, item: '番茄', quantity: 3, department: '热菜', receiver: '李', handler: '王' })
  assert.equal(out.status, 201, out.text)
  const meal = await call('shopa', 'POST', '/api/v1/meal-batches', { unit_id: ids.unitA, dish: '番茄炒蛋', stock_out_ids: [out.json.id] })
  assert.equal(meal.status, 201, meal.text)

  const page = await fetch(`${srv.base}/public/units/${schoolToken}/menu`, { headers: { accept: 'application/json' } })
  assert.equal(page.status, 200)
  assert.match(page.headers.get('vary') ?? '', /Accept/)
  const pj = await page.json()
  assert.equal(pj.unit.name, '姑苏实验小学食堂')
  assert.equal(pj.day, day(0))
  assert.deepEqual(pj.menus.map((x) => [x.meal, x.kitchen.name]), [['lunch', '姑苏中央厨房']], "only today's menus kept for the school")
  const lunch = pj.menus[0]
  assert.deepEqual(lunch.nutrition, { energy_kcal: 410.5, protein_g: 13.5, fat_g: 12.5, carbohydrate_g: 59, sodium_mg: 422 })
  assert.deepEqual(lunch.allergens, ['egg'])
  assert.deepEqual(lunch.dishes.map((d) => [d.name, d.nutrition.energy_kcal, d.allergens]), [['番茄炒蛋', 180.5, ['egg']], ['白米饭', 230, []]])
  const [egg, rice] = lunch.dishes
  assert.equal(egg.trace_code, meal.json.trace_code)
  assert.deepEqual(egg.origins.map((o) => [o.item, o.batch_no, o.supplier.name, o.acceptance.sensory_ok]), [['番茄', 'FQ-20261202', '供应商1', true]])
  assert.notEqual(egg.origins[0].acceptance.inspector, '王小明', 'people are masked')
  assert.match(egg.origins[0].acceptance.inspector, /^王/)
  assert.deepEqual(rice.origins, [], 'no meal batch of the rice today')
  assert.ok(!/王小明|shopa|disclosure_token|unit_id/.test(JSON.stringify(pj)), 'no names or internal ids: ' + JSON.stringify(pj))
  // the kitchen's own page shows its own menu, not the school's
  const kj = await (await fetch(`${srv.base}/public/units/${kitchenToken}/menu`, { headers: { accept: 'application/json' } })).json()
  assert.deepEqual(kj.menus.map((x) => x.meal), ['breakfast'])
  // the page for people: the disclosure page's HTML when the web UI is built, else the JSON
  const html = await fetch(`${srv.base}/public/units/${schoolToken}/menu`, { headers: { accept: 'text/html' } })
  assert.equal(html.status, 200)
  assert.match(html.headers.get('content-type'), /text\/html|application\/json/)

  // bad tokens: 404 with a JSON error, the server stays up
  for (const t of ['nope', 'x'.repeat(300), '%2e%2e%2f%2e%2e%2fetc', "'%20OR%201=1--"]) {
    const r = await fetch(`${srv.base}/public/units/${t}/menu`, { headers: { accept: 'application/json' } })
    assert.equal(r.status, 404, `token ${t.slice(0, 20)}`)
    assert.ok((await r.json()).error?.code)
  }
  expectError(await call('shopa', 'POST', '/api/v1/menus', menu({ client_unit_id: 'unit_doesnotexist' })), 422, 'client_unit_id', 'unknown client unit')
  expectError(await call('shopa', 'POST', '/api/v1/menus', menu({ client_unit_id: '<b>' })), 422, 'client_unit_id', 'hostile client unit')
  expectError(await call('shopa', 'POST', '/api/v1/menus', menu({ client_unit_id: 7 })), 422, 'client_unit_id', 'not a string')
  await assertAlive('public menu')
})

test('a vehicle device bound to a delivery trip: its readings over MQTT become the track, judged against the route', async () => {
  const dev = async (unit_id, name) => {
    const r = await call(ADMIN.username, 'POST', '/api/v1/devices', { unit_id, name, kind: 'vehicle' })
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  const vehicle = await dev(ids.unitA, '苏E1234 车载温度GPS')
  const devB = await dev(ids.unitB, '虎丘车载')
  const tripBody = (extra) => ({
    unit_id: ids.unitA, client_name: '姑苏实验小学', destination: '学士街1号', vehicle_plate: '苏E1234', driver: '张师傅',
    containers: 2, portions: 80, dispatched_at: new Date(Date.now() - 30 * 60e3).toISOString(), ...extra,
  })
  const trip = async (who = 'shopa', unit_id = ids.unitA) => {
    const r = await call(who, 'POST', '/api/v1/delivery-trips', tripBody({ unit_id }))
    assert.equal(r.status, 201, r.text)
    return r.json.id
  }
  const id = await trip()
  // a route east along latitude 31.3, corridor 300 m, hot food 60–100 °C
  assert.equal((await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/route`, {
    points: [{ lat: 31.3, lng: 120.55 }, { lat: 31.3, lng: 120.65 }], corridor_m: 300, temp_min_c: 60, temp_max_c: 100,
  })).status, 200)
  // binding: scope, roles, bad input
  expectError(await call('shopb', 'PUT', `/api/v1/delivery-trips/${id}/vehicle-device`, { vehicle_device_id: devB }), 404, null, "another unit's trip")
  expectError(await call('rega', 'PUT', `/api/v1/delivery-trips/${id}/vehicle-device`, { vehicle_device_id: vehicle }), 403, null, 'regulators read only')
  expectError(await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/vehicle-device`, { vehicle_device_id: devB }), 422, 'vehicle_device_id', "another unit's device")
  expectError(await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/vehicle-device`, { vehicle_device_id: '../x' }), 422, 'vehicle_device_id', 'hostile id')
  expectError(await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/vehicle-device`, {}), 422, 'vehicle_device_id', 'no device_id')
  expectError(await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/vehicle-device`, { vehicle_device_id: vehicle, x: 1 }), 422, 'x', 'unknown field')
  const bound = await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/vehicle-device`, { vehicle_device_id: vehicle })
  assert.equal(bound.status, 200, bound.text)
  assert.equal(bound.json.vehicle_device_id, vehicle)
  const other = await trip()
  expectError(await call('shopa', 'PUT', `/api/v1/delivery-trips/${other}/vehicle-device`, { vehicle_device_id: vehicle }), 409, null, 'a device on two trips')
  expectError(await call('shopa', 'POST', '/api/v1/delivery-trips', tripBody({ vehicle_device_id: vehicle })), 409, null,
    'a trip dispatched with a device that is on the road')

  // the vehicle publishes over the broker: positions with temperature and humidity; point 2
  // drifts ~550 m north, point 3 cools to 50 °C; a fridge-like reading without a position is
  // not a track point; another unit's topic naming this device is refused
  const t0 = Date.now() - 10 * 60e3
  const topic = `mingchu/${ids.unitA}/${vehicle}/readings`
  const readings = [
    { lat: 31.3, lng: 120.56, temperature_c: 68, humidity_pct: 55 },
    { lat: 31.3005, lng: 120.58, temperature_c: 67, humidity_pct: 56 },
    { lat: 31.305, lng: 120.6, temperature_c: 66, humidity_pct: 56 },
    { lat: 31.3, lng: 120.62, temperature_c: 50, humidity_pct: 57 },
  ]
  readings.forEach((m, i) => publish(topic, { device_id: vehicle, at: new Date(t0 + i * 60e3).toISOString(), metrics: m }))
  publish(topic, { device_id: vehicle, at: new Date(t0 + 5 * 60e3).toISOString(), metrics: { temperature_c: 65 } })
  publish(`mingchu/${ids.unitB}/${vehicle}/readings`, { device_id: vehicle, at: new Date(t0 + 6 * 60e3).toISOString(), metrics: { lat: 0, lng: 0 } })
  let tr
  for (let i = 0; i < 100; i++) {
    tr = await call('rega', 'GET', `/api/v1/delivery-trips/${id}/track`)
    if (tr.json?.points?.length >= 4) break
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.equal(tr.status, 200, tr.text)
  assert.equal(tr.json.vehicle_device_id, vehicle)
  assert.deepEqual(tr.json.points.map((p) => [p.lat, p.lng, p.temperature_c, p.humidity_pct, p.off_route, p.out_of_range]), [
    [31.3, 120.56, 68, 55, false, false],
    [31.3005, 120.58, 67, 56, false, false],
    [31.305, 120.6, 66, 56, true, false],
    [31.3, 120.62, 50, 57, false, true],
  ])
  assert.deepEqual([tr.json.off_route, tr.json.out_of_range], [1, 1])
  const otherTrack = await call('shopa', 'GET', `/api/v1/delivery-trips/${other}/track`)
  assert.equal(otherTrack.json.points.length, 0, 'the unbound trip got nothing')
  const warn = (await call('rega', 'GET', `/api/v1/operations/warnings?unit_id=${ids.unitA}&page_size=200`)).json.items
  assert.deepEqual(warn.filter((w) => w.subject_id === id).map((w) => w.kind).sort(), ['delivery_off_route', 'delivery_temperature'])
  // the readings are the device's history too
  const latest = await call('rega', 'GET', `/api/v1/devices/${vehicle}/latest`)
  assert.equal(latest.status, 200, latest.text)

  // handed over: later readings are not the trip's; unbinding and rebinding a delivered trip is 409
  assert.equal((await call('shopa', 'POST', `/api/v1/delivery-trips/${id}/handover`, { received_by: '李老师', place: '学校食堂', portions: 80 })).status, 200)
  publish(topic, { device_id: vehicle, at: new Date(t0 + 7 * 60e3).toISOString(), metrics: { lat: 31.3, lng: 120.64, temperature_c: 64 } })
  for (let i = 0; i < 100; i++) {
    const l = await call('shopa', 'GET', `/api/v1/devices/${vehicle}/latest`)
    if (JSON.stringify(l.json).includes('120.64')) break
    await new Promise((r) => setTimeout(r, 100))
  }
  // the device is free for the next trip once the first is delivered
  const next = await call('shopa', 'PUT', `/api/v1/delivery-trips/${other}/vehicle-device`, { vehicle_device_id: vehicle })
  assert.equal(next.status, 200, next.text)
  publish(topic, { device_id: vehicle, at: new Date(t0 + 8 * 60e3).toISOString(), metrics: { lat: 31.3, lng: 120.645 } })
  let o2
  for (let i = 0; i < 100; i++) {
    o2 = await call('shopa', 'GET', `/api/v1/delivery-trips/${other}/track`)
    if (o2.json.points.length >= 1) break
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.deepEqual(o2.json.points.map((p) => p.lng), [120.645], 'a reading between the trips belongs to neither')
  assert.equal((await call('rega', 'GET', `/api/v1/delivery-trips/${id}/track`)).json.points.length, 4, 'the delivered trip keeps its track')
  expectError(await call('shopa', 'PUT', `/api/v1/delivery-trips/${id}/vehicle-device`, { vehicle_device_id: null }), 409, null, 'a delivered trip')
  const unbind = await call('shopa', 'PUT', `/api/v1/delivery-trips/${other}/vehicle-device`, { vehicle_device_id: null })
  assert.equal(unbind.json.vehicle_device_id, null)
  await assertAlive('vehicle tracks over MQTT')
})
