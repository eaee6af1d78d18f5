import type { Process } from './types.js';
import { UsageError } from '../core/errors.js';
import { acos, cos, exp, log, log1p, tan } from '../core/math.js';

/**
 * Continuous-time VP processes with α² + σ² = 1 (Song et al. 2021), written as in DPM-Solver's
 * NoiseScheduleVP (Lu et al. 2022, App. D): log α(t) is closed-form and σ = √(1 − α²).
 */
export interface VpContinuousConfig {
  schedule?: 'linear' | 'cosine';
  beta0?: number;
  beta1?: number;
  /** Start of sampling; DPM-Solver uses 1 for linear and 0.9946 for cosine. */
  tMax?: number;
  /** Default end time (DPM-Solver's t_end = 1e-3). */
  tMin?: number;
}

const COSINE_S = 0.008;

abstract class VpBase implements Process {
  abstract readonly name: string;
  abstract readonly tMax: number;
  abstract readonly tMin: number;
  abstract readonly config: Readonly<Record<string, unknown>>;
  readonly tZero = 0;
  abstract logAlpha(t: number): number;
  abstract dLogAlpha(t: number): number;
  alpha(t: number): number {
    return exp(this.logAlpha(t));
  }
  sigma(t: number): number {
    return Math.sqrt(1 - exp(2 * this.logAlpha(t)));
  }
  logSnr(t: number): number {
    const la = this.logAlpha(t);
    return la - 0.5 * log(1 - exp(2 * la));
  }
  abstract tOfLogSnr(lambda: number): number;
  dAlpha(t: number): number {
    return this.alpha(t) * this.dLogAlpha(t);
  }
  dSigma(t: number): number {
    const a = this.alpha(t);
    return (-a * a * this.dLogAlpha(t)) / this.sigma(t);
  }
  priorStd(): number {
    return 1;
  }
}

/** β(t) = β0 + t(β1 − β0): log α(t) = −¼t²(β1 − β0) − ½tβ0. */
export class VpLinear extends VpBase {
  readonly name = 'vp';
  readonly tMax: number;
  readonly tMin: number;
  readonly beta0: number;
  readonly beta1: number;
  readonly config: Readonly<Record<string, unknown>>;
  constructor(c: Omit<VpContinuousConfig, 'schedule'> = {}) {
    super();
    this.beta0 = c.beta0 ?? 0.1;
    this.beta1 = c.beta1 ?? 20;
    this.tMax = c.tMax ?? 1;
    this.tMin = c.tMin ?? 1e-3;
    if (!(this.beta0 > 0 && this.beta1 > this.beta0)) {
      throw new UsageError(`vp linear schedule needs 0 < beta0 < beta1, got beta0=${this.beta0}, beta1=${this.beta1}`);
    }
    this.config = { name: this.name, schedule: 'linear', beta0: this.beta0, beta1: this.beta1, tMax: this.tMax, tMin: this.tMin };
  }
  logAlpha(t: number): number {
    return -0.25 * t * t * (this.beta1 - this.beta0) - 0.5 * t * this.beta0;
  }
  dLogAlpha(t: number): number {
    return -0.5 * t * (this.beta1 - this.beta0) - 0.5 * this.beta0;
  }
  tOfLogSnr(lambda: number): number {
    const tmp = 2 * (this.beta1 - this.beta0) * logAddExp0(-2 * lambda);
    const delta = this.beta0 * this.beta0 + tmp;
    return tmp / (Math.sqrt(delta) + this.beta0) / (this.beta1 - this.beta0);
  }
}

/** Improved-DDPM cosine schedule (Nichol & Dhariwal 2021) in continuous time, as DPM-Solver defines it. */
export class VpCosine extends VpBase {
  readonly name = 'vp';
  readonly tMax: number;
  readonly tMin: number;
  readonly config: Readonly<Record<string, unknown>>;
  private readonly logAlpha0 = log(cos((COSINE_S / (1 + COSINE_S)) * Math.PI * 0.5));
  constructor(c: Omit<VpContinuousConfig, 'schedule'> = {}) {
    super();
    this.tMax = c.tMax ?? 0.9946;
    this.tMin = c.tMin ?? 1e-3;
    this.config = { name: this.name, schedule: 'cosine', tMax: this.tMax, tMin: this.tMin };
  }
  logAlpha(t: number): number {
    return log(cos(((t + COSINE_S) / (1 + COSINE_S)) * Math.PI * 0.5)) - this.logAlpha0;
  }
  dLogAlpha(t: number): number {
    const k = Math.PI * 0.5 / (1 + COSINE_S);
    return -k * tan((t + COSINE_S) * k);
  }
  tOfLogSnr(lambda: number): number {
    const logAlpha = -0.5 * logAddExp0(-2 * lambda);
    const tCos = acos(exp(logAlpha + this.logAlpha0));
    return (tCos * 2 * (1 + COSINE_S)) / Math.PI - COSINE_S;
  }
}

/** log(1 + eˣ), stable for large |x|. */
export function logAddExp0(x: number): number {
  return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

export function vpContinuous(c: VpContinuousConfig): Process {
  if (c.schedule === undefined || c.schedule === 'linear') return new VpLinear(c);
  if (c.schedule === 'cosine') return new VpCosine(c);
  throw new UsageError(`unknown VP schedule "${String((c as { schedule: unknown }).schedule)}"; accepted: linear, cosine`);
}
