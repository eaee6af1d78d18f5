import { UsageError } from '../core/errors.js';
import { cos, sin } from '../core/math.js';

/**
 * The coefficients of a stochastic interpolant x_t = α(t)x0 + β(t)x1 + γ(t)z on t ∈ [0, 1]
 * (Albergo, Boffi & Vanden-Eijnden 2023, "Stochastic Interpolants: A Unifying Framework for
 * Flows and Diffusions", Def. 2.1 with the spatially linear I(t, x0, x1) = αx0 + βx1 of §4):
 * α(0) = β(1) = 1, α(1) = β(0) = 0, γ(0) = γ(1) = 0, γ > 0 inside.
 * γγ̇ is given instead of γ̇, since γ = √(a t(1 − t)) has γ̇ = ∞ at the ends but γγ̇ = a(1 − 2t)/2.
 */
export interface Interpolant {
  /** α(t), the weight of x0: 1 at t = 0, 0 at t = 1. */
  alpha(t: number): number;
  /** β(t), the weight of x1: 0 at t = 0, 1 at t = 1. */
  beta(t: number): number;
  /** α̇(t) = dα/dt. */
  dAlpha(t: number): number;
  /** β̇(t) = dβ/dt. */
  dBeta(t: number): number;
  /** γ(t) ≥ 0, the scale of the latent noise z; 0 at both ends. */
  gamma(t: number): number;
  /** γ(t)·γ̇(t), finite on [0, 1]. */
  gammaDotGamma(t: number): number;
}

/** An interpolant as plain config: the path of α, β and the noise level of γ (`makeInterpolant` builds it). */
export interface InterpolantConfig {
  /** "linear": α = 1 − t, β = t; "trig": α = cos(πt/2), β = sin(πt/2). */
  path?: 'linear' | 'trig';
  /** a in γ(t) = √(a t(1 − t)) (the paper's §4 choice), default 1; 0 gives a deterministic interpolant. */
  noise?: number;
}

/** Build an interpolant from plain config (validated here). */
export function makeInterpolant(c: InterpolantConfig = {}): Interpolant {
  const a = c.noise ?? 1;
  if (!(a >= 0 && Number.isFinite(a))) throw new UsageError(`interpolant noise a (γ = √(a t(1−t))) must be finite and ≥ 0, got ${a}`);
  const gamma = (t: number) => Math.sqrt(a * t * (1 - t));
  const gammaDotGamma = (t: number) => (a * (1 - 2 * t)) / 2;
  const path = c.path ?? 'linear';
  if (path === 'linear') {
    return { alpha: (t) => 1 - t, beta: (t) => t, dAlpha: () => -1, dBeta: () => 1, gamma, gammaDotGamma };
  }
  if (path === 'trig') {
    const h = Math.PI / 2;
    return {
      alpha: (t) => cos(h * t),
      beta: (t) => sin(h * t),
      dAlpha: (t) => -h * sin(h * t),
      dBeta: (t) => h * cos(h * t),
      gamma,
      gammaDotGamma,
    };
  }
  throw new UsageError(`unknown interpolant path "${String(path)}"; accepted: linear, trig`);
}
