import type { InjectionKey } from 'vue'
import type { ApiClient } from '@/api/client'
export const API_KEY: InjectionKey<ApiClient> = Symbol('api')
