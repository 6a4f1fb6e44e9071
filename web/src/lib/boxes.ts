// Detection boxes arrive in pixel coordinates of the original snapshot. The snapshot is
// shown scaled with object-fit: contain inside a frame; these functions map boxes into
// the frame's CSS pixels.

import type { Box } from '@/api/types'

export interface Fit {
  scale: number
  offsetX: number
  offsetY: number
  width: number
  height: number
}

/** Where an image of natural size (nw, nh) lands inside a (cw, ch) frame with object-fit: contain. */
export function containFit(nw: number, nh: number, cw: number, ch: number): Fit {
  if (!(nw > 0 && nh > 0 && cw > 0 && ch > 0)) return { scale: 0, offsetX: 0, offsetY: 0, width: 0, height: 0 }
  const scale = Math.min(cw / nw, ch / nh)
  const width = nw * scale
  const height = nh * scale
  return { scale, offsetX: (cw - width) / 2, offsetY: (ch - height) / 2, width, height }
}

export interface ScreenBox {
  left: number
  top: number
  width: number
  height: number
  label?: string
  score?: number
}

/** Clamp a box to the image, then scale and offset it; boxes entirely outside are dropped. */
export function scaleBoxes(boxes: Box[] | undefined, nw: number, nh: number, fit: Fit): ScreenBox[] {
  if (!boxes || !fit.scale) return []
  const out: ScreenBox[] = []
  for (const b of boxes) {
    if (![b.x, b.y, b.w, b.h].every((v) => typeof v === 'number' && Number.isFinite(v))) continue
    const x0 = Math.max(0, Math.min(nw, b.x))
    const y0 = Math.max(0, Math.min(nh, b.y))
    const x1 = Math.max(0, Math.min(nw, b.x + b.w))
    const y1 = Math.max(0, Math.min(nh, b.y + b.h))
    if (x1 <= x0 || y1 <= y0) continue
    out.push({
      left: fit.offsetX + x0 * fit.scale,
      top: fit.offsetY + y0 * fit.scale,
      width: (x1 - x0) * fit.scale,
      height: (y1 - y0) * fit.scale,
      label: b.label,
      score: b.score,
    })
  }
  return out
}
