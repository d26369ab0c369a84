import { defineConfig } from 'vite';

// Served by the HTTP gateway at /mail/ (gateways/GrainMail.Gateways.Http/Webmail). Every asset is
// a file of this origin: no CDN, nothing fetched at run time, no inline script (the page's CSP
// allows script-src 'self' only).
export default defineConfig({
  base: '/mail/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
    modulePreload: { polyfill: false },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
});
