import { createApp } from 'vue'
import { vLoading } from 'element-plus/es'
import 'element-plus/es/components/loading/style/css'
import 'element-plus/es/components/message/style/css'
import 'element-plus/es/components/message-box/style/css'
import 'element-plus/es/components/notification/style/css'
import App from './App.vue'
import { router } from './router'
import { api } from './api'
import { createAppI18n } from '@/i18n'
import { API_KEY } from '@/components/keys'
import { resetSession } from './store'
import './console.css'

const i18n = createAppI18n()
api.setTranslator((k, v) => i18n.global.t(k, v ?? {}))
api.setUnauthorizedHandler(() => {
  resetSession()
  const cur = router.currentRoute.value
  if (cur.name !== 'login') router.replace({ name: 'login', query: { redirect: cur.fullPath } })
})
document.documentElement.lang = i18n.global.locale.value

const app = createApp(App)
app.use(i18n).use(router)
app.directive('loading', vLoading)
app.provide(API_KEY, api)
app.mount('#app')
