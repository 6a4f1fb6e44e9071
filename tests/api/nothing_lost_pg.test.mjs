// Nothing lost, on PostgreSQL (synchronous_commit=on, group commit): as nothing_lost.test.mjs,
// against a fresh schema of $MINGCHU_TEST_PG (skipped without it).
//
//   MINGCHU_BIN=build/mingchu MINGCHU_TEST_PG=postgresql://… node --test tests/api/nothing_lost_pg.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'

import { startServer } from './lib.mjs'
import { dropPgSchema, nothingLost, pgSchemaUrl } from './alerts_lib.mjs'

const pg = process.env.MINGCHU_TEST_PG

test('every acknowledged event survives SIGKILL exactly once (PostgreSQL, 10 kill points)',
  { timeout: 240000, skip: pg ? false : 'MINGCHU_TEST_PG is not set' }, async (t) => {
    const { url, schema } = pgSchemaUrl('nothing_lost')
    try {
      const stats = await nothingLost({ startServer, env: { MINGCHU_DB: url }, cycles: 10, log: (m) => t.diagnostic(m) })
      t.diagnostic(JSON.stringify(stats))
      assert.equal(stats.kills, 10)
      assert.ok(stats.acked > 100, `enough events were acknowledged to mean something: ${stats.acked}`)
    } finally {
      dropPgSchema(schema)
    }
  })
