import type { Process } from './types.js';
import { exp, log, log1p } from '../core/math.js';

/**
 * Rectified flow / flow matching with the linear interpolant x_t = (1 − t)·x0 + t·ε
 * (Liu et al. 2022; Lipman et al. 2022; SD3, Esser et al. 2024): α = 1 − t, σ = t,
 * λ = log((1 − t)/t). The SD3 timestep shift is a grid transform (see grid/).
 */
export interface FlowConfig {
  /** Default end time of sampling grids (default 1e-3). */
  tMin?: number;
}

/** The rectified-flow process: x_t = (1 − t)·x0 + t·ε on [0, 1], t = 1 pure noise. */
export class Flow implements Process {
  readonly name = 'flow';
  readonly tMax = 1;
  readonly tMin: number;
  readonly tZero = 0;
  readonly config: Readonly<Record<string, unknown>>;
  constructor(c: FlowConfig = {}) {
    this.tMin = c.tMin ?? 1e-3;
    this.config = { name: this.name, tMin: this.tMin };
  }
  /** α(t) = 1 − t (Process.alpha). */
  alpha(t: number): number {
    return 1 - t;
  }
  /** σ(t) = t (Process.sigma). */
  sigma(t: number): number {
    return t;
  }
  /** λ(t) = log(1 − t) − log t (Process.logSnr). */
  logSnr(t: number): number {
    return log1p(-t) - log(t);
  }
  /** t = 1/(1 + e^λ), the logistic sigmoid of −λ, evaluated without overflow (Process.tOfLogSnr). */
  tOfLogSnr(lambda: number): number {
    return lambda >= 0 ? exp(-lambda) / (1 + exp(-lambda)) : 1 / (1 + exp(lambda));
  }
  /** dα/dt = −1 (Process.dAlpha). */
  dAlpha(): number {
    return -1;
  }
  /** dσ/dt = 1 (Process.dSigma). */
  dSigma(): number {
    return 1;
  }
  /** 1: sampling starts from N(0, I) at t = 1 (Process.priorStd). */
  priorStd(): number {
    return 1;
  }
}
