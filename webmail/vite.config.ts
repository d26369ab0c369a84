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
    // pdf.js 5 uses top-level await; every browser the webmail supports runs ES2022.
    target: 'es2022',
  },
  // Vite 6 (not 7 or 8): it runs on Node 18, Debian 12's own nodejs (Vite 7+ needs Node 20.19).
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
});
