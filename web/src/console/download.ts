// Downloads of protected files (PDFs, exports): fetched with the session's token, then saved
// under the given name. Exports are streamed by the server; the browser keeps the file.
import { api } from './api'

export async function downloadFile(path: string, filename: string): Promise<void> {
  const blob = await api.blob(path)
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(a.href), 10000)
}

/** The query string of a filter object, leaving out empty values. */
export function queryString(q: Record<string, unknown>): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue
    p.set(k, String(v))
  }
  const s = p.toString()
  return s ? '&' + s : ''
}
