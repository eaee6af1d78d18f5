import { UsageError } from '../../core/errors.js';
import { exp, log } from '../../core/math.js';
import { TokenSampler, type TokenFilter } from '../categorical.js';
import type { DiscreteDenoiser } from '../model.js';
import { linearSchedule, type MaskSchedule } from '../schedule.js';
import { evaluateRows, maskedCount, startTokens, type DiscreteRun, type DiscreteSample } from './types.js';
import { checkCount, LIMITS } from '../../core/limits.js';

export interface FirstHittingOptions extends TokenFilter {
  schedule?: MaskSchedule;
  /** Tokens unmasked per model call: 1 is the exact sequential sampler, k > 1 its parallel variant. */
  tokensPerCall?: number;
  /** Time the generation starts from (default 1). */
  tStart?: number;
}

/**
 * First-hitting time of m masked tokens at time t (Zheng et al. 2024, Prop. 4.1): each stays masked
 * until s with probability (1 − α_s)/(1 − α_t), so the first of m unmasks at
 *   α_s = 1 − (1 − α_t) u^{1/m},  u ~ U(0, 1].
 */
export function firstHittingTime(schedule: MaskSchedule, t: number, m: number, u: number): number {
  return schedule.tOfAlpha(1 - (1 - schedule.alpha(t)) * exp(log(u) / m));
}

/**
 * First-hitting sampler (Zheng et al. 2024, Alg. 1): draw the exact time at which the next masked
 * token unmasks, pick that token uniformly among the masked ones and draw its value from the model
 * at that time: L model calls and L categorical draws per sequence, whatever the time grid would
 * have been. With tokensPerCall = k (their parallel decoding), the next k hitting times and
 * positions are drawn and the k tokens are drawn from one call, at the first of those times.
 */
export async function firstHitting(model: DiscreteDenoiser, run: DiscreteRun, options: FirstHittingOptions = {}): Promise<DiscreteSample> {
  const { length: L, vocabSize: V } = model;
  const { n, rng } = run;
  const schedule = options.schedule ?? linearSchedule();
  const k = options.tokensPerCall ?? 1;
  checkCount(k, 'tokensPerCall', 1, LIMITS.sequence);
  const tStart = options.tStart ?? 1;
  if (!(tStart > 0 && tStart <= 1)) throw new UsageError(`tStart must be in (0, 1], got ${tStart}`);
  const tokens = new TokenSampler(V, options);
  const x = startTokens(model, run);
  const nfe0 = model.nfe;
  const ev0 = model.evaluations;
  const lp = new Float64Array(n * L * V);
  const tRow = new Float64Array(n).fill(tStart);
  const tCall = new Float64Array(n);
  const masked: number[] = [];
  let draws = 0;
  for (;;) {
    const rows: number[] = [];
    const picks: number[] = [];
    for (let b = 0; b < n; b++) {
      const m = maskedCount(x, b, L, V);
      if (m === 0) continue;
      rows.push(b);
      masked.length = 0;
      for (let j = b * L; j < (b + 1) * L; j++) if (x[j] === V) masked.push(j);
      for (let q = 0; q < Math.min(k, m); q++) {
        tRow[b] = firstHittingTime(schedule, tRow[b], m - q, 1 - rng.uniform());
        if (q === 0) tCall[b] = tRow[b];
        const r = Math.min(masked.length - 1, Math.floor(rng.uniform() * masked.length));
        picks.push(masked[r]);
        masked[r] = masked[masked.length - 1];
        masked.pop();
        draws += 2;
      }
    }
    if (rows.length === 0) break;
    await evaluateRows(model, x, rows, tCall, lp);
    for (const j of picks) {
      x[j] = tokens.draw(lp, j * V, rng.uniform());
      draws++;
    }
  }
  return { x, nfe: model.nfe - nfe0, evaluations: model.evaluations - ev0, draws };
}
