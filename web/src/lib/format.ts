// Small display helpers shared by the three front ends.

/** handling_rate may come as a fraction (0.83) or a percentage (83): show "83.0%". */
export function formatRate(r: number | null | undefined, digits = 1): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '–'
  const pct = r <= 1 ? r * 100 : r
  return `${pct.toFixed(digits)}%`
}

export function formatNumber(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  return n.toLocaleString('zh-CN', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
}

/** whole days from `now` to a YYYY-MM-DD date (negative when past) */
export function daysUntil(date: string | undefined | null, now: number): number | null {
  if (!date) return null
  const d = Date.parse(date.length === 10 ? `${date}T23:59:59` : date)
  if (Number.isNaN(d)) return null
  return Math.floor((d - now) / 86400000)
}

/** Mask a name for public display: 张三 → 张*, 欧阳娜娜 → 欧**娜 (the server masks too). */
export function maskName(name: string): string {
  const c = [...name]
  if (c.length <= 1) return name
  if (c.length === 2) return c[0] + '*'
  return c[0] + '*'.repeat(c.length - 2) + c[c.length - 1]
}

/** Event and document actors come as a string or as {id, name, role}. */
export function actorName(a: unknown): string {
  if (!a) return ''
  if (typeof a === 'string') return a
  if (typeof a === 'object') {
    const o = a as Record<string, unknown>
    for (const k of ['display_name', 'name', 'username', 'id']) if (typeof o[k] === 'string' && o[k]) return o[k] as string
  }
  return ''
}

export const USCC_RE = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/
export const PHONE_RE = /^(1\d{10}|0\d{2,3}-?\d{7,8}|\d{7,8})$/
export const ID_RE = /^\d{17}[\dXx]$/
export const GB_RE = /^\d{20}$/

/** Text made safe to put into an HTML string (Leaflet tooltips take HTML): stored names are
 *  kept verbatim by the server and may hold markup such as `<img onerror=…>`. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}
