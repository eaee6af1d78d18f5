import type { Process } from './types.js';
import { UsageError } from '../core/errors.js';
import { exp, log } from '../core/math.js';

/**
 * EDM's process (Karras et al. 2022, Table 1): x = x0 + σε with time t = σ itself, so α = 1,
 * λ = −log σ. Karras grids, k-diffusion samplers and EDM preconditioning live in this coordinate.
 */
export interface EdmConfig {
  sigmaMin?: number;
  sigmaMax?: number;
  sigmaData?: number;
}

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
  alpha(): number {
    return 1;
  }
  sigma(t: number): number {
    return t;
  }
  logSnr(t: number): number {
    return -log(t);
  }
  tOfLogSnr(lambda: number): number {
    return exp(-lambda);
  }
  dAlpha(): number {
    return 0;
  }
  dSigma(): number {
    return 1;
  }
  priorStd(t: number): number {
    return t;
  }
}

/**
 * The VE SDE of score-based models (Song et al. 2021, Eq. 30): σ(t) = σ_min (σ_max/σ_min)^t on
 * [0, 1]; σ → 0 only as t → −∞, which is its tZero.
 */
export interface VeConfig {
  sigmaMin?: number;
  sigmaMax?: number;
}

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
  alpha(): number {
    return 1;
  }
  sigma(t: number): number {
    return this.sigmaMin * exp(t * this.logRatio);
  }
  logSnr(t: number): number {
    return -log(this.sigmaMin) - t * this.logRatio;
  }
  tOfLogSnr(lambda: number): number {
    return (-lambda - log(this.sigmaMin)) / this.logRatio;
  }
  dAlpha(): number {
    return 0;
  }
  dSigma(t: number): number {
    return this.sigma(t) * this.logRatio;
  }
  priorStd(t: number): number {
    return this.sigma(t);
  }
}
