import type { Process } from './types.js';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { cos, exp, log } from '../core/math.js';

/**
 * The discrete DDPM process of diffusers' schedulers (Ho et al. 2020): N training timesteps,
 * β_i from a named schedule and ᾱ_i = Π_{j≤i}(1 − β_j), reproduced in float32 the way diffusers
 * computes it (torch.linspace in float32, cumprod accumulated in double and stored as float32).
 *
 * Between integer timesteps, σ_VE = √((1 − ᾱ)/ᾱ) is interpolated linearly in t, as diffusers'
 * Euler/Heun schedulers do; t = −1 is the clean end (ᾱ = 1, diffusers' `set_alpha_to_one`).
 */
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

export interface VpDiscreteConfig {
  /** Number N of training timesteps 0 … N−1 (diffusers' `num_train_timesteps`, default 1000). */
  numTrainTimesteps?: number;
  /** β_0 of the linear and scaled_linear schedules (diffusers' `beta_start`, default 0.0001). */
  betaStart?: number;
  /** β_{N−1} of the linear and scaled_linear schedules (diffusers' `beta_end`, default 0.02). */
  betaEnd?: number;
  /** Named β schedule (diffusers' `beta_schedule`, default linear). */
  betaSchedule?: BetaSchedule;
  /** β's given outright (diffusers' `trained_betas`); the schedule and its range are then unused. */
  trainedBetas?: readonly number[];
  /** Rescale the β's to zero terminal SNR (Lin et al. 2024, Algorithm 1; diffusers' `rescale_betas_zero_snr`). */
  rescaleZeroSnr?: boolean;
  /**
   * ᾱ at the last timestep in place of the rescaled 0, as diffusers' Euler, DPM-Solver and UniPC
   * schedulers set it (2⁻²⁴) so that their first σ is finite; DDIM, DDPM, LCM and TCD keep 0.
   */
  finalAlphaBar?: number;
}

const f32 = Math.fround;

/**
 * torch.linspace(start, end, n, dtype=float32) as its CPU kernel computes it: step in float32, the
 * first half from the start and the second from the end; the vectorised part (AVX2, 8 lanes, as on
 * the machine that made shared/refs) fills each block of 8 as base + k·step, the tail is scalar.
 */
export function linspaceF32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / f32(n - 1));
  const half = Math.floor(n / 2);
  const at = (i: number) => (i < half ? f32(s + f32(step * i)) : f32(e - f32(step * (n - i - 1))));
  const lanes = 8;
  const vectorised = n - (n % (2 * lanes));
  for (let i = 0; i < n; i++) out[i] = i < vectorised ? f32(at(i - (i % lanes)) + f32(step * (i % lanes))) : at(i);
  return out;
}

/** v^{−3/2} = 1/(v√v). */
const cubeInvSqrt = (v: number) => 1 / (v * Math.sqrt(v));

/** diffusers' betas_for_alpha_bar with the cosine ᾱ (Nichol & Dhariwal 2021, Eq. 17), max β 0.999. */
function cosineBetas(n: number): Float32Array {
  const alphaBar = (t: number) => {
    const c = cos(((t + 0.008) / 1.008) * Math.PI / 2);
    return c * c;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
  return out;
}

/** The n float32 β's of a named diffusers schedule; start and end are unused by squaredcos_cap_v2. */
export function betas(schedule: BetaSchedule, start: number, end: number, n: number): Float32Array {
  switch (schedule) {
    case 'linear':
      return linspaceF32(start, end, n);
    case 'scaled_linear':
      return linspaceF32(Math.sqrt(start), Math.sqrt(end), n).map((b) => f32(b * b));
    case 'squaredcos_cap_v2':
      return cosineBetas(n);
    default:
      throw new UsageError(
        `unknown beta_schedule "${String(schedule)}"; accepted: linear, scaled_linear, squaredcos_cap_v2`,
      );
  }
}

/**
 * Zero terminal SNR (Lin et al. 2024, "Common diffusion noise schedules and sample steps are
 * flawed", Algorithm 1), in float32 as diffusers computes it: shift √ᾱ so its last value is 0, scale
 * it so its first is unchanged, and read the β's back from the ratios of consecutive ᾱ's.
 */
export function rescaleZeroTerminalSnr(b: Float32Array): Float32Array {
  const sqrtAb = alphasCumprod(b).map((ab) => f32(Math.sqrt(ab)));
  const [first, last] = [sqrtAb[0], sqrtAb[sqrtAb.length - 1]];
  const scale = f32(first / f32(first - last));
  const ab = sqrtAb.map((r) => {
    const shifted = f32(f32(r - last) * scale);
    return f32(shifted * shifted);
  });
  return ab.map((a, i) => f32(1 - (i === 0 ? a : f32(a / ab[i - 1]))));
}

/** ᾱ_i in float32 from float32 betas, the product accumulated in double as torch.cumprod does on CPU. */
export function alphasCumprod(b: Float32Array): Float32Array {
  const out = new Float32Array(b.length);
  let acc = 1;
  for (let i = 0; i < b.length; i++) {
    acc *= f32(1 - b[i]);
    out[i] = acc;
  }
  return out;
}

/**
 * The discrete DDPM process (Ho et al. 2020) as diffusers' schedulers define it: time t is the
 * training timestep index, tMax = N − 1, and t = −1 is the clean end; α = √ᾱ, σ = √(1 − ᾱ).
 */
export class VpDiscrete implements Process {
  readonly name = 'vp-discrete';
  readonly tMax: number;
  readonly tMin = 0;
  readonly tZero = -1;
  /** ᾱ_i for i = 0 … N−1, float32 (diffusers' `alphas_cumprod`). */
  readonly alphasCumprod: Float32Array;
  /** β_i for i = 0 … N−1, float32, after any zero-terminal-SNR rescaling. */
  readonly betas: Float32Array;
  /** σ_VE at t = −1, 0, …, N−1 (index t + 1), in float64 from the float32 ᾱ. */
  private readonly sigmaVe: Float64Array;
  readonly config: Readonly<Record<string, unknown>>;

  constructor(c: VpDiscreteConfig = {}) {
    const n = c.numTrainTimesteps ?? 1000;
    const start = c.betaStart ?? 0.0001;
    const end = c.betaEnd ?? 0.02;
    const schedule = c.betaSchedule ?? 'linear';
    const trained = c.trainedBetas;
    if (!(Number.isInteger(n) && n >= 2 && n <= LIMITS.trainSteps)) throw new UsageError(`numTrainTimesteps must be an integer from 2 to ${LIMITS.trainSteps}, got ${n}`);
    if (trained) {
      if (!(trained.length === n && trained.every((b) => b > 0 && b < 1))) {
        throw new UsageError(`trainedBetas must be numTrainTimesteps = ${n} numbers in (0, 1), got ${trained.length} numbers`);
      }
    } else if (!(start > 0 && end > start && end < 1)) {
      throw new UsageError(`betas need 0 < betaStart < betaEnd < 1, got betaStart=${start}, betaEnd=${end}`);
    }
    const final = c.finalAlphaBar;
    if (final !== undefined && !(c.rescaleZeroSnr && final > 0 && final < 1)) {
      throw new UsageError(`finalAlphaBar replaces the 0 of a zero-terminal-SNR schedule: it needs rescaleZeroSnr and a value in (0, 1), got ${final}`);
    }
    const base = trained ? Float32Array.from(trained) : betas(schedule, start, end, n);
    this.betas = c.rescaleZeroSnr ? rescaleZeroTerminalSnr(base) : base;
    this.alphasCumprod = alphasCumprod(this.betas);
    if (final !== undefined) this.alphasCumprod[n - 1] = final;
    this.tMax = n - 1;
    this.sigmaVe = new Float64Array(n + 1);
    this.alphasCumprod.forEach((ab, i) => (this.sigmaVe[i + 1] = Math.sqrt((1 - ab) / ab)));
    this.config = {
      name: this.name, numTrainTimesteps: n, betaStart: start, betaEnd: end, betaSchedule: schedule,
      ...(trained ? { trainedBetas: [...trained] } : {}),
      ...(c.rescaleZeroSnr ? { rescaleZeroSnr: true } : {}),
      ...(final !== undefined ? { finalAlphaBar: final } : {}),
    };
  }

  /** ᾱ(t): the table at integer t ≥ 0, 1 at t = −1, and 1/(1 + σ_VE²) between. */
  alphaBar(t: number): number {
    this.check(t);
    if (t === -1) return 1;
    if (Number.isInteger(t)) return this.alphasCumprod[t];
    const s = this.sigmaVeAt(t);
    return 1 / (1 + s * s);
  }

  /** σ_VE(t) = σ/α, linear in t between integer timesteps. */
  sigmaVeAt(t: number): number {
    this.check(t);
    const u = t + 1;
    const i = Math.min(Math.floor(u), this.sigmaVe.length - 2);
    const w = u - i;
    // σ_VE = ∞ at a zero-terminal-SNR schedule's last timestep: no interpolation weight may touch it unasked.
    return w === 0 ? this.sigmaVe[i] : w === 1 ? this.sigmaVe[i + 1] : (1 - w) * this.sigmaVe[i] + w * this.sigmaVe[i + 1];
  }

  /** α(t) = √ᾱ(t) (Process.alpha). */
  alpha(t: number): number {
    return Math.sqrt(this.alphaBar(t));
  }
  /** σ(t) = √(1 − ᾱ(t)) (Process.sigma). */
  sigma(t: number): number {
    return Math.sqrt(1 - this.alphaBar(t));
  }
  /** λ(t) = ½(log ᾱ − log(1 − ᾱ)) from the table at integer t, −log σ_VE(t) between (Process.logSnr). */
  logSnr(t: number): number {
    if (Number.isInteger(t) && t >= 0) {
      const ab = this.alphasCumprod[t];
      return 0.5 * (log(ab) - log(1 - ab));
    }
    return -log(this.sigmaVeAt(t));
  }
  /** Exact inverse of the piecewise-linear σ_VE(t). */
  tOfLogSnr(lambda: number): number {
    const s = exp(-lambda);
    const tab = this.sigmaVe;
    if (s <= 0) return -1;
    if (s >= tab[tab.length - 1]) return this.tMax;
    let lo = 0;
    let hi = tab.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (tab[mid] <= s) lo = mid;
      else hi = mid;
    }
    return lo - 1 + (s - tab[lo]) / (tab[hi] - tab[lo]);
  }
  /**
   * The timestep diffusers assigns a σ_VE off its table (`_sigma_to_t`): linear interpolation in
   * log σ between the training timesteps 0 … N−1, clamped to that range. It differs from the
   * inverse of sigmaVeAt (linear in σ) inside each interval; the model sees this one.
   */
  tOfLogSigma(sigmaVe: number): number {
    const tab = this.sigmaVe; // index t + 1
    const ls = log(Math.max(sigmaVe, 1e-10));
    const n = this.tMax + 1;
    if (!(ls > log(tab[1]))) return 0;
    if (ls >= log(tab[n])) return this.tMax;
    let lo = 0;
    let hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (log(tab[mid + 1]) <= ls) lo = mid;
      else hi = mid;
    }
    const [a, b] = [log(tab[lo + 1]), log(tab[hi + 1])];
    return lo + (ls - a) / (b - a);
  }
  private slope(t: number): number {
    const i = Math.min(Math.floor(t + 1), this.sigmaVe.length - 2);
    return this.sigmaVe[i + 1] - this.sigmaVe[i];
  }
  /**
   * dα/dt = −σ_VE (1 + σ_VE²)^{−3/2} · dσ_VE/dt, with α = 1/√(1 + σ_VE²) and dσ_VE/dt the slope of
   * the linear piece holding t (the one to the right at an integer t < tMax) (Process.dAlpha).
   */
  dAlpha(t: number): number {
    const s = this.sigmaVeAt(t);
    return -s * cubeInvSqrt(1 + s * s) * this.slope(t);
  }
  /**
   * dσ/dt = (1 + σ_VE²)^{−3/2} · dσ_VE/dt, with σ = σ_VE/√(1 + σ_VE²) and dσ_VE/dt the slope of the
   * linear piece holding t (the one to the right at an integer t < tMax) (Process.dSigma).
   */
  dSigma(t: number): number {
    const s = this.sigmaVeAt(t);
    return cubeInvSqrt(1 + s * s) * this.slope(t);
  }
  /** 1: sampling starts from N(0, I) (Process.priorStd). */
  priorStd(): number {
    return 1;
  }
  private check(t: number): void {
    if (!(t >= -1 && t <= this.tMax)) {
      throw new RangeError(`timestep ${t} is outside [-1, ${this.tMax}] of the discrete VP process`);
    }
  }
}
