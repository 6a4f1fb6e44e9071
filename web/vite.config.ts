import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import { VantResolver } from '@vant/auto-import-resolver'
import { fileURLToPath } from 'node:url'

const r = (p: string) => fileURLToPath(new URL(p, import.meta.url))

// Vant's icon font lists a CDN copy (at.alicdn.com) after the inlined woff2. The pages never
// fetch anything from a third party (privacy of the public page's visitors, and the CSP's
// font-src 'self' data: would block it anyway): drop remote font sources from the built CSS.
const noRemoteFonts = (): Plugin => ({
  name: 'mingchu-no-remote-fonts',
  generateBundle(_options, bundle) {
    for (const file of Object.values(bundle)) {
      if (file.type === 'asset' && file.fileName.endsWith('.css') && typeof file.source === 'string') {
        file.source = file.source.replace(/,\s*url\((?:https?:)?\/\/[^)]*\)\s*format\("[^"]*"\)/g, '')
      }
    }
  },
})

// One multi-page build: the regulator console (/), the kitchen app (/m/) and the
// public disclosure page (/public/units/{token} is answered with dist/public/index.html).
export default defineConfig({
  base: '/',
  // `public/` holds the disclosure page entry, not static assets.
  publicDir: false,
  plugins: [
    vue(),
    noRemoteFonts(),
    Components({
      dts: 'src/components.d.ts',
      resolvers: [ElementPlusResolver({ importStyle: 'css' }), VantResolver({ importStyle: true })],
    }),
  ],
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __VUE_PROD_DEVTOOLS__: false,
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: false,
  },
  resolve: { alias: { '@': r('./src') } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      input: {
        console: r('./index.html'),
        mobile: r('./m/index.html'),
        public: r('./public/index.html'),
      },
    },
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8787', changeOrigin: false },
      '/public/units': { target: 'http://127.0.0.1:8787' },
    },
  },
})
