import type { GaussianMixture } from '../models/oracle/gmm.js';
import type { MeanReverting } from './process.js';
import { UsageError } from '../core/errors.js';

/**
 * What a mean-reverting network predicts (MRS, Li et al. 2025, §3.3 and App. A), with y = x − μ,
 * y_t = α y0 + σ ε, σ = λσ̃, α² + σ̃² = 1:
 *   noise ε;  data x0;  velocity v = αλε − σ̃ y0 (Salimans & Ho's v of y/λ, times λ),
 * so that x0 = αx − σ̃v + (1 − α)μ and ε = (αv + σ̃ (x − μ))/λ.
 */
export type MrPrediction = 'noise' | 'data' | 'velocity';
/** Every MrPrediction, for validating user input. */
export const mrPredictions: readonly MrPrediction[] = ['noise', 'data', 'velocity'];

/** A mean-reverting model: its output for n samples at time t, conditioned on μ (n×d values, or d shared). */
export interface MrModel {
  readonly prediction: MrPrediction;
  readonly dim: number;
  /** The model's `prediction` (n×dim values) for the n samples x (n×dim) at time t ∈ [0, 1], given the mean μ. */
  predict(x: Float64Array, n: number, t: number, mu: Float64Array): Promise<Float64Array>;
}

/** μ_i for sample i's element j: μ holds one row per sample or one row for all. */
export function muAt(mu: Float64Array, dim: number, i: number): number {
  return mu.length === dim ? mu[i % dim] : mu[i];
}

export function checkMu(mu: Float64Array, n: number, dim: number): void {
  if (mu.length !== dim && mu.length !== n * dim) {
    throw new UsageError(`μ must hold d=${dim} values (shared) or n×d=${n}×${dim}, got ${mu.length}`);
  }
}

/** Convert a model output at (α, σ) to the data prediction x̂0 (MRS App. A). */
export function toData(p: MeanReverting, t: number, prediction: MrPrediction, x: Float64Array, out: Float64Array, mu: Float64Array, dim: number): Float64Array {
  const a = p.alpha(t);
  const s = p.sigma(t);
  const su = s / p.lambda;
  for (let i = 0; i < out.length; i++) {
    const m = muAt(mu, dim, i);
    const y = x[i] - m;
    if (prediction === 'noise') out[i] = m + (y - s * out[i]) / a;
    else if (prediction === 'velocity') out[i] = m + a * y - su * out[i];
  }
  return out;
}

/** Convert a model output at (α, σ) to the noise prediction ε̂ (MRS App. A). */
export function toNoise(p: MeanReverting, t: number, prediction: MrPrediction, x: Float64Array, out: Float64Array, mu: Float64Array, dim: number): Float64Array {
  const a = p.alpha(t);
  const s = p.sigma(t);
  const su = s / p.lambda;
  for (let i = 0; i < out.length; i++) {
    const y = x[i] - muAt(mu, dim, i);
    if (prediction === 'data') out[i] = (y - a * (out[i] - muAt(mu, dim, i))) / s;
    else if (prediction === 'velocity') out[i] = (a * out[i] + su * y) / p.lambda;
  }
  return out;
}

/**
 * The exact mean-reverting model of x0 ~ Gaussian mixture (independent of μ). Since
 * x_t − (1 − α)μ = α x0 + σ ε, the mixture's own closed-form posterior at (α, σ) applies to the
 * shifted point; equivalently, y0 = x0 − μ is the mixture with its means shifted by −μ.
 */
export class MrOracle implements MrModel {
  readonly dim: number;
  constructor(
    readonly gmm: GaussianMixture,
    readonly process: MeanReverting,
    readonly prediction: MrPrediction = 'noise',
  ) {
    if (!mrPredictions.includes(prediction)) throw new UsageError(`unknown mean-reverting prediction "${String(prediction)}"; accepted: ${mrPredictions.join(', ')}`);
    this.dim = gmm.d;
  }

  /** `predictSync`, resolved as a promise. */
  predict(x: Float64Array, n: number, t: number, mu: Float64Array): Promise<Float64Array> {
    return Promise.resolve(this.predictSync(x, n, t, mu));
  }

  /** The exact noise, data or velocity prediction (per `prediction`) at time t; needs σ(t) > 0. */
  predictSync(x: Float64Array, n: number, t: number, mu: Float64Array): Float64Array {
    const { dim, process: p } = this;
    if (x.length !== n * dim) throw new UsageError(`mean-reverting oracle expects ${n}×${dim} values, got ${x.length}`);
    checkMu(mu, n, dim);
    const a = p.alpha(t);
    const s = p.sigma(t);
    if (!(s > 0)) throw new UsageError(`the mean-reverting oracle needs σ > 0; σ(${t}) = 0`);
    const z = x.map((v, i) => v - (1 - a) * muAt(mu, dim, i));
    const x0 = new Float64Array(x.length);
    const eps = new Float64Array(x.length);
    this.gmm.posterior(z, n, a, s, x0, eps);
    if (this.prediction === 'data') return x0;
    if (this.prediction === 'noise') return eps;
    const su = s / p.lambda;
    return eps.map((e, i) => a * p.lambda * e - su * (x0[i] - muAt(mu, dim, i)));
  }
}
