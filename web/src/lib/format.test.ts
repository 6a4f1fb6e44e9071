import { describe, it, expect } from 'vitest'
import { formatRate, daysUntil, maskName, USCC_RE, actorName, escapeHtml } from './format'

describe('actorName', () => {
  it('reads strings and actor objects', () => {
    expect(actorName('李主任')).toBe('李主任')
    expect(actorName({ id: 'key_1', name: 'e2e-ingest', role: 'api_key' })).toBe('e2e-ingest')
    expect(actorName({ id: 'u1', display_name: '李主任', username: 'district_reg' })).toBe('李主任')
    expect(actorName(null)).toBe('')
  })
})

describe('format', () => {
  it('formats rates given as fractions or percentages', () => {
    expect(formatRate(0.8333)).toBe('83.3%')
    expect(formatRate(83.33)).toBe('83.3%')
    expect(formatRate(1)).toBe('100.0%')
    expect(formatRate(undefined)).toBe('–')
  })
  it('counts days to a date', () => {
    const now = Date.parse('2026-11-22T10:00:00')
    expect(daysUntil('2026-11-30', now)).toBe(8)
    expect(daysUntil('2026-11-20', now)).toBe(-2)
    expect(daysUntil(null, now)).toBeNull()
  })
  it('masks names', () => {
    expect(maskName('张三')).toBe('张*')
    expect(maskName('欧阳娜娜')).toBe('欧**娜')
  })
  it('checks USCC shape', () => {
    expect(USCC_RE.test('91320602MA1XXXXX3K')).toBe(true)
    expect(USCC_RE.test('123')).toBe(false)
  })
})

describe('escapeHtml', () => {
  it('turns markup into text', () => {
    expect(escapeHtml('<img src=x onerror="alert(1)">&\'')).toBe('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;')
    expect(escapeHtml('川味小馆')).toBe('川味小馆')
  })
})
