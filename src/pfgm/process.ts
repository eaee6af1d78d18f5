import type { Rng } from '../core/rng.js';
import { UsageError } from '../core/errors.js';
import { log, log1p, pow } from '../core/math.js';

/**
 * PFGM++ (Xu et al. 2023, "PFGM++: Unlocking the Potential of Physics-Inspired Generative
 * Models"): data y ∈ R^N is augmented with D extra dimensions, and the electric field of the data
 * placed on the hyperplane z = 0 defines the process. At augmented radius r = ‖z‖ the
 * perturbation kernel is (§3, Prop. 3.2)
 *   p_r(x | y) ∝ (‖x − y‖² + r²)^{−(N+D)/2},
 * and r = σ√D aligns it with EDM's x = y + σε: as D → ∞ at fixed σ the kernel tends to N(y, σ²I)
 * (Theorem 4.1). The kernel is a multivariate Student-t with D degrees of freedom and scale σ:
 * its radius R = ‖x − y‖ has R²/r² ~ BetaPrime(N/2, D/2) (Appendix B), i.e. R² = r²·B/(1 − B)
 * with B ~ Beta(N/2, D/2), which is how the official code samples it.
 */
export class PfgmProcess {
  constructor(
    /** Data dimension N. */
    readonly n: number,
    /** Augmented dimensions D (> 0); Infinity is the EDM limit x = y + σε. */
    readonly augment: number,
  ) {
    if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`PFGM++ needs a data dimension N that is an integer ≥ 1, got ${n}`);
    if (!(augment > 0)) throw new UsageError(`PFGM++ needs D > 0 augmented dimensions (Infinity: the EDM limit), got ${augment}`);
  }

  /** r = σ√D (Xu et al. 2023, Theorem 4.1, the alignment with EDM). */
  radiusOfSigma(sigma: number): number {
    return sigma * Math.sqrt(this.augment);
  }

  /** One draw of R²/r² ~ BetaPrime(N/2, D/2) = B/(1 − B), B ~ Beta(N/2, D/2), as G_N/G_D for gammas. */
  private squaredRadiusRatio(rng: Rng): number {
    return sampleGamma(rng, this.n / 2) / sampleGamma(rng, this.augment / 2);
  }

  /**
   * `count` perturbations x − y at noise level σ (N values each): radius R with R²/r² ~
   * BetaPrime(N/2, D/2), times a uniform direction on the sphere (Xu et al. 2023, Appendix B).
   * With D = Infinity, σ·ε with ε ~ N(0, I).
   */
  samplePerturbation(count: number, sigma: number, rng: Rng): Float64Array {
    const { n } = this;
    const out = rng.fillNormal(new Float64Array(count * n));
    if (this.augment === Infinity) {
      for (let i = 0; i < out.length; i++) out[i] *= sigma;
      return out;
    }
    const r = this.radiusOfSigma(sigma);
    for (let i = 0; i < count; i++) {
      let norm2 = 0;
      for (let j = 0; j < n; j++) norm2 += out[i * n + j] * out[i * n + j];
      const scale = (r * Math.sqrt(this.squaredRadiusRatio(rng))) / Math.sqrt(norm2);
      for (let j = 0; j < n; j++) out[i * n + j] *= scale;
    }
    return out;
  }

  /** log p_r(x | y) up to a constant: −(N+D)/2 · log(1 + ‖x − y‖²/r²) (Prop. 3.2; Gaussian at D = ∞). */
  logKernel(dist2: number, sigma: number): number {
    if (this.augment === Infinity) return -dist2 / (2 * sigma * sigma);
    const r = this.radiusOfSigma(sigma);
    return -((this.n + this.augment) / 2) * log1p(dist2 / (r * r));
  }
}

/**
 * A Gamma(shape, 1) draw: Marsaglia & Tsang 2000 ("A simple method for generating gamma
 * variables") for shape ≥ 1; for shape < 1, Gamma(shape + 1)·U^{1/shape}.
 */
export function sampleGamma(rng: Rng, shape: number): number {
  if (shape < 1) return sampleGamma(rng, shape + 1) * pow(1 - rng.uniform(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = 1 - rng.uniform();
    if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
  }
}
