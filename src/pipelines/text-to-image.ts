import { UsageError } from '../core/errors.js';
import { toRgba, type ImageRequest, type StableDiffusion } from './stable-diffusion.js';

/**
 * A text-to-image pipeline as one function, in the manner of transformers.js's `pipeline()`:
 * `const pipe = await textToImage(folder, { sampler }); const { images } = await pipe('a cat', { steps: 20 })`.
 * The Node and browser loaders (`textToImage` in 'diffuse/node' and 'diffuse/web') build it over
 * loadStableDiffusion / loadStableDiffusionWeb; this module holds what they share.
 */

/** The options of one call: every ImageRequest field but the prompt (image + strength for img2img, mask for inpainting). */
export type TextToImageCall = Omit<ImageRequest, 'prompt'>;

/** One generated image: RGBA bytes (width × height × 4), and in Node its PNG file's bytes. */
export interface TextToImageImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
  png?: Uint8Array;
}

/** What a call returns: the images and what ran. */
export interface TextToImageOutput {
  images: TextToImageImage[];
  /** Model calls of one image (a guided step counts once). */
  nfe: number;
  sampler: string;
  steps: number;
  /** The part of the prompt the tokenizer cut off ('' when it fits), as diffusers warns. */
  truncated: string;
}

/** The callable pipeline: call it with a prompt; `pipeline` is the StableDiffusion under it; `release()` frees its sessions. */
export interface TextToImage {
  /** Generate from a prompt; the options are ImageRequest's (steps, guidance, seed, n, image, strength, mask, …). */
  (prompt: string, options?: TextToImageCall): Promise<TextToImageOutput>;
  /** The StableDiffusion pipeline under it. */
  readonly pipeline: StableDiffusion;
  /** Frees the networks' sessions; the function cannot run afterwards. */
  release(): Promise<void>;
}

/** Defaults a loader fixes for every call (a call's own options win). */
export interface TextToImageDefaults {
  /** Any Diffuse sampler in place of the folder's scheduler (default: the folder's scheduler). */
  sampler?: string;
}

/** Wrap a loaded pipeline as a TextToImage; `encode` adds a PNG per image (Node). */
export function textToImageFunction(
  pipeline: StableDiffusion, defaults: TextToImageDefaults, release: () => Promise<void>, encode?: (rgba: Uint8ClampedArray, width: number, height: number) => Uint8Array,
): TextToImage {
  const run = async (prompt: string, options: TextToImageCall = {}): Promise<TextToImageOutput> => {
    if (typeof prompt !== 'string') throw new UsageError(`the first argument is the prompt, a string; got ${typeof prompt}`);
    const out = await pipeline.generate({ ...(defaults.sampler ? { sampler: defaults.sampler } : {}), ...options, prompt });
    const images = Array.from({ length: out.n }, (_, i) => {
      const rgba = toRgba(out, i);
      return { width: out.width, height: out.height, rgba, ...(encode ? { png: encode(rgba, out.width, out.height) } : {}) };
    });
    return { images, nfe: out.nfe, sampler: out.sampler, steps: out.steps, truncated: out.truncated };
  };
  return Object.assign(run, { pipeline, release });
}
