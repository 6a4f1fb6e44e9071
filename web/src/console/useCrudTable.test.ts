import { describe, it, expect, vi, beforeEach } from 'vitest'
import type { FormInstance } from 'element-plus'

const m = vi.hoisted(() => ({
  api: { list: vi.fn(), post: vi.fn(), patch: vi.fn(), del: vi.fn() },
  success: vi.fn(),
  error: vi.fn(),
  confirm: vi.fn(),
}))
vi.mock('./api', () => ({ api: m.api }))
vi.mock('./store', () => ({ state: { jurisdictionId: 'j1' } }))
vi.mock('vue-i18n', () => ({ useI18n: () => ({ t: (k: string, v?: Record<string, unknown>) => (v ? `${k}${JSON.stringify(v)}` : k) }) }))
vi.mock('element-plus/es', () => ({ ElMessage: { success: m.success, error: m.error }, ElMessageBox: { confirm: m.confirm } }))

import { useCrudTable, type CrudOptions } from './useCrudTable'

interface Row {
  id: string
  name: string
  level?: number
}
const blank = () => ({ id: '', name: '', level: 1 })
type Form = ReturnType<typeof blank>
const valid = (ok: boolean) => ({ validate: () => (ok ? Promise.resolve(true) : Promise.reject(new Error('invalid'))) }) as unknown as FormInstance

function setup(extra: Partial<CrudOptions<Row, Form>> = {}) {
  const c = useCrudTable<Row, Form>('/api/v1/things', { blank, fromRow: (r) => ({ id: r.id, name: r.name, level: r.level ?? 1 }), ...extra })
  c.formRef.value = valid(true)
  return c
}

beforeEach(() => {
  vi.clearAllMocks()
  m.api.list.mockResolvedValue({ items: [], total: 0, page: 1, page_size: 20 })
  m.api.post.mockResolvedValue({})
  m.api.patch.mockResolvedValue({})
  m.api.del.mockResolvedValue(undefined)
})

describe('useCrudTable', () => {
  it('lists through usePaged with the page query', async () => {
    const c = setup({ query: () => ({ q: 'x' }) })
    await c.search()
    expect(m.api.list).toHaveBeenCalledWith('/api/v1/things', { jurisdiction_id: 'j1', q: 'x', page: 1, page_size: 20 })
  })

  it('opens on a fresh form, or on one filled from the row', () => {
    const c = setup()
    c.saveError.value = 'old'
    c.open({ id: 'a1', name: 'A', level: 3 })
    expect(c.form).toEqual({ id: 'a1', name: 'A', level: 3 })
    expect(c.dlg.value).toBe(true)
    expect(c.saveError.value).toBe('')
    c.open()
    expect(c.form).toEqual({ id: '', name: '', level: 1 })
  })

  it('POSTs a new row without its id, PATCHes an edited one, then closes and reloads', async () => {
    const c = setup()
    c.open()
    c.form.name = 'N'
    await c.save()
    expect(m.api.post).toHaveBeenCalledWith('/api/v1/things', { name: 'N', level: 1 })
    expect(m.success).toHaveBeenCalledWith('common.saved')
    expect(c.dlg.value).toBe(false)
    expect(c.saving.value).toBe(false)
    expect(m.api.list).toHaveBeenCalledTimes(1)

    c.open({ id: 'a/1', name: 'A' })
    await c.save()
    expect(m.api.patch).toHaveBeenCalledWith('/api/v1/things/a%2F1', { name: 'A', level: 1 })
  })

  it('sends what toBody makes of the form and says savedKey', async () => {
    const toBody = vi.fn((rest: { name: string }, id: string) => ({ title: rest.name, had: id }))
    const c = setup({ toBody, savedKey: 'things.created' })
    c.open({ id: 'b', name: 'B' })
    await c.save()
    expect(toBody).toHaveBeenCalledWith({ name: 'B', level: 1 }, 'b')
    expect(m.api.patch).toHaveBeenCalledWith('/api/v1/things/b', { title: 'B', had: 'b' })
    expect(m.success).toHaveBeenCalledWith('things.created')
  })

  it('does not send an invalid form, and keeps the dialog open with the error when saving fails', async () => {
    const c = setup()
    c.open()
    c.formRef.value = valid(false)
    await c.save()
    expect(m.api.post).not.toHaveBeenCalled()

    c.formRef.value = valid(true)
    m.api.post.mockRejectedValueOnce(new Error('名称已存在'))
    await c.save()
    expect(c.saveError.value).toBe('名称已存在')
    expect(c.dlg.value).toBe(true)
    expect(c.saving.value).toBe(false)
    expect(m.success).not.toHaveBeenCalled()
  })

  it('deletes only after the confirmation naming the row', async () => {
    const c = setup()
    m.confirm.mockRejectedValueOnce('cancel')
    await c.remove({ id: 'a1', name: 'A' })
    expect(m.confirm.mock.calls[0][0]).toBe('common.confirmDelete{"name":"A"}')
    expect(m.api.del).not.toHaveBeenCalled()

    m.confirm.mockResolvedValueOnce('confirm')
    await c.remove({ id: 'a1', name: 'A' })
    expect(m.api.del).toHaveBeenCalledWith('/api/v1/things/a1')
    expect(m.success).toHaveBeenCalledWith('common.deleted')
    expect(m.api.list).toHaveBeenCalledTimes(1)

    m.confirm.mockResolvedValueOnce('confirm')
    m.api.del.mockRejectedValueOnce(new Error('forbidden'))
    await c.remove({ id: 'a1', name: 'A' })
    expect(m.error).toHaveBeenCalledWith('forbidden')
  })
})
