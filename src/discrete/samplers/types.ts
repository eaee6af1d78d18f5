import { UsageError } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import { allMasked, checkSequences, type DiscreteDenoiser } from '../model.js';
import type { MaskSchedule } from '../schedule.js';
import { checkCount, LIMITS } from '../../core/limits.js';

/** What every discrete sampler returns. */
export interface DiscreteSample {
  /** n × L token ids, none masked. */
  x: Int32Array;
  /** Model calls (batched). */
  nfe: number;
  /** Sequences evaluated: the per-sequence NFE summed over the batch. */
  evaluations: number;
  /** Uniforms drawn. */
  draws: number;
}

/** The batch a sampler generates: n sequences, started from `init` (masked where to generate) or all masked. */
export interface DiscreteRun {
  n: number;
  rng: Rng;
  init?: Int32Array;
}

/** The sampler's starting tokens: a checked copy of `run.init`, or n all-masked sequences when it is absent. */
export function startTokens(model: DiscreteDenoiser, run: DiscreteRun): Int32Array {
  const { n, init } = run;
  if (init === undefined) return allMasked(n, model.length, model.vocabSize);
  checkSequences(init, n, model.length, model.vocabSize);
  return Int32Array.from(init);
}

/** A decreasing time grid 1 = t_0 > … > t_N = 0, uniform in t unless given. */
export function maskTimes(steps: number, times?: Float64Array): Float64Array {
  if (times === undefined) {
    checkCount(steps, 'steps', 1, LIMITS.steps);
    return Float64Array.from({ length: steps + 1 }, (_, i) => 1 - i / steps);
  }
  const ok = times.length >= 2 && times.every((t, i) => t >= 0 && t <= 1 && (i === 0 || t <= times[i - 1]));
  if (!ok) throw new UsageError('times must be a non-increasing grid of at least 2 times in [0, 1]');
  return times;
}

/** Probability that a token masked at t is unmasked by s < t: (α_s − α_t)/(1 − α_t) (MDLM, Sahoo et al. 2024, eq. 7). */
export function unmaskProbability(schedule: MaskSchedule, t: number, s: number): number {
  const at = schedule.alpha(t);
  const as = schedule.alpha(s);
  if (!(as > at)) return 0;
  return at >= 1 ? 1 : Math.min(1, (as - at) / (1 - at));
}

/**
 * Evaluates the model on the listed rows of x (each at its time), scattering their rows into lp
 * (n × L × V). Rows not listed keep what lp held.
 */
export async function evaluateRows(model: DiscreteDenoiser, x: Int32Array, rows: number[], times: Float64Array, lp: Float64Array): Promise<void> {
  if (rows.length === 0) return;
  const { length: L, vocabSize: V } = model;
  const sub = new Int32Array(rows.length * L);
  const t = new Float64Array(rows.length);
  rows.forEach((b, r) => {
    sub.set(x.subarray(b * L, (b + 1) * L), r * L);
    t[r] = times[b];
  });
  const out = await model.logProbs(sub, rows.length, t);
  rows.forEach((b, r) => lp.set(out.subarray(r * L * V, (r + 1) * L * V), b * L * V));
}

/** Number of masked tokens in row b. */
export function maskedCount(x: Int32Array, b: number, L: number, mask: number): number {
  let m = 0;
  for (let j = 0; j < L; j++) if (x[b * L + j] === mask) m++;
  return m;
}
