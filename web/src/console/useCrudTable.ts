// A paged list with a create/edit dialog and delete, the part the console's CRUD pages
// (cameras, staff, users) share. The page keeps its filter, its form fields and rules, and
// says how a row fills the form and how the form becomes a request body.
//   list   GET    {path}?...query      (usePaged)
//   create POST   {path}               when the form has no id
//   edit   PATCH  {path}/{id}
//   delete DELETE {path}/{id}          after a confirmation naming the row
import { reactive, ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage, ElMessageBox } from 'element-plus/es'
import type { FormInstance } from 'element-plus'
import { api } from './api'
import { usePaged } from './usePaged'

export interface CrudOptions<T, F extends object> {
  /** query of the list, as for usePaged (the selected jurisdiction is added there) */
  query?: () => Record<string, unknown>
  /** a fresh form: the dialog starts from it every time it opens */
  blank: () => F
  /** what an edited row puts over blank() */
  fromRow?: (row: T) => Partial<F>
  /** the request body from the form without its id ('' when creating); default: the form as it is */
  toBody?: (rest: Omit<F, 'id'>, id: string) => unknown
  /** i18n key of the message after a successful save */
  savedKey?: string
}

export function useCrudTable<T, F extends object>(path: string, opts: CrudOptions<T, F>) {
  const { t } = useI18n()
  const paged = usePaged<T>(path, opts.query ?? (() => ({})))
  const { load } = paged
  const dlg = ref(false)
  const form = reactive(opts.blank()) as F
  const formRef = ref<FormInstance>()
  const saving = ref(false)
  const saveError = ref('')

  /** Opens the dialog on a fresh form, filled from `row` when editing. */
  function open(row?: T) {
    Object.assign(form, opts.blank(), row && opts.fromRow ? opts.fromRow(row) : {})
    saveError.value = ''
    dlg.value = true
  }

  async function save() {
    saveError.value = ''
    if (!(await formRef.value?.validate().catch(() => false))) return
    saving.value = true
    const { id, ...rest } = form as F & { id?: string }
    const body = opts.toBody ? opts.toBody(rest as Omit<F, 'id'>, id ?? '') : rest
    try {
      if (id) await api.patch(`${path}/${encodeURIComponent(id)}`, body)
      else await api.post(path, body)
      ElMessage.success(t(opts.savedKey ?? 'common.saved'))
      dlg.value = false
      load()
    } catch (e) {
      saveError.value = (e as Error).message
    } finally {
      saving.value = false
    }
  }

  async function remove(row: { id: string; name: string }) {
    try {
      await ElMessageBox.confirm(t('common.confirmDelete', { name: row.name }), t('common.confirmTitle'), { type: 'warning', confirmButtonText: t('common.delete'), cancelButtonText: t('common.cancel') })
    } catch {
      return
    }
    try {
      await api.del(`${path}/${encodeURIComponent(row.id)}`)
      ElMessage.success(t('common.deleted'))
      load()
    } catch (e) {
      ElMessage.error((e as Error).message)
    }
  }

  return { ...paged, dlg, form, formRef, saving, saveError, open, save, remove }
}
