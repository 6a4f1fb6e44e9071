#!/usr/bin/env node
// Gzipped first-load size of each entry, measured by loading the page in Chromium against
// the dev mock (dev/mock-api.mjs on :8787) and gzipping every dist file it fetched.
import { createRequire } from 'node:module'
import fs from 'node:fs'
import zlib from 'node:zlib'
import path from 'node:path'
const require = createRequire(new URL('../../tests/package.json', import.meta.url))
const { chromium } = require('playwright-core')
const BASE = process.argv[2] ?? 'http://127.0.0.1:8787'
const DIST = new URL('../dist/', import.meta.url).pathname
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless=new', '--no-sandbox', '--disable-gpu'] })
const token = (await (await fetch(BASE + '/api/v1/auth/login', { method: 'POST', body: JSON.stringify({ username: 'admin', password: 'Platform@2026!' }) })).json()).token
const unit = await (await fetch(BASE + '/api/v1/units/u001', { headers: { Authorization: 'Bearer ' + token } })).json()
for (const [name, url, wait] of [
  ['console (login page)', '/#/login', '[data-test=login-card]'],
  ['kitchen app /m/ (login page)', '/m/#/login', '[data-test=m-login]'],
  ['public page', '/public/units/' + unit.disclosure_token, '[data-test=public-unit-name]'],
]) {
  const page = await browser.newPage()
  const files = new Set()
  page.on('request', (r) => {
    const u = new URL(r.url())
    if (u.pathname.startsWith('/assets/')) files.add(u.pathname)
    else if (r.resourceType() === 'document') files.add(u.pathname.startsWith('/public/') ? '/public/index.html' : u.pathname.endsWith('/') ? u.pathname + 'index.html' : u.pathname)
  })
  await page.goto(BASE + url)
  await page.waitForSelector(wait)
  await page.waitForTimeout(500)
  let raw = 0
  let gz = 0
  const by = { js: 0, css: 0, html: 0 }
  for (const f of files) {
    const p = path.join(DIST, f)
    if (!fs.existsSync(p)) continue
    const b = fs.readFileSync(p)
    const g = zlib.gzipSync(b, { level: 9 }).length
    raw += b.length
    gz += g
    by[path.extname(f).slice(1)] = (by[path.extname(f).slice(1)] ?? 0) + g
  }
  console.log(`${name}: ${files.size} files, ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzip (js ${(by.js / 1024).toFixed(1)}, css ${(by.css / 1024).toFixed(1)})`)
  await page.close()
}
await browser.close()
