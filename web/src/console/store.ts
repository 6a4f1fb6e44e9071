// Console-wide state: the signed-in user, the jurisdiction tree and the selected node
// (which scopes every page), the alert taxonomy, and live-stream fan-out.
import { reactive, computed } from 'vue'
import { api } from './api'
import type { AlertType, Jurisdiction, User, Unit } from '@/api/types'
import { openStream, type StreamEvent, type StreamHandle } from '@/lib/sse'
import { clearImageCache } from '@/api/images'

export interface TreeNode extends Jurisdiction {
  children: TreeNode[]
}

const JUR_KEY = 'mingchu.console.jurisdiction'
const SOUND_KEY = 'mingchu.console.sound'

export const state = reactive({
  me: null as User | null,
  jurisdictions: [] as Jurisdiction[],
  jurisdictionsLoaded: false,
  jurisdictionId: (localStorage.getItem(JUR_KEY) || '') as string,
  alertTypes: [] as AlertType[],
  units: [] as Unit[],
  unitsLoaded: false,
  sound: localStorage.getItem(SOUND_KEY) === '1',
  streamConnected: false,
  passwordExpired: false,
})

export function buildTree(list: Jurisdiction[]): TreeNode[] {
  const byId = new Map<string, TreeNode>()
  list.forEach((j) => byId.set(j.id, { ...j, children: [] }))
  const roots: TreeNode[] = []
  for (const n of byId.values()) {
    const p = n.parent_id ? byId.get(n.parent_id) : undefined
    if (p) p.children.push(n)
    else roots.push(n)
  }
  const sort = (ns: TreeNode[]) => {
    ns.sort((a, b) => (a.code || '').localeCompare(b.code || '') || a.name.localeCompare(b.name, 'zh-CN'))
    ns.forEach((n) => sort(n.children))
  }
  sort(roots)
  return roots
}

export const tree = computed(() => buildTree(state.jurisdictions))
export const selectedJurisdiction = computed(() => state.jurisdictions.find((j) => j.id === state.jurisdictionId) ?? null)

export function setJurisdiction(id: string) {
  state.jurisdictionId = id
  if (id) localStorage.setItem(JUR_KEY, id)
  else localStorage.removeItem(JUR_KEY)
}

export function setSound(on: boolean) {
  state.sound = on
  localStorage.setItem(SOUND_KEY, on ? '1' : '0')
}

export async function loadMe() {
  state.me = await api.get<User>('/api/v1/me')
  return state.me
}

export async function loadJurisdictions(force = false) {
  if (state.jurisdictionsLoaded && !force) return
  const r = await api.list<Jurisdiction>('/api/v1/jurisdictions', { page_size: 200 })
  let items = r.items
  // page through large trees (a province has many stations)
  let page = 1
  while (items.length < r.total && page < 20) {
    page++
    const more = await api.list<Jurisdiction>('/api/v1/jurisdictions', { page_size: 200, page })
    if (!more.items.length) break
    items = items.concat(more.items)
  }
  state.jurisdictions = items
  state.jurisdictionsLoaded = true
  if (state.jurisdictionId && !items.some((j) => j.id === state.jurisdictionId)) setJurisdiction('')
}

export async function loadAlertTypes() {
  if (state.alertTypes.length) return
  const r = await api.get<{ items: AlertType[] } | AlertType[]>('/api/v1/alert-types')
  state.alertTypes = Array.isArray(r) ? r : r.items
}

/** Units of the current scope for filters and forms (first 200; selects filter remotely past that). */
export async function loadUnits(force = false) {
  if (state.unitsLoaded && !force) return
  const r = await api.list<Unit>('/api/v1/units', { page_size: 200, jurisdiction_id: state.jurisdictionId || undefined })
  state.units = r.items
  state.unitsLoaded = true
}

export function unitName(id?: string | null, fallback?: string) {
  if (fallback) return fallback
  if (!id) return ''
  return state.units.find((u) => u.id === id)?.name ?? id
}

export function alertTypeName(code: string, locale: string) {
  const t = state.alertTypes.find((x) => x.code === code)
  if (!t) return code
  return locale.startsWith('en') ? t.name_en || t.name_zh : t.name_zh || t.name_en
}

// ---- live stream fan-out ----
type Listener = (e: StreamEvent) => void
const listeners = new Set<Listener>()
let stream: StreamHandle | null = null
// a one-use, one-minute ticket for each (re)connection of the stream; never the session token in a URL
const streamTicket = () =>
  api.post<{ ticket: string }>('/api/v1/auth/tickets', { purpose: 'stream' }).then((r) => r.ticket)

export function onStream(fn: Listener): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

export function startStream() {
  if (stream || !api.token) return
  stream = openStream(
    streamTicket,
    (e) => listeners.forEach((l) => l(e)),
    (ok) => (state.streamConnected = ok),
  )
}

export function stopStream() {
  stream?.close()
  stream = null
  state.streamConnected = false
}

export function resetSession() {
  stopStream()
  api.token = null
  clearImageCache()
  state.me = null
  state.jurisdictions = []
  state.jurisdictionsLoaded = false
  state.units = []
  state.unitsLoaded = false
  state.passwordExpired = false
}

export const isAdmin = computed(() => state.me?.role === 'platform_admin')
