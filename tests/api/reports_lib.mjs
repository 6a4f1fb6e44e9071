// Helpers for the reports suites: the text of a PDF as poppler's pdftotext reads it, the rows
// of a CSV, the sheet text of an XLSX (unzip), and a raw HTTP GET that can hang up half-way.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'

/** The text of a PDF (pdftotext, UTF-8), with all white space removed. */
export function pdfText(bytes) {
  const f = path.join(os.tmpdir(), `mingchu-test-${process.pid}-${Math.random().toString(16).slice(2)}.pdf`)
  fs.writeFileSync(f, bytes)
  try {
    const r = spawnSync('pdftotext', ['-enc', 'UTF-8', f, '-'], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`pdftotext failed: ${r.stderr}`)
    return r.stdout.replace(/\s+/g, '')
  } finally {
    fs.rmSync(f, { force: true })
  }
}

/** Number of pages of a PDF (pdfinfo). */
export function pdfPages(bytes) {
  const f = path.join(os.tmpdir(), `mingchu-test-${process.pid}-${Math.random().toString(16).slice(2)}.pdf`)
  fs.writeFileSync(f, bytes)
  try {
    const r = spawnSync('pdfinfo', [f], { encoding: 'utf8' })
    return Number(/Pages:\s+(\d+)/.exec(r.stdout)?.[1])
  } finally {
    fs.rmSync(f, { force: true })
  }
}

/** Parses RFC 4180 CSV (quoted fields, "" escapes, CRLF). */
export function parseCsv(text) {
  const rows = []
  let row = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (c === '"') {
        quoted = false
      } else {
        field += c
      }
    } else if (c === '"') {
      quoted = true
    } else if (c === ',') {
      row.push(field)
      field = ''
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field)
      rows.push(row)
      row = []
      field = ''
      i++
    } else {
      field += c
    }
  }
  if (field !== '' || row.length) {
    row.push(field)
    rows.push(row)
  }
  return rows
}

/** The XML of every worksheet of an XLSX, concatenated (unzip -p). */
export function xlsxSheets(bytes) {
  const f = path.join(os.tmpdir(), `mingchu-test-${process.pid}-${Math.random().toString(16).slice(2)}.xlsx`)
  fs.writeFileSync(f, bytes)
  try {
    const r = spawnSync('unzip', ['-p', f, 'xl/worksheets/*.xml'], { encoding: 'utf8', maxBuffer: 1 << 30 })
    if (r.status !== 0) throw new Error(`unzip failed (${r.status}): ${r.stderr}`)
    return r.stdout
  } finally {
    fs.rmSync(f, { force: true })
  }
}

/**
 * GETs url with the token, reads `bytes` bytes of the body and then destroys the socket.
 * Answers { status, headers, got } (got = bytes read before hanging up).
 */
export function getThenHangUp(url, token, bytes) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      let got = 0
      res.on('data', (d) => {
        got += d.length
        if (got >= bytes) {
          req.destroy()
          resolve({ status: res.statusCode, headers: res.headers, got })
        }
      })
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, got, ended: true }))
    })
    req.on('error', (e) => {
      if (e.code !== 'ECONNRESET') reject(e)
    })
  })
}

/** A gauge's value from /metrics text (0 when absent). */
export function metric(text, name) {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)
  return m ? Number(m[1]) : 0
}
