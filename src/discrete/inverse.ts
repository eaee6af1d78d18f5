import { UsageError } from '../core/errors.js';
import { log } from '../core/math.js';
import type { Rng } from '../core/rng.js';
import { decodeSequence } from './oracle/markov.js';

/**
 * A token inverse problem: y observes some positions of x, each observed token replaced by a
 * uniformly random token (any of V, possibly itself) with probability `flip` (ρ). flip = 0 is
 * infilling: observed tokens are exact.
 */
export interface TokenObservation {
  /** length L: the observed token id, or −1 where unobserved. */
  y: Int32Array;
  /** ρ ∈ [0, 1): probability that an observed token was replaced by a uniform one. */
  flip: number;
}

/** Checks an observation against a sequence length L and vocabulary V: y has L entries, each −1 or in 0..V−1, and ρ ∈ [0, 1). */
export function checkObservation(obs: TokenObservation, length: number, vocabSize: number): void {
  if (obs.y.length !== length) throw new UsageError(`observation has ${obs.y.length} entries; expected the sequence length ${length}`);
  if (!obs.y.every((v) => v === -1 || (Number.isInteger(v) && v >= 0 && v < vocabSize))) {
    throw new UsageError(`observed tokens must be −1 (unobserved) or ids in 0..${vocabSize - 1}`);
  }
  if (!(obs.flip >= 0 && obs.flip < 1)) throw new UsageError(`flip probability ρ must be in [0, 1), got ${obs.flip}`);
}

/** q(y_i = y | x_i = v) = (1 − ρ)[v = y] + ρ/V. */
export function tokenLikelihood(obs: TokenObservation, vocabSize: number, y: number, v: number): number {
  return (1 - obs.flip) * (v === y ? 1 : 0) + obs.flip / vocabSize;
}

/** Observes `positions` of x (length L): each kept with probability 1 − ρ, else replaced by a uniform token. */
export function observe(x: Int32Array, positions: number[], flip: number, vocabSize: number, rng: Rng): TokenObservation {
  const y = new Int32Array(x.length).fill(-1);
  for (const j of positions) y[j] = rng.uniform() < flip ? Math.min(vocabSize - 1, Math.floor(rng.uniform() * vocabSize)) : x[j];
  const obs = { y, flip };
  checkObservation(obs, x.length, vocabSize);
  return obs;
}

/**
 * The exact posterior p(x | y) ∝ p(x) Π_{i observed} q(y_i | x_i) over every sequence, from the
 * enumerated prior p (indexed by sequence code, as MarkovOracle.enumerate returns it).
 */
export function exactPosterior(prior: Float64Array, obs: TokenObservation, vocabSize: number): Float64Array {
  const L = obs.y.length;
  checkObservation(obs, L, vocabSize);
  const x = new Int32Array(L);
  const post = new Float64Array(prior.length);
  let z = 0;
  for (let code = 0; code < prior.length; code++) {
    decodeSequence(code, vocabSize, x);
    let w = prior[code];
    for (let j = 0; j < L && w > 0; j++) if (obs.y[j] >= 0) w *= tokenLikelihood(obs, vocabSize, obs.y[j], x[j]);
    post[code] = w;
    z += w;
  }
  if (!(z > 0)) throw new UsageError('the observation has probability 0 under the prior');
  return post.map((w) => w / z);
}

/** Start tokens for n sequences with every observed token taken as exact (the clamped baseline; exact when ρ = 0). */
export function clampedStart(obs: TokenObservation, n: number, vocabSize: number): Int32Array {
  const L = obs.y.length;
  const x = new Int32Array(n * L);
  for (let j = 0; j < n * L; j++) x[j] = obs.y[j % L] >= 0 ? obs.y[j % L] : vocabSize;
  return x;
}

/** log q(y | x) of a complete sequence. */
export function observationLogLikelihood(obs: TokenObservation, vocabSize: number, x: Int32Array, off = 0): number {
  let s = 0;
  obs.y.forEach((y, j) => {
    if (y >= 0) s += log(tokenLikelihood(obs, vocabSize, y, x[off + j]));
  });
  return s;
}
