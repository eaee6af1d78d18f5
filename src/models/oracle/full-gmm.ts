import type { Model } from '../types.js';
import type { Process } from '../../process/types.js';
import type { GaussianMixture } from './gmm.js';
import { checkPrediction, fromDataCoefficients, type Prediction } from '../../param/convert.js';
import { UsageError, usage } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import { exp, log } from '../../core/math.js';
import { cholSolve, cholesky, logDetFromCholesky, matVec, symmetrize } from '../../core/linalg.js';
import { checkCount, LIMITS } from '../../core/limits.js';

/**
 * x0 ~ Σ_k w_k N(μ_k, Σ_k) with full covariances: the class that posteriors of linear-Gaussian
 * measurements live in. Under x_t = αx0 + σε each component stays Gaussian (Bishop 2006, §2.3.3):
 *   C_k = α²Σ_k + σ²I,  r_k ∝ w_k N(x_t; αμ_k, C_k),
 *   m_k = E[x0 | x_t, k] = μ_k + αΣ_k C_k⁻¹(x_t − αμ_k),  Cov[x0 | x_t, k] = σ² Σ_k C_k⁻¹.
 */
export class FullGaussianMixture {
  readonly d: number;
  readonly K: number;
  /** Normalised log-weights; −∞ for a component of weight 0. */
  readonly logWeights: Float64Array;
  readonly means: Float64Array; // K × d
  readonly covariances: Float64Array; // K × d × d
  private factors: (Float64Array | undefined)[] | undefined;

  /** weights ≥ 0 (normalised here) or log-weights, means K×d, covariances K×d×d (symmetric PSD). */
  constructor(d: number, weights: { weights: ArrayLike<number> } | { logWeights: ArrayLike<number> }, means: Float64Array, covariances: Float64Array) {
    usage(Number.isInteger(d) && d > 0, `mixture dimension must be a positive integer, got ${d}`);
    const lw = 'logWeights' in weights ? Float64Array.from(weights.logWeights) : Float64Array.from(weights.weights, (w) => log(w));
    const K = lw.length;
    usage(K > 0 && lw.every((v) => v < Infinity && !Number.isNaN(v)), 'mixture weights must be finite, ≥ 0 and at least one');
    usage(means.length === K * d, `mixture means must hold K×d = ${K}×${d} values, got ${means.length}`);
    usage(covariances.length === K * d * d, `mixture covariances must hold K×d×d = ${K}×${d}×${d} values, got ${covariances.length}`);
    usage(means.every(Number.isFinite) && covariances.every(Number.isFinite), 'mixture means and covariances must be finite');
    let max = -Infinity;
    for (const v of lw) max = Math.max(max, v);
    usage(max > -Infinity, 'mixture weights must not all be 0');
    let sum = 0;
    for (const v of lw) sum += exp(v - max);
    const norm = max + log(sum);
    this.d = d;
    this.K = K;
    this.logWeights = lw.map((v) => v - norm);
    this.means = Float64Array.from(means);
    this.covariances = Float64Array.from(covariances);
    for (let k = 0; k < K; k++) symmetrize(this.covariances.subarray(k * d * d, (k + 1) * d * d), d);
  }

  /** The same mixture with diagonal covariances written out in full. */
  static fromDiagonal(g: GaussianMixture): FullGaussianMixture {
    const { d, K } = g;
    const cov = new Float64Array(K * d * d);
    for (let k = 0; k < K; k++) for (let j = 0; j < d; j++) cov[k * d * d + j * d + j] = g.variances[k * d + j];
    return new FullGaussianMixture(d, { logWeights: g.logWeights }, g.means, cov);
  }

  /** The mixture of the listed components only, weights renormalised (a class-conditional prior). */
  subset(components: readonly number[]): FullGaussianMixture {
    const { d } = this;
    usage(components.length > 0 && components.every((k) => Number.isInteger(k) && k >= 0 && k < this.K),
      `components must be indices in 0..${this.K - 1}, got [${components.join(', ')}]`);
    const dd = d * d;
    const means = new Float64Array(components.length * d);
    const cov = new Float64Array(components.length * dd);
    components.forEach((k, i) => {
      means.set(this.means.subarray(k * d, (k + 1) * d), i * d);
      cov.set(this.covariances.subarray(k * dd, (k + 1) * dd), i * dd);
    });
    return new FullGaussianMixture(d, { logWeights: components.map((k) => this.logWeights[k]) }, means, cov);
  }

  /** Exact mean and covariance of the mixture (law of total covariance). */
  moments(): { mean: Float64Array; covariance: Float64Array } {
    const { d, K } = this;
    const mean = new Float64Array(d);
    const covariance = new Float64Array(d * d);
    for (let k = 0; k < K; k++) {
      const w = exp(this.logWeights[k]);
      for (let j = 0; j < d; j++) mean[j] += w * this.means[k * d + j];
    }
    for (let k = 0; k < K; k++) {
      const w = exp(this.logWeights[k]);
      for (let i = 0; i < d; i++) {
        const ei = this.means[k * d + i] - mean[i];
        for (let j = 0; j < d; j++) {
          covariance[i * d + j] += w * (this.covariances[k * d * d + i * d + j] + ei * (this.means[k * d + j] - mean[j]));
        }
      }
    }
    return { mean, covariance };
  }

  /** n exact draws: a component by its weight, then μ_k + L_k z with L_k L_kᵀ = Σ_k. */
  sample(n: number, rng: Rng): Float64Array {
    const { d, K } = this;
    this.factors ??= Array.from({ length: K }, (_, k) => cholesky(this.covariances.subarray(k * d * d, (k + 1) * d * d), d, true));
    const cdf = new Float64Array(K);
    let acc = 0;
    for (let k = 0; k < K; k++) cdf[k] = acc += exp(this.logWeights[k]);
    const out = new Float64Array(n * d);
    const z = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const u = rng.uniform() * acc;
      let k = 0;
      while (k < K - 1 && cdf[k] <= u) k++;
      const L = this.factors[k];
      if (!L) throw new UsageError(`mixture component ${k} has a covariance that is not positive semi-definite`);
      rng.fillNormal(z);
      for (let r = 0; r < d; r++) {
        let s = this.means[k * d + r];
        for (let c = 0; c <= r; c++) s += L[r * d + c] * z[c];
        out[i * d + r] = s;
      }
    }
    return out;
  }

  /** Cholesky factors of Σ_k, for the density of the data itself; throws on a singular Σ_k. */
  private precisionFactors(): Float64Array[] {
    const { d, K } = this;
    return Array.from({ length: K }, (_, k) => {
      const L = cholesky(this.covariances.subarray(k * d * d, (k + 1) * d * d), d);
      if (!L) throw new UsageError(`mixture component ${k} has a singular covariance: its density at t = 0 is not defined`);
      return L;
    });
  }

  /**
   * log p(x) and the score ∇ log p(x) = −Σ_k r_k Σ_k⁻¹(x − μ_k) of the data density (t = 0) for n
   * points, with r_k the responsibilities; all covariances must be non-singular.
   */
  logDensity(x: Float64Array, n: number): { logp: Float64Array; score: Float64Array } {
    const { d, K } = this;
    usage(x.length === n * d, `expected ${n}×${d} values, got ${x.length}`);
    const factors = this.precisionFactors();
    const logdet = factors.map((L) => logDetFromCholesky(L, d));
    const logp = new Float64Array(n);
    const score = new Float64Array(n * d);
    const lg = new Float64Array(K);
    const z = new Float64Array(K * d);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let k = 0; k < K; k++) {
        let q = 0;
        for (let j = 0; j < d; j++) z[k * d + j] = x[i * d + j] - this.means[k * d + j];
        const e = z.slice(k * d, (k + 1) * d);
        cholSolve(factors[k], d, z, k * d);
        for (let j = 0; j < d; j++) q += e[j] * z[k * d + j];
        lg[k] = this.logWeights[k] - 0.5 * (q + logdet[k] + d * log(2 * Math.PI));
        max = Math.max(max, lg[k]);
      }
      let sum = 0;
      for (let k = 0; k < K; k++) sum += exp(lg[k] - max);
      logp[i] = max + log(sum);
      for (let k = 0; k < K; k++) {
        const r = exp(lg[k] - logp[i]);
        for (let j = 0; j < d; j++) score[i * d + j] -= r * z[k * d + j];
      }
    }
    return { logp, score };
  }

  /**
   * The highest mode of the density: the Gaussian-mixture mean-shift fixed point
   * x ← (Σ_k r_k Σ_k⁻¹)⁻¹ Σ_k r_k Σ_k⁻¹ μ_k (Carreira-Perpiñán 2007, Eq. 8) started at every component
   * mean, keeping the end point of highest density.
   */
  mode(iterations = 500): { x: Float64Array; logp: number } {
    const { d, K } = this;
    const factors = this.precisionFactors();
    const precision = factors.map((L) => {
      const P = new Float64Array(d * d);
      for (let j = 0; j < d; j++) P[j * d + j] = 1;
      for (let j = 0; j < d; j++) cholSolve(L, d, P, j * d);
      return symmetrize(P, d);
    });
    let best = { x: new Float64Array(d), logp: -Infinity };
    for (let start = 0; start < K; start++) {
      const x = this.means.slice(start * d, (start + 1) * d);
      for (let it = 0; it < iterations; it++) {
        const r = this.responsibilities(x, factors);
        const H = new Float64Array(d * d);
        const b = new Float64Array(d);
        const pm = new Float64Array(d);
        for (let k = 0; k < K; k++) {
          if (r[k] === 0) continue;
          for (let i = 0; i < d * d; i++) H[i] += r[k] * precision[k][i];
          matVec(precision[k], d, d, this.means, k * d, pm);
          for (let j = 0; j < d; j++) b[j] += r[k] * pm[j];
        }
        const L = cholesky(symmetrize(H, d), d);
        if (!L) break;
        cholSolve(L, d, b);
        let step = 0;
        for (let j = 0; j < d; j++) step = Math.max(step, Math.abs(b[j] - x[j]));
        x.set(b);
        if (step < 1e-13) break;
      }
      const lp = this.logDensity(x, 1).logp[0];
      if (lp > best.logp) best = { x, logp: lp };
    }
    return best;
  }

  private responsibilities(x: Float64Array, factors: Float64Array[]): Float64Array {
    const { d, K } = this;
    const lg = new Float64Array(K);
    let max = -Infinity;
    for (let k = 0; k < K; k++) {
      const e = new Float64Array(d);
      for (let j = 0; j < d; j++) e[j] = x[j] - this.means[k * d + j];
      const z = Float64Array.from(e);
      cholSolve(factors[k], d, z);
      let q = 0;
      for (let j = 0; j < d; j++) q += e[j] * z[j];
      lg[k] = this.logWeights[k] - 0.5 * (q + logDetFromCholesky(factors[k], d));
      max = Math.max(max, lg[k]);
    }
    let sum = 0;
    for (let k = 0; k < K; k++) sum += lg[k] = exp(lg[k] - max);
    return lg.map((v) => v / sum);
  }

  /** Everything about x0 given x_t = αx0 + σε for n samples x (σ > 0). */
  noisy(x: Float64Array, n: number, alpha: number, sigma: number): NoisyPosterior {
    return new NoisyPosterior(this, x, n, alpha, sigma);
  }
}

/**
 * The exact posterior of x0 given x_t under a full-covariance mixture: responsibilities, component
 * means, E[x0 | x_t], the component scores g_k = ∇ log N(x_t; αμ_k, C_k) = −C_k⁻¹(x_t − αμ_k) and
 * products with the Jacobian ∂E[x0|x_t]/∂x_t = (α/σ²) Cov[x0 | x_t] (Tweedie's second-order
 * identity; Meng et al. 2021, Eq. 6), which is symmetric, so it is also the vector–Jacobian product.
 */
export class NoisyPosterior {
  readonly n: number;
  /** log(w_k N(x_t; αμ_k, C_k)), n×K. */
  readonly logits: Float64Array;
  /** Responsibilities p(k | x_t), n×K. */
  readonly r: Float64Array;
  /** Component posterior means m_k, n×K×d. */
  readonly m: Float64Array;
  /** Component scores g_k, n×K×d. */
  readonly g: Float64Array;
  /** E[x0 | x_t], n×d. */
  readonly x0: Float64Array;
  private readonly factors: Float64Array[];
  private spreads: (Float64Array | undefined)[] | undefined;

  constructor(
    readonly mixture: FullGaussianMixture,
    x: Float64Array,
    n: number,
    readonly alpha: number,
    readonly sigma: number,
  ) {
    const { d, K, means, covariances, logWeights } = mixture;
    usage(x.length === n * d, `expected ${n}×${d} values, got ${x.length}`);
    usage(sigma > 0 && alpha > 0, `the noisy-time posterior needs α > 0 and σ > 0, got α=${alpha}, σ=${sigma}`);
    this.n = n;
    const dd = d * d;
    const a2 = alpha * alpha;
    const s2 = sigma * sigma;
    const logdet = new Float64Array(K);
    this.factors = [];
    for (let k = 0; k < K; k++) {
      const C = new Float64Array(dd);
      for (let i = 0; i < dd; i++) C[i] = a2 * covariances[k * dd + i];
      for (let j = 0; j < d; j++) C[j * d + j] += s2;
      const L = cholesky(C, d);
      if (!L) throw new UsageError(`component ${k}: α²Σ + σ²I is not positive definite (σ=${sigma}); is Σ symmetric PSD?`);
      this.factors.push(L);
      logdet[k] = logDetFromCholesky(L, d);
    }
    this.logits = new Float64Array(n * K);
    this.r = new Float64Array(n * K);
    this.m = new Float64Array(n * K * d);
    this.g = new Float64Array(n * K * d);
    this.x0 = new Float64Array(n * d);
    const e = new Float64Array(d);
    const se = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let k = 0; k < K; k++) {
        const base = (i * K + k) * d;
        for (let j = 0; j < d; j++) e[j] = x[i * d + j] - alpha * means[k * d + j];
        const z = Float64Array.from(e);
        cholSolve(this.factors[k], d, z);
        let q = 0;
        for (let j = 0; j < d; j++) q += e[j] * z[j];
        const lg = logWeights[k] - 0.5 * (q + logdet[k] + d * log(2 * Math.PI));
        this.logits[i * K + k] = lg;
        max = Math.max(max, lg);
        matVec(covariances.subarray(k * dd, (k + 1) * dd), d, d, z, 0, se);
        for (let j = 0; j < d; j++) {
          this.g[base + j] = -z[j];
          this.m[base + j] = means[k * d + j] + alpha * se[j];
        }
      }
      let sum = 0;
      for (let k = 0; k < K; k++) sum += this.r[i * K + k] = exp(this.logits[i * K + k] - max);
      for (let k = 0; k < K; k++) {
        const rk = (this.r[i * K + k] /= sum);
        if (rk === 0) continue;
        for (let j = 0; j < d; j++) this.x0[i * d + j] += rk * this.m[(i * K + k) * d + j];
      }
    }
  }

  /**
   * `draws` exact draws of x0 | x_t for each sample, n×draws×d: a component k with probability r_k,
   * then N(m_k, σ²Σ_kC_k⁻¹) (the covariance in the class comment; Σ_k and C_k⁻¹ commute).
   */
  sample(draws: number, rng: Rng): Float64Array {
    const { d, K, covariances } = this.mixture;
    const { n } = this;
    checkCount(draws, 'draws', 1, LIMITS.samples);
    const dd = d * d;
    this.spreads ??= this.factors.map((L, k) => {
      const P = covariances.slice(k * dd, (k + 1) * dd);
      for (let j = 0; j < d; j++) cholSolve(L, d, P, j * d);
      for (let i = 0; i < dd; i++) P[i] *= this.sigma * this.sigma;
      return cholesky(symmetrize(P, d), d, true);
    });
    const out = new Float64Array(n * draws * d);
    const z = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let s = 0; s < draws; s++) {
        let u = rng.uniform();
        let k = 0;
        while (k < K - 1 && u >= this.r[i * K + k]) u -= this.r[i * K + k++];
        const S = this.spreads[k];
        if (!S) throw new UsageError(`component ${k}: the posterior covariance at σ=${this.sigma} is not positive semi-definite`);
        rng.fillNormal(z);
        const o = (i * draws + s) * d;
        const base = (i * K + k) * d;
        for (let r = 0; r < d; r++) {
          let v = this.m[base + r];
          for (let c = 0; c <= r; c++) v += S[r * d + c] * z[c];
          out[o + r] = v;
        }
      }
    }
    return out;
  }

  /**
   * (∂E[x0|x_t]/∂x_t) v for each sample (v is n×d): with Cov[x0|x_t] = Σ_k r_k(σ²Σ_kC_k⁻¹ +
   * (m_k − m)(m_k − m)ᵀ), J v = α Σ_k r_k Σ_k C_k⁻¹ v + (α/σ²) Σ_k r_k (m_k − m)(m_k − m)ᵀ v.
   */
  vjp(v: Float64Array): Float64Array {
    const { d, K, covariances } = this.mixture;
    const { n, alpha, sigma } = this;
    usage(v.length === n * d, `vector–Jacobian product needs ${n}×${d} values, got ${v.length}`);
    const dd = d * d;
    const out = new Float64Array(n * d);
    const z = new Float64Array(d);
    const sz = new Float64Array(d);
    const between = alpha / (sigma * sigma);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < K; k++) {
        const rk = this.r[i * K + k];
        if (rk === 0) continue;
        z.set(v.subarray(i * d, (i + 1) * d));
        cholSolve(this.factors[k], d, z);
        matVec(covariances.subarray(k * dd, (k + 1) * dd), d, d, z, 0, sz);
        const base = (i * K + k) * d;
        let proj = 0;
        for (let j = 0; j < d; j++) proj += (this.m[base + j] - this.x0[i * d + j]) * v[i * d + j];
        for (let j = 0; j < d; j++) {
          out[i * d + j] += rk * (alpha * sz[j] + between * proj * (this.m[base + j] - this.x0[i * d + j]));
        }
      }
    }
    return out;
  }
}

/** A model whose x0 (and Jacobian) can be differentiated exactly: what DPS and ΠGDM need. */
export interface DifferentiableDenoiser {
  /** The process whose time t denoiseWithVjp reads. */
  readonly process: Process;
  /** Shape of one sample, e.g. [2]. */
  readonly sampleShape: readonly number[];
  /** E[x0 | x_t] for n samples and its vector–Jacobian product v ↦ vᵀ ∂x̂0/∂x_t, per sample. */
  denoiseWithVjp(x: Float64Array, n: number, t: number): {
    /** E[x0 | x_t], n×d. */
    x0: Float64Array;
    /** vᵀ ∂x̂0/∂x_t for each sample's row of v (n×d), at the x and t given. */
    vjp(v: Float64Array): Float64Array;
  };
}

/** The exact model of a full-covariance mixture under a process, returning any prediction type. */
export class FullGmmOracle implements Model, DifferentiableDenoiser {
  readonly sampleShape: readonly number[];
  readonly prediction: Prediction;
  constructor(
    readonly mixture: FullGaussianMixture,
    readonly process: Process,
    prediction: Prediction | string = 'sample',
  ) {
    this.prediction = checkPrediction(prediction);
    this.sampleShape = [mixture.d];
  }

  /** The exact posterior of x0 given x_t for n samples x at process time t (α, σ from the process). */
  posteriorAt(x: Float64Array, n: number, t: number): NoisyPosterior {
    return this.mixture.noisy(x, n, this.process.alpha(t), this.process.sigma(t));
  }

  /** E[x0 | x_t] and its exact vector–Jacobian product, both from posteriorAt (DifferentiableDenoiser.denoiseWithVjp). */
  denoiseWithVjp(x: Float64Array, n: number, t: number): {
    /** E[x0 | x_t], n×d. */
    x0: Float64Array;
    /** vᵀ ∂x̂0/∂x_t per sample (v is n×d): NoisyPosterior.vjp, the Jacobian being symmetric. */
    vjp(v: Float64Array): Float64Array;
  } {
    const post = this.posteriorAt(x, n, t);
    return { x0: post.x0, vjp: (v) => post.vjp(v) };
  }

  /** The exact prediction of this oracle's type: E[x0 | x_t] converted by fromDataCoefficients (Model.predict). */
  predict(x: Float64Array, n: number, t: number): Promise<Float64Array> {
    const out = this.posteriorAt(x, n, t).x0;
    if (this.prediction === 'sample') return Promise.resolve(out);
    const [a, b] = fromDataCoefficients(this.process, t, this.prediction);
    for (let i = 0; i < out.length; i++) out[i] = a * x[i] + b * out[i];
    return Promise.resolve(out);
  }
}
