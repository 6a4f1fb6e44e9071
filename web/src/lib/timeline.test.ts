import { describe, it, expect, beforeAll } from 'vitest'
import {
  parseRecordings,
  mergeRanges,
  gapsOf,
  layoutTimeline,
  timeAt,
  xAt,
  spanAt,
  playbackRange,
  dayWindow,
  ticks,
  clipAround,
  clipFileName,
  clockLabel,
} from './timeline'

beforeAll(() => {
  process.env.TZ = 'Asia/Shanghai'
})

const H = 3600000
const M = 60000
// 2026-11-22 in China Standard Time
const DAY = { start: Date.parse('2026-11-22T00:00:00+08:00'), end: Date.parse('2026-11-23T00:00:00+08:00') }
const at = (hhmm: string) => Date.parse(`2026-11-22T${hhmm}:00+08:00`)

describe('parseRecordings', () => {
  it('parses, sorts, drops malformed and empty ranges, merges overlaps', () => {
    const r = parseRecordings({
      spans: [
        { start: '2026-11-22T02:00:00+08:00', end: '2026-11-22T03:00:00+08:00', bytes: 1 },
        { start: '2026-11-22T01:00:00+08:00', end: '2026-11-22T02:30:00+08:00' },
        { start: 'yesterday', end: '2026-11-22T03:00:00+08:00' },
        { start: '2026-11-22T05:00:00+08:00', end: '2026-11-22T05:00:00+08:00' },
        { start: '2026-11-22T07:00:00+08:00', end: '2026-11-22T06:00:00+08:00' },
      ],
      alerts: [
        { id: 'b', type: 'smoking', occurred_at: '2026-11-22T09:00:00+08:00' },
        { id: 'a', type: 'rodent', occurred_at: '2026-11-22T08:00:00+08:00' },
        { id: 'x', type: 'rodent', occurred_at: 'garbage' },
      ],
    })
    expect(r.spans).toEqual([{ start: at('01:00'), end: at('03:00') }])
    expect(r.gaps).toEqual([])
    expect(r.alerts.map((a) => a.id)).toEqual(['a', 'b'])
  })
  it('survives a missing or empty answer', () => {
    expect(parseRecordings(null)).toEqual({ spans: [], gaps: [], alerts: [] })
    expect(parseRecordings({})).toEqual({ spans: [], gaps: [], alerts: [] })
  })
})

describe('mergeRanges and gapsOf', () => {
  it('merges ranges closer than the tolerance only', () => {
    const rs = [
      { start: 0, end: 10 },
      { start: 12, end: 20 },
      { start: 30, end: 40 },
    ]
    expect(mergeRanges(rs, 2)).toEqual([{ start: 0, end: 20 }, { start: 30, end: 40 }])
    expect(mergeRanges(rs, 0)).toHaveLength(3)
    // the input is not modified
    expect(rs[0]).toEqual({ start: 0, end: 10 })
  })
  it('gaps are the complement of the spans inside the window, none in the future', () => {
    const spans = [
      { start: at('01:00'), end: at('02:00') },
      { start: at('03:00'), end: at('04:00') },
    ]
    expect(gapsOf(spans, DAY)).toEqual([
      { start: DAY.start, end: at('01:00') },
      { start: at('02:00'), end: at('03:00') },
      { start: at('04:00'), end: DAY.end },
    ])
    expect(gapsOf(spans, DAY, at('03:30'))).toEqual([
      { start: DAY.start, end: at('01:00') },
      { start: at('02:00'), end: at('03:00') },
    ])
    expect(gapsOf([], DAY, at('00:10'))).toEqual([{ start: DAY.start, end: at('00:10') }])
    expect(gapsOf([{ start: DAY.start - H, end: DAY.end + H }], DAY)).toEqual([])
  })
})

describe('layoutTimeline geometry', () => {
  const rec = parseRecordings({
    spans: [
      { start: '2026-11-22T06:00:00+08:00', end: '2026-11-22T12:00:00+08:00' },
      { start: '2026-11-22T18:00:00+08:00', end: '2026-11-23T02:00:00+08:00' }, // runs past midnight
    ],
    alerts: [
      { id: 'a1', type: 'rodent', occurred_at: '2026-11-22T09:00:00+08:00' },
      { id: 'a2', type: 'rodent', occurred_at: '2026-11-21T23:00:00+08:00' }, // the day before
    ],
  })
  const L = layoutTimeline(rec, DAY, 960)
  it('places spans at their share of the width and clips them to the window', () => {
    expect(L.spans).toHaveLength(2)
    expect(L.spans[0].x).toBeCloseTo(240) // 06:00 = 1/4 of 960
    expect(L.spans[0].w).toBeCloseTo(240) // six hours
    expect(L.spans[1].x).toBeCloseTo(720)
    expect(L.spans[1].x + L.spans[1].w).toBeCloseTo(960)
    expect(L.spans[1].end).toBe(DAY.end)
  })
  it('computes the gaps between and around the spans when the server sent none', () => {
    expect(L.gaps.map((g) => [Math.round(g.x), Math.round(g.w)])).toEqual([
      [0, 240],
      [480, 240],
    ])
  })
  it('uses the server gaps when they are sent', () => {
    const withGaps = { ...rec, gaps: [{ start: at('12:00'), end: at('13:00') }] }
    const l2 = layoutTimeline(withGaps, DAY, 960)
    expect(l2.gaps).toHaveLength(1)
    expect(l2.gaps[0].x).toBeCloseTo(480)
    expect(l2.gaps[0].w).toBeCloseTo(40)
  })
  it('marks only the alerts inside the window', () => {
    expect(L.alerts.map((a) => a.id)).toEqual(['a1'])
    expect(L.alerts[0].x).toBeCloseTo(360)
  })
  it('coverage counts recorded time up to now', () => {
    expect(L.coverage).toBeCloseTo(12 / 24)
    const early = layoutTimeline(rec, DAY, 960, at('12:00'))
    expect(early.coverage).toBeCloseTo(6 / 12)
    // the future is not a gap
    expect(early.gaps.map((g) => g.end)).toEqual([at('06:00')])
  })
  it('keeps a one-second span visible and merges spans closer than a pixel', () => {
    const tiny = parseRecordings({
      spans: [
        { start: '2026-11-22T10:00:00+08:00', end: '2026-11-22T10:00:01+08:00' },
        { start: '2026-11-22T10:00:30+08:00', end: '2026-11-22T10:00:31+08:00' }, // 29 s later: < 1 px of 90 s
        { start: '2026-11-22T11:00:00+08:00', end: '2026-11-22T11:00:01+08:00' },
      ],
    })
    const l = layoutTimeline(tiny, DAY, 960)
    expect(l.spans).toHaveLength(2)
    for (const s of l.spans) expect(s.w).toBeGreaterThanOrEqual(1)
  })
  it('a thousand two-second segments with one-frame seams stay a few bars', () => {
    const spans = Array.from({ length: 1000 }, (_, i) => ({
      start: new Date(at('08:00') + i * 2000).toISOString(),
      end: new Date(at('08:00') + i * 2000 + 1960).toISOString(),
    }))
    const l = layoutTimeline(parseRecordings({ spans }), DAY, 960)
    expect(l.spans).toHaveLength(1)
    expect(l.spans[0].start).toBe(at('08:00'))
  })
})

describe('pixels ↔ time', () => {
  it('timeAt inverts xAt and clamps to the window', () => {
    const t = at('13:37')
    expect(timeAt(DAY, 1440, xAt(DAY, 1440, t))).toBe(t)
    expect(timeAt(DAY, 1440, -50)).toBe(DAY.start)
    expect(timeAt(DAY, 1440, 5000)).toBe(DAY.end)
    expect(timeAt(DAY, 0, 10)).toBe(DAY.start)
  })
  it('ticks are aligned to local clock minutes, labelled, and not crowded', () => {
    const ts = ticks(DAY, 960)
    expect(ts[0].label).toBe('00:00')
    expect(ts[0].x).toBe(0)
    for (let i = 1; i < ts.length; i++) expect(ts[i].x - ts[i - 1].x).toBeGreaterThanOrEqual(48)
    expect(ts.some((x) => x.label === '12:00')).toBe(true)
    const hour = ticks({ start: at('10:07'), end: at('11:07') }, 600)
    expect(hour[0].label).toBe('10:10')
    expect(hour[0].at).toBe(at('10:10'))
  })
  it('the day window is 24 local hours', () => {
    expect(dayWindow('2026-11-22')).toEqual(DAY)
    expect(clockLabel(at('08:05') + 7000)).toBe('08:05:07')
  })
})

describe('what a click plays', () => {
  const spans = [
    { start: at('06:00'), end: at('12:00') },
    { start: at('18:00'), end: at('20:00') },
  ]
  it('from the clicked time inside a recording, at most maxMs', () => {
    expect(spanAt(spans, at('07:00'))).toEqual(spans[0])
    expect(playbackRange(spans, at('07:00'), DAY, H)).toEqual({ start: at('07:00'), end: at('08:00') })
  })
  it('a click in a gap starts at the next recording', () => {
    expect(spanAt(spans, at('13:00'))).toBeNull()
    expect(playbackRange(spans, at('13:00'), DAY, H)).toEqual({ start: at('18:00'), end: at('19:00') })
  })
  it('nothing after the click: null', () => {
    expect(playbackRange(spans, at('21:00'), DAY, H)).toBeNull()
  })
  it('a click just after the last recording (within the snap distance) plays its end', () => {
    // 21:00 is an hour after the last span: too far
    expect(playbackRange(spans, at('21:00'), DAY, H, Infinity, 5 * M)).toBeNull()
    // 20:03 is 3 minutes after it: the last minute of the recording
    expect(playbackRange(spans, at('20:03'), DAY, H, Infinity, 5 * M)).toEqual({ start: at('19:59'), end: at('20:59') })
    // a short span (20 s) plays from its start
    const short = [{ start: at('10:00'), end: at('10:00') + 20000 }]
    expect(playbackRange(short, at('10:02'), DAY, H, at('10:03'), 5 * M)).toEqual({ start: at('10:00'), end: at('10:03') })
  })
  it('in a gap, a near previous recording wins over a far next one; the next one wins otherwise', () => {
    expect(playbackRange(spans, at('12:02'), DAY, H, Infinity, 5 * M)!.start).toBe(at('11:59'))
    expect(playbackRange(spans, at('17:58'), DAY, H, Infinity, 5 * M)!.start).toBe(at('18:00'))
    expect(playbackRange(spans, at('14:00'), DAY, H, Infinity, 5 * M)!.start).toBe(at('18:00'))
  })
  it('never past now or the end of the day', () => {
    expect(playbackRange(spans, at('19:30'), DAY, H, at('19:40'))).toEqual({ start: at('19:30'), end: at('19:40') })
    expect(playbackRange([{ start: at('23:30'), end: DAY.end }], at('23:45'), DAY, H)).toEqual({ start: at('23:45'), end: DAY.end })
  })
})

describe('clips', () => {
  it('a clip around a moment stays in the window and before now', () => {
    expect(clipAround(at('10:00'), DAY)).toEqual({ start: at('10:00') - 10000, end: at('10:00') + 20000 })
    expect(clipAround(DAY.start + 3000, DAY)).toEqual({ start: DAY.start, end: DAY.start + 23000 })
    const now = at('10:00') + 5000
    const c = clipAround(at('10:00'), DAY, 10000, 20000, now)
    expect(c.end).toBe(now)
    expect(c.start).toBe(at('10:00') - 10000)
  })
  it('file names carry camera, date and times and no path characters', () => {
    expect(clipFileName('后厨 1/灶台', { start: at('08:30') + 5000, end: at('08:30') + 35000 })).toBe('后厨-1-灶台_20261122-083005_083035.mp4')
    expect(clipFileName('', { start: at('08:30'), end: at('08:31') })).toMatch(/^camera_/)
  })
})
