// Operations, the third part (issue 11): deliveries accepted against their purchase order
// (mismatches flagged and warned, received vs ordered, fully received), stock counts by batch
// that adjust the stock when confirmed (count_adjustment movements, 409 when a batch moved
// since it was counted); scope (another unit's records), bad input naming the field.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/operations_orders.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'

import { ADMIN, api, login, startServer, uscc } from './lib.mjs'

let srv
const tok = {}
const ids = {}
const call = (who, method, path, body, headers) => api(srv.base, tok[who], method, path, body, headers)
const day = (days) => new Date(Date.now() + 8 * 3600e3 + days * 86400e3).toISOString().slice(0, 10)

function expectError(r, status, field, context) {
  assert.equal(r.status, status, `${context}: expected ${status}, got ${r.status} ${r.text}`)
  assert.ok(r.json?.error?.code, `${context}: error body has a code: ${r.text}`)
  if (field) assert.equal(r.json.error.field, field, `${context}: error names the field: ${r.text}`)
}
async function assertAlive(context) {
  assert.ok(srv.alive(), `server died after ${context}:\n${srv.log()}`)
  assert.equal((await fetch(srv.base + '/healthz')).status, 200, `healthz after ${context}`)
}
async function createUser(username, role, extra) {
  const password = 'Pw@2026!' + username.slice(0, 2).toUpperCase() + 'q'
  const r = await call(ADMIN.username, 'POST', '/api/v1/users', { username, password, display_name: username, role, ...extra })
  assert.equal(r.status, 201, `create user ${username}: ${r.text}`)
  tok[username] = await login(srv.base, username, password)
}

before(async () => {
  srv = await startServer({})
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
