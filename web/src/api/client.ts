// The one HTTP client shared by the console, the kitchen app and the public page.
//
// Contract (shared/API.md): JSON in and out, `Authorization: Bearer <token>`,
// errors as {"error": {"code", "message"}}, lists as {items, total, page, page_size}.
// Every failure becomes an ApiError whose `message` is safe to show to a person:
// never raw JSON, HTML error pages or stack traces.

export interface ListResponse<T> {
  items: T[]
  total: number
  page: number
  page_size: number
}

export type Translate = (key: string, values?: Record<string, unknown>) => string

/** Error codes the UI knows how to phrase itself (i18n key `errors.code.<code>`). */
export const KNOWN_ERROR_CODES = [
  'invalid_credentials',
  'unauthorized',
  'locked',
  'account_locked',
  'forbidden',
  'not_found',
  'conflict',
  'invalid_state',
  'too_large',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'too_many_requests',
  'password_policy',
  'weak_password',
  'password_reused',
  'wrong_password',
  'unavailable',
  'session_expired',
  'file_too_large',
] as const

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  /** the field named by a 422, when the server said which */
  readonly field?: string
  constructor(status: number, code: string, message: string, field?: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.field = field
  }
}

const STATUS_CODES: Record<number, string> = {
  0: 'network',
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  415: 'unsupported_media_type',
  422: 'invalid',
  423: 'locked',
  429: 'rate_limited',
  500: 'server',
  502: 'unavailable',
  503: 'unavailable',
  504: 'unavailable',
}

/** A server message is shown only when it looks like a sentence for people. */
export function isPresentableMessage(msg: unknown): msg is string {
  if (typeof msg !== 'string') return false
  const m = msg.trim()
  if (!m || m.length > 200) return false
  if (/^[[{<]/.test(m)) return false // JSON or HTML
  if (/\n\s+at\s|Traceback|Exception:|std::|\.cpp:\d+|\bstack\b/i.test(m)) return false
  return true
}

/**
 * Turn a status and a (possibly non-JSON) body into a friendly ApiError.
 * Order: a known code phrased by our own i18n, then the server's human message,
 * then a generic message for the status.
 */
export function mapError(status: number, body: unknown, t?: Translate): ApiError {
  let code = ''
  let serverMsg: string | undefined
  let field: string | undefined
  if (body && typeof body === 'object' && 'error' in body) {
    const e = (body as { error: unknown }).error
    if (e && typeof e === 'object') {
      const eo = e as Record<string, unknown>
      if (typeof eo.code === 'string') code = eo.code
      if (isPresentableMessage(eo.message)) serverMsg = eo.message.trim()
      if (typeof eo.field === 'string') field = eo.field
    }
  }
  const statusCode = STATUS_CODES[status] ?? (status >= 500 ? 'server' : 'bad_request')
  const known = !!code && (KNOWN_ERROR_CODES as readonly string[]).includes(code)
  // statuses whose meaning is fixed get our own, localized wording
  const fixedMeaning = status === 0 || status === 423 || status === 429 || status >= 500
  let message: string
  if (t && known) message = t(`errors.code.${code}`)
  else if (serverMsg && !fixedMeaning) message = serverMsg
  else if (t) message = t(`errors.status.${statusCode}`)
  else message = serverMsg ?? `HTTP ${status}`
  if (!code) code = statusCode
  return new ApiError(status, code, message, field)
}

export interface ClientOptions {
  /** localStorage key of the bearer token (the console and the kitchen app keep separate sessions) */
  tokenKey: string
  t?: Translate
  onUnauthorized?: () => void
  fetchImpl?: typeof fetch
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>
}

export interface RequestOptions {
  method?: string
  query?: Record<string, unknown>
  body?: unknown
  /** skip the 401 → login redirect (the login call itself) */
  noAuthRedirect?: boolean
  headers?: Record<string, string>
  signal?: AbortSignal
}

export function buildQuery(q?: Record<string, unknown>): string {
  if (!q) return ''
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue
    if (Array.isArray(v)) v.forEach((x) => p.append(k, String(x)))
    else p.append(k, String(v))
  }
  const s = p.toString()
  return s ? `?${s}` : ''
}

export class ApiClient {
  private opts: ClientOptions
  /** server clock minus browser clock, from the optional X-Server-Time header (manual clocks) */
  clockOffsetMs = 0

  constructor(opts: ClientOptions) {
    this.opts = opts
  }

  setTranslator(t: Translate) {
    this.opts.t = t
  }
  setUnauthorizedHandler(fn: () => void) {
    this.opts.onUnauthorized = fn
  }

  private get storage() {
    return this.opts.storage ?? globalThis.localStorage
  }
  get token(): string | null {
    try {
      return this.storage?.getItem(this.opts.tokenKey) ?? null
    } catch {
      return null
    }
  }
  set token(v: string | null) {
    try {
      if (v) this.storage?.setItem(this.opts.tokenKey, v)
      else this.storage?.removeItem(this.opts.tokenKey)
    } catch {
      /* private mode: keep going without persistence */
    }
  }

  serverNow(): number {
    return Date.now() + this.clockOffsetMs
  }

  async raw(path: string, o: RequestOptions = {}): Promise<Response> {
    const f = this.opts.fetchImpl ?? globalThis.fetch.bind(globalThis)
    const headers: Record<string, string> = { Accept: 'application/json', ...(o.headers ?? {}) }
    const tok = this.token
    if (tok) headers.Authorization = `Bearer ${tok}`
    let body: BodyInit | undefined
    if (o.body instanceof FormData) body = o.body
    else if (o.body !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(o.body)
    }
    let res: Response
    try {
      res = await f(path + buildQuery(o.query), { method: o.method ?? 'GET', headers, body, signal: o.signal })
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw e
      throw mapError(0, null, this.opts.t)
    }
    const st = res.headers?.get?.('X-Server-Time')
    if (st) {
      const ms = Date.parse(st)
      if (!Number.isNaN(ms)) this.clockOffsetMs = ms - Date.now()
    }
    if (!res.ok) {
      let parsed: unknown = null
      try {
        const text = await res.text()
        parsed = text ? JSON.parse(text) : null
      } catch {
        parsed = null
      }
      const err = mapError(res.status, parsed, this.opts.t)
      if (res.status === 401 && !o.noAuthRedirect) {
        this.token = null
        this.opts.onUnauthorized?.()
      }
      throw err
    }
    return res
  }

  async request<T>(path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.raw(path, o)
    if (res.status === 204) return undefined as T
    const text = await res.text()
    if (!text) return undefined as T
    try {
      return JSON.parse(text) as T
    } catch {
      throw mapError(502, null, this.opts.t)
    }
  }

  get<T>(path: string, query?: Record<string, unknown>) {
    return this.request<T>(path, { query })
  }
  post<T>(path: string, body?: unknown, extra: Partial<RequestOptions> = {}) {
    return this.request<T>(path, { method: 'POST', body, ...extra })
  }
  patch<T>(path: string, body?: unknown) {
    return this.request<T>(path, { method: 'PATCH', body })
  }
  del<T>(path: string) {
    return this.request<T>(path, { method: 'DELETE' })
  }
  list<T>(path: string, query?: Record<string, unknown>) {
    return this.request<ListResponse<T>>(path, { query })
  }

  /** Fetch a protected binary (snapshots, QR codes) as a Blob. */
  async blob(path: string): Promise<Blob> {
    const res = await this.raw(path, { headers: { Accept: '*/*' } })
    return res.blob()
  }

  async upload(file: Blob, filename = 'upload.jpg'): Promise<FileInfo> {
    const fd = new FormData()
    fd.append('file', file, filename)
    return this.request<FileInfo>('/api/v1/files', { method: 'POST', body: fd })
  }
}

export interface FileInfo {
  id: string
  sha256?: string
  sm3?: string
  size?: number
  content_type?: string
}
