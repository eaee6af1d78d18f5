import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { encodeRgbaPng, readJsonObject } from '../io/files.js';
import { textToImageFunction, type TextToImage, type TextToImageDefaults } from './text-to-image.js';
import { nodeRuntime, type NodeSessionOptions } from '../models/onnx/node-runtime.js';
import type { OrtSession } from '../models/onnx/runtime.js';
import { PromptTokenizer } from './tokenizer.js';
import { partsOf, StableDiffusion } from './stable-diffusion.js';

/** Options of loadStableDiffusion: ONNX Runtime session options and a callback per loaded component. */
export interface LoadOptions {
  sessionOptions?: NodeSessionOptions;
  /** Called as each component is opened, with its name and how many of `total` are done. */
  onComponent?: (name: string, done: number, total: number) => void;
}

const exists = async (path: string) => access(path).then(() => true, () => false);

/** A JSON file of the folder, or undefined when it is absent (a UsageError when it is unreadable). */
async function optionalJson(path: string): Promise<Record<string, unknown> | undefined> {
  return (await exists(path)) ? readJsonObject(path) : undefined;
}

/**
 * Load a diffusers-format ONNX Stable Diffusion folder (as optimum's exporter writes it) on
 * onnxruntime-node: model_index.json, scheduler/, tokenizer/, text_encoder/, unet/ (or SD3's
 * transformer/), vae_decoder/ and, for image-to-image, vae_encoder/; SDXL's and SD3's
 * text_encoder_2/ + tokenizer_2/, SD3's text_encoder_3/ + tokenizer_3/ where present. Graphs with
 * external weights (model.onnx_data) load from their folder. A missing component is a UsageError
 * naming it.
 */
export async function loadStableDiffusion(dir: string, o: LoadOptions = {}): Promise<StableDiffusion> {
  const index = join(dir, 'model_index.json');
  if (!(await exists(index))) throw new UsageError(`${dir}: no model_index.json; a diffusers ONNX folder has model_index.json, scheduler/, tokenizer/, text_encoder/, unet/ (or transformer/) and vae_decoder/`);
  const flow = await exists(join(dir, 'transformer/model.onnx'));
  const required = ['scheduler/scheduler_config.json', 'text_encoder/model.onnx', flow ? 'transformer/model.onnx' : 'unet/model.onnx', 'vae_decoder/model.onnx'];
  const missing = [];
  for (const f of required) if (!(await exists(join(dir, f)))) missing.push(f);
  const tokenizerDir = join(dir, 'tokenizer');
  const tokenizerJson = await optionalJson(join(tokenizerDir, 'tokenizer.json'));
  if (!tokenizerJson && !((await exists(join(tokenizerDir, 'vocab.json'))) && (await exists(join(tokenizerDir, 'merges.txt'))))) missing.push('tokenizer/tokenizer.json (or vocab.json and merges.txt)');
  if (missing.length) throw new UsageError(`${dir} lacks ${missing.join(', ')}`);
  const tokenizer = await readTokenizer(tokenizerDir);
  const model = await readJsonObject(index);
  const xl = await exists(join(dir, 'text_encoder_2/model.onnx'));
  const tokenizer2 = xl ? await readTokenizer(join(dir, 'tokenizer_2')) : undefined;
  const t5 = flow && (await exists(join(dir, 'text_encoder_3/model.onnx')));
  const tokenizer3 = t5 ? await readTokenizer(join(dir, 'tokenizer_3'), 256) : undefined;
  const scheduler = await readJsonObject(join(dir, 'scheduler/scheduler_config.json'));
  const vae = (await optionalJson(join(dir, 'vae_decoder/config.json'))) ?? {};
  const unetConfig = (await optionalJson(join(dir, flow ? 'transformer/config.json' : 'unet/config.json'))) ?? {};
  const hasEncoder = await exists(join(dir, 'vae_encoder/model.onnx'));
  const runtime = await nodeRuntime();
  const names = ['text_encoder', ...(xl ? ['text_encoder_2'] : []), ...(t5 ? ['text_encoder_3'] : []), flow ? 'transformer' : 'unet', 'vae_decoder', ...(hasEncoder ? ['vae_encoder'] : [])];
  const sessions: Record<string, OrtSession & { release(): Promise<void> }> = {};
  try {
    for (const [k, name] of names.entries()) {
      const path = join(dir, name, 'model.onnx');
      try {
        sessions[name] = await runtime.InferenceSession.create(path, o.sessionOptions ?? {});
      } catch (e) {
        throw new UsageError(`${path}: ONNX Runtime cannot load it (${e instanceof Error ? e.message : String(e)})`);
      }
      o.onComponent?.(name, k + 1, names.length);
    }
    return new StableDiffusion(partsOf({
      model, scheduler, vae, unet: unetConfig, tokenizer, ...(tokenizer2 ? { tokenizer2 } : {}), ...(tokenizer3 ? { tokenizer3 } : {}),
      sessions, T: runtime.Tensor, where: (name) => join(dir, name), source: dir,
    }), async () => {
      await Promise.all(Object.values(sessions).map((s) => s.release()));
    });
  } catch (e) {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
    throw e;
  }
}

/** A tokenizer folder: tokenizer.json, or vocab.json + merges.txt, with its configs (maxLength: the pipeline's, e.g. SD3's T5 256). */
async function readTokenizer(dir: string, maxLength?: number): Promise<PromptTokenizer> {
  const tokenizerJson = await optionalJson(join(dir, 'tokenizer.json'));
  if (!tokenizerJson && !((await exists(join(dir, 'vocab.json'))) && (await exists(join(dir, 'merges.txt'))))) {
    throw new UsageError(`${dir} lacks tokenizer.json (or vocab.json and merges.txt)`);
  }
  const config = { ...(await optionalJson(join(dir, 'special_tokens_map.json'))), ...(await optionalJson(join(dir, 'tokenizer_config.json'))) };
  return new PromptTokenizer({
    source: dir, config, ...(maxLength ? { maxLength } : {}),
    ...(tokenizerJson ? { tokenizerJson } : { vocab: await readJsonObject(join(dir, 'vocab.json')) as Record<string, number>, merges: await readFile(join(dir, 'merges.txt'), 'utf8') }),
  });
}

/** Options of the Node textToImage: the loader's, and a sampler for every call. */
export interface NodeTextToImageOptions extends LoadOptions, TextToImageDefaults {}

/**
 * A diffusers-format ONNX folder as one function on onnxruntime-node (transformers.js's `pipeline()`
 * manner): `const pipe = await textToImage('./sd-turbo', { sampler: 'euler' })`, then
 * `const { images } = await pipe('a cat', { steps: 4, guidance: 1, seed: 1 })`; each image has its
 * RGBA bytes and its PNG file's bytes. `pipe.release()` frees the sessions.
 */
export async function textToImage(dir: string, o: NodeTextToImageOptions = {}): Promise<TextToImage> {
  const pipeline = await loadStableDiffusion(dir, o);
  return textToImageFunction(pipeline, o, () => pipeline.release(), encodeRgbaPng);
}
