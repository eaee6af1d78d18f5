import { UsageError } from '../core/errors.js';
import { acos, cos, exp, log, sin } from '../core/math.js';
import type { Rng } from '../core/rng.js';

/**
 * Masking schedule of absorbing diffusion on t ∈ [0, 1]: α(t) is the probability that a token is
 * still unmasked at time t (Austin et al. 2021; Sahoo et al. 2024, MDLM §2; Lou et al. 2024, SEDD).
 * α decreases from α(0) ≈ 1 (clean data) to α(1) ≈ 0 (all masked).
 */
export interface MaskSchedule {
  readonly name: string;
  /** α(t): probability that a token is still unmasked at time t ∈ [0, 1]. */
  alpha(t: number): number;
  /** dα/dt (≤ 0). */
  dAlpha(t: number): number;
  /** The t with α(t) = a, for a in [α(1), α(0)]; values outside are clamped to t ∈ [0, 1]. */
  tOfAlpha(a: number): number;
}

/** A masking schedule as plain, saveable data; `makeMaskSchedule` builds it. Omitted parameters take each schedule's defaults. */
export type MaskScheduleSpec =
  | { type: 'linear' }
  | { type: 'cosine' }
  | { type: 'log-linear'; eps?: number }
  | { type: 'geometric'; sigmaMin?: number; sigmaMax?: number };

const clamp01 = (t: number) => Math.min(1, Math.max(0, t));

/** α = 1 − t (MDLM's linear schedule). */
export function linearSchedule(): MaskSchedule {
  return { name: 'linear', alpha: (t) => 1 - t, dAlpha: () => -1, tOfAlpha: (a) => clamp01(1 - a) };
}

/** α = 1 − cos(π(1 − t)/2): MaskGIT's cosine mask ratio γ(r) = cos(πr/2) with r = 1 − t (Chang et al. 2022). */
export function cosineSchedule(): MaskSchedule {
  const h = Math.PI / 2;
  return {
    name: 'cosine',
    alpha: (t) => 1 - cos(h * (1 - t)),
    dAlpha: (t) => -h * sin(h * (1 - t)),
    tOfAlpha: (a) => clamp01(1 - acos(Math.min(1, Math.max(0, 1 - a))) / h),
  };
}

/**
 * Log-linear total noise σ̄(t) = −log(1 − (1 − ε)t), so α = e^{−σ̄} = 1 − (1 − ε)t
 * (SEDD and RADD's default, MDLM's "loglinear"; ε = 1e-3 keeps α(1) > 0).
 */
export function logLinearSchedule(eps = 1e-3): MaskSchedule {
  if (!(eps >= 0 && eps < 1)) throw new UsageError(`log-linear eps must be in [0, 1), got ${eps}`);
  const c = 1 - eps;
  return { name: 'log-linear', alpha: (t) => 1 - c * t, dAlpha: () => -c, tOfAlpha: (a) => clamp01((1 - a) / c) };
}

/** Geometric total noise σ̄(t) = σmin^{1−t} σmax^t, α = e^{−σ̄} (SEDD's geometric noise). */
export function geometricSchedule(sigmaMin = 1e-4, sigmaMax = 20): MaskSchedule {
  if (!(sigmaMin > 0 && sigmaMax > sigmaMin && Number.isFinite(sigmaMax))) {
    throw new UsageError(`geometric schedule needs 0 < sigmaMin < sigmaMax < ∞, got ${sigmaMin}, ${sigmaMax}`);
  }
  const r = log(sigmaMax / sigmaMin);
  const sigmaBar = (t: number) => sigmaMin * exp(r * t);
  return {
    name: 'geometric',
    alpha: (t) => exp(-sigmaBar(t)),
    dAlpha: (t) => -r * sigmaBar(t) * exp(-sigmaBar(t)),
    tOfAlpha: (a) => (a >= 1 ? 0 : a <= 0 ? 1 : clamp01(log(-log(a) / sigmaMin) / r)),
  };
}

/** The accepted `MaskScheduleSpec` types. */
export const MASK_SCHEDULES = ['linear', 'cosine', 'log-linear', 'geometric'] as const;

/** Builds the masking schedule a spec names; throws a UsageError for an unknown type or invalid parameters. */
export function makeMaskSchedule(spec: MaskScheduleSpec): MaskSchedule {
  switch (spec.type) {
    case 'linear':
      return linearSchedule();
    case 'cosine':
      return cosineSchedule();
    case 'log-linear':
      return logLinearSchedule(spec.eps);
    case 'geometric':
      return geometricSchedule(spec.sigmaMin, spec.sigmaMax);
    default:
      throw new UsageError(`unknown mask schedule ${JSON.stringify((spec as { type: unknown }).type)}; accepted: ${MASK_SCHEDULES.join(', ')}`);
  }
}

/** Forward process q(x_t | x_0): each token is replaced by the mask id V with probability 1 − α(t). */
export function maskForward(x0: Int32Array, vocabSize: number, t: number, schedule: MaskSchedule, rng: Rng): Int32Array {
  if (!(t >= 0 && t <= 1)) throw new UsageError(`t must be in [0, 1], got ${t}`);
  const keep = schedule.alpha(t);
  const xt = Int32Array.from(x0);
  for (let i = 0; i < xt.length; i++) if (rng.uniform() >= keep) xt[i] = vocabSize;
  return xt;
}
