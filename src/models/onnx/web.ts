/**
 * Browser entry point: model cards and networks fetched over HTTP (or bundled by the app) and run
 * by onnxruntime-web, on WebGPU where the browser has it, else on WebAssembly. No Node-only imports.
 * @module
 */
import { env, InferenceSession, Tensor } from 'onnxruntime-web';
import { UsageError } from '../../core/errors.js';
import { parseModelCard } from './card.js';
import { OnnxDenoiser } from './denoiser.js';
import type { LoadProgress } from './progress.js';
import { absoluteUrl, backendProblems, fetchBytes } from './web-fetch.js';

/** A backend onnxruntime-web runs networks on. */
export type WebBackend = 'webgpu' | 'wasm';
/** Every WebBackend, in the default order of preference: WebGPU first, then WebAssembly. */
export const webBackends: readonly WebBackend[] = ['webgpu', 'wasm'];

/** A card (parsed JSON) and its network's bytes, for apps that bundle or fetch the model themselves. */
export interface BundledModel {
  card: unknown;
  onnx: ArrayBuffer | Uint8Array;
  /** Name used in error messages (default "bundled model card"). */
  source?: string;
}

/** Options of loadOnnxModelWeb: backends, where the .wasm files are, fetch, session options, progress. */
export interface WebLoadOptions {
  /** Backends to try, in order; the first this browser has is used. Default: ['webgpu', 'wasm'] (a software WebGPU adapter such as SwiftShader is passed over when WebAssembly is also listed). */
  executionProviders?: readonly WebBackend[];
  /**
   * Where onnxruntime-web's .wasm files are served: a URL prefix ending in '/', or one file's URL
   * (sets onnxruntime-web's global `env.wasm.wasmPaths`, read when its first session is created).
   * Default: next to the bundled onnxruntime-web script.
   */
  wasmPaths?: string | { wasm?: string | URL; mjs?: string | URL };
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Other onnxruntime-web session options (graph optimisation, logging, …). Default logSeverityLevel 3: errors only, not the WebGPU backend's notes on which nodes run on the CPU. */
  sessionOptions?: Omit<InferenceSession.SessionOptions, 'executionProviders'>;
  /** Bytes of the card and the network received so far, after each chunk. */
  onProgress?: (progress: LoadProgress) => void;
}

/** What loadOnnxModelWeb returns: the model, the backend it runs on, and how to free it. */
export interface WebModel {
  /** The loaded network behind the Model interface. */
  model: OnnxDenoiser;
  /** The backend the session runs on. */
  backend: WebBackend;
  /** Frees the session (and its WebGPU buffers); the model cannot run afterwards. */
  release(): Promise<void>;
}

/**
 * Load a model card and its network (the card's `onnx` path, relative to the card's URL) into an
 * OnnxDenoiser on the first of the requested backends this browser has. Problems (unreachable URL,
 * malformed card, a backend the browser lacks) are UsageErrors saying what was wrong.
 */
export async function loadOnnxModelWeb(source: string | URL | BundledModel, options: WebLoadOptions = {}): Promise<WebModel> {
  const requested = options.executionProviders ?? webBackends;
  if (requested.length === 0 || requested.some((b) => !webBackends.includes(b))) {
    throw new UsageError(`executionProviders ${JSON.stringify(requested)}: give one or more of ${webBackends.join(', ')}`);
  }
  const { name, card, network } = await resolveSource(source, options.fetch ?? globalThis.fetch, options.onProgress);
  const problems = await backendProblems(requested);
  const backends = requested.filter((b) => problems[b] === undefined);
  if (backends.length === 0) {
    const all = await backendProblems(webBackends);
    const has = webBackends.filter((b) => all[b] === undefined);
    throw new UsageError(`no requested backend is available: ${requested.map((b) => `${b} (${problems[b]})`).join(', ')}; ` +
      `this browser has ${has.length ? has.join(', ') : 'neither WebGPU nor WebAssembly'}`);
  }
  if (options.wasmPaths !== undefined) env.wasm.wasmPaths = options.wasmPaths;
  const bytes = await network();
  const failures: string[] = [];
  for (const backend of backends) {
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(bytes, { logSeverityLevel: 3, ...options.sessionOptions, executionProviders: [backend] });
    } catch (e) {
      failures.push(`${backend}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    try {
      return { model: new OnnxDenoiser(session, Tensor, card, name), backend, release: () => session.release() };
    } catch (e) {
      await session.release();
      throw e;
    }
  }
  throw new UsageError(`${name}: onnxruntime-web cannot load ${card.onnx} (${failures.join('; ')})`);
}

/** The validated card, its name for messages, and how to get the network's bytes (fetched only once a backend is known). */
async function resolveSource(source: string | URL | BundledModel, fetchFn: typeof fetch, onProgress?: (p: LoadProgress) => void) {
  if (typeof source === 'string' || source instanceof URL) {
    const cardUrl = absoluteUrl(source);
    const name = cardUrl.href;
    const card = parseModelCard(parseJson(await fetchBytes(fetchFn, cardUrl, 'the model card', onProgress), name), name);
    return { name, card, network: () => fetchBytes(fetchFn, new URL(card.onnx, cardUrl), 'the ONNX network', onProgress) };
  }
  const name = source.source ?? 'bundled model card';
  const bytes = source.onnx instanceof Uint8Array ? source.onnx : new Uint8Array(source.onnx);
  return { name, card: parseModelCard(source.card, name), network: () => Promise.resolve(bytes) };
}

function parseJson(bytes: Uint8Array, source: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new UsageError(`${source}: the model card is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

export * from './index.js';
export { loadStableDiffusionWeb, textToImage, type WebPipeline, type WebPipelineOptions, type WebTextToImageOptions } from '../../pipelines/web.js';
