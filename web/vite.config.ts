import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// The page is its own Vite root (web/); it is built to web/dist, which `stepq serve` serves at `/`.
// In development, /api and /ws go to a `stepq serve` on STEPQ_URL (default http://127.0.0.1:7700).
const root = fileURLToPath(new URL('.', import.meta.url));
const target = process.env.STEPQ_URL ?? 'http://127.0.0.1:7700';

export default defineConfig({
  root,
  // Served at / by `stepq serve`; absolute asset paths also work from index.html served for other paths.
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    proxy: {
      '/api': target,
      '/ws': { target: target.replace(/^http/, 'ws'), ws: true },
    },
  },
});
