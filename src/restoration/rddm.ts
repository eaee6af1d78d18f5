import type { Model } from '../models/types.js';
import type { Rng } from '../core/rng.js';
import { RunError, usage } from '../core/errors.js';
import { firstNonFinite } from '../core/vec.js';

/**
 * Residual denoising diffusion (RDDM, Liu et al., CVPR 2024): the image moves from the clean I_0
 * to the degraded input I_in along the residual R = I_in − I_0 while noise is added,
 *   I_t = I_0 + ᾱ_t R + β̄_t ε,   ᾱ_T = 1,
 * so sampling starts at I_in + β̄_T ε; generation is the case I_in = 0 (R = −I_0). The network here
 * predicts the residual (the paper's SM-Res); ε follows from it. One network restores and generates.
 */

/** ᾱ_k and β̄_k at steps k = 1 … T (index k − 1). */
export interface RddmSchedule {
  alphaCum: Float64Array;
  betaCum: Float64Array;
}

/**
 * The reference code's linear coefficients over T steps: α_k decreasing ∝ T + 1 − k and β_k²
 * increasing ∝ k, each normalised to sum to 1 (β̄_T² = `noiseScale`), so
 * ᾱ_k = k(2T + 1 − k)/(T(T + 1)) and β̄_k² = s·k(k + 1)/(T(T + 1)).
 */
export function rddmSchedule(T = 1000, noiseScale = 1): RddmSchedule {
  usage(Number.isInteger(T) && T >= 1 && T <= 100000, `T must be an integer in [1, 100000], got ${T}`);
  usage(noiseScale > 0 && Number.isFinite(noiseScale), `the noise scale must be a finite number > 0, got ${noiseScale}`);
  const alphaCum = new Float64Array(T);
  const betaCum = new Float64Array(T);
  for (let k = 1; k <= T; k++) {
    alphaCum[k - 1] = (k * (2 * T + 1 - k)) / (T * (T + 1));
    betaCum[k - 1] = Math.sqrt((noiseScale * k * (k + 1)) / (T * (T + 1)));
  }
  return { alphaCum, betaCum };
}

/**
 * RDDM's coefficients for a DDPM schedule ᾱ^DDPM (the paper's correspondence): ᾱ_t = 1 − √ᾱ^DDPM_t,
 * β̄_t = √(1 − ᾱ^DDPM_t); with I_in = 0, I_t is then DDPM's x_t and RDDM's deterministic sampler is DDIM.
 */
export function rddmFromDdpm(alphaBar: ArrayLike<number>): RddmSchedule {
  return {
    alphaCum: Float64Array.from(alphaBar, (a) => 1 - Math.sqrt(a)),
    betaCum: Float64Array.from(alphaBar, (a) => Math.sqrt(1 - a)),
  };
}

/** The reference code's skipped steps: ⌊linspace(−1, T − 1, S + 1)⌋ (toward zero) reversed; −1 ends. */
export function rddmTimesteps(T: number, steps: number): number[] {
  usage(Number.isInteger(steps) && steps >= 1 && steps <= T, `steps must be an integer in [1, ${T}], got ${steps}`);
  return Array.from({ length: steps + 1 }, (_, i) => Math.trunc(-1 + (T * i) / steps)).reverse();
}

/** Options of {@link rddmSample}. */
export interface RddmOptions {
  /** The network conditioned on I_in; it returns the residual R̂ at step index t. */
  model: Model;
  schedule: RddmSchedule;
  /** I_in, n × sample size: the degraded images, or zeros to generate. */
  condition: Float64Array;
  n: number;
  steps: number;
  rng: Rng;
  /** η: 0 (default) deterministic; σ² = η·(β̄_t² − β̄_s²)·β̄_s²/β̄_t² as the reference code. */
  eta?: number;
  /** Clip the data estimate I_in − R̂ to this range (the reference clips to [−1, 1]). */
  clip?: readonly [number, number];
  /** Called before each model call with the step done so far and the total. */
  onStep?: (step: number, total: number) => void;
}

/**
 * RDDM's sampler (the reference code's ddim_sample, objective pred_res): from I_T = I_in + β̄_T z,
 * at each step R̂ = network, Î_0 = I_in − R̂ (clipped), ε̂ = (I_t − I_in − (ᾱ_t − 1)R̂)/β̄_t and
 * I_s = I_t − (ᾱ_t − ᾱ_s) R̂ − (β̄_t − √(β̄_s² − σ²)) ε̂ + σ z; the last step returns Î_0.
 */
export async function rddmSample(o: RddmOptions): Promise<{ x: Float64Array; nfe: number }> {
  const { alphaCum, betaCum } = o.schedule;
  const T = alphaCum.length;
  const dim = o.model.sampleShape.reduce((a, b) => a * b, 1);
  usage(Number.isInteger(o.n) && o.n >= 1, `n must be a positive integer, got ${o.n}`);
  usage(o.condition.length === o.n * dim, `the condition must hold n × ${dim} = ${o.n * dim} values, got ${o.condition.length}`);
  const eta = o.eta ?? 0;
  usage(eta >= 0 && Number.isFinite(eta), `η must be a finite number ≥ 0, got ${eta}`);
  const times = rddmTimesteps(T, o.steps);
  const z = o.rng.fillNormal(new Float64Array(o.n * dim));
  let x = o.condition.map((v, i) => v + betaCum[T - 1] * z[i]);
  const inp = o.condition;
  for (let j = 0; j < times.length - 1; j++) {
    const [t, s] = [times[j], times[j + 1]];
    o.onStep?.(j, times.length - 1);
    const out = await o.model.predict(x, o.n, t);
    const bad = firstNonFinite(out);
    if (bad >= 0) throw new RunError(`the RDDM network returned ${out[bad]} at step ${t} (sample ${Math.floor(bad / dim)}, element ${bad % dim})`);
    const x0 = inp.map((v, i) => v - out[i]);
    if (o.clip) for (let i = 0; i < x0.length; i++) x0[i] = Math.min(o.clip[1], Math.max(o.clip[0], x0[i]));
    if (s < 0) {
      x = x0;
      break;
    }
    const [at, bt, as, bs] = [alphaCum[t], betaCum[t], alphaCum[s], betaCum[s]];
    const sigma2 = (eta * (bt * bt - bs * bs) * bs * bs) / (bt * bt);
    const kEps = bt - Math.sqrt(bs * bs - sigma2);
    if (sigma2 > 0) o.rng.fillNormal(z);
    const sigma = Math.sqrt(sigma2);
    x = x.map((v, i) => {
      const res = inp[i] - x0[i];
      const eps = (v - inp[i] - (at - 1) * res) / bt;
      return v - (at - as) * res - kEps * eps + sigma * z[i];
    });
  }
  o.onStep?.(times.length - 1, times.length - 1);
  return { x, nfe: times.length - 1 };
}
