import { env, InferenceSession, Tensor } from 'onnxruntime-web';
import { UsageError } from '../core/errors.js';
import type { LoadProgress } from '../models/onnx/progress.js';
import { absoluteUrl, backendProblems, fetchBytes } from '../models/onnx/web-fetch.js';
import type { OrtSession } from '../models/onnx/runtime.js';
import { PromptTokenizer } from './tokenizer.js';
import { partsOf, StableDiffusion } from './stable-diffusion.js';
import { textToImageFunction, type TextToImage, type TextToImageDefaults } from './text-to-image.js';

/** A backend onnxruntime-web runs networks on (as models/onnx/web.ts's WebBackend). */
type Backend = 'webgpu' | 'wasm';

/** Options of loadStableDiffusionWeb: backends, where onnxruntime-web's .wasm files are, fetch and progress. */
export interface WebPipelineOptions {
  /** Backends to try, in order; the first that loads every network is used. Default: ['webgpu', 'wasm'] (a software WebGPU adapter is passed over when WebAssembly is also listed). */
  executionProviders?: readonly Backend[];
  /** Where onnxruntime-web's .wasm files are served (its `env.wasm.wasmPaths`). */
  wasmPaths?: string;
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Other onnxruntime-web session options. Default logSeverityLevel 3: errors only, not the WebGPU backend's notes on which nodes run on the CPU. */
  sessionOptions?: Omit<InferenceSession.SessionOptions, 'executionProviders' | 'externalData'>;
  /** Bytes of each file received so far, after each chunk. */
  onProgress?: (progress: LoadProgress) => void;
}

/** What loadStableDiffusionWeb returns: the pipeline, the backend its networks run on, and how to free them. */
export interface WebPipeline {
  pipeline: StableDiffusion;
  backend: Backend;
  /** Frees every session; the pipeline cannot run afterwards. */
  release(): Promise<void>;
}

/**
 * Load a diffusers-format ONNX folder served over HTTP (its URL, e.g. '/models/sd-turbo/') into a
 * StableDiffusion pipeline on onnxruntime-web: the same files as the Node loader reads, a UNet's
 * weights in `unet/model.onnx_data` passed as external data when the folder has them. Problems are
 * UsageErrors naming the URL.
 */
export async function loadStableDiffusionWeb(folder: string | URL, o: WebPipelineOptions = {}): Promise<WebPipeline> {
  const base = absoluteUrl(String(folder).endsWith('/') ? folder : `${String(folder)}/`);
  const fetchFn = o.fetch ?? globalThis.fetch;
  const url = (path: string) => new URL(path, base);
  const get = (path: string, what: string) => fetchBytes(fetchFn, url(path), what, o.onProgress);
  const json = async (path: string, what: string) => parseJson(await get(path, what), url(path).href);
  const optional = async (path: string): Promise<Uint8Array | undefined> => {
    const response = await fetchFn(url(path), { method: 'HEAD' }).catch(() => undefined);
    return response?.ok ? get(path, path) : undefined;
  };
  const model = await json('model_index.json', 'model_index.json (a diffusers folder has model_index.json, scheduler/, tokenizer/, text_encoder/, unet/, vae_decoder/)');
  const scheduler = await json('scheduler/scheduler_config.json', 'the scheduler config');
  const readTokenizer = async (folderName: string, maxLength?: number) => {
    const tokenizerJson = await optional(`${folderName}/tokenizer.json`);
    const config = {
      ...await optionalJson(optional, `${folderName}/special_tokens_map.json`),
      ...await optionalJson(optional, `${folderName}/tokenizer_config.json`),
    };
    return new PromptTokenizer({
      source: url(`${folderName}/`).href, config, ...(maxLength ? { maxLength } : {}),
      ...(tokenizerJson ? { tokenizerJson: parseJson(tokenizerJson, url(`${folderName}/tokenizer.json`).href) } : {
        vocab: await json(`${folderName}/vocab.json`, 'the tokenizer vocabulary (tokenizer.json or vocab.json)') as Record<string, number>,
        merges: new TextDecoder().decode(await get(`${folderName}/merges.txt`, 'the tokenizer merges')),
      }),
    });
  };
  const tokenizer = await readTokenizer('tokenizer');
  const xl = typeof model.text_encoder_2 === 'object' && model.text_encoder_2 !== null;
  const tokenizer2 = xl ? await readTokenizer('tokenizer_2') : undefined;
  const flow = typeof model.transformer === 'object' && model.transformer !== null;
  const t5 = flow && typeof model.text_encoder_3 === 'object' && model.text_encoder_3 !== null;
  const tokenizer3 = t5 ? await readTokenizer('tokenizer_3', 256) : undefined;
  const vae = (await optionalJson(optional, 'vae_decoder/config.json')) ?? {};
  const unetConfig = (await optionalJson(optional, flow ? 'transformer/config.json' : 'unet/config.json')) ?? {};
  const requested = o.executionProviders ?? ['webgpu', 'wasm'];
  const problems = await backendProblems(requested);
  const backends = requested.filter((b) => problems[b] === undefined);
  if (backends.length === 0) throw new UsageError(`no requested backend is available: ${requested.map((b) => `${b} (${problems[b]})`).join(', ')}`);
  if (o.wasmPaths !== undefined) env.wasm.wasmPaths = o.wasmPaths;
  const names = ['text_encoder', ...(xl ? ['text_encoder_2'] : []), ...(t5 ? ['text_encoder_3'] : []), flow ? 'transformer' : 'unet', 'vae_decoder', 'vae_encoder'];
  const files: Record<string, { bytes: Uint8Array; external?: Uint8Array }> = {};
  for (const name of names) {
    const bytes = name === 'vae_encoder' ? await optional(`${name}/model.onnx`) : await get(`${name}/model.onnx`, `${name}/model.onnx`);
    if (bytes) files[name] = { bytes, ...(await optional(`${name}/model.onnx_data`).then((d) => (d ? { external: d } : {}))) };
  }
  const failures: string[] = [];
  for (const backend of backends) {
    const sessions: Record<string, InferenceSession> = {};
    try {
      for (const [name, f] of Object.entries(files)) {
        sessions[name] = await InferenceSession.create(f.bytes, {
          logSeverityLevel: 3, ...o.sessionOptions, executionProviders: [backend],
          ...(f.external ? { externalData: [{ path: 'model.onnx_data', data: f.external }] } : {}),
        });
      }
    } catch (e) {
      failures.push(`${backend}: ${e instanceof Error ? e.message : String(e)}`);
      await Promise.all(Object.values(sessions).map((s) => s.release()));
      continue;
    }
    const release = () => Promise.all(Object.values(sessions).map((s) => s.release())).then(() => undefined);
    try {
      const pipeline = new StableDiffusion(partsOf({
        model, scheduler, vae, unet: unetConfig, tokenizer, ...(tokenizer2 ? { tokenizer2 } : {}), ...(tokenizer3 ? { tokenizer3 } : {}),
        sessions: sessions as unknown as Record<string, OrtSession>, T: Tensor, where: (name) => url(`${name}/`).href, source: base.href,
      }), release);
      return { pipeline, backend, release };
    } catch (e) {
      await release();
      throw e;
    }
  }
  throw new UsageError(`${base.href}: onnxruntime-web cannot load the networks (${failures.join('; ')})`);
}

async function optionalJson(optional: (path: string) => Promise<Uint8Array | undefined>, path: string): Promise<Record<string, unknown> | undefined> {
  const bytes = await optional(path);
  return bytes ? parseJson(bytes, path) : undefined;
}

function parseJson(bytes: Uint8Array, source: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new UsageError(`${source} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${source} must hold a JSON object`);
  return v as Record<string, unknown>;
}

/** Options of the browser textToImage: the loader's, `device` to pin a backend, and a sampler for every call. */
export interface WebTextToImageOptions extends Omit<WebPipelineOptions, 'executionProviders'>, TextToImageDefaults {
  /** 'webgpu' or 'wasm' to use only that backend; default: WebGPU on a hardware adapter, else WebAssembly. */
  device?: Backend;
}

/**
 * A diffusers-format ONNX folder served over HTTP as one function on onnxruntime-web
 * (transformers.js's `pipeline()` manner): `const pipe = await textToImage('/models/sd-turbo/', {
 * device: 'webgpu', wasmPaths: '/ort/' })`, then `const { images } = await pipe('a cat', { steps: 4 })`;
 * each image's RGBA bytes go straight into an ImageData. `pipe.backend` says where it runs.
 */
export async function textToImage(folder: string | URL, o: WebTextToImageOptions = {}): Promise<TextToImage & { readonly backend: Backend }> {
  if (o.device !== undefined && o.device !== 'webgpu' && o.device !== 'wasm') throw new UsageError(`device must be webgpu or wasm, got ${String(o.device)}`);
  const { device, sampler, ...load } = o;
  const { pipeline, backend, release } = await loadStableDiffusionWeb(folder, { ...load, ...(device ? { executionProviders: [device] } : {}) });
  return Object.assign(textToImageFunction(pipeline, { ...(sampler ? { sampler } : {}) }, release), { backend });
}
