// Vite build of the Vigil console. The output (dist/) is served by vigild as static files under a
// strict Content-Security-Policy, so the build must emit no inline script or style: the module
// preload polyfill (an inline script helper) is disabled and CSS goes to its own file.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2020',
    chunkSizeWarningLimit: 400,
  },
});
