// Kitchen app state: the merchant user, the unit being managed, the alert taxonomy and live events.
import { reactive, ref } from 'vue'
import { api } from './api'
import type { AlertType, User, Unit } from '@/api/types'
import { openStream, type StreamEvent, type StreamHandle } from '@/lib/sse'
import { clearImageCache } from '@/api/images'

const UNIT_KEY = 'mingchu.m.unit'
export const state = reactive({
  me: null as User | null,
  unitId: localStorage.getItem(UNIT_KEY) || '',
  units: [] as Unit[],
  alertTypes: [] as AlertType[],
  unread: 0,
})
export const now = ref(Date.now())
setInterval(() => (now.value = api.serverNow()), 30000)

export async function boot() {
  state.me = await api.get<User>('/api/v1/me')
  const ids = state.me.unit_ids ?? []
  if (!ids.includes(state.unitId)) setUnit(ids[0] ?? '')
  const [types, units] = await Promise.all([
    api.get<{ items: AlertType[] } | AlertType[]>('/api/v1/alert-types').catch(() => ({ items: [] as AlertType[] })),
    api.list<Unit>('/api/v1/units', { page_size: 200 }).catch(() => ({ items: [] as Unit[], total: 0, page: 1, page_size: 200 })),
  ])
  state.alertTypes = Array.isArray(types) ? types : types.items
  state.units = units.items
  now.value = api.serverNow()
  startStream()
}

export function setUnit(id: string) {
  state.unitId = id
  if (id) localStorage.setItem(UNIT_KEY, id)
  else localStorage.removeItem(UNIT_KEY)
}

export function typeName(code: string, locale: string) {
  const t = state.alertTypes.find((x) => x.code === code)
  if (!t) return code
  return locale.startsWith('en') ? t.name_en || t.name_zh : t.name_zh || t.name_en
}
export const unitName = (id?: string) => state.units.find((u) => u.id === id)?.name ?? ''

type Listener = (e: StreamEvent) => void
const listeners = new Set<Listener>()
let stream: StreamHandle | null = null
// a one-use, one-minute ticket for each (re)connection of the stream; never the session token in a URL
const streamTicket = () =>
  api.post<{ ticket: string }>('/api/v1/auth/tickets', { purpose: 'stream' }).then((r) => r.ticket)
export function onStream(fn: Listener) {
  listeners.add(fn)
  return () => listeners.delete(fn)
}
export function startStream() {
  if (stream || !api.token) return
  stream = openStream(streamTicket, (e) => {
    if (e.type === 'notification' || e.type === 'alert.created') state.unread++
    listeners.forEach((l) => l(e))
  })
}
export function logout() {
  api.post('/api/v1/auth/logout').catch(() => {})
  stream?.close()
  stream = null
  api.token = null
  clearImageCache()
  state.me = null
}
