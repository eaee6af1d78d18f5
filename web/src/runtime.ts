import { env } from 'onnxruntime-web';

/**
 * onnxruntime-web's WebAssembly runtime for the tabs' workers: its files from the site's ort/ folder,
 * and on a cross-origin-isolated page as many threads as the machine has cores (onnxruntime-web's
 * default is half of them, one on a 2-core machine); one thread otherwise.
 */
export function configureRuntime(): void {
  env.wasm.wasmPaths = new URL('../ort/', import.meta.url).href;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  env.wasm.numThreads = isolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1;
}

/** The threads configureRuntime gave WebAssembly sessions. */
export const wasmThreads = (): number => Number(env.wasm.numThreads ?? 1);
