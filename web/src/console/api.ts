import { ApiClient } from '@/api/client'
export const api = new ApiClient({ tokenKey: 'mingchu.console.token' })
