// A paged list bound to the API list shape {items, total, page, page_size}.
import { ref } from 'vue'
import { api } from './api'
import { state } from './store'

export function usePaged<T>(path: string, query: () => Record<string, unknown>, pageSize = 20) {
  const items = ref<T[]>([]) as { value: T[] }
  const total = ref(0)
  const page = ref(1)
  const loading = ref(false)
  const error = ref('')
  let seq = 0
  async function load() {
    const my = ++seq
    loading.value = true
    error.value = ''
    try {
      const r = await api.list<T>(path, { jurisdiction_id: state.jurisdictionId || undefined, ...query(), page: page.value, page_size: pageSize })
      if (my !== seq) return
      items.value = r.items
      total.value = r.total
    } catch (e) {
      if (my === seq) error.value = (e as Error).message
    } finally {
      if (my === seq) loading.value = false
    }
  }
  function search() {
    page.value = 1
    return load()
  }
  return { items, total, page, pageSize, loading, error, load, search }
}
