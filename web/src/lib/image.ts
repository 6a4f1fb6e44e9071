// Photo handling for rectification and certificate uploads: phone photos are shrunk in
// the browser to at most 1600 px on the long side, JPEG quality 0.85, before upload.

export const MAX_SIDE = 1600
export const JPEG_QUALITY = 0.85

/** Size that fits within maxSide x maxSide, keeping the aspect ratio; never enlarges. */
export function fitWithin(width: number, height: number, maxSide = MAX_SIDE): { width: number; height: number } {
  if (!(width > 0) || !(height > 0)) return { width: 0, height: 0 }
  const long = Math.max(width, height)
  if (long <= maxSide) return { width: Math.round(width), height: Math.round(height) }
  const scale = maxSide / long
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  }
}

function loadImage(file: Blob): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file)
    const img = new Image()
    img.onload = () => {
      URL.revokeObjectURL(url)
      resolve(img)
    }
    img.onerror = () => {
      URL.revokeObjectURL(url)
      reject(new Error('image_decode'))
    }
    img.src = url
  })
}

/** Re-encode an image file as a JPEG within MAX_SIDE. Falls back to the original on failure. */
export async function resizeImage(file: Blob, maxSide = MAX_SIDE, quality = JPEG_QUALITY): Promise<Blob> {
  try {
    const img = await loadImage(file)
    const { width, height } = fitWithin(img.naturalWidth, img.naturalHeight, maxSide)
    if (!width || !height) return file
    const canvas = document.createElement('canvas')
    canvas.width = width
    canvas.height = height
    const ctx = canvas.getContext('2d')
    if (!ctx) return file
    // JPEG has no alpha: paint white under transparent PNGs
    ctx.fillStyle = '#fff'
    ctx.fillRect(0, 0, width, height)
    ctx.drawImage(img, 0, 0, width, height)
    const blob = await new Promise<Blob | null>((res) => canvas.toBlob(res, 'image/jpeg', quality))
    return blob ?? file
  } catch {
    return file
  }
}
