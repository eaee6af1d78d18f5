import type { Process } from './types.js';
import { exp, log, log1p } from '../core/math.js';

/**
 * Rectified flow / flow matching with the linear interpolant x_t = (1 − t)·x0 + t·ε
 * (Liu et al. 2022; Lipman et al. 2022; SD3, Esser et al. 2024): α = 1 − t, σ = t,
 * λ = log((1 − t)/t). The SD3 timestep shift is a grid transform (see grid/).
 */
export interface FlowConfig {
  tMin?: number;
}

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
  alpha(t: number): number {
    return 1 - t;
  }
  sigma(t: number): number {
    return t;
  }
  logSnr(t: number): number {
    return log1p(-t) - log(t);
  }
  tOfLogSnr(lambda: number): number {
    return lambda >= 0 ? exp(-lambda) / (1 + exp(-lambda)) : 1 / (1 + exp(lambda));
  }
  dAlpha(): number {
    return -1;
  }
  dSigma(): number {
    return 1;
  }
  priorStd(): number {
    return 1;
  }
}
