import { PfgmProcess } from './process.js';
import { UsageError } from '../core/errors.js';
import { exp, log } from '../core/math.js';

/**
 * The exact PFGM++ field of a finite data set {y_k} with weights w_k (Xu et al. 2023, §3–4).
 * The posterior over the data point given x at radius r is
 *   π_k(x, r) ∝ w_k (‖x − y_k‖² + r²)^{−(N+D)/2},
 * so E[y | x, r] = Σ_k π_k y_k, and the field's direction gives the ODE (Xu et al. 2023, §3)
 *   dx/dr = E(x̃)_x / E(x̃)_r = (x − E[y | x, r]) / r.
 * At D = Infinity the weights are the Gaussian ones of EDM's x = y + σε.
 */
export class PfgmDataOracle {
  readonly process: PfgmProcess;
  readonly k: number;
  private readonly logWeights: Float64Array;

  constructor(
    readonly points: Float64Array,
    readonly dim: number,
    augment: number,
    weights?: ArrayLike<number>,
  ) {
    this.process = new PfgmProcess(dim, augment);
    if (!(points.length > 0 && points.length % dim === 0)) {
      throw new UsageError(`PFGM++ data: ${points.length} values is not a positive multiple of N=${dim}`);
    }
    this.k = points.length / dim;
    const w = weights ?? new Float64Array(this.k).fill(1);
    if (w.length !== this.k) throw new UsageError(`PFGM++ data: weights need one entry per point (${this.k}), got ${w.length}`);
    let sum = 0;
    for (let i = 0; i < w.length; i++) {
      if (!(w[i] >= 0 && Number.isFinite(w[i]))) throw new UsageError(`PFGM++ data: weights must be finite and ≥ 0, got ${w[i]}`);
      sum += w[i];
    }
    if (!(sum > 0)) throw new UsageError('PFGM++ data: weights must not all be 0');
    this.logWeights = Float64Array.from(w, (v) => log(v / sum));
  }

  /** π_k(x, r = σ√D) for the sample at x[off..off+N) into out (length K). */
  posteriorWeights(x: Float64Array, off: number, sigma: number, out = new Float64Array(this.k)): Float64Array {
    const { dim, points } = this;
    let max = -Infinity;
    for (let k = 0; k < this.k; k++) {
      let d2 = 0;
      for (let j = 0; j < dim; j++) {
        const e = x[off + j] - points[k * dim + j];
        d2 += e * e;
      }
      out[k] = this.logWeights[k] + this.process.logKernel(d2, sigma);
      if (out[k] > max) max = out[k];
    }
    let sum = 0;
    for (let k = 0; k < this.k; k++) sum += out[k] = exp(out[k] - max);
    for (let k = 0; k < this.k; k++) out[k] /= sum;
    return out;
  }

  /** E[y | x, r = σ√D] for n samples (the PFGM++ analogue of a denoiser D(x; σ)). */
  denoise(x: Float64Array, n: number, sigma: number): Float64Array {
    const { dim, points } = this;
    if (x.length !== n * dim) throw new UsageError(`PFGM++ oracle expects ${n}×${dim} values, got ${x.length}`);
    const out = new Float64Array(x.length);
    const pi = new Float64Array(this.k);
    for (let i = 0; i < n; i++) {
      this.posteriorWeights(x, i * dim, sigma, pi);
      for (let k = 0; k < this.k; k++) {
        if (pi[k] === 0) continue;
        for (let j = 0; j < dim; j++) out[i * dim + j] += pi[k] * points[k * dim + j];
      }
    }
    return out;
  }
}
