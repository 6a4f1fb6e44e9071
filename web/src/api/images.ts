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

/** Forget every cached image (on logout, so another user cannot see them). */
export function clearImageCache() {
  for (const p of cache.values()) p.then((u) => URL.revokeObjectURL(u)).catch(() => {})
  cache.clear()
}
