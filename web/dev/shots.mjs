#!/usr/bin/env node
// Development helper: screenshots of every page against the mock API (dev/mock-api.mjs).
//   node dev/mock-api.mjs --tick 0 &  node dev/shots.mjs [base] [outdir]
import { createRequire } from 'node:module'
import fs from 'node:fs'
const require = createRequire(new URL('../../tests/package.json', import.meta.url))
const { chromium } = require('playwright-core')

const BASE = process.argv[2] ?? 'http://127.0.0.1:8787'
const OUT = process.argv[3] ?? '/tmp/shots'
const ONLY = process.env.ONLY
fs.mkdirSync(OUT, { recursive: true })
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
const errors = []
async function ctx(viewport, extra = {}) {
  const c = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...extra })
  c.on('page', (p) => {
    p.on('pageerror', (e) => errors.push(`${p.url()}: ${e.message}`))
    p.on('console', (m) => m.type() === 'error' && errors.push(`${p.url()}: console ${m.text()}`))
  })
  return c
}
const shot = async (page, name) => {
  if (ONLY && !name.includes(ONLY)) return
  await page.waitForTimeout(700)
  await page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true })
  console.log('shot', name)
}

// console
const c1 = await ctx({ width: 1366, height: 768 })
const p = await c1.newPage()
await p.goto(BASE + '/#/login')
await p.waitForSelector('[data-test=login-card]')
await shot(p, 'c-login')
await p.fill('input[data-test=login-username], [data-test=login-username] input', 'district_reg')
await p.fill('input[data-test=login-password], [data-test=login-password] input', 'wrong')
await p.click('[data-test=login-submit]')
await p.waitForSelector('[data-test=login-error]')
await shot(p, 'c-login-error')
await p.fill('input[data-test=login-password], [data-test=login-password] input', 'Regulator@2026!')
await p.click('[data-test=login-submit]')
await p.waitForSelector('[data-test=stat-units]')
await shot(p, 'c-dashboard')
for (const [route, sel, name] of [
  ['/alerts', '[data-test=alert-row]', 'c-alerts'],
  ['/units', '[data-test=unit-row]', 'c-units'],
  ['/units/u001', '[data-test=unit-qr]', 'c-unit-form'],
  ['/units/new', '[data-test=unit-name]', 'c-unit-new'],
  ['/cameras', '[data-test=cameras-table]', 'c-cameras'],
  ['/staff', '[data-test=staff-table]', 'c-staff'],
  ['/health-certs', '[data-test=certs-page]', 'c-certs'],
  ['/users', '[data-test=users-table]', 'c-users'],
  ['/audit', '[data-test=audit-table]', 'c-audit'],
  ['/complaints', '[data-test=complaints-table]', 'c-complaints'],
  ['/alerts/nope', '[data-test=not-found]', 'c-alert-404'],
]) {
  if (ONLY && !name.includes(ONLY)) continue
  await p.goto(BASE + '/#' + route)
  await p.waitForSelector(sel, { timeout: 10000 }).catch(() => console.log('missing', sel))
  await p.waitForTimeout(500)
  await shot(p, name)
}
await p.goto(BASE + '/#/alerts')
await p.waitForSelector('[data-test=alert-row]')
await p.click('[data-test=view-grid]')
await p.waitForSelector('[data-test=alert-cell]')
await shot(p, 'c-alerts-grid9')
await p.click('[data-test=grid-size] label:first-child')
await p.waitForTimeout(600)
await shot(p, 'c-alerts-grid4')
await p.click('[data-test=view-table]')
await p.waitForSelector('[data-test=alert-row]')
const first = await p.getAttribute('[data-test=alert-row]', 'data-id')
await p.goto(BASE + '/#/alerts/' + first)
await p.waitForSelector('[data-test=alert-head]')
await p.waitForTimeout(800)
await shot(p, 'c-alert-detail')
await p.goto(BASE + '/#/units')
await p.click('[data-test=units-map-view]')
await p.waitForSelector('[data-test=unit-map]')
await p.waitForTimeout(1200)
await shot(p, 'c-units-map')
await p.goto(BASE + '/#/dashboard')
await p.waitForSelector('[data-test=stat-units]')
await p.click('[data-test=lang-switch]')
await p.click('[data-test=lang-en]')
await p.waitForTimeout(600)
await shot(p, 'c-dashboard-en')
await p.goto(BASE + '/#/alerts')
await p.waitForSelector('[data-test=alert-row]')
await shot(p, 'c-alerts-en')
await p.click('[data-test=lang-switch]')
await p.click('[data-test=lang-zh]')

// mobile
const c2 = await ctx({ width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
const m = await c2.newPage()
await m.goto(BASE + '/m/#/login')
await m.waitForSelector('[data-test=m-login]')
await shot(m, 'm-login')
await m.fill('input[data-test=m-username], [data-test=m-username] input', 'merchant')
await m.fill('input[data-test=m-password], [data-test=m-password] input', 'Kitchen@2026!')
await m.click('[data-test=m-login-submit]')
await m.waitForSelector('[data-test=m-alert]')
await shot(m, 'm-alerts')
await m.click('[data-test=m-alert]')
await m.waitForSelector('[data-test=m-alert-head]')
await m.waitForTimeout(800)
await shot(m, 'm-alert-detail')
for (const [route, sel, name] of [
  ['/staff', '[data-test=m-staff-row]', 'm-staff'],
  ['/unit', '[data-test=m-unit-name]', 'm-unit'],
  ['/inbox', '[data-test=m-notification]', 'm-inbox'],
]) {
  await m.goto(BASE + '/m/#' + route)
  await m.waitForSelector(sel, { timeout: 10000 }).catch(() => console.log('missing', sel))
  await shot(m, name)
}

// public
const c3 = await ctx({ width: 390, height: 844 }, { isMobile: true, deviceScaleFactor: 2 })
const pub = await c3.newPage()
const token = await (await fetch(BASE + '/api/v1/units/u001', { headers: { Authorization: 'Bearer ' + (await login()) } })).json()
async function login() {
  const r = await fetch(BASE + '/api/v1/auth/login', { method: 'POST', body: JSON.stringify({ username: 'admin', password: 'Platform@2026!' }) })
  return (await r.json()).token
}
await pub.goto(BASE + '/public/units/' + token.disclosure_token)
await pub.waitForSelector('[data-test=public-unit-name]')
await shot(pub, 'p-public')
await pub.goto(BASE + '/public/units/doesnotexist')
await pub.waitForSelector('[data-test=public-not-found]')
await shot(pub, 'p-public-404')

console.log(errors.length ? 'PAGE ERRORS:\n' + errors.join('\n') : 'no page errors')
await browser.close()
