import { describe, it, expect } from 'vitest'
import { fitWithin } from './image'

describe('fitWithin', () => {
  it('shrinks landscape photos to 1600 on the long side', () => {
    expect(fitWithin(4032, 3024)).toEqual({ width: 1600, height: 1200 })
  })
  it('shrinks portrait photos', () => {
    expect(fitWithin(3024, 4032)).toEqual({ width: 1200, height: 1600 })
  })
  it('never enlarges', () => {
    expect(fitWithin(800, 600)).toEqual({ width: 800, height: 600 })
    expect(fitWithin(1600, 1600)).toEqual({ width: 1600, height: 1600 })
  })
  it('keeps extreme panoramas at least one pixel high', () => {
    expect(fitWithin(100000, 10)).toEqual({ width: 1600, height: 1 })
  })
  it('rounds odd sizes', () => {
    expect(fitWithin(3000, 2001)).toEqual({ width: 1600, height: 1067 })
  })
  it('handles empty images', () => {
    expect(fitWithin(0, 100)).toEqual({ width: 0, height: 0 })
  })
  it('supports another limit', () => {
    expect(fitWithin(1000, 500, 200)).toEqual({ width: 200, height: 100 })
  })
})
