import { describe, it, expect } from 'vitest'
import { countdown, formatCountdown, fillDays, toRfc3339 } from './time'

const t = (k: string, v: Record<string, unknown> = {}) =>
  ({
    'time.daysHours': `${v.d}d${v.h}h`,
    'time.hoursMinutes': `${v.h}h${v.m}m`,
    'time.minutes': `${v.m}m`,
    'time.remaining': `left ${v.span}`,
    'time.overdueBy': `over ${v.span}`,
  })[k] ?? k

const now = Date.parse('2026-11-22T08:00:00+08:00')

describe('countdown', () => {
  it('splits the time left into days, hours, minutes', () => {
    const c = countdown('2026-11-25T12:30:00+08:00', now)!
    expect(c).toMatchObject({ overdue: false, days: 3, hours: 4, minutes: 30, level: 'normal' })
    expect(formatCountdown(c, t)).toBe('left 3d4h')
  })
  it('marks urgency', () => {
    expect(countdown('2026-11-22T20:00:00+08:00', now)!.level).toBe('urgent')
    expect(countdown('2026-11-24T07:00:00+08:00', now)!.level).toBe('soon')
  })
  it('shows hours and minutes under a day, minutes under an hour', () => {
    expect(formatCountdown(countdown('2026-11-22T10:15:00+08:00', now), t)).toBe('left 2h15m')
    expect(formatCountdown(countdown('2026-11-22T08:40:30+08:00', now), t)).toBe('left 40m')
  })
  it('counts overdue time', () => {
    const c = countdown('2026-11-20T06:00:00+08:00', now)!
    expect(c).toMatchObject({ overdue: true, days: 2, hours: 2, level: 'overdue' })
    expect(formatCountdown(c, t)).toBe('over 2d2h')
  })
  it('rejects garbage', () => {
    expect(countdown('not a date', now)).toBeNull()
    expect(formatCountdown(null, t)).toBe('')
  })
})

describe('fillDays', () => {
  it('fills missing days with zero', () => {
    const out = fillDays([
      { date: '2026-11-03', count: 2 },
      { date: '2026-11-01', count: 1 },
    ])
    expect(out).toEqual([
      { date: '2026-11-01', count: 1 },
      { date: '2026-11-02', count: 0 },
      { date: '2026-11-03', count: 2 },
    ])
  })
})

describe('toRfc3339', () => {
  it('has an offset', () => {
    expect(toRfc3339(new Date())).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/)
  })
})
