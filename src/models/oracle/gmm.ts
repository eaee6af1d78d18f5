import type { Model } from '../types.js';
import type { Process } from '../../process/types.js';
import { checkPrediction, fromDataCoefficients, type Prediction } from '../../param/convert.js';
import { UsageError } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import { exp, log } from '../../core/math.js';
import { checkCount, LIMITS } from '../../core/limits.js';

/** A Gaussian mixture with diagonal covariances, in the problem-file format of shared/refs. */
export interface GmmSpec {
  d: number;
  K: number;
  weights: number[];
  means: number[][];
  covariance_type: 'diag';
  variances: number[][];
}

/**
 * x0 ~ Σ_k w_k N(μ_k, diag v_k); a finite data set is the special case v_k = 0 (point masses).
 * For x_t = αx0 + σε everything is closed-form (shared/refs/README.md):
 *   C_k = α²v_k + σ², r_k ∝ w_k N(x_t; αμ_k, C_k),
 *   E[x0|x_t] = Σ_k r_k (μ_k + αv_k/C_k (x_t − αμ_k)),  ε̂ = σ Σ_k r_k (x_t − αμ_k)/C_k.
 * The second form of ε̂ stays exact as σ → 0, which the ground-truth ODE needs.
 */
export class GaussianMixture {
  readonly d: number;
  readonly K: number;
  readonly logWeights: Float64Array;
  readonly means: Float64Array; // K × d
  readonly variances: Float64Array; // K × d

  constructor(spec: GmmSpec) {
    const { d, K } = spec;
    checkCount(d, 'gmm.d', 1, LIMITS.dims);
    checkCount(K, 'gmm.K', 1, LIMITS.components);
    usageIf(spec.covariance_type === 'diag', `gmm.covariance_type must be "diag", got ${JSON.stringify(spec.covariance_type)}`);
    usageIf(Array.isArray(spec.weights) && spec.weights.length === K, `gmm.weights must have K=${K} entries`);
    const wsum = spec.weights.reduce((a, b) => a + b, 0);
    usageIf(spec.weights.every((w) => Number.isFinite(w) && w >= 0) && wsum > 0, 'gmm.weights must be finite, ≥ 0 and not all 0');
    usageIf(Number.isFinite(wsum), 'gmm.weights overflow when summed; scale them down (only their ratios matter)');
    this.d = d;
    this.K = K;
    this.logWeights = Float64Array.from(spec.weights, (w) => log(w / wsum));
    this.means = flatten(spec.means, K, d, 'means');
    this.variances = flatten(spec.variances, K, d, 'variances');
    usageIf(this.variances.every((v) => v >= 0), 'gmm.variances must be ≥ 0');
  }

  /** Posterior responsibilities r_k for one sample x (length d) into r (length K). */
  private responsibilities(x: Float64Array, off: number, alpha: number, s2: number, r: Float64Array): void {
    const { d, K, means, variances } = this;
    let max = -Infinity;
    for (let k = 0; k < K; k++) {
      let q = 0;
      let logdet = 0;
      for (let j = 0; j < d; j++) {
        const c = alpha * alpha * variances[k * d + j] + s2;
        const e = x[off + j] - alpha * means[k * d + j];
        q += (e * e) / c;
        logdet += log(c);
      }
      r[k] = this.logWeights[k] - 0.5 * (q + logdet);
      if (r[k] > max) max = r[k];
    }
    let sum = 0;
    for (let k = 0; k < K; k++) {
      r[k] = exp(r[k] - max);
      sum += r[k];
    }
    for (let k = 0; k < K; k++) r[k] /= sum;
  }

  /** E[x0 | x_t] and ε̂ for n samples at (α, σ); either output may be omitted. */
  posterior(x: Float64Array, n: number, alpha: number, sigma: number, x0?: Float64Array, eps?: Float64Array): void {
    const { d, K, means, variances } = this;
    const s2 = sigma * sigma;
    const r = new Float64Array(K);
    x0?.fill(0);
    eps?.fill(0);
    for (let i = 0; i < n; i++) {
      const off = i * d;
      this.responsibilities(x, off, alpha, s2, r);
      for (let k = 0; k < K; k++) {
        const rk = r[k];
        if (rk === 0) continue;
        for (let j = 0; j < d; j++) {
          const v = variances[k * d + j];
          const c = alpha * alpha * v + s2;
          const e = x[off + j] - alpha * means[k * d + j];
          if (x0) x0[off + j] += rk * (means[k * d + j] + ((alpha * v) / c) * e);
          if (eps) eps[off + j] += (rk * sigma * e) / c;
        }
      }
    }
  }

  /** Log-density of x0 under the mixture (for metrics). */
  logDensity(x: Float64Array, off = 0): number {
    const { d, K, means, variances } = this;
    let max = -Infinity;
    const terms = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      let q = 0;
      for (let j = 0; j < d; j++) {
        const v = variances[k * d + j];
        const e = x[off + j] - means[k * d + j];
        q += (e * e) / v + log(2 * Math.PI * v);
      }
      terms[k] = this.logWeights[k] - 0.5 * q;
      if (terms[k] > max) max = terms[k];
    }
    let s = 0;
    for (let k = 0; k < K; k++) s += exp(terms[k] - max);
    return max + log(s);
  }

  /** n exact draws of x0. */
  sample(n: number, rng: Rng): Float64Array {
    const { d, K, means, variances } = this;
    const out = new Float64Array(n * d);
    const cdf = new Float64Array(K);
    let acc = 0;
    for (let k = 0; k < K; k++) cdf[k] = acc += exp(this.logWeights[k]);
    for (let i = 0; i < n; i++) {
      const u = rng.uniform() * acc;
      let k = 0;
      while (k < K - 1 && cdf[k] <= u) k++;
      for (let j = 0; j < d; j++) {
        out[i * d + j] = means[k * d + j] + Math.sqrt(variances[k * d + j]) * rng.normal();
      }
    }
    return out;
  }

  /**
   * Index of the component most likely to have produced x: argmax_k log w_k + log N(x; μ_k, diag v_k)
   * (the mode a sample belongs to, as shared/refs counts mode flips). With a zero variance anywhere
   * the densities degenerate, and the nearest mean is used.
   */
  likeliestComponent(x: Float64Array, off = 0): number {
    const { d, K, means, variances } = this;
    if (variances.some((v) => !(v > 0))) return this.nearestMode(x, off);
    let best = 0;
    let bestLog = -Infinity;
    for (let k = 0; k < K; k++) {
      let q = this.logWeights[k];
      for (let j = 0; j < d; j++) {
        const v = variances[k * d + j];
        const e = x[off + j] - means[k * d + j];
        q -= 0.5 * ((e * e) / v + log(v));
      }
      if (q > bestLog) {
        bestLog = q;
        best = k;
      }
    }
    return best;
  }

  /** Index of the nearest component mean. */
  nearestMode(x: Float64Array, off = 0): number {
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < this.K; k++) {
      let s = 0;
      for (let j = 0; j < this.d; j++) {
        const e = x[off + j] - this.means[k * this.d + j];
        s += e * e;
      }
      if (s < bestD) {
        bestD = s;
        best = k;
      }
    }
    return best;
  }
}

/**
 * A finite data set as a mixture of point masses (variances 0), equally weighted unless weights
 * are given: the "memorising" optimal denoiser whose E[x0 | x_t] is a softmax over the points.
 */
export function finiteDataSet(points: readonly (readonly number[])[], weights?: readonly number[]): GmmSpec {
  usageIf(points.length > 0, 'a finite data set needs at least one point');
  const d = points[0].length;
  usageIf(points.every((p) => p.length === d), `every data point must have d=${d} values`);
  usageIf(weights === undefined || weights.length === points.length, `weights must have one entry per point (${points.length})`);
  return {
    d,
    K: points.length,
    weights: weights ? [...weights] : points.map(() => 1),
    means: points.map((p) => [...p]),
    covariance_type: 'diag',
    variances: points.map(() => new Array<number>(d).fill(0)),
  };
}

/** The exact model of a Gaussian mixture under a process, returning any prediction type. */
export class GmmOracle implements Model {
  readonly sampleShape: readonly number[];
  readonly prediction: Prediction;
  constructor(
    readonly gmm: GaussianMixture,
    readonly process: Process,
    prediction: Prediction | string = 'epsilon',
  ) {
    this.prediction = checkPrediction(prediction);
    this.sampleShape = [gmm.d];
  }

  /** predictSync's result, resolved (Model.predict). */
  predict(x: Float64Array, n: number, t: number): Promise<Float64Array> {
    return Promise.resolve(this.predictSync(x, n, t));
  }

  /**
   * The exact prediction for n samples x (row-major, n×d) at process time t, synchronously: ε̂ or
   * E[x0 | x_t] from the mixture's posterior, other types converted from E[x0 | x_t].
   */
  predictSync(x: Float64Array, n: number, t: number): Float64Array {
    if (x.length !== n * this.gmm.d) {
      throw new UsageError(`oracle expects ${n}×${this.gmm.d} values, got ${x.length}`);
    }
    const alpha = this.process.alpha(t);
    const sigma = this.process.sigma(t);
    const out = new Float64Array(x.length);
    if (this.prediction === 'epsilon') {
      this.gmm.posterior(x, n, alpha, sigma, undefined, out);
      return out;
    }
    this.gmm.posterior(x, n, alpha, sigma, out);
    if (this.prediction === 'sample') return out;
    const [a, b] = fromDataCoefficients(this.process, t, this.prediction);
    for (let i = 0; i < out.length; i++) out[i] = a * x[i] + b * out[i];
    return out;
  }
}

function usageIf(ok: boolean, message: string): void {
  if (!ok) throw new UsageError(message);
}

function flatten(rows: number[][], K: number, d: number, what: string): Float64Array {
  usageIf(Array.isArray(rows) && rows.length === K, `gmm.${what} must have K=${K} rows`);
  const out = new Float64Array(K * d);
  rows.forEach((r, k) => {
    usageIf(Array.isArray(r) && r.length === d, `gmm.${what}[${k}] must have d=${d} values`);
    r.forEach((v, j) => {
      usageIf(Number.isFinite(v), `gmm.${what}[${k}][${j}] is not a finite number`);
      out[k * d + j] = v;
    });
  });
  return out;
}
