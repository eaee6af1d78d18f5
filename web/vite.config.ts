import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

/**
 * The playground: `npm run playground` serves web/ with hot reload, `npm run build:web` writes a
 * static site to dist-web/ that any static file server can host. The numerics run in a module Web
 * Worker over the library's sources. Cross-origin isolation headers let onnxruntime-web use
 * WebAssembly threads (served by the dev and preview servers; a static host sets them itself).
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/**
 * Files the tabs fetch at run time: the shipped networks, and onnxruntime-web's WebAssembly runtime
 * as separate files (its loader script must be one so that it can start its threads' workers; the
 * build resolves onnxruntime-web without the runtime inlined, condition onnxruntime-web-use-extern-wasm).
 */
const RUNTIME_FILES: Record<string, string> = {
  ...Object.fromEntries(['mnist/card.json', 'mnist/mnist.onnx', 'fashion/card.json', 'fashion/fashion.onnx', 'mnist-classifier/card.json',
    'mnist-classifier/classifier.onnx', 'fashion-classifier/card.json', 'fashion-classifier/classifier.onnx',
    'mnist-classifier/reference-fit.npy', 'fashion-classifier/reference-fit.npy',
    'text/card.json', 'text/text.onnx', 'mnist/gaussians.npy', 'fashion/gaussians.npy',
    ...['mnist', 'fashion'].flatMap((m) => [3, 4, 5].flatMap((nfe) => [`${m}/searched/teleport-nfe${nfe}.json`, `${m}/searched/teleport-nfe${nfe}-cfg2.json`]))]
    .map((f) => [`models/${f}`, `models/${f}`])),
  ...Object.fromEntries(['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'].map((f) => [`ort/${f}`, `node_modules/onnxruntime-web/dist/${f}`])),
};
// the built-in text-to-image model, when models/t2i holds one (its training weights, *.pt, stay out)
const t2i = join(root, 'models/t2i');
if (existsSync(join(t2i, 'model_index.json'))) {
  for (const f of readdirSync(t2i, { recursive: true, encoding: 'utf8' })) {
    if (statSync(join(t2i, f)).isFile() && !f.endsWith('.pt')) RUNTIME_FILES[`models/t2i/${f}`] = `models/t2i/${f}`;
  }
}
const TYPES: Record<string, string> = { '.json': 'application/json', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream' };

/** Serves RUNTIME_FILES in dev and copies them into the built site. */
function runtimeFiles(): Plugin {
  return {
    name: 'diffuse-runtime-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname).replace(/^\//, '');
        const source = RUNTIME_FILES[path];
        if (!source) return next();
        const file = resolve(root, source);
        res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream');
        res.setHeader('content-length', String(statSync(file).size));
        createReadStream(file).pipe(res);
      });
    },
    generateBundle() {
      for (const [name, source] of Object.entries(RUNTIME_FILES)) {
        const file = join(root, source);
        if (!existsSync(file)) this.error(`${source} is missing: the shipped models are part of the repository`);
        this.emitFile({ type: 'asset', fileName: name, source: readFileSync(file) });
      }
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [runtimeFiles()],
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  build: { outDir: '../dist-web', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1024 },
  worker: { format: 'es' },
  server: { headers: isolation },
  preview: { headers: isolation },
});
