import type { Model } from '../models/types.js';
import type { Rng } from '../core/rng.js';
import { RunError, usage } from '../core/errors.js';
import { firstNonFinite } from '../core/vec.js';

/**
 * Resfusion (Shi et al., NeurIPS 2024): restoration by a diffusion whose forward process carries the
 * residual R = x_in − x0 between the degraded and the clean image,
 *   x_t = √ᾱ_t x0 + (1 − √ᾱ_t) R + √(1 − ᾱ_t) ε            (its Eq. 20),
 * so at the step where √ᾱ_t = ½ ("acceleration point", Eq. 27) x_t = ½ x_in + √(3/4) ε no longer
 * depends on x0 (the smooth equivalence transformation): sampling starts there from the degraded
 * image. The network predicts the resnoise ε + (1 − √α_t)√(1 − ᾱ_t)/β_t · R, and the reverse
 * step has DDPM's form with it in place of ε (Eq. 33).
 */

/** The schedule, index t = 0 … K (K the acceleration point): β_t and ᾱ_t. */
export interface ResfusionSchedule {
  betas: Float64Array;
  alphaBar: Float64Array;
}

/** A schedule from its betas (e.g. a card's trainedBetas), each in (0, 1). */
export function scheduleFromBetas(betas: ArrayLike<number>): ResfusionSchedule {
  usage(betas.length >= 1, 'the Resfusion schedule needs at least one step');
  const b = Float64Array.from(betas);
  usage(b.every((v) => v > 0 && v < 1), 'the Resfusion betas must lie in (0, 1)');
  const alphaBar = new Float64Array(b.length);
  let p = 1;
  b.forEach((v, i) => (alphaBar[i] = p *= 1 - v));
  return { betas: b, alphaBar };
}

/**
 * Resfusion's linear schedule for T steps (improved DDPM's: β from 1000/T·10⁻⁴ to 1000/T·0.02), cut
 * at the first step with √ᾱ ≤ ½; a step that overshoots ½ by more than 0.01 is replaced by one that
 * lands on ᾱ = ¼ exactly (the reference code's LinearProScheduler). T = 12 gives 5 steps.
 */
export function resfusionSchedule(T = 12): ResfusionSchedule {
  usage(Number.isInteger(T) && T >= 2 && T <= 100000, `T must be an integer in [2, 100000], got ${T}`);
  const scale = 1000 / T;
  const betas: number[] = [];
  let p = 1;
  for (let i = 0; i < T; i++) {
    const beta = scale * 1e-4 + ((scale * 0.02 - scale * 1e-4) * i) / (T - 1);
    const next = p * (1 - beta);
    if (next <= 0.25) {
      const root = next > 0 ? Math.sqrt(next) : 0;
      betas.push(0.5 - root > 0.01 ? 1 - 0.25 / p : beta);
      return scheduleFromBetas(betas);
    }
    betas.push(beta);
    p = next;
  }
  throw new RangeError(`T = ${T}: the schedule never reaches √ᾱ = ½`);
}

/** x_t of the forward process (Eq. 20) for clean x0, degraded input xIn and noise ε at step t. */
export function resfusionForward(s: ResfusionSchedule, t: number, x0: Float64Array, xIn: Float64Array, eps: Float64Array): Float64Array {
  const a = s.alphaBar[t];
  return x0.map((v, i) => Math.sqrt(a) * v + (1 - Math.sqrt(a)) * (xIn[i] - v) + Math.sqrt(1 - a) * eps[i]);
}

/** The resnoise the network learns at step t: ε + (1 − √α_t)√(1 − ᾱ_t)/β_t · (xIn − x0). */
export function resnoise(s: ResfusionSchedule, t: number, x0: Float64Array, xIn: Float64Array, eps: Float64Array): Float64Array {
  const b = s.betas[t];
  const k = ((1 - Math.sqrt(1 - b)) * Math.sqrt(1 - s.alphaBar[t])) / b;
  return eps.map((v, i) => v + k * (xIn[i] - x0[i]));
}

/** Options of {@link resfusionRestore}. */
export interface ResfusionOptions {
  /** The network conditioned on the degraded images (it returns the resnoise; t is the step index). */
  model: Model;
  schedule: ResfusionSchedule;
  /** The degraded images x_in, n × sample size. */
  condition: Float64Array;
  n: number;
  rng: Rng;
  /** Called before each model call with the step index (K … 0). */
  onStep?: (step: number, total: number) => void;
}

/**
 * The reverse chain from the acceleration point K: x_K = √ᾱ_K x_in + √(1 − ᾱ_K) ε (Eq. 28), then
 * x_{t−1} = (x_t − β_t/√(1 − ᾱ_t) r̂)/√α_t + σ_t z with DDPM's σ_t² = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t),
 * no noise at the last step (Eq. 33): K + 1 model calls.
 */
export async function resfusionRestore(o: ResfusionOptions): Promise<{ x: Float64Array; nfe: number }> {
  const { betas, alphaBar } = o.schedule;
  const K = betas.length - 1;
  const dim = o.model.sampleShape.reduce((a, b) => a * b, 1);
  usage(Number.isInteger(o.n) && o.n >= 1, `n must be a positive integer, got ${o.n}`);
  usage(o.condition.length === o.n * dim, `the degraded images must hold n × ${dim} = ${o.n * dim} values, got ${o.condition.length}`);
  const z = new Float64Array(o.n * dim);
  o.rng.fillNormal(z);
  let x = o.condition.map((v, i) => Math.sqrt(alphaBar[K]) * v + Math.sqrt(1 - alphaBar[K]) * z[i]);
  for (let t = K; t >= 0; t--) {
    o.onStep?.(K - t, K + 1);
    const r = await o.model.predict(x, o.n, t);
    const bad = firstNonFinite(r);
    if (bad >= 0) throw new RunError(`the Resfusion network returned ${r[bad]} at step ${t} (sample ${Math.floor(bad / dim)}, element ${bad % dim})`);
    const a = 1 - betas[t];
    const c = betas[t] / Math.sqrt(1 - alphaBar[t]);
    const sigma = t > 0 ? Math.sqrt((betas[t] * (1 - alphaBar[t - 1])) / (1 - alphaBar[t])) : 0;
    if (sigma > 0) o.rng.fillNormal(z);
    x = x.map((v, i) => (v - c * r[i]) / Math.sqrt(a) + sigma * z[i]);
  }
  o.onStep?.(K + 1, K + 1);
  return { x, nfe: K + 1 };
}
