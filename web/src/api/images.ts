// Protected images (GET /api/v1/files/{id}) need the bearer token, so <img src> cannot load
// them directly: they are fetched as blobs and shown through object URLs, cached per id.
import type { ApiClient } from './client'

const cache = new Map<string, Promise<string>>()
const MAX = 200

export function objectUrlFor(client: ApiClient, fileId: string): Promise<string> {
  const key = fileId
  let p = cache.get(key)
  if (!p) {
    p = client.blob(`/api/v1/files/${encodeURIComponent(fileId)}`).then((b) => URL.createObjectURL(b))
    p.catch(() => cache.delete(key))
    cache.set(key, p)
    if (cache.size > MAX) {
      const oldest = cache.keys().next().value as string
      const op = cache.get(oldest)
      cache.delete(oldest)
      op?.then((u) => URL.revokeObjectURL(u)).catch(() => {})
    }
  }
  return p
}

// Camera snapshots (GET /api/v1/cameras/{id}/snapshot.jpg) make the server open the stream and
// decode a keyframe: a list of 20 cameras asks for them a few at a time, not all at once.
const SNAPSHOT_CONCURRENCY = 3
let running = 0
const waiting: (() => void)[] = []
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= SNAPSHOT_CONCURRENCY) await new Promise<void>((r) => waiting.push(r))
  running++
  try {
    return await fn()
  } finally {
    running--
    waiting.shift()?.()
  }
}

/**
 * An object URL for a protected API path (e.g. a camera snapshot), fetched with the bearer
 * token. Cached per path like files; `fresh` fetches again (a new frame) and replaces the entry.
 */
export function objectUrlForPath(client: ApiClient, path: string, fresh = false): Promise<string> {
  const key = 'path:' + path
  const old = cache.get(key)
  if (old && !fresh) return old
  const p = limited(() => client.blob(path)).then((b) => URL.createObjectURL(b))
  p.catch(() => cache.delete(key))
  cache.set(key, p)
  if (old) old.then((u) => setTimeout(() => URL.revokeObjectURL(u), 10000)).catch(() => {})
  return p
}

/** Forget every cached image (on logout, so another user cannot see them). */
export function clearImageCache() {
  for (const p of cache.values()) p.then((u) => URL.revokeObjectURL(u)).catch(() => {})
  cache.clear()
}
