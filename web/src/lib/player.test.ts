import { describe, it, expect } from 'vitest'
import { playbackPlan, emptyPlanReason, detectCaps, classifyLoadError, reconnectDelay, isStalled, isHevc, type MediaCaps } from './player'
import { ApiError } from '@/api/client'

const CHROMIUM: MediaCaps = { mse: true, h264: true, hevc: false, nativeHls: true }
const OLD_IOS: MediaCaps = { mse: false, h264: false, hevc: false, nativeHls: true }
const SAFARI_HEVC: MediaCaps = { mse: true, h264: true, hevc: true, nativeHls: true }
const NOTHING: MediaCaps = { mse: false, h264: false, hevc: false, nativeHls: false }
const live = { hls_url: '/media/live/T/index.m3u8', flv_url: '/media/live/T/live.flv', codec: 'h264' }

describe('playbackPlan', () => {
  it('live H.264 with MSE: mpegts.js on FLV first, then hls.js, then native HLS', () => {
    expect(playbackPlan(live, CHROMIUM, 'live')).toEqual([
      { engine: 'flv', url: live.flv_url },
      { engine: 'hls', url: live.hls_url },
      { engine: 'native', url: live.hls_url },
    ])
  })
  it('no FLV URL: hls.js first', () => {
    expect(playbackPlan({ ...live, flv_url: null }, CHROMIUM, 'live')[0]).toEqual({ engine: 'hls', url: live.hls_url })
  })
  it('playback never uses FLV', () => {
    expect(playbackPlan(live, CHROMIUM, 'vod').map((a) => a.engine)).toEqual(['hls', 'native'])
  })
  it('without MSE (older iPhones): the video element plays HLS itself', () => {
    expect(playbackPlan(live, OLD_IOS, 'live')).toEqual([{ engine: 'native', url: live.hls_url }])
  })
  it('HEVC goes to MSE only where MSE decodes HEVC', () => {
    const hevc = { ...live, codec: 'hevc' }
    expect(playbackPlan(hevc, CHROMIUM).map((a) => a.engine)).toEqual(['native'])
    expect(playbackPlan(hevc, { ...CHROMIUM, nativeHls: false })).toEqual([])
    expect(emptyPlanReason(hevc)).toBe('unsupported')
    expect(playbackPlan(hevc, SAFARI_HEVC).map((a) => a.engine)).toEqual(['flv', 'hls', 'native'])
    // transcoded to H.264 by the server: the answer names the codec the browser gets
    expect(playbackPlan({ ...live, codec: 'h264', transcoded: true }, CHROMIUM)[0].engine).toBe('flv')
  })
  it('no URLs or no engine at all', () => {
    expect(playbackPlan({}, CHROMIUM)).toEqual([])
    expect(emptyPlanReason({})).toBe('no_url')
    expect(playbackPlan(live, NOTHING)).toEqual([])
  })
  it('recognises the spellings of HEVC', () => {
    for (const c of ['h265', 'H.265', 'hevc', 'hvc1.1.6.L93.B0', 'hev1']) expect(isHevc(c), c).toBe(true)
    for (const c of ['h264', 'avc1.42E01E', '', undefined, null]) expect(isHevc(c as string), String(c)).toBe(false)
  })
})

describe('detectCaps', () => {
  it('reads MediaSource and the video element', () => {
    const fake = {
      MediaSource: { isTypeSupported: (t: string) => t.includes('avc1') },
      document: { createElement: () => ({ canPlayType: (t: string) => (t.includes('mpegurl') ? 'maybe' : '') }) },
    }
    expect(detectCaps(fake as never)).toEqual({ mse: true, h264: true, hevc: false, nativeHls: true })
  })
  it('a browser without MediaSource and without native HLS', () => {
    const fake = { document: { createElement: () => ({ canPlayType: () => '' }) } }
    expect(detectCaps(fake as never)).toEqual({ mse: false, h264: false, hevc: false, nativeHls: false })
  })
  it('a throwing isTypeSupported counts as unsupported', () => {
    const fake = { MediaSource: { isTypeSupported: () => { throw new Error('x') } }, document: { createElement: () => ({ canPlayType: () => '' }) } }
    expect(detectCaps(fake as never).h264).toBe(false)
  })
})

describe('classifyLoadError', () => {
  it('503 camera_unreachable is offline', () => {
    expect(classifyLoadError(new ApiError(503, 'camera_unreachable', 'x'))).toEqual({ state: 'offline', code: 'camera_unreachable' })
  })
  it('other 5xx and network failures are offline too; 404, 403 and 422 are errors', () => {
    expect(classifyLoadError(new ApiError(503, 'unavailable', 'x')).state).toBe('offline')
    expect(classifyLoadError(new ApiError(0, 'network', 'x')).state).toBe('offline')
    expect(classifyLoadError(new ApiError(404, 'not_found', 'x'))).toEqual({ state: 'error', code: 'not_found' })
    expect(classifyLoadError(new ApiError(403, 'forbidden', 'x'))).toEqual({ state: 'error', code: 'forbidden' })
    expect(classifyLoadError(new ApiError(422, 'no_stream_url', 'x'))).toEqual({ state: 'error', code: 'no_stream_url' })
    expect(classifyLoadError(new Error('boom'))).toEqual({ state: 'error', code: 'unknown' })
    expect(classifyLoadError(undefined).state).toBe('error')
  })
})

describe('reconnect and stall rules', () => {
  it('backs off exponentially up to a cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => reconnectDelay(n))).toEqual([0, 2000, 4000, 8000, 16000, 30000, 30000])
  })
  it('a stall is a currentTime that has not moved for stallMs', () => {
    expect(isStalled([], 5000)).toBe(false)
    expect(isStalled([[0, 1]], 5000)).toBe(false)
    expect(isStalled([[0, 1], [2000, 1], [4000, 1]], 5000)).toBe(false)
    expect(isStalled([[0, 1], [2000, 1], [6000, 1]], 5000)).toBe(true)
    expect(isStalled([[0, 1], [2000, 1.5], [6000, 1.5]], 5000)).toBe(false)
    expect(isStalled([[0, 1], [2000, 1.5], [8000, 1.5]], 5000)).toBe(true)
  })
})
