// The operations ledgers end to end (API.md "Operations"): suppliers, acceptance with its one
// automatic return note, stock in and out first-expiring-first, samples, delivery trips with
// hand-over, meal batches and the public traceability page; scope (another unit's records are
// 404, regulators read only), bad input naming the field, CSV export, expiry warnings through
// the manual clock, and a unit moving to another district taking its records along.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/operations.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'

import { ADMIN, api, assertServerAlive, expectError, login, startServer, uscc } from './lib.mjs'

let srv
const tok = {}
const ids = {}

const call = (who, method, path, body, headers) => api(srv.base, tok[who], method, path, body, headers)

/** Local date (UTC+8) `days` from the server's today, YYYY-MM-DD. */
let clockOffsetDays = 0
function day(days) {
  return new Date(Date.now() + 8 * 3600e3 + (days + clockOffsetDays) * 86400e3).toISOString().slice(0, 10)
}
/** RFC 3339 time `hours` from the server's now. */
function at(hours) {
  return new Date(Date.now() + (hours + clockOffsetDays * 24) * 3600e3).toISOString()
}
const passwords = {}
/** Moves the server's clock; sessions idle that long end, so everyone logs in again. */
async function advanceDays(n) {
  const r = await call(ADMIN.username, 'POST', '/api/v1/admin/clock', { advance_seconds: n * 86400 })
  assert.equal(r.status, 200, r.text)
  clockOffsetDays += n
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

const acceptance = (over = {}) => ({
  unit_id: ids.unitA,
  supplier_id: ids.supplierA,
  item: '大米',
  spec: '25kg/袋',
  quantity: 10,
  unit_of_measure: 'kg',
  batch_no: 'R-1',
  produced_on: day(-1),
  shelf_life_days: 30,
  sensory_ok: true,
  inspector: '李验收',
  file_ids: [],
  ...over,
})

before(async () => {
  srv = await startServer({ args: ['--manual-clock'] })
  tok.admin = await login(srv.base, ADMIN.username, ADMIN.password)
  passwords[ADMIN.username] = ADMIN.password
  const jur = async (parent_id, level, code, name) => {
    const r = await call(ADMIN.username, 'POST', '/api/v1/jurisdictions', { parent_id, level, code, name })
    assert.equal(r.status, 201, `jurisdiction ${code}: ${r.text}`)
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
    assert.equal(r.status, 201, `unit ${name}: ${r.text}`)
    return r.json.id
  }
  ids.unitA = await unit('崇川中央厨房', ids.distA, 11)
  ids.unitB = await unit('通州配餐中心', ids.distB, 12)
  await createUser('rega', 'regulator', { jurisdiction_id: ids.distA })
  await createUser('regb', 'regulator', { jurisdiction_id: ids.distB })
  await createUser('shopa', 'merchant', { unit_ids: [ids.unitA] })
  await createUser('shopb', 'merchant', { unit_ids: [ids.unitB] })
})

after(async () => {
  await srv?.stop()
})

test('suppliers: created by the unit, qualification status, scope, bad input', async () => {
  const body = {
    unit_id: ids.unitA, name: '南通粮油有限公司', uscc: uscc(100), licence_number: 'JY13206020099999',
    address: '南通市崇川区粮油路8号', contact_person: '赵经理', contact_phone: '13912345678',
    qualification_expires_on: day(20), file_ids: [],
  }
  const r = await call('shopa', 'POST', '/api/v1/suppliers', body)
  assert.equal(r.status, 201, r.text)
  assert.equal(r.json.qualification_status, 'expiring', 'expires within 30 days')
  ids.supplierA = r.json.id
  const b = await call('shopb', 'POST', '/api/v1/suppliers', { ...body, unit_id: ids.unitB, uscc: uscc(101),
    qualification_expires_on: day(400) })
  assert.equal(b.status, 201, b.text)
  assert.equal(b.json.qualification_status, 'valid')
  ids.supplierB = b.json.id

  expectError(await call('shopa', 'POST', '/api/v1/suppliers', { ...body, uscc: '91320602MA0000000X' }), 422, 'uscc',
    'bad USCC')
  expectError(await call('shopa', 'POST', '/api/v1/suppliers', { ...body, qualification_expires_on: '2026-02-30' }),
    422, 'qualification_expires_on', 'impossible date')
  expectError(await call('shopa', 'POST', '/api/v1/suppliers', { ...body, qualification_expires_on: '9999-01-01' }),
    422, 'qualification_expires_on', 'far-future date')
  expectError(await call('shopa', 'POST', '/api/v1/suppliers', { ...body, unit_id: ids.unitB }), 422, 'unit_id',
    'another unit')
  expectError(await call('shopa', 'POST', '/api/v1/suppliers', { ...body, extra: 1 }), 422, 'extra', 'unknown field')
  expectError(await call('shopa', 'POST', '/api/v1/suppliers', { ...body, file_ids: ['file_doesnotexist'] }), 422,
    'file_ids[0]', 'unknown file')
  expectError(await call('rega', 'POST', '/api/v1/suppliers', body), 403, null, 'regulators read only')
  expectError(await call('shopa', 'POST', '/api/v1/suppliers', '{"unit_id": '), 400, null, 'malformed JSON')
  expectError(await call('shopa', 'POST', '/api/v1/suppliers', { ...body, name: 'x'.repeat(200000) }), 413, null,
    'oversized body')

  assert.equal((await call('rega', 'GET', `/api/v1/suppliers/${ids.supplierA}`)).status, 200)
  expectError(await call('shopb', 'GET', `/api/v1/suppliers/${ids.supplierA}`), 404, null, "another unit's supplier")
  expectError(await call('regb', 'GET', `/api/v1/suppliers/${ids.supplierA}`), 404, null, 'outside the district')
  expectError(await call('shopa', 'GET', '/api/v1/suppliers/..%2F..%2Fetc'), 404, null, 'hostile id')
  const list = await call('shopa', 'GET', '/api/v1/suppliers')
  assert.deepEqual(list.json.items.map((s) => s.id), [ids.supplierA])
  const all = await call(ADMIN.username, 'GET', '/api/v1/suppliers')
  assert.equal(all.json.total, 2)
  await assertAlive('suppliers')
})

test('acceptance: a failed sensory check makes exactly one return note; bad quantities are 422', async () => {
  const ok = await call('shopa', 'POST', '/api/v1/acceptances', acceptance())
  assert.equal(ok.status, 201, ok.text)
  assert.equal(ok.json.return_note_id, null)
  assert.equal(ok.json.supplier_name, '南通粮油有限公司')
  ids.accOk = ok.json.id

  const bad = await call('shopa', 'POST', '/api/v1/acceptances',
    acceptance({ item: '猪肉', quantity: 5.5, batch_no: 'P-7', shelf_life_days: 3, sensory_ok: false,
      sensory_note: '色泽发暗，有异味' }))
  assert.equal(bad.status, 201, bad.text)
  assert.match(bad.json.return_note_id, /^rn_/)
  ids.accBad = bad.json.id
  const notes = await call('shopa', 'GET', '/api/v1/return-notes')
  const mine = notes.json.items.filter((n) => n.acceptance_id === ids.accBad)
  assert.equal(mine.length, 1, 'exactly one return note for the refused batch')
  assert.equal(mine[0].id, bad.json.return_note_id)
  assert.equal(mine[0].reason, 'sensory_check_failed')
  assert.equal(mine[0].quantity, 5.5)
  assert.equal(notes.json.total, 1, 'the accepted batch has none')
  // reading it again neither makes nor changes a note
  const again = await call('shopa', 'GET', `/api/v1/acceptances/${ids.accBad}`)
  assert.equal(again.json.return_note_id, bad.json.return_note_id)
  assert.equal((await call('shopa', 'GET', '/api/v1/return-notes')).json.total, 1)
  // a refused batch never goes into stock
  expectError(await call('shopa', 'POST', '/api/v1/stock/in', { acceptance_id: ids.accBad }), 409, null,
    'stock-in of a refused batch')

  for (const [over, field, what] of [
    [{ quantity: -5 }, 'quantity', 'negative quantity'],
    [{ quantity: 0 }, 'quantity', 'zero quantity'],
    [{ quantity: 1e12 }, 'quantity', 'absurd quantity'],
    [{ quantity: '10' }, 'quantity', 'quantity as text'],
    [{ shelf_life_days: 0 }, 'shelf_life_days', 'no shelf life'],
    [{ shelf_life_days: 1e9 }, 'shelf_life_days', 'absurd shelf life'],
    [{ produced_on: day(30) }, 'produced_on', 'produced in the future'],
    [{ produced_on: '2999-01-01' }, 'produced_on', 'far-future date'],
    [{ produced_on: 'yesterday' }, 'produced_on', 'not a date'],
    [{ accepted_at: at(24 * 365) }, 'accepted_at', 'accepted next year'],
    [{ sensory_ok: 'yes' }, 'sensory_ok', 'sensory_ok as text'],
    [{ supplier_id: ids.supplierB }, 'supplier_id', "another unit's supplier"],
    [{ item: '' }, 'item', 'empty item'],
    [{ item: '<script>alert(1)</script>\u0000' }, 'item', 'control characters'],
  ]) {
    expectError(await call('shopa', 'POST', '/api/v1/acceptances', acceptance(over)), 422, field, what)
  }
  expectError(await call('shopb', 'POST', '/api/v1/acceptances', acceptance()), 422, 'unit_id', 'merchant B for A')
  expectError(await call('shopb', 'GET', `/api/v1/acceptances/${ids.accOk}`), 404, null, "another unit's record")
  expectError(await call('rega', 'POST', '/api/v1/acceptances', acceptance()), 403, null, 'regulator writes')
  assert.equal((await call('shopa', 'GET', '/api/v1/acceptances')).json.total, 2, 'nothing stored by bad input')
  await assertAlive('acceptance')
})

test('stock: in once, out first-expiring-first, 409 beyond stock', async () => {
  // two more batches of rice: one expiring sooner than the first
  const soon = await call('shopa', 'POST', '/api/v1/acceptances',
    acceptance({ batch_no: 'R-0', quantity: 4, produced_on: day(-10), shelf_life_days: 15 }))
  const late = await call('shopa', 'POST', '/api/v1/acceptances',
    acceptance({ batch_no: 'R-2', quantity: 20, produced_on: day(0), shelf_life_days: 180 }))
  for (const a of [soon, late]) assert.equal(a.status, 201, a.text)
  const stocked = {}
  for (const [name, id] of [['R-1', ids.accOk], ['R-0', soon.json.id], ['R-2', late.json.id]]) {
    const r = await call('shopa', 'POST', '/api/v1/stock/in', { acceptance_id: id, location: '干货库 A-1' })
    assert.equal(r.status, 201, r.text)
    assert.equal(r.json.item, '大米')
    assert.equal(r.json.supplier_address, '南通市崇川区粮油路8号', 'supplier address recorded at stock-in')
    stocked[name] = r.json
  }
  assert.equal(stocked['R-0'].expires_on, day(4))
  expectError(await call('shopa', 'POST', '/api/v1/stock/in', { acceptance_id: ids.accOk }), 409, null,
    'second stock-in')
  expectError(await call('shopb', 'POST', '/api/v1/stock/in', { acceptance_id: ids.accOk }), 422, 'acceptance_id',
    "stock-in of another unit's batch")

  const out = await call('shopa', 'POST', '/api/v1/stock/out', {
    unit_id: ids.unitA, item: '大米', quantity: 7.25, department: '热厨', receiver: '王领料', handler: '陈库管',
  })
  assert.equal(out.status, 201, out.text)
  assert.deepEqual(out.json.batches.map((b) => [b.batch_no, b.quantity]), [['R-0', 4], ['R-1', 3.25]])
  ids.stockOut = out.json.id

  const tooMuch = await call('shopa', 'POST', '/api/v1/stock/out', {
    unit_id: ids.unitA, item: '大米', quantity: 26.76, department: '热厨', receiver: '王领料', handler: '陈库管',
  })
  expectError(tooMuch, 409, null, 'beyond stock')
  assert.equal(tooMuch.json.error.code, 'insufficient_stock')
  expectError(await call('shopa', 'POST', '/api/v1/stock/out', {
    unit_id: ids.unitA, item: '不存在的原料', quantity: 1, department: '热厨', receiver: '王', handler: '陈',
  }), 409, null, 'unknown item')
  expectError(await call('shopa', 'POST', '/api/v1/stock/out', {
    unit_id: ids.unitA, item: '大米', quantity: -1, department: '热厨', receiver: '王', handler: '陈',
  }), 422, 'quantity', 'negative stock-out')
  expectError(await call('shopa', 'POST', '/api/v1/stock/out', {
    unit_id: ids.unitA, item: '大米', quantity: 1, department: '热厨', receiver: '王',
  }), 422, 'handler', 'missing handler')

  const stock = await call('shopa', 'GET', `/api/v1/stock?unit_id=${ids.unitA}`)
  assert.equal(stock.status, 200)
  const rem = Object.fromEntries(stock.json.items.map((b) => [b.batch_no, b.remaining]))
  assert.deepEqual(rem, { 'R-1': 6.75, 'R-2': 20 }, 'the used-up batch is no longer listed')
  const everything = await call('shopa', 'GET', `/api/v1/stock?unit_id=${ids.unitA}&include_empty=true`)
  assert.equal(everything.json.total, 3)
  // exactly the remaining stock can be taken
  const rest = await call('shopa', 'POST', '/api/v1/stock/out', {
    unit_id: ids.unitA, item: '大米', quantity: 26.75, department: '冷菜', receiver: '刘', handler: '陈库管',
  })
  assert.equal(rest.status, 201, rest.text)
  assert.equal((await call('shopa', 'GET', `/api/v1/stock?unit_id=${ids.unitA}`)).json.total, 0)

  const outs = await call('rega', 'GET', `/api/v1/stock/outs?unit_id=${ids.unitA}`)
  assert.equal(outs.json.total, 2, 'the regulator reads the ledger')
  assert.equal((await call('regb', 'GET', '/api/v1/stock/outs')).json.total, 0, 'not outside the district')
  await assertAlive('stock')
})

test('expiry warnings follow the manual clock', async () => {
  const a = await call('shopa', 'POST', '/api/v1/acceptances',
    acceptance({ item: '牛奶', quantity: 12, unit_of_measure: '盒', batch_no: 'M-1', produced_on: day(-1),
      shelf_life_days: 6 }))
  assert.equal(a.status, 201, a.text)
  assert.equal(a.json.expires_on, day(4))
  const b = await call('shopa', 'POST', '/api/v1/stock/in', { acceptance_id: a.json.id })
  assert.equal(b.json.expiry_status, 'ok')
  const milk = async (q = '') =>
    (await call('shopa', 'GET', `/api/v1/stock?item=${encodeURIComponent('牛奶')}${q}`)).json
  assert.equal((await milk('&expiring_within_days=3')).total, 0)
  const warnings = async () =>
    (await call('shopa', 'GET', '/api/v1/operations/warnings')).json.items.filter((w) => w.subject_id === b.json.id)
  assert.deepEqual(await warnings(), [])

  await advanceDays(2)
  assert.equal((await milk()).items[0].expiry_status, 'expiring')
  assert.equal((await milk('&expiring_within_days=3')).total, 1)
  assert.deepEqual((await warnings()).map((w) => w.kind), ['stock_expiring'])
  // the regulator's view carries the same warning
  const regw = await call('rega', 'GET', '/api/v1/operations/warnings')
  assert.ok(regw.json.items.some((w) => w.subject_id === b.json.id))
  assert.ok(!(await call('regb', 'GET', '/api/v1/operations/warnings')).json.items.some((w) => w.subject_id === b.json.id))

  await advanceDays(3)
  assert.equal((await milk()).items[0].expiry_status, 'expired')
  assert.deepEqual((await warnings()).map((w) => w.kind), ['stock_expired'])
  const out = await call('shopa', 'POST', '/api/v1/stock/out', {
    unit_id: ids.unitA, item: '牛奶', quantity: 1, department: '早餐', receiver: '王', handler: '陈',
  })
  expectError(out, 409, null, 'an expired batch is never issued')
  assert.match(out.json.error.message, /expired/)
  // the supplier's qualification (20 days at the start) is now closer, still expiring
  const sup = await call('shopa', 'GET', `/api/v1/suppliers/${ids.supplierA}`)
  assert.equal(sup.json.qualification_status, 'expiring')
})

test('samples: at least 125 g and 48 h, temperatures and times checked', async () => {
  const good = { unit_id: ids.unitA, dish: '红烧肉', weight_g: 150, storage: '留样柜 1 号', fridge_temp_c: 4,
    kept_at: at(0), keeper: '王小明', dispose_after: at(49) }
  const r = await call('shopa', 'POST', '/api/v1/samples', good)
  assert.equal(r.status, 201, r.text)
  ids.sample = r.json.id
  for (const [over, field, what] of [
    [{ weight_g: 100 }, 'weight_g', 'under 125 g'],
    [{ weight_g: -150 }, 'weight_g', 'negative weight'],
    [{ weight_g: 9e9 }, 'weight_g', 'absurd weight'],
    [{ dispose_after: at(24) }, 'dispose_after', 'kept only 24 h'],
    [{ dispose_after: at(24 * 400) }, 'dispose_after', 'disposal next year'],
    [{ kept_at: at(24 * 3650), dispose_after: at(24 * 3652) }, 'kept_at', 'kept in ten years'],
    [{ kept_at: 'tomorrow' }, 'kept_at', 'not a time'],
    [{ fridge_temp_c: 500 }, 'fridge_temp_c', 'absurd temperature'],
    [{ fridge_temp_c: -273.16 }, 'fridge_temp_c', 'below absolute zero'],
    [{ fridge_device_id: 'dev_nothere' }, 'fridge_device_id', 'unknown device'],
  ]) {
    expectError(await call('shopa', 'POST', '/api/v1/samples', { ...good, ...over }), 422, field, what)
  }
  expectError(await call('shopa', 'POST', `/api/v1/samples/${ids.sample}/dispose`), 409, null, 'disposal before 48 h')
  expectError(await call('shopb', 'POST', `/api/v1/samples/${ids.sample}/dispose`), 404, null, "another unit's sample")
  assert.equal((await call('shopa', 'GET', '/api/v1/samples')).json.total, 1)
  await assertAlive('samples')
})

test('delivery trip, hand-over, meal batch and its public traceability page', async () => {
  // fresh stock for the meal
  const a = await call('shopa', 'POST', '/api/v1/acceptances',
    acceptance({ item: '五花肉', quantity: 8, batch_no: 'WH-88', produced_on: day(0), shelf_life_days: 5,
      inspector: '李验收' }))
  await call('shopa', 'POST', '/api/v1/stock/in', { acceptance_id: a.json.id })
  const out = await call('shopa', 'POST', '/api/v1/stock/out', {
    unit_id: ids.unitA, item: '五花肉', quantity: 6, department: '热厨', receiver: '王领料', handler: '陈库管',
  })
  assert.equal(out.status, 201, out.text)
  const sample = await call('shopa', 'POST', '/api/v1/samples', { unit_id: ids.unitA, dish: '红烧肉', weight_g: 130,
    kept_at: at(0), keeper: '王小明', dispose_after: at(48.5) })
  const trip = await call('shopa', 'POST', '/api/v1/delivery-trips', {
    unit_id: ids.unitA, client_name: '崇川实验小学', destination: '崇川区学堂路1号', vehicle_plate: '苏F12345',
    driver: '张师傅', containers: 6, portions: 300, dispatched_at: at(0), expected_at: at(1),
  })
  assert.equal(trip.status, 201, trip.text)
  assert.equal(trip.json.state, 'dispatched')
  expectError(await call('shopa', 'POST', '/api/v1/delivery-trips', { ...trip.json, id: undefined }), 422, null,
    'unknown fields of the answer')
  expectError(await call('shopa', 'POST', '/api/v1/delivery-trips', {
    unit_id: ids.unitA, client_name: 'x', destination: 'y', vehicle_plate: 'z', driver: 'd', containers: -1,
    portions: 1, dispatched_at: at(0),
  }), 422, 'containers', 'negative containers')

  const meal = await call('shopa', 'POST', '/api/v1/meal-batches', {
    unit_id: ids.unitA, dish: '红烧肉', stock_out_ids: [out.json.id], sample_id: sample.json.id,
    delivery_id: trip.json.id,
  })
  assert.equal(meal.status, 201, meal.text)
  assert.match(meal.json.trace_code, /^MB[2-9A-HJ-NP-Z]{16}$/)
  ids.meal = meal.json.id
  ids.trace = meal.json.trace_code
  expectError(await call('shopb', 'POST', '/api/v1/meal-batches', {
    unit_id: ids.unitB, dish: '红烧肉', stock_out_ids: [out.json.id],
  }), 422, 'stock_out_ids[0]', "another unit's stock-out")
  expectError(await call('shopa', 'POST', '/api/v1/meal-batches', {
    unit_id: ids.unitA, dish: '红烧肉', stock_out_ids: [],
  }), 422, 'stock_out_ids', 'no ingredients')
  expectError(await call('shopb', 'GET', `/api/v1/meal-batches/${ids.meal}`), 404, null, "another unit's meal")

  // hand-over by the receiving unit
  expectError(await call('shopa', 'POST', `/api/v1/delivery-trips/${trip.json.id}/handover`, {
    received_by: '刘老师', place: '学校食堂', portions: 301 }), 422, 'portions', 'more than dispatched')
  expectError(await call('shopa', 'POST', `/api/v1/delivery-trips/${trip.json.id}/handover`, {
    received_by: '刘老师', place: '学校食堂', portions: 300, temperature_c: 900 }), 422, 'temperature_c',
  'absurd temperature')
  const ho = await call('shopa', 'POST', `/api/v1/delivery-trips/${trip.json.id}/handover`, {
    received_by: '刘老师', place: '学校食堂', portions: 300, temperature_c: 65.5 })
  assert.equal(ho.status, 200, ho.text)
  assert.equal(ho.json.state, 'delivered')
  expectError(await call('shopa', 'POST', `/api/v1/delivery-trips/${trip.json.id}/handover`, {
    received_by: '刘老师', place: '学校食堂', portions: 300 }), 409, null, 'second hand-over')

  // the public page: no login, JSON with Accept, masked names, the whole chain
  const pub = await api(srv.base, null, 'GET', `/public/trace/${ids.trace}`, undefined, { accept: 'application/json' })
  assert.equal(pub.status, 200, pub.text)
  const t = pub.json
  assert.equal(t.dish, '红烧肉')
  assert.equal(t.unit.name, '崇川中央厨房')
  assert.equal(t.ingredients.length, 1)
  assert.equal(t.ingredients[0].item, '五花肉')
  assert.equal(t.ingredients[0].batch.batch_no, 'WH-88')
  assert.equal(t.ingredients[0].supplier.name, '南通粮油有限公司')
  assert.equal(t.ingredients[0].acceptance.inspector, '李**')
  assert.equal(t.ingredients[0].issued_by, '陈**')
  assert.equal(t.sample.keeper, '王**')
  assert.equal(t.delivery.driver, '张**')
  assert.equal(t.delivery.handover.received_by, '刘**')
  assert.ok(!pub.text.includes('王小明') && !pub.text.includes('张师傅') && !pub.text.includes('刘老师'),
    'no full names on the public page')
  assert.ok(!pub.text.includes('13912345678'), 'no supplier contact phone on the public page')

  const html = await api(srv.base, null, 'GET', `/public/trace/${ids.trace}`, undefined, { accept: 'text/html' })
  assert.equal(html.status, 200)
  assert.match(html.headers.get('content-type'), /text\/html/)
  assert.ok(html.text.includes('红烧肉') && html.text.includes('南通粮油有限公司') && html.text.includes('王**'))
  assert.ok(!html.text.includes('王小明'))

  expectError(await api(srv.base, null, 'GET', '/public/trace/MBNOSUCHCODE', undefined,
    { accept: 'application/json' }), 404, null, 'unknown trace code')
  expectError(await api(srv.base, null, 'GET', '/public/trace/%3Cscript%3E', undefined,
    { accept: 'application/json' }), 404, null, 'hostile trace code')
  expectError(await api(srv.base, null, 'GET', `/public/trace/${'A'.repeat(5000)}`, undefined,
    { accept: 'application/json' }), 404, null, 'oversized trace code')
  await assertAlive('trace')
})

test('process, after-meal, people, equipment and lab ledgers: fields checked, abnormal records warned', async () => {
  const post = (who, ledger, body) => call(who, 'POST', `/api/v1/${ledger}`, { unit_id: ids.unitA, ...body })
  const hot = await post('shopa', 'process-records', { kind: 'core_temperature', dish: '红烧肉', temperature_c: 82.5,
    operator: '赵厨师' })
  assert.equal(hot.status, 201, hot.text)
  assert.equal(hot.json.abnormal, false)
  assert.equal(hot.json.temperature_c, 82.5)
  const cold = await post('shopa', 'process-records', { kind: 'core_temperature', dish: '炒鸡蛋', temperature_c: 61,
    operator: '赵厨师' })
  assert.equal(cold.json.abnormal, true, 'under 70 °C')
  const fever = await post('shopa', 'morning-checks', { staff_name: '孙帮厨', temperature_c: 38.2, hands_ok: true })
  assert.equal(fever.status, 201, fever.text)
  assert.equal(fever.json.abnormal, true)
  assert.equal(fever.json.kind, 'morning_check', 'a ledger with one kind needs no kind')
  const well = await post('shopa', 'morning-checks', { staff_name: '周帮厨', temperature_c: 36.5, hands_ok: true })
  assert.equal(well.json.abnormal, false)
  for (const [ledger, body, field, what] of [
    ['process-records', { kind: 'core_temperature', dish: 'x', temperature_c: 500, operator: 'y' }, 'temperature_c',
      'absurd temperature'],
    ['process-records', { kind: 'core_temperature', dish: 'x', temperature_c: '80', operator: 'y' }, 'temperature_c',
      'temperature as text'],
    ['process-records', { kind: 'nope', dish: 'x' }, 'kind', 'unknown kind'],
    ['process-records', { dish: 'x' }, 'kind', 'missing kind'],
    ['process-records', { kind: 'core_temperature', dish: 'x', temperature_c: 80, operator: 'y', hack: 1 }, 'hack',
      'unknown field'],
    ['process-records', { kind: 'cooling', dish: 'x', start_temp_c: 80, end_temp_c: 5, started_at: at(-1),
      ended_at: at(-3), operator: 'y' }, 'ended_at', 'cooling ends before it starts'],
    ['process-records', { kind: 'core_temperature', dish: 'x', temperature_c: 80, operator: 'y', at: at(24 * 400) },
      'at', 'dated next year'],
    ['morning-checks', { staff_name: '孙', temperature_c: 60, hands_ok: true }, 'temperature_c', 'absurd body temp'],
    ['morning-checks', { staff_name: '孙', temperature_c: 36.5 }, 'hands_ok', 'missing hands check'],
    ['after-meal-records', { kind: 'kitchen_waste', waste_kind: 'food_waste', quantity_kg: -3, collector: 'c',
      collector_licence: 'L1', handler: 'h' }, 'quantity_kg', 'negative waste'],
    ['after-meal-records', { kind: 'tableware_disinfection', method: 'magic', items: 10, cycles: 1, duration_min: 15,
      operator: 'o' }, 'method', 'unknown method'],
    ['trainings', { kind: 'exam', staff_name: 's', course: 'c', score: 101 }, 'score', 'score over 100'],
    ['trainings', { kind: 'exam', staff_name: 's', course: 'c', score: 90, certificate_expires_on: '2999-01-01' },
      'certificate_expires_on', 'far-future certificate'],
    ['equipment-records', { equipment: '冷库', action: 'explode', performed_by: 'x' }, 'action', 'unknown action'],
    ['self-inspections', { inspector: '钱', items: [] }, 'items', 'empty checklist'],
    ['self-inspections', { inspector: '钱', items: [{ item: '地面清洁' }] }, 'items[0].ok', 'item without result'],
  ]) {
    expectError(await post('shopa', ledger, body), 422, field, `${ledger}: ${what}`)
  }
  expectError(await post('rega', 'morning-checks', { staff_name: '孙', temperature_c: 36.5, hands_ok: true }), 403,
    null, 'regulators read only')
  expectError(await call('shopb', 'POST', '/api/v1/morning-checks', { unit_id: ids.unitA, staff_name: '孙',
    temperature_c: 36.5, hands_ok: true }), 422, 'unit_id', "another unit's ledger")
  expectError(await call('shopb', 'GET', `/api/v1/morning-checks/${fever.json.id}`), 404, null, "another unit's record")
  expectError(await call('shopa', 'GET', `/api/v1/process-records/${fever.json.id}`), 404, null, 'wrong ledger')
  assert.equal((await call('rega', 'GET', `/api/v1/morning-checks/${fever.json.id}`)).status, 200)

  const abnormal = await call('shopa', 'GET', '/api/v1/process-records?abnormal=true')
  assert.deepEqual(abnormal.json.items.map((r) => r.id), [cold.json.id])
  const w = (await call('rega', 'GET', '/api/v1/operations/warnings')).json.items
  assert.ok(w.some((x) => x.subject_id === fever.json.id && x.kind === 'morning_check_abnormal'))
  assert.ok(w.some((x) => x.subject_id === cold.json.id && x.kind === 'core_temperature_abnormal'))
  assert.ok(!w.some((x) => x.subject_id === well.json.id))
  const kinds = await call('shopa', 'GET', '/api/v1/ledger-kinds')
  assert.ok(kinds.json.items.some((k) => k.kind === 'additive_use' && k.fields.some((f) => f.name === 'gb2760_ref')))
  await assertAlive('ledgers')
})

test('a failed self-inspection becomes a class-3 self_check_failed alert in the rectification loop', async () => {
  const passed = await call('shopa', 'POST', '/api/v1/self-inspections', { unit_id: ids.unitA, inspector: '钱主管',
    items: [{ item: '地面清洁', ok: true }, { item: '生熟分开', ok: true }] })
  assert.equal(passed.status, 201, passed.text)
  assert.equal(passed.json.alert_id, null)
  const failed = await call('shopa', 'POST', '/api/v1/self-inspections', { unit_id: ids.unitA, inspector: '钱主管',
    items: [{ item: '地面清洁', ok: true }, { item: '冷藏柜温度', ok: false, note: '显示 12 °C' }] })
  assert.equal(failed.status, 201, failed.text)
  assert.equal(failed.json.abnormal, true)
  assert.match(failed.json.alert_id, /\S+/)
  for (const who of ['shopa', 'rega']) {
    const a = await call(who, 'GET', `/api/v1/alerts/${failed.json.alert_id}`)
    assert.equal(a.status, 200, `${who}: ${a.text}`)
    const alert = a.json.alert ?? a.json
    assert.equal(alert.type, 'self_check_failed')
    assert.equal(alert.risk_class, 3)
    assert.equal(alert.unit_id, ids.unitA)
  }
  expectError(await call('regb', 'GET', `/api/v1/alerts/${failed.json.alert_id}`), 404, null, 'other district')
  // the merchant's inbox got it (dual push)
  const inbox = await call('shopa', 'GET', '/api/v1/notifications')
  assert.ok(JSON.stringify(inbox.json).includes(failed.json.alert_id), 'the unit was told')
})

test('every ledger list filters and exports CSV', async () => {
  for (const path of ['/api/v1/suppliers', '/api/v1/acceptances', '/api/v1/return-notes', '/api/v1/stock',
    '/api/v1/stock/outs', '/api/v1/samples', '/api/v1/delivery-trips', '/api/v1/meal-batches',
    '/api/v1/operations/warnings', '/api/v1/process-records', '/api/v1/after-meal-records', '/api/v1/morning-checks',
    '/api/v1/trainings', '/api/v1/equipment-records', '/api/v1/lab-tests', '/api/v1/self-inspections']) {
    const j = await call('rega', 'GET', `${path}?unit_id=${ids.unitA}`)
    assert.equal(j.status, 200, `${path}: ${j.text}`)
    const c = await call('rega', 'GET', `${path}?unit_id=${ids.unitA}&format=csv`)
    assert.equal(c.status, 200, `${path} csv: ${c.text}`)
    assert.match(c.headers.get('content-type'), /text\/csv/)
    const lines = c.text.replace(/^\uFEFF/, '').split('\r\n').filter(Boolean)
    if (j.json.total > 0) {
      assert.equal(lines.length, j.json.total + 1, `${path}: header + one line per record`)
      assert.ok(lines[0].split(',').includes('unit_id'), `${path}: header`)
    }
    expectError(await call('rega', 'GET', `${path}?from=notadate`), 422, 'from', `${path} bad from`)
    expectError(await call('rega', 'GET', `${path}?unit_id=..%2F`), 422, 'unit_id', `${path} bad unit_id`)
    expectError(await call('rega', 'GET', `${path}?format=xlsx`), 422, 'format', `${path} bad format`)
    const other = await call('regb', 'GET', `${path}?unit_id=${ids.unitA}`)
    assert.equal(other.json.total, 0, `${path}: nothing of unit A for the other district`)
    assert.equal((await api(srv.base, null, 'GET', path)).status, 401, `${path} without login`)
  }
  // a time window: nothing is dated next year
  const next = await call('shopa', 'GET', `/api/v1/acceptances?from=${encodeURIComponent(at(24 * 365))}`)
  assert.equal(next.json.total, 0)
  const csv = await call('shopa', 'GET', '/api/v1/acceptances?format=csv')
  assert.ok(csv.text.includes('色泽发暗，有异味'), 'Chinese text survives the export')
})

test('a unit moving to another district takes its ledgers along', async () => {
  const before = (await call('regb', 'GET', '/api/v1/acceptances')).json.total
  assert.equal(before, 0)
  const mv = await call(ADMIN.username, 'PATCH', `/api/v1/units/${ids.unitA}`, { jurisdiction_id: ids.distB })
  assert.equal(mv.status, 200, mv.text)
  assert.ok((await call('regb', 'GET', '/api/v1/acceptances')).json.total > 0, 'the new district sees them')
  assert.equal((await call('rega', 'GET', '/api/v1/acceptances')).json.total, 0, 'the old one no longer does')
  assert.equal((await call('regb', 'GET', `/api/v1/meal-batches/${ids.meal}`)).status, 200)
  expectError(await call('rega', 'GET', `/api/v1/meal-batches/${ids.meal}`), 404, null, 'old district')
  // the public page does not depend on the district
  const pub = await api(srv.base, null, 'GET', `/public/trace/${ids.trace}`, undefined, { accept: 'application/json' })
  assert.equal(pub.status, 200)
  await call(ADMIN.username, 'PATCH', `/api/v1/units/${ids.unitA}`, { jurisdiction_id: ids.distA })
})
