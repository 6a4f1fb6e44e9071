// i18n for all three front ends. zh-CN is the default; the choice is kept in localStorage
// under `mingchu.locale` and shared by the console, the kitchen app and the public page.
import { createI18n } from 'vue-i18n'
import zhCN from './zh-CN'
import en from './en'

export type AppLocale = 'zh-CN' | 'en'
export const LOCALES: AppLocale[] = ['zh-CN', 'en']
export const LOCALE_KEY = 'mingchu.locale'
export const messages = { 'zh-CN': zhCN, en }

export function storedLocale(): AppLocale {
  try {
    const v = localStorage.getItem(LOCALE_KEY)
    if (v === 'en' || v === 'zh-CN') return v
  } catch {
    /* ignore */
  }
  return 'zh-CN'
}

export function createAppI18n() {
  return createI18n({
    legacy: false,
    locale: storedLocale(),
    fallbackLocale: 'zh-CN',
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    messages: messages as any,
    missingWarn: false,
    fallbackWarn: false,
  })
}

export type AppI18n = ReturnType<typeof createAppI18n>

export function applyLocale(i18n: AppI18n, l: AppLocale) {
  ;(i18n.global.locale as unknown as { value: string }).value = l
  try {
    localStorage.setItem(LOCALE_KEY, l)
  } catch {
    /* ignore */
  }
  document.documentElement.lang = l
}

/** Flatten nested message objects into dotted keys (used by the completeness test). */
export function flattenKeys(obj: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = []
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (v && typeof v === 'object') out.push(...flattenKeys(v as Record<string, unknown>, key))
    else out.push(key)
  }
  return out
}
