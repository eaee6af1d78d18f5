import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { readPngRgb, writeRgbaPng } from '../io/files.js';
import { toRgba, type ImageRequest } from '../pipelines/stable-diffusion.js';
import { integerArg, keyValueArg, numberArg } from './args.js';
import { progressBar, type CliIo } from './io.js';
import { shippedPipelineDir } from '../models/onnx/shipped.js';

/**
 * `diffuse generate "a prompt" --model DIR`: text-to-image (or image-to-image with --image) with a
 * diffusers-format ONNX Stable Diffusion folder, by the folder's scheduler or any Diffuse sampler.
 */

interface GenerateArgs {
  model: string;
  negative?: string;
  steps?: number;
  guidance?: number;
  guidanceRescale: number;
  seed: number;
  rng: 'philox' | 'torch';
  width?: number;
  height?: number;
  n: number;
  clipSkip?: number;
  sampler?: string;
  opt: Record<string, string>;
  image?: string;
  mask?: string;
  strength?: number;
  out: string;
  upscale?: number;
  grid?: boolean;
  quiet?: boolean;
  json?: boolean;
}

export function addGenerateCommand(program: Command, io: CliIo): void {
  program
    .command('generate')
    .description('text-to-image (or image-to-image with --image) with a diffusers-format ONNX folder: SD 1.x/2.x, SDXL, LCM or SD3')
    .argument('<prompt>', 'what to draw')
    .option('--model <dir>', 'a diffusers ONNX folder (model_index.json, scheduler/, tokenizer/, text_encoder/, unet/ or transformer/, vae_decoder/; vae_encoder/ for --image), or a shipped text-to-image model\'s name (default t2i, the built-in 32 × 32 digits-and-clothes model)', 't2i')
    .option('--negative <prompt>', 'negative prompt (default: the empty prompt)')
    .option('--steps <n>', 'inference steps (default 50; an LCM model 4; SD3 28)', integerArg(1, LIMITS.steps))
    .option('--guidance <g>', 'classifier-free guidance scale, diffusers\' convention; ≤ 1 runs the prompt alone (default 7.5; SD3 7; an LCM model: its guidance embedding, default 8.5)', numberArg)
    .option('--guidance-rescale <phi>', 'guidance rescale φ in [0, 1]', numberArg, 0)
    .option('--seed <seed>', 'seed of the initial latents and sampler noise', integerArg(0, LIMITS.seed), 0)
    .addOption(new Option('--rng <kind>', 'generator: philox (Diffuse) or torch (torch.randn on a CPU generator, as diffusers draws)').choices(['philox', 'torch']).default('philox'))
    .option('--width <px>', 'image width (a multiple of 8; default: the model\'s)', integerArg(8, 8192))
    .option('--height <px>', 'image height (a multiple of 8; default: the model\'s)', integerArg(8, 8192))
    .option('--n <n>', 'images to make', integerArg(1, 64), 1)
    .option('--clip-skip <k>', 'CLIP skip (SDXL, SD3): the prompt embedding from k layers earlier', integerArg(0, 64))
    .option('--sampler <name>', 'a Diffuse sampler instead of the folder\'s scheduler (see `diffuse list samplers`)')
    .option('--opt <key=value>', 'sampler option, repeatable', keyValueArg, {})
    .option('--image <png>', 'image-to-image: the init image (its size is the output size)')
    .option('--mask <png>', 'inpainting (with --image): white where to repaint, black where to keep (its size is the image\'s)')
    .option('--strength <s>', 'image-to-image strength in (0, 1] (default 0.8; inpainting 1)', numberArg)
    .requiredOption('--out <png>', 'output PNG (with --n > 1: NAME-0.png, NAME-1.png, …)')
    .option('--upscale <k>', 'write each pixel as k × k (default: enough for 128 px, e.g. 4 for the built-in 32 px model)', integerArg(1, 64))
    .option('--grid', 'with --n > 1: one PNG with the images side by side in rows (⌈√n⌉ columns) instead of one file per image')
    .option('--quiet', 'no progress bar or summary')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (prompt: string, a: GenerateArgs) => runGenerate(prompt, a, io));
}

const outName = (out: string, i: number, n: number) => (n === 1 ? out : out.replace(/(\.png)?$/i, `-${i}.png`));

async function runGenerate(prompt: string, a: GenerateArgs, io: CliIo): Promise<void> {
  if (!/\.png$/i.test(a.out)) throw new UsageError(`--out must name a .png file, got ${a.out}`);
  if (a.strength !== undefined && !a.image) throw new UsageError('--strength goes with --image (image-to-image)');
  if (a.mask && !a.image) throw new UsageError('--mask goes with --image (inpainting)');
  const init = a.image ? await readPngRgb(a.image) : undefined;
  const mask = a.mask ? await readPngRgb(a.mask) : undefined;
  if (init && mask && (mask.width !== init.width || mask.height !== init.height)) {
    throw new UsageError(`--mask is ${mask.width}×${mask.height} but --image is ${init.width}×${init.height}; they must have one size`);
  }
  if (init && ((a.width !== undefined && a.width !== init.width) || (a.height !== undefined && a.height !== init.height))) {
    throw new UsageError(`--image is ${init.width}×${init.height}; drop --width/--height (the output has the init image's size)`);
  }
  const { loadStableDiffusion } = await import('../pipelines/node.js');
  const folder = (await shippedPipelineDir(a.model)) ?? a.model;
  const quiet = a.quiet === true || a.json === true;
  const loading = progressBar(io, quiet, 'loading');
  const started = performance.now();
  const pipe = await loadStableDiffusion(folder, { onComponent: (_, done, total) => loading.update(done, total, 'components') }).finally(() => loading.stop());
  const loadSeconds = (performance.now() - started) / 1000;
  const bar = progressBar(io, quiet, 'steps');
  const stepStart = performance.now();
  const request: ImageRequest = {
    prompt, guidanceRescale: a.guidanceRescale, seed: a.seed, rng: a.rng, n: a.n,
    ...(a.steps !== undefined ? { steps: a.steps } : {}),
    ...(a.clipSkip !== undefined ? { clipSkip: a.clipSkip } : {}),
    ...(a.guidance !== undefined ? { guidance: a.guidance } : {}),
    ...(a.negative !== undefined ? { negativePrompt: a.negative } : {}),
    ...(init ? { width: init.width, height: init.height, image: tile(init.rgb, a.n), ...(a.strength !== undefined ? { strength: a.strength } : {}) } : {}),
    ...(mask ? { mask: tile(luminance(mask.rgb), a.n) } : {}),
    ...(!init && a.width !== undefined ? { width: a.width } : {}),
    ...(!init && a.height !== undefined ? { height: a.height } : {}),
    ...(a.sampler ? { sampler: a.sampler, options: a.opt } : Object.keys(a.opt).length ? { options: a.opt } : {}),
    onStep: (s) => bar.update(s.step, s.total, `steps | NFE ${s.nfe}`),
  };
  const out = await pipe.generate(request).finally(() => bar.stop());
  const seconds = (performance.now() - stepStart) / 1000;
  const files: string[] = [];
  const k = a.upscale ?? Math.max(1, Math.ceil(128 / Math.max(out.width, out.height)));
  if (a.grid && out.n > 1) {
    const columns = Math.ceil(Math.sqrt(out.n));
    const sheet = tileImages(Array.from({ length: out.n }, (_, i) => toRgba(out, i)), out.width, out.height, columns);
    const [w, h] = [columns * out.width, Math.ceil(out.n / columns) * out.height];
    await writeRgbaPng(a.out, upscale(sheet, w, h, k), k * w, k * h);
    files.push(a.out);
  } else {
    for (let i = 0; i < out.n; i++) {
      const file = outName(a.out, i, out.n);
      await writeRgbaPng(file, upscale(toRgba(out, i), out.width, out.height, k), k * out.width, k * out.height);
      files.push(file);
    }
  }
  const summary = {
    model: a.model, prompt, sampler: out.sampler, steps: out.steps, nfe: out.nfe, width: out.width, height: out.height, n: out.n, seed: a.seed,
    loadSeconds, seconds, secondsPerStep: seconds / Math.max(out.steps, 1), files, ...(out.truncated ? { truncated: out.truncated } : {}),
  };
  if (out.truncated) io.stderr.write(`diffuse: warning: the prompt was truncated to the text encoder's ${pipe.parts.tokenizer.maxLength} tokens; cut: "${out.truncated}"\n`);
  if (a.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else if (!a.quiet) {
    io.stdout.write(`${out.sampler}, ${out.steps} steps, NFE ${out.nfe}: ${out.n} image${out.n > 1 ? 's' : ''} ${out.width}×${out.height} in ${seconds.toFixed(2)} s (${(1000 * summary.secondsPerStep).toFixed(0)} ms/step; loading ${loadSeconds.toFixed(2)} s)\nwrote ${files.join(', ')}\n`);
  }
}

/** RGBA images of one size in rows of `columns` (tiles touch; unused cells black). */
function tileImages(images: Uint8ClampedArray[], width: number, height: number, columns: number): Uint8ClampedArray {
  const rows = Math.ceil(images.length / columns);
  const out = new Uint8ClampedArray(columns * width * rows * height * 4);
  for (let k = 3; k < out.length; k += 4) out[k] = 255;
  images.forEach((img, i) => {
    const [x0, y0] = [(i % columns) * width, Math.floor(i / columns) * height];
    for (let y = 0; y < height; y++) out.set(img.subarray(4 * y * width, 4 * (y + 1) * width), 4 * ((y0 + y) * columns * width + x0));
  });
  return out;
}

/** The init image repeated for n images. */
function tile(rgb: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * rgb.length);
  for (let i = 0; i < n; i++) out.set(rgb, i * rgb.length);
  return out;
}

/** Grayscale as diffusers' mask processor converts it (ITU-R 601 luma). */
function luminance(rgb: Float32Array): Float32Array {
  const plane = rgb.length / 3;
  return Float32Array.from({ length: plane }, (_, k) => 0.299 * rgb[k] + 0.587 * rgb[plane + k] + 0.114 * rgb[2 * plane + k]);
}

/** RGBA bytes with each pixel repeated k × k (nearest neighbour). */
function upscale(rgba: Uint8ClampedArray, width: number, height: number, k: number): Uint8ClampedArray {
  if (k === 1) return rgba;
  const out = new Uint8ClampedArray(width * height * k * k * 4);
  for (let y = 0; y < height * k; y++) {
    for (let x = 0; x < width * k; x++) out.set(rgba.subarray(4 * (Math.floor(y / k) * width + Math.floor(x / k)), 4 * (Math.floor(y / k) * width + Math.floor(x / k)) + 4), 4 * (y * width * k + x));
  }
  return out;
}
