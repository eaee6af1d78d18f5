import { RunError, UsageError } from '../core/errors.js';
import { checkCount, LIMITS } from '../core/limits.js';

/**
 * A model of masked (absorbing) discrete diffusion over sequences of `length` tokens from a vocabulary
 * of `vocabSize` tokens; the mask token's id is `vocabSize`.
 */
export interface DiscreteModel {
  readonly vocabSize: number;
  readonly length: number;
  /**
   * false when the clean-data conditional p(x_0^i | x_t) does not depend on t (RADD, Ou et al. 2024,
   * Thm. 1): then the output depends on x alone and samplers may reuse it while x is unchanged.
   */
  readonly timeConditioned: boolean;
  /**
   * x: n sequences × length token ids (mask = vocabSize); t: n times in [0, 1] (read only by
   * time-conditioned models). Returns n × length × vocabSize log-probabilities; rows of masked
   * positions are log p(x_0^i = v | x); rows of unmasked positions are not read.
   */
  logProbs(x: Int32Array, n: number, t: Float64Array): Promise<Float64Array>;
}

/** Checks a batch of token sequences: n × length ids in [0, vocabSize] (vocabSize = mask). */
export function checkSequences(x: Int32Array, n: number, length: number, vocabSize: number): void {
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`batch size must be a non-negative integer, got ${n}`);
  if (x.length !== n * length) {
    throw new UsageError(`token array has ${x.length} entries; expected n × L = ${n} × ${length} = ${n * length}`);
  }
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v < 0 || v > vocabSize) {
      throw new UsageError(`token id ${v} at index ${i} is out of range; accepted: 0..${vocabSize - 1}, or ${vocabSize} for the mask`);
    }
  }
}

/**
 * Wraps a DiscreteModel for samplers: validates inputs and outputs and counts the number of
 * model calls (nfe) and of sequences evaluated (evaluations, the per-sequence NFE).
 */
export class DiscreteDenoiser {
  readonly vocabSize: number;
  readonly length: number;
  readonly timeConditioned: boolean;
  nfe = 0;
  evaluations = 0;

  constructor(readonly model: DiscreteModel) {
    const { vocabSize: V, length: L } = model;
    checkCount(V, 'vocabSize', 1, LIMITS.vocabulary);
    checkCount(L, 'length', 1, LIMITS.sequence);
    this.vocabSize = V;
    this.length = L;
    this.timeConditioned = model.timeConditioned;
  }

  /**
   * Calls the model's `logProbs` after checking the tokens and times, and counts the call; throws a
   * RunError if the output has the wrong size or NaN / +∞ at a masked position.
   */
  async logProbs(x: Int32Array, n: number, t: Float64Array): Promise<Float64Array> {
    const { vocabSize: V, length: L } = this;
    checkSequences(x, n, L, V);
    if (t.length !== n) throw new UsageError(`got ${t.length} times for ${n} sequences`);
    this.nfe++;
    this.evaluations += n;
    const out = await this.model.logProbs(x, n, t);
    if (out.length !== n * L * V) {
      throw new RunError(`model returned ${out.length} log-probabilities; expected n × L × V = ${n} × ${L} × ${V}`);
    }
    for (let i = 0; i < n * L; i++) {
      if (x[i] !== V) continue;
      for (let v = 0; v < V; v++) {
        const lp = out[i * V + v];
        if (Number.isNaN(lp) || lp === Infinity) throw new RunError(`model returned ${lp} at sequence ${Math.floor(i / L)}, position ${i % L}, token ${v}`);
      }
    }
    return out;
  }
}

/** All-masked sequences: the start of generation. */
export function allMasked(n: number, length: number, vocabSize: number): Int32Array {
  return new Int32Array(n * length).fill(vocabSize);
}
