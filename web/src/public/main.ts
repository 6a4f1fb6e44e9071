import { createApp } from 'vue'
import { Locale } from 'vant'
import enUS from 'vant/es/locale/lang/en-US'
import zhCN from 'vant/es/locale/lang/zh-CN'
import 'vant/es/toast/style/index.mjs'
import 'vant/es/image-preview/style/index.mjs'
import App from './App.vue'
import { ApiClient } from '@/api/client'
import { createAppI18n } from '@/i18n'
import { API_KEY } from '@/components/keys'

const i18n = createAppI18n()
const applyVant = (l: string) => (l === 'en' ? Locale.use('en-US', enUS) : Locale.use('zh-CN', zhCN))
applyVant(i18n.global.locale.value)
// the public page has no session: a client without a token
const api = new ApiClient({ tokenKey: 'mingchu.public.none', t: (k, v) => i18n.global.t(k, v ?? {}) })
document.documentElement.lang = i18n.global.locale.value

const app = createApp(App)
app.use(i18n)
app.provide(API_KEY, api)
app.provide('applyVantLocale', applyVant)
app.mount('#app')
