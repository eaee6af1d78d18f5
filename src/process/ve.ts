import type { Process } from './types.js';
import { UsageError } from '../core/errors.js';
import { exp, log } from '../core/math.js';

/**
 * EDM's process (Karras et al. 2022, Table 1): x = x0 + σε with time t = σ itself, so α = 1,
 * λ = −log σ. Karras grids, k-diffusion samplers and EDM preconditioning live in this coordinate.
 */
export interface EdmConfig {
  /** Smallest σ, the default end of sampling grids (default 0.002). */
  sigmaMin?: number;
  /** Largest σ, where sampling starts (default 80). */
  sigmaMax?: number;
  /** Standard deviation of the data, for EDM's preconditioning (default 0.5). */
  sigmaData?: number;
}

/** EDM's process (Karras et al. 2022): x_t = x0 + σε with t = σ, on [sigmaMin, sigmaMax]. */
export class Edm implements Process {
  readonly name = 'edm';
  readonly tMax: number;
  readonly tMin: number;
  readonly tZero = 0;
  readonly sigmaData: number;
  readonly config: Readonly<Record<string, unknown>>;
  constructor(c: EdmConfig = {}) {
    this.tMin = c.sigmaMin ?? 0.002;
    this.tMax = c.sigmaMax ?? 80;
    this.sigmaData = c.sigmaData ?? 0.5;
    if (!(this.tMin > 0 && this.tMax > this.tMin)) {
      throw new UsageError(`edm needs 0 < sigmaMin < sigmaMax, got sigmaMin=${this.tMin}, sigmaMax=${this.tMax}`);
    }
    this.config = { name: this.name, sigmaMin: this.tMin, sigmaMax: this.tMax, sigmaData: this.sigmaData };
  }
  /** α = 1 at every t (Process.alpha). */
  alpha(): number {
    return 1;
  }
  /** σ(t) = t (Process.sigma). */
  sigma(t: number): number {
    return t;
  }
  /** λ(t) = −log t (Process.logSnr). */
  logSnr(t: number): number {
    return -log(t);
  }
  /** t = σ = e^{−λ} (Process.tOfLogSnr). */
  tOfLogSnr(lambda: number): number {
    return exp(-lambda);
  }
  /** dα/dt = 0 (Process.dAlpha). */
  dAlpha(): number {
    return 0;
  }
  /** dσ/dt = 1 (Process.dSigma). */
  dSigma(): number {
    return 1;
  }
  /** The prior N(0, t²I) at t: standard deviation t = σ (Process.priorStd). */
  priorStd(t: number): number {
    return t;
  }
}

/**
 * The VE SDE of score-based models (Song et al. 2021, Eq. 30): σ(t) = σ_min (σ_max/σ_min)^t on
 * [0, 1]; σ → 0 only as t → −∞, which is its tZero.
 */
export interface VeConfig {
  /** σ at t = 0 (default 0.01). */
  sigmaMin?: number;
  /** σ at t = 1, where sampling starts (default 50). */
  sigmaMax?: number;
}

/** The VE SDE process (Song et al. 2021): x_t = x0 + σ(t)ε with σ(t) = σ_min (σ_max/σ_min)^t, t ∈ [0, 1]. */
export class Ve implements Process {
  readonly name = 've';
  readonly tMax = 1;
  readonly tMin = 0;
  readonly tZero = -Infinity;
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  readonly config: Readonly<Record<string, unknown>>;
  private readonly logRatio: number;
  constructor(c: VeConfig = {}) {
    this.sigmaMin = c.sigmaMin ?? 0.01;
    this.sigmaMax = c.sigmaMax ?? 50;
    if (!(this.sigmaMin > 0 && this.sigmaMax > this.sigmaMin)) {
      throw new UsageError(`ve needs 0 < sigmaMin < sigmaMax, got sigmaMin=${this.sigmaMin}, sigmaMax=${this.sigmaMax}`);
    }
    this.logRatio = log(this.sigmaMax / this.sigmaMin);
    this.config = { name: this.name, sigmaMin: this.sigmaMin, sigmaMax: this.sigmaMax };
  }
  /** α = 1 at every t (Process.alpha). */
  alpha(): number {
    return 1;
  }
  /** σ(t) = σ_min · exp(t · log(σ_max/σ_min)) (Process.sigma). */
  sigma(t: number): number {
    return this.sigmaMin * exp(t * this.logRatio);
  }
  /** λ(t) = −log σ(t), linear in t (Process.logSnr). */
  logSnr(t: number): number {
    return -log(this.sigmaMin) - t * this.logRatio;
  }
  /** t = (−λ − log σ_min) / log(σ_max/σ_min) (Process.tOfLogSnr). */
  tOfLogSnr(lambda: number): number {
    return (-lambda - log(this.sigmaMin)) / this.logRatio;
  }
  /** dα/dt = 0 (Process.dAlpha). */
  dAlpha(): number {
    return 0;
  }
  /** dσ/dt = σ(t) · log(σ_max/σ_min) (Process.dSigma). */
  dSigma(t: number): number {
    return this.sigma(t) * this.logRatio;
  }
  /** The prior N(0, σ(t)²I) at t: standard deviation σ(t) (Process.priorStd). */
  priorStd(t: number): number {
    return this.sigma(t);
  }
}
