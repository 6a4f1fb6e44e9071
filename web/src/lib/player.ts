// Which engine plays a camera's stream, and what a failure means to the person watching.
// Pure functions: the browser's capabilities are passed in (detectCaps() reads them), so the
// choice is tested without a browser.
//
// docs/video.md: POST /api/v1/cameras/{id}/live → {hls_url, flv_url, expires_at, codec, transcoded}
// (503 camera_unreachable when the source cannot be opened); POST .../playback → {hls_url}.
// Chromium 156 (Debian) plays H.264 through MSE (mpegts.js on FLV/TS, hls.js on TS) and through its
// own HLS; it has no HEVC decoder (MediaSource.isTypeSupported('video/mp4; codecs="hvc1..."') is
// false, and hls.js fed HEVC segments crashed the renderer), so H.265 is only tried where the
// browser says it decodes it; the server transcodes H.265 live streams to H.264.

export interface MediaSourceUrls {
  hls_url?: string | null
  flv_url?: string | null
  expires_at?: string
  /** the codec the browser will receive (after any server transcoding) */
  codec?: string | null
  transcoded?: boolean
}

export interface MediaCaps {
  /** Media Source Extensions (mpegts.js and hls.js need them) */
  mse: boolean
  /** MSE accepts H.264 in fragmented MP4 */
  h264: boolean
  /** MSE accepts HEVC in fragmented MP4 */
  hevc: boolean
  /** the <video> element plays HLS itself (Safari, recent Chromium) */
  nativeHls: boolean
}

export type Engine = 'flv' | 'hls' | 'native'
export interface Attempt {
  engine: Engine
  url: string
}

export type PlayMode = 'live' | 'vod'

export function isHevc(codec?: string | null): boolean {
  return !!codec && /^(h\.?265|hevc|hvc1|hev1)/i.test(codec.trim())
}

/**
 * The engines to try, best first. Live: mpegts.js on the HTTP-FLV stream (lowest latency) where
 * MSE exists, then hls.js on the HLS playlist, then the browser's own HLS. Playback (VOD): hls.js,
 * then native HLS. An HEVC stream is offered to MSE engines only when MSE takes HEVC.
 */
export function playbackPlan(src: MediaSourceUrls, caps: MediaCaps, mode: PlayMode = 'live'): Attempt[] {
  const hevc = isHevc(src.codec)
  const mseOk = caps.mse && (hevc ? caps.hevc : caps.h264)
  const out: Attempt[] = []
  if (mode === 'live' && mseOk && src.flv_url) out.push({ engine: 'flv', url: src.flv_url })
  if (mseOk && src.hls_url) out.push({ engine: 'hls', url: src.hls_url })
  // the browser's own HLS decides by itself what it decodes; for HEVC it is the last hope
  if (caps.nativeHls && src.hls_url) out.push({ engine: 'native', url: src.hls_url })
  return out
}

/** Why nothing can be tried: no URL at all, or nothing here decodes it (codec or browser). */
export function emptyPlanReason(src: MediaSourceUrls): 'no_url' | 'unsupported' {
  return !src.hls_url && !src.flv_url ? 'no_url' : 'unsupported'
}

export function detectCaps(w: Partial<Window & typeof globalThis> = globalThis as never): MediaCaps {
  const MS = (w as { MediaSource?: typeof MediaSource }).MediaSource ?? (w as { ManagedMediaSource?: typeof MediaSource }).ManagedMediaSource
  const supported = (t: string) => {
    try {
      return !!MS && typeof MS.isTypeSupported === 'function' && MS.isTypeSupported(t)
    } catch {
      return false
    }
  }
  let nativeHls = false
  try {
    const d = (w as { document?: Document }).document
    const v = d?.createElement('video')
    nativeHls = !!v && typeof v.canPlayType === 'function' && v.canPlayType('application/vnd.apple.mpegurl') !== ''
  } catch {
    nativeHls = false
  }
  return {
    mse: !!MS,
    h264: supported('video/mp4; codecs="avc1.42E01E"'),
    hevc: supported('video/mp4; codecs="hvc1.1.6.L93.B0"') || supported('video/mp4; codecs="hev1.1.6.L93.B0"'),
    nativeHls,
  }
}

/** The states a player shows; every one has a Chinese and an English line (i18n video.state.*). */
export type PlayerState = 'idle' | 'connecting' | 'playing' | 'reconnecting' | 'offline' | 'error'

/** What an error from the URL request (POST .../live, .../playback) means for the overlay. */
export function classifyLoadError(e: unknown): { state: 'offline' | 'error'; code: string } {
  const err = (e ?? {}) as { status?: number; code?: string }
  const code = typeof err.code === 'string' ? err.code : ''
  if (code === 'camera_unreachable' || code === 'camera_offline') return { state: 'offline', code: 'camera_unreachable' }
  if (err.status === 503 || err.status === 502 || err.status === 504) return { state: 'offline', code: code || 'unavailable' }
  if (err.status === 404) return { state: 'error', code: 'not_found' }
  if (err.status === 422) return { state: 'error', code: code || 'no_stream' }
  if (err.status === 403) return { state: 'error', code: 'forbidden' }
  if (err.status === 0) return { state: 'offline', code: 'network' }
  return { state: 'error', code: code || 'unknown' }
}

/**
 * Delay before the n-th automatic reconnect (n from 1): 2 s, 4 s, 8 s … capped at `max`.
 * After `limit` attempts in a row the player stops and offers a retry button.
 */
export function reconnectDelay(n: number, base = 2000, max = 30000): number {
  if (n < 1) return 0
  return Math.min(max, base * 2 ** (n - 1))
}

/**
 * A live stream whose picture has not moved for `stallMs` while it should be playing is
 * reconnected. `samples` are [wallclockMs, currentTime] pairs, oldest first.
 */
export function isStalled(samples: [number, number][], stallMs: number): boolean {
  if (samples.length < 2) return false
  const [lastAt, lastT] = samples[samples.length - 1]
  for (let i = samples.length - 2; i >= 0; i--) {
    const [at, t] = samples[i]
    if (t !== lastT) return false
    if (lastAt - at >= stallMs) return true
  }
  return false
}
