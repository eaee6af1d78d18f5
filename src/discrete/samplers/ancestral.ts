import { UsageError } from '../../core/errors.js';
import { TokenSampler, type TokenFilter } from '../categorical.js';
import type { DiscreteDenoiser } from '../model.js';
import { linearSchedule, type MaskSchedule } from '../schedule.js';
import { evaluateRows, maskTimes, startTokens, unmaskProbability, type DiscreteRun, type DiscreteSample } from './types.js';

export interface AncestralOptions extends TokenFilter {
  /** Number of steps N of the time-uniform grid (ignored when `times` is given). */
  steps: number;
  /** Explicit decreasing grid from t_0 to t_N. */
  times?: Float64Array;
  schedule?: MaskSchedule;
  /**
   * RADD caching (Ou et al. 2024, §4.2): reuse a sequence's model output until one of its tokens
   * changes. Needs a time-independent model; its default.
   */
  cache?: boolean;
}

/**
 * Ancestral sampling of absorbing diffusion (MDLM, Sahoo et al. 2024, eq. 7; SEDD's analytic
 * sampler for the absorbing graph): from t to s each masked token is unmasked with probability
 * (α_s − α_t)/(1 − α_t), its value drawn from the model's p(x_0^i | x_t); the last step unmasks every
 * remaining token (MDLM's final noise removal; exact where α(t_N) = 1).
 *
 * Whether a token unmasks never depends on the model, so each token's step is drawn up front from
 * the same law — still masked after step i with probability S_i = (1 − α(t_{i+1}))/(1 − α(t_0)) —
 * with one uniform per token instead of one per token and step. Without caching the model is called
 * on every sequence still masked at every step; with caching a sequence is evaluated only at a step
 * where it unmasks a token and changed since its last evaluation. The draws do not depend on the
 * model calls, so both give the same samples.
 */
export async function ancestral(model: DiscreteDenoiser, run: DiscreteRun, options: AncestralOptions): Promise<DiscreteSample> {
  const { length: L, vocabSize: V } = model;
  const { n, rng } = run;
  const schedule = options.schedule ?? linearSchedule();
  const cache = options.cache ?? !model.timeConditioned;
  if (cache && model.timeConditioned) throw new UsageError('cache needs a time-independent model (RADD); this model is time-conditioned: set cache to false');
  const times = maskTimes(options.steps, options.times);
  const tokens = new TokenSampler(V, options);
  const x = startTokens(model, run);
  const nfe0 = model.nfe;
  const ev0 = model.evaluations;
  const N = times.length - 1;
  const survival = maskedAfterStep(schedule, times);
  const byStep: number[][] = Array.from({ length: N }, () => []);
  const remaining = new Int32Array(n);
  let draws = 0;
  for (let j = 0; j < n * L; j++) {
    if (x[j] !== V) continue;
    byStep[unmaskStep(survival, rng.uniform())].push(j);
    remaining[Math.floor(j / L)]++;
    draws++;
  }
  const lp = new Float64Array(n * L * V);
  const stale = new Uint8Array(n).fill(1);
  const moves = new Uint8Array(n);
  const tNow = new Float64Array(n);
  for (let i = 0; i < N; i++) {
    moves.fill(0);
    for (const j of byStep[i]) moves[Math.floor(j / L)] = 1;
    const rows: number[] = [];
    for (let b = 0; b < n; b++) if (cache ? moves[b] && stale[b] : remaining[b] > 0) rows.push(b);
    await evaluateRows(model, x, rows, tNow.fill(times[i]), lp);
    for (const b of rows) stale[b] = 0;
    for (const j of byStep[i]) {
      x[j] = tokens.draw(lp, j * V, rng.uniform());
      draws++;
      const b = Math.floor(j / L);
      stale[b] = 1;
      remaining[b]--;
    }
  }
  return { x, nfe: model.nfe - nfe0, evaluations: model.evaluations - ev0, draws };
}

/** S_i = P(a token masked at t_0 is still masked after step i) = Π_{m ≤ i} (1 − p_m); S_{N−1} = 0. */
export function maskedAfterStep(schedule: MaskSchedule, times: Float64Array): Float64Array {
  const N = times.length - 1;
  const S = new Float64Array(N);
  let still = 1;
  for (let i = 0; i < N - 1; i++) S[i] = still *= 1 - unmaskProbability(schedule, times[i], times[i + 1]);
  return S;
}

/** The step at which a token unmasks, for u ~ U[0, 1): the first i with u ≥ S_i (binary search). */
export function unmaskStep(S: Float64Array, u: number): number {
  let lo = 0;
  let hi = S.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (u >= S[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
