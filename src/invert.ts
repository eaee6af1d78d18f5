import type { Model } from './models/types.js';
import type { Process } from './process/types.js';
import { makeGrid, checkGrid, type GridSpec } from './grid/index.js';
import { processX0, validateX0, x0Defaults, type X0Options } from './samplers/x0.js';
import { firstNonFinite } from './core/vec.js';
import { RunError, UsageError } from './core/errors.js';
import { sizeOf, tensor, type Tensor } from './core/tensor.js';
import { Denoiser } from './models/denoiser.js';
import { findSampler, resolveOptions } from './samplers/index.js';
import { samplerContext } from './sample.js';

/** What {@link invert} maps back to noise: the samples, the model and the grid to walk upward. */
export interface InvertRequest {
  /** The model, predicting ε, v or x0 for DDIM's step (any type with another `sampler`). */
  model: Model;
  /** The forward process of the model (its α, σ). */
  process: Process;
  /** A generation grid (non-increasing times); inversion walks it upward, from its last time to its first. */
  grid: GridSpec | Float64Array;
  /** The samples at the grid's last time (usually clean data), n × dim. */
  x: Float64Array;
  /** x̂0 clipping / thresholding, as diffusers' DDIMInverseScheduler clip_sample. */
  options?: Partial<X0Options>;
  /**
   * Where the model is evaluated on a step t → T upward: 'next' at T, on the sample still at t (the
   * usual approximation ε(x_t, T) ≈ ε(x_t, t) of DDIM inversion, as diffusers' DDIMInverseScheduler
   * and the inversion pipelines call it), or 'current' at t.
   */
  modelAt?: 'next' | 'current';
  /**
   * Another deterministic solver run upward instead of DDIM's step (e.g. dpmpp-2m, as diffusers'
   * DPMSolverMultistepInverseScheduler), with its options; the model is then evaluated at each step's
   * lower time, as in generation.
   */
  sampler?: string;
  /** Options of `sampler`, by its option names (unknown names are refused); unused by DDIM's own step. */
  samplerOptions?: Readonly<Record<string, unknown>>;
  /**
   * Progress: called before each step with the step index (0-based) and the model calls so far,
   * then once more at the end with step = total.
   */
  onStep?: (info: { step: number; total: number; nfe: number }) => void;
}

/** What {@link invert} returns: the noise it reached, the model calls and the grid. */
export interface InvertResult {
  /** The samples at the grid's first time. */
  x: Tensor<'float64'>;
  /** Model calls spent. */
  nfe: number;
  /**
   * The grid used: as given (non-increasing) for DDIM's step, reversed (increasing, the order walked)
   * for another `sampler`.
   */
  grid: Float64Array;
}

/**
 * DDIM inversion (Song et al. 2021, §4.3; Dhariwal & Nichol 2021, App. F): the deterministic DDIM
 * step run upward, x_T = α_T x̂0 + σ_T ε̂ with (x̂0, ε̂) read from the model at the current level t,
 * mapping data to the noise that DDIM maps back to (approximately) the same data. At t with σ = 0
 * (a clean start) x̂0 = x and ε̂ is the model's noise estimate, as diffusers takes it.
 */
export async function invert(req: InvertRequest): Promise<InvertResult> {
  const { model, process: p } = req;
  const grid = req.grid instanceof Float64Array ? req.grid : makeGrid(p, req.grid);
  checkGrid(p, grid);
  const options: X0Options = { ...x0Defaults, ...req.options };
  validateX0(options);
  const dim = sizeOf(model.sampleShape);
  const n = req.x.length / dim;
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`x has ${req.x.length} values, not a whole number of samples of ${dim}`);
  if (model.prediction !== 'epsilon' && model.prediction !== 'v_prediction' && model.prediction !== 'sample') {
    throw new UsageError(`DDIM inversion reads ε, v or x0 predictions; the model predicts ${model.prediction}`);
  }
  if (req.sampler && req.sampler !== 'ddim') return invertWith(req, grid, n, dim);
  const at = req.modelAt ?? 'next';
  let x = Float64Array.from(req.x);
  let nfe = 0;
  const total = grid.length - 1;
  for (let k = 0; k < total; k++) {
    const t = grid[total - k];
    const T = grid[total - k - 1];
    req.onStep?.({ step: k, total, nfe });
    const out = await model.predict(x, n, at === 'next' ? T : t);
    nfe++;
    const bad = firstNonFinite(out);
    if (bad >= 0) throw new RunError(`model output is ${out[bad]} at inversion step ${k}, t=${at === 'next' ? T : t} (sample ${Math.floor(bad / dim)}, element ${bad % dim})`);
    const { x0, eps } = split(model.prediction, out, x, p.alpha(t), p.sigma(t));
    processX0(x0, n, options);
    const [aT, sT] = [p.alpha(T), p.sigma(T)];
    x = x0.map((v, i) => aT * v + sT * eps[i]);
  }
  req.onStep?.({ step: total, total, nfe });
  return { x: tensor('float64', [n, ...model.sampleShape], x), nfe, grid };
}

/** (x̂0, ε̂) from a model output at level (α, σ), for ε, v and x0 predictions (diffusers' conversions). */
function split(prediction: string, out: Float64Array, x: Float64Array, a: number, s: number): { x0: Float64Array; eps: Float64Array } {
  if (prediction === 'epsilon') return { x0: x.map((v, i) => (v - s * out[i]) / a), eps: Float64Array.from(out) };
  if (prediction === 'v_prediction') return { x0: x.map((v, i) => a * v - s * out[i]), eps: x.map((v, i) => a * out[i] + s * v) };
  if (!(s > 0)) throw new UsageError('an x0-predicting model gives no noise estimate at σ = 0: start the inversion above the clean end');
  return { x0: Float64Array.from(out), eps: x.map((v, i) => (v - a * out[i]) / s) };
}

/**
 * A deterministic solver run on the grid reversed (increasing times): the exponential integrators
 * and linear multistep methods step in λ or t either way (h < 0 here), which is how diffusers'
 * DPMSolverMultistepInverseScheduler inverts.
 */
async function invertWith(req: InvertRequest, grid: Float64Array, n: number, dim: number): Promise<InvertResult> {
  const entry = findSampler(req.sampler as string);
  if (entry.stochastic) throw new UsageError(`inversion needs a deterministic sampler; ${entry.name} draws noise`);
  const options = resolveOptions(entry, req.samplerOptions ?? {});
  const up = Float64Array.from(grid).reverse();
  if (!(req.process.sigma(up[0]) > 0)) throw new UsageError(`a solver inversion starts above the clean end (σ > 0); the grid's last time ${up[0]} has σ = 0 (diffusers' inverse schedulers start at t = 0)`);
  const denoiser = new Denoiser(req.model, req.process);
  const ctx = samplerContext(denoiser, n, dim, () => {
    throw new UsageError('inversion runs deterministic samplers only');
  }, req.onStep);
  const x = await entry.run(Float64Array.from(req.x), up, ctx, options);
  req.onStep?.({ step: up.length - 1, total: up.length - 1, nfe: denoiser.nfe });
  return { x: tensor('float64', [n, ...req.model.sampleShape], x), nfe: denoiser.nfe, grid: up };
}
