/**
 * What the onnxruntime-web test bundles for the page: the web loader and the shared MNIST runs,
 * exposed as the global `onnxWeb` (the bundle is an ES module, so its exports are not globals).
 * onnxruntime-web's .wasm files are served under /ort/.
 */
import { loadOnnxModelWeb, type WebBackend, type WebModel } from '../../src/models/onnx/web.js';
import { predictEps, sampleDigits, type Digits, type DigitsCase, type PredictCase } from './onnx-web-case.js';

export type LoadOutcome = { backend: WebBackend } | { error: string; message: string };

/** A model card's URL, or the URLs of a card and network the page fetches itself (as an app that bundles its model). */
export type Source = string | { card: string; onnx: string };

async function load(source: Source, backends: WebBackend[] | undefined): Promise<WebModel> {
  const options = { executionProviders: backends, wasmPaths: `${location.origin}/ort/` };
  if (typeof source === 'string') return loadOnnxModelWeb(source, options);
  const card: unknown = await (await fetch(source.card)).json();
  const onnx = await (await fetch(source.onnx)).arrayBuffer();
  return loadOnnxModelWeb({ card, onnx, source: source.card }, options);
}

/** Load on the first available of `backends` (default: the loader's), then run each sampling case on that one session. */
async function sampleAll(source: Source, backends: WebBackend[] | undefined, cases: DigitsCase[]): Promise<{ backend: WebBackend; runs: Digits[] }> {
  const { model, backend, release } = await load(source, backends);
  try {
    const runs: Digits[] = [];
    for (const c of cases) runs.push(await sampleDigits(model, c));
    return { backend, runs };
  } finally {
    await release();
  }
}

/** Load, then evaluate the network (see predictEps). */
async function predict(source: Source, backends: WebBackend[] | undefined, c: PredictCase): Promise<{ backend: WebBackend; eps: number[][] }> {
  const { model, backend, release } = await load(source, backends);
  try {
    return { backend, eps: await predictEps(model, c) };
  } finally {
    await release();
  }
}

/** Which backend a load ends on, or the error it throws (name and message). */
async function tryLoad(source: Source, backends: WebBackend[] | undefined): Promise<LoadOutcome> {
  try {
    const { backend, release } = await load(source, backends);
    await release();
    return { backend };
  } catch (e) {
    return e instanceof Error ? { error: e.name, message: e.message } : { error: 'thrown', message: String(e) };
  }
}

/** Whether this page can get a WebGPU adapter, and which. */
async function webGpuAdapter(): Promise<string | null> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null> } }).gpu;
  const adapter = gpu ? await gpu.requestAdapter() : null;
  return adapter ? `${adapter.info?.vendor ?? '?'} ${adapter.info?.architecture ?? '?'}` : null;
}

export const onnxWeb = { sampleAll, predict, tryLoad, webGpuAdapter };
(globalThis as unknown as { onnxWeb: typeof onnxWeb }).onnxWeb = onnxWeb;
