// Nothing lost, on SQLite (WAL, synchronous=FULL, group commit): events are sent by many
// concurrent senders, the server is killed with SIGKILL at a random moment, restarted on the
// same data, and every event that was answered 202 must be stored exactly once — ten kill
// points. The PostgreSQL twin is nothing_lost_pg.test.mjs.
//
//   MINGCHU_BIN=build/mingchu node --test tests/api/nothing_lost.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'

import { startServer } from './lib.mjs'
import { nothingLost } from './alerts_lib.mjs'

test('every acknowledged event survives SIGKILL exactly once (SQLite, 10 kill points)', { timeout: 240000 }, async (t) => {
  const stats = await nothingLost({ startServer, cycles: 10, log: (m) => t.diagnostic(m) })
  t.diagnostic(JSON.stringify(stats))
  assert.equal(stats.kills, 10)
  assert.ok(stats.acked > 100, `enough events were acknowledged to mean something: ${stats.acked}`)
})
