// Date and deadline formatting. Pure functions; "now" is always passed in so the
// console and the kitchen app can follow a server clock that differs from the browser's.

export interface Countdown {
  overdue: boolean
  days: number
  hours: number
  minutes: number
  /** total milliseconds left (negative when overdue) */
  ms: number
  /** urgency for colouring: 'overdue' | 'urgent' (< 24 h) | 'soon' (< 72 h) | 'normal' */
  level: 'overdue' | 'urgent' | 'soon' | 'normal'
}

export function countdown(dueAt: string | number | Date, now: number): Countdown | null {
  const due = typeof dueAt === 'number' ? dueAt : new Date(dueAt).getTime()
  if (!Number.isFinite(due)) return null
  const ms = due - now
  const abs = Math.abs(ms)
  const totalMin = ms >= 0 ? Math.floor(abs / 60000) : Math.ceil(abs / 60000)
  const days = Math.floor(totalMin / 1440)
  const hours = Math.floor((totalMin % 1440) / 60)
  const minutes = totalMin % 60
  const overdue = ms < 0
  const level = overdue ? 'overdue' : ms < 86400000 ? 'urgent' : ms < 3 * 86400000 ? 'soon' : 'normal'
  return { overdue, days, hours, minutes, ms, level }
}

type T = (key: string, values?: Record<string, unknown>) => string

/** "剩余 3天 4小时" / "已超期 1天 2小时" / "剩余 25分钟" through i18n keys time.* */
export function formatCountdown(c: Countdown | null, t: T): string {
  if (!c) return ''
  let span: string
  if (c.days > 0) span = t('time.daysHours', { d: c.days, h: c.hours })
  else if (c.hours > 0) span = t('time.hoursMinutes', { h: c.hours, m: c.minutes })
  else span = t('time.minutes', { m: c.minutes })
  return c.overdue ? t('time.overdueBy', { span }) : t('time.remaining', { span })
}

const pad = (n: number) => String(n).padStart(2, '0')

/** 2026-11-22 08:30 in the browser's zone (bureaus run in China Standard Time). */
export function formatDateTime(v?: string | number | null, withSeconds = false): string {
  if (v === undefined || v === null || v === '') return ''
  const d = new Date(v)
  if (Number.isNaN(d.getTime())) return String(v)
  const s = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
  return withSeconds ? `${s}:${pad(d.getSeconds())}` : s
}

export function formatDate(v?: string | number | Date | null): string {
  if (v === undefined || v === null || v === '') return ''
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) return v
  const d = new Date(v)
  if (Number.isNaN(d.getTime())) return String(v)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

/** RFC 3339 with the browser's offset, e.g. 2026-11-22T00:00:00+08:00 */
export function toRfc3339(d: Date): string {
  const off = -d.getTimezoneOffset()
  const sign = off >= 0 ? '+' : '-'
  const a = Math.abs(off)
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`
  )
}

/** [start of the day `days-1` days ago, end of today] as RFC 3339 strings */
export function lastDays(days: number, now: number): [string, string] {
  const end = new Date(now)
  end.setHours(23, 59, 59, 0)
  const start = new Date(now)
  start.setHours(0, 0, 0, 0)
  start.setDate(start.getDate() - (days - 1))
  return [toRfc3339(start), toRfc3339(end)]
}

/** Fill the gaps of a by_day series so the trend line has one point per day. */
export function fillDays(series: { date: string; count: number }[]): { date: string; count: number }[] {
  if (series.length < 2) return series.slice()
  const sorted = series.slice().sort((a, b) => a.date.localeCompare(b.date))
  const map = new Map(sorted.map((x) => [x.date.slice(0, 10), x.count]))
  const out: { date: string; count: number }[] = []
  const d = new Date(sorted[0].date.slice(0, 10) + 'T00:00:00Z')
  const last = new Date(sorted[sorted.length - 1].date.slice(0, 10) + 'T00:00:00Z')
  let guard = 0
  while (d <= last && guard++ < 1000) {
    const key = d.toISOString().slice(0, 10)
    out.push({ date: key, count: map.get(key) ?? 0 })
    d.setUTCDate(d.getUTCDate() + 1)
  }
  return out
}
