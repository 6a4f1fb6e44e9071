// The video routes of docs/video.md as the three front ends call them.
import type { ApiClient } from './client'
import type { LiveAnswer } from './types'
import { toRfc3339 } from '@/lib/time'
import { parseRecordings, type Recordings, type Range } from '@/lib/timeline'

const enc = encodeURIComponent
export type Quality = 'hd' | 'sd'

/** POST /api/v1/cameras/{id}/live {quality}: signed URLs; 503 camera_unreachable when offline. */
export function liveLoader(client: ApiClient, cameraId: string, quality: Quality = 'hd') {
  return () => client.post<LiveAnswer>(`/api/v1/cameras/${enc(cameraId)}/live`, { quality })
}

/** GET /api/v1/public/units/{token}/cameras/{id}/live: no login, public cameras only. */
export function publicLiveLoader(client: ApiClient, token: string, cameraId: string) {
  return () => client.get<LiveAnswer>(`/api/v1/public/units/${enc(token)}/cameras/${enc(cameraId)}/live`)
}

/** POST /api/v1/cameras/{id}/playback {from, to}: an HLS VOD playlist. */
export function playbackLoader(client: ApiClient, cameraId: string, r: Range) {
  return () =>
    client.post<{ hls_url: string; expires_at?: string }>(`/api/v1/cameras/${enc(cameraId)}/playback`, {
      from: toRfc3339(new Date(r.start)),
      to: toRfc3339(new Date(r.end)),
    })
}

/** GET /api/v1/cameras/{id}/recordings?from&to */
export async function getRecordings(client: ApiClient, cameraId: string, r: Range): Promise<Recordings> {
  const a = await client.get<Parameters<typeof parseRecordings>[0]>(`/api/v1/cameras/${enc(cameraId)}/recordings`, {
    from: toRfc3339(new Date(r.start)),
    to: toRfc3339(new Date(r.end)),
  })
  return parseRecordings(a)
}

// ---- PTZ of GB/T 28181 cameras (docs/gb28181.md): POST /api/v1/cameras/{id}/ptz
export type PtzAction = 'up' | 'down' | 'left' | 'right' | 'zoom_in' | 'zoom_out' | 'stop' | 'preset_set' | 'preset_call'

/** Whether the camera takes PTZ commands: a GB/T 28181 channel. */
export const hasPtz = (c: { gb_device_id?: string | null; gb_channel_id?: string | null } | null | undefined) =>
  !!(c?.gb_device_id && c?.gb_channel_id)

export function ptz(client: ApiClient, cameraId: string, action: PtzAction, opts: { speed?: number; preset?: number } = {}) {
  return client.post<{ ok: boolean; action: string }>(`/api/v1/cameras/${enc(cameraId)}/ptz`, { action, ...opts })
}

/**
 * Press-and-hold PTZ: press(action) sends it, release() sends stop once after it (in order: the
 * commands are chained, so a quick tap still ends with stop). Errors go to onError.
 */
export function ptzHold(client: ApiClient, cameraId: () => string, onError: (e: Error) => void, speed = 128) {
  let chain: Promise<unknown> = Promise.resolve()
  let held: PtzAction | null = null
  const send = (action: PtzAction, opts: { speed?: number; preset?: number } = {}) => {
    const id = cameraId()
    chain = chain.then(() => ptz(client, id, action, opts)).catch((e: Error) => onError(e))
    return chain
  }
  return {
    press(action: PtzAction) {
      if (held) return
      held = action
      void send(action, { speed })
    },
    release() {
      if (!held) return
      held = null
      void send('stop')
    },
    preset(action: 'preset_set' | 'preset_call', n: number) {
      return send(action, { preset: n })
    },
  }
}

export const snapshotPath = (cameraId: string) => `/api/v1/cameras/${enc(cameraId)}/snapshot.jpg`

/**
 * GET /api/v1/cameras/{id}/clip.mp4?from&to with the bearer token, saved as `filename`.
 * Answers the SM3 digest the server sent in X-Content-SM3 (empty when absent).
 */
export async function downloadClip(client: ApiClient, cameraId: string, r: Range, filename: string): Promise<{ sm3: string; bytes: number }> {
  const q = new URLSearchParams({ from: toRfc3339(new Date(r.start)), to: toRfc3339(new Date(r.end)) })
  const res = await client.raw(`/api/v1/cameras/${enc(cameraId)}/clip.mp4?${q}`, { headers: { Accept: 'video/mp4, */*' } })
  const blob = await res.blob()
  const sm3 = res.headers.get('X-Content-SM3') ?? ''
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(a.href), 30000)
  return { sm3, bytes: blob.size }
}
