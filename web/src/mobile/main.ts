import { createApp } from 'vue'
import { Locale } from 'vant'
import enUS from 'vant/es/locale/lang/en-US'
import zhCN from 'vant/es/locale/lang/zh-CN'
import 'vant/es/toast/style/index.mjs'
import 'vant/es/dialog/style/index.mjs'
import 'vant/es/notify/style/index.mjs'
import 'vant/es/image-preview/style/index.mjs'
import App from './App.vue'
import { router } from './router'
import { api } from './api'
import { createAppI18n } from '@/i18n'
import { API_KEY } from '@/components/keys'
import { logout } from './store'
import './mobile.css'

const i18n = createAppI18n()
const applyVant = (l: string) => (l === 'en' ? Locale.use('en-US', enUS) : Locale.use('zh-CN', zhCN))
applyVant(i18n.global.locale.value)
api.setTranslator((k, v) => i18n.global.t(k, v ?? {}))
api.setUnauthorizedHandler(() => {
  logout()
  if (router.currentRoute.value.name !== 'login') router.replace({ name: 'login' })
})
document.documentElement.lang = i18n.global.locale.value

const app = createApp(App)
app.use(i18n).use(router)
app.provide(API_KEY, api)
app.provide('applyVantLocale', applyVant)
app.mount('#app')
