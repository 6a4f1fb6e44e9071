import { describe, it, expect } from 'vitest'
import { containFit, scaleBoxes } from './boxes'

describe('containFit', () => {
  it('letterboxes a wide image in a square frame', () => {
    const f = containFit(1920, 1080, 960, 960)
    expect(f.scale).toBeCloseTo(0.5)
    expect(f.offsetX).toBe(0)
    expect(f.offsetY).toBeCloseTo((960 - 540) / 2)
  })
  it('pillarboxes a tall image', () => {
    const f = containFit(1000, 2000, 800, 400)
    expect(f.scale).toBeCloseTo(0.2)
    expect(f.offsetX).toBeCloseTo((800 - 200) / 2)
    expect(f.offsetY).toBe(0)
  })
  it('is zero for unknown sizes', () => {
    expect(containFit(0, 0, 100, 100).scale).toBe(0)
  })
})

describe('scaleBoxes', () => {
  it('scales and offsets boxes', () => {
    const f = containFit(1920, 1080, 960, 960)
    const [b] = scaleBoxes([{ x: 100, y: 200, w: 300, h: 100, label: 'rodent', score: 0.92 }], 1920, 1080, f)
    expect(b.left).toBeCloseTo(50)
    expect(b.top).toBeCloseTo(210 + 100)
    expect(b.width).toBeCloseTo(150)
    expect(b.height).toBeCloseTo(50)
    expect(b.label).toBe('rodent')
  })
  it('clamps boxes that stick out and drops boxes outside', () => {
    const f = containFit(100, 100, 100, 100)
    const out = scaleBoxes(
      [
        { x: -10, y: 90, w: 30, h: 30 },
        { x: 200, y: 200, w: 10, h: 10 },
        { x: NaN, y: 0, w: 1, h: 1 },
      ],
      100,
      100,
      f,
    )
    expect(out).toEqual([{ left: 0, top: 90, width: 20, height: 10, label: undefined, score: undefined }])
  })
  it('returns nothing without boxes or size', () => {
    expect(scaleBoxes(undefined, 1, 1, containFit(1, 1, 1, 1))).toEqual([])
    expect(scaleBoxes([{ x: 0, y: 0, w: 1, h: 1 }], 0, 0, containFit(0, 0, 1, 1))).toEqual([])
  })
})
