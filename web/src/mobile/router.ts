import { createRouter, createWebHashHistory } from 'vue-router'
import { api } from './api'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/login', name: 'login', component: () => import('./views/Login.vue'), meta: { public: true } },
    {
      path: '/',
      component: () => import('./views/Shell.vue'),
      children: [
        { path: '', redirect: '/alerts' },
        { path: 'alerts', name: 'alerts', component: () => import('./views/Alerts.vue'), meta: { tab: true } },
        { path: 'staff', name: 'staff', component: () => import('./views/Staff.vue'), meta: { tab: true } },
        { path: 'unit', name: 'unit', component: () => import('./views/Unit.vue'), meta: { tab: true } },
        { path: 'video', name: 'video', component: () => import('./views/Video.vue'), meta: { tab: true } },
        { path: 'inbox', name: 'inbox', component: () => import('./views/Inbox.vue'), meta: { tab: true } },
        { path: 'ops', name: 'ops', component: () => import('./views/Ops.vue'), meta: { tab: true } },
        { path: 'alerts/:id', name: 'alert', component: () => import('./views/AlertDetail.vue') },
      ],
    },
    { path: '/:pathMatch(.*)*', redirect: '/alerts' },
  ],
})

router.beforeEach((to) => {
  if (!to.meta.public && !api.token) return { name: 'login', query: { redirect: to.fullPath } }
  return true
})
