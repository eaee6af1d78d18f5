import type { Process } from '../process/types.js';
import { UsageError } from '../core/errors.js';
import { exp, expm1, log, log1p } from '../core/math.js';

/**
 * Mean-reverting SDE of IR-SDE (Luo et al. 2023, Eq. 1–3; MRS, Li et al. 2025, Eq. 4–6):
 *   dx = θ_t (μ − x) dt + σ_t dW,  σ_t² = 2λ²θ_t,
 * whose marginal is x_t = μ + (x0 − μ) e^{−θ̄_t} + λ√(1 − e^{−2θ̄_t}) ε. In y = x − μ this is the
 * linear-Gaussian process y_t = α_t y0 + σ_t ε with α_t = e^{−θ̄_t}, σ_t = λ√(1 − α_t²), which is
 * what this Process describes; the shift by μ lives in src/mr/oracle.ts and src/mr/sampler.ts.
 * θ is constant in t ∈ [0, 1]: θ̄_t = θ̄_1·t (IR-SDE's discrete cosine θ_i only reparametrises t).
 */
export interface MeanRevertingConfig {
  /** Stationary standard deviation λ (IR-SDE's max_sigma; 50/255 for its denoising model). */
  lambda?: number;
  /** θ̄ at t = 1; the default −log 0.005 is IR-SDE's choice e^{−θ̄_T} = 0.005. */
  thetaBar?: number;
  /** Smallest time grids end at by default. */
  tMin?: number;
}

/** IR-SDE's mean-reverting process in y = x − μ (see MeanRevertingConfig): α_t = e^{−θ̄_1 t}, σ_t = λ√(1 − α_t²), t ∈ [0, 1]. */
export class MeanReverting implements Process {
  readonly name = 'mean-reverting';
  readonly tMax = 1;
  readonly tZero = 0;
  readonly tMin: number;
  readonly lambda: number;
  readonly thetaBar: number;
  readonly config: Readonly<Record<string, unknown>>;
  constructor(c: MeanRevertingConfig = {}) {
    this.lambda = c.lambda ?? 50 / 255;
    this.thetaBar = c.thetaBar ?? -log(0.005);
    this.tMin = c.tMin ?? 1e-4;
    if (!(this.lambda > 0 && Number.isFinite(this.lambda))) throw new UsageError(`mean-reverting lambda must be a finite number > 0, got ${this.lambda}`);
    if (!(this.thetaBar > 0 && Number.isFinite(this.thetaBar))) throw new UsageError(`mean-reverting thetaBar must be a finite number > 0, got ${this.thetaBar}`);
    if (!(this.tMin > 0 && this.tMin < 1)) throw new UsageError(`mean-reverting tMin must be in (0, 1), got ${this.tMin}`);
    this.config = { name: this.name, lambda: this.lambda, thetaBar: this.thetaBar, tMin: this.tMin };
  }
  /** θ_t (constant) of the forward SDE. */
  theta(): number {
    return this.thetaBar;
  }
  /** α_t = e^{−θ̄_1 t}: how much of y0 = x0 − μ remains at t. */
  alpha(t: number): number {
    return exp(-this.thetaBar * t);
  }
  /** σ_t/λ = √(1 − e^{−2θ̄_t}), exact near t = 0 through expm1. */
  private unitSigma(t: number): number {
    return Math.sqrt(-expm1(-2 * this.thetaBar * t));
  }
  /** σ_t = λ√(1 − α_t²), rising from 0 at t = 0 towards the stationary λ. */
  sigma(t: number): number {
    return this.lambda * this.unitSigma(t);
  }
  logSnr(t: number): number {
    return -this.thetaBar * t - log(this.lambda) - 0.5 * log(-expm1(-2 * this.thetaBar * t));
  }
  /** e^{−2θ̄t} = u/(1 + u) with u = λ²e^{2λ_t}, so θ̄t = ½ log(1 + e^{−2λ_t}/λ²). */
  tOfLogSnr(lambdaT: number): number {
    return (0.5 * log1p(exp(-2 * lambdaT) / (this.lambda * this.lambda))) / this.thetaBar;
  }
  dAlpha(t: number): number {
    return -this.thetaBar * this.alpha(t);
  }
  /** dσ/dt = λθ̄_1 α_t² / √(1 − α_t²) (infinite at t = 0). */
  dSigma(t: number): number {
    const a = this.alpha(t);
    return (this.lambda * this.thetaBar * a * a) / this.unitSigma(t);
  }
  priorStd(t: number): number {
    return this.sigma(t);
  }
}
