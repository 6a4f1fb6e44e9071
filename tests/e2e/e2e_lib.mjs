// Shared helpers for the browser suites; a free loopback port comes from the API suites' lib.
export { freePort } from '../api/lib.mjs'

/**
 * A JSON client for a server whose base URL is known only once it runs: base() is read per call.
 * api(method, path, { token, body }) answers the parsed body and throws on a non-2xx answer.
 */
export function jsonApi(base) {
  return async function api(method, p, { token, body } = {}) {
    const h = { Accept: 'application/json' }
    if (token) h.Authorization = `Bearer ${token}`
    if (body !== undefined) h['Content-Type'] = 'application/json'
    const res = await fetch(base() + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${p} → ${res.status} ${text.slice(0, 300)}`)
    return text ? JSON.parse(text) : null
  }
}
