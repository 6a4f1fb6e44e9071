import { describe, it, expect, vi } from 'vitest'
import { ApiClient, ApiError, mapError, isPresentableMessage, buildQuery } from './client'

const t = (k: string) => `T(${k})`

function memStorage() {
  const m = new Map<string, string>()
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) }
}
function res(status: number, body: string, headers: Record<string, string> = {}) {
  return new Response(status === 204 ? null : body, { status, headers })
}

describe('mapError', () => {
  it('phrases known codes through i18n', () => {
    const e = mapError(401, { error: { code: 'invalid_credentials', message: 'bad password' } }, t)
    expect(e).toBeInstanceOf(ApiError)
    expect(e.status).toBe(401)
    expect(e.code).toBe('invalid_credentials')
    expect(e.message).toBe('T(errors.code.invalid_credentials)')
  })
  it('uses the server message for unknown codes', () => {
    const e = mapError(422, { error: { code: 'invalid_uscc', message: '统一社会信用代码校验位错误', field: 'uscc' } }, t)
    expect(e.message).toBe('统一社会信用代码校验位错误')
    expect(e.code).toBe('invalid_uscc')
    expect(e.field).toBe('uscc')
  })
  it('falls back to a status message when the body is not JSON', () => {
    const e = mapError(502, null, t)
    expect(e.message).toBe('T(errors.status.unavailable)')
    expect(e.code).toBe('unavailable')
  })
  it('maps 423 to locked and 429 to rate_limited', () => {
    expect(mapError(423, null, t).message).toBe('T(errors.status.locked)')
    expect(mapError(423, null, t).code).toBe('locked')
    expect(mapError(429, { error: { message: 'slow down' } }, t).message).toBe('T(errors.status.rate_limited)')
    expect(mapError(429, { error: { code: 'rate_limited', message: 'slow down' } }, t).message).toBe('T(errors.code.rate_limited)')
  })
  it('never shows raw JSON, HTML or stack traces', () => {
    expect(isPresentableMessage('{"error":1}')).toBe(false)
    expect(isPresentableMessage('<html>502</html>')).toBe(false)
    expect(isPresentableMessage('Error: x\n    at foo (a.js:1:1)')).toBe(false)
    expect(isPresentableMessage('std::runtime_error at db.cpp:42')).toBe(false)
    expect(isPresentableMessage('x'.repeat(300))).toBe(false)
    expect(isPresentableMessage('名称不能为空')).toBe(true)
    const e = mapError(500, { error: { code: 'internal', message: 'terminate called after std::bad_alloc' } }, t)
    expect(e.message).toBe('T(errors.status.server)')
  })
  it('network failures are status 0', () => {
    expect(mapError(0, null, t).message).toBe('T(errors.status.network)')
  })
})

describe('buildQuery', () => {
  it('drops empty values and encodes the rest', () => {
    expect(buildQuery({ a: 1, b: '', c: undefined, d: null, e: '中 文' })).toBe('?a=1&e=%E4%B8%AD+%E6%96%87')
    expect(buildQuery({})).toBe('')
  })
})

describe('ApiClient', () => {
  it('sends the bearer token and parses JSON', async () => {
    const fetchImpl = vi.fn(async () => res(200, '{"items":[],"total":0,"page":1,"page_size":20}'))
    const storage = memStorage()
    const c = new ApiClient({ tokenKey: 'k', fetchImpl: fetchImpl as never, storage, t })
    c.token = 'abc'
    const r = await c.list('/api/v1/units', { page: 1, q: '' })
    expect(r.total).toBe(0)
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/v1/units?page=1')
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer abc')
  })
  it('on 401 clears the token and calls the unauthorized handler', async () => {
    const onUnauthorized = vi.fn()
    const storage = memStorage()
    const c = new ApiClient({ tokenKey: 'k', fetchImpl: (async () => res(401, '{"error":{"code":"unauthorized","message":"expired"}}')) as never, storage, t, onUnauthorized })
    c.token = 'abc'
    await expect(c.get('/api/v1/me')).rejects.toMatchObject({ status: 401, message: 'T(errors.code.unauthorized)' })
    expect(onUnauthorized).toHaveBeenCalledOnce()
    expect(c.token).toBeNull()
  })
  it('login 401 does not redirect', async () => {
    const onUnauthorized = vi.fn()
    const c = new ApiClient({ tokenKey: 'k', fetchImpl: (async () => res(401, '{"error":{"code":"invalid_credentials","message":"x"}}')) as never, storage: memStorage(), t, onUnauthorized })
    await expect(c.post('/api/v1/auth/login', {}, { noAuthRedirect: true })).rejects.toMatchObject({ code: 'invalid_credentials' })
    expect(onUnauthorized).not.toHaveBeenCalled()
  })
  it('handles 204 and HTML error pages', async () => {
    const c1 = new ApiClient({ tokenKey: 'k', fetchImpl: (async () => res(204, '')) as never, storage: memStorage(), t })
    await expect(c1.post('/api/v1/auth/logout')).resolves.toBeUndefined()
    const c2 = new ApiClient({ tokenKey: 'k', fetchImpl: (async () => res(503, '<html>down</html>')) as never, storage: memStorage(), t })
    await expect(c2.get('/x')).rejects.toMatchObject({ status: 503, message: 'T(errors.status.unavailable)' })
  })
  it('turns a thrown fetch into a network error', async () => {
    const c = new ApiClient({ tokenKey: 'k', fetchImpl: (async () => { throw new TypeError('Failed to fetch') }) as never, storage: memStorage(), t })
    await expect(c.get('/x')).rejects.toMatchObject({ status: 0, message: 'T(errors.status.network)' })
  })
  it('follows X-Server-Time for a manual server clock', async () => {
    const serverTime = new Date(Date.now() + 3 * 86400000).toISOString()
    const c = new ApiClient({ tokenKey: 'k', fetchImpl: (async () => res(200, '{}', { 'X-Server-Time': serverTime })) as never, storage: memStorage(), t })
    await c.get('/x')
    expect(Math.abs(c.clockOffsetMs - 3 * 86400000)).toBeLessThan(5000)
  })
})
