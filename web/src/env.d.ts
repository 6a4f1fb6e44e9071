/// <reference types="vite/client" />
declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}

// hls.js ships one declaration file for its full and light builds
declare module 'hls.js/light' {
  import Hls from 'hls.js'
  export default Hls
}
