// A ticking "now" that follows the server clock when the server reports it (X-Server-Time).
import { ref } from 'vue'
import { api } from './api'
export const now = ref(api.serverNow())
setInterval(() => (now.value = api.serverNow()), 30000)
export function tick() {
  now.value = api.serverNow()
}
