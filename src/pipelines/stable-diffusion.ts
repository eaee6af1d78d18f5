import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { TorchGenerator } from '../core/torch-rng.js';
import { Rng } from '../core/rng.js';
import { cos, exp, log, sin } from '../core/math.js';
import { toDataCoefficients } from '../param/convert.js';
import { createProcess } from '../process/index.js';
import type { Process } from '../process/types.js';
import type { Model } from '../models/types.js';
import { diffusersTimeModel } from '../models/integer-time.js';
import { classifierFreeGuidance } from '../guidance/cfg.js';
import { fromDiffusersConfig } from '../samplers/index.js';
import { planSample, runPlan, type StepInfo } from '../sample.js';
import type { GridSpec } from '../grid/index.js';
import type { StrengthRule } from '../img2img.js';
import { OnnxTextEncoder, OnnxTransformer, OnnxUnet, OnnxVae, type AddedConditions, type ExtraChannels, type TextEncoding } from './components.js';
import type { OrtSession, OrtTensorConstructor } from '../models/onnx/runtime.js';
import type { PromptTokenizer } from './tokenizer.js';

/**
 * Stable Diffusion 1.x/2.x, SDXL, LCM and SD3-class text-to-image and image-to-image over a
 * diffusers-format ONNX folder, in
 * diffusers' StableDiffusionPipeline order of operations: prompt and negative prompt tokenized
 * (padded to 77, truncated) and encoded; latents z·init_noise_sigma (the scheduler's Translation.init),
 * or for img2img the image's latents noised to the strength's first timestep; each step the UNet on
 * [negative; prompt] and CFG u + g(c − u) with guidance rescale (only when g > 1, as diffusers);
 * the image decode(latents / scaling_factor), (x / 2 + 0.5) clipped to [0, 1]. The scheduler is the
 * folder's scheduler_config.json translated to a Diffuse sampler and grid, or any Diffuse sampler.
 * SD3 (a transformer/ folder) follows StableDiffusion3Pipeline: three text encoders, a flow-matching
 * transformer fed σ·1000, and latents decoded as latents / scaling_factor + shift_factor.
 */

/** The parts of a loaded pipeline folder. */
export interface StableDiffusionParts {
  tokenizer: PromptTokenizer;
  textEncoder: OnnxTextEncoder;
  /** SDXL's second tokenizer and text encoder (CLIPTextModelWithProjection). */
  tokenizer2?: PromptTokenizer;
  textEncoder2?: OnnxTextEncoder;
  /** SDXL: an empty negative prompt is zeros, not the encoding of "" (model_index.json's force_zeros_for_empty_prompt). */
  forceZerosForEmptyPrompt?: boolean;
  /** The denoiser: a UNet (SD 1.x/2.x, SDXL, LCM) or a flow-matching transformer (SD3). */
  unet?: OnnxUnet;
  transformer?: OnnxTransformer;
  /** SD3's T5 tokenizer and text encoder (without them the T5 states are zeros, as diffusers). */
  tokenizer3?: PromptTokenizer;
  textEncoder3?: OnnxTextEncoder;
  /** The transformer's joint_attention_dim (the T5 width the prompt embedding is padded to) and patch size. */
  jointAttentionDim?: number;
  patchSize?: number;
  vaeDecoder: OnnxVae;
  vaeEncoder?: OnnxVae;
  /** scheduler/scheduler_config.json. */
  scheduler: Readonly<Record<string, unknown>>;
  /** The VAE's scaling_factor (vae_decoder/config.json; SD 1.x/2.x: 0.18215). */
  scalingFactor: number;
  /** The VAE's shift_factor (SD3: 0.0609; default 0): latents = (encoded − shift) · scaling. */
  shiftFactor: number;
  /** Latent channels (4) and the VAE's downsampling factor (8). */
  latentChannels: number;
  vaeFactor: number;
  /** Image size when the request names none (unet sample_size × vaeFactor). */
  defaultSize: number;
  /** An LCM UNet's guidance-embedding width (unet/config.json time_cond_proj_dim), when the graph does not fix it. */
  timeCondDim?: number;
  /** The folder, for messages. */
  source: string;
}

/** One text-to-image or image-to-image request. */
export interface ImageRequest {
  prompt: string;
  /** Default: diffusers' empty-prompt embedding ("" encoded; SDXL: zeros). */
  negativePrompt?: string;
  /** Inference steps of the scheduler (default 50, diffusers' default; an LCM UNet 4; SD3 28). */
  steps?: number;
  /**
   * Guidance scale g (diffusers' convention; ≤ 1: no unconditional call). Default 7.5 (SD3 7). An LCM UNet
   * (a timestep_cond input) takes it as its guidance embedding of g − 1 instead (default 8.5).
   */
  guidance?: number;
  /** φ of guidance rescale (Lin et al. 2024); default 0. */
  guidanceRescale?: number;
  /** Images to make (default 1). */
  n?: number;
  /**
   * CLIP skip (SDXL, SD3): the prompt embedding from hidden_states[−(k + 2)] of each CLIP encoder
   * instead of [−2], as diffusers' clip_skip (SD3: the prompt's, not the negative prompt's).
   * SD 1.x/2.x exports have no hidden states to skip to.
   */
  clipSkip?: number;
  seed?: number;
  /** 'torch' draws z as torch.randn on a CPU generator seeded `seed` (diffusers' bits); default Diffuse's Philox. */
  rng?: 'philox' | 'torch';
  /** The standard normals z of the initial latents (n × channels × h/8 × w/8), as diffusers' `latents` argument. */
  latents?: Float64Array;
  /** Replayed noise for stochastic samplers (LCM's re-noising): one array of the latents' size per draw. */
  noise?: readonly Float64Array[];
  /** Pixel size; multiples of the VAE factor (default: the model's). */
  width?: number;
  height?: number;
  /** Replace the folder's scheduler: any Diffuse sampler name, its options and a grid. */
  sampler?: string;
  options?: Readonly<Record<string, unknown>>;
  grid?: GridSpec;
  /** img2img: the init image(s), n × 3 × height × width in [0, 1], and strength in (0, 1] (default 0.8; inpainting 1). */
  image?: Float32Array;
  /** Inpainting (with `image`): n × height × width in [0, 1], 1 where to repaint (binarized at 0.5). */
  mask?: Float32Array;
  strength?: number;
  /**
   * Which diffusers img2img timestep rule `strength` follows. Default: "schedule" for an LCM UNet on
   * its LCMScheduler (LatentConsistencyModelImg2ImgPipeline: every step runs, on the lower part of the
   * distillation schedule), "flow" for a flow transformer (SD3's pipelines), else "sd".
   */
  strengthRule?: StrengthRule;
  /**
   * How an encoder that returns the latent distribution (latent_parameters) gives the init latents:
   * 'sample' (default, diffusers' img2img: mean + std·ε, ε drawn before the noise) or 'argmax' (the mean).
   */
  latentMode?: 'sample' | 'argmax';
  /** Called at each sampler step (progress bars). */
  onStep?: (info: StepInfo) => void;
}

/** What a pipeline run made. */
export interface GeneratedImages {
  n: number;
  width: number;
  height: number;
  /** n × 3 × height × width in [0, 1]. */
  pixels: Float32Array;
  /** The final latents (n × channels × height/8 × width/8), before decoding. */
  latents: Float64Array;
  nfe: number;
  sampler: string;
  steps: number;
  /** Prompt text the tokenizer cut off at 77 tokens ('' when none), as diffusers warns. */
  truncated: string;
}

/** What a loader read from a diffusers folder: its configs, tokenizers and one session per network. */
export interface FolderContents {
  model: Readonly<Record<string, unknown>>;
  scheduler: Readonly<Record<string, unknown>>;
  vae: Readonly<Record<string, unknown>>;
  /** unet/config.json, or transformer/config.json for a transformer folder. */
  unet: Readonly<Record<string, unknown>>;
  tokenizer: PromptTokenizer;
  tokenizer2?: PromptTokenizer;
  tokenizer3?: PromptTokenizer;
  /** text_encoder, unet or transformer, vae_decoder; text_encoder_2, text_encoder_3 and vae_encoder where the folder has them. */
  sessions: Readonly<Record<string, OrtSession>>;
  T: OrtTensorConstructor;
  /** A component's name as messages give it (a path or a URL). */
  where: (component: string) => string;
  source: string;
}

/** The parts of a pipeline from a folder's contents (the Node and the web loader share this). */
export function partsOf(c: FolderContents): StableDiffusionParts {
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback);
  const blocks = Array.isArray(c.vae.block_out_channels) ? c.vae.block_out_channels.length : 4;
  const { sessions, T, where } = c;
  return {
    tokenizer: c.tokenizer,
    textEncoder: new OnnxTextEncoder(sessions.text_encoder, T, where('text_encoder')),
    ...(c.tokenizer2 && sessions.text_encoder_2 ? { tokenizer2: c.tokenizer2, textEncoder2: new OnnxTextEncoder(sessions.text_encoder_2, T, where('text_encoder_2')) } : {}),
    ...(c.tokenizer3 && sessions.text_encoder_3 ? { tokenizer3: c.tokenizer3, textEncoder3: new OnnxTextEncoder(sessions.text_encoder_3, T, where('text_encoder_3')) } : {}),
    ...(c.model.force_zeros_for_empty_prompt === true ? { forceZerosForEmptyPrompt: true } : {}),
    ...(sessions.transformer
      ? { transformer: new OnnxTransformer(sessions.transformer, T, where('transformer')), jointAttentionDim: num(c.unet.joint_attention_dim, 4096), patchSize: num(c.unet.patch_size, 2) }
      : { unet: new OnnxUnet(sessions.unet, T, where('unet')) }),
    vaeDecoder: new OnnxVae(sessions.vae_decoder, T, 'decoder', where('vae_decoder')),
    ...(sessions.vae_encoder ? { vaeEncoder: new OnnxVae(sessions.vae_encoder, T, 'encoder', where('vae_encoder')) } : {}),
    scheduler: c.scheduler,
    scalingFactor: num(c.vae.scaling_factor, 0.18215),
    shiftFactor: typeof c.vae.shift_factor === 'number' && Number.isFinite(c.vae.shift_factor) ? c.vae.shift_factor : 0,
    latentChannels: num(c.vae.latent_channels, 4),
    vaeFactor: 1 << (blocks - 1),
    defaultSize: num(c.unet.sample_size, sessions.transformer ? 128 : 64) * (1 << (blocks - 1)),
    ...(typeof c.unet.time_cond_proj_dim === 'number' ? { timeCondDim: c.unet.time_cond_proj_dim } : {}),
    source: c.source,
  };
}

/** RGBA bytes of image i (for a canvas' ImageData or a PNG encoder). */
export function toRgba(images: GeneratedImages, i: number): Uint8ClampedArray {
  const { width, height, pixels } = images;
  const plane = width * height;
  const out = new Uint8ClampedArray(plane * 4);
  const base = i * 3 * plane;
  for (let k = 0; k < plane; k++) {
    for (let c = 0; c < 3; c++) out[4 * k + c] = Math.round(255 * pixels[base + c * plane + k]);
    out[4 * k + 3] = 255;
  }
  return out;
}

const positiveInt = (v: number, what: string, max: number) => {
  if (!(Number.isInteger(v) && v >= 1 && v <= max)) throw new UsageError(`${what} must be an integer from 1 to ${max}, got ${v}`);
  return v;
};

/**
 * The latents of a VAE encoder that returns its distribution's parameters (mean ‖ log-variance on
 * the channel axis): diffusers' DiagonalGaussianDistribution — 'sample' mean + exp(½·clamp(logvar,
 * −30, 20))·ε, 'argmax' the mean (retrieve_latents' sample modes).
 */
function latentOf(params: Float32Array, n: number, channels: number, mode: 'sample' | 'argmax', noise: (size: number) => Float64Array): Float64Array {
  const plane = params.length / (n * 2 * channels);
  const dim = channels * plane;
  const out = new Float64Array(n * dim);
  const eps = mode === 'sample' ? noise(n * dim) : undefined;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < dim; k++) {
      const mean = params[i * 2 * dim + k];
      const logvar = Math.min(20, Math.max(-30, params[i * 2 * dim + dim + k]));
      out[i * dim + k] = eps ? mean + exp(0.5 * logvar) * eps[i * dim + k] : mean;
    }
  }
  return out;
}

/**
 * LCM's guidance-scale embedding (diffusers' get_guidance_scale_embedding, after Meng et al. 2023):
 * w·1000 times dim/2 frequencies 10000^(−k/(dim/2 − 1)), sines then cosines, zero-padded to an odd dim.
 */
export function guidanceEmbedding(w: number, dim: number): Float64Array {
  const half = Math.floor(dim / 2);
  const out = new Float64Array(dim);
  for (let k = 0; k < half; k++) {
    const arg = w * 1000 * exp((-k * log(10000)) / (half - 1));
    out[k] = sin(arg);
    out[half + k] = cos(arg);
  }
  return out;
}

/**
 * The consistency model's boundary condition as LCMScheduler applies it: D = c_skip·x + c_out·x̂0 with
 * c_skip = σ_d²/((s·t)² + σ_d²), c_out = s·t/√((s·t)² + σ_d²), σ_d = 0.5 and s the timestep scaling
 * (Song et al. 2023, Eq. 4 with LCM's discrete timesteps). The result predicts x0 ('sample'). At the
 * timesteps LCM uses (t ≥ 19, s = 10) it moves x̂0 by less than 1e-5 relative.
 */
function consistencyBoundary(model: Model, process: Process, scaling: number): Model {
  return {
    prediction: 'sample',
    sampleShape: model.sampleShape,
    async predict(x, n, t) {
      const out = await model.predict(x, n, t);
      const [a, b] = toDataCoefficients(process, t, model.prediction);
      const st = scaling * t;
      const cSkip = 0.25 / (st * st + 0.25);
      const cOut = st / Math.sqrt(st * st + 0.25);
      return out.map((o, i) => cSkip * x[i] + cOut * (a * x[i] + b * o));
    },
  };
}

/** What the denoiser is conditioned on for n rows: the text encoding, SDXL's added conditions, SD3's pooled projections. */
interface UnetRows {
  text: TextEncoding;
  added?: AddedConditions;
  pooled?: Float64Array;
}

const concat32 = (a: Float32Array, b: Float32Array) => {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};
const concat64 = (a: Float64Array, b: Float64Array) => {
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

/** A text-to-image / image-to-image pipeline over loaded parts. */
export class StableDiffusion {
  readonly process: Process;

  /** `releaseSessions` frees the networks' sessions (the loaders pass it; see release()). */
  constructor(readonly parts: StableDiffusionParts, private readonly releaseSessions: () => Promise<void> = async () => undefined) {
    if (!parts.unet === !parts.transformer) throw new UsageError(`${parts.source}: a pipeline has one denoiser, a unet or a transformer`);
    // the process does not depend on a dynamic shift's μ; any value lets the config translate
    const mu = parts.scheduler.use_dynamic_shifting === true ? { mu: 1 } : {};
    this.process = createProcess(fromDiffusersConfig(parts.scheduler, 10, `${parts.source}/scheduler/scheduler_config.json`, mu).process);
  }

  /** Free the networks' sessions; the pipeline cannot run afterwards. */
  release(): Promise<void> {
    return this.releaseSessions();
  }

  /** Run one request; see ImageRequest for the defaults. */
  async generate(r: ImageRequest): Promise<GeneratedImages> {
    const p = this.parts;
    const lcm = p.unet?.condType !== undefined;
    const flow = p.transformer !== undefined;
    const steps = positiveInt(r.steps ?? (lcm ? 4 : flow ? 28 : 50), 'steps', LIMITS.steps);
    const n = positiveInt(r.n ?? 1, 'n', 64);
    const g = r.guidance ?? (lcm ? 8.5 : flow ? 7 : 7.5);
    if (!Number.isFinite(g)) throw new UsageError(`guidance must be a finite number, got ${g}`);
    const width = r.width ?? p.defaultSize;
    const height = r.height ?? p.defaultSize;
    for (const [v, what] of [[width, 'width'], [height, 'height']] as const) {
      if (!(Number.isInteger(v) && v > 0 && v % p.vaeFactor === 0 && v <= 8192)) {
        throw new UsageError(`${what} must be a positive multiple of ${p.vaeFactor} (the VAE's factor) up to 8192, got ${v}`);
      }
    }
    const shape = [p.latentChannels, height / p.vaeFactor, width / p.vaeFactor];
    const dim = shape[0] * shape[1] * shape[2];
    if (r.mask && !r.image) throw new UsageError('a mask goes with an image (inpainting)');
    const strength = r.strength ?? (r.mask ? 1 : 0.8);
    // LatentConsistencyModelImg2ImgPipeline passes strength to LCMScheduler.set_timesteps, which then
    // draws all the steps from the lower part of the distillation schedule (the 'schedule' rule)
    const lcmImg2img = lcm && !r.sampler && p.scheduler._class_name === 'LCMScheduler' && r.image !== undefined && !r.mask && strength < 1 && (r.strengthRule ?? 'schedule') === 'schedule';
    const t = fromDiffusersConfig(p.scheduler, steps, `${p.source}/scheduler/scheduler_config.json`, { ...this.dynamicShift(shape), ...(lcmImg2img ? { strength } : {}) });
    const tokens = p.tokenizer.encode(r.prompt);
    const guided = g > 1 && !lcm;
    const conditioning = await this.conditioning(r.prompt, guided ? r.negativePrompt ?? null : undefined, n, width, height, r.clipSkip ?? 0);
    const inpainting = p.unet?.inChannels === p.latentChannels + 5;
    if (inpainting && !(r.image && r.mask)) throw new UsageError(`${p.source}/unet is an inpainting UNet (${p.unet?.inChannels} input channels): pass an image and a mask`);
    const torch = r.rng === 'torch' ? new TorchGenerator(r.seed ?? 0) : undefined;
    // diffusers draws an encoder's sample from the same generator as the noise: the init image's before, the masked image's after
    const philox = new Rng(r.seed ?? 0).fork(2);
    const encoderNoise = (size: number) => (torch ? Float64Array.from(torch.randn(size)) : philox.fillNormal(new Float64Array(size)));
    const mode = r.latentMode ?? 'sample';
    // The init image's latents start img2img (strength < 1) and are what a plain UNet's inpainting blends back in.
    const blending = Boolean(r.mask) && !inpainting;
    const imageLatents = r.image && (strength < 1 || blending) ? await this.encodeImage(r.image, n, width, height, mode, encoderNoise) : undefined;
    const image = imageLatents && !(r.mask && strength >= 1) ? { x0: imageLatents, strength, rule: r.strengthRule ?? (lcmImg2img ? 'schedule' : flow ? 'flow' : 'sd') } : undefined;
    const z = r.latents ?? (torch ? Float64Array.from(torch.randn(n * dim)) : new Rng(r.seed ?? 0).fork(0).fillNormal(new Float64Array(n * dim)));
    const extra = inpainting && r.mask && r.image ? await this.maskChannels(r.image, r.mask, n, width, height, mode, encoderNoise) : undefined;
    const project = blending && r.mask && imageLatents ? this.blend(imageLatents, z, this.latentMask(r.mask, n, width, height), n) : undefined;
    const cond = lcm ? this.guidanceCondition(g, n) : undefined;
    const unetModel = this.denoiser(conditioning, n, shape, t.prediction ?? 'epsilon', g, r.guidanceRescale ?? 0, extra, cond);
    // LCMScheduler applies the consistency boundary condition to the UNet's x̂0 (Song et al. 2023, Eq. 4)
    const model = t.className === 'LCMScheduler' && !r.sampler ? consistencyBoundary(unetModel, this.process, Number(p.scheduler.timestep_scaling ?? 10)) : unetModel;
    const timed = t.modelTime ? diffusersTimeModel(model, this.process, t.modelTime, t.modelTimeScale) : model;
    const req = {
      model: timed, process: this.process,
      sampler: r.sampler ?? t.sampler, options: r.sampler ? r.options ?? {} : { ...t.options, ...r.options },
      grid: r.sampler && r.grid ? r.grid : r.grid ?? t.grid, steps,
      n, seed: r.seed ?? 0, init: t.init ?? 'prior', z, ...(image ? { image } : {}), ...(project ? { project } : {}),
      ...(r.noise ? { noise: r.noise } : torch ? { noise: (out: Float64Array) => (out.set(torch.randn(out.length)), out) } : {}),
      ...(r.onStep ? { onStep: r.onStep } : {}),
    };
    const plan = planSample(req);
    const result = await runPlan(plan, req);
    const scaled = result.x.data.map((v) => v / p.scalingFactor + p.shiftFactor);
    const decoded = await p.vaeDecoder.run(scaled, n, shape);
    if (decoded.length !== n * 3 * width * height) throw new UsageError(`${p.source}: the VAE decoder made ${decoded.length / n} values per image; expected 3 × ${height} × ${width}`);
    const pixels = decoded.map((v) => Math.min(1, Math.max(0, v / 2 + 0.5)));
    return { n, width, height, pixels, latents: result.x.data, nfe: result.nfe, sampler: result.sampler, steps: plan.grid.length - 1, truncated: tokens.truncated };
  }

  /**
   * A FlowMatch config's resolution-dependent shift (use_dynamic_shifting): μ linear in the image's
   * token count (h/patch)·(w/patch) between base_shift at base_image_seq_len and max_shift at
   * max_image_seq_len (diffusers' calculate_shift, as StableDiffusion3Pipeline calls it).
   */
  private dynamicShift(shape: readonly number[]): { mu?: number } {
    const c = this.parts.scheduler;
    if (c.use_dynamic_shifting !== true) return {};
    const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
    const patch = this.parts.patchSize ?? 2;
    const tokens = Math.floor(shape[1] / patch) * Math.floor(shape[2] / patch);
    const [baseLen, maxLen] = [num(c.base_image_seq_len, 256), num(c.max_image_seq_len, 4096)];
    const [base, max] = [num(c.base_shift, 0.5), num(c.max_shift, 1.16)];
    const m = (max - base) / (maxLen - baseLen);
    return { mu: tokens * m + base - m * baseLen };
  }

  /** An LCM UNet's timestep_cond: the guidance embedding of w = g − 1, one row per image. */
  private guidanceCondition(g: number, n: number): Float64Array {
    const dim = this.parts.unet?.condDim ?? this.parts.timeCondDim;
    if (dim === undefined) throw new UsageError(`${this.parts.source}/unet takes timestep_cond but neither the graph nor unet/config.json (time_cond_proj_dim) says its width`);
    const row = guidanceEmbedding(g - 1, dim);
    const out = new Float64Array(n * dim);
    for (let i = 0; i < n; i++) out.set(row, i * dim);
    return out;
  }

  /**
   * What the UNet is conditioned on, for the prompt and (with CFG) the negative prompt, each repeated
   * for the n images: SD's text encoder output; for SDXL both encoders' hidden_states[−2] side by side
   * and the added conditions (text_encoder_2's text_embeds; time ids: original size, crop (0, 0),
   * target size). `negative` null: no negative prompt given; undefined: no CFG.
   */
  private async conditioning(
    prompt: string, negative: string | null | undefined, n: number, width: number, height: number, clipSkip: number,
  ): Promise<{ cond: UnetRows; uncond?: UnetRows }> {
    const p = this.parts;
    if (!(Number.isInteger(clipSkip) && clipSkip >= 0)) throw new UsageError(`clipSkip must be an integer ≥ 0, got ${clipSkip}`);
    const texts = negative === undefined ? [prompt] : [negative ?? '', prompt];
    const ids = (tokenizer: PromptTokenizer) => {
      const out = new Int32Array(texts.length * tokenizer.maxLength);
      texts.forEach((q, i) => out.set(tokenizer.encode(q).ids, i * tokenizer.maxLength));
      return out;
    };
    const repeat = <T extends Float32Array | Float64Array>(v: T, rows: number, which: number, make: (k: number) => T): T => {
      const row = v.length / rows;
      const out = make(n * row);
      for (let i = 0; i < n; i++) out.set(v.subarray(which * row, (which + 1) * row), i * row);
      return out;
    };
    const k = texts.length;
    if (p.transformer) return this.sd3Conditioning(texts, n, clipSkip, repeat);
    if (!p.textEncoder2 || !p.tokenizer2) {
      if (clipSkip > 0) {
        throw new UsageError(`clipSkip needs the text encoder's hidden states before its final layer norm; this SD 1.x/2.x-style export (${p.source}) has only its output, so CLIP skip is not available (SDXL folders support it)`);
      }
      const e = await p.textEncoder.encode(ids(p.tokenizer), k);
      const rows = (which: number): UnetRows => ({ text: { hidden: repeat(e.hidden, k, which, (m) => new Float32Array(m)), tokens: e.tokens, width: e.width } });
      return { cond: rows(k - 1), ...(k === 2 ? { uncond: rows(0) } : {}) };
    }
    const [a, b] = [await p.textEncoder.encode(ids(p.tokenizer), k), await p.textEncoder2.encode(ids(p.tokenizer2), k)];
    const penultimate = (e: TextEncoding, which: string) => {
      const back = 2 + clipSkip;
      if (!e.layers || e.layers.length < back) {
        throw new UsageError(`${p.source}/${which} exports ${e.layers?.length ?? 0} hidden_states.* outputs; SDXL's prompt embedding with clipSkip ${clipSkip} needs hidden_states[-${back}]`);
      }
      return e.layers[e.layers.length - back];
    };
    if (!b.pooled) throw new UsageError(`${p.source}/text_encoder_2 has no text_embeds output, which SDXL's pooled embedding needs`);
    const [ha, hb] = [penultimate(a, 'text_encoder'), penultimate(b, 'text_encoder_2')];
    const features = a.width + b.width;
    const hidden = new Float32Array(k * a.tokens * features);
    for (let r = 0; r < k * a.tokens; r++) {
      hidden.set(ha.subarray(r * a.width, (r + 1) * a.width), r * features);
      hidden.set(hb.subarray(r * b.width, (r + 1) * b.width), r * features + a.width);
    }
    const pooled = Float64Array.from(b.pooled);
    const sizes = Float64Array.from({ length: n * 6 }, (_, j) => [height, width, 0, 0, height, width][j % 6]);
    const rows = (which: number, zero: boolean): UnetRows => ({
      text: { hidden: zero ? new Float32Array(n * a.tokens * features) : repeat(hidden, k, which, (m) => new Float32Array(m)), tokens: a.tokens, width: features },
      added: { textEmbeds: zero ? new Float64Array(n * (pooled.length / k)) : repeat(pooled, k, which, (m) => new Float64Array(m)), timeIds: sizes },
    });
    const zeros = negative === null && p.forceZerosForEmptyPrompt === true;
    return { cond: rows(k - 1, false), ...(k === 2 ? { uncond: rows(0, zeros) } : {}) };
  }

  /**
   * SD3's conditioning (StableDiffusion3Pipeline.encode_prompt): both CLIP encoders' hidden_states[−2]
   * (the prompt's with clip skip) side by side, zero-padded to the T5 width, then the T5 encoder's
   * states (max_sequence_length 256; zeros of joint_attention_dim without text_encoder_3) after them
   * on the token axis; the pooled embedding both CLIPs' text_embeds side by side.
   */
  private async sd3Conditioning(
    texts: string[], n: number, clipSkip: number, repeat: <T extends Float32Array | Float64Array>(v: T, rows: number, which: number, make: (k: number) => T) => T,
  ): Promise<{ cond: UnetRows; uncond?: UnetRows }> {
    const p = this.parts;
    const k = texts.length;
    if (!p.textEncoder2 || !p.tokenizer2) throw new UsageError(`${p.source}: an SD3 folder has text_encoder_2/ and tokenizer_2/ (the second CLIP)`);
    const ids = (tokenizer: PromptTokenizer) => {
      const out = new Int32Array(k * tokenizer.maxLength);
      texts.forEach((q, i) => out.set(tokenizer.encode(q).ids, i * tokenizer.maxLength));
      return out;
    };
    const [a, b] = [await p.textEncoder.encode(ids(p.tokenizer), k), await p.textEncoder2.encode(ids(p.tokenizer2), k)];
    const t5 = p.textEncoder3 && p.tokenizer3 ? await p.textEncoder3.encode(ids(p.tokenizer3), k) : undefined;
    const [t5Tokens, width] = t5 ? [t5.tokens, t5.width] : [256, p.jointAttentionDim ?? 4096];
    if (!a.pooled || !b.pooled) throw new UsageError(`${p.source}: SD3's pooled embedding needs text_embeds from text_encoder and text_encoder_2`);
    // diffusers encodes the negative prompt without clip skip
    const layer = (e: TextEncoding, which: string, row: number) => {
      const back = 2 + (k === 2 && row === 0 ? 0 : clipSkip);
      if (!e.layers || e.layers.length < back) throw new UsageError(`${p.source}/${which} exports ${e.layers?.length ?? 0} hidden_states.* outputs; SD3's prompt embedding needs hidden_states[-${back}]`);
      return e.layers[e.layers.length - back];
    };
    if (a.width + b.width > width) throw new UsageError(`${p.source}: the CLIP states (${a.width} + ${b.width} features) are wider than the T5 states (${width})`);
    const tokens = a.tokens + t5Tokens;
    const hidden = new Float32Array(k * tokens * width);
    for (let row = 0; row < k; row++) {
      const [ha, hb] = [layer(a, 'text_encoder', row), layer(b, 'text_encoder_2', row)];
      for (let j = 0; j < a.tokens; j++) {
        const at = (row * tokens + j) * width;
        hidden.set(ha.subarray((row * a.tokens + j) * a.width, (row * a.tokens + j + 1) * a.width), at);
        hidden.set(hb.subarray((row * b.tokens + j) * b.width, (row * b.tokens + j + 1) * b.width), at + a.width);
      }
      if (t5) hidden.set(t5.hidden.subarray(row * t5Tokens * width, (row + 1) * t5Tokens * width), (row * tokens + a.tokens) * width);
    }
    const pooledWidth = a.pooled.length / k + b.pooled.length / k;
    const pooled = new Float64Array(k * pooledWidth);
    for (let row = 0; row < k; row++) {
      pooled.set(a.pooled.subarray((row * a.pooled.length) / k, ((row + 1) * a.pooled.length) / k), row * pooledWidth);
      pooled.set(b.pooled.subarray((row * b.pooled.length) / k, ((row + 1) * b.pooled.length) / k), row * pooledWidth + a.pooled.length / k);
    }
    const rows = (which: number): UnetRows => ({
      text: { hidden: repeat(hidden, k, which, (m) => new Float32Array(m)), tokens, width },
      pooled: repeat(pooled, k, which, (m) => new Float64Array(m)),
    });
    return { cond: rows(k - 1), ...(k === 2 ? { uncond: rows(0) } : {}) };
  }

  /**
   * The denoiser as a Diffuse Model in the scheduler's process (latents x_t = α·x0 + σ·ε, what
   * diffusers' scale_model_input hands the UNet for every scheduler; a flow transformer gets
   * t·num_train_timesteps), with CFG in diffusers' convention over one doubled batch [negative;
   * prompt] when g > 1.
   */
  private denoiser(c: { cond: UnetRows; uncond?: UnetRows }, n: number, shape: number[], prediction: Model['prediction'], g: number, rescale: number, extra?: ExtraChannels, cond?: Float64Array): Model {
    const { unet, transformer } = this.parts;
    const scale = Number(this.parts.scheduler.num_train_timesteps ?? 1000);
    const net = (x: Float64Array, m: number, t: number, rows: UnetRows, e?: ExtraChannels, tc?: Float64Array) => {
      if (transformer) return transformer.predict(x, m, shape, t * scale, rows.text, rows.pooled ?? new Float64Array(0));
      if (!unet) throw new UsageError(`${this.parts.source}: no denoiser`);
      return unet.predict(x, m, shape, t, rows.text, e, tc, rows.added);
    };
    const conditional: Model = { prediction, sampleShape: shape, predict: (x, m, t) => net(x, m, t, c.cond, extra, cond) };
    if (!c.uncond) return conditional;
    const [u, p] = [c.uncond, c.cond];
    const doubledRows: UnetRows = {
      text: { hidden: concat32(u.text.hidden, p.text.hidden), tokens: p.text.tokens, width: p.text.width },
      ...(p.added && u.added ? { added: { textEmbeds: concat64(u.added.textEmbeds, p.added.textEmbeds), timeIds: concat64(u.added.timeIds, p.added.timeIds) } } : {}),
      ...(p.pooled && u.pooled ? { pooled: concat64(u.pooled, p.pooled) } : {}),
    };
    const doubledExtra = extra && { channels: extra.channels, data: concat64(extra.data, extra.data) };
    const doubledCond = cond && concat64(cond, cond);
    return classifierFreeGuidance({
      conditional,
      unconditional: { prediction, sampleShape: shape, predict: (x, m, t) => net(x, m, t, u, extra, cond) },
      scale: g,
      rescale,
      both: async (x, m, t) => {
        const out = await net(concat64(x, x), 2 * m, t, doubledRows, doubledExtra, doubledCond);
        return [out.subarray(x.length), out.subarray(0, x.length)];
      },
    });
  }


  /**
   * An inpainting UNet's extra channels (diffusers' StableDiffusionInpaintPipeline): the mask
   * binarized at 0.5 (1 = repaint) and resized to the latents by nearest neighbour, then the latents
   * (× scaling_factor) of the image with the repainted part blacked out, image · (mask < 0.5).
   */
  private async maskChannels(image: Float32Array, mask: Float32Array, n: number, width: number, height: number, mode: 'sample' | 'argmax', noise: (size: number) => Float64Array): Promise<ExtraChannels> {
    const p = this.parts;
    const plane = width * height;
    if (mask.length !== n * plane) throw new UsageError(`the mask holds ${mask.length} values; expected n × ${height} × ${width} = ${n * plane} (one value per pixel, 1 = repaint)`);
    if (image.length !== n * 3 * plane) throw new UsageError(`the init image holds ${image.length} values; expected n × 3 × ${height} × ${width} = ${n * 3 * plane}`);
    const keep = (i: number, k: number) => (mask[i * plane + k] >= 0.5 ? 0 : 1);
    const masked = image.map((v, j) => {
      const i = Math.floor(j / (3 * plane));
      return (2 * v - 1) * keep(i, j % plane);
    });
    const encoder = p.vaeEncoder;
    if (!encoder) throw new UsageError(`${p.source} has no vae_encoder/model.onnx, which inpainting needs`);
    const out = await encoder.run(masked, n, [3, height, width]);
    const latents = encoder.parameters ? latentOf(out, n, p.latentChannels, mode, noise) : Float64Array.from(out);
    const [h, w, f] = [height / p.vaeFactor, width / p.vaeFactor, p.vaeFactor];
    const dim = p.latentChannels * h * w;
    const data = new Float64Array(n * (1 + p.latentChannels) * h * w);
    for (let i = 0; i < n; i++) {
      const row = data.subarray(i * (dim + h * w), (i + 1) * (dim + h * w));
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) row[y * w + x] = 1 - keep(i, y * f * width + x * f);
      for (let k = 0; k < dim; k++) row[h * w + k] = latents[i * dim + k] * p.scalingFactor;
    }
    return { channels: 1 + p.latentChannels, data };
  }

  /** The init images' latents (× scaling_factor) through the VAE encoder, for img2img and inpainting. */
  private async encodeImage(image: Float32Array, n: number, width: number, height: number, mode: 'sample' | 'argmax', noise: (size: number) => Float64Array): Promise<Float64Array> {
    const p = this.parts;
    if (!p.vaeEncoder) throw new UsageError(`${p.source} has no vae_encoder/model.onnx, which image-to-image and inpainting need`);
    const size = 3 * width * height;
    if (image.length !== n * size) throw new UsageError(`the init image holds ${image.length} values; expected n × 3 × ${height} × ${width} = ${n * size}`);
    const out = await p.vaeEncoder.run(image.map((v) => 2 * v - 1), n, [3, height, width]);
    const latents = p.vaeEncoder.parameters ? latentOf(out, n, p.latentChannels, mode, noise) : Float64Array.from(out);
    return latents.map((v) => (v - p.shiftFactor) * p.scalingFactor);
  }

  /** The mask binarized at 0.5 and resized to the latents by nearest neighbour (diffusers: F.interpolate), 1 = repaint. */
  private latentMask(mask: Float32Array, n: number, width: number, height: number): Float64Array {
    const { vaeFactor: f } = this.parts;
    const plane = width * height;
    if (mask.length !== n * plane) throw new UsageError(`the mask holds ${mask.length} values; expected n × ${height} × ${width} = ${n * plane} (one value per pixel, 1 = repaint)`);
    const [h, w] = [height / f, width / f];
    const out = new Float64Array(n * h * w);
    for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(i * h + y) * w + x] = mask[i * plane + y * f * width + x * f] >= 0.5 ? 1 : 0;
    return out;
  }

  /**
   * Inpainting with a plain UNet (diffusers' StableDiffusionInpaintPipeline with 4 channels): after
   * every step the kept latents (mask 0) are the image's latents noised with the initial noise to
   * the next time, α(t)·x0 + σ(t)·z, and after the last step the clean latents.
   */
  private blend(x0: Float64Array, z: Float64Array, mask: Float64Array, n: number): (x: Float64Array, t: number, final: boolean) => void {
    const p = this.process;
    const plane = mask.length / n;
    const perImage = x0.length / n;
    return (x, t, final) => {
      const [a, s] = final ? [1, 0] : [p.alpha(t), p.sigma(t)];
      for (let j = 0; j < x.length; j++) {
        const i = Math.floor(j / perImage);
        if (mask[i * plane + ((j % perImage) % plane)] === 0) x[j] = a * x0[j] + s * z[j];
      }
    };
  }


}
