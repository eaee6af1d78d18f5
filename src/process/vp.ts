import type { Process } from './types.js';
import { UsageError } from '../core/errors.js';
import { acos, cos, exp, log, log1p, tan } from '../core/math.js';

/**
 * Continuous-time VP processes with α² + σ² = 1 (Song et al. 2021), written as in DPM-Solver's
 * NoiseScheduleVP (Lu et al. 2022, App. D): log α(t) is closed-form and σ = √(1 − α²).
 */
export interface VpContinuousConfig {
  /** β(t) schedule: linear (default) or the improved-DDPM cosine. */
  schedule?: 'linear' | 'cosine';
  /** β(0) of the linear schedule (default 0.1). */
  beta0?: number;
  /** β(1) of the linear schedule (default 20). */
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
  /** log α(t) in closed form (DPM-Solver's marginal_log_mean_coeff); 0 at t = 0. */
  abstract logAlpha(t: number): number;
  /** d log α/dt = −½β(t). */
  abstract dLogAlpha(t: number): number;
  /** α(t) = exp(log α(t)) (Process.alpha). */
  alpha(t: number): number {
    return exp(this.logAlpha(t));
  }
  /** σ(t) = √(1 − α(t)²), the VP constraint α² + σ² = 1 (Process.sigma). */
  sigma(t: number): number {
    return Math.sqrt(1 - exp(2 * this.logAlpha(t)));
  }
  /** λ(t) = log α − ½ log(1 − α²) (Process.logSnr). */
  logSnr(t: number): number {
    const la = this.logAlpha(t);
    return la - 0.5 * log(1 - exp(2 * la));
  }
  /** Closed-form inverse of logSnr: the time t with λ(t) = lambda (Process.tOfLogSnr). */
  abstract tOfLogSnr(lambda: number): number;
  /** dα/dt = α · d log α/dt (Process.dAlpha). */
  dAlpha(t: number): number {
    return this.alpha(t) * this.dLogAlpha(t);
  }
  /** dσ/dt = −α² (d log α/dt) / σ, from σ² = 1 − α² (Process.dSigma). */
  dSigma(t: number): number {
    const a = this.alpha(t);
    return (-a * a * this.dLogAlpha(t)) / this.sigma(t);
  }
  /** 1: sampling starts from N(0, I) (Process.priorStd). */
  priorStd(): number {
    return 1;
  }
}

/** The continuous VP SDE with linear β(t) = β0 + t(β1 − β0) (Song et al. 2021): log α(t) = −¼t²(β1 − β0) − ½tβ0. */
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
  /** log α(t) = −¼t²(β1 − β0) − ½tβ0. */
  logAlpha(t: number): number {
    return -0.25 * t * t * (this.beta1 - this.beta0) - 0.5 * t * this.beta0;
  }
  /** d log α/dt = −½β(t) = −½(β0 + t(β1 − β0)). */
  dLogAlpha(t: number): number {
    return -0.5 * t * (this.beta1 - this.beta0) - 0.5 * this.beta0;
  }
  /**
   * The time with log-SNR λ: the positive root of ¼(β1 − β0)t² + ½β0 t = ½ log(1 + e^{−2λ}),
   * written without cancellation (DPM-Solver's NoiseScheduleVP.inverse_lambda).
   */
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
  /** log α(t) = log cos(π/2 · (t + s)/(1 + s)) − log cos(π/2 · s/(1 + s)), s = 0.008, so α(0) = 1. */
  logAlpha(t: number): number {
    return log(cos(((t + COSINE_S) / (1 + COSINE_S)) * Math.PI * 0.5)) - this.logAlpha0;
  }
  /** d log α/dt = −k tan(k(t + s)) with k = π/(2(1 + s)). */
  dLogAlpha(t: number): number {
    const k = Math.PI * 0.5 / (1 + COSINE_S);
    return -k * tan((t + COSINE_S) * k);
  }
  /** The time with log-SNR λ: log α = −½ log(1 + e^{−2λ}), then the arccos of the cosine schedule. */
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

/** The continuous VP process for `c.schedule` (default linear): a VpLinear or a VpCosine. */
export function vpContinuous(c: VpContinuousConfig): Process {
  if (c.schedule === undefined || c.schedule === 'linear') return new VpLinear(c);
  if (c.schedule === 'cosine') return new VpCosine(c);
  throw new UsageError(`unknown VP schedule "${String((c as { schedule: unknown }).schedule)}"; accepted: linear, cosine`);
}
