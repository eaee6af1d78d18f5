import type { Model } from './models/types.js';
import type { Process } from './process/types.js';
import { Denoiser } from './models/denoiser.js';
import { makeGrid, checkGrid, type GridSpec } from './grid/index.js';
import { findSampler, resolveOptions } from './samplers/index.js';
import type { NoiseSampler, SampleContext } from './samplers/types.js';
import type { OptionValue } from './samplers/types.js';
import { Rng } from './core/rng.js';
import { sizeOf, tensor, type Tensor } from './core/tensor.js';
import { UsageError } from './core/errors.js';
import { LIMITS } from './core/limits.js';

/** Progress of a run: the step about to start (or the total at the end) and the model calls so far. */
export interface StepInfo {
  step: number;
  total: number;
  nfe: number;
}

/** One sampling run: the model, its process, the sampler and its options, the grid, the batch and its start. */
export interface SampleRequest {
  model: Model;
  process: Process;
  /** Sampler name or alias (see `diffuse list`). */
  sampler: string;
  options?: Readonly<Record<string, unknown>>;
  /** A grid spec, or explicit decreasing process times. Default: the sampler's own default grid. */
  grid?: GridSpec | Float64Array;
  /** Steps for the default grid (ignored when `grid` is given). */
  steps?: number;
  /** Number of samples (default 64). */
  n?: number;
  /** Seed of the generator for x_T (stream 0) and sampler noise (stream 1). */
  seed?: number;
  /** x_T in process coordinates (n × dim); default priorStd(t_0)·z with z from the seed. */
  xT?: Float64Array;
  /** Replayed noise for stochastic samplers: a function, or one array per draw. */
  noise?: NoiseSampler | readonly Float64Array[];
  /**
   * After the last grid time (if σ > 0 there), replace x by one more data prediction D(x, t_N)
   * (DPM-Solver's denoise_to_zero; one extra NFE).
   */
  denoiseToZero?: boolean;
  onStep?: (info: StepInfo) => void;
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
export async function sample(req: SampleRequest): Promise<SampleResult> {
  const entry = findSampler(req.sampler);
  const options = resolveOptions(entry, req.options);
  const { process: p, model } = req;
  const grid = resolveGrid(p, req.grid, req.steps, entry.defaultGrid);
  const dim = sizeOf(model.sampleShape);
  const n = req.n ?? (req.xT ? req.xT.length / dim : 64);
  if (!(Number.isInteger(n) && n >= 1 && n <= LIMITS.samples)) throw new UsageError(`n must be an integer from 1 to ${LIMITS.samples}, got ${n}`);
  const seed = req.seed ?? 0;
  const rng = new Rng(seed);
  let xT: Float64Array;
  if (req.xT) {
    if (req.xT.length !== n * dim) throw new UsageError(`x_T has ${req.xT.length} values; expected n×dim = ${n}×${dim}`);
    xT = Float64Array.from(req.xT);
    const bad = xT.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new UsageError(`x_T holds ${xT[bad]} at sample ${Math.floor(bad / dim)}, value ${bad % dim}; every value of x_T must be finite`);
  } else {
    xT = rng.fork(0).fillNormal(new Float64Array(n * dim));
    const scale = p.priorStd(grid[0]);
    for (let i = 0; i < xT.length; i++) xT[i] *= scale;
  }
  const denoiser = new Denoiser(model, p);
  const ctx = samplerContext(denoiser, n, dim, noiseSource(req.noise, rng.fork(1), n * dim), req.onStep);
  let x = await entry.run(Float64Array.from(xT), grid, ctx, options);
  const tLast = grid[grid.length - 1];
  if (req.denoiseToZero && p.sigma(tLast) > 0) x = await ctx.denoise(x, tLast);
  req.onStep?.({ step: grid.length - 1, total: grid.length - 1, nfe: denoiser.nfe });
  return {
    x: tensor('float64', [n, ...model.sampleShape], x),
    xT,
    nfe: denoiser.nfe,
    grid,
    sampler: entry.name,
    options,
  };
}

/** The grid a run steps through: explicit times (checked), a grid spec, or the fallback (the sampler's default) with `steps`. */
/** What a sampler runs with: the denoiser (counting NFE), the batch, its noise and progress reporting. */
export function samplerContext(denoiser: Denoiser, n: number, dim: number, noise: () => Float64Array, onStep?: (info: StepInfo) => void): SampleContext {
  return {
    process: denoiser.process,
    n,
    dim,
    denoise: (x, t) => denoiser.denoise(x, n, t),
    noise,
    step: (i, total) => {
      denoiser.step = i;
      onStep?.({ step: i, total, nfe: denoiser.nfe });
    },
  };
}

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
