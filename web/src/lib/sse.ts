// Live alerts over Server-Sent Events (GET /api/v1/stream?ticket=...).
// EventSource cannot send headers, so the URL carries a credential: never the session token
// (URLs end up in logs, history and Referer headers) but a ticket from POST /api/v1/auth/tickets,
// good for one stream, once, for about a minute. Every (re)connection asks for a new one.

import type { Alert } from '@/api/types'

export type StreamEventType = 'alert.created' | 'alert.updated' | 'notification'
export interface StreamEvent {
  type: StreamEventType
  alert: Alert
}

export interface AlertFilter {
  unit_id?: string
  camera_id?: string
  type?: string
  risk_class?: number | string
  state?: string
  card?: string
}

export function matchesFilter(a: Alert, f: AlertFilter): boolean {
  if (f.unit_id && a.unit_id !== f.unit_id) return false
  if (f.camera_id && a.camera_id !== f.camera_id) return false
  if (f.type && a.type !== f.type) return false
  if (f.risk_class !== undefined && f.risk_class !== '' && Number(f.risk_class) !== Number(a.risk_class)) return false
  if (f.state && a.state !== f.state) return false
  if (f.card && a.card !== f.card) return false
  return true
}

export interface AlertListState {
  items: Alert[]
  total: number
  /** ids that arrived live and not yet seen, for highlighting */
  fresh: string[]
}

/**
 * Apply one stream event to the list the user is looking at:
 * - created and matching the filter → prepended (once), total + 1;
 * - updated → replaced in place, or removed when it no longer matches (e.g. it closed
 *   while the list shows open alerts), or prepended when it now matches;
 * - notification → no change to the list.
 * `pageSize` keeps the page from growing past its size.
 */
export function alertListReducer(
  s: AlertListState,
  e: StreamEvent,
  filter: AlertFilter,
  pageSize = Infinity,
): AlertListState {
  if (!e || !e.alert || !e.alert.id) return s
  const a = e.alert
  const idx = s.items.findIndex((x) => x.id === a.id)
  const match = matchesFilter(a, filter)
  if (e.type === 'alert.created' || e.type === 'alert.updated') {
    if (idx >= 0) {
      if (match) {
        const items = s.items.slice()
        items[idx] = { ...items[idx], ...a }
        return { ...s, items }
      }
      return { items: s.items.filter((x) => x.id !== a.id), total: Math.max(0, s.total - 1), fresh: s.fresh.filter((x) => x !== a.id) }
    }
    if (!match) return s
    const items = [a, ...s.items].slice(0, pageSize)
    return { items, total: s.total + 1, fresh: [a.id, ...s.fresh.filter((x) => x !== a.id)] }
  }
  return s
}

/** Parse one SSE message; null for anything that isn't an alert payload. */
export function parseStreamMessage(type: string, data: string): StreamEvent | null {
  if (type !== 'alert.created' && type !== 'alert.updated' && type !== 'notification') return null
  try {
    const v = JSON.parse(data)
    if (!v || typeof v !== 'object') return null
    // tolerate {alert: {...}} envelopes as well as the bare alert
    const alert = (v.alert && typeof v.alert === 'object' ? v.alert : v) as Alert
    return { type, alert }
  } catch {
    return null
  }
}

export interface StreamHandle {
  close(): void
}

/** Open the stream; reconnects with backoff when the connection drops. */
export function openStream(
  getTicket: () => Promise<string>,
  onEvent: (e: StreamEvent) => void,
  onState?: (connected: boolean) => void,
): StreamHandle {
  let es: EventSource | null = null
  let closed = false
  let delay = 1000
  let timer: ReturnType<typeof setTimeout> | undefined
  const retry = () => {
    onState?.(false)
    if (closed) return
    timer = setTimeout(connect, delay)
    delay = Math.min(delay * 2, 30000)
  }
  const connect = async () => {
    if (closed) return
    let ticket: string
    try {
      ticket = await getTicket()
    } catch {
      retry()
      return
    }
    if (closed) return
    es = new EventSource(`/api/v1/stream?ticket=${encodeURIComponent(ticket)}`)
    es.onopen = () => {
      delay = 1000
      onState?.(true)
    }
    const handler = (type: string) => (m: MessageEvent) => {
      const ev = parseStreamMessage(type, m.data)
      if (ev) onEvent(ev)
    }
    for (const t of ['alert.created', 'alert.updated', 'notification']) es.addEventListener(t, handler(t) as EventListener)
    es.onerror = () => {
      es?.close()
      retry()
    }
  }
  void connect()
  return {
    close() {
      closed = true
      if (timer) clearTimeout(timer)
      es?.close()
    },
  }
}
