#!/usr/bin/env node
// First load of each web entry, measured in Debian's Chromium against a real `mingchu serve
// --demo`: gzipped bytes of every file the page fetched until it rendered, and the time to
// first contentful paint and to the entry's main element, beside an empty HTML page loaded the
// same way in the same browser (the baseline, for a ratio that survives a noisy machine).
//   usage: node bench/web_first_load.mjs            (needs build/mingchu and web/dist)
import { createRequire } from 'node:module'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import net from 'node:net'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')
const require = createRequire(path.join(root, 'tests/package.json'))
const { chromium } = require('playwright-core')
const port = await new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)) }) })
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'mingchu-web-'))
const srv = spawn(path.join(root, 'build/mingchu'), ['serve', '--demo', '--data', data, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { cwd: root, stdio: 'ignore' })
const base = `http://127.0.0.1:${port}`
for (let i = 0; i < 300; i++) { try { if ((await fetch(base + '/healthz')).ok) break } catch {} await new Promise((r) => setTimeout(r, 100)) }
const login = async (u, p) => (await (await fetch(base + '/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: u, password: p }) })).json()).token
const mt = await login('merchant', 'Kitchen@2026!')
const me = await (await fetch(base + '/api/v1/me', { headers: { authorization: 'Bearer ' + mt } })).json()
const unit = await (await fetch(base + '/api/v1/units/' + me.unit_ids[0], { headers: { authorization: 'Bearer ' + mt } })).json()
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] })
const RUNS = 5
async function measure(url, selector) {
  const times = [], fcps = []
  let bytes = 0
  for (let run = 0; run < RUNS; run++) {
    const ctx = await browser.newContext()   // a fresh cache every run: a true first load
    const page = await ctx.newPage()
    const fetched = new Map()
    page.on('response', async (r) => { try { if (r.url().startsWith(base)) fetched.set(r.url(), (await r.body()).length ? zlib.gzipSync(await r.body()).length : 0) } catch {} })
    const t0 = Date.now()
    await page.goto(url)
    await page.waitForSelector(selector)
    times.push(Date.now() - t0)
    fcps.push(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN))
    await page.waitForTimeout(300)
    bytes = [...fetched.entries()].filter(([u]) => !u.includes('/api/')).reduce((a, [, n]) => a + n, 0)
    await ctx.close()
  }
  const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)]
  return { ms: med(times), fcp: med(fcps), kib: bytes / 1024 }
}
const empty = await measure(base + '/healthz', 'body')
const rows = [
  ['console /#/login', await measure(base + '/#/login', '[data-test=login-card]')],
  ['kitchen app /m/#/login', await measure(base + '/m/#/login', '[data-test=m-login]')],
  ['public page /public/units/…', await measure(base + '/public/units/' + unit.disclosure_token, '[data-test=public-unit-name]')],
]
console.log(`\n${'entry'.padEnd(30)} ${'gzip KiB'.padStart(9)} ${'FCP ms'.padStart(8)} ${'ready ms'.padStart(9)} ${'ready / empty page'.padStart(19)}`)
for (const [name, r] of rows) console.log(`${name.padEnd(30)} ${r.kib.toFixed(1).padStart(9)} ${r.fcp.toFixed(0).padStart(8)} ${String(r.ms).padStart(9)} ${(r.ms / empty.ms).toFixed(2).padStart(19)}`)
console.log(`${'baseline: /healthz (no assets)'.padEnd(30)} ${empty.kib.toFixed(1).padStart(9)} ${String(isNaN(empty.fcp) ? '-' : empty.fcp.toFixed(0)).padStart(8)} ${String(empty.ms).padStart(9)} ${'1.00'.padStart(19)}`)
await browser.close()
srv.kill('SIGTERM')
fs.rmSync(data, { recursive: true, force: true })
