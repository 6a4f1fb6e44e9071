import { describe, it, expect } from 'vitest'
import zh from './zh-CN'
import en from './en'
import { flattenKeys } from './index'

const zk = flattenKeys(zh as unknown as Record<string, unknown>)
const ek = flattenKeys(en as unknown as Record<string, unknown>)

function leaves(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v && typeof v === 'object' ? leaves(v as Record<string, unknown>, prefix + k + '.') : [[prefix + k, v]],
  )
}

describe('i18n completeness', () => {
  it('every zh-CN key exists in en', () => {
    expect(zk.filter((k) => !ek.includes(k))).toEqual([])
  })
  it('every en key exists in zh-CN', () => {
    expect(ek.filter((k) => !zk.includes(k))).toEqual([])
  })
  it('no empty messages', () => {
    for (const [k, v] of [...leaves(zh as never), ...leaves(en as never)]) {
      expect(typeof v, k).toBe('string')
      expect((v as string).trim().length, k).toBeGreaterThan(0)
    }
  })
  it('same placeholders in both languages', () => {
    const ph = (s: string) => (s.match(/\{(\w+)\}/g) ?? []).sort().join(',')
    const enMap = new Map(leaves(en as never))
    for (const [k, v] of leaves(zh as never)) {
      expect(ph(String(enMap.get(k))), k).toBe(ph(String(v)))
    }
  })
  it('no vue-i18n reserved characters outside placeholders', () => {
    for (const [k, v] of [...leaves(zh as never), ...leaves(en as never)]) {
      const s = String(v).replace(/\{\w+\}/g, '')
      expect(/[@|{}$]/.test(s), `${k}: ${s}`).toBe(false)
    }
  })
  it('the two languages differ (nothing left untranslated by copy)', () => {
    expect((zh as { common: { appName: string } }).common.appName).not.toBe((en as { common: { appName: string } }).common.appName)
  })
})

describe('i18n keys used in the code', () => {
  it('every literal t(...) key exists in the messages', async () => {
    const fs = await import('node:fs')
    const path = await import('node:path')
    const url = await import('node:url')
    const root = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), '..')
    const files: string[] = []
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name)
        if (e.isDirectory()) walk(p)
        else if (/\.(vue|ts)$/.test(e.name) && !e.name.endsWith('.test.ts')) files.push(p)
      }
    }
    walk(root)
    const used = new Set<string>()
    for (const f of files) {
      const src = fs.readFileSync(f, 'utf8')
      for (const m of src.matchAll(/\bt\(\s*'([a-zA-Z_][\w.]*)'\s*[,)]/g)) used.add(m[1])
    }
    expect(used.size).toBeGreaterThan(100)
    const missing = [...used].filter((k) => !zk.includes(k))
    expect(missing).toEqual([])
  })
})
