import { describe, it, expect } from 'vitest'
import { alertListReducer, parseStreamMessage, matchesFilter, type AlertListState } from './sse'
import type { Alert } from '@/api/types'

const a = (id: string, over: Partial<Alert> = {}): Alert => ({
  id,
  unit_id: 'u1',
  type: 'rodent',
  risk_class: 1,
  state: 'open',
  occurred_at: '2026-11-22T08:00:00+08:00',
  ...over,
})
const empty: AlertListState = { items: [], total: 0, fresh: [] }

describe('alertListReducer', () => {
  it('prepends a created alert that matches the filter', () => {
    const s1 = alertListReducer({ items: [a('1')], total: 1, fresh: [] }, { type: 'alert.created', alert: a('2') }, { state: 'open' })
    expect(s1.items.map((x) => x.id)).toEqual(['2', '1'])
    expect(s1.total).toBe(2)
    expect(s1.fresh).toEqual(['2'])
  })
  it('ignores a created alert outside the filter', () => {
    const s1 = alertListReducer(empty, { type: 'alert.created', alert: a('2', { risk_class: 3 }) }, { risk_class: 1 })
    expect(s1).toBe(empty)
  })
  it('does not duplicate an alert delivered twice', () => {
    let s = alertListReducer(empty, { type: 'alert.created', alert: a('2') }, {})
    s = alertListReducer(s, { type: 'alert.created', alert: a('2', { capture_count: 2 }) }, {})
    expect(s.items).toHaveLength(1)
    expect(s.total).toBe(1)
    expect(s.items[0].capture_count).toBe(2)
  })
  it('updates in place and removes alerts that left the filter', () => {
    const s0: AlertListState = { items: [a('1'), a('2')], total: 2, fresh: ['2'] }
    const s1 = alertListReducer(s0, { type: 'alert.updated', alert: a('2', { card: 'yellow' }) }, { state: 'open' })
    expect(s1.items[1].card).toBe('yellow')
    const s2 = alertListReducer(s1, { type: 'alert.updated', alert: a('2', { state: 'closed' }) }, { state: 'open' })
    expect(s2.items.map((x) => x.id)).toEqual(['1'])
    expect(s2.total).toBe(1)
    expect(s2.fresh).toEqual([])
  })
  it('adds an updated alert that now matches', () => {
    const s1 = alertListReducer(empty, { type: 'alert.updated', alert: a('9', { state: 'submitted' }) }, { state: 'submitted' })
    expect(s1.items.map((x) => x.id)).toEqual(['9'])
  })
  it('keeps the page size', () => {
    const s0: AlertListState = { items: [a('1'), a('2')], total: 10, fresh: [] }
    const s1 = alertListReducer(s0, { type: 'alert.created', alert: a('3') }, {}, 2)
    expect(s1.items.map((x) => x.id)).toEqual(['3', '1'])
    expect(s1.total).toBe(11)
  })
  it('notifications do not change the list', () => {
    const s0: AlertListState = { items: [a('1')], total: 1, fresh: [] }
    expect(alertListReducer(s0, { type: 'notification', alert: a('5') }, {})).toBe(s0)
  })
})

describe('parseStreamMessage', () => {
  it('parses bare alerts and envelopes', () => {
    expect(parseStreamMessage('alert.created', JSON.stringify(a('1')))?.alert.id).toBe('1')
    expect(parseStreamMessage('alert.updated', JSON.stringify({ alert: a('2') }))?.alert.id).toBe('2')
  })
  it('rejects unknown types and bad JSON', () => {
    expect(parseStreamMessage('ping', '{}')).toBeNull()
    expect(parseStreamMessage('alert.created', 'not json')).toBeNull()
  })
})

describe('matchesFilter', () => {
  it('compares risk class as numbers', () => {
    expect(matchesFilter(a('1'), { risk_class: '1' })).toBe(true)
    expect(matchesFilter(a('1'), { risk_class: '' })).toBe(true)
    expect(matchesFilter(a('1'), { card: 'red' })).toBe(false)
  })
})
