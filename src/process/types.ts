/**
 * A forward process x_t = α(t)·x0 + σ(t)·ε (Kingma et al. 2021's unified view; Karras et al.
 * 2022, Eq. 1–4). Samplers only see α, σ, λ = log(α/σ) and the inverse λ → t, so one solver works
 * for VP, VE/EDM and flow-matching processes alike.
 */
export interface Process {
  /** Registry name, e.g. "vp-discrete". */
  readonly name: string;
  /** Time at which sampling usually starts (largest noise). */
  readonly tMax: number;
  /** Smallest time with σ > 0 that grids use by default as their end. */
  readonly tMin: number;
  /** A time at which σ = 0 and α = 1 exactly (the clean data), where one exists. */
  readonly tZero: number;
  /** Signal scale α(t) of x_t = α(t)·x0 + σ(t)·ε at process time t. */
  alpha(t: number): number;
  /** Noise scale σ(t) of x_t = α(t)·x0 + σ(t)·ε at process time t. */
  sigma(t: number): number;
  /** λ(t) = log α(t) − log σ(t), computed stably. */
  logSnr(t: number): number;
  /** The inverse of logSnr on [tZero, tMax]. */
  tOfLogSnr(lambda: number): number;
  /** dα/dt at process time t, for the probability-flow ODE and the SDE. */
  dAlpha(t: number): number;
  /** dσ/dt at process time t, for the probability-flow ODE and the SDE. */
  dSigma(t: number): number;
  /** Standard deviation of x at tMax under the prior the sampler starts from. */
  priorStd(t: number): number;
  /** Plain-data description of this process (saveable, recreates it through the registry). */
  readonly config: Readonly<Record<string, unknown>>;
}

/** Drift f(t) and squared diffusion g²(t) of the forward SDE dx = f x dt + g dW (Song et al. 2021). */
export function sdeCoefficients(p: Process, t: number): { f: number; g2: number } {
  const a = p.alpha(t);
  const s = p.sigma(t);
  const f = p.dAlpha(t) / a;
  return { f, g2: 2 * s * p.dSigma(t) - 2 * f * s * s };
}
