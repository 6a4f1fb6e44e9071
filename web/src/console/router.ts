import { createRouter, createWebHashHistory } from 'vue-router'
import { api } from './api'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/login', name: 'login', component: () => import('./views/Login.vue'), meta: { public: true } },
    {
      path: '/',
      component: () => import('./layout/Layout.vue'),
      children: [
        { path: '', redirect: '/dashboard' },
        { path: 'dashboard', name: 'dashboard', component: () => import('./views/Dashboard.vue'), meta: { title: 'menu.dashboard' } },
        { path: 'alerts', name: 'alerts', component: () => import('./views/Alerts.vue'), meta: { title: 'menu.alerts' } },
        { path: 'alerts/:id', name: 'alert', component: () => import('./views/AlertDetail.vue'), meta: { title: 'alertDetail.title', menu: '/alerts' } },
        { path: 'units', name: 'units', component: () => import('./views/Units.vue'), meta: { title: 'menu.units' } },
        { path: 'units/new', name: 'unit-new', component: () => import('./views/UnitForm.vue'), meta: { title: 'units.newUnit', menu: '/units' } },
        { path: 'units/:id', name: 'unit', component: () => import('./views/UnitForm.vue'), meta: { title: 'units.editUnit', menu: '/units' } },
        { path: 'cameras', name: 'cameras', component: () => import('./views/Cameras.vue'), meta: { title: 'menu.cameras' } },
        { path: 'staff', name: 'staff', component: () => import('./views/Staff.vue'), meta: { title: 'menu.staff' } },
        { path: 'health-certs', name: 'certs', component: () => import('./views/HealthCerts.vue'), meta: { title: 'menu.certs' } },
        { path: 'users', name: 'users', component: () => import('./views/Users.vue'), meta: { title: 'menu.users' } },
        { path: 'audit', name: 'audit', component: () => import('./views/Audit.vue'), meta: { title: 'menu.audit' } },
        { path: 'complaints', name: 'complaints', component: () => import('./views/Complaints.vue'), meta: { title: 'menu.complaints' } },
        { path: 'video', name: 'video', component: () => import('./views/VideoWall.vue'), meta: { title: 'video.wall.title' } },
        { path: 'cameras/:id/playback', name: 'camera-playback', component: () => import('./views/VideoPlayback.vue'), meta: { title: 'video.playback.title', menu: '/video' } },
        { path: 'ledgers', name: 'ledgers', component: () => import('./views/Ledgers.vue'), meta: { title: 'menu.ledgers' } },
        { path: 'sensors', name: 'sensors', component: () => import('./views/Sensors.vue'), meta: { title: 'menu.sensors' } },
        { path: 'reports', name: 'reports', component: () => import('./views/Reports.vue'), meta: { title: 'menu.reports' } },
        { path: 'vision', name: 'vision', component: () => import('./views/VisionModels.vue'), meta: { title: 'vision.models.title' } },
        { path: 'cameras/:id/ai', name: 'camera-ai', component: () => import('./views/CameraAi.vue'), meta: { title: 'vision.ai.title', menu: '/cameras' } },
        { path: ':pathMatch(.*)*', name: 'not-found', component: () => import('./views/NotFound.vue'), meta: { title: 'common.notFoundTitle' } },
      ],
    },
  ],
})

router.beforeEach((to) => {
  if (!to.meta.public && !api.token) return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  if (to.name === 'login' && api.token) return { path: '/dashboard' }
  return true
})
