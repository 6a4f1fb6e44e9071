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
