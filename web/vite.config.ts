import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The playground: `npm run playground` serves web/ with hot reload, `npm run build:web` writes a
 * static site to dist-web/ that any static file server can host. The numerics run in a module Web
 * Worker over the library's sources. Cross-origin isolation headers let the browser give
 * WebAssembly threads where a tab needs them (served by the dev and preview servers; a static
 * host sets them itself).
 */
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: { outDir: '../dist-web', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  server: { headers: isolation },
  preview: { headers: isolation },
});
