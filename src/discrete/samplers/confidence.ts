import { TokenSampler, type TokenFilter } from '../categorical.js';
import type { DiscreteDenoiser } from '../model.js';
import { cosineSchedule, type MaskSchedule } from '../schedule.js';
import { evaluateRows, maskedCount, maskTimes, startTokens, type DiscreteRun, type DiscreteSample } from './types.js';

export interface ConfidenceOptions extends TokenFilter {
  /** Number of steps N (ignored when `times` is given). */
  steps: number;
  times?: Float64Array;
  /** How many tokens stay masked after each step: ⌊m_0 (1 − α(s))⌋; default cosine (MaskGIT). */
  schedule?: MaskSchedule;
}

/**
 * Confidence-ordered unmasking (MaskGIT, Chang et al. 2022, §3.2): at each step draw a candidate for
 * every masked token, then keep the most confident candidates (highest model probability) so that
 * ⌊m_0 (1 − α(s))⌋ tokens stay masked, at least one unmasked per step. A baseline: it does not sample
 * the model's distribution exactly.
 */
export async function confidence(model: DiscreteDenoiser, run: DiscreteRun, options: ConfidenceOptions): Promise<DiscreteSample> {
  const { length: L, vocabSize: V } = model;
  const { n, rng } = run;
  const schedule = options.schedule ?? cosineSchedule();
  const times = maskTimes(options.steps, options.times);
  const tokens = new TokenSampler(V, options);
  const x = startTokens(model, run);
  const m0 = Array.from({ length: n }, (_, b) => maskedCount(x, b, L, V));
  const nfe0 = model.nfe;
  const ev0 = model.evaluations;
  const lp = new Float64Array(n * L * V);
  let draws = 0;
  const N = times.length - 1;
  for (let i = 0; i < N; i++) {
    const rows = m0.flatMap((_, b) => (maskedCount(x, b, L, V) > 0 ? [b] : []));
    if (rows.length === 0) break;
    await evaluateRows(model, x, rows, new Float64Array(n).fill(times[i]), lp);
    const keepMasked = i === N - 1 ? 0 : 1 - schedule.alpha(times[i + 1]);
    for (const b of rows) {
      const cands: { j: number; v: number; score: number }[] = [];
      for (let j = b * L; j < (b + 1) * L; j++) {
        if (x[j] !== V) continue;
        const v = tokens.draw(lp, j * V, rng.uniform());
        draws++;
        cands.push({ j, v, score: lp[j * V + v] });
      }
      const unmask = Math.max(1, cands.length - Math.floor(m0[b] * keepMasked));
      cands.sort((a, c) => c.score - a.score || a.j - c.j);
      for (const c of cands.slice(0, unmask)) x[c.j] = c.v;
    }
  }
  return { x, nfe: model.nfe - nfe0, evaluations: model.evaluations - ev0, draws };
}
