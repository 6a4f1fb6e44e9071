// The recording timeline: where a camera has video, where it has none and where alerts happened,
// laid out over a time window (usually one day) as pixel bars. Pure functions over epoch ms.
//
// GET /api/v1/cameras/{id}/recordings?from&to →
//   {spans: [{start, end, bytes}], gaps: [{start, end}], alerts: [{id, type, occurred_at}]}

export interface Range {
  start: number
  end: number
}
export interface RecordingsAnswer {
  spans?: { start: string; end: string; bytes?: number }[]
  gaps?: { start: string; end: string }[]
  alerts?: { id: string; type: string; occurred_at: string }[]
}
export interface Recordings {
  spans: Range[]
  gaps: Range[]
  alerts: { id: string; type: string; at: number }[]
}
export interface Bar extends Range {
  x: number
  w: number
}
export interface Mark {
  id: string
  type: string
  at: number
  x: number
}
export interface Tick {
  x: number
  at: number
  label: string
  major: boolean
}
export interface TimelineLayout {
  spans: Bar[]
  gaps: Bar[]
  alerts: Mark[]
  ticks: Tick[]
  /** recorded share of the window up to `now` (0–1) */
  coverage: number
}

const ms = (s: string) => Date.parse(s)

/** Parse the answer, drop malformed or empty ranges, sort, and merge overlapping spans. */
export function parseRecordings(a: RecordingsAnswer | null | undefined): Recordings {
  const ranges = (xs: { start: string; end: string }[] | undefined) =>
    (xs ?? [])
      .map((x) => ({ start: ms(x.start), end: ms(x.end) }))
      .filter((r) => Number.isFinite(r.start) && Number.isFinite(r.end) && r.end > r.start)
      .sort((p, q) => p.start - q.start)
  return {
    spans: mergeRanges(ranges(a?.spans), 0),
    gaps: mergeRanges(ranges(a?.gaps), 0),
    alerts: (a?.alerts ?? [])
      .map((x) => ({ id: String(x.id), type: String(x.type), at: ms(x.occurred_at) }))
      .filter((x) => Number.isFinite(x.at))
      .sort((p, q) => p.at - q.at),
  }
}

/** Merge sorted ranges that overlap or lie within `tolerance` ms of each other. */
export function mergeRanges(sorted: Range[], tolerance: number): Range[] {
  const out: Range[] = []
  for (const r of sorted) {
    const last = out[out.length - 1]
    if (last && r.start - last.end <= tolerance) last.end = Math.max(last.end, r.end)
    else out.push({ start: r.start, end: r.end })
  }
  return out
}

/** The complement of `spans` inside `win` (up to `until`, e.g. now: the future is no gap). */
export function gapsOf(spans: Range[], win: Range, until = win.end): Range[] {
  const end = Math.min(win.end, until)
  const out: Range[] = []
  let cur = win.start
  for (const s of spans) {
    if (s.end <= cur) continue
    if (s.start >= end) break
    if (s.start > cur) out.push({ start: cur, end: Math.min(s.start, end) })
    cur = Math.max(cur, s.end)
  }
  if (cur < end) out.push({ start: cur, end })
  return out
}

export const xAt = (win: Range, width: number, t: number) => ((t - win.start) / (win.end - win.start)) * width

/** The time under pixel x (clamped to the window). */
export function timeAt(win: Range, width: number, x: number): number {
  if (width <= 0) return win.start
  const f = Math.min(1, Math.max(0, x / width))
  return Math.round(win.start + f * (win.end - win.start))
}

function bars(rs: Range[], win: Range, width: number, minW: number): Bar[] {
  const out: Bar[] = []
  for (const r of rs) {
    const s = Math.max(r.start, win.start)
    const e = Math.min(r.end, win.end)
    if (e <= s) continue
    const x = xAt(win, width, s)
    const w = Math.max(minW, xAt(win, width, e) - x)
    out.push({ start: s, end: e, x, w })
  }
  return out
}

const pad = (n: number) => String(n).padStart(2, '0')

/** Tick marks every `stepMin` minutes (chosen so labels are ≥ ~48 px apart), local time labels. */
export function ticks(win: Range, width: number): Tick[] {
  const spanMin = (win.end - win.start) / 60000
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440]
  const step = steps.find((s) => (width * s) / spanMin >= 48) ?? 1440
  const out: Tick[] = []
  const first = new Date(win.start)
  first.setSeconds(0, 0)
  // align to the step in local time
  const minutesOfDay = first.getHours() * 60 + first.getMinutes()
  let t = first.getTime() + ((step - (minutesOfDay % step)) % step) * 60000
  if (t < win.start) t += step * 60000
  let guard = 0
  while (t <= win.end && guard++ < 2000) {
    const d = new Date(t)
    const mod = d.getHours() * 60 + d.getMinutes()
    out.push({ x: xAt(win, width, t), at: t, label: `${pad(d.getHours())}:${pad(d.getMinutes())}`, major: mod % Math.max(step * 3, 60) === 0 })
    t += step * 60000
  }
  return out
}

/**
 * Bars and marks for `width` pixels. Spans closer than one pixel are merged so that a day of
 * short segments stays a handful of elements; every visible span is at least 1 px wide.
 * Gaps come from the server when it sends them, otherwise they are the complement of the spans
 * up to `now`.
 */
export function layoutTimeline(rec: Recordings, win: Range, width: number, now = Infinity): TimelineLayout {
  const pxMs = (win.end - win.start) / Math.max(1, width)
  const spans = mergeRanges(rec.spans, pxMs)
  const gapRanges = rec.gaps.length ? rec.gaps : gapsOf(rec.spans, win, now)
  const alerts = rec.alerts.filter((a) => a.at >= win.start && a.at <= win.end).map((a) => ({ ...a, x: xAt(win, width, a.at) }))
  const until = Math.min(win.end, now)
  let covered = 0
  for (const s of rec.spans) covered += Math.max(0, Math.min(s.end, until) - Math.max(s.start, win.start))
  const total = until - win.start
  return {
    spans: bars(spans, win, width, 1),
    gaps: bars(gapRanges, win, width, 0).filter((b) => b.w >= 0.5),
    alerts,
    ticks: ticks(win, width),
    coverage: total > 0 ? Math.min(1, covered / total) : 0,
  }
}

/** The recorded span containing t, or null. */
export function spanAt(spans: Range[], t: number): Range | null {
  for (const s of spans) if (s.start <= t && t < s.end) return s
  return null
}

/**
 * What to play when someone clicks at t: from t (or from the start of the next recording when
 * t falls in a gap) for at most `maxMs`, never past the end of the window or `now`. A click just
 * after the last recording (within `snapMs`, e.g. a few pixels: a short span is a pixel wide on a
 * day's timeline) plays the end of that recording, up to `tailMs` of it.
 * null when nothing is recorded at or after t in the window.
 */
export function playbackRange(spans: Range[], t: number, win: Range, maxMs: number, now = Infinity, snapMs = 0, tailMs = 60000): Range | null {
  let from = t
  if (!spanAt(spans, t)) {
    const next = spans.find((s) => s.start > t && s.start < win.end)
    const prev = [...spans].reverse().find((s) => s.end <= t)
    if (next && (!prev || next.start - t <= snapMs || t - prev.end > snapMs)) from = next.start
    else if (prev && t - prev.end <= snapMs) from = Math.max(prev.start, prev.end - tailMs, win.start)
    else return null
  }
  const to = Math.min(from + maxMs, win.end, now)
  if (to <= from) return null
  return { start: from, end: to }
}

/** A local calendar day [00:00, 24:00) for a YYYY-MM-DD string (in the browser's zone). */
export function dayWindow(date: string): Range {
  const [y, m, d] = date.split('-').map(Number)
  const start = new Date(y, m - 1, d, 0, 0, 0, 0).getTime()
  const end = new Date(y, m - 1, d + 1, 0, 0, 0, 0).getTime()
  return { start, end }
}

/** "08:30:05" for a time, for the cursor and the clip range. */
export function clockLabel(t: number): string {
  const d = new Date(t)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** A default clip around t: `before` ms earlier to `after` ms later, inside the window and before now. */
export function clipAround(t: number, win: Range, before = 10000, after = 20000, now = Infinity): Range {
  const end = Math.min(t + after, win.end, now)
  const start = Math.max(win.start, Math.min(t - before, end - 1000))
  return { start, end }
}

/** A file name for a downloaded clip: 后厨-1_20261122-083005_083035.mp4 (no path characters). */
export function clipFileName(camera: string, r: Range): string {
  const d = new Date(r.start)
  const e = new Date(r.end)
  const safe = camera.replace(/[\\/:*?"<>|\s]+/g, '-').slice(0, 60) || 'camera'
  const hms = (x: Date) => `${pad(x.getHours())}${pad(x.getMinutes())}${pad(x.getSeconds())}`
  return `${safe}_${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${hms(d)}_${hms(e)}.mp4`
}
