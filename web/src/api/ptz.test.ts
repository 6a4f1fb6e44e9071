import { describe, it, expect } from 'vitest'
import type { ApiClient } from './client'
import { hasPtz, ptzHold } from './video'

// A client whose posts resolve when the test says so: the order of the calls is what matters.
function slowClient() {
  const calls: { path: string; body: unknown }[] = []
  const pending: (() => void)[] = []
  const client = {
    post(path: string, body: unknown) {
      calls.push({ path, body })
      return new Promise((r) => pending.push(() => r({ ok: true })))
    },
  } as unknown as ApiClient
  const flush = async () => {
    for (let i = 0; i < 10; i++) {
      while (pending.length) pending.shift()!()
      await new Promise((r) => setTimeout(r, 0))
    }
  }
  return { client, calls, flush }
}

describe('ptzHold', () => {
  it('sends the action on press and stop on release, in order, even for a quick tap', async () => {
    const { client, calls, flush } = slowClient()
    const h = ptzHold(client, () => 'cam_1', () => {})
    h.press('up')
    h.release() // before the first answer came
    await flush()
    expect(calls.map((c) => (c.body as { action: string }).action)).toEqual(['up', 'stop'])
    expect(calls[0]).toEqual({ path: '/api/v1/cameras/cam_1/ptz', body: { action: 'up', speed: 128 } })
  })

  it('ignores a second press while held and a release without a press', async () => {
    const { client, calls, flush } = slowClient()
    const h = ptzHold(client, () => 'cam_1', () => {})
    h.release()
    h.press('left')
    h.press('right')
    h.release()
    h.release()
    const done = h.preset('preset_call', 3)
    await flush()
    await done
    expect(calls.map((c) => c.body)).toEqual([{ action: 'left', speed: 128 }, { action: 'stop' }, { action: 'preset_call', preset: 3 }])
  })

  it('reports failures and goes on with the next command', async () => {
    const errors: string[] = []
    let n = 0
    const client = { post: () => (n++ === 0 ? Promise.reject(new Error('device_offline')) : Promise.resolve({})) } as unknown as ApiClient
    const h = ptzHold(client, () => 'cam_1', (e) => errors.push(e.message))
    h.press('down')
    h.release()
    await h.preset('preset_set', 1)
    expect(errors).toEqual(['device_offline'])
    expect(n).toBe(3)
  })
})

describe('hasPtz', () => {
  it('is true only for a GB/T 28181 channel', () => {
    expect(hasPtz({ gb_device_id: '34020000001320000001', gb_channel_id: '34020000001310000001' })).toBe(true)
    expect(hasPtz({ gb_device_id: '34020000001320000001' })).toBe(false)
    expect(hasPtz({})).toBe(false)
    expect(hasPtz(null)).toBe(false)
  })
})
