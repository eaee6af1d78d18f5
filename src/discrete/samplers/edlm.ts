import { UsageError } from '../../core/errors.js';
import { exp } from '../../core/math.js';
import { TokenSampler, logSumExp } from '../categorical.js';
import type { DiscreteDenoiser } from '../model.js';
import type { MarkovOracle } from '../oracle/markov.js';
import { linearSchedule, type MaskSchedule } from '../schedule.js';
import { maskedAfterStep, unmaskStep } from './ancestral.js';
import { evaluateRows, maskTimes, startTokens, type DiscreteRun, type DiscreteSample } from './types.js';
import { checkCount, LIMITS } from '../../core/limits.js';

/** The energy's source: log-likelihoods of complete sequences, e.g. an autoregressive model's Σ_i log p(x_i | x_<i). */
export interface SequenceScorer {
  readonly vocabSize: number;
  readonly length: number;
  /** log p(x) of n complete sequences (n × length token ids, no mask). */
  logLikelihood(x: Int32Array, n: number): Promise<Float64Array>;
}

/** The exact oracle as the autoregressive model: its exact sequence log-likelihood. */
export function oracleScorer(oracle: MarkovOracle): SequenceScorer {
  return {
    vocabSize: oracle.vocabSize,
    length: oracle.length,
    logLikelihood: async (x, n) => Float64Array.from({ length: n }, (_, b) => oracle.logProb(x, b * oracle.length)),
  };
}

/** Options of `edlm`: the time grid, the masking schedule, the energy and the importance sampling. */
export interface EdlmOptions {
  /** Number of steps N of the time-uniform grid (ignored when `times` is given). */
  steps: number;
  /** A non-increasing time grid in [0, 1] to use instead of the uniform one. */
  times?: Float64Array;
  /** Masking schedule that decides which tokens unmask at which step (default linear). */
  schedule?: MaskSchedule;
  /** The autoregressive model whose likelihood defines the energy. */
  energy: SequenceScorer;
  /** Candidates K drawn per sequence and step (1 = plain ancestral sampling). */
  candidates?: number;
  /** Importance sampling only at steps starting at t with windowEnd ≤ t ≤ windowStart (EDLM's is_start / is_end); default the whole run. */
  windowStart?: number;
  /** Lower end of the importance-sampling window (default 0); see `windowStart` (default 1). */
  windowEnd?: number;
}

/** What `edlm` returns: the samples and counts of `DiscreteSample`, plus the energy model's work. */
export interface EdlmSample extends DiscreteSample {
  /** Sequences scored by the energy's model. */
  energyEvaluations: number;
}

/**
 * EDLM (Xu et al. 2024, §3–4): the denoiser's factorised p_θ(x_0 | x_t) = Π_i p_θ(x_0^i | x_t) is
 * corrected at the sequence level by the residual energy E(x_0) = −log p_AR(x_0) + Σ_i log p_θ(x_0^i | x_t),
 * so the step's target is p_θ(x_0 | x_t) e^{−E} ∝ p_AR(x_0) restricted to sequences that agree with x_t.
 * Parallel importance sampling (their Alg. 2): draw K candidates x_0^(k) from the factorised proposal,
 * weight them by w_k ∝ p_AR(x_0^(k)) / Π_{i masked} p_θ(x_0^(k),i | x_t), resample one, and unmask the
 * tokens due at this step to its values (the MDLM posterior q(x_s | x_t, x_0)).
 *
 * Which tokens unmask at which step is drawn up front exactly as in `ancestral`, so K = 1 reproduces it;
 * a sequence that unmasks nothing at a step needs no candidate (p(x_0 | x_s) = p(x_0 | x_t) there).
 * With an exact model and energy, K → ∞ samples the data law exactly at any number of steps.
 */
export async function edlm(model: DiscreteDenoiser, run: DiscreteRun, options: EdlmOptions): Promise<EdlmSample> {
  const { length: L, vocabSize: V } = model;
  const { n, rng } = run;
  const { energy } = options;
  const K = options.candidates ?? 4;
  const hi = options.windowStart ?? 1;
  const lo = options.windowEnd ?? 0;
  checkCount(K, 'candidates', 1, LIMITS.population);
  if (!(lo >= 0 && hi <= 1 && lo <= hi)) throw new UsageError(`the importance-sampling window needs 0 ≤ windowEnd ≤ windowStart ≤ 1, got [${lo}, ${hi}]`);
  if (energy.vocabSize !== V || energy.length !== L) {
    throw new UsageError(`energy model is over ${energy.length} tokens from ${energy.vocabSize}; the denoiser over ${L} from ${V}`);
  }
  const schedule = options.schedule ?? linearSchedule();
  const times = maskTimes(options.steps, options.times);
  const tokens = new TokenSampler(V);
  const x = startTokens(model, run);
  const nfe0 = model.nfe;
  const ev0 = model.evaluations;
  const N = times.length - 1;
  const survival = maskedAfterStep(schedule, times);
  const byStep: number[][] = Array.from({ length: N }, () => []);
  let draws = 0;
  for (let j = 0; j < n * L; j++) {
    if (x[j] !== V) continue;
    byStep[unmaskStep(survival, rng.uniform())].push(j);
    draws++;
  }
  const lp = new Float64Array(n * L * V);
  const stale = new Uint8Array(n).fill(1);
  const tNow = new Float64Array(n);
  let energyEvaluations = 0;
  for (let i = 0; i < N; i++) {
    const moving = [...new Set(byStep[i].map((j) => Math.floor(j / L)))];
    const rows = model.timeConditioned ? moving : moving.filter((b) => stale[b]);
    await evaluateRows(model, x, rows, tNow.fill(times[i]), lp);
    for (const b of rows) stale[b] = 0;
    const k = times[i] >= lo && times[i] <= hi ? K : 1;
    const chosen = new Int32Array(n * L);
    if (k === 1) {
      for (const j of byStep[i]) chosen[j] = tokens.draw(lp, j * V, rng.uniform());
      draws += byStep[i].length;
    } else {
      const cands = new Int32Array(moving.length * k * L);
      const logQ = new Float64Array(moving.length * k);
      moving.forEach((b, r) => {
        for (let c = 0; c < k; c++) {
          const off = (r * k + c) * L;
          for (let p = 0; p < L; p++) {
            const j = b * L + p;
            if (x[j] !== V) {
              cands[off + p] = x[j];
              continue;
            }
            const v = tokens.draw(lp, j * V, rng.uniform());
            cands[off + p] = v;
            logQ[r * k + c] += lp[j * V + v];
            draws++;
          }
        }
      });
      const logP = await energy.logLikelihood(cands, moving.length * k);
      energyEvaluations += moving.length * k;
      const logW = new Float64Array(k);
      moving.forEach((b, r) => {
        for (let c = 0; c < k; c++) logW[c] = logP[r * k + c] - logQ[r * k + c];
        const pick = resample(logW, rng.uniform());
        draws++;
        chosen.set(cands.subarray((r * k + pick) * L, (r * k + pick + 1) * L), b * L);
      });
    }
    for (const j of byStep[i]) {
      x[j] = chosen[j];
      stale[Math.floor(j / L)] = 1;
    }
  }
  return { x, nfe: model.nfe - nfe0, evaluations: model.evaluations - ev0, draws, energyEvaluations };
}

/** Index c with probability w_c / Σ w from log-weights, by the inverse CDF of u (self-normalised importance resampling). */
function resample(logW: Float64Array, u: number): number {
  const z = logSumExp(logW, 0, logW.length);
  if (!Number.isFinite(z)) throw new UsageError(`every candidate has importance weight ${z === -Infinity ? 0 : 'NaN or ∞'}: the energy gives them zero likelihood`);
  let c = 0;
  for (let k = 0; k < logW.length; k++) {
    c += exp(logW[k] - z);
    if (u < c) return k;
  }
  return logW.length - 1;
}
