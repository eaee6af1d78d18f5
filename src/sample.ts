import type { Model } from './models/types.js';
import type { Process } from './process/types.js';
import { Denoiser } from './models/denoiser.js';
import { makeGrid, checkGrid, type GridSpec } from './grid/index.js';
import { findSampler, resolveOptions, type SamplerOptions } from './samplers/index.js';
import type { NoiseSampler, OptionValue, SampleContext, SamplerEntry } from './samplers/types.js';
import { strengthStart, gridTail, noiseTo, type StrengthRule } from './img2img.js';
import { Rng } from './core/rng.js';
import { sizeOf, tensor, type Tensor } from './core/tensor.js';
import { RunError, UsageError } from './core/errors.js';
import { LIMITS } from './core/limits.js';
import { firstNonFinite } from './core/vec.js';
import { teleport, type LowRankGaussian } from './ode/teleport.js';

/** Progress of a run: the step about to start (or the total at the end) and the model calls so far. */
export interface StepInfo {
  step: number;
  total: number;
  nfe: number;
  /**
   * The batch the sampler holds at this step boundary (n × dim, the sampler's own array: copy it to
   * keep it) and its grid time, where the sampler reports it (every sampler at its step boundaries;
   * singlestep solvers at their group boundaries; time-shift samplers give no x).
   */
  x?: Float64Array;
  t?: number;
}

/**
 * One sampling run: the model, its process, the sampler and its options, the grid, the batch and its
 * start. N is the sampler's name: for Diffuse's own names (SamplerName) the options are typed, so a
 * misspelled key fails to compile.
 */
export interface SampleRequest<N extends string = string> {
  model: Model;
  process: Process;
  /** Sampler name or alias (see `diffuse list`). */
  sampler: N;
  /** The sampler's options; the rest take its defaults. */
  options?: SamplerOptions<N>;
  /** A grid spec, or explicit decreasing process times. Default: the sampler's own default grid. */
  grid?: GridSpec | Float64Array;
  /** Steps for the default grid (ignored when `grid` is given). */
  steps?: number;
  /** Number of samples (default 64, or as many as `xT`, `z` or `image` hold). */
  n?: number;
  /** Seed of the generator for x_T (stream 0) and sampler noise (stream 1). */
  seed?: number;
  /** x_T in process coordinates (n × dim); default: z scaled as `init` says. */
  xT?: Float64Array;
  /** The standard normals x_T is made of (n × dim); default: drawn from the seed's stream 0. */
  z?: Float64Array;
  /**
   * How z becomes x_T at the grid's first time t_0 (Translation.init): 'prior' priorStd(t_0)·z
   * (default), 'sigma' σ(t_0)·z, 'sigma-plus-one' √(σ(t_0)² + α(t_0)²)·z.
   */
  init?: 'prior' | 'sigma' | 'sigma-plus-one';
  /**
   * Image-to-image (SDEdit): start from these data samples (n × dim) noised with z to the grid's
   * t_start-th time (strengthStart by `rule`, default 'sd'), and run the grid's tail from there.
   */
  image?: { x0: Float64Array; strength: number; rule?: StrengthRule };
  /**
   * Gaussian teleportation (Wang & Vastola 2024; ode/teleport.ts): x_T is drawn at the process's
   * t_max as usual and carried to the grid's first time by the exact probability-flow ODE of these
   * Gaussians (one for every sample, or one per sample: e.g. its class's), at no model call. The
   * grid should then start below t_max (a grid spec's `start`). Not with `image`.
   */
  teleport?: LowRankGaussian | readonly LowRankGaussian[];
  /** Replayed noise for stochastic samplers: a function, or one array per draw. */
  noise?: NoiseSampler | readonly Float64Array[];
  /**
   * After the last grid time (if σ > 0 there), replace x by one more data prediction D(x, t_N)
   * (DPM-Solver's denoise_to_zero; one extra NFE).
   */
  denoiseToZero?: boolean;
  /** Called at the start of every step and once at the end (progress bars). */
  onStep?: (info: StepInfo) => void;
  /**
   * Change the sample in place at each grid time after the first, where the sampler holds it (every
   * step boundary; a singlestep solver's group boundaries), and once more after the last step with
   * `final` true: e.g. inpainting with a plain UNet puts the known region, noised to t, back in.
   */
  project?: (x: Float64Array, t: number, final: boolean) => void;
}

/**
 * A run resolved before any model call: the sampler, its full options, the grid it steps through,
 * the batch and x_T. sample() is planSample() then runPlan(); a caller that reports or checks the
 * run first (the CLI) resolves it once here.
 */
export interface SamplePlan {
  sampler: SamplerEntry;
  options: Record<string, OptionValue>;
  /** The times the sampler steps through (for img2img, the full grid's tail). */
  grid: Float64Array;
  /** Number of samples and values per sample. */
  n: number;
  dim: number;
  /** The sampler's start at grid[0] (with `teleport`, x_T carried there from t_max). */
  xT: Float64Array;
  /** img2img: the full grid's index where the run starts (t_start); 0 otherwise. */
  start: number;
  seed: number;
}

/** The samples at the grid's last time, the start they came from, the model calls, and the grid and options used. */
export interface SampleResult {
  x: Tensor<'float64'>;
  xT: Float64Array;
  nfe: number;
  grid: Float64Array;
  sampler: string;
  options: Record<string, OptionValue>;
}

/** Steps of a sampler's default grid when neither a grid nor a step count is given. */
export const DEFAULT_STEPS = 10;

/** Run one sampler from x_T to the end of its grid. */
export async function sample<const N extends string>(req: SampleRequest<N>): Promise<SampleResult> {
  return runPlan(planSample(req), req);
}

/** Resolve a request once: sampler, options, grid (and its img2img tail), batch size and x_T. */
export function planSample<const N extends string>(req: SampleRequest<N>): SamplePlan {
  const sampler = findSampler(req.sampler);
  const options = resolveOptions(sampler, req.options as Readonly<Record<string, unknown>> | undefined);
  const p = req.process;
  // the model's grid for this sampler (its card's rule) unless a tool's name fixes the grid (A1111's "… Karras")
  const modelGrid = sampler.named?.grid ? undefined : req.model.defaultGrid?.(req.steps ?? DEFAULT_STEPS, sampler.named?.sampler ?? sampler.name);
  const full = resolveGrid(p, namedGrid(sampler, req.grid), req.steps, modelGrid ?? sampler.defaultGrid);
  const dim = sizeOf(req.model.sampleShape);
  const given = req.xT ?? req.image?.x0 ?? req.z;
  const n = req.n ?? (given ? given.length / dim : 64);
  if (!(Number.isInteger(n) && n >= 1 && n <= LIMITS.samples)) throw new UsageError(`n must be an integer from 1 to ${LIMITS.samples}, got ${n}`);
  const seed = req.seed ?? 0;
  if (req.xT && (req.z || req.image)) throw new UsageError('give x_T, or z (with image for img2img), not both');
  let grid = full;
  let start = 0;
  if (req.image) {
    start = strengthStart(full.length - 1 - countRepeats(full), req.image.strength, req.image.rule);
    grid = gridTail(full, start);
    if (Object.hasOwn(sampler.defaults, 'offset')) options.offset = start;
  }
  let xT: Float64Array;
  if (req.xT) {
    xT = finiteValues(req.xT, n, dim, 'x_T');
  } else {
    const z = req.z ? finiteValues(req.z, n, dim, 'z') : new Rng(seed).fork(0).fillNormal(new Float64Array(n * dim));
    xT = req.image ? noiseTo(p, finiteValues(req.image.x0, n, dim, 'the image'), z, grid[0]) : scaleInit(p, z, req.teleport ? p.tMax : grid[0], req.init ?? 'prior');
  }
  if (req.teleport) {
    if (req.image) throw new UsageError('teleport starts from noise at t_max; it does not combine with image (img2img)');
    xT = teleport(p, req.teleport, xT, n, p.tMax, grid[0]);
  }
  return { sampler, options, grid, n, dim, xT, start, seed };
}

/** Run a plan: the sampler from plan.xT through plan.grid with the request's model and noise. */
export async function runPlan(plan: SamplePlan, req: Pick<SampleRequest, 'model' | 'process' | 'noise' | 'denoiseToZero' | 'onStep' | 'project'>): Promise<SampleResult> {
  const { sampler, options, grid, n, dim } = plan;
  const denoiser = new Denoiser(req.model, req.process);
  const noise = noiseSource(req.noise, new Rng(plan.seed).fork(1), n * dim);
  const project = req.project;
  if (project && sampler.family === 'time-shift') {
    throw new UsageError(`${sampler.name} moves each sample on its own shifted times, so no sample sits at the grid's times for project; use a sampler without time shift`);
  }
  const user = req.onStep;
  const onStep = user && ((info: StepInfo) => user(info.x && sampler.family !== 'time-shift' ? { ...info, t: grid[info.step] } : { step: info.step, total: info.total, nfe: info.nfe }));
  const ctx = samplerContext(denoiser, n, dim, noise, onStep, project && ((x, i) => project(x, grid[i], false)));
  let x = await sampler.run(Float64Array.from(plan.xT), grid, ctx, options);
  const tLast = grid[grid.length - 1];
  if (req.denoiseToZero && req.process.sigma(tLast) > 0) x = await ctx.denoise(x, tLast);
  project?.(x, tLast, true);
  const bad = firstNonFinite(x);
  if (bad >= 0) {
    throw new RunError(`${sampler.name} ended with ${x[bad]} at sample ${Math.floor(bad / dim)}, value ${bad % dim}, on ${req.process.name} over ${grid.length - 1} steps from t=${grid[0]}: the values overflowed (model outputs near the float64 limit, or the method diverging on this grid: try more steps, another grid or another sampler)`);
  }
  req.onStep?.({ step: grid.length - 1, total: grid.length - 1, nfe: denoiser.nfe, x, t: tLast });
  return {
    x: tensor('float64', [n, ...req.model.sampleShape], x),
    xT: plan.xT,
    nfe: denoiser.nfe,
    grid,
    sampler: sampler.name,
    options,
  };
}

/** ComfyUI's KSampler drops the next-to-last σ of whatever schedule it builds for some names (NamedRun.dropPenultimate). */
function namedGrid(sampler: SamplerEntry, grid: SampleRequest['grid']): SampleRequest['grid'] {
  if (!sampler.named?.dropPenultimate || !grid || grid instanceof Float64Array || grid.type === 'explicit' || grid.type === 'drop-penultimate') return grid;
  return { type: 'drop-penultimate', steps: grid.steps, of: grid };
}

/** A copy of n × dim given values, every one finite. */
function finiteValues(v: Float64Array, n: number, dim: number, what: string): Float64Array {
  if (v.length !== n * dim) throw new UsageError(`${what} has ${v.length} values; expected n×dim = ${n}×${dim}`);
  const bad = firstNonFinite(v);
  if (bad >= 0) throw new UsageError(`${what} holds ${v[bad]} at sample ${Math.floor(bad / dim)}, value ${bad % dim}; every value of ${what} must be finite`);
  return Float64Array.from(v);
}

/** x_T = scale·z at t_0, the scale as SampleRequest.init says. */
function scaleInit(p: Process, z: Float64Array, t0: number, init: NonNullable<SampleRequest['init']>): Float64Array {
  const [a0, s0] = [p.alpha(t0), p.sigma(t0)];
  const scale = init === 'sigma' ? s0 : init === 'sigma-plus-one' ? Math.sqrt(s0 * s0 + a0 * a0) : p.priorStd(t0);
  return z.map((v) => v * scale);
}

/** How many times of a grid repeat the one before (diffusers' Heun / KDPM2 list their second evaluations). */
const countRepeats = (g: Float64Array) => g.reduce((k, t, i) => k + (i > 0 && t === g[i - 1] ? 1 : 0), 0);

/** What a sampler runs with: the denoiser (counting NFE), the batch, its noise and progress reporting. */
export function samplerContext(
  denoiser: Denoiser, n: number, dim: number, noise: () => Float64Array, onStep?: (info: StepInfo) => void, project?: (x: Float64Array, i: number) => void,
): SampleContext {
  return {
    process: denoiser.process,
    n,
    dim,
    denoise: (x, t) => denoiser.denoise(x, n, t),
    noise,
    step: (i, total, x) => {
      denoiser.step = i;
      if (project && x && i > 0) project(x, i);
      onStep?.({ step: i, total, nfe: denoiser.nfe, ...(x ? { x } : {}) });
    },
  };
}

/** The grid a run steps through: explicit times (checked), a grid spec, or the fallback (the sampler's default) with `steps`. */
export function resolveGrid(
  p: Process, grid: GridSpec | Float64Array | undefined, steps: number | undefined, fallback: GridSpec | undefined,
): Float64Array {
  if (grid instanceof Float64Array) {
    checkGrid(p, grid);
    return grid;
  }
  if (grid) return makeGrid(p, grid);
  return makeGrid(p, defaultGrid(fallback, steps ?? DEFAULT_STEPS));
}

/** A sampler's default grid with `steps` steps; uniform in log-SNR down to σ = 0 when it names none. */
export function defaultGrid(samplerDefault: GridSpec | undefined, steps: number): GridSpec {
  const spec: GridSpec = samplerDefault ?? { type: 'logsnr', steps, end: 'zero' };
  return spec.type === 'explicit' ? spec : { ...spec, steps };
}

function noiseSource(given: SampleRequest['noise'], rng: Rng, size: number): () => Float64Array {
  if (typeof given === 'function') return () => given(new Float64Array(size));
  if (given) {
    let k = 0;
    return () => {
      if (k >= given.length) throw new UsageError(`replayed noise ran out: the sampler asked for draw ${k + 1}, ${given.length} given`);
      const z = given[k++];
      if (z.length !== size) throw new UsageError(`replayed noise draw ${k} has ${z.length} values, expected ${size}`);
      return Float64Array.from(z);
    };
  }
  return () => rng.fillNormal(new Float64Array(size));
}
